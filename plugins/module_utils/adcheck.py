# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check an Active Directory account's password with an LDAP simple bind.

The bind goes over LDAPS (or StartTLS, never in clear text) with the domain controller's
certificate validated against a CA file.  When AD refuses the bind it answers LDAP result 49
(invalidCredentials) with a diagnostic message such as::

    80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563

The ``data`` sub-code tells why (wrong password, disabled, expired, locked out...).
:func:`describe_bind_result` turns that into a message that names the account and the fix.
No message built here ever contains the password; :func:`scrub` removes it from foreign text
(exception strings) as a second line of defence.

ldap3 is imported lazily so that this file imports on hosts without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

LDAP_INVALID_CREDENTIALS = 49
LDAP_STRONGER_AUTH_REQUIRED = 8

_TUPLE_REPR_RE = re.compile(r"""^\(['"](.*)['"],\)$""", re.S)
_DATA_RE = re.compile(r"\bdata\s+([0-9a-fA-F]{2,8})\b")

# sub-code -> (code, what is wrong, how to fix it); "%(account)s" is the bind principal.
BIND_SUBCODES = {
    "525": ("user_not_found", "the domain controller does not know the account %(account)s",
            "check the spelling of the account and of the domain/realm, or create the account"),
    "52e": ("wrong_password", "the password given for %(account)s is wrong",
            "put the account's current password in the vault (or reset it in AD to the vaulted one)"),
    "530": ("logon_hours", "%(account)s may not log on at this time (logon hours)",
            "allow all logon hours for the account in AD"),
    "531": ("workstation_restriction", "%(account)s may not log on from this computer",
            "remove the 'log on to' workstation restriction of the account in AD"),
    "532": ("password_expired", "the password of %(account)s has expired",
            "set a new password in AD and the vault, and set 'password never expires' on the account"),
    "533": ("account_disabled", "the account %(account)s is disabled",
            "enable the account in AD (samba-tool user enable / Active Directory Users and Computers)"),
    "701": ("account_expired", "the account %(account)s has expired",
            "extend or clear the account's expiry date in AD"),
    "773": ("password_must_change", "%(account)s must change its password at next logon",
            "set a new password in AD and the vault, and clear 'user must change password at next logon'"),
    "775": ("account_locked", "the account %(account)s is locked out (too many bad passwords)",
            "unlock the account in AD, then find what keeps sending the old password"),
}


class AdCheckError(Exception):
    """The check could not be run (missing library, bad options)."""


def scrub(text, secret):
    """``text`` with every occurrence of ``secret`` replaced by ``********``."""
    text = "%s" % (text,)
    if secret:
        text = text.replace(secret, "********")
    return text


def exception_text(err):
    """The innermost message of an ldap3 exception (it nests tuples of tuples of strings)."""
    parts = []

    def walk(value):
        if isinstance(value, BaseException):
            for arg in value.args:
                walk(arg)
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif value is not None:
            text = "%s" % (value,)
            wrapped = _TUPLE_REPR_RE.match(text)
            text = wrapped.group(1) if wrapped else text
            if text not in parts:
                parts.append(text)

    walk(err)
    return "; ".join(part.strip() for part in parts) or type(err).__name__


def realm_from_base_dn(base_dn):
    """``DC=mycorp,DC=test`` -> ``mycorp.test`` (None when the DN has no DC parts)."""
    parts = [p.split("=", 1)[1].strip() for p in (base_dn or "").split(",")
             if p.strip().lower().startswith("dc=") and "=" in p]
    return ".".join(parts) or None


def bind_principal(account, domain=None, realm=None, base_dn=None):
    """The name to bind as.

    An account already written as ``user@realm`` or ``DOMAIN\\user`` is used as it is.
    Otherwise the realm (given, or a dotted ``domain``, or derived from ``base_dn``) gives the
    UPN form ``account@realm``; a NetBIOS ``domain`` alone gives ``DOMAIN\\account``, which AD
    also accepts for a simple bind.
    """
    if "@" in account or "\\" in account:
        return account
    realm = realm or (domain if domain and "." in domain else None) or realm_from_base_dn(base_dn)
    if realm:
        return "%s@%s" % (account, realm)
    if domain:
        return "%s\\%s" % (domain, account)
    raise AdCheckError("cannot build a bind name for %s: give the domain (realm or NetBIOS name), "
                       "ad_check.realm or ad_check.base_dn" % account)


def data_subcode(message):
    """The ``data XXX`` sub-code of an AD diagnostic message, lower case, or None."""
    match = _DATA_RE.search(message or "")
    return match.group(1).lower() if match else None


def describe_bind_result(result, principal, server):
    """Turn an ldap3 bind result dict into ``{ok, code, message, fix}``.

    ``result`` has the shape of ``Connection.result``: ``{'result': 49, 'description':
    'invalidCredentials', 'message': '80090308: ... data 52e, v4563\\x00', ...}``.
    """
    rc = result.get("result")
    if rc == 0:
        return {"ok": True, "code": "ok",
                "message": "%s authenticated on %s" % (principal, server), "fix": ""}
    description = result.get("description") or "unknown"
    diagnostic = (result.get("message") or "").rstrip("\x00").strip()
    if rc == LDAP_INVALID_CREDENTIALS:
        sub = data_subcode(diagnostic)
        if sub in BIND_SUBCODES:
            code, what, fix = BIND_SUBCODES[sub]
            return {"ok": False, "code": code, "subcode": sub,
                    "message": "AD refused the password check on %s: %s (LDAP 49, data %s)"
                               % (server, what % {"account": principal}, sub),
                    "fix": fix}
        return {"ok": False, "code": "invalid_credentials", "subcode": sub,
                "message": "AD refused the credentials of %s on %s (LDAP 49 invalidCredentials%s)"
                           % (principal, server, ", data %s" % sub if sub else ""),
                "fix": "check the account name, the domain and the vaulted password"}
    if rc == LDAP_STRONGER_AUTH_REQUIRED:
        return {"ok": False, "code": "stronger_auth_required",
                "message": "%s refused a simple bind for %s without transport encryption (LDAP 8: %s)"
                           % (server, principal, diagnostic or description),
                "fix": "use LDAPS (ad_check.use_ssl: true, port 636)"}
    return {"ok": False, "code": "bind_failed",
            "message": "bind as %s on %s failed: LDAP %s %s%s"
                       % (principal, server, rc, description, ": %s" % diagnostic if diagnostic else ""),
            "fix": "see the domain controller's log for the bind"}


def _import_ldap3():
    try:
        import ldap3  # pylint: disable=import-outside-toplevel
        from ldap3.core import exceptions  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise AdCheckError("the AD password check needs the Python library ldap3 where the task runs "
                           "(the controller: pip install ldap3)")
    return ldap3, exceptions


def check_password(account, password, server, domain=None, port=636, use_ssl=True, ca_file=None,
                   base_dn=None, realm=None, timeout=10):
    """Bind as the account and report the outcome as ``{ok, code, message, fix, principal, server}``.

    ``use_ssl=True`` speaks LDAPS on ``port``; ``False`` opens plain LDAP and upgrades it with
    StartTLS before the bind, so the password never crosses the network in clear text.  With
    ``ca_file`` the server certificate must chain to that CA and match ``server``.
    """
    if not password:
        raise AdCheckError("no password to check for %s (an empty simple bind would be anonymous)" % account)
    principal = bind_principal(account, domain, realm, base_dn)
    endpoint = "%s:%s" % (server, port)
    ldap3, exc = _import_ldap3()
    import ssl  # pylint: disable=import-outside-toplevel

    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file) if ca_file else \
        ldap3.Tls(validate=ssl.CERT_REQUIRED)
    base = {"principal": principal, "server": endpoint}
    try:
        srv = ldap3.Server(server, port=port, use_ssl=use_ssl, tls=tls, get_info=ldap3.NONE,
                           connect_timeout=timeout)
        conn = ldap3.Connection(srv, user=principal, password=password, authentication=ldap3.SIMPLE,
                                raise_exceptions=False, receive_timeout=timeout, auto_referrals=False)
        conn.open()
        if not use_ssl and not conn.start_tls():
            base.update(ok=False, code="starttls_failed",
                        message="StartTLS on %s failed: %s" % (endpoint, scrub(conn.result, password)),
                        fix="enable TLS on the domain controller or use LDAPS (use_ssl: true)")
            return base
        conn.bind()
        outcome = describe_bind_result(conn.result or {}, principal, endpoint)
        conn.unbind()
    except exc.LDAPException as err:
        text = scrub(exception_text(err), password)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            base.update(ok=False, code="tls_verify_failed",
                        message="the certificate of %s could not be verified: %s" % (endpoint, text),
                        fix="give the domain's CA in ad_check.ca_file and use the name on the DC's "
                            "certificate as ad_check.server")
        else:
            base.update(ok=False, code="connection_failed",
                        message="cannot reach the domain controller %s: %s" % (endpoint, text),
                        fix="check ad_check.server/port, name resolution and that LDAPS listens there")
        return base
    base.update(outcome)
    return base


# The options of an AD check (qube_ad_check), without the account.
CHECK_OPTIONS_SPEC = dict(
    server=dict(type="str", required=True),
    port=dict(type="int", default=636),
    use_ssl=dict(type="bool", default=True),
    ca_file=dict(type="path"),
    base_dn=dict(type="str"),
    realm=dict(type="str"),
    timeout=dict(type="int", default=10),
)


def check_or_explain(account, password, domain=None, **options):
    """Run :func:`check_password` -> ``(outcome or None, failure)``: ``failure`` is "" when AD accepted the
    password, else the task's message (what is wrong and ``Fix: ...``), never containing the password."""
    if not password:
        return None, "ad_check needs the password of %s" % account
    try:
        outcome = check_password(account, password, domain=domain, **options)
    except AdCheckError as err:
        return None, scrub("%s" % err, password)
    if outcome["ok"]:
        return outcome, ""
    return outcome, "%s Fix: %s." % (outcome["message"], outcome["fix"])

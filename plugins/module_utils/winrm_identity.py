# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows job identity: register the credential and validate it, over the host's own connection.

Controller-side engine of the action plugins ``qube_credential`` (:func:`register`) and
``qube_validation_job`` (:func:`validate`) for a Windows host.  It decides; the PowerShell that
acts lives in the collection's ``files/windows_identity/*.ps1`` and runs through whatever the task's
connection is (``ansible.builtin.winrm`` or ``ansible.builtin.psrp`` with the inventory's own
authentication: NTLM, Kerberos, CredSSP, certificates), through a :class:`Steps` whose
``execute(script, stdin) -> (rc, stdout, stderr)`` the action plugin binds to the connection's
``exec_command``.  Each step is one script: the marker line ``# renderfarm.qube winrm_identity
<step>``, its non-secret parameters as ONE JSON literal (``$p = ConvertFrom-Json -InputObject
'...'``), ``common.ps1``, the step's file.  The command line carries only the marker and
``bootstrap.ps1`` (``powershell -EncodedCommand``, a few hundred characters); the step's script is
the first stdin line and the secrets the following ones (base64, one per line).  Secrets never
appear in a script text, a command line or any output, and stdin travels only inside the
connection's encrypted channel.  Steps:

1. ``read-state``  - the stored fingerprint record (salted PBKDF2, no secret) of the last registered
   password, from ``C:\\ProgramData\\renderfarm-qube\\identity-<account>.json`` (ACL SYSTEM +
   Administrators).
2. ``register``    - only when the password is new/changed (and not in check mode): ``central``:
   ``qbhash.exe`` -> returned hash (for qbwrk.conf; the local qb.conf on Windows never holds
   ``proxy_password``, see ``settings.py``); ``qblogin``: ``qblogin.exe --user U [--domain D]``
   (password twice on stdin).  Then the new fingerprint (stdin as well) is written to the state file.
3. ``validate``    - ``LogonUser`` as DOMAIN\\account (batch logon, the way a service-mode worker
   starts jobs), identity (name, SID, groups, profile), each logon right as a logon of that type,
   UNC read/write/delete probes while impersonating, and the optional command as the identity.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
import time

from ansible_collections.renderfarm.qube.plugins.module_utils.confwrite import (
    CHECK_MODE_HASH, REDACTED, fingerprint_matches, fingerprint_record,
)

DEFAULT_BIN_DIR = "C:\\Program Files\\pfx\\qube\\bin"
STATE_DIR = "C:\\ProgramData\\renderfarm-qube"
MARKER = "# renderfarm.qube winrm_identity "
STEPS = ("read-state", "register", "validate")

# Win32 logon errors -> (code, what is wrong (%(who)s = DOMAIN\\account), how to fix it)
WIN32_ERRORS = {
    1326: ("wrong_password", "Windows refused the password of %(who)s (error 1326: unknown user name or bad password)",
           "put the account's current password in the vault, or reset the account to the vaulted password"),
    1331: ("account_disabled", "the account %(who)s is disabled (error 1331)",
           "enable the account (AD: Active Directory Users and Computers / samba-tool user enable; local: net user)"),
    1793: ("account_expired", "the account %(who)s has expired (error 1793)",
           "extend or clear the account's expiry date"),
    1907: ("password_must_change", "%(who)s must change its password before logging on (error 1907)",
           "set a new password, store it in the vault, and clear 'user must change password at next logon'"),
    1909: ("account_locked", "the account %(who)s is locked out (error 1909)",
           "unlock the account, then find what keeps sending an old password"),
    1330: ("password_expired", "the password of %(who)s has expired (error 1330)",
           "set a new password in AD and the vault, and set 'password never expires' on the account"),
    1385: ("logon_type_not_granted", "%(who)s has not been granted the requested logon type on this worker "
           "(error 1385)", "grant the account the right (e.g. SeBatchLogonRight 'Log on as a batch job' with "
           "ansible.windows.win_user_right) and check that no GPO removes it"),
    5: ("access_denied", "access denied for %(who)s (error 5)",
        "grant the account the missing permission on the share and on the folder (NTFS ACL)"),
}
RIGHT_LOGON_TYPES = {"SeInteractiveLogonRight": 2, "SeNetworkLogonRight": 3, "SeBatchLogonRight": 4,
                     "SeServiceLogonRight": 5}


class IdentityError(Exception):
    """A failure with a structured ``{code, message, fix}`` that never contains a secret."""

    def __init__(self, code, message, fix):
        super(IdentityError, self).__init__(message)
        self.error = {"code": code, "message": message, "fix": fix}


def scrub(text, secrets):
    """``text`` with every secret (and its base64 form) replaced by ``********``."""
    text = "%s" % (text,)
    for secret in secrets:
        if secret:
            for form in (secret, base64.b64encode(secret.encode("utf-8")).decode("ascii")):
                text = text.replace(form, "********")
    return text


def principal(account, domain):
    """``DOMAIN\\account`` (``.\\account`` for a local account)."""
    if "\\" in account or "@" in account:
        return account
    return "%s\\%s" % (domain or ".", account)


def load_scripts(directory):
    """``{name: text}`` of ``common.ps1`` and each step's ``<step>.ps1`` in ``directory``, comment
    lines left out (they would only lengthen the command line); here-strings are kept whole."""
    scripts = {}
    for name in ("bootstrap", "common") + STEPS:
        path = os.path.join(directory, name + ".ps1")
        try:
            with open(path, "rb") as handle:
                text = handle.read().decode("utf-8-sig")
        except (IOError, OSError) as exc:
            raise IdentityError("missing_script", "the collection's PowerShell script %s cannot be read: %s"
                                % (path, exc), "reinstall the renderfarm.qube collection")
        kept, in_here_string = [], False
        for line in text.splitlines():
            stripped = line.strip()
            if in_here_string:
                in_here_string = not stripped.startswith("'@")
            elif stripped.endswith("@'"):
                in_here_string = True
            elif not stripped or stripped.startswith("#"):
                continue
            kept.append(line)
        scripts[name] = "\n".join(kept) + "\n"
    return scripts


def build_script(step, params, scripts):
    """The PowerShell text of one step: marker, its non-secret ``params`` as a JSON literal, the helpers, the step."""
    literal = json.dumps(params, sort_keys=True).replace("'", "''")
    return "%s%s\n$p = ConvertFrom-Json -InputObject '%s'\n%s%s" % (MARKER, step, literal, scripts["common"],
                                                                    scripts[step])


def stdin_lines(lines):
    """The bytes for stdin: each line (the script, then the secrets) base64-encoded (UTF-8) on a line of its own."""
    return b"".join(base64.b64encode(s.encode("utf-8")) + b"\r\n" for s in lines)


def command_script(step, scripts):
    """What goes on the command line for ``step``: its marker and the bootstrap (no parameter, no secret)."""
    return "%s%s\n%s" % (MARKER, step, scripts["bootstrap"])


def win32_error(number, who, detail=""):
    """``{code, message, fix}`` for a Win32 error number."""
    code, message, fix = WIN32_ERRORS.get(number, ("win32_%d" % number, "Windows error %d for %%(who)s" % number,
                                                   "look the error up (net helpmsg %d) and fix it on the worker" % number))
    message = message % {"who": who}
    return {"code": code, "message": message + (": " + detail if detail else ""), "fix": fix}


class Steps(object):
    """Runs the steps through ``execute(script, stdin) -> (rc, stdout, stderr)`` (the host's connection)."""

    def __init__(self, execute, scripts, where):
        self.execute = execute
        self.scripts = scripts
        self.where = where

    def run(self, step, params, secrets=()):
        """Run one step; its JSON result.  ``secrets`` go only to stdin (base64, one per line)."""
        rc, stdout, stderr = self.execute(command_script(step, self.scripts),
                                          stdin_lines([build_script(step, params, self.scripts)] + list(secrets)))
        text = stdout.decode("utf-8", "replace") if isinstance(stdout, bytes) else "%s" % stdout
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("{")]
        if rc != 0 or not lines:
            err = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else "%s" % stderr
            raise IdentityError("remote_script_failed", "the %s step on %s failed (exit %s): %s" % (
                step, self.where, rc, err.strip()[:500] or "no output"),
                "run files/windows_identity/%s.ps1 by hand on the worker as the connection's user and fix what "
                "it reports" % step)
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise IdentityError("remote_script_failed", "the %s step on %s printed no JSON result" % (step, self.where),
                                "run files/windows_identity/%s.ps1 by hand on the worker" % step)


def _state_file(state_dir, account):
    return "%s\\identity-%s.json" % (state_dir.rstrip("\\"), re.sub(r"[^A-Za-z0-9_.-]", "_", account).lower())


def _checks(raw, who, params):
    """Turn the validate script's raw result into ``checks`` and the first error."""
    checks, first_error = [], None
    logon = raw.get("logon") or {}
    if logon.get("error"):
        err = win32_error(int(logon["error"]), who)
        return [{"name": "logon", "ok": False, "detail": err["message"]}], err
    checks.append({"name": "logon", "ok": True, "detail": "batch logon as %s succeeded" % who})
    identity = raw.get("identity") or {}
    if identity.get("admin") and not params.get("allow_privileged"):
        first_error = {"code": "privileged_identity", "message": "%s is a member of Administrators" % who,
                       "fix": "use an unprivileged job identity, or set allow_privileged: true deliberately"}
        checks.append({"name": "unprivileged", "ok": False, "detail": first_error["message"]})
    for check in raw.get("checks") or []:
        number = int(check.get("error") or 0)
        ok = number == 0 and check.get("exit_code", 0) == 0
        if check["name"] == "command":
            detail = "exit %s: %s" % (check.get("exit_code"), (check.get("output") or "").strip()[:300])
            err = {"code": "command_failed", "message": "the validation command as %s failed (%s)" % (who, detail),
                   "fix": "run the validation command as the identity on the worker and fix what it reports"}
        else:
            err = win32_error(number, who, check["name"]) if number else None
            detail = err["message"] if err else "ok"
        checks.append({"name": check["name"], "ok": ok, "detail": scrub(detail, [params.get("password")])})
        if not ok and first_error is None:
            first_error = err
    return checks, first_error


def _validate(steps, params, who):
    started = time.time()
    result = {"ok": False, "via": "direct", "platform": "windows", "identity": {}, "checks": []}
    domain = params.get("domain") or "."
    rights = ["SeBatchLogonRight"] + [r for r in params.get("validation_rights") or [] if r != "SeBatchLogonRight"]
    raw = steps.run("validate", {
        "account": params["account"], "domain": domain, "paths": list(params.get("validation_paths") or []),
        "command": params.get("validation_command") or "", "timeout_s": int(params.get("validation_timeout") or 60),
        "rights": rights[1:], "right_types": RIGHT_LOGON_TYPES}, [params["password"] or ""])
    identity = raw.get("identity") or {}
    if identity:
        result["identity"] = {"user": identity.get("user") or who, "sid": identity.get("sid"),
                              "groups": list(identity.get("groups") or []), "home": identity.get("home")}
    result["checks"], error = _checks(raw, who, params)
    result["duration_s"] = round(time.time() - started, 3)
    if error:
        result["error"] = error
    result["ok"] = error is None
    result["summary"] = "%s: %s" % (who, "all checks passed" if result["ok"] else error["message"])
    return result


def _finish(result, password):
    """The result with every form of the secret scrubbed (it never gets there; defence in depth)."""
    return json.loads(scrub(json.dumps(result), [password]))


def register(params, check_mode, steps):
    """qube_credential on Windows: ``{changed, action, diff, proxy_password_hash?, failed, msg}``.

    ``steps`` is a :class:`Steps` on the host's connection.  Connection failures are the caller's
    (Ansible reports them as unreachable).
    """
    who = principal(params["account"], params.get("domain"))
    result = {"changed": False, "failed": False}
    try:
        if not params.get("password"):
            raise IdentityError("missing_password", "register: %s needs the password of %s" % (params["register"], who),
                                "set the password (qube_proxy_password from the vault)")
        present = _register(steps, params, who, params["register"], check_mode, result)
    except IdentityError as exc:
        result.update(failed=True, error=exc.error, msg="%s - %s" % (exc.error["message"], exc.error["fix"]))
        return _finish(result, params.get("password"))
    where_kept = "%s registration" % params["register"]
    result["diff"] = {"before_header": where_kept, "after_header": where_kept,
                      "before": "proxy_password = %s\n" % REDACTED if present else "",
                      "after": "proxy_password = %s%s\n" % (REDACTED, " (new value)" if result["changed"] else "")}
    result["msg"] = "credential %s (%s) for %s" % (result["action"], params["register"], who)
    return _finish(result, params.get("password"))


def validate(params, steps):
    """qube_validation_job on Windows: ``{changed: false, validation, failed, msg}``, the validation
    in the format the POSIX path (``identity.py``) returns."""
    password = params.get("password") or ""
    who = principal(params["account"], params.get("domain"))
    try:
        if not password:
            raise IdentityError("missing_password", "validate: the validation logon as %s needs its password" % who,
                                "set the password (qube_proxy_password from the vault)")
        validation = _validate(steps, params, who)
    except IdentityError as exc:
        validation = _failed_validation(exc.error)
    result = {"changed": False, "failed": not validation["ok"], "validation": validation}
    error = validation.get("error")
    result["msg"] = "%s - %s" % (error["message"], error["fix"]) if error else "validation as %s passed" % who
    return _finish(result, password)


def _register(steps, params, who, register, check_mode, result):
    """Decide and, when needed, run the register step; sets ``action``/``changed``; whether one was present."""
    state_dir = params.get("state_dir") or STATE_DIR
    state_file = _state_file(state_dir, who)
    stored = steps.run("read-state", {"state_file": state_file}).get("state") or {}
    present = bool(stored) and stored.get("register") == register
    if register == "central" and not stored.get("proxy_password_hash"):
        present = False
    same = present and fingerprint_matches(params["password"], stored.get("fingerprint"), who)
    if present and (same or params.get("update_password", "always") == "on_create"):
        result["action"] = "unchanged"
        if register == "central":
            result["proxy_password_hash"] = stored.get("proxy_password_hash")
        return present
    result.update(changed=True, action="updated" if present else "registered")
    if check_mode:
        if register == "central":
            result["proxy_password_hash"] = CHECK_MODE_HASH
        return present
    bin_dir = params.get("qube_bin_dir") or DEFAULT_BIN_DIR
    done = steps.run("register", dict(state_file=state_file, mode=register, account=params["account"],
                                      domain=params.get("domain") or "", principal=who,
                                      state_dir=state_dir, bin_dir=bin_dir),
                     [params["password"], fingerprint_record(params["password"], who)])
    if not done.get("ok"):
        raise IdentityError("%s_failed" % done.get("step"), "%s.exe for %s failed (exit %s): %s" % (
            done.get("step"), who, done.get("exit_code"), (done.get("output") or "").strip()[:300]),
            "check the Qube! installation in %s on the worker (qube_bin_dir)" % bin_dir)
    if register == "central":
        result["proxy_password_hash"] = done.get("proxy_password_hash")
    return present


def _failed_validation(error):
    return {"ok": False, "via": "direct", "platform": "windows", "identity": {}, "checks": [], "duration_s": 0.0,
            "error": error, "summary": error["message"]}

"""AD mode of the fake worker's logon: an LDAP bind to the real DC decides the password.

:class:`LdapPasswordDecider` is a ``decide_password`` for :class:`.windows.FakeWindowsHost`: it binds as
``DOMAIN\\user`` over LDAPS (or StartTLS on 389; a plain simple bind is refused by AD) and maps the
``data`` sub-code of an invalidCredentials answer to the Win32 error LogonUser would give
(52e->1326, 533->1331, 701->1793, 773->1907, 775->1909).  Logon RIGHTS still come from the fake
host's table: the DC does not know this worker's local security policy.
"""

from __future__ import annotations

import re
import ssl

from .windows import AD_DATA_ERRORS

_DATA = re.compile(r"\bdata\s+([0-9a-fA-F]{3})\b")


class LdapPasswordDecider:
    """``(DOMAIN\\user, password) -> Win32 error`` decided by an LDAP simple bind to ``dc``."""

    def __init__(self, dc: str, use_ssl: bool = True, timeout: int = 5) -> None:
        self.dc, self.use_ssl, self.timeout = dc, use_ssl, timeout
        self.last_result = ""

    def __call__(self, name: str, password: str) -> int:
        import ldap3  # imported here: the self-contained double does not need it

        tls = ldap3.Tls(validate=ssl.CERT_NONE)  # lab DC with a self-signed certificate
        server = ldap3.Server(self.dc, port=636 if self.use_ssl else 389, use_ssl=self.use_ssl, tls=tls,
                              connect_timeout=self.timeout)
        conn = ldap3.Connection(server, user=name, password=password, authentication=ldap3.SIMPLE)
        try:
            if not self.use_ssl:
                conn.open()
                conn.start_tls()
            ok = conn.bind()
            self.last_result = str(conn.result.get("message", ""))
        finally:
            conn.unbind()
        if ok:
            return 0
        match = _DATA.search(self.last_result)
        return AD_DATA_ERRORS.get(match.group(1).lower(), 1326) if match else 1326

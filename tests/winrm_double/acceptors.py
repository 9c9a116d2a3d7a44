"""Server-side authentication contexts for the WinRM double.

* :func:`user_table_acceptor` - self-contained: pyspnego's NTLM acceptor checks the client against a
  credential file the double writes from a ``{"DOMAIN\\\\user": password}`` table.  The file holds NT
  hashes only (smbpasswd layout), mode 0600, in a private temporary directory.
* :class:`SambaNTLMAcceptor` - AD mode: pyspnego still issues the CHALLENGE and does signing/sealing,
  but whether the AUTHENTICATE message proves the password is decided by a real Samba DC through
  ``ntlm_auth --helper-protocol=ntlm-server-1`` (winbindd).  The DC's answer (``Authenticated: Yes``
  plus ``User-Session-Key``, or ``No`` plus the error text) is kept in :attr:`last_status`.
"""

from __future__ import annotations

import binascii
import os
import subprocess
import tempfile
from typing import Callable, Dict, List, Optional

import spnego
from spnego._ntlm import NTLMProxy
from spnego._ntlm_raw.crypto import lmowfv1, ntowfv1, rc4k
from spnego._ntlm_raw.messages import Authenticate
from spnego.exceptions import InvalidTokenError

_USER_FILE_ENV = "NTLM_USER_FILE"


def write_user_file(users: Dict[str, str], directory: Optional[str] = None) -> str:
    """Write ``users`` as an smbpasswd-style NT-hash file (0600) and return its path."""
    directory = directory or tempfile.mkdtemp(prefix="winrm-double-")
    path = os.path.join(directory, "ntlm_users")
    lines = []
    for uid, (name, password) in enumerate(sorted(users.items()), start=1000):
        lines.append("%s:%d:%s:%s:[U          ]:LCT-00000000" % (
            name, uid, binascii.hexlify(lmowfv1(password)).decode().upper(),
            binascii.hexlify(ntowfv1(password)).decode().upper()))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def user_table_acceptor(users: Dict[str, str]) -> Callable[[], object]:
    """A factory of NTLM/Negotiate acceptors that know exactly ``users``.

    pyspnego reads the credential file named by ``NTLM_USER_FILE`` (process-wide), so one
    self-contained double at a time per process.
    """
    os.environ[_USER_FILE_ENV] = write_user_file(users)
    return lambda: spnego.server(protocol="negotiate")


class SambaNTLMAcceptor(NTLMProxy):
    """NTLM acceptor whose password check is done by a Samba DC via ``ntlm_auth``.

    ``ntlm_auth`` must reach winbindd, i.e. run where ``/run/samba/winbindd`` is the DC's socket
    (inside the lab namespace with the bind mount described in the AD notes).
    """

    def __init__(self, ntlm_auth: str = "ntlm_auth", configfile: Optional[str] = None) -> None:
        # pyspnego insists on a credential file for acceptors even though we never use it.
        if not os.environ.get(_USER_FILE_ENV):
            os.environ[_USER_FILE_ENV] = write_user_file({})
        super().__init__(usage="accept", protocol="ntlm")
        self._command: List[str] = [ntlm_auth, "--helper-protocol=ntlm-server-1"]
        if configfile:
            self._command.append("--configfile=%s" % configfile)
        self.last_status = ""

    def _step_accept_authenticate(self, token, channel_bindings) -> None:
        challenge = self._temp_challenge
        auth = Authenticate.unpack(token)
        request = [
            "LANMAN-Challenge: %s" % challenge.server_challenge.hex(),
            "NT-Response: %s" % (auth.nt_challenge_response or b"").hex(),
            "NT-Domain: %s" % (auth.domain_name or ""),
            "Username: %s" % (auth.user_name or ""),
            "Request-User-Session-Key: Yes",
            ".",
        ]
        if auth.lm_challenge_response:
            request.insert(2, "LANMAN-Response: %s" % auth.lm_challenge_response.hex())
        answer = subprocess.run(self._command, input="\n".join(request) + "\n", capture_output=True, text=True,
                                timeout=30, check=False).stdout
        fields = {}
        for line in answer.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if fields.get("Authenticated") != "Yes":
            self.last_status = fields.get("Authentication-Error", answer.strip() or "ntlm_auth gave no answer")
            raise InvalidTokenError(context_msg="DC refused the logon: %s" % self.last_status)
        self.last_status = "NT_STATUS_OK"
        key_exchange_key = bytes.fromhex(fields.get("User-Session-Key", "00" * 16))
        if auth.encrypted_random_session_key:
            self._session_key = rc4k(key_exchange_key, auth.encrypted_random_session_key)
        else:
            self._session_key = key_exchange_key
        self._credential = None
        self._context_attr = auth.flags
        self._client_name = ("%s\\%s" % (auth.domain_name, auth.user_name)) if auth.domain_name else auth.user_name
        self._complete = True

    @property
    def client_principal(self) -> Optional[str]:
        return getattr(self, "_client_name", None)

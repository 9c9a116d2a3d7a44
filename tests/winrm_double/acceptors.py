"""Server-side authentication contexts for the WinRM double.

* :func:`user_table_acceptor` - self-contained: pyspnego's NTLM acceptor checks the client against a
  credential file the double writes from a ``{"DOMAIN\\\\user": password}`` table.  The file holds NT
  hashes only (smbpasswd layout), mode 0600, in a private temporary directory.
* :class:`SambaNTLMAcceptor` - AD mode: pyspnego still issues the CHALLENGE and does signing/sealing,
  but whether the AUTHENTICATE message proves the password is decided by a real Samba AD DC through
  ``ntlm_auth --helper-protocol=ntlm-server-1`` (:class:`NtlmAuthHelper`, normally run on the DC over
  ssh).  The DC answers ``Authenticated: Yes`` plus the ``User-Session-Key``, or ``No`` plus its error
  text; the acceptor derives the exported session key from it (RC4 key exchange) and checks the MIC.
"""

from __future__ import annotations

import base64
import binascii
import os
import select
import subprocess
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

import spnego
from spnego._ntlm import NTLMProxy
from spnego._ntlm_raw.crypto import hmac_md5, lmowfv1, ntowfv1, rc4k
from spnego._ntlm_raw.messages import Authenticate, AvFlags, AvId, NegotiateFlags, NTClientChallengeV2
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


class HelperError(Exception):
    """The ntlm_auth helper could not be asked (not started, died, no answer)."""


class NtlmAuthHelper:
    """One long-lived ``ntlm_auth --helper-protocol=ntlm-server-1`` child process, shared by acceptors.

    The helper protocol carries ``Key: value`` lines (``Key:: base64`` for non-ASCII values) ended by
    a line ``.``, and answers the same way; one child serves any number of requests, one at a time
    (a lock serialises the threads of the double).  Only NTLM messages cross it: challenge,
    responses, user and domain names, never a password.  The child is started on first use and
    restarted once if it died (ssh dropped, DC restarted).

    :meth:`over_ssh` runs the helper on the DC itself, where the AD DC's own winbindd answers it (the
    lab's way: no winbind package and no winbindd socket needed on the controller).  ``argv`` may
    also run a local ``ntlm_auth``; that needs the DC's winbindd at ``/run/samba/winbindd`` here.
    """

    def __init__(self, argv: List[str], timeout: float = 20.0) -> None:
        self.argv, self.timeout = list(argv), timeout
        self._proc: Optional[subprocess.Popen] = None
        self._lock = threading.Lock()
        self._buffer = b""
        self._stderr: List[str] = []
        self.requests = 0
        self.decisions: List[Tuple[str, str]] = []   # (DOMAIN\\user, "NT_STATUS_OK" or why not), by the acceptors

    @classmethod
    def over_ssh(cls, host: str, key: str, user: str = "root", ntlm_auth: str = "ntlm_auth",
                 timeout: float = 20.0) -> "NtlmAuthHelper":
        """The helper on ``host`` through ssh with ``key`` (the lab's ssh options, no agent, no password)."""
        return cls(["ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                    "-o", "ConnectTimeout=5", "-o", "ControlMaster=no", "-o", "ServerAliveInterval=10",
                    "%s@%s" % (user, host), ntlm_auth, "--helper-protocol=ntlm-server-1"], timeout=timeout)

    def ask(self, fields: List[Tuple[str, str]]) -> Dict[str, str]:
        """Send one request (``[(key, value)]``) and return the answer's fields (values decoded)."""
        request = "".join("%s:: %s\n" % (k, base64.b64encode(v.encode("utf-8")).decode("ascii"))
                          for k, v in fields).encode("ascii") + b".\n"
        with self._lock:
            for attempt in (1, 2):
                fresh = self._proc is None or self._proc.poll() is not None
                if fresh:
                    self._start()
                try:
                    self._proc.stdin.write(request)
                    self._proc.stdin.flush()
                    answer = self._read_answer()
                except (OSError, EOFError) as exc:
                    self._kill()
                    if attempt == 2 or fresh:
                        raise HelperError("ntlm_auth helper (%s) failed: %s%s" % (
                            " ".join(self.argv[-3:]), exc, self._stderr_tail())) from None
                    continue
                self.requests += 1
                return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                try:
                    self._proc.stdin.close()
                    self._proc.wait(5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def _start(self) -> None:
        self._buffer, self._stderr = b"", []
        self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, start_new_session=True)
        threading.Thread(target=self._drain_stderr, args=(self._proc,), daemon=True).start()

    def _drain_stderr(self, proc: subprocess.Popen) -> None:
        for line in proc.stderr:
            self._stderr = (self._stderr + [line.decode("utf-8", "replace").rstrip()])[-20:]

    def _stderr_tail(self) -> str:
        return ("; stderr: " + " | ".join(self._stderr)) if self._stderr else ""

    def _read_answer(self) -> Dict[str, str]:
        deadline = time.monotonic() + self.timeout
        fields: Dict[str, str] = {}
        fd = self._proc.stdout.fileno()
        while True:
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    raise EOFError("no answer in %.0f s" % self.timeout)
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise EOFError("the helper exited (rc=%s)" % self._proc.wait(5))
                self._buffer += chunk
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode("utf-8", "replace").rstrip("\r")
            if text == ".":
                # ntlm_auth ends an "Authentication-Error" answer with ".", then once more: an empty
                # block is that stray terminator of the previous answer, never an answer.
                if fields:
                    return fields
                continue
            key, sep, value = text.partition(":")
            if sep and value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8", "replace")
            fields.setdefault(key.strip(), value.strip())

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait(5)
            for stream in (self._proc.stdin, self._proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
        self._proc = None


class SambaNTLMAcceptor(NTLMProxy):
    """NTLM acceptor whose password check is done by the AD DC through :class:`NtlmAuthHelper`.

    One acceptor per authentication (the double makes one per connection); the helper is shared.
    Each DC decision is appended to ``helper.decisions`` as ``(DOMAIN\\user, "NT_STATUS_OK" or the
    DC's error text)`` so tests can show that the DC, not the double, said yes or no.
    """

    def __init__(self, helper: NtlmAuthHelper) -> None:
        # pyspnego insists on a credential file for acceptors even though this one never reads it.
        if not os.environ.get(_USER_FILE_ENV):
            os.environ[_USER_FILE_ENV] = write_user_file({})
        super().__init__(usage="accept", protocol="ntlm")
        self.helper = helper
        self.last_status = ""

    def _step_accept_authenticate(self, token, channel_bindings) -> None:
        negotiate, challenge = self._temp_negotiate, self._temp_challenge
        auth = Authenticate.unpack(token)
        who = ("%s\\%s" % (auth.domain_name, auth.user_name)) if auth.domain_name else (auth.user_name or "")
        if not auth.user_name or not auth.nt_challenge_response:
            raise InvalidTokenError(context_msg="anonymous or LM-only logons are refused (not sent to the DC)")
        request = [("LANMAN-Challenge", challenge.server_challenge.hex()),
                   ("NT-Response", auth.nt_challenge_response.hex()),
                   ("NT-Domain", auth.domain_name or ""), ("Username", auth.user_name),
                   ("Request-User-Session-Key", "Yes")]
        if auth.lm_challenge_response:
            request.insert(2, ("LANMAN-Response", auth.lm_challenge_response.hex()))
        try:
            fields = self.helper.ask(request)
        except HelperError as exc:
            self.last_status = str(exc)
            self.helper.decisions.append((who, self.last_status))
            raise InvalidTokenError(context_msg=self.last_status) from None
        if fields.get("Authenticated") != "Yes":
            self.last_status = fields.get("Authentication-Error") or fields.get("Error") or "refused without a reason"
            self.helper.decisions.append((who, self.last_status))
            raise InvalidTokenError(context_msg="DC refused the logon of %s: %s" % (who, self.last_status))
        if len(auth.nt_challenge_response) <= 24:
            # The lab DC (Samba's default 'ntlm auth = ntlmv2-only') refuses NTLMv1 before this point.
            raise InvalidTokenError(context_msg="NTLMv1 session keys are not modelled")
        key_exchange_key = bytes.fromhex(fields.get("User-Session-Key", ""))
        if len(key_exchange_key) != 16:
            raise InvalidTokenError(context_msg="the DC gave no User-Session-Key")
        if auth.flags & NegotiateFlags.key_exch and auth.flags & (NegotiateFlags.sign | NegotiateFlags.seal):
            self._session_key = rc4k(key_exchange_key, auth.encrypted_random_session_key or b"")
        else:
            self._session_key = key_exchange_key
        av_pairs = NTClientChallengeV2.unpack(auth.nt_challenge_response[16:]).av_pairs
        if av_pairs.get(AvId.flags, 0) & AvFlags.mic:
            sent = auth.mic
            auth.mic = b"\x00" * 16
            if hmac_md5(self._session_key, negotiate.pack() + challenge.pack() + auth.pack()) != sent:
                self.helper.decisions.append((who, "bad MIC"))
                raise InvalidTokenError(context_msg="Invalid MIC in NTLM authentication message")
        self.last_status = "NT_STATUS_OK"
        self.helper.decisions.append((who, self.last_status))
        self._credential = None
        self._context_attr = auth.flags
        self._client_name = who
        self._complete = True

    @property
    def client_principal(self) -> Optional[str]:
        return getattr(self, "_client_name", None)

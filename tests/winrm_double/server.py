"""HTTP side of the WinRM double: listener, Negotiate/NTLM authentication, MS-WSMV encryption, recording.

A threaded ``http.server`` on ``POST /wsman`` with HTTP/1.1 keep-alive.  Authentication is per TCP
connection, as with HTTP.sys: a request without credentials gets ``401`` + ``WWW-Authenticate: Negotiate``;
the client's NTLM tokens go to an acceptor context made by ``acceptor_factory`` (pyspnego, or the
Samba-backed acceptor in :mod:`.acceptors`); once the context is complete every later request on that
connection is accepted without an Authorization header.  Bodies of type ``multipart/encrypted;
protocol="application/HTTP-SPNEGO-session-encrypted"`` are unwrapped with the context's
``unwrap_winrm`` and the answer is wrapped with ``wrap_winrm`` ([MS-WSMV] 2.2.9.1.1).

Every request is recorded as :class:`RecordedRequest`: the bytes received on the socket (request
line, headers, body as sent), the headers, and the decrypted SOAP body.  Tests assert on these.
"""

from __future__ import annotations

import base64
import dataclasses
import http.server
import re
import struct
import threading
from typing import Callable, List, Optional, Tuple

from .wsman import Executor, ShellService, WSManFault, fault_envelope

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
BOUNDARY = b"--Encrypted Boundary"


@dataclasses.dataclass
class RecordedRequest:
    """One HTTP request as the double received it."""

    connection: int
    wire: bytes                # request line + headers + body, as read from the socket
    headers: List[Tuple[str, str]]
    encrypted: bool            # body was an MS-WSMV encrypted envelope
    soap: bytes                # decrypted (or plain) SOAP body; b"" for auth-only requests
    status: int = 0


class _TeeReader:
    """Wraps the socket reader and keeps a copy of every byte read (the request as it came in)."""

    def __init__(self, raw) -> None:
        self._raw = raw
        self._seen = bytearray()

    def readline(self, size: int = -1) -> bytes:
        data = self._raw.readline(size)
        self._seen += data
        return data

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self._seen += data
        return data

    def take(self) -> bytes:
        """The bytes read since the last call."""
        data, self._seen = bytes(self._seen), bytearray()
        return data

    def close(self) -> None:
        self._raw.close()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    disable_nagle_algorithm = True
    double: "WinRMDouble"  # set on the subclass made per double

    def setup(self) -> None:
        super().setup()
        self.rfile = _TeeReader(self.rfile)
        self.ctx = None
        self.connection_id = self.double._next_connection()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence stderr logging
        return

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = RecordedRequest(self.connection_id, self.rfile.take(), list(self.headers.items()), False, b"")
        self.double.requests.append(record)
        if self.path.split("?")[0].rstrip("/").lower() != "/wsman":
            return self._reply(record, 404, b"")
        auth_out = None
        authorization = self.headers.get("Authorization", "")
        if authorization[:10].lower() == "negotiate ":
            ok, auth_out = self._authenticate(authorization[10:].strip())
            if not ok:
                return self._reply(record, 401, b"", auth=auth_out)
        if self.ctx is None or not self.ctx.complete:
            return self._reply(record, 401, b"")
        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.startswith("multipart/encrypted") and ENCRYPTED_PROTOCOL in content_type
        if encrypted:
            try:
                record.soap = self._decrypt(body)
            except Exception:  # a tampered or undecryptable envelope: like Windows, refuse it
                return self._reply(record, 400, b"")
            record.encrypted = True
        else:
            record.soap = body
            if body and self.double.require_encryption:
                # MODELLED on AllowUnencrypted=false: plain bodies over HTTP are refused.
                return self._reply(record, 401, b"")
        if not record.soap:
            return self._reply(record, 200, b"", auth=auth_out)
        owner = self.ctx.client_principal or ""
        try:
            answer, status = self.double.service.handle(record.soap, owner), 200
        except WSManFault as fault:
            answer, status = fault_envelope(fault, _message_id(record.soap)), 500
        self._reply(record, status, answer, auth=auth_out, encrypt=encrypted)

    def _authenticate(self, token_b64: str) -> Tuple[bool, Optional[str]]:
        """Feed one Negotiate token to this connection's acceptor; (accepted so far, token to send back)."""
        if self.ctx is None or self.ctx.complete:
            self.ctx = self.double.acceptor_factory()
        try:
            out = self.ctx.step(base64.b64decode(token_b64))
        except Exception as exc:  # wrong password, unknown user, bad MIC...: a bare 401
            self.double.auth_failures.append("%s: %s" % (type(exc).__name__, exc))
            self.ctx = None
            return False, None
        out_b64 = base64.b64encode(out).decode("ascii") if out else None
        if not self.ctx.complete:
            return False, out_b64
        return True, out_b64

    def _decrypt(self, body: bytes) -> bytes:
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        plain = b""
        for header, payload in zip(parts[0::2], parts[1::2]):
            length = int(re.search(rb"Length=(\d+)", header).group(1))
            if payload.endswith(BOUNDARY + b"--\r\n"):
                payload = payload[: -len(BOUNDARY + b"--\r\n")]
            payload = payload.split(b"application/octet-stream\r\n", 1)[1]
            sig_len = struct.unpack("<i", payload[:4])[0]
            message = self.ctx.unwrap_winrm(payload[4:4 + sig_len], payload[4 + sig_len:])
            if len(message) != length:
                raise ValueError("decrypted length does not match OriginalContent")
            plain += message
        return plain

    def _encrypt(self, data: bytes) -> bytes:
        wrapped = self.ctx.wrap_winrm(data)
        return (BOUNDARY + b"\r\n\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(data)).encode()
                + b"\r\n" + BOUNDARY + b"\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<i", len(wrapped.header)) + wrapped.header + wrapped.data + BOUNDARY + b"--\r\n")

    def _reply(self, record: RecordedRequest, status: int, body: bytes, auth: Optional[str] = None,
               encrypt: bool = False) -> None:
        record.status = status
        if encrypt and body:
            body = self._encrypt(body)
            content_type = 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % ENCRYPTED_PROTOCOL
        else:
            content_type = "application/soap+xml;charset=UTF-8"
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", "Negotiate" + (" " + auth if auth else ""))
        elif auth:
            self.send_header("WWW-Authenticate", "Negotiate " + auth)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _message_id(soap: bytes) -> Optional[str]:
    match = re.search(rb"MessageID>([^<]+)<", soap)
    return match.group(1).decode() if match else None


class WinRMDouble:
    """A WinRM listener on ``host`` (default 127.0.0.1, random port) for tests.

    ``acceptor_factory`` returns a fresh server-side security context per authentication (see
    :mod:`.acceptors`); ``executor`` runs commands (see :class:`.windows.FakeWindowsHost`).
    """

    def __init__(self, acceptor_factory: Callable[[], object], executor: Executor, host: str = "127.0.0.1",
                 port: int = 0, require_encryption: bool = True) -> None:
        self.acceptor_factory = acceptor_factory
        self.require_encryption = require_encryption
        self.requests: List[RecordedRequest] = []
        self.auth_failures: List[str] = []
        self._connections = 0
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"double": self})
        self._httpd = _Server((host, port), handler)
        self.host, self.port = self._httpd.server_address[:2]
        self.service = ShellService(executor, "http://%s:%d/wsman" % (self.host, self.port))
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        return "http://%s:%d/wsman" % (self.host, self.port)

    def _next_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def start(self) -> "WinRMDouble":
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="winrm-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> "WinRMDouble":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

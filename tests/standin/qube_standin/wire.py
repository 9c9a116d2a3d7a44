"""JSON-lines protocol of the STAND-IN (not Qube!'s wire protocol).

One TCP connection per request: the caller sends one JSON object and a newline, the
server answers with one JSON object and a newline. Every request has ``op``; every
answer has ``ok`` (bool) and, when false, ``error``.
"""

from __future__ import annotations

import json
import socket
import socketserver

MAX_LINE = 64 * 1024 * 1024


class WireError(OSError):
    """The peer could not be reached or answered with something unusable."""


def request(host: str, port: int, message: dict, timeout: float = 10.0) -> dict:
    """Send ``message`` to ``host:port`` and return the decoded answer."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(json.dumps(message).encode() + b"\n")
            with conn.makefile("rb") as reader:
                line = reader.readline(MAX_LINE)
    except OSError as error:
        raise WireError(f"cannot reach {host}:{port}: {error}") from None
    if not line:
        raise WireError(f"{host}:{port} closed the connection without an answer")
    return json.loads(line)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline(MAX_LINE)
        if not line:
            return
        try:
            message = json.loads(line)
            answer = self.server.dispatch(message, self.client_address[0])
        except Exception as error:  # report any handler failure to the caller
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        self.wfile.write(json.dumps(answer).encode() + b"\n")


class JsonServer(socketserver.ThreadingTCPServer):
    """Threaded TCP server calling ``dispatch(message, peer_ip) -> dict``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch):
        self.dispatch = dispatch
        super().__init__(address, _Handler)

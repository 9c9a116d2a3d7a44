"""Shared helpers of the STAND-IN command-line tools."""

from __future__ import annotations

import getpass
import os
import pwd
import sys

from .env import read_qb_conf, supervisor_address
from .wire import WireError, request


class CliError(SystemExit):
    """Print ``prog: message`` on stderr and exit with ``code``."""

    def __init__(self, prog: str, message: str, code: int = 1):
        print(f"{prog}: {message}", file=sys.stderr)
        super().__init__(code)


def call(prog: str, message: dict, timeout: float = 30.0) -> dict:
    """Send a request to the supervisor named in qb.conf; exit on failure."""
    host, port = supervisor_address(read_qb_conf())
    try:
        answer = request(host, port, message, timeout=timeout)
    except WireError as error:
        raise CliError(prog, f"cannot reach the supervisor: {error}", 2) from None
    if not answer.get("ok"):
        raise CliError(prog, answer.get("error", "request failed"))
    return answer


def invoking_user() -> str:
    """Name of the user running the command."""
    return pwd.getpwuid(os.getuid()).pw_name


def require_admin(prog: str, what: str) -> None:
    """Only root counts as a Qube admin in the stand-in."""
    if os.geteuid() != 0:
        raise CliError(prog, f"{what} requires admin (root) privileges")


def _read_line(prompt: str) -> str | None:
    """One password line from the terminal (not echoed) or stdin; None at end of input."""
    if sys.stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except EOFError:
            return None
    line = sys.stdin.readline()
    return line.rstrip("\r\n") if line else None


def read_password(prog: str, given: str | None) -> str:
    """``qbhash``: the password from ``--password`` or read once (CLI/qbhash.md: "from stdin")."""
    if given is not None:
        return given
    line = _read_line("Password: ")
    if line is None:
        raise CliError(prog, "no password on stdin")
    return line


def read_password_twice(prog: str, given: str | None) -> str:
    """``qblogin``: ``--password`` or the password asked twice for verification.

    WC/Service+Mode+Authentication+User+vs+Proxy.md: "qblogin will prompt for a password twice
    for verification". A missing or different second line is refused; no message holds it.
    """
    if given is not None:
        return given
    first = _read_line("Password: ")
    if first is None:
        raise CliError(prog, "no password on stdin")
    if _read_line("Password (again): ") != first:
        raise CliError(prog, "passwords do not match")
    return first

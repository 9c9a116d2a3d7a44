"""Where the STAND-IN finds its files, ports and identity.

``QB_STANDIN_ROOT`` relocates every absolute file path (``/etc/qb.conf``,
``/var/spool/...``, ``/var/log/...``) under a directory, for tests without the lab.
``QB_STANDIN_SUPERVISOR_PORT`` / ``QB_STANDIN_WORKER_PORT`` override the ports and
``QB_STANDIN_HOSTNAME`` the worker's name.
"""

from __future__ import annotations

import os
import socket

from .confsyntax import parse_flat

QB_CONF = "/etc/qb.conf"
SUPERVISOR_PORT = 50001
WORKER_PORT = 50011
SPOOL = "/var/spool/qube-standin"


def host_path(path: str) -> str:
    """``path`` moved under ``$QB_STANDIN_ROOT`` when that is set."""
    root = os.environ.get("QB_STANDIN_ROOT", "")
    if root and os.path.isabs(path):
        return os.path.join(root, path.lstrip("/"))
    return path


def read_qb_conf() -> dict[str, str]:
    """The local qb.conf as a dict (empty when the file is absent)."""
    path = host_path(QB_CONF)
    try:
        with open(path, encoding="utf-8") as handle:
            return parse_flat(path, handle.read())
    except FileNotFoundError:
        return {}


def supervisor_port(conf: dict[str, str]) -> int:
    """Supervisor TCP port: env override, then qb.conf ``supervisor_port``, then 50001."""
    return int(os.environ.get("QB_STANDIN_SUPERVISOR_PORT") or conf.get("supervisor_port") or SUPERVISOR_PORT)


def worker_port(conf: dict[str, str]) -> int:
    """Worker TCP port: env override, then qb.conf ``worker_port``, then 50011."""
    return int(os.environ.get("QB_STANDIN_WORKER_PORT") or conf.get("worker_port") or WORKER_PORT)


def supervisor_address(conf: dict[str, str]) -> tuple[str, int]:
    """Where clients and workers reach the supervisor (``qb_supervisor``)."""
    host = os.environ.get("QB_SUPERVISOR") or conf.get("qb_supervisor", "")
    if not host:
        raise SystemExit("qb_supervisor is not set in /etc/qb.conf (the stand-in has no broadcast discovery)")
    return host, supervisor_port(conf)


def hostname() -> str:
    """Short host name of this machine (or ``$QB_STANDIN_HOSTNAME``)."""
    return os.environ.get("QB_STANDIN_HOSTNAME") or socket.gethostname().split(".")[0]

"""Entry point: one launcher for every STAND-IN command, chosen by program name."""

from __future__ import annotations

import os
import sys

from . import BANNER, cli_admin, cli_user

COMMANDS = {
    "qbsub": cli_user.qbsub, "qbout": cli_user.qbout, "qberr": cli_user.qberr,
    "qbjobs": cli_user.qbjobs, "qbhosts": cli_user.qbhosts, "qblock": cli_user.qblock,
    "qbunlock": cli_user.qbunlock, "qblogin": cli_user.qblogin, "qbhash": cli_user.qbhash,
    "qbadmin": cli_admin.qbadmin, "qbconfigfile": cli_admin.qbconfigfile,
}
DAEMONS = ("worker", "supervisor", "proxy")


def proxy(args: list[str]) -> int:
    """``sbin/proxy PROGRAM ARGS...``: the worker's job launcher; becomes the job (exec)."""
    if not args:
        print(f"{BANNER}\nusage: proxy PROGRAM [ARGS] (started by the worker)", file=sys.stderr)
        return 2
    os.execv(args[0], args)
    return 127


def main(argv: list[str]) -> int:
    """Run ``basename(argv[0])`` or, for the launcher itself, ``argv[1]``."""
    name, args = os.path.basename(argv[0]), argv[1:]
    if name not in COMMANDS and name not in DAEMONS:
        if not args:
            print(f"{BANNER}\nusage: qube-standin COMMAND [ARGS]\ncommands: "
                  + " ".join(sorted(COMMANDS) + list(DAEMONS)), file=sys.stderr)
            return 2
        name, args = args[0], args[1:]
    if name == "worker":
        from . import worker
        return worker.main()
    if name == "proxy":
        return proxy(args)
    if name == "supervisor":
        from . import supervisor
        return supervisor.main()
    if name not in COMMANDS:
        print(f"qube-standin: unknown command {name!r}", file=sys.stderr)
        return 2
    return COMMANDS[name](args)

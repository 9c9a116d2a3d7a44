"""Admin STAND-IN commands: qbadmin (worker/supervisor actions) and qbconfigfile."""

from __future__ import annotations

import argparse
import os
import sys

from . import BANNER, VERSION, flags, qbwrk
from .client import CliError, call, require_admin
from .confsyntax import ConfigSyntaxError, format_value, parse_flat, parse_lines


def _print_config(name: str | None, config: dict[str, str]) -> None:
    if name is not None:
        print(f"[{name}]")
    for key in sorted(config):
        print(f"{key} = {format_value(config[key])}")


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=f"{description} [{BANNER}]", allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"{prog} {VERSION}")
    return p


def qbadmin(argv: list[str]) -> int:
    """``qbadmin worker --reconfigure``, ``worker --configuration HOST``, ``supervisor --reread``.

    CLI/qbadmin.md: ``--reconfigure`` takes no host list (it pushes to every worker).
    ``--reconfig``/``-reconfig`` and ``--config HOST`` are spelled so in the vendor pages
    (KB/tips-&-tricks/Jobtypes/How+do+I+set+my+own+shared+directory+for+job+types.md,
    CWC/qbwrk_conf+File+Format.md); no other abbreviation is accepted.
    """
    p = _parser("qbadmin", "Qube! admin actions")
    sub = p.add_subparsers(dest="target", required=True)
    w = sub.add_parser("worker", aliases=["w"], allow_abbrev=False)
    action = w.add_mutually_exclusive_group(required=True)
    action.add_argument("--reconfigure", "--reconfig", "-reconfig", action="store_true",
                        help="re-read qbwrk.conf and make every worker fetch its config")
    action.add_argument("--configuration", "--config", metavar="HOST", help="print a worker's effective config")
    s = sub.add_parser("supervisor", aliases=["s"], allow_abbrev=False)
    s.add_argument("--reread", action="store_true", required=True, help="re-read qb.conf and qbwrk.conf")
    args = p.parse_args(argv)
    require_admin("qbadmin", "qbadmin")
    if args.target in ("supervisor", "s"):
        call("qbadmin", {"op": "reread"})
        print("supervisor: configuration re-read")
        return 0
    if args.configuration:
        answer = call("qbadmin", {"op": "worker_config", "host": args.configuration})
        _print_config(None, answer["config"])
        return 0
    results = call("qbadmin", {"op": "reconfigure"}, timeout=120)["results"]
    failed = False
    for host, result in results.items():
        print(f"{host}: {result}")
        failed |= not (result == "reconfigured" or result.startswith("down"))
    return 1 if failed else 0


def _check_qb_conf(path: str, text: str) -> int:
    """A qb.conf (no [sections]): syntax, flag lists and policy; print the settings."""
    conf = parse_flat(path, text)
    lines = {entry.key: entry.line for kind, entry in parse_lines(path, text) if kind == "entry"}
    for key in sorted(conf, key=lambda k: lines[k]):
        try:
            flags.check_conf({key: conf[key]})
        except flags.FlagError as error:
            print(f"{path}:{lines[key]}: {error}", file=sys.stderr)
            return 1
    _print_config(None, conf)
    return 0


def qbconfigfile(argv: list[str]) -> int:
    """``qbconfigfile <file>`` (CLI/qbconfigfile.md: no other option), a syntax checker "for the
    various Qube configuration files": a file with ``[sections]`` is read as a qbwrk.conf and the
    expanded config of every special section and named host printed; a file without, unless its
    name contains "qbwrk", is a qb.conf, whose flag lists and ``supervisor_host_policy`` are checked
    too (how the product tells them apart is not documented: the stand-in's choice)."""
    p = _parser("qbconfigfile", "Syntax-check a Qube! configuration file")
    p.add_argument("file")
    args = p.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
        has_sections = any(kind == "header" for kind, _ in parse_lines(args.file, text))
        if not has_sections and "qbwrk" not in os.path.basename(args.file):
            return _check_qb_conf(args.file, text)
        config = qbwrk.QbwrkConfig(args.file, text)
        for name in ("default",) + qbwrk.OS_SECTIONS:
            if name in config.templates_acc:
                _print_config(name, config.section_config(name))
        for host in config.host_names():
            _print_config(host, config.host_config(host, None))
    except ConfigSyntaxError as error:
        print(error, file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        raise CliError("qbconfigfile", str(error)) from None
    for section in config.sections:
        for entry in section.entries.values():
            if entry.key in qbwrk.BOOTSTRAP_KEYS:
                print(f"{args.file}:{entry.line}: warning: bootstrap key {entry.key!r} is ignored in qbwrk.conf",
                      file=sys.stderr)
    return 0

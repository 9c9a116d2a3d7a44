"""User-level STAND-IN commands: qbsub qbout qberr qbjobs qbhosts qblock qbunlock qblogin qbhash."""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET

from . import BANNER, VERSION, flags, secret
from .client import CliError, call, invoking_user, read_password, read_password_twice, require_admin
from .env import host_path, read_qb_conf
from .store import TERMINAL


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with only the options the caller adds, ``--help`` and ``--version``.

    Long options must be spelled out: the vendor pages (CLI/<cmd>.md) show no abbreviations.
    """
    p = argparse.ArgumentParser(prog=prog, description=f"{description} [{BANNER}]", allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"{prog} {VERSION}")
    return p


def _client_conf(prog: str) -> dict[str, str]:
    """The LOCAL qb.conf only (administrators-guide/configuring-qube/Client+Configuration.md):
    a client never reads qbwrk.conf nor any worker's effective config."""
    conf = read_qb_conf()
    try:
        flags.check_conf({k: v for k, v in conf.items() if k == "client_job_flags"})
    except flags.FlagError as error:
        raise CliError(prog, str(error)) from None
    return conf


def qbsub(argv: list[str]) -> int:
    """Submit a command-line job; print ``successfully submitted job: <id>``.

    Defaults from the local qb.conf: ``client_priority`` (CPR client_priority.md) and
    ``client_job_flags`` (CPR client_job_flags.md, default "auto_mount"), added to ``--flags``.
    """
    p = parser("qbsub", "Submit a cmdline job.")
    p.add_argument("--name", default="")
    p.add_argument("--hosts", default="", help="comma-separated host list")
    p.add_argument("--user", help="submit as this user (admin only)")
    # "-priority 1" (one dash) is how the examples in CLI/qbsub.md spell it.
    p.add_argument("--priority", "-priority", type=int)
    p.add_argument("--flags", default="", help="comma-separated job flags (CLI/qbsub.md)")
    p.add_argument("--waiton", action="store_true", help="block until the job finishes")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    if not args.command:
        p.error("a command is required")
    if args.user:
        require_admin("qbsub", "--user")
    conf = _client_conf("qbsub")
    try:
        wanted = flags.job_flags("--flags", args.flags)
        wanted += flags.job_flags("client_job_flags", flags.setting(conf, "client_job_flags"))
        priority = args.priority if args.priority is not None else (
            int(conf["client_priority"]) if conf.get("client_priority", "").strip() else None)
    except (flags.FlagError, ValueError) as error:
        raise CliError("qbsub", str(error)) from None
    command = " ".join(args.command)
    answer = call("qbsub", {"op": "submit", "name": args.name or command.split()[0], "command": command,
                            "user": args.user or invoking_user(), "priority": priority,
                            "flags": [f for f in flags.JOB_FLAGS if f in wanted],
                            "hosts": [h for h in args.hosts.split(",") if h]})
    print(f"successfully submitted job: {answer['id']}", flush=True)
    if not args.waiton:
        return 0
    while True:
        job = call("qbsub", {"op": "jobs", "ids": [answer["id"]]})["jobs"][0]
        if job["status"] in TERMINAL:
            break
        time.sleep(0.3)
    if job["status"] != "complete":
        print(f"qbsub: job {job['id']} finished with status {job['status']}"
              + (f": {job['message']}" if job.get("message") else ""), file=sys.stderr)
        return 1
    return 0


def _job(prog: str, spec: str) -> dict:
    try:
        job_id = int(spec.split(".", 1)[0])
    except ValueError:
        raise CliError(prog, f"bad job id {spec!r}") from None
    jobs = call(prog, {"op": "jobs", "ids": [job_id]})["jobs"]
    if not jobs:
        raise CliError(prog, f"no such job: {job_id}")
    return jobs[0]


def qbout(argv: list[str], stream: str = "stdout", prog: str = "qbout") -> int:
    """Print a job's stdout (``qbout``) or stderr (``qberr``).

    With ``client_logpath`` in the LOCAL qb.conf naming a folder (CPR client_logpath.md), the log
    is read from ``<client_logpath>/job/<id//1000*1000>/<id>/<id>_<sub>.out|.err``; otherwise the
    supervisor sends what the worker reported when the job ended.
    """
    p = parser(prog, f"Print a job's {stream} (subjob 0 only).")
    p.add_argument("job", help="JOBID or JOBID.SUBID")
    spec = p.parse_args(argv).job
    try:
        job_id, _, sub = spec.partition(".")
        job_id, sub_id = int(job_id), int(sub or 0)
    except ValueError:
        raise CliError(prog, f"bad job id {spec!r}") from None
    logpath = _client_conf(prog).get("client_logpath", "").strip()
    if logpath and os.path.isdir(host_path(logpath)):
        folder = os.path.join(host_path(logpath), "job", str(job_id // 1000 * 1000), str(job_id))
        path = os.path.join(folder, f"{job_id}_{sub_id}.{'out' if stream == 'stdout' else 'err'}")
        try:
            with open(path, errors="replace") as handle:
                sys.stdout.write(handle.read())
        except OSError as error:
            raise CliError(prog, f"cannot read {path} (client_logpath): {error.strerror or error}") from None
        return 0
    if sub_id != 0:
        raise CliError(prog, f"no such subjob: {job_id}.{sub_id} (the stand-in runs subjob 0 only)")
    job = _job(prog, str(job_id))
    sys.stdout.write(job.get(stream) or "")
    return 0


def qberr(argv: list[str]) -> int:
    return qbout(argv, "stderr", "qberr")


def _xml(root: ET.Element) -> None:
    ET.indent(root)
    print('<?xml version="1.0"?>')
    print(ET.tostring(root, encoding="unicode"))


def qbjobs(argv: list[str]) -> int:
    """List jobs: table, ``--status`` (``<id> <status>`` lines) or ``--xml``.

    CLI/qbjobs.md: with no job id (or the wild card ``0``) only the current user's jobs.
    """
    p = parser("qbjobs", "List jobs.")
    p.add_argument("ids", nargs="*", type=int)
    p.add_argument("--status", action="store_true", help="print '<id> <status>' lines")
    p.add_argument("--xml", action="store_true")
    args = p.parse_args(argv)
    ids = [i for i in args.ids if i != 0]
    jobs = call("qbjobs", {"op": "jobs", "ids": ids})["jobs"]
    if not ids:
        me = invoking_user()
        jobs = [j for j in jobs if j["user"] == me]
    elif not jobs:
        raise CliError("qbjobs", "no such job(s)")
    if args.xml:
        root = ET.Element("jobs")
        for job in jobs:
            node = ET.SubElement(root, "job")
            for key in ("id", "name", "user", "status", "host", "priority", "exitcode", "command"):
                ET.SubElement(node, key).text = "" if job.get(key) is None else str(job[key])
            ET.SubElement(node, "hosts").text = ",".join(job.get("hosts") or [])
            ET.SubElement(node, "flags").text = ",".join(job.get("flags") or [])
        _xml(root)
    elif args.status:
        for job in jobs:
            print(f"{job['id']} {job['status']}")
    else:
        print(f"{'id':>6}  {'name':<20} {'user':<16} {'status':<10} host")
        for job in jobs:
            print(f"{job['id']:>6}  {job['name'][:20]:<20} {job['user']:<16} {job['status']:<10} {job['host']}")
    return 0


HOST_FIELDS = ("name", "state", "locked", "jobs_running", "worker_mode", "proxy_mode", "owner", "os",
               "address", "slots")


def _host_row(host: dict) -> dict:
    row = {k: host.get(k) for k in HOST_FIELDS}
    row["locked"] = 1 if host.get("locked") else 0
    row["jobs_running"] = len(host.get("running", []))
    return row


def qbhosts(argv: list[str]) -> int:
    """List workers: table, ``--long`` (``key: value`` blocks) or ``--xml``.

    CLI/qbhosts.md: ``qbhosts [options] [hostname][hostname,...]``; ``--down``, ``--panic`` and
    ``--active`` show only hosts in that state (given together: any of them).
    """
    p = parser("qbhosts", "List workers.")
    p.add_argument("names", nargs="*", help="host names (space or comma separated)")
    p.add_argument("--down", action="store_true", help="show down hosts")
    p.add_argument("--panic", action="store_true", help="show panicked hosts")
    p.add_argument("--active", action="store_true", help="show active hosts")
    p.add_argument("--long", action="store_true")
    p.add_argument("--xml", action="store_true")
    args = p.parse_args(argv)
    names = [n for arg in args.names for n in arg.split(",") if n]
    states = {s for s in ("down", "panic", "active") if getattr(args, s)}
    listed = [_host_row(h) for h in call("qbhosts", {"op": "hosts", "names": names})["hosts"]]
    missing = set(names) - {h["name"] for h in listed}
    hosts = [h for h in listed if not states or h["state"] in states]
    if args.xml:
        root = ET.Element("hosts")
        for host in hosts:
            node = ET.SubElement(root, "host")
            for key in HOST_FIELDS:
                ET.SubElement(node, key).text = str(host[key])
        _xml(root)
    elif args.long:
        for host in hosts:
            print("\n".join(f"{k}: {host[k]}" for k in HOST_FIELDS) + "\n")
    else:
        print(f"{'name':<20} {'state':<7} {'locked':<6} {'jobs':<4} {'mode':<8} {'proxy':<6} owner")
        for h in hosts:
            print(f"{h['name']:<20} {h['state']:<7} {h['locked']:<6} {h['jobs_running']:<4} "
                  f"{h['worker_mode']:<8} {h['proxy_mode']:<6} {h['owner']}")
    if missing:
        print(f"qbhosts: unknown host(s): {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    return 0


def qblock(argv: list[str], lock: bool = True) -> int:
    """Lock workers (finish-current: running jobs complete); ``--purge`` kills them."""
    prog = "qblock" if lock else "qbunlock"
    p = parser(prog, "Lock workers (running jobs finish; no new jobs start)." if lock else "Unlock workers.")
    p.add_argument("hosts", nargs="+")
    if lock:
        p.add_argument("--purge", action="store_true", help="kill the jobs running on the workers now")
    args = p.parse_args(argv)
    call(prog, {"op": "lock", "hosts": args.hosts, "lock": lock, "purge": getattr(args, "purge", False)})
    for host in args.hosts:
        print(f"{'locked' if lock else 'unlocked'}: {host}")
    return 0


def qbunlock(argv: list[str]) -> int:
    return qblock(argv, lock=False)


def qbhash(argv: list[str]) -> int:
    """Print the stand-in's salted, reversible encryption of a password (see secret.py)."""
    p = parser("qbhash", "Print the encrypted string of a password (stand-in scheme).")
    p.add_argument("--password", help="the password (default: read from stdin)")
    print(secret.encrypt(read_password("qbhash", p.parse_args(argv).password)))
    return 0


def qblogin(argv: list[str]) -> int:
    """Register (or ``--check``, or ``--display``) a user's password with the supervisor."""
    p = parser("qblogin", "Register your password with the supervisor.")
    p.add_argument("--user", help="register for this user (admin only)")
    p.add_argument("--domain", help="register for this domain (admin only)")
    p.add_argument("--password", help="the password (default: asked twice on stdin)")
    p.add_argument("--check", action="store_true", help="exit 0 when the given password matches the stored one")
    p.add_argument("--display", action="store_true", help="print the encrypted password and exit")
    args = p.parse_args(argv)
    if args.user or args.domain:
        require_admin("qblogin", "--user/--domain")
    token = secret.encrypt(read_password_twice("qblogin", args.password))
    if args.display:
        print(token)
        return 0
    user = args.user or invoking_user()
    account = f"{args.domain}\\{user}" if args.domain else user
    if args.check:
        answer = call("qblogin", {"op": "check_password", "account": account, "token": token})
        if answer["match"]:
            print(f"password for {account} matches")
            return 0
        print(f"qblogin: password for {account} does not match" + (
            f" ({answer['error']})" if answer.get("error") else ""), file=sys.stderr)
        return 1
    call("qblogin", {"op": "set_password", "account": account, "token": token})
    print(f"password registered for {account}")
    return 0

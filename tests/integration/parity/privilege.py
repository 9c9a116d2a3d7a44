# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege probes: what a job process really has, read from /proc by root on the worker.

The probe (``files/probe.sh``) runs as the job (validation command, or a Qube! job) and waits
for the watcher (``files/watch.py``, root, started with systemd-run), which reads
/proc/<pid>/status and /proc/<pid>/environ of the probe and of every ancestor up to the first
root process (the Ansible module or the worker daemon that started the job). :func:`problems`
judges one such chain.
"""

import json
import subprocess

from .farm import KEY, PROBE_DIR

WATCH_UNIT = "qube-lp-watch"
RUN_DIR = "/run/qube-lp"
ROOT_PATHS = {"/root"}


def ssh(host, command, user="root", timeout=120, stdin=None):
    """Run ``command`` on ``host`` as ``user`` (a real, non-persistent login); the completed process."""
    argv = ["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ControlMaster=no", "-o", "ControlPath=none", "%s@%s" % (user, host.address),
            command]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def start_watchers(hosts, seconds=600):
    for host in hosts:
        proc = ssh(host, "systemctl stop %(u)s 2>/dev/null; rm -rf %(d)s; systemd-run --quiet --collect --unit=%(u)s "
                         "%(p)s/watch.py %(s)d && for i in $(seq 50); do [ -e %(d)s/watching ] && exit 0; sleep 0.1; done; "
                         "exit 1" % {"u": WATCH_UNIT, "d": RUN_DIR, "p": PROBE_DIR, "s": seconds})
        assert proc.returncode == 0, "%s: the watcher did not start: %s" % (host.name, proc.stderr)


def stop_watchers(hosts):
    """Stop the watchers; ``{host name: [snapshot records]}``."""
    seen = {}
    for host in hosts:
        proc = ssh(host, "touch %(d)s/stop; for i in $(seq 50); do systemctl -q is-active %(u)s || break; sleep 0.1; done; "
                         "for f in %(d)s/seen/*.json; do [ -e \"$f\" ] && cat \"$f\" && echo; done; true"
                         % {"u": WATCH_UNIT, "d": RUN_DIR})
        seen[host.name] = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return seen


def root_login_path(host):
    """The PATH root gets at an ssh login on ``host`` (Debian: with the sbin folders)."""
    return ssh(host, "printf '%s' \"$PATH\"").stdout.strip()


def account(host, name):
    """``(uid, gid, home)`` of ``name`` on ``host`` (getent: local or directory account)."""
    out = ssh(host, "getent passwd '%s'" % name.replace("'", "")).stdout.strip()
    fields = out.split(":")
    assert len(fields) >= 7, "%s: %s does not resolve (%r)" % (host.name, name, out)
    return int(fields[2]), int(fields[3]), fields[5]


def problems(snapshot, expected_uid, root_paths):
    """What is wrong with one job's process chain (empty list: least privilege holds).

    Every process of the chain that is not the root starter must run as ``expected_uid`` (real,
    effective, saved, fs), with no gid 0 and no supplementary group 0, and an environment
    without root's HOME/USER/LOGNAME, without SUDO_* or ANSIBLE_* variables and with a PATH
    that is none of ``root_paths`` (root's login PATH, the starter's PATH) and has no /root entry.
    """
    if "error" in snapshot:
        return ["the watcher could not read the job: %s" % snapshot["error"]]
    chain = snapshot["chain"]
    # The job side: every non-root process, except the desktop user's systemd manager (it is the
    # session's, not the job's or the worker's; its PATH is systemd's default for every user).
    job = [p for p in chain if (p["uids"][0] != 0 or p["uids"][1] != 0) and not p["argv0"].endswith("/systemd")]
    found = []
    if not job:
        found.append("no process of the chain runs as the job identity")
    if chain[-1]["uids"][0] != 0:
        found.append("the chain does not end at the root process that started the job (%s)" % chain[-1]["argv0"])
    starter_path = chain[-1]["env"].get("PATH") if chain[-1]["uids"][0] == 0 else None
    forbidden_paths = set(root_paths) | ({starter_path} if starter_path else set())
    for proc in job:
        who = "pid %d (%s)" % (proc["pid"], proc["argv0"] or proc["Name"][0])
        if set(proc["uids"]) != {expected_uid}:
            found.append("%s: uids %s, expected %d" % (who, proc["uids"], expected_uid))
        if 0 in proc["gids"]:
            found.append("%s: gids %s include 0" % (who, proc["gids"]))
        if 0 in proc["groups"]:
            found.append("%s: supplementary groups %s include 0" % (who, proc["groups"]))
        env = proc["env"]
        if env.get("HOME") in ROOT_PATHS or (env.get("HOME") or "").startswith("/root/"):
            found.append("%s: HOME=%s" % (who, env.get("HOME")))
        for name in ("USER", "LOGNAME"):
            if env.get(name) == "root":
                found.append("%s: %s=root" % (who, name))
        bad = [n for n in proc["env_names"] if n.startswith("SUDO_") or n.startswith("ANSIBLE_")]
        if bad:
            found.append("%s: root's variables %s" % (who, bad))
        path = env.get("PATH")
        if path is not None and (path in forbidden_paths or any(
                part == "/root" or part.startswith("/root/") for part in path.split(":"))):
            found.append("%s: PATH=%s is root's" % (who, path))
    return found


def summary(snapshot):
    """One line per process of the chain, for the report."""
    if "error" in snapshot:
        return [snapshot["error"]]
    return ["pid %d %s uid=%s gid=%s groups=%s HOME=%s USER=%s PATH=%s env=%s" % (
        p["pid"], p["argv0"] or p["Name"][0], p["uids"][0], p["gids"][0], p["groups"], p["env"].get("HOME"),
        p["env"].get("USER"), p["env"].get("PATH"), ",".join(p["env_names"])) for p in snapshot["chain"]]

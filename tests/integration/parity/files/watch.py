#!/usr/bin/python3
"""Least-privilege watcher (test equipment, tests/integration/parity); runs as root on a lab worker.

    watch.py SECONDS     (started by the test with systemd-run; ends on /run/qube-lp/stop)

For every pid a probe announces in /run/qube-lp/pending/<tag>, it reads /proc/<pid>/status and
/proc/<pid>/environ of the probe and of each ancestor up to and including the first process
running as root (the worker daemon or the Ansible module that started the job), writes
/run/qube-lp/seen/<tag>.json and then releases the probe (/run/qube-lp/done/<tag>).
Only environment variable NAMES are kept, plus the values of HOME, USER, LOGNAME and PATH.
"""
import json
import os
import sys
import time

DIR = "/run/qube-lp"
KEEP_VALUES = ("HOME", "USER", "LOGNAME", "PATH")


def read_proc(pid):
    info = {"pid": pid}
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("Name", "PPid", "Uid", "Gid", "Groups"):
                info[key] = value.split()
    with open("/proc/%d/environ" % pid, "rb") as handle:
        pairs = [item.split(b"=", 1) for item in handle.read().split(b"\0") if b"=" in item]
    env = dict((k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in pairs)
    info["env_names"] = sorted(env)
    info["env"] = dict((k, env[k]) for k in KEEP_VALUES if k in env)
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        info["argv0"] = handle.read().split(b"\0")[0].decode("utf-8", "replace")
    info["uids"] = [int(u) for u in info["Uid"]]
    info["gids"] = [int(g) for g in info["Gid"]]
    info["groups"] = [int(g) for g in info.get("Groups", [])]
    info["ppid"] = int(info["PPid"][0])
    return info


def snapshot(pid):
    chain, current = [], pid
    while current >= 1 and len(chain) < 12:
        info = read_proc(current)
        chain.append(info)
        if info["uids"][0] == 0:
            break
        current = info["ppid"]
    return chain


def main():
    deadline = time.time() + float(sys.argv[1] if len(sys.argv) > 1 else 900)
    for sub, mode in (("pending", 0o1733), ("done", 0o755), ("seen", 0o700)):
        path = os.path.join(DIR, sub)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
    os.chmod(DIR, 0o755)
    watching = os.path.join(DIR, "watching")
    open(watching, "w").close()
    pending = os.path.join(DIR, "pending")
    try:
        while time.time() < deadline and not os.path.exists(os.path.join(DIR, "stop")):
            for tag in os.listdir(pending):
                if tag.startswith("."):
                    continue
                path = os.path.join(pending, tag)
                try:
                    owner = os.stat(path).st_uid
                    with open(path) as handle:
                        pid = int(handle.read().strip())
                    record = {"tag": tag, "announced_by_uid": owner, "chain": snapshot(pid)}
                except (OSError, ValueError) as err:
                    record = {"tag": tag, "error": "%s: %s" % (type(err).__name__, err)}
                with open(os.path.join(DIR, "seen", tag + ".json"), "w") as handle:
                    json.dump(record, handle, sort_keys=True)
                open(os.path.join(DIR, "done", tag), "w").close()
                os.unlink(path)
            time.sleep(0.05)
    finally:
        os.unlink(watching)


if __name__ == "__main__":
    main()

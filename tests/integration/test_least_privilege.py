# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least privilege (issue #8): jobs never carry root's groups or environment; files as documented.

Run inside the lab network namespace, from the repository root (shares the farm of
test_check_parity.py when both run in one session; alone it converges the farm once)::

    tests/lab/lab.sh exec .venv/bin/pytest -q -s -p no:cacheprovider tests/integration/test_least_privilege.py

* During the validation job of a real site.yml run (the validation command is the probe of
  ``parity/files/probe.sh``) and during real Qube! jobs submitted with the stand-in's qbsub (as
  the proxy account, local and AD; as the user-mode submitter; in the desktop user's login
  session), root's watcher reads /proc/<pid>/status and /proc/<pid>/environ of the job and of
  each ancestor up to the root process that started it. Every non-root process of that chain
  must be the job identity (all four uids), without gid 0 or supplementary group 0, without
  root's HOME/USER/LOGNAME, SUDO_* or ANSIBLE_* variables, and with a PATH that is neither root's
  login PATH nor the starter's.
* Every managed file has the owner and mode README.md documents ("Secrets and files"); files the
  README does not document are listed with their measured owner and mode (and must at least not
  be writable by group or others, and belong to root or to the desktop user for their own items).
"""

import fnmatch
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.integration.parity import privilege  # noqa: E402
from tests.integration.parity.farm import (AD, DESKTOP, DESKTOP_USER, PROBE_DIR, SITE, SUBMITTER,  # noqa: E402
                                           SUPERVISOR, USERMODE, WORKERS, shared_farm)

QB_BIN = "/usr/local/pfx/qube/bin"
PROBE = PROBE_DIR + "/probe"
STATE_DIR = "/var/lib/renderfarm-qube"

# README.md, "Secrets and files": (host kind, path glob, owner, group or None, mode, README words).
DOCUMENTED = [
    ("supervisor", "/etc/qbwrk.conf", "root", "root", "600", "/etc/qbwrk.conf (supervisor, root:root 0600)"),
    ("worker", "/etc/qb.conf", "root", None, "644", "/etc/qb.conf without a secret is root 0644"),
    ("any", STATE_DIR, "root", None, "700", "/var/lib/renderfarm-qube (folder 0700"),
    ("any", STATE_DIR + "/credential-*", "root", None, "600", "credential files 0600"),
    ("any", STATE_DIR + "/.credential-*", "root", None, "600", "credential files 0600"),
    ("any", STATE_DIR + "/salt", "root", None, "600", "credential files 0600 (the fingerprint salt)"),
    ("any", STATE_DIR + "/worker_mode.json", "root", None, "644", "the mode ... records ... 0644"),
    ("any", STATE_DIR + "/identity_validation.json", "root", None, "644", "the ... validation records ... 0644"),
]
# Managed files the README does not document: measured and listed; sanity-checked only.
UNDOCUMENTED = [
    ("supervisor", "/etc/qb.conf"),
    ("any", "/etc/qb.conf.*~"),
    ("any", "/etc/qbwrk.conf.*~"),
    ("worker", "/etc/systemd/system/worker.service.d"),
    ("worker", "/etc/systemd/system/worker.service.d/renderfarm-qube-mode.conf"),
    ("worker", "/etc/systemd/user/qube-desktop-worker.service"),
    ("worker", "/etc/systemd/user/default.target.wants/qube-desktop-worker.service"),
    ("worker", "/home/*/.config/autostart"),
    ("worker", "/home/*/.config/autostart/qube-desktop-worker.desktop"),
    ("worker", "/var/cache/renderfarm-qube/packages"),
    ("worker", "/var/cache/renderfarm-qube/packages/*.deb"),
    ("any", STATE_DIR + "/*"),
]
SECRET_FILES = r"grep -rlE '^[[:space:]]*proxy_password[[:space:]]*=' /etc /var/lib /var/spool /usr/local/pfx 2>/dev/null; true"

# Known least-privilege findings: (where, regex over the finding text, reason). Same contract as
# the parity rules: a finding no rule explains fails; a rule that matches nothing fails; known
# defects end as xfail.
# None today. Fixed after this test found them: the validation job's process kept root's
# environment block (it now execs a fresh interpreter after the identity switch), and the
# Desktop User worker ran with root's login PATH (its unit now sets PATH).
KNOWN = []


@pytest.fixture(scope="session")
def farm(request):
    return shared_farm(request)


@pytest.fixture(scope="module")
def converged(farm):
    farm.converge()
    return farm


def expected_uid(farm, host):
    return privilege.account(host, farm.job_identity(host))[0]


def judge(findings, where):
    """``(reasons of the known defects seen, stale rules)``; fails on findings no rule explains."""
    rules = [(rx, reason) for scope, rx, reason in KNOWN if scope == where]
    unknown = [f for f in findings if not any(re.search(rx, f) for rx, _r in rules)]
    assert not unknown, "least-privilege findings:\n  " + "\n  ".join(unknown)
    reasons = sorted({r for rx, r in rules if any(re.search(rx, f) for f in findings)})
    stale = [rx for rx, _r in rules if not any(re.search(rx, f) for f in findings)]
    return reasons, stale


def check_chains(farm, seen, label_prefix, hosts):
    """Findings for every probe snapshot of ``hosts`` whose tag starts with ``label_prefix``."""
    findings, lines = [], []
    for host in hosts:
        root_paths = {privilege.root_login_path(host)}
        uid = expected_uid(farm, host)
        mine = [s for s in seen[host.name] if s["tag"].startswith(label_prefix)]
        if not mine:
            findings.append("%s %s: no %s job was seen by the watcher" % (label_prefix, host.name, label_prefix))
        for snapshot in mine:
            lines.append("%s %s (%s, uid %d):" % (label_prefix, host.name, farm.job_identity(host), uid))
            lines += ["    " + line for line in privilege.summary(snapshot)]
            findings += ["%s %s: %s" % (label_prefix, host.name, p) for p in privilege.problems(snapshot, uid, root_paths)]
    print("\n" + "\n".join(lines))
    return findings


def finish(findings, where, what):
    reasons, stale = judge(findings, where)
    assert not stale, "%s: KNOWN rules that matched nothing (remove them): %s" % (what, stale)
    if reasons:
        print("\n%s: known defects observed:\n  %s" % (what, "\n  ".join(findings)))
        pytest.xfail("; ".join(reasons))


def test_validation_job_has_no_root_groups_or_environment(converged):
    farm = converged
    privilege.start_watchers(WORKERS)
    try:
        # The farm is converged: with the default cadence (on_change) no validation job would run.
        run = farm.play("lp-validation", SITE, farm.current_inventory(),
                        extra_args=["-e", "qube_validate_cadence=always"])
    finally:
        seen = privilege.stop_watchers(WORKERS)
    assert run.returncode == 0 or run.failed_hosts() == [], run.output[-4000:]
    finish(check_chains(farm, seen, "validation", WORKERS), "validation", "validation job")


def submit(host, user, tag, login=False):
    """Submit the probe as a Qube! job pinned to ``host`` (qbsub run as ``user`` on ``host``)."""
    command = "%s/qbsub --hosts %s --waiton %s %s" % (QB_BIN, host.name, PROBE, tag)
    if login:  # a real ssh login of the desktop user: its session starts the desktop worker
        wait = ("for i in $(seq 80); do systemctl --user -q is-active qube-desktop-worker.service && break; "
                "sleep 0.25; done; ")
        return privilege.ssh(host, wait + command, user=user, timeout=180)
    return privilege.ssh(host, "runuser -u %s -- %s" % (user, command), timeout=180)


def test_qube_jobs_have_no_root_groups_or_environment(converged):
    farm = converged
    desktop_hosts = [DESKTOP]
    service_hosts = [h for h in WORKERS if farm.mode(h) == "service"]
    privilege.start_watchers(WORKERS)
    try:
        with ThreadPoolExecutor(max_workers=len(WORKERS)) as pool:
            jobs = [(h, pool.submit(submit, h, SUBMITTER, "qbsub-service")) for h in service_hosts]
            jobs += [(h, pool.submit(submit, h, DESKTOP_USER, "qbsub-desktop", login=True)) for h in desktop_hosts]
            results = [(h, job.result()) for h, job in jobs]
        time.sleep(0.5)
    finally:
        seen = privilege.stop_watchers(WORKERS)
    failed = ["%s: rc=%d %s %s" % (h.name, p.returncode, p.stdout[-300:], p.stderr[-300:]) for h, p in results
              if p.returncode != 0]
    assert not failed, "qbsub failed: %s" % failed
    names = {h.name: farm.job_identity(h) for h in service_hosts + desktop_hosts}
    assert names[USERMODE.name] == SUBMITTER and names[AD.name].endswith("renderproxy"), names
    findings = check_chains(farm, seen, "qbsub-service", service_hosts)
    findings += check_chains(farm, seen, "qbsub-desktop", desktop_hosts)
    finish(findings, "qbsub", "Qube! jobs")


def stat_lines(host, patterns):
    """``{path: (owner, group, mode, type)}`` of the existing paths matching the globs."""
    script = "for p in %s; do [ -e \"$p\" ] || [ -L \"$p\" ] || continue; stat -c '%%U|%%G|%%a|%%F|%%n' \"$p\"; done" % (
        " ".join(patterns))
    out = privilege.ssh(host, script).stdout
    found = {}
    for line in out.splitlines():
        owner, group, mode, kind, path = line.split("|", 4)
        found[path] = (owner, group, mode, kind)
    return found


def applies(kind, host):
    return kind == "any" or (kind == "supervisor") == (host is SUPERVISOR)


def test_managed_files_have_the_documented_owner_and_mode(converged):
    farm = converged
    problems, measured, covered = [], [], set()
    for host in [SUPERVISOR] + WORKERS:
        documented = [d for d in DOCUMENTED if applies(d[0], host)]
        undocumented = [u for u in UNDOCUMENTED if applies(u[0], host)]
        stats = stat_lines(host, [d[1] for d in documented] + [u[1] for u in undocumented])
        for path, (owner, group, mode, kind) in sorted(stats.items()):
            rule = next((d for d in documented if fnmatch.fnmatchcase(path, d[1])), None)
            if rule:
                covered.add((host is SUPERVISOR, rule[1]))
                if owner != rule[2] or (rule[3] and group != rule[3]) or mode != rule[4]:
                    problems.append("%s %s: %s:%s %s, README documents %s:%s %s (%s)" % (
                        host.name, path, owner, group, mode, rule[2], rule[3] or "*", rule[4], rule[5]))
                continue
            measured.append("%s %s: %s:%s %s (%s)" % (host.name, path, owner, group, mode, kind))
            if kind != "symbolic link" and int(mode, 8) & 0o022:
                problems.append("%s %s: writable by group or others (%s)" % (host.name, path, mode))
            own_item = "/home/" in path and owner == DESKTOP_USER and path.startswith("/home/%s/" % owner)
            if owner != "root" and not own_item:
                problems.append("%s %s: owned by %s" % (host.name, path, owner))
        for path in privilege.ssh(host, SECRET_FILES).stdout.split():
            owner, _group, mode, _kind = stat_lines(host, [path])[path]
            measured.append("%s %s: holds proxy_password, %s %s" % (host.name, path, owner, mode))
            if mode != "600":
                problems.append("%s %s holds proxy_password but is %s (README: 0600)" % (host.name, path, mode))
    print("\nmanaged files the README does not document (measured):\n  " + "\n  ".join(measured))
    # The documented files must all have been seen somewhere (else the check proves nothing).
    expected = {(True, "/etc/qbwrk.conf"), (False, "/etc/qb.conf"), (False, STATE_DIR),
                (False, STATE_DIR + "/worker_mode.json"), (False, STATE_DIR + "/identity_validation.json")}
    assert expected <= covered, "documented files not found: %s" % sorted(expected - covered)
    finish(problems, "files", "managed files")

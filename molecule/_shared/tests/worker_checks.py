"""Operator-eye checks of a lab worker's run mode, shared by the worker_mode scenarios
(service_mode, desktop_mode, mode_flip).

Everything here looks at the host as an operator would: unit state, files, the uid of the worker
process, which account a real Qube! (stand-in) job ran as, and real ssh logins (key auth, no
ControlMaster, so the session ends when ssh returns).
"""
import os
import subprocess
import time

import pytest

from molecule_lab import ansible_playbook, changed_total, job_output, job_script

LAB_DIR = os.environ.get("QLAB_DIR") or "/var/lib/qube-lab"
LAB_KEY = os.path.join(LAB_DIR, "ssh", "id_ed25519")
USER_UNIT = "/etc/systemd/user/qube-desktop-worker.service"
USER_LINK = "/etc/systemd/user/default.target.wants/qube-desktop-worker.service"
DROPIN = "/etc/systemd/system/worker.service.d/renderfarm-qube-mode.conf"
DESKTOP_USER = "artist"
DESKTOP_DIR = "/var/spool/qube/desktop"  # qube_desktop_worker_dir (default): its log, job logs, journal, pid


def worker_only(host):
    """Skip the test on hosts that are not in qube_workers (the supervisor)."""
    if "qube_workers" not in host.ansible.get_variables().get("group_names", []):
        pytest.skip("not a worker")


def address(host):
    return host.ansible.get_variables()["ansible_host"]


def worker_owners(host):
    """Users owning a running worker process (the stand-in's process name is ``worker``)."""
    out = host.run("ps -o user= -C worker").stdout
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def wait_for_owners(host, expected, timeout=20.0):
    """Poll until the worker owners equal ``expected``; return the last value seen."""
    deadline = time.monotonic() + timeout
    owners = worker_owners(host)
    while owners != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        owners = worker_owners(host)
    return owners


def ssh_login(host, user, command, timeout=120):
    """A real, non-persistent ssh login as ``user`` running ``command``; returns CompletedProcess."""
    argv = ["ssh", "-i", LAB_KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "ControlMaster=no", "-o", "ControlPath=none",
            "-o", "LogLevel=ERROR", "%s@%s" % (user, address(host)), command]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


WAIT_FOR_SESSION_WORKER = (
    "for i in $(seq 40); do systemctl --user -q is-active qube-desktop-worker.service && break; "
    "sleep 0.25; done; ")


def job_command(worker_name, command):
    """Shell text that submits ``command`` pinned to the worker, waits, and prints its stdout."""
    return job_script(worker_name, command, status=True)


def job_user(host, worker_name):
    """Run ``id -un`` as a Qube! job on the worker (submitted as root on the host)."""
    return job_output(host, worker_name, "id -un", status=True)


def run_converge(playbook, extra_vars, limit=None, check=False):
    """Run the scenario's converge playbook with the molecule inventory; return (rc, changed, out)."""
    run = ansible_playbook(playbook, extra_vars, limit=limit, check=check)
    return run.returncode, changed_total(run.stdout), run.stdout + run.stderr


def host_snapshot(host):
    """What an operator would compare before/after: mode files, unit states, worker owners."""
    listing = host.run("find /etc/systemd /home/%s/.config /var/lib/renderfarm-qube /var/lib/systemd/linger "
                       "-printf '%%p %%s %%m %%l\\n' 2>/dev/null | sort" % DESKTOP_USER).stdout
    units = host.run("systemctl is-enabled worker; systemctl is-active worker").stdout
    return listing, units, worker_owners(host)


def assert_service_mode(host):
    """Service mode: system unit enabled and active, root-owned worker, no desktop trace."""
    assert host.service("worker").is_enabled
    assert host.service("worker").is_running
    assert wait_for_owners(host, ["root"]) == ["root"]
    assert "User=root" in host.file(DROPIN).content_string
    assert_no_desktop_trace(host)


def assert_no_desktop_trace(host, user=DESKTOP_USER):
    assert not host.file(USER_UNIT).exists
    assert not host.file(USER_LINK).exists
    assert not host.file("/home/%s/.config/autostart/qube-desktop-worker.desktop" % user).exists
    assert not host.file("/var/lib/systemd/linger/%s" % user).exists


def assert_desktop_mode_idle(host, user=DESKTOP_USER):
    """Desktop mode with nobody logged in: nothing runs; unit, link and autostart in place."""
    assert not host.service("worker").is_enabled
    assert not host.service("worker").is_running
    assert not host.file(DROPIN).exists
    unit = host.file(USER_UNIT)
    assert unit.exists and unit.user == "root" and unit.mode == 0o644
    uid = host.user(user).uid
    assert "ConditionUser=%d" % uid in unit.content_string
    assert host.file(USER_LINK).is_symlink and host.file(USER_LINK).linked_to == USER_UNIT
    entry = host.file("/home/%s/.config/autostart/qube-desktop-worker.desktop" % user)
    assert entry.exists and entry.user == user and entry.mode == 0o644
    assert "[Desktop Entry]" in entry.content_string
    assert not host.file("/var/lib/systemd/linger/%s" % user).exists
    assert wait_for_owners(host, []) == []

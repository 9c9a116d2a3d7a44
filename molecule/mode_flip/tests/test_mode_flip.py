"""service -> desktop -> service: each step leaves no trace of the other mode and is idempotent.

The steps run in file order (pytest keeps definition order). The flip to desktop first proves
that a refused run (unknown desktop user) and a check-mode run leave the host untouched; each
flip then converges with the molecule inventory, converges again to prove nothing changes, and
looks at the host.
"""
import os

import pytest

from molecule_lab import QB_BIN
from worker_checks import (DESKTOP_DIR, DESKTOP_USER, WAIT_FOR_SESSION_WORKER, assert_desktop_mode_idle,
                           assert_service_mode, host_snapshot, job_command, run_converge, ssh_login, wait_for_owners, worker_only)
CONVERGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "converge.yml")


def _flip(mode):
    rc, changed, out = run_converge(CONVERGE, {"flip_mode": mode})
    assert rc == 0, out[-3000:]
    assert changed > 0, "flip to %s changed nothing" % mode
    rc, changed, out = run_converge(CONVERGE, {"flip_mode": mode})
    assert rc == 0, out[-3000:]
    assert changed == 0, "second %s run was not idempotent:\n%s" % (mode, out[-3000:])


@pytest.fixture(scope="module")
def flips():
    """Remember which flips ran, so a later step is skipped (not misreported) if one failed."""
    return []


def test_1_starts_in_service_mode(host, flips):
    worker_only(host)
    assert_service_mode(host)
    flips.append("service")


def test_2_flip_to_desktop(host, flips):
    worker_only(host)
    if flips != ["service"]:
        pytest.skip("previous step failed")
    name = host.check_output("hostname")
    before = host_snapshot(host)
    rc, _, out = run_converge(CONVERGE, {"flip_mode": "desktop", "qube_desktop_user": "ghost"})
    assert rc != 0
    assert ("host %s: qube_desktop_user 'ghost' does not exist on the host" % name) in out
    assert host_snapshot(host) == before, "a refused run changed the host"
    rc, changed, out = run_converge(CONVERGE, {"flip_mode": "desktop"}, check=True)
    assert rc == 0 and changed > 0, out[-3000:]
    assert host_snapshot(host) == before, "check mode changed the host"
    _flip("desktop")
    assert_desktop_mode_idle(host)
    login = ssh_login(host, DESKTOP_USER, WAIT_FOR_SESSION_WORKER + "ps -o user= -C worker; " + job_command(name, "id -un"))
    assert login.returncode == 0, login.stderr
    assert login.stdout.split()[0] == DESKTOP_USER and login.stdout.split()[-1] == DESKTOP_USER
    assert wait_for_owners(host, [], timeout=30) == []
    flips.append("desktop")


def test_3_flip_back_to_service(host, flips):
    worker_only(host)
    if flips != ["service", "desktop"]:
        pytest.skip("previous step failed")
    _flip("service")
    assert_service_mode(host)
    login = ssh_login(host, DESKTOP_USER, "systemctl --user is-active qube-desktop-worker.service; true")
    assert login.stdout.strip() in ("inactive", "unknown"), login.stdout
    assert wait_for_owners(host, ["root"]) == ["root"]
    # The desktop worker's folder stays (its job logs) but nothing points at it any more.
    assert host.file(DESKTOP_DIR).is_directory
    assert DESKTOP_DIR not in host.file("/etc/qb.conf").content_string
    name = host.check_output("hostname")
    state = host.run("for i in $(seq 40); do s=$(%s/qbhosts %s | awk '$1 == \"%s\" {print $2}'); "
                     "[ \"$s\" = active ] && break; sleep 0.25; done; echo $s" % (QB_BIN, name, name))
    assert state.stdout.strip() == "active", state.stdout + state.stderr

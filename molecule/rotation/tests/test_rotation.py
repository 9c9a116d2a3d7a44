"""rotation: playbooks/rotate_proxy_password.yml moves every worker from password A to B."""
import os

import pytest

from identity_checks import password_is, report_row, run_with_secret_vars, shadow_hash
from molecule_lab import REPO, job_output, lab_host

SUPERVISOR, WORKERS = "id10", ("id11", "id12")
PASSWORD_A = "qube-lab-only-Rotate-A3"  # molecule.yml (test-only)
PASSWORD_B = "qube-lab-only-Rotate-B8"  # the new password, given in a 0600 vars file
ROTATE = os.path.join(REPO, "playbooks", "rotate_proxy_password.yml")


def rotate_to(password):
    """Run the rotation playbook with the new password from a 0600 vars file (never argv)."""
    return run_with_secret_vars(ROTATE, {"qube_proxy_password": password}, secrets=(PASSWORD_A, PASSWORD_B))


@pytest.fixture(scope="module")
def first_rotation():
    """Shadow hashes before, then the first rotation run to B: (before, rc, changed, out, report)."""
    before = {name: shadow_hash(lab_host(name), "renderproxy") for name in WORKERS}
    assert all(password_is(lab_host(name), "renderproxy", PASSWORD_A) for name in WORKERS)
    return (before,) + rotate_to(PASSWORD_B)


def test_rotation_run_succeeds(first_rotation):
    _, rc, changed, out, _ = first_rotation
    assert rc == 0, out[-3000:]
    assert changed >= len(WORKERS)


@pytest.mark.parametrize("name", WORKERS)
def test_account_password_changed_to_b(first_rotation, name):
    before = first_rotation[0][name]
    host = lab_host(name)
    assert shadow_hash(host, "renderproxy") != before
    assert password_is(host, "renderproxy", PASSWORD_B)
    assert not password_is(host, "renderproxy", PASSWORD_A)


@pytest.mark.parametrize("name", WORKERS)
def test_every_worker_validated_after_rotation(first_rotation, name):
    report = first_rotation[4]
    row = report_row(report, name)
    assert row["validation"] == "passed", row
    assert row["job_identity"] == "renderproxy"
    assert job_output(lab_host(name), name, "id -un") == "renderproxy"


def test_no_stale_registered_copy_on_linux(first_rotation):
    """Linux workers keep no proxy_password copy: neither qbwrk.conf nor qb.conf carries one."""
    sup = lab_host(SUPERVISOR)
    assert "proxy_password" not in sup.file("/etc/qbwrk.conf").content_string
    for name in WORKERS:
        assert "proxy_password" not in lab_host(name).file("/etc/qb.conf").content_string


def test_second_rotation_with_b_changes_nothing(first_rotation):
    rc, changed, out, report = rotate_to(PASSWORD_B)
    assert rc == 0, out[-3000:]
    assert changed == 0, out[-3000:]
    assert all(report_row(report, name)["validation"] == "passed" for name in WORKERS)

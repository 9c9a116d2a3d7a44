"""identity_local: local proxy account, render share, published default, user mode, failures."""
import re
from shlex import quote as shlex_quote

import pytest

from identity_checks import (PUBLISHED_DEFAULT, password_is, report_row, run_playbook, set_shadow_password,
                             shadow_hash, validation_record)
from molecule_lab import SITE, job_output, lab_host

SUPERVISOR, PROXY_WORKER, USER_WORKER = "id00", "id01", "id02"
PASSWORD = "qube-lab-only-Proxy-A7"  # the scenario's test-only proxy password (molecule.yml)
SECRETS = (PASSWORD, PUBLISHED_DEFAULT)


@pytest.fixture(scope="module")
def proxy_worker():
    return lab_host(PROXY_WORKER)


@pytest.fixture(scope="module")
def user_worker():
    return lab_host(USER_WORKER)


def test_proxy_mode_job_runs_as_renderproxy(proxy_worker):
    assert job_output(proxy_worker, PROXY_WORKER, "id -un") == "renderproxy"


def test_job_can_write_the_render_share(proxy_worker):
    out = job_output(proxy_worker, PROXY_WORKER, "'touch /srv/renders/job-probe && stat -c %U /srv/renders/job-probe'")
    assert out == "renderproxy"
    proxy_worker.run_test("rm -f /srv/renders/job-probe")


def test_renderproxy_has_the_vaulted_password_and_the_share_group(proxy_worker):
    assert password_is(proxy_worker, "renderproxy", PASSWORD)
    assert "renderers" in proxy_worker.user("renderproxy").groups


@pytest.mark.parametrize("name", [PROXY_WORKER, USER_WORKER])
def test_validation_record_reports_the_storage_probe_ok(name):
    record = validation_record(lab_host(name))
    assert record["ok"] is True
    assert record["checks"]["path:/srv/renders"] is True
    assert record["checks"]["qube_job"] is True
    assert record["identity"] == ("renderproxy" if name == PROXY_WORKER else "alice")


def test_user_mode_job_runs_as_the_submitter(user_worker):
    assert job_output(user_worker, USER_WORKER, "id -un", user="alice") == "alice"


def test_published_default_is_locked_on_every_worker():
    """The stand-in's qubeproxy came with the published default; converge locked it."""
    for name in (PROXY_WORKER, USER_WORKER):
        host = lab_host(name)
        assert shadow_hash(host, "qubeproxy").startswith("!")
        assert not password_is(host, "qubeproxy", PUBLISHED_DEFAULT)


def test_no_password_on_the_hosts():
    for name in (PROXY_WORKER, USER_WORKER, SUPERVISOR):
        host = lab_host(name)
        listing = host.run("find /etc/qb.conf /etc/qbwrk.conf /var/lib/renderfarm-qube /var/spool/qube* /tmp "
                           "-type f -size -1M 2>/dev/null").stdout.split()
        for path in listing:
            text = host.file(path).content_string
            assert PASSWORD not in text and PUBLISHED_DEFAULT not in text, path


def test_published_default_is_detected_reported_and_replaced(proxy_worker):
    """qubeproxy back on the published default; as the proxy account it gets the vaulted password."""
    set_shadow_password(proxy_worker, "qubeproxy", PUBLISHED_DEFAULT)
    rc, _, out, report = run_playbook(SITE, {"qube_proxy_account": "qubeproxy"},
                                      limit="%s,%s" % (SUPERVISOR, PROXY_WORKER), secrets=SECRETS)
    try:
        assert rc == 0, out[-3000:]
        row = report_row(report, PROXY_WORKER)
        assert row["validation"] == "passed"
        assert "published default password of qubeproxy replaced by the vaulted one" in row["validation_detail"]
        assert password_is(proxy_worker, "qubeproxy", PASSWORD)
        assert job_output(proxy_worker, PROXY_WORKER, "id -un") == "qubeproxy"
    finally:
        rc, _, out, _ = run_playbook(SITE, limit="%s,%s" % (SUPERVISOR, PROXY_WORKER), secrets=SECRETS)
        assert rc == 0, out[-3000:]
    assert job_output(proxy_worker, PROXY_WORKER, "id -un") == "renderproxy"


def test_unwritable_validation_path_fails_naming_the_path(proxy_worker):
    rc, _, out, report = run_playbook(SITE, {"qube_validation_paths": ["/srv/renders", "/srv/readonly"]},
                                      limit="%s,%s" % (SUPERVISOR, PROXY_WORKER), secrets=SECRETS)
    assert rc != 0
    flat = re.sub(r"\s+", " ", out)
    assert "validation as renderproxy failed: path:/srv/readonly: create /srv/readonly/.qube-probe-id01-" in flat
    assert "EACCES" in flat
    row = report_row(report, PROXY_WORKER)
    assert row["validation"] == "failed" and "/srv/readonly" in row["validation_detail"]


def test_unknown_user_mode_submitter_is_reported(user_worker):
    rc, _, out, _ = run_playbook(SITE, {"qube_user_mode_users": ["alice", "bob"]},
                                 limit="%s,%s" % (SUPERVISOR, USER_WORKER), secrets=SECRETS)
    assert rc != 0
    # Found by the host-side preflight, before the supervisor or any worker changed.
    flat = re.sub(r"\s+", " ", out)
    assert "%s: qube_user_mode_users names bob, which does not resolve on this host" % USER_WORKER in flat, out[-3000:]
    assert "PLAY [Supervisor" not in out


# --- converged workers (issue #17): one look, no role chain; any drift takes every role -----------

ALL = "%s,%s,%s" % (SUPERVISOR, PROXY_WORKER, USER_WORKER)


def recap_ok(out, host):
    """The PLAY RECAP's ok count of one host."""
    return int(re.search(r"^%s\s+: ok=(\d+)" % re.escape(host), out, re.M).group(1))


def converged_run():
    """Two runs: the first records every worker it left right, the second must find them converged."""
    for _ in range(2):
        rc, changed, out, report = run_playbook(SITE, limit=ALL, secrets=SECRETS)
        assert rc == 0, out[-3000:]
    return changed, out, report


def test_converged_rerun_leaves_the_proxy_worker_out():
    changed, out, report = converged_run()
    assert changed == 0
    row = report_row(report, PROXY_WORKER)
    assert row["validation_detail"].startswith("converged: nothing changed since"), row
    assert (row["status"], row["config_state"], row["validation"], row["job_identity"]) == (
        "ok", "in_sync", "skipped", "renderproxy"), row
    assert row["validated_at"], row
    # gather (cached), the look, the report row, the group: no role of the batches ran on it
    assert recap_ok(out, PROXY_WORKER) <= 5, out[-3000:]
    # user mode is not covered: its submitters can change in the directory
    user_row = report_row(report, USER_WORKER)
    assert not user_row["validation_detail"].startswith("converged"), user_row
    assert recap_ok(out, USER_WORKER) > 10


@pytest.mark.parametrize("drift, undo_check", [
    ("sed -i 's/^\\(qb_supervisor *= *\\).*/\\1drifted.example/' /etc/qb.conf",
     "grep -q '^qb_supervisor *= *drifted.example' /etc/qb.conf"),
    ("usermod -s /bin/bash renderproxy", "getent passwd renderproxy | grep -q ':/bin/bash$'"),
    ("gpasswd -d renderproxy renderers", "! id -nG renderproxy | grep -qw renderers"),
    ("systemctl stop worker", "! systemctl is-active -q worker"),
], ids=["qb.conf", "shell", "group", "unit-stopped"])
def test_converged_worker_drift_takes_every_role_and_is_repaired(proxy_worker, drift, undo_check):
    converged_run()
    proxy_worker.run_expect([0], drift)
    proxy_worker.run_expect([0], "sh -c %s" % shlex_quote(undo_check))
    rc, changed, out, report = run_playbook(SITE, limit=ALL, secrets=SECRETS)
    assert rc == 0, out[-3000:]
    row = report_row(report, PROXY_WORKER)
    assert not row["validation_detail"].startswith("converged"), row
    assert row["changed"] > 0 and row["config_state"] == "in_sync", row
    assert proxy_worker.run("sh -c %s" % shlex_quote(undo_check)).rc != 0, "%s was not repaired" % drift
    assert job_output(proxy_worker, PROXY_WORKER, "id -un") == "renderproxy"

"""Service mode: the worker starts at boot as root and runs jobs as the proxy account."""
import os
import subprocess

from molecule_lab import REPO
from worker_checks import DROPIN, assert_service_mode, job_user, run_converge, worker_only

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "converge.yml")


def test_worker_runs_as_root_with_no_desktop_trace(host):
    worker_only(host)
    assert_service_mode(host)


def test_mode_record_and_no_secrets(host):
    worker_only(host)
    record = host.file("/var/lib/renderfarm-qube/worker_mode.json")
    assert record.mode == 0o644
    assert '"mode": "service"' in record.content_string


def test_job_runs_as_the_proxy_account(host):
    worker_only(host)
    assert job_user(host, host.check_output("hostname")) == "qubeproxy"


def test_worker_is_back_after_a_reboot(host):
    """Cold stop and boot of the lab host (the nspawn equivalent of a reboot)."""
    worker_only(host)
    name = host.check_output("hostname")
    before = host.check_output("cat /proc/sys/kernel/random/boot_id")
    lab = os.path.join(REPO, "tests", "lab", "lab.sh")
    for action in ("stop", "start"):
        subprocess.run([lab, action, name], check=True, capture_output=True, timeout=300)
    assert host.check_output("systemctl is-system-running --wait") in ("running", "degraded")
    assert host.check_output("cat /proc/sys/kernel/random/boot_id") != before
    assert_service_mode(host)
    assert job_user(host, name) == "qubeproxy"


def test_repaired_definition_restarts_the_worker_through_the_drain_handler(host):
    """A changed drop-in is put back and the running worker restarted (drained) once, not twice."""
    worker_only(host)
    pid_before = host.check_output("systemctl show -p MainPID --value worker")
    host.run("echo '# local edit' >> %s" % DROPIN)
    rc, changed, out = run_converge(CONVERGE, {})
    assert rc == 0, out[-3000:]
    assert "Worker restart | Lock the worker and wait" in out and "Restart the worker service" in out
    assert "# local edit" not in host.file(DROPIN).content_string
    assert host.check_output("systemctl show -p MainPID --value worker") != pid_before
    assert_service_mode(host)
    rc, changed, out = run_converge(CONVERGE, {})
    assert rc == 0 and changed == 0, out[-3000:]
    assert "RUNNING HANDLER" not in out

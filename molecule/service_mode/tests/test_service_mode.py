"""Service mode: the worker starts at boot as root and runs jobs as the proxy account."""
import os
import subprocess

from worker_checks import REPO, assert_service_mode, job_user, worker_only


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

"""Issue #7: a worker is drained before it is restarted, and never killed mid-render.

Each test runs the real ``site.yml`` against the lab while real (stand-in) Qube! jobs run, and
checks the outcome the way an operator would: job status and output, worker PIDs, locks in
``qbhosts``, qb.conf on disk, and the farm report. The tests run in file order and share the farm.
"""
import os
import re
import shutil
import time

import pytest

from farm import Farm, report_rows, run_site

# Ports the runs move the workers to (worker_port is a bootstrap key: local qb.conf, restart).
PORT_DRW1 = 50111
PORT_DRW2 = 50122
PORT_ALL = 50133
PORT_FINAL = 50144  # differs from PORT_ALL, so a repeated verify changes drw3 again


@pytest.fixture(scope="module")
def farm():
    return Farm()


@pytest.fixture
def report_dir(tmp_path):
    return tmp_path / "reports"


def _fresh_port(farm, worker, port):
    """``port``, or the next one when an earlier verify already left ``worker`` on it."""
    return port + 1 if "worker_port = %d" % port in farm.qb_conf(worker) else port


def _assert_no_job_killed(farm):
    bad = {i: s for i, s in farm.all_job_statuses().items() if s in ("failed", "killed")}
    assert not bad, "jobs lost: %s" % bad


def test_converged_farm_is_idle_unlocked_and_active(farm):
    hosts = farm.hosts()
    for worker in farm.workers:
        assert hosts[worker]["state"] == "active", hosts
        assert hosts[worker]["locked"] == "0", hosts
        assert farm.workers[worker].service("worker").is_running


def test_restart_waits_for_the_running_job_then_releases(farm, report_dir):
    """A config change on a busy worker: finish-current lock, the job completes, then restart."""
    job = farm.submit("drw1")
    assert farm.wait_job(job, {"running"}, timeout=30) == "running"
    pid_before = farm.main_pid("drw1")
    started = time.monotonic()

    port = _fresh_port(farm, "drw1", PORT_DRW1)
    rc, changed, out = run_site({"qube_worker_port": port}, limit="drw1", report_dir=report_dir)
    elapsed = time.monotonic() - started

    assert rc == 0, out[-4000:]
    assert changed > 0
    assert "Lock the worker and wait until its jobs finished" in out
    # The wait is visible: Ansible's own retry line at every poll (qube_drain does one look per try).
    assert re.search(r"FAILED - RETRYING: \[drw1 -> drsup\]: Worker restart \| Lock the worker and wait until "
                     r"its jobs finished \(\d+ retries left\)", out), out[-4000:]
    # The job finished on the old worker process, with its output, before the restart.
    assert farm.job_status(job) == "complete"
    assert farm.job_output(job) == "done"
    assert elapsed > 20, "the run cannot have waited for the job in %.1f s" % elapsed
    pid_after = farm.main_pid("drw1")
    assert pid_after not in (0, pid_before)
    assert "worker_port = %d" % port in farm.qb_conf("drw1")
    assert farm.wait_active("drw1") == "active"
    assert not farm.locked("drw1")
    _assert_no_job_killed(farm)
    drain = report_rows(report_dir)["drw1"]["drain"]
    assert drain.startswith("drained in ") and "1 job(s) finished first" in drain, drain


def test_operator_lock_survives_a_restart(farm, report_dir):
    """A worker an operator had locked is restarted (it is idle) but stays locked."""
    farm.qb("qblock drw2")
    try:
        pid_before = farm.main_pid("drw2")
        port = _fresh_port(farm, "drw2", PORT_DRW2)
        rc, changed, out = run_site({"qube_worker_port": port}, limit="drw2", report_dir=report_dir)
        assert rc == 0, out[-4000:]
        assert farm.main_pid("drw2") not in (0, pid_before)
        assert "worker_port = %d" % port in farm.qb_conf("drw2")
        assert farm.wait_active("drw2") == "active"
        assert farm.locked("drw2"), "the operator's lock was released by the run"
        assert report_rows(report_dir)["drw2"]["drain"] == "drained in 0.0 s; operator's lock kept"
    finally:
        farm.qb("qbunlock drw2")


def test_undrained_worker_is_left_untouched_and_fails_alone(farm, report_dir):
    """Drain timeout on a busy drw3: drw3 fails and keeps its config, process and job."""
    # Long enough to outlast the run up to drw3's handler even on a busy CI machine.
    job = farm.submit("drw3", "sleep 120; echo done")
    assert farm.wait_job(job, {"running"}, timeout=30) == "running"
    conf_before = farm.qb_conf_sha("drw3")
    pids = {worker: farm.main_pid(worker) for worker in farm.workers}

    # drw3 must get a change to apply, whatever an earlier verify left on it.
    port = _fresh_port(farm, "drw3", PORT_ALL)
    # One batch for all three workers: drw3's failing handler runs beside the others' restarts.
    rc, _, out = run_site({"qube_worker_port": port, "qube_drain_timeout": 5, "qube_serial": 3,
                           "qube_max_fail_percentage": 100}, report_dir=report_dir)

    assert rc != 0, out[-4000:]
    assert "Worker drw3 still runs 1 job(s) after 5 s" in out
    # drw3: same qb.conf, same worker process, job still running, our lock released.
    assert farm.qb_conf_sha("drw3") == conf_before
    assert farm.main_pid("drw3") == pids["drw3"] and farm.pid_alive("drw3", pids["drw3"])
    assert farm.job_status(job) == "running"
    assert not farm.locked("drw3")
    # The other workers went on: new config, restarted, released.
    for worker in ("drw1", "drw2"):
        assert "worker_port = %d" % port in farm.qb_conf(worker)
        assert farm.main_pid(worker) not in (0, pids[worker])
        assert farm.wait_active(worker) == "active"
        assert not farm.locked(worker)
    rows = report_rows(report_dir)
    _keep_report(report_dir)
    assert rows["drw3"]["status"] == "failed"
    assert rows["drw3"]["drain"].startswith("not drained: 1 job(s) still running after 5 s"), rows["drw3"]
    assert rows["drw1"]["status"] in ("ok", "changed") and rows["drw2"]["status"] in ("ok", "changed"), rows
    # The render was never touched: it completes on the old process with its output.
    assert farm.wait_job(job, {"complete", "failed", "killed"}, timeout=150) == "complete"
    assert farm.job_output(job) == "done"
    _assert_no_job_killed(farm)


def test_rerun_converges_then_is_idempotent_and_locks_nothing(farm, report_dir):
    """drw3 is idle now: it converges; a further run changes nothing and never locks a worker."""
    rc, changed, out = run_site({"qube_worker_port": PORT_FINAL}, report_dir=report_dir)
    assert rc == 0, out[-4000:]
    assert "worker_port = %d" % PORT_FINAL in farm.qb_conf("drw3")
    assert farm.wait_active("drw3") == "active"
    watcher = farm.watch_locks()
    try:
        rc, changed, out = run_site({"qube_worker_port": PORT_FINAL}, report_dir=report_dir)
    finally:
        samples = farm.stop_watch(watcher)
    assert rc == 0, out[-4000:]
    assert changed == 0, out[-4000:]
    assert "RUNNING HANDLER" not in out and "Lock the worker" not in out
    assert len(samples) > 10, "the lock watcher took too few samples: %s" % samples
    assert set(samples) == {"0"}, "a worker was locked during the idempotent run"
    _assert_no_job_killed(farm)


def _keep_report(report_dir):
    """Copy the failed run's report next to molecule's state, for a look in a browser."""
    keep = os.path.join(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp"), "rolling_drain-report")
    shutil.copytree(report_dir, keep, dirs_exist_ok=True)

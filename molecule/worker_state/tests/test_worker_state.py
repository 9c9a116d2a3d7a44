"""Issue #13: a worker in panic after a change fails its host with the worker's own reason.

The real ``site.yml`` runs against the lab with ``proxy_location`` pointing at a missing program
on two workers (wsw1 through its local qb.conf and a restart, wsw2 through qbwrk.conf and a push);
the stand-in's boot diagnostics send them to ``panic`` and write ``panic: <reason>`` to their
workerlog, as the vendor's do (CPR worker_boot_diagnostics_retries.md). The run must fail exactly
those two hosts, each with the line from its own log, within the bounded wait, and leave wsw3
alone; wsw2's bad central setting is then put back (issue #14: a worker that fails in its batch gets
its previous qbwrk.conf section back), so it runs again, while wsw1's local qb.conf is its own and
stays until the next run. A run without the bad setting brings them back; a further run changes nothing. Last, a worker
the supervisor lists under none of its names is neither drained nor restarted: its host fails.
The tests run in file order and share the farm.
"""
import os
import re
import time
import xml.etree.ElementTree as ET

import pytest

from molecule_lab import QB_BIN, lab_host, site_run

WORKERS = ("wsw1", "wsw2", "wsw3")
BROKEN = {"lab_missing_proxy": True, "qube_serial": 3, "qube_max_fail_percentage": 100}


@pytest.fixture(scope="module")
def sup():
    return lab_host("wssup")


def states(sup):
    """Worker name -> state as the supervisor lists them; {} while the supervisor is (re)starting."""
    result = sup.run(f"{QB_BIN}/qbhosts --xml")
    if result.rc != 0:
        return {}
    root = ET.fromstring(result.stdout)
    return {h.findtext("name"): h.findtext("state") for h in root.iter("host")}


def run_site(extra_vars, report_dir, timeout=600, limit=None):
    started = time.monotonic()
    run = site_run(extra_vars, limit=limit, report_dir=report_dir, timeout=timeout)
    recap = {m.group(1): {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
             for m in re.finditer(r"^(\S+)\s+:\s+(ok=.*)$", run.stdout, re.M)}
    return run.returncode, recap, run.stdout + run.stderr, time.monotonic() - started


def test_converged_workers_are_active(sup):
    assert {w: states(sup).get(w) for w in WORKERS} == dict.fromkeys(WORKERS, "active")


def test_panicked_workers_fail_with_the_reason_from_their_log(sup, tmp_path):
    rc, recap, out, elapsed = run_site(BROKEN, tmp_path)
    assert rc != 0, out[-4000:]
    # wsw2 went to panic through its central setting, which was rolled back: it runs again.
    assert {w: states(sup).get(w) for w in WORKERS} == {"wsw1": "panic", "wsw2": "active", "wsw3": "active"}, out[-3000:]
    flat = " ".join(out.split())
    assert 'wsw2 failed at "Worker state | Fail a worker that is not running after the change"; its central ' \
        "settings were put back and read back" in flat, out[-3000:]
    assert 'wsw1 failed at "Worker state | Fail a worker that is not running after the change"; its central ' \
        "settings did not change in this batch" in flat, out[-3000:]
    for worker in ("wsw1", "wsw2"):
        assert recap[worker]["failed"] == 1, recap
        line = next((ln for ln in out.splitlines() if f"{worker}: the supervisor shows worker {worker} in state panic" in ln),
                    None)
        assert line, out[-4000:]
        # the reason is the worker's own, read from its workerlog
        assert "Its log /var/log/workerlog says: panic: " in line and "/opt/missing/sbin/proxy" in line, line
    assert recap["wsw3"]["failed"] == 0 and recap["wssup"]["failed"] == 0, recap
    # the waits were visible: wsw1's after its restart (handler), wsw2's in the Verify read-back after a push
    assert re.search(r"FAILED - RETRYING: \[wsw1 -> wssup\]: Worker restart \| Wait until the restarted worker is active", out)
    assert re.search(r"FAILED - RETRYING: \[\w+ -> wssup\]: Verify \| Read back the effective configuration", out)
    # bounded: two waits of qube_readback_timeout (12 s) at most, plus the run itself
    assert elapsed < 240, elapsed


def test_a_run_without_the_bad_setting_brings_them_back(sup, tmp_path):
    rc, recap, out, _ = run_site({"qube_serial": 3}, tmp_path)
    assert rc == 0, out[-4000:]
    assert {w: states(sup).get(w) for w in WORKERS} == dict.fromkeys(WORKERS, "active")
    rc, recap, out, _ = run_site({"qube_serial": 3}, tmp_path)
    assert rc == 0 and sum(r["changed"] for r in recap.values()) == 0, out[-4000:]


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(1)
    return predicate()


def test_worker_the_supervisor_does_not_list_is_not_restarted(sup, tmp_path):
    """wsw3 registers as "ghost3", which none of its names match: no drain, no restart, host fails."""
    w3 = lab_host("wsw3")
    dropin = "/etc/systemd/system/worker.service.d/zz-lab-ghost.conf"
    w3.check_output(f"mkdir -p {os.path.dirname(dropin)} && "
                    f"printf '[Service]\\nEnvironment=QB_STANDIN_HOSTNAME=ghost3\\n' > {dropin} && "
                    "systemctl daemon-reload && systemctl restart worker")
    try:
        assert _wait(lambda: states(sup).get("ghost3") == "active"), states(sup)
        # The supervisor forgets the old record (as after qbadmin w --remove): wsw3 is listed by no name.
        sup.check_output("systemctl stop supervisor && python3 -c \"import json; p='/var/spool/qube-standin/workers.json'; "
                         "d=json.load(open(p)); d.pop('wsw3', None); json.dump(d, open(p, 'w'))\" && systemctl start supervisor")
        assert _wait(lambda: states(sup).get("ghost3") == "active" and "wsw3" not in states(sup)), states(sup)
        pid = w3.check_output("systemctl show -p MainPID --value worker")
        conf = w3.check_output("sha256sum /etc/qb.conf")
        argv_extra = {"qube_worker_port": 50177, "qube_serial": 3}
        rc, recap, out, _ = run_site(argv_extra, tmp_path, limit="wsw3")
        assert rc != 0 and recap["wsw3"]["failed"] == 1, out[-4000:]
        assert "The supervisor lists none of the names of worker wsw3 (tried: wsw3" in out, out[-4000:]
        assert "Set qube_worker_name to the name qbhosts shows for it" in out
        # left as it was: same process, same qb.conf (put back from the backup)
        assert w3.check_output("systemctl show -p MainPID --value worker") == pid
        assert w3.check_output("sha256sum /etc/qb.conf") == conf
    finally:
        w3.run(f"rm -f {dropin} && systemctl daemon-reload && systemctl restart worker")

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection (issue #8): every fault ends with each host in its old or its new state.

Real lab hosts, real site.yml runs, the Qube! stand-in. The suite builds its own farm (see
``faults/farm.py``): fs1 (supervisor, .220), fw1..fw5 (.221-.225) and fad1 (.226, joined to
the shared lab DC dc1), converges it at generation 1, then moves it to generation 2 and 3 under
faults. A generation changes ``worker_description`` (central, qbwrk.conf) and
``worker_boot_delay`` (local, every qb.conf), so "old" and "new" are exact byte strings.

    tests/lab/lab.sh exec .venv/bin/pytest -q -s -p no:cacheprovider tests/integration/test_faults.py

QUBE_FAULTS_KEEP=1 keeps the hosts (and dc1 when the suite provisioned it) for inspection.

Before round A every worker's qb.conf gets unmanaged lines (fw2 a whole hand-edited file: CRLF
line, tabs, odd spacing, inline comments, quoted lists, a ``{ }`` path map, an unknown key,
non-ASCII comment, no final newline).

Round A (gen 1 -> 2, one run of the whole farm, one fault per worker):
  F1 fw1  network cut the moment its new qb.conf is written, before its restart (``ip link set
          vb-fw1 down`` on the lab side of its veth). Asserted: fw1 unreachable in the recap and
          the report (``failed_at`` names the task); qb.conf old or new; when new, the restart
          marker is there and the worker still runs the old value; the recovery run restarts it.
  F3 fw3  validation failing: its validation path is /srv/locked (0700 root) for this run only.
          Asserted: the report shows validation failed for fw3 alone; its new config is applied.
  F5a fw4 SIGKILL of the qube_conf module on fw4 the moment its temp file appears in /etc
          (``faults/killer.py``, inotify). Asserted: qb.conf is the old bytes, the temp file is
          left, the next run removes it (warning) and converges; or, when the module renamed before
          the kill landed (a race it rarely wins), the whole new bytes and no temp file.
  F6 fw5  disk full: a full tmpfs copy of /etc mounted over /etc. Asserted: the run fails on fw5
          with "/etc/qb.conf: could not write the new content to a temporary file in /etc:
          [Errno 28] No space left on device; /etc/qb.conf is unchanged", the file is the old
          bytes, no temp file is left.
  F7 fw2  the hand-edited qb.conf. Asserted: every unmanaged line of every worker kept byte for
          byte; fw2's new file is exactly the old one with the managed line changed; the backup
          equals the original, and restoring it gives the original back.
  Then the faults are taken out, a normal run converges (rc 0, every worker in sync and active)
  and the next run reports changed=0 on every host.

Round B (fw2 gen 3, central only; --limit localhost:fs1:fw2):
  F2 fs1  supervisor down during the push: ``systemctl stop supervisor`` on fs1, so the push of
          fw2's batch (``qbadmin worker --reconfigure``) fails, which only warns; the read-back
          (qube_readback_timeout 20 s) fails fw2, its section is put back (qbwrk.conf the old
          bytes), that push fails too, so the push marker stays and the report says "unknown";
          fw2's qb.conf is unchanged and it still runs gen 2; with the supervisor back (and fw2 registered again) the next run pushes the
          owed push first, then fw2's batch, fw2 is in sync, then changed=0.

Round C (fw4 gen 3, central only; qbconfigfile on fs1 made to wait while it validates):
  F5b fs1 SIGKILL of the qube_qbwrk module writing fw4's batch into qbwrk.conf (--limit
          localhost:fs1:fw4), during its validation. Asserted: fw4 fails at the write, nothing to
          roll back ("previous"); qbwrk.conf is the old bytes; the temp file left holds the complete
          new text; the next run's writer in /etc removes it.
  F5c     SIGKILL of ansible-playbook (its whole process group) at the same moment. Asserted:
          qbwrk.conf old or new, never anything else; when new, the orphaned module pushed it (fw4
          has the new value) or the push marker is there; the report of the killed run says it is incomplete.
  Then the next run (--limit localhost:fs1:fw4) removes the leftover temp file, pushes, and fw4
  is in sync; the last run of the suite covers the whole farm and reports changed=0 everywhere.

Round D (fad1 gen 4, central only; whole farm):
  F4 fad1 DC unreachable from this worker only: ``ip route add blackhole 10.88.0.5/32`` inside
          fad1, winbind cache flushed (dc1 itself keeps running for everyone else). From fad1 this
          looks exactly like a wrong account name, so the host-side preflight (issue #14) stops the
          run before anything changes: it names fad1, the account and the variables; no later play
          starts; qbwrk.conf and every qb.conf are the bytes they were. After the DC is back the
          next run converges fad1 and the one after reports changed=0.

Round E (every worker gen 5, central only; the default rolling batches, max_fail_percentage 0):
  F8 fad1 the canary (batch 1: inventory order) fails its validation job (/srv/locked). Asserted: the run stops after
          batch 1; fw1 fails at the validation, its section is put back, pushed and read back
          ("rolled_back" in the report); every later-batch worker is "not run", "previous", and the
          supervisor (qbadmin worker --configuration) and the worker itself still give each worker
          its previous description; qbwrk.conf is the bytes it was before the run. The same run
          with qube_rollback_failed_batch=false leaves fw1 on gen 5 ("kept"), the rest as before.
          With the path fixed the next run rolls gen 5 out to every worker, and the one after
          reports changed=0.

Round F (every worker gen 6; three slices of two workers, --limit localhost:fs1:<two workers>, at the
  same time, as AWX job slices would run): every run rc 0, every worker's section in qbwrk.conf and
  read back (qbadmin and the worker itself); renderfarm.qube.combine_reports makes one report of
  the three (6 workers ok, validated, central "new"); then changed=0 over the whole farm.

Round G (restricted host policy): ``supervisor_host_policy = restricted`` in fs1's qb.conf and fw5
  with every key placed local (nothing central): fw5 still gets a section of its own (empty), so the
  supervisor admits it; every worker in sync and active; the next run changed=0; then back to open.

Round H (take-over): qbwrk.conf replaced by a file as the earlier release wrote it whole (values
  hoisted into [default] and [linux]); the next run takes it over: every worker keeps its effective
  description (read back before and after), no duplicated section, nothing left in [default], the
  ownership record written, changed once, then changed=0.

Only this suite's hosts are touched; they are destroyed at the end (unless QUBE_FAULTS_KEEP=1).
"""

import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.integration.faults import farm as F  # noqa: E402
from tests.integration.faults import inject as inj  # noqa: E402

KEEP = os.environ.get("QUBE_FAULTS_KEEP") == "1"
FS1, FW1, FW2, FW3, FW4, FW5, FAD1 = [F.SUPERVISOR] + F.WORKERS + [F.AD_WORKER]
ALL_WORKERS = F.WORKERS + [F.AD_WORKER]
MANAGED_LOCAL = ("qb_supervisor", "qb_domain", "worker_boot_delay")
STATE_DIR = "/var/lib/renderfarm-qube"
RESTART_MARKER, PUSH_MARKER = "qb.conf.restart-pending", "qbwrk.conf.push-pending"
QB_CONF_TASK = "Worker config | Local qb.conf"
PUSH_HANDLER = "Qube supervisor push worker config"
QBWRK_TASK_RE = r"TASK \[renderfarm\.qube\.supervisor_config : Supervisor config \| Write qbwrk\.conf"
QB_CONF_TASK_RE = r"TASK \[renderfarm\.qube\.worker_config : Worker config \| Local qb\.conf"
LEFTOVER_WARNING = "temporary file(s) left by an interrupted earlier run removed"
DISK_FULL_MSG = ("/etc/qb.conf: could not write the new content to a temporary file in /etc: [Errno 28] "
                 "No space left on device; /etc/qb.conf is unchanged")
COMMON_SEED = "# Site notes of the render team (not managed by Ansible)\nstudio_custom_key = keep me exactly\n"
RICH_SEED = (
    "# /etc/qb.conf of a render node, hand-edited over the years (kept by Ansible)\r\n"
    "#\n"
    "#qb_supervisor = old-supervisor.example.com\n"
    "qb_supervisor = fs1\n"
    "qb_domain = qube\n"
    "\n"
    "\t# an indented comment with a tab   \n"
    "client_priority   =   9999    # odd spacing and an inline comment\n"
    "worker_properties = \"host.gpu=1,host.tier=gold\"\n"
    "worker_groups = \"seeded,odd group\"\n"
    "worker_boot_delay = 1\n"
    "worker_path_map = {\n"
    "\"/mnt/projects\" = \"/net/projects\"\n"
    "\"/mnt/cache\" = \"/net/cache\"\n"
    "}\n"
    "studio_custom_key = keep me  \n"
    "# \u00dcn\u00efc\u00f6d\u00e9 comment: caf\u00e9\n"
    "#worker_cpus = 4\n"
    "last_line_without_newline = yes"
)
TIMES = []


@contextlib.contextmanager
def timed(label):
    started = time.time()
    try:
        yield
    finally:
        TIMES.append((label, time.time() - started))


def sha(data):
    return hashlib.sha256(data).hexdigest()[:12] if data is not None else None


def unmanaged(data):
    """The lines (with their line ends) of a qb.conf whose key the collection does not manage."""
    keep = []
    for line in data.decode("utf-8").splitlines(True):
        match = re.match(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", line)
        if not (match and match.group(1) in MANAGED_LOCAL):
            keep.append(line)
    return "".join(keep).encode("utf-8")


def with_boot_delay(seed, gen):
    assert seed.count("worker_boot_delay = 1\n") == 1, seed
    return seed.replace("worker_boot_delay = 1\n", "worker_boot_delay = %d\n" % gen).encode("utf-8")


def leftovers(host, folder="/etc"):
    return F.listing(host, folder, ".qube_conf.*")


def marker(host, name):
    return F.sh(host, "test -e %s/%s && echo yes || echo no" % (STATE_DIR, name)).strip() == "yes"


def assert_settled(run, hosts=None):
    """rc 0, changed=0 in the recap and the report for every host, report complete."""
    assert run.returncode == 0, run.tail()
    hosts = hosts or [h.name for h in F.HOSTS]
    assert not run.changed(), "%s: changed %s\n%s" % (run.label, run.changed(), run.tail(3000))
    assert run.report["complete"] is True
    for name in hosts:
        row = run.row(name)
        assert (row["status"], row["changed"]) == ("ok", 0), row
        if name != FS1.name:
            assert (row["config_state"], row["validation"]) == ("in_sync", "passed"), row


def assert_converged(run, workers):
    """rc 0; every listed worker ok, in sync, validated, active and running ``workers[name]``."""
    assert run.returncode == 0, run.tail()
    assert run.report["complete"] is True and not run.failed()
    states = inj.worker_states()
    for name, (boot_delay, description) in workers.items():
        row = run.row(name)
        assert (row["status"], row["config_state"], row["validation"], row["failed_at"]) == (
            "ok", "in_sync", "passed", ""), row
        running = inj.effective(F.BY_NAME[name])
        assert (running.get("worker_boot_delay"), running.get("worker_description")) == (
            str(boot_delay), description), (name, running)
        assert states.get(name) == "active", states
        assert not marker(F.BY_NAME[name], RESTART_MARKER), name


# --- the farm ----------------------------------------------------------------------------------

class Farm:
    def __init__(self, folder, inventory, runner):
        self.folder, self.inventory, self.runner = folder, inventory, runner


@pytest.fixture(scope="module")
def lab_farm():
    folder = tempfile.mkdtemp(prefix="qube-faults-")
    os.chmod(folder, 0o700)
    provisioned_dc = False
    started = time.time()
    try:
        with timed("setup: 7 hosts created, booted, stand-in on fs1, fad1 joined to dc1"):
            F.create_farm()
            if not F.dc_running():
                subprocess.run([os.path.join(F.REPO, "tests", "lab", "dc.sh"), "provision"], check=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
                provisioned_dc = True
            F.ad_join()
        inventory = F.Inventory(os.path.join(folder, "inventory"))
        runner = F.Runner(folder, inventory)
        inventory.write(1)
        with timed("converge gen 1, whole farm"):
            run = runner.play("converge-gen1")
        assert run.returncode == 0, run.tail()
        for secret in inventory.secrets:
            assert secret not in run.output
        yield Farm(folder, inventory, runner)
    finally:
        print("\n\nfault suite timings (s):")
        for label, seconds in TIMES:
            print("  %6.1f  %s" % (seconds, label))
        print("  %6.1f  whole suite" % (time.time() - started))
        if KEEP:
            print("QUBE_FAULTS_KEEP=1: hosts kept; runs and reports in %s" % folder)
        else:
            F.destroy_farm()
            if provisioned_dc:
                subprocess.run([os.path.join(F.REPO, "tests", "lab", "dc.sh"), "stop"], check=False,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            shutil.rmtree(folder, ignore_errors=True)


# --- round A: one fault per worker in one run of the whole farm --------------------------------

@pytest.fixture(scope="module")
def round_a(lab_farm):
    farm, rec = lab_farm, {"old": {}, "new": {}}
    for host in ALL_WORKERS:
        current = F.read_bytes(host, F.QB_CONF).decode("utf-8")
        seed = RICH_SEED if host is FW2 else current + COMMON_SEED
        F.write_bytes(host, F.QB_CONF, seed.encode("utf-8"))
        rec["old"][host.name], rec["new"][host.name] = seed.encode("utf-8"), with_boot_delay(seed, 2)
    rec["qbwrk_old"] = F.read_bytes(FS1, F.QBWRK_CONF)

    cut = {}

    def cut_fw1(_runner):
        inj.set_link(FW1, up=False)
        cut["at"] = time.time()

    with timed("A: inject (full /etc on fw5, killer on fw4)"):
        rec["etc_free_kib"] = inj.fill_etc(FW5)
        killer = inj.Killer(FW4)
    farm.inventory.write(2, {FW3.name: {"qube_validation_paths": ["/srv/locked"]}})
    try:
        with timed("A: fault run gen 1 -> 2, whole farm (F1 F3 F5a F6 F7)"):
            run = farm.runner.play("A-faults", triggers=[(QB_CONF_TASK_RE, lambda r: None),
                                                         (r"^(changed|ok): \[fw1\]", cut_fw1)])
        rec["fault"], rec["cut"], rec["killer"] = run, bool(cut), killer.result()
        rec["qb"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS if h is not FW1}
        rec["leftovers"] = {h.name: leftovers(h) for h in (FW4, FW5)}
    finally:
        with timed("A: take the faults out (link up, /etc unmounted)"):
            inj.set_link(FW1, up=True)
            inj.wait_ssh(FW1)
            inj.unfill_etc(FW5)
    rec["qb"][FW1.name] = F.read_bytes(FW1, F.QB_CONF)
    rec["markers"] = {h.name: marker(h, RESTART_MARKER) for h in ALL_WORKERS}
    rec["running"] = {h.name: inj.effective(h) for h in ALL_WORKERS}
    rec["states"] = inj.worker_states()
    rec["dc_running"] = F.dc_running()
    rec["qbwrk_fault"] = F.read_bytes(FS1, F.QBWRK_CONF)

    # F7: the backup fw2's run took equals the original; restoring it gives the original back.
    backups = F.listing(FW2, "/etc", "qb.conf.*~")
    rec["fw2_backups"] = backups
    if backups:
        newest = F.sh(FW2, "ls -t /etc/qb.conf.*~ | head -n1").strip()
        rec["fw2_backup"] = F.read_bytes(FW2, newest)
        F.sh(FW2, "cp -p %s /etc/qb.conf" % newest)
        rec["fw2_restored"] = F.read_bytes(FW2, F.QB_CONF)

    farm.inventory.write(2)
    with timed("A: recovery run, whole farm"):
        rec["recovery"] = farm.runner.play("A-recovery")
    rec["after_qb"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    rec["after_leftovers"] = {h.name: leftovers(h) for h in (FW4, FW5)}
    with timed("A: settled run, whole farm"):
        rec["settled"] = farm.runner.play("A-settled")
    return rec


def assert_old_or_new(rec):
    for name, data in rec["qb"].items():
        assert data in (rec["old"][name], rec["new"][name]), (name, data)


def test_f1_worker_unreachable_mid_run(round_a):
    run = round_a["fault"]
    assert round_a["cut"], "fw1's network was never cut\n" + run.tail()
    assert run.recap[FW1.name]["unreachable"] >= 1, run.recap
    row = run.row(FW1.name)
    assert row["status"] == "unreachable" and row["failed_at"], row
    assert_old_or_new(round_a)
    fw1_new = round_a["qb"][FW1.name] == round_a["new"][FW1.name]
    print("\nF1: fw1's qb.conf after the cut: %s" % ("new" if fw1_new else "old"))
    if round_a["qb"][FW1.name] == round_a["new"][FW1.name]:
        # Written, never applied: the restart is owed (marker) and the worker runs the old value.
        assert round_a["markers"][FW1.name]
        assert round_a["running"][FW1.name]["worker_boot_delay"] == "1"
    assert_converged(round_a["recovery"], {FW1.name: (2, "faults gen 2")})
    assert_settled(round_a["settled"])


def test_f3_validation_fails_on_one_host(round_a):
    run = round_a["fault"]
    rows = {name: run.row(name) for name in (w.name for w in ALL_WORKERS)}
    print("\nF3: fw3 status %s, validation detail: %s" % (rows[FW3.name]["status"], rows[FW3.name]["validation_detail"]))
    assert rows[FW3.name]["validation"] == "failed", rows[FW3.name]
    assert "/srv/locked" in rows[FW3.name]["validation_detail"] or "/srv/locked" in run.output, rows[FW3.name]
    assert [n for n, r in rows.items() if r["validation"] == "failed"] == [FW3.name]
    # The configuration was applied before the validation job ran: fw3 is in its new state.
    assert round_a["qb"][FW3.name] == round_a["new"][FW3.name]
    assert round_a["running"][FW3.name]["worker_boot_delay"] == "2"
    assert_converged(round_a["recovery"], {FW3.name: (2, "faults gen 2")})
    assert_settled(round_a["settled"])


def test_f5a_module_killed_while_writing_qb_conf(round_a):
    run, killed = round_a["fault"], round_a["killer"]
    assert killed.get("killed"), "the killer on fw4 never fired: %s" % killed
    print("\nF5a: qube_conf on fw4 SIGKILLed %.1f ms after %s appeared" % (killed["after_s"] * 1000, killed["temp"]))
    row = run.row(FW4.name)
    assert row["status"] == "failed" and QB_CONF_TASK in row["failed_at"], row
    if round_a["qb"][FW4.name] == round_a["old"][FW4.name]:
        # Killed before the rename (nearly always): the old bytes, the temp file left, the next
        # run removes it with a warning.
        assert round_a["leftovers"][FW4.name] == [os.path.basename(killed["temp"])]
        assert LEFTOVER_WARNING in round_a["recovery"].output
    else:
        # The module won the race (inotify and the /proc scan took longer than its fsync, backup,
        # marker and rename): the new bytes, whole, and no temp file. Old or new, never a mix.
        print("F5a: the kill landed after the rename; qb.conf is the whole new file")
        assert round_a["qb"][FW4.name] == round_a["new"][FW4.name]
        assert round_a["leftovers"][FW4.name] == []
    assert round_a["after_leftovers"][FW4.name] == []
    assert_converged(round_a["recovery"], {FW4.name: (2, "faults gen 2")})
    assert_settled(round_a["settled"])


def test_f6_disk_full(round_a):
    run = round_a["fault"]
    assert round_a["etc_free_kib"] == 0
    row = run.row(FW5.name)
    assert row["status"] == "failed" and QB_CONF_TASK in row["failed_at"], row
    flat = " ".join(run.output.split())
    assert "fatal: [fw5]" in run.output and DISK_FULL_MSG in flat, run.tail()
    assert round_a["qb"][FW5.name] == round_a["old"][FW5.name]
    assert round_a["leftovers"][FW5.name] == []
    assert_converged(round_a["recovery"], {FW5.name: (2, "faults gen 2")})
    assert_settled(round_a["settled"])


def test_f7_unmanaged_keys_kept_backup_restorable(round_a):
    run = round_a["fault"]
    assert run.row(FW2.name)["status"] == "ok", run.row(FW2.name)
    assert round_a["qb"][FW2.name] == round_a["new"][FW2.name]
    assert round_a["fw2_backup"] == round_a["old"][FW2.name], round_a["fw2_backups"]
    assert round_a["fw2_restored"] == round_a["old"][FW2.name]
    for host in ALL_WORKERS:
        assert round_a["after_qb"][host.name] == round_a["new"][host.name], host.name
        assert unmanaged(round_a["after_qb"][host.name]) == unmanaged(round_a["old"][host.name]), host.name
    assert_converged(round_a["recovery"], {FW2.name: (2, "faults gen 2")})
    assert_settled(round_a["settled"])


def test_round_a_report_says_what_happened(round_a):
    run = round_a["fault"]
    assert run.returncode != 0 and run.report["complete"] is True
    assert run.failed() == {FW1.name, FW4.name, FW5.name} | (run.failed() & {FW3.name}), run.recap
    assert run.row(FS1.name)["status"] == "ok" and run.row(FW2.name)["status"] == "ok"
    assert run.row(FAD1.name)["status"] == "ok", run.row(FAD1.name)
    for name in (FW1.name, FW4.name, FW5.name):
        assert "%s %s at: " % (name, run.row(name)["status"]) in run.output
    recovery = round_a["recovery"]
    assert_converged(recovery, {h.name: (2, "faults gen 2") for h in ALL_WORKERS})
    assert_settled(round_a["settled"])


# --- round B: the supervisor down during the push ----------------------------------------------

@pytest.fixture(scope="module")
def round_b(lab_farm, round_a):
    farm, rec, limit = lab_farm, {}, "localhost:fs1:fw2"
    farm.inventory.write(2, {FW2.name: {"qube_worker_description": "faults gen 3"}})
    rec["qbwrk_old"], rec["fw2_qb"] = F.read_bytes(FS1, F.QBWRK_CONF), F.read_bytes(FW2, F.QB_CONF)
    inj.supervisor("stop")
    try:
        with timed("B: fault run, supervisor stopped (F2), --limit %s" % limit):
            rec["fault"] = farm.runner.play("B-supervisor-down", limit=limit,
                                            extra={"qube_readback_timeout": 20, "qube_readback_poll": 5})
        rec["qbwrk_fault"] = F.read_bytes(FS1, F.QBWRK_CONF)
        rec["push_marker"] = marker(FS1, PUSH_MARKER)
    finally:
        inj.supervisor("start")
    rec["fw2_qb_fault"], rec["fw2_running"] = F.read_bytes(FW2, F.QB_CONF), inj.effective(FW2)
    # The operator's next step: the supervisor is back and its workers have registered again
    # (a restarted stand-in supervisor lists every worker "down" until its next heartbeat, and a
    # push skips "down" workers).
    with timed("B: supervisor back, fw2 registered again"):
        inj.wait_registered([FW2.name])
    with timed("B: recovery run, --limit %s" % limit):
        rec["recovery"] = farm.runner.play("B-recovery", limit=limit)
    rec["qbwrk_new"], rec["push_marker_after"] = F.read_bytes(FS1, F.QBWRK_CONF), marker(FS1, PUSH_MARKER)
    with timed("B: settled run, --limit %s" % limit):
        rec["settled"] = farm.runner.play("B-settled", limit=limit)
    return rec


def test_f2_supervisor_down_during_push(round_b):
    run = round_b["fault"]
    assert run.returncode != 0
    # fw2's batch wrote its section, the push failed: fw2 fails there, its section is put back
    # (the push of that fails too, so the owed-push marker stays for the next run).
    # A failed push only warns (it may fail for a worker that is down elsewhere in the farm): the
    # read-back judges fw2, cannot reach the supervisor either, and fails it after its deadline.
    row = run.row(FW2.name)
    assert row["status"] == "failed" and row["failed_at"], row
    assert row["central"] == "unknown", row
    flat = " ".join(run.output.split())
    assert "written, but the push failed (the next run pushes)" in flat and "cannot reach the supervisor" in flat, run.tail()
    assert "putting its central settings back could not be confirmed" in flat, run.tail()
    assert run.row(FS1.name)["status"] == "ok", run.row(FS1.name)
    assert round_b["qbwrk_fault"] == round_b["qbwrk_old"] != round_b["qbwrk_new"]
    assert round_b["push_marker"]
    # fw2's local files are untouched (its batch stopped before them) and it still runs gen 2.
    assert round_b["fw2_qb_fault"] == round_b["fw2_qb"]
    assert round_b["fw2_running"]["worker_description"] == "faults gen 2"
    # The recovery run pushes the owed push in the supervisor play, then fw2's batch its own.
    recovery = round_b["recovery"]
    assert "RUNNING HANDLER [renderfarm.qube.supervisor_config : %s]" % PUSH_HANDLER in recovery.output
    assert not round_b["push_marker_after"]
    assert recovery.row(FW2.name)["central"] == "new"
    assert_converged(recovery, {FW2.name: (2, "faults gen 3")})
    assert_settled(round_b["settled"], hosts=[FS1.name, FW2.name])


# --- round C: SIGKILL while qbwrk.conf is being written ----------------------------------------

@pytest.fixture(scope="module")
def round_c(lab_farm, round_b):
    farm, rec = lab_farm, {}
    farm.inventory.write(2, {FW2.name: {"qube_worker_description": "faults gen 3"},
                             FW4.name: {"qube_worker_description": "faults gen 3"}})
    rec["qbwrk_old"] = F.read_bytes(FS1, F.QBWRK_CONF)

    def kill_module(_runner):
        pid, temp = inj.wait_validating()
        rec["temp"] = temp
        F.sh(FS1, "kill -9 %d" % pid)
        inj.release_validation()

    def kill_controller(runner):
        rec["c2_pid"], rec["c2_temp"] = inj.wait_validating()
        runner.kill()
        inj.release_validation()

    try:
        inj.hold_validation()
        with timed("C: F5b run, qube_qbwrk SIGKILLed while validating qbwrk.conf, --limit localhost:fs1:fw4"):
            rec["c1"] = farm.runner.play("C1-module-killed", limit="localhost:fs1:fw4",
                                         triggers=[(QBWRK_TASK_RE, kill_module)])
        rec["qbwrk_c1"], rec["leftovers_c1"] = F.read_bytes(FS1, F.QBWRK_CONF), leftovers(FS1)
        rec["temp_c1"] = F.read_bytes(FS1, rec.get("temp", "/nonexistent"))
        inj.hold_validation()
        with timed("C: F5c run, ansible-playbook SIGKILLed while qbwrk.conf is validated"):
            rec["c2"] = farm.runner.play("C2-controller-killed", limit="localhost:fs1:fw4",
                                         triggers=[(QBWRK_TASK_RE, kill_controller)])
        # The orphaned module finishes (or dies) on fs1 on its own; wait for its temp file to go.
        deadline = time.time() + 30
        while time.time() < deadline and os.path.basename(rec["c2_temp"]) in leftovers(FS1):
            if F.sh(FS1, "kill -0 %d 2>/dev/null && echo alive || echo gone" % rec["c2_pid"]).strip() == "gone":
                break
            time.sleep(0.5)
        rec["qbwrk_c2"], rec["push_marker_c2"] = F.read_bytes(FS1, F.QBWRK_CONF), marker(FS1, PUSH_MARKER)
        rec["fw4_c2"] = supervisor_view(FW4).get("worker_description")
        rec["leftovers_c2"] = leftovers(FS1)
    finally:
        inj.unwrap_validation()
    with timed("C: recovery run, --limit localhost:fs1:fw4"):
        rec["recovery"] = farm.runner.play("C-recovery", limit="localhost:fs1:fw4")
    rec["qbwrk_new"], rec["leftovers_after"] = F.read_bytes(FS1, F.QBWRK_CONF), leftovers(FS1)
    with timed("C: settled run, whole farm"):
        rec["settled"] = farm.runner.play("C-settled")
    rec["final_qb"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    rec["final_leftovers"] = {h.name: leftovers(h) for h in F.HOSTS}
    rec["final_markers"] = {h.name: [m for m in (RESTART_MARKER, PUSH_MARKER) if marker(h, m)] for h in F.HOSTS}
    return rec


def test_f5b_module_killed_while_writing_qbwrk_conf(round_c):
    run = round_c["c1"]
    # fw4's batch writes its section: fw4 fails where the write failed, nothing to roll back.
    row = run.row(FW4.name)
    assert row["status"] == "failed" and "Write qbwrk.conf" in row["failed_at"], row
    assert row["central"] == "previous", row
    assert round_c["qbwrk_c1"] == round_c["qbwrk_old"]
    assert round_c["leftovers_c1"] == [os.path.basename(round_c["temp"])]
    # Killed after the complete new text was in the temp file, before the rename.
    assert round_c["temp_c1"] == round_c["qbwrk_new"] != round_c["qbwrk_old"]
    # The next qube_conf run in /etc (the C2 run's) removed it: its process was gone.
    assert os.path.basename(round_c["temp"]) not in round_c["leftovers_c2"]
    assert round_c["leftovers_after"] == []


def test_f5c_controller_killed_while_writing_qbwrk_conf(round_c):
    run = round_c["c2"]
    assert run.killed and run.report is not None and run.report["complete"] is False, run.tail()
    assert round_c["qbwrk_c2"] in (round_c["qbwrk_old"], round_c["qbwrk_new"])
    print("\nF5c: after the controller was killed qbwrk.conf is the %s file"
          % ("new" if round_c["qbwrk_c2"] == round_c["qbwrk_new"] else "old"))
    if round_c["qbwrk_c2"] == round_c["qbwrk_new"]:
        # The orphaned module finished on fs1: it pushed (fw4 has the new value) or the marker says it is owed.
        assert round_c["push_marker_c2"] or round_c["fw4_c2"] == "faults gen 3", \
            "the new qbwrk.conf was never pushed and nothing says so (fw4: %s)" % round_c["fw4_c2"]
    assert_converged(round_c["recovery"], {FW4.name: (2, "faults gen 3")})
    assert_settled(round_c["settled"])


def test_end_state_of_the_whole_farm(round_a, round_c):
    """After all faults: every qb.conf is exactly its seed with the new value, nothing left over."""
    for host in ALL_WORKERS:
        assert round_c["final_qb"][host.name] == round_a["new"][host.name], host.name
    assert not any(round_c["final_leftovers"].values()), round_c["final_leftovers"]
    assert not any(round_c["final_markers"].values()), round_c["final_markers"]
    assert_settled(round_c["settled"])


# --- round D: the DC unreachable from one AD worker -----------------------------------------------

HOST_PREFLIGHT_TASK = "Preflight | Look at what only this worker can tell (read-only); every problem, before anything changes"


@pytest.fixture(scope="module")
def round_d(lab_farm, round_c):
    farm, rec = lab_farm, {}
    farm.inventory.write(2, {FAD1.name: {"qube_worker_description": "faults gen 4"}})
    rec["qbwrk_old"] = F.read_bytes(FS1, F.QBWRK_CONF)
    rec["qb_old"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    with timed("D: inject (DC blackhole on fad1)"):
        inj.ensure_joined(FAD1)
        inj.blackhole_dc(FAD1)
    try:
        with timed("D: fault run, whole farm (F4)"):
            rec["fault"] = farm.runner.play("D-dc-unreachable")
        rec["qbwrk_fault"] = F.read_bytes(FS1, F.QBWRK_CONF)
        rec["qb_fault"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    finally:
        with timed("D: DC route removed"):
            rec["rejoined"] = inj.restore_dc(FAD1)
    rec["dc_running"] = F.dc_running()
    with timed("D: recovery run, whole farm"):
        rec["recovery"] = farm.runner.play("D-recovery")
    with timed("D: settled run, whole farm"):
        rec["settled"] = farm.runner.play("D-settled")
    return rec


def test_f4_dc_unreachable_from_one_worker_stops_the_run_before_any_change(round_d):
    run = round_d["fault"]
    assert round_d["dc_running"], "dc1 must keep running: the fault is a route inside fad1 only"
    assert run.returncode != 0 and HOST_PREFLIGHT_TASK in run.output, run.tail()
    flat = " ".join(run.output.split())
    assert ("fad1: qube_proxy_account and qube_worker_host_domain names MYCORP\\renderproxy, which does not "
            "resolve on this host") in flat, run.tail()
    assert "PLAY [Supervisor" not in run.output and "PLAY [Workers" not in run.output, run.tail()
    assert round_d["qbwrk_fault"] == round_d["qbwrk_old"]
    assert round_d["qb_fault"] == round_d["qb_old"]
    assert_converged(round_d["recovery"], {FAD1.name: (2, "faults gen 4")})
    assert_settled(round_d["settled"])


# --- round E: a canary that fails leaves the rest of the farm on its previous central config ------

CANARY_EXTRA = {"qube_serial": [1, "25%", "100%"], "qube_max_fail_percentage": 0}
# The play takes workers in inventory order (the suite writes hosts.yml with sorted keys): fad1 is
# batch 1, the canary; batch 2 is one more worker (25 % of 6), batch 3 the rest.
CANARY = sorted(ALL_WORKERS, key=lambda host: host.name)[0]
LATER = [host for host in ALL_WORKERS if host is not CANARY]
VALIDATION_TASK = "validation job as the job identity"


def supervisor_view(host):
    """The worker's effective configuration as the supervisor gives it (qbadmin worker --configuration)."""
    out = F.sh(FS1, "/usr/local/pfx/qube/sbin/qbadmin worker --configuration %s" % host.name)
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip().strip('"') for key, value in pairs}


def descriptions():
    return {h.name: (supervisor_view(h).get("worker_description"), inj.effective(h).get("worker_description"))
            for h in ALL_WORKERS}


@pytest.fixture(scope="module")
def round_e(lab_farm, round_d):
    farm, rec = lab_farm, {}
    gen5 = {h.name: {"qube_worker_description": "faults gen 5"} for h in ALL_WORKERS}
    rec["before"], rec["qbwrk_old"] = descriptions(), F.read_bytes(FS1, F.QBWRK_CONF)
    rec["qb_old"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    farm.inventory.write(2, dict(gen5, **{CANARY.name: dict(gen5[CANARY.name], qube_validation_paths=["/srv/locked"])}))
    with timed("E: canary %s fails validation" % CANARY.name + ", batches [1, 25%, 100%], max_fail_percentage 0"):
        rec["rollback"] = farm.runner.play("E1-canary-rolled-back", extra=CANARY_EXTRA)
    rec["after_rollback"], rec["qbwrk_rollback"] = descriptions(), F.read_bytes(FS1, F.QBWRK_CONF)
    rec["qb_rollback"] = {h.name: F.read_bytes(h, F.QB_CONF) for h in ALL_WORKERS}
    with timed("E: the same with qube_rollback_failed_batch=false"):
        rec["kept"] = farm.runner.play("E2-canary-kept", extra=dict(CANARY_EXTRA, qube_rollback_failed_batch=False))
    rec["after_kept"] = descriptions()
    farm.inventory.write(2, gen5)
    with timed("E: recovery run, the default batches"):
        rec["recovery"] = farm.runner.play("E-recovery", extra=CANARY_EXTRA)
    with timed("E: settled run"):
        rec["settled"] = farm.runner.play("E-settled")
    return rec


def test_f8_canary_failure_keeps_later_batches_on_their_previous_central_config(round_e):
    run = round_e["rollback"]
    assert run.returncode != 0, run.tail()
    row = run.row(CANARY.name)
    assert (row["status"], row["central"]) == ("failed", "rolled_back"), row
    assert VALIDATION_TASK in row["failed_at"], row
    assert "its central settings were put back and read back" in run.output, run.tail()
    for host in LATER:
        assert (run.row(host.name)["status"], run.row(host.name)["central"]) == ("not run", "previous"), \
            run.row(host.name)
    # Every worker, the canary included, runs its previous central description, as the supervisor
    # and the worker itself say; qbwrk.conf and every qb.conf are the bytes they were.
    assert round_e["after_rollback"] == round_e["before"], (round_e["before"], round_e["after_rollback"])
    assert round_e["qbwrk_rollback"] == round_e["qbwrk_old"]
    assert round_e["qb_rollback"] == round_e["qb_old"]
    assert "1 rolled back" in run.report["summary_line"], run.report["summary_line"]


def test_f8_rollback_off_keeps_the_canary_on_the_new_settings(round_e):
    run = round_e["kept"]
    assert run.returncode != 0, run.tail()
    row = run.row(CANARY.name)
    assert (row["status"], row["central"]) == ("failed", "kept"), row
    assert "left in place (qube_rollback_failed_batch: false)" in run.output, run.tail()
    after = round_e["after_kept"]
    assert after[CANARY.name] == ("faults gen 5", "faults gen 5"), after
    assert {k: v for k, v in after.items() if k != CANARY.name} == \
        {k: v for k, v in round_e["before"].items() if k != CANARY.name}


def test_f8_next_run_rolls_out_to_every_worker(round_e):
    recovery = round_e["recovery"]
    assert_converged(recovery, {h.name: (2, "faults gen 5") for h in ALL_WORKERS})
    assert all(recovery.row(h.name)["central"] == "new" for h in ALL_WORKERS), recovery.report["hosts"]
    assert_settled(round_e["settled"])


# --- round F: three job slices at the same time ---------------------------------------------------

SLICES = [[FAD1, FW1], [FW2, FW3], [FW4, FW5]]


@pytest.fixture(scope="module")
def round_f(lab_farm, round_e):
    farm, rec = lab_farm, {"runs": {}}
    farm.inventory.write(2, {h.name: {"qube_worker_description": "faults gen 6"} for h in ALL_WORKERS})
    folder = os.path.join(farm.folder, "slices")
    os.makedirs(folder, exist_ok=True)

    def run_slice(index, hosts):
        runner = F.Runner(folder, farm.inventory)
        limit = "localhost:%s:%s" % (FS1.name, ":".join(h.name for h in hosts))
        rec["runs"][index] = runner.play("slice-%d" % index, limit=limit)

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    with timed("F: three slices of two workers at the same time"):
        threads = [threading.Thread(target=run_slice, args=(i, hosts)) for i, hosts in enumerate(SLICES, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rec["wall"] = time.time() - started
    rec["cpu"] = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print("\nF: 3 slices: %.0f s wall, %.0f s controller CPU" % (rec["wall"], rec["cpu"]))
    rec["after"], rec["qbwrk"] = descriptions(), F.read_bytes(FS1, F.QBWRK_CONF).decode("utf-8")
    combined = os.path.join(farm.folder, "slices-combined")
    extra = {"qube_report_slices": os.path.join(folder, "reports"), "qube_report_combined_dir": combined}
    proc = subprocess.run([F.PLAYBOOK_BIN, os.path.join(F.REPO, "playbooks", "combine_reports.yml"),
                           "-e", json.dumps(extra)],
                          cwd=F.REPO, env=farm.runner.env("F-combine"), capture_output=True, text=True, timeout=120)
    rec["combine"] = proc
    report_path = os.path.join(combined, "qube-report.json")
    rec["combined"] = json_load(report_path) if os.path.exists(report_path) else None
    with timed("F: settled run, whole farm"):
        rec["settled"] = farm.runner.play("F-settled")
    return rec


def json_load(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def test_f9_concurrent_slices_lose_no_central_change(round_f):
    for index, run in sorted(round_f["runs"].items()):
        assert run.returncode == 0, run.tail()
        for host in SLICES[index - 1]:
            row = run.row(host.name)
            assert (row["status"], row["config_state"], row["central"]) == ("ok", "in_sync", "new"), row
    # Every worker's section made it: the supervisor and each worker run gen 6.
    assert round_f["after"] == {h.name: ("faults gen 6", "faults gen 6") for h in ALL_WORKERS}, round_f["after"]
    assert round_f["qbwrk"].count("faults gen 6") >= 1 and "faults gen 5" not in round_f["qbwrk"]
    assert_settled(round_f["settled"])


def test_f9_the_slices_reports_combine_into_one_farm_report(round_f):
    proc, data = round_f["combine"], round_f["combined"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert data is not None and data["runs"] == 3 and data["complete"] is True, data
    workers = [row for row in data["hosts"] if row["role"] == "worker"]
    assert sorted(row["host"] for row in workers) == sorted(h.name for h in ALL_WORKERS)
    assert all((row["status"], row["validation"], row["central"]) == ("ok", "passed", "new") for row in workers), workers
    assert data["summary"]["workers"] == 6 and data["summary"]["validated"] == 6
    assert [row["status"] for row in data["hosts"] if row["host"] == FS1.name] == ["ok"]


# --- round G: a restricted host policy; round H: the take-over of an old whole file ----------------

QB_SUPERVISOR_CONF = "/etc/qb.conf"
SBIN = "/usr/local/pfx/qube/sbin"


def set_host_policy(policy):
    """supervisor_host_policy in fs1's own qb.conf (kept by the collection), re-read by the supervisor."""
    F.sh(FS1, "sed -i '/^supervisor_host_policy/d' %s && %s && %s/qbadmin supervisor --reread"
         % (QB_SUPERVISOR_CONF, "true" if policy is None else
            "printf 'supervisor_host_policy = %s\\n' >> %s" % (policy, QB_SUPERVISOR_CONF), SBIN))


@pytest.fixture(scope="module")
def round_g(lab_farm, round_f):
    farm, rec = lab_farm, {}
    gen6 = {h.name: {"qube_worker_description": "faults gen 6"} for h in ALL_WORKERS}
    set_host_policy("restricted")
    try:
        # fw5 places every key in its local qb.conf: it has nothing central, yet the restricted
        # policy admits only workers named in qbwrk.conf.
        farm.inventory.write(2, dict(gen6, **{FW5.name: dict(gen6[FW5.name], qube_config_placement="local")}))
        with timed("G: restricted host policy, fw5 all local"):
            rec["run"] = farm.runner.play("G-restricted")
        rec["qbwrk"] = F.read_bytes(FS1, F.QBWRK_CONF).decode("utf-8")
        rec["states"] = inj.worker_states()
        with timed("G: restricted, settled run"):
            rec["settled"] = farm.runner.play("G-restricted-settled")
    finally:
        set_host_policy(None)
        farm.inventory.write(2, gen6)
    with timed("G: open policy again, fw5 central again"):
        rec["back"] = farm.runner.play("G-open-again")
    return rec


def test_g_restricted_policy_names_every_managed_worker(round_g):
    run = round_g["run"]
    assert_converged(run, {FW5.name: (2, "faults gen 6")})
    text = round_g["qbwrk"]
    # fw5 has a section of its own, with no keys; the others keep theirs.
    assert re.search(r"^\[fw5\]\n(?!\w)", text, re.M), text
    assert all("[%s]\n" % h.name in text for h in ALL_WORKERS), text
    assert "# renderfarm.qube manages [fw5]:\n" in text, text
    assert round_g["states"].get(FW5.name) == "active", round_g["states"]
    assert_settled(round_g["settled"])
    assert round_g["back"].returncode == 0, round_g["back"].tail()


OLD_WHOLE_FILE = """# Managed by Ansible (renderfarm.qube.supervisor_config). Changes made here are overwritten.

[default]
proxy_execution_mode = proxy
worker_cpus = 1
worker_description = "faults gen 6"

[linux]
proxy_account = qubeproxy

[fad1]
proxy_account = renderproxy
worker_host_domain = MYCORP
"""


@pytest.fixture(scope="module")
def round_h(lab_farm, round_g):
    farm, rec = lab_farm, {}
    F.write_bytes(FS1, F.QBWRK_CONF, OLD_WHOLE_FILE.encode("utf-8"), mode="0600")
    F.sh(FS1, "%s/qbadmin worker --reconfigure >/dev/null 2>&1; true" % SBIN)
    rec["before"] = descriptions()
    with timed("H: take-over of a file the earlier release wrote whole"):
        rec["run"] = farm.runner.play("H-takeover")
    rec["qbwrk"] = F.read_bytes(FS1, F.QBWRK_CONF).decode("utf-8")
    rec["after"] = descriptions()
    with timed("H: settled run"):
        rec["settled"] = farm.runner.play("H-settled")
    return rec


def test_h_an_old_whole_file_is_taken_over_once(round_h):
    run, text = round_h["run"], round_h["qbwrk"]
    assert run.returncode == 0, run.tail()
    # Changed once (the supervisor's write), every worker in sync, then changed=0.
    assert run.changed().get(FS1.name, 0) >= 1, run.changed()
    for host in ALL_WORKERS:
        row = run.row(host.name)
        assert (row["status"], row["config_state"]) == ("ok", "in_sync"), row
    assert round_h["before"] == round_h["after"] == {h.name: ("faults gen 6", "faults gen 6") for h in ALL_WORKERS}
    assert "Changes made here are overwritten" not in text and "# renderfarm.qube manages [" in text, text
    headers = re.findall(r"^\[(.+)\]\s*$", text, re.M)
    assert len(headers) == len(set(headers)), headers
    assert not re.search(r"^\[default\]\n(?:\w)", text, re.M), text
    assert_settled(round_h["settled"])

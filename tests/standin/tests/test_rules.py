"""The stand-in's rules without processes or root: flag lists, host policy, enforce_password,
job flags, boot diagnostics. (The loopback e2e tests prove the same through the commands.)"""

import logging

import pytest

from qube_standin import flags, supervisor, worker


def test_flag_lists_are_names_from_the_vendor_tables():
    assert flags.job_flags("supervisor_job_flags", '"convert_path, auto_mount"') == ["auto_mount", "convert_path"]
    assert flags.job_flags("client_job_flags", "") == []
    with pytest.raises(flags.FlagError, match="supervisor_job_flags: unknown flag 'automount'"):
        flags.job_flags("supervisor_job_flags", "automount")
    with pytest.raises(flags.FlagError, match="integer masks are not supported"):
        flags.parse_list("supervisor_flags", "12", flags.SUPERVISOR_FLAGS)
    with pytest.raises(flags.FlagError, match="unknown flag 'no_defaults'"):
        flags.parse_list("supervisor_flags", "no_defaults", flags.SUPERVISOR_FLAGS)
    with pytest.raises(flags.FlagError, match="unknown policy 'closed'"):
        flags.host_policy("closed")


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("QB_STANDIN_ROOT", str(tmp_path))
    (tmp_path / "etc").mkdir()
    return tmp_path


def make_supervisor(root, qb_conf, qbwrk=""):
    (root / "etc/qb.conf").write_text(qb_conf)
    if qbwrk:
        (root / "etc/qbwrk.conf").write_text(qbwrk)
    return supervisor.Supervisor()


QBWRK = ("[global_config]\ntemplates = tmpl\nnon_existent = gone[1-3]\n[default]\nworker_cpus = 1\n"
         "[tmpl]\nworker_cpus = 2\n[render[01-03]] : tmpl\n[localhost]\n[gone2]\n")


@pytest.mark.parametrize("policy, name, peer, admitted", [
    ("open", "anyone", "10.9.9.9", True),
    ("restrictedbyname", "render02", "10.9.9.9", True),
    ("restrictedbyname", "render04", "10.9.9.9", False),
    ("restrictedbyname", "tmpl", "10.9.9.9", False),        # a template names no worker
    ("restrictedbyname", "default", "10.9.9.9", False),
    ("restrictedbyaddress", "render02", "10.9.9.9", False),
    ("restrictedbyaddress", "w9", "127.0.0.1", True),       # [localhost] resolves to it
    ("restricted", "render01", "10.9.9.9", True),
    ("restricted", "w9", "127.0.0.1", True),
    ("restricted", "w9", "10.9.9.9", False),
])
def test_host_policy(root, policy, name, peer, admitted):
    sup = make_supervisor(root, f"supervisor_host_policy = {policy}\n", QBWRK)
    reason = sup.admission(name, peer)
    assert (reason == "") == admitted, reason
    answer = sup.op_register({"name": name, "state": "active"}, peer)
    assert answer["ok"] == admitted
    assert (name in sup.store.workers) == admitted
    if not admitted:
        assert answer["error"] == reason and f"supervisor_host_policy = {policy}" in reason
        assert not sup.op_get_config({"name": name}, peer)["ok"]


def test_restricted_policy_without_a_worker_config_file_admits_nobody(root):
    sup = make_supervisor(root, "supervisor_host_policy = restricted\n")
    assert "is not in /etc/qbwrk.conf" in sup.admission("render01", "127.0.0.1")


def test_supervisor_worker_configfile(root):
    (root / "etc/farm.conf").write_text("[render01]\nworker_cpus = 3\n")
    sup = make_supervisor(root, "supervisor_worker_configfile = /etc/farm.conf\nsupervisor_host_policy = restrictedbyname\n",
                          "[other]\n")
    assert sup.central_for("render01", "linux") == {"worker_cpus": "3"}
    assert sup.admission("render01", "10.0.0.1") == "" and sup.admission("other", "10.0.0.1")


def test_enforce_password(root):
    sup = make_supervisor(root, "supervisor_flags = enforce_password\n")
    job = {"name": "j", "user": "alice", "command": "true", "hosts": [], "flags": []}
    refused = sup.op_submit(dict(job), "127.0.0.1")
    assert not refused["ok"] and "'alice' has no password registered with qblogin" in refused["error"]
    assert sup.store.jobs == {}
    sup.store.set_password("CORP\\alice", "token")
    assert sup.op_submit(dict(job), "127.0.0.1")["ok"]
    assert not sup.op_submit(dict(job, user="bob"), "127.0.0.1")["ok"]


def test_supervisor_job_flags_unless_no_defaults(root):
    sup = make_supervisor(root, 'supervisor_job_flags = "grid,auto_mount"\n')
    job = {"name": "j", "user": "alice", "command": "true", "hosts": []}
    ids = [sup.op_submit(dict(job, flags=f), "127.0.0.1")["id"] for f in ([], ["mail"], ["no_defaults", "mail"])]
    assert [sup.store.jobs[i]["flags"] for i in ids] == [
        ["auto_mount", "grid"], ["auto_mount", "grid", "mail"], ["mail", "no_defaults"]]
    assert not sup.op_submit(dict(job, flags=["bogus"]), "127.0.0.1")["ok"]


def test_supervisor_refuses_a_bad_qb_conf_and_keeps_the_old_one_on_reread(root):
    with pytest.raises(SystemExit, match="supervisor_flags: unknown flag 'enforce_pasword'"):
        make_supervisor(root, "supervisor_flags = enforce_pasword\n")
    sup = make_supervisor(root, "supervisor_host_policy = restricted\n")
    (root / "etc/qb.conf").write_text("supervisor_host_policy = closed\n")
    assert "unknown policy 'closed'" in sup.reread()
    assert sup.policy == "restricted"


@pytest.fixture
def desk(root, monkeypatch):
    """A worker whose paths are all missing; service mode with a proxy account that does not exist."""
    (root / "etc/qb.conf").write_text(
        "worker_lookup = local\nworker_logfile = /nolog/workerlog\nworker_logpath = /spool\n"
        "worker_journal_location = /nojournal/worker.jnl\nproxy_account = nosuchproxy\n"
        "worker_boot_diagnostics_retries = 2\nworker_boot_diagnostics_retry_interval = 0\n")
    monkeypatch.setenv("QB_STANDIN_HOSTNAME", "w1")
    return worker.Worker()


def test_boot_diagnostics_retry_then_one_panic_line(desk, root, caplog):
    desk.service_mode = True
    with caplog.at_level(logging.INFO, logger="worker"):
        desk.boot_diagnostics()
    assert desk.state == "panic"
    messages = [r.getMessage() for r in caplog.records]
    assert sum(m.startswith("boot diagnostics failed") for m in messages) == 2
    panic = [m for m in messages if m.startswith("panic: ")]
    assert len(panic) == 1
    assert f"worker_logfile {root}/nolog/workerlog cannot be written" in panic[0]
    assert f"worker_journal_location {root}/nojournal/worker.jnl: its folder is not writable" in panic[0]
    assert f"proxy_location {root}/usr/local/pfx/qube/sbin/proxy is not an executable program" in panic[0]
    assert "proxy account 'nosuchproxy' does not exist" in panic[0]
    assert "worker_logpath" not in panic[0]  # created and writable
    assert desk.dispatch({"op": "run", "job": {"id": 1}}, "127.0.0.1") == {
        "ok": False, "error": "worker is in state panic"}


def test_desktop_mode_skips_the_proxy_checks_but_not_the_paths(desk, root):
    desk.service_mode = False
    problems = desk.diagnose()
    assert [p.split()[0] for p in problems] == ["worker_logfile", "worker_journal_location"]
    (root / "nolog").mkdir()
    (root / "nojournal").mkdir()
    desk.boot_diagnostics()
    assert desk.state == "active"
    assert (root / "spool/worker_effective.conf").exists()

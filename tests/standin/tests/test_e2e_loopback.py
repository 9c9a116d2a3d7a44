"""End-to-end on loopback (root only): supervisor + workers as subprocesses, real users.

Everything lives under a temporary QB_STANDIN_ROOT; two throwaway local accounts are
created with useradd and removed afterwards.
"""

import os
import pathlib
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import pytest
from conftest import LAUNCHER

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (useradd, setuid)")
# The lab hosts run the stand-in with the system Python; other users can execute it.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
PASSWORD = "S3cret-" + secrets.token_hex(4)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def install_product_folders(root, proxy=True):
    """What the package leaves on a host: root-owned /var/log and /var/spool/qube, sbin/proxy."""
    for folder in ("var/log", "var/spool/qube"):
        os.makedirs(root / folder, mode=0o755, exist_ok=True)
        os.chmod(root / folder, 0o755)
    if proxy:
        os.makedirs(root / "usr/local/pfx/qube/sbin", exist_ok=True)
        os.symlink(LAUNCHER, root / "usr/local/pfx/qube/sbin/proxy")


def panic_lines(text):
    return [line for line in text.splitlines() if " worker[" in line and "]: panic: " in line]


class Farm:
    """A supervisor and its workers on 127.0.0.1 under one temporary root."""

    def __init__(self, root, proxy_user, qb_extra=""):
        self.root, self.processes = root, []
        self.sup_port, self.port = free_port(), free_port()
        (root / "etc").mkdir(parents=True)
        install_product_folders(root)
        self.write_qbwrk(f"[default]\nproxy_account = {proxy_user}\nworker_cpus = 2\n")
        self.base_qb = (f"qb_supervisor = 127.0.0.1\nsupervisor_port = {self.sup_port}\n"
                        f"worker_port = {self.port}\nworker_address = 127.0.0.1\n")
        self.write_qb_conf(qb_extra)
        self.env = dict(os.environ, QB_STANDIN_ROOT=str(root), QB_STANDIN_HOSTNAME="w1",
                        QB_STANDIN_SUPERVISOR_BIND="127.0.0.1", QB_STANDIN_HEARTBEAT="1")

    def write_qbwrk(self, text):
        (self.root / "etc/qbwrk.conf").write_text(text)

    def write_qb_conf(self, extra=""):
        """The farm's qb.conf: what the supervisor, worker w1 and the clients here read."""
        (self.root / "etc/qb.conf").write_text(self.base_qb + extra)

    def worker_root(self, parent, name, extra=""):
        """Another worker host's root: its own qb.conf (port), product folders and proxy program."""
        root = parent / name
        (root / "etc").mkdir(parents=True)
        install_product_folders(root)
        (root / "etc/qb.conf").write_text(
            f"qb_supervisor = 127.0.0.1\nsupervisor_port = {self.sup_port}\nworker_port = {free_port()}\n"
            "worker_address = 127.0.0.1\n" + extra)
        return root

    def start(self, command, user=None, **env):
        process = subprocess.Popen([PYTHON, LAUNCHER, command], env=dict(self.env, **env),
                                   user=user, stderr=subprocess.PIPE, text=True)
        self.processes.append(process)
        return process

    def run(self, *args, check=True, stdin=None, **env):
        result = subprocess.run([PYTHON, LAUNCHER, *args], env=dict(self.env, **env), input=stdin,
                                capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def submit(self, *args):
        out = self.run("qbsub", *args).stdout
        assert out.startswith("successfully submitted job: ")
        return int(out.split(":")[1].split()[0])

    def status(self, job_id):
        return self.run("qbjobs", "--status", str(job_id)).stdout.split()[1]

    def hosts(self):
        """``qbhosts --xml`` as {name: {field: text}}; empty while the supervisor is not up."""
        result = self.run("qbhosts", "--xml", check=False)
        if result.returncode == 2:
            return {}
        assert result.returncode == 0, result.stderr
        root = ET.fromstring(result.stdout.split("\n", 1)[1])
        return {h.findtext("name"): {c.tag: c.text for c in h} for h in root}

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)


@pytest.fixture(scope="module")
def users():
    names = [f"qbs{role}{secrets.token_hex(3)}" for role in ("proxy", "user")]
    for name in names:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    yield names
    for name in names:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture(scope="module")
def farm(users):
    """Root outside root's private pytest tmp: the job's proxy program runs as the proxy account."""
    root = tempfile.mkdtemp(prefix="qbs-farm-")
    os.chmod(root, 0o755)
    farm = Farm(pathlib.Path(root), users[0])
    try:
        farm.start("supervisor")
        farm.start("worker")
        wait_for(lambda: farm.hosts().get("w1", {}).get("state") == "active", what="worker w1 active")
        yield farm
    finally:
        farm.stop()
        shutil.rmtree(root)


def test_proxy_mode_runs_as_proxy_account_without_login_env(farm, users):
    job_id = farm.submit("--hosts", "w1", "--waiton", "id -un; env")
    out = farm.run("qbout", str(job_id)).stdout.splitlines()
    assert out[0] == users[0]
    env = dict(line.split("=", 1) for line in out[1:] if "=" in line)
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert "QB_STANDIN_ROOT" not in env and "PWD" in env and env["PWD"] == "/"
    log = farm.root / f"var/spool/qube/job/0/{job_id}/{job_id}_0.out"
    assert log.read_text().splitlines()[0] == users[0]
    assert log.stat().st_uid == pwd.getpwnam(users[0]).pw_uid
    host = farm.hosts()["w1"]
    assert (host["worker_mode"], host["proxy_mode"], host["owner"], host["locked"]) == \
        ("service", "proxy", "root", "0")


def test_failed_job_makes_waiton_fail(farm):
    result = farm.run("qbsub", "--waiton", "exit 3", check=False)
    assert result.returncode == 1 and "failed" in result.stderr


def test_reconfigure_to_user_mode_runs_as_submitter(farm, users):
    farm.write_qbwrk(f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\n"
                     "[w1]\nproxy_execution_mode = user\nworker_port = 1\n")
    result = farm.run("qbadmin", "worker", "--reconfigure")
    assert result.stdout.strip() == "w1: reconfigured"
    config = farm.run("qbadmin", "worker", "--configuration", "w1").stdout.splitlines()
    assert "proxy_execution_mode = user" in config
    assert f"worker_port = {farm.port}" in config  # bootstrap key from qbwrk.conf ignored
    assert config == sorted(config)
    job_id = farm.submit("--user", users[1], "--waiton", "id -un")
    assert farm.run("qbout", str(job_id)).stdout.strip() == users[1]
    assert farm.hosts()["w1"]["proxy_mode"] == "user"
    farm.write_qbwrk(f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\n")
    farm.run("qbadmin", "worker", "--reconfigure")


def test_reconfigure_does_not_reread_the_local_qb_conf(farm, users):
    """A qb.conf change needs a worker restart, a qbwrk.conf change a reconfigure (KB "How do I set my
    own shared directory for job types"): reconfigure leaves the worker's local settings as it read them."""
    farm.write_qbwrk(f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\n")
    farm.write_qb_conf("worker_description = only after a restart\n")
    try:
        farm.run("qbadmin", "worker", "--reconfigure")
        assert "only after a restart" not in farm.run("qbadmin", "worker", "--configuration", "w1").stdout
    finally:
        farm.write_qb_conf()


def test_unknown_worker_configuration_fails(farm):
    result = farm.run("qbadmin", "worker", "--configuration", "nosuchhost", check=False)
    assert result.returncode != 0 and "nosuchhost" in result.stderr


def test_qblock_finish_current_then_qbunlock(farm):
    running = farm.submit("--hosts", "w1", "sleep 3; echo finished")
    wait_for(lambda: farm.status(running) == "running", what="sleep job running")
    assert farm.run("qblock", "w1").stdout.strip() == "locked: w1"
    queued = farm.submit("--hosts", "w1", "echo second")
    wait_for(lambda: farm.status(running) == "complete", what="running job completes while locked")
    assert farm.run("qbout", str(running)).stdout.strip() == "finished"
    time.sleep(1.0)
    assert farm.status(queued) == "pending"
    assert farm.hosts()["w1"]["locked"] == "1"
    assert farm.run("qbunlock", "w1").stdout.strip() == "unlocked: w1"
    wait_for(lambda: farm.status(queued) == "complete", what="queued job runs after unlock")


def test_qblogin_register_and_check(farm, users):
    farm.run("qblogin", "--user", users[1], stdin=PASSWORD + "\n" + PASSWORD + "\n")
    assert farm.run("qblogin", "--user", users[1], "--check", stdin=PASSWORD + "\n" + PASSWORD + "\n").returncode == 0
    wrong = farm.run("qblogin", "--user", users[1], "--check", stdin="wrong\nwrong\n", check=False)
    assert wrong.returncode == 1
    store = farm.root / "var/spool/qube-standin/passwords.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert PASSWORD not in store.read_text()
    assert PASSWORD not in (farm.root / "var/log/supervisorlog").read_text()


def test_qblogin_mismatch_stores_nothing(farm, users):
    store = farm.root / "var/spool/qube-standin/passwords.json"
    before = store.read_text() if store.exists() else ""
    result = farm.run("qblogin", "--user", users[0], stdin=PASSWORD + "\nother\n", check=False)
    assert result.returncode == 1 and result.stderr.strip() == "qblogin: passwords do not match"
    assert (store.read_text() if store.exists() else "") == before
    assert users[0] not in before


@pytest.fixture
def desktop_root(users):
    """A root (qb.conf, home) owned by the desktop user, outside root's private tmp; /var as installed."""
    root = tempfile.mkdtemp(prefix="qbs-desktop-")
    os.chmod(root, 0o755)
    account = pwd.getpwnam(users[1])
    for sub in ("etc", "home"):
        os.makedirs(os.path.join(root, sub))
    os.chown(os.path.join(root, "home"), account.pw_uid, account.pw_gid)
    install_product_folders(pathlib.Path(root), proxy=False)
    yield root
    shutil.rmtree(root)


def desktop_qb_conf(farm, root, extra=""):
    with open(os.path.join(root, "etc/qb.conf"), "w") as handle:
        handle.write(f"qb_supervisor = 127.0.0.1\nsupervisor_port = {farm.sup_port}\n"
                     f"worker_port = {free_port()}\nworker_address = 127.0.0.1\n" + extra)


USER_PATHS = ("worker_logfile = /home/workerlog\nworker_logpath = /home/spool\n"
              "worker_journal_location = /home/worker.jnl\n")


def test_desktop_user_mode_runs_as_worker_owner(farm, users, desktop_root):
    desktop_qb_conf(farm, desktop_root, USER_PATHS)
    worker = farm.start("worker", user=users[1], QB_STANDIN_ROOT=desktop_root, QB_STANDIN_HOSTNAME="w2",
                        HOME=os.path.join(desktop_root, "home"))
    wait_for(lambda: worker.poll() is not None or farm.hosts().get("w2", {}).get("state") == "active",
             what="desktop worker w2")
    assert worker.poll() is None, worker.stderr.read()
    host = farm.hosts()["w2"]
    assert (host["worker_mode"], host["owner"], host["proxy_mode"]) == ("desktop", users[1], "proxy")
    job_id = farm.submit("--hosts", "w2", "--waiton", "id -un")
    assert farm.run("qbout", str(job_id)).stdout.strip() == users[1]
    assert not os.path.exists(os.path.join(desktop_root, "home/.qube-standin"))
    worker.terminate()
    worker.wait(10)


def test_desktop_worker_with_default_var_paths_panics(farm, users, desktop_root):
    """CPR worker_logfile/worker_logpath/worker_journal_location defaults are root's; no fallback."""
    desktop_qb_conf(farm, desktop_root, "worker_boot_diagnostics_retry_interval = 0\n")
    worker = farm.start("worker", user=users[1], QB_STANDIN_ROOT=desktop_root, QB_STANDIN_HOSTNAME="w3",
                        HOME=os.path.join(desktop_root, "home"))
    wait_for(lambda: worker.poll() is not None or farm.hosts().get("w3", {}).get("state") == "panic",
             what="desktop worker w3 in panic")
    assert worker.poll() is None, "a worker in panic stays up"
    assert "w3" in farm.run("qbhosts", "--xml", "--panic").stdout
    assert "w3" not in farm.run("qbhosts", "--xml", "--active").stdout
    assert "w3" not in farm.run("qbhosts", "--xml", "--down").stdout
    job_id = farm.submit("--hosts", "w3", "id -un")
    time.sleep(1.5)
    assert farm.status(job_id) == "pending"
    worker.terminate()
    worker.wait(10)
    stderr = worker.stderr.read()
    var = os.path.join(desktop_root, "var")
    panic = panic_lines(stderr)
    assert len(panic) == 1, stderr
    assert f"worker_logpath {var}/spool/qube is not writable by {users[1]}" in panic[0]
    assert f"worker_logfile {var}/log/workerlog cannot be written by {users[1]}" in panic[0]
    assert f"worker_journal_location {var}/spool/qube/worker.jnl" in panic[0]
    assert "(attempt 1 of 2)" in stderr
    assert not os.path.exists(os.path.join(desktop_root, "home/.qube-standin"))


def test_panic_line_goes_to_the_workerlog_after_the_retries(farm, users, desktop_root):
    desktop_qb_conf(farm, desktop_root, "worker_logfile = /home/workerlog\n"
                    "worker_boot_diagnostics_retries = 2\nworker_boot_diagnostics_retry_interval = 1\n")
    started = time.monotonic()
    worker = farm.start("worker", user=users[1], QB_STANDIN_ROOT=desktop_root, QB_STANDIN_HOSTNAME="w4",
                        HOME=os.path.join(desktop_root, "home"))
    wait_for(lambda: farm.hosts().get("w4", {}).get("state") == "panic", what="desktop worker w4 in panic")
    assert time.monotonic() - started >= 2.0
    log = open(os.path.join(desktop_root, "home/workerlog")).read()
    assert "(attempt 1 of 3)" in log and "(attempt 2 of 3)" in log
    panic = panic_lines(log)
    assert len(panic) == 1 and "worker_logpath" in panic[0] and "worker_logfile" not in panic[0]
    worker.terminate()
    worker.wait(10)
    assert panic_lines(worker.stderr.read()) == []


def test_reconfigure_reruns_the_diagnostics(farm, users):
    good = f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\n"
    farm.write_qbwrk(good + "[w1]\nproxy_account = nosuchproxy\n")
    log = farm.root / "var/log/workerlog"
    before = len(panic_lines(log.read_text()))
    assert farm.run("qbadmin", "worker", "--reconfigure").returncode == 0
    assert farm.hosts()["w1"]["state"] == "panic"
    panic = panic_lines(log.read_text())[before:]
    assert len(panic) == 1 and "proxy account 'nosuchproxy' does not exist" in panic[0]
    job_id = farm.submit("--hosts", "w1", "id -un")
    time.sleep(1.5)
    assert farm.status(job_id) == "pending"
    farm.write_qbwrk(good)
    farm.run("qbadmin", "worker", "--reconfigure")
    assert farm.hosts()["w1"]["state"] == "active"
    wait_for(lambda: farm.status(job_id) == "complete", what="job runs once the worker is active again")


def test_service_worker_boot_diagnostics_panic(farm, tmp_path):
    """No proxy program, no proxy account, no journal folder: one panic line, registered as panic."""
    (tmp_path / "etc").mkdir()
    install_product_folders(tmp_path, proxy=False)
    (tmp_path / "etc/qb.conf").write_text(
        f"qb_supervisor = 127.0.0.1\nsupervisor_port = {farm.sup_port}\nworker_port = {free_port()}\n"
        "worker_address = 127.0.0.1\nworker_lookup = local\nproxy_account = nosuchproxy\n"
        "worker_host_domain = CORP\nworker_journal_location = /nodir/worker.jnl\n"
        "worker_boot_diagnostics_retry_interval = 0\n")
    worker = farm.start("worker", QB_STANDIN_ROOT=str(tmp_path), QB_STANDIN_HOSTNAME="w9")
    wait_for(lambda: worker.poll() is not None or farm.hosts().get("w9", {}).get("state") == "panic",
             what="service worker w9 in panic")
    assert worker.poll() is None
    panic = panic_lines((tmp_path / "var/log/workerlog").read_text())
    assert len(panic) == 1
    assert f"proxy_location {tmp_path}/usr/local/pfx/qube/sbin/proxy is not an executable program" in panic[0]
    assert "proxy account 'CORP\\\\nosuchproxy' does not exist" in panic[0]
    assert f"worker_journal_location {tmp_path}/nodir/worker.jnl" in panic[0]
    worker.terminate()
    worker.wait(10)


# ---- what the supervisor reads from its qb.conf; what clients read ------------------------


def job_xml(farm, job_id, env=None):
    out = farm.run("qbjobs", "--xml", str(job_id), **(env or {})).stdout
    node = ET.fromstring(out.split("\n", 1)[1]).find("job")
    return {c.tag: c.text or "" for c in node}


def test_qbjobs_without_ids_lists_only_the_callers_jobs(farm, users):
    mine = farm.submit("--hosts", "nosuchworker", "true")
    theirs = farm.submit("--user", users[1], "--hosts", "nosuchworker", "true")
    listed = [int(line.split()[0]) for line in farm.run("qbjobs", "--status").stdout.splitlines()]
    assert mine in listed and theirs not in listed
    assert [int(line.split()[0]) for line in farm.run("qbjobs", "--status", "0").stdout.splitlines()] == listed
    assert farm.run("qbjobs", "--status", str(theirs)).stdout.split() == [str(theirs), "pending"]


def test_clients_read_only_their_local_qb_conf(farm, users, tmp_path):
    """client_* keys in qbwrk.conf reach the worker's config but no client (Client+Configuration.md)."""
    farm.write_qbwrk(f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\nclient_priority = 7\n"
                     "client_job_flags = grid\nclient_logpath = /logs\n")
    farm.run("qbadmin", "worker", "--reconfigure")
    assert "client_priority = 7" in farm.run("qbadmin", "worker", "--configuration", "w1").stdout
    client = tmp_path / "client"
    (client / "etc").mkdir(parents=True)
    (client / "etc/qb.conf").write_text(f"qb_supervisor = 127.0.0.1\nsupervisor_port = {farm.sup_port}\n")
    as_client = {"QB_STANDIN_ROOT": str(client)}
    job_id = int(farm.run("qbsub", "--hosts", "w1", "--waiton", "echo from-the-worker", **as_client)
                 .stdout.split(":")[1])
    job = job_xml(farm, job_id, as_client)
    assert (job["priority"], job["flags"]) == ("9999", "auto_mount")
    assert farm.run("qbout", str(job_id), **as_client).stdout == "from-the-worker\n"
    log = client / f"logs/job/0/{job_id}/{job_id}_0.out"
    log.parent.mkdir(parents=True)
    log.write_text("read-from-client_logpath\n")
    (client / "etc/qb.conf").write_text(f"qb_supervisor = 127.0.0.1\nsupervisor_port = {farm.sup_port}\n"
                                        "client_priority = 7\nclient_job_flags = grid\nclient_logpath = /logs\n")
    assert farm.run("qbout", str(job_id), **as_client).stdout == "read-from-client_logpath\n"
    second = int(farm.run("qbsub", "--hosts", "nosuchworker", "true", **as_client).stdout.split(":")[1])
    assert (job_xml(farm, second)["priority"], job_xml(farm, second)["flags"]) == ("7", "auto_mount,grid")
    farm.write_qbwrk(f"[default]\nproxy_account = {users[0]}\nworker_cpus = 2\n")
    farm.run("qbadmin", "worker", "--reconfigure")


def test_supervisor_job_flags_apply_unless_no_defaults(farm):
    farm.write_qb_conf('client_job_flags = ""\n')
    plain = farm.submit("--hosts", "nosuchworker", "true")
    bare = farm.submit("--hosts", "nosuchworker", "--flags", "no_defaults", "true")
    assert (job_xml(farm, plain)["flags"], job_xml(farm, bare)["flags"]) == ("auto_mount", "no_defaults")
    farm.write_qb_conf('client_job_flags = ""\nsupervisor_job_flags = "convert_path,auto_wrangling"\n')
    farm.run("qbadmin", "supervisor", "--reread")
    grid = farm.submit("--hosts", "nosuchworker", "--flags", "grid", "true")
    assert job_xml(farm, grid)["flags"] == "auto_wrangling,convert_path,grid"
    bad = farm.run("qbsub", "--flags", "grid,bogus", "true", check=False)
    assert bad.returncode == 1 and "unknown flag 'bogus'" in bad.stderr
    farm.write_qb_conf('supervisor_job_flags = "auto_mount,bogus"\n')
    reread = farm.run("qbadmin", "supervisor", "--reread", check=False)
    assert reread.returncode == 1 and "supervisor_job_flags: unknown flag 'bogus'" in reread.stderr
    checked = farm.run("qbconfigfile", str(farm.root / "etc/qb.conf"), check=False)
    assert checked.returncode == 1
    assert checked.stderr.startswith(f"{farm.root}/etc/qb.conf:5: supervisor_job_flags: unknown flag 'bogus'")
    still = farm.submit("--hosts", "nosuchworker", "true")  # the bad reread changed nothing
    assert job_xml(farm, still)["flags"] == "auto_mount,auto_wrangling,convert_path"
    farm.write_qb_conf()
    farm.run("qbadmin", "supervisor", "--reread")


def test_enforce_password_refuses_users_without_a_qblogin_password(farm, users):
    jobs = farm.root / "var/spool/qube-standin/jobs"
    farm.write_qb_conf("supervisor_flags = enforce_password,retry_busy\n")
    farm.run("qbadmin", "supervisor", "--reread")
    before = sorted(os.listdir(jobs))
    refused = farm.run("qbsub", "--user", users[0], "--hosts", "w1", "id -un", check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert f"user '{users[0]}' has no password registered with qblogin" in refused.stderr
    assert "enforce_password" in refused.stderr
    assert sorted(os.listdir(jobs)) == before
    farm.run("qblogin", "--user", users[0], stdin=PASSWORD + "\n" + PASSWORD + "\n")
    farm.submit("--user", users[0], "--hosts", "w1", "--waiton", "id -un")
    farm.write_qb_conf("supervisor_flags = enforce_pasword\n")
    typo = farm.run("qbadmin", "supervisor", "--reread", check=False)
    assert typo.returncode == 1 and "unknown flag 'enforce_pasword'" in typo.stderr
    farm.write_qb_conf()
    farm.run("qbadmin", "supervisor", "--reread")


@pytest.fixture
def farm2(users, tmp_path):
    """A second supervisor (no worker yet) whose qb.conf each test writes."""
    farm = Farm(tmp_path / "sup2", users[0])
    yield farm
    farm.stop()


def test_supervisor_worker_configfile_names_the_qbwrk_conf(farm2, users, tmp_path):
    farm2.write_qbwrk("[default]\nworker_description = from-etc-qbwrk\n")
    (farm2.root / "etc/myqbworkers.conf").write_text(
        f"[default]\nproxy_account = {users[0]}\nworker_description = from-myqbworkers\n")
    farm2.write_qb_conf("supervisor_worker_configfile = /etc/myqbworkers.conf\n")
    farm2.start("supervisor")
    farm2.start("worker", QB_STANDIN_ROOT=str(farm2.worker_root(tmp_path, "w5")), QB_STANDIN_HOSTNAME="w5")
    wait_for(lambda: farm2.hosts().get("w5", {}).get("state") == "active", what="worker w5 active")
    config = farm2.run("qbadmin", "worker", "--configuration", "w5").stdout.splitlines()
    assert "worker_description = from-myqbworkers" in config
    (farm2.root / "etc/other.conf").write_text(
        f"[default]\nproxy_account = {users[0]}\nworker_description = from-other\n")
    farm2.write_qb_conf("supervisor_worker_configfile = /etc/other.conf\n")
    farm2.run("qbadmin", "supervisor", "--reread")
    farm2.run("qbadmin", "worker", "--reconfigure")
    assert "worker_description = from-other" in farm2.run("qbadmin", "worker", "--configuration", "w5").stdout


def test_restricted_host_policy_refuses_unnamed_workers(farm2, users, tmp_path):
    farm2.write_qbwrk(f"[default]\nproxy_account = {users[0]}\n[w5]\nworker_cpus = 1\n")
    farm2.write_qb_conf("supervisor_host_policy = restrictedbyname\n")
    farm2.start("supervisor")
    w7_root = farm2.worker_root(tmp_path, "w7")
    for name, root in (("w5", farm2.worker_root(tmp_path, "w5")), ("w7", w7_root)):
        farm2.start("worker", QB_STANDIN_ROOT=str(root), QB_STANDIN_HOSTNAME=name)
    wait_for(lambda: farm2.hosts().get("w5", {}).get("state") == "active", what="worker w5 active")
    reason = "worker w7 refused: supervisor_host_policy = restrictedbyname and its name 'w7' is not in /etc/qbwrk.conf"
    w7_log = w7_root / "var/log/workerlog"  # the worker creates it when it starts: wait for it too
    wait_for(lambda: w7_log.exists() and reason in w7_log.read_text(), what="refusal in w7's workerlog")
    assert "w7" not in farm2.hosts()
    assert (farm2.root / "var/log/supervisorlog").read_text().count(reason) == 1
    assert farm2.run("qblock", "w7", check=False).returncode == 1
    farm2.write_qb_conf("supervisor_host_policy = restrictedbyaddress\n")
    farm2.run("qbadmin", "supervisor", "--reread")
    time.sleep(3)
    assert "w7" not in farm2.hosts()  # 127.0.0.1 is no section's address yet
    farm2.write_qbwrk(f"[default]\nproxy_account = {users[0]}\n[w5]\nworker_cpus = 1\n[localhost]\n")
    farm2.run("qbadmin", "supervisor", "--reread")
    wait_for(lambda: farm2.hosts().get("w7", {}).get("state") == "active", what="w7 admitted by address")
    farm2.write_qb_conf("supervisor_host_policy = closed\n")
    bad = farm2.run("qbadmin", "supervisor", "--reread", check=False)
    assert bad.returncode == 1 and "supervisor_host_policy: unknown policy 'closed'" in bad.stderr


def test_supervisor_refuses_to_start_with_an_unknown_flag(farm2):
    farm2.write_qb_conf("supervisor_flags = heartbeat_monitor,no_such_flag\n")
    process = farm2.start("supervisor")
    assert process.wait(20) == 1
    assert "supervisor_flags: unknown flag 'no_such_flag'" in process.stderr.read()

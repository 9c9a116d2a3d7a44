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

    def __init__(self, root, proxy_user):
        self.root, self.processes = root, []
        self.sup_port, self.port = free_port(), free_port()
        (root / "etc").mkdir()
        install_product_folders(root)
        self.write_qbwrk(f"[default]\nproxy_account = {proxy_user}\nworker_cpus = 2\n")
        (root / "etc/qb.conf").write_text(
            f"qb_supervisor = 127.0.0.1\nsupervisor_port = {self.sup_port}\n"
            f"worker_port = {self.port}\nworker_address = 127.0.0.1\n")
        self.env = dict(os.environ, QB_STANDIN_ROOT=str(root), QB_STANDIN_HOSTNAME="w1",
                        QB_STANDIN_SUPERVISOR_BIND="127.0.0.1", QB_STANDIN_HEARTBEAT="1")

    def write_qbwrk(self, text):
        (self.root / "etc/qbwrk.conf").write_text(text)

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

"""End-to-end on loopback (root only): supervisor + workers as subprocesses, real users.

Everything lives under a temporary QB_STANDIN_ROOT; two throwaway local accounts are
created with useradd and removed afterwards.
"""

import os
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


class Farm:
    """A supervisor and its workers on 127.0.0.1 under one temporary root."""

    def __init__(self, root, proxy_user):
        self.root, self.processes = root, []
        self.sup_port, self.port = free_port(), free_port()
        (root / "etc").mkdir()
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
def farm(tmp_path_factory, users):
    farm = Farm(tmp_path_factory.mktemp("qbroot"), users[0])
    try:
        farm.start("supervisor")
        farm.start("worker")
        wait_for(lambda: farm.hosts().get("w1", {}).get("state") == "active", what="worker w1 active")
        yield farm
    finally:
        farm.stop()


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
    """A root (qb.conf, home) owned by the desktop user, outside root's private tmp."""
    root = tempfile.mkdtemp(prefix="qbs-desktop-")
    account = pwd.getpwnam(users[1])
    for sub in ("etc", "home"):
        os.makedirs(os.path.join(root, sub))
    for path in (root, os.path.join(root, "home")):
        os.chown(path, account.pw_uid, account.pw_gid)
    yield root
    shutil.rmtree(root)


def test_desktop_user_mode_runs_as_worker_owner(farm, users, desktop_root):
    with open(os.path.join(desktop_root, "etc/qb.conf"), "w") as handle:
        handle.write(f"qb_supervisor = 127.0.0.1\nsupervisor_port = {farm.sup_port}\n"
                     f"worker_port = {free_port()}\nworker_address = 127.0.0.1\n")
    worker = farm.start("worker", user=users[1], QB_STANDIN_ROOT=desktop_root, QB_STANDIN_HOSTNAME="w2",
                        HOME=os.path.join(desktop_root, "home"))
    wait_for(lambda: worker.poll() is not None or farm.hosts().get("w2", {}).get("state") == "active",
             what="desktop worker w2")
    assert worker.poll() is None, worker.stderr.read()
    host = farm.hosts()["w2"]
    assert (host["worker_mode"], host["owner"], host["proxy_mode"]) == ("desktop", users[1], "proxy")
    job_id = farm.submit("--hosts", "w2", "--waiton", "id -un")
    assert farm.run("qbout", str(job_id)).stdout.strip() == users[1]


def test_missing_proxy_account_panics_at_boot(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/qb.conf").write_text(
        f"qb_supervisor = 127.0.0.1\nworker_port = {free_port()}\nworker_address = 127.0.0.1\n"
        "worker_lookup = local\nproxy_account = nosuchproxy\nworker_host_domain = CORP\n")
    result = subprocess.run([PYTHON, LAUNCHER, "worker"], capture_output=True, text=True, timeout=30,
                            env=dict(os.environ, QB_STANDIN_ROOT=str(tmp_path), QB_STANDIN_HOSTNAME="w9"))
    assert result.returncode != 0
    log = (tmp_path / "var/log/workerlog").read_text()
    assert "panic" in log and "CORP\\\\nosuchproxy" in log

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The POSIX validation job, run for real: throwaway users (useradd), fork, setuid, probe files.

Tests that switch identity need root and are skipped otherwise.
"""

import binascii
import os
import pwd
import shutil
import subprocess
import tempfile
import time

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import identity

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching identity needs root")


def _make_user(name, home=True, groups=None):
    argv = ["useradd", "--badname", "-s", "/bin/sh"]
    argv += ["-m"] if home else ["-M", "-d", "/nonexistent-%s" % binascii.hexlify(os.urandom(3)).decode()]
    if groups:
        argv += ["-G", ",".join(groups)]
    subprocess.run(argv + [name], check=True, capture_output=True)
    return pwd.getpwnam(name)


def _remove_user(name):
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    subprocess.run(["userdel", "-r", name], capture_output=True)


@pytest.fixture
def user_factory():
    made = []

    def make(prefix="qbt", **kwargs):
        name = "%s%s" % (prefix, binascii.hexlify(os.urandom(3)).decode())
        entry = _make_user(name, **kwargs)
        made.append(name)
        return entry

    yield make
    for name in made:
        _remove_user(name)


@pytest.fixture
def user(user_factory):
    return user_factory()


@pytest.fixture
def open_dir():
    """A directory every user can traverse (pytest's tmp_path sits below a 0700 directory)."""
    path = tempfile.mkdtemp(prefix="qube-identity-test-")
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path)


def _check(result, name):
    matches = [c for c in result["checks"] if c["name"] == name]
    assert matches, "no check %s in %r" % (name, result["checks"])
    return matches[0]


def test_candidate_names_follow_winbind_and_sssd_forms():
    assert identity.candidate_names("render", "MYCORP") == ["MYCORP\\render", "render@MYCORP"]
    assert identity.candidate_names("render") == ["render"]
    assert identity.candidate_names("MYCORP\\render", "MYCORP") == ["MYCORP\\render"]
    assert identity.candidate_names("render@mycorp.test", "MYCORP") == ["render@mycorp.test"]


def test_privilege_problems_name_each_reason():
    plain = {"user": "render", "uid": 1500, "gid": 1500, "groups": ["render", "video"], "home": "/h"}
    assert identity.privilege_problems(plain) == []
    rootish = dict(plain, uid=0, gid=0, groups=["root", "MYCORP\\Domain Admins", "wheel"])
    problems = identity.privilege_problems(rootish)
    assert problems[0] == "it is uid 0"
    assert "its primary group is gid 0" in problems
    assert "it is a member of root, MYCORP\\Domain Admins, wheel" in problems
    assert identity.privilege_problems(plain, service_account="render") == ["it is the worker's service account"]


def test_probe_path_reports_the_failed_step_and_errno(tmp_path):
    ok, detail = identity.probe_path(str(tmp_path), "w01")
    assert ok, detail
    assert os.listdir(str(tmp_path)) == []
    ok, detail = identity.probe_path(str(tmp_path / "missing"), "w01")
    assert not ok
    assert detail.startswith("create %s/.qube-probe-w01-" % (tmp_path / "missing"))
    assert detail.endswith("No such file or directory (ENOENT)")


def test_unknown_identity_lists_the_names_tried():
    result = identity.run_validation("nosuchuser-qbt", "MYCORP", timeout=5)
    assert result["ok"] is False
    assert result["error"]["code"] == "identity_unknown"
    assert "MYCORP\\nosuchuser-qbt or nosuchuser-qbt@MYCORP" in result["error"]["message"]
    assert result["checks"] == []


@needs_root
def test_validation_runs_as_the_identity_without_login_environment(user, open_dir):
    share = os.path.join(open_dir, "share")
    os.mkdir(share)
    os.chown(share, user.pw_uid, user.pw_gid)
    result = identity.run_validation(
        user.pw_name, paths=[str(share)], host="w01", timeout=20,
        command=["/bin/sh", "-c", "id -un; pwd; env | sort"])
    assert result["ok"] is True, result
    assert result["via"] == "direct" and result["platform"] == "linux"
    assert result["identity"] == {"user": user.pw_name, "uid": user.pw_uid, "gid": user.pw_gid,
                                  "groups": [user.pw_name], "home": user.pw_dir}
    assert [c["name"] for c in result["checks"]] == [
        "whoami", "uid_gid", "groups", "home", "path:%s" % share, "command"]
    assert all(c["ok"] for c in result["checks"])
    command = _check(result, "command")["detail"]
    assert command.startswith("rc=0 output: %s\n/\n" % user.pw_name)
    assert "LANG=C.UTF-8" in command and "PATH=" in command
    assert "HOME=" not in command and "USER=" not in command and "PYTEST" not in command
    assert os.listdir(share) == []  # the probe file is gone
    assert 0 < result["duration_s"] < 10


@needs_root
def test_the_checks_process_never_holds_roots_environment(user):
    """The checks run in a fresh interpreter: its initial environment block (what /proc/<pid>/environ
    shows, readable by the account itself) is the job's, not a forked copy of root's."""
    result = identity.run_validation(
        user.pw_name, timeout=20, command=["/bin/sh", "-c", "tr '\\000' '\\n' < /proc/$PPID/environ"])
    assert result["ok"] is True, result
    environ = _check(result, "command")["detail"].split("output: ", 1)[1].splitlines()
    assert "HOME=%s" % user.pw_dir in environ and "USER=%s" % user.pw_name in environ, environ
    assert not any(line.startswith(("SUDO_", "ANSIBLE_", "PYTEST")) for line in environ), environ
    assert "HOME=/root" not in environ and "USER=root" not in environ


@needs_root
def test_each_failed_check_is_reported(user_factory, open_dir):
    homeless = user_factory(home=False)
    locked = os.path.join(open_dir, "locked")
    os.mkdir(locked, 0o755)  # owned by root: the identity may not create files
    result = identity.run_validation(homeless.pw_name, paths=[locked], host="w02", timeout=20,
                                     command=["/bin/sh", "-c", "echo broken >&2; exit 3"])
    assert result["ok"] is False
    assert result["error"]["code"] == "check_failed"
    home = _check(result, "home")
    assert home == {"name": "home", "ok": False,
                    "detail": "home directory %s does not exist" % homeless.pw_dir}
    probe = _check(result, "path:%s" % locked)
    assert probe["ok"] is False
    assert probe["detail"].startswith("create %s/.qube-probe-w02-" % locked)
    assert probe["detail"].endswith("Permission denied (EACCES)")
    assert _check(result, "command") == {"name": "command", "ok": False, "detail": "rc=3 output: broken"}
    assert _check(result, "whoami")["ok"] and _check(result, "uid_gid")["ok"]
    assert "path:%s" % locked in result["error"]["message"]


@needs_root
def test_timeout_kills_the_whole_job(user):
    started = time.time()
    result = identity.run_validation(user.pw_name, timeout=1.5,
                                     command=["/bin/sh", "-c", "sleep 60 & sleep 60"])
    assert time.time() - started < 8
    assert result["ok"] is False
    assert result["error"]["code"] == "timeout"
    assert "did not finish within 1.5s (command)" in result["error"]["message"]
    last = result["checks"][-1]
    assert last == {"name": "command", "ok": False, "detail": "still running after 1.5s; the job was killed"}
    assert [c["name"] for c in result["checks"][:4]] == ["whoami", "uid_gid", "groups", "home"]
    time.sleep(0.3)
    # Killed orphans are reparented to PID 1; where PID 1 does not reap (containers, this CI VM)
    # they stay as zombies (state Z), which are dead.  Anything else survived the kill.
    ps = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-u", str(user.pw_uid)],
                        capture_output=True, text=True).stdout
    alive = [line for line in ps.splitlines() if line.split()[1][0] != "Z"]
    assert alive == [], "processes of the identity survived the timeout: %s" % alive


@needs_root
def test_privileged_identities_are_refused(user_factory):
    result = identity.run_validation("root", timeout=5)
    assert result["error"]["code"] == "privileged_identity"
    assert "refusing to run render jobs as root: it is uid 0" in result["error"]["message"]
    assert result["checks"] == []

    admin = user_factory(groups=["sudo"])
    result = identity.run_validation(admin.pw_name, timeout=5)
    assert result["error"]["code"] == "privileged_identity"
    assert "it is a member of sudo" in result["error"]["message"]
    assert "allow_privileged" in result["error"]["fix"]

    allowed = identity.run_validation(admin.pw_name, timeout=20, allow_privileged=True)
    assert allowed["ok"] is True, allowed
    assert "sudo" in allowed["identity"]["groups"]

    plain = user_factory()
    refused = identity.run_validation(plain.pw_name, timeout=5, service_account=plain.pw_name)
    assert "it is the worker's service account" in refused["error"]["message"]


@needs_root
@pytest.mark.parametrize("form", ["winbind", "sssd"])
def test_domain_accounts_resolve_in_both_name_forms(form):
    short = "qbt%s" % binascii.hexlify(os.urandom(3)).decode()
    name = "QBTEST\\%s" % short if form == "winbind" else "%s@QBTEST" % short
    _make_user(name, home=False)
    try:
        result = identity.run_validation(short, "QBTEST", timeout=20)
        assert result["identity"]["user"] == name
        assert _check(result, "whoami") == {"name": "whoami", "ok": True, "detail": "effective user %s" % name}
    finally:
        _remove_user(name)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_identity end to end in-process: fake qbhash/qblogin/qbsub/qbout executables that record
their argv (and a digest of their stdin), a real qb.conf and state directory in tmp, and for the
validation job a throwaway user (root only)."""

import binascii
import hashlib
import json
import os
import stat
import subprocess
import sys
import time
import types

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite
from ansible_collections.renderfarm.qube.plugins.modules import qube_identity

PASSWORD = "Pr0xy-Secret-5512"
NEW_PASSWORD = "Pr0xy-Secret-7781"
QB_CONF = "# Qube! worker config\nqb_supervisor = sup01  # the supervisor\n\nworker_cpus = 8\n"


def fake_program(directory, name, body):
    """An executable that logs its argv and the sha256 of its stdin, then runs ``body``."""
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n"
                     "printf '%%s\\n' \"$0${*:+ $*}\" >> %(d)s/argv.log\n"
                     "input=$(cat)\n"
                     "printf '%%s' \"$input\" | sha256sum | cut -d' ' -f1 >> %(d)s/stdin.log\n"
                     "%(body)s\n" % {"d": directory, "body": body})
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


QBHASH_BODY = "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo"


@pytest.fixture
def env(tmp_path):
    d = str(tmp_path)
    conf = os.path.join(d, "qb.conf")
    with open(conf, "w") as handle:
        handle.write(QB_CONF)
    os.chmod(conf, 0o644)
    return types.SimpleNamespace(
        dir=d, conf=conf, state=os.path.join(d, "state"),
        qbhash=fake_program(d, "qbhash", QBHASH_BODY),
        qblogin=fake_program(d, "qblogin", "exit 0"))


def run(args, check_mode=False, diff=False):
    """Run the module's main(); returns (result dict, raw stdout)."""
    args = dict(args)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args):
        old = sys.stdout
        sys.stdout = capture = _Capture()
        try:
            with pytest.raises(SystemExit):
                qube_identity.main()
        finally:
            sys.stdout = old
    raw = capture.text()
    return json.loads(raw), raw


class _Capture(object):
    def __init__(self):
        self.parts = []
        self.buffer = self

    def write(self, data):
        self.parts.append(data.decode() if isinstance(data, bytes) else data)

    def flush(self):
        pass

    def text(self):
        return "".join(self.parts)


def local_args(env, **extra):
    args = {"account": "qbtproxy", "password": PASSWORD, "register": "local", "validate": False,
            "qbhash_path": env.qbhash, "qb_conf_path": env.conf, "state_dir": env.state}
    args.update(extra)
    return args


def calls(env):
    path = os.path.join(env.dir, "argv.log")
    return open(path).read().splitlines() if os.path.exists(path) else []


def stdin_digests(env):
    return open(os.path.join(env.dir, "stdin.log")).read().split()


def assert_no_secret_anywhere(env, raw):
    """The password is in no module output, no argv, no file we wrote (and was never masked)."""
    assert PASSWORD not in raw and NEW_PASSWORD not in raw
    assert "********" not in raw, "AnsibleModule masked a secret, so one reached the output"
    for line in calls(env):
        assert PASSWORD not in line and NEW_PASSWORD not in line
    for root, _dirs, files in os.walk(env.dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                data = handle.read()
            assert PASSWORD.encode() not in data and NEW_PASSWORD.encode() not in data, name


def conf_hash(env):
    for line in open(env.conf):
        if line.startswith("proxy_password = "):
            return line.split("=", 1)[1].strip()
    return None


def test_local_registers_then_stays_unchanged(env):
    result, raw = run(local_args(env))
    assert result["changed"] is True and result["action"] == "registered"
    assert calls(env) == [env.qbhash]
    assert stdin_digests(env) == [hashlib.sha256(PASSWORD.encode()).hexdigest()]
    text = open(env.conf).read()
    assert text.startswith(QB_CONF) and text.count("\n") == QB_CONF.count("\n") + 1
    assert len(conf_hash(env)) == 64
    assert stat.S_IMODE(os.stat(env.conf).st_mode) == 0o600
    backup = result["backup_file"]
    assert open(backup).read() == QB_CONF and stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(env.state).st_mode) == 0o700
    for name in os.listdir(env.state):
        assert stat.S_IMODE(os.stat(os.path.join(env.state, name)).st_mode) == 0o600
    assert_no_secret_anywhere(env, raw)

    again, raw = run(local_args(env))
    assert again["changed"] is False and again["action"] == "unchanged"
    assert calls(env) == [env.qbhash]  # no second qbhash
    assert open(env.conf).read() == text
    assert_no_secret_anywhere(env, raw)


def test_local_password_change_and_update_password(env):
    run(local_args(env))
    first = conf_hash(env)
    kept, _raw = run(local_args(env, password=NEW_PASSWORD, update_password="on_create"))
    assert kept["changed"] is False and conf_hash(env) == first and len(calls(env)) == 1
    updated, raw = run(local_args(env, password=NEW_PASSWORD))
    assert updated["changed"] is True and updated["action"] == "updated"
    assert conf_hash(env) != first and len(calls(env)) == 2
    assert stdin_digests(env)[-1] == hashlib.sha256(NEW_PASSWORD.encode()).hexdigest()
    assert_no_secret_anywhere(env, raw)


def test_local_hand_edited_proxy_password_is_replaced(env):
    run(local_args(env))
    text = open(env.conf).read().replace(conf_hash(env), "0123abcd" * 8)
    with open(env.conf, "w") as handle:
        handle.write(text)
    result, _raw = run(local_args(env))
    assert result["action"] == "updated" and conf_hash(env) != "0123abcd" * 8


def test_on_create_keeps_a_foreign_registration(env):
    with open(env.conf, "a") as handle:
        handle.write("proxy_password = feedbeef\n")
    result, _raw = run(local_args(env, update_password="on_create"))
    assert result["changed"] is False and calls(env) == []


def test_check_mode_touches_nothing(env):
    result, raw = run(local_args(env), check_mode=True, diff=True)
    assert result["changed"] is True and result["action"] == "registered"
    assert calls(env) == [] and open(env.conf).read() == QB_CONF
    assert not os.path.exists(env.state)
    assert result["diff"]["before"] == "" and result["diff"]["after"] == "proxy_password = REDACTED (new value)\n"
    assert_no_secret_anywhere(env, raw)


def test_check_mode_skips_the_validation_of_an_account_not_created_yet(env):
    args = local_args(env, account="qbt-not-yet-created", register="none", validate=True)
    result, _raw = run(args, check_mode=True)
    assert "failed" not in result and "validation" not in result
    assert result["validation_skipped"].startswith("check mode: qbt-not-yet-created does not resolve")
    failed, _raw = run(args)  # for real, an unknown identity fails
    assert failed["failed"] is True and "does not resolve" in failed["msg"]


def test_diff_is_redacted(env):
    first, _raw = run(local_args(env), diff=True)
    hashed = conf_hash(env)
    changed, raw = run(local_args(env, password=NEW_PASSWORD), diff=True)
    assert changed["diff"]["before"] == "proxy_password = REDACTED\n"
    assert changed["diff"]["before_header"] == env.conf
    assert hashed not in raw and conf_hash(env) not in raw
    assert "diff" not in run(local_args(env))[0]  # only when diff was asked for
    assert first["diff"]["after"].startswith("proxy_password = REDACTED")


def test_central_returns_the_same_hash_until_the_password_changes(env):
    args = local_args(env, register="central")
    first, _raw = run(args)
    assert first["changed"] is True and len(first["proxy_password_hash"]) == 64
    second, _raw = run(args)
    assert second["changed"] is False and second["proxy_password_hash"] == first["proxy_password_hash"]
    assert calls(env) == [env.qbhash]
    assert open(env.conf).read() == QB_CONF  # central never touches qb.conf
    checked, _raw = run(dict(args, password=NEW_PASSWORD), check_mode=True)
    # Check mode runs no qbhash: a stand-in string predicts the qbwrk.conf change.
    assert checked["changed"] is True and checked["proxy_password_hash"] == confwrite.CHECK_MODE_HASH
    third, _raw = run(dict(args, password=NEW_PASSWORD))
    assert third["changed"] is True and third["proxy_password_hash"] != first["proxy_password_hash"]
    assert len(calls(env)) == 2


def test_qblogin_gets_the_password_on_stdin_only(env):
    """qblogin prompts for the password twice for verification (AUTH, "qblogin will prompt ... twice")."""
    args = local_args(env, register="qblogin", account="alice", domain="MYCORP", qblogin_path=env.qblogin)
    result, raw = run(args)
    assert result["changed"] is True
    assert calls(env) == ["%s --user alice --domain MYCORP" % env.qblogin]
    # $(cat) drops the final newline: both lines arrived.
    assert stdin_digests(env) == [hashlib.sha256(("%s\n%s" % (PASSWORD, PASSWORD)).encode()).hexdigest()]
    assert run(args)[0]["changed"] is False
    assert_no_secret_anywhere(env, raw)


def test_failing_qbhash_message_never_echoes_the_password(env):
    bad = fake_program(env.dir, "qbhash-bad", 'echo "cannot encrypt $input" >&2; exit 4')
    result, raw = run(local_args(env, qbhash_path=bad))
    assert result["failed"] is True
    assert result["msg"].startswith("qbtproxy: encrypting the password with %s failed (rc=4): cannot encrypt " % bad)
    assert PASSWORD not in raw
    assert open(env.conf).read() == QB_CONF


def test_bad_input_is_refused_with_a_named_message(env):
    result, _raw = run(local_args(env, password=None))
    assert result["failed"] is True and result["msg"] == "qbtproxy: register=local needs the password of qbtproxy"
    missing, _raw = run(local_args(env, qbhash_path="/nonexistent/qbhash"))
    assert "/nonexistent/qbhash is not an executable file" in missing["msg"]
    windows, _raw = run({"account": "render", "platform": "windows", "register": "none", "validate": False})
    assert windows["failed"] is True and "platform" in windows["msg"]  # Windows: qube_win_identity


def test_root_is_refused_before_anything_is_registered(env):
    result, _raw = run(local_args(env, account="root", validate=True))
    assert result["failed"] is True
    assert result["msg"].startswith("root: refusing to run render jobs as root: it is uid 0")
    assert calls(env) == [] and open(env.conf).read() == QB_CONF


def test_ad_check_failure_names_the_account(env):
    import socket
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result, raw = run({"account": "render", "domain": "mycorp.test", "password": PASSWORD, "validate": False,
                       "ad_check": {"server": "127.0.0.1", "port": port, "timeout": 3}})
    assert result["failed"] is True
    assert result["msg"].startswith("render: cannot reach the domain controller 127.0.0.1:%d" % port)
    assert result["ad_check"]["principal"] == "render@mycorp.test"
    assert PASSWORD not in raw


# --- the validation job through the module (root only) ----------------------------------------

@pytest.fixture
def proxy_user():
    if os.geteuid() != 0:
        pytest.skip("switching identity needs root")
    name = "qbt%s" % binascii.hexlify(os.urandom(3)).decode()
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    yield name
    subprocess.run(["userdel", "-r", name], capture_output=True)


def test_validation_and_qube_job_through_the_module(env, proxy_user):
    qbsub = fake_program(env.dir, "qbsub", "echo 'successfully submitted job: 99'")
    qbout = fake_program(env.dir, "qbout", "echo %s" % proxy_user)
    args = local_args(env, account=proxy_user, validate=True, validate_via_qube=True, worker_name="w07",
                      qbsub_path=qbsub, qbout_path=qbout, validation_command=["/usr/bin/id", "-un"])
    checked, raw = run(args, check_mode=True)
    assert checked["changed"] is True and checked["validation"]["ok"] is True, checked
    assert "qube_job" not in [c["name"] for c in checked["validation"]["checks"]]
    assert calls(env) == []  # no qbhash, no qbsub in check mode
    result, raw = run(args)
    validation = result["validation"]
    assert validation["ok"] is True and validation["identity"]["user"] == proxy_user
    assert [c["name"] for c in validation["checks"]] == ["whoami", "uid_gid", "groups", "home", "command", "qube_job"]
    assert calls(env) == [env.qbhash, "%s --hosts w07 --waiton /usr/bin/id -un" % qbsub, "%s 99" % qbout]
    assert result["msg"] == "credential registered; validation passed"
    assert_no_secret_anywhere(env, raw)


def test_program_defaults_follow_the_os(monkeypatch):
    """CPR qb_directory.md: the product lives in /Applications/pfx/qube on macOS."""
    import importlib
    import sys as _sys
    monkeypatch.setattr(_sys, "platform", "darwin")
    darwin = importlib.reload(qube_identity)
    try:
        assert darwin.QUBE_BIN == "/Applications/pfx/qube/bin"
    finally:
        monkeypatch.setattr(_sys, "platform", "linux")
        importlib.reload(qube_identity)
    assert qube_identity.QUBE_BIN == "/usr/local/pfx/qube/bin"


def test_central_check_mode_predicts_a_new_hash_without_running_qbhash(env):
    args = local_args(env, register="central")
    first, _raw = run(args, check_mode=True)
    assert first["changed"] and first["proxy_password_hash"] == confwrite.CHECK_MODE_HASH
    assert not os.path.exists(os.path.join(env.dir, "argv.log")), "qbhash ran in check mode"


def test_qbhash_that_prints_no_encrypted_string_fails_without_the_password(env):
    """qbhash's output format is not documented (CLI/qbhash.md): anything but one token is refused."""
    for body in ('echo "encrypted: a b c"', "true", 'printf "%s\\n" "$input"'):
        odd = fake_program(env.dir, "qbhash-odd", body)
        result, raw = run(local_args(env, register="central", qbhash_path=odd, state_dir=env.dir + "/state-" + str(len(body))))
        assert result["failed"] is True and "printed no encrypted password" in result["msg"], result
        assert PASSWORD not in raw


# --- validation cadence: the job runs when the registration is not proven yet ---

@pytest.fixture
def fake_validation(monkeypatch):
    """Count the validation jobs; their verdict is ``box['ok']`` (no real user needed)."""
    box = {"runs": 0, "ok": True}

    def run_validation(account, domain=None, **_kwargs):
        box["runs"] += 1
        check = {"name": "whoami", "ok": box["ok"], "detail": "effective user %s" % account}
        report = {"ok": box["ok"], "via": "direct", "platform": "linux", "identity": {"user": account},
                  "checks": [check], "duration_s": 0.01}
        if not box["ok"]:
            report["error"] = {"code": "check_failed", "message": "path:/srv: denied", "fix": "grant it"}
        return report

    monkeypatch.setattr(qube_identity.identity, "run_validation", run_validation)
    return box


def cadence_args(env, **extra):
    args = dict(validate=True, validation_cadence="on_change", validation_record=True)
    args.update(extra)
    return local_args(env, **args)


def proof(env):
    with open(os.path.join(env.state, "identity_proof.json")) as handle:
        return json.load(handle)


def test_on_change_validates_once_then_reports_skipped_with_the_proof_time(env, fake_validation):
    first, raw = run(cadence_args(env))
    assert first["changed"] is True and fake_validation["runs"] == 1
    assert first["validation_proof"]["this_run"] is True and first["validation_proof"]["due"] is True
    assert first["validation_proof"]["reason"] == "no record of a passed validation on this host"
    record = proof(env)
    assert record["validated_at"] == first["validation_proof"]["validated_at"] and record["identity"] == "qbtproxy"
    assert oct(os.stat(os.path.join(env.state, "identity_proof.json")).st_mode & 0o777) == "0o644"
    for check_mode in (True, False):
        again, raw2 = run(cadence_args(env), check_mode=check_mode, diff=True)
        assert again["changed"] is False and fake_validation["runs"] == 1, again
        assert "validation" not in again and again["validation_skipped"].startswith("not due (on_change): proven ")
        assert again["validation_proof"] == dict(first["validation_proof"], this_run=False, due=False,
                                                 reason=again["validation_skipped"])
        assert again["msg"] == "credential unchanged; validation not due"
        assert_no_secret_anywhere(env, raw + raw2)
    assert proof(env) == record


def test_always_validates_every_run_and_stays_unchanged(env, fake_validation):
    run(cadence_args(env, validation_cadence="always"))
    second, _raw = run(cadence_args(env, validation_cadence="always"))
    assert fake_validation["runs"] == 2 and second["changed"] is False
    assert second["validation_proof"]["reason"] == "cadence always" and second["validation"]["ok"] is True


@pytest.mark.parametrize("change, reason", [
    ({"password": NEW_PASSWORD}, "the credential was registered in this run"),
    ({"worker_changed": True}, "the worker was restarted in this run"),
    ({"validation_paths": ["/srv/renders"]}, "validation settings changed since"),
    ({"qb_conf": "worker_cpus = 16\n"}, "worker configuration"),
    ({"mode_record": '{"mode": "desktop"}\n'}, "mode"),
    ({"account": "qbtother"}, "the job identity changed (was qbtproxy)"),
    ({"age_hours": 21}, "older than the maximum age of 20 h"),
])
def test_on_change_validates_again_when_something_changed(env, fake_validation, change, reason):
    run(cadence_args(env))
    args = cadence_args(env)
    if "qb_conf" in change:
        with open(env.conf, "a") as handle:
            handle.write(change.pop("qb_conf"))
    if "mode_record" in change:
        with open(os.path.join(env.state, "worker_mode.json"), "w") as handle:
            handle.write(change.pop("mode_record"))
    if "age_hours" in change:
        record = proof(env)
        record["validated_at"] = qube_identity.identity.iso_utc(time.time() - 3600 * change.pop("age_hours"))
        with open(os.path.join(env.state, "identity_proof.json"), "w") as handle:
            json.dump(record, handle)
    args.update(change)
    checked, _raw = run(args, check_mode=True)
    assert checked["validation_proof"]["due"] is True and reason in checked["validation_proof"]["reason"], checked
    assert fake_validation["runs"] == 2
    result, _raw = run(args)
    assert result["validation_proof"]["this_run"] is True and fake_validation["runs"] == 3
    settled, _raw = run(dict(args, worker_changed=False))
    assert settled["validation_proof"]["due"] is False and fake_validation["runs"] == 3


def test_a_failed_validation_keeps_the_last_proof_time_and_runs_again(env, fake_validation):
    first, _raw = run(cadence_args(env))
    fake_validation["ok"] = False
    failed, _raw = run(cadence_args(env, validation_max_age_hours=0, worker_changed=True))
    assert failed["failed"] is True and failed["validation_proof"]["this_run"] is False
    assert failed["validation_proof"]["validated_at"] == first["validation_proof"]["validated_at"]
    assert proof(env)["basis"] is None and proof(env)["validated_at"] == first["validation_proof"]["validated_at"]
    again, _raw = run(cadence_args(env, validation_max_age_hours=0))
    assert again["failed"] is True and fake_validation["runs"] == 3, "a failure is never skipped"
    assert "changed since" in again["validation_proof"]["reason"]


def test_check_mode_writes_no_proof(env, fake_validation):
    checked, _raw = run(cadence_args(env), check_mode=True)
    assert checked["validation_proof"]["this_run"] is True and not os.path.exists(env.state)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_validation_job (the module, POSIX) end to end in-process through the shared harness
(conftest.py ``run_module``): fake qbsub/qbout, a real qb.conf and state directory in tmp, a throwaway
user for the real job (root only), a counted stand-in job for the cadence. The Windows path of the
same name: tests/unit/plugins/action/test_qube_identity_actions.py."""

import binascii
import json
import os
import subprocess
import time

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import validation_job
from ansible_collections.renderfarm.qube.plugins.modules import qube_credential, qube_validation_job
from identity_fakes import (
    NEW_PASSWORD, PASSWORD, assert_no_secret_anywhere, caller, calls, fake_program, make_env,
)


@pytest.fixture
def env(tmp_path):
    return make_env(str(tmp_path))


@pytest.fixture
def run(run_module):
    return caller(run_module, qube_validation_job)


def job_args(env, **extra):
    args = {"account": "qbtproxy", "qb_conf_path": env.conf, "state_dir": env.state}
    args.update(extra)
    return args


def register(run_module, env, password=PASSWORD):
    """The credential for the identity, as the supervisor batch or the role registers it."""
    return run_module(qube_credential, {"account": "qbtproxy", "password": password, "register": "local",
                                        "qbhash_path": env.qbhash, "qb_conf_path": env.conf, "state_dir": env.state})


def test_check_mode_skips_the_validation_of_an_account_not_created_yet(env, run):
    args = job_args(env, account="qbt-not-yet-created")
    result, _raw = run(args, check_mode=True)
    assert "failed" not in result and "validation" not in result
    assert result["validation_skipped"].startswith("check mode: qbt-not-yet-created does not resolve")
    failed, _raw = run(args)  # for real, an unknown identity fails
    assert failed["failed"] is True and "does not resolve" in failed["msg"]


def test_root_is_refused(env, run):
    result, _raw = run(job_args(env, account="root"))
    assert result["failed"] is True
    assert result["msg"].startswith("root: refusing to run render jobs as root: it is uid 0")
    assert calls(env) == []


def test_a_command_line_string_is_refused_on_posix(env, run):
    result, _raw = run(job_args(env, validation_command="id -un"))
    assert result["failed"] is True and result["msg"].startswith("qbtproxy: validation_command is an argument list")


# --- the validation job through the module (root only) ----------------------------------------

@pytest.fixture
def proxy_user():
    if os.geteuid() != 0:
        pytest.skip("switching identity needs root")
    name = "qbt%s" % binascii.hexlify(os.urandom(3)).decode()
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    yield name
    subprocess.run(["userdel", "-r", name], capture_output=True)


def test_validation_and_qube_job_through_the_module(env, run, proxy_user):
    qbsub = fake_program(env.dir, "qbsub", "echo 'successfully submitted job: 99'")
    qbout = fake_program(env.dir, "qbout", "echo %s" % proxy_user)
    args = job_args(env, account=proxy_user, validate_via_qube=True, worker_name="w07",
                      qbsub_path=qbsub, qbout_path=qbout, validation_command=["/usr/bin/id", "-un"])
    checked, raw = run(args, check_mode=True)
    assert checked["changed"] is False and checked["validation"]["ok"] is True, checked
    assert "qube_job" not in [c["name"] for c in checked["validation"]["checks"]]
    assert calls(env) == []  # no qbsub in check mode
    result, raw = run(args)
    validation = result["validation"]
    assert validation["ok"] is True and validation["identity"]["user"] == proxy_user
    assert [c["name"] for c in validation["checks"]] == ["whoami", "uid_gid", "groups", "home", "command", "qube_job"]
    assert calls(env) == ["%s --hosts w07 --waiton /usr/bin/id -un" % qbsub, "%s 99" % qbout]
    assert result["msg"] == "validation passed"
    assert_no_secret_anywhere(env, raw)


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

    monkeypatch.setattr(validation_job.identity, "run_validation", run_validation)
    return box


def cadence_args(env, **extra):
    args = dict(validation_cadence="on_change", validation_record=True)
    args.update(extra)
    return job_args(env, **args)


def proof(env):
    with open(os.path.join(env.state, "identity_proof.json")) as handle:
        return json.load(handle)


def test_on_change_validates_once_then_reports_skipped_with_the_proof_time(env, run, run_module, fake_validation):
    register(run_module, env)
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
        assert again["msg"] == "validation not due"
        assert_no_secret_anywhere(env, raw + raw2)
    assert proof(env) == record


def test_always_validates_every_run_and_stays_unchanged(env, run, fake_validation):
    run(cadence_args(env, validation_cadence="always"))
    second, _raw = run(cadence_args(env, validation_cadence="always"))
    assert fake_validation["runs"] == 2 and second["changed"] is False
    assert second["validation_proof"]["reason"] == "cadence always" and second["validation"]["ok"] is True


@pytest.mark.parametrize("change, reason", [
    ({"password": NEW_PASSWORD}, "credential, worker configuration, mode or validation settings changed since"),
    ({"worker_changed": True}, "the worker was restarted in this run"),
    ({"validation_paths": ["/srv/renders"]}, "validation settings changed since"),
    ({"qb_conf": "worker_cpus = 16\n"}, "worker configuration"),
    ({"mode_record": '{"mode": "desktop"}\n'}, "mode"),
    ({"account": "qbtother"}, "the job identity changed (was qbtproxy)"),
    ({"age_hours": 21}, "older than the maximum age of 20 h"),
])
def test_on_change_validates_again_when_something_changed(env, run, run_module, fake_validation, change, reason):
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
        record["validated_at"] = validation_job.iso_utc(time.time() - 3600 * change.pop("age_hours"))
        with open(os.path.join(env.state, "identity_proof.json"), "w") as handle:
            json.dump(record, handle)
    if "password" in change:  # the credential registered again (qube_credential) since the proof
        register(run_module, env, password=change.pop("password"))
    args.update(change)
    checked, _raw = run(args, check_mode=True)
    assert checked["validation_proof"]["due"] is True and reason in checked["validation_proof"]["reason"], checked
    assert fake_validation["runs"] == 2
    result, _raw = run(args)
    assert result["validation_proof"]["this_run"] is True and fake_validation["runs"] == 3
    settled, _raw = run(dict(args, worker_changed=False))
    assert settled["validation_proof"]["due"] is False and fake_validation["runs"] == 3


def test_a_failed_validation_keeps_the_last_proof_time_and_runs_again(env, run, fake_validation):
    first, _raw = run(cadence_args(env))
    fake_validation["ok"] = False
    failed, _raw = run(cadence_args(env, validation_max_age_hours=0, worker_changed=True))
    assert failed["failed"] is True and failed["validation_proof"]["this_run"] is False
    assert failed["validation_proof"]["validated_at"] == first["validation_proof"]["validated_at"]
    assert proof(env)["basis"] is None and proof(env)["validated_at"] == first["validation_proof"]["validated_at"]
    again, _raw = run(cadence_args(env, validation_max_age_hours=0))
    assert again["failed"] is True and fake_validation["runs"] == 3, "a failure is never skipped"
    assert "changed since" in again["validation_proof"]["reason"]


def test_check_mode_writes_no_proof(env, run, fake_validation):
    checked, _raw = run(cadence_args(env), check_mode=True)
    assert checked["validation_proof"]["this_run"] is True and not os.path.exists(env.state)

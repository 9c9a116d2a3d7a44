# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_credential (the module, POSIX) end to end in-process through the shared harness
(conftest.py ``run_module``): fake qbhash/qblogin executables that record their argv (and a digest
of their stdin), a real qb.conf and state directory in tmp. The Windows path of the same name:
tests/unit/plugins/action/test_qube_identity_actions.py."""

import hashlib
import os
import stat

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite
from ansible_collections.renderfarm.qube.plugins.modules import qube_credential
from identity_fakes import (
    NEW_PASSWORD, caller, PASSWORD, QB_CONF, assert_no_secret_anywhere, calls, fake_program, make_env, stdin_digests,
)


@pytest.fixture
def env(tmp_path):
    return make_env(str(tmp_path))


@pytest.fixture
def run(run_module):
    return caller(run_module, qube_credential)


def local_args(env, **extra):
    args = {"account": "qbtproxy", "password": PASSWORD, "register": "local",
            "qbhash_path": env.qbhash, "qb_conf_path": env.conf, "state_dir": env.state}
    args.update(extra)
    return args


def conf_hash(env):
    for line in open(env.conf):
        if line.startswith("proxy_password = "):
            return line.split("=", 1)[1].strip()
    return None


def test_local_registers_then_stays_unchanged(env, run):
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


def test_local_password_change_and_update_password(env, run):
    run(local_args(env))
    first = conf_hash(env)
    kept, _raw = run(local_args(env, password=NEW_PASSWORD, update_password="on_create"))
    assert kept["changed"] is False and conf_hash(env) == first and len(calls(env)) == 1
    updated, raw = run(local_args(env, password=NEW_PASSWORD))
    assert updated["changed"] is True and updated["action"] == "updated"
    assert conf_hash(env) != first and len(calls(env)) == 2
    assert stdin_digests(env)[-1] == hashlib.sha256(NEW_PASSWORD.encode()).hexdigest()
    assert_no_secret_anywhere(env, raw)


def test_local_hand_edited_proxy_password_is_replaced(env, run):
    run(local_args(env))
    text = open(env.conf).read().replace(conf_hash(env), "0123abcd" * 8)
    with open(env.conf, "w") as handle:
        handle.write(text)
    result, _raw = run(local_args(env))
    assert result["action"] == "updated" and conf_hash(env) != "0123abcd" * 8


def test_on_create_keeps_a_foreign_registration(env, run):
    with open(env.conf, "a") as handle:
        handle.write("proxy_password = feedbeef\n")
    result, _raw = run(local_args(env, update_password="on_create"))
    assert result["changed"] is False and calls(env) == []


def test_check_mode_touches_nothing(env, run):
    result, raw = run(local_args(env), check_mode=True, diff=True)
    assert result["changed"] is True and result["action"] == "registered"
    assert calls(env) == [] and open(env.conf).read() == QB_CONF
    assert not os.path.exists(env.state)
    assert result["diff"]["before"] == "" and result["diff"]["after"] == "proxy_password = REDACTED (new value)\n"
    assert_no_secret_anywhere(env, raw)


def test_diff_is_redacted(env, run):
    first, _raw = run(local_args(env), diff=True)
    hashed = conf_hash(env)
    changed, raw = run(local_args(env, password=NEW_PASSWORD), diff=True)
    assert changed["diff"]["before"] == "proxy_password = REDACTED\n"
    assert changed["diff"]["before_header"] == env.conf
    assert hashed not in raw and conf_hash(env) not in raw
    assert "diff" not in run(local_args(env))[0]  # only when diff was asked for
    assert first["diff"]["after"].startswith("proxy_password = REDACTED")


def test_central_returns_the_same_hash_until_the_password_changes(env, run):
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


def test_qblogin_gets_the_password_on_stdin_only(env, run):
    """qblogin prompts for the password twice for verification (AUTH, "qblogin will prompt ... twice")."""
    args = local_args(env, register="qblogin", account="alice", domain="MYCORP", qblogin_path=env.qblogin)
    result, raw = run(args)
    assert result["changed"] is True
    assert calls(env) == ["%s --user alice --domain MYCORP" % env.qblogin]
    # $(cat) drops the final newline: both lines arrived.
    assert stdin_digests(env) == [hashlib.sha256(("%s\n%s" % (PASSWORD, PASSWORD)).encode()).hexdigest()]
    assert run(args)[0]["changed"] is False
    assert_no_secret_anywhere(env, raw)


def test_failing_qbhash_message_never_echoes_the_password(env, run):
    bad = fake_program(env.dir, "qbhash-bad", 'echo "cannot encrypt $input" >&2; exit 4')
    result, raw = run(local_args(env, qbhash_path=bad))
    assert result["failed"] is True
    assert result["msg"].startswith("qbtproxy: encrypting the password with %s failed (rc=4): cannot encrypt " % bad)
    assert PASSWORD not in raw
    assert open(env.conf).read() == QB_CONF


def test_bad_input_is_refused_with_a_named_message(env, run):
    result, _raw = run(local_args(env, password=None))
    assert result["failed"] is True and result["msg"] == "qbtproxy: register=local needs the password of qbtproxy"
    missing, _raw = run(local_args(env, qbhash_path="/nonexistent/qbhash"))
    assert "/nonexistent/qbhash is not an executable file" in missing["msg"]
    nowhere, _raw = run(local_args(env, register="none"))
    assert nowhere["failed"] is True and "register" in nowhere["msg"]


def test_program_defaults_follow_the_os(monkeypatch):
    """CPR qb_directory.md: the product lives in /Applications/pfx/qube on macOS."""
    import importlib
    import sys as _sys
    monkeypatch.setattr(_sys, "platform", "darwin")
    darwin = importlib.reload(qube_credential)
    try:
        assert darwin.QUBE_BIN == "/Applications/pfx/qube/bin"
    finally:
        monkeypatch.setattr(_sys, "platform", "linux")
        importlib.reload(qube_credential)
    assert qube_credential.QUBE_BIN == "/usr/local/pfx/qube/bin"


def test_central_check_mode_predicts_a_new_hash_without_running_qbhash(env, run):
    args = local_args(env, register="central")
    first, _raw = run(args, check_mode=True)
    assert first["changed"] and first["proxy_password_hash"] == confwrite.CHECK_MODE_HASH
    assert not os.path.exists(os.path.join(env.dir, "argv.log")), "qbhash ran in check mode"


def test_qbhash_that_prints_no_encrypted_string_fails_without_the_password(env, run):
    """qbhash's output format is not documented (CLI/qbhash.md): anything but one token is refused."""
    for body in ('echo "encrypted: a b c"', "true", 'printf "%s\\n" "$input"'):
        odd = fake_program(env.dir, "qbhash-odd", body)
        result, raw = run(local_args(env, register="central", qbhash_path=odd, state_dir=env.dir + "/state-" + str(len(body))))
        assert result["failed"] is True and "printed no encrypted password" in result["msg"], result
        assert PASSWORD not in raw

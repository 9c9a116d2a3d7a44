"""Command lines the product does not have are refused; qblogin asks for the password twice.

Each option list is the vendor's (advanced-users-guide/command-line-reference/<cmd>.md); the
stand-in models a subset and must refuse everything else, abbreviations included.
These cases fail before any supervisor is contacted, so no farm is needed.
"""

import os
import subprocess
import sys

import pytest
from conftest import LAUNCHER

from qube_standin import secret

PASSWORD = "Tw1ce-asked"
NO_SUPERVISOR = {"QB_STANDIN_ROOT": "/nonexistent-qube-standin-root", "QB_SUPERVISOR": ""}


def run(*args, stdin=""):
    return subprocess.run([sys.executable, LAUNCHER, *args], input=stdin, capture_output=True, text=True,
                          timeout=30, env=dict(os.environ, **NO_SUPERVISOR))


@pytest.mark.parametrize("argv, bad", [
    (["qbconfigfile", "--host", "render01", "/etc/qbwrk.conf"], "--host"),
    (["qbconfigfile", "/etc/qbwrk.conf", "--os", "linux"], "--os"),
    (["qbconfigfile", "/etc/qbwrk.conf", "--hos", "render01"], "--hos"),
    (["qbadmin", "worker", "--reconfigure", "render01"], "render01"),
    (["qbadmin", "w", "--reconfigure", "render01", "render02"], "render01 render02"),
    (["qbsub", "--host", "render01", "echo", "hi"], "--host"),
    (["qbsub", "--ho", "render01", "echo", "hi"], "--ho"),
    (["qbsub", "--prio", "3", "echo", "hi"], "--prio"),
    (["qbsub", "--wait", "echo", "hi"], "--wait"),
    (["qbjobs", "--stat", "1"], "--stat"),
    (["qbjobs", "--x"], "--x"),
    (["qbhosts", "--xm"], "--xm"),
    (["qbhosts", "--lon"], "--lon"),
    (["qblock", "--pur", "render01"], "--pur"),
    (["qbunlock", "--purge", "render01"], "--purge"),
    (["qblogin", "--pass", "x"], "--pass"),
    (["qblogin", "--disp"], "--disp"),
    (["qbhash", "--pass", "x"], "--pass"),
    (["qbout", "--foll", "1"], "--foll"),
])
def test_unknown_or_abbreviated_options_are_refused(argv, bad):
    result = run(*argv)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"unrecognized arguments: {bad}" in result.stderr


@pytest.mark.parametrize("argv", [["qbadmin", "w", "--reconfigu"], ["qbadmin", "s", "--rere"]])
def test_qbadmin_abbreviations_are_refused(argv):
    result = run(*argv)
    assert result.returncode == 2 and "required" in result.stderr


@pytest.mark.parametrize("argv", [["qbsub", "--version"], ["qbconfigfile", "--version"], ["qbhash", "--version"]])
def test_every_command_has_version(argv):
    result = run(*argv)
    assert result.returncode == 0 and "8.0.0" in result.stdout


def test_qblogin_display_asks_twice_and_prints_the_encrypted_password():
    result = run("qblogin", "--display", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert secret.decrypt(result.stdout.strip()) == PASSWORD


@pytest.mark.parametrize("stdin", [f"{PASSWORD}\n", f"{PASSWORD}\nsomething-else\n", f"{PASSWORD}\n\n"])
def test_qblogin_refuses_a_missing_or_different_second_password(stdin):
    for args in (["--display"], []) + ((["--user", "someone"],) if os.geteuid() == 0 else ()):
        result = run("qblogin", *args, stdin=stdin)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.strip() == "qblogin: passwords do not match"
        assert result.stdout == "" and PASSWORD not in result.stderr


def test_qbhash_reads_the_password_once():
    result = run("qbhash", stdin=f"{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert secret.decrypt(result.stdout.strip()) == PASSWORD

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes shared by the identity module tests (test_qube_credential.py, test_qube_validation_job.py):
Qube! programs that record their argv (and a digest of their stdin), a qb.conf and a state
directory in tmp, and the secret scan of everything a run left behind."""

import os
import stat
import types

PASSWORD = "Pr0xy-Secret-5512"
NEW_PASSWORD = "Pr0xy-Secret-7781"
QB_CONF = "# Qube! worker config\nqb_supervisor = sup01  # the supervisor\n\nworker_cpus = 8\n"
QBHASH_BODY = "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'; echo"


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


def caller(run_module, module):
    """``call(args, check_mode, diff)`` -> (result, raw JSON) of ``module`` through the shared harness."""
    def call(args, check_mode=False, diff=False):
        result = run_module(module, args, check_mode=check_mode, diff=diff)
        return result, run_module.raw
    return call


def make_env(directory):
    conf = os.path.join(directory, "qb.conf")
    with open(conf, "w") as handle:
        handle.write(QB_CONF)
    os.chmod(conf, 0o644)
    return types.SimpleNamespace(
        dir=directory, conf=conf, state=os.path.join(directory, "state"),
        qbhash=fake_program(directory, "qbhash", QBHASH_BODY),
        qblogin=fake_program(directory, "qblogin", "exit 0"))


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

"""qbhash scheme of the stand-in: reversible, salted, at least 64 hex characters."""

import re
import subprocess
import sys

import pytest
from conftest import LAUNCHER

from qube_standin import secret

PASSWORD = "Pip3lin3P@$$wd"


def test_round_trip_and_salting():
    first, second = secret.encrypt(PASSWORD), secret.encrypt(PASSWORD)
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{64,}", first)
    assert secret.decrypt(first) == secret.decrypt(second) == PASSWORD
    assert secret.same_password(first, second)
    assert not secret.same_password(first, secret.encrypt("other"))


@pytest.mark.parametrize("password", ["", "x", "é" * 40, "a" * 255])
def test_round_trip_lengths(password):
    assert secret.decrypt(secret.encrypt(password)) == password


def test_tampering_is_detected():
    token = secret.encrypt(PASSWORD)
    tampered = token[:40] + ("0" if token[40] != "0" else "1") + token[41:]
    with pytest.raises(secret.SecretError):
        secret.decrypt(tampered)
    with pytest.raises(secret.SecretError):
        secret.decrypt("zz")


def test_qbhash_reads_stdin_and_never_echoes_the_password():
    runs = [subprocess.run([sys.executable, LAUNCHER, "qbhash"], input=PASSWORD + "\n",
                           capture_output=True, text=True, check=True) for _ in range(2)]
    outputs = [run.stdout.strip() for run in runs]
    assert outputs[0] != outputs[1]
    assert all(secret.decrypt(out) == PASSWORD for out in outputs)
    assert all(PASSWORD not in run.stdout + run.stderr for run in runs)

"""identity_ad: jobs run as MYCORP\\renderproxy; each failing AD state has its own message."""
import json
import os
import shlex
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "identity_local", "tests"))
from identity_checks import REPO, job_output, lab_host, run_playbook  # noqa: E402

WORKER = "id06"
AD_CHECK = os.path.join(REPO, "molecule", "identity_ad", "ad_check.yml")
SERVER = "dc1.mycorp.test:636"


def lab_passwords():
    """The test-only passwords of the lab DC (tests/lab/ad-users.env)."""
    values = {}
    with open(os.path.join(REPO, "tests", "lab", "ad-users.env")) as handle:
        for line in handle:
            key, sep, raw = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key] = shlex.split(raw)[0]
    return values


PASSWORDS = lab_passwords()
USER_PASSWORD = PASSWORDS["QLAB_AD_USER_PASSWORD"]
SECRETS = tuple(PASSWORDS.values())


def ad_check(account, password):
    """Run ad_check.yml for one account, the password in a 0600 vars file: (rc, output)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ad-password.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"ad_password": password}, handle)
        rc, _, out, _ = run_playbook(AD_CHECK, {"account": account}, extra_vars_file=path,
                                     secrets=SECRETS + (password,))
    return rc, out


def test_proxy_mode_job_runs_as_the_ad_account():
    host = lab_host(WORKER)
    assert job_output(host, WORKER, "id -un") == "MYCORP\\renderproxy"


def test_ad_account_home_created_and_owned():
    host = lab_host(WORKER)
    home = host.check_output("getent passwd 'MYCORP\\renderproxy' | cut -d: -f6")
    assert host.file(home).is_directory
    assert host.file(home).user == "MYCORP\\renderproxy"


def test_correct_password_passes_the_ad_check():
    rc, out = ad_check("renderproxy", USER_PASSWORD)
    assert rc == 0, out[-2000:]


@pytest.mark.parametrize("account, wrong, expected", [
    ("renderproxy", True, "the password given for renderproxy@MYCORP.TEST is wrong (LDAP 49, data 52e)"),
    ("disableduser", False, "the account disableduser@MYCORP.TEST is disabled (LDAP 49, data 533)"),
    ("expireduser", False, "the account expireduser@MYCORP.TEST has expired (LDAP 49, data 701)"),
    ("mustchange", False, "mustchange@MYCORP.TEST must change its password at next logon (LDAP 49, data 773)"),
    ("lockeduser", False, "the account lockeduser@MYCORP.TEST is locked out (too many bad passwords) (LDAP 49, data 775)"),
])
def test_each_failing_ad_state_has_its_own_message(account, wrong, expected):
    password = USER_PASSWORD + "-not-it" if wrong else USER_PASSWORD
    rc, out = ad_check(account, password)
    assert rc != 0
    assert "AD refused the password check on %s: %s" % (SERVER, expected) in out, out[-2000:]
    assert "Fix:" in out

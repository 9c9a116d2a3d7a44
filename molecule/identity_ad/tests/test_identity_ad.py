"""identity_ad: jobs run as MYCORP\\renderproxy; each failing AD state has its own message."""
import os
import shlex

import pytest

from identity_checks import run_with_secret_vars
from molecule_lab import REPO, job_output, lab_host

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
    rc, _, out, _ = run_with_secret_vars(AD_CHECK, {"ad_password": password}, {"account": account},
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

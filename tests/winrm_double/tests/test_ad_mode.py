"""AD mode: the lab's Samba AD DC decides every logon the WinRM double sees.

* the ADMIN's WinRM logon (NTLM of the HTTP connection itself): :class:`SambaNTLMAcceptor` asks
  ``ntlm_auth --helper-protocol=ntlm-server-1`` running ON THE DC over the lab's ssh (one long-lived
  child process; only NTLM messages cross it, never a password);
* the validation logon of the job identity: :class:`LdapPasswordDecider` (LDAPS bind to the DC).

Environment: QUBE_TEST_DC (IP of the DC; unset = these tests skip), QUBE_TEST_DC_PASSWORD (password
of the lab's AD users, tests/lab/ad-users.env), QUBE_TEST_DC_DOMAIN (NetBIOS name, default MYCORP),
QUBE_TEST_DC_SSH_KEY (default $QLAB_DIR/ssh/id_ed25519).  Run inside the lab namespace:
``tests/lab/lab.sh exec .venv/bin/pytest tests/winrm_double/tests/test_ad_mode.py``.  With
QUBE_TEST_DC set, an unreachable DC is a failure, not a skip.
"""

import base64

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble
from tests.winrm_double.acceptors import SambaNTLMAcceptor
from tests.winrm_double.adlogon import LdapPasswordDecider
from tests.winrm_double.ansible_connection import executor, winrm_connection
from tests.winrm_double.lab_dc import ADMIN, DC, DOMAIN, PW

SHARE = "\\\\fs01\\renders"

pytestmark = pytest.mark.skipif(not DC, reason="QUBE_TEST_DC is not set (no lab domain controller)")


def ad_host():
    """The fake worker: domain accounts with batch-logon rights, a share writable by ``renderers``."""
    names = ("renderproxy", "someuser", "disableduser", "expireduser", "mustchange")
    return FakeWindowsHost(
        accounts=[LocalAccount("%s\\%s" % (DOMAIN, n), "", rights={"SeBatchLogonRight"},
                               groups=["%s\\Domain Users" % DOMAIN, "%s\\renderers" % DOMAIN]) for n in names],
        shares={SHARE: {"%s\\renderers" % DOMAIN: "rw"}}, decide_password=LdapPasswordDecider(DC))


@pytest.fixture
def ad_worker(helper):
    """The double with both logons decided by the DC; yields (double, host, helper)."""
    host = ad_host()
    double = WinRMDouble(lambda: SambaNTLMAcceptor(helper), host).start()
    del helper.decisions[:]
    yield double, host, helper
    double.stop()


def connect(double, user, password):
    return winrm.Session(double.url, auth=(user, password), transport="ntlm", message_encryption="always", proxy=None)


# -- the admin's WinRM logon ----------------------------------------------------------------------

@pytest.mark.parametrize("user", [ADMIN, "winrmadmin@%s.test" % DOMAIN.lower()], ids=["netbios", "upn"])
def test_admin_logon_accepted_by_the_dc_runs_a_command(ad_worker, user):
    double, _, helper = ad_worker
    result = connect(double, user, PW).run_cmd("whoami")
    assert result.status_code == 0 and result.std_out == user.lower().encode() + b"\r\n"
    assert helper.decisions == [(user, "NT_STATUS_OK")]
    assert [r.status for r in double.requests[:2]] == [401, 401]
    assert all(r.encrypted for r in double.requests if r.soap) and double.service.open_shells == 0
    assert PW.encode() not in b"".join(r.wire for r in double.requests)


@pytest.mark.parametrize("user, password, why", [
    (ADMIN, "wrong-" + PW, "the value provided as the current password is not correct"),
    ("%s\\disableduser" % DOMAIN, PW, "account is currently disabled"),
    ("%s\\expireduser" % DOMAIN, PW, "account has expired"),
    ("%s\\mustchange" % DOMAIN, PW, "password must be changed before logging on the first time"),
    ("%s\\nosuchuser" % DOMAIN, PW, "account does not exist"),
], ids=["wrong-password", "disabled", "expired", "must-change", "unknown"])
def test_admin_logon_refused_by_the_dc_is_a_401(ad_worker, user, password, why):
    double, _, helper = ad_worker
    with pytest.raises(InvalidCredentialsError):
        connect(double, user, password).run_cmd("whoami")
    assert [u for u, _ in helper.decisions] == [user] and why in helper.decisions[0][1]
    assert not any(r.soap for r in double.requests) and double.service.executed == []


def test_wrong_passwords_lock_the_account_at_the_dc(ad_worker):
    """lockeduser has a lockout PSO (threshold 3): bad WinRM logons lock it, then the right one is refused."""
    double, _, helper = ad_worker
    user = "%s\\lockeduser" % DOMAIN
    for _ in range(4):
        with pytest.raises(InvalidCredentialsError):
            connect(double, user, "wrong-" + PW).run_cmd("whoami")
    with pytest.raises(InvalidCredentialsError):
        connect(double, user, PW).run_cmd("whoami")
    assert "locked" in helper.decisions[-1][1], helper.decisions


def test_mic_is_checked_after_the_dc_said_yes(ad_worker):
    """An AUTHENTICATE whose flags were altered in transit: the NT response is still right (the DC
    accepts it) but the MIC no longer matches, so the double refuses the connection."""
    import spnego
    double, _, helper = ad_worker
    client = spnego.client(ADMIN, PW, protocol="ntlm")
    http = requests.Session()
    http.trust_env = False

    def post(token):
        return http.post(double.url, data=b"", headers={
            "Authorization": "Negotiate " + base64.b64encode(token).decode(), "Content-Length": "0"})
    challenge = post(client.step()).headers["WWW-Authenticate"].split()[1]
    authenticate = bytearray(client.step(base64.b64decode(challenge)))
    authenticate[60] ^= 0x04  # NTLMSSP_REQUEST_TARGET in NegotiateFlags: covered by the MIC only
    assert post(bytes(authenticate)).status_code == 401
    assert helper.decisions == [(ADMIN, "bad MIC")]


def test_helper_is_restarted_when_its_ssh_child_died(ad_worker):
    double, _, helper = ad_worker
    assert connect(double, ADMIN, PW).run_cmd("hostname").status_code == 0
    child = helper._proc
    child.kill()
    child.wait(5)
    assert connect(double, ADMIN, PW).run_cmd("hostname").status_code == 0
    assert helper._proc is not child and helper.decisions == [(ADMIN, "NT_STATUS_OK")] * 2


# -- the identity engine through Ansible's winrm connection plugin, every logon decided by the DC ----

@pytest.mark.parametrize("account, password, code", [
    ("someuser", PW, None), ("someuser", "wrong-" + PW, "wrong_password"),
    ("disableduser", PW, "account_disabled"), ("expireduser", PW, "account_expired"),
    ("mustchange", PW, "password_must_change")],
    ids=["good", "wrong-password", "disabled", "expired", "must-change"])
def test_validation_logon_is_decided_by_the_dc(ad_worker, account, password, code):
    from ansible_collections.renderfarm.qube.plugins.action.qube_win_identity import SCRIPTS_DIR
    from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
    double, _, helper = ad_worker
    connection = winrm_connection(double.port, ADMIN, PW)
    try:
        result = winrm_identity.run(dict(account=account, domain=DOMAIN, password=password, register="none",
                                         validate=True), False, executor(connection),
                                    winrm_identity.load_scripts(SCRIPTS_DIR), where="win01")
    finally:
        connection.close()
    assert (result["validation"].get("error") or {}).get("code") == code
    assert helper.decisions == [(ADMIN, "NT_STATUS_OK")]
    assert password not in repr(result)

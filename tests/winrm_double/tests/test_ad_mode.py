"""AD mode: the lab's Samba DC decides passwords.  Skips unless QUBE_TEST_DC names a reachable DC.

Environment: QUBE_TEST_DC (IP of the DC), QUBE_TEST_DC_DOMAIN (NetBIOS name, default MYCORP),
QUBE_TEST_DC_PASSWORD (password of the lab users, default the lab's documented one),
QUBE_TEST_DC_SMBCONF (smb.conf for ntlm_auth; the admin-connection test also needs winbindd of the DC
at /run/samba/winbindd, i.e. run inside the lab namespace with the bind mount).
"""

import os
import shutil
import socket
import sys

import pytest

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble
from tests.winrm_double.acceptors import SambaNTLMAcceptor, user_table_acceptor
from tests.winrm_double.adlogon import LdapPasswordDecider

DC = os.environ.get("QUBE_TEST_DC", "")
DOMAIN = os.environ.get("QUBE_TEST_DC_DOMAIN", "MYCORP")
PW = os.environ.get("QUBE_TEST_DC_PASSWORD", "Render-Pass-2024!")


def _reachable(host, port=636):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not DC or not _reachable(DC),
                                reason="no domain controller: set QUBE_TEST_DC to a reachable lab DC (LDAPS 636)")


@pytest.fixture
def ad_worker():
    names = ("someuser", "disableduser", "expireduser", "mustchange")
    host = FakeWindowsHost(accounts=[LocalAccount("%s\\%s" % (DOMAIN, n), "", rights={"SeBatchLogonRight"})
                                     for n in names], decide_password=LdapPasswordDecider(DC))
    double = WinRMDouble(user_table_acceptor({"WINWORKER01\\admin": "Lab-Admin-1"}), host).start()
    yield double
    double.stop()


@pytest.mark.parametrize("account, password, code", [
    ("someuser", PW, None), ("someuser", "wrong-" + PW, "wrong_password"),
    ("disableduser", PW, "account_disabled"), ("expireduser", PW, "account_expired"),
    ("mustchange", PW, "password_must_change")])
def test_validation_logon_is_decided_by_the_dc(ad_worker, account, password, code):
    sys.path.insert(0, os.environ.get("QUBE_TEST_COLLECTIONS", "/tmp/renderfarm-qube-pytest-%d" % os.getuid()))
    from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
    result = winrm_identity.run(dict(account=account, domain=DOMAIN, password=password, register="none",
                                     validate=True, winrm_host="127.0.0.1", winrm_port=ad_worker.port,
                                     winrm_user="WINWORKER01\\admin", winrm_password="Lab-Admin-1"), False)
    assert (result["validation"].get("error") or {}).get("code") == code
    assert password not in repr(result)


@pytest.mark.skipif(not shutil.which("ntlm_auth") or not os.path.exists("/run/samba/winbindd/pipe"),
                    reason="ntlm_auth or the DC's winbindd socket is not available here")
def test_admin_connection_checked_by_the_dc():
    import winrm
    from winrm.exceptions import InvalidCredentialsError
    conf = os.environ.get("QUBE_TEST_DC_SMBCONF")
    double = WinRMDouble(lambda: SambaNTLMAcceptor(configfile=conf), FakeWindowsHost()).start()
    try:
        good = winrm.Session(double.url, auth=("%s\\someuser" % DOMAIN, PW), transport="ntlm",
                             message_encryption="always", proxy=None).run_cmd("whoami")
        assert good.status_code == 0
        with pytest.raises(InvalidCredentialsError):
            winrm.Session(double.url, auth=("%s\\someuser" % DOMAIN, "wrong"), transport="ntlm",
                          message_encryption="always", proxy=None).run_cmd("whoami")
    finally:
        double.stop()

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
import json
import os
import re
import subprocess
import sys
import uuid

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
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

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
    from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import SCRIPTS_DIR
    from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
    double, _, helper = ad_worker
    connection = winrm_connection(double.port, ADMIN, PW)
    try:
        steps = winrm_identity.Steps(executor(connection), winrm_identity.load_scripts(SCRIPTS_DIR), "win01")
        result = winrm_identity.validate(dict(account=account, domain=DOMAIN, password=password), steps)
    finally:
        connection.close()
    assert (result["validation"].get("error") or {}).get("code") == code
    assert helper.decisions == [(ADMIN, "NT_STATUS_OK")]
    assert password not in repr(result)


# -- qube_credential and qube_validation_job through ansible-playbook and Ansible's own winrm connection plugin ----------
#
# The inventory says ``ansible_connection: winrm``, ``ansible_winrm_transport: ntlm``,
# ``ansible_winrm_message_encryption: always`` over http, as a studio's would; the WinRM double runs in
# AD mode: the admin's logon (the connection's NTLM) is decided by ``ntlm_auth`` on the lab's Samba DC
# and every validation logon by an LDAPS bind to it.  So the connection plugin, pywinrm, the
# powershell shell plugin, the collection's action plugin and its ``.ps1`` scripts all run as on a
# real farm; only the Windows host is the double.  Canary: the DC users' password and a wrong one must
# not appear in the -vvvv output, in any command line the double ran, or in a script it received.

WRONG = "Wr0ng-canary-%s" % uuid.uuid4().hex
QB_CONF = "c:\\programdata\\pfx\\qube\\qb.conf"


def fake_worker():
    """Domain accounts as the DC has them; someuser lacks the batch-logon right on this worker;
    renderers may write \\\\fs01\\renders and only read \\\\fs01\\library."""
    groups = ["%s\\Domain Users" % DOMAIN, "%s\\renderers" % DOMAIN]
    accounts = [LocalAccount("%s\\%s" % (DOMAIN, n), "", rights={"SeBatchLogonRight"}, groups=groups)
                for n in ("renderproxy", "disableduser", "expireduser", "mustchange", "lockeduser")]
    accounts.append(LocalAccount("%s\\someuser" % DOMAIN, "", rights={"SeNetworkLogonRight"}, groups=groups))
    return FakeWindowsHost(accounts=accounts, decide_password=LdapPasswordDecider(DC), shares={
        "\\\\fs01\\renders": {"%s\\renderers" % DOMAIN: "rw"}, "\\\\fs01\\library": {"%s\\renderers" % DOMAIN: "r"}})


def write_private(path, text):
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@pytest.fixture(scope="module")
def playbook_run(helper, tmp_path_factory, collections_dir):
    """One ansible-playbook -vvvv run of win_identity.yml; yields (proc output, results, double, host, helper)."""
    host = fake_worker()
    double = WinRMDouble(lambda: SambaNTLMAcceptor(helper), host).start()
    del helper.decisions[:]
    private = tmp_path_factory.mktemp("win-identity")
    os.chmod(str(private), 0o700)
    results = private / "results"
    results.mkdir(mode=0o700)
    inventory = {"all": {"children": {"windows": {
        "vars": {"ansible_connection": "winrm", "ansible_host": "127.0.0.1", "ansible_port": double.port,
                 "ansible_winrm_scheme": "http", "ansible_winrm_transport": "ntlm",
                 "ansible_winrm_message_encryption": "always", "ansible_user": ADMIN,
                 "ansible_password": "{{ admin_password }}"},
        "hosts": {"win01": {}},
        "children": {"bad_admins": {"hosts": {
            "win01_wrong_admin": {"ansible_password": "{{ wrong_password }}"},
            "win01_disabled_admin": {"ansible_user": "%s\\disableduser" % DOMAIN}}}}}}}}
    write_private(private / "inventory.json", json.dumps(inventory))
    write_private(private / "vars.json", json.dumps({
        "admin_password": PW, "proxy_password": PW, "wrong_password": WRONG, "ad_domain": DOMAIN,
        "results_dir": str(results), "ansible_python_interpreter": sys.executable}))
    # QUBE_REPORT_DIR: the farm report callback writes into the private folder, not into reports/.
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", QUBE_REPORT_DIR=str(private),
               ANSIBLE_COLLECTIONS_PATH=collections_dir, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    argv = [playbook, "-vvvv", "-i", str(private / "inventory.json"), "-e", "@%s" % (private / "vars.json"),
            os.path.join(HERE, "win_identity.yml")]
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                          check=False)
    output = proc.stdout.decode("utf-8", "replace")
    got = {p.stem: json.loads(p.read_text()) for p in results.iterdir()}
    try:
        yield proc.returncode, output, got, double, host, list(helper.decisions)
    finally:
        double.stop()


def test_playbook_ran_through_the_winrm_connection(playbook_run):
    rc, output, got, double, _host, _decisions = playbook_run
    assert rc == 0, output[-4000:]
    recap = output.split("PLAY RECAP", 1)[1]
    # check mode before, first registration, qblogin and the two results files changed; the 2 refused tasks
    # were ignored; the role's play (include_role, validate, qblogin, set_fact) changed nothing. (15 before
    # issue #17: the identity role's dependency worker_restart no longer adds an argument-validation task.)
    assert re.search(r"^win01\s+: ok=14\s+changed=5\s+unreachable=0\s+failed=0\s+.*ignored=2", recap, re.M), recap
    for name in ("win01_disabled_admin", "win01_wrong_admin"):
        assert re.search(r"^%s\s+: ok=2\s+changed=1\s+.*ignored=1" % name, recap, re.M), recap
    assert "ESTABLISH WINRM CONNECTION FOR USER: %s" % ADMIN in output
    assert set(got) == {"win01", "role", "win01_wrong_admin", "win01_disabled_admin"}, output[-3000:]
    bodies = [r for r in double.requests if r.soap]
    assert bodies and all(r.encrypted for r in bodies)


def test_register_validate_idempotent_and_check_mode(playbook_run):
    _rc, output, got, _double, host, _decisions = playbook_run
    r = got["win01"]
    assert r["check_before"]["changed"] and r["check_before"]["action"] == "registered", r["check_before"]
    first, second, validation = r["first"], r["second"], r["validation"]
    assert first["changed"] and first["action"] == "registered" and not first.get("failed"), first
    assert len(first["proxy_password_hash"]) >= 64 and second["proxy_password_hash"] == first["proxy_password_hash"]
    assert validation["validation"]["ok"] and not validation["changed"], validation
    assert validation["validation"]["identity"]["user"] == "%s\\renderproxy" % DOMAIN
    assert [c["name"] for c in validation["validation"]["checks"]] == ["logon"] + [
        "path:%s:\\\\fs01\\renders\\shots" % op for op in ("read", "write", "delete")]
    assert not second["changed"] and second["action"] == "unchanged", second
    assert not r["check_after"]["changed"], r["check_after"]
    assert "proxy_password" not in host.files.get(QB_CONF, "")  # never the local qb.conf on Windows
    assert r["qblogin"]["action"] == "registered" and r["qblogin"]["changed"]
    programs = [c["program"] for c in host.calls if c["program"] != "powershell"]
    assert programs == ["qbhash", "qblogin"], programs
    assert "diff" not in first  # no --diff given


def test_the_roles_windows_task_file_calls_the_plugin_on_the_hosts_connection(playbook_run):
    _rc, _output, got, _double, _host, _decisions = playbook_run
    role = got["role"]
    assert role["validation"]["ok"] and role["validation"]["platform"] == "windows", role
    assert not role["result"]["changed"] and not role["result"]["failed"], role["result"]
    assert [c["name"] for c in role["validation"]["checks"]][0] == "logon"


@pytest.mark.parametrize("index, code, number", [
    (0, "wrong_password", 1326), (1, "account_disabled", 1331), (2, "account_expired", 1793),
    (3, "password_must_change", 1907), (4, "account_locked", 1909), (5, "logon_type_not_granted", 1385)],
    ids=["wrong-password", "disabled", "expired", "must-change", "locked", "no-batch-right"])
def test_refused_validation_logons_are_named(playbook_run, index, code, number):
    _rc, _output, got, _double, _host, _decisions = playbook_run
    result = got["win01"]["refused"][index]
    error = result["validation"]["error"]
    assert result["failed"] and error["code"] == code and "(error %d" % number in error["message"], result
    assert "%s\\%s" % (DOMAIN, result["item"]) in error["message"] and error["fix"] in result["msg"]


def test_read_only_share_is_access_denied(playbook_run):
    _rc, _output, got, _double, _host, _decisions = playbook_run
    result = got["win01"]["read_only"]
    checks = {c["name"]: c["ok"] for c in result["validation"]["checks"]}
    assert checks == {"logon": True, "path:read:\\\\fs01\\library": True, "path:write:\\\\fs01\\library": False}
    assert result["failed"] and result["validation"]["error"]["code"] == "access_denied"


def test_admin_logons_refused_by_the_dc_are_unreachable(playbook_run):
    _rc, output, got, _double, _host, decisions = playbook_run
    for name in ("win01_wrong_admin", "win01_disabled_admin"):
        assert got[name]["unreachable"] and "credentials were rejected" in got[name]["msg"], got[name]
    assert any(u == ADMIN and "current password is not correct" in why for u, why in decisions), decisions
    assert any(u.endswith("\\disableduser") and "disabled" in why for u, why in decisions), decisions
    assert decisions.count((ADMIN, "NT_STATUS_OK")) >= 1, decisions


def test_no_canary_in_output_command_lines_or_scripts(playbook_run):
    _rc, output, got, double, host, _decisions = playbook_run
    forms = []
    for secret in (PW, WRONG):
        raw = secret.encode()
        forms += [secret, base64.b64encode(raw).decode(), secret.encode("utf-16-le").decode("latin-1"),
                  base64.b64encode(secret.encode("utf-16-le")).decode()]
    texts = [("ansible-playbook -vvvv output", output), ("results", json.dumps(got))]
    texts += [("command line %d" % i, c.command_line) for i, c in enumerate(double.service.executed)]
    texts += [("script %d" % i, c.get("script", "") + c.get("command_line", "")) for i, c in enumerate(host.calls)]
    texts += [("wire %d" % i, r.wire.decode("latin-1")) for i, r in enumerate(double.requests)]
    assert len(double.service.executed) >= 10
    for where, text in texts:
        for form in forms:
            assert form not in text, where


# -- qube_ad_check: the AD password check from the controller, against the DC --------------------

@pytest.fixture(scope="module")
def ad_check_run(tmp_path_factory, collections_dir):
    """One ansible-playbook -vvvv run of ad_check.yml; yields (rc, output, results)."""
    private = tmp_path_factory.mktemp("ad-check")
    os.chmod(str(private), 0o700)
    results = private / "results.json"
    inventory = {"all": {"hosts": {"win_nowhere": {"ansible_connection": "winrm", "ansible_host": "127.0.0.1",
                                                   "ansible_port": 1, "ansible_user": "nobody"}}}}
    write_private(private / "inventory.json", json.dumps(inventory))
    lab_dir = os.environ.get("QLAB_DIR") or "/var/lib/qube-lab"
    write_private(private / "vars.json", json.dumps({
        "ad_password": PW, "wrong_password": WRONG, "results_file": str(results),
        "ca_file": os.path.join(lab_dir, "dc-ca.pem"), "ansible_python_interpreter": sys.executable}))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", QUBE_REPORT_DIR=str(private),
               ANSIBLE_COLLECTIONS_PATH=collections_dir, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"))
    argv = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-vvvv", "-i",
            str(private / "inventory.json"), "-e", "@%s" % (private / "vars.json"), os.path.join(HERE, "ad_check.yml")]
    proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300,
                          check=False)
    output = proc.stdout.decode("utf-8", "replace")
    yield proc.returncode, output, json.loads(results.read_text()) if results.exists() else None


@pytest.mark.parametrize("index, code, subcode", [
    (0, "ok", None), (1, "wrong_password", "52e"), (2, "account_disabled", "533"), (3, "account_expired", "701"),
    (4, "password_must_change", "773"), (5, "account_locked", "775")],
    ids=["good", "wrong-password", "disabled", "expired", "must-change", "locked"])
def test_ad_check_runs_on_the_controller_and_names_what_ad_said(ad_check_run, index, code, subcode):
    rc, output, results = ad_check_run
    assert rc == 0 and results, output[-3000:]
    result = results[index]
    outcome = result["ad_check"]
    assert outcome["code"] == code and outcome.get("subcode") == subcode, result
    assert outcome["server"] == "dc1.mycorp.test:636" and outcome["principal"].endswith("@MYCORP.TEST")
    if code == "ok":
        assert not result.get("failed") and not result["changed"], result
    else:
        assert result["failed"] and "Fix:" in result["msg"] and "(LDAP 49, data %s)" % subcode in result["msg"]
    assert "ESTABLISH WINRM CONNECTION" not in output  # the host's connection is never opened
    for secret in (PW, WRONG):
        assert secret not in output and secret not in json.dumps(results)

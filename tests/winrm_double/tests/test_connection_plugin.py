"""``qube_win_identity`` through ``ansible-playbook`` and Ansible's own winrm connection plugin.

The inventory says ``ansible_connection: winrm``, ``ansible_winrm_transport: ntlm``,
``ansible_winrm_message_encryption: always`` over http, as a studio's would; the WinRM double runs in
AD mode: the admin's logon (the connection's NTLM) is decided by ``ntlm_auth`` on the lab's Samba DC
and every validation logon by an LDAPS bind to it.  So the connection plugin, pywinrm, the
powershell shell plugin, the collection's action plugin and its ``.ps1`` scripts all run as on a
real farm; only the Windows host is the double.  Canary: the DC users' password and a wrong one must
not appear in the -vvvv output, in any command line the double ran, or in a script it received.

Environment as for test_ad_mode.py (QUBE_TEST_DC unset: skipped; set: an unreachable DC fails).
"""

import base64
import json
import os
import re
import subprocess
import sys
import uuid

import pytest

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble
from tests.winrm_double.acceptors import SambaNTLMAcceptor
from tests.winrm_double.adlogon import LdapPasswordDecider
from tests.winrm_double.lab_dc import ADMIN, DC, DOMAIN, PW

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
WRONG = "Wr0ng-canary-%s" % uuid.uuid4().hex
QB_CONF = "c:\\programdata\\pfx\\qube\\qb.conf"

pytestmark = pytest.mark.skipif(not DC, reason="QUBE_TEST_DC is not set (no lab domain controller)")


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
def run(helper, tmp_path_factory, collections_dir):
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
    proc = subprocess.run([playbook, "-vvvv", "-i", str(private / "inventory.json"), "-e", "@%s" % (private / "vars.json"),
                           os.path.join(HERE, "win_identity.yml")], cwd=REPO, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=600, check=False)
    output = proc.stdout.decode("utf-8", "replace")
    got = {p.stem: json.loads(p.read_text()) for p in results.iterdir()}
    try:
        yield proc.returncode, output, got, double, host, list(helper.decisions)
    finally:
        double.stop()


def test_playbook_ran_through_the_winrm_connection(run):
    rc, output, got, double, _host, _decisions = run
    assert rc == 0, output[-4000:]
    recap = output.split("PLAY RECAP", 1)[1]
    # check mode before, first run, qblogin and the results file changed; the 2 refused tasks were ignored
    assert re.search(r"^win01\s+: ok=8\s+changed=4\s+unreachable=0\s+failed=0\s+.*ignored=2", recap, re.M), recap
    for name in ("win01_disabled_admin", "win01_wrong_admin"):
        assert re.search(r"^%s\s+: ok=2\s+changed=1\s+.*ignored=1" % name, recap, re.M), recap
    assert "ESTABLISH WINRM CONNECTION FOR USER: %s" % ADMIN in output
    assert set(got) == {"win01", "win01_wrong_admin", "win01_disabled_admin"}, output[-3000:]
    bodies = [r for r in double.requests if r.soap]
    assert bodies and all(r.encrypted for r in bodies)


def test_register_validate_idempotent_and_check_mode(run):
    _rc, output, got, _double, host, _decisions = run
    r = got["win01"]
    assert r["check_before"]["changed"] and not r["check_before"]["registered"], r["check_before"]
    first, second = r["first"], r["second"]
    assert first["changed"] and first["registered"] and not first.get("failed"), first
    assert first["validation"]["ok"] and first["validation"]["identity"]["user"] == "%s\\renderproxy" % DOMAIN
    assert [c["name"] for c in first["validation"]["checks"]] == ["logon"] + [
        "path:%s:\\\\fs01\\renders\\shots" % op for op in ("read", "write", "delete")]
    assert not second["changed"] and second["validation"]["ok"], second
    assert not r["check_after"]["changed"], r["check_after"]
    assert "proxy_password = " in host.files[QB_CONF]
    assert r["qblogin"]["registered"] and r["qblogin"]["changed"]
    programs = [c["program"] for c in host.calls if c["program"] != "powershell"]
    assert programs == ["qbhash", "qblogin"], programs
    assert "diff" not in first  # no --diff given


@pytest.mark.parametrize("index, code, number", [
    (0, "wrong_password", 1326), (1, "account_disabled", 1331), (2, "account_expired", 1793),
    (3, "password_must_change", 1907), (4, "account_locked", 1909), (5, "logon_type_not_granted", 1385)],
    ids=["wrong-password", "disabled", "expired", "must-change", "locked", "no-batch-right"])
def test_refused_validation_logons_are_named(run, index, code, number):
    _rc, _output, got, _double, _host, _decisions = run
    result = got["win01"]["refused"][index]
    error = result["validation"]["error"]
    assert result["failed"] and error["code"] == code and "(error %d" % number in error["message"], result
    assert "%s\\%s" % (DOMAIN, result["item"]) in error["message"] and error["fix"] in result["msg"]


def test_read_only_share_is_access_denied(run):
    _rc, _output, got, _double, _host, _decisions = run
    result = got["win01"]["read_only"]
    checks = {c["name"]: c["ok"] for c in result["validation"]["checks"]}
    assert checks == {"logon": True, "path:read:\\\\fs01\\library": True, "path:write:\\\\fs01\\library": False}
    assert result["failed"] and result["validation"]["error"]["code"] == "access_denied"


def test_admin_logons_refused_by_the_dc_are_unreachable(run):
    _rc, output, got, _double, _host, decisions = run
    for name in ("win01_wrong_admin", "win01_disabled_admin"):
        assert got[name]["unreachable"] and "credentials were rejected" in got[name]["msg"], got[name]
    assert any(u == ADMIN and "current password is not correct" in why for u, why in decisions), decisions
    assert any(u.endswith("\\disableduser") and "disabled" in why for u, why in decisions), decisions
    assert decisions.count((ADMIN, "NT_STATUS_OK")) >= 1, decisions


def test_no_canary_in_output_command_lines_or_scripts(run):
    _rc, output, got, double, host, _decisions = run
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

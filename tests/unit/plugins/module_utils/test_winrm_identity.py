# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""winrm_identity.register() and validate() through Ansible's own winrm connection plugin against the WinRM double.

Real ``ansible.builtin.winrm`` + ``ansible.builtin.powershell`` (the action plugin's ``execute``),
real pywinrm, real NTLM (pyspnego acceptor), real MS-WSMV message encryption; the scripts are the
collection's ``files/windows_identity/*.ps1``; the Windows side is the double's modelled worker
(tests/winrm_double/windows.py).
"""

import base64
import os
import sys

import pytest
from ansible.errors import AnsibleConnectionFailure

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")))

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble  # noqa: E402
from tests.winrm_double.acceptors import user_table_acceptor  # noqa: E402
from tests.winrm_double.ansible_connection import executor, winrm_connection  # noqa: E402

from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import SCRIPTS_DIR  # noqa: E402
from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity  # noqa: E402

ADMIN, ADMIN_PW = "WINWORKER01\\admin", "Adm1n-Wire-Secret!"
PROXY_PW = "Proxy-Wire-Secret-42"
SHARE = "\\\\fs01\\projects"
SCRIPTS = winrm_identity.load_scripts(SCRIPTS_DIR)


def _accounts():
    return [
        LocalAccount("WINWORKER01\\qubeproxy", PROXY_PW, home="C:\\Users\\qubeproxy"),
        LocalAccount("MYCORP\\render", PROXY_PW, groups=["MYCORP\\Domain Users", "MYCORP\\render-ro"]),
        LocalAccount("MYCORP\\off", PROXY_PW, state="disabled"),
        LocalAccount("MYCORP\\old", PROXY_PW, state="expired"),
        LocalAccount("MYCORP\\fresh", PROXY_PW, state="must_change"),
        LocalAccount("MYCORP\\locked", PROXY_PW, state="locked"),
        LocalAccount("MYCORP\\svc", PROXY_PW, rights={"SeServiceLogonRight"}),
        LocalAccount("WINWORKER01\\boss", PROXY_PW, groups=["BUILTIN\\Administrators"]),
    ]


class Worker(object):
    """The double, its fake host and one Ansible winrm connection to it (closed at the end)."""

    def __init__(self):
        self.host = FakeWindowsHost(accounts=_accounts(), shares={
            SHARE: {"WINWORKER01\\qubeproxy": "rw", "MYCORP\\render-ro": "r"}})
        self.double = WinRMDouble(user_table_acceptor({ADMIN: ADMIN_PW}), self.host).start()
        self.connections = []

    def run(self, check_mode=False, admin_pw=ADMIN_PW, port=None, **extra):
        base = dict(account="qubeproxy", domain="WINWORKER01", password=PROXY_PW, update_password="always",
                    register="central", validate=True, validation_paths=[SHARE + "\\shots"], validation_timeout=30)
        base.update(extra)
        connection = winrm_connection(port or self.double.port, ADMIN, admin_pw)
        self.connections.append(connection)
        try:
            # The role's order: qube_credential, then qube_validation_job, on one connection.
            steps = winrm_identity.Steps(executor(connection), SCRIPTS, "win01")
            result = {"changed": False, "failed": False}
            if base["register"] != "none":
                result.update(winrm_identity.register(base, check_mode, steps))
            if base["validate"] and not result["failed"]:
                done = winrm_identity.validate(base, steps)
                result.update(validation=done["validation"], failed=done["failed"], msg=done["msg"])
            return result
        finally:
            connection.close()


@pytest.fixture
def worker():
    w = Worker()
    yield w
    w.double.stop()


def programs(host):
    return [c["program"] for c in host.calls if c["program"] != "powershell"]


def test_scripts_come_from_the_collection_files_without_comment_lines():
    assert set(SCRIPTS) == {"bootstrap", "common", "read-state", "register", "validate"}
    assert all(not line.lstrip().startswith("#") for text in SCRIPTS.values() for line in text.splitlines())
    assert "'@" in SCRIPTS["validate"] and "LogonUserW" in SCRIPTS["validate"]
    script = winrm_identity.build_script("read-state", {"state_file": "C:\\x's"}, SCRIPTS)
    assert script.splitlines()[:2] == [winrm_identity.MARKER + "read-state",
                                       "$p = ConvertFrom-Json -InputObject '{\"state_file\": \"C:\\\\x''s\"}'"]


def test_good_logon_registers_centrally_and_validates(worker):
    result = worker.run()
    host = worker.host
    assert result["changed"] and result["action"] == "registered" and not result["failed"], result
    assert len(result["proxy_password_hash"]) >= 64
    v = result["validation"]
    assert v["ok"] and v["via"] == "direct" and v["platform"] == "windows"
    assert v["identity"]["user"] == "WINWORKER01\\qubeproxy" and v["identity"]["sid"].startswith("S-1-5-21-")
    expected = ["logon"] + ["path:%s:%s\\shots" % (op, SHARE) for op in ("read", "write", "delete")]
    assert [c["name"] for c in v["checks"]] == expected
    conf = host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    assert "qb_supervisor = qube-sup01" in conf and "proxy_password" not in conf  # never the local qb.conf
    assert programs(host) == ["qbhash"]
    assert result["diff"]["before"] == "" and result["diff"]["after"] == "proxy_password = REDACTED (new value)\n"
    assert worker.double.service.open_shells == 0


def test_scripts_arrive_as_the_powershell_shell_plugin_encodes_them(worker):
    worker.run()
    commands = worker.double.service.executed
    assert len(commands) == 3 and all(c.command == "PowerShell" for c in commands)
    # pywinrm sends the arguments as one rsp:Arguments element
    assert all(" ".join(c.arguments).split()[:5] == ["-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                                                     "Unrestricted", "-EncodedCommand"] for c in commands)
    # Only the marker and the bootstrap on the command line: far below cmd.exe's 8191 characters.
    assert all(len(c.command_line) < 1500 for c in commands), [len(c.command_line) for c in commands]
    calls = [c for c in worker.host.calls if c["program"] == "powershell"]
    assert [c["command_line"].split("\n", 1)[0] for c in calls] == [
        winrm_identity.MARKER + s for s in ("read-state", "register", "validate")]
    assert all("$p = " not in c["command_line"] and "$p = " in c["script"] for c in calls)
    assert [c["stdin_lines"] for c in calls] == [0, 2, 1]  # secrets after the script line


def test_second_run_is_unchanged_and_calls_no_qbhash(worker):
    worker.run()
    again = worker.run()
    assert not again["changed"] and again["action"] == "unchanged" and again["validation"]["ok"]
    assert again["diff"]["before"] == again["diff"]["after"] == "proxy_password = REDACTED\n"
    assert programs(worker.host) == ["qbhash"]


def test_changed_password_registers_again(worker):
    worker.run()
    worker.host.accounts["winworker01\\qubeproxy"].password = "Rotated-Secret-43"
    rotated = worker.run(password="Rotated-Secret-43")
    assert rotated["changed"] and programs(worker.host) == ["qbhash", "qbhash"]
    on_create = worker.run(password="Another-Secret-44", update_password="on_create", validate=False)
    assert not on_create["changed"] and programs(worker.host) == ["qbhash", "qbhash"]


def test_fingerprint_is_bound_to_the_account(worker):
    worker.run()
    state = [v for k, v in worker.host.files.items() if k.endswith("identity-winworker01_qubeproxy.json")][0]
    assert PROXY_PW not in state and "pbkdf2-sha256$200000$" in state


def test_state_dir_is_used_for_reading_and_writing(worker):
    other = dict(state_dir="D:\\rfq-state\\")
    first = worker.run(**other)
    assert first["action"] == "registered" and "d:\\rfq-state\\identity-winworker01_qubeproxy.json" in worker.host.files
    again = worker.run(**other)
    assert not again["changed"] and programs(worker.host) == ["qbhash"]


def test_check_mode_registers_nothing(worker):
    result = worker.run(check_mode=True)
    assert result["changed"] and result["action"] == "registered" and result["proxy_password_hash"] == \
        winrm_identity.CHECK_MODE_HASH
    assert programs(worker.host) == []
    assert "proxy_password" not in worker.host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    assert not any(c.get("script", "").startswith(winrm_identity.MARKER + "register") for c in worker.host.calls)


@pytest.mark.parametrize("account, code, number", [
    ("render", "wrong_password", 1326), ("off", "account_disabled", 1331), ("old", "account_expired", 1793),
    ("fresh", "password_must_change", 1907), ("locked", "account_locked", 1909),
    ("svc", "logon_type_not_granted", 1385)])
def test_logon_failures_are_named(worker, account, code, number):
    password = "Wrong-Secret-99" if code == "wrong_password" else PROXY_PW
    result = worker.run(account=account, domain="MYCORP", password=password, register="none")
    error = result["validation"]["error"]
    assert result["failed"] and error["code"] == code and "(error %d" % number in error["message"]
    assert "MYCORP\\%s" % account in error["message"] and error["fix"]
    assert "MYCORP\\%s" % account in result["msg"]


def test_missing_service_right_is_reported_as_failed_check(worker):
    result = worker.run(register="none", validation_rights=["SeServiceLogonRight"])
    check = [c for c in result["validation"]["checks"] if c["name"] == "right:SeServiceLogonRight"][0]
    assert not check["ok"] and "1385" in check["detail"]
    assert result["validation"]["error"]["code"] == "logon_type_not_granted"


def test_unwritable_unc_path_is_access_denied(worker):
    result = worker.run(account="render", domain="MYCORP", register="none")
    checks = {c["name"]: c for c in result["validation"]["checks"]}
    assert checks["path:read:%s\\shots" % SHARE]["ok"]
    assert not checks["path:write:%s\\shots" % SHARE]["ok"]
    assert "path:delete:%s\\shots" % SHARE not in checks
    assert result["validation"]["error"]["code"] == "access_denied"
    assert "MYCORP\\render" in result["validation"]["error"]["message"]


def test_administrator_identity_is_refused_unless_allowed(worker):
    refused = worker.run(account="boss", register="none", validation_paths=[])
    assert refused["validation"]["error"]["code"] == "privileged_identity"
    allowed = worker.run(account="boss", register="none", validation_paths=[], allow_privileged=True)
    assert allowed["validation"]["ok"]


def test_register_central_returns_the_hash_and_keeps_it(worker):
    first = worker.run(register="central")
    assert first["changed"] and len(first["proxy_password_hash"]) >= 64
    assert "proxy_password" not in worker.host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    second = worker.run(register="central")
    assert not second["changed"] and second["proxy_password_hash"] == first["proxy_password_hash"]
    assert programs(worker.host) == ["qbhash"]
    rotated = worker.run(register="central", password="Rotated-Secret-43", validate=False, check_mode=True)
    assert rotated["changed"] and rotated["proxy_password_hash"] == winrm_identity.CHECK_MODE_HASH


def test_register_qblogin_sends_the_password_twice_on_stdin(worker):
    result = worker.run(account="render", domain="MYCORP", register="qblogin", validate=False)
    assert result["action"] == "registered" and "validation" not in result
    call = [c for c in worker.host.calls if c["program"] == "qblogin"][0]
    assert call["args"] == ["--user", "render", "--domain", "MYCORP"] and call["stdin_lines"] == 2


def test_missing_password_is_refused_before_the_host_is_asked(worker):
    result = worker.run(password=None)
    assert result["failed"] and result["error"]["code"] == "missing_password"
    unvalidated = worker.run(password=None, register="none")
    assert unvalidated["failed"] and unvalidated["validation"]["error"]["code"] == "missing_password"
    assert worker.host.calls == []


def test_wrong_admin_password_is_the_connection_plugins_failure(worker):
    with pytest.raises(AnsibleConnectionFailure) as raised:
        worker.run(admin_pw="Not-The-Admin-Pw")
    assert "Not-The-Admin-Pw" not in str(raised.value) and "rejected" in str(raised.value)
    assert worker.double.auth_failures and worker.host.calls == []


def test_no_secret_on_the_wire_in_commands_or_results(worker):
    results = [worker.run(register=mode) for mode in ("central", "qblogin")]
    results.append(worker.run(account="render", domain="MYCORP", password="Wrong-Secret-99", register="none"))
    forms = []
    for secret in (PROXY_PW, ADMIN_PW, "Wrong-Secret-99"):
        raw = secret.encode()
        forms += [raw, secret.encode("utf-16-le"), base64.b64encode(raw), base64.b64encode(base64.b64encode(raw))]
    bodies = [r for r in worker.double.requests if r.soap]
    assert bodies and all(r.encrypted for r in bodies)
    for record in worker.double.requests:
        for form in forms:
            assert form not in record.wire
    for record in bodies:
        # Decrypted: only a Send (stdin) body may carry the password, and only there.
        if b"/shell/Send<" not in record.soap:
            for form in forms:
                assert form not in record.soap
    for command in worker.double.service.executed:
        for form in forms:
            assert form.decode("latin-1") not in command.command_line
    for call in worker.host.calls:
        for secret in (PROXY_PW, ADMIN_PW, "Wrong-Secret-99"):
            assert secret not in call.get("script", "")
    for result in results:
        text = repr(result)
        assert PROXY_PW not in text and ADMIN_PW not in text and "Wrong-Secret-99" not in text

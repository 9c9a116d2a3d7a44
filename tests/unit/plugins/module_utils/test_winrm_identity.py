# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""winrm_identity.run() against the protocol-level WinRM double (self-contained mode, 127.0.0.1).

Real pywinrm, real NTLM (pyspnego acceptor), real MS-WSMV message encryption; the Windows side
is the double's modelled worker (tests/winrm_double/windows.py).
"""

import base64
import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")))

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble  # noqa: E402
from tests.winrm_double.acceptors import user_table_acceptor  # noqa: E402

from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity  # noqa: E402

ADMIN, ADMIN_PW = "WINWORKER01\\admin", "Adm1n-Wire-Secret!"
PROXY_PW = "Proxy-Wire-Secret-42"
SHARE = "\\\\fs01\\projects"


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


@pytest.fixture
def worker():
    host = FakeWindowsHost(accounts=_accounts(), shares={
        SHARE: {"WINWORKER01\\qubeproxy": "rw", "MYCORP\\render-ro": "r"}})
    double = WinRMDouble(user_table_acceptor({ADMIN: ADMIN_PW}), host).start()
    yield double, host
    double.stop()


def params(double, **extra):
    base = dict(account="qubeproxy", domain="WINWORKER01", password=PROXY_PW, update_password="always",
                register="local", validate=True, validation_paths=[SHARE + "\\shots"], validation_timeout=30,
                winrm_host="127.0.0.1", winrm_port=double.port, winrm_user=ADMIN, winrm_password=ADMIN_PW,
                winrm_transport="ntlm", winrm_scheme="http")
    base.update(extra)
    return base


def programs(host):
    return [c["program"] for c in host.calls if c["program"] != "powershell"]


def test_good_logon_registers_locally_and_validates(worker):
    double, host = worker
    result = winrm_identity.run(params(double), check_mode=False)
    assert result["changed"] and result["registered"] and not result["failed"]
    v = result["validation"]
    assert v["ok"] and v["via"] == "direct" and v["platform"] == "windows"
    assert v["identity"]["user"] == "WINWORKER01\\qubeproxy" and v["identity"]["sid"].startswith("S-1-5-21-")
    expected = ["logon"] + ["path:%s:%s\\shots" % (op, SHARE) for op in ("read", "write", "delete")]
    assert [c["name"] for c in v["checks"]] == expected
    conf = host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    assert "qb_supervisor = qube-sup01" in conf and "proxy_password = " in conf
    assert host.acls["c:\\programdata\\pfx\\qube\\qb.conf"] == ["NT AUTHORITY\\SYSTEM", "BUILTIN\\Administrators"]
    assert programs(host) == ["qbhash"]
    assert double.service.open_shells == 0


def test_second_run_is_unchanged_and_calls_no_qbhash(worker):
    double, host = worker
    winrm_identity.run(params(double), check_mode=False)
    again = winrm_identity.run(params(double), check_mode=False)
    assert not again["changed"] and not again["registered"] and again["validation"]["ok"]
    assert programs(host) == ["qbhash"]


def test_changed_password_registers_again(worker):
    double, host = worker
    winrm_identity.run(params(double), check_mode=False)
    host.accounts["winworker01\\qubeproxy"].password = "Rotated-Secret-43"
    rotated = winrm_identity.run(params(double, password="Rotated-Secret-43"), check_mode=False)
    assert rotated["changed"] and programs(host) == ["qbhash", "qbhash"]
    on_create = winrm_identity.run(params(double, password="Another-Secret-44", update_password="on_create",
                                          validate=False), check_mode=False)
    assert not on_create["changed"] and programs(host) == ["qbhash", "qbhash"]


def test_check_mode_registers_nothing(worker):
    double, host = worker
    result = winrm_identity.run(params(double), check_mode=True)
    assert result["changed"] and not result["registered"]
    assert programs(host) == []
    assert "proxy_password" not in host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    assert not any(c.get("script", "").startswith(winrm_identity.MARKER + "register") for c in host.calls)


@pytest.mark.parametrize("account, code, number", [
    ("render", "wrong_password", 1326), ("off", "account_disabled", 1331), ("old", "account_expired", 1793),
    ("fresh", "password_must_change", 1907), ("locked", "account_locked", 1909),
    ("svc", "logon_type_not_granted", 1385)])
def test_logon_failures_are_named(worker, account, code, number):
    double, host = worker
    password = "Wrong-Secret-99" if code == "wrong_password" else PROXY_PW
    result = winrm_identity.run(params(double, account=account, domain="MYCORP", password=password,
                                       register="none"), check_mode=False)
    error = result["validation"]["error"]
    assert result["failed"] and error["code"] == code and "(error %d" % number in error["message"]
    assert "MYCORP\\%s" % account in error["message"] and error["fix"]
    assert "MYCORP\\%s" % account in result["msg"]


def test_missing_service_right_is_reported_as_failed_check(worker):
    double, host = worker
    result = winrm_identity.run(params(double, register="none", validation_rights=["SeServiceLogonRight"]),
                                check_mode=False)
    check = [c for c in result["validation"]["checks"] if c["name"] == "right:SeServiceLogonRight"][0]
    assert not check["ok"] and "1385" in check["detail"]
    assert result["validation"]["error"]["code"] == "logon_type_not_granted"


def test_unwritable_unc_path_is_access_denied(worker):
    double, host = worker
    result = winrm_identity.run(params(double, account="render", domain="MYCORP", register="none"),
                                check_mode=False)
    checks = {c["name"]: c for c in result["validation"]["checks"]}
    assert checks["path:read:%s\\shots" % SHARE]["ok"]
    assert not checks["path:write:%s\\shots" % SHARE]["ok"]
    assert "path:delete:%s\\shots" % SHARE not in checks
    assert result["validation"]["error"]["code"] == "access_denied"
    assert "MYCORP\\render" in result["validation"]["error"]["message"]


def test_administrator_identity_is_refused_unless_allowed(worker):
    double, host = worker
    refused = winrm_identity.run(params(double, account="boss", register="none", validation_paths=[]),
                                 check_mode=False)
    assert refused["validation"]["error"]["code"] == "privileged_identity"
    allowed = winrm_identity.run(params(double, account="boss", register="none", validation_paths=[],
                                        allow_privileged=True), check_mode=False)
    assert allowed["validation"]["ok"]


def test_register_central_returns_the_hash_and_keeps_it(worker):
    double, host = worker
    first = winrm_identity.run(params(double, register="central"), check_mode=False)
    assert first["changed"] and len(first["proxy_password_hash"]) >= 64
    assert "proxy_password" not in host.files["c:\\programdata\\pfx\\qube\\qb.conf"]
    second = winrm_identity.run(params(double, register="central"), check_mode=False)
    assert not second["changed"] and second["proxy_password_hash"] == first["proxy_password_hash"]
    assert programs(host) == ["qbhash"]


def test_register_qblogin_sends_the_password_twice_on_stdin(worker):
    double, host = worker
    result = winrm_identity.run(params(double, account="render", domain="MYCORP", register="qblogin",
                                       validate=False), check_mode=False)
    assert result["registered"] and "validation" not in result
    call = [c for c in host.calls if c["program"] == "qblogin"][0]
    assert call["args"] == ["--user", "render", "--domain", "MYCORP"] and call["stdin_lines"] == 2


def test_wrong_admin_password_names_the_admin_account(worker):
    double, host = worker
    result = winrm_identity.run(params(double, winrm_password="Not-The-Admin-Pw"), check_mode=False)
    error = result["validation"]["error"]
    assert result["failed"] and error["code"] == "winrm_auth" and ADMIN in error["message"]
    assert "Not-The-Admin-Pw" not in repr(result)
    assert double.auth_failures


def test_unreachable_worker_is_reported(worker):
    double, host = worker
    result = winrm_identity.run(params(double, winrm_port=1, validation_timeout=5), check_mode=False)
    assert result["validation"]["error"]["code"] == "winrm_unreachable"


def test_no_secret_on_the_wire_in_commands_or_results(worker):
    double, host = worker
    results = [winrm_identity.run(params(double, register=mode), check_mode=False)
               for mode in ("local", "central", "qblogin")]
    results.append(winrm_identity.run(params(double, account="render", domain="MYCORP", password="Wrong-Secret-99",
                                             register="none"), check_mode=False))
    forms = []
    for secret in (PROXY_PW, ADMIN_PW, "Wrong-Secret-99"):
        raw = secret.encode()
        forms += [raw, secret.encode("utf-16-le"), base64.b64encode(raw), base64.b64encode(base64.b64encode(raw))]
    bodies = [r for r in double.requests if r.soap]
    assert bodies and all(r.encrypted for r in bodies)
    for record in double.requests:
        for form in forms:
            assert form not in record.wire
    for record in bodies:
        # Decrypted: only a Send (stdin) body may carry the password, and only there.
        if b"/shell/Send<" not in record.soap:
            for form in forms:
                assert form not in record.soap
    for command in double.service.executed:
        for form in forms:
            assert form.decode("latin-1") not in command.command_line
    for call in host.calls:
        for secret in (PROXY_PW, ADMIN_PW, "Wrong-Secret-99"):
            assert secret not in call.get("script", "")
    for result in results:
        text = repr(result)
        assert PROXY_PW not in text and ADMIN_PW not in text and "Wrong-Secret-99" not in text


def test_request_sequence(worker):
    double, host = worker
    winrm_identity.run(params(double), check_mode=False)
    actions = []
    for record in double.requests:
        if not record.soap:
            actions.append("auth:%d" % record.status)
            continue
        action = record.soap.split(b"Action", 1)[1].split(b">", 1)[1].split(b"<", 1)[0].decode()
        actions.append(action.rsplit("/", 1)[1])
    steps = [c["script"].split("\n", 1)[0][len(winrm_identity.MARKER):] for c in host.calls
             if c["program"] == "powershell"]
    assert steps == ["read-state", "register", "validate"]
    assert actions[:3] == ["auth:401", "auth:401", "auth:200"]
    assert actions[3:] == ["Create"] + ["Command", "Send", "Receive", "Signal"] * 3 + ["Delete"]

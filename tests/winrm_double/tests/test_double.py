"""The WinRM double against unmodified pywinrm: auth, encryption, WinRS operations, faults."""

import base64

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WSManFaultError

from tests.winrm_double import FakeWindowsHost, WinRMDouble
from tests.winrm_double.acceptors import user_table_acceptor

ADMIN, PW = "WINWORKER01\\admin", "Double-Admin-Pw1"


@pytest.fixture
def double():
    d = WinRMDouble(user_table_acceptor({ADMIN: PW}), FakeWindowsHost()).start()
    yield d
    d.stop()


def session(d, password=PW, encryption="always"):
    return winrm.Session(d.url, auth=(ADMIN, password), transport="ntlm", message_encryption=encryption,
                         ca_trust_path=None, proxy=None)


def test_ntlm_with_encryption_runs_a_command(double):
    result = session(double).run_cmd("whoami")
    assert result.status_code == 0 and result.std_out == b"winworker01\\admin\r\n"
    assert [r.status for r in double.requests[:3]] == [401, 401, 200]
    assert all(r.encrypted for r in double.requests if r.soap)
    assert ("WWW-Authenticate", "Negotiate") not in double.requests[0].headers  # request headers only
    assert double.service.open_shells == 0


def test_wrong_password_gives_invalid_credentials(double):
    with pytest.raises(InvalidCredentialsError):
        session(double, password="nope").run_cmd("whoami")
    assert double.auth_failures and not any(r.soap for r in double.requests)


def test_plain_body_is_refused_when_encryption_is_required(double):
    with pytest.raises(InvalidCredentialsError):
        session(double, encryption="never").run_cmd("whoami")
    double.require_encryption = False
    assert session(double, encryption="never").run_cmd("hostname").std_out == b"WINWORKER01\r\n"


def test_stdin_reaches_the_program(double):
    p = session(double).protocol
    shell = p.open_shell()
    command = p.run_command(shell, "qbhash.exe")
    p.send_command_input(shell, command, b"some-secret\r\n", end=True)
    out, err, code = p.get_command_output(shell, command)
    p.cleanup_command(shell, command)
    p.close_shell(shell)
    assert code == 0 and len(out.strip()) == 80
    assert double.service.executed[0].stdin == b"some-secret\r\n"


def test_encoded_powershell_is_decoded(double):
    result = session(double).run_ps("Get-Date")
    assert result.status_code == 1 and b"does not model" in result.std_err
    assert double.service.executed[0].command.startswith("powershell")


def test_unknown_program_answers_like_cmd(double):
    result = session(double).run_cmd("frobnicate")
    assert result.status_code == 1 and b"is not recognized" in result.std_err


def test_unknown_shell_is_a_wsman_fault(double):
    p = session(double).protocol
    with pytest.raises(WSManFaultError) as info:
        p.run_command("00000000-0000-0000-0000-000000000000", "whoami")
    assert info.value.wsman_fault_code == 2150858843 and info.value.code == 500


def test_bad_resource_uri_is_a_fault(double):
    p = session(double).protocol
    message = p.build_wsman_header("http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/*",
                                   "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate")
    import xmltodict
    with pytest.raises(WSManFaultError) as info:
        p.send_message(xmltodict.unparse({"env:Envelope": dict(message, **{"env:Body": {}})}))
    assert info.value.wsman_fault_code in (2150858770, 2150858771)


def test_tampered_envelope_is_rejected(double):
    s = session(double)
    s.run_cmd("hostname")  # authenticated connection, encryption set up
    transport = s.protocol.transport
    transport.build_session()
    prepared = transport.encryption.prepare_encrypted_request(transport.session, transport.endpoint, b"<x/>")
    prepared.body = prepared.body[:-40] + bytes(b ^ 0xFF for b in prepared.body[-40:-30]) + prepared.body[-30:]
    response = transport.session.send(prepared)
    assert response.status_code in (400, 401)


def test_wire_bytes_are_recorded(double):
    session(double).run_cmd("hostname")
    assert double.requests[0].wire.startswith(b"POST /wsman HTTP/1.1\r\n")
    assert all(b"Content-Type: multipart/encrypted" in r.wire for r in double.requests if r.soap)
    assert isinstance(requests.__version__, str)
    assert base64.b64encode(PW.encode()) not in b"".join(r.wire for r in double.requests)

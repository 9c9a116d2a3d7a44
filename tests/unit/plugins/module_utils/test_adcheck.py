# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AD password check: sub-code mapping on ldap3's result dicts, and the real ldap3 client
against a tiny LDAPS responder on loopback (real TLS with a throwaway CA, real BER bind
request/response), so the whole path from options to message runs without a domain controller.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import adcheck

PASSWORD = "Render-Pass-2024!"


def ad_result(subcode, rc=49, description="invalidCredentials"):
    """A bind result exactly as ldap3 puts it in ``Connection.result`` after an AD refusal."""
    message = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data %s, v4563\x00" % subcode
    return {"result": rc, "description": description, "dn": "", "message": message,
            "referrals": None, "saslCreds": None, "type": "bindResponse"}


EXPECTED = {
    "52e": ("wrong_password", "the password given for render@mycorp.test is wrong", "vault"),
    "533": ("account_disabled", "the account render@mycorp.test is disabled", "enable the account"),
    "701": ("account_expired", "the account render@mycorp.test has expired", "expiry date"),
    "773": ("password_must_change", "render@mycorp.test must change its password at next logon",
            "clear 'user must change password at next logon'"),
    "775": ("account_locked", "the account render@mycorp.test is locked out", "unlock the account"),
    "532": ("password_expired", "the password of render@mycorp.test has expired", "password never expires"),
    "525": ("user_not_found", "the domain controller does not know the account render@mycorp.test",
            "create the account"),
}


@pytest.mark.parametrize("subcode", sorted(EXPECTED))
def test_each_ad_subcode_names_the_account_and_the_fix(subcode):
    code, what, fix_part = EXPECTED[subcode]
    outcome = adcheck.describe_bind_result(ad_result(subcode), "render@mycorp.test", "dc1.mycorp.test:636")
    assert outcome["ok"] is False
    assert outcome["code"] == code
    assert outcome["subcode"] == subcode
    assert outcome["message"] == ("AD refused the password check on dc1.mycorp.test:636: %s (LDAP 49, data %s)"
                                  % (what if subcode != "775" else what + " (too many bad passwords)", subcode))
    assert fix_part in outcome["fix"]


def test_upper_case_and_unknown_subcodes():
    assert adcheck.describe_bind_result(ad_result("52E"), "u@r", "dc")["code"] == "wrong_password"
    other = adcheck.describe_bind_result(ad_result("569"), "u@r", "dc")
    assert other["code"] == "invalid_credentials"
    assert other["message"] == "AD refused the credentials of u@r on dc (LDAP 49 invalidCredentials, data 569)"


def test_success_and_other_result_codes():
    ok = adcheck.describe_bind_result({"result": 0, "description": "success", "message": "", "dn": "",
                                       "referrals": None, "type": "bindResponse"}, "u@r", "dc:636")
    assert ok == {"ok": True, "code": "ok", "message": "u@r authenticated on dc:636", "fix": ""}
    strong = adcheck.describe_bind_result(
        {"result": 8, "description": "strongerAuthRequired", "dn": "",
         "message": "BindSimple: Transport encryption required.", "type": "bindResponse"}, "u@r", "dc:389")
    assert strong["code"] == "stronger_auth_required"
    assert "BindSimple: Transport encryption required." in strong["message"]
    assert "LDAPS" in strong["fix"]


def test_bind_principal_forms():
    assert adcheck.bind_principal("render", "mycorp.test") == "render@mycorp.test"
    assert adcheck.bind_principal("render", "MYCORP") == "MYCORP\\render"
    assert adcheck.bind_principal("render", "MYCORP", base_dn="DC=mycorp,DC=test") == "render@mycorp.test"
    assert adcheck.bind_principal("render", "MYCORP", realm="MYCORP.TEST") == "render@MYCORP.TEST"
    assert adcheck.bind_principal("MYCORP\\render", "x.y") == "MYCORP\\render"
    with pytest.raises(adcheck.AdCheckError, match="cannot build a bind name for render"):
        adcheck.bind_principal("render")


def test_missing_ldap3_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ldap3", None)
    with pytest.raises(adcheck.AdCheckError, match="needs the Python library ldap3"):
        adcheck.check_password("render", PASSWORD, "dc1", domain="mycorp.test")


def test_empty_password_is_refused_before_any_bind():
    with pytest.raises(adcheck.AdCheckError, match="anonymous"):
        adcheck.check_password("render", "", "dc1", domain="mycorp.test")


def test_connection_refused_says_so():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    outcome = adcheck.check_password("render", PASSWORD, "127.0.0.1", domain="mycorp.test", port=port, timeout=3)
    assert outcome["ok"] is False
    assert outcome["code"] == "connection_failed"
    assert outcome["message"].startswith("cannot reach the domain controller 127.0.0.1:%d: " % port)
    assert PASSWORD not in repr(outcome)


# --- a real LDAPS responder -------------------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A throwaway CA, a server certificate for localhost signed by it, and an unrelated CA."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make test certificates")
    d = str(tmp_path_factory.mktemp("pki"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
                 "-subj", "/CN=%s test" % ca, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", *ec, "-keyout", "dc.key", "-out", "dc.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "ext"), "w") as handle:
        handle.write("subjectAltName=DNS:localhost\n")
    _openssl("x509", "-req", "-in", "dc.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "dc.pem", "-days", "2", "-extfile", "ext", cwd=d)
    return d


def _ber_len(n):
    return bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 0xFF])


def _tlv(tag, body):
    return bytes([tag]) + _ber_len(len(body)) + body


def bind_response(message_id, rc, diagnostic):
    """LDAPMessage { messageID, [APPLICATION 1] BindResponse { resultCode, matchedDN, diagnosticMessage } }."""
    op = _tlv(0x61, _tlv(0x0A, bytes([rc])) + _tlv(0x04, b"") + _tlv(0x04, diagnostic.encode()))
    return _tlv(0x30, _tlv(0x02, bytes([message_id])) + op)


class FakeDC(object):
    """Answers every simple bind on loopback LDAPS with one fixed result; records the requests."""

    def __init__(self, pki, rc, diagnostic):
        self.rc, self.diagnostic, self.requests = rc, diagnostic, []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(pki, "dc.pem"), os.path.join(pki, "dc.key"))
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.ctx = ctx
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                raw, _addr = self.listener.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(raw, server_side=True) as conn:
                    data = conn.recv(65536)
                    while data:
                        self.requests.append(data)
                        if data[5:6] == b"\x60":  # BindRequest after 30 LL 02 01 id
                            conn.sendall(bind_response(data[4], self.rc, self.diagnostic))
                        data = conn.recv(65536)
            except (OSError, ssl.SSLError):
                continue

    def close(self):
        self.listener.close()


@pytest.fixture
def fake_dc(pki):
    servers = []

    def start(rc, diagnostic=""):
        server = FakeDC(pki, rc, diagnostic)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_ldaps_bind_locked_out_end_to_end(pki, fake_dc):
    dc = fake_dc(49, ad_result("775")["message"].rstrip("\x00"))
    outcome = adcheck.check_password("render", PASSWORD, "localhost", domain="mycorp.test", port=dc.port,
                                     ca_file=os.path.join(pki, "ca.pem"), timeout=5)
    assert outcome["code"] == "account_locked", outcome
    assert outcome["principal"] == "render@mycorp.test"
    assert outcome["server"] == "localhost:%d" % dc.port
    assert "the account render@mycorp.test is locked out" in outcome["message"]
    assert b"render@mycorp.test" in dc.requests[0]  # the bind name the DC received
    assert PASSWORD not in repr(outcome)


def test_ldaps_bind_success_end_to_end(pki, fake_dc):
    dc = fake_dc(0)
    outcome = adcheck.check_password("render", PASSWORD, "localhost", domain="MYCORP", port=dc.port,
                                     base_dn="DC=mycorp,DC=test", ca_file=os.path.join(pki, "ca.pem"), timeout=5)
    assert outcome["ok"] is True, outcome
    assert outcome["message"] == "render@mycorp.test authenticated on localhost:%d" % dc.port


def test_certificate_from_another_ca_is_refused(pki, fake_dc):
    dc = fake_dc(0)
    outcome = adcheck.check_password("render", PASSWORD, "localhost", domain="mycorp.test", port=dc.port,
                                     ca_file=os.path.join(pki, "other-ca.pem"), timeout=5)
    assert outcome["ok"] is False
    assert outcome["code"] == "tls_verify_failed", outcome
    assert "ad_check.ca_file" in outcome["fix"]
    assert "CERTIFICATE_VERIFY_FAILED" in outcome["message"]
    assert dc.requests == []  # no bind (and so no password) went to the unverified server


def test_certificate_for_another_name_is_refused(pki, fake_dc):
    dc = fake_dc(0)
    outcome = adcheck.check_password("render", PASSWORD, "127.0.0.1", domain="mycorp.test", port=dc.port,
                                     ca_file=os.path.join(pki, "ca.pem"), timeout=5)
    assert outcome["code"] == "tls_verify_failed", outcome
    assert "doesn't match any name in ['127.0.0.1']" in outcome["message"]
    assert dc.requests == []


def test_exception_text_unwraps_ldap3_nesting():
    err = Exception(("('socket ssl wrapping error: [SSL] verify failed',)",))
    assert adcheck.exception_text(err) == "socket ssl wrapping error: [SSL] verify failed"
    assert adcheck.exception_text(Exception(("a", ("b", "a")))) == "a; b"


def test_check_or_explain_names_the_failure_and_the_fix(pki, fake_dc, monkeypatch):
    assert adcheck.check_or_explain("render", "", server="dc1") == (None, "ad_check needs the password of render")
    dc = fake_dc(49, ad_result("52e")["message"].rstrip("\x00"))
    outcome, failure = adcheck.check_or_explain("render", PASSWORD, domain="mycorp.test", server="localhost",
                                                port=dc.port, ca_file=os.path.join(pki, "ca.pem"), timeout=5)
    assert outcome["code"] == "wrong_password"
    assert failure == "%s Fix: %s." % (outcome["message"], outcome["fix"]) and PASSWORD not in failure
    ok, nothing = adcheck.check_or_explain("render", PASSWORD, domain="mycorp.test", server="localhost",
                                           port=fake_dc(0).port, ca_file=os.path.join(pki, "ca.pem"), timeout=5)
    assert ok["ok"] and nothing == ""
    monkeypatch.setitem(sys.modules, "ldap3", None)
    missing, why = adcheck.check_or_explain("render", PASSWORD, domain="mycorp.test", server="dc1")
    assert missing is None and "needs the Python library ldap3" in why


def test_check_options_spec_is_what_check_password_takes():
    import inspect
    taken = set(inspect.signature(adcheck.check_password).parameters)
    assert set(adcheck.CHECK_OPTIONS_SPEC) <= taken and "password" not in adcheck.CHECK_OPTIONS_SPEC

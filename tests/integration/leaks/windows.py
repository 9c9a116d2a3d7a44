"""The WinRM double, self-contained (user-table NTLM), on 127.0.0.1 inside the lab namespace."""

from typing import Dict, List, Tuple

from tests.winrm_double import FakeWindowsHost, LocalAccount, WinRMDouble
from tests.winrm_double.acceptors import user_table_acceptor

from .canary import CANARIES
from .farm import Vaulted

ADMIN = "WINWORKER01\\admin"


def start_double():
    """A fake worker with qubeproxy (proxy canary) and alice (user canary), write access to a share.

    Returns ``(double, host)``; stop the double with ``double.stop()``.
    """
    host = FakeWindowsHost(
        accounts=[LocalAccount("WINWORKER01\\qubeproxy", CANARIES["proxy"], home="C:\\Users\\qubeproxy"),
                  LocalAccount("WINWORKER01\\alice", CANARIES["user_windows"], home="C:\\Users\\alice",
                               sid="S-1-5-21-1004336348-1177238915-682003330-1002")],
        shares={"\\\\fs01\\renders": {"WINWORKER01\\qubeproxy": "rw"}})
    return WinRMDouble(user_table_acceptor({ADMIN: CANARIES["winrm_admin"]}), host).start(), host


def playbook_vars(port: int) -> Dict[str, object]:
    """Variables of windows.yml; the passwords are written as inline !vault values."""
    return {"winrm_port": port, "winrm_admin": ADMIN,
            "winrm_admin_password": Vaulted(CANARIES["winrm_admin"]),
            "proxy_password": Vaulted(CANARIES["proxy"]), "user_password": Vaulted(CANARIES["user_windows"]),
            "rotated_password": Vaulted(CANARIES["rotated"])}


def recorded(double: WinRMDouble, host: FakeWindowsHost) -> List[Tuple[str, bytes]]:
    """``(where, bytes)`` of everything the double kept that must hold no canary.

    The wire bytes (what crossed the socket: headers, NTLM, the encrypted bodies), every command
    line the shell ran, every script the module sent (decoded from ``-EncodedCommand``), every
    qbhash/qblogin call record and the fake host's files (qb.conf, state files). The decrypted
    SOAP bodies and the commands' stdin are left out on purpose: stdin inside the encrypted
    session is where the Windows worker must receive the password.
    """
    out = [("double:wire[%d]" % i, r.wire) for i, r in enumerate(double.requests)]
    for i, cmd in enumerate(double.service.executed):
        line = " ".join([cmd.command] + list(cmd.arguments))
        out.append(("double:command-line[%d]" % i, line.encode("utf-8")))
    for i, call in enumerate(host.calls):
        out.append(("double:call[%d]:%s" % (i, call.get("program")), repr(call).encode("utf-8")))
    for path, text in host.files.items():
        out.append(("double:file:%s" % path, text.encode("utf-8")))
    return out

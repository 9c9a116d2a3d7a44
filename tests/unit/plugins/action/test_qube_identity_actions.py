# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_credential, qube_validation_job and qube_ad_check action plugins, called directly.

The connection is a stand-in whose ``exec_command`` hands the command line and stdin to the WinRM
double's fake Windows host (no WinRM here: tests/unit/plugins/module_utils/test_winrm_identity.py
and tests/winrm_double/tests/test_ad_mode.py cover the real connection plugin).
"""

import os
import socket
import sys
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.plugins.loader import shell_loader

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")))

from tests.winrm_double import FakeWindowsHost, LocalAccount  # noqa: E402
from tests.winrm_double.wsman import CommandRequest  # noqa: E402

from ansible_collections.renderfarm.qube.plugins.action import (  # noqa: E402
    qube_ad_check, qube_credential, qube_validation_job,
)

PROXY_PW = "Unit-Proxy-Secret-7"


class HostConnection(object):
    """The part of a connection plugin the action uses: ``_shell`` and ``exec_command``."""

    def __init__(self, host, shell="powershell"):
        self.host = host
        self._shell = shell_loader.get(shell)
        self.commands = []

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self.commands.append((cmd, in_data, sudoable))
        program, *args = cmd.split(" ")
        done = self.host(CommandRequest(program, args, in_data or b"", "WINWORKER01\\admin"))
        return done.exit_code, done.stdout, done.stderr


def action(module, args, connection, check_mode=False, diff=False):
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=diff, action=getattr(module.ActionModule, "MODULE", None))
    return module.ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)


@pytest.fixture
def host():
    return FakeWindowsHost(accounts=[LocalAccount("WINWORKER01\\qubeproxy", PROXY_PW)],
                           shares={"\\\\fs01\\renders": {"WINWORKER01\\qubeproxy": "rw"}})


def args(**extra):
    base = {"account": "qubeproxy", "password": PROXY_PW, "validation_paths": ["\\\\fs01\\renders"]}
    base.update(extra)
    return base


def test_validates_through_the_connection_with_the_secret_on_stdin_only(host):
    connection = HostConnection(host)
    result = action(qube_validation_job, args(), connection).run(task_vars={"inventory_hostname": "win01"})
    assert not result["changed"] and not result["failed"] and result["validation"]["ok"], result
    assert result["validation"]["platform"] == "windows" and result["msg"] == "validation as .\\qubeproxy passed"
    assert len(connection.commands) == 1 and all(not sudoable for _c, _i, sudoable in connection.commands)
    for cmd, in_data, _sudoable in connection.commands:
        assert cmd.startswith("PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand ")
        assert len(cmd) < 1500 and PROXY_PW not in cmd and PROXY_PW.encode() not in in_data
    assert PROXY_PW not in repr(result)


def test_registers_through_the_connection_then_stays_unchanged(host):
    connection = HostConnection(host)
    first = action(qube_credential, {"account": "qubeproxy", "password": PROXY_PW, "register": "central"},
                   connection, diff=True).run(task_vars={"inventory_hostname": "win01"})
    assert first["changed"] and first["action"] == "registered" and len(first["proxy_password_hash"]) >= 64, first
    assert first["diff"]["after"] == "proxy_password = REDACTED (new value)\n"
    assert [c["program"] for c in host.calls if c["program"] != "powershell"] == ["qbhash"]
    for cmd, in_data, _sudoable in connection.commands:
        assert PROXY_PW not in cmd and PROXY_PW.encode() not in in_data
    again = action(qube_credential, {"account": "qubeproxy", "password": PROXY_PW, "register": "central"},
                   connection).run(task_vars={})
    assert not again["changed"] and again["action"] == "unchanged" and "diff" not in again
    assert again["proxy_password_hash"] == first["proxy_password_hash"]
    assert PROXY_PW not in repr(first) + repr(again)


def test_check_mode_registers_nothing(host):
    result = action(qube_credential, {"account": "qubeproxy", "password": PROXY_PW, "register": "qblogin"},
                    HostConnection(host), check_mode=True).run(task_vars={})
    assert result["changed"] and result["action"] == "registered" and "diff" not in result
    assert [c["program"] for c in host.calls if c["program"] != "powershell"] == []


def test_a_failed_validation_fails_the_task_with_the_named_error(host):
    result = action(qube_validation_job, args(password="Not-It-1"),
                    HostConnection(host)).run(task_vars={"inventory_hostname": "win01"})
    assert result["failed"] and result["validation"]["error"]["code"] == "wrong_password"
    assert "error 1326" in result["msg"] and "Not-It-1" not in repr(result)


def test_a_windows_host_without_a_powershell_connection_is_refused(host):
    connection = HostConnection(host, shell="sh")
    with pytest.raises(AnsibleActionFail, match="lin01: renderfarm.qube.qube_validation_job runs PowerShell through "
                                                "a Windows host's connection, but this connection uses the sh shell"):
        action(qube_validation_job, args(), connection).run(
            task_vars={"inventory_hostname": "lin01", "ansible_facts": {"system": "Win32NT"}})
    assert connection.commands == []


def test_a_posix_host_runs_the_module_of_the_same_name(host, monkeypatch):
    connection = HostConnection(host, shell="sh")
    connection._shell.tmpdir = None
    plugin = action(qube_credential, {"account": "qubeproxy", "password": PROXY_PW, "register": "local"}, connection)
    ran = []
    monkeypatch.setattr(plugin, "_execute_module", lambda **kwargs: ran.append(kwargs) or {"changed": True})
    monkeypatch.setattr(plugin, "_remove_tmp_path", lambda path: None)
    result = plugin.run(task_vars={"inventory_hostname": "lin01", "ansible_facts": {"system": "Linux"}})
    assert result["changed"] and ran[0]["module_name"] == "renderfarm.qube.qube_credential"
    assert ran[0]["module_args"]["register"] == "local" and connection.commands == []


def test_bad_arguments_are_refused(host):
    with pytest.raises(AnsibleActionFail, match="register"):
        action(qube_credential, {"account": "qubeproxy", "password": PROXY_PW, "register": "local"},
               HostConnection(host)).run(task_vars={})  # the local qb.conf on Windows never holds it
    with pytest.raises(AnsibleActionFail, match="validation_cadence"):
        action(qube_validation_job, args(validation_cadence="on_change"), HostConnection(host)).run(task_vars={})


def test_ad_check_never_touches_the_connection_and_names_an_unreachable_dc():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    connection = MagicMock()
    plugin = action(qube_ad_check, {"account": "render", "domain": "mycorp.test", "password": PROXY_PW,
                                    "server": "127.0.0.1", "port": port, "timeout": 3}, connection)
    assert plugin._requires_connection is False
    result = plugin.run(task_vars={})
    assert result["failed"] and result["ad_check"]["code"] == "connection_failed"
    assert result["msg"].startswith("render: cannot reach the domain controller 127.0.0.1:%d" % port)
    assert "Fix:" in result["msg"] and PROXY_PW not in repr(result)
    assert connection.exec_command.call_count == 0

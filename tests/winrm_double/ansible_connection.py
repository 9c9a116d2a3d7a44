"""Ansible's own ``ansible.builtin.winrm`` connection plugin, pointed at a WinRM double.

The unit tests of ``module_utils/winrm_identity.py`` run the engine through the SAME connection
plugin ``ansible-playbook`` uses (pywinrm, NTLM, message encryption, the powershell shell plugin's
encoding, stdin as in_data), without a playbook: :func:`winrm_connection` returns the connection and
:func:`executor` the ``execute(script, stdin)`` callable the action plugin hands to the engine.
"""

from __future__ import annotations

import types

from ansible.playbook.play_context import PlayContext
from ansible.plugins.loader import connection_loader

from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import IdentityAction


def winrm_connection(port: int, user: str, password: str, host: str = "127.0.0.1"):
    """A not yet connected ``ansible.builtin.winrm`` connection: http, NTLM, message encryption always."""
    connection = connection_loader.get("winrm", PlayContext())
    variables = {"ansible_host": host, "ansible_port": port, "ansible_user": user, "ansible_password": password,
                 "ansible_winrm_transport": "ntlm", "ansible_winrm_scheme": "http",
                 "ansible_winrm_message_encryption": "always", "ansible_winrm_operation_timeout_sec": 20,
                 "ansible_winrm_read_timeout_sec": 30}
    # _extras: the ansible_winrm_* variables, as TaskExecutor hands them to the plugin.
    variables["_extras"] = {k: v for k, v in variables.items() if k.startswith("ansible_winrm_")}
    connection.set_options(var_options=variables)
    return connection


def executor(connection):
    """The action plugin's own ``execute(script, stdin)`` (what it hands to the engine), on ``connection``."""
    action = types.SimpleNamespace(_connection=connection)
    return lambda script, stdin: IdentityAction.execute(action, script, stdin)

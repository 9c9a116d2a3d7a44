# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_win_identity``: a Windows job identity over the host's own connection.

Decides on the controller (``module_utils/winrm_identity.py``) and acts on the worker with the
collection's PowerShell scripts (``files/windows_identity/*.ps1``), each run through the task's
connection (``ansible.builtin.winrm``, ``ansible.builtin.psrp``, or ssh with the powershell shell),
authenticated the way the inventory says. No second credential, no second session: the scripts
go as ``powershell -EncodedCommand`` (the shell plugin's own encoding), the passwords only on the
process's stdin, inside the connection's encrypted channel. Documentation:
``plugins/modules/qube_win_identity.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.renderfarm.qube.plugins.module_utils import identity, winrm_identity

SCRIPTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "files",
                           "windows_identity")

ARGUMENT_SPEC = dict(
    identity.CREDENTIAL_ARGUMENT_SPEC,
    validate=dict(type="bool", default=True),
    validation_paths=dict(type="list", elements="str", default=[]),
    validation_command=dict(type="str", default=""),
    validation_rights=dict(type="list", elements="str", default=[],
                           choices=sorted(winrm_identity.RIGHT_LOGON_TYPES)),
    validation_timeout=dict(type="int", default=60),
    allow_privileged=dict(type="bool", default=False),
    qube_bin_dir=dict(type="str", default=winrm_identity.DEFAULT_BIN_DIR),
    qb_conf_path=dict(type="str", default=winrm_identity.QB_CONF),
    state_dir=dict(type="str", default=winrm_identity.STATE_DIR),
)


class ActionModule(ActionBase):
    """Runs the identity steps through ``self._connection``; see the module documentation."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    def execute(self, script, stdin):
        """One PowerShell script on the host: encoded by the connection's shell plugin, ``stdin`` as input."""
        command = self._connection._shell._encode_script(script, strict_mode=False, preserve_rc=False)
        return self._connection.exec_command(command, in_data=stdin, sudoable=False)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # nothing is copied to the host
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        shell = getattr(self._connection, "_shell", None)
        if getattr(shell, "SHELL_FAMILY", "") != "powershell" or not hasattr(shell, "_encode_script"):
            raise AnsibleActionFail(
                "qube_win_identity runs PowerShell through the host's connection: %s uses the %s shell. Use it "
                "on Windows hosts (ansible_connection winrm or psrp, or ssh with ansible_shell_type powershell); "
                "POSIX workers use renderfarm.qube.qube_identity" % (
                    (task_vars or {}).get("inventory_hostname", "this host"), getattr(shell, "SHELL_FAMILY", "?")))
        where = (task_vars or {}).get("inventory_hostname") or "the worker"
        try:
            scripts = winrm_identity.load_scripts(os.path.normpath(SCRIPTS_DIR))
        except winrm_identity.IdentityError as exc:
            raise AnsibleActionFail("%s - %s" % (exc.error["message"], exc.error["fix"]))
        outcome = winrm_identity.run(args, self._task.check_mode, self.execute, scripts, where=where)
        if not self._task.diff:
            outcome.pop("diff", None)
        result.update(outcome)
        return result

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the identity action plugins (``qube_credential``, ``qube_validation_job``) share: one name per
duty for every OS.

For a Windows host (the task's connection speaks PowerShell: ``ansible.builtin.winrm``,
``ansible.builtin.psrp``, or ssh with ``ansible_shell_type: powershell``) the action plugin runs the
collection's PowerShell (``files/windows_identity/*.ps1``) through that connection, authenticated the
way the inventory says: no second credential, no second session.  The scripts go as ``powershell
-EncodedCommand`` (the shell plugin's own encoding), the passwords only on the process's stdin,
inside the connection's encrypted channel.  Decisions are made on the controller
(``module_utils/winrm_identity.py``).  Any other host runs the Python module of the same name.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import (
    CREDENTIAL_ARGUMENT_SPEC, IDENTITY_ARGUMENT_SPEC,
)

SCRIPTS_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                                            "files", "windows_identity"))


def speaks_powershell(connection):
    """Whether the task's connection runs PowerShell (a Windows host, as Ansible reaches it)."""
    shell = getattr(connection, "_shell", None)
    return getattr(shell, "SHELL_FAMILY", "") == "powershell" and hasattr(shell, "_encode_script")


class IdentityAction(ActionBase):
    """Base of the identity action plugins: Windows through the connection, else the module."""

    TRANSFERS_FILES = False
    _requires_connection = True
    _supports_check_mode = True
    _supports_async = False

    MODULE = None                 # the module of the same name (POSIX hosts)
    WINDOWS_ARGUMENT_SPEC = None  # the options that apply on Windows

    def windows(self, args, steps):
        """The duty on a Windows host: the result dict (subclasses)."""
        raise NotImplementedError

    def execute(self, script, stdin):
        """One PowerShell script on the host: encoded by the connection's shell plugin, ``stdin`` as input."""
        command = self._connection._shell._encode_script(script, strict_mode=False, preserve_rc=False)
        return self._connection.exec_command(command, in_data=stdin, sudoable=False)

    def run(self, tmp=None, task_vars=None):
        result = super(IdentityAction, self).run(tmp, task_vars)
        del tmp  # the module path makes its own; the Windows path copies nothing
        task_vars = task_vars or {}
        where = task_vars.get("inventory_hostname") or "the host"
        if not speaks_powershell(self._connection):
            facts = task_vars.get("ansible_facts") or {}
            if facts.get("system") == "Win32NT":
                raise AnsibleActionFail(
                    "%s: %s runs PowerShell through a Windows host's connection, but this connection uses the %s "
                    "shell. Use ansible_connection winrm or psrp, or ssh with ansible_shell_type powershell" % (
                        where, self.MODULE, getattr(getattr(self._connection, "_shell", None), "SHELL_FAMILY", "?")))
            result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                               task_vars=task_vars))
            self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        _validation, args = self.validate_argument_spec(argument_spec=self.WINDOWS_ARGUMENT_SPEC)
        try:
            scripts = winrm_identity.load_scripts(SCRIPTS_DIR)
        except winrm_identity.IdentityError as exc:
            raise AnsibleActionFail("%s - %s" % (exc.error["message"], exc.error["fix"]))
        outcome = self.windows(args, winrm_identity.Steps(self.execute, scripts, where))
        if not self._task.diff:
            outcome.pop("diff", None)
        result.update(outcome)
        return result


class CredentialAction(IdentityAction):
    """``qube_credential``: registers the credential (``register.ps1`` on Windows)."""

    MODULE = "renderfarm.qube.qube_credential"
    WINDOWS_ARGUMENT_SPEC = dict(
        CREDENTIAL_ARGUMENT_SPEC,
        # The local qb.conf on Windows never holds proxy_password (readable by every user of the host).
        register=dict(type="str", choices=["central", "qblogin"], required=True),
        qube_bin_dir=dict(type="str", default=winrm_identity.DEFAULT_BIN_DIR),
        state_dir=dict(type="str", default=winrm_identity.STATE_DIR),
    )

    def windows(self, args, steps):
        return winrm_identity.register(args, self._task.check_mode, steps)


class ValidationJobAction(IdentityAction):
    """``qube_validation_job``: the validation job as the identity (``validate.ps1`` on Windows)."""

    MODULE = "renderfarm.qube.qube_validation_job"
    WINDOWS_ARGUMENT_SPEC = dict(
        IDENTITY_ARGUMENT_SPEC,
        validation_paths=dict(type="list", elements="str", default=[]),
        validation_command=dict(type="str", default=""),
        validation_rights=dict(type="list", elements="str", default=[],
                               choices=sorted(winrm_identity.RIGHT_LOGON_TYPES)),
        validation_timeout=dict(type="int", default=60),
        allow_privileged=dict(type="bool", default=False),
    )

    def windows(self, args, steps):
        return winrm_identity.validate(args, steps)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_credential``: a Windows host registers through its own
connection (``files/windows_identity/register.ps1``), any other host runs the module of the same
name. Shared shape: ``plugins/plugin_utils/identity_action.py``. Documentation:
``plugins/modules/qube_credential.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import CREDENTIAL_ARGUMENT_SPEC
from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import IdentityAction

WINDOWS_ARGUMENT_SPEC = dict(
    CREDENTIAL_ARGUMENT_SPEC,
    # The local qb.conf on Windows never holds proxy_password (readable by every user of the host).
    register=dict(type="str", choices=["central", "qblogin"], required=True),
    qube_bin_dir=dict(type="str", default=winrm_identity.DEFAULT_BIN_DIR),
    state_dir=dict(type="str", default=winrm_identity.STATE_DIR),
)


class ActionModule(IdentityAction):
    """Registers the credential; see the module documentation."""

    MODULE = "renderfarm.qube.qube_credential"
    WINDOWS_ARGUMENT_SPEC = WINDOWS_ARGUMENT_SPEC

    def windows(self, args, steps):
        return winrm_identity.register(args, self._task.check_mode, steps)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_validation_job``: a Windows host validates through its own
connection (``files/windows_identity/validate.ps1``), any other host runs the module of the same
name. Shared shape: ``plugins/plugin_utils/identity_action.py``. Documentation:
``plugins/modules/qube_validation_job.py``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.module_utils import winrm_identity
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import IDENTITY_ARGUMENT_SPEC
from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import IdentityAction

WINDOWS_ARGUMENT_SPEC = dict(
    IDENTITY_ARGUMENT_SPEC,
    validation_paths=dict(type="list", elements="str", default=[]),
    validation_command=dict(type="str", default=""),
    validation_rights=dict(type="list", elements="str", default=[], choices=sorted(winrm_identity.RIGHT_LOGON_TYPES)),
    validation_timeout=dict(type="int", default=60),
    allow_privileged=dict(type="bool", default=False),
)


class ActionModule(IdentityAction):
    """Runs the validation job as the identity; see the module documentation."""

    MODULE = "renderfarm.qube.qube_validation_job"
    WINDOWS_ARGUMENT_SPEC = WINDOWS_ARGUMENT_SPEC

    def windows(self, args, steps):
        return winrm_identity.validate(args, steps)

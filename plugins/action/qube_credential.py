# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_credential`` (registers a credential): ``plugins/plugin_utils/identity_action.py``;
documentation: ``plugins/modules/qube_credential.py``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import CredentialAction as ActionModule

__all__ = ("ActionModule",)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``renderfarm.qube.qube_validation_job`` (runs the validation job): ``plugins/plugin_utils/identity_action.py``;
documentation: ``plugins/modules/qube_validation_job.py``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.renderfarm.qube.plugins.plugin_utils.identity_action import ValidationJobAction as ActionModule

__all__ = ("ActionModule",)

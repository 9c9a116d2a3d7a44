# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one harness for action plugin tests: ``make_action(plugin, args, connection=None,
check_mode=False, diff=False)`` builds the plugin's ``ActionModule`` around a stand-in task (its
``args``, ``check_mode``, ``diff``, no async) and play context; ``connection`` defaults to a
stand-in whose shell has no temporary folder.  ``plugin`` is the action module or its
``ActionModule`` class.  Call ``.run(task_vars=...)`` on the result.

    def test_something(make_action):
        result = make_action(qube_preflight, {"hosts": ["a1"]}).run(task_vars={"hostvars": {...}})
"""

from unittest.mock import MagicMock

import pytest


def build_action(plugin, args, connection=None, check_mode=False, diff=False):
    """The plugin's ActionModule for one task; see the module docstring."""
    task = MagicMock(args=args, async_val=0, check_mode=check_mode, diff=diff)
    if connection is None:
        connection = MagicMock()
        connection._shell.tmpdir = "/nonexistent"
    action_class = getattr(plugin, "ActionModule", plugin)
    return action_class(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)


@pytest.fixture
def make_action():
    """``make_action(plugin, args, connection=None, check_mode=False, diff=False)`` -> ActionModule."""
    return build_action

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test equipment: record every task result per host as one JSON line (no result content).

Enabled by tests/integration/parity (ANSIBLE_CALLBACK_PLUGINS + ANSIBLE_CALLBACKS_ENABLED); the
file is $PARITY_RECORD_FILE. A line: run (check or real), host, delegated_to, play, task name,
task path (file:line), action, handler (bool), status (ok, changed, skipped, failed,
unreachable), ignored (failed but ignore_errors), and for two of the collection's modules a
whitelisted detail: qube_worker_mode's ``actions`` (what it changed, as path/unit texts) and
qube_credential's registration ``action`` and the names of qube_validation_job's checks. Nothing else
of a result is written (no arguments, loop items, labels, messages), so no secret can land here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible import context
from ansible.playbook.handler import Handler
from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: parity_record
    type: aggregate
    short_description: per-task, per-host status lines for the check-mode parity test
    description: Writes one JSON line per task result to the file named by PARITY_RECORD_FILE.
    requirements: [PARITY_RECORD_FILE set in the environment]
"""


def _detail(action, res):
    """The whitelisted, secret-free part of a result (see the module docstring)."""
    if action.endswith("qube_worker_mode"):
        return {"actions": [str(a) for a in res.get("actions") or []]}
    if action.endswith("qube_credential"):
        return {"action": res.get("action")}
    if action.endswith("qube_validation_job"):
        checks = (res.get("validation") or {}).get("checks") or []
        return {"checks": [str(c.get("name")) for c in checks if isinstance(c, dict)]}
    return None


def _is_handler(task):
    """True for a handler and for the tasks a handler included (they are Handler objects too)."""
    while task is not None:
        if isinstance(task, Handler):
            return True
        task = getattr(task, "_parent", None)
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "parity_record"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get("PARITY_RECORD_FILE")
        self._play = ""

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()

    def _write(self, result, status, ignored=False):
        if not self._path:
            return
        task = result._task
        res = result._result if isinstance(result._result, dict) else {}
        if status == "ok" and res.get("changed"):
            status = "changed"
        line = {
            "run": "check" if context.CLIARGS.get("check") else "real",
            "host": result._host.get_name(),
            "delegated_to": (res.get("_ansible_delegated_vars") or {}).get("ansible_host"),
            "play": self._play,
            "task": task.get_name(),
            "path": task.get_path(),
            "action": task.action,
            "handler": _is_handler(task),
            "status": status,
            "ignored": bool(ignored),
            "detail": _detail(task.action or "", res) if not res.get("_ansible_no_log") else None,
        }
        with open(self._path, "a") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")

    def v2_runner_on_ok(self, result):
        self._write(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._write(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._write(result, "unreachable")

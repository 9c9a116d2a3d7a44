# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: task results per host and wall time per task, written as JSON.

Enabled by benchmarks/run.sh only (``ANSIBLE_CALLBACK_PLUGINS=benchmarks/callback_plugins``,
``bench_profile`` in ``ANSIBLE_CALLBACKS_ENABLED``); the file goes to ``$BENCH_PROFILE_OUT``.
It records only counts, task names, actions and times, never a result's content.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = """
name: bench_profile
type: aggregate
short_description: per-host task counts and per-task wall time for the benchmark
description:
  - Counts every host's task results (ok, changed, skipped, failed, unreachable) and measures the
    wall time of every task like ansible.posix.profile_tasks; writes JSON to C(BENCH_PROFILE_OUT).
requirements: [enable in the callbacks_enabled setting]
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Collect counts and timings; write them when the playbook ends."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_profile"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._start = time.time()
        self._hosts = {}
        self._tasks = {}
        self._current = None
        self._current_start = None
        self._plays = []

    def _close_task(self):
        if self._current is not None:
            entry = self._tasks.setdefault(self._current, {"seconds": 0.0, "runs": 0})
            entry["seconds"] += time.time() - self._current_start
            entry["runs"] += 1
            self._current = None

    def _open_task(self, task):
        self._close_task()
        path = task.get_path() or ""
        self._current = "%s [%s] %s" % (task.get_name(), task.action, os.path.basename(path.split(":")[0]))
        self._current_start = time.time()

    def v2_playbook_on_play_start(self, play):
        self._close_task()
        self._plays.append({"name": play.get_name(), "start": time.time()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._open_task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._open_task(task)

    def _count(self, result, outcome):
        counts = self._hosts.setdefault(result._host.get_name(), {
            "ok": 0, "changed": 0, "skipped": 0, "failed": 0, "unreachable": 0})
        counts[outcome] += 1
        if outcome == "ok" and result._result.get("changed"):
            counts["changed"] += 1

    def v2_runner_on_ok(self, result):
        self._count(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._count(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._count(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        self._close_task()
        end = time.time()
        for index, play in enumerate(self._plays):
            nxt = self._plays[index + 1]["start"] if index + 1 < len(self._plays) else end
            play["seconds"] = round(nxt - play.pop("start"), 3)
        tasks = sorted(({"task": name, "seconds": round(v["seconds"], 3), "runs": v["runs"]}
                        for name, v in self._tasks.items()), key=lambda t: -t["seconds"])
        out = os.environ.get("BENCH_PROFILE_OUT")
        if not out:
            return
        with open(out, "w") as handle:
            json.dump({"seconds": round(end - self._start, 3), "plays": self._plays, "hosts": self._hosts,
                       "tasks": tasks}, handle, indent=1)

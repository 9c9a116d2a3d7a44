# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Callback plugin ``renderfarm.qube.qube_report``: the farm report at the end of every run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: qube_report
type: notification
short_description: Per-host Qube! farm report (terminal table, JSON and HTML) at the end of a run
description:
  - Collects the C(qube_report) fact that the collection's roles set on every worker, the
    per-host recap counts and the run's metadata, and at the end of the playbook prints a table
    and writes C(qube-report.json) and C(qube-report.html) into O(report_dir).
  - Only the whitelisted keys C(mode), C(job_identity), C(execution_mode), C(config_state),
    C(validation), C(validation_detail) and C(drain) of that fact are read, as short strings.
    No other fact, no task argument and no module output is ever read, so no secret can reach
    the report.
  - Hosts of O(workers_group) are reported as workers, also when the run never reached them
    (status C(not run)); every other host that took part in the run is listed too.
  - Does not replace the stdout callback; enable it with C(callbacks_enabled = renderfarm.qube.qube_report).
requirements:
  - Enabled through C(callbacks_enabled) in ansible.cfg or E(ANSIBLE_CALLBACKS_ENABLED).
options:
  report_dir:
    description: Directory for C(qube-report.json) and C(qube-report.html); created when missing.
    type: path
    default: ./reports
    ini:
      - section: qube_report
        key: report_dir
    env:
      - name: QUBE_REPORT_DIR
  workers_group:
    description: Inventory group whose hosts are the render workers.
    type: str
    default: qube_workers
    ini:
      - section: qube_report
        key: workers_group
    env:
      - name: QUBE_REPORT_WORKERS_GROUP
  supervisors_group:
    description: Inventory group whose hosts are labelled C(supervisor) in the report.
    type: str
    default: qube_supervisors
    ini:
      - section: qube_report
        key: supervisors_group
    env:
      - name: QUBE_REPORT_SUPERVISORS_GROUP
"""

import os
import tempfile
from datetime import datetime, timezone

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.utils.color import stringc
from ansible_collections.renderfarm.qube.plugins.module_utils.report import (
    FarmReport,
    HostRow,
    RunInfo,
    render_html,
    render_json,
    render_table,
    sanitize_fact,
)

FACT_NAME = "qube_report"
JSON_NAME = "qube-report.json"
HTML_NAME = "qube-report.html"
RECAP_KEYS = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")
TONE_COLORS = {"good": "green", "bad": "bright red", "neutral": "dark gray", "info": "bright blue",
               "accent": "magenta", "warn": "yellow"}


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def colorize(text, tone):
    """``text`` in the ANSI colour of ``tone``; ansible's ``stringc`` leaves it plain off a TTY."""
    color = TONE_COLORS.get(tone)
    return stringc(text, color) if color and text else text


def report_fact(task_result):
    """The sanitized ``qube_report`` fact carried by one task result, or ``{}``."""
    data = getattr(task_result, "result", None)
    if data is None:
        data = getattr(task_result, "_result", None)
    facts = data.get("ansible_facts") if isinstance(data, dict) else None
    if not isinstance(facts, dict):
        return {}
    return sanitize_fact(facts.get(FACT_NAME))


def host_name(task_result):
    """Inventory name of the host a task result belongs to."""
    host = getattr(task_result, "host", None) or getattr(task_result, "_host", None)
    return host.get_name() if host is not None else ""


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory (mode 0644)."""
    directory = os.path.dirname(path)
    handle, tmp = tempfile.mkstemp(prefix=".qube-report.", dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class CallbackModule(CallbackBase):
    """Collect per-host report facts during the run; print and write the report at the end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "renderfarm.qube.qube_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._facts = {}
        self._workers = set()
        self._supervisors = set()
        self._playbook = ""
        self._started = _now()

    # --- run metadata and inventory ---

    def v2_playbook_on_start(self, playbook):
        """Remember the playbook file name and the start time."""
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")
        self._started = _now()

    def v2_playbook_on_play_start(self, play):
        """Read group membership from the play's inventory (``add_host`` may grow it per play)."""
        manager = play.get_variable_manager() if hasattr(play, "get_variable_manager") else None
        inventory = getattr(manager, "_inventory", None)
        if inventory is None:
            return
        self._workers |= self._group_hosts(inventory, self.get_option("workers_group"))
        self._supervisors |= self._group_hosts(inventory, self.get_option("supervisors_group"))

    @staticmethod
    def _group_hosts(inventory, group):
        """Names of the hosts of ``group`` within ``--limit``, including hosts that already failed."""
        if not group or group not in inventory.groups:
            return set()
        return {host.get_name() for host in inventory.get_hosts(group, ignore_restrictions=True)}

    # --- facts from task results ---

    def _collect(self, task_result):
        fact = report_fact(task_result)
        if fact:
            self._facts.setdefault(host_name(task_result), {}).update(fact)

    def v2_runner_on_ok(self, result):
        """A ``set_fact`` of ``qube_report`` (or any result carrying it) updates the host's entry."""
        self._collect(result)

    def v2_runner_item_on_ok(self, result):
        """The same for one item of a loop."""
        self._collect(result)

    # --- the report ---

    def _role_of(self, host):
        if host in self._workers:
            return "worker"
        if host in self._supervisors:
            return "supervisor"
        return "other"

    def build_report(self, stats):
        """The :class:`FarmReport` of this run from the collected facts and the final stats."""
        hosts = set(stats.processed) | self._workers
        rows = []
        for host in hosts:
            counts = stats.summarize(host) if host in stats.processed else None
            if counts is not None:
                counts = {key: counts.get(key, 0) for key in RECAP_KEYS}
            rows.append(HostRow.build(host, self._role_of(host), self._facts.get(host), counts))
        check_mode = bool(context.CLIARGS.get("check", False)) if context.CLIARGS else False
        run = RunInfo(playbook=self._playbook, started=self._started, ended=_now(), check_mode=check_mode)
        return FarmReport(run, rows)

    def v2_playbook_on_stats(self, stats):
        """Print the table and write the JSON and HTML files."""
        report = self.build_report(stats)
        self._display.banner("QUBE! FARM REPORT")
        self._display.display(render_table(report, colorize=colorize).rstrip("\n"))
        report_dir = self.get_option("report_dir")
        try:
            os.makedirs(report_dir, exist_ok=True)
            for name, text in ((JSON_NAME, render_json(report)), (HTML_NAME, render_html(report))):
                write_atomic(os.path.join(report_dir, name), text)
        except OSError as exc:
            self._display.warning("qube_report: could not write the report into %s: %s" % (report_dir, exc))
            return
        self._display.display("Report written: %s, %s" % (os.path.join(report_dir, JSON_NAME),
                                                          os.path.join(report_dir, HTML_NAME)))

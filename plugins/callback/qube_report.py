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
version_added: 0.1.0
description:
  - Collects the C(qube_report) fact that the collection's roles set on every worker, the
    per-host recap counts and the run's metadata, and at the end of the playbook prints a table
    and writes C(qube-report.json) and C(qube-report.html) into O(report_dir).
  - Only the whitelisted keys C(mode), C(job_identity), C(execution_mode), C(config_state),
    C(validation), C(validation_detail), C(validated_at), C(drain) and C(central) of that fact are
    read, as short strings.
  - C(validated_at) (column LAST PROVEN) is when the worker's job identity was last proven by a
    passed validation job, an ISO 8601 UTC time from the worker's proof record - this run's time
    when C(validation) is V(passed), an earlier one when the validation cadence skipped the job
    (C(validation) V(skipped), the reason in the detail). Anything else in it is shown as
    C((invalid)).
    No other fact, no task argument and no module output is ever read, so no secret can reach
    the report.
  - Hosts of O(workers_group) are reported as workers, also when the run never reached them
    (status C(not run)), and also when it was only looked at by the read-only plays whose names start
    with C(Preflight) or C(Converged) (a converged worker left out of the batches gets its row there,
    so it counts as run); every other host that took part in the run is listed too.
  - For a host that failed or became unreachable, the report names the task where that happened
    (C(failed_at) in the JSON, a line under the table, a list in the HTML page) - the task's name
    only, never its arguments or output.
  - When the playbook starts, an incomplete report (C(complete=false), no hosts) replaces the
    previous one, so a run that was killed or crashed before its end never leaves an older run's
    report looking current. The end of the run writes the full report with C(complete=true).
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
  html_template:
    description:
      - A Jinja2 template file for C(qube-report.html), to use instead of the collection's
        C(templates/qube-report.html.j2) (copy that file to start from; its first lines list what
        the page is given). It is rendered on the controller with autoescape on.
      - When the file does not exist, the callback is not loaded (C(ansible-playbook) warns, naming
        this option) and no report is written.
    type: path
    version_added: 0.4.0
    ini:
      - section: qube_report
        key: html_template
    env:
      - name: QUBE_REPORT_HTML_TEMPLATE
"""

import json
import os
import tempfile
from datetime import datetime, timezone

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback import CallbackBase
from ansible.utils.color import stringc
from ansible_collections.renderfarm.qube.plugins.module_utils.report import (
    FarmReport,
    HostRow,
    RunInfo,
    clean_text,
    render_table,
    sanitize_fact,
    to_dict,
)
from ansible_collections.renderfarm.qube.plugins.plugin_utils.report_html import (
    INCOMPLETE,
    render_html,
    template_file,
)

FACT_NAME = "qube_report"
JSON_NAME = "qube-report.json"
HTML_NAME = "qube-report.html"
RECAP_KEYS = ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored")
HTML_TEMPLATE_OPTION = ("qube_report callback option html_template (QUBE_REPORT_HTML_TEMPLATE, "
                        "ansible.cfg [qube_report] html_template)")
TASK_NAME_LIMIT = 120
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


def task_name(task_result):
    """The display name of the task a result belongs to (never its arguments), shortened."""
    task = getattr(task_result, "task", None) or getattr(task_result, "_task", None)
    name = task.get_name() if task is not None else ""
    return clean_text(name, TASK_NAME_LIMIT)


def report_data(report, failures):
    """:func:`to_dict` of ``report`` with, per host, ``failed_at`` (the task where a failed or
    unreachable host stopped, ``""`` otherwise), and ``{host: (status, task)}`` of those hosts.

    ``failures`` is ``{host: (status, task name)}``.
    """
    data = to_dict(report)
    stopped = {}
    for item in data["hosts"]:
        status, task = failures.get(item["host"], ("", ""))
        item["failed_at"] = task if status and item["status"] in ("failed", "unreachable") else ""
        if item["failed_at"]:
            stopped[item["host"]] = (item["status"], item["failed_at"])
    return data, stopped


def report_texts(report, failures, complete, template=None):
    """JSON and HTML text of ``report`` and the hosts that stopped (see :func:`report_data`).

    The JSON is :func:`report_data` plus ``complete``. The HTML page (``template``: a custom
    template file, or None for the collection's) shows the same facts: the hosts that stopped
    and, while the run has not finished, a note that says so. Raises AnsibleError when the
    template cannot be rendered.
    """
    data, stopped = report_data(report, failures)
    page = render_html(data, template, HTML_TEMPLATE_OPTION, complete=complete)
    data["complete"] = complete
    if not complete:
        data["summary_line"] = INCOMPLETE
    return json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", page, stopped


class CallbackModule(CallbackBase):
    """Collect per-host report facts during the run; print and write the report at the end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "renderfarm.qube.qube_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._facts = {}
        self._failures = {}
        self._workers = set()
        # Hosts that got past the read-only preflight plays: a worker that only passed its checks
        # before the run stopped (another host's problem, the supervisor down) is "not run".
        self._worked = set()
        self._preflight_seen = set()
        self._preflight_play = False
        self._supervisors = set()
        self._playbook = ""
        self._started = _now()
        self._template = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        """Read the options; a custom HTML template that is not a file stops the callback here."""
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        template = self.get_option("html_template")
        self._template = template_file(template, HTML_TEMPLATE_OPTION) if template else None

    # --- run metadata and inventory ---

    def v2_playbook_on_start(self, playbook):
        """Remember the playbook file name and the start time; mark the report incomplete."""
        self._playbook = os.path.basename(getattr(playbook, "_file_name", "") or "")
        self._started = _now()
        self._write(FarmReport(RunInfo(playbook=self._playbook, started=self._started,
                                       check_mode=self._check_mode()), []), complete=False)

    def v2_playbook_on_play_start(self, play):
        """Read group membership from the play's inventory (``add_host`` may grow it per play)."""
        # The read-only plays before any change: the preflights, and the converged workers' shared
        # read-back (a worker it leaves out of the batches gets its row there, so it counts as run).
        self._preflight_play = str(play.get_name()).startswith(("Preflight", "Converged"))
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

    def _worked_on(self, task_result):
        if self._preflight_play:
            self._preflight_seen.add(host_name(task_result))
        else:
            self._worked.add(host_name(task_result))

    def v2_runner_on_skipped(self, result):
        """A skipped task outside the preflight still means the host took part in the run."""
        self._worked_on(result)

    def _collect(self, task_result):
        self._worked_on(task_result)
        fact = report_fact(task_result)
        if fact:
            self._facts.setdefault(host_name(task_result), {}).update(fact)
            self._worked.add(host_name(task_result))  # its row was filled: it took part in the run

    def v2_runner_on_ok(self, result):
        """A ``set_fact`` of ``qube_report`` (or any result carrying it) updates the host's entry."""
        self._collect(result)

    def v2_runner_item_on_ok(self, result):
        """The same for one item of a loop."""
        self._collect(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        """Remember the task where the host failed first (an ignored failure does not count): a
        worker whose batch failed fails again at the end of its rollback, the cause stays."""
        self._worked_on(result)
        if not ignore_errors:
            self._failures.setdefault(host_name(result), ("failed", task_name(result)))

    def v2_runner_on_unreachable(self, result):
        """Remember the task where the host became unreachable."""
        self._failures[host_name(result)] = ("unreachable", task_name(result))

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
            if counts is not None and host in self._workers and host not in self._worked \
                    and host not in self._failures and self._playbook_has_preflight_only(host):
                counts = None  # passed the preflight, then the run stopped before its plays
            if counts is not None:
                counts = {key: counts.get(key, 0) for key in RECAP_KEYS}
            rows.append(HostRow.build(host, self._role_of(host), self._facts.get(host), counts))
        run = RunInfo(playbook=self._playbook, started=self._started, ended=_now(), check_mode=self._check_mode())
        return FarmReport(run, rows)

    def _playbook_has_preflight_only(self, host):
        """Whether ``host`` took part only in preflight plays (seen there, never after)."""
        return host in self._preflight_seen

    @staticmethod
    def _check_mode():
        return bool(context.CLIARGS.get("check", False)) if context.CLIARGS else False

    def _write(self, report, complete):
        """Write the JSON and HTML files; the hosts that stopped, or None when writing failed."""
        report_dir = self.get_option("report_dir")
        try:
            json_text, page, stopped = report_texts(report, self._failures, complete, self._template)
            os.makedirs(report_dir, exist_ok=True)
            for name, text in ((JSON_NAME, json_text), (HTML_NAME, page)):
                write_atomic(os.path.join(report_dir, name), text)
        except (OSError, AnsibleError) as exc:
            self._display.warning("qube_report: could not write the report into %s: %s" % (report_dir, exc))
            return None
        return stopped

    def v2_playbook_on_stats(self, stats):
        """Print the table and write the JSON and HTML files."""
        report = self.build_report(stats)
        self._display.banner("QUBE! FARM REPORT")
        self._display.display(render_table(report, colorize=colorize).rstrip("\n"))
        _data, stopped = report_data(report, self._failures)
        for host, (status, task) in sorted(stopped.items()):
            self._display.display("%s %s at: %s" % (host, colorize(status, "bad"), task))
        if self._write(report, complete=True) is None:
            return
        report_dir = self.get_option("report_dir")
        self._display.display("Report written: %s, %s" % (os.path.join(report_dir, JSON_NAME),
                                                          os.path.join(report_dir, HTML_NAME)))

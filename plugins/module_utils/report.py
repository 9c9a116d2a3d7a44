# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm report: a model of one ``ansible-playbook`` run, its terminal table and its JSON.

Pure functions, no Ansible imports: the ``qube_report`` callback builds a :class:`FarmReport`
and writes :func:`render_table` (terminal) and :func:`render_json`; the HTML page is the
template ``templates/qube-report.html.j2`` rendered from :func:`to_dict` on the controller
(``plugins/plugin_utils/report_html.py``).

Roles hand over per-host state in the ``qube_report`` fact. :func:`sanitize_fact` keeps only the
whitelisted keys of :data:`FACT_KEYS`, takes only scalar values and shortens them, so a secret
placed anywhere else (another fact, a task argument, a nested value) can never reach a report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
NOT_RUN = "not run"
EMPTY = "-"

# key -> allowed values (None: free text)
FACT_KEYS = {
    "mode": ("service", "desktop"),
    "job_identity": None,
    "execution_mode": ("proxy", "user", "desktop_user"),
    # not_running: a Desktop User worker whose user is not logged in (its normal state)
    # panic/down: the worker's own state after the change (qbhosts), a failure of its host
    "config_state": ("in_sync", "drifted", "not_running", "panic", "down", UNKNOWN),
    "validation": ("passed", "failed", "skipped"),
    "validation_detail": None,
    # When the worker's job identity was last proven by a passed validation job (ISO 8601 UTC, from
    # the worker's proof record): this run's time when validation is "passed", an earlier one when
    # the cadence (qube_validate_cadence: on_change) found nothing changed and skipped it.
    "validated_at": "iso_time",
    "drain": None,
    # The worker's central settings (its qbwrk.conf section) after the run: the new ones (its batch
    # ran), the previous ones (its batch did not run), put back after its batch failed, or left new
    # after a failure (qube_rollback_failed_batch: false).
    "central": ("new", "previous", "rolled_back", "kept", UNKNOWN),
}
FACT_DEFAULTS = {"mode": UNKNOWN, "job_identity": "", "execution_mode": UNKNOWN,
                 "config_state": UNKNOWN, "validation": "skipped", "validation_detail": "", "validated_at": "",
                 "drain": "", "central": "previous"}
TEXT_LIMITS = {"job_identity": 64, "validation_detail": 120, "drain": 120}
INVALID = "(invalid)"

TONES = {
    "ok": "good", "passed": "good", "in_sync": "good",
    "failed": "bad", "drifted": "bad", "unreachable": "bad", "panic": "bad", "down": "bad",
    "skipped": "neutral", UNKNOWN: "neutral", NOT_RUN: "neutral", "not_running": "neutral",
    "new": "good", "previous": "neutral", "rolled_back": "warn", "kept": "bad",
    "service": "info", "desktop": "info", "proxy": "accent", "user": "accent", "desktop_user": "accent",
    "worker": "plain", "supervisor": "plain", "other": "plain",
}

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_ISO_TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def clean_text(value, limit=40):
    """A scalar as one short printable line; containers and ``None`` become ``''``/``(invalid)``."""
    if value is None:
        return ""
    if not isinstance(value, (str, int, float, bool)):
        return INVALID
    text = " ".join(_CONTROL_RE.sub(" ", str(value)).split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def sanitize_fact(raw):
    """The whitelisted ``qube_report`` keys of ``raw`` as short strings (missing keys left out)."""
    if not isinstance(raw, dict):
        return {}
    clean = {}
    for key, choices in FACT_KEYS.items():
        if key not in raw:
            continue
        text = clean_text(raw[key], TEXT_LIMITS.get(key, 40))
        if choices == "iso_time":
            # a time such as 2026-12-06T09:41:07Z, or nothing: anything else is not shown
            text = text if _ISO_TIME_RE.match(text) else ("" if not text else INVALID)
        elif choices is not None:
            text = text.lower() if text.lower() in choices else UNKNOWN
        clean[key] = text
    return clean


def run_status(counts):
    """``ok|failed|unreachable|skipped|not run`` from a host's recap counts (``None``: not run)."""
    if not counts:
        return NOT_RUN
    if counts.get("unreachable"):
        return "unreachable"
    if counts.get("failures"):
        return "failed"
    if not counts.get("ok") and counts.get("skipped"):
        return "skipped"
    return "ok"


def tone(value):
    """Colour class of a state value: good, bad, neutral, info, accent or plain."""
    return TONES.get(value, "plain")


@dataclass(frozen=True)
class HostRow:
    """One host of the report; every field already sanitized."""

    host: str
    role: str = "other"
    status: str = NOT_RUN
    mode: str = UNKNOWN
    job_identity: str = ""
    execution_mode: str = UNKNOWN
    config_state: str = UNKNOWN
    validation: str = "skipped"
    validation_detail: str = ""
    validated_at: str = ""
    drain: str = ""
    central: str = "previous"
    changed: int = 0

    @classmethod
    def build(cls, host, role, fact, counts):
        """A row from a host name, its role, its raw ``qube_report`` fact and its recap counts."""
        values = dict(FACT_DEFAULTS) if role == "worker" or fact else dict.fromkeys(FACT_DEFAULTS, "")
        values.update(sanitize_fact(fact))
        return cls(host=clean_text(host, 80), role=role, status=run_status(counts),
                   changed=int((counts or {}).get("changed", 0)), **values)

    @property
    def detail(self):
        """Validation detail and drain note in one line."""
        parts = [self.validation_detail] if self.validation_detail else []
        if self.drain:
            parts.append("drain: " + self.drain)
        return "; ".join(parts)


@dataclass(frozen=True)
class RunInfo:
    """Metadata of the run (ISO 8601 times)."""

    playbook: str = ""
    started: str = ""
    ended: str = ""
    check_mode: bool = False

    def duration(self):
        """``7 min 44 s`` between start and end, or ``''`` when a time is missing or unreadable."""
        try:
            seconds = int((datetime.fromisoformat(self.ended) - datetime.fromisoformat(self.started)).total_seconds())
        except (TypeError, ValueError):
            return ""
        hours, rest = divmod(max(seconds, 0), 3600)
        minutes, seconds = divmod(rest, 60)
        parts = (("%d h" % hours) if hours else "", ("%d min" % minutes) if hours or minutes else "", "%d s" % seconds)
        return " ".join(part for part in parts if part)


@dataclass
class FarmReport:
    """The run and its hosts; :attr:`rows` are kept sorted by host name."""

    run: RunInfo
    rows: list = field(default_factory=list)

    def __post_init__(self):
        self.rows = sorted(self.rows, key=lambda row: row.host)

    def summary(self):
        """Counts: workers by mode and validation; failed/unreachable/not run over every host."""
        workers = [row for row in self.rows if row.role == "worker"]
        return {
            "workers": len(workers),
            "service": sum(row.mode == "service" for row in workers),
            "desktop": sum(row.mode == "desktop" for row in workers),
            "validated": sum(row.validation == "passed" for row in workers),
            "failed": sum(row.status == "failed" for row in self.rows),
            "unreachable": sum(row.status == "unreachable" for row in self.rows),
            "not_run": sum(row.status == NOT_RUN for row in self.rows),
            "central_new": sum(row.central == "new" for row in workers),
            "rolled_back": sum(row.central == "rolled_back" for row in workers),
            "changed": sum(row.changed for row in self.rows),
        }

    def summary_line(self):
        """``N workers, N in service mode, ... N unreachable`` (``, N not run`` when any)."""
        s = self.summary()
        line = ("%(workers)d workers, %(service)d in service mode, %(desktop)d in desktop mode, "
                "%(validated)d validated, %(failed)d failed, %(unreachable)d unreachable" % s)
        line += ", %d rolled back" % s["rolled_back"] if s["rolled_back"] else ""
        return line + (", %d not run" % s["not_run"] if s["not_run"] else "")


def to_dict(report):
    """The report as plain JSON-ready data."""
    hosts = []
    for row in report.rows:
        item = asdict(row)
        item["detail"] = row.detail
        hosts.append(item)
    run = asdict(report.run)
    run["duration"] = report.run.duration()
    return {"schema": SCHEMA_VERSION, "run": run, "summary": report.summary(),
            "summary_line": report.summary_line(), "hosts": hosts}


def render_json(report):
    """Deterministic, indented JSON text of :func:`to_dict`."""
    return json.dumps(to_dict(report), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


# --- terminal ------------------------------------------------------------------------------

TABLE_COLUMNS = (
    ("HOST", "host"), ("ROLE", "role"), ("STATUS", "status"), ("MODE", "mode"),
    ("JOB IDENTITY", "job_identity"), ("EXEC", "execution_mode"), ("CONFIG", "config_state"),
    ("VALIDATION", "validation"), ("LAST PROVEN", "validated_at"), ("CENTRAL", "central"), ("CHANGED", "changed"),
    ("DETAIL", "detail"),
)


def _cell_tone(attr, value):
    if attr == "changed":
        return "warn" if value != "0" else "plain"
    if attr in ("host", "job_identity", "detail", "validated_at"):
        return "plain"
    return tone(value)


def render_table(report, colorize=None):
    """Aligned plain-text table with a title and summary line.

    ``colorize(text, tone)`` may wrap a cell in colour codes; padding is added outside it, so the
    columns stay aligned whether or not colour is used.
    """
    paint = colorize or (lambda text, _tone: text)
    cells = [[str(getattr(row, attr)) or EMPTY for _title, attr in TABLE_COLUMNS] for row in report.rows]
    widths = [max([len(title)] + [len(line[i]) for line in cells]) for i, (title, _a) in enumerate(TABLE_COLUMNS)]

    def line_of(values, tones):
        parts = [paint(v, t) + " " * (w - len(v)) for v, t, w in zip(values, tones, widths)]
        return "  ".join(parts).rstrip()

    run = report.run
    out = ["Playbook %s  started %s  ended %s  (%s)%s" % (
        run.playbook or EMPTY, run.started or EMPTY, run.ended or EMPTY, run.duration() or EMPTY,
        "  [CHECK MODE: hosts untouched, CHANGED = would change]" if run.check_mode else "")]
    out.append(line_of([title for title, _a in TABLE_COLUMNS], ["plain"] * len(TABLE_COLUMNS)))
    out.append("  ".join("-" * w for w in widths))
    for values in cells:
        out.append(line_of(values, [_cell_tone(attr, v) for (_t, attr), v in zip(TABLE_COLUMNS, values)]))
    if not cells:
        out.append("(no hosts)")
    out.append(report.summary_line())
    return "\n".join(out) + "\n"


# --- several runs (job slices) as one farm -------------------------------------------------------

# Which row of a host wins when several runs name it (the supervisor is in every slice): the one
# that says most about what happened.
_STATUS_WEIGHT = {"failed": 5, "unreachable": 4, "ok": 3, "skipped": 2, NOT_RUN: 1}


def _row_from_dict(item):
    """A :class:`HostRow` from one ``hosts`` entry of a report's JSON, every value sanitized again."""
    if not isinstance(item, dict) or not item.get("host"):
        return None
    fact = dict((key, item[key]) for key in FACT_KEYS if item.get(key) not in (None, ""))
    role = item.get("role") if item.get("role") in ("worker", "supervisor", "other") else "other"
    status = item.get("status") if item.get("status") in _STATUS_WEIGHT else NOT_RUN
    row = HostRow.build(item["host"], role, fact, None)
    try:
        changed = max(int(item.get("changed", 0)), 0)
    except (TypeError, ValueError):
        changed = 0
    return HostRow(**dict(asdict(row), status=status, changed=changed))


def merge_reports(reports):
    """One :class:`FarmReport` from the JSON data of several runs over parts of the farm.

    A host in several runs (the supervisor of every slice) keeps the row of the run that says
    most (failed, then unreachable, ok, skipped, not run); its ``changed`` counts are added.
    The run spans the earliest start to the latest end; check mode if any run was one.
    """
    rows, changed, runs = {}, {}, []
    for data in reports:
        if not isinstance(data, dict):
            continue
        run = data.get("run") or {}
        runs.append(run)
        for item in data.get("hosts") or []:
            row = _row_from_dict(item)
            if row is None:
                continue
            changed[row.host] = changed.get(row.host, 0) + row.changed
            kept = rows.get(row.host)
            if kept is None or _STATUS_WEIGHT[row.status] > _STATUS_WEIGHT[kept.status]:
                rows[row.host] = row
    merged = [HostRow(**dict(asdict(row), changed=changed[host])) for host, row in rows.items()]
    starts = sorted(str(r.get("started")) for r in runs if r.get("started"))
    ends = sorted(str(r.get("ended")) for r in runs if r.get("ended"))
    playbooks = sorted(set(clean_text(r.get("playbook"), 80) for r in runs if r.get("playbook")))
    info = RunInfo(playbook=", ".join(playbooks), started=starts[0] if starts else "",
                   ended=ends[-1] if ends else "", check_mode=any(bool(r.get("check_mode")) for r in runs))
    return FarmReport(info, merged)

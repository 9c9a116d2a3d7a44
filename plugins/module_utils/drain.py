# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Worker drain decisions: read the supervisor's host list and decide the next step of a drain.

Qube! locks a worker's job slots with ``qblock HOST`` ("finish current": running jobs complete,
no new job starts; ``--purge`` would kill them) and releases them with ``qbunlock HOST``
(advanced-users-guide/command-line-reference/qblock.md, qbunlock.md). The state comes from
``qbhosts --xml`` (CLI/qbhosts.md), whose XML layout the vendor does not document: the reader
accepts child elements or attributes and several spellings, and says so (:class:`LayoutError`)
when it cannot find a host's name, lock or running jobs, instead of guessing "unlocked" or "idle".

A drain is a series of calls (the ``qube_drain`` module does one look per call; Ansible's
``until``/``retries``/``delay`` repeats it). What one call does is :func:`decide`; what must
survive between calls (and across a run that died) is the marker file on the supervisor
(:func:`read_marker`, :func:`marker_text`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import xml.etree.ElementTree as ET

HOST_TAGS = ("host", "worker")
NAME_FIELDS = ("name", "hostname", "host")
LOCK_FIELDS = ("locked", "lock", "locked_slots", "lockedslots")
JOB_FIELDS = ("jobs_running", "jobs", "running", "running_jobs", "runningjobs", "active_jobs", "activejobs")
STATE_FIELDS = ("state", "status")
_SLOT_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
# How many names a message lists before "...": a farm has thousands.
_MAX_NAMES = 20


class LayoutError(Exception):
    """``qbhosts --xml`` printed something this reader cannot use; the message says what."""


def _field(elem, names):
    """``(found, text)`` of the first field among ``names`` (attribute or child element)."""
    for name in names:
        if name in elem.attrib:
            return True, elem.attrib[name].strip()
        child = elem.find(name)
        if child is not None:
            return True, (child.text or "").strip()
    return False, None


def _lock_value(text):
    """Locked (True/False) from a lock field's text; None when the text means nothing known."""
    lowered = text.lower()
    if lowered in ("", "0", "no", "false", "unlocked", "none"):
        return False
    if lowered in ("yes", "true", "locked", "all"):
        return True
    if lowered.isdigit():
        return int(lowered) > 0
    # per-slot locks (qblock --range 0,1): a slot list such as "0,1" or "0-3"
    if _SLOT_LIST.match(lowered.replace(" ", "")):
        return True
    return None


def _jobs_value(text):
    """Running jobs from a jobs field: a count, or a list of job ids; None when unreadable."""
    if text == "":
        return 0
    if text.isdigit():
        return int(text)
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if parts and all(re.match(r"^\d+(\.\d+)?$", part) for part in parts):
        return len(parts)
    return None


def _fields_seen(elem):
    return sorted(set(elem.attrib) | set(child.tag for child in elem))


def parse_hosts_xml(text):
    """Parse ``qbhosts --xml`` output into ``{name: entry}``.

    ``entry`` is ``{"locked": bool|None, "jobs": int|None, "state": str, "fields": [names]}``:
    None means the field is missing or unreadable (the caller must not treat that as unlocked or
    idle). Raises :class:`LayoutError` for empty output, text that is not XML, or a document
    that lists entries none of which has a name field.
    """
    if not (text or "").strip():
        raise LayoutError("qbhosts --xml printed nothing")
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise LayoutError("qbhosts --xml output is not XML (%s)" % exc)
    candidates = [root] if root.tag.lower() in HOST_TAGS else [e for e in root.iter() if e.tag.lower() in HOST_TAGS]
    hosts = {}
    for elem in candidates:
        found, name = _field(elem, NAME_FIELDS)
        if not found or not name:
            continue
        has_lock, lock_text = _field(elem, LOCK_FIELDS)
        has_jobs, jobs_text = _field(elem, JOB_FIELDS)
        state = _field(elem, STATE_FIELDS)[1]
        hosts[name] = {
            "locked": _lock_value(lock_text) if has_lock else None,
            "jobs": _jobs_value(jobs_text) if has_jobs else None,
            "state": (state or "").lower() or "unknown",
            "fields": _fields_seen(elem),
        }
    if not hosts and len(root):
        seen = sorted(set(child.tag for child in root))
        raise LayoutError("qbhosts --xml lists no host entry with a name this collection can read "
                          "(looked for <host>/<worker> with %s; elements seen under <%s>: %s)"
                          % ("/".join(NAME_FIELDS), root.tag, ", ".join(seen)))
    return hosts


def find_worker(hosts, names):
    """``(listed_name, entry)`` for the first of ``names`` the supervisor lists, else ``(None, None)``.

    Host names compare without regard to case (DNS names are case-insensitive).
    """
    by_lower = {}
    for listed in sorted(hosts):
        by_lower.setdefault(listed.lower(), listed)
    for name in names:
        listed = by_lower.get((name or "").lower())
        if listed is not None:
            return listed, hosts[listed]
    return None, None


def candidate_names(primary, aliases):
    """``primary`` then each alias, without empties or repeats (case-insensitive), in order."""
    out, seen = [], set()
    for name in [primary] + list(aliases or []):
        name = (name or "").strip()
        if name and name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def listing(hosts):
    names = sorted(hosts)
    text = ", ".join(names[:_MAX_NAMES]) or "none"
    return text + (" ... (%d in all)" % len(names) if len(names) > _MAX_NAMES else "")


def unreadable_fields(entry):
    """The fields a drain needs that this entry lacks or has in an unreadable form."""
    return [field for field, value in (("lock", entry["locked"]), ("running jobs", entry["jobs"])) if value is None]


def layout_message(worker, entry):
    return ("qbhosts --xml layout could not be read for worker %s: no readable %s field (looked for %s; "
            "fields seen: %s). The worker was not restarted."
            % (worker, " or ".join(unreadable_fields(entry) or ["lock"]),
               "/".join(LOCK_FIELDS + JOB_FIELDS), ", ".join(entry["fields"]) or "none"))


def read_marker(text):
    """The marker file's record, or None without a file (``text`` None).

    ``{"drain": id, "started": epoch, "ours": bool, "jobs_at_start": int, "name": listed}``.
    A marker from an older version of this module (plain text) means "the lock is ours".
    """
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return {"drain": None, "started": None, "ours": True, "jobs_at_start": None, "name": None}
    return {"drain": data.get("drain"), "started": data.get("started"), "ours": bool(data.get("ours")),
            "jobs_at_start": data.get("jobs_at_start"), "name": data.get("name")}


def marker_text(record):
    return json.dumps(record, sort_keys=True) + "\n"


def decide(entry, marker, drain_id, now, timeout):
    """What one call of a drain does, from the supervisor's ``entry`` for the worker.

    Returns ``(action, record)``; ``record`` is the marker to keep for the next call.
    Actions: ``"layout"`` (lock or jobs field unreadable: fail, never qblock blind),
    ``"lock_lost"`` (this drain locked the worker and the lock is not shown any more: fail, release),
    ``"lock"`` (take the lock: at most once per drain), ``"drained"`` (locked, no job runs),
    ``"timeout"`` (still running jobs after ``timeout`` s: fail, release our lock), ``"wait"``.
    """
    same = bool(marker) and marker.get("drain") == drain_id and drain_id is not None
    record = {
        "drain": drain_id,
        "started": marker["started"] if same and marker.get("started") is not None else now,
        # a marker from another (dead) run still says whose lock it is
        "ours": bool(marker and marker.get("ours")),
        "jobs_at_start": marker.get("jobs_at_start") if same and marker.get("jobs_at_start") is not None else entry["jobs"],
        "name": marker.get("name") if marker else None,
    }
    if unreadable_fields(entry):
        return "layout", record
    if not entry["locked"]:
        if same and record["ours"]:
            return "lock_lost", record
        return "lock", record
    if entry["jobs"] == 0:
        return "drained", record
    if now - record["started"] >= timeout:
        return "timeout", record
    return "wait", record


def timeout_note(jobs, timeout):
    """The farm report's note for a worker that did not drain in time."""
    return "not drained: %d job(s) still running after %d s; worker left unchanged" % (jobs, timeout)

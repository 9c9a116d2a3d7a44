# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Worker drain decisions: read a host's lock/job state and decide the next step.

Qube! locks a worker with ``qblock HOST`` ("finish current": running jobs complete, no new job
starts) and releases it with ``qbunlock HOST``.  The state comes from ``qbhosts HOST --xml``; its
XML layout is not documented by the vendor, so :func:`parse_hosts_xml` accepts either child
elements or attributes and several spellings of the fields it needs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import xml.etree.ElementTree as ET

_LOCK_FIELDS = ("locked", "lock", "locked_slots", "lockedslots")
_JOB_FIELDS = ("jobs_running", "jobs", "running", "running_jobs", "runningjobs", "active_jobs", "activejobs")


def _field(elem, names):
    """Return the first present field among ``names`` (attribute or child text), or None."""
    for name in names:
        if name in elem.attrib:
            return elem.attrib[name]
        child = elem.find(name)
        if child is not None and child.text is not None:
            return child.text.strip()
    return None


def _as_int(text, default=0):
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        lowered = text.strip().lower()
        if lowered in ("yes", "true", "locked"):
            return 1
        if lowered in ("no", "false", "unlocked", "none"):
            return 0
        # a slot list such as "0,1" counts its members
        return len([part for part in lowered.split(",") if part.strip()])


def parse_hosts_xml(text):
    """Parse ``qbhosts --xml`` output into ``{name: {locked, jobs, state, raw}}``."""
    root = ET.fromstring(text)
    hosts = {}
    candidates = [root] if root.tag == "host" else root.iter("host")
    for elem in candidates:
        name = _field(elem, ("name", "hostname"))
        if not name:
            continue
        fields = {child.tag: (child.text or "").strip() for child in elem}
        fields.update(elem.attrib)
        hosts[name] = {
            "locked": _as_int(_field(elem, _LOCK_FIELDS)) > 0,
            "jobs": _as_int(_field(elem, _JOB_FIELDS)),
            "state": _field(elem, ("state", "status")) or "unknown",
            "raw": fields,
        }
    return hosts


def next_step(state, we_locked, elapsed, timeout):
    """Decide what the drain loop does next.

    Returns one of ``"lock"`` (not locked: lock it), ``"wait"`` (jobs still running, time
    left), ``"drained"`` (locked and idle), ``"timeout"`` (jobs still running after ``timeout``).

    A worker is only ever "drained" while the supervisor shows it locked: a lock that vanished
    while waiting (someone ran ``qbunlock``, the supervisor lost it) is taken again, otherwise a
    job dispatched after the last look would be killed by the restart. ``we_locked`` is kept for
    callers that track their own lock; the decision itself only trusts the supervisor.
    """
    if not state["locked"]:
        return "lock"
    if state["jobs"] == 0:
        return "drained"
    if elapsed >= timeout:
        return "timeout"
    return "wait"

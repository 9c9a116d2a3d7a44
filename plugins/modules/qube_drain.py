#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_drain
short_description: Take one look at a draining Qube! worker (lock it first), or release it
version_added: "0.1.0"
description:
  - With O(state=drained), one call is one step of a drain. The module reads C(qbhosts --xml)
    once; when the worker is not locked it locks it with C(qblock) (Qube!'s "finish current"
    lock, so running jobs complete and no new job starts) and reads C(qbhosts --xml) again to
    see the lock. It then reports RV(drained) (locked and no job running), RV(jobs) and
    RV(waited_s). Repeat the call with C(until)/C(retries)/C(delay) until RV(drained); the
    standard C(FAILED - RETRYING) line then shows the wait at every poll.
  - One drain locks at most once. The calls of one drain share O(drain_id); the marker file on
    the host the module runs on keeps the lock's owner and the drain's start across calls.
  - A worker that an operator had already locked stays locked; RV(was_locked=true) makes
    O(state=released) leave it locked.
  - The module fails, and never reports RV(drained), when C(qbhosts) exits non-zero, prints
    nothing or something that is not XML, shows no readable lock or running-jobs field for the
    worker, does not show the lock the module has just taken (an unknown layout, or someone
    released it), or when the worker still runs jobs after O(timeout) seconds. In every case a
    lock this drain took is released first, so the worker is left as it was.
  - The worker is looked up by O(worker) then each of O(aliases). When the supervisor lists none
    of them, the module reports RV(listed=false) and RV(drained=true) only with
    O(missing_ok=true) (a worker installed in this run never ran a job); otherwise it fails.
  - With O(state=released), unlocks the worker with C(qbunlock) unless O(was_locked=true), and
    removes the marker.
author:
  - renderfarm.qube maintainers (@renderfarm-qube)
options:
  worker:
    description: Worker name as the supervisor should know it (C(qube_worker_name)).
    type: str
    required: true
  aliases:
    description: Other names the supervisor may list the worker under, tried in order after O(worker).
    type: list
    elements: str
    default: []
  state:
    description: V(drained) takes one step of the drain; V(released) unlocks.
    type: str
    choices: [drained, released]
    default: drained
  drain_id:
    description:
      - Identifies one drain; every call of the same drain passes the same value. A marker with
        another value is from an earlier run.
      - Required with O(state=drained).
    type: str
  timeout:
    description: Seconds, from the drain's first call, to wait for running jobs.
    type: int
    default: 3600
  was_locked:
    description: With O(state=released), the RV(was_locked) that O(state=drained) returned.
    type: bool
    default: false
  bin_dir:
    description: Directory of the Qube! client commands C(qbhosts), C(qblock), C(qbunlock).
    type: path
    default: /usr/local/pfx/qube/bin
  marker:
    description:
      - File that records a drain in progress and whether its lock was taken by Ansible. A run
        that died between lock and release leaves it behind, so the next run knows the lock is
        its own and releases it, instead of mistaking it for an operator's lock.
      - Defaults to C(/var/lib/renderfarm-qube/drain-<worker>.lock) on the host the module runs on.
    type: path
  missing_ok:
    description:
      - Treat a worker the supervisor lists under none of its names as drained (set it only for
        a worker installed in this run). Otherwise the module fails.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the worker is looked at but neither locked nor unlocked, and RV(drained) is true.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs where the Qube! client commands can reach the supervisor (a worker or the supervisor).
  - The vendor does not document the C(qbhosts --xml) layout (advanced-users-guide/command-line-reference/qbhosts.md);
    child elements or attributes named C(name)/C(hostname), C(locked)/C(lock)/C(locked_slots),
    C(jobs_running)/C(jobs)/C(running) are read.
"""

EXAMPLES = r"""
- name: Lock the worker and wait until its jobs finished
  renderfarm.qube.qube_drain:
    worker: "{{ qube_worker_name | default(inventory_hostname_short) }}"
    aliases: ["{{ inventory_hostname }}"]
    drain_id: "{{ drain_id }}"
    timeout: 7200
  register: drain
  until: drain is failed or drain.drained
  retries: 1442
  delay: 5

- name: Release it afterwards (stays locked if an operator had locked it)
  renderfarm.qube.qube_drain:
    worker: "{{ qube_worker_name | default(inventory_hostname_short) }}"
    aliases: ["{{ inventory_hostname }}"]
    state: released
    was_locked: "{{ drain.was_locked }}"
"""

RETURN = r"""
drained:
  description: The worker is locked and runs no job (or, with O(missing_ok), is not listed). Restart it now.
  returned: always
  type: bool
listed:
  description: The supervisor lists the worker under one of its names.
  returned: always
  type: bool
name:
  description: The name the supervisor lists the worker under (null when not listed).
  returned: always
  type: str
locked:
  description: The worker is locked after this call.
  returned: always
  type: bool
jobs:
  description: Jobs running on the worker at this call's look.
  returned: always
  type: int
was_locked:
  description: The worker was locked before this drain by someone else (an operator).
  returned: always
  type: bool
jobs_at_start:
  description: Jobs running on the worker at the drain's first look.
  returned: always
  type: int
waited_s:
  description: Seconds since the drain's first call.
  returned: always
  type: float
note:
  description: One line for the farm report when the drain failed.
  returned: on failure
  type: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils import drain as dr


class _Stop(Exception):
    """End the drain now: ``msg`` and ``note`` for the failure; release a lock of ours first."""

    def __init__(self, msg, note):
        super(_Stop, self).__init__(msg)
        self.msg, self.note = msg, note


def _look(module, bin_dir):
    # All hosts, not just this one: qbhosts may exit non-zero for a name it does not know, and
    # the worker may be listed under another of its names.
    rc, out, err = module.run_command([os.path.join(bin_dir, "qbhosts"), "--xml"])
    if rc != 0:
        raise _Stop("qbhosts --xml exited %d: %s. The worker was not restarted." % (rc, (err or out).strip() or "no output"),
                    "not drained: qbhosts --xml failed; worker left unchanged")
    try:
        return dr.parse_hosts_xml(out)
    except dr.LayoutError as exc:
        raise _Stop("%s. The worker was not restarted." % exc, "not drained: qbhosts --xml unreadable; worker left unchanged")


def _run(module, bin_dir, command, name):
    rc, out, err = module.run_command([os.path.join(bin_dir, command), name])
    if rc != 0:
        raise _Stop("%s %s failed: %s. The worker was not restarted." % (command, name, (err or out).strip()),
                    "not drained: %s failed; worker left unchanged" % command)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _write(path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.rename(tmp, path)


def _remove(path):
    if os.path.exists(path):
        os.remove(path)


def _release_ours(module, bin_dir, marker_path, name):
    """Best effort on a failing drain: unlock what this module locked, forget the marker.

    Returns True when it ran ``qbunlock``.
    """
    if module.check_mode:
        return False
    record = dr.read_marker(_read(marker_path))
    name = name or (record or {}).get("name")
    unlocked = False
    if record and record["ours"] and name:
        module.run_command([os.path.join(bin_dir, "qbunlock"), name])
        unlocked = True
    _remove(marker_path)
    return unlocked


def _released(module, p, names, hosts):
    name, entry = dr.find_worker(hosts, names)
    result = dict(changed=False, drained=False, listed=name is not None, name=name, was_locked=p["was_locked"],
                  locked=bool(entry and entry["locked"]), jobs=(entry or {}).get("jobs") or 0, jobs_at_start=0, waited_s=0.0)
    if entry is not None and entry["locked"] and not p["was_locked"]:
        result["changed"] = True
        result["locked"] = False
        if not module.check_mode:
            _run(module, p["bin_dir"], "qbunlock", name)
    if not module.check_mode:
        _remove(p["marker"])
    module.exit_json(**result)


def _drain_step(module, p, names, hosts, base):
    """One step of the drain, filling ``base`` (the result) in place; raises _Stop to fail."""
    bin_dir, marker_path = p["bin_dir"], p["marker"]
    name, entry = dr.find_worker(hosts, names)
    base.update(listed=name is not None, name=name)
    if entry is None:
        if p["missing_ok"]:
            base.update(drained=True, msg="the supervisor lists none of %s (installed in this run): nothing to drain"
                        % ", ".join(names))
            return
        raise _Stop("The supervisor lists none of the names of worker %s (tried: %s; qbhosts lists: %s). The worker was "
                    "not drained and not restarted; its change waits for the next run. Set qube_worker_name to the name "
                    "qbhosts shows for it." % (p["worker"], ", ".join(names), dr.listing(hosts)),
                    "not drained: the supervisor lists none of %s; worker left unchanged" % ", ".join(names))
    now = time.time()
    action, record = dr.decide(entry, dr.read_marker(_read(marker_path)), p["drain_id"], now, p["timeout"])
    record["name"] = name
    base.update(jobs=entry["jobs"] or 0, jobs_at_start=record["jobs_at_start"] or 0,
                waited_s=round(now - record["started"], 1), locked=bool(entry["locked"]))
    if action == "layout":
        raise _Stop(dr.layout_message(name, entry), "not drained: qbhosts --xml layout unreadable; worker left unchanged")
    if action == "lock_lost":
        raise _Stop("The lock this run took on worker %s is not shown by qbhosts --xml any more (fields seen: %s): "
                    "someone released it, or its layout is one this collection cannot read. The worker was not "
                    "restarted." % (name, ", ".join(entry["fields"])),
                    "not drained: our lock vanished; worker left unchanged")
    if action == "lock":
        base["changed"] = True
        if module.check_mode:
            base.update(drained=True, msg="would lock %s and wait for %d job(s)" % (name, entry["jobs"]))
            return
        record["ours"] = True
        _write(marker_path, dr.marker_text(record))
        _run(module, bin_dir, "qblock", name)
        # The next look must show the lock this call took; anything else is a layout this
        # reader gets wrong (or a lock that did not take): stop before any restart.
        name2, entry2 = dr.find_worker(_look(module, bin_dir), [name])
        if entry2 is None or dr.unreadable_fields(entry2) or not entry2["locked"]:
            fields = ", ".join(entry2["fields"]) if entry2 else "(the worker is not listed any more)"
            raise _Stop("qbhosts --xml layout could not be read: after qblock %s it does not show worker %s locked "
                        "(fields seen: %s). The lock was released and the worker was not restarted."
                        % (name, name, fields),
                        "not drained: qbhosts --xml does not show the lock; worker left unchanged")
        entry = entry2
        base.update(locked=True, jobs=entry["jobs"])
        action = "drained" if entry["jobs"] == 0 else "wait"
    elif not module.check_mode:
        _write(marker_path, dr.marker_text(record))
    base["was_locked"] = bool(entry["locked"]) and not record["ours"]
    if action == "timeout":
        note = dr.timeout_note(entry["jobs"], p["timeout"])
        raise _Stop("Worker %s still runs %d job(s) after %d s; it was left untouched (%s) and will be changed on a "
                    "later run. Raise qube_drain_timeout to wait longer."
                    % (name, entry["jobs"], p["timeout"], "lock released" if record["ours"] else "operator's lock kept"),
                    note)
    base["drained"] = action == "drained" or module.check_mode
    base["msg"] = ("%s is locked and idle" % name if action == "drained"
                   else "%s: %d job(s) still running after %.0f s" % (name, entry["jobs"], base["waited_s"]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            worker=dict(type="str", required=True),
            aliases=dict(type="list", elements="str", default=[]),
            state=dict(type="str", default="drained", choices=["drained", "released"]),
            drain_id=dict(type="str"),
            timeout=dict(type="int", default=3600),
            was_locked=dict(type="bool", default=False),
            bin_dir=dict(type="path", default="/usr/local/pfx/qube/bin"),
            marker=dict(type="path"),
            missing_ok=dict(type="bool", default=False),
        ),
        required_if=[("state", "drained", ["drain_id"])],
        supports_check_mode=True,
    )
    p = module.params
    if not p["marker"]:
        p["marker"] = "/var/lib/renderfarm-qube/drain-%s.lock" % p["worker"]
    names = dr.candidate_names(p["worker"], p["aliases"])
    result = dict(changed=False, drained=False, listed=False, name=None, locked=False, jobs=0, was_locked=False,
                  jobs_at_start=0, waited_s=0.0)
    try:
        hosts = _look(module, p["bin_dir"])
        if p["state"] == "released":
            _released(module, p, names, hosts)
        _drain_step(module, p, names, hosts, result)
    except _Stop as stop:
        if p["state"] == "drained" and _release_ours(module, p["bin_dir"], p["marker"], result["name"]):
            result["locked"] = False
        result["drained"] = False
        module.fail_json(msg=stop.msg, note=stop.note, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

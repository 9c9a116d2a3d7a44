#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_drain
short_description: Drain a Qube! worker before a restart and release it afterwards
version_added: "0.1.0"
description:
  - With O(state=drained), locks the worker with C(qblock) (Qube!'s "finish current" lock, so
    running jobs complete and no new job starts) and waits until no job runs on it.
  - A worker that an operator had already locked stays locked; the module reports
    RV(was_locked=true) so that O(state=released) leaves it locked.
  - When the worker does not drain within O(timeout) seconds, the module releases the lock it
    took and fails, so the host is left as it was and no render is killed.
  - With O(state=released), unlocks the worker with C(qbunlock) unless O(was_locked=true).
author:
  - renderfarm.qube maintainers (@renderfarm-qube)
options:
  worker:
    description: Worker name as the supervisor knows it (the short host name).
    type: str
    required: true
  state:
    description: V(drained) locks and waits until idle; V(released) unlocks.
    type: str
    choices: [drained, released]
    default: drained
  timeout:
    description: Seconds to wait for running jobs to finish.
    type: int
    default: 3600
  poll:
    description: Seconds between two looks at the worker.
    type: int
    default: 5
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
      - File that records "this lock was taken by Ansible". A run that died between lock and
        release leaves it behind, so the next run knows the lock is its own and releases it,
        instead of mistaking it for an operator's lock.
      - Defaults to C(/var/lib/renderfarm-qube/drain-<worker>.lock) on the host the module runs on.
    type: path
  missing_ok:
    description:
      - Treat a worker the supervisor does not know yet (a fresh install) as drained.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode the worker is looked at but neither locked nor unlocked.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs where the Qube! client commands can reach the supervisor (a worker or the supervisor).
"""

EXAMPLES = r"""
- name: Drain the worker before restarting it
  renderfarm.qube.qube_drain:
    worker: "{{ inventory_hostname_short }}"
    state: drained
    timeout: 7200
  register: drain

- name: Release it afterwards (stays locked if an operator had locked it)
  renderfarm.qube.qube_drain:
    worker: "{{ inventory_hostname_short }}"
    state: released
    was_locked: "{{ drain.was_locked }}"
"""

RETURN = r"""
was_locked:
  description: The worker was locked before this run (by an operator).
  returned: always
  type: bool
jobs_at_start:
  description: Jobs running on the worker when the module first looked.
  returned: always
  type: int
waited_s:
  description: Seconds spent waiting for running jobs.
  returned: always
  type: float
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils.drain import next_step, parse_hosts_xml


def _host_state(module, bin_dir, worker):
    # All hosts, not just this one: qbhosts exits non-zero for a name it does not know, and a
    # worker that never registered yet is "nothing to drain" (missing_ok), not an error.
    cmd = [os.path.join(bin_dir, "qbhosts"), "--xml"]
    rc, out, err = module.run_command(cmd)
    if rc != 0:
        module.fail_json(msg="qbhosts could not report worker %s: %s" % (worker, (err or out).strip()))
    try:
        hosts = parse_hosts_xml(out)
    except Exception as exc:  # ElementTree raises ParseError, a SyntaxError subclass
        module.fail_json(msg="qbhosts --xml output for %s is not XML: %s" % (worker, exc))
    if worker not in hosts:
        if module.params["missing_ok"]:
            return None
        module.fail_json(msg="The supervisor does not know worker %s (qbhosts lists: %s)"
                         % (worker, ", ".join(sorted(hosts)) or "none"))
    return hosts[worker]


def _run(module, bin_dir, command, worker):
    rc, out, err = module.run_command([os.path.join(bin_dir, command), worker])
    if rc != 0:
        module.fail_json(msg="%s %s failed: %s" % (command, worker, (err or out).strip()))


def _mark(path):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    with open(path, "w") as handle:
        handle.write("locked by renderfarm.qube.qube_drain\n")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            worker=dict(type="str", required=True),
            state=dict(type="str", default="drained", choices=["drained", "released"]),
            timeout=dict(type="int", default=3600),
            poll=dict(type="int", default=5),
            was_locked=dict(type="bool", default=False),
            bin_dir=dict(type="path", default="/usr/local/pfx/qube/bin"),
            marker=dict(type="path"),
            missing_ok=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    worker, bin_dir = p["worker"], p["bin_dir"]
    if not p["marker"]:
        p["marker"] = "/var/lib/renderfarm-qube/drain-%s.lock" % worker
    state = _host_state(module, bin_dir, worker)
    if state is None:
        module.exit_json(changed=False, was_locked=p["was_locked"], jobs_at_start=0, waited_s=0.0,
                         msg="the supervisor does not know %s yet: nothing to drain" % worker)
    ours = os.path.exists(p["marker"])
    result = dict(changed=False, was_locked=state["locked"] and not ours, jobs_at_start=state["jobs"], waited_s=0.0)

    if p["state"] == "released":
        result["was_locked"] = p["was_locked"]
        if state["locked"] and not p["was_locked"]:
            result["changed"] = True
            if not module.check_mode:
                _run(module, bin_dir, "qbunlock", worker)
        if os.path.exists(p["marker"]) and not module.check_mode:
            os.remove(p["marker"])
        module.exit_json(**result)

    start = time.monotonic()
    we_locked = ours and state["locked"]
    while True:
        step = next_step(state, we_locked, time.monotonic() - start, p["timeout"])
        if step == "lock":
            result["changed"] = True
            if module.check_mode:
                module.exit_json(msg="would lock %s and wait for %d job(s)" % (worker, state["jobs"]), **result)
            _mark(p["marker"])
            _run(module, bin_dir, "qblock", worker)
            we_locked = True
        elif step == "drained":
            break
        elif step == "timeout":
            if we_locked:
                _run(module, bin_dir, "qbunlock", worker)
                os.remove(p["marker"])
            result["waited_s"] = round(time.monotonic() - start, 1)
            module.fail_json(msg="Worker %s still runs %d job(s) after %d s; it was left untouched "
                                 "(lock released) and will be changed on a later run. Raise "
                                 "qube_drain_timeout to wait longer." % (worker, state["jobs"], p["timeout"]),
                             **result)
        else:
            if module.check_mode:
                break
            time.sleep(p["poll"])
        state = _host_state(module, bin_dir, worker) or dict(locked=we_locked, jobs=0)
    result["waited_s"] = round(time.monotonic() - start, 1)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

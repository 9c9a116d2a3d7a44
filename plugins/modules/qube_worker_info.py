#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_worker_info
short_description: Read Qube! workers' effective configuration and compare it with what inventory asked
version_added: "0.1.0"
description:
  - Runs C(qbadmin worker --configuration HOST) on the supervisor for each worker and compares
    the keys inventory manages with what the worker really uses.
  - Reads C(qbhosts --xml) once and gives each worker its state (C(active), C(panic), C(down),
    or C(unlisted)) and a verdict (see RV(workers)); RV(settled) says whether waiting longer
    could change any verdict, so a task can repeat the module with C(until) while a push or a
    restart reaches the workers.
  - Encrypted values (C(proxy_password)) are checked for presence only and never returned.
author:
  - renderfarm.qube maintainers (@renderfarm-qube)
options:
  workers:
    description: Worker name (as the supervisor knows it) to the settings expected on it.
    type: dict
    required: true
  sbin_dir:
    description: Directory of C(qbadmin).
    type: path
    default: /usr/local/pfx/qube/sbin
  bin_dir:
    description: Directory of C(qbhosts).
    type: path
    default: /usr/local/pfx/qube/bin
  modes:
    description:
      - Worker name to its mode, V(service) or V(desktop) (a worker not named is V(service)). A
        Desktop User worker that is down or unlisted is C(not_running) (its user is not logged
        in), not a failure.
    type: dict
    default: {}
  raw:
    description:
      - The expected values in O(workers) are raw value text as a qbwrk.conf holds it (for example the
        RV(renderfarm.qube.qube_qbwrk#module:restored) of a rolled back batch), not inventory values.
    type: bool
    default: false
  check_state:
    description:
      - Read and judge the workers' states. Turn off in check mode, where nothing was started.
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Read back every worker's effective configuration
  renderfarm.qube.qube_worker_info:
    workers:
      w01: {worker_cpus: 4, worker_groups: [farm, gpu]}
  register: readback
"""

RETURN = r"""
workers:
  description:
    - Per worker, C(ok), C(missing) keys, C(mismatched) keys with C(want)/C(got), a readable C(diff),
      or C(error); C(state) from C(qbhosts --xml) (C(unlisted) when not listed, C(unreadable) when
      qbhosts failed, C(unchecked) with O(check_state=false)); C(verdict) (C(in_sync), C(not_running),
      C(drifted), C(panic), C(down), C(unknown)); C(settled); C(logfile), the worker's
      C(worker_logfile) as its effective configuration or inventory gives it (null when neither does).
  returned: always
  type: dict
settled:
  description: Every worker's verdict is final (C(in_sync) or C(not_running)); waiting longer changes nothing.
  returned: always
  type: bool
state_error:
  description: Why C(qbhosts --xml) could not be read, when it could not.
  returned: when qbhosts failed
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils.drain import LayoutError, find_worker, parse_hosts_xml
from ansible_collections.renderfarm.qube.plugins.module_utils.readback import compare, effective_value, judge


def _states(module, names):
    """``({name: state}, error)`` from one ``qbhosts --xml``."""
    rc, out, err = module.run_command([os.path.join(module.params["bin_dir"], "qbhosts"), "--xml"])
    if rc != 0:
        return dict.fromkeys(names, "unreadable"), "qbhosts --xml exited %d: %s" % (rc, (err or out).strip() or "no output")
    try:
        hosts = parse_hosts_xml(out)
    except LayoutError as exc:
        return dict.fromkeys(names, "unreadable"), str(exc)
    states = {}
    for name in names:
        entry = find_worker(hosts, [name])[1]
        states[name] = "unlisted" if entry is None else entry["state"]
    return states, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            workers=dict(type="dict", required=True),
            sbin_dir=dict(type="path", default="/usr/local/pfx/qube/sbin"),
            bin_dir=dict(type="path", default="/usr/local/pfx/qube/bin"),
            modes=dict(type="dict", default={}),
            check_state=dict(type="bool", default=True),
            raw=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    qbadmin = os.path.join(p["sbin_dir"], "qbadmin")
    names = sorted(p["workers"])
    states, state_error = _states(module, names) if p["check_state"] else (dict.fromkeys(names, "unchecked"), None)
    report = {}
    for name in names:
        expected = p["workers"][name] or {}
        rc, out, err = module.run_command([qbadmin, "worker", "--configuration", name])
        if rc != 0:
            entry = {"ok": False, "error": "qbadmin worker --configuration %s failed: %s" % (name, (err or out).strip())}
            logfile = None
        else:
            entry = compare(expected, out, raw=p["raw"])
            logfile = effective_value(out, "worker_logfile")
        verdict, settled = judge(entry, states[name], (p["modes"] or {}).get(name, "service"), p["check_state"])
        entry.update(state=states[name], verdict=verdict, settled=settled,
                     logfile=logfile or (str(expected["worker_logfile"]) if expected.get("worker_logfile") else None))
        if state_error and verdict == "unknown":
            entry["state_error"] = state_error
        report[name] = entry
    result = dict(changed=False, workers=report, settled=all(w["settled"] for w in report.values()))
    if state_error:
        result["state_error"] = state_error
    module.exit_json(**result)


if __name__ == "__main__":
    main()

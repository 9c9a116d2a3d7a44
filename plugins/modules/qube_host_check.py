#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_host_check
short_description: Look, read-only, at what only a Qube! worker host can tell before anything changes
version_added: 0.3.0
description:
  - The host-side preflight of C(renderfarm.qube.site). It never changes the host. It returns every
    problem in RV(problems), each naming the inventory variable and the host; with
    O(fail_on_problems) it also fails the host with all of them in its message, so that a play with
    C(max_fail_percentage) 0 lists the problems of every host at once and stops before the
    supervisor or any worker changes (one task per worker, no assert after it).
  - Looks whether the job identity resolves (the proxy account, an AD account as the directory
    resolves it, the submitters of user mode, the desktop user), whether it would run jobs with
    root or admin rights (uid or gid 0, a privileged group such as sudo, wheel or admin, the
    worker's service account), whether the validation paths exist, whether the worker package is
    installed or can be installed, and whether the Qube! client commands exist where the roles
    run them.
  - O(spec) comes from the C(renderfarm.qube.qube_host_check_spec) filter on the controller.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  spec:
    description:
      - What to look at, as the C(renderfarm.qube.qube_host_check_spec) filter returns it (accounts,
        paths, packages, programs, privilege rules).
    type: dict
    required: true
  fail_on_problems:
    description:
      - Fail the host when any problem is found (every problem in the message and in RV(problems)).
        Off, the module only returns them.
    type: bool
    default: false
    version_added: 0.4.0
  converged:
    description:
      - Also compare the worker with its record of the last converged run (M(renderfarm.qube.qube_converged)), as
        the C(renderfarm.qube.qube_converged_spec) filter returns what to compare. The verdict is in RV(converged).
        Read-only like the rest of the look.
    type: dict
    version_added: 0.4.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Preflight | What only this worker can tell
  renderfarm.qube.qube_host_check:
    spec: "{{ hostvars[inventory_hostname] | renderfarm.qube.qube_host_check_spec(inventory_hostname) }}"
    fail_on_problems: true
"""

RETURN = r"""
problems:
  description: Every problem found, each naming the host and the inventory variable to fix.
  returned: always, also when the host fails on them
  type: list
  elements: str
  sample: ["w02: qube_desktop_user names artist, which does not resolve on this host (tried artist). Create the account ..."]
converged:
  description:
    - Whether every role would find nothing to change on this worker (O(converged) given), why, and the report row
      and proof time of its record when it is converged.
  returned: when O(converged) is given
  type: dict
  sample: {converged: true, reason: "converged: nothing changed since 2026-12-06T19:40:02Z", recorded_at: "2026-12-06T19:40:02Z",
           validated_at: "2026-12-06T19:39:58Z", report: {mode: service, job_identity: qubeproxy}}
installed:
  description: The worker packages found installed.
  returned: always
  type: list
  elements: str
  sample: [qube-worker]
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils import converged, hostcheck


def main():
    module = AnsibleModule(argument_spec=dict(spec=dict(type="dict", required=True),
                                              fail_on_problems=dict(type="bool", default=False),
                                              converged=dict(type="dict")),
                           supports_check_mode=True)
    dpkg = module.get_bin_path("dpkg-query")
    rpm = None if dpkg else module.get_bin_path("rpm")
    found = []

    def installed(names):
        for name in names:
            if dpkg:
                _rc, out, _err = module.run_command([dpkg, "-W", "-f", "${Status}\\n", name])
                ok = any(line.endswith(" installed") for line in out.splitlines())
            elif rpm:
                ok = module.run_command([rpm, "-q", name])[0] == 0
            else:  # macOS pkgutil ids are not documented by the vendor: look at the worker binary
                ok = False
            if ok:
                found.append(name)
        return list(found)

    def candidate(name):
        apt_cache = module.get_bin_path("apt-cache")
        if apt_cache:
            _rc, out, _err = module.run_command([apt_cache, "policy", name])
            for line in out.splitlines():
                if line.strip().startswith("Candidate:"):
                    return line.split(":", 1)[1].strip() not in ("", "(none)")
            return False
        dnf = module.get_bin_path("dnf") or module.get_bin_path("yum")
        if dnf:
            return module.run_command([dnf, "-q", "list", "--available", name])[0] == 0
        return False

    problems = hostcheck.run(module.params["spec"], installed, candidate)
    if problems and module.params["fail_on_problems"]:
        module.fail_json(msg="%d problem(s) found on this host; nothing was changed on any host:\n- %s"
                         % (len(problems), "\n- ".join(problems)), problems=problems, installed=found)
    result = dict(changed=False, problems=problems, installed=found)
    if module.params["converged"] is not None:
        same, reason, record = converged.look(module.params["converged"], converged.command_runner(module),
                                              time.time())
        if same and problems:
            same, reason = False, "the look found problems on this host"
        result["converged"] = {"converged": same, "reason": reason,
                               "recorded_at": record.get("recorded_at", ""),
                               "validated_at": record.get("validated_at", ""), "report": record.get("report", {}),
                               # what the batch's qube_converged records again: the same inputs as this look's
                               "spec": module.params["converged"]}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

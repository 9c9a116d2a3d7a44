#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_converged
short_description: Record that a Qube! worker is converged, so that the next run can leave it out
version_added: 0.4.0
description:
  - Run by C(renderfarm.qube.site) at the end of a worker's batch, when every role ran on it, nothing
    failed and the supervisor's read-back found its effective configuration in sync.
  - Writes C(<state_dir>/converged.json), owned by root with mode 0600. It holds a digest of the run's
    inputs (from the C(renderfarm.qube.qube_converged_spec) filter), a digest of what the roles manage on
    the host, the time and the worker's report row. No secret, digests only.
  - The next run's host preflight (M(renderfarm.qube.qube_host_check) with O(renderfarm.qube.qube_host_check#module:converged))
    compares both digests and the age of the job identity's proof; a worker with nothing changed is left out
    of the batches after one read-back on the supervisor.
  - Bookkeeping, like a cache, never a change; check mode writes nothing.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  spec:
    description: The C(renderfarm.qube.qube_converged_spec) filter's output for this worker.
    type: dict
    required: true
  report:
    description: The worker's report row of this run (the C(qube_report) fact), shown again by runs that leave it out.
    type: dict
    default: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Writes nothing in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Workers | Record this worker as converged
  renderfarm.qube.qube_converged:
    spec: "{{ hostvars[inventory_hostname] | renderfarm.qube.qube_converged_spec(inventory_hostname) }}"
    report: "{{ qube_report }}"
"""

RETURN = r"""
recorded:
  description: Whether the record was written in this run (false when it was already the same, in check mode, or
    when the worker's shape is not covered).
  returned: always
  type: bool
path:
  description: The record's path.
  returned: always
  type: str
  sample: /var/lib/renderfarm-qube/converged.json
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils import converged


def main():
    module = AnsibleModule(argument_spec=dict(spec=dict(type="dict", required=True),
                                              report=dict(type="dict", default={})),
                           supports_check_mode=True)
    spec = module.params["spec"]
    if not spec.get("eligible"):
        module.exit_json(changed=False, recorded=False, path="", msg=spec.get("why", ""))
    path = converged.record_path(spec)
    state = converged.state_digest(spec, converged.command_runner(module))
    old = converged.load_record(path)
    report = module.params["report"]
    same = (old.get("inputs"), old.get("state"), old.get("report")) == (spec["inputs"], state, report)
    if same or module.check_mode:
        module.exit_json(changed=False, recorded=False, path=path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fd, tmp = tempfile.mkstemp(prefix="." + converged.RECORD + ".", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(converged.record_text(spec["inputs"], state, at, report))
    os.chmod(tmp, 0o600)
    module.atomic_move(tmp, path)
    os.chmod(path, 0o600)  # atomic_move gives a new file the umask's mode
    module.exit_json(changed=False, recorded=True, path=path)


if __name__ == "__main__":
    main()

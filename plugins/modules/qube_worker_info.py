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
  description: Per worker, C(ok), C(missing) keys, C(mismatched) keys with C(want)/C(got), a readable C(diff), or C(error).
  returned: always
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils.readback import compare


def main():
    module = AnsibleModule(
        argument_spec=dict(
            workers=dict(type="dict", required=True),
            sbin_dir=dict(type="path", default="/usr/local/pfx/qube/sbin"),
        ),
        supports_check_mode=True,
    )
    qbadmin = os.path.join(module.params["sbin_dir"], "qbadmin")
    report = {}
    for name, expected in sorted(module.params["workers"].items()):
        rc, out, err = module.run_command([qbadmin, "worker", "--configuration", name])
        if rc != 0:
            report[name] = {"ok": False, "error": "qbadmin worker --configuration %s failed: %s"
                            % (name, (err or out).strip())}
            continue
        report[name] = compare(expected or {}, out)
    module.exit_json(changed=False, workers=report)


if __name__ == "__main__":
    main()

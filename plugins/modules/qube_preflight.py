#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation for the qube_preflight action plugin (the work happens in plugins/action)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_preflight
short_description: Validate the Qube! inventory of a whole farm before any host changes
version_added: 0.1.0
description:
  - Runs on the controller and reads C(hostvars) of every host in O(hosts); it never connects to them.
  - Checks every C(qube_*) variable of every host (types, choices, unknown keys, bootstrap keys placed
    central, section names qbwrk.conf cannot hold, malformed drive maps, C(DOMAIN\\user) proxy
    accounts, plaintext passwords, templates not defined in C(qube_templates), two hosts with one
    section name, two groups in C(qube_group_settings) disagreeing for one host).
  - Checks the run mode (C(qube_worker_mode), desktop mode without C(qube_desktop_user), Windows desktop
    mode with user execution mode, auto-logon without an inline Ansible Vault password, package file types).
    Checks that need the host (does the desktop user exist) are left to the worker_mode role, which makes
    them read-only before it changes anything.
  - Checks the job identity, applying the roles' defaults. C(qube_proxy_password) is required where a local
    proxy account is managed (service mode, proxy execution, no domain) and on Windows workers in proxy
    mode. The vendor's published default password is refused. C(root), C(Administrator), C(wheel), C(sudo)
    and other privileged names are refused as job identity unless C(qube_allow_privileged_identity) is true.
    C(qube_ad_check) needs C(qube_worker_host_domain). C(qube_validation_paths) must be absolute paths,
    user mode needs C(qube_user_mode_users) (Linux, macOS) or C(qube_windows_user_passwords) (Windows),
    each with a name and a password.
  - Refuses C(qube_*) variables that no role of the collection defines (typos).
  - Password values never appear in a message.
  - Fails with every problem listed at once (RV(errors)), or returns a summary.
  - Each message names the host, the variable and what to do.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  hosts:
    description: Inventory host names to check, usually C("{{ groups['qube_workers'] }}").
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: all
"""

EXAMPLES = r"""
- name: Check every worker's Qube! variables
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Validate the inventory
      renderfarm.qube.qube_preflight:
        hosts: "{{ groups['qube_workers'] }}"
"""

RETURN = r"""
errors:
  description: Every problem found, one message each.
  returned: failed
  type: list
  elements: str
  sample: ["w03: qube_worker_cpus must be an integer >= 0 (got 'many'). Set it to a number of job slots or 0 for all cores."]
summary:
  description: Host count per OS, the keys placed central and local, and the templates used.
  returned: success
  type: dict
  sample: {hosts: 2, os: {linux: 1, osx: 0, winnt: 1}, central_keys: [worker_cpus], local_keys: [qb_supervisor], templates: []}
"""

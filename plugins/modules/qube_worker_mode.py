#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_worker_mode
short_description: Put a Linux Qube! worker in service mode or Desktop User mode in one call
version_added: "0.3.0"
description:
  - Looks up the desktop users on the host, reads what the last run recorded, plans the mode with
    the collection's C(modes) module_utils (the same plan the role uses on macOS and Windows) and
    applies it, all in one round trip.
  - Service mode, the systemd unit O(worker_unit) enabled and started, pinned to root by a
    drop-in; no desktop trace is left.
  - Desktop User mode, the system unit disabled and stopped; a user unit
    C(/etc/systemd/user/qube-desktop-worker.service) that runs only for O(desktop_user) and is
    enabled for every login (it starts at the user's login and stops at logout), an XDG autostart
    entry in the user's C(~/.config/autostart), linger only when O(linger=true); a session that
    is already open gets the worker at once.
  - Desktop User mode also makes O(desktop_worker_dir) (parents root-owned, mode 0755) owned by
    O(desktop_user), mode 0755, before the desktop worker can start. The worker's log, job logs,
    journal and pid file go there (the worker_config role points C(worker_logfile),
    C(worker_logpath), C(worker_journal_location) and C(worker_pidfile) at it), because their
    defaults under C(/var) belong to root and a worker that cannot write its log path panics.
    When the folder belongs to someone else (a new desktop user), everything in it is handed to
    O(desktop_user) without following symbolic links. In service mode the folder is left as it is.
  - Items for a user that was the desktop user at the last run are removed, and linger is only
    ever disabled when the record says this collection enabled it.
  - Files are written atomically (temporary file and rename in the same folder); a file that
    already has the wanted content, owner and mode is not touched.
  - The record (mode, desktop user, linger; no secret) goes to O(record_path), in a folder that
    only root can read.
author:
  - renderfarm.qube maintainers (@renderfarm-qube)
options:
  mode:
    description: V(service) or V(desktop).
    type: str
    choices: [service, desktop]
    required: true
  desktop_user:
    description: The account whose login session runs the worker in desktop mode.
    type: str
    default: ""
  linger:
    description: Keep the desktop user's systemd manager (and so the worker) running without a login.
    type: bool
    default: false
  qbdir:
    description: Qube! installation folder (the worker binary is C(<qbdir>/sbin/worker)).
    type: path
    default: /usr/local/pfx/qube
  desktop_worker_dir:
    description: The desktop worker's own folder (log, job logs, journal, pid file) in Desktop User mode.
    type: path
    default: /var/spool/qube/desktop
  worker_unit:
    description: Name of the worker's system unit, without C(.service).
    type: str
    default: worker
  dropin_content:
    description:
      - Content of the system unit's drop-in C(/etc/systemd/system/<worker_unit>.service.d/renderfarm-qube-mode.conf)
        that pins the worker to root in service mode; required when O(mode=service).
      - The role renders it on the controller from C(qube_systemd_dropin_template) (default
        C(templates/worker_mode/systemd-dropin.conf.j2) of the collection).
    type: str
  user_unit_content:
    description:
      - Content of the user unit C(/etc/systemd/user/qube-desktop-worker.service); required when O(mode=desktop).
      - The role renders it from C(qube_systemd_user_unit_template) (default
        C(templates/worker_mode/systemd-user-unit.service.j2)).
    type: str
  autostart_content:
    description:
      - Content of the XDG autostart entry C(~/.config/autostart/qube-desktop-worker.desktop);
        required when O(mode=desktop).
      - The role renders it from C(qube_xdg_autostart_template) (default
        C(templates/worker_mode/xdg-autostart.desktop.j2)).
    type: str
  record_path:
    description: Where the applied mode is recorded for the next run.
    type: path
    default: /var/lib/renderfarm-qube/worker_mode.json
  host:
    description: Inventory name of the host, used in error messages.
    type: str
    default: this host
  package_changed:
    description: The worker packages were (re)installed just before this call; a running worker
      whose mode stays the same must then be restarted (RV(restart_needed)).
    type: bool
    default: false
  pending_file:
    description:
      - When a restart is needed, write this marker (the one C(renderfarm.qube.qube_conf) keeps
        for the local qb.conf); the restart handler removes it once the worker restarted. A run
        that dies before its handler leaves it, and the next run restarts the worker.
    type: path
  install_check:
    description:
      - Decide first whether the worker packages must be installed, from the versions C(dpkg-query)
        or C(rpm) report on the host (the rules of O(install_check.version) as in the role's
        C(qube_worker_version)). When they must be, nothing is changed and RV(install_needed=true)
        is returned, so the role installs and calls the module again; on a host that is up to date
        this saves a separate package query.
      - Omitted, installation is not looked at.
    type: dict
    suboptions:
      version:
        description: Wanted version of any of the packages; empty to use the versions in O(install_check.package_files).
        type: str
        default: ""
      packages:
        description: Repository package names.
        type: list
        elements: str
        default: []
      package_files:
        description: Package file names (deb C(name_version_arch.deb), rpm C(name-version-release.arch.rpm)).
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only commands (C(systemctl is-active), C(is-enabled), C(dpkg-query)) still run.
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Linux with systemd only; macOS and Windows hosts use the role's task files, which apply the
    same plan with community.general.launchd, ansible.windows and community.windows modules.
"""

EXAMPLES = r"""
- name: Desktop User mode for artist (uid 1001)
  renderfarm.qube.qube_worker_mode:
    mode: desktop
    desktop_user: artist
    user_unit_content: >-
      {{ lookup('ansible.builtin.template', 'systemd-user-unit.service.j2', template_vars={'desktop_user': 'artist',
         'desktop_uid': 1001, 'worker_binary': '/usr/local/pfx/qube/sbin/worker'}) }}
    autostart_content: >-
      {{ lookup('ansible.builtin.template', 'xdg-autostart.desktop.j2',
         template_vars={'user_unit': 'qube-desktop-worker.service'}) }}
    host: "{{ inventory_hostname }}"
  register: mode_result

- name: Service mode
  renderfarm.qube.qube_worker_mode:
    mode: service
    dropin_content: "{{ lookup('ansible.builtin.template', 'systemd-dropin.conf.j2', template_vars={'service_user': 'root'}) }}"
"""

RETURN = r"""
mode:
  description: The mode now in effect.
  returned: always
  type: str
  sample: service
previous:
  description: What the last run recorded (empty on a fresh host).
  returned: always
  type: dict
  sample: {mode: desktop, desktop_user: artist, linger: false, auto_logon: false}
definition_changed:
  description: The running worker's definition (drop-in or user unit) changed while the mode stayed
    the same, so a running worker should be restarted (drained) to pick it up.
  returned: always
  type: bool
job_flags_required:
  description: Job flags the supervisor must add for this mode (none on Linux).
  returned: always
  type: list
  elements: str
restart_needed:
  description: The mode stayed the same and the worker's definition (drop-in, user unit) or package
    changed, so a running worker must be restarted (drained) to pick it up.
  returned: always
  type: bool
install_needed:
  description: With O(install_check), the packages must be installed first; nothing else was done.
  returned: always
  type: bool
installed_before:
  description: With O(install_check), whether any of the worker packages was installed (at any
    version) before this call; RV(install_needed=true) with RV(installed_before=false) is a fresh
    installation. Without O(install_check), V(true).
  returned: always
  type: bool
desktop_worker_dir:
  description: The desktop worker's folder and the files the worker_config role points qb.conf at.
  returned: always
  type: dict
  sample: {path: /var/spool/qube/desktop, state: present, user: artist,
           files: {worker_logfile: /var/spool/qube/desktop/workerlog}}
actions:
  description: What was done (or, in check mode, would be done), one line each.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/systemd/system/worker.service.d/renderfarm-qube-mode.conf", "enable worker"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible_collections.renderfarm.qube.plugins.module_utils import modes, modes_linux, modes_packages, pending


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=list(modes.MODES)),
            desktop_user=dict(type="str", default=""),
            linger=dict(type="bool", default=False),
            qbdir=dict(type="path", default=modes.DEFAULT_QBDIR["Linux"]),
            desktop_worker_dir=dict(type="path", default=modes.DEFAULT_DESKTOP_WORKER_DIR),
            worker_unit=dict(type="str", default="worker"),
            record_path=dict(type="path", default="/var/lib/renderfarm-qube/worker_mode.json"),
            host=dict(type="str", default="this host"),
            package_changed=dict(type="bool", default=False),
            pending_file=dict(type="path"),
            dropin_content=dict(type="str"),
            user_unit_content=dict(type="str"),
            autostart_content=dict(type="str"),
            install_check=dict(type="dict", options=dict(
                version=dict(type="str", default=""),
                packages=dict(type="list", elements="str", default=[]),
                package_files=dict(type="list", elements="str", default=[]),
            )),
        ),
        required_if=[("mode", "service", ["dropin_content"]),
                     ("mode", "desktop", ["user_unit_content", "autostart_content"])],
        supports_check_mode=True,
    )
    p = module.params
    mode, user = p["mode"], p["desktop_user"] or ""
    previous = modes_linux.read_record(p["record_path"])
    account = modes_linux.lookup(user) if user else None
    errors = modes.validate(
        p["host"], mode, "Linux", desktop_user=user,
        user_exists=(account is not None) if user else None,
        home_exists=account["home_exists"] if account else None,
        desktop_worker_dir=p["desktop_worker_dir"])
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    installed_before = True
    if p["install_check"]:
        needed, installed_before = modes_packages.host_install_needed(module, p["install_check"])
        if needed:
            module.exit_json(changed=False, install_needed=True, installed_before=installed_before,
                             mode=mode, previous=previous, definition_changed=False,
                             restart_needed=False, job_flags_required=[], actions=[], desktop_worker_dir={})

    accounts = {}
    for name in (user, previous.get("desktop_user")):
        if name and name not in accounts:
            found = account if name == user else modes_linux.lookup(name)
            if found:
                accounts[name] = found
    try:
        plan = modes.plan(mode, "Linux", desktop_user=user, linger=p["linger"], accounts=accounts,
                          previous=previous, qbdir=p["qbdir"], worker_unit=p["worker_unit"],
                          desktop_worker_dir=p["desktop_worker_dir"])
    except ValueError as exc:
        module.fail_json(msg="host %s: %s" % (p["host"], to_native(exc)))

    app = modes_linux.Applier(module)
    try:
        contents = {"dropin": p["dropin_content"], "user_unit": p["user_unit_content"],
                    "autostart": p["autostart_content"]}
        definition_changed = modes_linux.apply_linux(app, plan["linux"], contents, p["record_path"], plan["record"], p["host"])
    except OSError as exc:
        module.fail_json(msg="host %s: %s: %s" % (p["host"], exc.filename or "", exc.strerror or to_native(exc)),
                         actions=app.actions)
    same_mode = previous.get("mode") == mode
    restart_needed = same_mode and bool(definition_changed or p["package_changed"])
    if restart_needed and p["pending_file"] and not module.check_mode:
        try:
            pending.mark(p["pending_file"], "the worker's definition or package changed; the restart handler applies it")
        except OSError as exc:
            module.fail_json(msg="host %s: %s: %s" % (p["host"], p["pending_file"], exc.strerror or to_native(exc)),
                             actions=app.actions)
    result = {
        "changed": bool(app.actions) or restart_needed, "mode": plan["mode"], "previous": previous,
        "definition_changed": bool(definition_changed) and same_mode, "restart_needed": restart_needed,
        "job_flags_required": plan["job_flags_required"], "actions": app.actions, "install_needed": False,
        "installed_before": installed_before, "desktop_worker_dir": plan["linux"]["desktop_dir"],
    }
    if module._diff:
        result["diff"] = app.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

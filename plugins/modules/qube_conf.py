#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_conf
short_description: Manage a PipelineFX Qube! configuration file (qb.conf, qbwrk.conf)
version_added: 0.1.0
description:
  - Sets and removes keys in a Qube! C(key = value) file such as C(/etc/qb.conf), keeping every other
    line (comments, commented defaults, inline comments, unmanaged keys) byte for byte.
  - Or writes a whole file from O(content), for example a C(qbwrk.conf) rendered by the
    C(renderfarm.qube.qube_qbwrk) filter.
  - Values are written by the Qube! format rules - lists become comma lists, strings with spaces,
    commas or C(#) are double-quoted, C(worker_drive_map) uses the strict vendor layout and
    C(worker_path_map) escapes backslashes. A key whose current value already means the same
    (quoting and map layout aside) is left alone.
  - The diff shows the values of O(secret_keys) and the credentials inside C(worker_drive_map) and
    C(client_drive_map) as C(REDACTED); those values are also masked in every other output.
  - The new text goes to a temporary file in the same directory (mode 0600), is flushed to disk,
    checked with O(validate) when given, and replaces the file with an atomic rename, so an
    interrupted run (killed, host lost, disk full) leaves either the old or the new file, never a
    partial one. A failed write removes its temporary file and names the file and the cause.
  - Temporary files that an earlier, killed run left in the directory (their process is gone) are
    removed, with a warning (housekeeping, which does not make the task C(changed)).
  - With O(pending_file), a change also leaves a marker until the handler that applies the change
    (a worker restart, a C(qbadmin worker --reconfigure)) removes it; while the marker exists the
    task reports C(changed), so a change whose handler never ran (the run was killed, the host
    became unreachable or failed later) is applied by the next run.
  - B(A file that holds a value of a secret key is always left with mode 0600), even when O(mode)
    asks for something else (a warning says so). It is tightened before the new content moves in.
  - POSIX only. On Windows the roles write the same rendered text with M(ansible.windows.win_copy).
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  path:
    description: Path of the file to manage.
    type: path
    required: true
    aliases: [dest]
  settings:
    description:
      - Keys to set, a dict of key and value. Values may be strings, integers, lists, dicts (C(k=v) comma
        lists), or for C(worker_drive_map) a list of C({drive, path, user, password_hash}) and for
        C(worker_path_map) a dict or a list of C({from, to}).
      - A key that is not in the file is appended at the end.
      - Not allowed for a file with C([sections]); use O(content) for C(qbwrk.conf).
    type: dict
  remove:
    description: Keys to remove (every active line and map block of the key; commented lines stay).
    type: list
    elements: str
  remove_values:
    description:
      - Keys to remove only where their current value means the given value (quoting aside), a dict
        of key and value. A key set to anything else is somebody else's setting and stays.
      - The roles use it to take back exactly what they wrote earlier, for example the Desktop User
        mode log paths after a flip back to service mode.
    type: dict
  list_items:
    description:
      - Comma-list keys (such as C(supervisor_job_flags) or C(supervisor_flags)) edited item by item;
        the items in O(list_items[].present) are added, those in O(list_items[].absent) dropped, every
        other item of the site's list is kept in its order.
      - A key that is not set starts from O(list_items[].default), the vendor's default list, so that
        adding one flag does not drop the built-in ones.
      - A value written as a number (an integer mask, which C(supervisor_flags) allows) cannot be edited
        item by item and fails the task with a message naming the key.
    type: list
    elements: dict
    suboptions:
      key:
        description: The key.
        type: str
        required: true
      present:
        description: Items that must be in the list.
        type: list
        elements: str
        default: []
      absent:
        description: Items that must not be in the list.
        type: list
        elements: str
        default: []
      default:
        description: The list the product uses when the key is not set (its documented default).
        type: list
        elements: str
        default: []
  content:
    description:
      - The whole file text. Mutually exclusive with O(settings), O(remove), O(remove_values) and O(list_items).
    type: str
  validate:
    description:
      - Command that checks the new file before it replaces O(path), with C(%s) standing for the
        temporary file, for example C(qbconfigfile %s). Split into arguments like a shell would
        (no shell is used). A non-zero exit fails the task and leaves O(path) untouched.
    type: str
  backup:
    description: Keep a timestamped copy of the old file before changing it.
    type: bool
    default: false
  create:
    description: Create the file when it does not exist. When V(false), a missing file is an error.
    type: bool
    default: true
  pending_file:
    description:
      - Marker file that records a change not applied yet. Written (with its folder, mode 0700)
        before the new file moves in; removing it after the change is applied is the caller's
        job (the collection's restart and push handlers do it). While it exists the result is
        C(changed) even when the file itself is up to date, so the caller's handler is notified
        again.
    type: path
  secret_keys:
    description:
      - Keys whose values are secrets. They are redacted in the diff and masked in all output, and
        their presence makes the file mode 0600.
    type: list
    elements: str
    default: [proxy_password, database_password]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Restart the worker after changing the local C(qb.conf); after changing C(qbwrk.conf) run
    C(qbadmin worker --reconfigure).
seealso:
  - module: ansible.windows.win_copy
"""

EXAMPLES = r"""
- name: Point the worker at the supervisor, keep the rest of qb.conf as it is
  renderfarm.qube.qube_conf:
    path: /etc/qb.conf
    settings:
      qb_supervisor: qube-sup01
      worker_cpus: 8
      worker_groups: [gpu, nuke]
    remove: [worker_cluster]
    # Only the Desktop User log path this collection wrote; another value is left alone.
    remove_values:
      worker_logfile: /var/spool/qube/desktop/workerlog
    backup: true
    owner: root
    group: root
    mode: "0644"

- name: Add a job flag the farm needs, keeping the site's own flags (vendor default auto_mount)
  renderfarm.qube.qube_conf:
    path: /etc/qb.conf
    list_items:
      - key: supervisor_job_flags
        present: [disable_windows_job_object]
        default: [auto_mount]
      - key: supervisor_flags
        absent: [enforce_password]
- name: Write the central worker configuration and check it with qbconfigfile first
  renderfarm.qube.qube_conf:
    path: /etc/qbwrk.conf
    content: "{{ worker_settings | renderfarm.qube.qube_qbwrk(qube_templates, secrets=hashes, header=ansible_managed | comment) }}"
    validate: /usr/local/pfx/qube/sbin/qbconfigfile %s
    mode: "0600"
"""

RETURN = r"""
changed_keys:
  description: Keys whose value was set or removed (empty with O(content)).
  returned: always
  type: list
  elements: str
  sample: [worker_cpus, worker_groups]
backup_file:
  description: Path of the backup, when O(backup) made one.
  returned: changed and backup made
  type: str
  sample: /etc/qb.conf.12345.2026-01-01@10:00:00~
pending_file:
  description: The O(pending_file) marker path, when the option is given.
  returned: when O(pending_file) is given
  type: str
  sample: /var/lib/renderfarm-qube/qb.conf.restart-pending
pending:
  description: Whether a change of the file is waiting for its handler (the O(pending_file) marker exists after this task).
  returned: when O(pending_file) is given
  type: bool
removed_temp_files:
  description: Temporary files of killed earlier runs that were removed (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/.qube_conf.4242.k2j3h4g5]
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: "/etc/qb.conf: set worker_cpus, worker_groups"
diff:
  description: Before and after text with secret values shown as REDACTED.
  returned: when diff mode is on
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    QbConf, QbConfError, Raw, parse_lines, render_value, values_equal,
)


def merge(module, old_text, settings, remove, secret_keys, remove_values=None, list_items=None):
    """Apply ``settings``, ``remove``, ``remove_values`` and ``list_items`` to ``old_text``
    -> (new text, changed keys)."""
    path = module.params["path"]
    try:
        conf = QbConf(old_text)
    except QbConfError as exc:
        module.fail_json(msg="%s: cannot parse the existing file: %s" % (path, to_native(exc)))
    if conf.has_sections():
        module.fail_json(msg="%s has [sections] (a qbwrk.conf); manage it with content, not settings" % path)
    changed_keys = []
    for key in sorted(settings or {}):
        value = settings[key]
        if value is None:
            module.fail_json(msg="%s: settings.%s is null; list the key in remove to delete it" % (path, key))
        try:
            rendered = render_value(key, value)
        except QbConfError as exc:
            detail = "its value cannot be written" if key in secret_keys else to_native(exc)
            module.fail_json(msg="%s: cannot set %s: %s" % (path, key, detail))
        current = conf.get(key)
        if current is None or not values_equal(key, current, rendered):
            conf.set(key, Raw(rendered))
            changed_keys.append(key)
    for key in remove or []:
        if conf.remove(key):
            changed_keys.append(key)
    for key in sorted(remove_values or {}):
        try:
            if conf.remove_value(key, remove_values[key]):
                changed_keys.append(key)
        except QbConfError as exc:
            module.fail_json(msg="%s: cannot compare the value of %s: %s" % (path, key, to_native(exc)))
    for item in list_items or []:
        key = item["key"]
        if key in (settings or {}) or key in (remove or []):
            module.fail_json(msg="%s: %s is both in list_items and in settings/remove; use one" % (path, key))
        try:
            if conf.edit_list(key, present=item["present"], absent=item["absent"], default=item["default"]):
                changed_keys.append(key)
        except QbConfError as exc:
            module.fail_json(msg="%s: cannot change %s item by item: %s" % (path, key, to_native(exc)))
    return conf.text(), changed_keys


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True, aliases=["dest"]),
            settings=dict(type="dict", no_log=True),
            remove=dict(type="list", elements="str"),
            remove_values=dict(type="dict"),
            list_items=dict(type="list", elements="dict", options=dict(
                key=dict(type="str", required=True, no_log=False),
                present=dict(type="list", elements="str", default=[]),
                absent=dict(type="list", elements="str", default=[]),
                default=dict(type="list", elements="str", default=[]),
            )),
            content=dict(type="str", no_log=True),
            validate=dict(type="str"),
            backup=dict(type="bool", default=False),
            create=dict(type="bool", default=True),
            secret_keys=dict(type="list", elements="str", no_log=False, default=list(confwrite.SECRET_KEYS)),
            pending_file=dict(type="path"),
        ),
        mutually_exclusive=[("content", "settings"), ("content", "remove"), ("content", "remove_values"),
                            ("content", "list_items")],
        required_one_of=[("content", "settings", "remove", "remove_values", "list_items")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    path, secret_keys = params["path"], frozenset(params["secret_keys"])
    # settings/content are no_log only so the invocation is never logged on the host; from here on
    # mask exactly the secret values, so the rest of the diff stays readable.
    module.no_log_values.clear()
    if os.path.isdir(path):
        module.fail_json(msg="%s is a directory" % path)
    exists = os.path.exists(path)
    if not exists and not params["create"]:
        module.fail_json(msg="%s does not exist and create is false" % path)
    old_text = ""
    if exists:
        try:
            with open(path, "rb") as handle:
                old_text = to_text(handle.read(), errors="surrogate_or_strict")
        except (IOError, OSError, UnicodeError) as exc:
            module.fail_json(msg="%s: cannot read: %s" % (path, to_native(exc)))
        try:
            module.no_log_values.update(confwrite.secret_values(old_text, secret_keys))
        except QbConfError as exc:
            module.fail_json(msg="%s: cannot parse the existing file: %s" % (path, to_native(exc)))

    if params["content"] is not None:
        new_text, changed_keys = params["content"], []
        try:
            parse_lines(new_text)
        except QbConfError as exc:
            module.fail_json(msg="%s: content is not a valid Qube! file: %s" % (path, to_native(exc)))
    else:
        new_text, changed_keys = merge(module, old_text, params["settings"], params["remove"], secret_keys,
                                       params["remove_values"], params["list_items"])
    result = confwrite.apply(module, path, old_text, new_text, exists, secret_keys, changed_keys)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

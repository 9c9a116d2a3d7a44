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
      - Comma-list keys (such as C(supervisor_job_flags) or C(supervisor_flags)) edited item by item:
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
import re
import shlex
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.renderfarm.qube.plugins.module_utils import pending
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    DRIVE_MAP_KEYS, QbConf, QbConfError, Raw, decode_value, parse_lines, redact, render_value,
    unquote, values_equal,
)

SECRET_MODE = "0600"
TEMP_PREFIX = ".qube_conf."
# .qube_conf.<pid of the writing module>.<random>: a file whose process is gone is a leftover.
TEMP_RE = re.compile(r"^\.qube_conf\.(\d+)\.[^/]+$")


def secret_values(text, secret_keys):
    """Every secret value in ``text``: values of secret keys and drive-map password hashes."""
    found = set()
    for line in parse_lines(text):
        if line.kind != "entry":
            continue
        if line.key in secret_keys and unquote(line.value):
            found.add(unquote(line.value))
        elif line.key in DRIVE_MAP_KEYS:
            try:
                found.update(entry["password_hash"] for entry in decode_value(line.key, line.value)
                             if entry.get("password_hash"))
            except QbConfError:
                pass
    return found


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


def validate_file(module, tmp_path, secrets):
    """Run the validate command on ``tmp_path``; fail with redacted output on a non-zero exit."""
    command = module.params["validate"]
    if "%s" not in command:
        module.fail_json(msg="validate must contain %%s for the file to check (got %s)" % command)
    argv = [tmp_path if arg == "%s" else arg.replace("%s", tmp_path) for arg in shlex.split(command)]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        output = redact((err or out or "").strip(), module.params["secret_keys"])
        for secret in secrets:
            output = output.replace(secret, "REDACTED")
        module.fail_json(msg="validation of the new %s failed (%s exited %d): %s"
                         % (module.params["path"], argv[0], rc, output), rc=rc)


def pid_alive(pid):
    """True when process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp_files(directory):
    """Temporary files of this module in ``directory`` whose writing process is gone."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stale = []
    for name in names:
        match = TEMP_RE.match(name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            stale.append(os.path.join(directory, name))
    return sorted(stale)


def make_backup(path):
    """Copy ``path`` to ``path.<pid>.<time>~`` (created 0600, then the original's mode and owner)."""
    backup = "%s.%s.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~", time.localtime()))
    try:
        fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(path, backup)
        info = os.stat(path)
        os.chown(backup, info.st_uid, info.st_gid)
    except (IOError, OSError):
        if os.path.lexists(backup):
            os.unlink(backup)
        raise
    return backup


def write(module, text, has_secret):
    """Write ``text`` to path through a 0600 temp file in the same directory -> backup file or None.

    Order: temp file (flushed to disk), validate, backup, pending marker, tighten the target to
    0600 when a secret is inside, rename. Whatever fails, the temp file goes and the target is
    left as it was.
    """
    path = module.params["path"]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="%s: directory %s does not exist" % (path, directory))
    tmp_path, backup_file, step = None, None, "write the new content to a temporary file in %s" % directory
    try:
        fd, tmp_path = tempfile.mkstemp(prefix="%s%d." % (TEMP_PREFIX, os.getpid()), dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text))
            handle.flush()
            os.fsync(handle.fileno())
        if module.params["validate"]:
            validate_file(module, tmp_path, module.no_log_values)
        if module.params["backup"] and os.path.exists(path):
            step = "back up the current file"
            backup_file = make_backup(path)
        if module.params["pending_file"]:
            step = "write the marker %s" % module.params["pending_file"]
            pending.mark(module.params["pending_file"],
                         "%s changed; the change is applied by its restart or push handler" % path)
        step = "replace the file"
        if has_secret:
            if os.path.exists(path):
                os.chmod(path, 0o600)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        module.atomic_move(tmp_path, path, unsafe_writes=module.params["unsafe_writes"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="%s: could not %s: %s; %s is unchanged" % (path, step, to_native(exc), path))
    finally:
        if tmp_path and os.path.lexists(tmp_path):
            os.unlink(tmp_path)
    return backup_file


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
            secret_keys=dict(type="list", elements="str", no_log=False,
                             default=["proxy_password", "database_password"]),
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
            module.no_log_values.update(secret_values(old_text, secret_keys))
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
    new_secrets = secret_values(new_text, secret_keys)
    module.no_log_values.update(new_secrets)

    content_changed = new_text != old_text or not exists
    stale = stale_temp_files(os.path.dirname(os.path.abspath(path)))
    if stale and not module.check_mode:
        for leftover in stale:
            try:
                os.unlink(leftover)
            except OSError as exc:
                module.fail_json(msg="%s: could not remove %s, left by an interrupted earlier run: %s"
                                 % (path, leftover, to_native(exc)))
    if stale:
        module.warn("%s: %d temporary file(s) left by an interrupted earlier run %s: %s"
                    % (path, len(stale), "would be removed" if module.check_mode else "removed", ", ".join(stale)))
    pending_file = params["pending_file"]
    was_pending = bool(pending_file) and os.path.exists(pending_file)
    backup_file = None
    if content_changed and not module.check_mode:
        backup_file = write(module, new_text, bool(new_secrets))
    # Removing leftovers is housekeeping (a warning), not a change that needs a restart or push.
    changed = content_changed or was_pending

    file_args = module.load_file_common_arguments(params)
    if new_secrets:
        if params["mode"] is not None and str(params["mode"]).lstrip("0") not in ("600", "u=rw,g=,o=", "u=rw"):
            module.warn("%s holds a secret, so its mode is 0600 (mode %s ignored)" % (path, params["mode"]))
        file_args["mode"] = SECRET_MODE
    if os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)

    if content_changed and changed_keys:
        msg = "%s: changed %s" % (path, ", ".join(changed_keys))
    elif content_changed:
        msg = "%s: written" % path
    elif was_pending:
        msg = "%s is up to date, but its last change has not been applied yet (%s exists)" % (path, pending_file)
    elif changed:
        msg = "%s: attributes changed" % path
    else:
        msg = "%s is up to date" % path
    result = dict(changed=changed, changed_keys=changed_keys, msg=msg, removed_temp_files=stale)
    if backup_file:
        result["backup_file"] = backup_file
    if pending_file:
        result["pending_file"] = pending_file
        result["pending"] = was_pending or (content_changed and not module.check_mode)
    if module._diff:
        result["diff"] = dict(before=redact(old_text, secret_keys), after=redact(new_text, secret_keys),
                              before_header=path if exists else "%s (absent)" % path, after_header=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

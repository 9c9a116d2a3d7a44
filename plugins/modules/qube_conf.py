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
  - The new text goes to a temporary file in the same directory (mode 0600), is checked with
    O(validate) when given, and replaces the file with an atomic rename.
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
  content:
    description:
      - The whole file text. Mutually exclusive with O(settings) and O(remove).
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
    backup: true
    owner: root
    group: root
    mode: "0644"

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
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    DRIVE_MAP_KEYS, QbConf, QbConfError, Raw, decode_value, parse_lines, redact, render_value,
    unquote, values_equal,
)

SECRET_MODE = "0600"


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


def merge(module, old_text, settings, remove, secret_keys):
    """Apply ``settings`` and ``remove`` to ``old_text`` -> (new text, changed keys)."""
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
        os.unlink(tmp_path)
        module.fail_json(msg="validation of the new %s failed (%s exited %d): %s"
                         % (module.params["path"], argv[0], rc, output), rc=rc)


def write(module, text, has_secret):
    """Write ``text`` to path through a 0600 temp file in the same directory -> backup file or None.

    Order: temp file, validate, backup, tighten the target to 0600 when a secret is inside, rename.
    """
    path = module.params["path"]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="%s: directory %s does not exist" % (path, directory))
    fd, tmp_path = tempfile.mkstemp(prefix=".qube_conf.", dir=directory)
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_bytes(text))
    if module.params["validate"]:
        validate_file(module, tmp_path, module.no_log_values)
    backup_file = module.backup_local(path) if module.params["backup"] and os.path.exists(path) else None
    if has_secret:
        if os.path.exists(path):
            os.chmod(path, 0o600)
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    module.atomic_move(tmp_path, path, unsafe_writes=module.params["unsafe_writes"])
    return backup_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True, aliases=["dest"]),
            settings=dict(type="dict", no_log=True),
            remove=dict(type="list", elements="str"),
            content=dict(type="str", no_log=True),
            validate=dict(type="str"),
            backup=dict(type="bool", default=False),
            create=dict(type="bool", default=True),
            secret_keys=dict(type="list", elements="str", no_log=False,
                             default=["proxy_password", "database_password"]),
        ),
        mutually_exclusive=[("content", "settings"), ("content", "remove")],
        required_one_of=[("content", "settings", "remove")],
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
        new_text, changed_keys = merge(module, old_text, params["settings"], params["remove"], secret_keys)
    new_secrets = secret_values(new_text, secret_keys)
    module.no_log_values.update(new_secrets)

    changed = new_text != old_text or not exists
    backup_file = None
    if changed and not module.check_mode:
        backup_file = write(module, new_text, bool(new_secrets))

    file_args = module.load_file_common_arguments(params)
    if new_secrets:
        if params["mode"] is not None and str(params["mode"]).lstrip("0") not in ("600", "u=rw,g=,o=", "u=rw"):
            module.warn("%s holds a secret, so its mode is 0600 (mode %s ignored)" % (path, params["mode"]))
        file_args["mode"] = SECRET_MODE
    if os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)

    if not changed:
        msg = "%s is up to date" % path
    elif changed_keys:
        msg = "%s: changed %s" % (path, ", ".join(changed_keys))
    else:
        msg = "%s: %s" % (path, "written" if new_text != old_text or not exists else "attributes changed")
    result = dict(changed=changed, changed_keys=changed_keys, msg=msg)
    if backup_file:
        result["backup_file"] = backup_file
    if module._diff:
        result["diff"] = dict(before=redact(old_text, secret_keys), after=redact(new_text, secret_keys),
                              before_header=path if exists else "%s (absent)" % path, after_header=path)
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_qbwrk
short_description: Manage the workers' sections of the Qube! supervisor's shared qbwrk.conf
version_added: 0.3.0
description:
  - Merges the central settings of the given workers into the supervisor's worker configuration
    file (C(qbwrk.conf)), which QubeUI and administrators edit too. Only what inventory declares
    changes, everything else is kept byte for byte - sections of other workers, keys added by hand
    or by QubeUI (also inside a managed section), comments, order.
  - Owned are the sections of the workers in O(hosts) (consecutive names with equal content share
    one range section such as C([render[001-040]]) inheriting C(gpu)), the templates they use and their names in
    C([global_config] templates), and the C([default])/C([linux])/C([osx])/C([winnt]) keys in
    O(farm_wide). Nothing is moved into C([default]) because it happens to be common, since
    C([default]) reaches every worker of the farm.
  - The first lines of the file say what is owned (one C(# renderfarm.qube manages) comment line per section, with its keys).
    Workers managed by an earlier run and not in O(hosts) (another batch, another slice, outside
    C(--limit)) keep their sections as they are.
  - A file written whole by an earlier release of the collection (its header says C(Managed by
    Ansible (renderfarm.qube.supervisor_config))) is taken over, and every worker in O(known_hosts)
    keeps its effective configuration.
  - The path comes from C(supervisor_worker_configfile) in the supervisor's C(qb.conf) unless O(path)
    is given (CPR supervisor_worker_configfile.md). With C(supervisor_host_policy) set to a
    restricted policy there, every managed worker is named in a section of its own (CPR
    supervisor_host_policy.md).
  - Before the file is written, the new text is expanded for every worker in O(hosts) the way the
    supervisor reads it; a section of somebody else that overrides a managed key (it comes later in
    the file) fails the task with the section named, and nothing is written.
  - Runs hold an exclusive lock on O(lock_file) from reading to writing, so several runs at the same
    time (job slicing) each add their own workers and lose nobody else's.
  - Written through the collection's one writer for Qube! files (temporary file, O(validate),
    backup, pending marker, atomic rename, C(0600)), with C(proxy_password) values C(REDACTED) in the diff.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  path:
    description: The qbwrk.conf to manage. Default from the supervisor's qb.conf, else C(/etc/qbwrk.conf).
    type: path
  supervisor_qb_conf:
    description: The supervisor's own C(qb.conf), read for C(supervisor_worker_configfile) and C(supervisor_host_policy).
    type: path
    default: /etc/qb.conf
  hosts:
    description:
      - The workers of this run, a dict from the worker's name to a dict with C(os) (C(linux), C(osx)
        or C(winnt)), C(templates) (a list of template names) and C(settings) (the worker's central
        keys, C(proxy_password) already encrypted), or C(values) (raw value text, as RV(previous) gives
        it, to put a worker back exactly).
      - Empty when only O(templates), O(farm_wide) or the take-over of an old file are to be written.
    type: dict
    default: {}
  restore:
    description:
      - Put these workers (a dict from the worker's name to its OS) back to the sections they have in
        O(restore_from), a backup this module made before it changed them (RV(backup_file)); used to
        roll back the central settings of a failed batch. The restored values never leave the
        supervisor. Cannot be combined with O(hosts).
    type: dict
  restore_from:
    description: The backup to take the sections of O(restore) from.
    type: path
  takeover:
    description:
      - Take over a file written whole by an earlier release. When V(false) and the file is such a
        file, the task fails and changes nothing (the per-batch write leaves the take-over to the
        supervisor play, which knows every worker).
    type: bool
    default: true
  known_hosts:
    description: Every worker of the inventory, a dict from name to OS; used only to take over an old file.
    type: dict
    default: {}
  templates:
    description: The farm's template definitions, a dict from template name to a dict of keys and values.
    type: dict
    default: {}
  farm_wide:
    description: Keys declared farm-wide, a dict from C(default), C(linux), C(osx) or C(winnt) to a dict of keys and values.
    type: dict
    default: {}
  host_policy:
    description:
      - C(auto) reads C(supervisor_host_policy) from O(supervisor_qb_conf); C(open) and C(restricted)
        force the answer.
    type: str
    choices: [auto, open, restricted]
    default: auto
  header:
    description: Lines written first (for example C(ansible_managed)); no timestamp, so an unchanged farm writes nothing.
    type: str
    default: ''
  validate:
    description: Command that checks the new file, C(%s) for the temporary file, for example C(qbconfigfile %s).
    type: str
  backup:
    description: Keep a copy (C(0600)) of the old file before changing it.
    type: bool
    default: true
  pending_file:
    description: Marker left until the push handler removes it (see M(renderfarm.qube.qube_conf)).
    type: path
  push:
    description:
      - Command (argv) that pushes the file to the workers, for example C([qbadmin, worker, --reconfigure])
        (CLI qbadmin.md). Run after a change, or while O(pending_file) says an earlier push is owed;
        on success the marker goes. After a failed push the file stays written, RV(push_error) says
        why and the marker stays, so the next run pushes; the task fails unless O(push_must_succeed)
        is V(false). In check mode nothing is pushed; C(changed) says a push would happen.
    type: list
    elements: str
  push_must_succeed:
    description:
      - Fail the task when the push command fails. V(false) only warns - the vendor's documentation
        does not say what C(qbadmin worker --reconfigure) returns when some workers of the farm do
        not answer (a farm always has some down), so a read-back of the workers that matter judges.
    type: bool
    default: true
  lock_file:
    description: Lock held from reading to writing.
    type: path
    default: /var/lib/renderfarm-qube/qbwrk.conf.lock
  lock_timeout:
    description: Seconds to wait for another run holding the lock.
    type: int
    default: 600
  secret_keys:
    description: Keys whose values are redacted in the diff and masked in all output.
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
seealso:
  - module: renderfarm.qube.qube_conf
"""

EXAMPLES = r"""
- name: Merge this batch's workers into qbwrk.conf, checked with qbconfigfile
  renderfarm.qube.qube_qbwrk:
    hosts:
      render01: {os: linux, templates: [gpu], settings: {worker_cpus: 8}}
      render02: {os: linux, templates: [gpu], settings: {worker_cpus: 8}}
    templates:
      gpu: {worker_groups: [gpu, render]}
    farm_wide:
      default: {worker_logmode: remote}
    validate: /usr/local/pfx/qube/sbin/qbconfigfile %s
    owner: root
    group: root
    mode: "0600"
"""

RETURN = r"""
path:
  description: The file managed.
  returned: always
  type: str
  sample: /etc/qbwrk.conf
host_policy:
  description: The host policy the sections were written for.
  returned: always
  type: str
  sample: open
managed_sections:
  description: The sections the collection owns after this run.
  returned: always
  type: list
  elements: str
  sample: [global_config, gpu, "render[01-02]", render03]
changed_hosts:
  description: Workers of O(hosts) whose section content changed.
  returned: always
  type: list
  elements: str
  sample: [render03]
restored:
  description:
    - For each worker of O(restore), the central keys whose effective value the restore changed back,
      with the value now in effect (raw text; secret values masked), for a read-back to check.
  returned: when O(restore) is given
  type: dict
  sample: {render03: {worker_description: "lighting, gen 2"}}
previous:
  description:
    - The section content each worker of RV(changed_hosts) had before (templates and raw values), to
      put it back when its batch fails. Secret values are masked in the output.
  returned: always
  type: dict
  sample: {render03: {templates: [gpu], values: {worker_cpus: "8"}}}
pushed:
  description: The O(push) command ran and succeeded.
  returned: when O(push) is given
  type: bool
  sample: true
push_error:
  description: Why the push failed (the task fails unless O(push_must_succeed=false)).
  returned: when the push failed
  type: str
  sample: "qbadmin worker --reconfigure exited 2: cannot reach the supervisor"
backup_file:
  description: The backup of the old file.
  returned: changed and backup made
  type: str
  sample: /etc/qbwrk.conf.4242.2026-12-06@10:00:00~
msg:
  description: What happened.
  returned: always
  type: str
  sample: "/etc/qbwrk.conf: written"
"""

import fcntl
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite, qbwrk_owned
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConf, QbConfError, unquote
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import QbwrkError

DEFAULT_PATH = "/etc/qbwrk.conf"
RESTRICTED = ("restricted", "restrictedbyname", "restrictedbyaddress")


def read(path):
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except FileNotFoundError:
        return None


def supervisor_settings(module):
    """(qbwrk.conf path, host policy) from the supervisor's qb.conf."""
    text = read(module.params["supervisor_qb_conf"]) or ""
    try:
        conf = QbConf(text)
    except QbConfError as exc:
        module.fail_json(msg="%s: cannot parse: %s" % (module.params["supervisor_qb_conf"], to_native(exc)))
    path = module.params["path"] or unquote(conf.get("supervisor_worker_configfile") or "") or DEFAULT_PATH
    policy = module.params["host_policy"]
    if policy == "auto":
        policy = unquote(conf.get("supervisor_host_policy") or "open")
    return path, policy


def lock(module):
    path = module.params["lock_file"]
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, 0o700)
    handle = open(path, "a")
    deadline = time.time() + module.params["lock_timeout"]
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.time() > deadline:
                module.fail_json(msg="another run holds %s since more than %s s; nothing was changed"
                                 % (path, module.params["lock_timeout"]))
            time.sleep(0.2)


def changed_hosts(old_text, new_text, hosts):
    """Workers of ``hosts`` whose section content differs, with what they had before."""
    before = qbwrk_owned.sections_of(old_text)
    after = qbwrk_owned.sections_of(new_text)
    names = sorted(name for name in hosts if before.get(name) != after.get(name))
    return names, dict((name, before.get(name) or {"templates": [], "values": {}}) for name in names)


def restore_hosts(module, restore, backup, secret_keys):
    """``hosts`` (raw ``values`` form) that put the workers of ``restore`` back as ``backup`` has them."""
    text = read(backup)
    if text is None:
        module.fail_json(msg="%s: the backup to restore from does not exist; nothing was changed" % backup)
    module.no_log_values.update(confwrite.secret_values(text, secret_keys))
    before = qbwrk_owned.sections_of(text)
    return dict((name, dict(before.get(name) or {"templates": [], "values": {}}, os=os_name))
                for name, os_name in restore.items())


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            supervisor_qb_conf=dict(type="path", default="/etc/qb.conf"),
            hosts=dict(type="dict", default={}, no_log=True),
            restore=dict(type="dict"),
            restore_from=dict(type="path"),
            takeover=dict(type="bool", default=True),
            known_hosts=dict(type="dict", default={}),
            templates=dict(type="dict", default={}),
            farm_wide=dict(type="dict", default={}),
            host_policy=dict(type="str", default="auto", choices=["auto", "open", "restricted"]),
            header=dict(type="str", default=""),
            validate=dict(type="str"),
            backup=dict(type="bool", default=True),
            pending_file=dict(type="path"),
            push=dict(type="list", elements="str"),
            push_must_succeed=dict(type="bool", default=True),
            lock_file=dict(type="path", default="/var/lib/renderfarm-qube/qbwrk.conf.lock"),
            lock_timeout=dict(type="int", default=600),
            secret_keys=dict(type="list", elements="str", no_log=False, default=list(confwrite.SECRET_KEYS)),
        ),
        add_file_common_args=True,
        supports_check_mode=True,
        mutually_exclusive=[("hosts", "restore")],
        required_by={"restore": ("restore_from",)},
    )
    params = module.params
    # hosts is no_log only so the invocation is never logged; from here on mask exactly the secrets.
    module.no_log_values.clear()
    secret_keys = frozenset(params["secret_keys"])
    path, policy = supervisor_settings(module)
    module.params["path"] = path
    held = None if module.check_mode else lock(module)
    try:
        old_text = read(path)
        exists = old_text is not None
        old_text = old_text or ""
        try:
            module.no_log_values.update(confwrite.secret_values(old_text, secret_keys))
            if not params["takeover"] and qbwrk_owned.written_whole(old_text):
                module.fail_json(msg="%s was written whole by an earlier release of the collection; run the "
                                     "supervisor play first (include the supervisor in --limit) so it is taken "
                                     "over with every worker's settings kept; nothing was changed" % path)
            if params["restore"]:
                params["hosts"] = restore_hosts(module, params["restore"], params["restore_from"], secret_keys)
            new_text = qbwrk_owned.merge(old_text, params["hosts"], params["templates"], params["farm_wide"],
                                         params["known_hosts"], restricted=policy in RESTRICTED,
                                         header=params["header"])
        except (QbwrkError, QbConfError) as exc:
            module.fail_json(msg="%s: %s; nothing was changed" % (path, to_native(exc)))
        problems = qbwrk_owned.check(new_text, params["hosts"], params["templates"], params["farm_wide"])
        if problems:
            module.fail_json(msg="%s: the merged file would not give these workers their inventory settings; nothing "
                                 "was changed. Remove or change the other sections: %s" % (path, "; ".join(problems)),
                             problems=problems)
        names, previous = changed_hosts(old_text, new_text, params["hosts"])
        result = confwrite.apply(module, path, old_text, new_text, exists, secret_keys)
    finally:
        if held is not None:
            held.close()
    result.update(path=path, host_policy=policy, managed_sections=qbwrk_owned.managed_sections(new_text),
                  changed_hosts=names, previous=previous)
    if params["restore"]:
        result["restored"] = dict((name, qbwrk_owned.changed_back(old_text, new_text, name, os_name))
                                  for name, os_name in params["restore"].items())
    if params["push"]:
        push(module, result)
    module.exit_json(**result)


def push(module, result):
    """Run the push command when a push is owed; forget the owed push when it worked."""
    owed = result.get("pending", result["changed"])
    result["pushed"] = False
    if module.check_mode or not owed:
        return
    rc, out, err = module.run_command(module.params["push"])
    if rc != 0:
        result["push_error"] = "%s exited %d: %s" % (" ".join(module.params["push"]), rc,
                                                     (err or out).strip() or "no output")
        message = "%s: written, but the push failed (the next run pushes): %s" % (result["path"], result["push_error"])
        if not module.params["push_must_succeed"]:
            module.warn(message)
            return
        written = dict((key, value) for key, value in result.items() if key not in ("msg", "failed"))
        module.fail_json(msg=message, **written)
    result["pushed"] = True
    pending = module.params["pending_file"]
    if pending and os.path.exists(pending):
        os.remove(pending)
        result["pending"] = False


if __name__ == "__main__":
    main()

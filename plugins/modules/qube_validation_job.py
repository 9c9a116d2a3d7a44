#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_validation_job
short_description: Prove a Qube! job identity by running a validation job as it, the way the worker starts jobs
version_added: "0.4.0"
description:
  - "Linux and macOS: a child process takes the identity's groups (C(initgroups)), gid and uid with no
    login environment (only C(PATH) and C(LANG)) and C(/) as working directory, then checks the effective
    user, uid/gid/groups, the home directory, a probe file C(.qube-probe-<host>-<random>) written, read
    back and deleted in each of O(validation_paths), and O(validation_command). The whole job is killed
    after O(validation_timeout) seconds. An identity that is uid 0, has gid 0, belongs to C(root), C(sudo),
    C(wheel), C(admin) (or the AD C(Domain Admins)/C(Administrators) groups) or is O(worker_service_account)
    is refused unless O(allow_privileged=true)."
  - "Windows (the action plugin of the same name, through the task's own connection - C(ansible.builtin.winrm),
    C(ansible.builtin.psrp), or C(ssh) with the C(powershell) shell - running C(files/windows_identity/validate.ps1),
    the password on the remote process's stdin only): C(LogonUser) as C(DOMAIN\\account) with a batch logon
    (the way a service-mode worker starts jobs); the identity's name, SID, groups and profile; each of
    O(validation_rights) as a logon of its type; read, write and delete probes in each of
    O(validation_paths) while impersonating the identity; then O(validation_command) as the identity.
    Windows error numbers are named with their fix: 1326 wrong password, 1331 disabled, 1793 expired, 1907
    must change password, 1909 locked out, 1330 password expired, 1385 logon type (such as
    C(SeBatchLogonRight)) not granted, 5 access denied on a path. A member of Administrators is refused
    unless O(allow_privileged=true)."
  - Both return the same result format (RV(validation)).
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  password:
    description:
      - The account's password. Required on Windows (the validation logon); not used on Linux and macOS.
      - Sent on the remote process's stdin only.
    type: str
  validation_paths:
    description: Directories (on Windows also UNC paths) the identity must be able to write, read and delete a probe file in.
    type: list
    elements: str
    default: []
  validation_command:
    description:
      - Run as the identity after the built-in checks; exit code 0 passes. It also runs in check mode, so it
        must not change anything.
      - Linux and macOS - an argument list (no shell). Windows - a C(cmd.exe /c) command line (a string).
    type: raw
  validation_timeout:
    description: Seconds the whole validation job (Windows - O(validation_command)) may take; after that it is killed and reported.
    type: int
    default: 60
  validation_rights:
    description: Windows only - logon rights checked besides C(SeBatchLogonRight), each by a logon of its type.
    type: list
    elements: str
    choices: [SeBatchLogonRight, SeInteractiveLogonRight, SeNetworkLogonRight, SeServiceLogonRight]
    default: []
  allow_privileged:
    description: Accept a privileged identity (see the description).
    type: bool
    default: false
  worker_service_account:
    description: Linux and macOS - the account the worker service runs as, which jobs must not run as (refused like root).
    type: str
  validation_cadence:
    description:
      - Linux and macOS - when the validation job runs. Windows validates on every call and keeps no proof record.
      - V(always) runs it on every run.
      - V(on_change) runs it only when the identity is not proven yet - no record of a passed validation on
        this host, the identity differs from the record, O(worker_changed=true), a credential registered for
        the identity (M(renderfarm.qube.qube_credential)), the worker's C(qb.conf), its mode record or the
        validation settings differ from what the last passed validation saw, or that validation is older
        than O(validation_max_age_hours) hours. Otherwise the job is skipped and RV(validation_proof) says
        why and when the identity was last proven.
      - A failed validation is always run again on the next run.
    type: str
    choices: [always, on_change]
    default: always
  validation_max_age_hours:
    description:
      - Hours after which a passed validation is due again with O(validation_cadence=on_change) even when
        nothing changed (drift the host cannot see, such as an expired AD password or a revoked share
        permission). V(0) sets no age limit.
    type: int
    default: 20
  worker_changed:
    description:
      - The worker was installed, restarted, or its mode or configuration changed in this run; with
        O(validation_cadence=on_change) the validation job runs.
    type: bool
    default: false
  validation_record:
    description:
      - Linux and macOS - after a validation (passed or failed), keep which checks passed in
        C(<state_dir>/identity_validation.json) (mode C(0644), no secret), for operators; rewritten only
        when it changes, and then reported as a change.
      - Independently of this option, a passed validation (outside check mode) is kept in
        C(<state_dir>/identity_proof.json) (mode C(0644)) - the identity, a digest of what was proven (keyed
        digests, no secret) and the time. It is bookkeeping, like a cache - written on every passed
        validation and never reported as a change, so a converged run stays C(changed=0).
    type: bool
    default: false
  validate_via_qube:
    description:
      - Linux and macOS - also submit C(qbsub --hosts <worker_name> [--user account] --waiton /usr/bin/id -un)
        and check with C(qbout) that the job ran as the identity (recorded as check C(qube_job)).
      - Skipped in check mode (a submitted job is a change on the farm).
    type: bool
    default: false
  worker_name:
    description: The worker's name in Qube! for O(validate_via_qube); defaults to the short host name.
    type: str
  execution_mode:
    description: The worker's C(proxy_execution_mode); in V(user) mode the Qube! job is submitted with C(--user account).
    type: str
    choices: [proxy, user]
    default: proxy
  qbsub_path:
    description:
      - C(qbsub), used by O(validate_via_qube); a bare name is looked up on C(PATH) and in the Qube! C(bin) folder.
      - Default the C(bin) folder of the host's OS under the vendor's C(qb_directory) (CPR qb_directory.md),
        C(/usr/local/pfx/qube/bin) on Linux, C(/Applications/pfx/qube/bin) on macOS.
    type: path
  qbout_path:
    description: C(qbout), used by O(validate_via_qube). Default as for O(qbsub_path).
    type: path
  qb_conf_path:
    description: The local C(qb.conf), whose content is part of what a proof covers (O(validation_cadence=on_change)).
    type: path
    default: /etc/qb.conf
  state_dir:
    description: Directory of the proof and validation records and of the host salt of the credential fingerprints.
    type: path
    default: /var/lib/renderfarm-qube
extends_documentation_fragment:
  - renderfarm.qube.credential
  - renderfarm.qube.credential.action
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Still runs the validation job (it only reads, apart from a probe file it deletes at once);
        O(validate_via_qube) is skipped; no record is written. A job that fails in check mode is reported
        as a warning, since the real run applies first what the job may depend on.
  diff_mode:
    support: none
notes:
  - Run as root (C(become)) on Linux and macOS (the job changes uid); on Windows as the connection's user, an
    administrator of the host (C(LogonUser)); C(become) is not used there.
seealso:
  - module: renderfarm.qube.qube_credential
    description: Registers the identity's password where Qube! reads it.
  - module: renderfarm.qube.qube_ad_check
    description: Checks an AD account's password against a domain controller, from the controller.
"""

EXAMPLES = r"""
- name: Prove the local proxy account can use the project shares
  renderfarm.qube.qube_validation_job:
    account: qubeproxy
    validation_paths: [/mnt/projects, /mnt/renders]
    validation_command: [/usr/bin/test, -r, /mnt/projects/README]
    validation_cadence: on_change
  become: true

- name: Prove MYCORP\render through Qube! itself as well
  renderfarm.qube.qube_validation_job:
    account: render
    domain: MYCORP
    validate_via_qube: true
    worker_name: "{{ inventory_hostname_short }}"
  become: true

- name: Prove a Windows worker's domain proxy account on the render share, over the host's connection
  renderfarm.qube.qube_validation_job:
    account: renderproxy
    domain: MYCORP
    password: "{{ vault_renderproxy_password }}"
    validation_paths: ['\\fs01\renders']
    validation_command: dir \\fs01\projects
"""

RETURN = r"""
validation_skipped:
  description:
    - Why no validation job ran - in check mode the identity does not exist before the real run
      creates it, or O(validation_cadence=on_change) found the last proof fresh and nothing changed.
  returned: on Linux and macOS, when the validation job did not run
  type: str
  sample: "not due (on_change): proven 2026-12-06T09:41:07Z, 2 h ago; nothing changed since (due again after 24 h)"
validation_proof:
  description: When this identity was last proven on this host, and whether in this run.
  returned: on Linux and macOS
  type: dict
  contains:
    cadence: {description: O(validation_cadence)., type: str, returned: always}
    due: {description: The validation job was due in this run., type: bool, returned: always}
    reason: {description: Why it was due or not., type: str, returned: always}
    this_run: {description: A validation job passed in this run (also in check mode)., type: bool, returned: always}
    validated_at: {description: "ISO 8601 UTC time of the last passed validation (this run's when it passed);
                   empty when there is none.", type: str, returned: always}
  sample: {cadence: on_change, due: false, this_run: false, validated_at: "2026-12-06T09:41:07Z",
           reason: "not due (on_change): proven 2026-12-06T09:41:07Z, 2 h ago; nothing changed since (due again after 24 h)"}
validation:
  description: The validation job's report, the same format on every OS.
  returned: unless RV(validation_skipped) is returned
  type: dict
  contains:
    ok: {description: All checks passed., type: bool, returned: always}
    via: {description: V(direct) (the job on the host) or V(qube)., type: str, returned: always}
    platform: {description: "V(linux), V(darwin) or V(windows).", type: str, returned: always}
    identity:
      description: "C(user), C(groups) (names), C(home); C(uid), C(gid) on Linux and macOS; C(sid) on Windows."
      type: dict
      returned: always
    checks:
      description: "One entry per check - C(name) (such as C(whoami), C(logon), C(right:<right>), C(path:<op>:<path>),
        C(command), C(qube_job)), C(ok), C(detail)."
      type: list
      elements: dict
      returned: always
    duration_s: {description: Seconds the job took., type: float, returned: always}
    error:
      description:
        - "C(code), C(message) naming the account, C(fix)."
        - "Windows codes: V(wrong_password), V(account_disabled), V(account_expired), V(password_must_change),
          V(account_locked), V(password_expired), V(logon_type_not_granted), V(access_denied), V(privileged_identity),
          V(command_failed), V(missing_password), V(remote_script_failed)."
      type: dict
      returned: when not ok
    summary: {description: One line for the farm report., type: str, returned: on Windows}
  sample:
    ok: true
    via: direct
    platform: linux
    identity: {user: "MYCORP\\render", uid: 101103, gid: 100513, groups: ["MYCORP\\domain users"], home: /home/render}
    checks: [{name: whoami, ok: true, detail: "effective user MYCORP\\render"}]
    duration_s: 0.041
msg:
  description: What happened, or the first error and its fix.
  returned: always
  type: str
  sample: "validation passed"
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils import validation_job
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import IDENTITY_ARGUMENT_SPEC, IdentityError

# The Qube! client programs per OS: <qb_directory>/bin (CPR qb_directory.md).
QUBE_BINS = {"darwin": "/Applications/pfx/qube/bin"}
QUBE_BIN = QUBE_BINS.get(sys.platform, "/usr/local/pfx/qube/bin")

ARGUMENT_SPEC = dict(
    IDENTITY_ARGUMENT_SPEC,
    validation_paths=dict(type="list", elements="str", default=[]),
    validation_command=dict(type="raw"),
    validation_timeout=dict(type="int", default=60),
    validation_rights=dict(type="list", elements="str", default=[], choices=[
        "SeBatchLogonRight", "SeInteractiveLogonRight", "SeNetworkLogonRight", "SeServiceLogonRight"]),
    allow_privileged=dict(type="bool", default=False),
    worker_service_account=dict(type="str"),
    validation_cadence=dict(type="str", choices=list(validation_job.CADENCES), default="always"),
    validation_max_age_hours=dict(type="int", default=20),
    worker_changed=dict(type="bool", default=False),
    validation_record=dict(type="bool", default=False),
    validate_via_qube=dict(type="bool", default=False),
    worker_name=dict(type="str"),
    execution_mode=dict(type="str", choices=["proxy", "user"], default="proxy"),
    qbsub_path=dict(type="path"),
    qbout_path=dict(type="path"),
    qb_conf_path=dict(type="path", default="/etc/qb.conf"),
    state_dir=dict(type="path", default="/var/lib/renderfarm-qube"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    command = params["validation_command"]
    if isinstance(command, str) and command:
        module.fail_json(msg="%s: validation_command is an argument list on Linux and macOS (no shell), not %r"
                         % (params["account"], command))
    params["validation_command"] = [str(arg) for arg in command or []]
    for program in ("qbsub", "qbout"):
        params["%s_path" % program] = params["%s_path" % program] or os.path.join(QUBE_BIN, program)
    result = {"changed": False}
    try:
        if validation_job.plan(params, result):
            validation_job.run(module, result, QUBE_BIN)
    except (IdentityError, IOError, OSError) as err:
        module.fail_json(msg="%s: %s" % (params["account"], err), **result)
    validation = result.get("validation")
    if validation:  # a failure outside check mode has failed the module above
        result["msg"] = "validation passed" if validation["ok"] else "validation failed in check mode: %s" % (
            validation["error"]["message"])
    else:
        result["msg"] = "validation not due" if not result["validation_proof"]["due"] else "validation skipped"
    module.exit_json(**result)


if __name__ == "__main__":
    main()

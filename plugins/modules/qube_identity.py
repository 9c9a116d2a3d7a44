#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_identity
short_description: Register a Qube! job identity's credential and validate it with a job run as that identity
version_added: "0.1.0"
description:
  - For one identity on one host, registers the credential where Qube! reads it and runs a
    validation job as that identity, the way the worker starts render jobs.
  - "Registration (O(register)): V(local) encrypts the password with C(qbhash) (password on
    stdin) and writes it as C(proxy_password) into the local C(qb.conf), keeping every other line
    byte for byte (backup, atomic write, mode C(0600)); V(central) returns the encrypted string as
    RV(proxy_password_hash) for the supervisor's C(qbwrk.conf); V(qblogin) registers a user-mode
    password with C(qblogin --user U [--domain D]) (password on stdin); V(none) registers nothing."
  - C(qbhash) output is salted, so the module cannot compare it with what is configured. It keeps a
    fingerprint of the password instead (PBKDF2-HMAC-SHA256, 200000 iterations, per-host random
    salt) in O(state_dir), readable by root only. An unchanged password whose registration is still
    present runs no C(qbhash) and, for V(central), returns the same hash as last time, so the
    rendered C(qbwrk.conf) does not change.
  - "Validation (O(validate)): a child process takes the identity's groups (C(initgroups)), gid
    and uid with no login environment (only C(PATH) and C(LANG)) and C(/) as working directory,
    then checks the effective user, uid/gid/groups, the home directory, a probe file
    C(.qube-probe-<host>-<random>) written, read back and deleted in each of
    O(validation_paths), and O(validation_command). The whole job is killed after
    O(validation_timeout) seconds."
  - An identity that is uid 0, has gid 0, belongs to C(root), C(sudo), C(wheel), C(admin) (or the AD
    C(Domain Admins)/C(Administrators) groups) or is O(worker_service_account) is refused unless
    O(allow_privileged=true).
  - With O(ad_check), first checks the password of the AD account by an LDAP simple bind over
    LDAPS; a refused bind fails with the reason AD gives (wrong password, disabled, expired, locked
    out, must change password, password expired, unknown user) and the fix.
  - Windows workers use M(renderfarm.qube.qube_win_identity), which does the same over the host's own
    connection and returns the same result format.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  account:
    description:
      - The job identity. For an AD account give the bare name and O(domain); the validation
        job then resolves it as C(DOMAIN\account) (winbind) or C(account@domain) (sssd).
    type: str
    required: true
  domain:
    description: AD domain of the account (NetBIOS name such as C(MYCORP) or realm such as C(mycorp.test)).
    type: str
  password:
    description:
      - The account's password. Required when O(register) is not V(none) or with O(ad_check).
      - Goes to C(qbhash)/C(qblogin) on stdin only, never on a command line.
    type: str
  qbhash_path:
    description:
      - C(qbhash); a bare name is looked up on C(PATH) and in the Qube! C(bin) folder.
      - Default the C(bin) folder of the host's OS under the vendor's C(qb_directory) (CPR qb_directory.md)
        C(/usr/local/pfx/qube/bin/qbhash) on Linux, C(/Applications/pfx/qube/bin/qbhash) on macOS.
    type: path
  qblogin_path:
    description:
      - C(qblogin), used by O(register=qblogin). It prompts for the password twice for verification
        (administrators-guide/configuring-qube/worker-configuration/Service+Mode+Authentication+User+vs+Proxy.md),
        so the password goes twice on stdin.
      - Default as for O(qbhash_path).
    type: path
  qbsub_path:
    description: C(qbsub), used by O(validate_via_qube). Default as for O(qbhash_path).
    type: path
  qbout_path:
    description: C(qbout), used by O(validate_via_qube). Default as for O(qbhash_path).
    type: path
  qb_conf_path:
    description: The local C(qb.conf) written by O(register=local).
    type: path
    default: /etc/qb.conf
  backup:
    description: Keep a timestamped copy (mode C(0600)) of O(qb_conf_path) before changing it.
    type: bool
    default: true
  state_dir:
    description: Directory (C(0700), files C(0600)) for the fingerprints, the host salt and the last central hash.
    type: path
    default: /var/lib/renderfarm-qube
  validate:
    description: Run the validation job as the identity.
    type: bool
    default: true
  validation_record:
    description:
      - After a validation (passed or failed), keep which checks passed in
        C(<state_dir>/identity_validation.json) (mode C(0644), no secret), for operators; rewritten
        only when it changes, and then reported as a change.
      - Independently of this option, a passed validation (outside check mode) is kept in
        C(<state_dir>/identity_proof.json) (mode C(0644)) - the identity, a digest of what was
        proven (keyed digests, no secret) and the time. It is bookkeeping, like a cache - written on
        every passed validation and never reported as a change, so a converged run stays
        C(changed=0). O(validation_cadence=on_change) decides from it.
    type: bool
    default: false
  validation_cadence:
    description:
      - When the validation job runs (O(validate=true)).
      - V(always) runs it on every run.
      - V(on_change) runs it only when the registration is not proven yet - no record of a passed
        validation on this host, the identity differs from the record, the credential was registered
        in this run, O(worker_changed=true), the registered credential, the worker's C(qb.conf),
        its mode record or the validation settings differ from what the last passed validation saw,
        or that validation is older than O(validation_max_age_hours) hours. Otherwise the job is skipped
        and RV(validation_proof) says why and when the identity was last proven.
      - A failed validation is always run again on the next run.
    type: str
    choices: [always, on_change]
    default: always
  validation_max_age_hours:
    description:
      - Hours after which a passed validation is due again with O(validation_cadence=on_change)
        even when nothing changed (drift the host cannot see, such as an expired AD password or a
        revoked share permission). V(0) sets no age limit.
    type: int
    default: 20
  worker_changed:
    description:
      - The worker was installed, restarted, or its mode or configuration changed in this run; with
        O(validation_cadence=on_change) the validation job runs.
    type: bool
    default: false
  validation_paths:
    description: Directories the identity must be able to write, read and delete a probe file in.
    type: list
    elements: path
    default: []
  validation_command:
    description:
      - Command (argument list, no shell) run as the identity after the built-in checks; rc 0 passes.
      - It runs in check mode too, so it must not change anything.
    type: list
    elements: str
    default: []
  validation_timeout:
    description: Seconds the whole validation job may take; after that it is killed and reported.
    type: int
    default: 60
  validate_via_qube:
    description:
      - Also submit C(qbsub --hosts <worker_name> [--user account] --waiton /usr/bin/id -un) and
        check with C(qbout) that the job ran as the identity (recorded as check C(qube_job)).
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
  allow_privileged:
    description: Accept a privileged identity (see the description).
    type: bool
    default: false
  worker_service_account:
    description: The account the worker service runs as, which jobs must not run as (refused like root).
    type: str
  ad_check:
    description:
      - Check the password against a domain controller first (needs C(ldap3) where the task runs).
      - M(renderfarm.qube.qube_ad_check) does the same check on its own, on the controller (the identity role uses it).
    type: dict
    suboptions:
      server:
        description: Domain controller name, as on its certificate.
        type: str
        required: true
      port:
        description: LDAP port.
        type: int
        default: 636
      use_ssl:
        description: V(true) speaks LDAPS; V(false) upgrades plain LDAP with StartTLS before the bind.
        type: bool
        default: true
      ca_file:
        description: CA certificate(s) the DC's certificate must chain to (system CAs when omitted).
        type: path
      base_dn:
        description: Domain DN (C(DC=mycorp,DC=test)); gives the realm when O(domain) is a NetBIOS name.
        type: str
      realm:
        description: Realm for the bind name C(account@realm); default from O(domain) or O(ad_check.base_dn).
        type: str
      timeout:
        description: Seconds for connecting and for each answer.
        type: int
        default: 10
extends_documentation_fragment:
  - renderfarm.qube.credential
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether the credential would be registered, runs neither C(qbhash) nor C(qblogin) and
        writes neither C(qb.conf) nor the state directory.
      - Still runs the validation job (it only reads, apart from a probe file it deletes at once) and
        the AD check; O(validate_via_qube) is skipped.
  diff_mode:
    support: full
    details: The secret is always shown as C(proxy_password = REDACTED).
  platform:
    platforms: posix
    details: Runs on the worker as root (Linux, macOS); Windows workers use M(renderfarm.qube.qube_win_identity).
notes:
  - Run as root (C(become)) on POSIX workers; the validation job needs to change uid.
  - The role marks the task C(no_log) when O(register=central), because RV(proxy_password_hash) is a
    reversible secret.
seealso:
  - module: renderfarm.qube.qube_win_identity
    description: The same duties on Windows workers, over the host's own connection.
  - name: Qube! qbhash
    description: The vendor's page on encrypting passwords for proxy_password.
    link: https://pipelinefx.github.io/docs/advanced-users-guide/command-line-reference/qbhash
"""

EXAMPLES = r"""
- name: Register the local proxy account's password in qb.conf and validate it
  renderfarm.qube.qube_identity:
    account: qubeproxy
    password: "{{ vault_qube_proxy_password }}"
    register: local
    validation_paths: [/mnt/projects, /mnt/renders]
    validation_command: [/usr/bin/test, -r, /mnt/projects/README]
  become: true

- name: Encrypt the AD proxy account's password for qbwrk.conf; validate as MYCORP\render
  renderfarm.qube.qube_identity:
    account: render
    domain: MYCORP
    password: "{{ vault_render_password }}"
    register: central
    validate_via_qube: true
    worker_name: "{{ inventory_hostname_short }}"
  become: true
  register: render_identity
  no_log: true

- name: Check the AD password on the controller
  renderfarm.qube.qube_identity:
    account: render
    domain: mycorp.test
    password: "{{ vault_render_password }}"
    validate: false
    ad_check:
      server: dc1.mycorp.test
      ca_file: /etc/ssl/mycorp-ca.pem
  delegate_to: localhost
"""

RETURN = r"""
action:
  description: What happened to the credential.
  returned: always
  type: str
  sample: unchanged
  choices: [registered, updated, unchanged, skipped]
proxy_password_hash:
  description:
    - The encrypted password for C(qbwrk.conf), the same string while the password does not change.
    - In check mode, when the registration would change, a fixed stand-in string (no secret) so the
      caller can predict the change of C(qbwrk.conf).
  returned: with O(register=central)
  type: str
  sample: 4f1a...e9
backup_file:
  description: Copy of C(qb.conf) made before the change.
  returned: when O(register=local) changed an existing file with O(backup=true)
  type: str
  sample: /etc/qb.conf.12345.2024-05-01@10:00:00~
ad_check:
  description: The AD bind outcome.
  returned: with O(ad_check)
  type: dict
  sample: {ok: false, code: wrong_password, subcode: 52e, principal: render@mycorp.test,
           server: "dc1.mycorp.test:636", message: "AD refused ...", fix: "put the account's current password in the vault"}
validation_skipped:
  description:
    - Why no validation job ran - in check mode the identity does not exist before the real run
      creates it, or O(validation_cadence=on_change) found the last proof fresh and nothing changed.
  returned: when the validation job did not run although O(validate=true)
  type: str
  sample: "not due (on_change): proven 2026-12-06T09:41:07Z, 2 h ago; nothing changed since (due again after 24 h)"
validation_proof:
  description: When this identity was last proven on this host, and whether in this run.
  returned: with O(validate=true)
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
  description: The validation job's report (same format on Windows).
  returned: with O(validate=true), except when RV(validation_skipped) is returned
  type: dict
  contains:
    ok: {description: All checks passed., type: bool, returned: always}
    via: {description: V(direct) (forked child) or V(qube)., type: str, returned: always}
    platform: {description: "C(linux) or C(darwin) (C(windows) from M(renderfarm.qube.qube_win_identity)).", type: str,
               returned: always}
    identity: {description: "C(user), C(uid), C(gid), C(groups) (names), C(home).", type: dict, returned: always}
    checks: {description: "List of C(name), C(ok), C(detail).", type: list, elements: dict, returned: always}
    duration_s: {description: Seconds the job took., type: float, returned: always}
    error: {description: "C(code), C(message), C(fix) when not ok.", type: dict, returned: when not ok}
  sample:
    ok: true
    via: direct
    platform: linux
    identity: {user: "MYCORP\\render", uid: 101103, gid: 100513, groups: ["MYCORP\\domain users"], home: /home/render}
    checks: [{name: whoami, ok: true, detail: "effective user MYCORP\\render"}]
    duration_s: 0.041
"""

import json
import os
import socket
import sys
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils import adcheck, identity
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import (
    CredentialState, IdentityError, find_program, read_text, register_credential,
)

# The Qube! client programs per OS: <qb_directory>/bin (CPR qb_directory.md).
QUBE_BINS = {"darwin": "/Applications/pfx/qube/bin"}
QUBE_BIN = QUBE_BINS.get(sys.platform, "/usr/local/pfx/qube/bin")
PROGRAMS = ("qbhash", "qblogin", "qbsub", "qbout")


def run_ad_check(module, result):
    opts = module.params["ad_check"]
    if not opts:
        return
    outcome, failure = adcheck.check_or_explain(module.params["account"], module.params["password"],
                                                domain=module.params["domain"], **opts)
    if outcome is not None:
        result["ad_check"] = outcome
    if failure:
        raise IdentityError(failure)


def refuse_privileged(module):
    """Fail before registering anything when the identity would run jobs with root/admin rights."""
    params = module.params
    if params["allow_privileged"] or (params["register"] == "none" and not params["validate"]):
        return
    entry = identity.resolve_identity(params["account"], params["domain"])
    if entry is None:
        return
    problems = identity.privilege_problems(identity.describe_identity(entry), params["worker_service_account"])
    if problems:
        err = identity.privileged_error(entry.pw_name, problems)
        raise IdentityError("%s. Fix: %s." % (err["message"], err["fix"]))


def _proof_state(params):
    """The host's salt and keyed digests come from the credential state (salt file 0600)."""
    return CredentialState(params["state_dir"], "proof", params["account"], params["domain"])


def proof_basis(module, create=False):
    """Digest of what a validation proves: identity, registered credential, qb.conf, mode record,
    validation settings (keyed digests, no secret); None when the host has no salt yet."""
    params = module.params
    state = _proof_state(params)
    if state.salt(create) is None:
        return None

    def keyed(text):
        return None if text is None else state.digest(text)

    credential = None
    if params["register"] != "none":
        record = CredentialState(params["state_dir"], params["register"], params["account"], params["domain"]).load()
        credential = keyed(json.dumps([record.get(k) for k in ("fingerprint", "hash", "written")]))
    settings = dict((key, params[key]) for key in (
        "validation_paths", "validation_command", "validate_via_qube", "execution_mode", "worker_name",
        "allow_privileged", "worker_service_account", "register"))
    return identity.proof_basis({
        "identity": state.qualified, "credential": credential, "settings": settings,
        "qb_conf": keyed(read_text(params["qb_conf_path"])),
        "mode": keyed(read_text(os.path.join(params["state_dir"], "worker_mode.json")))})


def plan_validation(module, result):
    """Whether the validation job runs in this run (cadence); fills RV validation_proof."""
    params = module.params
    qualified = _proof_state(params).qualified
    record = identity.load_proof(read_text(os.path.join(params["state_dir"], identity.PROOF_RECORD)))
    due, reason = identity.validation_due(
        params["validation_cadence"], record, qualified,
        proof_basis(module) if params["validation_cadence"] == "on_change" else None, time.time(),
        params["validation_max_age_hours"], registration_changed=result.get("action") in ("registered", "updated"),
        worker_changed=params["worker_changed"])
    result["validation_proof"] = {"cadence": params["validation_cadence"], "due": due, "reason": reason,
                                  "this_run": False,
                                  "validated_at": record.get("validated_at", "") if record else ""}
    if not due:
        result["validation_skipped"] = reason
    return due


def keep_proof(module, result, report):
    """After a validation: a passed one becomes the host's proof; a failed one leaves the last
    passed time but no basis, so the next run validates again. Not a change (bookkeeping)."""
    proof, now = result["validation_proof"], time.time()
    if report["ok"]:
        proof.update(this_run=True, validated_at=identity.iso_utc(now))
    if module.check_mode:
        return
    params = module.params
    qualified = _proof_state(params).qualified
    if report["ok"]:
        text = identity.proof_record_text(qualified, proof_basis(module, create=True), now)
    elif proof["validated_at"]:
        text = json.dumps({"identity": qualified, "basis": None, "validated_at": proof["validated_at"],
                           "failed_at": identity.iso_utc(now)}, indent=4, sort_keys=True) + "\n"
    else:
        text = None
    path = os.path.join(params["state_dir"], identity.PROOF_RECORD)
    if text is None:
        if os.path.exists(path):
            os.remove(path)
        return
    _write_record(module, path, text)


def _write_record(module, path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def validate_identity(module, result):
    params = module.params
    host = params["worker_name"] or socket.gethostname().split(".")[0]
    report = identity.run_validation(
        params["account"], params["domain"], paths=params["validation_paths"],
        command=params["validation_command"], timeout=params["validation_timeout"], host=host,
        allow_privileged=params["allow_privileged"], service_account=params["worker_service_account"])
    resolved = report.get("identity", {}).get("user")
    error_code = report.get("error", {}).get("code")
    if params["validate_via_qube"] and not module.check_mode and resolved and \
            error_code not in ("identity_unknown", "privileged_identity"):
        submit_as = params["account"] if params["execution_mode"] == "user" else None
        identity.validate_via_qube(report, find_program(module, params["qbsub_path"], QUBE_BIN),
                                   find_program(module, params["qbout_path"], QUBE_BIN), host, resolved,
                                   submit_as=submit_as, timeout=params["validation_timeout"])
    if module.check_mode and report.get("error", {}).get("code") == "identity_unknown":
        # The real run creates the account first (the user task, the worker package): check mode
        # cannot run a job as an account that does not exist yet. Not a failure.
        result["validation_skipped"] = "check mode: %s" % report["error"]["message"]
        # The real run validates the new account and writes its record.
        result["changed"] = result.get("changed", False) or params["validation_record"]
        return
    result["validation"] = report
    keep_proof(module, result, report)
    if params["validation_record"]:
        keep_validation_record(module, result, report)
    if not report["ok"]:
        err = report["error"]
        if module.check_mode:
            # Check mode applies nothing the job may depend on (a home folder, a group, a mount):
            # report the failure, fail only the real run.
            module.warn("check mode: the validation job as %s failed: %s. The real run applies its changes "
                        "first and fails if the job still fails." % (params["account"], err["message"]))
            return
        raise IdentityError("%s. Fix: %s." % (err["message"], err["fix"]))


def keep_validation_record(module, result, report):
    params = module.params
    path = os.path.join(params["state_dir"], "identity_validation.json")
    text = identity.validation_record_text(params["account"], params["domain"], report)
    existing = read_text(path)
    if existing == text or (module.check_mode and identity.record_predicts_no_change(existing, text)):
        return
    result["changed"] = True
    if module.check_mode:
        return
    _write_record(module, path, text)


ARGUMENT_SPEC = dict(
    identity.CREDENTIAL_ARGUMENT_SPEC,
    qbhash_path=dict(type="path"),
    qblogin_path=dict(type="path"),
    qbsub_path=dict(type="path"),
    qbout_path=dict(type="path"),
    qb_conf_path=dict(type="path", default="/etc/qb.conf"),
    backup=dict(type="bool", default=True),
    state_dir=dict(type="path", default="/var/lib/renderfarm-qube"),
    validate=dict(type="bool", default=True),
    validation_record=dict(type="bool", default=False),
    validation_cadence=dict(type="str", choices=list(identity.CADENCES), default="always"),
    validation_max_age_hours=dict(type="int", default=20),
    worker_changed=dict(type="bool", default=False),
    validation_paths=dict(type="list", elements="path", default=[]),
    validation_command=dict(type="list", elements="str", default=[]),
    validation_timeout=dict(type="int", default=60),
    validate_via_qube=dict(type="bool", default=False),
    worker_name=dict(type="str"),
    execution_mode=dict(type="str", choices=["proxy", "user"], default="proxy"),
    allow_privileged=dict(type="bool", default=False),
    worker_service_account=dict(type="str"),
    ad_check=dict(type="dict", options=adcheck.CHECK_OPTIONS_SPEC),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    for program in PROGRAMS:
        if not module.params["%s_path" % program]:
            module.params["%s_path" % program] = os.path.join(QUBE_BIN, program)
    result = {"changed": False}
    try:
        run_ad_check(module, result)
        refuse_privileged(module)
        register_credential(module, result, QUBE_BIN)
        if module.params["validate"] and plan_validation(module, result):
            validate_identity(module, result)
    except IdentityError as err:
        module.fail_json(msg="%s: %s" % (module.params["account"], err), **result)
    except (IOError, OSError) as err:
        module.fail_json(msg="%s: %s" % (module.params["account"], err), **result)
    if not module._diff:
        result.pop("diff", None)
    result["msg"] = "credential %s; validation %s" % (
        result.get("action"), "passed" if result.get("validation", {}).get("ok") else
        ("not due" if not result.get("validation_proof", {}).get("due", True) else "not run"))
    module.exit_json(**result)


if __name__ == "__main__":
    main()

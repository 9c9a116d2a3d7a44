#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_credential
short_description: Register a Qube! job identity's password wherever Qube! stores it
version_added: "0.4.0"
description:
  - Registers one account's password where Qube! reads it, on Linux, macOS and Windows hosts alike.
  - "O(register): V(local) encrypts the password with C(qbhash) (password on stdin) and writes it as
    C(proxy_password) into the local C(qb.conf), keeping every other line byte for byte (backup, atomic
    write, mode C(0600); Linux and macOS only: on Windows the local C(qb.conf) is readable by every user,
    so the encrypted password always goes to C(qbwrk.conf)); V(central) returns the encrypted string as
    RV(proxy_password_hash) for the supervisor's C(qbwrk.conf); V(qblogin) registers a user-mode password
    with C(qblogin --user U [--domain D]) (the password twice on stdin)."
  - Idempotent without reading the secret back. C(qbhash) output is salted, so the module cannot compare
    it with what is configured; it keeps a fingerprint of the password instead (PBKDF2-HMAC-SHA256,
    200000 iterations, random salt bound to the account) in O(state_dir), readable by root (SYSTEM and
    Administrators on Windows) only. An unchanged password whose registration is still present runs no
    C(qbhash) and, for V(central), returns the same hash as last time, so the rendered C(qbwrk.conf) does
    not change.
  - On a Windows host (a connection that speaks PowerShell - C(ansible.builtin.winrm), C(ansible.builtin.psrp),
    or C(ssh) with the C(powershell) shell) the action plugin of the same name runs the collection's
    PowerShell (C(files/windows_identity/register.ps1)) through the task's own connection, authenticated
    however the inventory says; the passwords go to the remote process's stdin only, inside the
    connection's encrypted channel. Elsewhere this module runs on the host.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  password:
    description:
      - The account's password; goes to C(qbhash)/C(qblogin) on stdin only, never on a command line.
    type: str
    required: true
  register:
    description: Where the credential goes (see the description). V(local) is refused on Windows.
    type: str
    choices: [local, central, qblogin]
    required: true
  qbhash_path:
    description:
      - C(qbhash) (Linux and macOS); a bare name is looked up on C(PATH) and in the Qube! C(bin) folder.
      - Default the C(bin) folder of the host's OS under the vendor's C(qb_directory) (CPR qb_directory.md)
        C(/usr/local/pfx/qube/bin/qbhash) on Linux, C(/Applications/pfx/qube/bin/qbhash) on macOS.
    type: path
  qblogin_path:
    description:
      - C(qblogin) (Linux and macOS), used by O(register=qblogin). It prompts for the password twice for
        verification (administrators-guide/configuring-qube/worker-configuration/Service+Mode+Authentication+User+vs+Proxy.md),
        so the password goes twice on stdin.
      - Default as for O(qbhash_path).
    type: path
  qube_bin_dir:
    description: Folder of C(qbhash.exe) and C(qblogin.exe) on a Windows host (Windows only).
    type: str
    default: C:\Program Files\pfx\qube\bin
  qb_conf_path:
    description: The local C(qb.conf) written by O(register=local) (Linux and macOS).
    type: path
    default: /etc/qb.conf
  backup:
    description: Keep a timestamped copy (mode C(0600)) of O(qb_conf_path) before changing it.
    type: bool
    default: true
  state_dir:
    description:
      - Directory (C(0700), files C(0600)) for the fingerprints, the host salt and the last central hash.
      - On Windows the default is C(C:\ProgramData\renderfarm-qube) (ACL SYSTEM and Administrators only).
    type: path
    default: /var/lib/renderfarm-qube
extends_documentation_fragment:
  - renderfarm.qube.credential
  - renderfarm.qube.credential.update
  - renderfarm.qube.credential.action
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Reports whether the credential would be registered; runs neither C(qbhash) nor C(qblogin) and
      writes neither C(qb.conf) nor the state directory.
  diff_mode:
    support: full
    details: The secret is always shown as C(proxy_password = REDACTED).
notes:
  - Run as root (C(become)) on Linux and macOS; on Windows as the connection's user, an administrator of
    the host (C(become) is not used).
  - Mark the task C(no_log) with O(register=central), because RV(proxy_password_hash) is a reversible secret.
seealso:
  - module: renderfarm.qube.qube_validation_job
    description: Proves the identity by running a job as it.
  - name: Qube! qbhash
    description: The vendor's page on encrypting passwords for proxy_password.
    link: https://pipelinefx.github.io/docs/advanced-users-guide/command-line-reference/qbhash
"""

EXAMPLES = r"""
- name: Register the local proxy account's password in qb.conf
  renderfarm.qube.qube_credential:
    account: qubeproxy
    password: "{{ vault_qube_proxy_password }}"
    register: local
  become: true

- name: Encrypt the AD proxy account's password for qbwrk.conf, on the supervisor
  renderfarm.qube.qube_credential:
    account: render
    domain: MYCORP
    password: "{{ vault_render_password }}"
    register: central
  delegate_to: qube-sup01
  register: render_credential
  no_log: true

- name: Register a Windows user-mode submitter's password with qblogin, over the host's connection
  renderfarm.qube.qube_credential:
    account: alice
    domain: MYCORP
    password: "{{ vault_alice_password }}"
    register: qblogin
"""

RETURN = r"""
action:
  description: What happened to the credential.
  returned: always
  type: str
  sample: unchanged
  choices: [registered, updated, unchanged]
proxy_password_hash:
  description:
    - The encrypted password for C(qbwrk.conf), the same string while the password does not change.
    - In check mode, when the registration would change, a fixed stand-in string (no secret) so the
      caller can predict the change of C(qbwrk.conf).
  returned: with O(register=central)
  type: str
  sample: 9f2c0d4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7
backup_file:
  description: Copy of C(qb.conf) made before the change.
  returned: when O(register=local) changed an existing file with O(backup=true)
  type: str
  sample: /etc/qb.conf.12345.2024-05-01@10:00:00~
error:
  description: "C(code), C(message) naming the account, C(fix) (Windows: such as V(qbhash_failed), V(qblogin_failed))."
  returned: on a Windows host when the registration failed
  type: dict
  sample: {code: qblogin_failed, message: "qblogin.exe for MYCORP\\alice failed (exit 1): ...",
           fix: "check the Qube! installation in C:\\Program Files\\pfx\\qube\\bin on the worker (qube_bin_dir)"}
msg:
  description: What happened, or the error and its fix.
  returned: always
  type: str
  sample: "credential registered (central) for MYCORP\\render"
"""

import os
import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import (
    CREDENTIAL_ARGUMENT_SPEC, IdentityError, register_credential,
)

# The Qube! client programs per OS: <qb_directory>/bin (CPR qb_directory.md).
QUBE_BINS = {"darwin": "/Applications/pfx/qube/bin"}
QUBE_BIN = QUBE_BINS.get(sys.platform, "/usr/local/pfx/qube/bin")

ARGUMENT_SPEC = dict(
    CREDENTIAL_ARGUMENT_SPEC,
    qbhash_path=dict(type="path"),
    qblogin_path=dict(type="path"),
    qube_bin_dir=dict(type="str", default="C:\\Program Files\\pfx\\qube\\bin"),
    qb_conf_path=dict(type="path", default="/etc/qb.conf"),
    backup=dict(type="bool", default=True),
    state_dir=dict(type="path", default="/var/lib/renderfarm-qube"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    for program in ("qbhash", "qblogin"):
        params["%s_path" % program] = params["%s_path" % program] or os.path.join(QUBE_BIN, program)
    result = {"changed": False}
    try:
        register_credential(module, result, QUBE_BIN)
    except (IdentityError, IOError, OSError) as err:
        module.fail_json(msg="%s: %s" % (params["account"], err), **result)
    if not module._diff:
        result.pop("diff", None)
    result["msg"] = "credential %s (%s) for %s" % (result["action"], params["register"], params["account"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()

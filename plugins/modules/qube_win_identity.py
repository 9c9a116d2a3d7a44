#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the work is done by the action plugin of the same name
# (plugins/action/qube_win_identity.py, module_utils/winrm_identity.py, files/windows_identity/*.ps1).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_win_identity
short_description: Register a Windows Qube! job identity's credential and validate it, over the host's own connection
version_added: "0.4.0"
description:
  - The Windows counterpart of M(renderfarm.qube.qube_identity). For one identity on one Windows worker,
    registers the credential where Qube! reads it and checks that the worker can start jobs as that identity.
  - Runs the collection's PowerShell scripts (C(files/windows_identity/*.ps1)) through the task's own
    connection (C(ansible.builtin.winrm), C(ansible.builtin.psrp), or C(ssh) with the C(powershell) shell),
    authenticated however the inventory says (NTLM, Kerberos, CredSSP, certificates). It opens no session of
    its own and needs no second credential.
  - Passwords go to the remote process's stdin only (base64, one per line), inside the connection's
    encrypted channel; never in a script text, a command line, a result or a log line.
  - "Registration (O(register)): V(local) encrypts the password with C(qbhash.exe) and writes it as
    C(proxy_password) into the worker's C(qb.conf) (ACL SYSTEM and Administrators only); V(central) returns
    the encrypted string as RV(proxy_password_hash); V(qblogin) registers a user-mode password with
    C(qblogin.exe --user U [--domain D]) (the password twice on stdin); V(none) registers nothing."
  - Idempotent without reading the secret back. A fingerprint of the last registered password
    (PBKDF2-HMAC-SHA256, 200000 iterations, random salt bound to the account) is kept in O(state_dir); an
    unchanged password whose registration is still present runs no C(qbhash.exe) and, for V(central), returns
    the same hash as last time.
  - "Validation (O(validate)): C(LogonUser) as C(DOMAIN\\account) with a batch logon (the way a service-mode
    worker starts jobs); the identity's name, SID, groups and profile; each of O(validation_rights) as a logon
    of its type; read, write and delete probes in each of O(validation_paths) while impersonating the
    identity; then O(validation_command) as the identity. Windows error numbers are named with their fix:
    1326 wrong password, 1331 disabled, 1793 expired, 1907 must change password, 1909 locked out, 1330
    password expired, 1385 logon type (such as C(SeBatchLogonRight)) not granted, 5 access denied on a path."
  - An identity that is a member of Administrators is refused unless O(allow_privileged=true).
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  account:
    description: The job identity; a bare name with O(domain), or C(DOMAIN\\name).
    type: str
    required: true
  domain:
    description: NetBIOS domain of the account (C(MYCORP)); omit for a local account of the worker.
    type: str
  password:
    description:
      - The account's password. Required when O(register) is not V(none) and with O(validate=true).
      - Sent on the remote process's stdin only.
    type: str
  validate:
    description: Run the validation logon and checks as the identity.
    type: bool
    default: true
  validation_paths:
    description: UNC paths or folders the identity must be able to read, write and delete a probe file in.
    type: list
    elements: str
    default: []
  validation_command:
    description:
      - A C(cmd.exe /c) command line run as the identity after the built-in checks; exit code 0 passes.
      - It also runs in check mode, so it must not change anything.
    type: str
    default: ""
  validation_rights:
    description: Logon rights checked besides C(SeBatchLogonRight), each by a logon of its type.
    type: list
    elements: str
    choices: [SeBatchLogonRight, SeInteractiveLogonRight, SeNetworkLogonRight, SeServiceLogonRight]
    default: []
  validation_timeout:
    description: Seconds O(validation_command) may run before it is killed and reported.
    type: int
    default: 60
  allow_privileged:
    description: Accept an identity that is a member of Administrators.
    type: bool
    default: false
  qube_bin_dir:
    description: Folder of C(qbhash.exe) and C(qblogin.exe) on the worker.
    type: str
    default: C:\Program Files\pfx\qube\bin
  qb_conf_path:
    description: The worker's C(qb.conf), written by O(register=local).
    type: str
    default: C:\ProgramData\pfx\qube\qb.conf
  state_dir:
    description: Folder (ACL SYSTEM and Administrators only) for the fingerprint records.
    type: str
    default: C:\ProgramData\renderfarm-qube
extends_documentation_fragment:
  - renderfarm.qube.credential
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details: The decisions run on the controller; only the PowerShell steps run on the worker.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details:
      - Reports whether the credential would be registered; runs neither C(qbhash.exe) nor C(qblogin.exe)
        and writes neither C(qb.conf) nor the state folder.
      - Still runs the validation (it only reads, apart from a probe file it deletes at once).
  diff_mode:
    support: full
    details: The secret is always shown as C(proxy_password = REDACTED).
  platform:
    platforms: windows
notes:
  - Mark the task C(no_log) with O(register=central), because RV(proxy_password_hash) is a reversible secret.
  - Needs PowerShell 5.1 on the worker, as Ansible itself does.
  - Runs as the connection's user, who must be an administrator of the worker (LogonUser, the state
    folder's ACL, qb.conf); C(become) is not used.
  - With O(validate=true) the validation job runs on every call. The validation cadence
    (O(renderfarm.qube.qube_identity#module:validation_cadence), the identity role's
    C(qube_validate_cadence)) is not implemented on Windows, and no proof record is kept.
seealso:
  - module: renderfarm.qube.qube_identity
    description: The same duties on Linux and macOS workers.
  - name: Qube! qbhash
    description: The vendor's page on encrypting passwords for proxy_password.
    link: https://pipelinefx.github.io/docs/advanced-users-guide/command-line-reference/qbhash
"""

EXAMPLES = r"""
- name: Register the domain proxy account's password in qb.conf and validate it on the render share
  renderfarm.qube.qube_win_identity:
    account: renderproxy
    domain: MYCORP
    password: "{{ vault_renderproxy_password }}"
    register: local
    validation_paths: ['\\fs01\renders']

- name: Register a user-mode submitter's password with qblogin
  renderfarm.qube.qube_win_identity:
    account: alice
    domain: MYCORP
    password: "{{ vault_alice_password }}"
    register: qblogin
    validate: false

- name: Only check that jobs can run as the local proxy account, with a command
  renderfarm.qube.qube_win_identity:
    account: qubeproxy
    password: "{{ vault_qube_proxy_password }}"
    validation_command: dir \\fs01\projects
  register: identity_check
"""

RETURN = r"""
registered:
  description: Whether C(qbhash.exe)/C(qblogin.exe) ran and the registration was written in this run.
  returned: always
  type: bool
  sample: true
proxy_password_hash:
  description:
    - The encrypted password for C(qbwrk.conf), the same string while the password does not change.
    - In check mode, when the registration would change, a fixed stand-in string (no secret).
  returned: with O(register=central)
  type: str
  sample: 9f2c0d4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7
validation:
  description: The validation's report, in the format M(renderfarm.qube.qube_identity) returns on POSIX.
  returned: with O(validate=true), or when a step failed
  type: dict
  contains:
    ok: {description: All checks passed., type: bool, returned: always}
    via: {description: Always V(direct) (a logon on the worker)., type: str, returned: always}
    platform: {description: Always V(windows)., type: str, returned: always}
    identity: {description: "C(user), C(sid), C(groups) (names), C(home) of the logged-on identity.", type: dict,
               returned: always}
    checks:
      description: "One entry per check: C(name) (C(logon), C(right:<right>), C(path:<op>:<path>), C(command)), C(ok), C(detail)."
      type: list
      elements: dict
      returned: always
    duration_s: {description: Seconds the validation took., type: float, returned: always}
    error:
      description:
        - "C(code), C(message) naming the account, C(fix)."
        - "Codes: V(wrong_password), V(account_disabled), V(account_expired), V(password_must_change), V(account_locked),
          V(password_expired), V(logon_type_not_granted), V(access_denied), V(privileged_identity), V(command_failed),
          V(missing_password), V(remote_script_failed), V(qbhash_failed), V(qblogin_failed)."
      type: dict
      returned: when not ok
    summary: {description: One line for the farm report., type: str, returned: always}
  sample:
    ok: false
    via: direct
    platform: windows
    identity: {user: "MYCORP\\renderproxy", sid: "S-1-5-21-1004336348-1177238915-682003330-1105",
               groups: ["MYCORP\\Domain Users", "MYCORP\\renderers"], home: "C:\\Users\\renderproxy"}
    checks: [{name: logon, ok: true, detail: "batch logon as MYCORP\\renderproxy succeeded"},
             {name: "path:read:\\\\fs01\\library", ok: true, detail: ok},
             {name: "path:write:\\\\fs01\\library", ok: false,
              detail: "access denied for MYCORP\\renderproxy (error 5): path:write:\\\\fs01\\library"}]
    duration_s: 0.42
    error: {code: access_denied, message: "access denied for MYCORP\\renderproxy (error 5): path:write:\\\\fs01\\library",
            fix: "grant the account the missing permission on the share and on the folder (NTFS ACL)"}
    summary: "MYCORP\\renderproxy: access denied for MYCORP\\renderproxy (error 5): path:write:\\\\fs01\\library"
msg:
  description: What happened, or the first error and its fix.
  returned: always
  type: str
  sample: "registered (local) for MYCORP\\renderproxy, validation passed"
"""

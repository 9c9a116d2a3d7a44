#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Documentation only: the work is done by the action plugin of the same name
# (plugins/action/qube_ad_check.py, module_utils/adcheck.py), on the controller.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_ad_check
short_description: Check an Active Directory account's password against a domain controller, from the controller
version_added: "0.4.0"
description:
  - Binds as the account with an LDAP simple bind over LDAPS (or plain LDAP upgraded with StartTLS, never
    in clear text), the domain controller's certificate checked, and reports the outcome.
  - "A refused bind fails the task with the reason AD gives and the fix: wrong password (C(52e)), disabled
    (C(533)), expired (C(701)), must change password (C(773)), locked out (C(775)), password expired
    (C(532)), unknown account (C(525)), logon hours, workstation restrictions."
  - Runs on the controller for each host of the play; it never opens the host's connection, so it
    works the same for Linux, macOS and Windows workers. Needs C(ldap3) on the controller.
  - The identity role runs it before registering an AD proxy account's password, so a wrong vaulted
    password fails the run before any worker registers it.
author:
  - renderfarm.qube contributors (@renderfarm)
options:
  account:
    description: The account; a bare name with O(domain) or O(realm), or C(user@realm), or C(DOMAIN\\user).
    type: str
    required: true
  domain:
    description: NetBIOS name (C(MYCORP)) or realm (C(mycorp.test)) of the account's domain.
    type: str
  password:
    description: The password to check. Sent only inside the TLS session of the bind.
    type: str
    required: true
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
    description: Realm for the bind name C(account@realm); default from O(domain) or O(base_dn).
    type: str
  timeout:
    description: Seconds for connecting and for each answer.
    type: int
    default: 10
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
    details: Runs on the controller only.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: The bind only reads, so it runs in check mode as well.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: The controller; the checked account may be used on workers of any OS.
notes:
  - Too many wrong passwords lock the account out where AD has a lockout policy; the check binds once per host and run.
seealso:
  - module: renderfarm.qube.qube_credential
  - module: renderfarm.qube.qube_validation_job
"""

EXAMPLES = r"""
- name: Check the AD proxy account's password before anything registers it
  renderfarm.qube.qube_ad_check:
    account: renderproxy
    domain: MYCORP
    realm: MYCORP.TEST
    password: "{{ vault_renderproxy_password }}"
    server: dc1.mycorp.test
    ca_file: /etc/ssl/mycorp-ca.pem
"""

RETURN = r"""
ad_check:
  description: The bind's outcome.
  returned: when the domain controller answered
  type: dict
  contains:
    ok: {description: AD accepted the password., type: bool, returned: always}
    code: {description: "V(ok), V(wrong_password), V(account_disabled), V(account_expired), V(password_must_change),
           V(account_locked), V(password_expired), V(user_not_found), V(connection_failed), V(tls_verify_failed), ...",
           type: str, returned: always}
    subcode: {description: The C(data) sub-code of AD's answer., type: str, returned: when AD refused the bind}
    principal: {description: The name bound as., type: str, returned: always}
    server: {description: "C(server:port).", type: str, returned: always}
    message: {description: What is wrong (or that it is fine)., type: str, returned: always}
    fix: {description: How to fix it., type: str, returned: when not ok}
  sample: {ok: false, code: wrong_password, subcode: 52e, principal: renderproxy@MYCORP.TEST,
           server: "dc1.mycorp.test:636", message: "the password given for renderproxy@MYCORP.TEST is wrong (LDAP 49, data 52e)",
           fix: "put the account's current password in the vault (or reset it in AD to the vaulted one)"}
msg:
  description: The outcome, or the failure and its fix.
  returned: always
  type: str
  sample: "AD accepted the password of renderproxy@MYCORP.TEST on dc1.mycorp.test:636"
"""

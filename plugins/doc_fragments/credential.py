# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The identity options of qube_credential and qube_validation_job (module_utils/credential.py
    IDENTITY_ARGUMENT_SPEC, CREDENTIAL_ARGUMENT_SPEC)."""

    DOCUMENTATION = r"""
options:
  account:
    description:
      - The job identity. For a domain account give the bare name and O(domain); on Linux and macOS the
        validation job then resolves it as C(DOMAIN\account) (winbind) or C(account@domain) (sssd), on
        Windows as C(DOMAIN\account).
    type: str
    required: true
  domain:
    description:
      - Domain of the account (NetBIOS name such as C(MYCORP), or on Linux and macOS a realm such as
        C(mycorp.test)); omit for a local account of the host.
    type: str
  password:
    description:
      - The account's password. Goes to C(qbhash)/C(qblogin) and the Windows validation logon on stdin
        only, never on a command line, in a result or a log line.
    type: str
"""

    # The attributes both identity plugins share: a module plus an action plugin of the same name.
    ACTION = r"""
attributes:
  action:
    support: full
    details: On a Windows host the decisions run on the controller and only the PowerShell steps run on the host.
  async:
    support: none
  bypass_host_loop:
    support: none
  platform:
    platforms: [posix, windows]
"""

    UPDATE = r"""
options:
  update_password:
    description:
      - V(always) registers again when the password changed (by fingerprint) or the registration
        is gone; V(on_create) registers only when nothing is registered yet.
    type: str
    choices: [always, on_create]
    default: always
"""

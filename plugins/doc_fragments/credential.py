# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    """The credential options of qube_identity (POSIX) and qube_win_identity (Windows)."""

    DOCUMENTATION = r"""
options:
  update_password:
    description:
      - V(always) registers again when the password changed (by fingerprint) or the registration
        is gone; V(on_create) registers only when nothing is registered yet.
    type: str
    choices: [always, on_create]
    default: always
  register:
    description: Where the credential goes (see the description).
    type: str
    choices: [local, central, qblogin, none]
    default: none
"""

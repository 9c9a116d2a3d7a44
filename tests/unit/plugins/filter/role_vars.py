# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared by the role-vars tests: read a role's vars/main.yml as Ansible would template it."""

import os

import yaml
from ansible.template import trust_as_template

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def load(*parts):
    """The YAML of a file of the repository (path parts from its root)."""
    with open(os.path.join(REPO, *parts)) as handle:
        return yaml.safe_load(handle)


def trusted(value):
    """Strings (also inside dicts) marked as templates, as Ansible marks a role's own vars."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return dict((key, trusted(item)) for key, item in value.items())
    return value

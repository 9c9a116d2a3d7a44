# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions the worker_mode, identity and worker_config task files take through filters/vars.

* Windows qb.conf: the diff is hidden only for an active ``proxy_password`` line (audit row 8).
* Windows qb.conf: never locked to SYSTEM and Administrators; it keeps its folder's ACL.
* Windows user rights: the task file only loops over ``qube_mode_windows_rights`` (audit row 7).
* identity on macOS: qbsub/qbout/qbhash from /Applications/pfx/qube/bin, qube_bin_dir wins (row 11).
"""

import os

import pytest
import yaml
from ansible.template import Templar, trust_as_template

from ansible_collections.renderfarm.qube.plugins.filter import modes as mode_filters

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def _load(*parts):
    with open(os.path.join(REPO, *parts)) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("text, secret", [
    ("qb_supervisor = sup\nproxy_password = 3f2a9c\n", True),
    ("qb_supervisor = sup\n  proxy_password=3f2a9c\n", True),
    ("# proxy_password = 3f2a9c goes to qbwrk.conf\nqb_supervisor = sup\n", False),
    ("qb_supervisor = sup # no proxy_password here\n", False),
    ("proxy_account = render\n", False),
    ("", False),
    (None, False),
])
def test_only_an_active_proxy_password_line_is_a_secret(text, secret):
    assert mode_filters.qube_conf_has_active_key(text, "proxy_password") is secret


def _tasks(path):
    return _load(*path.split("/"))


def test_windows_qb_conf_is_never_locked_and_its_diff_follows_the_active_line():
    tasks = _tasks("roles/worker_config/tasks/config_Win32NT.yml")
    modules = [next(k for k in t if k.startswith("ansible.")) for t in tasks]
    assert "ansible.windows.win_acl" not in modules            # no SYSTEM + Administrators lock
    inherit = [t["ansible.windows.win_acl_inheritance"] for t in tasks if "ansible.windows.win_acl_inheritance" in t]
    assert all(i["state"] == "present" for i in inherit)       # only ever gives the folder's ACL back
    copy = next(t for t in tasks if "ansible.windows.win_copy" in t)
    assert "qube_conf_has_active_key('proxy_password')" in copy["vars"]["__qube_worker_config_win_secret"]
    assert "'proxy_password' in" not in yaml.safe_dump(tasks)   # a mere mention no longer counts


def test_windows_rights_task_loops_over_the_python_decision():
    tasks = _tasks("roles/identity/tasks/accounts_Win32NT.yml")
    rights = [t for t in tasks if "ansible.windows.win_user_right" in t]
    assert len(rights) == 1
    assert "qube_mode_windows_rights" in rights[0]["loop"]
    assert "SeBatchLogonRight" not in yaml.safe_dump(tasks)
    assert "NETWORK SERVICE" not in yaml.safe_dump(tasks)       # only through the decision


def _render_bin(system, inventory_bin_dir=None):
    role_vars = _load("roles", "identity", "vars", "main.yml")
    variables = dict((key, trust_as_template(value) if isinstance(value, str) else value)
                     for key, value in role_vars.items())
    variables["ansible_facts"] = {"system": system}
    if inventory_bin_dir is not None:
        variables["qube_bin_dir"] = inventory_bin_dir
    tasks = _tasks("roles/identity/tasks/validate.yml")
    block = next(t for t in tasks if "block" in t)["block"][0]
    variables["__qube_identity_bin"] = trust_as_template(block["vars"]["__qube_identity_bin"])
    args = block["renderfarm.qube.qube_validation_job"]
    return dict((key, Templar(loader=None, variables=variables).template(trust_as_template(args[key])))
                for key in ("qbsub_path", "qbout_path"))


def test_identity_programs_follow_the_os_install_folder():
    """CPR qb_directory.md: /Applications/pfx/qube on macOS, /usr/local/pfx/qube on Linux."""
    assert _render_bin("Darwin") == {"qbsub_path": "/Applications/pfx/qube/bin/qbsub",
                                     "qbout_path": "/Applications/pfx/qube/bin/qbout"}
    assert _render_bin("Linux")["qbsub_path"] == "/usr/local/pfx/qube/bin/qbsub"


def test_identity_qube_bin_dir_from_inventory_wins():
    assert _render_bin("Darwin", "/opt/qube/bin")["qbout_path"] == "/opt/qube/bin/qbout"
    assert _render_bin("Darwin", "")["qbout_path"] == "/Applications/pfx/qube/bin/qbout"

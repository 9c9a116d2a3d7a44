# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""worker_config's role vars (vars/main.yml), evaluated where they are used (issue #17).

* OS paths by ansible_facts['system'] (vendor-behaviour.md P1); qube_qb_conf_path wins on POSIX.
* The task file per system; config_handoff.yml only with private role vars.
* The hand-off to worker_restart's handler, derived from the registered qube_conf result, and
  site.yml imports the role so that its vars reach that handler.
"""

import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

import role_vars

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(REPO, "roles", "worker_config")
HANDOFF = ("qube_worker_restart_qb_conf", "qube_worker_restart_qb_conf_backup", "qube_worker_restart_pending_file")


def _load(*parts):
    return role_vars.load(*parts)


_trusted = role_vars.trusted


def _render(name, system="Linux", private_role_vars=False, **inventory):
    variables = _trusted(_load("roles", "worker_config", "vars", "main.yml"))
    # Stands in for the lookup plugins (not loaded here): only ansible.builtin.config is used.
    config = {("ansible.builtin.config", "DEFAULT_PRIVATE_ROLE_VARS"): private_role_vars}
    variables["lookup"] = lambda *terms: config[terms]
    variables.update(inventory)
    if system is not None:
        variables["ansible_facts"] = {"system": system}
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template("{{ %s }}" % name))


@pytest.mark.parametrize("system, path, group, task_file", [
    ("Linux", "/etc/qb.conf", "root", "config.yml"),
    ("Darwin", "/etc/qb.conf", "wheel", "config.yml"),
    (None, "/etc/qb.conf", "root", "config.yml"),  # no facts: Linux, as before
])
def test_posix_paths_and_task_file_follow_the_system(system, path, group, task_file):
    assert _render("__qube_worker_config_local_qb_conf", system) == path
    assert _render("__qube_worker_config_qb_conf_group", system) == group
    assert _render("__qube_worker_config_task_file", system) == task_file
    assert os.path.isfile(os.path.join(ROLE, "tasks", task_file))


def test_windows_path_and_task_file():
    assert _render("__qube_worker_config_qb_conf_path", "Win32NT") == "C:\\ProgramData\\pfx\\qube\\qb.conf"
    assert _render("__qube_worker_config_task_file", "Win32NT") == "config_Win32NT.yml"


@pytest.mark.parametrize("system, task_file", [("Linux", "config_handoff.yml"), ("Darwin", "config_handoff.yml"),
                                               ("Win32NT", "config_Win32NT.yml")])
def test_private_role_vars_hand_over_as_facts(system, task_file):
    assert _render("__qube_worker_config_task_file", system, private_role_vars=True) == task_file


@pytest.mark.parametrize("system", ["Linux", "Darwin"])
def test_inventory_qb_conf_path_wins_over_the_os_default(system):
    for name in ("__qube_worker_config_local_qb_conf", "qube_worker_restart_qb_conf"):
        assert _render(name, system, qube_qb_conf_path="/opt/qube/qb.conf") == "/opt/qube/qb.conf"
    tasks = _load("roles", "worker_config", "tasks", "config.yml")
    assert tasks[0]["renderfarm.qube.qube_conf"]["path"] == "{{ __qube_worker_config_local_qb_conf }}"


def test_handoff_is_read_from_the_registered_qube_conf_result():
    registered = {"changed": True, "backup_file": "/etc/qb.conf.1234.2026-12-06@15:00:00~",
                  "pending_file": "/var/lib/renderfarm-qube/qb.conf.restart-pending", "pending": True}
    assert _render("qube_worker_restart_qb_conf_backup", __qube_worker_config_local_conf=registered) == registered["backup_file"]
    assert _render("qube_worker_restart_pending_file", __qube_worker_config_local_conf=registered) == registered["pending_file"]
    # Unchanged (no backup taken), or qube_conf not run on this host (tags, Windows): nothing to hand over.
    assert _render("qube_worker_restart_qb_conf_backup", __qube_worker_config_local_conf={"changed": False}) == ""
    assert _render("qube_worker_restart_qb_conf_backup") == ""
    assert _render("qube_worker_restart_pending_file") == ""


def test_handoff_names_are_worker_restart_inputs():
    specs = _load("roles", "worker_restart", "meta", "argument_specs.yml")["argument_specs"]
    assert all(set(HANDOFF) <= set(entry["options"]) for entry in specs.values() if set(HANDOFF) & set(entry["options"]))
    assert any(set(HANDOFF) <= set(entry["options"]) for entry in specs.values())
    tasks = _load("roles", "worker_config", "tasks", "config_handoff.yml")
    assert tasks[0]["ansible.builtin.import_tasks"] == "config.yml"
    assert sorted(tasks[1]["ansible.builtin.set_fact"]) == sorted(HANDOFF)


def test_site_imports_worker_config_with_its_vars_visible_to_the_play():
    """Role vars of a role imported with public: false do not reach worker_restart's handler."""
    plays = _load("playbooks", "site.yml")

    def imports(node):
        if isinstance(node, dict):
            if (node.get("ansible.builtin.import_role") or {}).get("name") == "renderfarm.qube.worker_config":
                yield node["ansible.builtin.import_role"]
            for item in node.values():
                for found in imports(item):
                    yield found
        elif isinstance(node, list):
            for item in node:
                for found in imports(item):
                    yield found

    found = list(imports(plays))
    assert found
    assert all(entry.get("public", True) is not False for entry in found)

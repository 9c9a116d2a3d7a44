# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""worker_mode's role vars (vars/main.yml), evaluated where they are used (issue #17).

* The per-OS values by ansible_facts['system'] (vendor-behaviour.md P4), no include_vars task.
* The one file main.yml includes: facts.yml without facts, mode_<OS>.yml for a host with right
  settings and no desktop user to look up, validate_then_apply.yml (the look and the assert) else.
"""

import os

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

import role_vars

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE = os.path.join(REPO, "roles", "worker_mode")


def _load(*parts):
    return role_vars.load("roles", "worker_mode", *parts)


_trusted = role_vars.trusted


def _render(name, system="Linux", **inventory):
    variables = _trusted(_load("defaults", "main.yml"))
    variables.update(_trusted(_load("vars", "main.yml")))
    # The mode errors come from the qube_mode_errors filter (tested in test_modes_filter.py); here
    # they are given, as the list that filter returns.
    variables["__qube_worker_mode_errors"] = []
    variables.update(inventory)
    if system is not None:
        variables["ansible_facts"] = {"system": system}
    return Templar(loader=DataLoader(), variables=variables).template(trust_as_template("{{ %s }}" % name))


@pytest.mark.parametrize("system, qbdir, record, cache", [
    ("Linux", "/usr/local/pfx/qube", "/var/lib/renderfarm-qube/worker_mode.json", "/var/cache/renderfarm-qube/packages"),
    ("Darwin", "/Applications/pfx/qube", "/Library/Application Support/renderfarm-qube/worker_mode.json",
     "/Library/Caches/renderfarm-qube/packages"),
    ("Win32NT", "C:\\Program Files\\pfx\\qube", "C:\\ProgramData\\renderfarm-qube\\worker_mode.json",
     "C:\\ProgramData\\renderfarm-qube\\packages"),
])
def test_os_values_follow_the_system(system, qbdir, record, cache):
    assert _render("__qube_worker_mode_qbdir_default", system) == qbdir
    assert _render("__qube_worker_mode_record", system) == record
    assert _render("__qube_worker_mode_package_cache", system) == cache


def test_root_group_on_posix_and_inventory_qbdir_wins():
    assert _render("__qube_worker_mode_root_group", "Linux") == "root"
    assert _render("__qube_worker_mode_root_group", "Darwin") == "wheel"
    assert _render("__qube_worker_mode_qbdir", "Linux") == "/usr/local/pfx/qube"
    assert _render("__qube_worker_mode_qbdir", "Linux", qube_qbdir="/opt/qube") == "/opt/qube"


@pytest.mark.parametrize("system, settings, entry", [
    (None, {}, "facts.yml"),
    (None, {"qube_worker_mode": "desktop", "qube_desktop_user": "artist"}, "facts.yml"),
    ("Linux", {}, "mode_Linux.yml"),
    ("Darwin", {}, "mode_Darwin.yml"),
    ("Win32NT", {}, "mode_Win32NT.yml"),
    # Service mode with a desktop user (cleanup after a flip): nothing to look up first.
    ("Linux", {"qube_desktop_user": "artist"}, "mode_Linux.yml"),
    ("Linux", {"qube_worker_mode": "desktop", "qube_desktop_user": "artist"}, "validate_then_apply.yml"),
    ("Linux", {"__qube_worker_mode_errors": ["host w1: qube_worker_mode is 'kiosk'; ..."]}, "validate_then_apply.yml"),
])
def test_main_includes_one_file_per_host(system, settings, entry):
    assert _render("__qube_worker_mode_entry", system, **settings) == entry
    assert os.path.isfile(os.path.join(ROLE, "tasks", entry))


def test_the_assert_reads_the_errors_variable():
    tasks = _load("tasks", "check.yml")
    assert tasks[-1]["ansible.builtin.assert"] == {
        "that": "__qube_worker_mode_errors | length == 0",
        "fail_msg": "{{ __qube_worker_mode_errors | join(' ') }}", "quiet": True}
    assert "renderfarm.qube.qube_mode_errors(" in _load("vars", "main.yml")["__qube_worker_mode_errors"]


SERVICE_RESULT = {"changed": False, "mode": "service", "job_flags_required": [], "install_needed": False,
                  "installed_before": True, "restart_needed": False}


def test_facts_before_the_role_ran_are_the_inventory_mode():
    assert _render("qube_worker_mode_effective", qube_worker_mode="desktop") == "desktop"
    assert _render("qube_worker_mode_job_flags_required") == []
    assert _render("qube_worker_installed_this_run") is False


def test_facts_come_from_the_qube_worker_mode_result_on_a_converged_worker():
    first = dict(SERVICE_RESULT, mode="desktop")
    assert _render("qube_worker_mode_effective", __qube_worker_mode_first=first) == "desktop"
    assert _render("qube_worker_mode_job_flags_required", __qube_worker_mode_first=first) == []
    assert _render("qube_worker_installed_this_run", __qube_worker_mode_first=first) is False


@pytest.mark.parametrize("installed_before, package_changed, fresh", [
    (False, True, True), (True, True, False), (False, False, False)])
def test_after_an_installation_the_second_call_counts(installed_before, package_changed, fresh):
    first = dict(SERVICE_RESULT, install_needed=True, installed_before=installed_before, mode="service")
    second = dict(SERVICE_RESULT, mode="desktop", job_flags_required=["flag"])
    inputs = {"__qube_worker_mode_first": first, "__qube_worker_mode_second": second,
              "__qube_worker_mode_package_changed": package_changed}
    assert _render("qube_worker_mode_effective", **inputs) == "desktop"
    assert _render("qube_worker_mode_job_flags_required", **inputs) == ["flag"]
    assert _render("qube_worker_installed_this_run", **inputs) is fresh


def test_only_an_install_or_a_restart_runs_more_tasks():
    tasks = _load("tasks", "mode_Linux.yml")
    assert len(tasks) == 2
    assert tasks[1]["when"] == "__qube_worker_mode_first.install_needed or __qube_worker_mode_first.restart_needed"
    finish = _load("tasks", "finish_Linux.yml")
    assert finish[-1]["notify"] == "Qube worker restart"
    assert finish[-1]["changed_when"] == "__qube_worker_mode_applied.restart_needed"
    assert sorted(finish[-1]["ansible.builtin.set_fact"]) == sorted(
        ["qube_worker_mode_effective", "qube_worker_mode_job_flags_required", "qube_worker_installed_this_run"])


def test_the_one_include_carries_the_qube_mode_tag_to_its_tasks():
    """docs/installing.md: --tags qube_mode validates, installs and applies the mode."""
    include = _load("tasks", "main.yml")[0]["ansible.builtin.include_tasks"]
    assert include == {"file": "{{ __qube_worker_mode_entry }}", "apply": {"tags": ["qube_mode"]}}

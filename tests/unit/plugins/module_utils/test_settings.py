# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inventory variables -> Qube! keys, placement and validation messages."""

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.settings import (
    PASSWORD_PLACEHOLDER, SettingsError, detect_os, fill_secrets, host_settings, validate_farm,
    validate_host,
)

HASH = "06dee4e09a917474ea788e4f5c105bc505cf8a5629be461d3415fe60cbbbba6a"


def test_typed_variables_become_keys_placed_local_and_central():
    result = host_settings("w01.example.com", {
        "inventory_hostname": "w01.example.com", "ansible_system": "Linux",
        "qube_supervisor": "sup01", "qube_worker_port": 50011, "qube_worker_lookup": ["local", "supervisor"],
        "qube_bootstrap_settings": {"worker_boot_delay": 5},
        "qube_worker_cpus": "4", "qube_worker_groups": ["gpu", "nuke"], "qube_worker_cluster": "/farm",
        "qube_worker_restrictions": ["/farm", "/farm/+"], "qube_worker_properties": {"ram": 64},
        "qube_worker_resources": {"host.gpu": 2}, "qube_worker_flags": ["auto_remove"],
        "qube_worker_template_path": ["/opt/types", "/usr/local/pfx/qube/types"],
        "qube_worker_logmode": "mounted", "qube_worker_settings": {"worker_heartbeat_interval": 60},
        "qube_config_placement_overrides": {"worker_cpus": "local"},
    })
    assert result["name"] == "w01" and result["os"] == "linux" and result["templates"] == []
    assert result["local"] == {"qb_supervisor": "sup01", "worker_port": 50011, "worker_boot_delay": 5,
                               "worker_lookup": ["local", "supervisor"], "worker_cpus": 4}
    central = result["central"]
    assert central["worker_restrictions"] == "/farm || /farm/+"
    assert central["worker_properties"] == {"host.ram": "64"}
    assert central["worker_resources"] == {"host.gpu": "2"}
    assert central["worker_flags"] == ["remove_logs", "auto_remove"]
    assert central["worker_template_path"] == "/opt/types:/usr/local/pfx/qube/types"
    assert central["worker_heartbeat_interval"] == 60
    assert result["remove_local"] == sorted(central)


def test_windows_flags_template_path_and_password_placeholder():
    result = host_settings("win01", {"ansible_connection": "winrm", "qube_proxy_account": "render",
                                     "qube_worker_flags": ["dynamic"], "qube_worker_host_domain": "CORP",
                                     "qube_worker_template_path": ["//srv/types", "C:/pfx/types"]})
    central = result["central"]
    assert result["os"] == "winnt"
    assert central["worker_flags"] == ["remove_logs", "load_profile", "auto_mount", "dynamic"]
    assert central["worker_template_path"] == "//srv/types;C:/pfx/types"
    assert central["proxy_password"] == PASSWORD_PLACEHOLDER + "render"
    assert fill_secrets(central, {"render": HASH})["proxy_password"] == HASH
    with pytest.raises(SettingsError, match="no proxy password hash for account 'render'"):
        fill_secrets(central, {}, "win01")
    user_mode = host_settings("win02", {"qube_os": "winnt", "qube_proxy_account": "render",
                                        "qube_proxy_execution_mode": "user"})
    assert "proxy_password" not in user_mode["central"]


def test_replace_defaults_and_local_placement():
    result = host_settings("m1", {"ansible_os_family": "Darwin", "qube_worker_flags": ["dynamic"],
                                  "qube_worker_flags_replace_defaults": True, "qube_config_placement": "local",
                                  "qube_worker_cpus": 2})
    assert result["os"] == "osx" and result["central"] == {} and result["remove_local"] == []
    assert result["local"] == {"worker_flags": ["dynamic"], "worker_cpus": 2}


@pytest.mark.parametrize("hostvars", [{}, {"ansible_system": "Linux"}, {"ansible_facts": {"system": "Linux"}}])
def test_detect_os_defaults_to_linux(hostvars):
    assert detect_os(hostvars) == "linux"


@pytest.mark.parametrize("hostvars,expected", [
    ({"qube_worker_cpus": "many"}, "w03: qube_worker_cpus must be an integer >= 0 (got 'many'). Set it to a "
                                   "number of job slots or 0 for all cores."),
    ({"qube_worker_cluster": "farm"}, "qube_worker_cluster must be a cluster path starting with /"),
    ({"qube_worker_logmode": "nfs"}, "qube_worker_logmode must be one of remote, mounted"),
    ({"qube_proxy_account": "CORP\\render"}, "put the domain in qube_worker_host_domain"),
    ({"qube_worker_flags": ["turbo"]}, "unknown flags turbo"),
    ({"qube_worker_port": 70000}, "between 1 and 65535"),
    ({"qube_worker_lookup": "remote"}, "must list local and/or supervisor"),
    ({"qube_worker_settings": {"worker_cpu": 2}}, "worker_cpu is not a documented Qube! key"),
    ({"qube_worker_settings": {"worker_cpus": 2}, "qube_worker_cpus": 2}, "worker_cpus is set twice"),
    ({"qube_bootstrap_settings": {"worker_cpus": 2}}, "is not a bootstrap key"),
    ({"qube_config_placement_overrides": {"qb_supervisor": "central"}, "qube_supervisor": "s"},
     "qb_supervisor is a bootstrap key"),
    ({"qube_worker_name": "w-03"}, "Set qube_worker_name for this host"),
    ({"qube_os": "windows"}, "qube_os must be one of linux, osx, winnt"),
    ({"qube_worker_templates": ["gpu"]}, "'gpu', which is not defined in qube_templates"),
    ({"qube_worker_drive_map": [{"drive": "X:", "path": "\\\\s\\x"}]}, "only works on Windows"),
    ({"qube_os": "winnt", "qube_worker_drive_map": [{"drive": "X", "path": "\\\\s\\x"}]},
     "qube_worker_drive_map is malformed"),
    ({"qube_os": "winnt", "qube_worker_drive_map": [{"drive": "X:", "path": "C:\\x"}]}, "not a UNC path"),
    ({"qube_os": "winnt", "qube_worker_flags": ["dynamic"], "qube_worker_flags_replace_defaults": True,
      "qube_worker_drive_map": {"X:": "\\\\s\\x"}}, "needs the auto_mount flag"),
])
def test_each_problem_names_variable_host_and_fix(hostvars, expected):
    errors = validate_host("w03", hostvars)
    assert any(expected in error for error in errors), errors
    assert all(error.startswith("w03") for error in errors)
    with pytest.raises(SettingsError):
        host_settings("w03", hostvars)


def test_unknown_keys_can_be_opted_in():
    hostvars = {"qube_worker_settings": {"worker_process_timeout": 30},
                "qube_allow_unknown_keys": ["worker_process_timeout"]}
    assert host_settings("a", hostvars)["central"] == {"worker_process_timeout": 30}


def test_secrets_are_refused_and_never_echoed():
    for hostvars in ({"qube_worker_settings": {"proxy_password": "Sup3rSecret"}},
                     {"qube_bootstrap_settings": {"proxy_password": "Sup3rSecret"}},
                     {"qube_os": "winnt", "qube_worker_drive_map": [
                         {"drive": "X:", "path": "\\\\s\\x", "user": "u", "password": "Sup3rSecret"}]},
                     {"qube_os": "winnt", "qube_worker_drive_map": [
                         {"drive": "X", "path": "\\\\s\\x", "user": "u", "password_hash": "Sup3rSecret"}]}):
        errors = validate_host("w1", hostvars)
        assert errors and not any("Sup3rSecret" in error for error in errors), errors


def test_group_settings_apply_and_conflicts_are_reported():
    groups = {"gpu": {"qube_worker_cpus": 2, "qube_worker_groups": ["gpu"]}, "big": {"qube_worker_cpus": 8},
              "same": {"qube_worker_groups": ["gpu"]}}
    ok = host_settings("a", {"group_names": ["gpu", "same"], "qube_group_settings": groups})
    assert ok["central"] == {"worker_cpus": 2, "worker_groups": ["gpu"]}
    errors = validate_host("b", {"group_names": ["gpu", "big"], "qube_group_settings": groups})
    assert errors == ["b: groups gpu and big set qube_worker_cpus to different values. Set qube_worker_cpus "
                      "for this host in host_vars or make the groups agree."]
    own = host_settings("c", {"group_names": ["gpu", "big"], "qube_group_settings": groups,
                              "qube_worker_cpus": 1})
    assert own["central"]["worker_cpus"] == 1
    assert "not a renderfarm.qube variable" in validate_host(
        "d", {"group_names": ["x"], "qube_group_settings": {"x": {"worker_cpus": 1}}})[0]


def test_validate_farm_lists_every_problem_at_once():
    templates = {"gpu": {"worker_groups": ["gpu"]}, "default": {}, "bad": {"qb_supervisor": "x"}}
    farm = {
        "w1.a": {"inventory_hostname": "w1.a", "qube_templates": templates, "qube_worker_cpus": -1},
        "w1.b": {"inventory_hostname": "w1.b", "qube_templates": templates},
        "gpu": {"inventory_hostname": "gpu", "qube_templates": templates},
        "x": {"inventory_hostname": "x", "qube_templates": {}, "qube_worker_templates": ["nope"]},
    }
    errors = validate_farm(farm)
    joined = "\n".join(errors)
    for expected in ("w1.a: qube_worker_cpus must be an integer >= 0", "x: qube_worker_templates names 'nope'",
                     "qube_templates differs between hosts", "qube_templates: 'default' is not a usable",
                     "qube_templates.bad.qb_supervisor: qb_supervisor cannot go in qbwrk.conf templates",
                     "w1.a, w1.b: these hosts share the qbwrk.conf section name 'w1'",
                     "gpu: the section name 'gpu' is also a template name"):
        assert expected in joined, joined
    assert validate_farm({"a": {}, "b": {"qube_worker_cpus": 3}}) == []


def test_unknown_placement_is_reported_not_raised():
    errors = validate_host("w01", {"qube_config_placement": "remote", "qube_worker_cpus": 2})
    assert any("qube_config_placement" in e for e in errors)
    override_errors = validate_host(
        "w01", {"qube_config_placement_overrides": {"worker_cpus": "remote"}, "qube_worker_cpus": 2})
    assert override_errors  # an unknown per-key placement is refused, not a KeyError

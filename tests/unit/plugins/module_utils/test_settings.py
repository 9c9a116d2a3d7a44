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
                               "worker_lookup": ["local", "supervisor"], "worker_cpus": 4,
                               # CPR worker_template_path.md + KB: kept local, never in qbwrk.conf
                               "worker_template_path": "/opt/types:/usr/local/pfx/qube/types"}
    central = result["central"]
    assert central["worker_restrictions"] == "/farm || /farm/+"
    assert central["worker_properties"] == {"host.ram": "64"}
    assert central["worker_resources"] == {"host.gpu": "2"}
    assert central["worker_flags"] == ["remove_logs", "auto_remove"]
    assert central["worker_heartbeat_interval"] == 60
    assert result["remove_local"] == sorted(central)


def test_windows_flags_template_path_and_password_placeholder():
    result = host_settings("win01", {"ansible_connection": "winrm", "qube_proxy_account": "render",
                                     "qube_worker_flags": ["dynamic"], "qube_worker_host_domain": "CORP",
                                     "qube_worker_template_path": ["C:/Program Files/pfx/qube/types", "//srv/types"]})
    central = result["central"]
    assert result["os"] == "winnt"
    assert central["worker_flags"] == ["remove_logs", "load_profile", "auto_mount", "dynamic"]
    assert result["local"]["worker_template_path"] == "C:/Program Files/pfx/qube/types;//srv/types"
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
    ({"qube_worker_name": ""}, "qube_worker_name must be the non-empty name"),
    ({"qube_config_placement_overrides": {"client_logpath": "central"}, "qube_worker_settings": {"client_logpath": "/l"}},
     "client_logpath is a client key; clients read only their local qb.conf"),
    ({"qube_config_placement_overrides": {"worker_template_path": "central"},
      "qube_worker_template_path": ["/usr/local/pfx/qube/types"]}, "worker_template_path is kept in the local qb.conf"),
    ({"qube_worker_template_path": ["/mnt/jobtypes"]}, "does not contain the local job types folder /usr/local/pfx/qube/types"),
    ({"qube_os": "winnt", "qube_worker_template_path": ["C:/Program Files/pfx/qube/types", "\\\\srv\\types"]},
     "uses backslashes"),
    ({"qube_os": "winnt", "qube_proxy_account": "r", "qube_config_placement_overrides": {"proxy_password": "local"}},
     "proxy_password cannot be placed local on a Windows worker"),
    ({"qube_os": "winnt", "qube_proxy_account": "r", "qube_worker_lookup": ["local"]},
     "never reads qbwrk.conf, where its encrypted proxy_password goes"),
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


def test_client_keys_stay_local_even_with_central_placement():
    """Clients read only their local qb.conf (administrators-guide/configuring-qube/Client+Configuration.md)."""
    result = host_settings("w1", {"qube_worker_settings": {"client_logpath": "/mnt/logs", "worker_cpus": 2}})
    assert result["local"] == {"client_logpath": "/mnt/logs"}
    assert result["central"] == {"worker_cpus": 2}
    assert "client_logpath" not in result["remove_local"]


def test_template_path_with_the_qbdir_macro_or_a_custom_qb_directory():
    ok = host_settings("w1", {"qube_worker_template_path": ["$QBDIR/types", "/mnt/jt"]})
    assert ok["local"]["worker_template_path"] == "$QBDIR/types:/mnt/jt"
    custom = host_settings("w1", {"qube_bootstrap_settings": {"qb_directory": "/apps/pfx/qube"},
                                  "qube_worker_template_path": ["/apps/pfx/qube/types/", "/mnt/jt"]})
    assert custom["local"]["worker_template_path"] == "/apps/pfx/qube/types/:/mnt/jt"
    mac = validate_host("m1", {"qube_os": "osx", "qube_worker_template_path": ["/usr/local/pfx/qube/types"]})
    assert any("/Applications/pfx/qube/types" in error for error in mac)
    win = host_settings("w2", {"qube_os": "winnt", "qube_worker_template_path": ["c:/program files/PFX/qube//types"]})
    assert "worker_template_path" in win["local"]


def test_windows_proxy_password_is_always_central():
    """qb.conf on Windows is read by clients and Desktop User workers: the encrypted password goes to qbwrk.conf."""
    result = host_settings("win1", {"qube_os": "winnt", "qube_proxy_account": "render", "qube_config_placement": "local"})
    assert result["central"] == {"proxy_password": PASSWORD_PLACEHOLDER + "render"}
    assert "proxy_password" not in result["local"] and result["local"]["proxy_account"] == "render"


@pytest.mark.parametrize("os_name", ["linux", "osx"])
def test_desktop_mode_points_the_worker_paths_into_the_desktop_folder(os_name):
    """The desktop user cannot write /var/log/workerlog, /var/spool/qube, ... (CPR worker_logfile.md etc.)."""
    desktop = host_settings("d1", {"qube_os": os_name, "qube_worker_mode": "desktop", "qube_desktop_user": "artist",
                                   "qube_config_placement": "central"})
    assert desktop["local"] == {"worker_logfile": "/var/spool/qube/desktop/workerlog",
                                "worker_logpath": "/var/spool/qube/desktop",
                                "worker_journal_location": "/var/spool/qube/desktop/worker.jnl",
                                "worker_pidfile": "/var/spool/qube/desktop/worker.pid"}
    assert desktop["central"] == {} and desktop["remove_local_values"] == {}
    own = host_settings("d1", {"qube_os": os_name, "qube_worker_mode": "desktop", "qube_desktop_worker_dir": "/srv/dw/",
                               "qube_worker_logpath": "/mnt/joblogs"})
    assert own["local"]["worker_logpath"] == "/mnt/joblogs" and own["local"]["worker_logfile"] == "/srv/dw/workerlog"
    bad = validate_host("d1", {"qube_os": os_name, "qube_worker_mode": "desktop",
                               "qube_config_placement_overrides": {"worker_logfile": "central"}})
    assert any("worker_logfile is a Desktop User mode path" in error for error in bad), bad


def test_service_mode_takes_back_exactly_the_desktop_paths():
    service = host_settings("s1", {"qube_worker_logpath": "/mnt/joblogs"})
    assert service["remove_local_values"] == {"worker_logfile": "/var/spool/qube/desktop/workerlog",
                                              "worker_journal_location": "/var/spool/qube/desktop/worker.jnl",
                                              "worker_pidfile": "/var/spool/qube/desktop/worker.pid"}
    windows = host_settings("w1", {"qube_os": "winnt", "qube_worker_mode": "desktop", "qube_desktop_user": "artist"})
    assert "worker_logfile" not in windows["local"]


def test_section_names_matter_only_for_hosts_that_need_a_section():
    """qbwrk_conf+File+Format.md limits section names only; render-01 with nothing of its own is fine."""
    base = {"qube_proxy_password": "x"}
    farm = {"render-01": dict(base, qube_worker_cpus=2), "render02": dict(base, qube_worker_cpus=2)}
    assert validate_farm(farm) == []
    local = {"render-01": dict(base, qube_worker_cpus=3, qube_config_placement="local"),
             "render02": dict(base, qube_worker_cpus=2)}
    assert validate_farm(local) == []
    differs = {"render-01": dict(base, qube_worker_cpus=3), "render02": dict(base, qube_worker_cpus=2)}
    errors = validate_farm(differs)
    assert len(errors) == 1 and errors[0].startswith("render-01: the qbwrk.conf section name 'render-01'")
    assert "Set qube_worker_name" in errors[0]
    templated = {"render-01": dict(base, qube_worker_templates=["gpu"], qube_templates={"gpu": {"worker_groups": "gpu"}}),
                 "render02": dict(base, qube_templates={"gpu": {"worker_groups": "gpu"}})}
    assert any(error.startswith("render-01: the qbwrk.conf section name") for error in validate_farm(templated))


def test_a_local_key_that_a_template_of_the_host_sets_centrally_is_refused():
    """No contradictory output: with worker_lookup local,supervisor the template's value would win."""
    templates = {"gpu": {"worker_cpus": 8, "worker_groups": "gpu"}}
    errors = validate_host("w1", {"qube_templates": templates, "qube_worker_templates": ["gpu"],
                                  "qube_worker_cpus": 2, "qube_config_placement_overrides": {"worker_cpus": "local"}})
    assert errors == ["w1: worker_cpus placed in the local qb.conf, but template 'gpu' (qube_worker_templates) sets "
                      "it in qbwrk.conf, which wins with worker_lookup local,supervisor. Remove it from the "
                      "template, or place it central for this host."]
    # Local wins when the host says so (worker_lookup supervisor,local): no contradiction.
    assert validate_host("w1", {"qube_templates": templates, "qube_worker_templates": ["gpu"], "qube_worker_cpus": 2,
                                "qube_worker_lookup": ["supervisor", "local"],
                                "qube_config_placement_overrides": {"worker_cpus": "local"}}) == []


def test_farm_wide_settings_are_checked_like_template_values():
    from ansible_collections.renderfarm.qube.plugins.module_utils.settings import farm_wide_values, validate_farm_wide
    assert validate_farm_wide({"default": {"worker_logmode": "remote"}, "linux": {"worker_flags": ["remove_logs"]}}) == []
    problems = validate_farm_wide({"default": {"qb_supervisor": "s", "worker_logmode": "nfs", "worker_cpu": 2},
                                   "windows": {}, "linux": {"proxy_password": "x"}})
    assert any("qube_farm_wide_settings.default.qb_supervisor: qb_supervisor cannot go in qbwrk.conf" in p for p in problems)
    assert any("qube_farm_wide_settings.default.worker_logmode must be one of remote, mounted" in p for p in problems)
    assert any("qube_farm_wide_settings.default.worker_cpu is not a documented Qube! key" in p for p in problems)
    assert any("[windows] is not a farm-wide section" in p for p in problems)
    assert any("qube_farm_wide_settings.linux.proxy_password: proxy_password cannot go in qbwrk.conf (secret)" in p
               for p in problems)
    assert farm_wide_values({"default": {"worker_properties": {"ram": 64}}}) == {"default": {"worker_properties": {"host.ram": "64"}}}
    farm = {"w1": {"qube_farm_wide_settings": {"default": {"worker_cpus": 2}}, "qube_worker_cpus": 3,
                   "qube_config_placement": "local"}}
    assert any("qube_farm_wide_settings.default sets it in qbwrk.conf" in e for e in validate_farm(farm))


def test_a_bad_farm_wide_drive_map_is_refused_without_showing_its_value():
    from ansible_collections.renderfarm.qube.plugins.module_utils.settings import validate_farm_wide
    value = [{"drive": "X", "path": "\\\\s\\x", "user": "u", "password_hash": "0fbc8b1292109"}]
    problems = validate_farm_wide({"winnt": {"worker_drive_map": value}})
    assert problems and "worker_drive_map is malformed" in problems[0] and "0fbc8b1292109" not in repr(problems)

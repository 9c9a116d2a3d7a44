# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/preflight.py: every controller-side check, one test each."""

import os

import pytest
import yaml

from ansible_collections.renderfarm.qube.plugins.module_utils import preflight

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
GOOD = {"qube_proxy_password": "a-real-secret", "group_names": ["qube_workers"]}
KNOWN = preflight.known_variables(["qube_worker_package_files", "qube_validation_paths"])


def problems(**variables):
    """Problems of one Linux host ``r1`` with GOOD plus ``variables``."""
    hostvars = dict(GOOD, **variables)
    return preflight.validate_farm({"r1": hostvars}, known=KNOWN)


def one(**variables):
    errors = problems(**variables)
    assert len(errors) == 1, errors
    return errors[0]


def test_good_host_has_no_problems():
    assert problems() == []


def test_defaults_equal_the_role_defaults():
    """DEFAULTS repeats the roles' defaults; they must not drift apart."""
    role_defaults = {}
    for role in ("identity", "worker_mode"):
        with open(os.path.join(REPO, "roles", role, "defaults", "main.yml")) as handle:
            role_defaults.update(yaml.safe_load(handle))
    for var, value in preflight.DEFAULTS.items():
        assert role_defaults[var] == value, var


def test_settings_problems_are_included():
    assert one(qube_worker_cpus="many").startswith("r1: qube_worker_cpus must be an integer")


@pytest.mark.parametrize("var,value,fragment", [
    ("qube_allow_privileged_identity", "maybe", "qube_allow_privileged_identity must be true or false"),
    ("qube_desktop_user", 5, "qube_desktop_user must be a string"),
    ("qube_update_password", "never", "qube_update_password must be one of always, on_create"),
    ("qube_validation_timeout", 0, "qube_validation_timeout must be a whole number of seconds > 0"),
    ("qube_ad_check", "dc1", "qube_ad_check must be a dict"),
])
def test_types_and_choices(var, value, fragment):
    assert fragment in one(**{var: value})


def test_yes_and_no_strings_are_booleans():
    assert problems(qube_worker_install="yes", qube_proxy_account_manage="no") == []


def test_mode_unknown():
    assert "host r1: qube_worker_mode is 'kiosk'" in one(qube_worker_mode="kiosk")


def test_desktop_without_user():
    assert "qube_desktop_user is not set" in one(qube_worker_mode="desktop")


def test_desktop_user_existence_is_left_to_the_host():
    assert problems(qube_worker_mode="desktop", qube_desktop_user="nobody-here") == []


def test_windows_desktop_with_user_mode():
    errors = problems(qube_os="winnt", qube_worker_install=False, qube_worker_mode="desktop",
                      qube_desktop_user="artist", qube_proxy_execution_mode="user")
    assert any("qube_proxy_execution_mode is 'user' with qube_worker_mode 'desktop'" in e for e in errors)


def test_auto_logon_password_must_be_vaulted():
    base = dict(qube_os="winnt", qube_worker_install=False, qube_worker_mode="desktop",
                qube_desktop_user="artist", qube_windows_auto_logon=True)
    hostvars = dict(GOOD, qube_windows_auto_logon_password="Plain-123", **base)
    errors = preflight.validate_farm({"r1": hostvars}, is_vaulted=lambda value: False)
    assert len(errors) == 1 and "must come from Ansible Vault" in errors[0]
    assert "Plain-123" not in errors[0]
    assert preflight.validate_farm({"r1": hostvars}, is_vaulted=lambda value: value == "Plain-123") == []


def test_package_files_must_be_a_list():
    assert "qube_worker_package_files must be a list" in one(qube_worker_package_files="/x.deb")


def test_password_missing_for_a_managed_local_account():
    errors = preflight.validate_farm({"r1": {}})
    assert errors == ["r1: qube_proxy_password is not set, but the role creates the local proxy account "
                      "'qubeproxy' with it. Set qube_proxy_password from Ansible Vault."]


@pytest.mark.parametrize("variables", [
    {"qube_worker_host_domain": "MYCORP", "qube_proxy_account": "renderproxy"},
    {"qube_proxy_account_manage": False},
    {"qube_proxy_execution_mode": "user", "qube_user_mode_users": ["alice"]},
    {"qube_worker_mode": "desktop", "qube_desktop_user": "artist"},
])
def test_password_not_needed_without_a_managed_local_account(variables):
    assert preflight.validate_farm({"r1": variables}) == []


def test_password_missing_on_windows_with_an_ad_account():
    errors = preflight.validate_farm({"w1": {"ansible_connection": "winrm", "qube_worker_install": False,
                                             "qube_worker_host_domain": "MYCORP"}})
    assert len(errors) == 1 and "the Windows worker registers it" in errors[0]


def test_vendor_default_password_refused_and_not_shown():
    error = one(qube_proxy_password=preflight.PUBLISHED_DEFAULT_PASSWORD)
    assert "qube_proxy_password is the vendor's published default password" in error
    assert preflight.PUBLISHED_DEFAULT_PASSWORD not in error


def test_empty_password_refused():
    assert "qube_proxy_password must be a non-empty string (value not shown)" in one(qube_proxy_password="")


@pytest.mark.parametrize("account", ["root", "Administrator", "wheel", "sudo", "admin", "Domain Admins"])
def test_privileged_proxy_account(account):
    assert "qube_proxy_account is %r, a privileged account" % account in one(qube_proxy_account=account)


def test_privileged_identity_allowed_when_asked():
    assert problems(qube_proxy_account="root", qube_allow_privileged_identity=True) == []


def test_privileged_user_mode_submitter_and_desktop_user():
    assert "qube_user_mode_users is 'root'" in one(qube_proxy_execution_mode="user",
                                                   qube_user_mode_users=["alice", "root"])
    assert "qube_desktop_user is 'root'" in one(qube_worker_mode="desktop", qube_desktop_user="root")


def test_ad_name_forms():
    assert "must be a bare user name" in one(qube_proxy_account="MYCORP\\renderproxy",
                                             qube_worker_host_domain="MYCORP")
    assert "must be a bare user name" in one(qube_proxy_account="renderproxy@mycorp.test")
    assert "qube_worker_host_domain 'MYCORP\\\\x' must be the bare domain" in one(
        qube_worker_host_domain="MYCORP\\x")


def test_ad_check_without_domain():
    assert "qube_ad_check is set but qube_worker_host_domain is empty" in one(qube_ad_check={"server": "dc1"})


def test_unknown_execution_mode_reported_once():
    error = one(qube_proxy_execution_mode="sudo")
    assert error.startswith("r1: qube_proxy_execution_mode must be one of proxy, user")


@pytest.mark.parametrize("paths", [["renders"], "/srv/renders", [5]])
def test_validation_paths_absolute_list(paths):
    assert "qube_validation_paths must be a list of absolute paths" in one(qube_validation_paths=paths)


def test_validation_paths_windows():
    hostvars = dict(GOOD, qube_os="winnt", qube_worker_install=False)
    assert preflight.validate_farm({"w1": dict(hostvars, qube_validation_paths=["C:\\renders"])}) == []
    errors = preflight.validate_farm({"w1": dict(hostvars, qube_validation_paths=["/srv/renders"])})
    assert len(errors) == 1 and "qube_validation_paths" in errors[0]


def test_user_mode_needs_submitters():
    assert "qube_user_mode_users is empty" in one(qube_proxy_execution_mode="user")
    errors = preflight.validate_farm({"w1": {"qube_os": "winnt", "qube_worker_install": False,
                                             "qube_proxy_execution_mode": "user"}})
    assert len(errors) == 1 and "qube_windows_user_passwords is empty" in errors[0]


def test_windows_user_password_entries():
    errors = problems(qube_windows_user_passwords=[{"name": "bob"}, {"password": "Hidden-1"},
                                                   {"name": "eve", "password": preflight.PUBLISHED_DEFAULT_PASSWORD}])
    assert errors[0] == ("r1: qube_windows_user_passwords[0] (bob) has no password. Add the user's password "
                         "from Ansible Vault.")
    assert "qube_windows_user_passwords[1] has no name" in errors[1]
    assert "qube_windows_user_passwords[2].password is the vendor's published default" in errors[2]
    assert len(errors) == 3 and "Hidden-1" not in " ".join(errors)


def test_unknown_variable():
    assert one(qube_worker_cpu=2).startswith("r1: qube_worker_cpu is not a renderfarm.qube variable")
    assert preflight.validate_farm({"r1": dict(GOOD, qube_worker_cpu=2)}) == []  # known=None skips it


def test_every_problem_of_every_host_at_once():
    farm = {"a1": dict(GOOD, qube_worker_cpus="x", qube_proxy_account="root"),
            "a2": {"qube_worker_mode": "desktop"},
            "a3": dict(GOOD, qube_validation_paths=["rel"])}
    errors = preflight.validate_farm(farm, known=KNOWN)
    assert [e.split(":")[0] for e in errors] == ["a1", "a1", "host a2", "a3"]


def test_unknown_placement_reported_even_where_the_settings_check_raises():
    """settings.py raises KeyError for qube_config_placement: remote; every host is still checked."""
    farm = {"r1": dict(GOOD, qube_config_placement="remote"), "r2": dict(GOOD, qube_worker_cpus="x")}
    errors = preflight.validate_farm(farm)
    assert errors[0].startswith("r1: qube_config_placement must be central or local (got 'remote')")
    assert any(e.startswith("r2: qube_worker_cpus must be an integer") for e in errors)

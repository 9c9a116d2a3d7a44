# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""filter/converged.py: which workers the converged record covers, and an inputs digest that moves
with everything the roles decide a worker's state from (never with a run control), with no
secret in clear in what it digests."""

import glob
import hashlib
import json
import os

import pytest

from ansible_collections.renderfarm.qube.plugins.filter import converged as filt

import role_vars

SECRET = "Sup3r-s3cret-Pa55"


def hostvars(**extra):
    variables = {"ansible_facts": {"system": "Linux"}, "group_names": ["qube_workers", "render_a"],
                 "qube_supervisor": "qube-sup.example", "qube_worker_cpus": 8, "qube_proxy_password": SECRET}
    variables.update(extra)
    return variables


def spec(**extra):
    return filt.converged_spec(hostvars(**extra), "w01", collection="collection-1")


def digest(variables, collection="collection-1"):
    return filt.inputs_digest(variables, "w01", collection)


# Eligibility ----------------------------------------------------------------------------------

def test_a_linux_service_local_proxy_on_change_worker_is_covered():
    result = spec()
    assert result["eligible"] is True and result["why"] == ""
    assert result["inputs"] == digest(hostvars())
    assert result["state_dir"] == "/var/lib/renderfarm-qube"
    assert result["files"][0] == filt.QB_CONF_PATH
    assert "/var/lib/renderfarm-qube" in result["trees"] and "/etc/systemd/system/worker.service.d" in result["trees"]
    assert result["accounts"] == ["qubeproxy"] and result["units"] == ["worker"]
    assert result["packages"] == ["qube-core", "qube-worker"]
    assert result["pending"] == ["/var/lib/renderfarm-qube/qb.conf.restart-pending"]
    assert result["proof"] == {"required": True, "path": "/var/lib/renderfarm-qube/identity_proof.json",
                               "max_age_hours": 20}


def test_what_the_look_digests_follows_the_inventory():
    result = spec(qube_qb_conf_path="/opt/pfx/qb.conf", qube_identity_state_dir="/srv/qube-state",
                  qube_worker_unit="qubeworker", qube_proxy_account="render",
                  qube_worker_package_files=["files/qube-core_8.0-1_amd64.deb", "files/qube-worker-8.0-1.x86_64.rpm"],
                  qube_validate_identity=False)
    assert result["files"][0] == "/opt/pfx/qb.conf"
    assert result["trees"] == ["/srv/qube-state", "/etc/systemd/system/qubeworker.service.d",
                               "/var/cache/renderfarm-qube/packages"]  # package files: their cache too
    assert result["accounts"] == ["qubeproxy", "render"]  # the vendor default is checked too
    assert result["units"] == ["qubeworker"]
    assert result["packages"] == ["qube-core", "qube-worker"]
    assert result["proof"]["required"] is False and result["proof"]["path"] == "/srv/qube-state/identity_proof.json"


def _covered(result, path):
    """Whether the look digests ``path``: listed as a file or under one of the trees."""
    return path in result["files"] or any(path == tree or path.startswith(tree.rstrip("/") + "/")
                                          for tree in result["trees"])


def _worker_mode_linux(key):
    return role_vars.load("roles", "worker_mode", "vars", "main.yml")["__qube_worker_mode_os_vars"]["Linux"][key]


def test_the_worker_mode_record_is_digested():
    assert _covered(spec(), _worker_mode_linux("record"))


def test_the_worker_mode_record_is_digested_with_the_state_folder_moved():
    assert _covered(spec(qube_identity_state_dir="/srv/qube-state"), _worker_mode_linux("record"))


def test_the_package_cache_is_digested_when_package_files_are_used():
    result = spec(qube_worker_package_files=["files/qube-core_8.0-1_amd64.deb", "files/qube-worker_8.0-1_amd64.deb"])
    assert _covered(result, _worker_mode_linux("package_cache") + "/qube-worker_8.0-1_amd64.deb")


@pytest.mark.parametrize("extra, why", [
    ({"qube_skip_converged": False}, "qube_skip_converged"),
    ({"qube_skip_converged": "false"}, "qube_skip_converged"),
    ({"qube_skip_converged": "no"}, "qube_skip_converged"),
    ({"ansible_facts": {"system": "Darwin"}}, "Darwin"),
    ({"ansible_facts": {"system": "Win32NT"}}, "Win32NT"),
    ({"ansible_facts": {}}, "unknown"),
    ({"qube_worker_mode": "desktop", "qube_desktop_user": "artist"}, "Desktop User mode"),
    ({"qube_proxy_execution_mode": "user", "qube_user_mode_users": ["artist"]}, "user-mode"),
    ({"qube_worker_host_domain": "MYCORP"}, "AD proxy account"),
    ({"qube_validate_cadence": "always"}, "qube_validate_cadence"),
])
def test_shapes_the_record_does_not_cover(extra, why):
    result = spec(**extra)
    assert result["eligible"] is False and why in result["why"], result
    assert result["state_dir"] == "/var/lib/renderfarm-qube"
    assert "inputs" not in result


@pytest.mark.parametrize("value", [True, "true", "yes"])
def test_qube_skip_converged_true_keeps_the_worker_covered(value):
    assert spec(qube_skip_converged=value)["eligible"] is True


def test_cadence_always_without_validation_is_covered():
    assert spec(qube_validate_cadence="always", qube_validate_identity=False)["eligible"] is True


def test_ansible_system_without_facts():
    variables = hostvars(ansible_system="Linux")
    del variables["ansible_facts"]
    assert filt.converged_spec(variables, "w01", collection="c")["eligible"] is True


# inputs_digest --------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("qube_supervisor", "other-sup.example"),
    ("qube_worker_cpus", 16),
    ("qube_worker_cpus", "8"),  # a type change is a change
    ("qube_new_setting", "x"),
    ("qube_worker_properties", {"host.gpu": 1}),
    ("qube_proxy_password", SECRET + "!"),
])
def test_any_qube_variable_change_changes_the_digest(key, value):
    assert digest(hostvars(**{key: value})) != digest(hostvars())


def test_a_removed_qube_variable_changes_the_digest():
    variables = hostvars()
    del variables["qube_worker_cpus"]
    assert digest(variables) != digest(hostvars())


def test_groups_system_and_collection_change_the_digest():
    base = digest(hostvars())
    assert digest(hostvars(group_names=["qube_workers"])) != base
    assert digest(hostvars(ansible_facts={"system": "Darwin"})) != base
    assert digest(hostvars(), collection="collection-2") != base
    assert digest(hostvars(group_names=["render_a", "qube_workers"])) == base  # order is not a change


def test_other_variables_do_not_change_the_digest():
    assert digest(hostvars(ansible_host="10.0.0.9", inventory_hostname="w01")) == digest(hostvars())


@pytest.mark.parametrize("name", filt.RUN_CONTROLS)
def test_run_controls_do_not_change_the_digest(name):
    base = digest(hostvars())
    assert digest(hostvars(**{name: 3})) == base
    assert digest(hostvars(**{name: "something else"})) == base


def test_the_digest_is_per_worker_only_through_the_secret_salt():
    assert filt.inputs_digest(hostvars(), "w01", "c") == filt.inputs_digest(hostvars(), "w01", "c")
    assert filt.inputs_digest(hostvars(), "w01", "c") != filt.inputs_digest(hostvars(), "w02", "c")


USER_PASSWORDS = [{"name": "artist", "password": SECRET, "domain": "MYCORP"},
                  {"name": "comp", "password": "An0ther-s3cret"}]


class Digested(object):
    """hashlib for the filter module, keeping every text given to sha256 (what the digest covers)."""

    def __init__(self):
        self.texts = []

    def sha256(self, data=b""):
        self.texts.append(data)
        return hashlib.sha256(data)

    pbkdf2_hmac = staticmethod(hashlib.pbkdf2_hmac)


@pytest.mark.parametrize("key, value, plaintexts", [
    ("qube_proxy_password", SECRET, [SECRET]),
    ("qube_windows_user_passwords", USER_PASSWORDS, [SECRET, "An0ther-s3cret"]),
    ("qube_windows_service_password", SECRET, [SECRET]),
    ("qube_windows_auto_logon_password", SECRET, [SECRET]),
    ("qube_ldap_bind", {"user": "cn=qube", "password": SECRET}, [SECRET]),
    ("qube_api_secret", SECRET, [SECRET]),
])
def test_secrets_are_never_in_clear(monkeypatch, key, value, plaintexts):
    recorder = Digested()
    monkeypatch.setattr(filt, "hashlib", recorder)
    result = filt.converged_spec(hostvars(**{key: value}), "w01", collection="collection-1")
    dumped = json.dumps(result)
    assert recorder.texts, "the inputs were digested"
    for plaintext in plaintexts:
        assert plaintext not in dumped
        assert all(plaintext.encode("utf-8") not in text for text in recorder.texts), "%s digested in clear" % key


@pytest.mark.parametrize("change", [
    lambda p: [dict(p[0], password="Changed-1"), p[1]],
    lambda p: [p[0], dict(p[1], password="Changed-2")],
    lambda p: [dict(p[0], name="artist2"), p[1]],
])
def test_a_nested_password_change_still_changes_the_digest(change):
    base = digest(hostvars(qube_windows_user_passwords=USER_PASSWORDS))
    assert digest(hostvars(qube_windows_user_passwords=change(USER_PASSWORDS))) != base


class Raising(dict):
    """hostvars whose one variable does not template (HostVars templates on item access)."""

    def __getitem__(self, key):
        if key == "qube_broken":
            raise ValueError("'undefined_thing' is undefined")
        return dict.__getitem__(self, key)


def test_a_variable_that_does_not_template_gives_a_stable_digest():
    first = digest(Raising(hostvars(qube_broken="{{ undefined_thing }}")))
    assert first == digest(Raising(hostvars(qube_broken="{{ undefined_thing }}")))
    assert first != digest(hostvars())
    assert filt.converged_spec(Raising(hostvars(qube_broken="x")), "w01", collection="c")["eligible"] is True


# The defaults the look needs ------------------------------------------------------------------

def _role_defaults():
    found = {}
    for path in sorted(glob.glob(os.path.join(role_vars.REPO, "roles", "*", "defaults", "main.yml"))):
        role = path.split(os.sep)[-3]
        for key, value in (role_vars.load("roles", role, "defaults", "main.yml") or {}).items():
            found.setdefault(key, []).append((role, value))
    return found


@pytest.mark.parametrize("key", sorted(filt.DEFAULTS))
def test_every_default_is_the_roles_default(key):
    defined = _role_defaults().get(key)
    assert defined, "%s is in no role's defaults/main.yml" % key
    for role, value in defined:
        assert value == filt.DEFAULTS[key], "roles/%s/defaults/main.yml: %s is %r, the filter uses %r" % (
            role, key, value, filt.DEFAULTS[key])


def test_qube_skip_converged_defaults_to_true_as_the_filter_assumes():
    assert [value for _role, value in _role_defaults()["qube_skip_converged"]] == [True]


def test_the_qb_conf_path_is_worker_configs_linux_default():
    by_system = role_vars.load("roles", "worker_config", "vars", "main.yml")["__qube_worker_config_by_system"]
    assert filt.QB_CONF_PATH == by_system["Linux"]["qb_conf_path"]


def test_the_pending_marker_is_the_one_worker_config_and_worker_mode_leave():
    """The look's pending marker, spelled as the roles spell it: <qube_identity_state_dir>/qb.conf.restart-pending."""
    marker = spec(qube_identity_state_dir="/srv/qube-state")["pending"]
    assert marker == ["/srv/qube-state/qb.conf.restart-pending"]
    role_spelling = "{{ qube_identity_state_dir | default('/var/lib/renderfarm-qube') }}/qb.conf.restart-pending"
    assert role_vars.load("roles", "worker_config", "vars", "main.yml")[
        "__qube_worker_config_restart_pending_file"] == role_spelling
    assert role_vars.load("roles", "worker_mode", "vars", "main.yml")[
        "__qube_worker_mode_pending_file"] == role_spelling


# converged_hosts ------------------------------------------------------------------------------

def test_converged_hosts_picks_only_converged_true():
    looks = {
        "w01": {"__qube_preflight_host": {"converged": {"converged": True}}},
        "w02": {"__qube_preflight_host": {"converged": {"converged": False}}},
        "w03": {"__qube_preflight_host": {"converged": {"converged": "true"}}},
        "w04": {"__qube_preflight_host": {}},
        "w05": {},
        "w06": {"__qube_preflight_host": {"converged": {"converged": True}}},
    }
    assert filt.converged_hosts(looks, ["w06", "w01", "w02", "w03", "w04", "w05"]) == ["w06", "w01"]
    assert filt.converged_hosts(looks, []) == []


def test_the_filters_are_registered():
    assert sorted(filt.FilterModule().filters()) == ["qube_collection_digest", "qube_converged_hosts",
                                                     "qube_converged_spec"]


# collection_digest ----------------------------------------------------------------------------

@pytest.fixture
def collection(tmp_path, monkeypatch):
    monkeypatch.setattr(filt, "_COLLECTION_DIGEST", {})
    for top in ("roles/identity/tasks", "plugins/modules", "templates", "playbooks"):
        (tmp_path / top).mkdir(parents=True)
    (tmp_path / "roles/identity/tasks/main.yml").write_text("---\n- name: Identity\n")
    (tmp_path / "plugins/modules/qube_conf.py").write_text("print('x')\n")
    (tmp_path / "playbooks/site.yml").write_text("---\n")
    return tmp_path


def fresh_digest(monkeypatch, root):
    monkeypatch.setattr(filt, "_COLLECTION_DIGEST", {})
    return filt.collection_digest(root=str(root))


def test_collection_digest_changes_with_a_role_file(collection, monkeypatch):
    before = fresh_digest(monkeypatch, collection)
    assert fresh_digest(monkeypatch, collection) == before
    (collection / "roles/identity/tasks/main.yml").write_text("---\n- name: Identity, changed\n")
    assert fresh_digest(monkeypatch, collection) != before


def test_collection_digest_changes_with_a_new_or_renamed_file(collection, monkeypatch):
    before = fresh_digest(monkeypatch, collection)
    (collection / "templates/qb.conf.j2").write_text("")
    with_new = fresh_digest(monkeypatch, collection)
    assert with_new != before
    os.rename(str(collection / "templates/qb.conf.j2"), str(collection / "templates/qbwrk.conf.j2"))
    assert fresh_digest(monkeypatch, collection) not in (before, with_new)


def test_collection_digest_ignores_pycache_and_other_folders(collection, monkeypatch):
    before = fresh_digest(monkeypatch, collection)
    (collection / "plugins/modules/__pycache__").mkdir()
    (collection / "plugins/modules/__pycache__/qube_conf.cpython-311.pyc").write_bytes(b"\0\1")
    (collection / "plugins/modules/qube_conf.pyc").write_bytes(b"\0\2")
    (collection / "docs").mkdir()
    (collection / "docs/README.md").write_text("notes\n")
    assert fresh_digest(monkeypatch, collection) == before


def test_collection_digest_is_cached_per_root(collection):
    before = filt.collection_digest(root=str(collection))
    (collection / "roles/identity/tasks/main.yml").write_text("changed\n")
    assert filt.collection_digest(root=str(collection)) == before  # once per controller process
    assert filt.collection_digest("ignored input", root=str(collection)) == before


def test_a_new_build_of_a_package_file_under_the_same_name_is_a_new_input(tmp_path):
    package = tmp_path / "qube-worker_8.0-1_amd64.deb"
    package.write_bytes(b"build 1")
    variables = {"qube_worker_package_files": [str(package)]}
    before = digest(variables)
    package.write_bytes(b"build 2, larger")
    assert digest(variables) != before

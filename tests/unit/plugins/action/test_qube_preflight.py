# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_preflight: direct calls, and a real ansible-playbook run on localhost."""

import functools
import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.renderfarm.qube.plugins.action.qube_preflight import (
    ActionModule, is_vaulted, role_variables,
)


@pytest.fixture
def action(make_action):
    return functools.partial(make_action, ActionModule)


def test_ok_summary(action):
    hostvars = {"a1": {"qube_worker_cpus": 2, "qube_proxy_password": "s3cret-a1"},
                "w1": {"ansible_connection": "winrm", "qube_proxy_password": "s3cret-w1",
                       "qube_worker_install": False}}
    result = action({"hosts": ["a1", "w1"]}).run(task_vars={"hostvars": hostvars})
    assert not result.get("failed") and result["summary"]["hosts"] == 2
    assert result["summary"]["os"] == {"linux": 1, "osx": 0, "winnt": 1}
    assert result["msg"] == "qube_preflight: 2 host(s) checked, no problems (1 linux, 1 winnt)"


def test_all_errors_at_once(action):
    # a-2 needs a qbwrk.conf section of its own (its worker_cpus differs from a3's), so its name matters.
    hostvars = {"a1": {"qube_worker_cpus": "many", "qube_proxy_password": "pw"},
                "a-2": {"qube_proxy_password": "pw", "qube_worker_cpus": 2},
                "a3": {"qube_proxy_password": "pw", "qube_worker_cpus": 3}}
    result = action({"hosts": ["a1", "a-2", "a3", "ghost"]}).run(task_vars={"hostvars": hostvars})
    assert result["failed"] and len(result["errors"]) == 3
    assert result["errors"][0].startswith("ghost: not in the inventory")
    assert "3 problem(s)" in result["msg"] and "a1: qube_worker_cpus" in result["msg"]


def test_hosts_must_be_a_list(action):
    assert action({"hosts": 5}).run(task_vars={"hostvars": {}})["failed"]


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - renderfarm.qube.qube_preflight:
        hosts: "{{ groups.%s }}"
      register: preflight
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{ %s | to_json }}"
        dest: "{{ out }}"
"""


def run_play(tmp_path, group, result, options=()):
    """ansible-playbook runs qube_preflight on localhost over ``group`` of ``tmp_path/inventory.yml``
    (this checkout as renderfarm.qube); returns the process and the text of the JSON of ``result``."""
    (tmp_path / "play.yml").write_text(PLAY % (group, result))
    out = tmp_path / "result.json"
    collections = next(p for p in sys.path if "renderfarm-qube-pytest" in p)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                           "-i", str(tmp_path / "inventory.yml")] + list(options) +
                          [str(tmp_path / "play.yml"), "-e", "out=%s" % out],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out.read_text()


def test_real_playbook_run(tmp_path):
    """ansible-playbook resolves renderfarm.qube.qube_preflight and reads real hostvars."""
    (tmp_path / "inventory.yml").write_text(textwrap.dedent("""
        all:
          vars:
            qube_templates: {gpu: {worker_groups: [gpu]}}
            qube_proxy_password: not-the-default
          hosts:
            localhost: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
          children:
            workers:
              hosts:
                render01: {qube_worker_cpus: 4}
                render02: {qube_worker_templates: [gpu], qube_worker_cpus: "{{ 2 * 3 }}"}
                bad-03: {qube_worker_cpus: many, qube_worker_templates: [cpu], qube_worker_cpu: 2}
                bad04: {qube_proxy_password: "Pip3lin3P@$$wd", qube_worker_mode: desktop}
        """))
    result = json.loads(run_play(tmp_path, "workers", "preflight")[1])
    assert result["failed"]
    assert any("bad-03: qube_worker_cpus must be an integer >= 0 (got 'many')" in e for e in result["errors"])
    assert any("bad-03: qube_worker_templates names 'cpu'" in e for e in result["errors"])
    assert any("bad-03: the qbwrk.conf section name 'bad-03'" in e for e in result["errors"])
    assert any("bad-03: qube_worker_cpu is not a renderfarm.qube variable" in e for e in result["errors"])
    assert any("bad04: qube_proxy_password is the vendor's published default" in e for e in result["errors"])
    assert any("host bad04: qube_worker_mode is 'desktop' but qube_desktop_user" in e for e in result["errors"])
    assert not any(e.startswith("render0") for e in result["errors"]), [e for e in result["errors"] if e.startswith("render0")]
    assert "Pip3lin3" not in json.dumps(result)


def test_role_variables_cover_the_role_defaults():
    """Every role's public variables are known, so the unknown-name check does not refuse them."""
    names = role_variables()
    assert {"qube_worker_mode", "qube_proxy_account", "qube_validation_paths", "qube_workers_group"} <= names
    assert all(name.startswith("qube_") for name in names)


def test_is_vaulted_sees_inline_vault_values():
    from ansible.parsing.vault import EncryptedString, VaultSecret, VaultLib
    from ansible.parsing.vault import VaultSecretsContext

    secret = VaultSecret(b"test-only")
    ciphertext = VaultLib([("default", secret)]).encrypt("hidden").decode()
    if VaultSecretsContext.current(optional=True) is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets=[("default", secret)]))
    assert is_vaulted(EncryptedString(ciphertext=ciphertext))
    assert not is_vaulted("plain text")


def test_inline_vault_values_real_run(tmp_path):
    """Inline !vault passwords: accepted for auto-logon, and the vendor default is seen through them."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("test-only-vault\n")
    vault_pass.chmod(0o600)
    vault = VaultLib([("default", VaultSecret(b"test-only-vault"))])

    def inline(text):
        lines = vault.encrypt(text).decode().splitlines()
        return "!vault |\n" + "\n".join("            " + line for line in lines)

    (tmp_path / "inventory.yml").write_text(textwrap.dedent("""
        all:
          hosts:
            localhost: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
          children:
            qube_workers:
              hosts:
                v1:
                  qube_worker_install: false
                  qube_proxy_password: %s
                v2:
                  qube_os: winnt
                  qube_worker_install: false
                  qube_worker_mode: desktop
                  qube_desktop_user: artist
                  qube_windows_auto_logon: true
                  qube_windows_auto_logon_password: %s
                v3:
                  qube_worker_install: false
                  qube_proxy_password: %s
        """) % (inline("Real-Pass-1"), inline("Auto-Pass-2"), inline("Pip3lin3P@$$wd")))
    proc, text = run_play(tmp_path, "qube_workers", "preflight.errors | default([])",
                          ["--vault-password-file", str(vault_pass)])
    errors = json.loads(text)
    assert len(errors) == 1 and errors[0].startswith("v3: qube_proxy_password is the vendor's published default")
    for secret in ("Real-Pass-1", "Auto-Pass-2", "Pip3lin3"):
        assert secret not in proc.stdout + proc.stderr + text


def test_undefined_variable_is_one_problem_among_the_others(action):
    """A variable that cannot be templated is reported by name; the host's other checks still run."""
    from ansible.errors import AnsibleUndefinedVariable

    class LazyHostvars(dict):
        """Raises on access like HostVarsVars does for an undefined vault variable."""

        def __getitem__(self, key):
            if key == "qube_proxy_password":
                raise AnsibleUndefinedVariable("'vault_qube_proxy_password' is undefined")
            return dict.__getitem__(self, key)

    hostvars = {"r1": LazyHostvars(qube_proxy_password="{{ vault_qube_proxy_password }}", qube_worker_cpus="x")}
    result = action({"hosts": ["r1"]}).run(task_vars={"hostvars": hostvars})
    assert result["errors"][0] == ("r1: qube_proxy_password cannot be evaluated ('vault_qube_proxy_password' is "
                                   "undefined). Define the variable it uses (is the vault file loaded?) or fix "
                                   "the expression.")
    assert any(e.startswith("r1: qube_worker_cpus must be an integer") for e in result["errors"])


def test_the_roles_argument_specs_are_the_contract(action):
    """Values the roles' argument specs refuse, empty and whitespace-only strings: all refused up front."""
    hostvars = {"a1": {"qube_proxy_password": "s3cret", "qube_drain_timeout": "soon", "qube_windows_msi_properties": ["x"],
                       "qube_worker_unit": "  ", "qube_macos_daemon_label": ""}}
    result = action({"hosts": ["a1"], "supervisors": ["sup"]}).run(task_vars={"hostvars": hostvars})
    errors = result["errors"]
    assert any(e.startswith("a1: argument 'qube_drain_timeout' is of type str and we were unable to convert to int")
               and e.endswith("(the roles' argument specs refuse it). Fix the value in the inventory.") for e in errors), errors
    assert any(e.startswith("a1: argument 'qube_windows_msi_properties' is of type list") for e in errors), errors
    assert "a1: qube_worker_unit is only whitespace. Give a value or remove the variable." in errors
    assert ("a1: qube_macos_daemon_label is empty; the roles need a value (default 'com.pipelinefx.worker'). "
            "Remove the variable to use the default.") in errors
    assert len(errors) == 4 and "s3cret" not in repr(result)


def test_a_farm_without_a_supervisor_is_refused(action):
    result = action({"hosts": ["a1"], "supervisors": []}).run(
        task_vars={"hostvars": {"a1": {"qube_proxy_password": "s3cret"}}})
    assert result["failed"] and result["errors"][0].startswith("no host in the supervisors group (qube_supervisors_group)")

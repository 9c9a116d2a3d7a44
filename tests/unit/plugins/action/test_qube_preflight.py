# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_preflight: direct calls, and a real ansible-playbook run on localhost."""

import json
import os
import subprocess
import sys
import textwrap
from unittest.mock import MagicMock

from ansible_collections.renderfarm.qube.plugins.action.qube_preflight import ActionModule


def action(args):
    task = MagicMock(args=args, async_val=0, check_mode=False)
    connection = MagicMock()
    connection._shell.tmpdir = "/nonexistent"
    return ActionModule(task, connection, MagicMock(), loader=None, templar=None, shared_loader_obj=None)


def test_ok_summary():
    hostvars = {"a1": {"qube_worker_cpus": 2}, "w1": {"ansible_connection": "winrm"}}
    result = action({"hosts": ["a1", "w1"]}).run(task_vars={"hostvars": hostvars})
    assert not result.get("failed") and result["summary"]["hosts"] == 2
    assert result["summary"]["os"] == {"linux": 1, "osx": 0, "winnt": 1}
    assert result["msg"] == "qube_preflight: 2 host(s) checked, no problems (1 linux, 1 winnt)"


def test_all_errors_at_once():
    hostvars = {"a1": {"qube_worker_cpus": "many"}, "a-2": {}}
    result = action({"hosts": ["a1", "a-2", "ghost"]}).run(task_vars={"hostvars": hostvars})
    assert result["failed"] and len(result["errors"]) == 3
    assert result["errors"][0].startswith("ghost: not in the inventory")
    assert "3 problem(s)" in result["msg"] and "a1: qube_worker_cpus" in result["msg"]


def test_hosts_must_be_a_list():
    assert action({"hosts": 5}).run(task_vars={"hostvars": {}})["failed"]


def test_real_playbook_run(tmp_path):
    """ansible-playbook resolves renderfarm.qube.qube_preflight and reads real hostvars."""
    collections = sys.path[0] if "renderfarm-qube-pytest" in sys.path[0] else next(
        p for p in sys.path if "renderfarm-qube-pytest" in p)
    (tmp_path / "inventory.yml").write_text(textwrap.dedent("""
        all:
          vars:
            qube_templates: {gpu: {worker_groups: [gpu]}}
          hosts:
            localhost: {ansible_connection: local, ansible_python_interpreter: "{{ ansible_playbook_python }}"}
          children:
            workers:
              hosts:
                render01: {qube_worker_cpus: 4}
                render02: {qube_worker_templates: [gpu], qube_worker_cpus: "{{ 2 * 3 }}"}
                bad-03: {qube_worker_cpus: many, qube_worker_templates: [cpu]}
        """))
    (tmp_path / "play.yml").write_text(textwrap.dedent("""
        - hosts: localhost
          gather_facts: false
          tasks:
            - renderfarm.qube.qube_preflight:
                hosts: "{{ groups.workers }}"
              register: preflight
              ignore_errors: true
            - ansible.builtin.copy:
                content: "{{ preflight | to_json }}"
                dest: "{{ out }}"
        """))
    out = tmp_path / "result.json"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR="1")
    bindir = os.path.dirname(sys.executable)
    proc = subprocess.run([os.path.join(bindir, "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"),
                           str(tmp_path / "play.yml"), "-e", "out=%s" % out],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["failed"]
    assert any("bad-03: qube_worker_cpus must be an integer >= 0 (got 'many')" in e for e in result["errors"])
    assert any("bad-03: qube_worker_templates names 'cpu'" in e for e in result["errors"])
    assert any("bad-03: the qbwrk.conf section name 'bad-03'" in e for e in result["errors"])
    assert not any(e.startswith("render0") for e in result["errors"])

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_worker_info against a fake supervisor: configuration, state, verdict, settled."""

import os

import pytest

from ansible.module_utils import basic
from ansible_collections.renderfarm.qube.plugins.modules import qube_worker_info


HOSTS = ('<?xml version="1.0"?>\n<hosts><host><name>w1</name><state>active</state><locked>0</locked>'
         '<jobs_running>0</jobs_running></host><host><name>w2</name><state>panic</state><locked>0</locked>'
         '<jobs_running>0</jobs_running></host><host><name>d1</name><state>down</state><locked>0</locked>'
         '<jobs_running>0</jobs_running></host></hosts>\n')
CONFIGS = {"w1": "worker_cpus = 2\nworker_logfile = /var/log/workerlog\n",
           "w2": "worker_cpus = 2\nworker_logfile = /srv/qube/workerlog\n"}


@pytest.fixture
def run(monkeypatch, run_module):
    def run(hosts=(0, HOSTS), check=False, **args):
        calls = []

        def run_command(self, argv, **_kw):
            calls.append(argv)
            if os.path.basename(argv[0]) == "qbhosts":
                return hosts[0], hosts[1], "cannot reach the supervisor" if hosts[0] else ""
            name = argv[-1]
            if name in CONFIGS:
                return 0, CONFIGS[name], ""
            return 1, "", "worker %s unreachable" % name

        monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
        args = dict({"workers": {"w1": {"worker_cpus": 2}, "w2": {"worker_cpus": 2}}}, **args)
        return run_module(qube_worker_info, args, check_mode=check, failed=False), calls
    return run


def test_panicked_worker_is_not_in_sync_even_with_its_configuration_right(run):
    """The old module read the configuration only: a worker in panic passed the read-back."""
    result, calls = run()
    w1, w2 = result["workers"]["w1"], result["workers"]["w2"]
    assert w1["ok"] and w1["state"] == "active" and w1["verdict"] == "in_sync" and w1["settled"]
    assert w2["ok"] and w2["state"] == "panic" and w2["verdict"] == "panic" and not w2["settled"]
    assert w2["logfile"] == "/srv/qube/workerlog"
    assert not result["settled"]
    assert [os.path.basename(c[0]) for c in calls].count("qbhosts") == 1


def test_desktop_worker_down_is_not_running_and_a_service_worker_down_is_not(run):
    workers = {"w1": {"worker_cpus": 2}, "d1": {"worker_logfile": "/home/art/.qube/workerlog"}}
    result, _ = run(workers=workers, modes={"d1": "desktop"})
    assert result["workers"]["d1"]["verdict"] == "not_running" and result["settled"]
    assert result["workers"]["d1"]["logfile"] == "/home/art/.qube/workerlog"
    result, _ = run(workers=workers)
    assert result["workers"]["d1"]["verdict"] == "down" and not result["settled"]


def test_unlisted_service_worker_is_down(run):
    result, _ = run(workers={"w9": {}})
    assert result["workers"]["w9"]["state"] == "unlisted" and result["workers"]["w9"]["verdict"] == "down"


def test_qbhosts_failure_is_unknown_not_in_sync(run):
    result, _ = run(hosts=(1, ""))
    assert result["state_error"] == "qbhosts --xml exited 1: cannot reach the supervisor"
    assert result["workers"]["w1"]["verdict"] == "unknown" and not result["settled"]
    result, _ = run(hosts=(0, "w1 active\n"))
    assert "not XML" in result["state_error"] and result["workers"]["w1"]["verdict"] == "unknown"


def test_check_mode_without_state_reads_no_qbhosts(run):
    result, calls = run(check=True, check_state=False)
    assert result["workers"]["w2"]["verdict"] == "in_sync" and result["workers"]["w2"]["state"] == "unchecked"
    assert result["settled"] and all(os.path.basename(c[0]) == "qbadmin" for c in calls)

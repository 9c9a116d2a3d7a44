# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_drain against a fake supervisor: one look per call, one qblock per drain, safe failures."""

import os

import pytest

from ansible.module_utils import basic
from ansible_collections.renderfarm.qube.plugins.modules import qube_drain

BIN = "/opt/qb/bin"


class Supervisor:
    """qbhosts --xml / qblock / qbunlock of a fake farm; ``layout`` prints one host entry."""

    def __init__(self, hosts, layout=None, rc=0, text=None):
        self.hosts = hosts  # name -> {"locked": bool, "jobs": int}
        self.layout = layout or (lambda name, h: "<host><name>%s</name><state>active</state><locked>%d</locked>"
                                 "<jobs_running>%d</jobs_running></host>" % (name, h["locked"], h["jobs"]))
        self.rc, self.text = rc, text
        self.calls = []

    def count(self, command):
        return sum(1 for argv in self.calls if argv[0] == command)

    def run_command(self, argv, **_kwargs):
        command = os.path.basename(argv[0])
        self.calls.append([command] + list(argv[1:]))
        if command == "qbhosts":
            if self.text is not None:
                return self.rc, self.text, "supervisor unreachable" if self.rc else ""
            body = "".join(self.layout(name, h) for name, h in sorted(self.hosts.items()))
            return self.rc, '<?xml version="1.0"?>\n<hosts>%s</hosts>\n' % body, ""
        if command in ("qblock", "qbunlock"):
            # The old module re-ran qblock in a loop without end: stop a runaway test.
            assert self.count("qblock") <= 3, "qblock called %d times" % self.count("qblock")
            self.hosts[argv[1]]["locked"] = command == "qblock"
            return 0, "%sed: %s\n" % (command[2:], argv[1]), ""
        raise AssertionError(argv)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(qube_drain.time, "sleep", lambda _s: pytest.fail("the module must not sleep: Ansible's delay does"))


@pytest.fixture
def clock(monkeypatch):
    now = {"t": 1000.0}
    monkeypatch.setattr(qube_drain.time, "time", lambda: now["t"])
    return now


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "state" / "drain-w1.lock"


@pytest.fixture
def run(monkeypatch, run_module, marker):
    def run(sup, failed=False, check=False, **args):
        monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: sup.run_command(argv, **kw))
        args = dict({"worker": "w1", "bin_dir": BIN, "marker": str(marker), "drain_id": "run-1", "timeout": 5}, **args)
        args = {key: value for key, value in args.items() if value is not None}
        return run_module(qube_drain, args, check_mode=check, failed=failed)
    return run


def test_idle_worker_is_locked_once_and_drained_in_one_call(run, marker, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 0}})
    result = run(sup)
    assert result["drained"] and result["changed"] and result["locked"] and not result["was_locked"]
    assert result["name"] == "w1" and result["waited_s"] == 0.0
    assert [c[0] for c in sup.calls] == ["qbhosts", "qblock", "qbhosts"]
    assert '"ours": true' in marker.read_text()


def test_busy_worker_one_look_per_call_and_a_single_qblock(run, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 1}})
    first = run(sup)
    assert not first["drained"] and first["locked"] and first["jobs"] == 1
    assert first["msg"] == "w1: 1 job(s) still running after 0 s"
    clock["t"] += 2
    second = run(sup)
    assert not second["drained"] and not second["changed"] and second["waited_s"] == 2.0
    sup.hosts["w1"]["jobs"] = 0
    clock["t"] += 2
    third = run(sup)
    assert third["drained"] and third["jobs_at_start"] == 1 and third["waited_s"] == 4.0 and not third["was_locked"]
    assert sup.count("qblock") == 1 and sup.count("qbhosts") == 4


def test_lock_not_shown_after_qblock_fails_at_once_and_releases(run, marker, clock):
    """A layout that never shows the lock: the old module re-locked in a tight loop for ever."""
    layout = (lambda name, h: "<host><name>%s</name><locked>0</locked><slot_locks>%s</slot_locks>"
              "<jobs_running>0</jobs_running></host>" % (name, "0,1" if h["locked"] else ""))
    sup = Supervisor({"w1": {"locked": False, "jobs": 0}}, layout=layout)
    result = run(sup, failed=True)
    assert "qbhosts --xml layout could not be read" in result["msg"]
    assert "fields seen: jobs_running, locked, name, slot_locks" in result["msg"]
    assert "not restarted" in result["msg"] and not result["drained"] and not result["locked"]
    assert sup.count("qblock") == 1 and sup.count("qbunlock") == 1
    assert not sup.hosts["w1"]["locked"] and not marker.exists()


def test_lock_field_the_reader_does_not_know_never_locks(run, clock):
    def layout(name, _host):
        return "<host><name>%s</name><lockstate>off</lockstate><jobs_running>0</jobs_running></host>" % name

    sup = Supervisor({"w1": {"locked": False, "jobs": 0}}, layout=layout)
    result = run(sup, failed=True)
    assert "no readable lock field" in result["msg"] and "fields seen: jobs_running, lockstate, name" in result["msg"]
    assert sup.count("qblock") == 0 and result["note"].startswith("not drained: qbhosts --xml layout unreadable")


@pytest.mark.parametrize("rc, text, words", [
    (1, "", "qbhosts --xml exited 1: supervisor unreachable"),
    (0, "", "qbhosts --xml printed nothing"),
    (0, "name locked jobs\nw1 0 0\n", "qbhosts --xml output is not XML"),
])
def test_qbhosts_failure_or_unreadable_output_fails_without_lock(run, clock, rc, text, words):
    sup = Supervisor({"w1": {"locked": False, "jobs": 0}}, rc=rc, text=text)
    result = run(sup, failed=True)
    assert words in result["msg"] and "not restarted" in result["msg"]
    assert sup.count("qblock") == 0 and not result["drained"]


def test_qbhosts_failing_mid_drain_releases_our_lock(run, marker, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 1}})
    run(sup)
    sup.rc, sup.text = 2, ""
    result = run(sup, failed=True)
    assert "exited 2" in result["msg"] and sup.count("qbunlock") == 1 and not sup.hosts["w1"]["locked"]
    assert not marker.exists()


def test_timeout_counts_from_the_first_call_and_releases_our_lock(run, marker, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 1}})
    run(sup)
    clock["t"] += 5
    result = run(sup, failed=True)
    assert result["msg"].startswith("Worker w1 still runs 1 job(s) after 5 s; it was left untouched (lock released)")
    assert "qube_drain_timeout" in result["msg"]
    assert result["note"] == "not drained: 1 job(s) still running after 5 s; worker left unchanged"
    assert not sup.hosts["w1"]["locked"] and not marker.exists() and sup.count("qblock") == 1


def test_lock_released_by_someone_mid_drain_fails_and_never_relocks(run, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 1}})
    run(sup)
    sup.hosts["w1"]["locked"] = False  # an operator ran qbunlock
    clock["t"] += 1
    result = run(sup, failed=True)
    assert "is not shown by qbhosts --xml any more" in result["msg"] and "not restarted" in result["msg"]
    assert sup.count("qblock") == 1


def test_operator_lock_is_waited_on_and_kept(run, marker, clock):
    sup = Supervisor({"w1": {"locked": True, "jobs": 0}})
    result = run(sup)
    assert result["drained"] and result["was_locked"] and not result["changed"] and sup.count("qblock") == 0
    released = run(sup, state="released", was_locked=True)
    assert not released["changed"] and sup.hosts["w1"]["locked"] and not marker.exists()


def test_operator_lock_timeout_keeps_the_lock(run, clock):
    sup = Supervisor({"w1": {"locked": True, "jobs": 2}})
    run(sup)
    clock["t"] += 9
    result = run(sup, failed=True)
    assert "operator's lock kept" in result["msg"] and sup.hosts["w1"]["locked"] and sup.count("qbunlock") == 0


def test_lock_left_by_a_dead_run_is_ours_and_released(run, marker, clock):
    marker.parent.mkdir()
    marker.write_text("locked by renderfarm.qube.qube_drain\n")
    sup = Supervisor({"w1": {"locked": True, "jobs": 0}})
    result = run(sup, drain_id="run-2")
    assert result["drained"] and not result["was_locked"]
    released = run(sup, state="released", was_locked=result["was_locked"])
    assert released["changed"] and not sup.hosts["w1"]["locked"] and not marker.exists()


def test_worker_listed_under_another_name_is_drained_by_that_name(run, clock):
    sup = Supervisor({"w1.farm.example": {"locked": False, "jobs": 0}})
    result = run(sup, aliases=["w1", "w1.farm.example"])
    assert result["drained"] and result["name"] == "w1.farm.example"
    assert ["qblock", "w1.farm.example"] in sup.calls
    released = run(sup, state="released", aliases=["w1.farm.example"])
    assert ["qbunlock", "w1.farm.example"] in sup.calls and released["changed"]


def test_unlisted_worker_fails_naming_the_names_tried(run, clock):
    """The old module called an unknown worker drained, and the handler restarted it."""
    sup = Supervisor({"other": {"locked": False, "jobs": 0}})
    result = run(sup, failed=True, aliases=["w1.lab", "10.1.2.3"])
    assert "lists none of the names of worker w1 (tried: w1, w1.lab, 10.1.2.3; qbhosts lists: other)" in result["msg"]
    assert "qube_worker_name" in result["msg"] and "not restarted" in result["msg"]
    assert not result["drained"] and sup.count("qblock") == 0


def test_unlisted_worker_installed_in_this_run_is_nothing_to_drain(run, clock):
    sup = Supervisor({})
    result = run(sup, missing_ok=True)
    assert result["drained"] and not result["listed"] and sup.count("qblock") == 0


def test_check_mode_locks_nothing_and_writes_no_marker(run, marker, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 3}})
    result = run(sup, check=True)
    assert result["changed"] and result["drained"] and result["msg"] == "would lock w1 and wait for 3 job(s)"
    assert sup.count("qblock") == 0 and not marker.exists()


def test_drain_needs_a_drain_id(run, clock):
    sup = Supervisor({"w1": {"locked": False, "jobs": 0}})
    result = run(sup, failed=True, drain_id=None)
    assert "drain_id" in result["msg"] and sup.calls == []

# -*- coding: utf-8 -*-
"""Read-back verdicts: configuration compared, worker state judged, what is worth waiting for."""

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.readback import compare, effective_value, judge

OK = {"ok": True}
DRIFT = {"ok": False, "missing": ["worker_cpus"], "mismatched": {}}
UNREAD = {"ok": False, "error": "qbadmin worker --configuration w1 failed: worker unreachable"}


def test_compare_in_sync_and_drift():
    assert compare({"worker_cpus": 4}, "worker_cpus = 4\n")["ok"]
    result = compare({"worker_cpus": 4}, "worker_cpus = 2\n")
    assert not result["ok"] and result["mismatched"] == {"worker_cpus": {"want": "4", "got": "2"}}


@pytest.mark.parametrize("result, state, mode, expected", [
    (OK, "active", "service", ("in_sync", True)),
    # a push still on its way (CWC "may take a few minutes"): wait, then drifted
    (DRIFT, "active", "service", ("drifted", False)),
    # the boot diagnostics failed: panic, whatever the configuration says
    (OK, "panic", "service", ("panic", False)),
    (UNREAD, "panic", "desktop", ("panic", False)),
    (UNREAD, "down", "service", ("down", False)),
    (UNREAD, "unlisted", "service", ("down", False)),
    # a Desktop User worker whose user is not logged in
    (UNREAD, "down", "desktop", ("not_running", True)),
    (UNREAD, "unlisted", "desktop", ("not_running", True)),
    (UNREAD, "active", "desktop", ("not_running", True)),
    (UNREAD, "active", "service", ("drifted", False)),
    # qbhosts unreadable, or a state this reader does not know
    (OK, "unreadable", "service", ("unknown", False)),
    (OK, "starting", "service", ("unknown", False)),
    (OK, None, "service", ("unknown", False)),
])
def test_judge(result, state, mode, expected):
    assert judge(result, state, mode) == expected


def test_judge_check_mode_does_not_look_at_the_state():
    assert judge(OK, "panic", "service", check_state=False) == ("in_sync", True)
    assert judge(UNREAD, "unchecked", "service", check_state=False) == ("not_running", True)
    # A flip or a changed qb.conf is not applied in check mode: the difference is the real run's work.
    assert judge(DRIFT, "unchecked", "service", check_state=False) == ("unknown", True)


def test_effective_value():
    text = 'worker_logfile = "/srv/logs/workerlog"\nworker_cpus = 2\n'
    assert effective_value(text, "worker_logfile") == "/srv/logs/workerlog"
    assert effective_value(text, "worker_logpath") is None


def test_raw_expected_values_compare_as_the_file_has_them():
    """A rolled back batch is read back against qbwrk.conf text, not inventory values."""
    effective = 'worker_description = "lighting, gen 2"\nworker_groups = "a,b"\nproxy_password = xyz\n'
    ok = compare({"worker_description": '"lighting, gen 2"', "worker_groups": "a,b",
                  "proxy_password": "********"}, effective, raw=True)
    assert ok["ok"], ok
    bad = compare({"worker_description": '"lighting, gen 3"'}, effective, raw=True)
    assert not bad["ok"] and bad["mismatched"]["worker_description"]["want"] == "lighting, gen 3"

# -*- coding: utf-8 -*-
"""Drain decisions and the qbhosts --xml reader."""

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.drain import (
    LayoutError, candidate_names, decide, find_worker, layout_message, parse_hosts_xml, read_marker, timeout_note)

XML = """<?xml version="1.0"?>
<hosts><host><name>w01</name><state>active</state><locked>1</locked><jobs_running>2</jobs_running>
<worker_mode>service</worker_mode></host>
<host><name>w02</name><state>active</state><locked>0</locked><jobs_running>0</jobs_running></host></hosts>"""


def test_parse_hosts_xml_reads_lock_and_jobs():
    hosts = parse_hosts_xml(XML)
    assert hosts["w01"]["locked"] is True and hosts["w01"]["jobs"] == 2
    assert hosts["w02"]["locked"] is False and hosts["w02"]["jobs"] == 0


def test_parse_hosts_xml_attribute_form():
    hosts = parse_hosts_xml('<hosts><host name="r1" locked="yes" running="3"/></hosts>')
    assert hosts["r1"]["locked"] is True and hosts["r1"]["jobs"] == 3 and hosts["r1"]["state"] == "unknown"


def test_parse_hosts_xml_standin_layout_and_empty_fields():
    """The stand-in's qbhosts --xml layout; an empty <locked/> counts as unlocked, not an error."""
    text = ('<?xml version="1.0"?>\n<hosts>\n  <host>\n    <name>drw1</name>\n    <state>active</state>\n'
            '    <locked/>\n    <jobs_running>1</jobs_running>\n    <slots>2</slots>\n  </host>\n</hosts>')
    hosts = parse_hosts_xml(text)
    assert hosts["drw1"]["locked"] is False and hosts["drw1"]["jobs"] == 1 and hosts["drw1"]["state"] == "active"


def test_parse_hosts_xml_panic_state():
    """A worker that failed its boot diagnostics is listed in state panic (CPR worker_boot_diagnostics_retries.md)."""
    hosts = parse_hosts_xml("<hosts><host><name>w3</name><state>panic</state><locked>0</locked>"
                            "<jobs_running>0</jobs_running></host></hosts>")
    assert hosts["w3"]["state"] == "panic"


def test_parse_hosts_xml_single_host_root_and_slot_list():
    hosts = parse_hosts_xml("<host><hostname>r7</hostname><locked_slots>0,1</locked_slots><running>0</running></host>")
    assert hosts["r7"]["locked"] is True and hosts["r7"]["jobs"] == 0


def test_parse_hosts_xml_missing_or_unknown_fields_are_none_not_unlocked():
    """An unknown lock spelling is not "unlocked": the drain must not qblock blind or call it idle."""
    hosts = parse_hosts_xml("<hosts><host><name>a</name><lockstate>on</lockstate><jobs_running>0</jobs_running></host>"
                            "<host><name>b</name><locked>maybe</locked><running>two</running></host></hosts>")
    assert hosts["a"]["locked"] is None and hosts["a"]["jobs"] == 0
    assert hosts["a"]["fields"] == ["jobs_running", "lockstate", "name"]
    assert hosts["b"]["locked"] is None and hosts["b"]["jobs"] is None
    message = layout_message("a", hosts["a"])
    assert "no readable lock field" in message and "lockstate" in message and "not restarted" in message


@pytest.mark.parametrize("text, words", [
    ("", "printed nothing"),
    ("   \n", "printed nothing"),
    ("qbhosts: cannot reach supervisor", "not XML"),
    ("<hosts><machine><id>1</id></machine></hosts>", "elements seen under <hosts>: machine"),
])
def test_parse_hosts_xml_refuses_what_it_cannot_read(text, words):
    with pytest.raises(LayoutError, match=words):
        parse_hosts_xml(text)


def test_parse_hosts_xml_empty_farm_is_no_host():
    assert parse_hosts_xml('<?xml version="1.0"?>\n<hosts/>') == {}


def test_find_worker_tries_names_in_order_case_insensitive():
    hosts = parse_hosts_xml("<hosts><host><name>Render01.Lab</name><locked>0</locked><jobs>0</jobs></host></hosts>")
    names = candidate_names("render01", ["render01", "", "render01.lab", "10.0.0.5"])
    assert names == ["render01", "render01.lab", "10.0.0.5"]
    assert find_worker(hosts, names)[0] == "Render01.Lab"
    assert find_worker(hosts, ["render02"]) == (None, None)


def _entry(locked, jobs):
    return {"locked": locked, "jobs": jobs, "state": "active", "fields": ["jobs_running", "locked", "name"]}


def test_decide_first_call_locks_and_records_the_drain():
    action, record = decide(_entry(False, 2), None, "d1", 100.0, 60)
    assert action == "lock"
    assert record == {"drain": "d1", "started": 100.0, "ours": False, "jobs_at_start": 2, "name": None}


def test_decide_waits_then_drains_then_times_out_from_the_first_call():
    marker = {"drain": "d1", "started": 100.0, "ours": True, "jobs_at_start": 2, "name": "w"}
    assert decide(_entry(True, 1), marker, "d1", 130.0, 60)[0] == "wait"
    action, record = decide(_entry(True, 1), marker, "d1", 160.0, 60)
    assert action == "timeout" and record["started"] == 100.0 and record["jobs_at_start"] == 2
    assert decide(_entry(True, 0), marker, "d1", 170.0, 60)[0] == "drained"


def test_decide_never_locks_twice_in_one_drain():
    """Our lock is not shown any more: fail, do not qblock again (the old loop re-locked forever)."""
    marker = {"drain": "d1", "started": 100.0, "ours": True, "jobs_at_start": 1, "name": "w"}
    assert decide(_entry(False, 1), marker, "d1", 101.0, 60)[0] == "lock_lost"
    assert decide(_entry(False, 0), marker, "d1", 101.0, 60)[0] == "lock_lost"


def test_decide_unreadable_fields_never_lock():
    assert decide(_entry(None, 0), None, "d1", 1.0, 60)[0] == "layout"
    assert decide(_entry(False, None), None, "d1", 1.0, 60)[0] == "layout"


def test_decide_marker_of_a_dead_run_keeps_its_owner():
    """A lock left by a run that died is ours (released later); an operator's lock is not."""
    dead = read_marker("locked by renderfarm.qube.qube_drain\n")
    action, record = decide(_entry(True, 0), dead, "d2", 5.0, 60)
    assert action == "drained" and record["ours"] is True and record["started"] == 5.0
    action, record = decide(_entry(True, 0), None, "d2", 5.0, 60)
    assert action == "drained" and record["ours"] is False
    # a dead run's marker with an operator's lock, then the operator unlocked: lock once
    stale = {"drain": "d0", "started": 1.0, "ours": False, "jobs_at_start": 0, "name": "w"}
    assert decide(_entry(False, 0), stale, "d2", 5.0, 60)[0] == "lock"


def test_read_marker_json_and_none():
    assert read_marker(None) is None
    assert read_marker('{"drain": "x", "started": 3, "ours": true, "jobs_at_start": 1, "name": "w"}')["ours"] is True


def test_timeout_note_is_the_report_wording():
    assert timeout_note(1, 5) == "not drained: 1 job(s) still running after 5 s; worker left unchanged"

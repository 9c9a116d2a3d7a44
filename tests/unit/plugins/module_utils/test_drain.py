# -*- coding: utf-8 -*-
"""Drain decisions and the qbhosts --xml reader."""

from ansible_collections.renderfarm.qube.plugins.module_utils.drain import next_step, parse_hosts_xml

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
    assert hosts["r1"] == {"locked": True, "jobs": 3, "state": "unknown", "raw": hosts["r1"]["raw"]}


def test_next_step_sequence():
    assert next_step({"locked": False, "jobs": 1}, False, 0, 10) == "lock"
    assert next_step({"locked": True, "jobs": 1}, True, 1, 10) == "wait"
    assert next_step({"locked": True, "jobs": 1}, True, 11, 10) == "timeout"
    assert next_step({"locked": True, "jobs": 0}, True, 2, 10) == "drained"
    # an operator's lock: never re-locked, just waited on
    assert next_step({"locked": True, "jobs": 0}, False, 0, 10) == "drained"


def test_next_step_takes_a_vanished_lock_again():
    """Idle but unlocked is not drained: a job could be dispatched right before the restart."""
    assert next_step({"locked": False, "jobs": 0}, True, 3, 10) == "lock"
    assert next_step({"locked": False, "jobs": 2}, True, 3, 10) == "lock"


def test_next_step_operator_lock_with_jobs_waits_then_times_out():
    assert next_step({"locked": True, "jobs": 1}, False, 0, 10) == "wait"
    assert next_step({"locked": True, "jobs": 1}, False, 10, 10) == "timeout"


def test_parse_hosts_xml_standin_layout_and_empty_fields():
    """The stand-in's qbhosts --xml layout; an empty <locked/> counts as unlocked, not an error."""
    text = ('<?xml version="1.0"?>\n<hosts>\n  <host>\n    <name>drw1</name>\n    <state>active</state>\n'
            '    <locked/>\n    <jobs_running>1</jobs_running>\n    <slots>2</slots>\n  </host>\n</hosts>')
    hosts = parse_hosts_xml(text)
    assert hosts["drw1"]["locked"] is False and hosts["drw1"]["jobs"] == 1 and hosts["drw1"]["state"] == "active"


def test_parse_hosts_xml_single_host_root_and_slot_list():
    hosts = parse_hosts_xml("<host><hostname>r7</hostname><locked_slots>0,1</locked_slots><running>0</running></host>")
    assert hosts["r7"]["locked"] is True and hosts["r7"]["jobs"] == 0

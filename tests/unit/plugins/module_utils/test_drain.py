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

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qbwrk.conf rendering: layout, ranges, name checks, and the lossless-compaction proof."""

import random

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import (
    QbwrkError, desired_config, expand, parse, render, section_matches, sections_needed,
)

TEMPLATES = {"gpu": {"worker_groups": ["gpu", "farm"], "worker_resources": {"host.gpu": 1}},
             "nuke": {"worker_cluster": "/farm/nuke"}}


def host(name, os_name="linux", templates=(), **settings):
    return {"name": name, "os": os_name, "templates": list(templates), "settings": settings}


def assert_lossless(hosts, templates=None, defaults=None):
    text = render(hosts, templates, defaults)
    sections = parse(text)
    for entry in hosts:
        assert expand(sections, entry["name"], entry["os"]) == desired_config(entry, templates, defaults), entry
    return text


def test_default_os_template_and_host_sections():
    hosts = [host("w01", worker_cluster="/farm", worker_cpus=0, worker_flags=["remove_logs"]),
             host("w02", worker_cluster="/farm", worker_cpus=8, worker_flags=["remove_logs"]),
             host("win01", "winnt", ["gpu"], worker_cluster="/farm", worker_cpus=0,
                  worker_flags=["remove_logs", "load_profile", "auto_mount"])]
    text = assert_lossless(hosts, TEMPLATES)
    assert text == """[global_config]
templates = gpu,nuke

[default]
worker_cluster = /farm

[linux]
worker_flags = remove_logs

[winnt]
worker_cpus = 0
worker_flags = "remove_logs,load_profile,auto_mount"

[gpu]
worker_groups = "gpu,farm"
worker_resources = "host.gpu=1"

[nuke]
worker_cluster = /farm/nuke

[w01]
worker_cpus = 0

[w02]
worker_cpus = 8

[win01] : gpu
"""


def test_numbered_hosts_collapse_into_padded_and_unpadded_ranges():
    hosts = [host("render%03d" % i, worker_groups=["big"] if i <= 200 else ["small"]) for i in range(1, 211)]
    hosts += [host("fast%d" % i, worker_groups=["fast"]) for i in range(1, 101)]
    hosts += [host("solo", worker_groups=["x"])]
    text = assert_lossless(hosts, defaults={"worker_cluster": "/"})
    headers = [line for line in text.splitlines() if line.startswith("[")]
    assert headers == ["[default]", "[fast[1-100]]", "[render[001-200]]", "[render[201-210]]", "[solo]"]


def test_gaps_padding_changes_and_templates_split_ranges():
    hosts = [host(n, worker_cpus=2) for n in ("n01", "n02", "n04", "n9", "n10", "n099", "n100")]
    hosts += [host("t1", templates=["nuke"]), host("t2", templates=["nuke"]), host("t3", templates=["gpu"])]
    text = assert_lossless(hosts, TEMPLATES, {"worker_cpus": 0})
    headers = [line for line in text.splitlines() if line.startswith("[") and "global" not in line]
    assert "[n[01-02]]" in headers and "[n04]" in headers and "[n[9-10]]" in headers
    assert "[n[099-100]]" in headers and "[t[1-2]] : nuke" in headers and "[t3] : gpu" in headers


def test_explicit_default_differing_from_an_os_stays_lossless():
    hosts = [host("a1", "winnt", worker_flags=["x"]), host("a2", "winnt", ["nuke"], worker_flags=["x"]),
             host("b1", worker_flags=["y"])]
    text = assert_lossless(hosts, TEMPLATES, {"worker_flags": ["z"]})
    assert "[default]\nworker_flags = z\n" in text and "[winnt]" not in text


def test_host_with_nothing_left_has_no_section_and_header_is_first():
    text = render([host("a1", worker_cpus=1), host("a2", worker_cpus=1)], header="# Ansible managed")
    assert text == "# Ansible managed\n\n[default]\nworker_cpus = 1\n"


@pytest.mark.parametrize("bad", ["w-03", "w03.example.com", "", "default"])
def test_bad_section_names_name_the_host_and_the_fix(bad):
    # The host needs a section of its own: its worker_cpus differs from the other host's.
    with pytest.raises(QbwrkError, match="qube_worker_name"):
        render([host(bad, worker_cpus=1), host("ok", worker_cpus=2)])


@pytest.mark.parametrize("name", ["render-01", "render01.studio.example"])
def test_a_host_without_a_section_of_its_own_may_have_any_name(name):
    """Only section names are limited (qbwrk_conf+File+Format.md): no section, no limit."""
    text = render([host(name, worker_cpus=1), host("ok", worker_cpus=1)])
    assert "[%s]" % name not in text and "worker_cpus = 1" in text
    assert sections_needed([host(name, worker_cpus=1), host("ok", worker_cpus=1)]) == set()
    assert sections_needed([host(name, worker_cpus=1), host("ok", worker_cpus=2)]) == {name, "ok"}
    assert sections_needed([host(name, templates=["gpu"]), host("ok")], {"gpu": {"worker_groups": ["gpu"]}}) == {name}


def test_other_model_errors():
    with pytest.raises(QbwrkError, match="not defined"):
        render([host("a", templates=["missing"])])
    with pytest.raises(QbwrkError, match="two hosts"):
        render([host("a"), host("a")])
    with pytest.raises(QbwrkError, match="reserved"):
        render([host("a")], {"linux": {}})
    with pytest.raises(QbwrkError, match="os must be"):
        render([host("a", "windows")])


def test_section_matching_rules():
    assert section_matches("render[001-200]", "render007")
    assert not section_matches("render[001-200]", "render7")
    assert not section_matches("render[001-200]", "render201")
    assert section_matches("fast[1-100]", "fast7") and not section_matches("fast[1-100]", "fast07")
    assert not section_matches("fast[1-100]", "fastx") and not section_matches("w01", "w011")


def test_expand_follows_vendor_semantics():
    text = """[default]
proxy_account = render
[winnt]
worker_path_map = {
 "/home" : "H:/",
}
[groupb_rule]
worker_groups = groupB
worker_cluster = /bar
[host[11-15]] : groupb_rule
worker_restriction = /bar/+
[host12]
worker_groups = groupB,nvidia
"""
    assert expand(text, "host12", "winnt") == {
        "proxy_account": "render", "worker_path_map": '{\n "/home" : "H:/",\n}',
        "worker_groups": "groupB,nvidia", "worker_cluster": "/bar", "worker_restriction": "/bar/+"}
    assert expand(text, "host16", "linux") == {"proxy_account": "render"}
    with pytest.raises(QbwrkError, match="not defined above"):
        expand("[a] : later\n[later]\nx = 1\n", "a", "linux")


def random_farm(count, seed):
    rng = random.Random(seed)
    hosts = []
    for number in range(1, count + 1):
        os_name = rng.choice(["linux"] * 6 + ["winnt"] * 3 + ["osx"])
        settings = {"worker_cluster": "/farm", "proxy_account": "render"}
        if number % 50 < 25:
            settings["worker_cpus"] = 0
        if rng.random() < 0.05:
            settings["worker_cpus"] = rng.randint(1, 64)
        settings["worker_flags"] = ["remove_logs"] + (["load_profile", "auto_mount"] if os_name == "winnt" else [])
        if rng.random() < 0.02:
            settings["worker_description"] = "special node %d" % number
        templates = ["gpu"] if number % 1000 < 100 else []
        hosts.append(host("render%05d" % number, os_name, templates, **settings))
    return hosts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_farms_are_lossless(seed):
    assert_lossless(random_farm(600, seed), TEMPLATES)


def test_ten_thousand_hosts_render_right():
    """Correctness at farm scale; the speed is measured in benchmarks/render_bench.py, not asserted here."""
    hosts = random_farm(10000, 7)
    text = render(hosts, TEMPLATES, header="# Ansible managed")
    sections = parse(text)
    for entry in hosts[::97]:
        assert expand(sections, entry["name"], entry["os"]) == desired_config(entry, TEMPLATES)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qbwrk.conf shared with people and QubeUI: only what inventory declares changes."""

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import QbwrkError, expand, render
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk_owned import check, host_names, merge

TEMPLATES = {"gpu": {"worker_groups": ["gpu", "render"]}}

FOREIGN = """# qbwrk.conf of the studio, edited in QubeUI and by hand
[global_config]
templates = nuke

[default]
worker_description = "studio farm"  # hand-written

[nuke]
worker_job_types = nuke

[ws01] : nuke
worker_cpus = 2
# the comp department's workstation
"""


def host(os_name="linux", templates=("gpu",), **settings):
    return {"os": os_name, "templates": list(templates), "settings": settings}


def farm(cpus=4):
    return {"render01": host(worker_cpus=cpus), "render02": host(worker_cpus=cpus), "render03": host(worker_cpus=8)}


def lines_kept(before, after):
    """Every line of ``before`` appears in ``after``, in the same order."""
    remaining = after.splitlines(True)
    for line in before.splitlines(True):
        assert line in remaining, "lost: %r\n%s" % (line, after)
        remaining = remaining[remaining.index(line) + 1:]


def test_a_fresh_file_holds_the_record_the_template_and_a_range():
    text = merge("", farm(), TEMPLATES)
    assert "# renderfarm.qube manages [render[01-02]]: worker_cpus\n" in text
    assert "# renderfarm.qube manages [gpu]: worker_groups\n" in text
    assert "[global_config]\ntemplates = gpu\n" in text
    assert "[render[01-02]] : gpu\nworker_cpus = 4\n" in text and "[render03] : gpu\nworker_cpus = 8\n" in text
    assert "[default]" not in text, "nothing is hoisted into [default]"
    assert merge(text, farm(), TEMPLATES) == text
    for name, entry in farm().items():
        assert expand(text, name, "linux") == {"worker_groups": '"gpu,render"', "worker_cpus": str(entry["settings"]["worker_cpus"])}


def test_foreign_sections_comments_and_keys_are_kept_byte_for_byte():
    text = merge(FOREIGN, farm(), TEMPLATES)
    body = FOREIGN.replace("templates = nuke\n", "")
    lines_kept(body, text)
    assert 'templates = "nuke,gpu"\n' in text
    assert expand(text, "ws01", "linux") == expand(FOREIGN, "ws01", "linux"), "an unmanaged worker sees no change"
    assert merge(text, farm(), TEMPLATES) == text
    # QubeUI adds a key to a managed worker's section and edits the foreign one: both survive a run.
    edited = text.replace("[render03] : gpu\nworker_cpus = 8\n", "[render03] : gpu\nworker_cpus = 8\nworker_flags = dynamic\n")
    edited = edited.replace("worker_cpus = 2\n", "worker_cpus = 3\n")
    again = merge(edited, farm(), TEMPLATES)
    assert again == edited
    assert "worker_flags = dynamic" in again and "[ws01] : nuke\nworker_cpus = 3\n" in again


def test_workers_not_in_this_run_keep_their_sections_and_a_range_splits():
    text = merge("", farm(), TEMPLATES)
    batch = merge(text, {"render02": host(worker_cpus=6)}, TEMPLATES)
    assert expand(batch, "render01", "linux")["worker_cpus"] == "4"
    assert expand(batch, "render02", "linux")["worker_cpus"] == "6"
    assert expand(batch, "render03", "linux")["worker_cpus"] == "8"
    assert "[render01] : gpu" in batch and "[render02] : gpu" in batch
    done = merge(batch, {"render01": host(worker_cpus=6)}, TEMPLATES)
    assert "[render[01-02]] : gpu\nworker_cpus = 6\n" in done


def test_farm_wide_keys_are_declared_not_hoisted_and_taken_back():
    text = merge(FOREIGN, farm(), TEMPLATES, farm_wide={"default": {"worker_flags": ["remove_logs"]}})
    assert "# renderfarm.qube manages [default]: worker_flags\n" in text
    assert 'worker_description = "studio farm"  # hand-written\n' in text
    assert expand(text, "ws01", "linux")["worker_flags"] == "remove_logs"
    back = merge(text, farm(), TEMPLATES, farm_wide={})
    assert "worker_flags" not in back and 'worker_description = "studio farm"  # hand-written' in back
    assert "manages [default]" not in back


def test_restricted_host_policy_names_every_managed_worker():
    """CPR supervisor_host_policy.md: restricted -> hosts must be named in the worker config file."""
    hosts = {"render01": host(templates=()), "render02": host(templates=())}
    assert "[render01]" not in merge("", hosts, {})
    text = merge("", hosts, {}, restricted=True)
    assert "[render01]\n" in text and "[render02]\n" in text and "[render[" not in text


def test_an_old_whole_file_is_taken_over_without_losing_a_key():
    inventory = {"render01": host(worker_cpus=4), "render02": host(worker_cpus=4),
                 "render03": host(worker_cpus=4, worker_description="big node"),
                 "ws5": host(os_name="winnt", templates=(), worker_cpus=4)}
    old = render([dict(v, name=k) for k, v in inventory.items()], TEMPLATES,
                 header="# Managed by Ansible (renderfarm.qube.supervisor_config). Changes made here are overwritten.")
    assert "[default]" in old  # the earlier release hoisted the common value
    known = dict((name, entry["os"]) for name, entry in inventory.items())
    before = dict((name, expand(old, name, os_name)) for name, os_name in known.items())
    # First run of the new release, for one batch only: every worker keeps its effective config.
    text = merge(old, {"render01": inventory["render01"]}, TEMPLATES, known_hosts=known)
    assert "Changes made here are overwritten" not in text
    assert text.count("\n[render01]") + text.count("\n[render[01") == 1, text
    for name, os_name in known.items():
        assert expand(text, name, os_name) == before[name], name
    assert merge(text, inventory, TEMPLATES, known_hosts=known) == text


def test_names_limited_only_for_workers_that_get_a_section():
    assert "render-04" not in merge("", {"render-04": host(templates=())}, TEMPLATES)
    with pytest.raises(QbwrkError, match="qube_worker_name"):
        merge("", {"render-04": host(worker_cpus=2)}, TEMPLATES)
    with pytest.raises(QbwrkError, match="not defined"):
        merge("", {"a": host(templates=("nope",))}, TEMPLATES)


def test_check_reports_a_later_foreign_section_overriding_a_managed_key():
    text = merge("", farm(), TEMPLATES) + "[render03]\nworker_cpus = 2\n"
    assert check(text, farm(), TEMPLATES) == [
        "render03: worker_cpus would be another value instead of the inventory's value (section [render03] sets it "
        "later in the file)"]
    assert check(merge("", farm(), TEMPLATES), farm(), TEMPLATES) == []


def test_host_names_of_ranges():
    assert host_names("render[001-003]") == ["render001", "render002", "render003"]
    assert host_names("fast[9-11]") == ["fast9", "fast10", "fast11"]
    assert host_names("w01") == ["w01"]


def test_a_worker_is_put_back_exactly_from_its_previous_section():
    from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk_owned import managed_sections, sections_of
    text = merge(FOREIGN, farm(), TEMPLATES)
    before = sections_of(text)
    assert before["render03"] == {"templates": ["gpu"], "values": {"worker_cpus": "8"}}
    assert "ws01" not in before
    changed = merge(text, {"render03": host(worker_cpus=2)}, TEMPLATES)
    back = merge(changed, {"render03": dict(before["render03"], os="linux")}, TEMPLATES)
    assert back == text
    assert managed_sections(text) == ["global_config", "gpu", "render[01-02]", "render03"]


def test_a_second_section_of_the_same_name_is_somebody_elses():
    text = merge("", farm(), TEMPLATES) + "[default]\nworker_flags = dynamic\n\n[render03]\nworker_groups = extra\n"
    again = merge(text, farm(), TEMPLATES, farm_wide={"default": {"worker_cpus": 1}})
    assert "[default]\nworker_flags = dynamic\n" in again and "[render03]\nworker_groups = extra\n" in again
    assert again.count("worker_cpus = 1") == 1

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_qbwrk: shared qbwrk.conf, supervisor settings, check mode, redacted diff, conflicts, lock."""

import fcntl
import os
import stat

import pytest

from ansible_collections.renderfarm.qube.plugins.modules import qube_qbwrk

HASH = "06dee4e09a917474ea788e4f5c105bc505cf8a5629be461d3415fe60cbbbba6a"
FOREIGN = "# the studio's own\n[ws01]\nworker_cpus = 2\n"


@pytest.fixture
def run(run_module):
    return run_module.bind(qube_qbwrk, diff=True, failed=False)


@pytest.fixture
def sup(tmp_path):
    """A supervisor: its qb.conf names the worker config file; the lock lives in the test folder."""
    qb = tmp_path / "qb.conf"
    wrk = tmp_path / "myqbworkers.conf"
    qb.write_text("supervisor_worker_configfile = %s\n" % wrk)
    wrk.write_text(FOREIGN)
    return {"qb": qb, "wrk": wrk, "args": {"supervisor_qb_conf": str(qb), "lock_file": str(tmp_path / "lock"),
                                           "mode": "0600"}}


def hosts(cpus=4, password=None):
    settings = {"worker_cpus": cpus}
    if password:
        settings["proxy_password"] = password
    return {"render01": {"os": "linux", "templates": [], "settings": settings},
            "win01": {"os": "winnt", "templates": [], "settings": dict(settings, worker_cpus=1)}}


def test_merge_into_the_file_the_supervisor_names(run, sup):
    """CPR supervisor_worker_configfile.md: the path comes from the supervisor's qb.conf."""
    args = dict(sup["args"], hosts=hosts())
    result = run(args)
    text = sup["wrk"].read_text()
    assert result["changed"] and result["path"] == str(sup["wrk"]) and result["host_policy"] == "open"
    assert text.endswith("[render01]\nworker_cpus = 4\n\n[win01]\nworker_cpus = 1\n\n") and FOREIGN in text
    assert stat.S_IMODE(os.stat(str(sup["wrk"])).st_mode) == 0o600
    assert result["changed_hosts"] == ["render01", "win01"] and result["backup_file"]
    again = run(args)
    assert not again["changed"] and again["changed_hosts"] == []


def test_check_mode_writes_nothing_and_the_diff_is_redacted(run, sup):
    result = run(dict(sup["args"], hosts=hosts(password=HASH)), check_mode=True)
    assert result["changed"] and sup["wrk"].read_text() == FOREIGN
    assert HASH not in repr(result) and "proxy_password = REDACTED" in result["diff"]["after"]
    real = run(dict(sup["args"], hosts=hosts(password=HASH)))
    assert HASH in sup["wrk"].read_text() and HASH not in repr(real)


def test_restricted_policy_names_every_worker(run, sup):
    """CPR supervisor_host_policy.md: restricted -> every worker named in the worker config file."""
    sup["qb"].write_text(sup["qb"].read_text() + "supervisor_host_policy = restrictedbyname\n")
    result = run(dict(sup["args"], hosts={"a1": {"os": "linux"}, "a2": {"os": "linux"}}))
    assert result["host_policy"] == "restrictedbyname"
    assert "[a1]\n" in sup["wrk"].read_text() and "[a2]\n" in sup["wrk"].read_text()


def test_a_later_section_of_somebody_else_that_overrides_a_managed_key_fails_first(run, sup):
    run(dict(sup["args"], hosts=hosts()))
    text = sup["wrk"].read_text() + "[render01]\nworker_cpus = 16\n"
    sup["wrk"].write_text(text)
    failed = run(dict(sup["args"], hosts=hosts(cpus=6)), failed=True)
    assert "section [render01] sets it later in the file" in failed["msg"] and "nothing was changed" in failed["msg"]
    assert sup["wrk"].read_text() == text


def test_a_bad_model_fails_with_the_fix_and_changes_nothing(run, sup):
    failed = run(dict(sup["args"], hosts={"render-01": {"os": "linux", "settings": {"worker_cpus": 2}}}),
                 failed=True)
    assert "qube_worker_name" in failed["msg"] and sup["wrk"].read_text() == FOREIGN


def test_previous_sections_are_returned_to_put_a_failed_batch_back(run, sup):
    run(dict(sup["args"], hosts=hosts()))
    result = run(dict(sup["args"], hosts={"render01": {"os": "linux", "settings": {"worker_cpus": 9}}}))
    assert result["changed_hosts"] == ["render01"]
    assert result["previous"] == {"render01": {"templates": [], "values": {"worker_cpus": "4"}}}
    run(dict(sup["args"], hosts={"render01": dict(result["previous"]["render01"], os="linux")}))
    assert "[render01]\nworker_cpus = 4\n" in sup["wrk"].read_text()


def test_a_failed_batch_is_put_back_from_the_backup_secrets_included(run, sup):
    """The rollback of a batch: the worker's section as the batch's backup has it, the encrypted
    password too (it never leaves the supervisor), and the keys a read-back must see again."""
    run(dict(sup["args"], hosts=hosts(password=HASH)))
    batch = run(dict(sup["args"], hosts={"render01": {"os": "linux", "settings": {"worker_cpus": 9,
                                                                                    "worker_description": "new"}}}))
    assert batch["changed_hosts"] == ["render01"] and batch["backup_file"]
    before_rollback = sup["wrk"].read_text()
    result = run(dict(sup["args"], restore={"render01": "linux"}, restore_from=batch["backup_file"]))
    text = sup["wrk"].read_text()
    assert result["changed"] and result["changed_hosts"] == ["render01"]
    assert "[render01]\nproxy_password = %s\nworker_cpus = 4\n" % HASH in text
    assert "worker_description" not in text and "[win01]" in text and text != before_rollback
    assert result["restored"] == {"render01": {"proxy_password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "worker_cpus": "4"}}
    assert HASH not in repr(result)
    again = run(dict(sup["args"], restore={"render01": "linux"}, restore_from=batch["backup_file"]))
    assert not again["changed"] and again["restored"] == {"render01": {}}


def test_restore_needs_its_backup_and_excludes_hosts(run, sup, tmp_path):
    failed = run(dict(sup["args"], restore={"render01": "linux"}, restore_from=str(tmp_path / "gone")),
                 failed=True)
    assert "does not exist" in failed["msg"] and sup["wrk"].read_text() == FOREIGN
    failed = run(dict(sup["args"], hosts=hosts(), restore={"render01": "linux"}, restore_from=str(sup["wrk"])),
                 failed=True)
    assert "mutually exclusive" in failed["msg"]


def test_a_batch_write_leaves_the_take_over_to_the_supervisor_play(run, sup):
    old = "# Managed by Ansible (renderfarm.qube.supervisor_config). Changes made here are overwritten.\n" \
          "[default]\nworker_cpus = 4\n"
    sup["wrk"].write_text(old)
    failed = run(dict(sup["args"], hosts=hosts(), takeover=False), failed=True)
    assert "run the supervisor play first" in failed["msg"] and sup["wrk"].read_text() == old
    taken = run(dict(sup["args"], known_hosts={"render01": "linux", "win01": "winnt"}))
    assert taken["changed"] and "[render01]\nworker_cpus = 4\n" in sup["wrk"].read_text()
    assert run(dict(sup["args"], hosts={"render01": hosts()["render01"]}, takeover=False))["changed"] is False


def test_the_push_runs_after_a_change_and_stays_owed_when_it_fails(run, sup, tmp_path):
    marker, pushed = tmp_path / "push-pending", tmp_path / "pushed"
    args = dict(sup["args"], pending_file=str(marker))
    failed = run(dict(args, hosts=hosts(), push=["/bin/sh", "-c", "echo 'cannot reach the supervisor' >&2; exit 2"]),
                 failed=True)
    assert "render01" in failed["changed_hosts"] and "[render01]" in sup["wrk"].read_text()
    assert "cannot reach the supervisor" in failed["push_error"] and marker.exists()
    # Nothing changes now, but the push is owed: it runs, and the marker goes.
    done = run(dict(args, hosts=hosts(), push=["/bin/sh", "-c", "touch %s" % pushed]))
    assert done["changed"] and done["pushed"] and pushed.exists() and not marker.exists()
    pushed.unlink()
    again = run(dict(args, hosts=hosts(), push=["/bin/sh", "-c", "touch %s" % pushed]))
    assert not again["changed"] and not again["pushed"] and not pushed.exists()
    predicted = run(dict(args, hosts=hosts(cpus=8), push=["/bin/sh", "-c", "touch %s" % pushed]), check_mode=True)
    assert predicted["changed"] and not predicted["pushed"] and not pushed.exists()


def test_a_run_waits_for_the_lock_of_another(run, sup):
    with open(sup["args"]["lock_file"], "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        failed = run(dict(sup["args"], hosts=hosts(), lock_timeout=1), failed=True)
    assert "another run holds" in failed["msg"] and sup["wrk"].read_text() == FOREIGN

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_conf: changed / unchanged / check mode / redacted diff / backup / validate / bad input."""

import json
import os
import stat

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite
from ansible_collections.renderfarm.qube.plugins.modules import qube_conf

HASH = "06dee4e09a917474ea788e4f5c105bc505cf8a5629be461d3415fe60cbbbba6a"
DRIVE_HASH = "0fbc8b129210914f769564cbd30ae5cb4397f9615299ce8d1e1cf065e97bf063"
QB_CONF = """# qb.conf written by the installer
#qb_supervisor =
qb_supervisor = old-sup
worker_cpus = 4 # slots
#worker_flags = "remove_logs"
"""


@pytest.fixture
def run(run_module):
    return run_module.bind(qube_conf, diff=True, failed=False)


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "qb.conf"
    path.write_text(QB_CONF)
    path.chmod(0o644)
    return path


def test_set_changes_only_the_managed_lines(run, conf):
    result = run({"path": str(conf), "settings": {"qb_supervisor": "sup01", "worker_groups": ["gpu", "nuke"]}})
    assert result["changed"] and result["changed_keys"] == ["qb_supervisor", "worker_groups"]
    assert conf.read_text() == QB_CONF.replace("= old-sup", "= sup01") + 'worker_groups = "gpu,nuke"\n'
    assert stat.S_IMODE(conf.stat().st_mode) == 0o644
    again = run({"path": str(conf), "settings": {"qb_supervisor": "sup01", "worker_groups": ["gpu", "nuke"]}})
    assert not again["changed"] and again["msg"].endswith("is up to date")


def test_equivalent_value_is_unchanged_and_remove_works(run, conf):
    assert not run({"path": str(conf), "settings": {"worker_cpus": 4}})["changed"]
    result = run({"path": str(conf), "remove": ["worker_cpus", "not_there"]})
    assert result["changed_keys"] == ["worker_cpus"] and "worker_cpus = 4" not in conf.read_text()
    assert "#worker_flags" in conf.read_text()


def test_check_mode_reports_but_does_not_write(run, conf, tmp_path):
    result = run({"path": str(conf), "settings": {"worker_cpus": 8}}, check_mode=True)
    assert result["changed"] and "worker_cpus = 8 # slots" in result["diff"]["after"]
    assert conf.read_text() == QB_CONF
    missing = tmp_path / "new.conf"
    assert run({"path": str(missing), "settings": {"worker_cpus": 1}}, check_mode=True)["changed"]
    assert not missing.exists()


def test_secrets_are_redacted_in_diff_and_output_and_force_0600(run, conf):
    settings = {"proxy_password": HASH, "worker_drive_map": [
        {"drive": "X:", "path": "\\\\nas\\x", "user": "render", "password_hash": DRIVE_HASH}]}
    result = run({"path": str(conf), "settings": settings, "mode": "0644"})
    dumped = json.dumps(result)
    assert HASH not in dumped and DRIVE_HASH not in dumped
    assert "proxy_password = REDACTED" in result["diff"]["after"]
    assert "X:|render:REDACTED@\\\\nas\\x" in result["diff"]["after"]
    assert "worker_cpus = 4 # slots" in result["diff"]["after"]
    assert HASH in conf.read_text() and stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert any("0600" in warning for warning in result["warnings"])
    again = run({"path": str(conf), "settings": {"proxy_password": HASH}, "mode": "0644"})
    assert not again["changed"] and stat.S_IMODE(conf.stat().st_mode) == 0o600


def test_new_secret_file_is_created_0600(run, tmp_path):
    path = tmp_path / "qbwrk.conf"
    content = "[default]\nproxy_account = render\nproxy_password = %s\n" % HASH
    result = run({"path": str(path), "content": content})
    assert result["changed"] and path.read_text() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert HASH not in json.dumps(result)
    assert not run({"path": str(path), "content": content})["changed"]


def test_backup_keeps_the_old_file(run, conf):
    result = run({"path": str(conf), "settings": {"worker_cpus": 2}, "backup": True})
    assert open(result["backup_file"]).read() == QB_CONF


def test_validate_failure_leaves_the_file_and_redacts_output(run, conf, tmp_path):
    checker = tmp_path / "check.sh"
    checker.write_text('#!/bin/sh\ncat "$1" >&2\nexit 3\n')
    checker.chmod(0o755)
    result = run({"path": str(conf), "settings": {"proxy_password": HASH}, "validate": "%s %%s" % checker,
                  "backup": True}, failed=True)
    assert "exited 3" in result["msg"] and "proxy_password = REDACTED" in result["msg"]
    assert HASH not in json.dumps(result)
    assert conf.read_text() == QB_CONF
    assert sorted(os.listdir(str(tmp_path))) == ["check.sh", "qb.conf"]


def test_validate_success_and_missing_placeholder(run, conf, tmp_path):
    ok = run({"path": str(conf), "settings": {"worker_cpus": 6}, "validate": "/bin/grep -q worker_cpus %s"})
    assert ok["changed"]
    bad = run({"path": str(conf), "settings": {"worker_cpus": 7}, "validate": "/bin/true"}, failed=True)
    assert "must contain %s" in bad["msg"]


@pytest.mark.parametrize("args,message", [
    ({"settings": {"worker_description": 'a "quoted" word'}}, "cannot set worker_description"),
    ({"settings": {"proxy_password": 'x"y'}}, "cannot set proxy_password: its value cannot be written"),
    ({"settings": {"worker_cpus": None}}, "list the key in remove"),
    ({"settings": {"worker_drive_map": [{"drive": "X:", "path": "C:\\x"}]}}, "not a UNC path"),
    ({"settings": {"worker_drive_map": [{"drive": "X:", "password_hash": HASH}]}}, "entry 1 needs drive and path"),
    ({"content": "a = {\n"}, "content is not a valid Qube! file"),
    ({"content": "x = 1", "settings": {"a": 1}}, "mutually exclusive"),
])
def test_bad_input_fails_with_a_clear_message(run, conf, args, message):
    result = run(dict(args, path=str(conf)), failed=True)
    assert message in result["msg"] and HASH not in result["msg"]
    assert conf.read_text() == QB_CONF


def test_sectioned_file_refuses_settings_and_missing_file_without_create(run, tmp_path):
    path = tmp_path / "qbwrk.conf"
    path.write_text("[default]\nworker_cpus = 1\n")
    assert "manage it with content" in run({"path": str(path), "settings": {"a": 1}}, failed=True)["msg"]
    missing = str(tmp_path / "nope.conf")
    assert "create is false" in run({"path": missing, "settings": {"a": 1}, "create": False},
                                    failed=True)["msg"]


def test_pending_file_keeps_reporting_changed_until_the_handler_removes_it(run, conf, tmp_path):
    marker = tmp_path / "state" / "qb.conf.restart-pending"
    args = {"path": str(conf), "settings": {"worker_cpus": 2}, "pending_file": str(marker)}
    checked = run(args, check_mode=True)
    assert checked["changed"] and not marker.exists() and not checked["pending"]
    first = run(args)
    assert first["changed"] and first["pending"] and first["pending_file"] == str(marker)
    assert marker.exists() and stat.S_IMODE(marker.parent.stat().st_mode) == 0o700
    # The handler never ran (run killed, host lost): the next run is still "changed".
    again = run(args)
    assert again["changed"] and again["pending"] and "has not been applied yet" in again["msg"]
    assert conf.read_text() == QB_CONF.replace("worker_cpus = 4", "worker_cpus = 2")
    marker.unlink()  # what the restart handler does once the change is applied
    done = run(args)
    assert not done["changed"] and not done["pending"] and done["msg"].endswith("is up to date")


def test_leftover_temp_files_of_dead_runs_are_removed_live_ones_kept(run, conf, tmp_path):
    import subprocess
    child = subprocess.Popen(["true"])
    child.wait()
    dead = tmp_path / (".qube_conf.%d.k2j3h4g5" % child.pid)
    live = tmp_path / ".qube_conf.1.abcdefgh"  # pid 1 is alive
    dead.write_text("half a file")
    live.write_text("someone else is writing")
    result = run({"path": str(conf), "settings": {"worker_cpus": 4}})
    assert not result["changed"] and result["removed_temp_files"] == [str(dead)]
    assert not dead.exists() and live.exists()
    assert any("interrupted earlier run removed" in warning for warning in result["warnings"])


def test_disk_full_while_writing_fails_naming_the_file_and_leaves_it_intact(run, conf, tmp_path, monkeypatch):
    import errno

    def no_space(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(confwrite.os, "fsync", no_space)
    result = run({"path": str(conf), "settings": {"worker_cpus": 2}, "backup": True,
                  "pending_file": str(tmp_path / "pending")}, failed=True)
    assert result["msg"] == ("%s: could not write the new content to a temporary file in %s: [Errno 28] "
                             "No space left on device; %s is unchanged" % (conf, tmp_path, conf))
    assert conf.read_text() == QB_CONF
    assert sorted(os.listdir(str(tmp_path))) == ["qb.conf"]


def test_failed_backup_leaves_no_partial_copy_and_no_temp_file(run, conf, tmp_path, monkeypatch):
    import errno

    def no_space(_src, _dst, *args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(confwrite.shutil, "copyfileobj", no_space)
    result = run({"path": str(conf), "settings": {"worker_cpus": 2}, "backup": True}, failed=True)
    assert "could not back up the current file: [Errno 28] No space left on device" in result["msg"]
    assert conf.read_text() == QB_CONF
    assert sorted(os.listdir(str(tmp_path))) == ["qb.conf"]


def test_backup_of_a_secret_file_is_never_wider_than_0600(run, conf):
    settings = {"proxy_password": HASH}
    run({"path": str(conf), "settings": settings})
    result = run({"path": str(conf), "settings": dict(settings, worker_cpus=3), "backup": True})
    assert stat.S_IMODE(os.stat(result["backup_file"]).st_mode) == 0o600
    assert HASH in open(result["backup_file"]).read()


SUPERVISOR_CONF = """# supervisor qb.conf
supervisor_job_flags = "auto_mount,export_environment"  # the site's own flags
supervisor_flags = enforce_password,host_recontact,retry_busy
"""
LIST_ITEMS = [{"key": "supervisor_job_flags", "present": ["disable_windows_job_object"], "default": ["auto_mount"]},
              {"key": "supervisor_flags", "absent": ["enforce_password"]}]


def test_list_items_keep_the_site_flags_and_drop_enforce_password(run, tmp_path):
    """CPR supervisor_job_flags.md (sites add flags) and AUTH step 4 (remove enforce_password)."""
    path = tmp_path / "qb.conf"
    path.write_text(SUPERVISOR_CONF)
    result = run({"path": str(path), "list_items": LIST_ITEMS})
    assert result["changed"] and result["changed_keys"] == ["supervisor_job_flags", "supervisor_flags"]
    assert path.read_text() == ("# supervisor qb.conf\n"
                                'supervisor_job_flags = "auto_mount,export_environment,disable_windows_job_object"'
                                "  # the site's own flags\n"
                                'supervisor_flags = "host_recontact,retry_busy"\n')
    assert not run({"path": str(path), "list_items": LIST_ITEMS})["changed"]


def test_list_items_start_from_the_vendor_default_and_refuse_a_mask(run, tmp_path):
    path = tmp_path / "qb.conf"
    path.write_text("qb_supervisor = sup\n")
    run({"path": str(path), "list_items": LIST_ITEMS})
    # supervisor_flags unset: the vendor default has no enforce_password, nothing to write.
    assert path.read_text() == 'qb_supervisor = sup\nsupervisor_job_flags = "auto_mount,disable_windows_job_object"\n'
    path.write_text("supervisor_flags = 1027\n")
    failed = run({"path": str(path), "list_items": LIST_ITEMS[1:]}, failed=True)
    assert "supervisor_flags is the number 1027" in failed["msg"] and path.read_text() == "supervisor_flags = 1027\n"


def test_remove_values_takes_back_only_our_value(run, tmp_path):
    path = tmp_path / "qb.conf"
    path.write_text("worker_logfile = /var/spool/qube/desktop/workerlog\nworker_pidfile = /run/site.pid\n")
    args = {"path": str(path), "remove_values": {"worker_logfile": "/var/spool/qube/desktop/workerlog",
                                                 "worker_pidfile": "/var/spool/qube/desktop/worker.pid"}}
    assert run(args, check_mode=True)["changed"] and "workerlog" in path.read_text()
    result = run(args)
    assert result["changed_keys"] == ["worker_logfile"] and path.read_text() == "worker_pidfile = /run/site.pid\n"
    assert not run(args)["changed"]

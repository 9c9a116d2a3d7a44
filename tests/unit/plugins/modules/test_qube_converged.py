# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_converged writes the record (0600, digests and the report row, never in check mode, not
again when it is the same); qube_host_check's ``converged`` option reads it back."""

import json
import os
import stat

import pytest
import yaml

from ansible.module_utils import basic
from ansible_collections.renderfarm.qube.plugins.filter.identity import host_check_spec
from ansible_collections.renderfarm.qube.plugins.module_utils import converged
from ansible_collections.renderfarm.qube.plugins.modules import qube_converged, qube_host_check

UNIT = "ActiveState=active\nSubState=running\nUnitFileState=enabled\n"
PACKAGES = "qube-core 8.0-1 install ok installed\nqube-worker 8.0-1 install ok installed\n"
REPORT = {"mode": "service", "job_identity": "qubeproxy", "config_state": "in_sync"}


class Host(object):
    """What AnsibleModule.run_command answers on this pretend worker (systemctl, dpkg-query).

    The host check's own package look (dpkg-query by its full path) finds the worker not
    installed, so that the package file in its spec is all it needs and it reports no problem."""

    def __init__(self):
        self.unit = UNIT
        self.packages = PACKAGES
        self.calls = []

    def run_command(self, args, **_kwargs):
        self.calls.append(list(args))
        name = os.path.basename(args[0])
        if name == "systemctl":
            return 0, self.unit, ""
        if name == "dpkg-query" and not os.path.isabs(args[0]):  # the look's; the host check's finds nothing
            return 0, self.packages, ""
        return 1, "", "%s: not on this pretend host" % name

    def digest(self, spec):
        return converged.state_digest(spec, self.run_command)


@pytest.fixture
def host(monkeypatch):
    pretend = Host()
    monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda _module, args, **kwargs: pretend.run_command(args))
    # every command the pretend worker answers is installed (converged.command_runner asks first)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda _module, name, *args, **kwargs: "/usr/bin/" + name)
    return pretend


@pytest.fixture
def spec(tmp_path):
    (tmp_path / "qb.conf").write_text("[worker]\nworker_cpus = 8\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "worker_mode.json").write_text("{}\n")
    return {"eligible": True, "why": "", "state_dir": str(state), "inputs": "inputs-1",
            "files": [str(tmp_path / "qb.conf")], "trees": [str(state)], "accounts": [],
            "units": ["worker"], "packages": ["qube-core", "qube-worker"],
            "pending": [str(state / "qb.conf.restart-pending")],
            "proof": {"required": False, "path": str(state / "identity_proof.json"), "max_age_hours": 20}}


@pytest.fixture
def record(run_module):
    return run_module.bind(qube_converged)


def _path(spec):
    return os.path.join(spec["state_dir"], "converged.json")


def test_writes_the_record_0600_with_inputs_state_and_report(record, spec, host):
    result = record({"spec": spec, "report": REPORT}, failed=False)
    assert result["recorded"] is True and result["changed"] is False
    assert result["path"] == _path(spec)
    assert stat.S_IMODE(os.stat(_path(spec)).st_mode) == 0o600
    with open(_path(spec)) as handle:
        written = json.load(handle)
    assert written["inputs"] == "inputs-1"
    assert written["state"] == host.digest(spec)
    assert written["report"] == REPORT
    assert written["recorded_at"].endswith("Z") and len(written["recorded_at"]) == 20
    assert ["systemctl", "show"] == host.calls[0][:2]
    assert sorted(os.listdir(spec["state_dir"])) == ["converged.json", "worker_mode.json"]  # no temp file left


def test_creates_the_state_folder_0700(record, spec, host, tmp_path):
    spec = dict(spec, state_dir=str(tmp_path / "new" / "state"), trees=[])
    assert record({"spec": spec}, failed=False)["recorded"] is True
    assert stat.S_IMODE(os.stat(spec["state_dir"]).st_mode) == 0o700
    assert converged.load_record(_path(spec))["report"] == {}


def test_the_record_holds_digests_and_the_report_only(record, spec, host):
    record({"spec": spec, "report": REPORT}, failed=False)
    with open(_path(spec)) as handle:
        assert sorted(json.load(handle)) == ["inputs", "recorded_at", "report", "state"]


def test_check_mode_writes_nothing(record, spec, host):
    result = record({"spec": spec, "report": REPORT}, check_mode=True, failed=False)
    assert result["recorded"] is False and result["changed"] is False
    assert not os.path.exists(_path(spec))


def test_the_same_record_is_not_written_again(record, spec, host):
    record({"spec": spec, "report": REPORT}, failed=False)
    os.utime(_path(spec), (1000000000, 1000000000))
    with open(_path(spec)) as handle:
        before = handle.read()
    result = record({"spec": spec, "report": REPORT}, failed=False)
    assert result["recorded"] is False and result["changed"] is False
    assert os.stat(_path(spec)).st_mtime == 1000000000
    with open(_path(spec)) as handle:
        assert handle.read() == before


@pytest.mark.parametrize("what", ["inputs", "state", "report"])
def test_a_different_record_is_written_again(record, spec, host, what):
    record({"spec": spec, "report": REPORT}, failed=False)
    os.utime(_path(spec), (1000000000, 1000000000))
    report = REPORT
    if what == "inputs":
        spec = dict(spec, inputs="inputs-2")
    elif what == "state":
        host.unit = UNIT.replace("enabled", "disabled")
    else:
        report = dict(REPORT, config_state="pushed")
    assert record({"spec": spec, "report": report}, failed=False)["recorded"] is True
    assert os.stat(_path(spec)).st_mtime != 1000000000
    assert stat.S_IMODE(os.stat(_path(spec)).st_mode) == 0o600


def test_not_eligible_records_nothing(record, spec, host):
    result = record({"spec": {"eligible": False, "why": "qube_skip_converged is false",
                              "state_dir": spec["state_dir"]}}, failed=False)
    assert result == dict(result, recorded=False, changed=False, path="", msg="qube_skip_converged is false")
    assert not os.path.exists(_path(spec))
    assert host.calls == []


def test_the_record_written_makes_the_next_look_converged(record, spec, host):
    record({"spec": spec, "report": REPORT}, failed=False)
    same, reason, rec = converged.look(spec, host.run_command, 0)
    assert same is True and reason.startswith("converged: nothing changed since ")
    assert rec["report"] == REPORT


def test_qube_converged_documentation_is_yaml_and_matches_its_options():
    doc = yaml.safe_load(qube_converged.DOCUMENTATION)
    assert sorted(doc["options"]) == ["report", "spec"]
    assert sorted(yaml.safe_load(qube_converged.RETURN)) == ["path", "recorded"]


def test_qube_host_check_documents_the_converged_option():
    doc = yaml.safe_load(qube_host_check.DOCUMENTATION)
    assert doc["options"]["converged"]["type"] == "dict"
    assert "converged" in yaml.safe_load(qube_host_check.RETURN)


# qube_host_check's converged option -----------------------------------------------------------

@pytest.fixture
def check(run_module):
    return run_module.bind(qube_host_check)


def good_host_spec(tmp_path):
    good = host_check_spec({"ansible_facts": {"system": "Linux"}, "qube_validation_paths": [str(tmp_path)],
                            "qube_worker_install": True, "qube_worker_package_files": [__file__]}, "w01")
    good["accounts"] = []
    return good


def test_host_check_without_the_option_returns_no_verdict(check, tmp_path, host):
    assert "converged" not in check({"spec": good_host_spec(tmp_path)}, failed=False)


def test_host_check_converged(check, record, spec, host, tmp_path):
    record({"spec": spec, "report": REPORT}, failed=False)
    result = check({"spec": good_host_spec(tmp_path), "converged": spec}, failed=False)
    verdict = result["converged"]
    assert result["problems"] == [] and verdict["converged"] is True
    assert verdict["reason"].startswith("converged: nothing changed since ")
    assert verdict["recorded_at"] == converged.load_record(_path(spec))["recorded_at"]
    assert verdict["report"] == REPORT and verdict["validated_at"] == ""
    assert verdict["spec"] == spec
    assert result["changed"] is False


def test_host_check_no_record(check, spec, host, tmp_path):
    verdict = check({"spec": good_host_spec(tmp_path), "converged": spec}, failed=False)["converged"]
    assert verdict["converged"] is False and verdict["reason"] == "no record of a converged run on this host"
    assert verdict["recorded_at"] == "" and verdict["report"] == {} and verdict["spec"] == spec


def test_host_check_state_changed(check, record, spec, host, tmp_path):
    record({"spec": spec, "report": REPORT}, failed=False)
    host.packages = PACKAGES.replace("qube-worker 8.0-1", "qube-worker 8.1-0")
    verdict = check({"spec": good_host_spec(tmp_path), "converged": spec}, failed=False)["converged"]
    assert verdict["converged"] is False and verdict["reason"].startswith("something the roles manage changed")


def test_host_check_not_eligible(check, host, tmp_path):
    verdict = check({"spec": good_host_spec(tmp_path),
                     "converged": {"eligible": False, "why": "Desktop User mode workers take every role on every run"}},
                    failed=False)["converged"]
    assert verdict["converged"] is False and verdict["reason"].startswith("Desktop User mode")


def test_host_check_with_problems_is_never_converged(check, record, spec, host, tmp_path):
    record({"spec": spec, "report": REPORT}, failed=False)
    bad = host_check_spec({"ansible_facts": {"system": "Linux"}, "qube_validation_paths": [str(tmp_path / "nope")],
                           "qube_worker_install": True, "qube_worker_package_files": [__file__]}, "w01")
    bad["accounts"] = []
    result = check({"spec": bad, "converged": spec}, failed=False)
    assert result["problems"] and result["converged"]["converged"] is False


def _script(folder, name, body):
    path = folder / name
    path.write_text("#!/bin/sh\n%s\n" % body)
    path.chmod(0o755)


def test_host_check_converged_on_an_rpm_worker(check, spec, tmp_path, monkeypatch):
    """A pretend RPM host: PATH holds only systemctl and rpm (no dpkg-query, no apt-cache)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _script(folder, "systemctl", "printf 'ActiveState=active\\n'")
    _script(folder, "rpm", "exit 1")  # nothing installed
    monkeypatch.setenv("PATH", str(folder))
    with open(_path(spec), "w") as handle:  # a record, so that the look digests the host
        handle.write(converged.record_text("inputs-1", "an older state", "2026-12-06T19:00:00Z", REPORT))
    result = check({"spec": good_host_spec(tmp_path), "converged": spec})
    assert not result.get("failed"), result.get("msg")
    assert result["converged"]["reason"].startswith("something the roles manage changed")

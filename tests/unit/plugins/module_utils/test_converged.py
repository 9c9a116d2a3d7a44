# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/converged.py: every kind of drift changes the state digest, and the look says
"converged" only for a real record, the same inputs, the same state, no pending marker and a
fresh proof.  A false "converged" is the dangerous failure, so each drift has its own case."""

import grp
import os
import pwd

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import converged, validation_job

T0 = 1796500000  # a fixed "validated at" time (2026-12-05T19:46:40Z)


class Commands(object):
    """``run_command`` double: systemctl show and dpkg-query answer from ``units`` / ``packages``."""

    def __init__(self):
        self.units = {"worker": "ActiveState=active\nSubState=running\nUnitFileState=enabled\nLoadState=loaded\n"}
        self.packages = "qube-core 8.0-1 install ok installed\nqube-worker 8.0-1 install ok installed\n"
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[0] == "systemctl":
            return 0, self.units.get(argv[-1], ""), ""
        if argv[0] == "dpkg-query":
            return 0, self.packages, ""
        return 127, "", "%s: not found" % argv[0]


@pytest.fixture
def host(tmp_path):
    """A host tree: qb.conf, the state folder (with a mode record), a drop-in folder with a symlink."""
    (tmp_path / "qb.conf").write_text("[worker]\nworker_cpus = 8\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "mode.json").write_text('{"mode": "service"}\n')
    dropin = tmp_path / "worker.service.d"
    dropin.mkdir()
    (dropin / "override.conf").write_text("[Service]\nNice=5\n")
    os.symlink("override.conf", str(dropin / "link.conf"))
    return tmp_path


def spec_of(root, **extra):
    spec = {"eligible": True, "why": "", "state_dir": str(root / "state"), "inputs": "inputs-1",
            "files": [str(root / "qb.conf"), str(root / "absent.service")],
            "trees": [str(root / "state"), str(root / "worker.service.d")],
            "accounts": [], "units": ["worker"], "packages": ["qube-core", "qube-worker"],
            "pending": [str(root / "state" / "qb.conf.restart-pending")],
            "proof": {"required": False, "path": str(root / "state" / "identity_proof.json"), "max_age_hours": 20}}
    spec.update(extra)
    return spec


def digest(root, commands=None, **extra):
    return converged.state_digest(spec_of(root, **extra), commands or Commands())


def test_same_state_gives_the_same_digest(host):
    assert digest(host) == digest(host)
    assert len(digest(host)) == 64


def _content(root):
    (root / "qb.conf").write_text("[worker]\nworker_cpus = 4\n")


def _mode(root):
    os.chmod(str(root / "qb.conf"), 0o600)


def _tree_file_content(root):
    (root / "worker.service.d" / "override.conf").write_text("[Service]\nNice=0\n")


def _tree_file_mode(root):
    os.chmod(str(root / "state" / "mode.json"), 0o640)


def _tree_new_file(root):
    (root / "state" / "qb.conf.restart-pending").write_text("")


def _tree_removed_file(root):
    os.remove(str(root / "state" / "mode.json"))


def _tree_new_subfolder_file(root):
    (root / "state" / "credentials").mkdir()
    (root / "state" / "credentials" / "proxy.json").write_text("{}")


def _symlink_retargeted(root):
    os.remove(str(root / "worker.service.d" / "link.conf"))
    os.symlink("/dev/null", str(root / "worker.service.d" / "link.conf"))


def _listed_file_appears(root):
    (root / "absent.service").write_text("[Unit]\n")


def _tree_removed_whole(root):
    for name in ("override.conf", "link.conf"):
        os.remove(str(root / "worker.service.d" / name))
    os.rmdir(str(root / "worker.service.d"))


def _tree_folder_mode(root):
    os.chmod(str(root / "worker.service.d"), 0o700)


@pytest.mark.parametrize("drift", [_content, _mode, _tree_file_content, _tree_file_mode, _tree_new_file,
                                   _tree_removed_file, _tree_new_subfolder_file, _symlink_retargeted,
                                   _listed_file_appears, _tree_removed_whole])
def test_every_file_drift_changes_the_digest(host, drift):
    before = digest(host)
    drift(host)
    assert digest(host) != before


def test_a_tree_folder_mode_change_changes_the_digest(host):
    before = digest(host)
    _tree_folder_mode(host)
    assert digest(host) != before


def test_an_owner_change_changes_the_digest(host, monkeypatch):
    """chown needs root: the owner comes through os.lstat, so a wrapped lstat shows a new uid."""
    before = digest(host)
    real = os.lstat
    target = str(host / "qb.conf")

    def lstat(path):
        info = real(path)
        if path != target:
            return info
        fields = list(info)
        fields[4] = info.st_uid + 1  # st_uid
        return os.stat_result(fields)

    monkeypatch.setattr(converged.os, "lstat", lstat)
    assert digest(host) != before


def test_the_record_itself_in_a_tree_is_ignored(host):
    before = digest(host)
    (host / "state" / converged.RECORD).write_text(converged.record_text("i", "s", "2026-12-06T19:00:00Z", {}))
    assert digest(host) == before


def test_a_tree_that_is_missing_is_a_state_of_its_own(host):
    assert digest(host, trees=[str(host / "nope")]) == digest(host, trees=[str(host / "nope")])
    assert digest(host, trees=[str(host / "nope")]) != digest(host, trees=[])


def _unit_stopped(commands):
    commands.units["worker"] = commands.units["worker"].replace("active", "inactive").replace("running", "dead")


def _unit_disabled(commands):
    commands.units["worker"] = commands.units["worker"].replace("enabled", "disabled")


def _unit_dropin(commands):
    commands.units["worker"] += "DropInPaths=/etc/systemd/system/worker.service.d/x.conf\n"


def _package_upgraded(commands):
    commands.packages = commands.packages.replace("qube-worker 8.0-1", "qube-worker 8.1-0")


def _package_removed(commands):
    commands.packages = commands.packages.replace("qube-core 8.0-1 install ok installed",
                                                  "qube-core 8.0-1 deinstall ok config-files")


@pytest.mark.parametrize("drift", [_unit_stopped, _unit_disabled, _unit_dropin, _package_upgraded, _package_removed])
def test_unit_and_package_drift_changes_the_digest(host, drift):
    commands = Commands()
    before = digest(host, commands)
    drift(commands)
    assert digest(host, commands) != before


def test_units_and_packages_are_asked_with_argument_lists(host):
    commands = Commands()
    digest(host, commands)
    assert commands.calls[0][:2] == ["systemctl", "show"] and commands.calls[0][-1] == "worker"
    assert all(name in commands.calls[0][2] for name in ("ActiveState", "UnitFileState", "DropInPaths"))
    assert commands.calls[1][0] == "dpkg-query" and commands.calls[1][-2:] == ["qube-core", "qube-worker"]


def test_no_packages_no_package_query(host):
    commands = Commands()
    digest(host, commands, packages=[])
    assert [call[0] for call in commands.calls] == ["systemctl"]


class RpmCommands(Commands):
    """An RPM worker (supported by worker_mode's install_Linux.yml): no dpkg-query, rpm answers."""

    def __init__(self):
        super(RpmCommands, self).__init__()
        self.rpm = "qube-core-8.0-1.x86_64\nqube-worker-8.0-1.x86_64\n"

    def __call__(self, argv):
        if argv[0] == "rpm":
            self.calls.append(list(argv))
            return 0, self.rpm, ""
        return super(RpmCommands, self).__call__(argv) if argv[0] != "dpkg-query" else (127, "", "not found")


def test_a_package_upgrade_on_an_rpm_worker_changes_the_digest(host):
    commands = RpmCommands()
    before = digest(host, commands)
    commands.rpm = commands.rpm.replace("qube-worker-8.0-1", "qube-worker-8.1-0")
    assert digest(host, commands) != before


# Accounts -------------------------------------------------------------------------------------

class Accounts(object):
    """pwd/grp/shadow doubles for ``converged`` (the real host's accounts stay out of the test)."""

    def __init__(self):
        self.passwd = {"qubeproxy": ["qubeproxy", "x", 990, 990, "Qube proxy", "/home/qubeproxy", "/bin/bash"]}
        self.groups = [("qubeproxy", []), ("render", ["qubeproxy"]), ("video", ["artist"])]
        self.shadow = {"qubeproxy": ["$6$salt$hash", "20000", "0", "99999", ""]}

    def install(self, monkeypatch):
        def getpwnam(name):
            if name not in self.passwd:
                raise KeyError("getpwnam(): name not found: %r" % name)
            return pwd.struct_passwd(self.passwd[name])

        def getgrall():
            return [grp.struct_group((name, "x", 1000 + i, list(members)))
                    for i, (name, members) in enumerate(self.groups)]

        monkeypatch.setattr(converged.pwd, "getpwnam", getpwnam)
        monkeypatch.setattr(converged.grp, "getgrall", getgrall)
        monkeypatch.setattr(converged, "_shadow_field", lambda name, shadow_path="/etc/shadow": self.shadow.get(name))
        return self


def _shell(accounts):
    accounts.passwd["qubeproxy"][6] = "/usr/sbin/nologin"


def _home(accounts):
    accounts.passwd["qubeproxy"][5] = "/var/lib/qubeproxy"


def _uid(accounts):
    accounts.passwd["qubeproxy"][2] = 991


def _joined_group(accounts):
    accounts.groups[2] = ("video", ["artist", "qubeproxy"])


def _left_group(accounts):
    accounts.groups[1] = ("render", [])


def _password(accounts):
    accounts.shadow["qubeproxy"][0] = "$6$salt$otherhash"


def _locked(accounts):
    accounts.shadow["qubeproxy"][0] = "!$6$salt$hash"


def _expiry(accounts):
    accounts.shadow["qubeproxy"][4] = "20500"


def _deleted(accounts):
    del accounts.passwd["qubeproxy"]


@pytest.mark.parametrize("drift", [_shell, _home, _uid, _joined_group, _left_group, _password, _locked, _expiry,
                                   _deleted])
def test_every_account_drift_changes_the_digest(host, monkeypatch, drift):
    accounts = Accounts().install(monkeypatch)
    before = digest(host, accounts=["qubeproxy"])
    drift(accounts)
    assert digest(host, accounts=["qubeproxy"]) != before


def test_a_missing_account_and_an_unreadable_shadow_are_states_too(host, monkeypatch):
    accounts = Accounts().install(monkeypatch)
    missing = digest(host, accounts=["nobody-here"])
    assert missing == digest(host, accounts=["nobody-here"])
    before = digest(host, accounts=["qubeproxy"])
    accounts.shadow.clear()  # shadow not readable: None
    unreadable = digest(host, accounts=["qubeproxy"])
    assert unreadable != before and unreadable == digest(host, accounts=["qubeproxy"])
    assert converged._account_part("nobody-here") is None


def test_the_shadow_file_is_read_directly(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.write_text("root:*:19000:0:99999:7:::\nqubeproxy:$6$s$h:20000:0:99999:7:::\n")
    assert converged._shadow_field("qubeproxy", str(shadow)) == ["$6$s$h", "20000", "0", "99999", "7", "", "", ""]
    assert converged._shadow_field("nobody", str(shadow)) is None
    assert converged._shadow_field("qubeproxy", str(tmp_path / "absent")) is None


# The record -----------------------------------------------------------------------------------

def test_record_text_and_load_record_round_trip(tmp_path):
    path = tmp_path / "converged.json"
    path.write_text(converged.record_text("in", "st", "2026-12-06T19:00:00Z", {"mode": "service"}))
    assert converged.load_record(str(path)) == {"inputs": "in", "state": "st", "recorded_at": "2026-12-06T19:00:00Z",
                                                "report": {"mode": "service"}}
    assert converged.record_path({"state_dir": str(tmp_path)}) == str(path)


@pytest.mark.parametrize("text", [None, "", "not json", "[1, 2]"])
def test_load_record_of_nothing_or_garbage_is_empty(tmp_path, text):
    path = tmp_path / "converged.json"
    if text is not None:
        path.write_text(text)
    assert converged.load_record(str(path)) == {}


# look() ---------------------------------------------------------------------------------------

def record(root, commands=None, proof=None, inputs="inputs-1", **extra):
    """Write the proof (when given: (basis, time)) then the record of the host as it is now."""
    spec = spec_of(root, **extra)
    if proof is not None:
        basis, at = proof
        (root / "state" / "identity_proof.json").write_text(validation_job.proof_record_text("qubeproxy", basis, at))
    state = converged.state_digest(spec, commands or Commands())
    (root / "state" / converged.RECORD).write_text(
        converged.record_text(inputs, state, "2026-12-06T19:00:00Z", {"mode": "service"}))
    return spec


def test_not_eligible_says_why_without_reading_anything(host):
    def load(_path):
        raise AssertionError("an ineligible worker's record is not read")

    assert converged.look({"eligible": False, "why": "qube_skip_converged is false", "state_dir": "/x"}, None, T0,
                          load=load) == (False, "qube_skip_converged is false", {})


def test_no_record(host):
    assert converged.look(spec_of(host), Commands(), T0) == (False, "no record of a converged run on this host", {})


def test_fresh_record_same_everything_is_converged(host):
    spec = record(host)
    same, reason, rec = converged.look(spec, Commands(), T0)
    assert same is True and reason == "converged: nothing changed since 2026-12-06T19:00:00Z"
    assert rec["report"] == {"mode": "service"} and "validated_at" not in rec


def test_inputs_differ(host):
    spec = record(host, inputs="inputs-0")
    same, reason, rec = converged.look(spec, Commands(), T0)
    assert (same, rec) == (False, {})
    assert reason.startswith("inventory, collection or ansible-core changed") and "2026-12-06T19:00:00Z" in reason


def test_a_pending_marker_is_not_converged(host):
    spec = record(host)
    (host / "state" / "qb.conf.restart-pending").write_text("")
    same, reason, _rec = converged.look(spec, Commands(), T0)
    assert same is False and reason.startswith("a restart or push is still owed") and "restart-pending" in reason


@pytest.mark.parametrize("drift", [_content, _tree_file_content, _tree_removed_file, _symlink_retargeted])
def test_state_differs(host, drift):
    spec = record(host)
    drift(host)
    same, reason, _rec = converged.look(spec, Commands(), T0)
    assert same is False and reason.startswith("something the roles manage changed on the host")


def test_unit_state_differs(host):
    commands = Commands()
    spec = record(host, commands)
    _unit_stopped(commands)
    assert converged.look(spec, commands, T0)[0] is False


PROOF = {"required": True, "max_age_hours": 20}


def proof_spec(root, **proof):
    return dict(PROOF, path=str(root / "state" / "identity_proof.json"), **proof)


def test_proof_required_and_missing(host):
    spec = record(host)  # no proof file at all
    spec["proof"] = proof_spec(host)
    assert converged.look(spec, Commands(), T0 + 60) == (False, "no passed validation on record", {})


def test_proof_required_and_failed(host):
    spec = record(host, proof=(None, T0))  # a failed validation keeps the time, drops the basis
    spec["proof"] = proof_spec(host)
    assert converged.look(spec, Commands(), T0 + 60) == (False, "no passed validation on record", {})


def test_proof_too_old(host):
    spec = record(host, proof=("basis", T0))
    spec["proof"] = proof_spec(host)
    same, reason, _rec = converged.look(spec, Commands(), T0 + 20 * 3600)
    assert same is False
    assert reason == "validation due: last proven %s (maximum age 20 h)" % validation_job.iso_utc(T0)
    assert converged.look(spec, Commands(), T0 + 20 * 3600 - 1)[0] is True


def test_proof_in_the_future(host):
    spec = record(host, proof=("basis", T0))
    spec["proof"] = proof_spec(host)
    same, reason, _rec = converged.look(spec, Commands(), T0 - 1)
    assert same is False and reason.startswith("validation due")


def test_proof_fresh_is_converged_with_its_time(host):
    spec = record(host, proof=("basis", T0))
    spec["proof"] = proof_spec(host)
    same, _reason, rec = converged.look(spec, Commands(), T0 + 3600)
    assert same is True
    assert rec["validated_at"] == validation_job.iso_utc(T0) and rec["proof_age_seconds"] == 3600


def test_proof_without_age_limit(host):
    spec = record(host, proof=("basis", T0))
    spec["proof"] = proof_spec(host, max_age_hours=0)
    assert converged.look(spec, Commands(), T0 + 365 * 24 * 3600)[0] is True


def test_proof_loader_is_used_when_given(host):
    spec = record(host)
    spec["proof"] = proof_spec(host)
    seen = []

    def loader(path):
        seen.append(path)
        return {"basis": "b", "validated_at": validation_job.iso_utc(T0)}

    assert converged.look(spec, Commands(), T0 + 10, proof_loader=loader)[0] is True
    assert seen == [spec["proof"]["path"]]


def test_a_rewritten_proof_is_a_state_change(host):
    """The proof lives in the state folder: a new validation after the record means the roles ran."""
    spec = record(host, proof=("basis", T0))
    spec["proof"] = proof_spec(host)
    (host / "state" / "identity_proof.json").write_text(validation_job.proof_record_text("qubeproxy", "basis", T0 + 5))
    assert converged.look(spec, Commands(), T0 + 60)[1].startswith("something the roles manage changed")


def test_proof_not_required_is_converged_without_a_proof_file(host):
    spec = record(host)
    assert not os.path.exists(spec["proof"]["path"])
    assert converged.look(spec, Commands(), T0)[0] is True

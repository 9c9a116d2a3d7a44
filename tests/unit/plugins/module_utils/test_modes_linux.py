# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/modes_linux.py (what qube_worker_mode applies on a Linux host): the file/link/folder
primitives (atomic, idempotent, check mode), the record, the desktop worker's folder; and the
host's package query of module_utils/modes_packages.py.

The whole module runs on real hosts in molecule service_mode, desktop_mode and mode_flip.
"""

import json
import os

import pytest

from ansible_collections.renderfarm.qube.plugins.module_utils import modes, modes_linux, modes_packages, pending

UID, GID = os.getuid(), os.getgid()


class FakeModule:
    def __init__(self, check=False):
        self.check_mode = check
        self.commands = []

    def atomic_move(self, src, dest):
        os.rename(src, dest)

    def run_command(self, argv):
        self.commands.append(argv)
        return 0, "", ""

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


def test_file_written_then_unchanged(tmp_path):
    app = modes_linux.Applier(FakeModule())
    path = str(tmp_path / "unit.conf")
    assert app.file(path, "a\n", UID, GID, 0o644) is True
    assert open(path).read() == "a\n" and oct(os.stat(path).st_mode & 0o7777) == "0o644"
    assert app.diff[-1]["before"] == "" and app.diff[-1]["after"] == "a\n"
    again = modes_linux.Applier(FakeModule())
    assert again.file(path, "a\n", UID, GID, 0o644) is False
    assert again.actions == [] and again.diff == []
    assert os.listdir(str(tmp_path)) == ["unit.conf"]  # no temporary file left


def test_file_mode_fixed_without_rewrite(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("x")
    os.chmod(str(path), 0o600)
    app = modes_linux.Applier(FakeModule())
    assert app.file(str(path), "x", UID, GID, 0o644) is True
    assert app.actions == ["set owner/mode of %s" % path] and app.diff == []
    assert oct(os.stat(str(path)).st_mode & 0o7777) == "0o644"


def test_check_mode_reports_and_writes_nothing(tmp_path):
    app = modes_linux.Applier(FakeModule(check=True))
    folder = str(tmp_path / "a" / "b")
    assert app.directory(folder) is True
    assert app.file(os.path.join(folder, "f"), "new") is True
    assert app.link(str(tmp_path / "l"), "/target") is True
    app.do(["systemctl", "enable", "worker"], "enable worker")
    assert os.listdir(str(tmp_path)) == []
    assert app.module.commands == []
    assert app.actions == ["create folder %s" % (tmp_path / "a"), "create folder %s" % folder,
                           "write %s/f" % folder, "link %s/l -> /target" % tmp_path, "enable worker"]


def test_link_replaced_and_absent(tmp_path):
    link = str(tmp_path / "l")
    os.symlink("/old", link)
    app = modes_linux.Applier(FakeModule())
    assert app.link(link, "/new") is True and os.readlink(link) == "/new"
    assert app.link(link, "/new") is False
    assert app.absent(link) is True and not os.path.lexists(link)
    assert app.absent(link) is False


def test_query_runs_in_check_mode_do_does_not():
    module = FakeModule(check=True)
    app = modes_linux.Applier(module)
    assert app.query(["systemctl", "is-active", "worker"]) == (0, "")
    app.do(["systemctl", "start", "worker"], "start worker")
    assert module.commands == [["systemctl", "is-active", "worker"]]


def test_record_text_is_stable_sorted_json():
    text = modes_linux.record_text({"mode": "service", "desktop_user": None, "linger": False, "auto_logon": False})
    assert text.endswith("}\n") and json.loads(text)["mode"] == "service"
    assert text.index('"auto_logon"') < text.index('"mode"')


def test_read_record_missing_or_broken(tmp_path):
    assert modes_linux.read_record(str(tmp_path / "none.json")) == {}
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2")
    assert modes_linux.read_record(str(bad)) == {}
    good = tmp_path / "good.json"
    good.write_text('{"mode": "desktop", "desktop_user": "artist"}')
    assert modes_linux.read_record(str(good))["desktop_user"] == "artist"


def test_lookup_finds_root_and_not_a_stranger():
    assert modes_linux.lookup("root")["uid"] == 0
    assert modes_linux.lookup("no-such-user-qube") is None


@pytest.mark.parametrize("mode, previous, enabled, active, expect", [
    ("service", {}, "disabled", 3, ["enable worker", "start worker"]),
    ("service", {"mode": "service"}, "enabled", 0, []),
    ("desktop", {"mode": "service"}, "enabled", 0, ["disable worker", "stop worker"]),
])
def test_system_unit_follows_the_plan(tmp_path, monkeypatch, mode, previous, enabled, active, expect):
    """apply_linux with the plan's system files redirected into tmp_path."""
    class Module(FakeModule):
        def run_command(self, argv):
            self.commands.append(argv)
            if argv[:2] == ["systemctl", "is-enabled"]:
                return 0, enabled + "\n", ""
            if argv[:2] == ["systemctl", "is-active"]:
                return active, "", ""
            return 0, "", ""

    plan = modes.plan(mode, "Linux", desktop_user="root" if mode == "desktop" else None,
                      accounts={"root": {"uid": 0, "gid": 0, "home": str(tmp_path / "home")}}, previous=previous)
    linux = plan["linux"]
    for key in ("system_dropin", "user_unit", "user_unit_link"):
        linux[key]["path"] = str(tmp_path) + linux[key]["path"]
    linux["system_dropin"]["dir"] = str(tmp_path) + linux["system_dropin"]["dir"]
    linux["user_unit_link"]["src"] = linux["user_unit"]["path"]
    linux["desktop_dir"].update(path=str(tmp_path / "spool" / "desktop"), parent=str(tmp_path / "spool"))
    for user in linux["users"]:
        user["exists"] = False  # no user manager or autostart in this test
    module = Module()
    app = modes_linux.Applier(module)
    contents = {"dropin": "[Service]\nUser=root\n", "user_unit": "[Unit]\n", "autostart": "[Desktop Entry]\n"}
    modes_linux.apply_linux(app, linux, contents, str(tmp_path / "state" / "worker_mode.json"), plan["record"])
    unit_actions = [a for a in app.actions if a.split()[0] in ("enable", "disable", "start", "stop")]
    assert unit_actions == expect
    # Desktop mode: the desktop worker's folder exists before anything could start the worker.
    assert (tmp_path / "spool" / "desktop").is_dir() is (mode == "desktop")
    if mode == "desktop":
        assert app.actions.index("create folder %s" % (tmp_path / "spool" / "desktop")) < app.actions.index("stop worker")
    assert json.loads((tmp_path / "state" / "worker_mode.json").read_text())["mode"] == mode
    assert oct(os.stat(str(tmp_path / "state")).st_mode & 0o7777) == "0o700"


class PackageHost(FakeModule):
    """dpkg-query answers from a dict; get_bin_path finds dpkg-query only."""

    def __init__(self, installed):
        super().__init__()
        self.installed = installed

    def get_bin_path(self, name):
        return "/usr/bin/dpkg-query" if name == "dpkg-query" else None

    def run_command(self, argv):
        self.commands.append(argv)
        version = self.installed.get(argv[-1])
        if version is None:
            return 1, "", "dpkg-query: no packages found matching %s\n" % argv[-1]
        return 0, "install ok installed|%s\n" % version, ""


@pytest.mark.parametrize("installed, check, needed", [
    ({"qube-standin": "8.0.0~standin1"}, {"version": "", "packages": [], "package_files": ["qube-standin_8.0.0~standin1_all.deb"]}, False),
    ({"qube-standin": "7.9"}, {"version": "", "packages": [], "package_files": ["qube-standin_8.0.0~standin1_all.deb"]}, True),
    ({}, {"version": "", "packages": [], "package_files": ["qube-standin_8.0.0~standin1_all.deb"]}, True),
    ({"qube-worker": "8.0-1"}, {"version": "8.0-1", "packages": ["qube-core", "qube-worker"], "package_files": []}, False),
    # Repository packages without a version: always left to the package tool (it is idempotent).
    ({"qube-worker": "8.0-1"}, {"version": "", "packages": ["qube-worker"], "package_files": []}, True),
])
def test_install_check_reads_dpkg(installed, check, needed):
    module = PackageHost(installed)
    assert modes_packages.host_install_needed(module, check) == (needed, bool(installed))
    assert all(argv[:2] == ["/usr/bin/dpkg-query", "-W"] for argv in module.commands)


def test_install_check_tells_a_fresh_install_from_an_upgrade():
    """qube_worker_installed_this_run: only a host that had none of the worker packages is fresh."""
    check = {"version": "", "packages": [], "package_files": ["qube-standin_8.0.0~standin1_all.deb"]}
    assert modes_packages.host_install_needed(PackageHost({}), check) == (True, False)            # fresh
    assert modes_packages.host_install_needed(PackageHost({"qube-standin": "7.9"}), check) == (True, True)   # upgrade


def test_half_installed_package_is_not_installed():
    class HalfInstalled(PackageHost):
        def run_command(self, argv):
            return 0, "deinstall ok config-files|8.0.0~standin1\n", ""

    check = {"version": "", "packages": [], "package_files": ["qube-standin_8.0.0~standin1_all.deb"]}
    assert modes_packages.host_install_needed(HalfInstalled({}), check) == (True, False)


# --- the desktop worker's own folder (CPR worker_logfile, worker_journal_location, worker_pidfile) --

@pytest.fixture(autouse=True)
def _parents_inside_tmp(tmp_path, monkeypatch):
    """pytest's own temporary folders are 0700: look at parents only up to tmp_path."""
    os.chmod(str(tmp_path), 0o755)
    real = getattr(modes_linux, "_parents", None)
    if real is not None:
        monkeypatch.setattr(modes_linux, "_parents", lambda path: [p for p in real(path) if p.startswith(str(tmp_path))])


def _desktop_dir(path, uid=UID, gid=GID, state="present"):
    return {"path": str(path), "parent": os.path.dirname(str(path)), "mode": 0o755, "state": state,
            "user": "artist", "uid": uid, "gid": gid}


def test_desktop_dir_created_for_the_desktop_user_with_root_parents(tmp_path):
    folder = tmp_path / "spool" / "qube" / "desktop"
    app = modes_linux.Applier(FakeModule())
    assert modes_linux.apply_desktop_dir(app, _desktop_dir(folder), "w1") is True
    assert folder.is_dir() and oct(os.stat(str(folder)).st_mode & 0o7777) == "0o755"
    assert os.stat(str(folder)).st_uid == UID
    assert oct(os.stat(str(folder.parent)).st_mode & 0o7777) == "0o755"
    assert app.actions == ["create folder %s" % folder.parent.parent, "create folder %s" % folder.parent,
                           "create folder %s" % folder]
    again = modes_linux.Applier(FakeModule())
    assert modes_linux.apply_desktop_dir(again, _desktop_dir(folder), "w1") is False and again.actions == []


def test_desktop_dir_left_alone_in_service_mode(tmp_path):
    folder = tmp_path / "desktop"
    app = modes_linux.Applier(FakeModule())
    assert modes_linux.apply_desktop_dir(app, _desktop_dir(folder, state="kept"), "w1") is False
    assert not folder.exists() and app.actions == []


def test_desktop_dir_check_mode_creates_nothing(tmp_path):
    folder = tmp_path / "a" / "desktop"
    app = modes_linux.Applier(FakeModule(check=True))
    assert modes_linux.apply_desktop_dir(app, _desktop_dir(folder), "w1") is True
    assert os.listdir(str(tmp_path)) == []


def test_desktop_dir_fixes_mode_and_refuses_a_link(tmp_path):
    folder = tmp_path / "desktop"
    folder.mkdir(mode=0o700)
    os.chmod(str(folder), 0o700)
    app = modes_linux.Applier(FakeModule())
    assert modes_linux.apply_desktop_dir(app, _desktop_dir(folder), "w1") is True
    assert oct(os.stat(str(folder)).st_mode & 0o7777) == "0o755"
    link = tmp_path / "link"
    os.symlink(str(folder), str(link))
    with pytest.raises(AssertionError) as failed:
        modes_linux.apply_desktop_dir(modes_linux.Applier(FakeModule()), _desktop_dir(link), "w1")
    assert "qube_desktop_worker_dir %s exists and is not a folder" % link in str(failed.value)


def test_desktop_dir_parent_others_cannot_enter_fails_the_host(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    os.chmod(str(parent), 0o750)
    with pytest.raises(AssertionError) as failed:
        modes_linux.apply_desktop_dir(modes_linux.Applier(FakeModule()), _desktop_dir(parent / "desktop"), "w1")
    assert "host w1: %s (a parent of qube_desktop_worker_dir" % parent in str(failed.value)
    assert not (parent / "desktop").exists()


def test_desktop_dir_without_uid_fails_naming_the_user(tmp_path):
    with pytest.raises(AssertionError) as failed:
        modes_linux.apply_desktop_dir(modes_linux.Applier(FakeModule()), _desktop_dir(tmp_path / "d", uid=None), "w1")
    assert "qube_desktop_user 'artist' has no uid" in str(failed.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_hand_over_walks_without_following_links(tmp_path):
    """A new desktop user gets the old one's log, journal and job logs; a link is never followed."""
    folder = tmp_path / "desktop"
    (folder / "job" / "12").mkdir(parents=True)
    (folder / "workerlog").write_text("old\n")
    outside = tmp_path / "outside"
    outside.write_text("root's\n")
    os.symlink(str(outside), str(folder / "evil"))
    app = modes_linux.Applier(FakeModule())
    assert app.hand_over(str(folder), 4242, 4243) is True
    for path in (folder / "job", folder / "job" / "12", folder / "workerlog", folder / "evil"):
        st = os.lstat(str(path))
        assert (st.st_uid, st.st_gid) == (4242, 4243), path
    assert os.stat(str(outside)).st_uid == UID           # the link's target is not handed over
    assert os.stat(str(folder)).st_uid == UID            # the folder itself: apply_desktop_dir, last
    assert app.actions == ["hand the contents of %s to uid 4242" % folder]
    assert modes_linux.Applier(FakeModule()).hand_over(str(folder), 4242, 4243) is False
    check = modes_linux.Applier(FakeModule(check=True))
    assert check.hand_over(str(folder), UID, GID) is True
    assert os.lstat(str(folder / "workerlog")).st_uid == 4242   # check mode changed nothing


def test_desktop_dir_owned_by_someone_else_is_handed_over(tmp_path, monkeypatch):
    folder = tmp_path / "desktop"
    folder.mkdir()
    handed = []
    monkeypatch.setattr(modes_linux.Applier, "hand_over", lambda self, path, uid, gid: handed.append((path, uid)) or True)
    monkeypatch.setattr(modes_linux.os, "chown", lambda *a, **k: None)
    app = modes_linux.Applier(FakeModule())
    assert modes_linux.apply_desktop_dir(app, _desktop_dir(folder, uid=UID + 7), "w1") is True
    assert handed == [(str(folder), UID + 7)]


def test_restart_marker_is_written_with_its_folder(tmp_path):
    marker = tmp_path / "state" / "qb.conf.restart-pending"
    pending.mark(str(marker), "the worker's definition or package changed")
    assert marker.read_text() == "the worker's definition or package changed\n"
    assert oct(os.stat(str(marker)).st_mode & 0o777) == "0o644"
    assert oct(os.stat(str(tmp_path / "state")).st_mode & 0o777) == "0o700"


def test_empty_folder_removed_but_not_a_used_one(tmp_path):
    empty, used = tmp_path / "empty", tmp_path / "used"
    empty.mkdir()
    used.mkdir()
    (used / "other.conf").write_text("x")
    app = modes_linux.Applier(FakeModule())
    assert app.empty_folder_absent(str(empty)) is True and not empty.exists()
    assert app.empty_folder_absent(str(used)) is False and used.exists()
    assert app.empty_folder_absent(str(tmp_path / "none")) is False

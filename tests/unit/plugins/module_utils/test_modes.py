# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Worker mode decisions (module_utils/modes.py) and their filter entry points."""

import json
import os
import plistlib
import shutil
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.renderfarm.qube.plugins.filter import modes as mode_filters
from ansible_collections.renderfarm.qube.plugins.module_utils import modes, modes_darwin, modes_packages, modes_windows

ARTIST = {"artist": {"home": "/home/artist", "uid": 1000, "gid": 1000}}
BOB = {"bob": {"home": "/home/bob", "uid": 1001}}
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
TEMPLATES = os.path.join(REPO, "templates", "worker_mode")
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "mode_files")

# Rendered as the role does: lookup('ansible.builtin.template', <path>, template_vars=...), in a
# process of its own (the plugin loader must not meet this suite's collection import path).
_RENDER = """
import json, sys
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
from ansible.template import Templar, trust_as_template
init_plugin_loader()
out = {}
for key, (path, tvars) in json.load(sys.stdin).items():
    templar = Templar(loader=DataLoader(), variables={"p": path, "tv": tvars})
    out[key] = templar.template(trust_as_template("{{ lookup('ansible.builtin.template', p, template_vars=tv) }}"))
json.dump(out, sys.stdout)
"""


def render(cases):
    """``{key: rendered text}`` for ``{key: (template file name, template_vars)}``."""
    request = dict((key, (os.path.join(TEMPLATES, name), tvars)) for key, (name, tvars) in cases.items())
    run = subprocess.run([sys.executable, "-c", _RENDER], input=json.dumps(request), capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


# Each default template with the inputs the role gives it, and the file the Python string builders
# of 0.3.0 wrote for the same inputs (fixtures/mode_files/, captured before they were removed): the
# bytes must stay the same, or every converged farm would see its files rewritten (changed != 0).
TEMPLATE_CASES = {
    "user_unit_artist_1001.service": ("systemd-user-unit.service.j2", {
        "desktop_user": "artist", "desktop_uid": 1001, "worker_binary": "/usr/local/pfx/qube/sbin/worker"}),
    "user_unit_nouid_custom_qbdir.service": ("systemd-user-unit.service.j2", {
        "desktop_user": "MYCORP\\artist", "desktop_uid": None, "worker_binary": "/opt/pfx/qube/sbin/worker"}),
    "dropin_root.conf": ("systemd-dropin.conf.j2", {"service_user": "root"}),
    "autostart.desktop": ("xdg-autostart.desktop.j2", {"user_unit": modes.USER_UNIT}),
    "agent_default.plist": ("launchagent.plist.j2", {
        "agent_label": "com.pipelinefx.DesktopWorker", "worker_binary": "/Applications/pfx/qube/sbin/worker"}),
    "agent_custom.plist": ("launchagent.plist.j2", {
        "agent_label": "com.example.Worker&Co", "worker_binary": "/Apps/pfx <qube>/sbin/worker"}),
}


@pytest.fixture(scope="module")
def rendered():
    return render(TEMPLATE_CASES)


@pytest.mark.parametrize("fixture", sorted(TEMPLATE_CASES))
def test_default_templates_render_the_bytes_the_old_code_wrote(rendered, fixture):
    with open(os.path.join(FIXTURES, fixture), "rb") as handle:
        assert rendered[fixture].encode("utf-8") == handle.read()


def test_rendered_launchagent_is_a_plist_marked_ours(rendered):
    content = rendered["agent_default.plist"]
    agent = plistlib.loads(content.encode())
    assert agent["Label"] == "com.pipelinefx.DesktopWorker"
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert agent["ProgramArguments"] == ["/Applications/pfx/qube/sbin/worker"]
    assert modes.is_ours(content)
    assert plistlib.loads(rendered["agent_custom.plist"].encode())["ProgramArguments"] == [
        "/Apps/pfx <qube>/sbin/worker"]


# --- validate ------------------------------------------------------------------------------

def test_valid_settings_have_no_errors():
    assert modes.validate("w01", "service", "Linux") == []
    assert modes.validate("w01", "desktop", "Linux", "artist", user_exists=True) == []
    assert modes.validate("w01", "service", "Win32NT", proxy_execution_mode="user") == []


def test_unknown_mode_names_variable_and_host():
    assert modes.validate("w01", "desk", "Linux") == [
        "host w01: qube_worker_mode is 'desk'; it must be one of service, desktop."]


def test_unsupported_system():
    errors = modes.validate("w01", "service", "FreeBSD")
    assert errors == ["host w01: the worker_mode role supports Linux, Darwin (macOS) and "
                      "Windows, not 'FreeBSD'."]


def test_desktop_without_user():
    errors = modes.validate("w02", "desktop", "Linux", "")
    assert len(errors) == 1
    assert errors[0].startswith("host w02: qube_worker_mode is 'desktop' but qube_desktop_user is not set")


def test_desktop_user_missing_on_host():
    errors = modes.validate("w03", "desktop", "Darwin", "ghost", user_exists=False)
    assert errors == ["host w03: qube_desktop_user 'ghost' does not exist on the host; create the "
                      "account (or join the directory that has it) before switching to desktop mode."]


def test_windows_desktop_with_user_execution_mode_explains_qube_behaviour():
    errors = modes.validate("win1", "desktop", "Windows", "artist", user_exists=True,
                            proxy_execution_mode="user")
    assert len(errors) == 1
    assert "host win1: qube_proxy_execution_mode is 'user'" in errors[0]
    assert "never re-authenticates" in errors[0]
    assert "every job runs as the logged-in user 'artist'" in errors[0]


def test_user_execution_mode_is_fine_for_linux_desktop_and_windows_service():
    assert modes.validate("w", "desktop", "Linux", "a", True, proxy_execution_mode="user") == []
    assert modes.validate("w", "service", "Windows", proxy_execution_mode="user") == []


def test_auto_logon_needs_password_then_vault():
    base = dict(desktop_user="artist", user_exists=True, auto_logon=True)
    missing = modes.validate("win1", "desktop", "Windows", **base)
    assert missing == ["host win1: qube_windows_auto_logon is true but "
                       "qube_windows_auto_logon_password is not set."]
    plain = modes.validate("win1", "desktop", "Windows", auto_logon_password_set=True, **base)
    assert plain == ["host win1: qube_windows_auto_logon_password must come from Ansible Vault "
                     "(an inline !vault value made with ansible-vault encrypt_string; values from "
                     "vault-encrypted files cannot be told apart from plain text)."]
    assert modes.validate("win1", "desktop", "Windows", auto_logon_password_set=True,
                          auto_logon_password_vaulted=True, **base) == []


def test_auto_logon_outside_windows_desktop():
    errors = modes.validate("w01", "service", "Linux", auto_logon=True,
                            auto_logon_password_set=True, auto_logon_password_vaulted=True)
    assert errors == [
        "host w01: qube_windows_auto_logon is only supported on Windows.",
        "host w01: qube_windows_auto_logon needs qube_worker_mode 'desktop'; a service-mode "
        "worker runs without anyone logged in."]


def test_all_problems_are_listed_at_once():
    errors = modes.validate("win9", "desktop", "Windows", None, proxy_execution_mode="user",
                            auto_logon=True)
    assert len(errors) == 3
    assert all(e.startswith("host win9: ") for e in errors)


# --- Linux ---------------------------------------------------------------------------------

def test_linux_service_plan():
    p = modes.plan("service", "Linux", "artist", accounts=ARTIST)
    linux = p["linux"]
    assert p["worker_binary"] == "/usr/local/pfx/qube/sbin/worker"
    assert linux["system_unit"] == {"name": "worker", "enabled": True, "state": "started"}
    assert linux["system_dropin"]["state"] == "present"
    assert "content" not in linux["system_dropin"]  # rendered from a template by the role
    assert linux["user_unit"]["state"] == "absent"
    assert linux["user_unit_link"]["state"] == "absent"
    user = linux["users"][0]
    assert user["autostart_state"] == "absent" and user["session_worker"] == "stopped"
    assert user["linger"] == "unmanaged"
    assert p["record"] == {"mode": "service", "desktop_user": None, "linger": False,
                           "auto_logon": False}


def test_linux_service_without_any_user_touches_no_home():
    linux = modes.plan("service", "Linux")["linux"]
    assert linux["users"] == []


def test_linux_desktop_plan():
    p = modes.plan("desktop", "Linux", "artist", accounts=ARTIST)
    linux = p["linux"]
    assert linux["system_unit"] == {"name": "worker", "enabled": False, "state": "stopped"}
    assert linux["system_dropin"]["state"] == "absent"
    assert linux["user_unit"]["path"] == "/etc/systemd/user/qube-desktop-worker.service"
    assert linux["user_unit"]["state"] == "present" and "content" not in linux["user_unit"]
    assert linux["user_unit_link"] == {
        "path": "/etc/systemd/user/default.target.wants/qube-desktop-worker.service",
        "src": "/etc/systemd/user/qube-desktop-worker.service", "state": "link"}
    user = linux["users"][0]
    assert user["autostart_path"] == "/home/artist/.config/autostart/qube-desktop-worker.desktop"
    assert user["autostart_state"] == "present" and user["session_worker"] == "started"
    assert user["linger"] == "unmanaged"
    assert p["job_flags_required"] == []


def test_linux_unit_uses_name_when_uid_unknown(rendered):
    assert "\nConditionUser=MYCORP\\artist\n" in rendered["user_unit_nouid_custom_qbdir.service"]
    assert "\nConditionUser=1001\n" in rendered["user_unit_artist_1001.service"]


def test_linger_only_when_asked_and_removed_only_when_we_set_it():
    on = modes.plan("desktop", "Linux", "artist", linger=True, accounts=ARTIST)
    assert on["linux"]["users"][0]["linger"] == "present"
    assert on["record"]["linger"] is True
    off = modes.plan("desktop", "Linux", "artist", accounts=ARTIST, previous=on["record"])
    assert off["linux"]["users"][0]["linger"] == "absent"
    back = modes.plan("service", "Linux", "artist", accounts=ARTIST, previous=on["record"])
    assert back["linux"]["users"][0]["linger"] == "absent"
    other = modes.plan("service", "Linux", "artist", accounts=ARTIST,
                       previous={"mode": "desktop", "desktop_user": "bob", "linger": True})
    assert other["linux"]["users"][0]["linger"] == "unmanaged"


def test_previous_desktop_user_is_cleaned_up_after_a_user_change():
    accounts = dict(ARTIST, **BOB)
    previous = {"mode": "desktop", "desktop_user": "bob", "linger": False}
    users = modes.plan("desktop", "Linux", "artist", accounts=accounts, previous=previous)["linux"]["users"]
    assert [(u["user"], u["autostart_state"], u["session_worker"]) for u in users] == [
        ("artist", "present", "started"), ("bob", "absent", "stopped")]


def test_previous_user_that_no_longer_exists_is_reported_not_touched():
    users = modes.plan("service", "Linux", previous={"desktop_user": "gone"})["linux"]["users"]
    assert users == [{"user": "gone", "active": False, "exists": False, "linger": "unmanaged"}]


def _fake_qbdir(tmp_path):
    sbin = tmp_path / "qube" / "sbin"
    sbin.mkdir(parents=True)
    worker = sbin / "worker"
    worker.write_text("#!/bin/sh\nexit 0\n")
    worker.chmod(0o755)
    return str(tmp_path / "qube")


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
@pytest.mark.parametrize("mode", ["service", "desktop"])
def test_rendered_units_pass_systemd_analyze(tmp_path, mode):
    binary = os.path.join(_fake_qbdir(tmp_path), "sbin", "worker")
    if mode == "desktop":
        path = tmp_path / "qube-desktop-worker.service"
        path.write_text(render({"u": ("systemd-user-unit.service.j2", {
            "desktop_user": "artist", "desktop_uid": 1000, "worker_binary": binary})})["u"])
    else:
        path = tmp_path / "worker.service"
        path.write_text("[Service]\nExecStart=%s\n" % binary
                        + render({"d": ("systemd-dropin.conf.j2", {"service_user": "root"})})["d"])
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr


def test_linux_desktop_plan_gives_the_desktop_user_its_own_worker_folder():
    """CPR worker_logfile/worker_logpath/worker_journal_location/worker_pidfile: the defaults are root's."""
    p = modes.plan("desktop", "Linux", "artist", accounts=ARTIST)
    folder = p["linux"]["desktop_dir"]
    assert folder["state"] == "present"
    assert (folder["path"], folder["parent"], folder["mode"]) == ("/var/spool/qube/desktop", "/var/spool/qube", 0o755)
    assert (folder["user"], folder["uid"], folder["gid"]) == ("artist", 1000, 1000)
    assert folder["files"] == {"worker_logfile": "/var/spool/qube/desktop/workerlog",
                               "worker_logpath": "/var/spool/qube/desktop",
                               "worker_journal_location": "/var/spool/qube/desktop/worker.jnl",
                               "worker_pidfile": "/var/spool/qube/desktop/worker.pid"}
    other = modes.plan("desktop", "Linux", "artist", accounts=ARTIST, desktop_worker_dir="/srv/dw")
    assert other["linux"]["desktop_dir"]["files"]["worker_logfile"] == "/srv/dw/workerlog"


def test_linux_service_plan_keeps_the_desktop_worker_folder():
    """After a flip back the folder stays (job logs) and nobody is made its owner."""
    p = modes.plan("service", "Linux", "artist", accounts=ARTIST, previous={"mode": "desktop", "desktop_user": "artist"})
    folder = p["linux"]["desktop_dir"]
    assert folder["state"] == "kept" and folder["uid"] is None


@pytest.mark.parametrize("path", ["var/spool/x", "/qube", "/var/spool/../x", "/var//spool/x", ""])
def test_desktop_worker_dir_must_be_absolute_normalised_and_deep(path):
    errors = modes.validate("w1", "desktop", "Linux", "artist", user_exists=True, desktop_worker_dir=path)
    assert len(errors) == 1 and errors[0].startswith("host w1: qube_desktop_worker_dir is %r" % path)
    assert modes.validate("w1", "service", "Linux", desktop_worker_dir=path) == []
    assert modes.validate("w1", "desktop", "Windows", "artist", user_exists=True, desktop_worker_dir=path) == []


def test_desktop_worker_dir_accepted():
    assert modes.validate("w1", "desktop", "Darwin", "artist", user_exists=True, desktop_worker_dir="/srv/dw/") == []
    assert mode_filters.qube_mode_errors("w1", "desktop", "Linux", "artist", user_exists=True) == []


# --- macOS ---------------------------------------------------------------------------------

def test_darwin_service_plan_uses_the_vendor_launchdaemon_and_never_renders_one():
    """KB how-to / audit row 12: the vendor's package installs the daemon plist; we only enable and load it."""
    p = modes.plan("service", "Darwin", "artist", accounts={"artist": {"home": "/Users/artist", "uid": 501}})
    daemon = p["darwin"]["daemon"]
    assert daemon == {"label": "com.pipelinefx.worker",
                      "path": "/Library/LaunchDaemons/com.pipelinefx.worker.plist",
                      "target": "system/com.pipelinefx.worker", "enabled": True, "loaded": True}
    assert "content" not in daemon and "state" not in daemon  # nothing to write, nothing to delete
    user = p["darwin"]["users"][0]
    assert user["agent_state"] == "absent"
    assert p["darwin"]["desktop_dir"]["state"] == "kept"


def test_darwin_desktop_plan_disables_the_daemon_and_renders_our_launchagent():
    p = modes.plan("desktop", "Darwin", "artist",
                   accounts={"artist": {"home": "/Users/artist", "uid": 501, "gid": 20}},
                   daemon_plist="/Library/LaunchDaemons/custom.plist")
    daemon = p["darwin"]["daemon"]
    assert daemon["enabled"] is False and daemon["loaded"] is False
    assert daemon["path"] == "/Library/LaunchDaemons/custom.plist"
    user = p["darwin"]["users"][0]
    assert user["agent_path"] == "/Users/artist/Library/LaunchAgents/com.pipelinefx.DesktopWorker.plist"
    assert user["agent_state"] == "present"
    assert user["gui_domain"] == "gui/501"
    assert p["darwin"]["agent"] == {"label": "com.pipelinefx.DesktopWorker"}  # content: a template
    assert p["worker_binary"] == "/Applications/pfx/qube/sbin/worker"
    folder = p["darwin"]["desktop_dir"]
    assert folder["state"] == "present" and folder["uid"] == 501 and folder["gid"] == 20
    assert folder["path"] == "/var/spool/qube/desktop" and folder["parent"] == "/var/spool/qube"


def test_plist_rendering_is_deterministic(rendered):
    again = render({"a": TEMPLATE_CASES["agent_default.plist"]})["a"]
    assert again == rendered["agent_default.plist"]


VENDOR_AGENT = """<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>com.pipelinefx.DesktopWorker</string></dict></plist>
"""


@pytest.mark.parametrize("active, exists, ours, action", [
    (True, False, False, "write"),     # nothing there: ours is written
    (True, True, True, "write"),       # ours: kept in line with the plan
    (True, True, False, "keep"),       # QubeUI's (KB how-to): used as it is, never overwritten
    (False, True, True, "remove"),     # ours, no longer wanted: removed
    (False, True, False, "disable"),   # not ours, no longer wanted: disabled, file kept
    (False, False, False, "none"),
])
def test_darwin_agent_action_keeps_and_disables_a_vendor_agent(active, exists, ours, action):
    assert modes_darwin.darwin_agent_action(active, exists, ours) == action
    assert mode_filters.qube_mode_agent_action(active, exists, ours) == action


def test_vendor_agent_is_not_ours():
    assert modes.is_ours(VENDOR_AGENT) is False
    assert mode_filters.qube_mode_is_ours(VENDOR_AGENT) is False
    assert mode_filters.qube_mode_is_ours("") is False


@pytest.mark.parametrize("text, disabled", [
    ('disabled services = {\n\t"com.apple.x" => disabled\n\t"com.pipelinefx.worker" => disabled\n}\n', True),
    ('disabled services = {\n\t"com.pipelinefx.worker" => enabled\n}\n', False),
    ('disabled services = {\n\t"com.pipelinefx.worker" => true\n}\n', True),    # older macOS
    ('disabled services = {\n\t"com.pipelinefx.worker" => false\n}\n', False),
    ('disabled services = {\n\t"com.pipelinefx.worker.other" => disabled\n}\n', False),
    ("", False),
])
def test_launchd_disabled_reads_print_disabled(text, disabled):
    assert modes_darwin.launchd_disabled(text, "com.pipelinefx.worker") is disabled
    assert mode_filters.qube_mode_launchd_disabled(text, "com.pipelinefx.worker") is disabled


# --- Windows -------------------------------------------------------------------------------

WIN_ARTIST = {"artist": {"home": "C:\\Users\\artist"}}
STARTUP_LNK = ("C:\\Users\\artist\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup"
               "\\DesktopWorker.lnk")


def test_windows_service_plan():
    p = modes.plan("service", "Win32NT", "artist", accounts=WIN_ARTIST)
    win = p["windows"]
    assert win["service"] == {"name": "qubeworker", "start_mode": "auto", "state": "started",
                              "username": "LocalSystem", "named_account": False}
    assert win["users"][0]["startup_action"] == "none"
    assert win["auto_logon"] == "unmanaged"
    assert p["job_flags_required"] == []


def test_windows_service_plan_with_a_named_account():
    p = modes.plan("service", "Windows", service_account="CORP\\qubesvc")
    assert p["windows"]["service"]["username"] == "CORP\\qubesvc"
    assert p["windows"]["service"]["named_account"] is True
    assert modes.plan("service", "Windows", service_account="LocalSystem")["windows"]["service"]["named_account"] is False


def test_windows_desktop_plan_makes_our_item_only_when_there_is_none():
    p = modes.plan("desktop", "Windows", "artist", accounts=WIN_ARTIST, auto_logon=True)
    win = p["windows"]
    assert win["service"]["start_mode"] == "disabled" and win["service"]["state"] == "stopped"
    user = win["users"][0]
    assert user["shortcut_path"] == STARTUP_LNK
    assert user["startup_action"] == "create"
    assert win["shortcut"]["src"] == "C:\\Program Files\\pfx\\qube\\sbin\\worker.exe"
    assert win["shortcut"]["arguments"] == ""
    assert modes.is_ours(win["shortcut"]["description"])
    assert p["record"]["startup_item_ours"] == ["artist"]
    assert win["auto_logon"] == "present"
    assert p["job_flags_required"] == ["disable_windows_job_object"]
    # The next run finds the item it made: ours, kept in line with the variables.
    again = modes.plan("desktop", "Windows", "artist", previous=p["record"], auto_logon=True,
                       accounts={"artist": dict(WIN_ARTIST["artist"], startup_item=True)})
    assert again["windows"]["users"][0]["startup_action"] == "update"
    back = modes.plan("service", "Windows", "artist", previous=again["record"],
                      accounts={"artist": dict(WIN_ARTIST["artist"], startup_item=True)})
    assert back["windows"]["auto_logon"] == "absent"
    assert back["windows"]["users"][0]["startup_action"] == "remove"
    assert back["record"]["startup_item_ours"] == []


def test_windows_desktop_plan_keeps_the_vendor_item_and_parks_it_on_a_flip_back():
    """KB how-to: QubeUI creates the DesktopWorker item; its command line is not documented."""
    vendor = {"artist": dict(WIN_ARTIST["artist"], startup_item=True)}
    p = modes.plan("desktop", "Windows", "artist", accounts=vendor, startup_target="D:\\qube\\x.exe",
                   startup_arguments="--flag")
    assert p["windows"]["users"][0]["startup_action"] == "keep"
    assert p["record"]["startup_item_ours"] == []
    assert p["windows"]["shortcut"]["src"] == "D:\\qube\\x.exe" and p["windows"]["shortcut"]["arguments"] == "--flag"
    back = modes.plan("service", "Windows", "artist", previous=p["record"], accounts=vendor)
    user = back["windows"]["users"][0]
    assert user["startup_action"] == "park"
    assert user["parked_path"] == "C:\\ProgramData\\renderfarm-qube\\parked\\artist\\DesktopWorker.lnk"
    parked = {"artist": dict(WIN_ARTIST["artist"], parked_item=True)}
    again = modes.plan("desktop", "Windows", "artist", previous=back["record"], accounts=parked)
    assert again["windows"]["users"][0]["startup_action"] == "restore"
    assert again["record"]["startup_item_ours"] == []


def test_windows_parked_folder_name_of_a_domain_account():
    p = modes.plan("service", "Windows", "CORP\\ann",
                   accounts={"CORP\\ann": {"home": "C:\\Users\\ann", "startup_item": True}})
    assert p["windows"]["users"][0]["parked_path"] == (
        "C:\\ProgramData\\renderfarm-qube\\parked\\CORP_ann\\DesktopWorker.lnk")


FIVE = ["SeTcbPrivilege", "SeIncreaseQuotaPrivilege", "SeDebugPrivilege", "SeImpersonatePrivilege",
        "SeAssignPrimaryTokenPrivilege"]


def _grants(rights, action):
    return sorted((r["right"], r["principal"]) for r in rights if r["action"] == action)


def test_windows_rights_localsystem_grants_nothing_and_takes_back_old_over_grants():
    """LocalSystem holds the five rights; nothing to Administrators/NETWORK SERVICE, no SeBatchLogonRight."""
    for account in ("", "LocalSystem", "NT AUTHORITY\\SYSTEM"):
        rights = modes_windows.windows_rights(account)
        assert _grants(rights, "add") == []
        assert _grants(rights, "remove") == [("SeAssignPrimaryTokenPrivilege", "Administrators"),
                                             ("SeTcbPrivilege", "Administrators"),
                                             ("SeTcbPrivilege", "NETWORK SERVICE")]
    assert all(r["right"] != "SeBatchLogonRight" for r in modes_windows.windows_rights(""))


def test_windows_rights_named_account_gets_the_five_and_the_groups_the_three():
    rights = mode_filters.qube_mode_windows_rights("CORP\\qubesvc", "service")
    added = _grants(rights, "add")
    assert sorted(r for r, p in added if p == "CORP\\qubesvc") == sorted(FIVE)
    for group in ("Administrators", "NETWORK SERVICE"):
        assert sorted(r for r, p in added if p == group) == sorted(
            ["SeAssignPrimaryTokenPrivilege", "SeTcbPrivilege", "SeIncreaseQuotaPrivilege"])
    assert _grants(rights, "remove") == []
    assert all(r["right"] != "SeBatchLogonRight" for r in rights)
    assert mode_filters.qube_mode_windows_service_groups("CORP\\qubesvc", "service") == ["Administrators"]
    assert mode_filters.qube_mode_windows_service_groups("", "service") == []
    # A Desktop User worker needs none of them (Service+Mode+Windows+User+Rights+Assignment.md).
    assert _grants(modes_windows.windows_rights("CORP\\qubesvc", "desktop"), "add") == []
    assert modes_windows.windows_service_groups("CORP\\qubesvc", "desktop") == []


def test_windows_service_account_needs_a_vaulted_password_and_windows():
    assert modes.validate("win1", "service", "Windows", service_account="CORP\\svc") == [
        "host win1: qube_windows_service_account is 'CORP\\\\svc' but qube_windows_service_password is "
        "not set; the service cannot log on without it."]
    assert "must come from Ansible Vault" in modes.validate(
        "win1", "service", "Windows", service_account="CORP\\svc", service_password_set=True)[0]
    assert modes.validate("win1", "service", "Windows", service_account="CORP\\svc",
                          service_password_set=True, service_password_vaulted=True) == []
    assert modes.validate("w1", "service", "Linux", service_account="svc", service_password_set=True,
                          service_password_vaulted=True) == [
        "host w1: qube_windows_service_account is only used on Windows (POSIX workers run as root in "
        "service mode)."]


# --- errors, install, filters ----------------------------------------------------------------

def test_plan_refuses_what_validate_reports():
    with pytest.raises(ValueError):
        modes.plan("desk", "Linux")
    with pytest.raises(ValueError):
        modes.plan("desktop", "Linux", "")
    with pytest.raises(AnsibleFilterError, match="qube_mode_plan: no plan for mode 'x'"):
        mode_filters.qube_mode_plan("x", "Linux")


@pytest.mark.parametrize("path,name", [
    ("/srv/qube-standin_8.0.0~standin1_all.deb", "qube-standin"),
    ("files/qube-core-8.0-0.CENTOS_8.2.x86_64.rpm", "qube-core"),
    ("C:\\pkgs\\qube-worker-8.0-0-WIN32-6.3-x64.msi", "qube-worker-8.0-0-WIN32-6.3-x64"),
])
def test_package_name(path, name):
    assert modes_packages.package_name(path) == name


def test_install_needed():
    installed = {"qube-standin": [{"version": "8.0.0~standin1"}]}
    assert modes_packages.install_needed(None, installed) is True
    assert modes_packages.install_needed("8.0.0~standin1", installed,
                                package_files=["/x/qube-standin_8.0.0~standin1_all.deb"]) is False
    assert modes_packages.install_needed("8.0.1", installed, packages=["qube-standin"]) is True
    assert modes_packages.install_needed("8.0.0~standin1", {}, packages=["qube-worker"]) is True


def test_accounts_filter_reads_getent():
    getent = {"artist": ["x", "1000", "1000", "Artist,,,", "/home/artist", "/bin/bash"]}
    assert mode_filters.qube_mode_accounts(getent) == {"artist": {"uid": 1000, "gid": 1000, "home": "/home/artist"}}
    assert mode_filters.qube_mode_accounts(None) == {}


def test_filters_are_registered():
    names = set(mode_filters.FilterModule().filters())
    assert names == {"qube_mode_plan", "qube_mode_errors", "qube_mode_install_needed",
                     "qube_mode_accounts", "qube_mode_dscl_accounts", "qube_mode_launchd_disabled",
                     "qube_mode_is_ours", "qube_mode_agent_action", "qube_mode_windows_rights",
                     "qube_mode_windows_service_groups", "qube_conf_has_active_key"}


def test_dscl_accounts_filter():
    results = [
        {"item": "artist", "rc": 0, "stdout": "NFSHomeDirectory: /Users/artist\nPrimaryGroupID: 20\nUniqueID: 501"},
        {"item": "ghost", "rc": 56, "stdout": ""},
        {"item": "odd", "rc": 0, "stdout": "UniqueID: x\nPrimaryGroupID: 20\nNFSHomeDirectory: /Users/odd"},
    ]
    assert mode_filters.qube_mode_dscl_accounts(results) == {"artist": {"uid": 501, "gid": 20, "home": "/Users/artist"}}


def test_desktop_user_without_home():
    errors = modes.validate("w04", "desktop", "Windows", "artist", user_exists=True, home_exists=False)
    assert errors == ["host w04: qube_desktop_user 'artist' has no home folder or profile on the "
                      "host yet; log in once as that user so the login items have a place to go."]


def test_install_needs_package_files_off_linux_and_the_right_type():
    assert modes.validate("m1", "service", "Darwin", install=True) == [
        "host m1: qube_worker_install is true but qube_worker_package_files is empty; Darwin has "
        "no Qube! package repository, so list the .pkg files (or set qube_worker_install: false)."]
    assert modes.validate("w1", "service", "Linux", install=True) == []
    assert modes.validate("w1", "service", "Linux", install=True,
                          package_files=["a/qube.deb", "b/qube.msi"]) == [
        "host w1: qube_worker_package_files has a file, not a .deb/.rpm package: b/qube.msi"]
    assert modes.validate("win", "service", "Windows", install=True,
                          package_files=["C:\\x\\qube-core.MSI"]) == []


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="needs desktop-file-utils")
def test_autostart_entry_passes_desktop_file_validate(tmp_path, rendered):
    entry = tmp_path / "qube-desktop-worker.desktop"
    entry.write_text(rendered["autostart.desktop"])
    run = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True,
                         timeout=60, check=False)
    assert run.returncode == 0 and not run.stdout.strip(), run.stdout + run.stderr


@pytest.mark.parametrize("path, version", [
    ("/srv/qube-standin_8.0.0~standin1_all.deb", "8.0.0~standin1"),
    ("files/qube-core-8.0-0.CENTOS_8.2.x86_64.rpm", "8.0-0.CENTOS_8.2"),
    ("C:\\pkgs\\qube-worker-8.0-0-WIN32-6.3-x64.msi", None),
    ("odd.deb", None),
])
def test_package_version(path, version):
    assert modes_packages.package_version(path) == version


def test_install_needed_from_package_file_versions():
    deb = "/x/qube-standin_8.0.0~standin1_all.deb"
    assert modes_packages.install_needed(None, {"qube-standin": [{"version": "8.0.0~standin1"}]}, package_files=[deb]) is False
    assert modes_packages.install_needed(None, {"qube-standin": [{"version": "1:8.0.0~standin1"}]}, package_files=[deb]) is False
    assert modes_packages.install_needed(None, {"qube-standin": [{"version": "7.5"}]}, package_files=[deb]) is True
    assert modes_packages.install_needed(None, {}, package_files=[deb]) is True
    rpm = "qube-core-8.0-0.CENTOS_8.2.x86_64.rpm"
    assert modes_packages.install_needed(None, {"qube-core": [{"version": "8.0", "release": "0.CENTOS_8.2"}]},
                                package_files=[rpm]) is False
    # A file whose version cannot be read: the package tool decides.
    assert modes_packages.install_needed(None, {"x": [{"version": "1"}]}, package_files=[deb, "x.msi"]) is True

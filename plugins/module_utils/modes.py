# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired state of a Qube! worker's run mode: service mode or Desktop User (DU) mode.

``plan()`` says, for one host, what must be present and what must be absent so that exactly one
mode is active and nothing of the other mode is left behind:

* Linux: the system unit ``worker`` (enabled and started, or disabled and stopped), a drop-in that
  pins it to root, the user unit ``/etc/systemd/user/qube-desktop-worker.service`` with
  ``ConditionUser=<desktop user>`` and its global ``default.target.wants`` symlink (the worker runs
  while that user has a login session, and stops at logout), an XDG autostart entry in the user's
  ``~/.config/autostart`` (graphical sessions hand their display to the worker), and linger only
  when asked for.
* macOS: the LaunchDaemon ``/Library/LaunchDaemons/<daemon label>.plist`` or the LaunchAgent
  ``~user/Library/LaunchAgents/<agent label>.plist`` (XML plists rendered here with plistlib).
* Windows: the ``qubeworker`` service start mode, the ``DesktopWorker`` shortcut in the user's
  Startup folder, optional auto-logon, and the ``disable_windows_job_object`` job flag that the
  vendor asks for with Desktop User workers.

``validate()`` lists every problem with the inputs at once, each naming the variable and host.
Items for a user that is no longer the desktop user (``previous``: what the role recorded on the
host at its last run) are planned absent, so a flip leaves no trace even when the inventory
changed the user. Linger and auto-logon are only ever removed when the record says this role set
them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ntpath
import plistlib
import posixpath

MODES = ("service", "desktop")
SYSTEMS = ("Linux", "Darwin", "Windows")
USER_UNIT = "qube-desktop-worker.service"
USER_UNIT_DIR = "/etc/systemd/user"
AUTOSTART_NAME = "qube-desktop-worker.desktop"
SYSTEM_DROPIN_NAME = "renderfarm-qube-mode.conf"
STARTUP_SHORTCUT = "DesktopWorker.lnk"
STARTUP_DIR = ("AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Startup")
WINDOWS_DESKTOP_JOB_FLAG = "disable_windows_job_object"
DEFAULT_QBDIR = {
    "Linux": "/usr/local/pfx/qube",
    "Darwin": "/Applications/pfx/qube",
    "Windows": "C:\\Program Files\\pfx\\qube",
}
_SYSTEM_ALIASES = {"Win32NT": "Windows", "MacOSX": "Darwin", "macOS": "Darwin"}
_HEADER = "Managed by renderfarm.qube (role worker_mode); local changes are overwritten."


def normalize_system(os_family):
    """Map ``ansible_facts['system']`` (or a family name) to Linux, Darwin or Windows."""
    name = _SYSTEM_ALIASES.get(os_family, os_family)
    return name if name in SYSTEMS else None


def worker_binary(system, qbdir=None):
    """Path of the worker executable under ``qbdir`` for the given system."""
    qbdir = qbdir or DEFAULT_QBDIR[system]
    if system == "Windows":
        return ntpath.join(qbdir, "sbin", "worker.exe")
    return posixpath.join(qbdir, "sbin", "worker")


PACKAGE_TYPES = {"Linux": (".deb", ".rpm"), "Darwin": (".pkg",), "Windows": (".msi",)}


def validate(host, mode, os_family, desktop_user=None, user_exists=None, home_exists=None,
             proxy_execution_mode=None, auto_logon=False, auto_logon_password_set=False,
             auto_logon_password_vaulted=False, install=False, package_files=()):
    """Return every problem with one host's mode settings, each naming variable and host.

    ``user_exists``/``home_exists`` are the results of the role's read-only lookup of
    ``desktop_user`` (None when it was not looked up). The auto-logon password itself is never
    passed in, only whether it is set and whether it came from Ansible Vault.
    """
    errors = []
    system = normalize_system(os_family)
    if mode not in MODES:
        errors.append("host %s: qube_worker_mode is %r; it must be one of %s."
                      % (host, mode, ", ".join(MODES)))
    if system is None:
        errors.append("host %s: the worker_mode role supports Linux, Darwin (macOS) and Windows, "
                      "not %r." % (host, os_family))
    if mode == "desktop":
        if not desktop_user:
            errors.append("host %s: qube_worker_mode is 'desktop' but qube_desktop_user is not set; "
                          "name the account whose login session runs the worker." % host)
        elif user_exists is False:
            errors.append("host %s: qube_desktop_user %r does not exist on the host; create the "
                          "account (or join the directory that has it) before switching to "
                          "desktop mode." % (host, desktop_user))
        elif home_exists is False:
            errors.append("host %s: qube_desktop_user %r has no home folder or profile on the host "
                          "yet; log in once as that user so the login items have a place to go."
                          % (host, desktop_user))
        if system == "Windows" and proxy_execution_mode == "user":
            errors.append(
                "host %s: qube_proxy_execution_mode is 'user' with qube_worker_mode 'desktop'. A "
                "Desktop User worker never re-authenticates: every job runs as the logged-in user "
                "%s, so user mode would be meaningless. Use 'proxy' (ignored in desktop mode) or "
                "service mode." % (host, repr(desktop_user) if desktop_user else "(unset)"))
    if auto_logon:
        if system != "Windows":
            errors.append("host %s: qube_windows_auto_logon is only supported on Windows." % host)
        if mode != "desktop":
            errors.append("host %s: qube_windows_auto_logon needs qube_worker_mode 'desktop'; a "
                          "service-mode worker runs without anyone logged in." % host)
        if not auto_logon_password_set:
            errors.append("host %s: qube_windows_auto_logon is true but "
                          "qube_windows_auto_logon_password is not set." % host)
        elif not auto_logon_password_vaulted:
            errors.append("host %s: qube_windows_auto_logon_password must come from Ansible Vault "
                          "(an inline !vault value made with ansible-vault encrypt_string; values from "
                          "vault-encrypted files cannot be told apart from plain text)." % host)
    errors.extend(_validate_install(host, system, install, package_files))
    return errors


def _validate_install(host, system, install, package_files):
    if not install or system is None:
        return []
    if not package_files and system != "Linux":
        return ["host %s: qube_worker_install is true but qube_worker_package_files is empty; "
                "%s has no Qube! package repository, so list the %s files (or set "
                "qube_worker_install: false)." % (host, system, "/".join(PACKAGE_TYPES[system]))]
    wrong = [f for f in package_files or () if not str(f).lower().endswith(PACKAGE_TYPES[system])]
    if wrong:
        return ["host %s: qube_worker_package_files has %s, not a %s package: %s"
                % (host, "files" if len(wrong) > 1 else "a file",
                   "/".join(PACKAGE_TYPES[system]), ", ".join(wrong))]
    return []


def _linux_unit(binary, desktop_user, uid):
    # A numeric uid avoids quoting domain names such as MYCORP\\artist in the unit file.
    return "\n".join([
        "# " + _HEADER,
        "[Unit]",
        "Description=Qube! worker in Desktop User mode (runs while %s is logged in)" % desktop_user,
        "ConditionUser=%s" % (uid if uid is not None else desktop_user),
        "",
        "[Service]",
        "Type=simple",
        # Not the user manager's default PATH (on Debian, root's login PATH with the sbin folders).
        "Environment=PATH=/usr/local/bin:/usr/bin:/bin",
        "ExecStart=%s" % binary,
        "Restart=on-failure",
        "RestartSec=5",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])


def _linux_dropin(system_user):
    return "\n".join([
        "# " + _HEADER,
        "# Service mode: the worker runs as %s and starts jobs as the proxy or submitting user."
        % system_user,
        "[Service]",
        "User=%s" % system_user,
        "",
    ])


def _autostart_entry():
    # The user unit starts at login already; in a graphical session this hands the session's
    # display to the user manager and restarts the worker once so it can reach the screen.
    return "\n".join([
        "# " + _HEADER,
        "[Desktop Entry]",
        "Type=Application",
        "Name=Qube! Desktop Worker",
        "Comment=Give the Qube! desktop worker this session's display",
        "Exec=sh -c \"systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY; "
        "systemctl --user restart %s\"" % USER_UNIT,
        "NoDisplay=true",
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def _plist(data):
    return plistlib.dumps(data, fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def _users_in_scope(mode, desktop_user, previous):
    """The desktop user (active in desktop mode) plus every user whose items must be removed."""
    users = []
    if desktop_user:
        users.append(desktop_user)
    prev_user = (previous or {}).get("desktop_user")
    if prev_user and prev_user not in users:
        users.append(prev_user)
    return [(u, mode == "desktop" and u == desktop_user) for u in users]


def _we_set(previous, key, user):
    previous = previous or {}
    return bool(previous.get(key)) and previous.get("desktop_user") == user


def _linux(mode, desktop_user, linger, accounts, previous, qbdir, names):
    desktop = mode == "desktop"
    binary = worker_binary("Linux", qbdir)
    unit_path = posixpath.join(USER_UNIT_DIR, USER_UNIT)
    unit = names["worker_unit"]
    users = []
    for user, active in _users_in_scope(mode, desktop_user, previous):
        account = accounts.get(user)
        want_linger = active and linger
        entry = {"user": user, "active": active, "exists": account is not None,
                 "linger": "present" if want_linger else (
                     "absent" if _we_set(previous, "linger", user) else "unmanaged")}
        if account:
            home = account["home"]
            entry.update({
                "uid": account.get("uid"), "gid": account.get("gid"), "home": home,
                "autostart_dir": posixpath.join(home, ".config", "autostart"),
                "autostart_path": posixpath.join(home, ".config", "autostart", AUTOSTART_NAME),
                "autostart_state": "present" if active else "absent",
                "session_worker": "started" if active else "stopped",
            })
        users.append(entry)
    return {
        "system_unit": {"name": unit, "enabled": not desktop,
                        "state": "stopped" if desktop else "started"},
        "system_dropin": {
            "dir": "/etc/systemd/system/%s.service.d" % unit,
            "path": "/etc/systemd/system/%s.service.d/%s" % (unit, SYSTEM_DROPIN_NAME),
            "state": "absent" if desktop else "present",
            "content": _linux_dropin("root")},
        "user_unit": {"name": USER_UNIT, "path": unit_path,
                      "state": "present" if desktop else "absent",
                      "content": _linux_unit(binary, desktop_user, (accounts.get(desktop_user) or {}).get("uid"))
                      if desktop else ""},
        "user_unit_link": {"path": posixpath.join(USER_UNIT_DIR, "default.target.wants", USER_UNIT),
                           "src": unit_path, "state": "link" if desktop else "absent"},
        "autostart_content": _autostart_entry(),
        "users": users,
    }


def _darwin(mode, desktop_user, accounts, previous, qbdir, names):
    desktop = mode == "desktop"
    binary = worker_binary("Darwin", qbdir)
    daemon = {"Label": names["daemon_label"], "ProgramArguments": [binary],
              "RunAtLoad": True, "KeepAlive": True, "UserName": "root"}
    agent_label = names["agent_label"]
    agent = {"Label": agent_label, "ProgramArguments": [binary], "RunAtLoad": True,
             "KeepAlive": {"SuccessfulExit": False}, "LimitLoadToSessionType": "Aqua",
             "ProcessType": "Interactive"}
    users = []
    for user, active in _users_in_scope(mode, desktop_user, previous):
        account = accounts.get(user)
        entry = {"user": user, "active": active, "exists": account is not None}
        if account:
            agents = posixpath.join(account["home"], "Library", "LaunchAgents")
            uid = account.get("uid")
            entry.update({
                "uid": uid, "gid": account.get("gid"), "home": account["home"], "agent_dir": agents,
                "agent_path": posixpath.join(agents, agent_label + ".plist"),
                "agent_state": "present" if active else "absent",
                "gui_domain": "gui/%s" % uid if uid is not None else None,
            })
        users.append(entry)
    return {
        "daemon": {"label": names["daemon_label"],
                   "path": "/Library/LaunchDaemons/%s.plist" % names["daemon_label"],
                   "state": "absent" if desktop else "present",
                   "loaded": not desktop, "content": _plist(daemon), "data": daemon},
        "agent": {"label": agent_label, "content": _plist(agent), "data": agent},
        "users": users,
    }


def _windows(mode, desktop_user, auto_logon, accounts, previous, qbdir, names):
    desktop = mode == "desktop"
    binary = worker_binary("Windows", qbdir)
    users = []
    for user, active in _users_in_scope(mode, desktop_user, previous):
        account = accounts.get(user)
        entry = {"user": user, "active": active, "exists": account is not None}
        if account:
            startup = ntpath.join(account["home"], *STARTUP_DIR)
            entry.update({"home": account["home"], "startup_dir": startup,
                          "shortcut_path": ntpath.join(startup, STARTUP_SHORTCUT),
                          "shortcut_state": "present" if active else "absent"})
        users.append(entry)
    want_auto = desktop and bool(auto_logon)
    prev_auto = bool((previous or {}).get("auto_logon"))
    return {
        "service": {"name": names["windows_service"],
                    "start_mode": "disabled" if desktop else "auto",
                    "state": "stopped" if desktop else "started"},
        "shortcut": {"src": binary, "description": "Qube! Desktop Worker",
                     "directory": ntpath.dirname(ntpath.dirname(binary))},
        "auto_logon": "present" if want_auto else ("absent" if prev_auto else "unmanaged"),
        "users": users,
    }


def plan(mode, os_family, desktop_user=None, linger=False, accounts=None, previous=None,
         qbdir=None, auto_logon=False, worker_unit="worker",
         daemon_label="com.pipelinefx.worker", agent_label="com.pipelinefx.DesktopWorker",
         windows_service="qubeworker"):
    """Return what must be present and absent on one host for ``mode``.

    ``accounts`` maps user names to ``{"home": ..., "uid": ...}`` as looked up on the host;
    ``previous`` is the record of the last run (``mode``, ``desktop_user``, ``linger``,
    ``auto_logon``). The result always has ``mode``, ``system``, ``worker_binary``,
    ``job_flags_required`` (flags the supervisor must add to ``supervisor_job_flags``),
    ``record`` (what to store on the host for the next run) and one OS section:
    ``linux``, ``darwin`` or ``windows``.
    """
    system = normalize_system(os_family)
    if mode not in MODES or system is None:
        raise ValueError("no plan for mode %r on %r" % (mode, os_family))
    if mode == "desktop" and not desktop_user:
        raise ValueError("desktop mode needs a desktop user")
    accounts = accounts or {}
    desktop_user = desktop_user or None
    names = {"worker_unit": worker_unit, "daemon_label": daemon_label,
             "agent_label": agent_label, "windows_service": windows_service}
    result = {
        "mode": mode, "system": system, "desktop_user": desktop_user if mode == "desktop" else None,
        "worker_binary": worker_binary(system, qbdir),
        "job_flags_required": [WINDOWS_DESKTOP_JOB_FLAG] if (
            system == "Windows" and mode == "desktop") else [],
        "record": {"mode": mode, "desktop_user": desktop_user if mode == "desktop" else None,
                   "linger": bool(linger) and mode == "desktop" and system == "Linux",
                   "auto_logon": bool(auto_logon) and mode == "desktop" and system == "Windows"},
    }
    if system == "Linux":
        result["linux"] = _linux(mode, desktop_user, linger, accounts, previous, qbdir, names)
    elif system == "Darwin":
        result["darwin"] = _darwin(mode, desktop_user, accounts, previous, qbdir, names)
    else:
        result["windows"] = _windows(mode, desktop_user, auto_logon, accounts, previous, qbdir, names)
    return result


def parse_dscl(text):
    """``{uid, gid, home}`` from ``dscl -read /Users/x UniqueID PrimaryGroupID NFSHomeDirectory``.

    Returns None when a field is missing or not numeric.
    """
    fields = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("UniqueID", "PrimaryGroupID", "NFSHomeDirectory") and value.strip():
            fields[key] = value.strip()
    if len(fields) != 3 or not (fields["UniqueID"].isdigit() and fields["PrimaryGroupID"].isdigit()):
        return None
    return {"uid": int(fields["UniqueID"]), "gid": int(fields["PrimaryGroupID"]),
            "home": fields["NFSHomeDirectory"]}


def install_needed(version, installed, packages=None, package_files=None):
    """Whether the worker packages must be installed.

    ``installed`` is ``ansible_facts['packages']`` (name -> list of ``{"version": ...}``).
    With ``version``, installation is skipped when any of the package names (repository names,
    or names parsed from the package files) is installed at that version. Without it, package
    files (deb/rpm) are skipped when every one of them is installed at the version its file name
    carries; repository packages and other files are left to the package tools (idempotent).
    """
    installed = installed or {}
    if version:
        names = list(packages or []) + [package_name(f) for f in package_files or []]
        return not any(_has_version(installed.get(name), version) for name in names)
    parsed = [package_version(f) for f in package_files or []]
    if not parsed or any(v is None for v in parsed):
        return True
    return not all(_has_version(installed.get(package_name(f)), v) for f, v in zip(package_files, parsed))


def _has_version(entries, version):
    for pkg in entries or []:
        found = str(pkg.get("version", ""))
        # apt reports an epoch ("1:8.0-0") that deb file names leave out; rpm adds "-release".
        if found == version or found.split(":", 1)[-1] == version or \
                "%s-%s" % (found, pkg.get("release", "")) == version:
            return True
    return False


def package_version(path):
    """Version from a deb (``name_version_arch.deb``) or rpm (``name-version-release.arch.rpm``) file name."""
    base = posixpath.basename(str(path).replace("\\", "/"))
    if base.endswith(".deb"):
        parts = base[:-4].split("_")
        return parts[1] if len(parts) == 3 else None
    if base.endswith(".rpm"):
        stem = base[:-4].rsplit(".", 1)[0]
        parts = stem.rsplit("-", 2)
        return "%s-%s" % (parts[1], parts[2]) if len(parts) == 3 else None
    return None


def package_name(path):
    """Package name from a package file name (deb ``n_v_a.deb``, rpm ``n-v-r.a.rpm``, msi/pkg stem)."""
    base = posixpath.basename(path.replace("\\", "/"))
    if base.endswith(".deb"):
        return base.split("_", 1)[0]
    if base.endswith(".rpm"):
        return base[:-4].rsplit("-", 2)[0]
    return base.rsplit(".", 1)[0]

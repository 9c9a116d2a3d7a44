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
* Linux and macOS, Desktop User mode: a folder owned by the desktop user (``desktop_worker_dir``)
  for the worker's log, job logs, journal and pid file, whose defaults under /var belong to root
  (CPR worker_logfile, worker_logpath, worker_journal_location, worker_pidfile); a worker that
  cannot write its log path goes to panic (CPR worker_boot_diagnostics_retries). It is kept after
  a flip back to service mode (it holds job logs) and handed over when the desktop user changes.
* macOS: the vendor's LaunchDaemon (its package installs ``/Library/LaunchDaemons/<daemon
  label>.plist``; never written or deleted here) enabled and loaded, or booted out and disabled;
  the LaunchAgent ``~user/Library/LaunchAgents/<agent label>.plist`` that QubeUI creates (KB
  how-to) is written only when absent or ours, and one that is not ours is disabled, not deleted.
* Windows: the ``qubeworker`` service start mode and logon account, the ``DesktopWorker`` item in
  the user's Startup folder (QubeUI's is kept; ours is made only when none exists; one that is
  not ours is parked outside the Startup folder rather than deleted), optional auto-logon, the
  ``disable_windows_job_object`` job flag that the vendor asks for with Desktop User workers, and
  the user rights of the service's account (``windows_rights``).

``validate()`` lists every problem with the inputs at once, each naming the variable and host.
Items for a user that is no longer the desktop user (``previous``: what the role recorded on the
host at its last run) are planned absent, so a flip leaves no trace even when the inventory
changed the user. Linger and auto-logon are only ever removed when the record says this role set
them.

The plan says where files go and whether they must exist, never what they hold: the files the
collection writes whole (systemd user unit and drop-in, XDG autostart entry, LaunchAgent plist)
are Jinja2 templates in the collection's ``templates/worker_mode/``, rendered on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ntpath
import posixpath

from ansible_collections.renderfarm.qube.plugins.module_utils.modes_packages import PACKAGE_TYPES
from ansible_collections.renderfarm.qube.plugins.module_utils.modes_windows import (
    is_local_system, safe_name, windows_startup_action)

MODES = ("service", "desktop")
SYSTEMS = ("Linux", "Darwin", "Windows")
USER_UNIT = "qube-desktop-worker.service"
USER_UNIT_DIR = "/etc/systemd/user"
AUTOSTART_NAME = "qube-desktop-worker.desktop"
SYSTEM_DROPIN_NAME = "renderfarm-qube-mode.conf"
STARTUP_SHORTCUT = "DesktopWorker.lnk"
# Where a DesktopWorker item that is not ours goes while the host is not in Desktop User mode
# for that user: out of the Startup folder (so it does not start a second worker), not deleted.
PARKED_DIR = "C:\\ProgramData\\renderfarm-qube\\parked"
DEFAULT_DESKTOP_WORKER_DIR = "/var/spool/qube/desktop"
# Inside the desktop worker's folder: the names the worker_config role writes into qb.conf.
DESKTOP_WORKER_FILES = {"worker_logfile": "workerlog", "worker_journal_location": "worker.jnl",
                        "worker_pidfile": "worker.pid"}
# Written into the LaunchAgent and Startup item this collection creates; a file without it is
# the vendor's (QubeUI's) or the site's, and is never overwritten or deleted.
OURS_MARKER = "renderfarm.qube"
STARTUP_DIR = ("AppData", "Roaming", "Microsoft", "Windows", "Start Menu", "Programs", "Startup")
WINDOWS_DESKTOP_JOB_FLAG = "disable_windows_job_object"
DEFAULT_QBDIR = {
    "Linux": "/usr/local/pfx/qube",
    "Darwin": "/Applications/pfx/qube",
    "Windows": "C:\\Program Files\\pfx\\qube",
}
_SYSTEM_ALIASES = {"Win32NT": "Windows", "MacOSX": "Darwin", "macOS": "Darwin"}


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


def validate(host, mode, os_family, desktop_user=None, user_exists=None, home_exists=None,
             proxy_execution_mode=None, auto_logon=False, auto_logon_password_set=False,
             auto_logon_password_vaulted=False, install=False, package_files=(),
             desktop_worker_dir=DEFAULT_DESKTOP_WORKER_DIR, service_account="",
             service_password_set=False, service_password_vaulted=False):
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
    if system in ("Linux", "Darwin") and mode == "desktop":
        errors.extend(_validate_desktop_dir(host, desktop_worker_dir))
    errors.extend(_validate_service_account(host, system, service_account, service_password_set,
                                            service_password_vaulted))
    errors.extend(_validate_install(host, system, install, package_files))
    return errors


def _validate_desktop_dir(host, path):
    path = str(path or "")
    if not path.startswith("/") or posixpath.normpath(path) != path.rstrip("/") or \
            posixpath.dirname(posixpath.normpath(path)) == "/":
        return ["host %s: qube_desktop_worker_dir is %r; it must be an absolute, normalised path at "
                "least two levels deep (e.g. %s): the desktop user is made its owner, its parents "
                "stay root's." % (host, path, DEFAULT_DESKTOP_WORKER_DIR)]
    return []


def _validate_service_account(host, system, account, password_set, password_vaulted):
    if is_local_system(account):
        return []
    if system != "Windows":
        return ["host %s: qube_windows_service_account is only used on Windows (POSIX workers run "
                "as root in service mode)." % host]
    if not password_set:
        return ["host %s: qube_windows_service_account is %r but qube_windows_service_password is "
                "not set; the service cannot log on without it." % (host, account)]
    if not password_vaulted:
        return ["host %s: qube_windows_service_password must come from Ansible Vault (an inline "
                "!vault value made with ansible-vault encrypt_string)." % host]
    return []


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


def _desktop_dir(mode, desktop_user, accounts, path):
    """The desktop worker's own folder: owned by the desktop user in desktop mode, else kept."""
    path = path or DEFAULT_DESKTOP_WORKER_DIR
    entry = {"path": path, "parent": posixpath.dirname(path), "mode": 0o755,
             "files": dict((key, posixpath.join(path, name)) for key, name in DESKTOP_WORKER_FILES.items()),
             # Kept after a flip back to service mode: it holds the desktop worker's job logs, and
             # the service worker no longer reads it (worker_config removes the qb.conf keys).
             "state": "kept", "user": None, "uid": None, "gid": None}
    entry["files"]["worker_logpath"] = path
    if mode == "desktop":
        account = accounts.get(desktop_user) or {}
        entry.update({"state": "present", "user": desktop_user,
                      "uid": account.get("uid"), "gid": account.get("gid")})
    return entry


def _linux(mode, desktop_user, linger, accounts, previous, names, desktop_worker_dir):
    desktop = mode == "desktop"
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
            "state": "absent" if desktop else "present"},
        "user_unit": {"name": USER_UNIT, "path": unit_path,
                      "state": "present" if desktop else "absent"},
        "user_unit_link": {"path": posixpath.join(USER_UNIT_DIR, "default.target.wants", USER_UNIT),
                           "src": unit_path, "state": "link" if desktop else "absent"},
        "desktop_dir": _desktop_dir(mode, desktop_user, accounts, desktop_worker_dir),
        "users": users,
    }


def is_ours(text):
    """True when a LaunchAgent plist or Startup item description was written by this collection."""
    return OURS_MARKER in (text or "")


def _darwin(mode, desktop_user, accounts, previous, names, desktop_worker_dir, daemon_plist):
    desktop = mode == "desktop"
    agent_label = names["agent_label"]
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
    label = names["daemon_label"]
    return {
        # The vendor's plist: never written or deleted here; service mode needs it to exist.
        "daemon": {"label": label,
                   "path": daemon_plist or "/Library/LaunchDaemons/%s.plist" % label,
                   "target": "system/%s" % label,
                   "enabled": not desktop, "loaded": not desktop},
        "agent": {"label": agent_label},
        "desktop_dir": _desktop_dir(mode, desktop_user, accounts, desktop_worker_dir),
        "users": users,
    }


def _windows(mode, desktop_user, auto_logon, accounts, previous, qbdir, names, startup_target,
             startup_arguments, service_account):
    desktop = mode == "desktop"
    binary = worker_binary("Windows", qbdir)
    users = []
    ours_for = (previous or {}).get("startup_item_ours") or []
    for user, active in _users_in_scope(mode, desktop_user, previous):
        account = accounts.get(user)
        entry = {"user": user, "active": active, "exists": account is not None}
        if account:
            startup = ntpath.join(account["home"], *STARTUP_DIR)
            parked = ntpath.join(PARKED_DIR, safe_name(user), STARTUP_SHORTCUT)
            action = windows_startup_action(active, bool(account.get("startup_item")),
                                            bool(account.get("parked_item")), user in ours_for)
            entry.update({"home": account["home"], "startup_dir": startup,
                          "shortcut_path": ntpath.join(startup, STARTUP_SHORTCUT),
                          "parked_dir": ntpath.dirname(parked), "parked_path": parked,
                          "startup_action": action})
        users.append(entry)
    want_auto = desktop and bool(auto_logon)
    prev_auto = bool((previous or {}).get("auto_logon"))
    account = "" if is_local_system(service_account) else service_account
    return {
        "service": {"name": names["windows_service"],
                    "start_mode": "disabled" if desktop else "auto",
                    "state": "stopped" if desktop else "started",
                    "username": account or "LocalSystem", "named_account": bool(account)},
        # The vendor does not document the DesktopWorker item's command line. Ours (made only when
        # the user has none) starts the worker binary without --console: per the KB FAQ on the
        # console worker, --console is what makes a command-line worker authenticate like a
        # service, so without it the worker runs as the logged-in user (Desktop User mode).
        "shortcut": {"src": startup_target or binary, "arguments": startup_arguments or "",
                     "description": "Qube! Desktop Worker (%s)" % OURS_MARKER,
                     "directory": ntpath.dirname(ntpath.dirname(startup_target or binary))},
        "auto_logon": "present" if want_auto else ("absent" if prev_auto else "unmanaged"),
        "users": users,
    }


def plan(mode, os_family, desktop_user=None, linger=False, accounts=None, previous=None,
         qbdir=None, auto_logon=False, worker_unit="worker",
         daemon_label="com.pipelinefx.worker", agent_label="com.pipelinefx.DesktopWorker",
         windows_service="qubeworker", desktop_worker_dir=DEFAULT_DESKTOP_WORKER_DIR,
         daemon_plist="", startup_target="", startup_arguments="", service_account=""):
    """Return what must be present and absent on one host for ``mode``.

    ``accounts`` maps user names to ``{"home": ..., "uid": ...}`` as looked up on the host (on
    Windows also ``startup_item``/``parked_item``: whether the DesktopWorker item exists in the
    user's Startup folder / where this role parks it); ``previous`` is the record of the last run
    (``mode``, ``desktop_user``, ``linger``, ``auto_logon``, ``startup_item_ours``). The result
    always has ``mode``, ``system``, ``worker_binary``, ``job_flags_required`` (flags the
    supervisor must add to ``supervisor_job_flags``), ``record`` (what to store on the host for
    the next run) and one OS section: ``linux``, ``darwin`` or ``windows``.
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
        result["linux"] = _linux(mode, desktop_user, linger, accounts, previous, names,
                                 desktop_worker_dir)
    elif system == "Darwin":
        result["darwin"] = _darwin(mode, desktop_user, accounts, previous, names,
                                   desktop_worker_dir, daemon_plist)
    else:
        windows = _windows(mode, desktop_user, auto_logon, accounts, previous, qbdir, names,
                           startup_target, startup_arguments, service_account)
        result["windows"] = windows
        result["record"]["startup_item_ours"] = [
            u["user"] for u in windows["users"] if u.get("startup_action") in ("create", "update")]
    return result

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: qube_worker_mode
short_description: Put a Linux Qube! worker in service mode or Desktop User mode in one call
version_added: "0.3.0"
description:
  - Looks up the desktop users on the host, reads what the last run recorded, plans the mode with
    the collection's C(modes) module_utils (the same plan the role uses on macOS and Windows) and
    applies it, all in one round trip.
  - Service mode, the systemd unit O(worker_unit) enabled and started, pinned to root by a
    drop-in; no desktop trace is left.
  - Desktop User mode, the system unit disabled and stopped; a user unit
    C(/etc/systemd/user/qube-desktop-worker.service) that runs only for O(desktop_user) and is
    enabled for every login (it starts at the user's login and stops at logout), an XDG autostart
    entry in the user's C(~/.config/autostart), linger only when O(linger=true); a session that
    is already open gets the worker at once.
  - Desktop User mode also makes O(desktop_worker_dir) (parents root-owned, mode 0755) owned by
    O(desktop_user), mode 0755, before the desktop worker can start. The worker's log, job logs,
    journal and pid file go there (the worker_config role points C(worker_logfile),
    C(worker_logpath), C(worker_journal_location) and C(worker_pidfile) at it), because their
    defaults under C(/var) belong to root and a worker that cannot write its log path panics.
    When the folder belongs to someone else (a new desktop user), everything in it is handed to
    O(desktop_user) without following symbolic links. In service mode the folder is left as it is.
  - Items for a user that was the desktop user at the last run are removed, and linger is only
    ever disabled when the record says this collection enabled it.
  - Files are written atomically (temporary file and rename in the same folder); a file that
    already has the wanted content, owner and mode is not touched.
  - The record (mode, desktop user, linger; no secret) goes to O(record_path), in a folder that
    only root can read.
author:
  - renderfarm.qube maintainers (@renderfarm-qube)
options:
  mode:
    description: V(service) or V(desktop).
    type: str
    choices: [service, desktop]
    required: true
  desktop_user:
    description: The account whose login session runs the worker in desktop mode.
    type: str
    default: ""
  linger:
    description: Keep the desktop user's systemd manager (and so the worker) running without a login.
    type: bool
    default: false
  qbdir:
    description: Qube! installation folder (the worker binary is C(<qbdir>/sbin/worker)).
    type: path
    default: /usr/local/pfx/qube
  desktop_worker_dir:
    description: The desktop worker's own folder (log, job logs, journal, pid file) in Desktop User mode.
    type: path
    default: /var/spool/qube/desktop
  worker_unit:
    description: Name of the worker's system unit, without C(.service).
    type: str
    default: worker
  dropin_content:
    description:
      - Content of the system unit's drop-in C(/etc/systemd/system/<worker_unit>.service.d/renderfarm-qube-mode.conf)
        that pins the worker to root in service mode; required when O(mode=service).
      - The role renders it on the controller from C(qube_systemd_dropin_template) (default
        C(templates/worker_mode/systemd-dropin.conf.j2) of the collection).
    type: str
  user_unit_content:
    description:
      - Content of the user unit C(/etc/systemd/user/qube-desktop-worker.service); required when O(mode=desktop).
      - The role renders it from C(qube_systemd_user_unit_template) (default
        C(templates/worker_mode/systemd-user-unit.service.j2)).
    type: str
  autostart_content:
    description:
      - Content of the XDG autostart entry C(~/.config/autostart/qube-desktop-worker.desktop);
        required when O(mode=desktop).
      - The role renders it from C(qube_xdg_autostart_template) (default
        C(templates/worker_mode/xdg-autostart.desktop.j2)).
    type: str
  record_path:
    description: Where the applied mode is recorded for the next run.
    type: path
    default: /var/lib/renderfarm-qube/worker_mode.json
  host:
    description: Inventory name of the host, used in error messages.
    type: str
    default: this host
  package_changed:
    description: The worker packages were (re)installed just before this call; a running worker
      whose mode stays the same must then be restarted (RV(restart_needed)).
    type: bool
    default: false
  pending_file:
    description:
      - When a restart is needed, write this marker (the one C(renderfarm.qube.qube_conf) keeps
        for the local qb.conf); the restart handler removes it once the worker restarted. A run
        that dies before its handler leaves it, and the next run restarts the worker.
    type: path
  install_check:
    description:
      - Decide first whether the worker packages must be installed, from the versions C(dpkg-query)
        or C(rpm) report on the host (the rules of O(install_check.version) as in the role's
        C(qube_worker_version)). When they must be, nothing is changed and RV(install_needed=true)
        is returned, so the role installs and calls the module again; on a host that is up to date
        this saves a separate package query.
      - Omitted, installation is not looked at.
    type: dict
    suboptions:
      version:
        description: Wanted version of any of the packages; empty to use the versions in O(install_check.package_files).
        type: str
        default: ""
      packages:
        description: Repository package names.
        type: list
        elements: str
        default: []
      package_files:
        description: Package file names (deb C(name_version_arch.deb), rpm C(name-version-release.arch.rpm)).
        type: list
        elements: str
        default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Read-only commands (C(systemctl is-active), C(is-enabled), C(dpkg-query)) still run.
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Linux with systemd only; macOS and Windows hosts use the role's task files, which apply the
    same plan with community.general.launchd, ansible.windows and community.windows modules.
"""

EXAMPLES = r"""
- name: Desktop User mode for artist (uid 1001)
  renderfarm.qube.qube_worker_mode:
    mode: desktop
    desktop_user: artist
    user_unit_content: >-
      {{ lookup('ansible.builtin.template', 'systemd-user-unit.service.j2', template_vars={'desktop_user': 'artist',
         'desktop_uid': 1001, 'worker_binary': '/usr/local/pfx/qube/sbin/worker'}) }}
    autostart_content: >-
      {{ lookup('ansible.builtin.template', 'xdg-autostart.desktop.j2',
         template_vars={'user_unit': 'qube-desktop-worker.service'}) }}
    host: "{{ inventory_hostname }}"
  register: mode_result

- name: Service mode
  renderfarm.qube.qube_worker_mode:
    mode: service
    dropin_content: "{{ lookup('ansible.builtin.template', 'systemd-dropin.conf.j2', template_vars={'service_user': 'root'}) }}"
"""

RETURN = r"""
mode:
  description: The mode now in effect.
  returned: always
  type: str
  sample: service
previous:
  description: What the last run recorded (empty on a fresh host).
  returned: always
  type: dict
  sample: {mode: desktop, desktop_user: artist, linger: false, auto_logon: false}
definition_changed:
  description: The running worker's definition (drop-in or user unit) changed while the mode stayed
    the same, so a running worker should be restarted (drained) to pick it up.
  returned: always
  type: bool
job_flags_required:
  description: Job flags the supervisor must add for this mode (none on Linux).
  returned: always
  type: list
  elements: str
restart_needed:
  description: The mode stayed the same and the worker's definition (drop-in, user unit) or package
    changed, so a running worker must be restarted (drained) to pick it up.
  returned: always
  type: bool
install_needed:
  description: With O(install_check), the packages must be installed first; nothing else was done.
  returned: always
  type: bool
installed_before:
  description: With O(install_check), whether any of the worker packages was installed (at any
    version) before this call; RV(install_needed=true) with RV(installed_before=false) is a fresh
    installation. Without O(install_check), V(true).
  returned: always
  type: bool
desktop_worker_dir:
  description: The desktop worker's folder and the files the worker_config role points qb.conf at.
  returned: always
  type: dict
  sample: {path: /var/spool/qube/desktop, state: present, user: artist,
           files: {worker_logfile: /var/spool/qube/desktop/workerlog}}
actions:
  description: What was done (or, in check mode, would be done), one line each.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/systemd/system/worker.service.d/renderfarm-qube-mode.conf", "enable worker"]
"""

import json
import os
import pwd
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.renderfarm.qube.plugins.module_utils import modes, pending

LINGER_DIR = "/var/lib/systemd/linger"


class Applier:
    """Applies one host's plan; records every action; writes nothing in check mode."""

    def __init__(self, module):
        self.module = module
        self.check = module.check_mode
        self.actions = []
        self.diff = []

    def _act(self, text):
        self.actions.append(text)

    # Files ---------------------------------------------------------------------------------
    def _attrs(self, path, st, uid, gid, mode):
        """Give an existing ``path`` (stat ``st``) its owner and mode. True when changed."""
        if st.st_uid == uid and st.st_gid == gid and (st.st_mode & 0o7777) == mode:
            return False
        self._act("set owner/mode of %s" % path)
        if not self.check:
            os.chown(path, uid, gid)
            os.chmod(path, mode)
        return True

    def directory(self, path, uid=0, gid=0, mode=0o755):
        """Create ``path`` (parents too) or fix its owner and mode. True when changed."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent = os.path.dirname(path)
            if parent and parent != path and not os.path.isdir(parent):
                self.directory(parent, uid, gid, mode)  # like the file module: same owner and mode
            self._act("create folder %s" % path)
            self.diff.append({"before_header": path, "after_header": path,
                              "before": {"path": path, "state": "absent"},
                              "after": {"path": path, "state": "directory"}})
            if not self.check:
                os.mkdir(path, mode)
                os.chown(path, uid, gid)
                os.chmod(path, mode)
            return True
        return self._attrs(path, st, uid, gid, mode)

    def file(self, path, content, uid=0, gid=0, mode=0o644):
        """Write ``content`` to ``path`` atomically when it differs. True when changed."""
        data = to_bytes(content)
        try:
            with open(path, "rb") as handle:
                before = handle.read()
            st = os.stat(path)
        except FileNotFoundError:
            before, st = None, None
        if before == data:
            return self._attrs(path, st, uid, gid, mode)
        self._act("write %s" % path)
        self.diff.append({"before_header": path, "after_header": path,
                          "before": "" if before is None else before.decode("utf-8", "replace"),
                          "after": content})
        if not self.check:
            fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=os.path.dirname(path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                self.module.atomic_move(tmp, path)
                # atomic_move gives a new file the defaults (or the old file's attributes): set ours.
                os.chown(path, uid, gid)
                os.chmod(path, mode)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return True

    def hand_over(self, path, uid, gid):
        """Give everything under ``path`` (not ``path`` itself) to ``uid``/``gid``. True when changed.

        Walks with directory file descriptors and never follows a symbolic link, so a link the
        previous owner left cannot point the walk (running as root) anywhere else.
        """
        changed = False
        for _root, dirs, files, root_fd in os.fwalk(path, follow_symlinks=False):
            for name in dirs + files:
                st = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
                if st.st_uid != uid or st.st_gid != gid:
                    changed = True
                    if not self.check:
                        os.chown(name, uid, gid, dir_fd=root_fd, follow_symlinks=False)
        if changed:
            self._act("hand the contents of %s to uid %d" % (path, uid))
        return changed

    def link(self, path, src):
        try:
            current = os.readlink(path)
        except FileNotFoundError:
            current = None
        except OSError:  # a regular file where the link belongs
            current = ""
        if current == src:
            return False
        self._act("link %s -> %s" % (path, src))
        self.diff.append({"before_header": path, "after_header": path,
                          "before": {"path": path, "src": current},
                          "after": {"path": path, "src": src}})
        if not self.check:
            if current is not None:
                os.unlink(path)
            os.symlink(src, path)
        return True

    def absent(self, path):
        if not os.path.lexists(path):
            return False
        self._act("remove %s" % path)
        self.diff.append({"before_header": path, "after_header": path,
                          "before": {"path": path, "state": "present"},
                          "after": {"path": path, "state": "absent"}})
        if not self.check:
            os.unlink(path)
        return True

    def empty_folder_absent(self, path):
        """Remove ``path`` when it is an empty folder (what this module created for its file)."""
        try:
            if not os.path.isdir(path) or os.path.islink(path) or os.listdir(path):
                return False
        except OSError:
            return False
        self._act("remove empty folder %s" % path)
        if not self.check:
            os.rmdir(path)
        return True

    # Commands ------------------------------------------------------------------------------
    def query(self, argv):
        """A read-only command: (rc, stdout). Runs in check mode too."""
        rc, out, _err = self.module.run_command(argv)
        return rc, out.strip()

    def do(self, argv, text):
        """A command that changes the host: skipped (but reported) in check mode."""
        self._act(text)
        if self.check:
            return
        rc, out, err = self.module.run_command(argv)
        if rc != 0:
            self.module.fail_json(msg="%s failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()),
                                  actions=self.actions)


def lookup(user):
    """``{uid, gid, home, home_exists}`` of a local or directory account, or None."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return {"uid": entry.pw_uid, "gid": entry.pw_gid, "home": entry.pw_dir,
            "home_exists": os.path.isdir(entry.pw_dir)}


def read_record(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record_text(record):
    # The same text as to_nice_json(sort_keys=true) in the macOS and Windows task files.
    return json.dumps(record, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def installed_versions(module, names):
    """``{name: [{"version": ...}]}`` for the packages of ``names`` installed on the host."""
    dpkg = module.get_bin_path("dpkg-query")
    rpm = None if dpkg else module.get_bin_path("rpm")
    found = {}
    for name in names:
        if dpkg:
            rc, out, _err = module.run_command([dpkg, "-W", "-f", "${Status}|${Version}\\n", name])
            lines = [line.split("|", 1) for line in out.splitlines() if "|" in line]
            versions = [v for status, v in lines if status.endswith(" installed")]
        elif rpm:
            rc, out, _err = module.run_command([rpm, "-q", "--qf", "%{VERSION}-%{RELEASE}\\n", name])
            versions = out.split() if rc == 0 else []
        else:
            versions = []
        if versions:
            found[name] = [{"version": v} for v in versions]
    return found


def install_needed(module, check):
    """(must install, any worker package installed before) from the host's package database."""
    names = list(check["packages"]) + [modes.package_name(f) for f in check["package_files"]]
    installed = installed_versions(module, names)
    needed = modes.install_needed(check["version"], installed,
                                  packages=check["packages"], package_files=check["package_files"])
    return needed, bool(installed)


def user_manager_running(app, uid):
    return app.query(["systemctl", "is-active", "user@%d.service" % uid])[0] == 0


def apply_desktop_dir(app, entry, host):
    """Desktop mode: the desktop worker's folder owned by the desktop user (parents root 0755)."""
    path = entry["path"]
    if entry["state"] != "present":
        return False
    if entry["uid"] is None:
        app.module.fail_json(msg="host %s: qube_desktop_user %r has no uid on the host, so "
                             "qube_desktop_worker_dir %s cannot be given to it." % (host, entry["user"], path))
    parent = entry["parent"]
    missing = []
    while parent and not os.path.lexists(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(missing):
        app.directory(folder, 0, 0, 0o755)
    # An existing parent must let the desktop user through (it is not ours to loosen).
    for folder in _parents(entry["parent"]):
        if folder in missing:
            continue
        st = os.stat(folder)
        if not stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o001:
            app.module.fail_json(msg="host %s: %s (a parent of qube_desktop_worker_dir %s) is not a folder "
                                 "others may enter (mode %s), so the desktop user %r could not reach the "
                                 "worker's log folder; choose another qube_desktop_worker_dir or fix that "
                                 "folder." % (host, folder, path, oct(st.st_mode & 0o7777), entry["user"]))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISDIR(st.st_mode):
        app.module.fail_json(msg="host %s: qube_desktop_worker_dir %s exists and is not a folder (a link or a "
                             "file); the desktop worker's log folder must be a real folder." % (host, path))
    changed = False
    if st is not None and st.st_uid != entry["uid"]:
        # A new desktop user: the previous one's log, journal and job logs become theirs, so
        # the worker can append to them; the folder itself last (a run that dies redoes it).
        changed = app.hand_over(path, entry["uid"], entry["gid"])
    return app.directory(path, entry["uid"], entry["gid"], entry["mode"]) or changed


def _parents(path):
    """``path`` and every folder above it, up to /."""
    found = []
    while path and path not in found:
        found.append(path)
        path = os.path.dirname(path)
    return found


def apply_linux(app, linux, contents, record_path, record, host="this host"):
    """Apply the Linux part of the plan; ``contents`` holds the rendered ``dropin``, ``user_unit``, ``autostart``."""
    unit = linux["system_unit"]["name"]
    user_unit = linux["user_unit"]
    managers = [u for u in linux["users"] if u["exists"] and user_manager_running(app, u["uid"])]

    def session(user, *verb):
        return ["systemctl", "--user", "--machine=%s@.host" % user] + list(verb)

    # A user who no longer owns the worker: stop it in their open session first.
    for entry in managers:
        if entry["session_worker"] == "stopped" and app.query(session(entry["user"], "is-active", user_unit["name"]))[0] == 0:
            app.do(session(entry["user"], "stop", user_unit["name"]),
                   "stop %s in the session of %s" % (user_unit["name"], entry["user"]))

    # Before any desktop worker can start: its own folder, owned by the desktop user.
    apply_desktop_dir(app, linux["desktop_dir"], host)

    dropin = linux["system_dropin"]
    if dropin["state"] == "present":
        app.directory(dropin["dir"])
        dropin_changed = app.file(dropin["path"], contents["dropin"])
    else:
        dropin_changed = app.absent(dropin["path"])
        app.empty_folder_absent(dropin["dir"])

    link = linux["user_unit_link"]
    if user_unit["state"] == "present":
        app.directory(os.path.dirname(user_unit["path"]))
        unit_changed = app.file(user_unit["path"], contents["user_unit"])
        app.directory(os.path.dirname(link["path"]))
        app.link(link["path"], link["src"])
    else:
        app.absent(link["path"])
        unit_changed = app.absent(user_unit["path"])

    for entry in linux["users"]:
        if entry["exists"]:
            if entry["autostart_state"] == "present":
                app.directory(entry["autostart_dir"], entry["uid"], entry["gid"], 0o755)
                app.file(entry["autostart_path"], contents["autostart"], entry["uid"], entry["gid"], 0o644)
            else:
                app.absent(entry["autostart_path"])
        lingering = os.path.exists(os.path.join(LINGER_DIR, entry["user"]))
        if entry["linger"] == "present" and not lingering:
            app.do(["loginctl", "enable-linger", entry["user"]], "enable linger for %s" % entry["user"])
        elif entry["linger"] == "absent" and lingering:
            app.do(["loginctl", "disable-linger", entry["user"]], "disable linger for %s" % entry["user"])

    if dropin_changed:
        app.do(["systemctl", "daemon-reload"], "systemctl daemon-reload")
    want_enabled = linux["system_unit"]["enabled"]
    enabled = app.query(["systemctl", "is-enabled", unit])[1] in ("enabled", "enabled-runtime")
    if want_enabled != enabled:
        verb = "enable" if want_enabled else "disable"
        app.do(["systemctl", verb, unit], "%s %s" % (verb, unit))
    want_active = linux["system_unit"]["state"] == "started"
    active = app.query(["systemctl", "is-active", unit])[0] == 0
    if want_active != active:
        verb = "start" if want_active else "stop"
        app.do(["systemctl", verb, unit], "%s %s" % (verb, unit))

    # The desktop user's session is already open: start the worker there now.
    for entry in managers:
        # (A changed definition of a worker already running there is the restart handler's job.)
        if entry["session_worker"] == "started" and \
                app.query(session(entry["user"], "is-active", user_unit["name"]))[0] != 0:
            app.do(session(entry["user"], "daemon-reload"), "reload the user manager of %s" % entry["user"])
            app.do(session(entry["user"], "start", user_unit["name"]),
                   "start %s in the open session of %s" % (user_unit["name"], entry["user"]))

    app.directory(os.path.dirname(record_path), 0, 0, 0o700)
    app.file(record_path, record_text(record), 0, 0, 0o644)
    return dropin_changed or unit_changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=list(modes.MODES)),
            desktop_user=dict(type="str", default=""),
            linger=dict(type="bool", default=False),
            qbdir=dict(type="path", default=modes.DEFAULT_QBDIR["Linux"]),
            desktop_worker_dir=dict(type="path", default=modes.DEFAULT_DESKTOP_WORKER_DIR),
            worker_unit=dict(type="str", default="worker"),
            record_path=dict(type="path", default="/var/lib/renderfarm-qube/worker_mode.json"),
            host=dict(type="str", default="this host"),
            package_changed=dict(type="bool", default=False),
            pending_file=dict(type="path"),
            dropin_content=dict(type="str"),
            user_unit_content=dict(type="str"),
            autostart_content=dict(type="str"),
            install_check=dict(type="dict", options=dict(
                version=dict(type="str", default=""),
                packages=dict(type="list", elements="str", default=[]),
                package_files=dict(type="list", elements="str", default=[]),
            )),
        ),
        required_if=[("mode", "service", ["dropin_content"]),
                     ("mode", "desktop", ["user_unit_content", "autostart_content"])],
        supports_check_mode=True,
    )
    p = module.params
    mode, user = p["mode"], p["desktop_user"] or ""
    previous = read_record(p["record_path"])
    account = lookup(user) if user else None
    errors = modes.validate(
        p["host"], mode, "Linux", desktop_user=user,
        user_exists=(account is not None) if user else None,
        home_exists=account["home_exists"] if account else None,
        desktop_worker_dir=p["desktop_worker_dir"])
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    installed_before = True
    if p["install_check"]:
        needed, installed_before = install_needed(module, p["install_check"])
        if needed:
            module.exit_json(changed=False, install_needed=True, installed_before=installed_before,
                             mode=mode, previous=previous, definition_changed=False,
                             restart_needed=False, job_flags_required=[], actions=[], desktop_worker_dir={})

    accounts = {}
    for name in (user, previous.get("desktop_user")):
        if name and name not in accounts:
            found = account if name == user else lookup(name)
            if found:
                accounts[name] = found
    try:
        plan = modes.plan(mode, "Linux", desktop_user=user, linger=p["linger"], accounts=accounts,
                          previous=previous, qbdir=p["qbdir"], worker_unit=p["worker_unit"],
                          desktop_worker_dir=p["desktop_worker_dir"])
    except ValueError as exc:
        module.fail_json(msg="host %s: %s" % (p["host"], to_native(exc)))

    app = Applier(module)
    try:
        contents = {"dropin": p["dropin_content"], "user_unit": p["user_unit_content"],
                    "autostart": p["autostart_content"]}
        definition_changed = apply_linux(app, plan["linux"], contents, p["record_path"], plan["record"], p["host"])
    except OSError as exc:
        module.fail_json(msg="host %s: %s: %s" % (p["host"], exc.filename or "", exc.strerror or to_native(exc)),
                         actions=app.actions)
    same_mode = previous.get("mode") == mode
    restart_needed = same_mode and bool(definition_changed or p["package_changed"])
    if restart_needed and p["pending_file"] and not module.check_mode:
        try:
            pending.mark(p["pending_file"], "the worker's definition or package changed; the restart handler applies it")
        except OSError as exc:
            module.fail_json(msg="host %s: %s: %s" % (p["host"], p["pending_file"], exc.strerror or to_native(exc)),
                             actions=app.actions)
    result = {
        "changed": bool(app.actions) or restart_needed, "mode": plan["mode"], "previous": previous,
        "definition_changed": bool(definition_changed) and same_mode, "restart_needed": restart_needed,
        "job_flags_required": plan["job_flags_required"], "actions": app.actions, "install_needed": False,
        "installed_before": installed_before, "desktop_worker_dir": plan["linux"]["desktop_dir"],
    }
    if module._diff:
        result["diff"] = app.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()

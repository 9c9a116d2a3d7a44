# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Applies the Linux part of a worker mode plan (``modes.plan``) on the host, for ``qube_worker_mode``.

``Applier`` writes files atomically (only when their content, owner or mode differ), runs
commands, records every action and diff, and changes nothing in check mode. ``apply_linux`` puts
the systemd units, drop-in, autostart entries, linger and the desktop worker's folder in the
planned state; the contents of the files written whole come rendered from the role's templates.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import pwd
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes


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

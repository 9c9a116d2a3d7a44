# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one writer of Qube! configuration files (qb.conf, qbwrk.conf) on POSIX hosts.

Every module that changes such a file (``qube_conf``, ``qube_qbwrk``) hands the old and the new
text to :func:`apply`: secret values are masked in all output and the diff is redacted; the new
text goes to a 0600 temporary file in the same folder, is flushed to disk, checked with the
``validate`` command, the old file is backed up (0600), a pending marker is left for the handler
that applies the change, a file holding a secret is made 0600 before the new content moves in,
and an atomic rename replaces it. Temporary files of killed earlier runs are removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import hmac
import os
import re
import shlex
import shutil
import tempfile
import time

from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.renderfarm.qube.plugins.module_utils import pending
from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import (
    DRIVE_MAP_KEYS, QbConfError, decode_value, parse_lines, redact, unquote,
)

# The secret keys of Qube! files (CPR proxy_password.md, database_password): one list for every plugin.
SECRET_KEYS = ("proxy_password", "database_password")
SECRET_MODE = "0600"
REDACTED = "REDACTED"
# Stand-in for a new encrypted password in check mode (qbhash is not run): no secret, always "changed".
CHECK_MODE_HASH = "renderfarm-qube-check-mode-new-encrypted-password"
# The one password fingerprint of the collection (qube_credential on POSIX and on Windows):
# PBKDF2-HMAC-SHA256, so "changed" is decided without storing or reading back the secret.
PBKDF2_ITERATIONS = 200000
TEMP_PREFIX = ".qube_conf."
# .qube_conf.<pid of the writing module>.<random>: a file whose process is gone is a leftover.
TEMP_RE = re.compile(r"^\.qube_conf\.(\d+)\.[^/]+$")


def fingerprint(password, key, iterations=PBKDF2_ITERATIONS):
    """Hex PBKDF2-HMAC-SHA256 of ``password`` salted with ``key`` (bytes: a random salt, bound to an account)."""
    return binascii.hexlify(hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), key, iterations)).decode("ascii")


def fingerprint_record(password, context, salt=None, iterations=PBKDF2_ITERATIONS):
    """``pbkdf2-sha256$<iterations>$<salt b64>$<hex>`` of ``password``: a new random salt (unless given),
    bound to ``context`` (the qualified account name), for a record kept on a host with no salt file."""
    salt = os.urandom(16) if salt is None else salt
    key = salt + b"\0" + context.encode("utf-8")
    return "pbkdf2-sha256$%d$%s$%s" % (iterations, base64.b64encode(salt).decode("ascii"),
                                       fingerprint(password, key, iterations))


def fingerprint_matches(password, stored, context):
    """True when ``stored`` (see :func:`fingerprint_record`) was made from ``password`` for ``context``."""
    try:
        scheme, iterations, salt, _digest = (stored or "").split("$")
        if scheme != "pbkdf2-sha256":
            return False
        expected = fingerprint_record(password, context, base64.b64decode(salt), int(iterations))
    except (ValueError, TypeError, binascii.Error):
        return False
    return hmac.compare_digest(expected, stored)


def secret_values(text, secret_keys):
    """Every secret value in ``text``: values of secret keys and drive-map password hashes."""
    found = set()
    for line in parse_lines(text):
        if line.kind != "entry":
            continue
        if line.key in secret_keys and unquote(line.value):
            found.add(unquote(line.value))
        elif line.key in DRIVE_MAP_KEYS:
            try:
                found.update(entry["password_hash"] for entry in decode_value(line.key, line.value)
                             if entry.get("password_hash"))
            except QbConfError:
                pass
    return found


def validate_file(module, tmp_path, secrets):
    """Run the validate command on ``tmp_path``; fail with redacted output on a non-zero exit."""
    command = module.params["validate"]
    if "%s" not in command:
        module.fail_json(msg="validate must contain %%s for the file to check (got %s)" % command)
    argv = [tmp_path if arg == "%s" else arg.replace("%s", tmp_path) for arg in shlex.split(command)]
    rc, out, err = module.run_command(argv)
    if rc != 0:
        output = redact((err or out or "").strip(), module.params["secret_keys"])
        for secret in secrets:
            output = output.replace(secret, "REDACTED")
        module.fail_json(msg="validation of the new %s failed (%s exited %d): %s"
                         % (module.params["path"], argv[0], rc, output), rc=rc)


def pid_alive(pid):
    """True when process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temp_files(directory):
    """Temporary files of this module in ``directory`` whose writing process is gone."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    stale = []
    for name in names:
        match = TEMP_RE.match(name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            stale.append(os.path.join(directory, name))
    return sorted(stale)


def make_backup(path):
    """Copy ``path`` to ``path.<pid>.<time>~`` (created 0600, then the original's mode and owner)."""
    stem = "%s.%s.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime()))
    backup, fd, number = stem + "~", None, 0
    while fd is None:
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # a second backup of the same file within the same second
            number += 1
            if number > 100:
                raise
            backup = "%s.%d~" % (stem, number)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copystat(path, backup)
        info = os.stat(path)
        os.chown(backup, info.st_uid, info.st_gid)
    except (IOError, OSError):
        if os.path.lexists(backup):
            os.unlink(backup)
        raise
    return backup


def write(module, text, has_secret):
    """Write ``text`` to path through a 0600 temp file in the same directory -> backup file or None.

    Order: temp file (flushed to disk), validate, backup, pending marker, tighten the target to
    0600 when a secret is inside, rename. Whatever fails, the temp file goes and the target is
    left as it was.
    """
    path = module.params["path"]
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        module.fail_json(msg="%s: directory %s does not exist" % (path, directory))
    tmp_path, backup_file, step = None, None, "write the new content to a temporary file in %s" % directory
    try:
        fd, tmp_path = tempfile.mkstemp(prefix="%s%d." % (TEMP_PREFIX, os.getpid()), dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(text))
            handle.flush()
            os.fsync(handle.fileno())
        if module.params["validate"]:
            validate_file(module, tmp_path, module.no_log_values)
        if module.params["backup"] and os.path.exists(path):
            step = "back up the current file"
            backup_file = make_backup(path)
        if module.params["pending_file"]:
            step = "write the marker %s" % module.params["pending_file"]
            pending.mark(module.params["pending_file"],
                         "%s changed; the change is applied by its restart or push handler" % path)
        step = "replace the file"
        if has_secret:
            if os.path.exists(path):
                os.chmod(path, 0o600)
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        module.atomic_move(tmp_path, path, unsafe_writes=module.params["unsafe_writes"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="%s: could not %s: %s; %s is unchanged" % (path, step, to_native(exc), path))
    finally:
        if tmp_path and os.path.lexists(tmp_path):
            os.unlink(tmp_path)
    return backup_file


def apply(module, path, old_text, new_text, exists, secret_keys, changed_keys=None):
    """Write ``new_text`` to ``path`` when it differs (not in check mode) -> the module result dict.

    ``module.params`` must hold ``validate``, ``backup``, ``pending_file``, ``mode`` and the file
    common arguments (``add_file_common_args=True``).
    """
    params = module.params
    changed_keys = changed_keys or []
    new_secrets = secret_values(new_text, secret_keys)
    module.no_log_values.update(new_secrets)

    content_changed = new_text != old_text or not exists
    stale = stale_temp_files(os.path.dirname(os.path.abspath(path)))
    if stale and not module.check_mode:
        for leftover in stale:
            try:
                os.unlink(leftover)
            except OSError as exc:
                module.fail_json(msg="%s: could not remove %s, left by an interrupted earlier run: %s"
                                 % (path, leftover, to_native(exc)))
    if stale:
        module.warn("%s: %d temporary file(s) left by an interrupted earlier run %s: %s"
                    % (path, len(stale), "would be removed" if module.check_mode else "removed", ", ".join(stale)))
    pending_file = params["pending_file"]
    was_pending = bool(pending_file) and os.path.exists(pending_file)
    backup_file = None
    if content_changed and not module.check_mode:
        backup_file = write(module, new_text, bool(new_secrets))
    # Removing leftovers is housekeeping (a warning), not a change that needs a restart or push.
    changed = content_changed or was_pending

    file_args = module.load_file_common_arguments(params)
    if new_secrets:
        if params["mode"] is not None and str(params["mode"]).lstrip("0") not in ("600", "u=rw,g=,o=", "u=rw"):
            module.warn("%s holds a secret, so its mode is 0600 (mode %s ignored)" % (path, params["mode"]))
        file_args["mode"] = SECRET_MODE
    if os.path.exists(path):
        changed = module.set_fs_attributes_if_different(file_args, changed)

    if content_changed and changed_keys:
        msg = "%s: changed %s" % (path, ", ".join(changed_keys))
    elif content_changed:
        msg = "%s: written" % path
    elif was_pending:
        msg = "%s is up to date, but its last change has not been applied yet (%s exists)" % (path, pending_file)
    elif changed:
        msg = "%s: attributes changed" % path
    else:
        msg = "%s is up to date" % path
    result = dict(changed=changed, changed_keys=changed_keys, msg=msg, removed_temp_files=stale)
    if backup_file:
        result["backup_file"] = backup_file
    if pending_file:
        result["pending_file"] = pending_file
        result["pending"] = was_pending or (content_changed and not module.check_mode)
    if module._diff:
        result["diff"] = dict(before=redact(old_text, secret_keys), after=redact(new_text, secret_keys),
                              before_header=path if exists else "%s (absent)" % path, after_header=path)
    return result

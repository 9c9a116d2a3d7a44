# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registration duty of ``qube_credential`` on POSIX hosts: the credential where Qube! reads it.

``qbhash`` (password on stdin) -> ``proxy_password`` in the local qb.conf (``local``, written through
``confwrite.write``) or returned for qbwrk.conf (``central``); ``qblogin --user U [--domain D]``
(password twice on stdin) for a user-mode submitter.  Idempotent without reading the secret back:
:class:`CredentialState` keeps a salted fingerprint (``confwrite.fingerprint``) in a root-only folder.
The Windows counterpart is ``winrm_identity.register`` (run by the action plugin ``qube_credential``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import hmac
import json
import os
import re
import tempfile
import types

from ansible_collections.renderfarm.qube.plugins.module_utils import confwrite
from ansible_collections.renderfarm.qube.plugins.module_utils.confwrite import (
    CHECK_MODE_HASH, PBKDF2_ITERATIONS, REDACTED, fingerprint,
)


# Where a credential can be registered (O(register) of qube_credential; Windows: central, qblogin).
REGISTRATIONS = ("local", "central", "qblogin")
# The options both identity plugins (qube_credential, qube_validation_job) take, on every OS;
# their documentation is the doc fragment renderfarm.qube.credential.
IDENTITY_ARGUMENT_SPEC = dict(
    account=dict(type="str", required=True),
    domain=dict(type="str"),
    password=dict(type="str", no_log=True),
)
CREDENTIAL_ARGUMENT_SPEC = dict(
    IDENTITY_ARGUMENT_SPEC,
    password=dict(type="str", no_log=True, required=True),
    update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
    register=dict(type="str", choices=list(REGISTRATIONS), required=True),
)


class IdentityError(Exception):
    """A failure whose message names the object, the action and the cause (never the secret)."""


class CredentialState(object):
    """What this host remembers about one registration, in a root-only directory.

    One file per registration, ``credential-<register>-<account>.json`` (0600): the PBKDF2
    fingerprint of the password (salted with the host's random ``salt`` file and bound to the
    qualified account name), a keyed digest of the value written to qb.conf (``local``) or the
    last encrypted string itself (``central``).
    """

    def __init__(self, state_dir, register, account, domain):
        self.dir = state_dir
        self.qualified = "%s\\%s" % (domain, account) if domain else account
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.qualified)
        self.path = os.path.join(state_dir, "credential-%s-%s.json" % (register, safe))
        self._salt = None

    def ensure_dir(self):
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir, 0o700)
        os.chmod(self.dir, 0o700)

    def salt(self, create):
        """The host's random salt (created on first use when ``create``); None if absent."""
        if self._salt is None:
            path = os.path.join(self.dir, "salt")
            if not os.path.exists(path):
                if not create:
                    return None
                self.ensure_dir()
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(binascii.hexlify(os.urandom(32)).decode("ascii"))
            with open(path) as handle:
                self._salt = binascii.unhexlify(handle.read().strip())
        return self._salt

    def fingerprint(self, password, iterations=PBKDF2_ITERATIONS, create=False):
        salt = self.salt(create)
        if salt is None:
            return None
        return fingerprint(password, salt + b"\0" + self.qualified.encode("utf-8"), iterations)

    def digest(self, value, create=False):
        """Keyed digest of a configured value (so it can be recognised without being stored)."""
        salt = self.salt(create)
        return None if salt is None else hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def load(self):
        try:
            with open(self.path) as handle:
                return json.load(handle)
        except (IOError, OSError, ValueError):
            return {}

    def save(self, record):
        self.ensure_dir()
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".credential-")
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(record, handle, sort_keys=True)
        os.rename(tmp, self.path)

    def password_matches(self, record, password):
        if not record.get("fingerprint"):
            return False
        current = self.fingerprint(password, record.get("iterations", PBKDF2_ITERATIONS))
        return current is not None and hmac.compare_digest(current, record["fingerprint"])


def find_program(module, path, bin_dir):
    """Absolute path of a Qube! program; a bare name is looked up on PATH and in the Qube! bin dir."""
    if os.path.isabs(path):
        if not os.access(path, os.X_OK):
            raise IdentityError("%s is not an executable file: install the Qube! worker package or set "
                                "the path option" % path)
        return path
    return module.get_bin_path(path, required=True, opt_dirs=[bin_dir])


def run_secret_program(module, argv, password, what, times=1):
    """Run a program with the password on stdin (``times`` lines, for a program that asks again to
    verify); its stdout, or IdentityError (no secret inside)."""
    rc, out, err = module.run_command(argv, data="\n".join([password] * times), binary_data=False)
    if rc != 0:
        detail = (err or out or "").replace(password, "********").strip()[:300]
        raise IdentityError("%s failed (rc=%s): %s" % (what, rc, detail or "no output"))
    return out


def qbhash(module, password, bin_dir):
    """The encrypted form of the password (salted: a new string on every call)."""
    program = find_program(module, module.params["qbhash_path"], bin_dir)
    out = run_secret_program(module, [program], password, "encrypting the password with %s" % program)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines or re.search(r"[\s\"']", lines[-1]) or password in lines[-1]:
        raise IdentityError("%s printed no encrypted password" % program)
    return lines[-1]


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def write_qb_conf(module, path, hashed):
    """Set proxy_password in qb.conf keeping every other line, through the collection's one writer of
    Qube! files (``confwrite.write``: 0600 temp file, fsync, backup, atomic rename). Backup path or None."""
    try:
        from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConf, Raw
    except ImportError:
        raise IdentityError("module_utils qbconf is missing from the collection")
    text = read_text(path)
    conf = QbConf(text or "")
    conf.set("proxy_password", Raw(hashed))
    if text is not None:
        os.chmod(path, 0o600)  # before the new secret lands, so it never sits in a wider file (nor its backup)
    writer = types.SimpleNamespace(
        params=dict(path=path, validate=None, backup=module.params["backup"], pending_file=None, unsafe_writes=False),
        no_log_values=module.no_log_values, fail_json=module.fail_json, atomic_move=module.atomic_move)
    return confwrite.write(writer, conf.text(), has_secret=True)


def configured_proxy_password(path):
    try:
        from ansible_collections.renderfarm.qube.plugins.module_utils.qbconf import QbConf, unquote
    except ImportError:
        raise IdentityError("module_utils qbconf is missing from the collection")
    raw = QbConf(read_text(path) or "").get("proxy_password")
    return None if raw is None else unquote(raw)


def plan_registration(module, state):
    """Decide the registration: ``(action, record, present)``; action in registered/updated/unchanged."""
    params = module.params
    method, password = params["register"], params["password"]
    record = state.load()
    if method == "local":
        configured = configured_proxy_password(params["qb_conf_path"])
        present = configured is not None
        ours = present and record.get("written") and state.digest(configured) == record["written"]
    elif method == "central":
        present = ours = bool(record.get("hash"))
    else:
        present = ours = bool(record.get("fingerprint"))
    if not present:
        return "registered", record, present
    if params["update_password"] == "on_create":
        return "unchanged", record, present
    if ours and state.password_matches(record, password):
        return "unchanged", record, present
    return "updated", record, present


def apply_registration(module, state, result, bin_dir):
    """Run qbhash/qblogin and record the fingerprint (outside check mode only)."""
    params = module.params
    method, password = params["register"], params["password"]
    record = {"account": state.qualified, "register": method, "iterations": PBKDF2_ITERATIONS,
              "fingerprint": state.fingerprint(password, create=True)}
    if method == "qblogin":
        program = find_program(module, params["qblogin_path"], bin_dir)
        argv = [program, "--user", params["account"]]
        if params["domain"]:
            argv += ["--domain", params["domain"]]
        run_secret_program(module, argv, password, "registering the password of %s with qblogin" % state.qualified,
                           times=2)
    else:
        hashed = qbhash(module, password, bin_dir)
        if method == "local":
            backup = write_qb_conf(module, params["qb_conf_path"], hashed)
            if backup:
                result["backup_file"] = backup
            record["written"] = state.digest(hashed, create=True)
        else:
            record["hash"] = hashed
            result["proxy_password_hash"] = hashed
    state.save(record)


def register_credential(module, result, bin_dir):
    """Registration duty: sets result changed/action/diff (and the central hash)."""
    params = module.params
    if not params["password"]:
        raise IdentityError("register=%s needs the password of %s" % (params["register"], params["account"]))
    state = CredentialState(params["state_dir"], params["register"], params["account"], params["domain"])
    action, record, present = plan_registration(module, state)
    result["action"] = action
    result["changed"] = action != "unchanged"
    where = params["qb_conf_path"] if params["register"] == "local" else "%s registration" % params["register"]
    result["diff"] = {
        "before_header": where, "after_header": where,
        "before": "proxy_password = %s\n" % REDACTED if present else "",
        "after": "proxy_password = %s%s\n" % (REDACTED, " (new value)" if result["changed"] else ""),
    }
    if result["changed"] and not module.check_mode:
        apply_registration(module, state, result, bin_dir)
    elif params["register"] == "central" and result["changed"]:
        # Check mode: qbhash is not run, so there is no new encrypted string yet. A stand-in value
        # lets the caller predict the qbwrk.conf change (shown REDACTED) without a secret.
        result["proxy_password_hash"] = CHECK_MODE_HASH
    elif params["register"] == "central" and record.get("hash"):
        result["proxy_password_hash"] = record["hash"]

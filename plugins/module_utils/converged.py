# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A converged worker: nothing the roles read changed since the last run that left it right.

After a full run leaves a worker right (every role ran, the read-back found it in sync, nothing
failed), ``qube_converged`` records on the worker two digests: the run's **inputs** (the worker's
``qube_*`` inventory, its groups, its OS, the collection's files and the ansible-core version,
computed on the controller by the ``qube_converged_spec`` filter; secrets only as slow salted
digests) and the host's **state** as the roles left it (:func:`state_digest`: qb.conf, the
collection's state folder with the mode record, proof and credential records and pending markers,
the unit's drop-in folder, the unit's enabled/active state, the accounts the identity role
manages or checks, the worker packages' versions).

The next run's host preflight (``qube_host_check``) compares them (:func:`look`): same inputs,
same state, no pending marker and a proof of the job identity younger than its maximum age mean
that every role would find nothing to change, so ``site.yml`` leaves the worker out of the
batches after one read-back on the supervisor. Anything different (or no record, or a shape the
record does not cover) and the worker takes the whole role chain, as without this record.

The record holds no secret (digests and the last report row); it is root's, 0600.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import grp
import hashlib
import json
import os
import pwd
import stat

from ansible_collections.renderfarm.qube.plugins.module_utils import validation_job
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import read_text

RECORD = "converged.json"
UNIT_PROPERTIES = ("LoadState", "UnitFileState", "ActiveState", "SubState", "FragmentPath", "DropInPaths")


def _file_part(path):
    """Content digest, mode and owner of one path (a link by its target text); None when absent."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    part = {"mode": stat.S_IMODE(info.st_mode), "uid": info.st_uid, "gid": info.st_gid,
            "type": stat.S_IFMT(info.st_mode)}
    if stat.S_ISLNK(info.st_mode):
        part["link"] = os.readlink(path)
    elif stat.S_ISREG(info.st_mode):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(65536), b""):
                digest.update(block)
        part["sha256"] = digest.hexdigest()
    return part


def _tree_part(top, skip=()):
    """Every entry below ``top`` (sorted, relative names), except the names in ``skip``."""
    if not os.path.isdir(top):
        return None
    entries = {".": _file_part(top)}  # the folder's own mode and owner too
    for folder, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(dirs + files):
            if name in skip:
                continue
            path = os.path.join(folder, name)
            entries[os.path.relpath(path, top)] = _file_part(path)
    return entries


def _shadow_field(name, shadow_path="/etc/shadow"):
    """The account's shadow fields (password hash, ageing); None when absent or unreadable. Read
    directly: the spwd module is deprecated and gone in Python 3.13."""
    try:
        with open(shadow_path) as handle:
            for line in handle:
                fields = line.rstrip("\n").split(":")
                if fields[0] == name:
                    return fields[1:]
    except OSError:
        pass
    return None


def _account_part(name):
    """passwd entry, shadow fields and every group the account is in; None when it does not resolve."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    groups = sorted(group.gr_name for group in grp.getgrall() if name in group.gr_mem)
    return {"passwd": list(entry), "shadow": _shadow_field(name), "groups": groups}


def state_digest(spec, run_command):
    """One digest of everything on the host the roles manage or read for this worker's shape.

    ``spec`` lists ``files``, ``trees`` (folders walked whole), ``accounts``, ``units`` and
    ``packages``; ``run_command(argv) -> (rc, out, err)`` runs systemctl and the package query
    (rc 127 for a command the host does not have: :func:`command_runner`)."""
    parts = {
        "files": dict((path, _file_part(path)) for path in spec.get("files") or []),
        "trees": dict((path, _tree_part(path, skip=(RECORD,))) for path in spec.get("trees") or []),
        "accounts": dict((name, _account_part(name)) for name in spec.get("accounts") or []),
        "units": {}, "packages": None,
    }
    for unit in spec.get("units") or []:
        rc, out, _err = run_command(["systemctl", "show", "--property=" + ",".join(UNIT_PROPERTIES), unit])
        parts["units"][unit] = [rc, sorted(line for line in out.splitlines() if line.strip())]
    if spec.get("packages"):
        # dpkg on Debian/Ubuntu, rpm on RHEL-like workers (worker_mode installs with either);
        # ``run_command`` answers 127 for a command the host does not have.
        rc, out, _err = run_command(["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\\n"]
                                    + list(spec["packages"]))
        if rc == 127:
            rc, out, _err = run_command(["rpm", "-q", "--qf", "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\\n"]
                                        + list(spec["packages"]))
        parts["packages"] = [rc, sorted(out.splitlines())]
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def command_runner(module):
    """``module.run_command`` for :func:`state_digest`: rc 127 instead of failing the host when the
    command is not installed (dpkg-query on an RPM worker, rpm on a Debian one)."""
    def run(argv):
        if not module.get_bin_path(argv[0]):
            return 127, "", "%s: not found" % argv[0]
        return module.run_command(list(argv))
    return run


def record_path(spec):
    return os.path.join(spec["state_dir"], RECORD)


def load_record(path):
    """The record as a dict; {} when absent or unreadable."""
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def record_text(inputs, state, at, report):
    return json.dumps({"inputs": inputs, "state": state, "recorded_at": at, "report": report},
                      indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def look(spec, run_command, now, load=load_record, proof_loader=None):
    """``(converged, reason, record)`` for this worker: whether every role would find nothing to
    change.  ``record`` is the stored record when converged ({} otherwise)."""
    if not spec.get("eligible"):
        return False, spec.get("why") or "not covered by the converged record", {}
    record = load(record_path(spec))
    if not record:
        return False, "no record of a converged run on this host", {}
    at = record.get("recorded_at", "")
    if record.get("inputs") != spec["inputs"]:
        return False, "inventory, collection or ansible-core changed since the last converged run (%s)" % at, {}
    for path in spec.get("pending") or []:
        if os.path.exists(path):
            return False, "a restart or push is still owed (%s)" % path, {}
    if record.get("state") != state_digest(spec, run_command):
        return False, "something the roles manage changed on the host since the last converged run (%s)" % at, {}
    proof = spec.get("proof") or {}
    if proof.get("required"):
        loaded = (proof_loader or (lambda path: validation_job.load_proof(read_text(path))))(proof["path"])
        proven = validation_job.parse_iso_utc(loaded.get("validated_at")) if loaded and loaded.get("basis") else None
        if proven is None:
            return False, "no passed validation on record", {}
        age = now - proven
        max_age = proof.get("max_age_hours") or 0
        if age < 0 or (max_age and age >= max_age * 3600):
            return False, "validation due: last proven %s (maximum age %d h)" % (loaded["validated_at"], max_age), {}
        record = dict(record, validated_at=loaded["validated_at"], proof_age_seconds=int(age))
    return True, "converged: nothing changed since %s" % at, record

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module side of the POSIX validation job (``qube_validation_job``): when it runs and what it keeps.

``identity.run_validation`` runs the job as the identity; this file decides whether it is due
(:func:`validation_due`, the cadence ``always``/``on_change``), adds the optional Qube! job check
(:func:`validate_via_qube`), keeps the host's proof of the last passed validation
(``identity_proof.json``: who, a digest of what was proven, when; bookkeeping, never a change) and
the operators' record of which checks passed (``identity_validation.json``).  No secret in either:
the credential and file contents enter the proof only as keyed digests (``CredentialState``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import hashlib
import json
import os
import socket
import subprocess
import tempfile
import time

from ansible_collections.renderfarm.qube.plugins.module_utils import identity
from ansible_collections.renderfarm.qube.plugins.module_utils.credential import (
    REGISTRATIONS, CredentialState, IdentityError, find_program, read_text,
)
from ansible_collections.renderfarm.qube.plugins.module_utils.identity import EXCERPT_CHARS, error


def validate_via_qube(result, qbsub, qbout, worker_name, expected_user, submit_as=None, timeout=120):
    """Submit ``id -un`` to this worker through Qube! and add a ``qube_job`` check to ``result``."""
    argv = [qbsub, "--hosts", worker_name]
    if submit_as:
        argv += ["--user", submit_as]
    argv += ["--waiton", "/usr/bin/id", "-un"]

    def add(ok, detail):
        result["checks"].append({"name": "qube_job", "ok": ok, "detail": detail})
        if not ok:
            result["ok"] = False
            result.setdefault("error", error("qube_job_failed", "the Qube! validation job on %s: %s"
                                             % (worker_name, detail),
                                             "check the worker's proxy settings and workerlog"))
        return result

    try:
        sub = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return add(False, "qbsub: %s" % err)
    text = sub.stdout.decode("utf-8", "replace")
    job_id = None
    for line in text.splitlines():
        if "submitted job:" in line:
            job_id = line.rsplit(":", 1)[1].strip()
    if sub.returncode != 0 or not job_id:
        detail = (text + sub.stderr.decode("utf-8", "replace")).strip()[:EXCERPT_CHARS]
        return add(False, "qbsub rc=%s: %s" % (sub.returncode, detail))
    try:
        out = subprocess.run([qbout, job_id], stdin=subprocess.DEVNULL, capture_output=True,
                             timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return add(False, "qbout %s: %s" % (job_id, err))
    users = [line.strip() for line in out.stdout.decode("utf-8", "replace").splitlines() if line.strip()]
    ran_as = users[-1] if users else "(no output)"
    return add(ran_as == expected_user, "job %s ran as %s (expected %s)" % (job_id, ran_as, expected_user))


def validation_record_text(account, domain, report):
    """The operators' record of a validation: identity, verdict and which checks passed; no secret.

    The same text the role wrote with ``to_nice_json(sort_keys=true)`` before the module kept it.
    """
    record = {"identity": "\\".join(part for part in (domain, account) if part), "ok": bool(report.get("ok")),
              "checks": dict((check.get("name"), bool(check.get("ok"))) for check in report.get("checks", []))}
    return json.dumps(record, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def record_predicts_no_change(existing_text, new_text):
    """Check mode: whether the record written by a real run would stay as it is.

    Check mode skips the Qube! job, so its record lacks that check: compare only what ran.
    """
    try:
        old, new = json.loads(existing_text or ""), json.loads(new_text)
    except ValueError:
        return False
    old_checks, new_checks = old.get("checks") or {}, new.get("checks") or {}
    if old.get("identity") != new.get("identity") or any(old_checks.get(k) != v for k, v in new_checks.items()):
        return False
    return set(old_checks) != set(new_checks) or old.get("ok") == new.get("ok")


# --- validation cadence: when the proof of an unchanged registration is still fresh --------------

PROOF_RECORD = "identity_proof.json"
CADENCES = ("always", "on_change")


def iso_utc(timestamp):
    """``2026-12-06T09:41:07Z`` for a POSIX time (whole seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(timestamp)))


def parse_iso_utc(text):
    """POSIX time of an :func:`iso_utc` string; None when it is not one."""
    try:
        return calendar.timegm(time.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ"))
    except (TypeError, ValueError):
        return None


def proof_basis(parts):
    """One digest of everything a proof depends on (identity, the registered credential's keyed
    digest, the worker's qb.conf and mode record digests, the validation settings).  ``parts`` holds
    no secret: credential and file contents come in as keyed digests already."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def proof_record_text(identity_name, basis, timestamp):
    """The host's record of the last passed validation: who, of what (``basis``) and when; no secret."""
    record = {"identity": identity_name, "basis": basis, "validated_at": iso_utc(timestamp)}
    return json.dumps(record, indent=4, sort_keys=True, separators=(",", ": ")) + "\n"


def load_proof(text):
    """The proof record as a dict with a readable ``validated_at``; {} when absent or unreadable."""
    try:
        record = json.loads(text or "")
    except ValueError:
        return {}
    if not isinstance(record, dict) or parse_iso_utc(record.get("validated_at")) is None:
        return {}
    return record


def _hours(seconds):
    hours = seconds / 3600.0
    return "%d h" % hours if hours >= 1 else "%d min" % max(seconds // 60, 0)


def validation_due(cadence, record, identity_name, basis, now, max_age_hours,
                   registration_changed=False, worker_changed=False):
    """Whether the validation job must run now: ``(due, reason)``.

    ``always`` runs it on every run.  ``on_change`` runs it when there is no record of a passed
    validation on this host, the registration or the worker changed in this run, the identity or
    anything in ``basis`` differs from the record (credential, qb.conf, mode, validation settings,
    also when changed between runs by hand or by a run that died before validating), or the last
    proof is older than ``max_age_hours`` (0: no age limit).  Otherwise the reason says when the
    worker was last proven and when it is due again.
    """
    if cadence != "on_change":
        return True, "cadence always"
    if not record:
        return True, "no record of a passed validation on this host"
    if record.get("identity") != identity_name:
        return True, "the job identity changed (was %s)" % record.get("identity")
    if registration_changed:
        return True, "the credential was registered in this run"
    if worker_changed:
        return True, "the worker was restarted in this run (installed, mode or configuration changed)"
    at = record["validated_at"]
    if record.get("basis") != basis:
        return True, "credential, worker configuration, mode or validation settings changed since %s" % at
    age = now - parse_iso_utc(at)
    if age < 0:
        return True, "the record's time %s is in the future (clock changed)" % at
    if max_age_hours and age >= max_age_hours * 3600:
        return True, "last proven %s, older than the maximum age of %d h" % (at, max_age_hours)
    due_again = (" (due again after %d h)" % max_age_hours) if max_age_hours else ""
    return False, "not due (on_change): proven %s, %s ago; nothing changed since%s" % (at, _hours(age), due_again)


# --- the module's steps (qube_validation_job) ----------------------------------------------------

# The validation settings a proof covers: a change of any of them makes the job due (on_change).
PROOF_SETTINGS = ("validation_paths", "validation_command", "validate_via_qube", "execution_mode", "worker_name",
                  "allow_privileged", "worker_service_account")


def _proof_state(params):
    """The host's salt and keyed digests come from the credential state (salt file 0600)."""
    return CredentialState(params["state_dir"], "proof", params["account"], params["domain"])


def basis_of(params, create=False):
    """Digest of what a validation proves: identity, the credentials registered for it, qb.conf, the
    mode record, the validation settings (keyed digests, no secret); None when the host has no salt yet."""
    state = _proof_state(params)
    if state.salt(create) is None:
        return None

    def keyed(text):
        return None if text is None else state.digest(text)

    credentials = {}
    for where in REGISTRATIONS:
        record = CredentialState(params["state_dir"], where, params["account"], params["domain"]).load()
        if record:
            credentials[where] = keyed(json.dumps([record.get(k) for k in ("fingerprint", "hash", "written")]))
    return proof_basis({
        "identity": state.qualified, "credential": credentials,
        "settings": dict((key, params[key]) for key in PROOF_SETTINGS),
        "qb_conf": keyed(read_text(params["qb_conf_path"])),
        "mode": keyed(read_text(os.path.join(params["state_dir"], "worker_mode.json")))})


def plan(params, result):
    """Whether the validation job runs in this run (cadence); fills RV validation_proof."""
    record = load_proof(read_text(os.path.join(params["state_dir"], PROOF_RECORD)))
    due, reason = validation_due(
        params["validation_cadence"], record, _proof_state(params).qualified,
        basis_of(params) if params["validation_cadence"] == "on_change" else None, time.time(),
        params["validation_max_age_hours"], worker_changed=params["worker_changed"])
    result["validation_proof"] = {"cadence": params["validation_cadence"], "due": due, "reason": reason,
                                  "this_run": False,
                                  "validated_at": record.get("validated_at", "") if record else ""}
    if not due:
        result["validation_skipped"] = reason
    return due


def write_record(module, path, text):
    """A record file (0644, no secret) replaced atomically; its folder is created 0700."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=directory)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def keep_proof(module, result, report):
    """After a validation: a passed one becomes the host's proof; a failed one leaves the last
    passed time but no basis, so the next run validates again. Not a change (bookkeeping)."""
    proof, now = result["validation_proof"], time.time()
    if report["ok"]:
        proof.update(this_run=True, validated_at=iso_utc(now))
    if module.check_mode:
        return
    params = module.params
    qualified = _proof_state(params).qualified
    if report["ok"]:
        text = proof_record_text(qualified, basis_of(params, create=True), now)
    elif proof["validated_at"]:
        text = json.dumps({"identity": qualified, "basis": None, "validated_at": proof["validated_at"],
                           "failed_at": iso_utc(now)}, indent=4, sort_keys=True) + "\n"
    else:
        text = None
    path = os.path.join(params["state_dir"], PROOF_RECORD)
    if text is None:
        if os.path.exists(path):
            os.remove(path)
        return
    write_record(module, path, text)


def keep_validation_record(module, result, report):
    """The operators' record of which checks passed; a change of it is reported as a change."""
    params = module.params
    path = os.path.join(params["state_dir"], "identity_validation.json")
    text = validation_record_text(params["account"], params["domain"], report)
    existing = read_text(path)
    if existing == text or (module.check_mode and record_predicts_no_change(existing, text)):
        return
    result["changed"] = True
    if not module.check_mode:
        write_record(module, path, text)


def run(module, result, bin_dir):
    """The validation job as the identity (plus the Qube! job check), its records; IdentityError on failure."""
    params = module.params
    host = params["worker_name"] or socket.gethostname().split(".")[0]
    report = identity.run_validation(
        params["account"], params["domain"], paths=params["validation_paths"],
        command=params["validation_command"], timeout=params["validation_timeout"], host=host,
        allow_privileged=params["allow_privileged"], service_account=params["worker_service_account"])
    resolved = report.get("identity", {}).get("user")
    error_code = report.get("error", {}).get("code")
    if params["validate_via_qube"] and not module.check_mode and resolved and \
            error_code not in ("identity_unknown", "privileged_identity"):
        submit_as = params["account"] if params["execution_mode"] == "user" else None
        validate_via_qube(report, find_program(module, params["qbsub_path"], bin_dir),
                          find_program(module, params["qbout_path"], bin_dir), host, resolved,
                          submit_as=submit_as, timeout=params["validation_timeout"])
    if module.check_mode and error_code == "identity_unknown":
        # The real run creates the account first (the user task, the worker package): check mode
        # cannot run a job as an account that does not exist yet. Not a failure.
        result["validation_skipped"] = "check mode: %s" % report["error"]["message"]
        # The real run validates the new account and writes its record.
        result["changed"] = result.get("changed", False) or params["validation_record"]
        return
    result["validation"] = report
    keep_proof(module, result, report)
    if params["validation_record"]:
        keep_validation_record(module, result, report)
    if not report["ok"]:
        err = report["error"]
        if module.check_mode:
            # Check mode applies nothing the job may depend on (a home folder, a group, a mount):
            # report the failure, fail only the real run.
            module.warn("check mode: the validation job as %s failed: %s. The real run applies its changes "
                        "first and fails if the job still fails." % (params["account"], err["message"]))
            return
        raise IdentityError("%s. Fix: %s." % (err["message"], err["fix"]))

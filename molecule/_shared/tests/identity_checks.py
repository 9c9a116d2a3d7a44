"""Operator-eye checks of job identities on lab hosts, shared by the identity scenarios
(identity_local, identity_ad, rotation).

Jobs are real stand-in Qube! jobs (``qbsub --hosts W --waiton``, output through ``qbout``);
passwords are checked PAM-free by comparing ``crypt()`` with the host's ``/etc/shadow`` hash on
the controller, so no password ever crosses into a host's process arguments or output.
"""
import crypt
import json
import os
import shlex
import tempfile

from molecule_lab import CHECKOUT_COLLECTIONS, REPO, ansible_playbook, changed_total

PUBLISHED_DEFAULT = "Pip3lin3P@$$wd"  # the vendor's published default of qubeproxy (public)
VALIDATION_RECORD = "/var/lib/renderfarm-qube/identity_validation.json"


def shadow_hash(host, account):
    """The account's password field in the host's /etc/shadow ('' when the account is absent)."""
    for line in host.file("/etc/shadow").content_string.splitlines():
        fields = line.split(":")
        if fields[0] == account:
            return fields[1]
    return ""


def password_is(host, account, password):
    """True when the account's shadow hash is crypt() of ``password`` (locked hashes never match)."""
    stored = shadow_hash(host, account)
    return stored.startswith("$") and crypt.crypt(password, stored) == stored


def set_shadow_password(host, account, password):
    """Give the account ``password`` by writing its sha512 hash (only the hash reaches the host)."""
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    host.run_test("usermod -p %s %s" % (shlex.quote(hashed), account))


def validation_record(host):
    """The role's per-host record of which validation checks passed."""
    return json.loads(host.file(VALIDATION_RECORD).content_string)


def run_playbook(playbook, extra_vars=None, limit=None, secrets=(), extra_vars_file=None):
    """Run a playbook against molecule's inventory; returns (rc, changed, output, report).

    ``report`` is the farm report JSON (written to a temporary directory) or None. Secrets go in
    ``extra_vars_file`` (a 0600 file), never in ``extra_vars`` (argv). Fails when any of
    ``secrets`` appears in the output.
    """
    with tempfile.TemporaryDirectory() as report_dir:
        env = {"QUBE_REPORT_DIR": report_dir, "ANSIBLE_CONFIG": os.path.join(REPO, "ansible.cfg"),
               "ANSIBLE_COLLECTIONS_PATH": CHECKOUT_COLLECTIONS}
        run = ansible_playbook(playbook, extra_vars, limit=limit, env=env, cwd=REPO,
                               options=["-e", "@" + extra_vars_file] if extra_vars_file else ())
        path = os.path.join(report_dir, "qube-report.json")
        report = json.load(open(path)) if os.path.exists(path) else None
    out = run.stdout + run.stderr
    for secret in secrets:
        assert secret not in out, "a password appears in the output of %s" % playbook
    return run.returncode, changed_total(out), out, report


def run_with_secret_vars(playbook, secret_vars, extra_vars=None, secrets=()):
    """:func:`run_playbook` with ``secret_vars`` in a 0600 JSON vars file of a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "secret-vars.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(secret_vars, handle)
        return run_playbook(playbook, extra_vars, extra_vars_file=path, secrets=secrets)


def report_row(report, host):
    """The farm report's row of one host."""
    return next(row for row in report["hosts"] if row["host"] == host)

"""Operator-eye checks of job identities on lab hosts, shared by the identity scenarios.

Jobs are real stand-in Qube! jobs (``qbsub --hosts W --waiton``, output through ``qbout``);
passwords are checked PAM-free by comparing ``crypt()`` with the host's ``/etc/shadow`` hash on
the controller, so no password ever crosses into a host's process arguments or output.
"""
import crypt
import json
import os
import re
import subprocess
import tempfile

import testinfra

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".."))
QB_BIN = "/usr/local/pfx/qube/bin"
PUBLISHED_DEFAULT = "Pip3lin3P@$$wd"  # the vendor's published default of qubeproxy (public)
VALIDATION_RECORD = "/var/lib/renderfarm-qube/identity_validation.json"


def lab_host(name):
    """A testinfra host for one scenario platform (ansible backend, molecule's inventory)."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, inventory))


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def job_output(host, worker_name, command, user=None):
    """Submit ``command`` pinned to the worker (as root on ``host``), wait, return qbout's text."""
    as_user = " --user %s" % user if user else ""
    script = ("set -e; out=$(%(bin)s/qbsub --hosts %(w)s%(u)s --waiton %(cmd)s); "
              "id=$(printf '%%s\\n' \"$out\" | sed -n 's/.*job: *\\([0-9][0-9]*\\).*/\\1/p' | head -n1); "
              "%(bin)s/qbout $id" % {"bin": QB_BIN, "w": worker_name, "u": as_user, "cmd": command})
    result = host.run("sh -c %s" % _quote(script))
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


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
    host.run_test("usermod -p %s %s" % (_quote(hashed), account))


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
        argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i",
                os.environ["MOLECULE_INVENTORY_FILE"], playbook]
        if extra_vars:
            argv += ["-e", json.dumps(extra_vars)]
        if extra_vars_file:
            argv += ["-e", "@" + extra_vars_file]
        if limit:
            argv += ["--limit", limit]
        env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", QUBE_REPORT_DIR=report_dir,
                   ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"))
        run = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, env=env, cwd=REPO)
        path = os.path.join(report_dir, "qube-report.json")
        report = json.load(open(path)) if os.path.exists(path) else None
    out = run.stdout + run.stderr
    for secret in secrets:
        assert secret not in out, "a password appears in the output of %s" % playbook
    changed = sum(int(n) for n in re.findall(r"\bchanged=(\d+)", out))
    return run.returncode, changed, out, report


def report_row(report, host):
    """The farm report's row of one host."""
    return next(row for row in report["hosts"] if row["host"] == host)

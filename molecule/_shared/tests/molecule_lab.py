"""What the tests of every molecule scenario share: the checkout, the scenario's lab hosts through
molecule's inventory, a Qube! job run on a host, and ``ansible-playbook`` runs against the scenario.

Each scenario's ``tests/conftest.py`` puts this folder (``molecule/_shared/tests``) on ``sys.path``;
the helpers of one family of scenarios live beside this file (``worker_checks.py`` for the run-mode
scenarios, ``identity_checks.py`` for the identity ones).
"""
import json
import os
import re
import shlex
import subprocess

import testinfra

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", ".."))
SITE = os.path.join(REPO, "site.yml")
QB_BIN = "/usr/local/pfx/qube/bin"
# The checkout itself (repo ansible.cfg's collections_path), not the copy molecule's prerun
# installs into ~/.ansible/collections, which other scenarios' preruns rewrite meanwhile.
CHECKOUT_COLLECTIONS = os.path.join(REPO, ".cache", "collections")


def lab_host(name):
    """A testinfra host for one scenario platform (ansible backend, molecule's inventory)."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")


def job_script(worker_name, command, user=None, status=False):
    """Shell text that submits ``command`` pinned to the worker (as ``user`` when given), waits,
    and prints the job's stdout; with ``status``, qbjobs' line of the job goes to stderr first."""
    as_user = " --user %s" % user if user else ""
    show = "%s/qbjobs $id >&2; " % QB_BIN if status else ""
    return ("set -e; out=$(%(bin)s/qbsub --hosts %(w)s%(u)s --waiton %(cmd)s); "
            "id=$(printf '%%s\\n' \"$out\" | sed -n 's/.*job: *\\([0-9][0-9]*\\).*/\\1/p' | head -n1); "
            "%(show)s%(bin)s/qbout $id" % {"bin": QB_BIN, "w": worker_name, "u": as_user, "cmd": command,
                                           "show": show})


def job_output(host, worker_name, command, user=None, status=False):
    """Run :func:`job_script` as root on ``host``; the job's stdout, stripped (fails on rc != 0)."""
    result = host.run("sh -c %s" % shlex.quote(job_script(worker_name, command, user, status)))
    assert result.rc == 0, result.stderr
    return result.stdout.strip()


def ansible_playbook(playbook, extra_vars=None, limit=None, check=False, options=(), env=None, timeout=900,
                     cwd=None):
    """Run the checkout's ``ansible-playbook`` against molecule's inventory, without colour.

    ``extra_vars`` go in as one JSON ``-e`` (typed values), then ``options``; ``env`` is added to
    this process's environment. Returns the ``subprocess.CompletedProcess`` (text).
    """
    argv = [os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            playbook]
    if check:
        argv.append("--check")
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += list(options)
    if limit:
        argv += ["--limit", limit]
    run_env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1", **(env or {}))
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, env=run_env, cwd=cwd)


def site_run(extra_vars=None, limit=None, report_dir=None, timeout=900):
    """Run ``site.yml`` as an operator would: the checkout's collection, the farm report callback,
    the report written into ``report_dir`` (QUBE_REPORT_DIR) so runs never touch ``reports/``."""
    env = {"ANSIBLE_COLLECTIONS_PATH": CHECKOUT_COLLECTIONS, "ANSIBLE_CALLBACKS_ENABLED": "renderfarm.qube.qube_report"}
    if report_dir:
        env["QUBE_REPORT_DIR"] = str(report_dir)
    return ansible_playbook(SITE, extra_vars, limit=limit, env=env, timeout=timeout)


def changed_total(text):
    """The sum of the ``changed=N`` counts in a run's output (its recap)."""
    return sum(int(n) for n in re.findall(r"\bchanged=(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", text)))

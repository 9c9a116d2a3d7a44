# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode predicts the real run, and the real run is idempotent, for every scenario (issue #8).

Run inside the lab network namespace, from the repository root::

    tests/lab/lab.sh exec .venv/bin/pytest -q -s -p no:cacheprovider tests/integration/test_check_parity.py

The farm (``parity/farm.py``: pcs + pcw1..pcw5 + pcad, AD-joined to the shared dc1) carries one
scenario per worker: service mode with the local proxy account (pcw1), Desktop User mode (pcw2),
user mode (pcw3), the flip desktop -> service (pcw4) and service -> desktop (pcw5), the AD proxy
account (pcad). Three sequences, each ``--check``, real, real again, ``--check`` again:

* ``base``: site.yml on fresh hosts (pcw4 still desktop, pcw5 still service);
* ``flip``: site.yml with pcw4 -> service and pcw5 -> desktop, ``--limit localhost,pcs,pcw4,pcw5``;
* ``rotation``: playbooks/rotate_proxy_password.yml with a new local proxy password.

Per sequence it asserts (``parity/checks.py`` explains the findings): no host failed in any of
the four runs; per host, the tasks the first check run reported changed equal the tasks the real
run changed (handlers judged by their notification); the second real run changed nothing; the
check run after it changed nothing. Every exception is a :data:`RULES` entry with its reason:
``allowed`` ones are what check mode cannot predict by design, ``defect`` ones are defects of the
collection this test found (reported as xfail once nothing else is wrong; they need a fix in
roles/ or plugins/). A rule that stops matching fails the test, so the list stays exact.
Per-task results come from the ``parity_record`` callback (``parity/callback/``).
QUBE_PARITY_COUNTS=<file> writes the tasks per host of ``base``'s second real run (a converged
re-run) there as JSON (issue #17's count, see benchmarks/RESULTS.md).
"""

import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tests.integration.parity import checks  # noqa: E402
from tests.integration.parity.farm import ROTATE, SITE, shared_farm  # noqa: E402

FLIP_LIMIT = "localhost,pcs,pcw4,pcw5"
# (name, playbook, inventory phase, rotated password, --limit)
SEQUENCES = [
    ("base", SITE, "before", False, None),
    ("flip", SITE, "after", False, FLIP_LIMIT),
    ("rotation", ROTATE, "after", True, None),
]
RUNS = ("check1", "real1", "real2", "check2")

# Allowed differences between the check run and the real run, each with its reason (none today).
# Defects this test found and that were fixed: check mode failing on a host without the worker
# package (D1), qube_validation_job's validation record reported changed in check mode (D2), the
# desktop -> service flip failing the read-back in check mode (D4).
PACKAGE_ACCOUNT = (
    "allowed: the worker package creates the vendor account qubeproxy with the published default "
    "password when it is installed; in check mode on a fresh host nothing is installed, so the "
    "check run cannot find (and lock) an account that only the real run's installation creates")
RULES = [
    checks.Rule("base", "real-only", "pc*",
                "*Identity | Lock accounts other than the proxy account that still use the published default",
                PACKAGE_ACCOUNT),
]


@pytest.fixture(scope="session")
def farm(request):
    return shared_farm(request)


@pytest.fixture(scope="module")
def sequences(farm):
    """Run every sequence once (12 runs); ``{sequence: {run label: Run}}``."""
    done = {}
    for name, playbook, phase, rotated, limit in SEQUENCES:
        inventory = farm.inventory(phase, rotated=rotated)
        farm.check_dc(before=True)
        done[name] = dict((label, farm.play("%s-%s" % (name, label), playbook, inventory,
                                            check=label.startswith("check"), limit=limit)) for label in RUNS)
        farm.check_dc(before=False)
    farm.converged, farm.phase, farm.rotated = True, "after", True
    lines = ["%s/%s %.0fs changed=%d rc=%d" % (name, label, run.seconds, run.total_changed(), run.returncode)
             for name, runs in done.items() for label, run in runs.items()]
    print("\ncheck parity runs: " + "; ".join(lines))
    counts_file = os.environ.get("QUBE_PARITY_COUNTS")
    if counts_file:  # tasks per host of the converged re-run (issue #17, benchmarks/RESULTS.md)
        with open(counts_file, "w", encoding="utf-8") as handle:
            json.dump(checks.task_counts(done["base"]["real2"]), handle, indent=1, sort_keys=True)
    return done


def verdict(found, sequence, kinds, runs, what):
    """Fail on unknown findings or stale rules; xfail when only known defects were found."""
    unknown, matched, stale = checks.judge(found, RULES, sequence, kinds)
    details = "\n".join(detail_lines(runs, unknown | {f for fs in matched.values() for f in fs}))
    assert not unknown, "%s, %s: new findings (no rule explains them):\n%s\n%s" % (
        sequence, what, checks.describe(unknown), details)
    assert not stale, "%s, %s: rules that no longer match anything (remove them): %s" % (sequence, what, stale)
    defects = sorted({rule.reason for rule in matched if rule.defect})
    if defects:
        print("\n%s, %s: known defects observed:\n%s\n%s" % (
            sequence, what, checks.describe({f for r, fs in matched.items() if r.defect for f in fs}), details))
        pytest.xfail("; ".join(defects))


def detail_lines(runs, findings):
    """The whitelisted module details (qube_worker_mode actions ...) behind the findings."""
    lines = []
    for _sequence, kind, host, task in sorted(findings):
        for label, run in runs.items():
            for record in run.records:
                if record["host"] == host and record["task"] == task and record.get("detail") and \
                        record["status"] in ("changed", "failed"):
                    lines.append("  %s %s %s: %s" % (label, host, task.split(" : ")[-1], record["detail"]))
    return sorted(set(lines))


@pytest.mark.parametrize("sequence", [s[0] for s in SEQUENCES])
def test_no_host_failed(sequences, sequence):
    runs = sequences[sequence]
    found = set()
    for label in RUNS:
        found |= checks.failures(sequence, runs[label], label)
    verdict(found, sequence, ["failed:" + label for label in RUNS], runs, "failed hosts")


@pytest.mark.parametrize("sequence", [s[0] for s in SEQUENCES])
def test_check_predicts_the_real_run(sequences, sequence):
    runs = sequences[sequence]
    found = checks.prediction(sequence, runs["check1"], runs["real1"])
    verdict(found, sequence, ["real-only", "check-only", "check-failed"], runs, "check before real")


@pytest.mark.parametrize("sequence", [s[0] for s in SEQUENCES])
def test_second_real_run_changes_nothing(sequences, sequence):
    runs = sequences[sequence]
    verdict(checks.changes(sequence, "again", runs["real2"]), sequence, ["again"], runs, "second real run")


@pytest.mark.parametrize("sequence", [s[0] for s in SEQUENCES])
def test_check_after_the_real_run_changes_nothing(sequences, sequence):
    runs = sequences[sequence]
    verdict(checks.changes(sequence, "check-after", runs["check2"]), sequence, ["check-after"], runs,
            "check after real")


def test_every_scenario_host_took_part(sequences):
    """Guard: each sequence really ran on the hosts of its scenarios (a --limit typo proves nothing)."""
    expected = {"base": {"pcs", "pcw1", "pcw2", "pcw3", "pcw4", "pcw5", "pcad"},
                "flip": {"pcs", "pcw4", "pcw5"},
                "rotation": {"pcs", "pcw1", "pcw2", "pcw3", "pcw4", "pcw5", "pcad"}}
    for name, runs in sequences.items():
        for label, run in runs.items():
            assert expected[name] <= set(run.hosts()), (name, label, run.hosts())
            if name == "flip":
                assert set(run.hosts()) - {"localhost"} == expected[name], (label, run.hosts())
    real = sequences["rotation"]["real1"]
    assert {"pcw1", "pcw4"} <= set(real.changed()), "rotation changed no local proxy account: %s" % real.changed()

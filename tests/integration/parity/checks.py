# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare recorded runs: what check mode predicted, what the real run changed, what is left.

A *finding* is a tuple ``(sequence, kind, host, task)``:

    kind            meaning
    failed:<run>    the host failed (or was unreachable) in that run; task = the failed task
    real-only       the real run changed the task, the check run before it did not predict it
    check-only      the check run predicted a change the real run did not make
    check-failed    the check run failed on the host (task = where), so it predicted nothing after
    again           the second real run changed the task (not idempotent)
    check-after     the check run after the real runs reported the task changed

Handlers are judged by their notification, not by their tasks: check mode skips handlers (house
style: "handlers ... skipped in check mode"), so a handler of role R that changed something in
the real run is predicted when the check run notified a handler of role R on that host.

Known findings (:data:`Rule`) carry a reason. ``allowed`` rules are what check mode cannot
predict by design; ``defect`` rules are defects of the collection found by this test, which the
test reports as xfail (imperatively, after checking that nothing else was found). A rule that no
longer matches anything fails the test too, so the list always equals what happens.
"""

import fnmatch


class Rule(object):
    """A known finding: fnmatch patterns for sequence, kind, host and task, and why."""

    def __init__(self, sequence, kind, host, task, reason, defect=False):
        self.pattern = (sequence, kind, host, task)
        self.reason, self.defect = reason, defect

    def matches(self, finding):
        return all(fnmatch.fnmatchcase(value, pattern) for value, pattern in zip(finding, self.pattern))

    def __repr__(self):
        return "%s %s" % ("/".join(self.pattern), "(defect)" if self.defect else "(allowed)")


def failures(sequence, run, label):
    """Findings for every host that failed or was unreachable in ``run``."""
    found = set()
    for record in run.records:
        if (record["status"] == "failed" and not record["ignored"]) or record["status"] == "unreachable":
            found.add((sequence, "failed:" + label, record["host"], record["task"]))
    if run.returncode != 0 and not found:
        found.add((sequence, "failed:" + label, "(playbook)", "rc=%d" % run.returncode))
    return found


def prediction(sequence, check, real):
    """Findings where the check run did not predict the real run exactly, per host."""
    found = set()
    check_failed = {}
    for record in check.records:
        if record["status"] in ("failed", "unreachable") and not record["ignored"]:
            check_failed.setdefault(record["host"], record["task"])
    for host in sorted(set(check.hosts()) | set(real.hosts())):
        if host in check_failed:  # the check run stopped on this host: it predicted nothing after
            found.add((sequence, "check-failed", host, check_failed[host]))
            continue
        predicted, changed = check.changed(host), real.changed(host)
        found |= {(sequence, "real-only", host, task) for task in changed - predicted}
        found |= {(sequence, "check-only", host, task) for task in predicted - changed}
        notified = check.handler_roles(host)
        for role, tasks in real.handler_role_changes(host).items():
            if role not in notified:
                found |= {(sequence, "real-only", host, task) for task in tasks}
        ran = real.handler_roles(host)
        found |= {(sequence, "check-only", host, "handler of %s" % role) for role in notified - ran}
    return found


def changes(sequence, kind, run):
    """Findings for every task (handlers included) ``run`` reported changed."""
    return {(sequence, kind, r["host"], r["task"]) for r in run.records if r["status"] == "changed"}


def judge(found, rules, sequence, kinds):
    """Split ``found`` by the rules that concern ``sequence`` and one of ``kinds``.

    Returns ``(unknown findings, matched {rule: [findings]}, stale rules)``; a stale rule is one
    in scope that matched nothing.
    """
    active = [rule for rule in rules if fnmatch.fnmatchcase(sequence, rule.pattern[0])
              and any(fnmatch.fnmatchcase(kind, rule.pattern[1]) for kind in kinds)]
    matched, unknown = {}, set()
    for finding in sorted(found):
        rule = next((r for r in active if r.matches(finding)), None)
        if rule is None:
            unknown.add(finding)
        else:
            matched.setdefault(rule, []).append(finding)
    stale = [rule for rule in active if rule not in matched]
    return unknown, matched, stale


def describe(findings):
    return "\n".join("  %s | %s | %s | %s" % finding for finding in sorted(findings))


def task_counts(run):
    """Tasks per host of ``run`` (issue #17's measure): ``{host: {"ran": [task, ...], "skipped": n}}``.

    Handlers included; a run_once task counts once, on the host it ran for (the benchmark's
    bench_profile callback counts the same way). Deterministic, unlike times.
    """
    counts = {}
    for record in run.records:
        entry = counts.setdefault(record["host"], {"ran": [], "skipped": 0})
        if record["status"] == "skipped":
            entry["skipped"] += 1
        else:
            entry["ran"].append("%s [%s]" % (record["task"], record["action"]))
    return counts

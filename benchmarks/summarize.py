#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn one benchmarks/run.sh work directory into results-N.json and a printed table.

    summarize.py WORK_DIR N OUT.json [--tree PATH] [--command TEXT] [--rerun-only] [--slices K]
    summarize.py --table RESULTS.json...   (one table of several results files, as run.sh suite prints)

Reads, per run (floor_converge, floor_idempotent, site_converge, site_idempotent):
``NAME.time`` (/usr/bin/time: wall, user, sys seconds, max RSS KiB), ``NAME.memcg`` (peak bytes of
the run's memory cgroup), ``NAME.load`` (/proc/loadavg before and after) and
``NAME.profile.json`` (callback_plugins/bench_profile.py); with ``--slices K`` also the K re-runs at the
same time (``site_slices.I.time``/``.profile.json``, ``site_slices.wall``); with ``--rerun-only`` only the
two re-runs (the suite's phase over the whole farm, converged by the phases before it).  Fails (exit 1) when a run had failed
or unreachable hosts, or when the idempotent site.yml run changed anything.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import platform
import subprocess
import sys

RUNS = ("floor_converge", "floor_idempotent", "site_converge", "site_idempotent")
RERUNS = ("floor_idempotent", "site_idempotent")
TARGETS = {"converge": 2.0, "idempotent": 1.3, "idempotent_cpu": 2.0}  # idempotent_cpu: controller CPU of the re-runs
SLICES_CPU_TARGET = 1.2  # summed controller CPU of the slices over that of one re-run of all workers
WORKER_PREFIX = "bw"


def _read(work, name, ext):
    with open(os.path.join(work, "%s.%s" % (name, ext))) as handle:
        return handle.read()


def by_action(tasks):
    """Wall seconds per module/action (``[ansible.builtin.copy]`` ...), largest first."""
    totals = {}
    for task in tasks:
        action = task["task"].rsplit("[", 1)[-1].split("]", 1)[0]
        totals[action] = totals.get(action, 0.0) + task["seconds"]
    return [[action, round(seconds, 2)] for action, seconds in sorted(totals.items(), key=lambda i: -i[1])]


def run_figures(work, name):
    """Figures of one run from its files in ``work``."""
    wall, user, sys_s, max_rss_kib = _read(work, name, "time").split()[-4:]
    profile = json.loads(_read(work, name, "profile.json"))
    workers = dict((h, c) for h, c in profile["hosts"].items() if h.startswith(WORKER_PREFIX))
    executed = [c["ok"] + c["failed"] for c in workers.values()]
    skipped = [c["skipped"] for c in workers.values()]
    loads = [line.split()[:3] for line in _read(work, name, "load").splitlines()]
    return {
        "wall_seconds": float(wall),
        "controller_cpu_seconds": round(float(user) + float(sys_s), 2),
        "controller_max_rss_mib": round(int(max_rss_kib) / 1024.0, 1),
        "controller_cgroup_peak_mib": round(int(_read(work, name, "memcg")) / 1048576.0, 1),
        "tasks_per_worker": round(sum(executed) / float(len(executed)), 1) if executed else 0,
        "skipped_per_worker": round(sum(skipped) / float(len(skipped)), 1) if skipped else 0,
        "changed_total": sum(c["changed"] for c in profile["hosts"].values()),
        "failed_total": sum(c["failed"] + c["unreachable"] for c in profile["hosts"].values()),
        "plays": profile["plays"],
        "seconds_by_action": by_action(profile["tasks"]),
        "tasks": profile["tasks"],
        "loadavg_before": loads[0],
        "loadavg_after": loads[-1],
    }


def slices_figures(work, name, slices):
    """Figures of K runs at the same time: summed CPU, the wall time of all, per-slice figures."""
    per_slice = []
    for index in range(1, slices + 1):
        wall, user, sys_s, max_rss_kib = _read(work, "%s.%d" % (name, index), "time").split()[-4:]
        profile = json.loads(_read(work, "%s.%d" % (name, index), "profile.json"))
        workers = dict((h, c) for h, c in profile["hosts"].items() if h.startswith(WORKER_PREFIX))
        per_slice.append({"wall_seconds": float(wall), "controller_cpu_seconds": round(float(user) + float(sys_s), 2),
                          "controller_max_rss_mib": round(int(max_rss_kib) / 1024.0, 1),
                          "workers": len(workers),
                          "tasks": sum(c["ok"] + c["failed"] for c in workers.values()),
                          "changed_total": sum(c["changed"] for c in profile["hosts"].values()),
                          "failed_total": sum(c["failed"] + c["unreachable"] for c in profile["hosts"].values())})
    loads = [line.split()[:3] for line in _read(work, name, "load").splitlines()]
    workers = sum(s["workers"] for s in per_slice)
    return {
        "slices": slices,
        "wall_seconds": float(_read(work, name, "wall").strip()),
        "controller_cpu_seconds": round(sum(s["controller_cpu_seconds"] for s in per_slice), 2),
        "controller_cgroup_peak_mib": round(int(_read(work, name, "memcg")) / 1048576.0, 1),
        "tasks_per_worker": round(sum(s["tasks"] for s in per_slice) / float(workers), 1) if workers else 0,
        "changed_total": sum(s["changed_total"] for s in per_slice),
        "failed_total": sum(s["failed_total"] for s in per_slice),
        "per_slice": per_slice,
        "loadavg_before": loads[0],
        "loadavg_after": loads[-1],
    }


def machine():
    """What the figures were measured on."""
    model = ""
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem_kib = int(handle.readline().split()[1])
    ansible = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "--version"],
                             capture_output=True, text=True, check=False).stdout.splitlines()
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1048576.0, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "ansible": ansible[0] if ansible else ""}


def tree_commit(tree):
    """The commit the measured tree was at (``+dirty`` when its roles or plugins had local edits)."""
    if not tree or not os.path.isdir(os.path.join(tree, ".git")):
        return ""
    git = ["git", "-C", tree]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(git + ["status", "--porcelain", "--", "roles", "plugins", "site.yml"],
                           capture_output=True, text=True, check=False)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _cell(value, fmt="%.1f"):
    return "-" if value is None else fmt % value


def table(paths):
    """Markdown rows of several results files (README / RESULTS.md), one per workers count."""
    lines = ["| N | floor conv / re-run s | site conv s | site re-run s | conv / floor | re-run / floor "
             "| tasks/worker conv / re-run | CPU s/worker re-run (floor) | max RSS MiB (floor) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        with open(path) as handle:
            result = json.load(handle)
        runs, ratios, n = result["runs"], result["ratios_to_floor"], float(result["workers"])
        conv, rerun = runs.get("site_converge"), runs["site_idempotent"]
        fconv, frerun = runs.get("floor_converge"), runs["floor_idempotent"]
        lines.append("| %d | %s / %.1f | %s | %.1f | %s | %.2fx | %s / %.1f | %.2f (%.2f) | %.0f (%.0f) |" % (
            result["workers"], _cell(fconv and fconv["wall_seconds"]), frerun["wall_seconds"],
            _cell(conv and conv["wall_seconds"]), rerun["wall_seconds"],
            _cell(ratios.get("converge"), "%.2fx"), ratios["idempotent"],
            _cell(conv and conv["tasks_per_worker"]), rerun["tasks_per_worker"],
            rerun["controller_cpu_seconds"] / n, frerun["controller_cpu_seconds"] / n,
            rerun["controller_max_rss_mib"], frerun["controller_max_rss_mib"]))
        slices = result.get("slices")
        if slices:
            lines.append("| %d as %d slices | | | %.1f wall | | | - / %.1f | summed CPU %.1f s = %.2fx one re-run's | |" % (
                result["workers"], slices["slices"], slices["wall_seconds"], slices["tasks_per_worker"],
                slices["controller_cpu_seconds"], ratios["slices_cpu_vs_one_rerun"]))
    return "\n".join(lines)


def main(argv=None):
    """Write the results file; print the side-by-side table; exit 1 on a failed assertion."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--table":
        print(table(argv[1:]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work")
    parser.add_argument("workers", type=int)
    parser.add_argument("out")
    parser.add_argument("--tree", default="")
    parser.add_argument("--command", default="")
    parser.add_argument("--vars", help="the BENCH_VARS file appended to the workers' group_vars")
    parser.add_argument("--slices", type=int, default=0, help="BENCH_SLICES: K re-runs at the same time were measured")
    parser.add_argument("--rerun-only", action="store_true", help="only the floor's and site.yml's re-runs were measured")
    args = parser.parse_args(argv)
    names = RERUNS if args.rerun_only else RUNS
    runs = dict((name, run_figures(args.work, name)) for name in names)
    ratios = {"idempotent": round(runs["site_idempotent"]["wall_seconds"] / runs["floor_idempotent"]["wall_seconds"], 2),
              "idempotent_cpu": round(runs["site_idempotent"]["controller_cpu_seconds"]
                                      / runs["floor_idempotent"]["controller_cpu_seconds"], 2)}
    if not args.rerun_only:
        ratios["converge"] = round(runs["site_converge"]["wall_seconds"] / runs["floor_converge"]["wall_seconds"], 2)
    problems = ["%s: %d failed/unreachable results" % (n, r["failed_total"]) for n, r in runs.items()
                if r["failed_total"]]
    if runs["site_idempotent"]["changed_total"]:
        problems.append("site_idempotent changed %d results (must be 0)" % runs["site_idempotent"]["changed_total"])
    slices = slices_figures(args.work, "site_slices", args.slices) if args.slices else None
    if slices:
        ratios["slices_cpu_vs_one_rerun"] = round(slices["controller_cpu_seconds"]
                                                  / runs["site_idempotent"]["controller_cpu_seconds"], 2)
        if slices["failed_total"] or slices["changed_total"]:
            problems.append("site_slices: %d failed, %d changed (must be 0)" % (slices["failed_total"], slices["changed_total"]))
    extra_vars = ""
    if args.vars:
        with open(args.vars) as handle:
            extra_vars = handle.read()
    result = {"workers": args.workers, "command": args.command, "tree": args.tree, "tree_commit": tree_commit(args.tree),
              "extra_group_vars": extra_vars,
              "machine": machine(),
              "runs": runs, "ratios_to_floor": ratios, "slices": slices,
              "targets": dict((k, {"max_ratio": v, "met": ratios[k] <= v}) for k, v in TARGETS.items() if k in ratios),
              "problems": problems}
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")
    print("%-17s %8s %8s %9s %9s %7s %8s %s" % ("run", "wall_s", "cpu_s", "rss_MiB", "cgrp_MiB", "tasks/w",
                                                "changed", "load(1m before->after)"))
    for name in names:
        r = runs[name]
        print("%-17s %8.1f %8.1f %9.1f %9.1f %7.1f %8d %s->%s" % (
            name, r["wall_seconds"], r["controller_cpu_seconds"], r["controller_max_rss_mib"],
            r["controller_cgroup_peak_mib"], r["tasks_per_worker"], r["changed_total"],
            r["loadavg_before"][0], r["loadavg_after"][0]))
    if "converge" in ratios:
        print("ratio to floor: converge %.2fx (target <= %.1fx)" % (ratios["converge"], TARGETS["converge"]))
    print("ratio to floor: idempotent %.2fx (target <= %.1fx), its controller CPU %.2fx (target <= %.1fx)" % (
        ratios["idempotent"], TARGETS["idempotent"], ratios["idempotent_cpu"], TARGETS["idempotent_cpu"]))
    if slices:
        figures = (slices["slices"], slices["wall_seconds"], slices["controller_cpu_seconds"],
                   ratios["slices_cpu_vs_one_rerun"], SLICES_CPU_TARGET, slices["tasks_per_worker"])
        print("%d slices at the same time (re-run): wall %.1f s, summed controller CPU %.1f s = %.2fx the one "
              "re-run's (target <= %.1fx), %.1f tasks/worker" % figures)
    print("results: %s" % args.out)
    for problem in problems:
        print("PROBLEM: %s" % problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

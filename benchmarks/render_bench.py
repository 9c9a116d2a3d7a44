#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qbwrk.conf rendering benchmark: compact renderer vs a naive one section per host.

Builds a synthetic farm of N workers whose inventory looks like a real studio's (hosts share
settings by hardware generation, OS and template; a few have their own), runs the collection's
real code path on it (``settings.host_settings`` per host, as ``qube_farm_settings`` does, then
``filter/qube.py: qube_qbwrk`` -> ``qbwrk.render``), and compares with a naive rendering that
writes every host's full desired config in its own section.  Every host's config expanded from
the compact file is checked against its desired config, so a smaller file cannot be a wrong one.

    .venv/bin/python benchmarks/render_bench.py            # 1,000 and 10,000 workers
    .venv/bin/python benchmarks/render_bench.py 500 --json out.json
    .venv/bin/python benchmarks/render_bench.py --ansible 10000   # the same inside ansible-playbook

``--ansible N`` measures what the pure-Python figures leave out: the supervisor_config tasks read
every worker through ``hostvars``.  It runs a localhost playbook over an N-host inventory twice,
without and with the two filters, and reports the difference in controller CPU time.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, ".cache", "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

# pylint: disable=wrong-import-position
from ansible_collections.renderfarm.qube.plugins.filter.qube import qube_qbwrk  # noqa: E402
from ansible_collections.renderfarm.qube.plugins.module_utils import qbwrk, settings  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_RATIO = 0.05

TEMPLATES = {
    "linux_render": {"worker_groups": "linux_render,farm", "worker_cluster": "/farm/render",
                     "worker_description": "render node"},
    "gpu": {"worker_groups": "gpu,farm", "worker_resources": {"host.gpu": 1}},
    "workstation": {"worker_groups": "workstations", "worker_cluster": "/farm/ws",
                    "worker_description": "artist workstation (nights)"},
}
GENERATION_CPUS = (16, 32, 48, 64)   # hardware generations, bought in blocks of BLOCK hosts
BLOCK = 500
# Stands in for the qbhash output of the Windows workers' proxy password (not a real secret).
SYNTHETIC_HASHES = {"qubeproxy": "synthetic0qbhash0output"}


def synthetic_hostvars(count):
    """``{inventory_name: hostvars}`` for ``count`` workers (90 % Linux render, 5 % GPU, 5 % Windows).

    Hosts share settings: cpus by hardware generation (contiguous blocks), templates by role, one
    proxy account farm-wide; every 100th render node has its own description (an outlier).
    """
    hosts = {}
    render_count = count * 90 // 100
    gpu_count = count * 5 // 100
    ws_count = count - render_count - gpu_count
    common = {"qube_supervisor": "qubesup", "qube_domain": "studio", "qube_templates": TEMPLATES,
              "qube_proxy_execution_mode": "proxy", "qube_proxy_account": "qubeproxy",
              "qube_worker_flags": ["dynamic"], "qube_worker_logmode": "remote"}
    for i in range(1, render_count + 1):
        name = "render%05d" % i
        hv = dict(common, inventory_hostname=name, qube_os="linux", qube_worker_templates=["linux_render"],
                  qube_worker_cpus=GENERATION_CPUS[(i - 1) // BLOCK % len(GENERATION_CPUS)])
        if i % 100 == 0:
            hv["qube_worker_description"] = "render node, rack %d slot %d" % (i // 40, i % 40)
        hosts[name] = hv
    for i in range(1, gpu_count + 1):
        name = "gpu%04d" % i
        hosts[name] = dict(common, inventory_hostname=name, qube_os="linux", qube_worker_cpus=64,
                           qube_worker_templates=["linux_render", "gpu"])
    for i in range(1, ws_count + 1):
        name = "ws%04d" % i
        hosts[name] = dict(common, inventory_hostname=name, qube_os="winnt", qube_worker_cpus=0,
                           qube_worker_templates=["workstation"])
    return hosts


def _central(entry):
    """A host's central keys with the proxy password placeholder filled in, as qube_qbwrk does."""
    return settings.fill_secrets(entry["central"], SYNTHETIC_HASHES, entry["name"])


def naive_render(farm, templates):
    """One section per host holding its full desired config: what a per-host template loop writes."""
    template_values = settings.template_values(templates)
    blocks = []
    for entry in farm:
        host = {"name": entry["name"], "templates": entry["templates"], "settings": _central(entry)}
        config = qbwrk.desired_config(host, template_values)
        lines = ["[%s]" % entry["name"]] + ["%s = %s" % (k, config[k]) for k in sorted(config)]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def verify(text, farm, templates):
    """Fail unless every host's config expanded from ``text`` is exactly its desired config."""
    template_values = settings.template_values(templates)
    sections = qbwrk.parse(text)
    for entry in farm:
        host = {"name": entry["name"], "templates": entry["templates"], "settings": _central(entry)}
        want = qbwrk.desired_config(host, template_values)
        got = qbwrk.expand(sections, entry["name"], entry["os"])
        if got != want:
            raise AssertionError("%s: expanded %r != desired %r" % (entry["name"], got, want))


def bench(count, repeat=3):
    """Measure one farm size; returns a dict of figures (best of ``repeat`` for the timings)."""
    hostvars = synthetic_hostvars(count)
    settings_times, render_times, cpu_times = [], [], []
    for _ in range(repeat):
        cpu_start = time.process_time()
        start = time.perf_counter()
        farm = [dict(settings.host_settings(name, hv), inventory_name=name) for name, hv in hostvars.items()]
        settings_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        text = qube_qbwrk(farm, TEMPLATES, secrets=SYNTHETIC_HASHES, header="# managed by renderfarm.qube")
        render_times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    start = time.perf_counter()
    naive = naive_render(farm, TEMPLATES)
    naive_seconds = time.perf_counter() - start
    verify(text, farm, TEMPLATES)
    compact_bytes, naive_bytes = len(text.encode()), len(naive.encode())
    return {
        "workers": count,
        "settings_seconds": round(min(settings_times), 4),
        "render_seconds": round(min(render_times), 4),
        "total_seconds": round(min(settings_times) + min(render_times), 4),
        "total_cpu_seconds": round(min(cpu_times), 4),
        "naive_render_seconds": round(naive_seconds, 4),
        "compact_bytes": compact_bytes,
        "naive_bytes": naive_bytes,
        "size_ratio": round(compact_bytes / naive_bytes, 5),
        "compact_sections": text.count("\n["),
        "naive_sections": len(farm),
        "lossless_checked_hosts": len(farm),
        # CPU time: on the shared 2-core VM wall time mostly measures the other sessions' load.
        "meets_time_target": min(cpu_times) <= TARGET_SECONDS,
        "meets_size_target": compact_bytes <= TARGET_RATIO * naive_bytes,
    }


ANSIBLE_PLAY = """\
- name: qbwrk.conf from hostvars, as roles/supervisor_config/tasks/main.yml computes it
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Farm settings from hostvars, then the compact file
      ansible.builtin.set_fact:
        qbwrk_size: >-
          {{ (hostvars | renderfarm.qube.qube_farm_settings(groups['qube_workers'])
              | renderfarm.qube.qube_qbwrk(qube_templates, secrets=synthetic_hashes)) | length }}
      when: render | bool
"""


def ansible_bench(count):
    """Controller CPU seconds of the filters inside ansible-playbook for ``count`` workers."""
    hostvars = synthetic_hostvars(count)
    shared = ("qube_supervisor", "qube_domain", "qube_templates", "qube_proxy_execution_mode",
              "qube_proxy_account", "qube_worker_flags", "qube_worker_logmode")
    first = next(iter(hostvars.values()))
    inventory = {"all": {
        "vars": dict([(k, first[k]) for k in shared], synthetic_hashes=SYNTHETIC_HASHES,
                     ansible_python_interpreter=sys.executable),
        "children": {"qube_workers": {"hosts": dict(
            (name, dict((k, v) for k, v in hv.items() if k not in shared and k != "inventory_hostname"))
            for name, hv in hostvars.items())}}}}
    playbook_bin = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    cpu = {}
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "inventory.yml"), "w") as handle:
            json.dump(inventory, handle)   # JSON is YAML
        with open(os.path.join(tmp, "play.yml"), "w") as handle:
            handle.write(ANSIBLE_PLAY)
        for render_it in ("false", "true"):
            before = os.times()
            subprocess.run([playbook_bin, "-i", os.path.join(tmp, "inventory.yml"), os.path.join(tmp, "play.yml"),
                            "-e", "render=%s" % render_it], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
            after = os.times()
            cpu[render_it] = (after.children_user + after.children_system) - (before.children_user + before.children_system)
    return {"workers": count, "playbook_cpu_without_filters": round(cpu["false"], 2),
            "playbook_cpu_with_filters": round(cpu["true"], 2),
            "filters_cpu_seconds": round(cpu["true"] - cpu["false"], 2)}


def main(argv=None):
    """Run the benchmark for each size; print a table; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--ansible", type=int, metavar="N", help="measure the filters inside ansible-playbook")
    parser.add_argument("--show", type=int, help="print the compact file for this many workers and exit")
    args = parser.parse_args(argv)
    if args.show:
        hostvars = synthetic_hostvars(args.show)
        farm = [settings.host_settings(name, hv) for name, hv in hostvars.items()]
        print(qube_qbwrk(farm, TEMPLATES, secrets=SYNTHETIC_HASHES))
        return 0
    if args.ansible:
        figures = ansible_bench(args.ansible)
        print(json.dumps(figures))
        return 0 if figures["filters_cpu_seconds"] <= TARGET_SECONDS else 1
    rows = [bench(n) for n in args.sizes]
    print("%8s %10s %9s %9s %7s %12s %12s %8s %9s %s" % (
        "workers", "settings_s", "render_s", "total_s", "cpu_s", "compact_B", "naive_B", "ratio", "sections", "targets"))
    for r in rows:
        ok = "ok" if r["meets_time_target"] and r["meets_size_target"] else "MISSED"
        print("%8d %10.3f %9.3f %9.3f %7.3f %12d %12d %7.2f%% %9d %s" % (
            r["workers"], r["settings_seconds"], r["render_seconds"], r["total_seconds"], r["total_cpu_seconds"],
            r["compact_bytes"],
            r["naive_bytes"], 100 * r["size_ratio"], r["compact_sections"], ok))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"python": sys.version.split()[0], "results": rows}, handle, indent=2)
    return 0 if all(r["meets_time_target"] and r["meets_size_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

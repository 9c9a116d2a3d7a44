"""The rolling_drain lab farm as an operator sees it: hosts, Qube! jobs and locks, site.yml runs.

Qube! state is read through the stand-in's own client commands on the supervisor (``qbsub``,
``qbjobs``, ``qbout``, ``qbhosts --xml``, ``qblock``); workers are looked at with systemd and
files. ``run_site`` runs the real ``site.yml`` with molecule's inventory, as an operator would.
"""
import json
import os
import re
import shlex
import time
import xml.etree.ElementTree as ET

from molecule_lab import QB_BIN, changed_total, lab_host, site_run

SUPERVISOR = "drsup"
WORKERS = ("drw1", "drw2", "drw3")
# Long enough that it still runs when a loaded run reaches the restart handler (>40 s seen on a
# 2-core machine shared with other runs), so the drain really has to wait for it.
LONG_JOB = "sleep 90; echo done"


class Farm:
    """Supervisor-side Qube! commands and worker-side process/file checks."""

    def __init__(self):
        self.sup = lab_host(SUPERVISOR)
        self.workers = {name: lab_host(name) for name in WORKERS}

    # --- Qube! through the supervisor's client commands ---

    def qb(self, command):
        """Run ``$QB_BIN/<command>`` on the supervisor as root; return stdout (fails on rc != 0)."""
        return self.sup.check_output(f"{QB_BIN}/{command}")

    def submit(self, worker, command=LONG_JOB):
        """Submit ``command`` pinned to ``worker``; return the job id."""
        out = self.qb(f"qbsub --hosts {worker} {shlex.quote(command)}")
        return int(re.search(r"job: *(\d+)", out).group(1))

    def job_status(self, job_id):
        return self.qb(f"qbjobs --status {job_id}").split()[1]

    def job_output(self, job_id):
        return self.qb(f"qbout {job_id}").strip()

    def all_job_statuses(self):
        """``{id: status}`` of every job the supervisor knows."""
        lines = self.qb("qbjobs --status").splitlines()
        return {int(i): s for i, s in (line.split() for line in lines if line.strip())}

    def wait_job(self, job_id, statuses, timeout=90.0):
        """Poll until the job's status is one of ``statuses``; return the last status seen."""
        deadline = time.monotonic() + timeout
        status = self.job_status(job_id)
        while status not in statuses and time.monotonic() < deadline:
            time.sleep(0.5)
            status = self.job_status(job_id)
        return status

    def hosts(self):
        """``{worker: {field: text}}`` from ``qbhosts --xml``."""
        root = ET.fromstring(self.qb("qbhosts --xml"))
        return {h.findtext("name"): {c.tag: (c.text or "") for c in h} for h in root.iter("host")}

    def locked(self, worker):
        return self.hosts()[worker]["locked"] == "1"

    def wait_active(self, worker, timeout=30.0):
        """Poll until the supervisor lists ``worker`` as active (registered after a restart)."""
        deadline = time.monotonic() + timeout
        while self.hosts().get(worker, {}).get("state") != "active" and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.hosts().get(worker, {}).get("state")

    def watch_locks(self):
        """Start sampling, on the supervisor, how many workers are locked (every 0.2 s).

        Returns ``(pid, path)``; the sampler stops itself after 15 minutes if never stopped.
        """
        path = self.sup.check_output("mktemp /tmp/lockwatch.XXXXXX")
        loop = (f"end=$(($(date +%s)+900)); while [ $(date +%s) -lt $end ]; do "
                f"{QB_BIN}/qbhosts --xml | grep -c '<locked>1</locked>'; sleep 0.2; done")
        pid = self.sup.check_output(f"nohup sh -c {shlex.quote(loop)} >{path} 2>&1 & echo $!")
        return int(pid), path

    def stop_watch(self, watcher):
        """Stop the sampler started by :meth:`watch_locks`; return its samples."""
        pid, path = watcher
        self.sup.run(f"kill {int(pid)}")
        samples = self.sup.check_output(f"cat {shlex.quote(path)}").split()
        self.sup.run(f"rm -f {shlex.quote(path)}")
        return samples

    # --- workers ---

    def main_pid(self, worker):
        return int(self.workers[worker].check_output("systemctl show -p MainPID --value worker"))

    def pid_alive(self, worker, pid):
        return self.workers[worker].run(f"kill -0 {int(pid)}").rc == 0

    def qb_conf(self, worker):
        return self.workers[worker].file("/etc/qb.conf").content_string

    def qb_conf_sha(self, worker):
        return self.workers[worker].check_output("sha256sum /etc/qb.conf").split()[0]


def run_site(extra_vars=None, limit=None, report_dir=None, timeout=900):
    """Run ``site.yml`` with molecule's inventory; return (rc, recap-changed total, output).

    ``extra_vars`` go in as one JSON ``-e`` (typed values); the farm report is written into
    ``report_dir`` (QUBE_REPORT_DIR) so runs never touch the checkout's ``reports/``.
    """
    run = site_run(extra_vars, limit=limit, report_dir=report_dir, timeout=timeout)
    return run.returncode, changed_total(run.stdout), run.stdout + run.stderr


def report_rows(report_dir):
    """``{host: row}`` from the farm report JSON the qube_report callback wrote."""
    with open(os.path.join(report_dir, "qube-report.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    return {row["host"]: row for row in data["hosts"]}

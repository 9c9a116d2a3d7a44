"""The fault suite's lab farm: hosts, inventory, the playbook runner and what a run left behind.

Farm (octets 220-226, created and destroyed by the suite, nothing else in the lab is touched):
  fs1        stand-in supervisor
  fw1..fw5   service-mode workers, local proxy account qubeproxy
  fad1       service-mode worker on the ``ad`` layer, joined to the lab DC dc1 (MYCORP.TEST),
             jobs as MYCORP\\renderproxy, password checked against dc1 over LDAPS first

A farm *generation* N is one inventory: ``worker_description = "faults gen N"`` (central, in
qbwrk.conf) and ``worker_boot_delay = N`` (a bootstrap key, local in every worker's qb.conf). Moving
from N to N+1 changes qbwrk.conf, every qb.conf, and needs a push and a restart on every worker.
"""

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time

import yaml

from tests.integration.leaks.lab import KEY, QLAB_DIR, REPO, LabHost, ad_env, lab, ssh_argv

PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SUPERVISOR = LabHost("fs1", 220, supervisor=True)
WORKERS = [LabHost("fw%d" % n, 220 + n) for n in range(1, 6)]
AD_WORKER = LabHost("fad1", 226)
HOSTS = [SUPERVISOR] + WORKERS + [AD_WORKER]
BY_NAME = {host.name: host for host in HOSTS}
DC_ADDRESS = "10.88.0.5"
QB_CONF, QBWRK_CONF = "/etc/qb.conf", "/etc/qbwrk.conf"
STANDIN_DEB = "qube-standin_8.0.0~standin1_all.deb"
# Every normal run: all workers in one batch (the faults choose their batches themselves).
FAST = {"qube_serial": "100%", "qube_max_fail_percentage": 100}
# ansible.cfg's ssh_args with a short keepalive: ssh uses the first value of an option, so this
# replaces ServerAliveInterval=15 there. A worker whose network is cut mid-task is then declared
# unreachable after about 6 s instead of 45 s.
SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=2 -o ServerAliveCountMax=3 -o ConnectTimeout=5"
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)"
                      r"\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)", re.M)
RECAP_KEYS = ("ok", "changed", "unreachable", "failed", "skipped", "rescued", "ignored")
PREPARE_WORKER = "install -d -m 1777 /srv/renders && install -d -m 0700 /srv/locked"


# --- hosts -------------------------------------------------------------------------------------

def sh(host, command, timeout=60, check=True):
    """Run ``command`` on ``host`` as root; its stdout as text."""
    return host.run(command, timeout=timeout, check=check).decode("utf-8", "replace")


def read_bytes(host, path):
    """The bytes of ``path`` on ``host`` (None when it does not exist)."""
    proc = subprocess.run(ssh_argv(host.address, "test -e %s && cat %s" % (path, path)),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    return proc.stdout if proc.returncode == 0 else None


def write_bytes(host, path, data, mode="0644"):
    """Write ``data`` to ``path`` on ``host`` (through a temp file and rename)."""
    command = "cat > %s.faults-new && chmod %s %s.faults-new && mv %s.faults-new %s" % (path, mode, path, path, path)
    subprocess.run(ssh_argv(host.address, command), input=data, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=60, check=True)


def listing(host, folder, pattern):
    """Names in ``folder`` on ``host`` matching the shell ``pattern`` (hidden ones too)."""
    out = sh(host, "cd %s && for f in %s; do [ -e \"$f\" ] && printf '%%s\\n' \"$f\"; done; true" % (folder, pattern))
    return sorted(out.split())


def create_farm():
    """(Re)create fs1, fw1..fw5 and fad1 (ad layer), boot them, install the stand-in supervisor."""
    names = [host.name for host in HOSTS]
    lab("destroy", *names)
    for host in HOSTS:
        lab("create", host.name, str(host.octet), *(["--layer", "ad"] if host is AD_WORKER else []))
    lab("start", *names)
    lab("install-standin", SUPERVISOR.name)
    for host in WORKERS + [AD_WORKER]:
        sh(host, PREPARE_WORKER)


def dc_running():
    """True when the shared lab DC dc1 runs (it is never stopped by this suite)."""
    status = lab("status")
    return any(re.match(r"^dc1\s.*\srunning\s*$", line) for line in status.splitlines())


def ad_join():
    """Join fad1 to MYCORP.TEST (Administrator password on stdin, never argv)."""
    proc = subprocess.run([os.path.join(REPO, "tests", "lab", "ad-join.sh"), AD_WORKER.name],
                          input=ad_env()["QLAB_AD_ADMIN_PASSWORD"] + "\n", universal_newlines=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError("ad-join.sh fad1 failed: %s" % proc.stderr[-1000:])


def destroy_farm():
    lab("destroy", *[host.name for host in HOSTS])


# --- inventory ---------------------------------------------------------------------------------

class Inventory:
    """The farm's inventory folder; ``write(gen, host_vars)`` rewrites it for one run."""

    def __init__(self, folder):
        self.folder = folder
        self.password = "flt-" + secrets.token_urlsafe(18)
        self.ad_password = ad_env()["QLAB_AD_USER_PASSWORD"]

    @property
    def secrets(self):
        return [self.password, self.ad_password]

    def write(self, gen, host_vars=None):
        connection = {
            "ansible_user": "root", "ansible_ssh_private_key_file": KEY,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        }
        workers = {host.name: {"ansible_host": host.address} for host in WORKERS + [AD_WORKER]}
        inventory = {"all": {
            "vars": dict(connection, qube_supervisor=SUPERVISOR.name, qube_domain="qube"),
            "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
            "children": {"qube_supervisors": {"hosts": {SUPERVISOR.name: {"ansible_host": SUPERVISOR.address}}},
                         "qube_workers": {"hosts": workers}}}}
        workers_vars = {
            "qube_worker_mode": "service",
            "qube_worker_package_files": [os.path.join(QLAB_DIR, "packages", STANDIN_DEB)],
            "qube_worker_packages": ["qube-standin"],
            "qube_worker_cpus": 1,
            "qube_worker_description": "faults gen %d" % gen,
            "qube_bootstrap_settings": {"worker_boot_delay": gen},
            "qube_proxy_execution_mode": "proxy", "qube_proxy_account": "qubeproxy",
            "qube_proxy_password": self.password,
            "qube_validation_paths": ["/srv/renders"], "qube_validation_timeout": 30,
            "qube_validate_via_qube": False,
            # Every round asserts that every worker is proven by its run: the validation job on every
            # run, so no worker is left out as converged (that path: identity_local, the benchmark).
            "qube_validate_cadence": "always",
            "qube_drain_timeout": 60,
        }
        ad_vars = {
            "qube_proxy_account": "renderproxy", "qube_worker_host_domain": "MYCORP",
            "qube_proxy_password": self.ad_password,
            "qube_ad_check": {"server": "dc1.mycorp.test", "realm": "MYCORP.TEST",
                              "ca_file": os.path.join(QLAB_DIR, "dc-ca.pem")},
        }
        per_host = {AD_WORKER.name: ad_vars}
        for name, values in (host_vars or {}).items():
            per_host[name] = dict(per_host.get(name, {}), **values)
        if os.path.isdir(os.path.join(self.folder, "host_vars")):
            for name in os.listdir(os.path.join(self.folder, "host_vars")):
                os.unlink(os.path.join(self.folder, "host_vars", name))
        write_yaml(os.path.join(self.folder, "hosts.yml"), inventory)
        write_yaml(os.path.join(self.folder, "group_vars", "qube_workers", "main.yml"), workers_vars)
        for name, values in per_host.items():
            write_yaml(os.path.join(self.folder, "host_vars", "%s.yml" % name), values)
        return self.folder


def write_yaml(path, data):
    """``data`` as YAML in ``path``, mode 0600 (the inventory holds test passwords)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=True)


# --- runs --------------------------------------------------------------------------------------

class Run:
    """One finished ansible-playbook run: rc, output, recap per host, the farm report, seconds."""

    def __init__(self, label, returncode, output, report_dir, seconds, killed=False):
        self.label, self.returncode, self.output = label, returncode, output
        self.report_dir, self.seconds, self.killed = report_dir, seconds, killed
        self.recap = {m.group(1): dict(zip(RECAP_KEYS, map(int, m.groups()[1:])))
                      for m in RECAP_RE.finditer(output)}
        self.report = None
        path = os.path.join(report_dir, "qube-report.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                self.report = json.load(handle)

    def row(self, host):
        """The farm report's row of ``host``."""
        assert self.report is not None, "%s: no farm report written" % self.label
        rows = [row for row in self.report["hosts"] if row["host"] == host]
        assert rows, "%s: %s missing from the farm report" % (self.label, host)
        return rows[0]

    def failed(self):
        """Hosts the recap shows failed or unreachable."""
        return {h for h, c in self.recap.items() if c["failed"] or c["unreachable"]}

    def changed(self):
        return {h: c["changed"] for h, c in self.recap.items() if c["changed"]}

    def tail(self, chars=5000):
        return "%s (rc %s, %.0f s):\n%s" % (self.label, self.returncode, self.seconds, self.output[-chars:])


class Runner:
    """Runs site.yml against the farm inventory; ``triggers`` fire on output lines during a run."""

    def __init__(self, folder, inventory):
        self.folder, self.inventory = folder, inventory
        self.runs = []
        self.proc = None

    def env(self, label):
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
                   PYTHONUNBUFFERED="1", ANSIBLE_SSH_ARGS=SSH_ARGS, QUBE_REPORT_DIR=os.path.join(self.folder, "reports", label),
                   QLAB_DIR=QLAB_DIR)
        return env

    def play(self, label, limit=None, extra=None, triggers=(), timeout=420):
        """Run site.yml. ``triggers`` is a script of ``(regex, action)`` steps: a step is armed once
        the step before it has fired, and fires ``action(runner)`` (in the reading thread) on the
        first output line matching its regex."""
        argv = [PLAYBOOK_BIN, "-i", self.inventory.folder, os.path.join(REPO, "site.yml")]
        # JSON, so lists and numbers reach the play as lists and numbers (serial, max_fail_percentage).
        argv += ["-e", json.dumps(dict(FAST, **(extra or {})))]
        if limit:
            argv += ["--limit", limit]
        pending = [(re.compile(pattern), action) for pattern, action in triggers]
        env = self.env(label)
        started = time.time()
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     universal_newlines=True, start_new_session=True)
        timer = threading.Timer(timeout, self.kill)
        timer.start()
        lines = []
        try:
            for line in self.proc.stdout:
                lines.append(line)
                if pending and pending[0][0].search(line):
                    pending.pop(0)[1](self)
            self.proc.wait()
        finally:
            timer.cancel()
        output = "".join(lines)
        with open(os.path.join(self.folder, "output-%s.txt" % label), "w", encoding="utf-8") as handle:
            handle.write(output)
        run = Run(label, self.proc.returncode, output, env["QUBE_REPORT_DIR"], time.time() - started,
                  killed=self.proc.returncode == -signal.SIGKILL)
        self.proc = None
        self.runs.append(run)
        return run

    def kill(self):
        """SIGKILL ansible-playbook and every process of its session (forks, ssh clients)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

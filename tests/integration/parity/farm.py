# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check-parity / least-privilege farm: own lab hosts, one inventory, recorded runs.

Hosts (created here, destroyed at the end; nothing else in the shared lab is touched):

    pcs   230  stand-in supervisor
    pcw1  231  service mode, local proxy account qubeproxy
    pcw2  232  Desktop User mode for artist
    pcw3  233  service mode, proxy_execution_mode user (submitter alice)
    pcw4  234  flip desktop -> service (starts in desktop mode for artist)
    pcw5  235  flip service -> desktop (starts in service mode)
    pcad  237  service mode, AD proxy account MYCORP\\renderproxy (layer ad, joined to dc1)

Every run goes through :meth:`Farm.play`: ansible-playbook from the repository with the
collection's ansible.cfg plus the ``parity_record`` callback (``callback/``), which writes one
JSON line per task result and host (names and statuses only). :func:`changed_tasks` and
:func:`handlers_run` read those lines.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from tests.integration.leaks.lab import KEY, LAB_SH, QLAB_DIR, LabHost, ad_env  # noqa: E402

PLAYBOOK_BIN = os.path.join(REPO, ".venv", "bin", "ansible-playbook")
SITE = "site.yml"
ROTATE = "playbooks/rotate_proxy_password.yml"
DC_CA = os.path.join(QLAB_DIR, "dc-ca.pem")

SUPERVISOR = LabHost("pcs", 230, supervisor=True)
SERVICE, DESKTOP, USERMODE, TO_SERVICE, TO_DESKTOP = (LabHost("pcw%d" % i, 230 + i) for i in range(1, 6))
AD = LabHost("pcad", 237)
POSIX_WORKERS = [SERVICE, DESKTOP, USERMODE, TO_SERVICE, TO_DESKTOP]
WORKERS = POSIX_WORKERS + [AD]
HOSTS = [SUPERVISOR] + WORKERS
DESKTOP_USER, SUBMITTER = "artist", "alice"
PROBE_DIR = "/usr/local/lib/qube-lp"

# Run on every worker before the first run: the desktop user (who may log in with the lab key,
# for the Desktop User mode job of the least-privilege test), the user-mode submitter, the
# validation share, and the least-privilege probe (which exits at once unless its watcher runs).
PREPARE_WORKER = (
    "set -e; "
    "id artist >/dev/null 2>&1 || useradd -m -s /bin/bash artist; "
    "id alice >/dev/null 2>&1 || useradd -m -s /bin/bash alice; "
    "install -d -m 0700 -o artist -g artist /home/artist/.ssh; "
    "install -m 0600 -o artist -g artist /dev/stdin /home/artist/.ssh/authorized_keys; "
    "install -d -m 1777 /srv/renders")


def lab(*args, stdin=None, timeout=600, check=True):
    """``tests/lab/lab.sh ARGS`` (``stdin`` text fed on stdin); the completed process."""
    proc = subprocess.run([LAB_SH] + list(args), input=stdin, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=REPO)
    if check and proc.returncode != 0:
        raise RuntimeError("lab.sh %s failed (rc %d): %s" % (" ".join(args), proc.returncode, proc.stderr[-2000:]))
    return proc


def create_host(host, attempts=3):
    """``lab.sh create``, retried: it rewrites the shared hosts file from every host's meta file and
    fails when another session destroys a host at that moment ("can't read .../meta")."""
    for attempt in range(attempts):
        proc = lab("create", host.name, str(host.octet), *(["--layer", "ad"] if host is AD else []), check=False)
        if proc.returncode == 0:
            return
        lab("destroy", host.name, check=False)
        time.sleep(1 + attempt)
    raise RuntimeError("lab.sh create %s failed %d times: %s" % (host.name, attempts, proc.stderr[-1500:]))


def dc_running():
    return any(line.split()[:1] == ["dc1"] and line.split()[-1:] == ["running"]
               for line in lab("status").stdout.splitlines())


def ensure_dc():
    """The shared DC dc1: provisioned only when no dc1 is running (it is then left running for
    the other users of the shared lab, as the brief asks; `tests/lab/dc.sh stop` removes it)."""
    if dc_running():
        return False
    subprocess.run([os.path.join(REPO, "tests", "lab", "dc.sh"), "provision"], capture_output=True, text=True,
                   timeout=600, check=True, cwd=REPO)
    return True


def write_private(path, text):
    """Write ``text`` to ``path`` with mode 0600 (inventories hold the test passwords)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


class Run(object):
    """One recorded ansible-playbook run."""

    def __init__(self, label, argv, returncode, output, records, seconds, report_dir):
        self.label, self.argv, self.returncode, self.output = label, argv, returncode, output
        self.records, self.seconds, self.report_dir = records, seconds, report_dir

    @property
    def check(self):
        return "--check" in self.argv

    def hosts(self):
        return sorted({r["host"] for r in self.records})

    def failed_hosts(self):
        """Hosts with a failed (not ignored) or unreachable task."""
        return sorted({r["host"] for r in self.records
                       if (r["status"] == "failed" and not r["ignored"]) or r["status"] == "unreachable"})

    def changed(self, host=None):
        """``{host: {task names reported changed, handlers left out}}`` (or one host's set)."""
        found = {}
        for r in self.records:
            if r["status"] == "changed" and not r["handler"]:
                found.setdefault(r["host"], set()).add(r["task"])
        return found.get(host, set()) if host else found

    def handler_changes(self, host):
        """Tasks of handlers (and of what they included) reported changed on ``host``."""
        return {r["task"] for r in self.records if r["host"] == host and r["handler"] and r["status"] == "changed"}

    def handler_roles(self, host):
        """Roles whose handlers ran on ``host`` in any state (a notified handler, skipped in check mode)."""
        return {role_of(r["path"]) for r in self.records if r["host"] == host and r["handler"]}

    def handler_role_changes(self, host):
        """``{role: tasks}`` of the handler tasks reported changed on ``host``."""
        found = {}
        for r in self.records:
            if r["host"] == host and r["handler"] and r["status"] == "changed":
                found.setdefault(role_of(r["path"]), set()).add(r["task"])
        return found

    def total_changed(self):
        return sum(1 for r in self.records if r["status"] == "changed")


def role_of(path):
    """``roles/<role>/...`` -> role; the playbook file name otherwise."""
    parts = (path or "").split(os.sep)
    if "roles" in parts and parts.index("roles") + 1 < len(parts):
        return parts[parts.index("roles") + 1]
    return os.path.basename((path or "").split(":")[0])


class Farm(object):
    """The lab hosts, the inventory and the runner."""

    hosts = HOSTS
    workers = WORKERS

    def __init__(self, workdir):
        self.workdir = workdir
        self.password = "pc-" + secrets.token_urlsafe(18)
        self.rotated_password = "pc-rot-" + secrets.token_urlsafe(18)
        self.ad_password = ad_env()["QLAB_AD_USER_PASSWORD"]
        self.runs = []
        self.phase, self.rotated = "before", False  # what the last real run applied
        self.converged = False
        self.dc_provisioned = False
        self.joined_stamp = None
        self.dc_rejoins = 0
        self.started = time.time()

    # -- lab -----------------------------------------------------------------------------
    def create(self):
        names = [h.name for h in HOSTS]
        lab("destroy", *names, check=False)
        self.dc_provisioned = ensure_dc()
        for host in HOSTS:
            create_host(host)
        lab("start", *names)
        lab("install-standin", SUPERVISOR.name)
        with open(KEY + ".pub", encoding="utf-8") as handle:
            pubkey = handle.read()

        def prepare(host):
            proc = subprocess.run(["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                   "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                                   "root@" + host.address, PREPARE_WORKER], input=pubkey, capture_output=True,
                                  text=True, timeout=120, check=False)
            if proc.returncode != 0:
                raise RuntimeError("%s: prepare failed: %s" % (host.name, proc.stderr[-1000:]))
            install_probe(host)

        with ThreadPoolExecutor(max_workers=len(WORKERS)) as pool:
            list(pool.map(prepare, WORKERS))
        self.join_ad()

    def dc_stamp(self):
        """When dc1 was last provisioned (its CA file is rewritten by every `dc.sh provision`)."""
        return os.stat(DC_CA).st_mtime if os.path.exists(DC_CA) else None

    def join_ad(self):
        """Join pcad to dc1 (Administrator password on stdin, never argv)."""
        join = subprocess.run([os.path.join(REPO, "tests", "lab", "ad-join.sh"), AD.name],
                              input=ad_env()["QLAB_AD_ADMIN_PASSWORD"] + "\n", capture_output=True, text=True,
                              timeout=300, check=False, cwd=REPO)
        if join.returncode != 0:
            raise RuntimeError("ad-join.sh %s failed: %s" % (AD.name, join.stderr[-1500:]))
        self.joined_stamp = self.dc_stamp()

    def check_dc(self, before=True):
        """The shared dc1 is someone else's too: another session may re-provision it (a new domain).

        Before a sequence a re-provisioned dc1 is provisioned again if gone and pcad re-joined;
        after one it voids the sequence's AD results (raises).
        """
        if not before and self.dc_stamp() != self.joined_stamp:
            raise RuntimeError("dc1 was re-provisioned by another session during the runs; pcad's results are void")
        if before and (not dc_running() or self.dc_stamp() != self.joined_stamp):
            self.dc_provisioned = ensure_dc() or self.dc_provisioned
            self.join_ad()
            self.dc_rejoins += 1

    def destroy(self):
        lab("destroy", *[h.name for h in HOSTS], check=False)

    # -- inventory -----------------------------------------------------------------------
    def inventory(self, phase, rotated=False):
        """Write the inventory of ``phase`` (``before`` or ``after`` the flips); its path.

        ``rotated`` gives the local proxy account its new password (the rotation scenario).
        """
        common = {
            "ansible_user": "root", "ansible_ssh_private_key_file": KEY,
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                       "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=%s/%%C"
                                       % os.path.join(QLAB_DIR, "cp"),
            "qube_supervisor": SUPERVISOR.name,
            "qube_templates": {"pc_render": {"worker_groups": "pc,linux_render", "worker_cluster": "/pc"}},
        }
        workers = {
            "qube_worker_package_files": [os.path.join(QLAB_DIR, "packages", "qube-standin_8.0.0~standin1_all.deb")],
            "qube_worker_packages": ["qube-standin"], "qube_worker_templates": ["pc_render"],
            "qube_worker_cpus": 1, "qube_proxy_account": "qubeproxy",
            "qube_proxy_password": self.rotated_password if rotated else self.password,
            "qube_validation_paths": ["/srv/renders"], "qube_validation_timeout": 60,
            "qube_validation_command": [PROBE_DIR + "/probe", "validation"],
        }
        before = phase == "before"
        host_vars = {
            SERVICE.name: {"qube_worker_mode": "service"},
            DESKTOP.name: {"qube_worker_mode": "desktop", "qube_desktop_user": DESKTOP_USER},
            USERMODE.name: {"qube_worker_mode": "service", "qube_proxy_execution_mode": "user",
                            "qube_user_mode_users": [SUBMITTER]},
            TO_SERVICE.name: ({"qube_worker_mode": "desktop", "qube_desktop_user": DESKTOP_USER} if before
                              else {"qube_worker_mode": "service", "qube_desktop_user": DESKTOP_USER}),
            TO_DESKTOP.name: ({"qube_worker_mode": "service"} if before
                              else {"qube_worker_mode": "desktop", "qube_desktop_user": DESKTOP_USER}),
            AD.name: {"qube_worker_mode": "service", "qube_proxy_account": "renderproxy",
                      "qube_worker_host_domain": "MYCORP", "qube_proxy_password": self.ad_password,
                      "qube_ad_check": {"server": "dc1.mycorp.test", "realm": "MYCORP.TEST", "ca_file": DC_CA}},
        }
        hosts = {h.name: dict(ansible_host=h.address, **host_vars[h.name]) for h in WORKERS}
        inventory = {"all": {
            "vars": common,
            "hosts": {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
            "children": {
                "qube_supervisors": {"hosts": {SUPERVISOR.name: {"ansible_host": SUPERVISOR.address}}},
                "qube_workers": {"vars": workers, "hosts": hosts}}}}
        path = os.path.join(self.workdir, "inventory-%s%s.yml" % (phase, "-rotated" if rotated else ""))
        return write_private(path, yaml.safe_dump(inventory, default_flow_style=False, sort_keys=True))

    # -- runs ----------------------------------------------------------------------------
    def play(self, label, playbook, inventory, check=False, limit=None, timeout=900, extra_args=()):
        """Run ``playbook`` (repository path) and return its :class:`Run` (also kept in ``runs``)."""
        record = os.path.join(self.workdir, "record-%s.jsonl" % label)
        report_dir = os.path.join(self.workdir, "reports", label)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_CALLBACK_PLUGINS=os.path.join(HERE, "callback"),
                   ANSIBLE_CALLBACKS_ENABLED="renderfarm.qube.qube_report,parity_record",
                   PARITY_RECORD_FILE=record, QUBE_REPORT_DIR=report_dir, QLAB_DIR=QLAB_DIR,
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.workdir, "ansible-tmp"),
                   # ansible.cfg caches facts for a day; these hosts are new each session, so
                   # their cache starts empty (a stale entry of an earlier farm would be used).
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(self.workdir, "facts"))
        argv = [PLAYBOOK_BIN, "-i", inventory, os.path.join(REPO, playbook), "-e", "qube_serial=100%"]
        argv += (["--check"] if check else []) + (["--limit", limit] if limit else []) + list(extra_args)
        started = time.time()
        proc = subprocess.run(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout, check=False)
        records = []
        if os.path.exists(record):
            with open(record, encoding="utf-8") as handle:
                records = [json.loads(line) for line in handle if line.strip()]
        with open(os.path.join(self.workdir, "output-%s.txt" % label), "w", encoding="utf-8") as handle:
            handle.write(proc.stdout)
        run = Run(label, argv, proc.returncode, proc.stdout, records, round(time.time() - started, 1), report_dir)
        self.runs.append(run)
        for secret in (self.password, self.rotated_password, self.ad_password):
            assert secret not in proc.stdout, "%s: a test password appeared in the output" % label
        return run

    def converge(self):
        """One real site.yml run (for the least-privilege test run on its own)."""
        if not self.converged:
            run = self.play("converge", SITE, self.inventory("before"))
            assert run.returncode == 0, run.output[-6000:]
            self.converged = True

    def current_inventory(self):
        """The inventory of the state the farm was last converged to."""
        return self.inventory(self.phase, rotated=self.rotated)

    def mode(self, host):
        """``service`` or ``desktop``: the mode ``host`` is in now."""
        if host is DESKTOP or (host is TO_SERVICE and self.phase == "before") or \
                (host is TO_DESKTOP and self.phase != "before"):
            return "desktop"
        return "service"

    def job_identity(self, host):
        """The account jobs (and the validation job) run as on ``host`` now."""
        if self.mode(host) == "desktop":
            return DESKTOP_USER
        if host is USERMODE:
            return SUBMITTER
        if host is AD:
            return "MYCORP\\renderproxy"
        return "qubeproxy"


def install_probe(host):
    """Copy the probe (run as the job identity) and its root-side watcher onto ``host``."""
    for name, mode in (("probe.sh", "0755"), ("watch.py", "0700")):
        with open(os.path.join(HERE, "files", name), encoding="utf-8") as handle:
            text = handle.read()
        target = "%s/%s" % (PROBE_DIR, os.path.splitext(name)[0] if name == "probe.sh" else name)
        proc = subprocess.run(["ssh", "-i", KEY, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "root@" + host.address,
                               "install -d -m 0755 %s && install -m %s /dev/stdin %s" % (PROBE_DIR, mode, target)],
                              input=text, capture_output=True, text=True, timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError("%s: probe install failed: %s" % (host.name, proc.stderr[-1000:]))


_FARM = {}


def shared_farm(request):
    """The session's one farm (both test files use it); created on first use, destroyed at the end.

    Set QUBE_PARITY_KEEP=1 to keep the hosts and the work folder.
    """
    if "error" in _FARM:  # the farm could not be built: every test reports that, none rebuilds it
        raise RuntimeError("the parity farm could not be built: %s" % _FARM["error"])
    if "farm" not in _FARM:
        workdir = tempfile.mkdtemp(prefix="qube-parity-")
        os.chmod(workdir, 0o700)
        farm = Farm(workdir)

        def finish():
            if os.environ.get("QUBE_PARITY_KEEP") != "1":
                farm.destroy()
                shutil.rmtree(workdir, ignore_errors=True)
        request.addfinalizer(finish)
        try:
            farm.create()
        except Exception as err:
            _FARM["error"] = "%s: %s" % (type(err).__name__, err)
            finish()
            raise
        _FARM["farm"] = farm
    return _FARM["farm"]

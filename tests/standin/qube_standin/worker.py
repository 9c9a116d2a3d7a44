"""STAND-IN worker daemon (not PipelineFX Qube!): /usr/local/pfx/qube/sbin/worker.

Effective config = built-in defaults, then the sources in ``worker_lookup`` order
(default ``local,supervisor``; later wins). Bootstrap keys come from the local qb.conf
only. Running as root means service mode; as a normal user, Desktop User mode.
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import sys
import threading
import time

from . import BANNER, jobexec
from .env import host_path, hostname, read_qb_conf, supervisor_address, worker_port
from .qbwrk import BOOTSTRAP_KEYS
from .wire import JsonServer, WireError, request

LOG = logging.getLogger("worker")
HEARTBEAT = float(os.environ.get("QB_STANDIN_HEARTBEAT", "10"))
DEFAULTS = {
    "proxy_execution_mode": "proxy", "proxy_account": "qubeproxy", "worker_cpus": "0",
    "worker_logfile": "/var/log/workerlog", "worker_logpath": "/var/spool/qube",
    "worker_lookup": "local,supervisor", "worker_port": "50011", "worker_cluster": "/",
    "worker_flags": "remove_logs", "qb_domain": "qube", "worker_logmode": "remote",
}


class Panic(RuntimeError):
    """A boot diagnostic failed: the worker cannot run jobs."""


class Worker:
    """Config, registration, job execution and the request handlers of one worker."""

    def __init__(self) -> None:
        self.name = hostname()
        self.service_mode = os.geteuid() == 0
        self.owner = pwd.getpwuid(os.geteuid()).pw_name
        self.local = read_qb_conf()
        self.central: dict[str, str] = {}
        self.config = self.effective()
        self.state = "active"
        self.lock = threading.Lock()
        self.running: dict[int, object] = {}
        self.reports: dict[int, dict] = {}
        self.killed: set[int] = set()

    # ---- configuration ---------------------------------------------------------------

    def effective(self) -> dict[str, str]:
        """Merge defaults, local and central config per ``worker_lookup``."""
        config = dict(DEFAULTS)
        sources = {"local": self.local,
                   "supervisor": {k: v for k, v in self.central.items() if k not in BOOTSTRAP_KEYS}}
        for source in self.local.get("worker_lookup", DEFAULTS["worker_lookup"]).split(","):
            config.update(sources.get(source.strip(), {}))
        config.update({k: v for k, v in self.local.items() if k in BOOTSTRAP_KEYS})
        return config

    def uses_supervisor(self) -> bool:
        return "supervisor" in self.local.get("worker_lookup", DEFAULTS["worker_lookup"])

    def fetch_central(self) -> None:
        """Ask the supervisor for this worker's central config (raises WireError)."""
        answer = request(*supervisor_address(self.local), {"op": "get_config", "name": self.name, "os": "linux"})
        if not answer.get("ok"):
            raise WireError(answer.get("error", "supervisor refused the config request"))
        self.central = answer["config"]
        self.config = self.effective()
        self.write_effective()
        LOG.info("received central config (%d keys) from the supervisor", len(self.central))

    def write_effective(self) -> None:
        """Write the effective config, sorted ``key = value`` lines, mode 0600."""
        path = os.path.join(self.logpath(), "worker_effective.conf")
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"# {BANNER}: effective worker config\n")
            handle.writelines(f"{k} = {v}\n" for k, v in sorted(self.config.items()))
        os.replace(path + ".tmp", path)

    def logpath(self) -> str:
        """Job log spool; a Desktop User worker falls back to ~/.qube-standin/spool."""
        path = host_path(self.config["worker_logpath"])
        try:
            os.makedirs(path, exist_ok=True)
            if os.access(path, os.W_OK) or self.service_mode:
                return path
        except PermissionError:
            if self.service_mode:
                raise
        path = os.path.expanduser("~/.qube-standin/spool")
        os.makedirs(path, exist_ok=True)
        return path

    def slots(self) -> int:
        return int(self.config.get("worker_cpus") or 0) or os.cpu_count() or 1

    def diagnose(self) -> None:
        """Boot diagnostics: job log path writable, proxy account resolvable (proxy mode)."""
        if not os.access(self.logpath(), os.W_OK):
            raise Panic(f"worker_logpath {self.logpath()} is not writable")
        if self.service_mode and self.config.get("proxy_execution_mode", "proxy") == "proxy":
            name = jobexec.proxy_account_name(self.config)
            try:
                pwd.getpwnam(name)
            except KeyError:
                raise Panic(f"proxy account {name!r} does not exist (proxy_account/worker_host_domain)") from None

    # ---- supervisor link ---------------------------------------------------------------

    def register(self) -> None:
        with self.lock:
            running, reporting = list(self.running), list(self.reports)
        request(*supervisor_address(self.local), {
            "op": "register", "name": self.name, "os": "linux", "port": worker_port(self.local),
            "worker_mode": "service" if self.service_mode else "desktop", "owner": self.owner,
            "proxy_mode": self.config.get("proxy_execution_mode", "proxy"), "slots": self.slots(),
            "state": self.state, "running": running, "reporting": reporting})

    def flush_reports(self) -> None:
        for job_id, report in list(self.reports.items()):
            request(*supervisor_address(self.local), report)
            with self.lock:
                self.reports.pop(job_id, None)

    def heartbeat(self) -> None:
        """Re-register and deliver finished-job reports; survives a missing supervisor."""
        while True:
            time.sleep(HEARTBEAT if not self.reports else 1)
            try:
                self.flush_reports()
                self.register()
            except WireError as error:
                LOG.warning("supervisor unreachable (%s); jobs keep running", error)

    # ---- jobs ------------------------------------------------------------------------

    def run_job(self, job: dict) -> None:
        report = {"op": "job_done", "id": job["id"], "stdout": "", "stderr": "", "exitcode": None}
        try:
            account = jobexec.job_account(self.config, job["user"], self.service_mode)
            out, err = jobexec.job_log_paths(self.logpath(), job["id"])
            process = jobexec.start(job["command"], account, out, err, self.service_mode)
            LOG.info("job %s started as %s (pid %d)", job["id"], account.pw_name, process.pid)
            with self.lock:
                self.running[job["id"]] = process
            code = process.wait()
            status = "complete" if code == 0 else ("killed" if job["id"] in self.killed else "failed")
            with open(out, errors="replace") as o, open(err, errors="replace") as e:
                report.update(stdout=o.read(), stderr=e.read())
            report.update(status=status, exitcode=code)
        except jobexec.IdentityError as error:
            report.update(status="badlogin", message=str(error))
        except OSError as error:
            report.update(status="failed", message=f"could not start job: {error}")
        LOG.info("job %s finished: %s %s", job["id"], report["status"], report.get("message", ""))
        with self.lock:
            self.running.pop(job["id"], None)
            self.reports[job["id"]] = report
        try:
            self.flush_reports()
        except WireError as error:
            LOG.warning("job %s report queued, supervisor unreachable: %s", job["id"], error)

    # ---- request handlers --------------------------------------------------------------

    def dispatch(self, message: dict, peer: str) -> dict:
        op = message.get("op")
        if op == "run":
            if self.state != "active":
                return {"ok": False, "error": f"worker is in state {self.state}"}
            with self.lock:
                if len(self.running) >= self.slots():
                    return {"ok": False, "error": "no free slot"}
                self.running[message["job"]["id"]] = None
            threading.Thread(target=self.run_job, args=(message["job"],), daemon=True).start()
            return {"ok": True}
        if op == "kill":
            return self.kill(message["ids"])
        if op == "config":
            return {"ok": True, "config": self.config, "name": self.name}
        if op == "reconfigure":
            return self.reconfigure()
        return {"ok": False, "error": f"unknown op {op!r}"}

    def kill(self, ids: list[int]) -> dict:
        with self.lock:
            for job_id in ids:
                process = self.running.get(job_id)
                if process is not None:
                    self.killed.add(job_id)
                    os.killpg(process.pid, signal.SIGKILL)
        return {"ok": True}

    def reconfigure(self) -> dict:
        self.local = read_qb_conf()
        if self.uses_supervisor():
            self.fetch_central()
        else:
            self.config = self.effective()
            self.write_effective()
        try:
            self.diagnose()
            self.state = "active"
        except Panic as error:
            LOG.error("panic: %s", error)
            self.state = "panic"
        self.register()
        return {"ok": True, "state": self.state}


def setup_logging(config: dict[str, str], service_mode: bool) -> None:
    path = host_path(config["worker_logfile"])
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "a").close()
    except OSError:
        if service_mode:
            raise
        path = os.path.expanduser("~/.qube-standin/workerlog")
        os.makedirs(os.path.dirname(path), exist_ok=True)
    logging.basicConfig(filename=path, level=logging.INFO,
                        format="%(asctime)s worker[%(process)d]: %(message)s")


def main() -> int:
    """Run the worker in the foreground; exit 1 on a boot panic."""
    worker = Worker()
    setup_logging(worker.config, worker.service_mode)
    mode = "service" if worker.service_mode else f"desktop user ({worker.owner})"
    LOG.info("%s: worker %s starting in %s mode", BANNER, worker.name, mode)
    port = worker_port(worker.local)
    server = JsonServer((worker.local.get("worker_address", "0.0.0.0"), port), worker.dispatch)
    while worker.uses_supervisor():
        try:
            worker.fetch_central()
            break
        except WireError as error:
            LOG.warning("supervisor not reachable yet (%s); retrying", error)
            time.sleep(2)
    worker.write_effective()
    try:
        worker.diagnose()
    except Panic as error:
        LOG.error("panic: %s", error)
        print(f"worker: panic: {error}", file=sys.stderr)
        return 1
    while True:
        try:
            worker.register()
            break
        except WireError as error:
            LOG.warning("registration failed (%s); retrying", error)
            time.sleep(2)
    LOG.info("registered with the supervisor; listening on port %d", port)

    def stop(signum, frame):
        try:
            request(*supervisor_address(worker.local), {"op": "goodbye", "name": worker.name}, timeout=3)
        except WireError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=worker.heartbeat, daemon=True).start()
    server.serve_forever()
    return 0

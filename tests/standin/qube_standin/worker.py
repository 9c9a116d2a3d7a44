"""STAND-IN worker daemon (not PipelineFX Qube!): /usr/local/pfx/qube/sbin/worker.

Effective config = built-in defaults, then the sources in ``worker_lookup`` order
(default ``local,supervisor``; later wins). Bootstrap keys come from the local qb.conf
only. Running as root means service mode; as a normal user, Desktop User mode.

Boot diagnostics (CPR worker_boot_diagnostics_retries.md): ``worker_logpath`` writable, the
proxy program at ``proxy_location`` (service mode), the ``proxy_account`` (service + proxy
mode), and, where the docs are silent, ``worker_logfile`` and the folder of
``worker_journal_location`` writable. Failed checks are retried
``worker_boot_diagnostics_retries`` times, ``worker_boot_diagnostics_retry_interval`` seconds
apart; then the worker goes into the "panic" state: it stays up and registered as ``panic``,
accepts no job, and writes one ``panic: <reason>`` line to its workerlog (to stderr, i.e. the
systemd journal, when the workerlog cannot be written).
"""

from __future__ import annotations

import logging
import os
import pwd
import signal
import sys
import tempfile
import threading
import time

from . import BANNER, jobexec
from .env import host_path, hostname, read_qb_conf, supervisor_address, worker_port
from .qbwrk import BOOTSTRAP_KEYS
from .wire import JsonServer, WireError, request

LOG = logging.getLogger("worker")
LOG_FORMAT = "%(asctime)s worker[%(process)d]: %(message)s"
HEARTBEAT = float(os.environ.get("QB_STANDIN_HEARTBEAT", "10"))
DEFAULTS = {
    "proxy_execution_mode": "proxy", "proxy_account": "qubeproxy", "worker_cpus": "0",
    "worker_logfile": "/var/log/workerlog", "worker_logpath": "/var/spool/qube",
    "worker_journal_location": "/var/spool/qube/worker.jnl", "qb_directory": "/usr/local/pfx/qube",
    "worker_boot_diagnostics_retries": "1", "worker_boot_diagnostics_retry_interval": "30",
    "worker_lookup": "local,supervisor", "worker_port": "50011", "worker_cluster": "/",
    "worker_flags": "remove_logs", "qb_domain": "qube", "worker_logmode": "remote",
}


class Refused(WireError):
    """The supervisor answered but refused the request (e.g. supervisor_host_policy)."""


def _writable_folder(path: str) -> str:
    """'' when a file can be created in ``path``, else the reason."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".qube-standin-probe", dir=path)
        os.close(fd)
        os.unlink(probe)
        return ""
    except OSError as error:
        return error.strerror or str(error)


class Worker:
    """Config, registration, job execution and the request handlers of one worker."""

    def __init__(self) -> None:
        self.name = hostname()
        self.service_mode = os.geteuid() == 0
        self.owner = pwd.getpwuid(os.geteuid()).pw_name
        self.local = read_qb_conf()
        self.central: dict[str, str] = {}
        self.config = self.effective()
        self.state = "starting"
        self.lock = threading.Lock()
        self.running: dict[int, object] = {}
        self.reports: dict[int, dict] = {}
        self.killed: set[int] = set()
        self.last_refusal = ""
        self.log_target = ""

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
        """Ask the supervisor for this worker's central config (raises WireError/Refused)."""
        answer = request(*supervisor_address(self.local), {"op": "get_config", "name": self.name, "os": "linux"})
        if not answer.get("ok"):
            raise Refused(answer.get("error", "supervisor refused the config request"))
        self.central = answer["config"]
        self.config = self.effective()
        LOG.info("received central config (%d keys) from the supervisor", len(self.central))

    def open_log(self) -> None:
        """Send the log to ``worker_logfile``; to stderr while that file cannot be written."""
        path = host_path(self.config["worker_logfile"])
        try:
            handler: logging.Handler = logging.FileHandler(path, mode="a", encoding="utf-8")
            target = path
        except OSError:
            handler, target = logging.StreamHandler(sys.stderr), "stderr"
        if target == self.log_target:
            handler.close()
            return
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
            old.close()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        self.log_target = target

    def write_effective(self) -> None:
        """Write the effective config, sorted ``key = value`` lines, mode 0600 (when the spool is writable)."""
        path = os.path.join(self.logpath(), "worker_effective.conf")
        try:
            fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"# {BANNER}: effective worker config\n")
                handle.writelines(f"{k} = {v}\n" for k, v in sorted(self.config.items()))
            os.replace(path + ".tmp", path)
        except OSError as error:
            LOG.warning("effective config not written to %s: %s", path, error.strerror or error)

    def logpath(self) -> str:
        """The job log spool (``worker_logpath``), never anything else."""
        return host_path(self.config["worker_logpath"])

    def proxy_location(self) -> str:
        """``proxy_location`` or ``$QBDIR/sbin/proxy`` (CPR proxy_location.md)."""
        default = os.path.join(self.config.get("qb_directory") or DEFAULTS["qb_directory"], "sbin", "proxy")
        return host_path(self.config.get("proxy_location") or default)

    def slots(self) -> int:
        return int(self.config.get("worker_cpus") or 0) or os.cpu_count() or 1

    def _number(self, key: str) -> int:
        try:
            return max(0, int(self.config.get(key, DEFAULTS[key])))
        except ValueError:
            LOG.warning("%s = %r is not a whole number; using %s", key, self.config.get(key), DEFAULTS[key])
            return int(DEFAULTS[key])

    def diagnose(self) -> list[str]:
        """Run the boot diagnostics once; return the problems found (empty = healthy)."""
        problems = []
        logpath = self.logpath()
        try:
            os.makedirs(logpath, exist_ok=True)
            reason = _writable_folder(logpath)
        except OSError as error:
            reason = error.strerror or str(error)
        if reason:
            problems.append(f"worker_logpath {logpath} is not writable by {self.owner} ({reason})")
        logfile = host_path(self.config["worker_logfile"])
        try:
            open(logfile, "a").close()
        except OSError as error:
            problems.append(f"worker_logfile {logfile} cannot be written by {self.owner} ({error.strerror or error})")
        journal = host_path(self.config["worker_journal_location"])
        reason = _writable_folder(os.path.dirname(journal) or ".")
        if reason:
            problems.append(f"worker_journal_location {journal}: its folder is not writable by {self.owner} ({reason})")
        if self.service_mode:
            proxy = self.proxy_location()
            if not (os.path.isfile(proxy) and os.access(proxy, os.X_OK)):
                problems.append(f"proxy_location {proxy} is not an executable program")
            if self.config.get("proxy_execution_mode", "proxy") == "proxy":
                name = jobexec.proxy_account_name(self.config)
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    problems.append(f"proxy account {name!r} does not exist (proxy_account/worker_host_domain)")
        return problems

    def boot_diagnostics(self, retries: int | None = None) -> None:
        """Diagnose, retrying as configured; set the state to ``active`` or ``panic``."""
        retries = self._number("worker_boot_diagnostics_retries") if retries is None else retries
        interval = self._number("worker_boot_diagnostics_retry_interval")
        for attempt in range(retries + 1):
            problems = self.diagnose()
            if not problems:
                self.state = "active"
                self.write_effective()
                return
            if attempt < retries:
                LOG.warning("boot diagnostics failed (attempt %d of %d): %s; retrying in %d s",
                            attempt + 1, retries + 1, "; ".join(problems), interval)
                time.sleep(interval)
        self.state = "panic"
        LOG.error("panic: %s", "; ".join(problems))

    # ---- supervisor link ---------------------------------------------------------------

    def register(self) -> None:
        """Tell the supervisor who and how this worker is (raises WireError/Refused)."""
        with self.lock:
            running, reporting = list(self.running), list(self.reports)
        answer = request(*supervisor_address(self.local), {
            "op": "register", "name": self.name, "os": "linux", "port": worker_port(self.local),
            "worker_mode": "service" if self.service_mode else "desktop", "owner": self.owner,
            "proxy_mode": self.config.get("proxy_execution_mode", "proxy"), "slots": self.slots(),
            "state": self.state, "running": running, "reporting": reporting})
        if not answer.get("ok"):
            raise Refused(answer.get("error", "registration refused"))
        self.last_refusal = ""

    def refused(self, error: Refused) -> None:
        """Log a refusal by the supervisor once (not on every retry)."""
        if str(error) != self.last_refusal:
            LOG.error("the supervisor refused this worker: %s", error)
            self.last_refusal = str(error)

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
            except Refused as error:
                self.refused(error)
            except WireError as error:
                LOG.warning("supervisor unreachable (%s); jobs keep running", error)

    # ---- jobs ------------------------------------------------------------------------

    def run_job(self, job: dict) -> None:
        report = {"op": "job_done", "id": job["id"], "stdout": "", "stderr": "", "exitcode": None}
        try:
            account = jobexec.job_account(self.config, job["user"], self.service_mode)
            out, err = jobexec.job_log_paths(self.logpath(), job["id"])
            process = jobexec.start(job["command"], account, out, err, self.service_mode, self.proxy_location())
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
        """``qbadmin w --reconfigure``: fetch the central config again, re-run the diagnostics once.

        The local qb.conf is NOT re-read: the vendor applies a qb.conf change with a worker restart
        and a qbwrk.conf change with a reconfigure (KB "How do I set my own shared directory for job
        types"), so a change that forgets the restart must not pass here.
        """
        try:
            if self.uses_supervisor():
                self.fetch_central()
            else:
                self.config = self.effective()
            self.open_log()
            self.boot_diagnostics(retries=0)
            self.register()
        except Refused as error:
            self.refused(error)
            return {"ok": False, "error": str(error)}
        except (WireError, ValueError) as error:
            return {"ok": False, "error": str(error)}
        except SystemExit as error:  # qb_supervisor gone from qb.conf
            return {"ok": False, "error": str(error)}
        return {"ok": True, "state": self.state}


def main() -> int:
    """Run the worker in the foreground; it stays up (``panic`` state) when its diagnostics fail."""
    worker = Worker()
    worker.open_log()
    mode = "service" if worker.service_mode else f"desktop user ({worker.owner})"
    LOG.info("%s: worker %s starting in %s mode", BANNER, worker.name, mode)
    port = worker_port(worker.local)
    server = JsonServer((worker.local.get("worker_address", "0.0.0.0"), port), worker.dispatch)
    while worker.uses_supervisor():
        try:
            worker.fetch_central()
            break
        except Refused as error:
            worker.refused(error)
        except WireError as error:
            LOG.warning("supervisor not reachable yet (%s); retrying", error)
        time.sleep(2)
    worker.open_log()
    worker.boot_diagnostics()
    while True:
        try:
            worker.register()
            break
        except Refused as error:
            worker.refused(error)
        except WireError as error:
            LOG.warning("registration failed (%s); retrying", error)
        time.sleep(2)
    LOG.info("registered with the supervisor in state %s; listening on port %d", worker.state, port)

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

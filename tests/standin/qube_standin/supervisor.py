"""STAND-IN supervisor daemon (not PipelineFX Qube!).

Listens on 0.0.0.0:50001 (JSON lines, see wire.py), reads its own qb.conf for
``supervisor_worker_configfile`` (default /etc/qbwrk.conf), ``supervisor_host_policy``,
``supervisor_flags`` and ``supervisor_job_flags``, serves each worker its central config,
keeps the worker registry, stores jobs, dispatches them and honours locks.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time

from . import BANNER, flags, qbwrk, secret
from .confsyntax import ConfigSyntaxError
from .env import host_path, read_qb_conf, supervisor_port
from .store import TERMINAL, Store
from .wire import JsonServer, WireError, request

LOG = logging.getLogger("supervisor")
HEARTBEAT_GRACE = float(os.environ.get("QB_STANDIN_HEARTBEAT", "10")) * 3
WORKER_CONFIGFILE = "/etc/qbwrk.conf"


class Supervisor:
    """The supervisor's state and request handlers (``op_<name>`` methods)."""

    def __init__(self) -> None:
        self.store = Store()
        self.central: qbwrk.QbwrkConfig | None = None
        self.central_error = ""
        self.central_path = WORKER_CONFIGFILE
        self.policy = "open"
        self.supervisor_flags: list[str] = []
        self.job_flags: list[str] = []
        self.addresses: set[str] | None = None
        self.refusals: set[tuple[str, str]] = set()
        error = self.apply_qb_conf()
        if error:
            raise SystemExit(f"supervisor: {error}")
        self.load_central()

    # ---- configuration ---------------------------------------------------------------

    def apply_qb_conf(self) -> str:
        """Read the supervisor's qb.conf; '' or the error (then nothing of it is applied)."""
        try:
            conf = read_qb_conf()
            flags.check_conf(conf)
            policy = flags.host_policy(flags.setting(conf, "supervisor_host_policy"))
            supervisor_flags = flags.parse_list("supervisor_flags", flags.setting(conf, "supervisor_flags"),
                                                flags.SUPERVISOR_FLAGS)
            job_flags = flags.job_flags("supervisor_job_flags", flags.setting(conf, "supervisor_job_flags"))
        except (ConfigSyntaxError, flags.FlagError, OSError) as error:
            LOG.error("qb.conf not applied: %s", error)
            return str(error)
        self.policy, self.supervisor_flags, self.job_flags = policy, supervisor_flags, job_flags
        self.central_path = conf.get("supervisor_worker_configfile", WORKER_CONFIGFILE)
        return ""

    def load_central(self) -> str:
        """Load ``supervisor_worker_configfile``; keep the old central config on error."""
        path = host_path(self.central_path)
        try:
            self.central = qbwrk.load(path)
            self.central_error = ""
            LOG.info("loaded central worker config %s", path)
        except FileNotFoundError:
            self.central, self.central_error = None, ""
            LOG.info("no central worker config at %s", path)
        except (ConfigSyntaxError, OSError, ValueError) as error:
            self.central_error = str(error)
            LOG.error("central worker config not loaded: %s", error)
        self.addresses, self.refusals = None, set()
        return self.central_error

    def reread(self) -> str:
        """Re-read qb.conf, then the worker config file it names."""
        return self.apply_qb_conf() or self.load_central()

    def central_for(self, name: str, os_name: str) -> dict[str, str]:
        return self.central.host_config(name, os_name) if self.central else {}

    # ---- supervisor_host_policy ------------------------------------------------------

    def _host_sections(self) -> list[qbwrk.Section]:
        """Sections that name workers (not templates, not [default]/[linux]/...)."""
        if self.central is None:
            return []
        return [s for s in self.central.sections
                if s.name not in qbwrk.SPECIAL_SECTIONS and s.name not in self.central.used_as_template]

    def _named_addresses(self) -> set[str]:
        """IP addresses of the host names in the worker config file (non_existent ones skipped)."""
        if self.addresses is None:
            skip = []
            if self.central is not None:
                names = self.central.global_config.get("non_existent", "")
                skip = [qbwrk.HostPattern.parse(n.strip()) for n in names.split(",") if n.strip()]
            self.addresses = set()
            for section in self._host_sections():
                for host in section.pattern.hosts():
                    if any(p.matches(host) for p in skip):
                        continue
                    try:
                        self.addresses.update(socket.gethostbyname_ex(host)[2])
                    except OSError:
                        pass
        return self.addresses

    def admission(self, name: str, peer: str) -> str:
        """'' when ``supervisor_host_policy`` lets the worker join, else why not."""
        if self.policy == "open":
            return ""
        by_name = any(s.pattern.matches(name) for s in self._host_sections())
        if self.policy == "restrictedbyname" and by_name:
            return ""
        by_address = peer in self._named_addresses() if self.policy != "restrictedbyname" else False
        if by_address or (self.policy == "restricted" and by_name):
            return ""
        what = {"restricted": f"neither its name {name!r} nor its address {peer}",
                "restrictedbyname": f"its name {name!r}",
                "restrictedbyaddress": f"its address {peer}"}[self.policy]
        return (f"worker {name} refused: supervisor_host_policy = {self.policy} and {what} "
                f"is not in {self.central_path}")

    def _refuse(self, name: str, peer: str, reason: str) -> dict:
        with self.store.lock:
            if self.store.workers.pop(name, None) is not None:
                self.store.save_workers()
        if (name, peer) not in self.refusals:
            self.refusals.add((name, peer))
            LOG.warning("%s", reason)
        return {"ok": False, "error": reason}

    # ---- dispatch --------------------------------------------------------------------

    def dispatch(self, message: dict, peer: str) -> dict:
        handler = getattr(self, f"op_{message.get('op', '')}", None)
        if handler is None:
            return {"ok": False, "error": f"unknown op {message.get('op')!r}"}
        return handler(message, peer)

    # ---- worker-facing ops -----------------------------------------------------------

    def op_register(self, msg: dict, peer: str) -> dict:
        refusal = self.admission(msg["name"], peer)
        if refusal:
            return self._refuse(msg["name"], peer, refusal)
        with self.store.lock:
            old = self.store.workers.get(msg["name"], {})
            worker = {k: msg.get(k) for k in ("name", "os", "port", "worker_mode", "owner", "proxy_mode", "slots")}
            worker.update(address=peer, state=msg.get("state", "active"), locked=old.get("locked", False),
                          last_seen=time.time())
            self.store.workers[msg["name"]] = worker
            self.store.save_workers()
            self._reconcile(msg["name"], set(msg.get("running", [])) | set(msg.get("reporting", [])))
        if not old or old.get("state") != worker["state"]:
            LOG.info("worker %s registered from %s (%s, %s)", msg["name"], peer, worker["worker_mode"], worker["state"])
        return {"ok": True}

    def _reconcile(self, name: str, alive: set[int]) -> None:
        """Fail jobs this worker was running but no longer knows about (it restarted)."""
        for job in list(self.store.jobs.values()):
            if job["status"] == "running" and job["host"] == name and job["id"] not in alive \
                    and time.time() - job.get("started", 0) > 5:
                job.update(status="failed", message="worker lost the job (worker restarted)")
                self.store.save_job(job)

    def op_goodbye(self, msg: dict, peer: str) -> dict:
        with self.store.lock:
            if msg["name"] in self.store.workers:
                self.store.workers[msg["name"]]["state"] = "down"
                self.store.save_workers()
        return {"ok": True}

    def op_get_config(self, msg: dict, peer: str) -> dict:
        refusal = self.admission(msg["name"], peer)
        if refusal:
            return self._refuse(msg["name"], peer, refusal)
        return {"ok": True, "config": self.central_for(msg["name"], msg.get("os", "linux"))}

    def op_job_done(self, msg: dict, peer: str) -> dict:
        with self.store.lock:
            job = self.store.jobs.get(msg["id"])
            if job and job["status"] not in TERMINAL:
                job.update({k: msg.get(k) for k in ("status", "exitcode", "stdout", "stderr", "message")})
                job["finished"] = time.time()
                self.store.save_job(job)
        return {"ok": True}

    # ---- client-facing ops -----------------------------------------------------------

    def op_submit(self, msg: dict, peer: str) -> dict:
        """Store a job; ``supervisor_job_flags`` added unless it has ``no_defaults``."""
        try:
            wanted = flags.job_flags("flags", ",".join(msg.get("flags") or []))
        except flags.FlagError as error:
            return {"ok": False, "error": str(error)}
        if "enforce_password" in self.supervisor_flags and not self._has_password(msg["user"]):
            return {"ok": False, "error": f"user {msg['user']!r} has no password registered with qblogin "
                                          "and supervisor_flags includes enforce_password"}
        if "no_defaults" not in wanted:
            wanted = [f for f in flags.JOB_FLAGS if f in wanted or f in self.job_flags]
        fields = {k: msg.get(k) for k in ("name", "user", "command", "hosts")}
        fields.update(flags=wanted, priority=9999 if msg.get("priority") is None else msg["priority"], submitted=time.time())
        job = self.store.new_job(fields)
        LOG.info("job %s submitted by %s", job["id"], job["user"])
        return {"ok": True, "id": job["id"]}

    def _has_password(self, user: str) -> bool:
        """A qblogin registration for ``user`` (bare or ``DOMAIN\\user``)."""
        return any(account == user or account.endswith("\\" + user) for account in self.store.passwords())

    def op_jobs(self, msg: dict, peer: str) -> dict:
        ids = set(msg.get("ids") or [])
        with self.store.lock:
            jobs = [j for jid, j in sorted(self.store.jobs.items()) if not ids or jid in ids]
        return {"ok": True, "jobs": jobs}

    def op_hosts(self, msg: dict, peer: str) -> dict:
        names = set(msg.get("names") or [])
        with self.store.lock:
            self._expire()
            hosts = []
            for name, worker in sorted(self.store.workers.items()):
                if names and name not in names:
                    continue
                running = [j["id"] for j in self.store.jobs.values() if j["status"] == "running" and j["host"] == name]
                hosts.append(dict(worker, running=running))
        return {"ok": True, "hosts": hosts}

    def _expire(self) -> None:
        for worker in self.store.workers.values():
            if worker["state"] != "down" and time.time() - worker.get("last_seen", 0) > HEARTBEAT_GRACE:
                worker["state"] = "down"

    def _unknown(self, names: list[str]) -> list[str]:
        return [n for n in names if n not in self.store.workers]

    def op_lock(self, msg: dict, peer: str) -> dict:
        unknown = self._unknown(msg["hosts"])
        if unknown:
            return {"ok": False, "error": f"unknown worker(s): {', '.join(unknown)}"}
        with self.store.lock:
            for name in msg["hosts"]:
                self.store.workers[name]["locked"] = msg.get("lock", True)
            self.store.save_workers()
        if msg.get("lock", True) and msg.get("purge"):
            for name in msg["hosts"]:
                self._purge(name)
        return {"ok": True}

    def _purge(self, name: str) -> None:
        worker = self.store.workers[name]
        ids = [j["id"] for j in self.store.jobs.values() if j["status"] == "running" and j["host"] == name]
        if ids:
            try:
                request(worker["address"], worker["port"], {"op": "kill", "ids": ids})
            except WireError as error:
                LOG.warning("purge on %s failed: %s", name, error)

    def op_reread(self, msg: dict, peer: str) -> dict:
        error = self.reread()
        return {"ok": not error, "error": error}

    def op_reconfigure(self, msg: dict, peer: str) -> dict:
        error = self.reread()
        if error:
            return {"ok": False, "error": error}
        targets = msg.get("hosts") or sorted(self.store.workers)
        results = {}
        for name in targets:
            worker = self.store.workers.get(name)
            if worker is None:
                results[name] = "unknown worker"
            elif worker["state"] == "down":
                results[name] = "down (will fetch its config when it starts)"
            else:
                try:
                    answer = request(worker["address"], worker["port"], {"op": "reconfigure"}, timeout=15)
                    results[name] = "reconfigured" if answer.get("ok") else f"failed: {answer.get('error')}"
                except WireError as error:
                    results[name] = f"no answer: {error}"
        return {"ok": True, "results": results}

    def op_worker_config(self, msg: dict, peer: str) -> dict:
        worker = self.store.workers.get(msg["host"])
        if worker is None:
            return {"ok": False, "error": f"unknown worker {msg['host']!r}"}
        try:
            answer = request(worker["address"], worker["port"], {"op": "config"}, timeout=10)
        except WireError as error:
            return {"ok": False, "error": f"worker {msg['host']!r} is down ({error})"}
        return answer

    def op_set_password(self, msg: dict, peer: str) -> dict:
        secret.decrypt(msg["token"])  # refuse garbage
        self.store.set_password(msg["account"], msg["token"])
        LOG.info("password registered for %s", msg["account"])
        return {"ok": True}

    def op_check_password(self, msg: dict, peer: str) -> dict:
        stored = self.store.passwords().get(msg["account"])
        if stored is None:
            return {"ok": True, "match": False, "error": "no password registered"}
        return {"ok": True, "match": secret.same_password(stored, msg["token"])}

    # ---- scheduler -------------------------------------------------------------------

    def schedule_once(self) -> None:
        """Start pending jobs on active, unlocked workers with a free slot."""
        with self.store.lock:
            self._expire()
            pending = sorted((j for j in self.store.jobs.values() if j["status"] == "pending"),
                             key=lambda j: (j.get("priority") or 9999, j["id"]))
            for job in pending:
                for name in job.get("hosts") or sorted(self.store.workers):
                    if self._start_on(job, name):
                        break

    def _start_on(self, job: dict, name: str) -> bool:
        worker = self.store.workers.get(name)
        if not worker or worker["state"] != "active" or worker["locked"]:
            return False
        busy = sum(1 for j in self.store.jobs.values() if j["status"] == "running" and j["host"] == name)
        if busy >= (worker.get("slots") or 1):
            return False
        try:
            answer = request(worker["address"], worker["port"], {"op": "run", "job": job}, timeout=5)
        except WireError as error:
            LOG.warning("worker %s unreachable, marking down: %s", name, error)
            worker["state"] = "down"
            return False
        if not answer.get("ok"):
            return False
        job.update(status="running", host=name, started=time.time())
        self.store.save_job(job)
        LOG.info("job %s started on %s", job["id"], name)
        return True

    def run_scheduler(self) -> None:
        while True:
            try:
                self.schedule_once()
            except Exception:  # keep scheduling whatever one pass did
                LOG.exception("scheduler pass failed")
            time.sleep(0.3)


def main() -> int:
    """Run the supervisor in the foreground (systemd ``supervisor.service``)."""
    logfile = host_path("/var/log/supervisorlog")
    os.makedirs(os.path.dirname(logfile), exist_ok=True)
    logging.basicConfig(filename=logfile, level=logging.INFO,
                        format="%(asctime)s supervisor[%(process)d]: %(message)s")
    try:
        supervisor = Supervisor()
    except SystemExit as error:
        print(error, file=sys.stderr)
        return 1
    bind = os.environ.get("QB_STANDIN_SUPERVISOR_BIND", "0.0.0.0")
    port = supervisor_port(read_qb_conf())
    server = JsonServer((bind, port), supervisor.dispatch)
    LOG.info("%s: supervisor listening on %s:%d", BANNER, bind, port)
    threading.Thread(target=supervisor.run_scheduler, daemon=True).start()
    server.serve_forever()
    return 0

"""Persistent state of the STAND-IN supervisor under /var/spool/qube-standin/.

``jobs/<id>.json`` one file per job, ``next_id`` the id counter, ``workers.json`` the
worker registry (kept so locks survive a restart) and ``passwords.json`` (mode 0600,
root-only) the qblogin registrations. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import threading

from .env import SPOOL, host_path

TERMINAL = frozenset(("complete", "failed", "killed", "badlogin"))


def _write_json(path: str, data, mode: int = 0o644) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _read_json(path: str, default):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


class Store:
    """Jobs, workers and passwords, guarded by one lock."""

    def __init__(self) -> None:
        self.root = host_path(SPOOL)
        os.makedirs(os.path.join(self.root, "jobs"), mode=0o755, exist_ok=True)
        self.lock = threading.RLock()
        self.jobs: dict[int, dict] = {}
        for name in os.listdir(os.path.join(self.root, "jobs")):
            if name.endswith(".json"):
                job = _read_json(os.path.join(self.root, "jobs", name), None)
                if job:
                    self.jobs[job["id"]] = job
        self.workers: dict[str, dict] = _read_json(self._path("workers.json"), {})
        for worker in self.workers.values():
            worker["state"] = "down"  # nobody is known alive until it registers again

    def _path(self, name: str) -> str:
        return os.path.join(self.root, name)

    # ---- jobs ----------------------------------------------------------------------

    def new_job(self, fields: dict) -> dict:
        """Allocate the next id, store the job as pending and return it."""
        with self.lock:
            counter = int(_read_json(self._path("next_id"), 1))
            counter = max([counter] + [jid + 1 for jid in self.jobs])
            _write_json(self._path("next_id"), counter + 1)
            job = dict(fields, id=counter, status="pending", host="", exitcode=None,
                       stdout="", stderr="", message="")
            self.save_job(job)
            return job

    def save_job(self, job: dict) -> None:
        with self.lock:
            self.jobs[job["id"]] = job
            _write_json(os.path.join(self.root, "jobs", f"{job['id']}.json"), job)

    # ---- workers -------------------------------------------------------------------

    def save_workers(self) -> None:
        with self.lock:
            _write_json(self._path("workers.json"), self.workers)

    # ---- passwords -----------------------------------------------------------------

    def passwords(self) -> dict[str, str]:
        return _read_json(self._path("passwords.json"), {})

    def set_password(self, account: str, token: str) -> None:
        with self.lock:
            data = self.passwords()
            data[account] = token
            _write_json(self._path("passwords.json"), data, mode=0o600)

"""The leak test's own lab hosts: create/boot/destroy through tests/lab/lab.sh, ssh, evidence.

Runs inside the lab network namespace (``tests/lab/lab.sh exec .venv/bin/pytest ...``), so the
hosts are reached directly on 10.88.0.x with the lab key. Only the names given here are ever
created or destroyed; nothing else in the shared lab is touched.
"""

import os
import shlex
import subprocess
import time
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB_SH = os.path.join(REPO, "tests", "lab", "lab.sh")
QLAB_DIR = os.environ.get("QLAB_DIR") or "/var/lib/qube-lab"
KEY = os.path.join(QLAB_DIR, "ssh", "id_ed25519")
AD_ENV = os.path.join(REPO, "tests", "lab", "ad-users.env")


def ad_env() -> Dict[str, str]:
    """KEY='value' pairs of tests/lab/ad-users.env: the lab DC's test-only passwords (never printed)."""
    values = {}
    with open(AD_ENV, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, raw = line.partition("=")
                values[key.strip()] = shlex.split(raw)[0] if raw else ""
    return values


NET = "10.88.0"

# Where evidence is read on every host after the runs. Regular files only; /proc and /sys are
# other file systems and never looked at. /run and /tmp are tmpfs in the containers, so they are
# walked separately from / (find -xdev stays on one file system).
MODIFIED_ROOTS = ["/", "/run", "/tmp", "/dev/shm", "/var/tmp"]
LOG_ROOTS = ["/var/log", "/var/spool/qube"]
MAX_FILE_BYTES = 64 * 1024 * 1024
MARKER = "/var/tmp/.leak-test-marker"


def lab(*args: str, timeout: int = 300) -> str:
    """Run ``lab.sh ARGS``; its stdout (raises with stderr on failure)."""
    proc = subprocess.run([LAB_SH] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError("lab.sh %s failed (rc=%d): %s" % (" ".join(args), proc.returncode, proc.stderr[-2000:]))
    return proc.stdout


def ssh_argv(address: str, command: str) -> List[str]:
    return ["ssh", "-i", KEY, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            "-o", "ControlMaster=no", "root@" + address, command]


class LabHost:
    """One lab host of this test (name and last octet)."""

    def __init__(self, name: str, octet: int, supervisor: bool = False, layer: str = ""):
        self.name, self.octet, self.supervisor, self.layer = name, octet, supervisor, layer
        self.address = "%s.%d" % (NET, octet)

    def run(self, command: str, timeout: int = 120, check: bool = True, stdin: bytes = b"") -> bytes:
        """Run a shell command on the host as root (``stdin`` fed to it); its stdout bytes."""
        proc = subprocess.run(ssh_argv(self.address, command), input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError("%s: %r failed (rc=%d): %s" % (
                self.name, command, proc.returncode, proc.stderr.decode("utf-8", "replace")[-1000:]))
        return proc.stdout

    def mark(self) -> None:
        """Drop the time marker that 'modified since the run started' is measured against."""
        self.run("touch %s && sleep 1" % MARKER)

    def modified_files(self) -> bytes:
        """A tar stream of every regular file modified after the marker (logs and spools too)."""
        finds = ["find %s -xdev -type f -newer %s -size -%dk -print0 2>/dev/null" % (root, MARKER, MAX_FILE_BYTES // 1024)
                 for root in MODIFIED_ROOTS]
        finds += ["find %s -xdev -type f -size -%dk -print0 2>/dev/null" % (root, MAX_FILE_BYTES // 1024)
                  for root in LOG_ROOTS]
        script = "{ %s; } | sort -zu | tar --null -cf - --ignore-failed-read -T - 2>/dev/null" % "; ".join(finds)
        return self.run(script, timeout=300, check=False)

    def journal(self) -> bytes:
        """The whole journal (system and user units), message text only."""
        return self.run("journalctl -o cat --no-pager --merge 2>/dev/null || journalctl -o cat --no-pager",
                        timeout=120, check=False)

    def file_mode(self, path: str) -> str:
        return self.run("stat -c %%a %s" % path).decode().strip()


class ProcessSampler:
    """``ps -eo args`` every 0.2 s on each host, in a background ssh per host, into files."""

    def __init__(self, hosts: List[LabHost], folder: str, label: str):
        self.hosts, self.folder, self.label = hosts, folder, label
        self.procs: Dict[str, subprocess.Popen] = {}
        self.paths: Dict[str, str] = {}

    def __enter__(self) -> "ProcessSampler":
        os.makedirs(self.folder, exist_ok=True)
        for host in self.hosts:
            path = os.path.join(self.folder, "ps-%s-%s.txt" % (self.label, host.name))
            handle = open(path, "wb")
            self.paths[host.name] = path
            self.procs[host.name] = subprocess.Popen(
                ssh_argv(host.address, "while :; do ps -eo args; echo '-- sample'; sleep 0.2; done"),
                stdout=handle, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            handle.close()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    def samples(self) -> Dict[str, int]:
        """How many ps snapshots each host gave."""
        counts = {}
        for name, path in self.paths.items():
            with open(path, "rb") as handle:
                counts[name] = handle.read().count(b"-- sample")
        return counts

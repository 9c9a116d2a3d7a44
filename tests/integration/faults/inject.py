"""How each fault is injected into (and taken out of) one of the suite's own lab hosts.

All of it acts on fs1, fw1..fw5 or fad1 only: the veth of a host in the lab namespace, mounts,
routes and processes inside the host's own container, and a wrapper around the stand-in's
qbconfigfile on fs1. The shared DC dc1 is never touched.
"""

import json
import os
import subprocess
import time

from tests.integration.leaks.lab import ssh_argv

from .farm import DC_ADDRESS, SUPERVISOR, ad_join, sh

HERE = os.path.dirname(os.path.abspath(__file__))
QBCONFIGFILE = "/usr/local/pfx/qube/sbin/qbconfigfile"


# --- 1. a worker unreachable: its veth in the lab namespace goes down (the suite runs there) ----

def set_link(host, up):
    """Bring the host side of ``host``'s veth (``vb-NAME``) down or up: its network is cut."""
    subprocess.run(["ip", "link", "set", "vb-%s" % host.name, "up" if up else "down"], check=True, timeout=30)


def wait_ssh(host, seconds=30):
    """Wait until ``host`` answers ssh again."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        proc = subprocess.run(ssh_argv(host.address, "true"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=15, check=False)
        if proc.returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError("%s: no ssh within %d s" % (host.name, seconds))


# --- 2. the supervisor down: the stand-in supervisor daemon stopped on fs1 ----------------------

def supervisor(action):
    sh(SUPERVISOR, "systemctl %s supervisor" % action)


# --- 4. the DC unreachable from one worker: a blackhole route inside that worker only ----------

def blackhole_dc(host):
    """Route the DC's address nowhere inside ``host`` and make winbind forget what it cached."""
    sh(host, "ip route add blackhole %s/32 && net cache flush && systemctl restart winbind" % DC_ADDRESS)
    deadline = time.time() + 30
    while time.time() < deadline:
        if sh(host, "getent passwd 'MYCORP\\renderproxy' >/dev/null; echo $?").strip() != "0":
            return
        time.sleep(1)
    raise RuntimeError("%s: MYCORP\\renderproxy still resolves with the DC blackholed" % host.name)


def restore_dc(host):
    """Remove the blackhole; re-join when the shared DC was re-provisioned meanwhile; wait for AD."""
    sh(host, "ip route del blackhole %s/32 2>/dev/null; net cache flush; systemctl restart winbind" % DC_ADDRESS)
    ensure_joined(host)


def ensure_joined(host, seconds=40):
    """The worker's trust with dc1 works and MYCORP\\renderproxy resolves (re-join once if not)."""
    joined_again = False
    deadline = time.time() + seconds
    while time.time() < deadline:
        trust = sh(host, "wbinfo -t >/dev/null 2>&1; echo $?").strip() == "0"
        if trust and sh(host, "getent passwd 'MYCORP\\renderproxy' >/dev/null; echo $?").strip() == "0":
            return joined_again
        if not trust and not joined_again:
            # Another session may have re-provisioned the shared dc1 (a fresh domain).
            ad_join()
            sh(host, "net cache flush; systemctl restart winbind")
            joined_again = True
        time.sleep(1)
    raise RuntimeError("%s: the AD account does not resolve (trust with dc1 broken?)" % host.name)


# --- 5. SIGKILL in the middle of a write -------------------------------------------------------

class Killer:
    """killer.py running on a worker: SIGKILLs the module the moment its temp file appears."""

    def __init__(self, host, folder="/etc", prefix=".qube_conf.", seconds=400):
        with open(os.path.join(HERE, "killer.py"), "rb") as handle:
            self.proc = subprocess.Popen(ssh_argv(host.address, "python3 - %s %s %d" % (folder, prefix, seconds)),
                                         stdin=handle, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         universal_newlines=True)
        ready = json.loads(self.proc.stdout.readline() or "{}")
        if "watching" not in ready:
            raise RuntimeError("%s: killer.py did not start: %s" % (host.name, self.proc.stderr.read()[-500:]))

    def result(self, timeout=30):
        """``{"temp", "killed", "after_s"}`` once it fired, ``{}`` when it did not."""
        try:
            out, _err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _err = self.proc.communicate()
        lines = [line for line in out.splitlines() if line.strip()]
        return json.loads(lines[-1]) if lines else {}


WRAPPER = """#!/bin/sh
# Fault suite (test equipment): while /run/qfault/hold exists, note who validates and wait.
if [ -e /run/qfault/hold ]; then
    echo "$PPID $1" > /run/qfault/validating.new && mv /run/qfault/validating.new /run/qfault/validating
    i=0
    while [ -e /run/qfault/hold ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
fi
exec /usr/local/pfx/qube/lib/qube-standin qbconfigfile "$@"
"""


def hold_validation():
    """Make fs1's qbconfigfile wait (the window between qbwrk.conf's temp file and its rename)."""
    subprocess.run(ssh_argv(SUPERVISOR.address, "cat > %s.faults && chmod 755 %s.faults && mv %s.faults %s && "
                                                "mkdir -p /run/qfault && rm -f /run/qfault/validating && "
                                                "touch /run/qfault/hold" % ((QBCONFIGFILE,) * 4)),
                   input=WRAPPER.encode(), check=True, timeout=60, stdout=subprocess.PIPE)


def wait_validating(seconds=120):
    """(pid of the qube_conf module, its temp file) once qbconfigfile is holding."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        out = sh(SUPERVISOR, "cat /run/qfault/validating 2>/dev/null; true").split()
        if len(out) == 2:
            return int(out[0]), out[1]
        time.sleep(0.2)
    raise RuntimeError("qbconfigfile was never called on fs1")


def release_validation():
    sh(SUPERVISOR, "rm -f /run/qfault/hold /run/qfault/validating")


def unwrap_validation():
    sh(SUPERVISOR, "rm -rf /run/qfault; ln -sfn ../lib/qube-standin %s" % QBCONFIGFILE)


# --- 6. disk full: a full tmpfs copy of /etc mounted over /etc inside the worker ----------------

FILL_ETC = """set -e
mkdir -p /run/qfault-etc
mount -t tmpfs -o size=$(( $(du -sk /etc | cut -f1) + 256 ))k,mode=755 qfault-etc /run/qfault-etc
cp -a /etc/. /run/qfault-etc/
mount --bind /run/qfault-etc /etc
dd if=/dev/zero of=/etc/.qfault-fill bs=4k 2>/dev/null || true
df --output=avail -k /etc | tail -1
"""


def fill_etc(host):
    """/etc of ``host`` becomes a full tmpfs holding a copy of it; returns the KiB left (0)."""
    return int(sh(host, FILL_ETC).strip())


def unfill_etc(host):
    """Unmount the full copy; the real /etc underneath was never written."""
    sh(host, "umount /etc && umount /run/qfault-etc && rmdir /run/qfault-etc")


# --- what a worker runs ------------------------------------------------------------------------

def effective(host):
    """The stand-in worker's effective config (``worker_effective.conf``) as a dict."""
    out = sh(host, "cat /var/spool/qube/worker_effective.conf 2>/dev/null; true")
    pairs = (line.split("=", 1) for line in out.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def wait_registered(names, seconds=40):
    """Wait until the supervisor lists every worker of ``names`` as active."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            states = worker_states()
        except RuntimeError:  # the supervisor is not listening yet
            states = {}
        if all(states.get(name) == "active" for name in names):
            return
        time.sleep(1)
    raise RuntimeError("workers not registered with the supervisor: %s" % worker_states())


def worker_states():
    """{worker: state} as the supervisor lists them (``qbhosts``)."""
    out = sh(SUPERVISOR, "/usr/local/pfx/qube/bin/qbhosts")
    return {line.split()[0]: line.split()[1] for line in out.splitlines()[1:] if line.strip()}

"""Inventory of the leak-test farm (canaries as inline ``!vault`` values) and the playbook runner.

Farm: lksup (stand-in supervisor) and five workers, one per identity path:
  lkw1  service mode, local proxy account qubeproxy
  lkw2  desktop mode (user artist); holds the vaulted auto-logon password (auto-logon off: Linux)
  lkw3  service mode, user mode (submitter alice); holds a vaulted Windows user-mode password entry
  lkw4  service mode, local proxy account, validation path the account cannot write: FAILS
  lkad  service mode, AD proxy account MYCORP\\lkproxy (layer ad, joined to the shared dc1); its
        AD password is a canary (``leaks/ad.py`` creates the account on dc1)
  lkwin inventory only (qube_os winnt, never contacted: the site and rotation runs have --limit
        'all:!lkwin'); its proxy password is placed central: leaks/central.yml runs the central half
        of its batch (qbhash on lksup, its section with the encrypted proxy_password in qbwrk.conf)
"""

import dataclasses
import os
import secrets
import subprocess
import sys
import time
from typing import Dict, List, Optional

import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

from . import ad
from .canary import CANARIES
from .lab import KEY, QLAB_DIR, REPO, LabHost

PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
SUPERVISOR = LabHost("lksup", 180, supervisor=True)
AD_WORKER = LabHost("lkad", 185, layer="ad")
WORKERS = [LabHost("lkw1", 181), LabHost("lkw2", 182), LabHost("lkw3", 183), LabHost("lkw4", 184), AD_WORKER]
HOSTS = [SUPERVISOR] + WORKERS
PAPER_WINDOWS = "lkwin"
EXCLUDE_PAPER_HOST = "all:!" + PAPER_WINDOWS
# Run on every worker before the first run (users the modes need, the validation folders).
PREPARE_WORKER = ("id artist >/dev/null 2>&1 || useradd -m -s /bin/bash artist; "
                  "id alice >/dev/null 2>&1 || useradd -m -s /bin/bash alice; "
                  "install -d -m 1777 /srv/renders && install -d -m 0700 /srv/locked")


class Vaulted(str):
    """A plaintext that the inventory writer stores as an inline ``!vault`` value."""


class Vault:
    """A random vault password in a 0600 file, and inline encryption with it (in process)."""

    def __init__(self, folder: str):
        self.password_file = os.path.join(folder, "vault-pass")
        secret = secrets.token_hex(24)
        fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secret + "\n")
        self._lib = VaultLib([("default", VaultSecret(secret.encode()))])

    def encrypt(self, plaintext: str) -> str:
        return self._lib.encrypt(plaintext).decode("ascii")


def _dumper(vault: Vault):
    class Dumper(yaml.SafeDumper):
        pass

    def vaulted(dumper, value):
        return dumper.represent_scalar("!vault", vault.encrypt(str(value)), style="|")

    Dumper.add_representer(Vaulted, vaulted)
    return Dumper


def farm_vars(package_files: List[str]) -> Dict[str, dict]:
    """Inventory variables (``all`` and per host) of the standard farm."""
    common = {
        "ansible_user": "root", "ansible_ssh_private_key_file": KEY,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        "qube_supervisor": SUPERVISOR.name, "qube_serial": 4, "qube_max_fail_percentage": 100,
        "qube_worker_package_files": package_files, "qube_worker_packages": ["qube-standin"],
        "qube_worker_cpus": 1, "qube_proxy_account": "qubeproxy",
        "qube_proxy_password": Vaulted(CANARIES["proxy"]),
        "qube_validation_paths": ["/srv/renders"], "qube_validation_timeout": 30,
    }
    hosts = {
        "lkw1": {"qube_worker_mode": "service"},
        "lkw2": {"qube_worker_mode": "desktop", "qube_desktop_user": "artist",
                 "qube_windows_auto_logon": False,
                 "qube_windows_auto_logon_password": Vaulted(CANARIES["auto_logon"])},
        "lkw3": {"qube_worker_mode": "service", "qube_proxy_execution_mode": "user",
                 "qube_user_mode_users": ["alice"],
                 "qube_windows_user_passwords": [{"name": "alice", "password": Vaulted(CANARIES["user_windows"])}]},
        "lkw4": {"qube_worker_mode": "service", "qube_validation_paths": ["/srv/locked"]},
        AD_WORKER.name: ad.inventory_vars(Vaulted),
        PAPER_WINDOWS: {"ansible_host": "127.0.0.1", "ansible_connection": "winrm", "qube_os": "winnt",
                        "qube_worker_mode": "service", "qube_worker_install": False,
                        "qube_validation_paths": ["C:\\renders"]},
    }
    return {"all": common, **hosts}


def write_inventory(path: str, vault: Vault, variables: Dict[str, dict]) -> str:
    """Write the YAML inventory (supervisor group, worker group, per-host vars) to ``path``."""
    workers = {h.name: dict(ansible_host=h.address, **variables.get(h.name, {})) for h in WORKERS}
    workers[PAPER_WINDOWS] = dict(variables[PAPER_WINDOWS])
    # localhost is explicit, so a --limit can name it and the preflight play still runs.
    local = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}}
    inventory = {"all": {"vars": variables["all"], "hosts": local, "children": {
        "qube_supervisors": {"hosts": {SUPERVISOR.name: {"ansible_host": SUPERVISOR.address}}},
        "qube_workers": {"hosts": workers}}}}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("---\n# Leak-test farm; every password is an inline !vault value.\n")
        yaml.dump(inventory, handle, Dumper=_dumper(vault), default_flow_style=False, sort_keys=False)
    return path


@dataclasses.dataclass
class Run:
    """One ansible-playbook run and what it left on the controller."""

    label: str
    argv: List[str]
    verbosity: int
    returncode: int
    output: str
    log_file: str
    report_dir: str
    seconds: float


class Runner:
    """Runs ansible-playbook with --diff at a given verbosity (default -vvvv) from the repository,
    output and log kept per run."""

    def __init__(self, folder: str, vault: Vault):
        self.folder, self.vault = folder, vault
        self.runs: List[Run] = []

    def env(self, label: str) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOG_PATH=os.path.join(self.folder, "ansible-%s.log" % label),
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.folder, "ansible-tmp"),
                   QUBE_REPORT_DIR=os.path.join(self.folder, "reports", label), QLAB_DIR=QLAB_DIR,
                   # ansible.cfg caches facts for a day: keep this farm's in the evidence folder
                   # (new hosts start with no stale entry, and the cache is scanned too).
                   ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(self.folder, "facts"))
        return env

    def play(self, label: str, playbook: str, inventory: str, check: bool = False,
             extra: Optional[List[str]] = None, timeout: int = 600, verbosity: int = 4) -> Run:
        level = ["-" + "v" * verbosity] if verbosity else []
        argv = [PLAYBOOK_BIN] + level + ["--diff", "-i", inventory, "--vault-password-file", self.vault.password_file,
                                         os.path.join(REPO, playbook)] + (["--check"] if check else []) + (extra or [])
        started = time.time()
        proc = subprocess.run(argv, cwd=REPO, env=self.env(label), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=timeout, check=False)
        run = Run(label, argv, verbosity, proc.returncode, proc.stdout, self.env(label)["ANSIBLE_LOG_PATH"],
                  self.env(label)["QUBE_REPORT_DIR"], round(time.time() - started, 1))
        with open(os.path.join(self.folder, "output-%s.txt" % label), "w", encoding="utf-8") as handle:
            handle.write(proc.stdout)
        self.runs.append(run)
        return run

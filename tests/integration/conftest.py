# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab fixtures for the bad-input matrix: three own hosts, a good inventory, one converge.

Runs inside the lab network namespace (``tests/lab/lab.sh exec .venv/bin/pytest tests/integration``).
The session fixture creates ``bisup`` (octet 170, stand-in supervisor), ``biw1`` (171) and
``biw2`` (172), writes a good inventory into a private temporary folder, converges the farm once
with site.yml and destroys the hosts at the end.  Only these three hosts are touched.
"""

import os
import secrets
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAB_SH = os.path.join(REPO, "tests", "lab", "lab.sh")
QLAB_DIR = os.environ.get("QLAB_DIR", "/var/lib/qube-lab")
HOSTS = {"bisup": 170, "biw1": 171, "biw2": 172}
WORKERS = ("biw1", "biw2")
# Every file the roles manage, and the account databases; symlinks are listed with their target.
MANAGED_PATHS = ("/etc/qb.conf", "/etc/qbwrk.conf", "/etc/systemd/system", "/etc/systemd/user",
                 "/var/lib/renderfarm-qube", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow")
# Filled by test_bad_input.py, printed at the end of the session.
TALLY = {"refused": 0, "changed": set()}
# Bookkeeping left out: the identity role's proof record holds the time of the last passed
# validation job (rewritten by every validation, never reported as a change, no secret in it).
BOOKKEEPING = ("identity_proof.json",)
CHECKSUM_SCRIPT = (
    "find %s \\( -type f -o -type l \\) %s 2>/dev/null | LC_ALL=C sort | while IFS= read -r p; do "
    "if [ -L \"$p\" ]; then printf 'link %%s %%s\\n' \"$(readlink \"$p\")\" \"$p\"; "
    "else sha256sum \"$p\"; fi; done" % (" ".join(MANAGED_PATHS), " ".join("! -name %s" % n for n in BOOKKEEPING)))


def lab(*args, check=True, timeout=600):
    """Run ``tests/lab/lab.sh ARGS`` and return the completed process."""
    proc = subprocess.run([LAB_SH] + list(args), cwd=REPO, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError("lab.sh %s failed (rc %d):\n%s\n%s"
                           % (" ".join(args), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def checksums(host):
    """{path: sha256 or link target} of every managed file on ``host``."""
    out = lab("ssh", host, CHECKSUM_SCRIPT).stdout
    sums = {}
    for line in out.splitlines():
        if line.startswith("link "):
            _, target, path = line.split(" ", 2)
            sums[path] = "link:" + target
        else:
            digest, path = line.split(None, 1)
            sums[path.strip()] = "sha256:" + digest
    return sums


def farm_checksums():
    """{host: checksums(host)} for every lab host of the matrix, read in parallel."""
    with ThreadPoolExecutor(max_workers=len(HOSTS)) as pool:
        return dict(zip(HOSTS, pool.map(checksums, HOSTS)))


def standin_deb():
    """The stand-in package path the demo inventory uses (inventories/lab/group_vars/qube_workers)."""
    with open(os.path.join(REPO, "inventories", "lab", "group_vars", "qube_workers", "main.yml")) as handle:
        template = yaml.safe_load(handle)["qube_worker_package_files"][0]
    name = os.path.basename(template)
    return os.path.join(QLAB_DIR, "packages", name)


def good_inventory(folder, password):
    """Write a good inventory for bisup/biw1/biw2 into ``folder``; group_vars are directories."""
    # The same connection settings the lab's own inventory writer uses (tests/lab/lib/farm.sh);
    # written here so the matrix does not depend on a `lab.sh up` having run.
    connection = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": os.path.join(QLAB_DIR, "ssh", "id_ed25519"),
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": "-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=%s/%%C "
                                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
                                   % os.path.join(QLAB_DIR, "cp"),
    }
    inventory = {"all": {"vars": connection, "children": {
        "qube_supervisors": {"hosts": {"bisup": {"ansible_host": "10.88.0.%d" % HOSTS["bisup"]}}},
        "qube_workers": {"hosts": dict((w, {"ansible_host": "10.88.0.%d" % HOSTS[w]}) for w in WORKERS)}}}}
    group_vars = {
        "all": {"qube_supervisor": "bisup", "qube_domain": "qube",
                "qube_templates": {"bi_render": {"worker_groups": "bi,linux_render", "worker_cluster": "/bi"}}},
        "qube_workers": {"qube_worker_mode": "service", "qube_worker_package_files": [standin_deb()],
                         "qube_worker_packages": ["qube-standin"], "qube_worker_templates": ["bi_render"],
                         "qube_worker_cpus": 2, "qube_worker_flags": ["dynamic"],
                         "qube_proxy_execution_mode": "proxy", "qube_proxy_account": "qubeproxy",
                         "qube_proxy_password": password, "qube_validation_paths": ["/tmp"],
                         "qube_serial": 2},
    }
    write_yaml(os.path.join(folder, "hosts.yml"), inventory)
    for group, values in group_vars.items():
        write_yaml(os.path.join(folder, "group_vars", group, "main.yml"), values)
    os.makedirs(os.path.join(folder, "host_vars"), exist_ok=True)


def write_yaml(path, data):
    """Write ``data`` as YAML to ``path`` (mode 0600: the files may hold the test password)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle, default_flow_style=False, sort_keys=True)


def run_site(inventory_dir, report_dir, timeout=900):
    """ansible-playbook site.yml against ``inventory_dir``; returns the completed process."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", QUBE_REPORT_DIR=report_dir, QLAB_DIR=QLAB_DIR)
    return subprocess.run([os.path.join(REPO, ".venv", "bin", "ansible-playbook"), "-i", inventory_dir,
                           os.path.join(REPO, "site.yml")], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


class Farm(object):
    """The converged lab farm, handed to the tests by the ``farm`` fixture.

    ``good_dir`` is the good inventory, ``password`` the test proxy password, ``baseline`` the
    checksums after the converge; ``tally`` counts refused inputs and changed hosts for the summary.
    """

    hosts = tuple(HOSTS)
    tally = TALLY

    def __init__(self, workdir, good_dir, password, baseline):
        self.workdir = workdir
        self.good_dir = good_dir
        self.password = password
        self.baseline = baseline

    run_site = staticmethod(run_site)
    write_yaml = staticmethod(write_yaml)
    checksums = staticmethod(farm_checksums)


@pytest.fixture(scope="session")
def farm():
    """Create and converge bisup/biw1/biw2 once; destroy them afterwards."""
    workdir = tempfile.mkdtemp(prefix="qube-bad-input-")
    os.chmod(workdir, 0o700)
    try:
        for host, octet in HOSTS.items():
            lab("destroy", host, check=False)
            lab("create", host, str(octet))
        lab("start", *HOSTS)
        lab("install-standin", "bisup")
        # An existing account in a privileged group, for the host-side preflight's cases.
        lab("ssh", "biw1", "useradd --no-create-home --groups sudo biops")
        password = "bi-" + secrets.token_urlsafe(18)
        good_dir = os.path.join(workdir, "good")
        good_inventory(good_dir, password)
        proc = run_site(good_dir, os.path.join(workdir, "report-good"))
        if proc.returncode != 0:
            raise RuntimeError("converge with the good inventory failed (rc %d):\n%s\n%s"
                               % (proc.returncode, proc.stdout[-6000:], proc.stderr[-3000:]))
        assert password not in proc.stdout + proc.stderr, "the test password appeared in the output"
        baseline = farm_checksums()
        assert all(baseline[w].get("/etc/qb.conf") for w in WORKERS), baseline
        assert baseline["bisup"].get("/etc/qbwrk.conf"), baseline["bisup"]
        yield Farm(workdir, good_dir, password, baseline)
    finally:
        if os.environ.get("QUBE_BAD_INPUT_KEEP") != "1":
            lab("destroy", *HOSTS, check=False)
        shutil.rmtree(workdir, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """The matrix's one-line result."""
    if TALLY["refused"] or TALLY["changed"]:
        terminalreporter.write_line("bad inputs refused: %d, hosts changed: %d"
                                    % (TALLY["refused"], len(TALLY["changed"])))

"""The qube-standin .deb: metadata, layout, units not enabled, commands work from it."""

import os
import shutil
import subprocess

import pytest
from conftest import STANDIN

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
DEB = "qube-standin_8.0.0~standin1_all.deb"
BIN = "qbsub qbout qbjobs qbhosts qblock qbunlock qblogin qbhash".split()
SBIN = "qbadmin qbconfigfile worker supervisor proxy".split()


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    result = subprocess.run([os.path.join(STANDIN, "build-deb.sh"), str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out / DEB)
    return out / DEB


def field(deb, name):
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_control_fields(deb):
    assert field(deb, "Package") == "qube-standin"
    assert field(deb, "Version") == "8.0.0~standin1"
    assert field(deb, "Provides") == "qube-core, qube-worker, qube-supervisor"
    assert field(deb, "Depends").startswith("python3")
    assert "STAND-IN" in field(deb, "Description")


def test_layout_and_units(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    qb = tmp_path / "usr/local/pfx/qube"
    for folder, names in (("bin", BIN), ("sbin", SBIN)):
        for name in names:
            assert (qb / folder / name).is_symlink() and (qb / folder / name).resolve().exists(), name
    unit = (tmp_path / "lib/systemd/system/worker.service").read_text()
    assert "ExecStart=/usr/local/pfx/qube/sbin/worker" in unit and "User=root" in unit
    assert (tmp_path / "lib/systemd/system/supervisor.service").exists()
    assert not (tmp_path / "etc").exists()  # nothing enabled, no /etc/qb.conf shipped as a conffile
    hashed = subprocess.run([str(qb / "bin/qbhash")], input="pw\n", capture_output=True, text=True, check=True)
    assert len(hashed.stdout.strip()) >= 64
    ran = subprocess.run([str(qb / "sbin/proxy"), "/bin/sh", "-c", "echo via-proxy"], capture_output=True, text=True)
    assert (ran.returncode, ran.stdout) == (0, "via-proxy\n")  # the worker's default proxy_location


def test_postinst_creates_proxy_account_with_password_on_stdin(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path)], check=True)
    script = (tmp_path / "postinst").read_text()
    assert "useradd" in script and "qubeproxy" in script
    assert "| chpasswd" in script  # password reaches chpasswd on stdin, not in its arguments
    assert "[ ! -e /etc/qb.conf ]" in script and "install -m 0644" in script
    assert "systemctl enable" not in script

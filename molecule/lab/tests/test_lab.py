"""Verify the lab hosts themselves: real systemd, private network, shared names, no way out."""
import subprocess

import pytest
import testinfra

LAB_HOSTS = ("mlab-sup", "mlab-w1", "mlab-w2")


def test_pid1_is_systemd(host):
    assert host.check_output("ps -p 1 -o comm=") == "systemd"


def test_system_is_running(host):
    state = host.run("systemctl is-system-running --wait")
    failed = host.run("systemctl --failed --no-legend --plain").stdout
    assert state.stdout.strip() == "running", failed


@pytest.mark.parametrize("other", LAB_HOSTS)
def test_hosts_resolve_and_reach_each_other(host, other):
    entry = host.check_output(f"getent hosts {other}")
    address = entry.split()[0]
    assert address.startswith("10.88.0.")
    assert host.run(f"ping -c1 -W2 {address}").rc == 0


def test_no_default_route(host):
    assert host.check_output("ip -4 route show default") == ""
    assert host.check_output("ip -6 route show default") == ""


def test_converge_marker(host):
    marker = host.file("/etc/qlab-converged")
    assert marker.exists and marker.mode == 0o644


def test_supervisor_runs_only_on_the_supervisor(host):
    name = host.check_output("hostname")
    supervisor = host.service("supervisor")
    if name == "mlab-sup":
        assert supervisor.is_running
    else:
        assert host.run("systemctl cat supervisor.service").rc != 0


def test_root_netns_has_no_lab_interfaces():
    """The controller runs inside netns qlab; the root namespace must show no lab links."""
    local = testinfra.get_host("local://")
    root_links = local.check_output("nsenter --net=/proc/2/ns/net ip -o link show")
    assert "qlabbr0" not in root_links and "vb-mlab" not in root_links
    lab_links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                               check=True).stdout
    assert "qlabbr0" in lab_links
    assert "vb-mlab-w1" in lab_links

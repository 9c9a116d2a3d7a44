# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input matrix: every invalid inventory is refused by preflight and no host changes.

Run inside the lab network namespace, from the repository root::

    tests/lab/lab.sh exec .venv/bin/pytest tests/integration/test_bad_input.py

Each ``bad_input/*.yml`` case is an overlay on the good inventory of ``conftest.py``:

* ``description``: what is wrong;
* ``host_vars: {host: {var: value}}`` and ``group_vars: {group: {var: value}}`` (a ``null``
  value removes a variable the good inventory sets);
* ``extra_hosts: {name: {ansible_host: ...}}``: more workers; ``extra_groups: {group: [hosts]}``;
* ``expect``: message fragments that must all appear in the output (each names host and variable);
* ``never_shown``: secret values that must not appear anywhere in the output;
* ``stage: host``: a mistake only a host can reveal, refused by the host-side preflight play.

For every case site.yml must fail in the preflight play (rc != 0, the preflight task failed, no
later play started), and afterwards the sha256 of every managed file on every host must equal
the checksums taken after the good converge.
"""

import glob
import os
import shutil

import pytest
import yaml


CASES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bad_input")
CASE_FILES = sorted(glob.glob(os.path.join(CASES_DIR, "*.yml")))
PREFLIGHT_TASK = "Preflight | Validate the whole farm's inventory"
# Cases with ``stage: host`` are mistakes only a host can reveal (accounts, groups, paths, packages,
# commands): the read-only host-side preflight refuses them, still before any host changes.
HOST_PREFLIGHT_TASK = "Preflight | Look at what only this worker can tell (read-only); every problem, before anything changes"
LATER_PLAYS = ("PLAY [Supervisor", "PLAY [Workers", "PLAY [Verify")
MATRIX_HOSTS = ("bisup", "biw1", "biw2")


def load_case(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def overlay_inventory(farm, target, case):
    """Copy the good inventory to ``target`` and apply the case's overlay."""
    shutil.copytree(farm.good_dir, target)
    hosts_file = os.path.join(target, "hosts.yml")
    with open(hosts_file) as handle:
        inventory = yaml.safe_load(handle)
    children = inventory["all"]["children"]
    children["qube_workers"]["hosts"].update(case.get("extra_hosts") or {})
    for group, members in (case.get("extra_groups") or {}).items():
        children[group] = {"hosts": dict((member, None) for member in members)}
    farm.write_yaml(hosts_file, inventory)
    for group, values in (case.get("group_vars") or {}).items():
        main = os.path.join(target, "group_vars", group, "main.yml")
        current = {}
        if os.path.exists(main):
            with open(main) as handle:
                current = yaml.safe_load(handle) or {}
        for var, value in values.items():
            if value is None:  # a null in the overlay removes the variable: it is then undefined
                current.pop(var, None)
            else:
                current[var] = value
        farm.write_yaml(main, current)
    for host, values in (case.get("host_vars") or {}).items():
        farm.write_yaml(os.path.join(target, "host_vars", "%s.yml" % host), values)
    return target


def normalized(text):
    return " ".join(text.split())


def assert_refused_in_preflight(proc, expect, never_shown, secrets, stage="controller"):
    """rc != 0, the preflight task failed with every expected fragment, no later play ran."""
    output = proc.stdout + proc.stderr
    flat = normalized(output)
    assert proc.returncode != 0, "site.yml succeeded:\n" + proc.stdout[-4000:]
    if stage == "host":
        assert HOST_PREFLIGHT_TASK in output and "problem(s) found on this host; nothing was changed on any host" in flat, \
            output[-4000:]
    else:
        assert "fatal: [localhost]" in output and PREFLIGHT_TASK in output, output[-4000:]
        assert "problem(s) found, nothing was changed" in flat, output[-4000:]
    assert not any(play in output for play in LATER_PLAYS), "a play after preflight ran:\n" + output[-4000:]
    missing = [fragment for fragment in expect if normalized(fragment) not in flat]
    assert not missing, "missing in the output: %s\n%s" % (missing, output[-4000:])
    shown = [index for index, secret in enumerate(list(never_shown) + list(secrets)) if secret in output]
    assert not shown, "a secret value (index %s) appeared in the output" % shown


def assert_farm_unchanged(farm):
    """Every managed file on every host has the checksum it had after the good converge."""
    now, baseline = farm.checksums(), farm.baseline
    changed = sorted(host for host in farm.hosts if now[host] != baseline[host])
    farm.tally["changed"].update(changed)
    details = dict((host, sorted(set(now[host].items()) ^ set(baseline[host].items()))) for host in changed)
    assert not changed, "hosts changed: %s" % details


def test_enough_cases():
    assert len(CASE_FILES) >= 30
    for path in CASE_FILES:
        case = load_case(path)
        assert case.get("description") and case.get("expect"), path
        joined = " ".join(case["expect"])
        assert any(host in joined for host in list(MATRIX_HOSTS) + list(case.get("extra_hosts") or {})), path
        assert "qube_" in joined or "bootstrap key" in joined, path


@pytest.mark.parametrize("path", CASE_FILES, ids=[os.path.basename(p)[:-4] for p in CASE_FILES])
def test_bad_input_refused(farm, tmp_path, path):
    case = load_case(path)
    inventory = overlay_inventory(farm, str(tmp_path / "inventory"), case)
    proc = farm.run_site(inventory, str(tmp_path / "report"), timeout=300)
    assert_refused_in_preflight(proc, case["expect"], case.get("never_shown") or [], [farm.password],
                                case.get("stage", "controller"))
    assert_farm_unchanged(farm)
    farm.tally["refused"] += 1


def test_three_bad_hosts_in_one_run(farm, tmp_path):
    """Three bad hosts at once: every problem of every host is listed in one run."""
    case = {
        "extra_hosts": {"bi-w3": {"ansible_host": "10.88.0.172"}},
        "host_vars": {"biw1": {"qube_worker_cpus": "many", "qube_proxy_account": "root"},
                      "biw2": {"qube_worker_mode": "desktop", "qube_proxy_password": "Pip3lin3P@$$wd"},
                      # worker_cpus of its own: bi-w3 needs a qbwrk.conf section, so its name matters.
                      "bi-w3": {"qube_validation_paths": ["relative/dir"], "qube_worker_cpu": 1, "qube_worker_cpus": 5}},
    }
    expect = ["biw1: qube_worker_cpus must be an integer", "biw1: qube_proxy_account is 'root'",
              "host biw2: qube_worker_mode is 'desktop' but qube_desktop_user is not set",
              "biw2: qube_proxy_password is the vendor's published default password",
              "bi-w3: the qbwrk.conf section name 'bi-w3' is not allowed",
              "bi-w3: qube_validation_paths must be a list of absolute paths",
              "bi-w3: qube_worker_cpu is not a renderfarm.qube variable"]
    inventory = overlay_inventory(farm, str(tmp_path / "inventory"), case)
    proc = farm.run_site(inventory, str(tmp_path / "report"), timeout=300)
    assert_refused_in_preflight(proc, expect, ["Pip3lin3P@$$wd"], [farm.password])
    assert "qube_preflight: 7 problem(s) found" in proc.stdout, proc.stdout[-4000:]
    assert_farm_unchanged(farm)
    farm.tally["refused"] += 1


def test_good_inventory_still_converges_unchanged(farm, tmp_path):
    """Control: the good inventory passes preflight and a second run changes no managed file."""
    proc = farm.run_site(farm.good_dir, str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert farm.password not in proc.stdout + proc.stderr
    assert_farm_unchanged(farm)


def test_bad_hosts_found_only_on_the_hosts_are_listed_at_once(farm, tmp_path):
    """Two hosts with mistakes only the hosts reveal: both listed in one run, nothing changed anywhere."""
    case = {"host_vars": {"biw1": {"qube_worker_mode": "desktop", "qube_desktop_user": "bi-nosuchuser"},
                          "biw2": {"qube_validation_paths": ["/srv/bi-missing"], "qube_bin_dir": "/opt/bi-nowhere/bin"}}}
    expect = ["biw1: qube_desktop_user names bi-nosuchuser, which does not resolve on this host",
              "biw2: qube_validation_paths lists /srv/bi-missing, which is not a folder on this host",
              "biw2: /opt/bi-nowhere/bin/qbhash is not an executable file"]
    inventory = overlay_inventory(farm, str(tmp_path / "inventory"), case)
    proc = farm.run_site(inventory, str(tmp_path / "report"), timeout=300)
    assert_refused_in_preflight(proc, expect, [], [farm.password], stage="host")
    assert_farm_unchanged(farm)
    farm.tally["refused"] += 1

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host-side preflight: what to look at (plan) and what it finds (run), with fakes for the host."""

import os
import pwd

from ansible_collections.renderfarm.qube.plugins.filter.identity import host_check_spec, host_problems, reached_workers
from ansible_collections.renderfarm.qube.plugins.module_utils import hostcheck

ME = pwd.getpwuid(os.getuid()).pw_name


def spec(**hostvars):
    return host_check_spec(dict({"ansible_facts": {"system": "Linux"}}, **hostvars), "w01")


def run(the_spec, installed=("qube-worker",), offered=(), programs_ok=True):
    return hostcheck.run(the_spec, lambda names: [n for n in names if n in installed], lambda name: name in offered,
                         executable=lambda path: programs_ok)


def test_plan_per_mode_and_identity():
    local = spec(qube_proxy_password="x")
    assert local["accounts"] == [{"name": "qubeproxy", "domain": "", "variable": "qube_proxy_account",
                                  "must_exist": False}]
    ad = spec(qube_proxy_account="renderproxy", qube_worker_host_domain="MYCORP")
    assert ad["accounts"][0]["must_exist"] and ad["accounts"][0]["domain"] == "MYCORP"
    desktop = spec(qube_worker_mode="desktop", qube_desktop_user="artist")
    assert desktop["accounts"] == [{"name": "artist", "domain": "", "variable": "qube_desktop_user", "must_exist": True}]
    assert desktop["service_account"] == ""
    users = spec(qube_proxy_execution_mode="user", qube_user_mode_users=["alice", "bob"])
    assert [a["name"] for a in users["accounts"]] == ["alice", "bob"]
    mac = host_check_spec({"ansible_facts": {"system": "Darwin"}}, "m1")
    assert mac["programs"][0] == "/Applications/pfx/qube/bin/qbhash"
    files = spec(qube_worker_package_files=["/nonexistent/qube-worker_8.0_all.deb"])
    assert files["packages"]["names"] == ["qube-worker"] and files["packages"]["missing_files"]


def test_a_missing_desktop_user_and_a_missing_path_are_named():
    problems = run(spec(qube_worker_mode="desktop", qube_desktop_user="nosuchuser-qube", qube_validation_paths=["/nonexistent"]))
    assert problems[0].startswith("w01: qube_desktop_user names nosuchuser-qube, which does not resolve on this host")
    assert problems[1] == ("w01: qube_validation_paths lists /nonexistent, which is not a folder on this host. Create or "
                           "mount it, or fix the list.")


def test_a_privileged_job_identity_is_refused_unless_allowed():
    # root itself: uid 0 and the worker's service account.
    problems = run(spec(qube_proxy_account="root", qube_proxy_account_manage=False))
    assert len(problems) == 1 and "jobs would run with root or admin rights: it is uid 0" in problems[0]
    assert run(spec(qube_proxy_account="root", qube_proxy_account_manage=False, qube_allow_privileged_identity=True)) == []


def test_a_local_proxy_account_the_role_creates_may_be_missing():
    assert run(spec(qube_proxy_account="qube-not-yet-created")) == []


def test_packages_installed_installable_or_not():
    assert run(spec(), installed=()) == ["w01: qube_worker_packages lists qube-core, qube-worker, which is not installed "
                                         "and no repository of this host offers. Add the Qube! repository, or give "
                                         "qube_worker_package_files."]
    assert run(spec(), installed=(), offered=("qube-core", "qube-worker")) == []
    missing = run(spec(qube_worker_package_files=["/nonexistent/qube-worker_8.0_all.deb"]), installed=())
    assert missing == ["w01: qube_worker_package_files lists /nonexistent/qube-worker_8.0_all.deb, not found on the "
                       "controller. Fix the paths."]
    assert "qube_worker_install is false" in run(spec(qube_worker_install=False), installed=())[0]


def test_client_commands_are_looked_for_once_the_worker_is_installed():
    problems = run(spec(qube_bin_dir="/opt/nowhere/bin"), programs_ok=False)
    assert problems[0] == ("w01: /opt/nowhere/bin/qbhash is not an executable file, but the worker is installed. Set "
                           "qube_bin_dir to the folder of the Qube! client commands (vendor: <qb_directory>/bin).")
    assert run(spec(), installed=(), offered=("qube-core", "qube-worker"), programs_ok=False) == []


def test_problems_of_every_host_and_the_workers_reached():
    hostvars = {"a": {"__qube_preflight_host": {"problems": ["a: x"]}}, "b": {"__qube_preflight_host": {"skipped": True}},
                "c": {}}
    assert host_problems(hostvars, ["a", "b"]) == ["a: x"]
    assert reached_workers(hostvars, ["a", "b", "c"]) == ["a", "b"]
    assert reached_workers({"c": {}}, ["c"]) == ["c"]

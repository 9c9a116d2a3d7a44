# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_host_check: returns every problem; with fail_on_problems the host fails with all of them."""

import pytest

from ansible_collections.renderfarm.qube.plugins.filter.identity import host_check_spec
from ansible_collections.renderfarm.qube.plugins.modules import qube_host_check


def bad_spec(tmp_path):
    """Two problems this host can tell: a missing validation folder, the worker not installable."""
    the_spec = host_check_spec({"ansible_facts": {"system": "Linux"}, "qube_validation_paths": [str(tmp_path / "nope")],
                                "qube_worker_install": False, "qube_worker_packages": ["qube-no-such-package"]}, "w01")
    return the_spec


@pytest.fixture
def check(run_module):
    return run_module.bind(qube_host_check)


def test_problems_are_returned_without_failing_by_default(check, tmp_path):
    result = check({"spec": bad_spec(tmp_path)}, failed=False)
    assert not result["changed"]
    assert any("qube_validation_paths lists %s" % (tmp_path / "nope") in p for p in result["problems"])
    assert any("qube_worker_install is false" in p for p in result["problems"])


def test_fail_on_problems_fails_the_host_with_every_problem(check, tmp_path):
    result = check({"spec": bad_spec(tmp_path), "fail_on_problems": True}, failed=True)
    assert result["msg"].startswith("2 problem(s) found on this host; nothing was changed on any host:\n- w01: ")
    assert all(problem in result["msg"] for problem in result["problems"]) and len(result["problems"]) == 2
    assert not result.get("changed")


def test_fail_on_problems_passes_a_good_host(check, tmp_path):
    good = host_check_spec({"ansible_facts": {"system": "Linux"}, "qube_validation_paths": [str(tmp_path)],
                            "qube_worker_install": True, "qube_worker_package_files": [__file__]}, "w01")
    good["accounts"] = []
    result = check({"spec": good, "fail_on_problems": True}, failed=False)
    assert result["problems"] == []

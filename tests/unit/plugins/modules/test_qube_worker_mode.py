# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_worker_mode's main(): its inputs, its refusals, the install check and a check-mode run.

The host-side parts it calls are tested in tests/unit/plugins/module_utils/test_modes_linux.py;
the whole module runs on real hosts in molecule service_mode, desktop_mode and mode_flip.
"""

import os

import pytest

from ansible.module_utils import basic

from ansible_collections.renderfarm.qube.plugins.module_utils import modes_packages
from ansible_collections.renderfarm.qube.plugins.modules import qube_worker_mode

DROPIN_PATH = "/etc/systemd/system/worker.service.d/renderfarm-qube-mode.conf"
DROPIN = "# Managed by renderfarm.qube (role worker_mode); local changes are overwritten.\n[Service]\nUser=root\n"


@pytest.mark.parametrize("mode, missing", [
    ("service", "dropin_content"),
    ("desktop", "user_unit_content, autostart_content"),
])
def test_the_rendered_files_are_required_for_their_mode(run_module, tmp_path, mode, missing):
    result = run_module(qube_worker_mode, {"mode": mode, "desktop_user": "root",
                                           "record_path": str(tmp_path / "worker_mode.json")}, failed=True)
    assert "mode is %s" % mode in result["msg"] and missing in result["msg"]


def test_unknown_desktop_user_is_refused_naming_variable_and_host(run_module, tmp_path):
    result = run_module(qube_worker_mode, {
        "mode": "desktop", "desktop_user": "no-such-user-qube", "host": "w07", "user_unit_content": "[Unit]\n",
        "autostart_content": "[Desktop Entry]\n", "record_path": str(tmp_path / "worker_mode.json")}, failed=True)
    assert "host w07: qube_desktop_user 'no-such-user-qube' does not exist" in result["msg"]
    assert not (tmp_path / "worker_mode.json").exists()


def test_install_needed_changes_nothing(run_module, tmp_path, monkeypatch):
    monkeypatch.setattr(modes_packages, "installed_versions", lambda module, names: {})
    result = run_module(qube_worker_mode, {
        "mode": "service", "dropin_content": DROPIN, "record_path": str(tmp_path / "worker_mode.json"),
        "install_check": {"package_files": ["qube-standin_8.0.0~standin1_all.deb"]}}, failed=False)
    assert result["install_needed"] is True and result["installed_before"] is False
    assert result["changed"] is False and result["actions"] == []
    assert not (tmp_path / "worker_mode.json").exists()


@pytest.mark.skipif(os.path.lexists(DROPIN_PATH), reason="this machine has a worker drop-in of its own")
def test_check_mode_service_run_reports_and_writes_nothing(run_module, tmp_path, monkeypatch):
    """A host without the drop-in and the unit disabled: every step reported, nothing written."""
    monkeypatch.setattr(basic.AnsibleModule, "run_command",
                        lambda self, argv, **kw: (3, "disabled\n", "") if "is-enabled" in argv or "is-active" in argv
                        else (0, "", ""))
    record = tmp_path / "state" / "worker_mode.json"
    result = run_module(qube_worker_mode, {"mode": "service", "dropin_content": DROPIN, "record_path": str(record)},
                        check_mode=True, diff=True, failed=False)
    assert result["changed"] is True and result["mode"] == "service"
    assert "write %s" % DROPIN_PATH in result["actions"]
    assert "enable worker" in result["actions"] and "start worker" in result["actions"]
    dropin_diff = [d for d in result["diff"] if d["after_header"] == DROPIN_PATH]
    assert dropin_diff[0]["after"] == DROPIN
    assert not record.exists() and not (tmp_path / "state").exists()


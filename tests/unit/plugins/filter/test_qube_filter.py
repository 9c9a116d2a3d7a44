# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qube_worker_settings and qube_qbwrk filters."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.renderfarm.qube.plugins.filter.qube import FilterModule, qube_qbwrk, qube_worker_settings
from ansible_collections.renderfarm.qube.plugins.module_utils.qbwrk import expand

HASH = "06dee4e09a917474ea788e4f5c105bc505cf8a5629be461d3415fe60cbbbba6a"
TEMPLATES = {"gpu": {"worker_groups": ["gpu"], "worker_resources": {"gpu": 1}}}


def farm():
    common = {"qube_templates": TEMPLATES, "qube_supervisor": "sup01", "qube_proxy_account": "render"}
    hosts = dict(("render%02d" % n, dict(common, ansible_system="Linux")) for n in range(1, 6))
    hosts["render03"]["qube_worker_cpus"] = 4
    hosts["win01"] = dict(common, ansible_connection="winrm", qube_worker_templates=["gpu"])
    return hosts


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"qube_worker_settings", "qube_qbwrk"}


def test_qbwrk_from_worker_settings_fills_secrets_and_is_lossless():
    settings = [qube_worker_settings(hostvars, name) for name, hostvars in sorted(farm().items())]
    assert settings[0]["local"] == {"qb_supervisor": "sup01"}
    text = qube_qbwrk(settings, TEMPLATES, secrets={"render": HASH}, header="#\n# Ansible managed\n#")
    assert text.startswith("#\n# Ansible managed\n#\n\n[global_config]\ntemplates = gpu\n")
    assert "[winnt]\nproxy_password = %s\n" % HASH in text
    assert "[render03]\nworker_cpus = 4\n" in text
    assert "[win01] : gpu\n" in text and '[gpu]\nworker_groups = gpu\nworker_resources = "host.gpu=1"' in text
    assert expand(text, "win01", "winnt")["worker_resources"] == '"host.gpu=1"'
    assert expand(text, "render05", "linux") == {"proxy_account": "render"}


def test_missing_secret_and_bad_templates_are_reported_together():
    settings = [qube_worker_settings(hostvars, name) for name, hostvars in sorted(farm().items())]
    with pytest.raises(AnsibleFilterError) as caught:
        qube_qbwrk(settings, {"gpu": {"worker_cpus": "x"}}, secrets={})
    message = str(caught.value)
    assert "no proxy password hash for account 'render'" in message and "qube_templates.gpu.worker_cpus" in message


def test_worker_settings_errors_and_local_secret_fill():
    with pytest.raises(AnsibleFilterError, match="qube_worker_cpus must be an integer"):
        qube_worker_settings({"qube_worker_cpus": "many"}, "w1")
    linux_local = qube_worker_settings({"qube_proxy_account": "render", "qube_config_placement": "local"}, "w1",
                                       secrets={"render": HASH})
    assert linux_local["local"]["proxy_account"] == "render" and linux_local["central"] == {}
    # Windows: never in the local qb.conf, which every user of the host reads.
    windows = qube_worker_settings({"qube_os": "winnt", "qube_proxy_account": "render",
                                    "qube_config_placement": "local"}, "w1", secrets={"render": HASH})
    assert "proxy_password" not in windows["local"] and "proxy_password" in windows["central"]


def test_bad_section_name_reaches_the_user():
    with pytest.raises(AnsibleFilterError, match="qube_worker_name"):
        qube_qbwrk([{"name": "w-1", "os": "linux", "central": {"worker_cpus": 1}},
                    {"name": "w2", "os": "linux", "central": {"worker_cpus": 2}}])


def test_supervisor_list_items_keep_site_flags_and_follow_the_farm():
    from ansible_collections.renderfarm.qube.plugins.filter.farm import supervisor_list_items
    linux = {"os": "linux", "mode": "service", "central": {}, "local": {}}
    win_desktop = {"os": "winnt", "mode": "desktop", "central": {}, "local": {}}
    user_mode = {"os": "linux", "mode": "service", "central": {"proxy_execution_mode": "user"}, "local": {}}
    assert supervisor_list_items([linux]) == [{"key": "supervisor_flags", "present": [], "absent": ["enforce_password"],
                                               "default": ["host_recontact", "heartbeat_monitor", "running_monitor",
                                                           "retry_busy"]}]
    items = supervisor_list_items([linux, win_desktop])
    assert items[0] == {"key": "supervisor_job_flags", "present": ["disable_windows_job_object"], "absent": [],
                        "default": ["auto_mount"]}
    # A user-mode worker may need enforce_password: it is left alone.
    assert [i["key"] for i in supervisor_list_items([linux, user_mode])] == []
    assert supervisor_list_items([linux, win_desktop], job_flags=False, enforce_password=False) == []


def test_hashes_by_account_leaves_out_what_qbhash_refused():
    """A refused item has no string: it is left out (the batch's check names it), never a KeyError."""
    from ansible_collections.renderfarm.qube.plugins.filter.farm import hashes_by_account
    results = [{"item": {"account": "render"}, "proxy_password_hash": "abc"},
               {"item": {"account": "too_long"}, "msg": "qbhash refused the password", "failed_when_result": False},
               {"item": {"account": "skipped"}, "skipped": True}]
    assert hashes_by_account(results) == {"render": "abc"}

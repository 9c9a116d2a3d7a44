# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the ``renderfarm.qube.qube_report`` callback.

The callback's DOCUMENTATION options are registered with ansible's config manager the way the
plugin loader does it (so ini/env/default resolution is real), and the callback is fed real
``CallbackTaskResult``, ``Play``, inventory and ``AggregateStats`` objects. Only the display is
replaced by a recorder, to capture what would reach the terminal.
"""

import json

import pytest
import yaml
from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.executor.stats import AggregateStats
from ansible.executor.task_result import CallbackTaskResult
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play import Play
from ansible.playbook.task import Task
from ansible.vars.manager import VariableManager

from ansible_collections.renderfarm.qube.plugins.callback import qube_report

CANARY = "Canary-Pw-7f3a9c1e"
INVENTORY = """
[qube_supervisors]
qube-sup

[qube_workers]
render-a
render-b
render-c
render-d
"""


LOAD_NAME = "renderfarm.qube.qube_report"


def load_callback():
    """A CallbackModule whose documented options are known to ansible's config manager."""
    if not C.config.has_configuration_definition("callback", LOAD_NAME):
        options = yaml.safe_load(qube_report.DOCUMENTATION)["options"]
        C.config.initialize_plugin_configuration_definitions("callback", LOAD_NAME, options)
    plugin = qube_report.CallbackModule()
    plugin._load_name = LOAD_NAME
    return plugin


class Recorder:
    """Stands in for ansible's Display: keeps every message."""

    def __init__(self):
        self.messages = []
        self.warnings = []

    def display(self, msg, *args, **kwargs):
        self.messages.append(msg)

    def banner(self, msg, *args, **kwargs):
        self.messages.append("*** %s ***" % msg)

    def warning(self, msg, *args, **kwargs):
        self.warnings.append(msg)

    def text(self):
        return "\n".join(self.messages)


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text(INVENTORY, encoding="utf-8")
    loader = DataLoader()
    manager = InventoryManager(loader=loader, sources=[str(path)])
    return manager, VariableManager(loader=loader, inventory=manager), loader


@pytest.fixture
def callback(tmp_path, monkeypatch):
    monkeypatch.setenv("QUBE_REPORT_DIR", str(tmp_path / "reports"))
    plugin = load_callback()
    plugin.set_options()
    plugin._display = Recorder()
    return plugin


def start(callback, inventory, hosts="qube_workers"):
    manager, variables, loader = inventory
    playbook = type("Playbook", (), {"_file_name": "/somewhere/site.yml"})()
    callback.v2_playbook_on_start(playbook)
    play = Play.load({"name": "p", "hosts": hosts, "gather_facts": False, "tasks": []},
                     variable_manager=variables, loader=loader)
    callback.v2_playbook_on_play_start(play)
    return manager


def task_result(manager, host, return_data, action="ansible.builtin.set_fact"):
    task = Task.load({"name": "t", "action": action}, variable_manager=None, loader=None)
    return CallbackTaskResult(manager.get_host(host), task, return_data, {})


def report_fact(**values):
    fact = {"mode": "service", "job_identity": "qubeproxy", "execution_mode": "proxy", "config_state": "in_sync",
            "validation": "passed", "validation_detail": "job ran as qubeproxy"}
    fact.update(values)
    return {"ansible_facts": {"qube_report": fact}, "changed": False}


def recap(**per_host):
    """Real AggregateStats as the strategy fills them (``unreachable`` is kept as ``dark``)."""
    stats = AggregateStats()
    for host, counts in per_host.items():
        for what, number in counts.items():
            for _ in range(number):
                stats.increment("dark" if what == "unreachable" else what, host)
    return stats


def written(tmp_path):
    base = tmp_path / "reports"
    return (json.loads((base / "qube-report.json").read_text(encoding="utf-8")),
            (base / "qube-report.html").read_text(encoding="utf-8"))


def test_options_come_from_documentation_and_env(callback, tmp_path):
    assert callback.get_option("report_dir") == str(tmp_path / "reports")
    assert callback.get_option("workers_group") == "qube_workers"
    assert callback.get_option("supervisors_group") == "qube_supervisors"
    assert callback.CALLBACK_TYPE == "notification" and callback.CALLBACK_NEEDS_ENABLED


def test_report_of_a_run(callback, inventory, tmp_path):
    manager = start(callback, inventory)
    callback.v2_runner_on_ok(task_result(manager, "render-a", report_fact()))
    callback.v2_runner_on_ok(task_result(manager, "render-b", report_fact(mode="desktop", execution_mode="user")))
    # a later set_fact with some keys only updates those keys
    callback.v2_runner_on_ok(task_result(manager, "render-b", {"ansible_facts": {"qube_report": {
        "config_state": "drifted"}}}))
    callback.v2_runner_item_on_ok(task_result(manager, "render-c", report_fact(validation="failed")))
    stats = recap(**{"render-a": {"ok": 5, "changed": 2}, "render-b": {"ok": 4, "changed": 1},
                     "render-c": {"ok": 3, "failures": 1}, "qube-sup": {"ok": 2}, "localhost": {"ok": 1}})
    callback.v2_playbook_on_stats(stats)

    data, page = written(tmp_path)
    hosts = {h["host"]: h for h in data["hosts"]}
    assert sorted(hosts) == ["localhost", "qube-sup", "render-a", "render-b", "render-c", "render-d"]
    assert [h["host"] for h in data["hosts"]] == sorted(hosts)
    assert (hosts["render-a"]["status"], hosts["render-a"]["changed"], hosts["render-a"]["validation"]) == (
        "ok", 2, "passed")
    assert (hosts["render-b"]["mode"], hosts["render-b"]["execution_mode"], hosts["render-b"]["config_state"]) == (
        "desktop", "user", "drifted")
    assert (hosts["render-c"]["status"], hosts["render-c"]["validation"]) == ("failed", "failed")
    assert (hosts["render-d"]["status"], hosts["render-d"]["role"], hosts["render-d"]["mode"]) == (
        "not run", "worker", "unknown")
    assert hosts["qube-sup"]["role"] == "supervisor" and hosts["localhost"]["role"] == "other"
    assert data["run"]["playbook"] == "site.yml" and data["run"]["check_mode"] is False
    assert data["run"]["started"] <= data["run"]["ended"]
    assert data["summary_line"] == ("4 workers, 2 in service mode, 1 in desktop mode, 2 validated, "
                                    "1 failed, 0 unreachable, 1 not run")
    assert "render-d" in page and data["summary_line"] in page

    shown = callback._display.text()
    assert "*** QUBE! FARM REPORT ***" in shown and data["summary_line"] in shown
    assert "qube-report.json" in shown and "qube-report.html" in shown


def test_unreachable_host(callback, inventory, tmp_path):
    start(callback, inventory)
    callback.v2_playbook_on_stats(recap(**{"render-a": {"unreachable": 1}}))
    data, _page = written(tmp_path)
    assert data["hosts"][0]["host"] == "render-a" and data["hosts"][0]["status"] == "unreachable"
    assert data["summary"]["unreachable"] == 1


def test_workers_group_option(callback, inventory, tmp_path, monkeypatch):
    monkeypatch.setenv("QUBE_REPORT_WORKERS_GROUP", "qube_supervisors")
    callback.set_options()
    start(callback, inventory, hosts="all")
    callback.v2_playbook_on_stats(recap(**{"qube-sup": {"ok": 1}, "render-a": {"ok": 1}}))
    data, _page = written(tmp_path)
    roles = {h["host"]: h["role"] for h in data["hosts"]}
    assert roles == {"qube-sup": "worker", "render-a": "other"}


def test_other_results_are_ignored(callback, inventory, tmp_path):
    manager = start(callback, inventory)
    callback.v2_runner_on_ok(task_result(manager, "render-a", {"changed": True, "rc": 0},
                                         action="ansible.builtin.command"))
    callback.v2_runner_on_ok(task_result(manager, "render-a", {"ansible_facts": {"qube_report": "service"}}))
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 2, "changed": 1}}))
    data, _page = written(tmp_path)
    row = data["hosts"][0]
    assert (row["mode"], row["validation"], row["changed"]) == ("unknown", "skipped", 1)


def test_canary_secret_never_reaches_table_json_or_html(callback, inventory, tmp_path):
    manager = start(callback, inventory)
    result = report_fact(proxy_password=CANARY, validation_detail={"password": CANARY})
    result["ansible_facts"]["qube_proxy_password"] = CANARY
    result["ansible_facts"]["qube_identity"] = {"user": "svc", "password": CANARY}
    result["invocation"] = {"module_args": {"password": CANARY, "qube_report": {"job_identity": CANARY}}}
    result["stdout"] = "hash: " + CANARY
    result["_ansible_facts_cacheable"] = False
    callback.v2_runner_on_ok(task_result(manager, "render-a", result))
    failed = {"msg": "login failed for " + CANARY, "invocation": {"module_args": {"proxy_password": CANARY}}}
    callback.v2_runner_on_failed(task_result(manager, "render-b", failed, action="renderfarm.qube.qube_identity"))
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 2}, "render-b": {"ok": 1, "failures": 1}}))

    data, page = written(tmp_path)
    table = callback._display.text()
    raw_json = (tmp_path / "reports" / "qube-report.json").read_text(encoding="utf-8")
    for text in (table, raw_json, page):
        assert CANARY not in text
    row = {h["host"]: h for h in data["hosts"]}["render-a"]
    assert row["validation_detail"] == "(invalid)" and row["job_identity"] == "qubeproxy"
    assert "proxy_password" not in raw_json and "qube_identity" not in raw_json


def test_unwritable_report_dir_warns_but_prints(callback, inventory, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("QUBE_REPORT_DIR", str(blocker / "reports"))
    callback.set_options()
    start(callback, inventory)
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 1}}))
    assert callback._display.warnings and "could not write the report" in callback._display.warnings[0]
    assert "render-a" in callback._display.text()


def test_check_mode_is_reported(callback, inventory, tmp_path, monkeypatch):
    from ansible import context
    from ansible.module_utils.common.collections import ImmutableDict

    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=True))
    start(callback, inventory)
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 1}}))
    data, page = written(tmp_path)
    assert data["run"]["check_mode"] is True
    assert "check mode: hosts untouched, &quot;changed&quot; = would change" in page
    assert "CHECK MODE" in callback._display.text()


def named_result(manager, host, return_data, name):
    task = Task.load({"name": name, "action": "ansible.builtin.command"}, variable_manager=None, loader=None)
    return CallbackTaskResult(manager.get_host(host), task, return_data, {})


def test_report_names_the_task_where_a_host_failed_or_became_unreachable(callback, inventory, tmp_path):
    manager = start(callback, inventory)
    callback.v2_runner_on_failed(named_result(manager, "render-a", {"msg": "x " + CANARY},
                                              "Worker config | Local qb.conf"))
    callback.v2_runner_on_unreachable(named_result(manager, "render-b", {"msg": "ssh: timed out"},
                                                   "Worker mode | Read the installed packages"))
    # An ignored failure and a failure later rescued leave no mark.
    callback.v2_runner_on_failed(named_result(manager, "render-c", {"msg": "no"}, "probe"), ignore_errors=True)
    callback.v2_runner_on_failed(named_result(manager, "render-d", {"msg": "no"}, "rescued step"))
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 3, "failures": 1}, "render-b": {"ok": 1, "unreachable": 1},
                                           "render-c": {"ok": 2}, "render-d": {"ok": 2, "rescued": 1}}))
    data, page = written(tmp_path)
    failed_at = {h["host"]: h["failed_at"] for h in data["hosts"]}
    assert failed_at == {"render-a": "Worker config | Local qb.conf",
                         "render-b": "Worker mode | Read the installed packages", "render-c": "", "render-d": ""}
    assert data["complete"] is True
    shown = callback._display.text()
    assert "render-a failed at: Worker config | Local qb.conf" in shown
    assert "render-b unreachable at: Worker mode | Read the installed packages" in shown
    assert "<b>render-a</b> failed at <b>Worker config | Local qb.conf</b>" in page
    for text in (shown, page, json.dumps(data)):
        assert CANARY not in text


def test_a_started_run_replaces_the_previous_report_with_an_incomplete_one(callback, inventory, tmp_path):
    start(callback, inventory)
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 1}}))
    assert written(tmp_path)[0]["complete"] is True
    start(callback, inventory)  # the next run starts, then ansible-playbook is killed
    data, page = written(tmp_path)
    assert data["complete"] is False and data["hosts"] == []
    assert data["summary_line"].startswith("This run has not finished")
    assert data["run"]["playbook"] == "site.yml" and data["run"]["ended"] == ""
    assert "This run has not finished" in page


def test_a_custom_html_template_is_used(callback, inventory, tmp_path, monkeypatch):
    custom = tmp_path / "studio-report.html.j2"
    custom.write_text("<h1>Studio</h1>{% for h in hosts %}<p>{{ h.host }} {{ h.status }} {{ h.failed_at }}</p>"
                      "{% endfor %}{{ summary_line }}\n", encoding="utf-8")
    monkeypatch.setenv("QUBE_REPORT_HTML_TEMPLATE", str(custom))
    callback.set_options()
    manager = start(callback, inventory)
    callback.v2_runner_on_failed(named_result(manager, "render-a", {"msg": "x"}, "Step <1> & \"2\""))
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 1, "failures": 1}}))
    data, page = written(tmp_path)
    assert page.startswith("<h1>Studio</h1>") and data["complete"] is True
    assert "<p>render-a failed Step &lt;1&gt; &amp; &#34;2&#34;</p>" in page
    assert not callback._display.warnings


def test_a_missing_html_template_stops_the_callback_naming_the_option(callback, tmp_path, monkeypatch):
    monkeypatch.setenv("QUBE_REPORT_HTML_TEMPLATE", str(tmp_path / "gone.html.j2"))
    with pytest.raises(AnsibleError) as raised:
        callback.set_options()
    message = str(raised.value)
    assert "html_template" in message and "QUBE_REPORT_HTML_TEMPLATE" in message and "gone.html.j2" in message


def test_a_broken_html_template_warns_and_keeps_the_table(callback, inventory, tmp_path, monkeypatch):
    broken = tmp_path / "broken.html.j2"
    broken.write_text("{% for %}", encoding="utf-8")
    monkeypatch.setenv("QUBE_REPORT_HTML_TEMPLATE", str(broken))
    callback.set_options()
    start(callback, inventory)
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 1}}))
    assert callback._display.warnings and "html_template" in callback._display.warnings[-1]
    assert "render-a" in callback._display.text()


def test_a_converged_worker_counts_as_run_a_worker_only_looked_at_does_not(callback, inventory, tmp_path):
    """site.yml's read-only plays (Preflight, Converged): a worker left out of the batches as converged
    gets its row there and is run; one the run stopped before its batch is "not run" (issue #17)."""
    manager, variables, loader = inventory
    callback.v2_playbook_on_start(type("Playbook", (), {"_file_name": "/somewhere/site.yml"})())
    for name in ("Preflight | what only the workers can tell", "Converged | workers with nothing to change"):
        play = Play.load({"name": name, "hosts": "qube_workers", "gather_facts": False, "tasks": []},
                         variable_manager=variables, loader=loader)
        callback.v2_playbook_on_play_start(play)
        for host in ("render-a", "render-b"):
            callback.v2_runner_on_ok(task_result(manager, host, {"changed": False}))
    callback.v2_runner_on_ok(task_result(manager, "render-a", report_fact(validation="skipped")))
    callback.v2_runner_on_skipped(task_result(manager, "render-b", {"skipped": True}))
    callback.v2_playbook_on_stats(recap(**{"render-a": {"ok": 4}, "render-b": {"ok": 3, "skipped": 1}}))
    hosts = {h["host"]: h for h in written(tmp_path)[0]["hosts"]}
    assert (hosts["render-a"]["status"], hosts["render-a"]["validation"]) == ("ok", "skipped")
    assert hosts["render-b"]["status"] == "not run"

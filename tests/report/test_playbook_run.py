# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Integration check of the qube_report callback: a real ``ansible-playbook`` run on 3 fake workers.

Runs ``playbook.yml`` against ``inventory.ini`` (``ansible_connection=local``) with the callback
enabled through the environment, as an administrator would, then checks the terminal table, the
JSON and the HTML, that colour codes appear only when colour is forced, and that the canary
secret of the inventory is in none of them. The combine_reports playbook then makes one report of
that run with a studio's HTML template, and refuses a template path that is not a file.

    .venv/bin/pytest tests/report -q          (from the repository root)

Needs ``<repo>/.cache/collections/ansible_collections/renderfarm/qube`` (a symlink to the
checkout), or ANSIBLE_COLLECTIONS_PATH pointing at a tree that has one.
"""

import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOK_BIN = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH", os.path.join(REPO, ".cache", "collections"))


def canary():
    """The stand-in secret of inventory.ini (read from the file, never typed twice)."""
    with open(os.path.join(HERE, "inventory.ini"), encoding="utf-8") as handle:
        return re.search(r"^qube_test_canary=(\S+)$", handle.read(), re.M).group(1)


def run_playbook(tmp_path, force_color=False):
    """Run the check playbook; return (returncode, stdout, report dir)."""
    if not os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "renderfarm", "qube")):
        pytest.skip("renderfarm.qube is not installed under %s" % COLLECTIONS)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")  # no user or system config leaks in
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CALLBACKS_ENABLED="renderfarm.qube.qube_report", ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
               ANSIBLE_CONFIG=str(config), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
               QUBE_REPORT_DIR=str(tmp_path / "reports"), QUBE_TEST_OUT=str(out))
    if force_color:
        env["ANSIBLE_FORCE_COLOR"] = "1"
    proc = subprocess.run([PLAYBOOK_BIN, "-i", os.path.join(HERE, "inventory.ini"),
                           os.path.join(HERE, "playbook.yml")],
                          cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout, tmp_path / "reports"


def report_section(stdout):
    """The callback's part of the output: from its banner to the end."""
    start = stdout.find("QUBE! FARM REPORT")
    assert start >= 0, stdout
    return stdout[start:]


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    return run_playbook(tmp_path_factory.mktemp("plain"))


def test_run_writes_table_json_and_html(plain_run):
    returncode, stdout, reports = plain_run
    assert returncode == 2, stdout  # render-b failed on purpose
    section = report_section(stdout)
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("HOST "))
    assert header.split()[:3] == ["HOST", "ROLE", "STATUS"]
    rows = {line.split()[0]: line.split() for line in lines if line.startswith("render-") and " failed at: " not in line}
    # Under the table: where each failed host stopped.
    stopped = [line for line in lines if " failed at: " in line]
    assert len(stopped) == 1 and stopped[0].startswith("render-b failed at: Report check | "), stopped
    assert rows["render-a"][:8] == ["render-a", "worker", "ok", "service", "qubeproxy", "proxy", "in_sync", "passed"]
    assert rows["render-b"][:8] == ["render-b", "worker", "failed", "service", "qubeproxy", "proxy", "drifted",
                                    "skipped"]
    assert rows["render-c"][:8] == ["render-c", "worker", "ok", "desktop", "artist1", "user", "in_sync", "passed"]
    summary = "3 workers, 2 in service mode, 1 in desktop mode, 2 validated, 1 failed, 0 unreachable"
    assert summary in lines
    assert "\x1b[" not in section  # not a TTY, colour not forced

    data = json.loads((reports / "qube-report.json").read_text(encoding="utf-8"))
    assert data["summary_line"] == summary
    assert data["run"]["playbook"] == "playbook.yml" and data["run"]["check_mode"] is False
    assert [(h["host"], h["status"], h["changed"]) for h in data["hosts"]] == [
        ("render-a", "ok", 1), ("render-b", "failed", 1), ("render-c", "ok", 1)]
    assert data["hosts"][2]["validation_detail"] == "job ran as artist1"

    page = (reports / "qube-report.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and summary in page
    assert page.index("render-a") < page.index("render-b") < page.index("render-c")
    assert "<script" not in page and "http" not in page


def test_canary_is_nowhere_in_the_report(plain_run):
    _returncode, stdout, reports = plain_run
    secret = canary()
    assert secret not in report_section(stdout)
    for name in ("qube-report.json", "qube-report.html"):
        assert secret not in (reports / name).read_text(encoding="utf-8")
    assert sorted(os.listdir(str(reports))) == ["qube-report.html", "qube-report.json"]


def test_forced_colour_keeps_the_table_aligned(tmp_path, plain_run):
    returncode, stdout, _reports = run_playbook(tmp_path, force_color=True)
    assert returncode == 2
    coloured = report_section(stdout)
    assert "\x1b[" in coloured
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    table = [line for line in plain.splitlines() if line.startswith(("HOST ", "render-"))]
    expected = [line for line in report_section(plain_run[1]).splitlines() if line.startswith(("HOST ", "render-"))]
    assert table == expected


def combine(tmp_path, slices, *extra):
    """Run renderfarm.qube.combine_reports over ``slices``; return (returncode, stdout)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")
    env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_CONFIG=str(config), ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"))
    proc = subprocess.run([PLAYBOOK_BIN, "renderfarm.qube.combine_reports", "-e", "qube_report_slices=%s" % slices]
                          + list(extra), cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    return proc.returncode, proc.stdout


def test_combined_report_with_a_studio_template_and_a_missing_one(tmp_path, plain_run):
    _returncode, _stdout, reports = plain_run
    slices = tmp_path / "slices"
    (slices / "one").mkdir(parents=True)
    (slices / "one" / "qube-report.json").write_text((reports / "qube-report.json").read_text(encoding="utf-8"),
                                                     encoding="utf-8")
    studio = tmp_path / "studio.html.j2"
    studio.write_text("<h1>Studio</h1>{% for h in hosts %}<p>{{ h.host }}={{ h.status }}</p>{% endfor %}\n",
                      encoding="utf-8")
    returncode, stdout = combine(tmp_path, slices, "-e", "qube_report_html_template=%s" % studio)
    assert returncode == 0, stdout
    page = (tmp_path / "slices-combined" / "qube-report.html").read_text(encoding="utf-8")
    assert page == "<h1>Studio</h1><p>render-a=ok</p><p>render-b=failed</p><p>render-c=ok</p>\n"

    returncode, stdout = combine(tmp_path, slices, "-e", "qube_report_html_template=%s" % (tmp_path / "gone.j2"))
    assert returncode == 2 and "qube_report_html_template: no HTML template file at" in stdout, stdout

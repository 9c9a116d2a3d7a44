# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the farm report model and its renderers (module_utils/report.py), and its HTML
page: templates/qube-report.html.j2 through plugin_utils/report_html.py and filter qube_report_merge."""

import json
import os
import re
from html.parser import HTMLParser

import pytest

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible_collections.renderfarm.qube.plugins.filter.report import report_merge
from ansible_collections.renderfarm.qube.plugins.module_utils import report as rp
from ansible_collections.renderfarm.qube.plugins.plugin_utils import report_html

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "report", "fixtures", "sample_run.json")


def load_fixture_report():
    """The 6-host sample run of tests/report/fixtures as a FarmReport."""
    with open(FIXTURE, encoding="utf-8") as handle:
        data = json.load(handle)
    rows = [rp.HostRow.build(h["host"], h["role"], h.get("fact"), h.get("counts")) for h in data["hosts"]]
    return rp.FarmReport(rp.RunInfo(**data["run"]), rows)


class PageParser(HTMLParser):
    """Collects what the structure checks need: tags, attributes, table cells, text."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.rows = []
        self.summary = {}
        self._cell = None
        self._row = None
        self._in_summary_li = False
        self._summary_parts = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "tr":
            self._row = {"class": attrs.get("class", ""), "cells": [], "badges": []}
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "span" and self._row is not None and "badge" in attrs.get("class", ""):
            self._row["badges"].append(attrs["class"])
        elif tag == "li":
            self._in_summary_li, self._summary_parts = True, []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "li" and self._in_summary_li:
            number, label = self._summary_parts[0], self._summary_parts[1]
            self.summary[label] = int(number)
            self._in_summary_li = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._in_summary_li and data.strip():
            self._summary_parts.append(data.strip())


def render_html(report, **kwargs):
    """The page of a FarmReport, rendered from its JSON data as the callback and the filter do."""
    return report_html.render_html(rp.to_dict(report), **kwargs)


def parse(page):
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return parser


# --- model ---

def test_sanitize_keeps_only_whitelisted_scalar_keys():
    raw = {"mode": "Service", "job_identity": "qubeproxy", "proxy_password": "x", "execution_mode": "proxy",
           "config_state": "in_sync", "validation": "passed", "validation_detail": {"password": "x"}}
    assert rp.sanitize_fact(raw) == {"mode": "service", "job_identity": "qubeproxy", "execution_mode": "proxy",
                                     "config_state": "in_sync", "validation": "passed",
                                     "validation_detail": rp.INVALID}


@pytest.mark.parametrize("key, value", [("mode", "kiosk"), ("execution_mode", "root"),
                                        ("config_state", "fine"), ("validation", "yes")])
def test_sanitize_maps_unknown_choice_to_unknown(key, value):
    assert rp.sanitize_fact({key: value}) == {key: rp.UNKNOWN}


def test_clean_text_flattens_control_characters_and_shortens():
    assert rp.clean_text("a\nb\x1b[31m\tc") == "a b [31m c"
    shortened = rp.clean_text("x" * 500, 120)
    assert len(shortened) == 120 and shortened.endswith("\u2026")
    assert rp.clean_text(None) == "" and rp.clean_text(3) == "3"


def test_sanitize_ignores_non_dict():
    assert rp.sanitize_fact("mode=service") == {} and rp.sanitize_fact(None) == {}


@pytest.mark.parametrize("counts, status", [
    (None, "not run"),
    ({"ok": 3, "unreachable": 1}, "unreachable"),
    ({"ok": 3, "failures": 1}, "failed"),
    ({"ok": 0, "skipped": 4}, "skipped"),
    ({"ok": 5, "changed": 2, "skipped": 1}, "ok"),
    ({"ok": 5, "ignored": 1, "rescued": 1}, "ok"),
])
def test_run_status(counts, status):
    assert rp.run_status(counts) == status


def test_worker_without_fact_gets_unknown_defaults_other_hosts_blank():
    worker = rp.HostRow.build("w1", "worker", None, None)
    expected = ("unknown", "unknown", "skipped", "not run")
    assert (worker.mode, worker.config_state, worker.validation, worker.status) == expected
    supervisor = rp.HostRow.build("sup", "supervisor", None, {"ok": 2})
    assert (supervisor.mode, supervisor.validation, supervisor.status) == ("", "", "ok")


def test_summary_counts_and_line():
    report = load_fixture_report()
    assert report.summary() == {"workers": 5, "service": 3, "desktop": 1, "validated": 2, "failed": 1,
                                "unreachable": 1, "not_run": 1, "changed": 6, "central_new": 0, "rolled_back": 0}
    assert report.summary_line() == ("5 workers, 3 in service mode, 1 in desktop mode, 2 validated, "
                                     "1 failed, 1 unreachable, 1 not run")


def test_central_state_of_each_worker_and_rolled_back_in_the_summary():
    rows = [rp.HostRow.build("w1", "worker", {"central": "new"}, {"ok": 1}),
            rp.HostRow.build("w2", "worker", {"central": "rolled_back"}, {"failures": 1}),
            rp.HostRow.build("w3", "worker", {"central": "bogus"}, {"ok": 1}),
            rp.HostRow.build("w4", "worker", None, None)]
    report = rp.FarmReport(rp.RunInfo(), rows)
    assert [r.central for r in report.rows] == ["new", "rolled_back", "unknown", "previous"]
    assert (report.summary()["central_new"], report.summary()["rolled_back"]) == (1, 1)
    assert report.summary_line().endswith("1 failed, 0 unreachable, 1 rolled back, 1 not run")
    assert "CENTRAL" in rp.render_table(report).splitlines()[1]


def test_summary_line_leaves_out_not_run_when_none():
    report = rp.FarmReport(rp.RunInfo(), [rp.HostRow.build("w", "worker", {"mode": "desktop"}, {"ok": 1})])
    assert report.summary_line() == ("1 workers, 0 in service mode, 1 in desktop mode, 0 validated, "
                                     "0 failed, 0 unreachable")


@pytest.mark.parametrize("started, ended, text", [
    ("2026-05-12T09:14:03+00:00", "2026-05-12T09:21:47+00:00", "7 min 44 s"),
    ("2026-05-12T09:00:00+00:00", "2026-05-12T10:00:05+00:00", "1 h 0 min 5 s"),
    ("2026-05-12T09:00:00+00:00", "2026-05-12T09:00:09+00:00", "9 s"),
    ("", "2026-05-12T09:00:09+00:00", ""),
])
def test_duration(started, ended, text):
    assert rp.RunInfo(started=started, ended=ended).duration() == text


# --- renderers ---

def test_json_is_sorted_and_complete():
    data = json.loads(rp.render_json(load_fixture_report()))
    assert data["schema"] == rp.SCHEMA_VERSION
    assert [h["host"] for h in data["hosts"]] == ["qube-sup", "render001", "render002", "render003",
                                                  "render004", "render005"]
    assert data["run"]["check_mode"] is False and data["run"]["duration"] == "7 min 44 s"
    render004 = data["hosts"][4]
    assert render004 == {
        "host": "render004", "role": "worker", "status": "failed", "mode": "service",
        "job_identity": "qubeproxy", "execution_mode": "proxy", "config_state": "drifted",
        "validation": "failed", "validation_detail": "cannot read /mnt/projects as qubeproxy: Permission denied",
        "validated_at": "2026-05-11T22:03:10Z", "drain": "", "central": "previous", "changed": 2,
        "detail": "cannot read /mnt/projects as qubeproxy: Permission denied"}
    assert data["hosts"][5]["detail"] == "drain: still ran 2 jobs after 600 s; left untouched"


def test_table_columns_are_aligned_without_colour():
    lines = rp.render_table(load_fixture_report()).splitlines()
    header, rule, rows, summary = lines[1], lines[2], lines[3:9], lines[9]
    starts = [m.start() for m in re.finditer(r"-+", rule)]
    assert len(starts) == len(rp.TABLE_COLUMNS)
    for line in [header] + rows:
        for start in starts[1:]:
            assert line[start - 2:start] == "  " and line[start] != " ", line
    assert rows[4].split()[:4] == ["render004", "worker", "failed", "service"]
    assert summary.startswith("5 workers")
    assert "\x1b" not in "\n".join(lines)


def test_table_colour_keeps_alignment():
    report = load_fixture_report()
    seen = []

    def paint(text, tone):
        seen.append((text, tone))
        return "\x1b[1m%s\x1b[0m" % text

    coloured = rp.render_table(report, colorize=paint)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
    assert plain == rp.render_table(report)
    assert ("failed", "bad") in seen and ("in_sync", "good") in seen and ("desktop", "info") in seen
    assert ("not run", "neutral") in seen and ("3", "warn") in seen


def test_table_marks_check_mode_and_empty_run():
    text = rp.render_table(rp.FarmReport(rp.RunInfo(playbook="site.yml", check_mode=True)))
    assert "CHECK MODE" in text.splitlines()[0] and "(no hosts)" in text


def test_html_structure_of_fixture():
    page = render_html(load_fixture_report())
    parsed = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    header, body = parsed.rows[0], parsed.rows[1:]
    assert header["cells"] == ["Host", "Role", "Run status", "Mode", "Job identity", "Execution", "Config",
                               "Validation", "Last proven", "Central", "Changed", "Detail"]
    assert [row["cells"][0] for row in body] == ["qube-sup", "render001", "render002", "render003",
                                                 "render004", "render005"]
    by_host = {row["cells"][0]: row for row in body}
    assert by_host["render004"]["class"] == "row-bad" and by_host["render003"]["class"] == "row-bad"
    assert by_host["render001"]["class"] == ""
    assert by_host["render004"]["badges"] == ["badge bad", "badge info", "badge accent", "badge bad",
                                              "badge bad", "badge neutral", "badge warn"]
    assert by_host["render001"]["badges"][:5] == ["badge good", "badge info", "badge accent",
                                                  "badge good", "badge good"]
    assert by_host["render005"]["badges"][0] == "badge neutral"
    assert by_host["qube-sup"]["cells"][3:9] == ["-"] * 6
    assert by_host["render001"]["cells"][8] == "2026-05-12T09:19:40Z"
    assert parsed.summary == {"Workers": 5, "Service mode": 3, "Desktop mode": 1, "Validated": 2, "Failed": 1,
                              "Unreachable": 1, "Not run": 1, "Changed tasks": 6}


def test_html_is_self_contained():
    page = render_html(load_fixture_report())
    tags = {tag for tag, _attrs in parse(page).tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not re.search(r"(?i)(https?:|//[a-z]|@import|url\()", page)
    assert page.count("<style>") == 1


def test_html_escapes_every_value():
    fact = {"mode": "service", "job_identity": "<b>x</b>", "validation_detail": "a & \"b\" <script>alert(1)</script>"}
    page = render_html(rp.FarmReport(rp.RunInfo(playbook="<p>.yml"),
                                        [rp.HostRow.build("<h>", "worker", fact, {"ok": 1})]))
    assert "<script>" not in page and "<b>x" not in page and "<h>" not in page and "<p>.yml" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&amp; &#34;b&#34;" in page
    assert "&lt;h&gt;" in page


def test_html_escapes_hostile_values_in_every_place_a_value_goes():
    """Host names, states, times, details, playbook and the task a host stopped at: all escaped."""
    hostile = "<script>alert('x')</script> & \"q\""
    data = rp.to_dict(rp.FarmReport(rp.RunInfo(playbook=hostile, started=hostile, ended=hostile),
                                    [rp.HostRow.build(hostile, "worker", {"job_identity": hostile,
                                                                          "validation_detail": hostile}, {"failures": 1})]))
    data["hosts"][0]["failed_at"] = hostile
    data["hosts"][0]["mode"] = hostile  # a value the model would never let through
    page = report_html.render_html(data, complete=False)
    assert "<script>" not in page and "alert('x')" not in page and '"q"' not in page
    escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;q&#34;"
    assert page.count(escaped) >= 7
    assert report_html.INCOMPLETE in page and 'aria-label="failures"' in page


def test_a_custom_template_is_used(tmp_path):
    custom = tmp_path / "studio.html.j2"
    custom.write_text("<p>{{ summary_line }}</p>{% for h in hosts %}<i>{{ h.host }}</i>{% endfor %}\n", encoding="utf-8")
    report = rp.FarmReport(rp.RunInfo(), [rp.HostRow.build("<w1>", "worker", None, {"ok": 1})])
    assert render_html(report, template=str(custom)) == "<p>%s</p><i>&lt;w1&gt;</i>\n" % report.summary_line()
    merged = report_merge([rp.to_dict(report)], html_template=str(custom))
    assert merged["html"].startswith("<p>1 workers") and merged["json"]["runs"] == 1
    assert report_merge([rp.to_dict(report)], html_template="")["html"].startswith("<!DOCTYPE html>")


def test_a_missing_custom_template_fails_naming_the_option(tmp_path):
    missing = str(tmp_path / "nowhere.html.j2")
    data = rp.to_dict(rp.FarmReport(rp.RunInfo()))
    with pytest.raises(AnsibleError, match=r"^my_option: no HTML template file at .*nowhere\.html\.j2"):
        report_html.render_html(data, template=missing, option="my_option")
    with pytest.raises(AnsibleFilterError, match="qube_report_merge html_template: no HTML template file"):
        report_merge([data], html_template=missing)


def test_a_broken_custom_template_fails_naming_the_option(tmp_path):
    broken = tmp_path / "broken.html.j2"
    broken.write_text("{{ no_such_value }}", encoding="utf-8")
    with pytest.raises(AnsibleError, match="my_option: the HTML template .* could not be rendered"):
        report_html.render_html(rp.to_dict(rp.FarmReport(rp.RunInfo())), template=str(broken), option="my_option")


def test_the_default_template_is_the_collections_own_file():
    assert report_html.DEFAULT_TEMPLATE.endswith(os.path.join("templates", "qube-report.html.j2"))
    assert os.path.isfile(report_html.DEFAULT_TEMPLATE)


def test_html_check_mode_banner():
    page = render_html(rp.FarmReport(rp.RunInfo(check_mode=True)))
    assert "check mode: hosts untouched, &quot;changed&quot; = would change" in page and "No hosts in this run." in page


def test_panic_and_down_are_shown_as_such_and_bad():
    from ansible_collections.renderfarm.qube.plugins.module_utils.report import sanitize_fact, tone
    assert tone("panic") == tone("down") == "bad"
    assert sanitize_fact({"config_state": "panic"})["config_state"] == "panic"


def _slice(hosts, started, ended, playbook="site.yml"):
    rows = [rp.HostRow.build(host, role, fact, counts) for host, role, fact, counts in hosts]
    return rp.to_dict(rp.FarmReport(rp.RunInfo(playbook=playbook, started=started, ended=ended), rows))


def test_slices_merge_into_one_farm_report():
    """Three job slices: each has the supervisor; every worker once; the supervisor keeps the row
    that says most and its changed counts add up; the run spans all slices."""
    good = {"mode": "service", "config_state": "in_sync", "validation": "passed", "central": "new"}
    one = _slice([("sup", "supervisor", None, {"ok": 3, "changed": 1}), ("w1", "worker", good, {"ok": 9, "changed": 2})],
                 "2026-12-06T10:00:00+00:00", "2026-12-06T10:05:00+00:00")
    two = _slice([("sup", "supervisor", None, {"ok": 3, "failures": 1}), ("w2", "worker", good, {"ok": 9})],
                 "2026-12-06T10:00:02+00:00", "2026-12-06T10:06:00+00:00")
    three = _slice([("sup", "supervisor", None, {"ok": 3, "changed": 2}), ("w3", "worker", None, None)],
                   "2026-12-06T10:00:01+00:00", "2026-12-06T10:04:00+00:00", playbook="rotate_proxy_password.yml")
    merged = rp.merge_reports([one, two, three])
    rows = {row.host: row for row in merged.rows}
    assert sorted(rows) == ["sup", "w1", "w2", "w3"]
    assert (rows["sup"].status, rows["sup"].changed, rows["sup"].mode, rows["sup"].central) == ("failed", 3, "", "")
    assert (rows["w1"].central, rows["w1"].changed, rows["w3"].status) == ("new", 2, "not run")
    assert (merged.run.started, merged.run.ended) == ("2026-12-06T10:00:00+00:00", "2026-12-06T10:06:00+00:00")
    assert merged.run.playbook == "rotate_proxy_password.yml, site.yml"
    assert merged.summary()["workers"] == 3 and merged.summary()["central_new"] == 2


def test_a_merged_report_is_sanitized_again():
    """Values that reach the merge from a file are checked again: no free text where states belong."""
    data = _slice([("w1", "worker", {"validation": "passed"}, {"ok": 1})], "", "")
    data["hosts"][0].update(validation="hunter2", config_state={"nested": "secret"}, status="bogus", changed="x")
    row = rp.merge_reports([data]).rows[0]
    assert (row.validation, row.config_state, row.status, row.changed) == ("unknown", "unknown", "not run", 0)


# --- when each worker was last proven (qube_validate_cadence) ---

@pytest.mark.parametrize("value, shown", [
    ("2026-12-06T09:41:07Z", "2026-12-06T09:41:07Z"),
    ("", ""),
    ("yesterday", rp.INVALID),
    ("2026-12-06T09:41:07+00:00", rp.INVALID),
    ({"at": "2026-12-06T09:41:07Z"}, rp.INVALID),
    ("2026-12-06T09:41:07Z\nproxy_password=x", rp.INVALID),
])
def test_validated_at_is_an_iso_time_or_nothing(value, shown):
    assert rp.sanitize_fact({"validated_at": value}) == {"validated_at": shown}


def test_last_proven_column_tells_a_skipped_validation_from_a_passed_one():
    """A worker the cadence skipped shows its earlier proof time and the reason, never 'passed'."""
    proven = {"mode": "service", "validation": "passed", "validation_detail": "6/6 checks ok",
              "validated_at": "2026-12-06T09:41:07Z"}
    skipped = {"mode": "service", "validation": "skipped", "validated_at": "2026-12-05T21:00:00Z",
               "validation_detail": "not due (on_change): proven 2026-12-05T21:00:00Z, 12 h ago; nothing changed since"}
    report = rp.FarmReport(rp.RunInfo(), [rp.HostRow.build("w1", "worker", proven, {"ok": 1}),
                                          rp.HostRow.build("w2", "worker", skipped, {"ok": 1}),
                                          rp.HostRow.build("w3", "worker", None, None)])
    lines = rp.render_table(report).splitlines()
    header = lines[1]
    assert "LAST PROVEN" in header
    column = header.index("LAST PROVEN")
    assert [line[column:column + 20].strip() for line in lines[3:6]] == [
        "2026-12-06T09:41:07Z", "2026-12-05T21:00:00Z", "-"]
    assert "skipped" in lines[4] and "passed" not in lines[4] and "not due (on_change)" in lines[4]
    assert report.summary()["validated"] == 1
    data = rp.to_dict(report)
    assert [h["validated_at"] for h in data["hosts"]] == ["2026-12-06T09:41:07Z", "2026-12-05T21:00:00Z", ""]
    merged = rp.merge_reports([data])
    assert [r.validated_at for r in merged.rows] == ["2026-12-06T09:41:07Z", "2026-12-05T21:00:00Z", ""]
    assert "<td class=\"validated-at\">2026-12-05T21:00:00Z</td>" in render_html(report)

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Farm report filters: the reports of several runs (job slices) as one."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleError, AnsibleFilterError
from ansible_collections.renderfarm.qube.plugins.module_utils import report
from ansible_collections.renderfarm.qube.plugins.plugin_utils.report_html import render_html


def report_merge(reports, html_template=None):
    """``{json, html, table, summary_line}`` of the farm report made of several runs' JSON data.

    ``html_template``: a Jinja2 template file for the page instead of the collection's.
    """
    if not isinstance(reports, (list, tuple)) or not reports:
        raise AnsibleFilterError("qube_report_merge: give a non-empty list of farm reports (the runs' farm-report.json, parsed)")
    for index, data in enumerate(reports):
        if not isinstance(data, dict) or data.get("schema") != report.SCHEMA_VERSION or not isinstance(data.get("hosts"), list):
            raise AnsibleFilterError("qube_report_merge: item %d is not a farm report of schema %d" % (index, report.SCHEMA_VERSION))
    merged = report.merge_reports(reports)
    data = report.to_dict(merged)
    try:
        page = render_html(data, html_template, "qube_report_merge html_template")
    except AnsibleError as exc:
        raise AnsibleFilterError(str(exc.message)) from exc
    data["complete"] = all(item.get("complete", True) is not False for item in reports)
    data["runs"] = len(reports)
    return {"json": data, "html": page, "table": report.render_table(merged),
            "summary_line": merged.summary_line()}


class FilterModule(object):
    """renderfarm.qube report filters."""

    def filters(self):
        return {"qube_report_merge": report_merge}

# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The farm report as an HTML page: ``templates/qube-report.html.j2`` rendered on the controller.

Used by the ``qube_report`` callback and the ``qube_report_merge`` filter. The page is rendered
from the report's JSON data (:func:`..module_utils.report.to_dict`) with autoescape on, so every
value a host or task brings in is escaped. A studio may give its own template file instead of
the collection's; a missing file is an error that names the option that gave it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError

from ansible.errors import AnsibleError
from ansible_collections.renderfarm.qube.plugins.module_utils.report import tone

TEMPLATE_NAME = "qube-report.html.j2"
# The collection's own template: <collection>/templates/, two folders up from plugins/plugin_utils/.
DEFAULT_TEMPLATE = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..", "templates", TEMPLATE_NAME))
INCOMPLETE = ("This run has not finished: ansible-playbook is still running, or it was killed or crashed "
              "before its end. Hosts may be mid-change; run the playbook again.")


def template_file(path, option):
    """The template to render: ``path`` when one is given (it must be a file), else the collection's.

    ``option`` names where ``path`` came from, for the error message.
    """
    if not path:
        return DEFAULT_TEMPLATE
    path = os.path.expanduser(str(path))
    if not os.path.isfile(path):
        raise AnsibleError("%s: no HTML template file at %s (give the path of a readable Jinja2 template, "
                           "or unset it to use the collection's %s)" % (option, path, TEMPLATE_NAME))
    return path


def render_html(data, template=None, option="html_template", complete=True):
    """The HTML page of a report's JSON ``data``; ``template`` a custom template file or None.

    The hosts whose ``failed_at`` is set are listed under the table; ``complete=False`` adds the
    note that the run has not finished. A template that fails to render raises AnsibleError.
    """
    path = template_file(template, option)
    env = Environment(loader=FileSystemLoader(os.path.dirname(path)), autoescape=True,
                      undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["tone"] = tone
    hosts = data.get("hosts") or []
    stopped = [{"host": item["host"], "status": item["status"], "task": item["failed_at"]}
               for item in hosts if item.get("failed_at")]
    context = {"run": data["run"], "summary": data["summary"], "summary_line": data["summary_line"],
               "hosts": hosts, "complete": complete, "incomplete_note": INCOMPLETE,
               "stopped": sorted(stopped, key=lambda item: item["host"])}
    try:
        return env.get_template(os.path.basename(path)).render(context)
    except (TemplateError, OSError) as exc:
        raise AnsibleError("%s: the HTML template %s could not be rendered: %s" % (option, path, exc)) from exc

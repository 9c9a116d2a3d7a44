#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render a recorded run (``fixtures/sample_run.json`` by default) to qube-report.{json,html}.

Usage: render_fixture.py OUT_DIR [FIXTURE_JSON]

Imports the collection from this checkout (through a temporary ``ansible_collections`` tree, as
the unit tests do), so it runs without an installed collection; the page is the collection's
template. Used to look at the HTML in a browser (screenshot.sh).
"""

import importlib
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_FIXTURE = os.path.join(HERE, "fixtures", "sample_run.json")


def load_report_module():
    """The report module of this checkout (and its HTML renderer as ``module.html``)."""
    base = tempfile.mkdtemp(prefix="qube-report-fixture-")
    os.makedirs(os.path.join(base, "ansible_collections", "renderfarm"))
    os.symlink(REPO, os.path.join(base, "ansible_collections", "renderfarm", "qube"))
    sys.path.insert(0, base)
    module = importlib.import_module("ansible_collections.renderfarm.qube.plugins.module_utils.report")
    module.html = importlib.import_module("ansible_collections.renderfarm.qube.plugins.plugin_utils.report_html")
    return module


def build_report(module, fixture_path):
    """A FarmReport from a fixture: run metadata and per-host raw fact + recap counts."""
    with open(fixture_path, encoding="utf-8") as handle:
        data = json.load(handle)
    rows = [module.HostRow.build(h["host"], h["role"], h.get("fact"), h.get("counts")) for h in data["hosts"]]
    return module.FarmReport(module.RunInfo(**data["run"]), rows)


def main(argv):
    """Write the two report files and print their paths."""
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    out_dir = argv[1]
    module = load_report_module()
    report = build_report(module, argv[2] if len(argv) == 3 else DEFAULT_FIXTURE)
    os.makedirs(out_dir, exist_ok=True)
    for name, text in (("qube-report.json", module.render_json(report)),
                       ("qube-report.html", module.html.render_html(module.to_dict(report)))):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(path)
    sys.stdout.write(module.render_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

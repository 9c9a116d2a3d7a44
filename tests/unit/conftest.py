# -*- coding: utf-8 -*-
# Copyright: renderfarm.qube contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make ``ansible_collections.renderfarm.qube`` importable from this checkout.

Builds ``<tmp>/renderfarm-qube-pytest-<uid>/ansible_collections/renderfarm/qube`` as a symlink
to the repository root and puts that tree on ``sys.path``, so ``.venv/bin/pytest tests/unit``
works from the repository without manual steps.  ``ansible_collections`` is a namespace package,
so the collections installed in the virtualenv stay importable too.
"""

import os
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collection_tree():
    base = os.path.join(tempfile.gettempdir(), "renderfarm-qube-pytest-%d" % os.getuid())
    parent = os.path.join(base, "ansible_collections", "renderfarm")
    link = os.path.join(parent, "qube")
    os.makedirs(parent, exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(REPO_ROOT):
        tmp_link = "%s.%d" % (link, os.getpid())
        os.symlink(REPO_ROOT, tmp_link)
        os.replace(tmp_link, link)
    return base


_BASE = _collection_tree()
if _BASE not in sys.path:
    sys.path.insert(0, _BASE)

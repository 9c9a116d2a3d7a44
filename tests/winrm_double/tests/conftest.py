"""Make ``tests.winrm_double`` and ``ansible_collections.renderfarm.qube`` importable from this checkout.

The collection comes from ``.cache/collections`` (made by scripts/setup-venv.sh, the path ansible.cfg
uses) when it points at this checkout, else from a private symlink tree under the temp directory.
"""

import os
import sys
import tempfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _collections_dir():
    cached = os.path.join(REPO, ".cache", "collections")
    if os.path.realpath(os.path.join(cached, "ansible_collections", "renderfarm", "qube")) == os.path.realpath(REPO):
        return cached
    base = os.path.join(tempfile.gettempdir(), "renderfarm-qube-double-%d" % os.getuid())
    parent = os.path.join(base, "ansible_collections", "renderfarm")
    link = os.path.join(parent, "qube")
    os.makedirs(parent, exist_ok=True)
    if os.path.realpath(link) != os.path.realpath(REPO):
        tmp_link = "%s.%d" % (link, os.getpid())
        os.symlink(REPO, tmp_link)
        os.replace(tmp_link, link)
    return base


COLLECTIONS = _collections_dir()
for _path in (REPO, COLLECTIONS):
    if _path not in sys.path:
        sys.path.insert(0, _path)


@pytest.fixture(scope="session")
def collections_dir():
    """A collections path holding this checkout as ``renderfarm.qube`` (for ansible-playbook)."""
    return COLLECTIONS

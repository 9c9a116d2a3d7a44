"""Make ``tests.winrm_double`` and ``ansible_collections.renderfarm.qube`` importable from this checkout.

The collection comes from ``.cache/collections`` (made by scripts/setup-venv.sh, the path ansible.cfg
uses) when it points at this checkout, else from a private symlink tree under the temp directory.
"""

import os
import socket
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


@pytest.fixture(scope="session")
def helper():
    """ntlm_auth on the lab's DC (AD mode), one child process for the whole session; closed at the end."""
    from tests.winrm_double.acceptors import NtlmAuthHelper
    from tests.winrm_double.lab_dc import DC, PW, SSH_KEY
    if not PW:
        pytest.fail("QUBE_TEST_DC_PASSWORD is not set (tests/lab/ad-users.env QLAB_AD_USER_PASSWORD)")
    for port in (22, 636):
        try:
            socket.create_connection((DC, port), timeout=3).close()
        except OSError as exc:
            pytest.fail("QUBE_TEST_DC=%s does not answer on port %d (%s): run tests/lab/dc.sh provision and the "
                        "tests under tests/lab/lab.sh exec" % (DC, port, exc))
    if not os.access(SSH_KEY, os.R_OK):
        pytest.fail("cannot read the lab ssh key %s (QUBE_TEST_DC_SSH_KEY)" % SSH_KEY)
    h = NtlmAuthHelper.over_ssh(DC, SSH_KEY)
    yield h
    h.close()

"""Hosts of the config_central scenario, reached through molecule's inventory; puts
molecule/_shared/tests, the helpers every scenario's tests share, on sys.path."""
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "_shared" / "tests"))
from molecule_lab import lab_host  # noqa: E402  pylint: disable=wrong-import-position

SUPERVISOR = "mcs1"
WORKERS = ("render01", "render02", "render03", "render-04")


@pytest.fixture(scope="session")
def supervisor():
    """The supervisor host mcs1."""
    return lab_host(SUPERVISOR)


@pytest.fixture(scope="session", params=WORKERS)
def worker(request):
    """(name, host) for each worker."""
    return request.param, lab_host(request.param)

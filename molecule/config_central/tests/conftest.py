"""Hosts of the config_central scenario, reached through molecule's inventory."""
import os

import pytest
import testinfra

SUPERVISOR = "mcs1"
WORKERS = ("render01", "render02", "render03", "render-04")


def lab_host(name):
    """A testinfra host for one scenario platform (ansible backend, molecule's inventory)."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")


@pytest.fixture(scope="session")
def supervisor():
    """The supervisor host mcs1."""
    return lab_host(SUPERVISOR)


@pytest.fixture(scope="session", params=WORKERS)
def worker(request):
    """(name, host) for each worker."""
    return request.param, lab_host(request.param)

"""The ``testinfra_host`` fixture: testinfra's modules over the item's ``connection``.

Importing this module never needs testinfra (the plugin registers the fixture either way);
only using the fixture does, and without it the test errors saying which extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..ssh.connection import FabricPlusConnection

MISSING_TESTINFRA = (
    "the testinfra_host fixture needs pytest-testinfra, which is not installed: "
    "pip install pytest-fabricplus[testinfra]"
)


def _is_testinfra(exc: ImportError) -> bool:
    return (exc.name or "").partition(".")[0] == "testinfra"


@pytest.fixture
def testinfra_host(connection: FabricPlusConnection) -> Any:
    """A ``testinfra.host.Host`` whose commands run on this item's ``connection``.

    Parametrized exactly like ``connection`` (one item per host), on the same SSH
    connection. Under ``@pytest.mark.su_user(...)``/``run_as`` its commands run as that user;
    ``with testinfra_host.sudo("user"):`` runs them through sudo with the login user's sudo
    password. One Host per (connection, user), so testinfra's per-Host caches are never
    shared between users.
    """
    try:
        from ..integrations.testinfra import testinfra_host as host_for
    except ImportError as exc:
        if not _is_testinfra(exc):
            raise
        missing = f"{MISSING_TESTINFRA} ({exc.__cause__ or exc})"
    else:
        return host_for(connection)
    pytest.fail(missing, pytrace=False)  # outside the except: no chained ImportError shown

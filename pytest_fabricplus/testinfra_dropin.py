"""``-p pytest_fabricplus.testinfra_dropin``: the testinfra drop-in (see :mod:`.plugin.dropin`).

pytest-testinfra's plugin blocked, its spellings (``--hosts``, ``--connection``, ``--sudo``,
...) and its ``host`` fixture served by pytest-fabricplus.
Off: ``-p no:pytest_fabricplus.testinfra_dropin``.
"""

from __future__ import annotations

from .plugin.dropin import pytest_addoption, pytest_report_header

__all__ = ["pytest_addoption", "pytest_report_header"]

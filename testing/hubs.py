"""Driving a fleet-mode ``Hub`` (``pytest_fabricplus/ssh/cooperative.py``) from a test."""

from __future__ import annotations

import time

from pytest_fabricplus.ssh.cooperative import Hub


def run_hub(hub: Hub, limit: float) -> None:
    """Step ``hub`` until every body has ended; fail after ``limit`` seconds."""
    end = time.monotonic() + limit
    while hub.busy:
        assert time.monotonic() < end, "the bodies did not end"
        hub.step(0.05)

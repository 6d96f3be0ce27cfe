"""The "must run" switches: what a test needs from the machine, and what happens without it.

A test that needs something the machine may lack (root and ``sshd``, ``sudo``, a Docker daemon,
headless Chromium, MITRE's inspecjs) calls :func:`need`. Without the thing it is skipped, and
the skip reason says exactly what to install or set; under the switch (``FABRICPLUS_NEED_*=1``,
exported by ``scripts/run-tests.sh``, the test command) it fails instead, so a green run of
the test command means every one of those tests ran.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: root, useradd and openssh-server for the real sshd targets (and sudo for the su/sudo tests)
NEED_SSHD = "FABRICPLUS_NEED_SSHD"
#: a Docker daemon for the container targets
NEED_DOCKER = "FABRICPLUS_NEED_DOCKER"
#: headless Chromium for the HTML report's browser tests
NEED_CHROMIUM = "FABRICPLUS_NEED_CHROMIUM"
#: node and inspecjs for the InSpec JSON scoring tests
NEED_INSPECJS = "FABRICPLUS_NEED_INSPECJS"


def required(switch: str) -> bool:
    """True when ``switch`` (a ``FABRICPLUS_NEED_*`` variable) is set to 1."""
    return os.environ.get(switch) == "1"


def need(switch: str, missing: str) -> NoReturn:
    """Skip the calling test (or fixture) because ``missing`` -- a sentence naming what is
    missing and how to get it -- or fail it when ``switch`` says it must run."""
    if required(switch):
        pytest.fail(f"{missing}; {switch}=1 says these tests must run", pytrace=False)
    pytest.skip(f"{missing} ({switch}=1 makes this a failure)")

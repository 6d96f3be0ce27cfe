"""Helpers shared by the example compliance checks."""

from __future__ import annotations

import pytest
from invoke.runners import Result

from pytest_fabricplus import FabricPlusConnection


class Remote:
    """Small read-only helpers over the ``connection`` fixture."""

    def __init__(self, connection: FabricPlusConnection) -> None:
        self.c = connection

    def run(self, command: str) -> Result:
        return self.c.run(command, hide=True, warn=True)

    def file_mode(self, path: str) -> int:
        return int(self.run(f"stat -c %a {path}").stdout.strip(), 8)

    def sshd_option(self, name: str) -> str | None:
        """Value of an sshd_config keyword as written; like sshd, the first one read wins."""
        text = self.run("cat /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf 2>/dev/null").stdout
        value = None
        for line in text.splitlines():
            parts = line.split()
            if parts and parts[0].lower() == name.lower() and len(parts) > 1:
                value = value or parts[1]  # sshd uses the first value it reads
        return value

    def package_installed(self, name: str) -> bool:
        probe = f"dpkg-query -W -f='${{Status}}' {name} 2>/dev/null | grep -q 'ok installed'"
        return self.run(f"({probe}) || rpm -q {name} >/dev/null 2>&1").ok


@pytest.fixture
def remote(connection: FabricPlusConnection) -> Remote:
    return Remote(connection)

"""Loading the plugin must not load the SSH stack: every pytest process (the xdist
controller, ``pytest --help``, runs without hosts) imports it, and paramiko + invoke +
Fabric cost ~0.3 s of CPU per process. They load with the first connection."""

from __future__ import annotations

import subprocess
import sys

#: (PyYAML too: only inventories and waiver files in YAML need it)
HEAVY = (
    "paramiko",
    "invoke",
    "fabric",
    "fabricplus",
    "docker",
    "testinfra",
    "cryptography",
    "yaml",
)


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.split()


def test_plugin_import_leaves_ssh_stack_unloaded() -> None:
    assert _loaded_after("import pytest, pytest_fabricplus.plugin") == []


def test_package_names_load_their_modules_on_first_use() -> None:
    loaded = _loaded_after(
        "import pytest_fabricplus as p\n"
        "assert p.RunAs('root').user == 'root' and callable(p.preflight)\n"
        "assert p.HostPool.__name__ == 'HostPool' and p.Connector.__module__.endswith('ssh.connector')"
    )
    assert {"paramiko", "invoke", "fabric", "fabricplus"} <= set(loaded)


def test_unknown_package_attribute_is_an_attribute_error() -> None:
    import pytest_fabricplus

    try:
        pytest_fabricplus.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")

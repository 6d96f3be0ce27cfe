"""A Molecule verifier, run unchanged: testinfra 10.2.2 and this plugin, same command line.

Molecule's testinfra verifier runs ``pytest --connection=ansible --ansible-inventory=INV
-p no:cacheprovider TESTS`` with ``MOLECULE_INVENTORY_FILE`` set, and its test modules pick
their hosts with ``AnsibleRunner(...).get_hosts("all")``. The YAML inventory here carries
``ansible_ssh_common_args`` (the known_hosts file and strict checking), as Molecule's do.
Both runs must give every test the same outcome, failures included; ours logs in once per
host, on the item path and in fleet mode (``--fleet``).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from testing.targets import Target

VERIFIER = """
import os

import pytest
import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")


@pytest.fixture(scope="module")
def release(host):
    return host.file("/etc/os-release").content_string


def test_os_release(release):
    assert "ID=" in release


def test_login_user(host):
    assert host.user().name == "fptest"


def test_hostname_file(host):
    assert host.file("/etc/hostname").is_file


def test_not_root(host):
    assert host.user().uid == 0


def test_sshd_binary(host):
    assert host.exists("sshd") or host.file("/usr/sbin/sshd").exists


def test_skipped(host):
    pytest.skip("not applicable here")
"""

_OUTCOME = re.compile(r"^(tests/test_default\.py::\w+)\[([^\]]*)\] (PASSED|FAILED|SKIPPED|ERROR)")


def _outcomes(result: pytest.RunResult) -> dict[tuple[str, str], str]:
    seen = {}
    for line in result.outlines:
        match = _OUTCOME.match(line)
        if match:
            seen[(match.group(1), match.group(2).split("://")[-1])] = match.group(3)
    return seen


@pytest.mark.parametrize("fleet", [[], ["--fleet"]], ids=["item-path", "fleet"])
def test_molecule_verifier_same_outcomes_one_login_per_host(
    fleet: list[str],
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ansible-core is in the dev extra (a missing one fails here); its commands sit next to
    # the interpreter, where testinfra's AnsibleRunner looks for them on PATH
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    assert shutil.which("ansible")
    assert shutil.which("ansible-inventory")
    inventory = pytester.path / "inventory.yml"
    hosts = ""
    for name, target in (("instance-1", sshd), ("instance-2", sshd2)):
        hosts += (
            f"    {name}:\n"
            f"      ansible_host: 127.0.0.1\n"
            f"      ansible_port: {target.port}\n"
            f"      ansible_user: fptest\n"
            f"      ansible_ssh_private_key_file: {target.user.key_path}\n"
            f"      ansible_ssh_common_args: >-\n"
            f"        -o UserKnownHostsFile={both_known_hosts} -o StrictHostKeyChecking=yes\n"
            f"        -o IdentitiesOnly=yes\n"
        )
    inventory.write_text("all:\n  hosts:\n" + hosts)
    monkeypatch.setenv("MOLECULE_INVENTORY_FILE", str(inventory))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "True")
    tests = pytester.mkdir("tests")
    (tests / "test_default.py").write_text(VERIFIER)
    molecule_args = [
        "--connection=ansible",
        f"--ansible-inventory={inventory}",
        "-p",
        "no:cacheprovider",
        "-v",
        str(tests),
    ]
    theirs = pytester.runpytest_subprocess(
        "-p", "testinfra", "-p", "no:fabricplus", *molecule_args, timeout=300
    )
    before = {t.port: len(t.server.connections_logged()) for t in (sshd, sshd2)}
    ours = pytester.runpytest_subprocess(*molecule_args, *fleet, timeout=300)
    after = {t.port: len(t.server.connections_logged()) for t in (sshd, sshd2)}
    expected = _outcomes(theirs)
    assert len(expected) == 12, theirs.stdout.str()
    assert set(expected.values()) == {"PASSED", "FAILED", "SKIPPED"}
    assert _outcomes(ours) == expected, ours.stdout.str()
    assert ours.ret == theirs.ret == 1
    if fleet:  # the module's tests ran host by host's items at once, not on the item path
        ours.stdout.fnmatch_lines(["fabricplus: fleet mode: 6 tests on 12 host items run *"])
        assert "runs host by host" not in ours.stdout.str()
    # one login per host for the whole run (each count adds one marker connection)
    assert {p: after[p] - before[p] - 1 for p in after} == dict.fromkeys(after, 1)

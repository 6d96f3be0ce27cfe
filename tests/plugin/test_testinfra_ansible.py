"""``host.ansible(...)`` and ``host.ansible.get_variables()`` under ``--connection=ansible``.

Molecule's verifier command line (``--connection=ansible --ansible-inventory=INV``) over a
real Ansible INI inventory of two real sshd hosts, run unchanged under testinfra 10.2.2
(``-p no:fabricplus``, its ansible backend) and under this plugin: the same outcomes, and
``get_variables()`` gives both runs the same variables (ansible-core is in the dev extra:
Ansible's own ``ansible`` and ``ansible-inventory`` answer). Without Ansible's commands on
PATH the error names ``pip install ansible-core``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from testing.targets import Target

VERIFIER = """
import json
import os

import testinfra.utils.ansible_runner

testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
    os.environ["MOLECULE_INVENTORY_FILE"]
).get_hosts("all")


def test_get_variables(host):
    v = host.ansible.get_variables()
    name = v["inventory_hostname"]
    assert v["http_port"] == 8080 and v["enabled"] is True and v["app_ports"] == [1, 2]
    assert v["ntp"] == "pool.example"  # from [web:vars]: a string, as Ansible reads it
    assert v["role_id"] == {"instance-1": 1, "instance-2": 2}[name]
    # testinfra 10 adds "all" to group_names, 9.0 (our floor) does not: both hold "web"
    assert "web" in v["group_names"]
    assert v["groups"]["web"] == ["instance-1", "instance-2"]
    out = os.path.join(os.environ["VARS_OUT"], name + ".json")
    with open(out, "w") as handle:
        json.dump(v, handle, sort_keys=True)


def test_ansible_command(host):
    result = host.ansible("command", "id -un", check=False)
    assert (result["rc"], result["stdout"]) == (0, "fptest")


def test_ansible_module_in_check_mode(host):
    assert host.ansible("file", "path=/etc/passwd state=file")["mode"] == "0644"


def test_ansible_ping(host):
    assert host.ansible("ping")["ping"] == "pong"


def test_a_wrong_variable_fails(host):
    assert host.ansible.get_variables()["http_port"] == 9090
"""

_OUTCOME = re.compile(r"^tests/test_default\.py::(\w+)\[([^\]]*)\] (PASSED|FAILED|SKIPPED|ERROR)")


def _outcomes(result: pytest.RunResult) -> dict[tuple[str, str], str]:
    seen = {}
    for line in result.outlines:
        match = _OUTCOME.match(line)
        if match:
            seen[(match.group(1), match.group(2).split("://")[-1])] = match.group(3)
    return seen


def _inventory(path: Path, targets: dict[str, Target], known_hosts: Path) -> None:
    lines = ["[web]"]
    for n, (name, target) in enumerate(targets.items(), 1):
        lines.append(
            f"{name} ansible_host=127.0.0.1 ansible_port={target.port} ansible_user=fptest "
            f"ansible_ssh_private_key_file={target.user.key_path} role_id={n} "
            "http_port=8080 enabled=True app_ports='[1, 2]' "
            f"ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts} "
            "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'"
        )
    lines += ["", "[web:vars]", "ntp=pool.example", ""]
    path.write_text("\n".join(lines))


def test_ansible_module_same_as_testinfra(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    # ansible-core (dev extra) sits next to the interpreter: put it on PATH, as testinfra's
    # AnsibleRunner runs `ansible` and `ansible-inventory` from there
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    inventory = pytester.path / "inventory.ini"
    _inventory(inventory, {"instance-1": sshd, "instance-2": sshd2}, both_known_hosts)
    monkeypatch.setenv("MOLECULE_INVENTORY_FILE", str(inventory))
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "True")
    # Ansible's ssh ControlPath lives under HOME, which pytester makes too long for a socket
    control = Path(tempfile.mkdtemp(prefix="fpa", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(control, ignore_errors=True))
    monkeypatch.setenv("ANSIBLE_SSH_CONTROL_PATH_DIR", str(control))
    tests = pytester.mkdir("tests")
    (tests / "test_default.py").write_text(VERIFIER)
    args = ["--connection=ansible", f"--ansible-inventory={inventory}", "-p", "no:cacheprovider"]
    answers = {}
    runs = {}
    for who, extra in (("theirs", ["-p", "testinfra", "-p", "no:fabricplus"]), ("ours", [])):
        out = pytester.mkdir(f"vars-{who}")
        monkeypatch.setenv("VARS_OUT", str(out))
        runs[who] = pytester.runpytest_subprocess(*extra, *args, "-v", str(tests), timeout=300)
        answers[who] = {p.name: json.loads(p.read_text()) for p in sorted(out.iterdir())}
    expected = _outcomes(runs["theirs"])
    assert len(expected) == 10, runs["theirs"].stdout.str()
    assert {k: v for k, v in expected.items() if v != "PASSED"} == {
        ("test_a_wrong_variable_fails", "instance-1"): "FAILED",
        ("test_a_wrong_variable_fails", "instance-2"): "FAILED",
    }, runs["theirs"].stdout.str()
    assert _outcomes(runs["ours"]) == expected, runs["ours"].stdout.str()
    assert sorted(answers["theirs"]) == ["instance-1.json", "instance-2.json"]
    assert answers["ours"] == answers["theirs"]


def test_without_ansible_core_the_error_says_what_to_install(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ansible's commands are not on this PATH (the dev extra's sit next to the interpreter)
    path = os.pathsep.join(
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "ansible").exists()
    )
    monkeypatch.setenv("PATH", path)
    inventory = pytester.path / "inventory.ini"
    _inventory(inventory, {"instance-1": sshd}, sshd.known_hosts)
    pytester.makepyfile(
        """
        def test_variables(host):
            host.ansible.get_variables()

        def test_module(host):
            host.ansible("ping")

        def test_commands_still_run_on_our_connection(host):
            assert host.check_output("id -un") == "fptest"
        """
    )
    result = pytester.runpytest_subprocess(
        "--connection=ansible", f"--ansible-inventory={inventory}", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "E *ConfigError: host.ansible.get_variables() on instance-1 (fptest@127.0.0.1:*) "
            "runs Ansible's ansible-inventory command, which is not on PATH: "
            "pip install ansible-core*",
            "E *ConfigError: host.ansible(...) on instance-1 * runs Ansible's ansible command*"
            "pip install ansible-core*",
        ],
        consecutive=False,
    )

"""Ansible inventories in a run: ``--hosts=inventory.yml``, ``--ansible-inventory`` (alone,
with ``--hosts`` names/patterns, a dynamic script), ``--force-ansible``, Ansible patterns in
``--hosts-limit`` and ``@pytest.mark.hosts``, warnings for keys we do not honour, and
``ansible_become`` running every test as the become user -- against real sshd servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.targets import PASSWORD_ENV, Target

TESTS = """
def test_where(connection, host_spec):
    out = connection.run("echo $SSH_CONNECTION", hide=True).stdout.split()
    assert int(out[3]) == host_spec.port
    print("RAN", host_spec.id, sorted(host_spec.groups))
"""


def yaml_inventory(sshd: Target, sshd2: Target) -> str:
    return f"""
all:
  vars:
    ansible_user: {sshd.user.name}
  children:
    web:
      hosts:
        web1:
          ansible_host: 127.0.0.1
          ansible_port: {sshd.port}
    prod:
      children:
        web:
        db:
          hosts:
            db1:
              ansible_host: 127.0.0.1
              ansible_port: {sshd2.port}
"""


def base_args(target: Target, known_hosts: Path, *extra: str) -> list[str]:
    return [
        f"--known-hosts={known_hosts}",
        f"--ssh-identity-file={target.user.key_path}",
        "-p",
        "no:cacheprovider",
        "-s",
        *extra,
    ]


def ran(result: pytest.RunResult) -> list[str]:
    return sorted(line.split("RAN ", 1)[1] for line in result.stdout.lines if "RAN " in line)


def test_hosts_option_takes_a_yaml_inventory_for_connection(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TESTS)
    inventory = pytester.path / "inventory.yml"
    inventory.write_text(yaml_inventory(sshd, sshd2))
    result = pytester.runpytest(*sshd.args("-s", hosts=inventory, known_hosts=both_known_hosts))
    result.assert_outcomes(passed=2)
    assert ran(result) == ["db1 ['db', 'prod']", "web1 ['prod', 'web']"]
    result.stdout.fnmatch_lines([f"fabricplus: 2 of 2 hosts from {inventory}*"])


def test_ansible_inventory_alone_is_the_runs_inventory(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inv.yml").write_text(yaml_inventory(sshd, sshd2))
    result = pytester.runpytest(
        *base_args(sshd, both_known_hosts, "--ansible-inventory=inv.yml", "--hosts-limit=prod:!web")
    )
    result.assert_outcomes(passed=1)
    assert ran(result) == ["db1 ['db', 'prod']"]


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        ("web1", ["web1 ['prod', 'web']"]),
        ("ansible://db", ["db1 ['db', 'prod']"]),
        ("prod:&web,db1", ["db1 ['db', 'prod']", "web1 ['prod', 'web']"]),
        ("ansible://all", ["db1 ['db', 'prod']", "web1 ['prod', 'web']"]),
    ],
)
def test_hosts_select_names_and_patterns_of_the_ansible_inventory(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    hosts: str,
    expected: list[str],
) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inv.yml").write_text(yaml_inventory(sshd, sshd2))
    result = pytester.runpytest(
        *base_args(sshd, both_known_hosts, "--ansible-inventory=inv.yml", f"--hosts={hosts}")
    )
    result.assert_outcomes(passed=len(expected))
    assert ran(result) == expected


def test_hosts_naming_nothing_of_the_ansible_inventory_is_a_usage_error(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target
) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inv.yml").write_text(yaml_inventory(sshd, sshd2))
    result = pytester.runpytest("--ansible-inventory=inv.yml", "--hosts=wbe1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--hosts 'wbe1' names no host of the Ansible inventory inv.yml; "
            "hosts: db1, web1; groups: db, prod, web"
        ]
    )


def test_dynamic_inventory_script_and_force_ansible(
    pytester: pytest.Pytester, sshd: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TESTS)
    data = {
        "web": {"hosts": ["scripted"]},
        "_meta": {
            "hostvars": {
                "scripted": {
                    "ansible_host": "127.0.0.1",
                    "ansible_port": sshd.port,
                    "ansible_user": sshd.user.name,
                }
            }
        },
    }
    script = pytester.path / "cmdb.py"
    script.write_text(f"#!/usr/bin/env python3\nimport json\nprint(json.dumps({data!r}))\n")
    script.chmod(0o755)
    result = pytester.runpytest(*base_args(sshd, both_known_hosts, f"--ansible-inventory={script}"))
    result.assert_outcomes(passed=1)
    assert ran(result) == ["scripted ['web']"]
    # --force-ansible: an INI file read by ansible-inventory; Ansible's own error shows
    pytester.path.joinpath("bad.ini").write_text("[web\nh1\n")
    result = pytester.runpytest("--hosts=bad.ini", "--force-ansible")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad.ini: ansible-inventory failed (exit *"])
    result = pytester.runpytest("--hosts=bad.ini")
    result.stderr.fnmatch_lines(["*bad.ini:1: malformed section header*"])


def test_ansible_patterns_in_the_hosts_marker(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("inv.yml").write_text(
        json.dumps(
            {
                "prod": {"children": {"web": None, "db": None}},
                "web": {"hosts": {"web1": None, "web2": None}},
                "db": {"hosts": {"db1": None}},
            }
        )
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hosts("prod:&web:!web2")
        def test_a(connection): pass

        @pytest.mark.hosts("~db")
        def test_b(connection): pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", "--hosts=inv.yml")
    result.stdout.fnmatch_lines(["*::test_a?web1?", "*::test_b?db1?", "2 tests collected*"])


def test_unhonoured_ansible_keys_warn_once_naming_host_and_key(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("inv.yml").write_text(
        "all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n      ansible_ssh_timeout: 3\n"
        "      ansible_python_interpreter: /usr/bin/python3\n"
    )
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest("--collect-only", "--hosts=inv.yml")
    expected = (
        "host web1: Ansible key(s) not honoured (they would change how Ansible connects): "
        "ansible_ssh_timeout"
    )
    result.stdout.fnmatch_lines(
        [f"fabricplus: warning: {expected}", f"*PytestConfigWarning: {expected}"]
    )
    assert "ansible_python_interpreter" not in result.stdout.str()


@pytest.mark.usefixtures("sudoers", "login_password")
def test_ansible_become_runs_every_test_as_the_become_user(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    inventory = pytester.path / "inv.yml"
    inventory.write_text(
        f"""
all:
  hosts:
    web1:
      ansible_host: 127.0.0.1
      ansible_port: {sshd.port}
      ansible_user: {sshd.user.name}
      ansible_become: true
      ansible_become_user: {sshd.other.name}
      ansible_become_method: sudo
"""
    )
    pytester.makepyfile(
        f"""
        import pytest

        def test_become(connection):
            assert connection.run("id -un", hide=True).stdout.strip() == "{sshd.other.name}"

        @pytest.mark.su_user("fptestsvc", method="sudo")
        def test_marker_wins(connection):
            assert connection.run("id -un", hide=True).stdout.strip() == "fptestsvc"
        """
    )
    result = pytester.runpytest(*sshd.args(f"--sudo-password-env={PASSWORD_ENV}", hosts=inventory))
    result.assert_outcomes(passed=2)


def test_ansible_scheme_without_inventory_reads_ansibles_default_inventory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """testinfra's ``--hosts=ansible://web``: Ansible's configured inventory ($ANSIBLE_INVENTORY)."""
    inventory = pytester.path / "default.ini"
    inventory.write_text(
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.1\n[db]\ndb1 ansible_host=127.0.0.1\n"
    )
    monkeypatch.setenv("ANSIBLE_INVENTORY", str(inventory))
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest("--collect-only", "-q", "--hosts=ansible://web:!web2")
    result.stdout.fnmatch_lines(["*::test_a?web1?", "1 test collected*"])
    result = pytester.runpytest("--collect-only", "--hosts=ansible://mail")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--hosts 'ansible://mail' names no host of Ansible's default inventory; hosts: db1, web1, web2*"
        ]
    )


def test_ansible_inventory_under_xdist(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inv.yml").write_text(
        yaml_inventory(sshd, sshd2) + "              ansible_ssh_timeout: 3\n"
    )
    result = pytester.runpytest_subprocess(
        *base_args(sshd, both_known_hosts, "--ansible-inventory=inv.yml", "-n", "2"),
        timeout=120,
    )
    result.assert_outcomes(passed=2, warnings=1)  # said once, by the controller


def test_unhonoured_key_under_warnings_as_errors_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.path.joinpath("inv.yml").write_text(
        "all:\n  hosts:\n    web1:\n      ansible_host: 127.0.0.1\n      ansible_shell_type: csh\n"
    )
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest("--collect-only", "--hosts=inv.yml", "-W", "error")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*host web1: *ansible_shell_type (warnings are errors in this run)"]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()

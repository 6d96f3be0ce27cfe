"""Every Python example of README.md and docs/ runs (testing/doc_examples.py finds them).

``pytest`` examples run as a test file through pytester against two real sshd targets listed in
an ``inventory.ini`` (Ansible INI: ``web1`` in group ``web``, ``web2`` in group ``db``) with
their ``known_hosts``; every test must pass (or the outcomes the example names). ``script``
examples run as Python scripts in a folder holding the same files; ``docker`` ones start the
shipped container targets. ``fragment`` examples are compiled. Users: the pages' user names are
replaced by the local test users where the example says so (``replace=``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from testing.doc_examples import Example, all_examples

EXAMPLES = all_examples()
TIMEOUT = 120


def _by_kind(*kinds: str) -> list[Any]:
    return [pytest.param(e, id=e.id) for e in EXAMPLES if e.kind in kinds]


@pytest.fixture
def folder(
    pytester: pytest.Pytester,
    sshd: Any,
    sshd2: Any,
    both_known_hosts: Path,
    sudoers: Path,
    login_password: str,
    su_password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """pytester's folder with ``inventory.ini`` and ``known_hosts`` for the two targets, the
    test users' passwords in their variables and Ansible's commands on PATH."""
    key = sshd.user.key_path
    pytester.path.joinpath("inventory.ini").write_text(
        "[web]\n"
        f"web1 ansible_host={sshd.host} ansible_port={sshd.port} ansible_user={sshd.user.name}"
        f" ansible_ssh_private_key_file={key}\n"
        "[db]\n"
        f"web2 ansible_host={sshd2.host} ansible_port={sshd2.port} ansible_user={sshd.user.name}"
        f" ansible_ssh_private_key_file={key}\n"
    )
    pytester.path.joinpath("known_hosts").write_text(both_known_hosts.read_text())
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("MOLECULE_INVENTORY_FILE", "inventory.ini")  # migrate-molecule.md
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "True")
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-o UserKnownHostsFile=known_hosts")
    return pytester.path


def pytest_args(example: Example, folder: Path) -> list[str]:
    """The inner run's command line; the hosts and known_hosts go into its ini file (``tox.ini``
    in pytester's folder: ini keys are one spelling, whichever flag spellings are registered)."""
    ini = ["[pytest]", "fabricplus_known_hosts = known_hosts"]
    if not any(a.startswith(("--hosts", "--ansible-inventory")) for a in example.args):
        ini.append("fabricplus_hosts = inventory.ini")
    (folder / "tox.ini").write_text("\n".join(ini) + "\n")
    return ["-p", "no:cacheprovider", *example.args]


def test_every_python_block_is_described() -> None:
    """all_examples() raised at import for a block without its comment; this names the count
    (README's first-run example and the tutorial's four are among them)."""
    kinds = {e.kind for e in EXAMPLES}
    assert {"pytest", "script", "docker"} <= kinds
    assert any(e.path.name == "README.md" for e in EXAMPLES)


@pytest.mark.parametrize("example", [pytest.param(e, id=e.id) for e in EXAMPLES])
def test_compiles(example: Example) -> None:
    compile(example.source(), example.id, "exec")


def _pytest_groups() -> list[Any]:
    """The ``pytest`` examples grouped by their command line: one inner run per group."""
    groups: dict[tuple[str, ...], list[Example]] = {}
    for example in EXAMPLES:
        if example.kind == "pytest":
            groups.setdefault(example.args, []).append(example)
    return [
        pytest.param(examples, id=" ".join(args) or "no-args") for args, examples in groups.items()
    ]


def file_name(example: Example) -> str:
    return "test_" + re.sub(r"[^A-Za-z0-9]+", "_", example.id)


@pytest.mark.parametrize("examples", _pytest_groups())
def test_pytest_examples(examples: list[Example], folder: Path, pytester: pytest.Pytester) -> None:
    """Each example a test file of one run; each file's outcomes as the example says (by
    default: only passes)."""
    for example in examples:
        pytester.makepyfile(**{file_name(example): example.source()})
    recorder = pytester.inline_run(*pytest_args(examples[0], folder))
    assert not recorder.getfailedcollections(), recorder.getfailedcollections()
    counts: dict[str, Counter[str]] = {f"{file_name(e)}.py": Counter() for e in examples}
    failures = []
    for outcome, reports in zip(
        ("passed", "skipped", "failed"), recorder.listoutcomes(), strict=True
    ):
        for report in reports:
            counts[report.nodeid.split("::")[0]][outcome] += 1
            if outcome == "failed":
                failures.append(f"{report.nodeid}: {report.longreprtext}")
    for example in examples:
        found = dict(counts[f"{file_name(example)}.py"])
        expected = example.outcomes or {"passed": found.get("passed", 0) or 1}
        assert found == expected, f"{example.id}: {found}\n" + "\n".join(failures)


@pytest.mark.parametrize("example", _by_kind("script"))
def test_script_example(example: Example, folder: Path) -> None:
    script = folder / "example.py"
    script.write_text(example.source())
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "web1" in done.stdout, done.stdout  # it reached the inventory's hosts


@pytest.mark.docker
@pytest.mark.parametrize("example", _by_kind("docker"))
def test_docker_example(example: Example, require_docker: None, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(example.source())
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ssh -p" in done.stdout, done.stdout


def test_fleet_example_names_an_unreachable_host(folder: Path, pytester: pytest.Pytester) -> None:
    """The fleets page's kernel check on a fleet with a dead host: one PoolError naming it
    (the example used to fail with AttributeError on ``o.value.stdout``)."""
    example = next(e for e in EXAMPLES if "def test_kernels" in e.code)
    dead = "dead ansible_host=127.0.0.1 ansible_port=1\n"  # nothing listens on port 1
    inventory = folder / "inventory.ini"
    inventory.write_text(inventory.read_text() + dead)
    pytester.makepyfile(test_fleet=example.source())
    result = pytester.runpytest_subprocess(
        *pytest_args(example, folder), "-k", "test_kernels", timeout=TIMEOUT
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*PoolError: 1 of 3 hosts failed `uname -r`:*", "*dead*refused*"])
    result.stdout.no_fnmatch_line("*AttributeError*")

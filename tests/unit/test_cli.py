"""``python -m pytest_fabricplus``: a table of subcommands, clear errors with exit 2."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from pytest_fabricplus import cli


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_fabricplus", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_help_lists_the_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "build-base" in result.stdout
    assert "containers-dir" in result.stdout


def test_no_command_prints_help_and_exits_2() -> None:
    result = _run()
    assert result.returncode == 2
    assert "build-base" in result.stderr


def test_unknown_command_is_a_usage_error_without_traceback() -> None:
    result = _run("merge-report")
    assert result.returncode == 2
    assert "invalid choice: 'merge-report'" in result.stderr
    assert "Traceback" not in result.stderr


def test_build_base_without_a_daemon_is_a_clear_error_with_exit_2() -> None:
    result = _run("build-base", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: no Docker daemon answers" in result.stderr  # the builder's own message
    assert "python -m pytest_fabricplus build-base: error: the base image builder failed" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_containers_dir_names_a_bad_override() -> None:
    result = _run("containers-dir", FABRICPLUS_CONTAINERS_DIR="/nonexistent/context")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "python -m pytest_fabricplus containers-dir: error: FABRICPLUS_CONTAINERS_DIR="
        "/nonexistent/context is not a target build context (no provision.sh in it); point it "
        "at a copy of the containers/ directory, or unset it to use the one shipped with "
        "pytest-fabricplus"
    )


def test_a_command_is_one_table_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[argparse.Namespace] = []

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("files", nargs="+")

    def run(args: argparse.Namespace) -> int:
        seen.append(args)
        if args.files == ["bad"]:
            raise cli.CLIError("bad is not a report")
        return 0

    extra = cli.Command("sum-reports", "sum JSON reports", add, run)
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, extra])
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    assert "sum-reports sum JSON reports" in " ".join(capsys.readouterr().out.split())
    assert cli.main(["sum-reports", "a.json", "b.json"]) == 0
    assert seen[-1].files == ["a.json", "b.json"]
    assert cli.main(["sum-reports", "bad"]) == 2
    assert capsys.readouterr().err == (
        "python -m pytest_fabricplus sum-reports: error: bad is not a report\n"
    )

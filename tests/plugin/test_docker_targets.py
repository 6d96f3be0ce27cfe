"""--docker-targets: one container set per run (also with xdist), removed afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.docker


def _client() -> object:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # no daemon
        pytest.skip(f"no Docker daemon answers ({exc}); ./scripts/run-tests.sh starts one")
    return client


@pytest.fixture(scope="module")
def client() -> object:
    return _client()


def containers_named(client: object, names: set[str]) -> list[str]:
    found = client.containers.list(all=True, filters={"label": "pytest-fabricplus"})  # type: ignore[attr-defined]
    return [c.name for c in found if c.name in names]


INNER = """
import json, os
import pytest

def test_sees_targets(connection, host_spec, docker_targets, tmp_path_factory):
    marker = connection.run("cat /etc/fabricplus-target", hide=True).stdout
    assert host_spec.alias in marker
    out = os.path.join(os.environ["FP_OUT"], os.environ.get("PYTEST_XDIST_WORKER", "main"))
    with open(out + "-" + host_spec.alias, "w") as f:
        json.dump(sorted(t.container_name for t in docker_targets.values()), f)

@pytest.mark.parametrize("n", range(3))
def test_more(connection, n):
    assert connection.run("true").ok
"""


def test_xdist_shares_one_container_set_and_removes_it(
    pytester: pytest.Pytester, client: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_OUT", str(tmp_path))
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess(
        "--docker-targets=ubuntu,centos7", "-n", "4", "-p", "no:cacheprovider", timeout=600
    )
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 2 of 2 hosts from --docker-targets*",
            "fabricplus docker targets: ubuntu = ubuntu* at 127.0.0.1:*, centos7 = centos7 "
            "(el7-emulated on debian base) at 127.0.0.1:*",
        ]
    )
    seen = {tuple(json.loads(p.read_text())) for p in tmp_path.iterdir()}
    assert len(seen) == 1, seen  # every worker saw the same two containers
    (names,) = seen
    assert len(names) == 2
    assert containers_named(client, set(names)) == []  # removed at the end


def test_keep_leaves_them_and_says_how_to_connect(
    pytester: pytest.Pytester, client: object
) -> None:
    pytester.makepyfile("def test_a(connection): connection.run('true')")
    result = pytester.runpytest_subprocess(
        "--docker-targets=ubuntu", "--docker-targets-keep", "-p", "no:cacheprovider", timeout=300
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*fabricplus: docker targets kept*", "*ubuntu: ubuntu*", "*ssh -p * fpuser@127.0.0.1"]
    )
    assert "fp-" not in result.stdout.str()  # generated passwords are not printed
    kept = client.containers.list(all=True, filters={"label": "pytest-fabricplus.keep=1"})  # type: ignore[attr-defined]
    assert kept
    for container in kept:
        container.remove(force=True)


def test_sigint_removes_containers(
    pytester: pytest.Pytester, client: object, tmp_path: Path
) -> None:
    flag = tmp_path / "started"
    pytester.makepyfile(
        f"""
        import pathlib, time
        def test_slow(connection, docker_targets):
            pathlib.Path({str(flag)!r}).write_text(
                "\\n".join(t.container_name for t in docker_targets.values()))
            time.sleep(120)
        """
    )
    log = tmp_path / "pytest.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "--docker-targets=ubuntu", "-p", "no:cacheprovider"],
            cwd=pytester.path,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + 180
        while not flag.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert flag.exists(), log.read_text()
        names = set(flag.read_text().split())
        assert containers_named(client, names)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert containers_named(client, names) == [], log.read_text()
    assert "KeyboardInterrupt" in log.read_text()


def test_no_daemon_is_a_usage_error_saying_how_to_start_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(connection): pass")
    env_result = subprocess.run(
        [sys.executable, "-m", "pytest", "--docker-targets=ubuntu", "-p", "no:cacheprovider"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
        timeout=120,
    )
    assert env_result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "--docker-targets:" in env_result.stderr
    assert "dockerd" in env_result.stderr


def test_unknown_kind_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--docker-targets=ubuntu,rhel9")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--docker-targets: 'ubuntu,rhel9': unknown target kind(s) rhel9; available: ubuntu, centos7"
        ]
    )


def test_progress_before_the_terminal_exists(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    """Images are built at configure time, when the terminal reporter may not exist yet."""
    from pytest_fabricplus.plugin.docker import DockerTargetsPlugin

    config = pytester.parseconfig()  # not configured: no terminal reporter registered
    assert config.pluginmanager.get_plugin("terminalreporter") is None
    DockerTargetsPlugin(config, ("ubuntu",), keep=False)._say("building target images ubuntu")
    assert "fabricplus: building target images ubuntu" in capsys.readouterr().err

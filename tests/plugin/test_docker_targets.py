"""--docker-targets: one container set per run (also with xdist), removed afterwards;
``--help``/``--version``/``--collect-only`` with targets configured touch no Docker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.processes import reaped, wait_for_file

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.docker


def _client() -> object:
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:  # no daemon
        why = f"no Docker daemon answers ({exc}); ./scripts/run-tests.sh starts one"
        if os.environ.get("FABRICPLUS_NEED_DOCKER") == "1":
            pytest.fail(why + " (FABRICPLUS_NEED_DOCKER=1: a missing daemon is a failure)")
        pytest.skip(why)
    return client


@pytest.fixture(scope="module")
def client() -> object:
    return _client()


def containers_named(client: object, names: set[str]) -> list[str]:
    found = client.containers.list(
        ignore_removed=True, all=True, filters={"label": "pytest-fabricplus"}
    )  # type: ignore[attr-defined]
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
    kept = client.containers.list(
        ignore_removed=True, all=True, filters={"label": "pytest-fabricplus.keep=1"}
    )  # type: ignore[attr-defined]
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
    with reaped(proc):
        wait_for_file(flag, proc, log.read_text, "the test never started", timeout=180, poll=0.2)
        names = set(flag.read_text().split())
        assert containers_named(client, names)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
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
    """Progress is written even when the terminal reporter does not exist (-p no:terminal)."""
    from pytest_fabricplus.plugin.docker import DockerTargetsPlugin

    config = pytester.parseconfig()  # not configured: no terminal reporter registered
    assert config.pluginmanager.get_plugin("terminalreporter") is None
    DockerTargetsPlugin(config, ("ubuntu",), keep=False)._say("building target images ubuntu")
    assert "fabricplus: building target images ubuntu" in capsys.readouterr().err


# --------------------------------------------------------------------------------------
# --help / --version / --collect-only: with targets configured in the ini file they touch
# no Docker daemon at all (not even a ping), build and start nothing.
# --------------------------------------------------------------------------------------


class RecordingDaemon:
    """A unix socket standing in for the Docker daemon: it records every connection and
    answers none (a client that tried would fail)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(8)
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:  # timeout: look at the stop flag again
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()


@pytest.fixture
def recording_daemon(tmp_path: Path) -> Iterator[RecordingDaemon]:
    # AF_UNIX paths are limited to ~107 bytes: pytest's tmp_path can be longer
    short = Path(f"/tmp/fp-docker-{os.getpid()}-{tmp_path.name[-20:]}.sock")
    short.unlink(missing_ok=True)
    daemon = RecordingDaemon(short)
    try:
        yield daemon
    finally:
        daemon.close()
        short.unlink(missing_ok=True)


OS_TEST = """
def test_os(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fpuser"
"""


def _configured(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfabricplus_docker_targets = ubuntu,centos7\n")
    pytester.makepyfile(test_os=OS_TEST)


def _run(
    pytester: pytest.Pytester, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_touch_no_docker(
    pytester: pytest.Pytester, recording_daemon: RecordingDaemon, flag: str
) -> None:
    _configured(pytester)
    env = {
        "DOCKER_HOST": f"unix://{recording_daemon.path}",
        # a build context lookup would fail loudly with this
        "FABRICPLUS_CONTAINERS_DIR": str(pytester.path / "no-such-context"),
    }
    result = _run(pytester, env, flag)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback (most recent call last)" not in output
    assert "fabricplus" in output if flag == "--help" else "pytest" in output
    assert recording_daemon.connections == 0


def test_collect_only_lists_the_target_items_and_touches_no_docker(
    pytester: pytest.Pytester, recording_daemon: RecordingDaemon
) -> None:
    _configured(pytester)
    env = {
        "DOCKER_HOST": f"unix://{recording_daemon.path}",
        "FABRICPLUS_CONTAINERS_DIR": str(pytester.path / "no-such-context"),
    }
    result = _run(pytester, env, "--collect-only", "-q")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback (most recent call last)" not in output
    assert "test_os.py::test_os[ubuntu]" in result.stdout
    assert "test_os.py::test_os[centos7]" in result.stdout
    assert "2 tests collected" in result.stdout
    assert recording_daemon.connections == 0


def test_collect_only_against_the_real_daemon_creates_no_container(
    pytester: pytest.Pytester, client: object
) -> None:
    """The same run with the real daemon reachable: the daemon's event log shows no
    container created by that process while it ran (containers carry their pytest
    process's pid as a label; a started set would be removed again by the end, so looking
    at ``docker ps`` afterwards alone could not tell)."""
    _configured(pytester)
    started = int(time.time()) - 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out, _ = proc.communicate(timeout=300)
    ended = int(time.time()) + 1
    assert proc.returncode == 0, out
    assert "test_os.py::test_os[ubuntu]" in out
    assert "test_os.py::test_os[centos7]" in out
    label = f"label=pytest-fabricplus.owner-pid={proc.pid}"
    events = subprocess.run(
        [
            *("docker", "events", "--since", str(started), "--until", str(ended)),
            *("--filter", "type=container", "--filter", "event=create", "--filter", label),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert events.stdout.strip() == ""
    docker_ps = subprocess.run(
        ["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True, check=True
    )
    assert docker_ps.stdout.strip() == ""

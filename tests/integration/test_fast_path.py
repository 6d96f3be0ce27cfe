"""``FABRICPLUS_FAST_PATH=0`` (the libraries' public API only) and the default fast path agree.

The same suite runs against a real sshd once per mode; every check writes what it saw
(stdout, stderr, exit code, errors) to a JSON file, and the two modes' files must be equal.
The suite also counts calls of the direct channel path, so the switch is seen to act.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.targets import Target

CONFTEST = """
import json, os
import pytest
from pytest_fabricplus.ssh import runner

CALLS = {"direct": 0}
_direct = runner.run_direct

def counting(*args, **kwargs):
    CALLS["direct"] += 1
    return _direct(*args, **kwargs)

runner.run_direct = counting

@pytest.fixture
def record(request):
    seen = {}
    yield seen
    path = os.path.join(os.environ["FP_OUT"], request.node.originalname + ".json")
    with open(path, "w") as handle:
        json.dump(seen, handle, sort_keys=True)

def pytest_sessionfinish(session):
    with open(os.path.join(os.environ["FP_OUT"], "calls.json"), "w") as handle:
        json.dump(CALLS, handle)
"""

SUITE = r"""
import io
import pytest
from invoke.exceptions import UnexpectedExit
from pytest_fabricplus import CommandTimeout

def result(r):
    return {"stdout": r.stdout, "stderr": r.stderr, "exited": r.exited, "command": r.command}

def test_streams_and_exit(connection, record):
    record["r"] = result(connection.run("echo out; echo err >&2; exit 3", warn=True, hide=True))

def test_unexpected_exit(connection, record):
    with pytest.raises(UnexpectedExit) as info:
        connection.run("echo nope >&2; exit 4", hide=True)
    record["r"] = result(info.value.result)

def test_multibyte_and_large(connection, record):
    r = connection.run("printf 'h\xc3\xa9llo \xe2\x82\xac\\n'; head -c 300000 /dev/zero | tr '\\0' x", hide=True)
    record["head"], record["size"] = r.stdout[:10], len(r.stdout)

def test_cd_prefix_env(connection, record):
    with connection.cd("/tmp"), connection.prefix("export FP_X=1"):
        record["cd"] = connection.run("pwd; echo $FP_X", hide=True).stdout
    connection.config.run.env = {"FP_Y": "two"}
    record["env"] = connection.run("echo $FP_Y", hide=True).stdout

def test_state_reset_between_tests(connection, record):
    record["after"] = connection.run("pwd; echo ${FP_X:-unset} ${FP_Y:-unset}", hide=True).stdout

def test_timeout_kills(connection, record):
    with pytest.raises(CommandTimeout) as info:
        connection.run("sleep 30", timeout=0.5)
    record["error"] = str(info.value)
    record["next"] = connection.run("echo alive", hide=True).stdout

def test_pty(connection, record):
    record["pty"] = connection.run("tty -s && echo tty", pty=True, hide=True, warn=True).stdout.strip()

@pytest.mark.su_user("fptest2", method="su", password_env="FPTEST_SU_PASSWORD")
def test_su_user(connection, record):
    record["r"] = result(connection.run("id -un; echo $HOME", hide=True))
    record["r"]["command"] = None  # shown as the user wrote it in both modes; not compared

def test_pool(host_pool, record):
    outcome = next(iter(host_pool.run("hostname >/dev/null && echo pooled").values()))
    record["pool"] = (outcome.stdout, outcome.exited, outcome.ok)

def test_put_get(connection, record, tmp_path):
    connection.put(io.BytesIO(b"payload\n"), "/tmp/fp-fast-path-check")
    local = tmp_path / "back"
    connection.get("/tmp/fp-fast-path-check", str(local))
    record["back"] = local.read_text()
"""


def _run(pytester: pytest.Pytester, sshd: Target, mode: str, out: Path) -> dict[str, object]:
    out.mkdir()
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        # the exec path's fast and public variants are compared (the persistent shell has
        # its own contract test: tests/plugin/test_remote_shell_option.py)
        *sshd.args("--remote-shell=exec"),
        timeout=180,
        # the environment of the inner run is the outer one plus these
    )
    result.assert_outcomes(passed=10)
    seen = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    return seen


def test_public_api_path_gives_the_same_results(
    pytester: pytest.Pytester,
    sshd: Target,
    su_password: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runs = {}
    for mode in ("1", "0"):
        out = tmp_path / f"mode-{mode}"
        monkeypatch.setenv("FP_OUT", str(out))
        monkeypatch.setenv("FABRICPLUS_FAST_PATH", mode)
        runs[mode] = _run(pytester, sshd, mode, out)
    fast, public = runs["1"], runs["0"]
    assert fast.pop("calls")["direct"] >= 8  # type: ignore[index]
    assert public.pop("calls")["direct"] == 0  # type: ignore[index]
    assert fast == public
    assert fast["test_state_reset_between_tests"] == {"after": f"{sshd.user.home}\nunset unset\n"}
    assert fast["test_su_user"]["r"]["stdout"] == "fptest2\n/home/fptest2\n"  # type: ignore[index]
    assert fast["test_pty"] == {"pty": "tty"}

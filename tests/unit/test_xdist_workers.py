"""What the xdist controller sends its workers and how it treats one that cannot start
(fake nodes; the real processes are in tests/plugin/test_xdist_remote_workers.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pytest_fabricplus.fleet.state import RunState
from pytest_fabricplus.plugin.fixtures import STATE_KEY
from pytest_fabricplus.plugin.xdist import SECRETS_KEY, XdistHooks, worker_failure
from pytest_fabricplus.secrets import password_env_arguments
from pytest_fabricplus.settings import Settings

REMOTE_TRACEBACK = """Traceback (most recent call last):
  File "<string>", line 1, in <module>
  File "/usr/lib/python3/dist-packages/_pytest/main.py", line 283, in wrap_session
    config.hook.pytest_sessionstart(session=session)
_pytest.config.exceptions.UsageError: environment variable WEB_PW holds the login password for web1 but is not set
"""


def node(worker: str, popen: bool = True) -> Any:
    spec = SimpleNamespace(popen=popen, ssh=None if popen else "ci@box")
    return SimpleNamespace(gateway=SimpleNamespace(id=worker, spec=spec), workerinput={})


def hooks(host_ids: list[str], secrets: dict[str, str] | None = None) -> XdistHooks:
    config: Any = SimpleNamespace(getvalue=lambda name: "load", stash=pytest.Stash())
    result = XdistHooks(config)
    result.set_hosts(host_ids, secrets, lambda text: text.replace("s3cret", "********"))
    result._scanned = True  # no source scan: no pytest config here
    return result


def test_worker_failure_is_the_exception_line() -> None:
    error = SimpleNamespace(formatted=REMOTE_TRACEBACK)
    assert worker_failure(error) == (
        "environment variable WEB_PW holds the login password for web1 but is not set"
    )
    other = "Traceback...\nModuleNotFoundError: No module named 'pytest_fabricplus'\n"
    assert worker_failure(other) == "ModuleNotFoundError: No module named 'pytest_fabricplus'"
    assert worker_failure("Not properly terminated") == "Not properly terminated"


def test_worker_that_dies_before_ready_stops_the_run_once() -> None:
    xdist = hooks(["web1"])
    ready, starting = node("gw0"), node("gw1", popen=False)
    xdist.pytest_configure_node(ready)
    xdist.pytest_configure_node(starting)
    xdist.pytest_testnodeready(ready)
    xdist.pytest_testnodedown(ready, "segfault in a test")  # xdist's business: no error
    with pytest.raises(pytest.UsageError) as raised:
        xdist.pytest_testnodedown(starting, SimpleNamespace(formatted=REMOTE_TRACEBACK))
    message = str(raised.value)
    assert message.startswith("xdist worker gw1 (ssh=ci@box) could not start: ")
    assert "WEB_PW" in message
    assert "'Remote xdist workers'" in message  # where the docs say what a worker needs


def test_failure_reason_is_redacted() -> None:
    xdist = hooks(["web1"])
    with pytest.raises(pytest.UsageError) as raised:
        xdist.pytest_testnodedown(node("gw0"), "ValueError: bad password s3cret")
    assert "s3cret" not in str(raised.value)
    assert "********" in str(raised.value)


def test_worker_interrupted_while_starting_is_no_start_up_failure() -> None:
    xdist = hooks(["web1"])
    state = RunState(settings=Settings())
    state.interrupted = True  # Ctrl-C while the worker was starting
    xdist.config.stash[STATE_KEY] = state
    xdist.pytest_testnodedown(node("gw0"), "KeyboardInterrupt")  # nothing raised


def test_runs_without_hosts_keep_xdist_behaviour() -> None:
    xdist = hooks([])
    xdist.pytest_testnodedown(node("gw0"), "UsageError: anything")  # nothing raised


def test_workers_get_the_secrets_in_workerinput() -> None:
    xdist = hooks(["web1"], {"WEB_PW": "s3cret"})
    worker = node("gw0")
    xdist.pytest_configure_node(worker)
    assert worker.workerinput[SECRETS_KEY] == {"WEB_PW": "s3cret"}


def test_worker_secrets_are_the_variables_of_the_selected_hosts(tmp_path: Any) -> None:
    inventory = tmp_path / "inv.txt"
    inventory.write_text(
        "web1 password_env=WEB1_PW\nweb2 password_env=WEB2_PW sudo_password_env=WEB2_SUDO\n"
    )
    settings = Settings(hosts=str(inventory), hosts_limit="web2", su_password_env="SU_PW")
    env = {"WEB1_PW": "a", "WEB2_PW": "b", "WEB2_SUDO": "c", "SU_PW": "d", "OTHER": "e"}
    state = RunState.build(settings, env=env)
    assert state.worker_secrets() == {"WEB2_PW": "b", "WEB2_SUDO": "c", "SU_PW": "d"}


def test_password_env_arguments_in_source() -> None:
    source = """
@pytest.mark.su_user("app", password_env="APP_PW")
def test_a(run_as):
    with run_as("db", password_env='DB_PW'): ...
    run_as("x", password_env=name)  # not a literal: not found
"""
    assert password_env_arguments(source) == {"APP_PW", "DB_PW"}

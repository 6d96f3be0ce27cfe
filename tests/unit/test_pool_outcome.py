"""``HostOutcome`` reads like the ``Result`` of Fabric's ``GroupResult``."""

from __future__ import annotations

import pytest
from invoke.exceptions import UnexpectedExit
from invoke.runners import Result

from pytest_fabricplus import HostOutcome, HostUnreachable, PoolError, PoolResult
from pytest_fabricplus.fleet.pool import HostRaised
from pytest_fabricplus.hosts.spec import HostSpec

WEB = HostSpec("10.0.0.1", id="web1", user="deploy")
DB = HostSpec("10.0.0.2", id="db1", user="deploy")


def test_a_returned_result_answers_like_fabric() -> None:
    outcome = HostOutcome(WEB, value=Result(stdout="deploy\n", stderr="", exited=0, command="id"))
    assert (outcome.stdout, outcome.stderr, outcome.exited, outcome.return_code) == (
        "deploy\n",
        "",
        0,
        0,
    )
    assert outcome.ok
    assert not outcome.failed
    assert outcome.command == "id"


def test_a_nonzero_exit_answers_from_its_result_raised_or_not() -> None:
    warned = HostOutcome(WEB, value=Result(stdout="", stderr="no\n", exited=3, command="x"))
    raised = HostOutcome(
        WEB, error=UnexpectedExit(Result(stdout="", stderr="no\n", exited=3, command="x"))
    )
    for outcome in (warned, raised):
        assert outcome.failed
        assert not outcome.ok
        assert (outcome.exited, outcome.stderr, outcome.command) == (3, "no\n", "x")
        assert outcome.describe() == "exit 3: no"


def test_a_host_that_raised_says_what_it_raised() -> None:
    outcome = HostOutcome(DB, error=HostUnreachable("db1 (deploy@10.0.0.2)", "refused", "nope"))
    assert outcome.failed
    assert outcome.exited is None
    assert outcome.return_code is None
    with pytest.raises(HostRaised) as info:
        _ = outcome.stdout
    assert str(info.value) == (
        "db1 (deploy@10.0.0.2) has no stdout: it raised unreachable (refused): nope"
    )
    assert isinstance(info.value, AttributeError)  # getattr(outcome, "stdout", None) works


def test_pool_result_is_a_mapping_in_host_order_with_one_error() -> None:
    ok = HostOutcome(WEB, value=Result(stdout="1\n", exited=0))
    bad = HostOutcome(DB, value=Result(stdout="", stderr="inactive\n", exited=3))
    results = PoolResult("`x`", [ok, bad])
    assert list(results) == ["web1", "db1"]
    assert [o.stdout for o in results.values()] == ["1\n", ""]
    assert list(results.failed) == ["db1"]
    assert list(results.succeeded) == ["web1"]
    with pytest.raises(PoolError) as info:
        results.raise_on_failure()
    assert str(info.value) == "1 of 2 hosts failed `x`:\n  db1 (deploy@10.0.0.2): exit 3: inactive"


def test_a_bug_on_a_host_is_chained_for_its_traceback() -> None:
    """A host's unexpected exception (a bug: TypeError) is the PoolError's cause, so pytest
    shows its traceback; a host's ordinary failure (unreachable, non-zero exit) is not."""
    try:
        raise TypeError("simulated bug")
    except TypeError as exc:
        bug = exc
    dead = HostOutcome(WEB, error=HostUnreachable("web1", "refused", "connection refused"))
    buggy = HostOutcome(DB, error=bug)
    with pytest.raises(PoolError) as info:
        PoolResult("`x`", [dead, buggy]).raise_on_failure()
    assert info.value.__cause__ is bug
    assert "db1 (deploy@10.0.0.2): TypeError: simulated bug" in str(info.value)
    exited = HostOutcome(
        DB, error=UnexpectedExit(Result(stdout="", stderr="no\n", exited=3, command="x"))
    )
    with pytest.raises(PoolError) as info:
        PoolResult("`x`", [dead, exited]).raise_on_failure()
    assert info.value.__cause__ is None

"""host_pool: every selected host at once, per-host outcomes, one error naming each failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.sshd import free_port
from testing.targets import Target


def inventory(path: Path, *targets: Target, dead_port: int | None = None) -> Path:
    lines = ["[web]"]
    for i, t in enumerate(targets, start=1):
        lines.append(f"web{i} ansible_host=127.0.0.1 ansible_port={t.port} ansible_user=fptest")
    if dead_port:
        lines += [
            "[db]",
            f"dead ansible_host=127.0.0.1 ansible_port={dead_port} ansible_user=fptest",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_on_all_hosts_with_per_host_results(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(
        """
        import io

        def test_run(host_pool):
            assert len(host_pool) == 2
            results = host_pool.run("echo $((6*7))")
            assert results.ok
            assert sorted(results) == ["web1", "web2"]
            assert {h: o.value.stdout for h, o in results.items()} == {"web1": "42\\n", "web2": "42\\n"}

        def test_map_put_get(host_pool, tmp_path):
            # both test "hosts" share this machine's /tmp: one file per host
            host_pool.put(io.BytesIO(b"data"), "/tmp/fp-pool-put-{host}").raise_on_failure()
            got = host_pool.map(lambda c: c.run(f"cat /tmp/fp-pool-put-{c.spec.id}", hide=True).stdout)
            assert got.values_by_host() == {"web1": "data", "web2": "data"}
            host_pool.get("/tmp/fp-pool-put-web1", str(tmp_path / "{host}.txt")).raise_on_failure()
            assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["data", "data"]
            assert sorted(p.name for p in tmp_path.iterdir()) == ["web1.txt", "web2.txt"]

        def test_same_connections_as_connection_fixture(host_pool, fabricplus_registry):
            host_pool.run("true")
            before = fabricplus_registry.opened_count
            host_pool.run("true")
            assert fabricplus_registry.opened_count == before == 2

        def test_nested_map_does_not_deadlock(host_pool):
            # every pool thread busy waiting for an inner map over the same hosts
            inner = lambda c: host_pool.run("hostname").ok
            assert host_pool.map(inner).values_by_host() == {"web1": True, "web2": True}

        def test_zz_pool_threads_are_kept_between_calls(host_pool):
            import threading
            host_pool.run("true")
            before = {t.ident for t in threading.enumerate()}
            host_pool.run("true")
            assert {t.ident for t in threading.enumerate()} == before
        """
    )
    inv = inventory(pytester.path / "inv.ini", sshd, sshd2)
    result = pytester.runpytest(*sshd.args(hosts=inv, known_hosts=both_known_hosts))
    result.assert_outcomes(passed=5)


def test_failure_lists_every_failing_host_with_exit_code_and_stderr(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    port = free_port()
    pytester.makepyfile(
        """
        def test_check(host_pool):
            host_pool.run("echo broken config >&2; exit 3").raise_on_failure()
        """
    )
    inv = inventory(pytester.path / "inv.ini", sshd, sshd2, dead_port=port)
    result = pytester.runpytest(*sshd.args(hosts=inv, known_hosts=both_known_hosts))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *PoolError: 3 of 3 hosts failed `echo broken config >&2; exit 3`:",
            f"E *  dead (fptest@127.0.0.1:{port}): unreachable (refused): connection refused*",
            f"E *  web1 (fptest@127.0.0.1:{sshd.port}): exit 3: broken config",
            f"E *  web2 (fptest@127.0.0.1:{sshd2.port}): exit 3: broken config",
        ]
    )


def test_marker_limits_the_pool(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hosts("web2")
        def test_one(host_pool):
            assert [h.id for h in host_pool] == ["web2"]
            assert host_pool.run("true").ok
        """
    )
    inv = inventory(pytester.path / "inv.ini", sshd, sshd2)
    result = pytester.runpytest(*sshd.args(hosts=inv, known_hosts=both_known_hosts))
    result.assert_outcomes(passed=1)


def test_without_hosts_the_pool_test_errors(pytester: pytest.Pytester) -> None:
    # an error, not a skip: a run without hosts must not pass a test that needs them
    pytester.makepyfile("def test_p(host_pool): pass")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no hosts to test: pass --hosts*"])


def test_marker_typo_on_a_pool_test_is_a_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hosts("wbe")
        def test_pool(host_pool): pass
        """
    )
    result = pytester.runpytest("--hosts=web1,web2")
    result.stdout.fnmatch_lines(["*test_pool: @pytest.mark.hosts('wbe') matches no host*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED

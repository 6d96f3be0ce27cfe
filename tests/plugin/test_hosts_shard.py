"""--hosts-shard K/N: deterministic, balanced, disjoint shares of the selected hosts."""

from __future__ import annotations

import pytest


def collected_hosts(result: pytest.RunResult) -> list[str]:
    return [line.split("[", 1)[1].rstrip("]") for line in result.stdout.lines if "::" in line]


def test_shards_partition_the_hosts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(connection): pass")
    hosts = ",".join(f"h{i:02d}" for i in range(10))
    shards = []
    for k in (1, 2, 3):
        result = pytester.runpytest(
            "--collect-only", "-q", f"--hosts={hosts}", f"--hosts-shard={k}/3"
        )
        shards.append(collected_hosts(result))
    flat = [h for shard in shards for h in shard]
    assert sorted(flat) == [f"h{i:02d}" for i in range(10)]  # every host exactly once
    assert len(set(flat)) == 10
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    again = pytester.runpytest("--collect-only", "-q", f"--hosts={hosts}", "--hosts-shard=2/3")
    assert collected_hosts(again) == shards[1]  # deterministic


def test_shard_shown_in_header(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--collect-only", "--hosts=a,b,c", "--hosts-shard=1/2")
    result.stdout.fnmatch_lines(["fabricplus: 2 of 3 hosts from --hosts list (shard 1/2)*"])


@pytest.mark.parametrize("value", ["3", "0/2", "3/2", "a/b"])
def test_bad_shard_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest(f"--hosts-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*argument --hosts-shard: '{value}'*"])

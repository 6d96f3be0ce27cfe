"""KnownHostsCache.for_host: the entries that match one host (as ssh matches them; paramiko's
own lookup knows no wildcards), found once per host, the files parsed once."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from pytest_fabricplus.ssh.hostkeys import KnownHostsCache


@pytest.fixture
def known_hosts(tmp_path: Path) -> Path:
    keys = [paramiko.ECDSAKey.generate() for _ in range(4)]
    hashed = paramiko.HostKeys.hash_host("[10.0.0.7]:2222")
    lines = [
        f"{hashed} {keys[0].get_name()} {keys[0].get_base64()}",
        f"*.example.org,!bad.example.org {keys[1].get_name()} {keys[1].get_base64()}",
        f"[127.0.0.1]:2200,[127.0.0.1]:2201 {keys[2].get_name()} {keys[2].get_base64()}",
        f"plain {keys[3].get_name()} {keys[3].get_base64()}",
    ]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("[10.0.0.7]:2222", 1),  # hashed entry
        ("web.example.org", 2),  # wildcard
        ("WEB.Example.org", 2),  # names match without regard to case
        ("bad.example.org", None),  # negated: no key
        ("[127.0.0.1]:2201", 3),  # second name on a line
        ("plain", 4),
        ("[plain]:2222", None),  # other port: no key
        ("unknown", None),
    ],
)
def test_for_host_finds_the_matching_lines_once(
    known_hosts: Path, name: str, line: int | None
) -> None:
    cache = KnownHostsCache()
    parsed, files = cache.get([str(known_hosts), str(known_hosts), "/nonexistent"])
    assert files == [str(known_hosts)]
    view = cache.for_host(parsed, name)
    assert [e.line for e in view.keys] == ([] if line is None else [line])
    assert cache.for_host(parsed, name) is view  # once per host
    assert cache.get([str(known_hosts)])[0] is parsed  # once per file set

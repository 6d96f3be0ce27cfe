"""KnownHostsCache.for_host: the entries paramiko would match for one host, found once."""

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
    "name",
    [
        "[10.0.0.7]:2222",  # hashed entry
        "web.example.org",  # wildcard
        "bad.example.org",  # negated: no key
        "[127.0.0.1]:2201",  # second name on a line
        "plain",
        "[plain]:2222",  # other port: no key
        "unknown",
    ],
)
def test_for_host_answers_as_the_full_lookup(known_hosts: Path, name: str) -> None:
    cache = KnownHostsCache()
    keys, _ = cache.get([str(known_hosts)])
    small = cache.for_host(keys, name)
    full = keys.lookup(name)
    got = small.lookup(name)
    if full is None:
        assert got is None
    else:
        assert got is not None
        assert {t: k.get_base64() for t, k in got.items()} == {
            t: k.get_base64() for t, k in full.items()
        }
    assert cache.for_host(keys, name) is small  # once per host

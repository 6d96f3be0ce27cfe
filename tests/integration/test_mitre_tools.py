"""Our InSpec JSON in the tools auditors use, for real: MITRE Heimdall Lite (served on
127.0.0.1, each host's file uploaded through its page in headless Chromium) and the SAF CLI
(``saf summary``, ``saf validate threshold``) read the run of ``test_views_agree.py`` (every
status over four real sshd hosts) and say what our report says: per host the count of every
Heimdall status, the compliance score, the platform, and the gate's verdict.

Without Heimdall or saf installed the tests skip, unless ``FABRICPLUS_NEED_HEIMDALL=1`` /
``FABRICPLUS_NEED_SAF=1`` (``scripts/setup.sh`` installs them then): then they fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_fabricplus.compliance import scores
from testing import mitre_tools
from testing.sshd import free_port
from testing.targets import Target
from tests.plugin.test_views_agree import SUITE, WAIVERS, _inventory, chromium, shots

__all__ = ["chromium", "shots"]  # fixtures

#: web1 scores 62.5: saf rounds it to 63 and passes it, as our gate does
THRESHOLD = 63


def _need(tool: str, env: str, found: object) -> None:
    if found is None:
        if os.environ.get(env) == "1":
            pytest.fail(f"{tool} is not installed and {env}=1 (scripts/setup.sh installs it)")
        pytest.skip(f"{tool} is not installed ({env}=1 scripts/setup.sh installs it)")


@pytest.fixture(scope="module")
def heimdall() -> Path:
    found = mitre_tools.heimdall_dist()
    _need("Heimdall Lite", "FABRICPLUS_NEED_HEIMDALL", found)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def saf() -> str:
    found = mitre_tools.saf_bin()
    _need("the SAF CLI", "FABRICPLUS_NEED_SAF", found)
    assert found is not None
    return found


@pytest.fixture
def run(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> tuple[pytest.RunResult, dict[str, Any], list[Path]]:
    pytester.makepyfile(test_views=SUITE)
    (pytester.path / "waivers.yml").write_text(WAIVERS)
    inv = _inventory(pytester.path, sshd, sshd2, free_port())
    result = pytester.runpytest_subprocess(
        *sshd.args(
            "--waivers=waivers.yml",
            f"--compliance-fail-under={THRESHOLD}",
            "--compliance-json=c.json",
            "--inspec-json=inspec",
            hosts=inv,
            known_hosts=both_known_hosts,
        ),
        timeout=300,
    )
    document = json.loads((pytester.path / "c.json").read_text())
    files = sorted((pytester.path / "inspec").glob("*.json"))
    assert [f.stem for f in files] == ["db1", "down1", "web1", "web2"]
    return result, document, files


def test_heimdall_shows_what_our_report_says(
    run: tuple[pytest.RunResult, dict[str, Any], list[Path]],
    heimdall: Path,
    chromium: str,
    shots: Path,
) -> None:
    _, document, files = run
    shown = mitre_tools.heimdall_read(heimdall, files, chromium, shots)
    assert sorted(shown) == sorted(document["hosts"])
    for host, data in document["hosts"].items():
        seen = shown[host]
        assert {k: seen[k] for k in scores.HDF_STATUSES} == data["hdf_counts"], host
        # Heimdall cuts its percentage to two decimals (71.42), ours rounds (71.43); an
        # unreachable host is "not scored" here, 0 % there
        assert float(str(seen["score"])) == pytest.approx(data["score"] or 0.0, abs=0.015), host
        platform = data["platform"]
        want = f"{platform.get('name', 'unknown')}{platform.get('release', '')}"
        assert seen["platform"] == want, host
    assert shown["web1"]["platform"] != "unknown"  # read from the host's /etc/os-release
    assert shown["down1"]["Profile Error"] == 8


def test_saf_summary_and_threshold_agree_with_our_scores_and_gate(
    run: tuple[pytest.RunResult, dict[str, Any], list[Path]], saf: str
) -> None:
    result, document, files = run
    assert result.ret == 1  # db1 errored, down1 unreachable
    verdicts = {}
    for file in files:
        host = file.stem
        data = document["hosts"][host]
        summary = mitre_tools.saf_summary(saf, file)
        assert summary["compliance"] == scores.saf_round(data["score"] or 0.0), host
        verdicts[host] = mitre_tools.saf_threshold(saf, file, THRESHOLD)
        ours = scores.host_gate(host, data, THRESHOLD)
        assert verdicts[host] == (ours is None), (host, ours)
        if ours is not None:
            result.stdout.fnmatch_lines([ours.replace("[", "[[]")])
    # web1 (62.5 %, rounded to 63) and web2 pass; db1 (an error) and down1 (unreachable) fail
    assert verdicts == {"web1": True, "web2": True, "db1": False, "down1": False}
    # one point higher, web1 fails in both (our gate recomputed by the one gate function)
    assert mitre_tools.saf_threshold(saf, files[2], THRESHOLD + 1) is False
    assert any(
        line.startswith("web1: score") for line in scores.gate_failures(document, THRESHOLD + 1)
    )

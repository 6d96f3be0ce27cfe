"""The main job's profile (examples/compliance) against the shipped container targets: its
real, waived failure, the check run as ``fpsu`` (su on ubuntu, sudo on centos7), exit 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.usefixtures("require_docker")
@pytest.mark.parametrize("workers", ["0", "2"])
def test_example_profile(tmp_path: Path, workers: str) -> None:
    out = tmp_path / "compliance.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            "examples/compliance/pytest.ini",
            "examples/compliance",
            "--docker-targets=ubuntu,centos7",
            "-v",
            "-p",
            "no:cacheprovider",
            "-n",
            workers,
            f"--compliance-json={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert sorted(doc["hosts"]) == ["centos7", "ubuntu"]
    for host in ("centos7", "ubuntu"):
        controls = doc["hosts"][host]["controls"]
        waived = controls["CIS 5.2.12"]
        assert waived["status"] == "waived"
        assert waived["waiver"]["source"] == "examples/compliance/waivers.yml:4"
        assert "PasswordAuthentication is yes" in waived["results"][0]["message"]
        assert controls["CIS 6.2.8"]["status"] == "passed"
        # Heimdall's score: the waived failure counts as Failed, EL7 0.1 (impact 0) is left out
        c = doc["hosts"][host]["hdf_counts"]
        assert c["Failed"] == 1
        assert c["Profile Error"] == 0
        counted = c["Passed"] + c["Failed"] + c["Not Reviewed"]
        assert doc["hosts"][host]["score"] == round(100 * c["Passed"] / counted, 2)
        # the platform as the container's /etc/os-release says (not the target's kind)
        platform = doc["hosts"][host]["platform"]
        assert sorted(platform) == ["name", "release"]
        assert platform["name"] in ("ubuntu", "centos", "debian")
    assert doc["controls"]["CIS 5.2.12"]["severity"] == "medium"
    assert doc["waivers"][0]["status"] == "applied"
    assert doc["waivers"][0]["applied_to"] == ["centos7", "ubuntu"]
    lines = proc.stdout.splitlines()
    assert "ubuntu: fpsu via su" in lines
    assert any(line.startswith("centos7: fpsu via sudo (su: ") for line in lines)
    assert any("fabricplus: compliance per host" in line for line in lines)

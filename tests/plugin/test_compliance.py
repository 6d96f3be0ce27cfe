"""``@pytest.mark.control``, ``--waivers``, the compliance section, the gate, the baseline
and ``--compliance-json``, against two real sshd hosts that differ (their ports, as seen
from the remote side in ``$SSH_CONNECTION``)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from testing.targets import PASSWORD_ENV, Target

SUITE = """
import os
import pytest

def server_port(connection):
    return int(connection.run("echo $SSH_CONNECTION", hide=True).stdout.split()[3])

@pytest.mark.control("CIS 1.1", title="Logins work", severity="high")
def test_login(connection):
    assert connection.run("true", hide=True).ok

@pytest.mark.control("CIS 1.2", title="Served on the first port", impact=0.95)
def test_first_port(connection):
    assert server_port(connection) == {port1}, "served on the wrong port"

@pytest.mark.control("CIS 1.3", title="Two tests, one control", severity="medium")
class TestPair:
    def test_a(self, connection):
        assert connection.run("true", hide=True).ok

    def test_b(self, connection):
        assert server_port(connection) != {port1}, "legacy port"

@pytest.mark.control("CIS 1.4", title="Always fails", severity="low")
def test_always_fails(connection):
    assert False, "never compliant"

@pytest.mark.control("CIS 1.5", title="Not to be run", severity="critical")
def test_not_run(connection):
    open(os.path.join({tmp!r}, "ran-" + str(server_port(connection))), "w").close()
    assert False, "must not run"

@pytest.mark.control("CIS 1.6", title="Only on the first port")
def test_not_applicable(connection):
    if server_port(connection) != {port1}:
        pytest.skip("not applicable: second port")

@pytest.mark.control("CIS 1.7", title="Passes anyway", severity="none")
def test_passes(connection):
    pass
"""

WAIVERS = """\
- control: CIS 1.3
  hosts: web1
  justification: web1 keeps its legacy port until Q3
  expires: 2999-12-31
- control: CIS 1.4
  justification: was accepted last year
  expires: 2020-01-01
- test: "*::test_not_run"
  justification: too slow to run
  run: false
- control: CIS 1.7
  justification: not needed at all
- control: CIS 9.9
  justification: a typo
"""


def inventory(path: Path, sshd: Target, sshd2: Target) -> Path:
    inv = path / "inv.ini"
    inv.write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user.name}\n"
        f"web2 ansible_host=127.0.0.1 ansible_port={sshd2.port} ansible_user={sshd2.user.name}\n"
    )
    return inv


def run(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    known: Path,
    *extra: str,
    suite: str = SUITE,
    waivers: str | None = WAIVERS,
) -> pytest.RunResult:
    pytester.makepyfile(test_profile=suite.format(port1=sshd.port, tmp=str(pytester.path)))
    args = list(extra)
    if waivers is not None:
        (pytester.path / "waivers.yml").write_text(waivers)
        args.append("--waivers=waivers.yml")
    inv = inventory(pytester.path, sshd, sshd2)
    return pytester.runpytest_subprocess(
        *sshd.args(*args, hosts=inv, known_hosts=known), timeout=180
    )


def statuses(doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        host: {cid: c["status"] for cid, c in data["controls"].items()}
        for host, data in doc["hosts"].items()
    }


EXPECTED = {
    "web1": {
        "CIS 1.1": "passed",
        "CIS 1.2": "passed",
        "CIS 1.3": "waived",
        "CIS 1.4": "failed",
        "CIS 1.5": "waived",
        "CIS 1.6": "passed",
        "CIS 1.7": "passed",
    },
    "web2": {
        "CIS 1.1": "passed",
        "CIS 1.2": "failed",
        "CIS 1.3": "passed",
        "CIS 1.4": "failed",
        "CIS 1.5": "waived",
        "CIS 1.6": "skipped",
        "CIS 1.7": "passed",
    },
}


@pytest.mark.parametrize("workers", ["0", "2"])
def test_statuses_waivers_and_document(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path, workers: str
) -> None:
    result = run(
        pytester, sshd, sshd2, both_known_hosts, "-n", workers, "--compliance-json=out/c.json"
    )
    assert result.ret == 1  # unwaived failures fail the run as pytest always does
    # 8 tests x 2 hosts: web1 waived test_b (xfail), both skip test_not_run (run: false)
    result.assert_outcomes(passed=9, failed=3, skipped=3, xfailed=1)
    assert not list(pytester.path.glob("ran-*")), "a run: false check ran"
    doc = json.loads((pytester.path / "out" / "c.json").read_text())
    assert doc["version"] == 1
    assert statuses(doc) == EXPECTED
    assert doc["selected"] == ["web1", "web2"]
    assert doc["exit_status"] == 1
    assert doc["threshold"] is None
    controls = doc["controls"]
    assert controls["CIS 1.2"]["severity"] == "critical"
    assert controls["CIS 1.2"]["impact"] == 0.95
    assert controls["CIS 1.1"]["impact"] == 0.7
    assert controls["CIS 1.3"]["tests"] == [
        "test_profile.py::TestPair::test_a",
        "test_profile.py::TestPair::test_b",
    ]
    web1, web2 = doc["hosts"]["web1"], doc["hosts"]["web2"]
    assert web1["address"] == f"{sshd.user.name}@127.0.0.1:{sshd.port}"
    # Heimdall: a waived failure (run: true) is Failed, run: false and impact 0 (CIS 1.5,
    # CIS 1.7) Not Applicable, a skip (CIS 1.6 on web2) Not Reviewed
    assert web1["hdf_counts"] == {
        "Passed": 3,
        "Failed": 2,
        "Not Reviewed": 0,
        "Profile Error": 0,
        "Not Applicable": 2,
    }
    assert web1["score"] == 60.0
    assert web2["score"] == 40.0
    assert web1["counts"] == {
        "passed": 4,
        "failed": 1,
        "error": 0,
        "skipped": 0,
        "waived": 2,
        "not-applicable": 0,
    }
    assert web2["failed_by_severity"] == {
        "critical": 1,
        "high": 0,
        "medium": 0,
        "low": 1,
        "none": 0,
    }
    pair = web1["controls"]["CIS 1.3"]
    assert pair["waiver"]["justification"] == "web1 keeps its legacy port until Q3"
    assert pair["waiver"]["source"] == "waivers.yml:1"
    assert pair["waiver"]["expired"] is False
    assert [r["status"] for r in pair["results"]] == ["passed", "waived"]
    assert "legacy port" in pair["results"][1]["message"]
    expired = web2["controls"]["CIS 1.4"]
    assert expired["message"].startswith("waiver expired on 2020-01-01")
    assert "never compliant" in expired["message"]
    assert expired["waiver"]["expired"] is True
    assert web2["controls"]["CIS 1.6"]["message"] == "not applicable: second port"
    assert web2["controls"]["CIS 1.5"]["waiver"]["run"] is False
    assert web2["controls"]["CIS 1.2"]["message"].startswith("AssertionError: served on")
    rows = {w["source"]: w for w in doc["waivers"]}
    assert rows["waivers.yml:1"]["status"] == "applied"
    assert rows["waivers.yml:1"]["applied_to"] == ["web1"]
    assert rows["waivers.yml:5"]["status"] == "expired"
    assert rows["waivers.yml:8"]["status"] == "applied"
    assert rows["waivers.yml:11"]["status"] == "not-needed"
    assert rows["waivers.yml:11"]["on_hosts"] == {"web1": "not-needed", "web2": "not-needed"}
    assert rows["waivers.yml:13"]["status"] == "matched-no-control"
    result.stdout.fnmatch_lines(
        [
            "*fabricplus: results per host*",
            "*fabricplus: compliance per host*",
            "web1*60.0%*",
            "web2*40.0%*",
            "*unwaived failures, most severe first*",
            "CRITICAL web2  CIS 1.2  Served on the first port: AssertionError: served on*",
            "LOW*web1  CIS 1.4  Always fails: waiver expired on 2020-01-01*",
            "LOW*web2  CIS 1.4*",
            "*waived*",
            "web1  CIS 1.3: web1 keeps its legacy port until Q3 [waivers.yml:1, expires 2999-12-31]",
            "*waivers: where they applied and where not*",
            "waivers.yml:5: waiver for control CIS 1.4: expired: expired (2020-01-01) on web1, web2",
            "waivers.yml:11: waiver for control CIS 1.7: not-needed: not needed, passed on web1, web2",
            "waivers.yml:13: waiver for control CIS 9.9: matched-no-control: 'CIS 9.9' matches "
            "no control in this run",
            "score: Passed / (Passed + Failed + Not Reviewed + Profile Error), as Heimdall and "
            "saf compute it",
            "*compliance JSON written to out/c.json",
        ]
    )


GATE_WAIVERS = (
    WAIVERS
    + """\
- control: CIS 1.2
  hosts: web2
  justification: web2 moves next week
- control: CIS 1.4
  justification: accepted again
"""
)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_waived_failures_do_not_fail_the_run(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path, workers: str
) -> None:
    result = run(pytester, sshd, sshd2, both_known_hosts, "-n", workers, waivers=GATE_WAIVERS)
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=9, skipped=3, xfailed=4)
    # waived failures count as Failed in the score, as Heimdall counts them
    result.stdout.fnmatch_lines(["web1*60.0%*", "web2*40.0%*"])
    result.stdout.no_fnmatch_line("*unwaived failures*")


@pytest.mark.parametrize(
    ("threshold", "ret"), [("40", 0), ("41", 1), ("61", 1)], ids=["under", "just-over", "over"]
)
def test_gate(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    threshold: str,
    ret: int,
) -> None:
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        f"--compliance-fail-under={threshold}",
        "--compliance-json=c.json",
    )
    assert result.ret == ret
    doc = json.loads((pytester.path / "c.json").read_text())
    assert doc["exit_status"] == ret
    assert doc["threshold"] == float(threshold)
    assert doc["gate_rule"].startswith('saf threshold "{compliance.min: T}, {error.total.max: 0}"')
    if ret == 0:
        result.stdout.fnmatch_lines(
            [f"compliance gate: passed (every selected host scored >= {threshold}%, no errors;*"]
        )
        result.stdout.no_fnmatch_line("BELOW THRESHOLD*")
    else:
        result.stdout.fnmatch_lines(
            [
                f"*compliance gate: FAILED (threshold {threshold}%: saf threshold*",
                f"BELOW THRESHOLD web2: score 40.00% is below {threshold}%",
            ]
        )
    if threshold == "61":
        result.stdout.fnmatch_lines(["BELOW THRESHOLD web1: score 60.00% is below 61%"])
    else:
        result.stdout.no_fnmatch_line("BELOW THRESHOLD web1*")


def test_gate_fails_on_errors(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    suite = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("cannot check")

@pytest.mark.control("C-1")
def test_ok(connection):
    pass

@pytest.mark.control("C-2")
def test_errors(connection, broken):
    pass
"""
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "--compliance-fail-under=0",
        "--compliance-json=c.json",
        suite=suite,
        waivers=None,
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["web1: 1 control(s) errored (Profile Error)"])
    doc = json.loads((pytester.path / "c.json").read_text())
    assert statuses(doc)["web1"] == {"C-1": "passed", "C-2": "error"}
    assert doc["hosts"]["web2"]["controls"]["C-2"]["message"].startswith(
        "RuntimeError: cannot check"
    )


def test_baseline_diff(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    first = run(pytester, sshd, sshd2, both_known_hosts, "--compliance-json=old.json")
    assert first.ret == 1
    # the hosts "change": the first port is now web2's
    changed = SUITE.replace("== {port1}", "== {port2}").replace("!= {port1}", "!= {port2}")
    changed = changed.replace("{port2}", str(sshd2.port))
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "--compliance-baseline=old.json",
        "--compliance-json=new.json",
        suite=changed,
        waivers=None,
    )
    doc = json.loads((pytester.path / "new.json").read_text())
    assert doc["baseline"]["file"] == "old.json"
    assert doc["baseline"]["new_failures"] == [
        {"host": "web1", "control": "CIS 1.2"},
        {"host": "web1", "control": "CIS 1.5"},
        {"host": "web2", "control": "CIS 1.3"},
        {"host": "web2", "control": "CIS 1.5"},
    ]
    assert doc["baseline"]["fixed"] == [{"host": "web2", "control": "CIS 1.2"}]
    result.stdout.fnmatch_lines(
        [
            "*compared with the baseline old.json*",
            "new failures: 4, fixed: 1",
            "NEW FAILURE web1  CIS 1.2",
            "FIXED       web2  CIS 1.2",
        ]
    )


@pytest.mark.parametrize(
    ("marker", "error"),
    [
        ('"C-1", colour="red"', "unknown keyword(s) colour"),
        ('"C-1", severity="severe"', "severity='severe' is not one of none, low, medium"),
        ('"C-1", impact=1.5', "impact=1.5 is not a number between 0.0 and 1.0"),
        ("", "takes one control id"),
        ('"  "', "the control id must be a non-empty string"),
        ("42", "the control id must be a non-empty string"),
        ('"C-1", refs="http://x"', "refs= must be a list of strings"),
        ('"C-1", tags=[1]', "tags= must be a list of strings"),
    ],
)
def test_bad_marker_arguments_are_collection_errors_naming_the_test(
    pytester: pytest.Pytester, sshd: Target, marker: str, error: str
) -> None:
    pytester.makepyfile(
        test_bad=f"""
        import pytest
        @pytest.mark.control({marker})
        def test_culprit(connection):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*sshd.args(), timeout=120)
    assert result.ret == 2
    result.stdout.fnmatch_lines([f"*test_bad.py::test_culprit: @pytest.mark.control: {error}*"])


def test_conflicting_metadata_names_both_tests(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(
        test_clash="""
        import pytest
        @pytest.mark.control("C-1", title="Once", severity="high")
        def test_first(connection):
            pass

        @pytest.mark.control("C-1")
        def test_shares_it(connection):
            pass

        @pytest.mark.control("C-1", severity="low")
        def test_disagrees(connection):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*sshd.args(), timeout=120)
    assert result.ret == 2
    result.stdout.fnmatch_lines(
        [
            "*test_clash.py::test_disagrees: @pytest.mark.control: control 'C-1' is given "
            "conflicting metadata by test_clash.py::test_first and "
            "test_clash.py::test_disagrees: severity='high' vs severity='low'*"
        ]
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- control: [C-1\n", "waivers.yml:2: not valid YAML"),
        ("- control: C-1\n  hosts: web1\n", "waivers.yml:1: the waiver has no justification"),
        (
            "- control: C-1\n  justification: j\n  expires: 2027-02-30\n",
            "waivers.yml:3: expires: '2027-02-30' is not a date YYYY-MM-DD",
        ),
        (
            "- control: C-1\n  justification: j\n- control: C-2\n  justification: k\n  owner: me\n",
            "waivers.yml:5: unknown key 'owner'",
        ),
        ("control: C-1\n", "waivers.yml:1: a waivers file is a YAML list"),
        (
            "- control: C-1\n  test: x\n  justification: j\n",
            "waivers.yml:1: a waiver names exactly one of control: or test:",
        ),
        ("- control: C-1\n  justification: j\n  run: never\n", "waivers.yml:3: run: must be"),
        (
            '- control: C-1\n  justification: j\n  hosts: "web[["\n',
            "waivers.yml:3: hosts: 'web[[': the '[' at position 4 is never closed",
        ),
    ],
    ids=["yaml", "justification", "date", "key", "not-a-list", "both", "run", "hosts"],
)
def test_broken_waiver_files_are_usage_errors(
    pytester: pytest.Pytester, sshd: Target, text: str, error: str
) -> None:
    pytester.makepyfile("def test_x(connection): pass")
    (pytester.path / "waivers.yml").write_text(text)
    result = pytester.runpytest_subprocess(*sshd.args("--waivers=waivers.yml"), timeout=120)
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"*--waivers: {error}*"])


def test_waivers_from_the_ini_file(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeini("[pytest]\nfabricplus_waivers = w.yml\n")
    (pytester.path / "w.yml").write_text(
        textwrap.dedent(
            """\
            - control: C-1
              justification: accepted by the ini's file
            """
        )
    )
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.control("C-1", severity="high")
        def test_fails(connection):
            assert False
        """
    )
    result = pytester.runpytest_subprocess(*sshd.args("--compliance-json=c.json"), timeout=120)
    assert result.ret == 0
    doc = json.loads((pytester.path / "c.json").read_text())
    (host,) = doc["hosts"].values()
    assert host["controls"]["C-1"]["status"] == "waived"
    assert host["controls"]["C-1"]["waiver"]["justification"] == "accepted by the ini's file"


def test_unreachable_host_errors_every_control_and_secrets_are_redacted(
    pytester: pytest.Pytester, sshd: Target, login_password: str
) -> None:
    from testing.sshd import free_port

    dead = free_port()
    pytester.makepyfile(
        f"""
        import os
        import pytest

        @pytest.mark.control("C-1", severity="high")
        def test_leaks(connection):
            assert os.environ["{PASSWORD_ENV}"] == "something else"

        @pytest.mark.control("C-2")
        def test_ok(connection):
            pass
        """
    )
    (pytester.path / "inv.ini").write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user.name}\n"
        f"dead ansible_host=127.0.0.1 ansible_port={dead} ansible_user={sshd.user.name}\n"
    )
    result = pytester.runpytest_subprocess(
        *sshd.args(
            f"--ssh-password-env={PASSWORD_ENV}",
            "--compliance-json=c.json",
            "--connect-timeout=5",
            hosts=pytester.path / "inv.ini",
        ),
        timeout=120,
    )
    assert result.ret == 1
    text = (pytester.path / "c.json").read_text()
    assert login_password not in text
    assert login_password not in result.stdout.str()
    doc = json.loads(text)
    assert statuses(doc) == {
        "dead": {"C-1": "error", "C-2": "error"},
        "web1": {"C-1": "failed", "C-2": "passed"},
    }
    dead_controls = doc["hosts"]["dead"]["controls"]
    assert str(dead) in dead_controls["C-2"]["message"]
    assert doc["hosts"]["dead"]["failed_by_severity"]["high"] == 1
    # unreachable: an error, never partly compliant
    assert doc["hosts"]["dead"]["score"] is None
    assert doc["hosts"]["dead"]["unreachable"].startswith("refused")
    assert doc["hosts"]["dead"]["hdf_counts"]["Profile Error"] == 2


def test_test_glob_waivers_and_module_markers(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    suite = """
import pytest

pytestmark = pytest.mark.control("M-1", title="The module's control", severity="low")

@pytest.mark.parametrize("n", [1, 2])
def test_param(connection, n):
    assert n == 1

@pytest.mark.control("F-1", severity="high")
def test_own_marker(connection):
    pass
"""
    waivers = '- test: "test_profile.py::test_param[[]2]"\n  hosts: web2\n  justification: two\n'
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "-n",
        "2",
        "--compliance-json=c.json",
        suite=suite,
        waivers=waivers,
    )
    assert result.ret == 1  # web1's failure is not waived
    doc = json.loads((pytester.path / "c.json").read_text())
    assert statuses(doc) == {
        "web1": {"F-1": "passed", "M-1": "failed"},
        "web2": {"F-1": "passed", "M-1": "waived"},
    }
    assert doc["controls"]["M-1"]["tests"] == [
        "test_profile.py::test_param[1]",
        "test_profile.py::test_param[2]",
    ]
    assert doc["controls"]["F-1"]["severity"] == "high"
    assert doc["waivers"][0]["applied_to"] == ["web2"]


def test_without_controls_no_section_unless_asked(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile("def test_plain(connection): pass")
    plain = pytester.runpytest_subprocess(*sshd.args(), timeout=120)
    assert plain.ret == 0
    plain.stdout.no_fnmatch_line("*compliance per host*")
    asked = pytester.runpytest_subprocess(*sshd.args("--compliance-json=c.json"), timeout=120)
    assert asked.ret == 0
    doc = json.loads((pytester.path / "c.json").read_text())
    assert doc["controls"] == {}
    assert doc["hosts"] == {}
    assert doc["exit_status"] == 0


NA_SUITE = """
import pytest
from pytest_fabricplus import not_applicable

def server_port(connection):
    return int(connection.run("echo $SSH_CONNECTION", hide=True).stdout.split()[3])

@pytest.mark.control("N-1", severity="high")
def test_only_first_port(connection):
    if server_port(connection) != {port1}:
        not_applicable("no legacy port on this host")
    assert True

@pytest.mark.control("N-2", severity="high")
def test_manual(connection):
    pytest.skip("needs a person to look")

@pytest.mark.control("N-3", severity="medium")
def test_ok(connection):
    pass

@pytest.mark.control("N-4", severity="low")
def test_fails(connection):
    assert False, "broken"
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_not_applicable_platform_and_a_waiver_for_no_host(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path, workers: str
) -> None:
    from pytest_fabricplus.compliance.model import os_release_platform

    # db-1 for web1: the waiver matches no host; the control fails on both hosts
    waivers = "- control: N-4\n  hosts: web-1\n  justification: typo\n"
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "-n",
        workers,
        "--compliance-json=c.json",
        "--inspec-json=inspec",
        suite=NA_SUITE,
        waivers=waivers,
    )
    assert result.ret == 1
    doc = json.loads((pytester.path / "c.json").read_text())
    assert statuses(doc) == {
        "web1": {"N-1": "passed", "N-2": "skipped", "N-3": "passed", "N-4": "failed"},
        "web2": {"N-1": "not-applicable", "N-2": "skipped", "N-3": "passed", "N-4": "failed"},
    }
    web2 = doc["hosts"]["web2"]
    assert web2["controls"]["N-1"]["message"] == "not applicable: no legacy port on this host"
    # N-1 left out on web2, N-2 Not Reviewed on both: web1 2/4, web2 1/3
    assert doc["hosts"]["web1"]["score"] == 50.0
    assert web2["score"] == 33.33
    (row,) = doc["waivers"]
    assert row["status"] == "matched-no-host"
    result.stdout.fnmatch_lines(
        [
            "waivers.yml:1: waiver for control N-4: matched-no-host: hosts 'web-1' select "
            "none of this run's hosts"
        ]
    )
    result.stdout.no_fnmatch_line("*not needed*")
    # the platform: this machine's /etc/os-release, read over the tests' connection
    local = os_release_platform(Path("/etc/os-release").read_text())
    assert local
    for host in ("web1", "web2"):
        assert doc["hosts"][host]["platform"] == local
        inspec = json.loads((pytester.path / "inspec" / f"{host}.json").read_text())
        assert inspec["platform"]["name"] == local["name"]
        assert inspec["platform"]["release"] == local.get("release", "")
    controls = {
        c["id"]: c
        for c in json.loads((pytester.path / "inspec" / "web2.json").read_text())["profiles"][0][
            "controls"
        ]
    }
    assert controls["N-1"]["impact"] == 0.0
    assert controls["N-1"]["results"][0]["status"] == "skipped"
    assert controls["N-2"]["impact"] == 0.7
    assert controls["N-2"]["results"][0]["status"] == "skipped"


def test_an_empty_shard_has_no_verdict(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    # two hosts in three shards: shard 3 tests no host at all
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "--hosts-shard=3/3",
        "--compliance-fail-under=90",
        "--compliance-json=c.json",
        waivers=None,
    )
    result.stdout.no_fnmatch_line("compliance gate: passed*")
    result.stdout.fnmatch_lines(
        ["*compliance gate: FAILED*", "no host was tested (exit status *): nothing to score"]
    )
    assert result.ret == 1
    doc = json.loads((pytester.path / "c.json").read_text())
    assert doc["hosts"] == {}
    assert doc["exit_status"] == 1


def test_no_verdict_without_hosts(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    # every test deselected: no host scored, the gate must not say "passed"
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "-k",
        "nothing_matches_this",
        "--compliance-fail-under=90",
        "--compliance-json=c.json",
        waivers=None,
    )
    assert result.ret == 5
    result.stdout.no_fnmatch_line("compliance gate: passed*")
    result.stdout.fnmatch_lines(
        [
            "*compliance gate: FAILED*",
            "web1: selected, but no result for it in this run (not scored)",
            "web2: selected, but no result for it in this run (not scored)",
        ]
    )
    doc = json.loads((pytester.path / "c.json").read_text())
    assert doc["exit_status"] == 5
    assert doc["selected"] == ["web1", "web2"]

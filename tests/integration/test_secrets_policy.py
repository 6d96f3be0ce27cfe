"""One secrets policy: every password the run reads is redacted everywhere, however it was given.

The passwords here are known to the plugin only at run time, and only in the process that ran
the test (an xdist worker with ``-n 2``): a ``su_user(password_env=...)`` marker, a
``run_as(..., password_env=...)`` block, a literal given to ``connection.su(password=...)``.
Each test prints, logs and fails with its password on purpose; the scan then searches
stdout, stderr, the log file, JUnit XML and the JSON report for every one of them.
"""

from __future__ import annotations

import pytest

from testing.targets import Target

SUITE = """
import logging, os
import pytest

log = logging.getLogger("suite")

@pytest.mark.su_user("fptest2", method="su", password_env="FP_MARKER_PW")
def test_marker_password(connection):
    pw = os.environ["FP_MARKER_PW"]
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest2"
    print("stdout says", pw)
    log.warning("the log says %s", pw)
    assert pw == "something else", f"message says {pw}"

def test_run_as_password(connection, run_as):
    pw = os.environ["FP_RUN_AS_PW"]
    with run_as("fptest2", method="su", password_env="FP_RUN_AS_PW"):
        assert connection.run("id -un", hide=True).stdout.strip() == "fptest2"
    print("stdout says", pw)
    log.warning("the log says %s", pw)
    raise RuntimeError(f"exception says {pw}")

def test_literal_su_password(connection):
    pw = os.environ["FP_LITERAL_PW"]  # the plugin learns it only from su(password=...)
    assert connection.su("id -un", user="fptest2", password=pw, hide=True).stdout.strip() == "fptest2"
    print("stdout says", pw)
    log.warning("the log says %s", pw)
    assert not pw, f"assertion says {pw}"

def test_wrong_literal_su_password(connection):
    connection.su("id -un", user="fptest2", password=os.environ["FP_WRONG_PW"])
"""
WRONG = "Wr0ng-literal-pw-4711"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_passwords_read_at_run_time_are_redacted_everywhere(
    pytester: pytest.Pytester,
    sshd: Target,
    monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    pw = sshd.other.password  # fptest2's real password, under three names
    for name in ("FP_MARKER_PW", "FP_RUN_AS_PW", "FP_LITERAL_PW"):
        monkeypatch.setenv(name, pw)
    monkeypatch.setenv("FP_WRONG_PW", WRONG)
    pytester.makepyfile(SUITE)
    out = pytester.path / "artifacts"
    result = pytester.runpytest_subprocess(
        *sshd.args(
            "-n",
            workers,
            "-vv",
            "--showlocals",
            "-rA",
            "--log-level=INFO",
            f"--log-file={out / 'run.log'}",
            "--log-file-level=DEBUG",
            f"--junitxml={out / 'junit.xml'}",
            f"--fabricplus-report={out / 'report.json'}",
        ),
        timeout=180,
    )
    result.assert_outcomes(failed=4)
    stdout = result.stdout.str()
    # the failures happened for the staged reasons, with the values masked
    for said in ("stdout says", "the log says", "message says", "exception says"):
        assert f"{said} ********" in stdout, said
    assert "su authentication failed for fptest2" in stdout
    texts = {"stdout": stdout, "stderr": result.stderr.str()}
    texts.update({str(p): p.read_text(errors="replace") for p in out.rglob("*") if p.is_file()})
    assert set(texts) >= {"stdout", str(out / "junit.xml"), str(out / "report.json")}
    assert "exception says ********" in texts[str(out / "junit.xml")]
    assert "assertion says ********" in texts[str(out / "report.json")]
    for name, secret in {"su": pw, "wrong su": WRONG}.items():
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], f"{name} password found in {leaks}"


def test_docker_target_passwords_never_reach_child_environments(
    pytester: pytest.Pytester, require_docker: None
) -> None:
    """The targets' generated passwords go to workers through ``workerinput``: no process a
    test starts (and no ``/proc/PID/environ``) holds them."""
    pytester.makepyfile(
        """
        import os, subprocess, sys

        def test_env(connection, docker_targets):
            target = docker_targets["ubuntu"]
            secrets = [target.password(u) for u in target.users]
            assert all(secrets)
            assert connection.run("id -un", hide=True).stdout.strip() == "fpuser"
            with connection.as_user("fpsu", method="su"):
                assert connection.run("id -un", hide=True).stdout.strip() == "fpsu"
            child = subprocess.run(["env"], capture_output=True, text=True).stdout
            mine = open(f"/proc/{os.getpid()}/environ", "rb").read().decode(errors="replace")
            for secret in secrets:
                assert secret not in child and secret not in mine
            assert not [k for k in os.environ if "PASSWORD" in k and "DOCKER" in k]
        """
    )
    result = pytester.runpytest_subprocess(
        "--docker-targets=ubuntu", "-n", "2", "-p", "no:cacheprovider", timeout=300
    )
    result.assert_outcomes(passed=1)

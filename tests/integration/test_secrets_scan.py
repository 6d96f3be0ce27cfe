"""No password ever appears in anything a run produces, whatever goes wrong.

Runs a suite that logs in with a password, uses su with the right and a wrong password,
fails, times out and meets an unreachable host — with -vv, --showlocals, DEBUG logging,
--junitxml and the JSON report — and scans stdout, stderr and every file for each password.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.sshd import free_port
from testing.targets import PASSWORD_ENV, Target

WRONG = "Wr0ng-su-Passw0rd-xyz"
WRONG_SUDO = "Wr0ng-sudo-Passw0rd-abc"

SUITE = """
import logging, os
import pytest

logging.getLogger("paramiko").setLevel(logging.DEBUG)

def test_login_and_run(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest"

@pytest.mark.su_user("fptest2", method="su", password_env="FP_SU_PW")
def test_su_right_password(connection):
    assert connection.run("id -un").stdout.strip() == "fptest2"

@pytest.mark.su_user("fptest2", method="su", password_env="FP_WRONG_PW")
def test_su_wrong_password(connection):
    connection.run("id -un")

@pytest.mark.su_user("fptest2", method="auto", password_env="FP_WRONG_PW")
def test_auto_wrong_password(connection):
    connection.run("id -un")

def test_sudo_method_with_the_login_password(connection):
    assert connection.sudo("id -un", user="fptest2").stdout.strip() == "fptest2"

def test_sudo_method_wrong_password(connection):
    connection.sudo("id -un", user="fptest2", password="Wr0ng-sudo-Passw0rd-abc")

def test_failure_with_locals(connection):
    secret_holder = connection.connect_kwargs
    assert connection.run("echo $((1+1))", hide=True).stdout == "3\\n", secret_holder

def test_timeout(connection):
    connection.run("sleep 30", timeout=0.5)

def test_pool(host_pool):
    host_pool.run("false").raise_on_failure()
"""


def test_no_password_in_any_output(
    pytester: pytest.Pytester,
    sshd: Target,
    login_password: str,
    sudoers: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``sudoers`` (fptest may sudo to fptest2 with its login password) makes ``auto`` with a
    wrong su password fall back to sudo and pass: the sudo password is in play too."""
    su_password = sshd.other.password
    monkeypatch.setenv("FP_SU_PW", su_password)
    monkeypatch.setenv("FP_WRONG_PW", WRONG)
    pytester.makepyfile(SUITE)
    dead = free_port()
    (pytester.path / "inv.ini").write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest "
        f"password_env={PASSWORD_ENV}\n"
        f"dead ansible_host=127.0.0.1 ansible_port={dead} ansible_user=fptest "
        f"password_env={PASSWORD_ENV}\n"
    )
    out = pytester.path / "artifacts"
    result = pytester.runpytest(
        "--hosts=inv.ini",
        f"--known-hosts={sshd.known_hosts}",
        "-vv",
        "--showlocals",
        "-rA",
        "--log-level=DEBUG",
        f"--log-file={out / 'debug.log'}",
        "--log-file-level=DEBUG",
        f"--junitxml={out / 'junit.xml'}",
        f"--fabricplus-report={out / 'report.json'}",
    )
    # web1: 4 pass (auto falls back to sudo with the login password; connection.sudo()
    # answers with it), 5 fail as staged; dead: one error per per-host test; test_pool
    # (all hosts) fails
    result.assert_outcomes(passed=4, failed=5, errors=8)
    result.stdout.fnmatch_lines_random(
        [
            "PASSED *::test_login_and_run[[]web1]",
            "PASSED *::test_su_right_password[[]web1]",
            "PASSED *::test_auto_wrong_password[[]web1]",
            "PASSED *::test_sudo_method_with_the_login_password[[]web1]",
            "FAILED *::test_sudo_method_wrong_password[[]web1] - *",
            "FAILED *::test_su_wrong_password[[]web1] - *",
            "FAILED *::test_failure_with_locals[[]web1] - *",
            "FAILED *::test_timeout[[]web1] - *",
            "FAILED *::test_pool - *",
        ]
    )
    # the failures are the ones we staged, with readable causes
    result.stdout.fnmatch_lines(["*su authentication failed for fptest2 on web1*"])
    result.stdout.fnmatch_lines(["*did not finish within 0.5s*"])
    texts = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in out.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    assert len(texts) >= 5
    assert "DEBUG" in texts[str(out / "debug.log")]
    result.stdout.fnmatch_lines(["*sudo authentication failed for fptest (to run as fptest2)*"])
    secrets = {"login": login_password, "su": su_password, "wrong su": WRONG, "sudo": WRONG_SUDO}
    for name, secret in secrets.items():
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], f"{name} password found in {leaks}"


#: passwords of awkward shapes: quotes, backslashes, shell metacharacters, non-ASCII, a tab
AWKWARD = {
    "FP_AWK_SHELL": "we$(id)`x`;|&<>'\"\\!*? ird",
    "FP_AWK_UNICODE": 'Grüße 秘密☃\t"q" \\n\'',
}

ENCODED_SUITE = """
import base64, json, logging, os, shlex, urllib.parse
import pytest

NAMES = ("FP_AWK_SHELL", "FP_AWK_UNICODE")

def shown(pw):
    return [
        repr(pw), str(pw), ascii(pw), json.dumps(pw), json.dumps(pw, ensure_ascii=False),
        urllib.parse.quote(pw, safe=""), urllib.parse.quote_plus(pw), urllib.parse.quote(pw),
        base64.b64encode(pw.encode()).decode(),
        base64.urlsafe_b64encode(pw.encode()).decode(),
        base64.b64encode(("fptest:" + pw).encode()).decode(),  # an HTTP Basic header
        shlex.quote(pw), repr(repr(pw)),
    ]

@pytest.mark.control("SEC 1", title="Secrets shown every way")
@pytest.mark.parametrize("name", NAMES)
def test_shows_password(connection, name):
    pw = os.environ[name]
    for text in shown(pw):
        print("printed:", text)
        logging.getLogger("suite").warning("logged: %s", text)
    assert repr(pw) == json.dumps(pw), shown(pw)

@pytest.mark.parametrize("name", NAMES)
def test_remote_echo(connection, name):
    pw = os.environ[name]
    out = connection.run("printf %s " + shlex.quote(pw), hide=True).stdout
    assert out == pw
    assert json.dumps(out) == repr(out)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_no_password_in_any_encoding(
    pytester: pytest.Pytester,
    sshd: Target,
    login_password: str,
    monkeypatch: pytest.MonkeyPatch,
    workers: list[str],
) -> None:
    """Passwords named by --sudo-password-env / --su-password-env are redacted from every
    output in every encoding a test can show them in (``encodings``), not only as is --
    also when xdist workers make the reports."""
    import base64
    import json
    import shlex
    import urllib.parse

    for name, value in AWKWARD.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(ENCODED_SUITE)
    (pytester.path / "inv.ini").write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest "
        f"password_env={PASSWORD_ENV}\n"
    )
    out = pytester.path / "artifacts"
    run = pytester.runpytest_subprocess if workers else pytester.runpytest
    result = run(
        *workers,
        "--hosts=inv.ini",
        f"--known-hosts={sshd.known_hosts}",
        "--sudo-password-env=FP_AWK_SHELL",
        "--su-password-env=FP_AWK_UNICODE",
        "-vv",
        "-rA",
        "--showlocals",
        f"--junitxml={out / 'junit.xml'}",
        f"--fabricplus-report={out / 'report.json'}",
        f"--compliance-json={out / 'compliance.json'}",
        f"--compliance-report={out / 'compliance.html'}",
        f"--inspec-json={out / 'inspec'}",
    )
    result.assert_outcomes(passed=0, failed=4)
    result.stdout.fnmatch_lines(["*printed: ********", "*logged: ********"])
    assert "AssertionError" in result.stdout.str()
    texts = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in out.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    assert {p.name for p in out.rglob("*") if p.is_file()} >= {
        "junit.xml",
        "report.json",
        "compliance.json",
        "compliance.html",
    }
    assert "AssertionError" in texts[str(out / "junit.xml")]
    report = json.loads(texts[str(out / "report.json")])
    assert all("message" in t for t in report["hosts"]["web1"]["tests"])
    for value in AWKWARD.values():
        forms = {
            "raw": value,
            "repr": repr(value)[1:-1],
            "ascii": ascii(value)[1:-1],
            "repr of repr": repr(repr(value))[1:-1],
            "json": json.dumps(value)[1:-1],
            "json utf-8": json.dumps(value, ensure_ascii=False)[1:-1],
            "json of repr": json.dumps(repr(value))[1:-1],
            "percent": urllib.parse.quote(value, safe=""),
            "percent form": urllib.parse.quote_plus(value),
            "base64": base64.b64encode(value.encode()).decode().rstrip("="),
            "base64 url": base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
            "base64 inside": base64.b64encode(("fptest:" + value).encode()).decode()[12:-4],
            "shell": shlex.quote(value)[1:-1],
        }
        for form, text in forms.items():
            leaks = [where for where, body in texts.items() if text in body]
            assert leaks == [], f"{value!r} as {form} ({text}) found in {leaks}"

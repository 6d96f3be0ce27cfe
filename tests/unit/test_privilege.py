"""privilege.py without SSH: command building and quoting, marker arguments, redaction.

The quoting tests do not stop at ``shlex.split``: they also run the built command line with
``sh`` against small fake ``su``/``sudo`` programs that switch ``HOME``/``USER`` the way the
real ones do, so "expanded by the target user's shell, never the login user's" is checked
by a real shell. ``Su.run``/``Sudo.run`` are driven through invoke's local runner (with a pty
for su), which exercises prompt answering, marker cutting and error classification.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

import invoke
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fabricplus.errors import PrivilegeError
from pytest_fabricplus.hosts.spec import HostSpec
from pytest_fabricplus.runas import RunAs, RunAsRequest
from pytest_fabricplus.secrets import redact
from pytest_fabricplus.ssh.privilege import (
    Choice,
    PrivilegeRunner,
    Su,
    Sudo,
    in_target_shell,
    inner_command,
)

MARKER = "__fabricplus_0123456789ab__"
PROMPT = "[fabricplus:cafe] sudo password: "

#: commands whose every character matters; each must reach the target shell unchanged
NASTY = [
    "id -un",
    "echo $HOME",
    'echo "$(id -u)"',
    "echo 'single quoted $HOME' \"double $USER\" `id -un`",
    'echo it\\\'s; echo "a \\"quoted\\" word"',
    "false && echo no; echo yes || echo never",
    "echo /etc/host*",
    "printf 'a\\nb\\n'",
    "echo one\necho two",
    "exit 42",
    "cat <<'EOF'\n$HOME `x`\nEOF",
    "echo 'é ü ✓'; echo tab\there",
    "echo ${HOME:-none} $((1 + 2)) $$ >/dev/null; echo ok",
    "",
]


# --------------------------------------------------------------------------------------
# command building: shlex round trips
# --------------------------------------------------------------------------------------


def su_tokens(command: str, login: bool = True) -> list[str]:
    return shlex.split(Su().command(RunAs("svc", login=login), command, MARKER))


@pytest.mark.parametrize("command", NASTY)
def test_su_command_passes_the_command_as_one_argument(command: str) -> None:
    tokens = su_tokens(command)
    assert tokens[-5:] == ["su", "-", "svc", "-c", inner_command(command, MARKER)]
    assert tokens[-6] == "LC_ALL=C"
    assert tokens[:2] == ["stty", "-onlcr"]  # no NL->CRNL on the pty
    inner = tokens[-1]
    assert inner.startswith(f"printf '%s\\n' {MARKER}; ")
    assert inner.endswith(f"; {command}")


def test_su_without_login_has_no_dash() -> None:
    assert su_tokens("id", login=False)[-4:] == ["su", "svc", "-c", inner_command("id", MARKER)]


@pytest.mark.parametrize("command", NASTY)
@pytest.mark.parametrize("password", [None, "pw"])
def test_sudo_command_passes_the_command_as_one_argument(
    command: str, password: str | None
) -> None:
    run_as = RunAs("svc", sudo_password=password)
    tokens = shlex.split(Sudo().command(run_as, command, MARKER, PROMPT))
    auth = ["-S", "-p", PROMPT] if password else ["-n"]
    assert tokens[: 2 + len(auth)] == ["LC_ALL=C", "sudo", *auth]
    rest = tokens[2 + len(auth) :]
    assert rest[:4] == ["-H", "-u", "svc", "--"]
    sh, dash_c, launcher, argv0, inner = rest[4:]
    assert (sh, dash_c, argv0) == ("sh", "-c", "sh")
    assert launcher == (
        'cd "$HOME" 2>/dev/null; case "${SHELL:-}" in ""|*/nologin|*/false) SHELL=/bin/sh ;; '
        'esac; exec "$SHELL" -l -c "$1"'
    )
    assert inner == inner_command(command, MARKER)


def test_sudo_without_login_runs_sh_c() -> None:
    tokens = shlex.split(Sudo().command(RunAs("svc", login=False), "id", MARKER, PROMPT))
    assert tokens[-3:] == ["sh", "-c", inner_command("id", MARKER)]


def test_the_password_is_never_on_a_command_line() -> None:
    run_as = RunAs("svc", su_password="su-secret", sudo_password="sudo-secret")
    lines = [
        Su().command(run_as, "id", MARKER),
        Sudo().command(run_as, "id", MARKER, PROMPT),
    ]
    assert not any("secret" in line for line in lines)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=60))
def test_any_text_round_trips(command: str) -> None:
    assert su_tokens(command)[-1] == inner_command(command, MARKER)
    sudo = shlex.split(Sudo().command(RunAs("svc"), command, MARKER, PROMPT))
    assert sudo[-1] == inner_command(command, MARKER)


# --------------------------------------------------------------------------------------
# the built lines under a real sh, with fake su/sudo that switch HOME and USER
# --------------------------------------------------------------------------------------

FAKE_SU = r"""#!/bin/sh
# fake su: [-] USER -c CMD. Prompts like util-linux su (messages on stderr; a pty merges).
login=
if [ "$1" = "-" ]; then login=1; shift; fi
user=$1; shift
[ "$1" = "-c" ] || { echo "fake su: want -c, got $*" >&2; exit 2; }
if [ -n "$FAKE_SU_FAIL" ]; then echo "$FAKE_SU_FAIL" >&2; exit 1; fi
case "$user" in
    nosuch*) echo "su: user $user does not exist or the user entry does not contain all the required fields" >&2; exit 1 ;;
esac
if [ -n "$FAKE_SU_PASSWORD" ]; then
    printf 'Password: ' >&2
    stty -echo 2>/dev/null; IFS= read -r pw; stty echo 2>/dev/null; echo >&2
    if [ "$pw" != "$FAKE_SU_PASSWORD" ]; then echo "su: Authentication failure" >&2; exit 1; fi
fi
if [ -n "$FAKE_SU_REFUSE" ]; then
    echo "$FAKE_SU_REFUSE" >&2; echo "su: Authentication failure" >&2; exit 1
fi
if [ -n "$FAKE_SU_NOLOGIN" ]; then echo "This account is currently not available."; exit 1; fi
if [ -n "$login" ]; then cd "$FAKE_TARGET_HOME" || exit 3; fi
exec env HOME="$FAKE_TARGET_HOME" USER="$user" sh -c "$2"
"""

FAKE_SUDO = r"""#!/bin/sh
# fake sudo: [-S -p PROMPT | -n] -H -u USER -- CMD...; -S prompts on stderr like sudo.
ask=; prompt=; user=
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        -S) ask=1 ;;
        -n) ask= ;;
        -p) shift; prompt=$1 ;;
        -u) shift; user=$1 ;;
    esac
    shift
done
if [ -n "$ask" ]; then
    [ -n "$FAKE_LECTURE" ] && printf '%s\n' "$FAKE_LECTURE" >&2
    printf '%s' "$prompt" >&2; IFS= read -r pw
    if [ "$pw" != "$FAKE_SUDO_PASSWORD" ]; then
        echo "Sorry, try again." >&2; printf '%s' "$prompt" >&2
        IFS= read -r pw; echo "sudo: 2 incorrect password attempts" >&2; exit 1
    fi
elif [ -n "$FAKE_SUDO_PASSWORD" ]; then
    echo "sudo: a password is required" >&2; exit 1
fi
exec env HOME="$FAKE_TARGET_HOME" SHELL=/bin/sh USER="$user" "$@"
"""


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    """PATH with the fake su/sudo first; the "login user" has another HOME and USER."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("su", FAKE_SU), ("sudo", FAKE_SUDO)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    target_home = tmp_path / "home" / "svc"
    target_home.mkdir(parents=True)
    login_home = tmp_path / "home" / "login"
    login_home.mkdir()
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(login_home),
        "USER": "login",
        "FAKE_TARGET_HOME": str(target_home),
        "FAKE_SU_PASSWORD": "",
        "FAKE_SUDO_PASSWORD": "",
        "FAKE_SU_REFUSE": "",
        "FAKE_SU_FAIL": "",
        "FAKE_SU_NOLOGIN": "",
        "FAKE_LECTURE": "",
    }


def sh(line: str, env: dict[str, str], cwd: str | None = None) -> tuple[str, int]:
    done = subprocess.run(
        ["sh", "-c", line],
        env=env,
        cwd=cwd or env["HOME"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=10,
    )
    return done.stdout, done.returncode


def as_target(command: str, env: dict[str, str]) -> tuple[str, int]:
    """Ground truth: the command typed in the target user's shell, in its home."""
    target = {**env, "HOME": env["FAKE_TARGET_HOME"], "USER": "svc"}
    return sh(command, target, cwd=env["FAKE_TARGET_HOME"])


EXPANDING = [
    "echo $HOME",
    "echo $USER `echo $USER` $(echo $USER) '$USER' \"$USER\"",
    "pwd",
    "printf 'a\\nb\\n'; exit 42",
    "echo one\necho two",
    "false && echo no; echo yes",
]


@pytest.mark.parametrize("command", EXPANDING)
@pytest.mark.parametrize("method", ["su", "sudo"])
def test_built_line_expands_in_the_target_shell(
    fake_env: dict[str, str], method: str, command: str
) -> None:
    run_as = RunAs("svc")
    line = (
        Su().command(run_as, command, MARKER)
        if method == "su"
        else Sudo().command(run_as, command, MARKER, PROMPT)
    )
    out, code = sh(line, fake_env)
    expected_out, expected_code = as_target(command, fake_env)
    assert out == f"{MARKER}\n{expected_out}"
    assert code == expected_code
    assert "login" not in expected_out  # the ground truth itself is the target's view


# --------------------------------------------------------------------------------------
# Su.run / Sudo.run through invoke's local runner
# --------------------------------------------------------------------------------------


class _ClosingLocal(invoke.Local):  # type: ignore[misc]
    """invoke's local runner leaves the subprocess pipes to the garbage collector."""

    def stop(self) -> None:
        super().stop()
        process = getattr(self, "process", None)
        if process is not None:
            process.stdin.close()
            process.wait(timeout=5)  # reap it (invoke's kill() does not)
            process.stdout.close()
            process.stderr.close()


class LocalConn:
    """Stands in for FabricPlusConnection: ``run_plain`` runs locally through invoke.

    No real pty (pytest captures our stdout): ``pty=True`` is emulated by merging stderr
    into stdout, which is what a pty does to su's messages.
    """

    user = "login"

    def __init__(self, env: dict[str, str]) -> None:
        self.spec = HostSpec("fakehost", 2222, "login", id="fake")
        self.env = env

    def run_plain(self, command: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 10)
        if kwargs.pop("pty", False):
            command = f"{{ {command}\n}} 2>&1"
        context = invoke.Context(invoke.Config(overrides={"runners": {"local": _ClosingLocal}}))
        return context.run(command, env=self.env, in_stream=False, **kwargs)


HOST = "fake (login@fakehost:2222)"


def test_su_run_gives_exactly_the_command_output(fake_env: dict[str, str]) -> None:
    fake_env["FAKE_SU_PASSWORD"] = "su-pw-1234"
    run_as = RunAs("svc", su_password="su-pw-1234")
    conn = LocalConn(fake_env)
    result = Su().run(
        conn, run_as, "printf 'a\\r\\nb\\n'; echo $HOME; exit 42", hide=True, warn=True
    )
    # no "Password:" prompt, no marker, no CRLF added by the pty; the command's own CRLF stays
    assert result.stdout == f"a\r\nb\n{fake_env['FAKE_TARGET_HOME']}\n"
    assert result.exited == 42
    assert result.command == "printf 'a\\r\\nb\\n'; echo $HOME; exit 42"
    with pytest.raises(invoke.UnexpectedExit):
        Su().run(conn, run_as, "exit 3", hide=True)


@pytest.mark.parametrize(
    ("setup", "user", "message"),
    [
        ({"FAKE_SU_PASSWORD": "right-pw-1"}, "svc", f"su authentication failed for svc on {HOST}"),
        (
            {"FAKE_SU_PASSWORD": "su-pw-1234"},
            "nosuchuser",
            f"su: user nosuchuser does not exist on {HOST}",
        ),
        (
            {
                "FAKE_SU_PASSWORD": "su-pw-1234",
                "FAKE_SU_REFUSE": "su: refusing a non-interactive 'su -c'",
            },
            "svc",
            f"su as svc on {HOST} was refused: su: refusing a non-interactive 'su -c'",
        ),
        (
            {"FAKE_SU_FAIL": "su: cannot set groups: Operation not permitted"},
            "svc",
            f"su as svc on {HOST} did not ask for a password (su: cannot set groups: "
            "Operation not permitted)",
        ),
        (
            {"FAKE_SU_PASSWORD": "su-pw-1234", "FAKE_SU_NOLOGIN": "1"},
            "svc",
            f"su as svc on {HOST}: svc has no login shell (nologin), so su cannot run "
            "commands as it; sudo can",
        ),
    ],
    ids=["wrong-password", "unknown-user", "refused-after-password", "no-prompt", "nologin"],
)
def test_su_failures_are_classified(
    fake_env: dict[str, str], setup: dict[str, str], user: str, message: str
) -> None:
    fake_env.update(setup)
    with pytest.raises(PrivilegeError) as caught:
        Su().run(LocalConn(fake_env), RunAs(user, su_password="su-pw-1234"), "id", hide=True)
    assert str(caught.value).startswith(message)
    assert "su-pw-1234" not in str(caught.value)


def test_su_needs_a_password() -> None:
    with pytest.raises(PrivilegeError, match=r"su as svc on fake .* needs the user's password"):
        Su().run(LocalConn({}), RunAs("svc"), "id")


def test_sudo_keeps_stderr_apart_without_prompt_or_lecture(fake_env: dict[str, str]) -> None:
    fake_env["FAKE_SUDO_PASSWORD"] = "sudo-pw-1234"
    fake_env["FAKE_LECTURE"] = "We trust you have received the usual lecture"
    result = Sudo().run(
        LocalConn(fake_env),
        RunAs("svc", sudo_password="sudo-pw-1234"),
        "echo out; echo err >&2; printf 'crlf\\r\\n'; pwd",
        hide=True,
    )
    assert result.stdout == f"out\ncrlf\r\n{fake_env['FAKE_TARGET_HOME']}\n"
    assert result.stderr == "err\n"


def test_sudo_without_password_uses_n(fake_env: dict[str, str]) -> None:
    result = Sudo().run(LocalConn(fake_env), RunAs("svc"), "echo $USER", hide=True)
    assert result.stdout == "svc\n"


@pytest.mark.parametrize(
    ("password", "configured", "message"),
    [
        (
            "wrong-pw-99",
            "sudo-pw-1234",
            f"sudo authentication failed for login (to run as svc) on {HOST}",
        ),
        (None, "sudo-pw-1234", f"sudo as svc on {HOST} asks login for a password and none is set"),
    ],
    ids=["wrong-password", "no-password"],
)
def test_sudo_failures_are_classified(
    fake_env: dict[str, str], password: str | None, configured: str, message: str
) -> None:
    fake_env["FAKE_SUDO_PASSWORD"] = configured
    with pytest.raises(PrivilegeError) as caught:
        Sudo().run(LocalConn(fake_env), RunAs("svc", sudo_password=password), "id", hide=True)
    assert str(caught.value).startswith(message)
    assert "pw-" not in str(caught.value)


# --------------------------------------------------------------------------------------
# RunAs, RunAsRequest
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["", " ", "a b", "-rf", "x;y", "$(id)", "a'b", "a\nb"])
def test_run_as_rejects_bad_user_names(user: str) -> None:
    with pytest.raises(ValueError, match="invalid user name"):
        RunAs(user)


def test_run_as_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="method must be one of auto, su, sudo, got 'doas'"):
        RunAs("svc", method="doas")


def test_run_as_repr_hides_passwords() -> None:
    run_as = RunAs("svc", su_password="s3cret-su", sudo_password="s3cret-sudo")
    assert "s3cret" not in repr(run_as)
    assert run_as.secrets() == ["s3cret-su", "s3cret-sudo"]


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        (("postgres",), {}, RunAsRequest("postgres")),
        ((" postgres ",), {}, RunAsRequest("postgres")),
        (
            ("postgres",),
            {"method": "sudo", "password_env": "PG_PW", "login": False},
            RunAsRequest("postgres", "sudo", "PG_PW", False),
        ),
        (("root",), {"method": "auto"}, RunAsRequest("root", "auto")),
    ],
)
def test_su_user_request_parses(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected: RunAsRequest
) -> None:
    assert RunAsRequest.parse(args, kwargs) == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "takes one non-empty user name, got ()"),
        (("",), {}, "takes one non-empty user name, got ('',)"),
        (("  ",), {}, "takes one non-empty user name"),
        (("a", "b"), {}, "takes one non-empty user name, got ('a', 'b')"),
        ((3,), {}, "takes one non-empty user name, got (3,)"),
        (("pg",), {"user": "x"}, "unknown keyword(s) user; allowed: method, password_env, login"),
        (("pg",), {"pasword_env": "X", "metod": "su"}, "unknown keyword(s) metod, pasword_env"),
        (("pg",), {"method": "doas"}, "method must be one of auto, su, sudo, got 'doas'"),
        (
            ("pg",),
            {"method": None, "password_env": "MY-PW"},
            "password_env must name an environment variable, got 'MY-PW'",
        ),
        (("pg",), {"password_env": 5}, "password_env must name an environment variable, got 5"),
        (("pg",), {"login": "yes"}, "login must be True or False, got 'yes'"),
        (("pg;rm",), {}, "invalid user name 'pg;rm'"),
    ],
)
def test_su_user_request_errors(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=r".") as caught:
        RunAsRequest.parse(args, kwargs)
    assert message in str(caught.value)


# --------------------------------------------------------------------------------------
# redact
# --------------------------------------------------------------------------------------


def test_redact_replaces_every_occurrence() -> None:
    assert redact("pw=hunter2 again hunter2", ["hunter2"]) == "pw=******** again ********"


def test_redact_ignores_empty_and_missing_secrets() -> None:
    assert redact("nothing to hide", ["", "absent"]) == "nothing to hide"
    assert redact("text", []) == "text"


def test_redact_longest_secret_first() -> None:
    # "abc" inside "abcdef": replacing the short one first would leave "def" visible
    assert redact("x abcdef y abc", ["abc", "abcdef"]) == "x ******** y ********"


def test_redact_several_secrets() -> None:
    assert redact("su=one sudo=two", ["one", "two"]) == "su=******** sudo=********"


# --------------------------------------------------------------------------------------
# PrivilegeRunner: auto's probe and its cache, with stand-in strategies
# --------------------------------------------------------------------------------------


class FakeResult:
    def __init__(self, stdout: str, exited: int = 0) -> None:
        self.stdout = stdout
        self.exited = exited


class FakeStrategy:
    def __init__(self, name: str, works: bool) -> None:
        self.name = name
        self.works = works
        self.calls: list[str] = []
        self.timeouts: list[float | None] = []

    def run(self, conn: Any, run_as: RunAs, command: str, **kwargs: Any) -> FakeResult:
        self.calls.append(command)
        self.timeouts.append(kwargs.get("timeout"))
        if not self.works:
            raise PrivilegeError(f"{self.name} as {run_as.user} failed ({run_as.su_password})")
        return FakeResult(f"{run_as.user}\n" if command == "id -un" else f"ran {command}\n")


class FakeConn:
    def __init__(self, name: str) -> None:
        self.spec = HostSpec(name, id=name)


def runner_with(su: bool, sudo: bool) -> tuple[PrivilegeRunner, FakeStrategy, FakeStrategy]:
    runner = PrivilegeRunner()
    fake_su, fake_sudo = FakeStrategy("su", su), FakeStrategy("sudo", sudo)
    runner.strategies = {"su": fake_su, "sudo": fake_sudo}  # type: ignore[dict-item]
    return runner, fake_su, fake_sudo


def test_auto_probes_once_per_host_and_user() -> None:
    runner, fake_su, fake_sudo = runner_with(su=False, sudo=True)
    conn = FakeConn("h1")
    run_as = RunAs("svc", su_password="pw-one")
    for _ in range(3):
        assert runner.run(conn, run_as, "true").stdout == "ran true\n"
    assert runner.probes == 2  # su tried and failed, sudo chosen: once
    assert fake_su.calls == ["id -un"]
    assert fake_sudo.calls == ["id -un", "true", "true", "true"]
    assert runner.choices[("h1", "svc")].method == "sudo"
    assert runner.describe(conn.spec, "svc").startswith("svc via sudo (su: su as svc failed")
    runner.run(FakeConn("h2"), run_as, "true")  # another host probes on its own
    runner.run(conn, RunAs("other", su_password="pw-one"), "true")  # another user too
    assert runner.probes == 6


def test_auto_probes_concurrently_once() -> None:
    runner, fake_su, _ = runner_with(su=True, sudo=True)
    conn = FakeConn("h1")
    threads = [
        threading.Thread(target=runner.run, args=(conn, RunAs("svc", su_password="p"), "true"))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runner.probes == 1
    assert fake_su.calls.count("id -un") == 1


def test_auto_neither_works_names_host_user_and_both_reasons_redacted() -> None:
    runner, _, _ = runner_with(su=False, sudo=False)
    with pytest.raises(PrivilegeError) as caught:
        runner.run(FakeConn("h1"), RunAs("svc", su_password="pw-secret-1"), "true")
    text = str(caught.value)
    assert text.startswith("cannot run commands as svc on h1: su: su as svc failed")
    assert "; sudo: sudo as svc failed" in text
    assert "pw-secret-1" not in text
    assert "********" in text


def test_auto_probes_again_with_other_passwords() -> None:
    """A "neither works" found with a wrong password does not stick to the right one."""
    runner, fake_su, _ = runner_with(su=False, sudo=False)
    conn = FakeConn("h1")
    with pytest.raises(PrivilegeError):
        runner.run(conn, RunAs("svc", su_password="wrong"), "true")
    with pytest.raises(PrivilegeError):
        runner.run(conn, RunAs("svc", su_password="wrong"), "true")  # same inputs: cached
    assert runner.probes == 2
    fake_su.works = True
    assert runner.run(conn, RunAs("svc", su_password="right"), "true").stdout == "ran true\n"
    assert runner.probes == 3
    assert runner.choices[("h1", "svc")] == Choice("su", {})


def test_a_given_method_never_probes() -> None:
    runner, fake_su, _ = runner_with(su=True, sudo=True)
    runner.run(FakeConn("h1"), RunAs("svc", method="su"), "true")
    assert runner.probes == 0
    assert fake_su.calls == ["true"]
    spec = HostSpec("h1", id="h1")
    assert runner.describe(spec, "svc") == "svc (method given)"
    assert runner.describe(spec, "svc", "su") == "svc via su (method given)"
    runner.run(FakeConn("h1"), RunAs("svc"), "true")  # auto: su works
    assert runner.describe(spec, "svc", "auto") == "svc via su"
    # a test that asked for sudo is reported as sudo, whatever auto chose for others
    assert runner.describe(spec, "svc", "sudo") == "svc via sudo (method given)"


# --------------------------------------------------------------------------------------
# cd() / prefix() / env go inside the target shell
# --------------------------------------------------------------------------------------


def test_in_target_shell_applies_cd_prefix_and_env() -> None:
    context = invoke.Context()
    context.config.run.env = {"FROM_CONFIG": "c", "BOTH": "config"}
    with context.cd("/srv/my data"), context.prefix("source ./venv/bin/activate"):
        line = in_target_shell(context, "ls", {"BOTH": "kwarg", "SPACED": "a b'c"})
    assert line == (
        "export BOTH=kwarg FROM_CONFIG=c SPACED='a b'\"'\"'c' && "
        "cd /srv/my\\ data && source ./venv/bin/activate && ls"
    )
    assert in_target_shell(invoke.Context(), "ls") == "ls"
    assert in_target_shell(object(), "ls", {"BAD-NAME": "x"}) == "ls"


def test_outer_line_is_sent_without_cd(fake_env: dict[str, str], tmp_path: Path) -> None:
    """Only the target shell does the cd (the login user may not enter the directory)."""

    class CdConn(LocalConn):
        command_cwds: list[str]
        command_prefixes: list[str]

        def _prefix_commands(self, command: str) -> str:  # invoke's, simplified
            cds = [f"cd {shlex.quote(d)}" for d in self.command_cwds[-1:]]
            return " && ".join([*cds, *self.command_prefixes, command])

        def run_plain(self, command: str, **kwargs: Any) -> Any:
            # what Fabric would put in front of the line sent: must be empty now
            assert self._prefix_commands("X") == "X"
            return super().run_plain(command, **kwargs)

    target_dir = tmp_path / "target only"
    target_dir.mkdir()
    conn = CdConn(fake_env)
    conn.command_cwds, conn.command_prefixes = [str(target_dir)], ["export IN=yes"]
    result = PrivilegeRunner().run(conn, RunAs("svc", method="sudo"), "pwd; echo $IN", hide=True)
    assert result.stdout == f"{target_dir}\nyes\n"
    assert conn.command_cwds == [str(target_dir)]  # restored afterwards
    assert conn.command_prefixes == ["export IN=yes"]


@pytest.mark.parametrize(("command_timeout", "expected"), [(None, 15.0), (300.0, 15.0), (2.0, 2.0)])
def test_probe_timeout_is_short(command_timeout: float | None, expected: float) -> None:
    runner, fake_su, _ = runner_with(su=True, sudo=True)
    conn = FakeConn("h1")
    conn.command_timeout = command_timeout  # type: ignore[attr-defined]
    runner.run(conn, RunAs("svc"), "true")
    assert fake_su.timeouts == [expected, None]  # the probe, then the command (its own)

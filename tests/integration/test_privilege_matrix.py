"""su / sudo / auto against the container targets, compared with what the user gets locally.

Targets (containers/README.md): ``ubuntu`` where ``su - USER -c CMD`` works, and ``centos7``
where it is refused the way CentOS 7 does it for fabricplus' users (emulated on a Debian base
here), so ``auto`` must fall back to sudo. Logins: ``fpuser`` (key; sudo with its password) and
``fpnopass`` (NOPASSWD sudo). Every command's output and exit code are compared with the same
command typed in a login shell of the target user inside the container (``docker exec``).

The last tests document fabricplus' own ``ConnectionPlus.su()`` on the same inputs: they
assert what upstream does today (fabricplus 1.0.1), so they fail when upstream changes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import pytest
from fabricplus.connection import ConnectionPlus
from invoke.exceptions import UnexpectedExit

from pytest_fabricplus import CommandTimeout, PrivilegeError
from pytest_fabricplus.runas import RunAs

from .conftest import PrivilegeTargets

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Case:
    kind: str
    method: str
    login: str
    user: str

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.method}-{self.login}-to-{self.user}"


CASES = [
    Case("ubuntu", "su", "fpuser", "fpsu"),
    Case("ubuntu", "sudo", "fpuser", "fpsu"),
    Case("ubuntu", "auto", "fpuser", "fpsu"),  # auto -> su
    Case("ubuntu", "sudo", "fpnopass", "root"),  # NOPASSWD: sudo -n
    Case("centos7", "sudo", "fpuser", "fpsu"),
    Case("centos7", "auto", "fpuser", "fpsu"),  # auto -> sudo (su refused)
    Case("centos7", "sudo", "fpnopass", "root"),
]

COMMANDS = {
    "id": "id -un",
    "home": "echo $HOME",
    "uid": 'echo "$(id -u)"',
    "quotes-backticks": 'echo \'single $HOME\' "double $(id -un)" `id -un` it\\\'s "{a,b}"',
    "exit-0": "true",
    "exit-1": "false",
    "exit-42": "echo before; exit 42",
    "multi-line": "printf 'line 1\\nline 2\\n\\n  indented\\n'; for i in 1 2 3; do echo \"n=$i\"; done",
    "newline-in-command": "echo first\necho second && echo third",
    "glob-and-operators": "cd /etc && echo host[n]ame pass*d; false || echo or; true && echo and",
    "pwd": "pwd",
    "crlf-kept": "printf 'dos\\r\\nline\\r\\n'",
}


def ground_truth(targets: PrivilegeTargets, kind: str, user: str, command: str) -> tuple[int, str]:
    code, out, err = targets.local(kind, user, command)
    assert err == "", f"the ground truth itself wrote to stderr: {err!r}"
    return code, out


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_command_as_target_user_equals_local(
    privilege_targets: PrivilegeTargets, open_target: Any, case: Case, name: str
) -> None:
    command = COMMANDS[name]
    conn = open_target(case.kind, case.login)
    with conn.as_user(case.user, method=case.method) as as_user:
        result = as_user.run(command, warn=True, hide=True)
        run_as = as_user.run_as
    expected_code, expected_out = ground_truth(privilege_targets, case.kind, case.user, command)
    assert (result.stdout, result.exited) == (expected_out, expected_code)
    assert result.stderr == ""  # no prompt, no lecture, no su chatter
    assert result.command == command
    # the NOPASSWD sudoer runs with no password at all (sudo -n); the others answer sudo's prompt
    assert (run_as.sudo_password is None) == (case.login == "fpnopass")
    if name == "id":
        assert result.stdout == f"{case.user}\n"
    if name == "pwd":
        assert result.stdout == privilege_targets.home(case.kind, case.user) + "\n"


@pytest.mark.parametrize(
    ("kind", "method", "expected"),
    [
        ("ubuntu", "su", ("out\nerr\n", "")),  # through a pty: merged, in order
        ("ubuntu", "sudo", ("out\n", "err\n")),
        ("centos7", "sudo", ("out\n", "err\n")),
    ],
)
def test_stderr_is_kept_apart_where_the_method_allows(
    open_target: Any, kind: str, method: str, expected: tuple[str, str]
) -> None:
    conn = open_target(kind)
    with conn.as_user("fpsu", method=method):
        result = conn.run("echo out; sleep 0.1; echo err >&2", hide=True)
    assert (result.stdout, result.stderr) == expected


@pytest.mark.parametrize(("kind", "method"), [("ubuntu", "su"), ("centos7", "sudo")])
def test_timeout_ends_the_target_users_command(
    privilege_targets: PrivilegeTargets, open_target: Any, kind: str, method: str
) -> None:
    """su/sudo run the command out of reach of the SSH session's kill; it must end anyway."""
    conn = open_target(kind)
    with pytest.raises(CommandTimeout), conn.as_user("fpsu", method=method):
        conn.run("sleep 4711; echo never", timeout=1)
    container = privilege_targets.docker.container(kind)
    deadline = time.monotonic() + 5
    while True:
        code, out = container.exec_run(["pgrep", "-u", "fpsu", "-a", "sleep"])
        if code != 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert code == 1, f"pgrep exit {code} (1 = no such process): {out.decode()!r}"
    assert conn.run("id -un", hide=True).stdout == "fpuser\n"


def test_su_is_refused_on_centos7(privilege_targets: PrivilegeTargets, open_target: Any) -> None:
    conn = open_target("centos7")
    target = privilege_targets.targets["centos7"]
    host = f"centos7 (fpuser@127.0.0.1:{target.port})"
    with pytest.raises(PrivilegeError) as refused, conn.as_user("fpsu", method="su"):
        conn.run("id -un")
    text = str(refused.value)
    assert text.startswith(f"su as fpsu on {host} was refused: ")
    if target.emulated:
        assert "refusing a non-interactive 'su -c' from fpuser to fpsu" in text
    # a wrong password is a different error on the same host
    wrong = RunAs("fpsu", "su", su_password="not-the-password-1")
    with pytest.raises(PrivilegeError) as failed:
        conn._privilege.run(conn, wrong, "id -un")
    assert str(failed.value).startswith(f"su authentication failed for fpsu on {host}")
    assert "not-the-password-1" not in str(failed.value)
    # and the connection is fine for the next command
    assert conn.run("id -un", hide=True).stdout == "fpuser\n"


def test_auto_picks_su_on_ubuntu_sudo_on_centos7_and_probes_once(
    privilege_targets: PrivilegeTargets,
) -> None:
    connector = privilege_targets.connector()  # a runner of its own: counts only this test
    runner = connector.privilege
    conns = {kind: connector.open(privilege_targets.spec(kind)) for kind in ("ubuntu", "centos7")}
    try:
        first: dict[str, float] = {}
        for kind, conn in conns.items():
            with conn.as_user("fpsu"):  # method from the inventory / options: auto
                started = time.monotonic()
                assert conn.run("id -un", hide=True).stdout == "fpsu\n"
                first[kind] = time.monotonic() - started
                for _ in range(3):
                    assert conn.run("echo $HOME", hide=True).stdout == "/home/fpsu\n"
        assert runner.choices[("ubuntu", "fpsu")].method == "su"
        assert runner.choices[("centos7", "fpsu")].method == "sudo"
        assert "was refused" in runner.choices[("centos7", "fpsu")].reasons["su"]
        assert runner.probes == 3  # ubuntu: su; centos7: su (refused), then sudo
        for conn in conns.values():  # later tests on the same hosts: no new probe
            with conn.as_user("fpsu"):
                conn.run("true")
        assert runner.probes == 3
        spec = privilege_targets.spec("centos7")
        assert runner.describe(spec, "fpsu", "auto").startswith(
            "fpsu via sudo (su: su as fpsu on centos7"
        )
        print(
            f"\nauto: first command incl. probe: ubuntu {first['ubuntu']:.2f}s (su), "
            f"centos7 {first['centos7']:.2f}s (su refused, then sudo)"
        )
    finally:
        for conn in conns.values():
            conn.close()


def test_latency_su_vs_sudo(open_target: Any) -> None:
    """Per-command cost of switching user (printed; bounds only catch pathologies)."""
    conn = open_target("ubuntu")
    rounds = 8

    def median(method: str | None) -> float:
        times = []
        for _ in range(rounds):
            started = time.monotonic()
            if method is None:
                conn.run("id -un", hide=True)
            else:
                with conn.as_user("fpsu", method=method):
                    conn.run("id -un", hide=True)
            times.append(time.monotonic() - started)
        return statistics.median(times)

    plain, su, sudo = median(None), median("su"), median("sudo")
    print(
        f"\nmedian per command: plain {plain * 1000:.0f} ms, su {su * 1000:.0f} ms, "
        f"sudo {sudo * 1000:.0f} ms"
    )
    assert su < 2.0
    assert sudo < 2.0


# --------------------------------------------------------------------------------------
# before/after: fabricplus' ConnectionPlus.su() vs ours, same inputs, same target
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream(privilege_targets: PrivilegeTargets) -> Any:
    """A plain fabricplus ConnectionPlus as fpuser (its own code path, not our subclass)."""
    target = privilege_targets.targets["ubuntu"]
    conn = ConnectionPlus(
        target.host,
        user="fpuser",
        port=target.port,
        connect_kwargs={
            "key_filename": [target.key_filename],
            "look_for_keys": False,
            "allow_agent": False,
        },
    )
    conn.client.load_host_keys(str(privilege_targets.docker.known_hosts_path))
    conn.open()
    yield conn
    conn.close()


def test_before_after_fabricplus_su(
    privilege_targets: PrivilegeTargets, open_target: Any, upstream: Any
) -> None:
    """What fabricplus 1.0.1 ``ConnectionPlus.su()`` gives vs ``su_user`` / ``run_as``.

    Observed upstream (asserted, so this fails when fabricplus changes):
    * ``su - USER -c "CMD"`` is built with an f-string and then ``.format()``-ed: the
      double-quote escaping is never applied, and ``{...}`` in CMD raises ``KeyError``;
    * ``$HOME``, ``$(...)``, backticks and ``"..."`` are expanded by fpuser's shell;
    * output starts with ``Password: \\r\\n`` and every line ends in CRLF;
    * ``cd()`` is ignored;
    * a wrong password is a bare ``UnexpectedExit`` (exit 1), not its ``AuthFailure``.
    """
    su_pw = privilege_targets.env["FPIT_PASSWORD_FPSU"]
    ours_conn = open_target("ubuntu")
    login_uid = ours_conn.run("id -u", hide=True).stdout.strip()
    target_uid = privilege_targets.local("ubuntu", "fpsu", "id -u")[1].strip()
    rows: list[tuple[str, str, str]] = []

    def theirs(command: str) -> Any:
        # in_stream=False: pytest's captured stdin cannot be read (our Connector sets the same)
        return upstream.su(command, "fpsu", password=su_pw, hide=True, warn=True, in_stream=False)

    def ours(command: str) -> Any:
        with ours_conn.as_user("fpsu", method="su"):
            return ours_conn.run(command, hide=True, warn=True)

    cases = [
        # command, upstream stdout (observed), ours (= fpsu typing it)
        ("id -un", "Password: \r\nfpsu\r\n", "fpsu\n"),
        ("echo $HOME", "Password: \r\n/home/fpuser\r\n", "/home/fpsu\n"),
        ('echo "$(id -u)"', f"Password: \r\n{login_uid}\r\n", f"{target_uid}\n"),
        ("echo `id -un`", "Password: \r\nfpuser\r\n", "fpsu\n"),
        ('echo "a  b"', "Password: \r\na\r\n", "a  b\n"),
        ("echo 'a  b'", "Password: \r\na  b\r\n", "a  b\n"),
        ("printf 'x\\ny\\n'", "Password: \r\nx\r\ny\r\n", "x\ny\n"),
        ("exit 42", "Password: \r\n", ""),
    ]
    for command, upstream_out, our_out in cases:
        before, after = theirs(command), ours(command)
        assert before.stdout == upstream_out, command
        assert after.stdout == our_out, command
        assert after.exited == before.exited, command
        rows.append((command, repr(before.stdout), repr(after.stdout)))

    with pytest.raises(KeyError, match="HOME"):
        theirs("echo ${HOME}")
    assert ours("echo ${HOME}").stdout == "/home/fpsu\n"
    rows.append(("echo ${HOME}", "KeyError: 'HOME'", repr("/home/fpsu\n")))

    with upstream.cd("/tmp"):
        assert theirs("pwd").stdout == "Password: \r\n/home/fpsu\r\n"
    with ours_conn.cd("/tmp"):
        assert ours("pwd").stdout == "/tmp\n"
    rows.append(("cd('/tmp'): pwd", repr("Password: \r\n/home/fpsu\r\n"), repr("/tmp\n")))

    started = time.monotonic()
    with pytest.raises(UnexpectedExit) as bare:
        upstream.su("id -un", "fpsu", password="wrong-password-1", hide=True, in_stream=False)
    upstream_seconds = time.monotonic() - started
    assert type(bare.value) is UnexpectedExit  # not fabricplus' AuthFailure
    assert bare.value.result.exited == 1
    assert "su: Authentication failure" in bare.value.result.stdout
    started = time.monotonic()
    wrong = RunAs("fpsu", "su", su_password="wrong-password-1")
    with pytest.raises(PrivilegeError) as clear:
        ours_conn._privilege.run(ours_conn, wrong, "id -un")
    our_seconds = time.monotonic() - started
    assert str(clear.value).startswith("su authentication failed for fpsu on ubuntu (")
    rows.append(
        (
            "wrong password",
            f"UnexpectedExit exit 1 after {upstream_seconds:.1f}s",
            f"PrivilegeError 'su authentication failed for fpsu on ubuntu ...' "
            f"after {our_seconds:.1f}s",
        )
    )
    width = max(len(r[0]) for r in rows)
    print(
        "\n"
        + "\n".join(
            f"{c:<{width}}  fabricplus: {b}\n{'':<{width}}  ours:       {a}" for c, b, a in rows
        )
    )

"""su / sudo / auto against the container targets, compared with what the user gets locally.

Targets (containers/README.md): ``ubuntu`` where ``su - USER -c CMD`` works, and ``centos7``
where it is refused the way CentOS 7 does it for fabricplus' users (emulated on a Debian base
here), so ``auto`` must fall back to sudo. Logins: ``fpuser`` (key; sudo with its password) and
``fpnopass`` (NOPASSWD sudo). Every command's output and exit code are compared with the same
command typed in a login shell of the target user inside the container (``docker exec``).

On a registry-free machine ``centos7`` is a Debian base with the project's own PAM emulation
of the refusal (containers/el7-su-emulation, containers/README.md): the ``el7emu`` in the test
ids says so -- there the refusal is evidence of our handling, not of CentOS 7. Built on a real
``centos:7`` base, nothing is emulated and the same tests check the real thing.

fabricplus' own ``ConnectionPlus.su()`` on the same inputs (upstream's behaviour, pinned):
tests/upstream/test_fabricplus_su.py. Latency of su/sudo: bench/privilege_latency.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_fabricplus import CommandTimeout, PrivilegeError
from testing.containers import PrivilegeTargets, kind_id

pytestmark = pytest.mark.docker


@dataclass(frozen=True)
class Case:
    kind: str
    method: str
    login: str
    user: str

    @property
    def id(self) -> str:
        return f"{kind_id(self.kind)}-{self.method}-{self.login}-to-{self.user}"


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
    ids=["ubuntu-su", "ubuntu-sudo", "centos7-el7emu-sudo"],
)
def test_stderr_is_kept_apart_where_the_method_allows(
    open_target: Any, kind: str, method: str, expected: tuple[str, str]
) -> None:
    conn = open_target(kind)
    with conn.as_user("fpsu", method=method):
        result = conn.run("echo out; sleep 0.1; echo err >&2", hide=True)
    assert (result.stdout, result.stderr) == expected


@pytest.mark.parametrize(
    ("kind", "method"),
    [("ubuntu", "su"), ("centos7", "sudo")],
    ids=["ubuntu-su", "centos7-el7emu-sudo"],
)
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


def test_su_is_refused_on_centos7_el7emu(
    privilege_targets: PrivilegeTargets, open_target: Any
) -> None:
    """su refused on ``centos7``: on a registry-free machine this is the project's own PAM
    emulation (containers/el7-su-emulation), i.e. it checks how we report a refusal, not that
    CentOS 7 refuses; on a real ``centos:7`` base it is the real refusal."""
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
    with pytest.raises(PrivilegeError) as failed:
        conn.su("id -un", "fpsu", password="not-the-password-1")
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
        for conn in conns.values():
            with conn.as_user("fpsu"):  # method from the inventory / options: auto
                assert conn.run("id -un", hide=True).stdout == "fpsu\n"
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
    finally:
        for conn in conns.values():
            conn.close()

"""Upstream canary: fabricplus' own ``ConnectionPlus.su()`` (1.0.1), pinned as it is today.

These tests assert **upstream's behaviour, bugs included**, next to what pytest_fabricplus
makes of the same inputs on the same target (before/after). They are not tests of this
project: they may start failing when fabricplus fixes or changes ``su()``. Then read what
changed, adapt or delete the workaround it pins (pytest_fabricplus/ssh/privilege.py, the
``su()`` override in pytest_fabricplus/ssh/connection.py), and delete the canary.

Targets: the session's shared container targets (tests/conftest.py, ``open_target``).
"""

from __future__ import annotations

import time
from typing import Any

import paramiko
import pytest
from fabricplus.connection import ConnectionPlus
from invoke.exceptions import UnexpectedExit

from pytest_fabricplus import PrivilegeError
from pytest_fabricplus.integrations.docker import TARGET_KINDS, DockerTargets
from testing.containers import PrivilegeTargets, kind_id

pytestmark = pytest.mark.docker


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
    ours_conn = open_target("ubuntu")  # ours: pytest_fabricplus' FabricPlusConnection
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
    with pytest.raises(PrivilegeError) as clear:
        ours_conn.su("id -un", "fpsu", password="wrong-password-1")
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


@pytest.mark.parametrize("kind", TARGET_KINDS, ids=kind_id)
def test_fabricplus_su_on_the_targets(session_targets: DockerTargets, kind: str) -> None:
    """fabricplus' own ConnectionPlus.su on each target (host key checked, not accepted):
    works on ubuntu (output with upstream's ``Password: `` line), refused on centos7 -- on a
    registry-free base by the project's own emulation (containers/el7-su-emulation)."""
    target = session_targets.targets[kind]
    known_hosts = session_targets.known_hosts_path
    conn = ConnectionPlus(
        target.host,
        user=target.login_user,
        port=target.port,
        connect_kwargs={
            "key_filename": target.key_filename,
            "look_for_keys": False,
            "allow_agent": False,
        },
    )
    conn.client.load_host_keys(str(known_hosts))
    conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        if target.su_works:
            result = conn.su(
                "id -un", "fpsu", password=target.password("fpsu"), hide=True, in_stream=False
            )
            assert result.stdout.replace("\r\n", "\n") == "Password: \nfpsu\n"
        else:
            with pytest.raises(UnexpectedExit) as info:
                conn.su(
                    "id -un",
                    "fpsu",
                    password=target.password("fpsu"),
                    hide=True,
                    in_stream=False,
                )
            assert info.value.result.exited == 1
            assert "su: Authentication failure" in info.value.result.stdout
    finally:
        conn.close()

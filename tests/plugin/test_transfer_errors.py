"""``connection.put``/``get`` errors name the host and both paths, with the class users
catch today (``PermissionError``, ``FileNotFoundError``), over real SFTP."""

from __future__ import annotations

import pytest

from testing.targets import Target

SUITE = """
import io
import pytest


def test_put_permission_denied(connection, tmp_path):
    local = tmp_path / "app.conf"
    local.write_text("x")
    with pytest.raises(PermissionError) as info:
        connection.put(str(local), "/etc/app.conf")
    host = connection.spec.describe()
    assert info.value.errno == 13
    assert str(info.value) == (
        f"[Errno 13] Permission denied: cannot put {local} to /etc/app.conf on {host}"
    )


def test_put_file_object(connection):
    with pytest.raises(PermissionError, match=r"cannot put a file object to /root/x on "):
        connection.put(io.BytesIO(b"x"), remote="/root/x")


def test_get_missing_remote(connection, tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        connection.get("/no/such/file", str(tmp_path / "copy"))
    host = connection.spec.describe()
    assert str(info.value) == (
        f"[Errno 2] No such file: cannot get /no/such/file from {host} to {tmp_path / 'copy'}"
    )


def test_get_permission_denied_default_local(connection):
    with pytest.raises(PermissionError, match=r"cannot get /etc/shadow from .* to \\(the current directory\\)$"):
        connection.get("/etc/shadow")


def test_a_good_transfer_still_works(connection, tmp_path):
    local = tmp_path / "f"
    local.write_text("hello")
    connection.put(str(local), "/tmp/fp-transfer-test")
    connection.get("/tmp/fp-transfer-test", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "hello"
    connection.run("rm -f /tmp/fp-transfer-test")
"""


def test_transfer_errors_name_host_and_paths(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(passed=5)

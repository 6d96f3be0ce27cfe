"""Real tests of the Docker targets: build, run, SSH in, su and sudo, teardown.

Everything talks to 127.0.0.1 only (published ports).  The running targets are the
session's shared set (``session_targets``, tests/conftest.py); tests that stop, restart or
remove containers start their own.  No Docker daemon: ``require_docker`` fails these tests
under ``FABRICPLUS_NEED_DOCKER=1`` (the test command), skips them otherwise.  On a
registry-free machine ``centos7``'s su refusal is the project's own emulation
(containers/el7-su-emulation; ``centos7-el7emu`` in the ids).  Without an image registry the
base image ``fabricplus-base/debian:bookworm`` must exist (``python -m pytest_fabricplus
build-base``);
otherwise the build fails with a message saying exactly that.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import time
from pathlib import Path

import paramiko
import pytest

from pytest_fabricplus.integrations.docker import (
    LABEL_COMMON,
    LABEL_KEEP,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_SESSION,
    TARGET_KINDS,
    DockerError,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
    containers_dir,
    fetch_host_key,
    image_tag,
)
from testing.containers import kind_id

pytestmark = pytest.mark.docker

SU_TARGET = "fpsu"
# Bounds for every interactive exchange below.
PTY_TIMEOUT = 20.0


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _client(target: DockerTarget, known_hosts: Path, user: str, *, key: bool) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    kwargs: dict[str, object] = {
        "username": user,
        "look_for_keys": False,
        "allow_agent": False,
        "timeout": 10,
        "banner_timeout": 10,
        "auth_timeout": 10,
    }
    if key:
        kwargs["key_filename"] = target.key_filename
    else:
        kwargs["password"] = target.password(user)
    client.connect(target.host, target.port, **kwargs)  # type: ignore[arg-type]
    return client


def _run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    _stdin, stdout, _stderr = client.exec_command(command, timeout=PTY_TIMEOUT)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out


def _drain(channel: paramiko.Channel, output: bytes, limit: float = 5.0) -> bytes:
    """Read until EOF: sshd may send a pty's last output after the exit status."""
    channel.settimeout(1.0)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            chunk = channel.recv(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        output += chunk
    return output


def _run_pty(
    client: paramiko.SSHClient, command: str, answer: str | None, prompt: bytes = b"Password: "
) -> tuple[int, str]:
    """Run ``command`` on a pty, answer ``prompt`` once; bounded by PTY_TIMEOUT.

    This is how fabricplus drives ``su``: exec with a pty, watch the merged output for
    the prompt, write the password and a newline.
    """
    transport = client.get_transport()
    assert transport is not None
    channel = transport.open_session()
    try:
        channel.get_pty()
        channel.settimeout(1.0)
        channel.exec_command(command)
        output = b""
        answered = answer is None
        deadline = time.monotonic() + PTY_TIMEOUT
        while time.monotonic() < deadline:
            if channel.recv_ready():
                output += channel.recv(4096)
                if not answered and output.endswith(prompt):
                    channel.sendall((answer or "").encode() + b"\n")
                    answered = True
            elif channel.exit_status_ready():
                output = _drain(channel, output)
                break
            else:
                time.sleep(0.02)
        else:
            pytest.fail(f"{command!r} did not finish within {PTY_TIMEOUT}s; output {output!r}")
        return channel.recv_exit_status(), output.decode().replace("\r\n", "\n")
    finally:
        channel.close()


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture
def session(session_targets: DockerTargets) -> DockerTargets:
    """The session's shared targets (tests/conftest.py): leave them running as they are."""
    return session_targets


@pytest.fixture(params=TARGET_KINDS, ids=kind_id)
def target(request: pytest.FixtureRequest, session: DockerTargets) -> DockerTarget:
    return session.targets[request.param]


@pytest.fixture
def known_hosts(session: DockerTargets) -> Path:
    return session.known_hosts_path


# --------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------


def test_second_ensure_images_reuses_images(session: DockerTargets) -> None:
    """A second run (new session object, same inputs) builds nothing: no build is started."""
    again = DockerTargets(DockerTargetsConfig())
    builds: list[object] = []

    def no_build(**kwargs: object) -> None:
        builds.append(kwargs.get("tag"))
        raise AssertionError(f"ensure_images started a build of {kwargs.get('tag')}")

    try:
        again.client.api.build = no_build  # the only way ensure_images builds
        images = again.ensure_images(TARGET_KINDS)
    finally:
        again.close()
    assert builds == []
    assert {kind: image.built for kind, image in images.items()} == dict.fromkeys(
        TARGET_KINDS, False
    )
    assert {kind: image.tag for kind, image in images.items()} == {
        kind: image.tag for kind, image in session.images.items()
    }
    assert {kind: image.image_id for kind, image in images.items()} == {
        kind: image.image_id for kind, image in session.images.items()
    }


def test_stale_images_are_removed(session: DockerTargets) -> None:
    """An image of an older build (other hash) goes; the current one stays."""
    client = session.client
    current = session.images["ubuntu"]
    stale_tag = "pytest-fabricplus/ubuntu:0000stale0000000"
    client.images.get(current.tag).tag(stale_tag)
    # Same image id under another tag is not "stale": only other ids are removed.
    # (images of older builds on this machine, if any, may go too: only ours are asserted)
    assert stale_tag not in session.remove_stale_images(["ubuntu"])
    client.images.remove(stale_tag)
    base = client.images.get(current.base_image)
    container = client.containers.create(base.id, ["true"])
    try:
        stale = container.commit(
            repository="pytest-fabricplus/ubuntu",
            tag="0000stale0000000",
            changes=[
                "LABEL pytest-fabricplus.kind=ubuntu",
                "LABEL pytest-fabricplus.context-hash=0000stale0000000",
            ],
        )
    finally:
        container.remove(force=True)
    assert stale.id != current.image_id
    assert stale_tag in session.remove_stale_images(["ubuntu"])
    assert client.images.get(current.tag).id == current.image_id


def test_image_tag_follows_build_inputs(tmp_path: Path) -> None:
    context = tmp_path / "containers"
    shutil.copytree(containers_dir(), context)
    base = "fabricplus-base/debian:bookworm"
    before = {kind: image_tag(kind, base, context) for kind in TARGET_KINDS}
    assert before["ubuntu"].startswith("pytest-fabricplus/ubuntu:")
    # Docs do not influence images ...
    (context / "README.md").write_text("changed\n")
    assert {kind: image_tag(kind, base, context) for kind in TARGET_KINDS} == before
    # ... one kind's Dockerfile changes only that kind ...
    with (context / "centos7" / "Dockerfile").open("a") as handle:
        handle.write("# changed\n")
    assert image_tag("ubuntu", base, context) == before["ubuntu"]
    assert image_tag("centos7", base, context) != before["centos7"]
    # ... shared provisioning and the base image change every kind.
    with (context / "provision.sh").open("a") as handle:
        handle.write("# changed\n")
    assert image_tag("ubuntu", base, context) != before["ubuntu"]
    assert image_tag("ubuntu", "other/base:1", containers_dir()) != before["ubuntu"]


def test_build_failure_reports_log_tail(require_docker: None, tmp_path: Path) -> None:
    context = tmp_path / "containers"
    shutil.copytree(containers_dir(), context)
    provision = context / "provision.sh"
    text = provision.read_text()
    provision.write_text(
        text.replace(
            "set -eu\n", "set -eu\necho 'deliberate failure for the test' >&2\nexit 3\n", 1
        )
    )
    broken = DockerTargets(DockerTargetsConfig(context_dir=context, generate_credentials=False))
    dangling_before = {i.id for i in broken.client.images.list(filters={"dangling": True})}
    try:
        with pytest.raises(DockerError) as info:
            broken.ensure_images(["ubuntu"])
        dangling_after = {i.id for i in broken.client.images.list(filters={"dangling": True})}
    finally:
        broken.close()
    assert dangling_after <= dangling_before, "the failed build left an untagged image behind"
    message = str(info.value)
    assert "building the ubuntu target image" in message
    assert "deliberate failure for the test" in message  # the build log tail
    assert "returned a non-zero code: 3" in message


# --------------------------------------------------------------------------------------
# the running targets
# --------------------------------------------------------------------------------------


def test_targets_are_published_on_loopback_only(
    session: DockerTargets, target: DockerTarget
) -> None:
    container = session.container(target.name)
    bindings = container.attrs["NetworkSettings"]["Ports"]["22/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": str(target.port)}]
    assert container.labels[LABEL_COMMON] == "1"
    assert container.labels[LABEL_SESSION] == session.config.session_id
    assert target.host == "127.0.0.1"


def test_target_round_trips_through_a_dict(target: DockerTarget) -> None:
    """What the xdist controller hands to workers; secrets only on request."""
    public = target.to_dict()
    assert "passwords" not in public
    assert target.password() not in repr(public)
    assert target.password() not in repr(target)
    again = DockerTarget.from_dict(target.to_dict(include_secrets=True))
    assert again == target
    assert again.password("fpsu") == target.password("fpsu")
    assert again.key_filename == target.key_filename


def test_marker_file_says_what_the_target_is(target: DockerTarget) -> None:
    if target.kind == "ubuntu":
        assert target.description in ("ubuntu", "ubuntu (debian base)")
    else:
        assert target.description in ("centos7", "centos7 (el7-emulated on debian base)")
    assert target.su_works is (target.kind == "ubuntu")


def test_known_hosts_line_matches_the_key_sshd_presents(target: DockerTarget) -> None:
    assert re.fullmatch(
        rf"\[127\.0\.0\.1\]:{target.port} ssh-ed25519 AAAA[0-9A-Za-z+/]+=*", target.known_hosts_line
    )
    assert target.known_hosts_lines[0] == target.known_hosts_line
    presented = fetch_host_key(target.port, "ssh-ed25519")
    assert target.known_hosts_line.split()[2] == presented.get_base64()


@pytest.mark.parametrize("auth", ["key", "password"])
def test_login_user_can_log_in(target: DockerTarget, known_hosts: Path, auth: str) -> None:
    client = _client(target, known_hosts, target.login_user, key=auth == "key")
    try:
        status, out = _run(client, "id -un; cat /etc/fabricplus-target")
    finally:
        client.close()
    assert status == 0
    assert out.splitlines() == [target.login_user, target.description]


def test_per_run_passwords_replace_the_test_only_defaults(
    target: DockerTarget, known_hosts: Path
) -> None:
    assert target.credentials.generated
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                target.host,
                target.port,
                username=target.login_user,
                password=f"{target.login_user}-test-only",
                look_for_keys=False,
                allow_agent=False,
                timeout=10,
            )
    finally:
        client.close()


# --------------------------------------------------------------------------------------
# su and sudo
# --------------------------------------------------------------------------------------


def test_su_with_password_over_a_pty(target: DockerTarget, known_hosts: Path) -> None:
    """``su - USER -c CMD`` driven like fabricplus: works on ubuntu, refused on centos7."""
    client = _client(target, known_hosts, target.login_user, key=True)
    try:
        status, out = _run_pty(
            client, f"su - {SU_TARGET} -c 'id -un; echo $HOME'", target.password(SU_TARGET)
        )
    finally:
        client.close()
    assert out.startswith("Password: \n")
    if target.kind == "ubuntu":
        assert status == 0, out
        assert out.splitlines()[1:] == [SU_TARGET, f"/home/{SU_TARGET}"]
    else:
        assert status == 1, out
        assert out.splitlines()[-1] == "su: Authentication failure"
        if "el7-emulated" in target.description:
            assert "refusing a non-interactive 'su -c'" in out
        assert SU_TARGET + "\n" not in out


def test_su_with_wrong_password_fails_everywhere(target: DockerTarget, known_hosts: Path) -> None:
    client = _client(target, known_hosts, target.login_user, key=True)
    try:
        status, out = _run_pty(client, f"su - {SU_TARGET} -c 'id -un'", "not-the-password")
    finally:
        client.close()
    assert status == 1
    assert out.splitlines()[-1] == "su: Authentication failure"
    assert "refusing" not in out  # the password is checked before the emulated refusal


def test_interactive_su_still_works_on_centos7(session: DockerTargets, known_hosts: Path) -> None:
    """The emulation refuses only non-interactive ``su -c``; a typed su session works."""
    target = session.targets["centos7"]
    client = _client(target, known_hosts, target.login_user, key=True)
    try:
        transport = client.get_transport()
        assert transport is not None
        channel = transport.open_session()
        channel.get_pty()
        channel.exec_command(f"su - {SU_TARGET}")
        output = b""
        stage = 0
        deadline = time.monotonic() + PTY_TIMEOUT
        while time.monotonic() < deadline and not channel.exit_status_ready():
            if channel.recv_ready():
                output += channel.recv(4096)
                if stage == 0 and output.endswith(b"Password: "):
                    channel.sendall(target.password(SU_TARGET).encode() + b"\n")
                    stage = 1
                elif stage == 1 and output.rstrip().endswith(b"$"):
                    channel.sendall(b"id -un; exit 7\n")
                    stage = 2
            else:
                time.sleep(0.02)
        status = channel.recv_exit_status() if channel.exit_status_ready() else None
        output = _drain(channel, output)
        channel.close()
    finally:
        client.close()
    assert status == 7, output
    # bash may wrap output in bracketed-paste escapes: "...\x1b[?2004l\rfpsu\r\n"
    assert re.search(rb"[\r\n]" + SU_TARGET.encode() + rb"\r\n", output), output


@pytest.mark.parametrize(
    ("login", "command", "answer_with", "expected_user"),
    [
        ("fpuser", f"sudo -S -p 'Password: ' -u {SU_TARGET} id -un", "fpuser", SU_TARGET),
        ("fpsudo", "sudo -S -p 'Password: ' id -un", "fpsudo", "root"),
        ("fpnopass", f"sudo -n -u {SU_TARGET} id -un", None, SU_TARGET),
    ],
)
def test_sudo_works(
    target: DockerTarget,
    known_hosts: Path,
    login: str,
    command: str,
    answer_with: str | None,
    expected_user: str,
) -> None:
    client = _client(target, known_hosts, login, key=True)
    try:
        answer = target.password(answer_with) if answer_with else None
        status, out = _run_pty(client, command, answer)
    finally:
        client.close()
    assert status == 0, out
    assert out.splitlines()[-1] == expected_user


def test_su_target_is_not_a_sudoer(target: DockerTarget, known_hosts: Path) -> None:
    client = _client(target, known_hosts, SU_TARGET, key=False)
    try:
        status, _out = _run(client, "sudo -n true")
    finally:
        client.close()
    assert status == 1


# --------------------------------------------------------------------------------------
# lifecycle
# --------------------------------------------------------------------------------------


def test_restart_target_keeps_host_keys(require_docker: None) -> None:
    """Stops and restarts a container: on a set of its own, not the session's shared one."""
    own = DockerTargets(DockerTargetsConfig())
    try:
        before = own.start(["ubuntu"])["ubuntu"]
        own.stop_target("ubuntu")
        with pytest.raises(ConnectionRefusedError):  # nothing listens on the port any more
            fetch_host_key(before.port, timeout=2)
        after = own.restart_target("ubuntu")
        assert after.container_id == before.container_id
        assert [line.split(" ", 1)[1] for line in after.known_hosts_lines] == [
            line.split(" ", 1)[1] for line in before.known_hosts_lines
        ]
        assert own.targets["ubuntu"] == after
        client = _client(after, own.known_hosts_path, after.login_user, key=True)
        try:
            assert _run(client, "id -un") == (0, after.login_user + "\n")
        finally:
            client.close()
    finally:
        own.close()


def test_remove_leftovers_removes_crashed_runs_only(session: DockerTargets) -> None:
    exited = subprocess.Popen(["true"])  # a pid that no longer runs
    exited.wait()
    client = session.client
    image = session.images["ubuntu"].tag
    common = {
        LABEL_COMMON: "1",
        LABEL_OWNER_HOST: "host-of-a-crashed-run",
        LABEL_OWNER_PID: str(exited.pid),
    }
    crashed = client.containers.run(
        image,
        ["sleep", "60"],
        detach=True,
        labels={**common, LABEL_SESSION: "crashed0000", LABEL_KEEP: "0"},
    )
    kept = client.containers.run(
        image,
        ["sleep", "60"],
        detach=True,
        labels={**common, LABEL_SESSION: "kept00000000", LABEL_KEEP: "1"},
    )
    try:
        session.remove_leftovers()
        remaining = {
            c.id
            for c in client.containers.list(
                ignore_removed=True, all=True, filters={"label": LABEL_COMMON}
            )
        }
        assert crashed.id not in remaining
        assert kept.id in remaining  # kept on purpose (--docker-targets-keep)
        assert {t.container_id for t in session.targets.values()} <= remaining  # ours survive
        session.remove_leftovers(include_kept=True)
        remaining = {
            c.id
            for c in client.containers.list(
                ignore_removed=True, all=True, filters={"label": LABEL_COMMON}
            )
        }
        assert kept.id not in remaining
    finally:
        for container in (crashed, kept):
            with contextlib.suppress(Exception):  # already removed by the code under test
                container.remove(force=True)


def test_close_removes_everything(require_docker: None) -> None:
    run = DockerTargets(DockerTargetsConfig())
    client = run.client
    try:
        started = run.start(["ubuntu"])
        container_id = started["ubuntu"].container_id
        run_dir = run.run_dir
        assert (run_dir / "id_ed25519").stat().st_mode & 0o777 == 0o600
    except BaseException:
        run.close()
        raise
    assert run.close() is None
    left = client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"{LABEL_SESSION}={run.config.session_id}"}
    )
    client.close()
    assert left == []
    assert not run_dir.exists()
    assert container_id


def test_keep_leaves_containers_and_says_how_to_connect(require_docker: None) -> None:
    run = DockerTargets(DockerTargetsConfig(keep=True))
    try:
        run.start(["ubuntu"])
        message = run.close()
        assert message is not None
        assert "ssh -p" in message
        assert "fpuser@127.0.0.1" in message
        assert "docker rm -f" in message
        for password in run.credentials.passwords.values():
            assert password not in message
        remaining = run.client.containers.list(
            ignore_removed=True, filters={"label": f"{LABEL_SESSION}={run.config.session_id}"}
        )
        assert len(remaining) == 1
    finally:
        run.remove()
        shutil.rmtree(run.run_dir, ignore_errors=True)
        run.client.close()


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(DockerError, match="unknown Docker target kind 'fedora'"):
        DockerTargets().ensure_images(["fedora"])


@pytest.mark.parametrize("exists", [False, True])
def test_ping_without_daemon_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exists: bool
) -> None:
    sock_path = tmp_path / "docker.sock"
    if exists:  # a socket file nobody listens on (a daemon that died)
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
            dead.bind(str(sock_path))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock_path}")
    targets = DockerTargets()
    with pytest.raises(DockerError) as info:
        targets.ping()
    message = str(info.value)
    assert str(sock_path) in message
    assert "systemctl start docker" in message
    assert "sudo dockerd" in message

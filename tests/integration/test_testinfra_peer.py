"""Peer suite: testinfra's modules through our ``testinfra_host`` vs testinfra's own backend.

Against the shipped container targets (ubuntu, centos7), every probe below asks the same
question twice -- once through ``testinfra_host(connection)`` (our FabricPlusConnection),
once through testinfra's own ``paramiko://`` backend on its own SSH connection -- and the
answers must be equal: values, or the same exception (type and message). Each probe also
states whether testinfra's own backend is expected to *fail* on these targets, so an
equality of two failures is never mistaken for a passing check:

* ``socket``: testinfra needs ``ss`` or ``netstat``; containers/provision.sh installs
  iproute2 (``ss``) for it, so both backends must answer (not fail).
* ``service``: the containers run sshd as PID 1 without systemd: testinfra picks its SysV
  implementation on both backends; ``is_valid`` is systemd-only (NotImplementedError).

Peers for the privilege paths (testinfra has no su):

* ``as_user("fpsu")`` on our side (su on ubuntu, sudo fallback on the el7 emulation) vs
  testinfra logged in *as* fpsu.
* ``with host.sudo():`` as fpuser (our Sudo strategy, sudo password) vs testinfra's standard
  ``sudo /bin/sh -c`` wrapping as fpnopass (NOPASSWD) -- the only sudo testinfra can do.

This is our harness; no testinfra test code is copied.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, FabricPlusConnection, Settings
from pytest_fabricplus.integrations.docker import (
    TARGET_KINDS,
    DockerTarget,
    DockerTargets,
)
from pytest_fabricplus.plugin.docker import host_spec, password_env
from testing.containers import kind_id

# testinfra is optional: without it, skip (a name not starting with "test": not collected)
host_over = pytest.importorskip("pytest_fabricplus.integrations.testinfra").testinfra_host
import testinfra.backend  # noqa: E402  (after the skip: testinfra is optional)
import testinfra.host  # noqa: E402

pytestmark = pytest.mark.docker

# --------------------------------------------------------------------------------------
# probes
# --------------------------------------------------------------------------------------

#: files the probes look at, created on each target before the comparison (as fpuser)
WORK = "/tmp/peer"
ODD_NAME = f"{WORK}/it's a $file `x` (1)"
SETUP = f"""
set -e
rm -rf {WORK}; mkdir -p {WORK}/dir
printf 'line one\\nroot here\\n' > {WORK}/text
printf '\\377\\376\\000binary\\200' > {WORK}/binary
printf 'x\\303\\251%.0s' $(seq 5000) > {WORK}/utf8
printf 'odd\\n' > {shlex.quote(ODD_NAME)}
ln -s {WORK}/text {WORK}/link
ln -s {WORK}/nowhere {WORK}/dangling
mkfifo {WORK}/fifo
chmod 0640 {WORK}/text; chmod 4755 {WORK}/dir
touch -d '2020-02-02 02:02:02 UTC' {WORK}/text
"""


@dataclass(frozen=True)
class Probe:
    name: str
    ask: Callable[[Any], Any]
    #: testinfra's own backend fails here on these targets (the answer is that exception)
    fails: bool = False
    #: compare a digest of the answer, not the answer (password hashes)
    secret: bool = False


def _files() -> list[Probe]:
    probes = []
    paths = [
        "/etc/passwd",
        "/etc/shadow",
        "/etc/ssh/sshd_config",
        "/etc",
        "/usr/bin/sudo",
        "/nonexistent",
        *(f"{WORK}/{n}" for n in ("text", "binary", "utf8", "link", "dangling", "fifo", "dir")),
        ODD_NAME,
    ]
    for path in paths:
        for attr in ("exists", "is_file", "is_directory", "is_symlink", "is_pipe", "is_socket"):
            probes.append(
                Probe(f"file({path!r}).{attr}", lambda h, p=path, a=attr: getattr(h.file(p), a))
            )
    readable = ["/etc/passwd", "/usr/bin/sudo", "/etc", f"{WORK}/text", f"{WORK}/dir", ODD_NAME]
    for path in readable:
        for attr in ("user", "uid", "group", "gid", "mode", "size", "mtime", "is_executable"):
            probes.append(
                Probe(f"file({path!r}).{attr}", lambda h, p=path, a=attr: getattr(h.file(p), a))
            )
    for path in (f"{WORK}/text", f"{WORK}/binary", f"{WORK}/utf8", ODD_NAME, "/usr/bin/sudo"):
        probes.append(Probe(f"file({path!r}).content", lambda h, p=path: h.file(p).content))
        probes.append(Probe(f"file({path!r}).sha256sum", lambda h, p=path: h.file(p).sha256sum))
        probes.append(Probe(f"file({path!r}).md5sum", lambda h, p=path: h.file(p).md5sum))
    probes += [
        Probe("file(text).content_string", lambda h: h.file(f"{WORK}/text").content_string),
        Probe("file(utf8).content_string", lambda h: h.file(f"{WORK}/utf8").content_string),
        Probe("file(text).contains(root)", lambda h: h.file(f"{WORK}/text").contains("root")),
        Probe("file(text).contains(^line)", lambda h: h.file(f"{WORK}/text").contains("^line")),
        Probe("file(text).contains(nope)", lambda h: h.file(f"{WORK}/text").contains("nope")),
        Probe("file(link).linked_to", lambda h: h.file(f"{WORK}/link").linked_to),
        Probe("file(dangling).linked_to", lambda h: h.file(f"{WORK}/dangling").linked_to),
        Probe("file(/etc/ssh).listdir", lambda h: sorted(h.file("/etc/ssh").listdir())),
        Probe("file(WORK).listdir", lambda h: sorted(h.file(WORK).listdir())),
        Probe("file(/nonexistent).content", lambda h: h.file("/nonexistent").content, fails=True),
        Probe("file(/etc/shadow).content", lambda h: h.file("/etc/shadow").content, fails=True),
    ]
    return probes


def _users() -> list[Probe]:
    probes = [
        Probe("user().name", lambda h: h.user().name),
        Probe("user().uid", lambda h: h.user().uid),
        Probe("user.get_all_users", lambda h: sorted(h.user().get_all_users)),
        Probe("user.get_local_users", lambda h: sorted(h.user().get_local_users)),
    ]
    for name in ("root", "fpuser", "fpsu", "fpnopass", "sshd", "nobody"):
        for attr in ("exists", "uid", "gid", "group", "gids", "groups", "home", "shell", "gecos"):
            probes.append(
                Probe(f"user({name}).{attr}", lambda h, n=name, a=attr: getattr(h.user(n), a))
            )
    probes.append(Probe("user(nosuch).exists", lambda h: h.user("nosuch").exists))
    probes.append(Probe("user(nosuch).uid", lambda h: h.user("nosuch").uid, fails=True))
    probes.append(Probe("user(root).password", lambda h: h.user("root").password, fails=True))
    return probes


def _groups() -> list[Probe]:
    probes = [
        Probe("group.get_all_groups", lambda h: sorted(h.group("root").get_all_groups)),
        Probe("group.get_local_groups", lambda h: sorted(h.group("root").get_local_groups)),
        Probe("group(nosuch).exists", lambda h: h.group("nosuch").exists),
        Probe("group(nosuch).gid", lambda h: h.group("nosuch").gid, fails=True),
    ]
    for name in ("root", "sudo", "fpuser", "users", "nogroup"):
        for attr in ("exists", "gid", "members"):
            probes.append(
                Probe(f"group({name}).{attr}", lambda h, n=name, a=attr: getattr(h.group(n), a))
            )
    return probes


def _packages() -> list[Probe]:
    probes = []
    for name in ("openssh-server", "sudo", "python3", "bash", "passwd"):
        for attr in ("is_installed", "version", "release"):
            fails = attr == "release"  # dpkg has no release field: NotImplementedError
            probes.append(
                Probe(
                    f"package({name}).{attr}",
                    lambda h, n=name, a=attr: getattr(h.package(n), a),
                    fails,
                )
            )
    probes += [
        Probe("package(nosuchpkg).is_installed", lambda h: h.package("nosuchpkg").is_installed),
        Probe("package(nosuchpkg).version", lambda h: h.package("nosuchpkg").version, fails=True),
    ]
    return probes


COMMANDS: list[tuple[str, tuple[str, ...]]] = [
    ("true", ()),
    ("false", ()),
    ("exit 42", ()),
    ("echo out; echo err >&2", ()),
    ("id -un; id -gn; echo $HOME", ()),
    ("printf '\\377\\376\\000raw\\200'", ()),
    ("printf 'x\\303\\251%.0s' $(seq 30000)", ()),  # ~90 KB, multi-byte characters
    ("printf 'a\\r\\nb\\n'", ()),
    ("echo %s", ("a b $HOME `id` $(id) 'single' \"double\" ; | & \\ 100%",)),
    ("printf '%%s|' %s %s", ("it's", "$x")),
    ("echo $(echo sub) `echo tick` $((6*7)) \"$HOME\" '$HOME'", ()),
    ("cat /nonexistent", ()),
    ("sh -c 'kill -TERM $$'", ()),
    ("echo {braces} %d %s", ()),
]


def _commands() -> list[Probe]:
    def result(h: Any, command: str, args: tuple[str, ...]) -> tuple[Any, ...]:
        r = h.run(command, *args)
        return (r.rc, r.stdout_bytes, r.stderr_bytes, r.command)

    probes = [
        Probe(f"run({c!r}, *{a!r})", lambda h, c=c, a=a: result(h, c, a)) for c, a in COMMANDS
    ]
    probes += [
        Probe("check_output(echo)", lambda h: h.check_output("echo %s", "x  y")),
        Probe("check_output(false)", lambda h: h.check_output("false"), fails=True),
        Probe(
            "run_expect([0,1], grep)",
            lambda h: h.run_expect([0, 1], "grep -q nope /etc/hostname").rc,
        ),
        Probe("run_test(false).rc", lambda h: h.run_test("false").rc),
        Probe("exists(sh)", lambda h: h.exists("sh")),
        Probe("exists(nosuchcmd)", lambda h: h.exists("nosuchcmd")),
        Probe("find_command(sysctl)", lambda h: h.find_command("sysctl")),
        Probe("find_command(sshd)", lambda h: h.find_command("sshd")),
        Probe("find_command(nosuch)", lambda h: h.find_command("nosuch"), fails=True),
        Probe("command(...).stdout", lambda h: h.command("echo %s", "via module").stdout),
        Probe("has_command_v", lambda h: h.has_command_v),
    ]
    return probes


def _sockets() -> list[Probe]:
    # ss is in the images (iproute2): both backends must answer, and sshd listens on 22
    return [
        Probe(
            "socket(tcp://0.0.0.0:22).is_listening",
            lambda h: h.socket("tcp://0.0.0.0:22").is_listening,
        ),
        Probe("socket(tcp://22).is_listening", lambda h: h.socket("tcp://22").is_listening),
        Probe("socket.get_listening_sockets", lambda h: sorted(h.socket.get_listening_sockets())),
        Probe(
            "sshd listens on 22",
            lambda h: any(s.endswith(":22") for s in h.socket.get_listening_sockets()),
        ),
    ]


def _sysctl() -> list[Probe]:
    keys = ["kernel.ostype", "kernel.osrelease", "kernel.hostname", "net.ipv4.ip_forward"]
    probes = [Probe(f"sysctl({k})", lambda h, k=k: h.sysctl(k)) for k in keys]
    probes.append(Probe("sysctl(no.such.key)", lambda h: h.sysctl("no.such.key"), fails=True))
    return probes


def _services() -> list[Probe]:
    probes = [Probe("service class", lambda h: type(h.service("ssh")).__mro__[1].__name__)]
    for name in ("ssh", "nosuchd"):
        for attr in ("is_running", "is_enabled"):
            probes.append(
                Probe(f"service({name}).{attr}", lambda h, n=name, a=attr: getattr(h.service(n), a))
            )
        probes.append(
            Probe(f"service({name}).is_valid", lambda h, n=name: h.service(n).is_valid, True)
        )
    return probes


def _system_info() -> list[Probe]:
    attrs = ("type", "distribution", "release", "codename", "arch")
    return [Probe(f"system_info.{a}", lambda h, a=a: getattr(h.system_info, a)) for a in attrs]


MODULES: dict[str, Callable[[], list[Probe]]] = {
    "file": _files,
    "user": _users,
    "group": _groups,
    "package": _packages,
    "command": _commands,
    "socket": _sockets,
    "sysctl": _sysctl,
    "service": _services,
    "system_info": _system_info,
}


def _merged(result: Any) -> tuple[int, str]:
    return (result.rc, result.stdout + result.stderr)


def _as_other_user() -> list[Probe]:
    return [
        Probe("check_output(id -un)", lambda h: h.check_output("id -un")),
        Probe("check_output(echo $HOME)", lambda h: h.check_output('echo "$HOME"')),
        Probe("user().name", lambda h: h.user().name),
        Probe("user().groups", lambda h: h.user().groups),
        # su runs the command on a pty: its stderr arrives merged into stdout (README)
        Probe("run(cat /etc/shadow) merged", lambda h: _merged(h.run("cat /etc/shadow"))),
        Probe("file(~/.hushlogin).exists", lambda h: h.file("/home/fpsu/.hushlogin").exists),
        Probe("file(/etc/shadow).mode", lambda h: h.file("/etc/shadow").mode),
        # fpuser's mode 0640 file: fpsu may not read it
        Probe("file(text).contains", lambda h: h.file(f"{WORK}/text").contains("root"), True),
        Probe("run(echo %s)", lambda h: h.run("echo %s", "$HOME `id -un`").stdout),
    ]


def _privileged() -> list[Probe]:
    return [
        Probe("check_output(id -un)", lambda h: h.check_output("id -un")),
        Probe("user().name", lambda h: h.user().name),
        Probe("file(/etc/shadow).sha256sum", lambda h: h.file("/etc/shadow").sha256sum),
        Probe("file(/etc/shadow).mode", lambda h: h.file("/etc/shadow").mode),
        Probe("user(fpsu).password", lambda h: h.user("fpsu").password, secret=True),
        Probe("user(fpsu).password_max_days", lambda h: h.user("fpsu").password_max_days),
        Probe("user(fpsu).expiration_date", lambda h: h.user("fpsu").expiration_date),
        Probe("file(WORK/dir).listdir", lambda h: sorted(h.file(f"{WORK}/dir").listdir())),
        Probe("run(echo %s)", lambda h: h.run("echo %s", "$HOME `id -un`").stdout),
        Probe("run(exit 5).rc", lambda h: h.run("exit 5").rc),
    ]


# --------------------------------------------------------------------------------------
# the harness
# --------------------------------------------------------------------------------------


def answer(probe: Probe, host: Any) -> tuple[str, Any]:
    """The probe's value, or the exception it raised (backend object reprs removed)."""
    try:
        value = probe.ask(host)
    except Exception as exc:
        # testinfra's messages show the CommandResult; its backend object differs, and
        # pytest's assertion introspection below the first line truncates by length
        text = re.sub(r"backend=<[^>]*>", "backend=...", str(exc).split("\nassert ", 1)[0])
        return ("raised", f"{type(exc).__name__}: {text}")
    if probe.secret:
        value = hashlib.sha256(repr(value).encode()).hexdigest()
    return ("value", value)


def _short(outcome: tuple[str, Any], limit: int = 400) -> str:
    text = repr(outcome)
    return text if len(text) <= limit else text[:limit] + "..."


def compare(probes: list[Probe], ours: Any, theirs: Any) -> list[str]:
    """Every disagreement, and every probe whose expected testinfra failure did not hold."""
    problems: list[str] = []
    for probe in probes:
        mine, peer = answer(probe, ours), answer(probe, theirs)
        if mine != peer:
            problems.append(f"{probe.name}: ours {_short(mine)} != testinfra's {_short(peer)}")
        elif (peer[0] == "raised") != probe.fails:
            problems.append(
                f"{probe.name}: testinfra's backend {'raised' if peer[0] == 'raised' else 'answered'} {peer[1]!r}"
            )
    return problems


def paramiko_host(target: DockerTarget, user: str, ssh_config: Path, **kwargs: Any) -> Any:
    """testinfra's own paramiko backend, logged in as ``user`` with the run's key.

    testinfra's paramiko backend accepts any host key with a warning (WarningPolicy); we
    tell it ``StrictHostKeyChecking no`` (no warning) and check the key it got ourselves.
    """
    backend = testinfra.backend.get_backend(
        f"paramiko://{user}@{target.host}:{target.port}",
        ssh_config=str(ssh_config),
        ssh_identity_file=target.key_filename,
        **kwargs,
    )
    host = testinfra.host.Host(backend)
    backend.set_host(host)
    key = backend.client.get_transport().get_remote_server_key()
    expected = target.known_hosts_line.split()[-1]
    assert base64.b64encode(key.asbytes()).decode() == expected, "peer got another host key"
    return host


@dataclass
class Peer:
    target: DockerTarget
    connection: FabricPlusConnection
    ours: Any
    theirs: Any
    theirs_fpsu: Any
    theirs_nopass: Any
    #: the sshd session process of ``connection`` when the fixture opened it
    session_pid: str


#: the pid of the sshd process serving the SSH connection a command arrives on: the first
#: ``sshd`` among the command shell's ancestors (one per connection: ``sshd: USER@notty``)
SSH_SESSION_PID = (
    'p=$$; while [ "$(ps -o comm= -p $p)" != sshd ]; do p=$(ps -o ppid= -p $p); done; echo $p'
)


@pytest.fixture(scope="module")
def peers(
    session_targets: DockerTargets, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Peer]]:
    """Ours and testinfra's own backends on the session's shared targets (tests/conftest.py)."""
    ssh_config = tmp_path_factory.mktemp("peer") / "ssh_config"
    ssh_config.write_text("Host *\n    StrictHostKeyChecking no\n")
    hosts: list[Any] = []
    started = dict(session_targets.targets)
    env = {password_env(u): t.password(u) for t in started.values() for u in t.users}
    settings = Settings(known_hosts=str(session_targets.known_hosts_path))
    registry = ConnectionRegistry(Connector(settings, env=env))
    try:
        result: dict[str, Peer] = {}
        for kind, target in started.items():
            conn = registry.get(host_spec(target))
            conn.run(SETUP, hide=True)
            session_pid = conn.run(SSH_SESSION_PID, hide=True).stdout.strip()
            hosts += [
                paramiko_host(target, "fpuser", ssh_config),
                paramiko_host(target, "fpsu", ssh_config),
                paramiko_host(target, "fpnopass", ssh_config),
            ]
            result[kind] = Peer(target, conn, host_over(conn), *hosts[-3:], session_pid)
        yield result
    finally:
        for host in hosts:
            host.backend.client.close()
        registry.close_all()


@pytest.fixture(params=TARGET_KINDS, ids=kind_id)
def peer(request: pytest.FixtureRequest, peers: dict[str, Peer]) -> Peer:
    return peers[request.param]


@pytest.mark.parametrize("module", list(MODULES))
def test_module_answers_match_testinfras_own_backend(peer: Peer, module: str) -> None:
    problems = compare(MODULES[module](), peer.ours, peer.theirs)
    assert problems == [], f"{peer.target.name}: " + "\n".join(problems)


def test_as_another_user_matches_testinfra_logged_in_as_that_user(peer: Peer) -> None:
    """Our su_user/as_user (su, or the sudo fallback) vs testinfra logged in as fpsu."""
    conn = peer.connection
    with conn.as_user("fpsu"):
        ours = host_over(conn)
        assert ours is not peer.ours  # the fpsu Host: its own module caches
        problems = compare(_as_other_user(), ours, peer.theirs_fpsu)
    assert problems == [], f"{peer.target.name}: " + "\n".join(problems)
    assert peer.ours.check_output("id -un") == "fpuser"


def test_host_sudo_matches_testinfras_sudo(peer: Peer) -> None:
    """``host.sudo()`` as fpuser through our Sudo (password) vs testinfra's own sudo as
    fpnopass (the only sudo testinfra can do: NOPASSWD)."""
    probes = _privileged()
    with peer.ours.sudo(), peer.theirs_nopass.sudo():
        problems = compare(probes, peer.ours, peer.theirs_nopass)
    assert problems == [], f"{peer.target.name}: " + "\n".join(problems)
    # and testinfra's own wrapping as fpuser, whose sudo wants a password, cannot do it
    with peer.theirs.sudo():
        assert peer.theirs.run("id -un").rc != 0


def test_one_ssh_connection_per_target(peer: Peer) -> None:
    """Everything above went through the fixture's connection: still the same SSH session.

    (The targets are shared by the session, so other tests' fpuser connections exist too: the
    check follows this connection's own sshd process instead of counting them.)
    """
    assert peer.ours.backend.connection is peer.connection
    assert peer.connection.is_connected
    assert peer.ours.check_output(SSH_SESSION_PID) == peer.session_pid
    assert peer.ours.check_output(f"ps -o args= -p {peer.session_pid}") == "sshd: fpuser@notty"
    # testinfra's own backend arrives on a connection of its own: the check can tell them apart
    assert peer.theirs.check_output(SSH_SESSION_PID) != peer.session_pid


# -- a role-style suite, whole: testinfra's own plugin against the drop-in in fleet mode ----

#: written the way public testinfra suites are (molecule verify scenarios, role tests):
#: module fixtures on ``host``, parametrized checks, a class, skips, xfail/xpass, sudo, and a
#: check that passes on one target only -- so per-host verdicts differ within a test
ROLE_SUITE = """
import pytest


@pytest.fixture(scope="module")
def distro(host):
    return host.system_info.distribution


@pytest.fixture(scope="module")
def short_name(host):
    return host.check_output("hostname -s")


def test_passwd_file(host):
    passwd = host.file("/etc/passwd")
    assert passwd.contains("root")
    assert (passwd.user, passwd.group, passwd.mode) == ("root", "root", 0o644)


@pytest.mark.parametrize("name", ["openssh-server", "sudo", "not-a-package-xyz"])
def test_packages(host, name):
    assert host.package(name).is_installed


def test_sshd(host):
    assert host.process.filter(comm="sshd")
    assert host.socket("tcp://0.0.0.0:22").is_listening


def test_user_and_group(host):
    user = host.user("fpuser")
    assert user.exists and user.shell == "/bin/bash" and "fpuser" in user.groups
    assert host.group("root").gid == 0


def test_sudo_whoami(host):
    with host.sudo():
        assert host.check_output("whoami") == "root"


def test_debian_family_only(host, distro):
    if distro not in ("debian", "ubuntu"):
        pytest.skip(f"not on {distro}")
    assert host.file("/etc/debian_version").exists


def test_named_ubuntu(host, short_name):
    assert short_name == "ubuntu"


class TestDirectories:
    @pytest.mark.parametrize("path", ["/etc", "/tmp", "/nonexistent"])
    def test_is_directory(self, host, path):
        assert host.file(path).is_directory


@pytest.mark.xfail(reason="known gap")
def test_known_gap(host):
    assert host.file("/nope").exists


@pytest.mark.xfail(reason="passes anyway")
def test_xpass(host):
    assert host.file("/etc").exists


def test_system(host):
    assert host.sysctl("kernel.ostype") == "Linux"
    assert host.mount_point("/").exists
    assert host.interface("lo").exists
    assert host.exists("sh") and not host.exists("definitely-not-a-command")


def test_commands(host):
    host.run_expect([0, 1], "grep -q root /etc/passwd")
    assert host.run("echo out; echo err >&2; exit 3").rc == 3
    assert host.check_output("printf 'a\\\\nb'") == "a\\nb"
"""

_ID = r"test_role\.py::(\S+)\[(?:paramiko://)?([^\]-]+)(-[^\]]*)?\]"
#: ``ID OUTCOME`` (-v), or ``[gwN] [ n%] OUTCOME ID`` (-v under xdist)
_VERDICT = re.compile(rf"^{_ID} (\w+)")
_XDIST_VERDICT = re.compile(rf"^\[gw\d+\] \[\s*\d+%\] (\w+) {_ID}")


def _verdicts(result: pytest.RunResult) -> dict[tuple[str, str, str], str]:
    """(test, host, other parameters) -> PASSED/FAILED/SKIPPED/XFAIL/XPASS/ERROR, whatever the
    spelling of the host in the id (testinfra's ``paramiko://h``, ours ``h``)."""
    seen: dict[tuple[str, str, str], str] = {}
    for line in result.outlines:
        match = _VERDICT.match(line)
        if match:
            test, host, rest, outcome = match.groups()
            seen[(test, host, rest or "")] = outcome
        match = _XDIST_VERDICT.match(line)
        if match:
            outcome, test, host, rest = match.groups()
            seen[(test, host, rest or "")] = outcome
    return seen


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "n2"])
def test_a_role_style_suite_in_fleet_mode_gets_testinfras_verdicts_per_host(
    pytester: pytest.Pytester, session_targets: DockerTargets, xdist: list[str]
) -> None:
    """The same suite, the same two containers: testinfra 10.2.2's own plugin, then ours
    (``-p pytest_fabricplus.testinfra_dropin --fleet``); every (test, host) verdict equal."""
    pytester.makepyfile(test_role=ROLE_SUITE)
    targets = dict(session_targets.targets)
    # two names for the two ports (testinfra's id is the host name without the port)
    names = {"ubuntu": "127.0.0.1", "centos7": "localhost"}
    spec = ",".join(
        f"paramiko://fpuser@{names[kind]}:{t.port}?ssh_identity_file={t.key_filename}"
        for kind, t in targets.items()
    )
    known = pytester.path / "known_hosts"
    lines = session_targets.known_hosts_path.read_text().splitlines()
    centos_port = targets["centos7"].port
    extra = [ln.replace(f"[127.0.0.1]:{centos_port}", f"[localhost]:{centos_port}") for ln in lines]
    known.write_text("\n".join(lines + extra) + "\n")
    ssh_config = pytester.path / "ssh_config"  # testinfra's backend: accept (it warns else)
    ssh_config.write_text("Host *\n    StrictHostKeyChecking no\n")
    theirs = pytester.runpytest_subprocess(
        "-p", "testinfra", "-p", "no:fabricplus", "-p", "no:cacheprovider", "-v",
        f"--hosts={spec}", f"--ssh-config={ssh_config}", timeout=300,
    )  # fmt: skip
    ours = pytester.runpytest_subprocess(
        "-p", "pytest_fabricplus.testinfra_dropin", "-p", "no:cacheprovider", "-v",
        f"--hosts={spec}", f"--known-hosts={known}", "--fleet", *xdist, timeout=300,
    )  # fmt: skip
    expected = _verdicts(theirs)
    assert len(expected) == 2 * 16, theirs.stdout.str()
    # not vacuous: every kind of outcome, and a test whose hosts disagree
    assert {"PASSED", "FAILED", "XFAIL", "XPASS"} <= set(expected.values()), expected
    assert expected[("test_named_ubuntu", "127.0.0.1", "")] == "PASSED"
    assert expected[("test_named_ubuntu", "localhost", "")] == "FAILED"
    assert _verdicts(ours) == expected, ours.stdout.str()
    ours.stdout.fnmatch_lines(["fabricplus: fleet mode: *hosts at once*"])
    assert ours.ret == theirs.ret == 1

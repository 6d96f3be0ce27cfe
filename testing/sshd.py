"""Real OpenSSH servers for tests: ``sshd`` processes on 127.0.0.1 with real users.

Each server gets a generated host key, a written known_hosts line, and an
``AuthorizedKeysFile`` of its own; users are real system accounts (created as root) with a
random password per run and a generated key. Nothing here is a mock.

Also a command line, used by the example job::

    python -m testing.sshd start DIR --count 3   # writes DIR/inventory.ini, known_hosts
    python -m testing.sshd stop DIR
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/local/sbin:/sbin") or "/usr/sbin/sshd"
#: the test sshd ends when the process that started it dies (see SshdServer.start)
_DIES_WITH_US: tuple[str, ...] = (
    (shutil.which("setpriv") or "setpriv", "--pdeathsig", "TERM", "--")
    if shutil.which("setpriv")
    else ()
)
LOGIN_USER = "fptest"
OTHER_USER = "fptest2"
#: a service account: nologin shell, no password (only sudo can run commands as it)
SERVICE_USER = "fptestsvc"


class SetupError(RuntimeError):
    pass


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)  # type: ignore[call-overload,no-any-return]


def can_create_users() -> bool:
    return missing_for_targets() is None


def missing_for_targets() -> str | None:
    """What this machine lacks to start sshd targets with real users, as a sentence naming
    the fix; None when nothing is missing."""
    if os.geteuid() != 0:
        return (
            "real sshd targets need root: they create the system users "
            f"{LOGIN_USER}, {OTHER_USER} and {SERVICE_USER} (run the tests as root, "
            "e.g. sudo ./scripts/run-tests.sh)"
        )
    if shutil.which("useradd") is None:
        return "real sshd targets need useradd to create their users (apt-get install passwd)"
    if not os.path.exists(SSHD):
        return f"real sshd targets need {SSHD} (apt-get install openssh-server)"
    return None


@dataclass
class User:
    name: str
    password: str = field(repr=False)  # never shown in assertion output
    key_path: Path
    home: Path

    @property
    def public_key(self) -> str:
        return self.key_path.with_suffix(".pub").read_text().strip()


#: Generated test passwords, one file per user (root only; /run is a tmpfs, gone at reboot).
#: Every process that sets up the same system user -- each xdist worker, a second test run,
#: a bench script -- must agree on its password: with one random password per process the
#: last ``chpasswd`` won and the others' password logins, su and sudo failed at random.
PASSWORD_DIR = Path("/run" if os.path.isdir("/run") else tempfile.gettempdir()) / "fabricplus-test"


def shared_password(name: str) -> str:
    """The random password of test user ``name``, made once and shared (under a lock)."""
    directory = PASSWORD_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = directory / f"{name}.password"
        if path.exists():
            return path.read_text().strip()
        password = "pw-" + secrets.token_urlsafe(12)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        return password


def ensure_user(name: str, keydir: Path, shell: str = "/bin/bash") -> User:
    """Create (or reuse) a system user with a random password (:func:`shared_password`), a
    fresh key and ``shell`` as its login shell."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        run(["useradd", "--create-home", "--shell", shell, name])
    entry = run(["getent", "passwd", name]).stdout.strip().split(":")
    if entry[6] != shell:
        run(["usermod", "--shell", shell, name])
    password = shared_password(name)
    run(["chpasswd"], input=f"{name}:{password}\n")
    keydir.mkdir(parents=True, exist_ok=True)
    key = keydir / f"id_{name}"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@test", "-f", str(key)])
    return User(name=name, password=password, key_path=key, home=Path(entry[5]))


def ensure_service_user(name: str) -> Path:
    """Create (or reuse) a system account without a login shell (``/usr/sbin/nologin``) and
    without a password, as packages create them; returns its home."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--create-home", "--shell", "/usr/sbin/nologin", name])
    return Path(run(["getent", "passwd", name]).stdout.split(":")[5])


SUDOERS_DIR = Path("/etc/sudoers.d")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sudo_available() -> bool:
    tools = "/usr/sbin:/usr/bin:/sbin:/bin"
    return bool(
        SUDOERS_DIR.is_dir() and shutil.which("visudo", path=tools) and shutil.which("sudo")
    )


@contextlib.contextmanager
def sudoers_dropin(prefix: str, rules: str) -> Iterator[Path]:
    """Install ``rules`` as ``/etc/sudoers.d/<prefix><pid>`` for the block, then remove it.

    One file per process (xdist workers do not remove each other's rules); validated with
    ``visudo -cf`` under a dotted name (which sudo skips) before the atomic rename; files of
    crashed runs (dead pid) with the same prefix are removed first. Raises ``SetupError``
    when the rules do not parse.
    """
    for old in SUDOERS_DIR.glob(prefix + "*"):
        pid = old.name[len(prefix) :]
        if pid.isdigit() and not _pid_alive(int(pid)):
            old.unlink(missing_ok=True)
    path = SUDOERS_DIR / f"{prefix}{os.getpid()}"
    staging = SUDOERS_DIR / f".{path.name}.tmp"
    staging.write_text(rules)
    staging.chmod(0o440)
    check = subprocess.run(["visudo", "-cf", str(staging)], capture_output=True, text=True)
    if check.returncode != 0:
        staging.unlink()
        raise SetupError(f"sudoers rules do not parse: {check.stdout}{check.stderr}")
    staging.rename(path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_banner(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    for _ in range(int(timeout / 0.05) + 1):
        if time.monotonic() > deadline:
            break
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise SetupError(f"sshd on {host}:{port} did not answer within {timeout}s ({last})")


@dataclass
class SshdServer:
    """One ``sshd -D`` on 127.0.0.1:port, configured from ``workdir``."""

    workdir: Path
    users: list[User]
    port: int = 0
    extra_config: str = ""
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    keys_dir: Path | None = field(default=None, repr=False)
    #: host key types (``ssh-keygen -t``), one ``HostKey`` each, in this order
    key_types: tuple[str, ...] = ("ed25519",)
    #: ``HostCertificate`` files (made with ``ssh-keygen -s ... -h``), each beside its key
    host_certificates: tuple[Path, ...] = ()
    #: ``TrustedUserCAKeys`` file (user certificates signed by these CAs may log in)
    trusted_user_ca_keys: Path | None = None

    @property
    def host_key(self) -> Path:
        return self.host_key_of("ed25519")

    def host_key_of(self, key_type: str) -> Path:
        """The private host key file of ``key_type`` (``ed25519``, ``rsa``, ``ecdsa``)."""
        return self.workdir / f"ssh_host_{key_type}_key"

    def public_key_of(self, key_type: str) -> str:
        """``TYPE BASE64`` of the host key of ``key_type``."""
        text = self.host_key_of(key_type).with_suffix(".pub").read_text().split()
        return f"{text[0]} {text[1]}"

    @property
    def known_hosts_line(self) -> str:
        key = self.host_key.with_suffix(".pub").read_text().split()
        return f"[{self.host}]:{self.port} {key[0]} {key[1]}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "sshd.log"

    def write_config(self) -> Path:
        # sshd reads authorized keys as the user: keep them out of root-only temp dirs
        if self.keys_dir is None:
            self.keys_dir = Path(tempfile.mkdtemp(prefix="fabricplus-authkeys-", dir="/var/tmp"))
            self.keys_dir.chmod(0o755)
        keys = self.keys_dir
        for user in self.users:
            (keys / user.name).write_text(user.public_key + "\n")
            (keys / user.name).chmod(0o644)
        for key_type in self.key_types:
            path = self.host_key_of(key_type)
            if not path.exists():
                run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(path)])
        host_keys = "".join(f"HostKey {self.host_key_of(t)}\n" for t in self.key_types)
        host_keys += "".join(f"HostCertificate {c}\n" for c in self.host_certificates)
        if self.trusted_user_ca_keys is not None:
            host_keys += f"TrustedUserCAKeys {self.trusted_user_ca_keys}\n"
        config = self.workdir / "sshd_config"
        config.write_text(
            f"""Port {self.port}
ListenAddress {self.host}
{host_keys}PidFile {self.workdir}/sshd.pid
AuthorizedKeysFile {keys}/%u
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers {" ".join(u.name for u in self.users)}
MaxStartups 200:30:400
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
{self.extra_config}
"""
        )
        return config

    def start(self, timeout: float = 10.0) -> SshdServer:
        """Start sshd (``-D``, its own session); it ends with the pytest process that started
        it, even one killed outright (SIGKILL skips every teardown): util-linux's ``setpriv
        --pdeathsig`` sends it SIGTERM then."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            if not self.port:
                self.port = free_port()
            config = self.write_config()
            run([SSHD, "-t", "-f", str(config)])
            with self.log_path.open("ab") as log:
                self.proc = subprocess.Popen(
                    [*_DIES_WITH_US, SSHD, "-D", "-e", "-f", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                wait_for_banner(self.host, self.port, timeout)
                return self
            except SetupError:
                self.stop()
                self.port = 0  # port taken meanwhile: try another
        raise SetupError(f"could not start sshd; see {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self.keys_dir is not None:
            shutil.rmtree(self.keys_dir, ignore_errors=True)
            self.keys_dir = None

    def connections_logged(self) -> list[str]:
        """The log's ``Connection from`` lines, up to and including one made now as a marker.

        sshd logs a connection (in the child it forks per connection, in accept order)
        before it sends its banner. This makes a marker connection of its own and reads the
        banner, so its line is in the log; connections accepted before it have been logged
        too. No sleep: "nothing connected since" is ``lines[before:-1] == []``.
        """
        with socket.create_connection((self.host, self.port), timeout=10) as marker:
            port = marker.getsockname()[1]
            if not marker.recv(64).startswith(b"SSH-"):
                raise SetupError(f"sshd on {self.host}:{self.port} sent no banner")
        needle = f"Connection from {self.host} port {port} "
        lines = [
            line for line in self.log_path.read_text().splitlines() if "Connection from" in line
        ]
        if not lines or needle not in lines[-1]:
            raise SetupError(f"the marker connection ({needle!r}) is not the last one logged")
        return lines

    def connection_count(self) -> int:
        """Established TCP connections to this server (counted with ``ss``)."""
        out = run(["ss", "-Htn", "state", "established", f"( sport = :{self.port} )"]).stdout
        return len([line for line in out.splitlines() if line.strip()])


def own_connections(port: int) -> int:
    """Established TCP connections from *this* process to ``port`` (client side).

    Unlike the server's count this is exact at once: a socket we closed is no longer
    "established" for us, whatever sshd has processed yet.
    """
    out = run(["ss", "-Htnp", "state", "established", f"( dport = :{port} )"]).stdout
    return len([line for line in out.splitlines() if f"pid={os.getpid()}," in line])


def _start(directory: Path, count: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    users = [ensure_user(LOGIN_USER, directory / "keys")]
    servers = [SshdServer(directory / f"sshd{i}", users).start() for i in range(count)]
    (directory / "known_hosts").write_text("".join(s.known_hosts_line + "\n" for s in servers))
    lines = ["# generated by testing/sshd.py: local sshd targets", "[web]"]
    for i, server in enumerate(servers):
        if i == count - 1:
            lines.append("[db]")
        lines.append(
            f"{'web' if i < count - 1 else 'db'}{i + 1} ansible_host=127.0.0.1 "
            f"ansible_port={server.port} ansible_user={LOGIN_USER} tags=local"
        )
    lines += ["[linux:children]", "web", "db"]
    (directory / "inventory.ini").write_text("\n".join(lines) + "\n")
    (directory / "pids").write_text(
        "".join(f"{s.proc.pid}\n" for s in servers if s.proc is not None)
    )
    print(directory / "inventory.ini")


def _stop(directory: Path) -> None:
    pids = directory / "pids"
    if not pids.exists():
        return
    for line in pids.read_text().split():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(line), signal.SIGTERM)
    pids.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args(argv)
    if args.action == "start":
        missing = missing_for_targets()
        if missing:
            print(missing, file=sys.stderr)
            return 2
        _start(args.directory, args.count)
    else:
        _stop(args.directory)
    return 0


if __name__ == "__main__":
    sys.exit(main())

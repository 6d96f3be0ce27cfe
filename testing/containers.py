"""The shipped container targets as tests use them: test ids per kind, the password
variables, and :class:`PrivilegeTargets` (the started targets through the core API).

The fixtures that start them (``require_docker``, ``session_targets``, ``privilege_targets``,
``open_target``) live in ``tests/conftest.py``; tests import these helpers from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.integrations.docker import DockerTarget, DockerTargets


def kind_id(kind: str) -> str:
    """A target kind as a test id: ``centos7`` is ``centos7-el7emu``. On a registry-free base
    its su refusal is the project's own PAM emulation (containers/el7-su-emulation), so what
    those tests check there is our handling of the refusal, not CentOS 7 itself."""
    return "centos7-el7emu" if kind == "centos7" else kind


def password_env(user: str) -> str:
    """The environment variable (of the Connector's env mapping) holding ``user``'s password."""
    return f"FPIT_PASSWORD_{user.upper()}"


@dataclass
class PrivilegeTargets:
    """Started targets plus what the core API needs to reach them (no pytest plugin)."""

    docker: DockerTargets
    targets: dict[str, DockerTarget]
    settings: Settings
    env: dict[str, str] = field(repr=False)
    _homes: dict[tuple[str, str], str] = field(default_factory=dict)
    _local: dict[tuple[str, str, str], tuple[int, str, str]] = field(default_factory=dict)

    def spec(self, kind: str, login: str = "fpuser") -> HostSpec:
        """``kind`` (alias and id) logging in as ``login``; su and sudo passwords by env.

        The su password is fpsu's; the sudo password the login user's, except for the
        NOPASSWD sudoer ``fpnopass``, which gets none (``sudo -n``).
        """
        target = self.targets[kind]
        name = kind if login == "fpuser" else f"{kind}-{login}"
        secrets = {"su_password_env": password_env("fpsu")}
        if login != "fpnopass":
            secrets["sudo_password_env"] = password_env(login)
        return HostSpec(
            host=target.host, port=target.port, user=login, alias=name, id=name, vars=secrets
        )

    def connector(self) -> Connector:
        """A new Connector (and so a new PrivilegeRunner: its own auto choices and probes)."""
        return Connector(self.settings, self.env)

    def local(self, kind: str, user: str, command: str) -> tuple[int, str, str]:
        """Ground truth: ``command`` in a login shell of ``user`` inside the container, in its
        home directory (where ``su -`` starts), i.e. ``docker exec -u USER -w HOME bash -lc``."""
        key = (kind, user, command)
        if key not in self._local:  # the same for every method: ask the container once
            container = self.docker.container(kind)
            code, (out, err) = container.exec_run(
                ["bash", "-lc", command], user=user, workdir=self.home(kind, user), demux=True
            )
            self._local[key] = (int(code), (out or b"").decode(), (err or b"").decode())
        return self._local[key]

    def home(self, kind: str, user: str) -> str:
        key = (kind, user)
        if key not in self._homes:
            container = self.docker.container(kind)
            code, out = container.exec_run(["getent", "passwd", user])
            assert code == 0, f"no user {user} in the {kind} target"
            self._homes[key] = out.decode().split(":")[5]
        return self._homes[key]

"""``--docker-targets``: start the shipped container targets for a session (pytest side).

The controller process (the only process without xdist, the xdist controller with it) builds
images if missing, starts one container per kind, verifies host keys into a known_hosts file
of the run, and removes the containers at the end — also after Ctrl-C or SIGTERM (the
session's :class:`~pytest_fabricplus.fleet.interrupt.InterruptGuard`); a crashed
run's leftovers (label ``pytest-fabricplus``) are removed by the next run. xdist workers
receive the targets (addresses, verified keys and generated passwords) through
``workerinput`` and never start containers. The passwords never go into ``os.environ``
(every process a test starts would inherit them): they reach the run's ``SecretStore``.

Importing this module loads neither the docker SDK nor paramiko.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Any

import pytest

from ..hosts.spec import HostSpec
from ..integrations.docker import (
    LOGIN_USER,
    DockerError,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
)

WORKERINPUT_KEY = "fabricplus_docker_targets"
SOURCE = "--docker-targets"
#: names under which the run's generated passwords are known to its SecretStore (the
#: inventory entries name them like any password variable; they are not in os.environ)
PASSWORD_ENV = "FABRICPLUS_DOCKER_PASSWORD_{user}"
SU_TARGET_USER = "fpsu"


def password_env(user: str) -> str:
    return PASSWORD_ENV.format(user=user.upper())


def host_spec(target: DockerTarget) -> HostSpec:
    """The inventory entry of a started target: alias = kind, key login as ``fpuser``."""
    return HostSpec(
        host=target.host,
        port=target.port,
        user=target.login_user,
        alias=target.name,
        identity_file=target.key_filename,
        groups=frozenset({"docker"}),
        tags=frozenset({"docker", target.kind}),
        vars={
            # su_user without password_env: su to fpsu with its password; sudo as fpuser
            "su_password_env": password_env(SU_TARGET_USER),
            "sudo_password_env": password_env(LOGIN_USER),
            "description": target.description,
        },
        source=SOURCE,
    )


class DockerTargetsPlugin:
    """Owns (controller) or borrows (xdist worker) this run's container targets."""

    def __init__(self, config: pytest.Config, kinds: tuple[str, ...], keep: bool) -> None:
        self.config = config
        self.kinds = kinds
        self.keep = keep
        self.owner: DockerTargets | None = None
        self.targets: dict[str, DockerTarget] = {}

    # -- start / attach ----------------------------------------------------------------
    def start(self) -> None:
        workerinput = getattr(self.config, "workerinput", None)
        if workerinput is not None:
            data = json.loads(workerinput.get(WORKERINPUT_KEY, "[]"))
            self.targets = {d["name"]: DockerTarget.from_dict(d) for d in data}
            return
        targets = DockerTargets(DockerTargetsConfig(keep=self.keep))
        try:
            targets.ping()
            removed = targets.remove_leftovers()
            if removed:
                self._say(f"removed leftover target containers: {', '.join(removed)}")
            started = time.monotonic()
            missing = [k for k in self.kinds if not targets.image_ready(k)]
            if missing:
                self._say(f"building target images {', '.join(missing)} (first run only)...")
            images = targets.ensure_images(self.kinds)
            built = [i.kind for i in images.values() if i.built]
            if built:
                self._say(
                    f"built target images {', '.join(built)} in {time.monotonic() - started:.0f}s"
                )
            self.owner = targets  # removed in close(), also after Ctrl-C/SIGTERM in start()
            self.targets = targets.start(self.kinds)
        except DockerError as exc:
            with contextlib.suppress(Exception):
                targets.close()
            self.owner = None
            raise pytest.UsageError(f"--docker-targets: {exc}") from None
        except BaseException:  # Ctrl-C, SIGTERM: close() (unconfigure) removes what started
            if self.owner is None:
                with contextlib.suppress(Exception):
                    targets.close()
            raise

    def _say(self, text: str) -> None:
        # no terminal reporter with -p no:terminal (or before it is registered): stderr
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"fabricplus: {text}")
        else:
            sys.stderr.write(f"fabricplus: {text}\n")
            sys.stderr.flush()

    # -- what the rest of the plugin needs ----------------------------------------------
    def host_specs(self) -> list[HostSpec]:
        return [host_spec(t) for t in self.targets.values()]

    def placeholder_specs(self) -> list[HostSpec]:
        """The targets' inventory entries before (without) starting them: for
        ``--collect-only``, which lists ``[ubuntu]``/``[centos7]`` items and starts nothing."""
        return [
            HostSpec(
                host="127.0.0.1",
                user=LOGIN_USER,
                alias=kind,
                groups=frozenset({"docker"}),
                tags=frozenset({"docker", kind}),
                vars={"description": f"{kind} (not started: --collect-only)"},
                source=SOURCE,
            )
            for kind in self.kinds
        ]

    def secret_env(self) -> dict[str, str]:
        """The generated passwords under the variable names the targets' entries use."""
        return {
            password_env(user): password
            for target in self.targets.values()
            for user, password in target.credentials.passwords.items()
        }

    def known_hosts_file(self) -> str | None:
        if self.owner is not None:
            return str(self.owner.known_hosts_path)
        return None

    def known_hosts_lines(self) -> list[str]:
        return [line for t in self.targets.values() for line in t.known_hosts_lines]

    def header(self) -> str:
        if not self.targets:
            return f"fabricplus docker targets: {', '.join(self.kinds)} (not started)"
        shown = ", ".join(
            f"{t.name} = {t.description} at {t.host}:{t.port}" for t in self.targets.values()
        )
        return f"fabricplus docker targets: {shown}"

    def serialize(self) -> str:
        # workerinput travels over execnet's pipe to the worker, not through its environment
        return json.dumps([t.to_dict(include_secrets=True) for t in self.targets.values()])

    # -- hooks ----------------------------------------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[WORKERINPUT_KEY] = self.serialize()

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.owner is not None and self.keep:
            terminalreporter.write_sep("-", "fabricplus: docker targets kept")
            terminalreporter.write_line(self.owner.keep_message())

    def close(self) -> None:
        owner, self.owner = self.owner, None
        if owner is not None:
            try:
                owner.close()
            except DockerError as exc:
                sys.stderr.write(f"fabricplus: {exc}\n")


@pytest.fixture(scope="session")
def docker_targets(pytestconfig: pytest.Config) -> dict[str, DockerTarget]:
    """The started ``--docker-targets`` by alias (``ubuntu``, ``centos7``).

    Each value has ``port``, ``container_id``, ``description``, ``password(user)`` and
    ``ssh_command()``; control a container with the docker SDK
    (``docker.from_env().containers.get(t.container_id).stop()``).
    """
    plugin = pytestconfig.pluginmanager.get_plugin("fabricplus-docker")
    if plugin is None:
        pytest.skip("no container targets: pass --docker-targets ubuntu,centos7")
    targets: dict[str, DockerTarget] = plugin.targets
    return targets

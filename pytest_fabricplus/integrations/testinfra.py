"""testinfra's modules over our connection: a testinfra backend that runs through it.

Usable without pytest::

    from pytest_fabricplus.integrations.testinfra import testinfra_host

    host = testinfra_host(registry.get(spec))       # a testinfra.host.Host
    assert host.package("openssh-server").is_installed
    with conn.as_user("postgres"):                   # su/sudo, like connection.run()
        assert testinfra_host(conn).check_output("id -un") == "postgres"

Every command goes through :meth:`FabricPlusConnection.run` of the *same* connection object
(one SSH transport per host), so the privilege strategy active at that moment (``su_user``,
``as_user``) applies, and so do the command timeout and error naming.

Upstream behaviour worked around here (one place each):

* testinfra backends hand its modules the remote output as bytes (``host.file(p).content``
  is bytes). invoke decodes every chunk it reads with ``errors="replace"``, so a non-UTF-8
  byte -- or a UTF-8 character split across two reads -- would come back as U+FFFD. We run
  our commands with :data:`RAW_ENCODING`, a codec that decodes UTF-8 with
  ``surrogateescape`` whatever error handler invoke asks for; encoding back gives the exact
  bytes the command wrote, and text written to the command (a su/sudo password) is UTF-8.
* testinfra's ``host.sudo(user)`` replaces ``backend.get_command`` with a wrapper that calls
  ``backend.get_sudo_command`` to build ``sudo -u USER /bin/sh -c CMD`` (no password, no
  tty: it fails wherever sudo asks for one). :meth:`FabricPlusBackend.get_sudo_command`
  records the user instead, and :meth:`FabricPlusBackend.run` runs the command through our
  ``Sudo`` strategy: the login user's configured sudo password, the ``requiretty`` retry,
  errors naming host and user -- exactly like ``su_user(..., method="sudo", login=False)``.
  Where sudo refuses (no password, wrong password, user or target not allowed, unknown
  user), testinfra gives the command's result with the sudo process's exit status 1 and
  sudo's stderr, so tests assert ``rc != 0``: :meth:`FabricPlusBackend.sudo_refused` gives
  the same (sudo's words, then our named cause, on stderr), not our ``PrivilegeError``.
* testinfra's ``Ansible`` module (``host.ansible``) works only on a backend whose
  ``HAS_RUN_ANSIBLE`` is true and which has ``run_ansible``/``get_variables``: its ansible
  backend. Ours sets it where testinfra would use that backend (``--connection=ansible``,
  ``ansible://``) and answers both through testinfra's own ``AnsibleRunner`` (Ansible's
  ``ansible`` and ``ansible-inventory`` commands), one runner per inventory per run.
* ``testinfra.get_host()`` keeps every ``Host`` in class-level dicts for the life of the
  process; we build ``Host`` objects ourselves and keep them on the connection they use.
"""

from __future__ import annotations

import codecs
import shutil
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, PrivilegeError
from ..hosts.urls import AnsibleName

if TYPE_CHECKING:  # the connection module never imports this one: no cycle
    from ..ssh.connection import FabricPlusConnection

#: what to install when testinfra is missing
INSTALL_HINT = "pip install pytest-fabricplus[testinfra]"

try:
    import testinfra
    import testinfra.host
    from testinfra.backend.base import BaseBackend, CommandResult
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        f"testinfra_host needs pytest-testinfra, which cannot be imported ({exc}): {INSTALL_HINT}",
        name=exc.name,
    ) from exc

#: the exit status of a sudo that refuses or fails before running the command (sudo(8))
SUDO_FAILED = 1

__all__ = [
    "INSTALL_HINT",
    "RAW_ENCODING",
    "AnsibleHost",
    "AnsibleRunners",
    "FabricPlusBackend",
    "backend_host",
    "testinfra_host",
]

# ---------------------------------------------------------------------------------------
# lossless output: UTF-8 with surrogateescape, whatever error handler invoke passes
# ---------------------------------------------------------------------------------------

#: codec name passed to ``connection.run(encoding=...)`` for testinfra's commands
RAW_ENCODING = "pytest_fabricplus_raw"


def _raw_encode(text: str, errors: str = "strict", /) -> tuple[bytes, int]:
    return codecs.utf_8_encode(text, "surrogateescape")


def _raw_decode(data: Any, errors: str = "strict", /) -> tuple[str, int]:
    # a bytes-like object (invoke passes bytes)
    return codecs.utf_8_decode(data, "surrogateescape", True)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("-", "_") != RAW_ENCODING:
        return None
    return codecs.CodecInfo(_raw_encode, _raw_decode, name=RAW_ENCODING)


codecs.register(_search)


def raw_bytes(text: str) -> bytes:
    """The bytes a command wrote, from the text invoke decoded with :data:`RAW_ENCODING`."""
    return text.encode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------------------
# the backend
# ---------------------------------------------------------------------------------------


class FabricPlusBackend(BaseBackend):  # type: ignore[misc]  # testinfra ships no types
    """A testinfra backend whose commands run on a :class:`FabricPlusConnection`."""

    NAME = "fabricplus"

    def __init__(
        self,
        connection: FabricPlusConnection,
        *args: Any,
        ansible: AnsibleHost | None = None,
        **kwargs: Any,
    ) -> None:
        self.connection = connection
        #: testinfra's ``Ansible`` module works where testinfra's ansible backend would run
        #: this host (``--connection=ansible``, ``ansible://``): ``host.ansible(...)``
        self.ansible = ansible
        self.HAS_RUN_ANSIBLE = ansible is not None
        # users host.sudo() asked for while the current command was being built (per thread)
        self._sudo_chain = threading.local()
        super().__init__(connection.spec.host, *args, **kwargs)

    def get_pytest_id(self) -> str:
        spec = self.connection.spec
        return f"{self.NAME}://{spec.name}"

    def get_sudo_command(self, command: str, sudo_user: str | None) -> str:
        """Inside :meth:`run`: remember ``sudo_user`` and leave the command alone.

        Called by testinfra's ``host.sudo()`` wrapper (and by ``get_command`` for a backend
        created with ``sudo=True``) once per level, innermost first. Outside :meth:`run`
        (someone building a command for display) it returns testinfra's own ``sudo`` line.
        """
        chain: list[str | None] | None = getattr(self._sudo_chain, "users", None)
        if chain is None:
            return str(super().get_sudo_command(command, sudo_user))
        chain.append(sudo_user)
        return command

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        """Run ``command % quoted(args)`` on the connection; testinfra's ``CommandResult``.

        ``kwargs`` (testinfra passes ``encoding=None`` here) are accepted and ignored, as
        testinfra's ssh and paramiko backends do.
        """
        chain: list[str | None] = []
        self._sudo_chain.users = chain
        try:
            text = str(self.get_command(command, *args))  # applies self.quote(command, *args)
        finally:
            self._sudo_chain.users = None
        conn = self.connection
        options: dict[str, Any] = {"warn": True, "hide": True, "encoding": RAW_ENCODING}
        if chain:
            # nested host.sudo(): the innermost user is who the command finally runs as;
            # the login user asks sudo for it, as with connection.sudo()
            try:
                with conn.as_user(chain[0] or "root", method="sudo", login=False):
                    result = conn.run(text, **options)
            except PrivilegeError as exc:
                return self.sudo_refused(text, exc)
        else:
            result = conn.run(text, **options)
        exit_status = -1 if result.exited is None else int(result.exited)
        return self.result(
            exit_status, self.encode(text), raw_bytes(result.stdout), raw_bytes(result.stderr)
        )

    def run_ansible(self, module_name: str, module_args: str | None = None, **kwargs: Any) -> Any:
        """``host.ansible(MODULE, ARGS, ...)``: Ansible's ``ansible`` command on this host's
        inventory name, through testinfra's own ``AnsibleRunner`` (as its ansible backend:
        Ansible connects on its own, as the inventory says)."""
        target = self._ansible_target("host.ansible(...)", "ansible")
        return target.runner().run_module(
            target.name.name, module_name, module_args, get_encoding=lambda: self.encoding, **kwargs
        )

    def get_variables(self) -> dict[str, Any]:
        """``host.ansible.get_variables()``: the host's variables as ``ansible-inventory``
        gives them, with ``inventory_hostname``, ``group_names`` and ``groups`` (testinfra's
        ``AnsibleRunner.get_variables``)."""
        target = self._ansible_target("host.ansible.get_variables()", "ansible-inventory")
        return dict(target.runner().get_variables(target.name.name))

    def _ansible_target(self, what: str, command: str) -> AnsibleHost:
        target = self.ansible
        if target is None:  # testinfra's need_ansible checks HAS_RUN_ANSIBLE first
            raise RuntimeError("Ansible module is only available with ansible connection backend")
        if shutil.which(command) is None:
            raise ConfigError(
                f"{what} on {self.connection.spec.describe()} runs Ansible's {command} "
                f"command, which is not on PATH: pip install ansible-core (in the environment "
                f"whose bin directory is on PATH)"
            )
        return target

    def sudo_refused(self, command: str, exc: PrivilegeError) -> CommandResult:
        """testinfra's result for a sudo that did not run the command: the exit status of
        the sudo process (1), no stdout, sudo's own stderr and then our cause, one line."""
        said = exc.output.rstrip("\n")
        stderr = f"{said}\n" if said else ""
        stderr += f"pytest-fabricplus: {exc}\n"
        return self.result(SUDO_FAILED, self.encode(command), b"", stderr.encode())


# ---------------------------------------------------------------------------------------
# testinfra's ansible module over our backend
# ---------------------------------------------------------------------------------------


class AnsibleRunners:
    """testinfra's ``AnsibleRunner`` per inventory, for one run (testinfra keeps them in a
    class-level dict for the life of the process; the run owns these)."""

    def __init__(self) -> None:
        self._runners: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def get(self, inventory: str | None) -> Any:
        from testinfra.utils.ansible_runner import AnsibleRunner

        with self._lock:
            runner = self._runners.get(inventory)
            if runner is None:
                runner = self._runners[inventory] = AnsibleRunner(inventory)
            return runner


@dataclass(frozen=True)
class AnsibleHost:
    """A host testinfra would run through its ansible backend: its Ansible name, and the
    run's runners (one ``ansible-inventory --list`` per inventory)."""

    name: AnsibleName
    runners: AnsibleRunners = field(compare=False, hash=False, repr=False)

    def runner(self) -> Any:
        return self.runners.get(self.name.inventory)


# ---------------------------------------------------------------------------------------
# one Host per (connection, user)
# ---------------------------------------------------------------------------------------

# Attribute of the connection that holds its Hosts. invoke's DataProxy turns attribute
# assignment into config keys, so it is set with ``_set`` (as connection.py does).
_HOSTS_ATTR = "_fabricplus_testinfra_hosts"

#: who a Host's commands run as: ``None`` for the login user, else (user, method, login)
IdentityKey = tuple[str, str, bool] | None


def identity_key(connection: FabricPlusConnection) -> IdentityKey:
    run_as = connection.run_as
    return None if run_as is None else (run_as.user, run_as.method, run_as.login)


def testinfra_host(
    connection: FabricPlusConnection,
    sudo: bool = False,  # noqa: PT028  # not a test: the name starts with test
    sudo_user: str | None = None,  # noqa: PT028
    ansible: AnsibleHost | None = None,  # noqa: PT028
) -> Any:
    """The ``testinfra.host.Host`` over ``connection``, for the user active now.

    Commands always run as whoever is active when they run (``connection.run``). The Host
    object -- and with it testinfra's per-Host caches: the module classes it picked (e.g.
    ``ss`` found on the user's ``PATH``), ``system_info``, ``has_command_v``, the detected
    output encoding -- is kept per user: the login user's Host is never handed out while
    ``su_user`` is active, and the same Host comes back for the same user in later tests on
    this connection. A reopened connection (a new object) starts afresh.

    ``sudo=True`` (testinfra's ``--sudo``; ``sudo_user`` its ``--sudo-user``, default root)
    runs every command of this Host through our ``Sudo`` strategy, as ``host.sudo()`` does.
    ``ansible``: the host's Ansible name where testinfra would use its ansible backend
    (``--connection=ansible``): then ``host.ansible(...)`` and its ``get_variables()`` work.
    """
    hosts: dict[tuple[IdentityKey, bool, str | None, AnsibleHost | None], Any] | None = getattr(
        connection, _HOSTS_ATTR, None
    )
    if hosts is None:
        hosts = {}
        connection._set(_HOSTS_ATTR, hosts)
    key = (identity_key(connection), sudo, sudo_user if sudo else None, ansible)
    host = hosts.get(key)
    if host is None:
        backend = FabricPlusBackend(connection, sudo=sudo, sudo_user=sudo_user, ansible=ansible)
        host = testinfra.host.Host(backend)
        backend.set_host(host)
        hosts[key] = host
    return host


def backend_host(spec: str, sudo: bool = False, sudo_user: str | None = None) -> Any:
    """testinfra's own ``Host`` for a spec that is not SSH (``local://``, ``docker://c1``).

    ``testinfra.get_host`` as testinfra's plugin would build it: the spec's own
    ``?sudo=``/``?sudo_user=`` win over ``sudo``/``sudo_user`` (testinfra's ``--sudo``).
    """
    kwargs: dict[str, Any] = {"sudo": True} if sudo else {}
    if sudo and sudo_user:
        kwargs["sudo_user"] = sudo_user
    return testinfra.get_host(spec, **kwargs)

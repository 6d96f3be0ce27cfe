"""``RunState``: what one process knows about the run (no pytest import).

Settings, the inventory and its selection, the secrets read, and -- opened on first use --
the connection registry and the pool threads. The plugin keeps one per pytest process; a
plain script can build one the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError, InventoryError
from ..hosts.ansible import DEFAULT_INVENTORY
from ..hosts.inventory import (
    inventory_warnings,
    load_inventory,
    looks_like_path,
    parse_host_list,
    read_ansible,
    resolve_hosts,
)
from ..hosts.selection import apply_limit, describe_choices, split_patterns, unmatched
from ..hosts.spec import HostSpec, assign_ids
from ..hosts.urls import is_spec, with_connection
from ..secrets import SecretStore, check_password_variables, variables_named
from ..settings import Settings
from .pool import PoolThreads

if TYPE_CHECKING:  # paramiko/Fabric load on first use: the xdist controller never connects
    from ..ssh.registry import ConnectionRegistry

NO_HOSTS_REASON = (
    "no hosts to test: pass --hosts=INVENTORY_FILE or --hosts=user@host:port[,...] "
    "(--fabricplus-hosts where another plugin owns --hosts; or set fabricplus_hosts in "
    "pytest.ini / FABRICPLUS_HOSTS)"
)


@dataclass
class RunState:
    settings: Settings
    inventory: list[HostSpec] = field(default_factory=list)
    selected: list[HostSpec] = field(default_factory=list)
    source: str = ""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    secrets: SecretStore = field(default_factory=SecretStore)
    #: things the inventory asks for that this run does not do (Ansible keys not honoured)
    warnings: list[str] = field(default_factory=list)
    _registry: ConnectionRegistry | None = None
    _threads: PoolThreads | None = None
    #: :meth:`interrupt` was called (SIGINT/SIGTERM)
    interrupted: bool = False

    @classmethod
    def build(
        cls,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        extra_hosts: Sequence[HostSpec] = (),
        extra_source: str = "",
        extra_env: Mapping[str, str] | None = None,
    ) -> RunState:
        """Read the inventory, apply ``--hosts-limit``, check password variables exist.

        ``extra_hosts`` (e.g. started container targets) join the inventory's hosts;
        ``extra_env`` holds variables the run made itself (their generated passwords), seen
        by this run only -- never put into ``os.environ``, which every child inherits.
        """
        merged = {**(os.environ if env is None else env), **(extra_env or {})}
        state = cls(settings=settings, env=merged, secrets=SecretStore(merged))
        state.secrets.add(*(extra_env or {}).values())
        state.secrets.add_variables(variables_named(settings, ()))
        if settings.hosts is None and settings.ansible_inventory is None and not extra_hosts:
            return state
        sources = []
        specs: list[HostSpec] = []
        if settings.ansible_inventory is not None or _names_ansible(settings.hosts):
            sources.append(settings.ansible_inventory or DEFAULT_INVENTORY)
            specs = ansible_hosts(
                settings.ansible_inventory, settings.hosts, settings.force_ansible
            )
        elif settings.hosts is not None:
            is_file = looks_like_path(settings.hosts)
            sources.append(settings.hosts if is_file else "--hosts list")
            specs = resolve_hosts(settings.hosts, force_ansible=settings.force_ansible)
            if not is_file:  # testinfra's --connection=docker etc.
                specs = with_connection(specs, settings.connection)
            if not specs:
                raise InventoryError("lists no hosts", source=settings.hosts)
        if extra_hosts:
            sources.append(extra_source)
        state.source = " + ".join(sources)
        try:
            state.inventory = assign_ids([*specs, *extra_hosts])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        state.selected = list(state.inventory)
        if settings.hosts_limit:
            patterns = split_patterns(settings.hosts_limit)
            state.selected = apply_limit(state.inventory, patterns)
            if not state.selected:
                bad = unmatched(state.inventory, patterns)
                why = f" ({', '.join(map(repr, bad))} match nothing)" if bad else ""
                raise ConfigError(
                    f"--hosts-limit {settings.hosts_limit!r} selects none of the "
                    f"{len(state.inventory)} hosts in {state.source}{why}; "
                    f"{describe_choices(state.inventory)}"
                )
        if settings.hosts_shard:
            k, n = settings.hosts_shard
            # sorted ids, every N-th host: deterministic on every machine, sizes differ by <= 1
            state.selected = [h for i, h in enumerate(state.selected) if i % n == k - 1]
        state.warnings = inventory_warnings(state.selected)
        check_password_variables(settings, state.env, state.selected)
        state.secrets.add_variables(variables_named(settings, state.inventory))
        return state

    def worker_secrets(self) -> dict[str, str]:
        """``{variable: value}`` of the password variables named for the selected hosts
        (login, su, sudo; options, ini, inventory) that are set: what an xdist worker is
        sent so that it needs no copy of this environment. Values already in the store."""
        names = variables_named(self.settings, self.selected)
        return {name: self.env[name] for name in sorted(names) if name in self.env}

    def header_lines(self) -> list[str]:
        """The header, then one line per warning about the inventory."""
        return [self.header(), *(f"fabricplus: warning: {w}" for w in self.warnings)]

    @property
    def has_hosts(self) -> bool:
        return bool(self.inventory)

    @property
    def by_id(self) -> dict[str, HostSpec]:
        return {s.id: s for s in self.inventory}

    @property
    def registry(self) -> ConnectionRegistry:
        if self._registry is None:
            from ..ssh.connector import Connector
            from ..ssh.registry import ConnectionRegistry

            aliases = {s.alias: s for s in self.inventory if s.alias}
            self._registry = ConnectionRegistry(
                Connector(self.settings, secrets=self.secrets), {**self.by_id, **aliases}
            )
        return self._registry

    @property
    def threads(self) -> PoolThreads:
        """Worker threads for ``host_pool``, kept for the session."""
        if self._threads is None:
            self._threads = PoolThreads(self.settings.max_connections)
        return self._threads

    def interrupt(self) -> None:
        """The run is stopping (SIGINT/SIGTERM; from any thread): handshakes under way are
        abandoned, every running command is killed on its host, connections close. Bounded
        (a few seconds at most); :meth:`close` still follows."""
        self.interrupted = True
        registry = self._registry  # never opened: nothing to stop (and nothing to load)
        if registry is not None:
            registry.interrupt()

    def close(self) -> None:
        """Close the connections (a command still running is killed on its host first),
        then the pool threads: after an interruption without waiting for busy ones."""
        registry, self._registry = self._registry, None
        threads, self._threads = self._threads, None
        try:
            if registry is not None:
                registry.close_all()
        finally:
            if threads is not None:
                threads.close(wait=not self.interrupted)

    def header(self) -> str:
        s = self.settings
        if not self.inventory:
            return "fabricplus: no hosts (pass --hosts)"
        limit = f" (--hosts-limit {s.hosts_limit})" if s.hosts_limit else ""
        if s.hosts_shard:
            limit += f" (shard {s.hosts_shard[0]}/{s.hosts_shard[1]})"
        timeout = f"{s.command_timeout:g}s" if s.command_timeout else "none"
        return (
            f"fabricplus: {len(self.selected)} of {len(self.inventory)} hosts from "
            f"{self.source}{limit}; host keys: {s.host_key_policy}; "
            f"timeouts: connect {s.connect_timeout:g}s, command {timeout}"
        )


def _names_ansible(hosts: str | None) -> bool:
    """``--hosts`` names ``ansible://`` hosts (testinfra: from Ansible's inventory)."""
    return hosts is not None and any(i.startswith("ansible://") for i in split_patterns(hosts))


def ansible_hosts(
    source: str | None, hosts: str | None, force_ansible: bool = False
) -> list[HostSpec]:
    """The hosts of an Ansible inventory, selected as testinfra selects them.

    ``source`` (``--ansible-inventory``; ``None``: Ansible's default inventory, read by
    ``ansible-inventory``). Without ``hosts``, all of its hosts. Otherwise each ``hosts``
    comma item is a host name or an Ansible pattern selected from it (``ansible://PATTERN``
    too); other ``scheme://`` specs are hosts of their own, as ``--hosts`` reads them; an
    item naming nothing there is a :class:`ConfigError` listing what there is.
    """
    if source is None:
        specs = assign_ids(read_ansible(DEFAULT_INVENTORY))
        source = DEFAULT_INVENTORY
    else:
        specs = assign_ids(load_inventory(source, force_ansible=force_ansible))
    if not specs:
        raise InventoryError("lists no hosts", source=source)
    if hosts is None:
        return specs
    if os.path.exists(hosts):
        raise ConfigError(
            f"--hosts {hosts!r} is an inventory file and --ansible-inventory "
            f"{source!r} another: give one inventory (with --ansible-inventory, --hosts "
            "selects host names or patterns from it)"
        )
    chosen: dict[str, HostSpec] = {}
    others: list[str] = []
    for item in split_patterns(hosts):
        pattern = item[len("ansible://") :] if item.startswith("ansible://") else item
        found = apply_limit(specs, [pattern or "all"])
        if found:
            chosen.update((s.id, s) for s in found)
        elif is_spec(item) and not item.startswith("ansible://"):
            others.append(item)
        else:
            raise ConfigError(
                f"--hosts {item!r} names no host of "
                f"{source if source == DEFAULT_INVENTORY else 'the Ansible inventory ' + source}; "
                f"{describe_choices(specs)}"
            )
    extra = parse_host_list(",".join(others)) if others else []
    return [*chosen.values(), *extra]

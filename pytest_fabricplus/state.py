"""``RunState``: what one pytest process knows about the run (no pytest import)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import ConfigError, InventoryError
from .hostspec import HostSpec, assign_ids
from .inventory import looks_like_path, resolve_hosts
from .selection import apply_limit, describe_choices, split_patterns, unmatched
from .settings import Settings, check_password_variables

if TYPE_CHECKING:  # paramiko/Fabric load on first use: the xdist controller never connects
    from .connection import ConnectionRegistry

NO_HOSTS_REASON = (
    "no hosts to test: pass --hosts=INVENTORY_FILE or --hosts=user@host:port[,...] "
    "(or set fabricplus_hosts in pytest.ini / FABRICPLUS_HOSTS)"
)


@dataclass
class RunState:
    settings: Settings
    inventory: list[HostSpec] = field(default_factory=list)
    selected: list[HostSpec] = field(default_factory=list)
    source: str = ""
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _registry: ConnectionRegistry | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        extra_hosts: Sequence[HostSpec] = (),
        extra_source: str = "",
    ) -> RunState:
        """Read the inventory, apply ``--hosts-limit``, check password variables exist.

        ``extra_hosts`` (e.g. started container targets) join the inventory's hosts.
        """
        state = cls(settings=settings, env=dict(os.environ if env is None else env))
        if settings.hosts is None and not extra_hosts:
            return state
        sources = []
        specs: list[HostSpec] = []
        if settings.hosts is not None:
            sources.append(settings.hosts if looks_like_path(settings.hosts) else "--hosts list")
            specs = resolve_hosts(settings.hosts)
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
        check_password_variables(settings, state.env, state.selected)
        return state

    @property
    def has_hosts(self) -> bool:
        return bool(self.inventory)

    @property
    def by_id(self) -> dict[str, HostSpec]:
        return {s.id: s for s in self.inventory}

    @property
    def registry(self) -> ConnectionRegistry:
        if self._registry is None:
            from .connection import ConnectionRegistry, Connector

            aliases = {s.alias: s for s in self.inventory if s.alias}
            self._registry = ConnectionRegistry(
                Connector(self.settings, self.env), {**self.by_id, **aliases}
            )
        return self._registry

    def secret_values(self) -> list[str]:
        """Values of every password variable this run names (to redact from reports)."""
        s = self.settings
        names = {s.ssh_password_env, s.su_password_env, s.sudo_password_env}
        for spec in self.inventory:
            names |= {
                spec.password_env,
                spec.vars.get("su_password_env"),
                spec.vars.get("sudo_password_env"),
            }
        return sorted({self.env[n] for n in names if n and self.env.get(n)}, key=len, reverse=True)

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close_all()
            self._registry = None

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

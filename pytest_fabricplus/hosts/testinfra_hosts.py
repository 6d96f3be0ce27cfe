"""A test module's ``testinfra_hosts``, as testinfra reads that list, as host specs.

Entries name hosts of the run's inventory (names, aliases, groups, ``ansible://PATTERN``) or
hosts it does not list (testinfra specs, ``[user@]host[:port]``, ``None`` for the local
machine); :class:`ModuleHosts` resolves them once per module and gives a host made from an
entry one id for the whole run. Pure: the plugin's ``host`` fixture glue
(``plugin/testinfra.py``) calls it at collection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..errors import InventoryError
from .selection import apply_limit
from .sources import parse_testinfra_spec
from .spec import Address, HostSpec
from .urls import LOCAL, apply_sudo, is_spec, split_spec, with_connection


def _select(specs: Sequence[HostSpec], pattern: str) -> list[HostSpec]:
    return apply_limit(list(specs), [pattern])


class ModuleHosts:
    """A module's ``testinfra_hosts`` as host specs, as testinfra reads that list.

    Each entry is ``None`` (the local machine), an inventory name, alias or group (the
    inventory's hosts, as far as ``--hosts-limit``/``--hosts-shard`` selected them), an
    ``ansible://PATTERN`` (the same, by pattern), or a testinfra spec / ``[user@]host[:port]``
    of a host the inventory does not list (then tested as given, like testinfra does).
    Hosts made from entries get one id each for the whole run (one connection per host).
    """

    def __init__(self) -> None:
        self._made: dict[tuple[object, ...], HostSpec] = {}

    def made(self) -> list[HostSpec]:
        return list(self._made.values())

    def resolve(
        self,
        entries: object,
        where: str,
        inventory: Sequence[HostSpec],
        selected: Sequence[HostSpec],
        connection: str | None = None,
    ) -> list[HostSpec]:
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
            raise InventoryError(
                f"testinfra_hosts must be a list of host names or specs, got {entries!r}",
                source=where,
            )
        chosen: dict[str, HostSpec] = {}
        picked = {s.id for s in selected}
        for entry in list(entries):
            if entry is None:
                found = [LOCAL]
            elif not isinstance(entry, str) or not entry.strip():
                raise InventoryError(
                    f"testinfra_hosts entry {entry!r} is not a host name or spec", source=where
                )
            else:
                found = self._entry(entry.strip(), where, inventory, connection)
            for spec in found:
                if spec.id in {s.id for s in inventory} and spec.id not in picked:
                    continue  # in the inventory, left out by --hosts-limit / --hosts-shard
                chosen.setdefault(spec.id, spec)
        return sorted(chosen.values(), key=lambda s: s.id)

    def _entry(
        self,
        entry: str,
        where: str,
        inventory: Sequence[HostSpec],
        connection: str | None,
    ) -> list[HostSpec]:
        if is_spec(entry):
            parsed = split_spec(entry, where)
            if parsed.scheme == "ansible" and "ansible_inventory" not in parsed.query:
                matched = _select(inventory, parsed.netloc or "all")
                if not matched:
                    raise InventoryError(f"{entry!r} names no host of the inventory", source=where)
                return apply_sudo(matched, parsed.query)
            specs = parse_testinfra_spec(entry, where)
        else:
            matched = _select(inventory, entry) if inventory else []
            if matched:
                return matched
            try:
                address = Address.parse(entry)
            except ValueError as exc:
                raise InventoryError(
                    f"testinfra_hosts entry {entry!r}: {exc}", source=where
                ) from None
            specs = with_connection(
                [HostSpec(host=address.host, port=address.port, user=address.user, source=where)],
                connection,
            )
        return [self._known(spec, inventory) for spec in specs]

    def _known(self, spec: HostSpec, inventory: Sequence[HostSpec]) -> HostSpec:
        """The inventory's entry for this host if it has one, else one id for the run."""
        for known in inventory:  # the same address and options: the inventory's host
            if _reach(known) == _reach(spec) and _testinfra_vars(known) == _testinfra_vars(spec):
                return known
        key = (*_reach(spec), tuple(sorted(spec.vars.items())))
        made = self._made.get(key)
        if made is not None:
            return made
        taken = {s.id for s in inventory} | {s.id for s in self._made.values()}
        ident = spec.alias or (spec.host if spec.host not in taken else str(spec.address))
        base, n = ident, 2
        while ident in taken:  # same address, other options (sudo=, ssh_config=, ...)
            ident = f"{base}~{n}"
            n += 1
        made = replace(spec, id=ident)
        self._made[key] = made
        return made


def _reach(spec: HostSpec) -> tuple[object, ...]:
    return (spec.host, spec.port, spec.user, spec.transport, spec.ssh_args, spec.identity_file)


def _testinfra_vars(spec: HostSpec) -> dict[str, str]:
    return {k: v for k, v in spec.vars.items() if k.startswith("testinfra_")}

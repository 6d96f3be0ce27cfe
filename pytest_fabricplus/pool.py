"""``HostPool``: act on many hosts at once, with each host's result or error kept.

Usable without pytest::

    pool = HostPool(registry, specs, max_workers=16)
    results = pool.run("systemctl is-active sshd")
    results.raise_on_failure()          # one error listing every failing host
    for host_id, outcome in results.items(): ...
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from invoke.exceptions import UnexpectedExit

from .errors import FabricPlusError, HostUnreachable
from .hostspec import HostSpec

_T = TypeVar("_T")
DEFAULT_MAX_CONNECTIONS = 32
#: name prefix of the threads that run pool work (the registry's executors use it too)
POOL_THREAD_PREFIX = "fabricplus-pool"


@dataclass(frozen=True)
class HostOutcome(Generic[_T]):
    """What one host returned (``value``) or raised (``error``)."""

    host: HostSpec
    value: _T | None = None
    error: BaseException | None = None

    @property
    def exited(self) -> int | None:
        if self.error is not None:
            result = getattr(self.error, "result", None)
            return getattr(result, "exited", None)
        return getattr(self.value, "exited", None)

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        exited = getattr(self.value, "exited", 0)
        return exited == 0

    @property
    def result(self) -> _T | None:
        return self.value

    def describe(self) -> str:
        """One line: ``exit 3: <stderr tail>`` or the error."""
        if self.error is not None:
            if isinstance(self.error, HostUnreachable):
                return f"unreachable ({self.error.cause}): {self.error.detail}"
            if isinstance(self.error, UnexpectedExit):
                res = self.error.result
                return f"exit {res.exited}: {_tail(res.stderr or res.stdout)}"
            return f"{type(self.error).__name__}: {_tail(str(self.error))}"
        value: Any = self.value
        text = getattr(value, "stderr", "") or getattr(value, "stdout", "")
        return f"exit {self.exited}: {_tail(text)}"


def _tail(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).strip().splitlines()[-3:])
    return text if len(text) <= limit else "..." + text[-limit:]


class PoolError(FabricPlusError):
    """Some hosts failed; the message lists each with its exit code or error."""

    def __init__(self, what: str, failed: Sequence[HostOutcome[Any]], total: int) -> None:
        self.failed = list(failed)
        lines = [f"{len(failed)} of {total} hosts failed {what}:"]
        lines += [f"  {o.host.describe()}: {o.describe()}" for o in failed]
        super().__init__("\n".join(lines))


class PoolResult(Mapping[str, HostOutcome[_T]]):
    """Per-host outcomes by host id, in host order."""

    def __init__(self, what: str, outcomes: Sequence[HostOutcome[_T]]) -> None:
        self.what = what
        self._by_id = {o.host.id or o.host.name: o for o in outcomes}

    def __getitem__(self, host_id: str) -> HostOutcome[_T]:
        return self._by_id[host_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self._by_id.values())

    @property
    def failed(self) -> dict[str, HostOutcome[_T]]:
        return {h: o for h, o in self._by_id.items() if not o.ok}

    @property
    def succeeded(self) -> dict[str, HostOutcome[_T]]:
        return {h: o for h, o in self._by_id.items() if o.ok}

    def values_by_host(self) -> dict[str, _T | None]:
        return {h: o.value for h, o in self._by_id.items()}

    def raise_on_failure(self) -> PoolResult[_T]:
        failed = list(self.failed.values())
        if failed:
            raise PoolError(self.what, failed, len(self))
        return self

    def assert_all_ok(self) -> PoolResult[_T]:
        __tracebackhide__ = True
        return self.raise_on_failure()

    def __repr__(self) -> str:
        return f"<PoolResult {self.what}: {len(self.succeeded)} ok, {len(self.failed)} failed>"


class HostPool:
    """Many hosts, each through the registry's one connection per host, concurrently."""

    def __init__(
        self,
        registry: Any,
        hosts: Sequence[HostSpec],
        max_workers: int = DEFAULT_MAX_CONNECTIONS,
        prepare: Callable[[Any], None] | None = None,
    ) -> None:
        self.registry = registry
        self.hosts = list(hosts)
        self.max_workers = max(1, max_workers)
        self._prepare = prepare
        self._used: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[HostSpec]:
        return iter(self.hosts)

    def _one(self, spec: HostSpec, func: Callable[[Any], _T]) -> HostOutcome[_T]:
        try:
            conn = self.registry.get(spec)
            if self._prepare is not None and spec.id not in self._used:
                self._prepare(conn)
            self._used[spec.id] = conn
            return HostOutcome(spec, value=func(conn))
        except Exception as exc:  # kept per host, never swallowed
            return HostOutcome(spec, error=exc)

    def map(self, func: Callable[[Any], _T], what: str | None = None) -> PoolResult[_T]:
        """Call ``func(connection)`` for every host concurrently."""
        label: str = what or str(getattr(func, "__name__", "map"))
        if not self.hosts:
            return PoolResult(label, [])
        workers = min(self.max_workers, len(self.hosts))
        if workers == 1:
            return PoolResult(label, [self._one(s, func) for s in self.hosts])
        shared = getattr(self.registry, "executor", None)
        # the registry's session threads, unless called from one of them (a nested map
        # could wait for threads that are all busy waiting for it)
        if shared is not None and not threading.current_thread().name.startswith(
            POOL_THREAD_PREFIX
        ):
            outcomes = list(shared(workers).map(lambda s: self._one(s, func), self.hosts))
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix=POOL_THREAD_PREFIX) as ex:
                outcomes = list(ex.map(lambda s: self._one(s, func), self.hosts))
        return PoolResult(label, outcomes)

    def run(self, command: str, **kwargs: Any) -> PoolResult[Any]:
        """``run(command)`` on every host; a non-zero exit is that host's failure."""
        kwargs.setdefault("warn", True)
        kwargs.setdefault("hide", True)
        return self.map(lambda c: c.run(command, **kwargs), f"`{command}`")

    def sudo(self, command: str, **kwargs: Any) -> PoolResult[Any]:
        kwargs.setdefault("warn", True)
        kwargs.setdefault("hide", True)
        return self.map(lambda c: c.sudo(command, **kwargs), f"`sudo {command}`")

    def su(self, command: str, user: str, **kwargs: Any) -> PoolResult[Any]:
        """``command`` as ``user`` on every host (su, sudo or auto, as ``su_user``)."""
        kwargs.setdefault("warn", True)
        kwargs.setdefault("hide", True)
        method = kwargs.pop("method", None)
        password_env = kwargs.pop("password_env", None)

        def as_user(c: Any) -> Any:
            with c.as_user(user, method=method, password_env=password_env):
                return c.run(command, **kwargs)

        return self.map(as_user, f"`{command}` as {user}")

    def put(self, local: Any, remote: str | None = None, **kwargs: Any) -> PoolResult[Any]:
        """Upload a path or a file-like object to every host (each gets its own copy);
        ``remote`` may contain ``{host}`` (the host's id)."""
        data: bytes | None = None
        if hasattr(local, "read"):  # one file object cannot be read by many threads at once
            data = local.read()
            data = data.encode() if isinstance(data, str) else data

        def put(c: Any) -> Any:
            where = None if remote is None else remote.replace("{host}", c.spec.id)
            return c.put(io.BytesIO(data) if data is not None else local, where, **kwargs)

        return self.map(put, f"put {remote or local}")

    def get(self, remote: str, local: str | None = None, **kwargs: Any) -> PoolResult[Any]:
        """Fetch ``remote`` from each host; ``local`` may contain ``{host}``."""
        target = local or "{host}-" + remote.rsplit("/", 1)[-1]

        def get(c: Any) -> Any:
            return c.get(remote, target.replace("{host}", c.spec.id), **kwargs)

        return self.map(get, f"get {remote}")

    def connections(self) -> list[Any]:
        return list(self._used.values())

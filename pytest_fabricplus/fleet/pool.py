"""``HostPool``: act on many hosts at once, with each host's result or error kept.

Interrupted (``KeyboardInterrupt`` while :meth:`HostPool.map` waits), the registry is
interrupted: every host's running command is killed on the host, the connections closed.

Usable without pytest::

    pool = HostPool(registry, specs, max_workers=16)
    results = pool.run("systemctl is-active sshd")
    results.raise_on_failure()          # one error listing every failing host
    for host_id, outcome in results.items(): ...
    for outcome in results.values():    # read like Fabric's GroupResult
        print(outcome.host.id, outcome.stdout, outcome.exited)
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from ..errors import FabricPlusError, HostUnreachable
from ..hosts.spec import HostSpec
from ..settings import Settings
from ..text import tail

if TYPE_CHECKING:
    from ..ssh.connection import FabricPlusConnection
    from ..ssh.runner import DirectRun

_T = TypeVar("_T")
_A = TypeVar("_A")
#: name prefix of the threads that run pool work
POOL_THREAD_PREFIX = "fabricplus-pool"
#: the longest the calling thread waits for pool threads without waking up (s)
WAIT_STEP = 0.2


def map_in_steps(
    executor: Executor,
    func: Callable[[_A], _T],
    args: Sequence[_A],
    limit: int | None = None,
) -> list[_T]:
    """``list(executor.map(func, args))``, waiting in steps of :data:`WAIT_STEP`: Python
    runs a signal's handler (Ctrl-C's ``KeyboardInterrupt``) in the main thread only when
    that thread wakes, and the OS may deliver the signal to one of the other threads; a
    wait without a timeout would not wake until every host is done. ``limit``: at most that
    many calls submitted at once (a shared executor may be larger than this map's bound)."""
    futures: list[Future[_T]] = []
    todo = list(args)
    bound = len(todo) if limit is None else max(1, limit)
    try:
        pending: set[Future[_T]] = set()
        while todo or pending:
            while todo and len(pending) < bound:
                future = executor.submit(func, todo.pop(0))
                futures.append(future)
                pending.add(future)
            _done, pending = wait(pending, timeout=WAIT_STEP, return_when=FIRST_COMPLETED)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [future.result() for future in futures]


class ConnectionSource(Protocol):
    """Where the fleet gets a host's connection: :class:`~pytest_fabricplus.ssh.registry.
    ConnectionRegistry` (one per host per process), or anything with the same ``get``."""

    def get(self, spec: HostSpec) -> FabricPlusConnection: ...


class PoolThreads:
    """Worker threads for acting on many hosts at once, kept for a session.

    A new executor per ``host_pool`` call started up to ``workers`` threads each time, and
    ``Thread.start`` waits for the new thread to take the GIL: with 20 hosts that added
    milliseconds to every check. Shared by every :class:`HostPool` of a session (the plugin's
    run state owns one) and shut down by :meth:`close`.

    ONE executor of at most ``size`` threads (the run's ``max_connections``), whatever the
    pools' sizes: each map bounds its own concurrency (:func:`map_in_steps`' ``limit``). An
    executor per pool size kept every size's idle threads for the whole session (hundreds
    with pools of many sizes). Threads start as work needs them, never more than ``size``.
    """

    def __init__(self, size: int = Settings.max_connections) -> None:
        self.size = max(1, size)
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.size, thread_name_prefix=POOL_THREAD_PREFIX
                )
            return self._executor

    def close(self, wait: bool = True) -> None:
        """Shut the threads down; ``wait=False`` (an interrupted run) does not wait for busy
        ones (their connections are closed: they end on their own) and cancels queued work."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            # idle threads end at once; a busy one finishes
            executor.shutdown(wait=wait, cancel_futures=not wait)


class HostRaised(AttributeError):
    """A result attribute was read from a host that raised instead of returning one."""


@dataclass(frozen=True)
class HostOutcome(Generic[_T]):
    """What one host returned (``value``) or raised (``error``).

    Reads like the ``Result`` in Fabric's ``GroupResult``: ``stdout``, ``stderr``, ``exited``
    (``return_code``), ``ok``, ``failed``, ``command``. A command that exited non-zero
    (``run(..., warn=False)``) still answers them from the exit's result; a host that raised
    something else (unreachable, timeout) answers ``ok``/``failed``/``exited`` (``None``), and
    reading ``stdout``/``stderr``/``command`` raises :class:`HostRaised` saying what it raised.
    """

    host: HostSpec
    value: _T | None = None
    error: BaseException | None = None

    @property
    def result(self) -> Any:
        """The host's ``Result`` (also of a non-zero exit that raised), else ``None``."""
        if self.error is not None:
            return getattr(self.error, "result", None)
        return self.value

    @property
    def exited(self) -> int | None:
        return getattr(self.result, "exited", None)

    @property
    def return_code(self) -> int | None:
        return self.exited

    @property
    def ok(self) -> bool:
        if self.error is not None:
            return False
        return getattr(self.value, "exited", 0) == 0

    @property
    def failed(self) -> bool:
        return not self.ok

    def _text(self, name: str) -> str:
        result = self.result
        if result is None or not hasattr(result, name):
            if self.error is not None:
                raise HostRaised(
                    f"{self.host.describe()} has no {name}: it raised {self.describe()}"
                ) from self.error
            raise HostRaised(f"{self.host.describe()}: {type(self.value).__name__} has no {name}")
        return str(getattr(result, name))

    @property
    def stdout(self) -> str:
        return self._text("stdout")

    @property
    def stderr(self) -> str:
        return self._text("stderr")

    @property
    def command(self) -> str:
        return self._text("command")

    def describe(self) -> str:
        """One line: ``exit 3: <stderr tail>`` or the error."""
        error = self.error
        if error is not None:
            if isinstance(error, HostUnreachable):
                return f"unreachable ({error.cause}): {error.detail}"
            res = getattr(error, "result", None)
            if res is not None and hasattr(res, "exited"):  # invoke's UnexpectedExit
                return f"exit {res.exited}: {tail(res.stderr or res.stdout)}"
            return f"{type(error).__name__}: {tail(str(error))}"
        value: Any = self.value
        text = getattr(value, "stderr", "") or getattr(value, "stdout", "")
        return f"exit {self.exited}: {tail(text)}"

    def __repr__(self) -> str:
        return f"<HostOutcome {self.host.id or self.host.name}: {self.describe()}>"


def _unexpected(error: BaseException | None) -> bool:
    """Not a host's ordinary failure (our errors, I/O and SSH errors, a non-zero exit)."""
    if error is None or isinstance(error, (FabricPlusError, OSError, EOFError)):
        return False
    if type(error).__module__.startswith("paramiko"):
        return False  # SSHException and family (this layer does not import paramiko)
    return not hasattr(error, "result")  # invoke's UnexpectedExit / Failure


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
            # the first host's unexpected exception (a bug, ours or the test's function):
            # chained, so its traceback is shown, not only its one-line summary
            bug = next((o.error for o in failed if _unexpected(o.error)), None)
            raise PoolError(self.what, failed, len(self)) from bug
        return self

    def assert_all_ok(self) -> PoolResult[_T]:
        __tracebackhide__ = True
        return self.raise_on_failure()

    def __repr__(self) -> str:
        return f"<PoolResult {self.what}: {len(self.succeeded)} ok, {len(self.failed)} failed>"


class HostPool:
    """Many hosts, each through the registry's one connection per host, concurrently.

    ``threads`` (a :class:`PoolThreads`) keeps worker threads across pools; without it each
    :meth:`map` starts its own.
    """

    def __init__(
        self,
        registry: ConnectionSource,
        hosts: Sequence[HostSpec],
        max_workers: int = Settings.max_connections,
        prepare: Callable[[FabricPlusConnection], None] | None = None,
        threads: PoolThreads | None = None,
        in_flight: int | None = None,
    ) -> None:
        self.registry = registry
        self.hosts = list(hosts)
        self.max_workers = max(1, max_workers)
        #: commands :meth:`run` keeps in flight from its one thread (None: ``max_workers``)
        self.in_flight = self.max_workers if in_flight is None else max(1, in_flight)
        self._prepare = prepare
        self._threads = threads
        self._used: dict[str, FabricPlusConnection] = {}

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[HostSpec]:
        return iter(self.hosts)

    def _one(self, spec: HostSpec, func: Callable[[FabricPlusConnection], _T]) -> HostOutcome[_T]:
        try:
            conn = self.registry.get(spec)
            if self._prepare is not None and spec.id not in self._used:
                self._prepare(conn)
            self._used[spec.id] = conn
            return HostOutcome(spec, value=func(conn))
        except Exception as exc:  # kept per host, never swallowed
            return HostOutcome(spec, error=exc)

    def map(
        self, func: Callable[[FabricPlusConnection], _T], what: str | None = None
    ) -> PoolResult[_T]:
        """Call ``func(connection)`` for every host concurrently."""
        label: str = what or str(getattr(func, "__name__", "map"))
        return PoolResult(label, self._in_threads(self.hosts, lambda s: self._one(s, func)))

    def _in_threads(self, items: Sequence[_A], call: Callable[[_A], _T]) -> list[_T]:
        """``[call(i) for i in items]`` in up to ``max_workers`` threads, in ``items`` order."""
        if not items:
            return []
        workers = min(self.max_workers, len(items))
        if workers == 1:
            return [call(i) for i in items]
        with self._executor(workers) as (executor, limit):
            try:
                return map_in_steps(executor, call, items, limit=limit)
            except (KeyboardInterrupt, SystemExit):
                # Ctrl-C, SIGTERM: the other hosts' commands run in threads this did not
                # reach; the registry kills them on their hosts and closes, the threads end
                self._interrupt()
                raise

    @contextlib.contextmanager
    def _executor(self, workers: int) -> Iterator[tuple[Executor, int | None]]:
        """Threads for up to ``workers`` calls at once, and the bound to keep on them (None:
        the executor has no more threads): the session's threads, unless called from one of
        them (a nested call could wait for threads that are all busy waiting for it); else
        an executor of its own, shut down on leaving -- without waiting for its threads when
        the run is interrupted (Ctrl-C, SIGTERM)."""
        if self._threads is not None and not threading.current_thread().name.startswith(
            POOL_THREAD_PREFIX
        ):
            yield self._threads.executor(), workers
            return
        own = ThreadPoolExecutor(workers, thread_name_prefix=POOL_THREAD_PREFIX)
        wait_for_threads = True
        try:
            yield own, None
        except (KeyboardInterrupt, SystemExit):
            wait_for_threads = False
            raise
        finally:
            own.shutdown(wait=wait_for_threads, cancel_futures=not wait_for_threads)

    def _interrupt(self) -> None:
        interrupt = getattr(self.registry, "interrupt", None)
        if callable(interrupt):
            interrupt()
        else:
            for conn in list(self._used.values()):
                conn.interrupt()

    def run(self, command: str, **kwargs: Any) -> PoolResult[Any]:
        """``run(command)`` on every host; a non-zero exit is that host's failure."""
        kwargs.setdefault("warn", True)
        kwargs.setdefault("hide", True)
        label = f"`{command}`"
        fanned = self._fan_out(command, kwargs, label)
        if fanned is not None:
            return fanned
        return self.map(lambda c: c.run(command, **kwargs), label)

    def _fan_out(self, command: str, kwargs: dict[str, Any], label: str) -> PoolResult[Any] | None:
        """:meth:`run` from this one thread, for every host whose connection is open and
        whose call takes the direct path (``FabricPlusConnection.direct_run``): up to
        ``in_flight`` commands in flight, each collected as it ends and the next host's
        started, with no thread hand-off per command (measured on 300 open connections:
        0.70-0.76 ms of client CPU per command instead of 1.18-1.33 ms through 32 threads).
        A command has ended when its exit status and its end of output came (or it closed).
        The other hosts (still opening, a run-as user, the persistent shell) run in threads
        as :meth:`map` does (at most ``max_workers`` threads), at the same time and within the
        same ``in_flight``; so do the commands in flight once one outlives its deadline, so
        that timed-out hosts are killed and probed at once. The same outcome per host as
        :meth:`map`.

        None when the registry cannot say which hosts are open (not a registry of ours).
        """
        ready = getattr(self.registry, "ready", None)
        if not callable(ready) or len(self.hosts) < 2:
            return None
        outcomes: list[HostOutcome[Any] | None] = [None] * len(self.hosts)
        todo = list(range(len(self.hosts)))
        todo.reverse()  # pop() from the end: host order
        flying: list[tuple[int, DirectRun]] = []
        threaded: dict[Future[HostOutcome[Any]], int] = {}  # hosts run as map() runs them
        wake = threading.Event()
        window = self.in_flight

        def in_thread(index: int) -> None:  # on the executor of the `with` below
            spec = self.hosts[index]
            future = executor.submit(self._one, spec, lambda c: c.run(command, **kwargs))
            threaded[future] = index
            future.add_done_callback(lambda _f: wake.set())

        def start(index: int) -> None:
            spec = self.hosts[index]
            if not ready(spec):  # opening now (pre-flight) or to reopen: not from here
                in_thread(index)
                return
            try:
                conn = self.registry.get(spec)
                if self._prepare is not None and spec.id not in self._used:
                    self._prepare(conn)
                self._used[spec.id] = conn
                direct = conn.direct_run(command, **kwargs)
                if direct is None:  # a run-as user, the persistent shell, other keywords
                    in_thread(index)
                    return
                direct.start(wake)
                flying.append((index, direct))
            except Exception as exc:  # kept per host, as map() does
                outcomes[index] = HostOutcome(spec, error=exc)

        # the window bounds the hosts in threads too; there are never more than max_workers
        with self._executor(min(window, self.max_workers)) as (executor, _limit):
            try:
                while todo or flying or threaded:
                    while todo and len(flying) + len(threaded) < window:
                        start(todo.pop())
                    wake.clear()  # before looking: what arrives after sets it again
                    finished = [f for f in threaded if f.done()]
                    for future in finished:
                        outcomes[threaded.pop(future)] = future.result()
                    ended = [p for p in flying if p[1].done() or p[1].conn.interrupted]
                    for pair in ended:
                        flying.remove(pair)
                        outcomes[pair[0]] = self._collect(pair)
                    if ended or finished:
                        continue
                    for _index, direct in flying:
                        direct.drain()
                    now = time.monotonic()
                    if any(d.deadline is not None and d.deadline <= now for _i, d in flying):
                        # kill and probe the timed-out ones at once; the rest end meanwhile
                        late, flying[:] = list(flying), []
                        for pair, outcome in zip(
                            late, self._in_threads(late, self._collect), strict=True
                        ):
                            outcomes[pair[0]] = outcome
                        continue
                    if any(d.done() for _i, d in flying):
                        continue  # drain() met an error: collect it now
                    deadlines = [d.deadline for _i, d in flying if d.deadline is not None]
                    step = min([WAIT_STEP, *(t - now for t in deadlines)])
                    wake.wait(max(0.0, step))
            except BaseException as exc:
                # nothing keeps running on the hosts: Ctrl-C, SIGTERM, or a bug of ours
                for _index, direct in flying:
                    direct.abandon()
                for future in threaded:
                    future.cancel()
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    self._interrupt()  # the threads' commands, killed on their hosts
                raise
        done = [o for o in outcomes if o is not None]
        assert len(done) == len(self.hosts)  # every host got its outcome
        return PoolResult(label, done)

    def _collect(self, pair: tuple[int, DirectRun]) -> HostOutcome[Any]:
        index, direct = pair
        spec = self.hosts[index]
        try:
            return HostOutcome(spec, value=direct.finish())
        except Exception as exc:  # kept per host, never swallowed
            return HostOutcome(spec, error=exc)

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

        def as_user(c: FabricPlusConnection) -> Any:
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

        def put(c: FabricPlusConnection) -> Any:
            where = None if remote is None else remote.replace("{host}", c.spec.id)
            return c.put(io.BytesIO(data) if data is not None else local, where, **kwargs)

        return self.map(put, f"put {remote or local}")

    def get(self, remote: str, local: str | None = None, **kwargs: Any) -> PoolResult[Any]:
        """Fetch ``remote`` from each host; ``local`` may contain ``{host}``."""
        target = local or "{host}-" + remote.rsplit("/", 1)[-1]

        def get(c: FabricPlusConnection) -> Any:
            return c.get(remote, target.replace("{host}", c.spec.id), **kwargs)

        return self.map(get, f"get {remote}")

    def connections(self) -> list[FabricPlusConnection]:
        return list(self._used.values())

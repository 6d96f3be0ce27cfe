"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed one-way time per direction.

One listener per target; each accepted connection gets its own upstream connection (so
sshd's "Connection from" lines still count client connections one to one). Bytes are
forwarded in order: each chunk is stamped with ``arrival + delay`` and written when that time
comes, so a 40 ms round trip is ``--delay-ms 20`` (20 ms each way). Both sockets use
TCP_NODELAY, so the proxy adds no Nagle stall of its own.

What it does not model: the kernel of the client and of sshd sees a ~0 ms loopback RTT, so
TCP effects that depend on the path RTT (Nagle waiting for an ACK, delayed ACK, slow start)
are not reproduced. A client without TCP_NODELAY is therefore, if anything, flattered here
compared with a real 40 ms network.

As a module::

    async with DelayProxy([("127.0.0.1", 2222)], delay=0.020) as proxy:
        port = proxy.ports[("127.0.0.1", 2222)]   # connect here instead

    with ProxyProcess([("127.0.0.1", 2222)], delay_ms=20) as proxy:  # own process, no GIL
        port = proxy.ports[("127.0.0.1", 2222)]   # sharing with the code being measured

As a script (prints one ``READY {json}`` line with ``target -> listen port``, runs until
``--lifetime`` seconds pass, SIGTERM/SIGINT, or, with ``--stdin-eof``, its stdin closes)::

    python bench/delay_proxy.py --delay-ms 20 --target 127.0.0.1:2222 --target 127.0.0.1:2223
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

Target = tuple[str, int]
_CHUNK = 65536
_LOOPBACK = "127.0.0.1"


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _check_loopback(host: str) -> None:
    if not host.startswith("127."):
        raise ValueError(f"{host}: this proxy only talks to 127.0.0.0/8")


class DelayProxy:
    """Listeners on ``listen_host`` (one per target) adding ``delay`` seconds each way."""

    def __init__(
        self,
        targets: Sequence[Target],
        delay: float,
        listen_host: str = _LOOPBACK,
        lifetime: float | None = 600.0,
    ) -> None:
        for host, _port in targets:
            _check_loopback(host)
        _check_loopback(listen_host)
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.targets = list(dict.fromkeys(targets))
        self.delay = delay
        self.listen_host = listen_host
        self.lifetime = lifetime
        self.ports: dict[Target, int] = {}
        self.connections: Counter[Target] = Counter()  # accepted per target
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._deadline: asyncio.TimerHandle | None = None
        self.closed = asyncio.Event()

    async def start(self) -> DelayProxy:
        for target in self.targets:
            server = await asyncio.start_server(
                functools.partial(self._accept, target=target),
                self.listen_host,
                0,
                backlog=1024,
            )
            self._servers.append(server)
            self.ports[target] = server.sockets[0].getsockname()[1]
        if self.lifetime is not None:
            self._deadline = asyncio.get_running_loop().call_later(
                self.lifetime, lambda: asyncio.ensure_future(self.close())
            )
        return self

    async def __aenter__(self) -> DelayProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()
        self.closed.set()

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, target: Target
    ) -> None:
        self.connections[target] += 1
        _nodelay(writer)
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(*target), timeout=10
            )
        except (OSError, asyncio.TimeoutError):
            writer.close()  # the client sees the connection closed, as with a dead target
            self._writers.discard(writer)
            return
        _nodelay(up_writer)
        self._writers.add(up_writer)
        pumps = [
            self._spawn(self._pump(reader, up_writer)),
            self._spawn(self._pump(up_reader, writer)),
        ]
        await asyncio.wait(pumps)
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forward ``reader`` to ``writer``, each chunk ``delay`` after it arrived, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = self._spawn(deliver())
        try:
            while True:
                try:
                    data = await reader.read(_CHUNK)
                except OSError:
                    # a reset (a client that exits with unread data): what came before it
                    # still goes through, then EOF -- so sshd ends the session, as it does
                    # on a direct connection, instead of waiting for the proxy to stop
                    data = b""
                queue.put_nowait((loop.time() + self.delay, data or None))
                if not data:
                    break
            await sender
        except OSError:  # the other side is gone: nothing more can be delivered
            sender.cancel()
        except asyncio.CancelledError:
            sender.cancel()
            raise


# -- running it in a background thread (same process) ---------------------------------------
class ProxyThread:
    """A :class:`DelayProxy` on its own event loop thread; ``ports`` once entered."""

    def __init__(self, targets: Sequence[Target], delay_ms: float, lifetime: float = 600) -> None:
        self._proxy_args = (list(targets), delay_ms / 1000.0, _LOOPBACK, lifetime)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="proxy")
        self.proxy: DelayProxy | None = None

    @property
    def ports(self) -> dict[Target, int]:
        assert self.proxy is not None
        return self.proxy.ports

    def __enter__(self) -> ProxyThread:
        self.thread.start()

        async def make() -> DelayProxy:
            return await DelayProxy(*self._proxy_args).start()

        self.proxy = asyncio.run_coroutine_threadsafe(make(), self.loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proxy is not None:
            asyncio.run_coroutine_threadsafe(self.proxy.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# -- running it as a child process (what the benchmarks use) --------------------------------
class ProxyProcess:
    """This file run as a script in a child process; stops when the ``with`` block ends.

    The child also exits when our end of its stdin closes (we died) or after ``lifetime``.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        delay_ms: float,
        lifetime: float = 600,
        python: str = sys.executable,
    ) -> None:
        self.targets = list(targets)
        self.delay_ms = delay_ms
        self.lifetime = lifetime
        self.python = python
        self.proc: subprocess.Popen[str] | None = None
        self.ports: dict[Target, int] = {}

    def __enter__(self) -> ProxyProcess:
        cmd = [
            self.python,
            str(Path(__file__).resolve()),
            "--delay-ms",
            str(self.delay_ms),
            "--lifetime",
            str(self.lifetime),
            "--stdin-eof",
        ]
        for host, port in self.targets:
            cmd += ["--target", f"{host}:{port}"]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith("READY "):
                break
        if not line.startswith("READY "):
            self.__exit__(None, None, None)
            raise RuntimeError(f"delay proxy did not start (last output {line!r})")
        mapping = json.loads(line[len("READY ") :])
        self.ports = {(h, int(p)): int(lp) for h, p, lp in mapping}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


def parse_target(text: str) -> Target:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    try:
        _check_loopback(host)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return host, int(port)


async def _serve(args: argparse.Namespace) -> int:
    proxy = await DelayProxy(args.target, args.delay_ms / 1000.0, lifetime=args.lifetime).start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.stdin_eof:

        def watch() -> None:
            with contextlib.suppress(Exception):
                sys.stdin.buffer.read()
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=watch, daemon=True).start()
    mapping = [[h, p, proxy.ports[(h, p)]] for h, p in proxy.targets]
    print("READY " + json.dumps(mapping), flush=True)
    waiter = asyncio.ensure_future(stop.wait())
    closed = asyncio.ensure_future(proxy.closed.wait())  # lifetime reached
    await asyncio.wait([waiter, closed], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    closed.cancel()
    await proxy.close()
    if args.verbose:
        for (h, p), n in sorted(proxy.connections.items()):
            print(f"{h}:{p} {n} connections", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target", type=parse_target, action="append", required=True)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay (RTT / 2)")
    parser.add_argument("--lifetime", type=float, default=600.0, help="exit after SECONDS")
    parser.add_argument("--stdin-eof", action="store_true", help="exit when stdin closes")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())

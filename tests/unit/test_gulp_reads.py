"""GulpReads: paramiko's exact-size reads served from one read of whatever has arrived."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from pytest_fabricplus.ssh.channel import GULP, GulpReads


class CountingSocket:
    """A socketpair end that counts its recv calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.recvs = 0
        self.send = sock.send
        self.close = sock.close

    def recv(self, size: int) -> bytes:
        self.recvs += 1
        return self.sock.recv(size)

    def settimeout(self, value: float | None) -> None:
        self.sock.settimeout(value)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, CountingSocket]]:
    left, right = socket.socketpair()
    try:
        yield left, CountingSocket(right)
    finally:
        left.close()
        right.close()


def read_exactly(reader: GulpReads, size: int) -> bytes:
    out = b""
    while len(out) < size:
        got = reader.recv(size - len(out))
        assert got, "end of stream"
        out += got
    return out


def test_packets_that_arrived_together_take_one_system_call(
    pair: tuple[socket.socket, CountingSocket],
) -> None:
    peer, counted = pair
    reader = GulpReads(counted)  # type: ignore[arg-type]
    # three "packets" (16-byte first block, then the rest) in one write, as sshd sends an
    # exit status, an EOF and a close
    packets = [bytes([i]) * n for i, n in ((1, 48), (2, 32), (3, 64))]
    peer.sendall(b"".join(packets))
    for packet in packets:
        assert reader.recv(16) == packet[:16]
        assert read_exactly(reader, len(packet) - 16) == packet[16:]
    assert counted.recvs == 1


def test_every_byte_in_order_across_gulps(pair: tuple[socket.socket, CountingSocket]) -> None:
    peer, counted = pair
    reader = GulpReads(counted)  # type: ignore[arg-type]
    data = bytes(range(256)) * ((3 * GULP) // 256 + 7)
    got = bytearray()
    sizes = [16, 1, 35000, 4096, 3, GULP + 5, 7]
    peer.sendall(data)
    peer.shutdown(socket.SHUT_WR)
    i = 0
    while True:
        chunk = reader.recv(sizes[i % len(sizes)])
        if not chunk:
            break
        assert len(chunk) <= sizes[i % len(sizes)]
        got += chunk
        i += 1
    assert bytes(got) == data


def test_timeout_and_end_of_stream_come_through_after_what_was_read_ahead(
    pair: tuple[socket.socket, CountingSocket],
) -> None:
    peer, counted = pair
    counted.settimeout(0.05)
    reader = GulpReads(counted)  # type: ignore[arg-type]
    peer.sendall(b"abcdef")
    assert reader.recv(2) == b"ab"
    assert reader.recv(10) == b"cdef"  # the rest of the gulp, no system call
    assert counted.recvs == 1
    with pytest.raises(TimeoutError):  # socket.timeout: paramiko checks for close, keepalive
        reader.recv(4)
    peer.close()
    assert reader.recv(4) == b""  # paramiko: EOFError


def test_send_close_and_everything_else_are_the_sockets(
    pair: tuple[socket.socket, CountingSocket],
) -> None:
    peer, counted = pair
    reader = GulpReads(counted.sock)
    assert reader.send(b"hi") == 2
    assert peer.recv(2) == b"hi"
    assert reader.fileno() == counted.sock.fileno()
    assert reader.gettimeout() is None
    reader.close()
    assert counted.sock.fileno() == -1

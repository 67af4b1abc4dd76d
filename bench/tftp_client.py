"""A lean TFTP download client for benchmarks: many simulated phones on one event loop.

A benchmark client has to be cheaper than the servers it measures, or it measures
itself.  So this one does the minimum per datagram: it reads into one shared buffer,
looks at the opcode and block number, keeps the payload and sends an ACK.  There is no
coroutine and no timer per transfer: one sweeper checks every transfer for timeouts a
few times a second.

Each simulated phone fetches its files one after another, as a booting phone does, each
from a fresh UDP socket (a fresh transfer ID), as tftp-hpa, curl and most phone stacks
do.  Reusing one socket for a phone's files would be cheaper but ambiguous: a late
answer to a retransmitted request for the previous file, from a new server port, would
look like the start of the next file.  For the same reason ports are handed out in turn
rather than by the kernel (see :class:`_PortCycle`).

It speaks RFC 1350 with the blksize (RFC 2348) and windowsize (RFC 7440) options, octet
mode only.  ``ack_delay`` holds every ACK back that many seconds, which puts a round
trip time on a loopback path (the kernel here has no netem).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

_OP_DATA = 3
_OP_ERROR = 5
_OP_OACK = 6
_UNKNOWN_TID = b"\x00\x05\x00\x05unknown transfer ID\x00"
_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_MAX_DATAGRAM = 65536
_now = time.monotonic


class _PortCycle:
    """Client ports handed out in turn from a range below the kernel's ephemeral ones.

    Simulated phones may share one address (the windowsize run, or jobs without an
    address of their own), so a port the kernel hands out again soon after would let a
    late datagram meant for one phone's finished transfer land in another phone's new
    one.  Cycling through 22,000 ports keeps any port out of use for several runs of
    thousands of transfers.
    """

    FIRST, LAST = 10_000, 32_000

    def __init__(self) -> None:
        self.first, self.last = self.FIRST, self.LAST
        self.next = self.FIRST

    def use(self, first: int, last: int) -> None:
        """Hand out ports from ``first`` to ``last`` - 1 only: several client processes
        each take a share of the range, so none hands out a port another one uses."""
        if not self.FIRST <= first < last <= self.LAST:
            raise ValueError(f"ports {first}..{last} outside {self.FIRST}..{self.LAST}")
        self.first, self.last = first, last
        self.next = first

    def bind(self, sock: socket.socket, host: str) -> None:
        for _ in range(100):
            port = self.next
            self.next = port + 1 if port + 1 < self.last else self.first
            try:
                sock.bind((host, port))
                return
            except OSError:
                continue  # in use by something else: take the next one
        sock.bind((host, 0))


_PORTS = _PortCycle()


def use_ports(share: int, shares: int) -> None:
    """Take share ``share`` (0-based) of ``shares`` equal parts of the client port range,
    for one of several client processes running at once (see :class:`_PortCycle`)."""
    span = (_PortCycle.LAST - _PortCycle.FIRST) // shares
    first = _PortCycle.FIRST + share * span
    _PORTS.use(first, first + span)


@dataclass
class Totals:
    """What a run of many transfers achieved."""

    transfers: int = 0
    failures: int = 0
    payload_bytes: int = 0
    retransmissions: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.failures += 1
        if len(self.problems) < 10:
            self.problems.append(problem)


@dataclass
class PhoneJob:
    """The files one simulated phone fetches, in order, and the address it has (any of
    127.0.0.0/8 is this host's own; ``None`` means the run's ``bind_host``)."""

    names: Sequence[str]
    address: str | None = None


def request_packet(name: str, options: dict[str, int]) -> bytes:
    """An octet-mode RRQ for ``name`` with the given options."""
    parts = [b"\x00\x01", name.encode("ascii"), b"\0octet\0"]
    for option, value in options.items():
        parts += [option.encode("ascii"), b"\0", str(value).encode("ascii"), b"\0"]
    return b"".join(parts)


def ack_packet(block: int) -> bytes:
    return b"\x00\x04" + (block & 0xFFFF).to_bytes(2, "big")


class _Run:
    """What every phone of one run shares: server, options, expectations, buffer."""

    def __init__(
        self,
        server: tuple[str, int],
        bind_host: str,
        expected: dict[str, bytes] | None,
        options: dict[str, int],
        ack_delay: float,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.server = server
        self.bind_host = bind_host
        self.expected = expected
        self.options = options
        self.ack_delay = ack_delay
        self.totals = Totals()
        self.buffer = bytearray(_MAX_DATAGRAM)
        self.view = memoryview(self.buffer)


class Phone:
    """One simulated phone: its files fetched in order, each over a fresh socket."""

    def __init__(self, run: _Run, job: PhoneJob, on_done) -> None:
        self.run = run
        self.names = list(job.names)
        self.address = job.address or run.bind_host
        self.on_done = on_done
        self.index = -1
        self.finished = False
        self.sock: socket.socket | None = None
        self.last_activity = _now()
        self.tries = 0
        self.last_sent = b""
        self.peer: tuple | None = None
        self.next_block = 1
        self.in_window = 0
        self.blksize = 512
        self.windowsize = 1
        self.chunks: list[bytes] = []

    def begin(self) -> None:
        self._next_file()

    # -- sockets

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | _SOCK_NONBLOCK)
        if not _SOCK_NONBLOCK:
            sock.setblocking(False)
        _PORTS.bind(sock, self.address)
        self.sock = sock
        self.run.loop.add_reader(sock.fileno(), self._on_readable, sock)

    def _close(self, sock: socket.socket) -> None:
        if sock.fileno() >= 0:
            self.run.loop.remove_reader(sock.fileno())
            sock.close()

    def _retire(self) -> None:
        """Close the current socket, after any delayed ACK still has to leave it."""
        if self.sock is None:
            return
        sock, self.sock = self.sock, None
        if self.run.ack_delay:
            self.run.loop.call_later(self.run.ack_delay * 2, self._close, sock)
        else:
            self._close(sock)

    # -- datagrams

    def _on_readable(self, sock: socket.socket) -> None:
        run = self.run
        try:
            size, addr = sock.recvfrom_into(run.buffer)
        except OSError:
            return
        if sock is not self.sock or size < 4:
            return  # a straggler for a transfer already over
        if self.peer is None:
            if addr[0] != run.server[0]:
                return
            self.peer = addr
        elif addr != self.peer:
            sock.sendto(_UNKNOWN_TID, addr)
            return
        self.last_activity = _now()
        self.tries = 0
        data = run.view[:size]
        opcode = data[1]
        if opcode == _OP_DATA:
            self._on_data((data[2] << 8) | data[3], data[4:].tobytes())
        elif opcode == _OP_OACK:
            self._on_oack(data[2:].tobytes())
        elif opcode == _OP_ERROR:
            text = data[4:].tobytes().split(b"\0", 1)[0].decode("ascii", "replace")
            self._end(f"error {(data[2] << 8) | data[3]}: {text}")

    def _on_data(self, block: int, payload: bytes) -> None:
        if block != self.next_block & 0xFFFF:
            self._send(ack_packet(self.next_block - 1))  # where to resume (RFC 7440)
            self.in_window = 0
            return
        self.chunks.append(payload)
        self.next_block += 1
        self.in_window += 1
        last = len(payload) < self.blksize
        if last or self.in_window >= self.windowsize:
            self.in_window = 0
            self._send(ack_packet(block))
        if last:
            self._end(None)

    def _on_oack(self, body: bytes) -> None:
        fields = body.split(b"\0")
        for name, value in zip(fields[0::2], fields[1::2], strict=False):
            if name.lower() == b"blksize":
                self.blksize = int(value)
            elif name.lower() == b"windowsize":
                self.windowsize = int(value)
        self._send(ack_packet(0))

    def _send(self, datagram: bytes) -> None:
        self.last_sent = datagram
        sock, target = self.sock, self.peer or self.run.server
        if self.run.ack_delay:
            self.run.loop.call_later(self.run.ack_delay, self._send_now, sock, datagram, target)
        else:
            self._send_now(sock, datagram, target)

    @staticmethod
    def _send_now(sock: socket.socket | None, datagram: bytes, target: tuple) -> None:
        if sock is not None and sock.fileno() >= 0:
            with contextlib.suppress(OSError):  # a lost datagram; the sweeper retransmits
                sock.sendto(datagram, target)

    # -- files

    def _end(self, problem: str | None) -> None:
        name = self.names[self.index]
        content = b"".join(self.chunks)
        expected = self.run.expected
        if problem is None and expected is not None and expected.get(name) != content:
            problem = f"content differs ({len(content)} bytes)"
        if problem is None:
            self.run.totals.transfers += 1
            self.run.totals.payload_bytes += len(content)
        else:
            self.run.totals.fail(f"{name}: {problem}")
        self._next_file()

    def _next_file(self) -> None:
        self._retire()
        self.index += 1
        if self.index >= len(self.names):
            self.finished = True
            self.on_done(self)
            return
        self.peer = None
        self.next_block = 1
        self.in_window = 0
        self.blksize = 512
        self.windowsize = 1
        self.chunks = []
        self.tries = 0
        self.last_activity = _now()
        self._open()
        self.last_sent = request_packet(self.names[self.index], self.run.options)
        self._send_now(self.sock, self.last_sent, self.run.server)

    def check(self, now: float, timeout: float, retries: int) -> None:
        """Called by the sweeper: retransmit after ``timeout``, give up after ``retries``."""
        if self.finished or now - self.last_activity < timeout:
            return
        if self.tries >= retries:
            self._end("timed out")
            return
        self.tries += 1
        self.run.totals.retransmissions += 1
        self.last_activity = now
        self._send_now(self.sock, self.last_sent, self.peer or self.run.server)


async def run_phones(
    server: tuple[str, int],
    jobs: Sequence[PhoneJob],
    *,
    concurrency: int = 200,
    expected: dict[str, bytes] | None = None,
    options: dict[str, int] | None = None,
    ack_delay: float = 0.0,
    timeout: float = 1.0,
    retries: int = 5,
    bind_host: str = "127.0.0.1",
) -> tuple[Totals, float]:
    """Run every job with at most ``concurrency`` phones at once; (totals, seconds)."""
    run = _Run(server, bind_host, expected, options or {}, ack_delay)
    pending = list(reversed(jobs))
    running: set[Phone] = set()
    all_done = run.loop.create_future()

    def start_next() -> None:
        if pending:
            phone = Phone(run, pending.pop(), finished)
            running.add(phone)
            phone.begin()
        elif not running and not all_done.done():
            all_done.set_result(None)

    def finished(phone: Phone) -> None:
        running.discard(phone)
        start_next()

    def sweep() -> None:
        now = _now()
        for phone in list(running):
            phone.check(now, timeout, retries)
        if not all_done.done():
            run.loop.call_later(min(0.1, timeout / 4), sweep)

    started = _now()
    for _ in range(min(concurrency, len(jobs))):
        start_next()
    if not jobs:
        all_done.set_result(None)
    sweep()
    await all_done
    elapsed = _now() - started
    if ack_delay:
        await asyncio.sleep(ack_delay * 3)  # let delayed ACKs and socket closes run
    return run.totals, elapsed

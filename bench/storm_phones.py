"""The simulated phones of ``bench/storm.py``: many booting phones on one event loop.

A phone here is a list of steps (fetch a file, or one of several names in turn; upload a
boot log) over one transport, run by one coroutine from its power-on time to the end of
its boot. The transports are written against raw asyncio: an ``asyncio.Protocol`` for
HTTP (one kept-alive connection per phone, as HTTP/1.1 phones keep it), plain
non-blocking UDP sockets for TFTP (a fresh socket, so a fresh transfer ID, per file, as
the 79xx and tftp-hpa do), asyncio streams for FTP (one control connection per phone,
a passive data connection per file). No per-phone emulator objects, no parsing of what
arrives beyond its framing: every file is compared byte for byte with the exported tree.

Retries as phones do them: a request that gets no answer in time, a refused or reset
connection, an HTTP 503 or a TFTP transfer that never starts is tried again after a
back-off that doubles from :data:`BACKOFF` up to :data:`BACKOFF_CAP` seconds, with
+-50 % jitter so a fleet that failed together does not retry together (a 503's
Retry-After is the least it waits), at most :data:`MAX_TRIES` times a step. A file
with the wrong bytes, or a step that runs out of tries, fails the phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from dataclasses import dataclass, field

BACKOFF = 1.0
BACKOFF_CAP = 16.0
MAX_TRIES = 12
HTTP_TIMEOUT = 10.0
"""Seconds a phone waits for an HTTP answer (or a connection) before it tries again."""
TFTP_TIMEOUT = 1.0
"""Seconds before a TFTP packet is sent again (the 79xx's and tftp-hpa's first timeout)."""
TFTP_SENDS = 3
"""How often a TFTP packet is sent before the attempt is given up (and backed off)."""
FTP_TIMEOUT = 10.0
FTP_LOGIN = ("PlcmSpIp", "PlcmSpIp")
"""The Polycom factory FTP login, as a phone out of the box uses it."""

_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_now = time.monotonic


@dataclass(frozen=True)
class Get:
    """Fetch the first of ``names`` that the server has (the phone's own fallbacks)."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class Put:
    """Upload ``body`` as ``name`` (a Polycom's boot log: HTTP PUT, FTP APPE)."""

    name: str
    body: bytes


Step = Get | Put


@dataclass(frozen=True)
class PhonePlan:
    """One phone: where it boots from, how, and what it asks for."""

    index: int
    vendor: str
    transport: str
    """``http``, ``tftp`` or ``ftp``."""
    address: str
    """Its own loopback address (127.1.0.1, ...), as phones on a LAN each have one."""
    user_agent: str
    steps: tuple[Step, ...]


@dataclass
class Outcome:
    """What the phones of one client process saw."""

    latencies: list[float] = field(default_factory=list)
    """Seconds from power-on to the end of the boot, per phone that completed."""
    failed: int = 0
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    busy: int = 0
    """HTTP 503 answers (and FTP 421s) seen."""
    timeouts: int = 0
    """Attempts that got no answer in time (a TFTP request dropped shows up here)."""
    finished_at: float = 0.0
    """Wall-clock time the last phone finished."""

    def fail(self, problem: str) -> None:
        self.failed += 1
        if len(self.problems) < 10:
            self.problems.append(problem)


class Mismatch(Exception):
    """The server answered, and the answer is wrong: no retry helps."""


class Retry(Exception):
    """No usable answer this time (timeout, refused, reset, busy): back off and retry."""

    def __init__(self, reason: str, wait: float = 0.0) -> None:
        super().__init__(reason)
        self.wait = wait


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------


class _HttpConnection(asyncio.Protocol):
    """One kept-alive connection; one request at a time, answers framed by length."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(Retry("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._answer()

    def _answer(self) -> None:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        lines = bytes(buffer[:end]).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, close, retry_after = 0, False, 0.0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"retry-after":
                with contextlib.suppress(ValueError):
                    retry_after = float(value)
        total = end + 4 + length
        if len(buffer) < total:
            return
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        waiter, self.waiter = self.waiter, None
        if waiter.done():  # timed out meanwhile: the connection is being dropped
            return
        if close:
            self.closed = True
            self.transport.close()  # type: ignore[union-attr]
        waiter.set_result((status, body, retry_after))  # type: ignore[union-attr]

    async def exchange(self, request: bytes) -> tuple[int, bytes, float]:
        self.waiter = self.loop.create_future()
        self.transport.write(request)  # type: ignore[union-attr]
        timer = self.loop.call_later(HTTP_TIMEOUT, self._expire, self.waiter)
        try:
            return await self.waiter
        finally:
            timer.cancel()

    def _expire(self, waiter: asyncio.Future) -> None:
        """No answer in time: the phone gives up on this connection and will open another."""
        if not waiter.done():
            waiter.set_exception(Retry("timed out", 0.0))
        self.waiter = None
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class HttpPhone:
    """A phone's HTTP side: its connection, reopened whenever the server closed it."""

    def __init__(self, plan: PhonePlan, server: tuple[str, int], outcome: Outcome) -> None:
        self.plan = plan
        self.server = server
        self.outcome = outcome
        self.host = f"Host: {server[0]}:{server[1]}\r\nUser-Agent: {plan.user_agent}\r\n"
        self.connection: _HttpConnection | None = None

    async def _connected(self) -> _HttpConnection:
        if self.connection is not None and not self.connection.closed:
            return self.connection
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: _HttpConnection(loop), *self.server,
                                       local_addr=(self.plan.address, 0)),
                HTTP_TIMEOUT,
            )  # fmt: skip
        except (OSError, TimeoutError) as problem:
            raise Retry(f"connect: {problem}") from None
        self.connection = connection
        return connection

    async def get(self, name: str) -> bytes | None:
        """The file's bytes, or None for a 404."""
        connection = await self._connected()
        head = f"GET /{name} HTTP/1.1\r\n{self.host}\r\n".encode()
        try:
            status, body, retry_after = await connection.exchange(head)
        except Retry as problem:
            if str(problem) == "timed out":
                self.outcome.timeouts += 1
            raise
        return self._result(status, body, retry_after, name)

    async def put(self, name: str, body: bytes) -> None:
        connection = await self._connected()
        head = f"PUT /{name} HTTP/1.1\r\n{self.host}Content-Length: {len(body)}\r\n\r\n"
        status, answer, retry_after = await connection.exchange(head.encode() + body)
        if status >= 300:
            self._result(status, answer, retry_after, name)
            raise Mismatch(f"PUT {name}: {status}")

    def _result(self, status: int, body: bytes, retry_after: float, name: str) -> bytes | None:
        if status == 200 or 200 < status < 300:
            return body
        if status == 404:
            return None
        if status == 503:
            self.outcome.busy += 1
            raise Retry("503", retry_after)
        raise Mismatch(f"GET {name}: {status}")

    def close(self) -> None:
        if self.connection is not None and self.connection.transport is not None:
            self.connection.transport.close()


# --------------------------------------------------------------------------------------
# TFTP
# --------------------------------------------------------------------------------------


class _TftpTransfer:
    """One RRQ in octet mode with no options (as the 79xx asks), on a socket of its own."""

    OPCODE = b"\x00\x01"

    def __init__(self, loop, server: tuple[str, int], address: str, name: str) -> None:
        self.loop = loop
        self.server = server
        self.peer: tuple | None = None
        self.future: asyncio.Future = loop.create_future()
        self.chunks: list[bytes] = []
        self.block = 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | _SOCK_NONBLOCK)
        if not _SOCK_NONBLOCK:
            sock.setblocking(False)
        _bind(sock, address)
        self.sock = sock
        self.name = name
        self.last = self.OPCODE + name.encode("ascii") + b"\x00octet\x00"
        self.sends = 0
        loop.add_reader(sock.fileno(), self._readable)
        self._send()

    def _send(self) -> None:
        self.sends += 1
        with contextlib.suppress(OSError):
            self.sock.sendto(self.last, self.peer or self.server)
        self.timer = self.loop.call_later(TFTP_TIMEOUT * self.sends, self._timeout)

    def _timeout(self) -> None:
        if self.sends >= TFTP_SENDS:
            self._end(exception=Retry("timed out"))
        else:
            self._send()

    def _readable(self) -> None:
        data = self._datagram()
        if data is None:
            return
        opcode = data[1] if len(data) >= 4 else 0
        if opcode == 3:
            block = (data[2] << 8) | data[3]
            if block == self.block & 0xFFFF:
                payload = data[4:]
                self.chunks.append(payload)
                self.block += 1
                self.last = b"\x00\x04" + data[2:4]
                self.timer.cancel()
                self.sends = 0
                if len(payload) < 512:
                    with contextlib.suppress(OSError):
                        self.sock.sendto(self.last, self.peer)
                    self._end(result=b"".join(self.chunks))
                else:
                    self._send()
        elif opcode == 5:
            code = (data[2] << 8) | data[3]
            if code == 1:
                self._end(result=None)
            else:
                self._end(exception=Retry(f"TFTP error {code}"))

    def _datagram(self) -> bytes | None:
        """The next datagram from the server's transfer port (the first one sets it);
        ``None`` for nothing to read or a stranger's datagram (RFC 1350 section 4)."""
        try:
            data, addr = self.sock.recvfrom(65536)
        except OSError:
            return None
        if self.peer is None:
            self.peer = addr
        elif addr != self.peer:
            return None
        return data

    def _end(self, *, result=None, exception: Exception | None = None) -> None:
        self.timer.cancel()
        self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
        if not self.future.done():
            if exception is not None:
                self.future.set_exception(exception)
            else:
                self.future.set_result(result)


class _TftpUpload(_TftpTransfer):
    """One WRQ in octet mode with no options (RFC 1350), on a socket of its own, as a
    phone uploads a log over TFTP: the server's ACK 0 opens the transfer, then DATA
    blocks of 512 bytes, each sent again until acknowledged, the last one shorter
    (empty when the body is a multiple of 512). Done when the last block is
    acknowledged, which plugtone sends only once the upload is stored."""

    OPCODE = b"\x00\x02"

    def __init__(self, loop, server: tuple[str, int], address: str, name: str,
                 body: bytes) -> None:  # fmt: skip
        self.body = body
        self.final = False
        super().__init__(loop, server, address, name)
        self.block = 0  # the ACK awaited: 0 answers the WRQ

    def _readable(self) -> None:
        data = self._datagram()
        if data is None:
            return
        opcode = data[1] if len(data) >= 4 else 0
        if opcode == 4:
            block = (data[2] << 8) | data[3]
            if block != self.block & 0xFFFF:
                return  # a duplicate ACK: the timer sends again if need be
            self.timer.cancel()
            if self.final:
                self._end(result=None)
                return
            start = self.block * 512
            payload = self.body[start : start + 512]
            self.block += 1
            self.final = len(payload) < 512
            self.last = b"\x00\x03" + (self.block & 0xFFFF).to_bytes(2, "big") + payload
            self.sends = 0
            self._send()
        elif opcode == 5:
            code = (data[2] << 8) | data[3]
            message = data[4:].split(b"\x00", 1)[0].decode("ascii", "replace")
            if code in (2, 3):  # access violation, disk full: refused, no retry helps
                self._end(exception=Mismatch(f"WRQ {self.name}: TFTP error {code}: {message}"))
            else:
                self._end(exception=Retry(f"TFTP error {code}"))


_next_port: dict[str, int] = {}


def _bind(sock: socket.socket, address: str) -> None:
    """Bind to the next port of the phone's own turn (20000-59999, per address).

    A port the kernel hands out again soon after would let a late DATA block for a
    transfer this phone gave up on (the server still retransmitting to it) land in the
    phone's next transfer and pass for its first block; a phone's stack that cycles its
    ports, as this does, never sees that.
    """
    for _ in range(100):
        port = _next_port.get(address, 20000)
        _next_port[address] = port + 1 if port < 59999 else 20000
        try:
            sock.bind((address, port))
            return
        except OSError:
            continue
    sock.bind((address, 0))


class TftpPhone:
    def __init__(self, plan: PhonePlan, server: tuple[str, int], outcome: Outcome) -> None:
        self.plan = plan
        self.server = server
        self.outcome = outcome

    async def get(self, name: str) -> bytes | None:
        transfer = _TftpTransfer(asyncio.get_running_loop(), self.server, self.plan.address, name)
        try:
            return await transfer.future
        except Retry:
            self.outcome.timeouts += 1
            raise

    async def put(self, name: str, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        transfer = _TftpUpload(loop, self.server, self.plan.address, name, body)
        try:
            await transfer.future
        except Retry:
            self.outcome.timeouts += 1
            raise

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------------------
# FTP
# --------------------------------------------------------------------------------------


class FtpPhone:
    """A phone's FTP session: one control connection, logged in with the factory account,
    reopened after any failure; each file over a passive data connection."""

    def __init__(self, plan: PhonePlan, server: tuple[str, int], outcome: Outcome) -> None:
        self.plan = plan
        self.server = server
        self.outcome = outcome
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _reply(self) -> tuple[int, str]:
        assert self.reader is not None
        while True:
            line = await self.reader.readline()
            if not line:
                raise Retry("control connection closed")
            text = line.decode("latin-1").rstrip("\r\n")
            if len(text) >= 4 and text[:3].isdigit() and text[3] == " ":
                code = int(text[:3])
                if code == 421:
                    self.outcome.busy += 1
                    raise Retry("421")
                return code, text

    async def _command(self, command: str, *expected: int) -> str:
        assert self.writer is not None
        self.writer.write(command.encode("latin-1") + b"\r\n")
        code, text = await self._reply()
        if code not in expected:
            raise Retry(f"{command.split()[0]}: {text}")
        return text

    async def _session(self) -> None:
        if self.writer is not None:
            return
        try:
            self.reader, self.writer = await asyncio.open_connection(
                *self.server, local_addr=(self.plan.address, 0)
            )
        except OSError as problem:
            raise Retry(f"connect: {problem}") from None
        try:
            code, text = await self._reply()
            if code != 220:
                raise Retry(f"greeting: {text}")
            await self._command(f"USER {FTP_LOGIN[0]}", 331, 230)
            await self._command(f"PASS {FTP_LOGIN[1]}", 230, 202)
            await self._command("TYPE I", 200)
        except BaseException:
            self.close()
            raise

    async def _passive(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        text = await self._command("PASV", 227)
        numbers = text[text.index("(") + 1 : text.index(")")].split(",")
        port = int(numbers[4]) * 256 + int(numbers[5])
        return await asyncio.open_connection(self.server[0], port,
                                             local_addr=(self.plan.address, 0))  # fmt: skip

    async def _guarded(self, work):
        try:
            return await asyncio.wait_for(work, FTP_TIMEOUT)
        except TimeoutError:
            self.outcome.timeouts += 1
            self.close()
            raise Retry("timed out") from None
        except (OSError, asyncio.IncompleteReadError) as problem:
            self.close()
            raise Retry(f"{type(problem).__name__}: {problem}") from None
        except Retry:
            self.close()
            raise

    async def get(self, name: str) -> bytes | None:
        return await self._guarded(self._get(name))

    async def _get(self, name: str) -> bytes | None:
        await self._session()
        reader, writer = await self._passive()
        try:
            self.writer.write(f"RETR {name}\r\n".encode())  # type: ignore[union-attr]
            code, text = await self._reply()
            if code == 550:
                return None
            if code not in (125, 150):
                raise Retry(f"RETR: {text}")
            content = await reader.read()
        finally:
            writer.close()
        code, text = await self._reply()
        if code != 226:
            raise Retry(f"RETR end: {text}")
        return content

    async def put(self, name: str, body: bytes) -> None:
        await self._guarded(self._put(name, body))

    async def _put(self, name: str, body: bytes) -> None:
        await self._session()
        _, writer = await self._passive()
        self.writer.write(f"APPE {name}\r\n".encode())  # type: ignore[union-attr]
        code, text = await self._reply()
        if code not in (125, 150):
            writer.close()
            raise Mismatch(f"APPE {name}: {text}")
        writer.write(body)
        await writer.drain()
        writer.close()
        code, text = await self._reply()
        if code != 226:
            raise Retry(f"APPE end: {text}")

    def close(self) -> None:
        """Say ``QUIT`` (as ftplib and curl do) and hang up, without waiting for 221."""
        if self.writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write(b"QUIT\r\n")
            self.writer.close()
        self.reader = self.writer = None


TRANSPORTS = {"http": HttpPhone, "tftp": TftpPhone, "ftp": FtpPhone}


# --------------------------------------------------------------------------------------
# Booting
# --------------------------------------------------------------------------------------


async def boot(plan: PhonePlan, server: tuple[str, int], expected: dict[str, bytes],
               outcome: Outcome, rng: random.Random) -> None:  # fmt: skip
    """One phone's boot from power-on to its last step; its latency into ``outcome``."""
    started = _now()
    side = TRANSPORTS[plan.transport](plan, server, outcome)
    try:
        for step in plan.steps:
            tries = 0
            while True:
                tries += 1
                outcome.requests += 1
                try:
                    await _run_step(side, step, expected)
                    break
                except Retry as problem:
                    if tries >= MAX_TRIES:
                        outcome.fail(f"phone {plan.index} ({plan.vendor}): {step}: {problem}")
                        return
                    outcome.retries += 1
                    wait = min(BACKOFF_CAP, BACKOFF * 2 ** (tries - 1))
                    await asyncio.sleep(max(problem.wait, wait * rng.uniform(0.5, 1.5)))
    except Mismatch as problem:
        outcome.fail(f"phone {plan.index} ({plan.vendor}): {problem}")
        return
    finally:
        side.close()
    outcome.latencies.append(_now() - started)


async def _run_step(side, step: Step, expected: dict[str, bytes]) -> None:
    if isinstance(step, Put):
        await side.put(step.name, step.body)
        return
    for name in step.names:
        content = await side.get(name)
        want = expected.get(name)
        if content is None and want is None:
            continue  # not there, as the tree says: the phone's next fallback
        if content != want:
            got = "404" if content is None else f"{len(content)} bytes"
            raise Mismatch(f"{name}: got {got}, expected "
                           f"{'404' if want is None else f'{len(want)} bytes'}")  # fmt: skip
        return


async def run_fleet(plans: list[PhonePlan], servers: dict[str, tuple[str, int]],
                    expected: dict[str, bytes], arrivals: list[float],
                    start_at: float) -> Outcome:  # fmt: skip
    """Power each phone on at ``start_at + arrivals[i]`` (wall clock) and wait for all."""
    outcome = Outcome()
    rng = random.Random(len(plans))
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task] = set()
    offset = start_at - time.time()
    base = _now() + offset
    order = sorted(range(len(plans)), key=arrivals.__getitem__)
    index = 0
    while index < len(order):
        now = _now()
        while index < len(order) and base + arrivals[order[index]] <= now:
            plan = plans[order[index]]
            task = loop.create_task(boot(plan, servers[plan.transport], expected, outcome, rng))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        if index < len(order):
            await asyncio.sleep(max(0.0, min(0.005, base + arrivals[order[index]] - _now())))
    while tasks:
        await asyncio.gather(*list(tasks))
    outcome.finished_at = time.time()
    return outcome

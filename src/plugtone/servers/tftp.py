"""The TFTP server: asyncio sockets around the sans-IO core in :mod:`plugtone.protocols.tftp`.

Shape, and why:

- Requests arrive on one listening socket.  Every accepted transfer gets a UDP socket of
  its own on an ephemeral port (its transfer ID, RFC 1350 section 4), so the kernel
  demultiplexes transfers and a stray packet can only ever reach the transfer it names.
  Nothing runs in a thread or process per transfer; a transfer is a protocol object, a
  socket and at most one timer handle.
- Transfer sockets are kept: a download's socket, once the transfer is over, waits as a
  spare (at most :data:`MAX_SPARES`, and never so many that spares and transfers together
  pass ``max_transfers``, so a server at capacity holds no more descriptors than
  before), and a later transfer takes the one resting longest, if it has rested
  :data:`SPARE_REST` and did not last serve the same client address and port.  Opening,
  binding, registering and closing a socket were about a fifth of the TFTP layer's CPU
  per transfer of a small file; handing one on is a dictionary store.  What RFC 1350
  asks of a transfer ID holds: the ports were picked by the kernel, a transfer never
  shares its socket, the same client never gets the port of its previous transfer
  again in immediate succession, and a datagram reaching a spare is dropped as a closed
  port would drop it; a late one for a past transfer that reaches the next gets error 5
  like any stranger's.  The price is that the server's ports come from a smaller set,
  so a transfer ID is easier to guess for someone who can also spoof the client's
  address and port; TFTP has no defence against that anyway.  Uploads close theirs.
- Files come from the resolver through the :class:`Provisioner`, exactly as for HTTP:
  the bytes a phone gets over TFTP are the bytes it would get over HTTP.  A TFTP request
  carries no User-Agent, so the resolver identifies the phone by the MAC in the file
  name, else by the client address it last saw that phone at.  A stored file (firmware,
  tens of MB) is never read whole: each block is read from disk when it is sent
  (:class:`StoredBlocks`), ``tsize`` is the stored size, and it is served in octet mode
  only (a netascii request for it is refused, see :meth:`TftpServer._stored_file_machine`).
- Sockets are plain non-blocking sockets read with ``recvfrom_into`` into one buffer,
  not asyncio datagram transports, for measured reasons: the default loop's transport
  receives into a fresh 256 KiB buffer per datagram (a send and receive of a 4-byte ACK
  took 28 microseconds that way against 7 with ``recvfrom_into``), and creating
  a transport per transfer needs a coroutine.  With a cached file a whole request, from
  RRQ to first DATA, runs synchronously in one callback.  On Linux the transfer sockets
  sit in one epoll set of our own that the loop watches (:mod:`plugtone.servers.udp`),
  which took a further fifth off the CPU per transfer.
- Retransmission deadlines sit in one timer wheel per server (:class:`_TimerWheel`),
  in slots of :data:`TIMER_TICK`, not in a loop timer per transfer: scheduling and
  cancelling an asyncio timer for each of thousands of short transfers a second cost
  about a tenth of the server's CPU in a boot storm; a set insertion costs next to
  nothing.  Deadlines are lazy: a transfer is filed under its current deadline and
  re-filed only when the deadline comes *earlier*.  Progress pushes the deadline
  later, so the common case (every ACK arriving in time) touches no slot at all; when
  a slot falls due early the transfer simply re-files itself for the deadline the core
  now reports.  Retransmission timeouts are whole seconds (RFC 2349) or fractions of a
  second set by the operator, so firing up to one tick late changes nothing a peer
  can notice.
- A storm must not sink the server: beyond ``max_transfers`` concurrent transfers a new
  request is dropped unanswered (phones retry, and an error would make some of them give
  up for good) and counted in :attr:`TftpServer.dropped`, before it is even decoded, so
  a flood of requests costs one ``recvfrom`` and a comparison each and the transfers
  under way keep their pace.  Drops are logged at most once per
  :data:`DROP_LOG_INTERVAL` (one line with the count since the last), never per request.
  What a flood can make the server hold is bounded: ``max_transfers`` sessions (the
  requests still being resolved included, so pending work is capped too), a listening
  socket's kernel buffer of :data:`LISTEN_BUFFER`, and a transfer whose peer has never
  answered gives its slot up after :data:`SILENT_PEER_RETRIES` retransmissions instead of
  the whole retry budget while the server is full (a flood of spoofed requests would
  otherwise hold every slot for half a minute).  A repeated RRQ for a transfer already
  under way (same address, port and file) is ignored: phones resend their RRQ when the
  first DATA is slow, and answering both would run the transfer twice.
- Transfer sockets bind to the listening address.  Listening on a wildcard address
  (``0.0.0.0``) therefore lets the kernel pick each reply's source address by route;
  on a multi-homed host, listen on the address phones are given (DHCP option 66).
- Hostile input gets a TFTP error or silence.  Only datagrams that claim to be requests
  are parsed on the listening socket; anything else there is dropped, so the port cannot
  be used to bounce packets at a third party.  Errors never carry more than a short text.

Error codes: a file the resolver does not serve (unknown file, unknown MAC) gets error 1,
with the same text whatever the reason, so a scanner learns nothing about which MACs
exist.  A path the resolver refuses outright (``..``, backslashes, control characters)
gets error 2, access violation: the request is refused as such, whatever the file system
or inventory hold.  A WRQ for a name no vendor plug-in declares as an upload also gets
error 2, and nothing is written.

Sweep defence (:mod:`plugtone.provisioning.sweep_guard`): every answer is screened by
:meth:`Provisioner.screen`, on the fast path too (a few attribute reads for a trusted
phone's warm request).  A stranger the guard slows waits in a task, holding its
transfer slot (so a slowed sweep is bounded by ``max_transfers`` like anything else);
a blocked stranger gets no answer at all, as from a server that is not there (no error
a scanner could count), counted in :attr:`TftpServer.blocked` and logged as ``blocked``.
A WRQ that may not upload (a stranger's, or for a phone it may not act as) gets the
same error 2 as a name no plug-in declares.

Every request that decodes lands in the event log through
:meth:`Provisioner.finished` with one of the statuses of :data:`STATUS` (a completed
upload is logged as ``uploaded`` by :meth:`Provisioner.store_upload`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from plugtone.protocols.tftp import (
    DEFAULT_LIMITS,
    MAX_DATAGRAM,
    Action,
    ErrorCode,
    Finished,
    Limits,
    NegotiatedOptions,
    Outcome,
    PacketError,
    ReadRequest,
    ReadTransfer,
    Received,
    Refused,
    Send,
    WriteRequest,
    WriteTransfer,
    decode,
    error_packet,
    is_request,
    negotiate,
    netascii_size,
    reject_request,
)
from plugtone.provisioning.provisioner import BLOCKED, Provisioner
from plugtone.provisioning.resolver import Answer, FileRequest, Status, StoredFile
from plugtone.provisioning.uploads import UploadTooLarge
from plugtone.servers.reuseport_steering import steer_by_source_address
from plugtone.servers.udp import Address, Poller, UdpEndpoint, new_udp_socket
from plugtone.vendors.base import UploadRef

__all__ = ["STATUS", "TRANSPORT", "TftpServer", "start_tftp_server"]

log = logging.getLogger(__name__)

TRANSPORT = "tftp"
"""The ``transport`` of every event this server records."""

STATUS = {
    Outcome.COMPLETE: "ok",
    Outcome.NOT_FOUND: "not_found",
    Outcome.TIMED_OUT: "timed_out",
    Outcome.REFUSED: "refused",
    Outcome.ABORTED: "aborted",
    Outcome.ERROR: "error",
}
"""Event-log status for each way a transfer can end."""

UPLOAD_DALLY = 3.0
"""Seconds a completed upload keeps its socket to re-ACK a repeated final DATA block
(the client's copy of our final ACK may have been lost)."""

LISTEN_BUFFER = 1 << 20
"""Receive buffer asked for on the listening socket, so a burst of requests from a boot
storm waits in the kernel instead of being lost (the kernel may grant less)."""

LISTEN_BATCH = 64
"""Requests read per wake-up of the listening socket: under a storm several are queued,
and reading them in one go saves a trip through the event loop for each."""

DROP_LOG_INTERVAL = 10.0
"""Seconds between two log lines about requests dropped over capacity: a flood drops
thousands a second, and one line with their count is what an operator needs."""

SILENT_PEER_RETRIES = 1
"""Retransmissions a transfer whose peer never answered gets while the server is at
``max_transfers``: a phone that asked and listens answers the first DATA (or OACK) in
milliseconds, so a peer silent after two sends is most likely a spoofed or dead request
holding a slot that a real phone is waiting for."""

FAILURE_LOG_INTERVAL = 60.0
"""Seconds between two full tracebacks of failing requests in the log: a broken store
fails every request of a storm, and one traceback a minute is enough to diagnose it."""

TIMER_TICK = 0.02
"""Seconds per slot of the retransmission timer wheel: how late, at most, a deadline is
acted on.  Small beside any retransmission timeout (1 s unless negotiated)."""

MAX_SPARES = 512
"""Transfer sockets kept open between transfers (see the module docstring)."""

SPARE_REST = 0.02
"""Seconds a spare socket rests before it serves another transfer: what was on its way
to it for the last one has arrived (and been dropped) by then.  With
:data:`MAX_SPARES` it bounds the reuse to 25,600 transfers a second, beyond what one
worker serves."""

_MAX_ERROR_TEXT = 80
_UNKNOWN_TID = error_packet(ErrorCode.UNKNOWN_TRANSFER_ID, "unknown transfer ID")
_now = time.monotonic

Key: TypeAlias = tuple[str, int, str]
"""Identifies a request for duplicate detection: client address, client port, file."""
Machine: TypeAlias = ReadTransfer | WriteTransfer


class _Job(NamedTuple):
    """One accepted request on its way to becoming a transfer (a tuple: made per request)."""

    key: Key
    peer: Address
    request: FileRequest
    packet: ReadRequest | WriteRequest


class TftpServer:
    """A running TFTP server; :func:`start_tftp_server` makes one.

    Counters (plain integers, cheap to read from metrics or tests):
    ``completed`` transfers that ended complete, ``failed`` requests and transfers that
    did not, ``dropped`` requests ignored because ``max_transfers`` were running,
    ``duplicates`` repeated requests ignored, ``malformed`` datagrams that were not a
    usable request, ``blocked`` requests of blocked strangers left unanswered.
    ``active`` is the number of transfers under way, including those
    still being resolved.
    """

    def __init__(self, provisioner: Provisioner, *, max_transfers: int, limits: Limits) -> None:
        if max_transfers < 1:
            raise ValueError("max_transfers must be at least 1")
        self.provisioner = provisioner
        self.max_transfers = max_transfers
        self.limits = limits
        self.port = 0
        self.completed = 0
        self.failed = 0
        self.dropped = 0
        self.duplicates = 0
        self.malformed = 0
        self.blocked = 0
        self.buffer = bytearray(MAX_DATAGRAM + 1)
        """Receive buffer shared by every socket (one callback runs at a time); a datagram
        that fills it is longer than any legal TFTP packet."""
        self.view = memoryview(self.buffer)
        self.loop = asyncio.get_running_loop()
        self._poller = Poller(self.loop)
        self.timers = _TimerWheel(self.loop)
        self._cached = provisioner.resolver.cached
        # A stand-in provisioner without a sweep guard (protocol tests, benchmarks)
        # has every answer sent as it is.
        self._screen = getattr(provisioner, "screen", None) or _unscreened
        self._transfers: dict[Key, _Session | None] = {}
        self._sessions: set[_Session] = set()
        self._spares: deque[tuple[float, Address, UdpEndpoint]] = deque()
        """Transfer sockets between transfers: (when freed, the peer served, socket)."""
        self._tasks: set[asyncio.Task] = set()
        self._listener: UdpEndpoint | None = None
        self._family = socket.AF_INET
        self._bind_host = ""
        self._wildcard = False
        self._closed = False
        self._failure_logged_at = -FAILURE_LOG_INTERVAL
        self._drops_logged_at = -DROP_LOG_INTERVAL
        self._drops_unlogged = 0
        self._drop_report: asyncio.TimerHandle | None = None

    @property
    def active(self) -> int:
        return len(self._transfers)

    @property
    def closed(self) -> bool:
        return self._closed

    def _listen(self, host: str, port: int, *, reuse_port: bool = False, workers: int = 1) -> None:
        """Bind the request socket; transfer sockets later bind to the same address.

        ``reuse_port``: ``SO_REUSEPORT``, so the ``workers`` processes of ``plugtone serve
        --workers`` share the port; each transfer then runs on its own ephemeral socket in
        the worker that got its request.  With two or more, every request from one client
        address goes to the same worker (:mod:`plugtone.servers.reuseport_steering`), the
        one that learnt which phone is at that address, instead of the kernel's spread by
        address and port, which sent most of a phone's common files to a worker that had
        to ask the store."""
        family, _, _, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, LISTEN_BUFFER)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.setblocking(False)
            sock.bind(address)
            if reuse_port:
                steer_by_source_address(sock, workers)
            self._listener = UdpEndpoint(self._poller, sock, self._on_listen_readable)
        except BaseException:
            sock.close()
            raise
        self._family = family
        self._bind_host, self.port = sock.getsockname()[:2]
        # A transfer socket of a wildcard listener is left to bind on its first send:
        # the kernel then binds it to the wildcard address and an ephemeral port, as
        # bind((wildcard, 0)) would, for one system call less per transfer.
        self._wildcard = self._bind_host in ("0.0.0.0", "::")

    def close(self) -> None:
        """Stop listening and end every transfer (logged as aborted).  Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._drop_report is not None:
            self._drop_report.cancel()
            self._drop_report = None
        if self._listener is not None:
            self._listener.close()
        for task in list(self._tasks):
            task.cancel()
        for session in list(self._sessions):
            session.abort("server shutting down")
        while self._spares:
            self._spares.popleft()[2].close()
        self._transfers.clear()
        self.timers.close()
        self._poller.close()

    # -- requests on the listening socket ------------------------------------------------

    def _on_listen_readable(self) -> None:
        sock = self._listener.sock  # type: ignore[union-attr]
        for _ in range(LISTEN_BATCH):
            try:
                size, peer = sock.recvfrom_into(self.buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as problem:
                log.debug("TFTP listening socket: %s", problem)
                return
            self._on_request(self.view[:size].tobytes(), peer)
            if self._closed:
                return

    def _on_request(self, data: bytes, peer: Address) -> None:
        """Triage one datagram that reached the listening socket."""
        if not is_request(data):
            self.malformed += 1  # not a request: silence, so nobody can bounce traffic off us
            return
        if len(self._transfers) >= self.max_transfers:
            self._drop()
            return
        try:
            packet = decode(data)
        except PacketError as problem:
            self.malformed += 1
            self._send_error(peer, problem.code, f"malformed request: {problem.message}")
            return
        key = (peer[0], peer[1], packet.filename)
        if key in self._transfers:
            self.duplicates += 1
            return
        request = FileRequest(path=packet.filename, transport=TRANSPORT, client_address=peer[0])
        job = _Job(key, peer, request, packet)
        if packet.mode == "mail":
            self._reject(job, None, ErrorCode.ILLEGAL_OPERATION, "mail mode is not supported")
            return
        self._transfers[key] = None
        if isinstance(packet, WriteRequest):
            self.spawn(self._serve_upload(job))
            return
        delay = 0.0
        try:
            answer = self._cached(request)
            if answer is not None:
                answer, delay = self._screen(request, answer)
        except Exception as problem:
            self._server_error(job, problem)
            return
        if answer is None:
            self.spawn(self._serve_download(job))  # screened by Provisioner.answer
        elif delay:
            self.spawn(self._serve_slowed(job, answer, delay))
        else:
            self._download(job, answer)

    def _drop(self) -> None:
        """Over capacity: count the request, and say so in the log now and then."""
        self.dropped += 1
        self._drops_unlogged += 1
        now = _now()
        if now - self._drops_logged_at >= DROP_LOG_INTERVAL:
            self._report_drops(now)
        elif self._drop_report is None:  # the count so far, once the interval is over
            delay = self._drops_logged_at + DROP_LOG_INTERVAL - now
            self._drop_report = self.loop.call_later(delay, self._report_drops)

    def _report_drops(self, now: float | None = None) -> None:
        """One log line for the requests dropped since the last: at most one a
        :data:`DROP_LOG_INTERVAL`, and the last count of a flood is told too."""
        if self._drop_report is not None:
            self._drop_report.cancel()
            self._drop_report = None
        if not self._drops_unlogged:
            return
        log.warning("TFTP over capacity: %d requests dropped unanswered since the last "
                    "report (%d transfers under way, at most %d; %d dropped in all)",
                    self._drops_unlogged, len(self._transfers), self.max_transfers,
                    self.dropped)  # fmt: skip
        self._drops_logged_at = _now() if now is None else now
        self._drops_unlogged = 0

    @property
    def full(self) -> bool:
        """Whether new requests are being dropped (every transfer slot taken)."""
        return len(self._transfers) >= self.max_transfers

    def spawn(self, coroutine) -> None:
        """Run ``coroutine`` as a task the server keeps (and cancels on close)."""
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- downloads -----------------------------------------------------------------------

    async def _serve_download(self, job: _Job) -> None:
        """The slow path: the resolver has to read the store or render first."""
        try:
            answer = await self.provisioner.answer(job.request, missed=True)
        except Exception as problem:
            self._server_error(job, problem)
        else:
            self._download(job, answer)
        finally:
            self._release_if_unopened(job.key)

    async def _serve_slowed(self, job: _Job, answer: Answer, delay: float) -> None:
        """A stranger the sweep guard slows: the answer goes out after ``delay``."""
        try:
            await asyncio.sleep(delay)
            self._download(job, answer)
        finally:
            self._release_if_unopened(job.key)

    def _download(self, job: _Job, answer: Answer) -> None:
        try:
            machine = self._download_machine(job, answer)
            if machine is not None:
                self._open(job, answer, machine, None)
        except Exception as problem:
            self._server_error(job, problem)
        finally:
            self._release_if_unopened(job.key)

    def _download_machine(self, job: _Job, answer: Answer) -> ReadTransfer | None:
        """The transfer for an answered RRQ, or None once the request was rejected."""
        if answer.status is Status.OK and answer.file is not None:
            return self._stored_file_machine(job, answer)
        if answer.status is not Status.OK or answer.content is None:
            if answer.detail == BLOCKED:
                self._ignore(job, answer)
            elif answer.status is Status.BAD_PATH:
                self._reject(job, answer, ErrorCode.ACCESS_VIOLATION, "access violation")
            else:
                self._reject(job, answer, ErrorCode.FILE_NOT_FOUND, "file not found")
            return None
        content = answer.content
        mode = job.packet.mode
        size = netascii_size(content) if mode == "netascii" else len(content)
        options = negotiate(job.packet.options, size, self.limits)
        if isinstance(options, Refused):
            self._reject(job, answer, options.code, options.message)
            return None
        return ReadTransfer(options, mode, content, self.limits)

    def _stored_file_machine(self, job: _Job, answer: Answer) -> ReadTransfer | None:
        """A transfer that reads a stored file (firmware) block by block from disk.

        netascii is refused: a stored file is a binary image, and netascii would turn
        its CR and LF bytes into CR NUL and CR LF on the wire for the client to turn
        back, or not (clients on other systems rewrite line ends), so the image could
        arrive altered. Phones ask for firmware in octet mode.
        """
        assert answer.file is not None
        if job.packet.mode == "netascii":
            self._reject(job, answer, ErrorCode.ILLEGAL_OPERATION,
                         "binary file: ask for it in octet mode")  # fmt: skip
            return None
        options = negotiate(job.packet.options, answer.file.size, self.limits)
        if isinstance(options, Refused):
            self._reject(job, answer, options.code, options.message)
            return None
        return StoredFileTransfer(options, StoredBlocks(answer.file), self.limits)

    # -- uploads -------------------------------------------------------------------------

    async def _serve_upload(self, job: _Job) -> None:
        try:
            ref = await self.provisioner.upload_target(job.request)
            if ref is None:
                self._reject(job, None, ErrorCode.ACCESS_VIOLATION, "upload not accepted")
                return
            limits = dataclasses.replace(self.limits, max_upload_size=ref.max_bytes)
            options = negotiate(job.packet.options, None, limits, upload=True)
            if isinstance(options, Refused):
                self._reject(job, None, options.code, options.message)
                return
            self._open(job, None, WriteTransfer(options, job.packet.mode, limits), ref)
        except Exception as problem:
            self._server_error(job, problem)
        finally:
            self._release_if_unopened(job.key)

    # -- transfers -----------------------------------------------------------------------

    def _open(
        self, job: _Job, answer: Answer | None, machine: Machine, ref: UploadRef | None
    ) -> None:
        """Give the transfer its own socket (its transfer ID) and start it."""
        try:
            if ref is None:
                session = _Session(self, job, answer, machine)
            else:
                session = _UploadSession(self, job, answer, machine, ref)
            session.endpoint = self._endpoint(job.peer, session.on_readable)
        except BaseException:
            if isinstance(machine, StoredFileTransfer):
                machine.blocks.close()
            raise
        self._transfers[job.key] = session
        self._sessions.add(session)
        session.start()

    # -- transfer sockets (see "Transfer sockets are kept" in the module docstring) ---------

    def _endpoint(self, peer: Address, on_readable: Callable[[], None]) -> UdpEndpoint:
        """A socket for a transfer with ``peer``: the longest-resting spare one when it
        has rested :data:`SPARE_REST` and did not last serve ``peer``, else a new one.
        ``self._transfers`` already holds this transfer's key (a placeholder)."""
        spares = self._spares
        if spares:
            rested, last_peer, endpoint = spares[0]
            if rested <= _now() - SPARE_REST and last_peer != peer:
                spares.popleft()
                endpoint.rebind(on_readable)
                return endpoint
            # None may serve yet: a new socket, and the spares past the bound closed so
            # that spares and transfers (this one counted already) stay within it.
            while spares and len(spares) + len(self._transfers) > self.max_transfers:
                spares.popleft()[2].close()
        sock = new_udp_socket(self._family)
        try:
            if not self._wildcard:
                sock.bind((self._bind_host, 0))
            return UdpEndpoint(self._poller, sock, on_readable)
        except BaseException:
            sock.close()
            raise

    def release(self, endpoint: UdpEndpoint, peer: Address) -> None:
        """A download's socket is free: kept as a spare while there is room (never more
        than :data:`MAX_SPARES`, nor so many that spares and transfers together exceed
        ``max_transfers``), else closed."""
        spares = self._spares
        if (
            endpoint.idle
            and not self._closed
            and len(spares) < MAX_SPARES
            and len(spares) + len(self._transfers) < self.max_transfers
        ):
            endpoint.rebind(endpoint.discard_input)
            spares.append((_now(), peer, endpoint))
        else:
            endpoint.close()

    @property
    def spares(self) -> int:
        """Transfer sockets open between transfers."""
        return len(self._spares)

    def _release_if_unopened(self, key: Key) -> None:
        if key in self._transfers and self._transfers[key] is None:
            del self._transfers[key]

    def ended(self, session: _Session, finished: Finished) -> None:
        """A transfer is over: free its slot and count it.  Logging is the session's."""
        if self._transfers.get(session.job.key) is session:
            del self._transfers[session.job.key]
        if finished.outcome is Outcome.COMPLETE:
            self.completed += 1
        else:
            self.failed += 1

    def forget(self, session: _Session) -> None:
        """The session's socket is closed; nothing refers to it any more."""
        self._sessions.discard(session)

    # -- answers without a transfer ------------------------------------------------------

    def _send_error(self, peer: Address, code: int, message: str) -> None:
        if self._listener is not None:
            self._listener.sendto(error_packet(code, message[:_MAX_ERROR_TEXT]), peer)

    def _reject(self, job: _Job, answer: Answer | None, code: int, message: str) -> None:
        """Answer a request that will not be served, from the listening socket."""
        self.failed += 1
        for action in reject_request(code, message[:_MAX_ERROR_TEXT]):
            if isinstance(action, Send):
                if self._listener is not None:
                    self._listener.sendto(action.datagram, job.peer)
            elif isinstance(action, Finished):
                detail = (answer.detail if answer else None) or action.detail
                self.provisioner.finished(job.request, answer, STATUS[action.outcome], 0, detail)

    def _ignore(self, job: _Job, answer: Answer) -> None:
        """A blocked stranger's request: nothing is sent, not even an error."""
        self.blocked += 1
        self.provisioner.finished(job.request, answer, "blocked", 0)

    def _server_error(self, job: _Job, problem: Exception) -> None:
        """Setting a transfer up failed: tell the client, log it, free the slot."""
        self._release_if_unopened(job.key)
        self.failed += 1
        now = _now()
        if now - self._failure_logged_at >= FAILURE_LOG_INTERVAL:
            self._failure_logged_at = now
            log.error("TFTP request for %r failed", job.request.path, exc_info=problem)
        else:
            log.debug("TFTP request for %r failed: %r", job.request.path, problem)
        self._send_error(job.peer, ErrorCode.UNDEFINED, "server error")
        self.provisioner.finished(job.request, None, "error", 0, "server error")


def _unscreened(request: FileRequest, answer: Answer) -> tuple[Answer, float]:
    return answer, 0.0


class StoredBlocks:
    """The :data:`~plugtone.protocols.tftp.BlockSource` of a stored file: one ``pread``
    per block, from an open descriptor, never the whole file in memory.

    ``pread`` rather than a memory map: a map of a file that is truncated or replaced in
    place kills the process with SIGBUS on the next block, where ``pread`` returns a short
    read and the transfer ends with an error. A block is a few kB, so the system call is
    small beside the ``sendto`` that carries it. Reads run on the event loop: firmware
    being sent to a storm of phones sits in the page cache, and the kernel's read-ahead
    serves the sequential reads of a cold one.
    """

    __slots__ = ("fd",)

    def __init__(self, file: StoredFile) -> None:
        self.fd = os.open(file.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            on_disk = os.fstat(self.fd).st_size
            if on_disk != file.size:  # tsize would lie, and the phone check the image
                raise OSError(f"{file.path} is {on_disk} bytes, expected {file.size}")
        except BaseException:
            self.close()
            raise

    def __call__(self, offset: int, length: int) -> bytes:
        return os.pread(self.fd, length, offset)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class StoredFileTransfer(ReadTransfer):
    """A download of a stored file, keeping hold of its :class:`StoredBlocks` so the
    session closes the descriptor when the transfer ends, however it ends."""

    def __init__(self, options: NegotiatedOptions, blocks: StoredBlocks, limits: Limits) -> None:
        super().__init__(options, "octet", blocks, limits)
        self.blocks = blocks


class _Session:
    """One transfer: its socket, its protocol object and its place in the timer wheel."""

    __slots__ = (
        "_ack",
        "_slot",
        "_unanswered",
        "answer",
        "blocks",
        "done",
        "endpoint",
        "heard",
        "job",
        "machine",
        "peer",
        "server",
    )

    def __init__(
        self, server: TftpServer, job: _Job, answer: Answer | None, machine: Machine
    ) -> None:
        self.server = server
        self.job = job
        self.peer = job.peer
        self.answer = answer
        self.machine = machine
        self.blocks = machine.blocks if isinstance(machine, StoredFileTransfer) else None
        """A stored file's descriptor, closed with the transfer."""
        self._ack = machine.ack if isinstance(machine, ReadTransfer) else None
        """A download's ACK handler, fed straight from the receive buffer."""
        self.endpoint: UdpEndpoint | None = None
        self.done = False
        self._slot: int | None = None
        """The timer-wheel slot this transfer is filed under, if any."""
        self.heard = False
        """Whether the peer has sent anything on the transfer's socket."""
        self._unanswered = 0
        """Deadlines passed while the peer has never been heard from."""

    def start(self) -> None:
        self._apply(self.machine.start(_now()))
        self._arm()

    def on_readable(self) -> None:
        server = self.server
        endpoint = self.endpoint
        if endpoint is None:  # over: the socket went back to the server
            return
        try:
            size, addr = endpoint.sock.recvfrom_into(server.buffer)  # type: ignore[union-attr]
        except OSError:  # nothing after all, or an ICMP error surfacing: no datagram
            return
        if addr != self.peer and addr[:2] != self.peer[:2]:
            # RFC 1350: a packet from a stranger gets error 5 and changes nothing.
            endpoint.sendto(_UNKNOWN_TID, addr)  # type: ignore[union-attr]
            return
        self.heard = True
        buffer = server.buffer
        if size == 4 and buffer[1] == 4 and buffer[0] == 0 and self._ack is not None:
            # An ACK to a download (most datagrams a transfer gets): its block number
            # read off the buffer, without copying the datagram out and parsing it again.
            self._apply(self._ack((buffer[2] << 8) | buffer[3], _now()))
            self._arm()
            return
        self._receive(server.view[:size].tobytes())

    def _receive(self, data: bytes) -> None:
        self._apply(self.machine.receive(data, _now()))
        self._arm()

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if type(action) is Send:
                endpoint = self.endpoint
                if endpoint is not None:  # None once over: the socket may serve another
                    endpoint.sendto(action.datagram, self.peer)
            elif type(action) is Finished:
                self._finish(action)

    # -- retransmission deadline (see the module docstring)

    def _arm(self) -> None:
        if self.done:
            return
        deadline = self.machine.next_deadline()
        if deadline is None:
            return
        self._slot = self.server.timers.file(self, deadline, self._slot)

    def on_due(self) -> None:
        """The wheel reached this transfer's slot: let the core retransmit or give up."""
        self._slot = None
        if self.done:
            return
        now = _now()
        if not self.heard:
            deadline = self.machine.next_deadline()
            if deadline is not None and now >= deadline:
                self._unanswered += 1
                if self._unanswered > SILENT_PEER_RETRIES and self.server.full:
                    self._give_up_silent()
                    return
        self._apply(self.machine.timeout(now))
        self._arm()

    def _give_up_silent(self) -> None:
        """Free the slot of a peer that never answered while others wait (see module)."""
        self._finish(Finished(Outcome.TIMED_OUT, 0, "no answer from the client (server full)"))

    def _cancel_timer(self) -> None:
        if self._slot is not None:
            self.server.timers.remove(self, self._slot)
            self._slot = None

    # -- the end

    def _finish(self, finished: Finished) -> None:
        self.done = True
        self.server.ended(self, finished)  # first: its slot is free when the socket is
        self.close()
        self._record(finished)

    def _record(self, finished: Finished) -> None:
        detail = None if finished.outcome is Outcome.COMPLETE else finished.detail
        self.server.provisioner.finished(
            self.job.request, self.answer, STATUS[finished.outcome], finished.bytes_sent, detail
        )

    _spare = True
    """Whether the socket may serve another transfer once this one is over."""

    def close(self) -> None:
        self._cancel_timer()
        endpoint = self.endpoint
        if endpoint is not None:
            self.endpoint = None
            if self._spare:
                self.server.release(endpoint, self.peer)
            else:
                endpoint.close()
        if self.blocks is not None:
            self.blocks.close()
        self.server.forget(self)

    def abort(self, reason: str) -> None:
        """End the transfer from our side (shutdown); it is logged as aborted."""
        self.close()
        if not self.done:
            self.done = True
            finished = Finished(Outcome.ABORTED, self.machine.bytes_transferred, reason)
            self.server.ended(self, finished)
            self._record(finished)


class _UploadSession(_Session):
    """A WRQ: the final ACK goes out only once the upload is safely stored.

    The core acknowledges the final block as soon as it has it; holding that ACK until
    the file is on disk means a client is never told "done" for an upload that could not
    be stored: it gets an ERROR instead.
    """

    __slots__ = ("ref", "storing")

    _spare = False  # an upload dallies on its socket, and is rare: closed at the end

    def __init__(
        self,
        server: TftpServer,
        job: _Job,
        answer: Answer | None,
        machine: Machine,
        ref: UploadRef,
    ) -> None:
        super().__init__(server, job, answer, machine)
        self.ref = ref
        self.storing = False

    def _receive(self, data: bytes) -> None:
        if not self.storing:  # a repeated final block is answered once the file is stored
            super()._receive(data)

    def _apply(self, actions: list[Action]) -> None:
        received = next((action for action in actions if type(action) is Received), None)
        if received is None:
            super()._apply(actions)
            return
        self.done = True
        self.storing = True
        self._cancel_timer()
        replies = [action.datagram for action in actions if type(action) is Send]
        self.server.spawn(self._store(received.content, replies))

    async def _store(self, content: bytes, replies: list[bytes]) -> None:
        """Save the upload, then send the final ACK (or an ERROR) and dally a little."""
        server = self.server
        try:
            await server.provisioner.store_upload(self.job.request, self.ref, content)
        except asyncio.CancelledError:
            self.close()
            raise
        except UploadTooLarge as problem:
            self._failed(Outcome.REFUSED, ErrorCode.DISK_FULL, str(problem))
            return
        except Exception as problem:
            log.error("could not store TFTP upload %s: %s", self.ref.name, problem)
            self._failed(Outcome.ERROR, ErrorCode.UNDEFINED, "could not store the upload")
            return
        server.ended(self, Finished(Outcome.COMPLETE, len(content), "upload complete"))
        self.storing = False
        if server.closed:
            self.close()
            return
        for datagram in replies:
            self.endpoint.sendto(datagram, self.peer)  # type: ignore[union-attr]
        server.loop.call_later(UPLOAD_DALLY, self.close)

    def _failed(self, outcome: Outcome, code: int, message: str) -> None:
        error = error_packet(code, message[:_MAX_ERROR_TEXT])
        self.endpoint.sendto(error, self.peer)  # type: ignore[union-attr]
        self.close()
        finished = Finished(outcome, self.machine.bytes_transferred, message)
        self.server.ended(self, finished)
        self._record(finished)


class _TimerWheel:
    """Retransmission deadlines of every transfer, in slots of :data:`TIMER_TICK`.

    One loop timer serves the whole wheel, armed for the earliest filled slot.  A
    transfer is in at most one slot; :meth:`file` moves it only to an earlier one.
    """

    __slots__ = ("_handle", "_handle_slot", "_loop", "_slots")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[int, set[_Session]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._handle_slot = 0

    def __len__(self) -> int:
        return sum(len(sessions) for sessions in self._slots.values())

    def file(self, session: _Session, deadline: float, current: int | None) -> int:
        """File ``session`` for ``deadline``; returns its slot (``current`` when that
        one falls due no later, since a slot that falls due early only re-files)."""
        slot = int(deadline / TIMER_TICK) + 1
        if current is not None:
            if current <= slot:
                return current
            self.remove(session, current)
        sessions = self._slots.get(slot)
        if sessions is None:
            self._slots[slot] = {session}
            if self._handle is None or slot < self._handle_slot:
                self._arm(slot)
        else:
            sessions.add(session)
        return slot

    def remove(self, session: _Session, slot: int) -> None:
        sessions = self._slots.get(slot)
        if sessions is not None:
            sessions.discard(session)

    def _arm(self, slot: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_slot = slot
        # call_later on our own clock: a loop's clock need not be time.monotonic's
        delay = max(0.0, slot * TIMER_TICK - _now())
        self._handle = self._loop.call_later(delay, self._on_tick)

    def _on_tick(self) -> None:
        self._handle = None
        now_slot = int(_now() / TIMER_TICK)
        slots = self._slots
        for slot in sorted(slot for slot in slots if slot <= now_slot):
            for session in slots.pop(slot):
                try:
                    session.on_due()
                except Exception:
                    log.exception("TFTP retransmission failed")
        while slots:
            earliest = min(slots)
            if slots[earliest]:
                self._arm(max(earliest, now_slot + 1))
                return
            del slots[earliest]  # emptied by transfers that ended

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._slots.clear()


async def start_tftp_server(
    provisioner: Provisioner,
    host: str,
    port: int,
    *,
    max_transfers: int = 1000,
    limits: Limits = DEFAULT_LIMITS,
    reuse_port: bool = False,
    workers: int = 1,
) -> TftpServer:
    """Listen for TFTP requests on ``host``:``port`` (0 picks a free port, see ``.port``).

    Runs on the caller's event loop until :meth:`TftpServer.close`.  ``provisioner``
    is the :class:`Provisioner` every transport shares; only its ``answer``, ``screen``,
    ``finished``, ``upload_target``, ``store_upload`` and ``resolver.cached`` are used.
    """
    server = TftpServer(provisioner, max_transfers=max_transfers, limits=limits)
    try:
        server._listen(host, port, reuse_port=reuse_port, workers=workers)
    except BaseException:  # a busy port: leave nothing registered with the loop
        server.close()
        raise
    log.debug("TFTP listening on %s:%d", host, server.port)
    return server

"""Caps on what an HTTP request's head may hold, enforced before it is parsed whole.

uvicorn's httptools protocol accepts request heads of any size (httptools collects a
header value of megabytes before its callback sees it), and what a phone-facing server
is sent is chosen by whoever is on the network. So :class:`BoundedHttpToolsProtocol`
counts the bytes of each request's head as they arrive and answers

- ``414 URI Too Long`` for a request target over :data:`MAX_TARGET` bytes,
- ``431 Request Header Fields Too Large`` for a head (request line and headers, up to
  the blank line) over :data:`MAX_HEAD` bytes, a User-Agent over
  :data:`MAX_USER_AGENT` bytes or more than :data:`MAX_HEADERS` header fields,

then closes the connection. The bytes beyond the cap are never handed to the parser,
and what arrives after the answer is read and dropped for a moment (so the client sees
the answer rather than a reset) without being kept.

The values are far above any phone's: the User-Agents the plug-ins identify are under
100 bytes (``Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP``,
``FileTransport PolycomSoundPointIP-SPIP_650-UA/3.3.4.0085 Type/Application``), a
phone's whole request head is a few hundred bytes, and browsers on the admin listener
send under 2 KiB. nginx's default for one header line is 8 KiB and Node's for a head
16 KiB; a head of 8 KiB bounds what one request can make the server hold.
"""

from __future__ import annotations

import asyncio
import json

from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEAD = 8 * 1024
"""Bytes of a request line plus its header fields, up to and including the blank line."""
MAX_TARGET = 2 * 1024
"""Bytes of a request target (path and query); served paths are at most 255 characters."""
MAX_USER_AGENT = 512
"""Bytes of a User-Agent; identification reads no further (``resolver.MAX_USER_AGENT``)."""
MAX_HEADERS = 64
"""Header fields per request; a phone sends fewer than ten."""
LINGER = 1.0
"""Seconds a refused connection is kept half-closed, dropping what the client still
sends, so its kernel delivers the answer instead of a reset."""

_REASONS = {
    414: ("URI Too Long", "the request target is longer than plugtone reads"),
    431: ("Request Header Fields Too Large", "the request head is larger than plugtone reads"),
}
_BODIES = {
    status: json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    for status, (title, detail) in _REASONS.items()
}
"""RFC 9457 problem documents, as the admin listener answers every refusal; a phone
ignores the body of an error answer, so both listeners send the same one."""


class _Refused(Exception):
    """Raised from a parser callback to stop parsing once the answer is sent."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the head caps of the module docstring, and
    keep-alive timeouts kept by one sweep per server (:class:`IdleSweep`) instead of a
    timer armed and cancelled for every request (uvicorn's ``call_later``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # uvicorn's, but with the addresses the transport read when it was made: uvicorn
        # asks the socket again (two system calls and two enum conversions a connection,
        # 5% of a connection's CPU when each request has its own).
        self.connections.add(self)
        self.transport = transport
        self.flow = FlowControl(transport)
        self.server = peer_address(transport.get_extra_info("sockname"))
        self.client = peer_address(transport.get_extra_info("peername"))
        self.scheme = "https" if transport.get_extra_info("sslcontext") else "http"
        self._refused = False
        self._idle_since: float | None = None
        """``loop.time()`` when the connection last fell idle after an answer; ``None``
        while a request is on its way or being answered."""
        IdleSweep.of(self.server_state, self.loop).start()
        self._start_head()

    def on_response_complete(self) -> None:
        """uvicorn's, with the keep-alive timeout left to the sweep."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            # On the next turn of the loop, not from here: an answer given at once ends
            # in this method again, and a read of pipelined requests (hundreds fit in
            # one) would recurse as deep as it holds requests.
            cycle, app = self.pipeline.pop()
            self.loop.call_soon(self._start_asgi_task, cycle, app)
        else:
            self._idle_since = self.loop.time()
            if self.front is not None:
                # After this turn of the loop: the answer's task ends first.
                self.loop.call_soon(self._give_back)

    front = None
    """The :class:`~plugtone.servers.http_front.PhoneHttpProtocol` this connection was
    handed over by, for a request it gives back once answered (``None``: kept here)."""

    owner = None
    """The :class:`~plugtone.servers.http_front.PhoneHttpProtocol` that made this one
    (``None``: uvicorn did): told when the connection closes here, to break its cycles."""

    def connection_lost(self, exc: Exception | None) -> None:
        """uvicorn's, then the reference cycles broken (uvicorn drops the parser): the
        request cycle holds a bound method of this protocol, and a front that handed the
        connection over holds this one while it holds the front (:meth:`forget`)."""
        super().connection_lost(exc)
        self.cycle = None  # type: ignore[assignment]  # a task still answering keeps its own
        owner = self.owner
        if owner is not None:
            owner.connection_lost(exc)  # the front lets go of this protocol too

    def forget(self) -> None:
        """Break this protocol's cycles once its connection is closed and it will not be
        used again (its front's :meth:`connection_lost`): between two requests it still
        holds its parser (bound methods of itself), its last request cycle and the front."""
        self.parser = None  # type: ignore[assignment]
        self.cycle = None  # type: ignore[assignment]
        self.front = None
        self.owner = None

    def _give_back(self) -> None:
        """Return the connection to :attr:`front` when it is between requests: the answer
        sent, nothing of a next request read, no request waiting behind it."""
        front = self.front
        cycle = self.cycle
        if (
            front is None
            or self.transport.is_closing()
            or self.pipeline
            or self.flow.write_paused
            or not self._in_head
            or self._head_bytes
            or (cycle is not None and not cycle.response_complete)
        ):
            return
        self.front = None
        self.connections.discard(self)
        front.take_back(self.transport)

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._line_done = False
        self._tail = b""
        """The last bytes of the head so far, to find a blank line split across reads."""

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # read and dropped while the answer lingers
        self._idle_since = None
        if self._in_head:
            room = MAX_HEAD - self._head_bytes
            # A read that ends this head may carry a pipelined next request whole; its
            # head is counted from the next read on (one read is at most 256 KiB).
            if len(data) > room and not _head_ends(self._tail + data[:room]):
                self._refuse(431 if self._line_done or b"\n" in data[:room] else 414)
                return
            self._head_bytes += len(data)
            if not self._line_done and b"\n" in data:
                self._line_done = True
            self._tail = (self._tail + data[-3:])[-3:]
        super().data_received(data)

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_TARGET:
            self._refuse(414)
            raise _Refused
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= MAX_HEADERS or (
            len(value) > MAX_USER_AGENT and name.lower() == b"user-agent"
        ):
            self._refuse(431)
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._start_head()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            return  # our own refusal stopped the parser: the answer is sent already
        super().send_400_response(msg)

    def _refuse(self, status: int) -> None:
        """Answer ``status`` and end the connection, keeping none of the request."""
        self._refused = True
        self.headers = []
        self.url = b""
        transport = self.transport
        if self.cycle is None or self.cycle.response_complete:
            body = _BODIES[status]
            head = b"content-type: application/problem+json\r\ncontent-length: %d\r\n" % len(body)
            transport.write(STATUS_LINE[status] + head + b"connection: close\r\n\r\n" + body)
        # else a pipelined request overflowed while an earlier answer is going out:
        # writing now would corrupt that answer, so the connection just ends.
        if transport.can_write_eof():
            transport.write_eof()
            self.loop.call_later(LINGER, transport.close)
        else:
            transport.close()


SWEEP_INTERVAL = 0.5
"""Seconds between looks for keep-alive connections idle past their timeout: one is
closed between ``timeout_keep_alive`` and that plus this after its last answer."""


class IdleSweep:
    """Closes a server's keep-alive connections that stayed idle ``timeout_keep_alive``
    seconds after an answer, as uvicorn's per-request timer did. One timer per server
    that runs while the server has connections: arming, cancelling and re-arming a
    timer for every request cost 15% of a cached answer's CPU."""

    def __init__(self, connections: set, loop: asyncio.AbstractEventLoop) -> None:
        self.connections = connections
        self.loop = loop
        self.handle: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, server_state, loop: asyncio.AbstractEventLoop) -> IdleSweep:
        sweep = server_state.__dict__.get("plugtone_idle_sweep")
        if sweep is None or sweep.loop is not loop:
            sweep = server_state.__dict__["plugtone_idle_sweep"] = cls(server_state.connections,
                                                                       loop)  # fmt: skip
        return sweep

    def start(self) -> None:
        if self.handle is None:
            self.handle = self.loop.call_later(SWEEP_INTERVAL, self.run)

    def run(self) -> None:
        self.handle = None
        now = self.loop.time()
        for connection in list(self.connections):
            since = getattr(connection, "_idle_since", None)
            if since is not None and now - since >= connection.timeout_keep_alive:
                connection._idle_since = None
                if not connection.transport.is_closing():
                    connection.transport.close()
        if self.connections:
            self.start()


def peer_address(info: object) -> tuple[str, int] | None:
    """``(host, port)`` of a socket address as uvicorn gives it (IPv6's four fields cut
    to two); ``None`` for a Unix socket's or none."""
    if isinstance(info, tuple) and len(info) >= 2:
        return str(info[0]), int(info[1])
    return None


def _head_ends(data: bytes) -> bool:
    """Whether ``data`` holds the blank line that ends a head (CRLF, or bare LF)."""
    return b"\n\r\n" in data or b"\n\n" in data

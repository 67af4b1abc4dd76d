"""The phone listeners' first protocol: cached answers written straight from the head.

A boot storm or a fleet's daily resync is almost entirely ``GET`` (or ``HEAD``) of a file
the resolver already holds in memory, on a keep-alive or a fresh connection. For such a
request uvicorn's protocol does work the answer never uses: per connection, logger
lookups and its flow-control and pipeline objects; per request, an ASGI scope of a dozen
entries with its own ``asgi`` dictionary, a header list kept whole and, before
:class:`~plugtone.servers.http.ZeroCopyHttpToolsProtocol` short-cut it, a request cycle
with an ``asyncio.Event``. Measured in one process with the transport stubbed out, that
machinery cost about as much as deciding the answer itself.

:class:`PhoneHttpProtocol` therefore takes each connection first and answers, by itself,
exactly the requests :meth:`~plugtone.servers.http.PhoneApp.answer_now` answers at once:
it finds the end of each request head in what has arrived, hands that head (and nothing
more) to httptools, builds the few scope entries the answer reads, and writes status
line, headers and body in one ``write``. Everything else (a cache miss, a delayed or
stored answer, a body, any method but ``GET``/``HEAD``, an ``Expect`` or an upgrade, a
head that breaks a cap of :mod:`plugtone.servers.http_limits` or that httptools refuses,
a head that is not ended by CRLF CRLF) is handed over: a
:class:`~plugtone.servers.http.ZeroCopyHttpToolsProtocol` is made for the connection,
given the transport, and fed every byte from the start of that request on, so it parses
the request itself and answers as it always has (the 414 and 431 refusals, 400 for a
malformed head, uploads, zero-copy firmware, the ACS and the redirection service). A
decision already taken for that request (a miss, a sweep guard's delay) is carried over
and never taken twice. The connection then stays with that protocol.

So the two paths cannot disagree about an answer: both ask the same
:meth:`~plugtone.servers.http.PhoneApp.answer_now`, and write its reply with the same
bytes (:func:`~plugtone.servers.http.wire_reply`).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from typing import Any

import httptools

from plugtone.servers.http import (
    SERVER_ERROR,
    TLS,
    ZeroCopyHttpToolsProtocol,
    tls_extension,
    wire_reply,
)
from plugtone.servers.http_limits import (
    MAX_HEAD,
    MAX_HEADERS,
    MAX_TARGET,
    MAX_USER_AGENT,
    IdleSweep,
    peer_address,
)

log = logging.getLogger(__name__)

_HEAD_END = b"\r\n\r\n"
_HANDED_OVER_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"expect",
                                  b"upgrade"))  # fmt: skip
"""Header names that make a ``GET`` more than a head to answer: a body, ``100-continue``
or a protocol switch. uvicorn's protocol deals with them as before."""


def _bare_line_feed(data: bytes, start: int, limit: int) -> bool:
    """Whether ``data`` holds, from ``start`` and before ``limit``, a blank line ending a
    head with a bare LF: then what looks like one head could be two requests, so the
    ASGI protocol, reading request by request, takes it (httptools refuses such heads
    today; this does not rely on it)."""
    return data.find(b"\n\n", start, limit + 3) >= 0 or data.find(b"\n\r\n", start, limit + 2) >= 0


class _HandOver(Exception):
    """Raised from a parser callback: this request goes to the ASGI protocol."""


class PhoneHttpProtocol(asyncio.Protocol):
    """Answers cached ``GET``/``HEAD`` requests itself; hands the connection to a
    :class:`~plugtone.servers.http.ZeroCopyHttpToolsProtocol` at the first request it
    cannot answer at once (see the module docstring). Made by uvicorn with the same
    arguments as any of its HTTP protocols."""

    __slots__ = (
        "_buffer",
        "_complete",
        "_head",
        "_headers",
        "_idle_since",
        "_paused",
        "_successor",
        "_url",
        "app",
        "app_state",
        "client",
        "config",
        "extensions",
        "loop",
        "parser",
        "scheme",
        "server_state",
        "timeout_keep_alive",
        "transport",
    )  # fmt: skip

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:  # fmt: skip
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.timeout_keep_alive = config.timeout_keep_alive
        self._idle_since: float | None = None
        self._buffer = b""
        self._paused = False
        self._successor: ZeroCopyHttpToolsProtocol | None = None
        """The ASGI protocol this connection was handed to before, between two of its
        requests (it was given back): taken again rather than made anew, as a boot
        storm's phones miss the cache on most files of a connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        if getattr(self.app, "answer_now", None) is None:
            self._hand_over(b"")  # an app that answers nothing at once: uvicorn's way
            return
        self.server_state.connections.add(self)
        self.parser = httptools.HttpRequestParser(self)
        client = peer_address(transport.get_extra_info("peername"))
        self.client = client
        secure = transport.get_extra_info("sslcontext") is not None
        self.scheme = "https" if secure else "http"
        self.extensions = {TLS: tls_extension(transport)} if secure else None
        self._idle_since = self.loop.time()
        IdleSweep.of(self.server_state, self.loop).start()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection, and break the reference cycles it made: the parser holds
        bound methods of this protocol, and the transport holds it too. Left to the
        garbage collector, the cycles of a boot storm's connections (14 objects each)
        made it run every few thousand connections and cost 5-8% of the CPU of a
        ``Connection: close`` request (perf); undone, reference counting frees them. Also
        called by the ASGI protocol this connection was handed to, when it closes there."""
        self.server_state.connections.discard(self)
        self._buffer = b""
        self.parser = None  # type: ignore[assignment]
        self.transport = None  # type: ignore[assignment]
        successor, self._successor = self._successor, None
        if successor is not None:
            successor.forget()

    def eof_received(self) -> bool | None:
        return None  # the transport closes; a half-sent head is dropped with it

    def pause_writing(self) -> None:
        """A client that does not read its answers: stop reading its requests until it
        does, so what it sends cannot pile up answers in memory."""
        self._paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        self.transport.resume_reading()

    def shutdown(self) -> None:
        """uvicorn's server asks this of every connection when it stops: every answer
        here is written whole at once, so there is nothing to finish."""
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._idle_since = None
        buffer = self._buffer + data if self._buffer else data
        start = 0
        while True:
            end = buffer.find(_HEAD_END, start)
            if end < 0:
                rest = buffer[start:] if start else buffer
                if len(rest) > MAX_HEAD or _bare_line_feed(rest, 0, len(rest)):
                    self._buffer = b""
                    self._hand_over(rest)  # a cap to enforce, or bare-LF line ends
                else:
                    self._buffer = rest
                    if not rest:
                        self._idle_since = self.loop.time()
                return
            end += 4
            if end - start > MAX_HEAD or _bare_line_feed(buffer, start, end - 3):
                self._buffer = b""
                self._hand_over(buffer[start:])
                return
            if not self._answer(buffer, start, end):
                self._buffer = b""
                return
            start = end
            if self.transport.is_closing():
                self._buffer = b""
                return

    def _answer(self, buffer: bytes, start: int, end: int) -> bool:
        """Answer the head ``buffer[start:end]``; ``False`` when the connection was handed
        over or is closing (nothing more to read here)."""
        self._url = b""
        self._headers = []
        self._complete = False
        parser = self.parser
        try:
            parser.feed_data(buffer[start:end] if start or end != len(buffer) else buffer)
        except (httptools.HttpParserError, _HandOver):
            self._complete = False
        if not self._complete:  # refused, or more than a head (a body still to come)
            self._hand_over(buffer[start:])
            return False
        method, version, keep_alive = self._head
        if method != b"GET" and method != b"HEAD":
            self._hand_over(buffer[start:])
            return False
        url = self._url
        if b"?" in url or b"%" in url or b"#" in url or not url.startswith(b"/"):
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                self._hand_over(buffer[start:])
                return False
            raw_path, query = parsed.path, parsed.query or b""
        else:
            raw_path, query = url, b""
        try:
            path = raw_path.decode("ascii")
        except UnicodeDecodeError:
            self._hand_over(buffer[start:])
            return False
        if "%" in path:
            path = urllib.parse.unquote(path)
        name = "GET" if method == b"GET" else "HEAD"
        scope = {"type": "http", "http_version": version, "method": name, "path": path,
                 "raw_path": raw_path, "query_string": query, "headers": self._headers,
                 "scheme": self.scheme, "client": self.client}  # fmt: skip
        if self.extensions is not None:
            scope["extensions"] = self.extensions
        app = self.app
        try:
            decided = app.answer_now(scope)
        except Exception:
            log.exception("cannot answer %s", path)
            decided, keep_alive = SERVER_ERROR, False
        if type(decided) is not tuple:
            if len(self.server_state.tasks) < ZeroCopyHttpToolsProtocol.max_in_flight:
                self._hand_over(buffer[start:], decided)
                return False
            decided = app.overloaded(scope, decided)
        transport = self.transport
        transport.write(wire_reply(decided, self.server_state, keep_alive, name))
        self.server_state.total_requests += 1
        if not keep_alive:
            transport.close()
            return False
        self._idle_since = self.loop.time()
        return True

    def take_back(self, transport: asyncio.Transport) -> None:
        """The connection back from the ASGI protocol, between two requests."""
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)
        self._buffer = b""
        self._paused = False
        self.server_state.connections.add(self)
        self._idle_since = self.loop.time()
        transport.set_protocol(self)

    # httptools callbacks: what the answer reads, and whether to hand over

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_TARGET:
            raise _HandOver  # the ASGI protocol answers 414

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        headers = self._headers
        if (
            name in _HANDED_OVER_HEADERS
            or len(headers) >= MAX_HEADERS
            or (name == b"user-agent" and len(value) > MAX_USER_AGENT)
        ):
            raise _HandOver
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        # Read here: once the message is complete, llhttp has reset what they read.
        parser = self.parser
        version = parser.get_http_version()
        self._head = (parser.get_method(), version,
                      version != "1.0" and parser.should_keep_alive())  # fmt: skip

    def on_message_complete(self) -> None:
        self._complete = True

    def _hand_over(self, data: bytes, decided: Any = None) -> None:
        """Give the connection to the ASGI protocol, with ``data`` (from the start of the
        request it takes over) and what was decided for that request."""
        self.server_state.connections.discard(self)
        successor = self._successor
        if successor is None:  # made once a connection: it gives the connection back
            successor = self._successor = ZeroCopyHttpToolsProtocol(
                config=self.config, server_state=self.server_state, app_state=self.app_state,
                _loop=self.loop,
            )  # fmt: skip
            successor.owner = self
        successor.handed = decided
        app = self.app
        if decided is not None and decided is not app and decided is not app.acs:
            successor.front = self  # a file answered later: the next one may be cached
        transport = self.transport
        transport.set_protocol(successor)
        successor.connection_made(transport)
        if self._paused:
            successor.pause_writing()
        if data:
            successor.data_received(data)

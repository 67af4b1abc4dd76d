"""Phone-facing HTTP(S): ``GET /<file>`` answered by the resolver.

Deliberately lean: one catch-all route, no validation layers, ETag and
If-None-Match so the daily resync of thousands of phones costs a 304 each. Unknown
files, unassigned MACs and refused paths all get the same plain 404, so a scanner
learns nothing about which MACs exist.

Rendered answers (a few kB of configuration) are sent from memory in one piece.

Per-device authentication (see :mod:`plugtone.provisioning.device_auth`). The listener
only reports what it saw: an ``Authorization`` header becomes the request's
credentials (Digest on both listeners; Basic only over HTTPS, and a Basic header over
plain HTTP is ignored, as if none was sent, so a phone configured for it is still
judged by its network or window), and a client certificate that a configured CA
verified becomes the MACs it names. The resolver decides. Then:

- an answer marked ``personal`` (a stranger asking for a per-device name, known MAC or
  not) or ``auth_failed`` for a stranger (credentials presented that proved nothing; a
  trusted network or open window is served despite them) is not sent: the
  answer is ``401`` with a Digest challenge (:data:`CHALLENGE_BODY`, ``text/plain``,
  ``WWW-Authenticate`` of a fixed length, ``Cache-Control: no-store``): the same
  status, headers and body size for every such request, so a stranger learns nothing
  about which MACs exist, and a phone holding its own login answers the challenge.
  The event is recorded as ``challenged``. ``stale=true`` is added only when the
  digest was right for an expired or reused nonce, which only the password's holder
  can produce;
- ``PUT`` is decided before a byte of the body is read: a request that is not
  privileged (a stranger, whatever the name) gets the same ``401``; a privileged one
  that may not upload this name (another phone's, from another address than the
  phone's last, an undeclared name) gets the ``403`` of an undeclared name.

Request heads are capped before they are parsed whole (8 KiB of head, 512 bytes of
User-Agent, 2 KiB of request target: 431 or 414 beyond them), by the protocol class
both listeners run (:mod:`plugtone.servers.http_limits`).

Stored answers (firmware, tens of MB) are sent from disk and never read whole:

- ``ETag`` (from the file's SHA-256) and ``If-None-Match`` give a 304, ``HEAD`` gives
  the headers only, and ``Accept-Ranges: bytes`` is announced. One range, ``bytes=a-b``,
  ``a-`` or ``-n``, is answered 206 with ``Content-Range``; a range that starts beyond
  the end is answered 416 with ``Content-Range: bytes */size``. ``If-Range`` holding
  the current ETag keeps the range, anything else (an old ETag, a date: there is no
  Last-Modified) turns it into the whole file. A request for several ranges gets the
  whole file, 200: RFC 9110 allows it, no phone asks for several, and a multipart
  body is code nobody would exercise.
- The event log hears of the request once the body has been handed to the kernel:
  ``ok`` for a whole 200, ``partial`` for a 206 sent to its end, ``incomplete`` (with
  the bytes sent) when the phone went away first, ``head`` for a HEAD. A firmware
  upgrade is complete only on ``ok`` with every byte sent.
- A stored file that has gone or changed size since the resolver answered gets the
  plain 404 (a phone then keeps its current firmware and tries again later) and an
  ``error`` event that says why.

Zero-copy, and why. uvicorn 0.54 writes every body through ``transport.write``, so a
file answered as ASGI body messages is copied disk -> Python bytes -> socket buffer
and costs a thread hop or a blocking read per chunk. :class:`ZeroCopyHttpToolsProtocol`
(the runner builds uvicorn with it) is uvicorn's httptools protocol plus the ASGI
``http.response.zerocopy`` extension: the response is handed to
``loop.sendfile(transport, file, offset, count)``, which on a plain TCP connection is
``os.sendfile``: the kernel copies page cache to socket, and the process touches none
of the bytes. It is offered only where that holds: not over TLS (the stdlib fallback
there reads 16 KiB per thread hop, where streaming reads :data:`CHUNK`) and not on a
loop without native sendfile (uvloop). Elsewhere, and for any ASGI server without the
extension, the app streams the file in :data:`CHUNK` pieces read in a worker thread,
each sent only once the previous one has drained below uvicorn's high-water mark, so a
download holds about two chunks whatever the file size. Measured with
``bench/firmware.py`` (100 downloads of a 30 MB image by 20 concurrent curl clients,
loopback, 2 CPUs, same run): zero-copy 1,300-1,850 MB/s, 0.9-1.07x nginx's figure, with
0.7 CPU seconds against nginx's 0.35 and peak memory within 1 MiB of idle for a 4 MB or
a 30 MB image; streamed 650-820 MB/s, about half of nginx, 3 CPU seconds and +9 MiB
at 20 downloads. So zero-copy is the default, and streaming the fallback.

The zero-copy path sends in slices (:data:`SENDFILE_SLICE`, growing while they go out
fast), each of which must finish within :data:`SEND_STALL_TIMEOUT`: a phone that stops
reading (unplugged mid-upgrade) is dropped after two minutes instead of holding a
connection until TCP gives up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import secrets
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

from plugtone.acs.mount import is_acs_path
from plugtone.inventory.secret_keys import SecretKeyError
from plugtone.inventory.store import Store
from plugtone.provisioning.device_auth import (
    DigestAuthority,
    DigestCredentials,
    RejectedCredentials,
    certificate_macs,
)
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import Answer, FileRequest, Status
from plugtone.provisioning.trust import Trust
from plugtone.provisioning.uploads import UploadTooLarge
from plugtone.redirect.phone_app import PREFIX as RCS_PREFIX
from plugtone.redirect.phone_app import rcs_answer
from plugtone.servers.http_limits import BoundedHttpToolsProtocol

log = logging.getLogger(__name__)

NOT_FOUND = b"not found\n"
CHALLENGE_BODY = b"authentication required\n"
"""The body of every 401: fixed, so its size tells nothing."""
REFUSED_UPLOAD = b"uploads of this name are not allowed\n"

TLS = "tls"
"""The ASGI TLS extension: ``client_cert_chain`` holds the verified client certificate
(PEM) when the HTTPS listener asked for one and a configured CA signed it."""

ZEROCOPY = "http.response.zerocopy"
"""The ASGI extension (asgiref's "Zero Copy Send") offered by :class:`ZeroCopyHttpToolsProtocol`."""

REPLY = "plugtone.reply"
"""An ASGI extension of :class:`ZeroCopyHttpToolsProtocol`: ``{"type": "plugtone.reply",
"reply": reply}`` sends a whole in-memory :data:`Reply` in one write, as the fast path
does, instead of a start and a body message through uvicorn's header handling (the
answer to every cache miss of a boot storm)."""

CHUNK = 256 * 1024
"""Bytes read and sent per body message when the file is streamed rather than sent by
the kernel: large enough that a 30 MB image is ~120 thread hops, small enough that
1,000 concurrent downloads hold a few hundred MB at worst."""

SENDFILE_SLICE = 1024 * 1024
"""Bytes of the first ``loop.sendfile`` call of a response on the zero-copy path. Each
call costs a wake-up, a task and the loop's transport bookkeeping (measured: 1 MiB
slices took 60% more server CPU than 4 MiB ones on loopback), so a slice that went out
within a second is followed by one twice as large, up to :data:`SENDFILE_SLICE_MAX`."""

SENDFILE_SLICE_MAX = 16 * 1024 * 1024

SEND_STALL_TIMEOUT = 120.0
"""Seconds one slice may take before the phone is given up on. Slices grow only while
they go out fast, so a slow link keeps 1 MiB slices: slower than ~9 kB/s is a dead or
stuck client, not a slow link."""

MAX_IN_FLIGHT = 1000
"""Requests one HTTP listener lets wait at once (see
:attr:`ZeroCopyHttpToolsProtocol.max_in_flight`): each holds a task and a little memory,
and 1,000 misses or downloads already keep the worker threads and disk busy."""

_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})", re.ASCII)

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def create_phone_app(provisioner: Provisioner, digest: DigestAuthority | None = None) -> PhoneApp:
    """The ASGI app phones talk to; the same app serves HTTP and HTTPS.

    ``digest`` issues and checks nonces; by default under a key derived from the
    store's secret key, so every node serving the store accepts the others' nonces.
    """
    return PhoneApp(provisioner, digest)


Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes] | tuple[int, Headers, bytes, bytes]
"""A whole answer held in memory: status, headers (Content-Length included), body; and
optionally, fourth, the status line and those headers encoded (:func:`_encoded`), as a
memoized answer's replies carry them so that sending one again joins four pieces."""

_TEXT = b"text/plain; charset=utf-8"
_NO_STORE = (b"cache-control", b"no-store")
_NO_CACHE = (b"cache-control", b"no-cache")
SERVER_ERROR: Reply = (500, [(b"content-type", _TEXT), (b"content-length", b"21")],
                        b"Internal Server Error")  # fmt: skip
RETRY_AFTER = 5
"""Seconds a phone answered ``503`` is told to wait before asking again."""
BUSY_BODY = b"busy, retry later\n"
_BUSY: Reply = (503, [(b"retry-after", b"%d" % RETRY_AFTER), (b"content-type", _TEXT),
                      (b"content-length", b"%d" % len(BUSY_BODY))], BUSY_BODY)  # fmt: skip
_METHOD_NOT_ALLOWED: Reply = (405, [(b"allow", b"GET, HEAD, PUT"), (b"content-type", _TEXT),
                                    (b"content-length", b"18")], b"Method Not Allowed")  # fmt: skip


class PhoneApp:
    """A bare ASGI callable: ``GET``/``HEAD`` of any name answered by the resolver, ``PUT``
    of a declared upload name; anything else ``405``. No framework in the way: each
    request of a boot storm pays for what it needs and nothing more (routing, request
    and response objects cost more than the answer, measured with ``bench/http_vs_nginx.py``).

    :meth:`answer_now` is the same answer decided synchronously, for a server that can
    write it at once (:class:`ZeroCopyHttpToolsProtocol` does, for answers held in
    memory): no task, no ASGI messages. Both ways share :meth:`_reply`, so the bytes,
    and the event recorded, are the same.
    """

    def __init__(self, provisioner: Provisioner, digest: DigestAuthority | None = None) -> None:
        self.provisioner = provisioner
        self.digest = digest or DigestAuthority(StoreSecret(provisioner.resolver.store))
        self.acs: Any = None
        """The TR-069 ACS app (:mod:`plugtone.acs.endpoint`), answering ``/cwmp`` and below."""

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        if scope["path"].startswith(RCS_PREFIX):  # the redirection service (plugtone.redirect)
            return await rcs_answer(self.provisioner, scope, receive, send)
        if self.acs is not None and is_acs_path(scope["path"]):
            return await self.acs(scope, receive, send)
        method = scope["method"]
        if method == "GET" or method == "HEAD":
            await self.serve_file(_file_request(scope, self.digest), scope, receive, send)
        elif method == "PUT":
            await self.receive_upload(scope, receive, send)
        else:
            await _send_reply(send, _METHOD_NOT_ALLOWED)

    def answer_now(
        self, scope: MutableMapping[str, Any]
    ) -> Reply | Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]:
        """The whole answer to ``scope``, when it can be given without waiting (a cached
        answer held in memory, the sweep guard asking no wait); else the ASGI callable
        that gives it (a cache miss, a wait, a stored file, an upload). Whatever was
        decided here (the credentials checked, the answer noted with the guard) is
        carried into that callable, never done twice."""
        if self.acs is not None and is_acs_path(scope["path"]):
            return self.acs
        if scope["path"].startswith(RCS_PREFIX):  # answered by __call__, in a thread
            return self
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return self
        file_request = _file_request(scope, self.digest)
        provisioner = self.provisioner
        answer = provisioner.resolver.cached(file_request)
        if answer is None:
            return _Pending(self, file_request, None)
        answer, delay = provisioner.screen(file_request, answer)
        if delay:
            return _Pending(self, file_request, (answer, delay))
        return self._reply(file_request, answer, scope)

    def overloaded(self, scope: MutableMapping[str, Any], pending: Any) -> Reply:
        """The ``503`` of a request that would have to wait while the server is at
        capacity (:class:`ZeroCopyHttpToolsProtocol`), recorded as ``busy``: a phone
        retries after :data:`RETRY_AFTER` seconds, and those served meanwhile are not
        slowed by it."""
        file_request = getattr(pending, "request", None)
        answer = getattr(pending, "answer", None)
        if file_request is None:
            file_request = _file_request(scope, self.digest)
        if answer is not None:  # a stored file not sent is no download attempt
            answer = replace(answer, firmware_version=None)
        self.provisioner.finished(file_request, answer, "busy", detail="over capacity")
        return _BUSY

    async def serve_file(
        self, file_request: FileRequest, scope: MutableMapping[str, Any], receive: Receive,
        send: Send, screened: tuple[Answer, float] | None = None, missed: bool = False,
    ) -> None:  # fmt: skip
        if screened is None:
            answer = await self.provisioner.answer(file_request, missed=missed)
        else:
            answer, delay = screened
            await asyncio.sleep(delay)
        reply = self._reply(file_request, answer, scope)
        if isinstance(reply, StoredFileResponse):
            await reply(scope, receive, send)
        elif REPLY in scope.get("extensions", ()):
            await send({"type": REPLY, "reply": reply})
        else:
            await _send_reply(send, reply)

    def _reply(
        self, file_request: FileRequest, answer: Answer, scope: MutableMapping[str, Any]
    ) -> Reply | StoredFileResponse:
        """What ``answer`` becomes on HTTP, its event recorded (a stored file's is recorded
        once it is sent)."""
        provisioner = self.provisioner
        if answer.auth_failed and not answer.trust.privileged:
            # From a trusted network or an open window the answer stands: a phone whose
            # login went stale must still reach the file that brings it the new one.
            return self._challenge(file_request, answer, "credentials refused")
        if answer.personal and answer.trust is Trust.STRANGER:
            return self._challenge(file_request, answer, answer.detail or "stranger")
        content = answer.content
        if answer.status is Status.OK and answer.file is not None:
            return StoredFileResponse(provisioner, file_request, answer)
        if answer.status is not Status.OK or content is None:
            status = "refused" if answer.status is Status.BAD_PATH else "not_found"
            provisioner.finished(file_request, answer, status)
            return 404, [(b"content-type", _TEXT), (b"content-length", b"10")], NOT_FOUND
        replies = answer.wire.get("http")
        if replies is None:
            replies = answer.wire["http"] = _replies(answer, content)
        etag, ok, not_modified = replies
        wanted = _header(scope, b"if-none-match")
        if wanted is not None and (wanted == etag or etag in _etags(wanted)):
            provisioner.finished(file_request, answer, "not_modified")
            return not_modified
        sent = 0 if scope["method"] == "HEAD" else len(content)
        provisioner.finished(file_request, answer, "ok", sent)
        return ok

    def _challenge(self, file_request: FileRequest, answer: Answer, detail: str) -> Reply:
        credentials = file_request.credentials
        stale = isinstance(credentials, DigestCredentials) and credentials.stale
        if stale:
            detail = "stale nonce"
        self.provisioner.finished(file_request, answer, "challenged", detail=detail)
        challenge = self.digest.challenge(time.time(), stale=stale).encode("latin-1")
        return 401, [(b"www-authenticate", challenge), _NO_STORE, (b"content-type", _TEXT),
                     (b"content-length", b"%d" % len(CHALLENGE_BODY))], CHALLENGE_BODY  # fmt: skip

    async def receive_upload(
        self, scope: MutableMapping[str, Any], receive: Receive, send: Send
    ) -> None:
        """``PUT`` of a name a plug-in declares as an upload (logs, overrides, contacts),
        decided on the head alone: nothing of the body is read before."""
        provisioner = self.provisioner
        file_request = _file_request(scope, self.digest)
        target, trust = await provisioner.authorize_upload(file_request)
        if target is None:
            # The event says at which trust level it was refused, and names no MAC.
            refused = Answer(Status.NOT_FOUND, file_request.path, trust=trust)
            if not trust.privileged:
                await _send_reply(send, self._challenge(file_request, refused,
                                                        "upload by a stranger"))  # fmt: skip
                return
            provisioner.finished(file_request, refused, "refused", detail="upload not allowed")
            await _send_reply(send, _plain(403, REFUSED_UPLOAD))
            return
        declared = _header(scope, b"content-length") or ""
        too_large = Answer(Status.NOT_FOUND, file_request.path, trust=trust)
        if declared.isdigit() and int(declared) > target.max_bytes:
            provisioner.finished(file_request, too_large, "refused", detail="upload too large")
            await _send_reply(send, _plain(413, b"too large\n"))
            return
        content = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the phone went away before its upload was whole: nothing kept
            content += message.get("body", b"")
            if len(content) > target.max_bytes:
                provisioner.finished(file_request, too_large, "refused",
                                     detail="upload too large")  # fmt: skip
                await _send_reply(send, _plain(413, b"too large\n"))
                return
            if not message.get("more_body", False):
                break
        try:
            await provisioner.store_upload(file_request, target, bytes(content), trust=trust)
        except UploadTooLarge:
            await _send_reply(send, _plain(413, b"too large\n"))
            return
        await _send_reply(send, (204, [], b""))


class _Pending:
    """What :meth:`PhoneApp.answer_now` could not finish: the rest of it, as an ASGI
    callable, with what was decided so far."""

    __slots__ = ("app", "request", "screened")

    def __init__(self, app: PhoneApp, request: FileRequest,
                 screened: tuple[Answer, float] | None) -> None:  # fmt: skip
        self.app, self.request, self.screened = app, request, screened

    @property
    def answer(self) -> Answer | None:
        return self.screened[0] if self.screened is not None else None

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        # Without an answer, the cache was tried for this request (by answer_now) and missed.
        await self.app.serve_file(self.request, scope, receive, send, self.screened,
                                  missed=self.screened is None)  # fmt: skip


def _replies(answer: Answer, content: bytes) -> tuple[str, Reply, Reply]:
    """The ETag of an in-memory answer and its ``200`` and ``304``, encoded once per
    answer (kept in ``answer.wire``): a memoized answer is sent over and over, and
    hashing its bytes and building its headers was a tenth of a request's CPU."""
    etag = answer.etag or ""
    tag = etag.encode("latin-1")
    kind = _content_type(answer.content_type)
    length = b"%d" % len(content)
    ok = _encoded(200, [(b"etag", tag), _NO_CACHE, (b"content-length", length),
                        (b"content-type", kind)], content)  # fmt: skip
    return etag, ok, _encoded(304, [(b"etag", tag), _NO_CACHE], b"")


def _encoded(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Reply:
    """A :data:`Reply` carrying its status line and headers encoded."""
    return status, headers, body, STATUS_LINE[status] + _header_lines(headers)


def _header_lines(headers: list[tuple[bytes, bytes]]) -> bytes:
    return b"".join([b"%s: %s\r\n" % pair for pair in headers])


def _plain(status: int, body: bytes) -> Reply:
    return status, [(b"content-length", b"%d" % len(body))], body


@lru_cache(maxsize=64)
def _content_type(media_type: str) -> bytes:
    """The Content-Type of an in-memory answer (text ones name their charset)."""
    if media_type.startswith("text/") and "charset=" not in media_type.lower():
        media_type += "; charset=utf-8"
    return media_type.encode("latin-1")


def _header(scope: MutableMapping[str, Any], name: bytes) -> str | None:
    """The first ``name`` header of the request (names are lower case in ASGI)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_reply(send: Send, reply: Reply) -> None:
    await send({"type": "http.response.start", "status": reply[0], "headers": reply[1]})
    await send({"type": "http.response.body", "body": reply[2]})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: the provisioner belongs to whoever runs the app."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


KEY_CHECK_INTERVAL = 2.0
"""Seconds between looks at the store's key file for a rotation (one ``stat``)."""


class StoreSecret:
    """The store's current secret key, for :class:`DigestAuthority`.

    The store reads its key file once and again only when it meets a value sealed with
    a key it lacks; nonces must not wait for that, or a rotated key would go on
    signing and accepting nonces here. So the key file is looked at every
    :data:`KEY_CHECK_INTERVAL` seconds, and when it changed the store's keys are read
    again (which the store would do anyway at its next sealed value): after ``plugtone
    rotate-key`` every earlier nonce is stale. A store with no key at all gets a key of
    this process alone (its nonces then hold on this node only).
    """

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = store.keys
        self.clock = clock
        self._fallback = secrets.token_bytes(32)
        self._checked = float("-inf")
        self._stamp: tuple[int, int, int] | None = None

    def __call__(self) -> bytes:
        key_file = self.keys.key_file
        if key_file is not None and not self.keys.from_environment:
            now = self.clock()
            if now - self._checked >= KEY_CHECK_INTERVAL:
                self._checked = now
                try:
                    info = key_file.stat()
                    stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
                except OSError:
                    stamp = None
                if self._stamp is not None and stamp != self._stamp:
                    self.keys.reset()
                self._stamp = stamp
        try:
            return self.keys.keyring().current
        except SecretKeyError:
            return self._fallback


def _file_request(scope: MutableMapping[str, Any], digest: DigestAuthority) -> FileRequest:
    """What the resolver needs to know of an HTTP request, and nothing more."""
    scheme = scope.get("scheme") or "http"
    secure = scheme == "https"
    user_agent: str | None = None
    authorization: list[str] = []
    for name, value in scope["headers"]:
        if name == b"user-agent":
            if user_agent is None:
                user_agent = value.decode("latin-1")
        elif name == b"authorization":
            authorization.append(value.decode("latin-1"))
    credentials = None
    if len(authorization) > 1:
        credentials = RejectedCredentials("several Authorization headers")
    elif authorization:
        credentials = digest.credentials(
            authorization[0], method=scope["method"], target=_target(scope), secure=secure,
            now=time.time(),
        )  # fmt: skip
    macs: frozenset[str] = frozenset()
    if secure:
        chain = scope.get("extensions", {}).get(TLS, {}).get("client_cert_chain") or ()
        if chain:
            macs = _pem_macs(chain[0])
    client = scope.get("client")
    return FileRequest(
        path=_path(scope["path"]),
        transport=scheme,
        client_address=client[0] if client else None,
        user_agent=user_agent,
        credentials=credentials,
        certificate_macs=macs,
    )


_ODD = re.compile(r"[?#\\\t\r\n]")
_ESCAPES = {"?": "%3F", "#": "%23", "\\": "%5C", "\t": "", "\r": "", "\n": ""}


def _path(path: str) -> str:
    """The decoded path as the resolver has always been given it (what Starlette's
    ``request.url.path`` made of it: ``?``, ``#`` and ``\\`` escaped, tabs and line
    breaks dropped, as ``urllib.parse.urlsplit`` drops them)."""
    if _ODD.search(path) is None:
        return path
    return _ODD.sub(lambda found: _ESCAPES[found.group()], path)


def _target(scope: MutableMapping[str, Any]) -> str:
    """The request target as the client sent it (a Digest ``uri`` must be it)."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string") or b""
    return (raw + b"?" + query if query else raw).decode("latin-1")


@lru_cache(maxsize=256)
def _pem_macs(pem: str) -> frozenset[str]:
    """The MACs of a verified client certificate, read once per certificate (only
    certificates that a configured CA signed get here, so the cache holds phones')."""
    return certificate_macs(ssl.PEM_cert_to_DER_cert(pem))


def _etags(header: str) -> set[str]:
    tags = {tag.strip() for tag in header.split(",") if tag.strip()}
    return tags | {tag[2:] for tag in tags if tag.startswith("W/")}


# --------------------------------------------------------------------------------------
# Stored files
# --------------------------------------------------------------------------------------


class Unsatisfiable:
    """:func:`parse_range`'s verdict for a range that lies wholly beyond the file."""


UNSATISFIABLE = Unsatisfiable()


def parse_range(header: str, size: int) -> tuple[int, int] | Unsatisfiable | None:
    """The one byte range ``header`` asks of a ``size``-byte file, as ``(first, last)``
    inclusive; :data:`UNSATISFIABLE` for 416; ``None`` to ignore the header and send the
    whole file (another unit, several ranges, or a header that does not parse, as RFC
    9110 section 14.2 allows)."""
    found = _RANGE.fullmatch(header.replace(" ", "").replace("\t", ""))
    if found is None:
        return None
    first_text, last_text = found.groups()
    if not first_text:
        if not last_text:
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None  # invalid: the header is ignored
    if first >= size:
        return UNSATISFIABLE
    return first, min(last, size - 1)


class StoredFileResponse:
    """A stored file (firmware) sent from disk: conditional, ranged, zero-copy when the
    server offers it, and logged once the body is out (see the module docstring)."""

    def __init__(self, provisioner: Provisioner, request: FileRequest, answer: Answer) -> None:
        assert answer.file is not None
        self.provisioner = provisioner
        self.request = request
        self.answer = answer
        self.file = answer.file

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        etag = self.answer.etag or ""
        common = [(b"etag", etag.encode()), (b"cache-control", b"no-cache"),
                  (b"accept-ranges", b"bytes")]  # fmt: skip
        if etag and etag in _etags(headers.get("if-none-match", "")):
            self.provisioner.finished(self.request, self.answer, "not_modified")
            await _respond(send, 304, common)
            return
        size = self.file.size
        try:
            handle = open(self.file.path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError as problem:
            await self._lost(send, f"stored file unreadable: {problem.strerror or problem}")
            return
        with handle:
            on_disk = os.fstat(handle.fileno()).st_size
            if on_disk != size:
                await self._lost(send, f"stored file is {on_disk} bytes, expected {size}")
                return
            await self._send(scope, receive, send, headers, common, handle)

    async def _send(self, scope, receive: Receive, send: Send, headers: dict[str, str],
                    common: list[tuple[bytes, bytes]], handle) -> None:  # fmt: skip
        size = self.file.size
        status, first, length = 200, 0, size
        wanted = headers.get("range") if scope["method"] == "GET" else None
        if wanted is not None and headers.get("if-range", self.answer.etag) == self.answer.etag:
            chosen = parse_range(wanted, size)
            if chosen is UNSATISFIABLE:
                self.provisioner.finished(self.request, self.answer, "unsatisfiable")
                await _respond(send, 416, [*common, (b"content-range", b"bytes */%d" % size)])
                return
            if isinstance(chosen, tuple):
                status, first, length = 206, chosen[0], chosen[1] - chosen[0] + 1
        response = [*common, (b"content-type", self.answer.content_type.encode()),
                    (b"content-length", b"%d" % length)]  # fmt: skip
        if status == 206:
            response.append(
                (b"content-range", b"bytes %d-%d/%d" % (first, first + length - 1, size))
            )
        await send({"type": "http.response.start", "status": status, "headers": response})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            self.provisioner.finished(self.request, self.answer, "head")
            return
        sent = 0
        try:
            if ZEROCOPY in scope.get("extensions", {}):
                handle.seek(first)
                await send({"type": ZEROCOPY, "file": handle, "offset": first, "count": length})
                sent = handle.tell() - first
            else:
                sent = await _stream(handle.fileno(), first, length, receive, send)
        finally:
            complete = "ok" if status == 200 else "partial"
            outcome = complete if sent == length else "incomplete"
            self.provisioner.finished(self.request, self.answer, outcome, sent)

    async def _lost(self, send: Send, detail: str) -> None:
        """The resolver's file is not what it promised: the plain 404, and say why."""
        log.error("cannot serve %s from %s: %s", self.request.path, self.file.path, detail)
        self.provisioner.finished(self.request, self.answer, "error", 0, detail)
        await _respond(send, 404, [(b"content-type", b"text/plain")], NOT_FOUND)


def _headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    """The request headers a stored-file answer looks at (the last of any repeated one)."""
    wanted = (b"if-none-match", b"range", b"if-range")
    return {name.decode(): value.decode("latin-1")
            for name, value in scope["headers"] if name in wanted}  # fmt: skip


async def _respond(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                   body: bytes = b"") -> None:  # fmt: skip
    headers = [*headers, (b"content-length", b"%d" % len(body))] if status != 304 else headers
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(fd: int, offset: int, count: int, receive: Receive, send: Send) -> int:
    """Send ``count`` bytes of ``fd`` from ``offset`` as body messages; the bytes sent.

    Reads run in a worker thread (a cold disk must not stall every phone on the loop),
    into one buffer per download; the chunk sent is copied from it on the loop. Bytes
    allocated in worker threads come from glibc's per-thread arenas, which kept growing
    with the file size (measured: +4 MB of peak memory for 8 HTTPS downloads of a 40 MB
    file against a 4 MB one; flat this way). uvicorn's ``send`` waits while the socket
    is above its high-water mark, which is the back-pressure; a disconnect makes ``send``
    return at once, so ``receive`` is watched to stop reading a file nobody will get.
    """
    gone = asyncio.ensure_future(_disconnected(receive))
    buffer = memoryview(bytearray(min(CHUNK, count)))
    sent = 0
    try:
        while sent < count and not gone.done():
            wanted = buffer[: min(CHUNK, count - sent)]
            read = await asyncio.to_thread(os.preadv, fd, [wanted], offset + sent)
            if not read:
                break  # the file shrank under us: the response is cut short
            chunk = bytes(buffer[:read])
            last = sent + len(chunk) == count
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
            if gone.done():
                break
            sent += len(chunk)
        if count == 0:
            await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
    return sent


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# --------------------------------------------------------------------------------------
# uvicorn with zero-copy
# --------------------------------------------------------------------------------------


class ZeroCopyHttpToolsProtocol(BoundedHttpToolsProtocol):
    """uvicorn's httptools protocol plus the ASGI ``http.response.zerocopy`` extension,
    with the head caps of :mod:`plugtone.servers.http_limits` (414, 431).

    Message: ``{"type": "http.response.zerocopy", "file": f, "offset": o, "count": n,
    "more_body": False}``, after a start message that declared a Content-Length. ``f``
    is a file object opened for binary reading; on return its position is ``o`` plus
    the bytes actually sent, which is how the app learns whether the phone got them all.

    Only plain-TCP connections on a loop with native sendfile are offered the extension
    (see the module docstring). TLS connections carry the ASGI ``tls`` extension
    instead, with the client certificate the handshake verified (:func:`tls_extension`).
    Written against uvicorn 0.54's internals (the request cycle's fields), which the HTTP
    tests exercise.
    """

    max_in_flight = MAX_IN_FLIGHT
    """Requests of this server that may wait at once (a cache miss, a sweep guard's
    delay, a firmware download); one more is answered ``503`` with ``Retry-After``.
    Answers given at once (cached, in memory) never count and are never refused."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        secure = self.scheme == "https"
        self.zerocopy = not secure and _can_sendfile(self.loop, transport)
        self.tls_extension = tls_extension(transport) if secure else None
        self._decided: Any = None
        self._answer_now = getattr(self.app, "answer_now", None)

    handed: Any = None
    """What :class:`~plugtone.servers.http_front.PhoneHttpProtocol` decided for the
    request it handed this connection over at (``None``: nothing yet): the callable
    that answers it, used instead of deciding again."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        extensions: dict[str, Any] = {REPLY: {}}
        if self.zerocopy:
            extensions[ZEROCOPY] = {}
        if self.tls_extension is not None:
            extensions[TLS] = self.tls_extension
        self.scope["extensions"] = extensions  # type: ignore[typeddict-unknown-key]

    def on_headers_complete(self) -> None:
        """A ``GET`` or ``HEAD`` the app answers at once (:meth:`PhoneApp.answer_now`) is
        answered here, before uvicorn builds its request cycle (an object, an
        ``asyncio.Event`` and a parsed URL per request, a fifth of a cached answer's
        CPU): one write, and the connection waits for the next request. Anything
        else, or a request behind another still being answered, goes uvicorn's way,
        with what was decided carried into it."""
        self._in_head = False
        handed = self.handed
        if handed is not None:
            self.handed = None
            self._decided = handed
            super().on_headers_complete()
            return
        cycle = self.cycle
        answer_now = self._answer_now
        parser = self.parser
        if (
            answer_now is not None
            and (cycle is None or cycle.response_complete)
            and not self.flow.write_paused
        ):
            method = parser.get_method()
            if (method == b"GET" or method == b"HEAD") and not parser.should_upgrade():
                scope = self.scope
                scope["method"] = method = "GET" if method == b"GET" else "HEAD"
                version = parser.get_http_version()
                if version != "1.1":
                    scope["http_version"] = version
                keep_alive = version != "1.0" and parser.should_keep_alive()
                url = self.url
                if b"?" in url or b"%" in url or b"#" in url or not url.startswith(b"/"):
                    parsed = httptools.parse_url(url)
                    raw_path, query = parsed.path, parsed.query or b""
                else:
                    raw_path, query = url, b""
                path = raw_path.decode("ascii")
                if "%" in path:
                    path = urllib.parse.unquote(path)
                scope["path"], scope["raw_path"], scope["query_string"] = path, raw_path, query
                try:
                    decided = answer_now(scope)
                except Exception:
                    log.exception("cannot answer %s", path)
                    decided, keep_alive = SERVER_ERROR, False
                if type(decided) is not tuple and len(self.tasks) >= self.max_in_flight:
                    decided = self.app.overloaded(scope, decided)
                if type(decided) is tuple:
                    self.cycle = _ANSWERED
                    self._write(decided, keep_alive, method)
                    self.server_state.total_requests += 1
                    if keep_alive:
                        self._idle_since = self.loop.time()
                    else:
                        self.transport.close()
                    return
                self._decided = decided
        super().on_headers_complete()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app) -> None:  # type: ignore[override]
        """Answer at once what the app can answer at once (:meth:`PhoneApp.answer_now`):
        one write of head and body, no task; run the app's callable for the rest."""
        decided = self._decided
        if decided is not None:  # decided in on_headers_complete, for this very request
            self._decided = None
            app = decided
        elif self._answer_now is not None and app is self.app and not self.flow.write_paused:
            try:
                decided = self._answer_now(cycle.scope)
            except Exception:
                log.exception("cannot answer %s", cycle.scope.get("path"))
                cycle.keep_alive = False
                decided = SERVER_ERROR
            if type(decided) is not tuple and len(self.tasks) >= self.max_in_flight:
                decided = app.overloaded(cycle.scope, decided)
            if type(decided) is tuple:
                self._write_reply(cycle, decided)
                return
            app = decided
        if type(cycle) is RequestResponseCycle:
            # The cycle is made inside uvicorn's method and its task not yet started, so
            # swapping its class here changes which ``send`` the app is given.
            cycle.__class__ = _ZeroCopyCycle
        super()._start_asgi_task(cycle, app)

    def _write_reply(self, cycle: RequestResponseCycle, reply: Reply) -> None:
        """What uvicorn's ``send`` makes of a start and a body message, in one write."""
        cycle.response_started = cycle.response_complete = True
        self._write(reply, cycle.keep_alive, cycle.scope["method"])
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()

    def _write(self, reply: Reply, keep_alive: bool, method: str) -> None:
        self.transport.write(wire_reply(reply, self.server_state, keep_alive, method))


def wire_reply(reply: Reply, server_state: Any, keep_alive: bool, method: str) -> bytes:
    """Status line, headers (the server's own, such as Date, after the answer's), the
    blank line and the body, as one piece for one ``write``: never half an answer."""
    head = reply[3] if len(reply) == 4 else STATUS_LINE[reply[0]] + _header_lines(reply[1])
    return b"".join((
        head, _default_head(server_state),
        b"\r\n" if keep_alive else b"connection: close\r\n\r\n",
        reply[2] if method != "HEAD" else b"",
    ))  # fmt: skip


class _Answered:
    """The request cycle of a request answered in
    :meth:`ZeroCopyHttpToolsProtocol.on_headers_complete` (uvicorn's parser callbacks
    and shutdown look at the connection's last cycle)."""

    __slots__ = ()
    response_complete = True
    response_started = True
    disconnected = False
    keep_alive = True

    class message_event:  # stands for an asyncio.Event nobody waits on
        @staticmethod
        def set() -> None:
            pass


_ANSWERED: Any = _Answered()


def _default_head(state: Any) -> bytes:
    """The server's own header lines (uvicorn's ``default_headers``: Date), encoded once
    per list (uvicorn builds a new one each second)."""
    headers = state.default_headers
    cached = state.__dict__.get("plugtone_default_head")
    if cached is None or cached[0] is not headers:
        cached = state.__dict__["plugtone_default_head"] = (headers, _header_lines(headers))
    return cached[1]


_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(transport: asyncio.Transport) -> dict[str, Any]:
    """The ASGI ``tls`` extension of a connection, read once when it is made (asyncio
    makes it after the handshake, so the client certificate, if any, is known). Python's
    ``ssl`` gives the peer's own certificate only, and only once it was verified
    against the configured CAs (a certificate that fails verification fails the
    handshake): ``client_cert_chain`` holds that one or nothing."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    version = ssl_object.version() if ssl_object is not None else None
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(version or ""),
        "cipher_suite": None,
    }


class _ZeroCopyCycle(RequestResponseCycle):
    """A request cycle whose ``send`` also takes ``http.response.zerocopy`` and
    ``plugtone.reply`` (:data:`REPLY`) messages."""

    async def send(self, message) -> None:  # type: ignore[override]
        if message["type"] == REPLY:
            await self._send_whole(message["reply"])
            return
        if message["type"] != ZEROCOPY:
            await super().send(message)
            return
        if not self.response_started or self.response_complete or self.chunked_encoding:
            raise RuntimeError("zerocopy needs a started response with a Content-Length")
        file = message["file"]
        fd = file.fileno()
        offset = message.get("offset")
        if offset is None:
            offset = os.lseek(fd, 0, os.SEEK_CUR)
        count = message.get("count")
        if count is None:
            count = max(0, os.fstat(fd).st_size - offset)
        if self.scope["method"] == "HEAD":
            count = self.expected_content_length = 0
        if count > self.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        os.lseek(fd, offset, os.SEEK_SET)
        sent = 0
        if count and not self.disconnected:
            if self.flow.write_paused:
                await self.flow.drain()
            sent = await _sendfile(self.transport, file, offset, count)
        os.lseek(fd, offset + sent, os.SEEK_SET)
        if sent < count:
            self.disconnected = True  # the phone went away or stalled: so is the response
            self.transport.close()
            return
        self.expected_content_length -= count
        if not message.get("more_body", False):
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()

    async def _send_whole(self, reply: Reply) -> None:
        """A whole in-memory answer in one write (the fast path's bytes, the cycle's
        own Date), then the cycle ends as uvicorn's would."""
        if self.response_started:
            raise RuntimeError("a reply after the response started")
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        self.response_started = self.response_complete = True
        if not self.disconnected:
            head = reply[3] if len(reply) == 4 else STATUS_LINE[reply[0]] + _header_lines(reply[1])
            self.transport.write(b"".join((
                head, _header_lines(self.default_headers),
                b"\r\n" if self.keep_alive else b"connection: close\r\n\r\n",
                reply[2] if self.scope["method"] != "HEAD" else b"",
            )))  # fmt: skip
            if not self.keep_alive:
                self.transport.close()
        self.message_event.set()
        self.on_response()


def _can_sendfile(loop: asyncio.AbstractEventLoop, transport: asyncio.Transport) -> bool:
    """Whether a plain-TCP connection's answers can be handed to ``os.sendfile``: the
    standard loop's ``loop.sendfile`` does it, and on uvloop (which has none) plugtone
    does it on a duplicate of the socket (:func:`_sendfile_beside`)."""
    if isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop):
        return True
    sock = transport.get_extra_info("socket")
    return sock is not None and hasattr(sock, "fileno") and hasattr(os, "sendfile")


async def _sendfile(transport: asyncio.Transport, file, offset: int, count: int) -> int:
    """``os.sendfile`` through the loop, slice by slice; the bytes the kernel took."""
    loop = asyncio.get_running_loop()
    if not isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop):
        return await _sendfile_beside(loop, transport, file, offset, count)
    fd = file.fileno()
    sent, slice_size = 0, SENDFILE_SLICE
    while sent < count:
        size = min(slice_size, count - sent)
        began = loop.time()
        try:
            done = await asyncio.wait_for(
                loop.sendfile(transport, file, offset + sent, size, fallback=False),
                SEND_STALL_TIMEOUT,
            )
        except (OSError, RuntimeError, TimeoutError):
            # The loop leaves the file position after what it managed to send.
            return max(sent, os.lseek(fd, 0, os.SEEK_CUR) - offset)
        sent += done
        if done < size:
            break  # end of file came early: the file shrank under us
        if loop.time() - began < 1.0:
            slice_size = min(2 * slice_size, SENDFILE_SLICE_MAX)
    return sent


async def _sendfile_beside(loop: asyncio.AbstractEventLoop, transport: asyncio.Transport, file,
                           offset: int, count: int) -> int:  # fmt: skip
    """``os.sendfile`` on a duplicate of the connection's socket, for a loop without
    native ``loop.sendfile`` (uvloop); the bytes the kernel took.

    The transport's own buffer (the head just written) goes out first; then the kernel
    copies page cache to socket as on the standard loop, and the duplicate (its own
    descriptor, the same non-blocking socket) is watched for room with ``add_writer``,
    which uvloop refuses for a descriptor its transport owns. Each wait for room may
    last :data:`SEND_STALL_TIMEOUT`, as each slice may on the standard loop.
    """
    waited = 0.0
    while transport.get_write_buffer_size():
        if transport.is_closing() or waited > SEND_STALL_TIMEOUT:
            return 0
        await asyncio.sleep(0.002)
        waited += 0.002
    descriptor = os.dup(transport.get_extra_info("socket").fileno())
    source, sent = file.fileno(), 0
    try:
        while sent < count:
            try:
                done = os.sendfile(descriptor, source, offset + sent,
                                   min(SENDFILE_SLICE_MAX, count - sent))  # fmt: skip
            except BlockingIOError:
                if not await _room(loop, descriptor):
                    break
                continue
            except OSError:
                break  # the phone went away
            if done == 0:
                break  # end of file came early: the file shrank under us
            sent += done
    finally:
        os.close(descriptor)
    return sent


async def _room(loop: asyncio.AbstractEventLoop, descriptor: int) -> bool:
    """Wait until ``descriptor`` can be written to; ``False`` after :data:`SEND_STALL_TIMEOUT`."""
    ready = loop.create_future()
    loop.add_writer(descriptor, lambda: ready.done() or ready.set_result(None))
    try:
        await asyncio.wait_for(ready, SEND_STALL_TIMEOUT)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_writer(descriptor)

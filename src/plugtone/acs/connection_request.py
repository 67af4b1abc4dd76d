"""Connection requests: asking a CPE to open a CWMP session now.

Two ways, as TR-069 Amendment 6 §3.2.2 and TR-111 part 2 (Annex G) describe them:

- **HTTP**: a GET of the CPE's ``ManagementServer.ConnectionRequestURL``, authenticated
  with the ``ConnectionRequestUsername``/``Password`` the ACS gave it. The CPE challenges
  with Digest (MD5, ``qop=auth``); 200 or 204 means it will call within about 30 s,
  503 that it is busy (in a session already). Basic is sent only when the CPE asks for
  it and the URL is https, or the caller allows it for an old CPE on a trusted network:
  over plain HTTP it would hand the password to anyone on the path.
  :func:`http_connection_request` returns a :class:`ConnectionRequestResult`, never
  raises for what the network or the CPE does.
- **UDP** (TR-111, for CPEs behind NAT): an HTTP-like GET in one datagram to the
  ``UDPConnectionRequestAddress`` the CPE learnt from the STUN server, signed with
  HMAC-SHA1 keyed with the connection-request password over ``ts ‖ id ‖ un ‖ cn``, sent
  several times (UDP may lose it; the CPE ignores repeats by ``id``). It must leave from
  the STUN server's own port, or the CPE's NAT drops it (GenieACS
  ``lib/connection-request.ts``; FreeACS ``Kick.java``): pass the STUN listener's
  ``sendto``. :func:`udp_connection_request` builds the datagram;
  :func:`parse_udp_connection_request` reads one back and checks its signature (the CPE
  side, for emulators and tests).

The HTTP client is written here, small, on asyncio streams, so the Digest exchange
stays on one TCP connection (some CPEs bind their nonce to it) and every timeout is
ours. Passwords never appear in results or logs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import hashlib
import hmac
import logging
import secrets
import ssl as ssl_module
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_TIMEOUT",
    "UDP_REPEATS",
    "Challenge",
    "ConnectionRequestResult",
    "Outcome",
    "UdpConnectionRequest",
    "digest_authorization",
    "http_connection_request",
    "parse_challenges",
    "parse_udp_connection_request",
    "send_udp_connection_request",
    "udp_connection_request",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
"""Seconds for the whole HTTP exchange (connect, challenge, answer)."""
UDP_REPEATS = 3
"""Copies of a UDP connection request (GenieACS and FreeACS both send 3)."""
_MAX_HEADER_BYTES = 32 * 1024
_MAX_BODY_BYTES = 256 * 1024


class Outcome(enum.Enum):
    """How a connection request ended."""

    ACCEPTED = "accepted"
    """200/204: the CPE will start a session."""
    BUSY = "busy"
    """503: the CPE is in a session already (or its proxy cannot reach it)."""
    AUTH_FAILED = "auth-failed"
    """401 again after our credentials, or a challenge we cannot answer."""
    BASIC_REFUSED = "basic-refused"
    """The CPE wants Basic over plain HTTP, which we do not send unless allowed."""
    UNEXPECTED_STATUS = "unexpected-status"
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    """Connection refused, no route, DNS failure, TLS failure, connection closed."""
    BAD_URL = "bad-url"
    SENT = "sent"
    """UDP: the datagrams left (whether any arrived only the next Inform tells)."""


@dataclass(frozen=True)
class ConnectionRequestResult:
    """What happened, for the task's status line and the logs (no secret in it)."""

    outcome: Outcome
    message: str
    status: int | None = None
    scheme: str | None = None
    """``digest``, ``basic`` or None (no authentication asked)."""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.SENT)


# --------------------------------------------------------------------------------------
# WWW-Authenticate and Digest (RFC 7235, RFC 7616, RFC 2617)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    """One challenge of a WWW-Authenticate header: its scheme (lower case) and params
    (names lower case, values unquoted)."""

    scheme: str
    params: dict[str, str]


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t":
        position += 1
    return position


def _token(text: str, position: int) -> tuple[str, int]:
    start = position
    while position < len(text) and text[position] not in ' \t,="':
        position += 1
    return text[start:position], position


def _quoted(text: str, position: int) -> tuple[str, int]:
    assert text[position] == '"'
    position += 1
    value = []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            value.append(text[position + 1])
            position += 2
            continue
        if char == '"':
            return "".join(value), position + 1
        value.append(char)
        position += 1
    raise ValueError("unterminated quoted string")


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """Every challenge in the WWW-Authenticate header values (several may share one
    header, separated by commas, as RFC 7235 allows). Raises ValueError when unreadable."""
    challenges: list[Challenge] = []
    for header in headers:
        text = header.strip()
        position = 0
        current: Challenge | None = None
        comma_since_scheme = False
        while position < len(text):
            position = _skip_spaces(text, position)
            if position < len(text) and text[position] == ",":
                comma_since_scheme = True
                position += 1
                continue
            name, after = _token(text, position)
            if not name:
                raise ValueError(f"unreadable WWW-Authenticate: {header[:80]!r}")
            look = _skip_spaces(text, after)
            if look < len(text) and text[look] == "=":
                if current is None:
                    raise ValueError("auth-param before any scheme")
                value_at = _skip_spaces(text, look + 1)
                if value_at < len(text) and text[value_at] == '"':
                    value, position = _quoted(text, value_at)
                else:
                    value, position = _token(text, value_at)
                current.params[name.lower()] = value
                continue
            position = after
            if current is not None and not comma_since_scheme and not current.params:
                current.params["token68"] = name  # "Negotiate abc": no auth-params
                continue
            current = Challenge(name.lower(), {})
            challenges.append(current)
            comma_since_scheme = False
    return challenges


_HASHES: dict[str, Callable[[bytes], str]] = {
    "md5": lambda data: hashlib.md5(data).hexdigest(),
    "sha-256": lambda data: hashlib.sha256(data).hexdigest(),
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_authorization(
    challenge: Challenge,
    *,
    username: str,
    password: str,
    method: str,
    uri: str,
    cnonce: str | None = None,
    nc: int = 1,
) -> str:
    """The ``Authorization`` value answering a Digest challenge (RFC 7616 §3.4).

    MD5 and SHA-256, each optionally ``-sess``; ``qop=auth`` when offered (else
    ``auth-int``, which for a GET without body hashes the empty entity), and the
    RFC 2069 form when the challenge names no qop. Raises ValueError for an
    algorithm it does not know or a challenge without nonce.
    """
    params = challenge.params
    algorithm = params.get("algorithm", "MD5")
    base = algorithm.lower().removesuffix("-sess")
    hash_ = _HASHES.get(base)
    if hash_ is None:
        raise ValueError(f"Digest algorithm {algorithm!r} is not supported")
    nonce = params.get("nonce")
    if not nonce:
        raise ValueError("Digest challenge without nonce")
    realm = params.get("realm", "")
    cnonce = cnonce or secrets.token_hex(16)
    offered = {item.strip().lower() for item in params.get("qop", "").split(",") if item.strip()}
    qop = "auth" if "auth" in offered else ("auth-int" if "auth-int" in offered else None)
    ha1 = hash_(f"{username}:{realm}:{password}".encode())
    if algorithm.lower().endswith("-sess"):
        ha1 = hash_(f"{ha1}:{nonce}:{cnonce}".encode())
    if qop == "auth-int":
        ha2 = hash_(f"{method}:{uri}:{hash_(b'')}".encode())
    else:
        ha2 = hash_(f"{method}:{uri}".encode())
    nc_text = f"{nc:08x}"
    if qop is None:
        response = hash_(f"{ha1}:{nonce}:{ha2}".encode())
    else:
        response = hash_(f"{ha1}:{nonce}:{nc_text}:{cnonce}:{qop}:{ha2}".encode())
    parts = [
        f"username={_quote(username)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"algorithm={algorithm}",
        f"response={_quote(response)}",
    ]
    if "opaque" in params:
        parts.append(f"opaque={_quote(params['opaque'])}")
    if qop is not None:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={_quote(cnonce)}"]
    return "Digest " + ", ".join(parts)


def _pick_digest(challenges: list[Challenge]) -> Challenge | None:
    """SHA-256 before MD5 when a CPE offers both (RFC 7616 §3.7), unknown ones skipped."""
    usable = [
        challenge
        for challenge in challenges
        if challenge.scheme == "digest"
        and challenge.params.get("algorithm", "MD5").lower().removesuffix("-sess") in _HASHES
    ]
    usable.sort(
        key=lambda c: 0 if c.params.get("algorithm", "MD5").lower().startswith("sha") else 1
    )
    return usable[0] if usable else None


# --------------------------------------------------------------------------------------
# A minimal HTTP/1.1 GET
# --------------------------------------------------------------------------------------


class _Closed(Exception):
    """The CPE closed the connection before a whole response."""


@dataclass
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    reusable: bool

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


async def _read_response(reader: asyncio.StreamReader) -> _Response:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        # Some CPEs end their headers with bare LFs.
        if b"\n\n" in error.partial:
            head = error.partial
        else:
            raise _Closed("the CPE closed the connection without answering") from None
    except asyncio.LimitOverrunError:
        raise _Closed("response headers too large") from None
    if len(head) > _MAX_HEADER_BYTES:
        raise _Closed("response headers too large")
    lines = head.decode("iso-8859-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise _Closed(f"not an HTTP response: {lines[0][:60]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise _Closed(f"not an HTTP status: {lines[0][:60]!r}") from None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        name, _, value = line.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    http10 = status_line[0] == "HTTP/1.0"
    connection = ",".join(v for k, v in headers if k == "connection").lower()
    reusable = not http10 and "close" not in connection
    length = next((value for key, value in headers if key == "content-length"), None)
    chunked = any(
        key == "transfer-encoding" and "chunked" in value.lower() for key, value in headers
    )
    if status in (204, 304) or 100 <= status < 200:
        pass
    elif chunked:
        await _discard_chunked(reader)
    elif length is not None:
        try:
            size = int(length)
        except ValueError:
            raise _Closed("bad Content-Length") from None
        if size > _MAX_BODY_BYTES or size < 0:
            reusable = False
        else:
            try:
                await reader.readexactly(size)
            except asyncio.IncompleteReadError:
                reusable = False
    else:
        reusable = False  # the body runs to the end of the connection; we need none of it
    return _Response(status, status_line[2] if len(status_line) > 2 else "", headers, reusable)


async def _discard_chunked(reader: asyncio.StreamReader) -> None:
    total = 0
    while True:
        line = await reader.readline()
        if not line:
            raise _Closed("chunked body cut short")
        try:
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            raise _Closed("bad chunk size") from None
        total += size
        if total > _MAX_BODY_BYTES:
            raise _Closed("body too large")
        if size == 0:
            while (await reader.readline()).strip():
                pass
            return
        await reader.readexactly(size + 2)


class _Connection:
    def __init__(self, host: str, port: int, tls: ssl_module.SSLContext | None) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.host,
            self.port,
            ssl=self.tls,
            server_hostname=self.host if self.tls else None,
            limit=_MAX_HEADER_BYTES,
        )

    async def get(self, target: str, host_header: str, authorization: str | None) -> _Response:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host_header}",
            "User-Agent: plugtone-acs",
            "Content-Length: 0",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        await self.writer.drain()
        response = await _read_response(self.reader)
        if not response.reusable:
            await self.close()
        return response

    async def close(self) -> None:
        writer, self.writer, self.reader = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ssl_module.SSLError):
                await writer.wait_closed()


def _split_url(url: str) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, request target, Host header) of a connection request URL."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url[:100]!r}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url[:100]!r}")
    port = parts.port or (443 if scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    shown = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    host_header = shown if port == default else f"{shown}:{port}"
    return scheme, host, port, target, host_header


async def http_connection_request(
    url: str,
    username: str,
    password: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    allow_basic: bool = False,
    ssl: ssl_module.SSLContext | None = None,
) -> ConnectionRequestResult:
    """GET ``url`` as a connection request, answering the CPE's challenge.

    ``allow_basic`` lets Basic go over plain HTTP (over https it is always allowed).
    ``ssl`` is the context for https URLs (default: the system's, verifying).
    ``timeout`` bounds the whole exchange.
    """
    try:
        scheme, host, port, target, host_header = _split_url(url)
    except ValueError as error:
        return ConnectionRequestResult(Outcome.BAD_URL, str(error))
    tls = (ssl or ssl_module.create_default_context()) if scheme == "https" else None
    connection = _Connection(host, port, tls)
    where = f"{scheme}://{host_header}{target}"
    try:
        return await asyncio.wait_for(
            _exchange(connection, target, host_header, username, password, scheme, allow_basic),
            timeout,
        )
    except TimeoutError:
        return ConnectionRequestResult(Outcome.TIMEOUT, f"{where}: no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return ConnectionRequestResult(Outcome.UNREACHABLE, f"{where}: connection refused")
    except _Closed as error:
        return ConnectionRequestResult(Outcome.UNREACHABLE, f"{where}: {error}")
    except ssl_module.SSLError as error:
        return ConnectionRequestResult(Outcome.UNREACHABLE, f"{where}: TLS failed ({error.reason})")
    except OSError as error:
        return ConnectionRequestResult(
            Outcome.UNREACHABLE, f"{where}: {error.strerror or error.__class__.__name__}"
        )
    finally:
        await connection.close()


async def _exchange(
    connection: _Connection,
    target: str,
    host_header: str,
    username: str,
    password: str,
    scheme: str,
    allow_basic: bool,
) -> ConnectionRequestResult:
    where = f"{scheme}://{host_header}{target}"
    response = await connection.get(target, host_header, None)
    used: str | None = None
    answered_stale = False
    for attempt in range(3):
        if response.status in (200, 204):
            return ConnectionRequestResult(
                Outcome.ACCEPTED,
                f"{where}: {response.status}, the CPE will open a session",
                response.status,
                used,
            )
        if response.status == 503:
            return ConnectionRequestResult(
                Outcome.BUSY, f"{where}: 503, the CPE is busy", 503, used
            )
        if response.status != 401:
            return ConnectionRequestResult(
                Outcome.UNEXPECTED_STATUS,
                f"{where}: unexpected HTTP {response.status} {response.reason}".rstrip(),
                response.status,
                used,
            )
        try:
            challenges = parse_challenges(response.all("www-authenticate"))
        except ValueError as error:
            return ConnectionRequestResult(Outcome.AUTH_FAILED, f"{where}: {error}", 401)
        digest = _pick_digest(challenges)
        # A second 401 refuses the credentials, unless it only says our nonce went stale
        # (RFC 7616 §3.3): then one more try with the new nonce.
        stale = digest is not None and digest.params.get("stale", "").lower() == "true"
        if attempt > 0 and (used != "digest" or not stale or answered_stale):
            return ConnectionRequestResult(
                Outcome.AUTH_FAILED,
                f"{where}: the CPE refused the connection-request credentials of "
                f"{username!r} ({used})",
                401,
                used,
            )
        answered_stale = attempt > 0
        if digest is not None:
            authorization = digest_authorization(
                digest, username=username, password=password, method="GET", uri=target
            )
            used = "digest"
        elif any(challenge.scheme == "basic" for challenge in challenges):
            if scheme != "https" and not allow_basic:
                return ConnectionRequestResult(
                    Outcome.BASIC_REFUSED,
                    f"{where}: the CPE asks for Basic authentication over plain HTTP; "
                    "the password is not sent in clear (allow Basic for this site to "
                    "send it anyway)",
                    401,
                    "basic",
                )
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            authorization = f"Basic {token}"
            used = "basic"
        else:
            offered = ", ".join(challenge.scheme for challenge in challenges) or "nothing"
            return ConnectionRequestResult(
                Outcome.AUTH_FAILED,
                f"{where}: 401 with a challenge plugtone cannot answer ({offered})",
                401,
            )
        response = await connection.get(target, host_header, authorization)
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------
# TR-111 UDP connection requests
# --------------------------------------------------------------------------------------


def _signature(password: str, ts: str, id: str, un: str, cn: str) -> str:
    text = f"{ts}{id}{un}{cn}".encode()
    return hmac.new(password.encode(), text, hashlib.sha1).hexdigest()


@dataclass(frozen=True)
class UdpConnectionRequest:
    """The fields of one UDP connection request (``sig`` is hex HMAC-SHA1)."""

    host: str
    port: int
    ts: str
    id: str
    un: str
    cn: str
    sig: str

    def verify(self, username: str, password: str) -> bool:
        """Whether it names ``username`` and its signature checks with ``password``
        (hex compared without regard to case: ACSs write both)."""
        expected = _signature(password, self.ts, self.id, self.un, self.cn)
        return hmac.compare_digest(self.un.encode(), username.encode()) and hmac.compare_digest(
            self.sig.lower().encode(), expected.encode()
        )


def udp_connection_request(
    address: tuple[str, int],
    username: str,
    password: str,
    *,
    ts: int | None = None,
    id: str | None = None,
    cn: str | None = None,
) -> bytes:
    """The datagram: ``GET http://host:port?ts=&id=&un=&cn=&sig= HTTP/1.1`` with a
    Host header. ``ts`` is seconds since 1970 (now by default), ``id`` a fresh message
    ID, ``cn`` a random cnonce; the signature is over the raw values, the URI carries
    them percent-encoded."""
    host, port = address
    ts_text = str(int(time.time()) if ts is None else ts)
    id_text = id if id is not None else str(secrets.randbelow(2**32))
    cn_text = cn if cn is not None else secrets.token_hex(8)
    sig = _signature(password, ts_text, id_text, username, cn_text)
    query = urllib.parse.urlencode(
        {"ts": ts_text, "id": id_text, "un": username, "cn": cn_text, "sig": sig},
        quote_via=urllib.parse.quote,
    )
    shown = f"[{host}]" if ":" in host else host
    return (f"GET http://{shown}:{port}?{query} HTTP/1.1\r\nHost: {shown}:{port}\r\n\r\n").encode()


def parse_udp_connection_request(datagram: bytes) -> UdpConnectionRequest:
    """Read a UDP connection request (the CPE side). Raises ValueError if it is not one."""
    if len(datagram) > 2048:
        raise ValueError("too large for a UDP connection request")
    try:
        text = datagram.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    request_line = text.split("\r\n", 1)[0].split("\n", 1)[0]
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[0] != "GET" or not parts[2].startswith("HTTP/1."):
        raise ValueError(f"not a GET request line: {request_line[:80]!r}")
    url = urllib.parse.urlsplit(parts[1])
    if url.scheme != "http" or not url.hostname or url.port is None:
        raise ValueError(f"not http://host:port?...: {parts[1][:80]!r}")
    fields = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
    try:
        values = {name: fields[name][0] for name in ("ts", "id", "un", "cn", "sig")}
    except KeyError as missing:
        raise ValueError(f"no {missing.args[0]} in the request") from None
    return UdpConnectionRequest(url.hostname, url.port, **values)


async def send_udp_connection_request(
    address: tuple[str, int],
    username: str,
    password: str,
    *,
    sendto: Callable[[bytes, tuple[str, int]], None] | None = None,
    repeats: int = UDP_REPEATS,
    interval: float = 0.2,
) -> ConnectionRequestResult:
    """Send one UDP connection request ``repeats`` times, ``interval`` seconds apart.

    ``sendto`` should be the STUN listener's (:meth:`plugtone.servers.stun.StunListener.sendto`)
    so the datagrams leave from the port the CPE's NAT binding points at; without it a
    temporary socket is used (right only for a CPE on the same network).
    """
    datagram = udp_connection_request(address, username, password)
    where = f"udp://{address[0]}:{address[1]}"
    transport = None
    try:
        if sendto is None:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=address
            )
            sender = transport

            def sendto(data: bytes, to: tuple[str, int]) -> None:
                sender.sendto(data)

        for copy in range(repeats):
            if copy:
                await asyncio.sleep(interval)
            sendto(datagram, address)
    except OSError as error:
        return ConnectionRequestResult(
            Outcome.UNREACHABLE, f"{where}: {error.strerror or error.__class__.__name__}"
        )
    finally:
        if transport is not None:
            transport.close()
    return ConnectionRequestResult(Outcome.SENT, f"{where}: {repeats} signed datagrams sent")

"""Sans-IO classic STUN server side (RFC 3489) with the TR-111 part 2 attributes.

TR-111 part 2 (TR-069 Annex G) reaches CPEs behind NAT: the CPE keeps a UDP binding
open by sending STUN Binding Requests to the ACS's STUN server; the server's answer tells
the CPE its public address (MAPPED-ADDRESS), which the CPE reports to the ACS as
``ManagementServer.UDPConnectionRequestAddress``; the ACS's UDP connection requests
travel back through that binding (from the STUN server's own port, or the NAT drops
them). The server learns the binding too, from the request itself: :class:`BindingLearned`.

What TR-111 adds to RFC 3489 (attribute numbers as the freeacs STUN server's
``MessageAttributeInterface.java`` has them, comprehension-optional, so a plain STUN
server ignores them):

- ``CONNECTION-REQUEST-BINDING`` (0xC001), value ``"dslforum.org/TR-111 "``: the request
  keeps a connection-request binding alive;
- ``BINDING-CHANGE`` (0xC002), empty: the CPE saw its binding change;
- ``USERNAME``: the CPE's ``STUNUsername``, which tells the ACS which device this is;
  with ``MESSAGE-INTEGRITY`` keyed with ``STUNPassword`` when the server asks for it
  (a 401 answer). This server asks for it on requests that carry BINDING-CHANGE (the one
  moment the ACS believes a new address) when it knows a password for the user.

Hostile datagrams: anything shorter than a header, longer than :data:`MAX_DATAGRAM`,
with a length field that disagrees with the datagram, or that is not a request gets no
answer at all (answering responses could loop two servers; answering garbage amplifies).
RESPONSE-ADDRESS is never obeyed: the answer always goes back to the source, since
sending it elsewhere would make this server a reflector (RFC 5389 dropped it for that).

Both transaction ID styles are answered: RFC 3489's 128-bit ID, and RFC 5389's magic
cookie plus 96-bit ID (then XOR-MAPPED-ADDRESS is added, and attributes are padded).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "MAGIC_COOKIE",
    "MAX_DATAGRAM",
    "TR111_BINDING",
    "AnswerBudget",
    "Attr",
    "BindingLearned",
    "MessageType",
    "StunError",
    "StunMessage",
    "StunReply",
    "StunServer",
    "build_message",
    "decode_address",
    "encode_address",
    "parse_message",
]

MAGIC_COOKIE = 0x2112A442
MAX_DATAGRAM = 2048
"""No Binding Request a CPE sends comes near this; bigger datagrams are dropped unread."""
TR111_BINDING = b"dslforum.org/TR-111 "
"""The value of CONNECTION-REQUEST-BINDING (20 bytes, with its trailing space)."""
_HEADER = struct.Struct("!HH16s")
_MAX_USERNAME = 513


class MessageType(enum.IntEnum):
    BINDING_REQUEST = 0x0001
    BINDING_RESPONSE = 0x0101
    BINDING_ERROR_RESPONSE = 0x0111
    SHARED_SECRET_REQUEST = 0x0002
    SHARED_SECRET_ERROR_RESPONSE = 0x0112


class Attr(enum.IntEnum):
    MAPPED_ADDRESS = 0x0001
    RESPONSE_ADDRESS = 0x0002
    CHANGE_REQUEST = 0x0003
    SOURCE_ADDRESS = 0x0004
    CHANGED_ADDRESS = 0x0005
    USERNAME = 0x0006
    PASSWORD = 0x0007
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REFLECTED_FROM = 0x000B
    XOR_MAPPED_ADDRESS = 0x0020
    SOFTWARE = 0x8022
    FINGERPRINT = 0x8028
    CONNECTION_REQUEST_BINDING = 0xC001
    BINDING_CHANGE = 0xC002


_KNOWN_REQUIRED = frozenset(int(a) for a in Attr if a <= 0x7FFF)
_CHANGE_IP = 0x04
_CHANGE_PORT = 0x02

Address = tuple[str, int]


class StunError(ValueError):
    """A datagram that is not a STUN message this server can read."""


@dataclass(frozen=True)
class StunMessage:
    """One STUN message: type, the 16-byte transaction ID (cookie included when RFC
    5389), and its attributes in order, values as bytes."""

    type: int
    transaction_id: bytes
    attributes: list[tuple[int, bytes]] = field(default_factory=list)

    @property
    def rfc5389(self) -> bool:
        return self.transaction_id[:4] == MAGIC_COOKIE.to_bytes(4, "big")

    def get(self, attribute: int) -> bytes | None:
        for kind, value in self.attributes:
            if kind == attribute:
                return value
        return None

    def has(self, attribute: int) -> bool:
        return any(kind == attribute for kind, _ in self.attributes)


def _split_attributes(body: bytes, *, padded: bool) -> list[tuple[int, bytes]]:
    attributes: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(body):
        if len(body) - offset < 4:
            raise StunError("truncated attribute header")
        kind, length = struct.unpack_from("!HH", body, offset)
        offset += 4
        if length > len(body) - offset:
            raise StunError(f"attribute 0x{kind:04X} runs past the end of the message")
        attributes.append((kind, body[offset : offset + length]))
        offset += length
        if padded:
            offset += -length % 4
            if offset > len(body):
                raise StunError("attribute padding runs past the end of the message")
    return attributes


def parse_message(datagram: bytes) -> StunMessage:
    """The message in ``datagram``; :class:`StunError` for anything malformed."""
    if len(datagram) > MAX_DATAGRAM:
        raise StunError("datagram too large")
    if len(datagram) < _HEADER.size:
        raise StunError("shorter than a STUN header")
    kind, length, transaction_id = _HEADER.unpack_from(datagram)
    if kind & 0xC000:
        raise StunError("the two top bits of a STUN type are zero")
    body = datagram[_HEADER.size :]
    if length != len(body):
        raise StunError(f"length field {length} but {len(body)} bytes of attributes")
    cookie = transaction_id[:4] == MAGIC_COOKIE.to_bytes(4, "big")
    try:
        attributes = _split_attributes(body, padded=cookie)
    except StunError:
        if cookie:
            raise
        # RFC 3489 has no padding, but a CPE may pad a USERNAME as RFC 5389 would.
        attributes = _split_attributes(body, padded=True)
    return StunMessage(kind, transaction_id, attributes)


def encode_address(address: Address, *, xor_with: bytes | None = None) -> bytes:
    """A (MAPPED/SOURCE/CHANGED/XOR-MAPPED)-ADDRESS value; ``xor_with`` is the
    transaction ID for XOR-MAPPED-ADDRESS."""
    ip = ipaddress.ip_address(address[0])
    port = address[1]
    packed = ip.packed
    family = 0x01 if ip.version == 4 else 0x02
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        mask = xor_with[: len(packed)]
        packed = bytes(a ^ b for a, b in zip(packed, mask, strict=True))
    return struct.pack("!BBH", 0, family, port) + packed


def decode_address(value: bytes, *, xor_with: bytes | None = None) -> Address:
    """The (host, port) of an address attribute (inverse of :func:`encode_address`)."""
    if len(value) not in (8, 20):
        raise StunError("address attribute of the wrong length")
    _, family, port = struct.unpack_from("!BBH", value)
    packed = value[4:]
    if (family, len(packed)) not in ((1, 4), (2, 16)):
        raise StunError("unknown address family")
    if xor_with is not None:
        port ^= MAGIC_COOKIE >> 16
        packed = bytes(a ^ b for a, b in zip(packed, xor_with[: len(packed)], strict=True))
    return str(ipaddress.ip_address(packed)), port


def _pack_attributes(attributes: list[tuple[int, bytes]], *, padded: bool) -> bytes:
    parts = []
    for kind, value in attributes:
        parts.append(struct.pack("!HH", kind, len(value)) + value)
        if padded:
            parts.append(b"\x00" * (-len(value) % 4))
    return b"".join(parts)


def _integrity(key: bytes, text: bytes, *, rfc5389: bool) -> bytes:
    if not rfc5389:
        text = text + b"\x00" * (-len(text) % 64)  # RFC 3489 §11.2.8
    return hmac.new(key, text, hashlib.sha1).digest()


def build_message(
    kind: int,
    transaction_id: bytes,
    attributes: list[tuple[int, bytes]],
    *,
    integrity_key: bytes | None = None,
) -> bytes:
    """The bytes of a message; with ``integrity_key`` a MESSAGE-INTEGRITY is appended
    (HMAC-SHA1 over the message with its final length, RFC 3489 or 5389 style by ID)."""
    rfc5389 = transaction_id[:4] == MAGIC_COOKIE.to_bytes(4, "big")
    body = _pack_attributes(attributes, padded=rfc5389)
    if integrity_key is None:
        return _HEADER.pack(kind, len(body), transaction_id) + body
    head = _HEADER.pack(kind, len(body) + 24, transaction_id)
    digest = _integrity(integrity_key, head + body, rfc5389=rfc5389)
    return head + body + struct.pack("!HH", Attr.MESSAGE_INTEGRITY, 20) + digest


def _check_integrity(datagram: bytes, message: StunMessage, key: bytes) -> bool:
    """Whether the MESSAGE-INTEGRITY verifies, in RFC 3489 or RFC 5389 form."""
    offset = _HEADER.size
    body = datagram[_HEADER.size :]
    padded = message.rfc5389
    position = 0
    while position + 4 <= len(body):
        kind, length = struct.unpack_from("!HH", body, position)
        if kind == Attr.MESSAGE_INTEGRITY:
            if length != 20 or position + 24 > len(body):
                return False
            received = body[position + 4 : position + 24]
            before = datagram[: offset + position]
            candidates = [
                _integrity(key, before, rfc5389=False),  # 3489: header as sent, padded to 64
                _integrity(  # 5389: length counting up to the end of MESSAGE-INTEGRITY
                    key,
                    struct.pack("!HH", message.type, position + 24) + before[4:],
                    rfc5389=True,
                ),
            ]
            return any(hmac.compare_digest(received, candidate) for candidate in candidates)
        position += 4 + length + (-length % 4 if padded else 0)
    return False


def _error_value(code: int, reason: str) -> bytes:
    phrase = reason.encode()
    phrase += b" " * (-len(phrase) % 4)  # RFC 3489 wants a multiple of 4
    return struct.pack("!HBB", 0, code // 100, code % 100) + phrase


@dataclass(frozen=True)
class BindingLearned:
    """A CPE's public UDP address, seen on a Binding Request.

    ``username`` is the USERNAME it sent (its STUNUsername), None without one;
    ``authenticated`` says a MESSAGE-INTEGRITY verified with the password known for it;
    ``tr111`` that it carried CONNECTION-REQUEST-BINDING; ``binding_change`` that it
    carried BINDING-CHANGE (the CPE says its address changed: time to believe it).
    """

    address: Address
    username: str | None
    authenticated: bool
    tr111: bool
    binding_change: bool


@dataclass(frozen=True)
class StunReply:
    """What to send: ``datagram`` to ``destination``, from the socket the request came
    in on, or from the alternate IP and/or port when ``change_ip``/``change_port``
    (CHANGE-REQUEST); ``binding`` when the request taught the server a binding."""

    datagram: bytes
    destination: Address
    change_ip: bool = False
    change_port: bool = False
    binding: BindingLearned | None = None


class AnswerBudget:
    """How many answers each source IP may get: a token bucket per address.

    A CPE sends a Binding Request every few tens of seconds (its STUN keep-alive
    period), but an office of a few thousand phones behind one NAT shares one public
    IP; a stream of requests with a forged source would turn the server into a
    reflector (an answer is about three times a bare request). The defaults, 100
    answers per second and 200 at once, cover 3,000 phones on a 30 s keep-alive behind
    one address and give a forged victim at most 7 kB/s. At most ``max_sources``
    addresses are remembered (the least recent forgotten first), so the table itself
    cannot be flooded.
    """

    def __init__(self, rate: float = 100.0, burst: float = 200.0, max_sources: int = 65536) -> None:
        self.rate, self.burst, self.max_sources = rate, burst, max_sources
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, ip: str, now: float) -> bool:
        tokens, last = self._buckets.pop(ip, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[ip] = (tokens, now)  # re-inserted: dict order is recency
        if len(self._buckets) > self.max_sources:
            del self._buckets[next(iter(self._buckets))]
        return allowed


class StunServer:
    """Answers Binding Requests (sans-IO).

    ``address`` is the server's own (host, port), written as SOURCE-ADDRESS;
    ``alternate`` its other IP and port, written as CHANGED-ADDRESS (RFC 3489 wants one;
    without a second address it is ``address`` itself and change requests are answered
    from the socket that received them). ``password_for(username)`` gives the password
    a user's MESSAGE-INTEGRITY is checked with (None: unknown user). When
    ``require_integrity_on_change`` (the default), a BINDING-CHANGE from a user with a
    known password must carry a valid MESSAGE-INTEGRITY (else 401 / 431).
    """

    def __init__(
        self,
        address: Address,
        *,
        alternate: Address | None = None,
        password_for: Callable[[str], str | None] | None = None,
        require_integrity_on_change: bool = True,
    ) -> None:
        self.address = address
        self.alternate = alternate
        self.password_for = password_for
        self.require_integrity_on_change = require_integrity_on_change

    def handle(
        self, datagram: bytes, source: Address, *, local: Address | None = None
    ) -> StunReply | None:
        """The answer to a datagram from ``source`` (None: drop it silently).

        ``local`` is the address of the socket that received it, written as
        SOURCE-ADDRESS when given (it differs from ``address`` on the alternate sockets).
        Never raises for anything in the datagram.
        """
        try:
            message = parse_message(datagram)
        except StunError:
            return None
        if message.type != MessageType.BINDING_REQUEST:
            if message.type == MessageType.SHARED_SECRET_REQUEST:
                # RFC 3489 §8.2: Shared Secret requests are for TLS; 433 "Use TLS".
                return StunReply(self._error(message, 433, "Use TLS"), source)
            return None
        try:
            return self._binding(datagram, message, source, local or self.address)
        except StunError:
            return StunReply(self._error(message, 400, "Bad Request"), source)

    # ---- internals -------------------------------------------------------------------

    def _error(
        self,
        message: StunMessage,
        code: int,
        reason: str,
        extra: list[tuple[int, bytes]] | None = None,
        kind: int = MessageType.BINDING_ERROR_RESPONSE,
    ) -> bytes:
        if message.type == MessageType.SHARED_SECRET_REQUEST:
            kind = MessageType.SHARED_SECRET_ERROR_RESPONSE
        attributes = [(Attr.ERROR_CODE, _error_value(code, reason)), *(extra or [])]
        return build_message(kind, message.transaction_id, attributes)

    def _binding(
        self, datagram: bytes, message: StunMessage, source: Address, local: Address
    ) -> StunReply:
        unknown = [
            kind for kind, _ in message.attributes if kind <= 0x7FFF and kind not in _KNOWN_REQUIRED
        ]
        if unknown:
            listed = b"".join(struct.pack("!H", kind) for kind in unknown[:16])
            if len(unknown[:16]) % 2:
                listed += listed[-2:]  # RFC 3489: repeat one to fill 32 bits
            return StunReply(
                self._error(message, 420, "Unknown Attribute", [(Attr.UNKNOWN_ATTRIBUTES, listed)]),
                source,
            )
        username = self._username(message)
        binding_change = message.has(Attr.BINDING_CHANGE)
        tr111 = (message.get(Attr.CONNECTION_REQUEST_BINDING) or b"").startswith(
            TR111_BINDING.rstrip()
        )
        password = (
            self.password_for(username) if (self.password_for and username is not None) else None
        )
        key = password.encode() if password is not None else None
        authenticated = False
        if message.has(Attr.MESSAGE_INTEGRITY):
            if username is None:
                return StunReply(self._error(message, 432, "Missing Username"), source)
            if key is None or not _check_integrity(datagram, message, key):
                return StunReply(self._error(message, 431, "Integrity Check Failure"), source)
            authenticated = True
        elif binding_change and key is not None and self.require_integrity_on_change:
            return StunReply(self._error(message, 401, "Unauthorized"), source)

        change = message.get(Attr.CHANGE_REQUEST)
        flags = struct.unpack("!I", change)[0] if change is not None and len(change) == 4 else 0
        if change is not None and len(change) != 4:
            raise StunError("CHANGE-REQUEST of the wrong length")
        change_ip = bool(flags & _CHANGE_IP) and self.alternate is not None
        change_port = bool(flags & _CHANGE_PORT) and self.alternate is not None
        sent_from = (
            (
                (self.alternate[0] if change_ip else local[0]),
                (self.alternate[1] if change_port else local[1]),
            )
            if self.alternate is not None
            else local
        )
        attributes = [
            (Attr.MAPPED_ADDRESS, encode_address(source)),
            (Attr.SOURCE_ADDRESS, encode_address(sent_from)),
            (Attr.CHANGED_ADDRESS, encode_address(self.alternate or self.address)),
        ]
        if message.rfc5389:
            attributes.append(
                (
                    Attr.XOR_MAPPED_ADDRESS,
                    encode_address(source, xor_with=message.transaction_id),
                )
            )
        reply = build_message(
            MessageType.BINDING_RESPONSE,
            message.transaction_id,
            attributes,
            integrity_key=key if authenticated else None,
        )
        binding = BindingLearned(source, username, authenticated, tr111, binding_change)
        return StunReply(reply, source, change_ip, change_port, binding)

    @staticmethod
    def _username(message: StunMessage) -> str | None:
        raw = message.get(Attr.USERNAME)
        if raw is None:
            return None
        if len(raw) > _MAX_USERNAME:
            raise StunError("USERNAME too long")
        # RFC 3489 pads USERNAME to 4 bytes; CPEs pad with NULs or spaces.
        return raw.decode("utf-8", "replace").rstrip("\x00 ")

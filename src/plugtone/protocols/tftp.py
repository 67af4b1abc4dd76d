"""Sans-IO core of the TFTP server (RFC 1350 with the RFC 2347/2348/2349/7440 options).

Nothing in this module touches a socket, a clock, a file or an event loop.  The objects are
fed datagrams and the current time (a float in seconds from whatever monotonic clock the
caller likes) and answer with lists of *actions* (:class:`Send`, :class:`Received`,
:class:`Finished`) that an adapter carries out.  Keeping the protocol pure makes every
corner of it (block-number rollover, retransmission back-off, the Sorcerer's Apprentice
bug, hostile datagrams) testable with plain lists of packets and fake timestamps.

Typical server flow, as seen by an adapter:

1. A datagram arrives on port 69.  :func:`is_request` tells whether it is worth decoding;
   :func:`decode` turns it into a :class:`ReadRequest` or :class:`WriteRequest` (or raises
   :class:`PacketError`, which the adapter answers with :func:`error_packet`).
2. :func:`negotiate` turns the requested options into :class:`NegotiatedOptions` or a
   :class:`Refused` verdict (answer it with :func:`reject_request`).
3. A :class:`ReadTransfer` or :class:`WriteTransfer` is created for the new transfer ID
   (a fresh local port), ``start(now)`` is called, and from then on every datagram from
   the peer goes to ``receive(datagram, now)`` and ``timeout(now)`` is called whenever
   ``next_deadline()`` has passed.  Datagrams from any other address/port belong to no
   transfer: the adapter answers them with ``error_packet(ErrorCode.UNKNOWN_TRANSFER_ID,
   ...)`` without disturbing the transfer (RFC 1350 section 4).
4. The transfer ends with exactly one :class:`Finished` action; after that the object only
   answers a retransmitted final DATA block of an upload (see :class:`WriteTransfer`).
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple, TypeAlias

__all__ = [
    "DEFAULT_BLKSIZE",
    "DEFAULT_LIMITS",
    "MAX_BLKSIZE",
    "MAX_DATAGRAM",
    "MAX_WINDOWSIZE",
    "MIN_BLKSIZE",
    "MODES",
    "Ack",
    "Action",
    "BlockSource",
    "Data",
    "Datagram",
    "Error",
    "ErrorCode",
    "Finished",
    "Limits",
    "NegotiatedOptions",
    "Opcode",
    "OptionAck",
    "Outcome",
    "Packet",
    "PacketError",
    "ReadRequest",
    "ReadTransfer",
    "Received",
    "Refused",
    "Send",
    "WriteRequest",
    "WriteTransfer",
    "bytes_source",
    "decode",
    "encode",
    "error_packet",
    "is_request",
    "negotiate",
    "netascii_decode",
    "netascii_encode",
    "netascii_size",
    "reject_request",
]

# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

DEFAULT_BLKSIZE = 512
"""Block size of plain RFC 1350 transfers, used whenever ``blksize`` is not negotiated."""

MIN_BLKSIZE = 8
MAX_BLKSIZE = 65464
"""RFC 2348 bounds.  65464 + 4 (TFTP) + 8 (UDP) + 20 (IPv4) fits an IPv4 datagram."""

MAX_DATAGRAM = 4 + MAX_BLKSIZE
"""No legal TFTP datagram is longer than a DATA packet carrying the largest block."""

MAX_WINDOWSIZE = 65535
MIN_TIMEOUT = 1
MAX_TIMEOUT = 255

MODES = frozenset({"netascii", "octet", "mail"})
"""Transfer modes RFC 1350 defines.  ``mail`` decodes but no transfer object accepts it."""

_BLOCK_MODULO = 1 << 16
_MAX_ERROR_MESSAGE = 255
"""Keeps every ERROR datagram well below 512 bytes, whatever text the caller passes."""

_MAX_NUMBER_DIGITS = 10
"""Option values longer than this cannot be sane numbers; refusing them early avoids
feeding attacker-sized strings to :func:`int`."""


class Opcode(enum.IntEnum):
    """Packet type, the first two bytes of every TFTP datagram."""

    RRQ = 1
    WRQ = 2
    DATA = 3
    ACK = 4
    ERROR = 5
    OACK = 6


_DATA_OPCODE = Opcode.DATA.to_bytes(2, "big")
_ACK_OPCODE = Opcode.ACK.to_bytes(2, "big")


class ErrorCode(enum.IntEnum):
    """Error codes of RFC 1350 plus code 8 from RFC 2347."""

    UNDEFINED = 0
    FILE_NOT_FOUND = 1
    ACCESS_VIOLATION = 2
    DISK_FULL = 3
    ILLEGAL_OPERATION = 4
    UNKNOWN_TRANSFER_ID = 5
    FILE_EXISTS = 6
    NO_SUCH_USER = 7
    OPTION_REFUSED = 8


# --------------------------------------------------------------------------------------
# Packets
# --------------------------------------------------------------------------------------


class PacketError(ValueError):
    """A datagram that is not valid TFTP.

    It carries the error code the server should answer with, so the adapter can turn the
    exception straight into an ERROR packet without interpreting the message.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ReadRequest:
    """RRQ: the client wants to download ``filename``.  Option names are lower-case."""

    filename: str
    mode: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteRequest:
    """WRQ: the client wants to upload ``filename``.  Option names are lower-case."""

    filename: str
    mode: str
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Data:
    """DATA: one block of the file; ``block`` is the 16-bit number seen on the wire."""

    block: int
    payload: bytes


@dataclass(frozen=True)
class Ack:
    """ACK: the receiver has every block up to and including ``block`` (16-bit)."""

    block: int


@dataclass(frozen=True)
class Error:
    """ERROR: ends a transfer.  ``code`` is an :class:`ErrorCode` when it is a known one."""

    code: int
    message: str


@dataclass(frozen=True)
class OptionAck:
    """OACK (RFC 2347): the options the server accepted, with their final values."""

    options: dict[str, str]


Packet: TypeAlias = ReadRequest | WriteRequest | Data | Ack | Error | OptionAck
Datagram: TypeAlias = bytes | bytearray | memoryview
"""Raw datagram as handed over by the adapter; any read-only bytes-like object will do."""


def encode(packet: Packet) -> bytes:
    """Serialise ``packet``.

    Raises :class:`ValueError` for packets that cannot be put on the wire (a NUL inside a
    string, a block number outside 16 bits, an oversized payload...).  Those are bugs in
    the caller, not peer input, so they are not :class:`PacketError`.  ERROR packets are
    the exception: their text is sanitised instead, because an error must always be
    sendable.
    """
    if isinstance(packet, ReadRequest | WriteRequest):
        return _encode_request(packet)
    if isinstance(packet, Data):
        return _encode_data(packet)
    if isinstance(packet, Ack):
        return _opcode_bytes(Opcode.ACK) + _block_bytes(packet.block)
    if isinstance(packet, Error):
        return _encode_error(packet)
    if isinstance(packet, OptionAck):
        return _encode_oack(packet)
    raise TypeError(f"not a TFTP packet: {packet!r}")


def decode(datagram: Datagram) -> Packet:
    """Parse one datagram; raise :class:`PacketError` for anything that is not valid TFTP.

    Decoding is strict (it is the only thing standing between the network and the state
    machines) but never raises anything else, whatever the input bytes are.
    """
    data = bytes(datagram)
    if len(data) < 2:
        raise _malformed("datagram shorter than an opcode")
    if len(data) > MAX_DATAGRAM:
        raise _malformed(f"datagram longer than {MAX_DATAGRAM} bytes")
    opcode = int.from_bytes(data[:2], "big")
    body = data[2:]
    if opcode == Opcode.RRQ:
        return ReadRequest(*_decode_request(body))
    if opcode == Opcode.WRQ:
        return WriteRequest(*_decode_request(body))
    if opcode == Opcode.DATA:
        return _decode_data(body)
    if opcode == Opcode.ACK:
        return _decode_ack(body)
    if opcode == Opcode.ERROR:
        return _decode_error(body)
    if opcode == Opcode.OACK:
        return _decode_oack(body)
    raise _malformed(f"unknown opcode {opcode}")


def is_request(datagram: Datagram) -> bool:
    """Tell whether ``datagram`` claims to be an RRQ or WRQ, without decoding it.

    The listening socket only serves requests; anything else arriving there can be
    dropped (or answered with an error) before paying for a full parse.
    """
    # two byte reads (a memoryview's and a bytearray's items are ints too): this runs
    # for every datagram reaching the listening socket, a flood's included
    return len(datagram) >= 2 and datagram[0] == 0 and datagram[1] in (1, 2)  # RRQ, WRQ


def error_packet(code: int, message: str) -> bytes:
    """Encoded ERROR packet.  Never fails for a 16-bit code: the text is sanitised."""
    return encode(Error(code, message))


# -- encoding helpers ------------------------------------------------------------------


def _opcode_bytes(opcode: Opcode) -> bytes:
    return int(opcode).to_bytes(2, "big")


def _block_bytes(block: int) -> bytes:
    if not 0 <= block < _BLOCK_MODULO:
        raise ValueError(f"block number {block} does not fit in 16 bits")
    return block.to_bytes(2, "big")


def _wire_string(text: str, what: str, *, allow_empty: bool = False) -> bytes:
    """NUL-terminated ASCII field; refuses what the peer could not parse back."""
    if not text and not allow_empty:
        raise ValueError(f"{what} must not be empty")
    if "\0" in text:
        raise ValueError(f"{what} must not contain NUL")
    if not text.isascii():
        raise ValueError(f"{what} must be ASCII")
    return text.encode("ascii") + b"\0"


def _encode_options(options: dict[str, str]) -> bytes:
    seen: set[str] = set()
    parts = []
    for name, value in options.items():
        if name.lower() in seen:
            raise ValueError(f"duplicate option {name!r}")
        seen.add(name.lower())
        parts.append(_wire_string(name, "option name"))
        parts.append(_wire_string(value, "option value", allow_empty=True))
    return b"".join(parts)


def _encode_request(packet: ReadRequest | WriteRequest) -> bytes:
    if packet.mode.lower() not in MODES:
        raise ValueError(f"unknown transfer mode {packet.mode!r}")
    opcode = Opcode.RRQ if isinstance(packet, ReadRequest) else Opcode.WRQ
    datagram = (
        _opcode_bytes(opcode)
        + _wire_string(packet.filename, "filename")
        + _wire_string(packet.mode, "mode")
        + _encode_options(packet.options)
    )
    return _check_length(datagram)


def _encode_data(packet: Data) -> bytes:
    if len(packet.payload) > MAX_BLKSIZE:
        raise ValueError(f"payload of {len(packet.payload)} bytes exceeds {MAX_BLKSIZE}")
    return _opcode_bytes(Opcode.DATA) + _block_bytes(packet.block) + bytes(packet.payload)


def _encode_error(packet: Error) -> bytes:
    if not 0 <= packet.code < _BLOCK_MODULO:
        raise ValueError(f"error code {packet.code} does not fit in 16 bits")
    text = packet.message[:_MAX_ERROR_MESSAGE].replace("\0", " ")
    return (
        _opcode_bytes(Opcode.ERROR)
        + packet.code.to_bytes(2, "big")
        + text.encode("ascii", "replace")
        + b"\0"
    )


def _encode_oack(packet: OptionAck) -> bytes:
    if not packet.options:
        raise ValueError("an OACK must carry at least one option")
    return _check_length(_opcode_bytes(Opcode.OACK) + _encode_options(packet.options))


def _check_length(datagram: bytes) -> bytes:
    if len(datagram) > MAX_DATAGRAM:
        raise ValueError(f"packet of {len(datagram)} bytes exceeds {MAX_DATAGRAM}")
    return datagram


# -- decoding helpers ------------------------------------------------------------------


def _malformed(message: str) -> PacketError:
    return PacketError(ErrorCode.ILLEGAL_OPERATION, message)


def _split_strings(body: bytes, what: str) -> list[bytes]:
    """Split a run of NUL-terminated strings; the last one must be terminated too."""
    if not body.endswith(b"\0"):
        raise _malformed(f"{what} is not NUL-terminated")
    return body[:-1].split(b"\0")


def _ascii(raw: bytes, what: str) -> str:
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise _malformed(f"{what} is not ASCII") from None


def _decode_options(raw: list[bytes]) -> dict[str, str]:
    """Option name/value pairs (RFC 2347); names are case-insensitive, so lower-cased."""
    if len(raw) % 2:
        raise _malformed("option without a value")
    options: dict[str, str] = {}
    for index in range(0, len(raw), 2):
        name = _ascii(raw[index], "option name").lower()
        if not name:
            raise _malformed("empty option name")
        if name in options:
            raise _malformed(f"duplicate option {name!r}")
        options[name] = _ascii(raw[index + 1], "option value")
    return options


def _decode_request(body: bytes) -> tuple[str, str, dict[str, str]]:
    if body.isascii() and body.endswith(b"\0"):
        # Every field must be ASCII, and a phone's request is: one decode of the whole
        # body and one split, instead of one decode per field.  Anything else takes the
        # field by field path, which says which field is wrong.
        fields = body[:-1].decode("ascii").split("\0")
        if len(fields) == 2 and fields[0]:  # no options: what most phones send
            mode = fields[1].lower()
            if mode in MODES:
                return fields[0], mode, {}
    return _decode_request_fields(body)


def _decode_request_fields(body: bytes) -> tuple[str, str, dict[str, str]]:
    """RRQ/WRQ body field by field: what :func:`_decode_request` must always agree with."""
    strings = _split_strings(body, "request")
    if len(strings) < 2:
        raise _malformed("request without a mode")
    filename = _ascii(strings[0], "filename")
    if not filename:
        raise _malformed("empty filename")
    mode = _ascii(strings[1], "mode").lower()
    if mode not in MODES:
        raise _malformed(f"unknown transfer mode {mode!r}")
    return filename, mode, _decode_options(strings[2:])


def _decode_data(body: bytes) -> Data:
    if len(body) < 2:
        raise _malformed("DATA without a block number")
    return Data(int.from_bytes(body[:2], "big"), body[2:])


def _decode_ack(body: bytes) -> Ack:
    if len(body) != 2:
        raise _malformed("ACK must be exactly 4 bytes")
    return Ack(int.from_bytes(body, "big"))


def _decode_error(body: bytes) -> Error:
    """ERROR text is only informational, so it is decoded leniently once terminated."""
    if len(body) < 3:
        raise _malformed("ERROR too short")
    if b"\0" not in body[2:]:
        raise _malformed("ERROR message is not NUL-terminated")
    code = _error_code(int.from_bytes(body[:2], "big"))
    text = body[2:].split(b"\0", 1)[0].decode("ascii", "replace")
    return Error(code, text)


def _error_code(raw: int) -> int:
    """Known codes become :class:`ErrorCode` members (nicer logs); others stay ints."""
    try:
        return ErrorCode(raw)
    except ValueError:
        return raw


def _decode_oack(body: bytes) -> OptionAck:
    options = _decode_options(_split_strings(body, "OACK"))
    if not options:
        raise _malformed("OACK without options")
    return OptionAck(options)


# --------------------------------------------------------------------------------------
# netascii
# --------------------------------------------------------------------------------------


def netascii_encode(content: bytes) -> bytes:
    """Local text to netascii: LF becomes CR LF and every original CR becomes CR NUL.

    Every CR is escaped (not only the ones not followed by LF) so that the translation
    is reversible byte for byte; tftp-hpa does the same.
    """
    return bytes(content).replace(b"\r", b"\r\0").replace(b"\n", b"\r\n")


def netascii_decode(wire: bytes) -> bytes:
    """Netascii to local text: CR LF becomes LF, CR NUL becomes CR, a stray CR is kept.

    The two replacements cannot interfere: a CR only ever starts a pair, and removing the
    CR of a CR LF pair never creates a new CR NUL pair.
    """
    return bytes(wire).replace(b"\r\n", b"\n").replace(b"\r\0", b"\r")


def netascii_size(content: bytes) -> int:
    """Length of ``netascii_encode(content)`` without building it (for ``tsize``)."""
    return len(content) + content.count(b"\r") + content.count(b"\n")


# --------------------------------------------------------------------------------------
# Option negotiation
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Server-side policy knobs shared by negotiation and the transfer state machines."""

    max_blksize: int = MAX_BLKSIZE
    """Largest block size granted; larger requests are answered with this value."""
    max_windowsize: int = 64
    """Largest window granted; bounds how many blocks are in flight per ACK."""
    max_upload_size: int = 16 * 1024 * 1024
    """Largest upload accepted, in bytes as transferred (netascii counts translated)."""
    default_timeout: float = 1.0
    """Retransmission timeout when the client did not negotiate ``timeout``."""
    max_backoff: float = 8.0
    """Cap of the doubling retransmission interval (never below the initial one)."""
    max_retries: int = 5
    """Retransmissions without progress before the transfer is declared timed out."""

    def __post_init__(self) -> None:
        if not MIN_BLKSIZE <= self.max_blksize <= MAX_BLKSIZE:
            raise ValueError(f"max_blksize must be within {MIN_BLKSIZE}..{MAX_BLKSIZE}")
        if not 1 <= self.max_windowsize <= MAX_WINDOWSIZE:
            raise ValueError(f"max_windowsize must be within 1..{MAX_WINDOWSIZE}")
        if self.max_upload_size < 0:
            raise ValueError("max_upload_size must not be negative")
        if self.default_timeout <= 0 or self.max_backoff <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class NegotiatedOptions:
    """Transfer parameters after negotiation, plus what goes into the OACK.

    ``acknowledged`` holds exactly the options to echo (requested *and* accepted), in
    request order.  When it is empty there is no OACK and the transfer starts the plain
    RFC 1350 way.
    """

    blksize: int = DEFAULT_BLKSIZE
    windowsize: int = 1
    timeout: int | None = None
    tsize: int | None = None
    acknowledged: dict[str, str] = field(default_factory=dict)

    @property
    def oack(self) -> OptionAck | None:
        """The OACK to send first, or None when no option was accepted."""
        return OptionAck(dict(self.acknowledged)) if self.acknowledged else None


_PLAIN = NegotiatedOptions()
"""The outcome of a request without options, shared (it is immutable)."""


@dataclass(frozen=True)
class Refused:
    """Negotiation verdict that ends the request with an ERROR (code 8, or 3 for tsize)."""

    code: ErrorCode
    message: str


def negotiate(
    requested: dict[str, str],
    file_size: int | None,
    limits: Limits = DEFAULT_LIMITS,
    *,
    upload: bool = False,
) -> NegotiatedOptions | Refused:
    """Decide the transfer parameters for the options of an RRQ or WRQ.

    ``file_size`` is the size the file will have *on the wire* (use
    :func:`netascii_size` for netascii downloads) or None when unknown; it is only used
    to answer ``tsize`` on downloads.  Pass ``upload=True`` for a WRQ: its ``tsize`` is
    the client's announcement, checked against ``limits.max_upload_size``.

    Unknown options are ignored, as RFC 2347 requires, and never echoed.
    """
    if not requested:
        return _PLAIN  # most phones ask for nothing: RFC 1350 as it always was
    context = _NegotiationContext(file_size, limits, upload)
    values: dict[str, int] = {}
    acknowledged: dict[str, str] = {}
    for raw_name, raw_value in requested.items():
        name = raw_name.lower()
        handler = _OPTION_HANDLERS.get(name)
        if handler is None:
            continue
        verdict = handler(raw_value, context)
        if isinstance(verdict, Refused):
            return verdict
        if verdict is not None:
            values[name] = verdict
            acknowledged[name] = str(verdict)
    return NegotiatedOptions(
        blksize=values.get("blksize", DEFAULT_BLKSIZE),
        windowsize=values.get("windowsize", 1),
        timeout=values.get("timeout"),
        tsize=values.get("tsize"),
        acknowledged=acknowledged,
    )


@dataclass(frozen=True)
class _NegotiationContext:
    """What an option handler may need to know besides the requested value."""

    file_size: int | None
    limits: Limits
    upload: bool


def _parse_number(text: str) -> int | None:
    """Strict unsigned decimal: no sign, no spaces, no absurd lengths."""
    if not text or len(text) > _MAX_NUMBER_DIGITS:
        return None
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _option_refused(name: str, value: str) -> Refused:
    return Refused(ErrorCode.OPTION_REFUSED, f"unacceptable {name} {value[:20]!r}")


def _negotiate_blksize(value: str, context: _NegotiationContext) -> int | Refused:
    """RFC 2348: 8..65464; the server may answer any smaller value, so clamp."""
    number = _parse_number(value)
    if number is None or number < MIN_BLKSIZE:
        return _option_refused("blksize", value)
    return min(number, context.limits.max_blksize)


def _negotiate_timeout(value: str, _context: _NegotiationContext) -> int | Refused:
    """RFC 2349: 1..255 seconds, and the answer must equal the request."""
    number = _parse_number(value)
    if number is None or not MIN_TIMEOUT <= number <= MAX_TIMEOUT:
        return _option_refused("timeout", value)
    return number


def _negotiate_tsize(value: str, context: _NegotiationContext) -> int | Refused | None:
    """RFC 2349: answer the real size on downloads, vet the announced size on uploads.

    A download of unknown size simply leaves ``tsize`` out of the OACK.
    """
    number = _parse_number(value)
    if number is None:
        return _option_refused("tsize", value)
    if not context.upload:
        return context.file_size
    if number > context.limits.max_upload_size:
        return Refused(ErrorCode.DISK_FULL, "file too large")
    return number


def _negotiate_windowsize(value: str, context: _NegotiationContext) -> int | Refused:
    """RFC 7440: 1..65535; a smaller answer is allowed, so clamp to the server maximum."""
    number = _parse_number(value)
    if number is None or number < 1:
        return _option_refused("windowsize", value)
    return min(number, context.limits.max_windowsize)


_OptionHandler: TypeAlias = Callable[[str, _NegotiationContext], int | Refused | None]
_OPTION_HANDLERS: dict[str, _OptionHandler] = {
    "blksize": _negotiate_blksize,
    "timeout": _negotiate_timeout,
    "tsize": _negotiate_tsize,
    "windowsize": _negotiate_windowsize,
}


# --------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------


class Outcome(enum.Enum):
    """How a transfer ended, for logs and metrics."""

    COMPLETE = "complete"
    NOT_FOUND = "not found"
    REFUSED = "refused"
    TIMED_OUT = "timed out"
    ABORTED = "aborted by peer"
    ERROR = "error"


class Send(NamedTuple):
    """Send ``datagram`` to the peer of this transfer.

    A named tuple rather than a frozen dataclass: one is made for every datagram, and a
    tuple is several times cheaper to build.
    """

    datagram: bytes


@dataclass(frozen=True)
class Received:
    """A completed upload, already translated back from netascii when needed."""

    content: bytes


@dataclass(frozen=True)
class Finished:
    """The transfer is over.  ``bytes_sent`` counts payload bytes as transferred on the
    wire: acknowledged by the client for downloads, accepted from it for uploads."""

    outcome: Outcome
    bytes_sent: int
    detail: str


Action: TypeAlias = Send | Received | Finished

BlockSource: TypeAlias = Callable[[int, int], bytes]
"""``source(offset, length)`` returns up to ``length`` bytes at ``offset``; a short read
means end of file.  It may be called again for the same offset when a window is resent.
It may raise :class:`OSError`, which ends the transfer with :attr:`Outcome.ERROR`."""


def bytes_source(content: bytes) -> BlockSource:
    """Block source over an in-memory file (no copy per block beyond the slice)."""
    view = memoryview(bytes(content))

    def read(offset: int, length: int) -> bytes:
        return bytes(view[offset : offset + length])

    return read


def reject_request(code: int, message: str) -> list[Action]:
    """Actions that answer a request the server will not serve (missing file, refused
    options, forbidden path...), so adapters log every request the same way."""
    outcome = Outcome.NOT_FOUND if code == ErrorCode.FILE_NOT_FOUND else Outcome.REFUSED
    return [Send(error_packet(code, message)), Finished(outcome, 0, message)]


# --------------------------------------------------------------------------------------
# Shared transfer machinery
# --------------------------------------------------------------------------------------


class _RetryTimer:
    """Retransmission deadline with exponential back-off and a retry budget.

    Doubling the interval keeps a slow or congested phone from being flooded, and the
    budget bounds how long a vanished client can hold a transfer slot.
    """

    def __init__(self, initial: float, limits: Limits) -> None:
        self._initial = initial
        self._cap = max(limits.max_backoff, initial)
        self._max_retries = limits.max_retries
        self._interval = initial
        self.retries = 0
        self.deadline: float | None = None

    def progress(self, now: float) -> None:
        """The peer moved forward: forget past failures and wait a fresh interval."""
        self.retries = 0
        self._interval = self._initial
        self.deadline = now + self._interval

    def expired(self, now: float) -> bool:
        return self.deadline is not None and now >= self.deadline

    def back_off(self, now: float) -> bool:
        """Account for one retransmission; False when the retry budget is spent."""
        if self.retries >= self._max_retries:
            return False
        self.retries += 1
        self._interval = min(self._interval * 2, self._cap)
        self.deadline = now + self._interval
        return True

    def stop(self) -> None:
        self.deadline = None


def _initial_timeout(options: NegotiatedOptions, limits: Limits) -> float:
    return float(options.timeout) if options.timeout else limits.default_timeout


def _transfer_mode(mode: str) -> str:
    """Only octet and netascii describe file contents; mail (RFC 1350) is obsolete."""
    lowered = mode.lower()
    if lowered not in ("octet", "netascii"):
        raise ValueError(f"unsupported transfer mode {mode!r}")
    return lowered


def _as_packet(packet: Packet | Datagram) -> Packet | PacketError:
    """Accept raw datagrams as well as decoded packets, turning decode errors into values."""
    if isinstance(packet, bytes | bytearray | memoryview):
        try:
            return decode(bytes(packet))
        except PacketError as exc:
            return exc
    return packet


def _peer_error_detail(packet: Error) -> str:
    return f"peer sent error {int(packet.code)}: {packet.message[:_MAX_ERROR_MESSAGE]}"


class _Phase(enum.Enum):
    NEW = "new"
    OACK = "waiting for the OACK to be answered"
    TRANSFER = "transferring"
    DONE = "done"


class _Transfer(abc.ABC):
    """State common to both directions: phase, retry timer and the single Finished."""

    def __init__(self, options: NegotiatedOptions, mode: str, limits: Limits) -> None:
        self.options = options
        self.mode = _transfer_mode(mode)
        self.limits = limits
        self.outcome: Outcome | None = None
        self._phase = _Phase.NEW
        self._timer = _RetryTimer(_initial_timeout(options, limits), limits)
        self._oack = encode(options.oack) if options.oack else None

    @property
    def is_finished(self) -> bool:
        return self.outcome is not None

    @property
    @abc.abstractmethod
    def bytes_transferred(self) -> int:
        """Payload bytes moved so far (sent for a read, received for a write)."""

    def next_deadline(self) -> float | None:
        """When :meth:`timeout` should next be called; None when nothing is pending."""
        return None if self.is_finished else self._timer.deadline

    def _begin(self) -> None:
        if self._phase is not _Phase.NEW:
            raise RuntimeError("start() may only be called once")
        self._phase = _Phase.OACK if self._oack else _Phase.TRANSFER

    def _check_started(self) -> None:
        if self._phase is _Phase.NEW:
            raise RuntimeError("start() must be called before feeding the transfer")

    def _finish(self, outcome: Outcome, detail: str, error: bytes | None = None) -> list[Action]:
        self.outcome = outcome
        self._phase = _Phase.DONE
        self._timer.stop()
        actions: list[Action] = [] if error is None else [Send(error)]
        actions.append(Finished(outcome, self.bytes_transferred, detail))
        return actions

    def _fail(
        self, code: ErrorCode, message: str, outcome: Outcome = Outcome.ERROR
    ) -> list[Action]:
        """Tell the peer why we stop (RFC 1350 expects an ERROR) and end the transfer."""
        return self._finish(outcome, message, error_packet(code, message))

    def _malformed(self, problem: PacketError) -> list[Action]:
        """RFC 1350: a garbled packet from the peer ends the transfer with an ERROR."""
        return self._fail(problem.code, f"malformed packet: {problem.message}")

    def _aborted(self, packet: Error) -> list[Action]:
        """The peer gave up.  Never answer an ERROR with an ERROR: it could ping-pong."""
        return self._finish(Outcome.ABORTED, _peer_error_detail(packet))

    def _unexpected(self, packet: Packet) -> list[Action]:
        name = type(packet).__name__
        return self._fail(ErrorCode.ILLEGAL_OPERATION, f"unexpected {name} packet")

    def _give_up(self) -> list[Action]:
        """Retry budget spent.  The ERROR is a courtesy to a client that is still alive
        but whose packets never reach us; it costs one datagram."""
        return self._fail(ErrorCode.UNDEFINED, "timed out", Outcome.TIMED_OUT)


# --------------------------------------------------------------------------------------
# Downloads
# --------------------------------------------------------------------------------------


class ReadTransfer(_Transfer):
    """Server side of an RRQ: send the file in windows of DATA blocks, driven by ACKs.

    Blocks are tracked with an absolute index (1, 2, 3, ...) and only reduced modulo
    65536 on the wire, so files with more than 65535 blocks roll over 65535 -> 0 -> 1 the
    way tftp-hpa and curl expect.  Blocks are (re)read from the source on demand, so the
    only memory held is the source itself; for a file on disk pass a :data:`BlockSource`.

    netascii needs the whole content as ``bytes`` (the translation changes offsets, which
    a random-access source cannot provide); a callable source with netascii is refused.
    """

    def __init__(
        self,
        options: NegotiatedOptions,
        mode: str,
        source: bytes | BlockSource,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(options, mode, limits)
        self._content: bytes | None = None
        """The file on the wire, when it is in memory: blocks are sliced off it."""
        self._read = self._make_source(source)
        self._acked = 0
        """Absolute index of the highest block the client acknowledged."""
        self._sent_max = 0
        """Absolute index of the highest block sent in the current window."""
        self._last: int | None = None
        """Absolute index of the final (short) block, once it has been read."""
        self._total: int | None = None
        """Wire size of the file, known once the final block has been read."""

    def _make_source(self, source: bytes | BlockSource) -> BlockSource | None:
        if not isinstance(source, bytes | bytearray | memoryview):
            if self.mode == "netascii":
                raise ValueError("netascii downloads need the content as bytes")
            return source
        wire = netascii_encode(bytes(source)) if self.mode == "netascii" else bytes(source)
        if self.options.tsize is not None and self.options.tsize != len(wire):
            raise ValueError(f"negotiated tsize {self.options.tsize} != wire size {len(wire)}")
        self._content = wire
        # Blocks are sliced off _content: no source, and in particular not a bound method
        # of this transfer kept on it (a reference cycle per transfer, left to the
        # garbage collector at thousands of transfers a second).
        return None

    @property
    def bytes_transferred(self) -> int:
        """Payload bytes the client has acknowledged so far."""
        if self._last is not None and self._total is not None and self._acked >= self._last:
            return self._total
        return self._acked * self.options.blksize

    def start(self, now: float) -> list[Action]:
        """Open the transfer: the OACK when options were accepted, else the first window."""
        self._begin()
        self._timer.progress(now)
        if self._oack is not None:
            return [Send(self._oack)]
        return self._send_window()

    def receive(self, packet: Packet | Datagram, now: float) -> list[Action]:
        """Handle one datagram (raw bytes or decoded packet) from the transfer's peer.

        Only raises :class:`RuntimeError` when called before :meth:`start`.
        """
        self._check_started()
        if self.outcome is not None:
            return []
        if type(packet) is bytes and len(packet) == 4 and packet[:2] == _ACK_OPCODE:
            # The datagram a download sees most, read straight off the bytes; exactly
            # what decode() would make of it.
            return self._on_ack(int.from_bytes(packet[2:], "big"), now)
        parsed = _as_packet(packet)
        if isinstance(parsed, PacketError):
            return self._malformed(parsed)
        if isinstance(parsed, Error):
            return self._aborted(parsed)
        if isinstance(parsed, Ack):
            return self._on_ack(parsed.block, now)
        return self._unexpected(parsed)

    def ack(self, block: int, now: float) -> list[Action]:
        """Handle an ACK of ``block`` (16-bit), exactly as :meth:`receive` handles the
        4-byte ACK datagram carrying it: for adapters that read the opcode and block
        number straight off their receive buffer, the datagram a download sees most."""
        self._check_started()
        if self.outcome is not None:
            return []
        return self._on_ack(block, now)

    def timeout(self, now: float) -> list[Action]:
        """Retransmit what is unacknowledged once the deadline has passed, or give up."""
        if self.is_finished or not self._timer.expired(now):
            return []
        if not self._timer.back_off(now):
            return self._give_up()
        if self._phase is _Phase.OACK and self._oack is not None:
            return [Send(self._oack)]
        return self._send_window()

    # -- internals -------------------------------------------------------------------

    def _on_ack(self, block: int, now: float) -> list[Action]:
        if self._phase is _Phase.OACK:
            return self._on_oack_answer(block, now)
        delta = (block - self._acked) % _BLOCK_MODULO
        if delta == 0 or self._acked + delta > self._sent_max:
            # A duplicate or stale ACK.  Answering it would double every later block
            # (the Sorcerer's Apprentice bug, RFC 1123 4.2.3.1); the timer covers losses.
            return []
        self._acked += delta
        if self._acked == self._last:
            return self._finish(Outcome.COMPLETE, "transfer complete")
        self._timer.progress(now)
        return self._send_window()

    def _on_oack_answer(self, block: int, now: float) -> list[Action]:
        """RFC 2347: the client confirms the OACK with ACK 0; anything else is stale."""
        if block != 0:
            return []
        self._phase = _Phase.TRANSFER
        self._timer.progress(now)
        return self._send_window()

    def _send_window(self) -> list[Action]:
        """Send blocks acked+1 .. acked+windowsize, stopping after the final block.

        Restarting from the last acknowledged block serves both the retransmission on
        timeout and the RFC 7440 rule that an ACK inside a window means 'resend from
        here'.
        """
        first = self._acked + 1
        end = self._acked + self.options.windowsize
        if self._last is not None:
            end = min(end, self._last)
        actions: list[Action] = []
        for index in range(first, end + 1):
            try:
                payload = self._read_block(index)
            except OSError as exc:
                return self._fail(ErrorCode.UNDEFINED, f"read error: {exc.strerror or exc}")
            # encode(Data(...)) without the checks: the block number is reduced to 16 bits
            # and _read_block never returns more than blksize bytes
            header = _DATA_OPCODE + (index % _BLOCK_MODULO).to_bytes(2, "big")
            actions.append(Send(header + payload))
            self._sent_max = index
            if index == self._last:
                break
        return actions

    def _read_block(self, index: int) -> bytes:
        """Block ``index`` from the source; a short block marks the end of the file.

        The first short read is remembered, so a file that grows during the transfer
        cannot make the final block move.
        """
        blksize = self.options.blksize
        offset = (index - 1) * blksize
        content = self._content
        if content is not None:  # a slice of bytes is bytes, never longer than asked
            payload = content[offset : offset + blksize]
        else:
            payload = bytes(self._read(offset, blksize))[:blksize]  # type: ignore[misc]
        if self._last is None and len(payload) < blksize:
            self._last = index
            self._total = offset + len(payload)
        return payload


# --------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------


class WriteTransfer(_Transfer):
    """Server side of a WRQ (phones uploading logs and configuration).

    Blocks are accepted strictly in order (out-of-order blocks are dropped, so the only
    buffer is the reassembled upload, capped by ``limits.max_upload_size``).  An ACK goes
    out after every ``windowsize`` in-order blocks and for the final short block.

    Duplicates and gaps are answered with one re-ACK of the last in-order block, then
    ignored until progress is made: enough to resynchronise a sender whose ACK was lost,
    without letting a flood of duplicates turn into a flood of ACKs.

    Dally: once the upload is complete the object keeps answering a retransmitted final
    DATA block with the final ACK (one ACK per such datagram, so it cannot amplify).  The
    adapter decides how long to keep routing datagrams to a finished transfer; a few
    seconds is plenty.  No timer runs after completion.
    """

    def __init__(
        self,
        options: NegotiatedOptions,
        mode: str,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(options, mode, limits)
        self._buffer = bytearray()
        self._received = 0
        """Absolute index of the last block received in order."""
        self._last_acked = 0
        """Absolute index of the last block acknowledged."""
        self._reacked = False
        """Whether a duplicate/gap has already been answered since the last progress."""
        self._wire_bytes = 0

    @property
    def bytes_transferred(self) -> int:
        """Payload bytes accepted from the client (before netascii translation)."""
        return self._wire_bytes

    def start(self, now: float) -> list[Action]:
        """Accept the upload: the OACK when options were accepted, else ACK 0."""
        self._begin()
        self._timer.progress(now)
        return [Send(self._current_ack())]

    def receive(self, packet: Packet | Datagram, now: float) -> list[Action]:
        """Handle one datagram (raw bytes or decoded packet) from the transfer's peer.

        Only raises :class:`RuntimeError` when called before :meth:`start`.
        """
        self._check_started()
        parsed = _as_packet(packet)
        if self.is_finished:
            return self._after_finish(parsed)
        if isinstance(parsed, PacketError):
            return self._malformed(parsed)
        if isinstance(parsed, Error):
            return self._aborted(parsed)
        if isinstance(parsed, Data):
            return self._on_data(parsed, now)
        return self._unexpected(parsed)

    def timeout(self, now: float) -> list[Action]:
        """Re-send the last ACK (or the OACK) so a sender whose window was lost resumes."""
        if self.is_finished or not self._timer.expired(now):
            return []
        if not self._timer.back_off(now):
            return self._give_up()
        return [Send(self._current_ack())]

    # -- internals -------------------------------------------------------------------

    def _current_ack(self) -> bytes:
        """What re-synchronises the client: the OACK until DATA 1 arrived, else an ACK."""
        if self._phase is _Phase.OACK and self._oack is not None:
            return self._oack
        self._last_acked = self._received
        return encode(Ack(self._received % _BLOCK_MODULO))

    def _on_data(self, packet: Data, now: float) -> list[Action]:
        if packet.block != (self._received + 1) % _BLOCK_MODULO:
            return self._reack()
        if len(packet.payload) > self.options.blksize:
            return self._fail(ErrorCode.ILLEGAL_OPERATION, "block larger than blksize")
        if self._wire_bytes + len(packet.payload) > self.limits.max_upload_size:
            return self._fail(ErrorCode.DISK_FULL, "upload too large", Outcome.REFUSED)
        self._accept(packet.payload, now)
        if len(packet.payload) < self.options.blksize:
            return self._complete()
        if self._received - self._last_acked >= self.options.windowsize:
            return [Send(self._current_ack())]
        return []

    def _accept(self, payload: bytes, now: float) -> None:
        self._buffer += payload
        self._wire_bytes += len(payload)
        self._received += 1
        self._phase = _Phase.TRANSFER
        self._reacked = False
        self._timer.progress(now)

    def _reack(self) -> list[Action]:
        """One re-ACK per stall: tells the sender where to resume (RFC 7440 section 4)."""
        if self._reacked:
            return []
        self._reacked = True
        return [Send(self._current_ack())]

    def _complete(self) -> list[Action]:
        wire = bytes(self._buffer)
        self._buffer = bytearray()
        content = netascii_decode(wire) if self.mode == "netascii" else wire
        ack = Send(self._current_ack())
        return [ack, Received(content), *self._finish(Outcome.COMPLETE, "upload complete")]

    def _after_finish(self, packet: Packet | PacketError) -> list[Action]:
        """Dally: repeat the final ACK if the final block shows up again."""
        if self.outcome is not Outcome.COMPLETE or not isinstance(packet, Data):
            return []
        if packet.block != self._received % _BLOCK_MODULO:
            return []
        return [Send(encode(Ack(packet.block)))]

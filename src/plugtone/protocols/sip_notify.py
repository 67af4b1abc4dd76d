"""A SIP NOTIFY client transaction over UDP, without I/O (RFC 3261 section 17.1.2).

Pushed resync sends a phone one out-of-dialog NOTIFY (``Event: check-sync``) and wants
to know what became of it. The transaction is a state machine fed datagrams and the
time and asked what to send, so its retransmission schedule is tested exactly, with
no socket and no clock; ``plugtone.servers.notify`` is the thin asyncio adapter.

Timers, per RFC 3261 over an unreliable transport:

- E: the request is sent again after T1 (500 ms), then after 2*T1, 4*T1... capped at
  T2 (4 s): 0.5, 1, 2, 4, 4, 4... seconds apart. A provisional (1xx) response moves
  the transaction to Proceeding, where each retransmission waits T2.
- F: 64*T1 (32 s) after the first send without a final response, it times out.
- K (T4, absorbing retransmitted final responses) is not run: once the outcome is
  known the caller stops listening, and a late copy is simply never read.

A datagram that is not a well-formed response to this request (another branch, another
CSeq, garbage, a request) is ignored, as RFC 3261 section 17.1.3 matches responses.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from enum import Enum

T1 = 0.5
"""RFC 3261's round-trip estimate, seconds."""
T2 = 4.0
"""RFC 3261's maximum retransmission interval for non-INVITE requests, seconds."""

BRANCH_MAGIC = "z9hG4bK"
"""RFC 3261's branch prefix: marks a branch as unique per transaction."""

_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS = re.compile(r"^SIP/2\.0 ([1-6][0-9][0-9])(?: (.*))?$")
_COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length",
            "m": "contact", "o": "event"}  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BRANCH = re.compile(r";\s*branch\s*=\s*([^;,\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Timers:
    """The transaction's timer values; RFC 3261's by default. Tests scale them down."""

    t1: float = T1
    t2: float = T2

    @property
    def f(self) -> float:
        """Timer F: how long to wait for a final response."""
        return 64 * self.t1


@dataclass(frozen=True)
class NotifyRequest:
    """What the NOTIFY says: who it is for, where it comes from, and its event.

    ``user`` is the phone's first line's SIP user (phones match the Request-URI's user
    against their lines); ``host``/``port`` its last known address. ``local_host`` and
    ``local_port`` are where plugtone listens for the answer (Via and Contact).
    """

    user: str
    host: str
    port: int
    local_host: str
    local_port: int
    event: str
    headers: tuple[tuple[str, str], ...] = ()
    subscription_state: str = "active"
    from_user: str = "plugtone"

    def __post_init__(self) -> None:
        for name, value in (("user", self.user), ("event", self.event.split(";")[0]),
                            ("from_user", self.from_user)):  # fmt: skip
            if not _TOKEN.match(value or ""):
                raise ValueError(f"{name} {value!r} cannot go into a SIP request as it is")
        for name, value in self.headers:
            if not _TOKEN.match(name) or any(c in value for c in "\r\n"):
                raise ValueError(f"header {name!r} cannot go into a SIP request")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class State(Enum):
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    TIMED_OUT = "timed out"


@dataclass(frozen=True)
class Response:
    """A response matched to the transaction."""

    code: int
    reason: str


@dataclass
class NotifyTransaction:
    """One NOTIFY and its retransmissions until a final response or timer F.

    Call :meth:`start` once, then :meth:`receive` with every datagram that arrives and
    :meth:`on_timer` whenever :meth:`next_timer` says; each returns the datagrams to
    send (the request again, or nothing). :attr:`final` is the final response, or
    ``None`` with :attr:`state` ``TIMED_OUT``.
    """

    request: NotifyRequest
    timers: Timers = field(default_factory=Timers)
    branch: str = field(default_factory=lambda: BRANCH_MAGIC + secrets.token_hex(12))
    call_id: str = field(default_factory=lambda: secrets.token_hex(16))
    tag: str = field(default_factory=lambda: secrets.token_hex(6))
    cseq: int = 1
    state: State = State.TRYING
    final: Response | None = None
    provisional: list[Response] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """When the request went out, first send included (seconds, the caller's clock)."""
    _datagram: bytes = b""
    _interval: float = 0.0
    _retransmit_at: float | None = None
    _give_up_at: float | None = None

    @property
    def done(self) -> bool:
        return self.state in (State.COMPLETED, State.TIMED_OUT)

    def message(self) -> bytes:
        """The request as sent (the same bytes on every retransmission)."""
        if not self._datagram:
            self._datagram = self._build()
        return self._datagram

    def _build(self) -> bytes:
        r = self.request
        target = _hostport(r.host, r.port)
        local = _hostport(r.local_host, r.local_port)
        lines = [
            f"NOTIFY sip:{r.user}@{target} SIP/2.0",
            f"Via: SIP/2.0/UDP {local};branch={self.branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:{r.from_user}@{local}>;tag={self.tag}",
            f"To: <sip:{r.user}@{target}>",
            f"Call-ID: {self.call_id}@{r.local_host}",
            f"CSeq: {self.cseq} NOTIFY",
            f"Contact: <sip:{r.from_user}@{local}>",
            f"Event: {r.event}",
            f"Subscription-State: {r.subscription_state}",
            *(f"{name}: {value}" for name, value in r.headers),
            "User-Agent: plugtone",
            "Content-Length: 0",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")

    def start(self, now: float) -> list[bytes]:
        """Send the request for the first time; starts timers E and F."""
        if self.sent_at:
            raise RuntimeError("the transaction has already started")
        self._interval = self.timers.t1
        self._retransmit_at = now + self._interval
        self._give_up_at = now + self.timers.f
        self.sent_at.append(now)
        return [self.message()]

    def next_timer(self) -> float | None:
        """When :meth:`on_timer` should next be called; ``None`` once done."""
        if self.done or self._retransmit_at is None or self._give_up_at is None:
            return None
        return min(self._retransmit_at, self._give_up_at)

    def on_timer(self, now: float) -> list[bytes]:
        """Fire what is due at ``now``: timer F (time out) first, else timer E."""
        if self.done or self._give_up_at is None or self._retransmit_at is None:
            return []
        if now >= self._give_up_at:
            self.state = State.TIMED_OUT
            return []
        if now < self._retransmit_at:
            return []
        if self.state is State.PROCEEDING:
            self._interval = self.timers.t2
        else:
            self._interval = min(2 * self._interval, self.timers.t2)
        # from the time it was due, so a late wake-up does not stretch the schedule
        self._retransmit_at += self._interval
        self.sent_at.append(now)
        return [self.message()]

    def receive(self, datagram: bytes, now: float) -> list[bytes]:
        """Take a datagram; a matching response moves the transaction on."""
        if self.done or not self.sent_at:
            return []
        response = parse_response(datagram)
        if response is None:
            return []
        code, reason, headers = response
        if not self._matches(headers):
            return []
        if code < 200:
            self.provisional.append(Response(code, reason))
            if self.state is State.TRYING:
                self.state = State.PROCEEDING
            return []
        self.final = Response(code, reason)
        self.state = State.COMPLETED
        return []

    def _matches(self, headers: dict[str, list[str]]) -> bool:
        vias = headers.get("via")
        cseqs = headers.get("cseq")
        if not vias or not cseqs or len(cseqs) != 1:
            return False
        found = _BRANCH.search(vias[0].split(",")[0])
        if found is None or found.group(1) != self.branch:
            return False
        number, _, method = cseqs[0].strip().partition(" ")
        return number == str(self.cseq) and method.strip() == "NOTIFY"


def parse_response(datagram: bytes) -> tuple[int, str, dict[str, list[str]]] | None:
    """A SIP response's code, reason and headers (lower-case long names, in order), or
    ``None`` for anything else: a request, garbage, a truncated or oversized message."""
    if len(datagram) > 65_535:
        return None
    try:
        text = datagram.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head, separator, _ = text.partition("\r\n\r\n")
    if not separator:
        head, separator, _ = text.partition("\n\n")
        if not separator:
            return None
    lines = head.replace("\r\n", "\n").split("\n")
    if _CONTROL.search(head.replace("\r\n", "").replace("\n", "")):
        return None  # control characters have no place in a SIP header
    status = _STATUS.match(lines[0].strip())
    if status is None:
        return None
    headers: dict[str, list[str]] = {}
    last: str | None = None
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):  # folded continuation of the previous header
            if last is None:
                return None
            headers[last][-1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not _TOKEN.match(name):
            return None
        name = _COMPACT.get(name, name)
        headers.setdefault(name, []).append(value.strip())
        last = name
    if "via" in headers:  # a header may hold several comma-separated Vias
        headers["via"] = [v for value in headers["via"] for v in value.split(",") if v.strip()]
    return int(status.group(1)), (status.group(2) or "").strip(), headers

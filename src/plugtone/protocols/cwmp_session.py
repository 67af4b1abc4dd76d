"""One CWMP session seen from the ACS, sans-IO (TR-069 Amendment 6, §3.7).

The endpoint owns HTTP (authentication, cookies, the device lock, storage); this object
owns the order of messages. It is driven like h11:

1. every POST body of the session (decoded: :func:`~plugtone.protocols.cwmp.decode_body`)
   goes to :meth:`CwmpSession.receive`, which returns what happened as events;
2. if the events end with :class:`ReadyForRequest`, the caller may :meth:`~CwmpSession.send`
   one request (the next of the device's tasks); if not, the session will end;
3. :meth:`~CwmpSession.reply` gives the HTTP answer (status, body, headers) to write back.

``receive`` and ``reply`` alternate strictly. The message flow it enforces:

- the first POST must carry an Inform; anything else is refused (HTTP 400 for an empty
  or unreadable body, a SOAP fault otherwise) and the session is over;
- the Inform is answered with InformResponse (MaxEnvelopes 1, the CPE's ``cwmp:ID``
  echoed, ``UseCWMPVersion`` when the CPE listed ``SupportedCWMPVersions``, fault 8006
  when none is in common);
- the CPE's own requests (TransferComplete, AutonomousTransferComplete, GetRPCMethods)
  are each answered (:meth:`~CwmpSession.respond` replaces the automatic answer, e.g. with
  fault 8005 when the store cannot take a TransferComplete now); any other request gets
  fault 8000;
- the CPE's empty POST (or an envelope with an empty Body) says it has no more requests:
  :class:`ReadyForRequest`. From then on the ACS sends one request per HTTP response and
  the CPE's next POST carries its response or fault, handed back matched to the request
  (:class:`ResponseReceived`, :class:`FaultReceived`), followed by another
  :class:`ReadyForRequest`;
- when the caller sends nothing, the reply is an empty 204 and the session is over.

``hold_requests`` set True puts ``HoldRequests`` (mustUnderstand) in every ACS envelope: the
CPE must then send no request of its own until an envelope without it (its empty POST
comes straight after the InformResponse). The standard deprecates it, but CPEs still
honour it.

Time enters only as numbers passed in (``now``, seconds of any monotonic clock): the
session times out when no POST came for ``timeout`` seconds (the CPE's ``SessionTimeout``
header when it sent one, else the constructor's default, 30 s as §3.7.1.5 suggests).
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass

from plugtone.protocols import cwmp_messages as m
from plugtone.protocols.cwmp_codec import (
    CWMP_VERSIONS,
    DEFAULT_NAMESPACE,
    Envelope,
    build,
    fault_envelope,
    is_empty,
    parse,
)
from plugtone.protocols.cwmp_faults import CwmpError, FaultCode

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_SESSION_TIMEOUT",
    "CpeRequestReceived",
    "CwmpSession",
    "Event",
    "FaultReceived",
    "InformReceived",
    "LocalProtocolError",
    "ProtocolError",
    "ReadyForRequest",
    "RequestAbandoned",
    "ResponseReceived",
    "SessionEnded",
    "State",
]

CONTENT_TYPE = 'text/xml; charset="utf-8"'
DEFAULT_SESSION_TIMEOUT = 30.0
"""Seconds without a POST before the session is given up (§3.7.1.5: 30 s at least)."""
_TIMEOUT_BOUNDS = (5.0, 3600.0)
"""A CPE's SessionTimeout is believed within these bounds only."""


class State(enum.Enum):
    """Where the session is; :attr:`CwmpSession.state`."""

    AWAIT_INFORM = "await-inform"
    """Nothing received yet: the first POST must carry an Inform."""
    CPE_REQUESTS = "cpe-requests"
    """Inform answered: the CPE sends its requests, then an empty POST."""
    ACS_REQUESTS = "acs-requests"
    """The CPE waits for the ACS's requests (one outstanding at a time)."""
    ENDED = "ended"
    """204 sent, the session refused, aborted or timed out."""


# --------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InformReceived:
    """The session's Inform. ``envelope`` gives the header fields (ID, SessionTimeout)."""

    inform: m.Inform
    envelope: Envelope


@dataclass(frozen=True)
class CpeRequestReceived:
    """A request of the CPE's (TransferComplete...), answered automatically unless the
    caller calls :meth:`CwmpSession.respond` before :meth:`CwmpSession.reply`.
    An :class:`~plugtone.protocols.cwmp_messages.UnknownRpc` (or an ACS-only method)
    is answered with fault 8000."""

    request: m.Rpc
    envelope: Envelope


@dataclass(frozen=True)
class ReadyForRequest:
    """The CPE waits for the ACS: :meth:`CwmpSession.send` the next request, or let
    :meth:`CwmpSession.reply` end the session with 204."""


@dataclass(frozen=True)
class ResponseReceived:
    """The response to the ACS's ``request`` (sent with ID ``request_id``)."""

    request: m.Rpc
    response: m.Rpc
    request_id: str


@dataclass(frozen=True)
class FaultReceived:
    """The CPE refused ``request`` with ``fault`` (its :attr:`~m.Fault.message` explains)."""

    request: m.Rpc
    fault: m.Fault
    request_id: str


@dataclass(frozen=True)
class RequestAbandoned:
    """``request`` was sent but will get no answer in this session (empty POST instead
    of a response, a wrong response, a new Inform, a timeout): queue it again."""

    request: m.Rpc
    request_id: str
    reason: str


@dataclass(frozen=True)
class ProtocolError:
    """The CPE broke the protocol or sent an unreadable body; the reply is a fault or
    an HTTP error, and the session is over."""

    error: CwmpError


@dataclass(frozen=True)
class SessionEnded:
    """The session is over (``reason``: ``done``, ``timed out``, ``refused``...)."""

    reason: str


Event = (
    InformReceived
    | CpeRequestReceived
    | ReadyForRequest
    | ResponseReceived
    | FaultReceived
    | RequestAbandoned
    | ProtocolError
    | SessionEnded
)


class LocalProtocolError(RuntimeError):
    """The caller used the session out of order (two receives without a reply, a send
    when the CPE is not waiting for a request...): a bug in the endpoint, not the CPE."""


@dataclass
class _Outstanding:
    request: m.Rpc
    id: str


# --------------------------------------------------------------------------------------
# The session
# --------------------------------------------------------------------------------------


class CwmpSession:
    """The ACS side of one CWMP session (see the module docstring for the flow).

    ``timeout`` is the default inactivity limit in seconds; ``id_prefix`` starts every
    ``cwmp:ID`` the ACS sends (random by default, so a stale response from an earlier
    session never matches a request of this one).
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_SESSION_TIMEOUT,
        id_prefix: str | None = None,
        hold_requests: bool = False,
    ) -> None:
        self.state = State.AWAIT_INFORM
        self.hold_requests = hold_requests
        self.inform: m.Inform | None = None
        """The session's Inform, once received."""
        self.namespace = DEFAULT_NAMESPACE
        """The CPE's CWMP namespace; every ACS envelope is built in it."""
        self.cwmp_version: str | None = None
        """The version agreed by ``UseCWMPVersion`` (None: the CPE did not negotiate)."""
        self.timeout = timeout
        self._default_timeout = timeout
        self._id_prefix = id_prefix if id_prefix is not None else secrets.token_hex(4) + "-"
        self._counter = 0
        self._outstanding: _Outstanding | None = None
        self._reply: tuple[int, bytes, dict[str, str]] | None = None
        self._awaiting_reply = False
        self._may_send = False
        self._answering: Envelope | None = None
        self._last_activity: float | None = None
        self.end_reason: str | None = None
        """Why the session ended (``done`` after the 204), None while it runs."""

    # ---- properties ------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the session is over (the endpoint forgets it and its cookie)."""
        return self.state is State.ENDED

    @property
    def outstanding(self) -> m.Rpc | None:
        """The ACS request awaiting its response, if any."""
        return self._outstanding.request if self._outstanding else None

    def deadline(self) -> float | None:
        """When the session times out (in the caller's clock), None before any POST."""
        if self._last_activity is None or self.finished:
            return None
        return self._last_activity + self.timeout

    # ---- driving ---------------------------------------------------------------------

    def receive(self, body: bytes, *, now: float | None = None) -> list[Event]:
        """Take one POST body (decoded) and say what happened.

        Raises :class:`LocalProtocolError` when the previous body has not been
        answered with :meth:`reply` yet. Never raises for anything the CPE sent.
        """
        events = self._begin(now)
        if is_empty(body):
            return events + self._on_empty()
        try:
            envelope = parse(body)
        except CwmpError as error:
            return events + self._refuse(error, namespace=self.namespace, id=None)
        return events + self._on_envelope(envelope)

    def receive_envelope(
        self, envelope: Envelope | None, *, now: float | None = None
    ) -> list[Event]:
        """:meth:`receive` for a body the caller has already parsed (``None``: the empty
        POST). An endpoint that must parse a body before it knows which session it
        belongs to (an Inform opens a new one) hands the envelope on rather than have
        it parsed twice; a body it could not parse it answers itself."""
        events = self._begin(now)
        if envelope is None:
            return events + self._on_empty()
        return events + self._on_envelope(envelope)

    def _begin(self, now: float | None) -> list[Event]:
        if self._awaiting_reply:
            raise LocalProtocolError("receive() called again before reply()")
        self._awaiting_reply = True
        self._may_send = False
        self._answering = None
        self._reply = None
        events: list[Event] = []
        if now is not None:
            deadline = self.deadline()
            if deadline is not None and now > deadline:
                events += self._end("timed out")
            self._last_activity = now
        return events

    def send(self, request: m.Rpc) -> str:
        """Send ``request`` in the coming reply; returns the ``cwmp:ID`` it goes with.

        Only after events ending with :class:`ReadyForRequest`, once per POST.
        """
        if not self._may_send or self._reply is not None:
            raise LocalProtocolError("send() is only allowed after ReadyForRequest")
        if isinstance(request, m.Fault) or not isinstance(request, m.Rpc):
            raise LocalProtocolError(f"{request!r} is not a request")
        self._counter += 1
        request_id = f"{self._id_prefix}{self._counter}"
        envelope = self._envelope(request, id=request_id)
        body = build(envelope)  # may raise ValueError: nothing is changed then
        self._outstanding = _Outstanding(request, request_id)
        self._may_send = False
        self._reply = (200, body, {"Content-Type": CONTENT_TYPE})
        return request_id

    def respond(self, message: m.Rpc | m.Fault) -> None:
        """Answer the CPE's Inform or request with ``message`` instead of the automatic
        answer (a :class:`~m.Fault` such as 8005 to have the CPE retry later). A fault
        in answer to the Inform ends the session."""
        if self._answering is None or self._reply is None:
            raise LocalProtocolError("respond() is only allowed after a CPE request")
        envelope = self._envelope(message, id=self._answering.id)
        status = 500 if isinstance(message, m.Fault) else 200
        self._reply = (status, build(envelope), {"Content-Type": CONTENT_TYPE})
        if isinstance(message, m.Fault) and isinstance(self._answering.body, m.Inform):
            self.state = State.ENDED
            self.end_reason = "refused"

    def reply(self) -> tuple[int, bytes, dict[str, str]]:
        """The HTTP answer to the last body: ``(status, body, headers)``.

        200 with an envelope, 500 with a SOAP fault, 400/413 with a short text for a
        body that could not be read, or 204 with nothing: the session is then over.
        """
        if not self._awaiting_reply:
            raise LocalProtocolError("reply() called without a received body")
        self._awaiting_reply = False
        self._may_send = False
        self._answering = None
        reply = self._reply
        self._reply = None
        if reply is None:
            self.state = State.ENDED
            self.end_reason = self.end_reason or "done"
            return 204, b"", {}
        return reply

    def check_timeout(self, now: float) -> list[Event]:
        """Events for a session whose CPE went quiet past its deadline (else none); the
        endpoint calls it from its sweep, and reaps the session when it is finished."""
        deadline = self.deadline()
        if deadline is None or now <= deadline or self._awaiting_reply:
            return []
        return self._end("timed out")

    def abort(self, reason: str = "aborted") -> list[Event]:
        """End the session now (the HTTP connection closed, the server shuts down)."""
        if self.finished:
            return []
        self._awaiting_reply = False
        self._reply = None
        return self._end(reason)

    # ---- internals -------------------------------------------------------------------

    def _end(self, reason: str) -> list[Event]:
        events: list[Event] = []
        if self._outstanding is not None:
            events.append(self._abandon(f"session {reason}"))
        if self.state is not State.ENDED:
            self.state = State.ENDED
            self.end_reason = reason
            events.append(SessionEnded(reason))
        return events

    def _abandon(self, reason: str) -> RequestAbandoned:
        assert self._outstanding is not None
        outstanding, self._outstanding = self._outstanding, None
        return RequestAbandoned(outstanding.request, outstanding.id, reason)

    def _envelope(self, body: m.Message, *, id: str | None) -> Envelope:
        return Envelope(
            body=body,
            id=id,
            namespace=self.namespace,
            hold_requests=True if self.hold_requests else None,
        )

    def _answer(
        self, envelope: Envelope, message: m.Message, *, use_cwmp_version: str | None = None
    ) -> None:
        self._answering = envelope
        status = 500 if isinstance(message, m.Fault) else 200
        reply = self._envelope(message, id=envelope.id)
        reply.use_cwmp_version = use_cwmp_version
        self._reply = (status, build(reply), {"Content-Type": CONTENT_TYPE})

    def _refuse(self, error: CwmpError, *, namespace: str, id: str | None) -> list[Event]:
        """Answer with a fault (or an HTTP error before any Inform) and end."""
        events: list[Event] = [ProtocolError(error)]
        if self.state is State.AWAIT_INFORM and error.http_status in (400, 413, 415):
            text = f"{error.code} {error.message}\n".encode()
            self._reply = (error.http_status, text, {"Content-Type": "text/plain; charset=utf-8"})
        else:
            envelope = fault_envelope(error.code, error.message, namespace=namespace, id=id)
            self._reply = (500, build(envelope), {"Content-Type": CONTENT_TYPE})
        events += self._end("refused")
        return events

    def _ready(self) -> list[Event]:
        self.state = State.ACS_REQUESTS
        self._may_send = True
        return [ReadyForRequest()]

    def _on_empty(self) -> list[Event]:
        if self.state is State.AWAIT_INFORM:
            return self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    "a session starts with an Inform, not an empty POST",
                    http_status=400,
                ),
                namespace=self.namespace,
                id=None,
            )
        if self.state is State.ENDED:
            return []  # answered 204 again
        events: list[Event] = []
        if self._outstanding is not None:
            events.append(self._abandon("the CPE sent an empty POST instead of a response"))
        return events + self._ready()

    def _on_envelope(self, envelope: Envelope) -> list[Event]:
        body = envelope.body
        if body is None:
            return self._on_empty()
        if isinstance(body, m.Inform):
            return self._on_inform(envelope, body)
        if self.state is State.AWAIT_INFORM or (
            self.state is State.ENDED and self.end_reason != "done"
        ):
            return self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    f"a session starts with an Inform, not {envelope.method}",
                ),
                namespace=envelope.namespace,
                id=envelope.id,
            )
        if isinstance(body, m.Fault) or _is_response(body):
            return self._on_response(envelope, body)
        return self._on_cpe_request(envelope, body)

    def _on_inform(self, envelope: Envelope, inform: m.Inform) -> list[Event]:
        events: list[Event] = []
        if self.state is not State.AWAIT_INFORM:
            # A CPE that rebooted mid-session, or a stale cookie: start over.
            events += self._end("replaced by a new Inform")
            self._outstanding = None
        self.state = State.AWAIT_INFORM
        self.end_reason = None
        self.namespace = envelope.namespace
        device = inform.device_id
        if not device.oui or not device.serial_number:
            return events + self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    "Inform without DeviceId OUI and SerialNumber",
                ),
                namespace=envelope.namespace,
                id=envelope.id,
            )
        use_version: str | None = None
        if envelope.supported_cwmp_versions is not None:
            use_version = _common_version(envelope.supported_cwmp_versions)
            if use_version is None:
                return events + self._refuse(
                    CwmpError(
                        FaultCode.ACS_VERSION_INCOMPATIBLE,
                        f"no CWMP version in common: the CPE supports "
                        f"{envelope.supported_cwmp_versions[:80]!r}, this ACS "
                        f"{','.join(CWMP_VERSIONS)}",
                    ),
                    namespace=envelope.namespace,
                    id=envelope.id,
                )
        self.cwmp_version = use_version
        if envelope.session_timeout:
            low, high = _TIMEOUT_BOUNDS
            self.timeout = min(max(float(envelope.session_timeout), low), high)
        else:
            self.timeout = self._default_timeout
        self.inform = inform
        self.state = State.CPE_REQUESTS
        self._answer(envelope, m.InformResponse(max_envelopes=1), use_cwmp_version=use_version)
        events.append(InformReceived(inform, envelope))
        return events

    def _on_cpe_request(self, envelope: Envelope, request: m.Rpc) -> list[Event]:
        events: list[Event] = []
        if self._outstanding is not None:
            events.append(self._abandon(f"the CPE sent {envelope.method} instead of a response"))
        self.state = State.CPE_REQUESTS  # also after our 204: a new request reopens the exchange
        if isinstance(request, m.GetRPCMethods):
            answer: m.Message = m.GetRPCMethodsResponse(methods=list(m.ACS_METHODS))
        elif isinstance(request, m.TransferComplete):
            answer = m.TransferCompleteResponse()
        elif isinstance(request, m.AutonomousTransferComplete):
            answer = m.AutonomousTransferCompleteResponse()
        else:
            answer = m.Fault(
                code=FaultCode.METHOD_NOT_SUPPORTED,
                string=f"{envelope.method} is not a method this ACS supports",
            )
        self._answer(envelope, answer)
        events.append(CpeRequestReceived(request, envelope))
        return events

    def _on_response(self, envelope: Envelope, body: m.Rpc | m.Fault) -> list[Event]:
        outstanding = self._outstanding
        if outstanding is None or self.state is not State.ACS_REQUESTS:
            return self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    f"{envelope.method} answers no request of this session",
                ),
                namespace=envelope.namespace,
                id=envelope.id,
            )
        if envelope.id is not None and envelope.id != outstanding.id:
            return self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    f"{envelope.method} carries ID {envelope.id[:64]!r}, "
                    f"the request was sent with {outstanding.id!r}",
                ),
                namespace=envelope.namespace,
                id=envelope.id,
            )
        if isinstance(body, m.Fault):
            self._outstanding = None
            return [FaultReceived(outstanding.request, body, outstanding.id), *self._ready()]
        expected = m.REQUEST_RESPONSES.get(type(outstanding.request))
        if expected is not None and not isinstance(body, expected):
            return self._refuse(
                CwmpError(
                    FaultCode.INVALID_ARGUMENTS,
                    f"{envelope.method} does not answer {outstanding.request.METHOD}",
                ),
                namespace=envelope.namespace,
                id=envelope.id,
            )
        self._outstanding = None
        return [ResponseReceived(outstanding.request, body, outstanding.id), *self._ready()]


def _is_response(body: m.Rpc) -> bool:
    if isinstance(body, m.UnknownRpc):
        return body.name.endswith("Response")
    return body.METHOD.endswith("Response")


def _common_version(supported: str) -> str | None:
    """The highest version both sides speak, from ``"1.0,1.1,1.2"``."""
    offered = {item.strip() for item in supported.split(",")}
    common = [version for version in CWMP_VERSIONS if version in offered]
    return common[-1] if common else None

"""The ``/cwmp`` endpoint: HTTP in, CWMP sessions, HTTP out; and the transfer URLs.

A bare ASGI app mounted under the phone-facing listeners (``servers/http.py`` hands it
every path below ``/cwmp``) and served alone on ``--cwmp-port``. The body is capped
while it is read (a 50 MB POST is refused at the cap, not buffered), decoded
(gzip/deflate) and parsed by the hardened codec. The order of the messages is
:class:`~plugtone.protocols.cwmp_session.CwmpSession`'s, one per session: Inform first
(answered with InformResponse, ``UseCWMPVersion``, or the fault refusing it), the CPE's
TransferComplete (recorded here against its task), AutonomousTransferComplete and
GetRPCMethods answered, the empty POST, one ACS request at a time matched to its
response by ``cwmp:ID``, the CPE's ``SessionTimeout``, 204 to end. What to ask a device
is :mod:`plugtone.acs.conductor`'s, a generator handed each response or fault; it runs
in a worker thread because it reads the store. The endpoint keeps HTTP: body caps,
decoding, authentication, cookies, one session per device and the transfer URLs.

Sessions (TR-069 3.4.6) are kept in this process by a random cookie, ``Path=/``; a
CPE echoing it back with attributes, or bringing the previous session's stale cookie to
its next Inform, is fine: an Inform always opens a new session. Each device has at
most one live session: a second Inform while one is active gets ``503`` with
``Retry-After``. Authentication is HTTP Digest (MD5, ``qop=auth``, the phone side's
:class:`~plugtone.provisioning.device_auth.DigestAuthority`) against the device's own
login or its site's bootstrap login; Basic only over TLS, or over plain HTTP where the
site allows it (``tr069.allow_basic``). Every later request of the session carries the
cookie; one that also carries credentials must be the same principal's.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from plugtone.acs import records, tasks
from plugtone.acs.conductor import Context, Conversation, conduct, vendor_map
from plugtone.acs.datamodel import AcsSettings, CwmpMap
from plugtone.firmware.repository import FileStore
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.protocols import cwmp_codec as codec
from plugtone.protocols import cwmp_messages as m
from plugtone.protocols.cwmp_faults import CwmpError
from plugtone.protocols.cwmp_session import (
    CpeRequestReceived,
    CwmpSession,
    FaultReceived,
    ReadyForRequest,
    ResponseReceived,
)
from plugtone.provisioning.credentials import PasswordCredentials
from plugtone.provisioning.device_auth import (
    DigestAuthority,
    DigestCredentials,
    MalformedAuthorization,
    parse_basic,
    split_scheme,
)
from plugtone.vendors import VendorRegistry

log = logging.getLogger(__name__)

PREFIX = "/cwmp"
COOKIE = "plugtone_cwmp"
MAX_BODY = codec.MAX_ENVELOPE_SIZE
MAX_UPLOAD = 8 * 1024 * 1024
"""Largest configuration backup or log a device may PUT."""
SESSION_IDLE = 120.0
"""Seconds after which a silent session is forgotten unless the CPE's ``SessionTimeout``
says otherwise (TR-069 suggests 30 s at least)."""
BUSY_WINDOW = 15.0
"""A second Inform within this many seconds of the device's last message is refused."""
RETRY_AFTER = 10

Reply = tuple[int, list[tuple[bytes, bytes]], bytes]
_XML = (b"content-type", b'text/xml; charset="utf-8"')
_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_NO_STORE = (b"cache-control", b"no-store")


def _plain(status: int, text: str, *headers: tuple[bytes, bytes]) -> Reply:
    body = text.encode()
    return status, [_TEXT, (b"content-length", b"%d" % len(body)), *headers], body


def _http(status: int, content: bytes, headers: dict[str, str]) -> Reply:
    """A :meth:`CwmpSession.reply` as ASGI headers (never cached: each is one session's)."""
    fields = [(name.lower().encode("latin-1"), value.encode("latin-1"))
              for name, value in headers.items()]  # fmt: skip
    return status, [*fields, (b"content-length", b"%d" % len(content)), _NO_STORE], content


@dataclass
class Request:
    body: bytes
    client: str | None
    port: int | None
    secure: bool
    target: str
    host: str
    authorization: list[str]
    cookies: list[str]
    """Every ``plugtone_cwmp`` value sent (a client may send a stale one beside the new)."""
    content_encoding: str | None


@dataclass
class Session:
    token: str
    device: records.DeviceRecord
    username: str
    password: str
    client: str | None
    port: int | None
    shared: bool
    """Opened with a site's bootstrap login (shared by its phones), not the device's own."""
    cwmp: CwmpSession
    """The order of the session's messages (IDs, matching, versions, timeouts, 204)."""
    conversation: Conversation | None = None
    cwmp_map: CwmpMap | None = None
    context: Context | None = None
    last: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while a POST of the session is decided (its CwmpSession takes one at a time)."""


class SessionTable:
    """Live sessions by cookie and by device (one per device), thread-safe."""

    def __init__(self) -> None:
        self.by_token: dict[str, Session] = {}
        self.by_device: dict[int, Session] = {}
        self.lock = threading.Lock()

    def sweep(self, now: float) -> None:
        """Forget sessions whose CPE went quiet past their timeout (one being decided
        right now is left alone)."""
        for session in list(self.by_token.values()):
            if not session.lock.acquire(blocking=False):
                continue
            try:
                if session.cwmp.check_timeout(now) or session.cwmp.finished:
                    self.drop(session)
            finally:
                session.lock.release()

    def drop(self, session: Session) -> None:
        self.by_token.pop(session.token, None)
        if self.by_device.get(session.device.id) is session:
            del self.by_device[session.device.id]


class AcsApp:
    """The ACS as an ASGI callable (see the module's docstring)."""

    def __init__(
        self, store: Store, registry: VendorRegistry, digest: DigestAuthority, *,
        data_dir: Path, stun_host: str | None = None, stun_port: int | None = None,
        max_body: int = MAX_BODY, on_session_end: Callable[[int], None] | None = None,
        resolver: Any = None,
    ) -> None:  # fmt: skip
        self.store = store
        self.registry = registry
        self.digest = digest
        self.files = FileStore(data_dir / "firmware")
        self.settings = AcsSettings(acs_url="", interval=3600, stun_host=stun_host,
                                    stun_port=stun_port)  # fmt: skip
        self.max_body = max_body
        self.sessions = SessionTable()
        self.on_session_end = on_session_end
        self.stun: Any = None
        self.phone_view = None
        if resolver is not None:

            def phone_view(mac: str) -> tuple[Any, int]:
                generation = resolver.refresh(force=True)  # a change must reach this session
                return resolver.phone(mac), generation

            self.phone_view = phone_view

    # -- TR-111 STUN

    async def start_stun(self, host: str, port: int) -> None:
        """Serve classic STUN on ``port`` (TR-111 part 2) and learn each CPE's public UDP
        address from its Binding Requests (USERNAME is its STUNUsername, which the ACS
        set to its connection-request user)."""
        import asyncio

        from plugtone.servers.stun import StunListener

        loop = asyncio.get_running_loop()

        def learned(binding: Any) -> None:
            if binding.username and binding.tr111:
                address = f"{binding.address[0]}:{binding.address[1]}"
                loop.run_in_executor(None, records.learn_udp_address, self.store,
                                     binding.username, address)  # fmt: skip

        self.stun = await StunListener.start(host, port, on_binding=learned)
        self.settings = AcsSettings(acs_url="", interval=3600, stun_host=None,
                                    stun_port=self.stun.address[1])  # fmt: skip

    def close_stun(self) -> None:
        if self.stun is not None:
            self.stun.close()
            self.stun = None

    # -- ASGI

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path.startswith(PREFIX + "/transfer/"):
            token = path[len(PREFIX + "/transfer/") :]
            if method == "GET":
                reply = await run_in_threadpool(self.download, token)
            elif method == "PUT":
                body = await _read(receive, MAX_UPLOAD)
                reply = (_plain(413, "too large\n") if body is None
                         else await run_in_threadpool(self.upload, token, body))  # fmt: skip
            else:
                reply = _plain(405, "method not allowed\n", (b"allow", b"GET, PUT"))
        elif path in (PREFIX, PREFIX + "/"):
            if method != "POST":
                reply = _plain(405, "CWMP is POST\n", (b"allow", b"POST"))
            else:
                body = await _read(receive, self.max_body)
                if body is None:
                    reply = self._fault_reply(
                        CwmpError(8004, f"body larger than {self.max_body} bytes",
                                  http_status=413), codec.DEFAULT_NAMESPACE,
                    )  # fmt: skip
                else:
                    reply = await run_in_threadpool(self.handle, _request(scope, body))
        else:
            reply = _plain(404, "not found\n")
        status, headers, content = reply
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    # -- CWMP

    def handle(self, request: Request) -> Reply:
        """One POST of a session, decided synchronously (store reads included)."""
        now = time.monotonic()
        with self.sessions.lock:
            self.sessions.sweep(now)
            session = next(
                (self.sessions.by_token[token] for token in request.cookies
                 if token in self.sessions.by_token), None,
            )  # fmt: skip
        try:
            data = codec.decode_body(request.body, request.content_encoding,
                                     max_size=self.max_body)  # fmt: skip
            envelope = None if codec.is_empty(data) else codec.parse(data, max_size=self.max_body)
        except CwmpError as error:
            return self._fault_reply(error, session.cwmp.namespace if session else None)
        if envelope is not None and isinstance(envelope.body, m.Inform):
            return self.inform(request, envelope, session, now)
        if session is None or session.client != request.client:
            return _plain(403, "no CWMP session: a session starts with an Inform\n")
        if request.authorization and not self._same_principal(request, session):
            return _plain(403, "these credentials are not this session's\n")
        if session.port != request.port and (session.shared or not request.authorization):
            # A cookie is a bearer token, and a site's bootstrap login is shared by all its
            # phones: a session opened with it stays on its TCP connection (TR-069 3.4.1:
            # the CPE keeps it open), so another device's cookie opens nothing.
            return _plain(403, "this session belongs to another connection\n")
        with session.lock:
            session.last = now
            return self._converse(session, envelope, now)

    def inform(
        self, request: Request, envelope: codec.Envelope, old: Session | None, now: float
    ) -> Reply:
        """An Inform opens a new session (a stale or echoed cookie is no matter): its
        :class:`CwmpSession` checks it and answers; the endpoint authenticates, records
        the device and keeps one session per device."""
        login = self.authenticate(request)
        if login is None:
            return self._challenge(request)
        cwmp = CwmpSession(timeout=SESSION_IDLE)
        cwmp.receive_envelope(envelope, now=now)
        if cwmp.finished:
            # Refused (no OUI and serial, no CWMP version in common): the fault, with 400
            # rather than SOAP's 500, as the CPE sent what cannot open a session.
            status, content, headers = cwmp.reply()
            return _http(400 if status == 500 else status, content, headers)
        inform = cwmp.inform
        assert inform is not None
        identity = inform.device_id
        root = _root(inform)
        cwmp_map = vendor_map(self.registry, identity.oui, identity.manufacturer)
        mac = _inform_mac(inform, cwmp_map)
        software = inform.parameter(root + "DeviceInfo.SoftwareVersion")
        url = inform.parameter(root + "ManagementServer.ConnectionRequestURL")
        key = inform.parameter(root + "ManagementServer.ParameterKey")
        codes = inform.event_codes
        device = records.inform(
            self.store, oui=identity.oui.upper(), serial=identity.serial_number,
            product_class=identity.product_class, manufacturer=identity.manufacturer,
            software_version=None if software is None else str(software),
            connection_request_url=None if url is None else str(url), mac=mac, events=codes,
            parameter_key=None if key is None else str(key), address=request.client,
        )  # fmt: skip
        kind, username, password = login
        if kind == "device" and (device.username != username):
            return self._challenge(request)  # another device's own login
        with self.sessions.lock:
            active = self.sessions.by_device.get(device.id)
            if active is not None and active is not old and now - active.last < BUSY_WINDOW:
                return _plain(503, "a session with this device is in progress\n",
                              (b"retry-after", b"%d" % RETRY_AFTER))  # fmt: skip
            if active is not None:
                self.sessions.drop(active)
            if old is not None:
                self.sessions.drop(old)
            session = Session(
                token=secrets.token_urlsafe(18), device=device, username=username,
                password=password, client=request.client, port=request.port,
                shared=kind == "bootstrap", cwmp=cwmp, cwmp_map=cwmp_map, last=now,
            )  # fmt: skip
            self.sessions.by_token[session.token] = session
            self.sessions.by_device[device.id] = session
        session.context = Context(
            store=self.store, registry=self.registry, device=device, root=root,
            bootstrap=kind == "bootstrap" or device.first_contact, settings=self.settings,
            transfer_base=f"{'https' if request.secure else 'http'}://{request.host}",
            address=request.client, phone_view=self.phone_view,
        )  # fmt: skip
        for event in inform.events:
            if event.event_code in ("M Reboot", "M Download", "M Upload") and event.command_key:
                self._event_done(session, event.command_key)
        cookie = f"{COOKIE}={session.token}; Path=/; HttpOnly"
        if request.secure:
            cookie += "; Secure"
        reply = self._reply(session)
        reply[1].append((b"set-cookie", cookie.encode("latin-1")))
        return reply

    def authenticate(self, request: Request) -> tuple[str, str, str] | None:
        """``(kind, username, password)`` of the login the request proves, else ``None``."""
        if len(request.authorization) != 1:
            return None
        header = request.authorization[0]
        credentials = self.digest.credentials(
            header, method="POST", target=request.target, secure=request.secure, now=time.time()
        )
        basic_plain = False
        if credentials is None:
            try:
                scheme, rest = split_scheme(header)
                if scheme != "basic":
                    return None
                credentials = parse_basic(rest)
                basic_plain = True
            except MalformedAuthorization:
                return None
        if not isinstance(credentials, DigestCredentials | PasswordCredentials):
            return None
        for login in records.logins_for(self.store, credentials.username):
            if basic_plain and not login.allow_basic:
                continue
            if credentials.check(login.password):
                return login.kind, credentials.username, login.password
        return None

    def _same_principal(self, request: Request, session: Session) -> bool:
        header = request.authorization[0] if len(request.authorization) == 1 else ""
        credentials = self.digest.credentials(
            header, method="POST", target=request.target, secure=request.secure, now=time.time()
        )
        if isinstance(credentials, DigestCredentials | PasswordCredentials):
            return credentials.username == session.username and credentials.check(session.password)
        return False

    def _converse(self, session: Session, envelope: codec.Envelope | None, now: float) -> Reply:
        """One later POST through the session's :class:`CwmpSession`: the CPE's
        TransferComplete recorded, the answer to the ACS's last request handed to the
        conductor, and the conductor's next request sent (none: 204, the end)."""
        answer: Any = None  # an empty POST instead of a response: the conductor gets None
        for event in session.cwmp.receive_envelope(envelope, now=now):
            if isinstance(event, CpeRequestReceived):
                if isinstance(event.request, m.TransferComplete):
                    self.transfer_complete(session, event.request.command_key,
                                           event.request.fault)  # fmt: skip
            elif isinstance(event, ResponseReceived):
                answer = event.response
            elif isinstance(event, FaultReceived):
                answer = event.fault
            elif isinstance(event, ReadyForRequest):
                request = self._next_request(session, answer)
                if request is not None:
                    session.cwmp.send(request)
        return self._reply(session)

    def _next_request(self, session: Session, answer: Any) -> m.Rpc | None:
        """The conductor's next request, given the CPE's answer to its last; ``None``
        when it has nothing more to ask (or failed: a bug must not leave the device's
        session hanging)."""
        try:
            if session.conversation is None:
                assert session.context is not None
                session.conversation = conduct(session.context, session.cwmp_map)
                return next(session.conversation)
            return session.conversation.send(answer)
        except StopIteration:
            return None
        except Exception:
            log.exception("CWMP session with device %s failed", session.device.id)
            return None

    def _reply(self, session: Session) -> Reply:
        """The session's answer as HTTP; a finished session is forgotten."""
        status, content, headers = session.cwmp.reply()
        if session.cwmp.finished:
            self.end(session)
        return _http(status, content, headers)

    def end(self, session: Session) -> None:
        with self.sessions.lock:
            self.sessions.drop(session)
        if self.on_session_end is not None:
            self.on_session_end(session.device.id)

    def transfer_complete(self, session: Session, command_key: str, fault: m.FaultStruct) -> None:
        """Idempotent: a repeated TransferComplete for a finished task changes nothing."""
        task = tasks.by_command_key(self.store, session.device.id, command_key)
        if task is None or task.status not in tasks.OPEN:
            return
        if fault.fault_code:
            message = m.Fault(code=fault.fault_code, string=fault.fault_string).message
            tasks.fail(self.store, task.id, fault.fault_code, message)
        else:
            tasks.finish(self.store, task.id, "transfer completed")

    def _event_done(self, session: Session, command_key: str) -> None:
        task = tasks.by_command_key(self.store, session.device.id, command_key)
        if task is not None and task.kind == "reboot" and task.status in tasks.OPEN:
            tasks.finish(self.store, task.id, "rebooted")

    # -- envelopes

    def _fault_reply(self, error: CwmpError, namespace: str | None) -> Reply:
        envelope = codec.fault_envelope(
            error.code, error.message, namespace=namespace or codec.DEFAULT_NAMESPACE
        )
        content = codec.build(envelope)
        return error.http_status, [_XML, (b"content-length", b"%d" % len(content))], content

    def _challenge(self, request: Request) -> Reply:
        challenge = self.digest.challenge(time.time())
        return _plain(401, "authentication required\n",
                      (b"www-authenticate", challenge.encode("latin-1")), _NO_STORE)  # fmt: skip

    # -- transfers

    def download(self, token: str) -> Reply:
        claimed = records.claim_transfer(self.store, token, "down")
        if claimed is None:
            return _plain(404, "not found\n")
        _, source = claimed
        kind, _, ref = (source or "").partition(":")
        content: bytes | None = None
        if kind == "firmware":
            path = self.files.path(ref)
            content = path.read_bytes() if path.is_file() else None
        elif kind == "upload":
            content = records.upload_content(self.store, int(ref))
        if content is None:
            return _plain(404, "not found\n")
        headers = [(b"content-type", b"application/octet-stream"),
                   (b"content-length", b"%d" % len(content)), _NO_STORE]  # fmt: skip
        return 200, headers, content

    def upload(self, token: str, body: bytes) -> Reply:
        claimed = records.claim_transfer(self.store, token, "up")
        if claimed is None:
            return _plain(404, "not found\n")
        records.store_upload(self.store, claimed[0], body)
        return 201, [(b"content-length", b"0")], b""


async def _read(receive: Any, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _request(scope: dict, body: bytes) -> Request:
    authorization: list[str] = []
    cookies: list[str] = []
    host = ""
    encoding = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization.append(value.decode("latin-1"))
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                key, _, item = part.strip().partition("=")
                if key == COOKIE and item:
                    cookies.append(item)
        elif name == b"host":
            host = value.decode("latin-1")
        elif name == b"content-encoding":
            encoding = value.decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    client = scope.get("client")
    target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
    if scope.get("query_string"):
        target += "?" + scope["query_string"].decode("latin-1")
    return Request(
        body=body, client=client[0] if client else None, port=client[1] if client else None,
        secure=scope.get("scheme") == "https",
        target=target, host=host, authorization=authorization, cookies=cookies,
        content_encoding=encoding,
    )  # fmt: skip


def _root(inform: m.Inform) -> str:
    for parameter in inform.parameters:
        head = parameter.name.split(".", 1)[0]
        if head in ("Device", "InternetGatewayDevice"):
            return head + "."
    return "Device."


def _inform_mac(inform: m.Inform, cwmp_map: CwmpMap | None) -> str | None:
    names = cwmp_map.mac_parameters if cwmp_map else ()
    for parameter in inform.parameters:
        if parameter.name in names or parameter.name.endswith(".MACAddress"):
            try:
                return normalize_mac(str(parameter.value))
            except MacError:
                continue
    return None

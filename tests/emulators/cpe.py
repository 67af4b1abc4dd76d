"""An Aastra phone's TR-069 client (CPE), written from the Aastra TR-069 Configuration
Guide's parameter table (seed 002): DeviceInfo, LAN, ManagementServer, and the voice
service with the global profile (``X_Aastra_GlobalVoiceProfile``) and one
``VoiceProfile.{i}`` per line, each with one ``Line.1``.

It speaks CWMP over HTTP with its own small envelope writer (string templates) and
reader (the standard library's ElementTree, namespaces ignored): nothing of plugtone's
codec, so a test passing is the two sides agreeing, not one parser agreeing with
itself. HTTP is httpx, with its Digest auth and cookie jar. It answers every RPC an
ACS sends (faults 9005 for a bad name, 9007 for a bad value, 9008 for a read-only
parameter), listens for connection requests over HTTP (Digest, its own check) and UDP
(TR-111 signed), and performs Download and Upload after the session, reporting
TransferComplete in the next one, as a phone does.
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import os
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx

NS = "urn:dslforum-org:cwmp-1-2"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
SEED_ROOT = "Device.Services.VoiceService.1."
"""The voice service as the guide's parameter table writes it."""
GUIDE_ROOT = "Device.VoiceService."
"""As the guide's prose writes it."""


@dataclass
class Param:
    value: str
    type: str = "string"
    writable: bool = True
    notification: int = 0


def seed_tree(mac: str, serial: str, model: str, version: str, root: str, lines: int) -> dict:
    """The parameter table of the seed, for one phone."""
    tree: dict[str, Param] = {}

    def add(name: str, value: str = "", kind: str = "string", writable: bool = True) -> None:
        tree[name] = Param(value, kind, writable)

    info = "Device.DeviceInfo."
    add(info + "Manufacturer", "Aastra", writable=False)
    add(info + "ManufacturerOUI", "00085D", writable=False)
    add(info + "ProductClass", model, writable=False)
    add(info + "SerialNumber", serial, writable=False)
    add(info + "HardwareVersion", "1.0", writable=False)
    add(info + "SoftwareVersion", version, writable=False)
    add(info + "Description", f"Aastra {model}", writable=False)
    add(info + "ModelName", model, writable=False)
    add(info + "UpTime", "10", "unsignedInt", writable=False)
    lan = "Device.LAN."
    add(lan + "IPAddress", "127.0.0.1")
    add(lan + "SubnetMask", "255.0.0.0")
    add(lan + "DefaultGateway", "127.0.0.1")
    add(lan + "DNSServers", "127.0.0.1")
    add(lan + "MACAddress", ":".join(mac[i : i + 2] for i in range(0, 12, 2)), writable=False)
    ms = "Device.ManagementServer."
    add(ms + "URL")
    add(ms + "Username")
    add(ms + "Password")
    add(ms + "PeriodicInformEnable", "0", "boolean")
    add(ms + "PeriodicInformInterval", "0", "unsignedInt")
    add(ms + "PeriodicInformTime", "0001-01-01T00:00:00Z", "dateTime")
    add(ms + "ParameterKey", "", writable=False)
    add(ms + "ConnectionRequestURL", "", writable=False)
    add(ms + "ConnectionRequestUsername")
    add(ms + "ConnectionRequestPassword")
    add(ms + "UDPConnectionRequestAddress", "", writable=False)
    add(ms + "STUNEnable", "0", "boolean")
    add(ms + "STUNServerAddress")
    add(ms + "STUNServerPort", "3478", "unsignedInt")
    add(ms + "STUNUsername")
    if root == SEED_ROOT:
        add("Device.Services.VoiceServiceNumberOfEntries", "1", "unsignedInt", writable=False)
    add(root + "Capabilities.MaxProfileCount", str(lines), "unsignedInt", writable=False)
    add(root + "Capabilities.PatternBasedToneGeneration", "0", "boolean", writable=False)
    glob = root + "X_Aastra_GlobalVoiceProfile."
    add(glob + "X_Aastra_STUNServerPort", "0", "int")
    add(glob + "X_Aastra_DTMFMethod", "0", "int")
    for leaf, kind in (("ProxyServer", "string"), ("ProxyServerPort", "unsignedInt"),
                       ("RegistrarServer", "string"), ("RegistrarServerPort", "unsignedInt"),
                       ("RegisterExpires", "unsignedInt"), ("SIPTransportProtocol", "int"),
                       ("X_AastraUseBasicCodecs", "int")):  # fmt: skip
        add(glob + "SIP." + leaf, "0" if kind != "string" else "", kind)
    add(glob + "Line.1.CallingFeatures.CallerIDName")
    add(glob + "Line.1.CallingFeatures.MWIEnable", "0", "boolean")
    for index in range(1, lines + 1):
        profile = f"{root}VoiceProfile.{index}."
        for leaf, kind in (("ProxyServer", "string"), ("ProxyServerPort", "unsignedInt"),
                           ("RegistrarServer", "string"), ("RegistrarServerPort", "unsignedInt"),
                           ("RegisterExpires", "unsignedInt"), ("X_Aastra_mode", "int"),
                           ("X_Aastra_centralizedConference", "string")):  # fmt: skip
            add(profile + "SIP." + leaf, "0" if kind != "string" else "", kind)
        line = profile + "Line.1."
        add(line + "Enable", "Disabled")
        add(line + "DirectoryNumber")
        add(line + "X_Aastra_ScreenName2")
        add(line + "CallingFeatures.CallerIDName")
        add(line + "SIP.AuthUserName")
        add(line + "SIP.AuthPassword")
        add(line + "SIP.URI")
    return tree


def _objects(names) -> set[str]:
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(1, len(parts)):
            found.add(".".join(parts[:end]) + ".")
    return found


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element.iter():
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ET.Element, name: str) -> str:
    found = _child(element, name)
    return (found.text or "") if found is not None else ""


def envelope(body: str, request_id: str | None = None) -> bytes:
    header = (
        f'<soap:Header><cwmp:ID soap:mustUnderstand="1">{escape(request_id)}</cwmp:ID></soap:Header>'
        if request_id
        else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{SOAP}" '
        f'xmlns:cwmp="{NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">{header}'
        f"<soap:Body>{body}</soap:Body></soap:Envelope>"
    ).encode()


def fault(code: int, text: str, parameters: list[tuple[str, int, str]] = ()) -> str:
    items = "".join(
        f"<SetParameterValuesFault><ParameterName>{escape(n)}</ParameterName>"
        f"<FaultCode>{c}</FaultCode><FaultString>{escape(s)}</FaultString>"
        "</SetParameterValuesFault>"
        for n, c, s in parameters
    )
    return (
        "<soap:Fault><faultcode>Client</faultcode><faultstring>CWMP fault</faultstring>"
        f"<detail><cwmp:Fault><FaultCode>{code}</FaultCode><FaultString>{escape(text)}"
        f"</FaultString>{items}</cwmp:Fault></detail></soap:Fault>"
    )


def value_list(items: list[tuple[str, Param]]) -> str:
    inner = "".join(
        f"<ParameterValueStruct><Name>{escape(name)}</Name>"
        f'<Value xsi:type="xsd:{p.type}">{escape(p.value)}</Value></ParameterValueStruct>'
        for name, p in items
    )
    return (f'<ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[{len(items)}]">'
            f"{inner}</ParameterList>")  # fmt: skip


@dataclass
class Transfer:
    kind: str  # "download" | "upload"
    command_key: str
    file_type: str
    url: str
    started: str = ""
    fault: tuple[int, str] = (0, "")


@dataclass
class SessionLog:
    status: int = 0
    methods: list[str] = field(default_factory=list)
    error: str = ""


class Cpe:
    """One emulated phone. ``session()`` runs one CWMP session and then what it asked."""

    def __init__(
        self, acs_url: str, mac: str, *, serial: str | None = None, username: str = "acs",
        password: str = "s3cret", model: str = "6757i", version: str = "3.3.1.4322",
        root: str = SEED_ROOT, lines: int = 9, connection_port: int | None = None,
    ) -> None:  # fmt: skip
        self.acs_url = acs_url
        self.mac = mac
        self.serial = serial or f"SN{mac}"
        self.model, self.version, self.root, self.lines = model, version, root, lines
        self.bootstrap_login = (username, password)
        self.username, self.password = username, password
        self.tree = seed_tree(mac, self.serial, model, version, root, lines)
        self.events: list[tuple[str, str]] = [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
        self.pending: list[Transfer] = []
        self.completed: list[Transfer] = []
        self.reboot_key: str | None = None
        self.reboots = 0
        self.factory_resets = 0
        self.downloads: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.kicked = threading.Event()
        self.logs: list[SessionLog] = []
        self.unreadable: set[str] = set()
        self.connection: _ConnectionListener | None = None
        if connection_port is not None:
            self.connection = _ConnectionListener(self, connection_port)
            self.tree[
                "Device.ManagementServer.ConnectionRequestURL"
            ].value = f"http://127.0.0.1:{self.connection.port}/cr"

    # -- a session

    def inform_body(self) -> str:
        events = "".join(
            f"<EventStruct><EventCode>{escape(code)}</EventCode>"
            f"<CommandKey>{escape(key)}</CommandKey></EventStruct>"
            for code, key in self.events
        )
        names = ["Device.DeviceInfo.HardwareVersion", "Device.DeviceInfo.SoftwareVersion",
                 "Device.ManagementServer.ConnectionRequestURL",
                 "Device.ManagementServer.ParameterKey", "Device.LAN.IPAddress"]  # fmt: skip
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            "<cwmp:Inform><DeviceId><Manufacturer>Aastra</Manufacturer><OUI>00085D</OUI>"
            f"<ProductClass>{escape(self.model)}</ProductClass>"
            f"<SerialNumber>{escape(self.serial)}</SerialNumber></DeviceId>"
            f'<Event soapenc:arrayType="cwmp:EventStruct[{len(self.events)}]">{events}</Event>'
            f"<MaxEnvelopes>1</MaxEnvelopes><CurrentTime>{now}</CurrentTime>"
            f"<RetryCount>0</RetryCount>{value_list([(n, self.tree[n]) for n in names])}"
            "</cwmp:Inform>"
        )

    def session(self, extra_events: tuple[tuple[str, str], ...] = ()) -> SessionLog:
        """One session: Inform, TransferCompletes, then the ACS's requests until 204."""
        with self.lock:
            return self._session(extra_events)

    def _session(self, extra_events) -> SessionLog:
        log = SessionLog()
        for event in extra_events:
            if event not in self.events:
                self.events.append(event)
        if self.completed:
            self.events.append(("7 TRANSFER COMPLETE", ""))
        auth = httpx.DigestAuth(self.username, self.password)
        with httpx.Client(auth=auth, timeout=20) as client:
            headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": ""}
            answer = client.post(self.acs_url, content=envelope(self.inform_body(), "1"),
                                 headers=headers)  # fmt: skip
            log.status = answer.status_code
            if answer.status_code != 200:
                log.error = answer.text
                return log
            self.events = []
            for done in self.completed:
                body = (
                    f"<cwmp:TransferComplete><CommandKey>{escape(done.command_key)}</CommandKey>"
                    f"<FaultStruct><FaultCode>{done.fault[0]}</FaultCode><FaultString>"
                    f"{escape(done.fault[1])}</FaultString></FaultStruct>"
                    f"<StartTime>{done.started}</StartTime><CompleteTime>{done.started}"
                    "</CompleteTime></cwmp:TransferComplete>"
                )
                answer = client.post(self.acs_url, content=envelope(body, "tc"), headers=headers)
                log.methods.append("TransferComplete")
            self.completed = []
            answer = client.post(self.acs_url, content=b"", headers=headers)
            while answer.status_code == 200 and answer.content.strip():
                reply, method = self.answer(answer.content)
                log.methods.append(method)
                answer = client.post(self.acs_url, content=reply, headers=headers)
            log.status = answer.status_code
            if answer.status_code != 204:
                log.error = answer.text
        self.logs.append(log)
        if self.after_session() and log.status == 204:
            self._session(())  # rebooted, or a transfer to report: a phone calls back at once
        return log

    def answer(self, content: bytes) -> tuple[bytes, str]:
        root = ET.fromstring(content)
        header_id = _child(root, "ID")
        request_id = header_id.text if header_id is not None else None
        body = _child(root, "Body")
        request = next(iter(body)) if body is not None and len(body) else None
        if request is None:
            return envelope(fault(9003, "empty request"), request_id), "?"
        method = _local(request.tag)
        handler = getattr(self, f"rpc_{method}", None)
        if handler is None:
            return envelope(fault(9000, f"{method} not supported"), request_id), method
        return envelope(handler(request), request_id), method

    # -- RPCs

    def rpc_GetRPCMethods(self, request) -> str:
        methods = ["GetRPCMethods", "GetParameterNames", "GetParameterValues",
                   "SetParameterValues", "GetParameterAttributes", "SetParameterAttributes",
                   "Reboot", "FactoryReset", "Download", "Upload", "ScheduleInform"]  # fmt: skip
        items = "".join(f"<string>{name}</string>" for name in methods)
        return (f'<cwmp:GetRPCMethodsResponse><MethodList soapenc:arrayType="xsd:string'
                f'[{len(methods)}]">{items}</MethodList></cwmp:GetRPCMethodsResponse>')  # fmt: skip

    def rpc_GetParameterNames(self, request) -> str:
        path = _text(request, "ParameterPath")
        next_level = _text(request, "NextLevel").strip().lower() in ("1", "true")
        objects = _objects(self.tree)
        if path and path not in self.tree and path not in objects:
            return fault(9005, f"no such parameter {path}")
        rows: list[tuple[str, bool]] = []
        for name in sorted(objects | set(self.tree)):
            if not name.startswith(path) or name == path:
                continue
            rest = name[len(path) :].rstrip(".")
            if next_level and "." in rest:
                continue
            rows.append((name, self.tree[name].writable if name in self.tree else False))
        inner = "".join(
            f"<ParameterInfoStruct><Name>{escape(n)}</Name><Writable>{int(w)}</Writable>"
            "</ParameterInfoStruct>"
            for n, w in rows
        )
        return ("<cwmp:GetParameterNamesResponse><ParameterList soapenc:arrayType="
                f'"cwmp:ParameterInfoStruct[{len(rows)}]">{inner}</ParameterList>'
                "</cwmp:GetParameterNamesResponse>")  # fmt: skip

    def rpc_GetParameterValues(self, request) -> str:
        names = [item.text or "" for item in _child(request, "ParameterNames") or []]
        found: list[tuple[str, Param]] = []
        for name in names:
            if name in self.unreadable:  # a CPE whose tree lists a name its GPV refuses
                return fault(9005, "invalid parameter name")
            if name in self.tree:
                param = self.tree[name]
                if name.endswith("Password"):
                    param = Param("", param.type)  # passwords read back empty
                found.append((name, param))
            elif name.endswith(".") and any(n.startswith(name) for n in self.tree):
                found += [(n, p) for n, p in self.tree.items() if n.startswith(name)]
            else:
                return fault(9005, f"no such parameter {name}")
        return f"<cwmp:GetParameterValuesResponse>{value_list(found)}</cwmp:GetParameterValuesResponse>"

    def rpc_SetParameterValues(self, request) -> str:
        changes: dict[str, str] = {}
        refused: list[tuple[str, int, str]] = []
        for item in _child(request, "ParameterList") or []:
            name = _text(item, "Name")
            value_element = _child(item, "Value")
            value = (value_element.text or "") if value_element is not None else ""
            param = self.tree.get(name)
            if param is None:
                refused.append((name, 9005, "invalid parameter name"))
            elif not param.writable:
                refused.append((name, 9008, "not writable"))
            elif not _valid(param.type, value):
                refused.append((name, 9007, f"not a valid {param.type}"))
            else:
                changes[name] = value
        if refused:
            return fault(9003, "invalid arguments", refused)
        for name, value in changes.items():
            param = self.tree[name]
            param.value = "1" if param.type == "boolean" and value.lower() == "true" else value
            if param.type == "boolean" and value.lower() == "false":
                param.value = "0"
        self.tree["Device.ManagementServer.ParameterKey"].value = _text(request, "ParameterKey")
        return (
            "<cwmp:SetParameterValuesResponse><Status>0</Status></cwmp:SetParameterValuesResponse>"
        )

    def rpc_GetParameterAttributes(self, request) -> str:
        names = [item.text or "" for item in _child(request, "ParameterNames") or []]
        inner = ""
        for name in names:
            if name not in self.tree:
                return fault(9005, f"no such parameter {name}")
            inner += (f"<ParameterAttributeStruct><Name>{escape(name)}</Name><Notification>"
                      f"{self.tree[name].notification}</Notification><AccessList "
                      'soapenc:arrayType="xsd:string[0]"/></ParameterAttributeStruct>')  # fmt: skip
        return (f'<cwmp:GetParameterAttributesResponse><ParameterList soapenc:arrayType="cwmp:'
                f'ParameterAttributeStruct[{len(names)}]">{inner}</ParameterList>'
                "</cwmp:GetParameterAttributesResponse>")  # fmt: skip

    def rpc_SetParameterAttributes(self, request) -> str:
        for item in _child(request, "ParameterList") or []:
            name = _text(item, "Name")
            if name not in self.tree:
                return fault(9005, f"no such parameter {name}")
            if _text(item, "NotificationChange").strip() in ("1", "true"):
                self.tree[name].notification = int(_text(item, "Notification") or 0)
        return "<cwmp:SetParameterAttributesResponse/>"

    def rpc_AddObject(self, request) -> str:
        return fault(9005, "the phone's profiles are fixed")

    def rpc_DeleteObject(self, request) -> str:
        return fault(9005, "the phone's profiles are fixed")

    def rpc_Reboot(self, request) -> str:
        self.reboot_key = _text(request, "CommandKey")
        return "<cwmp:RebootResponse/>"

    def rpc_FactoryReset(self, request) -> str:
        self.reboot_key = "__factory__"
        return "<cwmp:FactoryResetResponse/>"

    def rpc_ScheduleInform(self, request) -> str:
        return "<cwmp:ScheduleInformResponse/>"

    def rpc_Download(self, request) -> str:
        self.pending.append(Transfer("download", _text(request, "CommandKey"),
                                     _text(request, "FileType"), _text(request, "URL")))  # fmt: skip
        return ("<cwmp:DownloadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z"
                "</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime>"
                "</cwmp:DownloadResponse>")  # fmt: skip

    def rpc_Upload(self, request) -> str:
        self.pending.append(Transfer("upload", _text(request, "CommandKey"),
                                     _text(request, "FileType"), _text(request, "URL")))  # fmt: skip
        return ("<cwmp:UploadResponse><Status>1</Status><StartTime>0001-01-01T00:00:00Z"
                "</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime>"
                "</cwmp:UploadResponse>")  # fmt: skip

    # -- after the session

    def after_session(self) -> bool:
        """Do what the session asked; whether the phone calls the ACS again at once."""
        call_back = bool(self.pending) or self.reboot_key is not None
        management = "Device.ManagementServer."
        user = self.tree[management + "Username"].value
        password = self.tree[management + "Password"].value
        if user and password:
            self.username, self.password = user, password  # used from the next session
        for transfer in self.pending:
            started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            transfer.started = started
            try:
                if transfer.kind == "download":
                    data = httpx.get(transfer.url, timeout=20)
                    data.raise_for_status()
                    self.downloads.append((transfer.file_type, data.content))
                    if transfer.file_type.startswith("3"):
                        self.restore(data.content)
                    self.events.append(("M Download", transfer.command_key))
                else:
                    content = (
                        self.config()
                        if transfer.file_type.startswith("1")
                        else (f"log of {self.mac}: booted {self.reboots} times\n".encode())
                    )
                    put = httpx.put(transfer.url, content=content, timeout=20)
                    put.raise_for_status()
                    self.events.append(("M Upload", transfer.command_key))
            except httpx.HTTPError as error:
                transfer.fault = (9010 if transfer.kind == "download" else 9011, str(error))
            self.completed.append(transfer)
        self.pending = []
        if self.reboot_key == "__factory__":
            self.factory_resets += 1
            self.tree = seed_tree(self.mac, self.serial, self.model, self.version, self.root,
                                  self.lines)  # fmt: skip
            if self.connection is not None:
                self.tree[
                    "Device.ManagementServer.ConnectionRequestURL"
                ].value = f"http://127.0.0.1:{self.connection.port}/cr"
            self.username, self.password = self.bootstrap_login
            self.events = [("0 BOOTSTRAP", ""), ("1 BOOT", "")]
            self.completed = []
        elif self.reboot_key is not None:
            self.reboots += 1
            self.events = [("1 BOOT", ""), ("M Reboot", self.reboot_key), *self.events]
        self.reboot_key = None
        return call_back

    def config(self) -> bytes:
        """The phone's configuration as a file (what a backup uploads)."""
        return "".join(f"{name}={p.value}\n" for name, p in sorted(self.tree.items())
                       if p.writable).encode()  # fmt: skip

    def restore(self, content: bytes) -> None:
        for line in content.decode().splitlines():
            name, _, value = line.partition("=")
            if name in self.tree and self.tree[name].writable:
                self.tree[name].value = value

    # -- views for tests

    def value(self, relative: str) -> str:
        return self.tree[self.root + relative].value

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def _valid(kind: str, value: str) -> bool:
    if kind in ("int", "unsignedInt"):
        try:
            number = int(value)
        except ValueError:
            return False
        return number >= 0 or kind == "int"
    if kind == "boolean":
        return value.lower() in ("0", "1", "true", "false")
    if kind == "dateTime":
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
    return True


class _ConnectionListener:
    """Connection requests: HTTP GET with Digest on ``/cr`` (its own check, RFC 2617) and
    TR-111 UDP requests signed with HMAC-SHA1; each starts a session in a thread."""

    REALM = "cpe"

    def __init__(self, cpe: Cpe, port: int) -> None:
        self.cpe = cpe
        self.nonce = os.urandom(8).hex()
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if listener.authorised(self.headers.get("Authorization", ""), self.path):
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    listener.kick(("6 CONNECTION REQUEST", ""))
                    return
                self.send_response(401)
                self.send_header("WWW-Authenticate", f'Digest realm="{listener.REALM}", '
                                 f'qop="auth", nonce="{listener.nonce}", algorithm=MD5')  # fmt: skip
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.seen_ids: set[str] = set()
        self.nat_peer: tuple[str, int] | None = None
        """Set: a port-restricted NAT in front of the phone lets in only datagrams from
        this address (the STUN server its binding requests went to)."""
        threading.Thread(target=self.serve_udp, daemon=True).start()

    def credentials(self) -> tuple[str, str]:
        tree = self.cpe.tree
        return (tree["Device.ManagementServer.ConnectionRequestUsername"].value,
                tree["Device.ManagementServer.ConnectionRequestPassword"].value)  # fmt: skip

    def authorised(self, header: str, uri: str) -> bool:
        user, password = self.credentials()
        if not header.lower().startswith("digest ") or not user:
            return False
        fields = {}
        for part in header[7:].split(","):
            key, _, value = part.strip().partition("=")
            fields[key.lower()] = value.strip('"')
        if fields.get("username") != user or fields.get("nonce") != self.nonce:
            return False
        ha1 = hashlib.md5(f"{user}:{self.REALM}:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"GET:{fields.get('uri', '')}".encode()).hexdigest()
        expected = hashlib.md5(
            f"{ha1}:{self.nonce}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}".encode()
        ).hexdigest()
        return hmac.compare_digest(expected, fields.get("response", ""))

    def serve_udp(self) -> None:
        while True:
            try:
                data, source = self.udp.recvfrom(2048)
            except OSError:
                return
            if self.nat_peer is not None and source != self.nat_peer:
                continue
            if data[:2] == b"\x01\x01":  # our STUN Binding Response: the public address
                self.mapped(data)
                continue
            line = data.decode("latin-1").split("\r\n", 1)[0]
            parts = line.split(" ")
            if len(parts) < 2 or parts[0] != "GET":
                continue
            query = {k: v[0] for k, v in parse_qs(urlsplit(parts[1]).query).items()}
            user, password = self.credentials()
            text = (
                query.get("ts", "")
                + query.get("id", "")
                + query.get("un", "")
                + query.get("cn", "")
            )
            signature = hmac.new(password.encode(), text.encode(), hashlib.sha1).hexdigest()
            if query.get("un") != user or not hmac.compare_digest(
                signature.lower(), query.get("sig", "").lower()
            ):
                continue
            if query.get("id") in self.seen_ids:  # sent 3 times: one session
                continue
            self.seen_ids.add(query.get("id", ""))
            self.kick(("6 CONNECTION REQUEST", ""))

    def stun_bind(self, server: tuple[str, int]) -> None:
        """A classic (RFC 3489) Binding Request with the TR-111 attributes: USERNAME (the
        STUNUsername the ACS set) and CONNECTION-REQUEST-BINDING (0xC001)."""
        username = self.cpe.tree["Device.ManagementServer.STUNUsername"].value.encode()
        username += b" " * (-len(username) % 4)
        binding = b"dslforum.org/TR-111 "
        attributes = (struct.pack("!HH", 0x0006, len(username)) + username
                      + struct.pack("!HH", 0xC001, len(binding)) + binding)  # fmt: skip
        header = struct.pack("!HH", 0x0001, len(attributes)) + os.urandom(16)
        self.udp.sendto(header + attributes, server)

    def mapped(self, data: bytes) -> None:
        position = 20
        while position + 4 <= len(data):
            kind, length = struct.unpack("!HH", data[position : position + 4])
            value = data[position + 4 : position + 4 + length]
            if kind == 0x0001 and len(value) >= 8:
                port = struct.unpack("!H", value[2:4])[0]
                address = socket.inet_ntoa(value[4:8])
                self.cpe.tree[
                    "Device.ManagementServer.UDPConnectionRequestAddress"
                ].value = f"{address}:{port}"
            position += 4 + length + (-length % 4)

    def kick(self, event) -> None:
        self.cpe.kicked.set()

        def run() -> None:
            time.sleep(0.05)
            self.cpe.session((event,))

        threading.Thread(target=run, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.udp.close()

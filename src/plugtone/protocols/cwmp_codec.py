"""SOAP envelopes of CWMP to and from bytes: :func:`parse` and :func:`build`.

Parsing is for hostile input: the body is refused above a size cap before any parsing,
and parsed by defusedxml (expat underneath) with DTDs, entity declarations and external
references forbidden, the approach :mod:`plugtone.vendors.polycom.stock` takes for
release files. Nothing is fetched and nothing expands.

Elements are matched by local name: CPEs use any prefix (``cwmp:``, ``cwmp_1_0:``, no
prefix with a default namespace), and many qualify the children of a method element
that the schema leaves unqualified. The CWMP namespace, ``urn:dslforum-org:cwmp-1-0``
to ``-1-4``, is read from the method element (or the header), kept in the
:class:`Envelope`, and answers are built in it: CWMP 1.2 to 1.4 all use ``cwmp-1-2``
(the header comments of ``cwmp-1-3.xsd`` and ``cwmp-1-4.xsd``), but some CPEs write
``cwmp-1-3``/``cwmp-1-4`` anyway, and a CPE understands its own namespace best.

Building writes the text directly (no tree): every value is escaped, a ``\\r`` is kept
as a character reference, and a character XML 1.0 cannot carry is refused with
:class:`ValueError` rather than sent for the CPE to choke on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zlib
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from plugtone.protocols import cwmp_messages as m
from plugtone.protocols.cwmp_faults import CwmpError, FaultCode, fault_message, soap_faultcode

__all__ = [
    "CWMP_NAMESPACES",
    "CWMP_VERSIONS",
    "DEFAULT_NAMESPACE",
    "MAX_ENVELOPE_SIZE",
    "MAX_MARKUP",
    "SOAP_ENCODING",
    "SOAP_ENVELOPE",
    "Envelope",
    "build",
    "decode_body",
    "fault_envelope",
    "is_empty",
    "parse",
]

SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

CWMP_NAMESPACES: tuple[str, ...] = tuple(f"urn:dslforum-org:cwmp-1-{minor}" for minor in range(5))
"""The namespaces recognised, ``cwmp-1-0`` to ``cwmp-1-4``."""
DEFAULT_NAMESPACE = CWMP_NAMESPACES[0]
"""Used when a message names none (answers to bodies that could not be read)."""
CWMP_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3", "1.4")
"""Protocol versions this ACS speaks (for ``SupportedCWMPVersions``/``UseCWMPVersion``)."""

MAX_ENVELOPE_SIZE = 4 * 1024 * 1024
"""Default cap on one body, before and after decompression. A full GetParameterNames of
a large CPE tree is a few hundred kilobytes; a phone's is far smaller."""

MAX_MARKUP = 300_000
"""Default cap on ``<`` in one body: a real GetParameterNamesResponse has about one per 20
bytes, so this admits any body under :data:`MAX_ENVELOPE_SIZE`, while a body of nothing
but empty elements (the costliest to parse, about 3 µs each) is refused unread."""

_CWMP_LIKE = re.compile(r"urn:dslforum-org:cwmp-\d+-\d+")
_XSI_TYPE = f"{{{XSI}}}type"
_MUST_UNDERSTAND = f"{{{SOAP_ENVELOPE}}}mustUnderstand"


@dataclass
class Envelope:
    """One SOAP envelope: its CWMP header fields and the message in its body.

    ``body`` is None for an envelope whose Body is empty (some CPEs send that instead of
    an empty POST). ``namespace`` is the CWMP namespace the sender used; an answer built
    from an envelope should keep it. ``id`` is the ``cwmp:ID`` header (None when absent):
    a response carries the ID of the request it answers.
    """

    body: m.Message | None
    id: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    hold_requests: bool | None = None
    session_timeout: int | None = None
    supported_cwmp_versions: str | None = None
    use_cwmp_version: str | None = None
    no_more_requests: bool | None = None

    @property
    def method(self) -> str:
        """The body's method name (``Inform``, ``Fault``, ``""`` for an empty body)."""
        if self.body is None:
            return ""
        if isinstance(self.body, m.Fault):
            return "Fault"
        if isinstance(self.body, m.UnknownRpc):
            return self.body.name
        return self.body.METHOD


_RPC_CLASSES: dict[str, type[m.Rpc]] = {
    cls.METHOD: cls for pair in m.REQUEST_RESPONSES.items() for cls in pair
}


# --------------------------------------------------------------------------------------
# Bodies
# --------------------------------------------------------------------------------------


def is_empty(body: bytes) -> bool:
    """True for the CPE's empty POST (no bytes, or only whitespace)."""
    return not body.strip()


def decode_body(
    body: bytes, content_encoding: str | None, *, max_size: int = MAX_ENVELOPE_SIZE
) -> bytes:
    """An HTTP body undone of its ``Content-Encoding`` (gzip, deflate, identity).

    Decompression stops at ``max_size`` (a small gzip can inflate to gigabytes), which
    raises :class:`CwmpError` with ``http_status`` 413; an unknown or broken encoding
    raises one with 415/400.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if len(body) > max_size:
        raise _too_large(max_size)
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        windows = [16 + zlib.MAX_WBITS]
    elif encoding == "deflate":
        windows = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped, or raw as some send
    else:
        raise CwmpError(
            FaultCode.INVALID_ARGUMENTS,
            f"unsupported Content-Encoding {encoding!r}",
            http_status=415,
        )
    for window in windows:
        inflater = zlib.decompressobj(window)
        try:
            data = inflater.decompress(body, max_size + 1)
        except zlib.error:
            continue
        if len(data) > max_size or inflater.unconsumed_tail:
            raise _too_large(max_size)
        return data
    raise CwmpError(
        FaultCode.INVALID_ARGUMENTS, f"body is not valid {encoding} data", http_status=400
    )


def _too_large(max_size: int) -> CwmpError:
    return CwmpError(
        FaultCode.RESOURCES_EXCEEDED,
        f"body larger than {max_size} bytes",
        http_status=413,
    )


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def _local(tag: Any) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _children(element: Element) -> list[Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _malformed(message: str) -> CwmpError:
    return CwmpError(FaultCode.INVALID_ARGUMENTS, message, http_status=400)


def parse(
    data: bytes, *, max_size: int = MAX_ENVELOPE_SIZE, max_markup: int = MAX_MARKUP
) -> Envelope:
    """The envelope in ``data`` (one HTTP body, already decoded by :func:`decode_body`).

    Raises :class:`CwmpError`: 8004 (``http_status`` 413) above ``max_size`` bytes or
    ``max_markup`` tags; 8003 for a
    body that is not XML, declares a DTD or entities, is not a SOAP envelope, holds more
    than one message, or has a field of the wrong type; 8006 for a CWMP namespace of a
    version this ACS does not speak. Never any other exception.
    """
    if len(data) > max_size:
        raise _too_large(max_size)
    if data.count(b"<") > max_markup:
        raise CwmpError(
            FaultCode.RESOURCES_EXCEEDED,
            f"body has more than {max_markup} tags",
            http_status=413,
        )
    if is_empty(data):
        raise _malformed("empty body: not an envelope")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise _malformed(f"refused XML: {type(error).__name__} (no DTD, no entities)") from None
    except (ParseError, ValueError, LookupError, UnicodeError, RecursionError) as error:
        raise _malformed(f"not well-formed XML: {error}") from None
    try:
        return _envelope(root)
    except RecursionError:
        raise _malformed("envelope nested too deeply") from None


def _envelope(root: Element) -> Envelope:
    if _local(root.tag) != "Envelope":
        raise _malformed(f"root element is <{_local(root.tag)}>, not a SOAP Envelope")
    header = body = None
    for child in _children(root):
        name = _local(child.tag)
        if name == "Header" and header is None:
            header = child
        elif name == "Body" and body is None:
            body = child
    if body is None:
        raise _malformed("SOAP Envelope without a Body")
    envelope = Envelope(body=None)
    header_namespace = _read_header(header, envelope) if header is not None else ""
    messages = _children(body)
    if len(messages) > 1:
        raise _malformed(f"SOAP Body holds {len(messages)} messages; CWMP allows one")
    if not messages:
        envelope.namespace = header_namespace or DEFAULT_NAMESPACE
        return envelope
    element = messages[0]
    envelope.namespace = _message_namespace(element, header_namespace)
    if _local(element.tag) == "Fault":
        envelope.body = _read_fault(element)
    else:
        envelope.body = _read_rpc(element)
    return envelope


def _message_namespace(element: Element, header_namespace: str) -> str:
    namespace = _namespace(element.tag)
    if namespace in CWMP_NAMESPACES:
        return namespace
    if _CWMP_LIKE.fullmatch(namespace):
        raise CwmpError(
            FaultCode.ACS_VERSION_INCOMPATIBLE,
            f"CWMP namespace {namespace} is not one this ACS speaks (cwmp-1-0 to cwmp-1-4)",
        )
    if _local(element.tag) == "Fault":
        detail = _find(element, "detail")
        if detail is not None:
            for child in _children(detail):
                if _namespace(child.tag) in CWMP_NAMESPACES:
                    return _namespace(child.tag)
    return header_namespace or DEFAULT_NAMESPACE


def _read_header(header: Element, envelope: Envelope) -> str:
    namespace = ""
    for child in _children(header):
        name = _local(child.tag)
        text = (child.text or "").strip()
        child_namespace = _namespace(child.tag)
        if child_namespace in CWMP_NAMESPACES:
            namespace = namespace or child_namespace
        if name == "ID":
            envelope.id = child.text or ""
        elif name == "HoldRequests":
            envelope.hold_requests = _boolean(text, "HoldRequests")
        elif name == "NoMoreRequests":
            envelope.no_more_requests = _boolean(text, "NoMoreRequests")
        elif name == "SessionTimeout":
            envelope.session_timeout = _integer(text, "SessionTimeout", unsigned=True)
        elif name == "SupportedCWMPVersions":
            envelope.supported_cwmp_versions = text
        elif name == "UseCWMPVersion":
            envelope.use_cwmp_version = text
        elif child.get(_MUST_UNDERSTAND, "0").strip() in ("1", "true"):
            raise CwmpError(
                FaultCode.INVALID_ARGUMENTS,
                f"header <{name}> must be understood and is not known here",
            )
    return namespace


def _find(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _boolean(text: str, where: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise _malformed(f"{where}: {text[:40]!r} is not a boolean")


def _integer(text: str, where: str, *, unsigned: bool) -> int:
    stripped = text.strip()
    if len(stripped) > 20 or not re.fullmatch(r"[+-]?\d+", stripped):
        raise _malformed(f"{where}: {text[:40]!r} is not an integer")
    value = int(stripped)
    if unsigned and value < 0:
        raise _malformed(f"{where}: {value} is negative")
    return value


def _read_fault(element: Element) -> m.Fault:
    soap_code = (_text(_find(element, "faultcode")) or "").strip()
    soap_string = (_text(_find(element, "faultstring")) or "").strip()
    fault = m.Fault(code=0, soap_faultcode=soap_code, soap_faultstring=soap_string)
    detail = _find(element, "detail")
    cwmp_fault = _find(detail, "Fault") if detail is not None else None
    if cwmp_fault is None:
        fault.string = soap_string
        return fault
    fault.code = _integer(_text(_find(cwmp_fault, "FaultCode")) or "0", "FaultCode", unsigned=True)
    fault.string = (_text(_find(cwmp_fault, "FaultString")) or "").strip()
    for child in _children(cwmp_fault):
        if _local(child.tag) == "SetParameterValuesFault":
            fault.parameter_faults.append(_read_struct(m.SetParameterValuesFault, child, "Fault"))
    return fault


def _text(element: Element | None) -> str | None:
    if element is None:
        return None
    return "".join(element.itertext())


def _read_rpc(element: Element) -> m.Rpc:
    name = _local(element.tag)
    cls = _RPC_CLASSES.get(name)
    if cls is None:
        return m.UnknownRpc(name=name)
    return _read_struct(cls, element, name)


def _read_struct(cls: type, element: Element, where: str) -> Any:
    by_name: dict[str, Element] = {}
    for child in _children(element):
        by_name.setdefault(_local(child.tag), child)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        if "xml" not in spec.metadata:
            continue
        child = by_name.get(spec.metadata["xml"])
        if child is None:
            continue
        values[spec.name] = _read_field(spec.metadata, child, f"{where}.{spec.metadata['xml']}")
    return cls(**values)


def _read_field(meta: Any, element: Element, where: str) -> Any:
    kind = meta["kind"]
    if kind == "array":
        item = meta["item"]
        return [_read_item(item, child, where) for child in _children(element)]
    if isinstance(kind, type):
        return _read_struct(kind, element, where)
    return _read_scalar(kind, _text(element) or "", where)


def _read_item(item: Any, element: Element, where: str) -> Any:
    if item is m.ParameterValue:
        return _read_parameter_value(element, where)
    if isinstance(item, type):
        return _read_struct(item, element, where)
    return _read_scalar(item, _text(element) or "", where)


def _read_scalar(kind: str, text: str, where: str) -> Any:
    if kind == "string":
        return text.strip()
    stripped = text.strip()
    if kind in ("unsignedInt", "int"):
        return _integer(stripped or "0", where, unsigned=kind == "unsignedInt")
    if kind == "boolean":
        return _boolean(stripped or "0", where)
    if kind == "dateTime":
        # Clocks of CPEs write odd times; an unreadable one is "unknown", not a refusal.
        try:
            return m.parse_datetime(stripped)
        except ValueError:
            return m.UNKNOWN_TIME
    raise AssertionError(kind)


def _read_parameter_value(element: Element, where: str) -> m.ParameterValue:
    name_element = value_element = None
    for child in _children(element):
        local = _local(child.tag)
        if local == "Name" and name_element is None:
            name_element = child
        elif local == "Value" and value_element is None:
            value_element = child
    name = (_text(name_element) or "").strip()
    if value_element is None:
        return m.ParameterValue(name=name, value="", type="string")
    declared = value_element.get(_XSI_TYPE, "")
    xsd_type = declared.rsplit(":", 1)[-1].strip()
    if not _NAME.fullmatch(xsd_type):
        xsd_type = "string"  # missing, or not a type name at all: read the text as is
    text = _text(value_element) or ""
    return m.ParameterValue(name=name, value=m.parse_value(text, xsd_type), type=xsd_type)


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> str:
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise ValueError(
            f"character U+{ord(bad.group()):04X} cannot be carried in XML 1.0 (in {text[:40]!r})"
        )
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


def build(envelope: Envelope) -> bytes:
    """The UTF-8 bytes of ``envelope``, in its ``namespace`` with the ``cwmp`` prefix.

    The ``cwmp:ID``, ``HoldRequests`` and ``UseCWMPVersion`` headers carry
    ``mustUnderstand="1"``, ``SessionTimeout`` and ``SupportedCWMPVersions``
    ``mustUnderstand="0"``, as the standard's Table 4 says. Raises :class:`ValueError`
    for text XML cannot carry.
    """
    namespace = envelope.namespace or DEFAULT_NAMESPACE
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE}" xmlns:soapenc="{SOAP_ENCODING}" '
        f'xmlns:xsd="{XSD}" xmlns:xsi="{XSI}" xmlns:cwmp="{_escape(namespace)}">'
    ]
    headers = _build_headers(envelope)
    if headers:
        parts.append(f"<soapenv:Header>{headers}</soapenv:Header>")
    parts.append("<soapenv:Body>")
    if isinstance(envelope.body, m.Fault):
        parts.append(_build_fault(envelope.body))
    elif isinstance(envelope.body, m.UnknownRpc):
        parts.append(f"<cwmp:{_tag(envelope.body.name)}/>")
    elif envelope.body is not None:
        method = envelope.body.METHOD
        parts.append(f"<cwmp:{method}>{_build_struct(envelope.body)}</cwmp:{method}>")
    parts.append("</soapenv:Body></soapenv:Envelope>")
    return "".join(parts).encode("utf-8")


_NAME = re.compile(r"[^\W\d][\w.-]{0,127}")
"""An XML name as far as this module writes one (no colons: prefixes are its own)."""


def _tag(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name[:40]!r} is not an element name")
    return name


def _build_headers(envelope: Envelope) -> str:
    parts: list[str] = []

    def header(name: str, text: str, must_understand: str) -> None:
        parts.append(
            f'<cwmp:{name} soapenv:mustUnderstand="{must_understand}">{_escape(text)}</cwmp:{name}>'
        )

    if envelope.id is not None:
        header("ID", envelope.id, "1")
    if envelope.hold_requests is not None:
        header("HoldRequests", "1" if envelope.hold_requests else "0", "1")
    if envelope.no_more_requests is not None:
        header("NoMoreRequests", "1" if envelope.no_more_requests else "0", "0")
    if envelope.session_timeout is not None:
        header("SessionTimeout", str(envelope.session_timeout), "0")
    if envelope.supported_cwmp_versions is not None:
        header("SupportedCWMPVersions", envelope.supported_cwmp_versions, "0")
    if envelope.use_cwmp_version is not None:
        header("UseCWMPVersion", envelope.use_cwmp_version, "1")
    return "".join(parts)


def _build_fault(fault: m.Fault) -> str:
    soap_code = fault.soap_faultcode or soap_faultcode(fault.code)
    items = "".join(
        f"<SetParameterValuesFault>{_build_struct(item)}</SetParameterValuesFault>"
        for item in fault.parameter_faults
    )
    return (
        f"<soapenv:Fault><faultcode>{_escape(soap_code)}</faultcode>"
        f"<faultstring>{_escape(fault.soap_faultstring or 'CWMP fault')}</faultstring>"
        f"<detail><cwmp:Fault><FaultCode>{int(fault.code)}</FaultCode>"
        f"<FaultString>{_escape(fault.string)}</FaultString>{items}"
        "</cwmp:Fault></detail></soapenv:Fault>"
    )


def _build_struct(value: Any) -> str:
    parts: list[str] = []
    for spec in dataclasses.fields(value):
        meta = spec.metadata
        if "xml" not in meta:
            continue
        name = meta["xml"]
        field_value = getattr(value, spec.name)
        limit = meta.get("max_length")
        if limit is not None and len(str(field_value)) > limit:
            raise ValueError(
                f"{type(value).__name__}.{name} is {len(str(field_value))} characters; "
                f"the CWMP schema allows {limit}"
            )
        inner = _build_field(meta, field_value)
        parts.append(f"<{name}{inner[0]}>{inner[1]}</{name}>")
    return "".join(parts)


def _build_field(meta: Any, value: Any) -> tuple[str, str]:
    """(attributes, content) of one field's element."""
    kind = meta["kind"]
    if kind == "array":
        array_type = meta["array_type"]
        item_name = array_type.split(":", 1)[-1]
        items = "".join(
            f"<{item_name}>{_build_item(meta['item'], item)}</{item_name}>" for item in value
        )
        return f' soapenc:arrayType="{array_type}[{len(value)}]"', items
    if isinstance(kind, type):
        return "", _build_struct(value)
    return "", _build_scalar(kind, value)


def _build_item(item: Any, value: Any) -> str:
    if item is m.ParameterValue:
        xsd_type = value.type or m.infer_type(value.value)
        text = _escape(m.format_value(value.value, xsd_type))
        return (
            f"<Name>{_escape(value.name)}</Name>"
            f'<Value xsi:type="xsd:{_tag(xsd_type)}">{text}</Value>'
        )
    if isinstance(item, type):
        return _build_struct(value)
    return _build_scalar(item, value)


def _build_scalar(kind: str, value: Any) -> str:
    if kind == "boolean":
        return "1" if value else "0"
    if kind in ("unsignedInt", "int"):
        return str(int(value))
    if kind == "dateTime":
        if not isinstance(value, dt.datetime):
            raise ValueError(f"{value!r} is not a datetime")
        return m.format_datetime(value)
    return _escape(str(value))


def fault_envelope(
    code: int,
    message: str = "",
    *,
    namespace: str = DEFAULT_NAMESPACE,
    id: str | None = None,
) -> Envelope:
    """An ACS fault envelope (e.g. from a :class:`CwmpError`): ``message`` defaults to
    the code's own text."""
    return Envelope(
        body=m.Fault(code=int(code), string=message or fault_message(code)),
        id=id,
        namespace=namespace,
    )

"""The CWMP messages an ACS sends or receives (TR-069 Amendment 6, Annex A), as dataclasses.

Every field carries, in its metadata, the element it maps to and how its text is typed;
:mod:`.cwmp_codec` reads that description both ways, so a message is declared once. Field
names are the schema's element names in snake case; every field has a default, because
CPEs leave optional elements out (the codec fills the default) and a caller building a
request gives only what it means.

Values of parameters (:class:`ParameterValue`) keep their ``xsi:type``: a CPE is entitled
to refuse a value whose type is not the parameter's (fault 9006), so the ACS sends the
type the CPE reported (or the one the data model gives).
"""

# ruff: noqa: RUF009  (_xml returns dataclasses.field(...) with the element's description)
from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from plugtone.protocols.cwmp_faults import fault_message

__all__ = [
    "ACS_METHODS",
    "CPE_REQUESTS",
    "REQUEST_RESPONSES",
    "UNKNOWN_TIME",
    "AddObject",
    "AddObjectResponse",
    "AllQueuedTransfer",
    "AutonomousTransferComplete",
    "AutonomousTransferCompleteResponse",
    "CancelTransfer",
    "CancelTransferResponse",
    "DeleteObject",
    "DeleteObjectResponse",
    "DeviceId",
    "Download",
    "DownloadResponse",
    "EventStruct",
    "FactoryReset",
    "FactoryResetResponse",
    "Fault",
    "FaultStruct",
    "GetAllQueuedTransfers",
    "GetAllQueuedTransfersResponse",
    "GetParameterAttributes",
    "GetParameterAttributesResponse",
    "GetParameterNames",
    "GetParameterNamesResponse",
    "GetParameterValues",
    "GetParameterValuesResponse",
    "GetQueuedTransfers",
    "GetQueuedTransfersResponse",
    "GetRPCMethods",
    "GetRPCMethodsResponse",
    "Inform",
    "InformResponse",
    "Message",
    "ParameterAttribute",
    "ParameterInfo",
    "ParameterValue",
    "QueuedTransfer",
    "Reboot",
    "RebootResponse",
    "Rpc",
    "ScheduleDownload",
    "ScheduleDownloadResponse",
    "ScheduleInform",
    "ScheduleInformResponse",
    "SetParameterAttribute",
    "SetParameterAttributes",
    "SetParameterAttributesResponse",
    "SetParameterValues",
    "SetParameterValuesFault",
    "SetParameterValuesResponse",
    "TimeWindow",
    "TransferComplete",
    "TransferCompleteResponse",
    "UnknownRpc",
    "Upload",
    "UploadResponse",
    "Value",
    "format_value",
    "infer_type",
    "parse_value",
]

Value: TypeAlias = str | int | bool | dt.datetime | bytes
"""A parameter value as Python sees it (see :func:`parse_value` for the mapping)."""

UNKNOWN_TIME = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
"""``0001-01-01T00:00:00Z``: the standard's "unknown time" (e.g. a transfer never started)."""


def _xml(
    name: str,
    kind: Any,
    default: Any = None,
    *,
    item: Any = None,
    array_type: str = "",
    max_length: int | None = None,
):
    """A dataclass field mapped to element ``name`` of the given kind.

    ``kind`` is a scalar type name (``string``, ``unsignedInt``, ``int``, ``boolean``,
    ``dateTime``), a struct class, or ``"array"`` with ``item`` (a scalar type name or a
    struct class) and the SOAP-ENC ``array_type`` written as ``arrayType``.
    ``max_length`` is the schema's limit for a string, checked when building (a CPE
    may refuse a longer CommandKey, and what it sent back would not match).
    """
    meta = {
        "xml": name,
        "kind": kind,
        "item": item,
        "array_type": array_type,
        "max_length": max_length,
    }
    if kind == "array":
        return field(default_factory=list, metadata=meta)
    if isinstance(kind, type):
        return field(default_factory=kind, metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------------------
# Parameter values and their xsi:type
# --------------------------------------------------------------------------------------

_INT_TYPES = frozenset({"int", "unsignedInt", "long", "unsignedLong"})


def infer_type(value: Value) -> str:
    """The xsi:type to send for a Python value when the caller gave none."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "unsignedInt" if value >= 0 else "int"
    if isinstance(value, dt.datetime):
        return "dateTime"
    if isinstance(value, bytes | bytearray):
        return "base64"
    return "string"


def parse_value(text: str, xsd_type: str) -> Value:
    """The Python value of a ``Value`` element's text under its xsi:type.

    ``int``/``unsignedInt``/``long``/``unsignedLong`` → :class:`int`, ``boolean`` → :class:`bool`
    (``1``/``true``/``0``/``false``, any case), ``dateTime`` → aware :class:`datetime`
    (UTC when the CPE wrote no offset), ``base64``/``hexBinary`` → :class:`bytes`, anything
    else → :class:`str`. Text that does not read as its declared type stays a string:
    real CPEs send an empty ``unsignedInt`` for an unset parameter, and refusing the
    whole Inform for it would lock the device out.
    """
    stripped = text.strip()
    try:
        if xsd_type in _INT_TYPES:
            return int(stripped, 10)
        if xsd_type == "boolean":
            lowered = stripped.lower()
            if lowered in ("1", "true"):
                return True
            if lowered in ("0", "false"):
                return False
            return text
        if xsd_type == "dateTime":
            return parse_datetime(stripped)
        if xsd_type == "base64":
            return base64.b64decode("".join(stripped.split()), validate=True)
        if xsd_type == "hexBinary":
            return bytes.fromhex(stripped)
    except (ValueError, binascii.Error):
        return text
    return text


def parse_datetime(text: str) -> dt.datetime:
    """An xsd:dateTime as an aware datetime (UTC when no offset is written)."""
    if len(text) > 64:
        raise ValueError("dateTime too long")
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def format_datetime(value: dt.datetime) -> str:
    """xsd:dateTime text: ``Z`` for UTC, the offset otherwise, no microseconds if zero."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.isoformat()
    if value.utcoffset() == dt.timedelta(0):
        text = text.removesuffix("+00:00") + "Z"
    return text


def format_value(value: Value, xsd_type: str) -> str:
    """The text of a value under its xsi:type (the inverse of :func:`parse_value`)."""
    if isinstance(value, bool):
        # xsd:boolean allows both; "1"/"0" also survives a CPE that reads it with atoi().
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, bytes | bytearray):
        if xsd_type == "hexBinary":
            return bytes(value).hex()
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


# --------------------------------------------------------------------------------------
# Structures
# --------------------------------------------------------------------------------------


@dataclass
class DeviceId:
    """DeviceIdStruct: who the CPE is. OUI and serial number identify it for the ACS."""

    manufacturer: str = _xml("Manufacturer", "string", "")
    oui: str = _xml("OUI", "string", "")
    product_class: str = _xml("ProductClass", "string", "")
    serial_number: str = _xml("SerialNumber", "string", "")


@dataclass
class EventStruct:
    """One event of an Inform: ``0 BOOTSTRAP``, ``1 BOOT``, ``M Reboot``... with its key."""

    event_code: str = _xml("EventCode", "string", "")
    command_key: str = _xml("CommandKey", "string", "", max_length=32)


@dataclass
class ParameterValue:
    """ParameterValueStruct: a parameter's full name, value and xsi:type.

    ``type`` is the xsi:type's local name (``string``, ``unsignedInt``, ``boolean``...);
    left empty when building, it is inferred from the value (:func:`infer_type`). A value
    a CPE sent without xsi:type is read as a string, typed ``string``.
    """

    name: str = ""
    value: Value = ""
    type: str = ""

    def __post_init__(self) -> None:
        if not self.type:
            self.type = infer_type(self.value)


@dataclass
class ParameterInfo:
    """ParameterInfoStruct (GetParameterNamesResponse): a name (objects end in ``.``)."""

    name: str = _xml("Name", "string", "")
    writable: bool = _xml("Writable", "boolean", False)


@dataclass
class ParameterAttribute:
    """ParameterAttributeStruct (GetParameterAttributesResponse).

    ``notification``: 0 off, 1 passive, 2 active (TR-111 asks for 2 on
    ``UDPConnectionRequestAddress``). ``access_list``: ``Subscriber`` or empty.
    """

    name: str = _xml("Name", "string", "")
    notification: int = _xml("Notification", "int", 0)
    access_list: list[str] = _xml("AccessList", "array", item="string", array_type="xsd:string")


@dataclass
class SetParameterAttribute:
    """SetParameterAttributesStruct: what to change of one parameter's attributes."""

    name: str = _xml("Name", "string", "")
    notification_change: bool = _xml("NotificationChange", "boolean", False)
    notification: int = _xml("Notification", "int", 0)
    access_list_change: bool = _xml("AccessListChange", "boolean", False)
    access_list: list[str] = _xml("AccessList", "array", item="string", array_type="xsd:string")


@dataclass
class FaultStruct:
    """FaultStruct of TransferComplete: code 0 means the transfer succeeded."""

    fault_code: int = _xml("FaultCode", "unsignedInt", 0)
    fault_string: str = _xml("FaultString", "string", "")


@dataclass
class SetParameterValuesFault:
    """One parameter a CPE refused in a SetParameterValues fault, with its own code."""

    parameter_name: str = _xml("ParameterName", "string", "")
    fault_code: int = _xml("FaultCode", "unsignedInt", 0)
    fault_string: str = _xml("FaultString", "string", "")


# --------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------


class Rpc:
    """Base of every CWMP body message. ``METHOD`` is the body element's local name."""

    METHOD: ClassVar[str] = ""


@dataclass
class Inform(Rpc):
    """The CPE's first request of every session: who it is, why it calls, a few values."""

    METHOD: ClassVar[str] = "Inform"
    device_id: DeviceId = _xml("DeviceId", DeviceId)
    events: list[EventStruct] = _xml(
        "Event", "array", item=EventStruct, array_type="cwmp:EventStruct"
    )
    max_envelopes: int = _xml("MaxEnvelopes", "unsignedInt", 1)
    current_time: dt.datetime = _xml("CurrentTime", "dateTime", UNKNOWN_TIME)
    retry_count: int = _xml("RetryCount", "unsignedInt", 0)
    parameters: list[ParameterValue] = _xml(
        "ParameterList", "array", item=ParameterValue, array_type="cwmp:ParameterValueStruct"
    )

    @property
    def event_codes(self) -> list[str]:
        """The event codes, as sent (``0 BOOTSTRAP``, ``M Download``...)."""
        return [event.event_code for event in self.events]

    def parameter(self, name: str) -> Value | None:
        """The value of one parameter of the Inform's list, or None."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter.value
        return None


@dataclass
class InformResponse(Rpc):
    """The ACS's answer to Inform; ``MaxEnvelopes`` is always 1 since CWMP 1.1."""

    METHOD: ClassVar[str] = "InformResponse"
    max_envelopes: int = _xml("MaxEnvelopes", "unsignedInt", 1)


@dataclass
class GetRPCMethods(Rpc):
    """Either side asks which methods the other supports."""

    METHOD: ClassVar[str] = "GetRPCMethods"


@dataclass
class GetRPCMethodsResponse(Rpc):
    METHOD: ClassVar[str] = "GetRPCMethodsResponse"
    methods: list[str] = _xml("MethodList", "array", item="string", array_type="xsd:string")


@dataclass
class GetParameterNames(Rpc):
    """Names below ``parameter_path`` (an object path ending in ``.``, or a full name).

    ``next_level`` True: only the immediate children. Some CPEs refuse an empty path
    (the root); ask for ``Device.`` or ``InternetGatewayDevice.`` instead.
    """

    METHOD: ClassVar[str] = "GetParameterNames"
    parameter_path: str = _xml("ParameterPath", "string", "", max_length=256)
    next_level: bool = _xml("NextLevel", "boolean", False)


@dataclass
class GetParameterNamesResponse(Rpc):
    METHOD: ClassVar[str] = "GetParameterNamesResponse"
    parameters: list[ParameterInfo] = _xml(
        "ParameterList", "array", item=ParameterInfo, array_type="cwmp:ParameterInfoStruct"
    )


@dataclass
class GetParameterValues(Rpc):
    """Values of full names or of every parameter below partial paths (ending in ``.``)."""

    METHOD: ClassVar[str] = "GetParameterValues"
    names: list[str] = _xml("ParameterNames", "array", item="string", array_type="xsd:string")


@dataclass
class GetParameterValuesResponse(Rpc):
    METHOD: ClassVar[str] = "GetParameterValuesResponse"
    parameters: list[ParameterValue] = _xml(
        "ParameterList", "array", item=ParameterValue, array_type="cwmp:ParameterValueStruct"
    )

    def as_dict(self) -> dict[str, Value]:
        """Name → value."""
        return {parameter.name: parameter.value for parameter in self.parameters}


@dataclass
class SetParameterValues(Rpc):
    """Set values atomically; ``parameter_key`` (≤ 32 chars) is what the CPE reports
    back as ``ParameterKey`` once the whole set succeeded."""

    METHOD: ClassVar[str] = "SetParameterValues"
    parameters: list[ParameterValue] = _xml(
        "ParameterList", "array", item=ParameterValue, array_type="cwmp:ParameterValueStruct"
    )
    parameter_key: str = _xml("ParameterKey", "string", "", max_length=32)


@dataclass
class SetParameterValuesResponse(Rpc):
    """``status`` 0: applied; 1: applied, but takes effect only after a reboot."""

    METHOD: ClassVar[str] = "SetParameterValuesResponse"
    status: int = _xml("Status", "int", 0)


@dataclass
class GetParameterAttributes(Rpc):
    METHOD: ClassVar[str] = "GetParameterAttributes"
    names: list[str] = _xml("ParameterNames", "array", item="string", array_type="xsd:string")


@dataclass
class GetParameterAttributesResponse(Rpc):
    METHOD: ClassVar[str] = "GetParameterAttributesResponse"
    parameters: list[ParameterAttribute] = _xml(
        "ParameterList",
        "array",
        item=ParameterAttribute,
        array_type="cwmp:ParameterAttributeStruct",
    )


@dataclass
class SetParameterAttributes(Rpc):
    METHOD: ClassVar[str] = "SetParameterAttributes"
    parameters: list[SetParameterAttribute] = _xml(
        "ParameterList",
        "array",
        item=SetParameterAttribute,
        array_type="cwmp:SetParameterAttributesStruct",
    )


@dataclass
class SetParameterAttributesResponse(Rpc):
    METHOD: ClassVar[str] = "SetParameterAttributesResponse"


@dataclass
class AddObject(Rpc):
    """Create an instance of a multi-instance object (``object_name`` ends in ``.``)."""

    METHOD: ClassVar[str] = "AddObject"
    object_name: str = _xml("ObjectName", "string", "", max_length=256)
    parameter_key: str = _xml("ParameterKey", "string", "", max_length=32)


@dataclass
class AddObjectResponse(Rpc):
    METHOD: ClassVar[str] = "AddObjectResponse"
    instance_number: int = _xml("InstanceNumber", "unsignedInt", 0)
    status: int = _xml("Status", "int", 0)


@dataclass
class DeleteObject(Rpc):
    """Delete one instance (``object_name`` is the instance's path, ending in ``.``)."""

    METHOD: ClassVar[str] = "DeleteObject"
    object_name: str = _xml("ObjectName", "string", "", max_length=256)
    parameter_key: str = _xml("ParameterKey", "string", "", max_length=32)


@dataclass
class DeleteObjectResponse(Rpc):
    METHOD: ClassVar[str] = "DeleteObjectResponse"
    status: int = _xml("Status", "int", 0)


@dataclass
class Reboot(Rpc):
    """Reboot after the session; the CPE's next Inform carries ``M Reboot`` with this key."""

    METHOD: ClassVar[str] = "Reboot"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)


@dataclass
class RebootResponse(Rpc):
    METHOD: ClassVar[str] = "RebootResponse"


@dataclass
class FactoryReset(Rpc):
    """Back to factory defaults after the session (the CPE then informs ``0 BOOTSTRAP``)."""

    METHOD: ClassVar[str] = "FactoryReset"


@dataclass
class FactoryResetResponse(Rpc):
    METHOD: ClassVar[str] = "FactoryResetResponse"


@dataclass
class Download(Rpc):
    """Fetch a file: ``file_type`` ``1 Firmware Upgrade Image``, ``2 Web Content``,
    ``3 Vendor Configuration File``... ``TransferComplete`` follows with ``command_key``."""

    METHOD: ClassVar[str] = "Download"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)
    file_type: str = _xml("FileType", "string", "")
    url: str = _xml("URL", "string", "", max_length=256)
    username: str = _xml("Username", "string", "", max_length=256)
    password: str = _xml("Password", "string", "", max_length=256)
    file_size: int = _xml("FileSize", "unsignedInt", 0)
    target_file_name: str = _xml("TargetFileName", "string", "", max_length=256)
    delay_seconds: int = _xml("DelaySeconds", "unsignedInt", 0)
    success_url: str = _xml("SuccessURL", "string", "", max_length=256)
    failure_url: str = _xml("FailureURL", "string", "", max_length=256)


@dataclass
class DownloadResponse(Rpc):
    """``status`` 0: done already (times given); 1: not yet, a TransferComplete follows."""

    METHOD: ClassVar[str] = "DownloadResponse"
    status: int = _xml("Status", "int", 0)
    start_time: dt.datetime = _xml("StartTime", "dateTime", UNKNOWN_TIME)
    complete_time: dt.datetime = _xml("CompleteTime", "dateTime", UNKNOWN_TIME)


@dataclass
class Upload(Rpc):
    """Send a file to ``url`` (HTTP PUT): ``1 Vendor Configuration File``, ``2 Vendor Log File``."""

    METHOD: ClassVar[str] = "Upload"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)
    file_type: str = _xml("FileType", "string", "")
    url: str = _xml("URL", "string", "", max_length=256)
    username: str = _xml("Username", "string", "", max_length=256)
    password: str = _xml("Password", "string", "", max_length=256)
    delay_seconds: int = _xml("DelaySeconds", "unsignedInt", 0)


@dataclass
class UploadResponse(Rpc):
    METHOD: ClassVar[str] = "UploadResponse"
    status: int = _xml("Status", "int", 0)
    start_time: dt.datetime = _xml("StartTime", "dateTime", UNKNOWN_TIME)
    complete_time: dt.datetime = _xml("CompleteTime", "dateTime", UNKNOWN_TIME)


@dataclass
class ScheduleInform(Rpc):
    """Ask for a session in ``delay_seconds``; its Inform carries ``M ScheduleInform``."""

    METHOD: ClassVar[str] = "ScheduleInform"
    delay_seconds: int = _xml("DelaySeconds", "unsignedInt", 0)
    command_key: str = _xml("CommandKey", "string", "", max_length=32)


@dataclass
class ScheduleInformResponse(Rpc):
    METHOD: ClassVar[str] = "ScheduleInformResponse"


@dataclass
class TransferComplete(Rpc):
    """The CPE reports a Download/Upload's end; repeated until the ACS acknowledges it."""

    METHOD: ClassVar[str] = "TransferComplete"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)
    fault: FaultStruct = _xml("FaultStruct", FaultStruct)
    start_time: dt.datetime = _xml("StartTime", "dateTime", UNKNOWN_TIME)
    complete_time: dt.datetime = _xml("CompleteTime", "dateTime", UNKNOWN_TIME)

    @property
    def succeeded(self) -> bool:
        return self.fault.fault_code == 0


@dataclass
class TransferCompleteResponse(Rpc):
    METHOD: ClassVar[str] = "TransferCompleteResponse"


@dataclass
class AutonomousTransferComplete(Rpc):
    """A transfer the CPE made on its own (not asked by this ACS)."""

    METHOD: ClassVar[str] = "AutonomousTransferComplete"
    announce_url: str = _xml("AnnounceURL", "string", "")
    transfer_url: str = _xml("TransferURL", "string", "")
    is_download: bool = _xml("IsDownload", "boolean", False)
    file_type: str = _xml("FileType", "string", "")
    file_size: int = _xml("FileSize", "unsignedInt", 0)
    target_file_name: str = _xml("TargetFileName", "string", "", max_length=256)
    fault: FaultStruct = _xml("FaultStruct", FaultStruct)
    start_time: dt.datetime = _xml("StartTime", "dateTime", UNKNOWN_TIME)
    complete_time: dt.datetime = _xml("CompleteTime", "dateTime", UNKNOWN_TIME)

    @property
    def succeeded(self) -> bool:
        return self.fault.fault_code == 0


@dataclass
class AutonomousTransferCompleteResponse(Rpc):
    METHOD: ClassVar[str] = "AutonomousTransferCompleteResponse"


@dataclass
class TimeWindow:
    """TimeWindowStruct of ScheduleDownload: seconds from the request, a mode such as
    ``1 At Any Time`` or ``2 Immediately``, and how often the CPE may retry."""

    window_start: int = _xml("WindowStart", "unsignedInt", 0)
    window_end: int = _xml("WindowEnd", "unsignedInt", 0)
    window_mode: str = _xml("WindowMode", "string", "1 At Any Time", max_length=64)
    user_message: str = _xml("UserMessage", "string", "", max_length=256)
    max_retries: int = _xml("MaxRetries", "int", -1)


@dataclass
class ScheduleDownload(Rpc):
    """A Download to be made within one or two time windows (CWMP 1.2)."""

    METHOD: ClassVar[str] = "ScheduleDownload"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)
    file_type: str = _xml("FileType", "string", "", max_length=64)
    url: str = _xml("URL", "string", "", max_length=256)
    username: str = _xml("Username", "string", "", max_length=256)
    password: str = _xml("Password", "string", "", max_length=256)
    file_size: int = _xml("FileSize", "unsignedInt", 0)
    target_file_name: str = _xml("TargetFileName", "string", "", max_length=256)
    time_windows: list[TimeWindow] = _xml(
        "TimeWindowList", "array", item=TimeWindow, array_type="cwmp:TimeWindowStruct"
    )


@dataclass
class ScheduleDownloadResponse(Rpc):
    METHOD: ClassVar[str] = "ScheduleDownloadResponse"


@dataclass
class CancelTransfer(Rpc):
    """Cancel a queued Download/Upload by its CommandKey (fault 9021 once it started)."""

    METHOD: ClassVar[str] = "CancelTransfer"
    command_key: str = _xml("CommandKey", "string", "", max_length=32)


@dataclass
class CancelTransferResponse(Rpc):
    METHOD: ClassVar[str] = "CancelTransferResponse"


@dataclass
class QueuedTransfer:
    """QueuedTransferStruct: ``state`` 1 not yet started, 2 in progress, 3 completed."""

    command_key: str = _xml("CommandKey", "string", "")
    state: int = _xml("State", "int", 0)


@dataclass
class AllQueuedTransfer:
    """AllQueuedTransferStruct: a queued transfer, whoever asked for it."""

    command_key: str = _xml("CommandKey", "string", "")
    state: int = _xml("State", "int", 0)
    is_download: bool = _xml("IsDownload", "boolean", False)
    file_type: str = _xml("FileType", "string", "")
    file_size: int = _xml("FileSize", "unsignedInt", 0)
    target_file_name: str = _xml("TargetFileName", "string", "")


@dataclass
class GetQueuedTransfers(Rpc):
    """The transfers this ACS queued (deprecated by GetAllQueuedTransfers)."""

    METHOD: ClassVar[str] = "GetQueuedTransfers"


@dataclass
class GetQueuedTransfersResponse(Rpc):
    METHOD: ClassVar[str] = "GetQueuedTransfersResponse"
    transfers: list[QueuedTransfer] = _xml(
        "TransferList", "array", item=QueuedTransfer, array_type="cwmp:QueuedTransferStruct"
    )


@dataclass
class GetAllQueuedTransfers(Rpc):
    METHOD: ClassVar[str] = "GetAllQueuedTransfers"


@dataclass
class GetAllQueuedTransfersResponse(Rpc):
    METHOD: ClassVar[str] = "GetAllQueuedTransfersResponse"
    transfers: list[AllQueuedTransfer] = _xml(
        "TransferList",
        "array",
        item=AllQueuedTransfer,
        array_type="cwmp:AllQueuedTransferStruct",
    )


@dataclass
class UnknownRpc(Rpc):
    """A body element this module does not model (``RequestDownload``, ``Kicked``,
    ``ChangeDUState``...: methods Table 5 makes optional for an ACS, or this one never uses).

    Kept so the ACS can answer a CPE's request with fault 8000 (method not supported)
    and a response it did not expect can be reported by name.
    """

    METHOD: ClassVar[str] = ""
    name: str = ""


@dataclass
class Fault:
    """A SOAP Fault carrying a ``cwmp:Fault``, sent by either side.

    ``code`` is the CWMP FaultCode (8000s from the ACS, 9000s from a CPE);
    ``string`` the sender's FaultString; ``parameter_faults`` the per-parameter faults
    of a refused SetParameterValues. :attr:`message` is the text for an operator.
    """

    code: int
    string: str = ""
    parameter_faults: list[SetParameterValuesFault] = field(default_factory=list)
    soap_faultcode: str = ""
    soap_faultstring: str = "CWMP fault"

    @property
    def message(self) -> str:
        """``9005 invalid parameter name: Device.X (CPE: ...)``, parameters included."""
        text = f"{self.code} {fault_message(self.code)}"
        if self.string:
            text += f" (CPE says: {self.string})"
        for item in self.parameter_faults:
            text += f"; {item.parameter_name}: {item.fault_code} {fault_message(item.fault_code)}"
            if item.fault_string:
                text += f" ({item.fault_string})"
        return text


Message: TypeAlias = Rpc | Fault
"""What an envelope's body holds."""


REQUEST_RESPONSES: dict[type[Rpc], type[Rpc]] = {
    Inform: InformResponse,
    GetRPCMethods: GetRPCMethodsResponse,
    GetParameterNames: GetParameterNamesResponse,
    GetParameterValues: GetParameterValuesResponse,
    SetParameterValues: SetParameterValuesResponse,
    GetParameterAttributes: GetParameterAttributesResponse,
    SetParameterAttributes: SetParameterAttributesResponse,
    AddObject: AddObjectResponse,
    DeleteObject: DeleteObjectResponse,
    Reboot: RebootResponse,
    FactoryReset: FactoryResetResponse,
    Download: DownloadResponse,
    Upload: UploadResponse,
    ScheduleInform: ScheduleInformResponse,
    TransferComplete: TransferCompleteResponse,
    AutonomousTransferComplete: AutonomousTransferCompleteResponse,
    ScheduleDownload: ScheduleDownloadResponse,
    CancelTransfer: CancelTransferResponse,
    GetQueuedTransfers: GetQueuedTransfersResponse,
    GetAllQueuedTransfers: GetAllQueuedTransfersResponse,
}
"""Each request and the response type that answers it."""

CPE_REQUESTS: tuple[type[Rpc], ...] = (
    Inform,
    TransferComplete,
    AutonomousTransferComplete,
    GetRPCMethods,
)
"""Requests a CPE sends the ACS (and this ACS accepts)."""

ACS_METHODS: tuple[str, ...] = tuple(cls.METHOD for cls in CPE_REQUESTS)
"""The methods the ACS lists in its GetRPCMethodsResponse."""

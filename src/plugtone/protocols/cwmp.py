"""Sans-IO core of CWMP (TR-069 Amendment 6): messages, envelopes, faults, the ACS session.

Nothing here touches a socket, a clock or the store. The ACS endpoint reads an HTTP
body, undoes its Content-Encoding with :func:`decode_body`, and either parses it with
:func:`parse` (one :class:`Envelope`) or feeds it to a :class:`CwmpSession`, which
parses, keeps the order of the exchange and builds the answers. plugtone's ACS
(:mod:`plugtone.acs.endpoint`) parses each body first, as an Inform opens a new session
before any is found by cookie, and hands the envelope on with
:meth:`CwmpSession.receive_envelope`. :func:`build` turns an :class:`Envelope` back
into bytes.

This module is the public face; the pieces live in:

- :mod:`.cwmp_messages`: the dataclasses of every RPC an ACS sends or receives
  (Inform ... AutonomousTransferComplete, their responses, :class:`Fault`) and the
  parameter value types (``xsi:type``);
- :mod:`.cwmp_codec`: :func:`parse`, :func:`build`, the namespaces and the size cap;
- :mod:`.cwmp_faults`: :class:`FaultCode` (8000s and 9000s), :func:`fault_message`,
  :class:`CwmpError`;
- :mod:`.cwmp_session`: :class:`CwmpSession` and its events.

A short example, the endpoint's loop for one POST::

    events = session.receive(body, now=time.monotonic())
    for event in events:
        if isinstance(event, InformReceived): ...          # identify, lock, record
        elif isinstance(event, ResponseReceived): ...      # a task's step is done
        elif isinstance(event, FaultReceived): ...         # event.fault.message
    if events and isinstance(events[-1], ReadyForRequest) and (task := next_task()):
        session.send(task.request)
    status, body, headers = session.reply()
"""

from __future__ import annotations

from plugtone.protocols.cwmp_codec import (
    CWMP_NAMESPACES,
    CWMP_VERSIONS,
    DEFAULT_NAMESPACE,
    MAX_ENVELOPE_SIZE,
    MAX_MARKUP,
    SOAP_ENCODING,
    SOAP_ENVELOPE,
    Envelope,
    build,
    decode_body,
    fault_envelope,
    is_empty,
    parse,
)
from plugtone.protocols.cwmp_faults import (
    CLIENT_FAULTS,
    CwmpError,
    FaultCode,
    fault_message,
    soap_faultcode,
)
from plugtone.protocols.cwmp_messages import (
    ACS_METHODS,
    CPE_REQUESTS,
    REQUEST_RESPONSES,
    UNKNOWN_TIME,
    AddObject,
    AddObjectResponse,
    AllQueuedTransfer,
    AutonomousTransferComplete,
    AutonomousTransferCompleteResponse,
    CancelTransfer,
    CancelTransferResponse,
    DeleteObject,
    DeleteObjectResponse,
    DeviceId,
    Download,
    DownloadResponse,
    EventStruct,
    FactoryReset,
    FactoryResetResponse,
    Fault,
    FaultStruct,
    GetAllQueuedTransfers,
    GetAllQueuedTransfersResponse,
    GetParameterAttributes,
    GetParameterAttributesResponse,
    GetParameterNames,
    GetParameterNamesResponse,
    GetParameterValues,
    GetParameterValuesResponse,
    GetQueuedTransfers,
    GetQueuedTransfersResponse,
    GetRPCMethods,
    GetRPCMethodsResponse,
    Inform,
    InformResponse,
    Message,
    ParameterAttribute,
    ParameterInfo,
    ParameterValue,
    QueuedTransfer,
    Reboot,
    RebootResponse,
    Rpc,
    ScheduleDownload,
    ScheduleDownloadResponse,
    ScheduleInform,
    ScheduleInformResponse,
    SetParameterAttribute,
    SetParameterAttributes,
    SetParameterAttributesResponse,
    SetParameterValues,
    SetParameterValuesFault,
    SetParameterValuesResponse,
    TimeWindow,
    TransferComplete,
    TransferCompleteResponse,
    UnknownRpc,
    Upload,
    UploadResponse,
    Value,
    format_value,
    infer_type,
    parse_value,
)
from plugtone.protocols.cwmp_session import (
    CONTENT_TYPE,
    DEFAULT_SESSION_TIMEOUT,
    CpeRequestReceived,
    CwmpSession,
    Event,
    FaultReceived,
    InformReceived,
    LocalProtocolError,
    ProtocolError,
    ReadyForRequest,
    RequestAbandoned,
    ResponseReceived,
    SessionEnded,
    State,
)

__all__ = [
    "ACS_METHODS",
    "CLIENT_FAULTS",
    "CONTENT_TYPE",
    "CPE_REQUESTS",
    "CWMP_NAMESPACES",
    "CWMP_VERSIONS",
    "DEFAULT_NAMESPACE",
    "DEFAULT_SESSION_TIMEOUT",
    "EVENT_CODES",
    "FILE_TYPES_DOWN",
    "FILE_TYPES_UP",
    "MAX_ENVELOPE_SIZE",
    "MAX_MARKUP",
    "REQUEST_RESPONSES",
    "SOAP_ENCODING",
    "SOAP_ENVELOPE",
    "UNKNOWN_TIME",
    "AddObject",
    "AddObjectResponse",
    "AllQueuedTransfer",
    "AutonomousTransferComplete",
    "AutonomousTransferCompleteResponse",
    "CancelTransfer",
    "CancelTransferResponse",
    "CpeRequestReceived",
    "CwmpError",
    "CwmpSession",
    "DeleteObject",
    "DeleteObjectResponse",
    "DeviceId",
    "Download",
    "DownloadResponse",
    "Envelope",
    "Event",
    "EventStruct",
    "FactoryReset",
    "FactoryResetResponse",
    "Fault",
    "FaultCode",
    "FaultReceived",
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
    "InformReceived",
    "InformResponse",
    "LocalProtocolError",
    "Message",
    "ParameterAttribute",
    "ParameterInfo",
    "ParameterValue",
    "ProtocolError",
    "QueuedTransfer",
    "ReadyForRequest",
    "Reboot",
    "RebootResponse",
    "RequestAbandoned",
    "ResponseReceived",
    "Rpc",
    "ScheduleDownload",
    "ScheduleDownloadResponse",
    "ScheduleInform",
    "ScheduleInformResponse",
    "SessionEnded",
    "SetParameterAttribute",
    "SetParameterAttributes",
    "SetParameterAttributesResponse",
    "SetParameterValues",
    "SetParameterValuesFault",
    "SetParameterValuesResponse",
    "State",
    "TimeWindow",
    "TransferComplete",
    "TransferCompleteResponse",
    "UnknownRpc",
    "Upload",
    "UploadResponse",
    "Value",
    "build",
    "decode_body",
    "fault_envelope",
    "fault_message",
    "format_value",
    "infer_type",
    "is_empty",
    "parse",
    "parse_value",
    "soap_faultcode",
]

EVENT_CODES = {
    "0 BOOTSTRAP": "first contact with this ACS (or after a factory reset): reprovision",
    "1 BOOT": "the CPE booted",
    "2 PERIODIC": "periodic inform",
    "3 SCHEDULED": "a ScheduleInform's time came",
    "4 VALUE CHANGE": "a parameter with notification on changed",
    "5 KICKED": "a browser kicked the CPE (Kicked RPC)",
    "6 CONNECTION REQUEST": "the ACS asked for this session by connection request",
    "7 TRANSFER COMPLETE": "a Download or Upload ended; TransferComplete follows",
    "8 DIAGNOSTICS COMPLETE": "a diagnostic test ended",
    "9 REQUEST DOWNLOAD": "the CPE asks for a file (RequestDownload)",
    "10 AUTONOMOUS TRANSFER COMPLETE": "a transfer the CPE made on its own ended",
    "11 DU STATE CHANGE COMPLETE": "a ChangeDUState ended",
    "12 AUTONOMOUS DU STATE CHANGE COMPLETE": "a deployment unit changed on its own",
    "13 WAKEUP": "a wake-up (standby) inform",
    "14 HEARTBEAT": "a heartbeat inform",
    "M Reboot": "the reboot the ACS asked (CommandKey names it)",
    "M ScheduleInform": "the ScheduleInform the ACS asked (CommandKey names it)",
    "M Download": "the Download the ACS asked (CommandKey names it)",
    "M ScheduleDownload": "the ScheduleDownload the ACS asked",
    "M Upload": "the Upload the ACS asked (CommandKey names it)",
    "M ChangeDUState": "the ChangeDUState the ACS asked",
}
"""Inform event codes of TR-069 Amendment 6 (Table 8), with what they mean."""

FILE_TYPES_DOWN = {
    "1 Firmware Upgrade Image": "firmware",
    "2 Web Content": "web content",
    "3 Vendor Configuration File": "configuration (restore)",
    "4 Tone File": "tones",
    "5 Ringer File": "ringers",
}
"""Download FileType values (``cwmp-1-2.xsd`` DownloadFileType)."""

FILE_TYPES_UP = {
    "1 Vendor Configuration File": "configuration (backup)",
    "2 Vendor Log File": "log",
}
"""Upload FileType values (``cwmp-1-2.xsd`` UploadFileType; ``3``/``4`` add an instance
number in CWMP 1.4: ``3 Vendor Configuration File 1``)."""

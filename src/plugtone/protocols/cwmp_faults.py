"""CWMP fault codes (TR-069 Amendment 6, §A.5.1) and the error the codec raises.

Two families: 8000-8899 are faults the ACS sends the CPE (Table 6 of the standard,
8800-8899 vendor specific), 9000-9899 are faults a CPE sends the ACS (Table 7; 9800-9899
vendor specific). Each code has a short message written here for operators: a task that
fails shows it next to the CPE's own FaultString, which is often empty or terse.

Whether the SOAP ``faultcode`` is ``Client`` or ``Server`` follows the standard's tables:
``Client`` where the sender's arguments were at fault, ``Server`` otherwise.
"""

from __future__ import annotations

import enum

__all__ = [
    "CLIENT_FAULTS",
    "CwmpError",
    "FaultCode",
    "fault_message",
    "soap_faultcode",
]


class FaultCode(enum.IntEnum):
    """Named CWMP fault codes, ACS side (8000s) and CPE side (9000s)."""

    # ACS faults (the ACS answers a CPE's request with one of these)
    METHOD_NOT_SUPPORTED = 8000
    REQUEST_DENIED = 8001
    INTERNAL_ERROR = 8002
    INVALID_ARGUMENTS = 8003
    RESOURCES_EXCEEDED = 8004
    RETRY_REQUEST = 8005
    ACS_VERSION_INCOMPATIBLE = 8006

    # CPE faults (a CPE answers an ACS request with one of these)
    CPE_METHOD_NOT_SUPPORTED = 9000
    CPE_REQUEST_DENIED = 9001
    CPE_INTERNAL_ERROR = 9002
    CPE_INVALID_ARGUMENTS = 9003
    CPE_RESOURCES_EXCEEDED = 9004
    INVALID_PARAMETER_NAME = 9005
    INVALID_PARAMETER_TYPE = 9006
    INVALID_PARAMETER_VALUE = 9007
    NON_WRITABLE_PARAMETER = 9008
    NOTIFICATION_REJECTED = 9009
    DOWNLOAD_FAILURE = 9010
    UPLOAD_FAILURE = 9011
    TRANSFER_AUTHENTICATION_FAILURE = 9012
    UNSUPPORTED_TRANSFER_PROTOCOL = 9013
    MULTICAST_JOIN_FAILURE = 9014
    FILE_SERVER_UNREACHABLE = 9015
    FILE_ACCESS_FAILURE = 9016
    DOWNLOAD_INCOMPLETE = 9017
    FILE_CORRUPTED = 9018
    FILE_AUTHENTICATION_FAILURE = 9019
    DOWNLOAD_WINDOW_MISSED = 9020
    CANCEL_NOT_PERMITTED = 9021
    INVALID_UUID = 9022
    UNKNOWN_EXECUTION_ENVIRONMENT = 9023
    DISABLED_EXECUTION_ENVIRONMENT = 9024
    DEPLOYMENT_UNIT_MISMATCH = 9025
    DUPLICATE_DEPLOYMENT_UNIT = 9026
    SYSTEM_RESOURCES_EXCEEDED = 9027
    UNKNOWN_DEPLOYMENT_UNIT = 9028
    INVALID_DEPLOYMENT_UNIT_STATE = 9029
    DOWNGRADE_NOT_PERMITTED = 9030
    VERSION_NOT_SPECIFIED = 9031
    VERSION_EXISTS = 9032


_MESSAGES: dict[int, str] = {
    8000: "method not supported by the ACS",
    8001: "request denied by the ACS",
    8002: "internal error in the ACS",
    8003: "invalid arguments (the message is malformed or lacks a required field)",
    8004: "resources exceeded in the ACS",
    8005: "retry request: the ACS cannot take it now, send it again later",
    8006: "ACS version incompatible: no CWMP version in common with the CPE",
    9000: "method not supported by the CPE",
    9001: "request denied by the CPE (no reason given)",
    9002: "internal error in the CPE",
    9003: "invalid arguments (the CPE refused the request's arguments)",
    9004: "resources exceeded in the CPE (too many parameters or objects at once?)",
    9005: "invalid parameter name (the CPE has no such parameter or object)",
    9006: "invalid parameter type (the value's xsi:type is not the parameter's type)",
    9007: "invalid parameter value (out of range, or not one the CPE accepts)",
    9008: "attempt to set a non-writable parameter",
    9009: "notification request rejected (the CPE will not notify on this parameter)",
    9010: "download failed",
    9011: "upload failed",
    9012: "file transfer server authentication failed (check the URL's credentials)",
    9013: "unsupported protocol for file transfer",
    9014: "file transfer failed: unable to join the multicast group",
    9015: "file transfer failed: unable to contact the file server",
    9016: "file transfer failed: unable to access the file",
    9017: "file transfer failed: unable to complete the download",
    9018: "file transfer failed: file corrupted or unusable",
    9019: "file transfer failed: file authentication failed",
    9020: "file transfer failed: not completed within the time windows given",
    9021: "cancelling the transfer is not permitted in its current state",
    9022: "invalid UUID format",
    9023: "unknown execution environment",
    9024: "disabled execution environment",
    9025: "deployment unit does not match the execution environment",
    9026: "duplicate deployment unit",
    9027: "system resources exceeded",
    9028: "unknown deployment unit",
    9029: "invalid deployment unit state",
    9030: "invalid deployment unit update: downgrade not permitted",
    9031: "invalid deployment unit update: version not specified",
    9032: "invalid deployment unit update: version already exists",
}

CLIENT_FAULTS = frozenset({8003, 8006, 9003, 9005, 9006, 9007, 9008, 9021, 9022, 9030, 9031, 9032})
"""Codes whose SOAP faultcode is ``Client`` (the request's arguments were at fault)."""


def fault_message(code: int) -> str:
    """The operator's message for a fault code, vendor and unknown ranges included."""
    known = _MESSAGES.get(code)
    if known is not None:
        return known
    if 8800 <= code <= 8899:
        return f"vendor-specific ACS fault {code}"
    if 9800 <= code <= 9899:
        return f"vendor-specific CPE fault {code}"
    return f"unknown fault code {code}"


def soap_faultcode(code: int) -> str:
    """``Client`` or ``Server``, the SOAP 1.1 faultcode that goes with a CWMP code."""
    return "Client" if code in CLIENT_FAULTS else "Server"


class CwmpError(ValueError):
    """A message the codec or the session refuses, with the CWMP fault code to answer.

    ``code`` is an ACS fault (8000s): the endpoint can put it straight into a SOAP fault
    (:func:`plugtone.protocols.cwmp.fault_envelope`) without reading the text.
    ``http_status`` is what to answer when no envelope can be built at all (400 for a
    body that is not an envelope, 413 for one over the size cap).
    """

    def __init__(self, code: int, message: str, *, http_status: int = 500) -> None:
        super().__init__(message)
        self.code = int(code)
        self.message = message
        self.http_status = http_status

    def __repr__(self) -> str:
        return f"CwmpError({self.code}, {self.message!r})"

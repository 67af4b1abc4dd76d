"""The ACS session machine: Inform first, CPE requests, empty POST, one ACS request at a
time matched by ID, faults, HoldRequests, versions, timeouts, 204 to end."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugtone.protocols import cwmp as c

NS12 = "urn:dslforum-org:cwmp-1-2"


def inform(*events: str, namespace: str = NS12, id: str = "cpe-1", **headers) -> bytes:
    message = c.Inform(
        device_id=c.DeviceId("Aastra", "00085D", "6757i", "00085D0A0B0C"),
        events=[c.EventStruct(code) for code in events or ("1 BOOT",)],
        max_envelopes=1,
        current_time=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
    )
    return c.build(c.Envelope(body=message, id=id, namespace=namespace, **headers))


def cpe(message: c.Message, id: str | None = None, namespace: str = NS12) -> bytes:
    return c.build(c.Envelope(body=message, id=id, namespace=namespace))


def answer(session: c.CwmpSession) -> tuple[int, c.Envelope | bytes]:
    status, body, headers = session.reply()
    if status in (200, 500):
        assert headers["Content-Type"] == c.CONTENT_TYPE
        return status, c.parse(body)
    return status, body


def test_a_whole_session():
    session = c.CwmpSession(id_prefix="acs-")
    assert session.state is c.State.AWAIT_INFORM

    events = session.receive(inform("0 BOOTSTRAP", "1 BOOT", id="a<&>b"), now=0.0)
    assert [type(event) for event in events] == [c.InformReceived]
    assert events[0].inform.event_codes == ["0 BOOTSTRAP", "1 BOOT"]
    status, envelope = answer(session)
    assert status == 200
    assert envelope.body == c.InformResponse(max_envelopes=1)
    assert envelope.id == "a<&>b"
    assert envelope.namespace == NS12
    assert session.state is c.State.CPE_REQUESTS

    transfer = c.TransferComplete(command_key="fw-1", fault=c.FaultStruct(0, ""))
    events = session.receive(cpe(transfer, id="tc"), now=1.0)
    assert events == [c.CpeRequestReceived(transfer, c.parse(cpe(transfer, id="tc")))]
    status, envelope = answer(session)
    assert (status, envelope.body, envelope.id) == (200, c.TransferCompleteResponse(), "tc")

    events = session.receive(b"", now=2.0)
    assert events == [c.ReadyForRequest()]
    request_id = session.send(c.GetParameterValues(names=["Device.DeviceInfo."]))
    assert request_id == "acs-1"
    status, envelope = answer(session)
    assert status == 200
    assert envelope.body == c.GetParameterValues(names=["Device.DeviceInfo."])
    assert envelope.id == "acs-1"
    assert session.outstanding == envelope.body

    response = c.GetParameterValuesResponse(
        parameters=[c.ParameterValue("Device.DeviceInfo.SoftwareVersion", "3.3.1")]
    )
    events = session.receive(cpe(response, id="acs-1"), now=3.0)
    assert events == [
        c.ResponseReceived(c.GetParameterValues(names=["Device.DeviceInfo."]), response, "acs-1"),
        c.ReadyForRequest(),
    ]
    spv = c.SetParameterValues(parameters=[c.ParameterValue("Device.X", "1")], parameter_key="g2")
    assert session.send(spv) == "acs-2"
    answer(session)

    fault = c.Fault(code=9005, parameter_faults=[c.SetParameterValuesFault("Device.X", 9005)])
    events = session.receive(cpe(fault, id="acs-2"), now=4.0)
    assert [type(event) for event in events] == [c.FaultReceived, c.ReadyForRequest]
    assert events[0].request == spv
    assert events[0].fault.code == 9005
    assert "invalid parameter name" in events[0].fault.message

    assert session.reply() == (204, b"", {})
    assert session.finished
    assert session.end_reason == "done"
    assert session.outstanding is None


def test_first_post_must_be_an_inform():
    session = c.CwmpSession()
    events = session.receive(b"")
    assert [type(event) for event in events] == [c.ProtocolError, c.SessionEnded]
    status, body = answer(session)
    assert status == 400
    assert b"starts with an Inform" in body
    assert session.finished

    session = c.CwmpSession()
    session.receive(cpe(c.TransferComplete(command_key="x"), id="1"))
    status, envelope = answer(session)
    assert status == 500
    assert envelope.body.code == c.FaultCode.INVALID_ARGUMENTS
    assert envelope.id == "1"
    assert envelope.namespace == NS12
    assert session.finished

    session = c.CwmpSession()
    events = session.receive(b"<not-xml")
    assert events[0].error.code == 8003
    assert answer(session)[0] == 400


def test_an_external_entity_in_the_id_is_never_echoed():
    inform_text = inform(id="placeholder").decode()
    hostile = (
        '<?xml version="1.0"?><!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + inform_text.split("?>", 1)[1].replace("placeholder", "&xxe;")
    ).encode()
    session = c.CwmpSession()
    events = session.receive(hostile)
    assert isinstance(events[0], c.ProtocolError)
    status, body, _ = session.reply()
    assert status == 400
    assert b"root:" not in body and b"xxe" not in body


def test_an_inform_without_identity_is_refused():
    session = c.CwmpSession()
    body = c.build(c.Envelope(body=c.Inform(), id="1"))
    events = session.receive(body)
    assert isinstance(events[0], c.ProtocolError)
    status, envelope = answer(session)
    assert (status, envelope.body.code) == (500, 8003)


def test_cpe_get_rpc_methods_and_unknown_requests():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(cpe(c.GetRPCMethods(), id="g"))
    status, envelope = answer(session)
    assert envelope.body == c.GetRPCMethodsResponse(
        methods=["Inform", "TransferComplete", "AutonomousTransferComplete", "GetRPCMethods"]
    )
    events = session.receive(cpe(c.UnknownRpc(name="RequestDownload"), id="r"))
    assert isinstance(events[0], c.CpeRequestReceived)
    status, envelope = answer(session)
    assert (status, envelope.body.code) == (500, c.FaultCode.METHOD_NOT_SUPPORTED)
    session.receive(cpe(c.Reboot(command_key="x"), id="r2"))  # an ACS-only method
    status, envelope = answer(session)
    assert (status, envelope.body.code) == (500, 8000)
    atc = c.AutonomousTransferComplete(transfer_url="http://x/f", is_download=True)
    session.receive(cpe(atc, id="a"))
    assert answer(session)[1].body == c.AutonomousTransferCompleteResponse()
    assert not session.finished


def test_respond_replaces_the_automatic_answer():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(cpe(c.TransferComplete(command_key="k"), id="t"))
    session.respond(c.Fault(code=c.FaultCode.RETRY_REQUEST, string="store busy"))
    status, envelope = answer(session)
    assert (status, envelope.body.code, envelope.id) == (500, 8005, "t")
    assert not session.finished

    session = c.CwmpSession()
    session.receive(inform())
    session.respond(c.Fault(code=c.FaultCode.RETRY_REQUEST))
    assert answer(session)[0] == 500
    assert (session.finished, session.end_reason) == (True, "refused")


def test_an_envelope_with_an_empty_body_is_the_empty_post():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    events = session.receive(c.build(c.Envelope(body=None, namespace=NS12)))
    assert events == [c.ReadyForRequest()]


def test_hold_requests_goes_in_every_acs_envelope():
    session = c.CwmpSession(hold_requests=True)
    session.receive(inform())
    _, envelope = answer(session)
    assert envelope.hold_requests is True
    session.receive(b"")
    session.send(c.Reboot(command_key="r"))
    _, envelope = answer(session)
    assert envelope.hold_requests is True
    session.receive(cpe(c.RebootResponse(), id=envelope.id))
    session.hold_requests = False
    session.send(c.GetRPCMethods())
    _, envelope = answer(session)
    assert envelope.hold_requests is None


def test_max_envelopes_is_one_whatever_the_cpe_offers():
    session = c.CwmpSession()
    message = c.parse(inform()).body
    message.max_envelopes = 5
    session.receive(cpe(message, id="1"))
    assert answer(session)[1].body.max_envelopes == 1


def test_cwmp_version_negotiation():
    session = c.CwmpSession()
    session.receive(inform(supported_cwmp_versions="1.0,1.1,1.2,1.3,1.4"))
    _, envelope = answer(session)
    assert envelope.use_cwmp_version == "1.4"
    assert session.cwmp_version == "1.4"

    session = c.CwmpSession()
    session.receive(inform(supported_cwmp_versions="1.0, 1.1"))
    assert answer(session)[1].use_cwmp_version == "1.1"

    session = c.CwmpSession()
    events = session.receive(inform(supported_cwmp_versions="2.0"))
    assert events[0].error.code == c.FaultCode.ACS_VERSION_INCOMPATIBLE
    status, envelope = answer(session)
    assert (status, envelope.body.code) == (500, 8006)
    assert session.finished

    session = c.CwmpSession()
    session.receive(inform())
    assert answer(session)[1].use_cwmp_version is None


def test_session_timeout_from_the_cpe_and_the_default():
    session = c.CwmpSession(timeout=30)
    session.receive(inform(session_timeout=120), now=100.0)
    session.reply()
    assert session.timeout == 120
    assert session.deadline() == 220.0
    session.receive(b"", now=110.0)
    session.send(c.GetRPCMethods())
    session.reply()
    assert session.check_timeout(229.0) == []
    events = session.check_timeout(231.0)
    assert [type(event) for event in events] == [c.RequestAbandoned, c.SessionEnded]
    assert events[0].request == c.GetRPCMethods()
    assert events[1].reason == "timed out"
    assert session.finished

    session = c.CwmpSession(timeout=30)
    session.receive(inform(session_timeout=1), now=0.0)  # absurd values are bounded
    assert session.timeout == 5


def test_a_late_post_after_the_timeout_is_refused():
    session = c.CwmpSession(timeout=30)
    session.receive(inform(), now=0.0)
    session.reply()
    events = session.receive(cpe(c.TransferComplete(command_key="k"), id="t"), now=100.0)
    assert [type(event) for event in events] == [c.SessionEnded, c.ProtocolError]
    assert answer(session)[0] == 500


def test_empty_post_instead_of_a_response_abandons_the_request():
    session = c.CwmpSession(id_prefix="s-")
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.Reboot(command_key="r1"))
    session.reply()
    events = session.receive(b"")
    assert events == [
        c.RequestAbandoned(
            c.Reboot(command_key="r1"), "s-1", "the CPE sent an empty POST instead of a response"
        ),
        c.ReadyForRequest(),
    ]


def test_a_response_with_another_id_or_type_is_refused():
    session = c.CwmpSession(id_prefix="s-")
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.Reboot(command_key="r1"))
    session.reply()
    events = session.receive(cpe(c.RebootResponse(), id="stale-7"))
    assert [type(event) for event in events] == [
        c.ProtocolError,
        c.RequestAbandoned,
        c.SessionEnded,
    ]
    assert "stale-7" in events[0].error.message
    assert answer(session)[1].body.code == 8003

    session = c.CwmpSession(id_prefix="s-")
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.Reboot(command_key="r1"))
    session.reply()
    events = session.receive(cpe(c.FactoryResetResponse(), id="s-1"))
    assert "does not answer Reboot" in events[0].error.message
    assert isinstance(events[1], c.RequestAbandoned)


def test_a_response_without_id_is_matched_to_the_outstanding_request():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.FactoryReset())
    session.reply()
    events = session.receive(cpe(c.FactoryResetResponse()))
    assert isinstance(events[0], c.ResponseReceived)


def test_an_unsolicited_response_is_refused():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    events = session.receive(cpe(c.RebootResponse(), id="x"))
    assert isinstance(events[0], c.ProtocolError)
    assert session.finished


def test_a_new_inform_mid_session_starts_over():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.Download(command_key="fw", file_type="1 Firmware Upgrade Image", url="u"))
    session.reply()
    events = session.receive(inform("1 BOOT", id="again"))
    assert [type(event) for event in events] == [
        c.RequestAbandoned,
        c.SessionEnded,
        c.InformReceived,
    ]
    assert events[1].reason == "replaced by a new Inform"
    assert answer(session)[1].id == "again"
    assert session.state is c.State.CPE_REQUESTS


def test_a_cpe_request_after_the_204_reopens_the_exchange():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(b"")
    assert session.reply()[0] == 204
    events = session.receive(cpe(c.TransferComplete(command_key="k"), id="t"))
    assert isinstance(events[0], c.CpeRequestReceived)
    assert answer(session)[0] == 200
    assert session.receive(b"") == [c.ReadyForRequest()]
    assert session.reply()[0] == 204


def test_out_of_order_calls_are_the_callers_bug():
    session = c.CwmpSession()
    with pytest.raises(c.LocalProtocolError):
        session.reply()
    session.receive(inform())
    with pytest.raises(c.LocalProtocolError):
        session.send(c.Reboot())
    with pytest.raises(c.LocalProtocolError):
        session.receive(b"")
    session.reply()
    session.receive(b"")
    with pytest.raises(c.LocalProtocolError):
        session.respond(c.InformResponse())
    session.send(c.Reboot())
    with pytest.raises(c.LocalProtocolError):
        session.send(c.Reboot())


def test_a_request_xml_cannot_carry_changes_nothing():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(b"")
    with pytest.raises(ValueError):
        session.send(c.Reboot(command_key="\x00"))
    assert session.outstanding is None
    session.send(c.Reboot(command_key="ok"))
    assert answer(session)[1].body == c.Reboot(command_key="ok")


def test_abort_reports_the_outstanding_request():
    session = c.CwmpSession()
    session.receive(inform())
    session.reply()
    session.receive(b"")
    session.send(c.Reboot())
    session.reply()
    events = session.abort("connection closed")
    assert [type(event) for event in events] == [c.RequestAbandoned, c.SessionEnded]
    assert session.abort() == []


BODIES = [
    inform(),
    b"",
    b"garbage",
    cpe(c.TransferComplete(command_key="k"), id="t"),
    cpe(c.GetRPCMethods(), id="g"),
    cpe(c.RebootResponse(), id="x"),
    cpe(c.Fault(code=9002), id="y"),
    c.build(c.Envelope(body=None)),
]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(BODIES), st.booleans()), max_size=12))
def test_any_sequence_of_posts_gets_an_answer(steps):
    session = c.CwmpSession()
    for body, send in steps:
        events = session.receive(body, now=0.0)
        if send and events and isinstance(events[-1], c.ReadyForRequest):
            session.send(c.Reboot(command_key="k"))
        status, _, _ = session.reply()
        assert status in (200, 204, 400, 500)


def test_an_envelope_parsed_by_the_endpoint_is_received_as_the_body_would_be():
    """The endpoint parses each POST before it knows the session (an Inform opens one):
    it hands the envelope on, with the same events and replies as the raw body."""
    by_body, by_envelope = c.CwmpSession(id_prefix="x-"), c.CwmpSession(id_prefix="x-")
    request = c.GetParameterNames(parameter_path="Device.", next_level=False)
    response = c.GetParameterNamesResponse(parameters=[])
    for body, send in ((inform(id="i"), False), (b"", True), (cpe(response, id="x-1"), False)):
        events = by_body.receive(body, now=1.0)
        parsed = None if c.is_empty(body) else c.parse(body)
        assert by_envelope.receive_envelope(parsed, now=1.0) == events
        if send:
            assert by_body.send(request) == by_envelope.send(request) == "x-1"
        assert by_body.reply() == by_envelope.reply()
    assert isinstance(events[0], c.ResponseReceived) and events[0].response == response
    assert by_body.finished and by_envelope.finished  # nothing sent after it: 204
    with pytest.raises(c.LocalProtocolError):
        by_envelope.receive_envelope(None)
        by_envelope.receive_envelope(None)

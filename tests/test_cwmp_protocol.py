"""CWMP envelopes: every RPC both ways, CPEs' own spellings, hostile XML, faults.

The CPE-side envelopes below are written the way real stacks write them (facts from the
checklist and public CPE sources): easycwmp's ``soap_env``/``soap_enc`` prefixes, empty
``<CurrentTime/>``, ``<RetryCount/>`` and a self-closing ``cwmp:ID``; a router's
``SOAP-ENV`` prefixes in ``cwmp-1-0``; a default-namespace body whose children are
qualified; values without ``xsi:type``; CDATA; and ``cwmp-1-3``/``cwmp-1-4``, which the
standard never defined but some CPEs send.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugtone.protocols import cwmp as c

UTC = dt.UTC
T1 = dt.datetime(2026, 12, 1, 17, 0, 5, tzinfo=UTC)
T2 = dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

SAMPLES: list[c.Rpc | c.Fault] = [
    c.Inform(
        device_id=c.DeviceId("Aastra", "00085D", "6757i", "00085D0A0B0C"),
        events=[c.EventStruct("1 BOOT"), c.EventStruct("M Reboot", "task-17")],
        max_envelopes=1,
        current_time=T1,
        retry_count=2,
        parameters=[
            c.ParameterValue("Device.DeviceInfo.SoftwareVersion", "3.3.1.4305", "string"),
            c.ParameterValue("Device.ManagementServer.PeriodicInformEnable", True, "boolean"),
            c.ParameterValue("Device.ManagementServer.PeriodicInformInterval", 3600, "unsignedInt"),
            c.ParameterValue("Device.X_Test.Offset", -5, "int"),
            c.ParameterValue("Device.X_Test.When", T2, "dateTime"),
            c.ParameterValue("Device.X_Test.Blob", b"\x00\xffkey", "base64"),
        ],
    ),
    c.InformResponse(max_envelopes=1),
    c.GetRPCMethods(),
    c.GetRPCMethodsResponse(methods=["Inform", "TransferComplete", "GetRPCMethods"]),
    c.GetParameterNames(parameter_path="Device.Services.VoiceService.1.", next_level=True),
    c.GetParameterNamesResponse(
        parameters=[
            c.ParameterInfo("Device.Services.VoiceService.1.VoiceProfile.", False),
            c.ParameterInfo("Device.LAN.DNSServers", True),
        ]
    ),
    c.GetParameterValues(names=["Device.DeviceInfo.", "Device.LAN.MACAddress"]),
    c.GetParameterValuesResponse(
        parameters=[c.ParameterValue("Device.LAN.MACAddress", "00:08:5d:0a:0b:0c", "string")]
    ),
    c.SetParameterValues(
        parameters=[
            c.ParameterValue(
                "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.SIP.AuthPassword",
                "p<a>ss&\"word'",
                "string",
            ),
            c.ParameterValue("Device.ManagementServer.PeriodicInformInterval", 600),
        ],
        parameter_key="gen-42",
    ),
    c.SetParameterValuesResponse(status=1),
    c.GetParameterAttributes(names=["Device.ManagementServer.UDPConnectionRequestAddress"]),
    c.GetParameterAttributesResponse(
        parameters=[
            c.ParameterAttribute(
                "Device.ManagementServer.UDPConnectionRequestAddress", 2, ["Subscriber"]
            )
        ]
    ),
    c.SetParameterAttributes(
        parameters=[
            c.SetParameterAttribute(
                "Device.ManagementServer.UDPConnectionRequestAddress", True, 2, False, []
            )
        ]
    ),
    c.SetParameterAttributesResponse(),
    c.AddObject(object_name="Device.Services.VoiceService.1.VoiceProfile.", parameter_key="k1"),
    c.AddObjectResponse(instance_number=3, status=0),
    c.DeleteObject(
        object_name="Device.Services.VoiceService.1.VoiceProfile.3.", parameter_key="k2"
    ),
    c.DeleteObjectResponse(status=1),
    c.Reboot(command_key="reboot-9"),
    c.RebootResponse(),
    c.FactoryReset(),
    c.FactoryResetResponse(),
    c.Download(
        command_key="fw-3",
        file_type="1 Firmware Upgrade Image",
        url="http://acs.example:8080/cwmp/files/one-time-token?x=1&y=2",
        username="cpe",
        password="s3&cret",
        file_size=1234567,
        target_file_name="6757i.st",
        delay_seconds=5,
        success_url="",
        failure_url="",
    ),
    c.DownloadResponse(status=1, start_time=c.UNKNOWN_TIME, complete_time=c.UNKNOWN_TIME),
    c.Upload(
        command_key="backup-1",
        file_type="1 Vendor Configuration File",
        url="http://acs.example/cwmp/upload/abc",
        username="u",
        password="p",
        delay_seconds=0,
    ),
    c.UploadResponse(status=0, start_time=T1, complete_time=T1),
    c.ScheduleInform(delay_seconds=30, command_key="sched"),
    c.ScheduleInformResponse(),
    c.TransferComplete(
        command_key="fw-3",
        fault=c.FaultStruct(9010, "download failed: 404"),
        start_time=T1,
        complete_time=T2,
    ),
    c.TransferCompleteResponse(),
    c.AutonomousTransferComplete(
        announce_url="http://a",
        transfer_url="http://b/f.cfg",
        is_download=True,
        file_type="3 Vendor Configuration File",
        file_size=10,
        target_file_name="f.cfg",
        fault=c.FaultStruct(0, ""),
        start_time=T1,
        complete_time=T1,
    ),
    c.AutonomousTransferCompleteResponse(),
    c.ScheduleDownload(
        command_key="fw-night",
        file_type="1 Firmware Upgrade Image",
        url="http://acs/fw",
        file_size=99,
        time_windows=[
            c.TimeWindow(0, 3600, "1 At Any Time", "", -1),
            c.TimeWindow(7200, 10800, "2 Immediately", "upgrading", 3),
        ],
    ),
    c.ScheduleDownloadResponse(),
    c.CancelTransfer(command_key="fw-night"),
    c.CancelTransferResponse(),
    c.GetQueuedTransfers(),
    c.GetQueuedTransfersResponse(transfers=[c.QueuedTransfer("fw-night", 1)]),
    c.GetAllQueuedTransfers(),
    c.GetAllQueuedTransfersResponse(
        transfers=[c.AllQueuedTransfer("fw-night", 2, True, "1 Firmware Upgrade Image", 99, "")]
    ),
    c.Fault(
        code=9003,
        string="Invalid arguments",
        parameter_faults=[
            c.SetParameterValuesFault("Device.X.Y", 9005, "no such parameter"),
            c.SetParameterValuesFault("Device.X.Z", 9007, "out of range"),
        ],
        soap_faultcode="Client",
    ),
]


@pytest.mark.parametrize("namespace", c.CWMP_NAMESPACES)
@pytest.mark.parametrize("message", SAMPLES, ids=lambda message: type(message).__name__)
def test_every_rpc_round_trips(message, namespace):
    envelope = c.Envelope(body=message, id="ID-<1>&'\"", namespace=namespace)
    parsed = c.parse(c.build(envelope))
    assert parsed.body == message
    assert parsed.id == "ID-<1>&'\""
    assert parsed.namespace == namespace


def test_every_modelled_rpc_has_a_sample():
    sampled = {type(message) for message in SAMPLES}
    modelled = set(c.REQUEST_RESPONSES) | set(c.REQUEST_RESPONSES.values())
    assert modelled <= sampled
    assert c.Fault in sampled


def test_headers_round_trip_with_must_understand():
    envelope = c.Envelope(
        body=c.InformResponse(),
        id="42",
        namespace="urn:dslforum-org:cwmp-1-2",
        hold_requests=True,
        session_timeout=60,
        supported_cwmp_versions="1.0,1.1,1.2,1.3,1.4",
        use_cwmp_version="1.4",
        no_more_requests=False,
    )
    text = c.build(envelope).decode()
    assert '<cwmp:ID soapenv:mustUnderstand="1">42</cwmp:ID>' in text
    assert '<cwmp:HoldRequests soapenv:mustUnderstand="1">1</cwmp:HoldRequests>' in text
    assert '<cwmp:UseCWMPVersion soapenv:mustUnderstand="1">1.4</cwmp:UseCWMPVersion>' in text
    assert '<cwmp:SessionTimeout soapenv:mustUnderstand="0">60</cwmp:SessionTimeout>' in text
    assert c.parse(text.encode()) == envelope


def test_arrays_carry_soap_enc_array_type_and_values_their_xsi_type():
    text = c.build(c.Envelope(body=SAMPLES[0])).decode()
    assert '<Event soapenc:arrayType="cwmp:EventStruct[2]">' in text
    assert 'soapenc:arrayType="cwmp:ParameterValueStruct[6]"' in text
    assert '<Value xsi:type="xsd:boolean">1</Value>' in text
    assert '<Value xsi:type="xsd:unsignedInt">3600</Value>' in text
    assert '<Value xsi:type="xsd:int">-5</Value>' in text
    assert '<Value xsi:type="xsd:dateTime">2026-12-01T18:30:00+02:00</Value>' in text
    assert '<Value xsi:type="xsd:base64">AP9rZXk=</Value>' in text
    assert "<CurrentTime>2026-12-01T17:00:05Z</CurrentTime>" in text
    get = c.build(c.Envelope(body=c.GetParameterValues(names=["A.", "B"]))).decode()
    assert '<ParameterNames soapenc:arrayType="xsd:string[2]"><string>A.</string>' in get


def test_values_get_a_type_inferred_when_none_is_given():
    assert c.ParameterValue("a", True).type == "boolean"
    assert c.ParameterValue("a", 7).type == "unsignedInt"
    assert c.ParameterValue("a", -7).type == "int"
    assert c.ParameterValue("a", T1).type == "dateTime"
    assert c.ParameterValue("a", b"x").type == "base64"
    assert c.ParameterValue("a", "x").type == "string"


# --------------------------------------------------------------------------------------
# Envelopes as CPEs write them
# --------------------------------------------------------------------------------------

EASYCWMP_STYLE_INFORM = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<soap_env:Envelope xmlns:soap_env="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:soap_enc="http://schemas.xmlsoap.org/soap/encoding/"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:cwmp="urn:dslforum-org:cwmp-1-2">
 <soap_env:Header><cwmp:ID soap_env:mustUnderstand="1"/></soap_env:Header>
 <soap_env:Body>
  <cwmp:Inform>
   <DeviceId><Manufacturer>Aastra</Manufacturer><OUI>00085D</OUI>
    <ProductClass>6757i</ProductClass><SerialNumber>00085D0A0B0C</SerialNumber></DeviceId>
   <Event soap_enc:arrayType="cwmp:EventStruct[1]">
    <EventStruct><EventCode>0 BOOTSTRAP</EventCode><CommandKey/></EventStruct>
   </Event>
   <MaxEnvelopes>1</MaxEnvelopes>
   <CurrentTime/>
   <RetryCount/>
   <ParameterList soap_enc:arrayType="cwmp:ParameterValueStruct[2]">
    <ParameterValueStruct><Name>Device.ManagementServer.ConnectionRequestURL</Name>
     <Value xsi:type="xsd:string">http://192.0.2.7:7547/</Value></ParameterValueStruct>
    <ParameterValueStruct><Name>Device.ManagementServer.ParameterKey</Name>
     <Value xsi:type="xsd:string"/></ParameterValueStruct>
   </ParameterList>
  </cwmp:Inform>
 </soap_env:Body>
</soap_env:Envelope>
"""

ROUTER_STYLE_INFORM = b"""<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:cwmp="urn:dslforum-org:cwmp-1-0">
<SOAP-ENV:Header>
<cwmp:ID SOAP-ENV:mustUnderstand="1">1804289383</cwmp:ID>
</SOAP-ENV:Header>
<SOAP-ENV:Body>
<cwmp:Inform>
<DeviceId><Manufacturer>Example</Manufacturer><OUI>00E0FC</OUI><ProductClass>HG</ProductClass>
<SerialNumber>SN123</SerialNumber></DeviceId>
<Event SOAP-ENC:arrayType="cwmp:EventStruct[2]">
<EventStruct><EventCode>4 VALUE CHANGE</EventCode><CommandKey></CommandKey></EventStruct>
<EventStruct><EventCode>6 CONNECTION REQUEST</EventCode><CommandKey></CommandKey></EventStruct>
</Event>
<MaxEnvelopes>1</MaxEnvelopes>
<CurrentTime>2014-05-01T10:00:00.000+01:00</CurrentTime>
<RetryCount>0</RetryCount>
<ParameterList SOAP-ENC:arrayType="cwmp:ParameterValueStruct[3]">
<ParameterValueStruct><Name>InternetGatewayDevice.DeviceInfo.HardwareVersion</Name>
<Value>V1</Value></ParameterValueStruct>
<ParameterValueStruct><Name>InternetGatewayDevice.ManagementServer.UDPConnectionRequestAddress</Name>
<Value xsi:type="xsd:string"><![CDATA[198.51.100.4:5060]]></Value></ParameterValueStruct>
<ParameterValueStruct><Name>InternetGatewayDevice.X.Enable</Name>
<Value xsi:type="xsd:boolean">TRUE</Value></ParameterValueStruct>
</ParameterList>
</cwmp:Inform>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""

DEFAULT_NAMESPACE_RESPONSE = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">
 <Header><ID xmlns="urn:dslforum-org:cwmp-1-4" mustUnderstand="1">x&amp;1</ID></Header>
 <Body>
  <GetParameterValuesResponse xmlns="urn:dslforum-org:cwmp-1-4">
   <ParameterList>
    <ParameterValueStruct><Name>Device.DeviceInfo.Description</Name><Value>t\xe9l\xe9phone</Value></ParameterValueStruct>
    <ParameterValueStruct><Name>Device.X.Count</Name><Value xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:type="xs:unsignedInt"> 12 </Value></ParameterValueStruct>
   </ParameterList>
  </GetParameterValuesResponse>
 </Body>
</Envelope>"""


def test_easycwmp_style_inform_with_empty_optional_fields():
    envelope = c.parse(EASYCWMP_STYLE_INFORM)
    inform = envelope.body
    assert isinstance(inform, c.Inform)
    assert envelope.namespace == "urn:dslforum-org:cwmp-1-2"
    assert envelope.id == ""
    assert inform.device_id == c.DeviceId("Aastra", "00085D", "6757i", "00085D0A0B0C")
    assert inform.event_codes == ["0 BOOTSTRAP"]
    assert inform.current_time == c.UNKNOWN_TIME
    assert inform.retry_count == 0
    assert inform.parameter("Device.ManagementServer.ConnectionRequestURL") == (
        "http://192.0.2.7:7547/"
    )
    assert inform.parameter("Device.ManagementServer.ParameterKey") == ""


def test_router_style_inform_soap_env_prefix_cdata_and_missing_xsi_type():
    envelope = c.parse(ROUTER_STYLE_INFORM)
    inform = envelope.body
    assert envelope.namespace == "urn:dslforum-org:cwmp-1-0"
    assert envelope.id == "1804289383"
    assert inform.event_codes == ["4 VALUE CHANGE", "6 CONNECTION REQUEST"]
    assert inform.current_time == dt.datetime(
        2014, 5, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    values = {parameter.name: parameter for parameter in inform.parameters}
    hardware = values["InternetGatewayDevice.DeviceInfo.HardwareVersion"]
    assert (hardware.value, hardware.type) == ("V1", "string")
    assert values["InternetGatewayDevice.ManagementServer.UDPConnectionRequestAddress"].value == (
        "198.51.100.4:5060"
    )
    assert values["InternetGatewayDevice.X.Enable"].value is True


def test_default_namespace_qualified_children_other_prefixes_and_latin1():
    envelope = c.parse(DEFAULT_NAMESPACE_RESPONSE)
    assert envelope.namespace == "urn:dslforum-org:cwmp-1-4"
    assert envelope.id == "x&1"
    assert envelope.body.as_dict() == {
        "Device.DeviceInfo.Description": "téléphone",
        "Device.X.Count": 12,
    }


def test_answers_are_built_in_the_cpes_namespace():
    for namespace in c.CWMP_NAMESPACES:
        inform = EASYCWMP_STYLE_INFORM.replace(b"cwmp-1-2", namespace.encode()[-8:])
        parsed = c.parse(inform)
        assert parsed.namespace == namespace
        answer = c.build(c.Envelope(c.InformResponse(), id=parsed.id, namespace=parsed.namespace))
        assert f'xmlns:cwmp="{namespace}"'.encode() in answer


def test_cpe_fault_with_set_parameter_values_faults():
    body = b"""<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Header><cwmp:ID soap:mustUnderstand="1">7</cwmp:ID></soap:Header>
      <soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>CWMP fault</faultstring>
      <detail><cwmp:Fault><FaultCode>9003</FaultCode><FaultString>Invalid arguments</FaultString>
      <SetParameterValuesFault><ParameterName>Device.LAN.Bogus</ParameterName><FaultCode>9005</FaultCode><FaultString/></SetParameterValuesFault>
      <SetParameterValuesFault><ParameterName>Device.LAN.DNSServers</ParameterName><FaultCode>9007</FaultCode><FaultString>bad address</FaultString></SetParameterValuesFault>
      </cwmp:Fault></detail></soap:Fault></soap:Body></soap:Envelope>"""
    envelope = c.parse(body)
    fault = envelope.body
    assert isinstance(fault, c.Fault)
    assert envelope.method == "Fault"
    assert envelope.namespace == "urn:dslforum-org:cwmp-1-0"
    assert fault.code == c.FaultCode.CPE_INVALID_ARGUMENTS
    assert [item.parameter_name for item in fault.parameter_faults] == [
        "Device.LAN.Bogus",
        "Device.LAN.DNSServers",
    ]
    assert fault.message == (
        "9003 invalid arguments (the CPE refused the request's arguments) "
        "(CPE says: Invalid arguments); Device.LAN.Bogus: 9005 invalid parameter name "
        "(the CPE has no such parameter or object); Device.LAN.DNSServers: 9007 invalid "
        "parameter value (out of range, or not one the CPE accepts) (bad address)"
    )


def test_fault_codes_have_messages_and_soap_faultcodes():
    for code in c.FaultCode:
        assert c.fault_message(code)
        assert not c.fault_message(code).startswith("unknown fault code")
    assert c.fault_message(9850) == "vendor-specific CPE fault 9850"
    assert c.fault_message(8850) == "vendor-specific ACS fault 8850"
    assert c.soap_faultcode(8003) == "Client"
    assert c.soap_faultcode(8005) == "Server"
    fault = c.build(c.fault_envelope(8005, namespace="urn:dslforum-org:cwmp-1-2", id="9"))
    assert b"<faultcode>Server</faultcode>" in fault
    assert b"<FaultCode>8005</FaultCode>" in fault
    assert b"retry request" in fault


def test_unknown_methods_are_kept_by_name():
    body = c.build(c.Envelope(body=c.UnknownRpc(name="ChangeDUState")))
    envelope = c.parse(body)
    assert envelope.body == c.UnknownRpc(name="ChangeDUState")
    assert envelope.method == "ChangeDUState"


def test_empty_body_envelope_is_no_message():
    envelope = c.parse(
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>'
    )
    assert envelope.body is None
    assert envelope.method == ""


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol3;</s:Body></s:Envelope>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE e [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/cwmp.dtd">
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"""
PLAIN_DOCTYPE = b"""<?xml version="1.0"?><!DOCTYPE s:Envelope>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>"""


# The two attacks of mhils/tr069's honeyclient (xml_attacks.py): an external entity in
# the cwmp:ID an ACS echoes, and a quadratic blowup (one big entity used many times).
XXE_IN_ID = (
    b'<?xml version="1.0"?><!DOCTYPE soap:Envelope [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>'
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
    b'xmlns:cwmp="urn:dslforum-org:cwmp-1-0"><soap:Header>'
    b'<cwmp:ID soap:mustUnderstand="1">&xxe;</cwmp:ID></soap:Header>'
    b"<soap:Body><cwmp:GetRPCMethods/></soap:Body></soap:Envelope>"
)
QUADRATIC_BLOWUP = (
    b'<!DOCTYPE bomb [<!ENTITY a "' + b"B" * 100_000 + b'">]><bomb>' + b"&a;" * 1000 + b"</bomb>"
)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        PARAMETER_ENTITY,
        EXTERNAL_DTD,
        PLAIN_DOCTYPE,
        XXE_IN_ID,
        QUADRATIC_BLOWUP,
    ],
    ids=[
        "entity-expansion",
        "external-entity",
        "parameter-entity",
        "external-dtd",
        "doctype",
        "xxe-in-cwmp-id",
        "quadratic-blowup",
    ],
)
def test_dtds_and_entities_are_refused(body):
    with pytest.raises(c.CwmpError) as refused:
        c.parse(body)
    assert refused.value.code == c.FaultCode.INVALID_ARGUMENTS
    assert refused.value.http_status == 400
    assert "no DTD" in refused.value.message


def test_oversized_body_is_refused_before_parsing():
    body = b"<" * (c.MAX_ENVELOPE_SIZE + 1)
    with pytest.raises(c.CwmpError) as refused:
        c.parse(body)
    assert (refused.value.code, refused.value.http_status) == (8004, 413)
    with pytest.raises(c.CwmpError):
        c.parse(EASYCWMP_STYLE_INFORM, max_size=100)


def test_a_body_of_countless_tiny_elements_is_refused_unread():
    body = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    body += b"<a/>" * 400_000 + b"</s:Body></s:Envelope>"
    assert len(body) < c.MAX_ENVELOPE_SIZE
    with pytest.raises(c.CwmpError) as refused:
        c.parse(body)
    assert (refused.value.code, refused.value.http_status) == (8004, 413)


def test_a_large_real_tree_fits_under_the_caps():
    names = [
        c.ParameterInfo(
            f"Device.Services.VoiceService.1.VoiceProfile.{i}.Line.1.SIP.AuthUserName", True
        )
        for i in range(20_000)
    ]
    body = c.build(c.Envelope(body=c.GetParameterNamesResponse(parameters=names)))
    assert 2_000_000 < len(body) < c.MAX_ENVELOPE_SIZE
    assert len(c.parse(body).body.parameters) == 20_000


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty body"),
        (b"hello", "not well-formed"),
        (b"<Envelope><Body>", "not well-formed"),
        (b"<x:Envelope><x:Body/></x:Envelope>", "not well-formed"),  # unbound prefix
        (b"<root/>", "not a SOAP Envelope"),
        (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>', "without a Body"),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b"<a/><b/></s:Body></s:Envelope>",
            "holds 2 messages",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:c="urn:dslforum-org:cwmp-1-0"><s:Body><c:InformResponse>'
            b"<MaxEnvelopes>one</MaxEnvelopes></c:InformResponse></s:Body></s:Envelope>",
            "InformResponse.MaxEnvelopes: 'one' is not an integer",
        ),
        (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            b'xmlns:c="urn:dslforum-org:cwmp-1-0"><s:Header><c:ID>1</c:ID>'
            b'<c:Unknown s:mustUnderstand="1">x</c:Unknown></s:Header><s:Body/></s:Envelope>',
            "must be understood",
        ),
        ("<Envelope>\udcff</Envelope>".encode("utf-8", "surrogatepass"), "not well-formed"),
    ],
)
def test_malformed_envelopes_raise_cwmp_error_8003(body, words):
    with pytest.raises(c.CwmpError) as refused:
        c.parse(body)
    assert refused.value.code == 8003
    assert words in refused.value.message


def test_unknown_cwmp_version_is_fault_8006():
    body = EASYCWMP_STYLE_INFORM.replace(b"cwmp-1-2", b"cwmp-2-0")
    with pytest.raises(c.CwmpError) as refused:
        c.parse(body)
    assert refused.value.code == c.FaultCode.ACS_VERSION_INCOMPATIBLE


def test_text_xml_cannot_carry_is_refused_when_building():
    with pytest.raises(ValueError, match="U\\+0001"):
        c.build(c.Envelope(body=c.Reboot(command_key="a\x01b")))


def test_schema_lengths_are_checked_when_building():
    with pytest.raises(
        ValueError, match=r"Reboot\.CommandKey is 33 characters; the CWMP schema allows 32"
    ):
        c.build(c.Envelope(body=c.Reboot(command_key="k" * 33)))
    with pytest.raises(ValueError, match="ParameterKey"):
        c.build(c.Envelope(body=c.SetParameterValues(parameter_key="g" * 33)))
    with pytest.raises(ValueError, match="URL"):
        c.build(c.Envelope(body=c.Download(url="http://x/" + "a" * 250)))
    c.build(c.Envelope(body=c.Reboot(command_key="k" * 32)))


def test_carriage_returns_and_markup_survive():
    value = "line1\r\nline2 <b>&amp;</b> ]]>"
    message = c.SetParameterValues(parameters=[c.ParameterValue("A.B", value)])
    assert c.parse(c.build(c.Envelope(body=message))).body.parameters[0].value == value


# --------------------------------------------------------------------------------------
# Content-Encoding
# --------------------------------------------------------------------------------------


def test_gzip_and_deflate_bodies_are_decoded():
    assert c.decode_body(gzip.compress(ROUTER_STYLE_INFORM), "gzip") == ROUTER_STYLE_INFORM
    assert c.decode_body(zlib.compress(ROUTER_STYLE_INFORM), "deflate") == ROUTER_STYLE_INFORM
    raw = zlib.compressobj(wbits=-15)
    raw_deflate = raw.compress(ROUTER_STYLE_INFORM) + raw.flush()
    assert c.decode_body(raw_deflate, "Deflate") == ROUTER_STYLE_INFORM
    assert c.decode_body(ROUTER_STYLE_INFORM, None) == ROUTER_STYLE_INFORM


def test_compressed_bombs_and_unknown_encodings_are_refused():
    bomb = gzip.compress(b" " * (8 * 1024 * 1024))
    assert len(bomb) < 64 * 1024
    with pytest.raises(c.CwmpError) as refused:
        c.decode_body(bomb, "gzip", max_size=1024 * 1024)
    assert refused.value.http_status == 413
    with pytest.raises(c.CwmpError) as refused:
        c.decode_body(b"xx", "br")
    assert refused.value.http_status == 415
    with pytest.raises(c.CwmpError) as refused:
        c.decode_body(b"not gzip", "gzip")
    assert refused.value.http_status == 400


# --------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------

xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",), blacklist_characters="\x00\ufffe\uffff", max_codepoint=0x2FFFF
    ).filter(lambda ch: ch in "\t\n\r" or ord(ch) >= 0x20),
    max_size=40,
)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9_.]{0,30}", fullmatch=True)
values = st.one_of(
    st.tuples(xml_text, st.just("string")),
    st.tuples(st.integers(0, 2**32 - 1), st.just("unsignedInt")),
    st.tuples(st.integers(-(2**31), 2**31 - 1), st.just("int")),
    st.tuples(st.booleans(), st.just("boolean")),
    st.tuples(
        st.datetimes(timezones=st.just(UTC), min_value=dt.datetime(1, 1, 1, 0, 0, 1)),
        st.just("dateTime"),
    ),
    st.tuples(st.binary(max_size=40), st.just("base64")),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(names, values), max_size=8),
    xml_text.map(lambda text: text.strip()[:32].strip()),
    xml_text,
    st.sampled_from(c.CWMP_NAMESPACES),
)
def test_any_set_parameter_values_round_trips(params, key, request_id, namespace):
    message = c.SetParameterValues(
        parameters=[c.ParameterValue(name, value, xsd_type) for name, (value, xsd_type) in params],
        parameter_key=key,
    )
    envelope = c.Envelope(body=message, id=request_id, namespace=namespace)
    assert c.parse(c.build(envelope)) == envelope


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_cwmp_error(data):
    try:
        envelope = c.parse(data)
    except c.CwmpError as error:
        assert error.code in (8003, 8004, 8006)
    else:
        assert isinstance(envelope, c.Envelope)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([EASYCWMP_STYLE_INFORM, ROUTER_STYLE_INFORM, DEFAULT_NAMESPACE_RESPONSE]),
    st.lists(st.tuples(st.integers(0, 5000), st.binary(min_size=0, max_size=3)), max_size=4),
)
def test_mutated_real_envelopes_parse_or_raise_cwmp_error(base, edits):
    data = bytearray(base)
    for position, replacement in edits:
        position %= len(data)
        data[position : position + 1] = replacement
    try:
        envelope = c.parse(bytes(data))
    except c.CwmpError:
        return
    c.build(envelope)  # what was read can be written back

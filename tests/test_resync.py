"""Pushed resync: the SIP NOTIFY client transaction (RFC 3261 17.1.2) on a simulated
clock, then real NOTIFYs to real ``sipp`` playing the phone (answering 200, or 481),
a silent phone whose arrival times show timers E and F, the CLI and the API once.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugtone.inventory.store import Store, migrate
from plugtone.protocols.sip_notify import (
    NotifyRequest,
    NotifyTransaction,
    State,
    Timers,
    parse_response,
)
from plugtone.provisioning.events import Event, EventRecorder
from plugtone.services.actors import Actor, Role, local_admin
from plugtone.services.devices import list_events
from plugtone.services.errors import Denied, Invalid, NotFound
from plugtone.services.resync import resync, select_targets
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, free_port, need, run_cli
from tests.test_api import start_api

AASTRA = "00085D000001"  # the example's 6757i, extension 3003 on line 1
POLYCOM = "0004F2000607"  # the example's IP 650, extension 201
FAST = Timers(t1=0.05, t2=0.4)  # F = 3.2 s


def request(**overrides) -> NotifyRequest:
    fields = dict(user="3003", host="192.0.2.10", port=5060, local_host="192.0.2.1",
                  local_port=40000, event="check-sync")  # fmt: skip
    fields.update(overrides)
    return NotifyRequest(**fields)


def answer(tx: NotifyTransaction, code: int, reason: str = "OK", *, branch: str | None = None,
           cseq: str = "1 NOTIFY", compact: bool = False) -> bytes:  # fmt: skip
    via = "v" if compact else "Via"
    return (
        f"SIP/2.0 {code} {reason}\r\n"
        f"{via}: SIP/2.0/UDP 192.0.2.1:40000;branch={branch or tx.branch};rport=40000\r\n"
        f"From: <sip:plugtone@192.0.2.1:40000>;tag={tx.tag}\r\n"
        f"To: <sip:3003@192.0.2.10:5060>;tag=phone1\r\n"
        f"Call-ID: {tx.call_id}@192.0.2.1\r\n"
        f"CSeq: {cseq}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def drive(tx: NotifyTransaction, until: float, step: float = 0.001) -> list[float]:
    """Run the transaction's timers on a simulated clock; returns each send's time."""
    sent = [0.0] if tx.start(0.0) else []
    now = 0.0
    while not tx.done and now < until:
        due = tx.next_timer()
        if due is None:
            break
        now = due
        if tx.on_timer(now):
            sent.append(now)
    return sent


# -- the transaction, sans I/O -------------------------------------------------------


def test_the_request_is_well_formed():
    tx = NotifyTransaction(request(headers=(("X-Extra", "1"),)))
    text = tx.start(0.0)[0].decode()
    assert text.endswith("\r\n\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == "NOTIFY sip:3003@192.0.2.10:5060 SIP/2.0"
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    assert headers["Via"] == f"SIP/2.0/UDP 192.0.2.1:40000;branch={tx.branch};rport"
    assert tx.branch.startswith("z9hG4bK") and len(tx.branch) > 7 + 16
    assert headers["Max-Forwards"] == "70"
    assert headers["From"] == f"<sip:plugtone@192.0.2.1:40000>;tag={tx.tag}" and tx.tag
    assert headers["To"] == "<sip:3003@192.0.2.10:5060>"  # no tag: out of dialog
    assert headers["Call-ID"].startswith(tx.call_id)
    assert headers["CSeq"] == "1 NOTIFY"
    assert headers["Contact"] == "<sip:plugtone@192.0.2.1:40000>"
    assert headers["Event"] == "check-sync"
    assert headers["Subscription-State"] == "active"
    assert headers["X-Extra"] == "1"
    assert headers["Content-Length"] == "0"
    other = NotifyTransaction(request())
    assert other.branch != tx.branch and other.call_id != tx.call_id and other.tag != tx.tag


def test_values_that_would_break_the_request_are_refused():
    for bad in ({"user": "3003\r\nEvent: x"}, {"user": "a b"}, {"event": "check sync"},
                {"headers": (("X", "a\r\nb"),)}):  # fmt: skip
        with pytest.raises(ValueError):
            request(**bad)


def test_rfc_3261_schedule_retransmits_at_t1_doubling_to_t2_until_timer_f():
    tx = NotifyTransaction(request())
    sent = drive(tx, until=60)
    assert sent == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert gaps == [0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4]
    assert tx.state is State.TIMED_OUT and tx.final is None
    assert Timers().f == 32.0
    assert tx.on_timer(100.0) == [] and tx.next_timer() is None


def test_timer_f_fires_at_32_s_even_when_e_is_due_later():
    tx = NotifyTransaction(request())
    tx.start(0.0)
    for moment in (0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5):
        assert tx.on_timer(moment)
    assert tx.next_timer() == 32.0  # E would be 35.5
    assert tx.on_timer(31.99) == [] and not tx.done
    assert tx.on_timer(32.0) == [] and tx.state is State.TIMED_OUT


def test_a_provisional_moves_to_proceeding_retransmitting_at_t2_then_a_final_ends_it():
    tx = NotifyTransaction(request())
    tx.start(0.0)
    assert tx.on_timer(0.5)  # E: next at 1.5
    assert tx.receive(answer(tx, 100, "Trying"), 0.7) == []
    assert tx.state is State.PROCEEDING and tx.provisional[0].code == 100
    assert tx.on_timer(1.5)  # the running E fires, then T2 apart
    assert tx.next_timer() == 5.5
    assert tx.on_timer(5.5) and tx.next_timer() == 9.5
    tx.receive(answer(tx, 180, "Ringing"), 6.0)  # another 1xx: still Proceeding
    assert tx.state is State.PROCEEDING
    tx.receive(answer(tx, 200), 6.1)
    assert tx.state is State.COMPLETED and tx.final.code == 200 and tx.final.reason == "OK"
    assert tx.next_timer() is None and tx.on_timer(9.5) == []
    tx.receive(answer(tx, 500, "Late"), 6.2)  # a later copy changes nothing
    assert tx.final.code == 200
    assert tx.sent_at == [0.0, 0.5, 1.5, 5.5]


def test_a_provisional_after_timer_f_would_be_too_late():
    tx = NotifyTransaction(request())
    drive(tx, until=60)
    tx.receive(answer(tx, 200), 33.0)
    assert tx.state is State.TIMED_OUT and tx.final is None


@pytest.mark.parametrize("code", [481, 489, 404, 503, 603])
def test_every_final_code_ends_it_with_that_code(code):
    tx = NotifyTransaction(request())
    tx.start(0.0)
    tx.receive(answer(tx, code, "Whatever It Says"), 0.1)
    assert tx.done and tx.final.code == code and tx.final.reason == "Whatever It Says"


def test_what_does_not_match_is_ignored():
    tx = NotifyTransaction(request())
    tx.start(0.0)
    ignored = [
        answer(tx, 200, branch="z9hG4bKsomeoneelse"),
        answer(tx, 200, cseq="2 NOTIFY"),
        answer(tx, 200, cseq="1 INVITE"),
        b"",
        b"\xff\xfe\x00garbage",
        b"hello world\r\n\r\n",
        b"SIP/2.0 200\r\n",  # no end of headers
        b"SIP/2.0 2000 OK\r\nVia: x\r\n\r\n",
        f"NOTIFY sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP a;branch={tx.branch}\r\n"
        "CSeq: 1 NOTIFY\r\n\r\n".encode(),  # a request, not a response
        answer(tx, 200).replace(b"CSeq: 1 NOTIFY\r\n", b""),  # no CSeq
        answer(tx, 200).replace(b"Via:", b"Via :\x01"),
        answer(tx, 200) + b"x" * 70_000,
    ]
    for datagram in ignored:
        assert tx.receive(datagram, 0.1) == []
        assert tx.state is State.TRYING, datagram[:60]
    tx.receive(answer(tx, 200, compact=True), 0.2)  # compact "v:" is still a Via
    assert tx.final.code == 200


def test_responses_parse_folded_and_multi_via_headers():
    data = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bKone,\r\n SIP/2.0/UDP b;branch=two\r\n"
        b"CSeq: 1\r\n  NOTIFY\r\n\r\n"
    )
    code, reason, headers = parse_response(data)
    assert (code, reason) == (200, "OK")
    assert [via.strip().split(";")[1] for via in headers["via"]] == ["branch=z9hG4bKone",
                                                                      "branch=two"]  # fmt: skip
    assert headers["cseq"] == ["1 NOTIFY"]


# -- real NOTIFYs ---------------------------------------------------------------------

UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="phone taking a check-sync NOTIFY">
  <recv request="NOTIFY">
    <action>
      <ereg regexp="^ *{event} *$" search_in="hdr" header="Event:" check_it="true"
            assign_to="event"/>
      <log message="event [$event]"/>
    </action>
  </recv>
  <send>
    <![CDATA[
SIP/2.0 {code} {reason}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]phone[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
</scenario>
"""


class Sipp:
    """Real ``sipp`` as a phone (UAS) on 127.0.0.1, answering one NOTIFY."""

    def __init__(self, tmp: Path, code: int = 200, reason: str = "OK",
                 event: str = "check-sync") -> None:  # fmt: skip
        self.tmp = tmp
        self.port = free_port(socket.SOCK_DGRAM)
        scenario = tmp / "uas.xml"
        scenario.write_text(UAS.format(code=code, reason=reason, event=event))
        self.messages = tmp / "messages.log"
        self.log = tmp / "sipp.log"
        self.process = subprocess.Popen(
            [need("sipp"), "-sf", str(scenario), "-p", str(self.port), "-i", "127.0.0.1",
             "-m", "1", "-nostdin", "-timeout", "40s", "-trace_msg", "-message_file",
             str(self.messages), "-trace_logs", "-log_file", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # listening once its port is taken
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", self.port))
                except OSError:
                    return
            time.sleep(0.05)
        raise AssertionError("sipp did not start")

    def finish(self) -> str:
        """Wait for sipp to end; it exits 0 only when its one call (the Event check
        included) succeeded. Returns the messages it logged."""
        _, errors = self.process.communicate(timeout=45)
        assert self.process.returncode == 0, errors.decode()
        return self.messages.read_text()


def seen_at(store: Store, mac: str, address: str = "127.0.0.1") -> None:
    """The phone fetched a file from ``address``, as a transport records it."""
    recorder = EventRecorder(store)
    recorder.record(Event("http", f"{mac}.cfg", "200", client_address=address, mac=mac))
    assert recorder.flush(force=True) == 1


@pytest.fixture
def example_store(sqlite_url, tmp_path):
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    yield store
    store.dispose()


def sip_events(store: Store):
    return list_events(store, local_admin(), transport="sip").items


def test_sipp_as_the_phone_receives_the_notify_and_answers_200(example_store, tmp_path):
    registry = default_registry()
    seen_at(example_store, AASTRA)
    sipp = Sipp(tmp_path)
    targets = select_targets(example_store, local_admin(), macs=["00:08:5d:00:00:01"])
    outcomes = resync(example_store, local_admin(), registry, targets, sip_port=sipp.port)
    messages = sipp.finish()
    assert [(o.mac, o.status, o.reason, o.sent) for o in outcomes] == [(AASTRA, "200", "OK", 1)]
    assert f"NOTIFY sip:3003@127.0.0.1:{sipp.port} SIP/2.0" in messages
    assert "Event: check-sync" in messages and "Subscription-State: active" in messages
    assert sipp.log.read_text().split() == ["event", "check-sync"]  # sipp checked it
    [event] = sip_events(example_store)
    assert (event.mac, event.status, event.transport) == (AASTRA, "200", "sip")
    assert event.client_address == "127.0.0.1" and "OK" in event.detail
    assert local_admin().name in event.detail


def test_a_481_is_recorded_as_such_and_a_phone_never_seen_as_no_address(example_store, tmp_path):
    seen_at(example_store, AASTRA)
    sipp = Sipp(tmp_path, 481, "Subscription Does Not Exist")
    targets = select_targets(example_store, local_admin(), site="hq")
    outcomes = resync(example_store, local_admin(), default_registry(), targets,
                      sip_port=sipp.port)  # fmt: skip
    sipp.finish()
    assert {o.mac: o.status for o in outcomes} == {AASTRA: "481", "00085D000002": "no address"}
    assert {e.mac: e.status for e in sip_events(example_store)} == {
        AASTRA: "481", "00085D000002": "no address"}  # fmt: skip


def test_a_silent_phone_gets_retransmissions_on_schedule_then_a_recorded_timeout(
    example_store,
):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    arrivals: list[tuple[float, bytes]] = []
    stop = threading.Event()

    def listen():
        while not stop.is_set():
            try:
                data, _ = listener.recvfrom(65535)
            except TimeoutError:
                continue
            arrivals.append((time.monotonic(), data))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    seen_at(example_store, POLYCOM)
    targets = select_targets(example_store, local_admin(), macs=[POLYCOM])
    started = time.monotonic()
    [outcome] = resync(example_store, local_admin(), default_registry(), targets,
                       sip_port=listener.getsockname()[1], timers=FAST)  # fmt: skip
    took = time.monotonic() - started
    stop.set()
    thread.join()
    listener.close()
    # the 11th send is due 50 ms before timer F: on a loaded machine the wake-up can come
    # after F, and then the transaction rightly times out without it
    assert outcome.status == "timeout" and outcome.sent in (10, 11)
    assert 3.1 < took < 4.5  # timer F = 64 * T1 = 3.2 s
    assert len(arrivals) == outcome.sent and len({data for _, data in arrivals}) == 1
    assert b"NOTIFY sip:201@127.0.0.1:" in arrivals[0][1]
    # anchored to the first send (E runs from when it was due, not from a late wake-up):
    # 0.05, 0.1, 0.2, then 0.4 s apart; a loaded machine only delays each a little
    offsets = [when - arrivals[0][0] for when, _ in arrivals]
    expected = [0.0, 0.05, 0.15, 0.35, 0.75, 1.15, 1.55, 1.95, 2.35, 2.75, 3.15]
    for offset, wanted in zip(offsets, expected[: len(offsets)], strict=True):
        assert wanted - 0.01 <= offset < wanted + 0.15, (offsets, expected)
    [event] = sip_events(example_store)
    assert (event.mac, event.status, event.vendor) == (POLYCOM, "timeout", "polycom")


def test_targets_are_one_way_known_phones_and_need_the_operator_role(example_store):
    viewer = Actor("val", Role.VIEWER, "api")
    with pytest.raises(Denied):
        select_targets(example_store, viewer, everything=True)
    with pytest.raises(NotFound, match="00:08:5D:00:00:09"):
        select_targets(example_store, local_admin(), macs=["00085d000009"])
    with pytest.raises(NotFound, match="nowhere"):
        select_targets(example_store, local_admin(), site="nowhere")
    with pytest.raises(Invalid, match="one way"):
        select_targets(example_store, local_admin(), macs=[AASTRA], everything=True)
    everything = select_targets(example_store, local_admin(), everything=True)
    assert {t.mac: t.user for t in everything} == {
        AASTRA: "3003", "00085D000002": "3004", POLYCOM: "201", "00115C93AFD1": "208"}  # fmt: skip
    assert not sip_events(example_store)  # selecting sends and records nothing


def test_the_cli_resyncs_a_phone_end_to_end(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    store = Store(f"sqlite:///{data / 'plugtone.db'}", data_dir=data)
    seen_at(store, AASTRA)
    sipp = Sipp(tmp_path)
    result = run_cli("resync", "00:08:5D:00:00:01", "--sip-port", str(sipp.port), data=data)
    sipp.finish()
    assert "00:08:5D:00:00:01" in result.stdout and "200" in result.stdout
    assert "1 of 1 phone(s) answered 2xx" in result.stderr
    events = run_cli("events", "--mac", AASTRA, data=data).stdout
    assert "sip" in events and "200" in events
    refused = run_cli("resync", "--all", "--site", "hq", data=data, check=False)
    assert refused.returncode != 0 and "one way" in refused.stderr + refused.stdout
    store.dispose()


def test_the_api_resyncs_a_site_for_an_operator_and_not_for_a_viewer(tmp_path, monkeypatch):
    api = start_api(tmp_path / "data", monkeypatch)
    try:
        run_cli("apply", str(EXAMPLE), data=api.server.data)
        # the phone fetches its file from 127.0.0.1: that is its last known address
        assert httpx.get(f"{api.server.base}/00085D000001.cfg").status_code == 200
        sipp = Sipp(tmp_path)
        deadline = time.monotonic() + 5
        store = api.server.store()
        while time.monotonic() < deadline:  # events are flushed in the background
            if list_events(store, local_admin(), mac=AASTRA).items:
                break
            time.sleep(0.1)
        operator = api.client(api.token_for("ops", "operator"))
        answer_ = operator.post("/api/resync", json={"site": "hq", "sip_port": sipp.port},
                                timeout=60)  # fmt: skip
        sipp.finish()
        assert answer_.status_code == 200, answer_.text
        body = answer_.json()
        assert {o["mac"]: o["status"] for o in body["outcomes"]} == {
            "00:08:5D:00:00:01": "200", "00:08:5D:00:00:02": "no address"}  # fmt: skip
        assert (body["answered"], body["failed"]) == (1, 1)
        viewer = api.client(api.token_for("val", "viewer"))
        assert viewer.post("/api/resync", json={"all": True}).status_code == 403
        # /metrics counts the outcomes of the resyncs this server sent
        scraped = text_string_to_metric_families(viewer.get("/metrics").text)
        resyncs = {
            sample.labels["outcome"]: sample.value
            for family in scraped if family.name == "plugtone_resync"
            for sample in family.samples if sample.name == "plugtone_resync_total"
        }  # fmt: skip
        assert resyncs == {"200": 1.0, "no address": 1.0}
        store.dispose()
    finally:
        from tests.conftest import stop_server

        stop_server(api.server)

"""The TR-069 ACS end to end: a real ``plugtone serve``, emulated Aastra phones speaking
CWMP over HTTP with Digest (tests/emulators/cpe.py, its own envelope code), the
``plugtone`` command for inventory changes and tasks.

What a user checks: after the first BOOTSTRAP the phone holds the inventory's SIP
accounts under whichever VoiceService root its tree has; an inventory change plus a
connection request reaches it in one session; reboot, factory reset, firmware
download with TransferComplete, backup and restore, and log upload all complete; a
device no site has is seen but unassigned; hostile input gets a fault or a 4xx and the
server goes on serving the others.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from plugtone.acs import service
from plugtone.acs.models import AcsDevice, AcsTask, AcsUpload
from plugtone.firmware.repository import FileStore
from plugtone.inventory.models import DeviceFirmware, DeviceState
from plugtone.services.accounts import create_token
from plugtone.services.actors import local_admin
from plugtone.services.devices import list_unassigned
from plugtone.services.firmware import PinOwner, add_release, set_pin
from tests.conftest import (
    RunningServer,
    apply_text,
    free_port,
    run_cli,
    start_server,
    stop_server,
)
from tests.emulators.cpe import GUIDE_ROOT, SEED_ROOT, Cpe

INVENTORY = """\
sites:
  - name: hq
    sip_server: 10.0.0.5
    registration_period: 600
    dtmf_method: rfc2833
    tr069: {enabled: true, bootstrap_username: acs, bootstrap_password: "s3cret",
            periodic_inform_interval: 3600}
extensions:
  - {number: "3001", site: hq, name: Alice, password: "pw3001"}
  - {number: "3002", site: hq, name: Bob, password: "pw3002"}
  - {number: "3003", site: hq, name: Carol, password: "pw3003"}
  - {number: "3004", site: hq, name: Dave, password: "pw3004"}
  - {number: "3005", site: hq, name: Erin, password: "pw3005"}
  - {number: "3006", site: hq, name: Frank, password: "pw3006"}
  - {number: "3007", site: hq, name: Grace, password: "pw3007"}
  - {number: "3008", site: hq, name: Heidi, password: "pw3008"}
phones:
  - {mac: 00085D000001, model: 6757i, site: hq, lines: ["3001", "3002"]}
  - {mac: 00085D000002, model: 6757i, site: hq, lines: ["3003"]}
  - {mac: 00085D000003, model: 6757i, site: hq, lines: ["3004"]}
  - {mac: 00085D000004, model: 6757i, site: hq, lines: ["3005"]}
  - {mac: 00085D000005, model: 6757i, site: hq, lines: ["3006"]}
  - {mac: 00085D000006, model: 6757i, site: hq}
  - {mac: 00085D000007, model: 6757i, site: hq, lines: ["3007"]}
  - {mac: 00085D000008, model: 6757i, site: hq, lines: ["3008"]}
"""
IMAGE = b"\x7fAASTRA-IMAGE" + bytes(range(256)) * 40


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[RunningServer, Path]]:
    root = tmp_path_factory.mktemp("acs")
    data = root / "data"
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("PLUGTONE_ADMIN_PASSWORD", "Admin-Pass-1234")
    cwmp, stun = free_port(), free_port(socket.SOCK_DGRAM)
    running = start_server(data, admin=True,
                           extra=("--cwmp-port", str(cwmp), "--stun-port", str(stun)))  # fmt: skip
    monkeypatch.undo()
    running.cwmp_port, running.stun_port = cwmp, stun  # type: ignore[attr-defined]
    try:
        apply(running, INVENTORY)
        image = root / "6757i.st"
        image.write_bytes(IMAGE)
        store = running.store()
        try:  # as plugtone firmware add / pin do, in this process
            add_release(store, local_admin(), FileStore(data / "firmware"), vendor="aastra",
                        models=["6757i"], version="3.3.1.5000", sources=[image])  # fmt: skip
            set_pin(store, local_admin(), PinOwner(model="6757i"), "3.3.1.5000")
        finally:
            store.dispose()
        yield running, root
    finally:
        stop_server(running)


def acs_url(running: RunningServer) -> str:
    return f"{running.base}/cwmp"


def device_row(running: RunningServer, mac: str) -> AcsDevice:
    store = running.store()
    try:
        with store.sessions() as session:
            row = session.scalar(select(AcsDevice).where(AcsDevice.mac == mac))
            session.expunge_all()
            return row
    finally:
        store.dispose()


def test_the_api_queues_a_task_and_answers_200_once_done_202_while_queued(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000005", serial="API-DEVICE", connection_port=0)
    try:
        assert cpe.session().status == 204
        store = running.store()
        try:
            token, _ = create_token(store, local_admin(), "admin")
        finally:
            store.dispose()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=running.admin_base, headers=headers, timeout=30,
                          verify=False) as client:  # fmt: skip
            queued = client.post("/api/acs/devices/00:08:5d:00:00:05/tasks",
                                 json={"kind": "reboot"})  # fmt: skip
            assert queued.status_code == 202 and queued.json()["status"] == "queued"
            done = client.post("/api/acs/devices/00085D000005/tasks",
                               json={"kind": "logs", "connect": True, "wait": 15})  # fmt: skip
            assert done.status_code == 200, done.text
            assert done.json()["status"] == "done" and "200" in done.json()["connection_request"]
            device = client.get("/api/acs/devices/00085D000005").json()
            assert [t["status"] for t in device["tasks"]] == ["done", "done"]  # newest first
            assert device["uploads"][-1]["kind"] == "log" and device["product_class"] == "6757i"
            assert cpe.reboots == 1  # the reboot queued first ran first
            bad = client.post("/api/acs/devices/00085D000005/tasks", json={"kind": "set"})
            assert bad.status_code == 422
            assert client.get("/api/acs/devices/00085D0000CC").status_code == 404
            paths = client.get("/api/openapi.json").json()["paths"]
            assert "/api/acs/devices/{mac}/tasks" in paths and "/api/acs/tasks/{task_id}" in paths
    finally:
        cpe.close()


def test_bootstrap_ends_with_the_inventorys_sip_accounts(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000001", version="3.3.1.4001")
    log = cpe.session()
    assert log.status == 204, log
    assert "GetParameterNames" in log.methods and "SetParameterValues" in log.methods
    # the tree is cached per model and firmware: the next such phone is not asked for it
    other = Cpe(acs_url(running), "00085D0000B1", serial="SAME-MODEL", version="3.3.1.4001")
    assert "GetParameterNames" not in other.session().methods
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == "3001"
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthPassword") == "pw3001"
    assert cpe.value("VoiceProfile.1.Line.1.CallingFeatures.CallerIDName") == "Alice"
    assert cpe.value("VoiceProfile.2.Line.1.DirectoryNumber") == "3002"
    assert cpe.value("VoiceProfile.2.SIP.ProxyServer") == "10.0.0.5"
    assert cpe.value("VoiceProfile.2.SIP.RegisterExpires") == "600"
    assert cpe.value("X_Aastra_GlobalVoiceProfile.SIP.ProxyServer") == "10.0.0.5"
    assert cpe.value("X_Aastra_GlobalVoiceProfile.X_Aastra_DTMFMethod") == "1"
    assert cpe.value("VoiceProfile.3.Line.1.SIP.AuthUserName") == ""  # no line 3
    management = "Device.ManagementServer."
    assert cpe.tree[management + "PeriodicInformEnable"].value == "1"
    assert cpe.tree[management + "PeriodicInformInterval"].value == "3600"
    assert cpe.tree[management + "UDPConnectionRequestAddress"].notification == 2
    generation = cpe.tree[management + "ParameterKey"].value
    assert generation.isdigit()
    # the phone now has a login of its own, and the next session sets nothing
    assert cpe.username.startswith("cpe-") and cpe.username != "acs"
    again = cpe.session((("2 PERIODIC", ""),))
    assert again.status == 204 and again.methods == []
    row = device_row(running, "00085D000001")
    assert row.parameter_key == generation and row.product_class == "6757i"
    assert row.password and row.password != "s3cret"


def test_the_root_is_read_from_the_tree_and_a_stale_cookie_is_tolerated(served):
    """The guide's ``Device.VoiceService.`` root, on a firmware whose tree is not cached."""
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000002", root=GUIDE_ROOT, version="3.3.1.9000")
    assert cpe.session().status == 204
    assert cpe.tree[GUIDE_ROOT + "VoiceProfile.1.Line.1.SIP.AuthUserName"].value == "3003"
    # a new session whose Inform carries the previous session's cookie, with attributes
    auth = httpx.DigestAuth(cpe.username, cpe.password)
    with httpx.Client(auth=auth, timeout=10) as client:
        client.cookies.set("plugtone_cwmp", "stale-cookie-of-a-gone-session")
        from tests.emulators.cpe import envelope

        cpe.events = [("2 PERIODIC", "")]
        first = client.post(acs_url(running), content=envelope(cpe.inform_body(), "9"))
        assert first.status_code == 200 and b"InformResponse" in first.content
        assert "Path=/" in first.headers["set-cookie"]
        assert client.post(acs_url(running), content=b"").status_code == 204


def test_a_device_never_seen_is_a_first_contact_whatever_event_it_sends(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000008", serial="PROVISIONED-ELSEWHERE")
    cpe.events = [("1 BOOT", "")]  # provisioned elsewhere before: no BOOTSTRAP
    log = cpe.session()
    assert log.status == 204 and "SetParameterValues" in log.methods
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == "3008"
    assert cpe.username.startswith("cpe-")  # given its own login as at a BOOTSTRAP


def test_the_inform_response_names_the_highest_cwmp_version_in_common(served):
    running, _ = served
    from tests.emulators.cpe import envelope

    cpe = Cpe(acs_url(running), "00085D0000C1", serial="VERSIONS")
    for offered, status, wanted in (("1.0,1.2,1.4", 200, b">1.4</"), ("2.0", 400, b"8006")):
        body = envelope(cpe.inform_body(), "1").replace(
            b"</soap:Header>",
            b'<cwmp:SupportedCWMPVersions soap:mustUnderstand="0">' + offered.encode()
            + b"</cwmp:SupportedCWMPVersions></soap:Header>",
        )  # fmt: skip
        with httpx.Client(auth=httpx.DigestAuth("acs", "s3cret"), timeout=10) as client:
            answer = client.post(acs_url(running), content=body)
            assert answer.status_code == status and wanted in answer.content, answer.text
            if status == 200:
                assert b"UseCWMPVersion" in answer.content
    # a gzip-compressed Inform (checklist 1: gzip/deflate bodies) opens a session too
    other = Cpe(acs_url(running), "00085D0000C2", serial="GZIPPED")
    with httpx.Client(auth=httpx.DigestAuth("acs", "s3cret"), timeout=10) as client:
        answer = client.post(acs_url(running), content=gzip.compress(
            envelope(other.inform_body(), "2")), headers={"Content-Encoding": "gzip"})  # fmt: skip
        assert answer.status_code == 200 and b"InformResponse" in answer.content


def test_a_batched_read_refused_with_9005_is_read_one_name_at_a_time(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000002", serial="PICKY", version="3.3.1.7000")
    cpe.unreadable = {SEED_ROOT + "VoiceProfile.1.Line.1.CallingFeatures.CallerIDName"}
    log = cpe.session()
    assert log.status == 204 and log.methods.count("GetParameterValues") > 3
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == "3003"
    assert cpe.value("VoiceProfile.1.Line.1.CallingFeatures.CallerIDName") == ""  # left out


def test_a_device_no_site_has_is_seen_but_unassigned(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D0000FF", serial="STRANGER1")
    log = cpe.session()
    assert log.status == 204 and "SetParameterValues" not in log.methods
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == ""
    store = running.store()
    try:
        with store.sessions() as session:
            state = session.get(DeviceState, "00085D0000FF")
            assert state is not None and state.model == "6757i"
        listed = list_unassigned(store, local_admin(), limit=500)
        assert "00085D0000FF" in [device.mac for device in listed.items]
    finally:
        store.dispose()


def test_wrong_credentials_are_challenged_and_nothing_is_recorded(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D0000EE", serial="WRONG", password="not-it")
    assert cpe.session().status == 401
    assert device_row(running, "00085D0000EE") is None


def test_an_inventory_change_and_a_connection_request_reach_the_phone_in_one_session(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000007", serial="SN00085D000007",
              connection_port=0)  # fmt: skip
    try:
        assert cpe.session().status == 204  # it registers its connection-request URL
        before = len(cpe.logs)
        apply(running, INVENTORY.replace("name: Grace", "name: Grace Hopper"))
        out = run_cli("acs", "connect", "00085D000007", data=running.data).stdout
        assert "accepted" in out.lower() or "200" in out, out
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
            cpe.value("VoiceProfile.1.Line.1.CallingFeatures.CallerIDName") != "Grace Hopper"
        ):
            time.sleep(0.05)
        assert cpe.value("VoiceProfile.1.Line.1.CallingFeatures.CallerIDName") == "Grace Hopper"
        with cpe.lock:
            sessions = cpe.logs[before:]
        assert len(sessions) == 1 and "SetParameterValues" in sessions[0].methods
    finally:
        cpe.close()
        apply(running, INVENTORY)


def test_a_phone_behind_nat_is_reached_by_a_signed_udp_request_learnt_by_stun(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000006", serial="BEHIND-NAT", connection_port=0)
    try:
        cpe.tree["Device.ManagementServer.ConnectionRequestURL"].value = ""  # only UDP
        assert cpe.session().status == 204
        management = "Device.ManagementServer."
        assert cpe.tree[management + "STUNEnable"].value == "1"
        assert cpe.tree[management + "STUNServerPort"].value == str(running.stun_port)
        assert cpe.tree[management + "STUNUsername"].value == "cr-00085d000006"
        cpe.connection.stun_bind(("127.0.0.1", running.stun_port))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not device_row(running, "00085D000006").udp_address:
            time.sleep(0.05)
        learnt = device_row(running, "00085D000006").udp_address
        assert learnt == f"127.0.0.1:{cpe.connection.udp_port}"
        assert cpe.tree[management + "UDPConnectionRequestAddress"].value == learnt
        before = len(cpe.logs)
        out = connect(running, "00085D000006")
        assert "signed datagrams sent" in out
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(cpe.logs) == before:
            time.sleep(0.05)
        assert len(cpe.logs) == before + 1 and cpe.logs[-1].status == 204
        # behind a port-restricted NAT only the STUN port's datagrams get in: the admin
        # API's request (inside plugtone serve) goes from there
        cpe.connection.nat_peer = ("127.0.0.1", running.stun_port)
        store = running.store()
        try:
            token, _ = create_token(store, local_admin(), "admin")
        finally:
            store.dispose()
        answer = httpx.post(
            f"{running.admin_base}/api/acs/devices/00085D000006/connect",
            headers={"Authorization": f"Bearer {token}"}, timeout=30, verify=False,
        )  # fmt: skip
        assert answer.status_code == 200 and "signed datagrams sent" in answer.json()["message"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(cpe.logs) == before + 1:
            time.sleep(0.05)
        assert len(cpe.logs) == before + 2 and cpe.logs[-1].status == 204
    finally:
        cpe.close()


def connect(running: RunningServer, mac: str) -> str:
    """What ``plugtone acs connect MAC`` prints, through the same service call."""
    store = running.store()
    try:
        return asyncio.run(service.connect(store, local_admin(), mac))
    finally:
        store.dispose()


def task(running: RunningServer, mac: str, kind: str, assignment: str = "") -> str:
    """Queue a task, send the connection request and wait, as ``plugtone acs task MAC
    KIND --connect --wait 15`` does (through the same service calls, in this process)."""
    name, _, value = assignment.partition("=")
    store = running.store()
    try:
        queued = service.queue(store, local_admin(), mac, kind, name=name or None,
                               value=value if assignment else None)  # fmt: skip
        asyncio.run(service.connect(store, local_admin(), mac))
        final = service.wait(store, queued.id, 15)
    finally:
        store.dispose()
    return f"{final.status} {final.message or ''}"


def apply(running: RunningServer, text: str) -> None:
    store = running.store()
    try:
        apply_text(store, text, name="inventory.yaml")
    finally:
        store.dispose()


def test_reboot_set_backup_restore_logs_and_factory_reset_complete(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000004", serial="SN00085D000004", connection_port=0)
    try:
        assert cpe.session().status == 204
        cli = run_cli("acs", "task", "00085D000004", "reboot", "--connect", "--wait", "15",
                      data=running.data)  # fmt: skip
        assert "connection request: http://127.0.0.1" in cli.stdout and ": done" in cli.stdout
        assert cpe.reboots == 1
        name = SEED_ROOT + "X_Aastra_GlobalVoiceProfile.Line.1.CallingFeatures.MWIEnable"
        assert "done" in task(running, "00085D000004", "set", f"{name}=1")
        assert cpe.tree[name].value == "1"
        bad = task(running, "00085D000004", "set", "Device.Nope=1")
        assert bad.startswith("failed") and "9005" in bad, bad
        assert "done" in task(running, "00085D000004", "backup")
        screen = SEED_ROOT + "VoiceProfile.1.Line.1.X_Aastra_ScreenName2"
        saved = cpe.tree[screen].value
        cpe.tree[screen].value = "changed by hand"
        assert "done" in task(running, "00085D000004", "restore")
        assert cpe.tree[screen].value == saved
        assert cpe.downloads[-1][0] == "3 Vendor Configuration File"
        assert "done" in task(running, "00085D000004", "logs")
        store = running.store()
        try:
            with store.sessions() as session:
                kinds = [u.kind for u in session.scalars(select(AcsUpload))]
                assert kinds.count("backup") >= 1 and "log" in kinds
        finally:
            store.dispose()
        assert "done" in task(running, "00085D000004", "factory-reset")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and cpe.factory_resets == 0:
            time.sleep(0.05)
        time.sleep(0.3)
        with cpe.lock:  # the BOOTSTRAP after the reset provisioned it again
            assert cpe.factory_resets == 1
            assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == "3005"
    finally:
        cpe.close()


def test_firmware_download_completes_and_feeds_the_firmware_state(served):
    running, _ = served
    cpe = Cpe(acs_url(running), "00085D000003", connection_port=0)
    try:
        assert cpe.session().status == 204
        out = task(running, "00085D000003", "firmware")
        assert "done" in out
        assert cpe.downloads == [("1 Firmware Upgrade Image", IMAGE)]
        # a repeated TransferComplete is acknowledged and changes nothing
        store = running.store()
        try:
            with store.sessions() as session:
                row = session.scalar(select(AcsTask).where(AcsTask.kind == "firmware"))
                assert row.status == "done"
                running_version = session.get(DeviceFirmware, "00085D000003").running_version
                assert running_version == "3.3.1.4322"
        finally:
            store.dispose()
        from tests.emulators.cpe import Transfer

        cpe.completed.append(Transfer("download", row.command_key, "1", ""))
        assert cpe.session().status == 204
        # the one-time URL is spent
        assert "TransferComplete" in cpe.logs[-1].methods
    finally:
        cpe.close()


# -- hostile input


BOMB = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">'
        b']><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body>&c;</soap:Body></soap:Envelope>")  # fmt: skip
EXTERNAL = (b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            b"<soap:Body>&x;</soap:Body></soap:Envelope>")  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [BOMB, EXTERNAL, b"<not-closed", b"\x00\xff garbage", b"<a/>",
     b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"></soap:Envelope>'],
    ids=["entity-expansion", "external-entity", "unclosed", "binary", "not-soap", "no-body"],
)  # fmt: skip
def test_hostile_bodies_get_a_fault_and_the_server_serves_others(served, body):
    running, _ = served
    answer = httpx.post(acs_url(running), content=body, timeout=10)
    assert 400 <= answer.status_code < 500
    assert b"passwd" not in answer.content and b"root:" not in answer.content
    gzipped = httpx.post(acs_url(running), content=gzip.compress(body),
                         headers={"Content-Encoding": "gzip"}, timeout=10)  # fmt: skip
    assert 400 <= gzipped.status_code < 500
    assert httpx.get(f"{running.base}/aastra.cfg", timeout=10).status_code == 200


def test_a_50_mb_body_is_refused_at_the_cap(served):
    running, _ = served
    sent = threading.Event()

    def chunks():
        for _ in range(50):
            yield b"<" * (1024 * 1024)
        sent.set()

    try:
        answer = httpx.post(acs_url(running), content=chunks(), timeout=30)
        assert answer.status_code == 413
    except httpx.TransportError:
        pass  # the server answered 413 and closed before the client finished sending
    bomb = gzip.compress(b" " * (50 * 1024 * 1024))
    answer = httpx.post(acs_url(running), content=bomb, headers={"Content-Encoding": "gzip"},
                        timeout=30)  # fmt: skip
    assert answer.status_code == 413
    assert Cpe(acs_url(running), "00085D0000AA", serial="AFTER-50MB").session().status == 204


def test_a_session_using_another_devices_cookie_is_refused(served):
    running, _ = served
    from tests.emulators.cpe import envelope

    victim = Cpe(acs_url(running), "00085D0000A1", serial="VICTIM")
    thief = Cpe(acs_url(running), "00085D0000A2", serial="THIEF")
    with httpx.Client(auth=httpx.DigestAuth("acs", "s3cret"), timeout=10) as a, \
         httpx.Client(auth=httpx.DigestAuth("acs", "s3cret"), timeout=10) as b:  # fmt: skip
        assert (
            a.post(acs_url(running), content=envelope(victim.inform_body(), "1")).status_code == 200
        )
        assert (
            b.post(acs_url(running), content=envelope(thief.inform_body(), "1")).status_code == 200
        )
        stolen = a.cookies["plugtone_cwmp"]
        b.cookies.clear()
        b.cookies.set("plugtone_cwmp", stolen)
        refused = b.post(acs_url(running), content=b"")
        assert refused.status_code == 403
        # the victim's own session goes on
        assert a.post(acs_url(running), content=b"").status_code == 200
    # a cookie alone from no session at all
    assert httpx.post(acs_url(running), content=b"", cookies={"plugtone_cwmp": "x"},
                      timeout=10).status_code == 403  # fmt: skip


def test_the_cwmp_port_serves_the_acs_alone(served):
    running, _ = served
    port = running.cwmp_port
    cpe = Cpe(f"http://127.0.0.1:{port}/cwmp", "00085D000008", serial="ON-CWMP-PORT")
    assert cpe.session().status == 204
    assert cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == "3008"
    assert httpx.get(f"http://127.0.0.1:{port}/aastra.cfg").status_code == 404

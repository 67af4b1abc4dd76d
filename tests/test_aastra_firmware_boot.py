"""Aastra firmware from a running ``plugtone serve``: the image once, then never again.

One server for the module (starting one costs seconds): the example inventory, a few
more 6757i phones at site hq (one per scenario, so each starts with no firmware
history), release 4.1.0.100 added with ``plugtone firmware add`` and pinned on the
6757i model with ``plugtone firmware pin``. The emulated phones flash whatever image
they get and reboot (tests/emulators/aastra.py), so a server that offered the image
again would make them loop; ``boot_until_stable`` fails when they do.

Over HTTP a phone says its version in every User-Agent. Over TFTP it says nothing:
it is known by the address that last asked for its ``<MAC>.cfg``, and its version is
unknown, so it is served the image at most once per pin.

The tests run in file order and share the server's state; the pin change, which
moves every 6757i's target, and the restart, which reads that state back from the
store, come last.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from plugtone.inventory.models import DeviceFirmware, ProvisioningEvent
from plugtone.macaddr import colon_mac
from plugtone.vendors.aastra.firmware import MAX_ATTEMPTS
from tests.conftest import (
    RunningServer,
    example_server,
    need,
    run_cli,
    start_server,
    stop_server,
)
from tests.emulators.aastra import AastraPhone, make_image

OLD = "3.2.2.1136"
PINNED = "4.1.0.100"
NEXT = "4.1.1.5"
IMAGE = make_image(PINNED, size=4096)
NEXT_IMAGE = make_image(NEXT, size=5000)

EXAMPLE_6757I = "00085D000001"  # line 3003 at hq
EXAMPLE_6731I = "00085D000002"  # same site, no release for its model
STRANGER = "00085D0000FF"
CURL_HTTP = "00085D000101"
CURL_TFTP = "00085D000102"
TFTP_HPA = "00085D000103"
STUCK = "00085D000104"  # reboots on its old image whatever it is sent
CUT_OFF = "00085D000105"  # its TFTP transfers never finish
MOVED = "00085D000106"  # first boot over HTTP, then over TFTP (as hq's config_server says)

EXTRA_PHONES = "\n".join(
    ["phones:"]
    + [
        f"  - {{mac: {mac}, model: 6757i, site: hq}}"
        for mac in (CURL_HTTP, CURL_TFTP, TFTP_HPA, STUCK, CUT_OFF, MOVED)
    ]
)

Fetch = Callable[[str], tuple[int, bytes]]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("aastra-firmware")
    with example_server(root / "data", tftp=True) as running:
        extra = root / "extra-phones.yaml"
        extra.write_text(EXTRA_PHONES + "\n")
        run_cli("apply", str(extra), data=running.data)
        image = root / "6757i.st"
        image.write_bytes(IMAGE)
        added = run_cli("firmware", "add", "--vendor", "aastra", "--model", "6757i",
                        "--version", PINNED, str(image), data=running.data).stdout  # fmt: skip
        assert f"added aastra {PINNED} for 6757i:" in added
        assert f"6757i.st  application  {len(IMAGE)} bytes" in added
        pinned = run_cli("firmware", "pin", PINNED, "--model", "6757i", data=running.data)
        assert f"firmware -> {PINNED}" in pinned.stdout
        yield running


# -- clients


def curl_http_fetch(base: str, phone: AastraPhone) -> Fetch:
    curl = need("curl")

    def fetch(name: str) -> tuple[int, bytes]:
        result = subprocess.run(
            [curl, "-s", "-A", phone.user_agent, "-w", "\n%{http_code}", f"{base}/{name}"],
            capture_output=True, check=True, timeout=10,
        )  # fmt: skip
        body, _, status = result.stdout.rpartition(b"\n")
        return int(status), body

    return fetch


def curl_tftp_fetch(port: int) -> Fetch:
    curl = need("curl")

    def fetch(name: str) -> tuple[int, bytes]:
        result = subprocess.run(
            [curl, "-sS", "--max-time", "10", f"tftp://127.0.0.1:{port}/{name}"],
            capture_output=True, timeout=20,
        )  # fmt: skip
        if result.returncode == 68:  # curl: TFTP file not found
            return 404, b""
        assert result.returncode == 0, f"curl tftp {name}: {result.stderr.decode()}"
        return 200, result.stdout

    return fetch


def tftp_hpa_fetch(port: int, directory: Path) -> Fetch:
    tftp = need("tftp")

    def fetch(name: str) -> tuple[int, bytes]:
        target = directory / name.replace("/", "_")
        target.unlink(missing_ok=True)
        result = subprocess.run(
            [tftp, "-m", "octet", "127.0.0.1", str(port), "-c", "get", name, str(target)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        said = result.stdout + result.stderr
        if "Error code 1" in said:
            return 404, b""
        assert result.returncode == 0 and not said.strip(), f"tftp get {name}: {said}"
        return 200, target.read_bytes()

    return fetch


def tftp_cut_off(port: int, name: str) -> int | None:
    """Ask for ``name`` in octet mode, take the first block, then abort as a phone losing
    power would. The TFTP error code when refused, else ``None``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.bind(("127.0.0.1", 0))
        sock.sendto(b"\x00\x01" + name.encode() + b"\x00octet\x00", ("127.0.0.1", port))
        data, peer = sock.recvfrom(2048)
        if data[:2] == b"\x00\x05":
            return int.from_bytes(data[2:4], "big")
        assert data[:4] == b"\x00\x03\x00\x01" and len(data) == 4 + 512, data[:20]
        sock.sendto(b"\x00\x05\x00\x00power cut\x00", peer)
    return None


def recording(fetch: Fetch, images: list[bytes]) -> Fetch:
    """``fetch``, keeping the body of every image the phone is sent."""

    def wrapped(name: str) -> tuple[int, bytes]:
        status, body = fetch(name)
        if name.endswith(".st") and status == 200:
            images.append(body)
        return status, body

    return wrapped


def image_fetches(phone: AastraPhone) -> list[tuple[str, int]]:
    return [(name, status) for name, status in phone.fetched if name.endswith(".st")]


# -- the store, as the event recorder leaves it (it writes every 250 ms)


def wait_for(served: RunningServer, check: Callable[[object], object], what: str):
    store = served.store()
    try:
        for _ in range(60):
            with store.sessions() as session:
                found = check(session)
            if found:
                return found
            time.sleep(0.1)
    finally:
        store.dispose()
    raise AssertionError(f"never recorded: {what}")


def firmware_row(served: RunningServer, mac: str, **wanted) -> DeviceFirmware:
    def check(session):
        row = session.get(DeviceFirmware, mac)
        if row is not None and all(getattr(row, k) == v for k, v in wanted.items()):
            session.expunge(row)
            return row
        return None

    return wait_for(served, check, f"device_firmware {mac} {wanted}")


def image_events(served: RunningServer, mac: str, count: int) -> list[ProvisioningEvent]:
    def check(session):
        events = list(
            session.scalars(
                select(ProvisioningEvent)
                .where(ProvisioningEvent.mac == mac, ProvisioningEvent.path.like("%.st"))
                .order_by(ProvisioningEvent.id)
            )
        )
        if len(events) >= count:
            session.expunge_all()
            return events
        return None

    return wait_for(served, check, f"{count} image requests of {mac}")


def firmware_table(served: RunningServer) -> dict[str, dict[str, str]]:
    """``plugtone phones --firmware``, one dict per phone by colon MAC."""
    lines = run_cli("phones", "--firmware", data=served.data).stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = [dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines[1:]]
    return {row["MAC"]: row for row in rows}


# -- a: over HTTP


def test_an_old_6757i_gets_the_image_once_over_http_then_never(served):
    phone = AastraPhone(mac=EXAMPLE_6757I, model="6757i", firmware=OLD, checks_firmware=True)
    images: list[bytes] = []
    with httpx.Client(base_url=served.base, timeout=10) as client:
        fetch = recording(phone.over_http(client), images)
        downloads = phone.boot_until_stable(fetch)
        assert [(d.name, d.from_version, d.to_version) for d in downloads] == [
            ("6757i.st", OLD, PINNED)
        ]
        assert phone.firmware == PINNED and phone.user_agent.endswith(f"V:{PINNED}-SIP")
        assert phone.boot_until_stable(fetch) == []  # daily resync
        assert phone.boot_until_stable(fetch) == []  # power cut
        # asked alone, with the User-Agent it now sends: still nothing
        assert client.get("/6757i.st", headers={"User-Agent": phone.user_agent}).status_code == 404
    assert images == [IMAGE]  # the stored image, byte for byte
    assert image_fetches(phone) == [("6757i.st", 200), ("6757i.st", 404), ("6757i.st", 404),
                                    ("6757i.st", 404)]  # fmt: skip
    assert phone.reboots == 1 and phone.boots == 4
    assert phone.line(1)["user name"] == "3003"  # the configuration still comes with it


def test_an_old_6757i_gets_the_image_once_over_http_with_curl(served):
    phone = AastraPhone(mac=CURL_HTTP, model="6757i", firmware=OLD, checks_firmware=True)
    images: list[bytes] = []
    fetch = recording(curl_http_fetch(served.base, phone), images)
    downloads = phone.boot_until_stable(fetch)
    assert [(d.from_version, d.to_version) for d in downloads] == [(OLD, PINNED)]
    assert phone.boot_until_stable(fetch) == []
    assert phone.boot_until_stable(fetch) == []
    assert image_fetches(phone) == [("6757i.st", 200)] + [("6757i.st", 404)] * 3
    assert images == [IMAGE]


# -- b: over TFTP, no User-Agent


@pytest.mark.parametrize("client", ["curl", "tftp-hpa"])
def test_over_tftp_the_phone_of_unknown_version_gets_the_image_once(served, client, tmp_path):
    mac = CURL_TFTP if client == "curl" else TFTP_HPA
    phone = AastraPhone(mac=mac, model="6757i", firmware=OLD, checks_firmware=True)
    images: list[bytes] = []
    fetch = recording(
        curl_tftp_fetch(served.tftp_port)
        if client == "curl"
        else tftp_hpa_fetch(served.tftp_port, tmp_path),
        images,
    )
    downloads = phone.boot_until_stable(fetch)
    assert [(d.from_version, d.to_version) for d in downloads] == [(OLD, PINNED)]
    assert phone.boot_until_stable(fetch) == []
    assert phone.boot_until_stable(fetch) == []
    assert image_fetches(phone) == [("6757i.st", 200)] + [("6757i.st", 404)] * 3
    assert images == [IMAGE]
    # its own configuration came with it: the site's, and no one else's line
    assert phone.settings["sip proxy ip"] == "10.100.2.127"
    assert "user name" not in phone.line(1) and "password" not in phone.line(1)
    row = firmware_row(served, mac, delivered_version=PINNED)
    assert (row.target_version, row.running_version, row.attempts) == (PINNED, None, 1)
    events = image_events(served, mac, 4)
    sent = events[0]
    assert (sent.transport, sent.path, sent.status) == ("tftp", "6757i.st", "ok")
    assert sent.bytes == len(IMAGE) and sent.user_agent is None and sent.vendor == "aastra"
    assert [e.status for e in events[1:]] == ["not_found"] * 3
    assert all(e.bytes == 0 for e in events[1:])


# -- d: who never gets it


def test_other_models_and_strangers_get_not_found(served, tmp_path):
    other = AastraPhone(mac=EXAMPLE_6731I, model="6731i", firmware=OLD)
    stranger = AastraPhone(mac=STRANGER, model="6757i", firmware=OLD)
    with httpx.Client(base_url=served.base, timeout=10) as client:
        for phone in (other, stranger):
            for name in ("6757i.st", "6731i.st", "57i.st", "firmware/6757i.st"):
                response = client.get(f"/{name}", headers={"User-Agent": phone.user_agent})
                assert response.status_code == 404, (phone.mac, name)
                assert b"PLUGTONE-TEST-IMAGE" not in response.content
        # a full boot of the 6731i (configuration 200, image 404)
        other.checks_firmware = True
        assert other.boot_until_stable(other.over_http(client)) == []
        assert other.fetched[-2:] == [("00085D000002.cfg", 200), ("6731i.st", 404)]
    # over TFTP, each known by the <MAC>.cfg it asked for last from this address
    tftp = curl_tftp_fetch(served.tftp_port)
    assert tftp(f"{EXAMPLE_6731I}.cfg")[0] == 200
    assert tftp("6757i.st") == (404, b"") and tftp("6731i.st") == (404, b"")
    assert tftp(f"{STRANGER}.cfg")[0] == 404
    assert tftp("6757i.st") == (404, b"") and tftp("6731i.st") == (404, b"")
    assert tftp_hpa_fetch(served.tftp_port, tmp_path)("6757i.st") == (404, b"")
    events = image_events(served, EXAMPLE_6731I, 7)
    assert {e.status for e in events} == {"not_found"} and sum(e.bytes for e in events) == 0
    assert {e.status for e in image_events(served, STRANGER, 7)} == {"not_found"}


# -- e: what the admin sees


def test_phones_firmware_and_the_event_log_show_the_transfer(served):
    row = firmware_row(served, EXAMPLE_6757I, delivered_version=PINNED, running_version=PINNED)
    assert row.attempts == 1
    table = firmware_table(served)
    mine = table[colon_mac(EXAMPLE_6757I)]
    assert (mine["MODEL"], mine["SITE"], mine["RUNNING"], mine["TARGET"], mine["PIN"],
            mine["DELIVERED"]) == ("6757i", "hq", PINNED, PINNED, "model", PINNED)  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", mine["LAST OFFERED"])
    tftp = table[colon_mac(CURL_TFTP)]
    assert (tftp["RUNNING"], tftp["TARGET"], tftp["DELIVERED"]) == ("?", PINNED, PINNED)
    left_alone = table[colon_mac(EXAMPLE_6731I)]
    assert (left_alone["TARGET"], left_alone["PIN"], left_alone["DELIVERED"]) == (
        "(leave)", "-", "-",
    )  # fmt: skip
    assert table["00:04:F2:00:06:07"]["TARGET"] == "(leave)"  # the Polycom: no pin for it

    events = image_events(served, EXAMPLE_6757I, 4)
    sent = [e for e in events if e.status == "ok"]
    assert len(sent) == 1
    assert (sent[0].transport, sent[0].path, sent[0].bytes) == ("http", "/6757i.st", len(IMAGE))
    assert f"V:{OLD}-SIP" in sent[0].user_agent
    refused = [e for e in events if e is not sent[0]]
    assert {e.status for e in refused} == {"not_found"} and all(e.bytes == 0 for e in refused)
    assert all(f"V:{PINNED}-SIP" in e.user_agent for e in refused)


# -- f: the attempts cap


def test_a_phone_that_keeps_reporting_its_old_version_gets_at_most_three_offers(served):
    phone = AastraPhone(mac=STUCK, model="6757i", firmware=OLD, checks_firmware=True,
                        image_version=lambda body: OLD)  # fmt: skip
    with httpx.Client(base_url=served.base, timeout=10) as client:
        fetch = phone.over_http(client)
        downloads = phone.boot_until_stable(fetch, max_boots=MAX_ATTEMPTS + 2)
        assert len(downloads) == MAX_ATTEMPTS == 3
        assert phone.boot_until_stable(fetch) == []
        assert phone.boot_until_stable(fetch) == []
    assert phone.firmware == OLD
    row = firmware_row(served, STUCK, attempts=3, last_result="not offered")
    assert (row.running_version, row.delivered_version) == (OLD, PINNED)
    assert [e.status for e in image_events(served, STUCK, 6)] == ["ok"] * 3 + ["not_found"] * 3


def test_a_phone_whose_tftp_transfer_keeps_failing_gets_at_most_three_offers(served):
    tftp = curl_tftp_fetch(served.tftp_port)
    results = []
    for _ in range(MAX_ATTEMPTS + 2):
        assert tftp(f"{CUT_OFF}.cfg")[0] == 200  # the boot before the image
        results.append(tftp_cut_off(served.tftp_port, "6757i.st"))
    assert results == [None] * 3 + [1, 1]  # three cut-off transfers, then file not found
    row = firmware_row(served, CUT_OFF, attempts=3, last_result="not offered")
    assert row.delivered_version is None
    events = image_events(served, CUT_OFF, 5)
    assert [e.status for e in events] == ["aborted"] * 3 + ["not_found"] * 2
    assert all(e.bytes == 0 for e in events)  # bytes the phone acknowledged: none


# -- c: a new pin, one more image (last: it moves every 6757i's target)


def test_a_pin_change_through_the_inventory_file_sends_the_new_image_once(served, tmp_path):
    image = tmp_path / "6757i.st"
    image.write_bytes(NEXT_IMAGE)
    run_cli("firmware", "add", "--vendor", "aastra", "--model", "6757i", "--version", NEXT,
            str(image), data=served.data)  # fmt: skip
    repin = tmp_path / "repin.yaml"
    repin.write_text(f"models:\n  - model: 6757i\n    firmware: {NEXT}\n")
    applied = run_cli("apply", str(repin), data=served.data).stdout
    assert f"firmware -> {NEXT}" in applied
    listed = run_cli("firmware", "list", data=served.data).stdout
    assert re.search(rf"aastra {re.escape(NEXT)} .*pinned: model 6757i", listed), listed

    over_http = AastraPhone(mac=EXAMPLE_6757I, model="6757i", firmware=PINNED, checks_firmware=True)
    over_tftp = AastraPhone(mac=CURL_TFTP, model="6757i", firmware=PINNED, checks_firmware=True)
    stuck = AastraPhone(mac=STUCK, model="6757i", firmware=OLD, checks_firmware=True,
                        image_version=lambda body: OLD)  # fmt: skip
    tftp = curl_tftp_fetch(served.tftp_port)
    with httpx.Client(base_url=served.base, timeout=10) as client:
        for phone, fetch in ((over_http, over_http.over_http(client)), (over_tftp, tftp)):
            downloads = phone.boot_until_stable(fetch)
            assert [(d.from_version, d.to_version) for d in downloads] == [(PINNED, NEXT)]
            assert phone.boot_until_stable(fetch) == []
            assert phone.boot_until_stable(fetch) == []
        # the capped phone's count starts again with the new pin, and stops again at three
        fetch = stuck.over_http(client)
        assert len(stuck.boot_until_stable(fetch, max_boots=MAX_ATTEMPTS + 2)) == MAX_ATTEMPTS
        assert stuck.boot_until_stable(fetch) == []
    row = firmware_row(served, CURL_TFTP, delivered_version=NEXT)
    assert (row.target_version, row.attempts) == (NEXT, 1)
    events = image_events(served, EXAMPLE_6757I, 7)
    assert [e.bytes for e in events if e.status == "ok"] == [len(IMAGE), len(NEXT_IMAGE)]
    log = (served.data / "serve.log").read_text()
    assert "Traceback" not in log and "22222" not in log


# -- the rule survives a restart (device_firmware is read back from the store)


def restart(served: RunningServer) -> None:
    """Stop the module's server and start another on the same data, in place (its
    plugtone.toml trusts 127.0.0.1 already: appending ``[security]`` again would make
    the file invalid TOML)."""
    stop_server(served)
    fresh = start_server(served.data, tftp=True, trusted=False)
    served.process, served.http_port, served.tftp_port = (
        fresh.process, fresh.http_port, fresh.tftp_port,
    )  # fmt: skip


def test_after_a_restart_phones_already_sent_the_image_are_not_sent_it_again(served):
    # MOVED boots once over HTTP (its User-Agent says OLD), then, as hq's configuration
    # tells it, over TFTP, where it gets the image once; checked after the restart below
    moved = AastraPhone(mac=MOVED, model="6757i", firmware=OLD)
    tftp = curl_tftp_fetch(served.tftp_port)
    with httpx.Client(base_url=served.base, timeout=10) as client:
        moved.boot(moved.over_http(client))
    assert moved.settings["download protocol"] == "TFTP"
    moved.checks_firmware = True
    assert [d.to_version for d in moved.boot_until_stable(tftp)] == [NEXT]
    assert moved.boot_until_stable(tftp) == []
    firmware_row(served, MOVED, delivered_version=NEXT, last_result="not offered")
    firmware_row(served, CURL_TFTP, delivered_version=NEXT, last_result="not offered")

    restart(served)
    tftp = curl_tftp_fetch(served.tftp_port)
    over_tftp = AastraPhone(mac=CURL_TFTP, model="6757i", firmware=NEXT, checks_firmware=True)
    over_http = AastraPhone(mac=EXAMPLE_6757I, model="6757i", firmware=NEXT, checks_firmware=True)
    with httpx.Client(base_url=served.base, timeout=10) as client:
        assert over_http.boot_until_stable(over_http.over_http(client)) == []
    assert over_tftp.boot_until_stable(tftp) == []
    assert over_tftp.boot_until_stable(tftp) == []


def test_after_a_restart_a_version_reported_before_the_delivery_is_not_taken_as_current(served):
    """MOVED reported OLD over HTTP before it was sent the image over TFTP (previous
    test); device_states still holds OLD, with the time of its latest request."""
    moved = AastraPhone(mac=MOVED, model="6757i", firmware=NEXT, checks_firmware=True)
    tftp = curl_tftp_fetch(served.tftp_port)
    assert moved.boot_until_stable(tftp) == []
    assert moved.boot_until_stable(tftp) == []
    row = firmware_row(served, MOVED, last_result="not offered")
    assert row.attempts == 1

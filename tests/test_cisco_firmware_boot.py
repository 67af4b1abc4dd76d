"""A Cisco 7960 on an SCCP load moves to the pinned SIP release, end to end.

A real ``plugtone serve`` process with TFTP, an inventory applied with ``plugtone apply``,
a release added from a vendor-style zip with ``plugtone firmware add`` and pinned with
``plugtone firmware pin``; then emulated phones boot over real TFTP with curl (and
tftp-hpa's client for an image file), as the phones would:

- the 7960 on ``P00303020214`` reads ``XMLDefault.cnf.xml`` and ``OS79XX.TXT``, both
  naming ``P0S3-8-12-00``, fetches ``.loads``, ``.sbn`` and ``.sb2`` (byte for byte what
  was added), reboots into SIP, finds ``image_version`` equal to what it runs, and
  downloads nothing on its next boot;
- a 7940 at the same site, which the release is not for, is named no image and gets
  "not found" for every image file ("firmware is never served to a model it is not
  for"); a pin that would give it the release is refused;
- a MAC plugtone does not know gets "not found" for the image;
- ``plugtone phones --firmware`` and the event log say what happened.

A TFTP request without a MAC in its name (``OS79XX.TXT``, the image files) is put down
to the phone whose MAC the same client address last named, so each emulated phone asks
from an address of its own on the loopback network (curl's ``--interface``): the 7960
from 127.0.0.1 (where tftp-hpa's client asks from too), the 7940 from 127.0.0.2, the
stranger from 127.0.0.3, and a requester that never named a MAC from 127.0.0.4. The
server trusts that whole phone LAN (127.0.0.0/29, given as ``PLUGTONE_TRUSTED_NETWORKS``):
what these tests check is what phones on a trusted network get, the unknown MAC included.
"""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from tests.conftest import RunningServer, run_cli, start_server, stop_server
from tests.emulators.cisco import Cisco7960
from tests.test_cisco_boot import IMAGE, curl_fetch, tftp_hpa_fetch, write_release

MAC = "00115C93AFD1"
MAC_7940 = "00115C93AFD2"
STRANGER = "00115C93AFFF"
LOADER = "P003-8-12-00"
SCCP_LOAD = "P00303020214"
IMAGE_FILES = (f"{IMAGE}.loads", f"{LOADER}.sbn", f"{IMAGE}.sb2")
"""In the order the phone fetches them: the ``.loads`` names the other two."""
PHONE_LAN = "127.0.0.0/29"
"""The trusted network every emulated phone asks from (127.0.0.1 to 127.0.0.4)."""
ZIP_FOLDER = "cmterm-7940-7960-sip.8-12-00"

INVENTORY = """
sites:
  - name: lab
    sip_server: 192.168.0.20
    timezone: Europe/Brussels
    voicemail: "8500"
    nat: true
extensions:
  - {number: "208", site: lab, name: "208", password: sip}
  - {number: "209", site: lab, name: Mary, password: "3434"}
phones:
  - {mac: 00:11:5C:93:AF:D1, model: CP-7960G, site: lab, lines: ["208"]}
  - {mac: 00:11:5C:93:AF:D2, model: CP-7940G, site: lab, lines: ["209"]}
"""


@dataclass
class Lab:
    server: RunningServer
    files: dict[str, bytes]
    """The release's image files as they went into the zip."""
    added: str
    """What ``plugtone firmware add`` printed."""
    refused: tuple[int, str]
    """Exit status and error output of the site-wide pin that would reach the 7940."""
    pinned: str


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("cisco-firmware")
    data = root / "data"
    with pytest.MonkeyPatch.context() as env:  # read by plugtone serve at start
        env.setenv("PLUGTONE_TRUSTED_NETWORKS", PHONE_LAN)
        server = start_server(data, tftp=True, trusted=False)
    try:
        (root / "inventory.yaml").write_text(INVENTORY)
        run_cli("apply", str(root / "inventory.yaml"), data=data)
        files = write_release(root / "release", IMAGE, LOADER, size=450_000)
        archive = root / "cmterm-7940-7960-sip.8-12-00.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(f"{ZIP_FOLDER}/README.txt", "Cisco SIP IP Phone 7940/7960 8.12(00)\n")
            bundle.writestr(f"{ZIP_FOLDER}/OS79XX.TXT", "P003-8-12-00\n")  # plugtone writes its own
            for name, content in files.items():
                bundle.writestr(f"{ZIP_FOLDER}/{name}", content)
        added = run_cli("firmware", "add", "--vendor", "cisco79xx", "--model", "7960",
                        "--version", "8.12.00", str(archive), data=data)  # fmt: skip
        refused = run_cli("firmware", "pin", "8.12.00", "--site", "lab", data=data, check=False)
        pinned = run_cli("firmware", "pin", "8.12.00", "--site", "lab", "--for", "7960",
                         data=data)  # fmt: skip
        yield Lab(server, files, added.stdout, (refused.returncode, refused.stderr), pinned.stdout)
    finally:
        stop_server(server)


def wait_for(what: str, probe: Callable[[], object], timeout: float = 10.0):
    """``probe()`` once it is truthy: events reach the store in batches (every 250 ms)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            assert result, f"no {what} after {timeout} s"
            return result
        time.sleep(0.1)


def events(server: RunningServer, **columns) -> list[ProvisioningEvent]:
    store = server.store()
    try:
        with store.sessions() as session:
            query = select(ProvisioningEvent).order_by(ProvisioningEvent.id)
            for name, value in columns.items():
                query = query.where(getattr(ProvisioningEvent, name) == value)
            rows = list(session.scalars(query))
            session.expunge_all()
            return rows
    finally:
        store.dispose()


def firmware_table(server: RunningServer) -> dict[str, dict[str, str]]:
    """``plugtone phones --firmware`` as ``{MAC: {COLUMN: value}}``."""
    lines = run_cli("phones", "--firmware", data=server.data).stdout.splitlines()
    header = re.split(r"\s{2,}", lines[0].strip())
    rows = [dict(zip(header, re.split(r"\s{2,}", line.strip()), strict=True)) for line in lines[1:]]
    return {row["MAC"]: row for row in rows}


def image_requests(phone: Cisco7960) -> list[tuple[str, int]]:
    return [(name, status) for name, status in phone.fetched if name.startswith("P0")]


def test_the_release_is_picked_out_of_the_zip_and_pinned_for_the_7960_only(lab):
    added = lab.added.splitlines()
    assert added[0] == "added cisco79xx 8.12.00 for 7960:"
    listed = {line.split()[0]: line.split()[1:] for line in added[1:]}
    assert set(listed) == set(IMAGE_FILES)  # not README.txt, not the zip's OS79XX.TXT
    for name, content in lab.files.items():
        role, size, _, digest = listed[name]
        assert (
            role == {".loads": "loads", ".sbn": "loader", ".sb2": "application"}[Path(name).suffix]
        )
        assert int(size) == len(content)
        assert digest == f"sha256:{hashlib.sha256(content).hexdigest()}"
    # a pin for every phone of the site would reach the 7940, which the release is not for
    status, errors = lab.refused
    assert status == 2
    assert f"phone {MAC_7940} (7940)" in errors and "not for it" in errors
    assert "firmware (7960) -> 8.12.00" in lab.pinned
    listing = run_cli("firmware", "list", data=lab.server.data).stdout
    total = sum(map(len, lab.files.values()))
    assert f"cisco79xx 8.12.00  models: 7960  files: 3 ({total} bytes)" in listing
    assert "pinned: site lab" in listing


def test_an_sccp_7960_installs_the_pinned_sip_release_over_tftp_once(lab, tmp_path):
    server = lab.server
    curl = curl_fetch(server.tftp_port, source="127.0.0.1")
    bodies: dict[str, bytes] = {}

    def fetch(name: str) -> tuple[int, bytes]:
        status, body = curl(name)
        bodies[name] = body
        return status, body

    phone = Cisco7960(MAC, running=SCCP_LOAD)
    phone.boot_sccp(fetch)
    assert phone.fetched == [
        (f"CTLSEP{MAC}.tlv", 404),
        (f"SEP{MAC}.cnf.xml", 404),
        (f"SIP{MAC}.cnf", 200),  # names the phone: what follows from 127.0.0.1 is the 7960's
        (f"MGC{MAC}.cnf", 404),
        ("XMLDefault.cnf.xml", 200),
        ("OS79XX.TXT", 200),
        *((name, 200) for name in IMAGE_FILES),
        # rebooted into SIP
        ("OS79XX.TXT", 200),
        ("SIPDefault.cnf", 200),
        (f"SIP{MAC}.cnf", 200),
        (f"dialplan{MAC}.xml", 200),
    ]
    assert phone.load_information == IMAGE and phone.image == IMAGE  # the two agree
    assert bodies["OS79XX.TXT"].strip() == IMAGE.encode()
    for name in IMAGE_FILES:
        assert bodies[name] == lab.files[name], f"{name} is not what was added"
    assert phone.installed == [IMAGE] and phone.failed == []
    assert phone.running == IMAGE and phone.on_sip
    assert phone.settings["image_version"] == IMAGE
    assert phone.line(1)["name"] == "208" and phone.line(1)["password"] == "sip"
    assert phone.settings["proxy1_address"] == "192.168.0.20"

    phone.fetched.clear()
    phone.boot(fetch)  # the next boot: image_version is what it runs
    assert image_requests(phone) == []
    assert phone.installed == [IMAGE] and phone.image == IMAGE

    # tftp-hpa's client, asking from the 7960's address, gets the same bytes
    application = f"{IMAGE}.sb2"
    assert tftp_hpa_fetch(server.tftp_port, tmp_path)(application) == (
        200,
        lab.files[application],
    )

    def delivered():
        found = firmware_table(server).get("00:11:5C:93:AF:D1")
        return found if found and found["LAST RESULT"] == "delivered" else None

    row = wait_for("a delivered result in phones --firmware", delivered)
    assert row["MODEL"] == "7960" and row["SITE"] == "lab"
    assert row["TARGET"] == "8.12.00" and row["DELIVERED"] == "8.12.00"
    assert row["PIN"] == "site (7960)"
    assert row["LAST OFFERED"] != "-"

    def image_events():
        rows = [row for row in events(server, mac=MAC) if row.path in IMAGE_FILES]
        return rows if len(rows) == len(IMAGE_FILES) + 1 else None

    transfers = wait_for("image transfers in the event log", image_events)
    assert [row.path for row in transfers] == [*IMAGE_FILES, application]
    for event in transfers:
        assert (event.transport, event.status, event.vendor) == ("tftp", "ok", "cisco79xx")
        assert event.client_address == "127.0.0.1"
        assert event.bytes == len(lab.files[event.path]), event.path


def test_a_7940_at_the_site_is_never_served_the_7960_release(lab):
    server = lab.server
    curl = curl_fetch(server.tftp_port, source="127.0.0.2")
    phone = Cisco7960(MAC_7940, model="7940", running=SCCP_LOAD)
    phone.boot_sccp(curl)
    assert phone.fetched == [
        (f"CTLSEP{MAC_7940}.tlv", 404),
        (f"SEP{MAC_7940}.cnf.xml", 404),
        (f"SIP{MAC_7940}.cnf", 200),
        (f"MGC{MAC_7940}.cnf", 404),
        ("XMLDefault.cnf.xml", 200),  # without a loadInformation8: no image
        ("OS79XX.TXT", 404),
    ]
    assert phone.load_information is None and phone.image is None
    assert phone.installed == [] and phone.running == SCCP_LOAD
    # asked outright, from the 7940's address, any file of the release is not found
    for name in IMAGE_FILES:
        assert curl(name) == (404, b""), name
    sip = Cisco7960(MAC_7940, model="7940")
    sip.boot(curl)
    assert "image_version" not in sip.settings and sip.line(1)["name"] == "209"

    def refused():
        rows = [row for row in events(server, mac=MAC_7940) if row.path in IMAGE_FILES]
        return rows if len(rows) == len(IMAGE_FILES) else None

    for event in wait_for("the 7940's image requests in the event log", refused):
        assert (event.status, event.bytes, event.client_address) == ("not_found", 0, "127.0.0.2")
    row = firmware_table(server)["00:11:5C:93:AF:D2"]
    assert (row["TARGET"], row["PIN"], row["DELIVERED"]) == ("(leave)", "-", "-")


def test_an_unknown_mac_gets_no_image(lab):
    server = lab.server
    curl = curl_fetch(server.tftp_port, source="127.0.0.3")
    stranger = Cisco7960(STRANGER, running=SCCP_LOAD)
    stranger.boot_sccp(curl)  # names its MAC in SIP<MAC>.cnf, which is not found
    assert (f"SIP{STRANGER}.cnf", 404) in stranger.fetched
    assert ("OS79XX.TXT", 404) in stranger.fetched and stranger.load_information is None
    assert stranger.installed == []
    assert curl(f"{IMAGE}.sb2") == (404, b"")
    assert curl(f"{IMAGE}.loads") == (404, b"")
    # and from an address that never named any MAC
    assert curl_fetch(server.tftp_port, source="127.0.0.4")(f"{IMAGE}.sb2") == (404, b"")

    def refused():
        rows = [row for row in events(server, path=f"{IMAGE}.sb2", status="not_found")
                if row.client_address in ("127.0.0.3", "127.0.0.4")]  # fmt: skip
        return rows if len(rows) == 2 else None

    by_address = {row.client_address: row for row in wait_for("the stranger's requests", refused)}
    assert by_address["127.0.0.3"].mac == STRANGER and by_address["127.0.0.4"].mac is None
    assert all(row.bytes == 0 for row in by_address.values())
    assert STRANGER not in {row.replace(":", "") for row in firmware_table(server)}

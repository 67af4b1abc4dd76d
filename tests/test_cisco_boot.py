"""A Cisco 7960 on SIP firmware boots from plugtone, as in the seed (004_4e175a13d40c42bb.txt).

The seed's phone has extension 208 (password ``sip``) behind NAT, a logo and a directory
on a web server at 192.168.0.20, and firmware P0S3-8-12-00. The inventory below says the
same in plugtone's terms. The emulator fetches ``OS79XX.TXT``, ``SIPDefault.cnf`` and
``SIP<MAC>.cnf`` as TFTP requests through the real resolver over a real store (SQLite and
PostgreSQL), then over real TFTP with curl and tftp-hpa, and reads the directory pages
and the logo over plugtone's phone-facing HTTP app.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import load_located
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.uploads import UploadStore
from plugtone.servers.http import create_phone_app
from plugtone.servers.tftp import start_tftp_server
from plugtone.services.inventory_apply import apply_document
from plugtone.vendors import VendorRegistry
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from tests.conftest import need
from tests.emulators.cisco import Cisco7960

MAC = "00115C93AFD1"
SECOND = "00115C93AFD2"
PUBLIC_URL = "http://testserver/_asterisk"
EXTRA_EXTENSIONS = "\n".join(
    f'  - {{number: "{300 + n}", site: demo, name: "Staff {n:02d}", password: "pw{n}"}}'
    for n in range(40)
)
CONTACTS = "\n".join(f'      - {{name: "Contact {n:02d}", number: "0{n:04d}"}}' for n in range(29))


def inventory(logo: Path) -> str:
    return f"""
sites:
  - name: demo
    sip_server: 10.100.2.127
    timezone: Europe/Brussels
    ntp_servers: [pool.ntp.org]
    dial_plan: "0|911|##|[1-7]xx|9[2-9]xxxxxx"
    digit_timeout: 4
    voicemail: "8500"
    registration_period: 60
    nat: true
    public_url: {PUBLIC_URL}
    logo: {logo}
    directory:
      - {{name: "R&D <lab>", number: "250"}}
{CONTACTS}
    vendor_settings:
      cisco79xx: {{telnet_level: 2}}
extensions:
  - {{number: "208", site: demo, name: "208", password: sip}}
  - {{number: "209", site: demo, name: Mary, password: "3434"}}
{EXTRA_EXTENSIONS}
phones:
  - {{mac: 00:11:5C:93:AF:D1, model: CP-7960G, site: demo, lines: ["208"], description: "...Demo..."}}
  - {{mac: 00-11-5c-93-af-d2, model: 7940, site: demo, lines: ["209"]}}
models:
  - model: 7940
    vendor_settings:
      cisco79xx: {{image_version: P0S3-8-11-00}}
"""


@pytest.fixture
def registry() -> VendorRegistry:
    return VendorRegistry([AastraPlugin(), Cisco79xxPlugin()])


@pytest.fixture
def resolver(store, registry, tmp_path) -> Resolver:
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 120), (20, 60, 200)).save(logo)
    document, problems = parse_document(load_located(inventory(logo), "x.yaml"), registry)
    assert not problems, "\n".join(map(str, problems))
    with store.sessions() as session:
        apply_document(session, document)
        session.commit()
    return Resolver(store, registry)


@pytest.fixture
def provisioner(resolver, store, tmp_path) -> Provisioner:
    return Provisioner(resolver, EventRecorder(store), UploadStore(tmp_path / "uploads"))


def tftp_requests(resolver: Resolver, address: str = "10.0.0.60"):
    """Fetch as the TFTP transport asks the resolver: a path and an address, nothing else."""

    def fetch(name: str) -> tuple[int, bytes]:
        answer = resolver.resolve(FileRequest(path=name, transport="tftp", client_address=address))
        if answer.status is Status.OK and answer.content is not None:
            return 200, answer.content
        return 404, b""

    return fetch


def assert_seed_phone(phone: Cisco7960) -> None:
    assert phone.image == "P0S3-8-12-00"
    assert phone.line(1) == {
        "name": "208",
        "authname": "208",
        "password": "sip",
        "displayname": "208",
        "shortname": "208",
    }
    assert phone.settings["proxy1_address"] == "10.100.2.127"
    assert phone.settings["proxy1_port"] == "5060"
    assert phone.settings["image_version"] == "P0S3-8-12-00"
    assert phone.settings["nat_enable"] == "1"
    assert phone.settings["phone_label"] == "...Demo..."
    assert phone.settings["time_zone"] == "CET"
    assert phone.settings["dst_stop_month"] == "Oct"
    assert phone.settings["timer_register_expires"] == "60"
    assert phone.settings["messages_uri"] == "8500"
    assert phone.settings["telnet_level"] == "2"  # the site's raw setting
    assert phone.settings["directory_url"] == f"{PUBLIC_URL}/cisco/directory-{MAC}.xml"
    assert phone.settings["logo_url"] == f"{PUBLIC_URL}/cisco/logo-{MAC}.bmp"


def test_7960_boots_through_the_resolver(resolver):
    phone = Cisco7960(MAC)
    phone.boot(tftp_requests(resolver))
    assert phone.fetched == [
        ("OS79XX.TXT", 200),
        ("SIPDefault.cnf", 200),
        (f"SIP{MAC}.cnf", 200),
        (f"dialplan{MAC}.xml", 200),
    ]
    assert_seed_phone(phone)
    assert [(rule.match, rule.timeout) for rule in phone.dial_plan] == [
        ("0", 0),
        ("911", 0),
        ("##", 0),
        ("[1-7]..", 0),
        ("9[2-9]......", 0),
        ("*", 4),
    ]


def test_7940_gets_its_line_and_its_models_image(resolver):
    phone = Cisco7960(SECOND)  # the same boot; only the files differ
    phone.boot(tftp_requests(resolver))
    assert phone.line(1)["name"] == "209" and phone.line(1)["password"] == "3434"
    assert phone.line(1)["displayname"] == "Mary"
    assert phone.line(2) == dict.fromkeys(("name", "authname", "password", "displayname",
                                           "shortname"), "")  # fmt: skip
    assert "line3_name" not in phone.settings
    assert phone.settings["image_version"] == "P0S3-8-11-00"


def test_unknown_phone_gets_defaults_only_and_probes_get_not_found(resolver):
    stranger = Cisco7960("00115C93AFFF")
    stranger.boot(tftp_requests(resolver))
    assert stranger.fetched[:3] == [
        ("OS79XX.TXT", 200),
        ("SIPDefault.cnf", 200),
        ("SIP00115C93AFFF.cnf", 404),
    ]
    assert stranger.fetched[3] == ("dialplan.xml", 200)  # SIPDefault.cnf's dial_template
    assert "proxy1_address" not in stranger.settings and "line1_password" not in stranger.settings
    for probe in (f"CTLSEP{MAC}.tlv", f"SEP{MAC}.cnf.xml", "RINGLIST.DAT", "/US/7960-tones.xml",
                  "/7960-font.xml", f"MGC{MAC}.cnf"):  # fmt: skip
        answer = resolver.resolve(FileRequest(path=probe, transport="tftp"))
        assert answer.status is Status.NOT_FOUND and answer.detail == "unknown file", probe


def http_client(provisioner: Provisioner):
    """``GET url`` against plugtone's phone-facing HTTP app, as a phone's request would."""
    app = create_phone_app(provisioner)

    async def get(url: str) -> tuple[int, bytes]:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.60", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get(url)
            return response.status_code, response.content

    return lambda url: asyncio.run(get(url))


def test_directory_and_logo_over_http(resolver, provisioner):
    phone = Cisco7960(MAC)
    phone.boot(tftp_requests(resolver))
    http_get = http_client(provisioner)
    pages = phone.directory(http_get)
    assert [len(page.entries) for page in pages] == [32, 32, 8]
    assert [page.prompt for page in pages] == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    everyone = [entry for page in pages for entry in page.entries]
    assert ("208", "208") in everyone and ("Mary", "209") in everyone
    assert ("R&D <lab>", "250") in everyone and ("Contact 28", "00028") in everyone
    logo = phone.logo(http_get)
    assert logo.format == "BMP" and logo.size == (90, 56)
    assert logo.mode in ("L", "P")
    red, green, blue = logo.convert("RGB").split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()  # greys only
    # a page past the end, or a phone plugtone does not know: the same plain 404
    assert http_get(f"/_asterisk/cisco/directory-{MAC}-4.xml")[0] == 404
    assert http_get("/_asterisk/cisco/logo-00115C93AFFF.bmp")[0] == 404


# -- over real TFTP, with clients plugtone did not write


@contextmanager
def running_tftp(provisioner: Provisioner) -> Iterator[int]:
    """plugtone's TFTP server on 127.0.0.1, on its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        start_tftp_server(provisioner, "127.0.0.1", 0), loop
    ).result(10)
    try:
        yield server.port
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def curl_fetch(port: int):
    curl = need("curl")

    def fetch(name: str) -> tuple[int, bytes]:
        result = subprocess.run(
            [curl, "-s", "--max-time", "10", f"tftp://127.0.0.1:{port}/{name}"],
            capture_output=True, timeout=20,
        )  # fmt: skip
        return (200, result.stdout) if result.returncode == 0 else (404, b"")

    return fetch


def tftp_hpa_fetch(port: int, directory: Path):
    tftp = need("tftp")

    def fetch(name: str) -> tuple[int, bytes]:
        target = directory / name.replace("/", "_")
        target.unlink(missing_ok=True)
        result = subprocess.run(
            [tftp, "-m", "octet", "127.0.0.1", str(port), "-c", "get", name, str(target)],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        failed = "Error code" in result.stdout + result.stderr or result.returncode != 0
        if failed or not target.exists():
            return 404, b""
        return 200, target.read_bytes()

    return fetch


def test_7960_boots_over_tftp_with_curl_and_tftp_hpa(provisioner, tmp_path):
    with running_tftp(provisioner) as port:
        for fetch in (curl_fetch(port), tftp_hpa_fetch(port, tmp_path)):
            phone = Cisco7960(MAC)
            phone.boot(fetch)
            assert [status for _, status in phone.fetched] == [200, 200, 200, 200]
            assert_seed_phone(phone)
            assert phone.dial_plan[-1].match == "*"
            status, _ = fetch(f"CTLSEP{MAC}.tlv")
            assert status == 404
        # byte for byte what the resolver serves, whichever client asked
        direct = tftp_requests(provisioner.resolver)(f"SIP{MAC}.cnf")
        assert curl_fetch(port)(f"SIP{MAC}.cnf") == direct
        assert tftp_hpa_fetch(port, tmp_path)(f"SIP{MAC}.cnf") == direct
    image = Image.open(io.BytesIO(tftp_requests(provisioner.resolver)(f"cisco/logo-{MAC}.bmp")[1]))
    assert image.size == (90, 56)

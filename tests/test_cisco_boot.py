"""A Cisco 7960 on SIP firmware boots from plugtone, as in the seed (004_4e175a13d40c42bb.txt).

The seed's phone has extension 208 (password ``sip``) behind NAT, a logo and a directory
on a web server at 192.168.0.20, and firmware P0S3-8-12-00. The inventory below says the
same in plugtone's terms: the logo is the site's branding set, and P0S3-8-12-00 is a
release stored in the firmware repository (``add_release``, as ``plugtone firmware add``
does) and pinned on the phone. A release in the repository is not a pin: without one the
phone is told no image at all (no ``OS79XX.TXT``, no ``image_version``) and keeps what it
runs. The emulator fetches ``OS79XX.TXT``, ``SIPDefault.cnf`` and ``SIP<MAC>.cnf`` as TFTP
requests through the real resolver over a real store (SQLite and PostgreSQL), then over
real TFTP with curl and tftp-hpa, and reads the directory pages and the logo over
plugtone's phone-facing HTTP app.

The phones ask from 10.0.0.0/8 (the resolver-level requests and the HTTP app) and from
127.0.0.1 (real TFTP clients), both trusted networks here, as a phone LAN is in a real
deployment: what they check is what a trusted phone gets.

``OS79XX.TXT`` carries no MAC: plugtone names the asker's image only once an earlier
request from the same address named the phone's MAC (its ``SIP<MAC>.cnf``), so a phone's
very first ``OS79XX.TXT`` is not found and the one of its next boot names the image.
"""

from __future__ import annotations

import asyncio
import io
import random
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import defusedxml.ElementTree as SafeET
import httpx
import pytest
from PIL import Image

from plugtone.firmware.repository import FileStore, add_release
from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import load_located
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import parse_network_rules
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
IMAGE = "P0S3-8-12-00"
"""The seed phone's firmware: release 8.12.00, pinned on the phone."""
IMAGE_7940 = "P0S3-8-11-00"
"""Release 8.11.00, for the 7940 only, pinned on the 7940 model."""
EXTRA_EXTENSIONS = "\n".join(
    f'  - {{number: "{300 + n}", site: demo, name: "Staff {n:02d}", password: "pw{n}"}}'
    for n in range(40)
)
PHONE_NETWORKS = parse_network_rules(["10.0.0.0/8", "127.0.0.1/32"])
"""The phones' networks, trusted (the seed's LAN, and loopback for the real clients)."""
CONTACTS = "\n".join(f'      - {{name: "Contact {n:02d}", number: "0{n:04d}"}}' for n in range(29))


def inventory(logo: Path, *, pinned: bool = True) -> str:
    phone_pin = ', firmware: "8.12.00"' if pinned else ""
    model_pin = '    firmware: "8.11.00"\n' if pinned else "    vendor_settings: {}\n"
    return f"""
branding:
  - name: demo-look
    logo: {logo.name}
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
    branding: demo-look
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
  - {{mac: 00:11:5C:93:AF:D1, model: CP-7960G, site: demo, lines: ["208"], description: "...Demo..."{phone_pin}}}
  - {{mac: 00-11-5c-93-af-d2, model: 7940, site: demo, lines: ["209"]}}
models:
  - model: 7940
{model_pin}"""


def write_release(folder: Path, image: str, loader: str, size: int = 300_000) -> dict[str, bytes]:
    """Fake release files, as a zip of Cisco's holds them: ``{name: content}``.

    The ``.loads`` names the loader and the application, one a line, as the emulator
    reads it; the other two are ``size`` bytes or so of noise (every byte value, CR and
    LF included, so a transfer that rewrote line ends would show).
    """
    noise = random.Random(image)
    files = {
        f"{image}.loads": f"{loader}.sbn\n{image}.sb2\n".encode("ascii"),
        f"{loader}.sbn": noise.randbytes(size // 3),
        f"{image}.sb2": noise.randbytes(size),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


@pytest.fixture
def registry() -> VendorRegistry:
    return VendorRegistry([AastraPlugin(), Cisco79xxPlugin()])


@pytest.fixture
def releases(tmp_path) -> dict[str, bytes]:
    """Both releases' files by name (8.12.00 for the 7960, 8.11.00 for the 7940)."""
    return {
        **write_release(tmp_path / "8.12.00", IMAGE, "P003-8-12-00"),
        **write_release(tmp_path / "8.11.00", IMAGE_7940, "P003-8-11-00", size=3_000),
    }


def build_resolver(store, registry, tmp_path: Path, *, pinned: bool) -> Resolver:
    """Store both releases, apply the inventory (pinned or not), serve from the store."""
    logo = tmp_path / "logo.png"
    Image.new("RGB", (300, 120), (20, 60, 200)).save(logo)
    text = inventory(logo, pinned=pinned)
    document, problems = parse_document(load_located(text, str(tmp_path / "x.yaml")), registry)
    assert not problems, "\n".join(map(str, problems))
    files = FileStore(tmp_path / "firmware")
    with store.sessions() as session:
        for version, models in (("8.12.00", ["CP-7960G"]), ("8.11.00", ["7940"])):
            folder = tmp_path / version
            add_release(session, registry, files, vendor="cisco79xx", models=models,
                        version=version, sources=sorted(folder.iterdir()))  # fmt: skip
        apply_document(session, document)
        session.commit()
    return Resolver(store, registry, firmware_files=files, trusted_networks=PHONE_NETWORKS)


@pytest.fixture
def resolver(store, registry, tmp_path, releases) -> Resolver:
    return build_resolver(store, registry, tmp_path, pinned=True)


@pytest.fixture
def unpinned_resolver(store, registry, tmp_path, releases) -> Resolver:
    return build_resolver(store, registry, tmp_path, pinned=False)


def provisioner_for(resolver: Resolver, store, tmp_path: Path) -> Provisioner:
    return Provisioner(resolver, EventRecorder(store), UploadStore(tmp_path / "uploads"))


@pytest.fixture
def provisioner(resolver, store, tmp_path) -> Provisioner:
    return provisioner_for(resolver, store, tmp_path)


def tftp_requests(provisioner: Provisioner, address: str = "10.0.0.60"):
    """Fetch as the TFTP transport does: ask the resolver with a path and an address,
    nothing else, then report the outcome (which ties the address to a MAC it named)."""
    resolver = provisioner.resolver

    def fetch(name: str) -> tuple[int, bytes]:
        request = FileRequest(path=name, transport="tftp", client_address=address)
        answer = resolver.resolve(request)
        if answer.status is not Status.OK:
            provisioner.finished(request, answer, "not_found")
            return 404, b""
        body = answer.file.path.read_bytes() if answer.file is not None else answer.content
        assert body is not None
        provisioner.finished(request, answer, "ok", len(body))
        return 200, body

    return fetch


def assert_seed_phone(phone: Cisco7960, image: str | None = IMAGE) -> None:
    """The seed's settings; ``image_version`` only when a release is pinned."""
    assert phone.line(1) == {
        "name": "208",
        "authname": "208",
        "password": "sip",
        "displayname": "208",
        "shortname": "208",
    }
    assert phone.settings["proxy1_address"] == "10.100.2.127"
    assert phone.settings["proxy1_port"] == "5060"
    assert phone.settings.get("image_version") == image
    assert phone.settings["nat_enable"] == "1"
    assert phone.settings["phone_label"] == "...Demo..."
    assert phone.settings["time_zone"] == "CET"
    assert phone.settings["dst_stop_month"] == "Oct"
    assert phone.settings["timer_register_expires"] == "60"
    assert phone.settings["messages_uri"] == "8500"
    assert phone.settings["telnet_level"] == "2"  # the site's raw setting
    assert phone.settings["directory_url"] == f"{PUBLIC_URL}/cisco/directory-{MAC}.xml"
    assert phone.settings["logo_url"] == f"{PUBLIC_URL}/cisco/logo-{MAC}.bmp"


def image_requests(phone: Cisco7960) -> list[tuple[str, int]]:
    return [(name, status) for name, status in phone.fetched if name.startswith("P0")]


def test_7960_boots_through_the_resolver(provisioner):
    fetch = tftp_requests(provisioner)
    phone = Cisco7960(MAC, running=IMAGE)  # the seed's phone runs the pinned image
    phone.boot(fetch)
    assert phone.fetched == [
        ("OS79XX.TXT", 404),  # nothing has told plugtone who asks from this address yet
        ("SIPDefault.cnf", 200),
        (f"SIP{MAC}.cnf", 200),
        (f"dialplan{MAC}.xml", 200),
    ]
    assert_seed_phone(phone)
    assert [(rule.match, rule.timeout) for rule in phone.dial_plan] == [
        ("0", 0),
        ("911", 0),
        ("##", 0),
        *((f"{digit}..", 0) for digit in "1234567"),  # [1-7]xx, written out
        *((f"9{digit}......", 0) for digit in "23456789"),  # 9[2-9]xxxxxx
        ("*", 4),
    ]
    assert phone.installed == [] and phone.failed == []  # runs what image_version names
    phone.fetched.clear()
    phone.boot(fetch)  # the next boot: the address now names the phone
    assert phone.fetched[0] == ("OS79XX.TXT", 200)
    assert phone.image == IMAGE
    assert_seed_phone(phone)
    assert phone.installed == [] and image_requests(phone) == []


def test_a_7960_on_an_older_sip_image_upgrades_once_through_the_resolver(provisioner, releases):
    fetch = tftp_requests(provisioner)
    bodies: dict[str, bytes] = {}

    def keeping(name: str) -> tuple[int, bytes]:
        status, body = fetch(name)
        bodies[name] = body
        return status, body

    phone = Cisco7960(MAC, running="P0S3-8-11-00")
    phone.boot(keeping)
    assert phone.installed == [IMAGE] and phone.failed == []
    assert image_requests(phone) == [
        (f"{IMAGE}.loads", 200),
        ("P003-8-12-00.sbn", 200),
        (f"{IMAGE}.sb2", 200),
    ]
    for name, _ in image_requests(phone):
        assert bodies[name] == releases[name], name  # byte for byte what was added
    assert_seed_phone(phone)  # the boot after the install: image_version is what it runs
    phone.fetched.clear()
    phone.boot(keeping)
    assert phone.image == IMAGE and image_requests(phone) == []


def test_7940_gets_its_line_and_its_models_image(resolver, provisioner, releases):
    phone = Cisco7960(SECOND, model="7940", running="P0S3-8-10-00")
    phone.boot(tftp_requests(provisioner))
    assert phone.line(1)["name"] == "209" and phone.line(1)["password"] == "3434"
    assert phone.line(1)["displayname"] == "Mary"
    assert phone.line(2) == dict.fromkeys(("name", "authname", "password", "displayname",
                                           "shortname"), "")  # fmt: skip
    assert "line3_name" not in phone.settings
    assert phone.settings["image_version"] == IMAGE_7940  # the 7940 model's pin
    assert phone.installed == [IMAGE_7940]
    # the 7960's release is for the 7960 only: never served to the 7940, whoever asks
    # (a trusted address no phone asked from, a stranger, the 7940 itself)
    for name in (f"{IMAGE}.loads", f"{IMAGE}.sb2", "P003-8-12-00.sbn"):
        for address in ("10.0.0.200", "192.0.2.1"):
            request = FileRequest(path=name, transport="tftp", client_address=address)
            assert resolver.resolve(request).status is Status.NOT_FOUND, (name, address)
        assert tftp_requests(provisioner)(name) == (404, b""), name


def test_without_a_pin_the_firmware_is_left_alone(unpinned_resolver, store, tmp_path):
    """Both releases are in the repository, but nothing pins them: nothing names an image."""
    provisioner = provisioner_for(unpinned_resolver, store, tmp_path)
    for model, mac, address in (("7960", MAC, "10.0.0.60"), ("7940", SECOND, "10.0.0.61")):
        fetch = tftp_requests(provisioner, address)
        phone = Cisco7960(mac, model=model, running="P0S3-8-10-00")
        phone.boot(fetch)
        phone.boot_sccp(fetch)  # the address names the phone now; still no image
        phone.boot(fetch)
        assert "image_version" not in phone.settings
        assert phone.image is None and phone.load_information is None
        assert ("OS79XX.TXT", 200) not in phone.fetched
        assert ("XMLDefault.cnf.xml", 200) in phone.fetched  # read, and naming no image
        assert phone.installed == [] and image_requests(phone) == []
        if mac == MAC:
            assert_seed_phone(phone, image=None)  # every other setting as when pinned
    for name in (f"{IMAGE}.loads", f"{IMAGE}.sb2", f"{IMAGE_7940}.loads"):
        assert fetch(name) == (404, b""), name  # stored, not pinned: not served
    body = fetch("XMLDefault.cnf.xml")[1]
    assert list(SafeET.fromstring(body)) == []


def test_unknown_phone_gets_defaults_only_and_probes_get_not_found(resolver, provisioner):
    stranger = Cisco7960("00115C93AFFF")
    fetch = tftp_requests(provisioner, address="10.0.0.99")
    stranger.boot(fetch)
    assert stranger.fetched[:3] == [
        ("OS79XX.TXT", 404),  # no pin for a stranger: its firmware is left alone
        ("SIPDefault.cnf", 200),
        ("SIP00115C93AFFF.cnf", 404),
    ]
    assert stranger.fetched[3] == ("dialplan.xml", 200)  # SIPDefault.cnf's dial_template
    assert "proxy1_address" not in stranger.settings and "line1_password" not in stranger.settings
    assert "image_version" not in stranger.settings
    assert fetch("OS79XX.TXT") == (404, b"")  # known by its address now, and still unassigned
    for name in (f"{IMAGE}.loads", f"{IMAGE}.sb2", "P003-8-12-00.sbn"):
        assert fetch(name) == (404, b""), name
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


def test_directory_and_logo_over_http(provisioner):
    phone = Cisco7960(MAC)
    phone.boot(tftp_requests(provisioner))
    http_get = http_client(provisioner)
    pages = phone.directory(http_get)
    assert [len(page.entries) for page in pages] == [32, 32, 8]
    assert [page.prompt for page in pages] == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    everyone = [entry for page in pages for entry in page.entries]
    assert ("208", "208") in everyone and ("Mary", "209") in everyone
    assert ("R&D <lab>", "250") in everyone and ("Contact 28", "00028") in everyone
    logo = phone.logo(http_get)  # the site's branding set's logo
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


def curl_fetch(port: int, source: str | None = None):
    """``fetch`` with curl over TFTP; ``source`` is the loopback address to ask from
    (plugtone tells phones without a MAC in the file name apart by their address)."""
    curl = need("curl")
    interface = ["--interface", source] if source else []

    def fetch(name: str) -> tuple[int, bytes]:
        result = subprocess.run(
            [curl, "-s", "--max-time", "20", *interface, f"tftp://127.0.0.1:{port}/{name}"],
            capture_output=True, timeout=30,
        )  # fmt: skip
        return (200, result.stdout) if result.returncode == 0 else (404, b"")

    return fetch


def tftp_hpa_fetch(port: int, directory: Path):
    """``fetch`` with tftp-hpa's client, in octet mode, from 127.0.0.1."""
    tftp = need("tftp")

    def fetch(name: str) -> tuple[int, bytes]:
        target = directory / name.replace("/", "_")
        target.unlink(missing_ok=True)
        result = subprocess.run(
            [tftp, "-m", "octet", "127.0.0.1", str(port), "-c", "get", name, str(target)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        failed = "Error code" in result.stdout + result.stderr or result.returncode != 0
        if failed or not target.exists():
            return 404, b""
        return 200, target.read_bytes()

    return fetch


def test_7960_boots_over_tftp_with_curl_and_tftp_hpa(provisioner, releases, tmp_path):
    with running_tftp(provisioner) as port:
        boots = []
        for fetch in (curl_fetch(port), tftp_hpa_fetch(port, tmp_path)):
            phone = Cisco7960(MAC, running=IMAGE)
            phone.boot(fetch)
            boots.append(phone.fetched)
            assert [status for _, status in phone.fetched][1:] == [200, 200, 200]
            assert_seed_phone(phone)
            assert phone.dial_plan[-1].match == "*"
            assert phone.installed == []
            status, _ = fetch(f"CTLSEP{MAC}.tlv")
            assert status == 404
        # the first boot's OS79XX.TXT came before anything named the phone from 127.0.0.1
        assert boots[0][0] == ("OS79XX.TXT", 404) and boots[1][0] == ("OS79XX.TXT", 200)
        assert phone.image == IMAGE
        # byte for byte what the resolver serves, whichever client asked
        direct = tftp_requests(provisioner)(f"SIP{MAC}.cnf")
        assert curl_fetch(port)(f"SIP{MAC}.cnf") == direct
        assert tftp_hpa_fetch(port, tmp_path)(f"SIP{MAC}.cnf") == direct
        # and a stored image file, byte for byte what the release holds
        image = f"{IMAGE}.sb2"
        assert curl_fetch(port)(image) == (200, releases[image])
        assert tftp_hpa_fetch(port, tmp_path)(image) == (200, releases[image])
    logo = tftp_requests(provisioner)(f"cisco/logo-{MAC}.bmp")[1]
    assert Image.open(io.BytesIO(logo)).size == (90, 56)

"""A Polycom IP 650 upgrades its application from a running ``plugtone serve``.

End to end, with the example inventory (extension 201 on the IP 650 ``0004f2000607`` at
site ``maxcs7``): ``plugtone firmware add`` stores a split release (the IP 650's own
``2345-12600-001.sip.ld`` and ``sip.ver``), ``plugtone firmware pin`` pins it, and the
emulated phone, with SIP 3.2.6 in flash, boots over real FTP (Python's ftplib with the
factory ``PlcmSpIp`` login, sending ``SIZE`` before each ``RETR`` as the phone does, and
curl) and over HTTP. It reads ``APP_FILE_PATH`` from its master file, fetches the image
(byte for byte what was added), flashes it, reboots, and after that keeps what it has.

Around it: a pin below the seed's floor (SIP 3.2.7) needs ``--force``; a phone plugtone
does not know never gets an image; a BootROM of the pinned release is served at the top
of the tree to the phone plugtone has identified, and to no one else.

Identification: a Polycom request for an image names no MAC and the User-Agent carries
none, so plugtone ties the client address to the MAC of its last ``<mac>.cfg`` request.
Clients here use their own loopback source address (127.0.0.x) where that matters.
The server trusts that phone LAN (127.0.0.0/28, as ``PLUGTONE_TRUSTED_NETWORKS``), so what
these tests check is what phones on a trusted network get, unassigned ones included; a
stranger from outside it (127.0.0.200) is challenged and never sent an image.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from defusedxml import ElementTree as SafeET

from tests.conftest import EXAMPLE, RunningServer, example_server, need, run_cli
from tests.emulators.polycom import PolycomPhone, fake_image

MAC = "0004f2000607"
COLON_MAC = "00:04:F2:00:06:07"
STRANGER = "0004f2aabbcc"
PART = "2345-12600-001"  # the IP 650's part number
VERSION = "3.2.7.0184"
IMAGE_NAME = f"{PART}.sip.ld"
IMAGE_PATH = f"firmware/{VERSION}/{IMAGE_NAME}"
IMAGE = fake_image(VERSION, 300_000)  # more than one FTP block and one HTTP chunk
SIP_VER = f"{VERSION}\n".encode()
FLOOR_BREAKER = "3.1.0"  # below SIP 3.2.7, the seed's floor
OLD_FLASH = "3.2.6"
PHONE_LAN = "127.0.0.0/28"
"""The trusted network the emulated phones ask from (127.0.0.1 to 127.0.0.9)."""
OUTSIDE = "127.0.0.200"
"""A loopback address outside :data:`PHONE_LAN`: a stranger's."""


@contextmanager
def phone_lan_server(data: Path, **servers: bool) -> Iterator[RunningServer]:
    """:func:`example_server` trusting :data:`PHONE_LAN` (read by ``plugtone serve``)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PLUGTONE_TRUSTED_NETWORKS", PHONE_LAN)
        with example_server(data, trusted=False, **servers) as running:
            env.delenv("PLUGTONE_TRUSTED_NETWORKS")  # the server has read it
            yield running


def release_files(folder: Path, version: str, *, bootrom: bytes | None = None) -> list[Path]:
    """The vendor's file names for a split IP 650 release, written under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    image = IMAGE if version == VERSION else fake_image(version, 4096)
    files = {IMAGE_NAME: image, "sip.ver": f"{version}\n".encode()}
    if bootrom is not None:
        files["bootrom.ld"] = bootrom
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder / name for name in files]


def add_release(server: RunningServer, folder: Path, version: str, **kwargs) -> str:
    result = run_cli(
        "firmware", "add", "--vendor", "polycom", "--model", "IP650", "--version", version,
        *map(str, release_files(folder, version, **kwargs)), data=server.data,
    )  # fmt: skip
    return result.stdout


def master(server: RunningServer) -> dict[str, str]:
    """The IP 650's master file attributes, as plugtone serves them now."""
    response = httpx.get(f"{server.base}/{MAC}.cfg", timeout=10)
    assert response.status_code == 200, response.text
    return dict(SafeET.fromstring(response.content).attrib)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 10.0):
    """Poll ``condition`` until it is truthy (the server re-reads the generation every
    0.5 s and writes device state every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def firmware_row(server: RunningServer, mac: str = COLON_MAC) -> dict[str, str]:
    """``plugtone phones --firmware``'s row for ``mac``, by column name."""
    lines = run_cli("phones", "--firmware", data=server.data).stdout.splitlines()
    header = lines[0]
    columns = ["MAC", "MODEL", "SITE", "RUNNING", "TARGET", "PIN", "LAST OFFERED", "DELIVERED",
               "LAST RESULT"]  # fmt: skip
    starts = [header.index(name) for name in columns]
    for line in lines[1:]:
        if line.startswith(mac):
            cells = [
                line[start : (starts[i + 1] if i + 1 < len(starts) else None)].strip()
                for i, start in enumerate(starts)
            ]
            return dict(zip(columns, cells, strict=True))
    raise AssertionError(f"{mac} not in {lines}")


def ip650(**options) -> PolycomPhone:
    """The example's IP 650 with SIP 3.2.6 in flash, checking APP_FILE_PATH at boot."""
    values = {"mac": MAC, "model": "SPIP_650", "firmware": OLD_FLASH,
              "flash_version": OLD_FLASH, "part_number": PART}  # fmt: skip
    values.update(options)
    return PolycomPhone(**values)


# -- transports


class FtpLink:
    """The phone's side of an FTP session (ftplib), recording what came over the wire."""

    def __init__(self, server: RunningServer, source: str = "127.0.0.1") -> None:
        self.client = ftplib.FTP()
        self.client.connect("127.0.0.1", server.ftp_port, timeout=10, source_address=(source, 0))
        self.client.login("PlcmSpIp", "PlcmSpIp")
        self.bodies: dict[str, list[bytes]] = {}
        self.sizes: dict[str, int] = {}
        self.replies: dict[str, str] = {}

    def fetch(self, name: str) -> bytes | None:
        try:
            # The phone asks SIZE first; a file without a size is one it cannot get.
            self.sizes[name] = self.client.size(name)
            buffer = io.BytesIO()
            self.client.retrbinary(f"RETR {name}", buffer.write)
        except ftplib.error_perm as error:
            self.replies[name] = str(error)
            return None
        self.bodies.setdefault(name, []).append(buffer.getvalue())
        return buffer.getvalue()

    def upload(self, name: str, content: bytes, append: bool) -> bool:
        try:
            self.client.storbinary(f"{'APPE' if append else 'STOR'} {name}", io.BytesIO(content))
        except ftplib.error_perm:
            return False
        return True

    def close(self) -> None:
        self.client.quit()


class HttpLink:
    """The phone's side over HTTP: its User-Agent at the time of each request."""

    def __init__(self, server: RunningServer, phone: PolycomPhone, source: str = "127.0.0.1"):
        transport = httpx.HTTPTransport(local_address=source)
        self.client = httpx.Client(base_url=server.base, transport=transport, timeout=10)
        self.phone = phone
        self.bodies: dict[str, list[bytes]] = {}

    def get(self, name: str) -> httpx.Response:
        return self.client.get(f"/{name}", headers={"User-Agent": self.phone.user_agent})

    def fetch(self, name: str) -> bytes | None:
        response = self.get(name)
        if response.status_code != 200:
            return None
        self.bodies.setdefault(name, []).append(response.content)
        return response.content

    def upload(self, name: str, content: bytes, append: bool) -> bool:
        response = self.client.put(
            f"/{name}", content=content, headers={"User-Agent": self.phone.user_agent}
        )
        return response.status_code in (200, 201, 204)

    def close(self) -> None:
        self.client.close()


def assert_upgraded_once(phone: PolycomPhone) -> None:
    """One flash of the pinned image, one reboot, then a complete boot on it."""
    assert phone.application["APP_FILE_PATH"] == IMAGE_PATH
    assert phone.flashed == [(IMAGE_PATH, VERSION)]
    assert phone.reboots == 1
    assert phone.flash_version == phone.firmware == VERSION
    names = [name for name, _ in phone.fetched]
    assert names[:4] == [f"{MAC}.cfg", IMAGE_PATH, f"{MAC}.cfg", IMAGE_PATH], names
    assert phone.line(1)["address"] == "201"  # it finished booting, with its account
    assert phone.line(1)["auth.password"] == "1212"


def assert_stays_put_on_next_boot(phone: PolycomPhone, fetch, upload) -> None:
    """A later power-up finds the same image as in flash: no flash, no reboot.

    The emulator reads the image to learn its version (it has no header-only read), so
    "not again" is measured as no second flash and no second reboot.
    """
    flashed, reboots = list(phone.flashed), phone.reboots
    phone.fetched.clear()
    phone.boot(fetch, upload)
    assert phone.flashed == flashed and phone.reboots == reboots
    assert phone.flash_version == VERSION
    assert phone.fetched[0] == (f"{MAC}.cfg", True)
    assert phone.line(1)["address"] == "201"


# -- the pinned server


@pytest.fixture(scope="module")
def pinned(tmp_path_factory) -> Iterator[RunningServer]:
    """The example inventory, release 3.2.7.0184 added and pinned on the IP 650 model."""
    root = tmp_path_factory.mktemp("polycom-firmware")
    with phone_lan_server(root / "data", ftp=True) as running:
        added = add_release(running, root / "release", VERSION)
        running.added_output = added  # type: ignore[attr-defined]
        pinned_output = run_cli("firmware", "pin", "--model", "IP650", VERSION, data=running.data)
        assert pinned_output.stdout.strip() == f"firmware -> {VERSION}"
        wait_for(lambda: master(running)["APP_FILE_PATH"] == IMAGE_PATH, "the pin to be served")
        yield running


def test_firmware_add_keeps_the_files_by_content_and_list_shows_the_pin(pinned):
    lines = pinned.added_output.splitlines()
    assert lines[0] == f"added polycom {VERSION} for IP650:"
    image_sha = hashlib.sha256(IMAGE).hexdigest()
    ver_sha = hashlib.sha256(SIP_VER).hexdigest()
    assert f"  {IMAGE_NAME}  application  {len(IMAGE)} bytes  sha256:{image_sha}" in lines
    assert f"  sip.ver  version  {len(SIP_VER)} bytes  sha256:{ver_sha}" in lines
    stored = pinned.data / "firmware" / "sha256" / image_sha[:2] / image_sha
    assert stored.read_bytes() == IMAGE
    listing = run_cli("firmware", "list", data=pinned.data).stdout
    assert f"polycom {VERSION}  models: IP650  files: 2" in listing
    assert "pinned: model IP650" in listing


def test_the_master_file_names_the_pinned_image(pinned):
    attributes = master(pinned)
    assert attributes["APP_FILE_PATH"] == IMAGE_PATH
    assert attributes["CONFIG_FILES"].startswith(f"{MAC}-reg.cfg, {MAC}-site.cfg")


def test_ip650_upgrades_over_ftp_with_ftplib(pinned):
    link = FtpLink(pinned)
    phone = ip650()
    try:
        phone.boot(link.fetch, link.upload)
        assert_upgraded_once(phone)
        assert link.bodies[IMAGE_PATH][0] == IMAGE  # byte for byte what was added
        assert all(body == IMAGE for body in link.bodies[IMAGE_PATH])
        assert link.sizes[IMAGE_PATH] == len(IMAGE)  # SIZE, before RETR
        assert link.sizes[f"{MAC}.cfg"] == len(link.bodies[f"{MAC}.cfg"][0])
        assert phone.uploaded and phone.uploaded[0] == f"{MAC}-boot.log"
        assert_stays_put_on_next_boot(phone, link.fetch, link.upload)
    finally:
        link.close()
    row = wait_for(
        lambda: (r := firmware_row(pinned))["DELIVERED"] == VERSION and r, "delivery recorded"
    )
    assert row["TARGET"] == VERSION and row["PIN"] == "model"
    assert row["LAST RESULT"] == "delivered"


@pytest.mark.parametrize(
    "ftp_method",
    [
        "multicwd",  # curl's default: CWD firmware, CWD 3.2.7.0184, then RETR the name
        "nocwd",  # RETR firmware/3.2.7.0184/<name>, as ftplib and the emulator's phone do
    ],
)
def test_ip650_upgrades_over_ftp_with_curl(pinned, ftp_method):
    curl = need("curl")
    base = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{pinned.ftp_port}"
    options = ["-s", "-f", "--ftp-method", ftp_method]
    bodies: dict[str, bytes] = {}

    def fetch(name: str) -> bytes | None:
        result = subprocess.run([curl, *options, f"{base}/{name}"], capture_output=True, timeout=30)
        if result.returncode != 0:
            return None
        bodies[name] = result.stdout
        return result.stdout

    def upload(name: str, content: bytes, append: bool) -> bool:
        command = [curl, *options, "-T", "-", f"{base}/{name}"] + (["--append"] if append else [])
        return (
            subprocess.run(command, input=content, capture_output=True, timeout=10).returncode == 0
        )

    phone = ip650()
    phone.boot(fetch, upload)
    # the phone is identified at this address now: the image is its to fetch
    probe = subprocess.run(
        [curl, *options, "-v", "-o", "/dev/null", f"{base}/{IMAGE_PATH}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    dialogue = [line for line in probe.stderr.splitlines() if line[:2] in ("> ", "< ")]
    assert probe.returncode == 0, f"curl --ftp-method {ftp_method}: {dialogue}"
    assert_upgraded_once(phone)
    assert bodies[IMAGE_PATH] == IMAGE
    # curl -I over FTP asks SIZE (and MDTM) and prints what it learnt
    head = subprocess.run(
        [curl, *options, "-I", f"{base}/{IMAGE_PATH}"], capture_output=True, text=True, timeout=10
    )
    assert head.returncode == 0, head.stderr
    assert f"Content-Length: {len(IMAGE)}" in head.stdout
    assert_stays_put_on_next_boot(phone, fetch, upload)


def test_ip650_upgrades_over_http_and_its_user_agent_reports_the_new_version(pinned):
    phone = ip650()
    link = HttpLink(pinned, phone)
    try:
        phone.boot(link.fetch, link.upload)
        assert_upgraded_once(phone)
        assert link.bodies[IMAGE_PATH][0] == IMAGE
        head = link.client.head(f"/{IMAGE_PATH}", headers={"User-Agent": phone.user_agent})
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(IMAGE)
        assert head.headers["etag"] == '"' + hashlib.sha256(IMAGE).hexdigest()[:32] + '"'
        assert phone.user_agent.endswith(f"-UA/{VERSION}")
        assert_stays_put_on_next_boot(phone, link.fetch, link.upload)
    finally:
        link.close()
    row = wait_for(
        lambda: (r := firmware_row(pinned))["RUNNING"] == VERSION and r, "running version"
    )
    assert row["DELIVERED"] == VERSION and row["TARGET"] == VERSION


def test_a_phone_already_on_the_release_never_flashes(pinned):
    link = FtpLink(pinned)
    phone = ip650(firmware=VERSION, flash_version=VERSION)
    try:
        phone.boot(link.fetch, link.upload)
    finally:
        link.close()
    assert phone.flashed == [] and phone.reboots == 0
    assert phone.line(1)["address"] == "201"


# -- strangers


def test_an_unassigned_phone_gets_no_image_over_ftp(pinned):
    link = FtpLink(pinned, source="127.0.0.2")
    stranger = PolycomPhone(
        mac=STRANGER, firmware=OLD_FLASH, flash_version=OLD_FLASH, part_number=PART
    )
    try:
        stranger.boot(link.fetch, link.upload)
        # the common master names the default sip.ld; neither name is served to it
        assert stranger.fetched[:2] == [(f"{STRANGER}.cfg", False), ("000000000000.cfg", True)]
        assert stranger.fetched[2:4] == [(IMAGE_NAME, False), ("sip.ld", False)]
        assert stranger.flashed == [] and stranger.flash_version == OLD_FLASH
        # asking for the pinned path outright: SIZE and RETR both 550
        assert link.fetch(IMAGE_PATH) is None
        assert link.replies[IMAGE_PATH].startswith("550")
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            link.client.retrbinary(f"RETR {IMAGE_PATH}", lambda _: None)
    finally:
        link.close()


def test_an_unassigned_or_unknown_asker_gets_404_over_http(pinned):
    stranger = PolycomPhone(mac=STRANGER, firmware=OLD_FLASH)
    # an address plugtone has never heard from
    fresh = HttpLink(pinned, stranger, source="127.0.0.3")
    try:
        assert fresh.get(IMAGE_PATH).status_code == 404
        assert fresh.client.head(f"/{IMAGE_PATH}").status_code == 404
        assert fresh.get(IMAGE_NAME).status_code == 404
    finally:
        fresh.close()
    # one address, the IP 650 first, then an unassigned phone: the image follows the MAC
    # of the latest <mac>.cfg request, not the address
    shared = HttpLink(pinned, ip650(), source="127.0.0.4")
    try:
        assert shared.get(f"{MAC}.cfg").status_code == 200
        assert shared.get(IMAGE_PATH).content == IMAGE
        shared.phone = stranger
        assert shared.get(f"{STRANGER}.cfg").status_code == 404
        response = shared.get(IMAGE_PATH)
        assert response.status_code == 404 and response.content == b"not found\n"
    finally:
        shared.close()
    # from outside the trusted network, even with the IP 650's User-Agent: challenged
    outside = HttpLink(pinned, ip650(), source=OUTSIDE)
    try:
        for name in (f"{MAC}.cfg", IMAGE_PATH):
            response = outside.get(name)
            assert response.status_code == 401 and IMAGE not in response.content, name
    finally:
        outside.close()


def test_other_releases_models_and_hostile_paths_are_not_found(pinned):
    curl = need("curl")
    source = "127.0.0.5"
    link = HttpLink(pinned, ip650(), source=source)
    try:
        assert link.get(f"{MAC}.cfg").status_code == 200  # identified at this address
        for path in (
            f"firmware/3.2.7.0198/{IMAGE_NAME}",  # not the pinned release
            f"firmware/{VERSION}/2345-12375-001.sip.ld",  # the IP 335's image name
            f"firmware/{VERSION}/sip.ld",  # the release has no combined image
            "sip.ld",
            f"firmware/{VERSION}/{IMAGE_NAME}/x",
            f"firmware/{VERSION}/",
        ):
            assert link.get(path).status_code == 404, path
        assert link.get(IMAGE_PATH).content == IMAGE
    finally:
        link.close()
    for path in (  # sent as written (httpx would normalise the dots away)
        f"firmware/{VERSION}/../{VERSION}/{IMAGE_NAME}",
        f"firmware/{VERSION}/%2e%2e/{VERSION}/{IMAGE_NAME}",
        f"firmware/..%2f{VERSION}/{IMAGE_NAME}",
        f"firmware/{VERSION}%5c..%5c/{IMAGE_NAME}",
    ):
        result = subprocess.run(
            [curl, "-s", "--path-as-is", "--interface", source, "-o", "/dev/null",
             "-w", "%{http_code}", f"{pinned.base}/{path}"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert result.stdout == "404", (path, result.stdout)


# -- pins the seed warns about


def test_a_pin_below_the_seeds_floor_needs_force(tmp_path):
    with phone_lan_server(tmp_path / "data", ftp=True) as running:
        add_release(running, tmp_path / "current", VERSION)
        run_cli("firmware", "pin", "--model", "IP650", VERSION, data=running.data)
        add_release(running, tmp_path / "old", FLOOR_BREAKER)
        wait_for(lambda: master(running)["APP_FILE_PATH"] == IMAGE_PATH, "the model pin")
        before = run_cli("export", data=running.data).stdout
        store = running.store()
        try:
            generation = store.generation()
        finally:
            store.dispose()

        refused = run_cli(
            "firmware", "pin", "--site", "maxcs7", FLOOR_BREAKER, data=running.data, check=False
        )
        assert refused.returncode != 0
        assert refused.stdout == ""
        assert "error: command line: SIP 3.1.0 is older than SIP 3.2.7" in refused.stderr
        assert "seed" in refused.stderr and "pin with force" in refused.stderr
        # nothing changed: the inventory, its generation, the pins, what is served
        assert run_cli("export", data=running.data).stdout == before
        store = running.store()
        try:
            assert store.generation() == generation
        finally:
            store.dispose()
        listing = run_cli("firmware", "list", data=running.data).stdout
        assert f"polycom {FLOOR_BREAKER}  models: IP650  files: 2 (" in listing
        assert (
            listing.split(f"polycom {FLOOR_BREAKER}")[1].split("\n")[0].endswith("pinned: nowhere")
        )
        time.sleep(0.6)  # past the server's generation check
        assert master(running)["APP_FILE_PATH"] == IMAGE_PATH

        forced = run_cli(
            "firmware", "pin", "--site", "maxcs7", FLOOR_BREAKER, "--force", data=running.data
        )
        assert forced.stdout.strip() == f"firmware -> {FLOOR_BREAKER}"
        old_path = f"firmware/{FLOOR_BREAKER}/{IMAGE_NAME}"
        wait_for(lambda: master(running)["APP_FILE_PATH"] == old_path, "the site pin")
        assert "force: true" in run_cli("export", data=running.data).stdout
        # the site's pin wins over the model's, and a phone on 3.2.7 is taken down to it
        link = FtpLink(running)
        phone = ip650(firmware=VERSION, flash_version=VERSION)
        try:
            phone.boot(link.fetch, link.upload)
        finally:
            link.close()
        assert phone.flashed == [(old_path, FLOOR_BREAKER)]
        assert link.bodies[old_path][0] == fake_image(FLOOR_BREAKER, 4096)


def test_a_risky_pin_in_the_inventory_file_names_its_place(tmp_path):
    """The same rule through ``plugtone apply``: file:line:col, and nothing changed."""
    with phone_lan_server(tmp_path / "data") as running:
        add_release(running, tmp_path / "old", FLOOR_BREAKER)
        before = run_cli("export", data=running.data).stdout
        lines = EXAMPLE.read_text().splitlines()
        at = next(i for i, line in enumerate(lines) if "registration_period: 90" in line)
        lines.insert(at + 1, f"    firmware: {FLOOR_BREAKER}            # site maxcs7")
        text = "\n".join(lines) + "\n"
        pinned_copy = tmp_path / "inventory.yaml"
        pinned_copy.write_text(text)
        (tmp_path / "logo.png").write_bytes((EXAMPLE.parent / "logo.png").read_bytes())
        result = run_cli("apply", str(pinned_copy), data=running.data, check=False)
        assert result.returncode != 0
        assert f"{pinned_copy}:{at + 2}:5: SIP 3.1.0 is older" in result.stderr, result.stderr
        assert "older than SIP 3.2.7" in result.stderr
        assert "nothing was changed" in result.stderr
        assert run_cli("export", data=running.data).stdout == before


# -- the BootROM


def test_a_bootrom_of_the_pin_is_served_at_the_top_to_the_identified_phone_only(tmp_path):
    bootrom = fake_image("4.2.1.0275", 8192)
    with phone_lan_server(tmp_path / "data", ftp=True) as running:
        data = running.data
        added = add_release(running, tmp_path / "release", VERSION, bootrom=bootrom)
        assert "  bootrom.ld  bootrom  8192 bytes" in added
        run_cli("firmware", "pin", "--phone", COLON_MAC, VERSION, data=data)
        wait_for(lambda: master(running)["APP_FILE_PATH"] == IMAGE_PATH, "the phone pin")

        # an address plugtone never heard from: not identified, nothing at the top
        unknown = FtpLink(running, source="127.0.0.6")
        try:
            assert unknown.fetch("bootrom.ld") is None
            assert unknown.replies["bootrom.ld"].startswith("550")
        finally:
            unknown.close()

        # the phone, with an older BootROM; its BootROM asks before the master file, so
        # from an address plugtone does not know yet the first boot finds nothing, and
        # the BootROM is taken at the next boot, once the master file named the MAC
        link = FtpLink(running, source="127.0.0.7")
        phone = ip650(firmware=VERSION, flash_version=VERSION, check_bootrom=True,
                      bootrom="4.1.0.0001")  # fmt: skip
        try:
            phone.boot(link.fetch, link.upload)
            assert phone.fetched[:2] == [(f"{PART}.bootrom.ld", False), ("bootrom.ld", False)]
            assert phone.flashed == []
            phone.fetched.clear()
            phone.boot(link.fetch, link.upload)
            assert phone.fetched[:2] == [(f"{PART}.bootrom.ld", False), ("bootrom.ld", True)]
            assert phone.flashed == [("bootrom.ld", "4.2.1.0275")]
            assert phone.bootrom == "4.2.1.0275" and phone.reboots == 1
            assert link.bodies["bootrom.ld"][0] == bootrom
            assert link.sizes["bootrom.ld"] == len(bootrom)
        finally:
            link.close()

        # an unassigned phone at another address, identified as itself: nothing
        stranger = FtpLink(running, source="127.0.0.8")
        try:
            assert stranger.fetch(f"{STRANGER}.cfg") is None
            assert stranger.fetch("bootrom.ld") is None
            assert stranger.replies["bootrom.ld"].startswith("550")
        finally:
            stranger.close()
        # and over HTTP: the identified phone gets the same bytes, a stranger 404
        phone_http = HttpLink(running, phone, source="127.0.0.9")
        try:
            assert phone_http.get(f"{MAC}.cfg").status_code == 200
            assert phone_http.get("bootrom.ld").content == bootrom
            assert phone_http.get(f"{PART}.bootrom.ld").status_code == 404  # not in the release
            phone_http.phone = PolycomPhone(mac=STRANGER)
            assert phone_http.get(f"{STRANGER}.cfg").status_code == 404
            assert phone_http.get("bootrom.ld").status_code == 404
        finally:
            phone_http.close()

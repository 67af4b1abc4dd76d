"""Branding sets end to end: an inventory file, ``plugtone apply``, a running ``plugtone serve``.

One site (``hq``) has the branding set ``acme`` (a PNG logo, a JPEG background, a raw
file, raw settings for Polycom and Aastra); one Polycom IP 650 and one Cisco 7960 have
their own set, ``night``, instead. Over HTTP (and FTP, where Polycom phones boot from):

- ``branding/<set>/<file>`` is served byte for byte, to anyone, under that name only;
- the IP 650's ``<mac>-site.cfg`` names its set's background and carries the set's raw
  Polycom setting, above the site's and below the phone's;
- the Aastra's ``<MAC>.cfg`` carries the set's raw Aastra settings, the phone's own raw
  keys winning, and the anonymous ``aastra.cfg`` carries none;
- each 7960's ``cisco/logo-<MAC>.bmp`` is made from its own set's logo;
- ``plugtone export`` then ``plugtone apply`` of the export changes nothing.

Bad input (file names with path characters, files outside the inventory's folder,
missing files, unknown sets) is refused with its place (file:line:col) and changes nothing.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageStat

from tests.conftest import RunningServer, need, run_cli, start_server, stop_server
from tests.emulators.aastra import AastraPhone, parse_aastra
from tests.emulators.cisco import Cisco7960
from tests.emulators.polycom import PolycomPhone, parse_parameters

POLYCOM = "0004f2000607"  # the site's set
POLYCOM_NIGHT = "0004f2000608"  # its own set
AASTRA = "00085D000001"
CISCO_NIGHT = "00115C93AFD1"  # its own set
CISCO = "00115C93AFD2"  # the site's set
BACKGROUND = "bg.hiRes.gray.bm.1.name"

INVENTORY = """\
# branding: the site's set, and one phone of each of two vendors with its own
branding:
  - name: acme
    logo: art/acme-logo.png
    files: [art/acme-bg.jpg, ring.raw]
    vendor_settings:
      polycom: {{tone.dtmf.rfc2833Payload: 96, up.welcome.sound.enabled: 0}}
      aastra: {{web interface title: ACME, sip silence suppression: 1}}
  - name: night
    logo: art/night-logo.png
    files: [art/night-bg.jpg]
    vendor_settings:
      polycom: {{tone.dtmf.rfc2833Payload: 97}}

sites:
  - name: hq
    sip_server: 10.0.0.10
    timezone: Europe/Brussels
    public_url: {public_url}
    branding: acme
    vendor_settings:
      polycom: {{tone.dtmf.rfc2833Payload: 101}}
      aastra: {{sip silence suppression: 0, web interface title: Site}}

extensions:
  - {{number: "201", site: hq, name: Ann, password: pw201}}
  - {{number: "202", site: hq, name: Bob, password: pw202}}
  - {{number: "301", site: hq, name: Cat, password: pw301}}
  - {{number: "401", site: hq, name: Dan, password: pw401}}
  - {{number: "402", site: hq, name: Eve, password: pw402}}

phones:
  - {{mac: 00:04:f2:00:06:07, model: IP650, site: hq, lines: ["201"]}}
  - {{mac: 00:04:f2:00:06:08, model: IP650, site: hq, lines: ["202"], branding: night}}
  - mac: 00:08:5D:00:00:01
    model: 6757i
    site: hq
    lines: ["301"]
    vendor_settings: {{aastra: {{web interface title: Reception}}}}
  - {{mac: 00:11:5C:93:AF:D1, model: 7960, site: hq, lines: ["401"], branding: night}}
  - {{mac: 00:11:5C:93:AF:D2, model: 7960, site: hq, lines: ["402"]}}
"""


def png(colour: tuple[int, int, int], size: tuple[int, int] = (180, 112)) -> bytes:
    """A PNG logo of one colour, of the 79xx screen's proportions (90x56), so it fills it."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 160), colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


ASSETS = {
    "art/acme-logo.png": png((200, 200, 200)),  # light grey
    "art/acme-bg.jpg": jpeg((20, 120, 220)),
    "ring.raw": bytes(range(256)) * 8,
    "art/night-logo.png": png((0, 0, 0)),  # black
    "art/night-bg.jpg": jpeg((10, 10, 40)),
}


def content(name: str) -> bytes:
    return ASSETS[name]


@contextmanager
def branded_server(root: Path) -> Iterator[RunningServer]:
    """``plugtone serve`` (HTTP and FTP) with the inventory above applied from ``root``."""
    for name, data in ASSETS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    running = start_server(root / "data", ftp=True)
    try:
        inventory = root / "inventory.yaml"
        inventory.write_text(INVENTORY.format(public_url=running.base))
        applied = run_cli("apply", str(inventory), data=running.data)
        assert "applied" in applied.stdout, applied.stdout
        running.root = root  # type: ignore[attr-defined]
        running.inventory = inventory  # type: ignore[attr-defined]
        yield running
    finally:
        stop_server(running)


@pytest.fixture(scope="module")
def branded(tmp_path_factory) -> Iterator[RunningServer]:
    with branded_server(tmp_path_factory.mktemp("branding")) as running:
        yield running


@pytest.fixture(scope="module")
def refusing(tmp_path_factory) -> Iterator[RunningServer]:
    """A server of its own for bad input: a bad file wrongly accepted spoils only this one."""
    with branded_server(tmp_path_factory.mktemp("branding-bad-input")) as running:
        yield running


def http(server: RunningServer, source: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.base, transport=transport, timeout=10)


# -- the files of a set


def test_branding_files_are_served_byte_for_byte_to_anyone(branded):
    with http(branded, source="127.0.0.20") as client:  # an address that asked nothing
        for path, name, media_type in (
            ("branding/acme/acme-bg.jpg", "art/acme-bg.jpg", "image/jpeg"),
            ("branding/acme/ring.raw", "ring.raw", "application/octet-stream"),
            ("branding/night/night-bg.jpg", "art/night-bg.jpg", "image/jpeg"),
            ("/BRANDING/Acme/ACME-BG.JPG", "art/acme-bg.jpg", "image/jpeg"),  # any case
        ):
            response = client.get(f"/{path.lstrip('/')}")
            assert response.status_code == 200, path
            assert response.content == content(name), path
            assert response.headers["content-type"].startswith(media_type), path
        etag = client.get("/branding/acme/acme-bg.jpg").headers["etag"]
        again = client.get("/branding/acme/acme-bg.jpg", headers={"If-None-Match": etag})
        assert again.status_code == 304


def test_a_sets_files_are_served_under_its_own_name_only(branded):
    curl = need("curl")
    with http(branded, source="127.0.0.21") as client:
        for path in (
            "branding/acme/night-bg.jpg",  # the other set's file
            "branding/acme/acme-logo.png",  # the logo is converted per vendor, not served
            "branding/acme/art/acme-bg.jpg",  # files are served by name, not by source path
            "branding/acme",
            "branding/acme/",
            "branding/nope/acme-bg.jpg",
            "branding/acme/acme-bg.jpg/x",
        ):
            assert client.get(f"/{path}").status_code == 404, path
    for path in (  # as written: httpx would normalise the dots away
        "branding/night/../acme/acme-bg.jpg",
        "branding/acme/%2e%2e/night/night-bg.jpg",
        "branding/acme%2f..%2fnight/night-bg.jpg",
    ):
        result = subprocess.run(
            [curl, "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
             f"{branded.base}/{path}"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        assert result.stdout == "404", (path, result.stdout)


@pytest.mark.parametrize(
    "ftp_method",
    [
        "multicwd",  # curl's default: CWD branding, CWD acme, RETR acme-bg.jpg
        "nocwd",  # RETR branding/acme/acme-bg.jpg
    ],
)
def test_a_polycom_background_can_be_fetched_over_ftp_with_curl(branded, ftp_method):
    """Polycom phones boot over FTP and fetch a background from the boot server."""
    curl = need("curl")
    url = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{branded.ftp_port}/branding/acme/acme-bg.jpg"
    result = subprocess.run(
        [curl, "-s", "-S", "-v", "--ftp-method", ftp_method, url], capture_output=True, timeout=10
    )
    dialogue = [
        line
        for line in result.stderr.decode(errors="replace").splitlines()
        if line[:2] in ("> ", "< ")
    ]
    assert result.returncode == 0, f"curl --ftp-method {ftp_method}: {dialogue}"
    assert result.stdout == content("art/acme-bg.jpg")


def test_a_polycom_background_over_ftp_with_ftplib(branded):
    client = ftplib.FTP()
    client.connect("127.0.0.1", branded.ftp_port, timeout=10)
    client.login("PlcmSpIp", "PlcmSpIp")
    try:
        expected = content("art/night-bg.jpg")
        assert client.size("branding/night/night-bg.jpg") == len(expected)
        buffer = io.BytesIO()
        client.retrbinary("RETR branding/night/night-bg.jpg", buffer.write)
        assert buffer.getvalue() == expected
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            client.retrbinary("RETR branding/night/acme-bg.jpg", buffer.write)
    finally:
        client.quit()


# -- Polycom


def polycom_boot(server: RunningServer, mac: str) -> tuple[PolycomPhone, dict[str, bytes]]:
    """Boot an IP 650 over HTTP; returns it and the bodies of the files it read."""
    phone = PolycomPhone(mac=mac, model="SPIP_650")
    bodies: dict[str, bytes] = {}
    with http(server) as client:

        def fetch(name: str) -> bytes | None:
            response = client.get(f"/{name}", headers={"User-Agent": phone.user_agent})
            if response.status_code != 200:
                return None
            bodies[name] = response.content
            return response.content

        def upload(name: str, data: bytes, append: bool) -> bool:
            return client.put(f"/{name}", content=data).status_code == 204

        phone.boot(fetch, upload)
        background = phone.settings.get(BACKGROUND)
        if background:  # the phone shows it: it fetches it from the boot server
            picture = fetch(background)
            assert picture is not None, f"{background} named but not served"
    return phone, bodies


def test_the_ip650_site_file_names_the_sites_background_and_carries_its_setting(branded):
    phone, bodies = polycom_boot(branded, POLYCOM)
    site_file = parse_parameters(bodies[f"{POLYCOM}-site.cfg"])
    assert site_file[BACKGROUND] == "branding/acme/acme-bg.jpg"
    # the set's raw key sits above the site's (101) and replaces the derived value in place
    assert site_file["tone.dtmf.rfc2833Payload"] == "96"
    assert "tone.dtmf.rfc2833Payload" not in parse_parameters(bodies[f"{POLYCOM}-reg.cfg"])
    # as the phone ends up, first file winning
    assert phone.settings[BACKGROUND] == "branding/acme/acme-bg.jpg"
    assert phone.settings["tone.dtmf.rfc2833Payload"] == "96"
    assert phone.settings["up.welcome.sound.enabled"] == "0"  # a raw key of the set
    assert phone.line(1)["address"] == "201"
    assert bodies["branding/acme/acme-bg.jpg"] == content("art/acme-bg.jpg")


def test_a_phones_own_set_replaces_the_sites_for_the_ip650(branded):
    phone, bodies = polycom_boot(branded, POLYCOM_NIGHT)
    site_file = parse_parameters(bodies[f"{POLYCOM_NIGHT}-site.cfg"])
    assert site_file[BACKGROUND] == "branding/night/night-bg.jpg"
    assert site_file["tone.dtmf.rfc2833Payload"] == "97"
    assert "up.welcome.sound.enabled" not in phone.settings  # the site's set is not merged in
    assert bodies["branding/night/night-bg.jpg"] == content("art/night-bg.jpg")


# -- Aastra


def test_the_aastra_mac_cfg_carries_the_sets_settings_and_the_phones_own_keys_win(branded):
    phone = AastraPhone(mac=AASTRA, model="6757i")
    with http(branded) as client:
        phone.boot(phone.over_http(client))
        own = client.get(f"/{AASTRA}.cfg", headers={"User-Agent": phone.user_agent})
        common = client.get("/aastra.cfg")
    assert phone.fetched == [("aastra.cfg", 200), ("6757i.cfg", 200), (f"{AASTRA}.cfg", 200)]
    assert phone.settings["web interface title"] == "Reception"  # phone over set over site
    assert phone.settings["sip silence suppression"] == "1"  # set over site
    assert phone.line(1)["user name"] == "301"
    in_file = parse_aastra(own.text)
    assert in_file["web interface title"] == "Reception"
    assert in_file["sip silence suppression"] == "1"
    assert own.text.lower().count("web interface title") == 1
    assert "ACME" not in own.text
    # aastra.cfg is asked for anonymously: it can carry no site's branding
    assert common.status_code == 200
    assert "web interface title" not in common.text.lower()


# -- Cisco


def cisco_boot(server: RunningServer, mac: str) -> tuple[Cisco7960, Image.Image, bytes]:
    """A 7960's configuration (over HTTP: the resolver is the same for TFTP) and its logo."""
    phone = Cisco7960(mac=mac)
    with http(server) as client:

        def fetch(name: str) -> tuple[int, bytes]:
            response = client.get(name if "://" in name else f"/{name}")
            return response.status_code, response.content

        phone.boot(fetch)
        logo = phone.logo(fetch)
        raw = fetch(f"cisco/logo-{mac}.bmp")[1]
    return phone, logo, raw


def test_each_7960_logo_comes_from_its_own_branding_set(branded):
    own_phone, own_logo, own_raw = cisco_boot(branded, CISCO_NIGHT)
    site_phone, site_logo, site_raw = cisco_boot(branded, CISCO)
    for phone, mac in ((own_phone, CISCO_NIGHT), (site_phone, CISCO)):
        assert phone.settings["logo_url"] == f"{branded.base}/cisco/logo-{mac}.bmp"
    for logo in (own_logo, site_logo):
        assert logo.format == "BMP" and logo.size == (90, 56) and logo.mode in ("L", "P")
    # night's logo is black, acme's light grey; both fill the 90x56 screen
    own_mean = ImageStat.Stat(own_logo.convert("L")).mean[0]
    site_mean = ImageStat.Stat(site_logo.convert("L")).mean[0]
    assert own_mean < 10, own_mean
    assert 190 < site_mean < 210, site_mean
    assert own_raw != site_raw


# -- export and apply


def test_export_then_apply_of_the_export_changes_nothing(branded, tmp_path):
    exported = tmp_path / "exported.yaml"
    run_cli("export", "-o", str(exported), data=branded.data)
    text = exported.read_text()
    acme_logo = hashlib.sha256(content("art/acme-logo.png")).hexdigest()
    acme_bg = hashlib.sha256(content("art/acme-bg.jpg")).hexdigest()
    assert f"sha256:{acme_logo}" in text
    assert acme_bg in text and "acme-bg.jpg" in text
    assert "branding: night" in text and "branding: acme" in text
    again = run_cli("apply", str(exported), data=branded.data)
    assert again.stdout.strip() == "no changes", again.stdout
    # and the original file, applied a second time, is a no-op as well
    original = run_cli("apply", str(branded.inventory), data=branded.data)
    assert original.stdout.strip() == "no changes", original.stdout
    assert run_cli("export", data=branded.data).stdout == text


# -- bad input


BAD_ENTRIES = {
    # name: (replacement of the acme set's files line, expected message)
    "stored-name-climbs": (
        "    files: [{{name: ../acme-bg.jpg, sha256: {acme_bg}}}]",
        "'../acme-bg.jpg' is not a valid file name",
    ),
    "stored-name-has-a-folder": (
        "    files: [{{name: art/acme-bg.jpg, sha256: {acme_bg}}}]",
        "'art/acme-bg.jpg' is not a valid file name",
    ),
    "stored-name-has-a-backslash": (
        "    files: [{{name: 'art\\acme-bg.jpg', sha256: {acme_bg}}}]",
        "is not a valid file name",
    ),
    "name-with-a-space": ("    files: ['acme bg.jpg']", "'acme bg.jpg' is not a usable file name"),
    "name-with-a-backslash": ("    files: ['art\\acme-bg.jpg']", "is not a usable file name"),
    # a file of the server's disk, outside the inventory's folder, would be served to anyone
    "file-outside-the-inventory-folder": (
        "    files: [../outside/relative-secret.txt]",
        "../outside/relative-secret.txt",
    ),
    "absolute-path": ("    files: [{outside}/absolute-secret.txt]", "absolute-secret.txt"),
    "unknown-stored-digest": (
        "    files: [{{name: acme-bg.jpg, sha256: {unknown}}}]",
        f"no stored file sha256:{'ab' * 32} (acme-bg.jpg)",
    ),
    "missing-file": (
        "    files: [art/missing.jpg]",
        "cannot read art/missing.jpg: No such file or directory",
    ),
    "two-files-of-one-name": (
        "    files: [art/acme-bg.jpg, ring.raw, other/acme-bg.jpg]",
        "two files of the set have the same name",
    ),
}


def bad_inventory(server: RunningServer, files_line: str) -> tuple[Path, int, int]:
    """The inventory with the acme set's ``files:`` line replaced; returns the file and
    the line and column of the first entry of that line (1-based)."""
    root: Path = server.root  # type: ignore[attr-defined]
    lines = INVENTORY.format(public_url=server.base).splitlines()
    at = lines.index("    files: [art/acme-bg.jpg, ring.raw]")
    lines[at] = files_line
    text = "\n".join(lines) + "\n"
    path = root / "bad.yaml"
    path.write_text(text)
    return path, at + 1, files_line.index("[") + 2


@pytest.mark.parametrize("case", list(BAD_ENTRIES))
def test_bad_branding_files_are_refused_with_their_place_and_change_nothing(refusing, case):
    root: Path = refusing.root  # type: ignore[attr-defined]
    (root / "other").mkdir(exist_ok=True)
    (root / "other" / "acme-bg.jpg").write_bytes(b"another picture")
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    for name in ("relative-secret.txt", "absolute-secret.txt"):
        (outside / name).write_text(f"{name}: not for phones\n")
    template, expected = BAD_ENTRIES[case]
    acme_bg = hashlib.sha256(content("art/acme-bg.jpg")).hexdigest()
    files_line = template.format(acme_bg=acme_bg, outside=outside, unknown="ab" * 32)
    before = run_cli("export", data=refusing.data).stdout
    path, line, column = bad_inventory(refusing, files_line)
    result = run_cli("apply", str(path), data=refusing.data, check=False)
    if result.returncode == 0:
        served = []
        with http(refusing) as client:
            for name in re.findall(r"([\w.-]+)[\]}]*$", files_line):
                response = client.get(f"/branding/acme/{name}")
                served.append(f"GET /branding/acme/{name}: {response.status_code} "
                              f"{response.content[:40]!r}")  # fmt: skip
        raise AssertionError(f"{case} was accepted:\n{result.stdout}" + "\n".join(served))
    places = re.findall(rf"^error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", result.stderr, re.M)
    assert places, result.stderr
    assert any(int(found_line) == line for found_line, _, _ in places), (line, result.stderr)
    assert any(expected in message for _, _, message in places), result.stderr
    if case != "two-files-of-one-name":  # that one is the list's, not an entry's
        assert any(int(found_column) >= column for _, found_column, _ in places), result.stderr
    assert "nothing was changed" in result.stderr
    assert run_cli("export", data=refusing.data).stdout == before


@pytest.mark.parametrize(
    ("owner", "old", "new"),
    [
        ("site", "    branding: acme", "    branding: sunrise"),
        (
            "phone",
            'lines: ["202"], branding: night}',
            'lines: ["202"], branding: sunrise}',
        ),
    ],
)
def test_an_unknown_branding_set_is_refused(refusing, owner, old, new):
    root: Path = refusing.root  # type: ignore[attr-defined]
    text = INVENTORY.format(public_url=refusing.base)
    assert old in text
    text = text.replace(old, new, 1)
    path = root / f"unknown-{owner}.yaml"
    path.write_text(text)
    before = run_cli("export", data=refusing.data).stdout
    result = run_cli("apply", str(path), data=refusing.data, check=False)
    assert result.returncode != 0, result.stdout
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "sunrise" in row)
    places = re.findall(rf"^error: {re.escape(str(path))}:(\d+):(\d+): (.*)$", result.stderr, re.M)
    assert any("unknown branding set 'sunrise'" in message for _, _, message in places), (
        result.stderr
    )
    # the place is the entry that names the set (the site's or the phone's)
    starts = {"site": "  - name: hq", "phone": "  - {mac: 00:04:f2:00:06:08"}
    entry = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(starts[owner]))
    assert any(int(found) in (line, entry) for found, _, _ in places), result.stderr
    assert "nothing was changed" in result.stderr
    assert run_cli("export", data=refusing.data).stdout == before

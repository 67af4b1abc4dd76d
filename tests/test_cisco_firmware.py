"""Cisco 7940/7960 firmware and branding: release files, the files that follow a pin, the
SCCP -> SIP step of an emulated 7960.

Views are built by hand; the fake server below plays the resolver's part (it remembers
which MAC an address named, hands SHARED files the asker's view, and applies the core's
checks before :meth:`offer_firmware`), so the plug-in is tested without a store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

import defusedxml.ElementTree as SafeET
import pytest

from plugtone.vendors.base import (
    BrandingView,
    FileRef,
    FileScope,
    FirmwareDevice,
    FirmwareFile,
    FirmwareView,
    PhoneView,
)
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from tests.emulators.cisco import Cisco7960, parse_cnf, parse_load_information
from tests.test_cisco_render import MAC, branded, cnf, device, phone, png, release

PLUGIN = Cisco79xxPlugin()
IMAGE = "P0S3-8-12-00"
LOADER = "P003-8-12-00"
SCCP_LOAD = "P00303020214"
RELEASE_NAMES = [f"{IMAGE}.loads", f"{IMAGE}.sb2", f"{LOADER}.sbn", f"{LOADER}.bin"]


def shared(name: str, view: PhoneView | None) -> bytes | None:
    return PLUGIN.render(FileRef("cisco79xx", name, FileScope.SHARED), view, None)


def firmware_ref(name: str, version: str | None = None) -> FileRef:
    return FileRef("cisco79xx", name, FileScope.FIRMWARE, version=version)


UNKNOWN = FirmwareDevice(running_version=None, delivered=False, attempts=0)


# -- roles and releases


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("P0S3-8-12-00.loads", "loads"),
        ("p0s3-8-12-00.LOADS", "loads"),
        ("P0S3-8-12-00.sb2", "application"),
        ("P003-8-12-00.sbn", "loader"),
        ("P003-8-12-00.bin", "loader-bin"),
        ("P0S3-07-4-00.bin", "application-bin"),  # older zips shipped the SIP image as .bin
        ("cmterm-7940-7960-sip.8-12-00/P0S3-8-12-00.loads", "loads"),  # a zip member
        ("zip\\P003-8-12-00.sbn", "loader"),
        ("P00308010200.loads", "loads"),  # an SCCP load has a role; check_release refuses it
        ("OS79XX.TXT", None),  # plugtone writes it from the pin
        ("readme.txt", None),
        ("P0040302.bin", None),  # a 7910 image (platform 4)
        ("SIP41.8-5-4S.loads", None),  # a 7941's
        ("6757i.st", None),
        ("P0S3-8-12-00", None),
        (".loads", None),
    ],
)
def test_firmware_roles(name, role):
    assert PLUGIN.firmware_role(name) == role


def test_a_complete_sip_release_has_no_problems():
    assert PLUGIN.check_release(["7940", "7960"], RELEASE_NAMES) == []
    # any case, in folders, with the zip's other files, without the unsigned loader
    names = ["zip/p0s3-8-12-00.LOADS", "zip/P0S3-8-12-00.SB2", "zip/P003-8-12-00.sbn",
             "zip/OS79XX.TXT", "zip/readme.html"]  # fmt: skip
    assert PLUGIN.check_release(["7960"], names) == []


@pytest.mark.parametrize(
    ("models", "names", "expected"),
    [
        (["7960"], RELEASE_NAMES[1:], ["no .loads file"]),
        (["7960"], [*RELEASE_NAMES, "P0S3-8-11-00.loads"], ["more than one .loads"]),
        (["7960"], [n for n in RELEASE_NAMES if not n.endswith(".sb2")], ["no P0S3-8-12-00.sb2"]),
        (["7960"], [f"{IMAGE}.loads", f"{IMAGE}.sb2", f"{LOADER}.bin"], ["no loader (.sbn"]),
        (["7960"], [*RELEASE_NAMES, "P003-8-11-00.sbn"], ["more than one loader"]),
        (
            ["7960"],
            ["P0S3-8-12-00.loads", "P0S3-8-11-00.sb2", "P003-8-12-00.sbn"],
            ["no P0S3-8-12-00.sb2"],
        ),
        (
            ["7960"],
            ["P00308010200.loads", "P00308010200.sb2", "P00308010200.sbn"],
            ["P00308010200 is not a SIP image"],
        ),
        (["6757i", "7960"], RELEASE_NAMES, ["6757i is not a Cisco 7940/7960 model"]),
    ],
)
def test_release_problems_are_named(models, names, expected):
    problems = PLUGIN.check_release(models, names)
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected, strict=True):
        assert problem.startswith(start), problem


def test_versions_are_compared_as_cisco_writes_them():
    assert PLUGIN.version_matches("P0S3-08-12-00", "P0S3-8-12-00")
    assert PLUGIN.version_matches("8.12", "P0S3-8-12-00")
    assert PLUGIN.version_matches("p0s3-8-12-00 ", "8-12")
    assert not PLUGIN.version_matches("8.11", "8.12")
    assert not PLUGIN.version_matches("P0S3-8-11-00", "P0S3-8-12-00")


# -- matching and offering image files


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("P0S3-8-12-00.loads", "P0S3-8-12-00.loads"),
        ("/P0S3-8-12-00.sb2", "P0S3-8-12-00.sb2"),
        ("p003-8-12-00.SBN", "p003-8-12-00.SBN"),
        ("P003-8-12-00.bin", "P003-8-12-00.bin"),
        ("firmware/8.12/P0S3-8-12-00.loads", "P0S3-8-12-00.loads"),
        ("cisco/P003-8-12-00.sbn", "P003-8-12-00.sbn"),
    ],
)
def test_image_files_are_firmware_named_as_asked(path, name):
    ref = PLUGIN.match(path)
    assert ref == FileRef("cisco79xx", name, FileScope.FIRMWARE)
    assert PLUGIN.render(ref, phone(firmware=release()), None) is None  # never rendered


@pytest.mark.parametrize(
    "path", ["../P0S3-8-12-00.loads", "a//P0S3-8-12-00.sb2", "./P003-8-12-00.sbn", "x.sb2"]
)
def test_odd_image_paths_are_not_matched(path):
    assert PLUGIN.match(path) is None


def test_offer_serves_the_pinned_release_file_to_its_models_only():
    pinned = phone(firmware=release())
    offered = PLUGIN.offer_firmware(firmware_ref("p0s3-8-12-00.LOADS"), pinned, UNKNOWN)
    assert offered is not None and offered.name == "P0S3-8-12-00.loads"
    assert PLUGIN.offer_firmware(firmware_ref("P003-8-12-00.sbn"), pinned, UNKNOWN).size == 102
    assert PLUGIN.offer_firmware(firmware_ref("P0S3-8-11-00.sb2"), pinned, UNKNOWN) is None
    assert PLUGIN.offer_firmware(firmware_ref(f"{IMAGE}.loads"), phone(), UNKNOWN) is None
    only_7940 = phone(firmware=release(models=("7940",)))
    assert PLUGIN.offer_firmware(firmware_ref(f"{IMAGE}.loads"), only_7940, UNKNOWN) is None
    foreign = phone(firmware=replace(release(), vendor="aastra"))
    assert PLUGIN.offer_firmware(firmware_ref(f"{IMAGE}.loads"), foreign, UNKNOWN) is None
    versioned = firmware_ref(f"{IMAGE}.loads", version="8.11")
    assert PLUGIN.offer_firmware(versioned, pinned, UNKNOWN) is None


# -- files that follow the pin


def test_os79xx_names_the_pinned_image_only_for_a_known_pinned_phone():
    assert shared("OS79XX.TXT", phone(firmware=release())) == b"P0S3-8-12-00\n"
    assert shared("OS79XX.TXT", phone(firmware=release("P0S3-8-11-00"))) == b"P0S3-8-11-00\n"
    assert shared("OS79XX.TXT", phone()) is None  # no pin: leave the firmware alone
    assert shared("OS79XX.TXT", None) is None  # unknown asker
    assert shared("OS79XX.TXT", phone(firmware=release(models=("7940",)))) is None
    assert shared("OS79XX.TXT", phone(firmware=replace(release(), vendor="aastra"))) is None
    without_loads = replace(release(), files=release().files[1:])
    assert shared("OS79XX.TXT", phone(firmware=without_loads)) is None


def load_elements(body: bytes) -> dict[str, tuple[str | None, str | None]]:
    root = SafeET.fromstring(body)
    assert root.tag == "Default"
    return {element.tag: (element.get("model"), element.text) for element in root}


def test_xml_default_names_the_pinned_image_for_the_askers_model_only():
    body = shared("XMLDefault.cnf.xml", phone(firmware=release()))
    assert load_elements(body) == {"loadInformation7": ("IP Phone 7960", IMAGE)}
    body = shared("XMLDefault.cnf.xml", phone(model="7940", firmware=release()))
    assert load_elements(body) == {"loadInformation8": ("IP Phone 7940", IMAGE)}
    assert parse_load_information(body, "7940") == IMAGE  # as the emulated phone reads it
    for view in (None, phone(), phone(model="7960", firmware=release(models=("7940",)))):
        assert load_elements(shared("XMLDefault.cnf.xml", view)) == {}


def test_image_version_is_the_pin_in_the_phone_file_and_never_in_the_common_one():
    assert cnf(phone(firmware=release()))["image_version"] == IMAGE
    assert "image_version" not in cnf(phone())
    assert "image_version" not in cnf(phone(firmware=release(models=("7940",))))
    defaults = PLUGIN.render(FileRef("cisco79xx", "SIPDefault.cnf", FileScope.COMMON), None, None)
    assert "image_version" not in parse_cnf(defaults.decode())
    # a raw image_version is still the admin's escape hatch, and wins over the pin
    raw = phone(firmware=release(), phone_settings={"image_version": "P0S3-8-11-00"})
    assert cnf(raw)["image_version"] == "P0S3-8-11-00"


# -- branding


def test_branding_settings_reach_the_phone_file_and_raw_keys_win():
    brand = BrandingView(
        "acme",
        vendor_settings={
            "cisco79xx": {"telnet_level": "1", "phone_prompt": "ACME", "time_zone": "EST"},
            "aastra": {"sip screen name": "not for Cisco"},
        },
    )
    view = phone(
        branding=brand,
        site=replace(phone().site, vendor_settings={"cisco79xx": {"phone_prompt": "Site"}}),
        model_settings={"telnet_level": "2"},
    )
    settings = cnf(view)
    assert settings["phone_prompt"] == "ACME"  # branding over site
    assert settings["telnet_level"] == "2"  # model over branding
    assert settings["time_zone"] == "EST"  # branding over the derived key
    assert "sip screen name" not in settings


def test_logo_comes_from_branding():
    view = phone(branding=branded(png()))
    assert cnf(view)["logo_url"] == f"http://192.168.0.20/_asterisk/cisco/logo-{MAC}.bmp"
    assert device("logo.bmp", view)[:2] == b"BM"
    for view in (phone(), phone(branding=BrandingView("files-only"))):
        assert "logo_url" not in cnf(view)
        assert device("logo.bmp", view) is None


# -- the emulated SCCP -> SIP step


def release_files(image: str = IMAGE, listing: str | None = None) -> dict[str, bytes]:
    """Release contents: a ``.loads`` listing the loader and application, one a line."""
    if listing is None:
        listing = f"{LOADER}.sbn\n{image}.sb2\n"
    return {
        f"{image}.loads": listing.encode(),
        f"{image}.sb2": f"application {image}".encode(),
        f"{LOADER}.sbn": b"signed loader",
        f"{LOADER}.bin": b"unsigned loader",
    }


def stored_release(contents: dict[str, bytes], models=("7940", "7960")) -> FirmwareView:
    files = tuple(
        FirmwareFile(name, hashlib.sha256(body).hexdigest(), len(body))
        for name, body in contents.items()
    )
    return FirmwareView("cisco79xx", "8.12", tuple(models), files)


@dataclass
class FakeServer:
    """The resolver's part for one client address, straight over the plug-in."""

    phones: dict[str, PhoneView]
    store: dict[str, bytes] = field(default_factory=dict)
    """Release file contents by SHA-256."""
    remembered: str | None = None
    """The MAC the client's address last named, as the resolver remembers it."""

    def add(self, contents: dict[str, bytes]) -> None:
        self.store.update({hashlib.sha256(body).hexdigest(): body for body in contents.values()})

    def fetch(self, name: str) -> tuple[int, bytes]:
        ref = PLUGIN.match(name)
        if ref is None:
            return 404, b""
        if ref.mac:
            self.remembered = ref.mac
        asker = self.phones.get(ref.mac or self.remembered or "")
        if ref.scope is FileScope.FIRMWARE:
            release_ = asker.firmware if asker else None
            if asker is None or release_ is None or asker.model not in release_.models:
                return 404, b""
            offered = PLUGIN.offer_firmware(ref, asker, UNKNOWN)
            return (200, self.store[offered.sha256]) if offered else (404, b"")
        if ref.scope is FileScope.DEVICE and asker is None:
            return 404, b""
        view = asker if ref.scope in (FileScope.DEVICE, FileScope.SHARED) else None
        content = PLUGIN.render(ref, view, None)
        return (200, content) if content is not None else (404, b"")


def pinned_server(contents: dict[str, bytes], **overrides) -> FakeServer:
    view = phone(firmware=stored_release(contents), **overrides)
    server = FakeServer({view.mac: view})
    server.add(contents)
    return server


SIP_BOOT = [
    ("OS79XX.TXT", 200),
    ("SIPDefault.cnf", 200),
    (f"SIP{MAC}.cnf", 200),
    (f"dialplan{MAC}.xml", 200),
]


def test_sccp_7960_loads_the_pinned_sip_image_and_then_stays_on_it():
    server = pinned_server(release_files())
    emulated = Cisco7960(MAC, running=SCCP_LOAD)
    emulated.boot_sccp(server.fetch)
    assert emulated.fetched == [
        (f"CTLSEP{MAC}.tlv", 404),
        (f"SEP{MAC}.cnf.xml", 404),
        (f"SIP{MAC}.cnf", 200),  # names the MAC: from here on plugtone knows the asker
        (f"MGC{MAC}.cnf", 404),
        ("XMLDefault.cnf.xml", 200),
        ("OS79XX.TXT", 200),
        (f"{IMAGE}.loads", 200),
        (f"{LOADER}.sbn", 200),
        (f"{IMAGE}.sb2", 200),
        *SIP_BOOT,  # rebooted on SIP
    ]
    assert emulated.load_information == emulated.image == IMAGE
    assert emulated.installed == [IMAGE] and emulated.running == IMAGE and emulated.on_sip
    assert emulated.settings["image_version"] == IMAGE
    assert emulated.line(1)["name"] == "208"
    emulated.fetched.clear()
    emulated.boot(server.fetch)  # the next power-on fetches no firmware
    assert emulated.fetched == SIP_BOOT and emulated.installed == [IMAGE]


def test_a_loads_naming_no_file_makes_the_phone_fetch_the_application():
    server = pinned_server(release_files(listing="opaque signed blob"))
    emulated = Cisco7960(MAC, running=SCCP_LOAD)
    emulated.boot_sccp(server.fetch)
    names = [name for name, _ in emulated.fetched]
    assert names[6:8] == [f"{IMAGE}.loads", f"{IMAGE}.sb2"]
    assert emulated.installed == [IMAGE]


def test_a_new_pin_is_installed_once_by_the_sip_image():
    contents = {**release_files(), **release_files("P0S3-8-11-00")}
    server = pinned_server(contents)
    emulated = Cisco7960(MAC, running=IMAGE)
    view = server.phones[MAC]
    older = {name: body for name, body in contents.items() if "8-11" in name or "P003" in name}
    server.phones[MAC] = replace(view, firmware=stored_release(older))
    emulated.boot(server.fetch)
    assert emulated.installed == ["P0S3-8-11-00"]
    assert emulated.settings["image_version"] == emulated.running == "P0S3-8-11-00"
    assert [name for name, _ in emulated.fetched].count("P0S3-8-11-00.loads") == 1


def test_unpinned_or_unknown_sccp_phones_are_left_alone():
    server = FakeServer({MAC: phone()})
    for mac in (MAC, "00115C93AFFF"):  # assigned without a pin; not in the inventory
        emulated = Cisco7960(mac, running=SCCP_LOAD)
        emulated.boot_sccp(server.fetch)
        assert emulated.load_information is None and emulated.image is None
        assert emulated.installed == [] and emulated.running == SCCP_LOAD
        assert not any(name.endswith(".loads") for name, _ in emulated.fetched)


def test_firmware_never_reaches_a_model_its_release_is_not_for():
    contents = release_files()
    view = phone(model="7940", firmware=stored_release(contents, models=("7960",)))
    server = FakeServer({MAC: view})
    server.add(contents)
    emulated = Cisco7960(MAC, model="7940", running=SCCP_LOAD)
    emulated.boot_sccp(server.fetch)
    assert emulated.load_information is None and emulated.image is None
    assert emulated.installed == []
    assert server.fetch(f"{IMAGE}.loads") == (404, b"")  # asked for anyway: not found
    assert PLUGIN.offer_firmware(firmware_ref(f"{IMAGE}.loads"), view, UNKNOWN) is None


def test_a_missing_release_file_leaves_the_phone_on_its_load():
    contents = release_files()
    server = pinned_server(contents)
    del server.store[hashlib.sha256(contents[f"{LOADER}.sbn"]).hexdigest()]
    server.phones[MAC] = replace(
        server.phones[MAC],
        firmware=stored_release({k: v for k, v in contents.items() if not k.endswith(".sbn")}),
    )
    emulated = Cisco7960(MAC, running=SCCP_LOAD)
    emulated.boot_sccp(server.fetch)
    assert emulated.failed == [IMAGE] and emulated.running == SCCP_LOAD
    assert (f"{LOADER}.sbn", 404) in emulated.fetched

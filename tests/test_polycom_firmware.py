"""Polycom firmware and branding, on the plug-in alone: roles, part numbers, the seed's
version window, the paths phones ask for, the master file's APP_FILE_PATH, and the
emulated BootROM's compare-and-flash against a small stand-in for the resolver."""

from __future__ import annotations

import hashlib

import pytest
from defusedxml import ElementTree as SafeET

from plugtone.vendors.base import (
    BrandingFile,
    BrandingView,
    FileRef,
    FileScope,
    FirmwareDevice,
    FirmwareFile,
    FirmwareView,
    LineView,
    PhoneView,
    SiteView,
)
from plugtone.vendors.polycom import PolycomPlugin
from plugtone.vendors.polycom.models import MODELS
from tests.emulators.polycom import BootFailed, PolycomPhone, fake_image, parse_parameters

PLUGIN = PolycomPlugin()
MAC = "0004F2000607"
IP650 = "2345-12600-001"
IP335 = "2345-12375-001"
NEW_DEVICE = FirmwareDevice(running_version=None, delivered=False, attempts=0)


def site(**overrides) -> SiteView:
    values = {"name": "hq", "sip_server": "10.0.0.5"}
    values.update(overrides)
    return SiteView(**values)


def phone(model: str = "IP650", **overrides) -> PhoneView:
    values = {
        "mac": MAC,
        "model": model,
        "vendor": "polycom",
        "site": site(),
        "lines": (LineView(1, "201", "Ann", "201", "pw201"),),
        "keys": (),
    }
    values.update(overrides)
    return PhoneView(**values)


def release(
    version: str, names: tuple[str, ...], models: tuple[str, ...] = ("IP650", "IP335")
) -> tuple[FirmwareView, dict[str, bytes]]:
    """A release and its files' bytes by SHA-256, as the firmware store would keep them."""
    files, blobs = [], {}
    for name in names:
        content = fake_image(version) if name.endswith(".ld") else version.encode()
        digest = hashlib.sha256(name.encode() + content).hexdigest()
        files.append(FirmwareFile(name, digest, len(content)))
        blobs[digest] = content
    return FirmwareView("polycom", version, models, tuple(files)), blobs


SPLIT, SPLIT_BLOBS = release(
    "3.2.7.0184", (f"{IP650}.sip.ld", f"{IP335}.sip.ld", "sip.ver", "bootrom.ld")
)
COMBINED, COMBINED_BLOBS = release("3.2.7.0184", ("sip.ld", "sip.ver"))


def render(name: str, view: PhoneView | None) -> bytes:
    ref = PLUGIN.match(name)
    assert ref is not None, name
    content = PLUGIN.render(ref, view if ref.scope is FileScope.DEVICE else None, None)
    assert content is not None, name
    return content


def application(view: PhoneView) -> dict[str, str]:
    return dict(SafeET.fromstring(render("0004f2000607.cfg", view)).attrib)


# -- part numbers and roles


def test_every_model_has_its_own_part_number():
    numbers = {model.spec.name: model.part_number for model in MODELS}
    assert numbers["IP650"] == IP650  # as docs/phone-formats.md gives it
    assert numbers["IP335"] == IP335
    assert all(numbers.values())
    assert len(set(numbers.values())) == len(numbers)


@pytest.mark.parametrize(
    ("name", "role"),
    [
        ("sip.ld", "application"), ("SIP.LD", "application"),
        (f"{IP650}.sip.ld", "application"), (f"{IP335}.SIP.LD", "application"),
        ("bootrom.ld", "bootrom"), (f"{IP650}.bootrom.ld", "bootrom"),
        ("sip.ver", "version"), ("BootROM.ver", "version"),
        ("9999-99999-999.sip.ld", None),  # a part number of no model plugtone knows
        ("2345-12670-001.sip.ld", None),  # IP 670: a real number, but not a listed model
        ("sip.cfg", "configuration"), ("Phone1.CFG", "configuration"),  # stock files
        ("reg-advanced.cfg", "configuration"), ("000000000000.cfg", "master"),
        ("0004f2000607.cfg", None), ("000000000000-directory~.xml", None),  # not a release's
        ("x/sip.cfg", None), ("sip.cfg.bak", None),
        ("Leaf.jpg", None), ("sip_327.ld", None),
        ("sip.ld.bak", None), ("x/sip.ld", None), ("sip.ld\n", None), ("", None),
    ],
)  # fmt: skip
def test_firmware_roles(name, role):
    assert PLUGIN.firmware_role(name) == role


# -- releases


def test_a_combined_or_split_release_covers_each_model_it_has_an_image_for():
    assert PLUGIN.check_release(["IP650", "IP335"], ["sip.ld", "sip.ver"]) == []
    assert PLUGIN.check_release(["IP650", "IP335"], [f"{IP650}.SIP.LD", f"{IP335}.sip.ld"]) == []
    problems = PLUGIN.check_release(["IP650", "IP335", "SSIP7000"], [f"{IP650}.sip.ld"])
    assert len(problems) == 2
    assert problems[0].startswith("IP335:") and f"{IP335}.sip.ld" in problems[0]
    assert problems[1].startswith("SSIP7000:") and "3111-40000-001.sip.ld" in problems[1]


def test_a_bootrom_alone_is_no_application():
    problems = PLUGIN.check_release(["IP650"], ["bootrom.ld", "bootrom.ver"])
    assert problems == [
        "IP650: the release has no application for it (sip.ld or 2345-12600-001.sip.ld)"
    ]


def _pin(version: str) -> FirmwareView:
    return FirmwareView("polycom", version, ("IP650",), ())


@pytest.mark.parametrize("version", ["3.2.7", "3.2.7.0184", "3.2.7.0198", "3.3.0", "3.3.3.0069"])
def test_releases_within_the_seeds_window_carry_no_risk(version):
    assert PLUGIN.pin_risks(_pin(version)) == []


@pytest.mark.parametrize("version", ["3.2.6", "3.2.6.9999", "3.1.3.0439", "3.2", "2.2.2"])
def test_a_release_below_the_seeds_floor_is_a_risk_naming_floor_and_source(version):
    (risk,) = PLUGIN.pin_risks(_pin(version))
    assert "3.2.7" in risk and "seed" in risk and version in risk


@pytest.mark.parametrize("version", ["3.3.4", "4.0.15.1009", "5.9.6.2327"])
def test_a_release_newer_than_the_seed_supports_is_a_risk_it_may_not_come_back_from(version):
    (risk,) = PLUGIN.pin_risks(_pin(version))
    assert "3.3.3" in risk and "downgrade" in risk and "seed" in risk


@pytest.mark.parametrize("version", ["beta", "3.2.7-rc1", "v3.2.7"])
def test_a_version_that_cannot_be_compared_is_a_risk(version):
    (risk,) = PLUGIN.pin_risks(_pin(version))
    assert "3.2.7" in risk and "cannot tell" in risk


def test_a_reported_build_matches_the_release_it_belongs_to():
    assert PLUGIN.version_matches("3.2.7.0184", "3.2.7")
    assert PLUGIN.version_matches("3.2.7.0184", "3.2.7.184")  # numbers, not strings
    assert PLUGIN.version_matches("3.2.7.0184", "3.2.7.0184")
    assert not PLUGIN.version_matches("3.2.7.0198", "3.2.7.0184")
    assert not PLUGIN.version_matches("3.2.8.0001", "3.2.7")
    assert not PLUGIN.version_matches("4.2.1.0275", "3.2.7")  # a BootROM's version
    assert not PLUGIN.version_matches("3.2.7.0184", "3.2")  # too short to stand for a release
    assert PLUGIN.version_matches("Custom", "custom")


# -- paths


def test_versioned_paths_name_a_release_file():
    ref = PLUGIN.match(f"firmware/3.2.7.0184/{IP650}.sip.ld")
    assert ref == FileRef(
        "polycom", f"{IP650}.sip.ld", FileScope.FIRMWARE, model="IP650", version="3.2.7.0184"
    )
    combined = PLUGIN.match("FIRMWARE/3.2.7+b1/SIP.LD")
    assert combined == FileRef("polycom", "sip.ld", FileScope.FIRMWARE, version="3.2.7+b1")
    assert PLUGIN.match("firmware/v3_2-7/bootrom.ver").version == "v3_2-7"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("bootrom.ld", None), (f"{IP650}.bootrom.ld", "IP650"), ("bootrom.ver", None),
        ("sip.ver", None), ("Sip.Ld", None), (f"{IP335}.sip.ld", "IP335"),
    ],
)  # fmt: skip
def test_the_bootroms_own_names_at_the_top_are_firmware_without_a_version(name, model):
    ref = PLUGIN.match(name)
    assert ref == FileRef("polycom", name.lower(), FileScope.FIRMWARE, model=model)


@pytest.mark.parametrize(
    "path",
    [
        "firmware/../sip.ld", "firmware/./sip.ld", "firmware/.hidden/sip.ld",
        "firmware/3.2.7/../sip.ld", "firmware/3.2.7/x/sip.ld", "firmware//sip.ld",
        "firmware/3.2.7;rm/sip.ld", "firmware/3 2 7/sip.ld", "firmware/%2e%2e/sip.ld",
        "firmware/3.2.7\\..\\/sip.ld", "firmware/" + "9" * 65 + "/sip.ld",
        "firmware/3.2.7/sip.ld\n", "firmware/3.2.7\n/sip.ld", "/firmware/3.2.7/sip.ld",
        "firmware/3.2.7/sip.cfg", "firmware/3.2.7/9999-99999-999.sip.ld",
        "firmware/3.2.7/0004f2000607.cfg", "other/3.2.7/sip.ld", "firmware/sip.ld",
        "3.2.7/sip.ld", "sip.ld/x", "firmware/3.2.7/sip.ld/", "firmware/3.2.7",
    ],
)  # fmt: skip
def test_hostile_or_foreign_firmware_paths_are_not_matched(path):
    assert PLUGIN.match(path) is None


def test_configuration_names_still_match_as_before():
    assert PLUGIN.match("0004F2000607.cfg").scope is FileScope.DEVICE
    assert PLUGIN.match("000000000000.cfg").scope is FileScope.COMMON
    # stock files are release files at the top, in any case; never under firmware/<v>/
    assert PLUGIN.match("SIP.cfg") == FileRef("polycom", "sip.cfg", FileScope.FIRMWARE)
    assert PLUGIN.is_release_config("sip.cfg") and PLUGIN.is_release_config("PHONE1.CFG")
    assert not PLUGIN.is_release_config("000000000000.cfg")  # the release's master: kept only
    assert not PLUGIN.is_release_config("sip.ld")
    assert PLUGIN.match("firmware/3.2.7.0184/sip.cfg") is None


def test_firmware_is_offered_from_the_pin_and_only_to_its_own_model():
    pinned = phone(firmware=SPLIT)
    own = PLUGIN.offer_firmware(PLUGIN.match(f"{IP650}.sip.ld"), pinned, NEW_DEVICE)
    assert own is not None and own.name == f"{IP650}.sip.ld"
    versioned = PLUGIN.match(f"firmware/3.2.7.0184/{IP650}.sip.ld")
    assert PLUGIN.offer_firmware(versioned, pinned, NEW_DEVICE) == own
    # another model's image, though the release holds it
    assert PLUGIN.offer_firmware(PLUGIN.match(f"{IP335}.sip.ld"), pinned, NEW_DEVICE) is None
    other = PLUGIN.match(f"firmware/3.2.7.0184/{IP335}.sip.ld")
    assert PLUGIN.offer_firmware(other, pinned, NEW_DEVICE) is None
    # another release's path, and a file the release does not have
    stale = PLUGIN.match(f"firmware/3.2.7.0198/{IP650}.sip.ld")
    assert PLUGIN.offer_firmware(stale, pinned, NEW_DEVICE) is None
    assert PLUGIN.offer_firmware(PLUGIN.match("sip.ld"), pinned, NEW_DEVICE) is None
    assert PLUGIN.offer_firmware(PLUGIN.match("bootrom.ld"), pinned, NEW_DEVICE).name == (
        "bootrom.ld"
    )
    assert PLUGIN.offer_firmware(PLUGIN.match("sip.ld"), phone(), NEW_DEVICE) is None


def test_firmware_files_are_never_rendered():
    ref = PLUGIN.match("sip.ld")
    assert PLUGIN.render(ref, phone(firmware=COMBINED), None) is None


# -- the master file


def test_a_pinned_phone_of_a_split_release_gets_its_part_number_image():
    attributes = application(phone(firmware=SPLIT))
    assert attributes["APP_FILE_PATH"] == f"firmware/3.2.7.0184/{IP650}.sip.ld"
    assert PLUGIN.match(attributes["APP_FILE_PATH"]).scope is FileScope.FIRMWARE
    assert application(phone("IP335", firmware=SPLIT))["APP_FILE_PATH"] == (
        f"firmware/3.2.7.0184/{IP335}.sip.ld"
    )


def test_a_pinned_phone_of_a_combined_release_gets_sip_ld():
    assert application(phone(firmware=COMBINED))["APP_FILE_PATH"] == "firmware/3.2.7.0184/sip.ld"
    both, _ = release("3.2.7.0184", ("sip.ld", f"{IP650}.sip.ld"))
    assert application(phone(firmware=both))["APP_FILE_PATH"].endswith(f"/{IP650}.sip.ld")
    assert application(phone("IP335", firmware=both))["APP_FILE_PATH"].endswith("/sip.ld")


def test_the_pin_replaces_raw_application_settings_for_this_model_only():
    raw = {
        "APP_FILE_PATH": "old.ld",
        "APP_FILE_PATH_SPIP650": "650.ld",
        "APP_FILE_PATH_SPIP335": "335.ld",
    }
    view = phone(firmware=SPLIT, site=site(vendor_settings={"polycom": raw}))
    content = render("0004f2000607.cfg", view)
    root = SafeET.fromstring(content)
    pinned = f"firmware/3.2.7.0184/{IP650}.sip.ld"
    assert root.attrib["APP_FILE_PATH"] == pinned
    children = {child.tag: child.attrib for child in root}
    assert children["APPLICATION_SPIP650"]["APP_FILE_PATH_SPIP650"] == pinned
    assert children["APPLICATION_SPIP335"]["APP_FILE_PATH_SPIP335"] == "335.ld"
    assert b"pinned release 3.2.7.0184" in content
    booted = boot(view, {})
    assert booted.application["APP_FILE_PATH"] == pinned  # the model's element agrees


NO_PIN_MASTER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    "<!-- 0004f2000607.cfg: IP650 0004f2000607 at site hq; generated by plugtone; "
    "edit the inventory, not this file -->\n"
    "<!-- no stock files: the site file carries what sip.cfg and phone1.cfg would -->\n"
    '<APPLICATION APP_FILE_PATH="sip.ld" CONFIG_FILES="0004f2000607-reg.cfg, '
    '0004f2000607-site.cfg" MISC_FILES="" LOG_FILE_DIRECTORY="" '
    'OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY="" />\n'
)
COMMON_MASTER = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    "<!-- 000000000000.cfg: for phones plugtone does not know; generated by plugtone; "
    "edit the inventory, not this file -->\n"
    '<APPLICATION APP_FILE_PATH="sip.ld" CONFIG_FILES="" MISC_FILES="" '
    'LOG_FILE_DIRECTORY="" OVERRIDES_DIRECTORY="" CONTACTS_DIRECTORY="" LICENSE_DIRECTORY="" />\n'
)


def test_without_a_pin_the_master_files_list_only_what_is_served():
    assert render("0004f2000607.cfg", phone()).decode() == NO_PIN_MASTER
    assert render("000000000000.cfg", None).decode() == COMMON_MASTER


def test_a_pin_that_does_not_fit_the_phone_leaves_the_image_alone():
    other_models, _ = release("3.2.7.0184", ("sip.ld",), models=("IP335",))
    assert application(phone(firmware=other_models))["APP_FILE_PATH"] == "sip.ld"
    no_image, _ = release("3.2.7.0184", (f"{IP335}.sip.ld",))
    content = render("0004f2000607.cfg", phone(firmware=no_image))
    assert SafeET.fromstring(content).attrib["APP_FILE_PATH"] == "sip.ld"
    assert b"no application for IP650" in content
    unsafe, _ = release("3.2.7/../x", ("sip.ld",))
    assert application(phone(firmware=unsafe))["APP_FILE_PATH"] == "sip.ld"


# -- branding


def test_branding_settings_reach_the_site_and_lines_files():
    branding = BrandingView(
        "acme",
        vendor_settings={
            "polycom": {"up.welcome": "Acme", "tone.dtmf.rfc2833Payload": "96"},
            "aastra": {"sip mode": "1"},
        },
    )
    view = phone(branding=branding, phone_settings={"up.welcome": "Desk 7"})
    booted = boot(view, {})
    assert booted.settings["tone.dtmf.rfc2833Payload"] == "96"  # a site-file parameter
    assert booted.settings["up.welcome"] == "Desk 7"  # the phone's own wins over branding
    assert "sip mode" not in booted.settings


def test_a_branding_picture_becomes_the_background_of_models_that_show_one():
    files = (
        BrandingFile("ring.wav", "a" * 64, 10, "audio/wav"),
        BrandingFile("Logo.png", "b" * 64, 10, "image/png"),
        BrandingFile("Acme.JPG", "c" * 64, 10, "image/jpeg"),
    )
    branding = BrandingView("acme", files=files)
    site_file = parse_parameters(render("0004f2000607-site.cfg", phone(branding=branding)))
    assert site_file["bg.hiRes.gray.bm.1.name"] == "branding/acme/Acme.JPG"
    small = parse_parameters(render("0004f2000607-site.cfg", phone("IP335", branding=branding)))
    assert not any(name.startswith("bg.") for name in small)
    png_only = BrandingView("acme", files=files[:2])
    plain = parse_parameters(render("0004f2000607-site.cfg", phone(branding=png_only)))
    assert not any(name.startswith("bg.") for name in plain)


def test_a_raw_background_replaces_the_derived_one_in_one_file_only():
    branding = BrandingView(
        "acme",
        files=(BrandingFile("acme.jpg", "c" * 64, 10, "image/jpeg"),),
        vendor_settings={
            "polycom": {"bg.hiRes.gray.bm.1.name": "mine.jpg", "bg.hiRes.gray.selection": "3,1"}
        },
    )
    view = phone(branding=branding)
    site_file = parse_parameters(render("0004f2000607-site.cfg", view))
    lines_file = parse_parameters(render("0004f2000607-reg.cfg", view))
    assert site_file["bg.hiRes.gray.bm.1.name"] == "mine.jpg"
    assert "bg.hiRes.gray.bm.1.name" not in lines_file
    assert lines_file["bg.hiRes.gray.selection"] == "3,1"  # not derived: with the other raw keys


# -- the emulated BootROM


def server(view: PhoneView, blobs: dict[str, bytes]):
    """``fetch`` as the resolver answers one assigned phone (the pin and model checks are the
    core's, the choice of file the plug-in's)."""
    asked: list[str] = []

    def fetch(name: str) -> bytes | None:
        asked.append(name)
        ref = PLUGIN.match(name)
        if ref is None:
            return None
        if ref.scope is FileScope.FIRMWARE:
            pin = view.firmware
            if PLUGIN.is_release_config(ref.name):  # the core's rule: pinned, else running
                release = pin or view.running_release
                stored = release.file(ref.name) if release else None
                return blobs[stored.sha256] if stored else None
            if pin is None or view.model not in pin.models:
                return None
            offered = PLUGIN.offer_firmware(ref, view, NEW_DEVICE)
            return blobs[offered.sha256] if offered else None
        if ref.scope is FileScope.DEVICE:
            return PLUGIN.render(ref, view, None) if ref.mac == view.mac else None
        return PLUGIN.render(ref, None, None)

    fetch.asked = asked  # type: ignore[attr-defined]
    return fetch


def boot(view: PhoneView, blobs: dict[str, bytes], **phone_options) -> PolycomPhone:
    emulator = PolycomPhone(mac=MAC.lower(), model="SPIP_650", **phone_options)
    emulator.boot(server(view, blobs), lambda name, content, append: True)
    return emulator


def test_a_pinned_phone_with_older_flash_downloads_flashes_and_reboots_once():
    view = phone(firmware=SPLIT)
    emulator = boot(view, SPLIT_BLOBS, flash_version="3.2.6.0001", part_number=IP650)
    image = f"firmware/3.2.7.0184/{IP650}.sip.ld"
    assert emulator.flashed == [(image, "3.2.7.0184")]
    assert emulator.reboots == 1
    assert emulator.flash_version == emulator.firmware == "3.2.7.0184"
    assert emulator.user_agent.endswith("-UA/3.2.7.0184")
    names = [name for name, _ in emulator.fetched]
    assert names[:4] == ["0004f2000607.cfg", image, "0004f2000607.cfg", image]
    assert emulator.line(1)["address"] == "201"  # and it finished booting


def test_a_phone_already_on_the_pinned_release_does_not_flash():
    emulator = boot(
        phone(firmware=SPLIT), SPLIT_BLOBS, flash_version="3.2.7.0184", part_number=IP650
    )
    assert emulator.flashed == [] and emulator.reboots == 0
    assert emulator.line(1)["address"] == "201"


def test_a_combined_release_is_found_after_the_phones_own_part_number():
    emulator = boot(
        phone(firmware=COMBINED), COMBINED_BLOBS, flash_version="3.2.6", part_number=IP650
    )
    assert emulator.flashed == [("firmware/3.2.7.0184/sip.ld", "3.2.7.0184")]
    assert emulator.fetched[1] == (f"firmware/3.2.7.0184/{IP650}.sip.ld", False)
    assert emulator.fetched[2] == ("firmware/3.2.7.0184/sip.ld", True)


def test_without_a_pin_the_phone_asks_for_sip_ld_and_keeps_its_flash():
    emulator = boot(phone(), {}, flash_version="3.2.6", part_number=IP650)
    assert emulator.flashed == []
    assert emulator.fetched[1:3] == [(f"{IP650}.sip.ld", False), ("sip.ld", False)]
    assert emulator.flash_version == "3.2.6"


def test_a_phone_without_flash_version_boots_as_before():
    emulator = boot(phone(firmware=SPLIT), SPLIT_BLOBS)
    # the release holds no stock files: none is listed, none asked for
    assert [name for name, _ in emulator.fetched] == [
        "0004f2000607.cfg", "0004f2000607-reg.cfg", "0004f2000607-site.cfg",
        "0004f2000607-directory.xml",
    ]  # fmt: skip
    assert emulator.flashed == []


def test_the_bootrom_is_taken_from_the_pin_by_its_fixed_names():
    emulator = boot(
        phone(firmware=SPLIT), SPLIT_BLOBS, flash_version="3.2.7.0184", part_number=IP650,
        check_bootrom=True, bootrom="4.1.0",
    )  # fmt: skip
    assert emulator.flashed == [("bootrom.ld", "3.2.7.0184")]  # the stand-in image's version
    assert emulator.fetched[:2] == [(f"{IP650}.bootrom.ld", False), ("bootrom.ld", True)]
    assert emulator.reboots == 1


def test_a_server_that_keeps_changing_the_image_is_a_flash_loop():
    versions = iter(f"3.2.{n}" for n in range(100))
    fetch_config = server(phone(), {})

    def fetch(name: str) -> bytes | None:
        return fake_image(next(versions)) if name.endswith(".ld") else fetch_config(name)

    emulator = PolycomPhone(mac=MAC.lower(), flash_version="3.2.7", max_reboots=2)
    with pytest.raises(BootFailed, match="still flashing"):
        emulator.boot(fetch, lambda name, content, append: True)
    assert emulator.reboots == 3 and len(emulator.flashed) == 3


def test_a_served_file_that_is_no_image_fails_the_boot():
    fetch_config = server(phone(), {})

    def fetch(name: str) -> bytes | None:
        return b"<html>not found</html>" if name == "sip.ld" else fetch_config(name)

    with pytest.raises(BootFailed, match="not a firmware image"):
        PolycomPhone(mac=MAC.lower(), flash_version="3.2.7").boot(fetch, lambda *_: True)


def test_the_image_version_reader_can_be_replaced():
    fetch_config = server(phone(), {})

    def fetch(name: str) -> bytes | None:
        return b"VER 3.2.8" if name == "sip.ld" else fetch_config(name)

    emulator = PolycomPhone(
        mac=MAC.lower(), flash_version="3.2.7", read_version=lambda data: data.split()[1].decode()
    )
    emulator.boot(fetch, lambda *_: True)
    assert emulator.flashed == [("sip.ld", "3.2.8")]

"""Cisco 7940/7960 rendering: the seed's files, clock, dial plan, directory pages, logo, matching,
and the vendor side of trust (stranger files, secrets, no provisioning login).

Firmware and the files that follow a pin (``OS79XX.TXT``, ``XMLDefault.cnf.xml``,
``image_version``) are in ``test_cisco_firmware.py``.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
import pytest
from PIL import Image as PILImage

from plugtone.vendors import VendorRegistry
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.base import (
    BrandingView,
    ContactView,
    FileRef,
    FileScope,
    FirmwareFile,
    FirmwareView,
    Image,
    KeyView,
    LineView,
    PhoneView,
    SiteView,
)
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from plugtone.vendors.cisco79xx.dialplan import dial_template
from plugtone.vendors.cisco79xx.logo import convert
from plugtone.vendors.cisco79xx.timezones import cisco_time
from tests.emulators.cisco import Cisco7960, parse_cnf, parse_dial_plan, parse_directory

PLUGIN = Cisco79xxPlugin()
MAC = "00115C93AFD1"
SEED_PLAN = "0|911|##|#[1-3]x|#[5-9]x|#41xx|#4[2-9]|xxx+^|[1-7]xx|9[2-9]xxxxxx|91[2-9]xxxxxxxxx"


def png(size=(180, 56), color=(200, 30, 30, 255), mode="RGBA") -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, size, color).save(out, format="PNG")
    return out.getvalue()


def jpeg(size=(56, 90)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (10, 120, 240)).save(out, format="JPEG")
    return out.getvalue()


def logo(content: bytes) -> Image:
    return Image(sha256=f"{zlib.crc32(content):08x}" * 8, content=content)


def branded(content: bytes) -> BrandingView:
    """A branding set holding only a logo made of ``content``."""
    return BrandingView("demo-brand", logo=logo(content))


def release(image: str = "P0S3-8-12-00", models=("7940", "7960")) -> FirmwareView:
    """A pinned SIP release as the resolver hands it over (content is not needed here)."""
    names = (f"{image}.loads", f"{image}.sb2", "P003-8-12-00.sbn", "P003-8-12-00.bin")
    files = tuple(FirmwareFile(name, f"{n:064x}", 100 + n) for n, name in enumerate(names))
    return FirmwareView("cisco79xx", "8.12", tuple(models), files)


def site(**overrides) -> SiteView:
    values = {
        "name": "demo",
        "sip_server": "10.100.2.127",
        "timezone": "America/Los_Angeles",
        "ntp_servers": ("pool.ntp.org",),
        "voicemail": "8500",
        "nat": True,
        "public_url": "http://192.168.0.20/_asterisk",
        "dial_plan": SEED_PLAN,
        "digit_timeout": 4,
        "registration_period": 60,
    }
    values.update(overrides)
    return SiteView(**values)


def phone(**overrides) -> PhoneView:
    values = {
        "mac": MAC,
        "model": "7960",
        "vendor": "cisco79xx",
        "site": site(),
        "lines": (LineView(1, "208", "208", "208", "sip"),),
        "keys": (),
        "description": "...Demo...",
    }
    values.update(overrides)
    return PhoneView(**values)


def device(name: str, view: PhoneView) -> bytes | None:
    return PLUGIN.render(FileRef("cisco79xx", name, FileScope.DEVICE, mac=view.mac), view, None)


def common(name: str) -> bytes:
    content = PLUGIN.render(FileRef("cisco79xx", name, FileScope.COMMON), None, None)
    assert content is not None
    return content


def cnf(view: PhoneView) -> dict[str, str]:
    return parse_cnf(device("SIP.cnf", view).decode())


def plugin_fetch(view: PhoneView):
    """Fetch by file name or URL straight from the plug-in, the way the resolver would."""

    def fetch(name: str) -> tuple[int, bytes]:
        path = urlsplit(name).path.lstrip("/") if "://" in name else name
        path = path.removeprefix("_asterisk/")
        ref = PLUGIN.match(path)
        if ref is None:
            return 404, b""
        if ref.scope is FileScope.FIRMWARE:
            return 404, b""  # stored files: see test_cisco_firmware.py
        known = ref.scope is FileScope.SHARED or (
            ref.scope is FileScope.DEVICE and ref.mac == view.mac
        )
        owner = view if known else None
        if ref.scope is FileScope.DEVICE and owner is None:
            return 404, b""
        content = PLUGIN.render(ref, owner, None)
        return (200, content) if content is not None else (404, b"")

    return fetch


# -- the seed's SIP<MAC>.cnf


def test_seed_phone_file_reproduced():
    settings = cnf(phone(branding=branded(png()), firmware=release()))
    assert settings["line1_name"] == "208"
    assert settings["line1_authname"] == "208"
    assert settings["line1_password"] == "sip"
    assert settings["line1_displayname"] == "208"
    assert settings["phone_label"] == "...Demo..."
    assert settings["image_version"] == "P0S3-8-12-00"
    assert settings["nat_enable"] == "1"
    assert settings["proxy1_address"] == "10.100.2.127"
    assert settings["proxy1_port"] == "5060"
    assert settings["logo_url"] == f"http://192.168.0.20/_asterisk/cisco/logo-{MAC}.bmp"
    assert settings["directory_url"] == f"http://192.168.0.20/_asterisk/cisco/directory-{MAC}.xml"
    assert settings["messages_uri"] == "8500"
    assert settings["timer_register_expires"] == "60"
    assert settings["sntp_server"] == "pool.ntp.org"
    assert settings["dial_template"] == f"dialplan{MAC}"
    # unused buttons of a 7960 are cleared, up to its six lines
    assert settings["line2_name"] == "" and settings["line6_password"] == ""
    assert "line7_name" not in settings


def test_every_value_is_quoted_so_comment_characters_survive():
    view = phone(lines=(LineView(1, "208", 'Ann; "#1"', "a;b", "p#w;d"),))
    text = device("SIP.cnf", view).decode()
    assert 'line1_password: "p#w;d"' in text
    settings = parse_cnf(text)
    assert settings["line1_authname"] == "a;b"
    # no escape for '"' in .cnf: the name is left out rather than changed (it used to
    # become "Ann; '#1'"), and the apply is refused (tests/test_lossless_cisco.py)
    assert "line1_displayname" not in settings
    assert "# line1_displayname left out: its value holds a character" in text
    assert [f.message for f in PLUGIN.check_phone(view) if f.refuse] == [
        "line 1 (208) name (line1_displayname): holds '\"', which a 79xx .cnf value cannot "
        'carry (printable ASCII only, without " or \\)'
    ]


def test_nat_off_no_public_url_no_logo_no_voicemail():
    view = phone(site=site(nat=False, public_url=None, voicemail=None), branding=branded(png()))
    settings = cnf(view)
    assert settings["nat_enable"] == "0"
    for key in ("directory_url", "logo_url", "messages_uri"):
        assert key not in settings  # no public URL: no HTTP link, even with a logo
    # a public URL but no branding, or branding without a logo: a directory and no logo
    for view in (phone(), phone(branding=BrandingView("no-logo"))):
        settings = cnf(view)
        assert "directory_url" in settings and "logo_url" not in settings


def test_lines_labels_and_capacity_of_a_7940():
    view = phone(
        model="7940",
        lines=(
            LineView(1, "201", "Ann Smith", "auth201", "pw1"),
            LineView(3, "203", None, "203", "pw3"),
        ),
        keys=(KeyView("line", line=1, label="Ann"),),
        description=None,
    )
    text = device("SIP.cnf", view).decode()
    settings = parse_cnf(text)
    assert settings["line1_authname"] == "auth201"
    assert settings["line1_shortname"] == "Ann"
    assert settings["line1_displayname"] == "Ann Smith"
    assert settings["line2_name"] == ""
    assert "line3_name" not in settings
    assert "# line 3 (203) left out: a 7940 has 2 line buttons" in text
    assert settings["phone_label"] == "Ann Smith"[:11]


def test_phone_label_is_cut_to_the_display():
    assert cnf(phone(description="A very long description"))["phone_label"] == "A very long"


def test_raw_settings_layer_site_then_model_then_phone():
    view = phone(
        site=site(vendor_settings={"cisco79xx": {"telnet_level": "1", "time_zone": "EST"}}),
        model_settings={"image_version": "P0S3-8-11-00", "telnet_level": "2"},
        phone_settings={"Time_Zone": "GMT"},
    )
    settings = cnf(view)
    assert settings["image_version"] == "P0S3-8-11-00"
    assert settings["telnet_level"] == "2"
    assert settings["time_zone"] == "GMT"


def test_site_codec_and_dtmf():
    settings = cnf(phone(site=site(codecs=("g722", "pcma"), dtmf_method="inband")))
    assert settings["preferred_codec"] == "g711alaw"
    assert settings["dtmf_outofband"] == "none"


# -- common files


def test_common_files_hold_no_site_pin_or_secret():
    defaults = parse_cnf(common("SIPDefault.cnf").decode())
    assert defaults["dial_template"] == "dialplan"
    assert "image_version" not in defaults  # phones pinned differently share this file
    assert not any(key.startswith(("proxy1", "line", "time_zone")) for key in defaults)


def test_common_dial_plan_is_a_catch_all():
    rules = parse_dial_plan(common("dialplan.xml"))
    assert [(rule.match, rule.timeout) for rule in rules] == [("*", 5)]


# -- time


def test_los_angeles_is_pst_with_the_us_rule():
    settings, notes = cisco_time("America/Los_Angeles", 2025)
    assert notes == []
    assert settings == {
        "time_zone": "PST",
        "dst_auto_adjust": "1",
        "dst_offset": "1",
        "dst_start_month": "Mar",
        "dst_start_day": "0",
        "dst_start_day_of_week": "Sun",
        "dst_start_week_of_month": "2",
        "dst_start_time": "02:00",
        "dst_stop_month": "Nov",
        "dst_stop_day": "0",
        "dst_stop_day_of_week": "Sun",
        "dst_stop_week_of_month": "1",
        "dst_stop_time": "02:00",
    }


def test_brussels_is_cet_with_last_sundays():
    settings, _ = cisco_time("Europe/Brussels", 2025)
    assert settings["time_zone"] == "CET"
    assert settings["dst_start_month"] == "Mar" and settings["dst_start_week_of_month"] == "8"
    assert settings["dst_start_time"] == "02:00"
    assert settings["dst_stop_month"] == "Oct" and settings["dst_stop_week_of_month"] == "8"
    assert settings["dst_stop_time"] == "03:00"  # the clock reads 03:00 CEST when it falls back
    view = phone(site=site(timezone="Europe/Brussels"))
    assert cnf(view)["time_zone"] == "CET"
    assert cnf(view)["date_format"] == "D/M/Y" and cnf(view)["time_format_24hr"] == "1"
    assert cnf(phone())["date_format"] == "M/D/Y" and cnf(phone())["time_format_24hr"] == "0"


def test_zones_without_dst_southern_rules_and_unlisted_offsets():
    tokyo, _ = cisco_time("Asia/Tokyo", 2025)
    assert tokyo == {"time_zone": "JST", "dst_auto_adjust": "0", "dst_offset": "0"}
    sydney, _ = cisco_time("Australia/Sydney", 2025)
    assert sydney["time_zone"] == "EAST"
    assert sydney["dst_start_month"] == "Oct" and sydney["dst_start_week_of_month"] == "1"
    assert sydney["dst_stop_month"] == "Apr" and sydney["dst_stop_time"] == "03:00"
    assert cisco_time("Asia/Kolkata", 2025)[0]["time_zone"] == "IST"
    assert cisco_time("UTC", 2025)[0]["time_zone"] == "GMT"
    # +05:45 has no name: nothing is written for time_zone (the old table gave the
    # nearest, IST, 15 minutes off; Asia/Shanghai got HST, 18 hours off), and the apply
    # is refused (tests/test_cisco_time.py)
    kathmandu, notes = cisco_time("Asia/Kathmandu", 2025)
    assert "time_zone" not in kathmandu
    assert notes and "Asia/Kathmandu (GMT+05:45)" in notes[0]
    text = device("SIP.cnf", phone(site=site(timezone="Asia/Kathmandu"))).decode()
    assert "# time zone Asia/Kathmandu (GMT+05:45): the 7940/7960 SIP firmware has no" in text
    assert "time_zone:" not in text


# -- dial plan


def test_seed_dial_plan_translates_to_templates():
    body = device("dialplan.xml", phone())
    rules = parse_dial_plan(body)  # the emulator refuses anything undocumented
    assert [(rule.match, rule.timeout) for rule in rules] == [
        ("0", 0),
        ("911", 0),
        ("##", 0),
        *((f"#{digit}.", 0) for digit in "12356789"),  # #[1-3]x and #[5-9]x written out
        ("#41..", 0),
        *((f"#4{digit}", 0) for digit in "23456789"),
        ("..", 4),  # two digits may still become an extension or an outside number
        ("..*", 4),
        *((f"{digit}..", 0) for digit in "1234567"),
        *((f"9{digit}......", 0) for digit in "23456789"),
        *((f"91{digit}.........", 0) for digit in "23456789"),
        ("*", 4),
    ]
    assert all(rule.user == "Phone" for rule in rules[:-1]) and rules[-1].user is None
    assert b"<!--" not in body  # nothing left out: '^' is a template that waits


def test_dial_plan_symbols_prefixes_and_groups():
    rules = parse_dial_plan(dial_template("*7x|9;xxx|1x+#,9|(12)|[2-4]xx|2xxx", 3))
    matches = {rule.match: rule.timeout for rule in rules}
    assert matches["\\*7."] == 0  # a literal star is escaped
    assert matches["9,..."] == 0  # ';' secondary dial tone becomes ','
    assert matches["1#"] == 3 and matches["1*#"] == 0  # "1#5#" is a longer "1*#"
    assert {rule.rewrite for rule in rules if rule.match in ("1#", "1*#")} == {"9%s"}
    assert matches["2.."] == 3  # 2xxx is longer and starts the same way
    assert matches["3.."] == 0 and matches["4.."] == 0
    assert matches["2..."] == 0
    assert not any("(" in match or "[" in match for match in matches)
    assert list(matches)[-1] == "*" and matches["*"] == 3
    body = dial_template("(12)|1x,9", None)
    assert b"groups" in body and b"prepended" not in body
    assert SafeET.fromstring(body) is not None


def test_site_without_dial_plan_gets_the_catch_all():
    rules = parse_dial_plan(device("dialplan.xml", phone(site=site(dial_plan=None))))
    assert [(rule.match, rule.timeout) for rule in rules] == [("*", 4)]


# -- directory


def directory_site(count: int, **overrides) -> SiteView:
    members = tuple(ContactView(f"Member {n:03d}", str(200 + n)) for n in range(count // 2))
    contacts = tuple(
        ContactView(f"Contact {n:03d}", f"0{n:09d}") for n in range(count - len(members))
    )
    return site(members=members, directory=contacts, **overrides)


def test_directory_pages_hold_32_entries_and_link_to_each_other():
    view = phone(site=directory_site(70))
    pages = [parse_directory(device(f"directory-{n}.xml", view)) for n in (1, 2, 3)]
    assert [len(page.entries) for page in pages] == [32, 32, 6]
    assert [page.prompt for page in pages] == ["Page 1 of 3", "Page 2 of 3", "Page 3 of 3"]
    base = "http://192.168.0.20/_asterisk/cisco"
    assert pages[0].softkeys["Next"] == f"{base}/directory-{MAC}-2.xml"
    assert "Prev" not in pages[0].softkeys
    assert pages[1].softkeys["Prev"] == f"{base}/directory-{MAC}.xml"
    assert pages[1].softkeys["Next"] == f"{base}/directory-{MAC}-3.xml"
    assert "Next" not in pages[2].softkeys
    assert pages[0].softkeys["Dial"] == "SoftKey:Dial" and pages[2].softkeys["Exit"]
    names = [name for page in pages for name, _ in page.entries]
    assert names == sorted(names, key=str.casefold) and len(set(names)) == 70
    assert device("directory-4.xml", view) is None


def test_directory_escapes_names_and_drops_duplicates():
    members = (ContactView("Tom <&> Jerry", "201"), ContactView("Ann", "202"))
    contacts = (ContactView("Ann", "202"), ContactView('Q "quote" \'s', "*97#"))
    body = device("directory-1.xml", phone(site=site(members=members, directory=contacts)))
    assert b"Tom &lt;&amp;&gt; Jerry" in body
    page = parse_directory(body)
    assert page.entries == [("Ann", "202"), ('Q "quote" \'s', "*97#"), ("Tom <&> Jerry", "201")]
    assert page.prompt == "Page 1 of 1" and "Next" not in page.softkeys


def test_directory_without_public_url_has_no_softkeys_and_empty_books_one_page():
    page = parse_directory(
        device("directory-1.xml", phone(site=directory_site(40, public_url=None)))
    )
    assert len(page.entries) == 32 and page.softkeys == {}
    empty = parse_directory(device("directory-1.xml", phone()))
    assert empty.entries == [] and empty.prompt == "Page 1 of 1"


def test_directory_text_is_ascii_and_cut_to_the_display():
    long = "Émile " + "x" * 40
    body = device("directory-1.xml", phone(site=site(members=(ContactView(long, "201"),))))
    assert body.isascii() and b"&#201;mile" in body
    name = parse_directory(body).entries[0][0]
    assert len(name) == 32 and name.startswith("Émile")


# -- logo


@pytest.mark.parametrize("content", [png(), jpeg(), png((30, 30), (0, 0, 0, 0))])
def test_logo_is_a_90x56_greyscale_bmp(content):
    bmp = device("logo.bmp", phone(branding=branded(content)))
    image = PILImage.open(io.BytesIO(bmp))
    assert image.format == "BMP" and image.size == (90, 56)
    assert image.mode == "L" or (
        image.mode == "P" and all(r == g == b for r, g, b in _palette(image))
    )
    assert bmp[28] == 8  # bits per pixel: a 256-colour palette


def _palette(image):
    flat = image.getpalette()
    return list(zip(flat[0::3], flat[1::3], flat[2::3], strict=True))


def test_logo_keeps_proportions_on_white():
    image = PILImage.open(io.BytesIO(convert(png((180, 28), (0, 0, 0, 255)))))
    assert image.getpixel((45, 28)) == 0  # the logo, centred
    assert image.getpixel((45, 2)) == 255 and image.getpixel((45, 53)) == 255  # white bands
    transparent = PILImage.open(io.BytesIO(convert(png((90, 56), (0, 0, 0, 0)))))
    assert transparent.getpixel((10, 10)) == 255


def bomb(side: int = 100_000) -> bytes:
    """A tiny PNG whose header declares ``side`` x ``side`` pixels."""
    content = bytearray(png((1, 1)))
    ihdr = 8 + 8  # signature, then length and type of the IHDR chunk
    content[ihdr : ihdr + 8] = struct.pack(">II", side, side)
    crc = zlib.crc32(bytes(content[12 : ihdr + 13]))
    content[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(content)


@pytest.mark.parametrize(
    "content",
    [b"not an image at all", bomb(), bomb(5000), png()[:60], b"GIF89a" + b"\x00" * 20, b""],
    ids=["garbage", "bomb", "bomb-under-pillow-limit", "truncated", "broken-gif", "empty"],
)
def test_hostile_logos_are_refused(content):
    assert convert(content) is None
    assert device("logo.bmp", phone(branding=branded(content))) is None


def test_no_logo_no_bmp():
    assert device("logo.bmp", phone()) is None
    assert device("logo.bmp", phone(branding=BrandingView("no-logo"))) is None


# -- matching


@pytest.mark.parametrize(
    ("path", "name", "scope"),
    [
        ("OS79XX.TXT", "OS79XX.TXT", FileScope.SHARED),
        ("os79xx.txt", "OS79XX.TXT", FileScope.SHARED),
        ("SIPDefault.cnf", "SIPDefault.cnf", FileScope.COMMON),
        ("/SIPDEFAULT.CNF", "SIPDefault.cnf", FileScope.COMMON),
        ("XMLDefault.cnf.xml", "XMLDefault.cnf.xml", FileScope.SHARED),
        ("dialplan.xml", "dialplan.xml", FileScope.COMMON),
        (f"SIP{MAC}.cnf", "SIP.cnf", FileScope.DEVICE),
        (f"sip{MAC.lower()}.cnf", "SIP.cnf", FileScope.DEVICE),
        (f"dialplan{MAC}.xml", "dialplan.xml", FileScope.DEVICE),
        (f"cisco/directory-{MAC}.xml", "directory-1.xml", FileScope.DEVICE),
        (f"cisco/directory-{MAC}-1.xml", "directory-1.xml", FileScope.DEVICE),
        (f"cisco/directory-{MAC.lower()}-12.xml", "directory-12.xml", FileScope.DEVICE),
        (f"cisco/logo-{MAC}.bmp", "logo.bmp", FileScope.DEVICE),
    ],
)
def test_files_are_matched_case_insensitively(path, name, scope):
    ref = PLUGIN.match(path)
    assert ref is not None and (ref.name, ref.scope) == (name, scope)
    if scope is FileScope.DEVICE:
        assert ref.mac == MAC


@pytest.mark.parametrize(
    "path",
    [
        f"CTLSEP{MAC}.tlv",
        f"ITLSEP{MAC}.tlv",
        f"SEP{MAC}.cnf.xml",
        f"MGC{MAC}.cnf",
        "RINGLIST.DAT",
        "ringlist.xml",
        "US/7960-tones.xml",
        "7960-font.xml",
        "English_United_States/7960-dictionary.xml",
        "P0040302.bin",  # a 7910 image: another platform
        "firmware.bin",
        "SIP000000000000.cnf",  # the all-zero placeholder is no phone
        f"cisco/directory-{MAC}-0.xml",
        f"SIP{MAC}.cnf.bak",
        "aastra.cfg",
        f"{MAC}.cfg",
    ],
)
def test_probes_and_foreign_files_are_not_matched(path):
    assert PLUGIN.match(path) is None


def test_models_aliases_and_identification():
    registry = VendorRegistry([AastraPlugin(), Cisco79xxPlugin()])
    for alias, model in [
        ("CP-7960G", "7960"),
        ("7960G", "7960"),
        ("7960", "7960"),
        ("cp-7940g", "7940"),
        ("7940G", "7940"),
    ]:
        plugin, canonical = registry.resolve_model(alias)
        assert (plugin.name, canonical) == ("cisco79xx", model)
    assert PLUGIN.identify("Cisco-CP7960G/8.0") is None and PLUGIN.identify(None) is None


def test_served_files_and_settings_validation():
    files = PLUGIN.served_files(["7960", "7940"], [MAC, "0011223344AA"])
    assert files[:4] == ["OS79XX.TXT", "XMLDefault.cnf.xml", "SIPDefault.cnf", "dialplan.xml"]
    assert f"SIP{MAC}.cnf" in files and "dialplan0011223344AA.xml" in files
    assert not any("directory" in name or "logo" in name for name in files)
    assert PLUGIN.validate_settings({"image_version": "P0S3-8-11-00", "telnet_level": "2"}) == []
    problems = PLUGIN.validate_settings({"Time Zone": "x", "phone_label": 'a "b"', "x": "a\nb"})
    assert len(problems) == 3


def test_device_files_need_their_own_phone():
    other = phone(mac="0011223344AA")
    ref = FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC)
    assert PLUGIN.render(ref, other, None) is None
    assert PLUGIN.render(ref, None, None) is None


# -- the emulator, straight against the plug-in


def test_emulated_7960_boots_and_reads_directory_and_logo():
    view = phone(site=directory_site(70), branding=branded(png()), firmware=release())
    emulator = Cisco7960(MAC)
    fetch = plugin_fetch(view)
    emulator.boot(fetch)
    assert emulator.image == "P0S3-8-12-00"
    assert emulator.settings["image_version"] == "P0S3-8-12-00"
    assert [name for name, _ in emulator.fetched] == [
        "OS79XX.TXT",
        "SIPDefault.cnf",
        f"SIP{MAC}.cnf",
        f"dialplan{MAC}.xml",
    ]
    assert emulator.line(1) == {
        "name": "208",
        "authname": "208",
        "password": "sip",
        "displayname": "208",
        "shortname": "208",
    }
    assert emulator.settings["proxy1_address"] == "10.100.2.127"
    assert emulator.settings["nat_enable"] == "1"  # SIP<MAC>.cnf overrides SIPDefault.cnf
    assert emulator.dial_plan[-1].match == "*"
    pages = emulator.directory(fetch)
    assert [len(page.entries) for page in pages] == [32, 32, 6]
    image = emulator.logo(fetch)
    assert image.size == (90, 56) and image.mode in ("L", "P")


# -- trust: prefixes, strangers, secrets, no provisioning login

OTHER_MAC = "0011BBFFFFFE"


def known_view() -> PhoneView:
    return phone(
        site=site(
            name="zz-branch-42", sip_server="pbx.branch42.example", voicemail="*971",
            public_url="http://prov.branch42.example/p",
            directory=(ContactView("Yvonne Quist", "4799"),),
            members=(ContactView("Zora Quist", "4711"),), dial_plan="47xx|9xxxxxxx",
            vendor_settings={"cisco79xx": {"phone_password": "ph-s3cret"}},
        ),
        lines=(LineView(1, "4711", "Zora Quist", "auth-4711", "line-s3cret"),),
        branding=branded(png()),
        description="reception desk",
        firmware=release(),
    )  # fmt: skip


def inventory_values(view: PhoneView) -> set[str]:
    site = view.site
    values = {site.name, site.sip_server, site.voicemail, site.public_url, view.description,
              "P0S3-8-12-00", "47..", *view.vendor_settings().values()}  # fmt: skip
    for contact in (*site.directory, *site.members):
        values |= {contact.name, contact.number}
    for line in view.lines:
        values |= {line.number, line.name, line.auth_user, line.password}
    return {value for value in values if value and len(value) > 2}


DEVICE_NAMES = (
    "SIP{mac}.cnf", "dialplan{mac}.xml", "cisco/directory-{mac}.xml",
    "cisco/directory-{mac}-2.xml", "cisco/logo-{mac}.bmp",
)  # fmt: skip


def stranger(template: str, mac: str) -> bytes | None:
    ref = PLUGIN.match(template.format(mac=mac))
    assert ref is not None and ref.scope is FileScope.DEVICE, template
    return PLUGIN.stranger_file(ref)


def test_strangers_get_the_same_files_for_known_and_unknown_macs_with_nothing_of_the_inventory():
    view = known_view()
    values = inventory_values(view)
    for template in DEVICE_NAMES:
        known, unknown = stranger(template, view.mac), stranger(template, OTHER_MAC)
        if known is None:
            assert unknown is None, template  # not-found alike
            continue
        assert known.replace(view.mac.encode(), b"<MAC>") == unknown.replace(
            OTHER_MAC.encode(), b"<MAC>"
        )
        assert not [value for value in values if value.encode() in known], template
        assert stranger(template, view.mac.lower()) == known
    assert stranger("cisco/directory-{mac}-2.xml", MAC) is None
    assert stranger("cisco/logo-{mac}.bmp", MAC) is None


def test_stranger_files_parse_with_the_phones_syntax():
    cnf = stranger("SIP{mac}.cnf", MAC)
    assert cnf and parse_cnf(cnf.decode()) == {}  # comment lines only, not an empty file
    assert all(line.startswith("#") for line in cnf.decode().splitlines())
    plan = parse_dial_plan(stranger("dialplan{mac}.xml", MAC))
    assert [(rule.match, rule.timeout) for rule in plan] == [("*", 5)]
    book = parse_directory(stranger("cisco/directory-{mac}.xml", MAC))
    assert book.entries == [] and book.softkeys == {} and book.title == "Directory"


def test_a_7960_booting_on_stranger_answers_registers_nothing_and_installs_nothing():
    emulator = Cisco7960(OTHER_MAC, running="P0S3-8-11-00")

    def fetch(name: str) -> tuple[int, bytes]:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return 404, b""
        content = (
            PLUGIN.stranger_file(ref)
            if ref.scope is FileScope.DEVICE
            else PLUGIN.render(ref, None, None)
        )
        return (200, content) if content is not None else (404, b"")

    emulator.boot(fetch)
    assert (f"SIP{OTHER_MAC}.cnf", 200) in emulator.fetched
    assert all(emulator.line(index) == {} for index in range(1, 7))
    assert "proxy1_address" not in emulator.settings and "image_version" not in emulator.settings
    assert emulator.installed == [] and emulator.failed == []
    assert emulator.image is None  # no OS79XX.TXT for a requester plugtone does not know
    assert emulator.settings["dial_template"] == "dialplan"
    assert [rule.match for rule in emulator.dial_plan] == ["*"]


def test_mac_prefixes_cover_the_seed_phones_and_there_is_no_provisioning_login():
    assert all(len(prefix) == 6 and prefix == prefix.upper() for prefix in PLUGIN.mac_prefixes)
    for mac in (MAC, "001A2F336152", "0011BB73AD61", "0015F92EC692"):
        assert mac[:6] in PLUGIN.mac_prefixes, mac
    assert PLUGIN.device_credentials is False


@pytest.mark.parametrize(
    "name", ["line1_password", "LINE6_PASSWORD", "phone_password", " line2_password"]
)
def test_secret_settings_are_recognised(name):
    assert PLUGIN.is_secret_setting(name)


@pytest.mark.parametrize("name", ["line1_authname", "line1_name", "phone_label", "proxy1_address"])
def test_settings_that_are_not_secrets(name):
    assert not PLUGIN.is_secret_setting(name)


def test_holds_secrets_only_the_phone_file_with_a_password_in_it():
    cnf = FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC)
    with_password = phone()
    without = phone(lines=(LineView(1, "208", "208", "208", None),))
    assert PLUGIN.holds_secrets(cnf, with_password)
    assert not PLUGIN.holds_secrets(cnf, without)
    assert PLUGIN.holds_secrets(cnf, replace(without, phone_settings={"phone_password": "1"}))
    url = {"directory_url": "http://u:pw@dir.example/book.xml"}
    assert PLUGIN.holds_secrets(cnf, replace(without, phone_settings=url))
    assert not PLUGIN.holds_secrets(cnf, replace(with_password, mac="0011223344AA"))
    for name in ("dialplan.xml", "directory-1.xml", "logo.bmp"):
        ref = FileRef("cisco79xx", name, FileScope.DEVICE, mac=MAC)
        assert not PLUGIN.holds_secrets(ref, with_password), name
    for name, scope in (("SIPDefault.cnf", FileScope.COMMON), ("OS79XX.TXT", FileScope.SHARED)):
        assert not PLUGIN.holds_secrets(FileRef("cisco79xx", name, scope), with_password)

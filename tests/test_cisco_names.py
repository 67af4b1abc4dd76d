"""Documented names only: every key, element and attribute the Cisco 79xx plug-in writes
for a rich inventory is in the plug-in's table of documented names (vendors/cisco79xx/names.py).
"""

from __future__ import annotations

import io

import defusedxml.ElementTree as SafeET
from PIL import Image as PILImage

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
from plugtone.vendors.cisco79xx.names import (
    CNF_NAMES,
    CNF_VALUES,
    DIAL_PLAN,
    DIRECTORY,
    SYNCINFO,
    XML_DEFAULT,
)
from plugtone.vendors.cisco79xx.timezones import NAMES
from tests.emulators.cisco import parse_cnf

PLUGIN = Cisco79xxPlugin()
ZONES = ("America/Los_Angeles", "Australia/Sydney", "Asia/Tokyo", "Europe/Brussels", "UTC",
         "Asia/Shanghai", "America/St_Johns")  # fmt: skip


def logo() -> BrandingView:
    out = io.BytesIO()
    PILImage.new("RGB", (180, 112), (90, 90, 90)).save(out, format="PNG")
    return BrandingView("brand", logo=Image("ab" * 32, out.getvalue()))


def release(models: tuple[str, ...]) -> FirmwareView:
    names = ("P0S3-8-12-00.loads", "P0S3-8-12-00.sb2", "P003-8-12-00.sbn")
    files = tuple(FirmwareFile(name, f"{n:064x}", 10) for n, name in enumerate(names))
    return FirmwareView("cisco79xx", "8.12", models, files)


def inventory() -> list[PhoneView]:
    """Phones of every kind the plug-in renders: two models, two lines, every key type
    it puts on a button, pins, a logo, directories, codecs, DTMF, zones north and south."""
    url = "http://apps.example/menu.xml"
    keys = (
        KeyView("line", line=1, label="Desk"),
        KeyView("speeddial", value="300", label="Reception"),
        KeyView("voicemail"),
        KeyView("empty"),
        KeyView("speeddial", value="*72", family="line", slot=6),
        KeyView("services", value=url),
        KeyView("xml", value=url),
    )
    phones = []
    for number, zone in enumerate(ZONES):
        site = SiteView(
            name=f"site{number}", sip_server="pbx.example", timezone=zone,
            ntp_servers=("ntp.example",), dial_plan="911|[1-7]xx|9x+,0|*7x^", digit_timeout=3,
            voicemail="*97", public_url="http://prov.example/p", nat=number % 2 == 0,
            codecs=(("pcma", "pcmu", "g729")[number % 3],),
            dtmf_method=("rfc2833", "inband", "info")[number % 3],
            members=tuple(ContactView(f"Member {n}", str(200 + n)) for n in range(20)),
            directory=tuple(ContactView(f"Contact {n}", f"0{n:08d}") for n in range(30)),
        )  # fmt: skip
        model = "7960" if number % 2 == 0 else "7940"
        lines = (
            LineView(1, "201", "Ann Smith", "a201", "pw1"),
            LineView(2, "202", None, "202", "p"),
        )
        phones.append(
            PhoneView(
                f"00115C93AF{number:02X}", model, "cisco79xx", site, lines,
                keys if model == "7960" else (KeyView("line", line=2, label="Bob"),),
                description="Front desk", firmware=release((model,)), branding=logo(),
            )
        )  # fmt: skip
    return phones


def render(name: str, scope: FileScope, view: PhoneView | None) -> bytes | None:
    mac = view.mac if view is not None and scope is FileScope.DEVICE else None
    return PLUGIN.render(FileRef("cisco79xx", name, scope, mac=mac), view, None)


def test_every_rendered_key_element_and_attribute_is_documented():
    cnf_files = {"SIPDefault.cnf": render("SIPDefault.cnf", FileScope.COMMON, None)}
    xml_files = {
        "dialplan.xml": (render("dialplan.xml", FileScope.COMMON, None), DIAL_PLAN),
        "XMLDefault.cnf.xml (nobody)": (render("XMLDefault.cnf.xml", FileScope.SHARED, None),
                                        XML_DEFAULT),
    }  # fmt: skip
    for view in inventory():
        cnf_files[f"SIP{view.mac}.cnf"] = render("SIP.cnf", FileScope.DEVICE, view)
        xml_files[f"dialplan{view.mac}.xml"] = (
            render("dialplan.xml", FileScope.DEVICE, view),
            DIAL_PLAN,
        )
        xml_files[f"XMLDefault.cnf.xml ({view.mac})"] = (
            render("XMLDefault.cnf.xml", FileScope.SHARED, view),
            XML_DEFAULT,
        )
        xml_files[f"syncinfo.xml ({view.mac})"] = (
            render("syncinfo.xml", FileScope.SHARED, view),
            SYNCINFO,
        )
        for page in (1, 2):
            body = render(f"directory-{page}.xml", FileScope.DEVICE, view)
            xml_files[f"directory-{view.mac}-{page}"] = (body, DIRECTORY)
        image = render("OS79XX.TXT", FileScope.SHARED, view)
        assert image == b"P0S3-8-12-00\n"  # the image name alone: no key to check
    written: set[str] = set()
    for name, body in cnf_files.items():
        settings = parse_cnf(body.decode("ascii"))
        assert set(settings) <= CNF_NAMES, (name, sorted(set(settings) - CNF_NAMES))
        for key, value in settings.items():
            if key in CNF_VALUES:
                assert value in CNF_VALUES[key], (name, key, value)
        if "time_zone" in settings:
            assert settings["time_zone"] in {zone.name for zone in NAMES}
        written |= set(settings)
    for name, (body, table) in xml_files.items():
        root = SafeET.fromstring(body)
        for element in root.iter():
            assert element.tag in table, (name, element.tag)
            assert set(element.attrib) <= table[element.tag], (name, element.tag, element.attrib)
    # the inventory is rich enough that the check means something
    for key in (
        "speed_line3",
        "speed_label6",
        "services_url",
        "logo_url",
        "image_version",
        "line2_shortname",
        "dst_stop_week_of_month",
        "preferred_codec",
        "messages_uri",
    ):
        assert key in written, key  # fmt: skip
    tags = {
        element.tag for body, _ in xml_files.values() for element in SafeET.fromstring(body).iter()
    }
    assert {"loadInformation7", "loadInformation8", "SoftKeyItem", "TEMPLATE"} <= tags

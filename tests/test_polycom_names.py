"""Documented names only: every attribute of every file the Polycom plug-in renders, and
every element of its directory, is in the plug-in's table of vendor-documented names
(vendors/polycom/names.py), for every model and a rich inventory."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as SafeET

from plugtone.vendors.base import (
    BrandingFile,
    BrandingView,
    ContactView,
    FileScope,
    KeyView,
    LineView,
    PhoneView,
    SiteView,
)
from plugtone.vendors.polycom import PolycomPlugin
from plugtone.vendors.polycom.keys import LINE_KEYS, STATIC_BLF
from plugtone.vendors.polycom.models import BY_NAME
from plugtone.vendors.polycom.names import CONFIGURATION, DIRECTORY, MASTER, source_of

PLUGIN = PolycomPlugin()
MAC = "0004F2000607"
ZONES = ("America/Los_Angeles", "Australia/Sydney", "Asia/Tokyo", "Europe/Amsterdam")
BRANDING = BrandingView(
    "look", files=(BrandingFile("wall.jpg", "0" * 64, 10, "image/jpeg"),)
)  # a background picture for the models that show one


def site(zone: str, dtmf: str) -> SiteView:
    return SiteView(
        name="hq", sip_server="pbx.example.com", sip_port=5061, sip_transport="tls",
        timezone=zone, ntp_servers=("time.nist.gov", "pool.ntp.org"),
        dial_plan="0|##|#[1-3]x|xxx+^|9;xxxxxxx|[2-9]XXXXXXXXX,91", digit_timeout=4,
        voicemail="##", conference="conf", dtmf_method=dtmf, registration_period=600,
        codecs=("g722", "pcmu", "pcma", "g729", "opus"), nat=True,
        directory=(ContactView("Reception", "200"), ContactView("Lobby", "0")),
        members=(ContactView("Ext_Name", "201"), ContactView("Mary", "202")),
    )  # fmt: skip


def keys_for(model: str, lines: int) -> tuple[KeyView, ...]:
    """Every key type the model can show, as many as its line keys hold."""
    wanted = [KeyView("line", line=1)]
    if model in STATIC_BLF:
        wanted += [KeyView("blf", "203", "Bob"), KeyView("blf", "204")]
    wanted += [KeyView("speeddial", "200", "Front"), KeyView("voicemail"),
               KeyView("speeddial", "300", "Desk")]  # fmt: skip
    room = LINE_KEYS[model] - lines  # each line has its own key already
    return tuple(wanted[: max(room, 0)])


def rich_view(model: str, zone: str, dtmf: str) -> PhoneView:
    count = min(2, LINE_KEYS[model])
    lines = (LineView(1, "201", "Ext_Name", "201", "1212"),
             LineView(2, "202", "Mary", "a202", "3434"))[:count]  # fmt: skip
    token = BY_NAME[model].token
    return PhoneView(
        mac=MAC, model=model, vendor="polycom", site=site(zone, dtmf), lines=lines,
        keys=keys_for(model, count), branding=BRANDING,
        phone_settings={"APP_FILE_PATH": "sip_327.ld", f"APP_FILE_PATH_{token}": "own.ld"},
    )  # fmt: skip


def written_names(view: PhoneView) -> dict[str, set[str]]:
    """``{kind: names}`` of every file a phone of ``view``'s model is served."""
    found: dict[str, set[str]] = {"master": set(), "configuration": set(), "directory": set()}
    for path in PLUGIN.served_files([view.model], [view.mac]):
        ref = PLUGIN.match(path)
        content = PLUGIN.render(ref, view if ref.scope is FileScope.DEVICE else None, None)
        assert content is not None, path
        root = SafeET.fromstring(content)
        if ref.name.endswith("directory.xml"):
            found["directory"] |= {element.tag for element in root.iter()}
            continue
        kind = "master" if ref.name in ("mac.cfg", "common.cfg") else "configuration"
        for element in root.iter():
            found[kind] |= set(element.attrib)
    return found


@pytest.mark.parametrize("model", sorted(BY_NAME))
def test_every_name_every_file_holds_is_documented(model):
    seen = 0
    for zone, dtmf in zip(ZONES, ("rfc2833", "info", "inband", "rfc2833"), strict=True):
        view = rich_view(model, zone, dtmf)
        assert not [f.message for f in PLUGIN.check_phone(view) if f.refuse], model
        names = written_names(view)
        undocumented = {
            kind: sorted(name for name in kind_names if source_of(name, kind) is None)
            for kind, kind_names in names.items()
        }
        assert undocumented == {"master": [], "configuration": [], "directory": []}
        seen += sum(len(kind_names) for kind_names in names.values())
    assert seen > 150  # the inventory reached the files: keys, codecs, DST rules, lines


def test_the_rich_inventory_reaches_every_kind_of_name():
    names = written_names(rich_view("IP650", "Europe/Amsterdam", "info"))
    for expected in ("attendant.resourceList.2.label", "reg.1.lineKeys", "reg.2.auth.password",
                     "voice.codecPref.IP_650.G722", "dialplan.digitmap.timeOut",
                     "tcpIpApp.sntp.daylightSavings.stop.dayOfWeek.lastInMonth",
                     "tcpIpApp.sntp.gmtOffset.overrideDHCP", "bg.hiRes.gray.bm.1.name",
                     "nat.keepalive.interval", "voIpProt.SIP.dtmfViaSignaling.rfc2976"):  # fmt: skip
        assert expected in names["configuration"], expected
    assert {"APP_FILE_PATH_SPIP650", "CONFIG_FILES_SPIP650"} <= names["master"]
    assert "sd" in names["directory"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("voice.codecPref.G722", "configuration"), ("voice.codecPref.IP_650.Siren22.64kbps",
      "configuration"), ("voice.codecPref.IP_335.G722", "configuration"),
     ("reg.1.bogus", "configuration"), ("attendant.resourceList.1.ringType", "configuration"),
     ("reg.0.address", "configuration"), ("APP_FILE_PATH_SPIP999", "master"),
     ("reg.1.address", "master"), ("lb", "directory")],
)  # fmt: skip
def test_names_no_source_documents_are_not_in_the_table(name, kind):
    assert source_of(name, kind) is None


def test_every_group_names_its_source():
    for group in (*MASTER, *CONFIGURATION, DIRECTORY):
        assert group.names and len(group.source) > 10, group

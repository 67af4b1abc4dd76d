"""Polycom rendering: the seed's parameters, precedence, escaping, names, uploads, identification,
and the vendor side of trust (stranger files, secrets, no provisioning login)."""

from __future__ import annotations

import calendar
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from defusedxml import ElementTree as SafeET

from plugtone.timezones import transitions, zone_rules
from plugtone.vendors import VendorRegistry
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.base import (
    ContactView,
    FileRef,
    FileScope,
    LineView,
    PhoneView,
    SiteView,
    UploadRef,
)
from plugtone.vendors.polycom import DEVICE_FILES, PolycomPlugin
from plugtone.vendors.polycom.digitmap import polycom_digitmap
from plugtone.vendors.polycom.timezones import sntp_time_settings, zone_findings
from tests.emulators.polycom import PolycomPhone, parse_directory, parse_parameters

PLUGIN = PolycomPlugin()
MAC = "0004F2000607"
CONTROL = "a control character"
SEED_DIAL_PLAN = "0|##|#[1-3]x|#[5-9]x|#41xx|#4[2-9]|[1-7]xx|9[2-9]xxxxxx|91xxxxxxxxxx"

# The seed's altigen.cfg and 201.cfg (001_986df9d05f6e3806.txt), parameter by parameter.
SEED_PARAMETERS = {
    "reg.1.displayName": "Ext_Name",
    "reg.1.address": "201",
    "reg.1.label": "201",
    "reg.1.auth.userId": "201",
    "reg.1.auth.password": "1212",
    "reg.1.server.1.address": "10.100.2.127",
    "reg.1.server.1.port": "10060",
    "reg.1.server.1.expires": "90",
    "msg.bypassInstantMessage": "1",
    "msg.mwi.1.callBackMode": "contact",
    "msg.mwi.1.callBack": "##@10.100.2.127",
    "msg.mwi.1.subscribe": "201@10.100.2.127",
    "voIpProt.SIP.conference.address": "conf",
    "voIpProt.SIP.alertInfo.1.value": "info=alert-autoanswer",
    "voIpProt.SIP.alertInfo.1.class": "3",
    "voIpProt.SIP.alertInfo.2.value": "auto-answer",
    "voIpProt.SIP.alertInfo.2.class": "3",
    "voIpProt.SIP.outboundProxy.port": "10060",
    "voIpProt.SIP.local.port": "10060",
    "tone.dtmf.rfc2833Payload": "101",
    "tcpIpApp.sntp.daylightSavings.enable": "1",
    "tcpIpApp.sntp.gmtOffset": "-28800",
    "tcpIpApp.sntp.address": "time.nist.gov",
    "dialplan.removeEndOfDial": "0",
    "dialplan.digitmap": SEED_DIAL_PLAN,
    "call.lastCallReturnString": "#69",
    "tone.dtmf.onTime": "120",
    "tone.dtmf.offTime": "120",
    "se.pat.misc.1.name": "message waiting",
    "se.pat.misc.1.inst.1.type": "silence",
    "se.pat.misc.1.inst.1.value": "1",
    "se.pat.misc.1.inst.2.type": "silence",
    "se.pat.misc.1.inst.2.value": "2",
    "se.pat.misc.1.inst.3.type": "silence",
    "se.pat.misc.1.inst.3.value": "1",
}


def seed_site(**overrides) -> SiteView:
    values = {
        "name": "altigen",
        "sip_server": "10.100.2.127",
        "sip_port": 10060,
        "timezone": "America/Los_Angeles",
        "ntp_servers": ("time.nist.gov",),
        "dial_plan": SEED_DIAL_PLAN,
        "voicemail": "##",
        "conference": "conf",
        "registration_period": 90,
    }
    values.update(overrides)
    return SiteView(**values)


def seed_phone(**overrides) -> PhoneView:
    values = {
        "mac": MAC,
        "model": "IP650",
        "vendor": "polycom",
        "site": seed_site(),
        "lines": (LineView(1, "201", "Ext_Name", "201", "1212"),),
        "keys": (),
    }
    values.update(overrides)
    return PhoneView(**values)


def render(name: str, view: PhoneView | None) -> bytes | None:
    ref = PLUGIN.match(name)
    assert ref is not None, name
    return PLUGIN.render(ref, view if ref.scope is FileScope.DEVICE else None, None)


def boot(view: PhoneView | None, mac: str = MAC.lower(), model: str = "SPIP_650") -> PolycomPhone:
    """Boot the emulator on the plug-in alone, as the resolver would serve ``view``."""
    phone = PolycomPhone(mac=mac, model=model)

    def fetch(name: str) -> bytes | None:
        ref = PLUGIN.match(name)
        if ref is None:
            return None
        if ref.scope is FileScope.DEVICE:
            if view is None or ref.mac != view.mac:
                return None
            return PLUGIN.render(ref, view, None)
        return PLUGIN.render(ref, None, None)

    phone.boot(fetch, lambda name, content, append: PLUGIN.match_upload(name) is not None)
    return phone


def device_files(mac: str = MAC) -> list[str]:
    return [path for path in PLUGIN.served_files(["IP650"], [mac]) if "000000000000" not in path]


# -- the seed


def test_the_seed_example_boots_to_the_seeds_parameters():
    phone = boot(seed_phone())
    different = {
        name: (phone.settings.get(name), value)
        for name, value in SEED_PARAMETERS.items()
        if phone.settings.get(name) != value
    }
    assert not different, f"(got, seed) differ: {different}"
    assert phone.fetched[0] == ("0004f2000607.cfg", True)
    # no stock files for it: none listed (see tests/test_polycom_stock.py)
    assert phone.config_files == ["0004f2000607-reg.cfg", "0004f2000607-site.cfg"]
    assert phone.uploaded == ["0004f2000607-boot.log"]


def test_the_master_file_has_the_seeds_application_attributes():
    root = SafeET.fromstring(render("0004f2000607.cfg", seed_phone()))
    assert root.tag == "APPLICATION"
    assert root.attrib["APP_FILE_PATH"] == "sip.ld"
    for name in ("MISC_FILES", "LOG_FILE_DIRECTORY", "OVERRIDES_DIRECTORY", "CONTACTS_DIRECTORY"):
        assert root.attrib[name] == ""  # uploads land at the top, where match_upload looks
    assert list(root) == []  # no per-model element unless one is configured


def test_registration_expiry_is_the_sites_period_for_large_fleets_too():
    phone = boot(seed_phone(site=seed_site(registration_period=600)))
    assert phone.line(1)["server.1.expires"] == "600"


# -- XML: well-formed, escaped, every parameter once


def test_every_served_file_is_well_formed_xml_with_the_declaration():
    view = seed_phone(site=seed_site(directory=(ContactView("Reception", "0"),)))
    for name in PLUGIN.served_files(["IP650"], [MAC]):
        content = render(name, view)
        assert content is not None, name
        assert content.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
        SafeET.fromstring(content)  # raises when not well-formed


def test_names_with_markup_and_control_characters_parse_back_escaped():
    hostile = 'Ann <b>&amp; "Bob" \x07</b>'
    site = seed_site(
        directory=(ContactView('R&D <lab> "1"', "0"),),
        members=(ContactView(hostile, "201"),),
        vendor_settings={"polycom": {"up.welcome": "<&>\"'"}},
    )
    view = seed_phone(site=site, lines=(LineView(1, "201", hostile, "a&b", 'p"<w>&'),))
    # the BEL cannot go into an XML file: the apply is refused, naming field and character
    assert [finding.message for finding in PLUGIN.check_phone(view) if finding.refuse] == [
        f"line 1 name: character U+0007 ({CONTROL}) cannot reach a Polycom unchanged: its XML "
        "files cannot hold it",
        f"site altigen extension 1 name: character U+0007 ({CONTROL}) cannot reach a Polycom "
        "unchanged: its XML files cannot hold it",
    ]
    phone = boot(view)  # what was rendered before the check: still well-formed, BEL left out
    assert phone.line(1)["displayName"] == 'Ann <b>&amp; "Bob" </b>'
    assert phone.line(1)["auth.userId"] == "a&b"
    assert phone.line(1)["auth.password"] == 'p"<w>&'
    assert phone.settings["up.welcome"] == "<&>\"'"
    assert phone.directory == [('R&D <lab> "1"', "0"), ('Ann <b>&amp; "Bob" </b>', "201")]
    assert b"<b>" not in render("0004f2000607-reg.cfg", view)
    clean = seed_phone(site=seed_site(), lines=(LineView(1, "201", hostile[:-5], "a&b", "p"),))
    assert boot(clean).line(1)["displayName"] == hostile[:-5]  # markup and quotes as typed
    assert not [finding for finding in PLUGIN.check_phone(clean) if finding.refuse]


def test_every_parameter_appears_in_exactly_one_of_a_phones_files():
    view = seed_phone(
        site=seed_site(vendor_settings={"polycom": {"tone.dtmf.rfc2833Payload": "96"}}),
        phone_settings={"reg.1.server.1.expires": "600", "up.headsetMode": "1"},
    )
    seen: list[str] = []
    for name in ("0004f2000607-reg.cfg", "0004f2000607-site.cfg"):
        for element in SafeET.fromstring(render(name, view)).iter():
            seen += list(element.attrib)
    assert len(seen) == len(set(seen))


def test_names_that_are_not_parameters_are_left_out_rather_than_breaking_the_file():
    # validate_settings refuses them at apply time; a render must still never emit them
    view = seed_phone(phone_settings={"bad name": "1", "x\n": "2", "ok.name": "3"})
    settings = parse_parameters(render("0004f2000607-reg.cfg", view))
    assert settings["ok.name"] == "3"
    assert "bad name" not in settings and "x\n" not in settings


def test_comments_cannot_be_broken_by_a_dial_plan():
    view = seed_phone(site=seed_site(dial_plan="1xx|(2--3)x"))
    content = render("0004f2000607-site.cfg", view)
    SafeET.fromstring(content)
    assert b"(2- -3)x" in content


# -- precedence


def test_raw_settings_override_defaults_site_then_model_then_phone():
    site = seed_site(
        vendor_settings={
            "polycom": {"tone.dtmf.rfc2833Payload": "96", "call.lastCallReturnString": "*69"},
            "aastra": {"sip mode": "1"},
        }
    )
    view = seed_phone(
        site=site,
        model_settings={"call.lastCallReturnString": "*70", "up.headsetMode": "1"},
        phone_settings={"call.lastCallReturnString": "*71", "reg.1.server.1.expires": "600"},
    )
    phone = boot(view)
    assert phone.settings["tone.dtmf.rfc2833Payload"] == "96"
    assert phone.settings["call.lastCallReturnString"] == "*71"
    assert phone.settings["reg.1.server.1.expires"] == "600"
    assert phone.settings["up.headsetMode"] == "1"
    assert "sip mode" not in phone.settings
    # settings no file derives go into the first file of CONFIG_FILES
    first = parse_parameters(render("0004f2000607-reg.cfg", view))
    assert first["up.headsetMode"] == "1"


def test_application_settings_go_to_the_master_file_with_a_per_model_element():
    view = seed_phone(
        site=seed_site(
            vendor_settings={
                "polycom": {"APP_FILE_PATH": "sip_327.ld", "APP_FILE_PATH_SPIP650": "650.ld"}
            }
        )
    )
    root = SafeET.fromstring(render("0004f2000607.cfg", view))
    assert root.attrib["APP_FILE_PATH"] == "sip_327.ld"
    (child,) = list(root)
    assert child.tag == "APPLICATION_SPIP650"
    assert child.attrib["APP_FILE_PATH_SPIP650"] == "650.ld"
    assert child.attrib["CONFIG_FILES_SPIP650"] == root.attrib["CONFIG_FILES"]
    phone = boot(view)
    assert phone.application["APP_FILE_PATH"] == "650.ld"
    assert "APP_FILE_PATH" not in phone.settings  # not a configuration parameter
    other = boot(view, model="SPIP_335")
    assert other.application["APP_FILE_PATH"] == "sip_327.ld"


# -- the neutral model


def test_lines_keep_their_index_and_each_gets_its_mailbox():
    view = seed_phone(
        lines=(
            LineView(1, "201", None, "auth201", "pw1"),
            LineView(3, "203", "Carol", "203", None),
        )
    )
    phone = boot(view)
    assert phone.line(1)["displayName"] == "201"
    assert phone.line(1)["auth.userId"] == "auth201"
    assert phone.line(3)["address"] == "203"
    assert phone.line(3)["auth.password"] == ""
    assert phone.line(2) == {}
    assert phone.settings["msg.mwi.3.subscribe"] == "203@10.100.2.127"


def test_without_voicemail_the_message_key_does_not_call_back():
    phone = boot(seed_phone(site=seed_site(voicemail=None)))
    assert phone.settings["msg.mwi.1.callBackMode"] == "disabled"
    assert "msg.mwi.1.callBack" not in phone.settings


@pytest.mark.parametrize(
    ("method", "via_rtp", "rfc2833", "info"),
    [("rfc2833", "1", "1", "0"), ("inband", "1", "0", "0"), ("info", "0", "0", "1")],
)
def test_dtmf_method(method, via_rtp, rfc2833, info):
    settings = boot(seed_phone(site=seed_site(dtmf_method=method))).settings
    assert settings["tone.dtmf.viaRtp"] == via_rtp
    assert settings["tone.dtmf.rfc2833Control"] == rfc2833
    assert settings["voIpProt.SIP.dtmfViaSignaling.rfc2976"] == info


def test_transport_codecs_nat_and_digit_timeout():
    site = seed_site(
        sip_server="pbx.example.com", sip_port=5061, sip_transport="tls",
        codecs=("g722", "pcma", "opus"), nat=True, digit_timeout=4, ntp_servers=(),
    )  # fmt: skip
    settings = boot(seed_phone(site=site)).settings
    assert settings["reg.1.server.1.transport"] == "TLS"
    assert settings["reg.1.server.1.port"] == "5061"
    assert settings["voice.codecPref.IP_650.G722"] == "1"  # an IP 650's own list
    assert settings["voice.codecPref.IP_650.G711A"] == "2"
    assert settings["voice.codecPref.IP_650.G711Mu"] == ""  # not listed: off
    assert settings["nat.keepalive.interval"] == "30"
    assert settings["dialplan.digitmap.timeOut"] == "|".join(["4"] * 9)  # one per pattern
    assert "tcpIpApp.sntp.address" not in settings


def dial_findings(view: PhoneView) -> list:
    return [f for f in PLUGIN.check_phone(view) if f.message.startswith(("dial", "digit"))]


def test_every_digit_map_pattern_gets_the_sites_timeout():
    site = seed_site(dial_plan="1xx|(2|3)x|xxx+^|9;xxxxxxx", digit_timeout=6)
    settings = boot(seed_phone(site=site)).settings
    patterns = settings["dialplan.digitmap"].split("|")
    assert patterns == ["1xx", "xxx.T", "9,xxxxxxx"]  # the untranslatable two left out
    assert settings["dialplan.digitmap.timeOut"].split("|") == ["6"] * len(patterns)
    findings = dial_findings(seed_phone(site=site))
    assert [(f.message.split(":")[0], f.refuse) for f in findings] == [
        ("dial plan pattern '(2'", False), ("dial plan pattern '3)x'", False),
    ]  # fmt: skip
    # no dial plan of the site's: the phone's own map keeps its own timeouts, and a
    # warning says so rather than giving its first pattern alone the site's timeout
    bare = seed_phone(site=seed_site(dial_plan=None, digit_timeout=6))
    assert "dialplan.digitmap.timeOut" not in boot(bare).settings
    (finding,) = dial_findings(bare)
    assert finding.message.startswith("digit_timeout 6: a Polycom takes one timeout per pattern")
    assert not finding.refuse


def codec_preferences(settings: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in settings.items() if k.startswith("voice.codecPref.")}


def test_codec_preferences_are_named_for_the_phones_model():
    # SIP 3.x: per-platform lists (IP_650, IP_6000, IP_7000), else the plain SoundPoint
    # list; no voice.codecPref.G722 anywhere
    site = seed_site(codecs=("g722", "pcma", "opus"))
    assert codec_preferences(boot(seed_phone(site=site)).settings) == {
        "voice.codecPref.IP_650.G711Mu": "", "voice.codecPref.IP_650.G711A": "2",
        "voice.codecPref.IP_650.G729AB": "", "voice.codecPref.IP_650.G722": "1",
    }  # fmt: skip
    narrow = seed_site(codecs=("pcmu", "g722", "g729"))
    ip335 = boot(seed_phone(model="IP335", site=narrow), model="SPIP_335").settings
    assert codec_preferences(ip335) == {
        "voice.codecPref.G711Mu": "1", "voice.codecPref.G711A": "",
        "voice.codecPref.G729AB": "2",
    }  # fmt: skip
    station = boot(seed_phone(model="SSIP7000", site=site), model="SSIP_7000").settings
    preferences = codec_preferences(station)
    assert preferences["voice.codecPref.IP_7000.G722"] == "1"
    assert preferences["voice.codecPref.IP_7000.G711A"] == "2"
    ranked = {name for name, rank in preferences.items() if rank}
    assert ranked == {"voice.codecPref.IP_7000.G722", "voice.codecPref.IP_7000.G711A"}
    # the stock file's wideband codecs (Siren22 first on a 7000) are switched off too
    assert preferences["voice.codecPref.IP_7000.Siren22.64kbps"] == ""
    assert len(preferences) == 19
    assert codec_preferences(boot(seed_phone()).settings) == {}  # no codecs: the phone's


def test_codecs_a_model_lacks_are_named_in_a_warning():
    def warnings(model: str, codecs: tuple[str, ...]) -> list[str]:
        findings = PLUGIN.check_phone(seed_phone(model=model, site=seed_site(codecs=codecs)))
        assert not any(finding.refuse for finding in findings)
        return [finding.message for finding in findings if finding.message.startswith("codec")]

    assert warnings("IP650", ("g722", "pcmu")) == []
    assert warnings("IP560", ("g722", "pcmu", "pcma")) == [
        "codec g722: the IP560 on SIP 3.x has no g722 among its codec preferences; it "
        "offers the site's other codecs"
    ]
    assert warnings("IP321", ("opus", "pcmu")) == [
        "codec opus: the IP321 on SIP 3.x has no opus among its codec preferences; it "
        "offers the site's other codecs",
        "codecs: only pcmu is left for the IP321; with fewer than two codecs it also offers "
        "G.711 mu-law and A-law",
    ]
    assert warnings("IP331", ("opus",))[-1] == (
        "codecs: none of the site's codecs is the IP331's; it keeps its own"
    )


def test_ipv6_servers_are_bracketed_in_uris():
    settings = boot(seed_phone(site=seed_site(sip_server="2001:db8::5"))).settings
    assert settings["reg.1.server.1.address"] == "2001:db8::5"
    assert settings["msg.mwi.1.subscribe"] == "201@[2001:db8::5]"


# -- time zones


def test_pacific_time_is_the_seeds_offset_with_the_us_rule():
    settings = sntp_time_settings("America/Los_Angeles", 2025)
    rule = {k.removeprefix("tcpIpApp.sntp.daylightSavings."): v for k, v in settings.items()}
    assert settings["tcpIpApp.sntp.gmtOffset"] == "-28800"
    assert rule["enable"] == "1" and rule["fixedDayEnable"] == "0"
    # second Sunday of March, first Sunday of November, at 2 am
    assert (rule["start.month"], rule["start.date"], rule["start.dayOfWeek"]) == ("3", "8", "1")
    assert (rule["stop.month"], rule["stop.date"], rule["stop.dayOfWeek"]) == ("11", "1", "1")
    assert rule["start.time"] == rule["stop.time"] == "2"
    assert rule["start.dayOfWeek.lastInMonth"] == rule["stop.dayOfWeek.lastInMonth"] == "0"


def test_european_and_southern_zones():
    europe = sntp_time_settings("Europe/Amsterdam", 2025)
    assert europe["tcpIpApp.sntp.gmtOffset"] == "3600"
    assert europe["tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth"] == "1"
    assert europe["tcpIpApp.sntp.daylightSavings.stop.time"] == "3"  # 3 am summer time
    sydney = sntp_time_settings("Australia/Sydney", 2025)
    assert sydney["tcpIpApp.sntp.gmtOffset"] == "36000"
    assert sydney["tcpIpApp.sntp.daylightSavings.start.month"] == "10"
    assert sydney["tcpIpApp.sntp.daylightSavings.stop.month"] == "4"
    tokyo = sntp_time_settings("Asia/Tokyo", 2025)
    assert tokyo == {
        "tcpIpApp.sntp.gmtOffset": "32400",
        "tcpIpApp.sntp.gmtOffset.overrideDHCP": "1",  # DHCP's offset must not win
        "tcpIpApp.sntp.daylightSavings.enable": "0",
    }
    assert sntp_time_settings("Asia/Kolkata", 2025)["tcpIpApp.sntp.gmtOffset"] == "19800"


def test_the_zone_wins_over_dhcp_and_so_does_the_sites_ntp_server():
    settings = boot(seed_phone()).settings
    assert settings["tcpIpApp.sntp.gmtOffset.overrideDHCP"] == "1"
    assert settings["tcpIpApp.sntp.address.overrideDHCP"] == "1"
    assert settings["tcpIpApp.sntp.address"] == "time.nist.gov"
    no_server = boot(seed_phone(site=seed_site(ntp_servers=(), timezone="UTC"))).settings
    assert no_server["tcpIpApp.sntp.gmtOffset"] == "0"
    assert no_server["tcpIpApp.sntp.gmtOffset.overrideDHCP"] == "1"  # UTC is a zone too
    assert "tcpIpApp.sntp.address.overrideDHCP" not in no_server  # DHCP's server, then


def polycom_clock(settings: dict[str, str], year: int):
    """The offset a Polycom holding ``settings`` shows at an instant of ``year``: the
    guide's reading of tcpIpApp.sntp.* (date 1/8/15/22 = first to fourth such weekday on
    or after it, lastInMonth, fixedDayEnable, local hour before the change, a one-hour
    shift), written apart from the plug-in."""
    get = {k.removeprefix("tcpIpApp.sntp."): v for k, v in settings.items()}.get
    standard = timedelta(seconds=int(get("gmtOffset")))
    if get("daylightSavings.enable") != "1":
        return lambda moment: standard

    def change(which: str) -> datetime:
        month, date = (
            int(get(f"daylightSavings.{which}.month")),
            int(get(f"daylightSavings.{which}.date")),
        )
        hour = int(get(f"daylightSavings.{which}.time"))
        if get("daylightSavings.fixedDayEnable") == "1":
            return datetime(year, month, date, hour)
        weekday = (int(get(f"daylightSavings.{which}.dayOfWeek")) - 2) % 7  # to Monday=0
        if get(f"daylightSavings.{which}.dayOfWeek.lastInMonth") == "1":
            day = calendar.monthrange(year, month)[1]
            while datetime(year, month, day).weekday() != weekday:
                day -= 1
        else:
            day = date
            while datetime(year, month, day).weekday() != weekday:
                day += 1
        return datetime(year, month, day, hour)

    start = (change("start") - standard).replace(tzinfo=UTC)
    stop = (change("stop") - standard - timedelta(hours=1)).replace(tzinfo=UTC)

    def offset(moment: datetime) -> timedelta:
        summer = start <= moment < stop if start < stop else (moment >= start or moment < stop)
        return standard + timedelta(hours=1) if summer else standard

    return offset


def test_a_polycom_clock_follows_every_zone_it_can_express_all_year():
    year = 2026
    checked = 0
    for zone in sorted(available_timezones()):
        if zone_findings(zone, year) or (
            not zone_rules(zone, year).has_dst and transitions(zone, year)
        ):
            continue  # named in a warning, or an irregular year no yearly rule can hold
        clock = polycom_clock(sntp_time_settings(zone, year), year)
        tz = ZoneInfo(zone)
        edges = [
            change.utc + timedelta(minutes=minutes)
            for change in transitions(zone, year)
            for minutes in (-1, 0, 1)
        ]
        moment = datetime(year, 1, 1, tzinfo=UTC)
        while moment.year == year:
            edges.append(moment)
            moment += timedelta(hours=5)
        for moment in edges:
            assert clock(moment) == moment.astimezone(tz).utcoffset(), (zone, moment)
        checked += 1
    assert checked > 400


def test_zones_a_polycom_clock_cannot_follow_exactly_are_warned_of():
    (half_hour,) = zone_findings("Australia/Lord_Howe", 2026)
    assert half_hour.message.startswith("time zone Australia/Lord_Howe: it saves 30 minutes")
    assert not half_hour.refuse
    assert [f.message for f in zone_findings("Pacific/Chatham", 2026)] == [
        "time zone Pacific/Chatham: summer time starts at 02:45; a Polycom changes its clock "
        "on the hour, at 02:00",
        "time zone Pacific/Chatham: summer time ends at 03:45; a Polycom changes its clock on "
        "the hour, at 03:00",
    ]
    assert zone_findings("Europe/Amsterdam", 2026) == []


# -- dial plans


@pytest.mark.parametrize(
    ("dial_plan", "digitmap", "dropped"),
    [
        (SEED_DIAL_PLAN, SEED_DIAL_PLAN, []),
        ("xxx+^|[1-7]XX", "xxx.T|[1-7]xx", []),
        ("9;xxxxxxx", "9,xxxxxxx", []),
        ("[2-9]XXXXXXXXX,91|1X+#,9", "RR91R[2-9]xxxxxxxxx|RR9R1x.#", []),
        ("1xx|(2|3)xx|4.5|+1", "1xx", ["(2", "3)xx", "4.5", "+1"]),
        ("[2-9", "", ["[2-9"]),
    ],
)
def test_dial_plans_translate_to_polycom_digit_maps(dial_plan, digitmap, dropped):
    assert polycom_digitmap(dial_plan) == (digitmap, dropped)


def test_untranslatable_patterns_are_named_in_the_site_file():
    content = render("0004f2000607-site.cfg", seed_phone(site=seed_site(dial_plan="1xx|(2|3)x")))
    assert b"left out: (2|3)x" in content
    assert parse_parameters(content)["dialplan.digitmap"] == "1xx"


# -- directories


def test_directory_lists_site_contacts_then_extensions_without_repeating_numbers():
    site = seed_site(
        directory=(ContactView("Reception", "200"), ContactView("Lobby", "0")),
        members=(ContactView("Desk 200", "200"), ContactView("Ext_Name", "201")),
    )
    listing = parse_directory(render("0004f2000607-directory.xml", seed_phone(site=site)))
    assert listing == [("Reception", "200"), ("Lobby", "0"), ("Ext_Name", "201")]


def test_common_files_are_generic_and_hold_no_secret():
    assert parse_directory(render("000000000000-directory.xml", None)) == []
    master = render("000000000000.cfg", None)
    root = SafeET.fromstring(master)
    assert root.attrib["CONFIG_FILES"] == ""  # stock files go to known phones only
    stranger = boot(None, mac="0004f2ffffff")
    assert stranger.fetched[:2] == [("0004f2ffffff.cfg", False), ("000000000000.cfg", True)]
    assert not any(name.startswith(("reg.", "msg.")) for name in stranger.settings)
    assert stranger.directory == []


def test_device_files_need_a_phone():
    for name in device_files():
        ref = PLUGIN.match(name)
        assert ref.scope is FileScope.DEVICE and ref.mac == MAC
        assert PLUGIN.render(ref, None, None) is None


# -- names


def test_file_names_match_in_any_case_and_nothing_else():
    assert PLUGIN.match("0004F2000607.CFG") == FileRef("polycom", "mac.cfg", FileScope.DEVICE, MAC)
    assert PLUGIN.match("0004f2000607-REG.cfg").name == "reg.cfg"
    assert PLUGIN.match("000000000000.CFG").scope is FileScope.COMMON
    assert PLUGIN.match("000000000000-Directory.XML").name == "common-directory.xml"
    assert PLUGIN.match("sip.cfg").scope is FileScope.FIRMWARE  # a release's stock file
    for name in (
        "0004f2000607-phone.cfg", "0004f2000607-boot.log",
        "000000000000-reg.cfg", "010000000000.cfg", "0004f200060.cfg", "0004f2000607.cfg.bak",
        "x/0004f2000607.cfg", "0004f2000607-site.cfg/x", "0004f2000607-license.cfg",
        "0004f2000607.cfg\n",
    ):  # fmt: skip
        assert PLUGIN.match(name) is None, name


def test_served_files_names_every_file_in_lower_case():
    assert PLUGIN.served_files(["IP650"], [MAC, "0004F2000001"]) == [
        "000000000000.cfg", "000000000000-directory.xml",
        "0004f2000001.cfg", "0004f2000001-reg.cfg", "0004f2000001-site.cfg",
        "0004f2000001-directory.xml",
        "0004f2000607.cfg", "0004f2000607-reg.cfg", "0004f2000607-site.cfg",
        "0004f2000607-directory.xml",
    ]  # fmt: skip


def test_upload_names_are_declared_with_their_limits():
    boot_log = PLUGIN.match_upload("0004F2000607-boot.log")
    assert boot_log == UploadRef("polycom", MAC, "0004f2000607-boot.log", 1024 * 1024, True)
    assert PLUGIN.match_upload("0004f2000607-app.log").append_allowed
    for kind in ("phone.cfg", "web.cfg", "directory.xml"):
        ref = PLUGIN.match_upload(f"0004f2000607-{kind.upper()}")
        assert ref.name == f"0004f2000607-{kind}"
        assert ref.max_bytes == 256 * 1024 and not ref.append_allowed


@pytest.mark.parametrize(
    "name",
    [
        "../0004f2000607-boot.log", "logs/0004f2000607-boot.log", "0004f2000607-boot.log/x",
        "0004f2000607-boot.log.exe", "0004f2000607-boot.log\x00", "000000000000-boot.log",
        "ffffffffffff-app.log", "0004f2000607.cfg", "0004f2000607-reg.cfg", "boot.log",
        "0004f2000607-other.log", "0004f2000607-boot.log ", "0004f2000607--boot.log",
        "0004f2000607-boot.log\n",
    ],
)  # fmt: skip
def test_hostile_or_undeclared_upload_names_are_refused(name):
    assert PLUGIN.match_upload(name) is None


# -- identification and models


def test_user_agents_give_model_and_version_but_no_mac():
    facts = PLUGIN.identify("FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0184")
    assert (facts.vendor, facts.mac, facts.model, facts.firmware_version) == (
        "polycom", None, "IP650", "3.2.7.0184",
    )  # fmt: skip
    station = PLUGIN.identify(
        "FileTransport PolycomSoundStationIP-SSIP_6000-UA/4.0.4.2906 Type/Application"
    )
    assert (station.model, station.firmware_version) == ("SSIP6000", "4.0.4.2906")
    updater = PLUGIN.identify("FileTransport PolycomSoundStationIP-SSIP_7000-UA/5.0.3 Type/Updater")
    assert (updater.model, updater.firmware_version) == ("SSIP7000", None)
    unknown = PLUGIN.identify("FileTransport PolycomVVX-VVX_400-UA/5.9.2.1234")
    assert unknown.model == "VVX_400"
    for other in (None, "", "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP", "curl/8.0"):
        assert PLUGIN.identify(other) is None


def test_models_and_aliases_resolve_alongside_aastra():
    registry = VendorRegistry([AastraPlugin(), PolycomPlugin()])
    for alias, model in [
        ("SPIP_650", "IP650"), ("spip650", "IP650"), ("SoundPoint IP 321", "IP321"),
        ("IP 335", "IP335"), ("SSIP_6000", "SSIP6000"), ("SoundStation IP 7000", "SSIP7000"),
        ("IP560", "IP560"), ("SPIP_331", "IP331"),
    ]:  # fmt: skip
        assert registry.resolve_model(alias) == (registry.get("polycom"), model)
    assert registry.resolve_model("6757i")[0].name == "aastra"
    polycom = {alias for spec in PLUGIN.models for alias in (spec.name, *spec.aliases)}
    assert not any(AastraPlugin().canonical_model(alias) for alias in polycom)


def test_settings_must_look_like_polycom_parameters():
    assert PLUGIN.validate_settings(
        {"tone.dtmf.rfc2833Payload": "96", "APP_FILE_PATH": "sip.ld",
         "APP_FILE_PATH_SPIP650": "x.ld", "se.pat.misc.1.name": "a \"b\" <c>"}
    ) == []  # fmt: skip
    for name in ("has space", 'quote"d', "1abc", "reg.1.<x>", "", "CONFIG_FILES",
                 "LOG_FILE_DIRECTORY", "a/b", "reg.1.label\n"):  # fmt: skip
        assert PLUGIN.validate_settings({name: "1"}), name
    assert PLUGIN.validate_settings({"up.welcome": "bell\x07"})


def test_the_master_file_names_are_the_ones_the_emulator_fetches():
    phone = boot(seed_phone())
    requested = [name for name, _ in phone.fetched]
    assert requested == [
        "0004f2000607.cfg", "0004f2000607-reg.cfg", "0004f2000607-site.cfg",
        "0004f2000607-directory.xml",
    ]  # fmt: skip
    assert all(re.fullmatch(r"[0-9a-f]{12}.*", n) for n in requested if n[0].isdigit())


# -- trust: prefixes, strangers, secrets, no provisioning login

OTHER_MAC = "0004F2ABCDEF"


def known_view() -> PhoneView:
    site = seed_site(
        name="zz-branch-42", sip_server="pbx.branch42.example", voicemail="*971",
        conference="conf-42", directory=(ContactView("Yvonne Quist", "4799"),),
        members=(ContactView("Zora Quist", "4711"),),
        vendor_settings={"polycom": {"up.welcome": "welcome-42"}},
    )  # fmt: skip
    return seed_phone(
        site=site,
        lines=(LineView(1, "4711", "Zora Quist", "auth-4711", "line-s3cret"),),
        phone_settings={"device.prov.password": "prov-s3cret", "up.headsetMode": "1"},
        http_user="login-0607",
        http_password="dg-s3cret",
    )


def inventory_values(view: PhoneView) -> set[str]:
    site = view.site
    values = {site.name, site.sip_server, site.voicemail, site.conference, view.http_user,
              view.http_password, *view.vendor_settings().values()}  # fmt: skip
    for contact in (*site.directory, *site.members):
        values |= {contact.name, contact.number}
    for line in view.lines:
        values |= {line.number, line.name, line.auth_user, line.password}
    return {value for value in values if value and len(value) > 2}


def stranger(name: str) -> bytes | None:
    ref = PLUGIN.match(name)
    assert ref is not None and ref.scope is FileScope.DEVICE, name
    return PLUGIN.stranger_file(ref)


def same_but_mac(first: bytes, first_mac: str, second: bytes, second_mac: str) -> bool:
    def masked(content: bytes, mac: str) -> bytes:
        return content.replace(mac.lower().encode(), b"<MAC>").replace(mac.encode(), b"<MAC>")

    return masked(first, first_mac) == masked(second, second_mac)


def test_strangers_get_the_same_files_for_known_and_unknown_macs_with_nothing_of_the_inventory():
    view = known_view()
    values = inventory_values(view)
    for suffix in DEVICE_FILES:
        known = stranger(f"{MAC.lower()}{suffix}")
        unknown = stranger(f"{OTHER_MAC.lower()}{suffix}")
        assert known is not None, suffix
        assert same_but_mac(known, MAC, unknown, OTHER_MAC) and len(known) == len(unknown)
        assert known.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
        SafeET.fromstring(known)  # well-formed to a hardened parser (no DTD, no entities)
        assert not [value for value in values if value.encode() in known], suffix
        assert stranger(f"{MAC.upper()}{suffix.upper()}") == known  # any case, same answer


def test_the_stranger_master_file_is_the_unknown_phones_master_file():
    master = SafeET.fromstring(stranger("0004f2000607.cfg"))
    common = SafeET.fromstring(render("000000000000.cfg", None))
    assert master.tag == "APPLICATION" and master.attrib == common.attrib
    assert master.attrib["CONFIG_FILES"] == ""
    assert master.attrib["APP_FILE_PATH"] == "sip.ld" and list(master) == []


def test_stranger_configuration_files_are_empty_documents_of_the_right_root():
    for name in ("0004f2000607-reg.cfg", "0004f2000607-site.cfg"):
        root = SafeET.fromstring(stranger(name))
        assert root.tag == "polycomConfig" and not root.attrib and list(root) == []
        assert parse_parameters(stranger(name)) == {}
    assert parse_directory(stranger("0004f2000607-directory.xml")) == []


def stranger_boot(master_for_known: bytes | None = None) -> PolycomPhone:
    """Boot the emulator on stranger answers only (``master_for_known``: a master file the
    phone still has from an earlier, trusted boot)."""
    phone = PolycomPhone(mac=MAC.lower())

    def fetch(name: str) -> bytes | None:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return None
        if ref.scope is FileScope.DEVICE:
            if ref.name == "mac.cfg" and master_for_known is not None:
                return master_for_known
            return PLUGIN.stranger_file(ref)
        return PLUGIN.render(ref, None, None)

    phone.boot(fetch, lambda name, content, append: False)  # a stranger's upload is refused
    return phone


def test_a_phone_following_the_stranger_master_file_boots_without_an_account():
    phone = stranger_boot()
    assert phone.fetched[0] == ("0004f2000607.cfg", True)
    assert phone.config_files == []
    assert not any(name.startswith(("reg.", "msg.")) for name in phone.settings)
    assert phone.line(1) == {} and phone.directory == [] and phone.reboots == 0


def test_a_phone_still_listing_its_own_files_reads_nothing_from_the_stranger_ones():
    remembered = render("0004f2000607.cfg", known_view())
    phone = stranger_boot(master_for_known=remembered)
    assert phone.config_files[:2] == ["0004f2000607-reg.cfg", "0004f2000607-site.cfg"]
    assert ("0004f2000607-reg.cfg", True) in phone.fetched  # served, well-formed, empty
    assert phone.settings == {} and phone.line(1) == {}


def test_mac_prefixes_and_no_provisioning_login_in_any_file():
    assert set(PLUGIN.mac_prefixes) == {"0004F2", "64167F", "482567"}
    assert MAC[:6] in PLUGIN.mac_prefixes
    assert PLUGIN.device_credentials is False
    view = known_view()
    for name in PLUGIN.served_files(["IP650"], [MAC]):
        content = render(name, view)
        assert b"dg-s3cret" not in content and b"login-0607" not in content, name
        assert not any(
            parameter.startswith("device.prov.user") for parameter in parse_parameters(content)
        )


@pytest.mark.parametrize(
    "name",
    ["reg.1.auth.password", "REG.2.AUTH.PASSWORD", "device.prov.password",
     "device.auth.localAdminPassword", "device.auth.localUserPassword",
     "device.net.dot1x.password", "voIpProt.SIP.someServer.password", "dir.corp.password"],
)  # fmt: skip
def test_secret_parameters_are_recognised(name):
    assert PLUGIN.is_secret_setting(name)


@pytest.mark.parametrize(
    "name",
    ["device.prov.password.set", "device.auth.localAdminPassword.set", "reg.1.auth.userId",
     "device.prov.user", "voIpProt.SIP.authOptimizedInFailover", "up.welcome", "APP_FILE_PATH"],
)  # fmt: skip
def test_parameters_that_are_not_secrets(name):
    assert not PLUGIN.is_secret_setting(name)


def test_holds_secrets_the_lines_file_not_the_master_site_or_directory():
    refs = {suffix: PLUGIN.match(f"0004f2000607{suffix}") for suffix in DEVICE_FILES}
    view = seed_phone()  # a SIP password on line 1
    assert PLUGIN.holds_secrets(refs["-reg.cfg"], view)
    for suffix in (".cfg", "-site.cfg", "-directory.xml"):
        assert not PLUGIN.holds_secrets(refs[suffix], view), suffix
    no_password = seed_phone(lines=(LineView(1, "201", None, "201", None),))
    assert not PLUGIN.holds_secrets(refs["-reg.cfg"], no_password)
    assert not PLUGIN.holds_secrets(refs["-reg.cfg"], replace(no_password, http_password="x"))
    raw = replace(no_password, phone_settings={"device.prov.password": "s"})
    assert PLUGIN.holds_secrets(refs["-reg.cfg"], raw)  # raw parameters land in the lines file
    image = replace(no_password, phone_settings={"APP_FILE_PATH": "ftp://u:pw@fw.example/sip.ld"})
    assert PLUGIN.holds_secrets(refs[".cfg"], image)
    assert not PLUGIN.holds_secrets(refs["-reg.cfg"], image)
    assert not PLUGIN.holds_secrets(PLUGIN.match("0004f2000608-reg.cfg"), view)  # not its file
    assert not PLUGIN.holds_secrets(PLUGIN.match("000000000000.cfg"), view)

"""Cisco 7940/7960 clocks: the firmware's zone names and DST rules, checked against zoneinfo.

The emulator reads ``time_zone`` and the ``dst_*`` keys of the files the plug-in renders
as the admin guide describes them (a name from the firmware's table, weekday rules with
``8`` for the last week, times as the clock reads them) and keeps a clock; that clock
must show what zoneinfo shows for the site's zone at every hour of the year, north and
south of the equator. Zones whose standard offset the firmware has no name for are
refused at apply, never written with another offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from plugtone.timezones import transitions
from plugtone.vendors.base import FileRef, FileScope, LineView, PhoneView, SiteView
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from plugtone.vendors.cisco79xx.timezones import LEFT_OUT, NAMES, cisco_time
from tests.emulators.cisco import Refused, parse_clock, parse_cnf

PLUGIN = Cisco79xxPlugin()
MAC = "00115C93AFD1"
FIRMWARE_ORDER = [
    "IDL",
    "NT",
    "AHST",
    "IMT",
    "YST",
    "PST",
    "MST",
    "CST",
    "EST",
    "AST",
    "NST",
    "BST",
    "AT",
    "WAT",
    "GMT",
    "CET",
    "EET",
    "BT",
    "IT",
    "ZP4",
    "AFG",
    "ZP5",
    "IST",
    "ZP6",
    "SUM",
    "WAST",
    "HST",
    "JST",
    "CAST",
    "EAST",
    "EADT",
    "NZST",
]
"""The firmware's ``time_zone`` names in the guide's order (sipXconfig's ciscoIp model)."""


def phone(zone: str, **raw: str) -> PhoneView:
    site = SiteView(name="hq", sip_server="10.0.0.1", timezone=zone)
    return PhoneView(
        MAC, "7960", "cisco79xx", site, (LineView(1, "201", "Ann", "201", "pw"),), (),
        phone_settings=raw,
    )  # fmt: skip


def phone_settings(view: PhoneView) -> dict[str, str]:
    body = PLUGIN.render(FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC), view, None)
    return parse_cnf(body.decode("ascii"))


def hours_of(year: int):
    moment = datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        yield moment
        moment += timedelta(hours=1)


@pytest.mark.parametrize(
    ("zone", "name"),
    [
        ("America/New_York", "EST"),
        ("America/Los_Angeles", "PST"),
        ("America/St_Johns", "NST"),  # -3:30 with DST
        ("Europe/Berlin", "CET"),
        ("Europe/London", "GMT"),
        ("Europe/Helsinki", "EET"),
        ("Asia/Kolkata", "IST"),
        ("Asia/Tokyo", "JST"),
        ("Australia/Sydney", "EAST"),  # south: DST from October to April
        ("Australia/Adelaide", "CAST"),  # south, +9:30
        ("Pacific/Auckland", "NZST"),
        ("America/Santiago", "AST"),  # south, and another region's name
        ("UTC", "GMT"),
    ],
)
def test_the_phones_clock_follows_the_sites_zone_all_year(zone, name):
    settings = phone_settings(phone(zone))
    assert settings["time_zone"] == name
    clock = parse_clock(settings)
    tz = ZoneInfo(zone)
    year = datetime.now(UTC).year  # the file holds this year's rule
    wrong = [
        moment
        for moment in hours_of(year)
        if clock.offset_at(moment) != moment.astimezone(tz).utcoffset()
    ]
    assert wrong == [], f"{zone}: the phone is off at {len(wrong)} hours, from {wrong[:1]}"


def test_rules_are_spelled_as_the_guide_gives_them():
    settings, notes = cisco_time("America/Los_Angeles", 2025)
    assert notes == []
    assert settings == {
        "time_zone": "PST", "dst_auto_adjust": "1", "dst_offset": "1",
        "dst_start_month": "Mar", "dst_start_day": "0", "dst_start_day_of_week": "Sun",
        "dst_start_week_of_month": "2", "dst_start_time": "02:00",
        "dst_stop_month": "Nov", "dst_stop_day": "0", "dst_stop_day_of_week": "Sun",
        "dst_stop_week_of_month": "1", "dst_stop_time": "02:00",
    }  # fmt: skip
    berlin, _ = cisco_time("Europe/Berlin", 2025)
    assert berlin["dst_start_week_of_month"] == "8" and berlin["dst_stop_time"] == "03:00"
    assert cisco_time("Asia/Tokyo", 2025)[0] == {
        "time_zone": "JST", "dst_auto_adjust": "0", "dst_offset": "0",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "reason"),
    [
        ("Asia/Shanghai", "(GMT+08:00): the 7940/7960 SIP firmware has no time_zone name"),
        ("Australia/Perth", "(GMT+08:00)"),  # the firmware's WAST is the classic +7
        ("America/Sao_Paulo", "(GMT-03:00)"),
        ("Asia/Kathmandu", "(GMT+05:45)"),
        ("Pacific/Tongatapu", "(GMT+13:00)"),
        ("Pacific/Honolulu", None),  # AHST: no refusal
        ("Australia/Lord_Howe", "moves the clock 30 minutes"),
    ],
)
def test_zones_the_phone_cannot_keep_are_refused_at_apply_never_shifted(zone, reason):
    view = phone(zone)
    findings = PLUGIN.check_phone(view)
    settings = phone_settings(view)
    if reason is None:
        assert findings == [] and settings["time_zone"] == "AHST"
        return
    assert [finding.refuse for finding in findings] == [True]
    assert findings[0].message.startswith(f"time zone {zone}")
    assert reason in findings[0].message
    assert "time_zone" not in settings  # not written with some other offset
    with pytest.raises(Refused):
        parse_clock(settings)
    # the admin may name a zone the phone takes: then the plug-in does not refuse
    assert PLUGIN.check_phone(phone(zone, time_zone="GMT")) == []
    assert phone_settings(phone(zone, time_zone="GMT"))["time_zone"] == "GMT"


def test_a_name_of_the_right_offset_but_another_region_is_a_warning():
    for zone, name in (("Africa/Lagos", "CET"), ("Asia/Bangkok", "WAST"),
                       ("America/Santiago", "AST"), ("Africa/Johannesburg", "EET")):  # fmt: skip
        findings = PLUGIN.check_phone(phone(zone))
        assert [finding.refuse for finding in findings] == [False], zone
        assert findings[0].message.startswith(f"time zone {zone} (GMT")
        assert f"is written as {name}" in findings[0].message
        assert phone_settings(phone(zone))["time_zone"] == name
    for zone in ("Europe/Paris", "America/Chicago", "Asia/Tokyo", "Europe/London", "UTC"):
        assert PLUGIN.check_phone(phone(zone)) == [], zone


def test_the_table_is_the_firmwares_list_in_its_order():
    written = [name.name for name in NAMES]
    assert set(written) | set(LEFT_OUT) == set(FIRMWARE_ORDER)
    assert not set(written) & set(LEFT_OUT)
    assert written == [name for name in FIRMWARE_ORDER if name in written]  # same order
    minutes = [name.minutes for name in NAMES]
    assert minutes == sorted(minutes) and len(set(minutes)) == len(minutes)
    assert "HST" not in written  # the old table's Shanghai, 18 hours off


def test_every_zone_the_plug_in_accepts_keeps_the_right_time():
    """Every tz database zone: refused, or the phone's clock agrees with zoneinfo on the
    15th of each month and a second either side of each of this year's changes."""
    year = datetime.now(UTC).year
    accepted = 0
    for zone in sorted(available_timezones()):
        if any(finding.refuse for finding in PLUGIN.check_phone(phone(zone))):
            assert "time_zone" not in cisco_time(zone)[0], zone
            continue
        accepted += 1
        clock = parse_clock(cisco_time(zone)[0])
        tz = ZoneInfo(zone)
        moments = [datetime(year, month, 15, 12, tzinfo=UTC) for month in range(1, 13)]
        for change in transitions(zone, year):
            moments += [change.utc - timedelta(seconds=1), change.utc]
        for moment in moments:
            assert clock.offset_at(moment) == moment.astimezone(tz).utcoffset(), (zone, moment)
    assert accepted > 400

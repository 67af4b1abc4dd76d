"""Aastra time zones: the admin guide's own example, the documented key set for relative
and absolute rules, and the emulated phone's clock against zoneinfo over whole years."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from plugtone.timezones import transitions, zone_rules
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.aastra.timezones import NAMED, aastra_timezone, custom_settings
from plugtone.vendors.base import FileRef, FileScope, LineView, PhoneView, SiteView
from tests.emulators.aastra import AastraPhone, parse_aastra, phone_offset

PLUGIN = AastraPlugin()
THIS_YEAR = datetime.now(UTC).year

# 41-001343-02 REV04/05, 5-17 (Example 1, "relative time (for EST)") and 5-18 (the rule
# lines: "dst start month: 3 #March", "dst start week: 2 #second full week", "dst start
# day: 1 #Sunday", "dst end month: 11", "dst end week: 1", "dst end day: 1").
GUIDE_EXAMPLE = {
    "time zone name": "Custom",
    "dst start relative date": "1",
    "dst end relative date": "1",
    "time zone minutes": "300",
    "dst minutes": "60",
    "dst start month": "3",
    "dst start week": "2",
    "dst start day": "1",
    "dst end month": "11",
    "dst end week": "1",
    "dst end day": "1",
}
RULE_KEYS = {"relative date", "month", "week", "day", "hour"}
DOCUMENTED = {"time zone name", "time zone minutes", "dst minutes"} | {
    f"dst {which} {part}" for which in ("start", "end") for part in RULE_KEYS
}


def mac_cfg(zone: str) -> dict[str, str]:
    site = SiteView(name="hq", sip_server="pbx.example.com", timezone=zone)
    view = PhoneView(
        mac="00085D000021", model="6757i", vendor="aastra", site=site,
        lines=(LineView(1, "201", None, "201", "pw"),), keys=(),
    )  # fmt: skip
    ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
    return parse_aastra(PLUGIN.render(ref, view, None).decode())


def time_settings(settings: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in settings.items() if k.startswith(("time zone", "dst "))}


def test_the_guides_est_example_comes_out_of_eastern_time():
    for year in (2025, 2026, 2030):
        written = dict(custom_settings(zone_rules("America/New_York", year)))
        assert GUIDE_EXAMPLE.items() <= written.items(), year
        assert written["dst start hour"] == "2" and written["dst end hour"] == "2"
    # a zone on Eastern time without a firmware name goes out that way in its file
    rendered = time_settings(mac_cfg("America/Indiana/Indianapolis"))
    assert GUIDE_EXAMPLE.items() <= rendered.items()
    assert set(rendered) == DOCUMENTED


def test_a_relative_rule_writes_the_literal_flags_and_never_a_rule_in_them():
    rendered = time_settings(mac_cfg("Europe/Amsterdam"))
    assert rendered["dst start relative date"] == "1" and rendered["dst end relative date"] == "1"
    assert rendered["time zone minutes"] == "-60"  # minutes west of UTC: UTC+1 is -60
    assert (rendered["dst start month"], rendered["dst start week"], rendered["dst start day"]) == (
        "3", "-1", "1"
    )  # the last Sunday of March  # fmt: skip
    assert rendered["dst start hour"] == "2" and rendered["dst end hour"] == "3"
    assert "dst config" not in rendered  # not in any Aastra guide found
    assert set(rendered) <= DOCUMENTED


def test_an_absolute_rule_writes_month_day_of_month_and_hour_without_a_week():
    rules = zone_rules("Asia/Tehran", 2021)  # 22 March to 22 September, fixed dates then
    written = dict(custom_settings(rules))
    assert written["dst start relative date"] == "0" and written["dst end relative date"] == "0"
    assert (written["dst start month"], written["dst start day"]) == ("3", "22")
    assert (written["dst end month"], written["dst end day"]) == ("9", "22")
    assert "dst start week" not in written and "dst end week" not in written
    assert set(written) <= DOCUMENTED


def test_weekdays_other_than_sunday_are_counted_from_the_end_of_the_month():
    written = dict(custom_settings(zone_rules("Asia/Gaza", 2025)))  # Saturday 12 April
    assert (written["dst start week"], written["dst start day"]) == ("-3", "7")
    written = dict(custom_settings(zone_rules("Australia/Sydney", 2026)))
    assert (written["dst start month"], written["dst start week"]) == ("10", "1")  # 1st Sunday
    assert (written["dst end month"], written["dst end week"]) == ("4", "1")


def test_zones_without_daylight_saving_add_no_minutes():
    assert time_settings(mac_cfg("Asia/Tokyo")) == {
        "time zone name": "Custom", "time zone minutes": "-540", "dst minutes": "0",
    }  # fmt: skip
    assert time_settings(mac_cfg("Asia/Kolkata"))["time zone minutes"] == "-330"
    assert time_settings(mac_cfg("America/New_York")) == {"time zone name": "US-Eastern"}


def year_samples(year: int, zone: str, every: timedelta) -> list[datetime]:
    start = datetime(year, 1, 1, tzinfo=UTC)
    samples = []
    moment = start
    while moment.year == year:
        samples.append(moment)
        moment += every
    for change in transitions(zone, year):
        samples += [
            change.utc - timedelta(seconds=1),
            change.utc,
            change.utc + timedelta(seconds=1),
        ]
    return samples


CLOCK_ZONES = [
    "Europe/Amsterdam",  # north, last Sundays
    "America/Indiana/Indianapolis",  # north, US rule
    "America/St_Johns",  # named (CA-Newfoundland), half-hour offset
    "Europe/London",  # named
    "Australia/Sydney",  # south, first Sundays
    "Pacific/Auckland",  # south, last Sunday of September to first Sunday of April
    "America/Santiago",  # south, midnight changes
    "Asia/Gaza",  # Saturdays counted from the end of the month
    "Asia/Tokyo",  # no daylight saving
]


@pytest.mark.parametrize("zone", CLOCK_ZONES)
def test_the_phones_clock_follows_the_site_zone_all_year(zone):
    tz = ZoneInfo(zone)
    for year in (THIS_YEAR, THIS_YEAR + 1):
        phone = AastraPhone(mac="00085D000021", model="6757i")
        phone.settings.update(time_settings(dict(aastra_timezone(zone, year))))
        rules = zone_rules(zone, year)
        for moment in year_samples(year, zone, timedelta(minutes=30)):
            shown = phone.offset_at(moment)
            assert shown == moment.astimezone(tz).utcoffset(), (zone, moment)
            if zone not in NAMED:
                assert shown == rules.offset_at(moment), (zone, moment)


def test_an_absolute_rule_drives_the_clock_as_the_rules_say():
    rules = zone_rules("Asia/Tehran", 2021)
    settings = dict(custom_settings(rules))
    tz = ZoneInfo("Asia/Tehran")
    for moment in year_samples(2021, "Asia/Tehran", timedelta(hours=1)):
        assert phone_offset(settings, moment) == rules.offset_at(moment)
        assert phone_offset(settings, moment) == moment.astimezone(tz).utcoffset()


def test_every_named_zone_is_the_zone_the_firmware_knows_by_that_name():
    for zone, name in NAMED.items():
        tz = ZoneInfo(zone)
        for moment in year_samples(THIS_YEAR, zone, timedelta(hours=6)):
            assert (
                phone_offset({"time zone name": name}, moment) == moment.astimezone(tz).utcoffset()
            ), (zone, moment)


def test_every_zone_the_plugin_accepts_shows_the_right_offset_this_year_and_next():
    """Around every change and twice a month, for every zone in zoneinfo that
    ``check_phone`` does not refuse; a zone it only warns about is right away from its
    change nights."""
    site = SiteView(name="hq", sip_server="pbx.example.com")
    base = PhoneView(mac="00085D000021", model="6757i", vendor="aastra", site=site,
                     lines=(), keys=())  # fmt: skip
    checked = 0
    for zone in sorted(available_timezones()):
        findings = PLUGIN.check_phone(replace(base, site=replace(site, timezone=zone)))
        if any(finding.refuse for finding in findings):
            continue
        tz = ZoneInfo(zone)
        for year in (THIS_YEAR, THIS_YEAR + 1):
            settings = dict(aastra_timezone(zone, year))
            moments = [datetime(year, month, day, 12, tzinfo=UTC)
                       for month in range(1, 13) for day in (1, 15)]  # fmt: skip
            if not findings:
                moments += year_samples(year, zone, timedelta(days=400))
            for moment in moments:
                assert phone_offset(settings, moment) == moment.astimezone(tz).utcoffset(), (
                    zone,
                    moment,
                )
        checked += 1
    assert checked > 500


@pytest.mark.parametrize(
    ("zone", "refuse", "words"),
    [("Antarctica/Troll", True, "adds 120 minutes"), ("Pacific/Chatham", False, "02:45")],
)
def test_zones_the_phone_cannot_follow_are_named_in_findings(zone, refuse, words):
    site = SiteView(name="hq", sip_server="pbx.example.com", timezone=zone)
    view = PhoneView(mac="00085D000021", model="6757i", vendor="aastra", site=site,
                     lines=(), keys=())  # fmt: skip
    findings = [f for f in PLUGIN.check_phone(view) if zone in f.message]
    assert len(findings) == 1 and findings[0].refuse is refuse
    assert words in findings[0].message

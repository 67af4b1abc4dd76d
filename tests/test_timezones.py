"""The one time-zone module every plug-in formats from, checked against zoneinfo for
every zone it knows and the next ten years: the rule a phone is given must put its
clock where the tz database puts it."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest

from plugtone.timezones import DstRule, zone_rules

THIS_YEAR = datetime.now(UTC).year
YEARS = range(THIS_YEAR, THIS_YEAR + 10)


def rule_local_time(rule: DstRule, year: int) -> datetime:
    """Where a phone that knows only the rule puts the change, in local wall time."""
    if rule.fixed:
        day = rule.day
    else:
        days = calendar.monthrange(year, rule.month)[1]
        weekdays = [
            d for d in range(1, days + 1) if calendar.weekday(year, rule.month, d) == rule.weekday
        ]
        day = weekdays[-1] if rule.last else weekdays[rule.week - 1]
    return datetime(year, rule.month, day) + timedelta(minutes=rule.minutes)


def test_every_zone_for_ten_years_matches_zoneinfo() -> None:
    irregular = []
    checked = 0
    for zone in sorted(available_timezones()):
        tz = ZoneInfo(zone)
        for year in YEARS:
            rules = zone_rules(zone, year)
            if rules.has_dst:
                assert rules.start is not None and rules.end is not None
                assert rules.start_rule is not None and rules.end_rule is not None
                # the calendar rule, as a phone reads it, lands on this year's change
                assert rule_local_time(rules.start_rule, year) == rules.start.local, zone
                assert rule_local_time(rules.end_rule, year) == rules.end.local, zone
                # the instants are the tz database's: the offset changes right there
                for change in (rules.start, rules.end):
                    before = (change.utc - timedelta(seconds=1)).astimezone(tz).utcoffset()
                    after = change.utc.astimezone(tz).utcoffset()
                    assert (before, after) == (change.before, change.after), (zone, year)
                assert rules.start.after - rules.start.before == rules.saving
                assert min(rules.start.before, rules.end.after) == rules.standard
            # the offset a phone holding these rules shows is zoneinfo's all year
            # (sampled every three days, and around each change)
            moments = [
                datetime(year, 1, 1, 12, tzinfo=UTC) + timedelta(days=3 * n) for n in range(122)
            ]
            for change in (rules.start, rules.end):
                if change is not None:
                    moments += [change.utc - timedelta(seconds=1), change.utc]
            wrong = [
                moment
                for moment in moments
                if moment.year == year
                and rules.offset_at(moment) != moment.astimezone(tz).utcoffset()
            ]
            if wrong:
                irregular.append((zone, year))
                # only zones that change in some other way than one DST rule may differ,
                # and then only before their last change of the year
                assert not rules.has_dst, (zone, year, wrong[:3])
                final = datetime(year, 12, 31, 23, tzinfo=UTC)
                assert rules.offset_at(final) == final.astimezone(tz).utcoffset()
            checked += 1
    assert checked >= 590 * 10
    # permanent changes of offset are rare: a handful of zone-years at most
    assert len(irregular) <= 10, irregular


@pytest.mark.parametrize(
    ("zone", "standard", "saving", "start", "end"),
    [
        # US: second Sunday of March 02:00, first Sunday of November 02:00
        ("America/Los_Angeles", -480, 60, (3, 2, 6, False, 120), (11, 1, 6, False, 120)),
        # EU: last Sunday of March 01:00 UTC, which is 02:00 CET and 03:00 CEST
        ("Europe/Berlin", 60, 60, (3, 5, 6, True, 120), (10, 4, 6, True, 180)),
        # southern hemisphere: summer starts in October and ends in April
        ("Australia/Sydney", 600, 60, (10, 1, 6, False, 120), (4, 1, 6, False, 180)),
        # Lord Howe saves half an hour
        ("Australia/Lord_Howe", 630, 30, (10, 1, 6, False, 120), (4, 1, 6, False, 120)),
    ],
)
def test_well_known_rules_2026(zone, standard, saving, start, end) -> None:
    rules = zone_rules(zone, 2026)
    assert (rules.standard_minutes, rules.saving_minutes) == (standard, saving)
    for rule, (month, week, weekday, last, minutes) in (
        (rules.start_rule, start),
        (rules.end_rule, end),
    ):
        assert rule is not None
        assert (rule.month, rule.week, rule.weekday, rule.last, rule.minutes) == (
            month, week, weekday, last, minutes,
        )  # fmt: skip
        assert not rule.fixed


def test_zones_without_dst_have_their_one_offset() -> None:
    for zone, minutes in (
        ("Asia/Shanghai", 480),
        ("Asia/Kolkata", 330),
        ("Asia/Kathmandu", 345),
        ("UTC", 0),
    ):
        rules = zone_rules(zone, 2026)
        assert not rules.has_dst
        assert rules.standard_minutes == minutes
        assert rules.saving_minutes == 0

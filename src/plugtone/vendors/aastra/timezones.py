"""IANA time zones as Aastra phones want them.

Aastra firmware knows a list of named zones (``US-Pacific``, ``GB-London`` ...). For
the zones in ``NAMED`` we send the name and let the phone apply its own DST rule.
Every other IANA zone is sent as ``time zone name: Custom`` with the standard
offset and a DST rule computed from the tz database, so any zone the inventory
accepts reaches the phone correctly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NAMED = {
    "America/New_York": "US-Eastern",
    "America/Detroit": "US-Eastern",
    "America/Chicago": "US-Central",
    "America/Denver": "US-Mountain",
    "America/Los_Angeles": "US-Pacific",
    "America/Anchorage": "US-Alaska",
    "Pacific/Honolulu": "US-Hawaii",
    "America/Toronto": "CA-Eastern",
    "America/Winnipeg": "CA-Central",
    "America/Edmonton": "CA-Mountain",
    "America/Vancouver": "CA-Pacific",
    "America/Halifax": "CA-Atlantic",
    "America/St_Johns": "CA-Newfoundland",
    "Europe/London": "GB-London",
    "Europe/Paris": "FR-Paris",
    "Europe/Berlin": "DE-Berlin",
}

_WEEKDAY_SUNDAY_FIRST = {6: 1, 0: 2, 1: 3, 2: 4, 3: 5, 4: 6, 5: 7}


def aastra_timezone(zone: str, year: int | None = None) -> list[tuple[str, str]]:
    """The ``time zone ...`` and ``dst ...`` settings for IANA ``zone``."""
    if zone in NAMED:
        return [("time zone name", NAMED[zone])]
    return list(_custom_zone(zone, year or datetime.now(UTC).year))


@lru_cache(maxsize=1024)
def _custom_zone(zone: str, year: int) -> tuple[tuple[str, str], ...]:
    """:func:`aastra_timezone` for a zone outside the phone's list, once per zone and
    year: finding the transitions walks the year hour by hour (tens of milliseconds),
    and every phone of a site asks for the same zone."""
    return tuple(_custom_settings(zone, year))


def _custom_settings(zone: str, year: int) -> list[tuple[str, str]]:
    tz = ZoneInfo(zone)
    transitions = _transitions(tz, year)
    january = datetime(year, 1, 15, 12, tzinfo=tz)
    july = datetime(year, 7, 15, 12, tzinfo=tz)
    standard = min(january.utcoffset(), july.utcoffset())  # type: ignore[type-var]
    settings = [
        ("time zone name", "Custom"),
        # Aastra counts minutes west of UTC: UTC+1 is -60.
        ("time zone minutes", str(-int(standard.total_seconds() // 60))),
    ]
    if len(transitions) != 2:
        settings.append(("dst config", "0"))
        return settings
    (start, saving), (end, _) = transitions
    settings += [
        ("dst config", "3"),
        ("dst minutes", str(min(int(saving.total_seconds() // 60), 60))),
        ("dst start relative date", "1"),
        *_rule("start", start),
        ("dst end relative date", "1"),
        *_rule("end", end),
    ]
    return settings


def _rule(which: str, moment: datetime) -> list[tuple[str, str]]:
    """Month, week of month (-1 for the last) and weekday of a local transition."""
    week = (moment.day - 1) // 7 + 1
    if moment.day + 7 > _days_in_month(moment):
        week = -1
    return [
        (f"dst {which} month", str(moment.month)),
        (f"dst {which} week", str(week)),
        (f"dst {which} day", str(_WEEKDAY_SUNDAY_FIRST[moment.weekday()])),
        (f"dst {which} hour", str(moment.hour)),
    ]


def _days_in_month(moment: datetime) -> int:
    following = (moment.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (following - timedelta(days=1)).day


def _transitions(tz: ZoneInfo, year: int) -> list[tuple[datetime, timedelta]]:
    """Local wall-clock times (before the change) when DST starts and ends in ``year``.

    Returned as ``[(start, saving), (end, saving)]`` when the zone observes DST that
    year (in the southern hemisphere the end comes first in the calendar, so the
    order is by direction, not by date), else fewer entries.
    """
    changes: list[tuple[datetime, timedelta]] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    previous = moment.astimezone(tz).utcoffset()
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while moment < end:
        following = moment + timedelta(hours=1)
        offset = following.astimezone(tz).utcoffset()
        if offset != previous:
            low, high = moment, following  # the change happens in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(tz).utcoffset() == previous:
                    low = middle
                else:
                    high = middle
            wall = (high.replace(microsecond=0) + previous).replace(tzinfo=None)  # type: ignore[operator]
            changes.append((wall, offset - previous))  # type: ignore[operator]
            previous = offset
        moment = following
    changes.sort(key=lambda change: change[1] < timedelta(0))
    return [(wall, abs(delta)) for wall, delta in changes]

"""An IANA time zone as Polycom SNTP settings.

Polycom phones know no zone names: they take the standard offset from UTC in seconds
(``tcpIpApp.sntp.gmtOffset``, -28800 for US Pacific) and a daylight-saving rule
(``tcpIpApp.sntp.daylightSavings.*``). Both are computed here from the tz database
for the current year, so any zone the inventory accepts reaches the phone right.

The rule, as the SoundPoint IP administrator guides define it:

- ``start.month``/``stop.month``: 1-12; ``start.time``/``stop.time``: local hour 0-23
  at which the clock changes (wall time before the change);
- ``start.dayOfWeek``: 1 = Sunday ... 7 = Saturday;
- ``start.date``: with ``fixedDayEnable=0``, 1, 8, 15 or 22 for the first, second,
  third or fourth such weekday on or after that date; ``dayOfWeek.lastInMonth=1``
  means the last one in the month instead. With ``fixedDayEnable=1`` it is simply
  the day of the month (zones that change on a fixed date).

The phone shifts by one hour; zones with another saving (Lord Howe's 30 minutes) get
the hour and the whole-hour start time.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PREFIX = "tcpIpApp.sntp."


def sntp_time_settings(zone: str, year: int | None = None) -> dict[str, str]:
    """The ``tcpIpApp.sntp.gmtOffset`` and ``daylightSavings.*`` settings for ``zone``."""
    return dict(_settings(zone, year or datetime.now(UTC).year))


@lru_cache(maxsize=256)
def _settings(zone: str, year: int) -> tuple[tuple[str, str], ...]:
    """Cached: every phone of a site renders the same zone, and the search takes ~20 ms."""
    tz = ZoneInfo(zone)
    january = datetime(year, 1, 15, 12, tzinfo=tz).utcoffset() or timedelta(0)
    july = datetime(year, 7, 15, 12, tzinfo=tz).utcoffset() or timedelta(0)
    settings = {PREFIX + "gmtOffset": str(int(min(january, july).total_seconds()))}
    changes = _changes(tz, year)
    if len(changes) != 2:
        settings[PREFIX + "daylightSavings.enable"] = "0"
        return tuple(settings.items())
    following = _changes(tz, year + 1)
    fixed = len(following) == 2 and all(
        _is_fixed_date(this, that) for this, that in zip(changes, following, strict=True)
    )
    settings[PREFIX + "daylightSavings.enable"] = "1"
    settings[PREFIX + "daylightSavings.fixedDayEnable"] = "1" if fixed else "0"
    for which, moment in zip(("start", "stop"), changes, strict=True):
        settings.update(_rule(which, moment, fixed))
    return tuple(settings.items())


def _rule(which: str, moment: datetime, fixed: bool) -> dict[str, str]:
    last = moment.day + 7 > calendar.monthrange(moment.year, moment.month)[1]
    # 1, 8, 15 or 22: the first to fourth such weekday (ignored when last is set)
    date = moment.day if fixed else min((moment.day - 1) // 7 * 7 + 1, 22)
    key = f"{PREFIX}daylightSavings.{which}."
    return {
        key + "month": str(moment.month),
        key + "date": str(date),
        key + "time": str(moment.hour),
        key + "dayOfWeek": str(_sunday_first(moment)),
        key + "dayOfWeek.lastInMonth": "1" if last and not fixed else "0",
    }


def _sunday_first(moment: datetime) -> int:
    """Polycom numbers weekdays from Sunday (1) to Saturday (7); Python from Monday (0)."""
    return (moment.weekday() + 1) % 7 + 1


def _is_fixed_date(this: datetime, that: datetime) -> bool:
    """Same day of the same month in two years but another weekday: a fixed-date rule."""
    return (this.month, this.day) == (that.month, that.day) and this.weekday() != that.weekday()


def _changes(tz: ZoneInfo, year: int) -> list[datetime]:
    """Local wall-clock times (before the change) of the offset changes in ``year``.

    Returns ``[start, stop]`` when the zone changes its offset twice that year, the
    start being the change to the larger offset (whichever comes first in the
    calendar: in the southern hemisphere the stop does); otherwise what it found.
    """
    found: list[tuple[datetime, bool]] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=1)
    before = moment.astimezone(tz).utcoffset()
    while moment < end:
        after = (moment + step).astimezone(tz).utcoffset()
        if after != before:
            instant = _first_minute(tz, moment, after)
            wall = (instant + before).replace(tzinfo=None)  # type: ignore[operator]
            found.append((wall, after > before))  # type: ignore[operator]
            before = after
        moment += step
    found.sort(key=lambda change: not change[1])
    return [wall for wall, _ in found]


def _first_minute(tz: ZoneInfo, start: datetime, offset: timedelta | None) -> datetime:
    """The first minute in the hour after ``start`` at which ``offset`` applies."""
    for minute in range(1, 61):
        candidate = start + timedelta(minutes=minute)
        if candidate.astimezone(tz).utcoffset() == offset:
            return candidate
    return start + timedelta(hours=1)

"""IANA time zones as the yearly rules desk phones understand.

No desk phone knows the tz database. Each takes a standard offset and at most one
daylight-saving rule in its own words (Aastra's ``dst start week``, Polycom's
``daylightSavings.start.dayOfWeek.lastInMonth``, Cisco's ``dst_start_week_of_month``).
This module works out, once per zone and year, what every vendor's formatter needs:
the standard offset, the saving, and when the clock changes, both as the instants the
tz database gives and as a calendar rule ("the last Sunday of March at 02:00 local").
Vendor plug-ins only spell the result; none scans the tz database itself.

Transitions are found by stepping through the year a day at a time and bisecting each
change to the second, which is exact for every zone whose offset does not change
twice in one day (none does in the tz database's present and future rules) and costs
under a millisecond per zone and year.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["DstRule", "Transition", "ZoneRules", "transitions", "zone_rules"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Transition:
    """One change of a zone's offset from UTC."""

    utc: datetime
    """The instant of the change (aware, UTC)."""
    before: timedelta
    """The offset in force until then."""
    after: timedelta
    """The offset in force from then on."""

    @property
    def local(self) -> datetime:
        """The wall-clock time (naive) the clock shows when it changes: 02:00 when US
        clocks jump to 03:00, 03:00 when EU clocks fall back to 02:00. This is the time
        every phone's DST rule is written in."""
        return (self.utc + self.before).replace(tzinfo=None)


@dataclass(frozen=True)
class DstRule:
    """When, in a phone's calendar terms, one daylight-saving change happens in a year."""

    month: int
    """1-12."""
    day: int
    """Day of the month of this year's change."""
    weekday: int
    """0 = Monday ... 6 = Sunday (Python's order; formatters renumber)."""
    week: int
    """Which such weekday of the month: 1-5 (5 only when it is also the last)."""
    last: bool
    """It is the last such weekday of the month (vendors' "last week" value)."""
    minutes: int
    """Local wall-clock minutes after midnight of the change (before it happens)."""
    fixed: bool
    """The change falls on the same day of the month every year (not a weekday rule)."""

    @property
    def hour(self) -> int:
        return self.minutes // 60

    @property
    def minute(self) -> int:
        return self.minutes % 60


@dataclass(frozen=True)
class ZoneRules:
    """A zone's offsets and daylight-saving rule for one year."""

    zone: str
    year: int
    standard: timedelta
    """The standard (winter) offset east of UTC."""
    saving: timedelta
    """How far the clock goes forward in summer; zero when the zone keeps one offset."""
    start: Transition | None = None
    """This year's change to summer time (``None`` without DST)."""
    end: Transition | None = None
    """This year's change back to standard time."""
    start_rule: DstRule | None = None
    end_rule: DstRule | None = None

    @property
    def has_dst(self) -> bool:
        return self.start_rule is not None and self.end_rule is not None

    @property
    def standard_minutes(self) -> int:
        """The standard offset in minutes east of UTC (UTC+1 is 60, US Pacific -480)."""
        return int(self.standard.total_seconds() // 60)

    @property
    def saving_minutes(self) -> int:
        return int(self.saving.total_seconds() // 60)

    def offset_at(self, moment: datetime) -> timedelta:
        """The offset a phone holding just these rules shows at ``moment`` (aware) of
        this year: what an emulator compares with the real zone."""
        if not self.has_dst or self.start is None or self.end is None:
            return self.standard
        instant = moment.astimezone(UTC)
        if self.start.utc < self.end.utc:  # northern hemisphere: summer inside the year
            summer = self.start.utc <= instant < self.end.utc
        else:  # southern: summer spans the new year
            summer = instant >= self.start.utc or instant < self.end.utc
        return self.standard + self.saving if summer else self.standard


def zone_rules(zone: str, year: int | None = None) -> ZoneRules:
    """The rules of IANA ``zone`` for ``year`` (default: this year), computed once.

    A zone that changes its offset exactly twice in the year, once each way, observes
    DST: its standard offset is the smaller one. A zone with no change keeps its offset.
    A zone that changes in some other way that year (a permanent move to a new offset)
    gets no DST rule and the offset it ends the year with, the one it keeps.
    """
    return _zone_rules(zone, year or datetime.now(UTC).year)


@lru_cache(maxsize=2048)
def _zone_rules(zone: str, year: int) -> ZoneRules:
    changes = transitions(zone, year)
    tz = ZoneInfo(zone)
    if not changes:
        offset = datetime(year, 7, 1, tzinfo=UTC).astimezone(tz).utcoffset() or timedelta(0)
        return ZoneRules(zone, year, offset, timedelta(0))
    ups = [change for change in changes if change.after > change.before]
    downs = [change for change in changes if change.after < change.before]
    if len(ups) != 1 or len(downs) != 1:
        return ZoneRules(zone, year, changes[-1].after, timedelta(0))
    start, end = ups[0], downs[0]
    standard = min(start.before, end.after)
    saving = start.after - start.before
    following = {(change.after > change.before): change for change in transitions(zone, year + 1)}
    return ZoneRules(
        zone, year, standard, saving, start, end,
        _rule(start, following.get(True)), _rule(end, following.get(False)),
    )  # fmt: skip


def transitions(zone: str, year: int) -> tuple[Transition, ...]:
    """Every change of ``zone``'s offset during ``year`` (UTC), in order."""
    return _transitions(zone, year)


@lru_cache(maxsize=4096)
def _transitions(zone: str, year: int) -> tuple[Transition, ...]:
    tz = ZoneInfo(zone)
    found: list[Transition] = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = moment.astimezone(tz).utcoffset()
    while moment < end:
        step = min(moment + _DAY, end)
        after = step.astimezone(tz).utcoffset()
        if after != before and before is not None and after is not None:
            found.append(Transition(_bisect(tz, moment, step, before), before, after))
            before = after
        moment = step
    return tuple(found)


def _bisect(tz: ZoneInfo, low: datetime, high: datetime, before: timedelta) -> datetime:
    """The first whole second in ``(low, high]`` at which the offset is no longer
    ``before``."""
    while high - low > timedelta(seconds=1):
        middle = (low + (high - low) / 2).replace(microsecond=0)
        if middle <= low:
            middle = low + timedelta(seconds=1)
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def _rule(change: Transition, next_year: Transition | None) -> DstRule:
    local = change.local
    days = calendar.monthrange(local.year, local.month)[1]
    week = (local.day - 1) // 7 + 1
    fixed = (
        next_year is not None
        and (next_year.local.month, next_year.local.day) == (local.month, local.day)
        and next_year.local.weekday() != local.weekday()
    )
    return DstRule(
        month=local.month, day=local.day, weekday=local.weekday(), week=week,
        last=local.day + 7 > days, minutes=local.hour * 60 + local.minute, fixed=fixed,
    )  # fmt: skip

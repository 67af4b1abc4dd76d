"""IANA time zones as the 79xx SIP firmware wants them: ``time_zone`` plus ``dst_*`` rules.

The firmware knows a fixed list of zone abbreviations, each a standard offset from
GMT, and applies daylight saving time itself from the ``dst_*`` keys (Cisco SIP IP Phone
7960 Administrator Guide, "Setting the Date, Time, and Daylight Savings Time"). So the
plug-in sends the abbreviation of the zone's *standard* offset and a relative DST rule
(month, week of month, weekday, local time) worked out from the tz database for the
current year.

The abbreviation list is the one sipXconfig offers for these phones
(``sipXconfig/neoconf/etc/ciscoIp/phone.xml``). That list is ordered by offset; the
offsets of the well-known names agree with the classic Unix zone-name tables (PST -8,
CET +1, IST +5:30, JST +9, CAST +9:30 ...), and the few exotic ones (IMT, SUM, HST,
EADT) are placed by their position in the list. Those are marked below; check them on a
real phone, and set the raw setting ``time_zone`` to override. Offsets not on the list
(Nepal's +5:45, +13, +14 ...) get the nearest name, and the file says so.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

ABBREVIATIONS: dict[int, str] = {
    # standard offset east of GMT in minutes: the firmware's name for it
    -720: "IDL",
    -660: "NT",
    -600: "AHST",
    -570: "IMT",  # placed by list order only
    -540: "YST",
    -480: "PST",
    -420: "MST",
    -360: "CST",
    -300: "EST",
    -240: "AST",
    -210: "NST",
    -180: "BST",  # Brazil, not British Summer Time
    -120: "AT",
    -60: "WAT",
    0: "GMT",
    60: "CET",
    120: "EET",
    180: "BT",
    210: "IT",
    240: "ZP4",
    270: "AFG",
    300: "ZP5",
    330: "IST",
    360: "ZP6",
    390: "SUM",  # placed by list order only
    420: "WAST",
    480: "HST",  # placed by list order only (between WAST and JST)
    540: "JST",
    570: "CAST",
    600: "EAST",
    660: "EADT",  # placed by list order only
    720: "NZST",
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # datetime.weekday() order
LAST_WEEK = "8"
"""``dst_*_week_of_month`` value for "the last such weekday of the month"."""

NORTH_AMERICAN_PREFIXES = ("America/", "US/", "Canada/", "Pacific/Honolulu")


def cisco_time(zone: str, year: int | None = None) -> tuple[dict[str, str], list[str]]:
    """``time_zone`` and ``dst_*`` settings for IANA ``zone``, and notes for the file."""
    tz = ZoneInfo(zone)
    year = year or datetime.now(UTC).year
    standard = _standard_offset(tz, year)
    minutes = int(standard.total_seconds() // 60)
    name, notes = _abbreviation(zone, minutes)
    settings = {"time_zone": name}
    changes = _changes(tz, year)
    if changes is None:
        settings.update({"dst_auto_adjust": "0", "dst_offset": "0"})
        return settings, notes
    start, stop, saving = changes
    hours = max(1, round(saving.total_seconds() / 3600))
    settings["dst_auto_adjust"] = "1"
    settings["dst_offset"] = str(hours)
    settings.update(_rule("start", start))
    settings.update(_rule("stop", stop))
    return settings, notes


def date_and_time_format(zone: str) -> dict[str, str]:
    """How the clock reads: month first and 12 hours in North America, else day first, 24h.

    A site has no locale of its own, so the zone stands in for it; the raw settings
    ``date_format`` and ``time_format_24hr`` override the guess.
    """
    if zone.startswith(NORTH_AMERICAN_PREFIXES):
        return {"date_format": "M/D/Y", "time_format_24hr": "0"}
    return {"date_format": "D/M/Y", "time_format_24hr": "1"}


def _abbreviation(zone: str, minutes: int) -> tuple[str, list[str]]:
    if minutes in ABBREVIATIONS:
        return ABBREVIATIONS[minutes], []
    nearest = min(ABBREVIATIONS, key=lambda known: (abs(known - minutes), known))
    note = (
        f"time_zone: {zone} (GMT{_format_offset(minutes)}) has no Cisco name; "
        f"{ABBREVIATIONS[nearest]} (GMT{_format_offset(nearest)}) is the nearest"
    )
    return ABBREVIATIONS[nearest], [note]


def _format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def _rule(which: str, moment: datetime) -> dict[str, str]:
    """A relative rule: the Nth (or last) weekday of a month, at a local time."""
    week = str((moment.day - 1) // 7 + 1)
    if moment.day + 7 > _days_in_month(moment):
        week = LAST_WEEK
    return {
        f"dst_{which}_month": MONTHS[moment.month - 1],
        f"dst_{which}_day": "0",  # 0: use the weekday and week of month instead
        f"dst_{which}_day_of_week": WEEKDAYS[moment.weekday()],
        f"dst_{which}_week_of_month": week,
        f"dst_{which}_time": f"{moment.hour:02d}:{moment.minute:02d}",
    }


def _days_in_month(moment: datetime) -> int:
    first_of_next = (moment.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (first_of_next - timedelta(days=1)).day


def _standard_offset(tz: ZoneInfo, year: int) -> timedelta:
    """The smaller of mid-January and mid-July offsets: standard time in either hemisphere."""
    offsets = [datetime(year, month, 15, 12, tzinfo=tz).utcoffset() for month in (1, 7)]
    return min(offset for offset in offsets if offset is not None)


def _changes(tz: ZoneInfo, year: int) -> tuple[datetime, datetime, timedelta] | None:
    """``(start, stop, saving)`` of DST in ``year`` as local wall-clock times, or ``None``.

    Times are those the clock shows just before it changes (02:00 when US clocks jump
    to 03:00; 03:00 when EU clocks fall back to 02:00), which is how the phone's
    ``dst_*_time`` reads. Zones without exactly one start and one stop that year (no
    DST, or a permanent change of offset) get no rule.
    """
    starts: list[datetime] = []
    stops: list[datetime] = []
    saving = timedelta(0)
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    before = moment.astimezone(tz).utcoffset()
    while moment < end:
        following = moment + timedelta(hours=6)
        after = following.astimezone(tz).utcoffset()
        if after != before and before is not None and after is not None:
            instant = _bisect(tz, moment, following, before)
            wall = (instant + before).replace(tzinfo=None)
            if after > before:
                starts.append(wall)
                saving = after - before
            else:
                stops.append(wall)
            before = after
        moment = following
    if len(starts) != 1 or len(stops) != 1:
        return None
    return starts[0], stops[0], saving


def _bisect(tz: ZoneInfo, low: datetime, high: datetime, before: timedelta) -> datetime:
    """The UTC instant in ``(low, high]`` at which the offset stops being ``before``."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)

"""IANA time zones as the 79xx SIP firmware wants them: ``time_zone`` plus ``dst_*`` rules.

The firmware knows a fixed list of zone names, each a standard offset from GMT, and
applies daylight saving time itself from the ``dst_*`` keys. So the plug-in writes the
name of the zone's *standard* offset and this year's DST rule, both worked out by the
shared :func:`plugtone.timezones.zone_rules` (this module only spells them).

The firmware's names and where they come from
=============================================

The Cisco SIP IP Phone Administrator Guide lists the values of ``time_zone`` with their
offsets; no stored copy of that table could be read (the 2.0 guide's "Setting the Date,
Time, and Daylight Savings Time", 78-10497-02 p. 3-26, holds only the ``dst_*`` formats,
and the 6.x-8.x guides' parameter appendix was not reachable past its first entries).
What was found:

- the names, in the guide's order, as sipXconfig offers them for these phones
  (``sipXconfig/neoconf/etc/ciscoIp/phone.xml``, ``time_zone``): IDL NT AHST IMT YST PST
  MST CST EST AST NST BST AT WAT GMT CET EET BT IT ZP4 AFG ZP5 IST ZP6 SUM WAST HST JST
  CAST EAST EADT NZST. The list runs from the date line west to the date line east,
  half-hour zones in their places (IT between BT and ZP4, AFG between ZP4 and ZP5);
- the classic table of these abbreviations (GNU ``date``/``tar`` "Time zone items":
  GMT, WAT -1, AT -2, AST -4, EST -5, CST -6, MST -7, PST -8, YST -9, AHST -10, HST -10,
  NT -11, IDLW -12, CET +1, EET +2, BT +3, ZP4 +4, ZP5 +5, ZP6 +6, WAST +7, JST +9,
  EAST +10, NZST +12), which the firmware's list follows name for name: its WAST sits
  between ZP6 (+6) and JST (+9) at the classic +7, not at West Australia's +8 of today.

A name is in :data:`NAMES` when its place in the firmware's list and its meaning (the
classic table, or the one meaning the abbreviation has: IST India +5:30, NST
Newfoundland -3:30, IT Iran +3:30, AFG Afghanistan +4:30, CAST Central Australia +9:30,
IDL the date line west, -12) agree. Left out, never written, are the names where they
do not (:data:`LEFT_OUT`). This is the strict reading; a real phone may know more (set
the raw setting ``time_zone`` to use another name: the plug-in then does not refuse).

A site zone whose standard offset no name has (China's +8, West Australia's +8, Brazil's
-3, Nepal's +5:45, +13, +14 ...) is refused at apply (:func:`zone_findings`), never
mapped to another offset. A zone whose offset has a name for another region (Lagos
with CET, Bangkok with the classic WAST +7) gets the name and a warning: the clock is
right, the name on the settings screen is not the place's.

DST keys
========

``dst_auto_adjust`` (1 on, 0 off), ``dst_offset`` (hours), and for each of ``start`` and
``stop``: ``_month`` (``Jan`` ... ``Dec``), ``_day`` (``0``: use the weekday rule; else the
day of the month, the absolute rule), ``_day_of_week`` (``Sun`` ... ``Sat``, the guide's
case-sensitive names), ``_week_of_month`` (1-5, ``8`` for "the last week in the month
regardless of which week the last week is") and ``_time`` (``HH:MM``, the guide's
``14:30`` form), all as the 2.0 guide p. 3-26 gives them. The times are those the clock
shows just before it changes (02:00 when US clocks jump to 03:00, 03:00 when EU clocks
fall back), as the working files on voip-info.org's "Cisco 7940/7960 daylight savings"
page write them. No document says how the phone takes a start later in the year than
the stop (the southern hemisphere); the firmware has names for Australia and New
Zealand, whose DST spans the new year, so the plug-in assumes it keeps DST from the
start to the next year's stop. A saving that is not whole hours (Lord Howe's 30
minutes) cannot be written as ``dst_offset`` and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.timezones import DstRule, ZoneRules, zone_rules
from plugtone.vendors.base import Finding

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # DstRule.weekday order
LAST_WEEK = "8"
"""``dst_*_week_of_month`` for "the last such weekday of the month"."""
NORTH_AMERICAN_PREFIXES = ("America/", "US/", "Canada/", "Pacific/Honolulu")


@dataclass(frozen=True)
class ZoneName:
    """One ``time_zone`` value of the firmware."""

    name: str
    minutes: int
    """Standard offset east of GMT."""
    meaning: str
    places: tuple[str, ...] | None
    """IANA zones (or ``Area/`` prefixes) the name is the name of; ``None``: a name of
    the offset alone (GMT, the ZPn zones), right anywhere; ``()``: no zone of today."""


NAMES: tuple[ZoneName, ...] = (
    ZoneName("IDL", -720, "International Date Line", None),
    ZoneName("NT", -660, "Nome", ()),
    ZoneName("AHST", -600, "Alaska-Hawaii Standard",
             ("Pacific/Honolulu", "Pacific/Johnston", "US/Hawaii", "America/Adak",
              "US/Aleutian")),
    ZoneName("YST", -540, "Yukon Standard",
             ("America/Anchorage", "America/Juneau", "America/Nome", "America/Sitka",
              "America/Yakutat", "America/Metlakatla", "US/Alaska")),
    ZoneName("PST", -480, "Pacific Standard",
             ("America/", "US/", "Canada/", "Mexico/", "PST8PDT")),
    ZoneName("MST", -420, "Mountain Standard",
             ("America/", "US/", "Canada/", "Mexico/", "MST", "MST7MDT")),
    ZoneName("CST", -360, "Central Standard",
             ("America/", "US/", "Canada/", "Mexico/", "CST6CDT")),
    ZoneName("EST", -300, "Eastern Standard",
             ("America/", "US/", "Canada/", "EST", "EST5EDT")),
    ZoneName("AST", -240, "Atlantic Standard",
             ("America/Halifax", "America/Glace_Bay", "America/Goose_Bay", "America/Moncton",
              "America/Thule", "Atlantic/Bermuda", "Canada/Atlantic", "America/Puerto_Rico",
              "America/Santo_Domingo", "America/Barbados", "America/Martinique",
              "America/Port_of_Spain", "America/St_Thomas", "America/Curacao")),
    ZoneName("NST", -210, "Newfoundland Standard",
             ("America/St_Johns", "Canada/Newfoundland")),
    ZoneName("AT", -120, "Azores", ()),
    ZoneName("WAT", -60, "West Africa", ("Atlantic/Cape_Verde",)),
    ZoneName("GMT", 0, "Greenwich Mean", None),
    ZoneName("CET", 60, "Central European",
             ("Europe/", "Arctic/", "Africa/Ceuta", "Africa/Algiers", "Africa/Tunis", "CET",
              "MET")),
    ZoneName("EET", 120, "Eastern European",
             ("Europe/", "Asia/Beirut", "Asia/Nicosia", "Asia/Famagusta", "Africa/Cairo",
              "Africa/Tripoli", "Asia/Gaza", "Asia/Hebron", "Egypt", "Libya", "EET")),
    ZoneName("BT", 180, "Baghdad", ("Asia/Baghdad",)),
    ZoneName("IT", 210, "Iran", ("Asia/Tehran", "Iran")),
    ZoneName("ZP4", 240, "USSR zone 3 (GMT+4)", None),
    ZoneName("AFG", 270, "Afghanistan", ("Asia/Kabul",)),
    ZoneName("ZP5", 300, "USSR zone 4 (GMT+5)", None),
    ZoneName("IST", 330, "India Standard", ("Asia/Kolkata", "Asia/Calcutta", "Asia/Colombo")),
    ZoneName("ZP6", 360, "USSR zone 5 (GMT+6)", None),
    ZoneName("WAST", 420, "West Australian Standard (the classic +7)", ()),
    ZoneName("JST", 540, "Japan Standard", ("Asia/Tokyo", "Japan")),
    ZoneName("CAST", 570, "Central Australian Standard",
             ("Australia/Adelaide", "Australia/Darwin", "Australia/Broken_Hill",
              "Australia/North", "Australia/South", "Australia/Yancowinna")),
    ZoneName("EAST", 600, "East Australian Standard", ("Australia/",)),
    ZoneName("NZST", 720, "New Zealand Standard",
             ("Pacific/Auckland", "NZ", "Antarctica/McMurdo", "Antarctica/South_Pole")),
)  # fmt: skip
"""The firmware's names whose offset two sources agree on (see the module)."""

LEFT_OUT: dict[str, str] = {
    "IMT": "between AHST (-10) and YST (-9) in the list; no document says what it is",
    "BST": "between NST (-3:30) and AT (-2) in the list, so Brazil -3, but the usual "
    "meaning is British Summer Time (+1)",
    "SUM": "between ZP6 (+6) and WAST (+7) in the list; no document says what it is",
    "HST": "between WAST (+7) and JST (+9) in the list, but Hawaii Standard (-10) in the "
    "classic table: the two disagree by 18 hours",
    "EADT": "East Australian Daylight Time (+11), a summer name: whether the phone adds "
    "its own DST to it is not documented",
}
"""The firmware's names the plug-in never writes, and why."""

BY_MINUTES = {name.minutes: name for name in NAMES}


@dataclass(frozen=True)
class ZoneChoice:
    """What the phone can be told for one IANA zone in one year."""

    zone: str
    rules: ZoneRules
    name: ZoneName | None
    """``None``: no name has the zone's standard offset."""
    problem: str | None = None
    """Why the phone cannot keep the zone's time (refused at apply)."""
    warning: str | None = None


def choose(zone: str, year: int | None = None) -> ZoneChoice:
    """The firmware's name for ``zone``'s standard offset, and what stands in its way."""
    rules = zone_rules(zone, year)
    offset = _format_offset(rules.standard_minutes)
    name = BY_MINUTES.get(rules.standard_minutes)
    if rules.has_dst and rules.saving_minutes % 60:
        return ZoneChoice(
            zone, rules, name,
            problem=f"time zone {zone}: its daylight saving time moves the clock "
            f"{rules.saving_minutes} minutes, and the 79xx's dst_offset is whole hours",
        )  # fmt: skip
    if name is None:
        return ZoneChoice(
            zone, rules, None,
            problem=f"time zone {zone} (GMT{offset}): the 7940/7960 SIP firmware has no "
            f"time_zone name known to mean GMT{offset}; set the raw setting time_zone "
            "(cisco79xx) to a name the phone takes, or give the site another zone",
        )  # fmt: skip
    warning = None
    if name.places is not None and not _in_places(zone, name.places):
        warning = (
            f"time zone {zone} (GMT{offset}) is written as {name.name}, the firmware's "
            f"name for {name.meaning} time: the clock is right, the name is another "
            "region's"
        )
    return ZoneChoice(zone, rules, name, warning=warning)


def cisco_time(zone: str, year: int | None = None) -> tuple[dict[str, str], list[str]]:
    """``time_zone`` and ``dst_*`` settings for IANA ``zone``, and notes for the file.

    A zone the phone cannot keep (refused at apply) gets no ``time_zone`` and a note;
    the DST rule is still written when it fits, for a raw ``time_zone`` to use.
    """
    choice = choose(zone, year)
    settings: dict[str, str] = {}
    notes: list[str] = []
    if choice.name is not None and choice.problem is None:
        settings["time_zone"] = choice.name.name
    elif choice.problem is not None:
        notes.append(f"{choice.problem} (no time_zone written)")
    rules = choice.rules
    if not rules.has_dst:
        settings.update({"dst_auto_adjust": "0", "dst_offset": "0"})
    elif rules.saving_minutes % 60 == 0 and rules.start_rule and rules.end_rule:
        settings["dst_auto_adjust"] = "1"
        settings["dst_offset"] = str(rules.saving_minutes // 60)
        settings.update(_rule("start", rules.start_rule))
        settings.update(_rule("stop", rules.end_rule))
    return settings, notes


def zone_findings(zone: str, overridden: bool = False) -> list[Finding]:
    """A refusal when the phone cannot keep ``zone``'s time, a warning for another
    region's name; none when the raw setting ``time_zone`` overrides the choice."""
    if overridden:
        return []
    choice = choose(zone)
    if choice.problem is not None:
        return [Finding(choice.problem)]
    if choice.warning is not None:
        return [Finding(choice.warning, refuse=False)]
    return []


def date_and_time_format(zone: str) -> dict[str, str]:
    """How the clock reads: month first and 12 hours in North America, else day first, 24h.

    A site has no locale of its own, so the zone stands in for it; the raw settings
    ``date_format`` and ``time_format_24hr`` override the guess.
    """
    if zone.startswith(NORTH_AMERICAN_PREFIXES):
        return {"date_format": "M/D/Y", "time_format_24hr": "0"}
    return {"date_format": "D/M/Y", "time_format_24hr": "1"}


def _rule(which: str, rule: DstRule) -> dict[str, str]:
    """A relative rule (the Nth or last weekday of a month), or an absolute one for a
    change on the same day of the month every year."""
    return {
        f"dst_{which}_month": MONTHS[rule.month - 1],
        f"dst_{which}_day": str(rule.day) if rule.fixed else "0",
        f"dst_{which}_day_of_week": WEEKDAYS[rule.weekday],
        f"dst_{which}_week_of_month": LAST_WEEK if rule.last else str(rule.week),
        f"dst_{which}_time": f"{rule.hour:02d}:{rule.minute:02d}",
    }


def _in_places(zone: str, places: tuple[str, ...]) -> bool:
    return any(
        zone == place or (place.endswith("/") and zone.startswith(place)) for place in places
    )


def _format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"

"""IANA time zones as Aastra phones want them, spelled from :mod:`plugtone.timezones`.

Two ways, both in 41-001343-02 REV04/05 (5-16 to 5-18, "Time Zone & DST", and Appendix A
A-47 to A-52, "Custom Time Zone and DST Settings"):

* ``time zone name: <name>`` with a name from the firmware's table (``US-Eastern``,
  ``GB-London`` ...). The phone then applies its own rule. ``NAMED`` lists the zones sent
  this way (names from the provisioner project's Aastra table, docs/phone-formats
  section 1). Assumed: the firmware's rule for each name is the country's present rule.
* ``time zone name: Custom`` (initial caps required, 5-16) with:

  ``time zone minutes``
      minutes *west* of UTC: 300 is EST (UTC-5), -60 is UTC+1.
  ``dst minutes``
      minutes added in summer, 0 to 60. A zone without daylight saving gets 0, so no
      rule the phone keeps from elsewhere can move its clock.
  ``dst start relative date`` / ``dst end relative date``
      1 (relative: month, week, day of week) or 0 (absolute: month, day of month). The
      guide writes the pair as ``dst [start|end] relative date``; each is its own
      parameter, as a working 6865i file writes them (HugoMskn/Mitel-6865i aastra.cfg).
  ``dst start month``/``week``/``day``/``hour`` and the ``end`` counterparts
      month 1-12; week 1..5 ("Nth full week of the month") or -1..-5 ("last", "second
      last" ... occurrence of the day in the month); day 1 (Sunday) to 7 (Saturday) for a
      relative rule, 1-31 for an absolute one, where week does not apply; hour 0-23.

The guide's example (5-17/5-18, EST): ``time zone minutes: 300``, ``dst minutes: 60``,
relative dates, ``dst start month: 3``, ``dst start week: 2``, ``dst start day: 1`` (the
second Sunday of March), ``dst end month: 11``, ``dst end week: 1``, ``dst end day: 1``.

How a rule is spelled (the strict reading where the guide leaves room):

* The last such weekday of the month is -1, whatever the weekday.
* Another Sunday is its week number: the Nth Sunday always starts the Nth full week
  (weeks run Sunday to Saturday, as the day numbering does), so "full week" and "Nth
  occurrence" agree, as the guide's example needs.
* Another weekday is counted from the end (-2 ... -5), which the guide defines without
  ambiguity ("second last occurrence"); "Nth full week" of a Thursday could be read two
  ways.
* The hour is the wall clock before the change: standard time for the start, summer
  time for the end (02:00 and 03:00 in Paris, as the 6865i file above writes them).
* ``dst config`` is not written: no Aastra document found describes it (only
  wazo-provd-plugins writes it), and the guide's own examples do without it.

The rule is this year's (:func:`plugtone.timezones.zone_rules`): plugtone renders files
afresh every year, and the phone gets them at its next resync.
"""

from __future__ import annotations

import calendar

from plugtone.timezones import DstRule, ZoneRules, transitions, zone_rules

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
MAX_DST_MINUTES = 60
"""``dst minutes`` takes 0 to 60 (A-48)."""


def aastra_timezone(zone: str, year: int | None = None) -> list[tuple[str, str]]:
    """The ``time zone ...`` and ``dst ...`` settings for IANA ``zone``."""
    if zone in NAMED:
        return [("time zone name", NAMED[zone])]
    return custom_settings(zone_rules(zone, year))


def custom_settings(rules: ZoneRules) -> list[tuple[str, str]]:
    """``time zone name: Custom`` and the rule of ``rules``, in the guide's key set."""
    settings = [
        ("time zone name", "Custom"),
        ("time zone minutes", str(-rules.standard_minutes)),
    ]
    if not rules.has_dst or rules.start_rule is None or rules.end_rule is None:
        settings.append(("dst minutes", "0"))
        return settings
    settings.append(("dst minutes", str(min(rules.saving_minutes, MAX_DST_MINUTES))))
    settings += _rule("start", rules.start_rule, rules.year)
    settings += _rule("end", rules.end_rule, rules.year)
    return settings


def _rule(which: str, rule: DstRule, year: int) -> list[tuple[str, str]]:
    prefix = f"dst {which}"
    if rule.fixed:
        return [
            (f"{prefix} relative date", "0"),
            (f"{prefix} month", str(rule.month)),
            (f"{prefix} day", str(rule.day)),
            (f"{prefix} hour", str(rule.hour)),
        ]
    return [
        (f"{prefix} relative date", "1"),
        (f"{prefix} month", str(rule.month)),
        (f"{prefix} week", str(week_number(rule, year))),
        (f"{prefix} day", str(aastra_weekday(rule.weekday))),
        (f"{prefix} hour", str(rule.hour)),
    ]


def week_number(rule: DstRule, year: int) -> int:
    """``dst start week`` for ``rule``, a change in ``year`` (see the module docstring)."""
    if rule.last:
        return -1
    if rule.weekday == calendar.SUNDAY:
        return rule.week
    days = calendar.monthrange(year, rule.month)[1]
    return -((days - rule.day) // 7 + 1)


def aastra_weekday(weekday: int) -> int:
    """Python's weekday (0 = Monday) as Aastra's (1 = Sunday ... 7 = Saturday)."""
    return (weekday + 1) % 7 + 1


def zone_problems(zone: str, year: int | None = None) -> list[tuple[str, bool]]:
    """``(message, refuse)`` for what an Aastra phone cannot show of ``zone`` this year.

    Refused: a saving over the 60 minutes ``dst minutes`` takes, or a year whose changes
    are not one start and one end (the phone holds one rule): the clock would be wrong
    for weeks. Warned: a change off the hour (``dst start hour`` takes whole hours), which
    leaves the clock wrong for less than an hour on that night.
    """
    if zone in NAMED:
        return []
    try:
        rules = zone_rules(zone, year)
        changes = transitions(zone, rules.year)
    except (KeyError, ValueError, OSError):
        return [(f"time zone {zone}: not in the tz database", True)]
    problems: list[tuple[str, bool]] = []
    if changes and not rules.has_dst:
        problems.append(
            (
                f"time zone {zone}: changes its offset {len(changes)} times in {rules.year}; "
                "an Aastra phone holds one standard offset and one daylight-saving rule, "
                "so its clock would be wrong for part of the year",
                True,
            )
        )
        return problems
    if rules.saving_minutes > MAX_DST_MINUTES:
        problems.append(
            (
                f"time zone {zone}: its daylight saving adds {rules.saving_minutes} minutes; "
                f"an Aastra phone adds at most {MAX_DST_MINUTES} (dst minutes)",
                True,
            )
        )
    off_hour = [
        rule for rule in (rules.start_rule, rules.end_rule) if rule is not None and rule.minute
    ]
    if off_hour:
        times = " and ".join(f"{rule.hour:02d}:{rule.minute:02d}" for rule in off_hour)
        problems.append(
            (
                f"time zone {zone}: its clock changes at {times}, but an Aastra phone changes "
                "on the hour (dst start hour, dst end hour); the phone changes at the hour "
                "before, so its clock is wrong for under an hour on those nights",
                False,
            )
        )
    return problems

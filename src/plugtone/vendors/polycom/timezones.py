"""An IANA time zone in Polycom's SNTP spelling.

Polycom phones know no zone names: they take the standard offset from UTC in seconds
(``tcpIpApp.sntp.gmtOffset``, -28800 for US Pacific) and one daylight-saving rule
(``tcpIpApp.sntp.daylightSavings.*``). The offsets and this year's changes come from
:func:`plugtone.timezones.zone_rules`, the one module that reads the tz database; this
one only spells them.

``tcpIpApp.sntp.gmtOffset.overrideDHCP="1"`` makes the phone keep the configured
offset when DHCP offers one (option 2), which would otherwise win over the site's
zone (wazo-provd's Polycom SIP 3.x ``common.cfg`` sets it so). Every site has a zone
(UTC unless it says otherwise), so it is always written.
``tcpIpApp.sntp.address.overrideDHCP`` does the same for the server, written with the
site's NTP servers (see :mod:`.parameters`).

The rule, as the SoundPoint IP administrator guides define it:

- ``start.month``/``stop.month``: 1-12; ``start.time``/``stop.time``: local hour 0-23
  at which the clock changes (wall time before the change);
- ``start.dayOfWeek``: 1 = Sunday ... 7 = Saturday;
- ``start.date``: with ``fixedDayEnable=0``, 1, 8, 15 or 22 for the first, second,
  third or fourth such weekday on or after that date; ``dayOfWeek.lastInMonth=1``
  means the last one in the month instead. With ``fixedDayEnable=1`` it is simply
  the day of the month (zones that change on a fixed date).

The phone shifts by one hour at a whole hour: a zone saving another amount (Lord
Howe's 30 minutes) or changing at another minute (Chatham's 2:45) gets the nearest it
can and a warning from :func:`zone_findings`.
"""

from __future__ import annotations

from plugtone.timezones import DstRule, zone_rules
from plugtone.vendors.base import Finding

PREFIX = "tcpIpApp.sntp."
NAMES = (
    "gmtOffset", "gmtOffset.overrideDHCP", "daylightSavings.enable",
    "daylightSavings.fixedDayEnable",
    *(
        f"daylightSavings.{which}.{field}"
        for which in ("start", "stop")
        for field in ("month", "date", "time", "dayOfWeek", "dayOfWeek.lastInMonth")
    ),
)  # fmt: skip
"""Every ``tcpIpApp.sntp.*`` name this module writes, without the prefix."""


def sntp_time_settings(zone: str, year: int | None = None) -> dict[str, str]:
    """The ``tcpIpApp.sntp.gmtOffset`` (with its ``overrideDHCP``) and
    ``daylightSavings.*`` settings for ``zone`` in ``year`` (default: this year)."""
    rules = zone_rules(zone, year)
    settings = {
        PREFIX + "gmtOffset": str(rules.standard_minutes * 60),
        PREFIX + "gmtOffset.overrideDHCP": "1",
    }
    if not rules.has_dst or rules.start_rule is None or rules.end_rule is None:
        settings[PREFIX + "daylightSavings.enable"] = "0"
        return settings
    fixed = rules.start_rule.fixed and rules.end_rule.fixed
    settings[PREFIX + "daylightSavings.enable"] = "1"
    settings[PREFIX + "daylightSavings.fixedDayEnable"] = "1" if fixed else "0"
    settings.update(_rule("start", rules.start_rule, fixed))
    settings.update(_rule("stop", rules.end_rule, fixed))
    return settings


def zone_findings(zone: str, year: int | None = None) -> list[Finding]:
    """Warnings for what of ``zone``'s rule a Polycom clock cannot follow exactly."""
    rules = zone_rules(zone, year)
    findings = []
    if rules.has_dst and rules.saving_minutes != 60:
        findings.append(
            Finding(
                f"time zone {zone}: it saves {rules.saving_minutes} minutes in summer; a "
                "Polycom shifts its clock by one hour, so it is off in summer",
                refuse=False,
            )
        )
    for which, rule in (("starts", rules.start_rule), ("ends", rules.end_rule)):
        if rule is not None and rule.minute:
            findings.append(
                Finding(
                    f"time zone {zone}: summer time {which} at {rule.hour:02d}:{rule.minute:02d}"
                    f"; a Polycom changes its clock on the hour, at {rule.hour:02d}:00",
                    refuse=False,
                )
            )
    return findings


def _rule(which: str, rule: DstRule, fixed: bool) -> dict[str, str]:
    # 1, 8, 15 or 22: the first to fourth such weekday (ignored when last is set)
    date = rule.day if fixed else min((rule.week - 1) * 7 + 1, 22)
    key = f"{PREFIX}daylightSavings.{which}."
    return {
        key + "month": str(rule.month),
        key + "date": str(date),
        key + "time": str(rule.hour),
        key + "dayOfWeek": str(_sunday_first(rule.weekday)),
        key + "dayOfWeek.lastInMonth": "1" if rule.last and not fixed else "0",
    }


def _sunday_first(weekday: int) -> int:
    """Polycom numbers weekdays from Sunday (1) to Saturday (7); Python from Monday (0)."""
    return (weekday + 1) % 7 + 1

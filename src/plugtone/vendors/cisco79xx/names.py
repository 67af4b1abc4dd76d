"""Every name the Cisco 79xx plug-in may write, each group with the document it comes from.

A test renders a rich inventory and checks that every key of every rendered ``.cnf``
file, and every element and attribute of its XML files, is in these tables (and every
value of a key with a closed set of values among them). Raw vendor settings are the
admin's own escape hatch and are not checked against this table.

Sources, as they are cited below:

- *guide 2.0*: Cisco SIP IP Phone 7960 Administrator Guide, Version 2.0 (78-10497-02),
  chapter 3, "Setting the Date, Time, and Daylight Savings Time", p. 3-26.
- *guide 6.x/7.x*: Cisco SIP IP Phone Administrator Guide, Release 6.0-7.4, chapter 3,
  "How to Create Dial Plans", p. 3-23; and appendix D, "Configurable Parameters for the
  SIP IP Phone", Table D-1 (its parameters as sipXconfig models them for these phones:
  ``sipXconfig/neoconf/etc/ciscoIp/phone.xml`` and ``line.xml``, with their value sets).
- *seed*: the user's Cisco document (``SIP00115C93AFD1.cnf``: ``phone_label``,
  ``logo_url``, ``directory_url``, ``image_version``, ``nat_enable``, ``lineN_*``).
- *funkfeuer*: a working 7940/7960 ``SIP<MAC>.cnf`` (oldwiki.funkfeuer.at "Cisco 7940"):
  ``speed_lineN`` and ``speed_labelN`` for a line button used as a speed dial. No Cisco
  text for them could be read; they are the names that file (and the 7.x+ firmware it
  was written for) uses.
- *julianhead*: julianhead/CiscoPhones ``XMLDefault.cnf.xml`` (``loadInformation7`` for
  the 7960, ``loadInformation8`` for the 7940, with their ``model`` attribute).
- *OL-7890-01*: Cisco Unified IP Phone 7960G and 7940G Administration Guide for
  Release 8.0 (SIP), "How to Upgrade Your Cisco SIP IP Phone Firmware Image and Reboot
  Remotely", p. 4-4 (``sync`` and ``syncinfo.xml``).
- *OL-20949-01*: Cisco IP Phone Services Application Development Notes,
  ``CiscoIPPhoneDirectory``, p. 3-7.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from plugtone.vendors.cisco79xx.models import MAX_LINES

BOOLEAN = frozenset({"0", "1"})
MONTHS = frozenset({"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec"})  # fmt: skip
DAYS = frozenset({"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"})
WEEKS = frozenset({"1", "2", "3", "4", "5", "6", "8"})


@dataclass(frozen=True)
class Group:
    """Names the plug-in writes, from one source."""

    source: str
    names: frozenset[str]
    values: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """For names with a closed set of values: the values the source allows."""


def _per_line(*fields: str) -> frozenset[str]:
    return frozenset(f"{prefix}{n}{suffix}" for n in range(1, MAX_LINES + 1)
                     for prefix, suffix in fields)  # fmt: skip


CNF_GROUPS: tuple[Group, ...] = (
    Group(
        "guide 6.x/7.x, Table D-1 (sipXconfig phone.xml: sip, upgrade); seed (image_version)",
        frozenset({
            "image_version", "proxy1_address", "proxy1_port", "proxy_register",
            "timer_register_expires", "nat_enable", "dtmf_outofband", "preferred_codec",
        }),
        {
            "proxy_register": BOOLEAN,
            "nat_enable": BOOLEAN,
            "dtmf_outofband": frozenset({"none", "avt", "avt_always"}),
            "preferred_codec": frozenset({"g711ulaw", "g711alaw", "g729a", "none"}),
        },
    ),
    Group(
        "guide 6.x/7.x, Table D-1 (sipXconfig phone.xml: network, phone); seed "
        "(phone_label, logo_url, directory_url)",
        frozenset({
            "telnet_level", "sntp_mode", "sntp_server", "dial_template", "messages_uri",
            "directory_url", "logo_url", "services_url", "phone_label",
        }),
        {
            "telnet_level": frozenset({"0", "1", "2"}),
            "sntp_mode": frozenset({"unicast", "multicast", "anycast", "directedbroadcast"}),
        },
    ),
    Group(
        "guide 2.0, p. 3-26 (dst_*); guide 6.x/7.x, Table D-1 (sipXconfig phone.xml: "
        "datetime); the zone names: timezones.NAMES",
        frozenset({
            "time_zone", "dst_auto_adjust", "dst_offset", "date_format", "time_format_24hr",
            *(f"dst_{which}_{part}" for which in ("start", "stop")
              for part in ("month", "day", "day_of_week", "week_of_month", "time")),
        }),
        {
            "dst_auto_adjust": BOOLEAN,
            "date_format": frozenset({"M/D/Y", "D/M/Y", "Y/M/D", "Y/D/M", "Y-M-D", "YY-M-D"}),
            "time_format_24hr": frozenset({"0", "1", "2", "3"}),
            **{f"dst_{which}_month": MONTHS for which in ("start", "stop")},
            **{f"dst_{which}_day_of_week": DAYS for which in ("start", "stop")},
            **{f"dst_{which}_week_of_month": WEEKS for which in ("start", "stop")},
        },
    ),
    Group(
        "guide 6.x/7.x, Table D-1 (sipXconfig line.xml); seed (line1_* and line2_*)",
        _per_line(*(("line", f"_{part}") for part in
                    ("name", "authname", "password", "displayname", "shortname"))),
    ),
    Group("funkfeuer (speed_label2, speed_line2)", _per_line(("speed_line", ""),
                                                            ("speed_label", ""))),
    Group("OL-7890-01 p. 4-4 (the sync level syncinfo.xml is compared with)",
          frozenset({"sync"})),
)  # fmt: skip
"""``SIPDefault.cnf`` and ``SIP<MAC>.cnf`` keys. ``OS79XX.TXT`` has no keys: it holds the
image name alone (see :mod:`.firmware`)."""

CNF_NAMES: frozenset[str] = frozenset().union(*(group.names for group in CNF_GROUPS))
CNF_VALUES: dict[str, frozenset[str]] = {
    name: values for group in CNF_GROUPS for name, values in group.values.items()
}

XML_DEFAULT: Mapping[str, frozenset[str]] = {
    # julianhead: element -> its attributes
    "Default": frozenset(),
    "loadInformation7": frozenset({"model"}),
    "loadInformation8": frozenset({"model"}),
}
"""``XMLDefault.cnf.xml``."""

SYNCINFO: Mapping[str, frozenset[str]] = {
    # OL-7890-01 p. 4-4: <IMAGE VERSION="image_version" SYNC="sync_number"/>
    "SYNCINFO": frozenset(),
    "IMAGE": frozenset({"VERSION", "SYNC"}),
}
"""``syncinfo.xml``, read after a check-sync NOTIFY."""

DIAL_PLAN: Mapping[str, frozenset[str]] = {
    # guide 6.x/7.x, "How to Create Dial Plans"
    "DIALTEMPLATE": frozenset(),
    "TEMPLATE": frozenset({"MATCH", "Timeout", "User", "Rewrite"}),
}
"""``dialplan.xml`` and ``dialplan<MAC>.xml``."""

DIRECTORY: Mapping[str, frozenset[str]] = {
    # OL-20949-01, CiscoIPPhoneDirectory (and its SoftKeyItem)
    name: frozenset()
    for name in ("CiscoIPPhoneDirectory", "Title", "Prompt", "DirectoryEntry", "Name",
                 "Telephone", "SoftKeyItem", "URL", "Position")
}  # fmt: skip
"""The directory pages served at ``directory_url``."""

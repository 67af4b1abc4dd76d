"""Every name the Polycom plug-in may write, each group with the vendor source it comes from.

A phone ignores a parameter it does not know, without a word, so a misspelt or
invented name (``voice.codecPref.G722`` on SIP 3.2) is a setting silently lost. Every
attribute of every file the plug-in renders, and every element of its contact
directory, must match one of the patterns below; ``tests/test_polycom_names.py``
renders a rich inventory for every model and checks it. Raw ``vendor_settings`` are the
admin's own names and are not held to this table.

Patterns: ``{N}`` and ``{M}`` stand for indexes (1, 2, ...) and ``{TOKEN}`` for a master
file model token (``SPIP650``). The table is written out here, apart from the modules
that render (only the stock-files helper's essentials are imported, from their own
table), so a name a renderer gets wrong cannot make its own entry.

Sources, by the short names used in the table:

- *SIP 3.1 guide*: Administrator's Guide for the SoundPoint IP / SoundStation IP Family,
  SIP 3.1 (1725-11530-310 Rev. A, August 2008), Appendix A "Configuration Files";
- *SIP 3.2 guide*: the SIP 3.2 edition (1725-11530-320 Rev. A, August 2009);
- *SIP 3.0.2 guide*: the SIP 3.0.2 edition, "Local Contact Directory" (p. 4-11);
- *guide 1.4*: Administrator Guide SoundPoint IP / SoundStation IP 1.4 (2004);
- *EA 62475*: Engineering Advisory 62475, "Using Statically Configured Busy Lamp Field
  with Polycom SoundPoint IP and VVX Phones" (SIP 3.2.0 and later);
- *stock sip.cfg 3.1.6* / *stock phone1.cfg 3.1*: the vendor's own configuration files
  of those releases (sip.cfg as wazo-provd-plugins redistributes it,
  ``plugins/wazo_polycom/v3_1_6/var/tftpboot/sip.cfg``; phone1.cfg as the Gemeinschaft
  PBX's Polycom provisioning reproduces it);
- *the seed*: the AltiGen MAXCS 7.0 guide for Polycom (seeds/001_986df9d05f6e3806),
  whose ``altigen.cfg``, ``201.cfg`` and ``<MAC>.cfg`` run on SIP 3.2.7.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# The essentials (what a phone without stock files gets in its site file) keep their own
# table of names, with its source, in vendors/polycom/essentials.py.
from plugtone.vendors.polycom import essentials

SIP31 = "SIP 3.1 guide"
SIP_CFG = "stock sip.cfg 3.1.6"
PHONE1_CFG = "stock phone1.cfg 3.1"
SEED = "the seed"


@dataclass(frozen=True)
class Group:
    """Names documented together, and where."""

    names: tuple[str, ...]
    source: str


TOKENS = ("SPIP321", "SPIP331", "SPIP335", "SPIP560", "SPIP650", "SSIP6000", "SSIP7000")
"""Master file model tokens of the supported models, as the vendor's 000000000000.cfg
spells them (SPIP301 ... SPIP670, SSIP4000 ... SSIP7000)."""
PLAIN_CODECS = ("G711Mu", "G711A", "G729AB")
WIDEBAND_6000 = (
    "G722",
    "G7221.16kbps",
    "G7221.24kbps",
    "G7221.32kbps",
    "G7221C.24kbps",
    "G7221C.32kbps",
    "G7221C.48kbps",
    "Siren14.24kbps",
    "Siren14.32kbps",
    "Siren14.48kbps",
)
PLATFORM_CODECS = {
    "IP_650": (*PLAIN_CODECS, "G722"),
    "IP_6000": (*PLAIN_CODECS, *WIDEBAND_6000),
    "IP_7000": (
        *PLAIN_CODECS,
        *WIDEBAND_6000,
        "Siren22.32kbps",
        "Siren22.48kbps",
        "Siren22.64kbps",
        "Lin16.16ksps",
        "Lin16.32ksps",
        "Lin16.48ksps",
    ),
}
"""The stock sip.cfg 3.1.6's per-platform preference lists (<voice><codecs><preferences>)."""
SNTP_RULE = tuple(
    f"tcpIpApp.sntp.daylightSavings.{which}.{field}"
    for which in ("start", "stop")
    for field in ("month", "date", "time", "dayOfWeek", "dayOfWeek.lastInMonth")
)

MASTER: tuple[Group, ...] = (
    Group(
        (
            "APP_FILE_PATH",
            "CONFIG_FILES",
            "MISC_FILES",
            "LOG_FILE_DIRECTORY",
            "OVERRIDES_DIRECTORY",
            "CONTACTS_DIRECTORY",
            "LICENSE_DIRECTORY",
        ),
        f"{SIP31}, the master configuration file (pp. 2-3, 2-4, A-2); {SEED}'s <MAC>.cfg",
    ),
    Group(
        ("APP_FILE_PATH_{TOKEN}", "CONFIG_FILES_{TOKEN}"),
        f"per-model <APPLICATION_<token>> elements: {SEED}'s <MAC>.cfg "
        "(APPLICATION_SPIP300 APP_FILE_PATH_SPIP300 CONFIG_FILES_SPIP300)",
    ),
)
"""Attributes of the master file (``<MAC>.cfg``, ``000000000000.cfg``)."""

CONFIGURATION: tuple[Group, ...] = (
    Group(
        tuple(
            f"reg.{{N}}.{name}"
            for name in ("displayName", "address", "label", "auth.userId", "auth.password")
        ),
        f"{SIP31}, Registration <reg/> (pp. A-107, A-108); {SEED}'s 201.cfg",
    ),
    Group(
        ("reg.{N}.lineKeys",),
        f"{SIP31}, Registration <reg/>, reg.x.lineKeys (p. A-109)",
    ),
    Group(
        tuple(
            f"reg.{{N}}.server.{{M}}.{name}" for name in ("address", "port", "transport", "expires")
        ),
        f"{SIP31}, Registration <reg/> (reg.x.server.y.*); guide 1.4, 4.6.2.1.3; "
        f"{SEED}'s 201.cfg and altigen.cfg",
    ),
    Group(
        (
            "msg.mwi.{N}.subscribe",
            "msg.mwi.{N}.callBackMode",
            "msg.mwi.{N}.callBack",
            "msg.bypassInstantMessage",
        ),
        f"{SIP31}, Messaging <msg/>; {PHONE1_CFG} <msg>; {SEED}'s 201.cfg",
    ),
    Group(
        ("attendant.reg",),
        f"{SIP31}, Attendant <attendant/> (p. A-122); {PHONE1_CFG} <attendant>",
    ),
    Group(
        tuple(f"attendant.resourceList.{{N}}.{name}" for name in ("address", "label", "type")),
        "EA 62475, configuration parameters of the statically configured BLF",
    ),
    Group(
        (
            "voIpProt.SIP.conference.address",
            "voIpProt.SIP.outboundProxy.port",
            "voIpProt.SIP.alertInfo.{N}.value",
            "voIpProt.SIP.alertInfo.{N}.class",
        ),
        f"{SIP_CFG} <voIpProt><SIP>; guide 1.4, 4.6.1.1.3 (outboundProxy, alertInfo); "
        f"{SEED}'s altigen.cfg",
    ),
    Group(
        ("voIpProt.SIP.local.port",),
        f"{SEED}'s altigen.cfg only (the {SIP_CFG} spells its local port voIpProt.local.port)",
    ),
    Group(
        ("voIpProt.SIP.dtmfViaSignaling.rfc2976",),
        "wazo-provd-plugins' Polycom templates (SIP INFO DTMF); not in the stock sip.cfg 3.1.6",
    ),
    Group(
        tuple(
            f"tone.dtmf.{name}"
            for name in ("viaRtp", "rfc2833Control", "rfc2833Payload", "onTime", "offTime")
        ),
        f"{SIP31}, Dual Tone Multi-Frequency <DTMF/> (p. A-28: onTime, offTime); SIP 3.0.2 "
        f"guide p. A-26 (viaRtp, rfc2833Control, rfc2833Payload); {SIP_CFG} <tones><DTMF>",
    ),
    Group(
        (
            "se.pat.misc.{N}.name",
            "se.pat.misc.{N}.inst.{M}.type",
            "se.pat.misc.{N}.inst.{M}.value",
        ),
        f"{SIP_CFG} <sound effects><patterns><MISCELLANEOUS>; {SEED}'s altigen.cfg",
    ),
    Group(
        ("call.lastCallReturnString",),
        f"{SIP31}, Call Handling Configuration <call/>; {SEED}'s altigen.cfg",
    ),
    Group(
        (
            "tcpIpApp.sntp.address",
            "tcpIpApp.sntp.address.overrideDHCP",
            "tcpIpApp.sntp.gmtOffset",
            "tcpIpApp.sntp.gmtOffset.overrideDHCP",
            "tcpIpApp.sntp.daylightSavings.enable",
            "tcpIpApp.sntp.daylightSavings.fixedDayEnable",
            *SNTP_RULE,
        ),
        f"{SIP31}, Time Synchronization <sntp/>; the overrideDHCP flags as wazo-provd's "
        f"Polycom SIP 3.x common.cfg sets them; {SEED}'s altigen.cfg",
    ),
    Group(
        ("dialplan.digitmap", "dialplan.digitmap.timeOut", "dialplan.removeEndOfDial"),
        f"{SIP_CFG} <dialplan><digitmap> (timeOut one value per pattern); {SEED}'s altigen.cfg",
    ),
    Group(
        tuple(f"voice.codecPref.{codec}" for codec in PLAIN_CODECS),
        f"{SIP_CFG} <voice><codecs><preferences>; guide 1.4, 4.6.1.6.1.1 Codec Preferences "
        "(the SoundPoint IP platforms' list)",
    ),
    Group(
        tuple(
            f"voice.codecPref.{platform}.{codec}"
            for platform, codecs in PLATFORM_CODECS.items()
            for codec in codecs
        ),
        f"{SIP_CFG} <voice><codecs><preferences> (the IP_650, IP_6000, IP_7000 lists)",
    ),
    Group(
        ("nat.keepalive.interval",),
        f"{SIP31}, Network Address Translation <nat/>; {PHONE1_CFG} <nat>",
    ),
    Group(
        ("bg.hiRes.gray.bm.{N}.name",),
        "SIP 3.0.2 and SIP 3.1 guides, Backgrounds <bg/> (IP 550/560/650)",
    ),
    Group(
        tuple(
            name.replace(".x.", ".{N}.").replace(".y.", ".{M}.")
            for name in sorted(essentials.ESSENTIAL_NAMES)
        ),
        f"{essentials.GUIDE} (what the stock files give; vendors/polycom/essentials.py)",
    ),
)
"""Attributes of the configuration files (``<MAC>-reg.cfg``, ``<MAC>-site.cfg``)."""

DIRECTORY = Group(
    ("directory", "item_list", "item", "fn", "ct", "sd"),
    "SIP 3.0.2 guide, Local Contact Directory (p. 4-11): fn first name, ct contact, sd "
    "speed-dial index",
)
"""Elements of the contact directory (``<MAC>-directory.xml``)."""

_INDEX = r"[1-9][0-9]{0,3}"


def _compile(pattern: str) -> re.Pattern[str]:
    fields = {"N": _INDEX, "M": _INDEX, "TOKEN": "(?:" + "|".join(TOKENS) + ")"}
    parts = re.split(r"(\{[A-Z]+\})", pattern)
    return re.compile(
        "".join(fields[p[1:-1]] if p.startswith("{") else re.escape(p) for p in parts)
    )


@lru_cache(maxsize=1)
def _tables() -> tuple[list[tuple[re.Pattern[str], Group]], ...]:
    return tuple(
        [(_compile(name), group) for group in groups for name in group.names]
        for groups in (MASTER, CONFIGURATION, (DIRECTORY,))
    )


def source_of(name: str, kind: str = "configuration") -> str | None:
    """The source documenting ``name`` (``master``, ``configuration`` or ``directory``
    file), or ``None`` when the table has no such name."""
    table = _tables()[("master", "configuration", "directory").index(kind)]
    for pattern, group in table:
        if pattern.fullmatch(name):
            return group.source
    return None

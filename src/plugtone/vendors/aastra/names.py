"""Every parameter name the Aastra plug-in may write, each group with its source.

Raw ``vendor_settings`` are not here: the admin owns those names (``validate_settings``
only checks that they are one line of the format). A test renders a rich inventory for
every model and checks each name in ``aastra.cfg``, ``<model>.cfg`` and ``<MAC>.cfg``
against :func:`documented`.

Sources: "41-001343-02" is the Aastra 6700i/9000i SIP IP Phone Administrator Guide,
REV04 05.2014 / REV05 07.2014 (release 3.3.1); "41-001343-01" its Rev 02/03 for release
3.2.2; "41-001561-00" the Mitel 6800i Series SIP Phones Administrator Guide (release 4.0,
10.2014); "seed" the AltiGen deployment guide's ``aastra.cfg`` and ``<MAC>.cfg`` samples
(docs/seeds 000), files real phones of the supported models read. In patterns ``{line}``
is a line number 1-9, ``{key}`` a key number, ``{module}`` an expansion module 1-3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class NameGroup:
    source: str
    names: tuple[str, ...]


GROUPS: tuple[NameGroup, ...] = (
    NameGroup(
        "41-001343-02 Appendix A, Network Settings (DHCP); seed aastra.cfg",
        ("dhcp",),
    ),
    NameGroup(
        "41-001343-02 Appendix A, Configuration Server Settings; seed aastra.cfg "
        "(download protocol, tftp server)",
        (
            "download protocol",
            "tftp server",
            "ftp server",
            "ftp path",
            "ftp username",
            "ftp password",
            "http server",
            "http path",
            "http port",
            "https server",
            "https path",
            "https port",
        ),
    ),
    NameGroup(
        "41-001343-02 A-22, Configuration Server Settings (auto resync); seed aastra.cfg",
        ("auto resync mode", "auto resync time"),
    ),
    NameGroup(
        "41-001343-02 Appendix A, Time and Date Settings (time servers); seed aastra.cfg",
        ("time server disabled", "time server1", "time server2", "time server3"),
    ),
    NameGroup(
        "41-001343-02 5-16 to 5-18, Time Zone & DST, and A-47 to A-52, Custom Time Zone "
        "and DST Settings (dst [start|end] relative date written as its two parameters)",
        (
            "time zone name",
            "time zone minutes",
            "dst minutes",
            "dst start relative date",
            "dst start month",
            "dst start week",
            "dst start day",
            "dst start hour",
            "dst end relative date",
            "dst end month",
            "dst end week",
            "dst end day",
            "dst end hour",
        ),
    ),
    NameGroup(
        "41-001343-02 4-57, SIP Global and Per-Line Parameters; seed aastra.cfg and <MAC>.cfg",
        (
            "sip proxy ip",
            "sip proxy port",
            "sip registrar ip",
            "sip registrar port",
            "sip registration period",
        ),
    ),
    NameGroup(
        "41-001343-02 Appendix A, SIP Basic, Global Settings (transport protocol)",
        ("sip transport protocol",),
    ),
    NameGroup(
        "41-001343-02 Appendix A, SIP Advanced Settings (DTMF); seed aastra.cfg and "
        "<MAC>.cfg (sip dtmf method, sip line1 dtmf method)",
        ("sip out-of-band dtmf", "sip dtmf method", "sip line{line} dtmf method"),
    ),
    NameGroup(
        "41-001561-00 A-57, SIP Local Dial Plan Settings; seed aastra.cfg",
        ("sip dial plan", "sip digit timeout"),
    ),
    NameGroup(
        "41-001343-02 A-105, Voicemail Settings; seed aastra.cfg (sip vmail)",
        ("sip vmail", "sip line{line} vmail"),
    ),
    NameGroup(
        "41-001343-02 Appendix A, Centralized Conferencing Settings; seed aastra.cfg",
        ("sip centralized conf",),
    ),
    NameGroup(
        "41-001343-02 4-75, Basic Codecs and Customized Codec Preference List",
        ("sip use basic codecs", "sip customized codec"),
    ),
    NameGroup(
        "41-001343-02 A-69, SIP Per-Line Authentication Settings, and 4-57, SIP Per-Line "
        "Network Parameters; seed <MAC>.cfg",
        (
            "sip line{line} screen name",
            "sip line{line} user name",
            "sip line{line} display name",
            "sip line{line} auth name",
            "sip line{line} password",
            "sip line{line} proxy ip",
            "sip line{line} proxy port",
            "sip line{line} registrar ip",
            "sip line{line} registrar port",
            "sip line{line} registration period",
        ),
    ),
    NameGroup(
        "41-001343-01 Rev 03 5-219, Call Park/Pickup Configuration Precedence Rule",
        ("sip line{line} park pickup config",),
    ),
    NameGroup(
        "41-001343-01 Rev 02/03 5-59, Locking IP Phone Keys (the parameters each key "
        "family has); seed aastra.cfg (topsoftkeyN type, label, value, line)",
        (
            "softkey{key} type",
            "softkey{key} label",
            "softkey{key} value",
            "softkey{key} line",
            "topsoftkey{key} type",
            "topsoftkey{key} label",
            "topsoftkey{key} value",
            "topsoftkey{key} line",
            "prgkey{key} type",
            "prgkey{key} value",
            "prgkey{key} line",
            "expmod{module} key{key} type",
            "expmod{module} key{key} value",
            "expmod{module} key{key} line",
        ),
    ),
    NameGroup(
        "41-001343-02 REV05 A-81, HTTP/HTTPS Authentication Support for BroadSoft CMS",
        ("http digest username", "http digest password"),
    ),
    NameGroup(
        "41-001373-01 REV02 (TR-069 Configuration Guide, seed 002), TR-069 Configuration "
        "Parameters: tr69 server, server port, password, connection request path and port, "
        "periodic inform enable and interval, trusted certificates; the user-name names from "
        "the guide's page order (see vendors/aastra/tr69.py)",
        (
            "tr69 server",
            "tr69 server port",
            "tr69 username",
            "tr69 password",
            "tr69 connection request username",
            "tr69 connection request password",
            "tr69 connection request path",
            "tr69 connection request port",
            "tr69 periodic inform enable",
            "tr69 periodic inform interval",
            "tr69 trusted certificates",
        ),
    ),
)

_PLACEHOLDERS = {"{line}": "[1-9]", "{key}": "[1-9][0-9]{0,2}", "{module}": "[1-3]"}


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for group in GROUPS:
        for name in group.names:
            pattern = re.escape(name)
            for placeholder, digits in _PLACEHOLDERS.items():
                pattern = pattern.replace(re.escape(placeholder), digits)
            compiled.append((re.compile(pattern), group.source))
    return tuple(compiled)


def documented(name: str) -> str | None:
    """The source documenting ``name`` (lower case, as written), or ``None``."""
    for pattern, source in _patterns():
        if pattern.fullmatch(name):
            return source
    return None

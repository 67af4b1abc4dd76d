"""What a SIP 3.x phone takes from the vendor's stock ``sip.cfg`` and ``phone1.cfg``, for
a phone plugtone has no stock files for (its site file then carries these).

The names table (:mod:`plugtone.vendors.polycom.names`) imports
:data:`ESSENTIAL_NAMES`: every parameter this module may write, spelt as the
administrator's guide spells it, ``x`` standing for a registration or feature index
and ``y`` for a server index (``reg.x.server.y.register``). :func:`essential_name`
says whether a written name (``reg.1.type``) is one of them.

A SIP 3.x release ships ``sip.cfg`` (the application's settings) and ``phone1.cfg``
(the per-phone template) and its master file lists both; the vendor says the files
shipped with a release must be used with it (SIP 2.2 Administrator's Guide p. 2-5;
see :mod:`.stock`). When plugtone has no such files for a phone (no pinned release
holding them, none known to be running), a master file that listed them anyway would
name files a strict phone cannot fetch, so they are left out and the parameters below
go into the site file instead. No document says which parameters a 3.x phone falls
back on when ``sip.cfg`` is missing: assume the strict phone, which has only what its
files give.

Sources, for every name: *Administrator's Guide for the Polycom SoundPoint IP /
SoundStation IP / VVX Family, SIP 3.2* (1725-11530-320 Rev. A, August 2009), Appendix A
"Configuration Files" (the same tables in the SIP 3.1 guide, 1725-11530-310 Rev. A:
Registration <reg/> p. A-107, Feature <feature/>, Server <server/>, Dial Plan
<dialplan/>), section named next to each entry. Values: the vendor's own files, as
the 3.x releases ship them (``sip.cfg`` as redistributed by wazo-provd-plugins,
``plugins/wazo_polycom/v3_1_6/var/tftpboot/sip.cfg``: ``voIpProt.server.1.register``,
the ``dialplan.applyTo*`` flags, the twenty ``feature.x`` entries; ``phone1.cfg``'s
registration defaults as the guide's Registration table gives them).

Left out on purpose: what plugtone's own files derive (servers, ports, codecs,
time, digit map, DTMF: :mod:`.parameters`), and the ring classes (``se.rt.x.*``) the
seed's alert-info classes point at, which no source at hand gives values for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from plugtone.vendors.base import LineView

GUIDE = "SIP 3.2 Administrator's Guide (1725-11530-320 Rev. A), Appendix A"

GLOBAL: tuple[tuple[str, str, str], ...] = (
    # (name, value, section of GUIDE)
    ("voIpProt.SIP.enable", "1", "Protocol <voIpProt/>, SIP <SIP/>"),
    ("voIpProt.server.1.register", "1", "Protocol <voIpProt/>, Server <server/>"),
    ("dialplan.impossibleMatchHandling", "0", "Dial Plan <dialplan/>"),
    ("dialplan.applyToUserSend", "1", "Dial Plan <dialplan/>"),
    ("dialplan.applyToUserDial", "1", "Dial Plan <dialplan/>"),
    ("dialplan.applyToCallListDial", "0", "Dial Plan <dialplan/>"),
    ("dialplan.applyToDirectoryDial", "0", "Dial Plan <dialplan/>"),
)
"""Application settings from ``sip.cfg``: SIP on, registration on, the digit map applied
to what the user dials (the seed's dial plan relies on it)."""

FEATURES: tuple[tuple[str, str], ...] = (
    # feature.x.name, feature.x.enabled: Feature <feature/>, in the stock sip.cfg's order
    ("presence", "0"),
    ("messaging", "0"),
    ("directory", "1"),  # the contact directory plugtone serves (<mac>-directory.xml)
    ("calllist", "1"),
    ("ring-download", "1"),
    ("calllist-received", "1"),
    ("calllist-placed", "1"),
    ("calllist-missed", "1"),
    ("url-dialing", "1"),
    ("call-park", "0"),
    ("group-call-pickup", "0"),
    ("directed-call-pickup", "0"),
    ("last-call-return", "0"),
    ("acd-login-logout", "0"),
    ("acd-agent-availability", "0"),
    ("nway-conference", "0"),
    ("call-recording", "0"),
    ("enhanced-feature-keys", "0"),
    ("corporate-directory", "0"),
    ("picture-frame", "1"),
)

PER_LINE: tuple[tuple[str, str, str], ...] = (
    # (name after "reg.x.", value, section of GUIDE): phone1.cfg's registration defaults
    ("type", "private", "Registration <reg/>: standard call signalling"),
    ("ringType", "2", "Registration <reg/>: the first non-silent ringer"),
    ("lineKeys", "1", "Registration <reg/>: one line key per registration"),
    # plugtone's lines name their own server (reg.x.server.1.address), and then "all of
    # the reg.x.server.y.xxx parameters will override the voIpProt.server parameters"
    # (Server <server/>): the register flag must be set at that level too
    ("server.1.register", "1", "Registration <reg/>"),
)

ESSENTIAL_NAMES: frozenset[str] = frozenset(
    {
        "voIpProt.SIP.enable",
        "voIpProt.server.x.register",
        "dialplan.impossibleMatchHandling",
        "dialplan.applyToUserSend",
        "dialplan.applyToUserDial",
        "dialplan.applyToCallListDial",
        "dialplan.applyToDirectoryDial",
        "feature.x.name",
        "feature.x.enabled",
        "reg.x.type",
        "reg.x.ringType",
        "reg.x.lineKeys",
        "reg.x.server.y.register",
    }
)
"""Every name :func:`essential_parameters` may write, as the guide spells it."""


def _pattern(name: str) -> re.Pattern[str]:
    """``reg.x.server.y.register`` as a pattern: ``x`` and ``y`` stand for indexes."""
    parts = [r"\d+" if part in ("x", "y") else re.escape(part) for part in name.split(".")]
    return re.compile(r"\.".join(parts))


_PATTERNS = [_pattern(name) for name in sorted(ESSENTIAL_NAMES)]


def essential_name(name: str) -> bool:
    """Whether ``name`` (``reg.2.type``, ``feature.3.enabled``) is one of
    :data:`ESSENTIAL_NAMES`."""
    return any(pattern.fullmatch(name) for pattern in _PATTERNS)


def essential_parameters(lines: Iterable[LineView]) -> dict[str, str]:
    """What the stock files would give a phone with ``lines``: application settings, the
    feature table, then each line's registration defaults."""
    params = {name: value for name, value, _ in GLOBAL}
    for index, (name, enabled) in enumerate(FEATURES, start=1):
        params[f"feature.{index}.name"] = name
        params[f"feature.{index}.enabled"] = enabled
    for line in lines:
        for name, value, _ in PER_LINE:
            params[f"reg.{line.index}.{name}"] = value
    return params

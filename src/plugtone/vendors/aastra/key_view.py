"""An Aastra phone's keys as its model arranges them, and the raw names of the neutral
settings, for the admin UI (:meth:`VendorPlugin.key_layout`,
:meth:`VendorPlugin.neutral_setting_names`).

Key counts per family are the model table's (:mod:`.models`, wazo-provd-plugins
``wazo_aastra``); keys are placed by :func:`.keys.layout`, the same code that writes
``<MAC>.cfg``. Expansion modules: "The M685i expansion module consists of 3 pages of 28
softkeys (for a total of 84)" and "The M680i expansion module consists of 16 softkeys"
(41-001561-00, 3-41, "Softkeys, Programmable Keys, Expansion Module Keys"); the M675i's
60 keys are taken to be 3 pages of 20 in the same way (assumed: no document found here
gives its pages). How the keys sit on the phone body (columns, which side) is not in
any document found: the arrangement below is assumed and says so on the page (hard
programmable keys in one column; top softkeys either side of the display, the left
column first; bottom softkeys in rows of three under it; module keys in two columns).
"""

from __future__ import annotations

from plugtone.vendors.aastra.keys import key_label, key_value, layout
from plugtone.vendors.aastra.models import (
    EXPANSION_KEYS_67,
    EXPANSION_KEYS_68,
    AastraModel,
    is_module,
)
from plugtone.vendors.base import PhoneView
from plugtone.vendors.key_layout import KeyFace, KeyGroup, KeyLayout, faces_in

TITLES = {"prgkey": "Programmable keys", "topsoftkey": "Top softkeys", "softkey": "Softkeys"}
COLUMNS = {"prgkey": 1, "topsoftkey": 2, "softkey": 3}
"""Assumed (see the module docstring)."""
SOURCE = (
    "Key counts: wazo-provd-plugins wazo_aastra model table; expansion modules: Mitel "
    "6800i admin guide 41-001561-00, 3-41. Columns on the phone body are assumed."
)


def module_pages(count: int) -> int | None:
    """Keys per page of an expansion module of ``count`` keys (3 pages; see above)."""
    return count // 3 if count in (EXPANSION_KEYS_67, EXPANSION_KEYS_68) else None


def aastra_key_layout(phone: PhoneView, model: AastraModel) -> KeyLayout:
    """The model's families with the phone's keys where ``<MAC>.cfg`` puts them; module
    families appear only when a key is pinned to them (plugtone cannot see a module)."""
    keys = phone.effective_keys
    placed: dict[str, dict[int, KeyFace]] = {}
    for spot in layout(keys, model).placed:
        key = spot.key
        placed.setdefault(spot.family, {})[spot.slot] = KeyFace(
            type=key.type,
            label=key_label(key) or None,
            value=key_value(phone, key),
            line=key.line,
            key=spot.index,
        )
    groups = []
    for family, count in model.families:
        if is_module(family):
            if family not in placed:
                continue
            number = family.removeprefix("expmod").removesuffix(" key")
            groups.append(
                KeyGroup(
                    f"Expansion module {number}",
                    family,
                    faces_in(count, placed[family]),
                    columns=2,
                    per_page=module_pages(count),
                    down=True,
                )
            )
            continue
        groups.append(
            KeyGroup(
                TITLES.get(family, family),
                family,
                faces_in(count, placed.get(family, {})),
                columns=min(COLUMNS.get(family, 1), count),
                down=family == "topsoftkey",
            )
        )
    modules = [count for family, count in model.families if is_module(family)]
    note = (
        f"The {model.spec.name} takes up to {len(modules)} expansion modules of "
        f"{modules[0]} keys; a module is shown when a key is pinned to it."
        if modules
        else ""
    )
    return KeyLayout(model.spec.name, tuple(groups), note, SOURCE)


LINE = "sip line*"
NEUTRAL_NAMES: dict[str, tuple[str, ...]] = {
    # neutral setting: the names ``phone_settings`` (``__init__``) writes it as
    "sip_server": ("sip proxy ip", "sip registrar ip", f"{LINE} proxy ip",
                   f"{LINE} registrar ip"),
    "sip_port": ("sip proxy port", "sip registrar port", f"{LINE} proxy port",
                 f"{LINE} registrar port"),
    "sip_transport": ("sip transport protocol",),
    "registration_period": ("sip registration period", f"{LINE} registration period"),
    "dtmf_method": ("sip out-of-band dtmf", "sip dtmf method", f"{LINE} dtmf method"),
    "dial_plan": ("sip dial plan",),
    "digit_timeout": ("sip digit timeout",),
    "voicemail": ("sip vmail", f"{LINE} vmail"),
    "conference": ("sip centralized conf",),
    "codecs": ("sip use basic codecs", "sip customized codec"),
    "ntp_servers": ("time server disabled", "time server1", "time server2", "time server3"),
    "timezone": ("time zone name", "time zone minutes", "dst minutes", "dst start *",
                 "dst end *"),
    "config_server": ("download protocol", "tftp server", "ftp server", "ftp path",
                      "ftp username", "ftp password", "http server", "http path", "http port",
                      "https server", "https path", "https port"),
    "resync_time": ("auto resync mode", "auto resync time"),
    "lines": (f"{LINE} auth name", f"{LINE} password", f"{LINE} user name",
              f"{LINE} display name", f"{LINE} screen name"),
    "keys": ("prgkey*", "softkey*", "topsoftkey*", "expmod*"),
}  # fmt: skip
"""Raw names are case-insensitive (41-001561-00 A-6), so compared lower-cased."""

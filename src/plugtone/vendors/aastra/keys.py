"""Neutral keys laid onto an Aastra model's key families, and what cannot be laid.

Layout (:func:`layout`), in inventory order:

* A key pinned with ``family``/``slot`` takes that place when the model has it and it is
  free; pinned to a family without a slot, the family's first free key. A pin the model
  cannot honour (a family it lacks, a slot past the end or already taken, a BLF on a
  68xx bottom softkey) is laid like an unpinned key, with a warning naming the pin.
* The other keys fill the free keys of the phone's own families in the model's order
  (:mod:`.models`). Expansion-module keys are only used by keys pinned there.
* A BLF never lands on a family in :attr:`AastraModel.no_blf` (the 68xx bottom
  softkeys): it takes the first free key of a family that shows BLF, and the keys
  before it leave such keys free for the BLFs after them as long as another free key
  can take them.
* A key with no place left is refused (``check_phone``), never dropped.

Park keys (41-001343-01 Rev 03, 5-219, "Call Park/Pickup Configuration Precedence
Rule"): 3.x firmware takes the park and pickup codes from ``sip lineN park pickup
config: <park code>;<pickup code>;<call server>`` (the guide's examples: ``70;70;asterisk``
and ``*78;*98;broadworks``); the key's own ``value`` is the 2.x form (``broadworks;*68``),
used only when no such setting exists. The neutral model has no park or pickup code
for a site (``SiteView`` has none), so they come from the park key's value:
``700`` (Asterisk's parking lot: the same code parks and picks up, as wazo-provd writes
it), ``*68;*88`` (park code, pickup code) or ``*68;*88;broadworks`` (and the call
server, ``asterisk`` unless given). A park key with ``line`` sets that line's
configuration; without, every line of the phone. Two different configurations for one
line are refused. The 3.2.2 guide says the 6735i and 6737i do not support this in that
release: a warning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from plugtone.vendors.aastra.cfgfile import value_problem
from plugtone.vendors.aastra.models import FAMILY_NAMES, LABEL_FAMILIES, AastraModel
from plugtone.vendors.base import KeyView, PhoneView

KEY_TYPES = {
    # neutral type: Aastra key type (41-001343-02 Appendix A, "Softkey/Programmable Key/
    # Expansion Module Key Parameters"; the 57i/6757i user guides' key type tables)
    "line": "line",
    "speeddial": "speeddial",
    "blf": "blf",
    "park": "park",
    "directory": "directory",
    "callers": "callers",
    "voicemail": "speeddial",
    "transfer": "xfer",
    "conference": "conf",
    "dnd": "dnd",
    "flash": "flash",
    "services": "services",
    "xml": "xml",
    "empty": "none",
}
NEEDS_VALUE = {
    "speeddial": "the number to dial",
    "blf": "the extension to watch",
    "park": "the park code",
    "xml": "the XML application's URL",
}
PARK_SERVERS = ("asterisk", "broadworks")
"""Call servers the guide's park/pickup examples name (5-219)."""
PARK_UNSUPPORTED = ("6735i", "6737i")
"""5-219: "This feature is not supported on 6735i and 6737i IP phones for Release 3.2.2"."""
_CODE = re.compile(r"[0-9*#]{1,32}")


@dataclass(frozen=True)
class Placement:
    """Where key number ``index`` (1-based, in the phone's effective keys) goes."""

    index: int
    key: KeyView
    family: str
    slot: int

    @property
    def name(self) -> str:
        """``topsoftkey3``, ``expmod1 key4``: the prefix of the key's parameters."""
        return f"{self.family}{self.slot}"


@dataclass(frozen=True)
class Layout:
    placed: tuple[Placement, ...]
    problems: tuple[tuple[str, bool], ...]
    """``(message, refuse)`` for keys moved (warnings) or without a place (refusals)."""


def describe(index: int, key: KeyView) -> str:
    """``key 12 (blf 201)``: how findings name a key (without a value that could not be
    shown on one line; that value has a finding of its own)."""
    if key.value and value_problem(key.value) is None:
        return f"key {index} ({key.type} {key.value})"
    return f"key {index} ({key.type})"


def family_label(family: str) -> str:
    return FAMILY_NAMES.get(family, f"{family.removesuffix(' key')} keys")


def layout(keys: Sequence[KeyView], model: AastraModel) -> Layout:
    """Lay ``keys`` onto ``model`` (see the module docstring)."""
    counts = dict(model.families)
    taken: set[tuple[str, int]] = set()
    placed: list[Placement] = []
    problems: list[tuple[str, bool]] = []
    floating: list[tuple[int, KeyView, str | None]] = []
    for index, key in enumerate(keys, start=1):
        pin = _pin(key, model, counts, taken)
        if isinstance(pin, tuple):
            taken.add(pin)
            placed.append(Placement(index, key, *pin))
        else:
            floating.append((index, key, pin))
    own = model.own_families
    capable = [family for family, _ in own if family not in model.no_blf]
    blf_left = sum(1 for _, key, _ in floating if key.type == "blf")
    for index, key, moved in floating:
        is_blf = key.type == "blf"
        families = capable if is_blf else [family for family, _ in own]
        reserve = 0 if is_blf else blf_left
        spot = _free(families, counts, taken, capable, reserve)
        if spot is None and not is_blf:
            spot = _free(families, counts, taken, capable, 0)
        if is_blf:
            blf_left -= 1
        if spot is None:
            problems.append((_no_place(index, key, model), True))
            continue
        taken.add(spot)
        placed.append(Placement(index, key, *spot))
        if moved:
            problems.append(
                (f"{describe(index, key)}: {moved}; placed on {spot[0]} {spot[1]}", False)
            )
    placed.sort(key=lambda placement: placement.index)
    return Layout(tuple(placed), tuple(problems))


def _pin(
    key: KeyView, model: AastraModel, counts: dict[str, int], taken: set[tuple[str, int]]
) -> tuple[str, int] | str | None:
    """The pinned place, or why the pin is not honoured (``None``: no pin)."""
    if not key.family:
        return None
    family = pinned_family(key.family)
    name = model.spec.name
    if family not in counts:
        return f"pinned to {family} {key.slot or ''}".rstrip() + f", which the {name} lacks"
    if key.type == "blf" and family in model.no_blf:
        return f"pinned to {family} {key.slot or ''}".rstrip() + (
            f", but the {name}'s bottom softkeys cannot show a BLF"
        )
    if key.slot is None:
        spot = _first_free(family, counts[family], taken)
        return spot if spot else f"pinned to {family}, whose {counts[family]} keys are taken"
    if not 1 <= key.slot <= counts[family]:
        return f"pinned to {family} {key.slot}, but the {name} has {counts[family]} such keys"
    if (family, key.slot) in taken:
        return f"pinned to {family} {key.slot}, which an earlier key holds"
    return family, key.slot


MODULE_FAMILY = re.compile(r"(expmod[1-3])(?:[ _-]?key)?")


def pinned_family(text: str) -> str:
    """The family a key is pinned to, as the model table names it. An expansion module
    is ``expmod1`` (or ``expmod1_key``) in the inventory, whose family names hold no
    space, and ``expmod1 key`` in the table (the parameters' own prefix)."""
    family = " ".join(text.lower().split())
    module = MODULE_FAMILY.fullmatch(family)
    return f"{module.group(1)} key" if module else family


def _free(
    families: Sequence[str],
    counts: dict[str, int],
    taken: set[tuple[str, int]],
    capable: Sequence[str],
    reserve: int,
) -> tuple[str, int] | None:
    """The first free key of ``families`` that leaves ``reserve`` BLF-capable keys free."""
    capable_free = sum(
        1
        for family in capable
        for slot in range(1, counts[family] + 1)
        if (family, slot) not in taken
    )
    for family in families:
        if family in capable and capable_free - 1 < reserve:
            continue
        spot = _first_free(family, counts[family], taken)
        if spot:
            return spot
    return None


def _first_free(family: str, count: int, taken: set[tuple[str, int]]) -> tuple[str, int] | None:
    for slot in range(1, count + 1):
        if (family, slot) not in taken:
            return family, slot
    return None


def _no_place(index: int, key: KeyView, model: AastraModel) -> str:
    name = model.spec.name
    own = ", ".join(f"{count} {family_label(family)}" for family, count in model.own_families)
    if key.type == "blf" and model.no_blf:
        capable = ", ".join(
            f"{count} {family_label(family)}"
            for family, count in model.own_families
            if family not in model.no_blf
        )
        return (
            f"{describe(index, key)}: the {name}'s bottom softkeys cannot show a BLF and its "
            f"{capable} are all taken; free a top softkey or pin it to an expansion-module key"
        )
    return (
        f"{describe(index, key)}: the {name} has {own}, all taken; remove keys or pin this "
        "one to an expansion-module key (family 'expmod1') if the phone has a module"
    )


def key_settings(phone: PhoneView, placements: Sequence[Placement]) -> dict[str, str]:
    """The ``<family>N type/value/label/line`` settings of the placed keys."""
    settings: dict[str, str] = {}
    for placement in placements:
        key, name = placement.key, placement.name
        settings[f"{name} type"] = KEY_TYPES[key.type]
        value = key_value(phone, key)
        if value:
            settings[f"{name} value"] = value
        if placement.family in LABEL_FAMILIES:
            settings[f"{name} label"] = key_label(key)
        if key.line or key.type in ("line", "speeddial", "blf", "voicemail"):
            settings[f"{name} line"] = str(key.line or 1)
    return settings


def key_value(phone: PhoneView, key: KeyView) -> str | None:
    if key.type == "voicemail":
        return key.value or phone.site.voicemail
    if key.type == "park":
        config = park_config(key.value)
        return f"{config[2]};{config[0]}" if config else key.value
    return key.value


def key_label(key: KeyView) -> str:
    if key.label is not None:
        return key.label
    return "Voicemail" if key.type == "voicemail" else ""


def park_config(value: str | None) -> tuple[str, str, str] | None:
    """``(park code, pickup code, server)`` from a park key's value, or ``None`` when it
    is not one of the forms the module docstring lists."""
    if not value:
        return None
    parts = [part.strip() for part in value.split(";")]
    if len(parts) == 1:
        parts = [parts[0], parts[0], "asterisk"]
    elif len(parts) == 2:
        parts.append("asterisk")
    if len(parts) != 3 or parts[2].lower() not in PARK_SERVERS:
        return None
    if not all(_CODE.fullmatch(code) for code in parts[:2]):
        return None
    return parts[0], parts[1], parts[2].lower()


def park_settings(phone: PhoneView, keys: Sequence[KeyView]) -> tuple[dict[str, str], list[str]]:
    """``sip lineN park pickup config`` for the phone's lines, and the conflicts."""
    configs: dict[int, tuple[str, int]] = {}
    conflicts: list[str] = []
    lines = [line.index for line in phone.lines]
    for index, key in enumerate(keys, start=1):
        if key.type != "park":
            continue
        config = park_config(key.value)
        if config is None:
            continue
        text = ";".join(config)
        for line in [key.line] if key.line else lines:
            held = configs.get(line)
            if held and held[0] != text:
                conflicts.append(
                    f"{describe(index, key)}: line {line} already parks with {held[0]} "
                    f"(key {held[1]}); an Aastra line holds one park/pickup configuration"
                )
            elif not held:
                configs[line] = (text, index)
    settings = {
        f"sip line{line} park pickup config": text for line, (text, _) in sorted(configs.items())
    }
    return settings, conflicts


def key_problems(
    phone: PhoneView, keys: Sequence[KeyView], model: AastraModel
) -> list[tuple[str, bool]]:
    """What in the keys themselves the phone cannot carry (values, lines, park codes)."""
    problems: list[tuple[str, bool]] = []
    site = phone.site
    for index, key in enumerate(keys, start=1):
        what = describe(index, key)
        if key.type not in KEY_TYPES:
            problems.append((f"{what}: not a key type the Aastra plug-in knows", True))
            continue
        if key.type == "voicemail" and not (key.value or site.voicemail):
            problems.append((f"{what}: the site has no voicemail code for it to dial", True))
        elif key.type in NEEDS_VALUE and not key.value:
            problems.append((f"{what}: needs a value ({NEEDS_VALUE[key.type]})", True))
        elif key.type == "park" and park_config(key.value) is None:
            problems.append(
                (
                    f"{what}: a park key's value is a park code (700), a park and a pickup "
                    "code (*68;*88), or both and the call server (*68;*88;broadworks); "
                    f"codes of digits, * and #, servers {' or '.join(PARK_SERVERS)}",
                    True,
                )
            )
        if key.type == "park" and model.spec.name in PARK_UNSUPPORTED:
            problems.append(
                (
                    f"{what}: the 3.2.2 admin guide (41-001343-01, 5-219) says the "
                    f"{model.spec.name} does not support park/pickup configuration in that "
                    "release; it works from later firmware",
                    False,
                )
            )
        if key.line is not None and not 1 <= key.line <= model.max_lines:
            problems.append(
                (f"{what}: the {model.spec.name} has lines 1 to {model.max_lines}", True)
            )
    _, conflicts = park_settings(phone, keys)
    problems += [(conflict, True) for conflict in conflicts]
    return problems

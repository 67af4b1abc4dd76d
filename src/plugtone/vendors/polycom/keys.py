"""The inventory's keys on a SoundPoint IP / SoundStation IP line keys (SIP 3.x).

A SoundPoint IP has one row of programmable keys, its *line keys*, and the SIP
application lays them out itself, in a fixed order (plugtone cannot place a key
anywhere else):

1. each registration ``reg.x`` (lines, in index order) takes ``reg.x.lineKeys`` keys
   (1 by default; "1 to max, max = the number of line keys on the phone": SIP 3.1
   Administrator's Guide, Registration <reg/>, p. A-109);
2. the statically configured busy lamp field, ``attendant.resourceList.x.address``
   / ``.label`` / ``.type``, watched through registration ``attendant.reg``, takes the
   next unused keys (Engineering Advisory 62475 "Using Statically Configured Busy Lamp
   Field", SIP 3.2.0 and later, SoundPoint IP 450, 550, 560, 650 and 670 only;
   ``attendant.reg``: SIP 3.1 guide, Attendant <attendant/>, p. A-122);
3. speed dials, the contact directory's entries with a speed-dial index ``<sd>``
   ("associates a particular entry with a speed dial bin for one-touch dialing", SIP
   3.0.2 guide p. 4-11), take the keys left, in ``sd`` order.

No document found says in which order BLF and speed dials share the keys left after
the registrations: plugtone assumes the order above, and the test emulator behaves so.

So a neutral key becomes:

- ``line``: one more key for its line (``reg.x.lineKeys``);
- ``blf``: a resource list entry (IP 560 and IP 650 only);
- ``speeddial`` and ``voicemail``: a directory entry with ``sd`` (a ``voicemail`` key
  dials the site's ``voicemail`` code, as on every plug-in);
- ``empty``: nothing (the phone has no blank key between others; pinned to a slot
  that something else needs, it is refused);
- anything else (park, directory, callers, transfer, conference, dnd, flash,
  services, xml): refused. SIP 3.2 line keys hold only the three kinds above.

Every key that cannot land where the inventory says, or beyond the model's line keys
(2 on the IP 321/331/335, 4 on the IP 560, 6 on an IP 650 without expansion modules,
1 on the SoundStations), is a refusing :class:`Finding` of :func:`check_keys`: the
apply is refused instead of the phone silently showing less. The render side
(:func:`key_parameters`, :func:`speed_dials`) writes only what fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from plugtone.vendors.base import Finding, KeyView, PhoneView, dialled_number

FAMILY = "linekey"
"""The one key family a SoundPoint IP has (the inventory's ``family`` for a pinned key)."""

LINE_KEYS: dict[str, int] = {
    # SIP 3.1 guide p. A-109, reg.x.lineKeys: "max = 2 on IP 301, 320, 330, 430", "max =
    # 4 on IP 550, 560", "max = 48 on IP 601, 650, 670 (without any Expansion Modules
    # attached, only 6 line keys are available)", "max = 1 on SoundStation IP 4000, 6000,
    # 7000". The IP 321/331/335 came with SIP 3.2 and are not in that table: they are
    # two-line phones like the IP 320/330 they replace (the SoundPoint IP 32x/33x user
    # guide shows two line keys), so 2. The inventory says nothing of expansion
    # modules: an IP 650 is taken to have none.
    "IP321": 2,
    "IP331": 2,
    "IP335": 2,
    "IP560": 4,
    "IP650": 6,
    "SSIP6000": 1,
    "SSIP7000": 1,
}
STATIC_BLF = frozenset({"IP560", "IP650"})
"""Models with the statically configured BLF of SIP 3.2 (Engineering Advisory 62475)."""
SPEED_DIAL_TYPES = ("speeddial", "voicemail")
BLF_TYPE = "normal"
"""``attendant.resourceList.x.type``: a person (``automata`` is for park orbits and
other servers; the neutral ``blf`` watches an extension)."""


@dataclass(frozen=True)
class SpeedDial:
    """A directory entry the phone shows on a line key."""

    index: int
    """``<sd>``: 1, 2, ... in key order."""
    number: str
    label: str | None
    """The key's label, else ``None`` (the contact's own name, or the number)."""


@dataclass(frozen=True)
class Blf:
    index: int
    """``attendant.resourceList.<index>``."""
    address: str
    label: str


@dataclass
class Layout:
    """Where the phone's keys land, and what cannot land."""

    line_keys: dict[int, int] = field(default_factory=dict)
    """Line index -> ``reg.x.lineKeys`` (at least 1 for every line)."""
    blf: list[Blf] = field(default_factory=list)
    attendant_reg: int | None = None
    speed_dials: list[SpeedDial] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def refuse(self, message: str) -> None:
        self.findings.append(Finding(message))


def key_layout(phone: PhoneView) -> Layout:
    """The phone's line keys as its SIP application will lay them out."""
    layout = Layout()
    capacity = LINE_KEYS.get(phone.model, 1)
    lines = sorted({line.index for line in phone.lines})
    explicit: dict[int, list[tuple[str, KeyView]]] = {index: [] for index in lines}
    blf: list[tuple[str, KeyView]] = []
    dials: list[tuple[str, KeyView, str]] = []
    empties: list[tuple[str, KeyView]] = []
    for name, key in _named(phone):
        if key.family is not None and key.family != FAMILY:
            layout.refuse(
                f"{name}: the {phone.model} has one key family, {FAMILY!r} (its line keys), "
                f"not {key.family!r}"
            )
        elif key.type == "empty":
            empties.append((name, key))
        elif key.type == "line":
            target = key.line or 1
            if target in explicit:
                explicit[target].append((name, key))
            else:
                layout.refuse(f"{name}: the phone has no line {target}")
        elif key.type == "blf":
            _blf(phone, name, key, lines, layout, blf)
        elif key.type in SPEED_DIAL_TYPES:
            number, why = dialled_number(key, phone.site)
            if not number:
                layout.refuse(f"{name}: {why}")
            elif any(number == other for _, _, other in dials):
                layout.refuse(
                    f"{name}: another speed dial already dials {number}; the phone's "
                    "directory holds each number once (<ct> cannot be duplicated)"
                )
            else:
                dials.append((name, key, number))
        else:
            layout.refuse(
                f"{name}: a Polycom on SIP 3.2 puts only lines, BLF, speed dials and voicemail "
                f"on its line keys; it has no {key.type} key"
            )
    position = 0
    for index in lines:
        count = max(1, len(explicit[index]))
        first = position + 1
        position += count
        layout.line_keys[index] = min(count, max(1, capacity - first + 1))
        if first > capacity:
            layout.refuse(
                f"line {index}: the {phone.model} has {_keys(capacity)}; its registrations "
                f"before it take them all, so line {index} would have no key and not register"
            )
            continue
        for offset, (name, key) in enumerate(explicit[index]):
            _place(layout, phone.model, capacity, name, key, first + offset)
    for number, (name, key) in enumerate(blf, start=1):
        position += 1
        if _place(layout, phone.model, capacity, name, key, position):
            label = key.label if key.label is not None else (key.value or "")
            layout.blf.append(Blf(number, key.value or "", label))
    for number, (name, key, dialled) in enumerate(dials, start=1):
        position += 1
        if _place(layout, phone.model, capacity, name, key, position):
            label = key.label if key.label is not None else (
                "Voicemail" if key.type == "voicemail" else None
            )  # fmt: skip
            layout.speed_dials.append(SpeedDial(number, dialled, label))
    for name, key in empties:
        if key.slot is not None and key.slot <= position:
            layout.refuse(
                f"{name}: the {phone.model} cannot leave line key {key.slot} blank: it lays out "
                "its line keys itself (lines, then BLF, then speed dials) and that key is taken"
            )
        elif key.slot is not None and key.slot > capacity:
            layout.refuse(f"{name}: the {phone.model} has {_keys(capacity)}")
    if not layout.blf:
        layout.attendant_reg = None
    return layout


def check_keys(phone: PhoneView) -> list[Finding]:
    """Refusing findings for every key that cannot land as the inventory says."""
    return key_layout(phone).findings


def key_parameters(phone: PhoneView) -> dict[str, str]:
    """``reg.x.lineKeys`` for every line, and the BLF resource list."""
    layout = key_layout(phone)
    params = {f"reg.{index}.lineKeys": str(count) for index, count in layout.line_keys.items()}
    if layout.blf and layout.attendant_reg is not None:
        params["attendant.reg"] = str(layout.attendant_reg)
        for item in layout.blf:
            prefix = f"attendant.resourceList.{item.index}."
            params[prefix + "address"] = item.address
            params[prefix + "label"] = item.label
            params[prefix + "type"] = BLF_TYPE
    return params


def speed_dials(phone: PhoneView) -> list[SpeedDial]:
    """The directory entries the phone shows on line keys, in ``sd`` order."""
    return key_layout(phone).speed_dials


def _named(phone: PhoneView) -> Iterator[tuple[str, KeyView]]:
    """Each key with the name messages give it: ``key 3 (blf 201)``."""
    for number, key in enumerate(phone.effective_keys, start=1):
        what = f"{key.type} {key.value}" if key.value else key.type
        yield f"key {number} ({what})", key


def _blf(
    phone: PhoneView,
    name: str,
    key: KeyView,
    lines: list[int],
    layout: Layout,
    blf: list[tuple[str, KeyView]],
) -> None:
    if phone.model not in STATIC_BLF:
        layout.refuse(
            f"{name}: the {phone.model} has no busy lamp field keys (SIP 3.2 configures BLF "
            "only on the SoundPoint IP 450, 550, 560, 650 and 670)"
        )
        return
    if not key.value:
        layout.refuse(f"{name}: it names no extension to watch (value)")
        return
    line = key.line or (lines[0] if lines else 1)
    if line not in lines:
        layout.refuse(f"{name}: the phone has no line {line} to watch it through")
        return
    if layout.attendant_reg is None:
        layout.attendant_reg = line
    elif layout.attendant_reg != line:
        layout.refuse(
            f"{name}: SIP 3.2 watches every BLF through one line (attendant.reg), here line "
            f"{layout.attendant_reg}; this key asks for line {line}"
        )
        return
    blf.append((name, key))


def _place(
    layout: Layout, model: str, capacity: int, name: str, key: KeyView, position: int
) -> bool:
    """Whether ``key`` lands on line key ``position`` as the inventory asks."""
    if position > capacity:
        layout.refuse(
            f"{name}: the {model} has {_keys(capacity)}; this key would be line key {position}"
        )
        return False
    if key.slot is not None and key.slot != position:
        layout.refuse(
            f"{name}: pinned to line key {key.slot}, but the {model} lays out its line keys "
            f"itself (lines, then BLF, then speed dials) and puts this key on line key "
            f"{position}"
        )
        return False
    return True


def _keys(count: int) -> str:
    return "1 line key" if count == 1 else f"{count} line keys"

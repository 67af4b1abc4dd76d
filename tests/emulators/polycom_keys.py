"""What a SoundPoint IP / SoundStation IP on SIP 3.2 shows on its line keys.

Written from the vendor's documents, apart from plugtone's renderer, and as strict as
they allow. From the parameters a booted :class:`~tests.emulators.polycom.PolycomPhone`
merged and the contact directory it was served, the phone fills its line keys in
this order:

1. each configured registration ``reg.x`` (``reg.x.address`` set), in index order,
   takes ``reg.x.lineKeys`` keys ("1 to max", default 1: SIP 3.1 Administrator's
   Guide p. A-109), labelled ``reg.x.label``, else the user part of the address;
2. the statically configured BLF resources ``attendant.resourceList.x.*``, on the
   models that have them (IP 450/550/560/650/670, SIP 3.2.0 or later: Engineering
   Advisory 62475), watched through registration ``attendant.reg``;
3. directory entries with a speed-dial index ``<sd>`` (1 to 9999), in index order,
   labelled with the entry's name (SIP 3.0.2 guide p. 4-11).

Whatever does not fit is not shown. The order of 2 and 3 is an assumption (no
document found says it; see plugtone's ``vendors/polycom/keys.py``). A value outside
what the guides permit (a ``lineKeys`` beyond the model's keys, an unknown resource
type, a BLF list watched through a registration that does not exist, a duplicated or
empty ``<ct>``, an ``sd`` that is not 1-9999 or given twice) fails like a phone that
rejects its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from defusedxml import ElementTree as SafeET

from tests.emulators.polycom import BootFailed, PolycomPhone

MODELS = {
    # User-Agent model: (line keys, registrations, statically configured BLF)
    "SPIP_321": (2, 2, False),
    "SPIP_331": (2, 2, False),
    "SPIP_335": (2, 2, False),
    "SPIP_560": (4, 4, True),
    "SPIP_650": (6, 34, True),  # 6 keys without expansion modules
    "SSIP_6000": (1, 1, False),
    "SSIP_7000": (1, 1, False),
}
RESOURCE_TYPES = frozenset({"normal", "automata"})
MAX_RESOURCES = 47


@dataclass(frozen=True)
class LineKey:
    kind: str
    """``line``, ``blf`` or ``speeddial``."""
    label: str
    target: str
    """The registration's address, the watched resource, the number dialled."""


def directory_items(content: bytes | None) -> list[dict[str, str]]:
    """Each ``<item>`` of a contact directory as ``{element: text}``."""
    if content is None:
        return []
    root = SafeET.fromstring(content)
    if root.tag != "directory":
        raise BootFailed(f"a directory's root is <{root.tag}>, not <directory>")
    items = []
    for item in root.iter("item"):
        items.append({child.tag: (child.text or "") for child in item})
    return items


def line_keys(phone: PolycomPhone, directory: bytes | None) -> list[LineKey]:
    """The phone's line keys, first to last, after booting ``phone``."""
    if phone.model not in MODELS:
        raise BootFailed(f"no line key facts for {phone.model}")
    count, registrations, static_blf = MODELS[phone.model]
    settings = phone.settings
    shown: list[LineKey] = []
    configured = []
    for index in range(1, registrations + 1):
        address = settings.get(f"reg.{index}.address", "")
        if not address:
            continue
        configured.append(index)
        keys = _integer(settings.get(f"reg.{index}.lineKeys") or "1", f"reg.{index}.lineKeys")
        if not 1 <= keys <= count:
            raise BootFailed(f"reg.{index}.lineKeys={keys}: permitted 1 to {count}")
        label = settings.get(f"reg.{index}.label") or address.split("@", 1)[0]
        shown += [LineKey("line", label, address)] * keys
    if static_blf:
        shown += _resources(settings, configured)
    shown += _speed_dials(directory_items(directory))
    return shown[:count]


def _resources(settings: dict[str, str], configured: list[int]) -> list[LineKey]:
    found = []
    for index in range(1, MAX_RESOURCES + 1):
        address = settings.get(f"attendant.resourceList.{index}.address", "")
        if not address:
            continue
        kind = settings.get(f"attendant.resourceList.{index}.type") or "normal"
        if kind not in RESOURCE_TYPES:
            raise BootFailed(f"attendant.resourceList.{index}.type={kind!r}")
        label = settings.get(f"attendant.resourceList.{index}.label") or address
        found.append(LineKey("blf", label, address))
    if found:
        reg = _integer(settings.get("attendant.reg") or "1", "attendant.reg")
        if reg not in configured:
            raise BootFailed(f"attendant.reg={reg} names no configured registration")
    return found


def _speed_dials(items: list[dict[str, str]]) -> list[LineKey]:
    numbers: set[str] = set()
    indexes: dict[int, dict[str, str]] = {}
    for item in items:
        contact = item.get("ct", "")
        if not contact or contact in numbers:
            raise BootFailed(f"directory <ct> {contact!r} is empty or duplicated")
        numbers.add(contact)
        if item.get("sd"):
            index = _integer(item["sd"], "<sd>")
            if not 1 <= index <= 9999 or index in indexes:
                raise BootFailed(f"directory <sd> {index} out of range or duplicated")
            indexes[index] = item
    dials = []
    for index in sorted(indexes):
        item = indexes[index]
        name = " ".join(part for part in (item.get("fn"), item.get("ln")) if part)
        dials.append(LineKey("speeddial", name or item["ct"], item["ct"]))
    return dials


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BootFailed(f"{name}={text!r} is not a number") from None

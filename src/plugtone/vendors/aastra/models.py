"""Aastra/Mitel 67xxi, 68xxi and 9xxxi models and their programmable key families.

Key counts per family are public facts (wazo-provd-plugins ``wazo_aastra`` model
table). The family order is the order keys fill when the inventory does not pin a
key to a family: hard keys first, then the display's top soft keys, then the lower
soft keys. Expansion-module keys (``expmodN key``) are listed after them but are only
used by keys pinned there: plugtone cannot know whether a module is attached, and a key
laid on a module the phone lacks would be a key silently dropped.

What each family carries (41-001343-01 Rev 03, 3.2.2, 5-59 "Locking IP Phone Keys", the
table of the parameters each key family has): ``softkeyN`` and ``topsoftkeyN`` take
``type``, ``label``, ``value``, ``line``; ``prgkeyN`` and ``expmodX keyN`` take ``type``,
``value``, ``line`` and no label (5-219: "The 6730i, 6731i, 6735i, 6737i, 6753i, 6755i and
9143i do not allow for the configuration of labels ... for programmable keys"). The
68xx programmable keys and modules are assumed to be the same (no document found
gives them a label parameter: the strict reading).

BLF on the 6867i, 6869i and 6873i: "BLF functionality can only be programmed on the top
softkeys" (Mitel 6873i SIP Phone User Guide, "Busy Lamp Field (BLF) Key", note 1; the
same note in the 6867i and 6869i user guides; wazo-provd-plugins ``wazo_aastra``
common.py: "6800 series doesn't support the blf type on softkey"), so their bottom
``softkey`` family is in :attr:`AastraModel.no_blf`.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugtone.vendors.base import ModelSpec

EXPANSION_KEYS_67 = 60  # M675i; the M670i has 36
EXPANSION_KEYS_68 = 84  # M685i; the M680i has 16


@dataclass(frozen=True)
class AastraModel:
    spec: ModelSpec
    families: tuple[tuple[str, int], ...]
    """``(family, count)`` in fill order; ``expmodN key`` families are written as such."""
    max_lines: int = 9
    no_blf: frozenset[str] = frozenset()
    """Families whose keys cannot show a BLF."""

    @property
    def own_families(self) -> tuple[tuple[str, int], ...]:
        """The phone's own keys (no expansion module), in fill order."""
        return tuple((family, count) for family, count in self.families if not is_module(family))

    def count(self, family: str) -> int:
        """How many keys ``family`` has on this model (0 when it has none)."""
        return dict(self.families).get(family, 0)


LABEL_FAMILIES = frozenset({"softkey", "topsoftkey"})
"""Families with a ``label`` parameter (see the module docstring)."""

FAMILY_NAMES = {
    "prgkey": "programmable keys",
    "topsoftkey": "top softkeys",
    "softkey": "softkeys",
}


def is_module(family: str) -> bool:
    """Whether ``family`` is an expansion module's (``expmod2 key``)."""
    return family.startswith("expmod")


def _model(name: str, *families: tuple[str, int], aliases: tuple[str, ...] = (),
           expansion: int = 0, lines: int = 9, description: str = "",
           no_blf: tuple[str, ...] = ()) -> AastraModel:  # fmt: skip
    family_list = list(families)
    for module in range(1, 4 if expansion else 1):
        family_list.append((f"expmod{module} key", expansion))
    return AastraModel(
        spec=ModelSpec(name=name, aliases=aliases, description=description),
        families=tuple(family_list),
        max_lines=lines,
        no_blf=frozenset(no_blf),
    )


MODELS: tuple[AastraModel, ...] = (
    _model("6730i", ("prgkey", 8), aliases=("30i",), lines=6),
    _model("6731i", ("prgkey", 8), aliases=("31i",), lines=6),
    _model("6735i", ("prgkey", 6), ("softkey", 20), expansion=EXPANSION_KEYS_67),
    _model("6737i", ("topsoftkey", 10), ("softkey", 20), expansion=EXPANSION_KEYS_67),
    _model("6739i", ("softkey", 55), expansion=EXPANSION_KEYS_67),
    _model("6753i", ("prgkey", 6), aliases=("53i",), expansion=EXPANSION_KEYS_67),
    _model("6755i", ("prgkey", 6), ("softkey", 20), aliases=("55i",), expansion=EXPANSION_KEYS_67),
    _model(
        "6757i", ("topsoftkey", 10), ("softkey", 20), aliases=("57i",), expansion=EXPANSION_KEYS_67
    ),
    _model(
        "6757i-CT",
        ("topsoftkey", 10),
        ("softkey", 20),
        aliases=("57iCT", "6757iCT"),
        expansion=EXPANSION_KEYS_67,
        description="6757i with a DECT cordless handset",
    ),
    _model("6863i", ("prgkey", 3), lines=2),
    _model("6865i", ("prgkey", 8), expansion=EXPANSION_KEYS_68),
    _model(
        "6867i",
        ("topsoftkey", 20),
        ("softkey", 18),
        expansion=EXPANSION_KEYS_68,
        no_blf=("softkey",),
    ),
    _model(
        "6869i",
        ("topsoftkey", 44),
        ("softkey", 24),
        expansion=EXPANSION_KEYS_68,
        no_blf=("softkey",),
    ),
    _model(
        "6873i",
        ("topsoftkey", 48),
        ("softkey", 24),
        expansion=EXPANSION_KEYS_68,
        no_blf=("softkey",),
    ),
    _model("9143i", ("prgkey", 7), aliases=("43i",)),
    _model("9480i", ("softkey", 6), aliases=("480i",)),
)

BY_NAME = {model.spec.name: model for model in MODELS}

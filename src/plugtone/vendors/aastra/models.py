"""Aastra/Mitel 67xxi, 68xxi and 9xxxi models and their programmable key families.

Key counts per family are public facts (wazo-provd-plugins ``wazo_aastra`` model
table). The family order is the order keys fill when the inventory does not pin a
key to a family: hard keys first, then the display's top soft keys, then the lower
soft keys, then expansion modules.
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


def _model(name: str, *families: tuple[str, int], aliases: tuple[str, ...] = (),
           expansion: int = 0, lines: int = 9, description: str = "") -> AastraModel:  # fmt: skip
    family_list = list(families)
    for module in range(1, 4 if expansion else 1):
        family_list.append((f"expmod{module} key", expansion))
    return AastraModel(
        spec=ModelSpec(name=name, aliases=aliases, description=description),
        families=tuple(family_list),
        max_lines=lines,
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
    _model("6867i", ("topsoftkey", 20), ("softkey", 18), expansion=EXPANSION_KEYS_68),
    _model("6869i", ("topsoftkey", 44), ("softkey", 24), expansion=EXPANSION_KEYS_68),
    _model("6873i", ("topsoftkey", 48), ("softkey", 24), expansion=EXPANSION_KEYS_68),
    _model("9143i", ("prgkey", 7), aliases=("43i",)),
    _model("9480i", ("softkey", 6), aliases=("480i",)),
)

BY_NAME = {model.spec.name: model for model in MODELS}

"""A phone's programmable keys as its model's hardware arranges them: what the admin UI
draws on a phone's page, position by position, empty positions included.

The arrangement is vendor data (how many keys each family has, in how many columns,
paged or not), so each plug-in builds a :class:`KeyLayout` from its own model tables
(:meth:`VendorPlugin.key_layout`), with the keys placed where its files put them. The
core only draws it; it never knows a vendor's family names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyFace:
    """What one key position shows."""

    type: str
    """A neutral key type (``line``, ``blf``, ``speeddial`` ...), or ``empty``."""
    label: str | None = None
    value: str | None = None
    line: int | None = None
    key: int | None = None
    """The inventory key (1-based, in the phone's effective keys) shown here; ``None``
    for a position no key fills or that a line takes by itself."""

    @property
    def empty(self) -> bool:
        return self.type == "empty"


EMPTY = KeyFace("empty")


@dataclass(frozen=True)
class KeyGroup:
    """One family of keys on the phone (or one expansion module), positions in order."""

    title: str
    """What people call them: ``Top softkeys``, ``Line keys``, ``Expansion module 1``."""
    family: str
    """The inventory's ``family`` for a key pinned here."""
    faces: tuple[KeyFace, ...]
    """Position 1, 2, ... of the family."""
    columns: int = 1
    """Columns of keys on the hardware (per page)."""
    per_page: int | None = None
    """Keys shown at once when the phone pages through them; ``None``: no pages."""
    down: bool = False
    """Numbered down each column first (the left column, then the next); else across."""
    note: str = ""

    def pages(self) -> list[tuple[int, tuple[KeyFace, ...]]]:
        """``(first position, faces)`` of each page (one page when not paged)."""
        size = self.per_page or len(self.faces) or 1
        return [
            (start + 1, self.faces[start : start + size])
            for start in range(0, max(len(self.faces), 1), size)
        ]

    @property
    def rows(self) -> int:
        """Rows of one page: what a column-first grid needs to know."""
        size = self.per_page or len(self.faces)
        return max(1, -(-size // max(1, self.columns)))


@dataclass(frozen=True)
class KeyLayout:
    """Every key family of one phone's model, with the phone's keys placed."""

    model: str
    groups: tuple[KeyGroup, ...]
    note: str = ""
    """What the layout cannot show (modules plugtone cannot see, fixed buttons)."""
    source: str = ""
    """Where the model's arrangement comes from (the vendor's document)."""


def faces_in(count: int, placed: dict[int, KeyFace]) -> tuple[KeyFace, ...]:
    """``count`` positions with ``placed`` (position -> face) filled in, the rest empty."""
    return tuple(placed.get(position, EMPTY) for position in range(1, count + 1))

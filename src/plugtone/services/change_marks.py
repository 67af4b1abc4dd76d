"""Which phones a committed change touches, marked with the generation it was made at.

The inventory generation moves with every change anywhere (render caches key on it),
so "the phone fetched its files before generation N" says nothing about one phone
unless the store also knows when *that* phone's files last changed. Each writer marks
``phones.changed_generation`` for the phones it touched, in the same transaction as
the change, and device status (:mod:`plugtone.services.status`) compares it with the
generation the device last fetched its own file at.

Which phones a kind of change reaches is the question ``plugtone check`` already
answers for apply refusals (:func:`plugtone.services.phone_checks._conditions`); it is
asked here with the same conditions, so the two cannot drift apart.

The same marks tell every process's caches which phones to drop: a writer whose
change the marks describe whole also calls :func:`record_narrow` (an apply of
phones, sites, directories, extensions and branding sets: :func:`narrow_apply`);
any other generation makes caches drop everything (:mod:`plugtone.inventory.changes`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from plugtone.inventory.changes import record_narrow
from plugtone.inventory.models import ModelProfile, Phone
from plugtone.services.phone_checks import _conditions

PHONE_KINDS = frozenset({"phone", "site", "directory", "extension", "model", "branding"})


def change_causes(changes: Iterable[object]) -> list[tuple[str, str]]:
    """``(kind, key)`` causes of an apply's changes, deletes included.

    A pin's key names its owner (``site hq (7960)``, ``model 6757i``); an extension is
    also in its site's directory, so one created, deleted or renamed touches every
    phone of the site, where a changed password touches only the phones it is on.
    """
    causes: list[tuple[str, str]] = []
    for change in changes:
        kind, key = change.kind, change.key  # type: ignore[attr-defined]
        if kind == "pin":
            owner, _, name = key.partition(" ")
            causes.append((owner, name.split(" (", 1)[0]))
            continue
        if kind not in PHONE_KINDS:
            continue
        causes.append((kind, key))
        if kind == "extension" and "/" in key and _listed_differently(change):
            causes.append(("site", key.split("/", 1)[0]))
    return causes


NARROW_KINDS = frozenset({"phone", "site", "directory", "extension", "branding"})
"""Kinds whose changes reach no cached file but those of the phones they mark (and
the non-per-phone files caches drop on every change). A model profile reaches common
and model files too; a pin, firmware targets: both are left wide."""


def narrow_apply(session: Session, generation: int, changes: Iterable[object]) -> bool:
    """Record an apply's generation as narrow when its marks describe it whole.

    Deleted phones are named (a deleted row carries no mark); deleting a site or a
    branding set is left wide, as is any kind outside :data:`NARROW_KINDS`.
    """
    gone: list[str] = []
    for change in changes:
        kind, action = change.kind, change.action  # type: ignore[attr-defined]
        if kind not in NARROW_KINDS:
            return False
        if action == "delete":
            if kind != "phone":
                if kind in ("site", "branding"):
                    return False
                continue
            gone.append(change.key)  # type: ignore[attr-defined]
    return record_narrow(session, generation, gone)


def _listed_differently(change: object) -> bool:
    before = getattr(change, "before", None) or {}
    after = getattr(change, "after", None) or {}
    if not before or not after:
        return True
    return before.get("name") != after.get("name")


def mark_causes(session: Session, generation: int, causes: Sequence[tuple[str, str]]) -> int:
    """Mark the phones ``causes`` touch as changed at ``generation``; how many."""
    if not causes:
        return 0
    return mark_where(session, generation, _conditions(session, causes))


def mark_pin_owner(session: Session, generation: int, column: str, owner_id: int) -> int:
    """Mark the phones a pin's owner governs (``column`` as in ``firmware_pins``)."""
    if column == "phone_id":
        condition = Phone.id == owner_id
    elif column == "site_id":
        condition = Phone.site_id == owner_id
    else:
        model = select(ModelProfile.model).where(ModelProfile.id == owner_id)
        condition = Phone.model.in_(model)
    return mark_where(session, generation, [condition])


def mark_where(session: Session, generation: int, conditions: list) -> int:
    """One ``UPDATE`` of every phone matching any of ``conditions``."""
    if not conditions:
        return 0
    result = session.execute(
        update(Phone)
        .where(or_(*conditions))
        .values(changed_generation=generation)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0

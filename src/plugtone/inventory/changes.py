"""What changed between two inventory generations, for caches to drop only that.

Every committed change moves the one inventory generation, and writers mark the
phones whose files it touches (``phones.changed_generation``, written in the same
transaction). A writer that knows the marks describe all its change (nothing but
those phones' files, their sites' views and deleted phones) also records the
generation in ``inventory_changes`` with the MACs it deleted (:func:`record_narrow`).
A process that saw generation G and now reads G' asks :func:`changes_since`: the
phones marked after G and the MACs deleted, or ``None`` ("drop everything") as soon as
one generation in (G, G'] has no row. Unaudited writers, rare wide changes (a model
profile, a firmware release, a deleted site) and anything the store cannot tell
therefore fall back to dropping everything: never a stale answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from plugtone.inventory.models import InventoryChange, Phone

KEEP_GENERATIONS = 10_000
"""Rows kept behind the newest: a process further behind than that drops everything."""
MAX_PHONES = 5_000
"""Changed phones past which dropping everything is cheaper than dropping each."""
MAX_GONE = 1_000
"""Deleted MACs one generation records; a larger delete is recorded as wide."""


@dataclass(frozen=True)
class Delta:
    """The phones a run of narrow generations touched."""

    changed: dict[str, int]
    """MAC -> site id of every phone marked after the generation seen."""
    gone: frozenset[str]
    """MACs deleted in between (their rows are gone, so they carry no mark)."""

    @property
    def macs(self) -> frozenset[str]:
        return frozenset(self.changed) | self.gone


def record_narrow(session: Session, generation: int, gone: Iterable[str] = ()) -> bool:
    """Say that ``generation``'s change is what its marks and ``gone`` describe.

    Call it in the change's own transaction, after marking. Also prunes rows too old
    for any process to need. Returns whether it was recorded (too many deletes: wide).
    """
    macs = sorted(set(gone))
    session.execute(
        delete(InventoryChange).where(InventoryChange.generation <= generation - KEEP_GENERATIONS)
    )
    if len(macs) > MAX_GONE:
        return False
    session.add(InventoryChange(generation=generation, gone=" ".join(macs) or None))
    session.flush()
    return True


def changes_since(session: Session, seen: int, now: int) -> Delta | None:
    """What changed in generations (``seen``, ``now``]; ``None``: assume everything."""
    if seen < 0 or now < seen or now - seen > KEEP_GENERATIONS:
        return None
    if now == seen:
        return Delta({}, frozenset())
    rows = session.execute(
        select(InventoryChange.generation, InventoryChange.gone).where(
            InventoryChange.generation > seen, InventoryChange.generation <= now
        )
    ).all()
    if len(rows) != now - seen:
        return None
    gone = frozenset(mac for _, text in rows if text for mac in text.split())
    changed = dict(
        session.execute(
            select(Phone.mac, Phone.site_id)
            .where(Phone.changed_generation > seen)
            .limit(MAX_PHONES + 1)
        ).all()
    )
    if len(changed) + len(gone) > MAX_PHONES:
        return None
    return Delta(changed, gone)

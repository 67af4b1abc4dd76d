"""Applying an inventory document to the store: plan without a lock, then write in bulk.

Each entry in the file fully describes its object (a field left out takes its
default), keyed by its natural key: site name, site/number for extensions, MAC for
phones, model name for model defaults. Objects in the store that the file does not
mention are kept, unless ``prune`` is set.

Applying is two steps, so the inventory write lock is held only while writing:

1. :func:`plan_document` reads a snapshot of what the document touches (a bounded
   number of bulk queries, see ``apply_snapshot``), checks references and line
   assignments, and computes in memory every row write and every :class:`Change`,
   each with its object's fields before and after (secrets masked). It writes
   nothing and takes no lock, so a dry run is a plan that is never written.
2. :meth:`Plan.write`, called by the caller once it holds the lock
   (:func:`~plugtone.inventory.store.lock_inventory`), refuses a plan whose
   generation has moved (:class:`StalePlan`: re-plan under the lock), executes the
   writes in bulk, settles firmware pins and bumps the generation.

:func:`apply_document` does both under the lock, for callers that need no more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from plugtone.inventory.document import Document, Problem
from plugtone.inventory.gc_pause import gc_paused
from plugtone.inventory.store import bump_generation, lock_inventory, read_generation
from plugtone.services import firmware_pins, phone_checks
from plugtone.services.apply_changes import KINDS, MASK, SECRET_FIELDS, Change
from plugtone.services.apply_checks import check_assignments, check_references
from plugtone.services.apply_planner import SITE_FIELDS, Planner
from plugtone.services.apply_rows import PinPlaces
from plugtone.services.apply_snapshot import read_snapshot
from plugtone.services.apply_writes import Ref, RowWrites
from plugtone.services.change_marks import change_causes, mark_causes, narrow_apply
from plugtone.vendors import VendorRegistry

__all__ = [
    "KINDS", "MASK", "SECRET_FIELDS", "SITE_FIELDS", "ApplyRefused", "ApplyResult", "Change",
    "Plan", "StalePlan", "apply_document", "plan_document",
]  # fmt: skip


class ApplyRefused(ValueError):
    """The document cannot be applied; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class StalePlan(RuntimeError):
    """The inventory changed between planning and writing; plan again under the lock."""

    def __init__(self, planned: int, now: int) -> None:
        super().__init__(
            f"the inventory changed since this apply was planned (generation {planned}, "
            f"now {now}); plan it again"
        )
        self.planned = planned
        self.now = now


@dataclass
class ApplyResult:
    changes: list[Change]
    generation: int | None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


@dataclass(repr=False)
class Plan:
    """What applying a document will write, computed without writing anything."""

    generation: int
    """The inventory generation the plan was computed from."""
    changes: list[Change]
    writes: RowWrites
    pin_places: PinPlaces
    registry: VendorRegistry | None = None
    places: dict[tuple[str, str], str] = field(default_factory=dict)
    """``(kind, key)`` of the document's entries to their ``file:line:col``."""

    def __repr__(self) -> str:
        return f"<Plan generation={self.generation} changes={len(self.changes)}>"

    def write(self, session: Session) -> ApplyResult:
        """Write the plan; the caller must hold the inventory write lock.

        Raises :class:`StalePlan` when another change was committed since planning
        (nothing written), :class:`ApplyRefused` when firmware pins do not settle (the
        caller rolls back).
        """
        now = read_generation(session)
        if now != self.generation:
            raise StalePlan(self.generation, now)
        if self.writes.empty:
            return ApplyResult(self.changes, None)
        ids = self.writes.execute(session)
        session.expire_all()  # ORM objects the caller holds must see the new rows
        places = {
            (column, ids[owner] if isinstance(owner, Ref) else owner, applies_to): where
            for (column, owner, applies_to), where in self.pin_places.items()
        }
        problems = [
            Problem(where, message)
            for where, message in firmware_pins.settle(session, self.registry, places)
        ]
        problems += phone_checks.refusals(session, self.registry, self.changes, self.places)
        if problems:
            raise ApplyRefused(problems)
        generation = bump_generation(session) if self.changes else None
        if generation is not None:
            mark_causes(session, generation, change_causes(self.changes))
            narrow_apply(session, generation, self.changes)
        return ApplyResult(self.changes, generation)


def plan_document(
    session: Session,
    document: Document,
    *,
    prune: bool = False,
    registry: VendorRegistry | None = None,
) -> Plan:
    """Plan making the store match ``document``; read-only, takes no lock.

    Raises :class:`ApplyRefused` when the document refers to what does not exist or
    puts an extension on two lines. ``registry`` is needed to check firmware pins
    against the plug-ins' downgrade floors (when the plan is written).
    """
    with gc_paused():
        snapshot = read_snapshot(session, document, prune)
        problems = check_references(snapshot, document, prune)
        if problems:
            raise ApplyRefused(problems)
        planner = Planner(snapshot, document, prune)
        planner.plan()
        problems = check_assignments(snapshot, document)
        if problems:
            raise ApplyRefused(problems)
    places = {("site", spec.name): spec.where for spec in document.sites}
    places.update({("phone", spec.mac): spec.where for spec in document.phones})
    places.update({("model", spec.model): spec.where for spec in document.models})
    places.update({("branding", spec.name): spec.where for spec in document.branding})
    places.update(
        {("extension", f"{spec.site}/{spec.number}"): spec.where for spec in document.extensions}
    )
    return Plan(
        snapshot.generation, planner.changes, planner.writes, planner.pin_places, registry,
        places,
    )  # fmt: skip


def apply_document(
    session: Session,
    document: Document,
    *,
    prune: bool = False,
    registry: VendorRegistry | None = None,
) -> ApplyResult:
    """Make the store match ``document``: lock, plan, write.

    The caller owns the transaction: commit to keep the result, roll back for a dry
    run. On ``ApplyRefused`` the caller must roll back.
    """
    lock_inventory(session)
    plan = plan_document(session, document, prune=prune, registry=registry)
    return plan.write(session)

"""One unit of work: the only way a change reaches the store.

A service function opens one, reads and validates without holding anything, takes
the inventory write lock only to write, bumps the generation once when the
inventory changed, and records one audit row per object it changed; then commits,
or rolls everything back on any error (a dry run rolls back on success too). The
role check sits here as well, so no face (CLI, API, UI) can forget it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from plugtone.inventory.models import AuditEntry
from plugtone.inventory.store import (
    BUSY_MESSAGE,
    Store,
    StoreBusy,
    bump_generation,
    lock_inventory,
)
from plugtone.services.actors import Actor, Role, authorize_kinds, require
from plugtone.services.errors import Busy

MASK = "********"
"""What the audit log and every face show in place of a secret."""


@dataclass(frozen=True)
class AuditRecord:
    action: str
    kind: str
    key: str
    summary: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class UnitOfWork:
    """The session of one service call, with its actor and its audit trail."""

    def __init__(self, store: Store, actor: Actor, session: Session) -> None:
        self.store = store
        self.actor = actor
        self.session = session
        self.batch = secrets.token_hex(8)
        self.records: list[AuditRecord] = []
        self.generation: int | None = None
        self.locked = False

    def authorize(self, kinds: Iterable[str]) -> None:
        authorize_kinds(self.actor, kinds)

    def require(self, role: Role, what: str) -> None:
        require(self.actor, role, what)

    def lock(self) -> None:
        """Take the inventory write lock (waits for another writer's turn)."""
        if not self.locked:
            lock_inventory(self.session)
            self.locked = True

    def bump(self) -> int:
        """Mark the inventory changed; once per unit of work."""
        if self.generation is None:
            self.lock()
            self.generation = bump_generation(self.session)
        return self.generation

    def audit(self, action: str, kind: str, key: str, summary: str | None = None,
              before: dict[str, Any] | None = None,
              after: dict[str, Any] | None = None) -> None:  # fmt: skip
        self.records.append(AuditRecord(action, kind, key, summary, before, after))

    def audit_changes(self, changes: Iterable[Any]) -> None:
        """Audit rows for an apply's changes (``action``, ``kind``, ``key``, ``details``)."""
        for change in changes:
            self.audit(
                change.action, change.kind, change.key,
                "; ".join(change.details) or None,
                getattr(change, "before", None), getattr(change, "after", None),
            )  # fmt: skip

    def _write_audit(self) -> None:
        if not self.records:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "time": now, "batch": self.batch, "actor": self.actor.name[:96],
                "via": self.actor.via, "action": record.action, "kind": record.kind,
                "key": record.key[:255], "summary": record.summary,
                "before": record.before, "after": record.after,
            }
            for record in self.records
        ]  # fmt: skip
        for start in range(0, len(rows), 5_000):
            self.session.execute(insert(AuditEntry), rows[start : start + 5_000])


@contextmanager
def unit_of_work(store: Store, actor: Actor, *, dry_run: bool = False) -> Iterator[UnitOfWork]:
    """Run one service call's changes as one transaction, audited, or not at all."""
    session = store.sessions()
    work = UnitOfWork(store, actor, session)
    try:
        yield work
        if dry_run:
            session.rollback()
        else:
            work._write_audit()
            session.commit()
    except StoreBusy as busy:
        session.rollback()
        raise Busy(str(busy)) from None
    except OperationalError as error:
        session.rollback()
        if _is_busy(error):
            raise Busy(BUSY_MESSAGE) from None
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def reading(store: Store, actor: Actor) -> Iterator[Session]:
    """A read-only session for a caller with at least the viewer role."""
    require(actor, Role.VIEWER, "reading the inventory")
    session = store.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def _is_busy(error: OperationalError) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "lock timeout" in text or "could not obtain lock" in text

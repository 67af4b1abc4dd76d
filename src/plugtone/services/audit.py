"""Reading the audit log: who changed what, when, through which face.

Newest first, a page at a time: the cursor is the id of the last row shown, so the
next page is ``id < cursor`` on the primary key, as cheap for the millionth row as
for the first, and rows written meanwhile never push a row onto two pages. Secrets
are never written to the log (the unit of work records masked fields); a secret
field found in an old row's before/after is masked on the way out all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from plugtone.inventory.document import Problem
from plugtone.inventory.models import AuditEntry
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor, Role, require
from plugtone.services.cursors import DEFAULT_LIMIT, check_limit
from plugtone.services.errors import Invalid
from plugtone.services.unit_of_work import MASK, reading

SECRET_NAMES = frozenset({"password", "ftp_password", "http_password", "token", "secret",
                          "tr069_password", "bootstrap_password"})  # fmt: skip


@dataclass(frozen=True)
class AuditRow:
    id: int
    time: datetime
    batch: str
    actor: str
    via: str
    action: str
    kind: str
    key: str
    summary: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    next: str | None
    """The id to pass as ``after`` for the next (older) page; ``None`` on the last."""


def list_audit(
    store: Store, actor: Actor, *, kind: str | None = None, key: str | None = None,
    by: str | None = None, since: datetime | None = None, until: datetime | None = None,
    after: str | None = None, limit: int = DEFAULT_LIMIT,
) -> AuditPage:  # fmt: skip
    """Audit rows newest first; ``by`` filters on the actor's name, ``since``/``until``
    on the time (``since`` inclusive, ``until`` exclusive). Admins only: the log says
    who holds which role and when tokens were made."""
    require(actor, Role.ADMIN, "reading the audit log")
    check_limit(limit)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
    if after:
        if not after.isdigit() or len(after) > 19:
            raise Invalid([Problem("after", "not a cursor this list handed out")])
        query = query.where(AuditEntry.id < int(after))
    if kind:
        query = query.where(AuditEntry.kind == kind)
    if key:
        query = query.where(AuditEntry.key == key)
    if by:
        query = query.where(AuditEntry.actor == by)
    if since:
        query = query.where(AuditEntry.time >= _utc(since))
    if until:
        query = query.where(AuditEntry.time < _utc(until))
    with reading(store, actor) as session:
        entries = list(session.scalars(query))
        more, entries = len(entries) > limit, entries[:limit]
        rows = [_row(entry) for entry in entries]
    return AuditPage(rows, str(rows[-1].id) if more else None)


def _row(entry: AuditEntry) -> AuditRow:
    return AuditRow(
        id=entry.id, time=_utc(entry.time), batch=entry.batch, actor=entry.actor,
        via=entry.via, action=entry.action, kind=entry.kind, key=entry.key,
        summary=entry.summary, before=masked(entry.before), after=masked(entry.after),
    )  # fmt: skip


def masked(value: Any) -> Any:
    """``value`` with every field named like a secret shown as :data:`MASK`."""
    if isinstance(value, dict):
        return {
            name: (MASK if name in SECRET_NAMES and item not in (None, "") else masked(item))
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def _utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which were written in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

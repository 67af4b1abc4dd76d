"""Provisioning activity for the admin UI: requests and failures by hour, and the
events logged since a given one.

Both read the event log on its indexes: the hourly counts scan the ``time`` index
over one day only (a bounded range however long the log), and the newest events are
an ``id >`` range on the primary key, which a live view polls every second or so
without ever rereading what it has shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, case, cast, func, select

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, normalize_mac
from plugtone.services.actors import Actor
from plugtone.services.devices import EventInfo
from plugtone.services.errors import Invalid
from plugtone.services.unit_of_work import reading

HOURS = 24
NEWEST_MAX = 200
"""The most events :func:`events_since` hands back at once (a live view's tick)."""


@dataclass(frozen=True)
class HourCount:
    start: datetime
    """The hour's beginning (UTC)."""
    requests: int
    failures: int
    """Requests not answered ``ok`` (not found, bad path, ...)."""


def hourly_activity(store: Store, actor: Actor, now: datetime | None = None) -> list[HourCount]:
    """Requests and failures in each of the last :data:`HOURS` hours, oldest first
    (the current, partial hour last); hours with no request are zeros."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    last = now.replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=HOURS - 1)
    with reading(store, actor) as session:
        if store.dialect == "postgresql":
            hour = func.floor(func.extract("epoch", ProvisioningEvent.time) / 3600)
        else:  # SQLite keeps the time as text: strftime('%s') reads it as UTC
            hour = cast(func.strftime("%s", ProvisioningEvent.time), Integer) // 3600
        failed = case((ProvisioningEvent.status != "ok", 1), else_=0)
        rows = session.execute(
            select(hour, func.count(), func.sum(failed))
            .where(ProvisioningEvent.time >= first)
            .group_by(hour)
        ).all()
    counts = {int(bucket): (int(total), int(bad or 0)) for bucket, total, bad in rows}
    result = []
    for step in range(HOURS):
        start = first + timedelta(hours=step)
        total, bad = counts.get(int(start.timestamp()) // 3600, (0, 0))
        result.append(HourCount(start, total, bad))
    return result


def latest_event_id(store: Store, actor: Actor) -> int:
    """The id of the newest event (0 for an empty log): where a live view starts."""
    with reading(store, actor) as session:
        return session.scalar(select(func.max(ProvisioningEvent.id))) or 0


def events_since(
    store: Store, actor: Actor, after: int, *, mac: str | None = None, limit: int = NEWEST_MAX
) -> list[EventInfo]:
    """Events with an id above ``after``, oldest first, at most ``limit`` (one device's
    when ``mac`` is given): what a live view has not shown yet."""
    if not 1 <= limit <= NEWEST_MAX:
        raise Invalid([], f"limit is 1 to {NEWEST_MAX}")
    query = select(ProvisioningEvent).where(ProvisioningEvent.id > after)
    if mac is not None:
        try:
            query = query.where(ProvisioningEvent.mac == normalize_mac(mac))
        except MacError as error:
            raise Invalid([], str(error)) from None
    with reading(store, actor) as session:
        rows = session.scalars(query.order_by(ProvisioningEvent.id).limit(limit))
        return [
            EventInfo(
                id=row.id, time=_utc(row.time), transport=row.transport,
                client_address=row.client_address, path=row.path, mac=row.mac,
                vendor=row.vendor, status=row.status, bytes=row.bytes or 0,
                user_agent=row.user_agent, detail=row.detail, trust=row.trust,
                secrets=bool(row.secrets),
            )
            for row in rows
        ]  # fmt: skip


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

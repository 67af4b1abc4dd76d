"""Device status: which phones hold their current files, which are stale or failing.

Decided from two tables and no event scan, so it costs the same with a month of log
as with none and survives the log's pruning:

- ``phones.changed_generation``: the generation at which the phone's own files last
  changed, marked by every writer in the change's transaction
  (:mod:`plugtone.services.change_marks`);
- ``device_states``: kept from the event batches, with ``files_generation`` (the
  generation its own file was last served at) and its last boot's error count.

A phone is, in this order of precedence:

``never_seen``
    no request from it was ever recorded;
``failing``
    a request of its last boot failed (its own file not found, a transfer broken off):
    a boot that went wrong needs a look even when its files are current;
``stale``
    it has not fetched its own file since it last changed (or never fetched it);
``up_to_date``
    otherwise.

``unassigned`` devices asked for files but are no phone of the inventory.

Lists are keyset-paged on the MAC, so the attention list of a 100,000-phone fleet is
read a page at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from plugtone.inventory.document import Problem
from plugtone.inventory.models import DeviceFirmware, DeviceState, Phone, Site
from plugtone.inventory.store import Store, read_generation
from plugtone.services.actors import Actor
from plugtone.services.cursors import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.unit_of_work import reading

NEVER_SEEN = "never_seen"
UP_TO_DATE = "up_to_date"
STALE = "stale"
FAILING = "failing"
UNASSIGNED = "unassigned"
STATES = (UP_TO_DATE, STALE, FAILING, NEVER_SEEN, UNASSIGNED)
ATTENTION = (FAILING, STALE, NEVER_SEEN)
"""The states ``plugtone status`` lists by default: someone should look at these."""


@dataclass(frozen=True)
class DeviceStatus:
    """One phone (or unassigned device) as the status list shows it."""

    mac: str
    state: str
    site: str | None
    model: str | None
    vendor: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    last_address: str | None
    user_agent: str | None
    firmware: str | None
    """The running firmware: as the firmware state knows it, else as last reported."""
    files_generation: int | None
    """The generation of the newest own file it fetched."""
    changed_generation: int | None
    """The generation its own files last changed at (``None``: not since tracking)."""
    boot_started: datetime | None
    boot_errors: int
    last_error: str | None
    last_error_at: datetime | None


@dataclass(frozen=True)
class StatusSummary:
    counts: dict[str, int]
    """Every state of :data:`STATES`, zero included."""
    generation: int
    """The inventory generation now."""

    @property
    def phones(self) -> int:
        return sum(count for state, count in self.counts.items() if state != UNASSIGNED)


@dataclass(frozen=True)
class StatusPage:
    items: list[DeviceStatus]
    next: str | None
    """The cursor of the next page; ``None`` on the last."""


def _state():
    """The state of a ``phones LEFT JOIN device_states`` row, as one SQL expression."""
    changed = func.coalesce(Phone.changed_generation, 0)
    return case(
        (DeviceState.mac.is_(None), literal(NEVER_SEEN)),
        (DeviceState.boot_errors > 0, literal(FAILING)),
        (
            DeviceState.files_generation.is_(None) | (DeviceState.files_generation < changed),
            literal(STALE),
        ),
        else_=literal(UP_TO_DATE),
    )


def _site_id(session: Session, site: str | None) -> int | None:
    if site is None:
        return None
    found = session.scalar(select(Site.id).where(Site.name == site))
    if found is None:
        raise NotFound(f"no site {site}")
    return found


def _unassigned():
    return (
        select(DeviceState.mac)
        .outerjoin(Phone, Phone.mac == DeviceState.mac)
        .where(Phone.id.is_(None))
    )


def summarize(session: Session, site: str | None = None) -> StatusSummary:
    """Counts by state (unassigned devices belong to no site: not counted for one)."""
    site_id = _site_id(session, site)
    state = _state()
    query = (
        select(state, func.count())
        .select_from(Phone)
        .outerjoin(DeviceState, DeviceState.mac == Phone.mac)
    )
    if site_id is not None:
        query = query.where(Phone.site_id == site_id)
    counts = dict.fromkeys(STATES, 0)
    for name, count in session.execute(query.group_by(state)):
        counts[name] = count
    if site_id is None:
        counts[UNASSIGNED] = session.scalar(
            select(func.count()).select_from(_unassigned().subquery())
        )
    return StatusSummary(counts, read_generation(session))


def _columns(state):
    return (
        Phone.mac, state, Site.name, Phone.model, Phone.vendor, DeviceState.first_seen,
        DeviceState.last_seen, DeviceState.last_address, DeviceState.last_user_agent,
        func.coalesce(DeviceFirmware.running_version, DeviceState.firmware_version),
        DeviceState.files_generation, Phone.changed_generation, DeviceState.boot_started,
        func.coalesce(DeviceState.boot_errors, 0), DeviceState.last_error,
        DeviceState.last_error_at,
    )  # fmt: skip


def _phones(session: Session, states: set[str], site_id: int | None, after: str | None,
            limit: int) -> list[DeviceStatus]:  # fmt: skip
    state = _state()
    query = (
        select(*_columns(state))
        .select_from(Phone)
        .join(Site, Site.id == Phone.site_id)
        .outerjoin(DeviceState, DeviceState.mac == Phone.mac)
        .outerjoin(DeviceFirmware, DeviceFirmware.mac == Phone.mac)
        .order_by(Phone.mac)
        .limit(limit)
    )
    if states != set(STATES) - {UNASSIGNED}:
        query = query.where(state.in_(sorted(states)))
    if site_id is not None:
        query = query.where(Phone.site_id == site_id)
    if after is not None:
        query = query.where(Phone.mac > after)
    return [DeviceStatus(*row) for row in session.execute(query)]


def _strangers(session: Session, after: str | None, limit: int) -> list[DeviceStatus]:
    columns = (
        DeviceState.mac, literal(UNASSIGNED), literal(None), DeviceState.model,
        DeviceState.vendor, DeviceState.first_seen, DeviceState.last_seen,
        DeviceState.last_address, DeviceState.last_user_agent,
        func.coalesce(DeviceFirmware.running_version, DeviceState.firmware_version),
        DeviceState.files_generation, literal(None), DeviceState.boot_started,
        DeviceState.boot_errors, DeviceState.last_error, DeviceState.last_error_at,
    )  # fmt: skip
    query = (
        select(*columns)
        .outerjoin(Phone, Phone.mac == DeviceState.mac)
        .outerjoin(DeviceFirmware, DeviceFirmware.mac == DeviceState.mac)
        .where(and_(Phone.id.is_(None), *([DeviceState.mac > after] if after else [])))
        .order_by(DeviceState.mac)
        .limit(limit)
    )
    return [DeviceStatus(*row) for row in session.execute(query)]


def list_status(
    session: Session,
    states: Iterable[str] | None = None,
    *,
    site: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> StatusPage:
    """Phones (and unassigned devices) in ``states`` (default :data:`ATTENTION`), by MAC."""
    check_limit(limit)
    wanted = set(ATTENTION if states is None else states)
    unknown = sorted(wanted - set(STATES))
    if unknown or not wanted:
        raise Invalid([Problem("state", f"states are {', '.join(STATES)}")])
    cursor = decode_cursor(after, str)
    start = cursor[0] if cursor else None
    site_id = _site_id(session, site)
    items: list[DeviceStatus] = []
    phone_states = wanted - {UNASSIGNED}
    if phone_states:
        items += _phones(session, phone_states, site_id, start, limit + 1)
    if UNASSIGNED in wanted and site_id is None:
        items += _strangers(session, start, limit + 1)
        items.sort(key=lambda item: item.mac)
    more = len(items) > limit
    items = items[:limit]
    return StatusPage(items, encode_cursor(items[-1].mac) if more else None)


def status_summary(store: Store, actor: Actor, site: str | None = None) -> StatusSummary:
    """:func:`summarize` for a caller with at least the viewer role."""
    with reading(store, actor) as session:
        return summarize(session, site)


def phone_status(
    store: Store,
    actor: Actor,
    states: Sequence[str] | None = None,
    *,
    site: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> StatusPage:
    """:func:`list_status` for a caller with at least the viewer role."""
    with reading(store, actor) as session:
        return list_status(session, states, site=site, after=after, limit=limit)

"""The phones list as an admin browses it: searched, filtered, sorted by any column,
keyset-paged in every order, each page a short index read at 100,000 phones.

An order is a chain of *segments*, each one index range walked in order:

- by MAC, model or site: one segment ``(key, mac)`` (indexes ``phones.mac``,
  ``ix_phones_model_mac``, and the sites' names joined to ``ix_phones_site_mac``);
- by name (the phone's description) or last contact: the phones that have one, by
  ``(key, mac)`` (``ix_phones_description_mac``, ``ix_device_states_last_seen_mac``),
  then those without (never seen, no description), by MAC: empty keys come last in
  both directions, on SQLite (which sorts NULL first) and PostgreSQL (last) alike;
- by state: one segment ``(rank, mac)``, the rank the state's place in
  :data:`STATE_ORDER`: a top-N sort of the filtered phones (the state is computed, so
  no index holds it).

The cursor names the order, the segment and the last row's key and MAC, so the next
page resumes inside that segment, and a cursor of another order is refused. The state
is the status service's own expression (:mod:`plugtone.services.status`): the list
and the status pages never disagree on a phone.

Search (``q``) is one condition of three, each read once rather than per row: a MAC
prefix in any notation (an index range on ``phones.mac``), an extension number (the
phones on lines of extensions with that number, by ``ix_extensions_number``), a piece
of the description (case-insensitive).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, tuple_

from plugtone.inventory.document import Problem
from plugtone.inventory.models import DeviceState, Extension, LineAssignment, Phone, Site
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor
from plugtone.services.cursors import check_limit, decode_cursor, encode_cursor
from plugtone.services.errors import Invalid
from plugtone.services.status import FAILING, NEVER_SEEN, STALE, UP_TO_DATE
from plugtone.services.status import _state as state_expression
from plugtone.services.unit_of_work import reading
from plugtone.vendors import UnknownModel, default_registry

SORTS = ("mac", "name", "site", "model", "state", "seen")
"""The columns the list sorts by: ``name`` is the description, ``seen`` the last contact."""
STATE_ORDER = (FAILING, STALE, NEVER_SEEN, UP_TO_DATE)
"""Sorted by state, the phones needing a look come first."""
PHONE_STATES = frozenset(STATE_ORDER)

_SEPARATORS = re.compile(r"[\s:.\-]")
_HEX = re.compile(r"^[0-9A-F]{1,12}$")


@dataclass(frozen=True)
class PhoneRow:
    """One phone as the list shows it."""

    mac: str
    state: str
    model: str
    vendor: str
    site: str
    description: str | None
    lines: tuple[str, ...]
    """Its lines' extension numbers, line 1 first."""
    last_seen: datetime | None


@dataclass(frozen=True)
class PhoneRows:
    items: tuple[PhoneRow, ...]
    next: str | None
    """Pass as ``after`` (with the same sort) for the next page; ``None`` on the last."""


def search_condition(text: str) -> ColumnElement[bool]:
    """Phones matching ``text``: a MAC prefix in any notation (``00:08:5d``,
    ``0008.5D``), an extension number on one of their lines, or a piece of their
    description. The extension lookup is an uncorrelated ``IN`` (read once, by the
    number's index), not a subquery per phone."""
    on_line = (
        select(LineAssignment.phone_id)
        .join(Extension, Extension.id == LineAssignment.extension_id)
        .where(Extension.number == text)
    )
    conditions: list[ColumnElement[bool]] = [
        Phone.id.in_(on_line),
        func.lower(Phone.description).contains(text.lower(), autoescape=True),
    ]
    prefix = _SEPARATORS.sub("", text).upper()
    if _HEX.match(prefix):  # MACs are stored as 12 upper-case hex digits: a range
        conditions.append(and_(Phone.mac >= prefix, Phone.mac <= prefix.ljust(12, "F")))
    return or_(*conditions)


@dataclass(frozen=True)
class _Segment:
    where: ColumnElement[bool] | None
    key: Any  # the sort column of the segment, or None (by MAC alone)
    tie: Any  # the MAC column the segment's index ends with


def _segments(sort: str, descending: bool) -> list[_Segment]:
    if sort == "mac":
        return [_Segment(None, None, Phone.mac)]
    if sort == "model":
        return [_Segment(None, Phone.model, Phone.mac)]
    if sort == "site":
        return [_Segment(None, Site.name, Phone.mac)]
    if sort == "name":
        return [_Segment(Phone.description.is_not(None), Phone.description, Phone.mac),
                _Segment(Phone.description.is_(None), None, Phone.mac)]  # fmt: skip
    if sort == "seen":
        return [_Segment(DeviceState.last_seen.is_not(None), DeviceState.last_seen,
                         DeviceState.mac),
                _Segment(DeviceState.mac.is_(None), None, Phone.mac)]  # fmt: skip
    return [_Segment(None, _state_rank(), Phone.mac)]


def _state_rank() -> ColumnElement[int]:
    """The state's place in :data:`STATE_ORDER`. One sorted read of the filtered phones
    (a top-N sort, not a walk per state: a rare state would cost a whole scan each)."""
    return case({name: rank for rank, name in enumerate(STATE_ORDER)},
                value=state_expression(), else_=len(STATE_ORDER))  # fmt: skip


def _cursor(after: str | None, sort: str, descending: bool) -> tuple[int, Any, str] | None:
    """``(segment, key, mac)`` where the last page ended, from its opaque cursor."""
    if after is None or after == "":
        return None
    refused = Invalid([Problem("after", "not a cursor this list handed out")])
    found = decode_cursor(after, str, int, int, str, str)
    if found is None:
        return None
    order, down, segment, key, mac = found
    if order != sort or bool(down) != descending or not re.fullmatch(r"[0-9A-F]{12}", mac):
        raise refused
    if not 0 <= segment < len(_segments(sort, descending)):
        raise refused
    value: Any = key
    try:
        if sort == "seen" and segment == 0:
            value = datetime.fromisoformat(key)
        elif sort == "state":
            value = int(key)
    except ValueError:
        raise refused from None
    return segment, value, mac


def _key_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


def _base(
    site: str | None, model: str | None, vendor: str | None, q: str | None,
    states: Sequence[str],
) -> Select:  # fmt: skip
    state = state_expression()
    query = (
        select(Phone.id, Phone.mac, state, Phone.model, Phone.vendor, Site.name,
               Phone.description, DeviceState.last_seen)
        .join(Site, Site.id == Phone.site_id)
        .outerjoin(DeviceState, DeviceState.mac == Phone.mac)
    )  # fmt: skip
    if site is not None:
        query = query.where(Site.name == site)
    if model is not None:
        query = query.where(Phone.model == _canonical_model(model))
    if vendor is not None:
        query = query.where(Phone.vendor == vendor)
    if q is not None and q.strip():
        query = query.where(search_condition(q.strip()))
    if states:
        query = query.where(state.in_(sorted(states)))
    return query


def _canonical_model(name: str) -> str:
    """The inventory's name for a model (``ip335`` -> ``IP335``), so the filter is an
    index range; a name no plug-in knows is kept and matches nothing."""
    try:
        return default_registry().resolve_model(name)[1]
    except UnknownModel:
        return name


def browse_phones(
    store: Store,
    actor: Actor,
    *,
    site: str | None = None,
    model: str | None = None,
    vendor: str | None = None,
    q: str | None = None,
    states: Sequence[str] = (),
    sort: str = "mac",
    descending: bool = False,
    after: str | None = None,
    limit: int = 50,
) -> PhoneRows:
    """A page of inventory phones in the order ``sort`` (one of :data:`SORTS`),
    ``descending`` or not, after the cursor ``after``; filters combine (``model`` is
    the inventory's name, ``states`` any of :data:`STATE_ORDER`)."""
    check_limit(limit)
    if sort not in SORTS:
        raise Invalid([Problem("sort", f"sorts are {', '.join(SORTS)}")])
    unknown = sorted(set(states) - PHONE_STATES)
    if unknown:
        raise Invalid([Problem("state", f"states are {', '.join(STATE_ORDER)}")])
    cursor = _cursor(after, sort, descending)
    base = _base(site, model, vendor, q, states)
    segments = _segments(sort, descending)
    start = cursor[0] if cursor else 0
    rows: list[tuple[int, Any]] = []  # (segment, row)
    with reading(store, actor) as session:
        for index in range(start, len(segments)):
            segment = segments[index]
            query = base if segment.where is None else base.where(segment.where)
            columns = [segment.tie] if segment.key is None else [segment.key, segment.tie]
            if cursor and index == start:
                _, key, mac = cursor
                last = mac if segment.key is None else (key, mac)
                mark = columns[0] if segment.key is None else tuple_(*columns)
                bound = last if segment.key is None else tuple_(*(literal(v) for v in last))
                query = query.where(mark < bound if descending else mark > bound)
            order = [column.desc() if descending else column.asc() for column in columns]
            wanted = limit + 1 - len(rows)
            found = session.execute(query.order_by(*order).limit(wanted)).all()
            rows += [(index, row) for row in found]
            if len(rows) > limit:
                break
        more = len(rows) > limit
        rows = rows[:limit]
        lines = _lines(session, [row.id for _, row in rows])
    items = tuple(
        PhoneRow(
            mac=row.mac,
            state=row[2],
            model=row.model,
            vendor=row.vendor,
            site=row.name,
            description=row.description,
            lines=tuple(lines.get(row.id, ())),
            last_seen=_utc(row.last_seen),
        )
        for _, row in rows
    )
    if not more:
        return PhoneRows(items, None)
    index, last = rows[-1]
    keys = {"name": last.description, "site": last.name, "model": last.model,
            "seen": last.last_seen, "state": STATE_ORDER.index(last[2])}  # fmt: skip
    key = keys.get(sort) if segments[index].key is not None else None
    return PhoneRows(items, encode_cursor(sort, int(descending), index, _key_text(key), last.mac))


def _lines(session, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if ids:
        for phone_id, number in session.execute(
            select(LineAssignment.phone_id, Extension.number)
            .join(Extension, Extension.id == LineAssignment.extension_id)
            .where(LineAssignment.phone_id.in_(ids))
            .order_by(LineAssignment.phone_id, LineAssignment.index)
        ):
            found[phone_id].append(number)
    return found


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""The phones list as an admin browses it: searched, filtered, sorted by any column,
keyset-paged in every order, each page a short index read at 100,000 phones.

An order is a chain of *segments*, each one index range walked in order:

- by MAC, model or site: one segment ``(key, mac)`` (indexes ``phones.mac``,
  ``ix_phones_model_mac``, and the sites' names joined to ``ix_phones_site_mac``);
- by name (the phone's description) or last contact: the phones that have one, by
  ``(key, mac)`` (``ix_phones_description_mac``, ``ix_device_states_last_seen_mac``),
  then those without (never seen, no description), by MAC: empty keys come last in
  both directions, on SQLite (which sorts NULL first) and PostgreSQL (last) alike;
- by state: one segment per state in the order of :data:`STATE_ORDER` (reversed when
  descending), each the phones in that state by MAC, a walk of the MAC index checking
  a column or two per phone (16 ms for a rare state of 100,000 phones); with a search,
  which reads every phone anyway, one segment ``(rank, mac)``: a top-N sort of the
  matches (the state is computed, so no index holds it).

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

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
)

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
_MAC_WRITTEN = re.compile(
    r"^\s*(?:[0-9a-f]{2}(?:[:-][0-9a-f]{1,2})+[:-]?|[0-9a-f]{4}(?:\.[0-9a-f]{1,4})+\.?)\s*$",
    re.IGNORECASE,
)
"""``00:08:5d:00``, ``00-08-5D``, ``0008.5d00.12``: written as a MAC, not a number."""


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


def search_condition(text: str, dialect: str | None = None) -> ColumnElement[bool]:
    """Phones matching ``text``: a MAC prefix in any notation (``00:08:5d``,
    ``0008.5D``), an extension number on one of their lines, or a piece of their
    description. The extension lookup is an uncorrelated ``IN`` (read once, by the
    number's index), not a subquery per phone. Text written as a MAC is (pairs of hex
    digits joined by ``:`` or ``-``, groups of four joined by ``.``) searches MACs
    only, an index range; digits alone may be an extension or a name as well.

    On SQLite (``dialect``), ``LIKE`` is case-insensitive already (ASCII, as its
    ``lower()`` is): a third of the scan's cost goes with the ``lower()`` calls."""
    prefix = _SEPARATORS.sub("", text).upper()
    mac_range = None
    if _HEX.match(prefix):  # MACs are stored as 12 upper-case hex digits: a range
        mac_range = and_(Phone.mac >= prefix, Phone.mac <= prefix.ljust(12, "F"))
        if _MAC_WRITTEN.match(text):
            return mac_range
    on_line = (
        select(LineAssignment.phone_id)
        .join(Extension, Extension.id == LineAssignment.extension_id)
        .where(Extension.number == text)
    )
    if dialect == "sqlite":
        named = Phone.description.contains(text, autoescape=True)
    else:
        named = func.lower(Phone.description).contains(text.lower(), autoescape=True)
    conditions: list[ColumnElement[bool]] = [Phone.id.in_(on_line), named]
    if mac_range is not None:
        conditions.append(mac_range)
    return or_(*conditions)


@dataclass(frozen=True)
class _Segment:
    where: ColumnElement[bool] | None
    key: Any  # the sort column of the segment, or None (by MAC alone)
    tie: Any  # the MAC column the segment's index ends with


def _segments(sort: str, descending: bool, searched: bool, states: Sequence[str]) -> list[_Segment]:
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
    if searched:  # a search scans every phone anyway: one top-N sort of the matches
        return [_Segment(None, _state_rank(), Phone.mac)]
    order = [name for name in STATE_ORDER if not states or name in states]
    if descending:
        order.reverse()
    return [_Segment(_in_state(name), None, Phone.mac) for name in order]


def _state_rank() -> ColumnElement[int]:
    """The state's place in :data:`STATE_ORDER`. One sorted read of the filtered phones
    (a top-N sort, not a walk per state: a rare state would cost a whole scan each)."""
    return case({name: rank for rank, name in enumerate(STATE_ORDER)},
                value=state_expression(), else_=len(STATE_ORDER))  # fmt: skip


def _cursor(after: str | None, sort: str, descending: bool,
            segments: list[_Segment]) -> tuple[int, Any, str] | None:  # fmt: skip
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
    if not 0 <= segment < len(segments):
        raise refused
    value: Any = key
    try:
        if segments[segment].key is None:
            value = None
        elif sort == "seen":
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


def _filters(
    site: str | None, model: str | None, vendor: str | None, q: str | None,
    states: Sequence[str], dialect: str,
) -> list[ColumnElement[bool]]:  # fmt: skip
    found: list[ColumnElement[bool]] = []
    if site is not None:  # by the site's id: a range of ix_phones_site_mac
        found.append(Phone.site_id == select(Site.id).where(Site.name == site).scalar_subquery())
    if model is not None:
        found.append(Phone.model == _canonical_model(model))
    if vendor is not None:
        found.append(Phone.vendor == vendor)
    if q is not None and q.strip():
        found.append(search_condition(q.strip(), dialect))
    if states:
        found.append(or_(*(_in_state(name) for name in sorted(states))))
    return found


def _in_state(name: str) -> ColumnElement[bool]:
    """The status service's state (``status._state``, a ``CASE`` in precedence order)
    as a plain condition per state: a scan for a rare state checks a column or two per
    phone instead of the whole ``CASE`` (40 ms of 100,000 phones become 16)."""
    fine = func.coalesce(DeviceState.boot_errors, 0) <= 0
    changed = func.coalesce(Phone.changed_generation, 0)
    fetched = DeviceState.files_generation
    return {
        NEVER_SEEN: DeviceState.mac.is_(None),
        FAILING: DeviceState.boot_errors > 0,
        STALE: and_(DeviceState.mac.is_not(None), fine,
                    or_(fetched.is_(None), fetched < changed)),
        UP_TO_DATE: and_(DeviceState.mac.is_not(None), fine, fetched.is_not(None),
                         fetched >= changed),
    }[name]  # fmt: skip


def _base(filters: list[ColumnElement[bool]]) -> Select:
    return (
        select(Phone.id, Phone.mac, state_expression(), Phone.model, Phone.vendor, Site.name,
               Phone.description, DeviceState.last_seen)
        .join(Site, Site.id == Phone.site_id)
        .outerjoin(DeviceState, DeviceState.mac == Phone.mac)
        .where(*filters)
    )  # fmt: skip


def _by_contact(session, base: Select, filters: list[ColumnElement[bool]], bound, descending: bool,
                wanted: int) -> list:  # fmt: skip
    """The seen phones by last contact: a walk of ``ix_device_states_last_seen_mac``
    with the filters checked per device (a correlated ``EXISTS``), then their rows. As
    one join, SQLite without statistics scans every phone and sorts them instead. Not
    for a search or a site, which few phones match: the walk would pass every device,
    where the join reads the few and sorts them."""
    phone = select(Phone.id).join(Site, Site.id == Phone.site_id)
    query = select(DeviceState.mac).where(
        DeviceState.last_seen.is_not(None),
        exists(phone.where(Phone.mac == DeviceState.mac, *filters)),
    )
    columns = [DeviceState.last_seen, DeviceState.mac]
    if bound is not None:
        mark, last = tuple_(*columns), tuple_(*(literal(value) for value in bound))
        query = query.where(mark < last if descending else mark > last)
    order = [column.desc() if descending else column.asc() for column in columns]
    macs = list(session.scalars(query.order_by(*order).limit(wanted)))
    rows = {row.mac: row for row in session.execute(base.where(Phone.mac.in_(macs)))}
    return [rows[mac] for mac in macs]


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
    searched = q is not None and bool(q.strip())
    segments = _segments(sort, descending, searched, states)
    cursor = _cursor(after, sort, descending, segments)
    filters = _filters(site, model, vendor, q, states, store.engine.dialect.name)
    base = _base(filters)
    start = cursor[0] if cursor else 0
    rows: list[tuple[int, Any]] = []  # (segment, row)
    with reading(store, actor) as session:
        for index in range(start, len(segments)):
            segment = segments[index]
            wanted = limit + 1 - len(rows)
            if sort == "seen" and index == 0 and not (searched or site is not None):
                bound = cursor[1:] if cursor and index == start else None
                found = _by_contact(session, base, filters, bound, descending, wanted)
                rows += [(index, row) for row in found]
                if len(rows) > limit:
                    break
                continue
            query = base if segment.where is None else base.where(segment.where)
            columns = [segment.tie] if segment.key is None else [segment.key, segment.tie]
            if cursor and index == start:
                _, key, mac = cursor
                last = mac if segment.key is None else (key, mac)
                mark = columns[0] if segment.key is None else tuple_(*columns)
                bound = last if segment.key is None else tuple_(*(literal(v) for v in last))
                query = query.where(mark < bound if descending else mark > bound)
            order = [column.desc() if descending else column.asc() for column in columns]
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

"""An account's phones a page at a time, and edits of every phone a filter matches.

A service provider holds tens of thousands of MACs: the Phones page and
``GET /api/rcs/phones`` walk them by MAC with a keyset cursor (the last MAC of a page,
opaque, :mod:`plugtone.services.cursors`), so a deep page costs what the first does.
Each filter is a range of an index of migration 0016: a partial MAC in any notation
(``00:08:5d``, ``00-08-5D``, ``0008.5d``) is the range of MACs it starts, within the
account (``ix_rcs_phones_account_mac``); a server, or none (*unaffiliated*), a range of
``ix_rcs_phones_account_server_mac``. Another account's MACs are never in the range.

:func:`edit_matching` applies one assignment (or a deletion) to every phone of a filter,
every page, in one transaction of set-based statements, with an audit row per MAC that
changed: "all unaffiliated phones" is all of them, not the page shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    String,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.sql import ColumnElement

from plugtone.inventory.document import Problem
from plugtone.inventory.store import Store
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.models import RcsAudit, RcsBranding, RcsPhone, RcsServer
from plugtone.redirect.work import RcsWork, rcs_reading, rcs_work
from plugtone.services.cursors import check_limit, decode_cursor, encode_cursor
from plugtone.services.errors import Invalid

UNAFFILIATED = "none"
"""The server filter for phones with no server (a server cannot be named so)."""
_SEPARATORS = re.compile(r"[\s:.\-]")
_HEX = re.compile(r"^[0-9A-F]{1,12}$")
_CURSOR_MAC = re.compile(r"^[0-9A-F]{12}$")


@dataclass(frozen=True)
class PhonePage:
    items: tuple[rcs.PhoneView, ...]
    next: str | None
    """Pass as ``after`` (with the same filters) for the next page; ``None`` on the last."""
    total: int
    """How many phones the filters match, on every page."""


@dataclass(frozen=True)
class EditResult:
    matched: int
    """Phones the filters matched."""
    changed: int
    """Of which were changed (or deleted); the others already had the assignment."""


def mac_range(text: str) -> tuple[str, str]:
    """The MACs a partial MAC starts, as an inclusive ``(low, high)`` pair of stored
    MACs (12 upper-case hex digits): ``00:08:5d`` -> ``00085D000000``..``00085DFFFFFF``."""
    prefix = _SEPARATORS.sub("", text or "").upper()
    if not _HEX.match(prefix):
        raise Invalid(
            [
                Problem(
                    "q", "search by MAC: hex digits, whole or the start of one, ':' '-' '.' allowed"
                )
            ],
            f"{text!r} is not a MAC nor the start of one (hex digits, optionally "
            "separated by ':', '-' or '.')",
        )
    return prefix.ljust(12, "0"), prefix.ljust(12, "F")


def _after(text: str | None) -> str | None:
    found = decode_cursor(text, str)
    if found is None:
        return None
    if not _CURSOR_MAC.match(found[0]):
        raise Invalid([Problem("after", "not a cursor this list handed out")])
    return found[0]


def _filters(work: RcsWork, q: str | None, server: str | None) -> list[ColumnElement[bool]]:
    """The account, and the search and server filters, as index ranges."""
    where: list[ColumnElement[bool]] = [RcsPhone.account_id == work.account.id]
    if server is not None and server.strip():
        if server.strip().lower() == UNAFFILIATED:
            where.append(RcsPhone.server_id.is_(None))
        else:
            where.append(RcsPhone.server_id == rcs._server(work, server).id)
    if q is not None and q.strip():
        low, high = mac_range(q)
        where.append(RcsPhone.mac.between(low, high))
    return where


def browse_phones(
    store: Store,
    actor: RcsActor,
    account: str | None = None,
    *,
    q: str | None = None,
    server: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> PhonePage:
    """The account's phones by MAC, ``limit`` at a time after the cursor ``after``:
    ``q`` a partial MAC in any notation, ``server`` a server's name or ``"none"``
    (unaffiliated). An unknown server is "not found", as in every other call."""
    check_limit(limit)
    cursor = _after(after)
    with rcs_reading(store, actor, account) as work:
        where = _filters(work, q, server)
        total = work.session.scalar(select(func.count()).select_from(RcsPhone).where(*where))
        query = (
            select(RcsPhone, RcsServer.name, RcsBranding.name)
            .outerjoin(RcsServer, RcsServer.id == RcsPhone.server_id)
            .outerjoin(RcsBranding, RcsBranding.id == RcsPhone.branding_id)
            .where(*where)
            .order_by(RcsPhone.mac)
            .limit(limit + 1)
        )
        if cursor is not None:
            query = query.where(RcsPhone.mac > cursor)
        rows = work.session.execute(query).all()
        items = tuple(
            rcs.PhoneView(
                phone.mac,
                server_name,
                phone.firmware,
                branding,
                rcs._aware(phone.last_contact),
                rcs._aware(phone.redirected_at),
            )
            for phone, server_name, branding in rows[:limit]
        )
    more = len(rows) > limit
    return PhonePage(items, encode_cursor(items[-1].mac) if more else None, int(total or 0))


def edit_matching(
    store: Store,
    actor: RcsActor,
    account: str | None = None,
    *,
    q: str | None = None,
    server: str | None = None,
    assignment: rcs.Assignment | None = None,
    remove: bool = False,
) -> EditResult:
    """Give every phone the filters match ``assignment`` (``None`` fields left as they
    are, ``""`` cleared), or delete them all with ``remove``: one transaction, whatever
    their number, an audit row per MAC changed. A server, branding or firmware that is
    not the account's (or not stored) is refused and nothing changes."""
    now = datetime.now(UTC)
    with rcs_work(store, actor, account) as work:
        where = _filters(work, q, server)
        session = work.session
        matched = int(session.scalar(select(func.count()).select_from(RcsPhone).where(*where)) or 0)
        if remove:
            _audit_rows(work, where, literal("delete"), None, now)
            session.execute(
                delete(RcsPhone).where(*where).execution_options(synchronize_session=False)
            )
            return EditResult(matched, matched)
        wanted = assignment or rcs.Assignment()
        servers, brandings = rcs._names(work)
        server_id = rcs._pick(servers, wanted.server, "server")
        branding_id = rcs._pick(brandings, wanted.branding, "branding")
        firmware = rcs._firmware(wanted.firmware, rcs._versions(work))
        values: dict[str, object] = {}
        if server_id is not False:
            values["server_id"] = server_id
        if branding_id is not False:
            values["branding_id"] = branding_id
        if firmware is not None:
            values["firmware"] = firmware or None
        if not values:
            return EditResult(matched, 0)
        columns = {name: getattr(RcsPhone, name) for name in values}
        differs = or_(*(columns[name].is_distinct_from(value) for name, value in values.items()))
        changing = [*where, differs]
        action = (
            case((RcsPhone.server_id.is_distinct_from(server_id), "move"), else_="update")
            if "server_id" in values
            else literal("update")
        )
        _audit_rows(work, changing, action, _describe(wanted), now)
        changed = session.execute(
            update(RcsPhone)
            .where(*changing)
            .values(values)
            .execution_options(synchronize_session=False)
        ).rowcount
        return EditResult(matched, int(changed or 0))


def _describe(wanted: rcs.Assignment) -> str:
    parts = []
    for name, value in (("server", wanted.server), ("branding", wanted.branding),
                        ("firmware", wanted.firmware)):  # fmt: skip
        if value is not None:
            shown = value.strip() if value.strip() and value.strip().lower() != "none" else "(none)"
            parts.append(f"{name} {shown}")
    return "bulk edit: " + ", ".join(parts)


def _audit_rows(
    work: RcsWork,
    where: list[ColumnElement[bool]],
    action: ColumnElement[str],
    summary: str | None,
    now: datetime,
) -> None:
    """One audit row per phone ``where`` matches, written by the database itself (an
    ``INSERT ... SELECT``: 100,000 rows without a round trip each)."""
    chosen = select(
        literal(work.account.id),
        literal(now, DateTime(timezone=True)),
        literal(work.actor.name[:254], String()),
        literal(work.actor.via, String()),
        action,
        literal("phone", String()),
        RcsPhone.mac,
        literal(summary, String()),
    ).where(and_(*where))
    work.session.execute(
        insert(RcsAudit).from_select(
            ["account_id", "time", "actor", "via", "action", "kind", "key", "summary"], chosen
        )
    )

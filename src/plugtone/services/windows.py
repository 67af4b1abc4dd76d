"""Provisioning windows: a time-limited "let these phones have their secrets".

A new phone knows nothing about itself: no login of its own, often no address in a
network anyone thought to trust. An admin who is about to unpack a site's phones
arms a window for the site (or for a list of MACs) for as long as the job takes;
while it is open the resolver trusts requests for those phones (level ``window``),
and every file carrying a secret that it sends is recorded as a disclosure. With
``once``, the window closes for each phone a grace period after that phone first
got a secret (``ONCE_GRACE`` in :mod:`plugtone.provisioning.trust`), so a MAC
read off a box later gets nothing.

Every arm and disarm is one unit of work: audited, and the inventory generation
moved, which is how every plugtone process sharing the store learns of it (the
resolver reloads its windows at each generation). Windows are capped in length
(:data:`MAX_DURATION`): a forgotten window must not stay open for good. Disarming
closes a window (its row stays, with the time it closed); windows that have closed
are not listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.inventory.document import Problem
from plugtone.inventory.models import Phone, ProvisioningWindow, Site
from plugtone.inventory.store import Store
from plugtone.macaddr import colon_mac
from plugtone.services.actors import Actor
from plugtone.services.credentials import normalized_macs
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.unit_of_work import UnitOfWork, reading, unit_of_work

DEFAULT_DURATION = 3600
MAX_DURATION = 7 * 86400
"""A window is for a boot, a move or a site's roll-out, never a standing exception."""
MAX_LEAD = 30 * 86400
"""How far ahead a window may be armed to open."""
MAX_MACS = 10_000
"""MACs one window may list (a site window covers any number of phones)."""
CHUNK = 500
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(?:\d{1,6}[smhd])+$")


@dataclass(frozen=True)
class WindowInfo:
    id: int
    site: str | None
    macs: tuple[str, ...]
    opens_at: datetime
    closes_at: datetime
    once: bool
    created_by: str | None

    def state(self, now: datetime | None = None) -> str:
        """``upcoming``, ``open`` or ``closed``."""
        now = now or datetime.now(UTC)
        if now < self.opens_at:
            return "upcoming"
        return "open" if now < self.closes_at else "closed"

    def covers(self) -> str:
        """What the window covers, as a person reads it."""
        if self.site is not None:
            return f"site {self.site}"
        shown = ", ".join(colon_mac(mac) for mac in self.macs[:3])
        more = f" and {len(self.macs) - 3} more" if len(self.macs) > 3 else ""
        return f"{len(self.macs)} phone(s): {shown}{more}"


@dataclass(frozen=True)
class DisarmResult:
    closed: tuple[WindowInfo, ...]
    """Windows closed (as they are now)."""
    narrowed: tuple[WindowInfo, ...]
    """Windows that still cover other phones after the MACs named were taken out."""
    still_covered: tuple[tuple[str, WindowInfo], ...]
    """``(MAC, site window)``: a phone named that its site's open window still covers."""
    generation: int | None


def parse_duration(text: str | int | float, field: str = "duration") -> int:
    """Seconds from ``30m``, ``2h``, ``1d``, ``1h30m`` (or a number of seconds);
    :class:`Invalid` beyond :data:`MAX_DURATION` or at zero."""
    if isinstance(text, bool):
        raise Invalid([Problem(field, "a duration such as 30m, 2h or 1d")])
    if isinstance(text, int | float):
        seconds = int(text)
    else:
        cleaned = str(text).strip().lower().replace(" ", "")
        if len(cleaned) > 32 or not _DURATION.match(cleaned):
            raise Invalid([Problem(field, f"{str(text)[:32]!r} is not a duration such as 30m,"
                                          " 2h or 1d")])  # fmt: skip
        seconds = sum(
            int(number) * _UNITS[unit] for number, unit in re.findall(r"(\d+)([smhd])", cleaned)
        )
    if seconds <= 0:
        raise Invalid([Problem(field, "a window must stay open for some time")])
    if seconds > MAX_DURATION:
        message = f"at most {MAX_DURATION // 86400}d: a window is for a boot or a roll-out"
        raise Invalid([Problem(field, message)])
    return seconds


def arm(
    store: Store,
    actor: Actor,
    *,
    site: str | None = None,
    macs: Sequence[str] = (),
    duration: str | int = DEFAULT_DURATION,
    once: bool = False,
    opens_at: datetime | None = None,
) -> WindowInfo:
    """Open a window for the phones of ``site``, or for ``macs`` (phones in the
    inventory; unknown ones are refused, all named), from ``opens_at`` (default: now)
    for ``duration``."""
    seconds = parse_duration(duration)
    if bool(macs) == (site is not None):
        raise Invalid([Problem("phones", "arm a window for a site or for phones (not both)")])
    now = datetime.now(UTC)
    start = now if opens_at is None else _utc(opens_at)
    if start < now - timedelta(minutes=1):
        raise Invalid([Problem("opens_at", "a window cannot open in the past")])
    if start > now + timedelta(seconds=MAX_LEAD):
        raise Invalid([Problem("opens_at", f"at most {MAX_LEAD // 86400} days ahead")])
    start = max(start, now)
    with unit_of_work(store, actor) as work:
        work.authorize(["window"])
        work.lock()
        site_id = None
        wanted: list[str] = []
        if site is not None:
            site_id = work.session.scalar(select(Site.id).where(Site.name == site))
            if site_id is None:
                raise NotFound(f"no site {site}")
        else:
            wanted = normalized_macs(macs)
            if len(wanted) > MAX_MACS:
                raise Invalid([Problem("macs", f"at most {MAX_MACS} phones per window; arm a"
                                               " window for their site")])  # fmt: skip
            _refuse_unknown(work.session, wanted)
        row = ProvisioningWindow(
            site_id=site_id, macs=wanted, opens_at=start,
            closes_at=start + timedelta(seconds=seconds), once=once,
            created_by=actor.name[:64],
        )  # fmt: skip
        work.session.add(row)
        work.session.flush()
        info = _info(row, site)
        work.audit("arm", "window", str(row.id), f"{info.covers()} for {_span(seconds)}"
                   + (", once" if once else ""), None, _fields(info))  # fmt: skip
        work.bump()
        return info


def disarm(
    store: Store,
    actor: Actor,
    *,
    window_id: int | None = None,
    site: str | None = None,
    macs: Sequence[str] = (),
    everything: bool = False,
) -> DisarmResult:
    """Close one window (by id), a site's windows, every window listing some MACs (they
    are taken out; a window left with none closes), or every window. Closing an
    upcoming window cancels it. Disarming what is not armed is no error, except for a
    window named by id."""
    chosen = sum((window_id is not None, site is not None, bool(macs), everything))
    if chosen != 1:
        raise Invalid([Problem("window", "disarm one window (its id), a site, phones, or all")])
    now = datetime.now(UTC)
    with unit_of_work(store, actor) as work:
        work.authorize(["window"])
        work.lock()
        rows = _live(work.session, now)
        closed: list[WindowInfo] = []
        narrowed: list[WindowInfo] = []
        covered: list[tuple[str, WindowInfo]] = []
        if window_id is not None:
            picked = [(row, name) for row, name in rows if row.id == window_id]
            if not picked:
                raise NotFound(f"no open or upcoming window {window_id}")
        elif site is not None:
            if work.session.scalar(select(Site.id).where(Site.name == site)) is None:
                raise NotFound(f"no site {site}")
            picked = [(row, name) for row, name in rows if name == site]
        elif everything:
            picked = rows
        else:
            wanted = set(normalized_macs(macs))
            picked = []
            for row, name in rows:
                listed = [mac for mac in row.macs or () if mac in wanted]
                if not listed:
                    continue
                left = [mac for mac in row.macs if mac not in wanted]
                if not left and row.site_id is None:
                    picked.append((row, name))
                    continue
                before = _info(row, name)
                row.macs = left
                info = _info(row, name)
                narrowed.append(info)
                shown = ", ".join(colon_mac(mac) for mac in listed[:5])
                work.audit("disarm", "window", str(row.id), f"{shown} taken out",
                           _fields(before), _fields(info))  # fmt: skip
            covered = _site_windows_covering(work.session, sorted(wanted), rows)
        for row, name in picked:
            closed.append(_close(work, row, name, now))
        work.session.flush()
        generation = work.bump() if closed or narrowed else None
        return DisarmResult(tuple(closed), tuple(narrowed), tuple(covered), generation)


def list_windows(store: Store, actor: Actor) -> list[WindowInfo]:
    """Open and upcoming windows, soonest to open first."""
    with reading(store, actor) as session:
        return [_info(row, name) for row, name in _live(session, datetime.now(UTC))]


# -- helpers


def _live(session: Session, now: datetime) -> list[tuple[ProvisioningWindow, str | None]]:
    """Windows not closed yet, with their site's name, in opening order."""
    return [
        (row, name)
        for row, name in session.execute(
            select(ProvisioningWindow, Site.name)
            .outerjoin(Site, Site.id == ProvisioningWindow.site_id)
            .where(ProvisioningWindow.closes_at > now)
            .order_by(ProvisioningWindow.opens_at, ProvisioningWindow.id)
        )
    ]


def _close(work: UnitOfWork, row: ProvisioningWindow, site: str | None,
           now: datetime) -> WindowInfo:  # fmt: skip
    before = _info(row, site)
    row.closes_at = now
    if _utc(row.opens_at) > now:
        row.opens_at = now  # cancelled before it opened
    info = _info(row, site)
    work.audit("disarm", "window", str(row.id), f"{before.covers()} closed", _fields(before),
               _fields(info))  # fmt: skip
    return info


def _site_windows_covering(
    session: Session, macs: Sequence[str], rows: Sequence[tuple[ProvisioningWindow, str | None]]
) -> list[tuple[str, WindowInfo]]:
    site_rows = {row.site_id: (row, name) for row, name in rows if row.site_id is not None}
    if not site_rows or not macs:
        return []
    found = []
    for start in range(0, len(macs), CHUNK):
        chunk = list(macs[start : start + CHUNK])
        for mac, site_id in session.execute(
            select(Phone.mac, Phone.site_id).where(Phone.mac.in_(chunk)).order_by(Phone.mac)
        ):
            if site_id in site_rows:
                row, name = site_rows[site_id]
                found.append((mac, _info(row, name)))
    return found


def _refuse_unknown(session: Session, macs: Sequence[str]) -> None:
    known: set[str] = set()
    for start in range(0, len(macs), CHUNK):
        chunk = list(macs[start : start + CHUNK])
        known.update(session.scalars(select(Phone.mac).where(Phone.mac.in_(chunk))))
    missing = [mac for mac in macs if mac not in known]
    if missing:
        shown = ", ".join(colon_mac(mac) for mac in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise Invalid([Problem("macs", f"not phones in the inventory: {shown}{more}; a window"
                                       " covers only phones plugtone knows")])  # fmt: skip


def _info(row: ProvisioningWindow, site: str | None) -> WindowInfo:
    return WindowInfo(
        id=row.id, site=site, macs=tuple(row.macs or ()), opens_at=_utc(row.opens_at),
        closes_at=_utc(row.closes_at), once=bool(row.once), created_by=row.created_by,
    )  # fmt: skip


def _fields(info: WindowInfo) -> dict:
    return {
        "site": info.site, "macs": list(info.macs), "opens_at": info.opens_at.isoformat(),
        "closes_at": info.closes_at.isoformat(), "once": info.once,
    }  # fmt: skip


def _span(seconds: int) -> str:
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _utc(value: datetime) -> datetime:
    """Aware UTC; SQLite hands back naive datetimes, which were written in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

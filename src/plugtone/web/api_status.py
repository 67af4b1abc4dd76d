"""``/api/status``: device status as ``plugtone status`` shows it.

``GET /api/status`` is the summary (counts by state, the generation); ``GET
/api/status/phones`` lists phones in the states asked for (default: those needing
attention), keyset-paged by MAC. How states are decided: ``services.status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from plugtone.services.cursors import DEFAULT_LIMIT, MAX_LIMIT
from plugtone.services.status import phone_status, status_summary
from plugtone.web.deps import CallerDep, StoreDep

router = APIRouter(tags=["status"])


class StatusCounts(BaseModel):
    phones: int
    """Phones of the inventory (unassigned devices not included)."""
    generation: int
    counts: dict[str, int]
    """Every state: up_to_date, stale, failing, never_seen, unassigned."""


class PhoneStatus(BaseModel):
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
    files_generation: int | None
    changed_generation: int | None
    boot_started: datetime | None
    boot_errors: int
    last_error: str | None
    last_error_at: datetime | None


class PhoneStatusPage(BaseModel):
    items: list[PhoneStatus]
    next: str | None
    """Pass as ``after`` for the next page; ``null`` on the last."""


@router.get("/status", response_model=StatusCounts, summary="Device status counts")
def read_status(
    actor: CallerDep, store: StoreDep,
    site: Annotated[str | None, Query(description="Only this site's phones.")] = None,
) -> StatusCounts:  # fmt: skip
    summary = status_summary(store, actor, site)
    return StatusCounts(phones=summary.phones, generation=summary.generation,
                        counts=summary.counts)  # fmt: skip


@router.get("/status/phones", response_model=PhoneStatusPage,
            summary="Phones by state (default: those needing attention)")  # fmt: skip
def read_phone_status(
    actor: CallerDep, store: StoreDep,
    state: Annotated[list[str] | None, Query(description="States to list (repeatable).")] = None,
    site: Annotated[str | None, Query(description="Only this site's phones.")] = None,
    after: Annotated[str | None, Query(description="Cursor from the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> PhoneStatusPage:  # fmt: skip
    page = phone_status(store, actor, state, site=site, after=after, limit=limit)
    return PhoneStatusPage(items=[PhoneStatus(**vars(item)) for item in page.items], next=page.next)

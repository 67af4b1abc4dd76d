"""``/api/audit``: the audit log, newest first, a page at a time (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from plugtone.services.audit import AuditRow, list_audit
from plugtone.services.objects import check_text
from plugtone.web.answers import LIMIT
from plugtone.web.deps import CallerDep, StoreDep
from plugtone.web.schemas import AuditPage

router = APIRouter(tags=["audit"])


def _row(row: AuditRow) -> dict:
    return {"id": row.id, "time": row.time.isoformat(), "batch": row.batch, "actor": row.actor,
            "via": row.via, "action": row.action, "kind": row.kind, "key": row.key,
            "summary": row.summary, "before": row.before, "after": row.after}  # fmt: skip


@router.get("/audit", response_model=AuditPage, summary="Read the audit log")
def read_audit(
    actor: CallerDep, store: StoreDep,
    kind: str | None = Query(None, max_length=32, description="site, extension, phone, ..."),
    key: str | None = Query(None, max_length=255, description="the object, as rows name it"),
    by: str | None = Query(None, alias="actor", max_length=96, description="who made it"),
    since: Annotated[datetime | None, Query(description="from this time (inclusive)")] = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
    after: str | None = Query(None, max_length=19, pattern=r"^[0-9]+$",
                              description="the `next` of the previous page"),
    limit: int = LIMIT,
) -> Response:  # fmt: skip
    for name, value in (("kind", kind), ("key", key), ("actor", by)):
        check_text(name, value)
    found = list_audit(store, actor, kind=kind, key=key, by=by, since=since, until=until,
                       after=after, limit=limit)  # fmt: skip
    return JSONResponse({"items": [_row(row) for row in found.rows], "next": found.next})

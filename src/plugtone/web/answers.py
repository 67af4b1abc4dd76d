"""The bodies of successful answers, built the same way by every router."""

from __future__ import annotations

from typing import Any

from fastapi import Query
from starlette.responses import JSONResponse, Response

from plugtone.services.cursors import DEFAULT_LIMIT, MAX_LIMIT
from plugtone.services.inventory_apply import ApplyResult
from plugtone.services.inventory_export import Page

LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="items per page")
AFTER = Query(None, max_length=512, description="the `next` cursor of the previous page")
DRY_RUN = Query(False, description="answer the changes without writing them")
SECRETS = Query(False, description="show passwords (admins only; the read is audited)")


def changes(result: ApplyResult, status: int = 200, location: str | None = None) -> Response:
    body: dict[str, Any] = {
        "changes": [
            {"action": c.action, "kind": c.kind, "key": c.key, "details": list(c.details)}
            for c in result.changes
        ],
        "generation": result.generation,
    }
    headers = {"Location": location} if location else None
    return JSONResponse(body, status_code=status, headers=headers)


def page(found: Page) -> Response:
    return JSONResponse({"items": found.items, "next": found.next})


def entry(value: dict[str, Any]) -> Response:
    return JSONResponse(value)


def no_content() -> Response:
    return Response(status_code=204)

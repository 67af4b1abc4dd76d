"""``/api/security/counters``: what the sweep defence has seen since this process started.

Counts only (strangers answered, unknown MACs asked for, failed credentials, requests
slowed and blocked, alerts, FTP logins failed, throttled and refused), read from the
phone listeners' guard when the admin listener runs in the same ``plugtone serve``;
the alerts themselves are ``sweep`` events (``GET /api/events``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from plugtone.web.deps import CallerDep
from plugtone.web.problems import problem

router = APIRouter(tags=["security"])


class SecurityCounters(BaseModel):
    counters: dict[str, int]
    """Totals since the process started, by name (see ``GuardCounters``)."""


@router.get("/security/counters", response_model=SecurityCounters,
            summary="Sweep-defence counters of this server")  # fmt: skip
def read_security_counters(actor: CallerDep, request: Request) -> Response:
    counters = getattr(request.app.state, "security_counters", None)
    if counters is None:
        return problem(503, "the counters live in the plugtone serve that runs the phone "
                       "listeners, and this admin app runs without them")  # fmt: skip
    return JSONResponse({"counters": counters()})

"""``POST /api/resync``: make phones fetch their files now, as ``plugtone resync`` does.

The same service calls (``services.resync``); the operator role or above. The answer
comes once every phone answered or timed out (up to 32 s after the last NOTIFY, which
``--rate`` spaces out), with each phone's outcome; each is also a provisioning event.
"""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from plugtone.macaddr import colon_mac
from plugtone.services.resync import DEFAULT_RATE, MAX_RATE, SIP_PORT, resync, select_targets
from plugtone.web.deps import CallerDep, RegistryDep, StoreDep

router = APIRouter(tags=["resync"])


class ResyncAsk(BaseModel):
    macs: list[str] = Field(default_factory=list, description="Phones, any MAC notation.")
    site: str | None = Field(default=None, description="Every phone of this site.")
    all: bool = Field(default=False, description="Every phone of the inventory.")
    rate: float = Field(default=DEFAULT_RATE, ge=0.1, le=MAX_RATE, description="Phones a second.")
    sip_port: int = Field(default=SIP_PORT, ge=1, le=65535, description="The phones' SIP port.")


class ResyncOutcome(BaseModel):
    mac: str
    site: str
    address: str | None
    status: str
    """The response code (``200``, ``481``...), ``timeout``, or why nothing was sent."""
    reason: str
    sent: int
    seconds: float


class ResyncReport(BaseModel):
    outcomes: list[ResyncOutcome]
    answered: int
    """Phones that answered with a 2xx."""
    failed: int


def install(app) -> None:
    """Count this app's resync outcomes for ``/metrics`` (``plugtone_resync_total``).

    Resyncs sent by ``plugtone resync`` run in their own process and are counted in
    the event log instead (transport ``sip``)."""
    app.state.resync_outcomes = Counter()
    app.state.resync_counters = lambda: dict(app.state.resync_outcomes)


@router.post("/resync", response_model=ResyncReport, summary="Make phones fetch their files now")
def post_resync(
    ask: ResyncAsk, actor: CallerDep, store: StoreDep, registry: RegistryDep, request: Request
) -> ResyncReport:
    targets = select_targets(store, actor, macs=ask.macs, site=ask.site, everything=ask.all)
    outcomes = resync(store, actor, registry, targets, rate=ask.rate, sip_port=ask.sip_port)
    counted = getattr(request.app.state, "resync_outcomes", None)
    if counted is not None:
        counted.update(outcome.status for outcome in outcomes)
    answered = sum(outcome.ok for outcome in outcomes)
    return ResyncReport(
        outcomes=[
            ResyncOutcome(mac=colon_mac(o.mac), site=o.site, address=o.address, status=o.status,
                          reason=o.reason, sent=o.sent, seconds=o.seconds)
            for o in outcomes
        ],
        answered=answered,
        failed=len(outcomes) - answered,
    )  # fmt: skip

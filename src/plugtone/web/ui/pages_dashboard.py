"""The dashboard (phones by state, the last day's requests, recent events) and the
live event stream that keeps its event list current.

``GET /events/stream`` is server-sent events: every :data:`POLL` seconds it reads the
events logged since the last one it sent (an ``id >`` range, at most
``activity.NEWEST_MAX`` a tick), one ``provisioning`` event each with its id, so a
reconnecting browser resumes from ``Last-Event-ID``. A stream lasts at most
:data:`STREAM_SECONDS` (the browser reconnects, and the session is checked again), and
at most :data:`MAX_STREAMS` are open at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from plugtone.macaddr import colon_mac
from plugtone.services.activity import events_since, hourly_activity, latest_event_id
from plugtone.services.devices import EventInfo, list_events
from plugtone.services.status import STATES, status_summary
from plugtone.web.ui.auth import Refused, signed_in
from plugtone.web.ui.chart import hourly_chart
from plugtone.web.ui.render import page

router = APIRouter()

POLL = 1.0
STREAM_SECONDS = 300.0
MAX_STREAMS = 64
HEARTBEAT = 15.0
RECENT = 20
STATE_NAMES = {
    "up_to_date": "Up to date", "stale": "Stale", "failing": "Failing",
    "never_seen": "Never seen", "unassigned": "Unassigned",
}  # fmt: skip


@router.get("/")
def dashboard(request: Request) -> Response:
    found = signed_in(request)
    store = request.app.state.store
    summary = status_summary(store, found.actor)
    hours = hourly_activity(store, found.actor)
    recent = list_events(store, found.actor, limit=RECENT).items
    newest = recent[0].id if recent else latest_event_id(store, found.actor)
    return page(request, found, "dashboard.html", summary=summary, states=STATES,
                state_names=STATE_NAMES, hours=hours, chart=hourly_chart(hours),
                events=recent, newest=newest,
                totals=(sum(h.requests for h in hours),
                        sum(h.failures for h in hours)))  # fmt: skip


def event_json(event: EventInfo) -> dict:
    """What the live view shows of an event (no secret is ever in an event)."""
    return {
        "id": event.id, "time": f"{event.time:%Y-%m-%d %H:%M:%S} UTC",
        "transport": event.transport, "mac": colon_mac(event.mac) if event.mac else "",
        "path": event.path, "status": event.status, "bytes": event.bytes,
        "client": event.client_address or "", "trust": event.trust or "",
    }  # fmt: skip


@router.get("/events/stream")
async def stream(
    request: Request,
    after: int | None = Query(None, ge=0, le=2**62),
    mac: str | None = Query(None, max_length=17, pattern=r"^[0-9A-Fa-f:.\-]+$"),
) -> Response:
    found = await run_in_threadpool(signed_in, request)
    store = request.app.state.store
    ui = request.app.state.ui
    resume = request.headers.get("last-event-id", "")
    if resume.isdigit() and len(resume) < 19:
        after = int(resume)
    if after is None:
        after = await run_in_threadpool(latest_event_id, store, found.actor)
    if mac is not None:  # checked now: a bad MAC is a 422 page, not a broken stream
        await run_in_threadpool(events_since, store, found.actor, 0, mac=mac, limit=1)
    if ui.streams >= MAX_STREAMS:
        raise Refused(503, "Too many live views are open; try again shortly.")

    async def events() -> AsyncIterator[bytes]:
        nonlocal after
        ui.streams += 1
        try:
            yield b"retry: 2000\n\n"
            started = last_sent = time.monotonic()
            while time.monotonic() - started < STREAM_SECONDS:
                if await request.is_disconnected():
                    return
                news = await run_in_threadpool(events_since, store, found.actor, after, mac=mac)
                for event in news:
                    after = event.id
                    data = json.dumps(event_json(event), separators=(",", ":"))
                    yield f"id: {event.id}\nevent: provisioning\ndata: {data}\n\n".encode()
                    last_sent = time.monotonic()
                if time.monotonic() - last_sent > HEARTBEAT:
                    yield b": still here\n\n"
                    last_sent = time.monotonic()
                if not news or len(news) < 200:
                    await asyncio.sleep(POLL)
        finally:
            ui.streams -= 1

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

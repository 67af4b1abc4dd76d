"""The phone's TR-069 page, ``/phones/{mac}/acs``: what the ACS knows of the device, its
task queue with each task's status and fault in words, its stored backups and logs,
and (operators) a form queueing a task, with an optional connection request now.

A thin face over :mod:`plugtone.acs.service`, as ``plugtone acs`` and ``/api/acs`` are.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from plugtone.acs import service
from plugtone.acs.tasks import KINDS
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.services.errors import Invalid, NotFound
from plugtone.web.ui.auth import check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()

FormText = Annotated[str, Form(max_length=1024)]
Csrf = Annotated[str, Form(max_length=256)]


def _show(request: Request, found, mac: str, status: int = 200, error: str | None = None,
          note: str | None = None) -> Response:  # fmt: skip
    try:
        info, tasks, uploads = service.device(request.app.state.store, found.actor, mac)
    except NotFound:
        info, tasks, uploads = None, [], []
    try:
        shown = colon_mac(normalize_mac(mac))
    except MacError:
        shown = mac
    return page(request, found, "acs_phone.html", status, mac=shown, raw_mac=mac, info=info,
                tasks=tasks, uploads=uploads, kinds=KINDS, error=error, note=note)  # fmt: skip


@router.get("/phones/{mac}/acs")
def acs_page(request: Request, mac: str) -> Response:
    found = signed_in(request)
    return _show(request, found, mac, note=request.query_params.get("note"))


@router.post("/phones/{mac}/acs/tasks")
def acs_task(
    request: Request, mac: str, kind: FormText = "", name: FormText = "", value: FormText = "",
    connect: FormText = "", csrf: Csrf = "",
) -> Response:  # fmt: skip
    found = check_post(request, csrf)
    store = request.app.state.store
    try:
        queued = service.queue(store, found.actor, mac, kind, name=name or None,
                               value=value if kind == "set" else None)  # fmt: skip
    except (Invalid, NotFound) as error:
        text = "; ".join(p.message for p in error.problems) if isinstance(error, Invalid) \
            else error.message  # fmt: skip
        return _show(request, found, mac, 422 if isinstance(error, Invalid) else 404, text)
    note = f"task {queued.id} ({kind}) queued"
    if connect:
        note += "; connection request: " + asyncio.run(service.connect(store, found.actor, mac))
    from urllib.parse import quote

    return RedirectResponse(f"/phones/{quote(mac)}/acs?note={quote(note)}", status_code=303)

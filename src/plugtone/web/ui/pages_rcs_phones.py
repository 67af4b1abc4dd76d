"""The redirection service's Phones and Servers pages (``/rcs/phones``, ``/rcs/servers``).

Phones: the account's MACs (all, or the unaffiliated ones: "Set Unaffiliated Phones"),
with a form that edits the selected ones (server, branding, firmware: a move is a new
server) or deletes them; "Add Phones" takes a MAC list, "Add phones from a CSV file" an
upload; both answer a report row by row, none-or-all unless asked otherwise.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from plugtone.inventory.models import FirmwareRelease
from plugtone.redirect import services as rcs
from plugtone.services.errors import ServiceError
from plugtone.web.ui.rcs_sessions import RcsVisit, check_post, page, to_login, visit

router = APIRouter()
BODY_LIMITS = {"/rcs/phones": rcs.MAX_CSV_BYTES + 64 * 1024}
Field = Annotated[str, Form(max_length=1024)]
LIST_LIMIT = 2000


def _firmwares(request: Request) -> list[str]:
    """The versions plugtone holds releases of (the seed's Firmware field lists the
    releases the service stores)."""
    with request.app.state.store.sessions() as session:
        return sorted(set(session.scalars(select(FirmwareRelease.version))))


def _phones_page(
    request: Request, found: RcsVisit, status: int = 200, *, unaffiliated: bool = False, **values
) -> Response:
    store = request.app.state.store
    phones = rcs.list_phones(store, found.actor, unaffiliated=unaffiliated, limit=LIST_LIMIT + 1)
    values.setdefault("errors", {})
    values.setdefault("form", {})
    return page(
        request,
        found,
        "rcs_phones.html",
        status,
        phones=phones[:LIST_LIMIT],
        more=len(phones) > LIST_LIMIT,
        unaffiliated=unaffiliated,
        servers=[s.name for s in rcs.list_servers(store, found.actor)],
        brandings=[b.name for b in rcs.list_brandings(store, found.actor)],
        firmwares=_firmwares(request),
        **values,
    )


def _summary(report: list[rcs.Outcome]) -> str:
    counts: dict[str, int] = {}
    for item in report:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    text = ", ".join(f"{count} {outcome}" for outcome, count in sorted(counts.items()))
    if counts.get("skipped"):
        text += ": nothing was written, since a row was refused"
    return text


@router.get("/rcs/phones")
def phones(request: Request, unaffiliated: str = "") -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    return _phones_page(request, found, unaffiliated=bool(unaffiliated))


def _assignment_value(value: str) -> str | None:
    """A select of the edit form: "" leaves the field, "none" clears it."""
    if not value:
        return None
    return "" if value == "none" else value


@router.post("/rcs/phones/edit")
def edit(
    request: Request,
    macs: Annotated[list[str] | None, Form()] = None,
    server: Field = "",
    branding: Field = "",
    firmware: Field = "",
    action: Field = "assign",
    unaffiliated: Field = "",
    every: Field = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    store = request.app.state.store
    chosen = list(macs or [])[: rcs.MAX_BATCH]
    if every:  # "the MAC Address check box": every phone of the list shown
        shown = rcs.list_phones(
            store, found.actor, unaffiliated=bool(unaffiliated), limit=rcs.MAX_BATCH
        )
        chosen = [phone.mac for phone in shown]
    if not chosen:
        return _phones_page(
            request,
            found,
            422,
            unaffiliated=bool(unaffiliated),
            error="Select one phone or more first.",
        )
    if action == "delete":
        report = rcs.delete_phones(store, found.actor, chosen)
    else:
        wanted = rcs.Assignment(
            _assignment_value(server), _assignment_value(firmware), _assignment_value(branding)
        )
        rows = [rcs.Row(mac, wanted) for mac in chosen]
        report = rcs.register_phones(store, found.actor, rows, good_rows=True)
    return _phones_page(
        request,
        found,
        unaffiliated=bool(unaffiliated),
        report=report,
        report_summary=_summary(report),
    )


@router.post("/rcs/phones/add")
def add(
    request: Request,
    macs: Annotated[str, Form(max_length=400_000)] = "",
    server: Field = "",
    branding: Field = "",
    firmware: Field = "",
    claim: Field = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    given = [line.strip() for line in macs.replace(",", "\n").splitlines() if line.strip()]
    if not given:
        return _phones_page(
            request, found, 422, errors={"macs": "Enter a MAC address."}, form={"macs": macs}
        )
    wanted = rcs.Assignment(server or None, firmware or None, branding or None)
    rows = [rcs.Row(mac, wanted, claim or None) for mac in given]
    try:
        report = rcs.register_phones(request.app.state.store, found.actor, rows, update=False)
    except ServiceError as error:
        return _phones_page(
            request, found, 422, errors={"macs": error.message}, form={"macs": macs}
        )
    refused = [item for item in report if not item.ok]
    errors = {"macs": refused[0].message} if refused else {}
    return _phones_page(
        request,
        found,
        422 if refused else 200,
        report=report,
        report_summary=_summary(_skipped(report)),
        errors=errors,
        form={"macs": macs, "server": server} if refused else {},
    )


def _skipped(report: list[rcs.Outcome]) -> list[rcs.Outcome]:
    """A none-or-all batch with a refused MAC wrote nothing: say so of the good ones."""
    if all(item.ok for item in report):
        return report
    return [
        item
        if not item.ok
        else rcs.Outcome(item.row, item.mac, "skipped", "not written: another MAC was refused")
        for item in report
    ]


@router.post("/rcs/phones/upload")
async def upload(
    request: Request,
    file: Annotated[UploadFile, File()],
    server: Field = "",
    branding: Field = "",
    firmware: Field = "",
    partial: Field = "",
    csrf: Field = "",
) -> Response:
    import asyncio

    found = check_post(request, csrf)
    content = await file.read(rcs.MAX_CSV_BYTES + 1)
    wanted = rcs.Assignment(server or None, firmware or None, branding or None)
    try:
        report = await asyncio.to_thread(
            rcs.import_csv,
            request.app.state.store,
            found.actor,
            content,
            wanted,
            good_rows=bool(partial),
        )
    except ServiceError as error:
        return await asyncio.to_thread(_phones_page, request, found, 422, error=error.message)
    status = 200 if all(item.ok for item in report) else 422
    return await asyncio.to_thread(
        _phones_page, request, found, status, report=report, report_summary=_summary(report)
    )


@router.get("/rcs/servers")
def servers(request: Request) -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    return _servers_page(request, found)


def _servers_page(request: Request, found: RcsVisit, status: int = 200, **values) -> Response:
    values.setdefault("errors", {})
    values.setdefault("form", {})
    listed = rcs.list_servers(request.app.state.store, found.actor)
    return page(request, found, "rcs_servers.html", status, servers=listed, **values)


@router.post("/rcs/servers")
def add_server(
    request: Request,
    name: Field = "",
    url: Annotated[str, Form(max_length=4096)] = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    try:
        rcs.add_server(request.app.state.store, found.actor, name, url)
    except ServiceError as error:
        where = getattr(error, "problems", None)
        field = where[0].where if where else "name"
        return _servers_page(
            request, found, 422, errors={field: error.message}, form={"name": name, "url": url}
        )
    return RedirectResponse("/rcs/servers", status_code=303)


@router.post("/rcs/servers/edit")
def edit_server(
    request: Request,
    name: Field = "",
    url: Annotated[str, Form(max_length=4096)] = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    try:
        view = rcs.edit_server(request.app.state.store, found.actor, name, url=url)
    except ServiceError as error:
        return _servers_page(request, found, 422, message=error.message)
    return _servers_page(
        request, found, message=f"{view.name} saved; its {view.phones} phone(s) follow it."
    )


@router.post("/rcs/servers/delete")
def delete_server(request: Request, name: Field = "", csrf: Field = "") -> Response:
    found = check_post(request, csrf)
    try:
        count = rcs.remove_server(request.app.state.store, found.actor, name)
    except ServiceError as error:
        return _servers_page(request, found, 422, message=error.message)
    return _servers_page(
        request, found, message=f"{name} deleted; {count} phone(s) are now unaffiliated."
    )

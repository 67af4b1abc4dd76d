"""The redirection service's Phones and Servers pages (``/rcs/phones``, ``/rcs/servers``).

Phones: the account's MACs a page at a time by MAC (keyset-paged, searched by a partial
MAC, filtered by server or the unaffiliated ones: "Set Unaffiliated Phones";
:mod:`plugtone.redirect.phone_pages`), with a form that edits the ticked ones of the page
(server, branding, firmware: a move is a new server) or every phone of the list on every
page, or deletes them; "Add Phones" takes a MAC list, "Add phones from a CSV file" an
upload; both answer a report row by row, none-or-all unless asked otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from sqlalchemy import select
from starlette.responses import RedirectResponse, Response

from plugtone.inventory.models import FirmwareRelease
from plugtone.redirect import phone_pages as pages
from plugtone.redirect import services as rcs
from plugtone.services.errors import Invalid, NotFound, ServiceError
from plugtone.web.ui.rcs_sessions import RcsVisit, check_post, page, to_login, visit

router = APIRouter()
BODY_LIMITS = {"/rcs/phones": rcs.MAX_CSV_BYTES + 64 * 1024}
Field = Annotated[str, Form(max_length=1024)]
Text = Annotated[str, Query(max_length=255)]
PAGE = 100


@dataclass(frozen=True)
class Shown:
    """The list on the page: its search, its server filter (a name, ``"none"``: the
    unaffiliated phones) and the cursor of the page."""

    q: str | None = None
    server: str | None = None
    after: str | None = None

    @classmethod
    def of(cls, q: str, server: str, unaffiliated: str, after: str) -> Shown:
        server = pages.UNAFFILIATED if unaffiliated else server.strip()
        return cls(q.strip() or None, server or None, after.strip() or None)

    def filters(self) -> dict[str, str]:
        return {k: v for k, v in (("q", self.q), ("server", self.server)) if v}

    def first_page(self) -> Shown:
        return Shown(self.q, self.server)


def _firmwares(request: Request) -> list[str]:
    """The versions plugtone holds releases of (the seed's Firmware field lists the
    releases the service stores)."""
    with request.app.state.store.sessions() as session:
        return sorted(set(session.scalars(select(FirmwareRelease.version))))


def _phones_page(
    request: Request,
    found: RcsVisit,
    status: int = 200,
    *,
    shown: Shown | None = None,
    **values,
) -> Response:
    """The list a page at a time (``PAGE`` phones by MAC after the cursor), searched by
    a partial MAC and filtered by server; a filter or cursor that cannot be used is
    said above the list, which then shows the first page of every phone."""
    store = request.app.state.store
    shown = shown or Shown()
    try:
        listed = pages.browse_phones(
            store, found.actor, q=shown.q, server=shown.server, after=shown.after, limit=PAGE
        )
    except (Invalid, NotFound) as error:
        values.setdefault("note", error.message)
        status = status if status != 200 else 422
        shown = Shown(q=shown.q if isinstance(error, NotFound) else None)
        try:
            listed = pages.browse_phones(store, found.actor, q=shown.q, limit=PAGE)
        except Invalid:
            shown = Shown()
            listed = pages.browse_phones(store, found.actor, limit=PAGE)
    values.setdefault("errors", {})
    values.setdefault("form", {})
    filters = shown.filters()
    more = f"/rcs/phones?{urlencode({**filters, 'after': listed.next})}" if listed.next else None
    return page(
        request,
        found,
        "rcs_phones.html",
        status,
        phones=listed.items,
        total=listed.total,
        more=more,
        first=shown.after is None,
        first_href=f"/rcs/phones?{urlencode(filters)}" if filters else "/rcs/phones",
        shown=shown,
        unaffiliated=shown.server == pages.UNAFFILIATED,
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
def phones(
    request: Request,
    q: Text = "",
    server: Text = "",
    unaffiliated: Text = "",
    after: Text = "",
) -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    return _phones_page(request, found, shown=Shown.of(q, server, unaffiliated, after))


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
    q: Field = "",
    shown_server: Field = "",
    unaffiliated: Field = "",
    after: Field = "",
    every: Field = "",
    csrf: Field = "",
) -> Response:
    """Edit the phones ticked on the page shown, or (``every``) every phone of the list
    on every page; the answer is the same page of the same list again."""
    found = check_post(request, csrf)
    store = request.app.state.store
    shown = Shown.of(q, shown_server, unaffiliated, after)
    wanted = rcs.Assignment(
        _assignment_value(server), _assignment_value(firmware), _assignment_value(branding)
    )
    if every:  # "the MAC Address check box": every phone of the list, not only this page
        try:
            result = pages.edit_matching(
                store,
                found.actor,
                q=shown.q,
                server=shown.server,
                assignment=wanted,
                remove=action == "delete",
            )
        except ServiceError as error:
            return _phones_page(request, found, 422, shown=shown, error=error.message)
        done = "deleted" if action == "delete" else "updated"
        counts = ((result.changed, done), (result.matched - result.changed, "unchanged"))
        summary = ", ".join(f"{count} {outcome}" for count, outcome in counts if count)
        return _phones_page(
            request, found, shown=shown.first_page(), report_summary=summary or "no phone"
        )
    chosen = list(macs or [])[: rcs.MAX_BATCH]
    if not chosen:
        return _phones_page(
            request, found, 422, shown=shown, error="Select one phone or more first."
        )
    if action == "delete":
        report = rcs.delete_phones(store, found.actor, chosen)
    else:
        rows = [rcs.Row(mac, wanted) for mac in chosen]
        report = rcs.register_phones(store, found.actor, rows, good_rows=True)
    return _phones_page(request, found, shown=shown, report=report, report_summary=_summary(report))


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

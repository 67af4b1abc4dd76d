"""``/api/rcs/...``: the redirection service over the admin API.

Tokens: an account's own (``rcs_...``, made with ``POST /api/rcs/tokens``), acting as a
User or Super User of that account and nothing else; or a plugtone admin's token, which
reaches any account named with ``?account=``. Thin over ``plugtone.redirect.services``,
which checks roles and keeps accounts apart. ``PUT /api/rcs/phones/{mac}`` is idempotent
(201 when added, 200 otherwise); bulk calls answer an outcome per MAC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from plugtone.redirect import passwords, phone_pages
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor, from_plugtone
from plugtone.services.accounts import authenticate_token
from plugtone.services.errors import Unauthenticated
from plugtone.web.answers import no_content
from plugtone.web.deps import RegistryDep, StoreDep

router = APIRouter(prefix="/rcs", tags=["redirection service"])
BODY_LIMITS = {"/api/rcs/phones/import": rcs.MAX_CSV_BYTES + 4096}


@dataclass(frozen=True)
class Caller:
    actor: RcsActor
    account: str | None


def rcs_caller(
    request: Request,
    account: Annotated[
        str | None,
        Query(
            max_length=64,
            description=("the account (plugtone admins; an account's token may omit it)"),
        ),
    ] = None,
) -> Caller:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("an API token is needed: Authorization: Bearer <token>")
    store = request.app.state.store
    if token.startswith(passwords.TOKEN_PREFIX):
        return Caller(passwords.authenticate_token(store, token), account)
    return Caller(from_plugtone(authenticate_token(store, token, via="api")), account)


CallerDep = Annotated[Caller, Depends(rcs_caller)]


class Outcome(BaseModel):
    row: int
    mac: str
    outcome: str = Field(description="added, updated, unchanged, deleted, skipped or refused")
    message: str


class Outcomes(BaseModel):
    items: list[Outcome]
    accepted: int
    refused: int


class PhoneOut(BaseModel):
    mac: str
    server: str | None
    firmware: str | None
    branding: str | None
    last_contact: str | None
    redirected_at: str | None


class PhoneList(BaseModel):
    items: list[PhoneOut]
    next: str | None = Field(description="the `after` of the next page, if there is one")
    total: int = Field(description="the phones the filters match, on every page")


class PhoneIn(BaseModel):
    server: str | None = Field(None, max_length=64, description='"" or null: unaffiliated')
    firmware: str | None = Field(None, max_length=64, description='"" or null: none')
    branding: str | None = Field(None, max_length=64, description='"" or null: none')
    claim: str | None = Field(None, max_length=128, description="a claim code (serial)")


class BulkIn(BaseModel):
    macs: list[str] = Field(max_length=rcs.MAX_BATCH)
    server: str | None = Field(None, max_length=64, description="null: leave as it is")
    firmware: str | None = Field(None, max_length=64, description="null: leave as it is")
    branding: str | None = Field(None, max_length=64, description="null: leave as it is")
    partial: bool = Field(False, description="write the good MACs when some are refused")


class MacsIn(BaseModel):
    macs: list[str] = Field(max_length=rcs.MAX_BATCH)


class ServerIn(BaseModel):
    name: str = Field(max_length=1024, description="at most 20 characters (checked)")
    url: str = Field(max_length=4096, description="http, https, ftp or tftp; at most 255")


class ServerEdit(BaseModel):
    name: str | None = Field(None, max_length=1024, description="a new name")
    url: str | None = Field(None, max_length=4096, description="a new URL; its phones follow")


class ServerOut(BaseModel):
    name: str
    url: str
    phones: int


class ServerList(BaseModel):
    items: list[ServerOut]


class BrandingIn(BaseModel):
    settings: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="raw settings by vendor, served before the redirect"
    )


class BrandingOut(BaseModel):
    name: str
    settings: dict[str, dict[str, str]]


class BrandingList(BaseModel):
    items: list[BrandingOut]


class ServerStatsOut(BaseModel):
    name: str
    phones: int
    redirected: int
    contacts_day: int


class StatsOut(BaseModel):
    account: str
    registered: int
    redirected: int
    unaffiliated: int
    contacts_day: int
    contacts_week: int
    servers: list[ServerStatsOut]


class AuditOut(BaseModel):
    time: str
    actor: str
    via: str
    action: str
    kind: str
    key: str
    summary: str | None


class AuditList(BaseModel):
    items: list[AuditOut]


class TokenIn(BaseModel):
    role: str = Field("user", pattern="^(user|super)$")


class TokenOut(BaseModel):
    id: int
    prefix: str
    role: str
    token: str = Field(description="shown once")


class AccountIn(BaseModel):
    name: str = Field(max_length=1024)


class AccountOut(BaseModel):
    name: str
    users: int
    phones: int


class AccountList(BaseModel):
    items: list[AccountOut]


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _phone(view: rcs.PhoneView) -> dict[str, Any]:
    return {
        "mac": view.mac,
        "server": view.server,
        "firmware": view.firmware,
        "branding": view.branding,
        "last_contact": _when(view.last_contact),
        "redirected_at": _when(view.redirected_at),
    }


def _outcomes(found: list[rcs.Outcome]) -> Response:
    refused = sum(1 for o in found if not o.ok)
    accepted = sum(1 for o in found if o.outcome not in ("refused", "skipped"))
    return JSONResponse(
        {
            "items": [
                {"row": o.row, "mac": o.mac, "outcome": o.outcome, "message": o.message}
                for o in found
            ],
            "accepted": accepted,
            "refused": refused,
        }
    )


@router.get("/phones", response_model=PhoneList, summary="List the account's phones")
def list_phones(
    caller: CallerDep,
    store: StoreDep,
    q: str | None = Query(None, max_length=64, description="a MAC or its start, any notation"),
    server: str | None = Query(
        None, max_length=64, description='a server\'s name; "none": the unaffiliated phones'
    ),
    unaffiliated: bool = Query(False, description='only phones with no server (server="none")'),
    after: str | None = Query(None, max_length=512, description="the `next` of the last page"),
    limit: int = Query(500, ge=1, le=1000),
) -> Response:
    """By MAC, keyset-paged (the Phones page's own service and cursor): pass ``next``
    back as ``after`` with the same filters; ``total`` counts every page."""
    found = phone_pages.browse_phones(
        store,
        caller.actor,
        caller.account,
        q=q,
        server=phone_pages.UNAFFILIATED if unaffiliated else server,
        after=after,
        limit=limit,
    )
    return JSONResponse(
        {"items": [_phone(p) for p in found.items], "next": found.next, "total": found.total}
    )


@router.get("/phones/{mac}", response_model=PhoneOut, summary="One registered phone")
def get_phone(mac: str, caller: CallerDep, store: StoreDep) -> Response:
    return JSONResponse(_phone(rcs.get_phone(store, caller.actor, mac[:64], caller.account)))


@router.put(
    "/phones/{mac}",
    response_model=PhoneOut,
    summary="Register or re-assign a MAC",
    responses={201: {"model": PhoneOut, "description": "registered"}},
)
def put_phone(mac: str, body: PhoneIn, caller: CallerDep, store: StoreDep) -> Response:
    """Idempotent: the body is the phone's whole assignment (a field left out or null
    clears it). 201 when the MAC was added, 200 otherwise; a MAC another account holds
    is refused (409) without saying which, unless ``claim`` is the claim code it was
    registered with."""
    row = rcs.Row(
        mac[:64],
        rcs.Assignment(body.server or "", body.firmware or "", body.branding or ""),
        body.claim,
    )
    outcome = rcs.register_phones(store, caller.actor, [row], account=caller.account)[0]
    if not outcome.ok:
        _refuse(outcome)
    view = rcs.get_phone(store, caller.actor, outcome.mac, caller.account)
    return JSONResponse(_phone(view), status_code=201 if outcome.outcome == "added" else 200)


def _refuse(outcome: rcs.Outcome) -> None:
    from plugtone.inventory.document import Problem
    from plugtone.services.errors import Conflict, Invalid, NotFound

    if outcome.message == rcs.HELD_ELSEWHERE:
        raise Conflict(outcome.message)
    if outcome.message.startswith("no "):
        raise NotFound(outcome.message)
    raise Invalid([Problem("mac", outcome.message)], outcome.message)


@router.delete("/phones/{mac}", status_code=204, summary="Delete a registered MAC")
def delete_phone(mac: str, caller: CallerDep, store: StoreDep) -> Response:
    outcome = rcs.delete_phones(store, caller.actor, [mac[:64]], caller.account)[0]
    if not outcome.ok:
        from plugtone.services.errors import NotFound

        raise NotFound(f"{outcome.mac} is not registered to this account")
    return no_content()


@router.post("/phones/bulk", response_model=Outcomes, summary="Register or assign many MACs")
def bulk_phones(body: BulkIn, caller: CallerDep, store: StoreDep) -> Response:
    """An outcome per MAC; none is written when one is refused, unless ``partial``.
    Fields left null are left as they are (so this also sets unaffiliated phones'
    server in bulk)."""
    rows = [
        rcs.Row(mac[:64], rcs.Assignment(body.server, body.firmware, body.branding))
        for mac in body.macs
    ]
    return _outcomes(
        rcs.register_phones(
            store, caller.actor, rows, account=caller.account, good_rows=body.partial
        )
    )


@router.post("/phones/bulk-delete", response_model=Outcomes, summary="Delete many MACs")
def bulk_delete(body: MacsIn, caller: CallerDep, store: StoreDep) -> Response:
    return _outcomes(
        rcs.delete_phones(store, caller.actor, [m[:64] for m in body.macs], caller.account)
    )


@router.post(
    "/phones/import",
    response_model=Outcomes,
    summary="Register the MACs of a CSV",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def import_phones(
    request: Request,
    caller: CallerDep,
    store: StoreDep,
    server: str | None = Query(None, max_length=64),
    firmware: str | None = Query(None, max_length=64),
    branding: str | None = Query(None, max_length=64),
    partial: bool = Query(False),
) -> Response:
    """The body is the CSV file: first column MAC, then optional server, firmware and
    branding; an outcome per row, numbered as in the file."""
    import asyncio

    content = await request.body()
    found = await asyncio.to_thread(
        rcs.import_csv,
        store,
        caller.actor,
        content,
        rcs.Assignment(server, firmware, branding),
        account=caller.account,
        good_rows=partial,
    )
    return _outcomes(found)


@router.get("/servers", response_model=ServerList, summary="The account's servers")
def list_servers(caller: CallerDep, store: StoreDep) -> Response:
    found = rcs.list_servers(store, caller.actor, caller.account)
    return JSONResponse(
        {"items": [{"name": s.name, "url": s.url, "phones": s.phones} for s in found]}
    )


@router.post("/servers", status_code=201, response_model=ServerOut, summary="Add a server")
def add_server(body: ServerIn, caller: CallerDep, store: StoreDep) -> Response:
    view = rcs.add_server(store, caller.actor, body.name, body.url, caller.account)
    return JSONResponse({"name": view.name, "url": view.url, "phones": 0}, status_code=201)


@router.patch("/servers/{name}", response_model=ServerOut, summary="Rename or move a server")
def edit_server(name: str, body: ServerEdit, caller: CallerDep, store: StoreDep) -> Response:
    view = rcs.edit_server(store, caller.actor, name[:64], body.name, body.url, caller.account)
    return JSONResponse({"name": view.name, "url": view.url, "phones": view.phones})


@router.delete("/servers/{name}", status_code=204, summary="Delete a server")
def delete_server(name: str, caller: CallerDep, store: StoreDep) -> Response:
    """Its phones become unaffiliated."""
    rcs.remove_server(store, caller.actor, name[:64], caller.account)
    return no_content()


@router.get("/brandings", response_model=BrandingList, summary="The account's brandings")
def list_brandings(caller: CallerDep, store: StoreDep) -> Response:
    found = rcs.list_brandings(store, caller.actor, caller.account)
    return JSONResponse({"items": [{"name": b.name, "settings": b.settings} for b in found]})


@router.put(
    "/brandings/{name}",
    response_model=BrandingOut,
    summary="Create or replace a branding (Super Users)",
)
def put_branding(
    name: str, body: BrandingIn, caller: CallerDep, store: StoreDep, registry: RegistryDep
) -> Response:
    view = rcs.save_branding(
        store, caller.actor, registry, name[:128], body.settings, caller.account
    )
    return JSONResponse({"name": view.name, "settings": view.settings})


@router.delete("/brandings/{name}", status_code=204, summary="Delete a branding (Super Users)")
def delete_branding(name: str, caller: CallerDep, store: StoreDep) -> Response:
    rcs.remove_branding(store, caller.actor, name[:128], caller.account)
    return no_content()


@router.get("/stats", response_model=StatsOut, summary="The account's statistics")
def get_stats(caller: CallerDep, store: StoreDep) -> Response:
    figures = rcs.stats(store, caller.actor, caller.account)
    return JSONResponse(
        {
            "account": figures.account,
            "registered": figures.registered,
            "redirected": figures.redirected,
            "unaffiliated": figures.unaffiliated,
            "contacts_day": figures.contacts_day,
            "contacts_week": figures.contacts_week,
            "servers": [
                {
                    "name": s.name,
                    "phones": s.phones,
                    "redirected": s.redirected,
                    "contacts_day": s.contacts_day,
                }
                for s in figures.servers
            ],
        }
    )


@router.get("/audit", response_model=AuditList, summary="Who added, moved or deleted what")
def get_audit(
    caller: CallerDep,
    store: StoreDep,
    mac: str | None = Query(None, max_length=64, description="one MAC's entries"),
    limit: int = Query(200, ge=1, le=1000),
) -> Response:
    found = rcs.audit_log(store, caller.actor, caller.account, mac=mac, limit=limit)
    return JSONResponse(
        {
            "items": [
                {
                    "time": a.time.isoformat(),
                    "actor": a.actor,
                    "via": a.via,
                    "action": a.action,
                    "kind": a.kind,
                    "key": a.key,
                    "summary": a.summary,
                }
                for a in found
            ]
        }
    )


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenOut,
    summary="Create a token scoped to the account",
)
def create_token(body: TokenIn, caller: CallerDep, store: StoreDep) -> Response:
    token, view = passwords.create_token(store, caller.actor, body.role, caller.account)
    return JSONResponse(
        {"id": view.id, "prefix": view.prefix, "role": view.role, "token": token},
        status_code=201,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/accounts", response_model=AccountList, summary="Accounts (plugtone admins)")
def list_accounts(caller: CallerDep, store: StoreDep) -> Response:
    found = rcs.list_accounts(store, caller.actor)
    return JSONResponse(
        {"items": [{"name": a.name, "users": a.users, "phones": a.phones} for a in found]}
    )


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountOut,
    summary="Add an account (plugtone admins)",
)
def add_account(body: AccountIn, caller: CallerDep, store: StoreDep) -> Response:
    view = rcs.add_account(store, caller.actor, body.name)
    return JSONResponse({"name": view.name, "users": 0, "phones": 0}, status_code=201)

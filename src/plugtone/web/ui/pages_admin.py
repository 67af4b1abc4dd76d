"""Unassigned devices (claimed into the inventory), users and tokens, the audit log.

- ``/unassigned``: devices that asked for files but are not in the inventory, by MAC,
  keyset-paged; everyone signed in reads it, operators claim a device (site, model,
  lines) with ``services.devices.claim_device``.
- ``/users``: admins only (as ``services.accounts``): users and their roles, add,
  change role, remove; API tokens listed, created (the token is shown once, on the
  answer to the post, never again) and revoked.
- ``/audit``: admins only (the audit log says who holds which role and when tokens
  were made: ``services.audit``), newest first, keyset-paged, filtered by kind and
  actor.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from plugtone.macaddr import colon_mac
from plugtone.services import accounts, devices, objects
from plugtone.services.actors import Role, require
from plugtone.services.audit import list_audit
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.web.ui.auth import Visit, check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()

NAV = [("Unassigned", "/unassigned", None), ("Users", "/users", Role.ADMIN),
       ("Audit", "/audit", Role.ADMIN)]  # fmt: skip

PAGE = 50
Token = Annotated[str, Form(max_length=256)]
Short = Annotated[str, Form(max_length=255)]
Text = Annotated[str | None, Query(max_length=255)]
ROLES = ("viewer", "operator", "admin")


def _messages(error: Invalid) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for problem in error.problems:
        found.setdefault(problem.where or "form", []).append(problem.message)
    return {name: "; ".join(texts) for name, texts in found.items()}


# -- unassigned devices


def _unassigned_page(request: Request, found: Visit, after: str | None = None,
                     status: int = 200, claim: dict | None = None) -> Response:  # fmt: skip
    store = request.app.state.store
    listed = devices.list_unassigned(store, found.actor, after=after, limit=PAGE)
    sites = [entry["name"] for entry in objects.list_entries(store, found.actor, "site",
                                                                 limit=1000).items]  # fmt: skip
    more = f"/unassigned?{urlencode({'after': listed.next})}" if listed.next else None
    return page(request, found, "admin_unassigned.html", status, rows=listed.items, more=more,
                sites=sites, claim=claim or {}, first=after is None)  # fmt: skip


@router.get("/unassigned")
def unassigned(request: Request, after: Text = None) -> Response:
    return _unassigned_page(request, signed_in(request), after or None)


@router.post("/unassigned/{mac}")
def claim(request: Request, mac: str, csrf: Token = "", site: Short = "", model: Short = "",
          lines: Short = "", description: Short = "") -> Response:  # fmt: skip
    """Claim the device: a phone at ``site`` with the given lines (operators)."""
    found = check_post(request, csrf)
    numbers = [item.strip() or None for item in lines.split(",")] if lines.strip() else []
    form = {"mac": mac, "site": site, "model": model, "lines": lines,
            "description": description}  # fmt: skip
    try:
        result = devices.claim_device(request.app.state.store, found.actor, mac,
                                      site=site.strip(), model=model.strip() or None,
                                      lines=numbers, description=description.strip() or None,
                                      registry=request.app.state.registry)  # fmt: skip
    except Invalid as error:
        return _unassigned_page(request, found, status=422,
                                claim=form | {"errors": _messages(error)})  # fmt: skip
    except (Conflict, NotFound) as error:
        return _unassigned_page(request, found, status=error.status,
                                claim=form | {"errors": {"claim": error.message}})  # fmt: skip
    return RedirectResponse(f"/phones/{colon_mac(result.phone.mac)}", status_code=303)


# -- users and tokens


def _users_page(request: Request, found: Visit, status: int = 200, *,
                errors: dict | None = None, form: dict | None = None,
                message: str | None = None, new_token: str | None = None) -> Response:  # fmt: skip
    store = request.app.state.store
    return page(request, found, "admin_users.html", status,
                users=accounts.list_users(store, found.actor),
                tokens=accounts.list_tokens(store, found.actor), roles=ROLES,
                errors=errors or {}, form=form or {}, message=message,
                new_token=new_token)  # fmt: skip


def _admin(request: Request) -> Visit:
    found = signed_in(request)
    require(found.actor, Role.ADMIN, "managing users")
    return found


@router.get("/users")
def users(request: Request) -> Response:
    return _users_page(request, _admin(request))


@router.post("/users")
def add_user(request: Request, csrf: Token = "", name: Short = "", role: Short = "viewer",
             password: Annotated[str, Form(max_length=1024)] = "") -> Response:  # fmt: skip
    found = check_post(request, csrf)
    try:
        accounts.add_user(request.app.state.store, found.actor, name.strip(), role, password)
    except Invalid as error:
        return _users_page(request, found, 422, errors=_messages(error),
                           form={"name": name, "role": role})  # fmt: skip
    except Conflict as error:
        return _users_page(request, found, 409, errors={"name": error.message},
                           form={"name": name, "role": role})  # fmt: skip
    return _users_page(request, found, message=f"User {name.strip()} is added as {role}.")


@router.post("/users/{name}/role")
def change_role(request: Request, name: str, csrf: Token = "", role: Short = "") -> Response:
    found = check_post(request, csrf)
    try:
        accounts.set_role(request.app.state.store, found.actor, name, role)
    except Invalid as error:
        return _users_page(request, found, 422, message="; ".join(_messages(error).values()))
    except (Conflict, NotFound) as error:
        return _users_page(request, found, error.status, message=error.message)
    return _users_page(request, found, message=f"{name} is now {role}.")


@router.post("/users/{name}/remove")
def remove_user(request: Request, name: str, csrf: Token = "") -> Response:
    found = check_post(request, csrf)
    try:
        accounts.remove_user(request.app.state.store, found.actor, name)
    except (Conflict, NotFound) as error:
        return _users_page(request, found, error.status, message=error.message)
    return _users_page(request, found, message=f"User {name} is removed.")


@router.post("/tokens")
def create_token(request: Request, csrf: Token = "", user: Short = "",
                 expires: Short = "") -> Response:  # fmt: skip
    """A new API token, shown on this answer only (the store keeps its hash)."""
    found = check_post(request, csrf)
    require(found.actor, Role.ADMIN, "managing tokens")
    days = None
    if expires.strip():
        if not expires.strip().isdigit():
            return _users_page(request, found, 422, errors={"expires": "a number of days"},
                               form={"user": user, "expires": expires})  # fmt: skip
        days = int(expires.strip())
    try:
        text, view = accounts.create_token(request.app.state.store, found.actor, user, days)
    except Invalid as error:
        return _users_page(request, found, 422, errors=_messages(error),
                           form={"user": user, "expires": expires})  # fmt: skip
    except NotFound as error:
        return _users_page(request, found, 404, errors={"user": error.message},
                           form={"user": user, "expires": expires})  # fmt: skip
    response = _users_page(request, found, new_token=text,
                           message=f"Token {view.prefix}... is made for {view.user}.")  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tokens/{which}/revoke")
def revoke_token(request: Request, which: str, csrf: Token = "") -> Response:
    found = check_post(request, csrf)
    require(found.actor, Role.ADMIN, "managing tokens")
    try:
        view = accounts.revoke_token(request.app.state.store, found.actor, which)
    except NotFound as error:
        return _users_page(request, found, 404, message=error.message)
    return _users_page(request, found, message=f"Token {view.prefix}... is revoked.")


# -- the audit log


@router.get("/audit")
def audit(request: Request, kind: Text = None, actor: Text = None,
          after: Annotated[str | None, Query(max_length=20)] = None) -> Response:  # fmt: skip
    found = signed_in(request)
    kind, actor = (kind or "").strip() or None, (actor or "").strip() or None
    listed = list_audit(request.app.state.store, found.actor, kind=kind, by=actor,
                        after=after or None, limit=PAGE)  # fmt: skip
    filters = {name: value for name, value in (("kind", kind), ("actor", actor)) if value}
    more = f"/audit?{urlencode({**filters, 'after': listed.next})}" if listed.next else None
    return page(request, found, "admin_audit.html", rows=listed.rows, filters=filters,
                more=more, first=not after)  # fmt: skip

"""The redirection service's accounts, for plugtone admins (``/rcs-accounts``, in the admin
UI's own menu and session): every account with its users, phones and figures; add an
account and its first Super User, who then manages the account at ``/rcs``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from plugtone.redirect import services as rcs
from plugtone.redirect.actors import from_plugtone
from plugtone.services.actors import Role
from plugtone.services.errors import ServiceError
from plugtone.web.ui.auth import Visit, check_post, signed_in
from plugtone.web.ui.render import page

router = APIRouter()
NAV = [("Redirection", "/rcs-accounts", Role.ADMIN)]
Field = Annotated[str, Form(max_length=1024)]


def _accounts_page(request: Request, found: Visit, status: int = 200, **values) -> Response:
    store = request.app.state.store
    admin = from_plugtone(found.actor)
    accounts = rcs.list_accounts(store, admin)
    figures = {account.name: rcs.stats(store, admin, account.name) for account in accounts}
    values.setdefault("errors", {})
    values.setdefault("form", {})
    return page(
        request, found, "rcs_accounts.html", status, accounts=accounts, figures=figures, **values
    )


@router.get("/rcs-accounts")
def accounts(request: Request) -> Response:
    found = signed_in(request)
    from_plugtone(found.actor)  # 403 for anyone but an admin
    return _accounts_page(request, found)


@router.post("/rcs-accounts")
def add_account(
    request: Request, name: Field = "", email: Field = "", password: Field = "", csrf: Field = ""
) -> Response:
    found = check_post(request, csrf)
    admin = from_plugtone(found.actor)
    store = request.app.state.store
    try:
        rcs.add_account(store, admin, name)
    except ServiceError as error:
        return _accounts_page(
            request, found, 422, errors={"name": error.message}, form={"name": name, "email": email}
        )
    if email:
        try:
            rcs.add_user(store, admin, email, "super", password, account=name.strip())
        except ServiceError as error:
            return _accounts_page(
                request,
                found,
                422,
                errors={"email": error.message},
                form={"name": name, "email": email},
                message=f"Account {name.strip()} added; its Super User was not.",
            )
    return _accounts_page(request, found, message=f"Account {name.strip()} added.")

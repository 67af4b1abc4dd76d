"""The redirection service's Users and Branding pages: Super Users only.

A User asking for either gets 403, from the page and, had it been skipped, from the
service (``redirect.services`` checks the role for every caller).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from plugtone.redirect import services as rcs
from plugtone.services.errors import ServiceError
from plugtone.web.ui.auth import Refused
from plugtone.web.ui.rcs_sessions import RcsVisit, check_post, page, to_login, visit

router = APIRouter()
Field = Annotated[str, Form(max_length=1024)]
SUPER_ONLY = "This page is for Super Users."


def _super(found: RcsVisit) -> None:
    if not found.actor.is_super:
        raise Refused(403, SUPER_ONLY)


def _users_page(request: Request, found: RcsVisit, status: int = 200, **values) -> Response:
    values.setdefault("errors", {})
    values.setdefault("form", {})
    users = rcs.list_users(request.app.state.store, found.actor)
    return page(request, found, "rcs_users.html", status, users=users, **values)


@router.get("/rcs/users")
def users(request: Request) -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    _super(found)
    return _users_page(request, found)


@router.post("/rcs/users")
def add_user(
    request: Request,
    email: Field = "",
    name: Field = "",
    role: Field = "user",
    password: Field = "",
    csrf: Field = "",
) -> Response:
    found = check_post(request, csrf)
    _super(found)
    try:
        rcs.add_user(request.app.state.store, found.actor, email, role, password, name=name)
    except ServiceError as error:
        problems = getattr(error, "problems", None)
        field = problems[0].where if problems else "email"
        return _users_page(
            request, found, 422, errors={field: error.message}, form={"email": email, "name": name}
        )
    return _users_page(request, found, message=f"{email.strip().lower()} added.")


@router.post("/rcs/users/role")
def set_role(request: Request, email: Field = "", role: Field = "", csrf: Field = "") -> Response:
    found = check_post(request, csrf)
    _super(found)
    try:
        rcs.set_user_role(request.app.state.store, found.actor, email, role)
    except ServiceError as error:
        return _users_page(request, found, 422, error=error.message)
    return _users_page(request, found, message=f"{email} is now a {role} user.")


@router.post("/rcs/users/delete")
def delete_user(request: Request, email: Field = "", csrf: Field = "") -> Response:
    found = check_post(request, csrf)
    _super(found)
    try:
        rcs.remove_user(request.app.state.store, found.actor, email)
    except ServiceError as error:
        return _users_page(request, found, 422, error=error.message)
    if email.strip().lower() == found.actor.name:
        return RedirectResponse("/rcs/login", status_code=303)
    return _users_page(request, found, message=f"{email} deleted.")


def _vendors(request: Request) -> list[str]:
    return [plugin.name for plugin in request.app.state.registry.plugins]


def _branding_page(request: Request, found: RcsVisit, status: int = 200, **values) -> Response:
    values.setdefault("form", {})
    brandings = rcs.list_brandings(request.app.state.store, found.actor)
    return page(
        request,
        found,
        "rcs_branding.html",
        status,
        brandings=brandings,
        vendors=_vendors(request),
        **values,
    )


@router.get("/rcs/branding")
def branding(request: Request) -> Response:
    found = visit(request)
    if found is None:
        return to_login(request)
    _super(found)
    return _branding_page(request, found)


def _parse(text: str) -> dict[str, str]:
    settings = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"line {number}: write name = value")
        settings[name.strip()] = value.strip()
    return settings


@router.post("/rcs/branding")
async def save_branding(request: Request) -> Response:
    import asyncio

    form = await request.form(max_files=0, max_fields=50)
    values = {key: str(value)[:20_000] for key, value in form.items()}
    found = check_post(request, values.get("csrf"))
    _super(found)
    settings = {}
    try:
        for vendor in _vendors(request):
            parsed = _parse(values.get(f"settings_{vendor}", ""))
            if parsed:
                settings[vendor] = parsed
    except ValueError as error:
        return await asyncio.to_thread(
            _branding_page, request, found, 422, error=str(error), form=values
        )
    try:
        await asyncio.to_thread(
            rcs.save_branding,
            request.app.state.store,
            found.actor,
            request.app.state.registry,
            values.get("name", ""),
            settings,
        )
    except ServiceError as error:
        return await asyncio.to_thread(
            _branding_page, request, found, 422, error=error.message, form=values
        )
    return await asyncio.to_thread(
        _branding_page, request, found, message=f"{values.get('name', '').strip()} saved."
    )


@router.post("/rcs/branding/delete")
def delete_branding(request: Request, name: Field = "", csrf: Field = "") -> Response:
    found = check_post(request, csrf)
    _super(found)
    try:
        rcs.remove_branding(request.app.state.store, found.actor, name)
    except ServiceError as error:
        return _branding_page(request, found, 422, error=error.message)
    return _branding_page(request, found, message=f"{name} deleted.")

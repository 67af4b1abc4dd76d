"""``/api/users``, ``/api/tokens`` and ``/api/me``: who may use the admin API.

Thin over ``services.accounts``, which checks roles: admins manage everyone; anyone
may see who they are, and make, list and revoke their own tokens. A new token's text
is in the answer to its ``POST`` and nowhere else, ever.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query
from starlette.responses import JSONResponse, Response

from plugtone.services import accounts
from plugtone.services.actors import Role
from plugtone.services.errors import NotFound
from plugtone.web.answers import no_content
from plugtone.web.deps import CallerDep, StoreDep
from plugtone.web.schemas import (
    Me,
    NewToken,
    TokenCreate,
    TokenList,
    UserCreate,
    UserList,
    UserOut,
    UserUpdate,
)

router = APIRouter(tags=["accounts"])


def _user(view: accounts.UserView) -> dict[str, Any]:
    return {"name": view.name, "role": view.role, "created_at": view.created_at.isoformat(),
            "password_changed_at": view.password_changed_at.isoformat(),
            "tokens": view.tokens}  # fmt: skip


def _token(view: accounts.TokenView) -> dict[str, Any]:
    def when(value):
        return value.isoformat() if value else None

    return {"id": view.id, "user": view.user, "prefix": view.prefix,
            "created_at": when(view.created_at), "expires_at": when(view.expires_at),
            "revoked_at": when(view.revoked_at), "last_used_at": when(view.last_used_at),
            "state": view.state}  # fmt: skip


def _find(store, actor, name: str) -> accounts.UserView:
    if not accounts.USER_RE.match(name):
        raise NotFound(f"no user {name[:64]!r}")
    for view in accounts.list_users(store, actor):
        if view.name == name:
            return view
    raise NotFound(f"no user {name!r}")


@router.get("/me", response_model=Me, summary="Who the token belongs to")
def me(actor: CallerDep) -> Response:
    return JSONResponse({"name": actor.name, "role": str(actor.role)})


@router.get("/users", response_model=UserList, summary="List users (admins)")
def list_users(actor: CallerDep, store: StoreDep) -> Response:
    return JSONResponse({"items": [_user(view) for view in accounts.list_users(store, actor)]})


@router.post("/users", status_code=201, response_model=UserOut, summary="Add a user (admins)")
def add_user(body: UserCreate, actor: CallerDep, store: StoreDep) -> Response:
    view = accounts.add_user(store, actor, body.name, body.role, body.password)
    return JSONResponse(_user(view), status_code=201,
                        headers={"Location": f"/api/users/{view.name}"})  # fmt: skip


@router.get("/users/{name}", response_model=UserOut, summary="Get a user (admins)")
def get_user(name: str, actor: CallerDep, store: StoreDep) -> Response:
    return JSONResponse(_user(_find(store, actor, name)))


@router.patch("/users/{name}", status_code=204, summary="Change a role or password")
def change_user(name: str, body: UserUpdate, actor: CallerDep, store: StoreDep) -> Response:
    """Admins change anyone's role and password; anyone may change their own password."""
    if not accounts.USER_RE.match(name):
        raise NotFound(f"no user {name[:64]!r}")
    if body.role is not None:
        accounts.set_role(store, actor, name, body.role)
    if body.password is not None:
        accounts.set_password(store, actor, name, body.password)
    return no_content()


@router.delete("/users/{name}", status_code=204, summary="Remove a user (admins)")
def remove_user(name: str, actor: CallerDep, store: StoreDep) -> Response:
    if not accounts.USER_RE.match(name):
        raise NotFound(f"no user {name[:64]!r}")
    accounts.remove_user(store, actor, name)
    return no_content()


@router.get("/tokens", response_model=TokenList, summary="List tokens")
def list_tokens(
    actor: CallerDep, store: StoreDep,
    user: str | None = Query(None, pattern=accounts.USER_RE.pattern,
                             description="default: yours (admins: everyone's)"),
) -> Response:  # fmt: skip
    wanted = user if user is not None else (None if actor.can(Role.ADMIN) else actor.name)
    views = accounts.list_tokens(store, actor, wanted)
    return JSONResponse({"items": [_token(view) for view in views]})


@router.post("/tokens", status_code=201, response_model=NewToken, summary="Create a token")
def create_token(body: TokenCreate, actor: CallerDep, store: StoreDep) -> Response:
    """The token's text is in this answer only; keep it, plugtone cannot show it again."""
    token, view = accounts.create_token(store, actor, body.user or actor.name, body.expires_days)
    return JSONResponse({**_token(view), "token": token}, status_code=201,
                        headers={"Cache-Control": "no-store"})  # fmt: skip


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(
    actor: CallerDep, store: StoreDep, token_id: int = Path(ge=1, le=2**31 - 1)
) -> Response:
    accounts.revoke_token(store, actor, str(token_id))
    return no_content()

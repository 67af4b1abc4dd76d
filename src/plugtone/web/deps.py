"""What an admin API endpoint depends on: its caller, the store, the plug-ins, the
settings, and its body.

Routers (``api_*.py``) take these with ``Depends`` (or the ``...Dep`` aliases below)
and nothing else: the app keeps
the objects on ``app.state``, so a router never builds a store or reads a setting of
its own, and the tests can hand the app any store.

``current_actor`` is synchronous on purpose: the token lookup is a database query,
and FastAPI runs ``def`` dependencies in a worker thread, off the event loop the
phone servers share.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from plugtone.inventory.store import Store
from plugtone.services.accounts import authenticate_token
from plugtone.services.actors import Actor
from plugtone.services.errors import Unauthenticated
from plugtone.services.json_source import JsonError, load_json
from plugtone.settings import Settings
from plugtone.vendors import VendorRegistry
from plugtone.web.problems import BadBody


def current_actor(request: Request) -> Actor:
    """The caller named by ``Authorization: Bearer <token>``; 401 for anyone else."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("an API token is needed: Authorization: Bearer <token>")
    return authenticate_token(get_store(request), token.strip(), via="api")


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_registry(request: Request) -> VendorRegistry:
    return request.app.state.registry


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def json_body(request: Request) -> Any:
    """The body as JSON, read within the body cap (``web.limits``), strictly parsed.

    Inventory entries are read this way rather than as pydantic models: the inventory
    file's checker is their validation, so every problem is reported the file's way.
    """
    raw = await request.body()
    if not raw:
        raise BadBody("a JSON body is needed")
    try:
        return load_json(raw)
    except JsonError as error:
        raise BadBody(str(error)) from None


CallerDep = Annotated[Actor, Depends(current_actor)]
StoreDep = Annotated[Store, Depends(get_store)]
RegistryDep = Annotated[VendorRegistry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
BodyDep = Annotated[Any, Depends(json_body)]

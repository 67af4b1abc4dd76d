"""``/api/extensions`` and ``/api/sites/{site}/extensions/{number}``: SIP accounts.

An extension's key is its site and number, so one extension lives under its site.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from plugtone.services import objects
from plugtone.web import entry_routes as routes
from plugtone.web.answers import AFTER, DRY_RUN, LIMIT, SECRETS, entry, page
from plugtone.web.deps import BodyDep, CallerDep, RegistryDep, StoreDep
from plugtone.web.schemas import ExtensionEntry, ExtensionPage

SiteName = Annotated[str, Path(examples=["hq"])]
Number = Annotated[str, Path(examples=["3003"])]

router = APIRouter(tags=["extensions"])

ONE = "/sites/{site}/extensions/{number}"


def _location(key: str) -> str:
    site, _, number = key.partition("/")
    return f"/api/sites/{quote(site)}/extensions/{quote(number)}"


@router.get("/extensions", response_model=ExtensionPage, summary="List extensions")
def list_extensions(
    actor: CallerDep, store: StoreDep,
    site: str | None = Query(None, max_length=64, description="only this site's"),
    after: str | None = AFTER, limit: int = LIMIT, secrets: bool = SECRETS,
) -> Response:  # fmt: skip
    return page(objects.list_entries(store, actor, "extension", site=site, after=after,
                                     limit=limit, secrets=secrets))  # fmt: skip


@router.post("/extensions", status_code=201, summary="Create an extension", **routes.WRITE,
             openapi_extra=routes.body_of("ExtensionEntry"))  # fmt: skip
def create_extension(actor: CallerDep, body: BodyDep, store: StoreDep, registry: RegistryDep,
                     dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    """409 when the site has that number already."""
    return routes.create(store, actor, registry, "extension", body, dry_run, _location)


@router.get(ONE, response_model=ExtensionEntry, summary="Get an extension")
def get_extension(site: SiteName, number: Number, actor: CallerDep, store: StoreDep,
                  secrets: bool = SECRETS) -> Response:  # fmt: skip
    return entry(objects.get_entry(store, actor, "extension", f"{site}/{number}",
                                   secrets=secrets))  # fmt: skip


@router.put(ONE, summary="Create or replace an extension", **routes.WRITE,
            openapi_extra=routes.body_of("ExtensionEntry"))  # fmt: skip
def put_extension(site: SiteName, number: Number, actor: CallerDep, body: BodyDep, store: StoreDep,
                  registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    """A body whose ``password`` is ``********`` keeps the stored password."""
    key = f"{site}/{number}"
    return routes.replace(store, actor, registry, "extension", key, body, dry_run)


@router.patch(ONE, summary="Change some fields of an extension", **routes.WRITE,
              openapi_extra=routes.patch_of("ExtensionEntry"))  # fmt: skip
def patch_extension(
    site: SiteName, number: Number, actor: CallerDep, body: BodyDep, store: StoreDep,
    registry: RegistryDep, dry_run: bool = DRY_RUN,
) -> Response:  # fmt: skip
    key = f"{site}/{number}"
    return routes.merge(store, actor, registry, "extension", key, body, dry_run)


@router.delete(ONE, status_code=204, summary="Delete an extension")
def delete_extension(site: SiteName, number: Number, actor: CallerDep, store: StoreDep) -> Response:
    """409 while it is on a line of a phone."""
    objects.delete_extension(store, actor, site, number)
    return routes.deleted()

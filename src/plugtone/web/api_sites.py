"""``/api/sites``: sites, and each site's directory contacts."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from starlette.responses import JSONResponse, Response

from plugtone.services import objects
from plugtone.web import entry_routes as routes
from plugtone.web.answers import AFTER, DRY_RUN, LIMIT, SECRETS, changes, entry, page
from plugtone.web.deps import BodyDep, CallerDep, RegistryDep, StoreDep
from plugtone.web.schemas import Contact, SiteEntry, SitePage

SiteName = Annotated[str, Path(examples=["hq"])]

router = APIRouter(tags=["sites"])


def _location(name: str) -> str:
    return f"/api/sites/{quote(name)}"


@router.get("/sites", response_model=SitePage, summary="List sites")
def list_sites(actor: CallerDep, store: StoreDep, after: str | None = AFTER,
               limit: int = LIMIT, secrets: bool = SECRETS) -> Response:  # fmt: skip
    return page(objects.list_entries(store, actor, "site", after=after, limit=limit,
                                     secrets=secrets))  # fmt: skip


@router.post("/sites", status_code=201, summary="Create a site", **routes.WRITE,
             openapi_extra=routes.body_of("SiteEntry"))  # fmt: skip
def create_site(actor: CallerDep, body: BodyDep, store: StoreDep, registry: RegistryDep,
                dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    """409 when a site of that name exists (``PUT`` replaces one)."""
    return routes.create(store, actor, registry, "site", body, dry_run, _location)


@router.get("/sites/{name}", response_model=SiteEntry, summary="Get a site")
def get_site(
    name: SiteName, actor: CallerDep, store: StoreDep, secrets: bool = SECRETS
) -> Response:
    return entry(objects.get_entry(store, actor, "site", name, secrets=secrets))


@router.put("/sites/{name}", summary="Create or replace a site", **routes.WRITE,
            openapi_extra=routes.body_of("SiteEntry"))  # fmt: skip
def put_site(name: SiteName, actor: CallerDep, body: BodyDep, store: StoreDep,
             registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    return routes.replace(store, actor, registry, "site", name, body, dry_run)


@router.patch("/sites/{name}", summary="Change some fields of a site", **routes.WRITE,
              openapi_extra=routes.patch_of("SiteEntry"))  # fmt: skip
def patch_site(name: SiteName, actor: CallerDep, body: BodyDep, store: StoreDep,
               registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    return routes.merge(store, actor, registry, "site", name, body, dry_run)


@router.delete("/sites/{name}", status_code=204, summary="Delete a site")
def delete_site(name: SiteName, actor: CallerDep, store: StoreDep) -> Response:
    """With its extensions; 409 while it has phones or one of its extensions is on a line."""
    objects.delete_site(store, actor, name)
    return routes.deleted()


@router.get("/sites/{name}/contacts", response_model=list[Contact],
            summary="A site's directory contacts")  # fmt: skip
def get_contacts(name: SiteName, actor: CallerDep, store: StoreDep) -> Response:
    return JSONResponse(objects.get_contacts(store, actor, name))


_CONTACTS = {"type": "array", "items": {"$ref": "#/components/schemas/Contact"}}


@router.put(
    "/sites/{name}/contacts", summary="Replace a site's directory contacts", **routes.WRITE,
    openapi_extra={"requestBody": {"required": True,
                                   "content": {"application/json": {"schema": _CONTACTS}}}},
)  # fmt: skip
def put_contacts(name: SiteName, actor: CallerDep, body: BodyDep, store: StoreDep,
                 registry: RegistryDep) -> Response:  # fmt: skip
    return changes(objects.replace_contacts(store, actor, registry, name, body))

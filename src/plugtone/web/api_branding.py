"""``/api/branding``: branding sets. Their logo and files are named by SHA-256 of
content already stored (as ``plugtone export`` writes them): a body never names a
file on the server."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path
from starlette.responses import Response

from plugtone.services import objects
from plugtone.web import entry_routes as routes
from plugtone.web.answers import AFTER, DRY_RUN, LIMIT, entry, page
from plugtone.web.deps import BodyDep, CallerDep, RegistryDep, StoreDep
from plugtone.web.schemas import BrandingEntry, BrandingPage

BrandingName = Annotated[str, Path(examples=["lab-look"])]

router = APIRouter(tags=["branding"])


def _location(name: str) -> str:
    return f"/api/branding/{quote(name)}"


@router.get("/branding", response_model=BrandingPage, summary="List branding sets")
def list_brandings(actor: CallerDep, store: StoreDep, after: str | None = AFTER,
                   limit: int = LIMIT) -> Response:  # fmt: skip
    return page(objects.list_entries(store, actor, "branding", after=after, limit=limit))


@router.post("/branding", status_code=201, summary="Create a branding set", **routes.WRITE,
             openapi_extra=routes.body_of("BrandingEntry"))  # fmt: skip
def create_branding(actor: CallerDep, body: BodyDep, store: StoreDep, registry: RegistryDep,
                    dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    return routes.create(store, actor, registry, "branding", body, dry_run, _location)


@router.get("/branding/{name}", response_model=BrandingEntry, summary="Get a branding set")
def get_branding(name: BrandingName, actor: CallerDep, store: StoreDep) -> Response:
    return entry(objects.get_entry(store, actor, "branding", name))


@router.put("/branding/{name}", summary="Create or replace a branding set", **routes.WRITE,
            openapi_extra=routes.body_of("BrandingEntry"))  # fmt: skip
def put_branding(name: BrandingName, actor: CallerDep, body: BodyDep, store: StoreDep,
                 registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    return routes.replace(store, actor, registry, "branding", name, body, dry_run)


@router.delete("/branding/{name}", status_code=204, summary="Delete a branding set")
def delete_branding(name: BrandingName, actor: CallerDep, store: StoreDep) -> Response:
    """409 while a site or phone has it."""
    objects.delete_branding(store, actor, name)
    return routes.deleted()

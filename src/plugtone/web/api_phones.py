"""``/api/phones``: phones by Mac, in any notation (``00:08:5D:00:00:01``, ``00085d000001``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from plugtone.macaddr import colon_mac
from plugtone.services import objects
from plugtone.web import entry_routes as routes
from plugtone.web.answers import AFTER, DRY_RUN, LIMIT, SECRETS, entry, page
from plugtone.web.deps import BodyDep, CallerDep, RegistryDep, StoreDep
from plugtone.web.schemas import PhoneEntry, PhonePage

Mac = Annotated[str, Path(examples=["00:08:5D:00:00:01"])]

router = APIRouter(tags=["phones"])


def _location(mac: str) -> str:
    return f"/api/phones/{colon_mac(mac)}"


@router.get("/phones", response_model=PhonePage, summary="List or search phones")
def list_phones(
    actor: CallerDep, store: StoreDep,
    site: str | None = Query(None, max_length=64, description="only this site's"),
    model: str | None = Query(None, max_length=64, description="only this model"),
    vendor: str | None = Query(None, max_length=32, description="only this vendor's"),
    q: str | None = Query(None, max_length=255,
                          description="a Mac prefix in any notation, or part of the description"),
    after: str | None = AFTER, limit: int = LIMIT, secrets: bool = SECRETS,
) -> Response:  # fmt: skip
    return page(objects.list_entries(store, actor, "phone", site=site, model=model,
                                     vendor=vendor, q=q, after=after, limit=limit,
                                     secrets=secrets))  # fmt: skip


@router.post("/phones", status_code=201, summary="Create a phone", **routes.WRITE,
             openapi_extra=routes.body_of("PhoneEntry"))  # fmt: skip
def create_phone(actor: CallerDep, body: BodyDep, store: StoreDep, registry: RegistryDep,
                 dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    """409 when a phone has that Mac already."""
    return routes.create(store, actor, registry, "phone", body, dry_run, _location)


@router.get("/phones/{mac}", response_model=PhoneEntry, summary="Get a phone")
def get_phone(mac: Mac, actor: CallerDep, store: StoreDep, secrets: bool = SECRETS) -> Response:
    return entry(objects.get_entry(store, actor, "phone", objects.phone_mac(mac), secrets=secrets))


@router.put("/phones/{mac}", summary="Create or replace a phone", **routes.WRITE,
            openapi_extra=routes.body_of("PhoneEntry"))  # fmt: skip
def put_phone(mac: Mac, actor: CallerDep, body: BodyDep, store: StoreDep,
              registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    key = objects.phone_mac(mac)
    return routes.replace(store, actor, registry, "phone", key, body, dry_run)


@router.patch("/phones/{mac}", summary="Change some fields of a phone", **routes.WRITE,
              openapi_extra=routes.patch_of("PhoneEntry"))  # fmt: skip
def patch_phone(mac: Mac, actor: CallerDep, body: BodyDep, store: StoreDep,
                registry: RegistryDep, dry_run: bool = DRY_RUN) -> Response:  # fmt: skip
    key = objects.phone_mac(mac)
    return routes.merge(store, actor, registry, "phone", key, body, dry_run)


@router.delete("/phones/{mac}", status_code=204, summary="Delete a phone")
def delete_phone(mac: Mac, actor: CallerDep, store: StoreDep) -> Response:
    objects.delete_phone(store, actor, objects.phone_mac(mac))
    return routes.deleted()

"""``/api/inventory``: the whole inventory document, read and applied as JSON.

The same document ``plugtone export`` writes and ``plugtone apply`` reads, in JSON:
``GET`` then ``PUT`` of what came back changes nothing (masked passwords keep the
stored ones).
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import JSONResponse, Response

from plugtone.services.inventory import export_inventory
from plugtone.services.objects import put_document
from plugtone.web.answers import DRY_RUN, SECRETS, changes
from plugtone.web.deps import BodyDep, CallerDep, RegistryDep, StoreDep
from plugtone.web.schemas import Changes, InventoryDocument

router = APIRouter(tags=["inventory"])

_BODY = {"$ref": "#/components/schemas/InventoryDocument"}


@router.get("/inventory", response_model=InventoryDocument, summary="Export the inventory")
def get_inventory(actor: CallerDep, store: StoreDep, secrets: bool = SECRETS) -> Response:
    return JSONResponse(export_inventory(store, actor, secrets=secrets))


@router.put(
    "/inventory", response_model=Changes, summary="Apply an inventory document",
    openapi_extra={"requestBody": {"required": True,
                                   "content": {"application/json": {"schema": _BODY}}}},
)  # fmt: skip
def put_inventory(
    actor: CallerDep, body: BodyDep, store: StoreDep, registry: RegistryDep,
    dry_run: bool = DRY_RUN,
    prune: bool = Query(False, description="also delete what the document leaves out (admins)"),
) -> Response:  # fmt: skip
    """Make the store match the document, in one transaction, like ``plugtone apply``."""
    return changes(put_document(store, actor, registry, body, prune=prune, dry_run=dry_run))

"""What the routers of sites, extensions, phones and branding sets share.

Each is a thin face over ``services.objects``: a body is the inventory file's entry,
read as JSON and checked by the file's checker; writes answer the changes made.
"""

from __future__ import annotations

from typing import Any

from plugtone.inventory.store import Store
from plugtone.services import objects
from plugtone.services.actors import Actor
from plugtone.vendors import VendorRegistry
from plugtone.web.answers import changes, no_content
from plugtone.web.schemas import Changes

PATCH_TYPES = ("application/merge-patch+json", "application/json")


def body_of(schema: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body of ``components/schemas/<schema>``."""
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def patch_of(schema: str) -> dict[str, Any]:
    """``openapi_extra`` declaring an RFC 7396 merge patch of that schema's entries."""
    patch = {"type": "object", "description": f"a merge patch of a {schema}: null removes"}
    content = {kind: {"schema": patch} for kind in PATCH_TYPES}
    return {"requestBody": {"required": True, "content": content}}


WRITE = {"response_model": Changes}


def create(store: Store, actor: Actor, registry: VendorRegistry, kind: str, body: Any,
           dry_run: bool, location) -> Any:  # fmt: skip
    result, key = objects.create_entry(store, actor, registry, kind, body, dry_run=dry_run)
    return changes(result, status=201, location=location(key))


def replace(store: Store, actor: Actor, registry: VendorRegistry, kind: str, key: str,
            body: Any, dry_run: bool) -> Any:  # fmt: skip
    return changes(objects.put_entry(store, actor, registry, kind, key, body, dry_run=dry_run))


def merge(store: Store, actor: Actor, registry: VendorRegistry, kind: str, key: str,
          body: Any, dry_run: bool) -> Any:  # fmt: skip
    return changes(objects.patch_entry(store, actor, registry, kind, key, body, dry_run=dry_run))


def deleted() -> Any:
    return no_content()

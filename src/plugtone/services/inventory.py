"""Apply and export the inventory as one document: the file, the API and the UI.

``apply_inventory`` is the one path every inventory change takes, whatever its face:
an applied file, an API call that changes one phone (a one-entry document), a CSV
import. Field rules are therefore the inventory file's (``inventory/document.py``),
written once.
"""

from __future__ import annotations

from typing import Any

from plugtone.inventory.document import Document
from plugtone.inventory.store import Store
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Invalid
from plugtone.services.inventory_apply import ApplyRefused, ApplyResult, apply_document
from plugtone.services.inventory_export import export_document
from plugtone.services.unit_of_work import reading, unit_of_work
from plugtone.vendors import VendorRegistry


def apply_inventory(
    store: Store,
    actor: Actor,
    document: Document,
    registry: VendorRegistry,
    *,
    prune: bool = False,
    dry_run: bool = False,
) -> ApplyResult:
    """Make the store match ``document``; every change is role-checked and audited.

    A dry run computes exactly what a real apply would do and writes nothing.
    """
    with unit_of_work(store, actor, dry_run=dry_run) as work:
        work.require(Role.OPERATOR, "changing the inventory")
        if prune:
            work.require(Role.ADMIN, "pruning the inventory")
        work.lock()
        try:
            result = apply_document(work.session, document, prune=prune, registry=registry)
        except ApplyRefused as refused:
            raise Invalid(refused.problems) from None
        work.authorize(change.kind for change in result.changes)
        work.audit_changes(result.changes)
        return result


def export_inventory(store: Store, actor: Actor) -> dict[str, Any]:
    """The whole inventory in the inventory file's shape (secrets included for admins)."""
    with reading(store, actor) as session:
        return export_document(session)

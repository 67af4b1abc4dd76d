"""Raw vendor settings that hold secrets: masked on the way out, kept on the way in.

A raw key can carry a password (``admin password``, ``reg.1.auth.password``...). Each
vendor plug-in says which of its names do (:meth:`VendorPlugin.is_secret_setting`);
exports without secrets show those values as :data:`MASK`, exactly as they show SIP
passwords, and applying a file that still holds the mask keeps the stored value, so an
exported inventory can be edited and applied again without retyping every secret.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.inventory.document import Document, Problem
from plugtone.inventory.models import BrandingSet, ModelProfile, Phone, Site, VendorSetting
from plugtone.services.unit_of_work import MASK
from plugtone.vendors import VendorRegistry, default_registry


@cache
def _registry() -> VendorRegistry:
    return default_registry()


def is_secret_setting(vendor: str, name: str) -> bool:
    """Whether the plug-in of ``vendor`` calls its raw setting ``name`` a secret."""
    plugin = _registry().by_name.get(vendor)
    return plugin is not None and plugin.is_secret_setting(name)


def masked(vendor: str, settings: Mapping[str, str]) -> dict[str, str]:
    """``settings`` of ``vendor`` with each secret value replaced by :data:`MASK`."""
    return {name: MASK if is_secret_setting(vendor, name) else value
            for name, value in settings.items()}  # fmt: skip


_OWNERS = {
    "sites": (Site, Site.name, VendorSetting.site_id, "name"),
    "branding": (BrandingSet, BrandingSet.name, VendorSetting.branding_id, "name"),
    "phones": (Phone, Phone.mac, VendorSetting.phone_id, "mac"),
    "models": (ModelProfile, ModelProfile.model, VendorSetting.model_profile_id, "model"),
}
"""Document list -> (owner table, its key column, the settings' owner column, spec field)."""
NESTED = frozenset({"sites", "branding"})
"""Specs whose ``vendor_settings`` are ``{vendor: {name: value}}``; the others hold one
vendor's ``{name: value}``."""


def keep_masked_settings(session: Session, document: Document) -> tuple[Document, list[Problem]]:
    """``document`` with each masked raw setting replaced by the stored value; a mask
    with nothing stored to keep is a problem (the mask is never a value)."""
    problems: list[Problem] = []
    changes: dict[str, list] = {}
    for kind, (table, key_column, owner_column, field) in _OWNERS.items():
        specs = getattr(document, kind)
        wanted = [spec for spec in specs if _has_mask(spec.vendor_settings, kind in NESTED)]
        if not wanted:
            continue
        stored: dict[tuple[str, str], list[tuple[str, str]]] = {}
        keys = [getattr(spec, field) for spec in wanted]
        for start in range(0, len(keys), 500):
            rows = session.execute(
                select(key_column, VendorSetting.vendor, VendorSetting.name, VendorSetting.value)
                .join(table, table.id == owner_column)
                .where(key_column.in_(keys[start : start + 500]))
            )
            for owner, vendor, name, value in rows:
                stored.setdefault((owner, name), []).append((vendor, value))
        masked_ids = {id(spec) for spec in wanted}
        replaced = []
        for spec in specs:
            if id(spec) in masked_ids:
                owner = getattr(spec, field)
                settings = _kept(spec, owner, stored, kind in NESTED, problems)
                spec = dataclasses.replace(spec, vendor_settings=settings)
            replaced.append(spec)
        changes[kind] = replaced
    return (dataclasses.replace(document, **changes) if changes else document), problems


def _has_mask(settings: Mapping, nested: bool) -> bool:
    groups = settings.values() if nested else [settings]
    return any(value == MASK for group in groups for value in group.values())


def _kept(spec, owner: str, stored: dict, nested: bool, problems: list[Problem]):
    def keep(vendor: str | None, values: Mapping[str, str]) -> dict[str, str]:
        result = {}
        for name, value in values.items():
            if value == MASK:
                found = [kept for ven, kept in stored.get((owner, name), ())
                         if vendor is None or ven == vendor]  # fmt: skip
                if not found:
                    problems.append(Problem(
                        spec.where,
                        f"vendor_settings {name!r} is {MASK!r}, the mask exports show in place "
                        "of a secret, but nothing is stored to keep: send the value itself",
                    ))  # fmt: skip
                    continue
                value = found[0]
            result[name] = value
        return result

    if nested:
        return {vendor: keep(vendor, values) for vendor, values in spec.vendor_settings.items()}
    return keep(None, spec.vendor_settings)

"""Which stored release a phone with no pin is known to run, for the configuration files
a vendor ships with its releases (stock ``sip.cfg`` files and the like).

Those files must be used with their own release, so a phone is given a release's
files only when plugtone knows it runs that release: pinned to it (the pin decides,
see :mod:`plugtone.firmware.targets`), else identified as running it. This module is
the second case, as pure functions over frozen views: the releases come from the
store once per inventory generation, the evidence from the request and from what
the resolver remembers of the device.

Evidence is weighed in order, and a version that matches no release is no evidence
either way: some phones' boot code reports its own version in the User-Agent of
their first requests and the application's later, so a User-Agent that names no
stored release falls back to the remembered version rather than concluding the
phone runs nothing plugtone has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from plugtone.firmware.repository import release_view
from plugtone.inventory.models import FirmwareRelease
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import FirmwareView, VendorPlugin


def config_releases(
    session: Session, registry: VendorRegistry
) -> dict[str, tuple[FirmwareView, ...]]:
    """By vendor, the stored releases that hold release configuration files (two
    queries, whatever the number of releases; the resolver reads them once per
    inventory generation, which adding or removing such a release moves)."""
    found: dict[str, list[FirmwareView]] = {}
    rows = session.scalars(
        select(FirmwareRelease)
        .options(selectinload(FirmwareRelease.files))
        .order_by(FirmwareRelease.id)
    )
    for row in rows:
        plugin = registry.by_name.get(row.vendor)
        if plugin is None:
            continue
        view = release_view(row)
        if holds_release_config(plugin, view):
            found.setdefault(row.vendor, []).append(view)
    return {vendor: tuple(views) for vendor, views in found.items()}


def holds_release_config(plugin: VendorPlugin, release: FirmwareView) -> bool:
    """Whether ``release`` holds a configuration file its vendor ships with releases."""
    return any(plugin.is_release_config(item.name) for item in release.files)


def running_release(
    plugin: VendorPlugin,
    releases: Sequence[FirmwareView],
    model: str,
    versions: Iterable[str | None],
) -> FirmwareView | None:
    """The release of ``releases`` for ``model`` that the first matching version names.

    ``versions`` are the evidence, strongest first (this request's User-Agent, then the
    remembered running version); each is matched with the plug-in's own
    :meth:`~plugtone.vendors.base.VendorPlugin.version_matches`, so ``3.2.7.0184``
    runs release ``3.2.7``. When several releases match one version, the most
    specific (longest) version wins: ``3.2.7.0184`` over ``3.2.7``.
    """
    candidates = [release for release in releases if model in release.models]
    if not candidates:
        return None
    for version in versions:
        if not version:
            continue
        matching = [
            release for release in candidates if plugin.version_matches(version, release.version)
        ]
        if matching:
            return max(matching, key=lambda release: len(release.version))
    return None

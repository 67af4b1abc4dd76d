"""Write rendered files out as a static tree (``plugtone export-tree DIR``).

The tree is what a plain TFTP or HTTP server would need to serve the same phones: the
benchmarks point in.tftpd, dnsmasq and nginx at it to compare them with plugtone on
identical bytes, and it is a way out for anyone leaving plugtone.

Every file goes through the resolver exactly as a phone's request would, so the tree
holds byte for byte what the phone-facing transports serve.  Which names exist is the
vendor plug-ins' knowledge (:meth:`VendorPlugin.served_files`), asked for the models and
MACs of each vendor's phones in the inventory; a caller may also pass its own list.

Device files hold SIP passwords, and plugtone otherwise never writes a secret to disk:
files are created readable by their owner only unless the caller asks otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select

from plugtone.inventory.models import Phone
from plugtone.inventory.store import Store
from plugtone.provisioning.resolver import FileRequest, Resolver, Status, clean_path
from plugtone.vendors import VendorRegistry

TRANSPORT = "export"

ExportItem = str | tuple[str, str | None]
"""A path to resolve, or ``(path, MAC)`` for a device file whose name carries no MAC."""


def export_tree(
    store: Store,
    registry: VendorRegistry,
    directory: Path,
    items: Iterable[ExportItem] | None = None,
    *,
    file_mode: int = 0o600,
    dir_mode: int = 0o700,
) -> int:
    """Resolve each item and write every file served under ``directory``.

    ``items`` defaults to every file the plug-ins serve to the inventory's phones.
    Returns the number of files written.  Names the resolver does not serve (unknown
    file, unassigned MAC, refused path) are skipped; a name listed twice is written once.
    """
    resolver = Resolver(store, registry)
    resolver.refresh(force=True)
    if items is None:
        items = served_files(store, registry)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, dir_mode)
    written: set[str] = set()
    for item in items:
        path, mac = (item, None) if isinstance(item, str) else item
        relative = clean_path(path)
        if relative is None or relative in written:
            continue
        answer = resolver.resolve(FileRequest(path=path, transport=TRANSPORT, mac=mac, local=True))
        if answer.status is not Status.OK or answer.content is None:
            continue
        _write(directory, relative, answer.content, file_mode, dir_mode)
        written.add(relative)
    return len(written)


def served_files(store: Store, registry: VendorRegistry) -> list[str]:
    """Every path some plug-in serves to the phones in the inventory, vendor by vendor."""
    with store.sessions() as session:
        phones = session.execute(select(Phone.vendor, Phone.model, Phone.mac)).all()
    paths: list[str] = []
    for plugin in registry.plugins:
        own = [(model, mac) for vendor, model, mac in phones if vendor == plugin.name]
        if own:
            paths += plugin.served_files([model for model, _ in own], [mac for _, mac in own])
    return paths


def _write(directory: Path, relative: str, content: bytes, file_mode: int, dir_mode: int) -> None:
    """Write one file, creating its folders; ``relative`` is already a clean path."""
    target = directory.joinpath(*relative.split("/"))
    parent = target.parent
    if parent != directory:
        parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    os.chmod(target, file_mode)

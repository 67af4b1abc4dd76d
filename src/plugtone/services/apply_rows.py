"""The owned rows of a planned apply: lines, keys, raw settings and pins, per owner.

Owned rows have no identity of their own worth keeping: a phone's lines or keys are
replaced together when they differ at all, a raw setting by name. Pins are the
exception: an unchanged pin keeps its row, so its frozen first wave and promotion
survive re-applying a file. Each method returns the words for ``details``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from plugtone.inventory.document import Document, PinSpec
from plugtone.services.apply_changes import (
    Change,
    action_for,
    pin_fields,
    pin_selector,
    pin_spec_fields,
)
from plugtone.services.apply_snapshot import ExtensionKey, KeyTuple, Owner, Snapshot
from plugtone.services.apply_writes import Ref, RowWrites
from plugtone.services.firmware_pins import pin_steps

PinPlaces = dict[tuple[str, int | Ref, str | None], str]
"""``(column, owner, applies_to)`` -> where the pin was written, for settle's messages."""


class RowPlanner:
    """The row writes and changes of one plan, and how owned rows are replaced."""

    def __init__(self, snapshot: Snapshot, document: Document, prune: bool) -> None:
        self.snap = snapshot
        self.document = document
        self.prune = prune
        self.changes: list[Change] = []
        self.writes = RowWrites()
        self.pin_places: PinPlaces = {}
        self.now = datetime.now(UTC)
        self.new_blobs: set[str] = set()
        self.released_logins: list[int] = []
        """Stored phones whose provisioning login changes (see ``Planner.plan``)."""

    def record(
        self,
        action: str,
        kind: str,
        key: str,
        details: list[str] | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.changes.append(Change(action, kind, key, details or [], before, after))

    def branding_id(self, name: str | None) -> int | Ref | None:
        if not name:
            return None
        row = self.snap.brandings.get(name)
        return row.id if row is not None else Ref("branding", name)

    def site_id(self, name: str) -> int | Ref:
        row = self.snap.sites.get(name)
        return row.id if row is not None else Ref("site", name)

    def extension_id(self, key: ExtensionKey) -> int | Ref:
        row = self.snap.extensions.get(key)
        return row.id if row is not None else Ref("extension", key)

    # sites

    def store_blob(self, sha256: str, content: bytes | None, media_type: str) -> None:
        """Keep content once, by hash (a reference by hash must already be stored)."""
        if content is None or sha256 in self.snap.blobs or sha256 in self.new_blobs:
            return
        self.new_blobs.add(sha256)
        self.writes.insert(
            "blobs",
            {"sha256": sha256, "media_type": media_type, "size": len(content), "content": content},
        )

    # extensions and models

    def replace_lines(
        self,
        owner: int | Ref,
        stored: bool,
        current: dict[int, ExtensionKey],
        wanted: dict[int, ExtensionKey],
    ) -> list[str]:
        if current == wanted:
            return []
        if stored:
            assert isinstance(owner, int)
            self.writes.owner_deletes[("line_assignments", "phone_id")].append(owner)
        for index, key in sorted(wanted.items()):
            self.writes.insert(
                "line_assignments",
                {"phone_id": owner, "index": index, "extension_id": self.extension_id(key)},
            )
        shown = ", ".join(
            f"{index}={site}/{number}" for index, (site, number) in sorted(wanted.items())
        )
        return [f"lines -> {shown or 'none'}"]

    def replace_keys(
        self, owner: tuple[str, int | Ref], current: list[KeyTuple], wanted: list[KeyTuple]
    ) -> list[str]:
        if current == wanted:
            return []
        column, owner_id = owner
        if current:
            assert isinstance(owner_id, int)
            self.writes.owner_deletes[("keys", column)].append(owner_id)
        other = "phone_id" if column == "site_id" else "site_id"
        for position, (kind, value, label, line, family, slot) in enumerate(wanted, start=1):
            self.writes.insert(
                "keys",
                {
                    column: owner_id,
                    other: None,
                    "position": position,
                    "type": kind,
                    "value": value,
                    "label": label,
                    "line": line,
                    "family": family,
                    "slot": slot,
                },
            )
        return [f"keys -> {len(wanted)} key(s)"]

    def replace_settings(
        self,
        owner: tuple[str, int | Ref],
        vendor: str,
        current: dict[str, tuple[int, str]],
        wanted: dict[str, str],
    ) -> list[str]:
        values = {name: value for name, (_, value) in current.items()}
        if values == wanted:
            return []
        column, owner_id = owner
        diffs = []
        for name in sorted(set(values) | set(wanted)):
            if name not in wanted:
                self.writes.deletes["vendor_settings"].append(current[name][0])
                diffs.append(f"{vendor} {name!r} removed")
            elif name not in values:
                row = dict.fromkeys(("site_id", "model_profile_id", "phone_id", "branding_id"))
                row.update(
                    {column: owner_id, "vendor": vendor, "name": name, "value": wanted[name]}
                )
                self.writes.insert("vendor_settings", row)
                diffs.append(f"{vendor} {name!r} = {wanted[name]!r}")
            elif values[name] != wanted[name]:
                self.writes.updates["vendor_settings"].append(
                    {"id": current[name][0], "value": wanted[name]}
                )
                diffs.append(f"{vendor} {name!r}: {values[name]!r} -> {wanted[name]!r}")
        return diffs

    def replace_pins(
        self,
        column: str,
        owner: int | Ref,
        key: str,
        current: dict[str | None, Any],
        specs: list[PinSpec],
    ) -> None:
        """Make one owner's pins match ``specs`` by :func:`firmware_pins.pin_steps`, the
        rule ``plugtone firmware pin`` follows too, as bulk row writes."""
        for spec in specs:
            self.pin_places[(column, owner, spec.applies_to)] = spec.where
        by_place = {spec.applies_to: spec for spec in specs}
        diffs = []
        for step in pin_steps(current, specs):
            row = current.get(step.applies_to)
            if step.action == "force":
                self.writes.updates["firmware_pins"].append({"id": row.id, "forced": True})
            if step.action in ("keep", "force"):
                continue
            diffs.append(step.diff)
            if row is not None:
                self.writes.deletes["firmware_pins"].append(row.id)
            if step.action == "remove":
                continue
            spec = by_place[step.applies_to]
            pin = dict.fromkeys(("site_id", "model_profile_id", "phone_id"))
            pin.update(
                {
                    column: owner,
                    "applies_to": step.applies_to,
                    "version": spec.version,
                    "previous_version": step.previous,
                    "first_wave": spec.first_wave,
                    "wave": step.wave,
                    "promoted": False,
                    "forced": spec.force,
                    "changed_at": self.now,
                }
            )
            self.writes.insert("firmware_pins", pin)
        if diffs:
            before = {pin_selector(name): pin_fields(row) for name, row in current.items()}
            after = {pin_selector(spec.applies_to): pin_spec_fields(spec) for spec in specs}
            self.record(action_for(before, after), "pin", key, diffs, before or None, after or None)

    def pins_gone(self, owner: Owner, key: str) -> None:
        """A deleted owner's pins go with it (the schema cascades): say so."""
        pins = self.snap.pins.get(owner, {})
        if pins:
            labels = [f"firmware{f' ({name})' if name else ''} pin removed" for name in pins]
            before = {pin_selector(name): pin_fields(row) for name, row in pins.items()}
            self.record("delete", "pin", key, sorted(labels, key=str), before)

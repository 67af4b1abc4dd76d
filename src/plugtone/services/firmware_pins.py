"""Firmware pins in the store: set, check, stage and promote.

The inventory file (``firmware:`` on models, sites and phones) and the pin use
cases of ``services.firmware`` (the CLI, the API) both end here, so a pin follows
one set of rules: every phone a pin governs must have a release of that version for
its model, a pin the vendor plug-in calls risky (a downgrade below a stated floor)
needs ``force``, and a staged pin's first wave is chosen once, when it is set.
What each phone should run is ``firmware.targets``: the provisioning side reads it
on every boot and must not depend on this layer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.firmware.pins import NONE, choose_wave, governing, target
from plugtone.firmware.repository import release_view
from plugtone.firmware.targets import OwnerKey, PinTable, owner_key
from plugtone.inventory.document import PinSpec
from plugtone.inventory.models import FirmwarePin, FirmwareRelease, ModelProfile, Phone, Site
from plugtone.vendors import VendorRegistry

__all__ = ["OwnerKey", "describe", "new_pin", "promote", "replace_pins", "settle"]


def new_pin(
    column: str,
    owner_id: int,
    version: str,
    *,
    applies_to: str | None = None,
    previous_version: str | None = None,
    first_wave: str | None = None,
    wave: list[str] | None = None,
    forced: bool = False,
) -> FirmwarePin:
    return FirmwarePin(
        **{column: owner_id},
        applies_to=applies_to,
        version=version,
        previous_version=previous_version,
        first_wave=first_wave,
        wave=wave,
        promoted=False,
        forced=forced,
        changed_at=datetime.now(UTC),
    )


@dataclass(frozen=True)
class PinStep:
    """What making one pin place match its spec takes (see :func:`pin_steps`)."""

    applies_to: str | None
    action: str
    """``remove``, ``keep`` (same version and wave: its state stays), ``force`` (keep,
    now forced) or ``replace`` (a new row: version or wave changed)."""
    diff: str | None = None
    previous: str | None = None
    """For ``replace``: the version the phones outside a first wave keep."""
    wave: list[str] | None = None


def pin_steps(current: Mapping[str | None, Any], specs: list[PinSpec]) -> list[PinStep]:
    """Make one owner's pins (rows by ``applies_to``) match ``specs``: the one rule.

    A pin is unchanged when version and wave request are the same, so re-applying a
    file never undoes a ``firmware promote``. A changed version remembers the one it
    replaces: the phones outside a staged pin's first wave keep that one. ``current``
    holds ORM rows or plain row tuples alike (``version``, ``first_wave``, ``wave``,
    ``forced``, ``previous_version``).
    """
    wanted = {spec.applies_to: spec for spec in specs}
    steps = []
    for applies_to in sorted(set(current) | set(wanted), key=lambda key: key or ""):
        row, spec = current.get(applies_to), wanted.get(applies_to)
        label = f"firmware{f' ({applies_to})' if applies_to else ''}"
        if spec is None:
            steps.append(PinStep(applies_to, "remove", f"{label} pin removed"))
            continue
        wave = sorted(spec.wave) if spec.first_wave == "list" else None
        if (
            row is not None
            and row.version == spec.version
            and row.first_wave == spec.first_wave
            and (wave is None or sorted(row.wave or []) == wave)
        ):
            steps.append(PinStep(applies_to, "force" if spec.force and not row.forced else "keep"))
            continue
        previous = None
        if row is not None:
            previous = row.version if row.version != spec.version else row.previous_version
        diff = f"{label} -> {spec.version}" + (
            f" (first wave {spec.first_wave})" if spec.first_wave else ""
        )
        steps.append(PinStep(applies_to, "replace", diff, previous, wave))
    return steps


def replace_pins(session: Session, column: str, owner_id: int, specs: list[PinSpec]) -> list[str]:
    """Make one owner's pins match ``specs`` (:func:`pin_steps`) in the session."""
    rows = list(
        session.scalars(select(FirmwarePin).where(getattr(FirmwarePin, column) == owner_id))
    )
    current = {row.applies_to: row for row in rows}
    by_place = {spec.applies_to: spec for spec in specs}
    diffs = []
    for step in pin_steps(current, specs):
        row = current.get(step.applies_to)
        if step.action == "force":
            row.forced = True
        if step.action in ("keep", "force"):
            continue
        diffs.append(step.diff)
        if row is not None:
            session.delete(row)
            session.flush()
        if step.action == "replace":
            spec = by_place[step.applies_to]
            session.add(
                new_pin(
                    column, owner_id, spec.version, applies_to=step.applies_to,
                    previous_version=step.previous, first_wave=spec.first_wave,
                    wave=step.wave, forced=spec.force,
                )
            )  # fmt: skip
    session.flush()
    return diffs


def settle(
    session: Session,
    registry: VendorRegistry | None,
    places: Mapping[OwnerKey, str] | None = None,
) -> list[tuple[str, str]]:
    """Freeze new first waves, then check every pin; ``[(where, problem)]``.

    ``places`` maps a pin's owner to where it was written (file:line:col), for
    messages; pins not in it are described by their owner.
    """
    session.flush()
    if session.scalar(select(FirmwarePin.id).limit(1)) is None:
        return []  # no pin anywhere: nothing to freeze or check, no phone to read
    table = PinTable(session)
    _freeze_waves(table)
    session.flush()
    releases: dict[tuple[str, str], FirmwareRelease] = {
        (release.vendor, release.version): release
        for release in session.scalars(select(FirmwareRelease))
    }
    places = places or {}
    problems: dict[tuple[str, str], None] = {}

    def where(row: FirmwarePin) -> str:
        return places.get(owner_key(row)) or describe(session, row)

    for device in table.devices:
        pairs = table.rows_for(device)
        pins = [pin for _, pin in pairs]
        rows = {pin.id: row for row, pin in pairs}
        wanted = [target(pins, device.mac, device.vendor, device.model)]
        promoted = [replace(pin, promoted=True) for pin in pins]
        wanted.append(target(promoted, device.mac, device.vendor, device.model))
        for outcome in wanted:
            if outcome.version is None or outcome.pin is None:
                continue
            release = releases.get((device.vendor, outcome.version))
            if release is None or device.model not in release.models:
                what = "no release" if release is None else "a release that is not for it"
                problems[
                    (
                        where(rows[outcome.pin.id]),
                        f"{device.vendor} {outcome.version} is pinned for phone {device.mac}"
                        f" ({device.model}) but the repository has {what}"
                        " (plugtone firmware add ...)",
                    )
                ] = None
    if registry is not None:
        for row in table.rows:
            if row.forced or row.version == NONE:
                continue
            for (vendor, version), release in releases.items():
                if version != row.version or vendor not in registry.by_name:
                    continue
                if not _may_govern(session, row, release):
                    continue
                for risk in registry.get(vendor).pin_risks(release_view(release)):
                    problems[(where(row), f"{risk} (pin with force to do it anyway)")] = None
    return list(problems)


def _may_govern(session: Session, row: FirmwarePin, release: FirmwareRelease) -> bool:
    if row.phone_id is not None:
        phone = session.get(Phone, row.phone_id)
        return phone is not None and phone.vendor == release.vendor
    if row.model_profile_id is not None:
        profile = session.get(ModelProfile, row.model_profile_id)
        return profile is not None and profile.vendor == release.vendor
    return row.applies_to in (None, release.vendor, *release.models)


def _freeze_waves(table: PinTable) -> None:
    """Choose the first wave of each newly staged percentage pin, once."""
    pending = {row.id: row for row in table.rows if row.first_wave and row.wave is None}
    if not pending:
        return
    governed: dict[int, list[str]] = defaultdict(list)
    for device in table.devices:
        pins = [pin for _, pin in table.rows_for(device)]
        pin = governing(pins, device.vendor, device.model)
        if pin is not None and pin.id in pending:
            governed[pin.id].append(device.mac)
    for pin_id, row in pending.items():
        row.wave = sorted(choose_wave(row.first_wave or "", row.version, governed[pin_id]))


def describe(session: Session, row: FirmwarePin) -> str:
    """A pin's owner in words: ``site hq (7960)``, ``phone 00085D000001``."""
    if row.phone_id is not None:
        phone = session.get(Phone, row.phone_id)
        return f"phone {phone.mac if phone else row.phone_id}"
    if row.site_id is not None:
        site = session.get(Site, row.site_id)
        name = site.name if site else row.site_id
        return f"site {name}" + (f" ({row.applies_to})" if row.applies_to else "")
    profile = session.get(ModelProfile, row.model_profile_id)
    return f"model {profile.model if profile else row.model_profile_id}"


def promote(session: Session, rows: Iterable[FirmwarePin]) -> list[str]:
    """Let every phone a staged pin governs follow it; returns what changed."""
    changed = []
    for row in rows:
        if row.first_wave and not row.promoted:
            row.promoted = True
            row.changed_at = datetime.now(UTC)
            changed.append(f"{describe(session, row)}: {row.version} promoted to every phone")
    session.flush()
    return changed

"""Firmware pins in the store: set, check, stage, promote, and resolve per phone.

The inventory file (``firmware:`` on models, sites and phones) and the
``plugtone firmware pin`` command both end here, so a pin follows one set of rules:
every phone a pin governs must have a release of that version for its model, a
pin the vendor plug-in calls risky (a downgrade below a stated floor) needs
``force``, and a staged pin's first wave is chosen once, when it is set.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugtone.firmware.pins import NONE, Pin, Target, choose_wave, governing, target
from plugtone.firmware.repository import release_view
from plugtone.inventory.document import PinSpec
from plugtone.inventory.models import (
    DeviceFirmware,
    DeviceState,
    FirmwarePin,
    FirmwareRelease,
    ModelProfile,
    Phone,
    Site,
)
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import FirmwareView

OwnerKey = tuple[str, int, str | None]
"""``(column, owner id, applies_to)``: one pin's place."""


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


def replace_pins(session: Session, column: str, owner_id: int, specs: list[PinSpec]) -> list[str]:
    """Make one owner's pins match ``specs``; an unchanged pin keeps its state.

    A pin is unchanged when version and wave request are the same, so re-applying
    a file never undoes a ``firmware promote``. A changed version remembers the one
    it replaces: the phones outside a staged pin's first wave keep that one.
    """
    rows = list(
        session.scalars(select(FirmwarePin).where(getattr(FirmwarePin, column) == owner_id))
    )
    current = {row.applies_to: row for row in rows}
    wanted = {spec.applies_to: spec for spec in specs}
    diffs = []
    for applies_to in sorted(set(current) | set(wanted), key=lambda key: key or ""):
        row, spec = current.get(applies_to), wanted.get(applies_to)
        label = f"firmware{f' ({applies_to})' if applies_to else ''}"
        if spec is None:
            assert row is not None
            session.delete(row)
            diffs.append(f"{label} pin removed")
            continue
        wave = sorted(spec.wave) if spec.first_wave == "list" else None
        if (
            row is not None
            and row.version == spec.version
            and row.first_wave == spec.first_wave
            and (wave is None or sorted(row.wave or []) == wave)
        ):
            row.forced = spec.force or row.forced
            continue
        diffs.append(
            f"{label} -> {spec.version}"
            + (f" (first wave {spec.first_wave})" if spec.first_wave else "")
        )
        previous = None
        if row is not None:
            previous = row.version if row.version != spec.version else row.previous_version
            session.delete(row)
            session.flush()
        session.add(
            new_pin(
                column, owner_id, spec.version, applies_to=applies_to,
                previous_version=previous, first_wave=spec.first_wave, wave=wave,
                forced=spec.force,
            )
        )  # fmt: skip
    session.flush()
    return diffs


@dataclass(frozen=True)
class _Device:
    mac: str
    vendor: str
    model: str
    phone_id: int
    site_id: int


def _as_pin(row: FirmwarePin, level: str) -> Pin:
    return Pin(
        level=level,
        version=row.version,
        applies_to=row.applies_to,
        previous_version=row.previous_version,
        first_wave=row.first_wave,
        wave=frozenset(row.wave or ()),
        promoted=row.promoted,
        id=row.id,
    )


def _level(row: FirmwarePin) -> str:
    if row.phone_id is not None:
        return "phone"
    return "site" if row.site_id is not None else "model"


def _owner_key(row: FirmwarePin) -> OwnerKey:
    level = _level(row)
    column = {"phone": "phone_id", "site": "site_id", "model": "model_profile_id"}[level]
    return column, getattr(row, column), row.applies_to


class PinTable:
    """Every pin and phone in memory, for checks that look at the whole inventory."""

    def __init__(self, session: Session) -> None:
        self.rows = list(session.scalars(select(FirmwarePin)))
        profiles = {profile.id: profile.model for profile in session.scalars(select(ModelProfile))}
        self.by_phone: dict[int, list[FirmwarePin]] = defaultdict(list)
        self.by_site: dict[int, list[FirmwarePin]] = defaultdict(list)
        self.by_model: dict[str, list[FirmwarePin]] = defaultdict(list)
        for row in self.rows:
            if row.phone_id is not None:
                self.by_phone[row.phone_id].append(row)
            elif row.site_id is not None:
                self.by_site[row.site_id].append(row)
            elif row.model_profile_id in profiles:
                self.by_model[profiles[row.model_profile_id]].append(row)
        self.devices = [
            _Device(mac, vendor, model, phone_id, site_id)
            for mac, vendor, model, phone_id, site_id in session.execute(
                select(Phone.mac, Phone.vendor, Phone.model, Phone.id, Phone.site_id)
            )
        ]

    def rows_for(self, device: _Device) -> list[tuple[FirmwarePin, Pin]]:
        result = []
        for level, rows in (
            ("phone", self.by_phone.get(device.phone_id, ())),
            ("site", self.by_site.get(device.site_id, ())),
            ("model", self.by_model.get(device.model, ())),
        ):
            result += [(row, _as_pin(row, level)) for row in rows]
        return result


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
        return places.get(_owner_key(row)) or _describe(session, row)

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


def _describe(session: Session, row: FirmwarePin) -> str:
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
            changed.append(f"{_describe(session, row)}: {row.version} promoted to every phone")
    session.flush()
    return changed


# -- phones (the resolver's views)


def phone_targets(
    session: Session, phones: Sequence[Phone]
) -> dict[int, tuple[Target, FirmwareView | None]]:
    """What each of ``phones`` should run, and the release (``None`` when left alone or
    missing), by phone id.  Three queries whatever the number of phones: the resolver
    loads the phones of a booting site together."""
    if not phones:
        return {}
    profiles = dict(
        session.execute(
            select(ModelProfile.model, ModelProfile.id).where(
                ModelProfile.model.in_({phone.model for phone in phones})
            )
        ).all()
    )
    conditions = [
        FirmwarePin.phone_id.in_([phone.id for phone in phones]),
        FirmwarePin.site_id.in_({phone.site_id for phone in phones}),
    ]
    if profiles:
        conditions.append(FirmwarePin.model_profile_id.in_(set(profiles.values())))
    pins: dict[tuple[str, int], list[Pin]] = defaultdict(list)
    for row in session.scalars(select(FirmwarePin).where(or_(*conditions))):
        level = _level(row)
        owner = {"phone": row.phone_id, "site": row.site_id, "model": row.model_profile_id}
        pins[level, owner[level]].append(_as_pin(row, level))
    releases: dict[tuple[str, str], FirmwareView | None] = {}
    results: dict[int, tuple[Target, FirmwareView | None]] = {}
    for phone in phones:
        governing_pins = [
            *pins.get(("phone", phone.id), ()),
            *pins.get(("site", phone.site_id), ()),
            *pins.get(("model", profiles.get(phone.model, -1)), ()),
        ]
        outcome = target(governing_pins, phone.mac, phone.vendor, phone.model)
        release = None
        if outcome.version is not None:
            key = (phone.vendor, outcome.version)
            if key not in releases:
                row = session.scalar(
                    select(FirmwareRelease).where(
                        FirmwareRelease.vendor == phone.vendor,
                        FirmwareRelease.version == outcome.version,
                    )
                )
                releases[key] = release_view(row) if row is not None else None
            release = releases[key]
        if release is not None and phone.model in release.models:
            results[phone.id] = (outcome, release)
        else:
            results[phone.id] = (outcome, None)
    return results


def phone_target(session: Session, phone: Phone) -> tuple[Target, FirmwareView | None]:
    """What ``phone`` should run, and the release (``None`` when left alone or missing)."""
    return phone_targets(session, [phone])[phone.id]


@dataclass(frozen=True)
class FirmwareRow:
    """One line of ``plugtone phones --firmware``."""

    mac: str
    model: str
    site: str
    running: str | None
    target: str | None
    pin: str
    last_offered: datetime | None
    delivered: str | None
    last_result: str | None


def firmware_report(session: Session) -> list[FirmwareRow]:
    """Every assigned phone's firmware: running, target, and what was sent."""
    table = PinTable(session)
    sites = {site.id: site.name for site in session.scalars(select(Site))}
    states = {row.mac: row for row in session.scalars(select(DeviceFirmware))}
    seen = dict(session.execute(select(DeviceState.mac, DeviceState.firmware_version)).all())
    rows = []
    for device in sorted(table.devices, key=lambda item: item.mac):
        pins = [pin for _, pin in table.rows_for(device)]
        outcome = target(pins, device.mac, device.vendor, device.model)
        if outcome.pin is None:
            source = "-"
        else:
            source = outcome.pin.level + (
                f" ({outcome.pin.applies_to})" if outcome.pin.applies_to else ""
            )
            if outcome.waiting:
                source += f", waiting for {outcome.pin.version} (not in first wave)"
            elif outcome.pin.first_wave and not outcome.pin.promoted:
                source += ", first wave"
        state = states.get(device.mac)
        running = seen.get(device.mac) or (state.running_version if state else None)
        rows.append(
            FirmwareRow(
                mac=device.mac, model=device.model, site=sites.get(device.site_id, "?"),
                running=running, target=outcome.version, pin=source,
                last_offered=state.offered_at if state else None,
                delivered=state.delivered_version if state else None,
                last_result=state.last_result if state else None,
            )
        )  # fmt: skip
    return rows

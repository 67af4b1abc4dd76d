"""Which release each phone in the store should run: the pin rules over the store's rows.

``firmware.pins`` holds the rule itself as pure functions; this module feeds it
from the store, for the resolver (a batch of phones at a time, a fixed number of
queries) and for whole-inventory checks (:class:`PinTable`). It lives here, beside
the rule, rather than in ``services``: the provisioning side reads targets on every
boot, and it must not depend on the layer that changes the inventory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugtone.firmware.pins import Pin, Target, target
from plugtone.firmware.repository import release_view
from plugtone.inventory.models import FirmwarePin, FirmwareRelease, ModelProfile, Phone
from plugtone.vendors.base import FirmwareView

OwnerKey = tuple[str, int, str | None]
"""``(column, owner id, applies_to)``: one pin's place."""

OWNER_COLUMNS = {"phone": "phone_id", "site": "site_id", "model": "model_profile_id"}
"""The ``FirmwarePin`` column that names the owner at each level."""


@dataclass(frozen=True)
class PinnedDevice:
    """An inventory phone as pin resolution sees it."""

    mac: str
    vendor: str
    model: str
    phone_id: int
    site_id: int


def pin_level(row: FirmwarePin) -> str:
    """``phone``, ``site`` or ``model``: which owner column of ``row`` is set."""
    if row.phone_id is not None:
        return "phone"
    return "site" if row.site_id is not None else "model"


def as_pin(row: FirmwarePin, level: str | None = None) -> Pin:
    """The frozen :class:`Pin` the rule works on, for a stored row."""
    return Pin(
        level=level or pin_level(row),
        version=row.version,
        applies_to=row.applies_to,
        previous_version=row.previous_version,
        first_wave=row.first_wave,
        wave=frozenset(row.wave or ()),
        promoted=row.promoted,
        id=row.id,
    )


def owner_key(row: FirmwarePin) -> OwnerKey:
    column = OWNER_COLUMNS[pin_level(row)]
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
            PinnedDevice(mac, vendor, model, phone_id, site_id)
            for mac, vendor, model, phone_id, site_id in session.execute(
                select(Phone.mac, Phone.vendor, Phone.model, Phone.id, Phone.site_id)
            )
        ]

    def rows_for(self, device: PinnedDevice) -> list[tuple[FirmwarePin, Pin]]:
        """The pins that may govern ``device``, each with its frozen form."""
        result = []
        for level, rows in (
            ("phone", self.by_phone.get(device.phone_id, ())),
            ("site", self.by_site.get(device.site_id, ())),
            ("model", self.by_model.get(device.model, ())),
        ):
            result += [(row, as_pin(row, level)) for row in rows]
        return result

    def target_of(self, device: PinnedDevice) -> Target:
        return target([pin for _, pin in self.rows_for(device)], device.mac, device.vendor,
                      device.model)  # fmt: skip


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
        level = pin_level(row)
        pins[level, getattr(row, OWNER_COLUMNS[level])].append(as_pin(row, level))
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

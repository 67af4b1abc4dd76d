"""Firmware use cases: releases in the repository, pins, staged roll-outs, the report.

The CLI (``plugtone firmware ...``, ``plugtone phones --firmware``) and the REST API
call these, so a pin follows one set of rules whatever the face: the role is
checked (releases need an admin, pins an operator), the change is one unit of
work, audited, and the inventory generation moves only when what phones are
served changed. The pin rules themselves (every phone governed has a release for
its model, risky releases need ``force``, a first wave is chosen once) live in
``services.firmware_pins``, which the inventory file uses too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.firmware import repository
from plugtone.firmware.pins import NONE, VERSION_RE, parse_percent
from plugtone.firmware.repository import FileStore, FirmwareError
from plugtone.firmware.targets import PinTable
from plugtone.inventory.document import PinSpec, Problem
from plugtone.inventory.models import (
    DeviceFirmware,
    DeviceState,
    FirmwarePin,
    FirmwareRelease,
    ModelProfile,
    Phone,
    Site,
)
from plugtone.inventory.store import Store
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.services import firmware_pins
from plugtone.services.actors import Actor, authorize_kinds
from plugtone.services.change_marks import mark_pin_owner
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.unit_of_work import reading, unit_of_work
from plugtone.vendors import UnknownModel, VendorRegistry, default_registry

log = logging.getLogger(__name__)

# -- what the use cases hand back


@dataclass(frozen=True)
class ReleaseFileInfo:
    name: str
    role: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ReleaseInfo:
    """A release in the repository and where it is pinned."""

    vendor: str
    version: str
    models: tuple[str, ...]
    files: tuple[ReleaseFileInfo, ...]
    size: int
    pinned: tuple[str, ...]
    """The pins that use it (``site hq``, ``model 6757i``); a pinned release stays."""
    note: str | None
    added_at: datetime


@dataclass(frozen=True)
class PinOwner:
    """Where a pin sits: exactly one of ``model``, ``site`` or ``phone``.

    ``applies_to`` (``--for`` on the command line, ``for`` in the API) narrows a site
    pin to one vendor's or one model's phones.
    """

    model: str | None = None
    site: str | None = None
    applies_to: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class PinInfo:
    """One pin as stored."""

    owner: str
    version: str
    applies_to: str | None
    previous_version: str | None
    first_wave: str | None
    wave: tuple[str, ...]
    """The first wave's MACs (12 hex digits), frozen when the pin was set."""
    promoted: bool
    forced: bool


@dataclass(frozen=True)
class PinResult:
    """What setting, removing or promoting pins did."""

    changes: tuple[str, ...]
    """One line per change, as the inventory file's apply prints them; empty: none."""
    pins: tuple[PinInfo, ...]
    """The pins concerned, as they now are (as they were, for removed ones)."""
    generation: int | None
    """The inventory generation after the change; ``None`` when nothing served moved."""


@dataclass(frozen=True)
class FirmwareRow:
    """One phone's firmware: a line of ``plugtone phones --firmware``."""

    mac: str
    model: str
    site: str
    running: str | None
    target: str | None
    """``None``: left alone."""
    pin: str
    """Which pin decided (``site (7960), first wave``), ``-`` for none."""
    last_offered: datetime | None
    delivered: str | None
    last_result: str | None


# -- releases


def list_releases(store: Store, actor: Actor) -> list[ReleaseInfo]:
    """Every release, by vendor then in the order they were added."""
    with reading(store, actor) as session:
        releases = session.scalars(
            select(FirmwareRelease).order_by(FirmwareRelease.vendor, FirmwareRelease.id)
        ).all()
        return [_release_info(session, release) for release in releases]


def add_release(
    store: Store,
    actor: Actor,
    files: FileStore,
    *,
    vendor: str,
    models: Sequence[str],
    version: str,
    sources: Sequence[Path],
    note: str | None = None,
    registry: VendorRegistry | None = None,
) -> ReleaseInfo:
    """Check and store a release (image files, or a vendor zip whose files are picked out).

    Every problem is reported at once (:class:`Invalid`) and nothing is kept. The
    files are copied in before the rows are committed; if the commit fails, the
    copies no release refers to are removed again.
    """
    registry = registry or default_registry()
    stored: set[str] = set()
    try:
        with unit_of_work(store, actor) as work:
            work.authorize(["release"])
            work.lock()
            try:
                release = repository.add_release(
                    work.session, registry, files, vendor=vendor, models=list(models),
                    version=version, sources=list(sources), note=note,
                )  # fmt: skip
            except FirmwareError as error:
                raise Invalid(_problems(error)) from None
            stored = {row.sha256 for row in release.files}
            info = _release_info(work.session, release)
            work.audit("create", "release", f"{vendor} {version}",
                       f"for {', '.join(info.models)}: {len(info.files)} file(s)",
                       None, _release_fields(info))  # fmt: skip
            if _serves_unpinned(registry, info):
                work.bump()
            return info
    except BaseException:
        if stored:
            _discard(store, files, stored)
        raise


def remove_release(store: Store, actor: Actor, files: FileStore, vendor: str, version: str,
                   registry: VendorRegistry | None = None) -> ReleaseInfo:  # fmt: skip
    """Remove a release no pin uses; its files go once no other release shares them.

    The files are deleted after the commit: deleting them first could leave a
    release whose removal failed without its files.
    """
    with unit_of_work(store, actor) as work:
        work.authorize(["release"])
        work.lock()
        release = repository.find_release(work.session, vendor, version)
        if release is None:
            raise NotFound(f"no {vendor} release {version} in the repository")
        info = _release_info(work.session, release)
        if info.pinned:
            raise Conflict(
                f"{vendor} {version} is pinned ({', '.join(info.pinned)}); unpin it first"
            )
        try:
            hashes = repository.remove_release(work.session, vendor, version)
        except FirmwareError as error:
            raise Conflict("; ".join(error.problems)) from None
        work.audit("delete", "release", f"{vendor} {version}", None, _release_fields(info), None)
        if _serves_unpinned(registry or default_registry(), info):
            work.bump()
    _discard(store, files, hashes)
    return info


def _serves_unpinned(registry: VendorRegistry, info: ReleaseInfo) -> bool:
    """Whether a release's arrival or departure changes what phones are served before any
    pin names it: its configuration files go to the phones known to run it
    (:mod:`plugtone.firmware.running`), so the inventory generation must move."""
    plugin = registry.by_name.get(info.vendor)
    return plugin is not None and any(plugin.is_release_config(row.name) for row in info.files)


def _discard(store: Store, files: FileStore, hashes: set[str]) -> None:
    """Remove stored files of ``hashes`` that no release refers to (best effort)."""
    try:
        with store.sessions() as session:
            repository.discard_unused(session, files, hashes)
    except Exception:  # the release change stands; a stray file costs only disk
        log.exception("could not discard unused firmware files %s", sorted(hashes))


def _release_info(session: Session, release: FirmwareRelease) -> ReleaseInfo:
    return ReleaseInfo(
        vendor=release.vendor,
        version=release.version,
        models=tuple(release.models),
        files=tuple(
            ReleaseFileInfo(row.name, row.role, row.size, row.sha256) for row in release.files
        ),
        size=sum(row.size for row in release.files),
        pinned=tuple(repository.pins_using(session, release)),
        note=release.note,
        added_at=_aware(release.added_at),
    )


def _release_fields(info: ReleaseInfo) -> dict[str, Any]:
    return {
        "models": list(info.models),
        "files": [{"name": f.name, "role": f.role, "size": f.size, "sha256": f.sha256}
                  for f in info.files],
        "note": info.note,
    }  # fmt: skip


def _problems(error: FirmwareError) -> list[Problem]:
    """The repository's problems are whole sentences that name their file or field."""
    return [Problem("", text) for text in error.problems]


# -- pins


def set_pin(
    store: Store,
    actor: Actor,
    owner: PinOwner,
    version: str,
    *,
    first_wave: str | Sequence[str] | None = None,
    force: bool = False,
    where: str | None = None,
    registry: VendorRegistry | None = None,
) -> PinResult:
    """Pin ``version`` (or ``none``: leave firmware alone) at ``owner``.

    ``first_wave`` stages the roll-out: ``"10%"`` of the phones the pin governs, or
    MACs (a list, or one string separated by commas). Pinning the same version and
    wave again changes nothing, so the chosen wave and a promotion survive it.
    ``where`` names the request in problems (``command line``); by default the
    pin's owner.
    """
    authorize_kinds(actor, ["pin"])  # before anything is looked at
    registry = registry or default_registry()
    problems = []
    if version.lower() != NONE and not VERSION_RE.match(version):
        problems.append(Problem("version", f"{version!r} is not a firmware version"))
    wave_kind, wave = None, []
    if first_wave:
        try:
            wave_kind, wave = _wave(first_wave)
        except ValueError as error:
            problems.append(Problem("first_wave", str(error)))
    problems += _owner_problems(owner)
    if problems:
        raise Invalid(problems)
    spec = PinSpec(where or "request", NONE if version.lower() == NONE else version, force=force)
    spec.first_wave, spec.wave = wave_kind, wave
    with unit_of_work(store, actor) as work:
        work.authorize(["pin"])
        work.lock()
        column, owner_id, applies = _owner(work.session, registry, owner, create=True)
        spec.applies_to = applies
        rows = _rows(work.session, column, owner_id)
        before = next((row for row in rows if row.applies_to == applies), None)
        before_fields = _pin_fields(before) if before is not None else None
        others = [_spec_of(row) for row in rows if row.applies_to != applies]
        changes = firmware_pins.replace_pins(work.session, column, owner_id, [*others, spec])
        row = next(r for r in _rows(work.session, column, owner_id) if r.applies_to == applies)
        label = where or firmware_pins.describe(work.session, row)
        _settle(work.session, registry, {(column, owner_id, applies): label})
        info = _pin_info(work.session, row)  # after settle: a staged wave is frozen now
        after_fields = _pin_fields(row)
        if after_fields != before_fields:
            work.audit("create" if before_fields is None else "update", "pin", info.owner,
                       "; ".join(changes) or None, before_fields, after_fields)  # fmt: skip
        generation = work.bump() if changes else None
        if generation is not None:
            mark_pin_owner(work.session, generation, column, owner_id)
        return PinResult(tuple(changes), (info,), generation)


def remove_pin(
    store: Store, actor: Actor, owner: PinOwner, *, registry: VendorRegistry | None = None
) -> PinResult:
    """Remove the pin at ``owner``; its phones then follow the next less specific pin."""
    authorize_kinds(actor, ["pin"])
    registry = registry or default_registry()
    problems = _owner_problems(owner)
    if problems:
        raise Invalid(problems)
    with unit_of_work(store, actor) as work:
        work.authorize(["pin"])
        work.lock()
        column, owner_id, applies = _owner(work.session, registry, owner, create=False)
        rows = [r for r in _rows(work.session, column, owner_id) if r.applies_to == applies]
        if not rows:
            raise NotFound("no such pin")
        removed = []
        for row in rows:
            info = _pin_info(work.session, row)
            removed.append(info)
            work.audit("delete", "pin", info.owner, f"pin on {info.version} removed",
                       _pin_fields(row), None)  # fmt: skip
            work.session.delete(row)
        _settle(work.session, registry, {})
        generation = work.bump()
        mark_pin_owner(work.session, generation, column, owner_id)
        return PinResult(tuple(f"{info.owner}: pin removed" for info in removed),
                         tuple(removed), generation)  # fmt: skip


def promote_pins(
    store: Store,
    actor: Actor,
    owner: PinOwner | None,
    *,
    registry: VendorRegistry | None = None,
) -> PinResult:
    """Let every phone a staged pin governs follow it, not only its first wave.

    ``owner`` ``None`` promotes every staged pin. :class:`Conflict` when there is
    none to promote there.
    """
    authorize_kinds(actor, ["pin"])
    registry = registry or default_registry()
    if owner is not None and (problems := _owner_problems(owner)):
        raise Invalid(problems)
    with unit_of_work(store, actor) as work:
        work.authorize(["pin"])
        work.lock()
        if owner is None:
            rows = list(work.session.scalars(select(FirmwarePin).order_by(FirmwarePin.id)))
        else:
            column, owner_id, applies = _owner(work.session, registry, owner, create=False)
            rows = [r for r in _rows(work.session, column, owner_id) if r.applies_to == applies]
        staged = [row for row in rows if row.first_wave and not row.promoted]
        befores = {row.id: _pin_fields(row) for row in staged}
        changed = firmware_pins.promote(work.session, staged)
        if not changed:
            raise Conflict("no staged pin to promote there")
        infos = []
        for row, line in zip(staged, changed, strict=True):
            info = _pin_info(work.session, row)
            infos.append(info)
            work.audit("promote", "pin", info.owner, line, befores[row.id], _pin_fields(row))
        return PinResult(tuple(changed), tuple(infos), work.bump())


def _owner_problems(owner: PinOwner) -> list[Problem]:
    chosen = [value for value in (owner.model, owner.site, owner.phone) if value]
    problems = []
    if len(chosen) != 1:
        problems.append(Problem("owner", "name exactly one of model, site or phone"))
    if owner.applies_to and not owner.site:
        problems.append(Problem("for", "'for' (a vendor or model) goes with a site"))
    return problems


def _owner(
    session: Session, registry: VendorRegistry, owner: PinOwner, *, create: bool
) -> tuple[str, int, str | None]:
    """Which pin ``owner`` names: ``(column, owner id, applies_to)``.

    A model's pin needs a model profile row; pinning creates it (``create``), while
    unpinning or promoting a model with none finds no pin there.
    """
    if owner.model:
        try:
            plugin, canonical = registry.resolve_model(owner.model)
        except UnknownModel as error:
            raise Invalid([Problem("model", str(error))]) from None
        profile = session.scalar(select(ModelProfile).where(ModelProfile.model == canonical))
        if profile is None:
            if not create:
                raise NotFound("no such pin")
            profile = ModelProfile(model=canonical, vendor=plugin.name)
            session.add(profile)
            session.flush()
        return "model_profile_id", profile.id, None
    if owner.site:
        row = session.scalar(select(Site).where(Site.name == owner.site))
        if row is None:
            raise NotFound(f"no site {owner.site!r}")
        applies = None
        if owner.applies_to:
            if owner.applies_to in registry.by_name:
                applies = owner.applies_to
            else:
                try:
                    applies = registry.resolve_model(owner.applies_to)[1]
                except UnknownModel as error:
                    raise Invalid([Problem("for", str(error))]) from None
        return "site_id", row.id, applies
    try:
        mac = normalize_mac(owner.phone or "")
    except MacError as error:
        raise Invalid([Problem("phone", str(error))]) from None
    phone = session.scalar(select(Phone).where(Phone.mac == mac))
    if phone is None:
        raise NotFound(f"no phone {colon_mac(mac)} in the inventory")
    return "phone_id", phone.id, None


def _settle(session: Session, registry: VendorRegistry, places: dict) -> None:
    problems = firmware_pins.settle(session, registry, places)
    if problems:
        raise Invalid([Problem(where, message) for where, message in problems])


def _rows(session: Session, column: str, owner_id: int) -> list[FirmwarePin]:
    return list(
        session.scalars(select(FirmwarePin).where(getattr(FirmwarePin, column) == owner_id))
    )


def _spec_of(row: FirmwarePin) -> PinSpec:
    """A stored pin as a spec, so replacing one owner's pins keeps the others as they are."""
    spec = PinSpec("store", row.version, row.applies_to, force=row.forced)
    spec.first_wave = row.first_wave
    spec.wave = list(row.wave or []) if row.first_wave == "list" else []
    return spec


def _pin_info(session: Session, row: FirmwarePin) -> PinInfo:
    return PinInfo(
        owner=firmware_pins.describe(session, row),
        version=row.version,
        applies_to=row.applies_to,
        previous_version=row.previous_version,
        first_wave=row.first_wave,
        wave=tuple(row.wave or ()),
        promoted=bool(row.promoted),
        forced=bool(row.forced),
    )


def _pin_fields(row: FirmwarePin) -> dict[str, Any]:
    """A pin's audited fields (no secret in a pin)."""
    return {
        "version": row.version, "applies_to": row.applies_to,
        "previous_version": row.previous_version, "first_wave": row.first_wave,
        "wave": list(row.wave or []), "promoted": bool(row.promoted), "forced": bool(row.forced),
    }  # fmt: skip


def _wave(value: str | Sequence[str]) -> tuple[str, list[str]]:
    """``("10%", [])`` or ``("list", [MAC, ...])``; :class:`ValueError` says what is wrong."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            percent = parse_percent(text)
            if percent is None:
                raise ValueError(f"{value!r}: a first wave is 1% to 99%, or a list of MACs")
            return f"{percent:g}%", []
        items = text.split(",")
    else:
        items = list(value)
    macs = []
    for item in items:
        try:
            macs.append(normalize_mac(item.strip()))
        except MacError as error:
            raise ValueError(f"first wave: {error}") from None
    if not macs:
        raise ValueError("first wave: name at least one MAC")
    return "list", macs


# -- the report


def firmware_report(store: Store, actor: Actor) -> list[FirmwareRow]:
    """Every inventory phone's firmware: running, target, pin, and what was sent, by MAC."""
    with reading(store, actor) as session:
        table = PinTable(session)
        sites = {site.id: site.name for site in session.scalars(select(Site))}
        states = {row.mac: row for row in session.scalars(select(DeviceFirmware))}
        seen = dict(session.execute(select(DeviceState.mac, DeviceState.firmware_version)).all())
        rows = []
        for device in sorted(table.devices, key=lambda item: item.mac):
            outcome = table.target_of(device)
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
                    last_offered=_aware(state.offered_at) if state else None,
                    delivered=state.delivered_version if state else None,
                    last_result=state.last_result if state else None,
                )
            )  # fmt: skip
        return rows


def _aware(value: datetime | None) -> datetime | None:
    """In UTC, whatever the driver hands back (SQLite: naive, written in UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

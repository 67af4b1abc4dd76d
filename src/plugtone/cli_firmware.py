"""``plugtone firmware ...``: the release repository, pins, staged roll-outs.

Kept apart from ``cli.py`` so each file stays readable; the commands are thin over
``firmware.repository`` and ``services.firmware_pins``, which the inventory file
uses too.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.firmware.repository import (
    FileStore,
    FirmwareError,
    add_release,
    discard_unused,
    pins_using,
    remove_release,
)
from plugtone.inventory.document import VERSION_RE, PinSpec
from plugtone.inventory.models import FirmwarePin, FirmwareRelease, ModelProfile, Phone, Site
from plugtone.inventory.store import bump_generation, lock_inventory
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.services import firmware_pins
from plugtone.settings import Settings
from plugtone.vendors import UnknownModel, default_registry


def register(main: click.Group, common, open_store) -> None:
    """Attach the ``firmware`` group to ``main`` (``common`` adds --data/--db)."""

    @main.group()
    def firmware() -> None:
        """Firmware releases, pins and staged roll-outs."""

    @firmware.command("add")
    @common
    @click.option("--vendor", required=True, help="Vendor plug-in name, as in vendor_settings.")
    @click.option("--model", "models", required=True,
                  help="Model(s) the release is for, comma-separated.")  # fmt: skip
    @click.option("--version", "version", required=True, help="The release's version.")
    @click.option("--note", default=None, help="A note shown by 'firmware list'.")
    @click.argument("files", nargs=-1, required=True,
                    type=click.Path(dir_okay=False, path_type=Path))  # fmt: skip
    def add(settings: Settings, vendor: str, models: str, version: str, note: str | None,
            files: tuple[Path, ...]) -> None:  # fmt: skip
        """Store a release: image files, or a vendor zip whose firmware files are picked out."""
        store = open_store(settings)
        try:
            with store.sessions() as session:
                try:
                    release = add_release(
                        session, default_registry(), FileStore(settings.data_dir / "firmware"),
                        vendor=vendor, models=[m.strip() for m in models.split(",") if m.strip()],
                        version=version, sources=list(files), note=note,
                    )  # fmt: skip
                except FirmwareError as error:
                    session.rollback()
                    _fail(error.problems)
                session.commit()
                click.echo(f"added {vendor} {version} for {', '.join(release.models)}:")
                for row in release.files:
                    click.echo(f"  {row.name}  {row.role}  {row.size} bytes  sha256:{row.sha256}")
        finally:
            store.dispose()

    @firmware.command("list")
    @common
    def list_(settings: Settings) -> None:
        """List the releases in the repository and where each is pinned."""
        store = open_store(settings)
        try:
            with store.sessions() as session:
                releases = session.scalars(
                    select(FirmwareRelease).order_by(FirmwareRelease.vendor, FirmwareRelease.id)
                ).all()
                if not releases:
                    click.echo("no firmware releases (plugtone firmware add ...)")
                for release in releases:
                    size = sum(row.size for row in release.files)
                    pinned = pins_using(session, release)
                    click.echo(
                        f"{release.vendor} {release.version}  models: {', '.join(release.models)}"
                        f"  files: {len(release.files)} ({size} bytes)"
                        f"  pinned: {', '.join(pinned) or 'nowhere'}"
                        + (f"  note: {release.note}" if release.note else "")
                    )
        finally:
            store.dispose()

    @firmware.command("remove")
    @common
    @click.option("--vendor", required=True)
    @click.argument("version")
    def remove(settings: Settings, vendor: str, version: str) -> None:
        """Remove a release that no pin uses (its files go too)."""
        store = open_store(settings)
        try:
            with store.sessions() as session:
                try:
                    hashes = remove_release(session, vendor, version)
                except FirmwareError as error:
                    session.rollback()
                    _fail(error.problems)
                session.commit()
                discard_unused(session, FileStore(settings.data_dir / "firmware"), hashes)
                click.echo(f"removed {vendor} {version}")
        finally:
            store.dispose()

    def owner_options(command):
        for option in reversed(
            [
                click.option("--model", default=None, help="Pin a model's default."),
                click.option("--site", default=None, help="Pin a site's phones."),
                click.option(
                    "--for",
                    "applies_to",
                    default=None,
                    help="With --site: only this vendor's or model's phones.",
                ),
                click.option("--phone", "mac", default=None, help="Pin one phone (MAC)."),
            ]
        ):
            command = option(command)
        return command

    @firmware.command("pin")
    @common
    @owner_options
    @click.argument("version")
    @click.option(
        "--first-wave",
        default=None,
        help="Stage the roll-out: '10%' of the phones, or MACs separated by commas.",
    )
    @click.option("--force", is_flag=True, help="Pin even a release the vendor calls risky.")
    def pin(settings: Settings, model, site, applies_to, mac, version: str,
            first_wave: str | None, force: bool) -> None:  # fmt: skip
        """Pin VERSION (or 'none': leave firmware alone) on a model, a site or a phone."""
        if version.lower() != "none" and not VERSION_RE.match(version):
            raise click.ClickException(f"{version!r} is not a firmware version")
        spec = PinSpec("command line", "none" if version.lower() == "none" else version,
                       force=force)  # fmt: skip
        if first_wave:
            spec.first_wave, spec.wave = _wave(first_wave)
        store = open_store(settings)
        try:
            with store.sessions() as session:
                lock_inventory(session)
                column, owner_id, applies = _owner(session, model, site, applies_to, mac)
                spec.applies_to = applies
                others = [
                    _spec_of(row) for row in _rows(session, column, owner_id)
                    if row.applies_to != applies
                ]  # fmt: skip
                changes = firmware_pins.replace_pins(session, column, owner_id, [*others, spec])
                problems = firmware_pins.settle(
                    session, default_registry(), {(column, owner_id, applies): "command line"}
                )
                if problems:
                    session.rollback()
                    _fail([f"{where}: {message}" for where, message in problems])
                if changes:
                    bump_generation(session)
                session.commit()
                for change in changes or ["no change"]:
                    click.echo(change)
                row = next(r for r in _rows(session, column, owner_id) if r.applies_to == applies)
                if row.first_wave:
                    click.echo(f"first wave: {len(row.wave or [])} phone(s): "
                               + ", ".join(colon_mac(m) for m in row.wave or []))  # fmt: skip
        finally:
            store.dispose()

    @firmware.command("unpin")
    @common
    @owner_options
    def unpin(settings: Settings, model, site, applies_to, mac) -> None:
        """Remove a pin (phones then follow the next less specific pin)."""
        store = open_store(settings)
        try:
            with store.sessions() as session:
                lock_inventory(session)
                column, owner_id, applies = _owner(session, model, site, applies_to, mac)
                rows = [r for r in _rows(session, column, owner_id) if r.applies_to == applies]
                if not rows:
                    raise click.ClickException("no such pin")
                for row in rows:
                    session.delete(row)
                problems = firmware_pins.settle(session, default_registry())
                if problems:
                    session.rollback()
                    _fail([f"{where}: {message}" for where, message in problems])
                bump_generation(session)
                session.commit()
                click.echo("pin removed")
        finally:
            store.dispose()

    @firmware.command("promote")
    @common
    @owner_options
    @click.option("--all", "everything", is_flag=True, help="Promote every staged pin.")
    def promote(settings: Settings, model, site, applies_to, mac, everything: bool) -> None:
        """Let every phone a staged pin governs follow it, not only its first wave."""
        store = open_store(settings)
        try:
            with store.sessions() as session:
                lock_inventory(session)
                if everything:
                    rows = list(session.scalars(select(FirmwarePin)))
                else:
                    column, owner_id, applies = _owner(session, model, site, applies_to, mac)
                    rows = [r for r in _rows(session, column, owner_id) if r.applies_to == applies]
                changed = firmware_pins.promote(session, rows)
                if not changed:
                    session.rollback()
                    raise click.ClickException("no staged pin to promote there")
                bump_generation(session)
                session.commit()
                for line in changed:
                    click.echo(line)
        finally:
            store.dispose()


def _rows(session: Session, column: str, owner_id: int) -> list[FirmwarePin]:
    return list(
        session.scalars(select(FirmwarePin).where(getattr(FirmwarePin, column) == owner_id))
    )


def _spec_of(row: FirmwarePin) -> PinSpec:
    spec = PinSpec("store", row.version, row.applies_to, force=row.forced)
    spec.first_wave = row.first_wave
    spec.wave = list(row.wave or []) if row.first_wave == "list" else []
    return spec


def _owner(session: Session, model, site, applies_to, mac) -> tuple[str, int, str | None]:
    """Which pin the options name: ``(column, owner id, applies_to)``."""
    chosen = [name for name, value in (("--model", model), ("--site", site), ("--phone", mac))
              if value]  # fmt: skip
    if len(chosen) != 1:
        raise click.ClickException("name exactly one of --model, --site or --phone")
    if applies_to and not site:
        raise click.ClickException("--for goes with --site")
    registry = default_registry()
    if model:
        try:
            plugin, canonical = registry.resolve_model(model)
        except UnknownModel as error:
            raise click.ClickException(str(error)) from None
        profile = session.scalar(select(ModelProfile).where(ModelProfile.model == canonical))
        if profile is None:
            profile = ModelProfile(model=canonical, vendor=plugin.name)
            session.add(profile)
            session.flush()
        return "model_profile_id", profile.id, None
    if site:
        row = session.scalar(select(Site).where(Site.name == site))
        if row is None:
            raise click.ClickException(f"no site {site!r}")
        applies = None
        if applies_to:
            if applies_to in registry.by_name:
                applies = applies_to
            else:
                try:
                    applies = registry.resolve_model(applies_to)[1]
                except UnknownModel as error:
                    raise click.ClickException(str(error)) from None
        return "site_id", row.id, applies
    try:
        normalized = normalize_mac(mac)
    except MacError as error:
        raise click.ClickException(str(error)) from None
    phone = session.scalar(select(Phone).where(Phone.mac == normalized))
    if phone is None:
        raise click.ClickException(f"no phone {colon_mac(normalized)} in the inventory")
    return "phone_id", phone.id, None


def _wave(text: str) -> tuple[str, list[str]]:
    if text.strip().endswith("%"):
        try:
            percent = float(text.strip()[:-1])
        except ValueError:
            percent = -1
        if not 0 < percent < 100:
            raise click.ClickException(f"{text!r}: a first wave is 1% to 99%, or a list of MACs")
        return f"{percent:g}%", []
    macs = []
    for item in text.split(","):
        try:
            macs.append(normalize_mac(item.strip()))
        except MacError as error:
            raise click.ClickException(f"first wave: {error}") from None
    return "list", macs


def _fail(problems: list[str]) -> None:
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise SystemExit(2)

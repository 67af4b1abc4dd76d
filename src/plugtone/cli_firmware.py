"""``plugtone firmware ...``: the release repository, pins, staged roll-outs.

Kept apart from ``cli.py`` so each file stays readable. The commands only turn
options into a call of ``services.firmware`` (which the REST API calls too) and its
answer into lines; the CLI acts as the local admin. A refused request prints one
``error: ...`` line per problem and exits with status 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from plugtone.firmware.repository import FileStore
from plugtone.inventory.document import Problem
from plugtone.inventory.store import Store
from plugtone.macaddr import colon_mac
from plugtone.services.actors import local_admin
from plugtone.services.errors import Invalid
from plugtone.services.firmware import (
    PinOwner,
    add_release,
    list_releases,
    promote_pins,
    remove_pin,
    remove_release,
    set_pin,
)
from plugtone.settings import Settings


def register(main: click.Group, common, run) -> None:
    """Attach the ``firmware`` group to ``main``.

    ``common`` adds --data/--db; ``run(settings, call)`` opens the store, runs one
    service call and turns a refusal into a clean exit.
    """

    def call(settings: Settings, service: Callable[[Store], Any]) -> Any:
        """``run``, with problems printed the way these commands always did (exit 2)."""

        def guarded(store: Store) -> Any:
            try:
                return service(store)
            except Invalid as error:
                _fail(error.problems)

        return run(settings, guarded)

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
        """Store a release: image files, or a vendor zip whose firmware files are picked out.

        The configuration files a vendor ships with a release (a stock sip.cfg...) are
        kept too, from the zip or given as files, and served to the phones that run it.
        """
        release = call(
            settings,
            lambda store: add_release(
                store, local_admin(), FileStore(settings.data_dir / "firmware"),
                vendor=vendor, models=[m.strip() for m in models.split(",") if m.strip()],
                version=version, sources=list(files), note=note,
            ),
        )  # fmt: skip
        click.echo(f"added {vendor} {version} for {', '.join(release.models)}:")
        for row in release.files:
            click.echo(f"  {row.name}  {row.role}  {row.size} bytes  sha256:{row.sha256}")

    @firmware.command("list")
    @common
    def list_(settings: Settings) -> None:
        """List the releases in the repository and where each is pinned."""
        releases = call(settings, lambda store: list_releases(store, local_admin()))
        if not releases:
            click.echo("no firmware releases (plugtone firmware add ...)")
        for release in releases:
            click.echo(
                f"{release.vendor} {release.version}  models: {', '.join(release.models)}"
                f"  files: {len(release.files)} ({release.size} bytes)"
                f"  pinned: {', '.join(release.pinned) or 'nowhere'}"
                + (f"  note: {release.note}" if release.note else "")
            )

    @firmware.command("remove")
    @common
    @click.option("--vendor", required=True)
    @click.argument("version")
    def remove(settings: Settings, vendor: str, version: str) -> None:
        """Remove a release that no pin uses (its files go too)."""
        files = FileStore(settings.data_dir / "firmware")
        call(settings, lambda store: remove_release(store, local_admin(), files, vendor, version))
        click.echo(f"removed {vendor} {version}")

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
        owner = _owner(model, site, applies_to, mac)
        result = call(
            settings,
            lambda store: set_pin(store, local_admin(), owner, version, first_wave=first_wave,
                                  force=force, where="command line"),
        )  # fmt: skip
        for change in result.changes or ["no change"]:
            click.echo(change)
        pinned = result.pins[0]
        if pinned.first_wave:
            click.echo(f"first wave: {len(pinned.wave)} phone(s): "
                       + ", ".join(colon_mac(m) for m in pinned.wave))  # fmt: skip

    @firmware.command("unpin")
    @common
    @owner_options
    def unpin(settings: Settings, model, site, applies_to, mac) -> None:
        """Remove a pin (phones then follow the next less specific pin)."""
        owner = _owner(model, site, applies_to, mac)
        call(settings, lambda store: remove_pin(store, local_admin(), owner))
        click.echo("pin removed")

    @firmware.command("promote")
    @common
    @owner_options
    @click.option("--all", "everything", is_flag=True, help="Promote every staged pin.")
    def promote(settings: Settings, model, site, applies_to, mac, everything: bool) -> None:
        """Let every phone a staged pin governs follow it, not only its first wave."""
        owner = None if everything else _owner(model, site, applies_to, mac)
        result = call(settings, lambda store: promote_pins(store, local_admin(), owner))
        for line in result.changes:
            click.echo(line)


def _owner(model, site, applies_to, mac) -> PinOwner:
    """The pin the options name (exactly one of --model, --site, --phone)."""
    chosen = [name for name, value in (("--model", model), ("--site", site), ("--phone", mac))
              if value]  # fmt: skip
    if len(chosen) != 1:
        raise click.ClickException("name exactly one of --model, --site or --phone")
    if applies_to and not site:
        raise click.ClickException("--for goes with --site")
    return PinOwner(model=model, site=site, applies_to=applies_to, phone=mac)


def _fail(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(f"error: {problem if problem.where else problem.message}", err=True)
    raise SystemExit(2)

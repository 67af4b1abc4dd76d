"""``plugtone check``: what would keep each phone from working, before a phone finds out.

Lists, per phone, every finding of the core (a site without a SIP server, a pin
without a release, no line) and of the phone's vendor plug-in (a key the model cannot
show, a zone the firmware cannot express, no stock files for a release). Exits 1
when it finds anything, so a deployment script can stop on it; warnings are marked
as such (the phone works, degraded in the way the line says).
"""

from __future__ import annotations

import sys

import click

from plugtone.macaddr import MacError, normalize_mac
from plugtone.settings import Settings


def register(main: click.Group, common, run) -> None:
    @main.command("check")
    @common
    @click.argument("macs", nargs=-1)
    def check_command(settings: Settings, macs: tuple[str, ...]) -> None:
        """List what would keep phones (all, or MACS) from working; exit 1 if anything."""
        from plugtone.services.actors import local_admin
        from plugtone.services.phone_checks import check_fleet
        from plugtone.vendors import default_registry

        try:
            wanted = [normalize_mac(mac) for mac in macs] or None
        except MacError as error:
            raise click.BadParameter(str(error), param_hint="MAC") from None
        findings = run(
            settings, lambda store: check_fleet(store, local_admin(), default_registry(), wanted)
        )
        for finding in findings:
            click.echo(str(finding))
        errors = sum(finding.refuse for finding in findings)
        phones = len({finding.mac for finding in findings})
        if not findings:
            click.echo("every phone checked is fine")
            return
        click.echo(
            f"{phones} phone(s) need attention: {errors} error(s), "
            f"{len(findings) - errors} warning(s)",
            err=True,
        )
        sys.exit(1)

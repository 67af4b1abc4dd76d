"""``plugtone arm``, ``disarm``, ``windows`` and ``credentials``: who gets secrets.

Thin over ``services.windows`` and ``services.credentials``; the CLI acts as the local
admin. A generated password is printed here once and never again: it goes to
standard output (a table, or CSV for a script), everything else to standard error.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import click

from plugtone.macaddr import colon_mac
from plugtone.services.actors import local_admin
from plugtone.services.credentials import clear_credentials, generate_credentials
from plugtone.services.errors import Invalid
from plugtone.services.windows import (
    DEFAULT_DURATION,
    WindowInfo,
    arm,
    disarm,
    list_windows,
    parse_duration,
)
from plugtone.settings import Settings


def _when(value: datetime) -> str:
    """Local time, as the person at the terminal reads a clock."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _window_line(window: WindowInfo) -> str:
    once = ", once" if window.once else ""
    return (
        f"window {window.id}: {window.covers()}, {window.state()} "
        f"{_when(window.opens_at)} to {_when(window.closes_at)}{once}"
    )


def register(main: click.Group, common, run, table) -> None:
    """Attach the commands to ``main``; ``run`` maps service errors to clean exits."""

    @main.command("arm")
    @common
    @click.option("--site", default=None, help="Every phone of this site.")
    @click.option("--phone", "phones", multiple=True, metavar="MAC",
                  help="This phone (repeat, or list MACs after the options).")  # fmt: skip
    @click.argument("more", nargs=-1, metavar="[MAC]...")
    @click.option("--for", "duration", default="1h", show_default=True,
                  help="How long: 30m, 2h, 1d (at most 7d).")  # fmt: skip
    @click.option("--in", "delay", default=None,
                  help="Open later: after this long (30m, 2h...); default now.")  # fmt: skip
    @click.option("--once", is_flag=True,
                  help="Close for each phone shortly after it first got its secrets.")  # fmt: skip
    def arm_command(settings: Settings, site: str | None, phones: tuple[str, ...],
                    more: tuple[str, ...], duration: str, delay: str | None,
                    once: bool) -> None:  # fmt: skip
        """Open a provisioning window: the phones it covers get their secrets (SIP
        passwords, logins) from any address while it is open.

        \b
        plugtone arm --site hq --for 2h
        plugtone arm --phone 00:08:5D:00:00:01 00:08:5D:00:00:02 --for 30m --once
        """
        macs = [*phones, *more]
        if more and not phones:
            raise click.UsageError("name phones with --phone MAC [MAC...]")
        if not macs and site is None:
            raise click.UsageError("arm needs --site NAME or --phone MAC")
        opens_at = None
        if delay is not None:
            try:
                seconds = parse_duration(delay, "--in")
            except Invalid as error:
                raise click.BadParameter(error.problems[0].message, param_hint="--in") from None
            opens_at = datetime.now(UTC) + timedelta(seconds=seconds)
        window = run(
            settings,
            lambda store: arm(store, local_admin(), site=site, macs=macs,
                              duration=duration or DEFAULT_DURATION, once=once,
                              opens_at=opens_at),
        )  # fmt: skip
        click.echo(f"armed {_window_line(window)}")

    @main.command("disarm")
    @common
    @click.argument("window_id", required=False, type=int, metavar="[ID]")
    @click.option("--site", default=None, help="This site's windows.")
    @click.option("--phone", "phones", multiple=True, metavar="MAC",
                  help="Take these phones out of the windows listing them.")  # fmt: skip
    @click.option("--all", "everything", is_flag=True, help="Every open or upcoming window.")
    def disarm_command(settings: Settings, window_id: int | None, site: str | None,
                       phones: tuple[str, ...], everything: bool) -> None:  # fmt: skip
        """Close provisioning windows: one by ID, a site's, some phones', or --all."""
        result = run(
            settings,
            lambda store: disarm(store, local_admin(), window_id=window_id, site=site,
                                 macs=list(phones), everything=everything),
        )  # fmt: skip
        for window in result.closed:
            click.echo(f"closed window {window.id}: {window.covers()}")
        for window in result.narrowed:
            click.echo(f"window {window.id} now covers {window.covers()}")
        for mac, window in result.still_covered:
            click.echo(
                f"note: {colon_mac(mac)} is still covered by window {window.id}"
                f" (site {window.site}, {window.state()}): plugtone disarm {window.id}",
                err=True,
            )
        if not result.closed and not result.narrowed:
            click.echo("no window was open for that")

    @main.command("windows")
    @common
    def windows_command(settings: Settings) -> None:
        """List open and upcoming provisioning windows."""
        found = run(settings, lambda store: list_windows(store, local_admin()))
        if not found:
            click.echo("no open or upcoming window (strangers get no secrets)")
            return
        rows = [
            (str(window.id), window.covers(), window.state(), _when(window.opens_at),
             _when(window.closes_at), "yes" if window.once else "no", window.created_by or "-")
            for window in found
        ]  # fmt: skip
        table(("ID", "COVERS", "STATE", "OPENS", "CLOSES", "ONCE", "BY"), rows)

    @main.group()
    def credentials() -> None:
        """Per-phone provisioning logins (HTTP Digest, Basic over TLS, FTP)."""

    @credentials.command("generate")
    @common
    @click.argument("macs", nargs=-1, metavar="[MAC]...")
    @click.option("--site", default=None, help="Every phone of this site.")
    @click.option("--replace", is_flag=True, help="Make new ones for phones that have one.")
    @click.option("--format", "output_format", type=click.Choice(["table", "csv"]),
                  default="table", show_default=True)  # fmt: skip
    def generate(settings: Settings, macs: tuple[str, ...], site: str | None, replace: bool,
                 output_format: str) -> None:  # fmt: skip
        """Make a login (user: the MAC in lower case) and a random 20-character password
        for each phone, and print them, this once."""
        if not macs and site is None:
            raise click.UsageError("name phones by MAC, or --site NAME")
        result = run(
            settings,
            lambda store: generate_credentials(store, local_admin(), list(macs), site=site,
                                               replace=replace),
        )  # fmt: skip
        for mac in result.skipped:
            click.echo(f"skipped {colon_mac(mac)}: it has a login already (--replace makes"
                       " a new one)", err=True)  # fmt: skip
        if not result.issued:
            click.echo("no login made", err=True)
            return
        if output_format == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(("mac", "http_user", "http_password"))
            for login in result.issued:
                writer.writerow((colon_mac(login.mac), login.user, login.password))
            click.echo(out.getvalue(), nl=False)
        else:
            rows = [(colon_mac(login.mac), login.user, login.password)
                    for login in result.issued]  # fmt: skip
            table(("MAC", "USER", "PASSWORD"), rows)
        click.echo(
            f"{len(result.issued)} login(s) made; the passwords are shown this once"
            " (plugtone keeps them encrypted and shows ******** from now on)",
            err=True,
        )

    @credentials.command("clear")
    @common
    @click.argument("macs", nargs=-1, metavar="[MAC]...")
    @click.option("--site", default=None, help="Every phone of this site.")
    def clear(settings: Settings, macs: tuple[str, ...], site: str | None) -> None:
        """Remove phones' logins (they rely on trusted networks or windows again)."""
        if not macs and site is None:
            raise click.UsageError("name phones by MAC, or --site NAME")
        result = run(
            settings, lambda store: clear_credentials(store, local_admin(), list(macs), site=site)
        )
        for mac in result.cleared:
            click.echo(f"cleared the login of {colon_mac(mac)}")
        for mac in result.without:
            click.echo(f"{colon_mac(mac)} had no login", err=True)

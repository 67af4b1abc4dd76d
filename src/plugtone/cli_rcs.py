"""``plugtone rcs``: the redirection service from the server's shell.

Thin over ``plugtone.redirect.services``; the shell user acts as a plugtone admin, so
every command names its account (``--account``). Bulk commands print an outcome per
MAC (or CSV row) and exit 1 when any was refused; imports are none-or-all unless
``--partial`` (the good rows are written), as ``plugtone import`` is.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click

from plugtone.settings import Settings


def register(main: click.Group, common, run, table) -> None:
    from plugtone.services.actors import local_admin

    def admin():
        from plugtone.redirect.actors import from_plugtone

        return from_plugtone(local_admin())

    @main.group("rcs")
    def rcs_group() -> None:
        """The redirection service: accounts, users, servers, phones, statistics."""

    @rcs_group.group("account")
    def account_group() -> None:
        """Service-provider accounts."""

    @account_group.command("add")
    @common
    @click.argument("name")
    def account_add(settings: Settings, name: str) -> None:
        """Add the account NAME."""
        from plugtone.redirect.services import add_account

        run(settings, lambda store: add_account(store, admin(), name))
        click.echo(f"account {name!r} added")

    @account_group.command("list")
    @common
    def account_list(settings: Settings) -> None:
        """List the accounts."""
        from plugtone.redirect.services import list_accounts

        found = run(settings, lambda store: list_accounts(store, admin()))
        table(
            ("ACCOUNT", "USERS", "PHONES"), [(a.name, str(a.users), str(a.phones)) for a in found]
        )

    @rcs_group.group("user")
    def user_group() -> None:
        """An account's Users and Super Users (they sign in with their e-mail address)."""

    @user_group.command("add")
    @common
    @click.argument("email")
    @click.option("--account", required=True, help="The account.")
    @click.option("--role", type=click.Choice(["user", "super"]), default="user", show_default=True)
    @click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input (else one is made and shown once).",
    )
    def user_add(
        settings: Settings, email: str, account: str, role: str, password_stdin: bool
    ) -> None:
        """Add the user EMAIL to an account."""
        from plugtone.redirect.services import add_user

        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        chosen = password or secrets.token_urlsafe(12)
        run(settings, lambda store: add_user(store, admin(), email, role, chosen, account))
        if password:
            click.echo(f"{role} {email} added to {account}")
        else:
            click.echo(f"{role} {email} added to {account}; password (shown once): {chosen}")

    @rcs_group.group("server")
    def server_group() -> None:
        """An account's configuration servers."""

    @server_group.command("add")
    @common
    @click.argument("name")
    @click.argument("url")
    @click.option("--account", required=True, help="The account.")
    def server_add(settings: Settings, name: str, url: str, account: str) -> None:
        """Add the configuration server NAME (20 characters at most) at URL (http, https,
        ftp or tftp; 255 characters at most)."""
        from plugtone.redirect.services import add_server

        run(settings, lambda store: add_server(store, admin(), name, url, account))
        click.echo(f"server {name!r} added: {url}")

    @server_group.command("list")
    @common
    @click.option("--account", required=True, help="The account.")
    def server_list(settings: Settings, account: str) -> None:
        """List an account's servers with their phone counts."""
        from plugtone.redirect.services import list_servers

        found = run(settings, lambda store: list_servers(store, admin(), account))
        table(("SERVER", "URL", "PHONES"), [(s.name, s.url, str(s.phones)) for s in found])

    @rcs_group.group("phone")
    def phone_group() -> None:
        """An account's registered MACs."""

    @phone_group.command("add")
    @common
    @click.argument("macs", nargs=-1, required=True)
    @click.option("--account", required=True, help="The account.")
    @click.option("--server", default=None, help="Redirect them to this server.")
    @click.option("--firmware", default=None, help="Firmware version to give them first.")
    @click.option("--branding", default=None, help="Branding to give them.")
    @click.option("--claim", default=None, help="A claim code (a serial number) for them.")
    @click.option("--partial", is_flag=True, help="Register the good MACs if some are refused.")
    def phone_add(
        settings: Settings,
        macs: tuple[str, ...],
        account: str,
        server: str | None,
        firmware: str | None,
        branding: str | None,
        claim: str | None,
        partial: bool,
    ) -> None:
        """Register MACS (and redirect them to --server)."""
        from plugtone.redirect.services import Assignment, Row, register_phones

        rows = [Row(mac, Assignment(server, firmware, branding), claim) for mac in macs]
        outcomes = run(
            settings,
            lambda store: register_phones(store, admin(), rows, account=account, good_rows=partial),
        )
        _report(table, outcomes)

    @phone_group.command("delete")
    @common
    @click.argument("macs", nargs=-1, required=True)
    @click.option("--account", required=True, help="The account.")
    def phone_delete(settings: Settings, macs: tuple[str, ...], account: str) -> None:
        """Delete MACS from an account."""
        from plugtone.redirect.services import delete_phones

        _report(table, run(settings, lambda store: delete_phones(store, admin(), macs, account)))

    @phone_group.command("list")
    @common
    @click.option("--account", required=True, help="The account.")
    @click.option("--unaffiliated", is_flag=True, help="Only phones with no server.")
    @click.option("--server", default=None, help='Only this server\'s phones ("none": no server).')
    @click.option("--mac", "q", default=None, help="Only MACs starting so (any notation).")
    def phone_list(
        settings: Settings, account: str, unaffiliated: bool, server: str | None, q: str | None
    ) -> None:
        """List an account's phones by MAC (every page)."""
        from plugtone.redirect.phone_pages import UNAFFILIATED, browse_phones

        def every(store):
            found, after = [], None
            while True:
                page = browse_phones(store, admin(), account, after=after, limit=1000, q=q,
                                     server=UNAFFILIATED if unaffiliated else server)  # fmt: skip
                found += page.items
                if page.next is None:
                    return found
                after = page.next

        found = run(settings, every)
        table(
            ("MAC", "SERVER", "FIRMWARE", "BRANDING", "LAST CONTACT"),
            [
                (
                    p.mac,
                    p.server or "-",
                    p.firmware or "-",
                    p.branding or "-",
                    f"{p.last_contact:%Y-%m-%d %H:%M}" if p.last_contact else "-",
                )
                for p in found
            ],
        )

    @rcs_group.command("import")
    @common
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--account", required=True, help="The account.")
    @click.option("--server", default=None, help="Server for rows that name none.")
    @click.option("--firmware", default=None, help="Firmware for rows that name none.")
    @click.option("--branding", default=None, help="Branding for rows that name none.")
    @click.option("--partial", is_flag=True, help="Write the good rows if some are refused.")
    def rcs_import(
        settings: Settings,
        file: Path,
        account: str,
        server: str | None,
        firmware: str | None,
        branding: str | None,
        partial: bool,
    ) -> None:
        """Register the MACs of a CSV FILE: first column MAC, then optional server,
        firmware and branding columns."""
        from plugtone.redirect.services import Assignment, import_csv

        content = file.read_bytes()
        outcomes = run(
            settings,
            lambda store: import_csv(
                store,
                admin(),
                content,
                Assignment(server, firmware, branding),
                account=account,
                good_rows=partial,
            ),
        )
        _report(table, outcomes, rows=True)

    @rcs_group.command("stats")
    @common
    @click.option("--account", required=True, help="The account.")
    def rcs_stats(settings: Settings, account: str) -> None:
        """The account's statistics (the Summary page's figures)."""
        from plugtone.redirect.services import stats

        figures = run(settings, lambda store: stats(store, admin(), account))
        table(
            ("FIGURE", "VALUE"),
            [
                ("phones registered", str(figures.registered)),
                ("phones redirected", str(figures.redirected)),
                ("phones unaffiliated", str(figures.unaffiliated)),
                ("phones in contact, last day", str(figures.contacts_day)),
                ("phones in contact, last week", str(figures.contacts_week)),
            ],
        )
        if figures.servers:
            click.echo("")
            table(
                ("SERVER", "PHONES", "REDIRECTED", "CONTACTS (DAY)"),
                [
                    (s.name, str(s.phones), str(s.redirected), str(s.contacts_day))
                    for s in figures.servers
                ],
            )


def _report(table, outcomes, rows: bool = False) -> None:
    heading = ("ROW", "MAC", "OUTCOME", "DETAIL") if rows else ("MAC", "OUTCOME", "DETAIL")
    table(
        heading,
        [((str(o.row),) if rows else ()) + (o.mac, o.outcome, o.message or "") for o in outcomes],
    )
    refused = [o for o in outcomes if not o.ok]
    click.echo(f"{len(outcomes) - len(refused)} of {len(outcomes)} accepted", err=True)
    if refused:
        sys.exit(1)

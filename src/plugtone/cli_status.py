"""``plugtone status``: how many phones hold their current files, and which need a look.

Prints the counts by state, then the phones needing attention (failing, stale, never
seen) a page at a time in MAC order; ``--all`` lists every phone and unassigned device,
``--state`` one state (repeatable), ``--site`` one site. Thin over
``services.status``, which says how each state is decided.
"""

from __future__ import annotations

import click

from plugtone.settings import Settings

STATE_CHOICES = ("up_to_date", "stale", "failing", "never_seen", "unassigned")


def register(main: click.Group, common, run, table) -> None:
    @main.command("status")
    @common
    @click.option(
        "--all",
        "everything",
        is_flag=True,
        help="Every phone and unassigned device, not only those needing attention.",
    )
    @click.option(
        "--state",
        "states",
        multiple=True,
        type=click.Choice(STATE_CHOICES),
        help="Only phones in this state (repeatable).",
    )
    @click.option("--site", default=None, help="Only this site's phones.")
    @click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True,
                  help="Phones listed per page (every page is listed).")  # fmt: skip
    def status(settings: Settings, everything: bool, states: tuple[str, ...],
               site: str | None, limit: int) -> None:  # fmt: skip
        """Show device status: counts by state, then the phones needing attention."""
        from plugtone.services.actors import local_admin
        from plugtone.services.status import ATTENTION, STATES, phone_status, status_summary

        summary = run(settings, lambda store: status_summary(store, local_admin(), site))
        counts = ", ".join(f"{summary.counts[name]} {name.replace('_', ' ')}" for name in STATES
                           if not (site and name == "unassigned"))  # fmt: skip
        click.echo(f"{summary.phones} phone(s) at generation {summary.generation}: {counts}")
        wanted = list(states) or (list(STATES) if everything else list(ATTENTION))
        rows, after = [], None
        while True:
            page = run(settings, lambda store, after=after: phone_status(
                store, local_admin(), wanted, site=site, after=after, limit=limit))  # fmt: skip
            rows += [_row(item) for item in page.items]
            if page.next is None:
                break
            after = page.next
        if not rows:
            click.echo("no phone needs attention" if not states and not everything
                       else "no phone in that state")  # fmt: skip
            return
        table(("MAC", "STATE", "SITE", "MODEL", "LAST SEEN", "ADDRESS", "FIRMWARE", "FILES",
               "CHANGED", "PROBLEM"), rows)  # fmt: skip


def _row(item) -> tuple[str, ...]:
    from plugtone.macaddr import colon_mac

    seen = item.last_seen.astimezone().strftime("%Y-%m-%d %H:%M") if item.last_seen else "-"
    problem = ""
    if item.state == "failing":
        problem = f"{item.boot_errors} error(s) on its last boot: {item.last_error or '?'}"
    elif item.state == "stale":
        problem = "has not fetched its files since they changed"
    return (
        colon_mac(item.mac), item.state.replace("_", " "), item.site or "-", item.model or "-",
        seen, item.last_address or "-", item.firmware or "-",
        "-" if item.files_generation is None else str(item.files_generation),
        "-" if item.changed_generation is None else str(item.changed_generation), problem,
    )  # fmt: skip

"""``plugtone events``: the requests devices made, and with ``--secrets`` the audit of
disclosures (every answer that carried a secret: who got which file, when, from
where, at which trust level).

Thin over ``services.devices.list_events``, newest first. Times are shown in local
time; ``--since`` takes a time (ISO 8601; without a zone, local) or a span back from
now (``2h``, ``1d``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from plugtone.macaddr import colon_mac
from plugtone.services.actors import local_admin
from plugtone.services.cursors import MAX_LIMIT
from plugtone.services.devices import EventInfo, list_events
from plugtone.services.errors import Invalid
from plugtone.services.windows import MAX_DURATION, parse_duration
from plugtone.settings import Settings

TRUST_LEVELS = ("local", "authenticated", "trusted_network", "window", "stranger")


def since_time(text: str) -> datetime:
    """``2h`` (that long ago) or an ISO 8601 time (local when it names no zone)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        return moment.astimezone(UTC) if moment.tzinfo is None else moment
    try:
        seconds = parse_duration(text, "--since")
    except Invalid:
        raise click.BadParameter(
            f"{text!r} is neither a time (2026-12-01T08:00) nor a span such as 2h or 1d"
            f" (at most {MAX_DURATION // 86400}d)"
        ) from None
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _when(value: datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _mac(event: EventInfo) -> str:
    return colon_mac(event.mac) if event.mac else "-"


def register(main: click.Group, common, run, table) -> None:
    @main.command("events")
    @common
    @click.option("--secrets", is_flag=True,
                  help="Only answers that carried a secret: the disclosures.")  # fmt: skip
    @click.option("--mac", "--phone", "mac", default=None, help="Only this device's.")
    @click.option("--since", default=None, help="From this time, or this long ago (2h, 1d).")
    @click.option("--trust", type=click.Choice(TRUST_LEVELS), default=None,
                  help="Only requests at this trust level.")  # fmt: skip
    @click.option("--transport", type=click.Choice(["tftp", "ftp", "http", "https"]),
                  default=None, help="Only this transport.")  # fmt: skip
    @click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=50, show_default=True)
    def events(settings: Settings, secrets: bool, mac: str | None, since: str | None,
               trust: str | None, transport: str | None, limit: int) -> None:  # fmt: skip
        """List requests devices made, newest first, with the trust level of each."""
        start = since_time(since) if since else None
        page = run(
            settings,
            lambda store: list_events(store, local_admin(), mac=mac, since=start,
                                      secrets=True if secrets else None, trust=trust,
                                      transport=transport, limit=limit),
        )  # fmt: skip
        if not page.items:
            click.echo("no disclosures recorded" if secrets else "no events recorded")
            return
        if secrets:
            header = ("TIME", "MAC", "FILE", "CLIENT", "TRUST", "TRANSPORT")
            rows = [
                (_when(e.time), _mac(e), e.path, e.client_address or "-", e.trust or "-",
                 e.transport)
                for e in page.items
            ]  # fmt: skip
        else:
            header = ("TIME", "MAC", "TRANSPORT", "CLIENT", "FILE", "STATUS", "BYTES", "TRUST",
                      "SECRETS")  # fmt: skip
            rows = [
                (_when(e.time), _mac(e), e.transport, e.client_address or "-", e.path, e.status,
                 str(e.bytes), e.trust or "-", "yes" if e.secrets else "")
                for e in page.items
            ]  # fmt: skip
        table(header, rows)
        if page.next is not None:
            click.echo(f"(more: --limit above {limit}, or --since)", err=True)

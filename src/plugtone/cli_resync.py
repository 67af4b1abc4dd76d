"""``plugtone resync``: make phones fetch their files now (a SIP NOTIFY each).

Thin over ``services.resync``: the phones named by MAC, a site's, or all, at most
``--rate`` new ones a second, each at its last known address and ``--sip-port``. A
progress bar (or, off a terminal, a line every 100 phones) shows the run; the table
lists every phone's outcome. Exits 1 when any phone did not answer with a 2xx.
"""

from __future__ import annotations

import sys

import click

from plugtone.settings import Settings


def register(main: click.Group, common, run, table) -> None:
    from plugtone.services.resync import DEFAULT_RATE, MAX_RATE, SIP_PORT

    @main.command("resync")
    @common
    @click.argument("macs", nargs=-1)
    @click.option("--site", default=None, help="Every phone of this site.")
    @click.option("--all", "everything", is_flag=True, help="Every phone of the inventory.")
    @click.option("--rate", type=click.FloatRange(0, MAX_RATE, min_open=True),
                  default=DEFAULT_RATE, show_default=True,
                  help="Phones a second, at most.")  # fmt: skip
    @click.option("--sip-port", type=click.IntRange(1, 65535), default=SIP_PORT,
                  show_default=True, help="The phones' SIP port.")  # fmt: skip
    def resync_command(settings: Settings, macs: tuple[str, ...], site: str | None,
                       everything: bool, rate: float, sip_port: int) -> None:  # fmt: skip
        """Send phones (MACS, --site or --all) the SIP NOTIFY that makes them resync.

        Each vendor's phones get the event their plug-in declares (check-sync), at the
        address plugtone last saw them at. What each vendor's phones need configured to
        act on it: docs/operations.md. Outcomes are kept as events (transport sip).
        """
        from plugtone.macaddr import colon_mac
        from plugtone.services.actors import local_admin
        from plugtone.services.resync import resync, select_targets
        from plugtone.vendors import default_registry

        actor = local_admin()
        registry = default_registry()

        def work(store):
            targets = select_targets(store, actor, macs=macs, site=site, everything=everything)
            with _Progress(len(targets)) as progress:
                return resync(store, actor, registry, targets, rate=rate, sip_port=sip_port,
                              progress=progress.advance)  # fmt: skip

        outcomes = run(settings, work)
        if not outcomes:
            click.echo("no phones to resync")
            return
        table(
            ("MAC", "SITE", "ADDRESS", "OUTCOME", "SENT", "SECONDS", "DETAIL"),
            [
                (colon_mac(o.mac), o.site, o.address or "-", o.status, str(o.sent),
                 f"{o.seconds:.1f}", o.reason)
                for o in outcomes
            ],
        )  # fmt: skip
        failed = [o for o in outcomes if not o.ok]
        click.echo(f"{len(outcomes) - len(failed)} of {len(outcomes)} phone(s) answered 2xx",
                   err=True)  # fmt: skip
        if failed:
            sys.exit(1)


class _Progress:
    """A rich progress bar on a terminal; elsewhere a line every ``every`` phones."""

    def __init__(self, total: int, every: int = 100) -> None:
        self.total = total
        self.every = every
        self.count = 0
        self._bar = None
        self._task = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty() and self.total > 1:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("resync", total=self.total)
        return self

    def advance(self, outcome) -> None:
        self.count += 1
        if self._bar is not None:
            self._bar.advance(self._task)
        elif self.total > self.every and (self.count % self.every == 0):
            click.echo(f"resync: {self.count}/{self.total} phone(s) done", err=True)

    def __exit__(self, *exc_info) -> None:
        if self._bar is not None:
            self._bar.stop()

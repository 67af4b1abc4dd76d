"""``plugtone acs``: TR-069 tasks and what the ACS knows of a device.

Thin over :mod:`plugtone.acs.service` (the API and the UI call the same functions):

    plugtone acs task MAC reboot|factory-reset|refresh|firmware|backup|restore|logs
    plugtone acs task MAC set NAME=VALUE
    plugtone acs show MAC

``--connect`` sends the device a connection request at once (HTTP Digest to its
ConnectionRequestURL; TR-111 UDP when that is all it has), ``--wait N`` waits up to N
seconds for the outcome; exit 0 when done, 2 when still queued, 1 when it failed.
"""

from __future__ import annotations

import sys

import click

from plugtone.settings import Settings


def register(main: click.Group, common, run, table) -> None:
    from plugtone.acs.tasks import KINDS

    @main.group("acs")
    def acs() -> None:
        """The TR-069 ACS: tasks for the phones it manages."""

    @acs.command("task")
    @common
    @click.argument("mac")
    @click.argument("kind", type=click.Choice(KINDS))
    @click.argument("assignment", required=False)
    @click.option("--upload", type=int, default=None, help="restore: this stored backup.")
    @click.option("--connect", is_flag=True, help="Send a connection request now.")
    @click.option("--wait", "seconds", type=click.FloatRange(0, 600), default=0,
                  help="Wait up to this many seconds for the task to finish.")  # fmt: skip
    def task_command(settings: Settings, mac: str, kind: str, assignment: str | None,
                     upload: int | None, connect: bool, seconds: float) -> None:  # fmt: skip
        """Queue task KIND for device MAC (set takes NAME=VALUE)."""
        import asyncio

        from plugtone.acs import service
        from plugtone.services.actors import local_admin

        name = value = None
        if kind == "set":
            if not assignment or "=" not in assignment:
                raise click.UsageError("set needs NAME=VALUE")
            name, value = assignment.split("=", 1)
        actor = local_admin()

        def work(store):
            queued = service.queue(store, actor, mac, kind, name=name, value=value,
                                   upload=upload)  # fmt: skip
            note = asyncio.run(service.connect(store, actor, mac)) if connect else None
            final = service.wait(store, queued.id, seconds) if seconds else queued
            return queued, note, final

        queued, note, final = run(settings, work)
        click.echo(f"task {queued.id} {kind} queued for {queued.mac}")
        if note:
            click.echo(f"connection request: {note}")
        status = final.status if final else "queued"
        click.echo(f"task {queued.id}: {status}" + (f" ({final.message})" if final and
                                                     final.message else ""))  # fmt: skip
        sys.exit({"done": 0, "failed": 1}.get(status, 2 if seconds else 0))

    @acs.command("connect")
    @common
    @click.argument("mac")
    def connect_command(settings: Settings, mac: str) -> None:
        """Ask device MAC to open a session now (its inventory changes reach it at once)."""
        import asyncio

        from plugtone.acs import service
        from plugtone.services.actors import local_admin

        note = run(settings, lambda store: asyncio.run(service.connect(store, local_admin(), mac)))
        click.echo(f"connection request: {note}")

    @acs.command("show")
    @common
    @click.argument("mac")
    def show_command(settings: Settings, mac: str) -> None:
        """What the ACS knows of device MAC, its tasks and stored uploads."""
        from plugtone.acs import service
        from plugtone.services.actors import local_admin

        info, found, uploads = run(
            settings, lambda store: service.device(store, local_admin(), mac)
        )
        for key, value in info.as_dict().items():
            click.echo(f"{key}: {value if value is not None else '-'}")
        if found:
            table(("TASK", "KIND", "STATUS", "TRIES", "MESSAGE"),
                  [(str(t.id), t.kind, t.status, str(t.attempts), t.message or "")
                   for t in found])  # fmt: skip
        for upload in uploads:
            click.echo(
                f"upload {upload.id}: {upload.kind}, {upload.size} bytes, {upload.received_at}"
            )

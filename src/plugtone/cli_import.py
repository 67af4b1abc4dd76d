"""``plugtone import FILE``: phones or extensions from a CSV sheet.

Thin over ``services.csv_import``, which checks the rows with the inventory file's
rules and applies them through the same service call as ``plugtone apply``. Problems
go to standard error, one line each (``phones.csv:27:2 (model): ...``), the summary
to standard output; the exit status is non-zero when rows had errors and nothing was
imported, so a script can tell.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from plugtone.inventory.csv_source import FORMATS, MAX_BYTES, Progress
from plugtone.services.actors import local_admin
from plugtone.services.csv_import import import_csv
from plugtone.services.errors import Invalid, ServiceError
from plugtone.settings import Settings
from plugtone.vendors import default_registry

PROGRESS_BYTES = 256 * 1024
"""About 4,000 phone rows: smaller files are done before a bar would be worth drawing."""


def register(main: click.Group, common, open_store) -> None:
    """Attach ``import`` to ``main`` (``common`` adds --data/--db)."""

    @main.command("import")
    @common
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--kind", type=click.Choice(sorted(FORMATS)), default=None,
                  help="What the rows are (default: told from the header).")  # fmt: skip
    @click.option("--dry-run", is_flag=True, help="Report what would happen; write nothing.")
    @click.option("--partial", is_flag=True,
                  help="Import the rows without errors and leave out the others.")  # fmt: skip
    def import_command(
        settings: Settings, file: Path, kind: str | None, dry_run: bool, partial: bool
    ) -> None:
        """Import phones or extensions from a CSV FILE: all rows or none, unless --partial."""
        data = _read(file)
        store = open_store(settings)
        try:
            with _progress(len(data)) as progress:
                report = import_csv(
                    store, local_admin(), data, default_registry(), filename=str(file),
                    kind=kind, dry_run=dry_run, partial=partial, progress=progress,
                )  # fmt: skip
        except Invalid as error:
            for problem in error.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException("nothing was imported") from None
        except ServiceError as error:
            raise click.ClickException(error.message) from None
        finally:
            store.dispose()
        for problem in report.problems:
            click.echo(str(problem), err=True)
        click.echo(report.summary())
        if not report.accepted:
            if report.totals["error"] and not partial:
                click.echo("(--partial imports the rows without errors)", err=True)
            sys.exit(1)


def _read(file: Path) -> bytes:
    """The file's bytes, refusing one over the cap before reading it."""
    try:
        if file.stat().st_size > MAX_BYTES:
            raise click.ClickException(
                f"{file}: larger than {MAX_BYTES // 1024**2} MiB; split the file"
            )
        return file.read_bytes()
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror}") from None


@contextmanager
def _progress(size: int) -> Iterator[Progress | None]:
    """A ``rich`` bar on standard error for a long file, when a person is watching."""
    if size < PROGRESS_BYTES or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description:<9}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("reading", total=size)

        def update(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        yield update

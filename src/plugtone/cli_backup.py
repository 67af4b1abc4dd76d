"""``plugtone backup FILE`` and ``plugtone restore FILE``: thin over
:mod:`plugtone.services.backup` and :mod:`plugtone.services.restore`.

The archive holds the secret key unless ``--without-key``: whoever has the file can
read every SIP password in it. It is created 0600; keep it as you keep the key.
"""

from __future__ import annotations

from pathlib import Path

import click

from plugtone.settings import Settings


def register(main: click.Group, common, run, table) -> None:
    @main.command("backup")
    @common
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--without-key", is_flag=True,
                  help="Leave the secret key out (restore then needs --key).")  # fmt: skip
    def backup_command(settings: Settings, file: Path, without_key: bool) -> None:
        """Write a consistent archive of the store, files, key and settings to FILE
        (while the server runs)."""
        from plugtone.services.actors import local_admin
        from plugtone.services.backup import backup

        result = run(
            settings,
            lambda store: backup(store, local_admin(), settings, file, with_key=not without_key),
        )
        rows = sum(result.rows.values())
        click.echo(
            f"wrote {file} ({result.size} bytes, mode 0600): schema {result.revision}, "
            f"{rows} row(s) in {len(result.rows)} table(s), {result.members} member(s)"
        )
        if result.key == "archive":
            click.echo("the archive holds the secret key: it opens every password in it; "
                       "keep it as safe as the key itself")  # fmt: skip
        elif result.key == "environment":
            click.echo("the key is in PLUGTONE_SECRET_KEY and is not in the archive: restore "
                       "needs it (PLUGTONE_SECRET_KEY or --key FILE)")  # fmt: skip
        else:
            click.echo(f"the key is not in the archive: restore needs it (--key "
                       f"{settings.secret_key_file} or PLUGTONE_SECRET_KEY)")  # fmt: skip

    @main.command("restore")
    @common
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
                  default=None, help="The key file of an archive made --without-key.")  # fmt: skip
    def restore_command(settings: Settings, file: Path, key_file: Path | None) -> None:
        """Load a backup into an empty data directory (--data) and empty database (--db)."""
        from plugtone.services.backup import BackupError
        from plugtone.services.restore import restore

        try:
            result = restore(file, settings.data_dir, settings.db_url, key_file=key_file)
        except BackupError as error:
            raise click.ClickException(error.message) from None
        rows = sum(result.rows.values())
        shown = _safe_url(result.db_url)
        click.echo(
            f"restored {rows} row(s) in {len(result.rows)} table(s) into {shown} and "
            f"{result.files} file(s) into {result.data_dir} (archive schema {result.revision}, "
            f"key from {result.key})"
        )
        if not result.db_url.startswith("sqlite"):
            click.echo(f"serve it with --data {result.data_dir} and --db (or PLUGTONE_DB) "
                       "set to that database")  # fmt: skip


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

"""The ``plugtone`` command.

Every subcommand takes ``--data DIR`` (default ``./var``, or ``PLUGTONE_DATA``) and
``--db URL`` (or ``PLUGTONE_DB``); the commands call the same service functions the
API and UI use, so a rule is written once.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.settings import SETTINGS_FILE, Settings, load_settings

if TYPE_CHECKING:
    from plugtone.inventory.store import Store
    from plugtone.services.actors import Actor
    from plugtone.services.devices import SeenInfo

# Each command imports what it needs when it runs: a command is a process of its own
# (scripts and tests start hundreds), and importing the store, the services, the
# plug-ins, Alembic and the web stack for every one of them cost more than most
# commands' work. The commands of the cli_* modules are attached when first asked
# for (see _Commands).


def local_admin() -> Actor:
    """The actor a command acts as (:func:`plugtone.services.actors.local_admin`)."""
    from plugtone.services.actors import local_admin as actor

    return actor()


def default_registry():
    """The installed plug-ins (:func:`plugtone.vendors.default_registry`)."""
    from plugtone.vendors import default_registry as registry

    return registry()


def common(command):
    """Add ``--data`` and ``--db`` to a subcommand and hand it resolved settings."""

    @click.option(
        "--data", "data_dir", envvar="PLUGTONE_DATA", default=None,
        help="Data directory (default ./var).",
    )  # fmt: skip
    @click.option(
        "--db", "db_url", envvar="PLUGTONE_DB", default=None,
        help="Store URL such as postgresql://user@host/db (default: SQLite under --data).",
    )  # fmt: skip
    @functools.wraps(command)
    def wrapper(data_dir, db_url, **kwargs):
        return command(load_settings(data_dir, db_url), **kwargs)

    return wrapper


def open_store(settings: Settings) -> Store:
    from plugtone.inventory.secret_keys import SecretKeyError
    from plugtone.inventory.store import Store, StoreError, check_schema, check_secret_key

    if settings.db_url.startswith("sqlite") and not settings.data_dir.is_dir():
        raise click.ClickException(
            f"no data directory at {settings.data_dir}: run 'plugtone init' first"
        )
    store = Store(settings.db_url, busy_timeout=settings.busy_timeout, data_dir=settings.data_dir)
    try:
        check_schema(store.engine)
        check_secret_key(store.engine)
    except (StoreError, SecretKeyError) as error:
        store.dispose()
        raise click.ClickException(str(error)) from None
    except Exception as error:  # connection refused, bad URL, ...
        store.dispose()
        raise click.ClickException(f"cannot open the store: {error}") from None
    return store


def run_service(settings: Settings, call):
    """Open the store, run one service call, and turn its refusal into one clean exit."""
    from sqlalchemy.exc import StatementError

    from plugtone.inventory.secret_keys import SecretKeyError
    from plugtone.services.errors import Invalid, ServiceError

    store = open_store(settings)
    try:
        return call(store)
    except Invalid as error:
        _fail_with(error.problems)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    except SecretKeyError as error:
        raise click.ClickException(str(error)) from None
    except StatementError as error:  # a secret that cannot be sealed or opened
        if isinstance(error.orig, SecretKeyError):
            raise click.ClickException(str(error.orig)) from None
        raise
    finally:
        store.dispose()


class _Commands(click.Group):
    """``main``'s commands, those of the cli_* modules attached when first asked for:
    ``plugtone arm`` imports the windows service, not the firmware one. Listing them
    (``--help``) attaches them all."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands:
            _attach(_LAZY_COMMANDS.get(name))
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        _attach(None)
        return super().list_commands(ctx)


@click.group(cls=_Commands)
@click.version_option(package_name="plugtone")
def main() -> None:
    """plugtone: zero-touch provisioning for SIP desk phones."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("aioftp").setLevel(logging.WARNING)  # a line per phone connection


@main.command()
@common
@click.option(
    "--tls/--no-tls", default=False, help="Generate a self-signed HTTPS pair if none exists."
)
def init(settings: Settings, tls: bool) -> None:
    """Create the data directory, migrate the store, optionally make a TLS pair.

    The data directory is 0700, and what init makes in it (the SQLite database, the
    secret key, the TLS key) is 0600; wider modes found are narrowed with a warning.
    The secret key is made by the migration that first encrypts, or on a fresh store,
    unless ``PLUGTONE_SECRET_KEY`` is set; an existing key file is never replaced.
    """
    from sqlalchemy.exc import StatementError

    from plugtone.inventory.private_files import make_private_directory, private_umask
    from plugtone.inventory.secret_keys import SecretKeyError
    from plugtone.inventory.store import Store, check_secret_key, migrate, secure_store_files

    with private_umask():
        make_private_directory(settings.data_dir)
        settings_file = settings.data_dir / SETTINGS_FILE
        if not settings_file.exists():
            settings_file.write_text(settings_template(settings))
        store = Store(settings.db_url, data_dir=settings.data_dir)
        try:
            migrate(store.engine)
            check_secret_key(store.engine)
        except SecretKeyError as error:
            raise click.ClickException(str(error)) from None
        except Exception as error:
            cause = error.orig if isinstance(error, StatementError) else error
            raise click.ClickException(f"cannot migrate the store: {cause}") from None
        finally:
            store.dispose()
        click.echo(f"store ready: {_safe_url(settings.db_url)}")
        if store.keys.from_environment:
            click.echo("secrets encrypted with the key in PLUGTONE_SECRET_KEY")
        else:
            click.echo(f"secrets encrypted with the key in {settings.secret_key_file}"
                       " (back it up with the database)")  # fmt: skip
        _first_admin(settings)
        if tls and not settings.tls_ready:
            from plugtone.tls import generate_self_signed

            generate_self_signed(settings.tls_cert, settings.tls_key)
            click.echo(f"self-signed certificate: {settings.tls_cert}")
        secure_store_files(settings.data_dir, settings.db_url, (settings.tls_key,))


def settings_template(settings: Settings) -> str:
    """The ``plugtone.toml`` init writes: a comment on the listener defaults, and only
    the listener settings given explicitly (a ``PLUGTONE_*`` variable), as given.

    A default is never written: the ports depend on who runs ``serve`` (root gets the
    protocols' own), and a file made by root's init would have a later unprivileged
    ``serve`` try 80 and 443.
    """
    lines = [
        "# plugtone settings; PLUGTONE_* variables and command-line flags override these.",
        "# Ports left out default to 80, 443, 69 and 21 as root, else 8080, 8443, 6969 and",
        "# 2121 (HTTP, HTTPS, TFTP, FTP); the admin API is on 8088. 0 turns a server off.",
    ]
    for name in ("host", "http_port", "https_port", "tftp_port", "ftp_port", "admin_port",
                 "admin_host"):  # fmt: skip
        if os.environ.get(f"PLUGTONE_{name.upper()}"):
            lines.append(f"{name} = {_toml(getattr(settings, name))}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """A TOML value: a number as it is, a string quoted (JSON's escapes are TOML's)."""
    import json

    return str(value) if isinstance(value, int) else json.dumps(str(value))


def _first_admin(settings: Settings) -> None:
    """On a store with no users, create ``admin`` and print its password once."""
    import os

    from plugtone.services.accounts import ensure_first_admin

    given = os.environ.get("PLUGTONE_ADMIN_PASSWORD") or None
    password = run_service(settings, lambda store: ensure_first_admin(store, given))
    if password is None:
        return
    if given:
        click.echo("admin user 'admin' created with the password in PLUGTONE_ADMIN_PASSWORD")
    else:
        click.echo(f"admin user 'admin' created; password (shown once): {password}")


PORT = click.IntRange(0, 65535)


@main.command()
@common
@click.option("--host", default=None, help="Address to listen on (default 0.0.0.0).")
@click.option("--http-port", type=PORT, default=None,
              help="HTTP port (80 as root, else 8080); 0 turns HTTP off.")  # fmt: skip
@click.option("--https-port", type=PORT, default=None,
              help="HTTPS port (443 as root, else 8443); on when a TLS pair exists; "
                   "0 turns HTTPS off.")  # fmt: skip
@click.option("--tftp-port", type=PORT, default=None,
              help="TFTP port (69 as root, else 6969); 0 turns TFTP off.")  # fmt: skip
@click.option("--tftp-max-transfers", type=int, default=None,
              help="Concurrent TFTP transfers beyond which new requests are dropped.")  # fmt: skip
@click.option("--ftp-port", type=PORT, default=None,
              help="FTP port (21 as root, else 2121); 0 turns FTP off.")  # fmt: skip
@click.option("--admin-port", type=PORT, default=None,
              help="Admin listener (REST API) port (default 8088); 0 turns it off.")  # fmt: skip
@click.option("--admin-host", default=None,
              help="Address of the admin listener (default: the same as --host).")  # fmt: skip
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Log lines on stderr as text or JSON objects.")  # fmt: skip
@click.option("--log-requests", type=click.Choice(["off", "debug", "info", "warning"]),
              default="off", show_default=True,
              help="Log one line per phone request at this level (never a secret).")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 256), default=None,
              help="Processes sharing the listening ports (default 1: one process).")  # fmt: skip
@click.option("--rcs-port", type=click.IntRange(1, 65535), default=None,
              help="The redirection service alone (it is also on /rcs/ of HTTP(S)).")  # fmt: skip
@click.option("--cwmp-port", type=click.IntRange(1, 65535), default=None,
              help="A port for the TR-069 ACS alone (it is also on /cwmp).")  # fmt: skip
@click.option("--stun-port", type=click.IntRange(1, 65535), default=None,
              help="UDP port of the TR-111 STUN server (CPEs behind NAT).")  # fmt: skip
def serve(
    settings: Settings, host, http_port, https_port, tftp_port, tftp_max_transfers, ftp_port,
    admin_port, admin_host, log_format, log_requests, workers, cwmp_port=None, stun_port=None,
    rcs_port=None,
) -> None:  # fmt: skip
    """Serve phones (and the admin API on its own port) until interrupted.

    Each port comes from its flag, else ``PLUGTONE_*``, else ``plugtone.toml``, else the
    default for root or not; 0 turns that server off. Every listener is bound before
    the line saying what listens where is printed; one that cannot be is named in one
    line and nothing is left listening.
    """
    from plugtone.inventory.store import secure_store_files
    from plugtone.provisioning.request_log import LEVELS, use_json_lines
    from plugtone.servers import event_loop
    from plugtone.servers.runner import ServeOptions, StartupError
    from plugtone.servers.runner import serve as run

    if log_format == "json":
        use_json_lines()

    ports = {
        "http_port": (http_port, settings.http_port),
        "https_port": (https_port, settings.https_port if settings.tls_ready else None),
        "tftp_port": (tftp_port, settings.tftp_port),
        "ftp_port": (ftp_port, settings.ftp_port),
        "admin_port": (admin_port, settings.admin_port),
    }
    chosen: dict[str, int | None] = {}
    for name, (flag, setting) in ports.items():
        port = flag if flag is not None else setting
        if port is not None and not 0 <= port <= 65535:
            raise click.ClickException(f"{name} {port} is not a port (0 to 65535)")
        chosen[name] = None if port == 0 else port  # 0 turns the server off
    if not any(chosen.values()):
        raise click.ClickException("every server is off (each port is 0): nothing to serve")
    if chosen["https_port"] is not None and not settings.tls_ready:
        raise click.ClickException(
            f"HTTPS needs {settings.tls_cert} and {settings.tls_key}: run 'plugtone init --tls'"
            " (or --https-port 0)"
        )
    open_store(settings).dispose()
    secure_store_files(settings.data_dir, settings.db_url, (settings.tls_key,))
    options = ServeOptions(
        db_url=settings.db_url,
        host=host or settings.host,
        http_port=chosen["http_port"],
        https_port=chosen["https_port"],
        tls_cert=settings.tls_cert,
        tls_key=settings.tls_key,
        tftp_port=chosen["tftp_port"],
        tftp_max_transfers=tftp_max_transfers or settings.tftp_max_transfers,
        cache_phones=settings.cache_phones,
        data_dir=settings.data_dir,
        ftp_port=chosen["ftp_port"],
        ftp_factory_accounts=settings.ftp_factory_accounts,
        ftp_accounts=settings.ftp_accounts,
        ftp_passive_ports=settings.ftp_passive_ports,
        ftp_masquerade=settings.ftp_masquerade,
        admin_port=chosen["admin_port"],
        admin_host=admin_host or settings.admin_host or None,
        settings=settings,
        security=settings.security,
        log_requests=LEVELS.get(log_requests),
        rcs_port=rcs_port,
        cwmp_port=cwmp_port,
        stun_port=stun_port,
    )
    try:
        if (workers or settings.workers) > 1:  # a supervisor and its workers
            from plugtone.servers.workers import serve_workers

            count = workers or settings.workers
            sys.exit(serve_workers(options, count, click.echo, log_format))
        event_loop.run(run(options, announce=click.echo))  # uvloop when installed
    except StartupError as error:  # one line, no traceback; nothing is left listening
        click.echo(f"plugtone: {error}", err=True)
        sys.exit(1)


@main.command()
@common
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Print the changes without making them.")
@click.option("--prune", is_flag=True, help="Delete what the file does not mention.")
def apply(settings: Settings, file: Path, dry_run: bool, prune: bool) -> None:
    """Make the inventory match FILE (YAML), in one transaction."""
    from plugtone.inventory.document import parse_document
    from plugtone.inventory.yaml_source import SourceError, load_located
    from plugtone.services.inventory import apply_inventory

    try:
        located = load_located(file.read_bytes(), str(file))
    except OSError as error:
        raise click.ClickException(f"cannot read {file}: {error.strerror}") from None
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    registry = default_registry()
    document, problems = parse_document(located, registry)
    del located  # its values and positions are in the document now: free them for the apply
    if problems:
        _fail_with(problems)
    result = run_service(
        settings,
        lambda store: apply_inventory(
            store, local_admin(), document, registry, prune=prune, dry_run=dry_run
        ),
    )
    for change in result.changes:
        click.echo(str(change))
    if dry_run:
        click.echo(f"dry run: {len(result.changes)} change(s), nothing written")
    elif result.changes:
        click.echo(
            f"applied {len(result.changes)} change(s); inventory generation {result.generation}"
        )
    else:
        click.echo("no changes")


def _fail_with(problems) -> None:
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    raise click.ClickException(f"{len(problems)} problem(s); nothing was changed")


@main.command()
@common
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["yaml", "csv"]), default="yaml",
              help="The inventory file (yaml), or a sheet of one kind (csv).")  # fmt: skip
@click.option("--kind", type=click.Choice(["phones", "extensions"]), default=None,
              help="With --format csv: what the sheet lists (default phones).")  # fmt: skip
@click.option("--with-secrets", is_flag=True,
              help="Write the passwords themselves instead of ********.")  # fmt: skip
def export(settings: Settings, output: Path | None, output_format: str, kind: str | None,
           with_secrets: bool) -> None:  # fmt: skip
    """Write the inventory in the inventory file format, or phones or extensions as CSV.

    Passwords are written as ******** (which apply reads as "keep the stored one")
    unless --with-secrets; a file with them is created readable by its owner only.
    """
    if output_format == "csv":
        from plugtone.services.csv_export import export_csv

        sheet = kind or "phones"
        text = run_service(
            settings,
            lambda store: export_csv(store, local_admin(), sheet, secrets=with_secrets),
        )
    elif kind is not None:
        raise click.UsageError("--kind is for --format csv (the inventory file has every kind)")
    else:
        from plugtone.services.inventory import export_inventory_yaml

        # masked, the file still applies back as it was (the mask keeps the stored
        # password); with the secrets, the disclosure is audited
        text = run_service(
            settings,
            lambda store: export_inventory_yaml(store, local_admin(), secrets=with_secrets),
        )
    if output:
        mode = 0o600 if with_secrets else 0o666
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(descriptor, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    else:
        click.echo(text, nl=False)


@main.command("rotate-key")
@common
def rotate_key_command(settings: Settings) -> None:
    """Encrypt every secret with a new key, which replaces the data directory's secret.key."""
    from sqlalchemy.exc import StatementError

    from plugtone.inventory.key_rotation import rotate_key
    from plugtone.inventory.secret_keys import SecretKeyError

    store = open_store(settings)
    try:
        rotation = rotate_key(store)
    except SecretKeyError as error:
        raise click.ClickException(str(error)) from None
    except StatementError as error:
        cause = error.orig if isinstance(error.orig, SecretKeyError) else error
        raise click.ClickException(f"nothing was changed: {cause}") from None
    finally:
        store.dispose()
    click.echo(
        f"{rotation.secrets} secret(s) encrypted again with key {rotation.new_key} "
        f"(was {rotation.old_key}) in {settings.secret_key_file}"
    )
    click.echo(
        "servers using this data directory read the new key by themselves; copy the new "
        "key file to every other machine serving this store and restart plugtone there, "
        "and replace the key in your backups"
    )


@main.command("export-tree")
@common
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--world-readable", is_flag=True,
              help="Files 0644 instead of 0600 (device files hold SIP passwords).")  # fmt: skip
def export_tree_command(settings: Settings, directory: Path, world_readable: bool) -> None:
    """Write every file phones would be served into DIRECTORY (for any static server)."""
    from plugtone.services.export_tree import export_tree

    store = open_store(settings)
    try:
        modes = {"file_mode": 0o644, "dir_mode": 0o755} if world_readable else {}
        count = export_tree(store, default_registry(), directory, **modes)
    finally:
        store.dispose()
    click.echo(f"wrote {count} file(s) under {directory}")


@main.command()
@common
@click.option("--unassigned", is_flag=True, help="Only devices seen but not in the inventory.")
@click.option("--firmware", "firmware", is_flag=True,
              help="Firmware state: running, target, pin, last offered, last result.")  # fmt: skip
def phones(settings: Settings, unassigned: bool, firmware: bool) -> None:
    """List phones, with what plugtone last saw of each, and unassigned devices."""
    from plugtone.services.cursors import MAX_LIMIT
    from plugtone.services.devices import list_phones, list_unassigned

    if firmware:
        _firmware_table(settings)
        return

    def every(store, page_of) -> list:
        """All items, a page at a time (a fleet can be larger than one page)."""
        items, after = [], None
        while True:
            page = page_of(store, local_admin(), after=after, limit=MAX_LIMIT)
            items += page.items
            after = page.next
            if after is None:
                return items

    found, seen = run_service(
        settings,
        lambda store: ([] if unassigned else every(store, list_phones),
                       every(store, list_unassigned)),
    )  # fmt: skip
    rows = [
        (colon_mac(phone.mac), phone.model, phone.site, str(len(phone.lines)), _seen(phone.seen))
        for phone in found
    ]
    rows += [
        (colon_mac(device.mac), device.seen.model or "?", "(unassigned)", "-", _seen(device.seen))
        for device in seen
    ]
    _table(("MAC", "MODEL", "SITE", "LINES", "LAST SEEN"), rows)


def _firmware_table(settings: Settings) -> None:
    from plugtone.services.firmware import firmware_report

    report = run_service(settings, lambda store: firmware_report(store, local_admin()))
    header = ("MAC", "MODEL", "SITE", "RUNNING", "TARGET", "PIN", "LAST OFFERED", "DELIVERED",
              "LAST RESULT")  # fmt: skip
    rows = [
        (colon_mac(row.mac), row.model, row.site, row.running or "?", row.target or "(leave)",
         row.pin, row.last_offered.strftime("%Y-%m-%d %H:%M:%S") if row.last_offered else "-",
         row.delivered or "-", row.last_result or "-")
        for row in report
    ]  # fmt: skip
    _table(header, rows)


def _table(header: tuple[str, ...], rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )


def _seen(seen: SeenInfo | None) -> str:
    if seen is None:
        return "never"
    when = seen.last_seen.strftime("%Y-%m-%d %H:%M:%S")
    version = f" v{seen.firmware_version}" if seen.firmware_version else ""
    return f"{when} from {seen.address or '?'}{version}"


_LAZY_COMMANDS = {
    "firmware": "firmware",
    "user": "accounts",
    "token": "accounts",
    "arm": "security",
    "disarm": "security",
    "windows": "security",
    "credentials": "security",
    "events": "events",
    "check": "check",
    "import": "import",
    "dhcp": "dhcp",
    "resync": "resync",
    "status": "status",
    "backup": "backup",
    "restore": "backup",
    "rcs": "rcs",
    "acs": "acs",
}
"""Which cli_* module attaches each of their commands; a name missing here (a command
added to one of them since) is found by attaching them all."""
_attached: set[str] = set()


def _attach(module: str | None) -> None:
    """Attach the commands of ``plugtone.cli_<module>`` to ``main``, or, for ``None``,
    those of every cli_* module; each module once."""
    for name in [module] if module else sorted(set(_LAZY_COMMANDS.values())):
        if name in _attached:
            continue
        _attached.add(name)
        if name == "firmware":
            from plugtone.cli_firmware import register as firmware

            firmware(main, common, run_service)
        elif name == "accounts":
            from plugtone.cli_accounts import register as accounts

            accounts(main, common, run_service, _table)
        elif name == "security":
            from plugtone.cli_security import register as security

            security(main, common, run_service, _table)
        elif name == "events":
            from plugtone.cli_events import register as events

            events(main, common, run_service, _table)
        elif name == "check":
            from plugtone.cli_check import register as check

            check(main, common, run_service)
        elif name == "import":
            from plugtone.cli_import import register as csv_import

            csv_import(main, common, open_store)
        else:  # newer modules share one signature: register(main, common, run, table)
            import importlib
            import importlib.util

            module_name = f"plugtone.cli_{name}"
            if importlib.util.find_spec(module_name) is not None:
                importlib.import_module(module_name).register(main, common, run_service, _table)


@main.command()
@common
@click.argument("mac")
@click.option("--show", "name", default=None, help="Print this uploaded file instead of the list.")
def uploads(settings: Settings, mac: str, name: str | None) -> None:
    """List (or print) what phone MAC uploaded: logs, overrides, contacts."""
    from plugtone.provisioning.uploads import UploadStore
    from plugtone.services.devices import list_uploads, upload_content

    normalized = _mac_argument(mac)
    files = UploadStore(settings.data_dir / "uploads")
    if name is not None:
        shown = run_service(
            settings,
            lambda store: upload_content(store, local_admin(), files, normalized, name,
                                         reveal=True),
        )  # fmt: skip
        sys.stdout.buffer.write(shown.content)
        return
    found = run_service(settings, lambda store: list_uploads(store, local_admin(), files, mac))
    if not found:
        click.echo(f"{colon_mac(normalized)} has uploaded nothing")
        return
    for item in found:
        click.echo(f"{item.modified:%Y-%m-%d %H:%M:%S}  {item.size:>9}  {item.name}")


@main.command()
@common
@click.argument("mac")
@click.argument("file")
def render(settings: Settings, mac: str, file: str) -> None:
    """Print exactly what phone MAC would be served for FILE (secrets included)."""
    from plugtone.services.devices import rendered_file

    normalized = _mac_argument(mac)
    shown = run_service(
        settings,
        lambda store: rendered_file(store, default_registry(), local_admin(), normalized, file,
                                    reveal=True),
    )  # fmt: skip
    sys.stdout.buffer.write(shown.content)


@main.command()
@common
@click.argument("mac")
@click.option("--site", required=True, help="The site the phone joins.")
@click.option("--model", default=None, help="Its model (default: the one the device reported).")
@click.option(
    "--line",
    "lines",
    multiple=True,
    metavar="EXTENSION",
    help="Extension (NUMBER or SITE/NUMBER) of the next line; repeat for line 1, 2...",
)
@click.option("--description", default=None, help="Where the phone is, who uses it.")
def claim(settings: Settings, mac: str, site: str, model: str | None, lines: tuple[str, ...],
          description: str | None) -> None:  # fmt: skip
    """Add device MAC, seen but not in the inventory, as a phone at SITE."""
    from plugtone.services.devices import claim_device

    result = run_service(
        settings,
        lambda store: claim_device(store, local_admin(), mac, site=site, model=model,
                                   lines=list(lines), description=description),
    )  # fmt: skip
    for change in result.changes:
        click.echo(change)
    phone = result.phone
    click.echo(
        f"claimed {colon_mac(phone.mac)}: {phone.model} at {phone.site}"
        + (f"; inventory generation {result.generation}" if result.generation else "")
    )


def _mac_argument(text: str) -> str:
    try:
        return normalize_mac(text)
    except MacError as error:
        raise click.ClickException(str(error)) from None


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)

"""``plugtone restore FILE``: a backup (:mod:`plugtone.services.backup`) into a new
deployment, SQLite or PostgreSQL whatever the archive came from.

Nothing is changed until the whole archive is checked: every member is read and its
SHA-256 compared with the manifest's, no member is missing or extra, the format and
schema revision are ones this plugtone knows, the target data directory is new or
empty, the target database has no table, and the key the restored store will run
with (``PLUGTONE_SECRET_KEY``, else ``--key FILE``, else the archive's) opens the
archive's sealed secrets. Any refusal is one line.

Then: the key, settings, TLS pair, firmware files and uploads are written into the
data directory (0700; key and TLS key 0600); the database is migrated to the
archive's schema revision, the rows are inserted table by table, each before the
tables referencing it, in one transaction, PostgreSQL's sequences are moved past the
ids restored, and the database is migrated on to this plugtone's head (an older
archive gets the same migrations an older store would). A failure on the way
removes what the restore made, leaving the target as empty as it was.

Not through a unit of work: like ``plugtone init``'s migrations, a restore builds a
store rather than changing one; there is no store yet to audit into or check a role
against, and whoever can write the target directory and database owns it anyway.
The restored audit log is the source's, up to the backup.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from plugtone.inventory.models import Base
from plugtone.inventory.secret_keys import (
    ENV_KEY,
    KEY_FILE,
    OLD_KEY_FILE,
    Keyring,
    SecretKeyError,
    decode_key,
)
from plugtone.inventory.store import (
    KEY_CHECK,
    KEY_CHECK_TEXT,
    MIGRATIONS,
    VERSION_TABLE,
    Store,
    check_schema,
    check_secret_key,
    migrate,
    normalize_url,
    sqlite_file,
)
from plugtone.inventory.table_copy import (
    clear_tables,
    existing_tables,
    load_rows,
    reset_sequences,
    tables,
)
from plugtone.services.backup import CHUNK, FORMAT, FORMAT_VERSION, MANIFEST, BackupError
from plugtone.settings import SETTINGS_FILE

MEMBER = re.compile(
    r"^(?:manifest\.json|key/secret\.key(?:\.old)?|settings/plugtone\.toml"
    r"|settings/tls/(?:cert|key)\.pem|db/[a-z_][a-z0-9_]*\.jsonl"
    r"|firmware/sha256/[0-9a-f]{2}/[0-9a-f]{64}|uploads/[0-9A-Fa-f]{12}/[^/\\\x00]+)$"
)
"""Every name a backup writes; anything else (``../``, a link) is refused unread."""


@dataclass
class RestoreResult:
    data_dir: Path
    db_url: str
    revision: str
    rows: dict[str, int]
    files: int
    key: str
    """Where the restored store's key comes from: ``archive``, ``--key`` or ``environment``."""


def restore(
    archive_path: Path, data_dir: Path, db_url: str, *, key_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> RestoreResult:  # fmt: skip
    """Check the archive and the target, then restore; :class:`BackupError` refuses."""
    environ = dict(os.environ if environ is None else environ)
    try:
        archive = tarfile.open(archive_path, "r:gz")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise BackupError(f"no archive at {archive_path}") from None
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"{archive_path} is not a plugtone backup ({error})") from None
    with archive:
        manifest, members = verify(archive)
        check_target(data_dir, db_url)
        keys, source = restored_keys(archive, members, key_file, environ)
        check_key(archive, members, keys)
        given = key_file.read_bytes() if key_file is not None else None
        made_dir = not data_dir.exists()
        try:
            files = write_files(archive, members, data_dir, given)
            rows = load_store(archive, members, manifest, data_dir, db_url)
        except BaseException:
            undo(data_dir, made_dir, db_url)
            raise
    return RestoreResult(data_dir, db_url, manifest["schema_revision"], rows, files, source)


# -- checks (nothing is written before they all pass)


def verify(archive: tarfile.TarFile) -> tuple[dict[str, Any], dict[str, tarfile.TarInfo]]:
    """Read every member, hash it, and hold the hashes to the manifest's."""
    members: dict[str, tarfile.TarInfo] = {}
    hashes: dict[str, str] = {}
    manifest: dict[str, Any] | None = None
    try:
        for member in archive:
            name = member.name
            if not member.isfile() or not MEMBER.match(name) or name.endswith(("/.", "/..")):
                raise BackupError(f"the archive holds {name!r}, which no plugtone backup writes")
            if name in members:
                raise BackupError(f"the archive holds {name} twice")
            members[name] = member
            stream = archive.extractfile(member)
            assert stream is not None
            if name == MANIFEST:
                manifest = _manifest(stream.read())
                continue
            digest = hashlib.sha256()
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
            hashes[name] = digest.hexdigest()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"the archive is damaged ({error}); nothing was restored") from None
    if manifest is None:
        raise BackupError(f"the archive has no {MANIFEST}: not a plugtone backup")
    listed = manifest.get("members") or {}
    for name in sorted(set(listed) | set(hashes)):
        if name not in hashes:
            raise BackupError(f"the archive lacks {name}, which its manifest lists")
        if name not in listed:
            raise BackupError(f"the archive holds {name}, which its manifest does not list")
        if listed[name].get("sha256") != hashes[name]:
            raise BackupError(
                f"{name} in the archive does not match its SHA-256 in the manifest: the "
                "archive was changed or damaged; nothing was restored"
            )
    _check_schema_of(manifest)
    return manifest, members


def _manifest(body: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(body)
    except ValueError:
        raise BackupError(f"the archive's {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"the archive's {MANIFEST} is not a plugtone backup's")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BackupError(
            f"the archive is backup format {version}; this plugtone reads {FORMAT_VERSION} "
            f"(restore with plugtone {manifest.get('plugtone_version', '?')} or newer)"
        )
    return manifest


def _check_schema_of(manifest: dict[str, Any]) -> None:
    """The archive's schema revision and columns are ones this plugtone knows."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    revision = manifest.get("schema_revision")
    script = ScriptDirectory(str(MIGRATIONS))
    try:
        known = script.get_revision(str(revision)) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(
            f"the archive is at schema revision {revision}, which this plugtone does not "
            f"know: restore with plugtone {manifest.get('plugtone_version', '?')} or newer"
        )
    ours = Base.metadata.tables
    for name, table in (manifest.get("tables") or {}).items():
        if name not in ours:
            raise BackupError(f"the archive has a table {name} this plugtone does not know")
        for column, _kind in table.get("columns", []):
            if column not in ours[name].c:
                raise BackupError(
                    f"the archive has a column {name}.{column} this plugtone does not know"
                )


def check_target(data_dir: Path, db_url: str) -> None:
    """The data directory is new or empty and the database has no table."""
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise BackupError(
            f"{data_dir} is not an empty directory: restore only into a new or empty data "
            "directory; nothing was changed"
        )
    database = sqlite_file(normalize_url(db_url))
    if database is not None:
        if database.exists() and database.stat().st_size > 0:
            raise BackupError(f"{database} exists: restore only into a new database; "
                              "nothing was changed")  # fmt: skip
        return
    shown = make_url(normalize_url(db_url)).render_as_string(hide_password=True)
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as connection:
            found = existing_tables(connection)
    except Exception as error:
        raise BackupError(f"cannot reach the database {shown}: {type(error).__name__}") from None
    finally:
        engine.dispose()
    if found:
        raise BackupError(
            f"the database {shown} has {len(found)} table(s) ({', '.join(sorted(found)[:3])}"
            f"{', ...' if len(found) > 3 else ''}): restore only into an empty database; "
            "nothing was changed"
        )


def restored_keys(
    archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], key_file: Path | None,
    environ: dict[str, str],
) -> tuple[Keyring, str]:  # fmt: skip
    """The keys the restored store will open its secrets with, and where they come from."""
    old = _key_lines(_read(archive, members, f"key/{OLD_KEY_FILE}"), "the archive's old key")
    if environ.get(ENV_KEY):
        return Keyring(decode_key(environ[ENV_KEY], ENV_KEY), tuple(old), ENV_KEY), "environment"
    if key_file is not None:
        try:
            body = key_file.read_bytes()
        except OSError as error:
            raise BackupError(f"cannot read the key {key_file}: {error.strerror}") from None
        keys, source = _key_lines(body, str(key_file)), "--key"
    else:
        archived = _read(archive, members, f"key/{KEY_FILE}")
        keys, source = _key_lines(archived, "the archive's key"), "archive"
    if not keys:
        raise BackupError(
            "the archive holds no secret key (made --without-key, or with PLUGTONE_SECRET_KEY):"
            f" give it with --key FILE or {ENV_KEY}"
        )
    return Keyring(keys[0], (*old, *keys[1:]), source), source


def _key_lines(body: bytes | None, where: str) -> list[bytes]:
    if body is None:
        return []
    try:
        lines = body.decode("ascii").splitlines()
        return [decode_key(line, where) for line in lines if line.strip() and not
                line.lstrip().startswith("#")]  # fmt: skip
    except (UnicodeDecodeError, SecretKeyError) as error:
        raise BackupError(f"{where} is not a plugtone key file ({error})") from None


def check_key(archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], keys: Keyring) -> None:
    """The key opens the archive's key check (a sealed known text in ``meta``)."""
    for row in _rows(archive, members, "meta"):
        if row.get("key") == KEY_CHECK:
            try:
                opened = keys.open(str(row.get("value")))
            except SecretKeyError as error:
                raise BackupError(f"{error}; nothing was restored") from None
            if opened != KEY_CHECK_TEXT:  # pragma: no cover - AES-GCM authenticates
                raise BackupError("the key does not open the archive's secrets")


# -- writing


def write_files(
    archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], data_dir: Path,
    given_key: bytes | None,
) -> int:  # fmt: skip
    """Key, settings, TLS pair, firmware and uploads into the new data directory;
    ``given_key`` (the ``--key`` file's content) is the key file instead of the
    archive's."""
    from plugtone.inventory.private_files import make_private_directory, private_umask

    written = 0
    with private_umask():
        make_private_directory(data_dir)
        if given_key is not None:
            descriptor = os.open(data_dir / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(given_key)
            written += 1
        for name, member in members.items():
            if name == MANIFEST or name.startswith("db/"):
                continue
            if given_key is not None and name == f"key/{KEY_FILE}":
                continue
            target = data_dir / _place(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            stream = archive.extractfile(member)
            assert stream is not None
            mode = 0o644 if name.startswith("firmware/") else 0o600
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(descriptor, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            os.chmod(target, mode)  # the umask narrowed 0644
            written += 1
    return written


def _place(name: str) -> str:
    """Where a member goes in the data directory."""
    if name.startswith("key/"):
        return name.removeprefix("key/")
    if name == f"settings/{SETTINGS_FILE}":
        return SETTINGS_FILE
    if name.startswith("settings/tls/"):
        return name.removeprefix("settings/")
    return name  # firmware/..., uploads/...


def load_store(
    archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], manifest: dict[str, Any],
    data_dir: Path, db_url: str,
) -> dict[str, int]:  # fmt: skip
    """Migrate to the archive's revision, insert its rows, migrate on to head."""
    store = Store(db_url, data_dir=data_dir)
    try:
        migrate(store.engine, manifest["schema_revision"])
        counts: dict[str, int] = {}
        described = manifest.get("tables") or {}
        with store.engine.begin() as connection:
            clear_tables(connection)
            for table in tables():
                if table.name not in described:
                    continue
                entry = described[table.name]
                rows = _rows(archive, members, table.name)
                counts[table.name] = load_rows(connection, table, entry["columns"], rows)
                if counts[table.name] != entry.get("rows"):
                    raise BackupError(
                        f"db/{table.name}.jsonl holds {counts[table.name]} row(s), the "
                        f"manifest says {entry.get('rows')}; nothing was restored"
                    )
            reset_sequences(connection)
        migrate(store.engine)
        check_schema(store.engine)
        check_secret_key(store.engine)
        return counts
    finally:
        store.dispose()


def undo(data_dir: Path, made_dir: bool, db_url: str) -> None:
    """Remove what a failed restore made: the target is left as empty as it was."""
    if sqlite_file(normalize_url(db_url)) is None:
        engine = create_engine(normalize_url(db_url))
        try:
            Base.metadata.drop_all(engine)
            with engine.begin() as connection:
                connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))
        except Exception:  # pragma: no cover - best effort; the error that got here wins
            pass
        finally:
            engine.dispose()
    else:
        database = sqlite_file(normalize_url(db_url))
        if database is not None and not database.is_relative_to(data_dir):
            database.unlink(missing_ok=True)
    if made_dir:
        shutil.rmtree(data_dir, ignore_errors=True)
    elif data_dir.is_dir():
        for child in data_dir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


# -- reading members


def _read(archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str) -> bytes | None:
    member = members.get(name)
    if member is None:
        return None
    stream = archive.extractfile(member)
    assert stream is not None
    return stream.read()


def _rows(archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], table: str
          ) -> Iterator[dict[str, Any]]:  # fmt: skip
    member = members.get(f"db/{table}.jsonl")
    if member is None:
        return
    stream = archive.extractfile(member)
    assert stream is not None
    for line in io.TextIOWrapper(stream, encoding="utf-8"):
        if line.strip():
            yield json.loads(line)

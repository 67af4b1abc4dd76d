"""``plugtone backup FILE``: one consistent archive of everything a deployment needs.

The archive is a gzip'd tar, mode 0600, whose last member ``manifest.json`` lists
every other member with its SHA-256 and size, the format version, plugtone's
version, the store's schema revision and each table's row count. Members:

- ``key/secret.key`` (and ``key/secret.key.old`` while a rotation is unfinished):
  the key that opens every password in the archive. Left out with ``--without-key``
  (for those who keep the key elsewhere) and when the key comes from
  ``PLUGTONE_SECRET_KEY``, which is never written anywhere by plugtone;
- ``settings/plugtone.toml`` and ``settings/tls/cert.pem``, ``settings/tls/key.pem``;
- ``db/<table>.jsonl``: every table of the store, one JSON object per row
  (:mod:`plugtone.inventory.table_copy`), secrets sealed as stored;
- ``firmware/sha256/<ab>/<sha256>``: the release files the snapshot's rows name (the
  branding blobs are rows of the ``blobs`` table);
- ``uploads/<MAC>/<name>``: what phones uploaded.

Consistency while the server runs: the rows are read from one snapshot. On SQLite,
sqlite3's backup API copies the database in one step (one read transaction, which
WAL lets writers go on beside) into a private temporary file the rows are read from;
on PostgreSQL, one ``REPEATABLE READ READ ONLY`` transaction reads every table.
Firmware files are content-addressed and never change, so those the snapshot names
are exactly the ones it needs; uploads are replaced by rename, so each is copied
whole, as of when it is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, create_engine, text

from plugtone import __version__
from plugtone.inventory.secret_keys import KEY_FILE, OLD_KEY_FILE
from plugtone.inventory.store import BUSY_TIMEOUT, VERSION_TABLE, Store, sqlite_file
from plugtone.inventory.table_copy import describe, dump_rows, tables
from plugtone.services.actors import Actor, Role, require
from plugtone.services.errors import ServiceError
from plugtone.services.unit_of_work import unit_of_work
from plugtone.settings import SETTINGS_FILE, Settings

FORMAT = "plugtone-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20
UPLOAD_TEMPORARY = ".upload-"
"""Prefix of an upload being written (provisioning.uploads): not yet an upload."""


class BackupError(ServiceError):
    """A backup or restore that cannot be made; one line, nothing changed."""


@dataclass
class BackupResult:
    path: Path
    revision: str
    rows: dict[str, int]
    members: int
    size: int
    key: str
    """``archive`` (the key is in it), ``left out`` or ``environment``."""
    warnings: list[str] = field(default_factory=list)


def backup(
    store: Store, actor: Actor, settings: Settings, destination: Path, *, with_key: bool = True
) -> BackupResult:
    """Write the archive to ``destination`` (which must not exist), atomically."""
    require(actor, Role.ADMIN, "a backup (it holds every secret of the store)")
    if destination.exists():
        raise BackupError(f"{destination} exists: give a new file name")
    partial = destination.with_name(f".{destination.name}.{os.getpid()}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as error:
        raise BackupError(f"cannot write {destination}: {error.strerror}") from None
    try:
        with (
            tempfile.TemporaryDirectory(prefix="plugtone-backup-") as staging,
            os.fdopen(descriptor, "wb") as raw,
        ):
            result = _write(store, settings, Path(staging), raw, with_key)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    result.path = destination
    result.size = destination.stat().st_size
    with unit_of_work(store, actor) as work:
        work.authorize(["disclosure"])
        work.audit("backup", "disclosure", str(destination)[:255],
                   f"archive of the whole store, key {result.key}")  # fmt: skip
    return result


def _write(store: Store, settings: Settings, staging: Path, raw: IO[bytes],
           with_key: bool) -> BackupResult:  # fmt: skip
    digests: dict[str, dict[str, object]] = {}
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:

        def add(name: str, path: Path) -> None:
            digests[name] = add_member(archive, name, path)

        key = _add_keys(add, settings, with_key)
        _add_settings(add, settings)
        revision, counts, firmware = _add_tables(add, store, staging)
        warnings = _add_firmware(add, settings.data_dir / "firmware", firmware)
        _add_uploads(add, settings.data_dir / "uploads")
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "plugtone_version": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "schema_revision": revision,
            "source_dialect": store.dialect,
            "key": key,
            "tables": {
                table.name: {"rows": counts[table.name], "columns": describe(table)}
                for table in tables()
            },
            "members": digests,
        }
        body = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
        manifest_path = staging / MANIFEST
        manifest_path.write_bytes(body)
        add_member(archive, MANIFEST, manifest_path)
    return BackupResult(Path(), revision, counts, len(digests) + 1, 0, key, warnings)


def add_member(archive: tarfile.TarFile, name: str, path: Path) -> dict[str, object]:
    """Add the file at ``path`` as ``name``, hashing the very bytes written."""
    with path.open("rb") as source:
        status = os.fstat(source.fileno())
        info = tarfile.TarInfo(name)
        info.size = status.st_size
        info.mtime = int(status.st_mtime)
        info.mode = 0o600
        hashing = _Hashing(source)
        archive.addfile(info, hashing)
    return {"sha256": hashing.digest.hexdigest(), "size": info.size}


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        self.digest.update(chunk)
        return chunk


def _add_keys(add, settings: Settings, with_key: bool) -> str:
    from plugtone.inventory.secret_keys import ENV_KEY

    if os.environ.get(ENV_KEY):
        return "environment"
    if not with_key:
        return "left out"
    for name in (KEY_FILE, OLD_KEY_FILE):
        path = settings.data_dir / name
        if path.is_file():
            add(f"key/{name}", path)
    return "archive"


def _add_settings(add, settings: Settings) -> None:
    settings_file = settings.data_dir / SETTINGS_FILE
    if settings_file.is_file():
        add(f"settings/{SETTINGS_FILE}", settings_file)
    if settings.tls_ready:
        add("settings/tls/cert.pem", settings.tls_cert)
        add("settings/tls/key.pem", settings.tls_key)


def _add_tables(add, store: Store, staging: Path) -> tuple[str, dict[str, int], set[str]]:
    """Dump every table from one snapshot; the revision, row counts and the firmware
    hashes the snapshot's rows name."""
    counts: dict[str, int] = {}
    firmware: set[str] = set()
    with snapshot(store, staging) as connection:
        revision = connection.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))
        for table in tables():
            path = staging / f"{table.name}.jsonl"
            count = 0
            with path.open("w", encoding="utf-8") as out:
                for row in dump_rows(connection, table):
                    out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
                    out.write("\n")
                    count += 1
                    if table.name == "firmware_files":
                        firmware.add(str(row["sha256"]))
            counts[table.name] = count
            add(f"db/{table.name}.jsonl", path)
            path.unlink()
    return str(revision), counts, firmware


@contextmanager
def snapshot(store: Store, staging: Path) -> Iterator[Connection]:
    """A connection on which every read sees the store at one instant."""
    database = sqlite_file(store.url)
    if store.dialect == "sqlite" and database is not None:
        copy = staging / "snapshot.db"
        source = sqlite3.connect(database, timeout=BUSY_TIMEOUT)
        target = sqlite3.connect(copy)
        try:
            with target:
                source.backup(target)  # pages=-1: the whole database in one step
        finally:
            source.close()
            target.close()
        engine = create_engine(f"sqlite:///{copy}")
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            engine.dispose()
            copy.unlink(missing_ok=True)
        return
    if store.dialect != "postgresql":
        raise BackupError(f"a backup of a {store.dialect} store is not supported")
    with store.engine.connect() as connection:
        reading = connection.execution_options(
            isolation_level="REPEATABLE READ", postgresql_readonly=True
        )
        with reading.begin():
            yield reading


def _add_firmware(add, root: Path, hashes: set[str]) -> list[str]:
    from plugtone.firmware.repository import FileStore

    files = FileStore(root)
    missing = []
    for sha256 in sorted(hashes):
        path = files.path(sha256)
        if not path.is_file():
            missing.append(sha256)
            continue
        add(f"firmware/sha256/{sha256[:2]}/{sha256}", path)
    if missing:
        raise BackupError(
            f"{len(missing)} firmware file(s) the store names are not under {root} "
            f"(the first: {missing[0]}); a release removed during the backup? run it again"
        )
    return []


def _add_uploads(add, root: Path) -> None:
    if not root.is_dir():
        return
    for device in sorted(root.iterdir()):
        if not device.is_dir():
            continue
        for path in sorted(device.iterdir()):
            if path.is_file() and not path.name.startswith(UPLOAD_TEMPORARY):
                try:
                    add(f"uploads/{device.name}/{path.name}", path)
                except FileNotFoundError:  # replaced between listing and opening
                    continue

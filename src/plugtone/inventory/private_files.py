"""File modes of what holds secrets: the data directory 0700, the rest 0600.

The SQLite database (and its ``-wal``/``-shm``), the secret key and the TLS key are
readable by plugtone's user only. New ones are made so (the database file is
created 0600 before SQLite opens it; SQLite gives its ``-wal`` and ``-shm`` the
database's mode); existing ones with wider modes are narrowed by ``plugtone init``
and ``plugtone serve`` with a warning, since someone may have relied on reading them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """umask 077 for the block: whatever it creates is its owner's only.

    Process-wide, so only for single-threaded steps (``plugtone init``).
    """
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


def make_private_directory(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    narrow(directory, DIRECTORY_MODE)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (an empty file is an empty
    SQLite database, so SQLite then opens it rather than creating it 0644)."""
    if path.exists() or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def narrow(path: Path, mode: int) -> bool:
    """chmod ``path`` to ``mode`` if it grants more than that; True (and a warning) if
    it did."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & ~mode == 0:
        return False
    os.chmod(path, mode)
    log.warning("%s was mode %04o, now %04o (it may hold secrets)", path, current, mode)
    return True


def secure_data_files(
    data_dir: Path, sqlite_file: Path | None, extra: tuple[Path, ...] = ()
) -> list[Path]:
    """Narrow the data directory, the SQLite files and ``extra`` (key files); the paths
    whose modes were changed."""
    changed: list[Path] = []
    if data_dir.is_dir() and narrow(data_dir, DIRECTORY_MODE):
        changed.append(data_dir)
    files = list(extra)
    if sqlite_file is not None:
        files += [
            sqlite_file,
            *(sqlite_file.with_name(sqlite_file.name + s) for s in ("-wal", "-shm")),
        ]
    for path in files:
        if narrow(path, FILE_MODE):
            changed.append(path)
    return changed

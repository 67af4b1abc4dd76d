"""Files phones upload (boot and application logs, local overrides, contact lists).

Stored per device under ``<data>/uploads/<MAC>/<name>``, never in the database: they
can be large and are read rarely. Writes go to a temporary file and are renamed
into place, so a reader never sees half an upload; appends (FTP ``APPE``, which
Polycom phones use for logs) are capped at the plug-in's size limit.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from plugtone.vendors.base import UploadRef


class UploadTooLarge(ValueError):
    """The upload would exceed the size the plug-in allows for this file."""


@dataclass(frozen=True)
class StoredUpload:
    name: str
    size: int
    modified: datetime


class UploadStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._serial = itertools.count()

    def path(self, ref: UploadRef) -> Path:
        # ref.mac is 12 hex digits and ref.name comes from a plug-in pattern: neither
        # can hold a path separator, but check anyway before touching the disk.
        if "/" in ref.name or "\\" in ref.name or ref.name in ("", ".", ".."):
            raise ValueError(f"bad upload name {ref.name!r}")
        return self.root / ref.mac / ref.name

    def save(self, ref: UploadRef, content: bytes, *, append: bool = False) -> int:
        """Store ``content`` (appended when asked); returns the stored size."""
        target = self.path(ref)
        existing = b""
        if append:
            with contextlib.suppress(FileNotFoundError):
                existing = target.read_bytes()
        data = existing + content
        if len(data) > ref.max_bytes:
            raise UploadTooLarge(
                f"{ref.name} would be {len(data)} bytes; the limit is {ref.max_bytes}"
            )
        descriptor, temporary = self._temporary(target.parent)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return len(data)

    def _temporary(self, folder: Path) -> tuple[int, str]:
        """A new file beside the upload's place, open for writing, and its name.

        Named by this process and a counter, and made with ``O_EXCL`` so no other file
        is ever opened; the device's folder is made only when it is missing. In a boot
        storm every phone uploads its boot log, and ``mkdir`` of an existing folder plus
        ``mkstemp``'s random names were an eighth of the server's CPU (py-spy, 5,000
        phones). A name taken (a file left by a crashed process of the same id) falls
        back to ``mkstemp``."""
        name = str(folder / f".upload-{os.getpid()}-{next(self._serial)}")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            return os.open(name, flags, 0o600), name
        except FileNotFoundError:
            folder.mkdir(parents=True, exist_ok=True)
            return os.open(name, flags, 0o600), name
        except FileExistsError:
            return tempfile.mkstemp(dir=folder, prefix=".upload-")

    def list(self, mac: str) -> list[StoredUpload]:
        folder = self.root / mac
        if not folder.is_dir():
            return []
        return [
            StoredUpload(item.name, item.stat().st_size,
                         datetime.fromtimestamp(item.stat().st_mtime, UTC))
            for item in sorted(folder.iterdir())
            if item.is_file() and not item.name.startswith(".")
        ]  # fmt: skip

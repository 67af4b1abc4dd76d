"""Firmware files on disk, addressed by SHA-256, and releases in the store.

Images are large (tens of MB) and phones are sent them with ``sendfile``, so they
live under ``<data>/firmware/sha256/ab/abcdef...`` rather than in the database; the
store records each release (vendor, version, models) and its files (name, role,
SHA-256, size). Several plugtone nodes sharing one database need the same
``firmware`` directory (a shared mount or a copy): a node missing a file answers
not-found for it and logs why.

Adding a release is checked before anything is written: the vendor knows each
model, every file has a role in that vendor's releases (a vendor zip is opened and
the files that matter picked out), the version is safe in a path and not already
there, and the plug-in's own checks pass. A release may hold the configuration
files the vendor ships with it (a zip's stock ``sip.cfg``); they are kept like
the images, and the plug-in may read small files (a vendor's own master file) to
settle their roles (the order the vendor lists them in). Then the files are copied
in (hashing on the way, written to a temporary name and renamed) and the rows
inserted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.firmware.pins import NONE, VERSION_RE
from plugtone.inventory.models import (
    FirmwareFileRow,
    FirmwarePin,
    FirmwareRelease,
    ModelProfile,
    Phone,
    Site,
)
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import FirmwareFile, FirmwareView

MAX_FILE_BYTES = 1024**3
"""No desk-phone image comes near 1 GiB; a bigger file is a mistake or an attack."""
MAX_ZIP_MEMBERS = 2_000
MAX_ZIP_RATIO = 200
"""Refuse zip members that expand more than this (zip bombs)."""
CHUNK = 1024 * 1024
MAX_ARRANGE_BYTES = 1024 * 1024
"""The most a plug-in may read of one file to settle roles (a vendor master file is ~1 kB)."""
MAX_ROLE = 32
"""The stored role's length (``firmware_files.role``)."""


class FirmwareError(ValueError):
    """A release cannot be added or removed; nothing was changed."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Candidate:
    """A file offered for a release, before it is copied in."""

    name: str
    role: str
    origin: str
    open: Callable[[], IO[bytes]]
    """Opens the content for reading (a file on disk or a zip member)."""


class FileStore:
    """Content-addressed files under ``<data>/firmware``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(char not in "0123456789abcdef" for char in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, source: IO[bytes]) -> tuple[str, int]:
        """Copy ``source`` in; returns ``(sha256, size)``. Existing content is kept once."""
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with tempfile.NamedTemporaryFile(dir=incoming, delete=False) as temporary:
            try:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if size > MAX_FILE_BYTES:
                        raise FirmwareError([f"larger than {MAX_FILE_BYTES // 1024**2} MiB"])
                    digest.update(chunk)
                    temporary.write(chunk)
                temporary.flush()
                os.fsync(temporary.fileno())
            except BaseException:
                os.unlink(temporary.name)
                raise
        sha256 = digest.hexdigest()
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():
            os.unlink(temporary.name)
        else:
            os.chmod(temporary.name, 0o644)
            os.replace(temporary.name, final)
        return sha256, size

    def discard(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(sha256).unlink()


def add_release(
    session: Session,
    registry: VendorRegistry,
    files: FileStore,
    *,
    vendor: str,
    models: Sequence[str],
    version: str,
    sources: Sequence[Path],
    note: str | None = None,
) -> FirmwareRelease:
    """Check and store a release; raise :class:`FirmwareError` listing every problem."""
    problems: list[str] = []
    plugin = registry.by_name.get(vendor)
    if plugin is None:
        raise FirmwareError(
            [f"unknown vendor {vendor!r} (installed: {', '.join(registry.by_name)})"]
        )
    if not VERSION_RE.match(version) or version.lower() == NONE:
        problems.append(
            f"{version!r} is not a usable version: letters, digits, '.', '_', '+', '-' only, "
            "at most 64, and not 'none'"
        )
    canonical: list[str] = []
    for model in models:
        name = plugin.canonical_model(model)
        if name is None:
            known = ", ".join(spec.name for spec in plugin.models)
            problems.append(f"{plugin.label} has no model {model!r} (known: {known})")
        elif name not in canonical:
            canonical.append(name)
    if not models:
        problems.append("name at least one model (--model)")
    if session.scalar(
        select(FirmwareRelease).where(
            FirmwareRelease.vendor == vendor, FirmwareRelease.version == version
        )
    ):
        problems.append(f"{plugin.label} release {version} is already in the repository")
    candidates = list(_candidates(plugin, sources, problems))
    names = [candidate.name.lower() for candidate in candidates]
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(f"two files are called {name!r}")
    if not candidates and not problems:
        problems.append(f"no {plugin.label} firmware file among {', '.join(map(str, sources))}")
    if not problems and canonical:
        problems += plugin.check_release(canonical, [candidate.name for candidate in candidates])
    if not problems:
        candidates = _arranged(plugin, candidates, problems)
    if problems:
        raise FirmwareError(problems)
    stored: list[tuple[Candidate, str, int]] = []
    try:
        for candidate in candidates:
            with candidate.open() as stream:
                sha256, size = files.put(stream)
            stored.append((candidate, sha256, size))
            if size == 0:
                raise FirmwareError([f"{candidate.origin}: empty file"])
    except BaseException as error:
        discard_unused(session, files, {sha256 for _, sha256, _ in stored})
        if isinstance(error, zipfile.BadZipFile | OSError | EOFError):
            raise FirmwareError([f"cannot read {candidate.origin}: {error}"]) from error
        raise
    release = FirmwareRelease(
        vendor=vendor, version=version, models=canonical, added_at=datetime.now(UTC), note=note
    )
    for candidate, sha256, size in stored:
        release.files.append(
            FirmwareFileRow(name=candidate.name, role=candidate.role, sha256=sha256, size=size)
        )
    session.add(release)
    session.flush()
    return release


def _arranged(plugin, candidates: list[Candidate], problems: list[str]) -> list[Candidate]:
    """The candidates with the roles the plug-in settles on once it may read small files
    (:meth:`~plugtone.vendors.base.VendorPlugin.arrange_release`)."""
    by_name = {candidate.name: candidate for candidate in candidates}

    def read(name: str) -> bytes:
        candidate = by_name[name]
        with candidate.open() as stream:
            content = stream.read(MAX_ARRANGE_BYTES + 1)
        if len(content) > MAX_ARRANGE_BYTES:
            raise ValueError(f"{candidate.origin}: larger than {MAX_ARRANGE_BYTES} bytes")
        return content

    try:
        roles = plugin.arrange_release({c.name: c.role for c in candidates}, read)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        problems.append(str(error))
        return candidates
    arranged = []
    for candidate in candidates:
        role = roles.get(candidate.name)
        if not role or len(role) > MAX_ROLE:
            problems.append(f"{candidate.origin}: the {plugin.label} plug-in gave no usable role")
            continue
        arranged.append(replace(candidate, role=role))
    return arranged


def discard_unused(session: Session, files: FileStore, hashes: set[str]) -> None:
    """Remove stored files no release refers to (a refused or removed release's)."""
    if not hashes:
        return
    used = set(
        session.scalars(select(FirmwareFileRow.sha256).where(FirmwareFileRow.sha256.in_(hashes)))
    )
    for sha256 in hashes - used:
        files.discard(sha256)


def _candidates(plugin, sources: Sequence[Path], problems: list[str]) -> Iterator[Candidate]:
    for source in sources:
        if not source.is_file():
            problems.append(f"{source}: no such file")
            continue
        if plugin.firmware_role(source.name) is None:
            if zipfile.is_zipfile(source):
                yield from _zip_candidates(plugin, source, problems)
                continue
            if source.suffix.lower() == ".zip":
                problems.append(f"{source.name}: not a readable zip archive (corrupt or cut short)")
                continue
        size = source.stat().st_size
        if size == 0:
            problems.append(f"{source}: empty file")
            continue
        if size > MAX_FILE_BYTES:
            problems.append(f"{source}: larger than {MAX_FILE_BYTES // 1024**2} MiB")
            continue
        role = plugin.firmware_role(source.name)
        if role is None:
            problems.append(f"{source.name} is not a firmware file of {plugin.label} phones")
            continue
        yield Candidate(source.name, role, str(source), lambda s=source: s.open("rb"))


def _zip_candidates(plugin, source: Path, problems: list[str]) -> Iterator[Candidate]:
    """The members of a vendor zip that matter, checked before any is extracted."""
    try:
        archive = zipfile.ZipFile(source)
        members = archive.infolist()
        bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        problems.append(f"{source.name}: not a readable zip archive ({error})")
        return
    if bad is not None:
        problems.append(f"{source.name}: corrupt zip archive (member {bad!r} fails its CRC)")
        return
    if len(members) > MAX_ZIP_MEMBERS:
        problems.append(f"{source.name}: more than {MAX_ZIP_MEMBERS} members")
        return
    found = 0
    for member in members:
        if member.is_dir():
            continue
        name = PurePosixPath(member.filename.replace("\\", "/")).name
        role = plugin.firmware_role(name)
        if role is None:
            continue
        if member.file_size == 0:
            problems.append(f"{source.name}: member {member.filename!r} is empty")
            continue
        if member.file_size > MAX_FILE_BYTES or (
            member.compress_size and member.file_size / member.compress_size > MAX_ZIP_RATIO
        ):
            problems.append(f"{source.name}: member {member.filename!r} expands too much")
            continue
        found += 1
        yield Candidate(
            name, role, f"{source.name}:{member.filename}",
            lambda a=archive, m=member: a.open(m),
        )  # fmt: skip
    if not found:
        problems.append(f"{source.name}: no {plugin.label} firmware file inside")


def find_release(session: Session, vendor: str, version: str) -> FirmwareRelease | None:
    return session.scalar(
        select(FirmwareRelease).where(
            FirmwareRelease.vendor == vendor, FirmwareRelease.version == version
        )
    )


def release_view(release: FirmwareRelease) -> FirmwareView:
    return FirmwareView(
        vendor=release.vendor,
        version=release.version,
        models=tuple(release.models),
        files=tuple(
            FirmwareFile(row.name, row.sha256, row.size, row.role) for row in release.files
        ),
    )


def pins_using(session: Session, release: FirmwareRelease) -> list[str]:
    """Where ``release`` is pinned (as the version or the previous version of a pin)."""
    places = []
    rows = session.scalars(
        select(FirmwarePin).where(
            (FirmwarePin.version == release.version)
            | (FirmwarePin.previous_version == release.version)
        )
    )
    for pin in rows:
        if pin.version != release.version and (pin.promoted or not pin.first_wave):
            continue  # a previous version matters only while a staged pin waits
        if pin.phone_id is not None:
            phone = session.get(Phone, pin.phone_id)
            if phone is not None and phone.vendor == release.vendor:
                places.append(f"phone {phone.mac}")
        elif pin.model_profile_id is not None:
            profile = session.get(ModelProfile, pin.model_profile_id)
            if profile is not None and profile.vendor == release.vendor:
                places.append(f"model {profile.model}")
        elif pin.applies_to in (None, release.vendor, *release.models):
            site = session.get(Site, pin.site_id)
            places.append(f"site {site.name if site else pin.site_id}")
    return places


def remove_release(session: Session, vendor: str, version: str) -> set[str]:
    """Remove a release no pin uses; returns its files' hashes.

    The caller commits, then calls :func:`discard_unused` with them: deleting files
    before the commit could leave a release whose commit failed without its files.
    """
    release = find_release(session, vendor, version)
    if release is None:
        raise FirmwareError([f"no {vendor} release {version} in the repository"])
    places = pins_using(session, release)
    if places:
        raise FirmwareError([f"{vendor} {version} is pinned ({', '.join(places)}); unpin it first"])
    hashes = {row.sha256 for row in release.files}
    session.delete(release)
    session.flush()
    return hashes

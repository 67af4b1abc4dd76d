"""Branding sets for people: each set with its logo and files and who uses it, and the
changes a console makes one file at a time (add or replace a file, remove one, set or
remove the logo, create or delete a set).

Every change goes through the inventory's own path (:func:`objects.put_entry`'s parse,
then :func:`apply_inventory`): the set is read as an entry, changed, checked as the
inventory file's ``branding:`` entry is, and applied in one unit of work, audited, with
the role the service layer gives branding (admin). An uploaded file or logo is checked
as one read next to an inventory file is (name, size, and for a logo an image Pillow can
read), then handed to the apply with its content, which stores it once by SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select

from plugtone.inventory.document import (
    BRANDING_FILE_RE,
    MAX_BRANDING_FILE_BYTES,
    MAX_LOGO_BYTES,
    BrandingFileSpec,
    LogoSpec,
    Problem,
    image_media_type,
)
from plugtone.inventory.models import Blob, BrandingFile, BrandingSet, Phone, Site, VendorSetting
from plugtone.inventory.store import Store
from plugtone.services import objects
from plugtone.services.actors import Actor
from plugtone.services.errors import Invalid, NotFound
from plugtone.services.inventory import apply_inventory
from plugtone.services.unit_of_work import reading
from plugtone.vendors import VendorRegistry

MAX_SETS = 500
"""Sets listed at most (a fleet has a handful)."""
SHOWN_PHONES = 20
"""Phones named per set; the count says how many there are in all."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    media_type: str
    sha256: str


@dataclass(frozen=True)
class BrandingSummary:
    name: str
    logo: StoredFile | None
    files: tuple[StoredFile, ...]
    vendor_settings: int
    """How many raw vendor keys the set carries (edited in the inventory file)."""
    sites: tuple[str, ...]
    phone_count: int
    phones: tuple[str, ...]
    """The first :data:`SHOWN_PHONES` MACs of the phones given the set themselves."""


def list_sets(store: Store, actor: Actor) -> list[BrandingSummary]:
    """Every branding set (up to :data:`MAX_SETS`), with its files and users.

    A fixed number of queries whatever the fleet: the sets, their files, the sites using
    them, and for the phones one count per set and one short list of MACs per set.
    """
    with reading(store, actor) as session:
        sets = list(session.scalars(select(BrandingSet).order_by(BrandingSet.name).limit(MAX_SETS)))
        ids = [row.id for row in sets]
        files: dict[int, list[StoredFile]] = {row_id: [] for row_id in ids}
        for row, blob in session.execute(
            select(BrandingFile, Blob).join(Blob, Blob.sha256 == BrandingFile.sha256)
            .where(BrandingFile.branding_id.in_(ids)).order_by(BrandingFile.position)
        ):  # fmt: skip
            files[row.branding_id].append(StoredFile(row.name, blob.size, blob.media_type,
                                                     blob.sha256))  # fmt: skip
        logos = {
            blob.sha256: StoredFile("logo", blob.size, blob.media_type, blob.sha256)
            for blob in session.scalars(
                select(Blob).where(Blob.sha256.in_({r.logo_sha256 for r in sets if r.logo_sha256}))
            )
        }
        sites: dict[int, list[str]] = {row_id: [] for row_id in ids}
        for site_name, branding_id in session.execute(
            select(Site.name, Site.branding_id).where(Site.branding_id.in_(ids))
            .order_by(Site.name)
        ):  # fmt: skip
            sites[branding_id].append(site_name)
        counts = dict(session.execute(
            select(Phone.branding_id, func.count(Phone.id)).where(Phone.branding_id.in_(ids))
            .group_by(Phone.branding_id)
        ).all())  # fmt: skip
        settings = _setting_counts(session, ids)
        result = []
        for row in sets:
            macs = ()
            if counts.get(row.id):
                macs = tuple(session.scalars(
                    select(Phone.mac).where(Phone.branding_id == row.id).order_by(Phone.mac)
                    .limit(SHOWN_PHONES)
                ))  # fmt: skip
            result.append(BrandingSummary(
                row.name, logos.get(row.logo_sha256 or ""), tuple(files[row.id]),
                settings.get(row.id, 0), tuple(sites[row.id]), counts.get(row.id, 0), macs,
            ))  # fmt: skip
    return result


def _setting_counts(session, ids: list[int]) -> dict[int, int]:
    return dict(session.execute(
        select(VendorSetting.branding_id, func.count(VendorSetting.id))
        .where(VendorSetting.branding_id.in_(ids)).group_by(VendorSetting.branding_id)
    ).all())  # fmt: skip


def get_set(store: Store, actor: Actor, name: str) -> BrandingSummary:
    found = next((item for item in list_sets(store, actor) if item.name == name), None)
    if found is None:
        raise NotFound(f"no branding set {name}")
    return found


def create_set(store: Store, actor: Actor, registry: VendorRegistry, name: str) -> None:
    """A new, empty set (:class:`Conflict` when the name is taken)."""
    objects.create_entry(store, actor, registry, "branding", {"name": name})


def delete_set(store: Store, actor: Actor, name: str) -> None:
    """Refused (:class:`Conflict`) while a site or phone has the set."""
    objects.delete_branding(store, actor, name)


def put_file(store: Store, actor: Actor, registry: VendorRegistry, name: str, file_name: str,
             content: bytes) -> None:  # fmt: skip
    """Add ``file_name`` to set ``name``, or replace the file of that name (any case) in
    its place; the file is served as given at ``branding/<set>/<file_name>``."""
    problem = _file_problem(file_name, content)
    if problem:
        raise Invalid([Problem("file", problem)])
    body = objects.get_entry(store, actor, "branding", name)
    files = list(body.get("files") or [])
    position = next((index for index, item in enumerate(files)
                     if item["name"].lower() == file_name.lower()), len(files))  # fmt: skip
    files = [item for item in files if item["name"].lower() != file_name.lower()]
    body["files"] = files
    document, _ = objects.parse_entry(registry, "branding", body, name)
    media_type = image_media_type(content) or "application/octet-stream"
    spec = BrandingFileSpec(file_name, hashlib.sha256(content).hexdigest(),
                            f"upload {file_name}", content, media_type)  # fmt: skip
    document.branding[0].files.insert(position, spec)
    apply_inventory(store, actor, document, registry)


def remove_file(store: Store, actor: Actor, registry: VendorRegistry, name: str,
                file_name: str) -> None:  # fmt: skip
    body = objects.get_entry(store, actor, "branding", name)
    files = list(body.get("files") or [])
    kept = [item for item in files if item["name"] != file_name]
    if len(kept) == len(files):
        raise NotFound(f"branding set {name} has no file {file_name}")
    body["files"] = kept
    objects.put_entry(store, actor, registry, "branding", name, body)


def set_logo(store: Store, actor: Actor, registry: VendorRegistry, name: str,
             content: bytes) -> None:  # fmt: skip
    """The set's logo (each plug-in converts it for its phones)."""
    if not content:
        raise Invalid([Problem("logo", "choose an image file to upload")])
    if len(content) > MAX_LOGO_BYTES:
        raise Invalid([Problem("logo", f"larger than {MAX_LOGO_BYTES // 1024} KiB")])
    media_type = image_media_type(content)
    if media_type is None:
        raise Invalid([Problem("logo", "not a PNG, JPEG, GIF or BMP image plugtone can read")])
    body = objects.get_entry(store, actor, "branding", name)
    body.pop("logo", None)
    document, _ = objects.parse_entry(registry, "branding", body, name)
    document.branding[0].logo = LogoSpec("upload logo", hashlib.sha256(content).hexdigest(),
                                         content, media_type)  # fmt: skip
    apply_inventory(store, actor, document, registry)


def remove_logo(store: Store, actor: Actor, registry: VendorRegistry, name: str) -> None:
    body = objects.get_entry(store, actor, "branding", name)
    if "logo" not in body:
        raise NotFound(f"branding set {name} has no logo")
    body.pop("logo")
    objects.put_entry(store, actor, registry, "branding", name, body)


def _file_problem(file_name: str, content: bytes) -> str | None:
    if not file_name:
        return "choose a file to upload"
    if not BRANDING_FILE_RE.match(file_name):
        return (f"{file_name!r} is not a usable file name (letters, digits, '.', '_', '-', "
                "starting with a letter or digit)")  # fmt: skip
    if not content:
        return f"{file_name} is empty"
    if len(content) > MAX_BRANDING_FILE_BYTES:
        return f"{file_name} is larger than {MAX_BRANDING_FILE_BYTES // 1024**2} MiB"
    return None

"""What planning an apply reads from the store: what the document touches, in bulk.

A document of N phones costs a fixed number of queries per :data:`CHUNK` objects
(one per table, with IN-lists of at most that many keys), never a query per object,
and reads nothing the document does not mention, except with ``prune``, which must
read everything to know what to delete. Rows are read as plain column tuples, not
ORM objects: nothing lands in the session's identity map, so the bulk writes that
follow cannot leave stale objects behind, and reading costs a fraction as much.

Every condition is one an index answers (see :func:`owned_by` and
:func:`_extension_pairs`): a condition that scans a table once per IN-list makes
planning quadratic in the fleet's size.

The generation is read first: every committed inventory change bumps it, so a
writer that commits while the snapshot is being read is caught when the plan is
written (:class:`~plugtone.services.inventory_apply.StalePlan`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Table, and_, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from plugtone.inventory.document import Document
from plugtone.inventory.models import (
    Blob,
    BrandingFile,
    BrandingSet,
    DirectoryContact,
    Extension,
    FirmwarePin,
    Key,
    LineAssignment,
    ModelProfile,
    Phone,
    Site,
    VendorSetting,
)
from plugtone.inventory.store import read_generation

CHUNK = 500
"""Keys per IN-list: well under SQLite's and PostgreSQL's parameter limits."""

T = TypeVar("T")
Owner = tuple[str, int]
"""``(column, id)`` of a row's owner: ``("site_id", 3)``, ``("phone_id", 12)``..."""
ExtensionKey = tuple[str, str]
"""``(site name, number)``."""
KeyTuple = tuple[Any, ...]
"""A key as compared: ``(type, value, label, line, family, slot)``."""
Condition = Callable[[list[Any], bool], ColumnElement[bool]]
"""The condition for one chunk of keys (``postgres``: the store is PostgreSQL)."""

SITE_COLUMNS = (
    "sip_server", "sip_port", "sip_transport", "timezone", "ntp_servers", "dial_plan",
    "digit_timeout", "voicemail", "conference", "dtmf_method", "registration_period",
    "codecs", "config_server", "resync_time", "nat", "public_url", "ftp_user", "ftp_password",
    "trusted_networks", "tr069", "tr069_password",
)  # fmt: skip
EXTENSION_COLUMNS = ("name", "auth_user", "password", "shared")
PHONE_COLUMNS = ("http_user", "http_password")
"""The phone's columns compared field by field (besides model, site, description...)."""
KEY_COLUMNS = ("type", "value", "label", "line", "family", "slot")
LEADING_OWNERS = {
    "keys": ("site_id", "phone_id"),
    "vendor_settings": ("site_id", "model_profile_id", "phone_id"),
    "firmware_pins": ("site_id", "model_profile_id", "phone_id"),
}
"""The owner columns of each multi-owner table's index, in index order."""


def owned_by(table: Table, column: str, ids: Sequence[Any], postgres: bool) -> ColumnElement[bool]:
    """Rows of ``table`` owned through ``column`` by one of ``ids``, as the owner index
    can find them.

    A key, setting or pin has exactly one owner (a check constraint says so), so the
    owner columns before ``column`` in the index are NULL: saying so lets SQLite and
    PostgreSQL search the index instead of scanning the table once per IN-list.
    """
    leading = LEADING_OWNERS.get(table.name, ())
    before = leading[: leading.index(column)] if column in leading else ()
    return and_(
        *(table.c[name].is_(None) for name in before), member_of(table.c[column], ids, postgres)
    )


def member_of(column: Any, values: Sequence[Any], postgres: bool) -> ColumnElement[bool]:
    """``column IN (...)``; on PostgreSQL ``column = ANY(:array)``, one parameter however
    many values: an IN-list of 500 placeholders cost more to render, for psycopg to
    rewrite and for the server to parse than the query took to run."""
    if postgres:
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Snapshot:
    """The store's side of an apply, keyed the way the document names things."""

    generation: int
    sites: dict[str, Row] = field(default_factory=dict)
    site_names: dict[int, str] = field(default_factory=dict)
    brandings: dict[str, Row] = field(default_factory=dict)
    branding_names: dict[int, str] = field(default_factory=dict)
    extensions: dict[ExtensionKey, Row] = field(default_factory=dict)
    phones: dict[str, Row] = field(default_factory=dict)
    models: dict[str, Row] = field(default_factory=dict)
    ftp_owners: dict[str, str] = field(default_factory=dict)
    """FTP user -> the stored site holding it, for the FTP users the document assigns."""
    http_owners: dict[str, str] = field(default_factory=dict)
    """Provisioning login -> the MAC of the stored phone holding it, for the logins the
    document assigns."""
    blobs: set[str] = field(default_factory=set)
    """Which of the hashes the document refers to are stored."""
    keys: dict[Owner, list[KeyTuple]] = field(default_factory=dict)
    settings: dict[Owner, dict[str, dict[str, tuple[int, str]]]] = field(default_factory=dict)
    """Owner -> vendor -> name -> (row id, value)."""
    lines: dict[int, dict[int, ExtensionKey]] = field(default_factory=dict)
    """Phone id -> line index -> extension."""
    directory: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    branding_files: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    pins: dict[Owner, dict[str | None, Row]] = field(default_factory=dict)
    """Owner -> applies_to -> pin row."""
    elsewhere: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    """Extension id -> ``(MAC, line)`` on stored phones the document does not mention."""


def read_snapshot(session: Session, document: Document, prune: bool) -> Snapshot:
    """Read what applying ``document`` needs, in bulk; writes nothing."""
    reader = _Reader(session, prune)
    snap = Snapshot(generation=read_generation(session))
    doc = document

    names = {b.name for b in doc.branding}
    names |= {owner.branding for owner in (*doc.sites, *doc.phones) if owner.branding}
    for row in reader.rows(_columns(BrandingSet, "id", "name", "logo_sha256"), BrandingSet.name,
                           names):  # fmt: skip
        snap.brandings[row.name] = row
        snap.branding_names[row.id] = row.name

    names = {s.name for s in doc.sites} | {e.site for e in doc.extensions}
    names |= {p.site for p in doc.phones}
    names |= {line.site for p in doc.phones for line in p.lines if line.site}
    columns = _columns(Site, "id", "name", "branding_id", *SITE_COLUMNS)
    for row in reader.rows(columns, Site.name, names):
        snap.sites[row.name] = row
        snap.site_names[row.id] = row.name
    users = {s.ftp_user for s in doc.sites if s.ftp_user}
    for name, user in reader.rows(_columns(Site, "name", "ftp_user"), Site.ftp_user, users,
                                  all=False):  # fmt: skip
        snap.ftp_owners[user] = name

    wanted: set[ExtensionKey] = {(e.site, e.number) for e in doc.extensions}
    for phone in doc.phones:
        wanted |= {(line.site or phone.site, line.number) for line in phone.lines}
    pairs = sorted((snap.sites[s].id, number) for s, number in wanted if s in snap.sites)
    columns = _columns(Extension, "id", "site_id", "number", *EXTENSION_COLUMNS)
    for row in reader.rows(columns, _extension_pairs, pairs):
        snap.extensions[(snap.site_names[row.site_id], row.number)] = row

    columns = _columns(Phone, "id", "mac", "model", "vendor", "site_id", "description",
                       "branding_id", *PHONE_COLUMNS)  # fmt: skip
    for row in reader.rows(columns, Phone.mac, {p.mac for p in doc.phones}):
        snap.phones[row.mac] = row
    logins = {p.http_user for p in doc.phones if p.http_user}
    for mac, login in reader.rows(_columns(Phone, "mac", "http_user"), Phone.http_user, logins,
                                  all=False):  # fmt: skip
        snap.http_owners[login] = mac
    columns = _columns(ModelProfile, "id", "model", "vendor")
    for row in reader.rows(columns, ModelProfile.model, {m.model for m in doc.models}):
        snap.models[row.model] = row
    hashes = {b.logo.sha256 for b in doc.branding if b.logo}
    hashes |= {f.sha256 for b in doc.branding for f in b.files}
    snap.blobs = {row.sha256 for row in reader.rows((Blob.sha256,), Blob.sha256, hashes,
                                                     all=False)}  # fmt: skip

    _read_details(reader, snap, document)
    _read_lines(reader, snap, document)
    return snap


def _read_details(reader: _Reader, snap: Snapshot, document: Document) -> None:
    """Keys, settings, contacts, files and pins of the stored objects at hand."""
    sites = [row.id for row in snap.sites.values()]
    brandings = [row.id for row in snap.brandings.values()]
    if not reader.prune:  # the document's own, not those merely referred to
        named = {s.name for s in document.sites}
        sites = [row.id for name, row in snap.sites.items() if name in named]
        named = {b.name for b in document.branding}
        brandings = [row.id for name, row in snap.brandings.items() if name in named]
    phones = [row.id for row in snap.phones.values()]
    models = [row.id for row in snap.models.values()]

    for column, owners in (("site_id", sites), ("phone_id", phones)):
        found: dict[Owner, list[tuple[int, KeyTuple]]] = defaultdict(list)
        columns = _columns(Key, column, "position", *KEY_COLUMNS)
        for row in reader.rows(columns, _owned(Key, column), owners, all=False):
            found[(column, row[0])].append((row[1], tuple(row[2:])))
        for owner, items in found.items():
            snap.keys[owner] = [key for _, key in sorted(items, key=lambda item: item[0])]

    owners_by_column = {"site_id": sites, "phone_id": phones, "model_profile_id": models,
                        "branding_id": brandings}  # fmt: skip
    for column, owners in owners_by_column.items():
        columns = _columns(VendorSetting, column, "id", "vendor", "name", "value")
        for owner_id, row_id, vendor, name, value in reader.rows(
            columns, _owned(VendorSetting, column), owners, all=False
        ):
            by_vendor = snap.settings.setdefault((column, owner_id), {})
            by_vendor.setdefault(vendor, {})[name] = (row_id, value)

    for column in ("site_id", "phone_id", "model_profile_id"):
        columns = _columns(FirmwarePin, column, "id", "applies_to", "version",
                           "previous_version", "first_wave", "wave", "forced")  # fmt: skip
        for row in reader.rows(columns, _owned(FirmwarePin, column), owners_by_column[column],
                               all=False):  # fmt: skip
            snap.pins.setdefault((column, row[0]), {})[row.applies_to] = row

    columns = _columns(DirectoryContact, "site_id", "position", "name", "number")
    rows = reader.rows(columns, DirectoryContact.site_id, sites, all=False)
    snap.directory = _ordered(rows)
    columns = _columns(BrandingFile, "branding_id", "position", "name", "sha256")
    rows = reader.rows(columns, BrandingFile.branding_id, brandings, all=False)
    snap.branding_files = _ordered(rows)


def _read_lines(reader: _Reader, snap: Snapshot, document: Document) -> None:
    """The stored phones' lines, and where else the document's extensions sit."""
    rows = list(
        reader.rows(
            (LineAssignment.phone_id, LineAssignment.index, Extension.site_id, Extension.number),
            LineAssignment.phone_id,
            [row.id for row in snap.phones.values()],
            all=False,
            join=(Extension, Extension.id == LineAssignment.extension_id),
        )
    )
    missing = {site_id for _, _, site_id, _ in rows} | {r.site_id for r in snap.phones.values()}
    missing -= set(snap.site_names)
    for site_id, name in reader.rows((Site.id, Site.name), Site.id, missing, all=False):
        snap.site_names[site_id] = name
    lines: dict[int, dict[int, ExtensionKey]] = defaultdict(dict)
    for phone_id, index, site_id, number in rows:
        lines[phone_id][index] = (snap.site_names[site_id], number)
    snap.lines = dict(lines)
    if reader.prune:
        return  # every phone the document does not mention is deleted
    mentioned = {p.mac for p in document.phones}
    elsewhere: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for extension_id, mac, index in reader.rows(
        (LineAssignment.extension_id, Phone.mac, LineAssignment.index),
        LineAssignment.extension_id,
        [row.id for row in snap.extensions.values()],
        all=False,
        join=(Phone, Phone.id == LineAssignment.phone_id),
    ):
        if mac not in mentioned:
            elsewhere[extension_id].append((mac, index))
    snap.elsewhere = dict(elsewhere)


def _columns(model: type, *names: str) -> tuple[Any, ...]:
    return tuple(getattr(model, name) for name in names)


def _ordered(rows: Iterable[Row]) -> dict[int, list[tuple[str, str]]]:
    """``(owner, position, a, b)`` rows as ``{owner: [(a, b), ...]}`` in position order."""
    found: dict[int, list[tuple[int, str, str]]] = defaultdict(list)
    for owner, position, first, second in rows:
        found[owner].append((position, first, second))
    return {owner: [(a, b) for _, a, b in sorted(items)] for owner, items in found.items()}


def _owned(model: type, column: str) -> Condition:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return lambda ids, postgres: owned_by(table, column, ids, postgres)


def _extension_pairs(pairs: list[tuple[int, str]], postgres: bool) -> ColumnElement[bool]:
    """``(site_id, number)`` pairs as ``site_id = ? AND number IN (...) OR ...``: each
    term searches the unique index, where SQLite scans the whole table for a row-value
    IN-list. Pairs come sorted, so a chunk spans few sites."""
    numbers: dict[int, list[str]] = defaultdict(list)
    for site_id, number in pairs:
        numbers[site_id].append(number)
    return or_(
        *(
            and_(Extension.site_id == site_id, member_of(Extension.number, found, postgres))
            for site_id, found in numbers.items()
        )
    )


class _Reader:
    """Selects in IN-list chunks, or whole tables when pruning."""

    def __init__(self, session: Session, prune: bool) -> None:
        self.connection = session.connection()
        """Core execution: the rows are plain columns, the ORM's loading adds nothing."""
        self.prune = prune
        self.postgres = session.get_bind().dialect.name == "postgresql"

    def rows(
        self,
        columns: Sequence[Any],
        key: ColumnElement[Any] | Condition,
        values: Iterable[Any],
        *,
        all: bool | None = None,
        join: tuple[Any, Any] | None = None,
    ) -> Iterator[Row]:
        """Rows whose ``key`` is in ``values``; every row when pruning, unless ``all``
        is False (``values`` is then already everything that matters). ``key`` is a
        column, or a function making the condition for one chunk of ``values``."""
        statement = select(*columns)
        if join is not None:
            statement = statement.join(*join)
        if self.prune if all is None else all:
            yield from self.connection.execute(statement).all()
            return
        for chunk in chunks(values):
            if callable(key):
                condition = key(chunk, self.postgres)
            else:
                condition = member_of(key, chunk, self.postgres)
            yield from self.connection.execute(statement.where(condition)).all()

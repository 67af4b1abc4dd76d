"""Device use cases: phones and what was seen of them, unassigned devices, claiming
one, the event log, uploads, and what a phone is served.

The CLI (``plugtone phones``, ``claim``, ``uploads``, ``render``) and the REST API
call these. Lists are pages in keyset order (by MAC, or by event id newest first):
a page costs the same however deep it is, and a row added between two pages never
makes another appear twice. What a phone is served is shown with its secrets
masked unless an admin asks to see them, and that disclosure is audited.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.orm import Session

from plugtone.firmware.repository import FileStore
from plugtone.inventory.document import Problem, parse_document
from plugtone.inventory.models import (
    DeviceState,
    Extension,
    LineAssignment,
    Phone,
    ProvisioningEvent,
    Site,
)
from plugtone.inventory.store import Store
from plugtone.inventory.yaml_source import Located
from plugtone.macaddr import MacError, colon_mac, normalize_mac
from plugtone.provisioning.resolver import CONTENT_TYPES, FileRequest, Resolver, Status
from plugtone.provisioning.uploads import UploadStore
from plugtone.services.actors import Actor, Role, authorize_kinds, require
from plugtone.services.cursors import (
    DEFAULT_LIMIT,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from plugtone.services.errors import Conflict, Invalid, NotFound
from plugtone.services.inventory import apply_inventory
from plugtone.services.unit_of_work import MASK, reading, unit_of_work
from plugtone.vendors import UnknownModel, VendorRegistry, default_registry

# -- what the use cases hand back


@dataclass(frozen=True)
class SeenInfo:
    """What plugtone last learnt of a device from its requests."""

    vendor: str | None
    model: str | None
    """As the device reported it (User-Agent, file names)."""
    firmware_version: str | None
    address: str | None
    user_agent: str | None
    first_seen: datetime
    last_seen: datetime
    requests: int


@dataclass(frozen=True)
class LineInfo:
    index: int
    site: str
    number: str
    name: str | None


@dataclass(frozen=True)
class PhoneInfo:
    """An inventory phone (MAC as 12 hex digits) and what was last seen of it."""

    mac: str
    model: str
    vendor: str
    site: str
    description: str | None
    lines: tuple[LineInfo, ...]
    seen: SeenInfo | None


@dataclass(frozen=True)
class PhonePage:
    items: tuple[PhoneInfo, ...]
    next: str | None
    """Pass as ``after`` for the next page; ``None`` on the last page."""


@dataclass(frozen=True)
class UnassignedDevice:
    """A device that asked for files but is not in the inventory."""

    mac: str
    seen: SeenInfo


@dataclass(frozen=True)
class DevicePage:
    items: tuple[UnassignedDevice, ...]
    next: str | None


@dataclass(frozen=True)
class ClaimResult:
    phone: PhoneInfo
    changes: tuple[str, ...]
    """What the apply did, as ``plugtone apply`` prints it."""
    generation: int | None


@dataclass(frozen=True)
class EventInfo:
    """One request a device made and how it was answered (never a secret)."""

    id: int
    time: datetime
    transport: str
    client_address: str | None
    path: str
    mac: str | None
    vendor: str | None
    status: str
    bytes: int
    user_agent: str | None
    detail: str | None
    trust: str | None
    """The request's trust level (``local``, ``authenticated``, ``trusted_network``,
    ``window``, ``stranger``); ``None`` for events from before levels were recorded."""
    secrets: bool
    """The answer carried a secret: this event is a disclosure."""


@dataclass(frozen=True)
class EventPage:
    items: tuple[EventInfo, ...]
    next: str | None


@dataclass(frozen=True)
class UploadInfo:
    name: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class FileContent:
    """A file as shown to a person: a rendered file or an upload."""

    mac: str
    name: str
    content: bytes
    content_type: str
    masked: int
    """How many secrets were replaced by the mask (0 when revealed or none present)."""


# -- phones


def list_phones(
    store: Store,
    actor: Actor,
    *,
    site: str | None = None,
    model: str | None = None,
    vendor: str | None = None,
    q: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> PhonePage:
    """Inventory phones by MAC, ``limit`` at a time after the cursor ``after``.

    ``q`` finds a phone by a MAC prefix in any notation (``00:08:5d``, ``0008.5D``),
    an extension number on one of its lines, or a piece of its description.
    """
    cursor = _mac_cursor(after)
    check_limit(limit)
    query = select(Phone, Site.name).join(Site, Site.id == Phone.site_id)
    if site is not None:
        query = query.where(Site.name == site)
    if model is not None:
        query = query.where(Phone.model == _canonical_model(model))
    if vendor is not None:
        query = query.where(Phone.vendor == vendor)
    if q is not None and q.strip():
        query = query.where(_matches(q.strip()))
    if cursor is not None:
        query = query.where(Phone.mac > cursor)
    with reading(store, actor) as session:
        found = session.execute(query.order_by(Phone.mac).limit(limit + 1)).all()
        more = len(found) > limit
        found = found[:limit]
        items = _phone_infos(session, [(phone, site_name) for phone, site_name in found])
    return PhonePage(tuple(items), encode_cursor(items[-1].mac) if more else None)


def _canonical_model(name: str) -> str:
    """The inventory's name for a model (``ip335`` -> ``IP335``), so the filter is an
    index range; a name no plug-in knows is kept and matches nothing."""
    try:
        return default_registry().resolve_model(name)[1]
    except UnknownModel:
        return name


def _matches(text: str):
    """A MAC prefix, an extension number or a piece of the description: the list's own
    condition (:func:`plugtone.services.phone_list.search_condition`), each part read
    once by its index rather than a subquery per phone."""
    from plugtone.services.phone_list import search_condition

    return search_condition(text)


def _phone_infos(session: Session, rows: Sequence[tuple[Phone, str]]) -> list[PhoneInfo]:
    """Views of ``rows`` with their lines and last contact: three queries for a page."""
    ids = [phone.id for phone, _ in rows]
    lines: dict[int, list[LineInfo]] = defaultdict(list)
    if ids:
        for phone_id, index, site_name, number, name in session.execute(
            select(LineAssignment.phone_id, LineAssignment.index, Site.name, Extension.number,
                   Extension.name)
            .join(Extension, Extension.id == LineAssignment.extension_id)
            .join(Site, Site.id == Extension.site_id)
            .where(LineAssignment.phone_id.in_(ids))
            .order_by(LineAssignment.phone_id, LineAssignment.index)
        ):  # fmt: skip
            lines[phone_id].append(LineInfo(index, site_name, number, name))
    seen = _seen(session, [phone.mac for phone, _ in rows])
    return [
        PhoneInfo(
            mac=phone.mac, model=phone.model, vendor=phone.vendor, site=site_name,
            description=phone.description, lines=tuple(lines.get(phone.id, ())),
            seen=seen.get(phone.mac),
        )
        for phone, site_name in rows
    ]  # fmt: skip


def _seen(session: Session, macs: Sequence[str]) -> dict[str, SeenInfo]:
    if not macs:
        return {}
    return {
        state.mac: _seen_info(state)
        for state in session.scalars(select(DeviceState).where(DeviceState.mac.in_(macs)))
    }


def _seen_info(state: DeviceState) -> SeenInfo:
    return SeenInfo(
        vendor=state.vendor, model=state.model, firmware_version=state.firmware_version,
        address=state.last_address, user_agent=state.last_user_agent,
        first_seen=_utc(state.first_seen), last_seen=_utc(state.last_seen),
        requests=state.requests or 0,
    )  # fmt: skip


def list_unassigned(
    store: Store, actor: Actor, after: str | None = None, limit: int = DEFAULT_LIMIT
) -> DevicePage:
    """Devices that asked for files but are not in the inventory, by MAC."""
    cursor = _mac_cursor(after)
    check_limit(limit)
    query = select(DeviceState).where(~exists().where(Phone.mac == DeviceState.mac))
    if cursor is not None:
        query = query.where(DeviceState.mac > cursor)
    with reading(store, actor) as session:
        found = list(session.scalars(query.order_by(DeviceState.mac).limit(limit + 1)))
        items = [UnassignedDevice(state.mac, _seen_info(state)) for state in found[:limit]]
    return DevicePage(tuple(items), encode_cursor(items[-1].mac) if len(found) > limit else None)


def claim_device(
    store: Store,
    actor: Actor,
    mac: str,
    *,
    site: str,
    model: str | None = None,
    lines: Sequence[str | None] = (),
    description: str | None = None,
    registry: VendorRegistry | None = None,
) -> ClaimResult:
    """Make a device seen but unassigned an inventory phone at ``site``.

    ``model`` defaults to the one the device reported. ``lines`` are extension
    numbers (``3003``, or ``site/3003`` for another site's), line 1 first; ``None``
    leaves a line empty. The phone is a one-entry inventory document applied like
    a file, so the file's rules (known site and extensions, one phone per
    extension unless shared, firmware pins) hold; the claim is audited besides
    the phone it created.

    "Not in the inventory yet" is checked again by :func:`apply_inventory` itself
    (``must_be_new``), where a claim that raced another sees the moved generation and
    is checked under the write lock: of two claims of one device at the same instant,
    one succeeds and the other is refused.
    """
    authorize_kinds(actor, ["claim", "phone"])
    registry = registry or default_registry()
    normalized = _mac(mac, "mac")
    shown = colon_mac(normalized)
    with reading(store, actor) as session:
        if session.scalar(select(Phone.id).where(Phone.mac == normalized)) is not None:
            raise Conflict(f"{shown} is in the inventory already")
        state = session.get(DeviceState, normalized)
        if state is None:
            raise NotFound(f"{shown} has not asked for a file yet: there is nothing to claim")
        reported = state.model
    wanted = model or reported
    if not wanted:
        raise Invalid([Problem("model", f"{shown} reported no model; name its model")])
    try:
        plugin, canonical = registry.resolve_model(wanted)
    except UnknownModel as error:
        message = str(error) if model else (
            f"{shown} reported the model {reported!r}, which no installed vendor knows;"
            " name its model"
        )  # fmt: skip
        raise Invalid([Problem("model", message)]) from None
    entry: dict[str, Any] = {"mac": normalized, "model": canonical, "site": site,
                             "lines": list(lines)}  # fmt: skip
    if description is not None:
        entry["description"] = description
    document, problems = parse_document(Located("claim", {"phones": [entry]}), registry)
    if problems:
        raise Invalid(_claim_problems(problems))
    try:
        result = apply_inventory(
            store, actor, document, registry, must_be_new=("phone", normalized)
        )
    except Invalid as error:
        raise Invalid(_claim_problems(error.problems)) from None
    except Conflict:
        raise Conflict(f"{shown} is in the inventory already") from None
    changes = tuple(str(change) for change in result.changes)
    with unit_of_work(store, actor) as work:
        work.authorize(["claim"])
        work.audit("claim", "claim", normalized, f"{canonical} at {site}", None,
                   {"model": canonical, "vendor": plugin.name, "site": site,
                    "lines": list(lines), "description": description})  # fmt: skip
    with reading(store, actor) as session:
        found = session.execute(
            select(Phone, Site.name).join(Site, Site.id == Phone.site_id)
            .where(Phone.mac == normalized)
        ).one()  # fmt: skip
        phone = _phone_infos(session, [(found[0], found[1])])[0]
    return ClaimResult(phone, changes, result.generation)


def _claim_problems(problems: Sequence[Problem]) -> list[Problem]:
    """The document has no lines and columns: ``claim:1:1`` says nothing, ``claim`` does."""
    return [Problem("claim", problem.message) for problem in problems]


# -- the event log


def list_events(
    store: Store,
    actor: Actor,
    *,
    mac: str | None = None,
    transport: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    secrets: bool | None = None,
    trust: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> EventPage:
    """Requests, newest first, ``limit`` at a time after the cursor ``after``.

    ``since`` is inclusive and ``until`` exclusive; a time without a zone is UTC.
    ``secrets=True`` keeps the disclosures only (answers that carried a secret: which
    device got which file, when, from where, at which trust level), read on their own
    partial index however long the log; ``trust`` keeps one trust level.
    """
    check_limit(limit)
    query = select(ProvisioningEvent)
    order = [ProvisioningEvent.id.desc()]
    if secrets:
        # spelt as the partial index's own predicate, and in its order (time), so both
        # SQLite and PostgreSQL walk that index, whatever the share of disclosures
        query = query.where(text("provisioning_events.secrets"))
        order = [ProvisioningEvent.time.desc(), ProvisioningEvent.id.desc()]
    elif secrets is not None:
        query = query.where(ProvisioningEvent.secrets.is_(False))
    if trust is not None:
        query = query.where(ProvisioningEvent.trust == trust)
    cursor: int | None = None
    if after is not None:
        if not after.isdigit() or len(after) > 19:
            raise Invalid([Problem("after", "not a cursor this list handed out")])
        cursor = int(after)
        if not secrets:
            query = query.where(ProvisioningEvent.id < cursor)
    if mac is not None:
        query = query.where(ProvisioningEvent.mac == _mac(mac, "mac"))
    if transport is not None:
        query = query.where(ProvisioningEvent.transport == transport)
    if status is not None:
        query = query.where(ProvisioningEvent.status == status)
    if since is not None:
        query = query.where(ProvisioningEvent.time >= _utc(since))
    if until is not None:
        query = query.where(ProvisioningEvent.time < _utc(until))
    with reading(store, actor) as session:
        if secrets and cursor is not None:  # after (time, id) of the page's last row
            last = session.scalar(select(ProvisioningEvent.time).where(
                ProvisioningEvent.id == cursor))  # fmt: skip
            if last is None:
                raise Invalid([Problem("after", "not a cursor this list handed out")])
            query = query.where(
                or_(ProvisioningEvent.time < last,
                    and_(ProvisioningEvent.time == last, ProvisioningEvent.id < cursor))
            )  # fmt: skip
        found = list(session.scalars(query.order_by(*order).limit(limit + 1)))
        items = [
            EventInfo(
                id=row.id, time=_utc(row.time), transport=row.transport,
                client_address=row.client_address, path=row.path, mac=row.mac,
                vendor=row.vendor, status=row.status, bytes=row.bytes or 0,
                user_agent=row.user_agent, detail=row.detail, trust=row.trust,
                secrets=bool(row.secrets),
            )
            for row in found[:limit]
        ]  # fmt: skip
    return EventPage(tuple(items), str(items[-1].id) if len(found) > limit else None)


# -- uploads


def list_uploads(store: Store, actor: Actor, uploads: UploadStore, mac: str) -> list[UploadInfo]:
    """What device ``mac`` uploaded (logs, overrides, contacts), by name."""
    require(actor, Role.VIEWER, "reading uploads")
    normalized = _mac(mac, "mac")
    return [UploadInfo(item.name, item.size, item.modified) for item in uploads.list(normalized)]


def upload_content(
    store: Store,
    actor: Actor,
    uploads: UploadStore,
    mac: str,
    name: str,
    *,
    reveal: bool = False,
) -> FileContent:
    """One upload (its name in any case), masked like a rendered file."""
    _require_reveal(actor, reveal)
    normalized = _mac(mac, "mac")
    match = next(
        (item for item in uploads.list(normalized) if item.name.lower() == name.lower()), None
    )
    if match is None:
        raise NotFound(f"{colon_mac(normalized)} has uploaded no {name}")
    content = (uploads.root / normalized / match.name).read_bytes()
    extension = posixpath.splitext(match.name.lower())[1]
    kind = CONTENT_TYPES.get(extension) or (
        "text/plain; charset=utf-8" if extension == ".log" else "application/octet-stream"
    )
    return _shown(store, actor, normalized, match.name, content, kind, reveal)


# -- what a phone is served


def rendered_file(
    store: Store,
    registry: VendorRegistry,
    actor: Actor,
    mac: str,
    name: str,
    *,
    reveal: bool = False,
    firmware_files: FileStore | None = None,
) -> FileContent:
    """Exactly what phone ``mac`` is served for ``name``, its secrets masked.

    The secrets are the SIP passwords of the extensions on the phone's lines and its
    site's FTP password, replaced as written and XML-escaped. ``reveal`` shows
    them; it needs the admin role and is audited (never the secret itself). Given
    the repository (``firmware_files``), a firmware image the phone would be offered
    is named rather than shown; without it, firmware paths are not served.
    """
    _require_reveal(actor, reveal)
    normalized = _mac(mac, "mac")
    resolver = Resolver(store, registry, firmware_files=firmware_files)
    request = FileRequest(path=name, transport=actor.via, mac=normalized, local=True)
    answer = resolver.resolve(request)
    if answer.status is Status.OK and answer.file is not None:
        raise NotFound(
            f"{name}: {colon_mac(normalized)} is sent a stored firmware file"
            f" ({answer.file.size} bytes, sha256 {answer.file.sha256}), not a rendered one"
        )
    if answer.status is not Status.OK or answer.content is None:
        raise NotFound(
            f"{name}: not served to {colon_mac(normalized)} ({answer.detail or 'not found'})"
        )
    return _shown(store, actor, normalized, name, answer.content, answer.content_type, reveal)


def _require_reveal(actor: Actor, reveal: bool) -> None:
    if reveal:
        authorize_kinds(actor, ["disclosure"])
    else:
        require(actor, Role.VIEWER, "reading what phones are served")


def _shown(store: Store, actor: Actor, mac: str, name: str, content: bytes,
           content_type: str, reveal: bool) -> FileContent:  # fmt: skip
    with reading(store, actor) as session:
        secrets = phone_secrets(session, mac)
    masked, count = mask_secrets(content, secrets)
    if not reveal:
        return FileContent(mac, name, masked, content_type, count)
    if count:
        with unit_of_work(store, actor) as work:
            work.authorize(["disclosure"])
            work.audit("reveal", "disclosure", f"{mac}/{name}",
                       f"{count} secret(s) shown unmasked")  # fmt: skip
    return FileContent(mac, name, content, content_type, 0)


def phone_secrets(session: Session, mac: str) -> list[str]:
    """The secrets a file served to ``mac`` may hold: its lines' SIP passwords, its
    site's FTP password and its own provisioning password."""
    phone = session.scalar(select(Phone).where(Phone.mac == mac))
    if phone is None:
        return []
    found = list(
        session.scalars(
            select(Extension.password)
            .join(LineAssignment, LineAssignment.extension_id == Extension.id)
            .where(LineAssignment.phone_id == phone.id)
        )
    )
    found.append(session.scalar(select(Site.ftp_password).where(Site.id == phone.site_id)))
    found.append(phone.http_password)
    return [secret for secret in found if secret]


def mask_secrets(content: bytes, secrets: Sequence[str]) -> tuple[bytes, int]:
    """``content`` with each secret, raw or XML-escaped, replaced by the mask.

    One pass with the longest forms first, so a secret inside another is not left
    half shown and the mask itself is never masked again.
    """
    forms: set[bytes] = set()
    for secret in secrets:
        forms.add(secret.encode("utf-8"))
        for quote in (None, "&quot;", "&#34;"):  # XML writers differ on quotes
            for apostrophe in (None, "&apos;", "&#39;"):
                entities = {'"': quote, "'": apostrophe}
                extra = {char: text for char, text in entities.items() if text}
                forms.add(escape(secret, extra).encode("utf-8"))
    forms.discard(b"")
    if not forms:
        return content, 0
    pattern = re.compile(
        b"|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    )
    return pattern.subn(MASK.encode(), content)


# -- helpers


def _mac(text: str, field: str) -> str:
    try:
        return normalize_mac(text)
    except MacError as error:
        raise Invalid([Problem(field, str(error))]) from None


def _mac_cursor(after: str | None) -> str | None:
    """The MAC a page ended at, from the opaque cursor handed out with it."""
    found = decode_cursor(after, str)
    if found is None:
        return None
    if not re.fullmatch(r"[0-9A-F]{12}", found[0]):
        raise Invalid([Problem("after", "not a cursor this list handed out")])
    return found[0]


def _utc(value: datetime) -> datetime:
    """In UTC; a naive time (SQLite hands those back, written in UTC) is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

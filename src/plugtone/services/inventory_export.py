"""Writing the store back out in the inventory file format: whole, one entry, or a page.

``export`` followed by ``apply`` of its output changes nothing: every field the
file format knows is written, in the same shape ``parse_document`` reads. One entry
(a phone for the API) and one page of a list are built by the same code from the
rows of just those objects, loaded with one query per table for the whole batch, so
answering one phone never reads the other 100,000.

Secrets (an extension's ``password``, a site's ``ftp_account.password``, a phone's
``http_password``) are written
as they are for the file (``secrets=True``, what ``plugtone export`` does) or as
:data:`MASK` for everyone else; applying the mask back keeps the stored secret
(``services.inventory``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import Select, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from plugtone.inventory.models import (
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
from plugtone.inventory.tr069_fields import export_tr069
from plugtone.macaddr import colon_mac
from plugtone.services.cursors import DEFAULT_LIMIT, check_limit, decode_cursor, encode_cursor
from plugtone.services.masked_settings import is_secret_setting
from plugtone.services.unit_of_work import MASK

SITE_DEFAULTS: dict[str, Any] = {
    "sip_transport": "udp",
    "timezone": "UTC",
    "dtmf_method": "rfc2833",
    "registration_period": 3600,
}
SITE_COLUMNS = (
    "sip_transport", "timezone", "ntp_servers", "dial_plan", "digit_timeout",
    "voicemail", "conference", "dtmf_method", "registration_period", "codecs",
    "config_server", "resync_time", "public_url", "trusted_networks",
)  # fmt: skip

ENTRY_KINDS = ("site", "extension", "phone", "branding")

# Owner columns of the tables that hang off several kinds of owner, and the columns
# before it in the table's owner index that must be NULL for the index to be used.
_OWNERS = {
    "site": ("site_id", ()),
    "model": ("model_profile_id", ("site_id",)),
    "phone": ("phone_id", ("site_id", "model_profile_id")),
    "branding": ("branding_id", ()),
}


@dataclass
class Page:
    """One page of a list and the cursor of the next (``None`` on the last page)."""

    items: list[dict[str, Any]]
    next: str | None


@dataclass
class _Batch:
    """The rows hanging off a batch of owners, keyed by owner id."""

    secrets: bool
    site_names: dict[int, str] = field(default_factory=dict)
    branding_names: dict[int, str] = field(default_factory=dict)
    settings: dict[tuple[str, int], dict[str, dict[str, str]]] = field(default_factory=dict)
    keys: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pins: dict[tuple[str, int], list[FirmwarePin]] = field(default_factory=dict)
    contacts: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    lines: dict[int, dict[int, tuple[int, str]]] = field(default_factory=dict)
    files: dict[int, list[dict[str, str]]] = field(default_factory=dict)


def _load(
    session: Session,
    *,
    secrets: bool,
    sites: Sequence[Site] = (),
    phones: Sequence[Phone] = (),
    brandings: Sequence[BrandingSet] = (),
    models: Sequence[ModelProfile] = (),
    everything: bool = False,
) -> _Batch:
    """One query per table for the owners given (or for every owner: ``everything``)."""
    batch = _Batch(secrets)
    owners = {"site": sites, "phone": phones, "branding": brandings, "model": models}
    for kind, items in owners.items():
        ids = None if everything else [item.id for item in items]
        if ids == []:
            continue
        batch.settings.update(_settings(session, kind, ids, secrets))
        if kind in ("site", "phone"):
            batch.keys.update(_keys(session, kind, ids))
        if kind in ("site", "phone", "model"):
            batch.pins.update(_pins(session, kind, ids))
    site_ids = {site.id for site in sites} | {phone.site_id for phone in phones}
    if phones:
        batch.lines = _lines(session, None if everything else [p.id for p in phones])
        site_ids |= {site_id for line in batch.lines.values() for site_id, _ in line.values()}
    if sites:
        batch.contacts = _contacts(session, None if everything else [s.id for s in sites])
        batch.site_names = {site.id: site.name for site in sites}
    missing = site_ids - set(batch.site_names)
    if missing:
        batch.site_names.update(
            session.execute(select(Site.id, Site.name).where(Site.id.in_(missing))).all()
        )
    branding_ids = {o.branding_id for o in (*sites, *phones) if o.branding_id is not None}
    batch.branding_names = {branding.id: branding.name for branding in brandings}
    missing = branding_ids - set(batch.branding_names)
    if missing:
        batch.branding_names.update(
            session.execute(
                select(BrandingSet.id, BrandingSet.name).where(BrandingSet.id.in_(missing))
            ).all()
        )
    if brandings:
        query = select(BrandingFile.branding_id, BrandingFile.name, BrandingFile.sha256)
        if not everything:
            query = query.where(BrandingFile.branding_id.in_([b.id for b in brandings]))
        files: dict[int, list[dict[str, str]]] = defaultdict(list)
        for owner, name, sha256 in session.execute(query.order_by(BrandingFile.position)):
            files[owner].append({"name": name, "sha256": sha256})
        batch.files = files
    return batch


def _owner_filter(query: Select, model: type, kind: str, ids: list[int] | None) -> Select:
    column_name, null_before = _OWNERS[kind]
    column = getattr(model, column_name)
    for name in null_before:
        if hasattr(model, name):
            query = query.where(getattr(model, name).is_(None))
    return query.where(column.in_(ids) if ids is not None else column.is_not(None))


def _settings(session: Session, kind: str, ids: list[int] | None, secrets: bool):
    """Raw settings by owner; those a vendor calls secret are masked unless ``secrets``."""
    column = getattr(VendorSetting, _OWNERS[kind][0])
    query = select(column, VendorSetting.vendor, VendorSetting.name, VendorSetting.value)
    query = _owner_filter(query, VendorSetting, kind, ids).order_by(VendorSetting.name)
    found: dict[tuple[str, int], dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for owner, vendor, name, value in session.execute(query):
        if not secrets and is_secret_setting(vendor, name):
            value = MASK
        found[(kind, owner)][vendor][name] = value
    return {owner: _plain(values) for owner, values in found.items()}


def _keys(session: Session, kind: str, ids: list[int] | None):
    query = _owner_filter(select(Key), Key, kind, ids).order_by(Key.position)
    found: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for key in session.scalars(query):
        found[(kind, key.site_id if kind == "site" else key.phone_id)].append(_key(key))
    return found


def _pins(session: Session, kind: str, ids: list[int] | None):
    column = _OWNERS[kind][0]
    query = _owner_filter(select(FirmwarePin), FirmwarePin, kind, ids).order_by(FirmwarePin.id)
    found: dict[tuple[str, int], list[FirmwarePin]] = defaultdict(list)
    for pin in session.scalars(query):
        found[(kind, getattr(pin, column))].append(pin)
    return found


def _lines(session: Session, phone_ids: list[int] | None) -> dict[int, dict[int, tuple[int, str]]]:
    query = select(
        LineAssignment.phone_id, LineAssignment.index, Extension.site_id, Extension.number
    ).join(Extension, Extension.id == LineAssignment.extension_id)
    if phone_ids is not None:
        query = query.where(LineAssignment.phone_id.in_(phone_ids))
    lines: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
    for phone_id, index, site_id, number in session.execute(query):
        lines[phone_id][index] = (site_id, number)
    return lines


def _contacts(session: Session, site_ids: list[int] | None) -> dict[int, list[dict[str, str]]]:
    query = select(DirectoryContact.site_id, DirectoryContact.name, DirectoryContact.number)
    if site_ids is not None:
        query = query.where(DirectoryContact.site_id.in_(site_ids))
    contacts: dict[int, list[dict[str, str]]] = defaultdict(list)
    for site_id, name, number in session.execute(
        query.order_by(DirectoryContact.site_id, DirectoryContact.position)
    ):
        contacts[site_id].append({"name": name, "number": number})
    return contacts


# -- entries ----------------------------------------------------------------------------


def _site_entry(site: Site, batch: _Batch) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": site.name, "sip_server": _server(site)}
    for name in SITE_COLUMNS:
        value = getattr(site, name)
        if value is None or value == [] or SITE_DEFAULTS.get(name) == value:
            continue
        entry[name] = value
    if site.nat:
        entry["nat"] = True
    if site.ftp_user:
        password = site.ftp_password or ""
        entry["ftp_account"] = {"user": site.ftp_user, "password": _secret(password, batch)}
    if site.tr069 is not None:
        entry["tr069"] = export_tr069(site.tr069, site.tr069_password,
                                      lambda password: _secret(password, batch))  # fmt: skip
    if site.branding_id is not None:
        entry["branding"] = batch.branding_names[site.branding_id]
    site_pins = batch.pins.get(("site", site.id), [])
    if len(site_pins) == 1 and site_pins[0].applies_to is None:
        entry["firmware"] = _pin(site_pins[0])
    elif site_pins:
        entry["firmware"] = {pin.applies_to: _pin(pin) for pin in site_pins}
    if batch.keys.get(("site", site.id)):
        entry["keys"] = batch.keys[("site", site.id)]
    if batch.contacts.get(site.id):
        entry["directory"] = batch.contacts[site.id]
    if batch.settings.get(("site", site.id)):
        entry["vendor_settings"] = batch.settings[("site", site.id)]
    return entry


def _extension_entry(ext: Extension, site_name: str, secrets: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"number": ext.number, "site": site_name}
    for name in ("name", "auth_user"):
        if getattr(ext, name) is not None:
            entry[name] = getattr(ext, name)
    if ext.password is not None:
        entry["password"] = ext.password if secrets else MASK
    if ext.shared:
        entry["shared"] = True
    return entry


def _phone_entry(phone: Phone, batch: _Batch) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "mac": colon_mac(phone.mac),
        "model": phone.model,
        "site": batch.site_names[phone.site_id],
    }
    if phone.description:
        entry["description"] = phone.description
    phone_lines = batch.lines.get(phone.id, {})
    if phone_lines:
        refs: list[str | None] = []
        for index in range(1, max(phone_lines) + 1):
            ref = phone_lines.get(index)
            if ref is None:
                refs.append(None)
            else:
                site_id, number = ref
                same = site_id == phone.site_id
                refs.append(number if same else f"{batch.site_names[site_id]}/{number}")
        entry["lines"] = refs
    if batch.keys.get(("phone", phone.id)):
        entry["keys"] = batch.keys[("phone", phone.id)]
    if batch.settings.get(("phone", phone.id)):
        entry["vendor_settings"] = batch.settings[("phone", phone.id)]
    if phone.branding_id is not None:
        entry["branding"] = batch.branding_names[phone.branding_id]
    if batch.pins.get(("phone", phone.id)):
        entry["firmware"] = _pin(batch.pins[("phone", phone.id)][0])
    if phone.http_user:
        entry["http_user"] = phone.http_user
    if phone.http_password:
        entry["http_password"] = _secret(phone.http_password, batch)
    return entry


def _branding_entry(branding: BrandingSet, batch: _Batch) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": branding.name}
    if branding.logo_sha256:
        entry["logo"] = f"sha256:{branding.logo_sha256}"
    if batch.files.get(branding.id):
        entry["files"] = batch.files[branding.id]
    if batch.settings.get(("branding", branding.id)):
        entry["vendor_settings"] = batch.settings[("branding", branding.id)]
    return entry


def _model_entry(profile: ModelProfile, batch: _Batch) -> dict[str, Any]:
    entry: dict[str, Any] = {"model": profile.model}
    if batch.settings.get(("model", profile.id)):
        entry["vendor_settings"] = batch.settings[("model", profile.id)]
    if batch.pins.get(("model", profile.id)):
        entry["firmware"] = _pin(batch.pins[("model", profile.id)][0])
    return entry


def _secret(value: str, batch: _Batch) -> str:
    return value if batch.secrets else MASK


# -- the whole document ---------------------------------------------------------------


def export_document(session: Session, *, secrets: bool = True) -> dict[str, Any]:
    """The whole inventory as plain data in the inventory file's shape."""
    brandings = list(session.scalars(select(BrandingSet).order_by(BrandingSet.name)))
    sites = list(session.scalars(select(Site).order_by(Site.name)))
    extensions = session.scalars(select(Extension).order_by(Extension.site_id, Extension.number))
    phones = list(session.scalars(select(Phone).order_by(Phone.mac)))
    models = list(session.scalars(select(ModelProfile).order_by(ModelProfile.model)))
    batch = _load(session, secrets=secrets, sites=sites, phones=phones, brandings=brandings,
                  models=models, everything=True)  # fmt: skip
    document: dict[str, Any] = {
        "branding": [_branding_entry(branding, batch) for branding in brandings],
        "sites": [_site_entry(site, batch) for site in sites],
        "extensions": [
            _extension_entry(ext, batch.site_names[ext.site_id], secrets) for ext in extensions
        ],
        "phones": [_phone_entry(phone, batch) for phone in phones],
        "models": [_model_entry(profile, batch) for profile in models],
    }
    return {name: entries for name, entries in document.items() if entries}


def export_yaml(session: Session) -> str:
    return document_yaml(export_document(session))


def document_yaml(document: dict[str, Any]) -> str:
    """An exported document as the inventory file, ready to apply again."""
    header = "# plugtone inventory (format: docs/inventory-format.md)\n"
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return header + (body if body.strip() != "{}" else "")


# -- one entry ------------------------------------------------------------------------


def export_site(session: Session, name: str, *, secrets: bool = False) -> dict[str, Any] | None:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        return None
    return _site_entry(site, _load(session, secrets=secrets, sites=[site]))


def export_extension(
    session: Session, site: str, number: str, *, secrets: bool = False
) -> dict[str, Any] | None:
    ext = session.scalar(
        select(Extension)
        .join(Site, Site.id == Extension.site_id)
        .where(Site.name == site, Extension.number == number)
    )
    return None if ext is None else _extension_entry(ext, site, secrets)


def export_phone(session: Session, mac: str, *, secrets: bool = False) -> dict[str, Any] | None:
    """The phone with MAC ``mac`` (12 upper-case hex digits); its ``http_password`` is
    masked unless ``secrets``."""
    phone = session.scalar(select(Phone).where(Phone.mac == mac))
    if phone is None:
        return None
    return _phone_entry(phone, _load(session, secrets=secrets, phones=[phone]))


def export_branding(session: Session, name: str) -> dict[str, Any] | None:
    branding = session.scalar(select(BrandingSet).where(BrandingSet.name == name))
    if branding is None:
        return None
    return _branding_entry(branding, _load(session, secrets=False, brandings=[branding]))


def export_entry(
    session: Session, kind: str, key: str, *, secrets: bool = False
) -> dict[str, Any] | None:
    """An entry by its kind and natural key as changes name it (``hq/3003``, a MAC)."""
    if kind == "site":
        return export_site(session, key, secrets=secrets)
    if kind == "extension":
        site, _, number = key.partition("/")
        return export_extension(session, site, number, secrets=secrets)
    if kind == "phone":
        return export_phone(session, key, secrets=secrets)
    if kind == "branding":
        return export_branding(session, key)
    raise ValueError(f"no entries of kind {kind!r}")


def site_contacts(session: Session, name: str) -> list[dict[str, str]] | None:
    site_id = session.scalar(select(Site.id).where(Site.name == name))
    if site_id is None:
        return None
    return _contacts(session, [site_id]).get(site_id, [])


# -- pages ----------------------------------------------------------------------------


def list_sites(
    session: Session, *, after: str | None = None, limit: int = DEFAULT_LIMIT,
    secrets: bool = False,
) -> Page:  # fmt: skip
    query = select(Site).order_by(Site.name).limit(check_limit(limit) + 1)
    start = decode_cursor(after, str)
    if start is not None:
        query = query.where(Site.name > start[0])
    sites = list(session.scalars(query))
    more, sites = len(sites) > limit, sites[:limit]
    batch = _load(session, secrets=secrets, sites=sites)
    items = [_site_entry(site, batch) for site in sites]
    return Page(items, encode_cursor(sites[-1].name) if more else None)


def list_extensions(
    session: Session, *, site: str | None = None, after: str | None = None,
    limit: int = DEFAULT_LIMIT, secrets: bool = False,
) -> Page:  # fmt: skip
    """Extensions in ``(site, number)`` order, on the ``(site_id, number)`` unique index."""
    query = select(Extension).order_by(Extension.site_id, Extension.number)
    if site is not None:
        site_id = session.scalar(select(Site.id).where(Site.name == site))
        if site_id is None:
            return Page([], None)
        query = query.where(Extension.site_id == site_id)
    start = decode_cursor(after, int, str)
    if start is not None:
        query = query.where(tuple_(Extension.site_id, Extension.number) > tuple_(*start))
    extensions = list(session.scalars(query.limit(check_limit(limit) + 1)))
    more, extensions = len(extensions) > limit, extensions[:limit]
    ids = {ext.site_id for ext in extensions}
    names = dict(session.execute(select(Site.id, Site.name).where(Site.id.in_(ids))).all())
    items = [_extension_entry(ext, names[ext.site_id], secrets) for ext in extensions]
    last = extensions[-1] if more else None
    return Page(items, encode_cursor(last.site_id, last.number) if last else None)


def list_phones(
    session: Session, *, site: str | None = None, model: str | None = None,
    vendor: str | None = None, q: str | None = None, after: str | None = None,
    limit: int = DEFAULT_LIMIT, secrets: bool = False,
) -> Page:  # fmt: skip
    """Phones in MAC order, filtered; each filter walks an index ending in ``mac``.

    ``q`` is a MAC prefix in any notation or part of the description (see
    :func:`_phone_search`).
    """
    query = select(Phone).order_by(Phone.mac)
    indexed = False
    if site is not None:
        site_id = session.scalar(select(Site.id).where(Site.name == site))
        if site_id is None:
            return Page([], None)
        query = query.where(Phone.site_id == site_id)
        indexed = True
    if model is not None:
        query = query.where(Phone.model == model)
        indexed = True
    if vendor is not None:
        query = query.where(Phone.vendor == vendor)
        indexed = True
    if q:
        condition, scans = _phone_search(q, session.get_bind().dialect.name)
        query = query.where(condition)
        if scans and not indexed and session.get_bind().dialect.name == "sqlite":
            # A substring has no index to serve it. Walking the MAC index to find a
            # page of rare matches costs a random read per phone (27 ms for 100,000);
            # reading the table in storage order and keeping the first page by MAC
            # costs 8 to 12 ms whatever the term. Ordering by the MAC joined to ''
            # (the same order) tells SQLite so. PostgreSQL's planner, which keeps
            # statistics, picks the better of the two by itself.
            query = query.order_by(None).order_by(Phone.mac.op("||")(literal_column("''")))
    start = decode_cursor(after, str)
    if start is not None:
        query = query.where(Phone.mac > start[0])
    phones = list(session.scalars(query.limit(check_limit(limit) + 1)))
    more, phones = len(phones) > limit, phones[:limit]
    batch = _load(session, secrets=secrets, phones=phones)
    items = [_phone_entry(phone, batch) for phone in phones]
    return Page(items, encode_cursor(phones[-1].mac) if more else None)


def _phone_search(q: str, dialect: str) -> tuple[Any, bool]:
    """The condition ``q`` stands for, and whether it needs reading the table.

    A MAC written with separators (``00:08:5D:1``, ``0008.5d00``) or all twelve digits
    is a MAC prefix only: a range on the MAC index, as cheap as a page of the list.
    Anything else matches the description, case-insensitively (on SQLite: in ASCII
    letters, its ``LIKE``); bare hex digits (``4242``) match both ways.
    """
    prefix = mac_prefix(q)
    in_range = None
    if prefix is not None:
        # every 12-digit MAC that starts with the prefix, as a range on the MAC index
        in_range = Phone.mac.between(prefix.ljust(12, "0"), prefix.ljust(12, "F"))
        if len(prefix) == 12 or any(ch in ":-." for ch in q):
            return in_range, False
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    if dialect == "sqlite":  # LIKE ignores ASCII case there; lower() per row costs a third
        described = Phone.description.like(pattern, escape="\\")
    else:  # lower() LIKE: PostgreSQL's ILIKE took 45 ms a 100,000-phone scan, this 26
        described = func.lower(Phone.description).like(pattern.lower(), escape="\\")
    return (described if in_range is None else in_range | described), True


def mac_prefix(q: str) -> str | None:
    """``00:08:5d`` / ``0008.5D`` / ``00-08-5`` -> ``00085D`` / ``00085``; else ``None``."""
    digits = "".join(ch for ch in q.strip() if ch not in ":-.").upper()
    if not digits or len(digits) > 12 or any(ch not in "0123456789ABCDEF" for ch in digits):
        return None
    return digits


def list_brandings(
    session: Session, *, after: str | None = None, limit: int = DEFAULT_LIMIT
) -> Page:
    query = select(BrandingSet).order_by(BrandingSet.name).limit(check_limit(limit) + 1)
    start = decode_cursor(after, str)
    if start is not None:
        query = query.where(BrandingSet.name > start[0])
    brandings = list(session.scalars(query))
    more, brandings = len(brandings) > limit, brandings[:limit]
    batch = _load(session, secrets=False, brandings=brandings)
    items = [_branding_entry(branding, batch) for branding in brandings]
    return Page(items, encode_cursor(brandings[-1].name) if more else None)


def entry_exists(session: Session, kind: str, key: str) -> bool:
    if kind == "site":
        return session.scalar(select(Site.id).where(Site.name == key)) is not None
    if kind == "extension":
        site, _, number = key.partition("/")
        found = select(Extension.id).join(Site, Site.id == Extension.site_id)
        found = found.where(Site.name == site, Extension.number == number)
        return session.scalar(found) is not None
    if kind == "phone":
        return session.scalar(select(Phone.id).where(Phone.mac == key)) is not None
    if kind == "branding":
        return session.scalar(select(BrandingSet.id).where(BrandingSet.name == key)) is not None
    raise ValueError(f"no entries of kind {kind!r}")


# -- shapes ---------------------------------------------------------------------------


def _server(site: Site) -> str:
    host = f"[{site.sip_server}]" if ":" in site.sip_server else site.sip_server
    return host if site.sip_port == 5060 else f"{host}:{site.sip_port}"


def _key(key: Key) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": key.type}
    for name in ("value", "label", "line", "family", "slot"):
        if getattr(key, name) is not None:
            entry[name] = getattr(key, name)
    return entry


def _pin(pin: FirmwarePin) -> str | dict[str, Any]:
    """A pin as written in the file; promotion is state, not part of the file."""
    if not pin.first_wave and not pin.forced:
        return pin.version
    entry: dict[str, Any] = {"version": pin.version}
    if pin.first_wave == "list":
        entry["first_wave"] = [colon_mac(mac) for mac in pin.wave or []]
    elif pin.first_wave:
        entry["first_wave"] = pin.first_wave
    if pin.forced:
        entry["force"] = True
    return entry


def _plain(nested: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {vendor: dict(values) for vendor, values in sorted(nested.items())}

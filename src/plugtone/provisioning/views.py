"""Reading the store into the frozen views vendor plug-ins render from.

Plug-ins never see ORM objects: they get immutable snapshots, so a render cannot
change the store and can run in any thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugtone.firmware.targets import phone_targets
from plugtone.inventory.models import (
    Blob,
    BrandingFile,
    BrandingSet,
    DirectoryContact,
    Extension,
    Key,
    LineAssignment,
    ModelProfile,
    Phone,
    Site,
    VendorSetting,
)
from plugtone.provisioning.trust import NetworkRule, parse_network_rules
from plugtone.vendors.base import (
    BrandingFile as BrandingFileView,
)
from plugtone.vendors.base import (
    BrandingView,
    ContactView,
    Image,
    KeyView,
    LineView,
    ModelView,
    PhoneView,
    SiteView,
)

log = logging.getLogger(__name__)


def load_phone(session: Session, mac: str, sites: dict | None = None) -> PhoneView | None:
    """The view of the phone with ``mac``, or ``None`` when it is not assigned."""
    phone = session.scalar(select(Phone).where(Phone.mac == mac))
    if phone is None:
        return None
    return load_phones(session, [phone], sites)[phone.mac]


def load_phones(
    session: Session, phones: Sequence[Phone], sites: dict | None = None
) -> dict[str, PhoneView]:
    """The views of ``phones``, by MAC, with a fixed number of queries for the lot.

    A cold boot storm is a site's phones asking at once; one query per table for a
    few hundred phones costs about what one phone's queries cost alone.

    ``sites`` caches site views by id (and branding views by ``("branding", id)``): a
    site's view lists all its extensions (for directories), so building it once per
    site rather than once per phone is what keeps a cold boot storm of a 2,000-phone
    site from costing a query set per phone.
    The caller empties it whenever the inventory generation moves.
    """
    if not phones:
        return {}
    sites = {} if sites is None else sites
    ids = [phone.id for phone in phones]
    for site_id in {phone.site_id for phone in phones}:
        if site_id not in sites:
            sites[site_id] = load_site(session, site_id)
    # Columns, not ORM entities, for what only feeds a view: building and tracking an
    # entity per row was most of a cold batch's cost (a line, keys and settings per phone).
    lines: dict[int, list[LineView]] = defaultdict(list)
    for phone_id, index, number, name, auth_user, password in session.execute(
        select(
            LineAssignment.phone_id, LineAssignment.index, Extension.number, Extension.name,
            Extension.auth_user, Extension.password,
        )
        .join(Extension, Extension.id == LineAssignment.extension_id)
        .where(LineAssignment.phone_id.in_(ids))
        .order_by(LineAssignment.phone_id, LineAssignment.index)
    ):  # fmt: skip
        lines[phone_id].append(
            LineView(
                index=index,
                number=number,
                name=name,
                auth_user=auth_user or number,
                password=password,
            )
        )
    keys = _keys_by(session, Key.phone_id, ids)
    settings = _settings_by(session, VendorSetting.phone_id, ids)
    # One read-only mapping per model for the batch's phones, not a copy per phone: no
    # view may change what it was given, and a copy each was a dict per phone built
    # for nothing.
    models = {
        (model, vendor): MappingProxyType(load_model(session, model, vendor).settings)
        for model, vendor in {(phone.model, phone.vendor) for phone in phones}
    }
    site_branding = dict(
        session.execute(
            select(Site.id, Site.branding_id).where(Site.id.in_({p.site_id for p in phones}))
        ).all()
    )
    targets = phone_targets(session, phones)
    views = {}
    for phone in phones:
        branding_id = phone.branding_id or site_branding.get(phone.site_id)
        branding = None
        if branding_id is not None:
            key = ("branding", branding_id)
            branding = sites.get(key)
            if branding is None:
                branding = sites[key] = load_branding(session, branding_id)
        views[phone.mac] = PhoneView(
            mac=phone.mac,
            model=phone.model,
            vendor=phone.vendor,
            site=sites[phone.site_id],
            lines=tuple(lines.get(phone.id, ())),
            keys=keys.get(phone.id, ()),
            model_settings=models[phone.model, phone.vendor],
            phone_settings=settings.get(phone.id, {}).get(phone.vendor, {}),
            description=phone.description,
            firmware=targets[phone.id][1],
            branding=branding,
            http_user=phone.http_user,
            http_password=phone.http_password,
        )
    return views


def _networks(site: Site) -> tuple[NetworkRule, ...]:
    """The site's trusted networks, parsed (the inventory refused bad ones at apply)."""
    try:
        return parse_network_rules(site.trusted_networks or (), f"site {site.name}")
    except ValueError as problem:
        log.error("ignoring the trusted networks of site %s: %s", site.name, problem)
        return ()


def load_site(session: Session, site_id: int) -> SiteView:
    site = session.get(Site, site_id)
    assert site is not None
    return SiteView(
        name=site.name,
        sip_server=site.sip_server,
        sip_port=site.sip_port,
        sip_transport=site.sip_transport,
        timezone=site.timezone,
        ntp_servers=tuple(site.ntp_servers or ()),
        dial_plan=site.dial_plan,
        digit_timeout=site.digit_timeout,
        voicemail=site.voicemail,
        conference=site.conference,
        dtmf_method=site.dtmf_method,
        registration_period=site.registration_period,
        codecs=tuple(site.codecs or ()),
        config_server=site.config_server,
        resync_time=site.resync_time,
        nat=site.nat,
        public_url=site.public_url,
        trusted_networks=_networks(site),
        tr069=site.tr069 if site.tr069 and site.tr069.get("enabled") else None,
        tr069_password=site.tr069_password,
        keys=_keys(session, Key.site_id == site.id),
        directory=tuple(
            ContactView(name=name, number=number)
            for name, number in session.execute(
                select(DirectoryContact.name, DirectoryContact.number)
                .where(DirectoryContact.site_id == site.id)
                .order_by(DirectoryContact.position)
            )
        ),
        members=tuple(
            ContactView(name=name or number, number=number)
            for name, number in session.execute(
                select(Extension.name, Extension.number)
                .where(Extension.site_id == site.id)
                .order_by(Extension.number)
            )
        ),
        vendor_settings=_settings(session, VendorSetting.site_id == site.id),
    )


def load_branding(session: Session, branding_id: int) -> BrandingView | None:
    branding = session.get(BrandingSet, branding_id)
    if branding is None:
        return None
    files = tuple(
        BrandingFileView(name=row.name, sha256=blob.sha256, size=blob.size,
                         media_type=blob.media_type)
        for row, blob in session.execute(
            select(BrandingFile, Blob)
            .join(Blob, Blob.sha256 == BrandingFile.sha256)
            .where(BrandingFile.branding_id == branding_id)
            .order_by(BrandingFile.position)
        )
    )  # fmt: skip
    return BrandingView(
        name=branding.name,
        logo=_logo(session, branding.logo_sha256),
        files=files,
        vendor_settings=_settings(session, VendorSetting.branding_id == branding_id),
    )


def load_model(session: Session, model: str, vendor: str) -> ModelView:
    """The model's defaults; a model with no profile has no settings of its own."""
    profile = session.scalar(select(ModelProfile).where(ModelProfile.model == model))
    if profile is None:
        return ModelView(model=model, vendor=vendor)
    settings = _settings(session, VendorSetting.model_profile_id == profile.id)
    return ModelView(model=model, vendor=vendor, settings=settings.get(vendor, {}))


def _logo(session: Session, sha256: str | None) -> Image | None:
    if sha256 is None:
        return None
    blob = session.get(Blob, sha256)
    return Image(sha256=blob.sha256, content=blob.content) if blob else None


_KEY_COLUMNS = (Key.type, Key.value, Key.label, Key.line, Key.family, Key.slot)
"""What a :class:`KeyView` holds, in its field order."""


def _keys_by(session: Session, column, ids: Sequence[int]) -> dict[int, tuple[KeyView, ...]]:
    """The keys of each owner in ``ids`` (``column`` names the owner), in order."""
    found: dict[int, list[KeyView]] = defaultdict(list)
    rows = session.execute(
        select(column, *_KEY_COLUMNS).where(column.in_(ids)).order_by(Key.position)
    )
    for owner, *fields in rows:
        found[owner].append(KeyView(*fields))
    return {owner: tuple(views) for owner, views in found.items()}


def _settings_by(
    session: Session, column, ids: Sequence[int]
) -> dict[int, dict[str, dict[str, str]]]:
    """The vendor settings of each owner in ``ids``: owner -> vendor -> name -> value."""
    found: dict[int, dict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    rows = session.execute(
        select(column, VendorSetting.vendor, VendorSetting.name, VendorSetting.value)
        .where(column.in_(ids))
        .order_by(VendorSetting.id)
    )
    for owner, vendor, name, value in rows:
        found[owner][vendor][name] = value
    return {owner: dict(by_vendor) for owner, by_vendor in found.items()}


def _keys(session: Session, owner) -> tuple[KeyView, ...]:
    rows = session.execute(select(*_KEY_COLUMNS).where(owner).order_by(Key.position))
    return tuple(KeyView(*fields) for fields in rows)


def _settings(session: Session, owner) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = defaultdict(dict)
    rows = session.execute(
        select(VendorSetting.vendor, VendorSetting.name, VendorSetting.value)
        .where(owner)
        .order_by(VendorSetting.id)
    )
    for vendor, name, value in rows:
        result[vendor][name] = value
    return dict(result)

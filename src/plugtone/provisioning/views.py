"""Reading the store into the frozen views vendor plug-ins render from.

Plug-ins never see ORM objects: they get immutable snapshots, so a render cannot
change the store and can run in any thread.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

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
from plugtone.services.firmware_pins import phone_target
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


def load_phone(session: Session, mac: str, sites: dict | None = None) -> PhoneView | None:
    """The view of the phone with ``mac``, or ``None`` when it is not assigned.

    ``sites`` caches site views by id (and branding views by ``("branding", id)``): a
    site's view lists all its extensions (for directories), so building it once per
    site rather than once per phone is what keeps a cold boot storm of a 2,000-phone
    site from costing a query set per phone.
    The caller empties it whenever the inventory generation moves.
    """
    phone = session.scalar(select(Phone).where(Phone.mac == mac))
    if phone is None:
        return None
    site = sites.get(phone.site_id) if sites is not None else None
    if site is None:
        site = load_site(session, phone.site_id)
        if sites is not None:
            sites[phone.site_id] = site
    lines = []
    for assignment, extension in session.execute(
        select(LineAssignment, Extension)
        .join(Extension, Extension.id == LineAssignment.extension_id)
        .where(LineAssignment.phone_id == phone.id)
        .order_by(LineAssignment.index)
    ):
        lines.append(
            LineView(
                index=assignment.index,
                number=extension.number,
                name=extension.name,
                auth_user=extension.auth_user or extension.number,
                password=extension.password,
            )
        )
    keys = _keys(session, Key.phone_id == phone.id)
    phone_settings = _settings(session, VendorSetting.phone_id == phone.id).get(phone.vendor, {})
    model = load_model(session, phone.model, phone.vendor)
    branding_id = phone.branding_id or session.scalar(
        select(Site.branding_id).where(Site.id == phone.site_id)
    )
    branding = None
    if branding_id is not None:
        key = ("branding", branding_id)
        branding = sites.get(key) if sites is not None else None
        if branding is None:
            branding = load_branding(session, branding_id)
            if sites is not None:
                sites[key] = branding
    _, firmware = phone_target(session, phone)
    return PhoneView(
        mac=phone.mac,
        model=phone.model,
        vendor=phone.vendor,
        site=site,
        lines=tuple(lines),
        keys=keys,
        model_settings=dict(model.settings),
        phone_settings=phone_settings,
        description=phone.description,
        firmware=firmware,
        branding=branding,
    )


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
        keys=_keys(session, Key.site_id == site.id),
        directory=tuple(
            ContactView(name=contact.name, number=contact.number)
            for contact in session.scalars(
                select(DirectoryContact)
                .where(DirectoryContact.site_id == site.id)
                .order_by(DirectoryContact.position)
            )
        ),
        members=tuple(
            ContactView(name=extension.name or extension.number, number=extension.number)
            for extension in session.scalars(
                select(Extension).where(Extension.site_id == site.id).order_by(Extension.number)
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


def _keys(session: Session, owner) -> tuple[KeyView, ...]:
    return tuple(
        KeyView(
            type=key.type,
            value=key.value,
            label=key.label,
            line=key.line,
            family=key.family,
            slot=key.slot,
        )
        for key in session.scalars(select(Key).where(owner).order_by(Key.position))
    )


def _settings(session: Session, owner) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = defaultdict(dict)
    for row in session.scalars(select(VendorSetting).where(owner).order_by(VendorSetting.id)):
        result[row.vendor][row.name] = row.value
    return dict(result)

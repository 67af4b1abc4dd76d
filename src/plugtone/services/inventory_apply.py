"""Applying an inventory document to the store, idempotently, in one transaction.

Each entry in the file fully describes its object (a field left out takes its
default), keyed by its natural key: site name, site/number for extensions, MAC for
phones, model name for model defaults. Objects in the store that the file does not
mention are kept, unless ``prune`` is set. The function returns the list of changes
it made; a dry run is the same call followed by a rollback, so what ``--dry-run``
prints is exactly what a real apply would do.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from plugtone.inventory.document import (
    BrandingSpec,
    Document,
    ExtensionSpec,
    KeySpec,
    PhoneSpec,
    PinSpec,
    Problem,
    SiteSpec,
)
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
from plugtone.inventory.store import bump_generation, lock_inventory
from plugtone.services import firmware_pins
from plugtone.vendors import VendorRegistry

SITE_FIELDS = (
    "sip_server", "sip_port", "sip_transport", "timezone", "ntp_servers", "dial_plan",
    "digit_timeout", "voicemail", "conference", "dtmf_method", "registration_period",
    "codecs", "config_server", "resync_time", "nat", "public_url", "ftp_user", "ftp_password",
)  # fmt: skip
SECRET_FIELDS = ("password", "ftp_password")


class ApplyRefused(ValueError):
    """The document cannot be applied; nothing was changed."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


@dataclass
class Change:
    action: str  # create | update | delete
    kind: str  # site | extension | phone | model
    key: str
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.action} {self.kind} {self.key}"
        return f"{text}: {'; '.join(self.details)}" if self.details else text


@dataclass
class ApplyResult:
    changes: list[Change]
    generation: int | None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def apply_document(
    session: Session,
    document: Document,
    *,
    prune: bool = False,
    registry: VendorRegistry | None = None,
) -> ApplyResult:
    """Make the store match ``document``; raise :class:`ApplyRefused` on any problem.

    The caller owns the transaction: commit to keep the result, roll back for a dry
    run. On ``ApplyRefused`` the caller must roll back. ``registry`` is needed to
    check firmware pins against the plug-ins' downgrade floors.
    """
    lock_inventory(session)
    applier = _Applier(session, document, prune)
    applier.check_references()
    if applier.problems:
        raise ApplyRefused(applier.problems)
    applier.apply()
    applier.check_assignments()
    if applier.problems:
        raise ApplyRefused(applier.problems)
    for where, message in firmware_pins.settle(session, registry, applier.pin_places):
        applier.problems.append(Problem(where, message))
    if applier.problems:
        raise ApplyRefused(applier.problems)
    generation = bump_generation(session) if applier.changes else None
    return ApplyResult(applier.changes, generation)


class _Applier:
    def __init__(self, session: Session, document: Document, prune: bool) -> None:
        self.session = session
        self.document = document
        self.prune = prune
        self.problems: list[Problem] = []
        self.changes: list[Change] = []
        self.sites = {site.name: site for site in session.scalars(select(Site))}
        site_names = {site.id: site.name for site in self.sites.values()}
        self.extensions = {
            (site_names[ext.site_id], ext.number): ext for ext in session.scalars(select(Extension))
        }
        self.phones = {phone.mac: phone for phone in session.scalars(select(Phone))}
        self.models = {profile.model: profile for profile in session.scalars(select(ModelProfile))}
        self.brandings = {item.name: item for item in session.scalars(select(BrandingSet))}
        self.pin_places: dict[tuple[str, int, str | None], str] = {}

    # -- checks

    def check_references(self) -> None:
        doc = self.document
        file_users = {site.ftp_user: site.name for site in doc.sites if site.ftp_user}
        for name, site in self.sites.items():
            claimed = file_users.get(site.ftp_user) if site.ftp_user else None
            if claimed and claimed != name and name not in {s.name for s in doc.sites}:
                where = next(s.where for s in doc.sites if s.name == claimed)
                self.problems.append(
                    Problem(where, f"FTP user {site.ftp_user!r} already belongs to site {name!r}")
                )
        for branding in doc.branding:
            logo = branding.logo
            if (
                logo is not None
                and logo.content is None
                and self.session.get(Blob, logo.sha256) is None
            ):
                self.problems.append(Problem(logo.where, f"no stored image sha256:{logo.sha256}"))
            for item in branding.files:
                if item.content is None and self.session.get(Blob, item.sha256) is None:
                    self.problems.append(
                        Problem(item.where, f"no stored file sha256:{item.sha256} ({item.name})")
                    )
        file_brandings = {branding.name for branding in doc.branding}
        known_brandings = file_brandings if self.prune else file_brandings | set(self.brandings)
        for owner in (*doc.sites, *doc.phones):
            if owner.branding and owner.branding not in known_brandings:
                self.problems.append(
                    Problem(owner.where, f"unknown branding set {owner.branding!r}")
                )
        file_sites = {site.name for site in doc.sites}
        known_sites = file_sites if self.prune else file_sites | set(self.sites)
        file_extensions = {(ext.site, ext.number) for ext in doc.extensions}
        known_extensions = file_extensions if self.prune else file_extensions | set(self.extensions)
        for ext in doc.extensions:
            if ext.site not in known_sites:
                self.problems.append(
                    Problem(ext.where, f"extension {ext.number}: unknown site {ext.site!r}")
                )
        for phone in doc.phones:
            if phone.site not in known_sites:
                self.problems.append(
                    Problem(phone.where, f"phone {phone.mac}: unknown site {phone.site!r}")
                )
            for line in phone.lines:
                site = line.site or phone.site
                if (site, line.number) not in known_extensions:
                    self.problems.append(
                        Problem(
                            line.where,
                            f"line {line.index}: no extension {line.number!r} in site {site!r}",
                        )
                    )

    def check_assignments(self) -> None:
        """An extension not marked ``shared`` may sit on one line of one phone only."""
        self.session.flush()
        rows = self.session.execute(
            select(Extension.id, func.count(LineAssignment.id))
            .join(LineAssignment, LineAssignment.extension_id == Extension.id)
            .where(Extension.shared.is_(False))
            .group_by(Extension.id)
            .having(func.count(LineAssignment.id) > 1)
        ).all()
        if not rows:
            return
        places: dict[int, list[str]] = defaultdict(list)
        for extension_id, mac, index in self.session.execute(
            select(LineAssignment.extension_id, Phone.mac, LineAssignment.index)
            .join(Phone, Phone.id == LineAssignment.phone_id)
            .where(LineAssignment.extension_id.in_([row[0] for row in rows]))
            .order_by(Phone.mac, LineAssignment.index)
        ):
            places[extension_id].append(f"{mac} line {index}")
        where = {spec.mac: spec.where for spec in self.document.phones}
        for extension_id, _count in rows:
            extension = self.session.get(Extension, extension_id)
            assert extension is not None
            on = places[extension_id]
            location = next((where[p.split()[0]] for p in on if p.split()[0] in where), "inventory")
            self.problems.append(
                Problem(
                    location,
                    f"extension {extension.site.name}/{extension.number} is on {', '.join(on)}; "
                    "an extension may be on one line of one phone unless it is marked shared: true",
                )
            )

    # -- writes

    def apply(self) -> None:
        for spec in self.document.branding:
            self.apply_branding(spec)
        self.session.flush()
        for spec in self.document.sites:
            self.apply_site(spec)
        self.session.flush()
        for spec in self.document.extensions:
            self.apply_extension(spec)
        for spec in self.document.models:
            self.apply_model(spec.model, spec.vendor, spec.vendor_settings, spec.firmware)
        self.session.flush()
        if self.prune:
            self.prune_phones()
        for spec in self.document.phones:
            self.apply_phone(spec)
        self.session.flush()
        if self.prune:
            self.prune_rest()

    def record(self, action: str, kind: str, key: str, details: list[str] | None = None) -> None:
        self.changes.append(Change(action, kind, key, details or []))

    def apply_site(self, spec: SiteSpec) -> None:
        site = self.sites.get(spec.name)
        wanted = {name: getattr(spec, name) for name in SITE_FIELDS}
        if site is None:
            site = Site(name=spec.name, **wanted)
            self.session.add(site)
            self.session.flush()
            self.sites[spec.name] = site
            self.record("create", "site", spec.name)
            diffs: list[str] = []
        else:
            diffs = _set_fields(site, wanted)
        wanted_branding = self.brandings[spec.branding].id if spec.branding else None
        if site.branding_id != wanted_branding:
            site.branding_id = wanted_branding
            diffs.append(f"branding -> {spec.branding or 'none'}")
        diffs += self.replace_pins("site_id", site.id, spec.firmware)
        diffs += self.replace_directory(site, spec)
        diffs += self.replace_keys(site_id=site.id, phone_id=None, keys=spec.keys)
        for vendor in sorted(set(spec.vendor_settings) | set(self._site_vendors(site.id))):
            diffs += self.replace_settings(
                {"site_id": site.id}, vendor, spec.vendor_settings.get(vendor, {})
            )
        if diffs and not any(c.kind == "site" and c.key == spec.name for c in self.changes):
            self.record("update", "site", spec.name, diffs)

    def store_blob(self, sha256: str, content: bytes | None, media_type: str) -> None:
        """Keep content once, by hash (a reference by hash must already be stored)."""
        if content is not None and self.session.get(Blob, sha256) is None:
            self.session.add(
                Blob(sha256=sha256, media_type=media_type, size=len(content), content=content)
            )
            self.session.flush()

    def apply_branding(self, spec: BrandingSpec) -> None:
        branding = self.brandings.get(spec.name)
        created = branding is None
        if branding is None:
            branding = BrandingSet(name=spec.name)
            self.session.add(branding)
            self.session.flush()
            self.brandings[spec.name] = branding
        diffs: list[str] = []
        logo = spec.logo
        wanted = logo.sha256 if logo else None
        if logo is not None:
            self.store_blob(logo.sha256, logo.content, logo.media_type)
        if branding.logo_sha256 != wanted:
            branding.logo_sha256 = wanted
            diffs.append(f"logo -> {'sha256:' + wanted[:12] if wanted else 'none'}")
        rows = list(
            self.session.scalars(
                select(BrandingFile)
                .where(BrandingFile.branding_id == branding.id)
                .order_by(BrandingFile.position)
            )
        )
        if [(row.name, row.sha256) for row in rows] != [(f.name, f.sha256) for f in spec.files]:
            for row in rows:
                self.session.delete(row)
            self.session.flush()
            for position, item in enumerate(spec.files, start=1):
                self.store_blob(item.sha256, item.content, item.media_type)
                self.session.add(
                    BrandingFile(
                        branding_id=branding.id, position=position, name=item.name,
                        sha256=item.sha256,
                    )
                )  # fmt: skip
            diffs.append(f"files -> {', '.join(f.name for f in spec.files) or 'none'}")
        vendors = set(
            self.session.scalars(
                select(VendorSetting.vendor)
                .where(VendorSetting.branding_id == branding.id)
                .distinct()
            )
        )
        for vendor in sorted(vendors | set(spec.vendor_settings)):
            diffs += self.replace_settings(
                {"branding_id": branding.id}, vendor, spec.vendor_settings.get(vendor, {})
            )
        if created:
            self.record("create", "branding", spec.name)
        elif diffs:
            self.record("update", "branding", spec.name, diffs)

    def replace_pins(self, column: str, owner_id: int, specs: list[PinSpec]) -> list[str]:
        for spec in specs:
            self.pin_places[(column, owner_id, spec.applies_to)] = spec.where
        return firmware_pins.replace_pins(self.session, column, owner_id, specs)

    def replace_directory(self, site: Site, spec: SiteSpec) -> list[str]:
        rows = list(
            self.session.scalars(
                select(DirectoryContact)
                .where(DirectoryContact.site_id == site.id)
                .order_by(DirectoryContact.position)
            )
        )
        current = [(row.name, row.number) for row in rows]
        wanted = [(contact.name, contact.number) for contact in spec.directory]
        if current == wanted:
            return []
        for row in rows:
            self.session.delete(row)
        self.session.flush()
        for position, (name, number) in enumerate(wanted, start=1):
            self.session.add(
                DirectoryContact(site_id=site.id, position=position, name=name, number=number)
            )
        return [f"directory -> {len(wanted)} contact(s)"]

    def _site_vendors(self, site_id: int) -> list[str]:
        return list(
            self.session.scalars(
                select(VendorSetting.vendor).where(VendorSetting.site_id == site_id).distinct()
            )
        )

    def apply_extension(self, spec: ExtensionSpec) -> None:
        key = (spec.site, spec.number)
        wanted = {
            "name": spec.name,
            "auth_user": spec.auth_user,
            "password": spec.password,
            "shared": spec.shared,
        }
        extension = self.extensions.get(key)
        site = self.sites[spec.site]
        if extension is None:
            extension = Extension(site_id=site.id, number=spec.number, **wanted)
            self.session.add(extension)
            self.extensions[key] = extension
            self.record("create", "extension", f"{spec.site}/{spec.number}")
            return
        diffs = _set_fields(extension, wanted)
        if diffs:
            self.record("update", "extension", f"{spec.site}/{spec.number}", diffs)

    def apply_model(
        self, model: str, vendor: str, settings: dict[str, str], pin: PinSpec | None = None
    ) -> None:
        profile = self.models.get(model)
        pins = [pin] if pin else []
        if profile is None:
            profile = ModelProfile(model=model, vendor=vendor)
            self.session.add(profile)
            self.session.flush()
            self.models[model] = profile
            self.replace_settings({"model_profile_id": profile.id}, vendor, settings)
            self.replace_pins("model_profile_id", profile.id, pins)
            self.record("create", "model", model)
            return
        diffs = self.replace_settings({"model_profile_id": profile.id}, vendor, settings)
        diffs += self.replace_pins("model_profile_id", profile.id, pins)
        if diffs:
            self.record("update", "model", model, diffs)

    def apply_phone(self, spec: PhoneSpec) -> None:
        site = self.sites[spec.site]
        phone = self.phones.get(spec.mac)
        created = phone is None
        if phone is None:
            phone = Phone(
                mac=spec.mac, model=spec.model, vendor=spec.vendor, site_id=site.id,
                description=spec.description,
            )  # fmt: skip
            self.session.add(phone)
            self.session.flush()
            self.phones[spec.mac] = phone
            diffs: list[str] = []
        else:
            diffs = _set_fields(
                phone,
                {"model": spec.model, "vendor": spec.vendor, "site_id": site.id,
                 "description": spec.description},
            )  # fmt: skip
        diffs += self.replace_lines(phone, spec)
        diffs += self.replace_keys(site_id=None, phone_id=phone.id, keys=spec.keys)
        wanted_branding = self.brandings[spec.branding].id if spec.branding else None
        if phone.branding_id != wanted_branding:
            phone.branding_id = wanted_branding
            diffs.append(f"branding -> {spec.branding or 'none'}")
        diffs += self.replace_pins("phone_id", phone.id, [spec.firmware] if spec.firmware else [])
        old_vendors = set(
            self.session.scalars(
                select(VendorSetting.vendor).where(VendorSetting.phone_id == phone.id).distinct()
            )
        )
        for vendor in sorted(old_vendors | {spec.vendor}):
            settings = spec.vendor_settings if vendor == spec.vendor else {}
            diffs += self.replace_settings({"phone_id": phone.id}, vendor, settings)
        if created:
            self.record("create", "phone", spec.mac, [f"{spec.model} at {spec.site}"])
        elif diffs:
            self.record("update", "phone", spec.mac, diffs)

    def replace_lines(self, phone: Phone, spec: PhoneSpec) -> list[str]:
        current = {
            assignment.index: assignment.extension_id
            for assignment in self.session.scalars(
                select(LineAssignment).where(LineAssignment.phone_id == phone.id)
            )
        }
        wanted = {}
        for line in spec.lines:
            extension = self.extensions[(line.site or spec.site, line.number)]
            if extension.id is None:
                self.session.flush()
            wanted[line.index] = extension.id
        if current == wanted:
            return []
        self.session.execute(delete(LineAssignment).where(LineAssignment.phone_id == phone.id))
        for index, extension_id in sorted(wanted.items()):
            self.session.add(
                LineAssignment(phone_id=phone.id, index=index, extension_id=extension_id)
            )
        names = {ext.id: f"{site}/{number}" for (site, number), ext in self.extensions.items()}
        shown = ", ".join(f"{i}={names.get(e, e)}" for i, e in sorted(wanted.items())) or "none"
        return [f"lines -> {shown}"]

    def replace_keys(
        self, *, site_id: int | None, phone_id: int | None, keys: list[KeySpec]
    ) -> list[str]:
        owner = Key.site_id == site_id if site_id is not None else Key.phone_id == phone_id
        current = [
            _key_tuple(key)
            for key in self.session.scalars(select(Key).where(owner).order_by(Key.position))
        ]
        wanted = [(k.type, k.value, k.label, k.line, k.family, k.slot) for k in keys]
        if current == wanted:
            return []
        self.session.execute(delete(Key).where(owner))
        for position, key in enumerate(keys, start=1):
            self.session.add(
                Key(
                    site_id=site_id, phone_id=phone_id, position=position, type=key.type,
                    value=key.value, label=key.label, line=key.line, family=key.family,
                    slot=key.slot,
                )
            )  # fmt: skip
        return [f"keys -> {len(keys)} key(s)"]

    def replace_settings(
        self, owner: dict[str, int], vendor: str, wanted: dict[str, str]
    ) -> list[str]:
        column, owner_id = next(iter(owner.items()))
        condition = (getattr(VendorSetting, column) == owner_id) & (VendorSetting.vendor == vendor)
        rows = list(self.session.scalars(select(VendorSetting).where(condition)))
        current = {row.name: row.value for row in rows}
        if current == wanted:
            return []
        diffs = []
        by_name = {row.name: row for row in rows}
        for name in sorted(set(current) | set(wanted)):
            if name not in wanted:
                self.session.delete(by_name[name])
                diffs.append(f"{vendor} {name!r} removed")
            elif name not in current:
                self.session.add(
                    VendorSetting(vendor=vendor, name=name, value=wanted[name], **owner)
                )
                diffs.append(f"{vendor} {name!r} = {wanted[name]!r}")
            elif current[name] != wanted[name]:
                by_name[name].value = wanted[name]
                diffs.append(f"{vendor} {name!r}: {current[name]!r} -> {wanted[name]!r}")
        return diffs

    # -- pruning

    def prune_phones(self) -> None:
        keep = {spec.mac for spec in self.document.phones}
        for mac, phone in sorted(self.phones.items()):
            if mac not in keep:
                self.session.delete(phone)
                del self.phones[mac]
                self.record("delete", "phone", mac)
        self.session.flush()

    def prune_rest(self) -> None:
        keep_ext = {(spec.site, spec.number) for spec in self.document.extensions}
        for key, extension in sorted(self.extensions.items()):
            if key not in keep_ext:
                self.session.delete(extension)
                self.record("delete", "extension", "/".join(key))
        keep_models = {spec.model for spec in self.document.models}
        for model, profile in sorted(self.models.items()):
            if model not in keep_models:
                self.session.delete(profile)
                self.record("delete", "model", model)
        self.session.flush()
        keep_sites = {spec.name for spec in self.document.sites}
        for name, site in sorted(self.sites.items()):
            if name not in keep_sites:
                self.session.delete(site)
                self.record("delete", "site", name)
        self.session.flush()
        keep_brandings = {spec.name for spec in self.document.branding}
        for name, branding in sorted(self.brandings.items()):
            if name not in keep_brandings:
                self.session.delete(branding)
                self.record("delete", "branding", name)
        self.session.flush()


def _set_fields(entity: Any, wanted: dict[str, Any]) -> list[str]:
    diffs = []
    for name, value in wanted.items():
        old = getattr(entity, name)
        if old != value:
            setattr(entity, name, value)
            if name in SECRET_FIELDS:
                diffs.append(f"{name} changed")
            else:
                diffs.append(f"{name}: {old!r} -> {value!r}")
    return diffs


def _key_tuple(key: Key) -> tuple:
    return (key.type, key.value, key.label, key.line, key.family, key.slot)

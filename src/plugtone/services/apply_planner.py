"""Planning an apply: the document compared with the snapshot, in memory.

Each entry fully describes its object, so planning it means comparing every field
and every owned row (lines, keys, raw settings, contacts, files, pins) with what is
stored, and listing the row writes that make them equal (:class:`RowWrites`) and the
:class:`Change` each object undergoes. Rows of objects the plan creates refer to
them by :class:`Ref` until their ids exist. The wording of ``details`` is the one
``plugtone apply`` has always printed.
"""

from __future__ import annotations

from typing import Any

from plugtone.inventory.document import (
    BrandingSpec,
    ExtensionSpec,
    ModelDefaultsSpec,
    PhoneSpec,
    SiteSpec,
)
from plugtone.services.apply_changes import (
    action_for,
    branding_fields,
    contact_count,
    contact_fields,
    diff_fields,
    key_tuple,
    masked,
    nonempty_settings,
    phone_fields,
    setting_values,
    site_fields,
)
from plugtone.services.apply_rows import RowPlanner
from plugtone.services.apply_snapshot import SITE_COLUMNS, ExtensionKey, KeyTuple
from plugtone.services.apply_writes import Ref

SITE_FIELDS = SITE_COLUMNS


class Planner(RowPlanner):
    """Compares the document with the snapshot, entry by entry."""

    # -- planning

    def plan(self) -> None:
        for spec in self.document.branding:
            self.plan_branding(spec)
        for spec in self.document.sites:
            self.plan_site(spec)
        for spec in self.document.extensions:
            self.plan_extension(spec)
        for spec in self.document.models:
            self.plan_model(spec)
        if self.prune:
            self.prune_phones()
        for spec in self.document.phones:
            self.plan_phone(spec)
        if self.prune:
            self.prune_rest()
        if self.released_logins:
            # Logins are unique and the phones' updates run one row after another: a
            # login moving from one phone to another (or two phones swapping theirs)
            # would collide mid-way, so the phones giving theirs up let go first.
            released = [{"id": row_id, "http_user": None} for row_id in self.released_logins]
            self.writes.updates["phones"][:0] = released

    def plan_site(self, spec: SiteSpec) -> None:
        row = self.snap.sites.get(spec.name)
        wanted = {name: getattr(spec, name) for name in SITE_FIELDS}
        branding_id = self.branding_id(spec.branding)
        owner: int | Ref
        if row is None:
            owner = Ref("site", spec.name)
            self.writes.insert(
                "sites", {"name": spec.name, **wanted, "branding_id": branding_id}, spec.name
            )
            before_keys: list[KeyTuple] = []
            before_settings: dict[str, dict[str, tuple[int, str]]] = {}
            diffs: list[str] = []
        else:
            owner = row.id
            before_keys = self.snap.keys.get(("site_id", row.id), [])
            before_settings = self.snap.settings.get(("site_id", row.id), {})
            diffs = diff_fields({name: getattr(row, name) for name in SITE_FIELDS}, wanted)
            if row.branding_id != branding_id:
                diffs.append(f"branding -> {spec.branding or 'none'}")
            if diffs:
                self.writes.updates["sites"].append(
                    {"id": row.id, **wanted, "branding_id": branding_id}
                )
        diffs += self.replace_keys(
            ("site_id", owner), before_keys, [key_tuple(key) for key in spec.keys]
        )
        for vendor in sorted(set(spec.vendor_settings) | set(before_settings)):
            diffs += self.replace_settings(
                ("site_id", owner),
                vendor,
                before_settings.get(vendor, {}),
                spec.vendor_settings.get(vendor, {}),
            )
        after = site_fields(
            wanted, spec.branding, [key_tuple(k) for k in spec.keys], spec.vendor_settings
        )
        if row is None:
            self.record("create", "site", spec.name, after=after)
        elif diffs:
            before = site_fields(
                {name: getattr(row, name) for name in SITE_FIELDS},
                self.snap.branding_names.get(row.branding_id) if row.branding_id else None,
                before_keys,
                setting_values(before_settings),
            )
            self.record("update", "site", spec.name, diffs, before, after)
        self.replace_directory(spec, owner, row)
        current = self.snap.pins.get(("site_id", row.id), {}) if row is not None else {}
        self.replace_pins("site_id", owner, f"site {spec.name}", current, spec.firmware)

    def replace_directory(self, spec: SiteSpec, owner: int | Ref, row: Any) -> None:
        current = self.snap.directory.get(row.id, []) if row is not None else []
        wanted = [(contact.name, contact.number) for contact in spec.directory]
        if current == wanted:
            return
        if row is not None and current:
            self.writes.owner_deletes[("directory_contacts", "site_id")].append(row.id)
        for position, (name, number) in enumerate(wanted, start=1):
            self.writes.insert(
                "directory_contacts",
                {"site_id": owner, "position": position, "name": name, "number": number},
            )
        self.record(
            action_for(current, wanted),
            "directory",
            spec.name,
            [contact_count(current, wanted)],
            contact_fields(current),
            contact_fields(wanted),
        )

    # brandings

    def plan_branding(self, spec: BrandingSpec) -> None:
        row = self.snap.brandings.get(spec.name)
        logo = spec.logo
        wanted_logo = logo.sha256 if logo else None
        if logo is not None:
            self.store_blob(logo.sha256, logo.content, logo.media_type)
        for item in spec.files:
            self.store_blob(item.sha256, item.content, item.media_type)
        wanted_files = [(item.name, item.sha256) for item in spec.files]
        owner: int | Ref
        diffs: list[str] = []
        if row is None:
            owner = Ref("branding", spec.name)
            self.writes.insert(
                "branding_sets", {"name": spec.name, "logo_sha256": wanted_logo}, spec.name
            )
            current_files: list[tuple[str, str]] = []
            current_settings: dict[str, dict[str, tuple[int, str]]] = {}
        else:
            owner = row.id
            current_files = self.snap.branding_files.get(row.id, [])
            current_settings = self.snap.settings.get(("branding_id", row.id), {})
            if row.logo_sha256 != wanted_logo:
                self.writes.updates["branding_sets"].append(
                    {"id": row.id, "logo_sha256": wanted_logo}
                )
                shown = "sha256:" + wanted_logo[:12] if wanted_logo else "none"
                diffs.append(f"logo -> {shown}")
        if current_files != wanted_files:
            if row is not None and current_files:
                self.writes.owner_deletes[("branding_files", "branding_id")].append(row.id)
            for position, (name, sha256) in enumerate(wanted_files, start=1):
                self.writes.insert(
                    "branding_files",
                    {"branding_id": owner, "position": position, "name": name, "sha256": sha256},
                )
            diffs.append(f"files -> {', '.join(name for name, _ in wanted_files) or 'none'}")
        for vendor in sorted(set(current_settings) | set(spec.vendor_settings)):
            diffs += self.replace_settings(
                ("branding_id", owner),
                vendor,
                current_settings.get(vendor, {}),
                spec.vendor_settings.get(vendor, {}),
            )
        after = branding_fields(wanted_logo, wanted_files, spec.vendor_settings)
        if row is None:
            self.record("create", "branding", spec.name, after=after)
        elif diffs:
            before = branding_fields(
                row.logo_sha256, current_files, setting_values(current_settings)
            )
            self.record("update", "branding", spec.name, diffs, before, after)

    def plan_extension(self, spec: ExtensionSpec) -> None:
        key = (spec.site, spec.number)
        wanted = {
            "name": spec.name,
            "auth_user": spec.auth_user,
            "password": spec.password,
            "shared": spec.shared,
        }
        row = self.snap.extensions.get(key)
        label = f"{spec.site}/{spec.number}"
        if row is None:
            self.writes.insert(
                "extensions",
                {"site_id": self.site_id(spec.site), "number": spec.number, **wanted},
                key,
            )
            self.record("create", "extension", label, after=masked(wanted))
            return
        current = {name: getattr(row, name) for name in wanted}
        diffs = diff_fields(current, wanted)
        if diffs:
            self.writes.updates["extensions"].append({"id": row.id, **wanted})
            self.record("update", "extension", label, diffs, masked(current), masked(wanted))

    def plan_model(self, spec: ModelDefaultsSpec) -> None:
        row = self.snap.models.get(spec.model)
        pins = [spec.firmware] if spec.firmware else []
        if row is None:
            owner: int | Ref = Ref("model", spec.model)
            self.writes.insert(
                "model_profiles", {"model": spec.model, "vendor": spec.vendor}, spec.model
            )
            self.replace_settings(
                ("model_profile_id", owner), spec.vendor, {}, spec.vendor_settings
            )
            after = {
                "vendor": spec.vendor,
                "vendor_settings": nonempty_settings({spec.vendor: spec.vendor_settings}),
            }
            self.record("create", "model", spec.model, after=after)
            self.replace_pins("model_profile_id", owner, f"model {spec.model}", {}, pins)
            return
        settings = self.snap.settings.get(("model_profile_id", row.id), {})
        diffs = self.replace_settings(
            ("model_profile_id", row.id),
            spec.vendor,
            settings.get(spec.vendor, {}),
            spec.vendor_settings,
        )
        if diffs:
            before_values = setting_values(settings)
            after_values = {**before_values, spec.vendor: dict(spec.vendor_settings)}
            self.record(
                "update",
                "model",
                spec.model,
                diffs,
                {"vendor": row.vendor, "vendor_settings": before_values},
                {"vendor": row.vendor, "vendor_settings": nonempty_settings(after_values)},
            )
        current = self.snap.pins.get(("model_profile_id", row.id), {})
        self.replace_pins("model_profile_id", row.id, f"model {spec.model}", current, pins)

    # phones

    def plan_phone(self, spec: PhoneSpec) -> None:
        row = self.snap.phones.get(spec.mac)
        lines = {line.index: (line.site or spec.site, line.number) for line in spec.lines}
        keys = [key_tuple(key) for key in spec.keys]
        fields = dict(
            model=spec.model,
            vendor=spec.vendor,
            site_id=self.site_id(spec.site),
            description=spec.description,
            branding_id=self.branding_id(spec.branding),
            http_user=spec.http_user,
            http_password=spec.http_password,
        )
        if row is None:
            owner: int | Ref = Ref("phone", spec.mac)
            self.writes.insert("phones", {"mac": spec.mac, **fields}, spec.mac)
            self.replace_lines(owner, False, {}, lines)
            self.replace_keys(("phone_id", owner), [], keys)
            self.replace_settings(("phone_id", owner), spec.vendor, {}, spec.vendor_settings)
            self.record(
                "create",
                "phone",
                spec.mac,
                [f"{spec.model} at {spec.site}"],
                after=self.phone_after(spec, lines, keys),
            )
            pin = [spec.firmware] if spec.firmware else []
            self.replace_pins("phone_id", owner, f"phone {spec.mac}", {}, pin)
            return
        site = self.snap.site_names[row.site_id]
        current_lines = self.snap.lines.get(row.id, {})
        current_keys = self.snap.keys.get(("phone_id", row.id), [])
        current_settings = self.snap.settings.get(("phone_id", row.id), {})
        diffs = []
        stored = (row.model, row.vendor, site, row.description, row.http_user, row.http_password)
        if stored != (
            spec.model,
            spec.vendor,
            spec.site,
            spec.description,
            spec.http_user,
            spec.http_password,
        ):
            diffs = diff_fields(
                dict(model=row.model, vendor=row.vendor, site=site, description=row.description,
                     http_user=row.http_user, http_password=row.http_password),
                dict(
                    model=spec.model,
                    vendor=spec.vendor,
                    site=spec.site,
                    description=spec.description,
                    http_user=spec.http_user,
                    http_password=spec.http_password,
                ),
            )  # fmt: skip
            if row.http_user is not None and row.http_user != spec.http_user:
                self.released_logins.append(row.id)
        diffs += self.replace_lines(row.id, bool(current_lines), current_lines, lines)
        diffs += self.replace_keys(("phone_id", row.id), current_keys, keys)
        if row.branding_id != fields["branding_id"]:
            diffs.append(f"branding -> {spec.branding or 'none'}")
        if (row.model, row.vendor, row.site_id, row.description, row.branding_id,
                row.http_user, row.http_password) != tuple(fields.values()):  # fmt: skip
            self.writes.updates["phones"].append({"id": row.id, **fields})
        for vendor in sorted(set(current_settings) | {spec.vendor}):
            wanted = spec.vendor_settings if vendor == spec.vendor else {}
            diffs += self.replace_settings(
                ("phone_id", row.id), vendor, current_settings.get(vendor, {}), wanted
            )
        if diffs:
            branding = self.snap.branding_names.get(row.branding_id) if row.branding_id else None
            before = phone_fields(
                row.model,
                row.vendor,
                site,
                row.description,
                branding,
                current_lines,
                current_keys,
                setting_values(current_settings),
                row.http_user,
                row.http_password,
            )
            after = self.phone_after(spec, lines, keys)
            self.record("update", "phone", spec.mac, diffs, before, after)
        current_pins = self.snap.pins.get(("phone_id", row.id), {})
        pin = [spec.firmware] if spec.firmware else []
        self.replace_pins("phone_id", row.id, f"phone {spec.mac}", current_pins, pin)

    @staticmethod
    def phone_after(
        spec: PhoneSpec, lines: dict[int, ExtensionKey], keys: list[KeyTuple]
    ) -> dict[str, Any]:
        settings = {spec.vendor: spec.vendor_settings} if spec.vendor_settings else {}
        return phone_fields(
            spec.model,
            spec.vendor,
            spec.site,
            spec.description,
            spec.branding,
            lines,
            keys,
            settings,
            spec.http_user,
            spec.http_password,
        )

    # -- pruning

    def prune_phones(self) -> None:
        keep = {spec.mac for spec in self.document.phones}
        for mac, row in sorted(self.snap.phones.items()):
            if mac in keep:
                continue
            self.writes.deletes["phones"].append(row.id)
            before = phone_fields(
                row.model,
                row.vendor,
                self.snap.site_names[row.site_id],
                row.description,
                self.snap.branding_names.get(row.branding_id) if row.branding_id else None,
                self.snap.lines.get(row.id, {}),
                self.snap.keys.get(("phone_id", row.id), []),
                setting_values(self.snap.settings.get(("phone_id", row.id), {})),
                row.http_user,
                row.http_password,
            )
            self.record("delete", "phone", mac, before=before)
            self.pins_gone(("phone_id", row.id), f"phone {mac}")

    def prune_rest(self) -> None:
        doc = self.document
        keep_extensions = {(spec.site, spec.number) for spec in doc.extensions}
        for key, row in sorted(self.snap.extensions.items()):
            if key not in keep_extensions:
                self.writes.pruned["extensions"].append(row.id)
                before = {
                    name: getattr(row, name) for name in ("name", "auth_user", "password", "shared")
                }
                self.record("delete", "extension", "/".join(key), before=masked(before))
        keep_models = {spec.model for spec in doc.models}
        for model, row in sorted(self.snap.models.items()):
            if model not in keep_models:
                self.writes.pruned["model_profiles"].append(row.id)
                settings = setting_values(self.snap.settings.get(("model_profile_id", row.id), {}))
                self.record(
                    "delete",
                    "model",
                    model,
                    before={"vendor": row.vendor, "vendor_settings": settings},
                )
                self.pins_gone(("model_profile_id", row.id), f"model {model}")
        keep_sites = {spec.name for spec in doc.sites}
        for name, row in sorted(self.snap.sites.items()):
            if name in keep_sites:
                continue
            self.writes.pruned["sites"].append(row.id)
            before = site_fields(
                {field: getattr(row, field) for field in SITE_FIELDS},
                self.snap.branding_names.get(row.branding_id) if row.branding_id else None,
                self.snap.keys.get(("site_id", row.id), []),
                setting_values(self.snap.settings.get(("site_id", row.id), {})),
            )
            self.record("delete", "site", name, before=before)
            contacts = self.snap.directory.get(row.id, [])
            if contacts:
                self.record(
                    "delete",
                    "directory",
                    name,
                    [contact_count(contacts, [])],
                    contact_fields(contacts),
                )
            self.pins_gone(("site_id", row.id), f"site {name}")
        keep_brandings = {spec.name for spec in doc.branding}
        for name, row in sorted(self.snap.brandings.items()):
            if name not in keep_brandings:
                self.writes.pruned["branding_sets"].append(row.id)
                before = branding_fields(
                    row.logo_sha256,
                    self.snap.branding_files.get(row.id, []),
                    setting_values(self.snap.settings.get(("branding_id", row.id), {})),
                )
                self.record("delete", "branding", name, before=before)

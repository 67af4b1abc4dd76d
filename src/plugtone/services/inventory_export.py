"""Writing the store back out in the inventory file format.

``export`` followed by ``apply`` of its output changes nothing: every field the
file format knows is written, in the same shape ``parse_document`` reads.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import yaml
from sqlalchemy import select
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
from plugtone.macaddr import colon_mac

SITE_DEFAULTS: dict[str, Any] = {
    "sip_transport": "udp",
    "timezone": "UTC",
    "dtmf_method": "rfc2833",
    "registration_period": 3600,
}


def export_document(session: Session) -> dict[str, Any]:
    """The whole inventory as plain data in the inventory file's shape."""
    sites = {site.id: site for site in session.scalars(select(Site).order_by(Site.name))}
    settings: dict[tuple[str, int], dict[str, dict[str, str]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row in session.scalars(select(VendorSetting).order_by(VendorSetting.name)):
        if row.site_id is not None:
            owner = ("site", row.site_id)
        elif row.model_profile_id is not None:
            owner = ("model", row.model_profile_id)
        elif row.branding_id is not None:
            owner = ("branding", row.branding_id)
        else:
            owner = ("phone", row.phone_id)
        settings[owner][row.vendor][row.name] = row.value
    keys: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for key in session.scalars(select(Key).order_by(Key.position)):
        owner = ("site", key.site_id) if key.site_id is not None else ("phone", key.phone_id)
        keys[owner].append(_key(key))

    pins: dict[tuple[str, int], list[FirmwarePin]] = defaultdict(list)
    for pin in session.scalars(select(FirmwarePin).order_by(FirmwarePin.id)):
        if pin.phone_id is not None:
            pins[("phone", pin.phone_id)].append(pin)
        elif pin.site_id is not None:
            pins[("site", pin.site_id)].append(pin)
        else:
            pins[("model", pin.model_profile_id)].append(pin)
    brandings = {
        item.id: item for item in session.scalars(select(BrandingSet).order_by(BrandingSet.name))
    }

    document: dict[str, Any] = {
        "branding": [], "sites": [], "extensions": [], "phones": [], "models": [],
    }  # fmt: skip
    for branding in brandings.values():
        entry = {"name": branding.name}
        if branding.logo_sha256:
            entry["logo"] = f"sha256:{branding.logo_sha256}"
        stored = session.execute(
            select(BrandingFile.name, BrandingFile.sha256)
            .where(BrandingFile.branding_id == branding.id)
            .order_by(BrandingFile.position)
        ).all()
        if stored:
            entry["files"] = [{"name": name, "sha256": sha256} for name, sha256 in stored]
        if settings.get(("branding", branding.id)):
            entry["vendor_settings"] = _plain(settings[("branding", branding.id)])
        document["branding"].append(entry)
    for site in sites.values():
        entry: dict[str, Any] = {"name": site.name, "sip_server": _server(site)}
        for field in (
            "sip_transport", "timezone", "ntp_servers", "dial_plan", "digit_timeout",
            "voicemail", "conference", "dtmf_method", "registration_period", "codecs",
            "config_server", "resync_time", "public_url",
        ):  # fmt: skip
            value = getattr(site, field)
            if value is None or value == [] or SITE_DEFAULTS.get(field) == value:
                continue
            entry[field] = value
        if site.nat:
            entry["nat"] = True
        if site.ftp_user:
            entry["ftp_account"] = {"user": site.ftp_user, "password": site.ftp_password or ""}
        if site.branding_id is not None:
            entry["branding"] = brandings[site.branding_id].name
        site_pins = pins.get(("site", site.id), [])
        if len(site_pins) == 1 and site_pins[0].applies_to is None:
            entry["firmware"] = _pin(site_pins[0])
        elif site_pins:
            entry["firmware"] = {pin.applies_to: _pin(pin) for pin in site_pins}
        if keys[("site", site.id)]:
            entry["keys"] = keys[("site", site.id)]
        contacts = session.scalars(
            select(DirectoryContact)
            .where(DirectoryContact.site_id == site.id)
            .order_by(DirectoryContact.position)
        ).all()
        if contacts:
            entry["directory"] = [{"name": c.name, "number": c.number} for c in contacts]
        if settings.get(("site", site.id)):
            entry["vendor_settings"] = _plain(settings[("site", site.id)])
        document["sites"].append(entry)

    for ext in session.scalars(select(Extension).order_by(Extension.site_id, Extension.number)):
        entry = {"number": ext.number, "site": sites[ext.site_id].name}
        for field in ("name", "auth_user", "password"):
            if getattr(ext, field) is not None:
                entry[field] = getattr(ext, field)
        if ext.shared:
            entry["shared"] = True
        document["extensions"].append(entry)

    lines: dict[int, dict[int, str]] = defaultdict(dict)
    for assignment, ext in session.execute(select(LineAssignment, Extension).join(Extension)).all():
        lines[assignment.phone_id][assignment.index] = (ext.site_id, ext.number)
    for phone in session.scalars(select(Phone).order_by(Phone.mac)):
        entry = {
            "mac": colon_mac(phone.mac),
            "model": phone.model,
            "site": sites[phone.site_id].name,
        }
        if phone.description:
            entry["description"] = phone.description
        phone_lines = lines.get(phone.id, {})
        if phone_lines:
            refs: list[str | None] = []
            for index in range(1, max(phone_lines) + 1):
                ref = phone_lines.get(index)
                if ref is None:
                    refs.append(None)
                else:
                    site_id, number = ref
                    refs.append(
                        number if site_id == phone.site_id else f"{sites[site_id].name}/{number}"
                    )
            entry["lines"] = refs
        if keys[("phone", phone.id)]:
            entry["keys"] = keys[("phone", phone.id)]
        if settings.get(("phone", phone.id)):
            entry["vendor_settings"] = _plain(settings[("phone", phone.id)])
        if phone.branding_id is not None:
            entry["branding"] = brandings[phone.branding_id].name
        if pins.get(("phone", phone.id)):
            entry["firmware"] = _pin(pins[("phone", phone.id)][0])
        document["phones"].append(entry)

    for profile in session.scalars(select(ModelProfile).order_by(ModelProfile.model)):
        entry = {"model": profile.model}
        if settings.get(("model", profile.id)):
            entry["vendor_settings"] = _plain(settings[("model", profile.id)])
        if pins.get(("model", profile.id)):
            entry["firmware"] = _pin(pins[("model", profile.id)][0])
        document["models"].append(entry)
    return {name: entries for name, entries in document.items() if entries}


def export_yaml(session: Session) -> str:
    header = "# plugtone inventory (format: docs/inventory-format.md)\n"
    body = yaml.safe_dump(
        export_document(session), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    return header + (body if body.strip() != "{}" else "")


def _server(site: Site) -> str:
    host = f"[{site.sip_server}]" if ":" in site.sip_server else site.sip_server
    return host if site.sip_port == 5060 else f"{host}:{site.sip_port}"


def _key(key: Key) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": key.type}
    for field in ("value", "label", "line", "family", "slot"):
        if getattr(key, field) is not None:
            entry[field] = getattr(key, field)
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

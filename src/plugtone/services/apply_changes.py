"""What an apply changes, as it tells the caller, the audit log and the person at the terminal.

One :class:`Change` per object created, updated or deleted, of one of :data:`KINDS`
(so a caller can decide permissions per kind), with the object's neutral fields
before and after. A secret never appears: it shows as :data:`MASK` on both sides,
and ``details`` says "password changed".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plugtone.inventory.document import KeySpec, PinSpec
from plugtone.services.apply_snapshot import ExtensionKey, KeyTuple

SECRET_FIELDS = ("password", "ftp_password", "http_password", "tr069_password")
MASK = "********"
"""What a change shows in place of a secret, before and after alike."""
KINDS = ("branding", "site", "directory", "extension", "model", "phone", "pin")
"""Change kinds: ``directory`` is a site's contacts (key: the site), ``pin`` the firmware
pins of one owner (key: ``site hq``, ``model 6757i``, ``phone 00085D000001``)."""


@dataclass
class Change:
    """One object created, updated or deleted, with its fields before and after.

    ``before``/``after`` hold the object's neutral fields (``None`` for the side where
    it does not exist), every secret shown as :data:`MASK`; ``details`` says what
    changed, a changed secret as "password changed".
    """

    action: str  # create | update | delete
    kind: str  # one of KINDS
    key: str
    details: list[str] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def __str__(self) -> str:
        text = f"{self.action} {self.kind} {self.key}"
        return f"{text}: {'; '.join(self.details)}" if self.details else text


def diff_fields(current: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    diffs = []
    for name, value in wanted.items():
        old = current[name]
        if old != value:
            if name in SECRET_FIELDS:
                diffs.append(f"{name} changed")
            else:
                diffs.append(f"{name}: {old!r} -> {value!r}")
    return diffs


def masked(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        name: (MASK if name in SECRET_FIELDS and value is not None else value)
        for name, value in fields.items()
    }


def key_tuple(key: KeySpec) -> KeyTuple:
    return (key.type, key.value, key.label, key.line, key.family, key.slot)


def key_dicts(keys: Iterable[KeyTuple]) -> list[dict[str, Any]]:
    names = ("type", "value", "label", "line", "family", "slot")
    return [
        {name: value for name, value in zip(names, key, strict=True) if value is not None}
        for key in keys
    ]


def setting_values(settings: dict[str, dict[str, tuple[int, str]]]) -> dict[str, dict[str, str]]:
    return {
        vendor: {name: value for name, (_, value) in sorted(rows.items())}
        for vendor, rows in sorted(settings.items())
        if rows
    }


def nonempty_settings(settings: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {vendor: dict(values) for vendor, values in sorted(settings.items()) if values}


def site_fields(
    fields: dict[str, Any],
    branding: str | None,
    keys: Iterable[KeyTuple],
    settings: dict[str, dict[str, str]],
) -> dict[str, Any]:
    return {
        **masked(fields),
        "branding": branding,
        "keys": key_dicts(keys),
        "vendor_settings": nonempty_settings(settings),
    }


def phone_fields(
    model: str,
    vendor: str,
    site: str,
    description: str | None,
    branding: str | None,
    lines: dict[int, ExtensionKey],
    keys: Iterable[KeyTuple],
    settings: dict[str, dict[str, str]],
    http_user: str | None = None,
    http_password: str | None = None,
) -> dict[str, Any]:
    return {
        "model": model,
        "vendor": vendor,
        "site": site,
        "description": description,
        "branding": branding,
        "lines": {str(index): f"{s}/{number}" for index, (s, number) in sorted(lines.items())},
        "keys": key_dicts(keys),
        "vendor_settings": nonempty_settings(settings),
        "http_user": http_user,
        "http_password": MASK if http_password is not None else None,
    }


def branding_fields(
    logo: str | None, files: list[tuple[str, str]], settings: dict[str, dict[str, str]]
) -> dict[str, Any]:
    return {
        "logo": logo,
        "files": [{"name": name, "sha256": sha} for name, sha in files],
        "vendor_settings": nonempty_settings(settings),
    }


def contact_fields(contacts: list[tuple[str, str]]) -> dict[str, Any]:
    return {"contacts": [{"name": name, "number": number} for name, number in contacts]}


def contact_count(before: list[tuple[str, str]], after: list[tuple[str, str]]) -> str:
    if before and after:
        return f"{len(before)} -> {len(after)} contact(s)"
    return f"{len(before or after)} contact(s)"


def pin_selector(applies_to: str | None) -> str:
    return applies_to or "every phone"


def pin_fields(row: Any) -> dict[str, Any]:
    return {"version": row.version, "first_wave": row.first_wave, "force": bool(row.forced)}


def pin_spec_fields(spec: PinSpec) -> dict[str, Any]:
    return {"version": spec.version, "first_wave": spec.first_wave, "force": spec.force}


def action_for(before: Any, after: Any) -> str:
    if not before:
        return "create"
    return "delete" if not after else "update"

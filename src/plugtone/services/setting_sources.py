"""Every setting a phone is given, its effective value, and where the value comes from.

Computed from the very view the resolver renders the phone's files from
(:func:`plugtone.provisioning.views.load_phone`), so what it shows is what lands in the
files: the site's neutral settings (a value equal to the built-in default counts as the
default, as the inventory export treats it), the lines and keys, the firmware pin (the
pin rule of :mod:`plugtone.firmware.targets`), the branding set, and the raw vendor
keys by level, merged in the order :meth:`PhoneView.vendor_settings` merges them (site,
branding, model, phone; the last wins). A raw key whose name is one a neutral setting
is written as (:meth:`VendorPlugin.neutral_setting_names`) overrides that neutral value
in the files: both rows say so. Secrets (SIP passwords, the phone's own login, raw
keys the plug-in calls secret, URLs with a password) are masked.

One phone's queries only: the phone, its site (with the site's extensions, as the
resolver loads them), its model profile, its pins and branding set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from sqlalchemy import select

from plugtone.firmware.targets import phone_target
from plugtone.inventory.models import Phone
from plugtone.inventory.store import Store
from plugtone.macaddr import colon_mac
from plugtone.provisioning.views import load_phones
from plugtone.services.actors import Actor, Role, require
from plugtone.services.errors import NotFound
from plugtone.services.objects import phone_mac
from plugtone.services.phone_checks import fleet_findings
from plugtone.services.unit_of_work import MASK, reading
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import Finding, PhoneView, VendorPlugin, url_password
from plugtone.vendors.key_layout import KeyLayout

DEFAULT = "default"
SITE = "site"
MODEL = "model"
PHONE = "phone"
BRANDING = "branding"
RAW = "raw key"

NEUTRAL: tuple[tuple[str, str, object], ...] = (
    # (site attribute, label, built-in default: the inventory format's, see
    # docs/inventory-format.md and inventory.document.SiteSpec)
    ("sip_server", "SIP server", None),
    ("sip_port", "SIP port", 5060),
    ("sip_transport", "SIP transport", "udp"),
    ("registration_period", "Registration period (s)", 3600),
    ("timezone", "Time zone", "UTC"),
    ("ntp_servers", "NTP servers", ()),
    ("dial_plan", "Dial plan", None),
    ("digit_timeout", "Digit timeout (s)", None),
    ("codecs", "Codecs", ()),
    ("dtmf_method", "DTMF method", "rfc2833"),
    ("voicemail", "Voicemail", None),
    ("conference", "Conference", None),
    ("config_server", "Configuration server", None),
    ("resync_time", "Resync time", None),
    ("nat", "Behind NAT", False),
    ("public_url", "Public URL", None),
)
LEVEL_ORDER = (SITE, BRANDING, MODEL, PHONE)
"""Raw-key levels, later winning (as :meth:`PhoneView.vendor_settings` merges them)."""


@dataclass(frozen=True)
class RawOverride:
    """A raw key replacing (part of) a neutral setting in the files."""

    name: str
    level: str


@dataclass(frozen=True)
class SettingRow:
    """One setting as the phone gets it."""

    name: str
    """The neutral name (``sip_server``, ``lines``, ``firmware``) or the raw key's."""
    label: str
    value: str
    """The effective value as text, secrets masked (``""``: not set)."""
    source: str
    """``default``, ``site``, ``model``, ``phone``, ``branding`` (a raw key's level), or
    ``raw key`` for a neutral setting a raw key replaces in the files."""
    detail: str = ""
    """Which site, pin, set or level; what a raw key overrides."""
    overridden_by: tuple[RawOverride, ...] = ()
    """For a neutral row: the raw keys that replace it in the files."""
    overrides: tuple[str, ...] = ()
    """For a raw row: the neutral settings it replaces (their names)."""
    shadowed: tuple[str, ...] = ()
    """For a raw row: the lower levels whose value for the same name it replaces."""
    raw: bool = False


@dataclass(frozen=True)
class PhoneSettings:
    mac: str
    vendor: str
    model: str
    site: str
    rows: tuple[SettingRow, ...] = field(default_factory=tuple)
    keys: KeyLayout | None = None
    """The phone's keys as its model arranges them (the plug-in's
    :meth:`VendorPlugin.key_layout`), from the same view: one load for the phone page."""
    findings: tuple[Finding, ...] = ()
    """What would keep the phone from working as its inventory says, as ``plugtone
    check`` lists it (:mod:`plugtone.services.phone_checks`): a default key of the site
    its model cannot show (left out), a value its files cannot carry, no line ..."""

    def row(self, name: str) -> SettingRow | None:
        return next((row for row in self.rows if row.name == name), None)


def phone_settings(store: Store, registry: VendorRegistry, actor: Actor, mac: str) -> PhoneSettings:
    """Every setting phone ``mac`` is given, with its source (see the module docstring)."""
    require(actor, Role.VIEWER, "reading a phone's settings")
    normalized = phone_mac(mac)
    with reading(store, actor) as session:
        phone = session.scalar(select(Phone).where(Phone.mac == normalized))
        if phone is None:
            raise NotFound(f"no phone {colon_mac(normalized)}")
        view = load_phones(session, [phone])[phone.mac]
        target, _ = phone_target(session, phone)
        own_branding = phone.branding_id is not None
        findings = tuple(Finding(item.message, item.refuse)
                         for item in fleet_findings(session, registry, [phone.mac]))  # fmt: skip
    plugin = registry.get(view.vendor)
    raw_rows, overrides = _raw_rows(view, plugin)
    rows = [*_neutral_rows(view, overrides)]
    rows.append(_lines_row(view, overrides))
    rows.append(_keys_row(view, overrides))
    rows.append(_firmware_row(target, overrides))
    rows.append(_branding_row(view, own_branding))
    if view.http_user:
        rows.append(SettingRow("http_login", "Provisioning login",
                               f"{view.http_user} / {MASK}", PHONE))  # fmt: skip
    rows.append(SettingRow("description", "Description", view.description or "",
                           PHONE if view.description else DEFAULT))  # fmt: skip
    return PhoneSettings(view.mac, view.vendor, view.model, view.site.name,
                         tuple(rows + raw_rows), plugin.key_layout(view), findings)  # fmt: skip


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(item) for item in value)
    return str(value)


def _neutral_rows(view: PhoneView, overrides: Mapping[str, list[RawOverride]]):
    site = view.site
    for name, label, default in NEUTRAL:
        value = getattr(site, name)
        same = value == default or (isinstance(default, tuple) and tuple(value or ()) == default)
        source, detail = (DEFAULT, "built-in default") if same else (SITE, f"site {site.name}")
        yield _with_overrides(SettingRow(name, label, _text(value), source, detail), overrides)


def _with_overrides(row: SettingRow, overrides: Mapping[str, list[RawOverride]]) -> SettingRow:
    found = tuple(overrides.get(row.name, ()))
    if not found:
        return row
    names = ", ".join(f"{item.name} ({item.level})" for item in found)
    detail = f"{row.source} value replaced in the files by raw key {names}"
    return SettingRow(row.name, row.label, row.value, RAW, detail, overridden_by=found)


def _lines_row(view: PhoneView, overrides: Mapping[str, list[RawOverride]]) -> SettingRow:
    parts = [
        f"{line.index}: {line.number}" + (f" ({line.name})" if line.name else "")
        + f", user {line.auth_user}" + (f", password {MASK}" if line.password else "")
        for line in view.lines
    ]  # fmt: skip
    row = SettingRow("lines", "Lines", "; ".join(parts), PHONE if parts else DEFAULT,
                     "assigned on the phone" if parts else "no line")  # fmt: skip
    return _with_overrides(row, overrides)


def _keys_row(view: PhoneView, overrides: Mapping[str, list[RawOverride]]) -> SettingRow:
    keys = view.effective_keys
    summary = ", ".join(
        key.type + (f" {key.value}" if key.value else "") for key in keys[:12]
    ) + (f" and {len(keys) - 12} more" if len(keys) > 12 else "")  # fmt: skip
    if view.keys:
        row = SettingRow("keys", "Keys", summary, PHONE, f"{len(keys)} keys of the phone's own")
    elif keys:
        row = SettingRow(
            "keys", "Keys", summary, SITE, f"{len(keys)} keys of site {view.site.name}"
        )
    else:
        row = SettingRow("keys", "Keys", "", DEFAULT, "no keys")
    return _with_overrides(row, overrides)


def _firmware_row(target, overrides: Mapping[str, list[RawOverride]]) -> SettingRow:
    pin = target.pin
    if pin is None:
        row = SettingRow("firmware", "Firmware pin", "", DEFAULT,
                         "no pin: the phone's firmware is left alone")  # fmt: skip
    else:
        detail = f"{pin.level} pin" + (f" for {pin.applies_to}" if pin.applies_to else "")
        if target.waiting:
            before = pin.previous_version or "no version"
            detail += f"; staged, this phone is not in its first wave ({before} until promoted)"
        row = SettingRow("firmware", "Firmware pin", target.version or "none", pin.level, detail)
    return _with_overrides(row, overrides)


def _branding_row(view: PhoneView, own: bool) -> SettingRow:
    if view.branding is None:
        return SettingRow("branding", "Branding set", "", DEFAULT, "no branding set")
    if own:
        return SettingRow("branding", "Branding set", view.branding.name, PHONE, "the phone's own")
    return SettingRow("branding", "Branding set", view.branding.name, SITE,
                      f"site {view.site.name}")  # fmt: skip


def _raw_rows(
    view: PhoneView, plugin: VendorPlugin
) -> tuple[list[SettingRow], dict[str, list[RawOverride]]]:
    """The raw keys by name (as the vendor compares names), the winning level's value,
    and for each neutral setting the raw keys that replace it."""
    levels: dict[str, Mapping[str, str]] = {
        SITE: view.site.vendor_settings.get(view.vendor, {}),
        BRANDING: view.branding.vendor_settings.get(view.vendor, {}) if view.branding else {},
        MODEL: view.model_settings,
        PHONE: view.phone_settings,
    }
    merged: dict[str, tuple[str, str, str, list[str]]] = {}
    for level in LEVEL_ORDER:
        for name, value in levels[level].items():
            key = plugin.setting_name_key(name)
            earlier = merged.get(key)
            shadowed = [*earlier[3], earlier[2]] if earlier else []
            merged[key] = (name, value, level, shadowed)
    patterns = plugin.neutral_setting_names()
    overrides: dict[str, list[RawOverride]] = {}
    rows = []
    for key in sorted(merged):
        name, value, level, shadowed = merged[key]
        replaced = tuple(
            neutral
            for neutral, names in patterns.items()
            if any(fnmatchcase(key, plugin.setting_name_key(pattern)) for pattern in names)
        )
        for neutral in replaced:
            overrides.setdefault(neutral, []).append(RawOverride(name, level))
        secret = plugin.is_secret_setting(name) or url_password(value)
        detail = f"set at {level} level"
        if shadowed:
            detail += f", replacing the {', '.join(shadowed)} value"
        if replaced:
            detail += f"; overrides {', '.join(replaced)}"
        rows.append(SettingRow(name, name, MASK if secret else value, level, detail,
                               overrides=replaced, shadowed=tuple(shadowed), raw=True))  # fmt: skip
    return rows, overrides

"""The inventory file's format, checked field by field.

``parse_document`` turns a loaded YAML document into typed specs and collects every
problem it finds (with its ``file:line:col``) instead of stopping at the first, so
an admin fixes a file in one pass. References between entries (a phone's site, a
line's extension) are checked later, when the file is applied, because they may
point at entries already in the store. The format is documented in
``docs/inventory-format.md``; keep both in step.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path as Path_
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from plugtone.inventory.gc_pause import gc_paused
from plugtone.inventory.tr069_fields import parse_tr069
from plugtone.inventory.yaml_source import Located, Path
from plugtone.macaddr import MacError, normalize_mac
from plugtone.provisioning.trust import MAX_RULES, parse_network_rules
from plugtone.vendors import UnknownModel, VendorRegistry
from plugtone.vendors.base import NEUTRAL_KEY_TYPES

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NUMBER_RE = re.compile(r"^[0-9A-Za-z*#+][0-9A-Za-z*#+._-]{0,63}$")
HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
DTMF_METHODS = ("info", "rfc2833", "inband")
TRANSPORTS = ("udp", "tcp", "tls")
CODECS = ("pcmu", "pcma", "g722", "g729", "g726", "ilbc", "opus", "gsm")
CONFIG_SERVER_SCHEMES = ("tftp", "ftp", "http", "https")
TOP_LEVEL = ("branding", "sites", "extensions", "phones", "models")
# The fields each entry may have, in every face (file, CSV, API): a face that knows a
# field the checker does not, or misses one, is caught by tests/test_csv_import.py.
SITE_FIELDS = (
    "name", "sip_server", "sip_transport", "timezone", "ntp_servers", "dial_plan",
    "digit_timeout", "voicemail", "conference", "dtmf_method", "registration_period",
    "codecs", "config_server", "resync_time", "nat", "public_url", "keys", "directory",
    "branding", "firmware", "ftp_account", "vendor_settings", "trusted_networks", "tr069",
)  # fmt: skip
EXTENSION_FIELDS = ("number", "site", "name", "auth_user", "password", "shared")
PHONE_FIELDS = (
    "mac", "model", "site", "lines", "keys", "vendor_settings", "description", "branding",
    "firmware", "http_user", "http_password",
)  # fmt: skip
FTP_USER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_HTTP_USER = 40
MAX_HTTP_PASSWORD = 20
"""A phone's own provisioning login (``http_user``/``http_password``) is typed into the
phone or rendered into its files, so it must fit the strictest supported phone: 40
characters of login and 20 of password (docs/inventory-format.md cites the vendor's
document). The login is also an FTP ``USER`` and an HTTP Digest ``username`` quoted
string, hence the plain character set; the password is printable ASCII without spaces
(a space at either end does not survive a phone's configuration file)."""
HTTP_USER_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{MAX_HTTP_USER - 1}}}$")
HTTP_PASSWORD_RE = re.compile(r"^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$")
"""Printable ASCII without spaces, quotes or backslashes: a login ends up quoted in some
vendor's file (one that quotes values may have no escape for ``"``), and a password a phone
cannot be given would lock it out of its own files."""
DIAL_RE = re.compile(r"^[0-9A-Za-z*#+@._:-]{1,64}$")
MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_BRANDING_FILE_BYTES = 8 * 1024 * 1024
BRANDING_FILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
MAX_LOGO_PIXELS = 4096 * 4096

# Field size caps: everything the inventory holds is copied into every phone view and
# rendered file it reaches, and the API, CSV sheets and files all end up here; so no
# field is unbounded. Each is far above what a phone takes (docs/inventory-format.md).
MAX_TEXT = 255
"""Characters of any text field without a cap of its own (the store's VARCHAR(255))."""
MAX_SHORT_TEXT = 64
"""Key labels, voicemail and conference codes (what a phone's display or dialler takes)."""
MAX_NAME_TEXT = 128
"""Extension and contact names, auth users."""
MAX_DIAL_PLAN = 4 * 1024
"""Characters of a dial plan; the longest the supported phones take is well under it."""
MAX_SETTING_VALUE = 4 * 1024
MAX_SETTINGS = 2_000
"""Raw vendor settings per vendor at one level (site, model, branding set, phone)."""
MAX_DIRECTORY = 5_000
"""Contacts in a site's directory."""
MAX_KEYS = 512
"""Keys per site or phone (a phone with three expansion modules has about 200)."""
MAX_LINES = 64
"""Lines per phone (the largest key line index)."""


def image_media_type(content: bytes) -> str | None:
    """The media type of an image Pillow can read, or ``None``.

    Checked with Pillow itself (not by file extension), with a pixel cap so a small
    file declaring a huge image (a decompression bomb) is refused before decoding.
    """
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                if image.width * image.height > MAX_LOGO_PIXELS:
                    return None
                image.verify()
                kind = image.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):  # fmt: skip
        return None
    return {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp"}.get(
        kind or ""
    )


@dataclass
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class KeySpec:
    type: str
    value: str | None = None
    label: str | None = None
    line: int | None = None
    family: str | None = None
    slot: int | None = None


@dataclass
class ContactSpec:
    name: str
    number: str


@dataclass
class LogoSpec:
    """A site logo: an image file next to the inventory, or a stored one by hash."""

    where: str
    sha256: str
    content: bytes | None = field(default=None, repr=False)
    """The image bytes when read from a file; ``None`` for a ``sha256:`` reference."""
    media_type: str = "application/octet-stream"


@dataclass
class PinSpec:
    """A firmware pin as written: a version (or ``none``), maybe staged, maybe forced."""

    where: str
    version: str
    applies_to: str | None = None
    first_wave: str | None = None
    """``N%`` or ``list`` (then ``wave`` holds the MACs)."""
    wave: list[str] = field(default_factory=list)
    force: bool = False


@dataclass
class BrandingFileSpec:
    name: str
    sha256: str
    where: str
    content: bytes | None = field(default=None, repr=False)
    media_type: str = "application/octet-stream"


@dataclass
class BrandingSpec:
    where: str
    name: str
    logo: LogoSpec | None = None
    files: list[BrandingFileSpec] = field(default_factory=list)
    vendor_settings: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class SiteSpec:
    where: str
    name: str
    sip_server: str
    sip_port: int = 5060
    sip_transport: str = "udp"
    timezone: str = "UTC"
    ntp_servers: list[str] = field(default_factory=list)
    dial_plan: str | None = None
    digit_timeout: int | None = None
    voicemail: str | None = None
    conference: str | None = None
    dtmf_method: str = "rfc2833"
    registration_period: int = 3600
    codecs: list[str] = field(default_factory=list)
    config_server: str | None = None
    resync_time: str | None = None
    nat: bool = False
    public_url: str | None = None
    ftp_user: str | None = None
    ftp_password: str | None = field(default=None, repr=False)
    keys: list[KeySpec] = field(default_factory=list)
    directory: list[ContactSpec] = field(default_factory=list)
    branding: str | None = None
    firmware: list[PinSpec] = field(default_factory=list)
    vendor_settings: dict[str, dict[str, str]] = field(default_factory=dict)
    trusted_networks: list[str | dict] = field(default_factory=list)
    """As stored and exported: each rule's canonical form (``NetworkRule.as_data``)."""
    tr069: dict | None = None
    """TR-069 ACS settings (:mod:`plugtone.inventory.tr069_fields`)."""
    tr069_password: str | None = field(default=None, repr=False)


@dataclass
class ExtensionSpec:
    where: str
    number: str
    site: str
    name: str | None = None
    auth_user: str | None = None
    password: str | None = field(default=None, repr=False)
    shared: bool = False


@dataclass
class LineRef:
    index: int
    site: str | None
    number: str
    where: str


@dataclass
class PhoneSpec:
    where: str
    mac: str
    model: str
    vendor: str
    site: str
    lines: list[LineRef] = field(default_factory=list)
    keys: list[KeySpec] = field(default_factory=list)
    vendor_settings: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    branding: str | None = None
    firmware: PinSpec | None = None
    http_user: str | None = None
    http_password: str | None = field(default=None, repr=False)


@dataclass
class ModelDefaultsSpec:
    where: str
    model: str
    vendor: str
    vendor_settings: dict[str, str] = field(default_factory=dict)
    firmware: PinSpec | None = None


@dataclass
class Document:
    branding: list[BrandingSpec] = field(default_factory=list)
    sites: list[SiteSpec] = field(default_factory=list)
    extensions: list[ExtensionSpec] = field(default_factory=list)
    phones: list[PhoneSpec] = field(default_factory=list)
    models: list[ModelDefaultsSpec] = field(default_factory=list)


class _Checker:
    """Walks one document, collecting problems with their positions."""

    def __init__(self, located: Located, registry: VendorRegistry) -> None:
        self.located = located
        self.registry = registry
        self.problems: list[Problem] = []

    def fail(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.located.where(path), message))

    # -- field readers: each returns a cleaned value or None after recording a problem

    def mapping(self, value: Any, path: Path, allowed: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.fail((*path, key), f"unknown field {key!r} (allowed: {', '.join(allowed)})")
        return value

    def required(self, item: dict, key: str, path: Path) -> Any:
        if item.get(key) is None:
            self.fail(path, f"missing required field {key!r}")
            return None
        return item[key]

    def text(
        self,
        value: Any,
        path: Path,
        pattern: re.Pattern | None = None,
        what: str = "",
        limit: int = MAX_TEXT,
    ) -> str | None:
        if value is None:
            return None
        if type(value) is str:  # nearly always: skip the other checks
            result = value
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(path, f"expected text, got {_kind(value)}")
            return None
        else:
            result = str(value)
        if len(result) > limit:  # before the pattern: no regex over, nor echo of, megabytes
            self.fail(path, f"longer than {limit} characters ({len(result)})")
            return None
        if pattern is not None and not pattern.match(result):
            self.fail(path, f"{result!r} is not a valid {what or 'value'}")
            return None
        if "\n" in result or "\x00" in result:
            self.fail(path, "line breaks and NUL characters are not allowed")
            return None
        return result

    def integer(self, value: Any, path: Path, low: int, high: int) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {_kind(value)}")
            return None
        if not low <= value <= high:
            self.fail(path, f"{value} is out of range {low}..{high}")
            return None
        return value

    def boolean(self, value: Any, path: Path) -> bool | None:
        if value is None:
            return None
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
            return None
        return value

    def choice(self, value: Any, path: Path, choices: tuple[str, ...]) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if text.lower() not in choices:
            self.fail(path, f"{text!r} is not one of {', '.join(choices)}")
            return None
        return text.lower()

    def text_list(self, value: Any, path: Path, check) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {_kind(value)}")
            return None
        result = []
        for index, item in enumerate(value):
            cleaned = check(item, (*path, index))
            if cleaned is not None:
                result.append(cleaned)
        return result

    def host(self, value: Any, path: Path) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if HOST_RE.match(text):
            return text
        try:
            ipaddress.ip_address(text.strip("[]"))
        except ValueError:
            self.fail(path, f"{text!r} is not a host name or IP address")
            return None
        return text.strip("[]")

    def host_port(self, value: Any, path: Path) -> tuple[str, int] | None:
        text = self.text(value, path)
        if text is None:
            return None
        host, port = text, 5060
        if text.startswith("["):
            closing = text.find("]")
            host = text[1:closing] if closing > 0 else text
            rest = text[closing + 1 :] if closing > 0 else ""
            if rest.startswith(":"):
                port_text = rest[1:]
                if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                    self.fail(path, f"bad port in {text!r}")
                    return None
                port = int(port_text)
        elif text.count(":") == 1:
            host, port_text = text.split(":")
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                self.fail(path, f"bad port in {text!r}")
                return None
            port = int(port_text)
        checked = self.host(host, path)
        return (checked, port) if checked is not None else None

    def timezone(self, value: Any, path: Path) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if text not in _zones():
            try:
                ZoneInfo(text)
            except (ZoneInfoNotFoundError, ValueError):
                self.fail(path, f"{text!r} is not an IANA time zone (such as America/New_York)")
                return None
        return text

    def keys(self, value: Any, path: Path) -> list[KeySpec]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list of keys, got {_kind(value)}")
            return []
        if len(value) > MAX_KEYS:
            self.fail(path, f"more than {MAX_KEYS} keys ({len(value)})")
            return []
        result = []
        allowed = ("type", "value", "label", "line", "family", "slot")
        for index, item in enumerate(value):
            here = (*path, index)
            item = self.mapping(item, here, allowed)
            if item is None:
                continue
            key_type = self.choice(
                self.required(item, "type", here), (*here, "type"), NEUTRAL_KEY_TYPES
            )
            if key_type is None:
                continue
            spec = KeySpec(type=key_type)  # fields left out stay None, with no path made
            if item.get("value") is not None:
                spec.value = self.text(item["value"], (*here, "value"))
            if item.get("label") is not None:
                spec.label = self.text(item["label"], (*here, "label"), limit=MAX_SHORT_TEXT)
            if item.get("line") is not None:
                spec.line = self.integer(item["line"], (*here, "line"), 1, 64)
            if item.get("family") is not None:
                spec.family = self.text(item["family"], (*here, "family"), NAME_RE, "key family")
            if item.get("slot") is not None:
                spec.slot = self.integer(item["slot"], (*here, "slot"), 1, 1000)
            result.append(spec)
        return result

    def raw_settings(self, value: Any, path: Path, vendor: str) -> dict[str, str]:
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of setting names to values, got {_kind(value)}")
            return {}
        if len(value) > MAX_SETTINGS:
            self.fail(path, f"more than {MAX_SETTINGS} raw settings ({len(value)})")
            return {}
        result: dict[str, str] = {}
        for name, setting in value.items():
            here = (*path, name)
            if len(str(name)) > MAX_TEXT:
                self.fail(here, f"a raw setting's name is longer than {MAX_TEXT} characters")
                continue
            if isinstance(setting, bool):
                setting = "1" if setting else "0"
            if setting is None:
                setting = ""
            if not isinstance(setting, str | int | float):
                self.fail(
                    here, f"a raw setting's value must be text or a number, got {_kind(setting)}"
                )
                continue
            if len(str(setting)) > MAX_SETTING_VALUE:
                self.fail(here, f"a raw setting's value is longer than {MAX_SETTING_VALUE}"
                          f" characters ({len(str(setting))})")  # fmt: skip
                continue
            if "\n" in str(setting) or "\x00" in str(setting) or "\n" in name:
                self.fail(here, "line breaks and NUL characters are not allowed in raw settings")
                continue
            result[name] = str(setting)
        for message in self.registry.get(vendor).validate_settings(result):
            self.fail(path, message)
        return result

    def vendor_settings(
        self, value: Any, path: Path, only: str | None = None
    ) -> dict[str, dict[str, str]]:
        """``{vendor: {key: value}}``; with ``only``, other vendors are refused."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of vendor names, got {_kind(value)}")
            return {}
        result = {}
        for vendor, settings in value.items():
            here = (*path, vendor)
            if vendor not in self.registry.by_name:
                known = ", ".join(self.registry.by_name)
                self.fail(here, f"unknown vendor {vendor!r} (installed vendors: {known})")
                continue
            if only is not None and vendor != only:
                self.fail(here, f"settings for {vendor!r} cannot apply to a {only} phone or model")
                continue
            result[vendor] = self.raw_settings(settings, here, vendor)
        return result

    def model(self, value: Any, path: Path) -> tuple[str, str] | None:
        text = self.text(value, path)
        if text is None:
            return None
        try:
            plugin, canonical = self.registry.resolve_model(text)
        except UnknownModel as error:
            self.fail(path, str(error))
            return None
        return plugin.name, canonical

    # -- entries

    def site(self, item: Any, path: Path) -> SiteSpec | None:
        if isinstance(item, dict) and "logo" in item:
            self.fail(
                (*path, "logo"),
                "a site's logo now belongs to a branding set: add it under 'branding:'"
                " and give the site 'branding: <name>'",
            )
            item = {key: value for key, value in item.items() if key != "logo"}
        item = self.mapping(item, path, SITE_FIELDS)
        if item is None:
            return None
        before = len(self.problems)
        name = self.text(self.required(item, "name", path), (*path, "name"), NAME_RE, "site name")
        server = self.host_port(self.required(item, "sip_server", path), (*path, "sip_server"))
        spec = SiteSpec(where=self.located.where(path), name=name or "", sip_server="")
        if server is not None:
            spec.sip_server, spec.sip_port = server
        spec.sip_transport = (
            self.choice(item.get("sip_transport", "udp"), (*path, "sip_transport"), TRANSPORTS)
            or "udp"
        )
        spec.timezone = self.timezone(item.get("timezone", "UTC"), (*path, "timezone")) or "UTC"
        spec.ntp_servers = (
            self.text_list(item.get("ntp_servers"), (*path, "ntp_servers"), self.host) or []
        )
        spec.dial_plan = self.text(item.get("dial_plan"), (*path, "dial_plan"), limit=MAX_DIAL_PLAN)
        spec.digit_timeout = self.integer(
            item.get("digit_timeout"), (*path, "digit_timeout"), 1, 60
        )
        spec.voicemail = self.text(
            item.get("voicemail"), (*path, "voicemail"), limit=MAX_SHORT_TEXT
        )
        spec.conference = self.text(
            item.get("conference"), (*path, "conference"), limit=MAX_SHORT_TEXT
        )
        spec.dtmf_method = (
            self.choice(item.get("dtmf_method", "rfc2833"), (*path, "dtmf_method"), DTMF_METHODS)
            or "rfc2833"
        )
        period = self.integer(
            item.get("registration_period", 3600), (*path, "registration_period"), 30, 86400
        )
        spec.registration_period = period or 3600
        spec.codecs = (
            self.text_list(
                item.get("codecs"), (*path, "codecs"), lambda v, p: self.choice(v, p, CODECS)
            )
            or []
        )
        spec.config_server = self.config_server(item.get("config_server"), (*path, "config_server"))
        spec.resync_time = self.text(
            item.get("resync_time"), (*path, "resync_time"), TIME_RE, "time (HH:MM)"
        )
        spec.nat = bool(self.boolean(item.get("nat", False), (*path, "nat")))
        spec.public_url = self.public_url(item.get("public_url"), (*path, "public_url"))
        spec.keys = self.keys(item.get("keys"), (*path, "keys"))
        spec.directory = self.directory(item.get("directory"), (*path, "directory"))
        spec.branding = self.text(
            item.get("branding"), (*path, "branding"), NAME_RE, "branding name"
        )
        spec.firmware = self.site_firmware(item.get("firmware"), (*path, "firmware"))
        account = self.ftp_account(item.get("ftp_account"), (*path, "ftp_account"))
        if account is not None:
            spec.ftp_user, spec.ftp_password = account
        spec.vendor_settings = self.vendor_settings(
            item.get("vendor_settings"), (*path, "vendor_settings")
        )
        spec.trusted_networks = self.trusted_networks(
            item.get("trusted_networks"), (*path, "trusted_networks")
        )
        spec.tr069, spec.tr069_password = parse_tr069(self, item.get("tr069"), (*path, "tr069"))
        return spec if len(self.problems) == before else None

    def trusted_networks(self, value: Any, path: Path) -> list[str | dict]:
        """``["10.0.0.0/8", {network: 192.0.2.0/24, transports: [tftp]}]``, each entry
        judged by the resolver's own parser, so what passes here is what it trusts."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list of networks, got {_kind(value)}")
            return []
        if len(value) > MAX_RULES:
            self.fail(path, f"more than {MAX_RULES} networks ({len(value)})")
            return []
        result: list[str | dict] = []
        for index, entry in enumerate(value):
            if isinstance(entry, str) and len(entry) > MAX_TEXT:
                self.fail((*path, index), f"longer than {MAX_TEXT} characters ({len(entry)})")
                continue
            try:
                (rule,) = parse_network_rules([entry], "entry")
            except ValueError as problem:
                self.fail((*path, index), str(problem).removeprefix("entry[1]: "))
                continue
            result.append(rule.as_data())
        return result

    def config_server(self, value: Any, path: Path) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in CONFIG_SERVER_SCHEMES or not parts.hostname:
            self.fail(
                path, f"{text!r} is not a tftp://, ftp://, http:// or https:// URL with a host"
            )
            return None
        return text

    def ftp_account(self, value: Any, path: Path) -> tuple[str, str] | None:
        if value is None:
            return None
        item = self.mapping(value, path, ("user", "password"))
        if item is None:
            return None
        user = self.text(
            self.required(item, "user", path), (*path, "user"), FTP_USER_RE, "FTP user"
        )
        password = self.text(self.required(item, "password", path), (*path, "password"))
        if user is None or password is None:
            return None
        if not password:
            self.fail((*path, "password"), "an FTP account needs a password")
            return None
        return user, password

    def public_url(self, value: Any, path: Path) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.fail(path, f"{text!r} is not an http:// or https:// URL with a host")
            return None
        return text.rstrip("/")

    def directory(self, value: Any, path: Path) -> list[ContactSpec]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list of contacts, got {_kind(value)}")
            return []
        if len(value) > MAX_DIRECTORY:
            self.fail(path, f"more than {MAX_DIRECTORY} contacts ({len(value)})")
            return []
        result = []
        for index, item in enumerate(value):
            here = (*path, index)
            item = self.mapping(item, here, ("name", "number"))
            if item is None:
                continue
            name = self.text(
                self.required(item, "name", here), (*here, "name"), limit=MAX_NAME_TEXT
            )
            number = self.text(
                self.required(item, "number", here), (*here, "number"), DIAL_RE, "number to dial"
            )
            if name is not None and number is not None:
                result.append(ContactSpec(name=name, number=number))
        return result

    def beside(self, text: str, path: Path) -> Path_ | None:
        """A file named relative to the inventory file, and inside its folder.

        Files named in an inventory are stored and served to phones, so a name must not
        reach elsewhere on the machine (``/etc/shadow``, ``../../secret``), even when the
        file comes from someone with less access than the person applying it.
        """
        base = Path_(PurePath(self.located.filename).parent).resolve()
        candidate = PurePath(text)
        if candidate.is_absolute() or ".." in candidate.parts:
            self.fail(path, f"{text}: name a file in the inventory's folder or below it")
            return None
        file = (base / candidate).resolve()
        if not file.is_relative_to(base):
            self.fail(path, f"{text}: leads outside the inventory's folder")
            return None
        return file

    def logo(self, value: Any, path: Path) -> LogoSpec | None:
        text = self.text(value, path)
        if text is None:
            return None
        where = self.located.where(path)
        if text.startswith("sha256:"):
            digest = text[len("sha256:") :].lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                self.fail(path, f"{text!r} is not a sha256: reference")
                return None
            return LogoSpec(where=where, sha256=digest)
        file = self.beside(text, path)
        if file is None:
            return None
        try:
            if file.stat().st_size > MAX_LOGO_BYTES:
                self.fail(path, f"{text}: larger than {MAX_LOGO_BYTES // 1024} KiB")
                return None
            content = file.read_bytes()
        except OSError as error:
            self.fail(path, f"cannot read logo {text}: {error.strerror}")
            return None
        media_type = image_media_type(content)
        if media_type is None:
            self.fail(path, f"{text}: not a PNG, JPEG, GIF or BMP image plugtone can read")
            return None
        return LogoSpec(where, hashlib.sha256(content).hexdigest(), content, media_type)

    def extension(self, item: Any, path: Path) -> ExtensionSpec | None:
        item = self.mapping(item, path, EXTENSION_FIELDS)
        if item is None:
            return None
        before = len(self.problems)
        number = self.text(
            self.required(item, "number", path), (*path, "number"), NUMBER_RE, "extension number"
        )
        site = self.text(self.required(item, "site", path), (*path, "site"), NAME_RE, "site name")
        spec = ExtensionSpec(
            where=self.located.where(path),
            number=number or "",
            site=site or "",
            name=self.text(item.get("name"), (*path, "name"), limit=MAX_NAME_TEXT),
            auth_user=self.text(item.get("auth_user"), (*path, "auth_user"), limit=MAX_NAME_TEXT),
            password=self.text(item.get("password"), (*path, "password")),
            shared=bool(self.boolean(item.get("shared", False), (*path, "shared"))),
        )
        return spec if len(self.problems) == before else None

    def line_refs(self, value: Any, path: Path) -> list[LineRef]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list of extensions (one per line), got {_kind(value)}")
            return []
        if len(value) > MAX_LINES:
            self.fail(path, f"more than {MAX_LINES} lines ({len(value)})")
            return []
        result = []
        for index, item in enumerate(value):
            here = (*path, index)
            if item is None:
                continue  # an empty line slot keeps later lines at their index
            text = self.text(item, here)
            if text is None:
                continue
            site, _, number = text.rpartition("/")
            if not NUMBER_RE.match(number) or (site and not NAME_RE.match(site)):
                self.fail(here, f"{text!r} is not an extension number (or site/number)")
                continue
            result.append(LineRef(index + 1, site or None, number, self.located.where(here)))
        return result

    def phone(self, item: Any, path: Path) -> PhoneSpec | None:
        item = self.mapping(item, path, PHONE_FIELDS)
        if item is None:
            return None
        before = len(self.problems)
        mac_text = self.text(self.required(item, "mac", path), (*path, "mac"))
        mac = ""
        if mac_text is not None:
            try:
                mac = normalize_mac(mac_text)
            except MacError as error:
                self.fail((*path, "mac"), str(error))
        model = self.model(self.required(item, "model", path), (*path, "model"))
        site = self.text(self.required(item, "site", path), (*path, "site"), NAME_RE, "site name")
        vendor = model[0] if model else ""
        settings = self.vendor_settings(
            item.get("vendor_settings"), (*path, "vendor_settings"), only=vendor or None
        )
        spec = PhoneSpec(
            where=self.located.where(path),
            mac=mac,
            model=model[1] if model else "",
            vendor=vendor,
            site=site or "",
            lines=self.line_refs(item.get("lines"), (*path, "lines")),
            keys=self.keys(item.get("keys"), (*path, "keys")),
            vendor_settings=settings.get(vendor, {}),
            description=self.text(item.get("description"), (*path, "description")),
            branding=self.text(item.get("branding"), (*path, "branding"), NAME_RE, "branding name"),
            firmware=self.pin(item.get("firmware"), (*path, "firmware"), staged=False),
        )
        spec.http_user, spec.http_password = self.http_login(item, path)
        return spec if len(self.problems) == before else None

    def http_login(self, item: dict, path: Path) -> tuple[str | None, str | None]:
        """A phone's own provisioning login: both fields or neither. The password is a
        secret, so no message here ever quotes it."""
        user = self.text(
            item.get("http_user"), (*path, "http_user"), HTTP_USER_RE,
            f"login (1-{MAX_HTTP_USER} letters, digits, '_', '.', '@', '-')",
        )  # fmt: skip
        password = item.get("http_password")
        where = (*path, "http_password")
        if password is not None:
            if isinstance(password, int | float) and not isinstance(password, bool):
                password = str(password)
            if not isinstance(password, str):
                self.fail(where, f"expected text, got {_kind(password)}")
                password = None
            elif not password or len(password) > MAX_HTTP_PASSWORD:
                self.fail(where, f"a provisioning password is 1 to {MAX_HTTP_PASSWORD}"
                          f" characters (this one has {len(password)})")  # fmt: skip
                password = None
            elif not HTTP_PASSWORD_RE.match(password):
                self.fail(where, "a provisioning password is printable ASCII, without "
                                 "spaces, quotes or backslashes")  # fmt: skip
                password = None
        if item.get("http_user") is not None and item.get("http_password") is None:
            self.fail(where, "http_user needs an http_password (plugtone credentials generate"
                      " makes both)")  # fmt: skip
        elif item.get("http_password") is not None and item.get("http_user") is None:
            self.fail((*path, "http_user"), "http_password needs an http_user")
        return user, password

    def model_defaults(self, item: Any, path: Path) -> ModelDefaultsSpec | None:
        item = self.mapping(item, path, ("model", "vendor_settings", "firmware"))
        if item is None:
            return None
        before = len(self.problems)
        model = self.model(self.required(item, "model", path), (*path, "model"))
        vendor = model[0] if model else ""
        settings = self.vendor_settings(
            item.get("vendor_settings"), (*path, "vendor_settings"), only=vendor or None
        )
        spec = ModelDefaultsSpec(
            where=self.located.where(path),
            model=model[1] if model else "",
            vendor=vendor,
            vendor_settings=settings.get(vendor, {}),
            firmware=self.pin(item.get("firmware"), (*path, "firmware")),
        )
        return spec if len(self.problems) == before else None

    # -- firmware and branding

    def pin(
        self, value: Any, path: Path, *, applies_to: str | None = None, staged: bool = True
    ) -> PinSpec | None:
        """``3.3.1.4322``, ``none``, or ``{version, first_wave, force}``."""
        if value is None:
            return None
        where = self.located.where(path)
        if not isinstance(value, dict):
            version = self.version(value, path)
            return PinSpec(where, version, applies_to) if version else None
        allowed = ("version", "first_wave", "force") if staged else ("version", "force")
        item = self.mapping(value, path, allowed)
        if item is None:
            return None
        version = self.version(self.required(item, "version", path), (*path, "version"))
        force = bool(self.boolean(item.get("force", False), (*path, "force")))
        spec = PinSpec(where, version or "", applies_to, force=force)
        wave = item.get("first_wave")
        if wave is not None:
            here = (*path, "first_wave")
            if isinstance(wave, list):
                spec.first_wave = "list"
                for index, mac_text in enumerate(wave):
                    text = self.text(mac_text, (*here, index))
                    try:
                        spec.wave.append(normalize_mac(text or ""))
                    except MacError as error:
                        self.fail((*here, index), str(error))
                if not spec.wave:
                    self.fail(here, "a first wave needs at least one phone")
            else:
                text = self.text(wave, here)
                if text is not None:
                    number = text.strip().rstrip("%")
                    try:
                        percent = float(number)
                    except ValueError:
                        percent = -1.0
                    if not text.strip().endswith("%") or not 0 < percent < 100:
                        self.fail(here, f"{text!r} is not a percentage such as 10% (1-99%)")
                    else:
                        spec.first_wave = f"{percent:g}%"
            if spec.version == "none" and spec.first_wave:
                self.fail(here, "'none' cannot be staged")
        return spec if version else None

    def site_firmware(self, value: Any, path: Path) -> list[PinSpec]:
        """One pin for every phone of the site, or ``{vendor-or-model: pin, ...}``."""
        if value is None:
            return []
        if not isinstance(value, dict) or "version" in value:
            pin = self.pin(value, path)
            return [pin] if pin else []
        pins = []
        for selector, pin_value in value.items():
            here = (*path, selector)
            name = str(selector)
            if name in self.registry.by_name:
                applies_to = name
            else:
                try:
                    applies_to = self.registry.resolve_model(name)[1]
                except UnknownModel:
                    self.fail(here, f"{name!r} is neither an installed vendor nor a known model")
                    continue
            pin = self.pin(pin_value, here, applies_to=applies_to)
            if pin is not None:
                pins.append(pin)
        return pins

    def version(self, value: Any, path: Path) -> str | None:
        text = self.text(value, path)
        if text is None:
            return None
        if text.lower() == "none":
            return "none"
        if not VERSION_RE.match(text):
            self.fail(
                path,
                f"{text!r} is not a firmware version (letters, digits, '.', '_', '+', '-')",
            )
            return None
        return text

    def branding(self, item: Any, path: Path) -> BrandingSpec | None:
        item = self.mapping(item, path, ("name", "logo", "files", "vendor_settings"))
        if item is None:
            return None
        before = len(self.problems)
        name = self.text(
            self.required(item, "name", path), (*path, "name"), NAME_RE, "branding name"
        )
        spec = BrandingSpec(where=self.located.where(path), name=name or "")
        spec.logo = self.logo(item.get("logo"), (*path, "logo"))
        files = item.get("files")
        if files is not None and not isinstance(files, list):
            self.fail((*path, "files"), f"expected a list of file names, got {_kind(files)}")
            files = []
        for index, entry in enumerate(files or []):
            here = (*path, "files", index)
            if isinstance(entry, dict):
                branded = self.stored_branding_file(entry, here)
            else:
                text = self.text(entry, here)
                branded = self.branding_file(text, here) if text is not None else None
            if branded is not None:
                spec.files.append(branded)
        names = [branded.name.lower() for branded in spec.files]
        if len(names) != len(set(names)):
            self.fail((*path, "files"), "two files of the set have the same name")
        spec.vendor_settings = self.vendor_settings(
            item.get("vendor_settings"), (*path, "vendor_settings")
        )
        return spec if len(self.problems) == before else None

    def stored_branding_file(self, entry: dict, path: Path) -> BrandingFileSpec | None:
        """``{name: ring.raw, sha256: ...}``: a file already in the store (as exported)."""
        item = self.mapping(entry, path, ("name", "sha256"))
        if item is None:
            return None
        name = self.text(
            self.required(item, "name", path), (*path, "name"), BRANDING_FILE_RE, "file name"
        )
        digest = self.text(self.required(item, "sha256", path), (*path, "sha256"))
        if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", digest.lower()):
            self.fail((*path, "sha256"), f"{digest!r} is not a SHA-256 hex digest")
            return None
        if name is None or digest is None:
            return None
        return BrandingFileSpec(name, digest.lower(), self.located.where(path))

    def branding_file(self, text: str, path: Path) -> BrandingFileSpec | None:
        """A file next to the inventory, served under its own name."""
        name = PurePath(text).name
        where = self.located.where(path)
        if not BRANDING_FILE_RE.match(name):
            self.fail(path, f"{name!r} is not a usable file name (letters, digits, '.', '_', '-')")
            return None
        file = self.beside(text, path)
        if file is None:
            return None
        try:
            if file.stat().st_size > MAX_BRANDING_FILE_BYTES:
                self.fail(path, f"{text}: larger than {MAX_BRANDING_FILE_BYTES // 1024**2} MiB")
                return None
            content = file.read_bytes()
        except OSError as error:
            self.fail(path, f"cannot read {text}: {error.strerror}")
            return None
        media_type = image_media_type(content) or "application/octet-stream"
        return BrandingFileSpec(
            name, hashlib.sha256(content).hexdigest(), where, content, media_type
        )


def parse_document(located: Located, registry: VendorRegistry) -> tuple[Document, list[Problem]]:
    """Check every entry of ``located``; return the specs and all problems found."""
    with gc_paused():  # a spec per entry, all kept: see gc_pause
        return _parse_document(located, registry)


def _parse_document(located: Located, registry: VendorRegistry) -> tuple[Document, list[Problem]]:
    checker = _Checker(located, registry)
    document = Document()
    root = checker.mapping(located.data, (), TOP_LEVEL)
    if root is None:
        return document, checker.problems
    sections = (
        ("branding", checker.branding, document.branding),
        ("sites", checker.site, document.sites),
        ("extensions", checker.extension, document.extensions),
        ("phones", checker.phone, document.phones),
        ("models", checker.model_defaults, document.models),
    )
    for section, read, target in sections:
        entries = root.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            checker.fail((section,), f"expected a list of {section}, got {_kind(entries)}")
            continue
        for index, entry in enumerate(entries):
            spec = read(entry, (section, index))
            if spec is not None:
                target.append(spec)
    _check_duplicates(document, checker)
    return document, checker.problems


def _check_duplicates(document: Document, checker: _Checker) -> None:
    def report(items, key, what) -> None:
        seen: dict[Any, str] = {}
        for item in items:
            value = key(item)
            if value in seen:
                checker.problems.append(
                    Problem(item.where, f"{what} {value!r} is already defined at {seen[value]}")
                )
            else:
                seen[value] = item.where

    report(document.branding, lambda b: b.name, "branding set")
    report(document.sites, lambda s: s.name, "site")
    report([s for s in document.sites if s.ftp_user], lambda s: s.ftp_user, "FTP user")
    report(document.extensions, lambda e: f"{e.site}/{e.number}", "extension")
    report(document.phones, lambda p: p.mac, "phone")
    report([p for p in document.phones if p.http_user], lambda p: p.http_user,
           "provisioning login (http_user)")  # fmt: skip
    report(document.models, lambda m: m.model, "model")
    for site in document.sites:
        report(site.firmware, lambda pin: pin.applies_to or "every phone", "firmware pin for")
    for phone in document.phones:
        indexes = [line.index for line in phone.lines]
        if len(indexes) != len(set(indexes)):
            checker.problems.append(Problem(phone.where, "a line index is used twice"))


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false"}.get(
        type(value), type(value).__name__
    )


_ZONES: set[str] | None = None


def _zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES

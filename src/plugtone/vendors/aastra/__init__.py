"""Aastra/Mitel SIP phones (67xxi, 68xxi, 9xxxi): ``aastra.cfg``, ``<model>.cfg``, ``<MAC>.cfg``.

Boot sequence (3.x firmware): ``aastra.cfg`` -> ``<model>.cfg`` -> ``<MAC>.cfg``, a later
file overriding an earlier one; settings made on the phone override them all. Newer
firmware asks for ``startup.cfg`` first, which gets the same content as
``aastra.cfg``.

Where settings go: a TFTP request for ``aastra.cfg`` carries neither MAC nor
User-Agent, so the common file cannot know the asking phone's site. ``aastra.cfg``
therefore holds nothing site-specific; ``<model>.cfg`` holds the model's defaults;
``<MAC>.cfg`` holds everything for the phone: site, model and phone levels merged
(site, then model, then phone, then raw vendor keys in the same order), so the
inventory's precedence holds whatever the phone's file order, then the phone's own
provisioning login (``http digest username``/``password``, see :mod:`.trust`).

Firmware: after its configuration files the phone asks for ``<model>.st`` (at the root,
or under the path its config names, such as ``firmware/6869i.st``) and flashes any
image it gets. Those requests are FIRMWARE files, offered through the loop guard in
:mod:`plugtone.vendors.aastra.firmware`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from plugtone.acs.datamodel import CwmpMap
from plugtone.macaddr import normalize_mac
from plugtone.vendors.aastra import bootstrap, dhcp
from plugtone.vendors.aastra.cfgfile import Raw, serialize, value_problem
from plugtone.vendors.aastra.checks import phone_findings
from plugtone.vendors.aastra.cwmp_map import CWMP_MAP
from plugtone.vendors.aastra.firmware import (
    APPLICATION,
    basename,
    image_model_token,
    missing_images,
    normalize_version,
    release_image,
    same_version,
    should_offer,
)
from plugtone.vendors.aastra.key_view import NEUTRAL_NAMES, aastra_key_layout
from plugtone.vendors.aastra.keys import key_settings, layout, park_settings
from plugtone.vendors.aastra.models import BY_NAME, MODELS
from plugtone.vendors.aastra.timezones import aastra_timezone
from plugtone.vendors.aastra.tr69 import tr69_settings
from plugtone.vendors.aastra.trust import (
    MAC_PREFIXES,
    has_secret,
    is_secret_name,
    login_settings,
    stranger_mac_file,
)
from plugtone.vendors.base import (
    DeviceFacts,
    FileRef,
    FileScope,
    Finding,
    FirmwareDevice,
    FirmwareFile,
    ModelSpec,
    ModelView,
    PhoneView,
    ResyncNotify,
    SiteView,
    VendorPlugin,
    hex_mac,
    path_folders,
)
from plugtone.vendors.key_layout import KeyLayout
from plugtone.vendors.memo import ViewMemo

USER_AGENT = re.compile(
    r"^(?:Aastra|Mitel)(\S+) MAC:([0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){5}) V:(\S+)"
)
MAC_FILE = re.compile(r"^([0-9A-Fa-f]{12})\.cfg$", re.IGNORECASE)
COMMON_FILES = ("aastra.cfg", "startup.cfg")

DTMF = {
    # neutral method: (sip out-of-band dtmf, sip dtmf method)
    "inband": ("0", "0"),
    "rfc2833": ("1", "0"),
    "info": ("1", "1"),
}
TRANSPORT = {"udp": "1", "tcp": "2", "tls": "4"}
CODEC_PAYLOAD = {"pcmu": 0, "pcma": 8, "g722": 9, "g729": 18, "g726": 2, "ilbc": 97}
SETTING_NAME = re.compile(r"^[a-z0-9][a-z0-9 _./-]{0,127}$")


class AastraPlugin(VendorPlugin):
    """The vendor side of trust (prefixes, stranger file, secrets, the phone's own
    Digest login in ``<MAC>.cfg``) is in :mod:`plugtone.vendors.aastra.trust`."""

    name = "aastra"
    label = "Aastra / Mitel"
    models = tuple(model.spec for model in MODELS)
    mac_prefixes = MAC_PREFIXES
    device_credentials = True
    """``http digest username``/``password`` in ``<MAC>.cfg`` (41-001343-02 A-81)."""
    resync_notify = ResyncNotify(
        "check-sync",
        needs=(
            "reboots and fetches its files again; with 'sip whitelist: 1' it takes the"
            " NOTIFY only from its configured proxies, so plugtone's address must be one"
        ),
    )
    """``Event: check-sync``: the event Asterisk's stock ``sip_notify.conf`` sends Aastra
    phones (``aastra-check-cfg``), which reboot and check their configuration; the
    administrator guide's ``sip whitelist`` (41-001160-00 A-175) makes the phone refuse
    requests from servers that are not its proxies."""

    def cwmp_map(self) -> CwmpMap:
        return CWMP_MAP

    def dhcp_needs(self, server: dhcp.ProvisioningServer) -> dhcp.DhcpNeeds:
        """Option 60 and the options the phones read their server from: see :mod:`.dhcp`."""
        return dhcp.dhcp_needs(server)

    def match(self, path: str) -> FileRef | None:
        if image_model_token(path) is not None:
            return self._match_image(path)
        if "/" in path:
            return None
        lowered = path.lower()
        if lowered in COMMON_FILES:
            return FileRef(self.name, "aastra.cfg", FileScope.COMMON)
        found = MAC_FILE.match(path)
        if found:
            mac = hex_mac(found.group(1))
            if mac is None:
                return None
            return FileRef(self.name, "mac.cfg", FileScope.DEVICE, mac=mac)
        if lowered.endswith(".cfg"):
            model = self.canonical_model(path[: -len(".cfg")])
            if model is not None:
                return FileRef(self.name, "model.cfg", FileScope.MODEL, model=model)
        return None

    def _match_image(self, path: str) -> FileRef | None:
        """``<model>.st`` at the root or under any sub-path, named as the phone asked."""
        folders = path_folders(path)
        if any(folder in ("", ".", "..") for folder in folders):
            return None
        model = self.canonical_model(image_model_token(path) or "")
        if model is None:
            return None
        return FileRef(self.name, basename(path), FileScope.FIRMWARE, model=model)

    def served_files(self, models: Iterable[str], macs: Iterable[str]) -> list[str]:
        return [
            *COMMON_FILES,
            *(f"{model}.cfg" for model in sorted(set(models))),
            *(f"{mac.upper()}.cfg" for mac in sorted(macs)),
        ]

    def identify(self, user_agent: str | None) -> DeviceFacts | None:
        found = USER_AGENT.match(user_agent or "")
        if not found:
            return None
        token, mac_text, reported = found.groups()
        try:
            mac = normalize_mac(mac_text)
        except ValueError:
            mac = None
        return DeviceFacts(
            vendor=self.name,
            mac=mac,
            model=self.canonical_model(token) or token,
            firmware_version=normalize_version(reported) or None,
        )

    def validate_settings(self, settings: Mapping[str, str]) -> list[str]:
        """Raw settings are written as given, so each must be one line the phone reads
        back as written (see :mod:`.cfgfile`): a name of letters, digits and spaces, and
        a value without line breaks or other control characters, with double quotes
        only as one pair around the whole value."""
        problems = []
        for name, value in settings.items():
            if not SETTING_NAME.match(name.lower()):
                problems.append(f"{name!r} is not an Aastra setting name (letters, digits, spaces)")
            inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
            problem = value_problem(inner)
            if problem is not None:
                problems.append(f"{name!r}: {problem.replace('a value', 'this value')}")
        return problems

    def check_phone(self, phone: PhoneView) -> list[Finding]:
        """Keys without a place or that the model cannot show, values the file cannot
        carry, lines past the model's, a zone the phone cannot follow (:mod:`.checks`)."""
        model = BY_NAME.get(self.canonical_model(phone.model) or "")
        if model is None:
            return []
        return [Finding(message, refuse) for message, refuse in phone_findings(phone, model)]

    def key_layout(self, phone: PhoneView) -> KeyLayout | None:
        """The model's key families with the phone's keys placed (:mod:`.key_view`)."""
        model = BY_NAME.get(self.canonical_model(phone.model) or "")
        return aastra_key_layout(phone, model) if model is not None else None

    def neutral_setting_names(self) -> Mapping[str, tuple[str, ...]]:
        return NEUTRAL_NAMES

    def setting_name_key(self, name: str) -> str:
        return name.strip().lower()

    # -- trust

    def stranger_file(self, ref: FileRef) -> bytes | None:
        return stranger_mac_file() if ref.name == "mac.cfg" else None

    def holds_secrets(self, ref: FileRef, phone: PhoneView) -> bool:
        """Whether the file as rendered for ``phone`` writes a secret value: its own
        ``<MAC>.cfg`` (line passwords, its login, an FTP or other password among the
        settings), or its model's ``<model>.cfg`` when a model setting is one."""
        if ref.name == "mac.cfg" and ref.mac == phone.mac:
            return has_secret(_kept_mac_settings(phone)[0])
        if ref.name == "model.cfg" and ref.model == phone.model:
            return has_secret(phone.model_settings)
        return False

    def is_secret_setting(self, name: str) -> bool:
        return is_secret_name(name)

    # -- firmware

    def firmware_role(self, name: str) -> str | None:
        token = image_model_token(name)
        if token is not None and self.canonical_model(token) is not None:
            return APPLICATION
        return None

    def check_release(self, models: Sequence[str], names: Sequence[str]) -> list[str]:
        return missing_images(((model, self._spec(model)) for model in models), names)

    def version_matches(self, running: str, pinned: str) -> bool:
        return same_version(running, pinned)

    def offer_firmware(
        self, ref: FileRef, phone: PhoneView, device: FirmwareDevice
    ) -> FirmwareFile | None:
        """The pinned image for this phone's own model, while the loop guard allows.

        The core has checked the pin already; the model checks are repeated here
        because an image flashed onto the wrong model can leave a phone unusable.
        """
        release = phone.firmware
        if release is None or release.vendor != self.name or ref.scope is not FileScope.FIRMWARE:
            return None
        if ref.version is not None and not self.version_matches(ref.version, release.version):
            return None
        spec = self._spec(phone.model)
        requested = ref.model or self.canonical_model(image_model_token(ref.name) or "")
        if spec is None or requested != spec.name:
            return None
        if release.models and spec.name not in {self.canonical_model(m) for m in release.models}:
            return None
        if not should_offer(
            device.running_version, release.version, device.delivered, device.attempts
        ):
            return None
        return release_image(release, spec, ref.name)

    def bootstrap_match(self, path: str):
        """The redirection service's files: see :mod:`.bootstrap`."""
        return bootstrap.bootstrap_match(self, path)

    def bootstrap_file(self, ref, target):
        return bootstrap.bootstrap_file(self, ref, target)

    def _spec(self, model: str) -> ModelSpec | None:
        canonical = self.canonical_model(model)
        return BY_NAME[canonical].spec if canonical is not None else None

    def render(
        self, ref: FileRef, phone: PhoneView | None, model: ModelView | None
    ) -> bytes | None:
        if ref.scope is FileScope.FIRMWARE:
            return None  # images are stored files, offered by offer_firmware
        if ref.name == "aastra.cfg":
            return serialize(
                ["aastra.cfg: common to every Aastra phone; site and lines are in <MAC>.cfg"],
                {},
            )
        if ref.name == "model.cfg":
            settings = _lowered(model.settings) if model else {}
            return serialize([f"{ref.model}.cfg: defaults for every {ref.model}"], settings)
        if ref.name == "mac.cfg" and phone is not None:
            settings, notes = _kept_mac_settings(phone)
            return serialize(
                [f"{phone.mac}.cfg: {phone.model} at site {phone.site.name}", *notes], settings
            )
        return None


_PHONE_MEMO: ViewMemo = ViewMemo(1024)
"""``<MAC>.cfg``'s settings by phone view (see :mod:`..memo`): the resolver renders the
file and then asks whether it holds a secret, which derived them a second time."""
_SITE_MEMO: ViewMemo = ViewMemo(4096)
"""The settings a site view gives each of its phones, by view and year."""


def _kept_mac_settings(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """:func:`mac_settings`, kept per phone view (not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: _mac_settings(phone), datetime.now(UTC).year)


def mac_settings(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """``(settings, notes)`` of the phone's ``<MAC>.cfg``: everything for the phone, then
    its own provisioning login, which no raw setting replaces (a login the resolver does
    not know would lock the phone out of its own files)."""
    settings, notes = _kept_mac_settings(phone)
    return dict(settings), list(notes)


def _mac_settings(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    settings = phone_settings(phone)
    login, notes = login_settings(phone.http_user, phone.http_password)
    settings.update(login)
    return settings, notes


def phone_settings(phone: PhoneView) -> dict[str, str]:
    """Every setting for one phone, in file order; later levels override earlier ones."""
    settings: dict[str, str] = {}
    site = phone.site
    settings.update(_site_settings(site))
    settings.update(tr69_settings(phone))
    for line in phone.lines:
        prefix = f"sip line{line.index}"
        settings[f"{prefix} auth name"] = line.auth_user
        settings[f"{prefix} password"] = line.password or ""
        settings[f"{prefix} user name"] = line.number
        settings[f"{prefix} display name"] = line.name or line.number
        settings[f"{prefix} screen name"] = line.name or line.number
        settings[f"{prefix} proxy ip"] = site.sip_server
        settings[f"{prefix} proxy port"] = str(site.sip_port)
        settings[f"{prefix} registrar ip"] = site.sip_server
        settings[f"{prefix} registrar port"] = str(site.sip_port)
        settings[f"{prefix} registration period"] = str(site.registration_period)
        settings[f"{prefix} dtmf method"] = DTMF[site.dtmf_method][1]
        if site.voicemail:
            settings[f"{prefix} vmail"] = site.voicemail
    model = BY_NAME.get(phone.model)
    if model is not None:
        keys = phone.effective_keys
        settings.update(park_settings(phone, keys)[0])
        settings.update(key_settings(phone, layout(keys, model).placed))
    settings.update(_lowered(phone.vendor_settings()))
    return settings


def _site_settings(site: SiteView) -> dict[str, str]:
    """Provisioning, clock and global SIP settings: the same for each phone of a site,
    so kept per site view and year (the DST rule follows the year; not to be changed)."""
    year = datetime.now(UTC).year

    def derive() -> dict[str, str]:
        settings = _provisioning(site)
        settings.update(_time(site, year))
        settings.update(_sip_global(site))
        return settings

    return _SITE_MEMO.get(site, derive, year)


def _provisioning(site: SiteView) -> dict[str, str]:
    settings = {"dhcp": "1"}
    if site.config_server:
        url = urlsplit(site.config_server)
        scheme = url.scheme.lower()
        host = url.hostname or ""
        settings["download protocol"] = scheme.upper()
        if scheme == "tftp":
            settings["tftp server"] = host
        elif scheme in ("http", "https"):
            settings[f"{scheme} server"] = host
            settings[f"{scheme} path"] = url.path.strip("/")
            settings[f"{scheme} port"] = str(url.port or (443 if scheme == "https" else 80))
        elif scheme == "ftp":
            settings["ftp server"] = host
            settings["ftp path"] = url.path.strip("/")
            if url.username:
                settings["ftp username"] = unquote(url.username)
                settings["ftp password"] = unquote(url.password or "")
    if site.resync_time:
        settings["auto resync mode"] = "1"
        settings["auto resync time"] = site.resync_time
    else:
        settings["auto resync mode"] = "0"
    return settings


def _time(site: SiteView, year: int | None = None) -> dict[str, str]:
    settings = {"time server disabled": "0" if site.ntp_servers else "1"}
    for index, server in enumerate(site.ntp_servers[:3], start=1):
        settings[f"time server{index}"] = server
    settings.update(aastra_timezone(site.timezone, year))
    return settings


def _sip_global(site: SiteView) -> dict[str, str]:
    out_of_band, method = DTMF[site.dtmf_method]
    settings = {
        "sip proxy ip": site.sip_server,
        "sip proxy port": str(site.sip_port),
        "sip registrar ip": site.sip_server,
        "sip registrar port": str(site.sip_port),
        "sip registration period": str(site.registration_period),
        "sip transport protocol": TRANSPORT[site.sip_transport],
        "sip out-of-band dtmf": out_of_band,
        "sip dtmf method": method,
    }
    if site.dial_plan:
        settings["sip dial plan"] = site.dial_plan
    if site.digit_timeout:
        settings["sip digit timeout"] = str(site.digit_timeout)
    if site.voicemail:
        settings["sip vmail"] = site.voicemail
    if site.conference:
        settings["sip centralized conf"] = site.conference
    codecs = [c for c in site.codecs if c in CODEC_PAYLOAD]
    if codecs:
        settings["sip use basic codecs"] = "0"
        settings["sip customized codec"] = ",".join(
            f"payload={CODEC_PAYLOAD[c]};ptime=20;silsupp=off" for c in codecs
        )
    return settings


def _lowered(settings: Mapping[str, str]) -> dict[str, str]:
    """Aastra setting names are case-insensitive: one spelling per name. The values are
    raw, written as the admin gave them (a quoted one stays quoted)."""
    return {name.lower().strip(): Raw(value) for name, value in settings.items()}

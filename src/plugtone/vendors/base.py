"""The vendor plug-in contract.

A vendor plug-in is data plus small functions: the models it knows, how to tell its
requests apart (file names, User-Agent), and how to render its files from the
neutral views below. It never touches the store, a socket or another vendor: the
resolver hands it frozen views and gets bytes back. Plug-ins register through the
``plugtone.vendors`` entry point group, so a third party can add a vendor without
touching plugtone.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from plugtone.vendors.bootstrap import BootstrapAnswer, BootstrapRef, BootstrapTarget
    from plugtone.vendors.key_layout import KeyLayout

NEUTRAL_KEY_TYPES = (
    "line",
    "speeddial",
    "blf",
    "park",
    "directory",
    "callers",
    "voicemail",
    "transfer",
    "conference",
    "dnd",
    "flash",
    "services",
    "xml",
    "empty",
)
"""Key types every plug-in understands. A plug-in maps each onto its own key type."""


@dataclass(frozen=True)
class KeyView:
    """One programmable key in the neutral model."""

    type: str
    value: str | None = None
    label: str | None = None
    line: int | None = None
    family: str | None = None
    slot: int | None = None


def dialled_number(key: KeyView, site: SiteView) -> tuple[str | None, str]:
    """What a speed-dial or voicemail key dials, and why it dials nothing when so.

    A voicemail key without a value dials the site's voicemail code; any other key
    dials its value. The reason (``"the site has no voicemail code"``) reads after the
    key's name in a finding: ``key 3 (voicemail): the site has no voicemail code to dial``.
    """
    number = key.value or (site.voicemail if key.type == "voicemail" else None)
    if number:
        return number, ""
    if key.type == "voicemail":
        return None, "the site has no voicemail code to dial"
    return None, "it has no number (value) to dial"


@dataclass(frozen=True)
class ContactView:
    """One entry of a phone directory: a site's extension or a directory contact."""

    name: str
    number: str


@dataclass(frozen=True)
class Image:
    """An image an admin gave (PNG, JPEG, ...), as uploaded; plug-ins convert it."""

    sha256: str
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class FirmwareFile:
    """One file of a firmware release, kept by content (SHA-256) under the data directory."""

    name: str
    """The name phones ask for (``6757i.st``, ``2345-12600-001.sip.ld``, ``P0S3-8-12-00.sb2``)."""
    sha256: str
    size: int
    role: str | None = None
    """What the file is in its release, in the plug-in's own words (as
    :meth:`VendorPlugin.firmware_role` and :meth:`VendorPlugin.arrange_release` gave it
    when the release was added)."""


@dataclass(frozen=True)
class FirmwareView:
    """The release a phone is pinned to: the most specific pin (phone, site, model) wins."""

    vendor: str
    version: str
    models: tuple[str, ...]
    """The inventory model names the release is for; it is never served to other models."""
    files: tuple[FirmwareFile, ...]

    def file(self, name: str) -> FirmwareFile | None:
        """The release's file called ``name``, in any case (phones differ in case)."""
        wanted = name.lower()
        return next((item for item in self.files if item.name.lower() == wanted), None)


@dataclass(frozen=True)
class FirmwareDevice:
    """What plugtone knows of one phone's firmware when it asks for a firmware file.

    Kept per device and per pin: a new pin starts again from nothing.
    """

    running_version: str | None
    """The version the phone runs, when known to be current: from this request's
    User-Agent, or remembered (User-Agent, TR-069) since the pinned release was last
    delivered. ``None`` when unknown or possibly stale."""
    delivered: bool
    """The pinned release was sent to the phone completely since the pin last changed."""
    attempts: int
    """Times a file of the pinned release was offered since the pin last changed."""


@dataclass(frozen=True)
class BrandingFile:
    """A file of a branding set (wallpaper, ring tone, ...), served as given."""

    name: str
    sha256: str
    size: int
    media_type: str


@dataclass(frozen=True)
class BrandingView:
    """A named set of branding (logo, files, vendor settings) given to sites or phones.

    Files are served to anyone at :meth:`path` (branding is not secret); plug-ins
    point their phones at those paths, or convert the logo to their own format.
    """

    name: str
    logo: Image | None = None
    files: tuple[BrandingFile, ...] = ()
    vendor_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def path(self, file_name: str) -> str:
        """The served path of one of the set's files, relative to the server root."""
        return f"branding/{self.name}/{file_name}"


@dataclass(frozen=True)
class SiteView:
    """Everything a site contributes to its phones' files."""

    name: str
    sip_server: str
    sip_port: int = 5060
    sip_transport: str = "udp"
    timezone: str = "UTC"
    ntp_servers: tuple[str, ...] = ()
    dial_plan: str | None = None
    digit_timeout: int | None = None
    voicemail: str | None = None
    conference: str | None = None
    dtmf_method: str = "rfc2833"
    registration_period: int = 3600
    codecs: tuple[str, ...] = ()
    config_server: str | None = None
    resync_time: str | None = None
    nat: bool = False
    """Phones sit behind NAT from the SIP server's point of view (keepalives, rport)."""
    public_url: str | None = None
    """plugtone's HTTP(S) base URL as this site's phones reach it (directories, logos)."""
    keys: tuple[KeyView, ...] = ()
    directory: tuple[ContactView, ...] = ()
    """The site's directory contacts, in inventory order."""
    members: tuple[ContactView, ...] = ()
    """The site's extensions (number and name), sorted by number: the internal directory."""
    vendor_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    trusted_networks: tuple[object, ...] = ()
    """The site's trusted networks as the inventory spells them (the resolver reads
    them; plug-ins have no use for them)."""
    tr069: Mapping[str, Any] | None = None
    """The site's TR-069 ACS settings when it enables the ACS (``enabled``,
    ``bootstrap_username``, ``periodic_inform_interval``, ``acs_url``...), else ``None``."""
    tr069_password: str | None = field(default=None, repr=False)
    """The site's bootstrap ACS password: a secret."""


@dataclass(frozen=True)
class LineView:
    """A SIP account on one line of a phone. ``password`` is a secret."""

    index: int
    number: str
    name: str | None
    auth_user: str
    password: str | None = field(repr=False)


@dataclass(frozen=True)
class PhoneView:
    """One assigned phone with everything needed to render its files.

    ``model_settings`` and ``phone_settings`` are raw vendor keys at those levels
    (for this phone's vendor only); the site's are in ``site.vendor_settings``.
    """

    mac: str
    model: str
    vendor: str
    site: SiteView
    lines: tuple[LineView, ...]
    keys: tuple[KeyView, ...]
    model_settings: Mapping[str, str] = field(default_factory=dict)
    phone_settings: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    firmware: FirmwareView | None = None
    """The pinned release; ``None`` means leave the phone's firmware alone."""
    branding: BrandingView | None = None
    """The phone's own branding set, else its site's."""
    http_user: str | None = None
    """The phone's own provisioning login, when it has one (see
    :attr:`VendorPlugin.device_credentials`)."""
    http_password: str | None = field(default=None, repr=False)
    """Its password: a secret."""
    running_release: FirmwareView | None = None
    """For a phone with no pin (``firmware`` is ``None``): a stored release of its vendor
    for its model holding release configuration files (see
    :meth:`VendorPlugin.is_release_config`) that the phone is known to run, from this
    request's User-Agent or the version plugtone remembers. Device state, not
    inventory: set per request by the resolver, which keys its caches by it."""

    @property
    def effective_keys(self) -> tuple[KeyView, ...]:
        """A phone's own keys, else its site's."""
        return self.keys or self.site.keys

    def vendor_settings(self) -> dict[str, str]:
        """Raw keys merged by level: site, branding, model, then phone (last wins)."""
        merged: dict[str, str] = {}
        merged.update(self.site.vendor_settings.get(self.vendor, {}))
        if self.branding is not None:
            merged.update(self.branding.vendor_settings.get(self.vendor, {}))
        merged.update(self.model_settings)
        merged.update(self.phone_settings)
        return merged


@dataclass(frozen=True)
class ModelView:
    """The inventory's defaults for one model, for files every phone of it shares."""

    model: str
    vendor: str
    settings: Mapping[str, str] = field(default_factory=dict)


class FileScope(Enum):
    """Who a vendor file is for; decides whether it may be served without a phone."""

    COMMON = "common"
    """The same for every phone of the vendor: never holds a secret."""
    MODEL = "model"
    """The same for every phone of one model: never holds a secret."""
    SHARED = "shared"
    """A file every phone of the vendor asks for under one name (``OS79XX.TXT``) whose
    content follows the requester's own firmware pin or branding when plugtone knows
    who asks (by User-Agent or by the address of an earlier request naming its MAC).
    Rendered with ``phone=None`` for an unknown requester. Never holds a secret."""
    DEVICE = "device"
    """One phone's own file: served only to an assigned phone."""
    FIRMWARE = "firmware"
    """A file of a firmware release: sent only to an identified, assigned phone whose
    pinned release holds it and is for its model, when :meth:`VendorPlugin.offer_firmware`
    agrees. Never rendered, never cached with the inventory (it depends on device state)."""


@dataclass(frozen=True)
class FileRef:
    """A request path a plug-in recognised as one of its files."""

    vendor: str
    name: str
    """The canonical file name the plug-in uses internally (for instance ``mac.cfg``)."""
    scope: FileScope
    mac: str | None = None
    model: str | None = None
    version: str | None = None
    """For FIRMWARE files asked for under a versioned path (``firmware/<version>/...``)."""


@dataclass(frozen=True)
class UploadRef:
    """A path a plug-in accepts as an upload from a phone (logs, overrides, directories)."""

    vendor: str
    mac: str
    name: str
    """The file name it is stored under, per device (``<MAC>-boot.log``)."""
    max_bytes: int = 1024 * 1024
    append_allowed: bool = True


@dataclass(frozen=True)
class DeviceFacts:
    """What a request tells about the device making it (User-Agent, file name)."""

    vendor: str
    mac: str | None = None
    model: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True)
class Finding:
    """Something that would keep a phone from working as its inventory says.

    Plug-ins return these from :meth:`VendorPlugin.check_phone`; the core names the
    phone, so the message names the key, line, field or zone and the reason
    (``key 12 (blf 201): the 6867i's bottom softkeys cannot show a BLF``).
    """

    message: str
    refuse: bool = True
    """``True``: an apply that would leave the phone so is refused, nothing changed.
    ``False``: a warning (``plugtone check`` lists it; the phone still gets its
    files, degraded in the way the message says)."""


@dataclass(frozen=True)
class ResyncNotify:
    """The SIP NOTIFY a vendor's phones take as "fetch your files again" (pushed resync).

    The core builds and sends the request (``plugtone resync``); the plug-in only says
    what its phones expect in it and what they need configured to act on it, since a
    phone that answers 200 may still do nothing (a Polycom that sees no changed file,
    a Cisco whose ``syncinfo.xml`` is unchanged).
    """

    event: str
    """The Event header's value (``check-sync``)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra headers (name, value) the vendor wants in the request, if any."""
    needs: str = ""
    """What the phone needs configured, or what it does, for the NOTIFY to take effect
    (shown by ``plugtone resync`` help and the docs)."""


@dataclass(frozen=True)
class ProvisioningServer:
    """Where a site's phones find plugtone, as a DHCP server should tell them."""

    host: str
    """A host name or an IPv4 address (``prov.example.com``, ``10.0.0.5``)."""
    addresses: tuple[str, ...] = ()
    """Its IPv4 addresses, for options that take only addresses; empty for a name the
    admin gave no address for (plugtone does not resolve names into a snippet)."""
    http_url: str | None = None
    """plugtone's HTTP(S) base URL for these phones (the site's ``public_url``)."""
    ftp_port: int | None = None
    """plugtone's FTP port when not 21."""
    ftp_login: tuple[str, str] | None = None
    """The FTP login the phones should use; ``None``: the vendor's factory account."""


@dataclass(frozen=True)
class DhcpOption:
    """One DHCPv4 option a vendor's phones want: ``text`` (a string) or ``ip-list``."""

    code: int
    kind: str
    value: str | tuple[str, ...]


@dataclass(frozen=True)
class DhcpNeeds:
    """What a vendor's phones need from DHCP, and how to recognise them (option 60).

    The core writes it in each DHCP server's syntax and never knows a vendor.
    """

    prefixes: tuple[bytes, ...]
    """Option 60 (vendor class identifier) starts with one of these (ISC, Kea, Windows)."""
    contains: str
    """A text every such option 60 contains, for servers that match substrings only
    (dnsmasq)."""
    options: tuple[DhcpOption, ...]
    note: str = ""
    """Where the facts come from and what the admin should know (written as a comment)."""


@dataclass(frozen=True)
class ModelSpec:
    """One model a plug-in supports."""

    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""


class VendorPlugin(ABC):
    """What every vendor plug-in provides. Subclasses fill in the class attributes."""

    name: str
    """Short lower-case vendor id, used in the inventory (``vendor_settings: {aastra: ...}``)."""
    label: str
    """The name people know the vendor by."""
    models: tuple[ModelSpec, ...]
    factory_ftp_accounts: tuple[tuple[str, str], ...] = ()
    """``(user, password)`` the vendor's phones use for FTP out of the box; plugtone's FTP
    server accepts them unless the admin turns factory accounts off."""
    mac_prefixes: tuple[str, ...] = ()
    """The vendor's OUIs (six upper-case hex digits). A stranger's request for a name
    several vendors share (``<MAC>.cfg``) is answered as the vendor owning the MAC's
    prefix would answer it, never by what the inventory knows of the MAC."""
    device_credentials: bool = False
    """Whether this vendor's phones can be given their own provisioning login in their
    files (and then present it: HTTP Digest, FTP). Vendors that cannot rely on trusted
    networks and provisioning windows."""
    resync_notify: ResyncNotify | None = None
    """The SIP NOTIFY that makes this vendor's phones resync (``plugtone resync``);
    ``None`` for a vendor whose phones have none."""

    def __init__(self) -> None:
        self._models: dict[str, str] = {}
        for spec in self.models:
            for alias in (spec.name, *spec.aliases):
                self._models[_model_token(alias)] = spec.name

    def canonical_model(self, name: str) -> str | None:
        """The inventory's model name for ``name`` (a model or one of its aliases)."""
        return self._models.get(_model_token(name))

    @abstractmethod
    def match(self, path: str) -> FileRef | None:
        """Recognise ``path`` (no leading slash, any case) as one of this vendor's files."""

    @abstractmethod
    def identify(self, user_agent: str | None) -> DeviceFacts | None:
        """Extract MAC, model and firmware version from a User-Agent, if it is ours."""

    @abstractmethod
    def render(
        self, ref: FileRef, phone: PhoneView | None, model: ModelView | None
    ) -> bytes | None:
        """The file's bytes; ``None`` for a file this vendor has nothing to say in.

        ``phone`` is set for DEVICE files (always) and for SHARED files when the
        requester is a known, assigned phone; COMMON and MODEL files get ``None``, so
        every phone gets the same bytes whatever transport it uses. FIRMWARE files are
        never rendered (see :meth:`offer_firmware`).
        """

    def follow_ups(self, ref: FileRef, phone: PhoneView) -> tuple[str, ...]:
        """The paths ``phone`` asks for next, once it has read its file ``ref``: the
        files ``ref`` names for it, in its boot sequence. The resolver renders them in
        the same worker-thread visit as ``ref`` (:meth:`Resolver.resolve`), so the
        requests that follow are answered from memory on the event loop instead of each
        going to a thread. Only what the phone is told to fetch, never a guess: a file
        rendered and not asked for is CPU lost. Default: none."""
        return ()

    @abstractmethod
    def served_files(self, models: Iterable[str], macs: Iterable[str]) -> list[str]:
        """Every path this vendor serves for phones of ``models`` with ``macs``.

        Used by ``plugtone export-tree`` to write a static tree for people who keep
        their own TFTP server, and by benchmarks that compare against such servers.
        """

    def stranger_file(self, ref: FileRef) -> bytes | None:
        """What a stranger gets for a DEVICE file, whether or not its MAC is a phone.

        The same bytes for every MAC apart from the MAC itself (so the same size): a
        file a factory-fresh phone accepts that carries nothing of the inventory. What
        is left of a phone's own file once its credentials are removed still names its
        extension, its SIP user and its server, which would both tell a known MAC from
        an unknown one and hand out half of each credential. ``None`` (the default)
        answers not-found for every MAC alike.
        """
        return None

    def holds_secrets(self, ref: FileRef, phone: PhoneView) -> bool:
        """Whether ``phone``'s ``ref`` as rendered carries a secret (for the audit of
        disclosures). The default: a DEVICE file of a phone with any credential."""
        if ref.scope is not FileScope.DEVICE:
            return False
        return bool(phone.http_password) or any(line.password for line in phone.lines)

    def is_secret_setting(self, name: str) -> bool:
        """Whether a raw vendor setting called ``name`` holds a secret; strangers get
        files rendered without such settings. The default knows none."""
        return False

    def match_folder(self, path: str) -> bool:
        """Whether ``path`` (no leading slash) is a folder this vendor serves files in,
        such as ``firmware/<version>``; FTP clients change into it before RETR."""
        return False

    def match_upload(self, path: str) -> UploadRef | None:
        """Recognise ``path`` as a file this vendor's phones upload; none by default."""
        return None

    def validate_settings(self, settings: Mapping[str, str]) -> list[str]:
        """Problems with raw vendor settings (empty when they are acceptable)."""
        return []

    def check_phone(self, phone: PhoneView) -> list[Finding]:
        """What in ``phone``'s inventory this vendor's files cannot carry as asked.

        Run on every phone an apply touches (after the writes, inside the transaction,
        so it sees the phone as it would be): a key the model cannot show, a value
        with a character the file format cannot hold, a time zone the firmware cannot
        express. A refusing finding rolls the apply back; never drop such a thing
        silently at render time. ``plugtone check`` lists every finding of the fleet.
        """
        return []

    def key_layout(self, phone: PhoneView) -> KeyLayout | None:
        """``phone``'s keys as its model's hardware arranges them, placed where this
        vendor's files put them (:mod:`plugtone.vendors.key_layout`), for the admin UI;
        ``None`` (the default) when the plug-in does not describe its models' keys."""
        return None

    def neutral_setting_names(self) -> Mapping[str, tuple[str, ...]]:
        """The raw setting names each neutral setting is written as (``fnmatch``
        patterns, compared after :meth:`setting_name_key`), keyed by the neutral name
        (``sip_server``, ``timezone``, ...): a raw key matching one overrides that
        neutral value in the files, which the admin UI shows. Empty by default."""
        return {}

    def setting_name_key(self, name: str) -> str:
        """How this vendor compares setting names (case-sensitive by default)."""
        return name.strip()

    def dhcp_needs(self, server: ProvisioningServer) -> DhcpNeeds | None:
        """The DHCP options this vendor's phones need to find ``server`` (``plugtone
        dhcp``); ``None`` (the default) for a vendor with nothing to ask of DHCP."""
        return None

    def cwmp_map(self) -> Any:
        """This vendor's TR-069 data-model map (a :class:`plugtone.acs.datamodel.CwmpMap`):
        how the ACS recognises its CPEs and which parameters carry a phone's inventory;
        ``None`` (the default) for a vendor whose phones the ACS does not manage."""
        return None

    # -- firmware

    def firmware_role(self, name: str) -> str | None:
        """What a file called ``name`` is in one of this vendor's releases, or ``None``.

        ``plugtone firmware add`` keeps only files with a role (so the files that matter
        are picked out of a vendor zip) and refuses a release with none. Roles are the
        plug-in's own words (``application``, ``bootrom``, ``loads``...).
        """
        return None

    def is_release_config(self, name: str) -> bool:
        """Whether a release file called ``name`` is a configuration file the vendor ships
        with the release (a stock ``sip.cfg``) rather than an image.

        Such a file is not secret and delivers nothing: the resolver sends it as stored,
        by name, to an identified, assigned phone pinned to a release that holds it, or
        with no pin and known to run one (:attr:`PhoneView.running_release`), with no
        firmware bookkeeping. The plug-in's ``match`` returns a FIRMWARE ref for it.
        """
        return False

    def arrange_release(
        self, roles: Mapping[str, str], read: Callable[[str], bytes]
    ) -> dict[str, str]:
        """The final role of each file of a release being added, from its
        :meth:`firmware_role` (``roles``, by file name) and, where names are not enough,
        its content: ``read(name)`` gives a small file's bytes (a vendor's own master
        file). Raise :class:`ValueError` naming the file to refuse the release. The
        default keeps the roles as they are."""
        return dict(roles)

    def check_release(self, models: Sequence[str], names: Sequence[str]) -> list[str]:
        """Problems with a release of these files for these (canonical) models."""
        return []

    def pin_risks(self, release: FirmwareView) -> list[str]:
        """Why pinning ``release`` could strand phones (a downgrade floor, ...).

        A pin with risks is refused unless the admin forces it.
        """
        return []

    def version_matches(self, running: str, pinned: str) -> bool:
        """Whether a reported running version is the pinned release's version."""
        return running.strip().lower() == pinned.strip().lower()

    def completes_delivery(self, name: str) -> bool:
        """Whether sending the file ``name`` completely means the release was delivered.

        A release of several files (loader, loads list, image) is delivered when its
        last, decisive file has gone out; the default suits one-file releases.
        """
        return True

    def offer_firmware(
        self, ref: FileRef, phone: PhoneView, device: FirmwareDevice
    ) -> FirmwareFile | None:
        """The file to send for a FIRMWARE request, or ``None`` for a plain not-found.

        The core has already checked that the phone is assigned, pinned, and that the
        release is for its model. The default serves the pinned release's file of that
        name to whoever asks, which suits phones that compare versions themselves.
        """
        if phone.firmware is None:
            return None
        if ref.version is not None and ref.version != phone.firmware.version:
            return None
        return phone.firmware.file(ref.name)

    # -- the redirection service (plugtone.redirect; neutral types in vendors/bootstrap.py)

    def bootstrap_match(self, path: str) -> BootstrapRef | None:
        """Recognise ``path`` (no leading slash) as a file this vendor's factory-fresh
        phones ask the redirection service for; ``None`` (the default): none."""
        return None

    def bootstrap_file(self, ref: BootstrapRef, target: BootstrapTarget | None
                       ) -> BootstrapAnswer | None:  # fmt: skip
        """The answer to ``ref``: ``target`` is ``None`` for a MAC that is unknown,
        unregistered or has no server, and then the answer is the same for every MAC
        (``None``: not found)."""
        return None


PATH_SEPARATOR = re.compile(r"[/\\]")
"""Folder separators a request path or a zip member may use."""


def path_folders(path: str) -> list[str]:
    """The folders ``path`` sits in (``[]`` at the top), split on either separator."""
    if "/" not in path and "\\" not in path:
        return []  # most names phones ask for: no regex to run
    return PATH_SEPARATOR.split(path)[:-1]


def path_basename(path: str) -> str:
    """The last segment of ``path``, whichever separator it uses."""
    if "/" not in path and "\\" not in path:
        return path
    return PATH_SEPARATOR.split(path)[-1]


def hex_mac(digits: str) -> str | None:
    """:func:`plugtone.macaddr.normalize_mac` of exactly 12 hex digits (what a file
    name's pattern matched), ``None`` where it raises (the all-zero placeholder, a
    multicast address): the same answer without its notation checks, which every
    request path paid for twice (a test holds the two together)."""
    mac = digits.upper()
    if mac == "000000000000" or int(mac[:2], 16) & 1:
        return None
    return mac


def url_password(value: str) -> bool:
    """Whether ``value`` is a URL carrying a password (``ftp://user:pw@host/x``): a secret
    whatever the setting is called."""
    if "@" not in value or "://" not in value:
        return False
    try:
        return bool(urlsplit(value.strip()).password)
    except ValueError:
        return False


def _model_token(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).lower()

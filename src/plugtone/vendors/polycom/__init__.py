"""Polycom SoundPoint IP and SoundStation IP phones (SIP application 3.x).

Boot sequence: the BootROM fetches the master file ``<MAC>.cfg`` (lower-case MAC; any
case is matched), or ``000000000000.cfg`` when there is none, loads the image named
by ``APP_FILE_PATH``, and uploads ``<MAC>-boot.log``; the application then reads every
file of ``CONFIG_FILES`` in order, **the first file listed winning** for a parameter
set twice, then ``<MAC>-directory.xml`` (else ``000000000000-directory.xml``).

Files served, and why their names are not the seed's:

- ``<MAC>.cfg``: the master file, ``CONFIG_FILES="<mac>-reg.cfg, <mac>-site.cfg"``,
  then the vendor's stock files when plugtone has them for the phone.
- ``<MAC>-reg.cfg``: the phone's lines (``reg.N.*``, ``msg.mwi.N.*``) and the raw
  ``polycom`` settings no other file derives. The seed names this file after the
  extension (``201.cfg``), but extension numbers repeat across sites and a TFTP or
  FTP request for ``201.cfg`` carries no MAC, so plugtone could not tell which 201 is
  meant; a MAC in the name makes it one phone's file, served only to that phone.
- ``<MAC>-site.cfg``: what the site gives its phones (the seed's ``altigen.cfg``).
  A file named after the site would be requested anonymously too, and common files
  are rendered without knowing the requester, so it could not know the site's
  settings; rendering it per phone costs nothing and stays correct.
- ``phone1.cfg``, ``sip.cfg`` (and any other ``.cfg`` a release holds): the vendor's
  stock files, kept with their release and served as stored to a phone pinned to it
  or known to run it (see :mod:`.stock`); listed last (as the seed does) so the
  release's defaults rank below plugtone's. A master file never lists a file plugtone
  would not serve: with none for the phone, the site file carries what a SIP 3.x
  phone needs from them (:mod:`.essentials`), and ``check_phone`` warns.
- ``000000000000.cfg``: the master file for phones plugtone does not know; it lists
  no file at all (stock files go only to phones plugtone knows), so an unassigned
  phone boots on what it has, with no account and no secret.
- ``<MAC>-directory.xml`` / ``000000000000-directory.xml``: contacts (see
  :mod:`.directory`); the common one is empty, having no site to list.

Precedence: every parameter appears in exactly one of a phone's files, raw settings
(merged site, then model, then phone) replacing the derived value in place, so the
inventory's layering holds whatever order the phone reads files in. Raw
``APP_FILE_PATH`` and ``APP_FILE_PATH_<MODEL TOKEN>`` settings go to the master file.

Firmware (see :mod:`.firmware`): a pinned phone's master file names its release's
image as ``firmware/<version>/<part number>.sip.ld`` (else ``.../sip.ld``), which
replaces any raw ``APP_FILE_PATH`` for that phone; those paths and the BootROM's own
names at the top (``<part number>.bootrom.ld``, ``bootrom.ld``, ``sip.ld``, ...) are
FIRMWARE files. A branding set's picture becomes the background of the models that
have one (see :mod:`.branding`); its raw ``polycom`` settings go where any raw
setting goes.

Uploads accepted (by name, top level only, size-capped): ``<MAC>-boot.log`` and
``<MAC>-app.log`` (appended), ``<MAC>-phone.cfg`` and ``<MAC>-web.cfg`` (settings made
on the phone or its web page), ``<MAC>-directory.xml`` (contacts edited on the phone).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from plugtone.vendors.base import (
    DeviceFacts,
    FileRef,
    FileScope,
    Finding,
    FirmwareDevice,
    FirmwareFile,
    FirmwareView,
    ModelView,
    PhoneView,
    ResyncNotify,
    SiteView,
    UploadRef,
    VendorPlugin,
    hex_mac,
)
from plugtone.vendors.key_layout import KeyLayout
from plugtone.vendors.memo import ViewMemo
from plugtone.vendors.polycom import dhcp, firmware, stock
from plugtone.vendors.polycom.branding import background_parameters
from plugtone.vendors.polycom.checks import phone_findings
from plugtone.vendors.polycom.directory import directory_file, phone_directory
from plugtone.vendors.polycom.essentials import essential_parameters
from plugtone.vendors.polycom.key_view import NEUTRAL_NAMES, polycom_key_layout
from plugtone.vendors.polycom.master import master_file
from plugtone.vendors.polycom.models import BY_NAME, MODELS
from plugtone.vendors.polycom.parameters import (
    MASTER_SETTING,
    registration_parameters,
    site_parameters,
    split_settings,
)
from plugtone.vendors.polycom.trust import (
    MAC_PREFIXES,
    STRANGER_NOTE,
    has_secret,
    is_secret_name,
    url_password,
)
from plugtone.vendors.polycom.xmlfile import (
    PARAMETER_NAME,
    config_body,
    config_file,
    grouped,
    with_notes,
    xml_text,
)

COMMON_FILES = {
    "000000000000.cfg": "common.cfg",
    "000000000000-directory.xml": "common-directory.xml",
}
DEVICE_FILE = re.compile(r"([0-9a-f]{12})(\.cfg|-reg\.cfg|-site\.cfg|-directory\.xml)", re.I)
DEVICE_FILES = {
    ".cfg": "mac.cfg",
    "-reg.cfg": "reg.cfg",
    "-site.cfg": "site.cfg",
    "-directory.xml": "directory.xml",
}
DEFAULT_APPLICATION = "sip.ld"

KIB = 1024
UPLOAD_FILE = re.compile(
    r"([0-9a-f]{12})-(boot\.log|app\.log|phone\.cfg|web\.cfg|directory\.xml)", re.I
)
UPLOADS = {
    # kind: (size cap, appending allowed)
    "boot.log": (1024 * KIB, True),
    "app.log": (1024 * KIB, True),
    "phone.cfg": (256 * KIB, False),
    "web.cfg": (256 * KIB, False),
    "directory.xml": (256 * KIB, False),
}

USER_AGENT = re.compile(r"\bPolycom[A-Za-z]+-([A-Za-z]+_?\d+[A-Za-z0-9]*)-UA/(\d[0-9A-Za-z.]*)")
"""``FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0184`` (UCS adds `` Type/...``)."""
CAPITALS = re.compile(r"[A-Z][A-Z0-9_]*")

GENERATED = "generated by plugtone; edit the inventory, not this file"


class PolycomPlugin(VendorPlugin):
    """The vendor side of trust (prefixes, stranger files, secrets, and why no
    provisioning login is rendered) is in :mod:`plugtone.vendors.polycom.trust`."""

    name = "polycom"
    label = "Polycom SoundPoint IP / SoundStation IP"
    models = tuple(model.spec for model in MODELS)
    factory_ftp_accounts = (("PlcmSpIp", "PlcmSpIp"),)  # SoundPoint factory default
    mac_prefixes = MAC_PREFIXES
    device_credentials = False
    """SIP 3.x takes its provisioning login from the BootROM (setup menu or boot server
    address), not from configuration files; ``device.prov.*`` is UC Software 3.3 and
    later. The phones rely on trusted networks and windows, or on a login typed into the
    phone, which plugtone's FTP accepts as the phone's own (see :mod:`.trust`)."""
    resync_notify = ResyncNotify(
        "check-sync",
        needs=(
            "restarts only if a file changed, unless"
            " voIpProt.SIP.specialEvent.checkSync.alwaysReboot is 1; a phone whose"
            " voIpProt.SIP.requestValidation asks NOTIFY for a digest refuses it"
        ),
    )
    """``Event: check-sync`` with ``voIpProt.SIP.specialEvent.checkSync.alwaysReboot``
    (SIP 3.x ``<specialEvent/>``, default 0: restart only when the boot server's files
    changed; 1: always restart), as Polycom's FAQ "Reboot the phone remotely" and
    deployments quoting it set it."""

    def dhcp_needs(self, server: dhcp.ProvisioningServer) -> dhcp.DhcpNeeds:
        """Option 60 and the options the phones read their server from: see :mod:`.dhcp`."""
        return dhcp.dhcp_needs(server)

    def match(self, path: str) -> FileRef | None:
        found_firmware = firmware.match_firmware(self.name, path)
        if found_firmware is not None:
            return found_firmware
        if "/" in path:
            return None
        common = COMMON_FILES.get(path.lower())
        if common:
            return FileRef(self.name, common, FileScope.COMMON)
        found = DEVICE_FILE.fullmatch(path)
        if not found:
            return stock.match_stock(self.name, path)
        mac = hex_mac(found.group(1))  # the pattern matched exactly 12 hex digits
        if mac is None:
            return None
        return FileRef(self.name, DEVICE_FILES[found.group(2).lower()], FileScope.DEVICE, mac=mac)

    def bootstrap_match(self, path: str):
        """The redirection service's files: see :mod:`.bootstrap`."""
        from plugtone.vendors.polycom import bootstrap

        return bootstrap.bootstrap_match(self, path)

    def bootstrap_file(self, ref, target):
        from plugtone.vendors.polycom import bootstrap

        return bootstrap.bootstrap_file(self, ref, target)

    def match_folder(self, path: str) -> bool:
        return firmware.match_folder(path)

    def served_files(self, models: Iterable[str], macs: Iterable[str]) -> list[str]:
        paths = list(COMMON_FILES)
        for mac in sorted({mac.lower() for mac in macs}):
            paths += [f"{mac}{suffix}" for suffix in DEVICE_FILES]
        return paths

    def identify(self, user_agent: str | None) -> DeviceFacts | None:
        found = USER_AGENT.search(user_agent or "")
        if not found:
            return None
        token, version = found.groups()
        # The updater reports its own version, not the application's.
        if "Type/Updater" in (user_agent or ""):
            version = None
        return DeviceFacts(
            vendor=self.name,
            model=self.canonical_model(token) or token,
            firmware_version=version,
        )

    def match_upload(self, path: str) -> UploadRef | None:
        found = UPLOAD_FILE.fullmatch(path)
        if not found:
            return None
        mac = hex_mac(found.group(1))
        if mac is None:
            return None
        kind = found.group(2).lower()
        max_bytes, append = UPLOADS[kind]
        return UploadRef(self.name, mac, f"{mac.lower()}-{kind}", max_bytes, append)

    def validate_settings(self, settings: Mapping[str, str]) -> list[str]:
        problems = []
        for name, value in settings.items():
            if not PARAMETER_NAME.fullmatch(name):
                problems.append(
                    f"{name!r} is not a Polycom parameter name (letters, digits, dots and "
                    "underscores, starting with a letter, such as tone.dtmf.rfc2833Payload)"
                )
            elif CAPITALS.fullmatch(name) and not MASTER_SETTING.fullmatch(name):
                problems.append(
                    f"{name!r}: plugtone writes the master file itself; of its attributes "
                    "only APP_FILE_PATH and APP_FILE_PATH_<model token> may be set"
                )
            if xml_text(value) != value:
                problems.append(f"{name!r}: control characters cannot go into a Polycom file")
        return problems

    def check_phone(self, phone: PhoneView) -> list[Finding]:
        return [*phone_findings(phone), *stock.stock_findings(phone)]

    def firmware_role(self, name: str) -> str | None:
        return firmware.firmware_role(name)

    def is_release_config(self, name: str) -> bool:
        """The stock ``.cfg`` files of a release (not its own master file)."""
        return firmware.firmware_role(name) == stock.CONFIGURATION

    def arrange_release(
        self, roles: Mapping[str, str], read: Callable[[str], bytes]
    ) -> dict[str, str]:
        """The stock files the release's own master file lists get their place in it."""
        return stock.arrange(roles, read)

    def check_release(self, models: Sequence[str], names: Sequence[str]) -> list[str]:
        return firmware.check_release(models, names)

    def pin_risks(self, release: FirmwareView) -> list[str]:
        return firmware.pin_risks(release)

    def version_matches(self, running: str, pinned: str) -> bool:
        return firmware.version_matches(running, pinned)

    def completes_delivery(self, name: str) -> bool:
        """The application image is what the release is about; BootROM and ``.ver`` files
        go out on the way."""
        return firmware.firmware_role(name) == "application"

    def offer_firmware(
        self, ref: FileRef, phone: PhoneView, device: FirmwareDevice
    ) -> FirmwareFile | None:
        """The default, except that a part-number image goes to its own model only.

        A release for several models holds each one's ``<part number>.sip.ld``; a
        phone asking for another model's (by a misconfigured raw ``APP_FILE_PATH``)
        would flash an image its hardware cannot run.
        """
        if ref.model is not None and ref.model != phone.model:
            return None
        return super().offer_firmware(ref, phone, device)

    def key_layout(self, phone: PhoneView) -> KeyLayout | None:
        """The phone's keys as its model has them (:mod:`.key_view`)."""
        return polycom_key_layout(phone)

    def neutral_setting_names(self) -> Mapping[str, tuple[str, ...]]:
        return NEUTRAL_NAMES

    # -- trust

    def stranger_file(self, ref: FileRef) -> bytes | None:
        if ref.name == "mac.cfg":
            note = f"<mac>.cfg {STRANGER_NOTE}; no configuration file; {GENERATED}"
            return master_file(DEFAULT_APPLICATION, (), {}, [note])
        if ref.name in ("reg.cfg", "site.cfg"):
            note = f"<mac>-{ref.name} {STRANGER_NOTE}; {GENERATED}"
            return config_file("polycomConfig", [note], [])
        if ref.name == "directory.xml":
            return directory_file([], f"<mac>-directory.xml {STRANGER_NOTE}; {GENERATED}")
        return None

    def holds_secrets(self, ref: FileRef, phone: PhoneView) -> bool:
        """The lines file holds the SIP passwords (and any secret raw parameter, which
        lands there); the site file only what the site derives, and a raw value
        replacing it; the master file a secret only in an image URL with a password;
        the directory and the common files none."""
        if ref.scope is not FileScope.DEVICE or ref.mac != phone.mac:
            return False
        if ref.name == "mac.cfg":
            application, per_model, _ = _master_images(phone)
            return any(url_password(image) for image in (application, *per_model.values()))
        if ref.name == "reg.cfg":
            params, overrides = _registration_parameters(phone)
            return has_secret(params) or has_secret(overrides)
        if ref.name == "site.cfg":
            return _site_body(tuple(_site_file_parameters(phone)[0].items()))[1]
        return False

    def is_secret_setting(self, name: str) -> bool:
        return is_secret_name(name)

    def follow_ups(self, ref: FileRef, phone: PhoneView) -> tuple[str, ...]:
        return _follow_ups(ref, phone)

    def render(
        self, ref: FileRef, phone: PhoneView | None, model: ModelView | None
    ) -> bytes | None:
        if ref.scope is FileScope.FIRMWARE:
            return None
        if ref.name == "common.cfg":
            note = f"000000000000.cfg: for phones plugtone does not know; {GENERATED}"
            return master_file(DEFAULT_APPLICATION, (), {}, [note])
        if ref.name == "common-directory.xml":
            return directory_file([], f"000000000000-directory.xml: empty; {GENERATED}")
        if phone is None:
            return None
        mac = phone.mac.lower()
        heading = f"{phone.model} {mac} at site {phone.site.name}; {GENERATED}"
        if ref.name == "mac.cfg":
            return _master(phone, f"{mac}.cfg: {heading}")
        if ref.name == "reg.cfg":
            return _registrations(phone, f"{mac}-reg.cfg: lines of {heading}")
        if ref.name == "site.cfg":
            return _site(phone, f"{mac}-site.cfg: site settings for {heading}")
        if ref.name == "directory.xml":
            note = f"{mac}-directory.xml: contacts for {heading}"
            return phone_directory(phone, note)
        return None


def _follow_ups(ref: FileRef, phone: PhoneView) -> tuple[str, ...]:
    """After the master file, the application reads the two files its ``CONFIG_FILES``
    lists first (:func:`_master`), then ``<MAC>-directory.xml`` (the boot sequence at
    the top of this module)."""
    if ref.name != "mac.cfg" or ref.mac != phone.mac:
        return ()
    mac = phone.mac.lower()
    return (f"{mac}-reg.cfg", f"{mac}-site.cfg", f"{mac}-directory.xml")


def _master(phone: PhoneView, note: str) -> bytes:
    application, per_model, notes = _master_images(phone)
    mac = phone.mac.lower()
    files = (f"{mac}-reg.cfg", f"{mac}-site.cfg", *stock.stock_files(phone))
    return master_file(application, files, per_model, [note, stock.master_note(phone), *notes])


_PHONE_MEMO: ViewMemo = ViewMemo(1024)
"""What a phone view's three files derive, by view and function (see :mod:`..memo`):
the resolver renders a file and then asks whether it holds a secret, and the lines
and site files derive the same parameters, so each was derived four times a phone.
A phone's files are asked within seconds of each other, so a thousand views is room."""
_SITE_MEMO: ViewMemo = ViewMemo(4096)
"""What a site view gives its phones of one model in one year (``site_parameters``):
the same for each of a site's phones."""


def _settings(phone: PhoneView) -> tuple[dict[str, str], dict[str, str]]:
    """The phone's raw settings, split as :func:`split_settings` does (not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: split_settings(phone.vendor_settings()), "settings")


def _master_images(phone: PhoneView) -> tuple[str, dict[str, str], list[str]]:
    """``(APP_FILE_PATH, {model token: image}, notes)`` of the phone's master file."""
    master = dict(_settings(phone)[0])
    application = master.pop("APP_FILE_PATH", DEFAULT_APPLICATION)
    per_model = {}
    for name, image in master.items():
        found = MASTER_SETTING.fullmatch(name)
        if found and found.group(1):
            per_model[found.group(1)] = image
    notes: list[str] = []
    release = phone.firmware
    if release is not None:
        pinned = firmware.pinned_application(phone)
        if pinned is None:
            notes.append(
                f"pinned release {release.version} has no application for {phone.model}; "
                "APP_FILE_PATH left as configured"
            )
        else:
            # The pin is the checked way to choose an image: it wins over raw settings,
            # including this model's own element, which the phone prefers.
            application = pinned
            spec = BY_NAME.get(phone.model)
            if spec is not None and spec.token in per_model:
                per_model[spec.token] = pinned
            notes.append(f"application: pinned release {release.version}")
    return application, per_model, notes


def _registrations(phone: PhoneView, note: str) -> bytes:
    params, overrides = _registration_parameters(phone)
    return config_file("polycomConfig", [note], [*grouped(params), ("overrides", overrides)])


def _registration_parameters(phone: PhoneView) -> tuple[dict[str, str], dict[str, str]]:
    """Lines, plus the raw settings that neither this file nor the site file derives
    (kept per phone view: not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: _derive_registration(phone), ("registration", _year()))


def _derive_registration(phone: PhoneView) -> tuple[dict[str, str], dict[str, str]]:
    _, raw = _settings(phone)
    params = registration_parameters(phone)
    site_params, _ = _derived_site_parameters(phone)
    overrides = {}
    for name, value in raw.items():
        if name in params:
            params[name] = value
        elif name not in site_params:
            overrides[name] = value
    return params, overrides


def _site(phone: PhoneView, note: str) -> bytes:
    params, notes = _site_file_parameters(phone)
    return with_notes([note, *notes], _site_body(tuple(params.items()))[0])


@lru_cache(maxsize=1024)
def _site_body(params: tuple[tuple[str, str], ...]) -> tuple[str, bool]:
    """The site file's root element as text, and whether it holds a secret, by the
    parameters themselves: the same for every phone of a site and model with the same
    raw settings (the file's notes, which name the phone, are written around it), so
    grouping, escaping and secret checks run once for the lot. Keyed by value, so an
    edited site can only ever meet its own text. Sites boot together: a thousand is room."""
    settings = dict(params)
    return config_body("polycomConfig", grouped(settings)), has_secret(settings)


def _site_file_parameters(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """The site file's parameters: derived ones, a raw setting replacing one in place
    (kept per phone view: not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: _derive_site_file(phone), ("site file", _year()))


def _derive_site_file(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    _, raw = _settings(phone)
    derived, notes = _derived_site_parameters(phone)
    params = dict(derived)
    for name in params.keys() & raw.keys():
        params[name] = raw[name]
    return params, notes


def _derived_site_parameters(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """:func:`_site_parameters`, kept per phone view (not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: _site_parameters(phone), ("site", _year()))


def _year() -> int:
    """The year whose time zone rules the files give (what ``site_parameters`` takes by
    default): part of every key of what is derived from them."""
    return datetime.now(UTC).year


def _of_site(site: SiteView, model: str) -> tuple[dict[str, str], list[str]]:
    """:func:`site_parameters` for this year, kept per site view (not to be changed)."""
    year = _year()
    return _SITE_MEMO.get(site, lambda: site_parameters(site, year, model=model), (model, year))


def _site_parameters(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """What the site file derives: the site's parameters, the branding's background and,
    for a phone without stock files of a pinned release, what those would give it.

    One function for both files, so a raw setting naming a derived parameter replaces
    it in the site file and never lands a second time in the lines file.
    """
    derived, site_notes = _of_site(phone.site, phone.model)
    params, notes = dict(derived), list(site_notes)
    params.update(background_parameters(phone))
    if stock.needs_essentials(phone):
        ours = registration_parameters(phone)
        for name, value in essential_parameters(phone.lines).items():
            if name not in ours:  # a line's own setting (its key count) stays in its file
                params.setdefault(name, value)
        notes.append(
            "what the stock sip.cfg and phone1.cfg would give (plugtone's essentials, "
            "from the SIP 3.2 administrator's guide): "
            + ("no stock files" if not stock.stock_files(phone) else "kept while the release "
               "is known only from what the phone reports")
        )  # fmt: skip
    return params, notes

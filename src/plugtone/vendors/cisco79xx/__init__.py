"""Cisco 7940/7960 on SIP firmware: ``OS79XX.TXT``, ``SIPDefault.cnf``, ``SIP<MAC>.cnf``.

Boot sequence. An SCCP phone asks for ``CTLSEP<MAC>.tlv``, ``SEP<MAC>.cnf.xml``,
``SIP<MAC>.cnf``, ``MGC<MAC>.cnf`` and then ``XMLDefault.cnf.xml``, whose
``loadInformation`` names the image to load; it fetches ``<image>.loads``, the loader
``.sbn`` and the application ``.sb2``, flashes them and reboots (a phone still on the
original dual-boot mechanism reads ``OS79XX.TXT`` instead). On SIP firmware the phone
reads ``SIPDefault.cnf``, then ``SIP<MAC>.cnf`` (which overrides it), then the dial plan
that ``dial_template`` names, ``RINGLIST.DAT`` and locale files; later it fetches
``directory_url`` and ``logo_url`` over HTTP (julianhead/CiscoPhones ``tftplog``).

Files served, by who they are for:

- COMMON: ``SIPDefault.cnf`` and a catch-all ``dialplan.xml``. TFTP requests for them
  carry no MAC, so they hold nothing that depends on a site or a pin (see :mod:`.config`).
- SHARED: ``OS79XX.TXT`` and ``XMLDefault.cnf.xml``, asked for under one name by every
  phone, name the image of the asking phone's firmware pin; ``syncinfo.xml`` gives the
  asking phone the ``sync`` value of the files it would get now (see :mod:`.sync`).
  plugtone knows the asker by the address of its earlier ``SIP<MAC>.cnf`` request,
  which both SCCP and SIP phones make. An unknown or unpinned asker gets no
  ``OS79XX.TXT`` and an ``XMLDefault.cnf.xml`` without ``loadInformation``: either
  leaves the phone on the image it runs.
- DEVICE: ``SIP<MAC>.cnf`` (with ``image_version`` when pinned), ``dialplan<MAC>.xml``
  (the site's dial plan, named by the phone's ``dial_template``), and over HTTP
  ``cisco/directory-<MAC>[-N].xml`` (the site's phone book, page N) and
  ``cisco/logo-<MAC>.bmp`` (the logo of the phone's branding). The MAC in the name is
  what lets the resolver find the site. These two are matched under any leading
  folders, so a ``public_url`` with a path (``http://host/prov``) works whether or not a
  proxy in front of plugtone strips that path.
- FIRMWARE: the image files of a release (``P0S3-8-12-00.loads``, ``.sb2``,
  ``P003-8-12-00.sbn``, ``.bin``), at the root or under a folder, served by the default
  :meth:`~plugtone.vendors.base.VendorPlugin.offer_firmware`: the phone compares
  ``image_version`` with what it runs and asks only when they differ, so no loop guard is
  needed. What a release holds is in :mod:`.firmware`.

Everything else the phone probes (``CTLSEP<MAC>.tlv``, ``SEP<MAC>.cnf.xml``,
``MGC<MAC>.cnf``, ``RINGLIST.DAT``, ``US/7960-tones.xml`` ...) is not matched, so it gets
an immediate "not found" and the phone moves on. Names match case-insensitively; MACs
come in either case.

The firmware's HTTP requests carry no User-Agent that identifies the phone (none is
documented, and wazo-provd's Cisco plug-ins identify these phones by file name only),
so :meth:`Cisco79xxPlugin.identify` recognises nothing; the MAC in each name does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from plugtone.vendors.base import (
    DeviceFacts,
    FileRef,
    FileScope,
    Finding,
    FirmwareDevice,
    FirmwareFile,
    ModelView,
    PhoneView,
    ResyncNotify,
    VendorPlugin,
    hex_mac,
    path_folders,
)
from plugtone.vendors.cisco79xx import dhcp, directory, firmware
from plugtone.vendors.cisco79xx.cnf import serialize
from plugtone.vendors.cisco79xx.config import branding_logo, default_settings, phone_settings
from plugtone.vendors.cisco79xx.dialplan import check_dial_plan, dial_template
from plugtone.vendors.cisco79xx.key_view import NEUTRAL_NAMES, cisco_key_layout
from plugtone.vendors.cisco79xx.keys import check_keys
from plugtone.vendors.cisco79xx.logo import logo_bmp
from plugtone.vendors.cisco79xx.models import BY_NAME, MODELS, CiscoModel
from plugtone.vendors.cisco79xx.sync import sync_value, syncinfo_xml
from plugtone.vendors.cisco79xx.timezones import zone_findings
from plugtone.vendors.cisco79xx.trust import MAC_PREFIXES, has_secret, is_secret_name
from plugtone.vendors.cisco79xx.trust import stranger_file as _stranger_file
from plugtone.vendors.cisco79xx.values import bad_character, check_values, describe
from plugtone.vendors.key_layout import KeyLayout
from plugtone.vendors.memo import ViewMemo

COMMON_FILES = {
    "sipdefault.cnf": "SIPDefault.cnf",
    "dialplan.xml": "dialplan.xml",
}
SHARED_FILES = {
    "os79xx.txt": "OS79XX.TXT",
    "xmldefault.cnf.xml": "XMLDefault.cnf.xml",
    "syncinfo.xml": "syncinfo.xml",
}
HEX12 = "([0-9A-Fa-f]{12})"
DEVICE_FILES = (
    (re.compile(rf"^SIP{HEX12}\.cnf$", re.IGNORECASE), "SIP.cnf"),
    (re.compile(rf"^dialplan{HEX12}\.xml$", re.IGNORECASE), "dialplan.xml"),
)
DIRECTORY = re.compile(rf"^(?:.+/)?cisco/directory-{HEX12}(?:-([0-9]{{1,4}}))?\.xml$", re.I)
LOGO = re.compile(rf"^(?:.+/)?cisco/logo-{HEX12}\.bmp$", re.IGNORECASE)
SETTING_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


class Cisco79xxPlugin(VendorPlugin):
    """The vendor side of trust (prefixes, stranger files, secrets, and why there is no
    provisioning login) is in :mod:`plugtone.vendors.cisco79xx.trust`."""

    name = "cisco79xx"
    label = "Cisco 7940/7960 (SIP firmware)"
    models = tuple(model.spec for model in MODELS)
    mac_prefixes = MAC_PREFIXES
    device_credentials = False
    """The SIP firmware fetches its configuration over TFTP only, which has no login."""
    resync_notify = ResyncNotify(
        "check-sync",
        needs=(
            "once idle for 20 s fetches syncinfo.xml and reboots only if its SYNC value"
            " differs from the one it booted with"
        ),
    )
    """``Event: check-sync`` (7960G/7940G Administration Guide for Release 8.0 (SIP),
    OL-7890-01, "How to Upgrade Your Cisco SIP IP Phone Firmware Image and Reboot
    Remotely", p. 4-4): the phone waits until idle 20 s, reads ``syncinfo.xml`` and
    reboots (fetching its files) only when that file's ``SYNC`` for its image differs."""

    def dhcp_needs(self, server: dhcp.ProvisioningServer) -> dhcp.DhcpNeeds:
        """Option 60 and the options the phones read their server from: see :mod:`.dhcp`."""
        return dhcp.dhcp_needs(server)

    def bootstrap_match(self, path: str):
        """None: see :mod:`.bootstrap` for why a 79xx cannot be redirected."""
        from plugtone.vendors.cisco79xx import bootstrap

        return bootstrap.bootstrap_match(self, path)

    def match(self, path: str) -> FileRef | None:
        path = path.lstrip("/")
        lowered = path.lower()
        common = COMMON_FILES.get(lowered)
        if common:
            return FileRef(self.name, common, FileScope.COMMON)
        shared = SHARED_FILES.get(lowered)
        if shared:
            return FileRef(self.name, shared, FileScope.SHARED)
        for pattern, name in DEVICE_FILES:
            found = pattern.match(path)
            if found:
                return self._device(name, found.group(1))
        found = DIRECTORY.match(path)
        if found:
            page = int(found.group(2) or 1)
            return self._device(f"directory-{page}.xml", found.group(1)) if page else None
        found = LOGO.match(path)
        if found:
            return self._device("logo.bmp", found.group(1))
        return self._image(path)

    def _image(self, path: str) -> FileRef | None:
        """A release's image file, named as the phone asked, at the root or in folders."""
        folders = path_folders(path)
        if any(folder in ("", ".", "..") for folder in folders):
            return None
        if firmware.role(path) is None:
            return None
        return FileRef(self.name, firmware.basename(path), FileScope.FIRMWARE)

    def _device(self, name: str, mac_text: str) -> FileRef | None:
        mac = hex_mac(mac_text)  # the patterns matched exactly 12 hex digits
        if mac is None:
            return None
        return FileRef(self.name, name, FileScope.DEVICE, mac=mac)

    def identify(self, user_agent: str | None) -> DeviceFacts | None:
        return None

    def served_files(self, models: Iterable[str], macs: Iterable[str]) -> list[str]:
        devices = sorted({mac.upper() for mac in macs})
        return [
            # syncinfo.xml is left out: it answers the asking phone with what it would
            # get now, which a static tree cannot do
            *(name for name in SHARED_FILES.values() if name != "syncinfo.xml"),
            *COMMON_FILES.values(),
            *(f"SIP{mac}.cnf" for mac in devices),
            *(f"dialplan{mac}.xml" for mac in devices),
        ]

    def validate_settings(self, settings: Mapping[str, str]) -> list[str]:
        problems = []
        for name, value in settings.items():
            if not SETTING_NAME.match(name):
                problems.append(
                    f"{name!r} is not a Cisco 79xx setting name (lower-case letters, digits, _)"
                )
            char = bad_character(value)
            if char is not None:
                problems.append(
                    f"{name!r}: holds {describe(char)}, which a 79xx .cnf value cannot carry "
                    '(printable ASCII only, without " or \\)'
                )
        return problems

    def check_phone(self, phone: PhoneView) -> list[Finding]:
        """Everything the phone's files cannot carry as the inventory says (see the
        modules: :mod:`.dialplan`, :mod:`.timezones`, :mod:`.keys`, :mod:`.values`)."""
        raw = {name.strip().lower() for name in phone.vendor_settings()}
        return [
            *check_dial_plan(phone.site, phone.model),
            *zone_findings(phone.site.timezone, overridden="time_zone" in raw),
            *check_keys(phone),
            *check_values(phone),
        ]

    def key_layout(self, phone: PhoneView) -> KeyLayout | None:
        """The phone's keys as its model has them (:mod:`.key_view`)."""
        return cisco_key_layout(phone)

    def neutral_setting_names(self) -> Mapping[str, tuple[str, ...]]:
        return NEUTRAL_NAMES

    def setting_name_key(self, name: str) -> str:
        return name.strip().lower()

    # -- trust

    def stranger_file(self, ref: FileRef) -> bytes | None:
        return _stranger_file(ref)

    def holds_secrets(self, ref: FileRef, phone: PhoneView) -> bool:
        """Only ``SIP<MAC>.cnf`` can: the line passwords, ``phone_password`` and any
        other secret among the raw settings written into it."""
        if ref.name != "SIP.cnf" or ref.mac != phone.mac:
            return False
        return has_secret(_kept_settings(phone)[0])

    def is_secret_setting(self, name: str) -> bool:
        return is_secret_name(name)

    # -- firmware

    def firmware_role(self, name: str) -> str | None:
        return firmware.role(name)

    def check_release(self, models: Sequence[str], names: Sequence[str]) -> list[str]:
        return firmware.release_problems(models, BY_NAME, names)

    def version_matches(self, running: str, pinned: str) -> bool:
        return firmware.same_version(running, pinned)

    def completes_delivery(self, name: str) -> bool:
        """The ``.sb2`` application image comes last, after the loads list and loader."""
        return firmware.role(name) == "application"

    def offer_firmware(
        self, ref: FileRef, phone: PhoneView, device: FirmwareDevice
    ) -> FirmwareFile | None:
        """The pinned release's file of the requested name, to a phone it is pinned for.

        The phone itself decides whether to fetch (it asks for ``<image>.loads`` only when
        ``image_version`` differs from what it runs), so no loop guard is needed; the
        vendor and model are checked again because the contract promises firmware never
        reaches a model its release is not for.
        """
        release = phone.firmware
        if release is None or release.vendor != self.name or phone.model not in release.models:
            return None
        return super().offer_firmware(ref, phone, device)

    def follow_ups(self, ref: FileRef, phone: PhoneView) -> tuple[str, ...]:
        """After ``SIP<MAC>.cnf`` the phone reads the dial plan its ``dial_template``
        names, with ``.xml`` added (the boot sequence above). A raw ``dial_template``
        is followed as written; the resolver renders ahead only the phone's own files
        and common ones, so one naming another phone's plan brings nothing along."""
        if ref.name != "SIP.cnf" or ref.mac != phone.mac:
            return ()
        template = _kept_settings(phone)[0].get("dial_template")
        return (f"{template}.xml",) if template else ()

    def render(
        self, ref: FileRef, phone: PhoneView | None, model: ModelView | None
    ) -> bytes | None:
        if ref.scope is FileScope.FIRMWARE:
            return None  # stored files, offered by offer_firmware
        if ref.scope is FileScope.COMMON:
            return _common(ref.name)
        if ref.scope is FileScope.SHARED:
            return _shared(ref.name, phone)
        if phone is None or ref.mac != phone.mac:
            return None
        site = phone.site
        if ref.name == "SIP.cnf":
            kept, notes = _kept_settings(phone)
            settings = dict(kept)
            settings.setdefault("sync", _sync(phone, settings))
            title = f"SIP{phone.mac}.cnf: {phone.model} at site {site.name}"
            return serialize([title, *notes], settings)
        if ref.name == "dialplan.xml":
            return dial_template(site.dial_plan, site.digit_timeout)
        if ref.name.startswith("directory-"):
            page = int(ref.name[len("directory-") : -len(".xml")])
            return directory.render_page(site, phone.mac, page)
        logo = branding_logo(phone)
        if ref.name == "logo.bmp" and logo is not None:
            return logo_bmp(logo.sha256, logo.content)
        return None


_PHONE_MEMO: ViewMemo = ViewMemo(1024)
"""``SIP<MAC>.cnf``'s settings by phone view and year (see :mod:`..memo`): the resolver
renders the file and then asks whether it holds a secret, which derived them again."""


def _kept_settings(phone: PhoneView) -> tuple[dict[str, str], list[str]]:
    """:func:`.config.phone_settings`, kept per phone view (not to be changed)."""
    return _PHONE_MEMO.get(phone, lambda: phone_settings(phone), datetime.now(UTC).year)


@lru_cache(maxsize=8)
def _common(name: str) -> bytes | None:
    """A common file (the same bytes for every phone: written once)."""
    if name == "SIPDefault.cnf":
        comment = "SIPDefault.cnf: common to every 79xx; site and lines are in SIP<MAC>.cnf"
        return serialize([comment], default_settings())
    if name == "dialplan.xml":
        return dial_template(None, None)
    return None


def _sync(phone: PhoneView, settings: Mapping[str, str]) -> str:
    """The phone's ``sync`` value (see :mod:`.sync`); a raw ``sync`` setting wins."""
    own = {name: value for name, value in settings.items() if name != "sync"}
    common = _common("SIPDefault.cnf") or b""
    return sync_value(own, common, dial_template(phone.site.dial_plan, phone.site.digit_timeout))


def _shared(name: str, phone: PhoneView | None) -> bytes | None:
    """The asker's pinned image, in the file its boot stage reads; its sync value.

    ``phone`` is ``None`` when plugtone cannot tell who asks; then, as for a phone
    without a pin, nothing names an image and the phone keeps the one it runs, and no
    ``syncinfo.xml`` is served (the phone then stays as it is).
    """
    if name == "syncinfo.xml":
        if phone is None:
            return None
        settings, _ = phone_settings(phone)
        return syncinfo_xml(settings.get("sync") or _sync(phone, settings))
    image = firmware.pinned_image(phone)
    if name == "OS79XX.TXT":
        return f"{image}\n".encode("ascii") if image is not None else None
    if name == "XMLDefault.cnf.xml":
        spec = BY_NAME.get(phone.model) if phone is not None else None
        return _xml_default(spec if image is not None else None, image)
    return None


def _xml_default(spec: CiscoModel | None, image: str | None) -> bytes:
    """What an SCCP 79xx reads when it has no ``SEP<MAC>.cnf.xml``.

    Only the asking model's ``loadInformation`` is written: the file is rendered for one
    phone, and naming an image for the other model would offer it a release nobody
    pinned for it.
    """
    root = ET.Element("Default")
    if spec is not None and image is not None:
        element = ET.SubElement(root, spec.load_tag, {"model": spec.load_model})
        element.text = image
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"

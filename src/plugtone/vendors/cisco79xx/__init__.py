"""Cisco 7940/7960 on SIP firmware: ``OS79XX.TXT``, ``SIPDefault.cnf``, ``SIP<MAC>.cnf``.

Boot sequence. An SCCP phone asks for ``CTLSEP<MAC>.tlv``, ``SEP<MAC>.cnf.xml`` and then
``XMLDefault.cnf.xml``, whose ``loadInformation`` names the SIP image to load (a phone
still on the dual-boot loader reads ``OS79XX.TXT`` instead). On SIP firmware the phone
reads ``SIPDefault.cnf``, then ``SIP<MAC>.cnf`` (which overrides it), then the dial plan
that ``dial_template`` names, ``RINGLIST.DAT`` and locale files; later it fetches
``directory_url`` and ``logo_url`` over HTTP (julianhead/CiscoPhones ``tftplog``).

Files served, by who they are for:

- COMMON: ``OS79XX.TXT``, ``XMLDefault.cnf.xml``, ``SIPDefault.cnf`` and a catch-all
  ``dialplan.xml``. TFTP requests for them carry no MAC, so they hold nothing that
  depends on a site (see :mod:`.config`).
- DEVICE: ``SIP<MAC>.cnf``, ``dialplan<MAC>.xml`` (the site's dial plan, named by the
  phone's ``dial_template``), and over HTTP ``cisco/directory-<MAC>[-N].xml`` (the
  site's phone book, page N) and ``cisco/logo-<MAC>.bmp``. The MAC in the name is what
  lets the resolver find the site. These two are matched under any leading folders, so
  a ``public_url`` with a path (``http://host/prov``) works whether or not a proxy in
  front of plugtone strips that path.

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
from collections.abc import Iterable, Mapping

from plugtone.macaddr import normalize_mac
from plugtone.vendors.base import (
    DeviceFacts,
    FileRef,
    FileScope,
    ModelView,
    PhoneView,
    VendorPlugin,
)
from plugtone.vendors.cisco79xx import directory
from plugtone.vendors.cisco79xx.cnf import serialize
from plugtone.vendors.cisco79xx.config import default_settings, phone_settings
from plugtone.vendors.cisco79xx.dialplan import dial_template
from plugtone.vendors.cisco79xx.logo import logo_bmp
from plugtone.vendors.cisco79xx.models import DEFAULT_IMAGE, MODELS

COMMON_FILES = {
    "os79xx.txt": "OS79XX.TXT",
    "sipdefault.cnf": "SIPDefault.cnf",
    "xmldefault.cnf.xml": "XMLDefault.cnf.xml",
    "dialplan.xml": "dialplan.xml",
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
    name = "cisco79xx"
    label = "Cisco 7940/7960 (SIP firmware)"
    models = tuple(model.spec for model in MODELS)

    def match(self, path: str) -> FileRef | None:
        path = path.lstrip("/")
        common = COMMON_FILES.get(path.lower())
        if common:
            return FileRef(self.name, common, FileScope.COMMON)
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
        return None

    def _device(self, name: str, mac_text: str) -> FileRef | None:
        try:
            mac = normalize_mac(mac_text)
        except ValueError:
            return None
        return FileRef(self.name, name, FileScope.DEVICE, mac=mac)

    def identify(self, user_agent: str | None) -> DeviceFacts | None:
        return None

    def served_files(self, models: Iterable[str], macs: Iterable[str]) -> list[str]:
        devices = sorted({mac.upper() for mac in macs})
        return [
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
            if any(char in value for char in '"\r\n'):
                problems.append(f"{name!r}: 79xx values cannot hold a double quote or line break")
        return problems

    def render(
        self, ref: FileRef, phone: PhoneView | None, model: ModelView | None
    ) -> bytes | None:
        if ref.scope is FileScope.COMMON:
            return _common(ref.name)
        if phone is None or ref.mac != phone.mac:
            return None
        site = phone.site
        if ref.name == "SIP.cnf":
            settings, notes = phone_settings(phone)
            title = f"SIP{phone.mac}.cnf: {phone.model} at site {site.name}"
            return serialize([title, *notes], settings)
        if ref.name == "dialplan.xml":
            return dial_template(site.dial_plan, site.digit_timeout)
        if ref.name.startswith("directory-"):
            page = int(ref.name[len("directory-") : -len(".xml")])
            return directory.render_page(site, phone.mac, page)
        if ref.name == "logo.bmp" and site.logo is not None:
            return logo_bmp(site.logo.sha256, site.logo.content)
        return None


def _common(name: str) -> bytes | None:
    if name == "OS79XX.TXT":
        return f"{DEFAULT_IMAGE}\n".encode("ascii")
    if name == "SIPDefault.cnf":
        comment = "SIPDefault.cnf: common to every 79xx; site and lines are in SIP<MAC>.cnf"
        return serialize([comment], default_settings())
    if name == "XMLDefault.cnf.xml":
        return _xml_default()
    if name == "dialplan.xml":
        return dial_template(None, None)
    return None


def _xml_default() -> bytes:
    """What an SCCP 79xx reads when it has no ``SEP<MAC>.cnf.xml``: the SIP image to load."""
    root = ET.Element("Default")
    for model in MODELS:
        element = ET.SubElement(root, model.load_tag, {"model": model.load_model})
        element.text = DEFAULT_IMAGE
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"

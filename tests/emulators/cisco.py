"""A Cisco 7940/7960, as far as provisioning and firmware go.

SIP boot (:meth:`Cisco7960.boot`): ``OS79XX.TXT`` (the dual-boot file; a SIP image whose
protocol it names carries on), then ``SIPDefault.cnf`` and ``SIP<MAC>.cnf`` over TFTP, the
second overriding the first key by key, then the dial plan its ``dial_template`` names.
When the phone knows what it runs (``running``) and ``image_version`` names another
image, it installs that image and boots again, as the firmware does.

SCCP-era boot (:meth:`Cisco7960.boot_sccp`), for a phone still on an SCCP load such as
``P00303020214``: ``CTLSEP<MAC>.tlv``, ``SEP<MAC>.cnf.xml``, ``SIP<MAC>.cnf`` and
``MGC<MAC>.cnf`` (an SCCP load probes every protocol's device file, julianhead/CiscoPhones
``tftplog``), then ``XMLDefault.cnf.xml`` when there is no ``SEP<MAC>.cnf.xml``, whose
``loadInformation<N>`` for its model names the image (as in that log), then
``OS79XX.TXT``, which the original dual-boot mechanism reads instead. Both are read here,
and must agree when both name an image, so a test checks that plugtone keeps them
consistent. An image of another protocol (its first four characters differ from the
running load's, Cisco's firmware upgrade matrix) is installed: ``<image>.loads``, then
each ``.sbn``/``.sb2`` it lists (the real file is signed and opaque; test releases list
the file names, one a line, and a ``.loads`` naming none makes the phone fetch
``<image>.sb2``). Then the phone reboots into the SIP boot, which must find
``image_version`` equal to what it now runs and install nothing more.

It reads ``.cnf`` files with the vendor's syntax (``name: value``, values optionally in
double quotes, ``#`` comment lines, ``;`` starting a comment after an unquoted value),
and parses the dial plan, directory pages and logo as the phone would need them. When
asked, it follows ``directory_url`` (and each page's ``Next`` softkey) and ``logo_url``
over HTTP.

The parsers are written here from the vendor's documented syntax, independently of
plugtone's renderer, so a renderer bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from PIL import Image

Fetch = Callable[[str], tuple[int, bytes]]
"""``fetch(name or URL) -> (status, body)``; status 200 or 404 as HTTP would say."""

LINE_FIELDS = ("name", "authname", "password", "displayname", "shortname")
LOAD_INFORMATION = {
    "7960": ("loadInformation7", "IP Phone 7960"),
    "7940": ("loadInformation8", "IP Phone 7940"),
}
"""The ``XMLDefault.cnf.xml`` element each model reads: its device type number (7 is the
7960, 8 the 7940 in published ``XMLDefault.cnf.xml`` files)."""
RELEASE_FILE = re.compile(r"P0[0-9A-Z]3[-0-9A-Z]+\.(?:sbn|sb2)", re.IGNORECASE)
MAX_INSTALLS = 3
"""Installs in one emulated phone's life before it calls them a loop and fails the test
(a real phone would download and reboot for ever)."""


def parse_cnf(text: str) -> dict[str, str]:
    """``name: value`` lines; quotes removed, comments dropped."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if value.startswith('"'):
            closing = value.find('"', 1)
            value = value[1:closing] if closing > 0 else value[1:]
        else:
            value = value.split(";", 1)[0].strip()
        settings[name.strip()] = value
    return settings


@dataclass
class DialRule:
    match: str
    timeout: int
    user: str | None


def parse_dial_plan(body: bytes) -> list[DialRule]:
    root = SafeET.fromstring(body)
    assert root.tag == "DIALTEMPLATE", root.tag
    return [
        DialRule(item.get("MATCH"), int(item.get("Timeout")), item.get("User"))
        for item in root.iter("TEMPLATE")
    ]


@dataclass
class DirectoryPage:
    title: str
    prompt: str
    entries: list[tuple[str, str]]
    softkeys: dict[str, str]


def parse_directory(body: bytes) -> DirectoryPage:
    root = SafeET.fromstring(body)
    assert root.tag == "CiscoIPPhoneDirectory", root.tag
    entries = [
        (entry.findtext("Name") or "", entry.findtext("Telephone") or "")
        for entry in root.iter("DirectoryEntry")
    ]
    assert len(entries) <= 32, "a CiscoIPPhoneDirectory holds at most 32 entries"
    softkeys = {
        item.findtext("Name") or "": item.findtext("URL") or "" for item in root.iter("SoftKeyItem")
    }
    return DirectoryPage(
        root.findtext("Title") or "", root.findtext("Prompt") or "", entries, softkeys
    )


def parse_load_information(body: bytes, model: str) -> str | None:
    """The image ``XMLDefault.cnf.xml`` names for ``model``, if any."""
    root = SafeET.fromstring(body)
    tag, label = LOAD_INFORMATION[model]
    element = root.find(tag)
    if element is None:
        return None
    assert element.get("model") == label, f"{tag} is for {element.get('model')!r}"
    return (element.text or "").strip() or None


def parse_loads(body: bytes) -> list[str]:
    """The loader and application files a ``.loads`` names, in order (see module doc)."""
    names: list[str] = []
    for found in RELEASE_FILE.finditer(body.decode("latin-1")):
        if found.group(0) not in names:
            names.append(found.group(0))
    return names


def protocol(image: str) -> str:
    """The first four characters of an image name: ``P0S3`` SIP, ``P003`` SCCP, ``P0M3`` MGCP."""
    return image[:4].upper()


@dataclass
class Cisco7960:
    mac: str  # 00115C93AFD1
    image: str | None = None
    """What ``OS79XX.TXT`` named at the last boot (``None``: not found)."""
    settings: dict[str, str] = field(default_factory=dict)
    dial_plan: list[DialRule] = field(default_factory=list)
    fetched: list[tuple[str, int]] = field(default_factory=list)
    model: str = "7960"
    running: str | None = None
    """The image the phone runs; ``None`` when not modelled (then it never installs)."""
    installed: list[str] = field(default_factory=list)
    """Every image installed, in order."""
    failed: list[str] = field(default_factory=list)
    """Installs that stopped on a missing file (the phone keeps its image)."""
    load_information: str | None = None
    """What ``XMLDefault.cnf.xml`` (or ``SEP<MAC>.cnf.xml``) named at the last SCCP boot."""

    def boot(self, fetch: Fetch) -> None:
        """The TFTP part of a SIP boot: dual-boot file, configuration, dial plan, upgrade."""
        status, body = self._get(fetch, "OS79XX.TXT")
        self.image = body.decode("ascii").strip() if status == 200 else None
        self.settings = {}
        for name in ("SIPDefault.cnf", f"SIP{self.mac.upper()}.cnf"):
            status, body = self._get(fetch, name)
            if status == 200:
                self.settings.update(parse_cnf(body.decode("utf-8")))
        template = self.settings.get("dial_template")
        if template:
            status, body = self._get(fetch, f"{template}.xml")
            if status == 200:
                self.dial_plan = parse_dial_plan(body)
        wanted = self.settings.get("image_version")
        if self.running is not None and wanted and wanted.lower() != self.running.lower():
            self._install(fetch, wanted)

    def boot_sccp(self, fetch: Fetch) -> None:
        """A boot on an SCCP load: find the image to run, install it, reboot (see module)."""
        assert self.running is not None, "an SCCP-era phone runs a known load"
        mac = self.mac.upper()
        self._get(fetch, f"CTLSEP{mac}.tlv")  # no CTL file is normal without security
        status, body = self._get(fetch, f"SEP{mac}.cnf.xml")
        own = status == 200
        self.load_information = None
        if own:
            element = SafeET.fromstring(body).find(".//loadInformation")
            if element is not None and (element.text or "").strip():
                self.load_information = element.text.strip()
        self._get(fetch, f"SIP{mac}.cnf")
        self._get(fetch, f"MGC{mac}.cnf")
        if not own:
            status, body = self._get(fetch, "XMLDefault.cnf.xml")
            if status == 200:
                self.load_information = parse_load_information(body, self.model)
        status, body = self._get(fetch, "OS79XX.TXT")
        self.image = body.decode("ascii").strip() if status == 200 else None
        if self.load_information and self.image:
            assert self.load_information == self.image, (
                f"XMLDefault.cnf.xml names {self.load_information}, OS79XX.TXT {self.image}"
            )
        wanted = self.load_information or self.image
        if wanted and wanted.lower() != self.running.lower():
            self._install(fetch, wanted)

    @property
    def on_sip(self) -> bool:
        return self.running is not None and protocol(self.running) == "P0S3"

    def _install(self, fetch: Fetch, image: str) -> None:
        """Fetch the image's files, flash them, reboot into the protocol it runs."""
        if len(self.installed) + len(self.failed) >= MAX_INSTALLS:
            raise AssertionError(f"install loop: {self.installed + self.failed} then {image}")
        status, body = self._get(fetch, f"{image}.loads")
        if status != 200:
            self.failed.append(image)
            return
        for name in parse_loads(body) or [f"{image}.sb2"]:
            status, _ = self._get(fetch, name)
            if status != 200:
                self.failed.append(image)
                return
        self.running = image
        self.installed.append(image)
        if self.on_sip:
            self.boot(fetch)
        else:
            self.boot_sccp(fetch)

    def line(self, index: int) -> dict[str, str]:
        """What line button ``index`` registers with (empty values: an unused button)."""
        return {
            name: self.settings[f"line{index}_{name}"]
            for name in LINE_FIELDS
            if f"line{index}_{name}" in self.settings
        }

    def directory(self, http_get: Fetch, max_pages: int = 20) -> list[DirectoryPage]:
        """Every page of the external directory, following ``Next`` as a user would."""
        pages: list[DirectoryPage] = []
        url: str | None = self.settings["directory_url"]
        while url and len(pages) < max_pages:
            status, body = self._get(http_get, url)
            assert status == 200, f"{url}: {status}"
            page = parse_directory(body)
            pages.append(page)
            url = page.softkeys.get("Next")
        return pages

    def logo(self, http_get: Fetch) -> Image.Image:
        """The logo as the phone decodes it; the display takes 90x56 greyscale BMPs."""
        status, body = self._get(http_get, self.settings["logo_url"])
        assert status == 200, f"logo: {status}"
        image = Image.open(io.BytesIO(body), formats=["BMP"])
        image.load()
        return image

    def _get(self, fetch: Fetch, name: str) -> tuple[int, bytes]:
        status, body = fetch(name)
        self.fetched.append((name, status))
        return status, body

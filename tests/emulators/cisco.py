"""A Cisco 7960 on SIP firmware, as far as provisioning goes.

It boots the way the SIP image does: ``OS79XX.TXT`` (the image it should run), then
``SIPDefault.cnf`` and ``SIP<MAC>.cnf`` over TFTP, the second overriding the first key
by key, then the dial plan its ``dial_template`` names. It reads ``.cnf`` files with
the vendor's syntax (``name: value``, values optionally in double quotes, ``#`` comment
lines, ``;`` starting a comment after an unquoted value), and parses the dial plan,
directory pages and logo as the phone would need them. When asked, it follows
``directory_url`` (and each page's ``Next`` softkey) and ``logo_url`` over HTTP.

The parsers are written here from the vendor's documented syntax, independently of
plugtone's renderer, so a renderer bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from PIL import Image

Fetch = Callable[[str], tuple[int, bytes]]
"""``fetch(name or URL) -> (status, body)``; status 200 or 404 as HTTP would say."""

LINE_FIELDS = ("name", "authname", "password", "displayname", "shortname")


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


@dataclass
class Cisco7960:
    mac: str  # 00115C93AFD1
    image: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    dial_plan: list[DialRule] = field(default_factory=list)
    fetched: list[tuple[str, int]] = field(default_factory=list)

    def boot(self, fetch: Fetch) -> None:
        """The TFTP part of a boot: image name, configuration, dial plan."""
        status, body = self._get(fetch, "OS79XX.TXT")
        if status == 200:
            self.image = body.decode("ascii").strip()
        for name in ("SIPDefault.cnf", f"SIP{self.mac.upper()}.cnf"):
            status, body = self._get(fetch, name)
            if status == 200:
                self.settings.update(parse_cnf(body.decode("utf-8")))
        template = self.settings.get("dial_template")
        if template:
            status, body = self._get(fetch, f"{template}.xml")
            if status == 200:
                self.dial_plan = parse_dial_plan(body)

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

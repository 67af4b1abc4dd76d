"""An Aastra 67xxi phone, as far as provisioning goes.

It boots the way 3.x firmware does (``aastra.cfg`` -> ``<model>.cfg`` -> ``<MAC>.cfg``,
tolerating 404 for the last two, a later file overriding an earlier one), reads the
files with the vendor's syntax (``key: value``, ``#`` comments also at the end of a
line unless quoted, names case-insensitive) and works out what each line would
register with: a ``sip lineN X`` setting wins over the global ``sip X``.

Firmware (off unless ``checks_firmware`` is set, so config-only tests see only config
requests): after the config files the phone asks for ``<model>.st`` (under
``firmware_path`` when given, as the 6869i in the reference log asks for
``firmware/6869i.st``). It flashes any image it gets and reboots: the pessimistic
reading of the seed's warning that a phone finding the image keeps downloading it again
and again, so a server that always answers makes it loop.
:meth:`AastraPhone.boot_until_stable` reboots it until a boot ends without a download.

HTTP Digest (off unless ``answers_digest`` is set): the firmware answers a server's
401 Digest challenge with ``http digest username``/``http digest password``, ``aastra``/
``aastra`` until a file sets them, and takes a changed login only after a reboot
(41-001343-02 5-273 and A-81). The emulator answers with the login it booted with,
through httpx's own Digest client.

Test images are not real ``.st`` files: :func:`make_image` writes a header line naming
the version the image carries, and :func:`read_image_version` reads it back.

The parser is written here from the vendor's documented syntax, independently of
plugtone's renderer, so a renderer bug cannot hide behind a shared helper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

Fetch = Callable[[str], tuple[int, bytes]]
"""``fetch(name) -> (status, body)``; status 200 or 404 as HTTP would say. It is called
at request time, so it should read :attr:`AastraPhone.user_agent` then: the User-Agent
changes when the phone reboots on a new image."""

IMAGE_HEADER = b"PLUGTONE-TEST-IMAGE V:"
FACTORY_LOGIN = ("aastra", "aastra")
"""What a phone answers a Digest challenge with before a file gives it a login."""

LINE_FIELDS = (
    "auth name", "password", "user name", "display name", "screen name", "proxy ip",
    "proxy port", "registrar ip", "registrar port", "registration period", "vmail",
    "dtmf method",
)  # fmt: skip


def parse_aastra(text: str) -> dict[str, str]:
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
            value = value.split("#", 1)[0].strip()
        settings[name.strip().lower()] = value
    return settings


def make_image(version: str, size: int = 4096) -> bytes:
    """A stand-in ``.st`` image of ``size`` bytes that says it carries ``version``."""
    header = IMAGE_HEADER + version.encode("ascii") + b"\n"
    return header + b"\xa5" * max(0, size - len(header))


def read_image_version(body: bytes) -> str:
    """The version a :func:`make_image` image carries; anything else is not an image."""
    first, newline, _ = body.partition(b"\n")
    if not newline or not first.startswith(IMAGE_HEADER):
        raise AssertionError(f"not a firmware image: {body[:40]!r}")
    return first[len(IMAGE_HEADER) :].decode("ascii")


@dataclass(frozen=True)
class FirmwareDownload:
    """One image the phone got and flashed."""

    name: str
    """The name the phone asked for (``6757i.st``, ``firmware/6869i.st``)."""
    boot: int
    """Which boot of the phone got it, counting from 1."""
    from_version: str
    to_version: str


class _Client(Protocol):
    def get(self, url: str, *, headers: dict[str, str], **auth: object) -> _Response: ...


class _Response(Protocol):
    status_code: int
    content: bytes


@dataclass
class AastraPhone:
    mac: str  # 00085D000001
    model: str  # 6757i
    firmware: str = "3.2.2.1136"
    settings: dict[str, str] = field(default_factory=dict)
    fetched: list[tuple[str, int]] = field(default_factory=list)
    checks_firmware: bool = False
    """Ask for ``<model>.st`` after the config files at every boot."""
    firmware_path: str = ""
    """Prefix of the image request (``"firmware/"``); empty for the server root."""
    image_name: str | None = None
    """The image name asked for; ``<model>.st`` when unset (an old set may ask ``57i.st``)."""
    image_version: Callable[[bytes], str] = read_image_version
    """How the phone reads the version an image carries."""
    boots: int = 0
    reboots: int = 0
    """Reboots caused by flashing an image."""
    downloads: list[FirmwareDownload] = field(default_factory=list)
    answers_digest: bool = False
    """Answer an HTTP Digest challenge in :meth:`over_http` with :attr:`login`."""
    login: tuple[str, str] = FACTORY_LOGIN
    """The Digest login of the current boot (taken from the settings when it starts)."""

    @property
    def user_agent(self) -> str:
        mac = "-".join(self.mac[i : i + 2] for i in range(0, 12, 2))
        return f"Aastra{self.model} MAC:{mac} V:{self.firmware}-SIP"

    def boot(self, fetch: Fetch) -> bool:
        """One boot: the config files, then the image when firmware checks are on.

        Returns whether the phone flashed an image (and so rebooted, to boot again).
        """
        self.boots += 1
        self.login = (
            self.settings.get("http digest username", FACTORY_LOGIN[0]),
            self.settings.get("http digest password", FACTORY_LOGIN[1]),
        )
        for name in ("aastra.cfg", f"{self.model}.cfg", f"{self.mac.upper()}.cfg"):
            status, body = fetch(name)
            self.fetched.append((name, status))
            if status == 200:
                self.settings.update(parse_aastra(body.decode("utf-8")))
            elif name == "aastra.cfg":
                raise AssertionError("3.x firmware stops when aastra.cfg is missing")
        if not self.checks_firmware:
            return False
        name = f"{self.firmware_path}{self.image_name or f'{self.model}.st'}"
        status, body = fetch(name)
        self.fetched.append((name, status))
        if status != 200:
            return False
        version = self.image_version(body)
        self.downloads.append(FirmwareDownload(name, self.boots, self.firmware, version))
        self.firmware = version  # flashed; the next boot's User-Agent reports it
        self.reboots += 1
        return True

    def boot_until_stable(self, fetch: Fetch, max_boots: int = 5) -> list[FirmwareDownload]:
        """Boot, and boot again after each flash, until a boot gets no image.

        Returns the images downloaded on the way. A phone still flashing after
        ``max_boots`` boots is the download loop: that raises AssertionError.
        """
        start = len(self.downloads)
        for _ in range(max_boots):
            if not self.boot(fetch):
                return self.downloads[start:]
        raise AssertionError(
            f"{self.model} still flashing after {max_boots} boots: {self.downloads[start:]}"
        )

    def over_http(self, client: _Client) -> Fetch:
        """A fetch through an HTTP client (``httpx.Client(base_url=...)``) that sends
        the phone's User-Agent as it is at each request, and with ``answers_digest``
        answers a Digest challenge with the boot's :attr:`login`."""

        def fetch(name: str) -> tuple[int, bytes]:
            auth = {}
            if self.answers_digest:
                auth["auth"] = httpx.DigestAuth(*self.login)
            response = client.get(f"/{name}", headers={"User-Agent": self.user_agent}, **auth)
            return response.status_code, response.content

        return fetch

    def line(self, index: int) -> dict[str, str]:
        """The effective settings of line ``index``: per-line keys over global ones."""
        result = {}
        for name in LINE_FIELDS:
            value = self.settings.get(f"sip line{index} {name}", self.settings.get(f"sip {name}"))
            if value is not None:
                result[name] = value
        return result

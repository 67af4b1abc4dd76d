"""A Polycom SoundPoint IP phone (SIP application 3.x), as far as provisioning goes.

It boots the way the vendor's administrator guides describe:

1. the BootROM fetches ``<mac>.cfg`` (lower-case MAC), else ``000000000000.cfg``, and
   reads the ``<APPLICATION>`` attributes, a per-model ``<APPLICATION_<token>>`` child
   (``APP_FILE_PATH_SPIP650`` ...) replacing the general ones for this model;
2. it uploads ``<mac>-boot.log``, appending (FTP ``APPE``);
3. the application fetches every file of ``CONFIG_FILES`` in order and merges them
   **first file wins**: a parameter an earlier file set is not overwritten. Every
   file listed must be served, the vendor's stock ``sip.cfg`` and ``phone1.cfg`` as
   much as any: no document says what a SIP 3.x phone does when one is missing, so
   this is the strict phone, and the boot fails (:class:`BootFailed`);
4. it fetches ``<mac>-directory.xml``, else ``000000000000-directory.xml``.

Firmware, when the phone is given a ``flash_version`` (else it leaves firmware alone,
as before): after reading the master file it fetches ``APP_FILE_PATH`` (for the
default ``sip.ld``, with a ``part_number``, its own ``<part>.sip.ld`` first, as a
split release expects), reads the image's version and, only if it differs from
flash, flashes it and reboots, as the guide says the BootROM does ("downloads
``APP_FILE_PATH`` only if it differs from flash"). With ``check_bootrom`` it first
looks for ``<part>.bootrom.ld``, then ``bootrom.ld``, against ``bootrom``. A test
image is :func:`fake_image` (a header line naming its version); ``read_version``
takes any other convention. ``flashed`` records what was written, ``reboots`` how
often it restarted; a server that keeps handing out a different image trips
``max_reboots``.

The parser is written here from the vendor's documented format (every parameter is
an attribute; element names mean nothing), independently of plugtone's renderer, and
with defusedxml, as a phone's files are untrusted input to a test as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

IMAGE_HEADER = b"plugtone-test-image version="

Fetch = Callable[[str], bytes | None]
"""``fetch(name)`` returns the file's bytes, or ``None`` when the server has none."""
Upload = Callable[[str, bytes, bool], bool]
"""``upload(name, content, append)`` returns whether the server accepted it."""


class BootFailed(AssertionError):
    """The phone could not finish booting from what the server answered."""


def fake_image(version: str, size: int = 256) -> bytes:
    """Bytes standing in for a firmware image: a first line naming its version."""
    header = IMAGE_HEADER + version.encode("ascii") + b"\n"
    return header + bytes(max(0, size - len(header)))


def image_version(content: bytes) -> str | None:
    """The version a :func:`fake_image` names, else ``None`` (not an image)."""
    first = content.split(b"\n", 1)[0]
    if not first.startswith(IMAGE_HEADER):
        return None
    return first[len(IMAGE_HEADER) :].decode("ascii", "replace").strip() or None


def parse_parameters(content: bytes) -> dict[str, str]:
    """Every attribute of every element, in document order; within a file the first wins."""
    root = SafeET.fromstring(content)
    parameters: dict[str, str] = {}
    for element in root.iter():
        for name, value in element.attrib.items():
            parameters.setdefault(name, value)
    return parameters


def parse_application(content: bytes, token: str) -> dict[str, str]:
    """The master file's attributes as they apply to a phone of model ``token``."""
    root = SafeET.fromstring(content)
    if root.tag != "APPLICATION":
        raise BootFailed(f"the master file's root is <{root.tag}>, not <APPLICATION>")
    application = dict(root.attrib)
    for child in root:
        if child.tag == f"APPLICATION_{token}":
            for name, value in child.attrib.items():
                application[name.removesuffix(f"_{token}")] = value
    return application


def parse_directory(content: bytes) -> list[tuple[str, str]]:
    """``(name, number)`` for each ``<item>`` of a contact directory."""
    root = SafeET.fromstring(content)
    if root.tag != "directory":
        raise BootFailed(f"a directory's root is <{root.tag}>, not <directory>")
    return [(item.findtext("fn") or "", item.findtext("ct") or "") for item in root.iter("item")]


@dataclass
class PolycomPhone:
    mac: str  # 0004f2000607, as the phone writes it
    model: str = "SPIP_650"
    firmware: str = "3.2.7.0184"
    bootrom: str = "4.2.1.0275"
    application: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    directory: list[tuple[str, str]] = field(default_factory=list)
    fetched: list[tuple[str, bool]] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    flash_version: str | None = None
    """The application in flash; set it to make the phone check ``APP_FILE_PATH``."""
    part_number: str | None = None
    """``2345-12600-001`` for an IP 650: the split images the BootROM asks for."""
    check_bootrom: bool = False
    read_version: Callable[[bytes], str | None] = image_version
    max_reboots: int = 3
    flashed: list[tuple[str, str]] = field(default_factory=list)
    """``(file name, version)`` of every image written to flash, in order."""
    reboots: int = 0
    read_from: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each configuration file of the last boot's ``CONFIG_FILES``: what it holds."""

    def __post_init__(self) -> None:
        self.mac = self.mac.lower()

    @property
    def token(self) -> str:
        return self.model.replace("_", "")

    @property
    def user_agent(self) -> str:
        return f"FileTransport PolycomSoundPointIP-{self.model}-UA/{self.firmware}"

    def boot(self, fetch: Fetch, upload: Upload) -> None:
        """Boot until the phone runs what the server offers (rebooting after a flash)."""
        self.settings, self.read_from = {}, {}
        for _ in range(self.max_reboots + 1):
            if not self._boot_once(fetch, upload):
                return
            self.reboots += 1
        raise BootFailed(f"still flashing after {self.max_reboots} reboots: {self.flashed}")

    def _boot_once(self, fetch: Fetch, upload: Upload) -> bool:
        """One power-up; ``True`` when it flashed an image and must start again."""
        if self.check_bootrom and self._bootrom_update(fetch):
            return True
        master = self._get(fetch, f"{self.mac}.cfg") or self._get(fetch, "000000000000.cfg")
        if master is None:
            raise BootFailed("neither <mac>.cfg nor 000000000000.cfg was served")
        self.application = parse_application(master, self.token)
        if self.flash_version is not None and self._application_update(fetch):
            return True
        log = f"bootrom {self.bootrom}: master file read, application {self.firmware}\n"
        name = f"{self.mac}-boot.log"
        if upload(name, log.encode(), True):
            self.uploaded.append(name)
        for file in self.config_files:
            content = self._get(fetch, file)
            if content is None:
                raise BootFailed(f"{file} is listed in CONFIG_FILES but was not served")
            for parameter, value in parse_parameters(content).items():
                self.settings.setdefault(parameter, value)
            self.read_from.setdefault(file, parse_parameters(content))
        listing = self._get(fetch, f"{self.mac}-directory.xml") or self._get(
            fetch, "000000000000-directory.xml"
        )
        self.directory = parse_directory(listing) if listing is not None else []
        return False

    def _bootrom_update(self, fetch: Fetch) -> bool:
        names = [f"{self.part_number}.bootrom.ld"] if self.part_number else []
        found = self._first_image(fetch, [*names, "bootrom.ld"])
        if found is None or found[1] == self.bootrom:
            return False
        self.bootrom = found[1]
        self.flashed.append(found)
        return True

    def _application_update(self, fetch: Fetch) -> bool:
        path = self.application.get("APP_FILE_PATH", "")
        if not path:
            return False
        folder, slash, name = path.rpartition("/")
        names = [path]
        if name.lower() == "sip.ld" and self.part_number:
            names.insert(0, f"{folder}{slash}{self.part_number}.sip.ld")
        found = self._first_image(fetch, names)
        if found is None or found[1] == self.flash_version:
            return False  # nothing served, or the same release: keep what is in flash
        self.flash_version = self.firmware = found[1]
        self.flashed.append(found)
        return True

    def _first_image(self, fetch: Fetch, names: list[str]) -> tuple[str, str] | None:
        """``(name, version)`` of the first of ``names`` the server has."""
        for name in names:
            content = self._get(fetch, name)
            if content is None:
                continue
            version = self.read_version(content)
            if version is None:
                raise BootFailed(f"{name} was served but is not a firmware image")
            return name, version
        return None

    @property
    def config_files(self) -> list[str]:
        listed = self.application.get("CONFIG_FILES", "")
        return [name.strip() for name in listed.split(",") if name.strip()]

    def line(self, index: int) -> dict[str, str]:
        """Registration ``index``'s settings, without the ``reg.N.`` prefix."""
        prefix = f"reg.{index}."
        return {k[len(prefix) :]: v for k, v in self.settings.items() if k.startswith(prefix)}

    def _get(self, fetch: Fetch, name: str) -> bytes | None:
        content = fetch(name)
        self.fetched.append((name, content is not None))
        return content

"""A Polycom SoundPoint IP phone (SIP application 3.x), as far as provisioning goes.

It boots the way the vendor's administrator guides describe:

1. the BootROM fetches ``<mac>.cfg`` (lower-case MAC), else ``000000000000.cfg``, and
   reads the ``<APPLICATION>`` attributes, a per-model ``<APPLICATION_<token>>`` child
   (``APP_FILE_PATH_SPIP650`` ...) replacing the general ones for this model;
2. it uploads ``<mac>-boot.log``, appending (FTP ``APPE``);
3. the application fetches every file of ``CONFIG_FILES`` in order and merges them
   **first file wins**: a parameter an earlier file set is not overwritten. Only the
   vendor's stock ``sip.cfg`` and ``phone1.cfg`` may be missing;
4. it fetches ``<mac>-directory.xml``, else ``000000000000-directory.xml``.

The parser is written here from the vendor's documented format (every parameter is
an attribute; element names mean nothing), independently of plugtone's renderer, and
with defusedxml, as a phone's files are untrusted input to a test as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from defusedxml import ElementTree as SafeET

STOCK_FILES = frozenset({"sip.cfg", "phone1.cfg"})

Fetch = Callable[[str], bytes | None]
"""``fetch(name)`` returns the file's bytes, or ``None`` when the server has none."""
Upload = Callable[[str, bytes, bool], bool]
"""``upload(name, content, append)`` returns whether the server accepted it."""


class BootFailed(AssertionError):
    """The phone could not finish booting from what the server answered."""


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

    def __post_init__(self) -> None:
        self.mac = self.mac.lower()

    @property
    def token(self) -> str:
        return self.model.replace("_", "")

    @property
    def user_agent(self) -> str:
        return f"FileTransport PolycomSoundPointIP-{self.model}-UA/{self.firmware}"

    def boot(self, fetch: Fetch, upload: Upload) -> None:
        master = self._get(fetch, f"{self.mac}.cfg") or self._get(fetch, "000000000000.cfg")
        if master is None:
            raise BootFailed("neither <mac>.cfg nor 000000000000.cfg was served")
        self.application = parse_application(master, self.token)
        log = f"bootrom {self.bootrom}: master file read, application {self.firmware}\n"
        name = f"{self.mac}-boot.log"
        if upload(name, log.encode(), True):
            self.uploaded.append(name)
        for file in self.config_files:
            content = self._get(fetch, file)
            if content is None:
                if file in STOCK_FILES:
                    continue
                raise BootFailed(f"{file} is listed in CONFIG_FILES but was not served")
            for parameter, value in parse_parameters(content).items():
                self.settings.setdefault(parameter, value)
        listing = self._get(fetch, f"{self.mac}-directory.xml") or self._get(
            fetch, "000000000000-directory.xml"
        )
        self.directory = parse_directory(listing) if listing is not None else []

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

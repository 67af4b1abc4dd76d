"""An Aastra 67xxi phone, as far as provisioning goes.

It boots the way 3.x firmware does (``aastra.cfg`` -> ``<model>.cfg`` -> ``<MAC>.cfg``,
tolerating 404 for the last two, a later file overriding an earlier one), reads the
files with the vendor's syntax (``key: value``, ``#`` comments also at the end of a
line unless quoted, names case-insensitive) and works out what each line would
register with: a ``sip lineN X`` setting wins over the global ``sip X``.

The parser is written here from the vendor's documented syntax, independently of
plugtone's renderer, so a renderer bug cannot hide behind a shared helper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class AastraPhone:
    mac: str  # 00085D000001
    model: str  # 6757i
    firmware: str = "3.2.2.1136"
    settings: dict[str, str] = field(default_factory=dict)
    fetched: list[tuple[str, int]] = field(default_factory=list)

    @property
    def user_agent(self) -> str:
        mac = "-".join(self.mac[i : i + 2] for i in range(0, 12, 2))
        return f"Aastra{self.model} MAC:{mac} V:{self.firmware}-SIP"

    def boot(self, fetch: Callable[[str], tuple[int, bytes]]) -> None:
        """``fetch(name) -> (status, body)``; status 200 or 404 as HTTP would say."""
        for name in ("aastra.cfg", f"{self.model}.cfg", f"{self.mac.upper()}.cfg"):
            status, body = fetch(name)
            self.fetched.append((name, status))
            if status == 200:
                self.settings.update(parse_aastra(body.decode("utf-8")))
            elif name == "aastra.cfg":
                raise AssertionError("3.x firmware stops when aastra.cfg is missing")

    def line(self, index: int) -> dict[str, str]:
        """The effective settings of line ``index``: per-line keys over global ones."""
        result = {}
        for name in LINE_FIELDS:
            value = self.settings.get(f"sip line{index} {name}", self.settings.get(f"sip {name}"))
            if value is not None:
                result[name] = value
        return result

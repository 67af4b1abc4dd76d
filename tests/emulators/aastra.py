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
plugtone's renderer, so a renderer bug cannot hide behind a shared helper. The rules it
reads by (each the strict reading of what the guides show):

* one ``name: value`` per line, split at the first colon; names are case-insensitive
  (6800i guide A-6); a ``!`` (locked) or ``^`` (reset) before a name marks it
  (41-001343-02 2-15, 2-16) and is not part of it;
* ``#`` starts a comment, at the start of a line or after a value (the guide's own
  ``dst [start|end] relative date: 1 #relative``, 5-17);
* a value may be put in double quotes (``sip dial plan: "X+#|XX+*"``, 41-001561-00
  A-57; ``softkey1 label: "Voicemail"``), which keeps a ``#`` and the spaces at its ends;
  the value ends at the next double quote. No guide gives a way to put a double quote
  inside a value, so the phone cannot be given one: a quote left open, text after the
  closing quote, or a double quote in an unquoted value fails the parse (the strict
  phone), as does a line without a colon;
* an unquoted value ends at the first ``#`` and loses the spaces at its ends.

The clock (:func:`phone_offset`, :meth:`AastraPhone.offset_at`) follows the time-zone
settings as 41-001343-02 5-16 to 5-18 and A-47 to A-52 describe them (see
``plugtone.vendors.aastra.timezones``): ``time zone minutes`` west of UTC, ``dst minutes``
added between the start and end rules, a relative rule's week as the Nth full
Sunday-to-Saturday week of the month or the Nth last occurrence of the day, an
absolute rule's day as the day of the month, the start hour on standard time and the
end hour on summer time. A named zone uses :data:`FIRMWARE_ZONES`, the firmware's own
rules as assumed here (each country's present rule). A value out of the guide's range
fails.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    """The settings a phone reads from one file (see the module docstring)."""
    settings: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, rest = line.partition(":")
        if not sep:
            raise AssertionError(f"line {number}: no colon: {raw!r}")
        name = name.strip().lstrip("!^").strip().lower()
        settings[name] = _value(rest.strip(), number)
    return settings


def _value(rest: str, number: int) -> str:
    if rest.startswith('"'):
        closing = rest.find('"', 1)
        if closing < 0:
            raise AssertionError(f"line {number}: a quoted value is not closed")
        after = rest[closing + 1 :].strip()
        if after and not after.startswith("#"):
            raise AssertionError(f"line {number}: text after the closing quote: {after!r}")
        return rest[1:closing]
    value = rest.split("#", 1)[0].strip()
    if '"' in value:
        raise AssertionError(f"line {number}: a double quote inside an unquoted value")
    return value


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

    def offset_at(self, moment: datetime) -> timedelta:
        """The UTC offset the phone's clock shows at ``moment`` (aware)."""
        return phone_offset(self.settings, moment)

    def key(self, name: str) -> dict[str, str]:
        """Key ``name`` (``topsoftkey3``, ``expmod1 key4``) as set: its type, value, label
        and line, those it has."""
        return {
            part: self.settings[f"{name} {part}"]
            for part in ("type", "value", "label", "line")
            if f"{name} {part}" in self.settings
        }

    def park_pickup(self, line: int) -> tuple[str, str, str] | None:
        """``(park code, pickup code, call server)`` a park key uses for a call on
        ``line``: ``sip lineN park pickup config`` over ``sip park pickup config``
        (41-001343-01 Rev 03 5-219, "Call Park/Pickup Configuration Precedence Rule")."""
        value = self.settings.get(
            f"sip line{line} park pickup config", self.settings.get("sip park pickup config")
        )
        if value is None:
            return None
        parts = value.split(";")
        if len(parts) != 3 or not all(parts) or parts[2] not in PARK_SERVERS:
            raise AssertionError(f"park pickup config of line {line} is malformed: {value!r}")
        return parts[0], parts[1], parts[2]


PARK_SERVERS = ("asterisk", "broadworks")
"""The call servers the guide's park/pickup examples name (5-219)."""

FIRMWARE_ZONES: dict[
    str, tuple[int, tuple[int, int, int, int], tuple[int, int, int, int]] | int
] = {
    # name: minutes west of UTC, or (minutes west, start, end) with each change as
    # (month, week, day 1=Sunday, hour) in the guide's numbering. Written here by hand
    # from each country's rule, not from plugtone's table.
    "US-Eastern": (300, (3, 2, 1, 2), (11, 1, 1, 2)),
    "US-Central": (360, (3, 2, 1, 2), (11, 1, 1, 2)),
    "US-Mountain": (420, (3, 2, 1, 2), (11, 1, 1, 2)),
    "US-Pacific": (480, (3, 2, 1, 2), (11, 1, 1, 2)),
    "US-Alaska": (540, (3, 2, 1, 2), (11, 1, 1, 2)),
    "US-Hawaii": 600,
    "CA-Eastern": (300, (3, 2, 1, 2), (11, 1, 1, 2)),
    "CA-Central": (360, (3, 2, 1, 2), (11, 1, 1, 2)),
    "CA-Mountain": (420, (3, 2, 1, 2), (11, 1, 1, 2)),
    "CA-Pacific": (480, (3, 2, 1, 2), (11, 1, 1, 2)),
    "CA-Atlantic": (240, (3, 2, 1, 2), (11, 1, 1, 2)),
    "CA-Newfoundland": (210, (3, 2, 1, 2), (11, 1, 1, 2)),
    "GB-London": (0, (3, -1, 1, 1), (10, -1, 1, 2)),
    "FR-Paris": (-60, (3, -1, 1, 2), (10, -1, 1, 3)),
    "DE-Berlin": (-60, (3, -1, 1, 2), (10, -1, 1, 3)),
}
"""The named zones the emulated firmware knows; any other name fails."""


def phone_offset(settings: Mapping[str, str], moment: datetime) -> timedelta:
    """The offset from UTC a phone holding ``settings`` shows at ``moment`` (aware)."""
    name = settings.get("time zone name")
    if name is None:
        raise AssertionError("no time zone name")
    if name == "Custom":
        west = _int(settings, "time zone minutes", -24 * 60, 24 * 60)
        saving = _int(settings, "dst minutes", 0, 60)
        standard = timedelta(minutes=-west)
        if saving == 0:
            return standard
        start = _change(settings, "start")
        end = _change(settings, "end")
    elif name in FIRMWARE_ZONES:
        known = FIRMWARE_ZONES[name]
        if isinstance(known, int):
            return timedelta(minutes=-known)
        west, start, end = known[0], (True, *known[1]), (True, *known[2])
        standard, saving = timedelta(minutes=-west), 60
    else:
        raise AssertionError(f"the firmware knows no time zone called {name!r}")
    summer = standard + timedelta(minutes=saving)
    year = (moment.astimezone(UTC) + standard).year
    begins = _local(year, start) - standard
    ends = _local(year, end) - summer
    instant = moment.astimezone(UTC).replace(tzinfo=None)
    northern = begins < ends  # else summer spans the new year
    in_summer = (begins <= instant < ends) if northern else (instant >= begins or instant < ends)
    return summer if in_summer else standard


def _change(settings: Mapping[str, str], which: str) -> tuple[bool, int, int, int, int]:
    relative = _int(settings, f"dst {which} relative date", 0, 1) == 1
    month = _int(settings, f"dst {which} month", 1, 12)
    hour = _int(settings, f"dst {which} hour", 0, 23)
    if relative:
        week = _int(settings, f"dst {which} week", -5, 5)
        if week == 0:
            raise AssertionError(f"dst {which} week: 0 is not a week")
        return True, month, week, _int(settings, f"dst {which} day", 1, 7), hour
    return False, month, 0, _int(settings, f"dst {which} day", 1, 31), hour


def _local(year: int, change: tuple[bool, int, int, int, int]) -> datetime:
    """The local wall-clock moment (naive) of one change in ``year``."""
    relative, month, week, day, hour = change
    days = calendar.monthrange(year, month)[1]
    if not relative:
        if day > days:
            raise AssertionError(f"day {day} of month {month} does not exist in {year}")
        return datetime(year, month, day, hour)
    weekday = (day - 2) % 7  # Aastra 1 = Sunday ... 7 = Saturday; Python 0 = Monday
    if week > 0:
        first_sunday = 1 + (calendar.SUNDAY - calendar.weekday(year, month, 1)) % 7
        date = first_sunday + 7 * (week - 1) + (day - 1)  # day `day` of the Nth full week
    else:
        last = days - (calendar.weekday(year, month, days) - weekday) % 7
        date = last + 7 * (week + 1)
    if not 1 <= date <= days:
        raise AssertionError(f"week {week} day {day} of month {month} is not in {year}")
    return datetime(year, month, date, hour)


def _int(settings: Mapping[str, str], name: str, low: int, high: int) -> int:
    if name not in settings:
        raise AssertionError(f"{name} is not set")
    try:
        value = int(settings[name])
    except ValueError:
        raise AssertionError(f"{name}: {settings[name]!r} is not a number") from None
    if not low <= value <= high:
        raise AssertionError(f"{name}: {value} is out of the range {low} to {high}")
    return value

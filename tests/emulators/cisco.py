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
and parses the dial plan, directory pages and logo as the phone would need them. The
dial plan is read strictly: a ``MATCH`` with anything but digits, ``#``, ``.``, ``*``,
``\\*`` and ``,``, or an attribute other than ``MATCH``, ``Timeout``, ``User`` and
``Rewrite``, fails the boot (:class:`Refused`), and :func:`dial` types keys through the
templates as the guide says the phone picks one. :meth:`Cisco7960.clock` keeps the
time the phone would show from ``time_zone`` (the firmware's names with the offsets
documents agree on; any other name fails) and the ``dst_*`` rules, and
:meth:`Cisco7960.buttons` reads each line button as a line or a speed dial
(``speed_lineN``/``speed_labelN``). When
asked, it follows ``directory_url`` (and each page's ``Next`` softkey) and ``logo_url``
over HTTP.

The parsers are written here from the vendor's documented syntax, independently of
plugtone's renderer, so a renderer bug cannot hide behind a shared helper.
"""

from __future__ import annotations

import calendar
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
from PIL import Image

Fetch = Callable[[str], tuple[int, bytes]]
"""``fetch(name or URL) -> (status, body)``; status 200 or 404 as HTTP would say."""

LINE_FIELDS = ("name", "authname", "password", "displayname", "shortname")
BUTTONS = {"7960": 6, "7940": 2}
"""Line buttons per model."""
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


class Refused(AssertionError):
    """A file the strict phone would not take: the boot fails."""


CNF_SETTING = re.compile(r"([A-Za-z0-9_]+)\s*:\s*(.*)")


def parse_cnf(text: str) -> dict[str, str]:
    """``name: value`` lines; quotes removed, comments dropped. Strict where no document
    says what the phone does: a byte that is not printable ASCII, a line that is neither
    a comment nor a setting, an unclosed quote, text after a closing quote other than a
    ``;`` comment, and a backslash inside quotes (an escape or not?) fail the boot."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        if any(not " " <= char <= "~" and char != "\t" for char in raw):
            raise Refused(f"not printable ASCII in {raw!r}")
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = CNF_SETTING.fullmatch(line)
        if found is None:
            raise Refused(f"neither a comment nor a setting: {line!r}")
        name, value = found.groups()
        if value.startswith('"'):
            closing = value.find('"', 1)
            if closing < 0:
                raise Refused(f"{name}: the quote is never closed")
            rest = value[closing + 1 :].strip()
            if rest and not rest.startswith(";"):
                raise Refused(f"{name}: {rest!r} after the closing quote")
            value = value[1:closing]
            if "\\" in value:
                raise Refused(f"{name}: a backslash in a quoted value")
        else:
            value = value.split(";", 1)[0].strip()
        settings[name] = value
    return settings


@dataclass
class DialRule:
    match: str
    timeout: int
    user: str | None
    rewrite: str | None = None


TEMPLATE_ATTRIBUTES = frozenset({"MATCH", "Timeout", "User", "Rewrite"})
"""The ``<TEMPLATE>`` attributes the guide documents ("How to Create Dial Plans")."""
MATCH_SYNTAX = re.compile(r"(?:[0-9#.*,]|\\\*)+")
"""Digits, ``#``, ``.`` (any character), ``*`` (one or more), ``,`` (second dial tone),
``\\*`` (the star key): nothing else is documented for ``MATCH``."""
REWRITE_SYNTAX = re.compile(r"(?:[0-9#*]|%[s0-5])*")


def parse_dial_plan(body: bytes) -> list[DialRule]:
    """The templates, as the strict phone reads them: anything undocumented is refused."""
    root = SafeET.fromstring(body)
    if root.tag != "DIALTEMPLATE":
        raise Refused(f"dial plan root is <{root.tag}>, not <DIALTEMPLATE>")
    if (root.text or "").strip():
        raise Refused("text in <DIALTEMPLATE>")
    rules = []
    for item in root:
        if item.tag != "TEMPLATE":
            raise Refused(f"<{item.tag}> in a dial plan")
        unknown = set(item.attrib) - TEMPLATE_ATTRIBUTES
        if unknown:
            raise Refused(f"undocumented TEMPLATE attributes {sorted(unknown)}")
        match, timeout = item.get("MATCH"), item.get("Timeout")
        if match is None or not MATCH_SYNTAX.fullmatch(match):
            raise Refused(f"MATCH={match!r} is not in the documented template syntax")
        if timeout is None or not timeout.isdigit():
            raise Refused(f"Timeout={timeout!r} is not a number of seconds")
        user = item.get("User")
        if user is not None and user.lower() not in ("ip", "phone"):
            raise Refused(f"User={user!r} is neither IP nor Phone")
        rewrite = item.get("Rewrite")
        if rewrite is not None and not REWRITE_SYNTAX.fullmatch(rewrite):
            raise Refused(f"Rewrite={rewrite!r} is not in the documented syntax")
        rules.append(DialRule(match, int(timeout), user, rewrite))
    return rules


def _tokens(match: str) -> list[str]:
    """``MATCH`` as tokens: a key (``0``-``9``, ``#``, ``*`` from ``\\*``), ``.``, ``many``
    (``*``) or ``tone`` (``,``)."""
    tokens: list[str] = []
    index = 0
    while index < len(match):
        if match.startswith("\\*", index):
            tokens.append("key*")
            index += 2
            continue
        char = match[index]
        tokens.append({".": "any", "*": "many", ",": "tone"}.get(char, "key" + char))
        index += 1
    return tokens


def _match(tokens: list[str], keys: str) -> tuple[int | None, int | None]:
    """``(complete, incomplete)``: the most literal keys a path that matches ``keys``
    fully, or one that matches them and could take more, has consumed (``None``: no
    such path). Matches against a period (or ``*``) do not count, as the guide says."""
    best_complete: int | None = None
    best_incomplete: int | None = None  # a rule that matches completely is not incomplete
    # state: (token index, inside a '*' that has taken a key, literal count)
    states = {(0, False, 0)}
    for key in keys:
        following = set()
        for index, inside, literal in _settle(tokens, states):
            if inside:
                following.add((index, True, literal))
            if index < len(tokens):
                token = tokens[index]
                if token == "any":
                    following.add((index + 1, False, literal))
                elif token == "many":
                    following.add((index, True, literal))
                elif token == "key" + key:
                    following.add((index + 1, False, literal + 1))
        states = following
    settled = _settle(tokens, states)
    for index, inside, literal in settled:
        if index == len(tokens) and not inside:
            best_complete = literal if best_complete is None else max(best_complete, literal)
    if best_complete is None:
        for index, inside, literal in settled:
            if inside or index < len(tokens):
                best_incomplete = (
                    literal if best_incomplete is None else max(best_incomplete, literal)
                )
    return best_complete, best_incomplete


def _settle(tokens: list[str], states: set[tuple[int, bool, int]]) -> set[tuple[int, bool, int]]:
    """States reachable without a key: past a dial tone, out of a ``*`` that took one."""
    result = set(states)
    pending = list(states)
    while pending:
        index, inside, literal = pending.pop()
        nexts = []
        if inside or (index < len(tokens) and tokens[index] == "tone"):
            nexts.append((index + 1, False, literal))
        for state in nexts:
            if state not in result:
                result.add(state)
                pending.append(state)
    return result


@dataclass
class Dialled:
    """What the phone sends when the user types ``keys`` and then waits."""

    number: str
    """The dialled string (after ``Rewrite``)."""
    rule: DialRule
    at_once: bool
    """Sent as the last key was pressed (a complete rule with ``Timeout="0"``)."""
    after: int
    """Seconds the phone waited after the last key (0 when ``at_once``)."""
    early: str | None = None
    """The keys at which the phone already dialled, when that was before the last one."""


def dial(rules: list[DialRule], keys: str) -> Dialled:
    """Type ``keys`` one by one as a user would, as the guide says the phone chooses.

    After each key the rules that match what was typed, fully (complete) or as the start
    of something longer (incomplete), are ranked by the keys they match literally; a
    complete rule is taken only with more literal matches than every incomplete one. A
    taken rule with ``Timeout="0"`` dials at once. When the user stops, the complete
    rule with the most literal matches dials what was typed after its ``Timeout``
    (the guide: "the number of seconds before a timeout occurs and the number is dialed
    as entered").
    """
    assert keys, "nothing typed"
    for typed in range(1, len(keys) + 1):
        chosen, complete = _choose(rules, keys[:typed])
        if chosen is not None and complete and chosen.timeout == 0:
            early = keys[:typed] if typed < len(keys) else None
            return Dialled(_rewrite(chosen, keys[:typed]), chosen, True, 0, early)
    complete = _best_complete(rules, keys)
    assert complete is not None, f"no template matches {keys!r} completely: nothing is dialled"
    return Dialled(_rewrite(complete, keys), complete, False, complete.timeout)


def _best_complete(rules: list[DialRule], typed: str) -> DialRule | None:
    """The rule that dials ``typed`` once the user stops: the complete match with the
    most literal keys (an incomplete one cannot dial what it has not seen)."""
    best: tuple[int, DialRule] | None = None
    for rule in rules:
        complete, _ = _match(_tokens(rule.match), typed)
        if complete is not None and (best is None or complete > best[0]):
            best = (complete, rule)
    return best[1] if best else None


def _choose(rules: list[DialRule], typed: str) -> tuple[DialRule | None, bool]:
    best_complete: tuple[int, DialRule] | None = None
    best_incomplete: tuple[int, DialRule] | None = None
    for rule in rules:
        complete, incomplete = _match(_tokens(rule.match), typed)
        if complete is not None and (best_complete is None or complete > best_complete[0]):
            best_complete = (complete, rule)
        if incomplete is not None and (best_incomplete is None or incomplete > best_incomplete[0]):
            best_incomplete = (incomplete, rule)
    if best_complete and (best_incomplete is None or best_complete[0] > best_incomplete[0]):
        return best_complete[1], True
    if best_incomplete:
        return best_incomplete[1], False
    return (best_complete[1], True) if best_complete else (None, False)


def _rewrite(rule: DialRule, typed: str) -> str:
    if rule.rewrite is None:
        return typed
    assert not re.search(r"%[1-5]", rule.rewrite), "digit groups are not modelled"
    return rule.rewrite.replace("%s", typed).replace("%0", typed)


ZONE_NAMES = {
    # the firmware's time_zone names whose offsets (minutes east of GMT) the classic
    # abbreviation table and the name's place in the firmware's list agree on
    "IDL": -720, "NT": -660, "AHST": -600, "YST": -540, "PST": -480, "MST": -420,
    "CST": -360, "EST": -300, "AST": -240, "NST": -210, "AT": -120, "WAT": -60, "GMT": 0,
    "CET": 60, "EET": 120, "BT": 180, "IT": 210, "ZP4": 240, "AFG": 270, "ZP5": 300,
    "IST": 330, "ZP6": 360, "WAST": 420, "JST": 540, "CAST": 570, "EAST": 600, "NZST": 720,
}  # fmt: skip
UNKNOWN_ZONE_NAMES = frozenset({"IMT", "BST", "SUM", "HST", "EADT"})
"""On the firmware's list, but what offset the phone gives them no document says."""
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
"""The guide's (case-sensitive) names, 1 (Sunday) to 7 (Saturday)."""


@dataclass(frozen=True)
class DstDate:
    """One ``dst_start_*`` or ``dst_stop_*`` rule as the phone reads it."""

    month: int
    day: int
    """1-31: the absolute rule; 0: the weekday rule."""
    weekday: int
    """0 = Monday ... 6 = Sunday (Python's order)."""
    week: int
    """1-6, or 8 for the last."""
    minutes: int
    """Wall-clock minutes after midnight."""

    def local(self, year: int) -> datetime:
        """The wall-clock moment of the change in ``year``."""
        if self.day:
            date = datetime(year, self.month, self.day)
        elif self.week == 8:
            last = calendar.monthrange(year, self.month)[1]
            date = datetime(year, self.month, last)
            while date.weekday() != self.weekday:
                date -= timedelta(days=1)
        else:
            date = datetime(year, self.month, 1)
            while date.weekday() != self.weekday:
                date += timedelta(days=1)
            date += timedelta(weeks=self.week - 1)
            if date.month != self.month:
                raise Refused(f"there is no week {self.week} of month {self.month} in {year}")
        return date + timedelta(minutes=self.minutes)


@dataclass(frozen=True)
class Clock:
    """The phone's clock: ``time_zone`` plus the ``dst_*`` rules, as the guide has them."""

    standard: timedelta
    saving: timedelta
    start: DstDate | None
    stop: DstDate | None

    def offset_at(self, moment: datetime) -> timedelta:
        """The offset the phone shows at ``moment`` (aware)."""
        if self.start is None or self.stop is None:
            return self.standard
        instant = moment.astimezone(UTC).replace(tzinfo=None)
        year = (instant + self.standard).year
        begins = self.start.local(year) - self.standard  # the clock reads standard time
        ends = self.stop.local(year) - self.standard - self.saving  # and then summer time
        northern = begins < ends  # south of the equator, summer runs over the new year
        summer = begins <= instant < ends if northern else not ends <= instant < begins
        return self.standard + self.saving if summer else self.standard


def parse_clock(settings: dict[str, str]) -> Clock:
    """The phone's clock from its settings; undocumented values fail, as a strict phone."""
    name = settings.get("time_zone")
    if name in UNKNOWN_ZONE_NAMES:
        raise Refused(f"time_zone {name}: what the phone makes of it is not documented")
    if name not in ZONE_NAMES:
        raise Refused(f"time_zone {name!r} is not one of the firmware's names")
    standard = timedelta(minutes=ZONE_NAMES[name])
    adjust = settings.get("dst_auto_adjust")
    if adjust not in ("0", "1"):
        raise Refused(f"dst_auto_adjust {adjust!r} is neither 0 nor 1")
    if adjust == "0":
        return Clock(standard, timedelta(0), None, None)
    offset = settings.get("dst_offset", "")
    if not offset.lstrip("-").isdigit():
        raise Refused(f"dst_offset {offset!r} is not whole hours")
    start, stop = (_dst_date(settings, which) for which in ("start", "stop"))
    return Clock(standard, timedelta(hours=int(offset)), start, stop)


def _dst_date(settings: dict[str, str], which: str) -> DstDate:
    def value(field: str) -> str:
        key = f"dst_{which}_{field}"
        if key not in settings:
            raise Refused(f"{key} missing with dst_auto_adjust 1")
        return settings[key]

    month_text = value("month")
    if month_text.isdigit() and 1 <= int(month_text) <= 12:
        month = int(month_text)
    elif month_text[:3].lower() in MONTH_NAMES and (
        len(month_text) == 3 or month_text.lower() in _full_months()
    ):
        month = MONTH_NAMES.index(month_text[:3].lower()) + 1
    else:
        raise Refused(f"dst_{which}_month {month_text!r}")
    day_text = value("day")
    day = int(day_text) if day_text.isdigit() else (0 if day_text == "" else -1)
    if not 0 <= day <= 31:
        raise Refused(f"dst_{which}_day {day_text!r}")
    weekday_text = value("day_of_week")
    names = {name: number for number, name in enumerate(DAY_NAMES)}
    names.update({name[:3]: number for number, name in enumerate(DAY_NAMES)})
    if weekday_text.isdigit() and 1 <= int(weekday_text) <= 7:
        sunday_first = int(weekday_text) - 1
    elif weekday_text in names:
        sunday_first = names[weekday_text]
    else:
        raise Refused(f"dst_{which}_day_of_week {weekday_text!r} (the names are case-sensitive)")
    week_text = value("week_of_month")
    if week_text not in ("1", "2", "3", "4", "5", "6", "8"):
        raise Refused(f"dst_{which}_week_of_month {week_text!r}")
    time_text = value("time")
    found = re.fullmatch(r"(\d{1,2})(?:[:/](\d{2}))?", time_text)
    if found is None or int(found.group(1)) > 23 or int(found.group(2) or 0) > 59:
        raise Refused(f"dst_{which}_time {time_text!r}")
    minutes = int(found.group(1)) * 60 + int(found.group(2) or 0)
    return DstDate(month, day, (sunday_first - 1) % 7, int(week_text), minutes)


def _full_months() -> set[str]:
    return {calendar.month_name[number].lower() for number in range(1, 13)}


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


@dataclass(frozen=True)
class Button:
    """What one line button shows."""

    kind: str
    """``line`` or ``speeddial``."""
    number: str
    """The line's user (``lineN_name``) or the number the speed dial calls."""
    label: str


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

    def clock(self) -> Clock:
        """The clock the phone keeps from what its configuration files said."""
        return parse_clock(self.settings)

    def buttons(self) -> list[Button | None]:
        """Each line button, top to bottom: a line (``lineN_name`` set), a speed dial
        (``speed_lineN`` on a button without a line) or nothing. A button told to be
        both fails: no document says which the phone would show."""
        shown: list[Button | None] = []
        for index in range(1, BUTTONS[self.model] + 1):
            name = self.settings.get(f"line{index}_name", "")
            dial = self.settings.get(f"speed_line{index}", "")
            if name and dial:
                raise Refused(f"button {index} is both line {name!r} and speed dial {dial!r}")
            if name:
                label = self.settings.get(f"line{index}_shortname") or name
                shown.append(Button("line", name, label))
            elif dial:
                label = self.settings.get(f"speed_label{index}") or dial
                shown.append(Button("speeddial", dial, label))
            else:
                shown.append(None)
        return shown

    def press(self, button: int) -> str:
        """What pressing a speed-dial button calls (its number, as given)."""
        shown = self.buttons()[button - 1]
        assert shown is not None and shown.kind == "speeddial", f"button {button}: {shown}"
        return shown.number

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

"""What in a phone's inventory its Aastra files cannot carry as asked (``check_phone``).

Each finding is ``(message, refuse)``; the core adds the phone. Refused: a key with no
place or a BLF with no key that shows one (:mod:`.keys`), a key that cannot work (no
value, a malformed park code, two park configurations on a line), a line past the
model's last, a value holding a character the file format cannot carry
(:mod:`.cfgfile`), a provisioning login the phone cannot hold (:mod:`.trust`), a time
zone the phone cannot follow (:mod:`.timezones`). Warned: a pin not honoured, a clock
change off the hour, park keys on a model whose 3.2.2 firmware lacks park configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from plugtone.vendors.aastra.cfgfile import value_problem
from plugtone.vendors.aastra.keys import Placement, key_label, key_problems, key_value, layout
from plugtone.vendors.aastra.models import LABEL_FAMILIES, AastraModel
from plugtone.vendors.aastra.timezones import zone_problems
from plugtone.vendors.aastra.trust import login_problems
from plugtone.vendors.base import PhoneView


def phone_findings(phone: PhoneView, model: AastraModel) -> list[tuple[str, bool]]:
    """Every finding for ``phone`` on ``model``."""
    found: list[tuple[str, bool]] = []
    for line in phone.lines:
        if not 1 <= line.index <= model.max_lines:
            found.append(
                (f"line {line.index}: the {model.spec.name} has lines 1 to {model.max_lines}", True)
            )
    for field, value in _values(phone):
        problem = value_problem(value)
        if problem is not None:
            found.append((f"{field}: {problem}", True))
    keys = phone.effective_keys
    arranged = layout(keys, model)
    for placement in arranged.placed:
        key = placement.key
        where = f"key {placement.index} ({key.type})"
        for part, value in (("value", key_value(phone, key)), ("label", _label(placement))):
            problem = value_problem(value or "")
            if problem is not None:
                found.append((f"{where} {part}: {problem}", True))
    found += key_problems(phone, keys, model)
    found += arranged.problems
    if phone.http_user and phone.http_password:
        for problem in login_problems(phone.http_user, phone.http_password):
            found.append((f"provisioning login: {problem}", True))
    found += zone_problems(phone.site.timezone)
    return found


def _label(placement: Placement) -> str:
    return key_label(placement.key) if placement.family in LABEL_FAMILIES else ""


def _values(phone: PhoneView) -> Iterator[tuple[str, str]]:
    """``(field, value)`` of every inventory text the plug-in writes into a file."""
    site = phone.site
    for line in phone.lines:
        yield f"line {line.index} number", line.number
        yield f"line {line.index} name", line.name or ""
        yield f"line {line.index} auth user", line.auth_user
        yield f"line {line.index} password", line.password or ""
    yield "site sip_server", site.sip_server
    for name in ("voicemail", "conference", "dial_plan", "resync_time"):
        yield f"site {name}", getattr(site, name) or ""
    for index, server in enumerate(site.ntp_servers[:3], start=1):
        yield f"site ntp server {index}", server
    if site.config_server:
        url = urlsplit(site.config_server)
        yield "site config_server host", url.hostname or ""
        yield "site config_server path", url.path
        yield "site config_server user", unquote(url.username or "")
        yield "site config_server password", unquote(url.password or "")

"""What a Polycom's files cannot carry as the inventory says (``check_phone``).

Each finding names the key, line, field or setting and the reason, so an apply that
would leave a phone so is refused with something the admin can act on (see
:meth:`plugtone.vendors.base.VendorPlugin.check_phone`). Nothing a finding names is
dropped silently at render time: the render writes what fits, and the apply that
would need more is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from plugtone.vendors.base import ContactView, Finding, PhoneView, SiteView
from plugtone.vendors.polycom.keys import check_keys
from plugtone.vendors.polycom.parameters import codec_findings, dial_plan_findings
from plugtone.vendors.polycom.timezones import zone_findings
from plugtone.vendors.polycom.xmlfile import lost_character

DIRECTORY_NAME_BYTES = 40
"""``<fn>``: "UTF-8 encoded string of up to 40 bytes" (SIP 3.0.2 guide p. 4-11)."""


def phone_findings(phone: PhoneView) -> list[Finding]:
    """Every finding of the parameters side of the plug-in for ``phone``."""
    findings = check_keys(phone)
    findings += value_findings(phone)
    findings += codec_findings(phone.site.codecs, phone.model)
    findings += dial_plan_findings(phone.site)
    findings += zone_findings(phone.site.timezone)
    return findings


def value_findings(phone: PhoneView) -> list[Finding]:
    """Lossless values: a value holding a character its file cannot carry unchanged is
    refused, naming the field and the character (never the value: it may be a
    password); a directory name longer than the phone keeps is warned of.

    Everything else reaches the phone as given: the files are UTF-8 XML and ElementTree
    escapes ``&``, ``<``, ``>`` and ``"`` (see :mod:`.xmlfile`), so quotes, markup and any
    other language's letters need nothing more.
    """
    findings = list(_lost(_values(phone)))
    findings += _site_value_findings(phone.site)
    findings += _long_names(_key_names(phone))
    return findings


_SITE_FINDINGS: dict[int, tuple[SiteView, tuple[Finding, ...]]] = {}
"""A site's own values are the same for each of its phones: checked once per site view
(a 2,000-phone site would otherwise check its member list 2,000 times)."""


def _site_value_findings(site: SiteView) -> tuple[Finding, ...]:
    cached = _SITE_FINDINGS.get(id(site))
    if cached is not None and cached[0] is site:
        return cached[1]
    found = tuple(_lost(_site_values(site))) + tuple(_long_names(_site_names(site)))
    if len(_SITE_FINDINGS) >= 256:
        _SITE_FINDINGS.clear()
    _SITE_FINDINGS[id(site)] = (site, found)
    return found


def _lost(values: Iterable[tuple[str, str | None]]) -> Iterator[Finding]:
    for field, value in values:
        char = lost_character(value)
        if char is not None:
            kind = "a control character" if ord(char) < 0x20 else "not a text character"
            yield Finding(
                f"{field}: character U+{ord(char):04X} ({kind}) cannot reach a Polycom "
                "unchanged: its XML files cannot hold it"
            )


def _long_names(names: Iterable[tuple[str, str]]) -> Iterator[Finding]:
    for field, name in names:
        size = len(name.encode("utf-8", "replace"))  # a lone surrogate: refused above
        if size > DIRECTORY_NAME_BYTES:
            yield Finding(
                f"{field}: {size} bytes in UTF-8; a Polycom directory entry holds "
                f"{DIRECTORY_NAME_BYTES} and the phone shows it cut",
                refuse=False,
            )


def _site_values(site: SiteView) -> Iterator[tuple[str, str | None]]:
    """Every value of the site that reaches its phones' files, with its field."""
    yield f"site {site.name} sip_server", site.sip_server
    yield f"site {site.name} voicemail", site.voicemail
    yield f"site {site.name} conference", site.conference
    for server in site.ntp_servers[:1]:  # the first is the phone's SNTP server
        yield f"site {site.name} ntp_servers", server
    for field, contact in _contacts(site):
        yield f"{field} name", contact.name
        yield f"{field} number", contact.number


def _values(phone: PhoneView) -> Iterator[tuple[str, str | None]]:
    """Every value of the phone itself that reaches one of its files, with its field."""
    for line in phone.lines:
        yield f"line {line.index} name", line.name
        yield f"line {line.index} number", line.number
        yield f"line {line.index} auth_user", line.auth_user
        yield f"line {line.index} password", line.password
    for number, key in enumerate(phone.effective_keys, start=1):
        yield f"key {number} value", key.value
        yield f"key {number} label", key.label


def _contacts(site: SiteView) -> Iterator[tuple[str, ContactView]]:
    for index, contact in enumerate(site.directory, start=1):
        yield f"site {site.name} directory entry {index}", contact
    for index, member in enumerate(site.members, start=1):
        yield f"site {site.name} extension {index}", member


def _site_names(site: SiteView) -> Iterator[tuple[str, str]]:
    for field, contact in _contacts(site):
        yield f"{field} name", contact.name


def _key_names(phone: PhoneView) -> Iterator[tuple[str, str]]:
    for number, key in enumerate(phone.effective_keys, start=1):
        if key.type in ("speeddial", "voicemail") and key.label:
            yield f"key {number} label", key.label

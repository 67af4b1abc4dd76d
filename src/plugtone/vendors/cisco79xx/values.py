"""Which values a 79xx ``.cnf`` file carries unchanged, and the check that refuses the rest.

The format (:mod:`.cnf`) is ``name: value`` lines; ``#`` starts a comment line and ``;``
a trailing comment, so plugtone writes every value in double quotes, where ``#`` and
``;`` are plain characters (dbaldree/cisco_sip_voipfone ``SIP0014638ADF5E.cnf``; the
seed's file quotes its values the same way). What no document says, and the strict
phone is assumed not to do:

- escape anything: a value cannot hold ``"`` (it would end the value) and ``\\`` is
  refused too, since nothing says whether the firmware reads it as an escape;
- take a line break, a tab or another control character inside a value;
- read any character set: the guide's examples are ASCII, and which encoding the
  display uses for others is not documented, so only printable ASCII is carried.

Lengths. ``phone_label`` shows at most 11 characters (sipXconfig's model of the guide's
``phone_label``, ``maxLen="11"``; a working file's comment says the same: "max 11
buchstaben", oldwiki.funkfeuer.at); plugtone cuts the phone's description to that, as
the display would. The guide's longest limit for a text setting of these phones is
``phone_password``'s 31 characters (sipXconfig ``maxLen="31"``); none is documented for
``lineN_name``, ``lineN_authname``, ``lineN_password``, ``lineN_displayname``,
``lineN_shortname``, ``speed_lineN`` or ``speed_labelN``, so 31 is the strict assumption
for them too. URLs and server names carry the character rule only.

:func:`check_values` names the field and the character (never a password itself), so
an apply is refused before a phone gets a value it would read differently; the
renderer leaves such a value out rather than change it (:func:`.cnf.serialize`).
"""

from __future__ import annotations

from plugtone.vendors.base import Finding, PhoneView
from plugtone.vendors.cisco79xx.keys import buttons_of, key_layout

MAX_TEXT = 31
"""Characters of a line or key text (the strict assumption above)."""
LABEL_LENGTH = 11
"""``phone_label``: the display's top right corner."""
REFUSED = frozenset('"\\')


def bad_character(value: str) -> str | None:
    """The first character of ``value`` a quoted ``.cnf`` value cannot carry, if any."""
    for char in value:
        if char in REFUSED or not " " <= char <= "~":
            return char
    return None


def carries(value: str) -> bool:
    return bad_character(value) is None


def describe(char: str) -> str:
    """A character as a message shows it: ``'"'``, ``'é' (U+00E9)``, ``line feed (U+000A)``."""
    names = {"\n": "a line feed", "\r": "a carriage return", "\t": "a tab"}
    if char in names:
        return f"{names[char]} (U+{ord(char):04X})"
    if char.isprintable():
        return f"{char!r}" if " " <= char <= "~" else f"{char!r} (U+{ord(char):04X})"
    return f"U+{ord(char):04X}"


def problem(value: str, limit: int | None = None) -> str | None:
    """Why ``value`` cannot reach the phone unchanged, or ``None``."""
    char = bad_character(value)
    if char is not None:
        return (
            f"holds {describe(char)}, which a 79xx .cnf value cannot carry (printable "
            'ASCII only, without " or \\)'
        )
    if limit is not None and len(value) > limit:
        return f"is {len(value)} characters, more than the {limit} a 79xx keeps"
    return None


def check_values(phone: PhoneView) -> list[Finding]:
    """A refusal for every value of the phone's files the format would not carry."""
    checks: list[tuple[str, str, int | None]] = []
    for line in sorted(phone.lines, key=lambda line: line.index):
        if line.index > buttons_of(phone.model):
            continue  # refused with the line itself
        where = f"line {line.index} ({line.number})"
        checks += [
            (f"{where} number (line{line.index}_name)", line.number, MAX_TEXT),
            (f"{where} auth user (line{line.index}_authname)", line.auth_user, MAX_TEXT),
            (f"{where} password (line{line.index}_password)", line.password or "", MAX_TEXT),
            (f"{where} name (line{line.index}_displayname)", line.name or "", MAX_TEXT),
        ]
    checks += [(what, value, MAX_TEXT) for what, value in key_layout(phone).texts]
    site = phone.site
    if phone.description:
        checks.append(
            ("description (shown as phone_label)", phone.description[:LABEL_LENGTH], None)
        )
    checks += [
        (f"site {site.name} SIP server (proxy1_address)", site.sip_server, None),
        (f"site {site.name} voicemail (messages_uri)", site.voicemail or "", None),
        (f"site {site.name} NTP server (sntp_server)", ", ".join(site.ntp_servers[:1]), None),
        (f"site {site.name} public_url (directory_url, logo_url)", site.public_url or "", None),
    ]
    findings = []
    for what, value, limit in checks:
        reason = problem(value, limit)
        if reason is not None:
            findings.append(Finding(f"{what}: {reason}"))
    return findings

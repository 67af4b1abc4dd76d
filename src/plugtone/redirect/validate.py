"""Field rules of the redirection service, each refusal a clear message (never a silent
truncation: the vendor's guide says its service truncates a server name past 20
characters and a URL past 255; plugtone refuses them instead and says why)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from plugtone.inventory.document import Problem
from plugtone.macaddr import MacError, normalize_mac
from plugtone.redirect.models import NAME_MAX, URL_MAX
from plugtone.services.errors import Invalid

SCHEMES = ("http", "https", "ftp", "tftp")
BAD_MAC = "Reenter a valid MAC address for the phone you want to add to the RCS."
"""The message the vendor's guide shows for an incorrect MAC ("Adding and Redirecting
a Phone Using the RCS Web UI", step 4), plus what plugtone accepts."""
EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
PHONE_NUMBER = re.compile(r"^[0-9+()./ -]{0,32}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def fail(field: str, message: str) -> Invalid:
    return Invalid([Problem(field, message)], message)


def account_name(text: str) -> str:
    name = (text or "").strip()
    if not ACCOUNT.match(name):
        raise fail(
            "name",
            f"{text!r} is not an account name (1 to 64 letters, digits, "
            "spaces, _.-, starting with a letter or digit)",
        )
    return name


def server_name(text: str) -> str:
    name = (text or "").strip()
    if not name:
        raise fail("name", "a server needs a name")
    if len(name) > NAME_MAX:
        raise fail(
            "name", f"a server name has at most {NAME_MAX} characters; this one has {len(name)}"
        )
    if any(not character.isprintable() for character in name):
        raise fail("name", "a server name holds printable characters only")
    if name.lower() in ("none", "(none)"):
        # "none" is what the forms and the API say for "no server" (unaffiliated)
        raise fail("name", f"{name!r} means no server (unaffiliated); choose another name")
    return name


def server_url(text: str) -> str:
    url = (text or "").strip()
    if not url:
        raise fail("url", "a server needs a URL")
    if len(url) > URL_MAX:
        raise fail("url", f"a server URL has at most {URL_MAX} characters; this one has {len(url)}")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise fail("url", "a server URL holds no spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise fail("url", f"{url!r} is not a URL: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise fail(
            "url",
            f"a server URL starts with {', '.join(s + '://' for s in SCHEMES)}; "
            f"{(parts.scheme or url)!r} is none of them",
        )
    if not parts.hostname:
        raise fail("url", f"{url!r} names no host")
    if '"' in url or "'" in url or "<" in url or ">" in url:
        raise fail("url", "a server URL cannot hold quotes or angle brackets")
    del port
    return url


def mac(text: str) -> str:
    try:
        return normalize_mac(text)
    except MacError:
        raise fail(
            "mac",
            f"{BAD_MAC} {text!r} is not one (12 hex digits, optionally separated by ':' or '-')",
        ) from None


def email(text: str) -> str:
    address = (text or "").strip()
    if len(address) > 254 or not EMAIL.match(address):
        raise fail("email", f"{text!r} is not an e-mail address")
    return address.lower()


def password(text: str) -> str:
    if not MIN_PASSWORD <= len(text or "") <= MAX_PASSWORD:
        raise fail("password", f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return text


def firmware(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip().lower() == "none":
        return None
    version = text.strip()
    if not VERSION.match(version):
        raise fail("firmware", f"{text!r} is not a firmware version (letters, digits, ._-)")
    return version


def person(field: str, text: str | None, limit: int) -> str | None:
    value = (text or "").strip()
    if len(value) > limit:
        raise fail(field, f"{field} has at most {limit} characters; this has {len(value)}")
    if any(not character.isprintable() for character in value):
        raise fail(field, f"{field} holds printable characters only")
    return value or None


def phone_number(field: str, text: str | None) -> str | None:
    value = (text or "").strip()
    if not PHONE_NUMBER.match(value):
        raise fail(field, f"{value!r} is not a phone number (digits, spaces, +()./-; at most 32)")
    return value or None

"""MAC address parsing shared by the inventory, the resolver and the vendor plug-ins.

Admins paste MACs in every notation (``00:08:5D:00:00:01``, ``00-08-5d-00-00-01``,
``0008.5d00.0001``, ``00085D000001``); phones put them in file names and User-Agents
in upper or lower case. Everything inside plugtone uses one form: 12 upper-case hex
digits, no separators.
"""

from __future__ import annotations

import re

_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$")
_DOTTED = re.compile(r"^[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}$")
_BARE = re.compile(r"^[0-9A-Fa-f]{12}$")


class MacError(ValueError):
    """A string that is not a MAC address in any notation plugtone accepts."""


def normalize_mac(text: str) -> str:
    """Return ``text`` as 12 upper-case hex digits, or raise :class:`MacError`."""
    if not isinstance(text, str):
        raise MacError(f"not a MAC address: {text!r}")
    candidate = text.strip()
    if _SEPARATED.match(candidate) or _DOTTED.match(candidate) or _BARE.match(candidate):
        mac = re.sub(r"[^0-9A-Fa-f]", "", candidate).upper()
        if mac == "000000000000":
            raise MacError("the all-zero MAC is a vendor's placeholder file name, not a phone")
        if int(mac[:2], 16) & 1:
            raise MacError(f"{text!r} is a multicast address, not a phone's MAC")
        return mac
    raise MacError(
        f"not a MAC address: {text!r} (use 12 hex digits, optionally separated "
        "by ':' or '-', or dotted as 0008.5d00.0001)"
    )


def is_mac(text: str) -> bool:
    """True when ``text`` parses as a phone MAC."""
    try:
        normalize_mac(text)
    except MacError:
        return False
    return True


def colon_mac(mac: str, upper: bool = True) -> str:
    """``00085D000001`` -> ``00:08:5D:00:00:01`` (for people and some vendor keys)."""
    pairs = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
    return pairs if upper else pairs.lower()

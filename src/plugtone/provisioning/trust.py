"""How far a request is trusted: decided once per request, in the resolver's
identification step, and recorded with the request's event.

Levels, strongest first:

- ``local``: plugtone's own admin faces (``plugtone render``, ``export-tree``, the
  API's rendered-file view): never a network client.
- ``authenticated``: the request proved it is the phone whose file it asks for, with
  that phone's own credentials (HTTP Digest, Basic over TLS, an FTP login) or a
  client certificate from a configured CA naming the phone's MAC.
- ``trusted_network``: the client address lies in a network that the phone's site (or
  the server's settings) trusts for the transport used.
- ``window``: an admin armed a provisioning window covering the phone (its site or its
  MAC), and it is open.
- ``stranger``: anything else. Strangers never get a secret, and nothing they get
  tells a known MAC from an unknown one (see :mod:`plugtone.provisioning.resolver`).

The network and window checks here are pure functions of their inputs, so the
resolver can memoize answers per level and tests can drive them without a server.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from plugtone.provisioning.caches import ENTRY_OVERHEAD, BoundedCache

TRANSPORTS = ("tftp", "ftp", "http", "https")
"""Transports a trusted network can be limited to."""
MAX_RULES = 256
"""Trusted networks one site (or the settings) may list: a bound on per-request work."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Trust(StrEnum):
    LOCAL = "local"
    AUTHENTICATED = "authenticated"
    TRUSTED_NETWORK = "trusted_network"
    WINDOW = "window"
    STRANGER = "stranger"

    @property
    def privileged(self) -> bool:
        """Whether this level may receive secrets."""
        return self is not Trust.STRANGER


@dataclass(frozen=True)
class NetworkRule:
    """A network trusted for some transports (all of them when ``transports`` is empty)."""

    network: Network
    transports: frozenset[str] = frozenset()

    def covers(
        self, address: ipaddress.IPv4Address | ipaddress.IPv6Address, transport: str
    ) -> bool:
        if self.transports and transport not in self.transports:
            return False
        return address.version == self.network.version and address in self.network

    def as_data(self) -> str | dict:
        """The rule as the inventory file and the API spell it."""
        if not self.transports:
            return str(self.network)
        return {"network": str(self.network), "transports": sorted(self.transports)}


def parse_network_rules(
    entries: Iterable[object] | None, where: str = "trusted_networks"
) -> tuple[NetworkRule, ...]:
    """Rules from ``["10.0.0.0/8", {"network": "192.0.2.0/24", "transports": ["tftp"]}]``.

    Raises ``ValueError`` naming the bad entry: a network with host bits set
    (``10.1.2.3/8``) is refused rather than silently widened, as are unknown transports.
    """
    if entries is None:
        return ()
    if isinstance(entries, str | bytes) or not isinstance(entries, Iterable):
        raise ValueError(f"{where}: expected a list of networks")
    rules: list[NetworkRule] = []
    for position, entry in enumerate(entries, start=1):
        label = f"{where}[{position}]"
        transports: Sequence[object] = ()
        if isinstance(entry, Mapping):
            unknown = set(entry) - {"network", "transports"}
            if unknown:
                names = ", ".join(sorted(map(str, unknown)))
                raise ValueError(f"{label}: unknown field(s) {names}")
            text = entry.get("network")
            transports = entry.get("transports") or ()
            if isinstance(transports, str):
                transports = [part.strip() for part in transports.split(",") if part.strip()]
        else:
            text = entry
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{label}: expected a network such as 10.0.0.0/8")
        try:
            network = ipaddress.ip_network(text.strip(), strict=True)
        except ValueError as problem:
            raise ValueError(f"{label}: {text!r} is not a network ({problem})") from None
        wanted = set()
        for transport in transports:
            name = str(transport).strip().lower()
            if name not in TRANSPORTS:
                raise ValueError(
                    f"{label}: unknown transport {transport!r} (one of {', '.join(TRANSPORTS)})"
                )
            wanted.add(name)
        rules.append(NetworkRule(network, frozenset(wanted)))
    if len(rules) > MAX_RULES:
        raise ValueError(f"{where}: at most {MAX_RULES} networks")
    return tuple(rules)


class NetworkTrust:
    """Answers "is this address trusted for this transport", memoized per address.

    Addresses come from the network (attacker-chosen for UDP), so the memo is a
    bounded cache; a rule list is small, so a miss costs a few comparisons.
    """

    def __init__(self, rules: Sequence[NetworkRule], memo_size: int = 4096) -> None:
        self.rules = tuple(rules)
        self._memo = BoundedCache(memo_size, memo_size * ENTRY_OVERHEAD)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def trusts(self, address: str | None, transport: str) -> bool:
        if not self.rules or not address:
            return False
        key = (address, transport)
        known = self._memo.peek(key)
        if known is not None:
            return known
        try:
            parsed = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            verdict = False
        else:
            if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
                parsed = parsed.ipv4_mapped
            verdict = any(rule.covers(parsed, transport) for rule in self.rules)
        self._memo.put(key, verdict, ENTRY_OVERHEAD + len(address))
        return verdict


@dataclass(frozen=True)
class WindowView:
    """An armed provisioning window, as the resolver sees it.

    A window covers the phones of ``site`` (when set) and the phones in ``macs``.
    With ``once``, it closes for each phone :data:`ONCE_GRACE` seconds after that
    phone was first sent a file carrying a secret within the window, so a phone's
    boot (several files, sometimes over two transports) completes, and a later
    request naming the same MAC is a stranger's.
    """

    id: int
    opens_at: float
    closes_at: float
    site: str | None = None
    macs: frozenset[str] = frozenset()
    once: bool = False

    def covers(self, mac: str, site: str | None, now: float) -> bool:
        if not (self.opens_at <= now < self.closes_at):
            return False
        return mac in self.macs or (self.site is not None and self.site == site)


def _once_grace(default: float = 300.0) -> float:
    """``PLUGTONE_ONCE_GRACE`` (seconds, 0 to a day) when set, else five minutes: a
    site whose phones boot slowly needs more, and tests need less."""
    text = os.environ.get("PLUGTONE_ONCE_GRACE", "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        return default
    return value if 0 <= value <= 86400 else default


ONCE_GRACE = _once_grace()
"""Seconds a ``once`` window stays open for a phone after its first secret-bearing file."""


class Windows:
    """The armed windows of one inventory generation, plus the per-phone closings of
    ``once`` windows seen by this process (and read back from the event log)."""

    def __init__(
        self, windows: Sequence[WindowView] = (), first_use: Mapping[str, float] | None = None
    ) -> None:
        self.windows = tuple(windows)
        self.first_use: dict[str, float] = dict(first_use or {})
        """MAC -> when it was first sent a secret under a ``once`` window."""

    def __bool__(self) -> bool:
        return bool(self.windows)

    def open_for(self, mac: str, site: str | None, now: float) -> WindowView | None:
        """The window that lets ``mac`` (of ``site``) in now, if any."""
        for window in self.windows:
            if not window.covers(mac, site, now):
                continue
            if window.once:
                used = self.first_use.get(mac)
                if used is not None and used >= window.opens_at and now >= used + ONCE_GRACE:
                    continue
            return window
        return None

    def disclosed(self, mac: str, now: float) -> None:
        """``mac`` was sent a secret under a window: start its ``once`` grace period."""
        self.first_use.setdefault(mac, now)

"""Sweep defence: notice a client walking through MACs, slow it, then shut it out.

Sans-IO: the guard is fed client addresses, MACs and the answer's facts, reads a
clock it is given, and returns verdicts (a delay, a block, an alert to record). It
owns no socket, no task and no log; :class:`~plugtone.provisioning.provisioner.Provisioner`
applies what it says, so it is tested with a fake clock and no server.

What counts as *suspicious* (each one request):

- a stranger's request for a per-device name (``Answer.personal``): what a sweep of
  ``<MAC>.cfg`` names is made of. A phone that then proves who it is (HTTP Digest after
  the challenge this answer turns into) is forgiven it: see :meth:`SweepGuard.check`;
- a request naming a MAC that is no phone of the inventory, at any trust level (a
  scanner on a trusted LAN still shows up);
- credentials presented that prove nothing (``Answer.auth_failed``).

Suspicious requests fill leaky buckets (:class:`_Source`) per *source*: the client
address, its /24 (IPv4) or /64 (IPv6), and the vendor prefix (first six hex digits)
of the MAC asked for. A bucket leaks ``alert / window`` per second, so a source stays
quiet while it asks less than ``alert`` suspicious names per ``window`` on average,
and a burst of ``alert`` raises it at once. A source's *episode*:

1. the bucket reaches ``alert``: ONE ``sweep`` alert (however long the episode lasts);
2. from then on its stranger requests wait a delay growing with the bucket, up to
   ``delay_max`` at ``block``;
3. at ``block`` its stranger requests are blocked for ``block_seconds`` (again as long
   as it keeps the bucket at ``block``: blocked requests still count);
4. the episode ends once the block has expired and the bucket has drained empty;
   only then can the source raise another alert.

Privileged requests (authenticated, trusted network, window) are never slowed nor
blocked, so phones behind the NAT of a sweeper keep working; their unknown-MAC and
failed-credential requests still count.

One sweeper, one alert: requests from an address in an episode no longer feed its
network's or its prefix's bucket, and requests from a network in an episode no longer
feed the prefix's. A sweep from one address therefore raises the address's alert and
nothing else; several addresses of one /24 raise one alert each and one for the /24.

FTP logins are throttled here too (:meth:`SweepGuard.login_attempt`): failures per
address and per account; after ``login_free`` failures each attempt waits
``1 s, 2 s, 4 s ...`` up to ``login_delay_max``, and an address with ``login_block``
failures is refused outright for ``block_seconds``. An account is only ever delayed,
never locked: a lockout would let anyone lock a phone out by failing its login.

Memory: every map a client can add to is a :class:`BoundedCache` (entries and bytes),
and sources in an episode sit in a map of their own, so a flood of new (spoofed)
addresses can evict counters but not a block.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from plugtone.provisioning.caches import ENTRY_OVERHEAD, BoundedCache
from plugtone.settings import SecuritySettings

ADDRESS = "address"
NETWORK = "network"
PREFIX = "prefix"

ADDRESSES_MAX = 16_384
"""Client addresses whose buckets are kept (least recently used evicted first)."""
NETWORKS_MAX = 4_096
PREFIXES_MAX = 4_096
"""Vendor prefixes: made-up MACs make up prefixes too, so this map is bounded as well."""
EPISODES_MAX = 1_024
"""Sources in an episode kept per kind, apart from the counters (see the module doc)."""
CHALLENGES_MAX = 4_096
"""Recent stranger requests for per-device names, by address and MAC, that a phone may
still prove were its own (see :meth:`SweepGuard.check`)."""
CHALLENGE_SECONDS = 30.0
"""How soon after a stranger's request the same address must come back with proof for
the same MAC for that request to be forgiven (a Digest retry comes within a second)."""
LOGINS_MAX = 4_096
"""Addresses and, separately, accounts whose login failures are kept."""
MAX_ACCOUNT = 64
"""Longer logins than any the inventory accepts share one bucket (never a key of their own)."""
SOURCE_BYTES = ENTRY_OVERHEAD + 160
"""Weight of one source entry: its key (an address or prefix) and a slotted object."""


class Alert(NamedTuple):
    """A source's one alert of an episode, for the event log and the server log."""

    kind: str
    """:data:`ADDRESS`, :data:`NETWORK` or :data:`PREFIX`."""
    source: str
    """The address, the network (``192.0.2.0/24``) or the prefix (``00085D``)."""
    count: int
    """Suspicious requests in the bucket when it fired."""
    detail: str
    """Who, how many of what, and what happens next (fits the event's ``detail``)."""


class Verdict(NamedTuple):
    delay: float
    """Seconds to wait before answering (0 for none)."""
    blocked: bool
    """Answer as to a stranger asking for a file that is not there (HTTP challenges)."""
    alert: Alert | None
    """An alert that this request raised, to record."""


PASS = Verdict(0.0, False, None)


@dataclass
class GuardCounters:
    """Running totals since the process started (for the admin side and metrics)."""

    stranger_answers: int = 0
    """Strangers' requests for per-device names."""
    unknown_macs: int = 0
    """Requests naming a MAC that is no phone of the inventory."""
    failed_credentials: int = 0
    """Requests whose credentials proved nothing."""
    forgiven: int = 0
    """Strangers' requests later proven to be the phone's own (a challenge answered)."""
    slowed: int = 0
    blocked: int = 0
    alerts: int = 0
    login_failures: int = 0
    throttled_logins: int = 0
    """Login attempts made to wait before their password was checked."""
    refused_logins: int = 0
    """Login attempts refused outright (the address failed too often)."""

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class _Source:
    """One source's leaky bucket and episode."""

    __slots__ = ("alerted", "at", "blocked_until", "failed", "level", "personal", "unknown")

    def __init__(self, now: float) -> None:
        self.level = 0.0
        self.at = now
        self.alerted = False
        self.blocked_until = 0.0
        self.personal = 0
        self.unknown = 0
        self.failed = 0


class _Kind:
    """The buckets of one kind of source, with its thresholds."""

    def __init__(self, name: str, alert: int, block: int, window: float, entries: int) -> None:
        self.name = name
        self.alert = max(1, alert)
        self.block = max(self.alert + 1, block)
        self.leak = self.alert / max(window, 1e-3)
        """Bucket units leaked per second."""
        self.cap = 2.0 * self.block
        """Most a bucket holds: bounds how long a stopped sweeper's episode lasts."""
        self.counts = BoundedCache(entries, entries * SOURCE_BYTES)
        self.episodes = BoundedCache(EPISODES_MAX, EPISODES_MAX * SOURCE_BYTES)
        """Sources that raised an alert (in an episode, or just out of one)."""

    def peek(self, key: str, now: float) -> _Source | None:
        source = self.episodes.get(key)
        if source is None:
            source = self.counts.get(key)
        if source is not None:
            self._drain(source, now)
        return source

    def source(self, key: str, now: float) -> _Source:
        source = self.peek(key, now)
        if source is None:
            source = _Source(now)
            self.counts.put(key, source, SOURCE_BYTES + len(key))
        return source

    def _drain(self, source: _Source, now: float) -> None:
        elapsed = now - source.at
        if elapsed > 0:
            source.level = max(0.0, source.level - elapsed * self.leak)
            source.at = now
        if source.alerted and source.level <= 0.0 and now >= source.blocked_until:
            source.alerted = False  # the episode is over

    def feed(self, key: str, source: _Source) -> bool:
        """Count one suspicious request; whether it raised the episode's alert."""
        source.level = min(self.cap, source.level + 1.0)
        if source.alerted or source.level < self.alert:
            return False
        source.alerted = True
        self.episodes.put(key, source, SOURCE_BYTES + len(key))
        return True

    def restraint(self, source: _Source, now: float, block_seconds: float,
                  delay_max: float) -> float | None:  # fmt: skip
        """Seconds a stranger request from ``source`` waits; ``None`` when blocked."""
        if not source.alerted:
            return 0.0
        if source.blocked_until > now:
            return None
        if source.level >= self.block:
            source.blocked_until = now + block_seconds
            return None
        share = (source.level - self.alert + 1.0) / (self.block - self.alert)
        return delay_max * min(1.0, share) if share > 0 else 0.0


class _Challenge:
    __slots__ = ("at", "fed")

    def __init__(self, at: float, fed: tuple[tuple[_Kind, _Source], ...]) -> None:
        self.at = at
        self.fed = fed


class _Failures:
    """Login failures of one address or account (a leaky bucket) and attempts under way."""

    __slots__ = ("at", "checking", "level", "refused_until", "waiting")

    def __init__(self, now: float) -> None:
        self.level = 0.0
        self.at = now
        self.waiting = 0
        """Attempts registered and not finished: counted as failures until they are
        not, so that many attempts at once cannot all go at the first attempt's pace."""
        self.checking = 0
        """Of those, attempts past their wait whose password is being checked."""
        self.refused_until = 0.0


class SweepGuard:
    """Counts suspicious requests and login failures; says whom to slow, block, refuse."""

    def __init__(
        self,
        settings: SecuritySettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = settings or SecuritySettings()
        self.settings = settings
        self.clock = clock
        window = settings.sweep_seconds
        self.kinds = {
            ADDRESS: _Kind(ADDRESS, settings.sweep_alert, settings.sweep_block, window,
                           ADDRESSES_MAX),
            NETWORK: _Kind(NETWORK, settings.sweep_alert, settings.sweep_block, window,
                           NETWORKS_MAX),
            PREFIX: _Kind(PREFIX, settings.sweep_prefix_alert, settings.sweep_prefix_block,
                          window, PREFIXES_MAX),
        }  # fmt: skip
        self._addresses = self.kinds[ADDRESS]
        self._networks = self.kinds[NETWORK]
        self._prefixes = self.kinds[PREFIX]
        self.challenges = BoundedCache(CHALLENGES_MAX, CHALLENGES_MAX * 2 * SOURCE_BYTES)
        """(address, MAC) -> a stranger's request for that MAC's file, not yet forgiven."""
        self._login_addresses = BoundedCache(LOGINS_MAX, LOGINS_MAX * SOURCE_BYTES)
        self._login_accounts = BoundedCache(LOGINS_MAX, LOGINS_MAX * (SOURCE_BYTES + MAX_ACCOUNT))
        self.login_leak = settings.login_block / max(settings.login_seconds, 1e-3)
        self.counters = GuardCounters()

    # -- requests

    def check(
        self,
        address: str | None,
        mac: str | None,
        *,
        personal: bool = False,
        unknown_mac: bool = False,
        auth_failed: bool = False,
        privileged: bool = False,
    ) -> Verdict:
        """Note one answered request and say what to do with it.

        ``personal``: a stranger was answered for a per-device name; ``unknown_mac``:
        ``mac`` is no phone of the inventory; ``auth_failed``: credentials proved
        nothing; ``privileged``: the request was trusted (never slowed nor blocked).

        A privileged request for ``mac`` from an address that a stranger's request for
        the same MAC came from moments before is the phone answering its challenge: that
        stranger request is taken back out of the buckets (counted as ``forgiven``), so
        the phones with their own logins behind one NAT do not add up to a sweep at each
        boot or resync (only those challenged at the same moment count, and only until
        they answer).
        """
        counters = self.counters
        if not (personal or unknown_mac or auth_failed):
            if privileged:
                if mac is not None and address and len(self.challenges):
                    self._forgive(address, mac)
                return PASS
            if not self._any_episode():
                return PASS
            return self._restrain(self._keys(address, mac), self.clock(), None)
        now = self.clock()
        counters.stranger_answers += personal
        counters.unknown_macs += unknown_mac
        counters.failed_credentials += auth_failed
        keys = self._keys(address, mac)
        alert, fed = self._feed(keys, now, personal, unknown_mac, auth_failed)
        if alert is not None:
            counters.alerts += 1
        if privileged:
            return PASS if alert is None else Verdict(0.0, False, alert)
        if personal and mac is not None and address and not unknown_mac and not auth_failed:
            self.challenges.put((address, mac), _Challenge(now, fed),
                                SOURCE_BYTES + len(address) + len(mac))  # fmt: skip
        return self._restrain(keys, now, alert)

    def _keys(self, address: str | None, mac: str | None) -> list[tuple[_Kind, str]]:
        """The sources of a request, narrowest first: address, its network, MAC prefix."""
        keys: list[tuple[_Kind, str]] = []
        if address:
            keys.append((self._addresses, address))
            network = network_of(address)
            if network is not None:
                keys.append((self._networks, network))
        if mac:
            keys.append((self._prefixes, mac[:6].upper()))
        return keys

    def _feed(
        self, keys: list[tuple[_Kind, str]], now: float, personal: bool, unknown: bool,
        failed: bool,
    ) -> tuple[Alert | None, tuple[tuple[_Kind, _Source], ...]]:  # fmt: skip
        """Count the request in its sources' buckets, with the deduplication rules."""
        fed: list[tuple[_Kind, _Source]] = []
        for kind, key in keys:
            source = kind.source(key, now)
            source.personal += personal
            source.unknown += unknown
            source.failed += failed
            fed.append((kind, source))
            if kind.feed(key, source):
                return self._alert(kind, key, source), tuple(fed)
            if source.alerted:
                break  # a source in an episode feeds nothing wider (one sweeper, one alert)
        return None, tuple(fed)

    def _alert(self, kind: _Kind, key: str, source: _Source) -> Alert:
        settings = self.settings
        who = {ADDRESS: key, NETWORK: key, PREFIX: f"vendor prefix {key}"}[kind.name]
        whose = "requests naming it" if kind.name == PREFIX else "requests"
        detail = (
            f"sweep from {who}: {kind.alert} suspicious requests within "
            f"{settings.sweep_seconds:g} s (in all {source.personal} per-device names asked "
            f"by strangers, {source.unknown} unknown MACs, {source.failed} failed "
            f"credentials); stranger {whose} now slowed (up to "
            f"{settings.sweep_delay_max:g} s), blocked for {settings.block_seconds:g} s "
            f"past {kind.block}"
        )
        return Alert(kind.name, key, int(source.level), detail)

    def _any_episode(self) -> bool:
        return bool(len(self._addresses.episodes) or len(self._networks.episodes)
                    or len(self._prefixes.episodes))  # fmt: skip

    def _restrain(self, keys: list[tuple[_Kind, str]], now: float, alert: Alert | None) -> Verdict:
        """The verdict for a stranger: the strictest of its sources in an episode."""
        settings = self.settings
        delay = 0.0
        for kind, key in keys:
            if not len(kind.episodes):
                continue
            source = kind.episodes.get(key)
            if source is None:
                continue
            kind._drain(source, now)
            wait = kind.restraint(source, now, settings.block_seconds, settings.sweep_delay_max)
            if wait is None:
                self.counters.blocked += 1
                return Verdict(0.0, True, alert)
            delay = max(delay, wait)
        if delay > 0:
            self.counters.slowed += 1
            return Verdict(delay, False, alert)
        return PASS if alert is None else Verdict(0.0, False, alert)

    def _forgive(self, address: str, mac: str) -> None:
        challenge = self.challenges.peek((address, mac))
        if challenge is None or not challenge.fed:
            return
        fed, challenge.fed = challenge.fed, ()
        if self.clock() - challenge.at > CHALLENGE_SECONDS:
            return
        for _, source in fed:
            source.level = max(0.0, source.level - 1.0)
            source.personal = max(0, source.personal - 1)
        self.counters.forgiven += 1

    def in_episode(self, kind: str, key: str) -> bool:
        """Whether source ``key`` of ``kind`` is in an episode now (for tests and the admin)."""
        source = self.kinds[kind].peek(key, self.clock())
        return source is not None and source.alerted

    # -- logins

    def login_attempt(self, address: str | None, account: str | None) -> float | None:
        """Register a login attempt: seconds to wait before checking its password, or
        ``None`` when the address is refused. Every attempt registered must be ended
        with :meth:`login_finished`.

        ``account`` is ``None`` for logins that are not authentication (a vendor's
        factory login, whose password is public): failing one is counted against the
        address only, or anyone could make every phone of a vendor wait.
        """
        now = self.clock()
        waits = 0.0
        if address:
            failures = self._failures(self._login_addresses, address, now)
            if failures.refused_until > now:
                self.counters.refused_logins += 1
                return None
            waits = failures.level + failures.waiting
            failures.waiting += 1
        if account is not None:
            failures = self._failures(self._login_accounts, _account_key(account), now)
            waits = max(waits, failures.level + failures.waiting)
            failures.waiting += 1
        delay = self.login_delay(int(waits))
        if delay:
            self.counters.throttled_logins += 1
        return delay

    def login_delay(self, failures: int) -> float:
        """The wait before an attempt with ``failures`` failures (and attempts) behind it."""
        settings = self.settings
        beyond = failures - settings.login_failures_before_delay
        if beyond < 0:
            return 0.0
        return min(settings.login_delay_max, 2.0 ** min(beyond, 32))

    def login_admit(self, address: str | None) -> bool:
        """After the wait: whether the password may be checked now. Refused when the
        address was refused meanwhile, or when the failures so far plus the attempts
        being checked reach ``login_block`` (so that a thousand attempts that waited
        together cannot all be checked together)."""
        if not address:
            return True
        now = self.clock()
        failures = self._failures(self._login_addresses, address, now)
        if failures.refused_until > now or (
            failures.level + failures.checking >= self.settings.login_block
        ):
            self.counters.refused_logins += 1
            return False
        failures.checking += 1
        return True

    def login_finished(
        self, address: str | None, account: str | None, ok: bool | None, admitted: bool = True
    ) -> bool:
        """End an attempt: ``ok`` True (logged in), False (failed) or None (abandoned or
        refused: not a failure). Returns whether this failure got the address refused."""
        now = self.clock()
        refused = False
        if address:
            failures = self._failures(self._login_addresses, address, now)
            failures.waiting = max(0, failures.waiting - 1)
            if admitted:
                failures.checking = max(0, failures.checking - 1)
            if ok is False:
                failures.level = min(2.0 * self.settings.login_block, failures.level + 1.0)
                if failures.level >= self.settings.login_block and failures.refused_until <= now:
                    failures.refused_until = now + self.settings.block_seconds
                    refused = True
        if account is not None:
            failures = self._failures(self._login_accounts, _account_key(account), now)
            failures.waiting = max(0, failures.waiting - 1)
            if ok is False:
                failures.level = min(2.0 * self.settings.login_block, failures.level + 1.0)
        if ok is False:
            self.counters.login_failures += 1
        return refused

    def _failures(self, cache: BoundedCache, key: str, now: float) -> _Failures:
        failures = cache.get(key)
        if failures is None:
            failures = _Failures(now)
            cache.put(key, failures, SOURCE_BYTES + len(key))
            return failures
        elapsed = now - failures.at
        if elapsed > 0:
            failures.level = max(0.0, failures.level - elapsed * self.login_leak)
            failures.at = now
        return failures


def _account_key(account: str) -> str:
    return account if len(account) <= MAX_ACCOUNT else "\0long"


def network_of(address: str) -> str | None:
    """The /24 (IPv4) or /64 (IPv6) ``address`` belongs to, as text; ``None`` if it is
    not an address. A dotted quad (what sockets report for IPv4) is cut as a string."""
    if ":" not in address:
        head, dot, last = address.rpartition(".")
        if dot and last.isdigit() and head.count(".") == 2:
            return f"{head}.0/24"
        return None
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return network_of(str(parsed.ipv4_mapped))
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(ipaddress.IPv4Network((parsed, 24), strict=False))

"""Login throttling: failed logins fill leaky buckets per account and per address.

Like the phone side's FTP login guard (``provisioning.sweep_guard``): a bucket gains
one per failure and leaks :data:`LEAK` per second; a login is refused while the
account's or the address's bucket is at its limit. The refusal says the same whether
or not the account exists, and a refused attempt is not checked at all (no argon2
cost for a flood). Buckets are bounded maps, least recently used first out, so a flood
of made-up names or addresses costs a fixed amount of memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

ACCOUNT_LIMIT = 5.0
"""Failures in a row an account takes before it must wait."""
ADDRESS_LIMIT = 20.0
"""Failures an address makes (over all accounts) before it must wait."""
LEAK = 1 / 30
"""Failures forgotten per second: one every 30 s."""
KEPT = 4096
MESSAGE = "Too many failed logins; wait a minute and try again."


class _Buckets:
    def __init__(self, limit: float, kept: int) -> None:
        self.limit = limit
        self.kept = kept
        self.levels: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def level(self, key: str, now: float) -> float:
        found = self.levels.get(key)
        if found is None:
            return 0.0
        level, stamp = found
        return max(0.0, level - (now - stamp) * LEAK)

    def add(self, key: str, now: float) -> None:
        self.levels[key] = (self.level(key, now) + 1.0, now)
        self.levels.move_to_end(key)
        while len(self.levels) > self.kept:
            self.levels.popitem(last=False)

    def full(self, key: str, now: float) -> bool:
        """``limit`` failures in quick succession fill it; one leaks out in 1 / LEAK s."""
        return self.level(key, now) > self.limit - 1

    def clear(self, key: str) -> None:
        self.levels.pop(key, None)


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic, *,
                 account_limit: float = ACCOUNT_LIMIT,
                 address_limit: float = ADDRESS_LIMIT) -> None:  # fmt: skip
        self.clock = clock
        self.accounts = _Buckets(account_limit, KEPT)
        self.addresses = _Buckets(address_limit, KEPT)
        self.lock = threading.Lock()

    def allowed(self, account: str, address: str) -> bool:
        now = self.clock()
        with self.lock:
            return not (
                self.accounts.full(account.lower(), now) or self.addresses.full(address, now)
            )

    def failed(self, account: str, address: str) -> None:
        now = self.clock()
        with self.lock:
            self.accounts.add(account.lower(), now)
            self.addresses.add(address, now)

    def succeeded(self, account: str) -> None:
        """A right password clears the account's bucket (not the address's)."""
        with self.lock:
            self.accounts.clear(account.lower())

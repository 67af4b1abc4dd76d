"""Running totals of the phone side, kept as plain integers and read at scrape time.

Every request of a boot storm passes :meth:`RequestStats.note`, so it does nothing but
bump integers: one dict slot per (transport, vendor, status) and one histogram bucket
per transport. Turning them into Prometheus metrics (names, help texts, cumulative
buckets) is left to ``plugtone.web.metrics``, on the admin side, when a scraper asks.

The counts are updated from the event loop and, rarely, from worker threads; an
increment lost to a thread switch would be one request in millions, which metrics
tolerate. Nothing here holds a path, an address or anything a client chose besides the
transport, status and vendor names the server itself assigns, so the number of keys
is bounded by the plug-ins and statuses, not by what is sent.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 120.0, 300.0)  # fmt: skip
"""Upper bounds (seconds) of the transfer-duration histogram: a configuration file from
the cache answers in a millisecond, a firmware image over TFTP takes minutes."""

SENT = frozenset({"ok", "partial", "incomplete"})
"""Outcomes in which (some of) an answer's bytes went out: the transfers timed."""


class Durations:
    """One transport's histogram: a count per bucket (the last is +Inf) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(DURATION_BUCKETS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus wants them, ending with ``+Inf``."""
        pairs, running = [], 0
        for bound, count in zip((*map(str, DURATION_BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


class RequestStats:
    """What the phone listeners answered since the process started."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        """(transport, vendor or ``""``, status) -> requests that ended so."""
        self.durations: dict[str, Durations] = {}
        """Transport -> how long its transfers took, from request to last byte."""
        self.tftp: Any = None
        """The running TFTP server (its ``active`` and ``dropped``), set by the runner."""

    def note(self, transport: str, vendor: str | None, status: str, seconds: float) -> None:
        """Count one finished request; time it when bytes of an answer went out."""
        key = (transport, vendor or "", status)
        requests = self.requests
        requests[key] = requests.get(key, 0) + 1
        if status in SENT:
            durations = self.durations.get(transport)
            if durations is None:
                durations = self.durations[transport] = Durations()
            durations.observe(seconds)

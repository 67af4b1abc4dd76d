"""Event retention: the provisioning log keeps a window of days and a row cap.

Every request is a row, so a large fleet adds hundreds of thousands a day. ``plugtone
serve`` prunes in the background: rows older than ``event_retention_days`` and the
oldest beyond ``event_max_rows`` go, a few thousand per statement
(``DELETE ... WHERE id IN (SELECT id ... LIMIT n)``), each step its own short
transaction run in a worker thread, with a pause between steps. A long single
``DELETE`` would hold SQLite's one write lock (and on PostgreSQL a long transaction)
for as long as it ran, stalling the event recorder and every inventory change; small
steps let them in between, and a step that finds the store busy just waits for the
next round.

Device status does not depend on the log: first and last seen, address, firmware,
the generation of its files and its last boot's errors live in ``device_states``,
which pruning never touches.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store

log = logging.getLogger(__name__)

DEFAULT_DAYS = 30
DEFAULT_MAX_ROWS = 10_000_000
"""About a month of a 100,000-phone fleet booting a few times a day."""
BATCH = 5_000
"""Rows one statement deletes: a few milliseconds of write lock."""


@dataclass
class EventPruner:
    """Deletes what falls outside the window or the cap, step by step."""

    store: Store
    days: int = DEFAULT_DAYS
    """0 keeps rows of any age."""
    max_rows: int = DEFAULT_MAX_ROWS
    """0 keeps any number of rows."""
    batch: int = BATCH
    pause: float = 0.05
    """Seconds between two steps, for the writers waiting on the store."""
    interval: float = 300.0
    """Seconds between two rounds."""
    deleted: int = 0

    def step(self, now: datetime | None = None) -> int:
        """Delete at most :attr:`batch` rows that must go; how many went."""
        events = ProvisioningEvent.__table__
        with self.store.engine.begin() as connection:
            doomed = []
            if self.days:
                cutoff = (now or datetime.now(UTC)) - timedelta(days=self.days)
                doomed.append(events.c.time < cutoff)
            if self.max_rows:
                # Rows are only ever removed from the old end, so ids above ``newest -
                # max_rows`` are at most ``max_rows`` rows (fewer where ids were skipped):
                # two index look-ups, where counting would read the whole table.
                newest = connection.scalar(select(func.max(events.c.id)))
                if newest is not None and newest > self.max_rows:
                    doomed.append(events.c.id <= newest - self.max_rows)
            if not doomed:
                return 0
            found = 0
            for condition in doomed:
                chosen = select(events.c.id).where(condition).limit(self.batch - found)
                result = connection.execute(delete(events).where(events.c.id.in_(chosen)))
                found += result.rowcount or 0
                if found >= self.batch:
                    break
        self.deleted += found
        return found

    async def prune(self, now: datetime | None = None) -> int:
        """Step until nothing more must go, yielding between steps; how many went."""
        total = 0
        while True:
            try:
                found = await asyncio.to_thread(self.step, now)
            except OperationalError as error:  # busy: the next round tries again
                reason = str(getattr(error, "orig", error)).splitlines()[0][:200]
                log.warning("event retention: store busy (%s); trying again later", reason)
                return total
            total += found
            if found < self.batch:
                return total
            await asyncio.sleep(self.pause)

    async def run(self) -> None:
        """Prune now and then every :attr:`interval` seconds, until cancelled."""
        while True:
            try:
                found = await self.prune()
            except Exception:  # pruning must never take the servers down
                log.exception("event retention failed; trying again later")
            else:
                if found:
                    log.info("event retention: %d old provisioning events deleted", found)
            await asyncio.sleep(self.interval)

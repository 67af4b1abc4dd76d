"""The provisioning event log, written in batches off the request path.

Every request on every transport becomes one row: time, transport, client address,
path, device, status, bytes, User-Agent. Writing a row per request synchronously
would make the database the bottleneck of a boot storm, so events are queued in
memory and flushed in batches by a background task; when the queue is full, new
events are dropped and counted rather than slowing phones down. Device state (last
seen, last address, reported model and firmware) is upserted from the same batch.

Rows never hold file contents or credentials.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, insert
from sqlalchemy.dialects import postgresql, sqlite

from plugtone.inventory.models import DeviceFirmware, DeviceState, ProvisioningEvent
from plugtone.inventory.store import Store

log = logging.getLogger(__name__)


@dataclass
class Event:
    transport: str
    path: str
    status: str
    client_address: str | None = None
    mac: str | None = None
    vendor: str | None = None
    bytes: int = 0
    user_agent: str | None = None
    detail: str | None = None
    model: str | None = None
    firmware_version: str | None = None
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class EventRecorder:
    """Queues events from any thread; ``flush`` writes them in one transaction."""

    def __init__(self, store: Store, *, max_pending: int = 100_000, batch_size: int = 2_000):
        self.store = store
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.pending: deque[Event] = deque()
        self.dropped = 0
        self.written = 0
        self._flush_lock = threading.Lock()
        self._upsert = None
        self._upsert_firmware = None
        self.firmware: dict[str, dict] = {}
        """Latest firmware state per MAC, waiting to be written (``device_firmware``)."""

    def record_firmware(self, state: dict) -> None:
        """Queue a device's whole firmware state (a ``device_firmware`` row); last wins."""
        self.firmware[state["mac"]] = state

    def record(self, event: Event) -> None:
        """Queue ``event``; never blocks. Counted as dropped when the queue is full."""
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
            return
        self.pending.append(event)

    def flush(self) -> int:
        """Write everything queued so far; returns how many events were written."""
        written = 0
        with self._flush_lock:
            if self.firmware:
                states, self.firmware = self.firmware, {}
                try:
                    with self.store.engine.begin() as connection:
                        connection.execute(self._firmware_upsert(), list(states.values()))
                except Exception:
                    log.exception("could not write firmware state of %d devices", len(states))
            while self.pending:
                batch = []
                while self.pending and len(batch) < self.batch_size:
                    batch.append(self.pending.popleft())
                try:
                    self._write(batch)
                except Exception:  # the log must never take the servers down
                    log.exception("could not write %d provisioning events", len(batch))
                    self.dropped += len(batch)
                    continue
                written += len(batch)
        self.written += written
        return written

    async def run(self, interval: float = 0.25) -> None:
        """Flush periodically until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(interval)
                if self.pending or self.firmware:
                    await asyncio.to_thread(self.flush)
        finally:
            if self.pending or self.firmware:
                await asyncio.to_thread(self.flush)

    def _write(self, batch: list[Event]) -> None:
        rows = [
            {
                "time": event.time,
                "transport": event.transport,
                "client_address": event.client_address,
                "path": event.path[:512],
                "mac": event.mac,
                "vendor": event.vendor,
                "status": event.status,
                "bytes": event.bytes,
                "user_agent": (event.user_agent or None) and event.user_agent[:255],
                "detail": event.detail and event.detail[:255],
            }
            for event in batch
        ]
        devices: dict[str, dict] = {}
        for event in batch:
            if not event.mac:
                continue
            seen = devices.get(event.mac)
            if seen is None:
                seen = devices[event.mac] = {
                    "mac": event.mac,
                    "first_seen": event.time,
                    "requests": 0,
                    "vendor": None,
                    "model": None,
                    "firmware_version": None,
                    "last_address": None,
                    "last_user_agent": None,
                }
            seen["last_seen"] = event.time
            seen["requests"] += 1
            for key, value in (
                ("vendor", event.vendor),
                ("model", event.model),
                ("firmware_version", event.firmware_version),
                ("last_address", event.client_address),
                ("last_user_agent", event.user_agent and event.user_agent[:255]),
            ):
                if value:
                    seen[key] = value
        # Core on one connection, not the ORM session: this runs for every request of a
        # boot storm, and the ORM's bulk path costs several times more per row.
        with self.store.engine.begin() as connection:
            connection.execute(insert(ProvisioningEvent.__table__), rows)
            if devices:
                connection.execute(self._upsert_devices(), list(devices.values()))

    def _upsert_devices(self):
        if self._upsert is not None:
            return self._upsert
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        table = DeviceState.__table__
        statement = dialect.insert(table)
        excluded = statement.excluded
        self._upsert = statement.on_conflict_do_update(
            index_elements=[table.c.mac],
            set_={
                "last_seen": excluded.last_seen,
                "requests": table.c.requests + excluded.requests,
                "vendor": func.coalesce(excluded.vendor, table.c.vendor),
                "model": func.coalesce(excluded.model, table.c.model),
                "firmware_version": func.coalesce(
                    excluded.firmware_version, table.c.firmware_version
                ),
                "last_address": func.coalesce(excluded.last_address, table.c.last_address),
                "last_user_agent": func.coalesce(excluded.last_user_agent, table.c.last_user_agent),
            },
        )
        return self._upsert

    def _firmware_upsert(self):
        if self._upsert_firmware is not None:
            return self._upsert_firmware
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        table = DeviceFirmware.__table__
        statement = dialect.insert(table)
        columns = [column.name for column in table.columns if column.name != "mac"]
        self._upsert_firmware = statement.on_conflict_do_update(
            index_elements=[table.c.mac],
            set_={name: statement.excluded[name] for name in columns},
        )
        return self._upsert_firmware

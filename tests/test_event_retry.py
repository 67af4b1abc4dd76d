"""The event log keeps what it could not write while the store was busy, and writes it later.

Another connection holds the lock the event writer needs (SQLite's write lock, as a
long apply does; on PostgreSQL an exclusive lock on the events table) for longer than
a flush may wait. Events recorded meanwhile must all land once it lets go, none
counted as dropped, with one log line about it rather than a traceback per retry.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate, normalize_url
from plugtone.provisioning import events
from plugtone.provisioning.events import Event, EventRecorder

BUSY_TIMEOUT = 0.2


@pytest.fixture
def busy_store(db_url, tmp_path) -> Iterator[Store]:
    store = Store(db_url, busy_timeout=BUSY_TIMEOUT, data_dir=tmp_path)
    migrate(store.engine)
    yield store
    store.dispose()


@contextmanager
def lock_held(store: Store) -> Iterator[threading.Event]:
    """Hold the lock the event writer needs until the yielded event is set."""
    release = threading.Event()
    taken = threading.Event()

    def hold() -> None:
        if store.dialect == "sqlite":
            path = make_url(store.url).database
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            taken.set()
            release.wait(30)
            connection.execute("COMMIT")
            connection.close()
        else:
            engine = create_engine(normalize_url(store.url))
            with engine.begin() as connection:
                connection.execute(text("LOCK TABLE provisioning_events IN EXCLUSIVE MODE"))
                taken.set()
                release.wait(30)
            engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    try:
        yield release
    finally:
        release.set()
        holder.join(10)


def count(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count()).select_from(ProvisioningEvent))


def test_a_flush_that_finds_the_store_busy_keeps_its_events(busy_store):
    recorder = EventRecorder(busy_store, batch_size=10)
    with lock_held(busy_store):
        for n in range(25):
            recorder.record(Event("tftp", f"/{n}.cfg", "ok", "10.0.0.1", mac="00085D000001"))
        assert recorder.flush() == 0
        assert len(recorder.pending) == 25 and recorder.dropped == 0
        assert recorder.flush() == 0  # backing off: not even tried
    assert recorder.flush(force=True) == 25
    assert count(busy_store) == 25 and recorder.dropped == 0
    with busy_store.sessions() as session:
        paths = session.scalars(select(ProvisioningEvent.path).order_by(ProvisioningEvent.id))
        assert list(paths) == [f"/{n}.cfg" for n in range(25)]  # in the order they happened


def test_events_recorded_while_an_apply_holds_the_lock_all_land(busy_store, caplog, monkeypatch):
    monkeypatch.setattr(events, "RETRY_FIRST", 0.1)
    recorder = EventRecorder(busy_store, batch_size=50)

    async def scenario() -> None:
        task = asyncio.create_task(recorder.run(interval=0.05))
        with lock_held(busy_store):
            deadline = time.monotonic() + 4 * BUSY_TIMEOUT + 1.0  # several flushes' worth
            n = 0
            while time.monotonic() < deadline:
                recorder.record(Event("http", f"/{n}.cfg", "ok", "10.0.0.2", mac="0004F2000001"))
                n += 1
                await asyncio.sleep(0.01)
            assert recorder.written == 0 and recorder.pending
        # Written, not only taken off the queue: the last batch may still be on its way
        # to the store when the queue is empty (it failed so once on PostgreSQL).
        waited = time.monotonic() + 30
        while recorder.written < n and time.monotonic() < waited:
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert count(busy_store) == n

    with caplog.at_level(logging.WARNING, logger="plugtone.provisioning.events"):
        asyncio.run(scenario())
    assert recorder.dropped == 0
    failing = [r for r in caplog.records if "keeping them and retrying" in r.getMessage()]
    assert len(failing) == 1, [r.getMessage() for r in caplog.records]
    assert failing[0].exc_info is None  # one line, no traceback
    assert any("written again" in r.getMessage() for r in caplog.records)


def test_a_full_queue_still_caps_what_is_kept(busy_store):
    recorder = EventRecorder(busy_store, max_pending=30, batch_size=20)
    for n in range(30):
        recorder.record(Event("tftp", f"/{n}.cfg", "ok"))
    with lock_held(busy_store):
        popped = threading.Thread(target=recorder.flush)
        popped.start()
        time.sleep(BUSY_TIMEOUT / 4)  # the first batch is out of the queue, being written
        for n in range(30, 60):
            recorder.record(Event("tftp", f"/{n}.cfg", "ok"))
        popped.join()
    assert len(recorder.pending) == 30
    assert recorder.dropped == 30  # what did not fit, no more
    assert recorder.flush(force=True) == 30

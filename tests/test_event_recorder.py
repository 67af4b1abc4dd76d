"""The event log writer on SQLite and PostgreSQL: rows, device state, and a full queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.dialects import sqlite

from plugtone.inventory.models import DeviceState, ProvisioningEvent
from plugtone.provisioning.events import Event, EventRecorder, _Stamps


def test_events_and_device_state_are_written_in_batches(store):
    recorder = EventRecorder(store, batch_size=2)
    for _ in range(3):
        recorder.record(Event("tftp", "/x.cfg", "ok", "10.0.0.1", mac="00085D000001",
                              model="6757i", bytes=10))  # fmt: skip
    recorder.record(Event("tftp", "/probe.cfg", "not_found", "10.0.0.9"))
    assert recorder.flush() == 4
    recorder.record(Event("http", "/x.cfg", "ok", "10.0.0.2", mac="00085D000001",
                          firmware_version="3.3.1.4322", user_agent="Aastra6757i"))  # fmt: skip
    recorder.flush()
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProvisioningEvent)) == 5
        device = session.get(DeviceState, "00085D000001")
    assert device.requests == 4
    assert device.last_address == "10.0.0.2"
    assert device.model == "6757i"  # kept: the later request did not say
    assert device.firmware_version == "3.3.1.4322"


def test_a_full_queue_drops_and_counts_instead_of_blocking(store):
    recorder = EventRecorder(store, max_pending=5)
    for _ in range(8):
        recorder.record(Event("tftp", "/x.cfg", "ok"))
    assert recorder.dropped == 3
    assert recorder.flush() == 5


def test_times_read_back_as_written(store):
    """The recorder writes through the driver; the ORM must read its rows back unchanged."""
    when = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)
    recorder = EventRecorder(store)
    recorder.record(Event("tftp", "/a.cfg", "ok", "10.0.0.1", mac="00085D000002", time=when))
    later = when + timedelta(seconds=5)
    recorder.record(Event("tftp", "/b.cfg", "ok", "10.0.0.1", mac="00085D000002", time=later))
    recorder.flush()
    with store.sessions() as session:
        times = session.scalars(select(ProvisioningEvent.time).order_by(ProvisioningEvent.id))
        device = session.get(DeviceState, "00085D000002")
        assert [as_utc(value) for value in times] == [when, later]
        assert (as_utc(device.first_seen), as_utc(device.last_seen)) == (when, later)
        assert device.requests == 2


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive UTC, PostgreSQL an aware time."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False), max_size=40))
def test_event_times_are_stored_as_sqlalchemy_would_store_them(times):
    """The event log's shortcut for time stamps (a prefix per second) writes the very
    text SQLAlchemy's SQLite DATETIME writes, whatever seconds a batch jumps between (an
    event's own and, per device, the second a boot gap earlier)."""
    column = ProvisioningEvent.__table__.c.time.type
    dialect = sqlite.dialect()
    process = column.dialect_impl(dialect).bind_processor(dialect)
    stamps = _Stamps(process)
    for when in [*times, *(when - 300 for when in times), *times]:
        exact = datetime.fromtimestamp(round(when * 1_000_000) / 1_000_000, UTC)
        assert stamps.stamp(when) == process(exact)

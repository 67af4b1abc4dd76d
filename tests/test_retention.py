"""Event retention on SQLite and PostgreSQL: by age and by row cap, in small steps,
with device state (and so device status) left as it was."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from plugtone.inventory.models import DeviceState, ProvisioningEvent
from plugtone.provisioning.events import Event, EventRecorder
from plugtone.provisioning.retention import EventPruner
from plugtone.services.actors import local_admin
from plugtone.services.status import phone_status
from plugtone.settings import load_settings
from tests.conftest import run_cli

MAC = "00085D0000AA"
NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def record(store, times: list[datetime]) -> None:
    recorder = EventRecorder(store)
    for when in times:
        recorder.record(Event("http", f"/{MAC}.cfg", "ok", "10.0.0.7", mac=MAC, time=when,
                              user_agent="Aastra6757i", generation=3))  # fmt: skip
    assert recorder.flush() == len(times)


def event_times(store) -> list[datetime]:
    with store.sessions() as session:
        rows = session.scalars(select(ProvisioningEvent.time).order_by(ProvisioningEvent.id))
        return [value.replace(tzinfo=UTC) if value.tzinfo is None else value for value in rows]


def device(store) -> tuple:
    with store.sessions() as session:
        state = session.get(DeviceState, MAC)
        return (state.first_seen, state.last_seen, state.requests, state.last_address,
                state.files_generation)  # fmt: skip


def test_rows_older_than_the_window_go_in_steps_and_device_state_stays(store):
    old = [NOW - timedelta(days=40, minutes=i) for i in range(23)]
    recent = [NOW - timedelta(days=2, minutes=i) for i in range(5)]
    record(store, old + recent)
    before = device(store)
    pruner = EventPruner(store, days=30, max_rows=0, batch=7, pause=0)
    assert pruner.step(NOW) == 7  # one bounded statement at a time
    assert asyncio.run(pruner.prune(NOW)) == 16
    assert event_times(store) == recent
    assert device(store) == before
    page = phone_status(store, local_admin(), ["unassigned"])
    assert [(item.mac, item.files_generation) for item in page.items] == [(MAC, 3)]
    assert asyncio.run(pruner.prune(NOW)) == 0


def test_the_row_cap_keeps_the_newest(store):
    times = [NOW - timedelta(minutes=50 - i) for i in range(50)]
    record(store, times)
    pruner = EventPruner(store, days=30, max_rows=20, batch=8, pause=0)
    assert asyncio.run(pruner.prune(NOW)) == 30
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProvisioningEvent)) == 20
    assert event_times(store) == times[-20:]
    record(store, [NOW])  # one more: the oldest kept goes
    assert asyncio.run(pruner.prune(NOW)) == 1
    assert event_times(store) == [*times[-19:], NOW]
    assert device(store)[2] == 51


def test_retention_settings_come_from_plugtone_toml(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert (load_settings(str(data)).event_retention_days,
            load_settings(str(data)).event_max_rows) == (30, 10_000_000)  # fmt: skip
    (data / "plugtone.toml").write_text("event_retention_days = 7\nevent_max_rows = 5000\n")
    settings = load_settings(str(data))
    assert (settings.event_retention_days, settings.event_max_rows) == (7, 5000)


def test_events_takes_phone_as_the_mac_filter(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    shown = run_cli("events", "--phone", "00:08:5D:00:00:01", data=data)
    assert "no events recorded" in shown.stdout

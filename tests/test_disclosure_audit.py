"""The audit of disclosures: every answer that carried a secret, listed by
``plugtone events --secrets`` and ``GET /api/events?secrets=true`` with when, which
device, which file, from where, at which trust level and over which transport.

The service tests write events as the event recorder does (rows of
``provisioning_events``) and read them back; the end-to-end test lets a real server
write them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate
from plugtone.services.actors import Actor, Role
from plugtone.services.devices import list_events
from plugtone.services.errors import Invalid
from tests.conftest import EXAMPLE, run_cli, stop_server
from tests.test_api import Api, start_api

VIEWER = Actor("vera", Role.VIEWER, "api")
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
A, B = "00085D000001", "0004F2000607"


def event(minute: int, mac: str | None, trust: str, secrets: bool, **columns) -> dict:
    row = {
        "time": T0 + timedelta(minutes=minute), "transport": "http",
        "client_address": "192.0.2.10", "path": f"/{mac or 'x'}.cfg", "mac": mac,
        "vendor": "aastra", "status": "ok", "bytes": 100, "user_agent": None,
        "detail": None, "trust": trust, "secrets": secrets,
    }  # fmt: skip
    row.update(columns)
    return row


ROWS = [
    event(0, A, "stranger", False, status="challenged"),
    event(1, A, "window", True),
    event(2, B, "trusted_network", True, transport="tftp", client_address="10.1.1.5"),
    event(3, None, "stranger", False, status="not_found"),
    event(4, A, "authenticated", True, transport="https"),
    # written later by another process, stamped earlier: newest first is by time
    event(-10, B, "window", True, transport="ftp"),
]


@pytest.fixture
def logged(store) -> Store:
    with store.sessions() as session:
        session.execute(insert(ProvisioningEvent), ROWS)
        session.commit()
    return store


def test_the_secrets_listing_is_the_disclosures_newest_first_with_trust(logged):
    page = list_events(logged, VIEWER, secrets=True)
    assert [(e.mac, e.trust, e.transport, e.time) for e in page.items] == [
        (A, "authenticated", "https", T0 + timedelta(minutes=4)),
        (B, "trusted_network", "tftp", T0 + timedelta(minutes=2)),
        (A, "window", "http", T0 + timedelta(minutes=1)),
        (B, "window", "ftp", T0 - timedelta(minutes=10)),
    ]
    assert all(e.secrets for e in page.items) and page.next is None
    assert page.items[1].client_address == "10.1.1.5" and page.items[1].path == f"/{B}.cfg"

    everything = list_events(logged, VIEWER)
    assert len(everything.items) == 6
    assert [(e.trust, e.secrets) for e in everything.items][:2] == [
        ("window", True), ("authenticated", True)]  # fmt: skip
    others = list_events(logged, VIEWER, secrets=False)
    assert {(e.trust, e.secrets) for e in others.items} == {("stranger", False)}
    assert [e.trust for e in list_events(logged, VIEWER, trust="window").items] == [
        "window", "window"]  # fmt: skip


def test_the_secrets_listing_pages_filters_by_mac_and_time(logged):
    first = list_events(logged, VIEWER, secrets=True, limit=3)
    assert len(first.items) == 3 and first.next == str(first.items[-1].id)
    rest = list_events(logged, VIEWER, secrets=True, limit=3, after=first.next)
    assert [e.time for e in rest.items] == [T0 - timedelta(minutes=10)] and rest.next is None
    ids = [e.id for e in first.items + rest.items]
    assert len(set(ids)) == 4

    assert [e.trust for e in list_events(logged, VIEWER, secrets=True, mac=A).items] == [
        "authenticated", "window"]  # fmt: skip
    recent = list_events(logged, VIEWER, secrets=True, since=T0 + timedelta(minutes=1, seconds=30))
    assert [e.mac for e in recent.items] == [A, B]
    with pytest.raises(Invalid):
        list_events(logged, VIEWER, secrets=True, after="999999")  # no such event
    with pytest.raises(Invalid):
        list_events(logged, VIEWER, secrets=True, after="x1")


def test_the_cli_lists_disclosures_and_the_trust_of_every_event(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    store = Store(f"sqlite:///{data / 'plugtone.db'}", data_dir=data)
    try:
        migrate(store.engine)
        now = datetime.now(UTC)
        fresh = [dict(row, time=now - (T0 - row["time"]) - timedelta(minutes=30))
                 for row in ROWS]  # fmt: skip
        with store.sessions() as session:
            session.execute(insert(ProvisioningEvent), fresh)
            session.commit()
    finally:
        store.dispose()

    lines = run_cli("events", "--secrets", data=data).stdout.splitlines()
    assert lines[0].split() == ["TIME", "MAC", "FILE", "CLIENT", "TRUST", "TRANSPORT"]
    cells = [line.split()[2:] for line in lines[1:]]
    assert cells == [
        ["00:08:5D:00:00:01", f"/{A}.cfg", "192.0.2.10", "authenticated", "https"],
        ["00:04:F2:00:06:07", f"/{B}.cfg", "10.1.1.5", "trusted_network", "tftp"],
        ["00:08:5D:00:00:01", f"/{A}.cfg", "192.0.2.10", "window", "http"],
        ["00:04:F2:00:06:07", f"/{B}.cfg", "192.0.2.10", "window", "ftp"],
    ]
    only = run_cli("events", "--secrets", "--mac", "00-04-f2-00-06-07", "--limit", "1",
                   data=data)  # fmt: skip
    assert [line.split()[2] for line in only.stdout.splitlines()[1:]] == ["00:04:F2:00:06:07"]
    assert "more:" in only.stderr
    recent = run_cli("events", "--secrets", "--since", "33m", data=data).stdout.splitlines()
    assert len(recent) == 1 + 3  # 26, 28 and 29 minutes old; not the one 40 minutes old
    stamp = (datetime.now(UTC) - timedelta(minutes=20)).astimezone().strftime("%Y-%m-%dT%H:%M")
    assert run_cli("events", "--secrets", "--since", stamp, data=data).stdout == (
        "no disclosures recorded\n"
    )

    plain = run_cli("events", data=data).stdout.splitlines()
    assert plain[0].split()[-2:] == ["TRUST", "SECRETS"]
    assert len(plain) == 1 + 6 and plain[1].split()[-2:] == ["window", "yes"]
    assert "stranger" in plain[-1].split()
    assert len(run_cli("events", "--trust", "stranger", data=data).stdout.splitlines()) == 3
    bad = run_cli("events", "--since", "yesterday-ish", data=data, check=False)
    assert bad.returncode == 2 and "neither a time" in bad.stderr


# -- the API, and a real server writing the events


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    started = start_api(tmp_path / "data", monkeypatch)
    run_cli("apply", str(EXAMPLE), data=started.server.data)
    yield started
    stop_server(started.server)


def test_the_api_lists_what_a_real_server_disclosed_and_to_whom(api):
    ua = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
    trusted = httpx.get(f"{api.server.base}/{A}.cfg", headers={"User-Agent": ua})
    assert "sip line1 password: 22222" in trusted.text  # 127.0.0.1 is a trusted network here
    stranger = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    assert "22222" not in stranger.get(f"{api.server.base}/{A}.cfg",
                                       headers={"User-Agent": ua}).text  # fmt: skip
    viewer = api.client(api.token_for("vera", "viewer"))
    deadline = time.monotonic() + 10
    while True:
        items = viewer.get("/api/events", params={"mac": A}).json()["items"]
        if len(items) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(e["client_address"], e["trust"], e["secrets"]) for e in items[:2]] == [
        ("127.0.0.2", "stranger", False), ("127.0.0.1", "trusted_network", True)]  # fmt: skip
    shown = viewer.get("/api/events", params={"secrets": "true"}).json()["items"]
    assert [(e["mac"], e["path"], e["client_address"], e["trust"], e["transport"])
            for e in shown] == [(A, f"/{A}.cfg", "127.0.0.1", "trusted_network", "http")]  # fmt: skip
    hidden = viewer.get("/api/events", params={"secrets": "false", "mac": A}).json()["items"]
    assert [e["trust"] for e in hidden] == ["stranger"]
    assert viewer.get("/api/events", params={"trust": "window"}).json()["items"] == []
    assert viewer.get("/api/events", params={"trust": "nobody"}).status_code == 422

"""A change made through one process or host is served by every other within a second.

On PostgreSQL the writer NOTIFYs in the transaction that moves the generation and each
process's :class:`~plugtone.inventory.change_feed.ChangeFeed` wakes its generation check
at once; on SQLite the writer's commit wakes this host's serving processes through
their sockets (:class:`~plugtone.inventory.change_feed.HostFeed`). Tested in-process
with a resolver whose own poll is an hour (so only the feed can have moved it), across
a lost PostgreSQL connection and a socket left by a killed process, and end to end
between two ``plugtone serve`` processes with their own data directories on one
database (two hosts); ``tests/test_workers.py`` does the same between workers on SQLite.
"""

from __future__ import annotations

import os
import re
import socket
import time

import httpx
import pytest
from sqlalchemy import text

from plugtone.inventory.change_feed import start_change_feed, wake_directory
from plugtone.inventory.store import (
    Store,
    bump_generation,
    lock_inventory,
    migrate,
    sqlite_file,
)
from plugtone.provisioning.resolver import Resolver
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text
from tests.serve_processes import (
    fetch_aastra,
    launch,
    make_data,
    ready,
    second_host,
    seconds_until,
    set_time_zone_name,
)


@pytest.fixture
def pg_store(pg_url, tmp_path):
    store = Store(pg_url, data_dir=tmp_path)
    migrate(store.engine)
    yield store
    store.dispose()


def example_with_zone(name: str) -> str:
    return EXAMPLE.read_text().replace(
        '"time zone name": "US-Pacific"', f'"time zone name": "{name}"'
    )


@pytest.fixture
def feed_of():
    """A resolver over a store that polls once an hour, woken by the store's change
    feed (NOTIFY on PostgreSQL, this host's sockets on SQLite); stopped after."""
    made: list = []

    def make(store: Store):
        resolver = Resolver(store, default_registry(), generation_check_interval=3600)
        resolver.refresh(force=True)
        feed = start_change_feed(store, lambda: resolver.refresh(force=True))
        made.append(feed)
        assert feed.listening.wait(5), "the change feed did not start listening"
        return resolver, feed

    yield make
    for feed in made:
        feed.stop()


def test_a_committed_change_wakes_the_resolver_at_once_and_a_rolled_back_one_never(
    store, feed_of, tmp_path
):
    resolver, feed = feed_of(store)
    writer = Store(store.url, data_dir=tmp_path)  # another process's store, as it were
    try:
        before = resolver.generation
        apply_text(writer, EXAMPLE.read_text())
        waited = seconds_until(lambda: resolver.generation > before, 1.0)
        print(f"{store.dialect}: generation seen {waited * 1000:.1f} ms after commit")
        assert resolver.generation == writer.generation()

        wakeups = feed.wakeups
        with writer.sessions() as session:  # a writer that gives up: nothing to wake for
            lock_inventory(session)
            bump_generation(session)
            session.rollback()
        time.sleep(0.3)
        assert feed.wakeups == wakeups
        assert resolver.generation == writer.generation()
    finally:
        writer.dispose()


def test_a_socket_left_by_a_killed_process_is_removed_by_the_next_writer(
    sqlite_url, feed_of, tmp_path
):
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    try:
        resolver, _ = feed_of(store)
        left = wake_directory(sqlite_file(store.url)) / "999999999"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:
            gone.bind(str(left))  # closed without unlinking, as by SIGKILL
        assert left.exists()
        apply_text(store, EXAMPLE.read_text())
        assert not left.exists()
        seconds_until(lambda: resolver.generation == store.generation(), 1.0)
        assert sorted(path.name for path in left.parent.iterdir()) == [str(os.getpid())]
    finally:
        store.dispose()


@pytest.mark.postgres
def test_the_feed_reconnects_and_catches_up_with_what_it_missed(
    pg_store, pg_admin, feed_of, tmp_path
):
    resolver, feed = feed_of(pg_store)
    writer = Store(pg_store.url, data_dir=tmp_path)
    try:
        with pg_admin.connect() as connection:  # the connection dies (a restart, a failover)
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": feed.backend_pid})
        apply_text(writer, EXAMPLE.read_text())  # made while nothing may be listening
        seconds_until(lambda: feed.connections == 2 and feed.listening.is_set(), 5.0)
        seconds_until(lambda: resolver.generation == writer.generation(), 1.0)

        before = resolver.generation
        apply_text(writer, example_with_zone("US-Eastern"))  # and it listens again
        seconds_until(lambda: resolver.generation > before, 1.0)
    finally:
        writer.dispose()


@pytest.mark.postgres
def test_a_change_through_one_host_is_served_by_another_within_a_second(pg_url, tmp_path):
    """Two hosts: two ``plugtone serve`` processes, each with its own data directory, on
    one PostgreSQL database. The change goes through the first one's admin API; the
    second, its file cached, serves it, and keeps another phone's file cached (only
    what changed is dropped in the other process too). (On SQLite, processes of one
    host: the workers' test, ``tests/test_workers.py``.)"""
    db_url = pg_url
    first = make_data(tmp_path / "one", db_url)
    other = second_host(first, tmp_path / "two")
    one, two = launch(first, db_url=db_url), launch(other, db_url=db_url)  # both start at once
    try:
        ready(one), ready(two)
        token = one.token()
        assert b"US-Pacific" in fetch_aastra(two.base)  # cached in the second process
        other_phone = fetch_other_aastra(two.base)  # and another phone's file
        delays = []
        for zone in ("US-Eastern", "US-Central"):
            changed_at = set_time_zone_name(one.admin, token, zone)
            seconds_until(lambda zone=zone: zone.encode() in fetch_aastra(two.base), 1.0)
            delays.append(time.monotonic() - changed_at)
        assert max(delays) < 1.0
        print("PostgreSQL: served by the other process after "
              + ", ".join(f"{delay * 1000:.0f}" for delay in delays) + " ms")  # fmt: skip
        assert fetch_aastra(one.base) == fetch_aastra(two.base)
        # only what changed was dropped: the other phone's file is still cached there
        renders = rendered(two)
        assert fetch_other_aastra(two.base) == other_phone
        assert rendered(two) == renders
    finally:
        assert two.stop() == 0, two.output()
        assert one.stop() == 0, one.output()


def fetch_other_aastra(base: str) -> bytes:
    """The example's second Aastra phone's own file (another phone of the same site)."""
    agent = "Aastra6731i MAC:00-08-5D-00-00-02 V:3.2.2.1136-SIP"
    answer = httpx.get(f"{base}/00085D000002.cfg", headers={"User-Agent": agent}, timeout=20)
    assert answer.status_code == 200 and b"sip line1 password: 33333" in answer.content
    return answer.content


def rendered(served) -> float:
    """Files the process's plug-ins have rendered so far (its ``/metrics``)."""
    text_ = httpx.get(f"{served.admin}/metrics", timeout=20).text
    found = re.search(r"^plugtone_render_cache_misses_total (\S+)$", text_, re.M)
    assert found, text_
    return float(found.group(1))

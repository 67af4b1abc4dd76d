"""Beyond its connection cap the FTP server answers 421 at once and closes; the sessions
it holds go on untouched, and a slot freed is taken by the next phone (ftplib)."""

from __future__ import annotations

import asyncio
import ftplib
import threading
from collections.abc import Iterator

import pytest

from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import Resolver
from plugtone.provisioning.trust import parse_network_rules
from plugtone.provisioning.uploads import UploadStore
from plugtone.servers.ftp import start_ftp_server
from plugtone.servers.runner import quiet_disconnects
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text

CAP = 2
MASTER = "0004f2000607.cfg"  # the example's Polycom


class CappedServer:
    """plugtone's FTP server with ``max_connections=CAP``, on its own loop thread."""

    def __init__(self, provisioner: Provisioner) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.set_exception_handler(quiet_disconnects)
            self.service = self.loop.run_until_complete(
                start_ftp_server(provisioner, "127.0.0.1", 0, max_connections=CAP)
            )
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        self.port = self.service.port

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.service.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def server(tmp_path) -> Iterator[CappedServer]:
    store = Store(f"sqlite:///{tmp_path / 'plugtone.db'}")
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    uploads = UploadStore(tmp_path / "uploads")
    resolver = Resolver(store, default_registry(), uploads=uploads,
                        trusted_networks=parse_network_rules(["127.0.0.1/32"]))  # fmt: skip
    running = CappedServer(Provisioner(resolver, EventRecorder(store), uploads))
    yield running
    running.stop()
    store.dispose()


def phone(server: CappedServer) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.port, timeout=10)
    client.login("PlcmSpIp", "PlcmSpIp")
    return client


def master(client: ftplib.FTP) -> bytes:
    chunks: list[bytes] = []
    client.retrbinary(f"RETR {MASTER}", chunks.append)
    return b"".join(chunks)


def test_beyond_the_cap_a_phone_gets_421_and_the_sessions_held_carry_on(server):
    held = [phone(server) for _ in range(CAP)]
    expected = master(held[0])
    assert b"CONFIG_FILES" in expected
    with pytest.raises(ftplib.error_temp, match=r"^421"):
        phone(server)
    assert [master(client) for client in held] == [expected] * CAP  # not slowed, not cut
    held.pop().quit()
    late = phone(server)  # the freed slot
    assert master(late) == expected
    for client in [*held, late]:
        client.quit()

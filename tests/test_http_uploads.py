"""HTTP PUT of declared upload names, and the ``plugtone uploads`` command.

The phone asks from 10.1.2.3, inside a trusted network (:data:`PHONE_LAN`); an upload is
accepted only once its phone asked for a file of its own from that same address, as a
Polycom fetches its master file before it uploads its boot log.
"""

from __future__ import annotations

import httpx
import pytest

from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import Resolver
from plugtone.provisioning.trust import parse_network_rules
from plugtone.provisioning.uploads import UploadStore
from plugtone.servers.http import create_phone_app
from plugtone.vendors import VendorRegistry
from tests.conftest import EXAMPLE, apply_text, run_cli
from tests.test_ftp_server import UploadingAastra

PHONE_LAN = parse_network_rules(["10.0.0.0/8"])


@pytest.fixture
def app(tmp_path):
    data = tmp_path / "var"
    run_cli("init", data=data)
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    resolver = Resolver(store, VendorRegistry([UploadingAastra()]), trusted_networks=PHONE_LAN)
    provisioner = Provisioner(resolver, EventRecorder(store), UploadStore(data / "uploads"))
    yield create_phone_app(provisioner), data
    store.dispose()


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_put_of_a_declared_name_is_stored_and_listed(app):
    asgi, data = app
    transport = httpx.ASGITransport(app=asgi, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://plugtone") as client:
        early = await client.put("/00085d000001-boot.log", content=b"too early\n")
        assert early.status_code == 403  # trusted, but the phone has asked nothing from here
        assert (await client.get("/00085D000001.cfg")).status_code == 200  # its own file
        response = await client.put("/00085d000001-boot.log", content=b"booted\n")
        assert response.status_code == 204
        assert (await client.put("/aastra.cfg", content=b"x")).status_code == 403
        assert (await client.put("/00085d0000aa-boot.log", content=b"x")).status_code == 403
        too_big = await client.put("/00085d000001-boot.log", content=b"x" * 5000)
        assert too_big.status_code == 413
    outside = httpx.ASGITransport(app=asgi, client=("192.0.2.7", 5000))
    async with httpx.AsyncClient(transport=outside, base_url="http://plugtone") as stranger:
        forged = await stranger.put("/00085d000001-boot.log", content=b"forged\n")
        assert forged.status_code == 401  # challenged: only the phone's own login would do
    stored = data / "uploads" / "00085D000001" / "00085d000001-boot.log"
    assert stored.read_bytes() == b"booted\n"
    listing = run_cli("uploads", "00:08:5D:00:00:01", data=data).stdout
    assert "00085d000001-boot.log" in listing
    shown = run_cli("uploads", "00085d000001", "--show", "00085D000001-BOOT.LOG", data=data).stdout
    assert shown == "booted\n"
    nothing = run_cli("uploads", "00085D000002", data=data).stdout
    assert "has uploaded nothing" in nothing

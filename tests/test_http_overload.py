"""Beyond capacity the phone HTTP listener answers 503 with Retry-After, at once, and
logs it; answers it can give at once (cached, in memory) are still given."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.trust import parse_network_rules
from plugtone.servers.http import RETRY_AFTER, ZeroCopyHttpToolsProtocol
from plugtone.servers.runner import ServeOptions, serve_with
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, free_port, run_cli

UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_over_capacity_a_request_that_must_wait_gets_503_and_a_cached_one_200(
    tmp_path, monkeypatch
):
    data = tmp_path / "var"
    run_cli("init", data=data)
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    provisioner = Provisioner.for_store(store, default_registry(), data,
                                        trusted_networks=parse_network_rules(["127.0.0.1/32"]))  # fmt: skip
    port = free_port()
    options = ServeOptions(db_url="unused", host="127.0.0.1", http_port=port, data_dir=data)
    ready = asyncio.Event()
    server = asyncio.create_task(serve_with(provisioner, options, ready, announce=lambda _: None))
    url = f"http://127.0.0.1:{port}/00085D000001.cfg"
    try:
        await asyncio.wait_for(ready.wait(), 30)
        # one keep-alive connection throughout: after a 503 it still carries whole answers
        limits = httpx.Limits(max_connections=1)
        async with httpx.AsyncClient(headers={"User-Agent": UA}, timeout=10,
                                     limits=limits) as client:  # fmt: skip
            monkeypatch.setattr(ZeroCopyHttpToolsProtocol, "max_in_flight", 0)
            busy = await client.get(url)  # not cached yet: it would wait for the store
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == str(RETRY_AFTER)
            assert busy.text == "busy, retry later\n"
            monkeypatch.setattr(ZeroCopyHttpToolsProtocol, "max_in_flight", 1000)
            served = await client.get(url)
            assert served.status_code == 200 and "sip" in served.text
            monkeypatch.setattr(ZeroCopyHttpToolsProtocol, "max_in_flight", 0)
            again = await client.get(url)  # cached now: answered at once, never refused
            assert again.status_code == 200 and again.content == served.content
        provisioner.recorder.flush(force=True)
        with store.sessions() as session:
            statuses = session.scalars(
                select(ProvisioningEvent.status).where(
                    ProvisioningEvent.path == "/00085D000001.cfg"
                ).order_by(ProvisioningEvent.id)
            ).all()  # fmt: skip
        assert statuses[:3] == ["busy", "ok", "ok"]
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        store.dispose()

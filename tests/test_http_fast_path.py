"""The phone HTTP listener's fast path, on a real socket: answers given at once (before
uvicorn builds a request cycle) are whole, in order and logged, however the client
sends its requests; keep-alive connections idle past their timeout are closed by the
server's sweep, busy ones are not.

In-process (the runner's ``serve_with``, as ``plugtone serve`` runs it) with a raw
socket, since what is checked is bytes on the wire: httpx neither pipelines nor shows
how a connection ends.
"""

from __future__ import annotations

import asyncio
import gc
from unittest import mock

import pytest
from httptools import HttpRequestParser
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.trust import parse_network_rules
from plugtone.servers.http import ZeroCopyHttpToolsProtocol
from plugtone.servers.http_front import PhoneHttpProtocol
from plugtone.servers.runner import ServeOptions, serve_with
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, free_port, run_cli

UA = b"Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
PATH = b"/00085D000001.cfg"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def request(*headers: bytes, method: bytes = b"GET", path: bytes = PATH) -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"User-Agent: " + UA]
    return b"\r\n".join([*lines, *headers, b"", b""])


async def read_answer(reader: asyncio.StreamReader, head_only: bool = False):
    """One answer: (status, headers by lower-case name, body), read by its Content-Length."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head[:-4].split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head_only else int(headers.get(b"content-length", b"0"))
    body = await asyncio.wait_for(reader.readexactly(length), 10) if length else b""
    return int(status_line.split()[1]), headers, body


class Served:
    def __init__(self, store: Store, provisioner: Provisioner, port: int) -> None:
        self.store, self.provisioner, self.port = store, provisioner, port

    def statuses(self) -> list[str]:
        self.provisioner.recorder.flush(force=True)
        with self.store.sessions() as session:
            return list(session.scalars(
                select(ProvisioningEvent.status)
                .where(ProvisioningEvent.path == PATH.decode())
                .order_by(ProvisioningEvent.id)
            ))  # fmt: skip


@pytest.fixture
async def served(tmp_path):
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
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield Served(store, provisioner, port)
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
        store.dispose()


@pytest.mark.anyio
async def test_hundreds_of_pipelined_requests_get_whole_answers_in_order_and_are_logged(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        # The first is not cached (it waits for the store): the rest queue behind it,
        # then are answered at once, one after the other.
        writer.write(request())
        status, headers, first = await read_answer(reader)
        assert status == 200 and b"sip" in first
        etag = headers[b"etag"]
        await asyncio.sleep(0.6)  # the generation check is due: the next one waits again
        kinds = [("get", request()), ("304", request(b"If-None-Match: " + etag)),
                 ("head", request(method=b"HEAD"))] * 150  # fmt: skip
        writer.write(b"".join(data for _, data in kinds))  # one write, read as one or a few
        for kind, _ in kinds:
            status, headers, body = await read_answer(reader, head_only=kind == "head")
            assert headers[b"etag"] == etag
            if kind == "304":
                assert status == 304 and b"content-length" not in headers
            else:
                assert status == 200 and headers[b"content-length"] == b"%d" % len(first)
                assert body == (first if kind == "get" else b"")
        writer.write(request(b"Connection: close"))
        status, headers, body = await read_answer(reader)
        assert status == 200 and headers[b"connection"] == b"close" and body == first
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed after the answer
    finally:
        writer.close()
    statuses = served.statuses()
    assert statuses.count("ok") == 1 + 300 + 1 and statuses.count("not_modified") == 150


@pytest.mark.anyio
async def test_an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not(served):
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", served.port)
    busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        for writer, reader in ((idle_writer, idle_reader), (busy_writer, busy_reader)):
            writer.write(request())
            assert (await read_answer(reader))[0] == 200
        for second in (2, 4, 6):  # the busy one asks every 2 s, within uvicorn's 5 s timeout
            await asyncio.sleep(2)
            if second < 5:
                assert not idle_reader.at_eof(), f"closed {second} s after its answer"
            busy_writer.write(request())
            assert (await read_answer(busy_reader))[0] == 200
        assert await asyncio.wait_for(idle_reader.read(), 3) == b""  # closed by the sweep
        busy_writer.write(request())
        assert (await read_answer(busy_reader))[0] == 200
    finally:
        idle_writer.close()
        busy_writer.close()


def lean_connections() -> list:
    """The connections :class:`PhoneHttpProtocol` holds now (not handed over)."""
    return [found for found in gc.get_objects()
            if type(found) is PhoneHttpProtocol and not found.transport.is_closing()
            and found in found.server_state.connections]  # fmt: skip


@pytest.mark.anyio
async def test_a_connection_handed_over_for_a_miss_comes_back_for_cached_answers(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(request())  # not cached yet: answered by the ASGI protocol
        status, _, first = await read_answer(reader)
        assert status == 200
        await asyncio.sleep(0.05)
        assert len(lean_connections()) == 1  # given back once answered
        for _ in range(20):
            writer.write(request())
            assert await read_answer(reader) == (200, mock.ANY, first)
        assert len(lean_connections()) == 1
        for _ in range(2):  # another miss, handed over again, and given back again
            writer.write(request(path=b"/aastra.cfg"))
            status, _, common = await read_answer(reader)
            assert status == 200 and common != first
            writer.write(request())
            assert await read_answer(reader) == (200, mock.ANY, first)
        await asyncio.sleep(0.05)
        assert len(lean_connections()) == 1
    finally:
        writer.close()
    assert served.statuses().count("ok") == 21 + 2  # the common file is not counted here


@pytest.mark.anyio
async def test_heads_split_byte_by_byte_or_pipelined_are_answered_in_order(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(request())
        _, _, first = await read_answer(reader)
        for byte in request():  # one byte per read: nothing is answered before the head ends
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.001)
        assert await read_answer(reader) == (200, mock.ANY, first)
        writer.write(request(method=b"HEAD") + request())
        assert (await read_answer(reader, head_only=True))[0] == 200
        assert await read_answer(reader) == (200, mock.ANY, first)
        # Bare line feeds: httptools refuses them (400), whichever protocol reads them,
        # and the answers before them are whole.
        writer.write(request() + request().replace(b"\r\n", b"\n"))
        assert await read_answer(reader) == (200, mock.ANY, first)
        assert (await read_answer(reader))[0] == 400
    finally:
        writer.close()
    assert served.statuses().count("ok") == 5


@pytest.mark.anyio
async def test_bodies_uploads_and_malformed_heads_go_the_asgi_way_on_the_same_connection(served):
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(request())
        _, _, first = await read_answer(reader)
        await asyncio.sleep(0.05)
        # A GET with a body: the body is read (not taken for the next request).
        writer.write(request(b"Content-Length: 5") + b"hello" + request())
        assert await read_answer(reader) == (200, mock.ANY, first)
        assert await read_answer(reader) == (200, mock.ANY, first)
        writer.write(request(method=b"POST"))
        assert (await read_answer(reader))[0] == 405
        writer.write(request())
        assert await read_answer(reader) == (200, mock.ANY, first)
    finally:
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        assert (await read_answer(reader))[0] == 400
    finally:
        writer.close()


@pytest.mark.anyio
async def test_a_change_is_served_within_a_second_while_cached_answers_flow(served):
    """The generation check runs in the background while cached answers go on from
    memory (:meth:`Resolver._revalidate`), and the change is still served within a
    second of its commit."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(request())
        status, _, first = await read_answer(reader)
        assert b"US-Pacific" in first
        loop = asyncio.get_running_loop()
        changed = EXAMPLE.read_text().replace("US-Pacific", "US-Eastern")
        applied = loop.run_in_executor(None, apply_text, served.store, changed)
        began = None
        while True:
            writer.write(request())
            status, _, body = await read_answer(reader)
            assert status == 200
            if applied.done() and began is None:
                await applied
                began = loop.time()
            if b"US-Eastern" in body:
                break
            assert began is None or loop.time() - began < 1.0
            await asyncio.sleep(0.01)
        assert began is not None and loop.time() - began < 1.0
    finally:
        writer.close()


@pytest.mark.anyio
async def test_misses_are_answered_whole_in_one_write_by_the_asgi_protocol(served):
    """A miss goes the ASGI way, answered with one ``plugtone.reply`` message: HEAD
    without a body, Date among the headers, the ETag and length of the cached answer,
    a 404 whole, and ``Connection: close`` honoured."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(request(method=b"HEAD"))  # a miss: headers only
        status, headers, _ = await read_answer(reader, head_only=True)
        assert status == 200 and b"date" in headers
        writer.write(request())
        status, cached, body = await read_answer(reader)
        assert status == 200 and len(body) == int(headers[b"content-length"])
        assert headers[b"etag"] == cached[b"etag"]
        writer.write(request(path=b"/no-such-file.cfg"))  # a miss answered 404
        assert await read_answer(reader) == (404, mock.ANY, b"not found\n")
        writer.write(request(b"Connection: close", path=b"/aastra.cfg"))  # a miss, then closed
        status, headers, common = await read_answer(reader)
        assert status == 200 and headers[b"connection"] == b"close" and b"aastra.cfg" in common
        assert await asyncio.wait_for(reader.read(), 10) == b""
    finally:
        writer.close()
    assert served.statuses() == ["ok", "ok"]  # a HEAD of a file in memory: "ok", 0 bytes


async def _exchange(port: int, *requests: bytes) -> None:
    """Send each request and read its answer on one connection, then let it close."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for data in requests:
            writer.write(data)
            await read_answer(reader)
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.anyio
async def test_closed_connections_leave_nothing_for_the_garbage_collector(served):
    """Every way a phone's connection can end frees it by reference counting: closed by
    the server after a cached answer or after a miss answered by the ASGI protocol, or by
    the phone after a miss and the cached answers that follow. In a reference cycle, a
    boot storm's connections would pile up until the collector, which then ran every few
    thousand connections and cost 5-8% of the CPU of a request."""
    await _exchange(served.port, request())  # the phone's file cached
    protocols = (PhoneHttpProtocol, ZeroCopyHttpToolsProtocol, HttpRequestParser)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for number in range(10):
            miss = f"/not-here-{number}.cfg".encode()  # a new name: a miss every time
            await _exchange(served.port, request(b"Connection: close"))
            await _exchange(served.port, request(b"Connection: close", path=miss))
            await _exchange(served.port, request(path=miss + b"x"), request(), request())
        await asyncio.sleep(0.2)  # the transports' connection_lost calls are made
        gc.collect()
        left = [type(found).__name__ for found in gc.garbage if isinstance(found, protocols)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert left == []


@pytest.mark.anyio
async def test_a_miss_tries_the_cache_once_and_resolves_once(served):
    """A miss is looked up in memory once (by the front, on the event loop), then
    resolved once in a worker thread: the ASGI protocol it is handed to carries the
    miss and does not try the cache again (in a cold storm almost every request is a
    miss, and each look-up is a whole resolution)."""
    resolver = served.provisioner.resolver
    calls = {"cached": 0, "resolve": 0}
    cached, resolve = resolver.cached, resolver.resolve

    def counted_cached(request):
        calls["cached"] += 1
        return cached(request)

    def counted_resolve(request):
        calls["resolve"] += 1
        return resolve(request)

    with (mock.patch.object(resolver, "cached", counted_cached),
          mock.patch.object(resolver, "resolve", counted_resolve)):  # fmt: skip
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            writer.write(request())  # a miss
            assert (await read_answer(reader))[0] == 200
            assert calls == {"cached": 1, "resolve": 1}
            writer.write(request())  # now in memory: answered at once
            assert (await read_answer(reader))[0] == 200
            assert calls == {"cached": 2, "resolve": 1}
        finally:
            writer.close()


@pytest.mark.anyio
async def test_a_polycoms_files_after_its_master_are_answered_from_memory(served):
    """A Polycom booting over HTTP: its master file goes to a worker thread, which
    renders the files the master lists and the directory it reads next, so those three
    requests (the directory after a look for an upload of the phone's own) are answered
    at once by the front, with no thread."""
    resolver = served.provisioner.resolver
    resolved = []
    resolve = resolver.resolve

    def counted_resolve(request):
        resolved.append(request.path)
        return resolve(request)

    agent = b"User-Agent: FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.3.1734"
    with mock.patch.object(resolver, "resolve", counted_resolve):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        try:
            for name in (b"0004f2000607.cfg", b"0004f2000607-reg.cfg",
                         b"0004f2000607-site.cfg", b"0004f2000607-directory.xml"):  # fmt: skip
                writer.write(b"GET /" + name + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + agent
                             + b"\r\n\r\n")  # fmt: skip
                status, _, body = await read_answer(reader)
                assert status == 200 and body, name
        finally:
            writer.close()
    assert resolved == ["/0004f2000607.cfg"]

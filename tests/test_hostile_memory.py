"""Bounded memory under hostile input (issue 11, part 5).

Head caps on the HTTP listeners (431/414), memo keys that hold the facts taken from a
User-Agent and never the User-Agent, every resolver cache bounded by entries and
bytes, inventory field caps refused at apply, and a real ``plugtone serve`` whose RSS
stays put while it is sent 20,000 hostile requests.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import string
import threading
import time
from pathlib import Path

import httpx
import pytest

from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import load_located
from plugtone.provisioning import resolver as resolver_module
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.servers.http_limits import MAX_HEAD, MAX_TARGET, MAX_USER_AGENT
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, example_server, run_cli, start_server, stop_server

AASTRA_UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
POLYCOM_UA = "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.3.4.0085 Type/Application"
CISCO_MAC = "00115C93AFD1"
PHONE_LAN = parse_network_rules(["10.0.0.0/8"])
"""The phones' network, trusted: real phones ask from it (a sweep comes from inside and
from outside it, 192.168.0.0/16, so both kinds of answer are memoized and bounded)."""


def raw_request(port: int, head: bytes, *, timeout: float = 10.0) -> bytes:
    """Send ``head`` as is and read the answer to its end (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as client:
        client.sendall(head)
        chunks = []
        while True:
            try:
                chunk = client.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def get(path: str, *headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: phone", *headers, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1")


# -- head caps -----------------------------------------------------------------------


def test_oversized_heads_are_refused_and_a_phone_is_still_served(tmp_path):
    with example_server(tmp_path / "data") as server:
        port = server.http_port
        padded = AASTRA_UA + " " + "x" * (MAX_USER_AGENT - len(AASTRA_UA) - 1)
        assert len(padded) == MAX_USER_AGENT
        ok = raw_request(port, get("/00085D000001.cfg", f"User-Agent: {padded}"))
        assert status_of(ok) == 200 and b"sip line1 auth name" in ok
        # one byte of User-Agent too many
        long_ua = raw_request(port, get("/00085D000001.cfg", f"User-Agent: {padded}x"))
        assert status_of(long_ua) == 431 and b"sip line1" not in long_ua
        # many small fields adding up to more than the head cap
        fields = [f"X-Pad-{index}: {'y' * 200}" for index in range(MAX_HEAD // 200)]
        assert status_of(raw_request(port, get("/aastra.cfg", *fields[:60]))) == 431
        # too many fields
        many = [f"X-{index}: 1" for index in range(70)]
        assert status_of(raw_request(port, get("/aastra.cfg", *many))) == 431
        # a long request target
        assert status_of(raw_request(port, get("/" + "a" * MAX_TARGET + ".cfg"))) == 414
        # a request line that never ends: 414 without waiting for the rest
        assert status_of(raw_request(port, b"GET /" + b"a" * (MAX_HEAD + 10))) == 414
        # a 2 MB header sent in one go is answered, not parsed
        huge = get("/aastra.cfg", f"X-Huge: {'z' * 2_000_000}")
        assert status_of(raw_request(port, huge)) == 431
        # keep-alive: a good request, then an oversized one on the same connection
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            first = get("/aastra.cfg").replace(b"Connection: close", b"Connection: keep-alive")
            client.sendall(first)
            answers = client.recv(65536)
            while b"aastra" not in answers.lower().split(b"\r\n\r\n", 1)[-1]:
                answers += client.recv(65536)
            client.sendall(get("/aastra.cfg", f"User-Agent: {'u' * 4000}"))
            while chunk := client.recv(65536):
                answers += chunk
        assert answers.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 431" in answers
        # and the server serves on
        served = httpx.get(f"{server.base}/00085D000001.cfg", headers={"User-Agent": AASTRA_UA})
        assert served.status_code == 200


def test_the_admin_listener_has_the_same_caps(tmp_path):
    server = start_server(tmp_path / "data", admin=True)
    try:
        long_ua = get("/api/phones", f"User-Agent: {'b' * (MAX_USER_AGENT + 1)}")
        refused = raw_request(server.admin_port, long_ua)
        assert status_of(refused) == 431
        # a refusal the API schema documents: a problem document, like every other
        head, _, body = refused.partition(b"\r\n\r\n")
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(body)["status"] == 431
        assert status_of(raw_request(server.admin_port, get("/" + "a" * MAX_TARGET))) == 414
        assert httpx.get(f"{server.admin_base}/api/phones").status_code == 401
    finally:
        stop_server(server)


# -- memo keys and bounded caches ----------------------------------------------------


def random_text(rng: random.Random, size: int) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + " ;/.()", k=size))


def test_real_phones_are_served_and_memoized(store):
    apply_text(store, EXAMPLE.read_text())
    # cached() answers only while the generation check is fresh: a long interval, so a
    # slow render on a loaded machine does not read as "not memoized"
    resolver = Resolver(store, default_registry(), trusted_networks=PHONE_LAN,
                        generation_check_interval=60)  # fmt: skip
    resolver.refresh(force=True)
    requests = [
        FileRequest("/00085D000001.cfg", "http", "10.0.0.1", AASTRA_UA),
        FileRequest("/aastra.cfg", "http", "10.0.0.1", AASTRA_UA),
        FileRequest("/0004f2000607.cfg", "http", "10.0.0.2", POLYCOM_UA),
        FileRequest(f"SIP{CISCO_MAC}.cnf", "tftp", "10.0.0.3"),
        FileRequest("SIPDefault.cnf", "tftp", "10.0.0.3"),
    ]
    for request in requests:
        answer = resolver.resolve(request)
        assert answer.status is Status.OK and answer.content, request
        assert answer.trust is Trust.TRUSTED_NETWORK, request
        assert resolver.cached(request) is answer, f"{request.path} not memoized"
    mac_file = resolver.resolve(requests[0]).content or b""
    assert b"sip line1 auth name: 3003" in mac_file
    assert b"CONFIG_FILES" in (resolver.resolve(requests[2]).content or b"")
    assert b"line1_name" in (resolver.resolve(requests[3]).content or b"")
    # the facts, not the spelling: the same phone with a longer User-Agent shares the memo
    longer = FileRequest("/00085D000001.cfg", "http", "10.0.0.1", AASTRA_UA + " extra")
    assert resolver.cached(longer) is resolver.cached(requests[0])
    facts = resolver.identify(requests[0])
    assert facts is not None and facts.model == "6757i" and facts.mac == "00085D000001"


def test_hostile_user_agents_and_names_leave_the_caches_bounded(store, monkeypatch):
    """8 KB random User-Agents (some Aastra-shaped, so that identification takes long
    firmware versions and models from them) with made-up MAC file names, straight into
    the resolver as any transport would hand them: no key holds a User-Agent, and every
    cache stays within its entries and bytes."""
    monkeypatch.setattr(resolver_module, "MISSES_MAX", 500)
    monkeypatch.setattr(resolver_module, "MISSES_BYTES", 200_000)
    apply_text(store, EXAMPLE.read_text())
    resolver = Resolver(store, default_registry(), cache_size=50, trusted_networks=PHONE_LAN,
                        generation_check_interval=60)  # fmt: skip
    resolver.refresh(force=True)
    rng = random.Random(11)
    for index in range(3_000):
        user_agent = random_text(rng, 8192)
        if index % 3 == 0:
            user_agent = f"Aastra{random_text(rng, 300)} MAC:00-08-5D-00-00-01 V:{user_agent}"
        mac = f"{rng.getrandbits(48):012X}"
        path = rng.choice([f"/{mac}.cfg", f"/{mac}-phone.cfg", "/aastra.cfg", f"/x{mac}.bin"])
        a, b = index % 250, index // 250
        address = f"10.{a}.{b}.1" if index % 2 else f"192.168.{a}.{b + 1}"  # in, out of the LAN
        request = FileRequest(path, "http", address, user_agent)
        answer = resolver.cached(request) or resolver.resolve(request)
        assert answer.status in (Status.OK, Status.NOT_FOUND)
    caches = [resolver._answers, resolver._misses, resolver._files, resolver._phones,
              resolver._absent, resolver._addresses, resolver._matches, resolver._users,
              resolver._last_address, resolver.networks._memo]  # fmt: skip
    for cache in caches:
        assert len(cache) <= cache.size and cache.bytes <= cache.max_bytes
    assert len(resolver._misses) > 100  # the sweep did reach the miss memo
    for cache in (resolver._answers, resolver._misses):
        for key in cache.items:
            assert sum(len(part) for part in key if isinstance(part, str)) < 1024
            facts = key[1]
            if facts is not None:
                assert len(facts.firmware_version or "") <= resolver_module.MAX_USER_AGENT
    # the real phone is still served, and memoized
    request = FileRequest("/00085D000001.cfg", "http", "10.9.9.9", AASTRA_UA)
    answer = resolver.resolve(request)
    assert answer.status is Status.OK and resolver.cached(request) is answer
    assert answer.trust is Trust.TRUSTED_NETWORK and b"sip line1 password: 22222" in answer.content


def test_a_sweep_of_made_up_macs_does_not_evict_real_phones(store):
    apply_text(store, EXAMPLE.read_text())
    resolver = Resolver(store, default_registry(), cache_size=10)
    resolver.refresh(force=True)
    assert resolver.phone("00085D000001") is not None
    for index in range(2_000):
        assert resolver.phone(f"DEAD{index:08X}") is None
    assert "00085D000001" in resolver._phones
    assert len(resolver._absent) <= resolver._absent.size


# -- inventory caps ------------------------------------------------------------------


def problems(text: str) -> list[str]:
    _, found = parse_document(load_located(text, "inv.yaml"), default_registry())
    return [str(problem) for problem in found]


SITE = "sites:\n  - name: hq\n    sip_server: 10.0.0.1\n"


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        ("    dial_plan: '" + "x" * 4097 + "'\n", "inv.yaml:4:", "longer than 4096"),
        ("    voicemail: '" + "9" * 65 + "'\n", "inv.yaml:4:", "longer than 64"),
        ("    keys: [" + ", ".join(["{type: park}"] * 513) + "]\n", "inv.yaml:4:", "more than 512 keys"),
        ("    keys: [{type: park, label: '" + "l" * 65 + "'}]\n", "inv.yaml:4:", "than 64"),
        ("    directory: [" + ", ".join(["{name: a, number: '1'}"] * 5001) + "]\n",
         "inv.yaml:4:", "5000 contacts"),
        ("    vendor_settings: {aastra: {'a b': '" + "v" * 4097 + "'}}\n",
         "inv.yaml:4:", "longer than 4096"),
        ("    vendor_settings: {aastra: {'" + "n" * 256 + "': 1}}\n",
         "inv.yaml:4:", "name is longer than 255"),
    ],
)  # fmt: skip
def test_site_fields_over_their_caps_are_refused_with_their_place(extra, where, message):
    found = problems(SITE + extra)
    assert any(line.startswith(where) and message in line for line in found), found
    assert all(len(line) < 300 for line in found)  # the value itself is never echoed


def test_phone_lines_and_descriptions_are_capped():
    phone = "phones:\n  - {mac: '00085D000009', model: 6757i, site: hq, "
    lines = problems(SITE + phone + "lines: [" + ", ".join(["null"] * 65) + "]}\n")
    assert any("inv.yaml:5:" in line and "more than 64 lines" in line for line in lines)
    text = problems(SITE + phone + "description: '" + "d" * 256 + "'}\n")
    assert any("longer than 255" in line for line in text)
    assert problems(SITE + "    dial_plan: '" + "x" * 4096 + "'\n") == []


def test_a_30_mb_dial_plan_is_refused_by_apply_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    before = run_cli("export", data=data).stdout
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    number = next(index for index, line in enumerate(lines) if "dial_plan:" in line)
    column = lines[number].index("dial_plan:") + 1  # problems are placed at the field's key
    lines[number] = lines[number].split("dial_plan:")[0] + "dial_plan: '" + "1" * 30_000_000 + "'\n"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text("".join(lines))
    for beside in EXAMPLE.parent.iterdir():  # the files the example names (its logo)
        if beside != EXAMPLE and beside.is_file():
            shutil.copy(beside, tmp_path / beside.name)
    started = time.monotonic()
    result = run_cli("apply", str(hostile), data=data, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (
        f"{hostile}:{number + 1}:{column}" in output and "longer than 4096 characters" in output
    ), output
    assert len(output) < 10_000
    assert time.monotonic() - started < 60
    assert run_cli("export", data=data).stdout == before


# -- measured: RSS of a real server --------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hostile_requests(port: int, count: int, seed: int, threads: int = 8) -> dict[int, int]:
    """``count`` requests over keep-alive raw sockets from ``threads`` threads: random
    User-Agents just under the cap (a quarter Aastra-shaped), random MAC file names,
    and every tenth one with an 8 KB User-Agent or a 9 KB header (431 expected)."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def worker(part: int) -> None:
        rng = random.Random(seed * 100 + part)
        client = None
        done: dict[int, int] = {}
        for index in range(count // threads):
            mac = f"{rng.getrandbits(48):012X}"
            path = rng.choice([f"/{mac}.cfg", f"/{mac}-phone.cfg", f"/SIP{mac}.cnf",
                               f"/cisco/directory-{mac}.xml", "/aastra.cfg"])  # fmt: skip
            if index % 10 == 9:
                oversized = rng.choice(
                    [f"User-Agent: {random_text(rng, 8192)}", f"X-Pad: {'p' * 9000}"]
                )
                answer = raw_request(port, get(path, oversized))
                status = status_of(answer)
            else:
                user_agent = random_text(rng, MAX_USER_AGENT - 80)
                if index % 4 == 0:
                    user_agent = (
                        f"Aastra6757i MAC:00-08-5D-{mac[6:8]}-{mac[8:10]}-{mac[10:]} V:{user_agent}"
                    )
                head = f"GET {path} HTTP/1.1\r\nHost: p\r\nUser-Agent: {user_agent}\r\n\r\n"
                if client is None:
                    client = socket.create_connection(("127.0.0.1", port), timeout=30)
                    reader = client.makefile("rb")
                client.sendall(head.encode())
                status_line = reader.readline()
                length = 0
                while (line := reader.readline()) not in (b"\r\n", b""):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                reader.read(length)
                status = status_of(status_line)
            done[status] = done.get(status, 0) + 1
        if client is not None:
            client.close()
        with lock:
            for status, seen in done.items():
                statuses[status] = statuses.get(status, 0) + seen

    workers = [threading.Thread(target=worker, args=(part,)) for part in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses


REQUESTS = 20_000
WARM_UP = 10_000
RSS_BOUND_KIB = 12 * 1024
"""The issue's bound is 20 MB for 100,000 requests. What hostile requests can make the
server keep is the bounded caches' capacity (memoized misses 2 MiB, not-a-phone MACs
2,500 entries at the default ``cache_phones``, one remembered address), and the store's
per-connection SQLite page caches (2 MiB each) as the device table takes every new
MAC. The warm-up brings the worker threads, their connections and allocator arenas up;
after it, measured, RSS grows about 6 MiB for 20,000 more and levels off near 10 MiB
(bench/hostile_memory.py). 12 MiB leaves room for noise and still fails if any map
grows with what it is sent (20,000 raw 500-byte User-Agents alone are 10 MB)."""


def test_hostile_requests_leave_the_server_rss_within_bounds(tmp_path):
    with example_server(tmp_path / "data") as server:
        pid = server.process.pid
        warm = hostile_requests(server.http_port, WARM_UP, seed=1)
        time.sleep(1.0)  # the event log's batches written
        before = rss_kib(pid)
        statuses = hostile_requests(server.http_port, REQUESTS, seed=2)
        time.sleep(1.0)
        after = rss_kib(pid)
        assert warm.get(404, 0) > 0
        assert sum(statuses.values()) == REQUESTS
        assert statuses.get(431, 0) == REQUESTS // 10, statuses
        assert set(statuses) <= {200, 404, 431}, statuses
        grown = after - before
        print(f"RSS {before} KiB -> {after} KiB (+{grown} KiB) after {REQUESTS} requests")
        assert grown < RSS_BOUND_KIB, f"RSS grew {grown} KiB ({before} -> {after})"
        served = httpx.get(f"{server.base}/00085D000001.cfg", headers={"User-Agent": AASTRA_UA})
        assert served.status_code == 200 and b"sip line1 auth name: 3003" in served.content

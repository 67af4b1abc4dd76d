"""Admin API latency with a large inventory: lists, deep pages, search, one phone.

Loads an inventory of ``--phones`` phones (default 100,000: 1,000 sites of 100, an
extension per phone) through ``services.inventory.apply_inventory``, the path every
face takes, then starts ``plugtone serve`` with its admin listener and measures, one
request at a time over a kept-alive httpx connection, ``--requests`` requests of
each kind:

- ``list``: the first page of ``GET /api/phones`` (100 phones);
- ``deep page``: a page that starts at a random phone in the last tenth, by cursor;
- ``site filter``: a page of one site's phones;
- ``search MAC``: ``q=`` a MAC prefix in colon notation;
- ``search text``: ``q=`` part of a description;
- ``get phone``: ``GET /api/phones/{mac}`` of a random phone.

It prints p50 and p99 per kind (target: p99 under 50 ms) and how long loading took.
Not a test: run it by hand (``.venv/bin/python -m bench.api``); ``--db`` runs it on
PostgreSQL instead of SQLite.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from bench.processes import admin_serve_command, answers, running

from plugtone.inventory.document import parse_document
from plugtone.inventory.store import Store, migrate, sqlite_url
from plugtone.macaddr import colon_mac
from plugtone.services.accounts import create_token, ensure_first_admin
from plugtone.services.actors import local_admin
from plugtone.services.cursors import encode_cursor
from plugtone.services.inventory import apply_inventory
from plugtone.services.json_source import FieldPaths
from plugtone.vendors import default_registry

HOST = "127.0.0.1"
SITE_SIZE = 100
MODELS = (("00085D", "6757i"), ("0004F2", "IP650"), ("00085D", "6731i"), ("00115C", "7960"))
TARGET_MS = 50.0


def mac_of(index: int) -> str:
    prefix, _ = MODELS[index % len(MODELS)]
    return f"{prefix}{index:06X}"


def inventory(phones: int) -> dict[str, Any]:
    """The document, as the JSON the API takes (and ``parse_document`` checks)."""
    sites = (phones + SITE_SIZE - 1) // SITE_SIZE
    return {
        "sites": [
            {"name": f"branch{n:04d}", "sip_server": f"10.{n // 250}.{n % 250}.1",
             "timezone": "Europe/Paris", "registration_period": 600,
             "keys": [{"type": "callers"}, {"type": "voicemail", "label": "VoiceMail"}]}
            for n in range(sites)
        ],
        "extensions": [
            {"number": str(1000 + i % SITE_SIZE), "site": f"branch{i // SITE_SIZE:04d}",
             "name": f"User {i}", "password": f"secret-{i:06d}"}
            for i in range(phones)
        ],
        "phones": [
            {"mac": colon_mac(mac_of(i)), "model": MODELS[i % len(MODELS)][1],
             "site": f"branch{i // SITE_SIZE:04d}", "lines": [str(1000 + i % SITE_SIZE)],
             "description": f"Desk {i} floor {i % 7}"}
            for i in range(phones)
        ],
    }  # fmt: skip


def load(db_url: str, phones: int) -> tuple[str, dict[str, float]]:
    """Migrate, apply the inventory, make an admin token; the token and timings."""
    timings: dict[str, float] = {}
    store = Store(db_url)
    try:
        migrate(store.engine)
        ensure_first_admin(store, "bench admin password")
        token, _ = create_token(store, local_admin(), "admin")
        registry = default_registry()
        started = time.perf_counter()
        document, problems = parse_document(FieldPaths(inventory(phones)), registry)
        assert not problems, problems[:5]
        timings["check"] = time.perf_counter() - started
        started = time.perf_counter()
        result = apply_inventory(store, local_admin(), document, registry)
        timings["apply"] = time.perf_counter() - started
        assert len(result.changes) >= 2 * phones, len(result.changes)
    finally:
        store.dispose()
    return token, timings


def measure(client: httpx.Client, make_url: Callable[[], str], count: int) -> list[float]:
    """Milliseconds per request, one request at a time (after a short warm-up)."""
    for _ in range(min(20, count)):
        client.get(make_url()).raise_for_status()
    times = []
    for _ in range(count):
        url = make_url()
        began = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        answer.raise_for_status()
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plugtone-bench-api-"))
    # scratch stores (PostgreSQL ones have no data directory): one throw-away secret
    # key for this run and the processes it starts
    os.environ.setdefault("PLUGTONE_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    data = work / "data"
    data.mkdir()
    db_url = args.db or sqlite_url(data)
    began = time.perf_counter()
    token, timings = load(db_url, args.phones)
    kind = "PostgreSQL" if args.db else "SQLite"
    print(f"{args.phones:,} phones: checked in {timings['check']:.1f} s, "
          f"applied in {timings['apply']:.1f} s ({kind})")  # fmt: skip
    admin_port, http_port = free_port(), free_port()
    command = admin_serve_command(data, db_url, HOST, http_port, admin_port)
    base = f"http://{HOST}:{admin_port}"
    ready = answers(f"{base}/api/openapi.json", work / "serve.log")

    rng = random.Random(4711)
    n = args.phones
    sorted_macs = sorted(mac_of(i) for i in range(n))
    kinds: dict[str, Callable[[], str]] = {
        "list": lambda: "/api/phones?limit=100",
        "deep page": lambda: (
            "/api/phones?limit=100&after="
            + encode_cursor(sorted_macs[rng.randrange(n * 9 // 10, n - 1)])
        ),
        "site filter": lambda: f"/api/phones?site=branch{rng.randrange(n // SITE_SIZE):04d}",
        "search MAC": lambda: f"/api/phones?q={colon_mac(mac_of(rng.randrange(n)))[:14]}",
        "search text": lambda: f"/api/phones?q=Desk%20{rng.randrange(n)}%20floor",
        "get phone": lambda: f"/api/phones/{colon_mac(mac_of(rng.randrange(n)))}",
    }
    with running(command, work / "serve.log", ready):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            print(f"{'request':<12} {'count':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            for name, make_url in kinds.items():
                times = measure(client, make_url, args.requests)
                p99 = percentile(times, 0.99)
                flag = "" if p99 < TARGET_MS else f"  (over the {TARGET_MS:.0f} ms target)"
                print(f"{name:<12} {len(times):>6} {statistics.median(times):>8.1f} "
                      f"{p99:>8.1f} {max(times):>8.1f}{flag}")  # fmt: skip
    print(f"total {time.perf_counter() - began:.0f} s; data in {work}")


if __name__ == "__main__":
    main()

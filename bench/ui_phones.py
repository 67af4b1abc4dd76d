"""The web UI's phones list and search at 100,000 phones: each page under 200 ms.

Loads ``--phones`` phones (default 100,000: 1,000 sites of 100, an extension per phone)
with ``bench.api.load`` (``services.inventory.apply_inventory``, the path every face
takes), starts ``plugtone serve`` with its admin listener, signs in as a browser does
(the login form, posted with its CSRF token; the session cookie kept) and times
``--requests`` whole HTML pages of each kind, one at a time over one kept-alive
connection:

- ``list``: ``/phones``, the first page;
- ``next page``: ``/phones?after=`` a cursor at a random phone (a deep page);
- ``search MAC``: ``/phones?q=`` a MAC fragment in colon notation;
- ``search ext``: ``/phones?q=`` an extension number (each is on 1,000 phones: one a site);
- ``site``: ``/phones?site=`` a random site;
- ``state``: ``/phones?state=never_seen`` (the status list, every phone in it).

It prints p50, p95, max and failures per kind against the 200 ms target. Not a test:
run it by hand (``.venv/bin/python -m bench.ui_phones``); under 5 minutes.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from bench.api import HOST, SITE_SIZE, free_port, load, mac_of, percentile
from bench.processes import admin_serve_command, answers, running

from plugtone.inventory.store import sqlite_url
from plugtone.macaddr import colon_mac
from plugtone.services.cursors import encode_cursor

TARGET_MS = 200.0
PASSWORD = "bench admin password"  # bench.api.load's first admin


def sign_in(client: httpx.Client) -> None:
    """As a browser: the login form, then its post with the form's CSRF token."""
    form = client.get("/login")
    form.raise_for_status()
    csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
    assert csrf, "no CSRF token in the login form"
    answer = client.post("/login", data={"user": "admin", "password": PASSWORD,
                                         "csrf": csrf.group(1), "next": "/"})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text[:300]
    assert client.get("/phones").status_code == 200


def measure(client: httpx.Client, make_url: Callable[[], str], count: int,
            expect: Callable[[str, str], bool]) -> tuple[list[float], int]:  # fmt: skip
    """Milliseconds per page and the failures (not 200, or not the page expected)."""
    for _ in range(min(10, count)):
        client.get(make_url())
    times, failures = [], 0
    for _ in range(count):
        url = make_url()
        began = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200 or not expect(url, answer.text):
            failures += 1
    return times, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plugtone-bench-ui-"))
    os.environ.setdefault("PLUGTONE_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    data = work / "data"
    data.mkdir()
    db_url = args.db or sqlite_url(data)
    began = time.perf_counter()
    _, timings = load(db_url, args.phones)
    print(f"{args.phones:,} phones: checked in {timings['check']:.1f} s, applied in "
          f"{timings['apply']:.1f} s ({'PostgreSQL' if args.db else 'SQLite'})")  # fmt: skip
    admin_port, http_port = free_port(), free_port()
    command = admin_serve_command(data, db_url, HOST, http_port, admin_port)
    base = f"http://{HOST}:{admin_port}"
    ready = answers(f"{base}/login", work / "serve.log")

    rng = random.Random(4711)
    n = args.phones
    sorted_macs = sorted(mac_of(i) for i in range(n))
    row = re.compile(r'<a href="/phones/([0-9A-F:]{17})">')

    def listed(text: str) -> list[str]:
        return row.findall(text)

    kinds: dict[str, tuple[Callable[[], str], Callable[[str, str], bool]]] = {
        "list": (lambda: "/phones", lambda url, text: len(listed(text)) == 50),
        "next page": (
            lambda: "/phones?after=" + encode_cursor(sorted_macs[rng.randrange(n - 60)]),
            lambda url, text: len(listed(text)) == 50,
        ),
        "search MAC": (
            lambda: f"/phones?q={colon_mac(mac_of(rng.randrange(n)))[:14]}",
            lambda url, text: (
                bool(listed(text))
                and all(mac.startswith(url.split("q=")[1]) for mac in listed(text))
            ),
        ),
        "search ext": (
            lambda: f"/phones?q={1000 + rng.randrange(SITE_SIZE)}",
            lambda url, text: len(listed(text)) == min(50, n // SITE_SIZE),
        ),
        "site": (
            lambda: f"/phones?site=branch{rng.randrange(n // SITE_SIZE):04d}",
            lambda url, text: len(listed(text)) == 50,
        ),
        "state": (
            lambda: "/phones?state=never_seen",
            lambda url, text: len(listed(text)) == 50,
        ),
    }
    with (
        running(command, work / "serve.log", ready),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        sign_in(client)
        print(f"{'page':<11} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'failed':>7}  target {TARGET_MS:.0f} ms")  # fmt: skip
        for name, (make_url, expect) in kinds.items():
            times, failures = measure(client, make_url, args.requests, expect)
            p95 = percentile(times, 0.95)
            verdict = "under" if p95 < TARGET_MS and not failures else "OVER"
            print(f"{name:<11} {len(times):>6} {statistics.median(times):>8.1f} "
                  f"{p95:>8.1f} {max(times):>8.1f} {failures:>7}  {verdict}")  # fmt: skip
    print(f"total {time.perf_counter() - began:.0f} s; data in {work}")


if __name__ == "__main__":
    main()

"""The web UI's phones list, sorted, searched and filtered at 100,000 phones: each page
under 200 ms.

Loads ``--phones`` phones (default 100,000: 1,000 sites of 100, an extension per phone)
with ``bench.api.load`` (``services.inventory.apply_inventory``, the path every face
takes), then gives 70 % of them a device state as their requests would (last contact
over the last 30 days, a fifth of them stale, one in a thousand failing; the rest never
seen), so sorting by state and last contact has real work. It starts ``plugtone serve``
with its admin listener, signs in as a browser does (the login form, posted with its
CSRF token; the session cookie kept) and times ``--requests`` whole HTML pages of each
case, one at a time over one kept-alive connection:

- ``list``: ``/phones``, the first page;
- ``<column> asc|desc`` and ``deep <column> asc|desc``: the first page and a deep page
  (a cursor at a random phone; the page must hold the 50 phones after it, as a sort in
  Python orders them) sorted by each column (MAC, state, model, site, name, last
  seen), both ways;
- searches: a MAC prefix in colon notation, a whole MAC dotted and dashed, a short MAC
  prefix (many phones), an extension number (on 1,000 phones: one a site), a rare and a
  common piece of a name, each also sorted by another column;
- filters: a site, a vendor, a model, a state (common, rare), combined with a sort.

It prints p50, p95, max and failures per case against the 200 ms target (a failure: not
200, or not the rows expected). Not a test: run it by hand (``.venv/bin/python -m
bench.ui_phones``, ``--db postgresql://...`` for PostgreSQL); under 5 minutes.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from bench.api import HOST, MODELS, SITE_SIZE, free_port, load, mac_of, percentile
from bench.processes import admin_serve_command, answers, running

from plugtone.inventory.store import sqlite_url
from plugtone.macaddr import colon_mac
from plugtone.services.cursors import encode_cursor

TARGET_MS = 200.0
MODEL_NAMES = tuple(name for _, name in MODELS)
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


def seed_states(
    db_url: str, phones: int, rng: random.Random, write: bool = True
) -> dict[str, tuple]:
    """Device states for 70 % of the phones, as their requests would leave them (written
    in one insert: the event batches' path is the provisioning benches' business). Per
    MAC: ``(last_seen or None, state)``."""
    from sqlalchemy import insert

    from plugtone.inventory.models import DeviceState
    from plugtone.inventory.store import Store

    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    known: dict[str, tuple] = {}
    rows = []
    for index in range(phones):
        mac = mac_of(index)
        if rng.random() >= 0.7:
            known[mac] = (None, "never_seen")
            continue
        seen = now - timedelta(seconds=rng.randrange(30 * 86400))
        failing, stale = rng.random() < 0.001, rng.random() < 0.2
        state = "failing" if failing else "stale" if stale else "up_to_date"
        known[mac] = (seen, state)
        rows.append({"mac": mac, "vendor": None, "model": None, "first_seen": seen,
                     "last_seen": seen, "requests": 12, "boot_errors": int(failing),
                     "files_generation": None if stale else 1 << 40})  # fmt: skip
    if not write:  # the same states, drawn again, of a store loaded before
        return known
    store = Store(db_url)
    try:
        with store.sessions() as session:
            session.execute(insert(DeviceState), rows)
            session.commit()
    finally:
        store.dispose()
    return known


Case = tuple[Callable[[], str], Callable[[str, str], bool]]


def cases(n: int, known: dict[str, tuple], sqlite: bool, rng: random.Random) -> dict[str, Case]:
    """What each case asks for and what its page must hold."""
    from plugtone.services.phone_list import SORTS, STATE_ORDER

    row = re.compile(r'<a href="/phones/([0-9A-F:]{17})">')
    macs = sorted(mac_of(i) for i in range(n))
    index_of = {mac_of(i): i for i in range(n)}

    def listed(text: str) -> list[str]:
        return row.findall(text)

    def full(url: str, text: str) -> bool:
        return len(listed(text)) == 50

    def sorted_page(column: str, order: str) -> Callable[[str, str], bool]:
        direction = "descending" if order == "desc" else "ascending"
        marked = re.compile(rf'aria-sort="{direction}"><a class="sort" href="[^"]*sort={column}&')
        return lambda url, text: full(url, text) and bool(marked.search(text))

    def key_of(sort: str, mac: str, order: str = "asc") -> tuple[int, str]:
        """(segment, key) of a phone in ``sort``'s order, as the service's cursor has it
        (by state unsearched: a segment per state, keyed by the MAC alone)."""
        i = index_of[mac]
        seen, state = known[mac]
        if sort == "state":
            states = list(STATE_ORDER) if order == "asc" else list(reversed(STATE_ORDER))
            return states.index(state), ""
        if sort == "seen":
            if seen is None:
                return 1, ""
            return 0, (seen.replace(tzinfo=None) if sqlite else seen).isoformat()
        return 0, {"mac": "", "model": MODEL_NAMES[i % len(MODEL_NAMES)],
                   "site": f"branch{i // SITE_SIZE:04d}", "name": f"Desk {i} floor {i % 7}",
                   "state": str(STATE_ORDER.index(state))}[sort]  # fmt: skip

    orders: dict[tuple[str, str], list[str]] = {}

    def ordered(sort: str, order: str) -> list[str]:
        """Every MAC in the order the list sorts by ``sort`` (keyed first, then none)."""
        if (sort, order) not in orders:
            keyed = [(key_of(sort, mac), mac) for mac in macs]  # ascending segments
            if sort == "state":  # segment = rank; desc reverses it all
                keyed = [((0, str(segment)), mac) for (segment, _), mac in keyed]
            first = sorted((k, m) for (segment, k), m in keyed if segment == 0)
            rest = sorted(m for (segment, _), m in keyed if segment == 1)
            if order == "desc":
                first.reverse()
                rest.reverse()
            orders[sort, order] = [m for _, m in first] + rest
        return orders[sort, order]

    def deep(sort: str, order: str) -> Case:
        pages: dict[str, list[str]] = {}

        def url() -> str:
            macs_in_order = ordered(sort, order)
            at = rng.randrange(n // 10, n - n // 10)
            segment, key = key_of(sort, macs_in_order[at], order)
            cursor = encode_cursor(sort, int(order == "desc"), segment, key, macs_in_order[at])
            address = f"/phones?sort={sort}&order={order}&after={cursor}"
            pages[address] = [colon_mac(mac) for mac in macs_in_order[at + 1 : at + 51]]
            return address

        return url, lambda url, text: listed(text) == pages.pop(url)

    def search(make_q: Callable[[], str], check: Callable[[str, list[str]], bool],
               extra: str = "") -> Case:  # fmt: skip
        def url() -> str:
            return f"/phones?q={make_q()}{extra}"

        return url, lambda url, text: check(url.split("q=")[1].split("&")[0], listed(text))

    def mac_prefix(q: str, found: list[str]) -> bool:
        wanted = q.replace(":", "").replace(".", "").replace("-", "").upper()
        return bool(found) and all(mac.replace(":", "").startswith(wanted) for mac in found)

    def dotted() -> str:
        mac = mac_of(rng.randrange(n))
        return f"{mac[:4]}.{mac[4:8]}.{mac[8:]}".lower()

    every: dict[str, Case] = {
        "list": (lambda: "/phones", full),
    }
    for sort in SORTS:
        for order in ("asc", "desc"):
            every[f"{sort} {order}"] = (
                lambda sort=sort, order=order: f"/phones?sort={sort}&order={order}",
                sorted_page(sort, order),
            )
            every[f"deep {sort} {order}"] = deep(sort, order)
    every |= {
        "q MAC colon": search(lambda: colon_mac(mac_of(rng.randrange(n)))[:14], mac_prefix),
        "q MAC dotted": search(dotted, lambda q, found: len(found) == 1 and mac_prefix(q, found)),
        "q MAC dashed": search(
            lambda: "-".join(colon_mac(mac_of(rng.randrange(n))).split(":")),
            lambda q, found: len(found) == 1 and mac_prefix(q, found),
        ),
        "q MAC short": search(lambda: "00:08:5d:0", mac_prefix),
        "q MAC by seen": search(
            lambda: colon_mac(mac_of(rng.randrange(n)))[:14], mac_prefix, "&sort=seen&order=desc"
        ),
        "q ext": search(
            lambda: str(1000 + rng.randrange(SITE_SIZE)),
            lambda q, found: len(found) == min(50, n // SITE_SIZE),
        ),
        "q ext by state": search(
            lambda: str(1000 + rng.randrange(SITE_SIZE)),
            lambda q, found: len(found) == min(50, n // SITE_SIZE),
            "&sort=state",
        ),
        "q name rare": search(
            lambda: f"desk%20{rng.randrange(n)}%20floor", lambda q, found: len(found) == 1
        ),
        "q name rare by name": search(
            lambda: f"desk%20{rng.randrange(n)}%20floor",
            lambda q, found: len(found) == 1,
            "&sort=name&order=desc",
        ),
        "q name common": search(
            lambda: f"floor%20{rng.randrange(7)}", lambda q, found: len(found) == 50, "&sort=site"
        ),
        "site": (lambda: f"/phones?site=branch{rng.randrange(n // SITE_SIZE):04d}", full),
        "site by seen": (
            lambda: f"/phones?site=branch{rng.randrange(n // SITE_SIZE):04d}&sort=seen&order=desc",
            lambda url, text: len(listed(text)) == min(50, SITE_SIZE),
        ),
        "vendor by name": (lambda: "/phones?vendor=polycom&sort=name", full),
        "model by state": (lambda: "/phones?model=7960&sort=state&order=desc", full),
        "never seen": (lambda: "/phones?state=never_seen", full),
        "failing": (
            lambda: "/phones?state=failing",
            lambda url, text: 0 < len(listed(text)) <= 50,
        ),
        "stale by seen": (lambda: "/phones?state=stale&sort=seen&order=desc", full),
        "failing by site": (
            lambda: "/phones?state=failing&sort=site",
            lambda url, text: 0 < len(listed(text)) <= 50,
        ),
    }
    return every


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite)")
    parser.add_argument("--only", default=None, help="the cases whose name holds this text")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="the work folder of an earlier run (same --phones, same --db):"
                        " its store is measured again without loading it")  # fmt: skip
    args = parser.parse_args()
    work = args.reuse or Path(tempfile.mkdtemp(prefix="plugtone-bench-ui-"))
    secret = work / "secret-key"
    if not secret.exists():  # the store's sealed secrets need the same key when reused
        secret.write_text(base64.b64encode(os.urandom(32)).decode())
    os.environ.setdefault("PLUGTONE_SECRET_KEY", secret.read_text())
    data = work / "data"
    data.mkdir(exist_ok=True)
    db_url = args.db or sqlite_url(data)
    began = time.perf_counter()
    rng = random.Random(4711)
    if args.reuse:
        known = seed_states(db_url, args.phones, rng, write=False)
        print(f"{args.phones:,} phones loaded before, in {work}")
    else:
        _, timings = load(db_url, args.phones)
        seeded = time.perf_counter()
        known = seed_states(db_url, args.phones, rng)
        print(f"{args.phones:,} phones: checked in {timings['check']:.1f} s, applied in "
              f"{timings['apply']:.1f} s, device states in {time.perf_counter() - seeded:.1f} s "
              f"({'PostgreSQL' if args.db else 'SQLite'})", flush=True)  # fmt: skip
    admin_port, http_port = free_port(), free_port()
    command = admin_serve_command(data, db_url, HOST, http_port, admin_port)
    base = f"http://{HOST}:{admin_port}"
    ready = answers(f"{base}/login", work / "serve.log")
    kinds = cases(args.phones, known, args.db is None, rng)
    over = 0
    with (
        running(command, work / "serve.log", ready),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        sign_in(client)
        print(f"{'case':<20} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'failed':>7}  target {TARGET_MS:.0f} ms")  # fmt: skip
        for name, (make_url, expect) in kinds.items():
            if args.only and args.only not in name:
                continue
            times, failures = measure(client, make_url, args.requests, expect)
            p95 = percentile(times, 0.95)
            verdict = "under" if max(times) < TARGET_MS and not failures else "OVER"
            over += verdict == "OVER"
            print(f"{name:<20} {len(times):>6} {statistics.median(times):>8.1f} "
                  f"{p95:>8.1f} {max(times):>8.1f} {failures:>7}  {verdict}",
                  flush=True)  # fmt: skip
    load_now = os.getloadavg()[0]
    print(f"{over} case(s) over (max or a failure); total {time.perf_counter() - began:.0f} s;"
          f" load average {load_now:.1f} on {os.cpu_count()} CPUs;"
          f" again: --reuse {work}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The web UI's phone page and branding page at 100,000 phones: each under 200 ms.

The phone page reads one phone (its list row, status, events, rendered file names, the
settings with their sources and its key layout from the resolver's own view, its
uploads); none of that may grow with the fleet. Loads ``--phones`` phones (default
100,000: 1,000 sites of 100, an extension per phone) with ``bench.api.load``, gives 70 %
of them a device state (``bench.ui_phones.seed_states``), starts ``plugtone serve`` with
its admin listener, signs in as a browser does and times ``--requests`` whole HTML pages
of each case, one at a time over one kept-alive connection:

- ``phone <model>``: ``/phones/<MAC>`` of random phones of each model;
- ``branding``: ``/branding`` (the sets, and who uses each: a count over the phones),
  with a set given to one phone in ten and to ten sites (:func:`brand`).

Prints p50, p95, max and failures per case against the 200 ms target. Not a test: run it
by hand (``.venv/bin/python -m bench.ui_phone_page``, ``--db postgresql://...`` for
PostgreSQL); under 5 minutes.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from bench.api import HOST, MODELS, free_port, load, mac_of, percentile
from bench.processes import admin_serve_command, answers, running
from bench.ui_phones import TARGET_MS, measure, seed_states, sign_in

from plugtone.inventory.store import sqlite_url
from plugtone.macaddr import colon_mac


def brand(db_url: str) -> None:
    """A branding set for one phone in ten and ten sites (written directly, as the device
    states are: the apply path is the inventory benches' business)."""
    from sqlalchemy import update

    from plugtone.inventory.models import BrandingSet, Phone, Site
    from plugtone.inventory.store import Store
    from plugtone.services.actors import local_admin
    from plugtone.services.branding_sets import create_set
    from plugtone.vendors import default_registry

    store = Store(db_url)
    try:
        create_set(store, local_admin(), default_registry(), "bench-look")
        with store.sessions() as session, session.begin():
            set_id = session.query(BrandingSet.id).filter_by(name="bench-look").scalar()
            session.execute(update(Phone).where(Phone.id % 10 == 0).values(branding_id=set_id))
            session.execute(update(Site).where(Site.id <= 10).values(branding_id=set_id))
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plugtone-bench-phone-page-"))
    os.environ.setdefault("PLUGTONE_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    data = work / "data"
    data.mkdir()
    db_url = args.db or sqlite_url(data)
    began = time.perf_counter()
    _, timings = load(db_url, args.phones)
    rng = random.Random(4711)
    seed_states(db_url, args.phones, rng)
    brand(db_url)
    print(f"{args.phones:,} phones: applied in {timings['apply']:.1f} s "
          f"({'PostgreSQL' if args.db else 'SQLite'})")  # fmt: skip
    admin_port, http_port = free_port(), free_port()
    command = admin_serve_command(data, db_url, HOST, http_port, admin_port)
    base = f"http://{HOST}:{admin_port}"
    ready = answers(f"{base}/login", work / "serve.log")

    def phone_of(offset: int):
        def url() -> str:
            index = rng.randrange(offset, args.phones, len(MODELS))
            return f"/phones/{colon_mac(mac_of(index))}"

        return url

    cases = {
        f"phone {model}": (phone_of(offset), lambda url, html: 'id="setting-sources"' in html)
        for offset, (_, model) in enumerate(MODELS)
    }
    given = f"{args.phones // 10} phone(s) of their own"
    cases["branding"] = (lambda: "/branding", lambda url, html: given in html)
    over = 0
    with (
        running(command, work / "serve.log", ready),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        sign_in(client)
        print(f"{'case':<14} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'failed':>7}  target {TARGET_MS:.0f} ms")  # fmt: skip
        for name, (make_url, expect) in cases.items():
            times, failures = measure(client, make_url, args.requests, expect)
            verdict = "under" if max(times) < TARGET_MS and not failures else "OVER"
            over += verdict == "OVER"
            print(f"{name:<14} {len(times):>6} {statistics.median(times):>8.1f} "
                  f"{percentile(times, 0.95):>8.1f} {max(times):>8.1f} {failures:>7}  "
                  f"{verdict}")  # fmt: skip
    print(f"{over} case(s) over (max or a failure); total {time.perf_counter() - began:.0f} s;"
          f" data in {work}")  # fmt: skip


if __name__ == "__main__":
    main()

"""The redirection service's Phones page and ``GET /api/rcs/phones`` at 100,000 MACs of
one account: each page under 200 ms.

Loads ``--phones`` MACs (default 100,000) into the account ``acme`` and a tenth as many
into ``rival`` (their MACs interleaved with acme's, so a wrong account filter shows at
once), in bulk (one multi-row insert per 10,000: registering through the service is the
tests' business, this measures the list). Acme's phones are spread over ten servers,
one in ten unaffiliated, under two OUIs. It starts ``plugtone serve`` with its admin
listener, signs in at ``/rcs/login`` as acme's Super User (the form, its CSRF token, the
cookie kept) and times ``--requests`` whole pages of each case, one at a time over one
kept-alive connection, each checked against the rows it must hold:

- ``page 1``: ``/rcs/phones``; ``deep page``: after a cursor at a random MAC (the 100
  MACs after it, in order);
- MAC searches: a 5-byte prefix in colon notation, a whole MAC dotted (Cisco) and
  dashed, a short prefix (an OUI: 50,000 matches, counted);
- server filter: one server, unaffiliated, a deep page of a server, a server with a
  MAC prefix;
- the API: the first page and a deep page of 500 with an account token;

then, once, "All unaffiliated phones of this list" given a server (10,000 phones: every
page of the list, one transaction with an audit row each), timed and checked.

Prints p50, p95, max and failures per case against the target (a failure: not 200,
or not the rows expected). Not a test: run it by hand (``.venv/bin/python -m
bench.rcs_phones``, ``--db postgresql://...`` for PostgreSQL); well under 5 minutes.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
from bench.api import HOST, free_port, percentile
from bench.processes import admin_serve_command, answers, running

from plugtone.inventory.store import Store, migrate, sqlite_url
from plugtone.macaddr import colon_mac
from plugtone.services.cursors import encode_cursor

TARGET_MS = 200.0
PAGE = 100  # the Phones page's
API_PAGE = 500
SERVERS = 10
EMAIL, PASSWORD = "boss@acme.test", "bench rcs super user"
OUIS = ("00085D", "0004F2")


def acme_mac(index: int) -> str:
    return f"{OUIS[index % 2]}{(index // 2) * 3:06X}"


def rival_mac(index: int) -> str:
    return f"{OUIS[index % 2]}{(index // 2) * 3 + 1:06X}"


def server_of(index: int) -> str | None:
    """Acme's i-th phone's server: ``s0``..``s8``, one in ten unaffiliated."""
    return None if index % SERVERS == SERVERS - 1 else f"s{index % SERVERS}"


def load(db_url: str, phones: int) -> tuple[str, float]:
    """The two accounts, their servers and MACs, acme's Super User and an API token."""
    from sqlalchemy import insert, select

    from plugtone.redirect import passwords
    from plugtone.redirect import services as rcs
    from plugtone.redirect.actors import RcsActor
    from plugtone.redirect.models import RcsAccount, RcsPhone, RcsServer

    admin = RcsActor("admin", "admin", None, None, "cli")
    began = time.perf_counter()
    store = Store(db_url)
    try:
        migrate(store.engine)
        for name in ("acme", "rival"):
            rcs.add_account(store, admin, name)
            for number in range(SERVERS - 1):
                rcs.add_server(store, admin, f"s{number}", f"https://{name}.test/s{number}", name)
        rcs.add_user(store, admin, EMAIL, "super", PASSWORD, "acme")
        now = datetime.now(UTC)
        with store.sessions() as session:
            for account, count, mac_of in (("acme", phones, acme_mac),
                                           ("rival", phones // 10, rival_mac)):  # fmt: skip
                account_id = session.scalar(select(RcsAccount.id).where(RcsAccount.name == account))
                ids = dict(
                    session.execute(
                        select(RcsServer.name, RcsServer.id).where(
                            RcsServer.account_id == account_id
                        )
                    ).all()
                )
                for start in range(0, count, 10_000):
                    session.execute(insert(RcsPhone), [
                        {"mac": mac_of(i), "account_id": account_id, "created_at": now,
                         "server_id": ids.get(server_of(i) or "")}
                        for i in range(start, min(count, start + 10_000))
                    ])  # fmt: skip
            session.commit()
        acme = passwords.verify_login(store, EMAIL, PASSWORD, via="api")
        token, _ = passwords.create_token(store, acme, "user")
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE rcs_phones")
                connection.commit()
    finally:
        store.dispose()
    return token, time.perf_counter() - began


def sign_in(client: httpx.Client) -> None:
    form = client.get("/rcs/login")
    form.raise_for_status()
    csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
    assert csrf, "no CSRF token in the login form"
    answer = client.post("/rcs/login", data={"email": EMAIL, "password": PASSWORD,
                                             "csrf": csrf.group(1), "next": "/rcs"})  # fmt: skip
    assert answer.status_code == 303, answer.text[:300]


Case = tuple[Callable[[], str], Callable[[str, httpx.Response], bool]]
ROW = re.compile(r'<tr data-mac="([0-9A-F]{12})">')


def cases(n: int, rng: random.Random) -> dict[str, Case]:
    macs = sorted(acme_mac(i) for i in range(n))
    by_server: dict[str | None, list[str]] = {}
    for i in range(n):
        by_server.setdefault(server_of(i), []).append(acme_mac(i))
    for listed in by_server.values():
        listed.sort()
    wanted: dict[str, list[str]] = {}

    def after(ordered: list[str], size: int = PAGE) -> tuple[str, list[str]]:
        at = rng.randrange(len(ordered) // 10, len(ordered) - len(ordered) // 10)
        return encode_cursor(ordered[at]), ordered[at + 1 : at + 1 + size]

    def rows(answer: httpx.Response) -> list[str]:
        return ROW.findall(answer.text)

    def exactly(url: str, answer: httpx.Response) -> bool:
        return rows(answer) == wanted.pop(url)

    def page(make: Callable[[], tuple[str, list[str]]]) -> Case:
        def url() -> str:
            address, expected = make()
            wanted[address] = expected
            return address

        return url, exactly

    def prefix_of(ordered: list[str], q: str, limit: int = PAGE) -> list[str]:
        bare = re.sub(r"[:.\-]", "", q).upper()
        start = bisect.bisect_left(ordered, bare)
        found = []
        for mac in ordered[start:]:
            if not mac.startswith(bare) or len(found) == limit:
                break
            found.append(mac)
        return found

    def search(make_q: Callable[[], str], extra: str = "", ordered: list[str] = macs) -> Case:
        def make() -> tuple[str, list[str]]:
            q = make_q()
            return f"/rcs/phones?q={q}{extra}", prefix_of(ordered, q)

        return page(make)

    def random_mac() -> str:
        return macs[rng.randrange(n)]

    def deep_api() -> tuple[str, list[str]]:
        cursor, expected = after(macs, API_PAGE)
        return f"/api/rcs/phones?limit={API_PAGE}&after={cursor}", expected

    def api_rows(url: str, answer: httpx.Response) -> bool:
        return [item["mac"] for item in answer.json()["items"]] == wanted.pop(url)

    s3, none = by_server["s3"], by_server[None]
    return {
        "page 1": page(lambda: ("/rcs/phones", macs[:PAGE])),
        "deep page": page(lambda: (lambda c, e: (f"/rcs/phones?after={c}", e))(*after(macs))),
        "q 5-byte colon": search(lambda: colon_mac(random_mac())[:14]),
        "q whole dotted": search(
            lambda: (lambda m: f"{m[:4]}.{m[4:8]}.{m[8:]}".lower())(random_mac())
        ),
        "q whole dashed": search(lambda: colon_mac(random_mac()).replace(":", "-")),
        "q OUI (50,000)": search(lambda: "00:08:5d"),
        "server s3": page(lambda: ("/rcs/phones?server=s3", s3[:PAGE])),
        "unaffiliated": page(lambda: ("/rcs/phones?server=none", none[:PAGE])),
        "deep server s3": page(
            lambda: (lambda c, e: (f"/rcs/phones?server=s3&after={c}", e))(*after(s3))
        ),
        "server + q": search(lambda: colon_mac(rng.choice(s3))[:11], "&server=s3", s3),
        "api page 1": (
            (lambda: _remember(wanted, "/api/rcs/phones?limit=500", macs[:500])),
            api_rows,
        ),
        "api deep page": (page(deep_api)[0], api_rows),
    }


def _remember(wanted: dict[str, list[str]], url: str, expected: list[str]) -> str:
    wanted[url] = expected
    return url


def measure(client: httpx.Client, case: Case, count: int) -> tuple[list[float], int]:
    make_url, expect = case
    for _ in range(min(5, count)):
        url = make_url()
        expect(url, client.get(url))
    times, failures = [], 0
    for _ in range(count):
        url = make_url()
        began = time.perf_counter()
        answer = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200 or not expect(url, answer):
            failures += 1
    return times, failures


def bulk_edit(client: httpx.Client, phones: int) -> int:
    """ "All unaffiliated phones of this list" given a server, once: every one of them
    (a tenth of the account), whatever page is shown; the seconds it takes."""
    client.headers.pop("authorization", None)
    shown = client.get("/rcs/phones?server=none")
    csrf = re.search(r'name="csrf" value="([^"]*)"', shown.text).group(1)
    count = len([i for i in range(phones) if server_of(i) is None])
    began = time.perf_counter()
    form = {"csrf": csrf, "every": "1", "server": "s0", "action": "assign", "shown_server": "none"}
    answer = client.post("/rcs/phones/edit", data=form)
    seconds = time.perf_counter() - began
    done = re.search(r'<p id="report-summary">([^<]*)</p>', answer.text)
    left = client.get("/rcs/phones?server=none")
    ok = (answer.status_code == 200 and done and done.group(1) == f"{count} updated"
          and not ROW.findall(left.text))  # fmt: skip
    print(
        f"edit every unaffiliated phone ({count:,}): {seconds * 1000:.0f} ms, "
        f"{'ok' if ok else 'FAILED'} ({done.group(1) if done else answer.status_code})"
    )
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument(
        "--db", default=None, help="an empty postgresql:// database (default: SQLite)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plugtone-bench-rcs-"))
    os.environ.setdefault("PLUGTONE_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    data = work / "data"
    data.mkdir()
    db_url = args.db or sqlite_url(data)
    began = time.perf_counter()
    token, seconds = load(db_url, args.phones)
    print(f"{args.phones:,} MACs of acme and {args.phones // 10:,} of rival loaded in "
          f"{seconds:.1f} s ({'PostgreSQL' if args.db else 'SQLite'})", flush=True)  # fmt: skip
    admin_port, http_port = free_port(), free_port()
    command = admin_serve_command(data, db_url, HOST, http_port, admin_port)
    base = f"http://{HOST}:{admin_port}"
    ready = answers(f"{base}/rcs/login", work / "serve.log")
    rng = random.Random(4711)
    kinds = cases(args.phones, rng)
    over = 0
    with (
        running(command, work / "serve.log", ready),
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        sign_in(client)
        api = {"authorization": f"Bearer {token}"}
        print(f"{'case':<18} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'failed':>7}  target {TARGET_MS:.0f} ms")  # fmt: skip
        for name, case in kinds.items():
            client.headers.update(api if name.startswith("api") else {})
            if not name.startswith("api"):
                client.headers.pop("authorization", None)
            times, failures = measure(client, case, args.requests)
            p95 = percentile(times, 0.95)
            verdict = "under" if max(times) < TARGET_MS and not failures else "OVER"
            over += verdict == "OVER"
            print(f"{name:<18} {len(times):>6} {statistics.median(times):>8.1f} "
                  f"{p95:>8.1f} {max(times):>8.1f} {failures:>7}  {verdict}",
                  flush=True)  # fmt: skip
        over += bulk_edit(client, args.phones)
    print(
        f"{over} case(s) over (max or a failure); total {time.perf_counter() - began:.0f} s;"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()

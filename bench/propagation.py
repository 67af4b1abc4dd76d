"""How soon a change made through one ``plugtone serve`` is served by another.

Two real processes, A and B, each with the example inventory's Aastra phone's file
cached: ``--changes`` times, the phone's raw ``time zone name`` is changed through A's
admin API (``PATCH /api/phones/...``), and B's HTTP listener is asked for the phone's
file over a kept-alive connection every ``--step`` seconds until it serves the new
value. The delay is from A's API answer (the change committed before it) to B's first
new answer, so it includes one request to B and the rendering of the new file.

- ``sqlite``: one host, A and B on one data directory (the generation poll, twice a
  second, is what tells B);
- ``postgresql``: two hosts, A and B each with a data directory of its own on one
  database (``--pg``, default ``PLUGTONE_TEST_PG_URL`` or the tests' server): LISTEN/NOTIFY.

Changes are spaced by a random pause (up to ``--spread`` s), so they fall at any point
of B's poll. It prints p50, p90 and the maximum per case; the goal is under 1 s.
Not a test: ``.venv/bin/python -m bench.propagation`` (about a minute).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "inventory.yaml"
PLUGTONE = [sys.executable, "-m", "plugtone"]
MAC = "00:08:5D:00:00:01"
FILE = "00085D000001.cfg"
AGENT = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
SETTINGS = '\n[security]\ntrusted_networks = ["127.0.0.1/32"]\n'


def cli(*args: str, data: Path, db: str | None) -> str:
    command = [*PLUGTONE, *args, "--data", str(data), *(["--db", db] if db else [])]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(data: Path, db: str | None) -> tuple[subprocess.Popen, int, int]:
    http, admin = free_port(), free_port()
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1",
               "--http-port", str(http), "--admin-port", str(admin), "--tftp-port", "0",
               "--ftp-port", "0", *(["--db", db] if db else [])]  # fmt: skip
    log = (data / f"serve-{http}.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{admin}/api/docs", timeout=1)
            return process, http, admin
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"plugtone serve did not start: see {log.name}") from None
            time.sleep(0.1)


def measure(case: str, db: str | None, changes: int, step: float, spread: float) -> list[float]:
    with tempfile.TemporaryDirectory(prefix="plugtone-propagation-") as tmp:
        one = Path(tmp) / "one"
        cli("init", data=one, db=db)
        with (one / "plugtone.toml").open("a") as settings:
            settings.write(SETTINGS)
        cli("apply", str(EXAMPLE), data=one, db=db)
        two = one
        if db:  # a second host: its own settings and the store's key, nothing else
            two = Path(tmp) / "two"
            two.mkdir(mode=0o700)
            for name in ("plugtone.toml", "secret.key"):
                shutil.copy2(one / name, two / name)
        token = cli("token", "create", "--user", "admin", data=one, db=db).split()[-1]
        a, _, admin = start(one, db)
        b, http, _ = start(two, db)
        delays: list[float] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{http}",
                              headers={"User-Agent": AGENT}) as phone, \
                 httpx.Client(base_url=f"http://127.0.0.1:{admin}",
                              headers={"Authorization": f"Bearer {token}"}) as api:  # fmt: skip
                phone.get(f"/{FILE}").raise_for_status()
                for number in range(changes):
                    time.sleep(random.uniform(0, spread))
                    zone = f"Zone-{number}"
                    body = {"vendor_settings": {"aastra": {"time zone name": zone}}}
                    api.patch(f"/api/phones/{MAC}", json=body).raise_for_status()
                    changed = time.monotonic()
                    while zone.encode() not in phone.get(f"/{FILE}").content:
                        if time.monotonic() - changed > 10:
                            raise SystemExit(f"{case}: change {number} not served in 10 s")
                        time.sleep(step)
                    delays.append(time.monotonic() - changed)
        finally:
            for process in (b, a):
                process.terminate()
                process.wait(15)
    return delays


def fresh_pg_database(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``url``, and how to drop it."""
    server = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"plugtone_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return server.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--step", type=float, default=0.002, help="seconds between polls of B")
    parser.add_argument("--spread", type=float, default=0.6, help="most seconds between changes")
    parser.add_argument("--pg", default=os.environ.get("PLUGTONE_TEST_PG_URL", PG_URL))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    options = parser.parse_args()
    cases = [options.only] if options.only else ["sqlite", "postgresql"]
    print(f"{options.changes} changes through A's admin API, B polled every "
          f"{options.step * 1000:.0f} ms; from A's answer to B's first new one")  # fmt: skip
    for case in cases:
        drop = None
        db = None
        if case == "postgresql":
            db, drop = fresh_pg_database(options.pg)
        try:
            delays = sorted(measure(case, db, options.changes, options.step, options.spread))
        finally:
            if drop is not None:
                drop()
        p90 = delays[min(len(delays) - 1, int(len(delays) * 0.9))]
        where = "two hosts, one database" if db else "one host, one data directory"
        print(f"{case:10} ({where}): p50 {statistics.median(delays) * 1000:6.1f} ms  "
              f"p90 {p90 * 1000:6.1f} ms  max {delays[-1] * 1000:6.1f} ms  "
              f"{'OK' if delays[-1] < 1.0 else 'OVER 1 s'}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Applying a big inventory file: plugtone apply's cost at 1,000, 10,000 and 100,000 phones.

For each store (a SQLite file; a scratch PostgreSQL database made and dropped here, at
``PLUGTONE_TEST_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``) and
each fleet size (:mod:`fleet`: 100 phones a site, an extension each, Aastra, Polycom
and Cisco phones with one or two lines, keys and raw settings), three runs:

- ``first``: the file into an empty store;
- ``again``: the same file once more (no changes, nothing written);
- ``1%``: a file where 1% of the phones and extensions changed.

Each run is one child process doing what ``plugtone apply FILE`` does (read, parse and
check the file, take the lock, plan, write, commit), so its peak memory (``VmHWM``,
Python and everything loaded included) is its own. Times are wall-clock seconds, with
the child's CPU seconds beside them: on a shared machine the CPU figure is the steadier.
The issue's targets are the ``total`` column: 10,000 phones in 10 s, 100,000 in 120 s.

When ``plugtone.services.csv_import.import_csv`` exists, an ``import`` run imports the
same extensions and phones as CSV sheets into an empty store (its sites applied first,
untimed), by default for the sizes up to 10,000 (``--import-sizes``).

    .venv/bin/python bench/inventory.py [--sizes 1000,10000,100000] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from fleet import MAC_PREFIX, MODELS, SITE_SIZE, fleet_yaml, site_count

PG_URL = os.environ.get("PLUGTONE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
RUNS = (("first", 0.0), ("again", 0.0), ("1%", 0.01))
CHILD_TIMEOUT = 600


# --------------------------------------------------------------------------------------
# Child: one run, measured
# --------------------------------------------------------------------------------------


def child_apply(url: str, path: Path) -> dict:
    from plugtone.inventory.document import parse_document
    from plugtone.inventory.store import Store, lock_inventory
    from plugtone.inventory.yaml_source import load_located
    from plugtone.services.inventory_apply import plan_document
    from plugtone.vendors import default_registry

    registry = default_registry()
    started = time.perf_counter()
    located = load_located(path.read_bytes(), str(path))
    document, problems = parse_document(located, registry)
    if problems:
        raise SystemExit(f"{len(problems)} problems, first: {problems[0]}")
    parsed = time.perf_counter()
    store = Store(url)
    try:
        with store.sessions() as session:
            lock_inventory(session)
            locked = time.perf_counter()
            plan = plan_document(session, document, registry=registry)
            planned = time.perf_counter()
            result = plan.write(session)
            session.commit()
            written = time.perf_counter()
    finally:
        store.dispose()
    return {
        "parse": parsed - started, "plan": planned - locked, "write": written - planned,
        "total": written - started, "changes": len(result.changes),
    }  # fmt: skip


def child_import(url: str, directory: Path) -> dict:
    from plugtone.inventory.store import Store
    from plugtone.services.actors import local_admin
    from plugtone.services.csv_import import import_csv
    from plugtone.vendors import default_registry

    registry = default_registry()
    store = Store(url)
    started = time.perf_counter()
    changes = 0
    try:
        for kind in ("extensions", "phones"):
            sheet = directory / f"{kind}.csv"
            report = import_csv(store, local_admin(), sheet.read_bytes(), registry,
                                filename=str(sheet), kind=kind)  # fmt: skip
            if not report.accepted:
                raise SystemExit(f"{kind} import refused: {report.problems[:3]}")
            changes += len(report.rows)
    finally:
        store.dispose()
    return {"total": time.perf_counter() - started, "changes": changes}


def child_main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=["apply", "import"], required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--path", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.child == "apply":
        figures = child_apply(args.db, args.path)
    else:
        figures = child_import(args.db, args.path)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures["cpu"] = usage.ru_utime + usage.ru_stime
    figures["peak_mb"] = peak_rss_kib(usage) / 1024
    print(json.dumps(figures))


def peak_rss_kib(usage: resource.struct_rusage) -> float:
    """This process's peak resident memory: ``VmHWM``, which starts afresh at exec, where
    Linux's ``ru_maxrss`` carries over the parent's peak from before the fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(usage.ru_maxrss)


# --------------------------------------------------------------------------------------
# Parent: stores, files, runs, table
# --------------------------------------------------------------------------------------


def run_child(kind: str, url: str, path: Path) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--db", url, "--path", str(path)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"over {CHILD_TIMEOUT} s"}
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


@contextmanager
def scratch_store(kind: str, work: Path) -> Iterator[str]:
    """An empty, migrated store: a SQLite file, or a PostgreSQL database of its own."""
    from plugtone.inventory.store import Store, migrate, normalize_url

    if kind == "sqlite":
        url = f"sqlite:///{work / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        store = Store(url)
        migrate(store.engine)
        store.dispose()
        yield url
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    name = f"plugtone_bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        store = Store(url)
        migrate(store.engine)
        store.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgresql_answers() -> str | None:
    """``None`` when PostgreSQL answers, else why not."""
    from sqlalchemy import create_engine, text

    from plugtone.inventory.store import normalize_url

    engine = create_engine(normalize_url(PG_URL), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def write_sheets(directory: Path, phones: int) -> None:
    """The fleet's extensions and phones as CSV sheets, and its sites as a file."""
    directory.mkdir(parents=True, exist_ok=True)
    full = fleet_yaml(phones)
    sites = full.split("\nextensions:")[0] + "\n"
    (directory / "sites.yaml").write_text(sites)
    rows = ["number,site,name,password"]
    rows += [
        f"9000,branch{site:04d},Reception,recp{site:06d}" for site in range(site_count(phones))
    ]
    rows += [f"{20000 + n % SITE_SIZE},branch{n // SITE_SIZE:04d},Desk {n},pw{n:07d}x"
             for n in range(phones)]  # fmt: skip
    (directory / "extensions.csv").write_text("\n".join(rows) + "\n")
    rows = ["mac,model,site,line1,description"]
    for n in range(phones):
        vendor, model = MODELS[n % len(MODELS)]
        mac = f"{MAC_PREFIX[vendor]}{n:06X}"
        rows.append(f"{mac},{model},branch{n // SITE_SIZE:04d},{20000 + n % SITE_SIZE},desk {n}")
    (directory / "phones.csv").write_text("\n".join(rows) + "\n")


def bench_store(kind: str, sizes: Sequence[int], import_sizes: Sequence[int], work: Path,
                can_import: bool) -> list[dict]:  # fmt: skip
    results = []
    for phones in sizes:
        files = {}
        for label, changed in RUNS:
            path = work / f"fleet-{phones}-{'changed' if changed else 'base'}.yaml"
            if not path.exists():
                path.write_text(fleet_yaml(phones, changed=changed))
            files[label] = path
        with scratch_store(kind, work) as url:
            for label, _ in RUNS:
                figures = run_child("apply", url, files[label])
                results.append({"store": kind, "phones": phones, "run": label, **figures})
                print_row(results[-1])
        if can_import and phones in import_sizes:
            sheets = work / f"sheets-{phones}"
            write_sheets(sheets, phones)
            with scratch_store(kind, work) as url:
                sites = run_child("apply", url, sheets / "sites.yaml")
                figures = sites if "error" in sites else run_child("import", url, sheets)
                results.append({"store": kind, "phones": phones, "run": "import", **figures})
                print_row(results[-1])
    return results


HEADER = (f"{'store':<11}{'phones':>8}  {'run':<7}{'parse s':>8}{'plan s':>8}{'write s':>8}"
          f"{'total s':>9}{'cpu s':>8}{'peak MB':>9}{'changes':>9}")  # fmt: skip


def print_row(row: dict) -> None:
    start = f"{row['store']:<11}{row['phones']:>8,}  {row['run']:<7}"
    if "error" in row:
        print(f"{start}failed: {row['error']}", flush=True)
        return

    def seconds(name: str) -> str:
        return f"{row[name]:>8.2f}" if name in row else f"{'-':>8}"

    print(f"{start}{seconds('parse')}{seconds('plan')}{seconds('write')} {row['total']:>8.2f}"
          f"{row['cpu']:>8.1f}{row['peak_mb']:>9.0f}{row['changes']:>9,}", flush=True)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--import-sizes", default="1000,10000",
                        help="sizes to time CSV import at (it reads the whole store)")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    # scratch stores (PostgreSQL ones have no data directory): one throw-away secret
    # key for this run and the processes it starts
    os.environ.setdefault("PLUGTONE_SECRET_KEY", base64.b64encode(os.urandom(32)).decode())
    import_sizes = [int(size) for size in args.import_sizes.split(",") if size]
    stores = args.stores.split(",")
    can_import = importlib.util.find_spec("plugtone.services.csv_import") is not None
    if can_import:
        from plugtone.services import csv_import

        can_import = hasattr(csv_import, "import_csv")
    started = time.monotonic()
    print(f"plugtone apply, fleets of {', '.join(f'{s:,}' for s in sizes)} phones "
          f"({os.cpu_count()} CPUs)")  # fmt: skip
    if not can_import:
        print("import: skipped (no plugtone.services.csv_import.import_csv)")
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="inventory-bench-") as directory:
        work = Path(directory)
        for kind in stores:
            if kind == "postgresql" and (reason := postgresql_answers()) is not None:
                print(f"postgresql: skipped, no server at {PG_URL} ({reason})")
                continue
            bench_store(kind, sizes, import_sizes, work, can_import)
    print("targets: total for 10,000 phones <= 10 s, for 100,000 <= 120 s")
    print(f"bench time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    if "--child" in sys.argv:
        child_main(sys.argv[1:])
    else:
        main()

"""A TFTP boot storm while an admin edits one phone every second, against the same storm
with no edits: what an edit costs the fleet (issue 17: under 1% of the storm's rate).

One ``plugtone serve`` on loopback; the fleet of ``bench/tftp_storm.py`` (each phone
its common, model and own file from an address of its own) fetches in passes, half of
them alternating with passes during which this process, sharing the SQLite store as a
second process would, changes one phone's description every second through the
service layer (``patch_entry``). The edited phone is not in the storm, so every
transferred byte can still be checked against the exported tree; its edit moves the
inventory generation as any edit does, and the server learns it from the store.

    .venv/bin/python bench/storm_with_edits.py --phones 2000 --passes 3
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tftp_storm import Fleet, free_port, plugtone_command, prepare, running, storm

from plugtone.inventory.store import Store
from plugtone.services.actors import local_admin
from plugtone.services.objects import patch_entry
from plugtone.vendors import default_registry

EDITED = "00085DFFFFFF"
"""The phone the admin edits: in branch0 with the storm's phones, not itself booting."""


class EditedFleet(Fleet):
    """The storm's fleet plus :data:`EDITED`, with an extension of its own."""

    def inventory_yaml(self) -> str:
        text = super().inventory_yaml()
        extension = "  - {number: '19999', site: branch0, name: 'Admin desk', password: 'pw-ed'}"
        phone = f"  - {{mac: {EDITED}, model: 6757i, site: branch0, lines: ['19999']}}"
        text = text.replace("extensions:\n", f"extensions:\n{extension}\n", 1)
        return text + phone + "\n"


def edit_loop(database: str, interval: float, on, stopped, edits) -> None:
    """Change :data:`EDITED`'s description every ``interval`` s while ``on`` is set.

    In a process of its own, as an admin's API call would be: in the storm client's
    process it would steal the client's interpreter and be measured as the server's cost.
    """
    store, registry, actor = Store(database), default_registry(), local_admin()
    try:
        while not stopped.is_set():
            if not on.wait(0.05):
                continue
            started = time.monotonic()
            with edits.get_lock():
                edits.value += 1
                count = edits.value
            patch_entry(store, actor, registry, "phone", EDITED, {"description": f"edit {count}"})
            stopped.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        store.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=1.0, help="client retransmit timeout")
    parser.add_argument("--passes", type=int, default=3, help="measured passes of each kind")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between edits")
    args = parser.parse_args(argv)
    if not 1 <= args.phones <= 100_000 or not 1 <= args.passes <= 20:
        parser.error("--phones must be 1..100000 and --passes 1..20")
    started = time.monotonic()
    fleet = EditedFleet.of(args.phones)
    with tempfile.TemporaryDirectory(prefix="storm-edits-") as directory:
        work = Path(directory)
        data, _tree, expected = prepare(work, fleet)
        on, stopped, edits = (
            multiprocessing.Event(),
            multiprocessing.Event(),
            multiprocessing.Value("i"),
        )
        editor = multiprocessing.Process(
            target=edit_loop,
            args=(f"sqlite:///{data / 'plugtone.db'}", args.interval, on, stopped, edits),
        )
        editor.start()
        port = free_port(socket.SOCK_DGRAM)
        quiet, edited = [], []
        try:
            with running(plugtone_command(data, port), port, work / "plugtone.log") as process:
                storm("warm-up", port, process.pid, fleet, expected, args)
                for _ in range(args.passes):  # alternated, so drift hits both alike
                    quiet.append(storm("no edits", port, process.pid, fleet, expected, args))
                    on.set()
                    edited.append(storm("edits", port, process.pid, fleet, expected, args))
                    on.clear()
        finally:
            stopped.set()
            editor.join(10)
    rate = statistics.median(row.rate for row in quiet)
    rate_edited = statistics.median(row.rate for row in edited)
    cpu = statistics.median(row.cpu_per_thousand for row in quiet)
    cpu_edited = statistics.median(row.cpu_per_thousand for row in edited)
    failures = sum(row.totals.failures for row in quiet + edited)
    print(
        f"{args.phones} phones x 3 files, {args.passes} passes of each, concurrency "
        f"{args.concurrency}; an edit every {args.interval:g} s ({edits.value} edits)"
    )
    print(f"{'':12}{'transfers/s':>14}{'CPU s/1000':>12}")
    print(f"{'no edits':12}{rate:>14,.0f}{cpu:>12.3f}")
    print(f"{'edits':12}{rate_edited:>14,.0f}{cpu_edited:>12.3f}")
    cost = 1 - rate_edited / rate if rate else float("nan")
    print(f"rate with edits / without: {rate_edited / rate:.3f} (cost {100 * cost:.1f}%)")
    # The server's own CPU per transfer is steadier than the rate on a shared machine,
    # where the editing process's CPU (about 16 ms an edit) competes with both sides.
    print(f"server CPU per transfer with edits / without: {cpu_edited / cpu:.3f}")
    print(f"failures: {failures}")
    print(f"total time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

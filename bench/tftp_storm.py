"""TFTP boot storm: plugtone against in.tftpd (tftp-hpa) and dnsmasq, same files, same run.

Mode 1, storm: N simulated Aastra phones (default 2,000, 200 at a time) each fetch their
boot sequence ``aastra.cfg``, ``<model>.cfg``, ``<MAC>.cfg``, each phone from a loopback
address of its own (127.1.0.1, 127.1.0.2, ...), as phones on a LAN have.  plugtone
renders the files from an inventory of N phones; the reference servers serve the same
bytes, written out as a static tree by :func:`plugtone.services.export_tree.export_tree`.
Every server is driven by the same client (``tftp_client.py``): one warm-up pass (it
fills plugtone's caches of rendered files and answers, the page cache, and gets the
reference servers' first forks done), then ``--passes`` measured passes (default 3),
summed up by their medians.  A transfer counts as a failure unless its bytes equal the
exported file.

For each server it prints transfers per second and the server's CPU seconds per 1,000
transfers, read from ``/proc/PID/stat`` (user + system, including reaped children,
which is where in.tftpd's per-request processes land).  plugtone's figure includes
everything ``plugtone serve`` does meanwhile, the event log written to SQLite included.
A line for plugtone's cold first pass (every phone's files rendered for the first time,
before the warm-up) is printed too, for honesty; it starts once ``plugtone serve`` has
said it serves, i.e. once every worker listens (the port is bound by the first one
earlier, and a pass started then measured the second worker's start-up too).

The client's own CPU per 1,000 transfers is printed beside the server's: on this
2-core machine the client costs more than dnsmasq does (0.06-0.07 s against 0.04-0.06),
so at dnsmasq's pace client and server together fill both cores.  ``--clients N`` runs
the fleet from N client processes at once (each a share of the phones, the concurrency
and the client port range; the rate is all transfers over the time from the first
start to the last finish).  The default stays one: measured against dnsmasq with one
and two client processes alternately on this machine, two were no faster (3,600-5,400
against 4,800-18,000 transfers/s, the highest with the machine otherwise idle), as
the client is not what waits; the cores are shared, by the servers, the client and
whatever else runs.

Mode 2, windowsize: a 10 MB file fetched from plugtone's TFTP server through a 20 ms
round trip, with windowsize 1 and 16.  The kernel here has no netem, so the client holds
every ACK back 20 ms; the server runs in this process over a stub that serves the file.

Everything stays on loopback (127.0.0.0/8).  dnsmasq's TFTP port is fixed at 69, so it needs
root and a free port 69; the reference servers are skipped (and said so) otherwise.

    .venv/bin/python bench/tftp_storm.py [--phones 2000] [--concurrency 200] [--workers 1,2]
        [--clients 1]

``--workers 1,2`` measures ``plugtone serve`` with one process and with two sharing the
port (``SO_REUSEPORT``); CPU is the whole process tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import processes
from tftp_client import PhoneJob, Totals, run_phones, use_ports

from plugtone.inventory.store import Store
from plugtone.protocols.tftp import Limits
from plugtone.provisioning.resolver import Answer, FileRequest, Status
from plugtone.servers.tftp import start_tftp_server
from plugtone.services.export_tree import export_tree
from plugtone.vendors import default_registry

HOST = "127.0.0.1"
MODELS = ("6757i", "6731i", "6867i", "6869i", "6739i")
SITE_SIZE = 100
"""Phones per site.  Rendering a phone's file loads its site's member list, so one site
of thousands of phones would measure that (a resolver matter) rather than TFTP."""
TRUSTED_LAN = '\n[security]\ntrusted_networks = ["127.0.0.0/8"]\n'
"""The simulated phones boot from a trusted network (their own loopback addresses), so
they get their own files, as the exported tree holds them; nothing is trusted by default."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PLUGTONE = [sys.executable, "-m", "plugtone"]


# --------------------------------------------------------------------------------------
# Inventory and files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """The simulated phones: MAC and model of each."""

    phones: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, count: int) -> Fleet:
        return cls(tuple((f"00085D{index:06X}", MODELS[index % len(MODELS)])
                         for index in range(count)))  # fmt: skip

    def boot_sequences(self) -> list[PhoneJob]:
        """Each phone's files, fetched from an address of its own, as on a real network:
        the server ties addresses to MACs, and one address for every phone would make it
        see a single phone changing its MAC thousands of times a second."""
        return [
            PhoneJob(("aastra.cfg", f"{model}.cfg", f"{mac}.cfg"), phone_address(index))
            for index, (mac, model) in enumerate(self.phones)
        ]

    def inventory_yaml(self) -> str:
        """N phones with a line each, in sites of :data:`SITE_SIZE` phones (branches)."""
        lines = ["sites:"]
        for site in range(self.site_count):
            lines += [
                f"  - {{name: branch{site}, sip_server: 10.0.{site // 250}.{site % 250 + 1},",
                "     timezone: Europe/Paris, ntp_servers: [pool.ntp.org], dial_plan: 'xxx+#',",
                "     voicemail: '*97', config_server: 'tftp://10.0.0.2', resync_time: '03:00'}",
            ]
        lines.append("extensions:")
        for index in range(len(self.phones)):
            lines.append(f"  - {{number: '{20000 + index}', site: branch{index // SITE_SIZE}, "
                         f"name: 'Desk {index}', password: 'pw{index:06d}x'}}")  # fmt: skip
        lines.append("phones:")
        for index, (mac, model) in enumerate(self.phones):
            lines.append(f"  - {{mac: {mac}, model: {model}, site: branch{index // SITE_SIZE}, "
                         f"lines: ['{20000 + index}']}}")  # fmt: skip
        return "\n".join(lines) + "\n"

    @property
    def site_count(self) -> int:
        return (len(self.phones) + SITE_SIZE - 1) // SITE_SIZE


def phone_address(index: int) -> str:
    """127.1.0.1, 127.1.0.2, ... (254 per /24): loopback addresses, one per phone."""
    network, host = divmod(index, 254)
    return f"127.{1 + network // 256}.{network % 256}.{host + 1}"


def run_cli(*args: str, data: Path) -> None:
    subprocess.run([*PLUGTONE, *args, "--data", str(data)], check=True,
                   capture_output=True, timeout=300)  # fmt: skip


def prepare(work: Path, fleet: Fleet) -> tuple[Path, Path, dict[str, bytes]]:
    """Data directory with the fleet applied, the exported tree, and the tree's bytes."""
    data = work / "data"
    inventory = work / "inventory.yaml"
    inventory.write_text(fleet.inventory_yaml())
    run_cli("init", data=data)
    with (data / "plugtone.toml").open("a") as settings:  # the phones' LAN is trusted
        settings.write(TRUSTED_LAN)
    run_cli("apply", str(inventory), data=data)
    tree = work / "tree"
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    try:
        # every file the plug-ins serve to the fleet; world-readable, because in.tftpd
        # and dnsmasq drop root before they open files
        export_tree(store, default_registry(), tree, file_mode=0o644, dir_mode=0o755)
    finally:
        store.dispose()
    expected = {path.name: path.read_bytes() for path in tree.iterdir()}
    missing = {name for job in fleet.boot_sequences() for name in job.names} - set(expected)
    if missing:
        raise SystemExit(f"the exported tree lacks {len(missing)} files, e.g. {min(missing)}")
    return data, tree, expected


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def udp_port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def cpu_seconds(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` and of every live process under it
    (``plugtone serve --workers``' workers; in.tftpd's children count once reaped)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += parents.get(current, [])
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def wait_udp(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Wait until something is bound to HOST:port (the server is up) or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        if not udp_port_free(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on UDP {port} after {timeout} s")


SERVING = b"plugtone serving"
"""What ``plugtone serve`` prints once it listens (with ``--workers``: once every worker
does, see :func:`plugtone.servers.workers.serve_workers`)."""


def wait_announced(log: Path, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until ``plugtone serve`` has said it serves (:data:`SERVING` in ``log``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: see {log}")
        if SERVING in log.read_bytes():
            return
        time.sleep(0.05)
    raise RuntimeError(f"plugtone serve did not say it serves after {timeout} s: see {log}")


def running(command: Sequence[str], port: int, log: Path):
    """Start a TFTP server, wait until it serves on ``port``, stop it afterwards.

    For ``plugtone serve`` that is once it says so: with ``--workers`` the first worker
    binds the port well before the others have started."""

    def ready(process: subprocess.Popen) -> None:
        wait_udp(port, process)
        if list(command[: len(PLUGTONE)]) == PLUGTONE:
            wait_announced(log, process)

    return processes.running(command, log, ready)


def plugtone_command(data: Path, port: int, workers: int = 1) -> list[str]:
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST,
               "--http-port", str(free_port(socket.SOCK_STREAM)), "--tftp-port", str(port),
               "--tftp-max-transfers", "1000", "--ftp-port", "0", "--admin-port", "0"]  # fmt: skip
    return command + (["--workers", str(workers)] if workers > 1 else [])


def in_tftpd_command(tree: Path, port: int) -> list[str]:
    return [shutil.which("in.tftpd") or "in.tftpd", "--foreground", "--address",
            f"{HOST}:{port}", "--secure", str(tree)]  # fmt: skip


def dnsmasq_command(tree: Path, work: Path) -> list[str]:
    return [shutil.which("dnsmasq") or "dnsmasq", "--keep-in-foreground", "--port=0",
            "--conf-file=/dev/null", f"--pid-file={work / 'dnsmasq.pid'}",
            f"--listen-address={HOST}", "--bind-interfaces", "--enable-tftp",
            f"--tftp-root={tree}", "--tftp-max=1000", "--quiet-tftp",
            "--log-facility=-"]  # fmt: skip


# --------------------------------------------------------------------------------------
# Storm
# --------------------------------------------------------------------------------------


@dataclass
class Row:
    """One server's figures: the medians of its measured passes, failures summed."""

    server: str
    transfers: int
    rate: float
    """Transfers per second."""
    cpu_per_thousand: float
    """Server CPU seconds per 1,000 transfers."""
    totals: Totals
    passes: int = 1
    client_cpu_per_thousand: float = float("nan")
    """The benchmark client's CPU seconds per 1,000 transfers (all its processes)."""

    def cells(self) -> tuple[str, ...]:
        return (self.server, f"{self.rate:,.0f}", f"{self.cpu_per_thousand:.3f}",
                f"{self.client_cpu_per_thousand:.3f}", str(self.totals.failures))  # fmt: skip


def run_async(coroutine):
    """Run the client on uvloop when installed: a cheaper client disturbs the servers less."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def _client_process(share: int, shares: int, server: tuple[str, int], jobs: list[PhoneJob],
                    concurrency: int, expected: dict[str, bytes], timeout: float, go,
                    report) -> None:  # fmt: skip
    """One of several client processes: its share of the phones and of the client
    ports, started together with the others; reports (totals, began, ended, CPU)."""
    use_ports(share, shares)
    report.send("ready")
    go.wait()
    cpu = time.process_time()
    totals, seconds = run_async(run_phones(server, jobs, concurrency=concurrency,
                                           expected=expected, timeout=timeout))  # fmt: skip
    ended = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process
    report.send((totals, ended - seconds, ended, time.process_time() - cpu))
    report.close()


def run_clients(server: tuple[str, int], jobs: list[PhoneJob], expected: dict[str, bytes],
                args) -> tuple[Totals, float, float]:  # fmt: skip
    """Every job, from ``args.clients`` processes at once: (totals, seconds, client CPU).

    One process runs here; several are forked (so ``expected`` is shared, not copied
    through a pipe), each with its share of the phones and of the concurrency, and
    released together once all are ready."""
    clients = max(1, min(getattr(args, "clients", 1), len(jobs)))
    if clients == 1:
        cpu = time.process_time()
        phones = run_phones(server, jobs, concurrency=args.concurrency, expected=expected,
                            timeout=args.timeout)  # fmt: skip
        totals, seconds = run_async(phones)
        return totals, seconds, time.process_time() - cpu
    context = multiprocessing.get_context("fork")
    go = context.Event()
    children, reports = [], []
    for share in range(clients):
        receiver, sender = context.Pipe(duplex=False)
        concurrency = args.concurrency // clients + (share < args.concurrency % clients)
        child = context.Process(target=_client_process, daemon=True, args=(
            share, clients, server, jobs[share::clients], max(1, concurrency), expected,
            args.timeout, go, sender))  # fmt: skip
        child.start()
        sender.close()
        children.append(child)
        reports.append(receiver)
    try:
        for report in reports:
            if report.recv() != "ready":
                raise RuntimeError("a client process did not start")
        go.set()
        results = [report.recv() for report in reports]
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    totals = Totals()
    for part, _, _, _ in results:
        totals.transfers += part.transfers
        totals.failures += part.failures
        totals.payload_bytes += part.payload_bytes
        totals.retransmissions += part.retransmissions
        totals.problems += part.problems[: 10 - len(totals.problems)]
    seconds = max(result[2] for result in results) - min(result[1] for result in results)
    return totals, seconds, sum(result[3] for result in results)


def storm(name: str, port: int, pid: int, fleet: Fleet, expected: dict[str, bytes], args) -> Row:
    """One pass of the whole fleet against the server at ``port`` (process ``pid``)."""
    settle = 0.6  # the event log flushes every 0.25 s; in.tftpd reaps its children
    time.sleep(settle)
    before = cpu_seconds(pid)
    totals, seconds, client_cpu = run_clients((HOST, port), fleet.boot_sequences(),
                                              expected, args)  # fmt: skip
    time.sleep(settle)
    cpu = cpu_seconds(pid) - before
    count = totals.transfers
    per_thousand = (lambda seconds: 1000 * seconds / count) if count else (lambda _: float("nan"))
    return Row(name, count, count / seconds if seconds else 0.0, per_thousand(cpu), totals,
               client_cpu_per_thousand=per_thousand(client_cpu))  # fmt: skip


def measured(name: str, port: int, pid: int, fleet: Fleet, expected, args) -> Row:
    """A warm-up pass, then ``args.passes`` measured ones summed up by their medians.

    The warm-up fills caches the same way for every server (plugtone's memoized
    answers, the page cache, the reference servers' first forks); medians keep one pass
    disturbed by something else on the machine from deciding the comparison.
    """
    storm("warm-up", port, pid, fleet, expected, args)
    rows = [storm(name, port, pid, fleet, expected, args) for _ in range(args.passes)]
    totals = Totals()
    for row in rows:
        totals.transfers += row.totals.transfers
        totals.failures += row.totals.failures
        totals.problems += row.totals.problems[: 10 - len(totals.problems)]
    client = statistics.median(row.client_cpu_per_thousand for row in rows)
    return Row(name, totals.transfers, statistics.median(row.rate for row in rows),
               statistics.median(row.cpu_per_thousand for row in rows), totals,
               len(rows), client)  # fmt: skip


def run_storms(work: Path, fleet: Fleet, args) -> list[Row]:
    """plugtone cold, then every server warmed up and measured the same way."""
    data, tree, expected = prepare(work, fleet)
    rows: list[Row] = []
    for workers in args.workers:
        name = "plugtone" if workers == 1 else f"plugtone --workers {workers}"
        port = free_port(socket.SOCK_DGRAM)
        command = plugtone_command(data, port, workers)
        with running(command, port, work / f"plugtone-{workers}.log") as process:
            cold = storm(f"{name} (cold cache)", port, process.pid, fleet, expected, args)
            rows.append(measured(name, port, process.pid, fleet, expected, args))
            rows.append(cold)
    reasons = reference_skip_reasons()
    references = [
        ("in.tftpd (tftp-hpa)", "in.tftpd", lambda port: in_tftpd_command(tree, port)),
        ("dnsmasq", "dnsmasq", lambda port: dnsmasq_command(tree, work)),
    ]
    for name, tool, command in references:
        if tool in reasons:
            print(f"{name} skipped: {reasons[tool]}")
            continue
        port = 69 if tool == "dnsmasq" else free_port(socket.SOCK_DGRAM)
        with running(command(port), port, work / f"{tool}.log") as process:
            rows.append(measured(name, port, process.pid, fleet, expected, args))
    return rows


def reference_skip_reasons() -> dict[str, str]:
    reasons = {}
    for tool in ("in.tftpd", "dnsmasq"):
        if shutil.which(tool) is None:
            reasons[tool] = "not installed (apt-get install tftpd-hpa dnsmasq)"
        elif os.geteuid() != 0:
            reasons[tool] = "needs root (chroot for in.tftpd, port 69 for dnsmasq)"
    if "dnsmasq" not in reasons and not udp_port_free(69):
        reasons["dnsmasq"] = "UDP port 69 is in use (dnsmasq's TFTP port is fixed)"
    return reasons


def print_table(rows: list[Row], fleet: Fleet, args) -> None:
    print(f"\nTFTP boot storm: {len(fleet.phones):,} phones x 3 files, "
          f"{args.concurrency} at a time from {args.clients} client process(es), loopback, "
          f"{os.cpu_count()} CPUs; medians of {args.passes} passes after a warm-up; "
          f"load {args.load_before} before, {load()} after")  # fmt: skip
    header = ("server", "transfers/s", "CPU s / 1000 transfers", "client CPU s / 1000",
              "failures")  # fmt: skip
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True))))  # fmt: skip
    by_name = {row.server: row for row in rows}
    for ours in rows:
        if not ours.server.startswith("plugtone") or "cold" in ours.server:
            continue
        for reference in ("in.tftpd (tftp-hpa)", "dnsmasq"):
            theirs = by_name.get(reference)
            if theirs and theirs.rate and theirs.cpu_per_thousand:
                print(f"{ours.server} vs {reference}: {ours.rate / theirs.rate:.2f}x the "
                      f"transfers/s, {ours.cpu_per_thousand / theirs.cpu_per_thousand:.2f}x "
                      "the CPU per transfer")  # fmt: skip
    for row in rows:
        for problem in row.totals.problems[:3]:
            print(f"  {row.server}: {problem}")


def load() -> str:
    """The 1-, 5- and 15-minute load averages: the machine is shared, figures are noisy."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


# --------------------------------------------------------------------------------------
# Windowsize over a 20 ms round trip
# --------------------------------------------------------------------------------------


class OneFile:
    """Stub provisioner serving one file to anyone; just enough for the TFTP server."""

    def __init__(self, name: str, content: bytes) -> None:
        self.name = name
        self.content = content

    @property
    def resolver(self) -> OneFile:
        return self  # the server's fast path asks ``provisioner.resolver.cached``

    def cached(self, request: FileRequest) -> Answer:
        if request.path.lstrip("/") == self.name:
            return Answer(Status.OK, request.path, self.content)
        return Answer(Status.NOT_FOUND, request.path)

    async def answer(self, request: FileRequest) -> Answer:
        return self.cached(request)

    def finished(self, *args, **kwargs) -> None:
        pass

    async def upload_target(self, request: FileRequest) -> None:
        return None


async def window_runs(size: int, rtt: float, blksize: int, windows: Sequence[int]) -> list:
    content = random.Random(7).randbytes(size)
    provisioner = OneFile("big.bin", content)
    limits = Limits(max_windowsize=max(windows))
    server = await start_tftp_server(provisioner, HOST, 0, limits=limits)  # type: ignore[arg-type]
    results = []
    try:
        for window in windows:
            totals, seconds = await run_phones(
                (HOST, server.port), [PhoneJob(["big.bin"])], concurrency=1,
                expected={"big.bin": content}, ack_delay=rtt, timeout=2.0,
                options={"blksize": blksize, "windowsize": window},
            )  # fmt: skip
            results.append((window, seconds, totals))
    finally:
        server.close()
    return results


def print_windows(results: list, size: int, rtt: float, blksize: int) -> None:
    print(f"\nwindowsize: {size / 1e6:.0f} MB from plugtone, blksize {blksize}, "
          f"{rtt * 1000:.0f} ms round trip (client delays each ACK)")  # fmt: skip
    for window, seconds, totals in results:
        state = "ok" if totals.failures == 0 else f"FAILED {totals.problems}"
        rate = size / seconds / 1e6
        print(f"  windowsize {window:>2}: {seconds:6.2f} s  {rate:6.2f} MB/s  {state}")
    if len(results) == 2:
        print(f"  speed-up: {results[0][1] / results[1][1]:.1f}x")


# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=1.0, help="client retransmit timeout")
    parser.add_argument("--passes", type=int, default=3, help="measured passes per server")
    parser.add_argument("--window-mb", type=float, default=10.0)
    parser.add_argument("--window-blksize", type=int, default=1468)
    parser.add_argument("--rtt-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")],
                        default=[1], help="plugtone serve --workers, a list: 1,2")  # fmt: skip
    parser.add_argument("--clients", type=int, default=1,
                        help="client processes driving the fleet at once")  # fmt: skip
    parser.add_argument("--skip-storm", action="store_true")
    parser.add_argument("--skip-windows", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.phones <= 100_000 or not 1 <= args.concurrency <= 5_000:
        parser.error("--phones must be 1..100000 and --concurrency 1..5000")
    if not 1 <= args.passes <= 20:
        parser.error("--passes must be 1..20")
    if not 1 <= args.clients <= 16:
        parser.error("--clients must be 1..16")
    args.load_before = load()
    started = time.monotonic()
    if not args.skip_storm:
        fleet = Fleet.of(args.phones)
        with tempfile.TemporaryDirectory(prefix="tftp-storm-") as directory:
            work = Path(directory)
            work.chmod(0o755)  # the reference servers run as nobody / dnsmasq
            rows = run_storms(work, fleet, args)
        print_table(rows, fleet, args)
    if not args.skip_windows:
        size, rtt = int(args.window_mb * 1_000_000), args.rtt_ms / 1000
        results = asyncio.run(window_runs(size, rtt, args.window_blksize, (1, 16)))
        print_windows(results, size, rtt, args.window_blksize)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

"""Boot storm: a fleet of Aastra, Polycom and Cisco phones booting at once, plugtone
against nginx, in.tftpd and pyftpdlib serving the exported tree, in the same run.

The fleet (``--phones``, default 10,000; 100 a site, an extension each, cycling
Aastra 6757i, Polycom IP 650, Aastra 6731i, Cisco 7960, as ``bench/api.py`` loads it
through ``apply_inventory``) boots the way each vendor's phones do (see
``tests/emulators``):

- Aastra over HTTP: ``aastra.cfg``, ``<model>.cfg``, ``<MAC>.cfg``;
- Polycom over HTTP, or over FTP with the factory login for ``--polycom-ftp`` of them
  (default a fifth): ``<mac>.cfg`` (else ``000000000000.cfg``), its boot log uploaded
  (HTTP ``PUT``, FTP ``APPE``), each file of the master's ``CONFIG_FILES``, then
  ``<mac>-directory.xml`` (else ``000000000000-directory.xml``);
- Cisco 7960 over TFTP: ``OS79XX.TXT`` (not found unless firmware is pinned),
  ``SIPDefault.cnf``, ``SIP<MAC>.cnf``, the dial plan its ``dial_template`` names.

Each phone has a loopback address of its own and powers on at a random moment of the
arrival window (``--rate`` phones a second on average), then retries as phones do
(``bench/storm_phones.py``: timeouts, doubling back-off with jitter, a 503's Retry-After).
Every file is compared with the exported tree (``plugtone export-tree``'s code), which
is also what the reference servers serve: nginx (HTTP, one worker, ``dav_methods PUT``
for the boot logs), in.tftpd (tftp-hpa, TFTP) and pyftpdlib (FTP, a static folder with
the same login; Python like plugtone's aioftp, and no system account to create as
vsftpd would need), all three at once, on the same fleet.

Runs, each against a freshly started server (so caches are cold, as after a restart):

1. ``plugtone`` at ``--rate``;
2. the reference servers at ``--rate``;
3. ``plugtone, overload``: ten times (``--overload``) ``--rate``; every phone must
   still complete, after its retries.

For each: completion time (first power-on to last phone booted), boot latency per phone
(p50/p95/p99/max, power-on to last file, retries included), failures, requests, retries,
503s, attempts that timed out (a TFTP request dropped shows up there), server CPU
(user+sys of the server's process tree, reaped children included, read from ``/proc``)
and peak memory (the tree's summed resident memory as proportional set sizes, so pages
shared between processes count once, sampled every 0.2 s). plugtone's figures include
everything ``serve`` does meanwhile: rendering, the event log written to SQLite,
uploads stored. The 100,000-phone figure is
``--phones`` CPU seconds scaled by 100,000 / ``--phones`` unless run with ``--phones
100000`` (said which in the output).

The clients run in ``--clients`` processes (default 1) on uvloop. Loopback only.
Needs root (nginx and in.tftpd drop privileges; in.tftpd chroots). Under 5 minutes at
the defaults:

    .venv/bin/python bench/storm.py [--phones 10000] [--rate 250] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import processes
from bench.api import MODELS, load, mac_of
from storm_phones import Get, Outcome, PhonePlan, Put, run_fleet

from plugtone.inventory.store import Store, sqlite_url
from plugtone.services.export_tree import export_tree
from plugtone.vendors import default_registry

HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PLUGTONE = [sys.executable, "-m", "plugtone"]
USER_AGENTS = {
    "6757i": "Aastra6757i MAC:{dashed} V:3.2.2.1136-SIP",
    "6731i": "Aastra6731i MAC:{dashed} V:3.2.2.1136-SIP",
    "IP650": "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0184",
    "7960": "",
}
VENDOR = {"6757i": "aastra", "6731i": "aastra", "IP650": "polycom", "7960": "cisco"}
SHUTDOWN_NOISE = ("dispatcher caught", "Task was destroyed")
"""Lines of plugtone's log that are not about the storm: aioftp on the readiness probe's
connection, tasks of sessions still open when the server is stopped."""
BOOT_LOG = b"0101000000|boot |1|00|Polycom SoundPoint IP BootROM 4.4.0 starting\r\n" * 24
"""What a Polycom uploads as its boot log (about 1.7 kB)."""


# --------------------------------------------------------------------------------------
# The fleet
# --------------------------------------------------------------------------------------


def phone_address(index: int) -> str:
    """127.1.0.1, 127.1.0.2, ... (254 per /24): loopback addresses, one per phone."""
    network, host = divmod(index, 254)
    return f"127.{1 + network // 256}.{network % 256}.{host + 1}"


def plans_for(count: int, tree: dict[str, bytes], polycom_ftp: float) -> list[PhonePlan]:
    """Each phone's boot, from the vendor's sequence and the files the tree holds."""
    plans = []
    ftp_every = round(1 / polycom_ftp) if polycom_ftp else 0
    polycoms = 0
    for index in range(count):
        mac = mac_of(index)
        model = MODELS[index % len(MODELS)][1]
        dashed = "-".join(mac[i : i + 2] for i in range(0, 12, 2))
        agent = USER_AGENTS[model].format(dashed=dashed)
        if model in ("6757i", "6731i"):
            transport = "http"
            steps = [Get(("aastra.cfg",)), Get((f"{model}.cfg",)), Get((f"{mac}.cfg",))]
        elif model == "IP650":
            polycoms += 1
            transport = "ftp" if ftp_every and polycoms % ftp_every == 0 else "http"
            own = mac.lower()
            master = tree.get(f"{own}.cfg") or tree["000000000000.cfg"]
            listed = re.search(rb'CONFIG_FILES="([^"]*)"', master)
            assert listed, f"no CONFIG_FILES in {own}.cfg"
            files = [name.strip() for name in listed.group(1).decode().split(",") if name.strip()]
            steps = [Get((f"{own}.cfg", "000000000000.cfg")), Put(f"{own}-boot.log", BOOT_LOG),
                     *(Get((name,)) for name in files),
                     Get((f"{own}-directory.xml", "000000000000-directory.xml"))]  # fmt: skip
        else:
            transport = "tftp"
            device = tree[f"SIP{mac}.cnf"]
            template = re.search(rb'dial_template:\s*"?([^"\s]+)"?', device)
            steps = [Get(("OS79XX.TXT",)), Get(("SIPDefault.cnf",)), Get((f"SIP{mac}.cnf",))]
            if template:
                steps.append(Get((template.group(1).decode() + ".xml",)))
        plans.append(PhonePlan(index, VENDOR[model], transport, phone_address(index), agent,
                               tuple(steps)))  # fmt: skip
    return plans


def prepare(work: Path, count: int) -> tuple[Path, Path, dict[str, bytes], dict[str, float]]:
    """Data directory with the fleet loaded, the exported tree and its bytes, timings."""
    timings: dict[str, float] = {}
    data = work / "data"
    subprocess.run([*PLUGTONE, "init", "--data", str(data)], check=True, capture_output=True)
    processes.trust_networks(data, "127.0.0.0/8")
    started = time.perf_counter()
    load(sqlite_url(data), count)
    timings["inventory"] = time.perf_counter() - started
    tree = work / "tree"
    started = time.perf_counter()
    store = Store(sqlite_url(data))
    try:
        # world-readable: nginx's worker and in.tftpd run as nobody
        export_tree(store, default_registry(), tree, file_mode=0o644, dir_mode=0o755)
    finally:
        store.dispose()
    timings["export"] = time.perf_counter() - started
    expected = {path.name: path.read_bytes() for path in tree.iterdir()}
    return data, tree, expected, timings


# --------------------------------------------------------------------------------------
# Servers and their process trees
# --------------------------------------------------------------------------------------


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    return children


def tree_of(pid: int) -> list[int]:
    children = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def cpu_seconds(roots: Sequence[int]) -> float:
    """user+sys of every process under ``roots``, with the children each has reaped."""
    total = 0
    for root in roots:
        for pid in tree_of(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def rss_bytes(roots: Sequence[int]) -> int:
    """The trees' memory: each process's proportional set size (``Pss``), so pages that
    in.tftpd's forked children or nginx's worker share with their parent count once."""
    total = 0
    for root in roots:
        for pid in tree_of(root):
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
            except OSError:
                continue
    return total


class MemoryWatch:
    """The peak of the process trees' summed memory, sampled every 0.2 s in a thread."""

    def __init__(self, roots: Sequence[int]) -> None:
        self.roots = roots
        self.peak = rss_bytes(roots)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_bytes(self.roots))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def wait_tcp(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on TCP {port}")


def wait_udp(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on UDP {port}")


def plugtone_command(data: Path, ports: dict[str, int], workers: int) -> list[str]:
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST,
               "--http-port", str(ports["http"]), "--tftp-port", str(ports["tftp"]),
               "--ftp-port", str(ports["ftp"]), "--admin-port", "0"]  # fmt: skip
    if workers > 1:
        command += ["--workers", str(workers)]
    return command


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
    access_log {work}/nginx-access.log combined buffer=256k flush=1s;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    keepalive_requests 10000;
    server {{
        listen {host}:{port} reuseport backlog=4096;
        root {tree};
        location ~ -boot\\.log$ {{
            root {uploads};
            dav_methods PUT;
            create_full_put_path on;
        }}
    }}
}}
"""


def reference_commands(work: Path, tree: Path, ports: dict[str, int]) -> dict[str, list[str]]:
    uploads = work / "nginx-uploads"
    uploads.mkdir(mode=0o777, exist_ok=True)
    uploads.chmod(0o777)  # nginx's worker writes the boot logs as nobody
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, host=HOST, port=ports["http"], tree=tree,
                                      uploads=uploads))  # fmt: skip
    ftp_root = work / "ftp-root"  # a copy, so the uploaded logs stay out of nginx's tree
    shutil.copytree(tree, ftp_root, dirs_exist_ok=True)
    return {
        "nginx": [shutil.which("nginx") or "nginx", "-c", str(conf), "-p", str(work)],
        "in.tftpd": [
            shutil.which("in.tftpd") or "in.tftpd",
            "--foreground",
            "--address",
            f"{HOST}:{ports['tftp']}",
            "--secure",
            str(tree),
        ],
        "pyftpdlib": [
            sys.executable,
            "-m",
            "pyftpdlib",
            "-i",
            HOST,
            "-p",
            str(ports["ftp"]),
            "-d",
            str(ftp_root),
            "-u",
            "PlcmSpIp",
            "-P",
            "PlcmSpIp",
            "-w",
        ],
    }


def reference_problems() -> list[str]:
    problems = []
    for tool in ("nginx", "in.tftpd"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed (apt-get install nginx tftpd-hpa)")
    try:
        import pyftpdlib  # noqa: F401
    except ImportError:
        problems.append("pyftpdlib is not installed (pip install pyftpdlib==2.2.0)")
    if os.geteuid() != 0:
        problems.append("needs root (in.tftpd chroots, nginx's worker drops to nobody)")
    return problems


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    phones: int
    rate: float
    seconds: float
    """First power-on to the last phone booted."""
    outcome: Outcome
    cpu: float
    peak_rss: int
    parts: dict[str, float] = field(default_factory=dict)
    """CPU seconds of each server of the run."""
    notes: list[str] = field(default_factory=list)
    """The server's own warnings (over capacity, errors), as its log has them."""

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.outcome.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _client(plans, servers, expected, arrivals, start_at, pipe) -> None:
    """One client process: its share of the fleet, on uvloop when installed."""
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        outcome = runner.run(run_fleet(plans, servers, expected, arrivals, start_at))
    pipe.send(outcome)
    pipe.close()


def drive(plans: list[PhonePlan], servers: dict[str, tuple[str, int]],
          expected: dict[str, bytes], rate: float, clients: int,
          seed: int) -> tuple[Outcome, float, float]:  # fmt: skip
    """Boot the fleet at ``rate`` from ``clients`` processes: (outcome, start, end)."""
    import random

    rng = random.Random(seed)
    window = len(plans) / rate
    arrivals = [rng.uniform(0, window) for _ in plans]
    start_at = time.time() + 1.0
    context = multiprocessing.get_context("fork")
    workers = []
    for share in range(clients):
        mine = list(range(share, len(plans), clients))
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_client, args=(
            [plans[i] for i in mine], servers, expected, [arrivals[i] for i in mine],
            start_at, send))  # fmt: skip
        process.start()
        workers.append((process, receive))
    total = Outcome()
    for process, receive in workers:
        outcome: Outcome = receive.recv()
        process.join()
        total.latencies += outcome.latencies
        total.failed += outcome.failed
        total.problems += outcome.problems[: 10 - len(total.problems)]
        total.requests += outcome.requests
        total.retries += outcome.retries
        total.busy += outcome.busy
        total.timeouts += outcome.timeouts
        total.finished_at = max(total.finished_at, outcome.finished_at)
    first = start_at + min(arrivals)
    return total, first, total.finished_at


def measured_run(name: str, roots: dict[str, int], plans, servers, expected, rate: float,
                 clients: int, seed: int) -> Run:  # fmt: skip
    """Drive the fleet at the servers whose process trees are ``roots`` (name: pid)."""
    time.sleep(0.5)  # start-up work settles
    before = {server: cpu_seconds([pid]) for server, pid in roots.items()}
    watch = MemoryWatch(list(roots.values()))
    outcome, first, last = drive(plans, servers, expected, rate, clients, seed)
    time.sleep(0.6)  # the event log's last flush, in.tftpd's last children reaped
    parts = {server: cpu_seconds([pid]) - before[server] for server, pid in roots.items()}
    run = Run(name, len(plans), rate, last - first, outcome, sum(parts.values()), watch.stop())
    run.parts = parts
    return run


def plugtone_run(name: str, work: Path, data: Path, plans, expected, rate: float,
                 args) -> Run:  # fmt: skip
    ports = {"http": free_port(socket.SOCK_STREAM), "tftp": free_port(socket.SOCK_DGRAM),
             "ftp": free_port(socket.SOCK_STREAM)}  # fmt: skip
    servers = {kind: (HOST, port) for kind, port in ports.items()}
    log = work / f"plugtone-{name.replace(' ', '-').replace(',', '')}.log"

    def ready(process: subprocess.Popen) -> None:
        wait_tcp(ports["http"], process)
        wait_tcp(ports["ftp"], process)
        wait_udp(ports["tftp"], process)

    command = plugtone_command(data, ports, args.workers)
    with processes.running(command, log, ready) as process:
        run = measured_run(name, {"plugtone": process.pid}, plans, servers, expected, rate,
                           args.clients, args.seed)  # fmt: skip
    run.notes = [line.split(": ", 1)[-1] for line in log.read_text().splitlines()
                 if ("WARNING" in line or "ERROR" in line)
                 and not any(noise in line for noise in SHUTDOWN_NOISE)][:6]  # fmt: skip
    return run


def reference_run(work: Path, tree: Path, plans, expected, rate: float, args) -> Run:
    ports = {"http": free_port(socket.SOCK_STREAM), "tftp": free_port(socket.SOCK_DGRAM),
             "ftp": free_port(socket.SOCK_STREAM)}  # fmt: skip
    servers = {kind: (HOST, port) for kind, port in ports.items()}
    commands = reference_commands(work, tree, ports)
    waits = {"nginx": lambda p: wait_tcp(ports["http"], p),
             "in.tftpd": lambda p: wait_udp(ports["tftp"], p),
             "pyftpdlib": lambda p: wait_tcp(ports["ftp"], p)}  # fmt: skip
    with (processes.running(commands["nginx"], work / "nginx.log", waits["nginx"]) as nginx,
          processes.running(commands["in.tftpd"], work / "in.tftpd.log",
                            waits["in.tftpd"]) as tftpd,
          processes.running(commands["pyftpdlib"], work / "pyftpdlib.log",
                            waits["pyftpdlib"]) as ftpd):  # fmt: skip
        roots = {"nginx": nginx.pid, "in.tftpd": tftpd.pid, "pyftpdlib": ftpd.pid}
        return measured_run("nginx + in.tftpd + pyftpdlib", roots, plans, servers, expected,
                            rate, args.clients, args.seed)  # fmt: skip


# --------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------


def print_runs(runs: list[Run], plans: list[PhonePlan], args, timings: dict[str, float]) -> None:
    mix: dict[str, int] = {}
    for plan in plans:
        key = f"{plan.vendor}/{plan.transport}"
        mix[key] = mix.get(key, 0) + 1
    requests = sum(len(plan.steps) for plan in plans)
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in sorted(mix.items()))
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\nBoot storm: {len(plans):,} phones ({kinds}), "
          f"{requests:,} steps; loopback, {os.cpu_count()} CPUs, {args.clients} client "
          f"process(es), plugtone with {args.workers} worker(s); fresh server per run; "
          f"inventory loaded in {timings['inventory']:.0f} s, tree exported in "
          f"{timings['export']:.0f} s; load average at the end {load} (other work on the "
          "machine slows the latencies; the CPU seconds are the servers' own)")  # fmt: skip
    header = ("run", "arrivals/s", "done in s", "p50 s", "p95 s", "p99 s", "max s", "failed",
              "retries", "503s", "timeouts", "CPU s", "CPU ms/phone", "peak MiB")  # fmt: skip
    table = [header]
    for run in runs:
        o = run.outcome
        table.append((run.name, f"{run.rate:,.0f}", f"{run.seconds:.1f}",
                      f"{run.percentile(0.5):.3f}", f"{run.percentile(0.95):.3f}",
                      f"{run.percentile(0.99):.3f}", f"{run.percentile(1.0):.2f}",
                      str(o.failed), str(o.retries), str(o.busy), str(o.timeouts),
                      f"{run.cpu:.1f}", f"{1000 * run.cpu / run.phones:.2f}",
                      f"{run.peak_rss / 2**20:.0f}"))  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(line, widths, strict=True))))  # fmt: skip
    for run in runs:
        for problem in run.outcome.problems[:5]:
            print(f"  {run.name}: {problem}")
        if len(run.parts) > 1:
            parts = ", ".join(f"{server} {cpu:.1f} s" for server, cpu in run.parts.items())
            print(f"  {run.name}: CPU {parts}")
        for note in run.notes:
            print(f"  {run.name} logged: {note}")
    ours = runs[0]
    per_phone = ours.cpu / ours.phones
    if ours.phones >= 100_000:
        how = f"measured at {ours.phones:,} phones"
    else:
        how = (f"{ours.cpu:.1f} CPU s for {ours.phones:,} phones, scaled by "
               f"{100_000 / ours.phones:g} (cold caches at both sizes; the per-phone "
               "cost does not depend on fleet size beyond the site batches)")  # fmt: skip
    print(f"100,000 phones on plugtone: {per_phone * 100_000:.0f} s of server CPU "
          f"({how}); goal < 60 s")  # fmt: skip
    for run in runs[1:]:
        if run.name.startswith("nginx") and run.cpu:
            print(f"plugtone vs the reference servers: {ours.cpu / run.cpu:.1f}x the CPU, "
                  f"{ours.peak_rss / max(run.peak_rss, 1):.1f}x the peak memory")  # fmt: skip
        if "overload" in run.name:
            state = "every phone completed" if not run.outcome.failed else "PHONES FAILED"
            print(f"overload: {run.rate:,.0f} arrivals/s ({args.overload:g}x); "
                  f"{state}; {run.phones / run.seconds:,.0f} phones/s served overall")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=250.0, help="phones powered on a second")
    parser.add_argument("--overload", type=float, default=10.0, help="overload run: x --rate")
    parser.add_argument(
        "--polycom-ftp",
        type=float,
        default=0.2,
        help="fraction of the Polycoms booting over FTP (the rest HTTP)",
    )
    parser.add_argument("--workers", type=int, default=1, help="plugtone serve --workers")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--skip-references", action="store_true")
    parser.add_argument("--skip-overload", action="store_true")
    parser.add_argument("--keep", type=Path, help="keep the data, tree and server logs here")
    args = parser.parse_args(argv)
    if not 100 <= args.phones <= 100_000:
        parser.error("--phones must be 100..100000")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="plugtone-storm-") as directory:
        work = Path(directory) if args.keep is None else args.keep
        if args.keep is not None:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        work.chmod(0o755)  # the reference servers run as nobody
        data, tree, expected, timings = prepare(work, args.phones)
        plans = plans_for(args.phones, expected, args.polycom_ftp)
        runs = [plugtone_run("plugtone", work, data, plans, expected, args.rate, args)]
        print(f"[{time.monotonic() - started:.0f} s] plugtone run done", flush=True)
        problems = reference_problems()
        if args.skip_references:
            print("reference servers skipped (--skip-references)")
        elif problems:
            print("reference servers skipped: " + "; ".join(problems))
        else:
            runs.append(reference_run(work, tree, plans, expected, args.rate, args))
            print(f"[{time.monotonic() - started:.0f} s] reference run done", flush=True)
        if not args.skip_overload:
            rate = args.rate * args.overload
            runs.append(plugtone_run("plugtone, overload", work, data, plans, expected, rate,
                                     args))  # fmt: skip
        print_runs(runs, plans, args, timings)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

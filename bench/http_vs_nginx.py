"""The phone-facing HTTP request path: plugtone against nginx, same file, same client, same run.

An inventory of N phones (``bench/fleet.py``, default 600) is applied to a fresh data
directory whose ``plugtone.toml`` trusts 127.0.0.1 (nothing is trusted by default, and a
stranger asking for a ``<MAC>.cfg`` is answered 401); ``plugtone export-tree`` writes
what phones would be served, and nginx (``worker_processes 1``, ``access_log off``,
``sendfile on``) serves that tree. plugtone runs as ``plugtone serve`` (HTTP only), one
process, every request recorded in its event log as always.

Both are driven by ``wrk`` (C, one thread, 50 connections by default; installed with
apt-get when missing and run as root) asking for the first Aastra phone's
``<MAC>.cfg`` with that phone's User-Agent, as a booting phone does:

- ``200 keep-alive`` and ``200 close`` (``Connection: close``: a new TCP connection
  per request, as many phones do);
- ``304 keep-alive`` and ``304 close``: the same with ``If-None-Match`` holding the
  server's own ETag (each server's is read first), the daily resync of a fleet.

The servers are pinned to CPU 0 and wrk to CPU 1 (``os.sched_setaffinity`` before
exec), so the client never takes the server's core; wrk pushes nginx far beyond
plugtone's rate, so the client is not what bounds plugtone. After a short warm-up each
run lasts ``--seconds`` (default 5). Printed per run and server: requests/s, p50 and p99
latency (wrk's ``--latency``), the server process's CPU seconds per 1,000 requests
(user + system from ``/proc/PID/stat``, nginx's worker included), failures (socket
errors and non-2xx/3xx answers); then plugtone/nginx ratios, and whether plugtone's
event log holds at least as many rows as wrk counted answers.

    .venv/bin/python bench/http_vs_nginx.py [--phones 600] [--seconds 5] [--connections 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import fleet
import httpx
import processes

HOST = "127.0.0.1"
PLUGTONE = [sys.executable, "-m", "plugtone"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAC = "00085D000000"
USER_AGENT = "Aastra6757i MAC:00-08-5D-00-00-00 V:3.2.2.1136-SIP"
SERVER_CPU, CLIENT_CPU = 0, 1
RUNS = (("200 keep-alive", False, False), ("200 close", True, False),
        ("304 keep-alive", False, True), ("304 close", True, True))  # fmt: skip


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen

    def pids(self) -> list[int]:
        """The server process and its children (nginx's worker)."""
        pids = [self.process.pid]
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                pids += [int(pid) for pid in (task / "children").read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS


@dataclass
class Result:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    failures: int
    cpu_per_1000: float


def pinned(cpu: int):
    """A ``preexec_fn`` pinning the child (and every thread it starts) to ``cpu``."""
    usable = os.sched_getaffinity(0)
    return (lambda: os.sched_setaffinity(0, {cpu})) if cpu in usable else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def which(name: str, package: str) -> str:
    found = shutil.which(name) or next(
        (path for path in (f"/usr/sbin/{name}",) if os.access(path, os.X_OK)), None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"{name} is missing: apt-get install -y {package}")
        subprocess.run(["apt-get", "install", "-y", package], capture_output=True, timeout=600)
        found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                       else None)  # fmt: skip
    if found is None:
        raise SystemExit(f"{name} is not installed (apt-get install {package})")
    return found


def cli(*args: str, data: Path) -> None:
    result = subprocess.run([*PLUGTONE, *args, "--data", str(data)], capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"plugtone {args[0]} failed: {result.stderr or result.stdout}")


def prepare(work: Path, phones: int) -> tuple[Path, Path]:
    """A data directory with the fleet applied, and the tree exported from it."""
    data, tree = work / "data", work / "tree"
    inventory = work / "fleet.yaml"
    inventory.write_text(fleet.fleet_yaml(phones))
    cli("init", data=data)
    processes.trust_networks(data, f"{HOST}/32")
    cli("apply", str(inventory), data=data)
    cli("export-tree", str(tree), "--world-readable", data=data)
    if not (tree / f"{MAC}.cfg").is_file():
        raise SystemExit(f"export-tree wrote no {MAC}.cfg")
    return data, tree


def wait_answering(url: str):
    def answering(process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError("the server exited while starting")
            try:
                httpx.head(url, timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer in 30 s") from None
                time.sleep(0.1)

    return answering


@contextlib.contextmanager
def plugtone(work: Path, data: Path) -> Iterator[Server]:
    port = free_port()
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST, "--http-port",
               str(port), "--https-port", "0", "--tftp-port", "0", "--ftp-port", "0",
               "--admin-port", "0"]  # fmt: skip
    url = f"http://{HOST}:{port}/{MAC}.cfg"
    with processes.running(command, work / "plugtone.log", wait_answering(url),
                           preexec_fn=pinned(SERVER_CPU)) as process:  # fmt: skip
        yield Server("plugtone", url, process)


@contextlib.contextmanager
def nginx(work: Path, tree: Path) -> Iterator[Server]:
    binary = which("nginx", "nginx-light")
    port = free_port()
    prefix = work / "nginx"
    prefix.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name
    config = prefix / "nginx.conf"
    config.write_text(f"""
daemon off;
{"user " + user + ";" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {HOST}:{port} backlog=4096;
        root {tree};
    }}
}}
""")
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    url = f"http://{HOST}:{port}/{MAC}.cfg"
    with processes.running(command, work / "nginx.log", wait_answering(url),
                           preexec_fn=pinned(SERVER_CPU)) as process:  # fmt: skip
        yield Server("nginx", url, process)


def wrk(url: str, headers: Sequence[str], seconds: float, connections: int) -> dict:
    binary = which("wrk", "wrk")
    command = [binary, "-t1", f"-c{connections}", f"-d{round(seconds)}s", "--latency", "--timeout",
               "5s", *(part for header in headers for part in ("-H", header)), url]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                         preexec_fn=pinned(CLIENT_CPU)).stdout  # fmt: skip
    found = {"out": out}
    found["rate"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    found["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    for percent in ("50", "99"):
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
        found[f"p{percent}"] = float(match.group(1)) * scale
    failures = 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        failures += sum(int(value) for value in errors.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        failures += int(bad.group(1))
    found["failures"] = failures
    return found


def measure(server: Server, close: bool, conditional: bool, seconds: float,
            connections: int) -> Result:  # fmt: skip
    headers = [f"User-Agent: {USER_AGENT}"]
    first = httpx.get(server.url, headers={"User-Agent": USER_AGENT})
    if first.status_code != 200:
        raise SystemExit(f"{server.name} answered {first.status_code} for {MAC}.cfg")
    if conditional:
        etag = first.headers["etag"]
        check = httpx.get(server.url, headers={"User-Agent": USER_AGENT, "If-None-Match": etag})
        if check.status_code != 304:
            raise SystemExit(f"{server.name} answered {check.status_code} to If-None-Match")
        headers.append(f"If-None-Match: {etag}")
    if close:
        headers.append("Connection: close")
    wrk(server.url, headers, 1, connections)  # warm-up
    before = server.cpu_seconds()
    found = wrk(server.url, headers, seconds, connections)
    cpu = server.cpu_seconds() - before
    requests = found["requests"]
    return Result(found["rate"], found["p50"], found["p99"], requests, found["failures"],
                  1000 * cpu / requests if requests else float("nan"))  # fmt: skip


def events_logged(data: Path) -> int:
    with contextlib.closing(sqlite3.connect(data / "plugtone.db")) as db:
        return db.execute("SELECT count(*) FROM provisioning_events").fetchone()[0]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=600)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--only", choices=("plugtone", "nginx"), default=None)
    options = parser.parse_args(argv)
    results: dict[tuple[str, str], Result] = {}
    with tempfile.TemporaryDirectory(prefix="plugtone-http-") as temp:
        work = Path(temp)
        os.chmod(work, 0o755)  # nginx's worker reads the tree
        data, tree = prepare(work, options.phones)
        logged_before = events_logged(data)
        servers = []
        if options.only != "nginx":
            servers.append(("plugtone", lambda: plugtone(work, data)))
        if options.only != "plugtone":
            servers.append(("nginx", lambda: nginx(work, tree)))
        answered = 0
        for name, start in servers:
            with start() as server:
                for label, close, conditional in RUNS:
                    result = measure(server, close, conditional, options.seconds,
                                     options.connections)  # fmt: skip
                    results[name, label] = result
                    if name == "plugtone":
                        answered += result.requests
                    print(f"{name:9} {label:15} {result.rate:9.0f} req/s  p50 "
                          f"{result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                          f"{result.cpu_per_1000:6.3f} CPU s/1000  failures "
                          f"{result.failures}", flush=True)  # fmt: skip
        if options.only != "nginx":
            logged = events_logged(data) - logged_before
            verdict = "ok" if logged >= answered else "MISSING EVENTS"
            print(f"plugtone event log: {logged} rows for {answered} timed answers "
                  f"(plus warm-ups and probes): {verdict}")  # fmt: skip
    if options.only is None:
        print("\nplugtone / nginx")
        for label, _, _ in RUNS:
            ours, theirs = results["plugtone", label], results["nginx", label]
            print(f"  {label:15} rate {ours.rate / theirs.rate:5.2f}x   "
                  f"CPU/request {ours.cpu_per_1000 / theirs.cpu_per_1000:5.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()

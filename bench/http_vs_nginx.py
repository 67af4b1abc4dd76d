"""The phone-facing HTTP(S) request path: plugtone against nginx, same file, same client, same run.

(Named ``http_vs_nginx.py``, not the issue's ``bench/http.py``: a script named
``http.py`` in ``bench/`` shadows the standard library's ``http`` for every bench run
from that folder, httpx's import of it included.)

An inventory of N phones (``bench/fleet.py``, default 600) is applied to a fresh data
directory whose ``plugtone.toml`` trusts 127.0.0.1 (nothing is trusted by default, and a
stranger asking for a ``<MAC>.cfg`` is answered 401), with the self-signed ECDSA
(P-256) pair of ``plugtone init --tls``; ``plugtone export-tree`` writes what phones
would be served, and nginx (``worker_processes 1``, ``access_log off``, ``sendfile
on``; HTTPS with the same certificate and key, ``ssl_session_cache shared:SSL:10m``
and session tickets, so a reconnecting client resumes its session) serves that tree.
plugtone runs as ``plugtone serve`` (HTTP and HTTPS), one process, every request
recorded in its event log as always.

Both are driven by ``wrk`` (C, one thread, 50 connections by default; installed with
apt-get when missing and run as root) asking for the first Aastra phone's
``<MAC>.cfg`` with that phone's User-Agent, as a booting phone does:

- ``200 keep-alive`` and ``200 close`` (``Connection: close``: a new TCP connection
  per request, as many phones do);
- ``304 keep-alive`` and ``304 close``: the same with ``If-None-Match`` holding the
  server's own ETag (each server's is read first), the daily resync of a fleet;
- ``https 200 keep-alive`` and ``https 200 close``: over TLS; wrk keeps the session
  of each connection and offers it again when it reconnects (``SSL_clear``), so the
  ``close`` run is a resumed handshake per request. How many of wrk's handshakes
  nginx resumed is counted in a short probe through a logging listener of its own
  (``$ssl_session_reused``) and printed.

Both servers run at once, pinned to CPU 0, and wrk to CPU 1 (``os.sched_setaffinity``
before exec), so the client never takes the servers' core; the idle one costs
nothing while the other is measured. The machine is shared, so each comparison is
run ``--rounds`` times (default 3), interleaved (plugtone then nginx, then nginx
then plugtone, ...; the comparisons in the other order every other round), and the
medians are reported. After a 1-second warm-up each run
lasts ``--seconds`` (default 4). Printed per run and server: requests/s, p50 and p99
latency (wrk's ``--latency``), the server process's CPU seconds per 1,000 requests
(user + system from ``/proc/PID/stat``, nginx's worker included), failures (socket
errors and non-2xx/3xx answers); then per comparison the medians and the median of
the rounds' plugtone/nginx ratios, and whether plugtone's event log holds at least as
many rows as wrk counted answers.

    .venv/bin/python bench/http_vs_nginx.py [--phones 600] [--seconds 4] [--rounds 3]
        [--connections 50] [--no-https] [--only plugtone|nginx]
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
from statistics import median

import fleet
import httpx
import processes

HOST = "127.0.0.1"
PLUGTONE = [sys.executable, "-m", "plugtone"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAC = "00085D000000"
USER_AGENT = "Aastra6757i MAC:00-08-5D-00-00-00 V:3.2.2.1136-SIP"
SERVER_CPU, CLIENT_CPU = 0, 1
RUNS = (("200 keep-alive", "http", False, False), ("200 close", "http", True, False),
        ("304 keep-alive", "http", False, True), ("304 close", "http", True, True),
        ("https 200 keep-alive", "https", False, False),
        ("https 200 close", "https", True, False))  # fmt: skip
"""(label, scheme, Connection: close, If-None-Match) of each comparison."""


@dataclass
class Server:
    name: str
    urls: dict[str, str]
    """Scheme -> the URL of the phone's file."""
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
    """A data directory with the fleet applied and a TLS pair, and the tree exported."""
    data, tree = work / "data", work / "tree"
    inventory = work / "fleet.yaml"
    inventory.write_text(fleet.fleet_yaml(phones))
    cli("init", "--tls", data=data)
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
                httpx.head(url, timeout=1, verify=False)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer in 30 s") from None
                time.sleep(0.1)

    return answering


@contextlib.contextmanager
def plugtone(work: Path, data: Path, https: bool) -> Iterator[Server]:
    port, secure = free_port(), free_port() if https else 0
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST, "--http-port",
               str(port), "--https-port", str(secure), "--tftp-port", "0", "--ftp-port", "0",
               "--admin-port", "0"]  # fmt: skip
    urls = {"http": f"http://{HOST}:{port}/{MAC}.cfg"}
    if https:
        urls["https"] = f"https://{HOST}:{secure}/{MAC}.cfg"
    with processes.running(command, work / "plugtone.log", wait_answering(urls["http"]),
                           preexec_fn=pinned(SERVER_CPU)) as process:  # fmt: skip
        if https:
            wait_answering(urls["https"])(process)
        yield Server("plugtone", urls, process)


@contextlib.contextmanager
def nginx(work: Path, tree: Path, data: Path, https: bool) -> Iterator[Server]:
    binary = which("nginx", "nginx-light")
    port, secure, probe = free_port(), free_port(), free_port()
    prefix = work / "nginx"
    prefix.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name
    config = prefix / "nginx.conf"
    tls = f"""
        ssl_certificate {data / "tls" / "cert.pem"};
        ssl_certificate_key {data / "tls" / "key.pem"};
        ssl_session_cache shared:SSL:10m;
        ssl_session_tickets on;"""
    secure_servers = (
        f"""
    server {{
        listen {HOST}:{secure} ssl backlog=4096;{tls}
        root {tree};
    }}
    log_format resumed $ssl_session_reused;
    server {{
        listen {HOST}:{probe} ssl;{tls}
        access_log {prefix / "resumed.log"} resumed;
        root {tree};
    }}"""
        if https
        else ""
    )
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
    }}{secure_servers}
}}
""")
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    urls = {"http": f"http://{HOST}:{port}/{MAC}.cfg"}
    if https:
        urls["https"] = f"https://{HOST}:{secure}/{MAC}.cfg"
        urls["probe"] = f"https://{HOST}:{probe}/{MAC}.cfg"
    with processes.running(command, work / "nginx.log", wait_answering(urls["http"]),
                           preexec_fn=pinned(SERVER_CPU)) as process:  # fmt: skip
        yield Server("nginx", urls, process)


def resumption(server: Server, prefix: Path) -> tuple[int, int]:
    """How many of wrk's TLS handshakes nginx resumed, over a second of ``Connection:
    close`` requests to the logging listener: (resumed, handshakes)."""
    wrk(server.urls["probe"], ["Connection: close"], 1, 10)
    marks = (prefix / "resumed.log").read_text().split()
    return marks.count("r"), len(marks)


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


def measure(server: Server, scheme: str, close: bool, conditional: bool, seconds: float,
            connections: int) -> Result:  # fmt: skip
    url = server.urls[scheme]
    headers = [f"User-Agent: {USER_AGENT}"]
    first = httpx.get(url, headers={"User-Agent": USER_AGENT}, verify=False)
    if first.status_code != 200:
        raise SystemExit(f"{server.name} answered {first.status_code} for {MAC}.cfg")
    if conditional:
        etag = first.headers["etag"]
        check = httpx.get(url, headers={"User-Agent": USER_AGENT, "If-None-Match": etag},
                          verify=False)  # fmt: skip
        if check.status_code != 304:
            raise SystemExit(f"{server.name} answered {check.status_code} to If-None-Match")
        headers.append(f"If-None-Match: {etag}")
    if close:
        headers.append("Connection: close")
    wrk(url, headers, 1, connections)  # warm-up
    before = server.cpu_seconds()
    found = wrk(url, headers, seconds, connections)
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
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--no-https", dest="https", action="store_false")
    parser.add_argument("--only", choices=("plugtone", "nginx"), default=None)
    options = parser.parse_args(argv)
    runs = [run for run in RUNS if options.https or run[1] == "http"]
    results: dict[tuple[str, str], list[Result]] = {}
    with tempfile.TemporaryDirectory(prefix="plugtone-http-") as temp, \
            contextlib.ExitStack() as stack:  # fmt: skip
        work = Path(temp)
        os.chmod(work, 0o755)  # nginx's worker reads the tree
        data, tree = prepare(work, options.phones)
        logged_before = events_logged(data)
        servers = []
        if options.only != "nginx":
            servers.append(stack.enter_context(plugtone(work, data, options.https)))
        if options.only != "plugtone":
            servers.append(stack.enter_context(nginx(work, tree, data, options.https)))
        answered = 0
        for round_ in range(options.rounds):
            # Every other round runs the comparisons in the other order: a server slows a
            # little as its event log grows and closed connections pile up in TIME_WAIT,
            # so a case that always ran later (304 after 200) would always look slower.
            for label, scheme, close, conditional in runs if round_ % 2 == 0 else runs[::-1]:
                order = servers if round_ % 2 == 0 else servers[::-1]
                for server in order:
                    result = measure(server, scheme, close, conditional, options.seconds,
                                     options.connections)  # fmt: skip
                    results.setdefault((server.name, label), []).append(result)
                    if server.name == "plugtone":
                        answered += result.requests
                    print(f"round {round_ + 1} {server.name:9} {label:21} {result.rate:9.0f} "
                          f"req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                          f"{result.cpu_per_1000:6.3f} CPU s/1000  failures "
                          f"{result.failures}", flush=True)  # fmt: skip
        if options.https and options.only != "plugtone":
            resumed, handshakes = resumption(servers[-1], work / "nginx")
            print(f"wrk's TLS handshakes resumed by nginx: {resumed} of {handshakes}")
        if options.only != "nginx":
            stack.close()  # plugtone stopped: its last events flushed
            logged = events_logged(data) - logged_before
            verdict = "ok" if logged >= answered else "MISSING EVENTS"
            print(f"plugtone event log: {logged} rows for {answered} timed answers "
                  f"(plus warm-ups and probes): {verdict}")  # fmt: skip
    print(f"\nmedians of {options.rounds} rounds")
    for label, *_ in runs:
        for name in ("plugtone", "nginx"):
            rows = results.get((name, label))
            if not rows:
                continue
            print(f"  {name:9} {label:21} {median(r.rate for r in rows):9.0f} req/s  p50 "
                  f"{median(r.p50_ms for r in rows):6.2f} ms  p99 "
                  f"{median(r.p99_ms for r in rows):6.2f} ms  "
                  f"{median(r.cpu_per_1000 for r in rows):6.3f} CPU s/1000  failures "
                  f"{sum(r.failures for r in rows)}")  # fmt: skip
    if options.only is None:
        print("\nplugtone / nginx (median of the rounds' ratios)")
        for label, *_ in runs:
            pairs = list(zip(results["plugtone", label], results["nginx", label], strict=True))
            rate = median(ours.rate / theirs.rate for ours, theirs in pairs)
            cpu = median(ours.cpu_per_1000 / theirs.cpu_per_1000 for ours, theirs in pairs)
            print(f"  {label:21} rate {rate:5.2f}x   CPU/request {cpu:5.2f}x")


if __name__ == "__main__":
    main()

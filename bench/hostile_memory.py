"""Hostile requests against a real ``plugtone serve``: its memory before, after and at peak.

The issue-11 attack: unauthenticated HTTP requests with random User-Agents and made-up
MAC file names (``<MAC>.cfg``, ``<MAC>-phone.cfg``, ``SIP<MAC>.cnf``,
``cisco/directory-<MAC>.xml``, and ``aastra.cfg`` with a made-up MAC in an Aastra-shaped
User-Agent), every tenth one with an 8 KB User-Agent or a 9 KB header that must get 431.
Requests go over keep-alive raw sockets from ``--threads`` threads (refused ones on a
connection of their own, since a 431 closes it).

By default 127.0.0.1 is a trusted network (``[security]`` in the server's
``plugtone.toml``): the requests take the resolver's whole path (identification, phone
look-ups, renders, the memos), as a hostile client on the phones' LAN would, and no
sweep defence slows them. ``--stranger`` sends them as a stranger instead (nothing
trusted, as a new install): stranger files, not-found, and the sweep defence's blocks.

After a warm-up (``--warm-up`` requests: worker threads, store connections and their
page caches, allocator arenas all come up), it reads ``VmRSS`` of the server from
``/proc/PID/status``, sends ``--requests`` (default 100,000), sampling RSS every 0.2 s
for the peak, and prints RSS before, after and peak, and requests/s. The issue's bound:
within 20 MB of where it started.

    .venv/bin/python bench/hostile_memory.py [--requests 100000] [--threads 8] [--stranger]
"""

from __future__ import annotations

import argparse
import random
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import processes

PLUGTONE = [sys.executable, "-m", "plugtone"]
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "inventory.yaml"
UA_SIZE = 430
"""Random User-Agent bytes under the 512-byte cap (room for an Aastra prefix)."""
LETTERS = string.ascii_letters + string.digits + " ;/.()"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(path: str, *headers: str, close: bool = False) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: phone", *headers]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join([*lines, "", ""])).encode("latin-1")


def refused(port: int, head: bytes) -> int:
    """Send ``head`` on a connection of its own; the status of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(head)
        answer = b""
        try:
            while chunk := client.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def worker(port: int, count: int, seed: int, statuses: dict[int, int], lock) -> None:
    rng = random.Random(seed)
    client = reader = None
    seen: dict[int, int] = {}
    for index in range(count):
        mac = f"{rng.getrandbits(48):012X}"
        path = rng.choice([f"/{mac}.cfg", f"/{mac}-phone.cfg", f"/SIP{mac}.cnf",
                           f"/cisco/directory-{mac}.xml", "/aastra.cfg"])  # fmt: skip
        if index % 10 == 9:
            big = rng.choice([f"User-Agent: {''.join(rng.choices(LETTERS, k=8192))}",
                              f"X-Pad: {'p' * 9000}"])  # fmt: skip
            status = refused(port, request(path, big, close=True))
        else:
            agent = "".join(rng.choices(LETTERS, k=UA_SIZE))
            if index % 4 == 0:
                agent = f"Aastra6757i MAC:00-08-5D-{mac[6:8]}-{mac[8:10]}-{mac[10:]} V:{agent}"
            if client is None:
                client = socket.create_connection(("127.0.0.1", port), timeout=30)
                reader = client.makefile("rb")
            assert reader is not None
            client.sendall(request(path, f"User-Agent: {agent}"))
            line = reader.readline()
            length = 0
            while (header := reader.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            reader.read(length)
            status = int(line.split(b" ", 2)[1])
        seen[status] = seen.get(status, 0) + 1
    if client is not None:
        client.close()
    with lock:
        for status, number in seen.items():
            statuses[status] = statuses.get(status, 0) + number


def storm(port: int, count: int, threads: int, seed: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    share = count // threads
    workers = [
        threading.Thread(target=worker, args=(port, share, seed * 1000 + part, statuses, lock))
        for part in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--warm-up", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stranger", action="store_true",
                        help="do not trust 127.0.0.1: the requests are a stranger's")  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        data = Path(work) / "data"
        for command in (["init"], ["apply", str(EXAMPLE)]):
            subprocess.run([*PLUGTONE, *command, "--data", str(data)], check=True,
                           capture_output=True, timeout=300)  # fmt: skip
            if command == ["init"] and not args.stranger:
                processes.trust_networks(data, "127.0.0.1/32")
        port = free_port()
        command = [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1",
                   "--http-port", str(port), "--tftp-port", "0", "--ftp-port", "0",
                   "--admin-port", "0"]  # fmt: skip

        def ready(process: subprocess.Popen) -> None:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError("plugtone serve exited")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError("plugtone serve did not start in 30 s")

        with processes.running(command, Path(work) / "serve.log", ready) as process:
            pid = process.pid
            idle = rss_kib(pid)
            storm(port, args.warm_up, args.threads, seed=1)
            time.sleep(1.0)
            before = rss_kib(pid)
            peak = before
            done = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not done.wait(0.2):
                    peak = max(peak, rss_kib(pid))

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.monotonic()
            statuses = storm(port, args.requests, args.threads, seed=2)
            elapsed = time.monotonic() - started
            done.set()
            sampler.join()
            time.sleep(1.0)
            after = rss_kib(pid)
    sent = sum(statuses.values())
    print(f"hostile HTTP requests against plugtone serve: {sent:,} after a warm-up of "
          f"{args.warm_up:,}, {args.threads} client threads, loopback "
          f"({'a stranger' if args.stranger else 'a trusted network'})")  # fmt: skip
    print(f"statuses: {dict(sorted(statuses.items()))}")
    grown, peaked = (after - before) / 1024, (peak - before) / 1024
    print(f"RSS idle {idle / 1024:.1f} MiB, before {before / 1024:.1f} MiB, "
          f"after {after / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB; "
          f"growth {grown:+.1f} MiB (peak {peaked:+.1f})")  # fmt: skip
    print(f"{sent / elapsed:,.0f} requests/s ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()

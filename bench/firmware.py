"""Firmware over HTTP: plugtone against nginx, same image, same client, same run.

N concurrent clients (default 20) make D downloads in all (default 100) of one image
(default 30 MB) over loopback, first from plugtone, then from nginx serving the same
file from a static tree (``sendfile on``, ``worker_processes auto``, ``access_log
off``; installed with apt-get when missing and run as root). Each server gets a short
warm-up first (page cache, nginx's workers, plugtone's resolver). Printed per server:
MB/s (image bytes delivered / wall time), failures (an error, a status other than 200,
a wrong size, or a wrong SHA-256 on the downloads that are hashed), the server's CPU
seconds, and plugtone's peak memory (``VmHWM`` of its process; nginx's is its
workers'). The ratio plugtone/nginx is the figure to watch (target >= 0.8).

The client is curl, one process per download, writing to /dev/null: C, no
interpreter in the way, so on a small machine the client costs little beside the
servers, and both servers pay the same. Every download's status and size come from
curl's ``-w``; every ``--verify-every``-th download (default every 10th) is written to
disk instead and its SHA-256 checked after the timed run, so hashing 3 GB does not
compete with the servers for the CPU.

Which plugtone: ``--server real`` is ``plugtone serve`` on a data directory with the
example inventory, 127.0.0.1 a trusted network (``[security]`` in its ``plugtone.toml``:
nothing is trusted by default, and a stranger gets no firmware), the image added as a
Polycom release (``plugtone firmware add``), pinned to the IP 650 (``plugtone firmware
pin``) and fetched the way that phone does
(its master file first, so plugtone knows the address, then ``sip.ld`` with its
User-Agent). Polycom because a Polycom phone is sent its pinned image whenever it asks
(it compares it with its flash itself), so one phone can download it a hundred times;
an Aastra would be refused repeated offers to one MAC by its loop guard.
``--server double`` is the servers ``plugtone serve`` runs (``serve_with``) over a
resolver double that answers one name with the image (as ``tests/test_large_files.py``
does); ``--streaming`` adds a run of that double with zero-copy turned off, to compare
the two ways of sending. ``auto`` (the default) uses ``real`` when its setup works.

    .venv/bin/python bench/firmware.py [--size-mb 30] [--clients 20] [--downloads 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import processes

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "inventory.yaml"
PLUGTONE = [sys.executable, "-m", "plugtone"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLYCOM_MAC = "0004f2000607"
POLYCOM_MODEL = "IP650"
POLYCOM_UA = "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0101"
VERSION = "3.2.7"
WARM_UP = 4


# --------------------------------------------------------------------------------------
# Servers
# --------------------------------------------------------------------------------------


@dataclass
class Target:
    """A server under test: where to fetch the image and how to find its processes."""

    name: str
    url: str
    user_agent: str | None
    process: subprocess.Popen

    def pids(self) -> list[int]:
        """The server process and its children (nginx's workers)."""
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

    def peak_memory_mib(self) -> float:
        """Largest ``VmHWM`` among the server's processes (for nginx: one worker)."""
        peaks = [0]
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]))
        return max(peaks) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def running(command: Sequence[str], log: Path, probe: str, **popen):
    """Start ``command``, wait until ``probe`` answers over HTTP, stop it afterwards."""

    def answering(process: subprocess.Popen) -> None:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
            try:
                httpx.head(probe, timeout=1)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not answer in 30 s") from None
                time.sleep(0.1)

    return processes.running(command, log, answering, **popen)


def run_cli(*args: str, data: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*PLUGTONE, *args, "--data", str(data)], capture_output=True,
                          text=True, timeout=300)  # fmt: skip


class Unavailable(Exception):
    """The real path cannot be set up (yet): the reason, for the report."""


def prepare_real(work: Path, image: Path) -> tuple[Path, str]:
    """A data directory with the example inventory and the image pinned to the IP 650;
    returns it and the path the phone asks for."""
    data = work / "data"
    release = work / "release"
    release.mkdir()
    os.link(image, release / "sip.ld")
    steps = [
        ("init",),
        ("apply", str(EXAMPLE)),
        ("firmware", "add", "--vendor", "polycom", "--model", POLYCOM_MODEL,
         "--version", VERSION, str(release / "sip.ld")),
        ("firmware", "pin", VERSION, "--model", POLYCOM_MODEL),
    ]  # fmt: skip
    for step in steps:
        result = run_cli(*step, data=data)
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip().splitlines()[-1:]
            raise Unavailable(f"plugtone {' '.join(step[:2])}: {' '.join(message)}")
        if step[0] == "init":  # the clients' address is the phones' trusted network
            processes.trust_networks(data, f"{HOST}/32")
    return data, "sip.ld"


@contextlib.contextmanager
def plugtone_real(work: Path, data: Path, name: str, size: int) -> Iterator[Target]:
    port = free_port()
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", HOST, "--http-port",
               str(port), "--tftp-port", "0", "--ftp-port", "0", "--admin-port", "0"]  # fmt: skip
    base = f"http://{HOST}:{port}"
    with running(command, work / "plugtone.log", f"{base}/probe") as process:
        # the master file first, as the phone boots: plugtone learns its address
        master = httpx.get(f"{base}/{POLYCOM_MAC}.cfg", headers={"User-Agent": POLYCOM_UA})
        image = httpx.head(f"{base}/{name}", headers={"User-Agent": POLYCOM_UA})
        if master.status_code != 200 or image.headers.get("content-length") != str(size):
            raise Unavailable(f"the pinned image is not served ({image.status_code} for {name})")
        yield Target("plugtone", f"{base}/{name}", POLYCOM_UA, process)


@contextlib.contextmanager
def plugtone_double(work: Path, image: Path, *, zerocopy: bool = True) -> Iterator[Target]:
    port = free_port()
    command = [sys.executable, "-m", "tests.test_large_files", "serve", "--file", str(image),
               "--name", image.name, "--data", str(work / f"double-{zerocopy}"),
               "--http-port", str(port)]  # fmt: skip
    if not zerocopy:
        command.append("--no-zerocopy")
    url = f"http://{HOST}:{port}/{image.name}"
    name = "plugtone" if zerocopy else "plugtone double, streamed"
    with running(command, work / f"plugtone-{zerocopy}.log", url, cwd=ROOT) as process:
        yield Target(name, url, None, process)


def nginx_path() -> str | None:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("nginx is missing: apt-get install -y nginx-light")
        subprocess.run(["apt-get", "install", "-y", "nginx-light"], capture_output=True,
                       timeout=600)  # fmt: skip
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                          else None)  # fmt: skip
    return found


@contextlib.contextmanager
def nginx(work: Path, tree: Path, path: str) -> Iterator[Target]:
    binary = nginx_path()
    if binary is None:
        raise Unavailable("nginx is not installed (apt-get install nginx-light)")
    port = free_port()
    prefix = work / "nginx"
    prefix.mkdir()
    user = pwd.getpwuid(os.geteuid()).pw_name
    config = prefix / "nginx.conf"
    config.write_text(f"""
daemon off;
{"user " + user + ";" if os.geteuid() == 0 else ""}
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen {HOST}:{port};
        root {tree};
    }}
}}
""")
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    url = f"http://{HOST}:{port}/{path}"
    with running(command, work / "nginx.log", url) as process:
        yield Target("nginx", url, None, process)


# --------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------


@dataclass
class Result:
    server: str
    downloads: int
    seconds: float
    cpu: float
    failures: int
    problems: list[str] = field(default_factory=list)
    peak_mib: float = 0.0
    idle_mib: float = 0.0

    def rate(self, size: int) -> float:
        good = self.downloads - self.failures
        return good * size / self.seconds / 1e6 if self.seconds else 0.0


async def download(curl: str, target: Target, output: str) -> tuple[int, str, int]:
    command = [curl, "-s", "-o", output, "-w", "%{http_code} %{size_download}", target.url]
    if target.user_agent:
        command[2:2] = ["-A", target.user_agent]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    out, _ = await process.communicate()
    code, _, size = out.decode().partition(" ")
    return process.returncode or 0, code, int(size or 0)


async def storm(target: Target, args, size: int, sha256: str, keep: Path, count: int) -> Result:
    curl = shutil.which("curl") or "curl"
    gate = asyncio.Semaphore(args.clients)
    problems: list[str] = []
    kept: list[Path] = []

    async def one(index: int) -> None:
        output = "/dev/null"
        if args.verify_every and index % args.verify_every == 0:
            kept.append(keep / f"{target.name}-{index}")
            output = str(kept[-1])
        async with gate:
            status, code, got = await download(curl, target, output)
        if status or code != "200" or got != size:
            problems.append(f"download {index}: curl exit {status}, HTTP {code}, {got} bytes")

    started_cpu, started = target.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(index) for index in range(count)))
    seconds = time.perf_counter() - started
    cpu = target.cpu_seconds() - started_cpu
    for path in kept:  # hashed after the timed run
        if path.exists():
            with path.open("rb") as handle:
                if hashlib.file_digest(handle, "sha256").hexdigest() != sha256:
                    problems.append(f"{path.name}: wrong SHA-256")
        path.unlink(missing_ok=True)
    failed = {problem.split(":")[0] for problem in problems}
    return Result(target.name, count, seconds, cpu, len(failed), problems)


def measure(target: Target, args, size: int, sha256: str, keep: Path) -> Result:
    warm = asyncio.run(storm(target, args, size, sha256, keep, WARM_UP))
    idle = target.peak_memory_mib()
    result = asyncio.run(storm(target, args, size, sha256, keep, args.downloads))
    result.failures += warm.failures
    result.problems = warm.problems + result.problems
    result.peak_mib, result.idle_mib = target.peak_memory_mib(), idle
    return result


# --------------------------------------------------------------------------------------


def make_image(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as output:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            digest.update(block)
            output.write(block)
            left -= len(block)
    return digest.hexdigest()


def print_results(results: list[Result], size: int, args, server: str) -> None:
    print(f"\nfirmware over HTTP: {size / 1e6:.0f} MB image, {args.downloads} downloads by "
          f"{args.clients} concurrent curl clients, 127.0.0.1, {os.cpu_count()} CPUs; "
          f"plugtone: {server}")  # fmt: skip
    header = ("server", "MB/s", "seconds", "CPU s", "failures", "peak RSS MiB (idle)")
    rows = [header]
    for result in results:
        rows.append((result.server, f"{result.rate(size):,.0f}", f"{result.seconds:.2f}",
                     f"{result.cpu:.2f}", str(result.failures),
                     f"{result.peak_mib:.1f} ({result.idle_mib:.1f})"))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
    by_name = {result.server: result for result in results}
    ours, theirs = by_name.get("plugtone"), by_name.get("nginx")
    if ours and theirs and theirs.rate(size):
        print(f"plugtone / nginx: {ours.rate(size) / theirs.rate(size):.2f} (target >= 0.8)")
    for result in results:
        for problem in result.problems[:5]:
            print(f"  {result.server}: {problem}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--downloads", type=int, default=100)
    parser.add_argument("--verify-every", type=int, default=10,
                        help="hash every Nth download's bytes (0: none)")  # fmt: skip
    parser.add_argument("--server", choices=["auto", "real", "double"], default="auto")
    parser.add_argument("--streaming", action="store_true",
                        help="also run plugtone with zero-copy off (resolver double)")  # fmt: skip
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 1000 or not 1 <= args.downloads <= 10_000:
        parser.error("--clients must be 1..1000 and --downloads 1..10000")
    if shutil.which("curl") is None:
        raise SystemExit("curl is needed (apt-get install curl)")
    started = time.monotonic()
    size = int(args.size_mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="firmware-bench-") as directory:
        work = Path(directory)
        work.chmod(0o755)
        image = work / "firmware.bin"
        sha256 = make_image(image, size)
        keep = work / "kept"
        keep.mkdir()
        results: list[Result] = []
        path, server = image.name, "resolver double (serve_with)"
        real = None
        if args.server != "double":
            try:
                real = prepare_real(work, image)
                path, server = real[1], "plugtone serve, Polycom release pinned"
            except Unavailable as reason:
                if args.server == "real":
                    raise SystemExit(f"real path unavailable: {reason}") from None
                print(f"real path unavailable ({reason}); using the resolver double")
        if real is not None:
            with plugtone_real(work, real[0], real[1], size) as target:
                results.append(measure(target, args, size, sha256, keep))
        else:
            with plugtone_double(work, image) as target:
                results.append(measure(target, args, size, sha256, keep))
        if args.streaming:
            with plugtone_double(work, image, zerocopy=False) as target:
                results.append(measure(target, args, size, sha256, keep))
        tree = work / "tree"
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        os.link(image, tree / path)
        try:
            with nginx(work, tree, path) as target:
                results.append(measure(target, args, size, sha256, keep))
        except Unavailable as reason:
            print(f"nginx skipped: {reason}")
    print_results(results, size, args, server)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()

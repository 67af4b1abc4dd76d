"""TR-069 BOOTSTRAP storm: N emulated Aastra CPEs provisioned in full by a real
``plugtone serve``, against plugtone's own plain HTTP file rate in the same run.

Each CPE (tests/emulators/cpe.py: its own envelope code, httpx with Digest and
cookies, one kept-alive connection per session) runs a first-contact session: Inform
with ``0 BOOTSTRAP`` under its site's bootstrap login, the MAC read by
GetParameterValues, the tree (GetParameterNames once per model and firmware, then
cached), the values read and every differing one set (SIP account, global profile,
periodic inform, its own ACS login), TR-111 notification, 204. A session counts as a
failure unless it ended in 204 with the phone's line-1 SIP account set.

Then the same client threads fetch ``aastra.cfg`` over plain HTTP (one kept-alive
connection per thread) for as long as the storm took: sessions/s divided by file
requests/s is the cost of a session in file requests. Loopback only; the clients are
Python threads on the same cores, so both rates are bounded by them as much as by
the server (the ratio is the fair figure).

    .venv/bin/python -m bench.cwmp_storm [--cpes 1000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.processes import answers, running
from tests.emulators.cpe import Cpe

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def inventory(count: int) -> str:
    lines = [
        "sites:",
        "  - name: hq",
        "    sip_server: 10.0.0.5",
        "    tr069: {enabled: true, bootstrap_username: acs, bootstrap_password: s3cret,",
        "            periodic_inform_interval: 3600}",
        "extensions:",
    ]
    lines += [f'  - {{number: "{4000 + i}", site: hq, password: "pw{i}"}}' for i in range(count)]
    lines.append("phones:")
    lines += [
        f'  - {{mac: 00085D{i:06X}, model: 6757i, site: hq, lines: ["{4000 + i}"]}}'
        for i in range(count)
    ]
    return "\n".join(lines) + "\n"


def plugtone(*args: str, data: Path) -> None:
    subprocess.run([sys.executable, "-m", "plugtone", *args, "--data", str(data)],
                   check=True, capture_output=True)  # fmt: skip


REASONS: list[str] = []
"""Why the first few failed sessions failed."""


def storm(url: str, count: int, concurrency: int) -> tuple[float, int, list[float]]:
    durations: list[float] = []
    failures = 0
    lock = threading.Lock()

    def one(index: int) -> None:
        nonlocal failures
        mac = f"00085D{index:06X}"
        cpe = Cpe(url, mac)
        started = time.perf_counter()
        reason = ""
        try:
            log = cpe.session()
            ok = log.status == 204 and cpe.value("VoiceProfile.1.Line.1.SIP.AuthUserName") == str(
                4000 + index
            )
            reason = f"{mac}: HTTP {log.status} after {log.methods} {log.error[:120]}"
        except (httpx.HTTPError, OSError) as error:
            ok, reason = False, f"{mac}: {type(error).__name__} {error}"
        with lock:
            if not ok and len(REASONS) < 5:
                REASONS.append(reason)
            durations.append(time.perf_counter() - started)
            failures += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - started, failures, durations


def file_rate(url: str, seconds: float, concurrency: int) -> tuple[int, float, int]:
    stop = time.perf_counter() + seconds
    counts = [0] * concurrency
    errors = [0] * concurrency

    def fetch(slot: int) -> None:
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() < stop:
                try:
                    ok = client.get(url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                counts[slot] += ok
                errors[slot] += not ok

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(fetch, range(concurrency)))
    return sum(counts), time.perf_counter() - started, sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpes", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cwmp-storm-") as folder:
        data = Path(folder) / "data"
        plugtone("init", data=data)
        (Path(folder) / "inventory.yaml").write_text(inventory(args.cpes))
        loading = time.perf_counter()
        plugtone("apply", str(Path(folder) / "inventory.yaml"), data=data)
        loaded = time.perf_counter() - loading
        port = free_port()
        command = [sys.executable, "-m", "plugtone", "serve", "--data", str(data), "--host", HOST,
                   "--http-port", str(port), "--https-port", "0", "--tftp-port", "0",
                   "--ftp-port", "0", "--admin-port", "0"]  # fmt: skip
        base = f"http://{HOST}:{port}"
        log = Path(folder) / "serve.log"
        with running(command, log, answers(f"{base}/aastra.cfg", log)):
            keep = Path(tempfile.gettempdir()) / "cwmp-storm-serve.log"
            seconds, failures, durations = storm(f"{base}/cwmp", args.cpes, args.concurrency)
            files, file_seconds, file_errors = file_rate(f"{base}/aastra.cfg", max(seconds, 5),
                                                         args.concurrency)  # fmt: skip
        keep.write_bytes(log.read_bytes())  # for the failures' server side
    sessions_per_second = args.cpes / seconds
    files_per_second = files / file_seconds
    durations.sort()
    print(f"inventory: {args.cpes} Aastra phones applied in {loaded:.1f} s")
    print(f"CWMP BOOTSTRAP sessions: {args.cpes} in {seconds:.1f} s = "
          f"{sessions_per_second:.1f} sessions/s, {failures} failures, concurrency "
          f"{args.concurrency}; session p50 {statistics.median(durations) * 1000:.0f} ms, "
          f"p95 {durations[int(len(durations) * 0.95) - 1] * 1000:.0f} ms")  # fmt: skip
    print(f"plain HTTP aastra.cfg: {files} requests in {file_seconds:.1f} s = "
          f"{files_per_second:.0f} requests/s, {file_errors} errors")  # fmt: skip
    for reason in REASONS:
        print(f"  failed: {reason}")
    print(f"ratio: one BOOTSTRAP session costs {files_per_second / sessions_per_second:.1f} "
          "file requests")  # fmt: skip


if __name__ == "__main__":
    main()

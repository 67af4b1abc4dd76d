"""Beyond capacity the TFTP server drops new requests instead of slowing every transfer.

A real ``plugtone serve`` with ``--tftp-max-transfers 16`` sends a pinned Cisco image to
curl clients while a raw flood of RRQs (many sockets, none of which ever answers a DATA
block, as spoofed requests behave) hits its port. What an operator checks:

- the downloads that were under way finish, every byte as stored;
- the flood is dropped, counted (``plugtone_tftp_dropped_requests`` on ``/metrics``) and
  logged a few times, not once per request;
- the server's memory stays within a bound while it lasts;
- once the flood stops a phone is served again at once (the silent requests that held
  slots gave them up after one retransmission while the server was full).
"""

from __future__ import annotations

import contextlib
import resource
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer, example_server, need, run_cli
from tests.emulators.cisco import Cisco7960
from tests.test_cisco_boot import IMAGE, curl_fetch, write_release

MAC = "00115C93AFD1"  # the example's Cisco 7960, on site lab
MAX_TRANSFERS = 16
DOWNLOADS = 4
IMAGE_SIZE = 12_000_000
FLOOD_SOCKETS = 400
FLOOD_SECONDS = 3.0
FLOOD_RATE = 20_000
"""Requests a second the flood sends: far beyond what 16 slots turn over."""
RSS_GROWTH_BOUND = 40 * 1024 * 1024
"""How much the server's resident memory may grow during the flood."""
ADMIN_PASSWORD = "admin password for the tftp overload test"


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def dropped(server: RunningServer, token: str) -> float:
    answer = httpx.get(f"{server.admin_base}/metrics", timeout=10,
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    for family in text_string_to_metric_families(answer.text):
        if family.name == "plugtone_tftp_dropped_requests":
            return family.samples[0].value
    raise AssertionError("no plugtone_tftp_dropped_requests in /metrics")


def flood(port: int, seconds: float, stop: threading.Event) -> int:
    """RRQs from :data:`FLOOD_SOCKETS` sockets at :data:`FLOOD_RATE` a second; nothing
    they receive is ever read or answered. Returns how many were sent."""
    sockets = []
    try:
        for _ in range(FLOOD_SOCKETS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        request = b"\x00\x01SIPDefault.cnf\x00octet\x00"
        sent = 0
        started = time.monotonic()
        batch = FLOOD_RATE // 100
        while not stop.is_set() and time.monotonic() - started < seconds:
            for index in range(batch):
                with contextlib.suppress(BlockingIOError):  # a full buffer: lost, as on a LAN
                    sockets[(sent + index) % FLOOD_SOCKETS].sendto(request, ("127.0.0.1", port))
            sent += batch
            time.sleep(max(0.0, started + sent / FLOOD_RATE - time.monotonic()))
        return sent
    finally:
        for sock in sockets:
            sock.close()


def test_a_flood_is_dropped_and_counted_while_downloads_under_way_complete(tmp_path, monkeypatch):
    curl = need("curl")
    monkeypatch.setenv("PLUGTONE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    extra = ("--tftp-max-transfers", str(MAX_TRANSFERS))
    with example_server(tmp_path / "data", tftp=True, admin=True, extra=extra) as server:
        token = run_cli("token", "create", "--user", "admin", data=server.data).stdout.strip()
        port = server.tftp_port
        assert port is not None
        Cisco7960(MAC).boot(curl_fetch(port))  # plugtone now knows who asks from 127.0.0.1
        files = write_release(tmp_path / "release", IMAGE, "P003-8-12-00", size=IMAGE_SIZE)
        run_cli("firmware", "add", "--vendor", "cisco79xx", "--model", "7960",
                "--version", "8.12.00", *(str(tmp_path / "release" / name) for name in files),
                data=server.data)  # fmt: skip
        run_cli("firmware", "pin", "8.12.00", "--site", "lab", data=server.data)
        image = files[f"{IMAGE}.sb2"]
        pid = server.process.pid
        baseline_rss = rss(pid)
        baseline_dropped = dropped(server, token)

        url = f"tftp://127.0.0.1:{port}/{IMAGE}.sb2"
        downloads = [
            subprocess.Popen([curl, "-s", "-o", str(tmp_path / f"image{index}"), url])
            for index in range(DOWNLOADS)
        ]
        time.sleep(0.2)  # every download has its slot before the flood begins
        assert all(download.poll() is None for download in downloads), "over too soon"
        stop = threading.Event()
        peak = [baseline_rss]

        def watch_memory() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss(pid))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch_memory)
        watcher.start()
        try:
            sent = flood(port, FLOOD_SECONDS, stop)
            codes = [download.wait(timeout=60) for download in downloads]
        finally:
            stop.set()
            watcher.join()
            for download in downloads:
                if download.poll() is None:
                    download.kill()

        assert codes == [0] * DOWNLOADS
        for index in range(DOWNLOADS):
            assert (tmp_path / f"image{index}").read_bytes() == image
        drops = dropped(server, token) - baseline_dropped
        # most of the flood, unless the kernel's buffer overflowed first on a busy machine
        assert drops > min(sent / 2, 1000), (drops, sent)
        assert peak[0] - baseline_rss < RSS_GROWTH_BOUND, (baseline_rss, peak[0])
        # a phone after the flood: served within a retransmission or two of its own
        started = time.monotonic()
        status, body = curl_fetch(port)("SIPDefault.cnf")
        assert status == 200 and b"proxy_register" in body
        assert time.monotonic() - started < 10
        # the log: a line when the drops began, then the rest of the count once
        # DROP_LOG_INTERVAL (10 s) has passed; never a line per request
        deadline = time.monotonic() + 15
        while True:
            reports = [line for line in (server.data / "serve.log").read_text().splitlines()
                       if "TFTP over capacity" in line]  # fmt: skip
            told = sum(int(line.split("capacity: ")[1].split()[0]) for line in reports)
            if told == drops or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert told == drops, (told, drops, reports)
        assert len(reports) == 2, reports
        print(f"flood: {sent} requests sent, {drops:.0f} dropped; downloads of "
              f"{len(image):,} bytes x {DOWNLOADS} complete; RSS {baseline_rss / 2**20:.1f} "
              f"-> peak {peak[0] / 2**20:.1f} MiB")  # fmt: skip


@pytest.fixture(autouse=True)
def _enough_descriptors():
    """The flood's sockets fit in this process's descriptor limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < FLOOD_SOCKETS + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))

"""Real ``plugtone serve`` processes for the several-process tests (workers, hosts).

A data directory is made the way an operator makes one (``plugtone init``, on SQLite
or on a PostgreSQL URL), with 127.0.0.1 trusted (the tests fetch what a phone on its
LAN gets) and ``/metrics`` open (the tests read each worker's counters). A second
"host" on the same PostgreSQL database gets a data directory of its own holding only
the settings and the store's secret key, as a second machine would.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import EXAMPLE, PLUGTONE, free_port, stop_process

AASTRA_MAC = "00:08:5D:00:00:01"
AASTRA_FILE = "00085D000001.cfg"
AASTRA_AGENT = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
SETTINGS = 'metrics_public = true\n\n[security]\ntrusted_networks = ["127.0.0.1/32"]\n'


def plugtone(*args: str, data: Path, db_url: str | None = None) -> str:
    """Run a ``plugtone`` command in this process (the same code as the command, without
    a process start per set-up step; the servers under test are real processes)."""
    from click.testing import CliRunner

    from plugtone.cli import main

    db = ["--db", db_url] if db_url else []
    result = CliRunner().invoke(main, [*args, "--data", str(data), *db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def make_data(data: Path, db_url: str | None = None, settings: str = "", *,
              example: bool = True, trusted: bool = True) -> Path:  # fmt: skip
    """``plugtone init`` a data directory (on ``db_url`` if given) and apply the example
    (unless not ``example``); ``settings``: more top-level lines of ``plugtone.toml``;
    not ``trusted``: 127.0.0.1 is a stranger, as on a new install."""
    plugtone("init", data=data, db_url=db_url)
    with (data / "plugtone.toml").open("a") as toml:
        toml.write(settings + (SETTINGS if trusted else SETTINGS.split("[security]")[0]))
    if example:
        plugtone("apply", str(EXAMPLE), data=data, db_url=db_url)
    return data


def second_host(first: Path, data: Path) -> Path:
    """Another machine's data directory for the store of ``first``: its own settings
    and a copy of the secret key, nothing else."""
    data.mkdir(mode=0o700)
    shutil.copy2(first / "plugtone.toml", data / "plugtone.toml")
    shutil.copy2(first / "secret.key", data / "secret.key")
    return data


@dataclass
class Served:
    """One ``plugtone serve`` (a supervisor with ``--workers``), on loopback."""

    data: Path
    process: subprocess.Popen
    log: Path
    http_port: int
    admin_port: int
    tftp_port: int | None = None
    ftp_port: int | None = None
    db_url: str | None = None
    workers: int = 1
    worker_pids: list[int] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def output(self) -> str:
        return self.log.read_text()

    def token(self) -> str:
        """A fresh admin API token."""
        output = plugtone("token", "create", "--user", "admin", data=self.data, db_url=self.db_url)
        return output.strip().split()[-1]

    def stop(self) -> int:
        stop_process(self.process)
        return self.process.returncode


def serve(data: Path, *, db_url: str | None = None, workers: int = 1, tftp: bool = False,
          ftp: bool = False, seconds: float = 60.0) -> Served:  # fmt: skip
    """Start ``plugtone serve`` on free ports (HTTP, admin; TFTP and FTP if asked) and
    wait for its serving line (and, with workers, the line naming their pids)."""
    return ready(launch(data, db_url=db_url, workers=workers, tftp=tftp, ftp=ftp), seconds)


def launch(data: Path, *, db_url: str | None = None, workers: int = 1, tftp: bool = False,
           ftp: bool = False) -> Served:  # fmt: skip
    """Start ``plugtone serve`` without waiting (:func:`ready` waits): several start at
    once."""
    http_port, admin_port = free_port(), free_port()
    tftp_port = free_port(socket.SOCK_DGRAM) if tftp else None
    ftp_port = free_port() if ftp else None
    command = [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1",
               "--http-port", str(http_port), "--admin-port", str(admin_port),
               "--tftp-port", str(tftp_port or 0), "--ftp-port", str(ftp_port or 0)]  # fmt: skip
    if db_url:
        command += ["--db", db_url]
    if workers > 1:
        command += ["--workers", str(workers)]
    log = data / f"serve-{http_port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    return Served(data, process, log, http_port, admin_port, tftp_port, ftp_port, db_url, workers)


def ready(served: Served, seconds: float = 60.0) -> Served:
    """Wait for ``served``'s serving line (and, with workers, the line naming their pids)."""
    deadline = time.monotonic() + seconds
    wanted = "workers, pids" if served.workers > 1 else "plugtone serving"
    while wanted not in served.output():
        if served.process.poll() is not None or time.monotonic() > deadline:
            stop_process(served.process)
            raise AssertionError(f"plugtone serve did not start:\n{served.output()}")
        time.sleep(0.05)
    found = re.search(r"workers, pids ([\d ]+) \(supervisor", served.output())
    if found:
        served.worker_pids = [int(pid) for pid in found.group(1).split()]
    return served


def fetch_aastra(base: str, client: httpx.Client | None = None) -> bytes:
    """The Aastra example phone's own file, as the phone asks for it."""
    get = client.get if client is not None else httpx.get
    answer = get(f"{base}/{AASTRA_FILE}", headers={"User-Agent": AASTRA_AGENT}, timeout=20)
    assert answer.status_code == 200, answer.text
    return answer.content


def set_time_zone_name(admin: str, token: str, name: str) -> float:
    """Change the Aastra phone's raw ``time zone name`` through the admin API; the
    monotonic time the API answered (the change committed before that)."""
    answer = httpx.patch(
        f"{admin}/api/phones/{AASTRA_MAC}",
        json={"vendor_settings": {"aastra": {"time zone name": name}}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return time.monotonic()


def seconds_until(condition, limit: float, step: float = 0.005) -> float:
    """Seconds until ``condition()`` is true; fails past ``limit``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(step)
    return time.monotonic() - start

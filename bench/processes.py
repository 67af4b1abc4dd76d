"""Starting and stopping the servers a benchmark measures, the same way for every bench."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path


@contextlib.contextmanager
def running(
    command: Sequence[str],
    log: Path,
    wait_ready: Callable[[subprocess.Popen], None],
    **popen,
) -> Iterator[subprocess.Popen]:
    """Start ``command`` with its output in ``log``, wait until ``wait_ready`` returns
    (it raises when the server never comes up), and stop the server afterwards."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
        try:
            wait_ready(process)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def trust_networks(data: Path, *networks: str) -> None:
    """Make ``networks`` trusted in ``data``'s ``plugtone.toml`` (after ``plugtone init``),
    as a deployment trusts its phones' LAN: a benchmark's clients then get what a phone
    gets (its files with their accounts, its firmware), not what a stranger does."""
    listed = ", ".join(f'"{network}"' for network in networks)
    with (data / "plugtone.toml").open("a") as settings:
        settings.write(f"\n[security]\ntrusted_networks = [{listed}]\n")


def admin_serve_command(data: Path, db_url: str, host: str, http_port: int,
                        admin_port: int) -> list[str]:  # fmt: skip
    """``plugtone serve`` with HTTP and the admin listener only (TFTP and FTP off)."""
    return [sys.executable, "-m", "plugtone", "serve", "--data", str(data), "--db", db_url,
            "--host", host, "--http-port", str(http_port), "--tftp-port", "0",
            "--ftp-port", "0", "--admin-port", str(admin_port)]  # fmt: skip


def answers(url: str, log: Path, seconds: float = 60) -> Callable[[subprocess.Popen], None]:
    """A ``wait_ready`` for :func:`running`: until ``url`` answers 2xx, or fail."""
    import httpx

    def ready(process: subprocess.Popen) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"plugtone serve exited: see {log}")
            try:
                httpx.get(url, timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise SystemExit(f"plugtone serve did not start in {seconds:.0f} s")

    return ready

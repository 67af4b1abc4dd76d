"""Starting and stopping the servers a benchmark measures, the same way for every bench."""

from __future__ import annotations

import contextlib
import subprocess
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

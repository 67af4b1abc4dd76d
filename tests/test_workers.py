"""``plugtone serve --workers N``: processes sharing the ports, and their supervisor.

Real processes and real clients: httpx with a new connection per request, curl's TFTP
client and ftplib reach both workers through the one port of each transport and get
the same bytes (which worker answered is read from each worker's own counters,
``/metrics?scope=worker``, found through the admin listener's ``x-plugtone-worker``
header); a change made
through one worker is served by every worker within a second; a killed worker is
started again; SIGTERM stops them all; a busy port stops start-up with its one line.
"""

from __future__ import annotations

import dataclasses
import ftplib
import os
import re
import signal
import socket
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from plugtone.servers.runner import ListenError, ServeOptions, StartupError
from plugtone.servers.workers import (
    WORKER_HEADER,
    reserve_ports,
    split_passive_ports,
    worker_options,
)
from tests.conftest import PLUGTONE, need
from tests.serve_processes import (
    AASTRA_AGENT,
    AASTRA_FILE,
    AASTRA_MAC,
    Served,
    fetch_aastra,
    make_data,
    plugtone,
    seconds_until,
    serve,
    set_time_zone_name,
)

POLYCOM_FILE = "0004f2000607.cfg"
SECRET = b"sip line1 password: 22222"
PASSIVE_PORTS = 20
"""Split between the two workers: a worker gives a port back when the session that
opened it has closed, which on a loaded machine may come after the next session asks."""
TIMEOUT = 20
"""Seconds any one client request may take (the machine may be loaded; nothing here
times the server)."""


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive free TCP ports (FTP passive ports)."""
    for base in range(41_000 + os.getpid() % 97 * 100, 60_000, 50):
        probes = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no run of free ports")


def test_two_workers_share_the_ports_follow_changes_outlive_a_kill_and_stop_on_sigterm(
    tmp_path, monkeypatch
):
    """One supervisor through its life, each stage what an operator would check (one
    test, so that the stages run in order on one server, started once)."""
    passive = free_port_run(PASSIVE_PORTS)
    last = passive + PASSIVE_PORTS - 1
    data = make_data(tmp_path / "data", settings=f'ftp_passive_ports = "{passive}-{last}"\n')
    monkeypatch.setenv("PLUGTONE_ONCE_GRACE", "1")  # for the once window's stage
    served = serve(data, workers=2, tftp=True, ftp=True)
    try:
        share_every_port_and_serve_the_same_bytes(served, range(passive, last + 1))
        serve_a_change_through_one_worker_from_every_worker_within_a_second(served)
        close_a_once_window_in_every_worker(served)
        start_a_killed_worker_again(served)
        stop_every_worker_on_sigterm(served)
    finally:
        served.stop()


def share_every_port_and_serve_the_same_bytes(served: Served, passive: range) -> None:
    """HTTP (a new connection per request), TFTP (curl) and FTP (ftplib, the passive
    ports in the configured range) reach both workers, which serve the same bytes."""
    curl = need("curl")
    http_files = {fetch_aastra(served.base) for _ in range(40)}
    assert len(http_files) == 1

    common_http = httpx.get(f"{served.base}/aastra.cfg", timeout=TIMEOUT).content
    assert serve_each_tftp_client_from_one_worker(served, curl) == {common_http}

    ftp_files = set()
    for _ in range(12):
        with ftplib.FTP() as client:
            client.connect("127.0.0.1", served.ftp_port, timeout=TIMEOUT)
            client.login("PlcmSpIp", "PlcmSpIp")
            _, port = client.makepasv()
            assert port in passive
            chunks: list[bytes] = []
            client.retrbinary(f"RETR {POLYCOM_FILE}", chunks.append)
            ftp_files.add(b"".join(chunks))
    assert len(ftp_files) == 1 and b"<?xml" in next(iter(ftp_files))

    counts = per_worker(served)
    assert set(counts) == set(served.worker_pids)
    for pid, each in counts.items():  # every transport reached both workers
        assert each["http"] > 0 and each["tftp"] > 0 and each["ftp"] > 0, (pid, counts)
    assert sum(each["tftp"] for each in counts.values()) == 16


def serve_each_tftp_client_from_one_worker(served: Served, curl: str) -> set[bytes]:
    """TFTP requests from one client address, each from a new port (curl's), are all
    answered by one worker (the one that learnt which phone is there), and two addresses
    of different parity by the two workers: the files curl got."""
    files: set[bytes] = set()
    answered_by = []
    for client in ("127.0.0.1", "127.0.0.2"):
        before = per_worker(served)
        for _ in range(8):
            fetched = subprocess.run([curl, "-s", "--max-time", str(TIMEOUT),
                                      "--interface", client,
                                      f"tftp://127.0.0.1:{served.tftp_port}/aastra.cfg"],
                                     capture_output=True, check=True)  # fmt: skip
            files.add(fetched.stdout)
        after = per_worker(served)
        served_here = {pid: after[pid]["tftp"] - before[pid]["tftp"] for pid in after}
        assert sorted(served_here.values()) == [0, 8], (client, served_here)
        answered_by.append(max(served_here, key=served_here.__getitem__))
    assert len(set(answered_by)) == 2, answered_by
    return files


def per_worker(served: Served) -> dict[int, dict[str, float]]:
    """Each worker's phone requests by transport, read from its own counters
    (``/metrics?scope=worker``): the admin port is shared too, so scrape (a new
    connection each time) until both pids have answered."""
    found: dict[int, dict[str, float]] = {}
    for _ in range(200):
        answer = httpx.get(f"{served.admin}/metrics?scope=worker", timeout=TIMEOUT)
        assert answer.status_code == 200, answer.text
        _, pid = map(int, answer.headers[WORKER_HEADER].split())
        counts: dict[str, float] = defaultdict(float)
        for transport, value in re.findall(
            r'^plugtone_requests_total\{[^}]*transport="(\w+)"[^}]*\} (\S+)$', answer.text, re.M
        ):
            counts[transport] += float(value)
        found[pid] = counts
        if len(found) == 2:
            return found
    raise AssertionError(f"only workers {sorted(found)} answered 200 scrapes")


def serve_a_change_through_one_worker_from_every_worker_within_a_second(served: Served) -> None:
    """Each worker has its wake-up socket beside the database (a writer's commit wakes
    them at once; the generation poll is the fallback)."""
    wake = served.data / "plugtone.db-wake"
    assert sorted(os.listdir(wake)) == sorted(map(str, served.worker_pids))
    before = fetch_aastra(served.base)
    for _ in range(20):  # both workers have the file cached
        assert fetch_aastra(served.base) == before
    changed_at = set_time_zone_name(served.admin, served.token(), "US-Eastern")
    last_old = None
    while time.monotonic() - changed_at < 1.5:
        if b"US-Eastern" not in fetch_aastra(served.base):  # whichever worker answers
            last_old = time.monotonic() - changed_at
    assert last_old is None or last_old < 1.0, f"an old answer {last_old:.2f} s after the change"


def start_a_killed_worker_again(served: Served) -> None:
    killed = served.worker_pids[1]
    os.kill(killed, signal.SIGKILL)
    pids = answering_pids(served, lambda pids: len(pids - {killed}) == 2)
    assert killed not in pids
    assert f"worker 1 (pid {killed}) was killed by SIGKILL" in served.output()
    assert served.process.poll() is None
    assert b"US-Eastern" in fetch_aastra(served.base)  # the new worker serves the same


def stop_every_worker_on_sigterm(served: Served) -> None:
    pids = answering_pids(served, lambda pids: len(pids) == 2)
    assert served.stop() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    for port, kind in ((served.http_port, socket.SOCK_STREAM),
                       (served.tftp_port, socket.SOCK_DGRAM)):  # fmt: skip
        with socket.socket(socket.AF_INET, kind) as probe:  # nothing holds the ports
            probe.bind(("127.0.0.1", port))


def answering_pids(served: Served, enough) -> set[int]:
    """The worker pids the admin listener's answers name, until ``enough(pids)``."""
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while not enough(pids):
        assert time.monotonic() < deadline, (pids, served.output())
        try:
            answer = httpx.get(f"{served.admin}/api/docs", timeout=TIMEOUT)
            pids.add(int(answer.headers[WORKER_HEADER].split()[1]))
        except httpx.TransportError:  # the port is shared: one worker may be starting
            time.sleep(0.05)
    return pids


def close_a_once_window_in_every_worker(served: Served) -> None:
    """``arm --once``: the window closes for a phone a grace period (1 s here) after its
    first secret, from whichever worker sent it; the other worker, which never sent it
    one, must close it too (it reads the first secrets back from the event log). The
    phone asks from 127.0.0.2, an address no setting trusts."""
    assert b"password" not in stranger_fetch(served)
    plugtone("arm", "--phone", AASTRA_MAC, "--for", "10m", "--once", data=served.data)
    seconds_until(lambda: SECRET in stranger_fetch(served), 5.0)  # one worker sent it
    time.sleep(2.0)  # the grace, and the other worker's time to read the event
    answers = [stranger_fetch(served) for _ in range(30)]  # both workers answer
    assert not [answer for answer in answers if b"password" in answer]


def stranger_fetch(served: Served) -> bytes:
    """The Aastra phone's own file as the phone asks for it from 127.0.0.2, a new
    connection each time: its bytes (a login challenge's, outside a window)."""
    stranger = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=stranger, timeout=TIMEOUT) as client:
        answer = client.get(f"{served.base}/{AASTRA_FILE}", headers={"User-Agent": AASTRA_AGENT})
    return answer.content


def test_a_busy_port_stops_the_supervisor_before_any_worker_starts(tmp_path):
    data = make_data(tmp_path / "data", example=False)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [*PLUGTONE, "serve", "--data", str(data), "--host", "127.0.0.1", "--workers", "2",
             "--http-port", str(port), "--tftp-port", "0", "--ftp-port", "0",
             "--admin-port", "0"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"plugtone: cannot listen for HTTP on 127.0.0.1:{port}: address already in use"
    )
    assert "plugtone serving" not in result.stdout


def test_each_worker_gets_passive_ports_of_its_own_and_worker_0_the_once_per_host_duties():
    assert split_passive_ports(tuple(range(100, 111)), 3) == [
        tuple(range(100, 104)), tuple(range(104, 108)), tuple(range(108, 111))
    ]  # fmt: skip
    assert split_passive_ports(None, 2) == [None, None]
    with pytest.raises(StartupError, match=r"2 port\(s\) for 3 workers"):
        split_passive_ports((100, 101), 3)
    options = ServeOptions(db_url="sqlite://", host="127.0.0.1", http_port=8080,
                           data_dir=Path("var"), ftp_passive_ports=(1, 2, 3, 4))  # fmt: skip
    each = worker_options(options, 2)
    assert [(o.worker, o.once_per_host, o.reuse_port) for o in each] == [
        (0, True, True), (1, False, True)
    ]  # fmt: skip
    assert [o.ftp_passive_ports for o in each] == [(1, 2), (3, 4)]
    with_acs = worker_options(dataclasses.replace(options, stun_port=3478, cwmp_port=7547), 3)
    assert [(o.stun_port, o.cwmp_port) for o in with_acs] == [
        (3478, 7547), (None, None), (None, None)
    ]  # fmt: skip


def test_every_port_is_tried_and_resolved_once_for_all_workers():
    options = ServeOptions(db_url="sqlite://", host="127.0.0.1", http_port=0, tftp_port=0,
                           admin_port=0, cwmp_port=0, data_dir=Path("var"))  # fmt: skip
    resolved = reserve_ports(options)
    ports = [resolved.http_port, resolved.tftp_port, resolved.admin_port, resolved.cwmp_port]
    assert all(ports) and resolved.ftp_port is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        busy = holder.getsockname()[1]
        with pytest.raises(ListenError, match=f"cannot listen for TFTP on 127.0.0.1:{busy}"):
            reserve_ports(dataclasses.replace(options, tftp_port=busy))

"""Sweeps against a real ``plugtone serve``: no password leaks, known and unknown MACs
look alike, one ``sweep`` alert per source, and trusted phones keep working.

One server with the example inventory, 127.0.0.1 a trusted network (a phone on the
LAN) and small sweep thresholds (alert at 50, block at 150: the defaults' behaviour is
tests/test_sweep_guard.py's), swept by real clients from other loopback addresses:

- 127.0.0.5: ftplib's SIZE, STOR and RETR, then curl over FTP with the Polycom factory
  login, 2,000 sequential Aastra names (in parallel, as 550s come slowly over FTP);
- 127.0.0.4: curl over TFTP (silence, once blocked: most of the sweep runs in parallel);
- 127.0.0.2: curl, 2,000 names over HTTP, one after the other;
- 127.0.0.3: the same with a User-Agent naming a known phone;

while an Aastra at 127.0.0.1 boots over TFTP again and again. The four addresses share
127.0.0.0/24, which raises an alert of its own (and blocks the /24's strangers once it
is full) but no second alert for any of them. FTP logins have their own tests
(tests/test_ftp_trust.py).
"""

from __future__ import annotations

import ftplib
import io
import re
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from plugtone.inventory.models import ProvisioningEvent
from tests.conftest import EXAMPLE, RunningServer, need, run_cli, start_server, stop_server

SWEEP_SETTINGS = """
[security]
trusted_networks = ["127.0.0.1/32"]
sweep_seconds = 600
sweep_alert = 50
sweep_block = 150
sweep_prefix_alert = 100
sweep_prefix_block = 300
sweep_delay_max = 0.02
block_seconds = 600
"""
"""Thresholds small enough for a test: a source alerts at its 50th suspicious request,
is slowed (20 ms at most) up to its 150th, then blocked for the rest of the test."""

SWEEP = "00085D00[0000-1999].cfg"
"""2,000 sequential Aastra names; the example's phones are 00085D000001 and ...02."""
KNOWN = ("00085D000001", "00085D000002")
FORGED_AGENT = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.3.1.4322-SIP"


def inventory_passwords() -> list[str]:
    """Every password the example inventory holds (extensions, phone and site logins)."""
    document = yaml.safe_load(EXAMPLE.read_text())
    found = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if "password" in key and isinstance(value, str | int):
                    found.append(str(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found


def secret_lines(tree: Path, passwords: list[str]) -> set[bytes]:
    """The lines of the files phones are served (``plugtone export-tree``) that set a
    password, as each vendor writes it (``sip line1 password: 22222``,
    ``line1_password: "sip"``, ``reg.1.auth.password="1212"``). A password as short as
    ``sip`` is also a word of the vendors' own files (Polycom's ``sip.cfg``), so for
    those the search is for the line that sets it rather than the bare word."""
    found = set()
    for path in tree.rglob("*"):
        if path.is_file():
            for line in path.read_bytes().splitlines():
                if re.search(rb"passw", line, re.IGNORECASE) and any(
                    _token(password).search(line) for password in passwords
                ):
                    found.add(line.strip())
    return found


def _token(password: str) -> re.Pattern[bytes]:
    return re.compile(rb"(?<![A-Za-z0-9])" + re.escape(password.encode()) + rb"(?![A-Za-z0-9])")


def leaked(data: bytes, passwords: list[str], lines: set[bytes]) -> str | None:
    """What of a password ``data`` holds: a password of four characters or more
    anywhere, or any line of :func:`secret_lines`."""
    for password in passwords:
        if len(password) >= 4 and password.encode() in data:
            return password
    held = {line.strip() for line in data.splitlines()}
    return next((line.decode(errors="replace") for line in lines & held), None)


def curl(*args: str, timeout: float = 120) -> list[list[str]]:
    """Run curl; its ``-w`` lines split in fields."""
    result = subprocess.run([need("curl"), "-s", *args], capture_output=True, text=True,
                            timeout=timeout)  # fmt: skip
    return [line.split() for line in result.stdout.splitlines() if line.strip()]


def by_mac(rows: list[list[str]]) -> dict[str, tuple[str, ...]]:
    """``-w "%{url} ..."`` lines keyed by the MAC in the URL."""
    return {re.search(r"([0-9A-F]{12})\.cfg", row[0]).group(1): tuple(row[1:]) for row in rows}


def alike(results: dict[str, tuple[str, ...]]) -> None:
    """Each known MAC's result equals that of the unknown MACs asked just before and after."""
    for mac in KNOWN:
        index = int(mac[6:], 16)
        for neighbour in (index - 1, index + 2):  # 000000 and 000003 around 01 and 02
            other = f"00085D{neighbour:06X}"
            assert results[mac] == results[other], (mac, results[mac], other, results[other])


class TrustedPhone(threading.Thread):
    """The Aastra 00085D000001 on the trusted LAN (127.0.0.1), booting over TFTP in a
    loop while the sweeps run: every boot must end with its SIP account."""

    def __init__(self, server: RunningServer, work: Path) -> None:
        super().__init__(daemon=True)
        self.server, self.work = server, work
        self.stop = threading.Event()
        self.boots: list[bool] = []

    def run(self) -> None:
        port = self.server.tftp_port
        while not self.stop.is_set():
            target = self.work / f"boot{len(self.boots)}.cfg"
            for name in ("aastra.cfg", "6757i.cfg", "00085D000001.cfg"):
                subprocess.run([need("curl"), "-s", "--max-time", "5", "--interface",
                                "127.0.0.1", f"tftp://127.0.0.1:{port}/{name}", "-o",
                                str(target)], timeout=10)  # fmt: skip
            body = target.read_bytes() if target.exists() else b""
            self.boots.append(b"sip line1 password: 22222" in body)
            self.stop.wait(1.0)


def ftp_client(server: RunningServer, address: str, user="PlcmSpIp", password="PlcmSpIp"):
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.ftp_port, timeout=10, source_address=(address, 0))
    client.login(user, password)
    return client


def ftp_size(client: ftplib.FTP, name: str) -> str:
    try:
        return f"213 {client.size(name)}"
    except ftplib.error_perm as error:
        return str(error)


def ftp_store(client: ftplib.FTP, name: str) -> str:
    try:
        return client.storbinary(f"STOR {name}", io.BytesIO(b"injected = 1\n"))
    except ftplib.error_perm as error:
        return str(error)


def http_put(server: RunningServer, address: str, name: str, body: Path) -> tuple[str, ...]:
    rows = curl("--interface", address, "-T", str(body), f"{server.base}/{name}",
                "-w", "%{http_code} %{size_download}\n", "-o", "/dev/null")  # fmt: skip
    return tuple(rows[0])


def sweep_events(server: RunningServer, wanted: int, timeout: float = 10.0) -> list:
    """The ``sweep`` events once ``wanted`` of them are written (the log is batched)."""
    store = server.store()
    try:
        deadline = time.monotonic() + timeout
        while True:
            with store.sessions() as session:
                rows = list(session.scalars(
                    select(ProvisioningEvent).where(ProvisioningEvent.status == "sweep")
                ))  # fmt: skip
            if len(rows) >= wanted or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
    finally:
        store.dispose()


@pytest.fixture
def swept(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "plugtone.toml").write_text(SWEEP_SETTINGS)  # init keeps an existing file
    server = start_server(data, tftp=True, ftp=True, trusted=False)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        yield server
    finally:
        stop_server(server)


def test_sweeps_over_every_transport_leak_nothing_and_alert_once_per_source(swept, tmp_path):
    server = swept
    passwords = inventory_passwords()
    assert {"22222", "33333", "1212", "sip"} <= set(passwords)
    out = tmp_path / "out"
    out.mkdir()
    received: list[Path] = []

    # the trusted phone gets its account (so the searches below can find a password)
    phone = TrustedPhone(server, tmp_path)
    phone.start()
    deadline = time.monotonic() + 20
    while not phone.boots and time.monotonic() < deadline:
        time.sleep(0.1)
    assert phone.boots == [True], "the trusted phone did not get its SIP account"

    # before any sweep: uploads and FTP SIZE answer known and unknown names alike
    body = tmp_path / "injected.cfg"
    body.write_text("<polycomConfig/>\n")
    puts = {name: http_put(server, "127.0.0.2", name, body) for name in (
        "0004F2000606-phone.cfg", "0004F2000607-phone.cfg", "0004F2000608-phone.cfg",
        "00085D000001-phone.cfg", "00085D000003-phone.cfg")}  # fmt: skip
    assert len(set(puts.values())) == 1, puts
    assert next(iter(puts.values()))[0] in ("401", "403"), puts
    client = ftp_client(server, "127.0.0.5")
    sizes = {name: ftp_size(client, name) for name in (
        "00085D000000.cfg", "00085D000001.cfg", "00085D000002.cfg", "00085D000003.cfg",
        "0004f2000606.cfg", "0004f2000607.cfg", "0004f2000608.cfg")}  # fmt: skip
    assert len({sizes[f"00085D00000{i}.cfg"] for i in range(4)}) == 1, sizes
    assert sizes["0004f2000606.cfg"] == sizes["0004f2000607.cfg"] == sizes["0004f2000608.cfg"]
    stores = {name: ftp_store(client, name) for name in (
        "0004f2000607-phone.cfg", "0004f2000608-phone.cfg", "not-declared.cfg")}  # fmt: skip
    assert set(stores.values()) == {"550 uploads of this name are not allowed"}, stores
    for name in sizes:  # RETR sends what SIZE said
        target = out / f"early-{name}"
        with target.open("wb") as handle:
            client.retrbinary(f"RETR {name}", handle.write)
        assert sizes[name] == f"213 {target.stat().st_size}"
        received.append(target)
    client.quit()

    # FTP with the factory login: curl RETR of 2,000 names (SIZE, then RETR, each)
    form = "%{url} %{exitcode} %{size_download}\n"
    ftp = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{server.ftp_port}"
    retrieved = by_mac(curl("--interface", "127.0.0.5", "-Z", "--parallel-max", "100",
                            f"{ftp}/{SWEEP}", "-o", str(out / "f#1.cfg"), "-w", form))  # fmt: skip
    assert len(retrieved) == 2000
    outcomes = Counter(code for code, _ in retrieved.values())
    assert outcomes["0"] >= 20 and outcomes["78"] >= 1800, outcomes  # then 550, as if missing
    received += list(out.glob("f*.cfg"))
    client = ftp_client(server, "127.0.0.5")
    blocked = {name: ftp_size(client, name) for name in sizes}
    assert set(blocked.values()) == {"550 no such file"}, blocked
    with pytest.raises(ftplib.error_perm, match="550"):  # any of its stranger requests
        client.retrbinary("RETR aastra.cfg", lambda _: None)
    client.quit()

    # TFTP: the first names one by one, then the rest in parallel (a blocked stranger
    # gets silence, so each of those waits for curl's timeout)
    form = "%{url} %{exitcode} %{size_download}\n"
    tftp = f"tftp://127.0.0.1:{server.tftp_port}"
    first = by_mac(curl("--interface", "127.0.0.4", "--max-time", "3",
                        f"{tftp}/00085D00[0000-0009].cfg", "-o", str(out / "t#1.cfg"), "-w", form))  # fmt: skip
    alike(first)
    assert first["00085D000001"][0] == "0"  # served a stranger's file, like any unknown MAC
    rest = by_mac(curl("--interface", "127.0.0.4", "-Z", "--parallel-max", "300",
                       "--max-time", "1", f"{tftp}/00085D00[0010-1999].cfg",
                       "-o", str(out / "t#1.cfg"), "-w", form))  # fmt: skip
    assert len(rest) == 1990
    outcomes = Counter(exit_code for exit_code, _ in rest.values())
    assert outcomes["0"] >= 100 and outcomes["28"] >= 1800, outcomes  # silence: curl times out
    after = by_mac(curl("--interface", "127.0.0.4", "--max-time", "1",
                        f"{tftp}/00085D00000[0-3].cfg", "-o", "/dev/null", "-w", form))  # fmt: skip
    assert set(after.values()) == {("28", "0")}, after  # known or not: the same silence
    received += list(out.glob("t*.cfg"))

    # HTTP, plain and with a forged User-Agent: 2,000 names each, one after the other
    form = "%{url} %{http_code} %{size_download}\n"
    plain = by_mac(curl("--interface", "127.0.0.2", f"{server.base}/{SWEEP}",
                        "-o", str(out / "h#1.cfg"), "-w", form))  # fmt: skip
    forged = by_mac(curl("--interface", "127.0.0.3", "-A", FORGED_AGENT,
                         f"{server.base}/{SWEEP}", "-o", str(out / "u#1.cfg"), "-w", form))  # fmt: skip
    for results in (plain, forged):
        assert len(results) == 2000
        alike(results)
        assert {status for status, _ in results.values()} == {"401"}  # challenged, then blocked
    received += list(out.glob("[hu]*.cfg"))
    assert [http_put(server, "127.0.0.2", name, body) for name in puts] == list(puts.values())

    # not one password in any byte any sweeper received
    run_cli("export-tree", str(tmp_path / "tree"), data=server.data)
    lines = secret_lines(tmp_path / "tree", passwords)
    assert len(lines) >= 4  # each extension's password is written somewhere
    assert leaked(b"\n".join(lines), passwords, lines)  # the search finds what it looks for
    assert len(received) > 2000
    for path in received:
        assert leaked(path.read_bytes(), passwords, lines) is None, path.name

    # exactly one alert per sweeping address, plus one for the /24 they share
    events = sweep_events(server, 5)
    sources = Counter(event.client_address for event in events)
    assert sources == Counter({"127.0.0.2": 1, "127.0.0.3": 1, "127.0.0.4": 1,
                               "127.0.0.5": 1, "127.0.0.0/24": 1}), sources  # fmt: skip
    for event in events:
        assert event.mac is None and "sweep from" in event.detail and "slowed" in event.detail

    # and through it all, the trusted phone at 127.0.0.1 kept getting its account
    phone.stop.set()
    phone.join(30)
    assert len(phone.boots) >= 5 and all(phone.boots), phone.boots
    log = (server.data / "serve.log").read_text()
    assert log.count("sweep from") == 5, log[-3000:]

"""Issue 11's check, end to end: while sweeps of 2,000 MACs run over HTTP (with and
without a forged User-Agent), TFTP and FTP, three phones boot at their own trust
levels and end with their SIP accounts, and the sweepers get no password.

- an Aastra 6757i over HTTP, **authenticated**: it holds its own login (``http digest
  username/password``, as an earlier provisioning gave it) and answers the Digest
  challenge plugtone sends strangers;
- a Polycom IP 650 over FTP with the factory login, in an **armed window**
  (``plugtone arm --phone``);
- a Cisco 7960 over TFTP from its site's **trusted network** (TFTP only).

Nothing is trusted globally. Each sweeper has an address of its own in a /24 of its own
(127.0.1.2, 127.0.2.2, ...), so each raises exactly one ``sweep`` alert and no network
or vendor prefix raises another; the phones (127.0.0.6-8) raise none.
"""

from __future__ import annotations

import ftplib
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import RunningServer, need, run_cli, start_server, stop_server
from tests.emulators.aastra import AastraPhone
from tests.emulators.cisco import Cisco7960
from tests.emulators.polycom import PolycomPhone
from tests.test_sweep import by_mac, curl, sweep_events

AASTRA_LOGIN = ("aastra-0001", "Hd9xQ2pLm7vR4k")
POLYCOM_PASSWORD = "Pc-3001-Lm5rWq8z"
CISCO_PASSWORD = "Cs-4001-Tn8vKe2j"
AASTRA_PASSWORDS = {n: f"Aa-{n}-Q7wzYt3u" for n in range(1, 51)}
"""SIP passwords of the 50 Aastra phones 00085D000001 ... 00085D000050, all distinct and
long enough that finding one in a received byte is never a coincidence."""
PASSWORDS = [*AASTRA_PASSWORDS.values(), POLYCOM_PASSWORD, CISCO_PASSWORD, AASTRA_LOGIN[1]]

SWEEP = "00085D00[0000-1999].cfg"
FORGED_AGENT = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.3.1.4322-SIP"
SOURCES = {"http": "127.0.1.2", "forged": "127.0.2.2", "tftp": "127.0.3.2", "ftp": "127.0.4.2"}
AASTRA_AT, CISCO_AT, POLYCOM_AT = "127.0.0.7", "127.0.0.6", "127.0.0.8"

SETTINGS = """
[security]
sweep_seconds = 600
sweep_alert = 50
sweep_block = 150
sweep_prefix_alert = 100000
sweep_prefix_block = 300000
sweep_delay_max = 0.02
block_seconds = 600
"""
"""Small address thresholds so the test is quick (the defaults are tested in
tests/test_sweep_guard.py); the vendor-prefix ones out of reach, as every sweep here
walks the one Aastra prefix from its own address."""


def inventory() -> str:
    extensions = [f'  - {{number: "{2000 + n}", site: office, password: "{password}"}}'
                  for n, password in AASTRA_PASSWORDS.items()]  # fmt: skip
    phones = [f'  - {{mac: "00085D0000{n:02d}", model: 6757i, site: office, lines: ["{2000 + n}"]'
              + (f', http_user: {AASTRA_LOGIN[0]}, http_password: "{AASTRA_LOGIN[1]}"'
                 if n == 1 else "") + "}"
              for n in AASTRA_PASSWORDS]  # fmt: skip
    return "\n".join([
        "sites:",
        "  - {name: office, sip_server: 10.0.0.10}",
        "  - {name: floor2, sip_server: 10.0.0.30}",
        f"  - {{name: lab, sip_server: 10.0.0.20, trusted_networks: "
        f"[{{network: {CISCO_AT}/32, transports: [tftp]}}]}}",
        "extensions:",
        *extensions,
        f'  - {{number: "3001", site: floor2, password: "{POLYCOM_PASSWORD}"}}',
        f'  - {{number: "4001", site: lab, password: "{CISCO_PASSWORD}"}}',
        "phones:",
        *phones,
        '  - {mac: "0004F2000607", model: IP650, site: floor2, lines: ["3001"]}',
        '  - {mac: "00115C93AFD1", model: CP-7960G, site: lab, lines: ["4001"]}',
    ]) + "\n"  # fmt: skip


class Sweep(threading.Thread):
    """One curl process sweeping 2,000 names from its own address."""

    def __init__(self, name: str, args: list[str], out: Path) -> None:
        super().__init__(daemon=True)
        self.name, self.args, self.out = name, args, out
        self.results: dict[str, tuple[str, ...]] = {}

    def run(self) -> None:
        self.out.mkdir()
        form = "%{url} %{http_code} %{exitcode} %{size_download}\n"
        self.results = by_mac(curl(
            "--interface", SOURCES[self.name], *self.args, "-o", str(self.out / "#1.cfg"),
            "-w", form, timeout=240,
        ))  # fmt: skip


def boot_aastra(server: RunningServer) -> AastraPhone:
    phone = AastraPhone(mac="00085D000001", model="6757i", answers_digest=True,
                        settings={"http digest username": AASTRA_LOGIN[0],
                                  "http digest password": AASTRA_LOGIN[1]})  # fmt: skip
    transport = httpx.HTTPTransport(local_address=AASTRA_AT)
    with httpx.Client(base_url=server.base, transport=transport, timeout=10) as client:
        phone.boot(phone.over_http(client))
    return phone


def boot_cisco(server: RunningServer, work: Path) -> Cisco7960:
    def fetch(name: str) -> tuple[int, bytes]:
        target = work / "cisco.out"
        target.unlink(missing_ok=True)
        result = subprocess.run(
            [need("curl"), "-s", "--max-time", "5", "--interface", CISCO_AT,
             f"tftp://127.0.0.1:{server.tftp_port}/{name}", "-o", str(target)],
            timeout=10,
        )  # fmt: skip
        if result.returncode != 0 or not target.exists():
            return 404, b""
        return 200, target.read_bytes()

    phone = Cisco7960("00115C93AFD1")
    phone.boot(fetch)
    return phone


def boot_polycom(server: RunningServer) -> PolycomPhone:
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.ftp_port, timeout=10, source_address=(POLYCOM_AT, 0))
    client.login("PlcmSpIp", "PlcmSpIp")

    def fetch(name: str) -> bytes | None:
        chunks: list[bytes] = []
        try:
            client.retrbinary(f"RETR {name}", chunks.append)
        except ftplib.error_perm:
            return None
        return b"".join(chunks)

    def upload(name: str, content: bytes, append: bool) -> bool:
        import io

        try:
            client.storbinary(f"{'APPE' if append else 'STOR'} {name}", io.BytesIO(content))
        except ftplib.error_perm:
            return False
        return True

    phone = PolycomPhone("0004f2000607")
    try:
        phone.boot(fetch, upload)
    finally:
        client.quit()
    return phone


def test_phones_at_each_trust_level_boot_while_sweeps_get_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "plugtone.toml").write_text(SETTINGS)  # init keeps an existing file
    server = start_server(data, tftp=True, ftp=True, trusted=False)
    try:
        source = tmp_path / "inventory.yaml"
        source.write_text(inventory())
        run_cli("apply", str(source), data=data)
        run_cli("arm", "--phone", "0004F2000607", "--for", "10m", data=data)
        time.sleep(1.0)  # the server reads the new generation (and the window) within 0.5 s

        out = tmp_path / "out"
        out.mkdir()
        tftp = f"tftp://127.0.0.1:{server.tftp_port}/{SWEEP}"
        ftp = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{server.ftp_port}/{SWEEP}"
        sweeps = [
            Sweep("http", [f"{server.base}/{SWEEP}"], out / "http"),
            Sweep("forged", ["-A", FORGED_AGENT, f"{server.base}/{SWEEP}"], out / "forged"),
            Sweep("tftp", ["-Z", "--parallel-max", "300", "--max-time", "1", tftp], out / "tftp"),
            Sweep("ftp", ["-Z", "--parallel-max", "100", ftp], out / "ftp"),
        ]
        started = time.monotonic()
        for sweep in sweeps:
            sweep.start()
        time.sleep(2.0)  # the sweeps are under way (and their sources alerted) ...

        aastra = boot_aastra(server)  # ... when the phones boot
        cisco = boot_cisco(server, tmp_path)
        polycom = boot_polycom(server)
        booted = time.monotonic() - started
        for sweep in sweeps:
            sweep.join(240)
            assert not sweep.is_alive(), f"{sweep.name} sweep still running"
        assert booted < 60, f"the phones took {booted:.0f} s to boot"

        assert aastra.line(1)["password"] == AASTRA_PASSWORDS[1]
        assert ("00085D000001.cfg", 200) in aastra.fetched
        assert cisco.line(1)["password"] == CISCO_PASSWORD
        assert polycom.settings["reg.1.auth.password"] == POLYCOM_PASSWORD

        received = [path for sweep in sweeps for path in sweep.out.iterdir()]
        assert len(received) >= 2000
        for path in received:
            body = path.read_bytes()
            for password in PASSWORDS:
                assert password.encode() not in body, (path, password)
        for sweep in sweeps:
            results = sweep.results
            assert len(results) == 2000, (sweep.name, len(results))
            macs = {f"00085D0000{n:02d}" for n in AASTRA_PASSWORDS}
            known = {results[mac] for mac in macs}
            unknown = {answer for mac, answer in results.items() if mac not in macs}
            assert known <= unknown, (sweep.name, known - unknown)  # no answer tells them apart

        events = sweep_events(server, len(SOURCES))
        sources = Counter(event.client_address for event in events)
        assert sources == Counter(SOURCES.values()), sources

        store = server.store()
        try:
            from sqlalchemy import select

            from plugtone.inventory.models import ProvisioningEvent

            with store.sessions() as session:
                trust = dict(session.execute(
                    select(ProvisioningEvent.client_address, ProvisioningEvent.trust).where(
                        ProvisioningEvent.secrets.is_(True)
                    )
                ).all())  # fmt: skip
        finally:
            store.dispose()
        assert trust == {AASTRA_AT: "authenticated", CISCO_AT: "trusted_network",
                         POLYCOM_AT: "window"}, trust  # fmt: skip
    finally:
        stop_server(server)

"""An Aastra 6757i boots from a running plugtone over HTTP, as in the seed document."""

from __future__ import annotations

import subprocess
import time

import httpx
from sqlalchemy import select

from plugtone.inventory.models import DeviceState, ProvisioningEvent
from tests.conftest import need, run_cli
from tests.emulators.aastra import AastraPhone

# Every setting of the seed's aastra.cfg and mac.cfg samples (000_c5c919a22242d7d0.txt)
# that the example inventory reproduces, as the phone ends up with it.
SEED_SETTINGS = {
    "dhcp": "1",
    "download protocol": "TFTP",
    "tftp server": "10.100.2.126",
    "auto resync mode": "1",
    "auto resync time": "00:00",
    "time server disabled": "0",
    "time server1": "time.nist.gov",
    "time server2": "time.nist.gov",
    "time server3": "time.nist.gov",
    "sip digit timeout": "4",
    "sip dial plan terminator": "1",
    "sip dial plan": "0|911|##|#[1-3]x|#[5-9]x|#41xx|#4[2-9]|xxx+^|[1-7]xx|9[2-9]xxxxxx|91[2-9]xxxxxxxxx",
    "sip dtmf method": "1",
    "sip line1 dtmf method": "1",
    "sip vmail": "##",
    "sip mode": "0",
    "sip proxy ip": "10.100.2.127",
    "sip proxy port": "5060",
    "sip registrar ip": "10.100.2.127",
    "sip registrar port": "5060",
    "sip registration period": "60",
    "sip centralized conf": "conf",
    "sip explicit mwi subscription": "1",
    "sip explicit mwi subscription period": "60",
    "sip silence suppression": "0",
    "time zone name": "US-Pacific",
    "topsoftkey1 type": "callers",
    "topsoftkey2 type": "speeddial",
    "topsoftkey2 label": "VoiceMail",
    "topsoftkey2 line": "1",
    "topsoftkey4 type": "directory",
}
SEED_LINE1 = {
    "screen name": "John 3003",
    "user name": "3003",
    "display name": "John 3003",
    "auth name": "3003",
    "password": "22222",
    "proxy ip": "10.100.2.127",
    "proxy port": "5060",
    "registrar ip": "10.100.2.127",
    "registrar port": "5060",
}


def http_fetch(base: str, phone: AastraPhone):
    client = httpx.Client(base_url=base, headers={"User-Agent": phone.user_agent}, timeout=10)

    def fetch(name: str) -> tuple[int, bytes]:
        response = client.get(f"/{name}")
        return response.status_code, response.content

    return fetch


def assert_seed_phone(phone: AastraPhone) -> None:
    missing = {k: v for k, v in SEED_SETTINGS.items() if phone.settings.get(k) != v}
    assert not missing, f"settings differ from the seed: {missing}"
    assert phone.line(1) | SEED_LINE1 == phone.line(1)


def test_aastra_6757i_boots_over_http_with_httpx(server):
    phone = AastraPhone(mac="00085D000001", model="6757i")
    phone.boot(http_fetch(server.base, phone))
    assert phone.fetched == [("aastra.cfg", 200), ("6757i.cfg", 200), ("00085D000001.cfg", 200)]
    assert_seed_phone(phone)


def test_aastra_6757i_boots_over_http_with_curl(server):
    curl = need("curl")
    phone = AastraPhone(mac="00085D000001", model="6757i")

    def fetch(name: str) -> tuple[int, bytes]:
        result = subprocess.run(
            [curl, "-s", "-A", phone.user_agent, "-w", "\n%{http_code}", f"{server.base}/{name}"],
            capture_output=True, check=True, timeout=10,
        )  # fmt: skip
        body, _, status = result.stdout.rpartition(b"\n")
        return int(status), body

    phone.boot(fetch)
    assert_seed_phone(phone)


def test_second_phone_gets_its_own_line_and_keys_on_its_model_families(server):
    phone = AastraPhone(mac="00085D000002", model="6731i")
    phone.boot(http_fetch(server.base, phone))
    assert phone.line(1)["user name"] == "3004"
    assert phone.line(1)["password"] == "33333"
    # the 6731i has eight prgkeys and no soft keys: the phone's own keys land there
    assert phone.settings["prgkey1 type"] == "flash"
    assert phone.settings["prgkey2 type"] == "speeddial"
    assert phone.settings["prgkey2 value"] == "##"
    assert phone.settings["prgkey3 type"] == "directory"
    assert phone.settings["prgkey4 type"] == "callers"
    assert not any(name.startswith("topsoftkey") for name in phone.settings)


def test_requests_are_logged_and_unknown_macs_recorded_without_secrets(server):
    known = AastraPhone(mac="00085D000001", model="6757i")
    known.boot(http_fetch(server.base, known))
    stranger = AastraPhone(mac="00085D0000FF", model="6757i")
    stranger.boot(http_fetch(server.base, stranger))
    assert stranger.fetched[-1] == ("00085D0000FF.cfg", 404)
    assert "sip line1 password" not in stranger.settings
    assert "sip proxy ip" not in stranger.settings
    # lower-case MAC in the file name is the same phone
    lower = httpx.get(f"{server.base}/00085d000001.cfg", timeout=10)
    assert lower.status_code == 200 and b"sip line1 user name: 3003" in lower.content

    store = server.store()
    try:
        for _ in range(50):
            with store.sessions() as session:
                events = list(
                    session.scalars(select(ProvisioningEvent).order_by(ProvisioningEvent.id))
                )
                devices = {d.mac: d for d in session.scalars(select(DeviceState))}
            if len(events) >= 7 and "00085D0000FF" in devices:
                break
            time.sleep(0.1)
    finally:
        store.dispose()
    paths = [(e.path, e.status, e.mac) for e in events]
    assert ("/00085D000001.cfg", "ok", "00085D000001") in paths
    assert ("/00085D0000FF.cfg", "not_found", "00085D0000FF") in paths
    first = next(e for e in events if e.path == "/aastra.cfg")
    assert first.transport == "http"
    assert first.client_address == "127.0.0.1"
    assert first.user_agent == known.user_agent
    assert first.bytes > 0
    seen = devices["00085D0000FF"]
    assert seen.model == "6757i" and seen.firmware_version == "3.2.2.1136"
    assert devices["00085D000001"].last_address == "127.0.0.1"
    unassigned = run_cli("phones", "--unassigned", data=server.data).stdout
    assert "00:08:5D:00:00:FF  6757i  (unassigned)" in unassigned
    assert "00:08:5D:00:00:01" not in unassigned
    log = (server.data / "serve.log").read_text()
    assert "22222" not in log and "33333" not in log

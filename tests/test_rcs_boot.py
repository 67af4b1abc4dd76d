"""End to end: factory-fresh emulated Aastra phones ask a running ``plugtone serve``'s
redirection service, are sent on to a plugtone configuration server, boot from it and
end with their SIP account; with a firmware version assigned, an Aastra first gets the
firmware (and reboots), then the redirect; an emulated Polycom is given its boot server
(``device.prov.serverName``), restarts and boots from plugtone with its account.

One server, one test (its steps are the functions below): the example inventory (its 6757i holds line 3003, its 6731i
line 3004), the redirection service at the root of ``--rcs-port`` and under ``/rcs/`` of
the HTTP listener, and its accounts made with the ``plugtone rcs`` commands. The
emulated phone (tests/emulators/aastra.py) fetches each file from the server its
settings name at that moment (``download protocol``, ``http server``, ``http port``,
``http path``), as a phone whose configuration server was just set does; with none set
it asks the redirection service, as a factory-fresh phone pointed there does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from tests.conftest import EXAMPLE, RunningServer, free_port, run_cli, start_server, stop_server
from tests.emulators.aastra import AastraPhone, make_image, parse_aastra
from tests.emulators.polycom import PolycomPhone

PLAIN = "00085D000001"  # 6757i, line 3003 in the example inventory
WITH_FIRMWARE = "00085D000002"  # 6731i, line 3004
UNAFFILIATED = "00085D000077"
STRANGER = "00085D0000FF"
POLYCOM = "0004F2000607"  # IP 650, line 201 (password 1212) in the example inventory
RELEASE = "4.1.0.100"
ADMIN = RcsActor("admin", "admin", None, None, "cli")


@pytest.fixture
def served(tmp_path_factory) -> Iterator[tuple[RunningServer, int]]:
    root = tmp_path_factory.mktemp("rcs-boot")
    rcs_port = free_port()
    running = start_server(root / "data", extra=("--rcs-port", str(rcs_port)))
    try:
        data = running.data
        run_cli("apply", str(EXAMPLE), data=data)
        image = root / "6731i.st"
        image.write_bytes(make_image(RELEASE))
        run_cli("firmware", "add", "--vendor", "aastra", "--model", "6731i", "--version",
                RELEASE, str(image), data=data)  # fmt: skip
        config = f"http://127.0.0.1:{running.http_port}/"
        run_cli("rcs", "account", "add", "acme", data=data)
        run_cli("rcs", "server", "add", "plugtone", config, "--account", "acme", data=data)
        sheet = root / "phones.csv"  # first column MAC; then server, firmware
        sheet.write_text(f"MAC\n{PLAIN},plugtone\n{WITH_FIRMWARE},plugtone,{RELEASE}\n"
                         f"{UNAFFILIATED}\n")  # fmt: skip
        imported = run_cli("rcs", "import", str(sheet), "--account", "acme", data=data)
        assert imported.stdout.count("added") == 3
        yield running, rcs_port
    finally:
        stop_server(running)


class Network:
    """Where the emulated phone's requests go: the server its settings name now, else
    the redirection service; every request recorded as (server, name, status)."""

    def __init__(self, rcs_base: str) -> None:
        self.rcs_base = rcs_base
        self.client = httpx.Client(timeout=10)
        self.log: list[tuple[str, str, int]] = []
        self.bodies: list[bytes] = []

    def fetch_for(self, phone: AastraPhone):
        def fetch(name: str) -> tuple[int, bytes]:
            settings = phone.settings
            if settings.get("download protocol", "").upper() == "HTTP":
                path = settings.get("http path", "").strip("/")
                base = f"http://{settings['http server']}:{settings.get('http port', '80')}"
                base += f"/{path}" if path else ""
                where = "config"
            elif settings.get("download protocol"):  # the example's TFTP server: not here
                self.log.append(("elsewhere", name, 404))
                self.bodies.append(b"")
                return 404, b""
            else:
                base, where = self.rcs_base, "rcs"
            answer = self.client.get(f"{base}/{name}", headers={"User-Agent": phone.user_agent})
            self.log.append((where, name, answer.status_code))
            self.bodies.append(answer.content)
            return answer.status_code, answer.content

        return fetch


def a_factory_phone_is_redirected_and_ends_with_its_sip_account(served):
    running, rcs_port = served
    network = Network(f"http://127.0.0.1:{rcs_port}")
    phone = AastraPhone(PLAIN, "6757i")
    phone.boot(network.fetch_for(phone))
    assert network.log[0] == ("rcs", "aastra.cfg", 200)
    redirect = parse_aastra(network.bodies[0].decode())
    assert redirect == {"download protocol": "HTTP", "http server": "127.0.0.1",
                        "http path": "", "http port": str(running.http_port)}  # fmt: skip
    # the rest of the boot is the configuration server's
    assert network.log[1:] == [("config", "6757i.cfg", 200), ("config", f"{PLAIN}.cfg", 200)]
    assert phone.line(1)["auth name"] == "3003"
    assert phone.line(1)["password"] == "22222"
    assert phone.line(1)["proxy ip"] == "10.100.2.127"
    # its configuration server's own settings now hold (the example's site says TFTP)
    assert phone.settings["download protocol"] == "TFTP"


def with_firmware_assigned_the_phone_gets_it_first_then_the_redirect(served):
    _running, rcs_port = served
    network = Network(f"http://127.0.0.1:{rcs_port}")
    phone = AastraPhone(WITH_FIRMWARE, "6731i", firmware="3.2.2.1136", checks_firmware=True)
    downloads = phone.boot_until_stable(network.fetch_for(phone))
    assert [(d.name, d.from_version, d.to_version, d.boot) for d in downloads] == [
        ("6731i.st", "3.2.2.1136", RELEASE, 1)]  # fmt: skip
    first_boot = [entry for entry in network.log if entry[0] == "rcs"][:4]
    assert first_boot == [("rcs", "aastra.cfg", 200), ("rcs", "6731i.cfg", 404),
                          ("rcs", f"{WITH_FIRMWARE}.cfg", 200), ("rcs", "6731i.st", 200)]  # fmt: skip
    assert phone.firmware == RELEASE
    # the second boot, on the new image, was redirected and got its account
    second = network.log.index(("rcs", "aastra.cfg", 200), 1)
    assert parse_aastra(network.bodies[second].decode())["download protocol"] == "HTTP"
    assert network.log[second + 1 :] == [("config", "6731i.cfg", 200),
                                         ("config", f"{WITH_FIRMWARE}.cfg", 200),
                                         ("elsewhere", "6731i.st", 404)]  # fmt: skip
    assert phone.line(1)["auth name"] == "3004"
    assert phone.line(1)["password"] == "33333"


def unknown_unregistered_and_unaffiliated_macs_get_the_same_answer(served):
    _running, rcs_port = served
    answers = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{rcs_port}", timeout=10) as client:
        for mac in (STRANGER, UNAFFILIATED, "00085D0000FE"):
            phone = AastraPhone(mac, "6757i")
            agent = {"User-Agent": phone.user_agent}
            common = client.get("/aastra.cfg", headers=agent)
            own = client.get(f"/{mac}.cfg", headers=agent)
            answers[mac] = (common.status_code, common.content, own.status_code, own.content)
    assert len(set(answers.values())) == 1
    status, body, own_status, _ = answers[STRANGER]
    assert (status, own_status) == (200, 404)
    assert b"download protocol" not in body


def the_phone_http_listener_answers_under_rcs(served):
    running, rcs_port = served
    phone = AastraPhone(PLAIN, "6757i")
    agent = {"User-Agent": phone.user_agent}
    here = httpx.get(f"{running.base}/rcs/{PLAIN}.cfg", headers=agent, timeout=10)
    there = httpx.get(f"http://127.0.0.1:{rcs_port}/{PLAIN}.cfg", headers=agent, timeout=10)
    assert here.status_code == there.status_code == 200
    assert here.content == there.content
    assert b"http server: 127.0.0.1" in here.content
    assert httpx.post(f"{running.base}/rcs/aastra.cfg", timeout=10).status_code == 405


def statistics_count_what_the_phones_did(served):
    running, _ = served
    store = running.store()
    try:
        figures = rcs.stats(store, ADMIN, "acme")
    finally:
        store.dispose()
    assert (figures.registered, figures.unaffiliated) == (3, 1)
    assert figures.redirected == 2
    assert figures.contacts_day == figures.contacts_week == 3
    assert [(s.name, s.phones, s.redirected) for s in figures.servers] == [("plugtone", 2, 2)]
    shown = run_cli("rcs", "stats", "--account", "acme", data=running.data).stdout
    assert re.search(r"phones registered\s+3", shown)
    assert re.search(r"plugtone\s+2\s+2\s+2", shown)


def a_polycom_is_given_its_boot_server(served):
    running, rcs_port = served
    config = f"http://127.0.0.1:{running.http_port}/"
    store = running.store()
    try:
        rcs.register_phones(store, ADMIN, [rcs.Row(POLYCOM, rcs.Assignment("plugtone"))],
                            account="acme")  # fmt: skip
    finally:
        store.dispose()
    phone = PolycomPhone(POLYCOM)
    client = httpx.Client(timeout=10)
    boot_server = [f"http://127.0.0.1:{rcs_port}/"]

    def fetch(name: str) -> bytes | None:
        answer = client.get(boot_server[0] + name, headers={"User-Agent": phone.user_agent})
        return answer.content if answer.status_code == 200 else None

    def upload(name: str, content: bytes, append: bool) -> bool:
        return client.put(boot_server[0] + name, content=content).status_code in (200, 201, 204)

    phone.boot(fetch, upload)
    assert phone.config_files == [f"{POLYCOM.lower()}-rcs.cfg"]
    assert phone.settings["device.set"] == "1"
    assert phone.settings["device.prov.serverName"] == config
    # a <device/> change restarts the phone, which then asks its new boot server
    boot_server[0] = phone.settings["device.prov.serverName"]
    phone.boot(fetch, upload)
    assert phone.line(1)["auth.userId"] == "201"
    assert phone.line(1)["auth.password"] == "1212"


def the_cli_refuses_bad_input(served):
    running, _ = served
    long = run_cli("rcs", "server", "add", "x" * 21, "http://p/", "--account", "acme",
                   data=running.data, check=False)  # fmt: skip
    assert long.returncode != 0
    assert "a server name has at most 20 characters; this one has 21" in long.stderr
    mixed = run_cli("rcs", "phone", "add", "00085D000050", "nonsense", "--account", "acme",
                    data=running.data, check=False)  # fmt: skip
    assert mixed.returncode == 1
    assert "Reenter a valid MAC address" in mixed.stdout
    listed = run_cli("rcs", "phone", "list", "--account", "acme", data=running.data).stdout
    assert "00085D000050" not in listed  # none-or-all: the good MAC was not written


def test_factory_phones_through_the_redirection_service(served):
    """One server for every step (starting one costs seconds, and the statistics count
    what the steps before did): each step is a function above."""
    a_factory_phone_is_redirected_and_ends_with_its_sip_account(served)
    with_firmware_assigned_the_phone_gets_it_first_then_the_redirect(served)
    unknown_unregistered_and_unaffiliated_macs_get_the_same_answer(served)
    the_phone_http_listener_answers_under_rcs(served)
    statistics_count_what_the_phones_did(served)
    the_cli_refuses_bad_input(served)
    a_polycom_is_given_its_boot_server(served)

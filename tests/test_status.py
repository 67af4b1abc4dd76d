"""Device status: up to date, stale after a change that touches the phone, failing,
never seen and unassigned; through the real provisioner in-process on both stores,
and through a real ``plugtone serve`` booting emulated phones."""

from __future__ import annotations

import asyncio
import ipaddress
import time

import httpx

from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest
from plugtone.provisioning.trust import NetworkRule
from plugtone.services.actors import local_admin
from plugtone.services.objects import delete_extension
from plugtone.services.status import phone_status, status_summary
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, run_cli
from tests.emulators.aastra import AastraPhone
from tests.test_aastra_boot import http_fetch
from tests.test_api import start_api, stop_server

A_HQ = "00085D000001"
B_HQ = "00085D000002"
C_LAB = "00085D000003"
EXTRA = """
phones:
  - {mac: "00:08:5D:00:00:03", model: 6757i, site: lab}
"""
WRONG_MODEL = """
phones:
  - {mac: "00:08:5D:00:00:04", model: CP-7960G, site: lab}
"""


def ua(mac: str, model: str = "6757i") -> str:
    return f"Aastra{model} MAC:{'-'.join(mac[i : i + 2] for i in range(0, 12, 2))} V:3.2.2-SIP"


def boot(provisioner: Provisioner, mac: str, *, outcome: str = "ok") -> list[str]:
    """An Aastra boot: aastra.cfg, its model file, its own file (ending as ``outcome``)."""
    statuses = []

    async def run() -> None:
        for name in ("aastra.cfg", "6757i.cfg", f"{mac}.cfg"):
            request = FileRequest(name, "tftp", "10.1.2.3", ua(mac))
            answer = await provisioner.answer(request)
            status = "ok" if answer.content is not None else "not_found"
            if status == "ok" and name.startswith(mac):
                status = outcome
            provisioner.finished(request, answer, status, answer.size)
            statuses.append(status)

    asyncio.run(run())
    provisioner.recorder.flush(force=True)
    return statuses


def states(store) -> dict[str, str]:
    page = phone_status(store, local_admin(), ["up_to_date", "stale", "failing", "never_seen",
                                               "unassigned"], limit=1000)  # fmt: skip
    return {item.mac: item.state for item in page.items}


def test_a_change_makes_only_the_phones_it_touches_stale_until_they_boot(store, tmp_path):
    apply_text(store, EXAMPLE.read_text())
    apply_text(store, EXTRA)
    rules = [NetworkRule(ipaddress.ip_network("10.0.0.0/8"))]
    provisioner = Provisioner.for_store(store, default_registry(), tmp_path,
                                        trusted_networks=rules)  # fmt: skip
    assert boot(provisioner, A_HQ) == ["ok", "ok", "ok"]
    assert boot(provisioner, C_LAB) == ["ok", "ok", "ok"]
    now = states(store)
    assert (now[A_HQ], now[C_LAB], now[B_HQ]) == ("up_to_date", "up_to_date", "never_seen")

    # the hq site's SIP server moves: every hq phone's files change, the lab's do not
    text = EXAMPLE.read_text().replace("sip_server: 10.100.2.127 ", "sip_server: 10.100.2.128 ")
    assert text != EXAMPLE.read_text()
    apply_text(store, text)
    now = states(store)
    assert (now[A_HQ], now[C_LAB]) == ("stale", "up_to_date")
    summary = status_summary(store, local_admin())
    assert summary.counts["stale"] == 1 and summary.counts["up_to_date"] == 1

    provisioner.resolver.refresh(force=True)
    boot(provisioner, A_HQ)
    assert states(store)[A_HQ] == "up_to_date"

    # an edit of the lab phone alone makes it stale, and hq's phone stays current
    apply_text(store, EXTRA.replace("site: lab}", "site: lab, description: desk 12}"))
    now = states(store)
    assert (now[A_HQ], now[C_LAB]) == ("up_to_date", "stale")


def test_failing_never_seen_and_unassigned_are_counted_and_paged(store, tmp_path):
    apply_text(store, EXAMPLE.read_text())
    apply_text(store, EXTRA)
    rules = [NetworkRule(ipaddress.ip_network("10.0.0.0/8"))]
    provisioner = Provisioner.for_store(store, default_registry(), tmp_path,
                                        trusted_networks=rules)  # fmt: skip
    boot(provisioner, A_HQ)
    boot(provisioner, C_LAB, outcome="aborted")  # the TFTP transfer of its own file broke
    boot(provisioner, "00085D0000FF")  # no phone of the inventory
    summary = status_summary(store, local_admin())
    assert summary.counts == {"up_to_date": 1, "stale": 0, "failing": 1, "never_seen": 3,
                              "unassigned": 1}  # fmt: skip
    failing = phone_status(store, local_admin(), ["failing"]).items
    assert [(item.mac, item.boot_errors) for item in failing] == [(C_LAB, 1)]
    assert failing[0].last_error == f"aborted {C_LAB}.cfg"
    assert failing[0].last_address == "10.1.2.3" and failing[0].user_agent == ua(C_LAB)

    # the default list is the attention list, paged by MAC
    seen, after = [], None
    while True:
        page = phone_status(store, local_admin(), site=None, after=after, limit=2)
        seen += [(item.mac, item.state) for item in page.items]
        if page.next is None:
            break
        after = page.next
    assert [mac for mac, _ in seen] == sorted(mac for mac, _ in seen)
    assert {state for _, state in seen} == {"failing", "never_seen"}
    assert len(seen) == 4
    assert status_summary(store, local_admin(), "lab").counts["failing"] == 1

    boot(provisioner, C_LAB)  # it got its file this time: the boot's errors are over
    assert states(store)[C_LAB] == "up_to_date"


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_emulated_phones_boot_against_plugtone_serve_and_status_follows(tmp_path, monkeypatch):
    api = start_api(tmp_path / "data", monkeypatch)
    data = api.server.data
    try:
        for text in (EXAMPLE.read_text(), EXTRA, WRONG_MODEL):
            source = tmp_path / "doc.yaml"
            source.write_text(text)
            run_cli("apply", str(EXAMPLE if text == EXAMPLE.read_text() else source), data=data)
        admin = api.client()

        def phones(**params) -> dict[str, dict]:
            answer = admin.get("/api/status/phones", params=params)
            assert answer.status_code == 200, answer.text
            return {item["mac"]: item for item in answer.json()["items"]}

        everything = {"state": ["up_to_date", "stale", "failing", "never_seen", "unassigned"]}
        booted = {}
        for mac in (A_HQ, C_LAB, "00085D000004", "00085D0000FF"):
            booted[mac] = AastraPhone(mac=mac, model="6757i")
            booted[mac].boot(http_fetch(api.server.base, booted[mac]))
        assert booted["00085D000004"].fetched[-1] == ("00085D000004.cfg", 404)

        def settled() -> dict[str, dict] | None:
            found = phones(**everything)
            done = all(mac in found for mac in (A_HQ, C_LAB, "00085D000004", "00085D0000FF"))
            return found if done and found[A_HQ]["state"] == "up_to_date" else None

        found = wait_for(settled)
        assert found, phones(**everything)
        assert found[A_HQ]["last_address"] == "127.0.0.1"
        assert found[A_HQ]["user_agent"].startswith("Aastra6757i MAC:00-08-5D-00-00-01")
        assert found[A_HQ]["firmware"] == "3.2.2.1136"
        assert found[A_HQ]["files_generation"] >= 1
        assert found[C_LAB]["state"] == "up_to_date"
        # in the inventory as a Cisco 7960, it is an Aastra: its own file is not there
        assert found["00085D000004"]["state"] == "failing"
        assert found["00085D000004"]["last_error"] == "not_found /00085D000004.cfg"
        assert found["00085D0000FF"]["state"] == "unassigned"
        assert found[B_HQ]["state"] == "never_seen"

        changed = EXAMPLE.read_text().replace(
            "sip_server: 10.100.2.127 ", "sip_server: 10.100.2.128 "
        )
        (tmp_path / "hq.yaml").write_text(changed)
        (tmp_path / "logo.png").write_bytes((EXAMPLE.parent / "logo.png").read_bytes())
        run_cli("apply", str(tmp_path / "hq.yaml"), data=data)
        found = phones(**everything)
        assert (found[A_HQ]["state"], found[C_LAB]["state"]) == ("stale", "up_to_date")
        summary = admin.get("/api/status").json()
        assert summary["counts"]["stale"] == 1 and summary["counts"]["unassigned"] == 1

        shown = run_cli("status", data=data).stdout
        assert "1 stale" in shown and "1 failing" in shown and "1 unassigned" in shown
        assert "00:08:5D:00:00:01" in shown and "00:08:5D:00:00:04" in shown
        assert "00:08:5D:00:00:03" not in shown  # up to date: needs no attention
        stale_only = run_cli("status", "--state", "stale", data=data).stdout
        assert "00:08:5D:00:00:01" in stale_only and "00:08:5D:00:00:04" not in stale_only

        time.sleep(0.7)  # the server re-reads the generation twice a second
        phone = AastraPhone(mac=A_HQ, model="6757i")
        phone.boot(http_fetch(api.server.base, phone))
        assert phone.settings["sip proxy ip"] == "10.100.2.128"
        assert wait_for(lambda: phones(state="up_to_date").get(A_HQ))
        answer = httpx.get(f"{api.server.admin_base}/api/status")
        assert answer.status_code == 401
    finally:
        stop_server(api.server)


def test_deleting_an_extension_makes_its_sites_phones_stale(store, tmp_path):
    """A deleted extension leaves the site's directory, which each of its phones shows."""
    apply_text(store, EXAMPLE.read_text())
    apply_text(store, EXTRA + 'extensions:\n  - {number: "7777", site: lab, name: Temp}\n')
    rules = [NetworkRule(ipaddress.ip_network("10.0.0.0/8"))]
    provisioner = Provisioner.for_store(store, default_registry(), tmp_path,
                                        trusted_networks=rules)  # fmt: skip
    boot(provisioner, A_HQ)
    boot(provisioner, C_LAB)
    assert (states(store)[A_HQ], states(store)[C_LAB]) == ("up_to_date", "up_to_date")
    delete_extension(store, local_admin(), "lab", "7777")
    now = states(store)
    assert (now[A_HQ], now[C_LAB]) == ("up_to_date", "stale")

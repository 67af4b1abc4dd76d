"""The firmware and device routes of the admin API, through a real ``plugtone serve``
with httpx: phones ask on the phone port, admins look and act on the admin port.

Roles are the service layer's: a viewer reads (masked), an operator pins and claims,
an admin adds releases and sees secrets, and every change leaves an audit row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from plugtone.inventory.models import AuditEntry
from plugtone.macaddr import colon_mac
from plugtone.services.unit_of_work import MASK
from tests.conftest import RunningServer, run_cli, start_server, stop_server
from tests.emulators.aastra import make_image

HQ = [f"00085D0001{index:02X}" for index in range(1, 7)]
POLYCOM = "0004F2000101"
STRANGER = "00085D0001EE"
OLD, NEW = "4.0.0.1", "4.2.0.7"
SIP_SECRET = "Hq-Secret-3001"
PLCM_SECRET = "Plcm&Secret<201>"
PROBLEM = "application/problem+json"


def inventory() -> str:
    lines = ["sites:", "  - {name: hq, sip_server: 10.0.0.1}", "  - {name: br, sip_server: 10.0.0.2}",
             "extensions:", f"  - {{number: '3001', site: hq, password: {SIP_SECRET}}}",
             "  - {number: '3002', site: hq, password: spare-3002}",
             f"  - {{number: '201', site: br, password: '{PLCM_SECRET}'}}", "phones:"]  # fmt: skip
    lines.append(f"  - {{mac: {HQ[0]}, model: 6757i, site: hq, lines: ['3001']}}")
    lines += [f"  - {{mac: {mac}, model: 6757i, site: hq}}" for mac in HQ[1:]]
    lines.append(f"  - {{mac: {POLYCOM}, model: IP650, site: br, lines: ['201']}}")
    return "\n".join(lines) + "\n"


class Admin:
    """Clients of the admin API, one per role, with tokens made by ``plugtone token``."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        run_cli("user", "add", "otto", "--role", "operator", "--password-file",
                str(self._password()), data=server.data)  # fmt: skip
        run_cli("user", "add", "vera", "--role", "viewer", "--password-file",
                str(self._password()), data=server.data)  # fmt: skip
        self.admin = self._client("admin")
        self.operator = self._client("otto")
        self.viewer = self._client("vera")
        self.nobody = httpx.Client(base_url=server.admin_base, verify=False, timeout=30)

    def _password(self):
        path = self.server.data / "password.txt"
        path.write_text("a long password 1\n")
        return path

    def _client(self, user: str) -> httpx.Client:
        token = run_cli("token", "create", "--user", user, data=self.server.data).stdout.strip()
        return httpx.Client(base_url=self.server.admin_base, verify=False, timeout=30,
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip

    def close(self) -> None:
        for client in (self.admin, self.operator, self.viewer, self.nobody):
            client.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[tuple[RunningServer, Admin]]:
    root = tmp_path_factory.mktemp("api")
    running = start_server(root / "data", admin=True)
    try:
        (root / "fleet.yaml").write_text(inventory())
        run_cli("apply", str(root / "fleet.yaml"), data=running.data)
        admin = Admin(running)
        deadline = time.monotonic() + 30
        while admin.viewer.get("/api/firmware").status_code != 200:
            assert time.monotonic() < deadline, "the admin listener did not answer"
            time.sleep(0.1)
        yield running, admin
        admin.close()
    finally:
        stop_server(running)


def audit_rows(server: RunningServer, kind: str) -> list[tuple[str, str, str]]:
    store = server.store()
    try:
        with store.sessions() as session:
            rows = session.execute(
                select(AuditEntry.action, AuditEntry.key, AuditEntry.actor)
                .where(AuditEntry.kind == kind)
                .order_by(AuditEntry.id)
            )
            return [tuple(row) for row in rows]
    finally:
        store.dispose()


def refused(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    return answer.json()


def until(check, seconds: float = 10.0):
    """Poll ``check`` until it returns something true (the event log is written in batches)."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def phone_get(server: RunningServer, path: str, mac: str, version: str = OLD) -> httpx.Response:
    agent = f"Aastra6757i MAC:{colon_mac(mac).replace(':', '-')} V:{version}-SIP"
    return httpx.get(f"{server.base}/{path}", headers={"User-Agent": agent}, timeout=10)


# -- firmware


def test_a_release_is_uploaded_pinned_staged_promoted_and_removed(served, tmp_path):
    server, api = served
    image = make_image(NEW, size=300_000)
    upload = {"vendor": "aastra", "models": "6757i", "version": NEW, "note": "spring"}
    files = [("files", ("6757i.st", image, "application/octet-stream"))]
    refused(api.operator.post("/api/firmware", data=upload, files=files), 403)
    added = api.admin.post("/api/firmware", data=upload, files=files)
    assert added.status_code == 201, added.text
    assert added.headers["location"] == f"/api/firmware/aastra/{NEW}"
    assert added.json()["files"][0]["size"] == len(image) and added.json()["note"] == "spring"
    again = refused(api.admin.post("/api/firmware", data=upload, files=files), 422)
    assert "already in the repository" in again["errors"][0]["message"]
    listed = api.viewer.get("/api/firmware").json()["items"]
    assert [(r["vendor"], r["version"], r["pinned"]) for r in listed] == [("aastra", NEW, [])]

    # a viewer may not pin, and nothing moves
    report = api.viewer.get("/api/firmware/report").json()
    refused(api.viewer.put("/api/pins", json={"site": "hq", "version": NEW}), 403)
    assert api.viewer.get("/api/firmware/report").json() == report

    pinned = api.operator.put("/api/pins", json={"site": "hq", "version": NEW, "first_wave": "10%"})
    assert pinned.status_code == 200, pinned.text
    body = pinned.json()
    assert body["changes"] == [f"firmware -> {NEW} (first wave 10%)"]
    (wave,) = body["pins"][0]["wave"]
    assert body["generation"] is not None
    rows = {row["mac"]: row for row in api.viewer.get("/api/firmware/report").json()["items"]}
    assert rows[wave]["target"] == NEW and rows[wave]["pin"] == "site, first wave"

    # the phone in the wave is offered the image on the phone port; the others are not
    other = next(mac for mac in HQ if mac != wave)
    offered = until(lambda: (answer := phone_get(server, "6757i.st", wave)).is_success and answer)
    assert offered and offered.content == image
    assert phone_get(server, "6757i.st", other).status_code == 404

    refused(api.admin.delete(f"/api/firmware/aastra/{NEW}"), 409)
    promoted = api.operator.post("/api/pins/promote", json={"site": "hq"})
    assert promoted.json()["changes"] == [f"site hq: {NEW} promoted to every phone"]
    # every node sees a new generation within its check interval (0.5 s)
    assert until(lambda: phone_get(server, "6757i.st", other).status_code == 200)
    problem = refused(api.operator.post("/api/pins/promote", json={"all": True}), 409)
    assert problem["detail"] == "no staged pin to promote there"

    removed = api.operator.request("DELETE", "/api/pins", json={"site": "hq"})
    assert removed.status_code == 200 and removed.json()["pins"][0]["version"] == NEW
    refused(api.operator.request("DELETE", "/api/pins", json={"site": "hq"}), 404)
    refused(api.operator.delete(f"/api/firmware/aastra/{NEW}"), 403)
    assert api.admin.delete(f"/api/firmware/aastra/{NEW}").status_code == 204
    assert api.viewer.get("/api/firmware").json() == {"items": []}
    assert not any((server.data / "firmware" / "sha256").rglob("*.st"))

    assert [action for action, _, _ in audit_rows(server, "pin")] == ["create", "promote", "delete"]
    assert audit_rows(server, "release") == [
        ("create", f"aastra {NEW}", "admin"), ("delete", f"aastra {NEW}", "admin"),
    ]  # fmt: skip


def test_bad_pin_requests_are_problems_naming_each_field(served):
    _, api = served

    def field(body: dict) -> set[str]:
        return {
            error["field"]
            for error in refused(api.operator.put("/api/pins", json=body), 422)["errors"]
        }

    assert field({"site": "hq", "version": "../x"}) == {"version"}
    assert field({"site": "hq", "model": "6757i", "version": OLD}) == {"owner"}
    assert field({"version": OLD}) == {"owner"}
    assert field({"site": "hq", "version": OLD, "first_wave": "0%"}) == {"first_wave"}
    assert field({"phone": "01:00:5e:00:00:01", "version": OLD}) == {"phone"}  # multicast
    unknown = refused(api.operator.put("/api/pins", json={"site": "nowhere", "version": OLD}), 404)
    assert unknown["detail"] == "no site 'nowhere'"
    missing = refused(api.operator.put("/api/pins", json={"phone": HQ[0], "version": "9.9"}), 422)
    assert "has no release" in missing["errors"][0]["message"]
    extra = refused(api.operator.put("/api/pins", json={"site": "hq", "version": OLD, "x": 1}), 422)
    assert extra["errors"][0]["field"] == "x"
    mixed = api.operator.post("/api/pins/promote", json={"all": True, "site": "hq"})
    assert refused(mixed, 422)["errors"][0]["field"] == "all"
    refused(api.nobody.get("/api/firmware"), 401)
    refused(api.nobody.get("/api/devices"), 401)


# -- devices


def test_a_stranger_is_seen_claimed_and_served_its_account(served):
    server, api = served
    assert phone_get(server, f"{STRANGER}.cfg", STRANGER).status_code == 404

    def unassigned() -> list[str]:
        return [item["mac"] for item in api.viewer.get("/api/unassigned").json()["items"]]

    assert until(lambda: STRANGER in unassigned()), "the stranger never showed up"
    events = until(lambda: api.viewer.get("/api/events", params={"mac": STRANGER}).json()["items"])
    assert events[0]["path"] == f"/{STRANGER}.cfg" and events[0]["status"] == "not_found"

    refused(api.viewer.post(f"/api/unassigned/{STRANGER}/claim", json={"site": "hq"}), 403)
    bad = refused(api.operator.post(f"/api/unassigned/{STRANGER}/claim",
                                    json={"site": "hq", "lines": ["3001"]}), 422)  # fmt: skip
    assert "3001" in bad["errors"][0]["message"]  # on another phone's line already
    claimed = api.operator.post(f"/api/unassigned/{colon_mac(STRANGER).lower()}/claim",
                                json={"site": "hq", "lines": ["3002"]})  # fmt: skip
    assert claimed.status_code == 201, claimed.text
    assert claimed.headers["location"] == f"/api/phones/{colon_mac(STRANGER)}"
    assert claimed.json()["phone"]["lines"][0]["number"] == "3002"
    assert claimed.json()["phone"]["seen"]["model"] == "6757i"
    refused(api.operator.post(f"/api/unassigned/{STRANGER}/claim", json={"site": "hq"}), 409)
    assert STRANGER not in unassigned()

    served_now = until(lambda: (got := phone_get(server, f"{STRANGER}.cfg", STRANGER)).is_success
                       and got)  # fmt: skip
    assert served_now and b"sip line1 password: spare-3002" in served_now.content
    assert [key for _, key, _ in audit_rows(server, "claim")] == [STRANGER]

    found = api.viewer.get("/api/devices", params={"q": colon_mac(STRANGER)[:14]}).json()
    assert STRANGER in [item["mac"] for item in found["items"]]
    by_number = api.viewer.get("/api/devices", params={"q": "3002"}).json()["items"]
    assert [item["mac"] for item in by_number] == [STRANGER]


def test_device_pages_cover_every_phone_once(served):
    _, api = served
    macs, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after else {})}
        page = api.viewer.get("/api/devices", params=params).json()
        macs += [item["mac"] for item in page["items"]]
        after = page["next"]
        if after is None:
            break
    assert macs == sorted(set(macs)) and set(HQ) | {POLYCOM} <= set(macs)
    only = api.viewer.get("/api/devices", params={"site": "br"}).json()["items"]
    assert [item["mac"] for item in only] == [POLYCOM]
    refused(api.viewer.get("/api/devices", params={"after": "nonsense"}), 422)
    refused(api.viewer.get("/api/devices", params={"limit": 0}), 422)


def test_served_files_are_masked_and_only_an_admin_reveals_them(served):
    server, api = served
    path = f"/api/phones/{HQ[0]}/files/{HQ[0]}.cfg"
    masked = api.viewer.get(path)
    assert masked.status_code == 200 and masked.headers["x-masked-secrets"] == "1"
    assert SIP_SECRET.encode() not in masked.content
    assert f"sip line1 password: {MASK}".encode() in masked.content
    assert masked.headers["cache-control"] == "no-store"
    refused(api.viewer.get(path, params={"reveal": "true"}), 403)
    refused(api.operator.get(path, params={"reveal": "true"}), 403)
    assert audit_rows(server, "disclosure") == []
    revealed = api.admin.get(path, params={"reveal": "true"})
    assert f"sip line1 password: {SIP_SECRET}".encode() in revealed.content
    assert audit_rows(server, "disclosure") == [("reveal", f"{HQ[0]}/{HQ[0]}.cfg", "admin")]
    gone = refused(api.viewer.get(f"/api/phones/{STRANGER[:-1]}F/files/x.cfg"), 404)
    assert "not served to" in gone["detail"]

    # the Polycom registration file escapes the password for XML: masked all the same
    registration = api.viewer.get(f"/api/phones/{POLYCOM}/files/{POLYCOM.lower()}-reg.cfg")
    assert registration.status_code == 200, registration.text
    assert b"Plcm&amp;Secret" not in registration.content and b"Plcm&" not in registration.content
    assert MASK.encode() in registration.content


def test_uploads_are_listed_and_shown_masked(served):
    server, api = served
    log = f"boot ok, registered 201 with {PLCM_SECRET}\n".encode()
    upload = f"{server.base}/{POLYCOM.lower()}-boot.log"
    agent = {"User-Agent": "FileTransport PolycomSoundPointIP-SPIP_650-UA/4.0.15.1009"}
    # as a real Polycom does: its master file first (from 127.0.0.1, a trusted network),
    # then its boot log from the same address; uploads come only from where it asked
    early = httpx.put(upload, content=log, headers=agent, timeout=10)
    assert early.status_code == 403, early.text  # trusted, but not yet seen as the phone
    master = httpx.get(f"{server.base}/{POLYCOM.lower()}.cfg", headers=agent, timeout=10)
    assert master.status_code == 200, master.text
    put = httpx.put(upload, content=log, headers=agent, timeout=10)
    assert put.status_code in (200, 201, 204), put.text
    elsewhere = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with elsewhere:  # a stranger's upload under the phone's name is refused, and not stored
        stranger = elsewhere.put(upload, content=b"forged\n", headers=agent, timeout=10)
    assert stranger.status_code == 401, stranger.text
    listed = api.viewer.get(f"/api/phones/{colon_mac(POLYCOM)}/uploads").json()["items"]
    assert [(item["name"], item["size"]) for item in listed] == [
        (f"{POLYCOM.lower()}-boot.log", len(log))
    ]
    shown = api.viewer.get(f"/api/phones/{POLYCOM}/uploads/{POLYCOM}-BOOT.LOG")
    assert shown.status_code == 200 and PLCM_SECRET.encode() not in shown.content
    assert shown.content == f"boot ok, registered 201 with {MASK}\n".encode()
    raw = api.admin.get(f"/api/phones/{POLYCOM}/uploads/{POLYCOM}-boot.log?reveal=true")
    assert raw.content == log
    refused(api.viewer.get(f"/api/phones/{POLYCOM}/uploads/nothing.log"), 404)
    assert api.viewer.get(f"/api/phones/{HQ[3]}/uploads").json() == {"items": []}

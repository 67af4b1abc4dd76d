"""Device use cases of the service layer, on SQLite and PostgreSQL: phone and device
lists in keyset pages, claiming a device, the event log, uploads, and what a phone is
served with its secrets masked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import func, select

from plugtone.inventory.models import AuditEntry, DeviceState, Phone, ProvisioningEvent
from plugtone.inventory.store import Store
from plugtone.macaddr import colon_mac
from plugtone.provisioning.uploads import UploadStore
from plugtone.services import devices
from plugtone.services.actors import Actor, Role
from plugtone.services.cursors import decode_cursor, encode_cursor
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound
from plugtone.services.unit_of_work import MASK
from plugtone.vendors.base import UploadRef
from tests.conftest import apply_text, run_cli

ADMIN = Actor("ada", Role.ADMIN, "api")
OPERATOR = Actor("otto", Role.OPERATOR, "api")
VIEWER = Actor("vera", Role.VIEWER, "api")
SECRET = "S3cr&t<\"x>'9"
"""A SIP password with every character XML escapes, so both forms must be masked."""
FTP_SECRET = "ftp-Secret-77"
HQ = [f"00085D0000{index:02X}" for index in range(1, 24)]
BRANCH = [f"0004F20000{index:02X}" for index in range(1, 6)]
SEEN = [f"00085D00AA{index:02X}" for index in range(1, 8)]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def inventory() -> str:
    lines = [
        "sites:",
        "  - {name: hq, sip_server: 10.0.0.1}",
        "  - name: branch",
        "    sip_server: 10.0.0.2",
        f"    ftp_account: {{user: branch, password: {FTP_SECRET}}}",
        "extensions:",
        *(f"  - {{number: '{3000 + i}', site: hq, password: pw-{3000 + i}}}" for i in range(30)),
        "  - number: '201'",
        "    site: branch",
        f"    password: '{SECRET.replace(chr(39), chr(39) * 2)}'",
        "  - {number: '3099', site: hq, password: spare-3099}",
        "phones:",
    ]
    for index, mac in enumerate(HQ):
        note = ", description: 'Reception 50% desk'" if index == 4 else ""
        lines.append(f"  - {{mac: {mac}, model: 6757i, site: hq, lines: ['{3000 + index}']{note}}}")
    lines.append(f"  - {{mac: {BRANCH[0]}, model: IP650, site: branch, lines: ['201']}}")
    lines += [f"  - {{mac: {mac}, model: IP335, site: branch}}" for mac in BRANCH[1:]]
    return "\n".join(lines) + "\n"


@pytest.fixture
def fleet(store):
    apply_text(store, inventory())
    with store.sessions() as session:
        for index, mac in enumerate([*SEEN, HQ[0]]):
            session.add(
                DeviceState(mac=mac, vendor="aastra", model="6757i" if index else "Aastra9999x",
                            firmware_version="4.1.0.1", last_address=f"10.0.0.{index + 10}",
                            first_seen=T0, last_seen=T0 + timedelta(minutes=index), requests=3)
            )  # fmt: skip
        session.commit()
    return store


def walk(page_of, limit: int) -> list:
    """Every item, page by page; asserts each page is full but the last."""
    items, after = [], None
    while True:
        page = page_of(after=after, limit=limit)
        assert len(page.items) == limit or page.next is None
        items += page.items
        if page.next is None:
            return items
        after = page.next


def audit(store, kind: str) -> list[AuditEntry]:
    with store.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.kind == kind).order_by(AuditEntry.id)
            )
        )


def all_audit_text(store) -> str:
    """Every string the audit log holds, one per line (as stored, unescaped)."""

    def strings(value) -> list[str]:
        if isinstance(value, dict):
            return [text for item in value.values() for text in strings(item)]
        if isinstance(value, list):
            return [text for item in value for text in strings(item)]
        return [str(value)] if value is not None else []

    with store.sessions() as session:
        rows = session.scalars(select(AuditEntry)).all()
        return "\n".join(
            text
            for row in rows
            for text in strings([row.key, row.summary, row.before, row.after, row.actor])
        )


# -- lists


def test_phone_pages_cover_every_phone_exactly_once_in_mac_order(fleet):
    every = sorted([*HQ, *BRANCH])
    for limit in (1, 4, 7, 28, 100):
        found = walk(lambda **page: devices.list_phones(fleet, VIEWER, **page), limit)
        assert [phone.mac for phone in found] == every
    first = devices.list_phones(fleet, VIEWER, limit=3)
    assert decode_cursor(first.next, str) == (first.items[-1].mac,)  # opaque, ends at a MAC
    phone = next(p for p in walk(lambda **p: devices.list_phones(fleet, VIEWER, **p), 10)
                 if p.mac == HQ[0])  # fmt: skip
    assert (phone.model, phone.vendor, phone.site) == ("6757i", "aastra", "hq")
    assert [(line.index, line.site, line.number) for line in phone.lines] == [(1, "hq", "3000")]
    assert phone.seen is not None and phone.seen.address == "10.0.0.17"
    assert phone.seen.last_seen == T0 + timedelta(minutes=7)

    branch = walk(lambda **p: devices.list_phones(fleet, VIEWER, site="branch", **p), 2)
    assert [p.mac for p in branch] == sorted(BRANCH)
    assert [p.mac for p in devices.list_phones(fleet, VIEWER, vendor="polycom").items] == sorted(
        BRANCH
    )
    assert [p.mac for p in devices.list_phones(fleet, VIEWER, model="ip335").items] == sorted(
        BRANCH[1:]
    )


def test_phones_are_found_by_mac_prefix_extension_or_description(fleet):
    def search(text: str) -> list[str]:
        return [p.mac for p in devices.list_phones(fleet, VIEWER, q=text, limit=1000).items]

    assert search("00:08:5d:00:00:1") == sorted(mac for mac in HQ if mac.startswith("00085D00001"))
    assert search("0004.f200.00") == sorted(BRANCH)
    assert search("00-04-F2-00-00-03") == [BRANCH[2]]
    assert search("3007") == [HQ[7]]  # an extension number on a line
    assert search("201") == [BRANCH[0]]
    assert search("reception 50%") == [HQ[4]]  # a piece of the description, any case
    assert search("50%") == [HQ[4]] and search("5_%") == []  # LIKE wildcards are literal
    assert search("nobody") == []


def test_unassigned_devices_are_the_seen_ones_not_in_the_inventory(fleet):
    for limit in (1, 3, 7, 50):
        found = walk(lambda **page: devices.list_unassigned(fleet, VIEWER, **page), limit)
        assert [device.mac for device in found] == SEEN
    first = devices.list_unassigned(fleet, VIEWER, limit=1).items[0]
    assert (first.seen.model, first.seen.requests, first.seen.firmware_version) == (
        "Aastra9999x",
        3,
        "4.1.0.1",
    )


def test_bad_cursors_and_limits_are_refused(fleet):
    for call in (
        lambda: devices.list_phones(fleet, VIEWER, after="zz"),
        lambda: devices.list_phones(fleet, VIEWER, after=encode_cursor("not a MAC")),
        lambda: devices.list_unassigned(fleet, VIEWER, after=encode_cursor(12)),
        lambda: devices.list_phones(fleet, VIEWER, limit=0),
        lambda: devices.list_unassigned(fleet, VIEWER, limit=1001),
        lambda: devices.list_events(fleet, VIEWER, after="-1"),
        lambda: devices.list_events(fleet, VIEWER, mac="nope"),
    ):
        with pytest.raises(Invalid):
            call()


def test_events_come_newest_first_in_pages_with_filters(fleet):
    with fleet.sessions() as session:
        for index in range(30):
            session.add(
                ProvisioningEvent(
                    time=T0 + timedelta(seconds=index), transport=("tftp", "http")[index % 2],
                    client_address="10.0.0.9", path=f"file{index}.cfg",
                    mac=HQ[index % 3], vendor="aastra", status=("ok", "not_found")[index % 5 == 0],
                    bytes=index, user_agent=None, detail=None,
                )
            )  # fmt: skip
        session.commit()
    found = walk(lambda **page: devices.list_events(fleet, VIEWER, **page), 7)
    assert [event.path for event in found] == [f"file{index}.cfg" for index in reversed(range(30))]
    ids = [event.id for event in found]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 30
    assert found[0].time == T0 + timedelta(seconds=29)

    def paths(**filters) -> list[int]:
        events = walk(lambda **page: devices.list_events(fleet, VIEWER, **filters, **page), 4)
        return sorted(int(event.path[4:-4]) for event in events)

    assert paths(mac=HQ[1].lower()) == list(range(1, 30, 3))
    assert paths(transport="http") == list(range(1, 30, 2))
    assert paths(status="not_found") == list(range(0, 30, 5))
    assert paths(since=T0 + timedelta(seconds=25)) == [25, 26, 27, 28, 29]
    assert paths(until=T0 + timedelta(seconds=2)) == [0, 1]
    local = T0.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert paths(since=local + timedelta(seconds=28)) == [28, 29]  # any zone, compared in UTC
    assert paths(since=T0.replace(tzinfo=None) + timedelta(seconds=29)) == [29]  # naive: UTC


# -- claiming a device


def test_a_claimed_device_is_served_its_account(fleet, registry):
    mac = SEEN[1]
    claimed = devices.claim_device(fleet, OPERATOR, mac.lower(), site="hq", lines=["3099"],
                                   description="Spare desk")  # fmt: skip
    assert claimed.changes == (f"create phone {mac}: 6757i at hq",)
    assert claimed.generation is not None
    assert (claimed.phone.model, claimed.phone.site, claimed.phone.description) == (
        "6757i",
        "hq",
        "Spare desk",
    )
    assert [(line.index, line.number) for line in claimed.phone.lines] == [(1, "3099")]
    assert mac not in [d.mac for d in devices.list_unassigned(fleet, VIEWER, limit=100).items]

    served = devices.rendered_file(fleet, registry, ADMIN, mac, f"{mac}.cfg", reveal=True)
    assert b"sip line1 user name: 3099" in served.content
    assert b"sip line1 password: spare-3099" in served.content and served.masked == 0
    shown = devices.rendered_file(fleet, registry, VIEWER, mac, f"{mac}.cfg")
    assert b"spare-3099" not in shown.content and f"password: {MASK}".encode() in shown.content
    assert shown.masked == 1

    (row,) = audit(fleet, "claim")
    assert (row.action, row.key, row.actor) == ("claim", mac, "otto")
    assert row.after["lines"] == ["3099"] and row.after["site"] == "hq"
    assert [(r.action, r.key) for r in audit(fleet, "phone")][-1] == ("create", mac)
    (disclosure,) = audit(fleet, "disclosure")
    assert (disclosure.action, disclosure.key, disclosure.actor) == (
        "reveal",
        f"{mac}/{mac}.cfg",
        "ada",
    )
    assert "spare-3099" not in all_audit_text(fleet)

    with pytest.raises(Conflict, match="in the inventory already"):
        devices.claim_device(fleet, OPERATOR, mac, site="hq")


def test_claims_are_refused_clearly_and_change_nothing(fleet):
    def phones() -> int:
        with fleet.sessions() as session:
            return session.scalar(select(func.count()).select_from(Phone))

    before = phones()
    unknown = pytest.raises(Invalid)
    with unknown as refused:
        devices.claim_device(fleet, OPERATOR, SEEN[0], site="hq")  # reported Aastra9999x
    problem = refused.value.problems[0]
    assert problem.where == "model" and "'Aastra9999x'" in problem.message
    assert "name its model" in problem.message
    claimed = devices.claim_device(fleet, OPERATOR, SEEN[0], site="hq", model="6731i")
    assert claimed.phone.model == "6731i"
    before += 1
    with pytest.raises(Invalid) as refused:
        devices.claim_device(fleet, OPERATOR, SEEN[2], site="hq", lines=["3001"])
    assert "3001" in refused.value.problems[0].message  # already on another phone's line
    assert refused.value.problems[0].where == "claim"
    with pytest.raises(Invalid) as refused:
        devices.claim_device(fleet, OPERATOR, SEEN[2], site="nowhere")
    assert "unknown site 'nowhere'" in refused.value.problems[0].message
    with pytest.raises(Invalid):
        devices.claim_device(fleet, OPERATOR, SEEN[2], site="hq", lines=["no such/3000"])
    with pytest.raises(NotFound, match="has not asked for a file yet"):
        devices.claim_device(fleet, OPERATOR, "00085D00EEEE", site="hq")
    with pytest.raises(Conflict):
        devices.claim_device(fleet, OPERATOR, HQ[0], site="hq")
    with pytest.raises(Invalid):
        devices.claim_device(fleet, OPERATOR, "not-a-mac", site="hq")
    with pytest.raises(Denied):
        devices.claim_device(fleet, VIEWER, SEEN[2], site="hq")
    assert phones() == before
    assert len(audit(fleet, "claim")) == 1


def test_of_simultaneous_claims_of_one_device_exactly_one_wins(fleet):
    """The 'not in the inventory' check holds under the write lock, not only before it."""
    import threading

    start = threading.Barrier(4)
    outcomes: list[str] = []

    def claim() -> None:
        start.wait()
        try:
            devices.claim_device(fleet, OPERATOR, SEEN[3], site="hq")
            outcomes.append("claimed")
        except Conflict as refused:
            outcomes.append(refused.message)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    refusal = f"{colon_mac(SEEN[3])} is in the inventory already"
    assert sorted(outcomes) == sorted(["claimed", refusal, refusal, refusal])
    assert len([row for row in audit(fleet, "claim") if row.key == SEEN[3]]) == 1


# -- what a phone is served


def test_every_secret_is_masked_raw_and_xml_escaped(fleet, registry):
    mac = BRANCH[0]
    plugin = registry.by_name["polycom"]
    forms = xml_forms(SECRET)
    masked_somewhere = 0
    for name in plugin.served_files(["IP650"], [mac]):
        try:
            revealed = devices.rendered_file(fleet, registry, ADMIN, mac, name, reveal=True)
        except NotFound:
            continue
        shown = devices.rendered_file(fleet, registry, VIEWER, mac, name)
        for form in forms:
            assert form.encode() not in shown.content, (name, form)
        assert shown.content.replace(MASK.encode(), b"") == _unmasked(revealed.content)
        masked_somewhere += shown.masked
    assert masked_somewhere >= 1
    with fleet.sessions() as session:
        assert set(devices.phone_secrets(session, mac)) == {SECRET, FTP_SECRET}
    assert devices.mask_secrets(f"a {FTP_SECRET} b".encode(), [FTP_SECRET]) == (
        f"a {MASK} b".encode(),
        1,
    )
    assert not any(form in all_audit_text(fleet) for form in xml_forms(SECRET))


def xml_forms(secret: str) -> list[str]:
    """``secret`` as written and as any XML writer may escape it, longest first."""
    forms = {secret}
    for quote in ('"', "&quot;", "&#34;"):
        for apostrophe in ("'", "&apos;", "&#39;"):
            forms.add(escape(secret, {'"': quote, "'": apostrophe}))
    return sorted(forms, key=len, reverse=True)


def _unmasked(content: bytes) -> bytes:
    for form in xml_forms(SECRET):
        content = content.replace(form.encode(), b"")
    return content


def test_a_viewer_and_an_operator_are_refused_a_reveal(fleet, registry):
    name = f"{HQ[0]}.cfg"
    for actor in (VIEWER, OPERATOR):
        with pytest.raises(Denied):
            devices.rendered_file(fleet, registry, actor, HQ[0], name, reveal=True)
    assert audit(fleet, "disclosure") == []
    common = devices.rendered_file(fleet, registry, ADMIN, HQ[0], "aastra.cfg", reveal=True)
    assert common.masked == 0 and audit(fleet, "disclosure") == []  # no secret, no disclosure
    with pytest.raises(NotFound, match="not served to 00:08:5D:00:00:AA"):
        devices.rendered_file(fleet, registry, VIEWER, "00085D0000AA", "00085D0000AA.cfg")


def test_uploads_are_listed_and_shown_masked(fleet, tmp_path):
    uploads = UploadStore(tmp_path / "uploads")
    mac = HQ[2]
    uploads.save(UploadRef("aastra", mac, f"{mac}-boot.log"), b"registered with pw-3002\n")
    listed = devices.list_uploads(fleet, VIEWER, uploads, mac.lower())
    assert [(item.name, item.size) for item in listed] == [(f"{mac}-boot.log", 24)]
    shown = devices.upload_content(fleet, VIEWER, uploads, mac, f"{mac}-BOOT.LOG")
    assert shown.content == f"registered with {MASK}\n".encode() and shown.masked == 1
    assert shown.content_type.startswith("text/plain")
    raw = devices.upload_content(fleet, ADMIN, uploads, mac, f"{mac}-boot.log", reveal=True)
    assert raw.content == b"registered with pw-3002\n"
    assert [row.key for row in audit(fleet, "disclosure")] == [f"{mac}/{mac}-boot.log"]
    with pytest.raises(Denied):
        devices.upload_content(fleet, VIEWER, uploads, mac, f"{mac}-boot.log", reveal=True)
    with pytest.raises(NotFound, match=r"has uploaded no x\.log"):
        devices.upload_content(fleet, VIEWER, uploads, mac, "x.log")
    assert devices.list_uploads(fleet, VIEWER, uploads, HQ[3]) == []


# -- the command line


def test_claim_render_and_phones_on_the_command_line(tmp_path):
    data = tmp_path / "var"
    run_cli("init", data=data)
    (tmp_path / "fleet.yaml").write_text(inventory())
    run_cli("apply", str(tmp_path / "fleet.yaml"), data=data)
    store = Store(f"sqlite:///{data / 'plugtone.db'}")
    try:
        with store.sessions() as session:
            for mac in SEEN[3:5]:
                session.add(DeviceState(mac=mac, vendor="aastra", model="6757i",
                                        last_address="10.0.0.50", first_seen=T0, last_seen=T0,
                                        requests=1))  # fmt: skip
            session.commit()
    finally:
        store.dispose()
    unassigned = run_cli("phones", "--unassigned", data=data).stdout.splitlines()
    assert [line.split()[:4] for line in unassigned[1:]] == [
        [colon_mac(mac), "6757i", "(unassigned)", "-"] for mac in SEEN[3:5]
    ]

    claimed = run_cli("claim", colon_mac(SEEN[3]).lower(), "--site", "hq", "--line", "3099",
                      data=data).stdout  # fmt: skip
    assert f"create phone {SEEN[3]}: 6757i at hq" in claimed
    assert f"claimed {colon_mac(SEEN[3])}: 6757i at hq" in claimed
    listing = {
        line.split()[0]: line.split()[:4]
        for line in run_cli("phones", data=data).stdout.splitlines()[1:]
    }
    assert listing[colon_mac(SEEN[3])] == [colon_mac(SEEN[3]), "6757i", "hq", "1"]
    assert len(listing) == len(HQ) + len(BRANCH) + 2  # and the device still unassigned
    assert listing[colon_mac(SEEN[4])][2] == "(unassigned)"
    left = run_cli("phones", "--unassigned", data=data).stdout.splitlines()[1:]
    assert [line.split()[0] for line in left] == [colon_mac(SEEN[4])]
    rendered = run_cli("render", SEEN[3], f"{SEEN[3]}.cfg", data=data).stdout
    assert "sip line1 password: spare-3099" in rendered  # the local admin sees it all

    again = run_cli("claim", SEEN[3], "--site", "hq", data=data, check=False)
    assert again.returncode == 1 and "in the inventory already" in again.stderr
    refused = run_cli("claim", SEEN[4], "--site", "hq", "--line", "3000", data=data, check=False)
    assert refused.returncode == 1 and "error: claim: extension hq/3000 is on" in refused.stderr
    unseen = run_cli("claim", "00085D00EEEE", "--site", "hq", data=data, check=False)
    assert unseen.returncode == 1 and "has not asked for a file yet" in unseen.stderr

"""Provisioning windows: armed and disarmed through the service layer, the CLI and the
API, and what a real ``plugtone serve`` then hands out to whom.

A new install trusts nobody (``start_server(trusted=False)``): a phone's own file
carries no SIP password until a window covers that phone, and none again once the
window is disarmed, closes for it (``once``), or covers another site.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from plugtone.inventory.models import AuditEntry, ProvisioningWindow
from plugtone.inventory.store import Store, migrate, read_generation
from plugtone.provisioning.resolver import Resolver
from plugtone.services import windows
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Denied, Invalid, NotFound
from plugtone.vendors import default_registry
from tests.conftest import (
    EXAMPLE,
    RunningServer,
    apply_text,
    need,
    run_cli,
    start_server,
    stop_server,
)
from tests.test_api import Api, assert_problem, start_api

ADMIN = Actor("ada", Role.ADMIN, "api")
OPERATOR = Actor("otto", Role.OPERATOR, "api")
VIEWER = Actor("vera", Role.VIEWER, "api")
AASTRA_1, AASTRA_2, POLYCOM = "00085D000001", "00085D000002", "0004F2000607"
"""The example's phones: two Aastras at site hq, a Polycom at site maxcs7."""
UA_1 = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
UA_2 = "Aastra6731i MAC:00-08-5D-00-00-02 V:3.2.2.1136-SIP"
UA_POLYCOM = "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.3.1734"
SECRET_1, SECRET_2, SECRET_POLYCOM = (
    "sip line1 password: 22222",
    "sip line1 password: 33333",
    'reg.1.auth.password="1212"',
)


@pytest.fixture
def example(db_url, tmp_path) -> Iterator[Store]:
    store = Store(db_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    yield store
    store.dispose()


@pytest.fixture
def lite(sqlite_url, tmp_path) -> Iterator[Store]:
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    yield store
    store.dispose()


@contextmanager
def invalid(pattern: str) -> Iterator[None]:
    """Expect :class:`Invalid` with a problem matching ``pattern``."""
    with pytest.raises(Invalid) as caught:
        yield
    problems = caught.value.problems
    assert any(re.search(pattern, str(problem)) for problem in problems), problems


def generation(store: Store) -> int:
    with store.sessions() as session:
        return read_generation(session)


def audit_count(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count(AuditEntry.id)))


def window_count(store: Store) -> int:
    with store.sessions() as session:
        return session.scalar(select(func.count(ProvisioningWindow.id)))


def resolver_windows(store: Store):
    """The windows a fresh resolver loads from the store, as a server process would."""
    resolver = Resolver(store, default_registry())
    resolver.refresh(force=True)
    return resolver.windows


# -- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45s", 45), ("7d", 604800),
     (" 2H ", 7200), (600, 600)],
)  # fmt: skip
def test_durations_read_as_people_write_them(text, seconds):
    assert windows.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h", "1.5h", "0m", "8d", "169h",
                                  True, "9" * 40 + "s"])  # fmt: skip
def test_bad_or_overlong_durations_are_refused_with_the_rule(text):
    with pytest.raises(Invalid) as refused:
        windows.parse_duration(text)
    message = refused.value.problems[0].message
    assert "duration" in message or "7d" in message or "some time" in message


# -- the service layer


def test_arming_a_site_and_phones_is_audited_moves_the_generation_and_reaches_the_resolver(
    example,
):
    before = generation(example)
    site = windows.arm(example, OPERATOR, site="hq", duration="2h")
    assert generation(example) == before + 1
    phones = windows.arm(example, OPERATOR, macs=["00:04:f2:00:06:07"], duration="30m",
                         once=True)  # fmt: skip
    assert generation(example) == before + 2
    assert (site.site, site.macs, site.once, site.state()) == ("hq", (), False, "open")
    assert (phones.site, phones.macs, phones.once) == (None, (POLYCOM,), True)
    assert site.closes_at - site.opens_at == timedelta(hours=2)
    assert [w.id for w in windows.list_windows(example, VIEWER)] == [site.id, phones.id]

    loaded = resolver_windows(example)
    now = time.time()
    assert loaded.open_for(AASTRA_1, "hq", now).id == site.id
    assert loaded.open_for(AASTRA_2, "hq", now).id == site.id
    assert loaded.open_for(POLYCOM, "maxcs7", now).id == phones.id
    assert loaded.open_for("00115C93AFD1", "lab", now) is None  # another site's phone

    with example.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "window").order_by(AuditEntry.id)
        ).all()
    assert [(row.action, row.actor, row.key) for row in rows] == [
        ("arm", "otto", str(site.id)), ("arm", "otto", str(phones.id))
    ]  # fmt: skip
    assert rows[1].after["macs"] == [POLYCOM] and rows[1].after["once"] is True
    assert "2h" in rows[0].summary and "once" in rows[1].summary


def test_unknown_macs_are_refused_all_named_and_nothing_changes(example):
    before, audits = generation(example), audit_count(example)
    with pytest.raises(Invalid) as refused:
        windows.arm(example, ADMIN, macs=[AASTRA_1, "00:08:5D:99:00:01", "0008.5d99.0002"])
    message = refused.value.problems[0].message
    assert "00:08:5D:99:00:01" in message and "00:08:5D:99:00:02" in message
    assert "00:08:5D:00:00:01" not in message
    with pytest.raises(Invalid) as refused:
        windows.arm(example, ADMIN, macs=["not-a-mac"])
    assert refused.value.problems[0].where == "macs[0]"
    with pytest.raises(NotFound, match="no site nowhere"):
        windows.arm(example, ADMIN, site="nowhere")
    with invalid("site or for phones"):
        windows.arm(example, ADMIN, site="hq", macs=[AASTRA_1])
    with invalid("site or for phones"):
        windows.arm(example, ADMIN)
    with invalid("7d"):
        windows.arm(example, ADMIN, site="hq", duration="8d")
    with invalid("past"):
        windows.arm(example, ADMIN, site="hq", opens_at=datetime.now(UTC) - timedelta(hours=1))
    assert (generation(example), audit_count(example), window_count(example)) == (before, audits, 0)


def test_viewers_list_and_operators_arm_and_disarm(lite):
    with pytest.raises(Denied, match="operator"):
        windows.arm(lite, VIEWER, site="hq")
    armed = windows.arm(lite, OPERATOR, site="hq")
    assert [w.id for w in windows.list_windows(lite, VIEWER)] == [armed.id]
    with pytest.raises(Denied):
        windows.disarm(lite, VIEWER, everything=True)
    assert [w.id for w in windows.disarm(lite, OPERATOR, window_id=armed.id).closed] == [armed.id]


def test_an_upcoming_window_is_listed_and_opens_later(lite):
    later = windows.arm(lite, ADMIN, site="hq", duration="1h",
                        opens_at=datetime.now(UTC) + timedelta(hours=2))  # fmt: skip
    assert later.state() == "upcoming"
    assert [(w.id, w.state()) for w in windows.list_windows(lite, VIEWER)] == [
        (later.id, "upcoming")
    ]
    loaded = resolver_windows(lite)
    assert loaded.open_for(AASTRA_1, "hq", time.time()) is None
    assert loaded.open_for(AASTRA_1, "hq", time.time() + 2.5 * 3600).id == later.id
    with invalid("30 days"):
        windows.arm(lite, ADMIN, site="hq", opens_at=datetime.now(UTC) + timedelta(days=31))


def test_disarming_by_id_site_phones_and_all(example):
    site = windows.arm(example, ADMIN, site="hq")
    pair = windows.arm(example, ADMIN, macs=[AASTRA_1, POLYCOM])
    lone = windows.arm(example, ADMIN, macs=[POLYCOM])

    before = generation(example)
    result = windows.disarm(example, ADMIN, macs=["00:04:F2:00:06:07"])
    assert generation(example) == before + 1
    assert [w.id for w in result.closed] == [lone.id]
    assert [(w.id, w.macs) for w in result.narrowed] == [(pair.id, (AASTRA_1,))]
    assert result.still_covered == ()
    result = windows.disarm(example, ADMIN, macs=[AASTRA_1])
    assert [w.id for w in result.closed] == [pair.id]
    assert [(mac, w.id) for mac, w in result.still_covered] == [(AASTRA_1, site.id)]
    assert resolver_windows(example).open_for(AASTRA_1, "hq", time.time()).id == site.id

    result = windows.disarm(example, ADMIN, site="hq")
    assert [w.id for w in result.closed] == [site.id] and result.closed[0].state() == "closed"
    assert windows.list_windows(example, VIEWER) == []
    assert not resolver_windows(example)

    again = windows.arm(example, ADMIN, site="maxcs7")
    other = windows.arm(example, ADMIN, macs=[AASTRA_2], opens_at=datetime.now(UTC)
                        + timedelta(hours=1))  # fmt: skip
    result = windows.disarm(example, ADMIN, everything=True)
    assert sorted(w.id for w in result.closed) == [again.id, other.id]
    assert windows.list_windows(example, VIEWER) == []
    with example.sessions() as session:
        actions = session.execute(
            select(AuditEntry.action, func.count()).where(AuditEntry.kind == "window")
            .group_by(AuditEntry.action)
        ).all()  # fmt: skip
    assert dict(actions) == {"arm": 5, "disarm": 6}  # 5 closed, 1 narrowed


def test_disarming_nothing_is_no_error_but_an_unknown_id_is(lite):
    before = generation(lite)
    result = windows.disarm(lite, ADMIN, everything=True)
    assert (result.closed, result.narrowed, result.generation) == ((), (), None)
    assert windows.disarm(lite, ADMIN, macs=[AASTRA_1]).closed == ()
    assert generation(lite) == before
    with pytest.raises(NotFound, match="no open or upcoming window 99"):
        windows.disarm(lite, ADMIN, window_id=99)
    with pytest.raises(NotFound, match="no site nowhere"):
        windows.disarm(lite, ADMIN, site="nowhere")
    with invalid("one window"):
        windows.disarm(lite, ADMIN, site="hq", everything=True)
    closed = windows.arm(lite, ADMIN, site="hq")
    windows.disarm(lite, ADMIN, window_id=closed.id)
    with pytest.raises(NotFound):
        windows.disarm(lite, ADMIN, window_id=closed.id)


def test_deleting_a_site_takes_its_windows_along(lite):
    apply_text(lite, "sites:\n  - {name: empty, sip_server: 10.0.0.9}\n")
    windows.arm(lite, ADMIN, site="empty")
    from plugtone.services.objects import delete_site

    delete_site(lite, ADMIN, "empty")
    assert windows.list_windows(lite, VIEWER) == []


# -- the CLI


def test_the_cli_arms_lists_and_disarms(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    out = run_cli("arm", "--site", "hq", "--for", "2h", data=data).stdout
    assert out.startswith("armed window 1: site hq, open ")
    out = run_cli("arm", "--phone", "00:08:5D:00:00:01", "0004f2000607", "--for", "30m",
                  "--once", data=data).stdout  # fmt: skip
    assert "window 2: 2 phone(s): 00:08:5D:00:00:01, 00:04:F2:00:06:07, open" in out
    assert out.rstrip().endswith(", once")
    run_cli("arm", "--site", "lab", "--in", "1h", data=data)
    listing = run_cli("windows", data=data).stdout.splitlines()
    assert listing[0].split() == ["ID", "COVERS", "STATE", "OPENS", "CLOSES", "ONCE", "BY"]
    assert [line.split()[0] for line in listing[1:]] == ["1", "2", "3"]
    assert "upcoming" in listing[3] and "yes" in listing[2]

    refused = run_cli("arm", "--phone", "00:08:5D:99:00:01", "--for", "10m", data=data,
                      check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "not phones in the inventory: 00:08:5D:99:00:01" in refused.stderr
    assert "nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
    for args, wanted in (
        (("--site", "hq", "--for", "30d"), "at most 7d"),
        (("--site", "hq", "--for", "soon"), "not a duration"),
        ((), "arm needs --site NAME or --phone MAC"),
        (("00085D000001",), "--phone MAC"),
        (("--site", "hq", "--in", "later"), "not a duration"),
    ):
        result = run_cli("arm", *args, data=data, check=False)
        assert result.returncode != 0 and wanted in result.stderr, (args, result.stderr)

    out = run_cli("disarm", "--phone", "00:08:5D:00:00:01", data=data)
    assert "window 2 now covers 1 phone(s): 00:04:F2:00:06:07" in out.stdout
    assert "still covered by window 1 (site hq, open): plugtone disarm 1" in out.stderr
    assert run_cli("disarm", "1", data=data).stdout == "closed window 1: site hq\n"
    assert "no open or upcoming window 1" in run_cli("disarm", "1", data=data,
                                                       check=False).stderr  # fmt: skip
    assert run_cli("disarm", "--site", "lab", data=data).stdout.startswith("closed window 3")
    assert run_cli("disarm", "--all", data=data).stdout.startswith("closed window 2")
    assert run_cli("disarm", "--all", data=data).stdout == "no window was open for that\n"
    assert "no open or upcoming window" in run_cli("windows", data=data).stdout


# -- the API


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    started = start_api(tmp_path / "data", monkeypatch)
    run_cli("apply", str(EXAMPLE), data=started.server.data)
    yield started
    stop_server(started.server)


def test_the_api_arms_lists_and_disarms_with_the_roles(api):
    viewer = api.client(api.token_for("vera", "viewer"))
    operator = api.client(api.token_for("otto", "operator"))
    assert viewer.get("/api/windows").json() == {"items": []}
    assert_problem(viewer.post("/api/windows", json={"site": "hq"}), 403)

    answer = operator.post("/api/windows", json={"macs": ["00-08-5d-00-00-01"],
                                                 "duration": "10m", "once": True})  # fmt: skip
    assert answer.status_code == 201, answer.text
    window = answer.json()
    assert answer.headers["location"] == f"/api/windows/{window['id']}"
    assert (window["macs"], window["site"], window["once"], window["state"]) == (
        [AASTRA_1], None, True, "open")  # fmt: skip
    opens = datetime.fromisoformat(window["opens_at"])
    assert datetime.fromisoformat(window["closes_at"]) - opens == timedelta(minutes=10)
    assert window["created_by"] == "otto"
    site = operator.post("/api/windows", json={"site": "hq"}).json()
    assert site["closes_at"] > window["closes_at"]  # one hour by default
    assert [item["id"] for item in viewer.get("/api/windows").json()["items"]] == [
        window["id"], site["id"]]  # fmt: skip

    body = assert_problem(operator.post("/api/windows", json={"macs": ["00:08:5D:99:00:01"]}),
                          422)  # fmt: skip
    assert body["errors"][0]["field"] == "macs"
    assert "00:08:5D:99:00:01" in body["errors"][0]["message"]
    assert_problem(operator.post("/api/windows", json={"site": "hq", "duration": "9d"}), 422)
    assert_problem(operator.post("/api/windows", json={"site": "nowhere"}), 404)
    assert_problem(operator.post("/api/windows", json={"site": "hq", "colour": "red"}), 422)

    assert_problem(viewer.delete(f"/api/windows/{site['id']}"), 403)
    assert operator.delete(f"/api/windows/{site['id']}").status_code == 204
    assert_problem(operator.delete(f"/api/windows/{site['id']}"), 404)
    assert [item["id"] for item in viewer.get("/api/windows").json()["items"]] == [window["id"]]
    audit = api.client().get("/api/audit", params={"kind": "window"}).json()["items"]
    assert [(row["action"], row["actor"]) for row in audit] == [
        ("disarm", "otto"), ("arm", "otto"), ("arm", "otto")]  # fmt: skip


# -- end to end: what a real server hands out


def fetch(server: RunningServer, name: str, user_agent: str, interface: str | None = None) -> str:
    """``name`` as curl gets it (from ``interface``, another loopback address, if given)."""
    command = [need("curl"), "-s", "-A", user_agent, f"{server.base}/{name}"]
    if interface:
        command[1:1] = ["--interface", interface]
    return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout


def eventually(check, timeout: float = 3.0) -> float:
    """Seconds until ``check()`` held (the resolver rereads the generation every 0.5 s)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"still not true after {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def disclosures(server: RunningServer, *args: str) -> list[list[str]]:
    """``plugtone events --secrets`` as rows of cells (a header first)."""
    out = run_cli("events", "--secrets", *args, data=server.data).stdout
    return [line.split() for line in out.splitlines()]


@pytest.fixture
def untrusting(tmp_path, monkeypatch) -> Iterator[RunningServer]:
    """A server as installed: no trusted network, no window; the example inventory.
    ``once`` windows close for a phone one second after its first secret."""
    monkeypatch.setenv("PLUGTONE_ONCE_GRACE", "1")
    data = tmp_path / "data"
    server = start_server(data, trusted=False)
    run_cli("apply", str(EXAMPLE), data=data)
    yield server
    stop_server(server)


def test_a_window_for_a_phone_opens_and_closes_its_secrets(untrusting):
    server = untrusting
    assert "password" not in fetch(server, f"{AASTRA_1}.cfg", UA_1)
    run_cli("arm", "--phone", colon(AASTRA_1), "--for", "10m", data=server.data)
    waited = eventually(lambda: SECRET_1 in fetch(server, f"{AASTRA_1}.cfg", UA_1))
    assert waited < 1.5
    assert SECRET_2 not in fetch(server, f"{AASTRA_2}.cfg", UA_2)  # not in the window

    def listed() -> bool:
        rows = disclosures(server, "--mac", AASTRA_1)
        return len(rows) > 1

    eventually(listed, timeout=10)
    header, row, *_older = disclosures(server, "--mac", AASTRA_1)
    assert header == ["TIME", "MAC", "FILE", "CLIENT", "TRUST", "TRANSPORT"]
    assert row[2:] == ["00:08:5D:00:00:01", f"/{AASTRA_1}.cfg", "127.0.0.1", "window", "http"]
    plain = run_cli("events", "--mac", AASTRA_1, data=server.data).stdout.splitlines()
    assert "TRUST" in plain[0].split() and "stranger" in plain[-1].split()

    run_cli("disarm", "--all", data=server.data)
    eventually(lambda: "password" not in fetch(server, f"{AASTRA_1}.cfg", UA_1))


def test_a_once_window_closes_for_a_phone_after_its_grace(untrusting):
    server = untrusting
    run_cli("arm", "--phone", colon(AASTRA_1), colon(AASTRA_2), "--for", "10m", "--once",
            data=server.data)  # fmt: skip
    eventually(lambda: SECRET_1 in fetch(server, f"{AASTRA_1}.cfg", UA_1))
    # within the grace, the rest of its boot still gets what it needs
    assert SECRET_1 in fetch(server, f"{AASTRA_1}.cfg", UA_1)
    time.sleep(1.2)
    assert "password" not in fetch(server, f"{AASTRA_1}.cfg", UA_1)
    # the other phone of the window has not booted yet: still open for it
    assert SECRET_2 in fetch(server, f"{AASTRA_2}.cfg", UA_2)


def test_a_site_window_covers_the_sites_phones_and_no_other(untrusting):
    server = untrusting
    run_cli("arm", "--site", "hq", "--for", "10m", data=server.data)
    eventually(lambda: SECRET_1 in fetch(server, f"{AASTRA_1}.cfg", UA_1))
    assert SECRET_2 in fetch(server, f"{AASTRA_2}.cfg", UA_2)
    other = fetch(server, f"{POLYCOM.lower()}-reg.cfg", UA_POLYCOM)
    assert "1212" not in other and "auth.password" not in other


def test_a_sites_trusted_network_trusts_that_address_only(untrusting):
    server = untrusting
    text = EXAMPLE.read_text().replace(
        "    resync_time: \"00:00\"\n",
        "    resync_time: \"00:00\"\n    trusted_networks: [127.0.0.1/32]\n", 1,
    )  # fmt: skip
    assert "trusted_networks" in text
    trusting = server.data / "trusting.yaml"
    trusting.write_text(text)
    (server.data / "logo.png").write_bytes((EXAMPLE.parent / "logo.png").read_bytes())
    out = run_cli("apply", str(trusting), data=server.data).stdout
    assert "trusted_networks: [] -> ['127.0.0.1/32']" in out
    eventually(lambda: SECRET_1 in fetch(server, f"{AASTRA_1}.cfg", UA_1))
    assert "password" not in fetch(server, f"{AASTRA_1}.cfg", UA_1, interface="127.0.0.2")
    # another site's phone, from the trusted address: that site trusts no network
    assert "1212" not in fetch(server, f"{POLYCOM.lower()}-reg.cfg", UA_POLYCOM)


def colon(mac: str) -> str:
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def test_the_api_window_is_served_too(api):
    """Through the API, as through the CLI: the phone gets its secret within a second."""
    # the api fixture's server trusts 127.0.0.1; ask from another loopback address
    client = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10)

    def served() -> str:
        return client.get(f"{api.server.base}/{AASTRA_1}.cfg", headers={"User-Agent": UA_1}).text

    assert "password" not in served()
    window = api.client().post("/api/windows", json={"macs": [AASTRA_1], "duration": "5m"})
    assert window.status_code == 201, window.text
    eventually(lambda: SECRET_1 in served())
    assert api.client().delete(f"/api/windows/{window.json()['id']}").status_code == 204
    eventually(lambda: "password" not in served())

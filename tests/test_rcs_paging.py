"""The redirection service's phones a page at a time, on SQLite and PostgreSQL: walking
the pages lists every MAC of the account once and no other account's; a MAC searched in
any notation, whole or its start; the server filter (and "none": unaffiliated); an edit
of every phone of a filter reaches every page. Then the Phones page in process: its
pager, search and filter, and "All unaffiliated phones" past the first page."""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, insert, make_url, select, text
from starlette.testclient import TestClient

from plugtone.inventory.store import Store, migrate, normalize_url
from plugtone.macaddr import colon_mac
from plugtone.redirect import passwords
from plugtone.redirect import phone_pages as pages
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.models import RcsAccount, RcsAudit, RcsPhone, RcsServer
from plugtone.services.cursors import encode_cursor
from plugtone.services.errors import Invalid, NotFound
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import PG_URL

ADMIN = RcsActor("admin", "admin", None, None, "cli")
PASSWORD = "paging super user 1"


def seed(store: Store, account: str, macs: list[str], servers: list[str | None]) -> None:
    """Register ``macs`` in one insert, the i-th on ``servers[i % len(servers)]``."""
    with store.sessions() as session:
        account_id = session.scalar(select(RcsAccount.id).where(RcsAccount.name == account))
        ids = dict(
            session.execute(
                select(RcsServer.name, RcsServer.id).where(RcsServer.account_id == account_id)
            ).all()
        )
        now = datetime.now(UTC)
        rows = [
            {"mac": mac, "account_id": account_id, "created_at": now,
             "server_id": ids[servers[i % len(servers)]] if servers[i % len(servers)] else None}
            for i, mac in enumerate(macs)
        ]  # fmt: skip
        session.execute(insert(RcsPhone), rows)
        session.commit()


ACME = [f"00085D{i * 7:06X}" for i in range(600)] + [f"001122{i * 5:06X}" for i in range(300)]
RIVAL = [f"00085D{i * 7 + 3:06X}" for i in range(200)] + [f"AABBCC{i:06X}" for i in range(50)]
ACME_SERVERS = ["s1", "s2", None]  # the i-th MAC's server, in turn; None: unaffiliated


def populate(store: Store) -> Store:
    for name in ("acme", "rival"):
        rcs.add_account(store, ADMIN, name)
        rcs.add_server(store, ADMIN, "s1", f"https://{name}.test/s1", name)
    rcs.add_server(store, ADMIN, "s2", "https://acme.test/s2", "acme")
    seed(store, "acme", ACME, ACME_SERVERS)
    seed(store, "rival", RIVAL, ["s1", None])
    return store


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(request, tmp_path_factory):
    """One migrated, populated store per dialect for the tests that only read."""
    path = tmp_path_factory.mktemp("rcs-paging")
    dropped = None
    if request.param == "sqlite":
        url = f"sqlite:///{path}/rcs.db"
    else:
        admin = request.getfixturevalue("pg_admin")
        name = f"plugtone_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(normalize_url(PG_URL)).set(database=name)
        url = url.render_as_string(hide_password=False)
        dropped = (admin, name)
    store = Store(url, data_dir=path)
    migrate(store.engine)
    yield populate(store)
    store.dispose()
    if dropped:
        admin, name = dropped
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def walk(store, account, limit=97, **filters) -> list[str]:
    """Every page of a list, through the cursors it hands out."""
    listed, after, pages_seen = [], None, 0
    while True:
        page = pages.browse_phones(store, ADMIN, account, after=after, limit=limit, **filters)
        assert len(page.items) <= limit
        listed += [phone.mac for phone in page.items]
        pages_seen += 1
        assert pages_seen < 100
        if page.next is None:
            assert page.total == len(listed)
            return listed
        after = page.next


def on_server(macs: list[str], servers: list, wanted) -> list[str]:
    return [mac for i, mac in enumerate(macs) if servers[i % len(servers)] == wanted]


def test_pages_list_every_mac_once_and_no_other_accounts(world):
    assert walk(world, "acme") == sorted(ACME)
    assert walk(world, "rival", limit=1000) == sorted(RIVAL)
    first = pages.browse_phones(world, ADMIN, "acme", limit=50)
    assert first.total == len(ACME) and len(first.items) == 50
    for bad in ("not a cursor", encode_cursor("00085d000000"), encode_cursor(5)):
        with pytest.raises(Invalid):
            pages.browse_phones(world, ADMIN, "acme", after=bad)


def test_a_mac_is_found_in_any_notation_whole_or_by_its_start(world):
    oui = sorted(mac for mac in ACME if mac.startswith("00085D"))
    for notation in ("00:08:5d", "00-08-5D", "0008.5d", "00085d", " 00:08:5D: "):
        assert walk(world, "acme", q=notation) == oui, notation
    mac = ACME[123]  # 00085D00035D
    whole = (colon_mac(mac), colon_mac(mac).replace(":", "-").lower(),
             f"{mac[:4]}.{mac[4:8]}.{mac[8:]}".lower(), mac.lower())  # fmt: skip
    for notation in whole:
        assert walk(world, "acme", q=notation) == [mac], notation
    assert walk(world, "acme", q=mac[:9]) == sorted(m for m in ACME if m.startswith(mac[:9]))
    # the rival's MACs sit between acme's: a search of acme never finds them
    assert walk(world, "acme", q=RIVAL[5]) == []
    assert walk(world, "acme", q="aa:bb:cc") == []
    assert walk(world, "rival", q="aa:bb:cc") == sorted(RIVAL[200:])
    for bad in ("xyz", "00:08:5d:00:00:00:00", "00085D%", "*"):
        with pytest.raises(Invalid):
            pages.browse_phones(world, ADMIN, "acme", q=bad)


def test_the_server_filter_and_unaffiliated_phones(world):
    assert walk(world, "acme", server="s1") == sorted(on_server(ACME, ACME_SERVERS, "s1"))
    assert walk(world, "acme", server="none") == sorted(on_server(ACME, ACME_SERVERS, None))
    both = walk(world, "acme", server="s2", q="00:11:22")
    assert both == sorted(m for m in on_server(ACME, ACME_SERVERS, "s2") if m[:6] == "001122")
    # the rival's "s1" is its own: its phones only
    assert walk(world, "rival", server="s1", limit=1000) == sorted(RIVAL[0::2])
    with pytest.raises(NotFound):
        pages.browse_phones(world, ADMIN, "rival", server="s2")


def test_an_edit_of_every_unaffiliated_phone_reaches_every_page(store):
    world = populate(store)
    unaffiliated = sorted(on_server(ACME, ACME_SERVERS, None))
    wanted = rcs.Assignment(server="s2")
    done = pages.edit_matching(world, ADMIN, "acme", server="none", assignment=wanted)
    assert (done.matched, done.changed) == (len(unaffiliated), len(unaffiliated))
    assert walk(world, "acme", server="none") == []
    assert pages.browse_phones(world, ADMIN, "rival", server="none").total == len(RIVAL) // 2
    assert rcs.stats(world, ADMIN, "acme").unaffiliated == 0
    with world.sessions() as session:
        moved = session.scalars(
            select(RcsAudit.key).where(RcsAudit.action == "move", RcsAudit.kind == "phone")
        ).all()
    assert sorted(moved) == unaffiliated
    log = rcs.audit_log(world, ADMIN, "acme", mac=unaffiliated[-1])
    assert log[0].action == "move" and log[0].summary == "bulk edit: server s2"
    # again: nothing changes; a server not the account's changes nothing either
    again = pages.edit_matching(world, ADMIN, "acme", server="s2", assignment=wanted)
    assert again.changed == 0 and again.matched == len(ACME) - len(ACME) // 3
    with pytest.raises(NotFound):
        pages.edit_matching(world, ADMIN, "acme", assignment=rcs.Assignment(server="s3"))
    gone = pages.edit_matching(world, ADMIN, "acme", q="00:11:22", remove=True)
    assert gone.changed == 300 and walk(world, "acme", q="0011") == []
    assert pages.browse_phones(world, ADMIN, "rival").total == len(RIVAL)
    with world.sessions() as session:
        deleted = session.scalar(
            select(func.count()).select_from(RcsAudit).where(RcsAudit.action == "delete")
        )
    assert deleted == 300
    # a cursor resumes after its MAC whatever changed before it: no shift, no repeat
    first = pages.browse_phones(world, ADMIN, "acme", limit=50)
    rcs.delete_phones(world, ADMIN, [first.items[0].mac, first.items[10].mac], "acme")
    second = pages.browse_phones(world, ADMIN, "acme", after=first.next, limit=50)
    assert second.items[0].mac == sorted(ACME)[50]


def test_a_server_named_none_is_refused(world):
    for name in ("none", "None", "(none)"):
        with pytest.raises(Invalid, match="no server"):
            rcs.add_server(world, ADMIN, name, "https://x.test/", "acme")


# -- the Phones page


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("rcs-paging-ui") / "rcs.db"
    store = Store(f"sqlite:///{path}", data_dir=path.parent)
    migrate(store.engine)
    store.dispose()
    return path


@pytest.fixture
def signed_in(migrated, tmp_path, monkeypatch):
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(rcs, "hasher", quick)
    monkeypatch.setattr(passwords, "hasher", quick)
    shutil.copy(migrated, tmp_path / "rcs.db")
    url = f"sqlite:///{tmp_path}/rcs.db"
    store = Store(url, data_dir=tmp_path)
    rcs.add_account(store, ADMIN, "acme")
    rcs.add_account(store, ADMIN, "rival")
    rcs.add_user(store, ADMIN, "boss@acme.test", "super", PASSWORD, "acme")
    for name in ("s1", "s2"):
        rcs.add_server(store, ADMIN, name, f"https://acme.test/{name}", "acme")
    rcs.add_server(store, ADMIN, "s1", "https://rival.test/s1", "rival")
    seed(store, "acme", ACME, ACME_SERVERS)
    seed(store, "rival", RIVAL, ["s1", None])
    app = create_admin_app(store, default_registry(), load_settings(str(tmp_path), url))
    client = TestClient(app, base_url="http://admin.test", follow_redirects=False)
    form = client.get("/rcs/login")
    answer = client.post("/rcs/login", data={"email": "boss@acme.test", "password": PASSWORD,
                                             "csrf": csrf(form.text), "next": "/rcs"})  # fmt: skip
    assert answer.status_code == 303
    yield client, store
    store.dispose()


def csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]*)"', html).group(1)


def shown(html: str) -> list[str]:
    return re.findall(r'<tr data-mac="([0-9A-F]{12})">', html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]*)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def browse(client, url: str) -> list[str]:
    listed = []
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.text
        listed += shown(answer.text)
        url = next_link(answer.text)
    return listed


def test_the_phones_page_walks_searches_and_filters(signed_in):
    client, _ = signed_in
    first = client.get("/rcs/phones")
    assert f"{len(ACME)} phone(s); 100 shown" in first.text
    assert "First page" not in first.text
    assert browse(client, "/rcs/phones") == sorted(ACME)
    second = client.get(next_link(first.text))
    assert 'href="/rcs/phones">First page</a>' in second.text
    assert browse(client, "/rcs/phones?q=00-11-22") == sorted(ACME[600:])
    unaffiliated = sorted(on_server(ACME, ACME_SERVERS, None))
    assert browse(client, "/rcs/phones?server=none") == unaffiliated
    assert browse(client, "/rcs/phones?unaffiliated=1") == unaffiliated  # the Summary's link
    s1 = browse(client, "/rcs/phones?server=s1&q=0008.5d")
    assert s1 == sorted(m for m in on_server(ACME, ACME_SERVERS, "s1") if m[:6] == "00085D")
    bad = client.get("/rcs/phones?q=zz:top")
    assert bad.status_code == 422 and "is not a MAC" in bad.text
    assert shown(bad.text) == sorted(ACME)[:100]
    unknown = client.get("/rcs/phones?server=elsewhere&q=00:11:22")
    assert unknown.status_code == 422 and "no server" in unknown.text
    assert shown(unknown.text) == sorted(ACME[600:])[:100]


def test_edit_properties_on_a_later_page_and_of_every_unaffiliated_phone(signed_in):
    client, store = signed_in
    page_one = client.get("/rcs/phones?server=none")
    later_url = next_link(page_one.text)
    later = client.get(later_url)
    ticked = shown(later.text)[:3]
    after = re.search(r'name="after" value="([^"]*)"', later.text).group(1)
    assert after and after in later_url
    answer = client.post("/rcs/phones/edit", data={
        "csrf": csrf(later.text), "macs": ticked, "server": "s1", "action": "assign",
        "q": "", "shown_server": "none", "after": after})  # fmt: skip
    assert answer.status_code == 200 and "3 updated" in answer.text
    # the same page of the same list again, without the phones that left it
    assert shown(answer.text)[0] == shown(later.text)[3]
    left = len(on_server(ACME, ACME_SERVERS, None)) - 3
    assert left > 100
    every = client.post("/rcs/phones/edit", data={
        "csrf": csrf(answer.text), "every": "1", "server": "s2", "action": "assign",
        "shown_server": "none", "after": after})  # fmt: skip
    assert every.status_code == 200, every.text
    assert re.search(r'<p id="report-summary">\s*' + str(left) + " updated", every.text)
    assert shown(every.text) == []
    assert rcs.stats(store, ADMIN, "acme").unaffiliated == 0
    assert pages.browse_phones(store, ADMIN, "rival", server="none").total == len(RIVAL) // 2

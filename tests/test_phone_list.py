"""The phones list (``services.phone_list``) on SQLite and PostgreSQL: every sort, both
ways, walked page by page, lists each phone once and in the order a person expects
(empty names and never-seen phones last, ties by MAC), filters combine, search finds a
MAC in any notation, an extension or a name, and a cursor of another order is refused.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from plugtone.inventory.models import DeviceState
from plugtone.macaddr import colon_mac
from plugtone.services.actors import Actor, Role
from plugtone.services.errors import Invalid
from plugtone.services.phone_list import SORTS, STATE_ORDER, browse_phones
from plugtone.services.status import phone_status
from tests.conftest import apply_text

VIEWER = Actor("vera", Role.VIEWER, "ui")
MODELS = ("6757i", "6731i", "IP650", "7960")
NAMES = ("alice", "bob", "carol", None, "dave", "bob")  # repeats: ties break on the MAC
SITES = ("north", "east", "west")
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
COUNT = 61


def mac_of(index: int) -> str:
    return f"{'00085D' if index % 4 < 2 else '0004F2' if index % 4 == 2 else '00115C'}{index * 7919 % 65536:06X}"


@pytest.fixture
def fleet(store):
    """61 phones over three sites, some unnamed, most seen (some at the same instant),
    in every state; returns what each phone is, as the test expects to see it."""
    rng = random.Random(7)
    lines = ["sites:", *(f"  - {{name: {site}, sip_server: 10.0.0.{n}}}"
                         for n, site in enumerate(SITES, 1))]  # fmt: skip
    lines.append("extensions:")
    lines += [f"  - {{number: '{100 + i % 20}', site: {SITES[i % 3]}}}" for i in range(60)]
    lines.append("phones:")
    phones = {}
    for i in range(COUNT):
        mac, model, name, site = mac_of(i), MODELS[i % 4], NAMES[i % 6], SITES[i % 3]
        described = f", description: {name}" if name else ""
        line = f", lines: ['{100 + i % 20}']" if i < 60 else ""
        lines.append(f"  - {{mac: {mac}, model: {model}, site: {site}{described}{line}}}")
        phones[mac] = {"mac": mac, "model": model, "name": name, "site": site, "seen": None,
                       "number": f"{100 + i % 20}" if i < 60 else None}  # fmt: skip
    apply_text(store, "\n".join(lines) + "\n")
    states = []
    for i, mac in enumerate(sorted(phones)):
        if i % 5 == 0:
            continue  # never seen
        seen = T0 - timedelta(minutes=rng.randrange(4))  # few instants: ties
        phones[mac]["seen"] = seen
        states.append({"mac": mac, "first_seen": seen, "last_seen": seen, "requests": 3,
                       "files_generation": None if i % 5 == 1 else 10 ** 6,
                       "boot_errors": 1 if i % 5 == 2 else 0})  # fmt: skip
    with store.sessions() as session:
        session.execute(insert(DeviceState), states)
        session.commit()
    listed = phone_status(store, VIEWER, list(STATE_ORDER), limit=1000).items
    for row in listed:
        phones[row.mac]["state"] = row.state
    assert {row["state"] for row in phones.values()} == set(STATE_ORDER)
    return phones


def expected(phones: dict, sort: str, descending: bool) -> list[str]:
    """Keyed rows first, by key then MAC (both reversed when descending), then the rows
    with no key (no name, never seen) by MAC in the same direction."""
    key = {
        "mac": lambda row: "",
        "model": lambda row: row["model"],
        "site": lambda row: row["site"],
        "name": lambda row: row["name"],
        "seen": lambda row: row["seen"],
        "state": lambda row: STATE_ORDER.index(row["state"]),
    }[sort]
    keyed = [row for row in phones.values() if key(row) is not None]
    empty = [row for row in phones.values() if key(row) is None]
    keyed.sort(key=lambda row: (key(row), row["mac"]), reverse=descending)
    empty.sort(key=lambda row: row["mac"], reverse=descending)
    return [row["mac"] for row in keyed + empty]


def walk(store, limit: int = 7, **filters) -> list[str]:
    macs, after, pages = [], None, 0
    while True:
        page = browse_phones(store, VIEWER, after=after, limit=limit, **filters)
        assert len(page.items) <= limit
        macs += [row.mac for row in page.items]
        pages += 1
        assert pages <= COUNT, "the pages never end"
        if page.next is None:
            return macs
        assert len(page.items) == limit
        after = page.next


def test_every_order_both_ways_lists_each_phone_once_in_order(store, fleet):
    for sort in SORTS:
        for descending in (False, True):
            assert walk(store, sort=sort, descending=descending) == expected(
                fleet, sort, descending
            ), (sort, descending)
        first = browse_phones(store, VIEWER, sort=sort, limit=3).items
        assert [row.mac for row in first] == expected(fleet, sort, False)[:3]
        for shown in first:
            row = fleet[shown.mac]
            assert (shown.model, shown.site, shown.description, shown.state) == (
                row["model"], row["site"], row["name"], row["state"])  # fmt: skip
            assert shown.last_seen == row["seen"]
            assert shown.lines == ((row["number"],) if row["number"] else ())


def test_filters_combine_with_a_state_and_any_order(store, fleet):
    for sort in ("seen", "name", "state"):
        got = walk(store, limit=2, site="east", states=["stale"], sort=sort, descending=True)
        want = [mac for mac in expected(fleet, sort, True)
                if fleet[mac]["site"] == "east" and fleet[mac]["state"] == "stale"]  # fmt: skip
        assert got == want and want
    for state in STATE_ORDER:
        got = walk(store, states=[state], sort="name")
        assert got == [
            mac for mac in expected(fleet, "name", False) if fleet[mac]["state"] == state
        ]
    for descending in (False, True):  # with a search: one sorted read of the matches
        got = walk(store, limit=3, q="bob", sort="state", descending=descending)
        want = [mac for mac in expected(fleet, "state", descending) if fleet[mac]["name"] == "bob"]
        assert got == want and len(want) > 3
    got = walk(store, model="ip650", sort="site")  # the model as typed, any case
    assert got == [mac for mac in expected(fleet, "site", False) if fleet[mac]["model"] == "IP650"]


def test_search_by_mac_in_any_notation_extension_or_name(store, fleet):
    mac = sorted(fleet)[10]
    for text in (colon_mac(mac), mac.lower(), f"{mac[:4]}.{mac[4:8]}.{mac[8:]}",
                 "-".join(mac[i:i + 2] for i in range(0, 12, 2))):  # fmt: skip
        assert walk(store, q=text) == [mac], text
    prefix = walk(store, q=colon_mac(mac)[:8], sort="name")
    assert prefix == [m for m in expected(fleet, "name", False) if m.startswith(mac[:6])]
    number = walk(store, q="107", sort="seen", descending=True)
    assert number == [m for m in expected(fleet, "seen", True) if fleet[m]["number"] == "107"]
    assert len(number) == 3
    named = walk(store, q="CaRo", sort="mac")
    assert named == sorted(m for m in fleet if fleet[m]["name"] == "carol")
    assert walk(store, q="100%") == []  # a LIKE wildcard is a plain character


def test_a_cursor_of_another_order_or_a_forged_one_is_refused(store, fleet):
    page = browse_phones(store, VIEWER, sort="name", limit=5)
    with pytest.raises(Invalid):
        browse_phones(store, VIEWER, sort="seen", after=page.next)
    with pytest.raises(Invalid):
        browse_phones(store, VIEWER, sort="name", descending=True, after=page.next)
    with pytest.raises(Invalid):
        browse_phones(store, VIEWER, after="bm90IGEgY3Vyc29y")
    with pytest.raises(Invalid):
        browse_phones(store, VIEWER, sort="colour")
    with pytest.raises(Invalid):
        browse_phones(store, VIEWER, states=["unassigned"])

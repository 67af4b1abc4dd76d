"""What would keep a phone from working: refused at apply for the phones a change
touches, listed by ``plugtone check`` and ``GET /api/check`` for the whole fleet."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from plugtone.inventory.document import parse_document
from plugtone.inventory.models import Extension, LineAssignment, Phone, Site
from plugtone.inventory.yaml_source import load_located
from plugtone.services.accounts import add_user, create_token
from plugtone.services.actors import local_admin
from plugtone.services.inventory_apply import ApplyRefused
from plugtone.services.phone_checks import fleet_findings
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import apply_text, run_cli

GOOD = """
sites:
  - {name: hq, sip_server: 10.0.0.1, timezone: Europe/Berlin}
extensions:
  - {site: hq, number: "100", password: secret-100}
phones:
  - {mac: 00:08:5D:11:22:40, model: 6757i, site: hq, lines: ["100"]}
"""

# Antarctica/Troll saves two hours in summer; an Aastra phone saves at most one.
TROLL_SITE = GOOD.replace("Europe/Berlin", "Antarctica/Troll")
# Chatham changes at 02:45: the phone changes on the hour (a warning, not a refusal).
CHATHAM_SITE = GOOD.replace("Europe/Berlin", "Pacific/Chatham")
LINELESS = GOOD + "  - {mac: 00:08:5D:11:22:41, model: 6757i, site: hq}\n"


def site_zone(store) -> str | None:
    with store.sessions() as session:
        return session.scalar(select(Site.timezone).where(Site.name == "hq"))


def test_a_change_the_phone_cannot_carry_is_refused_with_its_place_and_changes_nothing(store):
    with pytest.raises(ApplyRefused) as refused:
        apply_text(store, TROLL_SITE, name="fleet.yaml")
    (problem,) = refused.value.problems
    text = str(problem)
    assert text.startswith("fleet.yaml:7:5: phone 00:08:5D:11:22:40 (6757i): ")
    assert "Antarctica/Troll" in text and "120 minutes" in text
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Phone)) == 0


def test_a_site_change_is_checked_against_the_phones_it_touches(store):
    """The phone is not in the second file at all: changing its site's zone is what
    would break it, so the site's entry is named."""
    apply_text(store, GOOD, name="fleet.yaml")
    only_site = "sites:\n  - {name: hq, sip_server: 10.0.0.1, timezone: Antarctica/Troll}\n"
    with pytest.raises(ApplyRefused) as refused:
        apply_text(store, only_site, name="site.yaml")
    (problem,) = refused.value.problems
    assert str(problem).startswith("site.yaml:2:5: phone 00:08:5D:11:22:40 (6757i): time zone")
    assert site_zone(store) == "Europe/Berlin"


def test_warnings_do_not_refuse_and_are_listed_for_the_fleet(store):
    apply_text(store, CHATHAM_SITE + LINELESS.split(GOOD)[1])
    assert site_zone(store) == "Pacific/Chatham"
    with store.sessions() as session:
        findings = fleet_findings(session, default_registry())
    assert not any(finding.refuse for finding in findings)
    by_phone: dict[str, list[str]] = {}
    for finding in findings:
        by_phone.setdefault(finding.mac, []).append(finding.message)
    assert sorted(by_phone) == ["00085D112240", "00085D112241"]
    assert ["02:45" in message for message in by_phone["00085D112240"]] == [True]
    # the phone with no line is told both: it registers nowhere, and its site's zone
    assert sorted("no line" in message for message in by_phone["00085D112241"]) == [False, True]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_api_lists_the_same_findings_and_needs_a_token(store):
    apply_text(store, CHATHAM_SITE + LINELESS.split(GOOD)[1])
    actor = local_admin()
    add_user(store, actor, "eyes", "viewer", "a-long-password-1")
    token, _ = create_token(store, actor, "eyes")
    app = create_admin_app(store, default_registry(), load_settings())
    asyncio.run(ask_the_api(app, token))


async def ask_the_api(app, token: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin"
    ) as client:
        assert (await client.get("/api/check")).status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        report = (await client.get("/api/check", headers=headers)).json()
        assert (report["phones"], report["errors"], report["warnings"]) == (2, 0, 3)
        one = await client.get("/api/check", params={"mac": "00-08-5d-11-22-41"}, headers=headers)
        assert [f["mac"] for f in one.json()["findings"]] == ["00085D112241"] * 2
        bad = await client.get("/api/check", params={"mac": "not-a-mac"}, headers=headers)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


def test_plugtone_check_lists_each_phone_and_exits_1(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(CHATHAM_SITE + LINELESS.split(GOOD)[1])
    run_cli("apply", str(fleet), data=data)
    found = run_cli("check", data=data, check=False)
    assert found.returncode == 1
    lines = found.stdout.splitlines()
    assert lines[0].startswith("phone 00:08:5D:11:22:40 (6757i, site hq): warning: time zone")
    assert (
        "phone 00:08:5D:11:22:41 (6757i, site hq): warning: "
        "no line is assigned: the phone registers nowhere"
    ) in lines
    assert len(lines) == 3
    assert "2 phone(s) need attention: 0 error(s), 3 warning(s)" in found.stderr
    fine = tmp_path / "fine.yaml"
    fine.write_text(GOOD)
    run_cli("apply", "--prune", str(fine), data=data)
    clean = run_cli("check", "00:08:5D:11:22:40", data=data, check=False)
    assert (clean.returncode, clean.stdout.strip()) == (0, "every phone checked is fine")


MIXED = """
sites:
  - name: mixed
    sip_server: 10.0.0.9
    keys: [{type: speeddial, value: "200", label: Reception}, {type: dnd}]
extensions:
  - {site: mixed, number: "501", password: secret-501}
  - {site: mixed, number: "503", password: secret-503}
phones:
  - {mac: 00:08:5D:22:00:01, model: 6757i, site: mixed, lines: ["501"]}
  - {mac: 00:11:5C:22:00:03, model: 7960, site: mixed, lines: ["503"]}
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_site_default_key_one_model_cannot_show_is_a_warning_for_that_model(store):
    """A site's keys are defaults for phones of every vendor: the 7960 cannot show a
    DND key, so it leaves that one out (and check says so); given the same key as its
    own, it is refused."""
    apply_text(store, MIXED)
    with store.sessions() as session:
        findings = fleet_findings(session, default_registry())
    assert [(f.mac, f.refuse) for f in findings] == [("00115C220003", False)]
    assert findings[0].message.startswith("key 2 (dnd): ")
    assert findings[0].message.endswith("(a default key of site mixed: the phone leaves it out)")
    own = MIXED.replace('lines: ["503"]}', 'lines: ["503"], keys: [{type: dnd}]}')
    with pytest.raises(ApplyRefused) as refused:
        apply_text(store, own)
    (problem,) = refused.value.problems
    assert "phone 00:11:5C:22:00:03 (7960): key 1 (dnd): " in str(problem)


def test_an_apply_touching_more_phones_than_one_query_can_bind_is_checked(store):
    """PostgreSQL binds at most 65,535 values a query; a fleet-wide apply names more, and
    the one phone among them its site's zone cannot be carried to is still found."""
    from plugtone.services.apply_changes import Change
    from plugtone.services.phone_checks import refusals

    apply_text(store, GOOD)
    macs = [f"0008{index:08X}" for index in range(70_000)] + ["00085D112240"]
    changes = [Change("update", "phone", mac) for mac in macs]
    with store.sessions() as session:
        site = session.scalar(select(Site).where(Site.name == "hq"))
        site.timezone = "Antarctica/Troll"
        session.flush()
        found = refusals(session, default_registry(), changes, {})
        session.rollback()
    assert len(found) == 1
    assert "00:08:5D:11:22:40" in found[0].message.upper()


SPREAD = """
sites:
  - {name: north, sip_server: 10.0.1.1}
  - {name: south, sip_server: 10.0.2.1}
  - {name: west, sip_server: 10.0.3.1}
extensions:
  - {site: north, number: "100", password: secret-n100}
  - {site: north, number: "101", password: secret-n101}
  - {site: south, number: "100", password: secret-s100}
  - {site: south, number: "200", password: secret-s200}
  - {site: west, number: "300", password: secret-w300}
  - {site: west, number: "301", password: secret-w301, shared: true}
phones:
  - {mac: 00:08:5D:33:00:01, model: 6757i, site: north, lines: ["100"]}
  - {mac: 00:08:5D:33:00:02, model: 6757i, site: south, lines: ["100", north/101]}
  - {mac: 00:08:5D:33:00:03, model: 6731i, site: south, lines: ["200"]}
  - {mac: 00:04:F2:33:00:04, model: IP650, site: west, lines: ["300", "301"]}
  - {mac: 00:04:F2:33:00:05, model: IP650, site: north, lines: [west/301]}
  - {mac: 00:11:5C:33:00:06, model: 7960, site: west}
"""
SPREAD_CAUSES = [
    [("extension", "north/100")],
    [("extension", "north/101")],  # on a phone of another site
    [("extension", "south/100"), ("extension", "west/301")],
    [("extension", "west/301"), ("extension", "nowhere/100"), ("extension", "west/999")],
    [("extension", "no-slash")],
    [
        ("extension", f"{site}/{number}")
        for site in ("north", "south", "west")
        for number in ("100", "101", "200", "300", "301")
    ],
    [("site", "west"), ("extension", "north/101"), ("phone", "00085D330001")],
    [("model", "6731i"), ("extension", "south/200"), ("directory", "north")],
]


def one_query_per_extension(session, causes) -> list[str]:
    """The phones the causes' extensions are on, found as ``_conditions`` found them
    before it looked them up in bulk: a query per extension by site name and number."""
    macs: set[str] = set()
    for kind, key in causes:
        if kind != "extension" or "/" not in key:
            continue
        site, number = key.split("/", 1)
        ids = session.scalars(
            select(Extension.id)
            .join(Site, Site.id == Extension.site_id)
            .where(Site.name == site, Extension.number == number)
        ).all()
        macs.update(
            session.scalars(
                select(Phone.mac)
                .join(LineAssignment, LineAssignment.phone_id == Phone.id)
                .where(LineAssignment.extension_id.in_(ids))
            )
        )
    return sorted(macs)


def test_the_phones_a_change_touches_are_found_in_bulk_as_one_by_one(store, monkeypatch):
    """Extensions are looked up a few hundred at a time and phones loaded once each,
    in MAC order: the same phones as a query per extension, with lookups split over
    several queries (tiny chunks) and a phone several conditions select."""
    from plugtone.services import phone_checks
    from plugtone.services.change_marks import mark_causes

    monkeypatch.setattr(phone_checks, "PAIRS", 2)
    monkeypatch.setattr(phone_checks, "CHUNK", 2)
    monkeypatch.setattr(phone_checks, "BATCH", 2)
    apply_text(store, SPREAD)
    with store.sessions() as session:
        every = session.scalars(select(Phone.mac).order_by(Phone.mac)).all()
        site_of = dict(session.execute(select(Phone.mac, Site.name).join(Site)).all())
        model_of = dict(session.execute(select(Phone.mac, Phone.model)).all())
        for generation, causes in enumerate(SPREAD_CAUSES, start=100):
            expected = set(one_query_per_extension(session, causes))
            for kind, key in causes:
                if kind in ("site", "directory"):
                    expected |= {mac for mac in every if site_of[mac] == key}
                elif kind == "model":
                    expected |= {mac for mac in every if model_of[mac] == key}
                elif kind == "phone":
                    expected.add(key)
            conditions = phone_checks._conditions(session, causes)
            batches = list(phone_checks._batches(session, conditions))
            found = [phone.mac for batch in batches for phone in batch]
            assert found == sorted(expected), causes
            assert all(len(batch) <= 2 for batch in batches)
            assert mark_causes(session, generation, causes) == len(expected)
            marked = session.scalars(
                select(Phone.mac).where(Phone.changed_generation == generation)
            ).all()
            assert sorted(marked) == sorted(expected), causes
        session.rollback()


def test_the_collector_is_paused_through_an_applys_writes_and_checks(store, monkeypatch):
    """A fleet's document and plan are millions of live objects: a full collection set
    off while writing walked them all. The collector is off while the phones are
    checked and back on afterwards, also when the apply is refused."""
    import gc

    from plugtone.services import inventory_apply
    from plugtone.services.errors import Invalid
    from plugtone.services.inventory import apply_inventory

    seen: list[bool] = []
    refusals = inventory_apply.phone_checks.refusals

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return refusals(*args, **kwargs)

    monkeypatch.setattr(inventory_apply.phone_checks, "refusals", watched)
    registry = default_registry()

    def document(text):
        parsed, problems = parse_document(load_located(text, "fleet.yaml"), registry)
        assert not problems
        return parsed

    assert gc.isenabled()
    apply_inventory(store, local_admin(), document(GOOD), registry)
    assert (seen, gc.isenabled()) == ([False], True)
    with pytest.raises(Invalid):
        apply_inventory(store, local_admin(), document(TROLL_SITE), registry)
    assert (seen, gc.isenabled()) == ([False, False], True)
    assert site_zone(store) == "Europe/Berlin"

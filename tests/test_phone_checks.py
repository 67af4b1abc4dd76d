"""What would keep a phone from working: refused at apply for the phones a change
touches, listed by ``plugtone check`` and ``GET /api/check`` for the whole fleet."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from plugtone.inventory.models import Phone, Site
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

"""Cisco 7940/7960 findings through the real apply: what the phone cannot carry refuses
the apply at the entry that asked for it, with nothing changed; warnings are listed by
the fleet check and the phone still gets its files."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from plugtone.inventory.models import Phone
from plugtone.services.inventory_apply import ApplyRefused
from plugtone.services.phone_checks import fleet_findings
from plugtone.vendors import default_registry
from tests.conftest import apply_text

FLEET = """
sites:
  - {name: hq, sip_server: 10.0.0.1, timezone: ZONE, dial_plan: "PLAN", voicemail: "*97"}
extensions:
  - {site: hq, number: "201", name: NAME, password: secret-201}
phones:
  - {mac: 00:11:5C:00:00:01, model: 7960, site: hq, lines: ["201"], keys: KEYS}
"""


def fleet(zone="Europe/Paris", plan="911|[1-7]xx", name="Ann", keys="[]") -> str:
    text = FLEET.replace("ZONE", zone).replace("PLAN", plan).replace("NAME", name)
    return text.replace("KEYS", keys)


def refused(store, text: str) -> list[str]:
    with pytest.raises(ApplyRefused) as caught:
        apply_text(store, text, name="fleet.yaml")
    with store.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Phone)) == 0  # nothing changed
    return [str(problem) for problem in caught.value.problems]


def test_each_refusal_names_the_phone_and_the_reason(store):
    prefix = "fleet.yaml:7:5: phone 00:11:5C:00:00:01 (7960): "
    assert refused(store, fleet(zone="Asia/Shanghai")) == [
        prefix + "time zone Asia/Shanghai (GMT+08:00): the 7940/7960 SIP firmware has no "
        "time_zone name known to mean GMT+08:00; set the raw setting time_zone (cisco79xx) "
        "to a name the phone takes, or give the site another zone"
    ]
    (plan,) = refused(store, fleet(plan="911|x[0-8]x[0-8]x[0-8]"))
    assert plan.startswith(
        prefix + "dial plan of site hq: 'x[0-8]x[0-8]x[0-8]' expands to 729 patterns, more "
        "than the 7960's 100 templates"
    )
    assert refused(store, fleet(keys='[{type: blf, value: "205"}]')) == [
        prefix + "key 1 (blf 205): the SIP firmware has no busy-lamp field; a line button is "
        "a line or a speed dial"
    ]
    assert refused(store, fleet(name='"Ann \\"A\\" Smith"')) == [
        prefix + "line 1 (201) name (line1_displayname): holds '\"', which a 79xx .cnf value "
        'cannot carry (printable ASCII only, without " or \\)'
    ]


def test_warnings_do_not_refuse_and_the_phone_gets_its_files(store):
    apply_text(store, fleet(zone="Africa/Lagos", plan="911|(12)"), name="fleet.yaml")
    with store.sessions() as session:
        findings = fleet_findings(session, default_registry())
    messages = sorted(finding.message for finding in findings)
    assert not any(finding.refuse for finding in findings)
    assert [message.split(":")[0] for message in messages] == [
        "dial plan of site hq",
        "time zone Africa/Lagos (GMT+01",
    ]

"""Aastra check_phone: what its files cannot carry, as findings naming the field or key
and the reason; the example inventory's Aastra phones have none that refuse."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from plugtone.inventory.models import Phone
from plugtone.inventory.store import Store, migrate
from plugtone.provisioning.views import load_phones
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.base import Finding, KeyView, LineView, PhoneView, SiteView
from tests.conftest import EXAMPLE, apply_text

PLUGIN = AastraPlugin()
SITE = SiteView(name="hq", sip_server="pbx.example.com", voicemail="*97")


def view(**overrides) -> PhoneView:
    values = dict(mac="00085D000071", model="6869i", vendor="aastra", site=SITE,
                  lines=(LineView(1, "201", "Ann", "201", "pw"),), keys=())  # fmt: skip
    values.update(overrides)
    return PhoneView(**values)


def test_a_clean_phone_has_no_findings():
    assert PLUGIN.check_phone(view(keys=(KeyView("blf", value="202", label="Bob"),))) == []


def test_each_problem_is_one_finding_naming_what_and_why():
    site = replace(SITE, timezone="Antarctica/Troll", voicemail=None,
                   config_server="ftp://prov:p%0Aw@prov.example.com/a")  # fmt: skip
    phone = view(
        site=site,
        lines=(LineView(1, "201", "Ann\tB", "201", "pw"),),
        keys=(KeyView("voicemail"), KeyView("speeddial", value="1", label='say "hi"')),
        http_user="00085D000071",
        http_password='bad"pw',
    )
    findings = PLUGIN.check_phone(phone)
    assert all(isinstance(finding, Finding) and finding.refuse for finding in findings)
    assert sorted(finding.message.split(":")[0] for finding in findings) == sorted([
        "line 1 name", "site config_server password", "key 2 (speeddial) label",
        "key 1 (voicemail)", "provisioning login", "time zone Antarctica/Troll",
    ])  # fmt: skip
    login = next(f.message for f in findings if f.message.startswith("provisioning login"))
    assert "bad" not in login  # the password itself is never in a message


def test_the_example_inventory_aastra_phones_have_no_findings(tmp_path):
    """Built by the core from the applied example, as apply and plugtone check see them."""
    store = Store(f"sqlite:///{tmp_path / 'plugtone.db'}", data_dir=tmp_path)
    migrate(store.engine)
    try:
        apply_text(store, EXAMPLE.read_text())
        with store.sessions() as session:
            phones = list(session.scalars(select(Phone)))
            views = load_phones(session, phones)
        aastra = [v for v in views.values() if v.vendor == "aastra"]
        assert {v.model for v in aastra} == {"6757i", "6731i"}
        for phone in aastra:
            assert PLUGIN.check_phone(phone) == [], phone.mac
    finally:
        store.dispose()


def test_a_key_value_that_cannot_be_written_is_named_by_the_key_and_kept_out_of_messages():
    findings = PLUGIN.check_phone(view(keys=(KeyView("park", value="70\n0"),)))
    messages = [finding.message for finding in findings]
    assert "key 1 (park) value: the Aastra configuration file cannot carry a '\\n'" in messages[0]
    assert all("\n" not in message for message in messages) and len(messages) == 2

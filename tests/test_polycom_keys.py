"""Polycom keys: every neutral key type shows on the line keys of the models that can
show it (lines through reg.x.lineKeys, BLF through attendant.resourceList, speed dials
through the directory's <sd>), or the apply is refused naming the key and the reason."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from plugtone.inventory.document import parse_document
from plugtone.inventory.models import Phone
from plugtone.inventory.yaml_source import load_located
from plugtone.services.inventory_apply import ApplyRefused, apply_document
from plugtone.services.phone_checks import fleet_findings
from plugtone.vendors import VendorRegistry
from plugtone.vendors.base import NEUTRAL_KEY_TYPES, ContactView, FileScope, KeyView, LineView
from plugtone.vendors.polycom import PolycomPlugin
from tests.emulators.polycom import PolycomPhone, parse_parameters
from tests.emulators.polycom_keys import LineKey, directory_items, line_keys
from tests.test_polycom_render import seed_phone, seed_site

PLUGIN = PolycomPlugin()
TOKENS = {
    "IP321": "SPIP_321", "IP331": "SPIP_331", "IP335": "SPIP_335", "IP560": "SPIP_560",
    "IP650": "SPIP_650", "SSIP6000": "SSIP_6000", "SSIP7000": "SSIP_7000",
}  # fmt: skip
CAPACITY = {"IP321": 2, "IP331": 2, "IP335": 2, "IP560": 4, "IP650": 6, "SSIP6000": 1,
            "SSIP7000": 1}  # fmt: skip
LINE_201 = LineView(1, "201", "Ext_Name", "201", "1212")
LINE_202 = LineView(2, "202", "Mary", "202", "3434")
LINE_KEY_201 = LineKey("line", "201", "201")


def view(model: str = "IP650", keys: tuple[KeyView, ...] = (), lines=(LINE_201,), **site):
    return seed_phone(model=model, keys=keys, lines=lines, site=seed_site(**site))


def shown(phone_view) -> list[LineKey]:
    """Boot the emulator on the plug-in's files; what its line keys show."""
    phone = PolycomPhone(mac=phone_view.mac.lower(), model=TOKENS[phone_view.model])
    served: dict[str, bytes] = {}

    def fetch(name: str) -> bytes | None:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return None
        device = ref.scope is FileScope.DEVICE
        if device and ref.mac != phone_view.mac:
            return None
        content = PLUGIN.render(ref, phone_view if device else None, None)
        if content is not None:
            served[name] = content
        return content

    phone.boot(fetch, lambda name, content, append: True)
    return line_keys(phone, served.get(f"{phone.mac}-directory.xml"))


def refusals(phone_view) -> list[str]:
    """The refusing findings (the plug-in also warns, of missing stock files for one)."""
    return [finding.message for finding in PLUGIN.check_phone(phone_view) if finding.refuse]


# -- what shows


def test_an_ip650_shows_lines_then_blf_then_speed_dials():
    keys = (
        KeyView("speeddial", "300", "Lobby"),
        KeyView("blf", "202", "Mary"),
        KeyView("line", line=1),
        KeyView("voicemail"),
        KeyView("line", line=1),
        KeyView("blf", "203"),
    )
    phone_view = view(keys=keys)
    assert refusals(phone_view) == []
    assert shown(phone_view) == [
        LineKey("line", "201", "201"), LineKey("line", "201", "201"),
        LineKey("blf", "Mary", "202"), LineKey("blf", "203", "203"),
        LineKey("speeddial", "Lobby", "300"), LineKey("speeddial", "Voicemail", "##"),
    ]  # fmt: skip
    seventh = view(keys=(*keys, KeyView("speeddial", "301")))
    assert refusals(seventh) == [
        "key 7 (speeddial 301): the IP650 has 6 line keys; this key would be line key 7"
    ]


def test_an_ip560_fills_its_four_keys_and_a_fifth_is_refused():
    keys = (KeyView("blf", "202", "Mary"), KeyView("speeddial", "300", "Lobby"),
            KeyView("blf", "203", "Bob"))  # fmt: skip
    phone_view = view("IP560", keys)
    assert refusals(phone_view) == []
    assert [(key.kind, key.label) for key in shown(phone_view)] == [
        ("line", "201"), ("blf", "Mary"), ("blf", "Bob"), ("speeddial", "Lobby"),
    ]  # fmt: skip
    fifth = view("IP560", (*keys, KeyView("speeddial", "301", "Desk")))
    assert refusals(fifth) == [
        "key 4 (speeddial 301): the IP560 has 4 line keys; this key would be line key 5"
    ]


@pytest.mark.parametrize("model", ["IP321", "IP331", "IP335"])
def test_two_key_phones_show_a_speed_dial_beside_their_line_and_refuse_blf(model):
    phone_view = view(model, (KeyView("speeddial", "300", "Lobby"),))
    assert refusals(phone_view) == []
    assert shown(phone_view) == [LINE_KEY_201, LineKey("speeddial", "Lobby", "300")]
    (message,) = refusals(view(model, (KeyView("blf", "202", "Mary"),)))
    assert message.startswith("key 1 (blf 202): the " + model + " has no busy lamp field keys")
    assert "SoundPoint IP 450, 550, 560, 650 and 670" in message


def test_a_second_line_takes_the_second_key_and_leaves_none_for_a_speed_dial():
    two_lines = (LINE_201, LINE_202)
    phone_view = view("IP331", lines=two_lines)
    assert [key.target for key in shown(phone_view)] == ["201", "202"]
    crowded = view("IP331", (KeyView("speeddial", "300"),), lines=two_lines)
    assert refusals(crowded) == [
        "key 1 (speeddial 300): the IP331 has 2 line keys; this key would be line key 3"
    ]
    three = view("IP331", lines=(*two_lines, LineView(3, "203", None, "203", "x")))
    assert refusals(three) == [
        "line 3: the IP331 has 2 line keys; its registrations before it take them all, so "
        "line 3 would have no key and not register"
    ]


@pytest.mark.parametrize("model", ["SSIP6000", "SSIP7000"])
def test_a_soundstation_has_one_key_for_its_line(model):
    assert shown(view(model, (KeyView("line", line=1),))) == [LINE_KEY_201]
    assert refusals(view(model, (KeyView("line", line=1), KeyView("line", line=1)))) == [
        f"key 2 (line): the {model} has 1 line key; this key would be line key 2"
    ]
    assert refusals(view(model, (KeyView("speeddial", "300"),))) == [
        f"key 1 (speeddial 300): the {model} has 1 line key; this key would be line key 2"
    ]


def test_a_speed_dial_to_a_listed_number_marks_that_entry_and_shows_the_keys_label():
    site = {"directory": (ContactView("Reception", "200"),),
            "members": (ContactView("Ext_Name", "201"),)}  # fmt: skip
    phone_view = view(keys=(KeyView("speeddial", "200", "Front desk"),), **site)
    ref = PLUGIN.match("0004f2000607-directory.xml")
    items = directory_items(PLUGIN.render(ref, phone_view, None))
    assert items == [
        {"fn": "Front desk", "ct": "200", "sd": "1"}, {"fn": "Ext_Name", "ct": "201"},
    ]  # fmt: skip
    assert shown(phone_view)[-1] == LineKey("speeddial", "Front desk", "200")
    unlabelled = view(keys=(KeyView("speeddial", "200"),), **site)
    assert shown(unlabelled)[-1] == LineKey("speeddial", "Reception", "200")


def test_blf_keys_watch_through_one_line():
    two_lines = (LINE_201, LINE_202)
    through_two = view(keys=(KeyView("blf", "203", line=2),), lines=two_lines)
    assert refusals(through_two) == []
    settings = {
        name: value
        for name, value in parse(through_two, "0004f2000607-reg.cfg").items()
        if name.startswith("attendant.")
    }
    assert settings == {
        "attendant.reg": "2", "attendant.resourceList.1.address": "203",
        "attendant.resourceList.1.label": "203", "attendant.resourceList.1.type": "normal",
    }  # fmt: skip
    mixed = view(keys=(KeyView("blf", "203", line=2), KeyView("blf", "204")), lines=two_lines)
    assert refusals(mixed) == [
        "key 2 (blf 204): SIP 3.2 watches every BLF through one line (attendant.reg), here "
        "line 2; this key asks for line 1"
    ]


def parse(phone_view, name: str) -> dict[str, str]:
    return parse_parameters(PLUGIN.render(PLUGIN.match(name), phone_view, None))


# -- refusals


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (KeyView("park", "700"), "key 1 (park 700): a Polycom on SIP 3.2 puts only lines, BLF, "
         "speed dials and voicemail on its line keys; it has no park key"),
        (KeyView("line", line=2), "key 1 (line): the phone has no line 2"),
        (KeyView("blf"), "key 1 (blf): it names no extension to watch (value)"),
        (KeyView("speeddial", label="x"), "key 1 (speeddial): it has no number (value) to dial"),
        (KeyView("blf", "202", slot=5), "key 1 (blf 202): pinned to line key 5, but the IP650 "
         "lays out its line keys itself (lines, then BLF, then speed dials) and puts this key "
         "on line key 2"),
        (KeyView("blf", "202", family="softkey"), "key 1 (blf 202): the IP650 has one key family, "
         "'linekey' (its line keys), not 'softkey'"),
        (KeyView("empty", slot=1), "key 1 (empty): the IP650 cannot leave line key 1 blank: it "
         "lays out its line keys itself (lines, then BLF, then speed dials) and that key is "
         "taken"),
    ],
)  # fmt: skip
def test_keys_that_cannot_land_are_refused_naming_key_and_reason(key, message):
    assert refusals(view(keys=(key,))) == [message]


def test_a_voicemail_key_needs_the_sites_code_and_two_speed_dials_one_number():
    assert refusals(view(keys=(KeyView("voicemail"),), voicemail=None)) == [
        "key 1 (voicemail): the site has no voicemail code to dial"
    ]
    assert refusals(view(keys=(KeyView("speeddial", "300"), KeyView("speeddial", "300")))) == [
        "key 2 (speeddial 300): another speed dial already dials 300; the phone's directory "
        "holds each number once (<ct> cannot be duplicated)"
    ]


def test_pinned_keys_on_their_own_place_and_trailing_empties_are_fine():
    keys = (KeyView("line", line=1, family="linekey", slot=1), KeyView("blf", "202", slot=2),
            KeyView("empty"), KeyView("empty", slot=6))  # fmt: skip
    phone_view = view(keys=keys)
    assert refusals(phone_view) == []
    assert [key.kind for key in shown(phone_view)] == ["line", "blf"]


@pytest.mark.parametrize("model", sorted(CAPACITY))
@pytest.mark.parametrize("kind", NEUTRAL_KEY_TYPES)
def test_every_key_type_shows_on_every_model_or_is_refused(model, kind):
    """Never silently dropped: beside the line's own key, a key of each type is either on
    the phone's second line key or refused at apply naming it."""
    key = KeyView(kind, value=None if kind in ("line", "empty", "voicemail") else "202",
                  label="K", line=1)  # fmt: skip
    phone_view = view(model, (KeyView("line", line=1), key))
    found = refusals(phone_view)
    keys = shown(phone_view)
    if kind == "empty":
        assert found == [] and len(keys) == 1
    elif found:
        assert len(found) == 1 and found[0].startswith(f"key 2 ({kind}"), found
        assert len(keys) == 1  # the line alone: the refused key never reaches a file
    else:
        expected = {"line": "line", "blf": "blf", "speeddial": "speeddial",
                    "voicemail": "speeddial"}[kind]  # fmt: skip
        assert [k.kind for k in keys] == ["line", expected] and CAPACITY[model] >= 2
        assert keys[1].label == ("201" if kind == "line" else "K")


# -- an apply through the services


INVENTORY = """
sites:
  - name: altigen
    sip_server: 10.100.2.127
    voicemail: "##"
{site_keys}
extensions:
  - {{number: "201", site: altigen, name: Ext_Name, password: "1212"}}
phones:
  - mac: 00:04:f2:00:06:07
    model: IP321
    site: altigen
    lines: ["201"]
{phone_keys}
"""


def apply(store, site_keys: str = "", phone_keys: str = ""):
    registry = VendorRegistry([PolycomPlugin()])
    text = INVENTORY.format(site_keys=site_keys, phone_keys=phone_keys)
    document, problems = parse_document(load_located(text, "inv.yaml"), registry)
    assert not problems, problems
    with store.sessions() as session:
        try:
            result = apply_document(session, document, registry=registry)
        except ApplyRefused:
            session.rollback()
            raise
        session.commit()
    return result


def phones_in(store) -> list[str]:
    with store.sessions() as session:
        return list(session.scalars(select(Phone.mac)))


def test_an_apply_giving_an_ip321_a_blf_key_is_refused_with_nothing_changed(store):
    with pytest.raises(ApplyRefused) as refused:
        apply(store, phone_keys="    keys: [{type: blf, value: '202', label: Mary}]")
    (problem,) = refused.value.problems
    assert problem.where.startswith("inv.yaml:")
    assert problem.message == (
        "phone 00:04:F2:00:06:07 (IP321): key 1 (blf 202): the IP321 has no busy lamp field "
        "keys (SIP 3.2 configures BLF only on the SoundPoint IP 450, 550, 560, 650 and 670)"
    )
    assert phones_in(store) == []
    apply(store, phone_keys="    keys: [{type: speeddial, value: '202', label: Mary}]")
    assert phones_in(store) == ["0004F2000607"]
    # the site's keys are defaults for every vendor's phones: one this model cannot show
    # is left out with a warning, not refused for the whole site
    apply(store, site_keys="    keys: [{type: dnd}]")
    with store.sessions() as session:
        findings = fleet_findings(session, VendorRegistry([PolycomPlugin()]))
    assert [
        (finding.message, finding.refuse) for finding in findings if "dnd" in finding.message
    ] == [
        (
            "key 1 (dnd): a Polycom on SIP 3.2 puts only lines, BLF, speed dials and voicemail "
            "on its line keys; it has no dnd key (a default key of site altigen: the phone "
            "leaves it out)",
            False,
        )
    ]

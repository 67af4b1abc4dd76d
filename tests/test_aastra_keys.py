"""Aastra keys: BLF, speed-dial and park keys on emulated phones booting from the
plug-in's files, park/pickup configuration, BLFs kept off the 68xx bottom softkeys, and
every neutral key type on every model either rendered or refused, never dropped."""

from __future__ import annotations

import pytest

from plugtone.services.inventory_apply import ApplyRefused
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.aastra.keys import KEY_TYPES, NEEDS_VALUE
from plugtone.vendors.aastra.models import MODELS
from plugtone.vendors.base import (
    NEUTRAL_KEY_TYPES,
    FileRef,
    FileScope,
    KeyView,
    LineView,
    ModelView,
    PhoneView,
    SiteView,
)
from tests.conftest import apply_text
from tests.emulators.aastra import AastraPhone, parse_aastra

PLUGIN = AastraPlugin()
SITE = SiteView(name="hq", sip_server="pbx.example.com", voicemail="*97", timezone="UTC")
LINES = (LineView(1, "201", "Ann", "201", "pw1"), LineView(2, "202", "Bob", "202", "pw2"))


def phone(model: str, keys: tuple[KeyView, ...], **overrides) -> PhoneView:
    values = dict(mac="00085D000031", model=model, vendor="aastra", site=SITE, lines=LINES,
                  keys=keys)  # fmt: skip
    values.update(overrides)
    return PhoneView(**values)


def booted(view: PhoneView) -> AastraPhone:
    """An emulated phone of the view's model after one boot from the plug-in's files."""
    emulated = AastraPhone(mac=view.mac, model=view.model)

    def fetch(name: str) -> tuple[int, bytes]:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return 404, b""
        return 200, PLUGIN.render(ref, view, ModelView(view.model, "aastra"))

    emulated.boot(fetch)
    assert [status for _, status in emulated.fetched] == [200, 200, 200]
    return emulated


def refusals(view: PhoneView) -> list[str]:
    return [finding.message for finding in PLUGIN.check_phone(view) if finding.refuse]


def warnings(view: PhoneView) -> list[str]:
    return [finding.message for finding in PLUGIN.check_phone(view) if not finding.refuse]


def test_blf_speeddial_and_park_keys_on_a_6869i():
    keys = (
        KeyView("speeddial", value="8001", label="Desk"),
        KeyView("blf", value="203", label="Cid"),
        KeyView("park", value="700", label="Park"),
    )
    view = phone("6869i", keys)
    assert PLUGIN.check_phone(view) == []
    emulated = booted(view)
    assert emulated.key("topsoftkey1") == {"type": "speeddial", "value": "8001", "label": "Desk",
                                           "line": "1"}  # fmt: skip
    assert emulated.key("topsoftkey2") == {
        "type": "blf",
        "value": "203",
        "label": "Cid",
        "line": "1",
    }
    assert emulated.key("topsoftkey3") == {"type": "park", "value": "asterisk;700", "label": "Park"}
    # 3.x takes the codes from the per-line configuration, for a call on either line
    assert emulated.park_pickup(1) == ("700", "700", "asterisk")
    assert emulated.park_pickup(2) == ("700", "700", "asterisk")


def test_a_park_key_for_one_line_with_its_own_codes_and_call_server():
    keys = (KeyView("park", value="*68;*88;broadworks", line=2),)
    emulated = booted(phone("6757i", keys))
    assert emulated.park_pickup(2) == ("*68", "*88", "broadworks")
    assert emulated.park_pickup(1) is None
    assert emulated.key("topsoftkey1")["value"] == "broadworks;*68"
    two_codes = booted(phone("6757i", (KeyView("park", value="71;72"),)))
    assert two_codes.park_pickup(1) == ("71", "72", "asterisk")


@pytest.mark.parametrize(
    "value", ["", "7 0", "*68;*88;sylantro", "70;70;asterisk;x", ";88", "park-lot"]
)
def test_park_values_that_are_not_codes_are_refused(value):
    view = phone("6757i", (KeyView("park", value=value or None),))
    [message] = refusals(view)
    assert message.startswith("key 1 (park")
    assert "park" in message.split(":", 1)[1]


def test_two_park_configurations_for_one_line_are_refused():
    keys = (KeyView("park", value="700"), KeyView("park", value="800", line=1))
    [message] = refusals(phone("6757i", keys))
    assert message.startswith("key 2 (park 800): line 1 already parks with 700;700;asterisk")
    assert refusals(phone("6757i", (KeyView("park", value="700"), KeyView("park", value="700"))))\
        == []  # fmt: skip


def test_park_keys_on_a_6737i_are_warned_about_its_322_firmware():
    [message] = warnings(phone("6737i", (KeyView("park", value="700"),)))
    assert "6737i" in message and "5-219" in message


def test_programmable_keys_get_no_label_they_cannot_show():
    keys = (KeyView("speeddial", value="8001", label="Desk"), KeyView("blf", value="203"))
    emulated = booted(phone("6731i", keys))
    assert emulated.key("prgkey1") == {"type": "speeddial", "value": "8001", "line": "1"}
    assert emulated.key("prgkey2") == {"type": "blf", "value": "203", "line": "1"}


def test_blfs_stay_off_the_68xx_bottom_softkeys_and_the_keys_before_them_make_room():
    speeddials = tuple(KeyView("speeddial", value=f"80{n:02d}") for n in range(1, 21))
    keys = (*speeddials, KeyView("blf", value="301"), KeyView("blf", value="302"))
    view = phone("6867i", keys)  # 20 top softkeys, 18 bottom softkeys
    assert PLUGIN.check_phone(view) == []
    emulated = booted(view)
    blf_keys = [n for n in range(1, 21) if emulated.key(f"topsoftkey{n}")["type"] == "blf"]
    assert [emulated.key(f"topsoftkey{n}")["value"] for n in blf_keys] == ["301", "302"]
    assert not any(emulated.key(f"softkey{n}").get("type") == "blf" for n in range(1, 19))
    assert (
        emulated.key("softkey1")["value"] == "8019" and emulated.key("softkey2")["value"] == "8020"
    )
    # on a 6757i, whose bottom softkeys show BLF, the same keys keep their order
    plain = booted(phone("6757i", keys[:12]))
    assert plain.key("softkey1")["value"] == "8011" and plain.key("softkey2")["value"] == "8012"


def test_a_blf_pinned_to_a_68xx_bottom_softkey_moves_to_a_top_softkey_with_a_warning():
    view = phone("6869i", (KeyView("blf", value="205", family="softkey", slot=3),))
    [message] = warnings(view)
    assert message.startswith("key 1 (blf 205): pinned to softkey 3")
    assert "cannot show a BLF" in message and "topsoftkey 1" in message
    emulated = booted(view)
    assert emulated.key("topsoftkey1")["type"] == "blf" and emulated.key("softkey3") == {}


def test_a_blf_without_a_free_top_softkey_is_refused_naming_the_key_and_the_reason():
    keys = tuple(KeyView("blf", value=str(300 + n)) for n in range(1, 22))
    [message] = refusals(phone("6867i", keys))
    assert message.startswith("key 21 (blf 321): the 6867i's bottom softkeys cannot show a BLF")
    assert "20 top softkeys are all taken" in message
    # pinned to an expansion-module key it has a place
    pinned = (*keys[:20], KeyView("blf", value="321", family="expmod1 key", slot=1))
    view = phone("6867i", pinned)
    assert refusals(view) == []
    assert booted(view).key("expmod1 key1") == {"type": "blf", "value": "321", "line": "1"}


def test_keys_past_the_models_keys_are_refused_not_dropped():
    keys = tuple(KeyView("speeddial", value=str(n)) for n in range(1, 10))
    view = phone("6731i", keys)
    [message] = refusals(view)
    assert message.startswith("key 9 (speeddial 9): the 6731i has 8 programmable keys, all taken")
    # unpinned keys never land on an expansion module the phone may not have
    big = phone("6757i", tuple(KeyView("speeddial", value=str(n)) for n in range(1, 32)))
    [message] = refusals(big)
    assert message.startswith("key 31 (speeddial 31): the 6757i has 10 top softkeys, 20 softkeys")


def test_a_pin_the_model_cannot_honour_is_laid_elsewhere_with_a_warning():
    view = phone("6731i", (KeyView("dnd", family="topsoftkey", slot=2),))
    [message] = warnings(view)
    assert (
        message == "key 1 (dnd): pinned to topsoftkey 2, which the 6731i lacks; placed on prgkey 1"
    )
    assert booted(view).key("prgkey1") == {"type": "dnd"}


def test_lines_past_the_models_last_are_refused():
    view = phone("6863i", (), lines=(*LINES, LineView(3, "203", None, "203", "pw3")))
    assert refusals(view) == ["line 3: the 6863i has lines 1 to 2"]


def value_for(key_type: str) -> str | None:
    return {"speeddial": "8001", "blf": "203", "park": "700", "xml": "http://apps.example/a.xml",
            "line": None}.get(key_type)  # fmt: skip


@pytest.mark.parametrize("model", [model.spec.name for model in MODELS])
def test_every_neutral_key_type_on_every_model_is_rendered_or_refused(model):
    for key_type in NEUTRAL_KEY_TYPES:
        key = KeyView(key_type, value=value_for(key_type), line=2 if key_type == "line" else None)
        view = phone(model, (key,))
        refused = refusals(view)
        assert refused == [], (model, key_type, refused)
        emulated = booted(view)
        written = [
            name[: -len(" type")]
            for name, value in emulated.settings.items()
            if name.endswith(" type") and value == KEY_TYPES[key_type]
        ]
        assert len(written) == 1, (model, key_type)
        shown = emulated.key(written[0])
        if key_type == "voicemail":
            assert shown["value"] == "*97"
        elif value_for(key_type):
            assert shown["value"].endswith(value_for(key_type))
        if key_type in NEEDS_VALUE:  # the same key without its value cannot work: refused
            [message] = refusals(phone(model, (KeyView(key_type),)))
            assert message.startswith(f"key 1 ({key_type}): needs a value")


def test_a_voicemail_key_at_a_site_without_voicemail_is_refused():
    site = SiteView(name="hq", sip_server="pbx.example.com")
    assert refusals(phone("6757i", (KeyView("voicemail"),), site=site)) == [
        "key 1 (voicemail): the site has no voicemail code for it to dial"
    ]


APPLIED = """
sites:
  - {name: hq, sip_server: pbx.example.com}
extensions:
  - {number: "201", site: hq, password: pw}
phones:
  - mac: 00:08:5D:00:00:41
    model: 6867i
    site: hq
    lines: ["201"]
    keys:
"""


def test_apply_refuses_a_phone_whose_blf_has_no_place(tmp_path):
    from plugtone.inventory.store import Store, migrate

    store = Store(f"sqlite:///{tmp_path / 'plugtone.db'}", data_dir=tmp_path)
    migrate(store.engine)
    try:
        fits = APPLIED + "".join(f"      - {{type: blf, value: '{300 + n}'}}\n" for n in range(20))
        apply_text(store, fits)
        with pytest.raises(ApplyRefused) as refused:
            apply_text(store, fits + "      - {type: blf, value: '399'}\n")
        message = str(refused.value)
        assert "phone 00:08:5D:00:00:41 (6867i)" in message
        assert "key 21 (blf 399): the 6867i's bottom softkeys cannot show a BLF" in message
    finally:
        store.dispose()


def test_render_writes_no_key_the_check_refused():
    keys = tuple(KeyView("speeddial", value=str(n)) for n in range(1, 10))
    view = phone("6731i", keys)
    ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
    settings = parse_aastra(PLUGIN.render(ref, view, None).decode())
    assert settings["prgkey8 value"] == "8" and "prgkey9 type" not in settings

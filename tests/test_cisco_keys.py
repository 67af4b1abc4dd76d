"""Every neutral key type on a 7940/7960 (SIP firmware): on a line button, or refused.

A line button shows a line or a speed dial (``speed_lineN``/``speed_labelN``); the
emulator boots from the plug-in's files and reads its buttons the way the phone would.
Every key type the buttons cannot be is refused by ``check_phone`` with the key and the
reason, so an apply fails instead of the phone silently showing less.
"""

from __future__ import annotations

import pytest

from plugtone.vendors.base import (
    NEUTRAL_KEY_TYPES,
    FileRef,
    FileScope,
    KeyView,
    LineView,
    PhoneView,
    SiteView,
)
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from tests.emulators.cisco import Button, Cisco7960

PLUGIN = Cisco79xxPlugin()
MAC = "00115C93AFD1"
SITE = SiteView(name="hq", sip_server="10.0.0.1", voicemail="*97", timezone="Europe/Paris")
LINES = (LineView(1, "201", "Ann", "201", "pw1"), LineView(2, "202", "Bob", "202", "pw2"))


def phone(keys: tuple[KeyView, ...], model: str = "7960", lines=LINES, site=SITE) -> PhoneView:
    return PhoneView(MAC, model, "cisco79xx", site, lines, keys)


def boot(view: PhoneView) -> Cisco7960:
    emulator = Cisco7960(MAC, model=view.model)
    emulator.boot(files(view))
    return emulator


def files(view: PhoneView):
    """The phone's TFTP requests answered straight from the plug-in."""

    def fetch(name: str) -> tuple[int, bytes]:
        ref = PLUGIN.match(name)
        if ref is None or ref.scope is FileScope.FIRMWARE:
            return 404, b""
        content = PLUGIN.render(ref, view if ref.scope is not FileScope.COMMON else None, None)
        return (200, content) if content is not None else (404, b"")

    return fetch


def refusals(view: PhoneView) -> list[str]:
    return [finding.message for finding in PLUGIN.check_phone(view) if finding.refuse]


def test_speed_dials_and_voicemail_fill_the_buttons_without_a_line():
    keys = (
        KeyView("line", line=1, label="Ann desk"),
        KeyView("speeddial", value="300", label="Reception"),
        KeyView("voicemail"),
        KeyView("speeddial", value="0612345678", family="line", slot=6),
        KeyView("empty"),
        KeyView("speeddial", value="*72"),
    )
    assert refusals(phone(keys[:-1])) == []
    emulator = boot(phone(keys))
    assert emulator.buttons() == [
        Button("line", "201", "Ann desk"),
        Button("line", "202", "202"),
        Button("speeddial", "300", "Reception"),
        Button("speeddial", "*97", "Voicemail"),  # the site's voicemail code
        None,  # the empty key keeps button 5 blank
        Button("speeddial", "0612345678", "0612345678"),  # pinned to button 6
    ]
    assert emulator.press(3) == "300" and emulator.press(4) == "*97"
    assert refusals(phone(keys)) == ["key 6 (speeddial *72): a 7960 has 6 line buttons and "
                                     "none is left (line 1, line 2, key 2 (speeddial 300), key 3 "
                                     "(voicemail), key 5 (empty), key 4 (speeddial 0612345678))"]  # fmt: skip


def test_a_7940_has_two_buttons_and_a_speed_dial_needs_one_without_a_line():
    one_line = (LINES[0],)
    view = phone((KeyView("speeddial", value="300", label="Desk"),), "7940", one_line)
    assert refusals(view) == []
    emulator = boot(view)
    assert emulator.buttons() == [Button("line", "201", "201"), Button("speeddial", "300", "Desk")]
    full = phone((KeyView("speeddial", value="300"),), "7940")
    assert refusals(full) == [
        "key 1 (speeddial 300): a 7940 has 2 line buttons and none is left (line 1, line 2)"
    ]
    assert refusals(phone((), "7940", (*LINES, LineView(3, "203", None, "203", "x")))) == [
        "line 3 (203): a 7940 has 2 line buttons; the line would have no button and not register"
    ]


def test_buttons_a_phone_no_longer_uses_are_cleared():
    emulator = boot(phone((KeyView("speeddial", value="300"),)))
    assert emulator.settings["speed_line3"] == "300"
    emulator.boot(files(phone(())))  # the key is gone from the inventory
    assert emulator.settings["speed_line3"] == "" and emulator.buttons()[2] is None
    assert all(emulator.settings[f"speed_line{n}"] == "" for n in range(1, 7))


def test_services_and_xml_keys_open_the_services_button():
    url = "http://apps.example/menu.xml"
    emulator = boot(phone((KeyView("services", value=url), KeyView("xml", value=url))))
    assert emulator.settings["services_url"] == url
    assert refusals(phone((KeyView("services"),))) == [
        "key 1 (services): the Services button opens a URL (services_url); the key gives none"
    ]
    two = phone((KeyView("services", value=url), KeyView("xml", value="http://other/x")))
    assert refusals(two) == [
        f"key 2 (xml http://other/x): the phone has one Services button, already opening {url}"
    ]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (KeyView("blf", value="205"), "no busy-lamp field"),
        (KeyView("park", value="700"), "no park key"),
        (KeyView("dnd"), "no do-not-disturb key"),
        (KeyView("flash"), "no hook-flash key"),
        (KeyView("directory"), "Directories button does"),
        (KeyView("callers"), "missed, received and placed calls"),
        (KeyView("transfer"), "Trnsfer softkey"),
        (KeyView("conference"), "Confrn softkey"),
    ],
)
def test_keys_a_line_button_cannot_be_are_refused_with_the_reason(key, reason):
    (message,) = refusals(phone((key,)))
    what = f"{key.type} {key.value}" if key.value else key.type
    assert message.startswith(f"key 1 ({what}): ") and reason in message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (KeyView("speeddial"), "key 1 (speeddial): it has no number (value) to dial"),
        (KeyView("speeddial", value="1", family="softkey", slot=2),
         "key 1 (speeddial 1): a 7960 has one key family, 'line' (its line buttons), not "
         "'softkey'"),
        (KeyView("speeddial", value="1", slot=7), "key 1 (speeddial 1): a 7960 has 6 line "
                                                  "buttons, no button 7"),
        (KeyView("speeddial", value="1", slot=2), "key 1 (speeddial 1): button 2 already "
                                                  "holds line 2"),
        (KeyView("empty", slot=1), "key 1 (empty): button 1 already holds line 1"),
        (KeyView("line", line=3), "key 1 (line): the phone has no line 3"),
        (KeyView("line", line=1, slot=4), "key 1 (line): line 1 is always on button 1 of a "
                                          "7960; button 4 cannot show it"),
    ],
)  # fmt: skip
def test_keys_that_cannot_land_where_the_inventory_says_are_refused(key, message):
    assert refusals(phone((key,))) == [message]


def test_voicemail_without_a_site_code_is_refused():
    site = SiteView(name="hq", sip_server="10.0.0.1", timezone="Europe/Paris")
    assert refusals(phone((KeyView("voicemail"),), site=site)) == [
        "key 1 (voicemail): the site has no voicemail code to dial"
    ]


def test_every_neutral_key_type_is_either_rendered_or_refused():
    url = "http://apps.example/menu.xml"
    for kind in NEUTRAL_KEY_TYPES:
        key = KeyView(kind, value=url if kind in ("services", "xml") else None, line=1, label="X")
        if kind in ("speeddial", "blf", "park"):
            key = KeyView(kind, value="300")
        view = phone((key,))
        findings = PLUGIN.check_phone(view)
        ref = FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC)
        before = PLUGIN.render(ref, phone(()), None)
        after = PLUGIN.render(ref, view, None)
        rendered = after != before or kind == "empty"  # empty: a blank button, as before
        assert rendered != any(finding.refuse for finding in findings), kind

"""Lossless values on a Cisco 7940/7960: every password, name and label reaches the phone
unchanged, or the apply is refused naming the field and the character.

Random values go through the plug-in's ``SIP<MAC>.cnf`` and back through the emulator's
own ``.cnf`` parser (tests/emulators/cisco.py, written from the format's documented
syntax, not from the renderer); ``check_phone`` must refuse every value that does not
come back equal, and the file must never hold a changed value instead.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from plugtone.vendors.base import FileRef, FileScope, KeyView, LineView, PhoneView, SiteView
from plugtone.vendors.cisco79xx import Cisco79xxPlugin
from tests.emulators.cisco import parse_cnf

PLUGIN = Cisco79xxPlugin()
MAC = "00115C93AFD1"
SITE = SiteView(name="hq", sip_server="10.0.0.1", timezone="Europe/Paris", voicemail="*97")
TRICKY = [*"\"\\#;:= \t\n\r'%&<>!$", "é", "ß", "€", "中", "\xa0", "\x00", "\x7f", "😀"]
values = st.text(
    alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(min_codepoint=32, max_codepoint=126),
                       st.characters()),
    max_size=40,
)  # fmt: skip


def cnf(view: PhoneView) -> dict[str, str]:
    ref = FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC)
    body = PLUGIN.render(ref, view, None)
    return parse_cnf(body.decode("ascii"))  # the file is ASCII, whatever it was given


@settings(max_examples=100, deadline=None)
@given(password=values, name=values, auth=values, line_label=values, dial_label=values,
       dial_number=values, description=values)  # fmt: skip
def test_values_reach_the_phone_unchanged_or_the_apply_is_refused(
    password, name, auth, line_label, dial_label, dial_number, description
):
    auth = auth or "201"
    view = PhoneView(
        MAC, "7960", "cisco79xx", SITE,
        (LineView(1, "201", name or None, auth, password),),
        (KeyView("line", line=1, label=line_label or None),
         KeyView("speeddial", value=dial_number or "300", label=dial_label or None)),
        description=description or None,
    )  # fmt: skip
    refused = [finding.message for finding in PLUGIN.check_phone(view) if finding.refuse]
    got = cnf(view)
    expected = {
        # field in the file: (what was sent, how a refusal names the field)
        "line1_password": (password, "line 1 (201) password (line1_password): "),
        "line1_authname": (auth, "line 1 (201) auth user (line1_authname): "),
        "line1_displayname": (name or "201", "line 1 (201) name (line1_displayname): "),
        "line1_shortname": (line_label or "201", "key 1 (line) label: "),
        "speed_line2": (dial_number or "300", f"key 2 (speeddial {dial_number or '300'}) number: "),
        "speed_label2": (dial_label or dial_number or "300",
                         f"key 2 (speeddial {dial_number or '300'}) label: "),
        "phone_label": ((description or name or "201")[:11], None),
    }  # fmt: skip
    for field, (sent, prefix) in expected.items():
        arrived = got.get(field)
        assert arrived in (sent, None), f"{field} changed on the way: {sent!r} -> {arrived!r}"
        if arrived == sent:
            continue
        if prefix is None:  # phone_label: from the description, or the line's name
            prefixes = ("description (shown as phone_label): ",
                        "line 1 (201) name (line1_displayname): ")  # fmt: skip
        else:
            prefixes = (prefix,)
        assert any(message.startswith(prefixes) for message in refused), (field, refused)
    for message in refused:  # a refusal names the character, never a whole password
        assert "holds " in message or "characters, more than" in message, message
        others = (name, auth, line_label, dial_label, dial_number, description)
        if len(password) >= 8 and not any(password in other for other in others):
            assert password not in message


def test_the_characters_the_format_carries_all_arrive():
    every = "".join(chr(code) for code in range(32, 127) if chr(code) not in '"\\')
    for start in range(0, len(every), 31):
        text = every[start : start + 31]
        view = PhoneView(
            MAC, "7960", "cisco79xx", SITE, (LineView(1, "201", text, text, text),),
            (KeyView("line", line=1, label=text),),
        )  # fmt: skip
        assert PLUGIN.check_phone(view) == []
        got = cnf(view)
        assert got["line1_password"] == got["line1_authname"] == text
        assert got["line1_displayname"] == got["line1_shortname"] == text


def test_refusals_name_the_field_and_the_character():
    view = PhoneView(
        MAC, "7960", "cisco79xx", SITE,
        (LineView(1, "201", "José", "201", 'pa"ss'),),
        (KeyView("speeddial", value="300", label="x" * 32),),
    )  # fmt: skip
    assert [finding.message for finding in PLUGIN.check_phone(view)] == [
        "line 1 (201) password (line1_password): holds '\"', which a 79xx .cnf value cannot "
        'carry (printable ASCII only, without " or \\)',
        "line 1 (201) name (line1_displayname): holds 'é' (U+00E9), which a 79xx .cnf value "
        'cannot carry (printable ASCII only, without " or \\)',
        "key 1 (speeddial 300) label: is 32 characters, more than the 31 a 79xx keeps",
    ]
    text = PLUGIN.render(FileRef("cisco79xx", "SIP.cnf", FileScope.DEVICE, mac=MAC), view, None)
    got = parse_cnf(text.decode("ascii"))
    assert "line1_password" not in got and "line1_displayname" not in got  # not changed
    assert b"# line1_password left out" in text and b"Jos" not in text

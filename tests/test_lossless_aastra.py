"""Lossless Aastra values: every character a password, name or label may hold reaches
the phone unchanged, or check_phone refuses the value naming the field and the
character. Rendered in-process and read back with the emulator's parser, which follows
the documented file rules (tests/emulators/aastra.py), not the renderer's code."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.base import FileRef, FileScope, KeyView, LineView, PhoneView, SiteView
from tests.emulators.aastra import parse_aastra

PLUGIN = AastraPlugin()
SITE = SiteView(name="hq", sip_server="pbx.example.com", voicemail="*97")

# printable ASCII with the characters the format treats specially drawn often, a few
# non-ASCII letters and symbols, and the characters no Aastra file can carry
SPECIAL = st.sampled_from([*"\"#' :;\\!^=,", "\n", "\r", "\t", "\x00", "\x7f", "\x85", "\u2028"])
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        SPECIAL,
        st.sampled_from(list("éüßñøΩЖ中文€😀")),
    ),
    max_size=24,
)


def cannot_carry(value: str) -> set[str]:
    """The characters of ``value`` the Aastra format has no way to write."""
    return {c for c in value if c in '"\u2028\u2029' or unicodedata.category(c) in ("Cc", "Cs")}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=TEXT, password=TEXT, label=TEXT, value=TEXT)
def test_names_passwords_and_labels_reach_the_phone_or_are_refused(name, password, label, value):
    view = PhoneView(
        mac="00085D000061", model="6757i", vendor="aastra", site=SITE,
        lines=(LineView(1, "201", name, "auth201", password),),
        keys=(KeyView("speeddial", value=value or "1", label=label),),
    )  # fmt: skip
    fields = {
        "line 1 name": (name, ["sip line1 screen name", "sip line1 display name"]),
        "line 1 password": (password, ["sip line1 password"]),
        "key 1 (speeddial) label": (label, ["topsoftkey1 label"]),
        "key 1 (speeddial) value": (value or "1", ["topsoftkey1 value"]),
    }
    refused = {f.message for f in PLUGIN.check_phone(view) if f.refuse}
    ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
    read = parse_aastra(PLUGIN.render(ref, view, None).decode("utf-8"))
    for field, (given_value, names) in fields.items():
        bad = cannot_carry(given_value)
        mine = [message for message in refused if message.startswith(f"{field}:")]
        if bad:
            assert len(mine) == 1, (field, refused)
            assert any(repr(c) in mine[0] or f"'{c}'" in mine[0] for c in bad), mine
            assert "Aastra configuration file cannot carry" in mine[0]
            for setting in names:  # left out, never written cut or altered
                assert setting not in read, (setting, read.get(setting))
            continue
        assert mine == [], (field, mine)
        for setting in names:
            expected = given_value or ("201" if field == "line 1 name" else given_value)
            assert read[setting] == expected, (setting, given_value, read.get(setting))
    # nothing else was refused: each refusal names one of the fields above
    assert all(any(m.startswith(f"{field}:") for field in fields) for m in refused), refused


def test_the_double_quote_from_the_issue_is_refused_with_the_field_and_the_character():
    view = PhoneView(
        mac="00085D000061", model="6757i", vendor="aastra", site=SITE,
        lines=(LineView(1, "201", 'Ann "The Boss"', "201", 'pa"ss'),), keys=(),
    )  # fmt: skip
    messages = [f.message for f in PLUGIN.check_phone(view) if f.refuse]
    assert messages == [
        "line 1 name: the Aastra configuration file cannot carry a '\"' in a value",
        "line 1 password: the Aastra configuration file cannot carry a '\"' in a value",
    ]
    ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
    content = PLUGIN.render(ref, view, None)
    assert b"pa'ss" not in content and b'pa"ss' not in content  # never changed to a '
    assert "sip line1 password" not in parse_aastra(content.decode())


def test_hash_spaces_and_other_scripts_reach_the_phone_quoted():
    tricky = {"  Zoë #2 ": "  Zoë #2 ", "中文 名前": "中文 名前", "a:b;c": "a:b;c", "": "201"}
    for given_name, expected in tricky.items():
        view = PhoneView(
            mac="00085D000061", model="6757i", vendor="aastra", site=SITE,
            lines=(LineView(1, "201", given_name or None, "201", "#pw# "),), keys=(),
        )  # fmt: skip
        assert PLUGIN.check_phone(view) == []
        ref = FileRef("aastra", "mac.cfg", FileScope.DEVICE, mac=view.mac)
        read = parse_aastra(PLUGIN.render(ref, view, None).decode("utf-8"))
        assert read["sip line1 screen name"] == expected
        assert read["sip line1 password"] == "#pw# "

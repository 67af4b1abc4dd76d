"""Lossless values on Polycom: every character a password, name or label may hold reaches
the phone unchanged (rendered, then parsed back as the emulator parses a phone's files:
defusedxml, no DTD, no entities), or check_phone refuses the value naming the field and
the character, never the value."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from plugtone.vendors.base import ContactView, KeyView, LineView
from plugtone.vendors.polycom import PolycomPlugin
from tests.emulators.polycom import parse_parameters
from tests.emulators.polycom_keys import directory_items
from tests.test_polycom_render import seed_phone, seed_site

PLUGIN = PolycomPlugin()
TRICKY = "\"&<>'\t\n\r\x00\x07\x1b\x1f\x7f\x85\xa0\u2028\ufffe\uffff\ud800\udfff]]>--é中😀\\;#%"
TEXT = st.text(st.one_of(st.sampled_from(TRICKY), st.characters()), min_size=1, max_size=24)
FIELDS = ("line 1 name", "line 1 password", "line 1 auth_user", "key 1 label", "key 2 label",
          "site altigen directory entry 1 name", "site altigen conference")  # fmt: skip
LOST = {chr(c) for c in (*range(0x20), *range(0xD800, 0xE000), 0xFFFE, 0xFFFF)}


def render(view, name: str) -> bytes:
    return PLUGIN.render(PLUGIN.match(name), view, None)


@settings(max_examples=100, deadline=None)
@given(values=st.tuples(*([TEXT] * len(FIELDS))))
@example(values=('A "quoted" <b>&amp;</b>', 'p"<w>&\'', "a&b", "Mary's", "R&D <lab>", "é中😀",
                 "conf;x"))  # fmt: skip
@example(values=("bell\x07", "line\nbreak", "tab\t", "cr\r", "nul\x00", "\uffff", "ok"))
def test_values_reach_the_phone_unchanged_or_are_refused(values):
    name, password, auth_user, blf_label, dial_label, contact_name, conference = values
    view = seed_phone(
        lines=(LineView(1, "201", name, auth_user, password),),
        keys=(KeyView("blf", "202", blf_label), KeyView("speeddial", "300", dial_label)),
        site=seed_site(directory=(ContactView(contact_name, "250"),), conference=conference),
    )
    refused = [finding.message for finding in PLUGIN.check_phone(view) if finding.refuse]
    expected = []
    for field, value in zip(FIELDS, values, strict=True):
        lost = next((char for char in value if char in LOST), None)
        if lost is not None:
            kind = "a control character" if lost < " " else "not a text character"
            expected.append(
                f"{field}: character U+{ord(lost):04X} ({kind}) cannot reach a Polycom "
                "unchanged: its XML files cannot hold it"
            )
    assert sorted(refused) == sorted(expected)
    if len(password) > 3:
        assert not any(password in message for message in refused)  # a secret is not echoed
    if refused:
        return
    lines = parse_parameters(render(view, "0004f2000607-reg.cfg"))
    assert lines["reg.1.displayName"] == name
    assert lines["reg.1.auth.password"] == password
    assert lines["reg.1.auth.userId"] == auth_user
    assert lines["attendant.resourceList.1.label"] == blf_label
    site = parse_parameters(render(view, "0004f2000607-site.cfg"))
    assert site["voIpProt.SIP.conference.address"] == conference
    items = directory_items(render(view, "0004f2000607-directory.xml"))
    by_number = {item["ct"]: item for item in items}
    assert by_number["250"]["fn"] == contact_name
    assert by_number["300"] == {"fn": dial_label, "ct": "300", "sd": "1"}

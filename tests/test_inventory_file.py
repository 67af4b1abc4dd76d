"""The inventory file: apply, dry run, prune, export, and bad input, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import SourceError, load_located
from plugtone.services.inventory_apply import ApplyRefused, apply_document
from plugtone.services.inventory_export import export_yaml
from tests.conftest import EXAMPLE, apply_text

BASE = """\
sites:
  - name: hq
    sip_server: 10.100.2.127
    timezone: America/Los_Angeles
extensions:
  - {number: "3003", site: hq, name: John 3003, password: "22222"}
  - {number: "3004", site: hq, name: Mary, password: "x"}
phones:
  - mac: 00:08:5D:00:00:01
    model: 6757i
    site: hq
    lines: ["3003"]
"""


def snapshot(store) -> str:
    with store.sessions() as session:
        return export_yaml(session)


def problems_of(store, text: str, *, prune: bool = False) -> list[str]:
    """Apply ``text`` expecting refusal; return the problem lines."""
    try:
        located = load_located(text, "inv.yaml")
    except SourceError as error:
        return [str(error)]
    document, problems = parse_document(
        located, __import__("plugtone.vendors").vendors.default_registry()
    )
    if problems:
        return [str(p) for p in problems]
    with store.sessions() as session:
        try:
            apply_document(session, document, prune=prune)
        except ApplyRefused as refused:
            session.rollback()
            return [str(p) for p in refused.problems]
        session.rollback()
    raise AssertionError("the document was accepted")


def test_example_applies_and_export_then_apply_is_a_no_op(store):
    result = apply_text(store, EXAMPLE.read_text())
    assert result.changed and result.generation == 1
    exported = snapshot(store)
    again = apply_text(store, exported)
    assert again.changes == [] and again.generation is None
    assert snapshot(store) == exported
    # and the original file is a no-op too: applying is idempotent
    assert apply_text(store, EXAMPLE.read_text()).changes == []
    assert store.generation() == 1


def test_export_keeps_every_field(store):
    apply_text(store, EXAMPLE.read_text())
    exported = snapshot(store)
    for expected in ("sip_server: 10.100.2.127", "timezone: America/Los_Angeles",
                     "dial_plan: 0|911|##", "dtmf_method: info", "registration_period: 60",
                     "mac: 00:08:5D:00:00:01", "model: 6757i-CT", "handset1 name: 480i Cordless",
                     "password: '22222'", "type: voicemail", "config_server: tftp://10.100.2.126"):  # fmt: skip
        assert expected in exported, expected


def test_dry_run_reports_changes_and_writes_nothing(store):
    apply_text(store, BASE)
    before = snapshot(store)
    changed = BASE.replace("America/Los_Angeles", "Europe/Paris").replace('"22222"', '"99999"')
    located = load_located(changed, "inv.yaml")
    document, problems = parse_document(
        located, __import__("plugtone.vendors").vendors.default_registry()
    )
    assert not problems
    with store.sessions() as session:
        result = apply_document(session, document)
        session.rollback()
    text = [str(change) for change in result.changes]
    assert "update site hq: timezone: 'America/Los_Angeles' -> 'Europe/Paris'" in text
    assert "update extension hq/3003: password changed" in text
    assert not any("99999" in line for line in text), "a dry run must not print secrets"
    assert snapshot(store) == before


def test_without_prune_unmentioned_entries_stay_and_with_prune_they_go(store):
    apply_text(store, BASE)
    only_site = "sites:\n  - {name: hq, sip_server: 10.100.2.127, timezone: America/Los_Angeles}\n"
    assert apply_text(store, only_site).changes == []
    assert "00:08:5D:00:00:01" in snapshot(store)
    result = apply_text(store, only_site, prune=True)
    assert [str(c) for c in result.changes] == [
        "delete phone 00085D000001",
        "delete extension hq/3003",
        "delete extension hq/3004",
    ]
    assert "phones" not in snapshot(store)


def test_moving_a_line_and_changing_keys_and_settings_is_one_update(store):
    apply_text(store, BASE)
    moved = BASE.replace('lines: ["3003"]', 'lines: ["3004", null, "3003"]\n    keys: [{type: dnd}]\n'
                         '    vendor_settings: {aastra: {"sip mode": 0}}')  # fmt: skip
    result = apply_text(store, moved)
    assert [str(c) for c in result.changes] == [
        "update phone 00085D000001: lines -> 1=hq/3004, 3=hq/3003; keys -> 1 key(s); "
        "aastra 'sip mode' = '0'"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE.replace("00:08:5D:00:00:01", "00:08:5D:00:00:0G"), "inv.yaml:9:5: not a MAC address"),
        (BASE.replace("00:08:5D:00:00:01", "01:00:5E:00:00:01"), "inv.yaml:9:5: '01:00:5E:00:00:01' is a multicast"),
        (BASE.replace("model: 6757i", "model: 9999x"), "inv.yaml:10:5: unknown model '9999x'"),
        (BASE.replace("timezone: America/Los_Angeles", "timezone: Mars/Olympus"),
         "inv.yaml:4:5: 'Mars/Olympus' is not an IANA time zone"),
        (BASE.replace("    site: hq\n    lines", "    site: branch\n    lines"),
         "inv.yaml:9:5: phone 00085D000001: unknown site 'branch'"),
        (BASE.replace('lines: ["3003"]', 'lines: ["3999"]'),
         "inv.yaml:12:13: line 1: no extension '3999' in site 'hq'"),
        (BASE.replace("{number: \"3004\", site: hq", "{number: \"3004\", site: nowhere"),
         "inv.yaml:7:5: extension 3004: unknown site 'nowhere'"),
        (BASE + "  - {mac: 00085D000002, model: 6731i, site: hq, lines: [\"3003\"]}\n",
         "extension hq/3003 is on 00085D000001 line 1, 00085D000002 line 1"),
        (BASE.replace("    timezone: America/Los_Angeles\n", "    timezone: [America\n"),
         "inv.yaml:5:11: YAML syntax error"),
        (BASE.replace("    timezone:", "    time_zone:"), "inv.yaml:4:5: unknown field 'time_zone'"),
        (BASE + "  - {mac: 00-08-5d-00-00-01, model: 6731i, site: hq}\n",
         "phone '00085D000001' is already defined at inv.yaml:9:5"),
        (BASE.replace("sip_server: 10.100.2.127", "sip_server: 'pbx:99999'"), "bad port in 'pbx:99999'"),
        ("a: &x [1]\nb: *x\n", "inv.yaml:2:4: YAML syntax error: YAML aliases (*name) are not allowed"),
        (BASE.replace("    site: hq\n    lines", "    site: hq\n    vendor_settings: {snom: {x: 1}}\n    lines"),
         "unknown vendor 'snom'"),
        (BASE.replace("    site: hq\n    lines", "    site: hq\n    vendor_settings: {polycom: {x: 1}}\n    lines"),
         "settings for 'polycom' cannot apply to a aastra phone"),
        ("sites: {name: hq}\n", "inv.yaml:1:1: expected a list of sites, got a mapping"),
    ],
    ids=["bad-mac", "multicast-mac", "unknown-model", "bad-timezone", "unknown-site",
         "unknown-extension", "extension-unknown-site", "extension-on-two-phones", "yaml-syntax",
         "unknown-field", "duplicate-mac", "bad-port", "yaml-alias", "unknown-vendor", "wrong-vendor",
         "not-a-list"],
)  # fmt: skip
def test_bad_input_names_the_place_and_changes_nothing(store, text, expected):
    apply_text(store, BASE)
    before = snapshot(store)
    generation = store.generation()
    problems = problems_of(store, text)
    assert any(expected in problem for problem in problems), problems
    assert snapshot(store) == before
    assert store.generation() == generation


def test_every_problem_is_reported_in_one_pass(store):
    text = BASE.replace("00:08:5D:00:00:01", "nonsense").replace("model: 6757i", "model: nope")
    text = text.replace("timezone: America/Los_Angeles", "timezone: Nowhere/Land")
    problems = problems_of(store, text)
    assert len(problems) == 3, problems


def test_shared_extension_may_sit_on_two_phones(store):
    shared = BASE.replace('password: "22222"}', 'password: "22222", shared: true}')
    shared += '  - {mac: 00085D000002, model: 6731i, site: hq, lines: ["3003"]}\n'
    result = apply_text(store, shared)
    assert result.changed


def test_a_billion_laughs_file_is_refused_quickly(store):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    problems = problems_of(store, bomb)
    assert "aliases" in problems[0]


def test_directory_branding_nat_and_public_url_round_trip(store, tmp_path):
    import io

    from PIL import Image

    picture = io.BytesIO()
    Image.new("RGB", (200, 120), (200, 30, 30)).save(picture, format="PNG")
    (tmp_path / "logo.png").write_bytes(picture.getvalue())
    (tmp_path / "ring.raw").write_bytes(b"\x00\x01" * 100)
    text = (
        "branding:\n  - name: hq-look\n    logo: logo.png\n    files: [ring.raw]\n"
        "    vendor_settings: {aastra: {web interface title: ACME}}\n"
    ) + BASE.replace(
        "    timezone: America/Los_Angeles\n",
        "    timezone: America/Los_Angeles\n    nat: true\n    public_url: http://prov.example.com:8080/\n"
        "    branding: hq-look\n    ftp_account: {user: hq-phones, password: s3cret}\n    directory:\n      - {name: Reception, number: '0'}\n"
        "      - {name: 'Tom & Jerry <x>', number: '6905'}\n",
    )
    located = load_located(text, str(tmp_path / "inventory.yaml"))
    registry = __import__("plugtone.vendors").vendors.default_registry()
    document, problems = parse_document(located, registry)
    assert not problems, problems
    with store.sessions() as session:
        apply_document(session, document)
        session.commit()
    exported = snapshot(store)
    assert "nat: true" in exported
    assert "public_url: http://prov.example.com:8080" in exported
    assert "logo: sha256:" in exported
    assert "branding: hq-look" in exported
    assert "user: hq-phones" in exported
    assert "name: Tom & Jerry <x>" in exported
    assert apply_text(store, exported).changes == []

    from plugtone.provisioning.views import load_phone

    with store.sessions() as session:
        view = load_phone(session, "00085D000001")
    assert view.site.nat is True
    assert [c.name for c in view.site.directory] == ["Reception", "Tom & Jerry <x>"]
    assert [(m.number, m.name) for m in view.site.members] == [
        ("3003", "John 3003"),
        ("3004", "Mary"),
    ]
    assert view.branding is not None and view.branding.name == "hq-look"
    assert view.branding.logo is not None and view.branding.logo.content == picture.getvalue()
    assert [f.name for f in view.branding.files] == ["ring.raw"]
    assert view.vendor_settings()["web interface title"] == "ACME"


def test_a_site_logo_points_to_branding_sets(store):
    text = BASE.replace(
        "    timezone: America/Los_Angeles\n",
        "    timezone: America/Los_Angeles\n    logo: a.png\n",
    )
    problems = problems_of(store, text)
    assert any(":5:5:" in p and "belongs to a branding set" in p for p in problems), problems


def test_bad_logos_are_refused_with_their_place(store, tmp_path):
    apply_text(store, BASE)
    before = snapshot(store)
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    cases = {
        "logo: fake.png": "not a PNG, JPEG, GIF or BMP image",
        "logo: missing.png": "cannot read logo missing.png",
        "logo: sha256:" + "ab" * 32: "no stored image sha256:",
    }
    for line, expected in cases.items():
        text = f"branding:\n  - name: look\n    {line}\n" + BASE
        located_name = str(tmp_path / "inv.yaml")
        try:
            located = load_located(text, located_name)
            registry = __import__("plugtone.vendors").vendors.default_registry()
            document, problems = parse_document(located, registry)
            if not problems:
                with store.sessions() as session:
                    try:
                        apply_document(session, document)
                    except ApplyRefused as refused:
                        problems = refused.problems
                    session.rollback()
        except SourceError as error:
            problems = [error]
        assert any(expected in str(p) for p in problems), (line, problems)
        assert any(":3:5:" in str(p) for p in problems), problems
    assert snapshot(store) == before

"""The inventory forms in process: sites, extensions, contacts, phones and keys.

Driven over ASGI against a real store holding the example inventory (the browser end
to end is ``test_ui_inventory_browser``). What an admin checks: a form that is right
changes the inventory as the API reads it back; a refused one says why beside the field
(or, for an apply check such as a key the model cannot show, at the top naming the
key), keeps what was typed and changes nothing; an edit keeps the fields the form does
not show; a stored password is never sent to the browser and survives an edit; a
viewer sees no edit control and a forged post is 403.
"""

from __future__ import annotations

import re
from html import unescape

import pytest

from plugtone.inventory.store import Store, migrate
from plugtone.services import objects
from plugtone.services.accounts import add_user, ensure_first_admin
from plugtone.services.actors import Role, local_admin
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import EXAMPLE, apply_text
from tests.test_ui_pages import ADMIN_PASSWORD, VIEWER_PASSWORD, check_page, sign_in, token

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def app(sqlite_url, tmp_path):
    """The admin app on SQLite with the example inventory, an admin and a viewer (as in
    ``test_ui_pages``)."""
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    ensure_first_admin(store, ADMIN_PASSWORD)
    add_user(store, local_admin(), "vera", Role.VIEWER, VIEWER_PASSWORD)
    yield create_admin_app(store, default_registry(), load_settings(str(tmp_path), store.url))
    store.dispose()


MAC = "00:08:5D:00:00:01"


def errors(html: str) -> dict[str, str]:
    """Each message beside a field, by the field's id."""
    return {name: unescape(text) for name, text in
            re.findall(r'<p class="error" id="(f-[\w-]+)-error">([^<]*)</p>', html)}  # fmt: skip


def top(html: str) -> list[str]:
    block = re.search(r'id="form-problems">(.*?)</div>', html, re.S)
    return (
        [unescape(item) for item in re.findall(r"<li>([^<]*)</li>", block.group(1))]
        if block
        else []
    )


def value(html: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}" name="[^"]*" value="([^"]*)"', html)
    assert found, f"no field {field_id}"
    return unescape(found.group(1))


def entry(app, kind: str, key: str) -> dict:
    return objects.get_entry(app.state.store, local_admin(), kind, key, secrets=True)


def post(browser, path: str, data: dict):
    form = browser.get(path)
    assert form.status_code == 200, form.text
    check_page(form)
    return browser.post(path, data={"csrf": token(form.text), **data})


def test_a_site_is_added_edited_with_unshown_fields_kept_and_deleted(app):
    browser = sign_in(app)
    listed = browser.get("/sites")
    check_page(listed)
    assert 'href="/sites/hq"' in listed.text and 'href="/sites/new"' in listed.text
    added = post(browser, "/sites/new", {
        "name": "branch", "sip_server": "10.9.0.1:5070", "timezone": "Europe/Brussels",
        "ntp_servers": "ntp1.example, ntp2.example", "codecs": "g722 pcma",
        "digit_timeout": "5", "registration_period": "600", "voicemail": "*97",
        "trusted_networks": "10.9.0.0/16\n192.0.2.0/24 tftp,http", "dtmf_method": "info",
    })  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/sites/branch"
    site = entry(app, "site", "branch")
    assert site["sip_server"] == "10.9.0.1:5070" and site["codecs"] == ["g722", "pcma"]
    assert site["ntp_servers"] == ["ntp1.example", "ntp2.example"]
    assert site["trusted_networks"] == [
        "10.9.0.0/16",
        {"network": "192.0.2.0/24", "transports": ["http", "tftp"]},
    ]
    assert (site["digit_timeout"], site["registration_period"]) == (5, 600)
    shown = browser.get("/sites/branch")
    check_page(shown)
    assert "Europe/Brussels" in shown.text and "Add an extension" in shown.text

    hq_before = entry(app, "site", "hq")
    form = browser.get("/sites/hq/edit").text
    assert value(form, "f-sip-server") == "10.100.2.127" and value(form, "f-digit-timeout") == "4"
    edited = post(browser, "/sites/hq/edit", {
        "sip_server": "10.100.2.200", "timezone": "America/Los_Angeles",
        "ntp_servers": "time.nist.gov", "dial_plan": hq_before["dial_plan"],
        "digit_timeout": "", "voicemail": "##", "dtmf_method": "info",
        "registration_period": "60",
    })  # fmt: skip
    assert edited.status_code == 303
    hq = entry(app, "site", "hq")
    assert hq["sip_server"] == "10.100.2.200" and "digit_timeout" not in hq  # emptied: default
    for kept in ("keys", "vendor_settings", "config_server", "resync_time", "conference"):
        assert hq[kept] == hq_before[kept], kept  # not on the form: kept as they were

    confirm = browser.get("/sites/branch/delete")
    check_page(confirm)
    assert "Delete site branch" in confirm.text
    gone = browser.post("/sites/branch/delete", data={"csrf": token(confirm.text)})
    assert gone.status_code == 303 and gone.headers["location"] == "/sites"
    assert browser.get("/sites/branch").status_code == 404
    busy = post(browser, "/sites/hq/delete", {})
    assert busy.status_code == 409 and "still has 2 phone(s)" in busy.text
    assert browser.get("/sites/hq").status_code == 200


def test_a_refused_site_form_says_why_beside_each_field_and_keeps_what_was_typed(app):
    browser = sign_in(app)
    typed = {"name": "x y", "sip_server": "", "timezone": "Mars/Olympus",
             "ntp_servers": "ok.example, bad_host!", "digit_timeout": "soon",
             "registration_period": "5", "codecs": "pcmu, mp3",
             "trusted_networks": "10.1.2.3/16"}  # fmt: skip
    refused = post(browser, "/sites/new", typed)
    assert refused.status_code == 422
    check_page(refused)
    found = errors(refused.text)
    assert "not a valid site name" in found["f-name"]
    assert "sip_server" in found["f-sip-server"]
    assert "IANA" in found["f-timezone"] and "bad_host!" in found["f-ntp-servers"]
    assert "whole number" in found["f-digit-timeout"]
    assert "30..86400" in found["f-registration-period"]
    assert "mp3" in found["f-codecs"] and "host bits" in found["f-trusted-networks"]
    assert value(refused.text, "f-timezone") == "Mars/Olympus"
    assert value(refused.text, "f-ntp-servers") == "ok.example, bad_host!"
    assert [
        row["name"] for row in objects.list_entries(app.state.store, local_admin(), "site").items
    ] == ["hq", "lab", "maxcs7"]
    taken = post(browser, "/sites/new", {"name": "hq", "sip_server": "10.0.0.1"})
    assert taken.status_code == 409 and "exists already" in errors(taken.text)["f-name"]
    edit = post(browser, "/sites/hq/edit", {"sip_server": "10.100.2.127", "timezone": "Nowhere"})
    assert edit.status_code == 422 and "IANA" in errors(edit.text)["f-timezone"]
    assert entry(app, "site", "hq")["timezone"] == "America/Los_Angeles"


def test_extensions_keep_their_stored_password_unless_changed(app):
    browser = sign_in(app)
    refused = post(browser, "/sites/hq/extensions/new", {"number": "40 01", "password": "pw"})
    assert refused.status_code == 422 and "f-number" in errors(refused.text)
    assert 'value="pw"' not in refused.text  # a typed password is not echoed
    added = post(browser, "/sites/hq/extensions/new", {
        "number": "4001", "name": "Front desk", "auth_user": "fd4001",
        "password": "s3cret-4001", "shared": "1"})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/sites/hq"
    assert entry(app, "extension", "hq/4001") == {
        "number": "4001", "site": "hq", "name": "Front desk", "auth_user": "fd4001",
        "password": "s3cret-4001", "shared": True}  # fmt: skip
    site = browser.get("/sites/hq").text
    assert "Front desk" in site and "s3cret" not in site
    form = browser.get("/sites/hq/extensions/4001/edit").text
    assert 'type="password"' in form and 'value="********"' in form and "s3cret" not in form
    kept = post(
        browser,
        "/sites/hq/extensions/4001/edit",
        {"name": "Front desk 2", "auth_user": "fd4001", "password": "********"},
    )
    assert kept.status_code == 303
    after = entry(app, "extension", "hq/4001")
    assert after["password"] == "s3cret-4001" and after["name"] == "Front desk 2"
    assert "shared" not in after  # unticked
    post(browser, "/sites/hq/extensions/4001/edit", {"password": "n3w-pass"})
    assert entry(app, "extension", "hq/4001")["password"] == "n3w-pass"
    busy = post(browser, "/sites/hq/extensions/3003/delete", {})
    assert busy.status_code == 409 and "take it off the phone first" in busy.text
    gone = post(browser, "/sites/hq/extensions/4001/delete", {})
    assert gone.status_code == 303
    assert "Front desk" not in browser.get("/sites/hq").text


def test_contacts_rows_are_added_removed_and_refused_beside_the_row(app):
    browser = sign_in(app)
    form = browser.get("/sites/maxcs7/contacts").text
    assert value(form, "f-directory-0-name") == "Operator"
    assert value(form, "f-directory-3-name") == ""  # empty rows to add to
    saved = browser.post("/sites/maxcs7/contacts", data={
        "csrf": token(form), "directory[0].name": "Operator", "directory[0].number": "0",
        "directory[1].name": "Voice Mail", "directory[1].number": "##",
        "directory[1].remove": "1", "directory[2].name": "", "directory[2].number": "",
        "directory[3].name": "Lobby", "directory[3].number": "250"})  # fmt: skip
    assert saved.status_code == 303
    assert entry(app, "site", "maxcs7")["directory"] == [
        {"name": "Operator", "number": "0"},
        {"name": "Lobby", "number": "250"},
    ]
    refused = browser.post("/sites/maxcs7/contacts", data={
        "csrf": token(form), "directory[0].name": "Operator", "directory[0].number": "0",
        "directory[1].name": "", "directory[1].number": "",
        "directory[2].name": "Bad", "directory[2].number": "not a number"})  # fmt: skip
    assert refused.status_code == 422
    check_page(refused)
    assert "not a valid number" in errors(refused.text)["f-directory-2-number"]  # its row
    assert value(refused.text, "f-directory-2-number") == "not a number"
    assert len(entry(app, "site", "maxcs7")["directory"]) == 2


def test_a_phone_is_added_with_lines_and_keys_and_edited(app):
    browser = sign_in(app)
    form = browser.get("/sites/hq/phones/new").text
    assert "<optgroup" in form and ">6757i</option>" in form and ">7960</option>" in form
    added = browser.post("/sites/hq/phones/new", data={
        "csrf": token(form), "mac": "0008.5d00.0042", "model": "6757i", "site": "hq",
        "lines[0]": "3004", "lines[1]": "", "lines[2]": "",
        "keys[0].type": "speeddial", "keys[0].value": "##", "keys[0].label": "VM",
        "keys[1].type": "", "keys[2].type": "blf", "keys[2].value": "3003",
        "keys[2].family": "softkey", "keys[2].slot": "5", "description": "Lobby"})  # fmt: skip
    # 3004 is on another phone's line already: a check of the whole inventory, on top
    assert added.status_code == 422, added.text
    assert any("hq/3004 is on 00085D000002 line 1" in line for line in top(added.text))
    assert value(added.text, "f-keys-2-value") == "3003"
    assert objects.list_entries(app.state.store, local_admin(), "phone", q="00085D000042"
                                ).items == []  # fmt: skip
    objects.put_entry(app.state.store, local_admin(), app.state.registry, "extension",
                      "hq/4002", {"number": "4002", "site": "hq"})  # fmt: skip
    added = browser.post("/sites/hq/phones/new", data={
        "csrf": token(form), "mac": "0008.5d00.0042", "model": "6757i", "site": "hq",
        "lines[0]": "", "lines[1]": "4002", "lines[2]": "",
        "keys[0].type": "speeddial", "keys[0].value": "##", "keys[0].label": "VM",
        "keys[1].type": "", "keys[2].type": "blf", "keys[2].value": "3003",
        "keys[2].family": "softkey", "keys[2].slot": "5", "description": "Lobby"})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/phones/00:08:5D:00:00:42"
    phone = entry(app, "phone", "00085D000042")
    assert phone["lines"] == [None, "4002"] and phone["description"] == "Lobby"
    assert phone["keys"] == [
        {"type": "speeddial", "value": "##", "label": "VM"},
        {"type": "blf", "value": "3003", "family": "softkey", "slot": 5}]  # fmt: skip
    edit = browser.get("/phones/00:08:5D:00:00:42/edit").text
    assert value(edit, "f-keys-1-value") == "3003" and value(edit, "f-lines-1") == "4002"
    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "phone",
                        "00085D000042", {"vendor_settings": {"aastra": {"x": "1"}}})  # fmt: skip
    saved = browser.post("/phones/00:08:5D:00:00:42/edit", data={
        "csrf": token(edit), "model": "6757i", "site": "hq", "lines[0]": "4002",
        "keys[0].type": "speeddial", "keys[0].value": "##", "keys[0].remove": "1",
        "keys[1].type": "blf", "keys[1].value": "3003", "keys[1].family": "softkey",
        "keys[1].slot": "5", "description": ""})  # fmt: skip
    assert saved.status_code == 303
    phone = entry(app, "phone", "00085D000042")
    assert phone["lines"] == ["4002"] and "description" not in phone
    assert phone["keys"] == [{"type": "blf", "value": "3003", "family": "softkey", "slot": 5}]
    assert phone["vendor_settings"] == {"aastra": {"x": "1"}}  # not on the form: kept
    confirm = browser.get("/phones/00:08:5D:00:00:42/delete")
    check_page(confirm)
    gone = browser.post("/phones/00:08:5D:00:00:42/delete", data={"csrf": token(confirm.text)})
    assert gone.status_code == 303 and gone.headers["location"] == "/sites/hq"
    assert browser.get("/phones/00:08:5D:00:00:42").status_code == 404


def test_a_refused_phone_names_the_field_or_the_key_the_model_cannot_show(app):
    browser = sign_in(app)
    form = browser.get("/sites/lab/phones/new").text
    bad = browser.post("/sites/lab/phones/new", data={
        "csrf": token(form), "mac": "01:00:5e:00:00:01", "model": "", "site": "lab",
        "keys[0].type": "speeddial", "keys[0].line": "first"})  # fmt: skip
    assert bad.status_code == 422
    check_page(bad)
    found = errors(bad.text)
    assert "multicast" in found["f-mac"] and "f-model" in found
    assert "whole number" in found["f-keys-0-line"]
    assert value(bad.text, "f-mac") == "01:00:5e:00:00:01"
    cannot = browser.post("/sites/lab/phones/new", data={
        "csrf": token(form), "mac": "00:11:5C:00:00:99", "model": "CP-7960G", "site": "lab",
        "keys[0].type": "", "keys[1].type": "blf", "keys[1].value": "205"})  # fmt: skip
    assert cannot.status_code == 422
    problems = top(cannot.text)
    assert len(problems) == 1 and "key 1 (blf 205)" in problems[0]
    assert "busy-lamp" in problems[0] and "00:11:5C:00:00:99" in problems[0]
    assert "selected>blf</option>" in cannot.text  # the rows as typed
    assert browser.get("/phones/00:11:5C:00:00:99").status_code == 404  # nothing changed
    edit = browser.get("/phones/00:11:5C:93:AF:D1/edit").text
    assert "<option selected>7960</option>" in edit
    refused = browser.post("/phones/00:11:5C:93:AF:D1/edit", data={
        "csrf": token(edit), "model": "CP-7960G", "site": "lab", "lines[0]": "208",
        "lines[1]": "nope"})  # fmt: skip
    assert refused.status_code == 422 and "nope" in errors(refused.text)["f-lines-1"]
    assert entry(app, "phone", "00115C93AFD1")["lines"] == ["208"]


def test_a_viewer_sees_no_edit_control_and_a_forged_post_is_403(app):
    viewer = sign_in(app, "vera", VIEWER_PASSWORD)
    for path in ("/sites", "/sites/hq"):
        shown = viewer.get(path)
        check_page(shown)
        assert "/new" not in shown.text and "/edit" not in shown.text
        assert "/delete" not in shown.text and "/contacts" not in shown.text
    assert "John 3003" in viewer.get("/sites/hq").text
    assert viewer.get("/sites/hq/edit").status_code == 403
    assert viewer.get("/sites/new").status_code == 403
    csrf = token(viewer.get("/sites/hq").text)
    for path, data in (("/sites/new", {"name": "evil", "sip_server": "10.6.6.6"}),
                       ("/sites/hq/edit", {"sip_server": "10.6.6.6"}),
                       ("/sites/hq/extensions/3003/edit", {"name": "Evil"}),
                       ("/sites/hq/contacts", {"directory[0].name": "Evil",
                                               "directory[0].number": "666"}),
                       ("/sites/hq/phones/new", {"mac": "00:08:5D:00:06:66",
                                                 "model": "6757i", "site": "hq"}),
                       (f"/phones/{MAC}/edit", {"model": "6757i", "site": "hq"}),
                       (f"/phones/{MAC}/delete", {}), ("/sites/lab/delete", {})):  # fmt: skip
        forged = viewer.post(path, data={"csrf": csrf, **data})
        assert forged.status_code == 403, path
    assert entry(app, "site", "hq")["sip_server"] == "10.100.2.127"
    assert entry(app, "extension", "hq/3003")["name"] == "John 3003"
    assert entry(app, "phone", "00085D000001")["lines"] == ["3003"]
    admin = sign_in(app)
    assert admin.post("/sites/hq/edit", data={"sip_server": "10.6.6.6"}).status_code == 403


def test_the_phone_page_shows_its_current_boot_file_by_file(app):
    """The boot began at the first request after a 5-minute gap: older requests are the
    history's, not the timeline's."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from plugtone.inventory.models import DeviceState, ProvisioningEvent

    now = datetime.now(UTC)
    old, start = now - timedelta(hours=1), now - timedelta(seconds=20)
    rows = [
        (old, "tftp", "aastra.cfg", "ok", 100),
        (start, "http", "aastra.cfg", "ok", 1234),
        (start + timedelta(seconds=2), "http", "00085D000001.cfg", "ok", 2345),
        (start + timedelta(seconds=3), "http", "missing.cfg", "not_found", 0),
    ]
    with app.state.store.sessions() as session:
        session.execute(insert(ProvisioningEvent), [
            {"time": when, "transport": transport, "path": path, "status": status,
             "bytes": size, "mac": "00085D000001"} for when, transport, path, status, size in rows
        ])  # fmt: skip
        session.execute(insert(DeviceState).values(
            mac="00085D000001", first_seen=old, last_seen=rows[-1][0], requests=4,
            boot_started=start))  # fmt: skip
        session.commit()
    shown = sign_in(app).get(f"/phones/{MAC}")
    check_page(shown)
    boot = re.search(r'<table class="events timeline" id="boot">(.*?)</table>', shown.text, re.S)
    cells = re.findall(
        r'<td class="path">([^<]*)</td><td>(\w+)</td><td>(\w+)</td><td class="num">(\d+)</td>',
        boot.group(1),
    )
    assert cells == [("aastra.cfg", "http", "ok", "1234"),
                     ("00085D000001.cfg", "http", "ok", "2345"),
                     ("missing.cfg", "http", "not_found", "0")]  # fmt: skip
    assert 'data-gap="300"' in boot.group(1) and "/events/stream?mac=00085D000001" in boot.group(1)
    assert 'href="/phones/00:08:5D:00:00:01/edit"' in shown.text

"""The import, firmware and administration pages in process (ASGI, no browser).

Each page against a real SQLite store with the example inventory, as an admin, an
operator and a viewer: what succeeds shows up through the service layer afterwards,
what is refused changes nothing and says why beside the field; a viewer sees no edit
control and a forged post from one is 403. The browser end to end is
``test_ui_firmware.py``.
"""

from __future__ import annotations

import re

import pytest

from plugtone.services import devices
from plugtone.services.accounts import add_user
from plugtone.services.actors import Role, local_admin
from tests.test_ui_pages import (  # noqa: F401 - fixtures and helpers of the UI's tests
    ADMIN_PASSWORD,
    VIEWER_PASSWORD,
    app,
    check_page,
    sign_in,
    sqlite_store,
    token,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OPERATOR_PASSWORD = "operator password 1"


@pytest.fixture
def ui(app, sqlite_store):  # noqa: F811 - the fixtures imported above
    add_user(sqlite_store, local_admin(), "otto", Role.OPERATOR, OPERATOR_PASSWORD)
    return app


def operator(app):  # noqa: F811
    return sign_in(app, "otto", OPERATOR_PASSWORD)


def viewer(app):  # noqa: F811
    return sign_in(app, "vera", VIEWER_PASSWORD)


def sheet(bad_row: int | None = None, count: int = 5) -> bytes:
    rows = ["mac;model;site;line1"]
    for n in range(1, count + 1):
        model = "6799x" if n + 1 == bad_row else "6757i"  # row 1 is the header
        rows.append(f"00:08:5D:00:10:{n:02X};{model};hq;")
    return ("\r\n".join(rows) + "\r\n").encode()


def macs(store) -> set[str]:
    listed = devices.list_phones(store, local_admin(), q="00085D0010", limit=200).items
    return {phone.mac for phone in listed}


def upload(browser, data: bytes, name: str = "phones.csv"):
    form = browser.get("/import").text
    return browser.post("/import", data={"csrf": token(form)},
                        files={"file": (name, data, "text/csv")})  # fmt: skip


def sheet_action(html: str) -> str:
    found = re.search(r'action="(/import/[^"]+)"', html)
    assert found, "no import form on the preview"
    return found.group(1)


# -- import


def test_a_sheet_with_a_bad_row_is_previewed_then_its_good_rows_imported(ui):
    store = ui.state.store
    browser = operator(ui)
    check_page(browser.get("/import"))
    preview = upload(browser, sheet(bad_row=4))
    assert preview.status_code == 200
    check_page(preview)
    row = re.search(r'<tr data-row="4" class="bad">(.*?)</tr>', preview.text, re.S)
    assert row and "model:" in row.group(1) and "6799x" in row.group(1)
    assert "dry run: 4 created" in preview.text and ">Import all" not in preview.text
    assert macs(store) == set()  # a preview writes nothing
    action = sheet_action(preview.text)
    forged_all = browser.post(action, data={"csrf": token(preview.text), "rows": "all"})
    assert forged_all.status_code == 422 and "nothing was imported" in forged_all.text
    assert macs(store) == set()
    done = browser.post(action, data={"csrf": token(preview.text), "rows": "good"})
    assert done.status_code == 200 and "4 created" in done.text and "imported" in done.text
    assert macs(store) == {f"00085D0010{n:02X}" for n in (1, 2, 4, 5)}
    again = browser.post(action, data={"csrf": token(preview.text), "rows": "good"})
    assert again.status_code == 410  # imported: no longer held


def test_a_good_sheet_imports_all_and_a_held_sheet_is_this_sessions_only(ui):
    store = ui.state.store
    browser = operator(ui)
    preview = upload(browser, sheet())
    assert ">Import all 5 rows<" in preview.text and "good rows<" not in preview.text
    action = sheet_action(preview.text)
    other = sign_in(ui)  # another session (an admin): its token, not the uploader's sheet
    stolen = other.post(action, data={"csrf": token(other.get("/import").text), "rows": "all"})
    assert stolen.status_code == 410 and macs(store) == set()
    done = browser.post(action, data={"csrf": token(preview.text), "rows": "all"})
    assert done.status_code == 200 and "5 created" in done.text
    assert len(macs(store)) == 5


def test_not_a_sheet_is_an_error_beside_the_file_field(ui):
    browser = operator(ui)
    answer = upload(browser, b"\xff\xfe not utf-8 at all", "junk.csv")
    assert answer.status_code == 422
    check_page(answer)
    assert re.search(r'<p class="error" id="file-error">[^<]+</p>', answer.text)


def test_held_sheets_are_bounded(ui):
    from plugtone.web.ui.pages_import import MAX_HELD

    browser = operator(ui)
    for _ in range(MAX_HELD + 3):
        assert upload(browser, sheet(count=1)).status_code == 200
    assert len(ui.state.ui_held_sheets) == MAX_HELD


def test_a_viewer_gets_no_import_page_and_a_forged_upload_is_403(ui):
    store = ui.state.store
    browser = viewer(ui)
    assert 'href="/import"' not in browser.get("/").text
    assert browser.get("/import").status_code == 403
    page = browser.get("/phones").text
    forged = browser.post("/import", data={"csrf": token(page)},
                          files={"file": ("phones.csv", sheet(), "text/csv")})  # fmt: skip
    assert forged.status_code == 403 and macs(store) == set()
    tokenless = operator(ui).post("/import", files={"file": ("phones.csv", sheet(), "text/csv")})
    assert tokenless.status_code == 403 and macs(store) == set()


# -- firmware

NEW = "4.2.0.7"


def release_files(version: str = NEW):
    from tests.emulators.aastra import make_image

    return [("files", ("6757i.st", make_image(version), "application/octet-stream"))]


def add_release(browser, version: str = NEW, models: str = "6757i"):
    form = browser.get("/firmware").text
    return browser.post("/firmware/releases", files=release_files(version), data={
        "csrf": token(form), "vendor": "aastra", "models": models, "version": version,
        "note": "spring"})  # fmt: skip


def pins(store) -> list[tuple[str, str, str | None, bool, int]]:
    from plugtone.services import firmware

    found = []
    for release in firmware.list_releases(store, local_admin()):
        found += [(place, release.version) for place in release.pinned]
    return found


def test_a_release_is_uploaded_pinned_staged_promoted_unpinned_and_removed(ui):
    from plugtone.services import firmware

    store = ui.state.store
    admin = sign_in(ui)
    check_page(admin.get("/firmware"))
    added = add_release(admin)
    assert added.status_code == 200 and f"aastra {NEW} is stored for 6757i" in added.text
    check_page(added)
    again = add_release(admin)
    assert again.status_code == 422 and "already in the repository" in again.text
    assert [r.version for r in firmware.list_releases(store, local_admin())] == [NEW]

    otto = operator(ui)
    page = otto.get("/firmware").text
    assert 'action="/firmware/releases"' not in page and 'action="/firmware/pins"' in page
    pinned = otto.post("/firmware/pins", data={"csrf": token(page), "version": NEW,
                                               "place": "model", "name": "6757i",
                                               "first_wave": "10%"})  # fmt: skip
    assert pinned.status_code == 200, pinned.text
    assert f"firmware -&gt; {NEW} (first wave 10%)" in pinned.text
    assert "1 in the first wave" in pinned.text
    report = {row.mac: row for row in firmware.firmware_report(store, local_admin())}
    assert report["00085D000001"].target == NEW
    assert report["00085D000001"].pin == "model, first wave"
    assert pins(store) == [("model 6757i", NEW)]

    blocked = admin.post("/firmware/releases/remove", data={
        "csrf": token(page), "vendor": "aastra", "version": NEW})  # fmt: skip
    assert blocked.status_code == 403  # another session's token
    blocked = admin.post("/firmware/releases/remove", data={
        "csrf": token(admin.get("/firmware").text), "vendor": "aastra", "version": NEW})  # fmt: skip
    assert blocked.status_code == 409 and "unpin it first" in blocked.text

    place = {"csrf": token(page), "place": "model", "name": "6757i"}
    promoted = otto.post("/firmware/pins/promote", data=place)
    assert promoted.status_code == 200
    assert f"model 6757i: {NEW} promoted to every phone" in promoted.text
    report = {row.mac: row for row in firmware.firmware_report(store, local_admin())}
    assert report["00085D000001"].pin == "model"
    twice = otto.post("/firmware/pins/promote", data=place)
    assert twice.status_code == 409 and "no staged pin to promote there" in twice.text
    assert otto.post("/firmware/pins/remove", data=place).status_code == 200
    assert pins(store) == []
    removed = admin.post("/firmware/releases/remove", data={
        "csrf": token(admin.get("/firmware").text), "vendor": "aastra", "version": NEW})  # fmt: skip
    assert removed.status_code == 200 and firmware.list_releases(store, local_admin()) == []


def test_pin_problems_are_shown_beside_their_fields(ui):
    otto = operator(ui)
    page = otto.get("/firmware").text
    bad = otto.post("/firmware/pins", data={"csrf": token(page), "version": "not a version!",
                                            "place": "model", "name": "6757i",
                                            "first_wave": "250%"})  # fmt: skip
    assert bad.status_code == 422
    check_page(bad)
    assert re.search(r'id="version-error">[^<]*not a firmware version', bad.text)
    assert re.search(r'id="first_wave-error">[^<]*first wave is 1% to 99%', bad.text)
    missing = otto.post("/firmware/pins", data={"csrf": token(page), "version": NEW,
                                                "place": "site", "name": "nowhere"})  # fmt: skip
    assert missing.status_code == 404 and re.search(r'id="name-error">no site', missing.text)
    unreleased = otto.post("/firmware/pins", data={"csrf": token(page), "version": NEW,
                                                   "place": "model", "name": "6757i"})  # fmt: skip
    assert unreleased.status_code == 422 and "the repository has no release" in unreleased.text
    assert pins(ui.state.store) == []


def test_an_operator_may_not_upload_and_a_viewer_sees_no_firmware_control(ui):
    from plugtone.services import firmware

    store = ui.state.store
    otto = operator(ui)
    refused = add_release(otto)
    assert refused.status_code == 403 and firmware.list_releases(store, local_admin()) == []
    add_release(sign_in(ui))
    vera = viewer(ui)
    page = vera.get("/firmware")
    check_page(page)
    assert page.status_code == 200 and f"<strong>{NEW}</strong>" in page.text
    assert '<form method="post" action="/firmware' not in page.text
    forged = vera.post("/firmware/pins", data={"csrf": token(page.text), "version": NEW,
                                               "place": "model", "name": "6757i"})  # fmt: skip
    assert forged.status_code == 403 and pins(store) == []
    forged = vera.post("/firmware/releases/remove", data={
        "csrf": token(page.text), "vendor": "aastra", "version": NEW})  # fmt: skip
    assert forged.status_code == 403 and len(firmware.list_releases(store, local_admin())) == 1


# -- unassigned devices, users and tokens, the audit log

STRANGER = "00085D0000EE"


def seen(store, mac: str = STRANGER, model: str = "6757i") -> None:
    from datetime import UTC, datetime

    from plugtone.inventory.models import DeviceState

    now = datetime.now(UTC)
    with store.sessions() as session:
        session.add(DeviceState(mac=mac, vendor="aastra", model=model, first_seen=now,
                                last_seen=now, requests=1, last_address="10.0.0.9"))  # fmt: skip
        session.commit()


def test_an_unassigned_device_is_claimed_and_a_bad_claim_says_why(ui):
    store = ui.state.store
    seen(store)
    otto = operator(ui)
    page = otto.get("/unassigned")
    check_page(page)
    assert (
        "00:08:5D:00:00:EE" in page.text and 'action="/unassigned/00:08:5D:00:00:EE"' in page.text
    )
    bad = otto.post("/unassigned/00:08:5D:00:00:EE", data={
        "csrf": token(page.text), "site": "hq", "model": "6799x", "lines": "3005"})  # fmt: skip
    assert bad.status_code == 422
    check_page(bad)
    assert re.search(r'id="model-00085d0000ee-error">[^<]*6799x', bad.text)
    taken = otto.post("/unassigned/00:08:5D:00:00:EE", data={
        "csrf": token(page.text), "site": "hq", "lines": "3003"})  # fmt: skip
    assert taken.status_code == 422 and "3003" in taken.text  # 3003 is 00085D000001's line
    done = otto.post("/unassigned/00:08:5D:00:00:EE", data={
        "csrf": token(page.text), "site": "hq", "lines": "", "description": "Lobby"})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/phones/00:08:5D:00:00:EE"
    listed = devices.list_phones(store, local_admin(), q=STRANGER).items
    assert [(p.mac, p.model, p.site, p.description) for p in listed] == [
        (STRANGER, "6757i", "hq", "Lobby")]  # fmt: skip
    assert "00:08:5D:00:00:EE" not in otto.get("/unassigned").text


def test_a_viewer_reads_unassigned_devices_but_a_forged_claim_is_403(ui):
    store = ui.state.store
    seen(store)
    vera = viewer(ui)
    page = vera.get("/unassigned").text
    assert "00:08:5D:00:00:EE" in page and '<form method="post" action="/unassigned' not in page
    forged = vera.post("/unassigned/00:08:5D:00:00:EE", data={"csrf": token(page), "site": "hq"})
    assert forged.status_code == 403
    assert devices.list_phones(store, local_admin(), q=STRANGER).items == ()
    assert vera.get("/users").status_code == 403 and vera.get("/audit").status_code == 403
    assert operator(ui).get("/users").status_code == 403
    assert 'href="/users"' not in page and 'href="/audit"' not in page


def test_users_are_added_given_roles_and_removed_and_tokens_shown_once(ui):
    from plugtone.services import accounts

    store = ui.state.store
    admin = sign_in(ui)
    page = admin.get("/users")
    check_page(page)
    short = admin.post("/users", data={"csrf": token(page.text), "name": "nina",
                                       "role": "operator", "password": "short"})  # fmt: skip
    assert short.status_code == 422 and re.search(r'id="password-error">[^<]*10 to', short.text)
    added = admin.post("/users", data={"csrf": token(page.text), "name": "nina",
                                       "role": "operator", "password": "nina password 1"})  # fmt: skip
    assert added.status_code == 200
    twice = admin.post("/users", data={"csrf": token(page.text), "name": "nina",
                                       "role": "viewer", "password": "nina password 1"})  # fmt: skip
    assert twice.status_code == 409 and re.search(
        r'id="name-error">[^<]*already exists', twice.text
    )
    assert admin.post("/users/nina/role", data={"csrf": token(page.text), "role": "admin"}
                      ).status_code == 200  # fmt: skip
    roles = {user.name: user.role for user in accounts.list_users(store, local_admin())}
    assert roles["nina"] == "admin"

    made = admin.post("/tokens", data={"csrf": token(page.text), "user": "nina", "expires": "30"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    text = re.search(r'<code id="new-token">(pt_[^<]+)</code>', made.text).group(1)
    assert accounts.authenticate_token(store, text).name == "nina"
    listing = admin.get("/users").text
    assert text not in listing and text[:9] in listing  # shown once, then only its prefix
    (view,) = [t for t in accounts.list_tokens(store, local_admin()) if t.user == "nina"]
    revoked = admin.post(f"/tokens/{view.id}/revoke", data={"csrf": token(page.text)})
    assert revoked.status_code == 200 and "is revoked" in revoked.text
    assert [t.state for t in accounts.list_tokens(store, local_admin()) if t.user == "nina"] == [
        "revoked"]  # fmt: skip

    assert admin.post("/users/nina/remove", data={"csrf": token(page.text)}).status_code == 200
    last = admin.post("/users/admin/role", data={"csrf": token(page.text), "role": "viewer"})
    assert last.status_code == 409 and "last admin" in last.text
    names = {user.name for user in accounts.list_users(store, local_admin())}
    assert "nina" not in names and "admin" in names

    forged = operator(ui).post("/users", data={"csrf": token(operator(ui).get("/").text),
                                               "name": "mallory", "role": "admin",
                                               "password": "mallory password"})  # fmt: skip
    assert forged.status_code == 403
    assert "mallory" not in {user.name for user in accounts.list_users(store, local_admin())}


def test_the_audit_log_is_newest_first_paged_and_filtered(ui):
    from plugtone.services import accounts

    store = ui.state.store
    made = [accounts.create_token(store, local_admin(), "vera")[1] for _ in range(55)]
    newest = [f"{view.id} ({view.prefix}...)" for view in reversed(made)]
    admin = sign_in(ui)
    first = admin.get("/audit")
    check_page(first)
    keys = re.findall(r'<td class="path">([^<]*)</td>', first.text)
    assert keys == newest[:50]
    older = re.search(r'href="(/audit\?after=\d+)" rel="next"', first.text).group(1)
    rest = re.findall(r'<td class="path">([^<]*)</td>', admin.get(older).text)
    assert rest[:5] == newest[50:55] and set(keys).isdisjoint(rest)
    none = admin.get("/audit", params={"kind": "token", "actor": "otto"}).text
    assert re.findall(r'<td class="path">', none) == []
    users = admin.get("/audit", params={"kind": "user"}).text
    assert "otto" in users and "vera" in users and "(pt_" not in users

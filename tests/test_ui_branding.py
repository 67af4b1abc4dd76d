"""The branding pages in process: the sets, who uses each, and the edits.

Driven over ASGI against a real store holding the example inventory (the browser end to
end is in ``test_ui``). What an admin checks: the list names each set's files and users;
a set is created, given files (a file of the same name replaced in place) and a logo,
loses them, and is deleted, each change read back as the API reads the entry; a bad
name, a file that is not an image for the logo, a set still in use are refused with the
reason beside the field and nothing changed; viewers and operators (branding is an admin
change in the service layer) see no edit control and a forged post is 403.
"""

from __future__ import annotations

import hashlib
import io
import re

import pytest
from PIL import Image

from plugtone.services import objects
from plugtone.services.actors import local_admin
from tests.test_ui_pages import VIEWER_PASSWORD, check_page, sign_in, token
from tests.test_ui_phone_detail import OPERATOR_PASSWORD, app, template  # noqa: F401 (fixtures)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def entry(app, name: str) -> dict:  # noqa: F811
    return objects.get_entry(app.state.store, local_admin(), "branding", name)


def files_shown(html: str) -> dict[str, str]:
    """File name -> its size as the set's table shows it."""
    return dict(re.findall(r'<tr data-file="([^"]+)">.*?<td class="num">(\d+)</td>', html, re.S))


def error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_an_admin_creates_a_set_gives_it_files_and_a_logo_and_deletes_it(app):  # noqa: F811
    browser = sign_in(app)
    listed = browser.get("/branding")
    check_page(listed)
    row = re.search(r'<tr data-set="lab-look">(.*?)</tr>', listed.text, re.S).group(1)
    assert "image/png" in row and 'href="/sites/lab"' in row

    created = browser.post("/branding", data={"csrf": token(listed.text), "name": "acme"})
    assert created.status_code == 303 and created.headers["location"] == "/branding/acme"
    page = browser.get("/branding/acme")
    check_page(page)
    assert "No file in this set." in page.text and "No site or phone has this set." in page.text
    csrf = token(page.text)

    stored = browser.post("/branding/acme/files", data={"csrf": csrf},
                          files={"file": ("ring.raw", b"\x00\x01ring", "audio/basic")})  # fmt: skip
    assert stored.status_code == 200 and "ring.raw is stored" in stored.text
    browser.post("/branding/acme/files", data={"csrf": csrf, "save_as": "wall.jpg"},
                 files={"file": ("photo.bin", b"wallpaper", "application/octet-stream")})  # fmt: skip
    replaced = browser.post("/branding/acme/files", data={"csrf": csrf},
                            files={"file": ("ring.raw", b"a longer ring", "audio/basic")})  # fmt: skip
    check_page(replaced)
    assert files_shown(replaced.text) == {"ring.raw": "13", "wall.jpg": "9"}
    assert entry(app, "acme")["files"] == [
        {"name": "ring.raw", "sha256": hashlib.sha256(b"a longer ring").hexdigest()},
        {"name": "wall.jpg", "sha256": hashlib.sha256(b"wallpaper").hexdigest()},
    ]  # replaced in its place, first

    logo = browser.post("/branding/acme/logo", data={"csrf": csrf},
                        files={"logo": ("logo.png", png(), "image/png")})  # fmt: skip
    assert "image/png" in re.search(r'id="logo-facts">(.*?)</p>', logo.text, re.S).group(1)
    assert entry(app, "acme")["logo"] == f"sha256:{hashlib.sha256(png()).hexdigest()}"

    removed = browser.post("/branding/acme/files/remove",
                           data={"csrf": csrf, "file_name": "wall.jpg"})  # fmt: skip
    assert files_shown(removed.text) == {"ring.raw": "13"}
    browser.post("/branding/acme/logo/remove", data={"csrf": csrf})
    assert "logo" not in entry(app, "acme")
    gone = browser.post("/branding/acme/delete", data={"csrf": csrf})
    assert gone.status_code == 200 and "Branding set acme is deleted." in gone.text
    assert 'data-set="acme"' not in gone.text


def test_a_refused_change_says_why_beside_the_field_and_changes_nothing(app):  # noqa: F811
    browser = sign_in(app)
    page = browser.get("/branding/lab-look")
    csrf = token(page.text)
    before = entry(app, "lab-look")

    bad_name = browser.post("/branding/lab-look/files", data={"csrf": csrf, "save_as": "../x"},
                            files={"file": ("x.txt", b"x", "text/plain")})  # fmt: skip
    assert bad_name.status_code == 422
    check_page(bad_name)
    assert "not a usable file name" in error(bad_name.text, "save_as")
    assert 'value="../x"' in bad_name.text  # what was typed is kept
    not_image = browser.post("/branding/lab-look/logo", data={"csrf": csrf},
                             files={"logo": ("logo.png", b"not an image", "image/png")})  # fmt: skip
    assert not_image.status_code == 422 and "not a PNG, JPEG" in error(not_image.text, "logo")
    in_use = browser.post("/branding/lab-look/delete", data={"csrf": csrf})
    assert in_use.status_code == 409 and "site lab" in in_use.text
    taken = browser.post("/branding", data={"csrf": csrf, "name": "lab-look"})
    assert taken.status_code == 422 and "exists already" in error(taken.text, "set-name")
    spaced = browser.post("/branding", data={"csrf": csrf, "name": "two words"})
    assert spaced.status_code == 422 and "letters, digits" in error(spaced.text, "set-name")
    assert entry(app, "lab-look") == before


def test_the_set_names_the_phones_given_it(app):  # noqa: F811
    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "phone",
                        "0004F2000607", {"branding": "lab-look"})  # fmt: skip
    page = sign_in(app).get("/branding/lab-look")
    users = re.search(r'<ul id="set-users">(.*?)</ul>', page.text, re.S).group(1)
    assert 'href="/sites/lab"' in users and 'href="/phones/00:04:F2:00:06:07"' in users
    listed = sign_in(app).get("/branding").text
    assert "1 phone(s) of their own" in listed


@pytest.mark.parametrize("user, password", [("vera", VIEWER_PASSWORD),
                                            ("otto", OPERATOR_PASSWORD)])  # fmt: skip
def test_viewers_and_operators_see_no_edit_control_and_get_403(app, user, password):  # noqa: F811
    browser = sign_in(app, user, password)
    for path in ("/branding", "/branding/lab-look"):
        shown = browser.get(path)
        check_page(shown)
        assert 'action="/branding' not in shown.text and 'type="file"' not in shown.text
    csrf = token(browser.get("/branding").text)  # the sign-out form's token
    forged = browser.post("/branding/lab-look/files", data={"csrf": csrf},
                          files={"file": ("x.txt", b"x", "text/plain")})  # fmt: skip
    assert forged.status_code == 403
    assert browser.post("/branding/lab-look/delete", data={"csrf": csrf}).status_code == 403
    assert browser.post("/branding", data={"csrf": csrf, "name": "mine"}).status_code == 403
    assert "files" not in entry(app, "lab-look")

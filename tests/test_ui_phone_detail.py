"""The phone page in process: keys laid out as on the model, the settings with the source
of each value, and the phone's uploads.

Driven over ASGI against a real store holding the example inventory (the browser end to
end is in ``test_ui``). What an admin checks: the key grid has the model's key families
with the right number of positions, each key where the phone's files put it and the rest
empty; each setting shows its value and whether it comes from the built-in default, the
site, the phone or a raw key, and follows an edit of the site; secrets never reach the
page; uploads are listed, shown masked and downloadable by operators only.
"""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from plugtone.inventory.store import Store, migrate, sqlite_url
from plugtone.provisioning.uploads import UploadStore
from plugtone.services import objects
from plugtone.services.accounts import add_user, ensure_first_admin
from plugtone.services.actors import Role, local_admin
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.vendors.base import KeyView, LineView, PhoneView, SiteView, UploadRef
from plugtone.web.app import create_admin_app
from tests.conftest import EXAMPLE, apply_text
from tests.test_ui_pages import ADMIN_PASSWORD, VIEWER_PASSWORD, check_page, sign_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

OPERATOR_PASSWORD = "operator password 1"
AASTRA = "00:08:5D:00:00:01"  # 6757i at site hq, the site's keys, a raw key of its own
POLYCOM = "00:04:F2:00:06:07"  # IP650 at site maxcs7
CISCO = "00:11:5C:93:AF:D1"  # 7960 at site lab (branding lab-look)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The example inventory and an admin, a viewer and an operator, made once per module
    (migrating, applying and hashing three passwords are most of a test's time); each
    test gets its own copy of the folder (database and secret key)."""
    folder = tmp_path_factory.mktemp("example")
    store = Store(sqlite_url(folder), data_dir=folder)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    ensure_first_admin(store, ADMIN_PASSWORD)
    add_user(store, local_admin(), "vera", Role.VIEWER, VIEWER_PASSWORD)
    add_user(store, local_admin(), "otto", Role.OPERATOR, OPERATOR_PASSWORD)
    store.dispose()
    return folder


@pytest.fixture
def app(template, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(template, data)
    store = Store(sqlite_url(data), data_dir=data)
    yield create_admin_app(store, default_registry(), load_settings(str(data), store.url))
    store.dispose()


def bare(mac: str) -> str:
    return mac.replace(":", "")


def groups(html: str) -> dict[str, list[str]]:
    """Each key grid by family: its positions' text, in order."""
    found = {}
    for family, body in re.findall(r'<ol class="keygrid[^"]*" start="\d+" data-family="([^"]+)">'
                                   r"(.*?)</ol>", html, re.S):  # fmt: skip
        cells = [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
                 for cell in re.findall(r"<li[^>]*>(.*?)</li>", body, re.S)]  # fmt: skip
        found.setdefault(family, []).extend(cells)
    return found


def setting(html: str, name: str) -> tuple[str, str, str]:
    """``(value, source, where)`` of the settings row ``name``."""
    row = re.search(rf'<tr class="[^"]*" data-setting="{re.escape(name)}">(.*?)</tr>', html, re.S)
    assert row, f"no setting row {name}"
    cells = [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)]  # fmt: skip
    return cells[1], cells[2], cells[3]


def test_the_keys_are_laid_out_as_on_each_model_with_empty_positions_empty(app):
    browser = sign_in(app)
    aastra = browser.get(f"/phones/{AASTRA}")
    check_page(aastra)
    laid = groups(aastra.text)
    assert set(laid) == {"topsoftkey", "softkey"}  # a 6757i; no module without a key on one
    top = laid["topsoftkey"]
    assert len(top) == 10 and len(laid["softkey"]) == 20
    assert top[0] == "1 callers" and top[1] == "2 voicemail VoiceMail ##"
    assert top[2] == "3 empty" and top[3] == "4 directory"
    assert top[4:] == [f"{slot} empty" for slot in range(5, 11)]
    assert 'class="keygrid cols-2 down rows-5"' in aastra.text  # two columns of five

    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "phone", bare(AASTRA),
                        {"keys": [{"type": "blf", "value": "3004", "label": "Mary"},
                                  {"type": "speeddial", "value": "9", "label": "Out",
                                   "family": "softkey", "slot": 3}]})  # fmt: skip
    own = groups(browser.get(f"/phones/{AASTRA}").text)
    assert own["topsoftkey"][:2] == ["1 blf Mary 3004", "2 empty"]
    assert own["softkey"][:4] == ["1 empty", "2 empty", "3 speeddial Out 9", "4 empty"]

    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "phone", bare(AASTRA),
                        {"keys": [{"type": "speeddial", "value": "7", "label": "Lab",
                                   "family": "expmod1", "slot": 21}]})  # fmt: skip
    moduled = browser.get(f"/phones/{AASTRA}").text
    module = groups(moduled)["expmod1 key"]  # drawn once a key is pinned to it
    assert len(module) == 60 and module[20] == "21 speeddial Lab 7"  # page 2's first key
    assert "Page 3" in moduled and "Expansion module 1" in moduled

    polycom = browser.get(f"/phones/{POLYCOM}")
    check_page(polycom)
    assert groups(polycom.text) == {"linekey": ["1 line 201 201 line 1"] + [
        f"{slot} empty" for slot in range(2, 7)]}  # fmt: skip
    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "site", "maxcs7",
                        {"keys": [{"type": "speeddial", "value": "9", "label": "Out"},
                                  {"type": "park", "value": "700"}]})  # fmt: skip
    defaults = browser.get(f"/phones/{POLYCOM}").text
    assert groups(defaults)["linekey"][:3] == ["1 line 201 201 line 1", "2 speeddial Out 9",
                                               "3 empty"]  # fmt: skip
    left_out = re.search(r'<div class="findings" id="key-findings">(.*?)</div>', defaults, re.S)
    assert left_out and "key 2 (park 700)" in left_out.group(1)
    assert "a default key of site maxcs7: the phone leaves it out" in unescape(left_out.group(1))
    cisco = groups(browser.get(f"/phones/{CISCO}").text)
    assert cisco == {"line": ["1 line 208 208 line 1"] + [f"{n} empty" for n in range(2, 7)]}


def test_each_setting_shows_its_value_and_source_and_follows_the_site(app):
    browser = sign_in(app)
    page = browser.get(f"/phones/{POLYCOM}")
    check_page(page)
    assert setting(page.text, "sip_server") == ("10.100.2.127", "site", "site maxcs7")
    assert setting(page.text, "dtmf_method") == ("rfc2833", "default", "built-in default")
    assert setting(page.text, "registration_period")[:2] == ("90", "site")
    assert setting(page.text, "lines")[1] == "phone"
    assert setting(page.text, "description")[1] == "default"
    assert "1212" not in page.text and "********" in setting(page.text, "lines")[0]

    store, registry = app.state.store, app.state.registry
    objects.patch_entry(store, local_admin(), registry, "site", "maxcs7",
                        {"dtmf_method": "info", "registration_period": 600,
                         "firmware": {"IP650": "none"}})  # fmt: skip
    objects.patch_entry(store, local_admin(), registry, "phone", bare(POLYCOM),
                        {"description": "Front desk", "branding": "lab-look",
                         "vendor_settings": {"polycom": {"voIpProt.SIP.local.port": "5062"}}})  # fmt: skip
    page = browser.get(f"/phones/{POLYCOM}").text
    assert setting(page, "dtmf_method") == ("info", "site", "site maxcs7")
    assert setting(page, "registration_period")[:2] == ("600", "site")
    assert setting(page, "firmware") == ("none", "site", "site pin for IP650")
    assert setting(page, "description") == ("Front desk", "phone", "")
    assert setting(page, "branding") == ("lab-look", "phone", "the phone's own")
    port = setting(page, "sip_port")
    assert port[1] == "raw key" and "voIpProt.SIP.local.port (phone)" in port[2]
    raw = setting(page, "voIpProt.SIP.local.port")
    assert raw[:2] == ("5062", "phone") and "overrides sip_port" in raw[2]


def test_a_raw_key_at_the_phone_names_the_neutral_value_it_replaces(app):
    page = sign_in(app).get(f"/phones/{AASTRA}").text
    value, source, where = setting(page, "timezone")
    assert (value, source) == ("America/Los_Angeles", "raw key")
    assert "time zone name (phone)" in where
    assert setting(page, "time zone name") == ("US-Pacific", "phone",
                                               "set at phone level; overrides timezone")  # fmt: skip
    assert setting(page, "sip mode")[:2] == ("0", "site")
    assert setting(page, "keys")[1:] == ("site", "4 keys of site hq")
    assert "22222" not in page  # the line's SIP password

    objects.patch_entry(app.state.store, local_admin(), app.state.registry, "phone", bare(AASTRA),
                        {"model": "6757i-CT", "vendor_settings": {"aastra": {
                            "time zone name": "US-Pacific", "sip mode": "1"}}})  # fmt: skip
    page = sign_in(app).get(f"/phones/{AASTRA}").text
    assert setting(page, "handset list version") == ("7", "model", "set at model level")
    assert setting(page, "sip mode") == (
        "1",
        "phone",
        "set at phone level, replacing the site value",
    )


def test_uploads_are_listed_shown_masked_and_downloaded_by_operators_only(app):
    uploads = UploadStore(app.state.settings.data_dir / "uploads")
    body = b"boot ok\nsip line1 password: 22222\n"
    uploads.save(UploadRef("aastra", "00085D000001", "00085D000001-boot.log"), body)
    admin = sign_in(app)
    page = admin.get(f"/phones/{AASTRA}")
    check_page(page)
    listed = re.search(r'<table id="uploads">(.*?)</table>', page.text, re.S).group(1)
    assert "00085D000001-boot.log" in listed and f">{len(body)}<" in listed
    assert "UTC" in listed and "/download" in listed
    shown = admin.get(f"/phones/{AASTRA}/uploads/00085D000001-boot.log")
    check_page(shown)
    assert "boot ok" in shown.text and "22222" not in shown.text and 'id="reveal"' in shown.text

    operator = sign_in(app, "otto", OPERATOR_PASSWORD)
    saved = operator.get(f"/phones/{AASTRA}/uploads/00085D000001-boot.log/download")
    assert saved.status_code == 200
    assert saved.headers["content-disposition"].startswith("attachment;")
    assert saved.headers["content-type"] == "application/octet-stream"
    assert saved.content == b"boot ok\nsip line1 password: ********\n"

    viewer = sign_in(app, "vera", VIEWER_PASSWORD)
    seen = viewer.get(f"/phones/{AASTRA}")
    assert "00085D000001-boot.log" in seen.text and "/download" not in seen.text
    refused = viewer.get(f"/phones/{AASTRA}/uploads/00085D000001-boot.log/download")
    assert refused.status_code == 403 and "22222" not in refused.text
    assert "This phone has uploaded nothing." in viewer.get(f"/phones/{POLYCOM}").text


def test_an_expansion_module_is_drawn_in_its_pages_when_a_key_is_pinned_to_it():
    """The plug-in's layout (the inventory's ``family`` names cannot hold a space yet, so
    this is the view the page draws, built directly)."""
    site = SiteView(name="hq", sip_server="pbx")
    line = LineView(1, "201", None, "201", None)
    pinned = KeyView("speeddial", "9", "Out", family="expmod1 key", slot=21)
    view = PhoneView("00085D000009", "6869i", "aastra", site, (line,), (pinned,))
    layout = default_registry().get("aastra").key_layout(view)
    module = next(group for group in layout.groups if group.family == "expmod1 key")
    assert (len(module.faces), module.per_page, module.columns) == (84, 28, 2)
    first, faces = module.pages()[0]
    assert first == 1 and faces[20].label == "Out" and faces[20].value == "9"
    assert [group.family for group in layout.groups] == ["topsoftkey", "softkey", "expmod1 key"]

"""The web UI in process: sessions, CSRF, throttling, roles, headers and valid pages.

The admin app is driven over ASGI (no server, no browser) against a real store with
the example inventory; the browser end to end is ``test_ui.py``. Each check is one an
admin relies on: no page without signing in, no form accepted without its token, a
password change ends old sessions, a viewer changes nothing, every page carries the
strict Content-Security-Policy and labels every field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import insert
from starlette.testclient import TestClient

from plugtone.inventory.models import ProvisioningEvent
from plugtone.inventory.store import Store, migrate
from plugtone.services.accounts import add_user, ensure_first_admin
from plugtone.services.activity import events_since, hourly_activity
from plugtone.services.actors import Role, local_admin
from plugtone.settings import load_settings
from plugtone.web.app import create_admin_app
from plugtone.web.ui.sessions import COOKIE
from tests.conftest import EXAMPLE, apply_text

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ADMIN_PASSWORD = "admin password 1"
VIEWER_PASSWORD = "viewer password 1"
MAC = "00:08:5D:00:00:01"


@pytest.fixture
def sqlite_store(sqlite_url, tmp_path):
    """The pages' tests run on SQLite only: the SQL of their own (``services.activity``)
    is tested on both stores below."""
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    yield store
    store.dispose()


@pytest.fixture
def app(sqlite_store, tmp_path):
    store = sqlite_store
    apply_text(store, EXAMPLE.read_text())
    ensure_first_admin(store, ADMIN_PASSWORD)
    add_user(store, local_admin(), "vera", Role.VIEWER, VIEWER_PASSWORD)
    return create_admin_app(store, _registry(), load_settings(str(tmp_path), store.url))


def _registry():
    from plugtone.vendors import default_registry

    return default_registry()


def client(app) -> TestClient:
    return TestClient(app, base_url="http://admin.test", follow_redirects=False)


def token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no CSRF field in the form"
    return found.group(1)


def sign_in(app, user="admin", password=ADMIN_PASSWORD) -> TestClient:
    browser = client(app)
    form = browser.get("/login")
    answer = browser.post("/login", data={"user": user, "password": password,
                                          "csrf": token(form.text), "next": "/"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/"
    return browser


class Page(HTMLParser):
    """Every input's id and type, every label's ``for``, and unclosed tags."""

    VOID = frozenset({"meta", "link", "input", "br", "img", "hr", "line", "rect", "path", "source"})

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict] = []
        self.labels: set[str] = set()
        self.open: list[str] = []
        self.inline_script = False
        self.style_attributes = 0

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "style" in found:
            self.style_attributes += 1
        if tag in ("input", "select", "textarea"):
            self.inputs.append(found | {"tag": tag})
        if tag == "label" and found.get("for"):
            self.labels.add(found["for"])
        if tag == "script" and "src" not in found:
            self.inline_script = True
        if tag == "style":
            self.inline_script = True
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.open.pop()

    def handle_endtag(self, tag):
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()


def check_page(answer) -> Page:
    """The UI's promises for one HTML page: strict CSP, nosniff, no referrer, balanced
    tags, no inline script or style, a label for every visible field."""
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.text.startswith("<!DOCTYPE html>")
    parsed = Page()
    parsed.feed(answer.text)
    parsed.close()
    assert parsed.open == [], f"unclosed: {parsed.open}"
    assert not parsed.inline_script and parsed.style_attributes == 0
    for field in parsed.inputs:
        if field.get("type") == "hidden":
            continue
        assert field.get("id") in parsed.labels, f"no label for {field}"
    return parsed


def test_pages_need_a_session_and_are_strict_valid_and_labelled(app):
    anonymous = client(app)
    answer = anonymous.get("/phones?site=hq")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/phones%3Fsite%3Dhq"
    check_page(anonymous.get("/login"))
    browser = sign_in(app)
    for path in ("/", "/phones", "/phones?q=0008.5d00", f"/phones/{MAC}", "/password",
                 f"/phones/{MAC}/files/00085D000001.cfg", "/phones?state=never_seen",
                 "/no-such-page"):  # fmt: skip
        answer = browser.get(path)
        assert answer.status_code == (404 if path == "/no-such-page" else 200), path
        check_page(answer)
    assert browser.get("/static/ui.js").headers["content-type"].startswith("text/javascript")
    assert browser.get("/api/no-such").headers["content-type"] == "application/problem+json"


def test_search_finds_a_phone_by_mac_in_any_notation_extension_or_name(app):
    browser = sign_in(app)
    for query in ("00-08-5d-00-00-01", "0008.5D00.0001", "3003"):
        listed = browser.get("/phones", params={"q": query}).text
        assert f'href="/phones/{MAC}"' in listed, query
        assert "00:08:5D:00:00:02" not in listed or query == "3003"
    by_vendor = browser.get("/phones", params={"model": "CP-7960G"}).text
    assert "00:11:5C:93:AF:D1" in by_vendor and MAC not in by_vendor
    never = browser.get("/phones", params={"state": "never_seen", "site": "hq"}).text
    assert MAC in never and "Never seen" in never


def test_a_form_without_its_token_or_from_elsewhere_is_refused(app):
    browser = sign_in(app)
    page = browser.get(f"/phones/{MAC}").text
    bare = browser.post(f"/phones/{MAC}", data={"description": "Hijacked"})
    assert bare.status_code == 403 and "security token" in bare.text
    wrong = browser.post(f"/phones/{MAC}", data={"description": "Hijacked", "csrf": "0" * 64})
    assert wrong.status_code == 403
    elsewhere = browser.post(f"/phones/{MAC}", data={"description": "x", "csrf": token(page)},
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert elsewhere.status_code == 403
    assert "Hijacked" not in browser.get(f"/phones/{MAC}").text
    done = browser.post(f"/phones/{MAC}", data={"description": "Reception", "csrf": token(page)})
    assert done.status_code == 303
    assert "Reception" in browser.get(f"/phones/{MAC}").text
    login = client(app)
    login.get("/login")
    refused = login.post("/login", data={"user": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 403 and COOKIE not in refused.cookies


def test_a_viewer_sees_no_edit_control_and_a_forged_post_is_403(app):
    viewer = sign_in(app, "vera", VIEWER_PASSWORD)
    page = viewer.get(f"/phones/{MAC}").text
    assert 'action="/phones/' not in page and "Save" not in page
    forged = viewer.post(f"/phones/{MAC}", data={"description": "owned", "csrf": token(page)})
    assert forged.status_code == 403
    assert "owned" not in viewer.get(f"/phones/{MAC}").text
    masked = viewer.get(f"/phones/{MAC}/files/00085D000001.cfg").text
    assert "22222" not in masked and "********" in masked and "Reveal" not in masked
    reveal = viewer.post(f"/phones/{MAC}/files/00085D000001.cfg", data={"csrf": token(page)})
    assert reveal.status_code == 403 and "22222" not in reveal.text


def test_wrong_logins_are_throttled_per_account_with_one_message(app):
    browser = client(app)
    for user in ("admin", "nobody"):
        form = browser.get("/login")
        answer = browser.post("/login", data={"user": user, "password": "wrong password",
                                              "csrf": token(form.text)})  # fmt: skip
        assert answer.status_code == 401
        assert "Wrong user name or password." in answer.text
    for _ in range(4):
        form = browser.get("/login")
        browser.post(
            "/login", data={"user": "admin", "password": "wrong", "csrf": token(form.text)}
        )
    form = browser.get("/login")
    right = browser.post("/login", data={"user": "admin", "password": ADMIN_PASSWORD,
                                         "csrf": token(form.text)})  # fmt: skip
    assert right.status_code == 429 and "Too many failed logins" in right.text
    assert COOKIE not in right.cookies
    sign_in(app, "vera", VIEWER_PASSWORD)  # another account is not locked out with it


def test_a_password_change_ends_other_sessions_and_a_forged_cookie_is_nothing(app):
    first, second = sign_in(app), sign_in(app)
    form = first.get("/password").text
    mismatch = first.post("/password", data={"current": ADMIN_PASSWORD, "new": "new password 12",
                                             "again": "other", "csrf": token(form)})  # fmt: skip
    assert mismatch.status_code == 422 and "differ" in mismatch.text
    changed = first.post("/password", data={"current": ADMIN_PASSWORD, "new": "new password 12",
                                            "again": "new password 12", "csrf": token(form)})  # fmt: skip
    assert changed.status_code == 200 and "Your password is changed" in changed.text
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 303  # the old password's session ended
    cookie = first.cookies[COOKIE]
    payload, signature = cookie.split(".")
    forged = client(app)
    forged.cookies.set(COOKIE, payload.replace("a", "b", 1) + "." + signature)
    assert forged.get("/").status_code == 303
    headers = sign_in(app, "admin", "new password 12").post(
        "/logout", data={"csrf": token(first.get("/").text)}
    )
    assert headers.status_code == 403  # another session's token is not this one's


def test_the_cookie_is_httponly_strict_and_logout_ends_it(app):
    browser = client(app)
    form = browser.get("/login")
    answer = browser.post("/login", data={"user": "admin", "password": ADMIN_PASSWORD,
                                          "csrf": token(form.text)})  # fmt: skip
    cookie = next(value for name, value in answer.headers.multi_items()
                  if name == "set-cookie" and value.startswith(COOKIE))  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=43200" in cookie
    page = browser.get("/").text
    out = browser.post("/logout", data={"csrf": token(page)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert browser.get("/").status_code == 303


def test_hourly_activity_counts_requests_and_failures_and_new_events_follow(store):
    now = datetime.now(UTC)
    rows = [
        {"time": now - timedelta(minutes=1), "transport": "http", "path": "a.cfg",
         "status": "ok", "bytes": 10},
        {"time": now - timedelta(minutes=2), "transport": "tftp", "path": "b.cfg",
         "status": "not_found", "bytes": 0},
        {"time": now - timedelta(hours=3), "transport": "http", "path": "c.cfg",
         "status": "ok", "bytes": 5, "mac": "00085D000001"},
        {"time": now - timedelta(hours=30), "transport": "http", "path": "old.cfg",
         "status": "bad_path", "bytes": 0},
    ]  # fmt: skip
    with store.sessions() as session:
        session.execute(insert(ProvisioningEvent), rows)
        session.commit()
    hours = hourly_activity(store, local_admin(), now)
    assert len(hours) == 24 and hours[-1].start <= now < hours[-1].start + timedelta(hours=1)
    assert sum(hour.requests for hour in hours) == 3  # the one of 30 hours ago is outside
    assert sum(hour.failures for hour in hours) == 1
    three = next(hour for hour in hours if hour.start <= now - timedelta(hours=3) < hour.start
                 + timedelta(hours=1))  # fmt: skip
    assert (three.requests, three.failures) == (1, 0)
    everything = events_since(store, local_admin(), 0)
    assert [event.path for event in everything] == ["a.cfg", "b.cfg", "c.cfg", "old.cfg"]
    later = events_since(store, local_admin(), everything[1].id, mac="00:08:5d:00:00:01")
    assert [event.path for event in later] == ["c.cfg"]

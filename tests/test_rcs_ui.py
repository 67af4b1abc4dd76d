"""The redirection service's pages in process (the admin app, Starlette's test client):
Super User and User pages, bad input beside its field, and forgotten passwords against a
real local SMTP server (aiosmtpd): the mail arrives, its link works once and expires,
and an unknown address looks the same from outside."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from sqlalchemy import update
from starlette.testclient import TestClient

from plugtone.inventory.store import Store, migrate
from plugtone.redirect import passwords
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.models import RcsResetToken
from plugtone.services.accounts import ensure_first_admin
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import free_port

ADMIN = RcsActor("admin", "admin", None, None, "cli")
PASSWORD = "super secret one"
ADMIN_PASSWORD = "plugtone admin 1"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"

    def wait(self, count: int, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.messages) == count, self.messages


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("rcs-ui")
    store = Store(f"sqlite:///{path}/rcs.db", data_dir=path)
    migrate(store.engine)
    ensure_first_admin(store, ADMIN_PASSWORD)
    store.dispose()
    return path / "rcs.db"


@pytest.fixture
def smtp():
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def site(migrated, tmp_path, monkeypatch, smtp):
    inbox, port = smtp
    monkeypatch.setattr(rcs, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(passwords, "hasher", rcs.hasher)
    monkeypatch.setenv("PLUGTONE_RCS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PLUGTONE_RCS_SMTP_PORT", str(port))
    monkeypatch.setenv("PLUGTONE_RCS_MAIL_FROM", "rcs@plugtone.test")
    shutil.copy(migrated, tmp_path / "rcs.db")
    url = f"sqlite:///{tmp_path}/rcs.db"
    store = Store(url, data_dir=tmp_path)
    rcs.add_account(store, ADMIN, "acme")
    rcs.add_user(store, ADMIN, "boss@acme.test", "super", PASSWORD, "acme")
    rcs.add_user(store, ADMIN, "ann@acme.test", "user", PASSWORD, "acme")
    app = create_admin_app(store, default_registry(), load_settings(str(tmp_path), url))
    yield app, store, inbox
    store.dispose()


def browser(app) -> TestClient:
    return TestClient(app, base_url="http://admin.test", follow_redirects=False)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]*)"', html)
    assert found, "no CSRF field"
    return found.group(1)


def login(app, email: str, password: str = PASSWORD) -> TestClient:
    client = browser(app)
    form = client.get("/rcs/login")
    answer = client.post("/rcs/login", data={"email": email, "password": password,
                                             "csrf": csrf(form.text), "next": "/rcs"})  # fmt: skip
    assert answer.status_code == 303, answer.text
    return client


def test_a_user_cannot_reach_users_or_branding(site):
    app, _, _ = site
    ann = login(app, "ann@acme.test")
    summary = ann.get("/rcs")
    assert summary.status_code == 200 and "Current Statistics" in summary.text
    assert 'href="/rcs/users"' not in summary.text and 'href="/rcs/branding"' not in summary.text
    assert ann.get("/rcs/users").status_code == 403
    assert ann.get("/rcs/branding").status_code == 403
    forged = ann.post("/rcs/users", data={"email": "x@acme.test", "password": PASSWORD,
                                          "csrf": csrf(summary.text)})  # fmt: skip
    assert forged.status_code == 403
    boss = login(app, "boss@acme.test")
    assert 'href="/rcs/users"' in boss.get("/rcs").text
    assert boss.get("/rcs/users").status_code == 200
    # an RCS session is no plugtone admin session, and the reverse
    assert ann.get("/", follow_redirects=False).status_code == 303
    assert browser(app).get("/rcs").headers["location"].startswith("/rcs/login")


def test_bad_input_is_shown_beside_its_field_and_changes_nothing(site):
    app, store, _ = site
    boss = login(app, "boss@acme.test")
    token = csrf(boss.get("/rcs/servers").text)
    long_name = boss.post("/rcs/servers", data={"name": "n" * 21, "url": "http://p/",
                                                "csrf": token})  # fmt: skip
    assert long_name.status_code == 422
    assert 'id="name-error">a server name has at most 20 characters; this one has 21' in (
        long_name.text)  # fmt: skip
    bad = boss.post("/rcs/servers", data={"name": "p", "url": "gopher://p/", "csrf": token})
    assert bad.status_code == 422 and 'id="url-error"' in bad.text
    too_long = boss.post("/rcs/servers", data={"name": "p", "url": "http://p/" + "x" * 300,
                                               "csrf": token})  # fmt: skip
    assert "at most 255 characters" in too_long.text
    assert rcs.list_servers(store, ADMIN, "acme") == []
    added = boss.post("/rcs/phones/add", data={"macs": "00085D000001\nzz", "csrf": token})
    assert added.status_code == 422 and "Reenter a valid MAC address" in added.text
    assert rcs.list_phones(store, ADMIN, "acme") == []
    upload = boss.post("/rcs/phones/upload", data={"csrf": token},
                       files={"file": ("p.csv", b"\xff\xfe\x00", "text/csv")})  # fmt: skip
    assert upload.status_code == 422 and "not UTF-8" in upload.text
    rcs.add_account(store, ADMIN, "other")
    rcs.register_phones(store, ADMIN, [rcs.Row("00085D000042", rcs.Assignment())], account="other")
    held = boss.post("/rcs/phones/add", data={"macs": "00085D000042", "csrf": token})
    assert held.status_code == 422 and rcs.HELD_ELSEWHERE in held.text
    assert "other" not in held.text.replace("another", "")


def test_forgot_password_mail_link_works_once_and_expires(site):
    app, store, inbox = site
    client = browser(app)
    form = client.get("/rcs/forgot")
    known = client.post("/rcs/forgot", data={"email": "Ann@acme.test", "csrf": csrf(form.text)})
    form = client.get("/rcs/forgot")
    unknown = client.post("/rcs/forgot", data={"email": "nobody@acme.test",
                                               "csrf": csrf(form.text)})  # fmt: skip
    assert known.status_code == unknown.status_code == 200
    strip = lambda html: re.sub(r'value="[^"]*"', "", html)  # noqa: E731 - the CSRF differs
    assert strip(known.text) == strip(unknown.text)
    inbox.wait(1)
    recipients, mail = inbox.messages[0]
    assert recipients == ["ann@acme.test"]
    link = re.search(r"http://admin\.test(/rcs/reset/\S+)", mail).group(1)
    page = client.get(link)
    assert page.status_code == 200
    done = client.post("/rcs/reset", data={"token": link.rsplit("/", 1)[1], "new": "a new secret 1",
                                           "again": "a new secret 1", "csrf": csrf(page.text)})  # fmt: skip
    assert done.status_code == 303
    assert passwords.verify_login(store, "ann@acme.test", "a new secret 1") is not None
    # replayed: refused, nothing changed
    replay = browser(app).get(link)
    assert replay.status_code == 410 and passwords.RESET_INVALID in replay.text
    fresh = browser(app)
    form = fresh.get("/rcs/forgot")  # any pre-login form: the POST replays the link itself
    again = fresh.post(
        "/rcs/reset",
        data={
            "token": link.rsplit("/", 1)[1],
            "new": "third secret 1",
            "again": "third secret 1",
            "csrf": csrf(form.text),
        },
    )
    assert again.status_code == 410
    assert passwords.verify_login(store, "ann@acme.test", "a new secret 1") is not None
    # an expired link reads the same as a used or made-up one
    form = client.get("/rcs/forgot")
    client.post("/rcs/forgot", data={"email": "ann@acme.test", "csrf": csrf(form.text)})
    inbox.wait(2)
    late = re.search(r"http://admin\.test(/rcs/reset/\S+)", inbox.messages[1][1]).group(1)
    with store.sessions() as session:
        session.execute(update(RcsResetToken).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
        session.commit()
    assert browser(app).get(late).status_code == 410
    assert browser(app).get("/rcs/reset/made-up").text.count(passwords.RESET_INVALID) == 1


def test_preferences_and_password_change(site):
    app, store, _ = site
    ann = login(app, "ann@acme.test")
    token = csrf(ann.get("/rcs/preferences").text)
    saved = ann.post("/rcs/preferences", data={"name": "Ann", "address": "1 Main St",
                                               "phone1": "+1 555 0100", "phone2": "555 0101",
                                               "csrf": token})  # fmt: skip
    assert saved.status_code == 200 and 'value="+1 555 0100"' in saved.text
    bad = ann.post("/rcs/preferences", data={"phone1": "call me", "csrf": token})
    assert bad.status_code == 422
    assert rcs.preferences(store, RcsActor("ann@acme.test", "user", 1, "acme")).phone1 == (
        "+1 555 0100")  # fmt: skip
    changed = ann.post("/rcs/password", data={"current": PASSWORD, "new": "new password 22",
                                              "again": "new password 22", "csrf": token})  # fmt: skip
    assert changed.status_code == 303
    assert ann.get("/rcs/preferences?changed=1").status_code == 200  # the new session holds


def test_plugtone_admins_add_accounts_and_see_every_one(site):
    app, store, _ = site
    admin = browser(app)
    form = admin.get("/login")
    signed = admin.post("/login", data={"user": "admin", "password": ADMIN_PASSWORD,
                                        "csrf": csrf(form.text), "next": "/rcs-accounts"})  # fmt: skip
    assert signed.status_code == 303
    listed = admin.get("/rcs-accounts")
    assert listed.status_code == 200 and 'data-account="acme"' in listed.text
    assert 'href="/rcs-accounts"' in listed.text  # in the admin menu
    added = admin.post("/rcs-accounts", data={"name": "beta", "email": "chief@beta.test",
                                              "password": "chief password", "csrf": csrf(listed.text)})  # fmt: skip
    assert added.status_code == 200 and 'data-account="beta"' in added.text
    assert passwords.verify_login(store, "chief@beta.test", "chief password").role == "super"
    # an account's Super User has no admin session: the admin page sends them to log in
    boss = login(app, "boss@acme.test")
    assert boss.get("/rcs-accounts").status_code == 303

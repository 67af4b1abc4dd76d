"""Every page of the web UI in chromium against a real ``plugtone serve``, at desktop
(1280 px) and phone (390 px) widths, and the login and a form page by keyboard alone.

- Every ``GET`` page the admin app registers (as ``test_ui_html`` finds them), the
  login page and an error page are screenshotted at both widths into
  ``test-output/screenshots/<page>-<width>.png`` (the folder is printed); at phone width
  the page itself never scrolls sideways (a wide table scrolls in its own container),
  and no page logs a console error.
- The sign-in page and the add-a-site form are tabbed through: the skip link comes
  first and takes the focus to the main content, then every control is reached in
  document order, each with a visible focus outline, and the sign-in works from the
  keyboard.

One browser for all of it.
"""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from plugtone.inventory.store import Store, migrate
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import ROOT
from tests.test_ui import ADMIN_PASSWORD, CHROMIUM, boot, served  # noqa: F401
from tests.test_ui_html import (
    RCS_PASSWORD,
    RCS_USER,
    STATUS,
    concrete,
    is_rcs,
    is_stream,
    rcs_people,
    ui_routes,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHOTS = ROOT / "test-output" / "screenshots"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}

FOCUSABLE = """() => [...document.querySelectorAll(
  'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
  .filter(el => !el.disabled && el.type !== 'hidden' && el.getClientRects().length)
  .map(el => el.outerHTML.slice(0, 120))"""
FOCUSED = """() => {
  const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
  return {html: el.outerHTML.slice(0, 120), id: el.id,
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
          shown: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
                 && box.left < innerWidth && box.top < innerHeight};
}"""
SIDEWAYS = """() => {
  const past = el => el.getBoundingClientRect().right > innerWidth + 1
    && !(el.parentElement && el.parentElement.closest('.scroll'));
  const wide = [...document.querySelectorAll('body *')].filter(past);
  return {page: document.documentElement.scrollWidth, view: innerWidth,
    loose: [...document.querySelectorAll('table')].filter(past)
      .map(t => t.id || t.className || 'table'),
    widest: wide.filter(el => !wide.includes(el.parentElement)).slice(0, 3)
      .map(el => el.outerHTML.slice(0, 100))};
}"""


def page_name(path: str) -> str:
    name = re.sub(r"[{}]", "", path).strip("/").replace(":path", "")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dashboard"


def pages(tmp_path) -> list[tuple[str, str, int]]:
    """``(name, path, status)`` of every page, from the routes of an admin app (a scratch one:
    the routes do not depend on the data)."""
    store = Store(f"sqlite:///{tmp_path / 'routes.db'}", data_dir=tmp_path)
    try:
        migrate(store.engine)
        app = create_admin_app(store, default_registry(),
                               load_settings(str(tmp_path), store.url))  # fmt: skip
        routes = ui_routes(app)
    finally:
        store.dispose()
    return [(page_name(path), concrete(path), STATUS.get(path, 200)) for path, endpoint in routes
            if not (path.startswith("/static") or path.endswith("/download") or path == "/login"
                    or is_stream(path, endpoint))]  # fmt: skip


def tab_through(page: Page, stop_after: int) -> list[dict]:
    """Focus states met pressing Tab from the top of the page, ``stop_after`` times."""
    page.evaluate("""() => { const top = document.documentElement;
        top.tabIndex = -1; top.focus(); top.removeAttribute('tabindex'); }""")
    met = []
    for _ in range(stop_after):
        page.keyboard.press("Tab")
        met.append(page.evaluate(FOCUSED))
    return met


def check_keyboard(page: Page, controls: list[str], where: str) -> None:
    """Tab reaches the skip link, then ``controls`` in order, each with its outline shown."""
    met = tab_through(page, len(controls) + 1)
    assert "Skip to content" in met[0]["html"] and met[0]["shown"], (where, met[0])
    assert [state["html"] for state in met[1:]] == controls, where
    hidden = [state["html"] for state in met if not (state["outline"] and state["shown"])]
    assert hidden == [], f"{where}: no visible focus on {hidden}"


def test_every_page_at_both_widths_and_by_keyboard(served, tmp_path):  # noqa: F811
    base = served.admin_base
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    print(f"screenshots in {SHOTS}")
    uploads = served.data / "uploads" / "00085D000001"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "00085D000001-local.cfg").write_text("sip line1 display name: Desk\n")
    boot(served)
    problems: list[str] = []
    wide: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda message: message.type == "error"
                and problems.append(f"{page.url}: {message.text}"))  # fmt: skip
        page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))

        def shoot(name: str, page: Page = page) -> None:
            for width_name, (width, height) in WIDTHS.items():
                page.set_viewport_size({"width": width, "height": height})
                if width_name == "phone":
                    sideways = page.evaluate(SIDEWAYS)
                    if sideways["page"] > sideways["view"] or sideways["loose"]:
                        wide.append(f"{name}: {sideways}")
                page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 800})

        # the login page by keyboard: skip link, the fields, the button; sign in
        page.goto(f"{base}/login")
        controls = page.evaluate(FOCUSABLE)[1:]  # after the skip link
        assert len(controls) >= 3
        check_keyboard(page, controls, "login")
        shoot("login")
        tab_through(page, 1)
        page.keyboard.press("Enter")  # the skip link: the focus goes to the main content
        assert page.evaluate("() => document.activeElement.id") == "main"
        page.keyboard.press("Tab")
        page.keyboard.type("admin")
        page.keyboard.press("Tab")
        page.keyboard.type(ADMIN_PASSWORD)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        # a form page by keyboard: every control after the menu, in order
        page.goto(f"{base}/sites/new")
        controls = page.evaluate(FOCUSABLE)[1:]
        assert sum("<input" in html for html in controls) >= 8, controls
        check_keyboard(page, controls, "/sites/new")

        listed = pages(tmp_path)
        if any(is_rcs(path) for _, path, _ in listed):  # its Super User, in this same browser
            store = Store(f"sqlite:///{served.data / 'plugtone.db'}", data_dir=served.data)
            try:
                rcs_people(store)
            finally:
                store.dispose()
            page.goto(f"{base}/rcs/login")
            page.fill("#email", RCS_USER)
            page.fill("#password", RCS_PASSWORD)
            page.locator("#rcs-login button[type=submit]").click()
            page.wait_for_url(f"{base}/rcs")
        signed_out = browser.new_page(viewport={"width": 1280, "height": 800})
        shot = 0
        for name, path, status in listed:
            answer = page.goto(f"{base}{path}")
            if page.url != f"{base}{path}":  # a page for the signed out (a login): as one
                answer = signed_out.goto(f"{base}{path}")
                assert signed_out.url == f"{base}{path}", (path, signed_out.url)
                shoot(name, signed_out)
            else:
                shoot(name)
            assert answer is not None and answer.status == status, (path, answer and answer.status)
            shot += 1
        page.goto(f"{base}/no-such-page")
        shoot("error-404")
        browser.close()
    expected = ("status of 404 (Not Found)", "status of 410 (Gone)")  # the error pages' own
    problems = [problem for problem in problems if not problem.endswith(expected)]
    assert wide == [], "scrolls sideways at phone width:\n" + "\n".join(wide)
    assert problems == []
    assert len(list(SHOTS.glob("*.png"))) == 2 * (shot + 2) and shot >= 25

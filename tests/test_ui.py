"""The web UI in a real browser: Debian's chromium driven by Playwright against a real
``plugtone serve`` (phone ports and the admin listener), as an admin and as a viewer.

What a person would check: signing in leads to the dashboard; a phone's boot shows up
live in the recent requests; a phone is found by its MAC in another notation; its
``<MAC>.cfg`` is shown with the SIP password masked; an admin reveals it and the reveal
is in the audit log; a viewer sees no edit control and a forged post is refused; a form
posted without its CSRF token is refused; no page logs a console error or breaks the
Content-Security-Policy. Screenshots of every page at desktop and phone widths are
saved under the test's ``tmp_path`` / ``screenshots`` (the path is printed).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import EXAMPLE, run_cli, start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
ADMIN_PASSWORD = "admin password for tests"
VIEWER_PASSWORD = "viewer password 1"
SIP_SECRET = "22222"  # extension 3003's password in the example inventory
MAC = "00:08:5D:00:00:01"
UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGTONE_ADMIN_PASSWORD", ADMIN_PASSWORD)
    data = tmp_path / "data"
    running = start_server(data, admin=True)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        secret = data / "vera.pw"
        secret.write_text(VIEWER_PASSWORD + "\n")
        run_cli("user", "add", "vera", "--role", "viewer", "--password-file", str(secret),
                data=data)  # fmt: skip
        yield running
    finally:
        stop_server(running)


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        self.problems: list[str] = []
        page.on("console", lambda message: message.type == "error"
                and self.problems.append(f"console: {message.text}"))  # fmt: skip
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def shoot(self, name: str) -> None:
        for size, (width, height) in SIZES.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.screenshot(path=str(self.shots / f"{name}-{size}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 800})


def sign_in(watched: Watched, base: str, user: str, password: str) -> None:
    page = watched.page
    answer = page.goto(f"{base}/")
    assert answer is not None and page.url.startswith(f"{base}/login")
    watched.shoot("login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def boot(server, path: str = "00085D000001.cfg") -> None:
    """What the emulated phone asks the phone-facing port for."""
    answer = httpx.get(f"{server.base}/{path}", headers={"User-Agent": UA}, timeout=10)
    assert answer.status_code == 200


def test_an_admin_and_a_viewer_in_chromium(served, tmp_path):
    base = served.admin_base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots in {shots}")
    boot(served, "aastra.cfg")
    token = run_cli("token", "create", "--user", "admin", data=served.data).stdout.strip()
    counts = httpx.get(f"{base}/api/status", headers={"Authorization": f"Bearer {token}"},
                       timeout=10).json()["counts"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        admin = Watched(browser.new_page(viewport={"width": 1280, "height": 800}), shots)
        page = admin.page
        sign_in(admin, base, "admin", ADMIN_PASSWORD)
        csp = page.request.get(f"{base}/").headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        for state, count in counts.items():
            expect(page.locator(f'[data-state="{state}"]')).to_have_text(str(count))
        assert counts["never_seen"] >= 1
        expect(page.locator("svg[role=img] rect.requests")).to_have_count(24)
        expect(page.locator("[data-live-status]")).to_be_visible()  # the stream is open
        boot(served)  # the phone boots while the dashboard is open: its request appears
        live = page.locator("tbody[data-stream] tr", has_text="00085D000001.cfg").first
        expect(live).to_be_visible(timeout=10_000)
        expect(live).to_contain_text(MAC)
        admin.shoot("dashboard")

        page.get_by_role("link", name="Phones", exact=True).click()
        page.get_by_label("Search: MAC (any notation), extension or name").fill("0008.5d00.0001")
        page.get_by_role("button", name="Find").click()
        rows = page.locator("#phones tbody tr")
        expect(rows).to_have_count(1)
        admin.shoot("phones")
        rows.get_by_role("link", name=MAC).click()
        expect(page.get_by_role("heading", name=f"Phone {MAC}")).to_be_visible()
        expect(page.get_by_role("button", name="Save")).to_be_visible()
        expect(
            page.locator("tbody[data-stream] tr", has_text="00085D000001.cfg")
        ).not_to_have_count(0)
        admin.shoot("phone")

        page.get_by_role("link", name="00085D000001.cfg").click()
        content = page.locator("#file-content")
        expect(content).to_contain_text("********")
        assert SIP_SECRET not in content.inner_text()
        admin.shoot("file-masked")
        page.get_by_role("button", name="Reveal secrets (audited)").click()
        expect(page.get_by_text("Secrets are shown unmasked")).to_be_visible()
        assert re.search(rf"\b{SIP_SECRET}\b", page.locator("#file-content").inner_text())
        audit = httpx.get(f"{base}/api/audit", params={"kind": "disclosure"}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"}, verify=False).json()  # fmt: skip
        reveals = [(row["key"], row["actor"], row["via"]) for row in audit["items"]
                   if row["action"] == "reveal"]  # fmt: skip
        assert reveals == [("00085D000001/00085D000001.cfg", "admin", "ui")]

        tokenless = page.request.post(f"{base}/phones/{MAC}", form={"description": "no token"})
        assert tokenless.status == 403
        page.get_by_role("link", name="Change password").click()
        expect(page.get_by_label("Current password")).to_be_visible()
        admin.shoot("password")
        assert admin.problems == []

        viewer = Watched(browser.new_context().new_page(), shots)
        sign_in(viewer, base, "vera", VIEWER_PASSWORD)
        viewer.page.goto(f"{base}/phones/{MAC}")
        expect(viewer.page.get_by_role("heading", name=f"Phone {MAC}")).to_be_visible()
        assert viewer.page.get_by_role("button", name="Save").count() == 0
        assert viewer.page.locator('form[action^="/phones/"]').count() == 0
        viewer.shoot("phone-viewer")
        csrf = viewer.page.locator('input[name="csrf"]').first.get_attribute("value")
        forged = viewer.page.request.post(f"{base}/phones/{MAC}",
                                          form={"description": "forged", "csrf": csrf})  # fmt: skip
        assert forged.status == 403
        viewer.page.goto(f"{base}/phones/{MAC}/files/00085D000001.cfg")
        assert viewer.page.get_by_role("button", name="Reveal secrets (audited)").count() == 0
        assert SIP_SECRET not in viewer.page.locator("#file-content").inner_text()
        assert "forged" not in viewer.page.content() and viewer.problems == []
        browser.close()
    assert len(list(shots.glob("*.png"))) == 2 * 7

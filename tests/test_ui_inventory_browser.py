"""The inventory forms in chromium against a real ``plugtone serve``: an admin adds a
site, an extension and an Aastra phone through the forms, the phone boots against the
phone-facing port, and its page's boot timeline fills in live without a reload.
Screenshots of each inventory page at desktop and phone widths go to ``tmp_path`` /
``screenshots`` (the path is printed)."""

from __future__ import annotations

from playwright.sync_api import expect, sync_playwright

from tests.test_ui import ADMIN_PASSWORD, CHROMIUM, Watched, boot, served, sign_in  # noqa: F401

NEW_MAC = "00:08:5D:00:00:42"


def test_add_a_site_an_extension_and_a_phone_and_watch_it_boot(served, tmp_path):  # noqa: F811
    base = served.admin_base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots in {shots}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        admin = Watched(browser.new_page(viewport={"width": 1280, "height": 800}), shots)
        page = admin.page
        sign_in(admin, base, "admin", ADMIN_PASSWORD)
        page.get_by_role("link", name="Sites", exact=True).click()
        expect(page.get_by_role("link", name="hq", exact=True)).to_be_visible()
        admin.shoot("inventory-sites")
        page.get_by_role("link", name="Add a site").click()
        page.get_by_label("Name (letters, digits, _ . -)").fill("branch 1")
        page.get_by_label("SIP server (host or host:port)").fill("10.9.0.1")
        page.get_by_label("Time zone (IANA name, such as Europe/Brussels)").fill("Europe/Paris")
        page.get_by_role("button", name="Add site").click()
        expect(page.locator("#f-name-error")).to_contain_text("not a valid site name")
        expect(page.get_by_label("Time zone (IANA name, such as Europe/Brussels)")).to_have_value(
            "Europe/Paris")  # fmt: skip
        admin.shoot("inventory-site-refused")
        page.get_by_label("Name (letters, digits, _ . -)").fill("branch")
        page.get_by_label("Digit timeout (seconds)").fill("5")
        page.get_by_role("button", name="Add site").click()
        expect(page.get_by_role("heading", name="Site branch")).to_be_visible()

        page.get_by_role("link", name="Add an extension").click()
        page.get_by_label("Number", exact=True).fill("4001")
        page.get_by_label("Name (default: the number)").fill("Front desk")
        page.get_by_label("SIP password").fill("front-desk-pw")
        admin.shoot("inventory-extension")
        page.get_by_role("button", name="Add extension").click()
        expect(page.locator("#extensions")).to_contain_text("Front desk")
        admin.shoot("inventory-site")

        page.get_by_role("link", name="Add a phone").click()
        page.get_by_label("MAC address (any notation)").fill("0008.5d00.0042")
        page.get_by_label("Model").select_option("6757i")
        page.get_by_label("Line 1", exact=True).fill("4001")
        page.get_by_label("Type of key 1").select_option("speeddial")
        page.get_by_label("Value of key 1").fill("##")
        page.get_by_label("Label of key 1").fill("VoiceMail")
        admin.shoot("inventory-phone-new")
        page.get_by_role("button", name="Add phone").click()
        expect(page.get_by_role("heading", name=f"Phone {NEW_MAC}")).to_be_visible()
        timeline = page.locator("#boot tbody")
        expect(timeline).to_contain_text("No request yet")
        expect(page.locator("#boot [data-live-status]")).to_be_visible()  # its stream is open

        boot(served, "aastra.cfg")
        boot(served, "00085D000042.cfg")
        row = timeline.locator("tr", has_text="00085D000042.cfg")
        expect(row).to_be_visible(timeout=10_000)  # no reload: the stream brought it
        expect(row).to_contain_text("http")
        expect(row).to_contain_text("ok")
        assert int(row.locator("td.num").inner_text()) > 0
        expect(timeline.locator("tr.empty")).to_have_count(0)
        admin.shoot("inventory-phone-booted")

        page.get_by_role("link", name="Edit phone, lines and keys").click()
        expect(page.get_by_label("Value of key 1")).to_have_value("##")
        admin.shoot("inventory-phone-edit")
        page.goto(f"{base}/sites/branch/contacts")
        admin.shoot("inventory-contacts")
        page.goto(f"{base}/sites/branch/delete")
        admin.shoot("inventory-delete")
        # chromium logs the refused form's 422 answer as a failed load; nothing else
        refused = "console: Failed to load resource: the server responded with a status of 422"
        assert [problem for problem in admin.problems if not problem.startswith(refused)] == []
        assert len(admin.problems) == 1
        browser.close()

"""The import and firmware pages in chromium against a real ``plugtone serve``.

As an admin: a CSV of 50 phones with one bad row is previewed, that row's error is on
its row, the good rows are imported (the phones are then in the API's list); a small
Aastra release is uploaded, pinned to its model with a 10% first wave and promoted
(the pins are then as the API's firmware report says). Screenshots of every new page
at desktop and phone widths go to the test's ``tmp_path`` / ``screenshots``; no page
logs a console error or breaks the Content-Security-Policy.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect, sync_playwright

from tests.conftest import run_cli
from tests.emulators.aastra import make_image
from tests.test_ui import ADMIN_PASSWORD, CHROMIUM, Watched, served, sign_in  # noqa: F401

NEW = "4.2.0.7"
BAD_ROW = 27


def sheet() -> bytes:
    rows = ["mac;model;site;line1"]
    for n in range(1, 51):
        model = "6799x" if n + 1 == BAD_ROW else "6757i"  # row 1 is the header
        rows.append(f"00:08:5D:00:10:{n:02X};{model};hq;")
    return ("\r\n".join(rows) + "\r\n").encode()


def test_import_a_sheet_then_pin_stage_and_promote_a_release(served, tmp_path):  # noqa: F811
    base = served.admin_base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots in {shots}")
    token = run_cli("token", "create", "--user", "admin", data=served.data).stdout.strip()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        admin = Watched(browser.new_page(viewport={"width": 1280, "height": 800}), shots)
        page = admin.page
        sign_in(admin, base, "admin", ADMIN_PASSWORD)

        page.get_by_role("link", name="Import", exact=True).click()
        page.get_by_label("CSV sheet").set_input_files(
            {"name": "phones.csv", "mimeType": "text/csv", "buffer": sheet()}
        )
        admin.shoot("import")
        page.get_by_role("button", name="Preview").click()
        bad = page.locator(f'#import-rows tr[data-row="{BAD_ROW}"]')
        expect(bad).to_contain_text("error")
        expect(bad).to_contain_text("model: ")
        expect(bad).to_contain_text("6799x")
        expect(page.locator("#import-summary")).to_contain_text("49 created, 0 updated")
        assert page.get_by_role("button", name="Import all 50 rows").count() == 0
        admin.shoot("import-preview")
        page.get_by_role("button", name="Import the 49 good rows").click()
        expect(page.locator("#import-summary")).to_contain_text("49 created")
        expect(page.locator("#import-summary")).to_contain_text("imported")
        listed = api.get("/api/phones", params={"q": "00085D0010", "limit": 100}).json()["items"]
        assert len(listed) == 49 and "00085D00101A" not in {row["mac"] for row in listed}

        page.get_by_role("link", name="Firmware", exact=True).click()
        page.get_by_label("Models (commas between several)").fill("6757i")
        page.get_by_label("Version", exact=True).fill(NEW)
        page.get_by_label("Image files or a vendor zip").set_input_files(
            {"name": "6757i.st", "mimeType": "application/octet-stream",
             "buffer": make_image(NEW)}
        )  # fmt: skip
        page.get_by_role("button", name="Upload").click()
        expect(page.locator("#firmware-message")).to_contain_text(f"aastra {NEW} is stored")
        page.get_by_label("Version (or none: leave alone)").fill(NEW)
        page.get_by_label("Pin at").select_option("model")
        page.get_by_label("Site name, model or MAC").fill("6757i")
        page.get_by_label("First wave (10%, or MACs; optional)").fill("10%")
        page.get_by_role("button", name="Pin", exact=True).click()
        expect(page.locator("#firmware-message")).to_contain_text("(first wave 10%)")
        report = api.get("/api/firmware/report").json()["items"]
        wave = [row["mac"] for row in report if row["pin"] == "model, first wave"]
        others = [row for row in report if row["model"] == "6757i" and row["mac"] not in wave]
        assert 1 <= len(wave) <= 6 and len(wave) + len(others) == 50  # 49 imported + 1
        assert all(row["target"] != NEW for row in others)  # outside the wave: not yet
        pinned = api.get("/api/firmware").json()["items"][0]["pinned"]
        assert pinned == ["model 6757i"]
        expect(page.locator(f'tr[data-release="aastra {NEW}"] .progress')).to_contain_text(
            f"{len(wave)} targeted, {len(wave)} in the first wave"
        )
        admin.shoot("firmware")
        page.get_by_role("button", name="Promote model 6757i").click()
        expect(page.locator("#firmware-message")).to_contain_text("promoted to every phone")
        report = api.get("/api/firmware/report").json()["items"]
        governed = [row for row in report if row["model"] == "6757i"]
        assert len(governed) == 50
        assert {(row["target"], row["pin"]) for row in governed} == {(NEW, "model")}

        for name, path in (("unassigned", "/unassigned"), ("users", "/users"),
                           ("audit", "/audit")):  # fmt: skip
            page.goto(f"{base}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            admin.shoot(name)
        expect(page.locator("#audit")).to_contain_text("promote")
        assert admin.problems == []
        browser.close()
    api.close()
    assert len(list(shots.glob("*.png"))) == 2 * 7  # login and 6 new pages

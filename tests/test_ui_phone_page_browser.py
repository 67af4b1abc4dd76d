"""The phone page and the branding pages in chromium against a real ``plugtone serve``.

As an admin: a 6757i's page draws its top softkeys as the phone has them, two columns of
five numbered down the left column first, with the site's keys in place and the free
positions empty; the settings table says the time zone comes from a raw key of the phone
and the SIP server from the site; a Polycom that uploads its boot log over HTTP (a real
PUT to the phone-facing port) has it listed on its page and shown; a file uploaded to a
branding set in the browser is then served to phones at ``branding/<set>/<file>``.
Screenshots at desktop and phone widths go to the test's ``tmp_path`` / ``screenshots``;
no page logs a console error or breaks the Content-Security-Policy.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect, sync_playwright

from tests.test_ui import ADMIN_PASSWORD, CHROMIUM, MAC, Watched, boot, served, sign_in  # noqa: F401

POLYCOM = "00:04:F2:00:06:07"
POLYCOM_UA = "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0198"
RING = b"RIFF\x00\x00 a ring tone"


def polycom_uploads_its_boot_log(server) -> None:
    """The phone fetches its master file, then PUTs its log, as a SoundPoint does."""
    with httpx.Client(
        base_url=server.base, headers={"User-Agent": POLYCOM_UA}, timeout=10
    ) as phone:
        assert phone.get("/0004f2000607.cfg").status_code == 200
        answer = phone.put("/0004f2000607-boot.log", content=b"0101 boot: ok\n")
        assert answer.status_code == 204, answer.text


def test_keys_settings_uploads_and_a_branding_file_in_chromium(served, tmp_path):  # noqa: F811
    base = served.admin_base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots in {shots}")
    boot(served)
    polycom_uploads_its_boot_log(served)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        admin = Watched(browser.new_page(viewport={"width": 1280, "height": 800}), shots)
        page = admin.page
        sign_in(admin, base, "admin", ADMIN_PASSWORD)

        page.goto(f"{base}/phones/{MAC}")
        top = page.locator('ol.keygrid[data-family="topsoftkey"] li')
        expect(top).to_have_count(10)
        expect(top.nth(0)).to_contain_text("callers")
        expect(top.nth(1)).to_contain_text("VoiceMail")
        expect(page.locator('ol.keygrid[data-family="topsoftkey"] li.empty')).to_have_count(7)
        expect(page.locator('ol.keygrid[data-family="softkey"] li')).to_have_count(20)
        first, second, sixth = (top.nth(n).bounding_box() for n in (0, 1, 5))
        assert first and second and sixth
        assert abs(second["x"] - first["x"]) < 1 and second["y"] > first["y"]  # down a column
        assert abs(sixth["y"] - first["y"]) < 1 and sixth["x"] > first["x"]  # the next column
        zone = page.locator('#setting-sources tr[data-setting="timezone"]')
        expect(zone.locator("td.source")).to_have_text("raw key")
        expect(zone).to_contain_text("time zone name (phone)")
        server = page.locator('#setting-sources tr[data-setting="sip_server"]')
        expect(server.locator("td.source")).to_have_text("site")
        expect(page.locator('#raw-settings tr[data-setting="time zone name"]')).to_contain_text(
            "US-Pacific"
        )
        admin.shoot("phone-keys-settings")

        page.goto(f"{base}/phones/{POLYCOM}")
        expect(page.locator('ol.keygrid[data-family="linekey"] li')).to_have_count(6)
        uploads = page.locator("#uploads tbody tr")
        expect(uploads).to_have_count(1)
        expect(uploads).to_contain_text("0004f2000607-boot.log")
        expect(uploads).to_contain_text("14")
        admin.shoot("phone-uploads")
        uploads.get_by_role("link", name="0004f2000607-boot.log", exact=True).click()
        expect(page.locator("#file-content")).to_contain_text("0101 boot: ok")

        page.get_by_role("link", name="Branding", exact=True).click()
        expect(page.get_by_role("heading", name="Branding sets")).to_be_visible()
        admin.shoot("branding")
        page.get_by_role("link", name="lab-look").click()
        page.get_by_label("Add or replace a file").set_input_files(
            files=[{"name": "ring.raw", "mimeType": "application/octet-stream", "buffer": RING}]
        )
        page.get_by_role("button", name="Upload", exact=True).click()
        expect(page.locator("#branding-message")).to_have_text(
            "ring.raw is stored in set lab-look."
        )
        expect(page.locator('#branding-files tr[data-file="ring.raw"]')).to_contain_text(
            str(len(RING))
        )
        admin.shoot("branding-set")
        served_file = httpx.get(f"{served.base}/branding/lab-look/ring.raw", timeout=10)
        assert served_file.status_code == 200 and served_file.content == RING
        assert admin.problems == []
        browser.close()

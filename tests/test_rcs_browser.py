"""The redirection service's seed flows in a real browser: Debian's chromium driven by
Playwright against a real ``plugtone serve`` (phone port and admin listener).

A Super User logs in, adds a server and a user, adds a phone and redirects it (the
phone then asks the phone port's ``/rcs/`` and is sent on), uploads a CSV of 100 MACs
with one bad row (the report names it; none-or-all writes nothing; the good rows go
in when asked), sets the unaffiliated phones' server in bulk, reads the statistics
and logs out; the User then cannot reach the Users or Branding pages. No page logs a
console error or breaks the Content-Security-Policy.
"""

from __future__ import annotations

import httpx
from playwright.sync_api import expect, sync_playwright

from tests.conftest import run_cli, start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
SUPER = ("boss@acme.test", "boss password 1")
USER = ("ann@acme.test", "ann password 12")
FIRST = "00:08:5D:00:00:01"
UA = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"


def test_the_seed_flows_in_chromium(tmp_path):
    data = tmp_path / "data"
    running = start_server(data, admin=True)
    problems: list[str] = []
    try:
        run_cli("rcs", "account", "add", "acme", data=data)
        run_cli("rcs", "user", "add", SUPER[0], "--account", "acme", "--role", "super",
                "--password-stdin", data=data, input=SUPER[1] + "\n")  # fmt: skip
        sheet = tmp_path / "phones.csv"
        rows = [f"00085D1000{n:02X}" for n in range(99)]
        rows.insert(41, "00085D10ZZZZ")  # row 42 of the file: not a MAC
        sheet.write_text("\n".join(rows) + "\n")
        base = running.admin_base
        config_url = f"http://127.0.0.1:{running.http_port}/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            # chromium logs every 4xx page as "Failed to load resource": the refused CSV
            # (422) and the User's 403s are meant; anything else (a CSP breach) is not
            page.on("console", lambda m: m.type == "error"
                    and not m.text.startswith("Failed to load resource: the server responded")
                    and problems.append(m.text))  # fmt: skip
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{base}/rcs")
            assert "/rcs/login" in page.url
            page.get_by_label("Username (e-mail address)").fill(SUPER[0])
            page.get_by_label("Password").fill(SUPER[1])
            page.get_by_role("button", name="Login").click()
            expect(page.get_by_role("heading", name="Summary")).to_be_visible()
            expect(page.locator("#rcs-account")).to_have_text("acme")

            page.get_by_role("link", name="Servers", exact=True).click()
            page.get_by_label("Server name (20 characters at most)").fill("prov-server-with-21c")
            page.get_by_label("Server URL").fill(config_url)
            page.get_by_role("button", name="Add", exact=True).click()
            expect(page.locator('#rcs-servers tr[data-server="prov-server-with-21c"]')
                   ).to_be_visible()  # fmt: skip

            page.get_by_role("link", name="Users", exact=True).click()
            page.get_by_label("Username (e-mail address)").fill(USER[0])
            page.get_by_label("Name", exact=True).fill("Ann")
            page.get_by_label("Password (10 characters or more)").fill(USER[1])
            page.get_by_role("button", name="Add", exact=True).click()
            expect(page.locator(f'#rcs-users tr[data-user="{USER[0]}"]')).to_be_visible()

            page.get_by_role("link", name="Phones", exact=True).click()
            page.get_by_label("MAC List (one a line)").fill(FIRST)
            page.locator("#add-server").select_option("prov-server-with-21c")
            page.get_by_role("button", name="Add", exact=True).click()
            expect(page.locator('#rcs-report tr[data-row="1"]')).to_contain_text("added")
            expect(page.locator('#rcs-phones tr[data-mac="00085D000001"]')).to_contain_text(
                "prov-server-with-21c")  # fmt: skip
            # the phone boots: asks the phone port's redirection service, is sent on
            asked = httpx.get(f"{running.base}/rcs/aastra.cfg", headers={"User-Agent": UA},
                              timeout=10)  # fmt: skip
            assert f"http port: {running.http_port}" in asked.text

            page.locator("#csv-file").set_input_files(str(sheet))
            page.get_by_role("button", name="Upload", exact=True).click()
            bad = page.locator('#rcs-report tr[data-row="42"]')
            expect(bad).to_contain_text("refused")
            expect(bad).to_contain_text("Reenter a valid MAC address")
            expect(page.locator("#report-summary")).to_contain_text("nothing was written")
            expect(page.locator("#rcs-phones tbody tr")).to_have_count(1)
            page.locator("#csv-file").set_input_files(str(sheet))
            page.get_by_label("Add the good rows even if some are refused").check()
            page.get_by_role("button", name="Upload", exact=True).click()
            expect(page.locator("#report-summary")).to_contain_text("99 added")
            expect(page.locator("#rcs-phones tbody tr")).to_have_count(100)

            page.get_by_role("link", name="Summary", exact=True).click()
            expect(page.locator("#stat-unaffiliated")).to_contain_text("99")
            page.get_by_role("link", name="Set Unaffiliated Phones").click()
            expect(page.locator("#rcs-phones tbody tr")).to_have_count(99)
            page.get_by_label("All unaffiliated phones of this list").check()
            page.locator("#edit-server").select_option("prov-server-with-21c")
            page.get_by_role("button", name="Save").click()
            expect(page.locator("#report-summary")).to_have_text("99 updated")
            expect(page.locator("#rcs-phones tbody tr")).to_have_count(0)

            page.get_by_role("link", name="Summary", exact=True).click()
            expect(page.locator("#stat-registered")).to_have_text("100")
            expect(page.locator("#stat-redirected")).to_have_text("1")
            expect(page.locator("#stat-unaffiliated")).to_contain_text("0")
            expect(page.locator("#stat-day")).to_have_text("1")
            expect(page.locator('#rcs-server-stats tr[data-server="prov-server-with-21c"]')
                   ).to_contain_text("100")  # fmt: skip
            page.get_by_role("button", name="Logout").click()
            expect(page.locator("#login-message")).to_have_text("Logout Successful.")

            page.get_by_label("Username (e-mail address)").fill(USER[0])
            page.get_by_label("Password").fill(USER[1])
            page.get_by_role("button", name="Login").click()
            expect(page.get_by_role("heading", name="Summary")).to_be_visible()
            expect(page.get_by_role("link", name="Users", exact=True)).to_have_count(0)
            expect(page.get_by_role("link", name="Branding", exact=True)).to_have_count(0)
            for path in ("/rcs/users", "/rcs/branding"):
                answer = page.goto(f"{base}{path}")
                assert answer is not None and answer.status == 403
            browser.close()
    finally:
        stop_server(running)
    assert problems == []
    log = (data / "serve.log").read_text()
    assert "Traceback" not in log

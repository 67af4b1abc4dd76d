"""The operations pages: DHCP snippets, device status and pushed resync, in process and
(one short check) in chromium.

In process, the admin app is driven over ASGI against a real SQLite store with the
example inventory plus a site with an FTP account of its own: the DHCP page shows what
the service writes for each format, the download is an attachment, the site's FTP
password appears only for an admin's POST (audited), never by GET; the status page lists
a phone that went stale after a real boot and a change; a resync from the phone page
records the phone's outcome as an event ("no address" for a phone never seen: no
network needed), and a viewer or a post without its token is refused with 403.

In chromium (``test_operations_in_chromium``), against a real ``plugtone serve``: the
DHCP and status pages open and Resync is pressed on a phone; screenshots at desktop and
phone widths.
"""

from __future__ import annotations

import ipaddress
import re
from html import unescape

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from plugtone.inventory.models import AuditEntry
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.trust import NetworkRule
from plugtone.services.accounts import add_user
from plugtone.services.actors import Role, local_admin
from plugtone.services.devices import list_events
from plugtone.services.dhcp import DhcpRequest, dhcp_snippet
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text
from tests.test_status import boot
from tests.test_ui import CHROMIUM, Watched, served, sign_in  # noqa: F401 - fixture
from tests.test_ui_pages import app, check_page, sqlite_store, token  # noqa: F401 - fixtures
from tests.test_ui_pages import sign_in as sign_in_asgi

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

FTP_SECRET = "Depot-ftp-Secret-7"
DEPOT = f"""
sites:
  - name: depot
    sip_server: 10.9.0.2
    config_server: tftp://10.9.0.5
    ftp_account: {{user: depot-phones, password: {FTP_SECRET}}}
phones:
  - {{mac: 00:04:F2:00:00:31, model: IP650, site: depot}}
"""
OPERATOR_PASSWORD = "operator password 1"
NEVER_SEEN = "00:08:5D:00:00:02"  # hq's second phone: never booted in these tests
BOOTED = "00085D000001"


@pytest.fixture
def ops(app, sqlite_store):  # noqa: F811 - the fixture of test_ui_pages
    apply_text(sqlite_store, DEPOT)
    add_user(sqlite_store, local_admin(), "otto", Role.OPERATOR, OPERATOR_PASSWORD)
    return app


def pre(html: str, id_: str) -> str:
    found = re.search(rf'<pre[^>]*id="{id_}"[^>]*>(.*?)</pre>', html, re.S)
    assert found, f"no <pre id={id_}>"
    return unescape(found.group(1))


def test_the_dhcp_page_shows_what_the_service_writes_and_downloads_it(ops):
    store = ops.state.store
    browser = sign_in_asgi(ops)
    settings = ops.state.settings
    check_page(browser.get("/operations"))
    for fmt in ("isc", "kea", "dnsmasq", "windows"):
        answer = browser.get("/operations/dhcp", params={"format": fmt, "site": "depot"})
        assert answer.status_code == 200, fmt
        check_page(answer)
        wanted = dhcp_snippet(store, local_admin(), default_registry(),
                              DhcpRequest(fmt, site="depot", ftp_port=settings.ftp_port,
                                          factory_ftp=settings.ftp_factory_accounts))  # fmt: skip
        assert pre(answer.text, "dhcp-snippet") == wanted, fmt
        assert FTP_SECRET not in answer.text
    download = browser.get("/operations/dhcp/download", params={"format": "kea", "site": "depot"})
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        'attachment; filename="plugtone-dhcp-depot.json"'
    )
    assert download.headers["content-type"] == "application/json"
    assert download.text == pre(browser.get("/operations/dhcp?format=kea&site=depot").text,
                                "dhcp-snippet")  # fmt: skip
    # every site at once: maxcs7 names no host of its own, so the server field says so
    missing = browser.get("/operations/dhcp", params={"format": "isc"})
    assert missing.status_code == 422
    assert re.search(r'id="server-error">[^<]*maxcs7[^<]*Server field', missing.text)
    named = browser.get("/operations/dhcp", params={"format": "isc", "server": "10.0.0.9"})
    assert named.status_code == 200 and "10.0.0.9" in pre(named.text, "dhcp-snippet")
    assert "There is no site" not in named.text
    unknown = browser.get("/operations/dhcp", params={"format": "isc", "site": "nowhere"})
    assert unknown.status_code == 422 and 'id="site-error"' in unknown.text


def audited(store) -> list[tuple[str, str, str]]:
    with store.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.kind == "disclosure"))
        return [(row.action, row.key, row.actor) for row in rows]


def test_the_site_ftp_password_only_for_an_admin_by_post_and_audited(ops):
    store = ops.state.store
    admin = sign_in_asgi(ops)
    shown = admin.get("/operations/dhcp", params={"format": "dnsmasq", "site": "depot"}).text
    assert FTP_SECRET not in shown and "Show with FTP passwords (audited)" in shown
    for query in ("secrets=1", "with_secrets=1", "reveal=1"):  # no GET reveals it
        assert FTP_SECRET not in admin.get(f"/operations/dhcp?format=dnsmasq&{query}").text
    assert audited(store) == []
    form = {"format": "dnsmasq", "site": "depot", "server": ""}
    tokenless = admin.post("/operations/dhcp", data=form)
    assert tokenless.status_code == 403 and FTP_SECRET not in tokenless.text
    assert audited(store) == []
    revealed = admin.post("/operations/dhcp", data={**form, "csrf": token(shown)})
    assert revealed.status_code == 200
    check_page(revealed)
    assert f"depot-phones:{FTP_SECRET}@" in pre(revealed.text, "dhcp-snippet")
    assert "recorded in the audit log" in revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    downloaded = admin.post("/operations/dhcp",
                            data={**form, "csrf": token(shown), "download": "1"})  # fmt: skip
    assert downloaded.headers["content-disposition"].startswith("attachment;")
    assert FTP_SECRET in downloaded.text
    assert audited(store) == [("read", "dhcp", "admin")] * 2

    operator = sign_in_asgi(ops, "otto", OPERATOR_PASSWORD)
    page = operator.get("/operations/dhcp", params={"format": "dnsmasq", "site": "depot"}).text
    assert "FTP passwords" not in page and FTP_SECRET not in page
    forged = operator.post("/operations/dhcp", data={**form, "csrf": token(page)})
    assert forged.status_code == 403 and FTP_SECRET not in forged.text
    assert len(audited(store)) == 2


def test_the_status_page_lists_a_stale_phone_with_its_generations(ops, tmp_path):
    store = ops.state.store
    provisioner = Provisioner.for_store(store, default_registry(), tmp_path,
                                        trusted_networks=[NetworkRule(
                                            ipaddress.ip_network("10.0.0.0/8"))])  # fmt: skip
    assert boot(provisioner, BOOTED) == ["ok", "ok", "ok"]
    browser = sign_in_asgi(ops)
    stale = browser.get("/operations/status", params={"state": "stale"}).text
    assert "00:08:5D:00:00:01" not in stale  # up to date after its boot
    moved = EXAMPLE.read_text().replace("sip_server: 10.100.2.127 ", "sip_server: 10.100.2.128 ")
    apply_text(store, moved)
    answer = browser.get("/operations/status", params={"state": "stale", "site": "hq"})
    check_page(answer)
    row = re.search(r'<tr>\s*<td><a href="/phones/00:08:5D:00:00:01">.*?</tr>', answer.text, re.S)
    assert row, "the stale phone is not listed"
    cells = [unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]  # fmt: skip
    assert cells[1:5] == ["Stale", "hq", "6757i", "10.1.2.3"]
    files, changed = int(cells[6]), int(cells[7])
    assert files < changed
    dashboard = browser.get("/").text  # the dashboard links the list, with its count
    assert 'href="/operations/status" id="attention-link">Phones needing attention (5)' in dashboard
    everything = browser.get("/operations/status").text  # default: all needing attention
    assert NEVER_SEEN in everything and "00:08:5D:00:00:01" in everything
    assert "Never seen" in everything and "Stale" in everything
    one_page = browser.get("/operations/status", params={"state": "never_seen"}).text
    assert "00:08:5D:00:00:01" not in one_page and NEVER_SEEN in one_page
    bad = browser.get("/operations/status", params={"site": "nowhere"})
    assert bad.status_code == 422 and 'id="site-error"' in bad.text


def test_a_resync_records_the_outcome_and_is_refused_to_a_viewer(ops):
    store = ops.state.store
    operator = sign_in_asgi(ops, "otto", OPERATOR_PASSWORD)
    page = operator.get(f"/phones/{NEVER_SEEN}").text
    assert f'action="/phones/{NEVER_SEEN}/resync"' in page
    tokenless = operator.post(f"/phones/{NEVER_SEEN}/resync")
    assert tokenless.status_code == 403
    assert list_events(store, local_admin(), mac=NEVER_SEEN).items == ()
    done = operator.post(f"/phones/{NEVER_SEEN}/resync", data={"csrf": token(page)})
    assert done.status_code == 200
    check_page(done)
    assert "no address" in done.text and "plugtone has not seen the phone yet" in done.text
    events = list_events(store, local_admin(), mac=NEVER_SEEN).items
    assert [(event.transport, event.status) for event in events] == [("sip", "no address")]

    viewer = sign_in_asgi(ops, "vera", "viewer password 1")
    seen = viewer.get(f"/phones/{NEVER_SEEN}").text
    assert "/resync" not in seen and ">Resync<" not in seen
    assert viewer.get("/operations").text.count('action="/operations/resync"') == 0
    forged = viewer.post(f"/phones/{NEVER_SEEN}/resync", data={"csrf": token(seen)})
    assert forged.status_code == 403
    forged_site = viewer.post("/operations/resync", data={"site": "hq", "csrf": token(seen)})
    assert forged_site.status_code == 403
    assert len(list_events(store, local_admin(), mac=NEVER_SEEN).items) == 1


def test_a_site_resync_shows_each_phone_and_every_phone_needs_an_admin_and_a_tick(ops):
    operator = sign_in_asgi(ops, "otto", OPERATOR_PASSWORD)
    hub = operator.get("/operations")
    check_page(hub)
    assert 'value="*"' not in hub.text  # "every phone" is an admin's choice
    site = operator.post("/operations/resync", data={"site": "depot", "csrf": token(hub.text)})
    assert site.status_code == 200 and "00:04:F2:00:00:31" in site.text
    assert "1 phone(s): 0 answered with 2xx; no address: 1" in site.text
    none = operator.post("/operations/resync", data={"site": "", "csrf": token(hub.text)})
    assert none.status_code == 422 and 'id="resync-site-error">Choose a site.' in none.text
    everything = operator.post("/operations/resync", data={"site": "*", "confirm": "yes",
                                                           "csrf": token(hub.text)})  # fmt: skip
    assert everything.status_code == 403

    admin = sign_in_asgi(ops)
    hub = admin.get("/operations").text
    unticked = admin.post("/operations/resync", data={"site": "*", "csrf": token(hub)})
    assert unticked.status_code == 422 and 'id="resync-confirm-error"' in unticked.text
    ticked = admin.post("/operations/resync", data={"site": "*", "confirm": "yes",
                                                    "csrf": token(hub)})  # fmt: skip
    assert ticked.status_code == 200 and "Resync of every phone" in ticked.text
    assert ticked.text.count('<tr class="bad">') == 5  # the example's 4 phones and depot's


def test_operations_in_chromium(served, tmp_path):  # noqa: F811 - the fixture of test_ui
    base = served.admin_base
    shots = tmp_path / "screenshots"
    shots.mkdir()
    print(f"screenshots in {shots}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"])  # fmt: skip
        admin = Watched(browser.new_page(viewport={"width": 1280, "height": 800}), shots)
        page = admin.page
        sign_in(admin, base, "admin", "admin password for tests")
        page.get_by_role("link", name="Operations", exact=True).click()
        expect(page.get_by_role("heading", name="Operations", exact=True)).to_be_visible()
        admin.shoot("operations")
        page.get_by_role("link", name=re.compile("^DHCP snippets for ISC")).click()
        page.get_by_label("DHCP server").select_option("dnsmasq")
        page.get_by_label("Site", exact=True).select_option("hq")
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#dhcp-snippet")).to_contain_text("dhcp-option-force=")
        expect(page.locator("#dhcp-snippet")).to_contain_text("10.100.2.126")
        admin.shoot("dhcp")
        page.goto(f"{base}/operations/status")
        expect(page.locator("#status tbody tr", has_text=NEVER_SEEN)).to_have_count(1)
        admin.shoot("status")
        page.locator("#status").get_by_role("link", name=NEVER_SEEN).click()
        page.get_by_role("button", name="Resync", exact=True).click()
        expect(page.get_by_role("heading", name=f"Resync of phone {NEVER_SEEN}")).to_be_visible()
        expect(page.locator("#resync-outcomes tbody tr")).to_contain_text("no address")
        admin.shoot("resync")
        page.get_by_role("link", name=NEVER_SEEN).click()
        expect(page.locator("tbody[data-stream] tr", has_text="NOTIFY").first).to_contain_text(
            "no address"
        )
        assert admin.problems == []
        browser.close()
    assert len(list(shots.glob("*.png"))) == 2 * 5

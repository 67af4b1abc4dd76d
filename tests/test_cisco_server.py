"""A Cisco 7960 boots from a running ``plugtone serve`` with the example inventory.

TFTP for its configuration (curl and tftp-hpa, as the phone would ask), then the
directory and the logo (the site's branding set) over plugtone's HTTP port, following
the URLs the phone was given. The example pins no firmware, so the phone is told no
image; once the admin adds a release and pins it (``plugtone firmware add`` and
``pin``), the same boot names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import defusedxml.ElementTree as SafeET
import httpx
import pytest

from tests.conftest import RunningServer, example_server, run_cli
from tests.emulators.cisco import Cisco7960, parse_load_information
from tests.test_cisco_boot import IMAGE, curl_fetch, tftp_hpa_fetch, write_release

MAC = "00115C93AFD1"
PUBLIC = "http://192.168.0.20:8080"  # the example's public_url, as the phones reach it


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    with example_server(tmp_path_factory.mktemp("cisco") / "data", tftp=True) as running:
        yield running


def http_get(server: RunningServer):
    def fetch(url: str) -> tuple[int, bytes]:
        assert url.startswith(PUBLIC), url
        response = httpx.get(server.base + url[len(PUBLIC) :], timeout=10)
        return response.status_code, response.content

    return fetch


def assert_example_phone(phone: Cisco7960) -> None:
    assert phone.settings["proxy1_address"] == "192.168.0.20"
    assert phone.settings["nat_enable"] == "1"
    assert phone.settings["phone_label"] == "...Demo..."
    assert phone.settings["messages_uri"] == "8500"
    assert phone.line(1)["name"] == "208"
    assert phone.line(1)["authname"] == "208"
    assert phone.line(1)["password"] == "sip"
    assert phone.settings["directory_url"] == f"{PUBLIC}/cisco/directory-{MAC}.xml"
    assert phone.settings["logo_url"] == f"{PUBLIC}/cisco/logo-{MAC}.bmp"


def test_7960_boots_over_real_tftp_and_reads_directory_and_logo_over_http(server, tmp_path):
    for fetch in (curl_fetch(server.tftp_port), tftp_hpa_fetch(server.tftp_port, tmp_path)):
        phone = Cisco7960(MAC)
        phone.boot(fetch)
        # nothing pinned: no OS79XX.TXT and no image_version, the phone keeps its image
        assert phone.fetched[0] == ("OS79XX.TXT", 404) and phone.image is None
        assert "image_version" not in phone.settings
        assert [status for _, status in phone.fetched[1:]] == [200, 200, 200]
        assert_example_phone(phone)
        assert fetch(f"CTLSEP{MAC}.tlv")[0] == 404
        assert fetch("US/7960-tones.xml")[0] == 404
    pages = phone.directory(http_get(server))
    entries = [entry for page in pages for entry in page.entries]
    assert ("Phone 1", "202") in entries and ("Phone 2", "203") in entries
    assert ("208", "208") in entries  # the site's own extension
    logo = phone.logo(http_get(server))
    assert logo.size == (90, 56)
    assert logo.mode in ("L", "P")
    if logo.mode == "P":
        palette = logo.getpalette()[: 3 * 256]
        assert all(
            palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette), 3)
        )


def test_a_release_pinned_on_the_site_is_named_in_every_file_that_names_an_image(
    server, tmp_path: Path
):
    curl = curl_fetch(server.tftp_port)
    before = Cisco7960(MAC, running=IMAGE)
    before.boot(curl)  # from 127.0.0.1: plugtone now knows who asks from there
    assert "image_version" not in before.settings and before.image is None
    files = write_release(tmp_path / "release", IMAGE, "P003-8-12-00")
    added = run_cli("firmware", "add", "--vendor", "cisco79xx", "--model", "7960",
                    "--version", "8.12.00", *(str(tmp_path / "release" / name) for name in files),
                    data=server.data)  # fmt: skip
    assert f"{IMAGE}.sb2" in added.stdout
    assert curl(f"{IMAGE}.loads") == (404, b"")  # in the repository, pinned nowhere
    run_cli("firmware", "pin", "8.12.00", "--site", "lab", data=server.data)
    try:
        for fetch in (curl, tftp_hpa_fetch(server.tftp_port, tmp_path)):
            phone = Cisco7960(MAC, running=IMAGE)  # already on it: nothing to install
            phone.boot(fetch)
            assert phone.fetched[0] == ("OS79XX.TXT", 200) and phone.image == IMAGE
            assert phone.settings["image_version"] == IMAGE
            assert_example_phone(phone)
            assert phone.installed == []
            assert not any(name.startswith("P0") for name, _ in phone.fetched)
            status, body = fetch("XMLDefault.cnf.xml")  # what an SCCP load would read
            assert status == 200 and parse_load_information(body, "7960") == IMAGE
        assert curl(f"{IMAGE}.loads") == (200, files[f"{IMAGE}.loads"])
    finally:
        run_cli("firmware", "unpin", "--site", "lab", data=server.data)
    status, body = curl("XMLDefault.cnf.xml")
    assert status == 200 and list(SafeET.fromstring(body)) == []
    assert curl("OS79XX.TXT") == (404, b"")

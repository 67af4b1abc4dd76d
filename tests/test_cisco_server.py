"""A Cisco 7960 boots from a running ``plugtone serve`` with the example inventory.

TFTP for its configuration (curl and tftp-hpa, as the phone would ask), then the
directory and the logo over plugtone's HTTP port, following the URLs the phone was given.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningServer, example_server
from tests.emulators.cisco import Cisco7960
from tests.test_cisco_boot import curl_fetch, tftp_hpa_fetch

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


def test_7960_boots_over_real_tftp_and_reads_directory_and_logo_over_http(server, tmp_path):
    for fetch in (curl_fetch(server.tftp_port), tftp_hpa_fetch(server.tftp_port, tmp_path)):
        phone = Cisco7960(MAC)
        phone.boot(fetch)
        assert phone.image == "P0S3-8-12-00"
        assert phone.settings["image_version"] == "P0S3-8-12-00"
        assert phone.settings["proxy1_address"] == "192.168.0.20"
        assert phone.settings["nat_enable"] == "1"
        assert phone.line(1)["name"] == "208"
        assert phone.line(1)["authname"] == "208"
        assert phone.line(1)["password"] == "sip"
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

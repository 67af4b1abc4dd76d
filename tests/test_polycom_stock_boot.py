"""The seed's IP 650 boots from a real ``plugtone serve`` over FTP, without and then with
its release's stock files.

End to end, with the example inventory (extension 201 on ``0004f2000607``): ``plugtone
firmware add`` takes a vendor zip (a fake split SIP 3.2.7 release holding ``sip.cfg``,
``phone1.cfg`` and its own master file in Polycom's XML format) and keeps its stock
files; the phone, logged in with the factory ``PlcmSpIp`` account through Python's
ftplib, boots on plugtone's essentials while it is not pinned (the FTP requests carry no
User-Agent, so nothing says which release it runs); ``plugtone firmware pin`` pins it,
and the next boot reads the release's ``phone1.cfg`` and ``sip.cfg`` after plugtone's
files, the first file listed winning. ``plugtone render`` says which case it is in, and
curl fetches a stock file by another case of its name.
"""

from __future__ import annotations

import ftplib
import io
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer, example_server, need, run_cli
from tests.emulators.polycom import PolycomPhone
from tests.test_polycom_firmware_boot import master, wait_for
from tests.test_polycom_stock import PHONE1_CFG, SIP_CFG, VERSION, release_zip, seed_differences

MAC = "0004f2000607"
COLON_MAC = "00:04:F2:00:06:07"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    with example_server(tmp_path_factory.mktemp("polycom-stock") / "data", ftp=True) as running:
        yield running


class Ftp:
    """The phone's FTP session: ftplib with the factory login, from 127.0.0.1."""

    def __init__(self, server: RunningServer) -> None:
        self.client = ftplib.FTP()
        self.client.connect("127.0.0.1", server.ftp_port, timeout=10)
        self.client.login("PlcmSpIp", "PlcmSpIp")
        self.replies: dict[str, str] = {}

    def fetch(self, name: str) -> bytes | None:
        buffer = io.BytesIO()
        try:
            self.client.retrbinary(f"RETR {name}", buffer.write)
        except ftplib.error_perm as error:
            self.replies[name] = str(error)
            return None
        return buffer.getvalue()

    def upload(self, name: str, content: bytes, append: bool) -> bool:
        try:
            self.client.storbinary(f"{'APPE' if append else 'STOR'} {name}", io.BytesIO(content))
        except ftplib.error_perm:
            return False
        return True

    def boot(self) -> PolycomPhone:
        phone = PolycomPhone(mac=MAC, model="SPIP_650")
        try:
            phone.boot(self.fetch, self.upload)  # fails if a listed file is not served
        finally:
            self.client.quit()
        return phone


def rendered_master(server: RunningServer) -> str:
    return run_cli("render", COLON_MAC, f"{MAC}.cfg", data=server.data).stdout


def test_the_ip650_boots_over_ftp_without_then_with_its_releases_stock_files(server, tmp_path):
    added = run_cli(
        "firmware", "add", "--vendor", "polycom", "--model", "IP650", "--version", VERSION,
        str(release_zip(tmp_path / "zip")), data=server.data,
    ).stdout  # fmt: skip
    assert f"  phone1.cfg  configuration 1  {len(PHONE1_CFG)} bytes" in added
    assert f"  sip.cfg  configuration 2  {len(SIP_CFG)} bytes" in added
    assert "  000000000000.cfg  master" in added and "dictionary" not in added

    # not pinned, and nothing says it runs 3.2.7: plugtone's essentials, no stock file
    link = Ftp(server)
    phone = link.boot()
    assert phone.config_files == [f"{MAC}-reg.cfg", f"{MAC}-site.cfg"]
    assert not seed_differences(phone)
    assert phone.read_from[f"{MAC}-site.cfg"]["voIpProt.SIP.enable"] == "1"
    probe = Ftp(server)
    assert probe.fetch("sip.cfg") is None and probe.replies["sip.cfg"].startswith("550")
    probe.client.quit()
    assert "<!-- no stock files: the site file carries what sip.cfg and phone1.cfg would -->" in (
        rendered_master(server)
    )

    run_cli("firmware", "pin", "--phone", COLON_MAC, VERSION, data=server.data)
    wait_for(lambda: master(server)["CONFIG_FILES"].endswith("sip.cfg"), "the pin to be served")
    phone = Ftp(server).boot()
    assert phone.config_files == [f"{MAC}-reg.cfg", f"{MAC}-site.cfg", "phone1.cfg", "sip.cfg"]
    assert all(found for _, found in phone.fetched), phone.fetched
    assert not seed_differences(phone)  # the seed's parameters either way
    assert "voIpProt.SIP.enable" not in phone.read_from[f"{MAC}-site.cfg"]  # sip.cfg's now
    assert phone.settings["voIpProt.SIP.enable"] == "1"
    assert phone.settings["tone.dtmf.rfc2833Payload"] == "101"  # plugtone's, listed first
    assert phone.settings["lcl.ml.lang"] == "English_United_Kingdom"  # phone1.cfg's
    assert phone.settings["up.welcomeSoundEnabled"] == "1"  # only sip.cfg has it
    assert f"<!-- stock files of release {VERSION} (pinned): phone1.cfg sip.cfg -->" in (
        rendered_master(server)
    )

    # curl, from the address plugtone now knows as the phone's, by another case of the name
    curl = need("curl")
    base = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{server.ftp_port}"
    fetched = subprocess.run([curl, "-s", "-f", f"{base}/SIP.CFG"], capture_output=True,
                             timeout=10)  # fmt: skip
    assert fetched.returncode == 0 and fetched.stdout == SIP_CFG

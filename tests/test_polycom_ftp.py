"""A Polycom SoundPoint boots from a running ``plugtone serve`` over FTP, as in the seed.

The phone logs in with its factory account, reads its master file (or the
000000000000.cfg fallback), every CONFIG_FILES entry in order (first file wins) and
appends its boot log, with Python's ftplib and with curl.
"""

from __future__ import annotations

import ftplib
import io
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer, example_server, need, run_cli
from tests.emulators.polycom import PolycomPhone
from tests.test_polycom_render import SEED_PARAMETERS


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    with example_server(tmp_path_factory.mktemp("polycom") / "data", ftp=True) as running:
        yield running


def ftplib_transport(server: RunningServer):
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.ftp_port, timeout=10)
    client.login("PlcmSpIp", "PlcmSpIp")

    def fetch(name: str) -> bytes | None:
        buffer = io.BytesIO()
        try:
            client.retrbinary(f"RETR {name}", buffer.write)
        except ftplib.error_perm:
            return None
        return buffer.getvalue()

    def upload(name: str, content: bytes, append: bool) -> bool:
        try:
            client.storbinary(f"{'APPE' if append else 'STOR'} {name}", io.BytesIO(content))
        except ftplib.error_perm:
            return False
        return True

    return client, fetch, upload


def test_polycom_ip650_boots_over_ftp_with_ftplib(server):
    client, fetch, upload = ftplib_transport(server)
    phone = PolycomPhone(mac="0004f2000607", model="SPIP_650")
    phone.boot(fetch, upload)
    client.quit()
    assert phone.fetched[0] == ("0004f2000607.cfg", True)
    different = {
        name: (phone.settings.get(name), value)
        for name, value in SEED_PARAMETERS.items()
        if phone.settings.get(name) != value
    }
    assert not different, f"(got, seed) differ: {different}"
    assert phone.uploaded == ["0004f2000607-boot.log"]
    log = (server.data / "serve.log").read_text()
    assert "1212" not in log and "m@x" not in log
    assert ("Operator", "0") in phone.directory
    listing = run_cli("uploads", "00:04:f2:00:06:07", data=server.data).stdout
    assert "0004f2000607-boot.log" in listing


def test_boot_log_is_appended_across_boots(server):
    for _ in range(2):
        client, fetch, upload = ftplib_transport(server)
        PolycomPhone(mac="0004f2000607").boot(fetch, upload)
        client.quit()
    log = run_cli("uploads", "0004f2000607", "--show", "0004f2000607-boot.log", data=server.data)
    assert log.stdout.count("master file read") >= 2


def test_an_unknown_polycom_falls_back_to_the_common_master_and_gets_no_account(server):
    client, fetch, upload = ftplib_transport(server)
    phone = PolycomPhone(mac="0004f2aabbcc")
    phone.boot(fetch, upload)
    client.quit()
    assert phone.fetched[:2] == [("0004f2aabbcc.cfg", False), ("000000000000.cfg", True)]
    assert not any(name.startswith(("reg.", "msg.mwi")) for name in phone.settings)
    assert phone.uploaded == []  # an unassigned phone cannot write to the server


def test_polycom_boots_over_ftp_with_curl(server):
    curl = need("curl")
    base = f"ftp://PlcmSpIp:PlcmSpIp@127.0.0.1:{server.ftp_port}"

    def fetch(name: str) -> bytes | None:
        result = subprocess.run(
            [curl, "-s", "-f", f"{base}/{name}"], capture_output=True, timeout=10
        )
        return result.stdout if result.returncode == 0 else None

    def upload(name: str, content: bytes, append: bool) -> bool:
        command = [curl, "-s", "-f", "-T", "-", f"{base}/{name}"] + (["--append"] if append else [])
        result = subprocess.run(command, input=content, capture_output=True, timeout=10)
        return result.returncode == 0

    phone = PolycomPhone(mac="0004f2000607")
    phone.boot(fetch, upload)
    assert phone.line(1)["auth.userId"] == "201"
    assert phone.line(1)["auth.password"] == "1212"
    assert phone.settings["reg.1.server.1.address"] == "10.100.2.127"
    assert phone.settings["tcpIpApp.sntp.address"] == "time.nist.gov"
    assert phone.settings["dialplan.digitmap"] == SEED_PARAMETERS["dialplan.digitmap"]
    assert phone.uploaded == ["0004f2000607-boot.log"]


def test_factory_accounts_can_be_turned_off_for_the_admins_own(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "plugtone.toml").write_text(
        'ftp_factory_accounts = false\n\n[[ftp_accounts]]\nuser = "phones"\npassword = "Pr0v!"\n'
    )
    with example_server(data, ftp=True) as running:
        client = ftplib.FTP()
        client.connect("127.0.0.1", running.ftp_port, timeout=10)
        with pytest.raises(ftplib.error_perm, match="530"):
            client.login("PlcmSpIp", "PlcmSpIp")
        client.close()
        client = ftplib.FTP()
        client.connect("127.0.0.1", running.ftp_port, timeout=10)
        client.login("phones", "Pr0v!")
        buffer = io.BytesIO()
        client.retrbinary("RETR 0004f2000607.cfg", buffer.write)
        client.quit()
        assert b"CONFIG_FILES" in buffer.getvalue()

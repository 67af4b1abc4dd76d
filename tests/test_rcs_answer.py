"""The redirection service's answers in process, per vendor: what each plug-in writes
for a registered MAC, its branding before the redirect, https where the URL says so,
and one answer for every unknown MAC."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import pytest
from argon2 import PasswordHasher

from plugtone.firmware.repository import FileStore
from plugtone.inventory.store import Store, migrate
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.answer import Redirector
from plugtone.redirect.services import Assignment, Row
from plugtone.vendors import default_registry
from tests.emulators.aastra import parse_aastra

ADMIN = RcsActor("admin", "admin", None, None, "cli")
AASTRA_UA = "Aastra6757i MAC:00-08-5D-00-00-{} V:3.2.2.1136-SIP"
POLYCOM_UA = "FileTransport PolycomSoundPointIP-SPIP_650-UA/3.2.7.0184"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    path = tmp_path_factory.mktemp("rcs-answer")
    store = Store(f"sqlite:///{path}/rcs.db", data_dir=path)
    migrate(store.engine)
    store.dispose()
    return path / "rcs.db"


@pytest.fixture
def setup(migrated, tmp_path, monkeypatch):
    monkeypatch.setattr(rcs, "hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    shutil.copy(migrated, tmp_path / "rcs.db")
    store = Store(f"sqlite:///{tmp_path}/rcs.db", data_dir=tmp_path)
    registry = default_registry()
    rcs.add_account(store, ADMIN, "acme")
    for name, url in (("secure", "https://prov.example.com:8443/acme/phones"),
                      ("files", "ftp://usr:pw@ftp.example.com/cfg"),
                      ("tftp", "tftp://10.0.0.5/ignored")):  # fmt: skip
        rcs.add_server(store, ADMIN, name, url, "acme")
    rcs.save_branding(store, ADMIN, registry, "look",
                      {"aastra": {"web interface title": "Acme Phones"},
                       "polycom": {"up.welcomeSoundEnabled": "0"}}, "acme")  # fmt: skip
    rcs.register_phones(store, ADMIN, [
        Row("00085D000001", Assignment("secure", None, "look")),
        Row("00085D000002", Assignment("files")),
        Row("00085D000003", Assignment("tftp")),
        Row("0004F2000001", Assignment("secure", None, "look")),
        Row("00085D000009", Assignment()),
    ], account="acme")  # fmt: skip
    yield Redirector(store, registry, FileStore(tmp_path / "firmware"))
    store.dispose()


def test_aastra_branding_then_an_https_redirect(setup):
    served = setup.answer("aastra.cfg", AASTRA_UA.format("01"))
    assert served.status == 200
    text = served.body.decode()
    assert text.index("web interface title") < text.index("download protocol")
    assert parse_aastra(text) == {
        "web interface title": "Acme Phones", "download protocol": "HTTPS",
        "https server": "prov.example.com", "https path": "acme/phones", "https port": "8443",
    }  # fmt: skip
    assert setup.answer("startup.cfg", AASTRA_UA.format("01")).body == served.body
    assert setup.answer("00085D000001.cfg", None).body == served.body
    assert setup.answer("6757i.cfg", AASTRA_UA.format("01")).status == 404


def test_aastra_ftp_and_tftp_servers(setup):
    ftp = parse_aastra(setup.answer("00085D000002.cfg", None).body.decode())
    assert ftp == {"download protocol": "FTP", "ftp server": "ftp.example.com",
                   "ftp path": "cfg", "ftp username": "usr", "ftp password": "pw"}  # fmt: skip
    text = setup.answer("00085D000003.cfg", None).body.decode()
    assert parse_aastra(text) == {"download protocol": "TFTP", "tftp server": "10.0.0.5"}
    assert "has no tftp path" in text


def test_unknown_and_unaffiliated_macs_cannot_be_told_apart(setup):
    for name in ("aastra.cfg", "{}.cfg"):
        answers = {
            mac: setup.answer(name.format(f"00085D0000{mac}"), AASTRA_UA.format(mac))
            for mac in ("09", "FF", "AB")
        }
        assert len({(a.status, a.body) for a in answers.values()}) == 1
    assert setup.answer("aastra.cfg", None).status == 200  # no User-Agent: the same blank
    assert setup.answer("0004f20000ff.cfg", POLYCOM_UA).status == 404
    assert setup.answer("000000000000.cfg", POLYCOM_UA).status == 404
    assert setup.answer("../etc/passwd", None).status == 404


def test_polycom_master_and_boot_server(setup):
    master = setup.answer("0004f2000001.cfg", POLYCOM_UA)
    assert master.status == 200
    application = ET.fromstring(master.body)
    assert application.get("CONFIG_FILES") == "0004f2000001-rcs.cfg"
    # no release assigned: the configuration server's own application
    assert application.get("APP_FILE_PATH") == "https://prov.example.com:8443/acme/phones/sip.ld"
    redirect = ET.fromstring(setup.answer("0004f2000001-rcs.cfg", POLYCOM_UA).body)
    assert redirect.attrib == {
        "up.welcomeSoundEnabled": "0", "device.set": "1",
        "device.prov.serverName": "https://prov.example.com:8443/acme/phones",
        "device.prov.serverName.set": "1",
    }  # fmt: skip


def test_contacts_and_redirects_are_counted(setup):
    setup.answer("aastra.cfg", AASTRA_UA.format("01"))
    setup.answer("00085D000001.cfg", AASTRA_UA.format("01"))  # same boot: one contact
    setup.answer("aastra.cfg", AASTRA_UA.format("09"))  # unaffiliated: counted, not redirected
    figures = rcs.stats(setup.store, ADMIN, "acme")
    assert (figures.contacts_day, figures.redirected, figures.unaffiliated) == (2, 1, 1)


def test_polycom_gets_its_assigned_application_from_the_service(setup, tmp_path):
    """The master file names the release's application under firmware/<version>/ (the
    BootROM loads it only if it differs from flash), which the service then serves."""
    from datetime import UTC, datetime

    from plugtone.inventory.models import FirmwareFileRow, FirmwareRelease

    image = b"plugtone-test-image version=3.2.7.0198\n" + bytes(200)
    with open(tmp_path / "sip.ld", "wb") as source, open(tmp_path / "sip.ld", "rb") as read:
        source.write(image)
        source.flush()
        sha256, size = setup.files.put(read)
    with setup.store.sessions() as session:
        session.add(FirmwareRelease(vendor="polycom", version="3.2.7.0198", models=["IP650"],
                                    added_at=datetime.now(UTC), files=[FirmwareFileRow(
                                        name="sip.ld", role="application", sha256=sha256,
                                        size=size)]))  # fmt: skip
        session.commit()
    rcs.register_phones(setup.store, ADMIN, [Row("0004F2000001", Assignment(
        firmware="3.2.7.0198"))], account="acme")  # fmt: skip
    master = ET.fromstring(setup.answer("0004f2000001.cfg", POLYCOM_UA).body)
    assert master.get("APP_FILE_PATH") == "firmware/3.2.7.0198/sip.ld"
    served = setup.answer("firmware/3.2.7.0198/sip.ld", POLYCOM_UA)
    assert served.status == 200 and served.path.read_bytes() == image
    assert setup.answer("firmware/9.9.9/sip.ld", POLYCOM_UA).status == 404


def test_a_mac_sweep_is_answered_as_if_nothing_were_registered(setup):
    registered = setup.answer("00085D000001.cfg", None, "192.0.2.9")
    assert registered.status == 200
    for n in range(101):  # more unregistered MACs than one address may name
        assert setup.answer(f"00085D10{n:04X}.cfg", None, "192.0.2.9").status == 404
    swept = setup.answer("00085D000001.cfg", None, "192.0.2.9")
    stranger = setup.answer("00085D0000EE.cfg", None, "192.0.2.77")
    assert (swept.status, swept.body) == (stranger.status, stranger.body) == (404, b"Not Found\n")
    common = setup.answer("aastra.cfg", AASTRA_UA.format("01"), "192.0.2.9")
    assert b"download protocol" not in common.body
    # another address (the phones of a site) is answered as before
    assert setup.answer("00085D000001.cfg", None, "192.0.2.10").body == registered.body

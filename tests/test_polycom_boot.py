"""A Polycom IP 650 boots through the real resolver over a real store, as in the seed.

The seed (001_986df9d05f6e3806.txt) provisions a SoundPoint IP over FTP from an
AltiGen MAXCS deployment: extension 201 ("Ext_Name", password 1212) on the PBX at
10.100.2.127, SIP port 10060. The inventory below says the same in plugtone's terms;
the phone must end up with the seed's parameters. FTP itself comes later: the
emulator talks to :class:`Resolver` exactly as a transport would (path in, bytes
out; upload names checked by ``upload_target`` and stored by :class:`UploadStore`,
each outcome reported to a :class:`Provisioner`, which ties the address to the phone).

The phones ask from 10.0.0.0/8, a trusted network here, as a phone LAN is in a real
deployment; uploads are accepted only from the address the phone last fetched its
files from. A stranger (192.0.2.0/24) gets no secret and uploads nothing.
"""

from __future__ import annotations

import pytest

from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import load_located
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.provisioning.uploads import UploadStore, UploadTooLarge
from plugtone.services.inventory_apply import apply_document
from plugtone.vendors import VendorRegistry
from plugtone.vendors.aastra import AastraPlugin
from plugtone.vendors.polycom import PolycomPlugin
from tests.emulators.polycom import PolycomPhone
from tests.test_polycom_render import SEED_PARAMETERS

INVENTORY = """
sites:
  - name: altigen
    sip_server: 10.100.2.127:10060
    timezone: America/Los_Angeles
    ntp_servers: [time.nist.gov]
    dial_plan: "0|##|#[1-3]x|#[5-9]x|#41xx|#4[2-9]|[1-7]xx|9[2-9]xxxxxx|91xxxxxxxxxx"
    voicemail: "##"
    conference: conf
    registration_period: 90          # the seed's advice: 600 beyond 100 phones
    directory:
      - {name: Operator, number: "0"}
      - {name: "R&D <lab>", number: "250"}
    vendor_settings:
      polycom: {up.headsetMode: 1}
extensions:
  - {number: "201", site: altigen, name: Ext_Name, password: "1212"}
  - {number: "202", site: altigen, name: Mary, password: "3434"}
  - {number: "3003", site: altigen, name: John 3003, password: "22222"}
phones:
  - {mac: 00:04:f2:00:06:07, model: SPIP_650, site: altigen, lines: ["201"]}
  - {mac: 00-04-F2-00-06-08, model: SoundStation IP 6000, site: altigen, lines: ["202"]}
  - {mac: 00:08:5D:00:00:01, model: 6757i, site: altigen, lines: ["3003"]}
"""
PHONE_LAN = parse_network_rules(["10.0.0.0/8"])


@pytest.fixture
def registry() -> VendorRegistry:
    return VendorRegistry([AastraPlugin(), PolycomPlugin()])


@pytest.fixture
def resolver(store, registry) -> Resolver:
    document, problems = parse_document(load_located(INVENTORY, "x.yaml"), registry)
    assert not problems, "\n".join(map(str, problems))
    with store.sessions() as session:
        apply_document(session, document)
        session.commit()
    return Resolver(store, registry, trusted_networks=PHONE_LAN)


@pytest.fixture
def uploads(tmp_path) -> UploadStore:
    return UploadStore(tmp_path / "uploads")


def ftp(resolver: Resolver, uploads: UploadStore, address: str = "10.0.0.50"):
    """``(fetch, upload)`` as the FTP transport calls the resolver, reporting each
    fetch's outcome as it does (which is what lets a phone upload from its address)."""
    provisioner = Provisioner(resolver, EventRecorder(resolver.store), uploads)

    def fetch(name: str) -> bytes | None:
        request = FileRequest(path=name, transport="ftp", client_address=address)
        answer = resolver.resolve(request)
        found = answer.status is Status.OK
        provisioner.finished(request, answer, "ok" if found else "not_found", answer.size)
        return answer.content if found else None

    def upload(name: str, content: bytes, append: bool) -> bool:
        ref = resolver.upload_target(
            FileRequest(path=name, transport="ftp", client_address=address)
        )
        if ref is None:
            return False
        uploads.save(ref, content, append=append and ref.append_allowed)
        return True

    return fetch, upload


def test_the_seeds_phone_boots_with_the_seeds_parameters(resolver, uploads):
    phone = PolycomPhone(mac="0004f2000607", model="SPIP_650")
    phone.boot(*ftp(resolver, uploads))
    assert phone.fetched == [
        ("0004f2000607.cfg", True),
        ("0004f2000607-reg.cfg", True),
        ("0004f2000607-site.cfg", True),  # no stock file: none listed, none asked for
        ("0004f2000607-directory.xml", True),
    ]
    different = {
        name: (phone.settings.get(name), value)
        for name, value in SEED_PARAMETERS.items()
        if phone.settings.get(name) != value
    }
    assert not different, f"(got, seed) differ: {different}"
    assert phone.settings["up.headsetMode"] == "1"
    assert phone.directory == [
        ("Operator", "0"), ("R&D <lab>", "250"), ("Ext_Name", "201"), ("Mary", "202"),
        ("John 3003", "3003"),
    ]  # fmt: skip
    assert phone.uploaded == ["0004f2000607-boot.log"]
    stored = uploads.root / "0004F2000607" / "0004f2000607-boot.log"
    first = stored.read_bytes()
    assert b"bootrom" in first
    phone.boot(*ftp(resolver, uploads))  # a reboot appends to the log, as APPE does
    assert stored.read_bytes() == first + first


def test_a_second_model_gets_its_own_line(resolver, uploads):
    station = PolycomPhone(mac="0004F2000608", model="SSIP_6000")
    station.boot(*ftp(resolver, uploads))
    assert station.line(1)["address"] == "202"
    assert station.line(1)["auth.password"] == "3434"
    assert "reg.2.address" not in station.settings


def test_an_unknown_phone_falls_back_to_the_common_master_and_gets_no_secret(resolver, uploads):
    stranger = PolycomPhone(mac="0004f2ffffff")
    stranger.boot(*ftp(resolver, uploads, address="10.0.0.99"))
    assert stranger.fetched[:2] == [("0004f2ffffff.cfg", False), ("000000000000.cfg", True)]
    assert stranger.config_files == []  # stock files go to known phones only
    assert not any(name.startswith(("reg.", "msg.")) for name in stranger.settings)
    assert stranger.directory == []  # 000000000000-directory.xml: empty
    assert stranger.uploaded == []  # and it may not fill the disk
    assert not (uploads.root / "0004F2FFFFFF").exists()
    fetch, _ = ftp(resolver, uploads, address="10.0.0.99")
    assert fetch("0004f2ffffff-reg.cfg") is None
    assert fetch("0004f2ffffff-site.cfg") is None


def test_a_stranger_booting_as_the_seeds_phone_gets_no_secret_and_uploads_nothing(
    resolver, uploads
):
    stranger = PolycomPhone(mac="0004f2000607", model="SPIP_650")
    stranger.boot(*ftp(resolver, uploads, address="192.0.2.50"))
    assert stranger.fetched[0] == ("0004f2000607.cfg", True)  # the stranger master file
    assert stranger.config_files == []
    assert not any(name.startswith(("reg.", "msg.")) for name in stranger.settings)
    assert stranger.directory == [] and stranger.uploaded == []
    assert not (uploads.root / "0004F2000607").exists()
    fetch, upload = ftp(resolver, uploads, address="192.0.2.50")
    registration = fetch("0004f2000607-reg.cfg")
    assert registration is not None and b"1212" not in registration and b"201" not in registration
    assert registration == fetch("0004f2ffffff-reg.cfg")  # the same for an unknown MAC
    assert not upload("0004f2000607-phone.cfg", b"<PHONE_CONFIG/>", False)


def test_vendors_share_mac_cfg_names_without_mixing(resolver, uploads):
    fetch, upload = ftp(resolver, uploads)
    aastra = fetch("00085D000001.cfg")
    assert aastra is not None and b"sip line1 user name: 3003" in aastra
    assert fetch("00085d000001-reg.cfg") is None  # a Polycom name for an Aastra phone
    assert fetch("00085d000001-directory.xml") is None
    assert not upload("00085d000001-boot.log", b"x", True)
    polycom = fetch("0004F2000607.CFG")
    assert polycom is not None and polycom.startswith(b"<?xml")


def test_uploads_only_to_declared_names_and_within_their_size(resolver, uploads):
    fetch, upload = ftp(resolver, uploads)
    assert not upload("0004f2000607-phone.cfg", b"<PHONE_CONFIG/>", False)  # not seen here yet
    assert fetch("0004f2000607.cfg") is not None  # as a phone boots: its master file first
    assert upload("0004f2000607-phone.cfg", b"<PHONE_CONFIG><OVERRIDES/></PHONE_CONFIG>", False)
    assert upload("0004F2000607-APP.LOG", b"app started\n", True)
    assert sorted(path.name for path in (uploads.root / "0004F2000607").iterdir()) == [
        "0004f2000607-app.log", "0004f2000607-phone.cfg",
    ]  # fmt: skip
    for name in ("0004f2000607-notes.txt", "../0004f2000607-boot.log", "000000000000-boot.log"):
        assert not upload(name, b"x", False), name
    ref = resolver.upload_target(
        FileRequest(path="0004f2000607-directory.xml", transport="ftp", client_address="10.0.0.50")
    )
    with pytest.raises(UploadTooLarge):
        uploads.save(ref, b"x" * (ref.max_bytes + 1))


def test_the_user_agent_names_the_model_on_http(resolver):
    phone = PolycomPhone(mac="0004f2000607")
    answer = resolver.resolve(
        FileRequest(path="/0004f2000607.cfg", transport="http", user_agent=phone.user_agent,
                    client_address="10.0.0.50")
    )  # fmt: skip
    assert answer.status is Status.OK and answer.vendor == "polycom"
    assert answer.trust is Trust.TRUSTED_NETWORK
    assert (answer.mac, answer.facts.model, answer.facts.firmware_version) == (
        "0004F2000607", "IP650", "3.2.7.0184",
    )  # fmt: skip
    assert answer.content_type == "text/plain; charset=utf-8"

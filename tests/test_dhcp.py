"""``plugtone dhcp``: each vendor's phones, picked out by option 60, get their server.

The snippets are parsed back and the option 66/150/160 values checked per class, the
classes' option-60 tests are run against each vendor's documented option 60, and the
ISC, Kea and dnsmasq outputs go through the servers' own checks (which are shown to
refuse a broken file, so those checks can fail).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from plugtone.inventory.models import AuditEntry
from plugtone.inventory.store import Store, migrate
from plugtone.services.accounts import add_user, create_token
from plugtone.services.actors import local_admin
from plugtone.services.dhcp import PLACEHOLDER, DhcpRequest, dhcp_snippet
from plugtone.services.errors import Conflict, NotFound
from plugtone.settings import load_settings
from plugtone.vendors import default_registry
from plugtone.web.app import create_admin_app
from tests.conftest import apply_text, run_cli

FTP_SECRET = "Hq-ftp-Secret-42"

INVENTORY = f"""
sites:
  - name: mixed
    sip_server: 10.0.0.2
    config_server: tftp://10.0.0.5
    public_url: http://10.0.0.5:8080
    ftp_account: {{user: mixed-phones, password: {FTP_SECRET}}}
  - name: north
    sip_server: 10.1.0.2
    public_url: http://prov.example.com
phones:
  - {{mac: 00:08:5D:00:00:11, model: 6757i, site: mixed}}
  - {{mac: 00:04:F2:00:00:12, model: IP650, site: mixed}}
  - {{mac: 00:1B:D4:00:00:13, model: "7960", site: mixed}}
  - {{mac: 00:08:5D:00:00:21, model: 6731i, site: north}}
"""

OPTION_60 = {
    # Aastra: wazo-provd-plugins dhcpd_update/aastra.conf
    "aastra": b"AastraIPPhone6757i",
    # Cisco 7960 (trailing NUL): wazo-provd-plugins dhcpd_update/cisco.conf
    "cisco79xx": b"Cisco Systems, Inc. IP Phone CP-7960G\x00",
    # Polycom IP601 BootROM, the decode in the SIP 3.1 Administrator's Guide, appendix C
    "polycom": bytes.fromhex("0000363d6f0107")
    + b"Polycom"
    + bytes.fromhex("0215")
    + b"SoundPointIP-SPIP_601"
    + bytes.fromhex("0310")
    + b"2345-11605-001,2"
    + bytes.fromhex("ff"),
}
FACTORY_URL = "ftp://PlcmSpIp:PlcmSpIp@10.0.0.5/"
VALIDATORS = {
    "isc": lambda path, tmp: ["dhcpd", "-t", "-4", "-cf", str(path), "-lf", str(tmp / "leases")],
    "kea": lambda path, tmp: ["kea-dhcp4", "-t", str(path)],
    "dnsmasq": lambda path, tmp: ["dnsmasq", "--test", f"--conf-file={path}"],
}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[Store]:
    """One SQLite store for the rendering tests (they only read it); the secrets test,
    which writes an audit row, runs on SQLite and PostgreSQL with a store of its own."""
    path = tmp_path_factory.mktemp("dhcp")
    store = Store(f"sqlite:///{path / 'plugtone.db'}", data_dir=path)
    migrate(store.engine)
    apply_text(store, INVENTORY)
    yield store
    store.dispose()


def snippet(store, fmt: str, **options) -> str:
    return dhcp_snippet(store, local_admin(), default_registry(), DhcpRequest(fmt, **options))


# -- parsers: class name -> (option-60 tests, {code: value}) ----------------------------


def parse_isc(text: str) -> dict[str, tuple[list[tuple[int, bytes]], dict[int, object]]]:
    codes = {"tftp-server-name": 66}
    for name, code in re.findall(r"^option (\S+) code (\d+) = ", text, re.M):
        codes[name] = int(code)
    found = {}
    for name, body in re.findall(r'^class "([^"]+)" \{\n(.*?)^\}', text, re.M | re.S):
        tests = [
            (int(length), bytes.fromhex(literal.replace(":", "")) if not literal.startswith('"')
             else literal.strip('"').encode())
            for length, literal in re.findall(
                r"substring\(option vendor-class-identifier, 0, (\d+)\) = (\"[^\"]*\"|[0-9a-f:]+)",
                body,
            )
        ]  # fmt: skip
        options: dict[int, object] = {}
        for option, value in re.findall(r"^  option (\S+) (.+);$", body, re.M):
            options[codes[option]] = (
                value.strip('"') if value.startswith('"') else tuple(value.split(", "))
            )
        found[name] = (tests, options)
    return found


def parse_kea(text: str) -> dict[str, tuple[list[tuple[int, bytes]], dict[int, object]]]:
    document = json.loads(text)["Dhcp4"]
    kinds = {d["code"]: d for d in document["option-def"]}
    found = {}
    for item in document["client-classes"]:
        tests = []
        for length, literal in re.findall(
            r"substring\(option\[60\]\.hex,0,(\d+)\) == ('[^']*'|0x[0-9A-F]+)", item["test"]
        ):
            value = (
                literal.strip("'").encode()
                if literal.startswith("'")
                else bytes.fromhex(literal[2:])
            )
            tests.append((int(length), value))
        options: dict[int, object] = {}
        for data in item["option-data"]:
            array = kinds.get(data["code"], {}).get("array")
            options[data["code"]] = tuple(data["data"].split(", ")) if array else data["data"]
        found[item["name"]] = (tests, options)
    return found


def parse_dnsmasq(text: str) -> dict[str, tuple[list[bytes], dict[int, object]]]:
    found: dict[str, tuple[list[bytes], dict[int, object]]] = {}
    for tag, contains in re.findall(r'^dhcp-vendorclass=set:([^,]+),"(.*)"$', text, re.M):
        found[tag] = ([contains.encode()], {})
    for tag, code, value in re.findall(r"^dhcp-option-force=tag:([^,]+),(\d+),(.*)$", text, re.M):
        found[tag][1][int(code)] = (
            value.strip('"') if value.startswith('"') else tuple(value.split(","))
        )
    return found


def matches(fmt: str, tests, option_60: bytes) -> bool:
    if fmt == "dnsmasq":  # a substring match, as dnsmasq's manual says
        return any(text in option_60 for text in tests)
    return any(option_60[:length] == literal for length, literal in tests)


def by_vendor(fmt: str, text: str) -> dict[str, dict[int, object]]:
    """Each vendor's options, found by running the classes' tests on its option 60; each
    vendor's option 60 must fall in exactly one class of the site."""
    classes = {"isc": parse_isc, "kea": parse_kea, "dnsmasq": parse_dnsmasq}[fmt](text)
    found = {}
    for vendor, option_60 in OPTION_60.items():
        hits = [name for name, (tests, _) in classes.items() if matches(fmt, tests, option_60)]
        if hits:
            assert len(hits) == 1, (vendor, hits)
            found[vendor] = classes[hits[0]][1]
    return found


# -- tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["isc", "kea", "dnsmasq"])
def test_each_vendor_gets_its_own_server_and_protocol(fleet, fmt):
    options = by_vendor(fmt, snippet(fleet, fmt, site="mixed"))
    assert options == {
        "aastra": {66: "http://10.0.0.5:8080"},
        "cisco79xx": {150: ("10.0.0.5",), 66: "10.0.0.5"},
        "polycom": {66: FACTORY_URL, 160: FACTORY_URL},
    }


@pytest.mark.parametrize("fmt", ["isc", "kea", "dnsmasq"])
def test_the_real_servers_accept_a_mixed_site_and_refuse_a_broken_file(fleet, fmt, tmp_path):
    text = snippet(fleet, fmt)  # both sites: the mixed one and the Aastra-only one
    assert "mixed-phones:" not in text and FTP_SECRET not in text  # the factory login
    good = tmp_path / f"good.{fmt}"
    good.write_text(text)
    checked = subprocess.run(VALIDATORS[fmt](good, tmp_path), capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = tmp_path / f"broken.{fmt}"
    broken.write_text(text.replace("10.0.0.5", "10.0.0.500"))  # the option 150 address too
    refused = subprocess.run(VALIDATORS[fmt](broken, tmp_path), capture_output=True, text=True)
    assert refused.returncode != 0


def test_site_limits_the_snippet_and_a_name_gets_no_address_list(fleet):
    north = snippet(fleet, "isc", site="north")
    assert "plugtone-mixed" not in north and 'class "plugtone-north-aastra"' in north
    assert by_vendor("isc", north) == {"aastra": {66: "http://prov.example.com"}}
    both = parse_isc(snippet(fleet, "isc"))
    assert sorted(both) == [
        "plugtone-mixed-aastra", "plugtone-mixed-cisco79xx", "plugtone-mixed-polycom",
        "plugtone-north-aastra",
    ]  # fmt: skip
    with pytest.raises(NotFound):
        snippet(fleet, "isc", site="nowhere")
    named = by_vendor("kea", snippet(fleet, "kea", site="mixed", server="prov.example.com"))
    assert named["cisco79xx"] == {66: "prov.example.com"}  # option 150 takes addresses only
    assert named["polycom"][160] == "ftp://PlcmSpIp:PlcmSpIp@prov.example.com/"


def test_a_site_ftp_password_only_with_secrets_and_audited(store):
    apply_text(store, INVENTORY)
    fleet = store
    own = f"ftp://mixed-phones:{FTP_SECRET}@10.0.0.5/"
    with_secrets = by_vendor("dnsmasq", snippet(fleet, "dnsmasq", site="mixed", secrets=True))
    assert with_secrets["polycom"] == {66: own, 160: own}
    with fleet.sessions() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.kind == "disclosure")).all()
    assert [(row.action, row.key) for row in audit] == [("read", "dhcp")]
    no_factory = snippet(fleet, "dnsmasq", site="mixed", factory_ftp=False)
    placeholder = f"ftp://mixed-phones:{PLACEHOLDER}@10.0.0.5/"
    assert by_vendor("dnsmasq", no_factory)["polycom"][160] == placeholder
    assert f"replace {PLACEHOLDER}" in no_factory and FTP_SECRET not in no_factory


def test_a_site_without_a_server_says_how_to_give_one(sqlite_url, tmp_path):
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, "sites:\n  - {name: bare, sip_server: 10.2.0.2}\n")
    with pytest.raises(Conflict, match="--server"):
        snippet(store, "isc")
    text = snippet(store, "kea", server="10.2.0.9")  # no phones yet: every vendor listed
    assert set(by_vendor("kea", text)) == {"aastra", "cisco79xx", "polycom"}


def test_the_windows_script_defines_classes_options_and_values(fleet):
    text = snippet(fleet, "windows", site="mixed")
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert all(line.startswith(("rem ", "set SCOPE=", "netsh dhcp server ")) for line in lines)
    assert 'netsh dhcp server add optiondef 150 "plugtone-option-150" IPADDRESS 1' in text
    assert 'netsh dhcp server add optiondef 160 "plugtone-option-160" STRING 0' in text
    assert (
        'netsh dhcp server add class "plugtone-mixed-aastra" "plugtone" "AastraIPPhone" 1'
    ) in lines
    assert 'netsh dhcp server add class "plugtone-mixed-polycom" "plugtone" 0000363d 1 b' in lines
    values = [line for line in lines if " set optionvalue " in line]
    assert (
        "netsh dhcp server scope %SCOPE% set optionvalue 150 IPADDRESS"
        ' vendor="plugtone-mixed-cisco79xx" 10.0.0.5'
    ) in values
    assert (
        "netsh dhcp server scope %SCOPE% set optionvalue 160 STRING"
        f' vendor="plugtone-mixed-polycom" "{FACTORY_URL}"'
    ) in values
    assert len(values) == 5  # 66 for each vendor, 150 for Cisco, 160 for Polycom


def test_plugtone_dhcp_writes_a_file_dnsmasq_accepts(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(INVENTORY)
    run_cli("apply", str(fleet), data=data)
    out = tmp_path / "phones.conf"
    run_cli("dhcp", "--format", "dnsmasq", "--site", "mixed", "-o", str(out), data=data)
    text = out.read_text()
    assert by_vendor("dnsmasq", text)["cisco79xx"] == {150: ("10.0.0.5",), 66: "10.0.0.5"}
    checked = subprocess.run(["dnsmasq", "--test", f"--conf-file={out}"], capture_output=True)
    assert checked.returncode == 0


def test_the_api_gives_the_same_text_to_a_viewer(fleet):
    add_user(fleet, local_admin(), "eyes", "viewer", "a-long-password-1")
    token, _ = create_token(fleet, local_admin(), "eyes")
    app = create_admin_app(fleet, default_registry(), load_settings())
    expected = snippet(fleet, "kea", site="mixed", ftp_port=load_settings().ftp_port)
    asyncio.run(ask_the_api(app, token, expected))


async def ask_the_api(app, token: str, expected: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://admin"
    ) as client:
        params = {"format": "kea", "site": "mixed"}
        assert (await client.get("/api/dhcp", params=params)).status_code == 401
        headers = {"Authorization": f"Bearer {token}"}
        answer = await client.get("/api/dhcp", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.text == expected
        bad = await client.get("/api/dhcp", params={"format": "bind"}, headers=headers)
        assert bad.status_code == 422

"""The inventory's trust fields on every face: a site's ``trusted_networks`` and a
phone's own login (``http_user``/``http_password``) in the inventory file, its export,
CSV sheets and the API.

The password is a secret like a SIP password: sealed in the store, ``********`` in
every read unless secrets are asked for, kept when a read is sent back, and never in
an error message or the audit log. Bad input gets an error naming its place and
changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from plugtone.inventory.document import parse_document
from plugtone.inventory.models import AuditEntry, Phone, Site
from plugtone.inventory.store import Store, migrate, read_generation
from plugtone.inventory.yaml_source import load_located
from plugtone.provisioning.resolver import FileRequest, Resolver
from plugtone.provisioning.trust import Trust
from plugtone.services.actors import Actor, Role, local_admin
from plugtone.services.csv_export import export_csv
from plugtone.services.csv_import import import_csv
from plugtone.services.errors import Denied, Invalid
from plugtone.services.inventory import apply_inventory, export_inventory, export_inventory_yaml
from plugtone.services.objects import get_entry, list_entries, patch_entry
from plugtone.services.unit_of_work import MASK
from plugtone.vendors import default_registry
from tests.conftest import run_cli, stop_server
from tests.test_api import Api, assert_problem, start_api

LOGIN = "desk-1@hq"
PASSWORD = "Pa$s=w0rd!x"  # a formula start (=) inside, '$', '!' : printable ASCII
OTHER_PASSWORD = "0therPassw0rd"
ADMIN = Actor("ada", Role.ADMIN, "api")
OPERATOR = Actor("otto", Role.OPERATOR, "api")
VIEWER = Actor("vera", Role.VIEWER, "api")

BASE = (
    """\
sites:
  - name: hq
    sip_server: 10.0.0.1
    trusted_networks:
      - 192.0.2.0/24
      - {network: "2001:db8::/32", transports: [tftp, https]}
  - {name: branch, sip_server: 10.0.0.2}
extensions:
  - {number: "3003", site: hq, password: sip-3003}
phones:
  - {mac: 00085D000001, model: 6757i, site: hq, lines: ["3003"],
     http_user: LOGIN, http_password: 'PASSWORD'}
  - {mac: 00085D000002, model: 6731i, site: hq}
  - {mac: 0004F2000001, model: IP650, site: branch, http_user: branch-1,
     http_password: OTHER}
""".replace("LOGIN", LOGIN)
    .replace("PASSWORD", PASSWORD)
    .replace("OTHER", OTHER_PASSWORD)
)


def parse(text: str, name: str = "inventory.yaml"):
    return parse_document(load_located(text, name), default_registry())


def apply(store: Store, text: str, actor: Actor = ADMIN, **options):
    document, problems = parse(text)
    if problems:
        raise Invalid(problems)
    return apply_inventory(store, actor, document, default_registry(), **options)


def problems_of(text: str) -> list[str]:
    return [str(problem) for problem in parse(text)[1]]


def stored_logins(store: Store) -> dict[str, tuple[str | None, str | None]]:
    with store.sessions() as session:
        return {
            mac: (user, password)
            for mac, user, password in session.execute(
                select(Phone.mac, Phone.http_user, Phone.http_password)
            )
        }


def generation(store: Store) -> int:
    with store.sessions() as session:
        return read_generation(session)


@pytest.fixture
def base(store) -> Store:
    apply(store, BASE)
    return store


@pytest.fixture
def lite(sqlite_url, tmp_path) -> Iterator[Store]:
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply(store, BASE)
    yield store
    store.dispose()


# -- the inventory file


def test_the_fields_are_stored_exported_masked_and_apply_back_unchanged(base):
    assert stored_logins(base)["00085D000001"] == (LOGIN, PASSWORD)
    with base.sessions() as session:
        networks = session.scalar(select(Site.trusted_networks).where(Site.name == "hq"))
    assert networks == ["192.0.2.0/24", {"network": "2001:db8::/32",
                                         "transports": ["https", "tftp"]}]  # fmt: skip
    masked = export_inventory_yaml(base, ADMIN)
    assert PASSWORD not in masked and OTHER_PASSWORD not in masked
    assert f"http_user: {LOGIN}" in masked and f"http_password: '{MASK}'" in masked
    assert "- 192.0.2.0/24" in masked and "2001:db8::/32" in masked
    before = generation(base)
    assert apply(base, masked).changes == []  # the mask keeps the stored password
    assert generation(base) == before
    assert stored_logins(base)["00085D000001"] == (LOGIN, PASSWORD)

    revealed = export_inventory_yaml(base, ADMIN, secrets=True)
    assert f"http_password: {PASSWORD}" in revealed or repr(PASSWORD) in revealed
    assert apply(base, revealed).changes == []
    with pytest.raises(Denied):
        export_inventory(base, OPERATOR, secrets=True)


def test_changing_a_login_is_audited_without_the_password(lite):
    text = BASE.replace(PASSWORD, "N3w-password")
    result = apply(lite, text)
    assert [str(change) for change in result.changes] == [
        "update phone 00085D000001: http_password changed"]  # fmt: skip
    result = apply(lite, text.replace(f"http_user: {LOGIN}", "http_user: renamed"))
    assert [str(change) for change in result.changes] == [
        f"update phone 00085D000001: http_user: {LOGIN!r} -> 'renamed'"]  # fmt: skip
    with lite.sessions() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.kind == "phone").order_by(AuditEntry.id)
        ).all()
    dumped = json.dumps([[row.summary, row.before, row.after] for row in rows])
    assert PASSWORD not in dumped and "N3w-password" not in dumped
    assert OTHER_PASSWORD not in dumped
    assert rows[-1].after["http_password"] == MASK and rows[-1].after["http_user"] == "renamed"
    assert stored_logins(lite)["00085D000001"] == ("renamed", "N3w-password")


def test_the_password_is_sealed_at_rest(lite, sqlite_url):
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    lite.dispose()
    raw = b"".join(
        path.read_bytes() for path in (database, *database.parent.glob(database.name + "-*"))
    )
    assert PASSWORD.encode() not in raw and OTHER_PASSWORD.encode() not in raw
    assert LOGIN.encode() in raw  # the login is no secret


def test_two_phones_may_trade_logins_in_one_apply(base):
    swapped = (
        BASE.replace(f"http_user: {LOGIN}", "http_user: TMP")
        .replace("http_user: branch-1", f"http_user: {LOGIN}")
        .replace("http_user: TMP", "http_user: branch-1")
    )
    result = apply(base, swapped)
    assert len(result.changes) == 2
    logins = stored_logins(base)
    assert logins["00085D000001"] == ("branch-1", PASSWORD)
    assert logins["0004F2000001"] == (LOGIN, OTHER_PASSWORD)


def test_a_login_is_one_phones_only(lite):
    before = (generation(lite), stored_logins(lite))
    twice = BASE.replace("http_user: branch-1", f"http_user: {LOGIN}")
    found = problems_of(twice)
    assert any(f"provisioning login (http_user) {LOGIN!r} is already defined at" in p
               for p in found), found  # fmt: skip
    taken = f"phones:\n  - {{mac: 00085D000002, model: 6731i, site: hq, http_user: {LOGIN}," \
            " http_password: abc}\n"  # fmt: skip
    with pytest.raises(Invalid) as refused:
        apply(lite, taken)
    message = str(refused.value.problems[0])
    assert f"{LOGIN!r} already belongs to phone 00:08:5D:00:00:01" in message
    assert PASSWORD not in message
    assert (generation(lite), stored_logins(lite)) == before


@pytest.mark.parametrize(
    ("fields", "wanted"),
    [
        ("http_user: a, http_password: '123456789012345678901'",
         "a provisioning password is 1 to 20 characters (this one has 21)"),
        ("http_user: a, http_password: 'has space'", "printable ASCII, without spaces"),
        ("http_user: a, http_password: 'pässwörd'", "printable ASCII, without spaces"),
        ("http_user: a, http_password: 'say\"hi'", "without spaces, quotes or backslashes"),
        ("http_user: a, http_password: 'back\\slash'", "without spaces, quotes or backslashes"),
        ("http_user: a, http_password: ''", "1 to 20 characters (this one has 0)"),
        ("http_user: a, http_password: [x]", "expected text"),
        (f"http_user: {'u' * 41}, http_password: x", "is not a valid login (1-40 letters"),
        ("http_user: 'bad user', http_password: x", "is not a valid login"),
        ("http_user: '-lead', http_password: x", "is not a valid login"),
        ("http_user: solo", "http_user needs an http_password"),
        ("http_password: lonely", "http_password needs an http_user"),
    ],
)  # fmt: skip
def test_bad_logins_are_refused_by_field_and_never_echo_the_password(lite, fields, wanted):
    text = f"phones:\n  - {{mac: 00085D000002, model: 6731i, site: hq, {fields}}}\n"
    found = problems_of(text)
    assert len(found) == 1 and wanted in found[0], found
    assert found[0].startswith("inventory.yaml:2:")
    for secret in ("123456789012345678901", "has space", "pässwörd", "lonely"):
        assert secret not in found[0]
    before = stored_logins(lite)
    with pytest.raises(Invalid):
        apply(lite, text)
    assert stored_logins(lite) == before


def test_a_mask_for_a_phone_with_no_stored_password_is_refused(lite):
    text = f"phones:\n  - {{mac: 00085D000002, model: 6731i, site: hq, http_user: x," \
           f" http_password: '{MASK}'}}\n"  # fmt: skip
    with pytest.raises(Invalid) as refused:
        apply(lite, text)
    assert "http_password is '********'" in str(refused.value.problems[0])
    assert stored_logins(lite)["00085D000002"] == (None, None)


@pytest.mark.parametrize(
    ("entry", "wanted"),
    [
        ("10.1.2.3/8", "'10.1.2.3/8' is not a network (10.1.2.3/8 has host bits set)"),
        ("10.0.0.0/33", "is not a network"),
        ("my-lan", "'my-lan' is not a network"),
        ("{network: 10.0.0.0/8, transports: [gopher]}", "unknown transport 'gopher'"),
        ("{network: 10.0.0.0/8, port: 69}", "unknown field(s) port"),
        ("{transports: [tftp]}", "expected a network such as 10.0.0.0/8"),
        ("42", "expected a network such as 10.0.0.0/8"),
    ],
)  # fmt: skip
def test_bad_trusted_networks_are_refused_at_their_entry(lite, entry, wanted):
    text = f"sites:\n  - name: hq\n    sip_server: 10.0.0.1\n    trusted_networks:\n" \
           f"      - 192.0.2.0/24\n      - {entry}\n"  # fmt: skip
    found = problems_of(text)
    assert found == [f"inventory.yaml:6:9: {wanted}"] or (
        len(found) == 1 and found[0].startswith("inventory.yaml:6:") and wanted in found[0]
    ), found
    with lite.sessions() as session:
        before = session.scalar(select(Site.trusted_networks).where(Site.name == "hq"))
    with pytest.raises(Invalid):
        apply(lite, text)
    with lite.sessions() as session:
        assert session.scalar(select(Site.trusted_networks).where(Site.name == "hq")) == before


def test_a_list_of_networks_is_required_and_bounded():
    base = "sites:\n  - name: hq\n    sip_server: 10.0.0.1\n    trusted_networks: "
    assert "expected a list of networks" in problems_of(base + "10.0.0.0/8\n")[0]
    many = "[" + ", ".join(f"10.{i // 256}.{i % 256}.0/24" for i in range(257)) + "]\n"
    assert "more than 256 networks" in problems_of(base + many)[0]


def test_the_resolver_trusts_what_the_inventory_says(lite):
    resolver = Resolver(lite, default_registry())
    resolver.refresh(force=True)
    phone = resolver.phone("00085D000001")

    def trust(address: str, transport: str) -> Trust:
        request = FileRequest(path="x.cfg", transport=transport, client_address=address)
        return resolver.trust_for(request, phone.mac, phone)[0]

    assert trust("192.0.2.77", "http") is Trust.TRUSTED_NETWORK
    assert trust("192.0.3.1", "http") is Trust.STRANGER
    assert trust("2001:db8::5", "tftp") is Trust.TRUSTED_NETWORK
    assert trust("2001:db8::5", "http") is Trust.STRANGER  # that rule is tftp and https only
    assert resolver.device_login(LOGIN, PASSWORD) == "00085D000001"
    assert resolver.device_login(LOGIN, "wrong") is None


# -- one entry at a time (what the API does)


def test_entries_show_the_mask_unless_an_admin_asks_and_a_patch_keeps_the_password(lite):
    entry = get_entry(lite, VIEWER, "phone", "00085D000001")
    assert (entry["http_user"], entry["http_password"]) == (LOGIN, MASK)
    assert get_entry(lite, ADMIN, "phone", "00085D000001", secrets=True)["http_password"] == (
        PASSWORD
    )
    with pytest.raises(Denied):
        get_entry(lite, OPERATOR, "phone", "00085D000001", secrets=True)
    items = list_entries(lite, VIEWER, "phone").items
    assert {item.get("http_password") for item in items} == {MASK, None}
    revealed = list_entries(lite, ADMIN, "phone", secrets=True).items
    assert {item.get("http_password") for item in revealed} == {PASSWORD, OTHER_PASSWORD, None}
    with lite.sessions() as session:
        disclosures = session.scalars(
            select(AuditEntry.key).where(AuditEntry.kind == "disclosure")
        ).all()
    assert disclosures == ["phone 00085D000001", "phones"]

    patch_entry(lite, OPERATOR, default_registry(), "phone", "00085D000001",
                {"description": "by the window"})  # fmt: skip
    assert stored_logins(lite)["00085D000001"] == (LOGIN, PASSWORD)
    patch_entry(lite, OPERATOR, default_registry(), "phone", "00085D000001",
                {"http_user": None, "http_password": None})  # fmt: skip
    assert stored_logins(lite)["00085D000001"] == (None, None)


# -- CSV sheets


def sheet_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_phone_sheet_carries_the_login_masked_and_imports_back_unchanged(lite):
    sheet = export_csv(lite, local_admin(), "phones")
    rows = {row["mac"]: row for row in sheet_rows(sheet)}
    assert list(rows["00:08:5D:00:00:01"])[-2:] == ["http_user", "http_password"]
    assert (rows["00:08:5D:00:00:01"]["http_user"], rows["00:08:5D:00:00:01"]["http_password"]) \
        == (LOGIN, MASK)  # fmt: skip
    assert PASSWORD not in sheet
    report = import_csv(lite, local_admin(), sheet.encode(), default_registry(),
                        filename="phones.csv")  # fmt: skip
    assert report.accepted and report.totals["unchanged"] == 3, report.problems
    assert stored_logins(lite)["00085D000001"] == (LOGIN, PASSWORD)
    revealed = export_csv(lite, local_admin(), "phones", secrets=True)
    assert PASSWORD in revealed


def test_a_sheet_sets_logins_keeps_them_when_silent_and_names_a_bad_cell(lite):
    sheet = "mac,model,site,http_user,http_password\n00085D000002,6731i,hq,desk-2,S3cret-2\n"
    report = import_csv(lite, ADMIN, sheet.encode(), default_registry(), filename="p.csv")
    assert report.accepted and report.totals["updated"] == 1
    assert stored_logins(lite)["00085D000002"] == ("desk-2", "S3cret-2")

    silent = "mac,model,site,description\n00085D000002,6731i,hq,reception\n"
    assert import_csv(lite, ADMIN, silent.encode(), default_registry(), filename="p.csv").accepted
    assert stored_logins(lite)["00085D000002"] == ("desk-2", "S3cret-2")

    overlong = "X" * 25
    bad = ("mac,model,site,http_user,http_password\n"
           f"00085D000002,6731i,hq,desk-2,{overlong}\n"
           f"00085D000001,6757i,hq,{LOGIN},{MASK}\n")  # fmt: skip
    report = import_csv(lite, ADMIN, bad.encode(), default_registry(), filename="p.csv")
    assert not report.accepted
    (error,) = report.problems
    assert (error.row, error.column_name) == (2, "http_password")
    assert "1 to 20 characters (this one has 25)" in error.message
    assert overlong not in str(report.problems) and error.value is None
    assert stored_logins(lite)["00085D000002"] == ("desk-2", "S3cret-2")

    taken = f"mac,model,site,http_user,http_password\n00085D000002,6731i,hq,{LOGIN},abc\n"
    report = import_csv(lite, ADMIN, taken.encode(), default_registry(), filename="p.csv")
    assert not report.accepted
    assert "already belongs to phone 00:08:5D:00:00:01" in report.problems[0].message
    assert report.problems[0].row == 2


def test_the_cli_exports_a_masked_sheet_and_applies_the_file(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(BASE)
    out = run_cli("apply", str(inventory), data=data)
    assert PASSWORD not in out.stdout + out.stderr
    sheet = run_cli("export", "--format", "csv", data=data).stdout
    assert MASK in sheet and PASSWORD not in sheet
    assert PASSWORD in run_cli("export", "--format", "csv", "--with-secrets", data=data).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("192.0.2.0/24", "192.0.2.1/24"))
    refused = run_cli("apply", str(bad), data=data, check=False)
    assert refused.returncode == 1
    assert f"{bad}:5:9: '192.0.2.1/24' is not a network (192.0.2.1/24 has host bits set)" in (
        refused.stderr
    )


# -- the API


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    started = start_api(tmp_path / "data", monkeypatch)
    inventory = started.server.data / "base.yaml"
    inventory.write_text(BASE)
    run_cli("apply", str(inventory), data=started.server.data)
    yield started
    stop_server(started.server)


def test_the_api_reads_masks_reveals_and_refuses_by_field(api):
    client = api.client()
    phone = client.get("/api/phones/00085D000001").json()
    assert (phone["http_user"], phone["http_password"]) == (LOGIN, MASK)
    revealed = client.get("/api/phones/00085D000001", params={"secrets": "true"}).json()
    assert revealed["http_password"] == PASSWORD
    listed = client.get("/api/phones", params={"site": "hq"}).json()["items"]
    assert PASSWORD not in json.dumps(listed)
    viewer = api.client(api.token_for("vera", "viewer"))
    assert_problem(viewer.get("/api/phones/00085D000001", params={"secrets": "true"}), 403)

    site = client.get("/api/sites/hq").json()
    assert site["trusted_networks"][0] == "192.0.2.0/24"
    answer = client.patch("/api/sites/hq", json={"trusted_networks": ["10.0.0.1/8"]})
    body = assert_problem(answer, 422)
    assert body["errors"] == [{"field": "trusted_networks[0]",
                               "message": "'10.0.0.1/8' is not a network (10.0.0.1/8 has host"
                                          " bits set)"}]  # fmt: skip
    answer = client.patch("/api/phones/00085D000002", json={"http_user": LOGIN,
                                                            "http_password": "abc"})  # fmt: skip
    body = assert_problem(answer, 422)
    assert "already belongs to phone 00:08:5D:00:00:01" in json.dumps(body)
    long = "Y" * 30
    answer = client.patch("/api/phones/00085D000002", json={"http_user": "x",
                                                            "http_password": long})  # fmt: skip
    body = assert_problem(answer, 422)
    assert body["errors"][0]["field"] == "http_password" and long not in answer.text
    # a read sent back keeps the password, and a new one is taken
    phone["description"] = "reception"
    assert client.put("/api/phones/00085D000001", json=phone).status_code == 200
    answer = client.patch("/api/phones/00085D000001", json={"http_password": "fresh-one"})
    assert answer.status_code == 200, answer.text
    assert "http_password changed" in answer.text and "fresh-one" not in answer.text
    with api.server.store().sessions() as session:
        count = session.scalar(select(func.count(Phone.id)).where(Phone.http_user == LOGIN))
        assert count == 1
    assert "fresh-one" not in api.log() and PASSWORD not in api.log()

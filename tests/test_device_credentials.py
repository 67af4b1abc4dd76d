"""Per-device provisioning logins, generated and shown once: ``plugtone credentials``
and ``POST /api/phones/{mac}/credentials``.

A login is the MAC in lower case and 20 random letters and digits; it is stored
sealed, shown in the one answer that made it, audited without the password, and then
read back only as ``********``. Phones that have one are skipped unless replaced.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from plugtone.inventory.models import AuditEntry, Phone
from plugtone.inventory.store import Store, migrate, read_generation
from plugtone.provisioning.resolver import Resolver
from plugtone.services.actors import Actor, Role
from plugtone.services.credentials import (
    PASSWORD_LENGTH,
    clear_credentials,
    generate_credentials,
    new_password,
)
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound
from plugtone.services.inventory import export_inventory_yaml
from plugtone.services.unit_of_work import MASK
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text, need, run_cli, start_server, stop_server
from tests.test_api import Api, assert_problem, start_api

ADMIN = Actor("ada", Role.ADMIN, "api")
OPERATOR = Actor("otto", Role.OPERATOR, "api")
VIEWER = Actor("vera", Role.VIEWER, "api")
HQ = ("00085D000001", "00085D000002")
POLYCOM, CISCO = "0004F2000607", "00115C93AFD1"
ALNUM = re.compile(r"^[A-Za-z0-9]{20}$")


@pytest.fixture
def example(store) -> Store:
    apply_text(store, EXAMPLE.read_text())
    return store


@pytest.fixture
def lite(sqlite_url, tmp_path) -> Iterator[Store]:
    store = Store(sqlite_url, data_dir=tmp_path)
    migrate(store.engine)
    apply_text(store, EXAMPLE.read_text())
    yield store
    store.dispose()


def logins(store: Store) -> dict[str, tuple[str | None, str | None]]:
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


def audit_rows(store: Store) -> list[AuditEntry]:
    with store.sessions() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == "credentials").order_by(AuditEntry.id)
            )
        )


def test_passwords_are_twenty_random_letters_and_digits():
    made = {new_password() for _ in range(200)}
    assert len(made) == 200 and all(ALNUM.match(password) for password in made)
    assert PASSWORD_LENGTH == 20
    alphabet = set("".join(made))
    assert len(alphabet) > 55  # all 62 are drawn on: no narrowed alphabet


def test_a_site_gets_logins_stored_sealed_audited_without_them_and_checked_by_the_resolver(
    example,
):
    before = generation(example)
    result = generate_credentials(example, OPERATOR, site="hq")
    assert [login.mac for login in result.issued] == list(HQ) and result.skipped == ()
    assert generation(example) == before + 1 == result.generation
    for login in result.issued:
        assert login.user == login.mac.lower() and ALNUM.match(login.password)
        assert login.password not in repr(login)
    stored = logins(example)
    assert {mac: stored[mac] for mac in HQ} == {
        login.mac: (login.user, login.password) for login in result.issued
    }
    assert stored[POLYCOM] == (None, None)  # another site's phone

    rows = audit_rows(example)
    assert [(row.kind, row.key, row.actor, row.summary) for row in rows] == [
        ("phone", mac, "otto", "provisioning login generated") for mac in HQ
    ]
    dumped = json.dumps([[row.summary, row.before, row.after] for row in rows])
    assert all(login.password not in dumped for login in result.issued)
    assert rows[0].after == {"http_user": HQ[0].lower(), "http_password": MASK}

    exported = export_inventory_yaml(example, ADMIN)
    assert all(login.password not in exported for login in result.issued)
    assert f"http_user: {HQ[0].lower()}" in exported

    resolver = Resolver(example, default_registry())
    resolver.refresh(force=True)
    first = result.issued[0]
    assert resolver.device_login(first.user, first.password) == first.mac
    assert resolver.device_login(first.user, result.issued[1].password) is None


def test_phones_with_a_login_are_skipped_unless_replaced(lite):
    first = generate_credentials(lite, ADMIN, [HQ[0]])
    again = generate_credentials(lite, ADMIN, ["00:08:5d:00:00:01", HQ[1]])
    assert again.skipped == (HQ[0],) and [login.mac for login in again.issued] == [HQ[1]]
    assert logins(lite)[HQ[0]][1] == first.issued[0].password
    nothing = generate_credentials(lite, ADMIN, [HQ[0]])
    assert (nothing.issued, nothing.skipped, nothing.generation) == ((), (HQ[0],), None)
    replaced = generate_credentials(lite, ADMIN, [HQ[0]], replace=True)
    assert replaced.issued[0].password != first.issued[0].password
    assert logins(lite)[HQ[0]] == (HQ[0].lower(), replaced.issued[0].password)
    assert audit_rows(lite)[-1].summary == "provisioning login replaced"


def test_a_replaced_login_frees_its_name_and_a_taken_one_is_refused(lite):
    apply_text(lite, EXAMPLE.read_text().replace(
        '    lines: ["3003"]\n',
        f'    lines: ["3003"]\n    http_user: {HQ[1].lower()}\n    http_password: typed-in\n',
        1,
    ))  # fmt: skip
    assert logins(lite)[HQ[0]] == (HQ[1].lower(), "typed-in")
    before = (generation(lite), logins(lite))
    with pytest.raises(Conflict, match=r"'00085d000002' belongs to phone 00:08:5D:00:00:01"):
        generate_credentials(lite, ADMIN, [HQ[1]])
    assert (generation(lite), logins(lite)) == before
    both = generate_credentials(lite, ADMIN, list(HQ), replace=True)  # the holder moves too
    assert {login.mac: login.user for login in both.issued} == {mac: mac.lower() for mac in HQ}


def test_unknown_or_bad_macs_are_refused_all_named_and_nothing_changes(lite):
    before = (generation(lite), logins(lite), len(audit_rows(lite)))
    with pytest.raises(NotFound) as refused:
        generate_credentials(lite, ADMIN, [HQ[0], "00:08:5D:99:00:01", "00085d990002"])
    assert str(refused.value) == "not phones in the inventory: 00:08:5D:99:00:01, 00:08:5D:99:00:02"
    with pytest.raises(Invalid) as refused:
        generate_credentials(lite, ADMIN, ["zz"])
    assert refused.value.problems[0].where == "macs[0]"
    with pytest.raises(NotFound, match="no site nowhere"):
        generate_credentials(lite, ADMIN, site="nowhere")
    with pytest.raises(Invalid):
        generate_credentials(lite, ADMIN, [HQ[0]], site="hq")
    with pytest.raises(Denied, match="operator"):
        generate_credentials(lite, VIEWER, [HQ[0]])
    assert (generation(lite), logins(lite), len(audit_rows(lite))) == before


def test_clearing_removes_the_login_and_says_which_had_none(lite):
    generate_credentials(lite, ADMIN, [HQ[0], CISCO])
    result = clear_credentials(lite, OPERATOR, [HQ[0], HQ[1]])
    assert (result.cleared, result.without) == ((HQ[0],), (HQ[1],))
    assert logins(lite)[HQ[0]] == (None, None) and logins(lite)[CISCO][0] == CISCO.lower()
    assert audit_rows(lite)[-1].summary == "provisioning login cleared"
    assert audit_rows(lite)[-1].after == {"http_user": None, "http_password": None}
    nothing = clear_credentials(lite, OPERATOR, [HQ[0]])
    assert (nothing.cleared, nothing.generation) == ((), None)
    with pytest.raises(Denied):
        clear_credentials(lite, VIEWER, [CISCO])


# -- the CLI


def test_the_cli_prints_logins_once_as_a_table_or_csv_and_never_again(tmp_path):
    data = tmp_path / "data"
    run_cli("init", data=data)
    run_cli("apply", str(EXAMPLE), data=data)
    out = run_cli("credentials", "generate", "00:08:5D:00:00:01", data=data)
    header, row = out.stdout.splitlines()
    assert header.split() == ["MAC", "USER", "PASSWORD"]
    mac, user, password = row.split()
    assert (mac, user) == ("00:08:5D:00:00:01", "00085d000001") and ALNUM.match(password)
    assert "shown this once" in out.stderr and password not in out.stderr

    out = run_cli("credentials", "generate", "--site", "hq", "--format", "csv", data=data)
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [(r["mac"], r["http_user"]) for r in rows] == [("00:08:5D:00:00:02", "00085d000002")]
    assert "skipped 00:08:5D:00:00:01: it has a login already (--replace" in out.stderr
    second = rows[0]["http_password"]

    shown = run_cli("export", data=data).stdout + run_cli("events", data=data).stdout
    shown += run_cli("export", "--format", "csv", data=data).stdout
    assert password not in shown and second not in shown and "00085d000002" in shown
    assert password in run_cli("export", "--with-secrets", data=data).stdout

    out = run_cli("credentials", "generate", "00085D000001", "--replace", data=data)
    assert out.stdout.splitlines()[1].split()[2] != password
    refused = run_cli("credentials", "generate", "00:08:5D:99:00:01", data=data, check=False)
    assert refused.returncode == 1
    assert "not phones in the inventory: 00:08:5D:99:00:01" in refused.stderr
    assert "name phones by MAC" in run_cli("credentials", "generate", data=data,
                                           check=False).stderr  # fmt: skip
    out = run_cli("credentials", "clear", "00085D000001", "00115C93AFD1", data=data)
    assert out.stdout == "cleared the login of 00:08:5D:00:00:01\n"
    assert "00:11:5C:93:AF:D1 had no login" in out.stderr


# -- the API


@pytest.fixture
def api(tmp_path, monkeypatch) -> Iterator[Api]:
    started = start_api(tmp_path / "data", monkeypatch)
    run_cli("apply", str(EXAMPLE), data=started.server.data)
    yield started
    stop_server(started.server)


def test_the_api_makes_a_login_once_for_operators(api):
    operator = api.client(api.token_for("otto", "operator"))
    viewer = api.client(api.token_for("vera", "viewer"))
    assert_problem(viewer.post("/api/phones/00085D000001/credentials"), 403)

    answer = operator.post("/api/phones/00-08-5d-00-00-01/credentials")
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert set(made) == {"mac", "http_user", "http_password"}
    assert (made["mac"], made["http_user"]) == ("00085D000001", "00085d000001")
    assert ALNUM.match(made["http_password"]) and answer.headers["cache-control"] == "no-store"

    body = assert_problem(operator.post("/api/phones/00085D000001/credentials"), 409)
    assert "replace=true" in body["detail"]
    phone = viewer.get("/api/phones/00085D000001").json()
    assert (phone["http_user"], phone["http_password"]) == ("00085d000001", MASK)
    again = operator.post("/api/phones/00085D000001/credentials", params={"replace": "true"})
    assert again.status_code == 201 and again.json()["http_password"] != made["http_password"]
    assert_problem(operator.post("/api/phones/00085D990001/credentials"), 404)
    assert_problem(operator.post("/api/phones/not-a-mac/credentials"), 422)

    assert_problem(viewer.delete("/api/phones/00085D000001/credentials"), 403)
    assert operator.delete("/api/phones/00085D000001/credentials").status_code == 204
    assert "http_user" not in viewer.get("/api/phones/00085D000001").json()
    audit = api.client().get("/api/audit", params={"key": "00085D000001"}).json()["items"]
    assert [row["summary"] for row in audit][:3] == [
        "provisioning login cleared", "provisioning login replaced",
        "provisioning login generated",
    ]  # fmt: skip
    everything = json.dumps(audit) + api.log()
    assert made["http_password"] not in everything
    assert again.json()["http_password"] not in everything


# -- end to end: a generated login is what the phone then authenticates with


def test_a_generated_login_authenticates_the_phone_with_a_real_server(tmp_path):
    data = tmp_path / "data"
    server = start_server(data, trusted=False)
    try:
        run_cli("apply", str(EXAMPLE), data=data)
        out = run_cli("credentials", "generate", "00:08:5D:00:00:01", "--format", "csv",
                      data=data).stdout  # fmt: skip
        (row,) = csv.DictReader(io.StringIO(out))
        ua = "Aastra6757i MAC:00-08-5D-00-00-01 V:3.2.2.1136-SIP"

        def fetch(password: str) -> tuple[str, str]:
            command = [need("curl"), "-s", "--digest", "-u", f"{row['http_user']}:{password}",
                       "-A", ua, "-w", "\n%{http_code}", f"{server.base}/00085D000001.cfg"]  # fmt: skip
            body, _, status = subprocess.run(command, capture_output=True, text=True,
                                             timeout=30).stdout.rpartition("\n")  # fmt: skip
            return status, body

        deadline = time.monotonic() + 5
        while fetch(row["http_password"])[0] != "200" and time.monotonic() < deadline:
            time.sleep(0.1)  # the resolver rereads the generation twice a second
        status, body = fetch(row["http_password"])
        assert status == "200" and "sip line1 password: 22222" in body
        status, body = fetch("not-the-password")
        assert status == "401" and "22222" not in body
        deadline = time.monotonic() + 10
        while True:
            lines = run_cli("events", "--secrets", data=data).stdout.splitlines()
            if len(lines) > 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert lines[1].split()[2:] == ["00:08:5D:00:00:01", "/00085D000001.cfg", "127.0.0.1",
                                        "authenticated", "http"]  # fmt: skip
        assert row["http_password"] not in (data / "serve.log").read_text()
    finally:
        stop_server(server)

"""The redirection service's operations, in process on SQLite and PostgreSQL: roles as
the vendor's table of functions gives them, tenancy, field rules, bulk outcomes."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from plugtone.inventory.models import FirmwareRelease
from plugtone.inventory.store import Store, migrate
from plugtone.redirect import passwords
from plugtone.redirect import services as rcs
from plugtone.redirect.actors import RcsActor
from plugtone.redirect.services import Assignment, Row
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound

ADMIN = RcsActor("admin", "admin", None, None, "cli")
PASSWORD = "correct horse battery"


def login(store, email: str) -> RcsActor:
    name, _, domain = email.partition("@")
    label, dot, tld = domain.partition(".")
    actor = passwords.verify_login(store, f"{name}@{label}{SUFFIX}{dot}{tld}", PASSWORD)
    assert actor is not None
    return actor


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    """argon2 at its smallest cost: these tests are about who may do what, not the hash."""
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(rcs, "hasher", quick)
    monkeypatch.setattr(passwords, "hasher", quick)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A migrated SQLite file, copied for each test (migrating is most of a test's cost).
    PostgreSQL runs the same service code: tests/test_migrations.py checks its schema and
    test_postgres_runs_the_same_services below one flow."""
    path = tmp_path_factory.mktemp("rcs")
    store = Store(f"sqlite:///{path}/rcs.db", data_dir=path)
    migrate(store.engine)
    store.dispose()
    return path / "rcs.db"


@pytest.fixture
def shared_store(migrated, tmp_path):
    shutil.copy(migrated, tmp_path / "rcs.db")
    store = Store(f"sqlite:///{tmp_path}/rcs.db", data_dir=tmp_path)
    yield store
    store.dispose()


_counter = iter(range(1000))


@pytest.fixture
def two_accounts(shared_store, monkeypatch):
    """Accounts "acme" and "other" of this test (unique names underneath)."""
    n = next(_counter)
    names = {"acme": f"acme{n}", "other": f"other{n}"}
    for label, name in names.items():
        rcs.add_account(shared_store, ADMIN, name)
        rcs.add_user(shared_store, ADMIN, f"super@{label}{n}.test", "super", PASSWORD,
                     account=name)  # fmt: skip
    monkeypatch.setattr("tests.test_rcs_services.SUFFIX", n)
    return shared_store


SUFFIX = 0


def test_roles_follow_the_vendors_table_of_functions(two_accounts, registry):
    store = two_accounts
    boss = login(store, "super@acme.test")
    rcs.add_user(store, boss, f"user@acme{SUFFIX}.test", "user", PASSWORD)
    user = login(store, "user@acme.test")
    assert user.role == "user" and user.account == f"acme{SUFFIX}"
    # a User adds servers and phones and assigns brandings...
    rcs.add_server(store, user, "prov", "https://prov.example.com/cfg")
    rcs.save_branding(store, boss, registry, "acme", {"aastra": {"web interface title": "Acme"}})
    out = rcs.register_phones(
        store, user, [Row("00:08:5d:00:00:01", Assignment("prov", None, "acme"))]
    )
    assert [o.outcome for o in out] == ["added"]
    rcs.set_preferences(store, user, "Ann", "1 Main St", "+1 555 0100", "555-0101")
    assert rcs.preferences(store, user).phone2 == "555-0101"
    # ...but cannot add, change or delete users, nor create or edit brandings
    with pytest.raises(Denied):
        rcs.add_user(store, user, "x@acme.test", "user", PASSWORD)
    with pytest.raises(Denied):
        rcs.remove_user(store, user, f"super@acme{SUFFIX}.test")
    with pytest.raises(Denied):
        rcs.save_branding(store, user, registry, "mine", {})
    with pytest.raises(Denied):
        rcs.add_account(store, boss, "third")
    # the last Super User stays
    with pytest.raises(Conflict):
        rcs.set_user_role(store, boss, f"super@acme{SUFFIX}.test", "user")


def test_one_account_never_sees_anothers(two_accounts):
    store = two_accounts
    acme, other = login(store, "super@acme.test"), login(store, "super@other.test")
    rcs.add_server(store, acme, "prov", "http://10.0.0.1/")
    rcs.register_phones(store, acme, [Row("00085D000001", Assignment("prov"))])
    assert rcs.list_phones(store, other) == []
    assert rcs.list_servers(store, other) == []
    assert [u.email for u in rcs.list_users(store, other)] == [f"super@other{SUFFIX}.test"]
    with pytest.raises(NotFound):  # naming another account is "no such account"
        rcs.list_phones(store, other, f"acme{SUFFIX}")
    assert rcs.stats(store, other).registered == 0
    # a MAC held by another account: refused without saying who, nothing changed
    out = rcs.register_phones(store, other, [Row("00085D000001", Assignment())])
    assert out[0].outcome == "refused" and "acme" not in out[0].message
    assert out[0].message == rcs.HELD_ELSEWHERE
    assert rcs.delete_phones(store, other, ["00085D000001"])[0].outcome == "refused"
    assert len(rcs.list_phones(store, acme)) == 1


def test_a_claim_code_proves_ownership(two_accounts):
    store = two_accounts
    acme, other = login(store, "super@acme.test"), login(store, "super@other.test")
    rcs.register_phones(store, acme, [Row("00085D000009", Assignment(), claim="SN-1234")])
    refused = rcs.register_phones(store, other, [Row("00085D000009", Assignment(), "SN-9")])
    assert refused[0].outcome == "refused"
    taken = rcs.register_phones(store, other, [Row("00085D000009", Assignment(), "SN-1234")])
    assert taken[0].outcome == "added"
    assert rcs.list_phones(store, acme) == []
    assert next(a.summary for a in rcs.audit_log(store, acme, mac="00085D000009")).startswith(
        "claimed"
    )


def test_servers_are_validated_never_truncated(two_accounts):
    store = two_accounts
    acme = login(store, "super@acme.test")
    for name, url, field, words in (
        ("x" * 21, "http://a/", "name", "at most 20 characters; this one has 21"),
        ("ok", "http://a/" + "p" * 250, "url", "at most 255 characters; this one has 259"),
        ("ok", "gopher://a/", "url", "'gopher' is none of them"),
        ("ok", "https:///nohost", "url", "names no host"),
        ("", "http://a/", "name", "needs a name"),
    ):
        with pytest.raises(Invalid) as refused:
            rcs.add_server(store, acme, name, url)
        assert refused.value.problems[0].where == field
        assert words in refused.value.message
    assert rcs.list_servers(store, acme) == []
    rcs.add_server(store, acme, "x" * 20, "tftp://10.0.0.9")
    assert rcs.list_servers(store, acme)[0].name == "x" * 20


def test_editing_a_server_moves_its_phones(two_accounts):
    store = two_accounts
    acme = login(store, "super@acme.test")
    rcs.add_server(store, acme, "old", "http://old.example/")
    rcs.register_phones(store, acme, [Row(f"00085D00000{i}", Assignment("old")) for i in (1, 2)])
    view = rcs.edit_server(store, acme, "old", new_name="new", url="https://new.example/p")
    assert (view.name, view.phones) == ("new", 2)
    assert {p.server for p in rcs.list_phones(store, acme)} == {"new"}
    assert rcs.remove_server(store, acme, "new") == 2
    assert rcs.stats(store, acme).unaffiliated == 2
    assert [a.action for a in rcs.audit_log(store, acme)][:1] == ["delete"]


def test_bulk_registration_reports_each_mac_none_or_all(two_accounts):
    store = two_accounts
    acme = login(store, "super@acme.test")
    rcs.add_server(store, acme, "prov", "http://prov/")
    rows = [Row("00085D000001", Assignment("prov")), Row("nonsense", Assignment("prov")),
            Row("00085D000002", Assignment("nowhere"))]  # fmt: skip
    outcomes = rcs.register_phones(store, acme, rows)
    assert [o.outcome for o in outcomes] == ["added", "refused", "refused"]
    assert outcomes[1].message.startswith("Reenter a valid MAC address")
    assert "no server 'nowhere'" in outcomes[2].message
    assert rcs.list_phones(store, acme) == []  # none-or-all
    assert [o.outcome for o in rcs.register_phones(store, acme, rows, good_rows=True)] == [
        "added", "refused", "refused"]  # fmt: skip
    again = rcs.register_phones(store, acme, rows[:1])
    assert again[0].outcome == "unchanged"  # idempotent


def test_csv_import_per_row_report(two_accounts):
    store = two_accounts
    acme = login(store, "super@acme.test")
    rcs.add_server(store, acme, "prov", "http://prov/")
    with store.sessions() as session:  # the release the sheet names (plugtone firmware add)
        session.add(FirmwareRelease(vendor="aastra", version="3.3.1.4322", models=["6757i"],
                                    added_at=datetime.now(UTC)))  # fmt: skip
        session.commit()
    unknown = rcs.register_phones(store, acme, [Row("00085D000009", Assignment("prov", "9.9"))])
    assert unknown[0].message == "no firmware release '9.9' is stored (plugtone firmware add)"
    content = b"MAC\n00085D000001\n00085D000002,prov,3.3.1.4322\nzz,prov\n00085D000003,a,b,c,d\n"
    report = rcs.import_csv(store, acme, content, Assignment("prov"))
    assert [(o.row, o.outcome) for o in report] == [
        (2, "skipped"), (3, "skipped"), (4, "refused"), (5, "refused")]  # fmt: skip
    assert "extra commas" in report[3].message
    assert rcs.list_phones(store, acme) == []
    report = rcs.import_csv(store, acme, content, Assignment("prov"), good_rows=True)
    assert [o.outcome for o in report] == ["added", "added", "refused", "refused"]
    assert {p.mac: p.firmware for p in rcs.list_phones(store, acme)} == {
        "00085D000001": None, "00085D000002": "3.3.1.4322"}  # fmt: skip
    for bad, words in ((b"\xff\xfe", "not UTF-8"), (b'"open,quote\n', "not valid CSV"),
                       (b"", "holds no MAC")):  # fmt: skip
        with pytest.raises(Invalid) as refused:
            rcs.import_csv(store, acme, bad, Assignment("prov"))
        assert words in refused.value.message


def test_reset_tokens_are_single_use_and_expire(two_accounts):
    store = two_accounts
    assert passwords.start_reset(store, f"nobody@acme{SUFFIX}.test") is None
    address, token = passwords.start_reset(store, f"SUPER@acme{SUFFIX}.test")
    assert address == f"super@acme{SUFFIX}.test" and passwords.reset_valid(store, token)
    passwords.finish_reset(store, token, "a brand new password")
    assert passwords.verify_login(store, address, "a brand new password") is not None
    with pytest.raises(Exception, match="not valid any more"):
        passwords.finish_reset(store, token, "another new password")
    _, old = passwords.start_reset(store, address, minutes=0)
    assert not passwords.reset_valid(store, old)


def test_postgres_runs_the_same_services(store):
    """The ``store`` fixture on both databases: one account's flow end to end."""
    rcs.add_account(store, ADMIN, "pg")
    rcs.add_user(store, ADMIN, "s@pg.test", "super", PASSWORD, account="pg")
    boss = passwords.verify_login(store, "s@pg.test", PASSWORD)
    rcs.add_server(store, boss, "prov", "https://prov.example/")
    out = rcs.import_csv(store, boss, b"00085D000001\n00085D000002\n", Assignment("prov"))
    assert [o.outcome for o in out] == ["added", "added"]
    assert rcs.stats(store, boss).registered == 2
    assert rcs.stats(store, ADMIN, "pg").servers[0].phones == 2

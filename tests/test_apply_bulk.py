"""Applying as plan (read-only, no lock) then write (under the lock), on SQLite and PostgreSQL.

The plan reads a snapshot, checks it and computes every row write and change; the
write refuses a plan whose generation moved; changes carry each object's fields
before and after with secrets masked; directory and firmware pin changes are kinds of
their own; planning costs a number of statements that does not grow with each phone;
a writer that cannot get the lock in time is told so in one line.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import traceback
from collections.abc import Iterator

import pytest
from sqlalchemy import event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from plugtone.firmware.repository import FileStore, add_release
from plugtone.inventory.document import Document, parse_document
from plugtone.inventory.models import Extension
from plugtone.inventory.store import (
    BUSY_MESSAGE,
    Store,
    StoreBusy,
    lock_inventory,
    migrate,
    read_generation,
)
from plugtone.inventory.yaml_source import load_located
from plugtone.services.inventory_apply import (
    MASK,
    ApplyRefused,
    StalePlan,
    apply_document,
    plan_document,
)
from plugtone.services.inventory_export import export_document, export_yaml
from plugtone.vendors import default_registry
from tests.conftest import apply_text

SECRET = "Sup3r-s3cret-SIP"
FTP_SECRET = "ftp-s3cret-9"
BASE = f"""\
sites:
  - name: hq
    sip_server: 10.100.2.127
    ftp_account: {{user: hq-phones, password: {FTP_SECRET}}}
    directory:
      - {{name: Reception, number: '0'}}
extensions:
  - {{number: "3003", site: hq, name: John, password: "{SECRET}"}}
  - {{number: "3004", site: hq, name: Mary, password: "x"}}
phones:
  - mac: 00:08:5D:00:00:01
    model: 6757i
    site: hq
    lines: ["3003"]
"""


def document_of(text: str) -> Document:
    document, problems = parse_document(load_located(text, "inv.yaml"), default_registry())
    assert not problems, problems
    return document


def snapshot(store: Store) -> str:
    with store.sessions() as session:
        return export_yaml(session)


@contextlib.contextmanager
def statements_run(store: Store) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


def test_planning_writes_nothing_and_takes_no_lock(store):
    apply_text(store, BASE)
    before, generation = snapshot(store), store.generation()
    changed = BASE.replace("name: Mary", "name: Maria").replace('lines: ["3003"]', "lines: []")
    with store.sessions() as session, statements_run(store) as statements:
        plan = plan_document(session, document_of(changed))
        session.rollback()
    assert [str(c) for c in plan.changes] == [
        "update extension hq/3004: name: 'Mary' -> 'Maria'",
        "update phone 00085D000001: lines -> none",
    ]
    assert plan.generation == generation
    assert not [s for s in statements if WRITES.match(s) or "FOR UPDATE" in s.upper()]
    assert snapshot(store) == before and store.generation() == generation


def test_a_plan_is_refused_once_another_change_was_committed(store):
    apply_text(store, BASE)
    with store.sessions() as session:
        plan = plan_document(session, document_of(BASE.replace("name: Mary", "name: Maria")))
        session.rollback()  # end the read: the lock must wait for its turn, not fail
        apply_text(store, BASE.replace("name: John", "name: Johnny"))  # someone else
        lock_inventory(session)
        with pytest.raises(StalePlan) as stale:
            plan.write(session)
        assert (stale.value.planned, stale.value.now) == (1, 2)
        again = plan_document(session, document_of(BASE.replace("name: Mary", "name: Maria")))
        result = again.write(session)
        session.commit()
    assert result.generation == 3
    assert [str(c) for c in result.changes] == [  # planned again from what is stored now
        "update extension hq/3003: name: 'Johnny' -> 'John'",
        "update extension hq/3004: name: 'Mary' -> 'Maria'",
    ]


def test_reapplying_the_same_document_changes_nothing(store):
    first = apply_text(store, BASE)
    assert first.generation == 1
    with store.sessions() as session, statements_run(store) as statements:
        lock_inventory(session)
        plan = plan_document(session, document_of(BASE))
        marker = len(statements)
        result = plan.write(session)
        session.commit()
    assert result.changes == [] and result.generation is None
    assert not [s for s in statements[marker:] if WRITES.match(s)]
    assert store.generation() == 1


def test_changes_carry_before_and_after_with_secrets_masked(store):
    apply_text(store, BASE)
    changed = BASE.replace(SECRET, SECRET + "-2").replace(FTP_SECRET, FTP_SECRET + "-2")
    changed = changed.replace("sip_server: 10.100.2.127", "sip_server: 10.100.2.128")
    result = apply_text(store, changed)
    by_key = {(c.kind, c.key): c for c in result.changes}
    extension = by_key[("extension", "hq/3003")]
    assert str(extension) == "update extension hq/3003: password changed"
    assert extension.before["password"] == MASK and extension.after["password"] == MASK
    assert extension.before["name"] == extension.after["name"] == "John"
    site = by_key[("site", "hq")]
    assert "ftp_password changed" in site.details
    assert (
        site.before["sip_server"] == "10.100.2.127" and site.after["sip_server"] == "10.100.2.128"
    )
    assert site.before["ftp_password"] == site.after["ftp_password"] == MASK
    created = apply_text(store, changed + "  - {mac: 00085D000002, model: 6731i, site: hq}\n")
    phone = next(c for c in created.changes if c.kind == "phone")
    assert phone.before is None and phone.after["model"] == "6731i"
    pruned = apply_text(store, "sites: []\n", prune=True)
    gone = {(c.action, c.kind, c.key): c for c in pruned.changes}
    assert gone[("delete", "extension", "hq/3003")].before["password"] == MASK
    assert gone[("delete", "phone", "00085D000001")].before["lines"] == {"1": "hq/3003"}
    assert ("delete", "directory", "hq") in gone
    everything = [*result.changes, *created.changes, *pruned.changes]
    for change in everything:
        shown = f"{change} {change!r} {change.before} {change.after}"
        for secret in (SECRET, FTP_SECRET, "'x'"):
            assert secret not in shown, change


def test_directory_changes_are_their_own_kind(store):
    result = apply_text(store, BASE)
    assert "create directory hq: 1 contact(s)" in [str(c) for c in result.changes]
    more = BASE.replace("      - {name: Reception, number: '0'}\n",
                        "      - {name: Reception, number: '0'}\n"
                        "      - {name: Guard, number: '9'}\n")  # fmt: skip
    result = apply_text(store, more)
    assert [str(c) for c in result.changes] == ["update directory hq: 1 -> 2 contact(s)"]
    change = result.changes[0]
    assert change.before == {"contacts": [{"name": "Reception", "number": "0"}]}
    assert change.after["contacts"][1] == {"name": "Guard", "number": "9"}
    assert apply_text(store, more).changes == []


@pytest.fixture
def release(store, tmp_path):
    image = tmp_path / "6757i.st"
    image.write_bytes(b"PLUGTONE-TEST-IMAGE V:4.1.0.100\n" + b"x" * 1000)
    with store.sessions() as session:
        add_release(session, default_registry(), FileStore(tmp_path / "firmware"),
                    vendor="aastra", models=["6757i"], version="4.1.0.100", sources=[image])  # fmt: skip
        session.commit()
    return "4.1.0.100"


def test_pin_changes_are_their_own_kind(store, release):
    apply_text(store, BASE)
    site_pin = BASE.replace("    sip_server: 10.100.2.127\n",
                            "    sip_server: 10.100.2.127\n    firmware: {6757i: 4.1.0.100}\n")  # fmt: skip
    result = apply_text(store, site_pin)
    assert [str(c) for c in result.changes] == ["create pin site hq: firmware (6757i) -> 4.1.0.100"]
    assert result.changes[0].after == {
        "6757i": {"version": "4.1.0.100", "first_wave": None, "force": False}
    }
    phone_pin = site_pin.replace('lines: ["3003"]', 'lines: ["3003"]\n    firmware: none')
    model_pin = phone_pin + "models:\n  - {model: 6757i, firmware: 4.1.0.100}\n"
    result = apply_text(store, model_pin)
    assert [str(c) for c in result.changes] == [
        "create model 6757i",
        "create pin model 6757i: firmware -> 4.1.0.100",
        "create pin phone 00085D000001: firmware -> none",
    ]
    assert apply_text(store, model_pin).changes == []
    result = apply_text(store, site_pin + "models:\n  - {model: 6757i}\n")
    assert [str(c) for c in result.changes] == [
        "delete pin model 6757i: firmware pin removed",
        "delete pin phone 00085D000001: firmware pin removed",
    ]
    assert result.changes[0].before == {
        "every phone": {"version": "4.1.0.100", "first_wave": None, "force": False}
    }


def fleet(phones: int) -> str:
    """``phones`` phones with an extension, keys and a setting each, 100 to a site."""
    sites = "".join(
        f"  - {{name: s{n}, sip_server: pbx{n}.example.com, keys: [{{type: dnd}}],"
        f" directory: [{{name: Desk, number: '0'}}], vendor_settings: {{aastra: {{x: '1'}}}}}}\n"
        for n in range((phones + 99) // 100)
    )
    extensions = "".join(
        f"  - {{number: '{1000 + n % 100}', site: s{n // 100}, password: p{n}}}\n"
        for n in range(phones)
    )
    lines = "".join(
        f"  - {{mac: '00085D{n:06X}', model: 6757i, site: s{n // 100}, lines: ['{1000 + n % 100}'],"
        f" keys: [{{type: dnd}}], vendor_settings: {{aastra: {{'ring tone': '{n % 5}'}}}}}}\n"
        for n in range(phones)
    )
    return f"sites:\n{sites}extensions:\n{extensions}phones:\n{lines}"


def planning_statements(store: Store, text: str) -> int:
    document = document_of(text)
    with store.sessions() as session, statements_run(store) as statements:
        plan_document(session, document)
        session.rollback()
    return len(statements)


def test_planning_costs_statements_per_table_not_per_phone(store):
    small, large = fleet(500), fleet(2000)
    assert planning_statements(store, large) < 30  # an empty store: nothing more to read
    apply_text(store, large)
    at_500 = planning_statements(store, small)
    at_2000 = planning_statements(store, large)
    # one query per table per 500 objects: 4 times the phones cost a few IN-list chunks
    # per table more (about a dozen tables), where a query per object would be thousands
    assert at_2000 < 100, at_2000
    assert at_2000 - at_500 <= 3 * 12, (at_500, at_2000)
    changed = large.replace("ring tone': '3'", "ring tone': '4'")
    result = apply_text(store, changed)
    assert len(result.changes) == 400 and result.generation == 2


def test_a_writer_kept_waiting_past_the_busy_timeout_is_told_in_one_line(db_url, tmp_path):
    store = Store(db_url, busy_timeout=0.3, data_dir=tmp_path)
    migrate(store.engine)
    try:
        holder = store.sessions()
        lock_inventory(holder)  # another change being written
        document = document_of(BASE)
        with store.sessions() as session:
            with pytest.raises(StoreBusy) as busy:
                apply_document(session, document)
            session.rollback()
        holder.rollback()
        holder.close()
        message = str(busy.value)
        assert message == BUSY_MESSAGE and "\n" not in message
        shown = "".join(traceback.format_exception(busy.value))
        assert SECRET not in shown and FTP_SECRET not in shown
        with store.sessions() as session:  # and once the other is done, it goes through
            assert apply_document(session, document).generation == 1
            session.commit()
    finally:
        store.dispose()


def test_store_errors_never_show_a_parameter_value(store):
    with store.sessions() as session, pytest.raises(IntegrityError) as error:
        session.execute(insert(Extension), [{"site_id": 999, "number": "1", "password": SECRET}])
    shown = "".join(traceback.format_exception(error.value))
    assert SECRET not in shown and "parameters hidden" in shown


def test_on_sqlite_a_planned_apply_waits_for_the_lock_then_replans(sqlite_url):
    store = Store(sqlite_url, busy_timeout=10)
    migrate(store.engine)
    try:
        apply_text(store, BASE)
        document = document_of(BASE.replace("name: Mary", "name: Maria"))
        other = sqlite3.connect(
            make_url(store.url).database, isolation_level=None, check_same_thread=False
        )
        other.execute("BEGIN IMMEDIATE")  # a long apply holds the write lock
        with store.sessions() as session:
            plan = plan_document(session, document)
            session.rollback()
            other.execute("UPDATE meta SET value = '7' WHERE key = 'inventory_generation'")
            release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
            release.start()
            lock_inventory(session)  # waits its turn instead of failing at once
            release.join()
            with pytest.raises(StalePlan):
                plan.write(session)
            result = plan_document(session, document).write(session)
            session.commit()
        other.close()
        assert result.generation == 8
        with store.sessions() as session:
            assert read_generation(session) == 8
    finally:
        store.dispose()


def test_references_and_assignments_are_checked_before_anything_is_written(store):
    apply_text(store, BASE)
    before = snapshot(store)
    two = BASE + '  - {mac: 00085D000002, model: 6731i, site: hq, lines: ["3003"]}\n'
    with store.sessions() as session:
        with pytest.raises(ApplyRefused) as refused:
            plan_document(session, document_of(two))
        session.rollback()
    assert "extension hq/3003 is on 00085D000001 line 1, 00085D000002 line 1" in str(refused.value)
    assert "inv.yaml:" in str(refused.value)
    # the other phone stored already, not in the document: still one line only
    apply_text(store, BASE.replace('lines: ["3003"]', 'lines: ["3004"]'))
    lonely = '  - {mac: 00085D000003, model: 6731i, site: hq, lines: ["3004"]}\n'
    with store.sessions() as session, pytest.raises(ApplyRefused) as refused:
        plan_document(session, document_of("phones:\n" + lonely))
    assert "extension hq/3004 is on 00085D000001 line 1, 00085D000003 line 1" in str(refused.value)
    assert snapshot(store) != before  # the second apply went through; the refused ones did not


def test_bulk_writes_put_every_row_with_its_owner(store):
    apply_text(store, fleet(250))
    with store.sessions() as session:
        exported = export_document(session)
    site = exported["sites"][1]
    assert site["keys"] == [{"type": "dnd"}] and site["vendor_settings"] == {"aastra": {"x": "1"}}
    assert site["directory"] == [{"name": "Desk", "number": "0"}]
    phone = next(p for p in exported["phones"] if p["mac"] == "00:08:5D:00:00:7B")  # 123
    assert phone["site"] == "s1" and phone["lines"] == ["1023"]
    assert phone["keys"] == [{"type": "dnd"}]
    assert phone["vendor_settings"] == {"aastra": {"ring tone": "3"}}
    assert len(exported["extensions"]) == 250 and len(exported["phones"]) == 250
    with store.sessions() as session:
        assert apply_document(session, document_of(export_yaml(session))).changes == []

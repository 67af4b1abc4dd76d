"""The service functions behind the admin API, on SQLite and PostgreSQL.

One object at a time (``services.objects``), pages of lists (``inventory_export``),
the audit log (``services.audit``) and the masked-password round trip
(``services.inventory``): every write is one audited unit of work, a refusal changes
nothing, and no read shows a password unless an admin asked (and that is audited).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from plugtone.inventory.models import AuditEntry, Extension, Site
from plugtone.inventory.store import read_generation
from plugtone.services import objects
from plugtone.services.actors import Actor, Role
from plugtone.services.audit import list_audit
from plugtone.services.errors import Conflict, Denied, Invalid, NotFound
from plugtone.services.inventory import apply_inventory, export_inventory
from plugtone.services.inventory_export import mac_prefix
from plugtone.services.unit_of_work import MASK
from tests.test_accounts import document

ADMIN = Actor("root", Role.ADMIN, "api")
OPERATOR = Actor("ops", Role.OPERATOR, "api")
VIEWER = Actor("eyes", Role.VIEWER, "api")
SIP_SECRET = "Sip-Secret-4711"
FTP_SECRET = "Ftp-Secret-0815"

BASE = f"""
sites:
  - name: hq
    sip_server: 10.0.0.1
    ftp_account: {{user: hq-phones, password: {FTP_SECRET}}}
  - {{name: lab, sip_server: 10.0.0.2}}
extensions:
  - {{number: "3003", site: hq, name: Front Desk, password: {SIP_SECRET}}}
  - {{number: "3004", site: hq, password: other-secret-1}}
phones:
  - {{mac: 00:08:5D:00:00:01, model: 6757i, site: hq, lines: ["3003"]}}
"""


@pytest.fixture
def base(store, registry):
    apply_inventory(store, ADMIN, document(BASE, registry), registry)
    return store


def stored_password(store, site: str, number: str) -> str | None:
    with store.sessions() as session:
        return session.scalar(
            select(Extension.password)
            .join(Site, Site.id == Extension.site_id)
            .where(Site.name == site, Extension.number == number)
        )


def generation(store) -> int:
    with store.sessions() as session:
        return read_generation(session)


def audit_json(store) -> str:
    with store.sessions() as session:
        rows = session.scalars(select(AuditEntry)).all()
        return json.dumps([[r.key, r.summary, r.before, r.after] for r in rows], default=str)


def test_reads_mask_secrets_unless_an_admin_asks_and_that_is_audited(base):
    ext = objects.get_entry(base, VIEWER, "extension", "hq/3003")
    assert ext == {"number": "3003", "site": "hq", "name": "Front Desk", "password": MASK}
    site = objects.get_entry(base, VIEWER, "site", "hq")
    assert site["ftp_account"] == {"user": "hq-phones", "password": MASK}
    whole = json.dumps(export_inventory(base, VIEWER))
    assert SIP_SECRET not in whole and FTP_SECRET not in whole
    with pytest.raises(Denied):
        objects.get_entry(base, OPERATOR, "extension", "hq/3003", secrets=True)
    with pytest.raises(Denied):
        export_inventory(base, VIEWER, secrets=True)
    shown = objects.get_entry(base, ADMIN, "extension", "hq/3003", secrets=True)
    assert shown["password"] == SIP_SECRET
    page = objects.list_entries(base, ADMIN, "site", secrets=True)
    assert page.items[0]["ftp_account"]["password"] == FTP_SECRET
    rows = list_audit(base, ADMIN, kind="disclosure").rows
    assert [(row.action, row.key, row.actor) for row in rows] == [
        ("read", "sites", "root"),
        ("read", "extension hq/3003", "root"),
    ]
    assert SIP_SECRET not in audit_json(base)


def test_a_masked_password_sent_back_keeps_the_stored_one(base, registry):
    before = generation(base)
    ext = objects.get_entry(base, ADMIN, "extension", "hq/3003")
    ext["name"] = "Reception"
    result = objects.put_entry(base, ADMIN, registry, "extension", "hq/3003", ext)
    assert [(c.action, c.kind, c.details) for c in result.changes] == [
        ("update", "extension", ["name: 'Front Desk' -> 'Reception'"])
    ]
    assert stored_password(base, "hq", "3003") == SIP_SECRET
    site = objects.get_entry(base, ADMIN, "site", "hq")
    site["timezone"] = "Europe/Brussels"
    objects.put_entry(base, ADMIN, registry, "site", "hq", site)
    with base.sessions() as session:
        assert session.scalar(select(Site.ftp_password).where(Site.name == "hq")) == FTP_SECRET
    # the whole document, read masked and applied back, changes nothing
    result = objects.put_document(base, ADMIN, registry, export_inventory(base, ADMIN))
    assert result.changes == [] and generation(base) == before + 2
    # a new extension cannot take the mask as its password
    with pytest.raises(Invalid) as refused:
        objects.create_entry(
            base, ADMIN, registry, "extension", {"number": "3009", "site": "hq", "password": MASK}
        )
    assert "no stored one" in refused.value.problems[0].message
    assert stored_password(base, "hq", "3009") is None
    # a real new password replaces the stored one
    objects.patch_entry(base, OPERATOR, registry, "extension", "hq/3003", {"password": "new-1"})
    assert stored_password(base, "hq", "3003") == "new-1"


def test_create_replace_patch_with_the_file_rules_and_field_paths(base, registry):
    with pytest.raises(Conflict, match="exists already"):
        objects.create_entry(base, ADMIN, registry, "site", {"name": "hq", "sip_server": "x"})
    with pytest.raises(Invalid) as refused:
        objects.put_entry(base, OPERATOR, registry, "phone", "00085D000001",
                          {"model": "6757i", "site": "hq", "lines": ["3003", "9999"],
                           "colour": "red"})  # fmt: skip
    fields = {p.where: p.message for p in refused.value.problems}
    assert "colour" in fields and "unknown field" in fields["colour"]
    with pytest.raises(Invalid) as refused:
        objects.put_entry(base, OPERATOR, registry, "phone", "00085D000001",
                          {"model": "6757i", "site": "hq", "lines": ["3003", "9999"]})  # fmt: skip
    assert [p.where for p in refused.value.problems] == ["lines[1]"]
    with pytest.raises(Invalid) as refused:
        objects.put_entry(base, OPERATOR, registry, "phone", "00085D000001",
                          {"mac": "00:08:5D:00:00:02", "model": "6757i", "site": "hq"})  # fmt: skip
    assert refused.value.problems[0].where == "mac"
    with pytest.raises(Invalid) as refused:
        objects.put_document(base, ADMIN, registry, {"phones": [{"mac": "zz"}]})
    assert {p.where for p in refused.value.problems} >= {"phones[0].mac", "phones[0]"}
    assert objects.phone_mac("0008.5d00.0001") == "00085D000001"
    with pytest.raises(Invalid) as refused:
        objects.phone_mac("00:08:5D")
    assert refused.value.problems[0].where == "mac"

    before = generation(base)
    created, key = objects.create_entry(
        base, OPERATOR, registry, "phone",
        {"mac": "00-08-5d-00-00-02", "model": "6731i", "site": "hq", "lines": ["3004"]},
    )  # fmt: skip
    assert key == "00085D000002" and created.changes[0].action == "create"
    objects.patch_entry(base, OPERATOR, registry, "phone", key, {"description": "Lobby"})
    assert objects.get_entry(base, VIEWER, "phone", key)["description"] == "Lobby"
    objects.patch_entry(base, OPERATOR, registry, "phone", key, {"description": None})
    assert "description" not in objects.get_entry(base, VIEWER, "phone", key)
    assert generation(base) == before + 3
    dry = objects.put_entry(base, OPERATOR, registry, "phone", key,
                            {"model": "6731i", "site": "lab"}, dry_run=True)  # fmt: skip
    assert dry.changes and objects.get_entry(base, VIEWER, "phone", key)["site"] == "hq"
    with pytest.raises(Denied):
        objects.put_entry(base, VIEWER, registry, "phone", key, {"model": "6731i", "site": "lab"})
    with pytest.raises(Denied):  # a site is an admin's
        objects.put_entry(base, OPERATOR, registry, "site", "hq", {"sip_server": "10.9.9.9"})
    assert objects.get_entry(base, VIEWER, "site", "hq")["sip_server"] == "10.0.0.1"


def test_bodies_never_name_files_on_the_server(base, registry, tmp_path):
    with pytest.raises(Invalid) as refused:
        objects.create_entry(base, ADMIN, registry, "branding",
                             {"name": "look", "logo": "/etc/passwd", "files": ["key.pem"]})  # fmt: skip
    assert [p.where for p in refused.value.problems] == ["logo", "files[0]"]
    with pytest.raises(Invalid) as refused:
        objects.put_document(base, ADMIN, registry, {"branding": [{"name": "x", "logo": "a.png"}]})
    assert refused.value.problems[0].where == "branding[0].logo"
    with pytest.raises(Invalid) as refused:
        objects.create_entry(
            base, ADMIN, registry, "branding", {"name": "look", "logo": "sha256:" + "ab" * 32}
        )
    assert "no stored image" in refused.value.problems[0].message


def test_deletes_refuse_what_is_in_use_then_delete_audited(base, registry):
    with pytest.raises(Conflict, match="still has 1 phone"):
        objects.delete_site(base, ADMIN, "hq")
    with pytest.raises(Conflict, match="3003 on line 1 of 00:08:5D:00:00:01"):
        objects.delete_extension(base, OPERATOR, "hq", "3003")
    with pytest.raises(Denied):
        objects.delete_phone(base, VIEWER, "00085D000001")
    with pytest.raises(NotFound):
        objects.delete_phone(base, OPERATOR, "00085D0000FF")
    with pytest.raises(NotFound):
        objects.delete_site(base, ADMIN, "no\x00such")
    before = generation(base)
    objects.delete_phone(base, OPERATOR, "00085D000001")
    objects.delete_extension(base, OPERATOR, "hq", "3003")
    with pytest.raises(Denied):
        objects.delete_site(base, OPERATOR, "hq")
    objects.delete_site(base, ADMIN, "hq")  # with its remaining extension 3004
    assert generation(base) == before + 3
    with pytest.raises(NotFound):
        objects.get_entry(base, VIEWER, "site", "hq")
    assert objects.list_entries(base, VIEWER, "extension").items == []
    rows = list_audit(base, ADMIN, after=None, limit=4).rows
    assert [(r.action, r.kind, r.key) for r in rows] == [
        ("delete", "site", "hq"),
        ("delete", "extension", "hq/3004"),
        ("delete", "extension", "hq/3003"),
        ("delete", "phone", "00085D000001"),
    ]
    assert rows[2].before == {"number": "3003", "site": "hq", "name": "Front Desk",
                              "password": MASK}  # fmt: skip
    assert SIP_SECRET not in audit_json(base) and FTP_SECRET not in audit_json(base)

    apply_inventory(base, ADMIN, document(BRANDED, registry), registry)
    with pytest.raises(Conflict, match="given to site lab"):
        objects.delete_branding(base, ADMIN, "look")
    objects.put_entry(base, ADMIN, registry, "site", "lab", {"sip_server": "10.0.0.2"})
    objects.delete_branding(base, ADMIN, "look")
    assert objects.list_entries(base, VIEWER, "branding").items == []


BRANDED = """
branding:
  - {name: look, vendor_settings: {aastra: {"web interface title": ACME}}}
sites:
  - {name: lab, sip_server: 10.0.0.2, branding: look}
"""


def fleet(sites: int, per_site: int) -> str:
    lines = ["sites:"]
    lines += [f"  - {{name: s{n}, sip_server: 10.0.0.{n + 1}}}" for n in range(sites)]
    lines.append("extensions:")
    lines += [f'  - {{number: "{100 + i}", site: s{n}}}' for n in range(sites)
              for i in range(per_site)]  # fmt: skip
    lines.append("phones:")
    for n in range(sites):
        for i in range(per_site):
            mac = f"00:08:5D:{n:02X}:{i // 256:02X}:{i % 256:02X}"
            model = "6757i" if i % 2 else "IP650"
            extra = f', description: "Desk {i}"' if i % 5 == 0 else ""
            lines.append(f'  - {{mac: "{mac}", model: {model}, site: s{n}, '
                         f'lines: ["{100 + i}"]{extra}}}')  # fmt: skip
    return "\n".join(lines) + "\n"


def walk(store, kind: str, limit: int, **filters) -> list[dict]:
    items, after = [], None
    while True:
        page = objects.list_entries(store, VIEWER, kind, after=after, limit=limit, **filters)
        assert len(page.items) <= limit
        items += page.items
        if page.next is None:
            return items
        after = page.next


def test_keyset_pages_with_filters(store, registry):
    apply_inventory(store, ADMIN, document(fleet(3, 24), registry), registry)
    everything = walk(store, "phone", 1000)
    assert len(everything) == 72
    assert [p["mac"] for p in everything] == sorted(p["mac"] for p in everything)
    assert walk(store, "phone", 7) == everything
    assert walk(store, "phone", 5, site="s1") == [p for p in everything if p["site"] == "s1"]
    polycom = [p for p in everything if p["model"] == "IP650"]
    assert walk(store, "phone", 4, vendor="polycom") == polycom
    assert walk(store, "phone", 4, model="IP650") == polycom
    assert walk(store, "phone", 4, site="s2", model="6757i") == [
        p for p in everything if p["site"] == "s2" and p["model"] == "6757i"
    ]
    assert walk(store, "phone", 3, site="nowhere") == []
    # q: a MAC prefix in any notation, or part of the description (case-insensitively)
    assert walk(store, "phone", 3, q="00-08-5d-01") == [p for p in everything if p["site"] == "s1"]
    assert walk(store, "phone", 3, q="0008.5D02.00") == [p for p in everything if p["site"] == "s2"]
    assert [p["mac"] for p in walk(store, "phone", 3, q="00085D020017")] == ["00:08:5D:02:00:17"]
    described = [p for p in everything if "desk 1" in p.get("description", "").lower()]
    assert walk(store, "phone", 2, q="DESK 1") == described and len(described) == 6
    assert walk(store, "phone", 2, q="100%_") == []
    assert mac_prefix("00:08:5d") == "00085D" and mac_prefix("desk") is None
    extensions = walk(store, "extension", 10)
    assert len(extensions) == 72 and walk(store, "extension", 1000) == extensions
    assert walk(store, "extension", 9, site="s2") == [e for e in extensions if e["site"] == "s2"]
    assert [s["name"] for s in walk(store, "site", 2)] == ["s0", "s1", "s2"]
    for bad in ("x", "W10=", "not base64!"):
        with pytest.raises(Invalid) as refused:
            objects.list_entries(store, VIEWER, "phone", after=bad)
        assert refused.value.problems[0].where == "after"
    with pytest.raises(Invalid):
        objects.list_entries(store, VIEWER, "phone", limit=1001)
    with pytest.raises(Invalid):
        objects.list_entries(store, VIEWER, "phone", q="nul\x00byte")


def test_audit_pages_newest_first_with_filters(base, registry):
    objects.patch_entry(base, OPERATOR, registry, "extension", "hq/3004", {"name": "Mary"})
    objects.patch_entry(base, OPERATOR, registry, "extension", "hq/3004", {"name": "Maria"})
    with pytest.raises(Denied):
        list_audit(base, OPERATOR)
    rows = list_audit(base, ADMIN, limit=1000).rows
    assert [row.id for row in rows] == sorted((row.id for row in rows), reverse=True)
    pages, after = [], None
    while True:
        page = list_audit(base, ADMIN, limit=2, after=after)
        pages += page.rows
        if page.next is None:
            break
        after = page.next
    assert pages == rows
    mine = list_audit(base, ADMIN, by="ops").rows
    assert [(r.kind, r.key, r.via) for r in mine] == [("extension", "hq/3004", "api")] * 2
    assert mine[0].before["name"] == "Mary" and mine[0].after["name"] == "Maria"
    assert len(list_audit(base, ADMIN, kind="extension", key="hq/3004").rows) == 3
    newest = rows[0].time
    assert list_audit(base, ADMIN, since=newest).rows[0].id == rows[0].id
    assert rows[0].id not in {r.id for r in list_audit(base, ADMIN, until=newest).rows}
    with pytest.raises(Invalid):
        list_audit(base, ADMIN, after="abc")
    assert SIP_SECRET not in audit_json(base)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"site": "s1"}, "ix_phones_site_mac"),
        ({"model": "IP650"}, "ix_phones_model_mac"),
        ({"vendor": "aastra"}, "ix_phones_vendor_mac"),
        ({}, "uq_phones_mac"),  # SQLite: its autoindex for the unique MAC
    ],
)
def test_phone_filters_read_an_index(store, registry, filters, index):
    """Each filter's query can be answered from its index (the planner is shown the
    index only: on a small table it would rightly prefer reading the table)."""
    apply_inventory(store, ADMIN, document(fleet(2, 4), registry), registry)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM phones" in statement and "ORDER BY phones.mac" in statement:
            seen.append((statement, parameters))

    from sqlalchemy import event

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        objects.list_entries(store, VIEWER, "phone", after=None, limit=3, **filters)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    ((statement, parameters),) = seen
    with store.engine.connect() as connection:
        if store.dialect == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        text = " ".join(str(row) for row in plan)
    wanted = ("sqlite_autoindex_phones",) if index.startswith("uq_") else ()
    assert any(name in text for name in (index, *wanted)), text


def test_an_operator_replaces_a_sites_contacts_and_nothing_else(base, registry):
    contacts = [{"name": "Reception", "number": "0"}, {"name": "Night", "number": "##"}]
    result = objects.replace_contacts(base, OPERATOR, registry, "hq", contacts)
    assert [(c.action, c.kind, c.key) for c in result.changes] == [("create", "directory", "hq")]
    assert objects.get_contacts(base, VIEWER, "hq") == contacts
    with base.sessions() as session:  # the masked FTP password read back was kept
        assert session.scalar(select(Site.ftp_password).where(Site.name == "hq")) == FTP_SECRET
    with pytest.raises(Invalid) as refused:
        objects.replace_contacts(base, OPERATOR, registry, "hq",
                                 [{"name": "Ok", "number": "1"}, {"name": "Bad"}])  # fmt: skip
    assert [p.where for p in refused.value.problems] == ["[1]"]
    with pytest.raises(Denied):
        objects.replace_contacts(base, VIEWER, registry, "hq", [])
    with pytest.raises(NotFound):
        objects.get_contacts(base, VIEWER, "nowhere")
    assert objects.get_contacts(base, VIEWER, "hq") == contacts

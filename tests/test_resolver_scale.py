"""The resolver's store reads grow with phones, not with phones x site size."""

from __future__ import annotations

from sqlalchemy import event

from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.vendors import default_registry
from tests.conftest import apply_text

PHONES = 150


def big_site() -> str:
    extensions = "\n".join(
        f'  - {{number: "{1000 + n}", site: big, name: "User {n}", password: "p{n}"}}'
        for n in range(PHONES)
    )
    phones = "\n".join(
        f'  - {{mac: "00085D{n:06X}", model: 6757i, site: big, lines: ["{999 + n}"]}}'
        for n in range(1, PHONES + 1)
    )
    return f"sites:\n  - {{name: big, sip_server: pbx.example.com}}\nextensions:\n{extensions}\nphones:\n{phones}\n"


def test_a_cold_storm_reads_each_sites_extensions_once(store):
    apply_text(store, big_site())
    resolver = Resolver(store, default_registry())
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for n in range(1, PHONES + 1):
            answer = resolver.resolve(FileRequest(f"00085D{n:06X}.cfg", "tftp"))
            assert answer.status is Status.OK
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    site_member_reads = [s for s in statements if "FROM extensions" in s and "JOIN" not in s]
    assert len(site_member_reads) == 1, len(site_member_reads)
    # a bounded number of statements per phone, whatever the site's size
    assert len(statements) < PHONES * 10

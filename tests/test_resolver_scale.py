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


def test_a_file_uploaded_after_a_miss_is_served_next_time(store, tmp_path):
    from plugtone.provisioning.uploads import UploadStore
    from tests.conftest import EXAMPLE

    apply_text(store, EXAMPLE.read_text())
    uploads = UploadStore(tmp_path / "uploads")
    resolver = Resolver(store, default_registry(), uploads=uploads)
    request = FileRequest("0004f2000607-phone.cfg", "ftp", client_address="10.0.0.7")
    assert resolver.resolve(request).status is Status.NOT_FOUND
    assert resolver.cached(request) is None  # never memoized: an upload may come
    target = resolver.upload_target(request)
    uploads.save(
        target, b'<PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity="1"/></PHONE_CONFIG>'
    )
    answer = resolver.resolve(request)
    assert answer.status is Status.OK and b"idleIntensity" in answer.content
    # ordinary files are memoized: the second lookup needs no thread and no store
    common = FileRequest("aastra.cfg", "tftp", client_address="10.0.0.7")
    first = resolver.resolve(common)
    assert resolver.cached(common) is first

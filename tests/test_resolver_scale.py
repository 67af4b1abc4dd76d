"""The resolver's store reads grow with phones, not with phones x site size.

The phones ask from :data:`ADDRESS`, inside a trusted network (:data:`PHONE_LAN`): a
boot storm's answers are those of trusted phones, carrying their accounts.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event, select

from plugtone.inventory.models import Phone
from plugtone.provisioning.events import EventRecorder
from plugtone.provisioning.provisioner import Provisioner
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.provisioning.trust import Trust, parse_network_rules
from plugtone.provisioning.views import load_phone, load_phones
from plugtone.settings import DEFAULT_CACHE_PHONES, load_settings
from plugtone.vendors import default_registry
from tests.conftest import EXAMPLE, apply_text

PHONES = 150
PHONE_LAN = parse_network_rules(["10.0.0.0/8"])
ADDRESS = "10.0.0.10"


def phones_resolver(store, **options) -> Resolver:
    """A resolver trusting the phones' network, as a deployment's settings would."""
    return Resolver(store, default_registry(), trusted_networks=PHONE_LAN, **options)


def phone_request(path: str, transport: str = "tftp") -> FileRequest:
    return FileRequest(path, transport, client_address=ADDRESS)


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


@contextlib.contextmanager
def statements_run(store) -> Iterator[list[str]]:
    """The SQL statements the store runs inside the block, in order."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def test_a_cold_storm_reads_each_sites_extensions_once(store):
    apply_text(store, big_site())
    resolver = phones_resolver(store)
    started = time.monotonic()
    with statements_run(store) as statements:
        for n in range(1, PHONES + 1):
            answer = resolver.resolve(phone_request(f"00085D{n:06X}.cfg"))
            assert answer.status is Status.OK and answer.trust is Trust.TRUSTED_NETWORK
            assert f"sip line1 password: p{n - 1}\n".encode() in answer.content
    elapsed = time.monotonic() - started
    site_member_reads = [s for s in statements if "FROM extensions" in s and "JOIN" not in s]
    assert len(site_member_reads) == 1, len(site_member_reads)
    # the first miss loads the site's phones in one batch: a few dozen statements for the
    # whole storm, where a query set per phone would be well over a thousand. The
    # generation check (one meta read per check interval, 0.5 s) is counted apart: it
    # follows the storm's wall time, not its phones (a loaded machine, or the Aastra
    # plug-in's time zone work done twice per file, adds a read every half second)
    reads = [s for s in statements if "FROM meta" not in s]
    assert len(reads) < 40, len(reads)
    generation_checks = len(statements) - len(reads)
    assert 1 <= generation_checks <= 2 + elapsed / resolver.check_interval, generation_checks


def test_phones_loaded_in_a_batch_are_the_phones_loaded_one_by_one(store):
    """Lines, keys, settings, branding and firmware: a batch must not mix phones up."""
    apply_text(store, EXAMPLE.read_text())
    with store.sessions() as session:
        phones = session.scalars(select(Phone).order_by(Phone.mac)).all()
        assert len(phones) >= 4
        batch = load_phones(session, phones, {})
        one_by_one = {phone.mac: load_phone(session, phone.mac, {}) for phone in phones}
    assert batch == one_by_one
    assert any(view.keys for view in batch.values())
    assert any(view.phone_settings for view in batch.values())
    assert any(view.branding for view in batch.values())


def test_a_miss_brings_the_sites_other_phones_along(store):
    apply_text(store, big_site())
    resolver = phones_resolver(store)
    assert resolver.resolve(phone_request("00085D000007.cfg")).status is Status.OK
    with statements_run(store) as statements:
        for n in range(1, PHONES + 1):
            answer = resolver.resolve(phone_request(f"00085D{n:06X}.cfg"))
            assert answer.status is Status.OK and f"{999 + n}".encode() in answer.content
    assert not [s for s in statements if "FROM phones" in s], "a phone was loaded again"


def test_a_file_uploaded_after_a_miss_is_served_next_time(store, tmp_path):
    from plugtone.provisioning.uploads import UploadStore

    apply_text(store, EXAMPLE.read_text())
    uploads = UploadStore(tmp_path / "uploads")
    resolver = phones_resolver(store, uploads=uploads)
    provisioner = Provisioner(resolver, EventRecorder(store), uploads)
    master = FileRequest("0004f2000607.cfg", "ftp", client_address="10.0.0.7")
    answer = resolver.resolve(master)  # the phone boots from 10.0.0.7: its master file first
    assert answer.status is Status.OK
    provisioner.finished(master, answer, "ok", answer.size)  # which ties it to the address
    request = FileRequest("0004f2000607-phone.cfg", "ftp", client_address="10.0.0.7")
    assert resolver.resolve(request).status is Status.NOT_FOUND
    # nothing uploaded: known from memory and one stat, never memoized (an upload may come)
    assert resolver.cached(request).status is Status.NOT_FOUND
    target = resolver.upload_target(request)
    uploads.save(
        target, b'<PHONE_CONFIG><OVERRIDES up.backlight.idleIntensity="1"/></PHONE_CONFIG>'
    )
    assert resolver.cached(request) is None  # an upload to read: that is a thread's work
    answer = resolver.resolve(request)
    assert answer.status is Status.OK and b"idleIntensity" in answer.content
    # ordinary files are memoized: the second lookup needs no thread and no store
    common = FileRequest("aastra.cfg", "tftp", client_address="10.0.0.7")
    first = resolver.resolve(common)
    assert resolver.cached(common) is first


def test_phones_of_a_site_missing_together_are_loaded_once(store):
    """A boot storm: many worker threads miss at once; one loads the batch, the others
    wait for it instead of loading the same site again."""
    apply_text(store, big_site())
    resolver = phones_resolver(store)
    start = threading.Barrier(16)

    def boot(n: int) -> bytes | None:
        start.wait()
        return resolver.resolve(phone_request(f"00085D{n:06X}.cfg")).content

    with statements_run(store) as statements, ThreadPoolExecutor(16) as pool:
        contents = list(pool.map(boot, range(1, 17)))
    assert all(f"{999 + n}".encode() in content for n, content in enumerate(contents, 1))
    line_reads = [s for s in statements if "FROM line_assignments" in s]
    assert len(line_reads) == 1, f"the site's phones were loaded {len(line_reads)} times"


def test_a_fleet_larger_than_the_cache_is_still_served_right(store):
    """``cache_phones`` bounds memory: with room for 50 of 150 phones, every phone still
    gets its own line, twice over, however the batches evict each other."""
    apply_text(store, big_site())
    resolver = phones_resolver(store, cache_size=50)
    for _ in range(2):
        for n in range(1, PHONES + 1):
            answer = resolver.resolve(phone_request(f"00085D{n:06X}.cfg"))
            assert answer.status is Status.OK and f"{999 + n}".encode() in answer.content
    assert len(resolver._phones.items) <= 50


def test_cache_phones_comes_from_the_environment_or_the_settings_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PLUGTONE_CACHE_PHONES", raising=False)
    assert load_settings(str(tmp_path)).cache_phones == DEFAULT_CACHE_PHONES
    (tmp_path / "plugtone.toml").write_text("cache_phones = 60000\n")
    assert load_settings(str(tmp_path)).cache_phones == 60_000
    monkeypatch.setenv("PLUGTONE_CACHE_PHONES", "120000")
    assert load_settings(str(tmp_path)).cache_phones == 120_000


def test_a_common_file_is_memoized_once_whatever_address_asks(store):
    """The memo keys on the MAC remembered for an address, not on the address: phones
    that are not known yet share one answer for a common file, from any address."""
    apply_text(store, EXAMPLE.read_text())
    resolver = Resolver(store, default_registry())
    first = resolver.resolve(FileRequest("aastra.cfg", "tftp", client_address="10.0.0.7"))
    assert first.status is Status.OK and first.mac is None
    for address in ("10.0.0.8", "10.9.9.9", "192.168.1.20"):
        assert resolver.cached(FileRequest("aastra.cfg", "tftp", client_address=address)) is first
    # an address tied to a phone gets an answer naming that phone (for the event log)
    resolver.remember_address("10.0.0.8", "00085D000001")
    named = resolver.resolve(FileRequest("aastra.cfg", "tftp", client_address="10.0.0.8"))
    assert named.mac == "00085D000001" and named.content == first.content

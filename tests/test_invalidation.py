"""Only what changed is invalidated: an edit drops the cached files of the phones it
touches, not the fleet's, in this process and in any other sharing the store.

Renders are counted with the resolver's own counter (``render_misses``, what
``/metrics`` reports): a phone whose cached file survived an edit is answered with no
render at all.
"""

from __future__ import annotations

import time

from plugtone.inventory.store import Store
from plugtone.provisioning.resolver import Resolver, Status
from plugtone.services.actors import local_admin
from plugtone.services.objects import delete_phone
from tests.conftest import apply_text
from tests.test_resolver_scale import phone_request, phones_resolver

A, B, C = "00085D000001", "00085D000002", "00085D000003"


def inventory(
    *, hq_server: str = "pbx.hq.example.com", a_line: str = "1001", model: str = ""
) -> str:
    return f"""
sites:
  - {{name: hq, sip_server: {hq_server}}}
  - {{name: branch, sip_server: pbx.branch.example.com}}
extensions:
  - {{number: "1001", site: hq, name: Ann, password: pw-ann}}
  - {{number: "1002", site: hq, name: Bob, password: pw-bob}}
  - {{number: "1003", site: hq, name: Spare, password: pw-spare}}
  - {{number: "2001", site: branch, name: Cat, password: pw-cat}}
phones:
  - {{mac: "{A}", model: 6757i, site: hq, lines: ["{a_line}"]}}
  - {{mac: "{B}", model: 6757i, site: hq, lines: ["1002"]}}
  - {{mac: "{C}", model: 6757i, site: branch, lines: ["2001"]}}
{model}"""


def fetch(resolver: Resolver, mac: str) -> bytes:
    answer = resolver.resolve(phone_request(f"{mac}.cfg"))
    assert answer.status is Status.OK, answer.detail
    return answer.content


def warm(resolver: Resolver) -> dict[str, bytes]:
    files = {mac: fetch(resolver, mac) for mac in (A, B, C)}
    assert {mac: fetch(resolver, mac) for mac in (A, B, C)} == files  # cached now
    return files


def moves(resolver: Resolver, action) -> dict[str, int]:
    """How the generation moves after ``action`` invalidated: by phone, or everything."""
    resolver.refresh(force=True)
    before = dict(resolver.invalidations)
    action()
    resolver.refresh(force=True)
    return {kind: resolver.invalidations[kind] - before[kind] for kind in before}


def renders(resolver: Resolver, *macs: str) -> int:
    """Renders the resolver needed to answer ``macs`` again."""
    before = resolver.render_misses
    for mac in macs:
        fetch(resolver, mac)
    return resolver.render_misses - before


def test_editing_one_phone_leaves_the_others_cached(store):
    apply_text(store, inventory())
    resolver = phones_resolver(store)
    files = warm(resolver)
    assert b"pw-ann" in files[A]

    moved = moves(resolver, lambda: apply_text(store, inventory(a_line="1003")))
    assert moved == {"phones": 1, "everything": 0}
    assert renders(resolver, B, C) == 0
    assert fetch(resolver, B) == files[B] and fetch(resolver, C) == files[C]
    assert renders(resolver, A) == 1
    assert b"pw-spare" in fetch(resolver, A) and b"pw-ann" not in fetch(resolver, A)


def test_a_site_edit_drops_that_sites_phones_only(store):
    apply_text(store, inventory())
    resolver = phones_resolver(store)
    files = warm(resolver)

    apply_text(store, inventory(hq_server="pbx.new.example.com"))
    resolver.refresh(force=True)
    assert renders(resolver, C) == 0 and fetch(resolver, C) == files[C]
    assert renders(resolver, A, B) == 2
    for mac in (A, B):
        assert b"pbx.new.example.com" in fetch(resolver, mac)
        assert b"pbx.hq.example.com" not in fetch(resolver, mac)


def test_a_deleted_phone_is_no_longer_served(store):
    apply_text(store, inventory())
    resolver = phones_resolver(store)
    files = warm(resolver)

    moved = moves(resolver, lambda: delete_phone(store, local_admin(), A))
    assert moved == {"phones": 1, "everything": 0}
    answer = resolver.resolve(phone_request(f"{A}.cfg"))
    assert answer.status is not Status.OK and not answer.known
    assert renders(resolver, B, C) == 0 and fetch(resolver, B) == files[B]


def test_a_phone_replaced_in_one_apply_is_not_served_its_old_file(store):
    apply_text(store, inventory())
    resolver = phones_resolver(store)
    warm(resolver)
    replaced = inventory().replace(f'mac: "{A}"', 'mac: "00085D0000AA"')
    moved = moves(resolver, lambda: apply_text(store, replaced, prune=True))
    assert moved == {"phones": 1, "everything": 0}
    assert resolver.resolve(phone_request(f"{A}.cfg")).status is not Status.OK
    assert b"pw-ann" in fetch(resolver, "00085D0000AA")
    assert renders(resolver, B, C) == 0


def test_a_model_profile_change_drops_everything(store):
    """A wide change (every phone of a model, and the model's common file): the store
    records no narrow generation for it, so caches drop everything, never stale."""
    apply_text(store, inventory())
    resolver = phones_resolver(store)
    warm(resolver)
    model = 'models:\n  - {model: 6757i, vendor_settings: {aastra: {"time format": "1"}}}\n'
    moved = moves(resolver, lambda: apply_text(store, inventory(model=model)))
    assert moved == {"phones": 0, "everything": 1}
    assert renders(resolver, A, B, C) == 3
    assert all(b"time format: 1" in fetch(resolver, mac) for mac in (A, B, C))


def test_a_change_through_another_store_is_served_within_a_second(store, db_url, tmp_path):
    """Two processes on one database (SQLite file or PostgreSQL): each has its own
    Store and Resolver; the store is the only channel between them."""
    apply_text(store, inventory())
    first = phones_resolver(store, generation_check_interval=0.2)
    files = warm(first)
    other = Store(db_url, data_dir=tmp_path)
    try:
        second = phones_resolver(other, generation_check_interval=0.2)
        assert fetch(second, A) == files[A]
        apply_text(other, inventory(a_line="1003"))
        second.refresh(force=True)
        assert b"pw-spare" in fetch(second, A)
        misses, wide = first.render_misses, first.invalidations["everything"]
        deadline = time.monotonic() + 1.0
        while b"pw-spare" not in fetch(first, A):
            assert time.monotonic() < deadline, "the first process still serves the old file"
            time.sleep(0.02)
        assert first.render_misses == misses + 1  # A only
        assert renders(first, B, C) == 0 and fetch(first, B) == files[B]
        assert first.invalidations["everything"] == wide
    finally:
        other.dispose()

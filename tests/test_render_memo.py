"""What the plug-ins keep between renders never changes a file, and never outlives an edit.

The plug-ins keep what they derive from a site view or a phone view (see
:mod:`plugtone.vendors.memo`: Polycom's site parameters, Aastra's site settings and each
phone's ``<MAC>.cfg`` settings) and what is a function of values alone (Cisco's dial
template, clock and common file). These tests render a varied fleet (three vendors,
sites in zones with and without DST, dial plans, codecs, NAT, keys, raw settings at
every level) through the resolver with everything kept, then each file again from
nothing (every memo and cache emptied, a fresh resolver), and compare the bytes; and
they edit a site under a running resolver and check the next files follow the edit.
"""

from __future__ import annotations

import copy

import yaml

from plugtone.inventory.store import Store
from plugtone.provisioning.resolver import FileRequest, Resolver, Status
from plugtone.services.export_tree import served_files
from plugtone.vendors import default_registry, memo
from plugtone.vendors.cisco79xx import _common
from plugtone.vendors.cisco79xx.config import _clock_of
from plugtone.vendors.cisco79xx.dialplan import dial_template
from plugtone.vendors.polycom import _site_body
from tests.conftest import EXAMPLE, apply_text

MODELS = ("6757i", "6731i", "IP650", "IP560", "CP-7960G", "7940")
ZONES = ("Europe/Paris", "Asia/Tokyo", "Pacific/Auckland", "UTC", "America/New_York")


def fleet() -> dict:
    """The example inventory, plus five sites of every model with varied settings."""
    document = yaml.safe_load(EXAMPLE.read_text())
    for n, zone in enumerate(ZONES):
        site = f"s{n}"
        document["sites"].append({
            "name": site, "sip_server": f"pbx{n}.example.com:{5060 + n}",
            "timezone": zone, "ntp_servers": [f"ntp{n}.example.com"][: n % 2 + 0],
            "dial_plan": ["911|9xxxxxxx", None, "[2-4]xx|0", "1xx", None][n],
            "digit_timeout": [3, None, 5, None, 2][n],
            "voicemail": ["*97", None, "8500", "##", None][n],
            "codecs": [["pcmu", "g722"], [], ["g729", "pcma"], ["opus"], ["pcma"]][n],
            "dtmf_method": ["rfc2833", "info", "inband", "rfc2833", "info"][n],
            "nat": n % 2 == 0,
            "keys": [{"type": "voicemail", "label": "VM"}, {"type": "callers"}][: n % 3],
            "directory": [{"name": f"Desk <{n}> & co", "number": "0"}][: n % 2],
            "vendor_settings": {
                "aastra": {"sip silence suppression": str(n % 2)},
                "polycom": {"tone.dtmf.level": str(-15 - n)},
                "cisco79xx": {"autocomplete": str(n % 2)},
            },
        })  # fmt: skip
        for m, model in enumerate(MODELS):
            number = f"{n}{m}0"
            document["extensions"].append(
                {"number": number, "site": site, "name": f"User {n}.{m}", "password": f"pw{n}{m}"}
            )
            phone = {
                "mac": f"00:0{n}:{m}0:00:{n}{m}:0{m}",
                "model": model,
                "site": site,
                "lines": [number],
            }
            if m % 2:
                phone["keys"] = [{"type": "speeddial", "value": "0", "label": "Op"},
                                 {"type": "speeddial", "value": f"9{n}"}][: m % 4]  # fmt: skip
            if m % 3 == 0:
                phone["description"] = f"Desk {n}/{m}"
            document["phones"].append(phone)
    return document


def fix_macs(document: dict) -> dict:
    """Give each phone a MAC in its vendor's prefix (the plug-ins serve only those)."""
    prefixes = {"6757i": "00085D", "6731i": "00085D", "IP650": "0004F2", "IP560": "0004F2",
                "CP-7960G": "00115C", "7940": "00115C"}  # fmt: skip
    for index, phone in enumerate(document["phones"][4:]):
        phone["mac"] = f"{prefixes[phone['model']]}{0xA00000 + index:06X}"
    return document


def apply(store: Store, document: dict) -> None:
    apply_text(store, yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def forget_everything() -> None:
    """Every memo and value cache the plug-ins keep, emptied."""
    memo.clear_all()
    for cached in (_common, _clock_of, dial_template, _site_body):
        cached.cache_clear()


def render_all(store: Store, paths: list[str], *, cold: bool) -> dict[str, bytes]:
    """Each path as ``plugtone export-tree`` resolves it; ``cold``: from nothing each."""
    registry = default_registry()
    resolver = None
    files = {}
    for path in paths:
        if cold or resolver is None:
            forget_everything()
            resolver = Resolver(store, registry)
            resolver.refresh(force=True)
        answer = resolver.resolve(FileRequest(path=path, transport="http", local=True))
        if answer.status is Status.OK and answer.content is not None:
            files[path] = answer.content
    return files


def test_a_varied_fleet_renders_the_same_bytes_with_and_without_what_is_kept(store):
    apply(store, fix_macs(fleet()))
    paths = served_files(store, default_registry())
    assert len(paths) > 80
    kept = render_all(store, paths, cold=False)
    kept_again = render_all(store, list(reversed(paths)), cold=False)
    cold = render_all(store, paths, cold=True)
    assert len(cold) > 80
    assert kept == cold
    assert kept_again == cold
    kinds: dict[str, int] = {}
    for path in cold:
        kinds[path.rsplit(".", 1)[-1]] = kinds.get(path.rsplit(".", 1)[-1], 0) + 1
    assert kinds["cfg"] > 30 and kinds["cnf"] > 10 and kinds["xml"] > 10, kinds


def test_an_edited_site_is_seen_by_the_next_render(store):
    document = fix_macs(fleet())
    apply(store, document)
    paths = served_files(store, default_registry())
    resolver = Resolver(store, default_registry(), generation_check_interval=0)
    resolver.refresh(force=True)

    def render() -> dict[str, bytes]:
        resolver.refresh(force=True)
        found = {}
        for path in paths:
            answer = resolver.resolve(FileRequest(path=path, transport="http", local=True))
            if answer.status is Status.OK and answer.content is not None:
                found[path] = answer.content
        return found

    before = render()
    edited = copy.deepcopy(document)
    for site in edited["sites"]:
        if site["name"] in ("s0", "s2"):
            site.update(timezone="Europe/London", dial_plan="5xx|0", digit_timeout=7,
                        ntp_servers=["edited.example.com"], codecs=["pcma"],
                        sip_server="pbx.example.com:5999",
                        conference="edited-conf")  # fmt: skip
    apply(store, edited)
    after = render()
    changed = {path for path in paths if before.get(path) != after.get(path)}
    assert after == render_all(store, paths, cold=True)  # what a fresh process renders
    edited_phones = [p["mac"] for p in edited["phones"] if p["site"] in ("s0", "s2")]
    for mac in edited_phones:
        own = [path for path in paths if mac.lower() in path.lower() and path in after]
        assert own, mac
        assert any(path in changed for path in own), f"{mac}: no file followed the edit"
    for path in changed:
        assert any(mac.lower() in path.lower() for mac in edited_phones) or "dialplan" in path
    joined = b"".join(after[path] for path in changed)
    for expected in (b"edited.example.com", b"5999", b"edited-conf"):
        assert expected in joined


def test_a_memo_answers_only_for_its_own_view_and_keeps_none_alive():
    import gc
    import weakref

    from plugtone.vendors.base import SiteView

    kept: memo.ViewMemo[str] = memo.ViewMemo(3)
    first = SiteView(name="a", sip_server="pbx.example.com")
    assert kept.get(first, lambda: "first") == "first"
    assert kept.get(first, lambda: "again") == "first"
    assert kept.get(first, lambda: "other key", extra=2026) == "other key"
    alive = weakref.ref(first)
    del first
    gc.collect()
    assert alive() is None, "the memo kept a dropped view alive"
    # An object given a dead view's id must not get its value: here an entry under the
    # new view's id whose reference is to another view stands for that reuse.
    second = SiteView(name="b", sip_server="pbx.example.com")
    other = SiteView(name="c", sip_server="pbx.example.com")
    kept._entries[(id(second), None)] = (weakref.ref(other), "not second's")
    assert kept.get(second, lambda: "second") == "second"
    for n in range(5):
        kept.get(SiteView(name=str(n), sip_server="x"), lambda: "filler")
    assert len(kept) == 3

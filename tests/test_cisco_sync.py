"""A 79xx told to check-sync takes its new files: ``sync`` in ``SIP<MAC>.cnf`` and
``syncinfo.xml`` (OL-7890-01 p. 4-4).

After the NOTIFY the phone reads ``syncinfo.xml`` and reboots only when its ``SYNC``
differs from the ``sync`` it booted with. So the value must stay put while nothing the
phone reads changed (a resync of an up-to-date phone costs nothing) and move as soon as
anything it reads did (its line, its site, its dial plan).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from plugtone.inventory.document import parse_document
from plugtone.inventory.yaml_source import load_located
from plugtone.services.inventory_apply import apply_document
from tests.emulators.cisco import parse_cnf
from tests.test_cisco_boot import (  # noqa: F401 (fixtures)
    build_resolver,
    provisioner,
    provisioner_for,
    registry,
    releases,
    resolver,
    tftp_requests,
)

MAC = "00115C93AFD1"


def booted_sync(fetch) -> str:
    status, body = fetch(f"SIP{MAC}.cnf")
    assert status == 200
    return parse_cnf(body.decode("ascii"))["sync"]


def offered_sync(fetch) -> str | None:
    status, body = fetch("syncinfo.xml")
    if status != 200:
        return None
    root = ET.fromstring(body)
    assert root.tag == "SYNCINFO"
    (image,) = root
    assert (image.tag, image.get("VERSION")) == ("IMAGE", "*")
    return image.get("SYNC")


def change(store, plugins, text: str) -> None:
    document, problems = parse_document(load_located(text, "change.yaml"), plugins)
    assert not problems, problems
    with store.sessions() as session:
        apply_document(session, document, registry=plugins)
        session.commit()


def test_syncinfo_moves_only_when_what_the_phone_reads_changes(provisioner, store, registry):  # noqa: F811 (fixtures of test_cisco_boot)
    fetch = tftp_requests(provisioner)
    booted = booted_sync(fetch)
    assert re.fullmatch(r"[0-9a-f]{16}", booted)  # the guide allows up to 32 characters
    assert offered_sync(fetch) == booted  # nothing changed: a check-sync leaves it alone

    # a change elsewhere (the other phone's line name) leaves this phone's value alone
    change(
        store,
        registry,
        'extensions:\n  - {number: "209", site: demo, name: Marie, password: "3434"}\n',
    )
    provisioner.resolver.refresh(force=True)
    assert offered_sync(fetch) == booted

    # its own line's name changes: the offered value moves, so the phone reboots ...
    change(
        store, registry, 'extensions:\n  - {number: "208", site: demo, name: Desk, password: sip}\n'
    )
    provisioner.resolver.refresh(force=True)
    moved = offered_sync(fetch)
    assert moved is not None and moved != booted
    # ... fetches its files again, and then agrees with syncinfo.xml
    assert booted_sync(fetch) == moved
    assert offered_sync(fetch) == moved


def test_a_site_dial_plan_change_moves_it_too(provisioner, store, registry):  # noqa: F811 (fixtures of test_cisco_boot)
    fetch = tftp_requests(provisioner)
    booted = booted_sync(fetch)
    site = (
        "sites:\n  - {name: demo, sip_server: 10.100.2.127, timezone: Europe/Brussels, "
        "dial_plan: '0|911|[1-7]xx', digit_timeout: 4}\n"
    )
    change(store, registry, site)
    provisioner.resolver.refresh(force=True)
    assert offered_sync(fetch) not in (None, booted)


def test_a_requester_plugtone_cannot_place_gets_no_syncinfo(provisioner):  # noqa: F811 (fixtures of test_cisco_boot)
    # an address that never named a MAC: nothing to compare, so nothing is offered
    assert offered_sync(tftp_requests(provisioner, address="10.9.9.9")) is None

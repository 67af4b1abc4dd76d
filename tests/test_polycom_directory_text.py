"""The Polycom directory written as text and kept per site: the same bytes as the tree.

``<MAC>-directory.xml`` is written without building an ElementTree per phone (a site's
entries are rendered once per site view). These tests hold it to what ElementTree's
``indent`` + ``tostring`` wrote before, byte for byte, on names full of markup and
control characters, and check that a site's kept list never carries one phone's speed
dials to another or outlives an edit of the site.
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import replace

from defusedxml import ElementTree as SafeET

from plugtone.vendors.base import ContactView, KeyView
from plugtone.vendors.polycom.directory import Entry, directory_file, phone_directory
from plugtone.vendors.polycom.xmlfile import serialize, xml_text
from tests.test_polycom_render import seed_phone, seed_site

TRICKY = [*"ab <>&\"'\t\n\r\x00\x01é漢\U0001f600-", "--", "]]>", "&amp;", ""]


def tree_directory(contacts: list[Entry], note: str) -> bytes:
    """The directory as ElementTree writes it (how the file was built before)."""
    root = ET.Element("directory")
    items = ET.SubElement(root, "item_list")
    for contact in contacts:
        item = ET.SubElement(items, "item")
        ET.SubElement(item, "fn").text = xml_text(contact.name)
        ET.SubElement(item, "ct").text = xml_text(contact.number)
        if contact.speed_dial is not None:
            ET.SubElement(item, "sd").text = str(contact.speed_dial)
    return serialize(root, [note])


def test_the_text_is_byte_for_byte_what_elementtree_writes():
    chance = random.Random(17)

    def text(longest: int) -> str:
        return "".join(chance.choice(TRICKY) for _ in range(chance.randint(0, longest)))

    for _ in range(2000):
        contacts = [
            Entry(text(6), text(4), chance.choice([None, None, 1, 12]))
            for _ in range(chance.choice([0, 0, 1, 2, 5]))
        ]
        note = text(8)
        assert directory_file(contacts, note) == tree_directory(contacts, note)


def entries_of(document: bytes) -> list[tuple[str, str, str | None]]:
    root = SafeET.fromstring(document)
    return [
        (item.findtext("fn") or "", item.findtext("ct") or "", item.findtext("sd"))
        for item in root.iter("item")
    ]


def test_speed_dials_stay_on_their_phone_and_an_edited_site_is_listed_anew():
    site = seed_site(
        directory=(ContactView("Reception", "200"),),
        members=(ContactView("Ann", "200"), ContactView("Bob", "201")),
    )
    dialling = seed_phone(site=site, keys=(KeyView("speeddial", "201", "Bobby"),
                                           KeyView("speeddial", "300", "Lobby")))  # fmt: skip
    plain = seed_phone(site=site, mac="0004f2000002")

    assert entries_of(phone_directory(dialling, "n")) == [
        ("Reception", "200", None), ("Bobby", "201", "1"), ("Lobby", "300", "2")
    ]  # fmt: skip
    assert entries_of(phone_directory(plain, "n")) == [
        ("Reception", "200", None), ("Bob", "201", None)
    ]  # fmt: skip
    # The same view again (kept list), then the site edited (a new view).
    assert entries_of(phone_directory(plain, "n")) == [
        ("Reception", "200", None), ("Bob", "201", None)
    ]  # fmt: skip
    edited = replace(site, members=(*site.members, ContactView("Cy <&>", "202")))
    assert entries_of(phone_directory(replace(plain, site=edited), "n")) == [
        ("Reception", "200", None), ("Bob", "201", None), ("Cy <&>", "202", None)
    ]  # fmt: skip


def test_kept_site_lists_stay_under_their_bound(monkeypatch):
    from plugtone.vendors.polycom import directory

    monkeypatch.setattr(directory, "_SITE_LISTS_MAX_ENTRIES", 50)
    members = tuple(ContactView(f"E{n}", str(n)) for n in range(200, 210))
    for edit in range(20):  # one site edited twenty times: twenty views
        site = seed_site(members=members, name=f"edit {edit}")
        listed = entries_of(phone_directory(seed_phone(site=site), "n"))
        assert [number for _, number, _ in listed] == [str(n) for n in range(200, 210)]
        kept = sum(len(found.entries) + 1 for _, found in directory._SITE_LISTS.values())
        assert kept == directory._site_list_entries <= 50

"""Polycom contact directories (``<MAC>-directory.xml``, ``000000000000-directory.xml``).

The format is the phone's local contact list: ``<directory><item_list>`` holding one
``<item>`` per contact, ``<fn>`` the name shown and ``<ct>`` the number dialled (the
layout asterisk's phoneprov and the vendor's sample files use). A phone asks for
its own ``<MAC>-directory.xml`` first and falls back to ``000000000000-directory.xml``.

A phone's list holds its site's directory contacts, in inventory order, then the
site's extensions by number; a number already listed is not repeated, so an admin's
name for a number ("Reception" for 200) wins over the extension's own name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from plugtone.vendors.base import ContactView, SiteView
from plugtone.vendors.polycom.xmlfile import serialize, xml_text


def site_contacts(site: SiteView) -> list[ContactView]:
    """The contacts a phone of ``site`` lists: directory entries, then extensions."""
    seen: set[str] = set()
    contacts = []
    for contact in (*site.directory, *site.members):
        if contact.number not in seen:
            seen.add(contact.number)
            contacts.append(contact)
    return contacts


def directory_file(contacts: Iterable[ContactView], note: str) -> bytes:
    root = ET.Element("directory")
    items = ET.SubElement(root, "item_list")
    for contact in contacts:
        item = ET.SubElement(items, "item")
        ET.SubElement(item, "fn").text = xml_text(contact.name)
        ET.SubElement(item, "ct").text = xml_text(contact.number)
    return serialize(root, [note])

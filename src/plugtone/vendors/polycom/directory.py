"""Polycom contact directories (``<MAC>-directory.xml``, ``000000000000-directory.xml``).

The format is the phone's local contact list: ``<directory><item_list>`` holding one
``<item>`` per contact, ``<fn>`` the name shown and ``<ct>`` the number dialled (the
layout asterisk's phoneprov and the vendor's sample files use). A phone asks for
its own ``<MAC>-directory.xml`` first and falls back to ``000000000000-directory.xml``.

A phone's list holds its site's directory contacts, in inventory order, then the
site's extensions by number; a number already listed is not repeated, so an admin's
name for a number ("Reception" for 200) wins over the extension's own name.

Speed dials: a phone's ``speeddial`` and ``voicemail`` keys (see :mod:`.keys`) become
entries with a speed-dial index ``<sd>`` (1, 2, ... in key order; "Null, 1 to 9999",
SIP 3.0.2 Administrator's Guide p. 4-11), which the phone shows on its free line keys.
A number the list already holds gets the index on its entry (``<ct>`` "cannot be Null
or duplicated", same page), and the key's label, when it has one, as the entry's name,
since that name is what the key shows; other numbers are added at the end.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

from plugtone.vendors.base import ContactView, PhoneView, SiteView
from plugtone.vendors.polycom.keys import speed_dials
from plugtone.vendors.polycom.xmlfile import serialize, xml_text

ELEMENTS = ("directory", "item_list", "item", "fn", "ct", "sd")
"""Every element name this module writes (the directory's format, SIP 3.0.2 guide
p. 4-11: ``fn`` first name, ``ct`` contact, ``sd`` speed-dial index)."""


@dataclass(frozen=True)
class Entry:
    """One ``<item>``: a contact, with a speed-dial index when a key shows it."""

    name: str
    number: str
    speed_dial: int | None = None


def site_contacts(site: SiteView) -> list[ContactView]:
    """The contacts a phone of ``site`` lists: directory entries, then extensions."""
    seen: set[str] = set()
    contacts = []
    for contact in (*site.directory, *site.members):
        if contact.number not in seen:
            seen.add(contact.number)
            contacts.append(contact)
    return contacts


def phone_contacts(phone: PhoneView) -> list[Entry]:
    """The phone's list: its site's contacts, with its speed dials merged in."""
    entries = [Entry(contact.name, contact.number) for contact in site_contacts(phone.site)]
    where = {entry.number: position for position, entry in enumerate(entries)}
    for dial in speed_dials(phone):
        position = where.get(dial.number)
        if position is None:
            entries.append(Entry(dial.label or dial.number, dial.number, dial.index))
            where[dial.number] = len(entries) - 1
        else:
            known = entries[position]
            entries[position] = Entry(dial.label or known.name, known.number, dial.index)
    return entries


def directory_file(contacts: Iterable[ContactView | Entry], note: str) -> bytes:
    root = ET.Element("directory")
    items = ET.SubElement(root, "item_list")
    for contact in contacts:
        item = ET.SubElement(items, "item")
        ET.SubElement(item, "fn").text = xml_text(contact.name)
        ET.SubElement(item, "ct").text = xml_text(contact.number)
        speed_dial = getattr(contact, "speed_dial", None)
        if speed_dial is not None:
            ET.SubElement(item, "sd").text = str(speed_dial)
    return serialize(root, [note])

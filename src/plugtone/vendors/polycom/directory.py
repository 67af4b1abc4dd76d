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

Speed: every phone of a site lists the whole site (a 100-phone site: 100 entries per
phone), so the site's entries and their XML are built once per site view and kept
(:func:`_site_list`); a phone adds only its speed dials. The text is written directly,
in exactly the layout ElementTree's ``indent`` and ``tostring`` give (the tests compare
the two): building and serialising a tree per phone was most of a cold Polycom boot's
directory cost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from plugtone.vendors.base import ContactView, PhoneView, SiteView
from plugtone.vendors.polycom.keys import speed_dials
from plugtone.vendors.polycom.xmlfile import DECLARATION, comment, escaped_text, xml_text

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


@dataclass(frozen=True)
class _SiteList:
    """A site's entries, their ``<item>`` texts and each number's position."""

    entries: tuple[Entry, ...]
    items: tuple[str, ...]
    where: dict[str, int]


_SITE_LISTS: dict[int, tuple[SiteView, _SiteList]] = {}
"""Site lists by ``id`` of the site view (views hold a mapping, so they do not hash);
the view is kept with its list, so its id cannot be reused while the entry lives. A
change to a site makes a new view, so an edited site never meets its old list."""
_SITE_LISTS_MAX_ENTRIES = 250_000
"""Entries kept in all (oldest site lists dropped first): every site of a 100,000-phone
fleet with an extension a phone, at roughly 150 bytes an entry, while a site edited
over and over cannot pile up old lists without bound."""
_site_list_entries = 0
_SITE_LISTS_LOCK = threading.Lock()


def _site_list(site: SiteView) -> _SiteList:
    found = _SITE_LISTS.get(id(site))
    if found is not None and found[0] is site:
        return found[1]
    entries = tuple(Entry(contact.name, contact.number) for contact in site_contacts(site))
    built = _SiteList(
        entries,
        tuple(_item(entry) for entry in entries),
        {entry.number: position for position, entry in enumerate(entries)},
    )
    global _site_list_entries
    with _SITE_LISTS_LOCK:
        replaced = _SITE_LISTS.pop(id(site), None)
        if replaced is not None:
            _site_list_entries -= len(replaced[1].entries) + 1
        while _SITE_LISTS and _site_list_entries + len(entries) + 1 > _SITE_LISTS_MAX_ENTRIES:
            _site_list_entries -= len(_SITE_LISTS.pop(next(iter(_SITE_LISTS)))[1].entries) + 1
        _SITE_LISTS[id(site)] = (site, built)
        _site_list_entries += len(entries) + 1
    return built


def _merged(phone: PhoneView) -> tuple[list[Entry], list[str]]:
    """The phone's entries and their item texts: its site's, with its speed dials merged."""
    site = _site_list(phone.site)
    entries, items = list(site.entries), list(site.items)
    dials = speed_dials(phone)
    if not dials:
        return entries, items
    where = dict(site.where)
    for dial in dials:
        position = where.get(dial.number)
        if position is None:
            entry = Entry(dial.label or dial.number, dial.number, dial.index)
            entries.append(entry)
            items.append(_item(entry))
            where[dial.number] = len(entries) - 1
        else:
            known = entries[position]
            entry = Entry(dial.label or known.name, known.number, dial.index)
            entries[position] = entry
            items[position] = _item(entry)
    return entries, items


def phone_contacts(phone: PhoneView) -> list[Entry]:
    """The phone's list: its site's contacts, with its speed dials merged in."""
    return _merged(phone)[0]


def phone_directory(phone: PhoneView, note: str) -> bytes:
    """The phone's ``<MAC>-directory.xml``."""
    return _document(_merged(phone)[1], note)


def directory_file(contacts: Iterable[ContactView | Entry], note: str) -> bytes:
    """A directory of ``contacts`` (an entry's speed-dial index kept when it has one)."""
    items = [
        _item(Entry(contact.name, contact.number, getattr(contact, "speed_dial", None)))
        for contact in contacts
    ]
    return _document(items, note)


def _escaped(text: str) -> str:
    """Element text as ElementTree writes it: ``&``, ``<`` and ``>`` as references."""
    return escaped_text(xml_text(text))


def _leaf(tag: str, text: str) -> str:
    escaped = _escaped(text)
    # ElementTree writes an element with no text as <tag /> (short empty elements).
    body = f"<{tag}>{escaped}</{tag}>" if escaped else f"<{tag} />"
    return f"      {body}\n"


def _item(entry: Entry) -> str:
    """One ``<item>`` at its place in the document (two levels deep, two spaces each)."""
    sd = "" if entry.speed_dial is None else _leaf("sd", str(entry.speed_dial))
    return f"    <item>\n{_leaf('fn', entry.name)}{_leaf('ct', entry.number)}{sd}    </item>\n"


def _document(items: list[str], note: str) -> bytes:
    """The file: the declaration Polycom's files carry, the note, the list."""
    body = (
        "<directory>\n  <item_list>\n" + "".join(items) + "  </item_list>\n</directory>"
        if items
        else "<directory>\n  <item_list />\n</directory>"
    )
    return (DECLARATION + comment(note) + "\n" + body + "\n").encode("utf-8")

"""The site's phone book as ``CiscoIPPhoneDirectory`` pages, fetched from ``directory_url``.

A ``CiscoIPPhoneDirectory`` object holds at most 32 ``DirectoryEntry`` elements
(Cisco IP Phone Services Application Development Notes, OL-20949-01, p. 3-7), so a
larger book is split into pages. The phone's HTTP request carries no query string to
the resolver, so the page number is in the path: page 1 is ``directory-<MAC>.xml``,
page N is ``directory-<MAC>-N.xml``. Each page's prompt says "Page N of M" and, when
the site has a ``public_url`` (the softkey URLs must be absolute), ``Next`` and
``Prev`` softkeys link the pages; the usual ``Dial``, ``EditDial`` and ``Exit`` keys
are listed too, since giving any softkey replaces the phone's defaults.

Order: the site's extensions and its directory contacts together, sorted by name
(case-insensitive, then number), with exact duplicates dropped: someone scrolling a
paged list looks for a name, and an extension repeated as a contact would only take
up room.

The XML is built with ElementTree, which escapes ``<``, ``&`` and quotes, and written
as ASCII with character references, so the bytes mean the same whatever character
set the phone assumes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from plugtone.vendors.base import ContactView, SiteView

PAGE_SIZE = 32
MAX_TEXT = 32
"""Name, Telephone, Title and Prompt longer than this are cut (the display is narrow)."""


def entries(site: SiteView) -> list[ContactView]:
    """Every contact of the site, in page order."""
    unique = {
        (contact.name, contact.number): contact for contact in (*site.members, *site.directory)
    }
    return sorted(unique.values(), key=lambda contact: (contact.name.casefold(), contact.number))


def page_path(mac: str, page: int) -> str:
    """The path of ``page`` (1-based), relative to plugtone's base URL."""
    return f"cisco/directory-{mac}.xml" if page == 1 else f"cisco/directory-{mac}-{page}.xml"


def render_page(site: SiteView, mac: str, page: int) -> bytes | None:
    """Page ``page`` of the site's book for the phone ``mac``; ``None`` past the last page."""
    contacts = entries(site)
    pages = max(1, -(-len(contacts) // PAGE_SIZE))  # an empty book still has one page
    if not 1 <= page <= pages:
        return None
    root = ET.Element("CiscoIPPhoneDirectory")
    ET.SubElement(root, "Title").text = _cut(f"{site.name} directory")
    ET.SubElement(root, "Prompt").text = f"Page {page} of {pages}"
    for contact in contacts[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        entry = ET.SubElement(root, "DirectoryEntry")
        ET.SubElement(entry, "Name").text = _cut(contact.name)
        ET.SubElement(entry, "Telephone").text = _cut(contact.number)
    if site.public_url:
        base = site.public_url.rstrip("/")
        keys = [("Dial", "SoftKey:Dial"), ("EditDial", "SoftKey:EditDial")]
        if page < pages:
            keys.append(("Next", f"{base}/{page_path(mac, page + 1)}"))
        if page > 1:
            keys.append(("Prev", f"{base}/{page_path(mac, page - 1)}"))
        keys.append(("Exit", "SoftKey:Exit"))
        for position, (name, url) in enumerate(keys, start=1):
            item = ET.SubElement(root, "SoftKeyItem")
            ET.SubElement(item, "Name").text = name
            ET.SubElement(item, "URL").text = url
            ET.SubElement(item, "Position").text = str(position)
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"


def empty_page() -> bytes:
    """A book with no entry and no site in it (what a stranger gets for page 1)."""
    root = ET.Element("CiscoIPPhoneDirectory")
    ET.SubElement(root, "Title").text = "Directory"
    ET.SubElement(root, "Prompt").text = "Page 1 of 1"
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1].rstrip() + "."

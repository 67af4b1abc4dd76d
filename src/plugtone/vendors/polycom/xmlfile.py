"""Writing Polycom's XML files: every parameter an attribute, every value escaped.

Polycom configuration files are XML in which element names are free and every
parameter is an attribute (``<reg reg.1.address="201"/>``). Files are built with
ElementTree, which escapes ``<``, ``&`` and quotes in attribute values; what it
does not do is refuse characters XML 1.0 cannot carry at all (most control
characters), so those are removed here: a display name pasted with a stray control
character must not make a phone reject its whole file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping

DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
PARAMETER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,199}")
"""What a Polycom parameter name looks like (also a valid XML attribute name)."""

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LOST = re.compile("[^\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters a value cannot keep through a Polycom file: those XML 1.0 cannot hold at all
(C0 controls, U+FFFE, U+FFFF, lone surrogates), and tab, line feed and carriage return,
which XML parsers normalise (in element text a carriage return becomes a line feed; in
an attribute the three survive only as character references, which plugtone would have
to count on every phone's parser honouring)."""


def xml_text(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot represent."""
    return _NOT_XML.sub("", value)


def lost_character(value: str | None) -> str | None:
    """The first character of ``value`` a Polycom file cannot carry unchanged, if any."""
    found = _LOST.search(value or "")
    return found.group(0) if found else None


def comment(text: str) -> str:
    """``text`` as an XML comment; ``--`` cannot appear inside one, so it is broken up."""
    body = xml_text(text).replace("--", "- -").rstrip("-")
    return f"<!-- {body} -->"


def grouped(parameters: Mapping[str, str]) -> list[tuple[str, dict[str, str]]]:
    """Parameters grouped by their first name component, in first-seen order.

    ``reg.1.address`` and ``reg.1.label`` go to one ``<reg>`` element: the phone does
    not care, but a person reading the file finds related settings together.
    """
    groups: dict[str, dict[str, str]] = {}
    for name, value in parameters.items():
        groups.setdefault(name.split(".", 1)[0], {})[name] = value
    return list(groups.items())


def config_file(
    root: str, notes: Iterable[str], groups: Iterable[tuple[str, Mapping[str, str]]]
) -> bytes:
    """A configuration file: ``root`` holding one element per non-empty group.

    Names that are not parameter names are skipped rather than written: an invalid
    attribute name would make the whole file unreadable to the phone.
    """
    element = ET.Element(root)
    for tag, parameters in groups:
        attributes = {
            name: xml_text(value)
            for name, value in parameters.items()
            if PARAMETER_NAME.fullmatch(name)
        }
        if attributes:
            ET.SubElement(element, tag, attributes)
    return serialize(element, notes)


def serialize(element: ET.Element, notes: Iterable[str] = ()) -> bytes:
    """The document as UTF-8 bytes with the declaration Polycom's own files carry.

    ``notes`` become comments before the root element, where the vendor's sample
    files keep theirs.
    """
    ET.indent(element, space="  ")
    head = "".join(comment(note) + "\n" for note in notes)
    body = ET.tostring(element, encoding="unicode")
    return (DECLARATION + head + body + "\n").encode("utf-8")

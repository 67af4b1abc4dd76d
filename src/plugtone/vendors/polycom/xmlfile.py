"""Writing Polycom's XML files: every parameter an attribute, every value escaped.

Polycom configuration files are XML in which element names are free and every
parameter is an attribute (``<reg reg.1.address="201"/>``). Values are escaped as
ElementTree escapes attribute values (``&``, ``<``, ``>``, quotes, and tab, line feed
and carriage return as character references); what that does not do is refuse
characters XML 1.0 cannot carry at all (most control characters), so those are removed
here: a display name pasted with a stray control character must not make a phone
reject its whole file.

Speed: the files every phone has of its own (the master file, the lines and site
files) are two levels deep, a root and elements holding only attributes, so
:func:`document` writes their text directly, in exactly the layout ElementTree's
``indent`` and ``tostring`` give (the tests compare the two on markup and control
characters): building and serialising a tree per file was about a third of a cold
Polycom render.
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
    return with_notes(notes, config_body(root, groups))


def config_body(root: str, groups: Iterable[tuple[str, Mapping[str, str]]]) -> str:
    """:func:`config_file`'s root element as text, without the declaration and notes
    (what a site's phones share, so the caller may keep it)."""
    children = []
    for tag, parameters in groups:
        attributes = {
            name: xml_text(value)
            for name, value in parameters.items()
            if PARAMETER_NAME.fullmatch(name)
        }
        if attributes:
            children.append((tag, attributes))
    return _body(root, {}, children)


def escaped_text(value: str) -> str:
    """``&``, ``<`` and ``>`` as references, as ElementTree writes element text (and
    begins an attribute value); ``value`` is already XML-safe (:func:`xml_text`)."""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    return value


def _attribute(value: str) -> str:
    """An attribute value as ElementTree escapes it (``xml.etree.ElementTree._escape_attrib``)."""
    value = escaped_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    if "\n" in value:
        value = value.replace("\n", "&#10;")
    if "\t" in value:
        value = value.replace("\t", "&#09;")
    return value


def _element(tag: str, attributes: Mapping[str, str]) -> str:
    """``<tag name="value" ...`` (the caller closes it)."""
    written = "".join(f' {name}="{_attribute(value)}"' for name, value in attributes.items())
    return "<" + tag + written


def document(
    root: str,
    attributes: Mapping[str, str],
    children: Iterable[tuple[str, Mapping[str, str]]],
    notes: Iterable[str] = (),
) -> bytes:
    """The bytes :func:`serialize` gives for ``root`` (with ``attributes``) holding one
    empty element per child, each with only attributes: written as text, without a tree.

    ``root``, the children's tags and every attribute name must be XML names without a
    namespace (the callers write parameter names, which are).
    """
    return with_notes(notes, _body(root, attributes, children))


def with_notes(notes: Iterable[str], body: str) -> bytes:
    """The file: the declaration, ``notes`` as comments, then ``body`` (the root element)."""
    head = "".join(comment(note) + "\n" for note in notes)
    return (DECLARATION + head + body + "\n").encode("utf-8")


def _body(
    root: str, attributes: Mapping[str, str], children: Iterable[tuple[str, Mapping[str, str]]]
) -> str:
    inner = [f"  {_element(tag, values)} />\n" for tag, values in children]
    start = _element(root, attributes)
    # ElementTree writes an element with no children as <root ... /> (short empty
    # elements), and indent puts each child on a line of its own, two spaces in.
    return f"{start}>\n{''.join(inner)}</{root}>" if inner else f"{start} />"


def serialize(element: ET.Element, notes: Iterable[str] = ()) -> bytes:
    """The document as UTF-8 bytes with the declaration Polycom's own files carry.

    ``notes`` become comments before the root element, where the vendor's sample
    files keep theirs.
    """
    ET.indent(element, space="  ")
    head = "".join(comment(note) + "\n" for note in notes)
    body = ET.tostring(element, encoding="unicode")
    return (DECLARATION + head + body + "\n").encode("utf-8")

"""The site's dial plan as a 79xx ``<DIALTEMPLATE>``.

The inventory writes dial plans in the Aastra notation: alternatives separated by ``|``,
``x`` any digit, ``[1-3]`` a class, ``+`` zero or more of what precedes, ``*`` and ``#``
keypad keys, ``;`` a secondary dial tone and ``,digits`` a prefix to prepend.

The 79xx SIP firmware matches each ``<TEMPLATE MATCH="...">`` with ``.`` for any one
character, ``*`` for one or more characters, ``\\*`` for the star key and ``,`` for a
secondary dial tone (Cisco SIP IP Phone Administrator Guide 6.x/7.x, "How to Create
Dial Plans"); classes like ``[2-9]`` appear in working files (julianhead/CiscoPhones
``dialplan.xml``). So:

- ``x`` becomes ``.`` and ``*`` becomes ``\\*``; digits, ``#`` and classes stay;
- ``E+`` becomes two templates, one without ``E`` and one with ``*`` in its place (one or
  more of any key: exact for ``x+``, wider than the original for a class);
- a template the user can still extend into a longer one waits ``Timeout`` seconds (the
  site's digit timeout); one nothing longer can match dials at once (``Timeout="0"``);
  a template ending in ``*`` always waits. Templates of wildcards only (``xxx+`` gives
  ``..*``) are catch-alls and hold no other back, so ``911`` or a three-digit extension
  still dials at once;
- what has no 79xx equivalent (a prefix to prepend, ``(...)`` groups, a ``^``) is left
  out, with a comment in the file;
- a final ``MATCH="*"`` template dials anything else after the digit timeout.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

DEFAULT_TIMEOUT = 5
MAX_VARIANTS = 8
"""Each ``+`` doubles a rule's templates; past this many the rule is left out."""

ANY = frozenset("0123456789*#")
WILDCARD = "."
MANY = "*"
CLASS = re.compile(r"\[([0-9*#-]+)\]")


@dataclass(frozen=True)
class Element:
    """One position of a template: the keys it accepts, and whether it repeats (``*``)."""

    text: str
    keys: frozenset[str]
    many: bool = False


STAR_MANY = Element(MANY, ANY, many=True)


def dial_template(plan: str | None, digit_timeout: int | None) -> bytes:
    """The ``dialplan<MAC>.xml`` for a site's ``plan`` (or only the catch-all without one)."""
    timeout = digit_timeout or DEFAULT_TIMEOUT
    root = ET.Element("DIALTEMPLATE")
    templates: list[list[Element]] = []
    for rule in (plan or "").split("|"):
        rule = rule.strip()
        if not rule:
            continue
        variants, note = translate(rule)
        if note:
            root.append(ET.Comment(_comment(f" {rule}: {note} ")))
        for variant in variants:
            if variant not in templates:
                templates.append(variant)
    for elements in templates:
        waits = elements[-1].many or any(
            _extends(elements, other)
            for other in templates
            if other is not elements and not _generic(other)
        )
        ET.SubElement(
            root,
            "TEMPLATE",
            {
                "MATCH": "".join(element.text for element in elements),
                "Timeout": str(timeout if waits else 0),
                "User": "Phone",
            },
        )
    ET.SubElement(root, "TEMPLATE", {"MATCH": MANY, "Timeout": str(timeout)})
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"


def translate(rule: str) -> tuple[list[list[Element]], str | None]:
    """The templates for one Aastra alternative, and a note about what was left out."""
    notes = []
    pattern, comma, prefix = rule.partition(",")
    if comma:
        notes.append(f"prefix {prefix!r} not prepended")
    if "^" in pattern:
        pattern = pattern.replace("^", "")
        notes.append("'^' has no 79xx equivalent")
    if "(" in pattern or ")" in pattern:
        return [], "groups '(...)' are not supported; rule left out"
    variants: list[list[Element]] = [[]]
    position = 0
    while position < len(pattern):
        char = pattern[position]
        found = CLASS.match(pattern, position)
        if found:
            element = Element(found.group(0), _class_keys(found.group(1)))
            position = found.end()
        elif char in "0123456789#":
            element, position = Element(char, frozenset(char)), position + 1
        elif char in "xX":
            element, position = Element(WILDCARD, ANY), position + 1
        elif char == "*":
            element, position = Element("\\*", frozenset("*")), position + 1
        elif char == ";":
            element, position = Element(",", frozenset()), position + 1
        else:
            return [], f"{char!r} is not understood; rule left out"
        if position < len(pattern) and pattern[position] == "+":
            position += 1
            variants = [*variants, *([*v, STAR_MANY] for v in variants)]
            if len(variants) > MAX_VARIANTS:
                return [], "too many '+' to translate; rule left out"
        else:
            variants = [[*v, element] for v in variants]
    variants = [_merge_stars(v) for v in variants if _digits(v)]
    return variants, "; ".join(notes) or None


def _class_keys(body: str) -> frozenset[str]:
    keys = set()
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            low, high = body[index], body[index + 2]
            keys.update(chr(code) for code in range(ord(low), ord(high) + 1))
            index += 3
        else:
            keys.add(body[index])
            index += 1
    return frozenset(keys) & ANY


def _generic(elements: list[Element]) -> bool:
    """A template of wildcards only (``..*``) is a catch-all: it holds no other back."""
    return all(element.keys in (ANY, frozenset()) for element in elements)


def _digits(elements: list[Element]) -> bool:
    """A template must ask for at least one key (``x+`` alone would match nothing typed)."""
    return any(element.keys for element in elements)


def _merge_stars(elements: list[Element]) -> list[Element]:
    """``**`` (one or more, twice) is ``*`` plus one more key: write it as ``.*``."""
    merged: list[Element] = []
    for element in elements:
        if element.many and merged and merged[-1].many:
            merged[-1] = Element(WILDCARD, ANY)
        merged.append(element)
    return merged


def _extends(short: list[Element], other: list[Element]) -> bool:
    """Whether some key sequence ``short`` matches is the start of a longer one ``other`` does.

    ``other`` is run as a small automaton over the key sets of ``short`` (each position
    of ``short`` is independent, so a non-empty intersection means a real key exists);
    a state left over that can take one more key means the user could keep dialing.
    """
    states = {(0, False)}
    for element in short:
        if not element.keys:  # a secondary dial tone consumes no key
            continue
        following = set()
        for index, inside in _closure(states, other):
            if inside and element.keys & ANY:
                following.add((index, True))
            if index < len(other) and other[index].keys & element.keys:
                following.add((index, True) if other[index].many else (index + 1, False))
        states = following
        if not states:
            return False
    return any(
        inside or (index < len(other) and bool(other[index].keys))
        for index, inside in _closure(states, other)
    )


def _closure(states: set[tuple[int, bool]], other: list[Element]) -> set[tuple[int, bool]]:
    """Add the states reachable without a key: leaving a ``*``, passing a dial tone."""
    result = set(states)
    pending = list(states)
    while pending:
        index, inside = pending.pop()
        successors = []
        if inside:
            successors.append((index + 1, False))
        if not inside and index < len(other) and not other[index].keys:
            successors.append((index + 1, False))
        for state in successors:
            if state not in result:
                result.add(state)
                pending.append(state)
    return result


def _comment(text: str) -> str:
    """XML comments may not contain ``--``."""
    while "--" in text:
        text = text.replace("--", "- -")
    return text

"""The site's dial plan as a 79xx ``<DIALTEMPLATE>``, in the documented syntax only.

The inventory writes dial plans in the common notation (Aastra's ``sip dial plan``):
alternatives separated by ``|``, ``x`` any digit, ``[1-3]`` a class, ``+`` zero or more
of what precedes, ``*`` and ``#`` keypad keys, ``;`` a secondary dial tone, ``^`` "wait
for the digit timeout" and ``pattern,digits`` "prepend digits to what matched".

What the 7940/7960 SIP firmware documents (Cisco SIP IP Phone Administrator Guide,
Release 6.x and 7.x, "How to Create Dial Plans", p. 3-23; Release 2.0 guide 78-10497-02,
"Creating Dial Plans"): ``<DIALTEMPLATE>`` holds ``<TEMPLATE MATCH=... Timeout=...
User=... Rewrite=...>`` entries; in ``MATCH`` a period (``.``) matches any character, an
asterisk (``*``) one or more characters, a comma (``,``) plays a secondary dial tone,
and ``\\*`` is the star key itself (the escape is in Cisco's "SIP Dial Rules" chapter
for the 7940_7960_OTHER rules, CUCM Administration Guide OL-18611-01, p. 40-6).
``Timeout`` is the seconds before the number is dialled as entered (0: at once),
``User`` is ``IP`` or ``Phone``, ``Rewrite`` the string dialled instead (``%s`` is what
the user dialled). Rules are matched with the longest taken, and "a complete rule is
not matched unless it has more nonwildcard matches than an incomplete rule".

No character class is documented, so classes are written out: ``[1-7]xx`` becomes the
seven templates ``1..`` ... ``7..``; a class that holds all ten digits becomes ``.``
(which also takes ``*`` and ``#``: the only way to say "any digit"). So:

- ``x`` becomes ``.``, ``*`` becomes ``\\*``, ``;`` becomes ``,``; digits and ``#`` stay;
- ``E+`` becomes two templates, one without ``E`` and one with ``*`` in its place (one
  or more of any key: exact for ``x+``, wider than the original for a class);
- ``^`` makes the template wait for the timeout; ``pattern,digits`` becomes
  ``Rewrite="digits%s"``;
- a template the user can still extend into a longer one waits ``Timeout`` seconds (the
  site's digit timeout); one nothing longer can match dials at once (``Timeout="0"``);
  a template ending in ``*`` always waits. Templates of wildcards only (``xxx+`` gives
  ``..*``) are catch-alls and hold no other back, so ``911`` still dials at once;
- what has no 79xx equivalent (``(...)`` groups, characters the notation does not
  have) is left out, with a comment in the file and a warning from :func:`check_dial_plan`:
  numbers it would match still dial through the final catch-all, after the timeout;
- a final ``MATCH="*"`` template dials anything else after the digit timeout.

How many templates the phone holds is not documented. :data:`MAX_TEMPLATES` is the
strict assumption; a plan beyond it is refused at apply by :func:`check_dial_plan`
(and never written out in part).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache

from plugtone.vendors.base import Finding, SiteView

DEFAULT_TIMEOUT = 5
MAX_TEMPLATES = 100
"""Templates in one dial plan, the final catch-all included. No Cisco document gives a
maximum: this is the strict assumption, a file of about 6 KB, ten times the largest
working 7960 plan found published (FusionPBX's ``cisco/7960/dialplan.xml``, 9
templates), and enough for a North American ``1[2-9]xx[2-9]xxxxxx`` (64)."""

DIGITS = frozenset("0123456789")
ANY = frozenset("0123456789*#")
WILDCARD = "."
MANY = "*"
CATCH_ALL = "*"
CLASS = re.compile(r"\[([0-9*#-]+)\]")
PREFIX = re.compile(r"[0-9*#]+")
ORDER = "0123456789*#"


@dataclass(frozen=True)
class Element:
    """One position of a template: the keys it accepts, and whether it repeats (``*``)."""

    text: str
    keys: frozenset[str]
    many: bool = False


STAR_MANY = Element(MANY, ANY, many=True)


@dataclass(frozen=True)
class Template:
    elements: tuple[Element, ...]
    waits: bool = False
    """``^``: always wait for the digit timeout."""
    rewrite: str | None = None

    @property
    def match(self) -> str:
        return "".join(element.text for element in self.elements)


@dataclass(frozen=True)
class Plan:
    """A site's plan in templates, and what of it could not be written."""

    templates: tuple[Template, ...]
    left_out: tuple[tuple[str, str], ...] = ()
    """``(rule, why)`` for rules with no 79xx equivalent."""
    too_big: tuple[tuple[str, int], ...] = ()
    """``(rule, templates it expands to)`` for rules past :data:`MAX_TEMPLATES` alone."""

    @property
    def count(self) -> int:
        """Templates in the file, the catch-all included."""
        return len(self.templates) + 1

    @property
    def fits(self) -> bool:
        return not self.too_big and self.count <= MAX_TEMPLATES


@lru_cache(maxsize=1024)
def dial_template(plan: str | None, digit_timeout: int | None) -> bytes:
    """The ``dialplan<MAC>.xml`` for a site's ``plan`` (or only the catch-all without one).

    A plan that does not fit (refused at apply) is written as the catch-all alone, with a
    comment: never a part of it, which would dial some numbers at once and not others.

    Written once per plan and timeout (cached by those values, so an edited plan is a
    new key): every phone of a site gets the same file, and its digest goes into each
    phone's ``sync`` value too.
    """
    timeout = digit_timeout or DEFAULT_TIMEOUT
    translated = plan_templates(plan or "")
    root = ET.Element("DIALTEMPLATE")
    for rule, why in translated.left_out:
        root.append(ET.Comment(_comment(f" {rule}: {why}; rule left out ")))
    if not translated.fits:
        root.append(
            ET.Comment(f" the plan expands to more than {MAX_TEMPLATES} templates; not written ")
        )
    templates = translated.templates if translated.fits else ()
    for template in templates:
        attributes = {
            "MATCH": template.match,
            "Timeout": str(timeout if _waits(template, templates) else 0),
            "User": "Phone",
        }
        if template.rewrite is not None:
            attributes["Rewrite"] = template.rewrite
        ET.SubElement(root, "TEMPLATE", attributes)
    ET.SubElement(root, "TEMPLATE", {"MATCH": CATCH_ALL, "Timeout": str(timeout)})
    ET.indent(root)
    return ET.tostring(root, encoding="us-ascii") + b"\n"


def check_dial_plan(site: SiteView, model: str) -> list[Finding]:
    """Refusals for a plan past the phone's templates; warnings for rules left out."""
    if not site.dial_plan:
        return []
    plan = plan_templates(site.dial_plan)
    where = f"dial plan of site {site.name}"
    findings = [
        Finding(
            f"{where}: {rule!r} expands to {count:,} patterns, more than the {model}'s "
            f"{MAX_TEMPLATES} templates (the 79xx has no character classes: each one is "
            "written out digit by digit)"
        )
        for rule, count in plan.too_big
    ]
    if not plan.too_big and plan.count > MAX_TEMPLATES:
        findings.append(
            Finding(
                f"{where}: its rules expand to {plan.count:,} templates with the final "
                f"catch-all, more than the {model}'s {MAX_TEMPLATES}"
            )
        )
    findings += [
        Finding(
            f"{where}: {rule!r} is left out: {why}; numbers it matches dial after the "
            "digit timeout",
            refuse=False,
        )
        for rule, why in plan.left_out
    ]
    return findings


@lru_cache(maxsize=256)
def plan_templates(plan: str) -> Plan:
    """Every template of ``plan``, in rule order and without duplicates (cached: every
    phone of a site asks, at render and at apply)."""
    templates: list[Template] = []
    left_out: list[tuple[str, str]] = []
    too_big: list[tuple[str, int]] = []
    for rule in plan.split("|"):
        rule = rule.strip()
        if not rule:
            continue
        parsed = _parse(rule)
        if isinstance(parsed, str):
            left_out.append((rule, parsed))
            continue
        count = _count(parsed)
        if count > MAX_TEMPLATES:
            too_big.append((rule, count))
            continue
        expanded = _expand(parsed)
        if not expanded:
            left_out.append((rule, "it asks for no key"))
        for template in expanded:
            if template not in templates:
                templates.append(template)
    return Plan(tuple(templates), tuple(left_out), tuple(too_big))


@dataclass(frozen=True)
class _Rule:
    """A parsed rule: per position the keys it takes, and whether it repeats (``+``)."""

    positions: tuple[tuple[frozenset[str] | None, bool], ...]
    """``(keys, repeated)``; ``None`` keys: a secondary dial tone."""
    waits: bool
    rewrite: str | None


def _parse(rule: str) -> _Rule | str:
    """The rule's positions, or why it has no 79xx equivalent."""
    pattern, comma, prefix = rule.partition(",")
    rewrite = None
    if comma:
        if not PREFIX.fullmatch(prefix):
            return f"prefix {prefix!r} is not keypad digits"
        rewrite = f"{prefix}%s"
    waits = "^" in pattern
    pattern = pattern.replace("^", "")
    if "(" in pattern or ")" in pattern:
        return "groups '(...)' have no 79xx equivalent"
    positions: list[tuple[frozenset[str] | None, bool]] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        found = CLASS.match(pattern, index)
        keys: frozenset[str] | None
        if found:
            keys = _class_keys(found.group(1))
            index = found.end()
            if not keys:
                return f"class {found.group(0)!r} holds no key"
        elif char in ANY:
            keys, index = frozenset(char), index + 1
        elif char in "xX":
            keys, index = DIGITS, index + 1
        elif char == ";":
            keys, index = None, index + 1
        else:
            return f"{char!r} is not in the dial plan notation"
        repeated = index < len(pattern) and pattern[index] == "+"
        if repeated:
            if keys is None:
                return "a repeated secondary dial tone ';+' has no 79xx equivalent"
            index += 1
        positions.append((keys, repeated))
    return _Rule(tuple(positions), waits, rewrite)


def _class_keys(body: str) -> frozenset[str]:
    keys: set[str] = set()
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


def _choices(keys: frozenset[str]) -> list[Element]:
    """The template elements one position becomes: ``.`` for every digit, else each key."""
    if keys >= DIGITS:
        return [Element(WILDCARD, ANY)]
    return [Element("\\*" if key == "*" else key, frozenset(key)) for key in _ordered(keys)]


def _ordered(keys: frozenset[str]) -> list[str]:
    return sorted(keys, key=ORDER.index)


def _count(rule: _Rule) -> int:
    """Templates ``rule`` expands to, worked out before any is built (a rule may ask for
    millions)."""
    counts = []
    for keys, repeated in rule.positions:
        if keys is None:
            continue
        counts.append(2 if repeated else len(_choices(keys)))
    return math.prod(counts)


def _expand(rule: _Rule) -> list[Template]:
    variants: list[list[Element]] = [[]]
    for keys, repeated in rule.positions:
        if keys is None:
            variants = [[*variant, Element(",", frozenset())] for variant in variants]
        elif repeated:
            variants = [*variants, *([*variant, STAR_MANY] for variant in variants)]
        else:
            variants = [[*variant, choice] for variant in variants for choice in _choices(keys)]
    return [
        Template(tuple(_merge_stars(variant)), rule.waits, rule.rewrite)
        for variant in variants
        if any(element.keys for element in variant)
    ]


def _merge_stars(elements: list[Element]) -> list[Element]:
    """``**`` (one or more, twice) is ``*`` plus one more key: write it as ``.*``."""
    merged: list[Element] = []
    for element in elements:
        if element.many and merged and merged[-1].many:
            merged[-1] = Element(WILDCARD, ANY)
        merged.append(element)
    return merged


def _waits(template: Template, templates: tuple[Template, ...]) -> bool:
    return (
        template.waits
        or template.elements[-1].many
        or any(
            _extends(template.elements, other.elements)
            for other in templates
            if other is not template and not _generic(other.elements)
        )
    )


def _generic(elements: tuple[Element, ...]) -> bool:
    """A template of wildcards only (``..*``) is a catch-all: it holds no other back."""
    return all(element.keys in (ANY, frozenset()) for element in elements)


def _extends(short: tuple[Element, ...], other: tuple[Element, ...]) -> bool:
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
            if inside:
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


def _closure(states: set[tuple[int, bool]], other: tuple[Element, ...]) -> set[tuple[int, bool]]:
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

"""The inventory's dial plan as a Polycom ``dialplan.digitmap``.

The inventory writes dial plans in the common notation Aastra uses (``x``, ``[1-7]``,
``|``, ``+`` for "zero or more of the previous", ``^`` for "wait for the timeout").
Polycom's digit map is the MGCP one (RFC 3435 section 2.1.5) with a few additions, so
most patterns carry over unchanged. What differs:

- ``+`` becomes ``.`` (MGCP's "zero or more of the previous");
- ``^`` becomes ``T`` (the inter-digit timer), so the seed's ``xxx+^`` is ``xxx.T``;
- ``;`` (a second dial tone) becomes ``,``, which turns dial tone back on;
- ``pattern,digits`` (prepend ``digits`` to what matched) becomes ``RRdigitsRpattern``,
  Polycom's replacement syntax with an empty match;
- ``X`` becomes ``x``.

Patterns using anything else (grouping parentheses, Aastra's ``.`` keypad symbol)
cannot be expressed and are left out; the caller names them in the rendered file.
Old firmware caps a digit map at 512 bytes and 20 patterns; 3.x accepts more.
"""

from __future__ import annotations

import re

_RANGE = re.compile(r"\[[0-9*#-]+\]")
_PREPEND = re.compile(r"[0-9*#]+")
_SAME = frozenset("0123456789*#")


def polycom_digitmap(dial_plan: str) -> tuple[str, list[str]]:
    """``(digit map, patterns left out)`` for a dial plan in the inventory's notation."""
    translated: list[str] = []
    dropped: list[str] = []
    for pattern in dial_plan.split("|"):
        pattern = pattern.strip()
        if not pattern:
            continue
        result = _pattern(pattern)
        if result is None:
            dropped.append(pattern)
        else:
            translated.append(result)
    return "|".join(translated), dropped


def _pattern(pattern: str) -> str | None:
    body, comma, prefix = pattern.partition(",")
    if comma:
        if not _PREPEND.fullmatch(prefix):
            return None
        translated = _body(body)
        return f"RR{prefix}R{translated}" if translated else None
    return _body(pattern)


def _body(text: str) -> str | None:
    out: list[str] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in _SAME:
            out.append(char)
        elif char in "xX":
            out.append("x")
        elif char == "[":
            found = _RANGE.match(text, position)
            if not found:
                return None
            out.append(found.group(0))
            position = found.end()
            continue
        elif char == "+":
            if not out or out[-1] in (".", "T", ","):
                return None
            out.append(".")
        elif char == "^":
            out.append("T")
        elif char == ";":
            out.append(",")
        else:
            return None
        position += 1
    return "".join(out) or None

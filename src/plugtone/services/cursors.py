"""Keyset pagination cursors: where the last page ended, opaque to the caller.

A list is ordered by an indexed key (a MAC, a site name, ``(site, number)``); the
next page starts after the last key of this one, so a deep page costs what the first
does (no ``OFFSET`` walking past every earlier row) and rows added or removed between
two pages never shift what the next page holds. The cursor is that last key, as
URL-safe base64 of JSON, so callers pass it back rather than build one.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from plugtone.inventory.document import Problem
from plugtone.services.errors import Invalid

MAX_CURSOR = 512
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode_cursor(*values: str | int) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, *types: type) -> tuple[Any, ...] | None:
    """The key a cursor holds, checked against ``types``; ``None`` for no cursor."""
    if text is None or text == "":
        return None
    refused = Invalid([Problem("after", "not a cursor this list handed out")])
    if len(text) > MAX_CURSOR:
        raise refused
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise refused from None
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(
            isinstance(value, kind) and not isinstance(value, bool)
            for value, kind in zip(values, types, strict=True)
        )
    ):
        raise refused
    return tuple(values)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid([Problem("limit", f"a page holds 1 to {MAX_LIMIT} items")])
    return limit

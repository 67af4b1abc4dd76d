"""Inventory documents that arrive as JSON (the API, the UI): field paths, not lines.

The inventory file's checker names a problem by ``Located.where(path)``; for a YAML
file that is ``file:line:col``. A JSON body has no lines worth naming, so here it is
the field's path, ``phones[0].lines[1]``, which a face shows beside the field.

JSON is read strictly, with the YAML loader's refusals: a duplicate key (which
``json`` would silently resolve to the last one) and the non-JSON constants ``NaN``
and ``Infinity`` are refused rather than guessed at.
"""

from __future__ import annotations

import json
from typing import Any

from plugtone.inventory.yaml_source import Located, Path

BODY = "(body)"
"""The field path of the body itself (a problem with the whole entry)."""

API_SOURCE = "/nonexistent/plugtone-api-body"
"""The "file name" of a JSON document: a folder that does not exist, so the checker's
files-beside-the-inventory rule can never reach a file on the server (and
:func:`plugtone.services.objects.file_references` refuses such names first)."""


class JsonError(ValueError):
    """The bytes are not one JSON document plugtone accepts."""


class FieldPaths(Located):
    """A JSON document whose positions are field paths relative to ``prefix``.

    A one-entry body (``PUT /api/phones/{mac}``) is checked as ``{"phones": [body]}``;
    with ``prefix=("phones", 0)`` its problems read ``lines[1]``, not ``phones[0].lines[1]``.
    """

    def __init__(self, data: Any, prefix: Path = ()) -> None:
        super().__init__(filename=API_SOURCE, data=data)
        self.prefix = prefix

    def where(self, path: Path) -> str:
        if path[: len(self.prefix)] == self.prefix:
            path = path[len(self.prefix) :]
        return field_path(path)


def field_path(path: Path) -> str:
    """``("phones", 0, "lines", 1)`` -> ``phones[0].lines[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or BODY


def load_json(raw: bytes) -> Any:
    """Parse ``raw`` (UTF-8 JSON); raise :class:`JsonError` with a short reason.

    The reason names a position, never the text there: a body may hold passwords.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonError("the body is not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise JsonError(
            f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise JsonError("the body nests too deeply") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonError(f"the body has the key {key!r} twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON value")

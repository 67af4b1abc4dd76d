"""YAML loading that remembers where every value came from.

Admins edit inventory files by hand; an error must name the file, line and column.
PyYAML's composer gives node positions, so we build plain Python values from the
node tree ourselves and keep a map from each value's path to its position.

Aliases and anchors are refused: an inventory never needs them, and they are how
a small hostile file expands into a huge one ("billion laughs"). Duplicate mapping
keys are refused too, since PyYAML would silently keep the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 32 * 1024 * 1024
MAX_NODES = 2_000_000

Path = tuple[str | int, ...]


class SourceError(ValueError):
    """The text is not a YAML document plugtone can read."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass
class Located:
    """A loaded document plus the position of each value, by path."""

    filename: str
    data: Any
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: Path) -> str:
        """``file:line:col`` of the value at ``path`` (or its nearest ancestor)."""
        probe = path
        while probe not in self.positions and probe:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (1, 1))
        return f"{self.filename}:{line}:{column}"


class _NoAliasLoader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: object) -> Node:  # type: ignore[override]
        if self.check_event(AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in an inventory file",
                problem_mark=event.start_mark,
            )
        return super().compose_node(parent, index)


def load_located(text: str | bytes, filename: str) -> Located:
    """Parse ``text``; raise :class:`SourceError` with a position on any problem."""
    if len(text) > MAX_BYTES:
        raise SourceError(filename, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceError(filename, f"not UTF-8 text ({error.reason})") from None
    loader = _NoAliasLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        raise SourceError(where, f"YAML syntax error: {error.problem}") from None
    except yaml.YAMLError as error:
        raise SourceError(filename, f"YAML error: {error}") from None
    finally:
        loader.dispose()
    located = Located(filename=filename, data=None)
    if root is None:
        located.data = {}
        return located
    counter = [0]
    located.data = _build(root, (), located, loader, counter)
    return located


def _build(
    node: Node,
    path: Path,
    located: Located,
    loader: yaml.SafeLoader,
    counter: list[int],
    at: Node | None = None,
):
    """Plain values from ``node``; ``at`` is the node whose position names this value
    (a mapping entry is named by its key, so errors point at the field name)."""
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise SourceError(located.filename, f"more than {MAX_NODES} values")
    mark = (at or node).start_mark
    located.positions[path] = (mark.line + 1, mark.column + 1)
    if isinstance(node, MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise SourceError(located.where(path), "mapping keys must be plain values")
            key = loader.construct_object(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SourceError(located.where(path), "YAML merge keys (<<) are not allowed")
            if not isinstance(key, str | int):
                raise SourceError(located.where(path), f"mapping key {key!r} is not text")
            key = str(key)
            if key in result:
                line = key_node.start_mark.line + 1
                column = key_node.start_mark.column + 1
                raise SourceError(f"{located.filename}:{line}:{column}", f"duplicate key {key!r}")
            result[key] = _build(value_node, (*path, key), located, loader, counter, key_node)
        return result
    if isinstance(node, SequenceNode):
        return [
            _build(item, (*path, index), located, loader, counter)
            for index, item in enumerate(node.value)
        ]
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as error:
        raise SourceError(located.where(path), f"bad value: {error}") from None

"""YAML loading that remembers where every value came from.

Admins edit inventory files by hand; an error must name the file, line and column.
PyYAML's composers give node positions, so we build plain Python values from the
node tree ourselves and keep a map from each value's path to its position.

When PyYAML was built with libyaml, values are built straight from its C parser's
events, one at a time (:class:`_EventBuilder`): the pure-Python composer costs about
a second per thousand phones, the C one a tenth of that, and building from events
never holds the whole node tree (two marks a node) that the C composer makes before
the first value can be built, the peak of an apply. Tag resolution is a table lookup
here instead of PyYAML's general path-resolver machinery. Without libyaml, the pure
composer makes the node tree and :class:`_Builder` builds from it, slower.

Aliases and anchors are refused: an inventory never needs them, and they are how a
small hostile file expands into a huge one ("billion laughs"). Both paths refuse an
alias when they meet one (a node tree from the C composer, which hands back the
anchored node again, is refused at any node met twice). Duplicate mapping keys are
refused (PyYAML would silently keep the last one), so are merge keys (``<<``), more
than :data:`MAX_NODES` values, more than :data:`MAX_BYTES` of text and nesting deeper
than :data:`MAX_DEPTH` (the C composer recurses on the C stack, which a deep enough
``[[[[...`` would overflow). Whenever the C path finds a problem, the file is read
again by the pure path, so every message and position is the pure composer's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from plugtone.inventory.gc_pause import gc_paused

MAX_BYTES = 256 * 1024 * 1024
"""Large enough for 100,000 phones with lines, keys and settings in block style
(about 45 MiB), with room; the cap bounds memory, not expansion (aliases are refused)."""
MAX_NODES = 16_000_000
"""About 60 values per phone at 100,000 phones, with room."""
MAX_DEPTH = 64
"""An inventory nests six levels deep at most (phones, a phone, vendor_settings, ...)."""

STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_TAGS = tuple(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
"""Scalar tags built by calling SafeConstructor's function directly (no bookkeeping)."""
_MAP_TAG = "tag:yaml.org,2002:map"
_WILDCARD = tuple(yaml.SafeLoader.yaml_implicit_resolvers.get(None, ()))  # type: ignore[call-overload]
_IMPLICIT: dict[str, tuple] = {
    first: tuple(resolvers) + _WILDCARD
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}
"""SafeLoader's implicit resolvers (bool, int, float, null, ...) by a plain scalar's
first character, as PyYAML's ``resolve`` looks them up."""

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


class _TooDeep(Exception):
    """Nesting beyond :data:`MAX_DEPTH`; ``mark`` is known on the pure path only."""

    def __init__(self, mark: Any = None) -> None:
        super().__init__("too deep")
        self.mark = mark


class _FoundAlias(Exception):
    """The C path met a node twice: an alias. The pure path says where."""


class _TableResolver:
    """Tag resolution without path resolvers (SafeLoader has none), plus a depth cap.

    Both composers call ``descend_resolver``/``ascend_resolver`` around every node and
    ``resolve`` for every node; PyYAML's own versions are general and slow.
    """

    depth = 0

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooDeep(getattr(self, "_mark", None))

    def ascend_resolver(self) -> None:
        self.depth -= 1

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
                    if regexp.match(value):
                        return tag
            return STR_TAG
        return _SEQ_TAG if kind is SequenceNode else _MAP_TAG


class _PureLoader(_TableResolver, yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: object) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise yaml.MarkedYAMLError(
                problem="YAML aliases (*name) are not allowed in an inventory file",
                problem_mark=event.start_mark,
            )
        self._mark = event.start_mark
        return super().compose_node(parent, index)


_CLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):  # pragma: no branch - libyaml is installed here

    class _CLoader(_TableResolver, yaml.CSafeLoader):  # type: ignore[no-redef]
        pass


def load_located(text: str | bytes, filename: str, *, composer: str = "auto") -> Located:
    """Parse ``text``; raise :class:`SourceError` with a position on any problem.

    ``composer`` is ``auto`` (libyaml's when PyYAML has it), ``c`` or ``pure``; the
    choice changes speed only, never the result or a message.
    """
    if len(text) > MAX_BYTES:
        raise SourceError(filename, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SourceError(filename, f"not UTF-8 text ({error.reason})") from None
    use_c = composer == "c" or (composer == "auto" and _CLoader is not None)
    if use_c:
        if _CLoader is None:
            raise ValueError("PyYAML was built without libyaml")
        try:
            return _load_events(text, filename)
        except (yaml.YAMLError, _TooDeep, _FoundAlias, SourceError) as c_error:
            located = _load_pure(text, filename)  # raises the pure path's message
            # pragma: no cover - from here on the two parsers would disagree
            if isinstance(c_error, yaml.YAMLError):
                raise _source_error(c_error, filename) from None
            if isinstance(c_error, SourceError):
                raise
            return located
    return _load_pure(text, filename)


def _load_pure(text: str, filename: str) -> Located:
    try:
        return _load(text, filename, _PureLoader, aliases_possible=False)
    except yaml.YAMLError as error:
        raise _source_error(error, filename) from None
    except _TooDeep as error:
        mark = error.mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        raise SourceError(where, f"values nested more than {MAX_DEPTH} levels deep") from None


def _source_error(error: yaml.YAMLError, filename: str) -> SourceError:
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
        return SourceError(where, f"YAML syntax error: {error.problem}")
    return SourceError(filename, f"YAML error: {error}")


def _load(text: str, filename: str, loader_class: type, *, aliases_possible: bool) -> Located:
    with gc_paused():
        loader = loader_class(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        located = Located(filename=filename, data=None)
        if root is None:
            located.data = {}
            return located
        located.data = _Builder(located, loader, aliases_possible).build(root, ())
        return located


def _load_events(text: str, filename: str) -> Located:
    """The C path: values built straight from libyaml's events, without a node tree.

    The C composer's tree held every node of the file, with two marks each, until the
    values were built: for 20,000 phones about 300 MB at once, the apply's peak, for
    objects read once. Events are read one at a time, each dropped once its value is
    made. Anything unusual (an alias, a merge key, a duplicate key, a non-text key, an
    explicit tag PyYAML refuses, a second document, nesting beyond :data:`MAX_DEPTH`)
    raises, and the caller reads the file again on the pure path for the message.
    """
    assert _CLoader is not None
    with gc_paused():
        loader = _CLoader(text)
        try:
            located = Located(filename=filename, data=None)
            located.data = _EventBuilder(located, loader).document()
            return located
        finally:
            loader.dispose()


class _EventBuilder:
    """Plain values from the C parser's events, recording each value's position by
    path exactly as :class:`_Builder` does from nodes (same tags, same positions, the
    same count of values and depth of nesting, a node for every scalar being one)."""

    def __init__(self, located: Located, loader: Any) -> None:
        self.located = located
        self.positions = located.positions
        self.loader = loader
        self.get = loader.get_event
        self.resolve = loader.resolve
        self.constructors = {tag: loader.yaml_constructors[tag] for tag in _PLAIN_TAGS}
        self.count = 1
        self.depth = 0
        """The nesting of the collection being filled (the root's is 1)."""

    def document(self) -> Any:
        get = self.get
        get()  # the stream's start
        if type(get()) is StreamEndEvent:  # else a document's start
            return {}
        value = self.value(get(), ())
        get()  # the document's end
        if type(get()) is not StreamEndEvent:
            raise _FoundAlias  # a second document: the pure path says so
        return value

    def value(self, event: Any, path: Path, mark: Any = None) -> Any:
        """The value ``event`` starts; ``mark`` names it (a mapping entry's key)."""
        mark = mark or event.start_mark
        self.positions[path] = (mark.line + 1, mark.column + 1)
        kind = type(event)
        if kind is ScalarEvent:
            return self.scalar(event, path)
        if kind is MappingStartEvent:
            return self.mapping(path)
        if kind is SequenceStartEvent:
            return self.sequence(path)
        raise _FoundAlias  # an alias

    def tag(self, event: ScalarEvent) -> str:
        tag = event.tag
        if tag is None or tag == "!":
            return self.resolve(ScalarNode, event.value, event.implicit)
        return tag

    def mapping(self, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        get, positions, resolve = self.get, self.positions, self.resolve
        self.depth += 1
        deep = self.depth >= MAX_DEPTH  # an entry would be nested too deep
        while True:
            event = get()
            kind = type(event)
            if kind is MappingEndEvent:
                break
            if deep:
                raise _TooDeep
            if kind is not ScalarEvent:
                raise _FoundAlias  # an alias or a collection as key: the pure path says
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(ScalarNode, event.value, event.implicit)
            if tag == STR_TAG:
                key = event.value
            else:
                if tag == MERGE_TAG:
                    raise _FoundAlias
                key = self.scalar(event, path, tag)
                if not isinstance(key, str | int):
                    raise _FoundAlias
                key = str(key)
            if key in result:
                raise _FoundAlias  # a duplicate
            mark = event.start_mark
            event = get()
            if type(event) is ScalarEvent:  # the common case, without a call per value
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(ScalarNode, event.value, event.implicit)
                positions[(*path, key)] = (mark.line + 1, mark.column + 1)
                if tag == STR_TAG:
                    result[key] = event.value
                else:
                    result[key] = self.scalar(event, (*path, key), tag)
            else:
                result[key] = self.value(event, (*path, key), mark)
        self.depth -= 1
        self.counted(len(result))
        return result

    def sequence(self, path: Path) -> list[Any]:
        result: list[Any] = []
        get, positions, resolve = self.get, self.positions, self.resolve
        self.depth += 1
        deep = self.depth >= MAX_DEPTH
        while True:
            event = get()
            kind = type(event)
            if kind is SequenceEndEvent:
                break
            if deep:
                raise _TooDeep
            index = len(result)
            if kind is ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = resolve(ScalarNode, event.value, event.implicit)
                mark = event.start_mark
                positions[(*path, index)] = (mark.line + 1, mark.column + 1)
                if tag == STR_TAG:
                    result.append(event.value)
                else:
                    result.append(self.scalar(event, (*path, index), tag))
            else:
                result.append(self.value(event, (*path, index)))
        self.depth -= 1
        self.counted(len(result))
        return result

    def counted(self, entries: int) -> None:
        """Count a collection's entries as the node builder does (it counts before the
        entries' own, this after: the same total, refused past the same cap)."""
        self.count += entries
        if self.count > MAX_NODES:
            raise SourceError(self.located.filename, f"more than {MAX_NODES} values")

    def scalar(self, event: ScalarEvent, path: Path, tag: str | None = None) -> Any:
        """A scalar that is not plain text, through SafeConstructor as from a node."""
        node = ScalarNode(
            tag or self.tag(event), event.value, event.start_mark, event.end_mark, event.style
        )
        return _construct_scalar(self, node, path)


class _Builder:
    """Plain values from a node tree, recording each value's position by path."""

    def __init__(self, located: Located, loader: Any, aliases_possible: bool) -> None:
        self.located = located
        self.positions = located.positions
        self.loader = loader
        self.constructors = {tag: loader.yaml_constructors[tag] for tag in _PLAIN_TAGS}
        self.seen: set[int] | None = set() if aliases_possible else None
        self.count = 1

    def build(self, node: Node, path: Path, at: Node | None = None) -> Any:
        """``at`` is the node whose position names this value (a mapping entry is named
        by its key, so errors point at the field name)."""
        if self.seen is not None:
            self.not_seen(node)
        mark = (at or node).start_mark
        self.positions[path] = (mark.line + 1, mark.column + 1)
        kind = type(node)
        if kind is ScalarNode:
            return node.value if node.tag == STR_TAG else self.scalar(node, path)
        if kind is MappingNode or kind is SequenceNode:
            self.count += len(node.value)
            if self.count > MAX_NODES:
                raise SourceError(self.located.filename, f"more than {MAX_NODES} values")
            return self.mapping(node, path) if kind is MappingNode else self.sequence(node, path)
        return self.scalar(node, path)  # pragma: no cover - the composers make no other kind

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        positions, build, fast = self.positions, self.build, self.seen is None
        for key_node, value_node in node.value:
            if type(key_node) is not ScalarNode:
                raise SourceError(self.located.where(path), "mapping keys must be plain values")
            if key_node.tag == STR_TAG:
                key = key_node.value
            else:
                if key_node.tag == MERGE_TAG:
                    mark = key_node.start_mark
                    raise SourceError(
                        f"{self.located.filename}:{mark.line + 1}:{mark.column + 1}",
                        "YAML merge keys (<<) are not allowed",
                    )
                key = self.scalar(key_node, path)
                if not isinstance(key, str | int):
                    raise SourceError(self.located.where(path), f"mapping key {key!r} is not text")
                key = str(key)
            if key in result:
                mark = key_node.start_mark
                raise SourceError(
                    f"{self.located.filename}:{mark.line + 1}:{mark.column + 1}",
                    f"duplicate key {key!r}",
                )
            if not fast:
                self.not_seen(key_node)
            if fast and type(value_node) is ScalarNode and value_node.tag == STR_TAG:
                mark = key_node.start_mark  # the common case, without a call per value
                positions[(*path, key)] = (mark.line + 1, mark.column + 1)
                result[key] = value_node.value
            else:
                result[key] = build(value_node, (*path, key), key_node)
        return result

    def sequence(self, node: SequenceNode, path: Path) -> list[Any]:
        result: list[Any] = []
        positions, build, fast = self.positions, self.build, self.seen is None
        for index, item in enumerate(node.value):
            if fast and type(item) is ScalarNode and item.tag == STR_TAG:
                mark = item.start_mark
                positions[(*path, index)] = (mark.line + 1, mark.column + 1)
                result.append(item.value)
            else:
                result.append(build(item, (*path, index)))
        return result

    def not_seen(self, node: Node) -> None:
        """Refuse a node met before: the C composer's way of handing back an alias
        (nodes stay alive in the tree while building, so their ids are unique)."""
        assert self.seen is not None
        before = len(self.seen)
        self.seen.add(id(node))
        if len(self.seen) == before:
            raise _FoundAlias

    def scalar(self, node: Node, path: Path) -> Any:
        return _construct_scalar(self, node, path)


def _construct_scalar(builder: _EventBuilder | _Builder, node: Node, path: Path) -> Any:
    """A scalar node's value through the builder's SafeConstructor table, a bad value
    reported at its place (both ways of building a document share it)."""
    constructor = builder.constructors.get(node.tag)
    try:
        if constructor is None:  # an explicit tag: PyYAML's general path (or refusal)
            return builder.loader.construct_object(node)
        return constructor(builder.loader, node)
    except yaml.YAMLError as error:
        raise SourceError(builder.located.where(path), f"bad value: {error}") from None

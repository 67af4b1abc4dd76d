"""Bounded in-memory caches for the phone-facing hot path.

Every map a request can add to is one of these, bounded by entries *and* by bytes,
evicting the least recently used entry first: an unauthenticated client chooses the
paths, User-Agents, MACs and addresses it sends, so a map that grows with what it is
sent is a way to make the server run out of memory. (Found: memoized answers keyed by
the raw User-Agent grew a server to 999 MB.)

Bytes are an estimate, the same one for every cache: the lengths of the strings and
bytes the caller says an entry holds (:func:`text_bytes`) plus :data:`ENTRY_OVERHEAD`
for the dict slot, the key tuple and the value object. It is meant to bound memory
within a small factor, not to account for it exactly, and costs a few ``len`` calls
per insertion (insertions happen on cache misses, not on hits).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Any

ENTRY_OVERHEAD = 240
"""Bytes counted per entry besides its strings: an OrderedDict slot and its link
(~100), a small key tuple (~64) and a small value object, measured with
``sys.getsizeof`` on CPython 3.11."""


_UNTAGGED: Any = object()


def text_bytes(*parts: Any) -> int:
    """Bytes of the ``str``/``bytes`` among ``parts`` (``None`` and others count 0)."""
    total = 0
    for part in parts:
        if isinstance(part, str | bytes):
            total += len(part)
    return total


class BoundedCache:
    """A thread-safe LRU map bounded by ``entries`` and by ``max_bytes``.

    ``put`` takes the entry's weight in bytes (see the module docstring); the oldest
    entries are evicted until both bounds hold again. An entry heavier than the whole
    byte budget is not stored at all, so one huge value cannot flush everything else.

    Entries carry a ``tag`` (the MAC of the phone they depend on; ``None``, the
    default, for one that depends on no single phone): :meth:`drop_tags` then drops exactly the
    entries of the phones a change touched, in time proportional to what it drops,
    not to what the cache holds.
    """

    def __init__(self, entries: int, max_bytes: int, *, tagged: bool = False) -> None:
        self.tagged = tagged
        """Whether entries are tracked by tag (:meth:`drop_tags`): only the caches a
        narrow invalidation drops by phone pay for it; an untagged entry of a tagged
        cache costs one set slot, a tagged one a dict entry and a set slot."""
        self.size = max(1, entries)
        """Most entries kept."""
        self.max_bytes = max(1, max_bytes)
        self.bytes = 0
        """Weight of what is held now."""
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self._weights: dict[Hashable, int] = {}
        self._tag_of: dict[Hashable, Hashable] = {}
        """Key -> tag, for entries put with a tag other than ``None``."""
        self._tagged: dict[Hashable, set[Hashable]] = {}
        """Tag -> keys (``None`` -> the keys put without a tag)."""
        self.lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        # Without the lock: it is on every request's path, and each OrderedDict call is
        # atomic under the GIL; an entry evicted between the two calls is a miss.
        items = self.items
        try:
            items.move_to_end(key)
            return items[key]
        except KeyError:
            return default

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """The value, without making it the most recently used (cheaper still)."""
        return self.items.get(key, default)

    def put(
        self, key: Hashable, value: Any, weight: int = ENTRY_OVERHEAD, tag: Hashable = None
    ) -> None:
        if weight > self.max_bytes:
            return
        with self.lock:
            previous = self._weights.pop(key, None)
            if previous is not None:
                self.bytes -= previous
                self._untag(key)
            self.items[key] = value
            self.items.move_to_end(key)
            self._weights[key] = weight
            self.bytes += weight
            if self.tagged:
                if tag is not None:
                    self._tag_of[key] = tag
                self._tagged.setdefault(tag, set()).add(key)
            while len(self.items) > self.size or self.bytes > self.max_bytes:
                old, _ = self.items.popitem(last=False)
                self.bytes -= self._weights.pop(old)
                self._untag(old)

    def _untag(self, key: Hashable) -> None:
        if not self.tagged:
            return
        tag = self._tag_of.pop(key, None)
        keys = self._tagged.get(tag)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._tagged[tag]

    def drop(self, keys: Iterable[Hashable]) -> int:
        """Remove ``keys`` (those present); how many were."""
        dropped = 0
        with self.lock:
            for key in keys:
                if self.items.pop(key, _UNTAGGED) is _UNTAGGED:
                    continue
                self.bytes -= self._weights.pop(key)
                self._untag(key)
                dropped += 1
        return dropped

    def drop_tags(self, tags: Iterable[Hashable]) -> int:
        """Remove every entry put with one of ``tags``; how many."""
        with self.lock:
            keys = [key for tag in tags for key in self._tagged.get(tag, ())]
        return self.drop(keys)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self._weights.clear()
            self._tag_of.clear()
            self._tagged.clear()
            self.bytes = 0

    def __contains__(self, key: Hashable) -> bool:
        with self.lock:
            return key in self.items

    def __len__(self) -> int:
        return len(self.items)

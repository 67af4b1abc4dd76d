"""Values a plug-in derives from a frozen view, kept by the view's identity.

A boot storm renders a site's hundred phones one after another, and each of their
files derives the same things from the same site view (time zone rules, codec
preferences, a dial plan); the resolver then asks the same phone view whether each
file holds a secret, which derives the phone's parameters again. Views are frozen
snapshots (see :mod:`plugtone.provisioning.views`), and an inventory change makes new
ones, so what is derived from a view can be kept with it: keyed by ``id(view)`` (views
hold mappings, so they do not hash), with a weak reference to the view in the entry,
checked on every read: the entry answers only for the very view it was derived from,
never for a later object that happens to get the same id, and a view the inventory
dropped is not kept alive by it (a 2,000-extension site view edited again and again
would otherwise pile up until the memo's bound). An edited site or phone is a new view
and never meets what was derived from the old one.

Anything else the value depends on (the current year, for time zone rules) goes into
the key. Values must not be changed by callers: hand out copies of mutable ones.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


_ALL: list[ViewMemo] = []


def clear_all() -> None:
    """Empty every memo (tests compare what is rendered with and without them)."""
    for memo in _ALL:
        memo.clear()


class ViewMemo(Generic[V]):
    """Up to ``size`` values by (view identity, extra key); the oldest dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        # An OrderedDict, not a dict: dropping the oldest of a dict again and again makes
        # finding the next oldest walk every slot emptied before it (quadratic).
        self._entries: OrderedDict[tuple[int, Hashable], tuple[weakref.ref, V]] = OrderedDict()
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, view: object, compute: Callable[[], V], extra: Hashable = None) -> V:
        """The value for ``view`` (and ``extra``), computed by ``compute`` on a miss."""
        key = (id(view), extra)
        found = self._entries.get(key)
        if found is not None and found[0]() is view:
            return found[1]
        value = compute()
        with self._lock:
            self._entries.pop(key, None)  # a dead view's, or another thread's meanwhile
            while len(self._entries) >= self.size:
                self._entries.popitem(last=False)
            self._entries[key] = (weakref.ref(view), value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

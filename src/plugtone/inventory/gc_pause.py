"""Pausing Python's cyclic garbage collector while building big acyclic structures.

Loading and planning an inventory of thousands of phones allocates millions of small
objects (nodes, dicts, tuples) that all stay alive until the work is done. Every few
hundred allocations the collector scans the young ones, and ever more often the old
ones too: for 10,000 phones that was three quarters of the YAML load's time, for
nothing, since these structures hold no reference cycles (reference counting frees
them). The collector is paused for the duration and restored as it was, with what
was made meanwhile moved straight to the oldest generation.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off (re-entrant; restores the state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # The objects made meanwhile sit in the youngest generation; the next young
            # collections would each walk all of them, for a second or more at 100,000
            # phones. Moving every tracked object to the oldest generation at once (the
            # freeze/unfreeze pair is two list splices) puts them where surviving young
            # collections would have, and cyclic garbage is still found by the next
            # full collection.
            gc.freeze()
            gc.unfreeze()
            gc.enable()

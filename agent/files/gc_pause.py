"""The cyclic garbage collector paused while an import builds its objects (issue 4, 5).

An import holds ~1M objects at its peak (the sheet's rows, the records or contacts
being built, their column values) and each full collection walks all of them: ~10
of those took 0.75 s of a 4 s import of 100k rows (issue 4, measured). Reference
counting still frees everything that is not in a cycle, in the whole process;
cycles made meanwhile wait for the collector, which is on again when the last
import ends, after the import's own objects are gone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
# The collector is one per process, and so is the count of imports pausing it.
_pauses = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off while the block runs, as it was after the last such block;
    nested and concurrent blocks (two imports at once) share one pause."""
    global _pauses, _was_enabled
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _was_enabled:
                gc.enable()

"""The collector's share of a serving process's CPU.

By the time the server answers its first request, the interpreter holds a few hundred
thousand long-lived objects (FastAPI's routes, pydantic's schemas, SQLAlchemy's tables and
compiled statements) that will never be garbage. Python's cyclic collector walks them on
every full collection, and its young generations fill quickly under load (every request
and node run allocates dicts, futures and coroutines): profiled under W1, the collector
took about a quarter of the server's CPU. Frozen after startup, the long-lived objects are
left out of every later collection; a larger first generation makes collections rarer
without keeping much more garbage (almost everything a request makes is freed by
reference counting, never by the collector).
"""

from __future__ import annotations

import gc

# objects allocated (net) between young collections; CPython's default is 700
YOUNG_THRESHOLD = 20_000

_frozen = False


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the collector's sight (call
    once startup is over: what is frozen is never collected, even if it becomes garbage).
    Only the first startup of a process freezes: a process that starts several apps (the
    tests) would otherwise keep each one's objects for good."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)

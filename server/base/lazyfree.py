"""Lazy free: dropping big things without a pause of the event loop.

A dropped database (FLUSHALL / FLUSHDB ASYNC) or a big value (UNLINK, and DEL,
expiry, eviction, overwrites and flushes under the lazyfree-* directives) is
handed to the LazyFree queue instead of being released at once: releasing a
table of two million keys is hundreds of milliseconds of reference drops, all
on the loop thread (the objects are Python objects, so another thread would
hold the interpreter lock the whole time and pause the loop just the same).
The queue releases a few thousand entries per turn of the loop, scheduled with
call_soon so that client I/O runs between the chunks.

As Redis, only what is worth it goes lazy: a value whose free effort (its
element count) is above LAZYFREE_THRESHOLD; small values are freed on the
spot. INFO shows lazyfree_pending_objects (keys of dropped databases and big
values not yet released) and lazyfreed_objects (released so far; CONFIG
RESETSTAT zeroes it).
"""

from collections import deque

LAZYFREE_THRESHOLD = 64     # elements: below this a value is cheaper to free at once
STEP_BUDGET = 2048          # entries released per turn of the loop (well under a millisecond)


def free_effort(value):
    """How much work releasing `value` takes: its element count (1 for a string), or
    what the value itself estimates (a stream counts its nodes and groups)."""
    if type(value) is bytes:
        return 1
    estimate = getattr(value, "free_effort", None)
    if estimate is not None:
        return estimate()
    try:
        return len(value)
    except TypeError:
        return 1


def _parts(value):
    """The containers inside a value (its slots), each released piece by piece."""
    parts = []
    for klass in type(value).__mro__:
        for name in getattr(klass, "__slots__", ()):
            part = getattr(value, name, None)
            if (isinstance(part, (dict, list, set)) or hasattr(part, "release_some")
                    or hasattr(part, "delete_range")):       # a sorted set's skip list
                parts.append(part)
            elif part is not None and hasattr(part, "__slots__") and part is not value:
                parts.extend(p for p in _parts(part) if p is not part)
    return parts


def _release_some(container, budget):
    """Release up to `budget` entries of `container`; returns how many are left."""
    release = getattr(container, "release_some", None)
    if release is not None:
        return release(budget)
    delete_range = getattr(container, "delete_range", None)
    if delete_range is not None:
        delete_range(0, budget)
        return len(container)
    pop = container.popitem if isinstance(container, dict) else container.pop
    for _ in range(min(budget, len(container))):
        pop()
    return len(container)


class LazyFree:
    """The queue of dropped containers, released a chunk per turn of the loop."""

    def __init__(self, server):
        self.server = server
        self.queue = deque()            # [container, objects it stands for (0 or the count)]
        self.pending_objects = 0
        self.freed_objects = 0
        self._scheduled = False

    def drop_value(self, value):
        """A value just removed from the keyspace: released later when it is big.
        True when it went to the queue."""
        if free_effort(value) <= LAZYFREE_THRESHOLD:
            return False
        parts = _parts(value)
        if not parts:
            return False
        self.pending_objects += 1
        for part in parts[:-1]:
            self.queue.append([part, 0])
        self.queue.append([parts[-1], 1])      # the value counts as freed with its last part
        self._schedule()
        return True

    def drop_table(self, table, objects):
        """A whole key table taken out of a database (FLUSHDB / FLUSHALL ASYNC), or any
        big dict of side data: counted as `objects` pending objects."""
        if not table:
            return
        self.pending_objects += objects
        self.queue.append([table, objects])
        self._schedule()

    def _schedule(self):
        if not self._scheduled:
            self._scheduled = True
            loop = self.server.loop
            if loop is None:            # not serving yet (loading): nothing to keep waiting
                self._drain_all()
            else:
                loop.call_soon(self._step)

    def _drain_all(self):
        self._scheduled = True
        while self.queue:
            self._step()

    def _step(self):
        self._scheduled = False
        budget = STEP_BUDGET
        queue = self.queue
        while queue and budget > 0:
            entry = queue[0]
            container = entry[0]
            if isinstance(container, (dict,)) or hasattr(container, "release_some"):
                budget = self._release_table_chunk(entry, budget)
            else:
                before = len(container)
                left = _release_some(container, budget)
                budget -= before - left
            if not len(container):
                queue.popleft()
                self.pending_objects -= entry[1]
                self.freed_objects += entry[1]
        if queue:
            self._scheduled = True
            self.server.loop.call_soon(self._step)

    def _release_table_chunk(self, entry, budget):
        """Keys of a dropped table go one by one; a big value among them is not released
        right there but queued in its turn (its elements are the real work)."""
        container = entry[0]
        if isinstance(container, dict):
            popitem = container.popitem
            while container and budget > 0:
                _, value = popitem()
                budget -= 1
                if type(value) is not bytes and free_effort(value) > LAZYFREE_THRESHOLD:
                    for part in _parts(value):
                        self.queue.append([part, 0])
            return budget
        # The native table releases its own entries and hands back the values that are not
        # strings, the big ones of which are queued as above.
        before = len(container)
        aggregates = []
        left = container.release_some(budget, aggregates)
        for value in aggregates:
            if free_effort(value) > LAZYFREE_THRESHOLD:
                for part in _parts(value):
                    self.queue.append([part, 0])
        return budget - (before - left)

    def reset_stats(self):
        self.freed_objects = 0

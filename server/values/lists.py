"""The list value: elements in one Python list with free slots before the head.

Pushes and pops at either end are O(1) amortized, LINDEX is O(1) and LRANGE is
one slice. Redis 7.0 reports every list as "quicklist" whatever
list-max-listpack-size says (listpack lists arrived in 7.2).
"""
from itertools import islice

from server.values.base import RedisValue

LONG_MAX = 2**63 - 1
MIN_HEAD_ROOM = 8             # free slots made before the head when a push finds none


class ListValue(RedisValue):
    __slots__ = ("_items", "_head")
    TYPE = "list"

    def __init__(self, elements=()):
        self._items = list(elements)
        self._head = 0          # _items[:_head] are free slots (None) for pushes at the head

    def encoding(self):
        return "quicklist"

    def __len__(self):
        return len(self._items) - self._head

    def __iter__(self):
        return islice(self._items, self._head, None)

    def copy(self):
        return ListValue(self._items[self._head:])

    duplicate = copy

    # -- both ends ---------------------------------------------------------------------

    def _make_head_room(self, needed):
        """At least `needed` free slots before the head; doubling keeps pushes O(1) amortized."""
        room = max(needed, len(self) or MIN_HEAD_ROOM)
        self._items[0:self._head] = [None] * (room + self._head)
        self._head += room

    def push_head(self, elements):
        """LPUSH order: each element goes in front of the previous one."""
        n = len(elements)
        if self._head < n:
            self._make_head_room(n - self._head)
        head = self._head
        self._items[head - n:head] = elements[::-1]
        self._head = head - n

    def push_tail(self, elements):
        self._items.extend(elements)

    def prepend(self, element):
        """LPUSH of one element; returns the new length."""
        head = self._head
        if not head:
            self._make_head_room(1)
            head = self._head
        head -= 1
        self._items[head] = element
        self._head = head
        return len(self._items) - head

    def append(self, element):
        """RPUSH of one element; returns the new length."""
        items = self._items
        items.append(element)
        return len(items) - self._head

    def pop_head(self, count=1):
        """Up to `count` elements from the head, head first."""
        items = self._items
        head = self._head
        taken = items[head:head + count]
        head += len(taken)
        if head >= len(items):
            self._items = []
            self._head = 0
        elif head > 2 * (len(items) - head) + MIN_HEAD_ROOM:
            # Mostly free slots (a queue popping at the head): drop them. The 2x margin
            # keeps pushes and pops alternating at the head from copying the list each time.
            del items[:head]
            self._head = 0
        else:
            items[self._head:head] = [None] * len(taken)
            self._head = head
        return taken

    def pop_first(self):
        """Remove the head element: (element, True when that emptied the list)."""
        items = self._items
        head = self._head
        element = items[head]
        items[head] = None
        head += 1
        left = len(items) - head
        if not left:
            self._items = []
            self._head = 0
            return element, True
        if head > 2 * left + MIN_HEAD_ROOM:
            del items[:head]      # mostly free slots: drop them, as pop_head does
            head = 0
        self._head = head
        return element, False

    def pop_last(self):
        """Remove the tail element: (element, True when that emptied the list)."""
        items = self._items
        element = items.pop()
        if len(items) == self._head:
            self._items = []
            self._head = 0
            return element, True
        return element, False

    def pop_tail(self, count=1):
        """Up to `count` elements from the tail, tail first."""
        items = self._items
        count = min(count, len(self))
        taken = items[len(items) - count:]
        del items[len(items) - count:]
        taken.reverse()
        if len(items) == self._head:
            self._items = []
            self._head = 0
        return taken

    # -- positions (0-based from the head, 0 <= index < len) ---------------------------

    def get(self, index):
        return self._items[self._head + index]

    def set(self, index, element):
        self._items[self._head + index] = element

    def range(self, start, stop):
        """The elements at start <= index < stop, as a list."""
        head = self._head
        return self._items[head + start:head + stop]

    def span(self, start, end):
        """LRANGE: the elements from start to end inclusive, negative counting from the tail."""
        items = self._items
        head = self._head
        size = len(items) - head
        if start < 0:
            start = max(start + size, 0)
        if end < 0:
            end += size
        if start > end or start >= size:
            return []
        return items[head + start:head + min(end, size - 1) + 1]

    def insert(self, index, element):
        self._items.insert(self._head + index, element)

    def trim(self, start, stop):
        """Keep only the elements at start <= index < stop."""
        head = self._head
        self._items = self._items[head + start:head + stop]
        self._head = 0

    def find(self, element, from_tail=False, scan_limit=0):
        """Positions of `element`, nearest the chosen end first, looking at no more
        than `scan_limit` elements from that end (0: all of them)."""
        items = self._items
        head = self._head
        size = len(items) - head
        scanned = min(scan_limit, size) if scan_limit else size
        if not from_tail:
            position = head
            stop = head + scanned
            index = items.index
            while True:
                try:
                    position = index(element, position, stop)
                except ValueError:
                    return
                yield position - head
                position += 1
        else:
            backwards = items[len(items) - scanned:]
            backwards.reverse()
            index = backwards.index
            last = size - 1
            position = 0
            while True:
                try:
                    position = index(element, position)
                except ValueError:
                    return
                yield last - position
                position += 1

    def remove(self, element, count):
        """LREM: drop `count` matches from the head (all if 0, from the tail if negative)."""
        if count == 0:
            live = self._items[self._head:]
            kept = [item for item in live if item != element]
            removed = len(live) - len(kept)
        else:
            doomed = set(islice(self.find(element, count < 0), min(abs(count), LONG_MAX)))
            if not doomed:
                return 0
            live = self._items[self._head:]
            kept = [item for i, item in enumerate(live) if i not in doomed]
            removed = len(doomed)
        if removed:
            self._items = kept
            self._head = 0
        return removed

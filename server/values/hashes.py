"""The hash value: a packed list while small, a field table once it grows.

A Hash reports "listpack" while it is small (entries <= hash-max-listpack-entries,
every field and value <= hash-max-listpack-value bytes) and "hashtable" once
a write takes it past either limit; it never converts back. The small form is
a packed list (server/values/packlist.py: one bytes object holding field,
value, field, value ...), so HGETALL/HKEYS come back in Redis's listpack order
(new fields at the tail, updates in place, deletes closing the gap).

The hashtable form keeps fields and values interleaved in one list plus a
field -> position dict. Deletes move the last pair into the hole, which gives
O(1) uniform random sampling (HRANDFIELD) and an HSCAN cursor that survives
concurrent writes: the scan walks positions downwards, and a swap-remove only
ever moves an entry from the top (already visited, or beyond the cursor) into
a lower position, so an entry present for the whole scan is never skipped.
"""
import random

from server.values.base import RedisValue
from server.values.packlist import implementation

packlist = implementation()


class Hash(RedisValue):
    # Two slots keep the object at 48 bytes, as small as a slotted object gets.
    __slots__ = ("_map", "_pairs")
    TYPE = "hash"

    def __init__(self):
        self._map = packlist.EMPTY   # listpack: the packed list; hashtable: field -> position
        self._pairs = None           # hashtable only: [field, value, field, value ...] by position

    @classmethod
    def from_packed(cls, packed, max_entries):
        """A hash of the packed list's field, value ... (distinct fields), as HSETting them
        in order would leave it: a hashtable when it has more than max_entries fields."""
        value = cls()
        value._map = packed
        if packlist.count(packed) >> 1 > max_entries:
            value._to_hashtable()
        return value

    def encoding(self):
        return "listpack" if self._pairs is None else "hashtable"

    def packed(self):
        """The packed list (field, value ...) of a listpack hash; None for a hashtable."""
        return self._map if self._pairs is None else None

    def __len__(self):
        if self._pairs is None:
            return packlist.count(self._map) >> 1
        return len(self._map)

    def copy(self):
        twin = Hash()
        if self._pairs is None:
            twin._map = self._map            # bytes: shared, never edited in place
        else:
            twin._map = self._map.copy()
            twin._pairs = self._pairs.copy()
        return twin

    # -- reads -----------------------------------------------------------------

    def get(self, field):
        """The value of field, None when absent."""
        if self._pairs is None:
            return packlist.pair_get(self._map, field)
        position = self._map.get(field)
        return None if position is None else self._pairs[2 * position + 1]

    def __contains__(self, field):
        if self._pairs is None:
            return packlist.index(self._map, field, 2) >= 0
        return field in self._map

    def _flat(self):
        """[field, value, field, value ...] in HGETALL order."""
        return packlist.unpack(self._map) if self._pairs is None else self._pairs

    def items(self):
        """(field, value) pairs in the order HGETALL replies with them."""
        flat = self._flat()
        return list(zip(flat[0::2], flat[1::2]))

    def fields(self):
        return self._flat()[0::2]

    def values(self):
        return self._flat()[1::2]

    # -- writes ----------------------------------------------------------------

    def set(self, field, value):
        """Store value under field; True when the field is new."""
        if self._pairs is None:
            self._map, created = packlist.pair_set(self._map, field, value)
            return created
        table = self._map
        position = table.get(field)
        if position is None:
            table[field] = len(table)
            self._pairs += (field, value)
            return True
        self._pairs[2 * position + 1] = value
        return False

    def store(self, field, value, max_entries, max_value):
        """set() with the conversions a write makes: past either listpack limit
        (a string longer than max_value, more than max_entries fields) the hash
        becomes a hashtable. True when the field is new."""
        if self._pairs is None:
            if len(field) > max_value or len(value) > max_value:
                self._to_hashtable()
            else:
                self._map, created = packlist.pair_set(self._map, field, value)
                if created and packlist.count(self._map) > 2 * max_entries:
                    self._to_hashtable()
                return created
        return self.set(field, value)

    def delete(self, field):
        """Remove field; True when it was there."""
        if self._pairs is None:
            remaining = packlist.pair_delete(self._map, field)
            if remaining is None:
                return False
            self._map = remaining
            return True
        table = self._map
        position = table.pop(field, None)
        if position is None:
            return False
        pairs = self._pairs
        last_value = pairs.pop()
        last_field = pairs.pop()
        if 2 * position < len(pairs):
            pairs[2 * position] = last_field
            pairs[2 * position + 1] = last_value
            table[last_field] = position
        return True

    # -- encoding conversions (driven by the config at write time) ---------------

    def admit(self, strings, max_value):
        """Before storing `strings`: leave listpack if any is longer than max_value."""
        if self._pairs is None:
            for s in strings:
                if len(s) > max_value:
                    self._to_hashtable()
                    return

    def fit(self, max_entries):
        """After inserting: leave listpack once it holds more than max_entries."""
        if self._pairs is None and len(self) > max_entries:
            self._to_hashtable()

    def expect(self, distinct_fields, max_entries):
        """Before inserting that many distinct fields: a hash bound to end past max_entries
        leaves listpack now, sparing one listpack rewrite per field (as Redis's RDB load does)."""
        if self._pairs is None and distinct_fields > max_entries:
            self._to_hashtable()

    def _to_hashtable(self):
        pairs = packlist.unpack(self._map)
        self._map = {field: i for i, field in enumerate(pairs[0::2])}
        self._pairs = pairs

    # -- random sampling -----------------------------------------------------------

    def random_pairs(self, count):
        """`count` (field, value) pairs drawn independently (repeats allowed)."""
        flat = self._flat()
        return [(flat[2 * i], flat[2 * i + 1]) for i in random.choices(range(len(flat) >> 1), k=count)]

    def random_distinct_pairs(self, count):
        """`count` distinct (field, value) pairs, count < len(self)."""
        flat = self._flat()
        return [(flat[2 * i], flat[2 * i + 1]) for i in random.sample(range(len(flat) >> 1), count)]

    # -- HSCAN -------------------------------------------------------------------------

    def scan(self, cursor, count):
        """(next cursor, [(field, value) ...]); a listpack hash comes back whole."""
        if self._pairs is None:
            return 0, self.items()
        pairs = self._pairs
        size = len(pairs) >> 1
        top = size if cursor == 0 or cursor > size else cursor
        bottom = max(0, top - count)
        found = [(pairs[2 * i], pairs[2 * i + 1]) for i in range(top - 1, bottom - 1, -1)]
        return bottom, found

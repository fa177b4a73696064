"""The set value: an intset while every member is an integer, else a member sequence.

A Set reports "intset" while every member is a canonical 64-bit decimal
integer and there are at most set-max-intset-entries of them, "hashtable"
otherwise (Redis 7.0 has no listpack sets). The intset form is a sorted
int64 array, so its members come back in ascending order, as Redis's do.
A hashtable set only becomes an intset again when it is rebuilt whole, as
Redis rebuilds it (the STORE commands, SPOP taking most of a set).

The hashtable form is a sequence of members by position; deletes move the
last member into the hole. That gives O(1) uniform random members (SPOP,
SRANDMEMBER) and an SSCAN cursor that survives concurrent writes: the scan
walks positions downwards and a swap-remove only ever moves a member from the
top to a lower position, so no member present for the whole scan is skipped.
While it is small (up to PACKED_MAX_MEMBERS members of at most
PACKED_MAX_LENGTH bytes) the sequence is one packed list
(server/values/packlist.py); past that, a list plus a member -> position dict.
The two behave the same: the packed one only saves memory, and OBJECT ENCODING
says "hashtable" for both.
"""
import random
from array import array
from bisect import bisect_left

from protocol.parser import parse_int
from server.values.base import RedisValue
from server.values.packlist import implementation

packlist = implementation()

INTSET_HARD_LIMIT = 1 << 30       # Redis caps set-max-intset-entries here
PACKED_MAX_MEMBERS = 128          # a hashtable set stays packed up to this many members
PACKED_MAX_LENGTH = 64            # ... each at most this long (Redis 7.2's listpack set limits)
_format_int = b"%d".__mod__
# int(_random() * n) draws a position in [0, n): randrange's job without its argument
# checks (the bias of scaling a 53-bit float is nil for any size a set can reach).
_random = random.random


class Set(RedisValue):
    # Two slots keep the object at 48 bytes, as small as a slotted object gets.
    __slots__ = ("_data", "_index")
    TYPE = "set"

    def __init__(self):
        self._data = array("q")   # intset: sorted array; hashtable: packed bytes, or a list
        self._index = None        # hashtable as a list only: member -> position

    @classmethod
    def from_intset(cls, numbers):
        """An intset of ascending, distinct int64s (at most set-max-intset-entries)."""
        value = cls()
        value._data = array("q", numbers)
        return value

    @classmethod
    def from_members(cls, members):
        """A hashtable set of distinct members, in order, the first no integer: what
        adding them one by one builds."""
        value = cls()
        if len(members) <= PACKED_MAX_MEMBERS and max(map(len, members)) <= PACKED_MAX_LENGTH:
            value._data = packlist.pack(members)
        else:
            value._data = members = list(members)
            value._index = {member: i for i, member in enumerate(members)}
        return value

    def encoding(self):
        return "intset" if self._data.__class__ is array else "hashtable"

    def intset_numbers(self):
        """The ascending int64 array of an intset; None for a hashtable."""
        data = self._data
        return data if data.__class__ is array else None

    def __len__(self):
        data = self._data
        return packlist.count(data) if data.__class__ is bytes else len(data)

    def copy(self):
        twin = Set()
        data = self._data
        if data.__class__ is array:
            twin._data = array("q", data)
        elif data.__class__ is bytes:
            twin._data = data            # shared, never edited in place
        else:
            twin._data = data.copy()
            twin._index = self._index.copy()
        return twin

    # -- reads -------------------------------------------------------------------

    def __contains__(self, member):
        data = self._data
        cls = data.__class__
        if cls is bytes:
            return packlist.index(data, member, 1) >= 0
        if cls is list:
            return member in self._index
        number = parse_int(member)
        if number is None:
            return False
        i = bisect_left(data, number)
        return i < len(data) and data[i] == number

    def __iter__(self):
        """Members as bytes: ascending for an intset."""
        data = self._data
        return map(_format_int, data) if data.__class__ is array else iter(self._sequence())

    def members(self):
        return list(self)

    # -- writes ------------------------------------------------------------------

    def add(self, member, max_intset):
        """Add member; True when it is new. Leaves intset on a non-integer or past max_intset."""
        data = self._data
        cls = data.__class__
        if cls is array:
            number = parse_int(member)
            if number is not None:
                i = bisect_left(data, number)
                if i < len(data) and data[i] == number:
                    return False
                data.insert(i, number)
                if len(data) > min(max_intset, INTSET_HARD_LIMIT):
                    self._to_hashtable()
                return True
            self._to_hashtable()
            data = self._data
            cls = data.__class__
        if cls is bytes:
            if packlist.index(data, member, 1) >= 0:
                return False
            if len(member) <= PACKED_MAX_LENGTH and packlist.count(data) < PACKED_MAX_MEMBERS:
                self._data = packlist.append(data, member)
                return True
            self._unpack()
        index = self._index
        if member in index:
            return False
        index[member] = len(self._data)
        self._data.append(member)
        return True

    def remove(self, member):
        """Remove member; True when it was there."""
        data = self._data
        cls = data.__class__
        if cls is bytes:
            i = packlist.index(data, member, 1)
            if i < 0:
                return False
            self._data = packlist.swap_remove(data, i)
            return True
        if cls is list:
            position = self._index.pop(member, None)
            if position is None:
                return False
            self._close_gap(position)
            return True
        number = parse_int(member)
        if number is None:
            return False
        i = bisect_left(data, number)
        if i < len(data) and data[i] == number:
            del data[i]
            return True
        return False

    def _close_gap(self, position):
        """Fill the hole at position with the last member (its entry already unindexed)."""
        members = self._data
        last = members.pop()
        if position < len(members):
            members[position] = last
            self._index[last] = position

    def _to_hashtable(self):
        members = list(map(_format_int, self._data))
        if len(members) <= PACKED_MAX_MEMBERS:
            self._data = packlist.pack(members)
        else:
            self._data = members
            self._index = {member: i for i, member in enumerate(members)}

    def _unpack(self):
        """From the packed form to the list and dict."""
        members = packlist.unpack(self._data)
        self._index = {member: i for i, member in enumerate(members)}
        self._data = members

    def rebuild(self, max_intset):
        """Take the encoding a set built from scratch with these members would have."""
        if self._data.__class__ is array or len(self) > min(max_intset, INTSET_HARD_LIMIT):
            return
        numbers = []
        for member in self._sequence():
            number = parse_int(member)
            if number is None:
                return
            numbers.append(number)
        numbers.sort()
        self._data = array("q", numbers)
        self._index = None

    # -- random members -------------------------------------------------------------

    def _sequence(self):
        """The members by position: the int64 array, or a list of bytes."""
        data = self._data
        return packlist.unpack(data) if data.__class__ is bytes else data

    def random_members(self, count):
        """`count` members drawn independently (repeats allowed)."""
        drawn = random.choices(self._sequence(), k=count)
        return list(map(_format_int, drawn)) if self._data.__class__ is array else drawn

    def distinct_random_members(self, count):
        """`count` distinct members, count < len(self), in random order."""
        drawn = random.sample(self._sequence(), count)
        return list(map(_format_int, drawn)) if self._data.__class__ is array else drawn

    def pop_random(self):
        """Remove one uniformly chosen member: (member, True when that emptied the set)."""
        data = self._data
        cls = data.__class__
        if cls is list:
            position = int(_random() * len(data))
            member = data[position]
            index = self._index
            del index[member]
            last = data.pop()
            if position < len(data):     # the last member fills the hole (_close_gap)
                data[position] = last
                index[last] = position
            return member, not data
        if cls is array:
            return _format_int(data.pop(int(_random() * len(data)))), not data
        size = packlist.count(data)
        position = int(_random() * size)
        member = packlist.item(data, position)
        self._data = packlist.swap_remove(data, position)
        return member, size == 1

    def pop_random_many(self, count):
        """Remove and return `count` distinct random members, count < len(self)."""
        data = self._data
        if data.__class__ is array:
            chosen = random.sample(range(len(data)), count)
            popped = [data[i] for i in chosen]
            dropped = set(chosen)
            self._data = array("q", [n for i, n in enumerate(data) if i not in dropped])
            return list(map(_format_int, popped))
        return [self.pop_random()[0] for _ in range(count)]

    # -- SSCAN ---------------------------------------------------------------------------

    def scan(self, cursor, count):
        """(next cursor, members); an intset comes back whole with cursor 0."""
        if self._data.__class__ is array:
            return 0, list(self)
        members = self._sequence()
        size = len(members)
        top = size if cursor == 0 or cursor > size else cursor
        bottom = max(0, top - count)
        return bottom, members[bottom:top][::-1]

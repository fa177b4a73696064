"""The sorted set value: a packed list while small, a skiplist with a member index once it grows.

A SortedSet reports "listpack" while it is small (entries <= zset-max-listpack-
entries, every member <= zset-max-listpack-value bytes) and "skiplist" once
an insert takes it past either limit. It never converts back in place.

Representation, private to the class:
  listpack  one packed list (server/values/packlist.py) of (member, score)
            entries in (score, member) order. Like Redis's listpack it cannot
            hold -0: a zero score is stored as 0.
  skiplist  `_order` is a SkipList (native/zskiplist.pyx, pure twin
            server/values/skiplist.py) holding everything: the (score, member)
            order giving ranks and ranges in O(log n), a member index for
            scores, and positions. A delete moves the last position into the
            hole, which keeps random picks O(1) and lets ZSCAN walk positions
            downwards without skipping anything that stays in the set for the
            whole scan. `_data` is None.
"""
import random
from protocol.writer import format_double
from server.base.native_bridge import PURE
from server.values import geohash
from server.values.base import RedisValue
from server.values.packlist import implementation

if PURE:
    from server.values.skiplist import SkipList
else:
    try:
        from native.zskiplist import SkipList
    except ImportError:
        from server.values.skiplist import SkipList

packlist = implementation()

LONG_MAX = 2**63 - 1
DOUBLE_AS_LONG_LIMIT = float(LONG_MAX // 2)      # double2ll's "safe to cast" bound

def _pair_order(pair):
    return pair[1], pair[0]


def _listpack_score_text(score):
    """A score as a listpack stores it: an integer when exact, else %.17g."""
    if -DOUBLE_AS_LONG_LIMIT <= score <= DOUBLE_AS_LONG_LIMIT and score == int(score):
        return b"%d" % int(score)
    return format_double(score)


class SortedSet(RedisValue):
    # Two slots keep the object at 48 bytes, as small as a slotted object gets.
    __slots__ = ("_data", "_order")
    TYPE = "zset"

    def __init__(self):
        self._data = packlist.EMPTY    # listpack: the packed list; skiplist: None
        self._order = None             # skiplist only: SkipList of (score, member)

    @classmethod
    def build(cls, pairs, max_entries, max_value):
        """A sorted set holding the (member, score) pairs (distinct members, any order),
        small when it fits the listpack limits, as Redis sizes stored results."""
        zset = cls()
        pairs = sorted(pairs, key=_pair_order)
        if len(pairs) <= max_entries and all(len(member) <= max_value for member, _ in pairs):
            zset._data = packlist.zpack([(member, score + 0.0) for member, score in pairs])
        else:
            zset._to_skiplist()
            order = zset._order
            for member, score in pairs:
                order.insert(score, member)
        return zset

    @classmethod
    def from_packed(cls, packed):
        """A listpack sorted set holding a packed list already in (score, member) order."""
        zset = cls()
        zset._data = packed
        return zset

    def encoding(self):
        return "listpack" if self._order is None else "skiplist"

    def packed(self):
        """The packed list of a listpack sorted set; None for a skiplist."""
        return self._data if self._order is None else None

    def to_skiplist(self):
        """Take the skiplist form now (SORT converts what it reads, as Redis does)."""
        if self._order is None:
            self._to_skiplist()

    def __len__(self):
        if self._order is None:
            return packlist.count(self._data)
        return len(self._order)

    def copy(self):
        twin = SortedSet()
        if self._order is None:
            twin._data = self._data          # bytes: shared, never edited in place
        else:
            twin._data = None
            twin._order = self._order.copy()
        return twin

    duplicate = copy

    # -- single members ----------------------------------------------------------

    def score(self, member):
        """The score of member, None when absent."""
        if self._order is None:
            return packlist.zscore(self._data, member)
        return self._order.score(member)

    def __contains__(self, member):
        return self.score(member) is not None

    def rank(self, member):
        """0-based rank in ascending order, None when absent."""
        if self._order is None:
            rank = packlist.zrank(self._data, member)
            return None if rank < 0 else rank
        return self._order.member_rank(member)

    def insert(self, member, score, max_entries, max_value):
        """Add a member that is not in the set, leaving listpack when past the limits."""
        if self._order is None:
            if len(self) + 1 > max_entries or len(member) > max_value:
                self._to_skiplist()
            else:
                # score + 0.0: no negative zero in a listpack
                self._data = packlist.zinsert(self._data, member, score + 0.0)
                return
        self._order.insert(score, member)

    def set_score(self, member, score):
        """Give a present member a new score."""
        if self._order is None:
            self._data = packlist.zinsert(packlist.zremove(self._data, member), member, score + 0.0)
            return
        order = self._order
        order.update(order.score(member), member, score)

    def remove(self, member):
        """Delete member; True when it was there."""
        if self._order is None:
            remaining = packlist.zremove(self._data, member)
            if remaining is None:
                return False
            self._data = remaining
            return True
        order = self._order
        score = order.score(member)
        return score is not None and order.delete(score, member)

    # -- ranges (as [lo, hi) spans of ranks) ---------------------------------------

    def score_span(self, low, low_open, high, high_open):
        """Ranks [lo, hi) of the entries whose score is within the range."""
        if self._order is None:
            lo = packlist.zbisect_score(self._data, low, low_open)
            hi = packlist.zbisect_score(self._data, high, not high_open)
        else:
            lo = self._order.bisect_score(low, low_open)
            hi = self._order.bisect_score(high, not high_open)
        return lo, max(lo, hi)

    def lex_span(self, lex, reverse=False):
        """Ranks [lo, hi) of the entries within a LexRange (members assumed sorted, as
        when all scores are equal). A listpack with mixed scores is scanned the way
        Redis walks it, from the head (or from the tail for `reverse`)."""
        n = len(self)
        data = self._data
        if (self._order is None and n
                and packlist.zscore_at(data, 0) != packlist.zscore_at(data, n - 1)):
            return lex.linear_span(packlist.zunpack(data)[0], reverse)
        lo = lex.count_below_min(self, n)
        hi = lex.count_up_to_max(self, n)
        return lo, max(lo, hi)

    def append_within(self, low, high, shape, limit, found):
        """A geo search's cell: (distance, score, member) of the
        entries with low <= score < high inside the shape (geohash.shape_filter's) appended
        to `found`, in order, until it holds `limit` (0: no limit)."""
        if self._order is not None:
            return self._order.append_within(low, high, shape, limit, found)
        lo, hi = self.score_span(low, False, high, True)
        if lo < hi:
            geohash.filter_points(self.items(lo, hi), shape, limit, found)

    def bisect_member(self, member, right):
        if self._order is None:
            return packlist.zbisect_member(self._data, member, right)
        return self._order.bisect_member(member, right)

    def items(self, start=0, stop=None, reverse=False):
        """[(member, score)] for ranks [start, stop), descending with reverse."""
        if stop is None:
            stop = len(self)
        if self._order is not None:
            return self._order.items(start, stop, reverse)
        pairs = packlist.zitems(self._data, start, stop)
        if reverse:
            pairs.reverse()
        return pairs

    def members(self, start, stop, reverse=False):
        """Like items() without scores."""
        if self._order is not None:
            return self._order.members(start, stop, reverse)
        chosen = packlist.zmembers(self._data, start, stop)
        if reverse:
            chosen.reverse()
        return chosen

    def __iter__(self):
        if self._order is not None:
            return iter(self._order)
        return iter(packlist.zitems(self._data, 0, len(self)))

    def delete_span(self, start, stop):
        """Remove the entries at ranks [start, stop); returns how many went."""
        if start >= stop:
            return 0
        if self._order is None:
            before = len(self)
            self._data = packlist.zdelete(self._data, start, stop)
            return before - len(self)
        return len(self._order.delete_range(start, stop))

    def pop(self, count, highest):
        """Remove and return the `count` lowest (or highest) entries, in pop order."""
        n = len(self)
        count = min(count, n)
        if highest:
            popped = self.items(n - count, n, reverse=True)
            self.delete_span(n - count, n)
        else:
            popped = self.items(0, count)
            self.delete_span(0, count)
        return popped

    # -- random picks and ZSCAN ------------------------------------------------------

    def random_pairs(self, count):
        """`count` (member, score) pairs drawn independently."""
        chosen = random.choices(range(len(self)), k=count)
        if self._order is not None:
            return list(map(self._order.at_position, chosen))
        members, scores = packlist.zunpack(self._data)
        return [(members[i], scores[i]) for i in chosen]

    def random_distinct_pairs(self, count):
        """`count` distinct pairs (count < len); a listpack gives them in its order."""
        chosen = random.sample(range(len(self)), count)
        if self._order is not None:
            return list(map(self._order.at_position, chosen))
        chosen.sort()
        members, scores = packlist.zunpack(self._data)
        return [(members[i], scores[i]) for i in chosen]

    def scan(self, cursor, count):
        """(next cursor, [(member, score text)]); a listpack comes back whole."""
        if self._order is None:
            return 0, [(member, _listpack_score_text(score))
                       for member, score in packlist.zitems(self._data, 0, len(self))]
        size = len(self._order)
        top = size if cursor == 0 or cursor > size else cursor
        bottom = max(0, top - count)
        at_position = self._order.at_position
        pairs = []
        for i in range(top - 1, bottom - 1, -1):
            member, score = at_position(i)
            pairs.append((member, format_double(score)))
        return bottom, pairs

    # -- representation ----------------------------------------------------------------

    def _to_skiplist(self):
        members, scores = packlist.zunpack(self._data)
        self._data = None
        self._order = order = SkipList()
        for member, score in zip(members, scores):
            order.insert(score, member)

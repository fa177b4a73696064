"""A large sorted set's entries: a skiplist of (score, member) with a member index.

Entries are ordered by score, then by member bytes. Every forward link
carries a span (how many entries it jumps over), so rank lookups and rank
slices cost O(log n) like score lookups. Members must be `bytes`; a member
appears at most once (insert's caller checks with score()). Besides the
order, each entry has a position (insertion order; a delete moves the last
position into the hole) for random picks and ZSCAN, and the member index
finds an entry by member in O(1).

This is the pure-Python twin of native/zskiplist.pyx: same class name, same
methods, same results, same tests. Indexes are 0-based ranks; slices are
half-open [start, stop) and are clamped to the list.
"""
from random import getrandbits

from server.values import geohash

MAX_LEVEL = 32             # enough for 4^32 entries at p = 1/4


def random_level():
    """1 + the number of successes of a p=1/4 trial, capped at MAX_LEVEL."""
    bits = getrandbits(64)
    level = 1
    while bits & 3 == 0 and level < MAX_LEVEL:
        level += 1
        bits >>= 2
    return level


class _Node:
    __slots__ = ("member", "score", "backward", "forward", "span", "position")

    def __init__(self, member, score, level):
        self.member = member
        self.score = score
        self.backward = None
        self.forward = [None] * level
        self.span = [0] * level
        self.position = 0


class SkipList:
    __slots__ = ("_header", "_tail", "_length", "_level", "_nodes", "_index")

    def __init__(self):
        self._header = _Node(None, 0.0, MAX_LEVEL)
        self._tail = None
        self._length = 0
        self._level = 1
        self._nodes = []          # by position
        self._index = {}          # member -> node

    def __len__(self):
        return self._length

    # -- the member index ------------------------------------------------------------

    def score(self, member):
        """The score of member, None when it is not in the list."""
        node = self._index.get(member)
        return None if node is None else node.score

    def member_rank(self, member):
        """0-based rank of member, None when it is not in the list."""
        node = self._index.get(member)
        return None if node is None else self.rank(node.score, member)

    def _add_position(self, node):
        node.position = len(self._nodes)
        self._nodes.append(node)
        self._index[node.member] = node

    def _drop_position(self, node):
        """Forget node's position, moving the last position into the hole."""
        del self._index[node.member]
        last = self._nodes.pop()
        if last is not node:
            self._nodes[node.position] = last
            last.position = node.position

    # -- search ------------------------------------------------------------------

    def _path(self, score, member):
        """Per level, the last node before (score, member), and the rank of each."""
        update = [None] * MAX_LEVEL
        rank = [0] * MAX_LEVEL
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while True:
                f = x.forward[i]
                if f is None or f.score > score or (f.score == score and f.member >= member):
                    break
                traversed += x.span[i]
                x = f
            update[i] = x
            rank[i] = traversed
        return update, rank

    def rank(self, score, member):
        """0-based rank of (score, member), -1 when it is not in the list."""
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while True:
                f = x.forward[i]
                if f is None or f.score > score or (f.score == score and f.member > member):
                    break
                traversed += x.span[i]
                x = f
            if x is not self._header and x.member == member and x.score == score:
                return traversed - 1
        return -1

    def bisect_score(self, score, right=False):
        """How many entries score < `score` (<= with right=True)."""
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while True:
                f = x.forward[i]
                if f is None or f.score > score or (f.score == score and not right):
                    break
                traversed += x.span[i]
                x = f
        return traversed

    def bisect_member(self, member, right=False):
        """How many leading entries have member < `member` (<= with right=True).

        Meaningful when all scores are equal, which is what lex ranges assume."""
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while True:
                f = x.forward[i]
                if f is None or f.member > member or (f.member == member and not right):
                    break
                traversed += x.span[i]
                x = f
        return traversed

    def _node_at(self, index):
        """The node at 0-based rank `index` (0 <= index < len)."""
        target = index + 1
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while x.forward[i] is not None and traversed + x.span[i] <= target:
                traversed += x.span[i]
                x = x.forward[i]
            if traversed == target:
                return x
        raise IndexError(index)

    # -- changes -----------------------------------------------------------------

    def insert(self, score, member):
        """Add (score, member); the member must not be in the list."""
        update, rank = self._path(score, member)
        level = random_level()
        node = _Node(member, score, level)
        self._add_position(node)
        self._link(node, level, update, rank)

    def _link(self, node, level, update, rank):
        header = self._header
        if level > self._level:
            for i in range(self._level, level):
                update[i] = header
                rank[i] = 0
                header.span[i] = self._length
            self._level = level
        below = rank[0]
        for i in range(level):
            prev = update[i]
            node.forward[i] = prev.forward[i]
            prev.forward[i] = node
            node.span[i] = prev.span[i] - (below - rank[i])
            prev.span[i] = below - rank[i] + 1
        for i in range(level, self._level):
            update[i].span[i] += 1
        node.backward = None if update[0] is header else update[0]
        if node.forward[0] is not None:
            node.forward[0].backward = node
        else:
            self._tail = node
        self._length += 1

    def _unlink(self, node, update):
        for i in range(self._level):
            prev = update[i]
            if prev.forward[i] is node:
                prev.span[i] += node.span[i] - 1
                prev.forward[i] = node.forward[i]
            else:
                prev.span[i] -= 1
        if node.forward[0] is not None:
            node.forward[0].backward = node.backward
        else:
            self._tail = node.backward
        header = self._header
        while self._level > 1 and header.forward[self._level - 1] is None:
            self._level -= 1
        self._length -= 1

    def delete(self, score, member):
        """Remove (score, member); False when it was not there."""
        update, _ = self._path(score, member)
        node = update[0].forward[0]
        if node is None or node.score != score or node.member != member:
            return False
        self._drop_position(node)
        self._unlink(node, update)
        return True

    def update(self, score, member, new_score):
        """Move the present entry (score, member) to new_score."""
        update, _ = self._path(score, member)
        node = update[0].forward[0]
        if node is None or node.score != score or node.member != member:
            raise KeyError(member)
        back, nxt = node.backward, node.forward[0]
        # Still between its neighbours: the links stay as they are.
        if ((back is None or back.score < new_score
             or (back.score == new_score and back.member < member))
                and (nxt is None or nxt.score > new_score
                     or (nxt.score == new_score and nxt.member > member))):
            node.score = new_score
            return
        # Relinked where it now belongs; the node (and its position) stay.
        self._unlink(node, update)
        node.score = new_score
        update, rank = self._path(new_score, member)
        self._link(node, len(node.forward), update, rank)

    def delete_range(self, start, stop):
        """Remove the entries at ranks [start, stop); returns their members in order."""
        start = max(start, 0)
        stop = min(stop, self._length)
        removed = []
        if start >= stop:
            return removed
        update = [None] * MAX_LEVEL
        x = self._header
        traversed = 0
        for i in range(self._level - 1, -1, -1):
            while x.forward[i] is not None and traversed + x.span[i] <= start:
                traversed += x.span[i]
                x = x.forward[i]
            update[i] = x
        x = x.forward[0]
        for _ in range(stop - start):
            nxt = x.forward[0]
            self._drop_position(x)
            self._unlink(x, update)
            removed.append(x.member)
            x = nxt
        return removed

    # -- reading -----------------------------------------------------------------

    def item(self, index):
        """(member, score) at 0-based rank `index`."""
        if index < 0 or index >= self._length:
            raise IndexError(index)
        node = self._node_at(index)
        return node.member, node.score

    def at_position(self, position):
        """(member, score) at `position` (0 <= position < len): positions are in
        insertion order, a delete moving the last one into the hole."""
        if position < 0 or position >= self._length:
            raise IndexError(position)
        node = self._nodes[position]
        return node.member, node.score

    def _walk(self, start, stop, reverse):
        start = max(start, 0)
        stop = min(stop, self._length)
        if start >= stop:
            return
        if reverse:
            node = self._tail if stop == self._length else self._node_at(stop - 1)
            for _ in range(stop - start):
                yield node
                node = node.backward
        else:
            node = self._header.forward[0] if start == 0 else self._node_at(start)
            for _ in range(stop - start):
                yield node
                node = node.forward[0]

    def items(self, start, stop, reverse=False):
        """[(member, score)] for ranks [start, stop), descending with reverse=True."""
        return [(node.member, node.score) for node in self._walk(start, stop, reverse)]

    def members(self, start, stop, reverse=False):
        """Like items() without the scores."""
        return [node.member for node in self._walk(start, stop, reverse)]

    def append_within(self, low, high, shape, limit, found):
        """Append (distance, score, member) to `found` for each entry
        with low <= score < high whose point is inside the shape (geohash.shape_filter's),
        in order; stop once `found` holds `limit` (0: no limit)."""
        lo = self.bisect_score(low)
        hi = self.bisect_score(high)
        if lo < hi:
            geohash.filter_points(self.items(lo, hi), shape, limit, found)

    def __iter__(self):
        node = self._header.forward[0]
        while node is not None:
            yield node.member, node.score
            node = node.forward[0]

    def copy(self):
        """An equal list (positions in rank order)."""
        twin = SkipList()
        for member, score in self:
            twin.insert(score, member)
        return twin

    def validate(self):
        """Check every link, span and the order; raises AssertionError when broken."""
        header = self._header
        assert 1 <= self._level <= MAX_LEVEL
        for i in range(self._level, MAX_LEVEL):
            assert header.forward[i] is None
        nodes = []
        node = header.forward[0]
        prev = None
        while node is not None:
            assert node.backward is prev
            if prev is not None:
                assert (prev.score, prev.member) < (node.score, node.member)
            nodes.append(node)
            prev, node = node, node.forward[0]
        assert self._tail is prev
        assert len(nodes) == self._length
        assert len(self._nodes) == len(self._index) == self._length
        for node in nodes:
            assert self._nodes[node.position] is node and self._index[node.member] is node
        position = {id(n): r + 1 for r, n in enumerate(nodes)}
        position[id(header)] = 0
        for i in range(self._level):
            x = header
            while True:
                nxt = x.forward[i]
                target = position[id(nxt)] if nxt is not None else self._length + 1
                if nxt is not None:
                    assert x.span[i] == target - position[id(x)]
                x = nxt
                if x is None:
                    break
                assert len(x.forward) > i
        return True

"""The ordered half of a large sorted set: a skiplist of (score, member) entries.

Entries are ordered by score, then by member bytes. Every forward link
carries a span (how many entries it jumps over), so rank lookups and rank
slices cost O(log n) like score lookups. Members must be `bytes`; a member
appears at most once (the sorted set's dict guarantees it).

This is the pure-Python twin of native/zskiplist.pyx: same class name, same
methods, same results, same tests. Indexes are 0-based ranks; slices are
half-open [start, stop) and are clamped to the list.
"""
from random import getrandbits

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
    __slots__ = ("member", "score", "backward", "forward", "span")

    def __init__(self, member, score, level):
        self.member = member
        self.score = score
        self.backward = None
        self.forward = [None] * level
        self.span = [0] * level


class SkipList:
    __slots__ = ("_header", "_tail", "_length", "_level")

    def __init__(self):
        self._header = _Node(None, 0.0, MAX_LEVEL)
        self._tail = None
        self._length = 0
        self._level = 1

    def __len__(self):
        return self._length

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
        header = self._header
        if level > self._level:
            for i in range(self._level, level):
                update[i] = header
                rank[i] = 0
                header.span[i] = self._length
            self._level = level
        node = _Node(member, score, level)
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
        self._unlink(node, update)
        self.insert(new_score, member)

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

    def __iter__(self):
        node = self._header.forward[0]
        while node is not None:
            yield node.member, node.score
            node = node.forward[0]

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

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of server.values.skiplist.SkipList: same class, methods and results.

The whole skiplist form of a sorted set lives in C, in three allocations per
set plus one per member:
  - nodes: one PyMem_Malloc block each, holding the score, the links (a span on
    each forward link gives ranks in O(log n)) and the member's bytes inline,
    so no Python object is kept per member;
  - `nodes`: every node by position (insertion order, a delete moves the last
    one into the hole), for random picks and ZSCAN;
  - `slots`: an open-addressing (linear probing) table for lookups by member,
    each slot the member hash's low 32 bits and the position; at most half
    full; deletes shift entries back, so there are no tombstones. A probe
    compares hashes in the slot itself and reads a node only when they match.
The hash is Python's bytes hash (its cached value when a bytes object asks),
its low 32 bits kept in the node too, so resizing never rereads the member.
Members are compared as bytes (memcmp, then length).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject_Hash
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy

from native.geohash cimport ShapeFilter

import os

cdef extern from "Python.h":
    Py_hash_t _Py_HashBytes(const void *data, Py_ssize_t size)

cdef extern from *:
    """
    typedef struct zsl_node zsl_node;
    typedef struct { zsl_node *forward; Py_ssize_t span; } zsl_level;
    struct zsl_node {
        double score;
        zsl_node *backward;
        uint32_t hash;          /* low 32 bits of the member's hash */
        uint32_t position;      /* index in SkipList.nodes */
        uint32_t size;          /* member length; its bytes follow level[height - 1] */
        uint8_t height;
        zsl_level level[];
    };
    #define ZSL_MEMBER(node) ((char *)&(node)->level[(node)->height])
    """
    ctypedef struct zsl_node
    ctypedef struct zsl_level:
        zsl_node *forward
        Py_ssize_t span
    ctypedef struct zsl_node:
        double score
        zsl_node *backward
        uint32_t hash
        uint32_t position
        uint32_t size
        uint8_t height
        zsl_level level[1]
    char *ZSL_MEMBER(zsl_node *node) noexcept

cdef enum:
    MAX_LEVEL = 32
    MIN_SLOTS = 8

cdef uint64_t EMPTY = 0xFFFFFFFFFFFFFFFFULL      # a free slot


cdef inline uint64_t _slot_entry(uint32_t hash, uint32_t position) noexcept:
    return (<uint64_t>hash << 32) | position

# xorshift64* state for node levels, seeded once per process.
cdef unsigned long long _rng_state = int.from_bytes(os.urandom(8), "little") | 1


cdef inline int _random_level() noexcept:
    global _rng_state
    cdef unsigned long long x = _rng_state
    x ^= x >> 12
    x ^= x << 25
    x ^= x >> 27
    _rng_state = x
    x *= 2685821657736338717ULL
    cdef int level = 1
    while (x & 3) == 0 and level < MAX_LEVEL:
        level += 1
        x >>= 2
    return level


cdef inline int _member_cmp(zsl_node *x, const char *m, Py_ssize_t n) noexcept:
    """<0, 0, >0 as x's member compares with m[:n] as bytes: memcmp, then length."""
    cdef Py_ssize_t k = x.size
    cdef int c = memcmp(ZSL_MEMBER(x), m, k if k < n else n)
    if c != 0:
        return c
    return (k > n) - (k < n)


cdef inline bint _before(zsl_node *x, double score, const char *m, Py_ssize_t n) noexcept:
    """True if node x sorts before (score, m)."""
    return x.score < score or (x.score == score and _member_cmp(x, m, n) < 0)


cdef inline bint _is(zsl_node *x, double score, const char *m, Py_ssize_t n) noexcept:
    return x != NULL and x.score == score and _member_cmp(x, m, n) == 0


cdef inline object _member(zsl_node *x):
    return PyBytes_FromStringAndSize(ZSL_MEMBER(x), x.size)


cdef zsl_node *_node_new(int height, double score, const char *m, Py_ssize_t n,
                         uint32_t hash) except NULL:
    if n > 0xFFFFFFFF:
        raise OverflowError("a sorted set member is limited to 4 GB")
    cdef zsl_node *node = <zsl_node*>PyMem_Malloc(sizeof(zsl_node) + height * sizeof(zsl_level) + n)
    if node == NULL:
        raise MemoryError()
    node.score = score
    node.backward = NULL
    node.hash = hash
    node.position = 0
    node.size = <uint32_t>n
    node.height = <uint8_t>height
    cdef int i
    for i in range(height):
        node.level[i].forward = NULL
        node.level[i].span = 0
    if n:
        memcpy(ZSL_MEMBER(node), m, n)
    return node


cdef class SkipList:
    cdef zsl_node *header
    cdef zsl_node *tail
    cdef Py_ssize_t length
    cdef int level
    cdef zsl_node **nodes       # by position; `length` of them in use
    cdef Py_ssize_t capacity
    cdef uint64_t *slots        # (hash << 32 | position) by member hash, EMPTY when free
    cdef size_t mask            # slot count - 1 (a power of two)

    def __cinit__(self):
        self.header = _node_new(MAX_LEVEL, 0.0, NULL, 0, 0)
        self.tail = NULL
        self.length = 0
        self.level = 1
        self.nodes = NULL
        self.capacity = 0
        self.slots = NULL
        self.mask = 0

    def __dealloc__(self):
        cdef zsl_node *node
        cdef zsl_node *nxt
        if self.header == NULL:
            return
        node = self.header.level[0].forward
        while node != NULL:
            nxt = node.level[0].forward
            PyMem_Free(node)
            node = nxt
        PyMem_Free(self.header)
        PyMem_Free(self.nodes)
        PyMem_Free(self.slots)
        self.header = NULL

    def __len__(self):
        return self.length

    # -- the member index ------------------------------------------------------------

    cdef Py_ssize_t _slot_of(self, const char *m, Py_ssize_t n, uint32_t hash) noexcept:
        """The slot holding member m[:n], -1 when it is not in the list."""
        cdef size_t i
        cdef uint64_t entry
        cdef zsl_node *node
        if self.slots == NULL:
            return -1
        i = hash & self.mask
        while True:
            entry = self.slots[i]
            if entry == EMPTY:
                return -1
            if <uint32_t>(entry >> 32) == hash:
                node = self.nodes[<uint32_t>entry]
                if node.size == n and memcmp(ZSL_MEMBER(node), m, n) == 0:
                    return i
            i = (i + 1) & self.mask

    cdef zsl_node *_find(self, bytes member) except? NULL:
        cdef Py_ssize_t slot = self._slot_of(PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member),
                                             <uint32_t>PyObject_Hash(member))
        return NULL if slot < 0 else self.nodes[<uint32_t>self.slots[slot]]

    cdef int _resize_slots(self, size_t count) except -1:
        cdef uint64_t *slots = <uint64_t*>PyMem_Malloc(count * sizeof(uint64_t))
        cdef size_t i, mask = count - 1
        cdef Py_ssize_t p
        if slots == NULL:
            raise MemoryError()
        for i in range(count):
            slots[i] = EMPTY
        for p in range(self.length):
            i = self.nodes[p].hash & mask
            while slots[i] != EMPTY:
                i = (i + 1) & mask
            slots[i] = _slot_entry(self.nodes[p].hash, <uint32_t>p)
        PyMem_Free(self.slots)
        self.slots = slots
        self.mask = mask
        return 0

    cdef int _add_position(self, zsl_node *node) except -1:
        """Give node the next position and a slot (the list's length is not yet counted)."""
        cdef Py_ssize_t count = self.length
        cdef Py_ssize_t capacity
        cdef zsl_node **grown
        cdef size_t i
        if count == self.capacity:
            capacity = self.capacity + (self.capacity >> 3) + 8
            grown = <zsl_node**>PyMem_Realloc(self.nodes, capacity * sizeof(zsl_node*))
            if grown == NULL:
                raise MemoryError()
            self.nodes = grown
            self.capacity = capacity
        if self.slots == NULL or <size_t>(count + 1) * 2 > self.mask + 1:
            self._resize_slots(MIN_SLOTS if self.slots == NULL else (self.mask + 1) * 2)
        node.position = <uint32_t>count
        self.nodes[count] = node
        i = node.hash & self.mask
        while self.slots[i] != EMPTY:
            i = (i + 1) & self.mask
        self.slots[i] = _slot_entry(node.hash, <uint32_t>count)
        return 0

    cdef void _drop_position(self, zsl_node *node) noexcept:
        """Forget node's slot and position, moving the last position into the hole
        (called while node is still counted in the length)."""
        cdef uint64_t *slots = self.slots
        cdef size_t mask = self.mask
        cdef size_t i = node.hash & mask, j, home
        cdef uint32_t position = node.position, last = <uint32_t>(self.length - 1)
        cdef uint64_t entry
        cdef zsl_node *moved
        while <uint32_t>slots[i] != position:
            i = (i + 1) & mask
        # Backward shift: pull later entries of the probe run into the hole when their
        # home slot is not cyclically within (hole, their slot].
        j = i
        while True:
            j = (j + 1) & mask
            entry = slots[j]
            if entry == EMPTY:
                break
            home = (entry >> 32) & mask
            if (j > i and (home <= i or home > j)) or (j < i and home <= i and home > j):
                slots[i] = entry
                i = j
        slots[i] = EMPTY
        if position != last:
            moved = self.nodes[last]
            self.nodes[position] = moved
            moved.position = position
            i = moved.hash & mask
            while <uint32_t>slots[i] != last:
                i = (i + 1) & mask
            slots[i] = _slot_entry(moved.hash, position)

    # -- search ------------------------------------------------------------------

    cdef zsl_node *_path(self, double score, const char *m, Py_ssize_t n, zsl_node **update,
                         Py_ssize_t *rank) noexcept:
        """Fill update/rank per level with the last node before (score, member);
        returns the node right after that position (maybe NULL)."""
        cdef zsl_node *x = self.header
        cdef Py_ssize_t traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and _before(x.level[i].forward, score, m, n):
                traversed += x.level[i].span
                x = x.level[i].forward
            update[i] = x
            if rank != NULL:
                rank[i] = traversed
        return x.level[0].forward

    cdef zsl_node *_node_at(self, Py_ssize_t index) noexcept:
        cdef Py_ssize_t target = index + 1
        cdef Py_ssize_t traversed = 0
        cdef zsl_node *x = self.header
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and traversed + x.level[i].span <= target:
                traversed += x.level[i].span
                x = x.level[i].forward
            if traversed == target:
                return x
        return NULL

    cdef Py_ssize_t _rank(self, double score, const char *m, Py_ssize_t n) noexcept:
        cdef zsl_node *x = self.header
        cdef zsl_node *f
        cdef Py_ssize_t traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while True:
                f = x.level[i].forward
                if f == NULL or f.score > score or (f.score == score and _member_cmp(f, m, n) > 0):
                    break
                traversed += x.level[i].span
                x = f
            if x != self.header and x.score == score and _member_cmp(x, m, n) == 0:
                return traversed - 1
        return -1

    def rank(self, double score, bytes member not None):
        """0-based rank of (score, member), -1 when it is not in the list."""
        return self._rank(score, PyBytes_AS_STRING(member), PyBytes_GET_SIZE(member))

    def score(self, bytes member not None):
        """The score of member, None when it is not in the list."""
        cdef zsl_node *node = self._find(member)
        return None if node == NULL else node.score

    def member_rank(self, bytes member not None):
        """0-based rank of member, None when it is not in the list."""
        cdef zsl_node *node = self._find(member)
        if node == NULL:
            return None
        return self._rank(node.score, ZSL_MEMBER(node), node.size)

    def bisect_score(self, double score, bint right=False):
        """How many entries score < `score` (<= with right=True)."""
        return self._bisect_score(score, right)

    cdef Py_ssize_t _bisect_score(self, double score, bint right) noexcept:
        cdef zsl_node *x = self.header
        cdef zsl_node *f
        cdef Py_ssize_t traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while True:
                f = x.level[i].forward
                if f == NULL or f.score > score or (f.score == score and not right):
                    break
                traversed += x.level[i].span
                x = f
        return traversed

    def bisect_member(self, bytes member not None, bint right=False):
        """How many leading entries have member < `member` (<= with right=True).

        Meaningful when all scores are equal, which is what lex ranges assume."""
        cdef const char *m = PyBytes_AS_STRING(member)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(member)
        cdef zsl_node *x = self.header
        cdef zsl_node *f
        cdef Py_ssize_t traversed = 0
        cdef int i, c
        for i in range(self.level - 1, -1, -1):
            while True:
                f = x.level[i].forward
                if f == NULL:
                    break
                c = _member_cmp(f, m, n)
                if c > 0 or (c == 0 and not right):
                    break
                traversed += x.level[i].span
                x = f
        return traversed

    # -- changes -----------------------------------------------------------------

    cdef void _link(self, zsl_node *node, int level, zsl_node **update, Py_ssize_t *rank) noexcept:
        cdef int i
        cdef Py_ssize_t below = rank[0]
        if level > self.level:
            for i in range(self.level, level):
                update[i] = self.header
                rank[i] = 0
                self.header.level[i].span = self.length
            self.level = level
        for i in range(level):
            node.level[i].forward = update[i].level[i].forward
            update[i].level[i].forward = node
            node.level[i].span = update[i].level[i].span - (below - rank[i])
            update[i].level[i].span = below - rank[i] + 1
        for i in range(level, self.level):
            update[i].level[i].span += 1
        node.backward = NULL if update[0] == self.header else update[0]
        if node.level[0].forward != NULL:
            node.level[0].forward.backward = node
        else:
            self.tail = node
        self.length += 1

    cdef void _unlink(self, zsl_node *node, zsl_node **update) noexcept:
        cdef int i
        for i in range(self.level):
            if update[i].level[i].forward == node:
                update[i].level[i].span += node.level[i].span - 1
                update[i].level[i].forward = node.level[i].forward
            else:
                update[i].level[i].span -= 1
        if node.level[0].forward != NULL:
            node.level[0].forward.backward = node.backward
        else:
            self.tail = node.backward
        while self.level > 1 and self.header.level[self.level - 1].forward == NULL:
            self.level -= 1
        self.length -= 1

    def insert(self, double score, bytes member not None):
        """Add (score, member); the member must not be in the list."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef Py_ssize_t rank[MAX_LEVEL]
        cdef const char *m = PyBytes_AS_STRING(member)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(member)
        cdef uint32_t hash = <uint32_t>PyObject_Hash(member)
        cdef int level = _random_level()
        cdef zsl_node *node = _node_new(level, score, m, n, hash)
        try:
            self._add_position(node)
        except MemoryError:
            PyMem_Free(node)
            raise
        self._path(score, m, n, update, rank)
        self._link(node, level, update, rank)

    def delete(self, double score, bytes member not None):
        """Remove (score, member); False when it was not there."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef const char *m = PyBytes_AS_STRING(member)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(member)
        cdef zsl_node *node = self._path(score, m, n, update, NULL)
        if not _is(node, score, m, n):
            return False
        self._drop_position(node)
        self._unlink(node, update)
        PyMem_Free(node)
        return True

    def update(self, double score, bytes member not None, double new_score):
        """Move the present entry (score, member) to new_score."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef Py_ssize_t rank[MAX_LEVEL]
        cdef const char *m = PyBytes_AS_STRING(member)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(member)
        cdef zsl_node *node = self._path(score, m, n, update, NULL)
        if not _is(node, score, m, n):
            raise KeyError(member)
        cdef zsl_node *back = node.backward
        cdef zsl_node *nxt = node.level[0].forward
        # Still between its neighbours: the links stay as they are.
        if ((back == NULL or _before(back, new_score, m, n))
                and (nxt == NULL or not _before(nxt, new_score, m, n))):
            node.score = new_score
            return
        # Relinked where it now belongs; the node (and its position and slot) stay.
        self._unlink(node, update)
        node.score = new_score
        self._path(new_score, m, n, update, rank)
        self._link(node, node.height, update, rank)

    def delete_range(self, Py_ssize_t start, Py_ssize_t stop):
        """Remove the entries at ranks [start, stop); returns their members in order."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef zsl_node *x = self.header
        cdef zsl_node *nxt
        cdef Py_ssize_t traversed = 0, n
        cdef int i
        if start < 0:
            start = 0
        if stop > self.length:
            stop = self.length
        removed = []
        if start >= stop:
            return removed
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and traversed + x.level[i].span <= start:
                traversed += x.level[i].span
                x = x.level[i].forward
            update[i] = x
        x = x.level[0].forward
        for n in range(stop - start):
            nxt = x.level[0].forward
            removed.append(_member(x))
            self._drop_position(x)
            self._unlink(x, update)
            PyMem_Free(x)
            x = nxt
        return removed

    # -- reading -----------------------------------------------------------------

    def item(self, Py_ssize_t index):
        """(member, score) at 0-based rank `index`."""
        if index < 0 or index >= self.length:
            raise IndexError(index)
        cdef zsl_node *node = self._node_at(index)
        return _member(node), node.score

    def at_position(self, Py_ssize_t position):
        """(member, score) at `position` (0 <= position < len): positions are in
        insertion order, a delete moving the last one into the hole."""
        if position < 0 or position >= self.length:
            raise IndexError(position)
        cdef zsl_node *node = self.nodes[position]
        return _member(node), node.score

    cdef zsl_node *_first(self, Py_ssize_t start, Py_ssize_t stop, bint reverse) noexcept:
        if reverse:
            return self.tail if stop == self.length else self._node_at(stop - 1)
        return self.header.level[0].forward if start == 0 else self._node_at(start)

    def items(self, Py_ssize_t start, Py_ssize_t stop, bint reverse=False):
        """[(member, score)] for ranks [start, stop), descending with reverse=True."""
        if start < 0:
            start = 0
        if stop > self.length:
            stop = self.length
        out = []
        if start >= stop:
            return out
        cdef zsl_node *node = self._first(start, stop, reverse)
        cdef Py_ssize_t n
        for n in range(stop - start):
            out.append((_member(node), node.score))
            node = node.backward if reverse else node.level[0].forward
        return out

    def members(self, Py_ssize_t start, Py_ssize_t stop, bint reverse=False):
        """Like items() without the scores."""
        if start < 0:
            start = 0
        if stop > self.length:
            stop = self.length
        out = []
        if start >= stop:
            return out
        cdef zsl_node *node = self._first(start, stop, reverse)
        cdef Py_ssize_t n
        for n in range(stop - start):
            out.append(_member(node))
            node = node.backward if reverse else node.level[0].forward
        return out

    def append_within(self, double low, double high, ShapeFilter shape, Py_ssize_t limit,
                      list found):
        """Append (distance, score, member) to `found` for each entry
        with low <= score < high whose point is inside the shape (a geo search's cell),
        in order; stop once `found` holds `limit` (0: no limit). Only the points inside
        become Python objects."""
        cdef zsl_node *x = self.header
        cdef double dist = 0.0, lon = 0.0, lat = 0.0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and x.level[i].forward.score < low:
                x = x.level[i].forward
        x = x.level[0].forward
        while x != NULL and x.score < high:
            if shape.contains(x.score, &dist, &lon, &lat):
                found.append((dist, x.score, _member(x)))
                if limit and len(found) >= limit:
                    return
            x = x.level[0].forward

    def __iter__(self):
        # In chunks by rank: safe even if the list changes between chunks.
        cdef Py_ssize_t start = 0
        while start < self.length:
            chunk = self.items(start, start + 256)
            start += 256
            yield from chunk

    def copy(self):
        """An equal list (positions in rank order)."""
        cdef SkipList twin = SkipList()
        cdef zsl_node *update[MAX_LEVEL]
        cdef Py_ssize_t rank[MAX_LEVEL]
        cdef zsl_node *node = self.header.level[0].forward
        cdef zsl_node *copied
        cdef int i, level
        for i in range(MAX_LEVEL):
            update[i] = twin.header
            rank[i] = 0
        while node != NULL:
            # Appended at the tail: the last node of each level is where it links.
            level = _random_level()
            copied = _node_new(level, node.score, ZSL_MEMBER(node), node.size, node.hash)
            try:
                twin._add_position(copied)
            except MemoryError:
                PyMem_Free(copied)
                raise
            twin._link(copied, level, update, rank)
            for i in range(level):
                update[i] = copied
                rank[i] = twin.length
            node = node.level[0].forward
        return twin

    def validate(self):
        """Check every link, span, the order and the member index; raises AssertionError
        when broken."""
        cdef zsl_node *node
        cdef zsl_node *prev = NULL
        cdef zsl_node *x
        cdef Py_ssize_t count = 0, used = 0
        cdef size_t i
        cdef int level
        assert 1 <= self.level <= MAX_LEVEL
        for level in range(self.level, MAX_LEVEL):
            assert self.header.level[level].forward == NULL
        position = {}
        node = self.header.level[0].forward
        while node != NULL:
            assert node.backward == prev
            if prev != NULL:
                assert _before(prev, node.score, ZSL_MEMBER(node), node.size)
            count += 1
            position[<Py_ssize_t>node] = count
            # Indexed: at its position, found by its member, hashed as Python hashes bytes.
            assert node.position < self.length and self.nodes[node.position] == node
            assert node.hash == <uint32_t>_Py_HashBytes(ZSL_MEMBER(node), node.size)
            assert self._slot_of(ZSL_MEMBER(node), node.size, node.hash) >= 0
            prev = node
            node = node.level[0].forward
        assert self.tail == prev
        assert count == self.length
        if self.slots != NULL:
            for i in range(self.mask + 1):
                if self.slots[i] != EMPTY:
                    used += 1
                    node = self.nodes[<uint32_t>self.slots[i]]
                    assert <uint32_t>(self.slots[i] >> 32) == node.hash
            assert <size_t>used * 2 <= self.mask + 1
        assert used == self.length
        position[<Py_ssize_t>self.header] = 0
        for level in range(self.level):
            x = self.header
            while x.level[level].forward != NULL:
                assert (x.level[level].span ==
                        position[<Py_ssize_t>x.level[level].forward] - position[<Py_ssize_t>x])
                x = x.level[level].forward
        return True

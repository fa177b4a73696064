# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of server.skiplist.SkipList: same class, methods and results.

Nodes are C structs from PyMem_Malloc, sized for their level, each holding a
strong reference to its member bytes object; spans on every link give ranks
in O(log n). Members are compared as bytes (memcmp, then length).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject, Py_INCREF, Py_DECREF
from libc.string cimport memcmp

import os

cdef extern from *:
    """
    typedef struct zsl_node zsl_node;
    typedef struct { zsl_node *forward; Py_ssize_t span; } zsl_level;
    struct zsl_node {
        PyObject *member;
        double score;
        zsl_node *backward;
        zsl_level level[];
    };
    """
    ctypedef struct zsl_node
    ctypedef struct zsl_level:
        zsl_node *forward
        Py_ssize_t span
    ctypedef struct zsl_node:
        PyObject *member
        double score
        zsl_node *backward
        zsl_level level[1]

cdef enum:
    MAX_LEVEL = 32

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


cdef inline int _member_cmp(PyObject *a, PyObject *b) noexcept:
    """<0, 0, >0 as bytes compare: memcmp of the common prefix, then length."""
    cdef Py_ssize_t la = PyBytes_GET_SIZE(<object>a)
    cdef Py_ssize_t lb = PyBytes_GET_SIZE(<object>b)
    cdef int c = memcmp(PyBytes_AS_STRING(<object>a), PyBytes_AS_STRING(<object>b),
                        la if la < lb else lb)
    if c != 0:
        return c
    return (la > lb) - (la < lb)


cdef inline bint _before(zsl_node *x, double score, PyObject *member) noexcept:
    """True if node x sorts before (score, member)."""
    return x.score < score or (x.score == score and _member_cmp(x.member, member) < 0)


cdef zsl_node *_node_new(int level, double score, PyObject *member) except NULL:
    cdef zsl_node *node = <zsl_node*>PyMem_Malloc(sizeof(zsl_node) + level * sizeof(zsl_level))
    if node == NULL:
        raise MemoryError()
    node.member = member
    if member != NULL:
        Py_INCREF(<object>member)
    node.score = score
    node.backward = NULL
    cdef int i
    for i in range(level):
        node.level[i].forward = NULL
        node.level[i].span = 0
    return node


cdef inline void _node_free(zsl_node *node) noexcept:
    if node.member != NULL:
        Py_DECREF(<object>node.member)
    PyMem_Free(node)


cdef class SkipList:
    cdef zsl_node *header
    cdef zsl_node *tail
    cdef Py_ssize_t length
    cdef int level

    def __cinit__(self):
        self.header = _node_new(MAX_LEVEL, 0.0, NULL)
        self.tail = NULL
        self.length = 0
        self.level = 1

    def __dealloc__(self):
        cdef zsl_node *node
        cdef zsl_node *nxt
        if self.header == NULL:
            return
        node = self.header.level[0].forward
        while node != NULL:
            nxt = node.level[0].forward
            _node_free(node)
            node = nxt
        PyMem_Free(self.header)
        self.header = NULL

    def __len__(self):
        return self.length

    # -- search ------------------------------------------------------------------

    cdef zsl_node *_path(self, double score, PyObject *member, zsl_node **update,
                         Py_ssize_t *rank) noexcept:
        """Fill update/rank per level with the last node before (score, member);
        returns the node right after that position (maybe NULL)."""
        cdef zsl_node *x = self.header
        cdef Py_ssize_t traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while x.level[i].forward != NULL and _before(x.level[i].forward, score, member):
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

    def rank(self, double score, bytes member not None):
        """0-based rank of (score, member), -1 when it is not in the list."""
        cdef PyObject *m = <PyObject*>member
        cdef zsl_node *x = self.header
        cdef zsl_node *f
        cdef Py_ssize_t traversed = 0
        cdef int i
        for i in range(self.level - 1, -1, -1):
            while True:
                f = x.level[i].forward
                if f == NULL or f.score > score or (f.score == score and _member_cmp(f.member, m) > 0):
                    break
                traversed += x.level[i].span
                x = f
            if x != self.header and x.score == score and _member_cmp(x.member, m) == 0:
                return traversed - 1
        return -1

    def bisect_score(self, double score, bint right=False):
        """How many entries score < `score` (<= with right=True)."""
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
        cdef PyObject *m = <PyObject*>member
        cdef zsl_node *x = self.header
        cdef zsl_node *f
        cdef Py_ssize_t traversed = 0
        cdef int i, c
        for i in range(self.level - 1, -1, -1):
            while True:
                f = x.level[i].forward
                if f == NULL:
                    break
                c = _member_cmp(f.member, m)
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
        cdef PyObject *m = <PyObject*>member
        self._path(score, m, update, rank)
        cdef int level = _random_level()
        cdef zsl_node *node = _node_new(level, score, m)
        self._link(node, level, update, rank)

    def delete(self, double score, bytes member not None):
        """Remove (score, member); False when it was not there."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef PyObject *m = <PyObject*>member
        cdef zsl_node *node = self._path(score, m, update, NULL)
        if node == NULL or node.score != score or _member_cmp(node.member, m) != 0:
            return False
        self._unlink(node, update)
        _node_free(node)
        return True

    def update(self, double score, bytes member not None, double new_score):
        """Move the present entry (score, member) to new_score."""
        cdef zsl_node *update[MAX_LEVEL]
        cdef Py_ssize_t rank[MAX_LEVEL]
        cdef PyObject *m = <PyObject*>member
        cdef zsl_node *node = self._path(score, m, update, NULL)
        if node == NULL or node.score != score or _member_cmp(node.member, m) != 0:
            raise KeyError(member)
        cdef zsl_node *back = node.backward
        cdef zsl_node *nxt = node.level[0].forward
        # Still between its neighbours: the links stay as they are.
        if ((back == NULL or _before(back, new_score, m))
                and (nxt == NULL or not _before(nxt, new_score, m))):
            node.score = new_score
            return
        self._unlink(node, update)
        _node_free(node)
        self._path(new_score, m, update, rank)
        cdef int level = _random_level()
        node = _node_new(level, new_score, m)
        self._link(node, level, update, rank)

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
            self._unlink(x, update)
            removed.append(<object>x.member)
            _node_free(x)
            x = nxt
        return removed

    # -- reading -----------------------------------------------------------------

    def item(self, Py_ssize_t index):
        """(member, score) at 0-based rank `index`."""
        if index < 0 or index >= self.length:
            raise IndexError(index)
        cdef zsl_node *node = self._node_at(index)
        return <object>node.member, node.score

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
            out.append((<object>node.member, node.score))
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
            out.append(<object>node.member)
            node = node.backward if reverse else node.level[0].forward
        return out

    def __iter__(self):
        # In chunks by rank: safe even if the list changes between chunks.
        cdef Py_ssize_t start = 0
        while start < self.length:
            chunk = self.items(start, start + 256)
            start += 256
            yield from chunk

    def validate(self):
        """Check every link, span and the order; raises AssertionError when broken."""
        cdef zsl_node *node
        cdef zsl_node *prev = NULL
        cdef zsl_node *x
        cdef Py_ssize_t count = 0
        cdef int i
        assert 1 <= self.level <= MAX_LEVEL
        for i in range(self.level, MAX_LEVEL):
            assert self.header.level[i].forward == NULL
        position = {}
        node = self.header.level[0].forward
        while node != NULL:
            assert node.backward == prev
            if prev != NULL:
                assert _before(prev, node.score, node.member)
            count += 1
            position[<Py_ssize_t>node] = count
            prev = node
            node = node.level[0].forward
        assert self.tail == prev
        assert count == self.length
        position[<Py_ssize_t>self.header] = 0
        for i in range(self.level):
            x = self.header
            while x.level[i].forward != NULL:
                assert (x.level[i].span ==
                        position[<Py_ssize_t>x.level[i].forward] - position[<Py_ssize_t>x])
                x = x.level[i].forward
        return True

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of server.packlist: the same functions on the same bytes layout.

A packed list is a bytes object: a varint entry count, then per entry a
varint length and the entry's bytes (plus an 8-byte double for a scored
entry). Reads walk the entries in C; every write is one new bytes object
built with memcpy from the old one and the inserted strings. Arguments are
bytes; the lists only ever come from these functions.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcmp, memcpy


EMPTY = b"\x00"


# -- entry walking (the varints are in packlist.pxd) ----------------------------------------

cdef inline const uchar *_data(bytes buf) noexcept:
    return <const uchar *>PyBytes_AS_STRING(buf)


cdef inline Py_ssize_t _skip(const uchar *p, Py_ssize_t pos, Py_ssize_t entries, Py_ssize_t extra) noexcept:
    """The offset `entries` entries after pos (each entry followed by `extra` bytes)."""
    cdef Py_ssize_t size
    while entries > 0:
        size = _get_varint(p, &pos)
        pos += size + extra
        entries -= 1
    return pos


cdef inline int _compare(const uchar *a, Py_ssize_t la, const uchar *b, Py_ssize_t lb) noexcept:
    """Bytes order: memcmp over the common length, then the shorter first."""
    cdef int c = memcmp(a, b, la if la < lb else lb)
    if c:
        return c
    return (la > lb) - (la < lb)


cdef inline double _score_at(const uchar *p) noexcept:
    cdef double score
    memcpy(&score, p, 8)
    return score


cdef inline Py_ssize_t _clamp(Py_ssize_t i, Py_ssize_t n) noexcept:
    return 0 if i < 0 else (n if i > n else i)


cdef inline int _check_index(Py_ssize_t i, Py_ssize_t n) except -1:
    if i < 0 or i >= n:
        raise IndexError("packed list index out of range")
    return 0


cdef bytes _splice(bytes buf, Py_ssize_t new_count, Py_ssize_t start, Py_ssize_t end,
                   bytes first, bytes second, bint scored, double score):
    """A new list: count new_count, the old entries before offset start, then first
    (with score when scored) and second when given, then the old entries from end."""
    cdef const uchar *src = _data(buf)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t header = 0
    _get_varint(src, &header)
    cdef Py_ssize_t first_len = 0, second_len = 0
    cdef Py_ssize_t total = _varint_size(new_count) + (start - header) + (size - end)
    if first is not None:
        first_len = PyBytes_GET_SIZE(first)
        total += _varint_size(first_len) + first_len + (8 if scored else 0)
    if second is not None:
        second_len = PyBytes_GET_SIZE(second)
        total += _varint_size(second_len) + second_len
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t w = _put_varint(dst, new_count)
    memcpy(dst + w, src + header, start - header)
    w += start - header
    if first is not None:
        w += _put_varint(dst + w, first_len)
        memcpy(dst + w, PyBytes_AS_STRING(first), first_len)
        w += first_len
        if scored:
            memcpy(dst + w, &score, 8)
            w += 8
    if second is not None:
        w += _put_varint(dst + w, second_len)
        memcpy(dst + w, PyBytes_AS_STRING(second), second_len)
        w += second_len
    memcpy(dst + w, src + end, size - end)
    return out


# -- whole lists ------------------------------------------------------------------------------

def pack(items):
    """A packed list of the byte strings in items."""
    cdef list entries = items if type(items) is list else list(items)
    cdef Py_ssize_t n = len(entries), total = _varint_size(n), i, length
    cdef bytes entry
    for i in range(n):
        entry = entries[i]
        length = PyBytes_GET_SIZE(entry)
        total += _varint_size(length) + length
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t w = _put_varint(dst, n)
    for i in range(n):
        entry = entries[i]
        length = PyBytes_GET_SIZE(entry)
        w += _put_varint(dst + w, length)
        memcpy(dst + w, PyBytes_AS_STRING(entry), length)
        w += length
    return out


def unpack(bytes buf):
    """Every entry, as a list of bytes."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, size
    n = _get_varint(p, &pos)
    cdef list items = []
    while n > 0:
        size = _get_varint(p, &pos)
        items.append(PyBytes_FromStringAndSize(<const char *>p + pos, size))
        pos += size
        n -= 1
    return items


def count(bytes buf):
    cdef Py_ssize_t pos = 0
    return _get_varint(_data(buf), &pos)


# -- entries by index ---------------------------------------------------------------------------

def item(bytes buf, Py_ssize_t i):
    """Entry i (0 <= i < count)."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, size
    _check_index(i, _get_varint(p, &pos))
    pos = _skip(p, pos, i, 0)
    size = _get_varint(p, &pos)
    return PyBytes_FromStringAndSize(<const char *>p + pos, size)


cdef Py_ssize_t _index(bytes buf, bytes value, Py_ssize_t stride, Py_ssize_t *offset):
    """Index of the first entry at a multiple of stride equal to value, or -1; offset
    receives where that entry starts."""
    cdef const uchar *p = _data(buf)
    cdef const uchar *wanted = _data(value)
    cdef Py_ssize_t wanted_len = PyBytes_GET_SIZE(value)
    cdef Py_ssize_t pos = 0, n, i = 0, start, size
    n = _get_varint(p, &pos)
    while i < n:
        start = pos
        size = _get_varint(p, &pos)
        if size == wanted_len and memcmp(p + pos, wanted, size) == 0:
            offset[0] = start
            return i
        pos += size
        if stride > 1 and i + stride < n:
            pos = _skip(p, pos, stride - 1, 0)
        i += stride
    return -1


def index(bytes buf, bytes value, Py_ssize_t stride):
    """The first index i, a multiple of stride, whose entry equals value; -1 if none."""
    cdef Py_ssize_t offset
    return _index(buf, value, stride, &offset)


def append(bytes buf, bytes value):
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t n = _get_varint(_data(buf), &pos)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(buf)
    return _splice(buf, n + 1, size, size, value, None, False, 0.0)


def extend(bytes buf, list items):
    """With the byte strings of the list `items` appended, in one copy."""
    cdef const uchar *src = _data(buf)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t n = _get_varint(src, &pos), header = pos
    cdef Py_ssize_t size = PyBytes_GET_SIZE(buf), added = len(items), i, length
    cdef Py_ssize_t total = _varint_size(n + added) + size - header
    cdef bytes item
    for i in range(added):
        item = <bytes?>items[i]
        length = PyBytes_GET_SIZE(item)
        total += _varint_size(length) + length
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t w = _put_varint(dst, n + added)
    memcpy(dst + w, src + header, size - header)
    w += size - header
    for i in range(added):
        item = <bytes>items[i]
        length = PyBytes_GET_SIZE(item)
        w += _put_varint(dst + w, length)
        memcpy(dst + w, PyBytes_AS_STRING(item), length)
        w += length
    return out


def append_pair(bytes buf, bytes first, bytes second):
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t n = _get_varint(_data(buf), &pos)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(buf)
    return _splice(buf, n + 2, size, size, first, second, False, 0.0)


def replace(bytes buf, Py_ssize_t i, bytes value):
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, start
    n = _get_varint(p, &pos)
    _check_index(i, n)
    start = _skip(p, pos, i, 0)
    return _splice(buf, n, start, _skip(p, start, 1, 0), value, None, False, 0.0)


def delete(bytes buf, Py_ssize_t i, Py_ssize_t count):
    """Without entries [i, i + count)."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, start, stop
    n = _get_varint(p, &pos)
    stop = _clamp(i + count, n)
    i = _clamp(i, n)
    if stop <= i:
        return buf
    start = _skip(p, pos, i, 0)
    return _splice(buf, n - (stop - i), start, _skip(p, start, stop - i, 0), None, None, False, 0.0)


def swap_remove(bytes buf, Py_ssize_t i):
    """Without entry i: the last entry takes its place."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t pos = 0, n, header, start, end, last
    n = _get_varint(p, &pos)
    _check_index(i, n)
    header = pos
    start = _skip(p, header, i, 0)
    end = _skip(p, start, 1, 0)
    if i == n - 1:
        return _splice(buf, n - 1, start, end, None, None, False, 0.0)
    last = _skip(p, end, n - 2 - i, 0)
    cdef Py_ssize_t total = _varint_size(n - 1) + (start - header) + (size - last) + (last - end)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t w = _put_varint(dst, n - 1)
    memcpy(dst + w, p + header, start - header)
    w += start - header
    memcpy(dst + w, p + last, size - last)
    w += size - last
    memcpy(dst + w, p + end, last - end)
    return out


# -- field/value pairs (hashes) -------------------------------------------------------------------

def pair_get(bytes buf, bytes field):
    """The entry after the field entry equal to field (fields at even indexes); None if absent."""
    cdef Py_ssize_t offset, size
    if _index(buf, field, 2, &offset) < 0:
        return None
    cdef const uchar *p = _data(buf)
    offset = _skip(p, offset, 1, 0)
    size = _get_varint(p, &offset)
    return PyBytes_FromStringAndSize(<const char *>p + offset, size)


def pair_set(bytes buf, bytes field, bytes value):
    """(new list, created): value stored after field, replacing in place or appended."""
    cdef Py_ssize_t offset, start, size = PyBytes_GET_SIZE(buf), pos = 0, n
    cdef const uchar *p = _data(buf)
    n = _get_varint(p, &pos)
    if _index(buf, field, 2, &offset) < 0:
        return _splice(buf, n + 2, size, size, field, value, False, 0.0), True
    start = _skip(p, offset, 1, 0)
    pos = start
    cdef Py_ssize_t old_len = _get_varint(p, &pos)
    if old_len == PyBytes_GET_SIZE(value) and memcmp(p + pos, _data(value), old_len) == 0:
        return buf, False                   # the same value: nothing to rebuild
    return _splice(buf, n, start, _skip(p, start, 1, 0), value, None, False, 0.0), False


def pair_delete(bytes buf, bytes field):
    """The list without field and its value; None when field is absent."""
    cdef Py_ssize_t offset, pos = 0, n
    cdef const uchar *p = _data(buf)
    n = _get_varint(p, &pos)
    if _index(buf, field, 2, &offset) < 0:
        return None
    return _splice(buf, n - 2, offset, _skip(p, offset, 2, 0), None, None, False, 0.0)


# -- scored entries (sorted sets, kept in (score, member) order) -------------------------------------

def zpack(pairs):
    """A packed list of (member, score) pairs, in the order given."""
    cdef list entries = pairs if type(pairs) is list else list(pairs)
    cdef Py_ssize_t n = len(entries), total = _varint_size(n), i, length
    cdef bytes member
    cdef double score
    for i in range(n):
        member = entries[i][0]
        length = PyBytes_GET_SIZE(member)
        total += _varint_size(length) + length + 8
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t w = _put_varint(dst, n)
    for i in range(n):
        member, score = entries[i]
        length = PyBytes_GET_SIZE(member)
        w += _put_varint(dst + w, length)
        memcpy(dst + w, PyBytes_AS_STRING(member), length)
        w += length
        memcpy(dst + w, &score, 8)
        w += 8
    return out


def zunpack(bytes buf):
    """(members, scores): two lists."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, size
    n = _get_varint(p, &pos)
    cdef list members = [], scores = []
    while n > 0:
        size = _get_varint(p, &pos)
        members.append(PyBytes_FromStringAndSize(<const char *>p + pos, size))
        pos += size
        scores.append(_score_at(p + pos))
        pos += 8
        n -= 1
    return members, scores


cdef Py_ssize_t _zfind(bytes buf, bytes member, Py_ssize_t *offset):
    """Position of member, or -1; offset receives where its entry starts."""
    cdef const uchar *p = _data(buf)
    cdef const uchar *wanted = _data(member)
    cdef Py_ssize_t wanted_len = PyBytes_GET_SIZE(member)
    cdef Py_ssize_t pos = 0, n, i, start, size
    n = _get_varint(p, &pos)
    for i in range(n):
        start = pos
        size = _get_varint(p, &pos)
        if size == wanted_len and memcmp(p + pos, wanted, size) == 0:
            offset[0] = start
            return i
        pos += size + 8
    return -1


def zrank(bytes buf, bytes member):
    """The 0-based position of member; -1 if absent."""
    cdef Py_ssize_t offset
    return _zfind(buf, member, &offset)


def zscore(bytes buf, bytes member):
    """The score of member; None if absent."""
    cdef Py_ssize_t offset, size
    if _zfind(buf, member, &offset) < 0:
        return None
    cdef const uchar *p = _data(buf)
    size = _get_varint(p, &offset)
    return _score_at(p + offset + size)


def zscore_at(bytes buf, Py_ssize_t i):
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, size
    _check_index(i, _get_varint(p, &pos))
    pos = _skip(p, pos, i, 8)
    size = _get_varint(p, &pos)
    return _score_at(p + pos + size)


def zinsert(bytes buf, bytes member, double score):
    """With (member, score) at its place in (score, member) order; member must be absent."""
    cdef const uchar *p = _data(buf)
    cdef const uchar *m = _data(member)
    cdef Py_ssize_t m_len = PyBytes_GET_SIZE(member)
    cdef Py_ssize_t pos = 0, n, i, start, size
    cdef double current
    n = _get_varint(p, &pos)
    for i in range(n):
        start = pos
        size = _get_varint(p, &pos)
        current = _score_at(p + pos + size)
        if current > score or (current == score and _compare(p + pos, size, m, m_len) > 0):
            return _splice(buf, n + 1, start, start, member, None, True, score)
        pos += size + 8
    return _splice(buf, n + 1, pos, pos, member, None, True, score)


def zremove(bytes buf, bytes member):
    """Without member; None when it is absent."""
    cdef Py_ssize_t offset, pos = 0, n
    cdef const uchar *p = _data(buf)
    n = _get_varint(p, &pos)
    if _zfind(buf, member, &offset) < 0:
        return None
    return _splice(buf, n - 1, offset, _skip(p, offset, 1, 8), None, None, False, 0.0)


def zdelete(bytes buf, Py_ssize_t start, Py_ssize_t stop):
    """Without the entries at positions [start, stop)."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, begin
    n = _get_varint(p, &pos)
    start = _clamp(start, n)
    stop = _clamp(stop, n)
    if stop <= start:
        return buf
    begin = _skip(p, pos, start, 8)
    return _splice(buf, n - (stop - start), begin, _skip(p, begin, stop - start, 8),
                   None, None, False, 0.0)


def zbisect_score(bytes buf, double score, bint right):
    """How many leading entries score below score (at most score with right)."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, i, size
    cdef double current
    n = _get_varint(p, &pos)
    for i in range(n):
        size = _get_varint(p, &pos)
        current = _score_at(p + pos + size)
        if (current > score) if right else (current >= score):
            return i
        pos += size + 8
    return n


def zbisect_member(bytes buf, bytes member, bint right):
    """How many leading members sort below member (at most member with right): a
    bisection when the members are in order, as they are when all scores are equal."""
    cdef const uchar *p = _data(buf)
    cdef const uchar *m = _data(member)
    cdef Py_ssize_t m_len = PyBytes_GET_SIZE(member)
    cdef Py_ssize_t pos = 0, n, i, size
    cdef int c
    n = _get_varint(p, &pos)
    for i in range(n):
        size = _get_varint(p, &pos)
        c = _compare(p + pos, size, m, m_len)
        if (c > 0) if right else (c >= 0):
            return i
        pos += size + 8
    return n


def zitems(bytes buf, Py_ssize_t start, Py_ssize_t stop):
    """[(member, score)] for positions [start, stop)."""
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, size
    n = _get_varint(p, &pos)
    start = _clamp(start, n)
    stop = _clamp(stop, n)
    pos = _skip(p, pos, start, 8)
    cdef list out = []
    while start < stop:
        size = _get_varint(p, &pos)
        out.append((PyBytes_FromStringAndSize(<const char *>p + pos, size), _score_at(p + pos + size)))
        pos += size + 8
        start += 1
    return out


def zmembers(bytes buf, Py_ssize_t start, Py_ssize_t stop):
    cdef const uchar *p = _data(buf)
    cdef Py_ssize_t pos = 0, n, size
    n = _get_varint(p, &pos)
    start = _clamp(start, n)
    stop = _clamp(stop, n)
    pos = _skip(p, pos, start, 8)
    cdef list out = []
    while start < stop:
        size = _get_varint(p, &pos)
        out.append(PyBytes_FromStringAndSize(<const char *>p + pos, size))
        pos += size + 8
        start += 1
    return out

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of the listpack code in persistence/rdb_values.py, for small aggregates.

Converts between Redis listpacks (what an RDB file holds for small hashes, sorted
sets and list nodes) and the packed lists the values keep in memory
(server/values/packlist.py), each in one pass in C instead of entry by entry in
Python. The pure-Python twin is the entry-by-entry code of persistence/rdb_values.py
(build_listpack, parse_listpack, _pairs, _quicklist_nodes ...), which runs under
PYREDIS_PURE=1; both give the same bytes and the same values.

    packed_listpack(buf)          a packed list's entries as a listpack
    zpacked_listpack(buf)         a packed sorted set as the listpack of member, score ...
    items_listpack(items)         a list of byte strings as a listpack
    quicklist_nodes(items, fill)  [(container, blob)]: the nodes RPUSH would build
    listpack_packed(blob, pairs)  a listpack, checked, as a packed list of its entries as
                                  bytes (pairs: an even count and distinct names)
    listpack_items(blob)          a listpack, checked, as a list of its entries as bytes
    listpack_zpacked(blob, max_entries, parse_text)
                                  a sorted-set listpack, checked, as a packed sorted set
                                  (or as [(member, score)] past max_entries)

A corrupt input raises Corrupt("integrity") (anything parse_listpack or _pairs
refuses) or Corrupt("nan") (a NaN score), for the caller to word as rdb_values does.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from libc.stdlib cimport malloc, realloc, free, qsort
from libc.string cimport memcmp, memcpy
from libc.stdio cimport snprintf

from native.packlist cimport uchar, _get_varint, _put_varint, _varint_size

cdef extern from "math.h":
    bint isinf(double x) nogil

DEF LISTPACK_MAX_COUNT = 65535
DEF PACKED_THRESHOLD = 1 << 30
DEF QUICKLIST_SAFETY_LIMIT = 8192
DEF QUICKLIST_ENTRY_OVERHEAD = 8
DEF QUICKLIST_FILL_MAX = (1 << 15) - 1
DEF QUICKLIST_PLAIN = 1
DEF QUICKLIST_PACKED = 2


class Corrupt(Exception):
    """A listpack (or its pairs) refused: args[0] is "integrity" or "nan"."""


# -- integers as string2ll reads them --------------------------------------------------------

cdef inline bint _parse_ll(const uchar *s, Py_ssize_t n, long long *out) noexcept:
    cdef Py_ssize_t i = 0
    cdef bint negative = False
    cdef unsigned long long v = 0, d
    if n <= 0 or n > 20:
        return False
    if s[0] == 45:           # '-'
        negative = True
        i = 1
        if n == 1:
            return False
    if s[i] == 48:           # '0': only "0" itself
        if n - i != 1 or negative:
            return False
        out[0] = 0
        return True
    while i < n:
        d = s[i] - 48
        if d > 9:
            return False
        if v > (18446744073709551615ULL - d) // 10:
            return False
        v = v * 10 + d
        i += 1
    if negative:
        if v > 9223372036854775808ULL:
            return False
        out[0] = <long long>(0 - v)
    else:
        if v > 9223372036854775807ULL:
            return False
        out[0] = <long long>v
    return True


cdef inline Py_ssize_t _format_ll(char *buf, long long v) noexcept:
    return snprintf(buf, 24, "%lld", v)


# -- listpack entries --------------------------------------------------------------------------

cdef inline Py_ssize_t _backlen_size(Py_ssize_t n) noexcept:
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


cdef inline Py_ssize_t _put_backlen(uchar *p, Py_ssize_t n) noexcept:
    cdef Py_ssize_t size = _backlen_size(n), i
    # the first byte holds the highest bits; every byte but the first has bit 7 set
    for i in range(size):
        p[i] = <uchar>((n >> (7 * (size - 1 - i))) & 127)
        if i:
            p[i] |= 128
    return size


cdef inline Py_ssize_t _int_size(long long v) noexcept:
    if 0 <= v <= 127:
        return 1
    if -4096 <= v <= 4095:
        return 2
    if -32768 <= v <= 32767:
        return 3
    if -8388608 <= v <= 8388607:
        return 4
    if -2147483648 <= v <= 2147483647:
        return 5
    return 9


cdef inline Py_ssize_t _put_int(uchar *p, long long v) noexcept:
    cdef unsigned long long u = <unsigned long long>v
    cdef Py_ssize_t size = _int_size(v), i
    if size == 1:
        p[0] = <uchar>v
        return 1
    if size == 2:
        u &= 0x1FFF
        p[0] = <uchar>(0xC0 | (u >> 8))
        p[1] = <uchar>(u & 0xFF)
        return 2
    p[0] = <uchar>(0xF1 + (size == 4) + 2 * (size == 5) + 3 * (size == 9))
    for i in range(1, size):
        p[i] = <uchar>(u & 0xFF)
        u >>= 8
    return size


cdef inline Py_ssize_t _string_head(Py_ssize_t n) noexcept:
    if n < 64:
        return 1
    if n < 4096:
        return 2
    return 5


cdef inline Py_ssize_t _entry_size(const uchar *s, Py_ssize_t n) noexcept:
    """The bytes of the listpack entry for s, back length included."""
    cdef long long v
    cdef Py_ssize_t encoded
    if _parse_ll(s, n, &v):
        encoded = _int_size(v)
    else:
        encoded = _string_head(n) + n
    return encoded + _backlen_size(encoded)


cdef inline Py_ssize_t _put_entry(uchar *p, const uchar *s, Py_ssize_t n) noexcept:
    cdef long long v
    cdef Py_ssize_t encoded
    if _parse_ll(s, n, &v):
        encoded = _put_int(p, v)
    else:
        if n < 64:
            p[0] = <uchar>(0x80 | n)
            encoded = 1
        elif n < 4096:
            p[0] = <uchar>(0xE0 | (n >> 8))
            p[1] = <uchar>(n & 0xFF)
            encoded = 2
        else:
            p[0] = 0xF0
            p[1] = <uchar>(n & 0xFF)
            p[2] = <uchar>((n >> 8) & 0xFF)
            p[3] = <uchar>((n >> 16) & 0xFF)
            p[4] = <uchar>((n >> 24) & 0xFF)
            encoded = 5
        memcpy(p + encoded, s, n)
        encoded += n
    return encoded + _put_backlen(p + encoded, encoded)


cdef inline void _put_header(uchar *p, Py_ssize_t total, Py_ssize_t count) noexcept:
    p[0] = <uchar>(total & 0xFF)
    p[1] = <uchar>((total >> 8) & 0xFF)
    p[2] = <uchar>((total >> 16) & 0xFF)
    p[3] = <uchar>((total >> 24) & 0xFF)
    if count > LISTPACK_MAX_COUNT:
        count = LISTPACK_MAX_COUNT
    p[4] = <uchar>(count & 0xFF)
    p[5] = <uchar>(count >> 8)


# -- packed lists (server/values/packlist.py's layout) -------------------------------------------



def packed_listpack(bytes buf):
    """The entries of a packed list (a hash's field, value ... or a set's members) as a listpack."""
    cdef const uchar *src = <const uchar *>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t pos = 0, count = _get_varint(src, &pos), start = pos, i, n
    cdef Py_ssize_t total = 7
    for i in range(count):
        n = _get_varint(src, &pos)
        total += _entry_size(src + pos, n)
        pos += n
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    _put_header(dst, total, count)
    cdef Py_ssize_t w = 6
    pos = start
    for i in range(count):
        n = _get_varint(src, &pos)
        w += _put_entry(dst + w, src + pos, n)
        pos += n
    dst[w] = 0xFF
    return out


cdef inline Py_ssize_t _score_text(char *buf, double score, long long *as_int) noexcept:
    """A score as zzlInsertAt stores it (rdb_values._score_entry): -1 with *as_int set
    for an integer entry, else the length of its text in buf."""
    if isinf(score):
        if score > 0:
            memcpy(buf, b"inf", 3)
            return 3
        memcpy(buf, b"-inf", 4)
        return 4
    if -4611686018427387903.0 <= score <= 4611686018427387903.0 and score == <double>(<long long>score):
        as_int[0] = <long long>score
        return -1
    return snprintf(buf, 40, "%.17g", score)


def zpacked_listpack(bytes buf):
    """A packed sorted set (member, score ... in order) as the listpack of member, score ..."""
    cdef const uchar *src = <const uchar *>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t pos = 0, count = _get_varint(src, &pos), start = pos, i, n, t
    cdef Py_ssize_t total = 7, encoded
    cdef double score
    cdef long long v
    cdef char text[48]
    for i in range(count):
        n = _get_varint(src, &pos)
        total += _entry_size(src + pos, n)
        pos += n
        memcpy(&score, src + pos, 8)
        pos += 8
        t = _score_text(text, score, &v)
        if t < 0:
            encoded = _int_size(v)
            total += encoded + _backlen_size(encoded)
        else:
            total += _entry_size(<uchar *>text, t)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    _put_header(dst, total, 2 * count)
    cdef Py_ssize_t w = 6
    pos = start
    for i in range(count):
        n = _get_varint(src, &pos)
        w += _put_entry(dst + w, src + pos, n)
        pos += n
        memcpy(&score, src + pos, 8)
        pos += 8
        t = _score_text(text, score, &v)
        if t < 0:
            encoded = _put_int(dst + w, v)
            w += encoded
            w += _put_backlen(dst + w, encoded)
        else:
            w += _put_entry(dst + w, <uchar *>text, t)
    dst[w] = 0xFF
    return out


cdef bytes _listpack_of(list items, Py_ssize_t start, Py_ssize_t stop, Py_ssize_t body):
    """The listpack of items[start:stop] (bytes each), whose entries take `body` bytes."""
    cdef Py_ssize_t total = body + 7, i
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    cdef bytes item
    _put_header(dst, total, stop - start)
    cdef Py_ssize_t w = 6
    for i in range(start, stop):
        item = <bytes>items[i]
        w += _put_entry(dst + w, <const uchar *>PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
    dst[w] = 0xFF
    return out


cdef list _as_bytes_list(items):
    cdef list out = list(items)
    cdef Py_ssize_t i
    for i in range(len(out)):
        if type(out[i]) is not bytes:
            out[i] = bytes(out[i])
    return out


def items_listpack(items):
    """A listpack of byte strings."""
    cdef list entries = _as_bytes_list(items)
    cdef Py_ssize_t body = 0, i
    cdef bytes item
    for i in range(len(entries)):
        item = <bytes>entries[i]
        body += _entry_size(<const uchar *>PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
    return _listpack_of(entries, 0, len(entries), body)


cdef Py_ssize_t[5] _SIZE_LEVELS = [4096, 8192, 16384, 32768, 65536]


def quicklist_nodes(items, long long fill):
    """The nodes a quicklist holds after RPUSHing the byte strings one by one, as
    (container, blob) pairs: (2, listpack) or (1, the element itself)."""
    cdef list elements = _as_bytes_list(items)
    cdef list nodes = []
    cdef Py_ssize_t count = len(elements), i, n, entry, size_limit = -1
    cdef Py_ssize_t node_start = 0, node_entries = 0, node_bytes = 0, estimate
    cdef bint open_node = False, fits
    cdef bytes element
    if fill < -5:
        fill = -5
    if fill > QUICKLIST_FILL_MAX:
        fill = QUICKLIST_FILL_MAX
    if fill < 0:
        size_limit = _SIZE_LEVELS[-fill - 1]
    for i in range(count):
        element = <bytes>elements[i]
        n = PyBytes_GET_SIZE(element)
        if n >= PACKED_THRESHOLD:
            if open_node:
                nodes.append((QUICKLIST_PACKED, _listpack_of(elements, node_start, i, node_bytes - 7)))
                open_node = False
            nodes.append((QUICKLIST_PLAIN, element))
            continue
        fits = False
        if open_node:
            estimate = node_bytes + n + QUICKLIST_ENTRY_OVERHEAD
            if size_limit >= 0 and estimate <= size_limit:
                fits = True
            elif estimate > QUICKLIST_SAFETY_LIMIT:
                fits = False
            else:
                fits = node_entries < fill
        if not open_node or not fits:
            if open_node:
                nodes.append((QUICKLIST_PACKED, _listpack_of(elements, node_start, i, node_bytes - 7)))
            open_node = True
            node_start = i
            node_entries = 0
            node_bytes = 7
        entry = _entry_size(<const uchar *>PyBytes_AS_STRING(element), n)
        node_entries += 1
        node_bytes += entry
    if open_node:
        nodes.append((QUICKLIST_PACKED, _listpack_of(elements, node_start, count, node_bytes - 7)))
    return nodes


# -- parsing listpacks (rdb_values.parse_listpack, entry for entry) -------------------------------

ctypedef struct Entry:
    const uchar *ptr        # the entry's bytes (into the blob, or into text)
    Py_ssize_t len
    bint is_int
    long long value
    char text[24]           # an integer entry's decimal text
    double score


cdef struct Parsed:
    Entry *entries
    Py_ssize_t count
    Py_ssize_t capacity


cdef inline long long _decode_backlen(const uchar *blob, Py_ssize_t p) noexcept:
    cdef long long value = 0
    cdef int shift = 0
    cdef uchar byte
    while True:
        byte = blob[p]
        value |= (<long long>(byte & 127)) << shift
        if not byte & 128:
            return value
        shift += 7
        p -= 1
        if shift > 28:
            return -1 << 40


cdef inline unsigned long long _le(const uchar *p, Py_ssize_t n) noexcept:
    cdef unsigned long long v = 0
    cdef Py_ssize_t i
    for i in range(n - 1, -1, -1):
        v = (v << 8) | p[i]
    return v


cdef int _parse(const uchar *blob, Py_ssize_t size, Parsed *out) except -1:
    """Every entry of the listpack into out (grown with realloc); Corrupt on any fault."""
    cdef Py_ssize_t last, p, head, data_len, entry_len, end, declared, i
    cdef uchar b
    cdef Entry *e
    cdef Entry *grown
    cdef long long v
    cdef unsigned long long u
    if size < 7 or <Py_ssize_t>_le(blob, 4) != size or blob[size - 1] != 0xFF:
        raise Corrupt("integrity")
    declared = blob[4] | (blob[5] << 8)
    last = size - 1
    p = 6
    while blob[p] != 0xFF:
        b = blob[p]
        if b < 0x80:
            head = 1; data_len = 0
        elif b < 0xC0:
            head = 1; data_len = b & 0x3F
        elif b < 0xE0:
            head = 1; data_len = 1
        elif b < 0xF0:
            if p + 2 > last:
                raise Corrupt("integrity")
            head = 2; data_len = ((b & 0x0F) << 8) | blob[p + 1]
        elif b == 0xF0:
            if p + 5 > last:
                raise Corrupt("integrity")
            head = 5; data_len = <Py_ssize_t>_le(blob + p + 1, 4)
        elif b <= 0xF4:
            head = 1
            data_len = 2 if b == 0xF1 else 3 if b == 0xF2 else 4 if b == 0xF3 else 8
        else:
            raise Corrupt("integrity")
        entry_len = head + data_len
        end = p + entry_len + _backlen_size(entry_len)
        if end > last:
            raise Corrupt("integrity")
        if _decode_backlen(blob, end - 1) != entry_len:
            raise Corrupt("integrity")
        if out.count == out.capacity:
            out.capacity = out.capacity * 2 if out.capacity else 16
            grown = <Entry *>realloc(out.entries, out.capacity * sizeof(Entry))
            if grown == NULL:
                raise MemoryError()
            out.entries = grown
        e = &out.entries[out.count]
        out.count += 1
        if (0x80 <= b < 0xC0) or (0xE0 <= b <= 0xF0):
            e.is_int = False
            e.ptr = blob + p + head
            e.len = data_len
        else:
            e.is_int = True
            if b < 0x80:
                v = b
            elif b < 0xE0:
                v = ((b & 0x1F) << 8) | blob[p + 1]
                if v >= 4096:
                    v -= 8192
            else:
                u = _le(blob + p + 1, data_len)
                if data_len < 8 and u >> (8 * data_len - 1):
                    u |= ~0ULL << (8 * data_len)        # sign extension
                v = <long long>u
            e.value = v
            e.len = _format_ll(e.text, v)
        p = end
    if p != last:
        raise Corrupt("integrity")
    if declared != LISTPACK_MAX_COUNT and declared != out.count:
        raise Corrupt("integrity")
    for i in range(out.count):           # text pointers, now that the array stays put
        if out.entries[i].is_int:
            out.entries[i].ptr = <const uchar *>out.entries[i].text
    return 0


ctypedef struct Name:
    const uchar *ptr
    Py_ssize_t len


cdef int _compare_names(const void *a, const void *b) noexcept nogil:
    cdef const Name *x = <const Name *>a
    cdef const Name *y = <const Name *>b
    cdef Py_ssize_t n = x.len if x.len < y.len else y.len
    cdef int c = memcmp(x.ptr, y.ptr, n)
    if c:
        return c
    return (x.len > y.len) - (x.len < y.len)


cdef int _check_pairs(Parsed *parsed) except -1:
    """rdb_values._pairs: an even number of entries, no name twice."""
    cdef Py_ssize_t n, i, j
    cdef Entry *entries = parsed.entries
    cdef Name *names
    if parsed.count % 2:
        raise Corrupt("integrity")
    n = parsed.count // 2
    if n <= 16:
        for i in range(n):
            for j in range(i):
                if (entries[2 * i].len == entries[2 * j].len
                        and memcmp(entries[2 * i].ptr, entries[2 * j].ptr, entries[2 * i].len) == 0):
                    raise Corrupt("integrity")
        return 0
    names = <Name *>malloc(n * sizeof(Name))
    if names == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            names[i].ptr = entries[2 * i].ptr
            names[i].len = entries[2 * i].len
        qsort(names, n, sizeof(Name), _compare_names)
        for i in range(1, n):
            if _compare_names(&names[i - 1], &names[i]) == 0:
                raise Corrupt("integrity")
    finally:
        free(names)
    return 0


cdef inline const uchar *_buffer(object blob, Py_buffer *view) except NULL:
    PyObject_GetBuffer(blob, view, PyBUF_SIMPLE)
    return <const uchar *>view.buf


def listpack_packed(blob, bint pairs):
    """A listpack's entries (integers as decimal text) as a packed list; with pairs, the
    entry count must be even and no name (even entry) may repeat."""
    cdef Py_buffer view
    cdef Parsed parsed
    cdef const uchar *data = _buffer(blob, &view)
    cdef Py_ssize_t total, i, w
    cdef bytes out
    cdef uchar *dst
    parsed.entries = NULL
    parsed.count = parsed.capacity = 0
    try:
        _parse(data, view.len, &parsed)
        if pairs:
            _check_pairs(&parsed)
        total = _varint_size(parsed.count)
        for i in range(parsed.count):
            total += _varint_size(parsed.entries[i].len) + parsed.entries[i].len
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = <uchar *>PyBytes_AS_STRING(out)
        w = _put_varint(dst, parsed.count)
        for i in range(parsed.count):
            w += _put_varint(dst + w, parsed.entries[i].len)
            memcpy(dst + w, parsed.entries[i].ptr, parsed.entries[i].len)
            w += parsed.entries[i].len
        return out
    finally:
        free(parsed.entries)
        PyBuffer_Release(&view)


def listpack_items(blob):
    """A listpack's entries as a list of bytes (integers as decimal text)."""
    cdef Py_buffer view
    cdef Parsed parsed
    cdef const uchar *data = _buffer(blob, &view)
    cdef Py_ssize_t i
    cdef list out
    parsed.entries = NULL
    parsed.count = parsed.capacity = 0
    try:
        _parse(data, view.len, &parsed)
        out = [None] * parsed.count
        for i in range(parsed.count):
            out[i] = PyBytes_FromStringAndSize(<const char *>parsed.entries[i].ptr, parsed.entries[i].len)
        return out
    finally:
        free(parsed.entries)
        PyBuffer_Release(&view)


cdef int _compare_scored(const void *a, const void *b) noexcept nogil:
    """(score, member) order, as SortedSet.build sorts."""
    cdef const Entry *x = (<Entry **>a)[0]
    cdef const Entry *y = (<Entry **>b)[0]
    if x.score < y.score:
        return -1
    if x.score > y.score:
        return 1
    cdef Py_ssize_t n = x.len if x.len < y.len else y.len
    cdef int c = memcmp(x.ptr, y.ptr, n)
    if c:
        return c
    return (x.len > y.len) - (x.len < y.len)


def listpack_zpacked(blob, Py_ssize_t max_entries, parse_text):
    """A sorted set's listpack (member, score ...), checked, as a packed sorted set in
    (score, member) order; [(member, score)] in listpack order when it has more than
    max_entries members. parse_text(text) is the score of a text score entry."""
    cdef Py_buffer view
    cdef Parsed parsed
    cdef const uchar *data = _buffer(blob, &view)
    cdef Py_ssize_t n, i, total, w
    cdef Entry *member
    cdef Entry *score
    cdef Entry **order = NULL
    cdef double value
    cdef bytes out
    cdef uchar *dst
    cdef list pairs
    parsed.entries = NULL
    parsed.count = parsed.capacity = 0
    try:
        _parse(data, view.len, &parsed)
        _check_pairs(&parsed)
        n = parsed.count // 2
        for i in range(n):
            member = &parsed.entries[2 * i]
            score = &parsed.entries[2 * i + 1]
            if score.is_int:
                value = <double>score.value
            else:
                value = parse_text(PyBytes_FromStringAndSize(<const char *>score.ptr, score.len))
            if value != value:
                raise Corrupt("nan")
            member.score = value
        if n > max_entries:
            pairs = [None] * n
            for i in range(n):
                member = &parsed.entries[2 * i]
                pairs[i] = (PyBytes_FromStringAndSize(<const char *>member.ptr, member.len), member.score)
            return pairs
        order = <Entry **>malloc((n if n else 1) * sizeof(Entry *))
        if order == NULL:
            raise MemoryError()
        for i in range(n):
            order[i] = &parsed.entries[2 * i]
        qsort(order, n, sizeof(Entry *), _compare_scored)
        total = _varint_size(n)
        for i in range(n):
            total += _varint_size(order[i].len) + order[i].len + 8
        out = PyBytes_FromStringAndSize(NULL, total)
        dst = <uchar *>PyBytes_AS_STRING(out)
        w = _put_varint(dst, n)
        for i in range(n):
            w += _put_varint(dst + w, order[i].len)
            memcpy(dst + w, order[i].ptr, order[i].len)
            w += order[i].len
            value = order[i].score + 0.0          # no -0 in a listpack
            memcpy(dst + w, &value, 8)
            w += 8
        return out
    finally:
        free(order)
        free(parsed.entries)
        PyBuffer_Release(&view)


# -- RDB strings (rdb_values.write_string and Reader.string) ---------------------------------------

cimport native.lzf as lzf
from libc.stdint cimport uint64_t
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize


cdef inline uchar *_grow(bytearray out, Py_ssize_t start, Py_ssize_t extra) except NULL:
    """Room for `extra` bytes after out[:start]; where they start."""
    PyByteArray_Resize(out, start + extra)
    return <uchar *>PyByteArray_AS_STRING(out) + start

cdef inline Py_ssize_t _put_length(uchar *p, size_t n) noexcept:
    """rdb_values.write_length into p (at most 9 bytes)."""
    cdef int i
    if n < (1 << 6):
        p[0] = <uchar>n
        return 1
    if n < (1 << 14):
        p[0] = <uchar>(0x40 | (n >> 8))
        p[1] = <uchar>(n & 0xFF)
        return 2
    if n <= 0xFFFFFFFF:
        p[0] = 0x80
        for i in range(4):
            p[1 + i] = <uchar>((n >> (8 * (3 - i))) & 0xFF)
        return 5
    p[0] = 0x81
    for i in range(8):
        p[1 + i] = <uchar>((n >> (8 * (7 - i))) & 0xFF)
    return 9


cdef int _write_string(bytearray out, const uchar *s, Py_ssize_t n, bint compress) except -1:
    """rdb_values.write_string: integer (8/16/32-bit), LZF, or raw."""
    cdef long long v
    cdef Py_ssize_t start = PyByteArray_GET_SIZE(out), w, written, i
    cdef uchar *p
    cdef uint64_t base
    if n <= 11 and _parse_ll(s, n, &v) and -2147483648 <= v <= 2147483647:
        p = _grow(out, start, 5)
        if -128 <= v <= 127:
            p[0] = 0xC0
            p[1] = <uchar>(v & 0xFF)
            w = 2
        elif -32768 <= v <= 32767:
            p[0] = 0xC1
            p[1] = <uchar>(v & 0xFF)
            p[2] = <uchar>((v >> 8) & 0xFF)
            w = 3
        else:
            p[0] = 0xC2
            for i in range(4):
                p[1 + i] = <uchar>((v >> (8 * i)) & 0xFF)
            w = 5
        PyByteArray_Resize(out, start + w)
        return 0
    if compress and n > 20:
        # room for the header (1 + 2 lengths) and at most n - 4 compressed bytes
        p = _grow(out, start, 19 + n)
        base = lzf.table_base
        lzf.table_base += <uint64_t>n + 1
        written = lzf._compress(s, n, p + 19, n - 4, base)
        if written:
            p[0] = 0xC3
            w = 1 + _put_length(p + 1, written)
            w += _put_length(p + w, n)
            memcpy(p + w, p + 19, written)
            PyByteArray_Resize(out, start + w + written)
            return 0
    p = _grow(out, start, 9 + n)
    w = _put_length(p, n)
    memcpy(p + w, s, n)
    PyByteArray_Resize(out, start + w + n)
    return 0


def write_string(bytearray out, bytes s, bint compress):
    _write_string(out, <const uchar *>PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s), compress)


def write_strings(bytearray out, items, bint compress):
    """write_string for each of the byte strings in items."""
    cdef bytes item
    for obj in items:
        item = obj if type(obj) is bytes else bytes(obj)
        _write_string(out, <const uchar *>PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item), compress)


def write_packed_listpack(bytearray out, bytes buf, bint compress):
    """write_string(out, packed_listpack(buf), compress)."""
    cdef bytes blob = packed_listpack(buf)
    _write_string(out, <const uchar *>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob), compress)


def write_zpacked_listpack(bytearray out, bytes buf, bint compress):
    """write_string(out, zpacked_listpack(buf), compress)."""
    cdef bytes blob = zpacked_listpack(buf)
    _write_string(out, <const uchar *>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob), compress)


cdef inline bint _read_length(const uchar *d, Py_ssize_t size, Py_ssize_t *pos,
                              size_t *n, bint *encoded) noexcept:
    """Reader.length_or_encoding; False on any problem (the caller redoes it in Python)."""
    cdef Py_ssize_t p = pos[0]
    cdef uchar first
    cdef int i
    if p >= size:
        return False
    first = d[p]
    p += 1
    encoded[0] = False
    if first >> 6 == 3:
        encoded[0] = True
        n[0] = first & 0x3F
    elif first >> 6 == 0:
        n[0] = first & 0x3F
    elif first >> 6 == 1:
        if p >= size:
            return False
        n[0] = ((first & 0x3F) << 8) | d[p]
        p += 1
    elif first == 0x80 or first == 0x81:
        i = 4 if first == 0x80 else 8
        if p + i > size:
            return False
        n[0] = 0
        while i:
            n[0] = (n[0] << 8) | d[p]
            p += 1
            i -= 1
    else:
        return False
    pos[0] = p
    return True


cdef object _read_string(const uchar *d, Py_ssize_t size, Py_ssize_t *pos):
    """Reader.string at pos[0]: the bytes, None on any problem (pos then undefined)."""
    cdef size_t n, clen, olen
    cdef bint encoded, dummy
    cdef Py_ssize_t p
    cdef long long v
    cdef char text[24]
    cdef bytes out
    if not _read_length(d, size, pos, &n, &encoded):
        return None
    p = pos[0]
    if not encoded:
        if n > <size_t>(size - p):
            return None
        pos[0] = p + n
        return PyBytes_FromStringAndSize(<const char *>d + p, n)
    if n <= 2:
        clen = 1 << n
        if clen > <size_t>(size - p):
            return None
        if n == 0:
            v = <signed char>d[p]
        elif n == 1:
            v = <short>(d[p] | (d[p + 1] << 8))
        else:
            v = <int>(<unsigned int>d[p] | (<unsigned int>d[p + 1] << 8)
                      | (<unsigned int>d[p + 2] << 16) | (<unsigned int>d[p + 3] << 24))
        pos[0] = p + clen
        return PyBytes_FromStringAndSize(text, _format_ll(text, v))
    if n != 3:
        return None
    if not _read_length(d, size, pos, &clen, &dummy) or not _read_length(d, size, pos, &olen, &dummy):
        return None
    p = pos[0]
    if clen > <size_t>(size - p) or olen > clen * 88 or olen == 0:
        return None
    out = PyBytes_FromStringAndSize(NULL, olen)
    if lzf._decompress(d + p, clen, <uchar *>PyBytes_AS_STRING(out), olen) != <Py_ssize_t>olen:
        return None
    pos[0] = p + clen
    return out


def read_string(data, Py_ssize_t pos):
    """(string, new position) for the RDB string at pos; None on anything unusual, for
    Reader.string to read (and report) in Python."""
    cdef Py_buffer view
    cdef const uchar *d = _buffer(data, &view)
    cdef object s
    try:
        if pos < 0:
            return None
        s = _read_string(d, view.len, &pos)
        return None if s is None else (s, pos)
    finally:
        PyBuffer_Release(&view)


def read_strings(data, Py_ssize_t pos, Py_ssize_t count):
    """([count strings], new position); None on anything unusual (see read_string)."""
    cdef Py_buffer view
    cdef const uchar *d = _buffer(data, &view)
    cdef list items = []
    cdef object s
    cdef Py_ssize_t i
    try:
        if pos < 0:
            return None
        for i in range(count):
            s = _read_string(d, view.len, &pos)
            if s is None:
                return None
            items.append(s)
        return items, pos
    finally:
        PyBuffer_Release(&view)

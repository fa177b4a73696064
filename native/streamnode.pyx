# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of the stream node walkers in server/values/streams.py.

A stream node's body is a packed list (server/values/packlist.py) holding Redis's
listpack elements of the node after its two counters (see streams.py). Reading a range
walks it from the start, since IDs are deltas; this module walks it in C, turning the
decimal numbers into integers without a Python object each, and builds Python objects
only for the entries it returns.

    decode(body, master, fields)
        [(id, flags, [field, value ...], position)] of every entry, deleted ones too
    live_range(body, master, fields, start, end, rev, limit)
        [(id, [field, value ...])] of the live entries with start <= id <= end, ascending
        (descending when rev), at most limit of them (0: all)

IDs are Python ints `ms << 64 | seq`; deltas wrap as Redis's unsigned arithmetic does.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport realloc

from native.packlist cimport uchar, _get_varint

DEF FLAG_DELETED = 1
DEF FLAG_SAMEFIELDS = 2
DEF LISTPACK_MAX_SIZE = 1 << 30      # what XADD lets a node's listpack reach at most

cdef object SEQ_MASK = (1 << 64) - 1

cdef extern from "Python.h":
    ctypedef struct PyLongObject:
        pass
    object _PyLong_FromByteArray(const unsigned char *bytes, size_t n, int little_endian,
                                 int is_signed)
    int _PyLong_AsByteArray(PyLongObject *v, unsigned char *bytes, size_t n, int little_endian,
                            int is_signed) except -1
    bint PyLong_CheckExact(object o)


cdef struct Entry:
    uint64_t ms
    uint64_t seq
    Py_ssize_t flags_pos      # byte offset of the entry's flags item
    Py_ssize_t index          # item index of the flags
    int flags


cdef inline int64_t _read_int(const uchar *p, Py_ssize_t *pos) noexcept:
    """The decimal item at pos (its varint length first); pos moves past it."""
    cdef Py_ssize_t n = _get_varint(p, pos), i = 0
    cdef const uchar *s = p + pos[0]
    cdef bint negative = False
    cdef uint64_t v = 0
    pos[0] += n
    if n and s[0] == 45:
        negative = True
        i = 1
    while i < n:
        v = v * 10 + (s[i] - 48)
        i += 1
    return -<int64_t>v if negative else <int64_t>v


cdef inline void _skip(const uchar *p, Py_ssize_t *pos, Py_ssize_t items) noexcept:
    cdef Py_ssize_t n
    while items > 0:
        n = _get_varint(p, pos)
        pos[0] += n
        items -= 1


cdef inline object _item(const uchar *p, Py_ssize_t *pos):
    cdef Py_ssize_t n = _get_varint(p, pos)
    cdef object out = PyBytes_FromStringAndSize(<const char *>(p + pos[0]), n)
    pos[0] += n
    return out


cdef inline object _make_id(uint64_t ms, uint64_t seq):
    """The int ms << 64 | seq, made in one step from its 16 big-endian bytes."""
    cdef unsigned char raw[16]
    cdef int i
    for i in range(8):
        raw[7 - i] = <unsigned char>(ms >> (8 * i))
        raw[15 - i] = <unsigned char>(seq >> (8 * i))
    return _PyLong_FromByteArray(raw, 16, 0, 0)


cdef inline int _split_id(object entry_id, uint64_t *ms, uint64_t *seq) except -1:
    """An ID's two halves, read from the int in one step."""
    cdef unsigned char raw[16]
    cdef int i
    if not PyLong_CheckExact(entry_id):
        entry_id = int(entry_id)
    _PyLong_AsByteArray(<PyLongObject *>entry_id, raw, 16, 1, 0)
    ms[0] = 0
    seq[0] = 0
    for i in range(8):
        seq[0] |= (<uint64_t>raw[i]) << (8 * i)
        ms[0] |= (<uint64_t>raw[8 + i]) << (8 * i)
    return 0


cdef inline int _cmp(uint64_t ams, uint64_t aseq, uint64_t bms, uint64_t bseq) noexcept:
    if ams != bms:
        return -1 if ams < bms else 1
    if aseq != bseq:
        return -1 if aseq < bseq else 1
    return 0


# The node being read, walked lazily and kept with its entry table: readers come back to the
# same node again and again (a consumer group reading the tail a few entries at a time, the
# next page of an XRANGE), and a body is immutable bytes, so holding a reference to it
# proves it unchanged. A read walks only as far into the node as it needs; the next read
# of the same node goes on from there.
cdef object _body = None            # the node's body, None when nothing is cached
cdef const uchar *_p = NULL         # its bytes
cdef Py_ssize_t _size = 0
cdef uint64_t _master_ms = 0, _master_seq = 0
cdef Py_ssize_t _nfields = 0
cdef Entry *_table = NULL           # the entries walked so far, oldest first
cdef Py_ssize_t _count = 0, _capacity = 0
cdef Py_ssize_t _pos = 0            # byte offset of the next entry to walk (_size: all walked)
cdef Py_ssize_t _index = 0          # its item index


cdef int _use(bytes body, object master, Py_ssize_t nfields) except -1:
    """Make (body, master) the node being read: kept when it already is, else started afresh."""
    global _body, _p, _size, _master_ms, _master_seq, _nfields, _count, _pos, _index
    cdef uint64_t ms, seq
    _split_id(master, &ms, &seq)
    if body is _body and ms == _master_ms and seq == _master_seq:
        return 0
    _body = body
    _p = <const uchar *>PyBytes_AS_STRING(body)
    _size = PyBytes_GET_SIZE(body)
    _master_ms = ms
    _master_seq = seq
    _nfields = nfields
    _count = 0
    _pos = 0
    _get_varint(_p, &_pos)                  # the item count
    _skip(_p, &_pos, nfields + 2)           # master entry: num-fields, fields, 0
    _index = nfields + 2
    return 0


cdef bint _step() except -1:
    """Walk one more entry of the node being read into the table; False when all are."""
    global _table, _capacity, _count, _pos, _index
    cdef Entry *grown
    cdef Entry *entry
    cdef Py_ssize_t n, pos = _pos
    cdef int flags
    if pos >= _size:
        return False
    if _count == _capacity:
        n = 128 if _capacity == 0 else 2 * _capacity
        grown = <Entry *>realloc(_table, n * sizeof(Entry))
        if grown == NULL:
            raise MemoryError()
        _table = grown
        _capacity = n
    entry = &_table[_count]
    entry.flags_pos = pos
    entry.index = _index
    flags = <int>_read_int(_p, &pos)
    entry.flags = flags
    entry.ms = _master_ms + <uint64_t>_read_int(_p, &pos)
    entry.seq = _master_seq + <uint64_t>_read_int(_p, &pos)
    if flags & FLAG_SAMEFIELDS:
        _skip(_p, &pos, _nfields + 1)
        _index += 3 + _nfields + 1
    else:
        n = <Py_ssize_t>_read_int(_p, &pos)
        _skip(_p, &pos, 2 * n + 1)
        _index += 4 + 2 * n + 1
    _pos = pos
    _count += 1
    return True


cdef int _walk_past(uint64_t ms, uint64_t seq) except -1:
    """Walk until an entry with an ID above ms-seq is in the table, or to the end."""
    while _count == 0 or _cmp(_table[_count - 1].ms, _table[_count - 1].seq, ms, seq) <= 0:
        if not _step():
            break
    return 0


cdef inline Py_ssize_t _first_at_least(Entry *entries, Py_ssize_t count, uint64_t ms,
                                       uint64_t seq) noexcept:
    """Index of the first entry whose ID is >= ms-seq (count when none): IDs ascend."""
    cdef Py_ssize_t lo = 0, hi = count, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp(entries[mid].ms, entries[mid].seq, ms, seq) < 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _first_above(Entry *entries, Py_ssize_t count, uint64_t ms,
                                    uint64_t seq) noexcept:
    """Index of the first entry whose ID is > ms-seq (count when none)."""
    cdef Py_ssize_t lo = 0, hi = count, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if _cmp(entries[mid].ms, entries[mid].seq, ms, seq) <= 0:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef list _flat(const uchar *p, Entry *entry, tuple fields):
    cdef Py_ssize_t pos = entry.flags_pos, nfields = len(fields), i, n
    cdef list flat
    _skip(p, &pos, 3)
    if entry.flags & FLAG_SAMEFIELDS:
        flat = [None] * (2 * nfields)
        for i in range(nfields):
            flat[2 * i] = fields[i]
            flat[2 * i + 1] = _item(p, &pos)
    else:
        n = <Py_ssize_t>_read_int(p, &pos)
        flat = [None] * (2 * n)
        for i in range(2 * n):
            flat[i] = _item(p, &pos)
    return flat


def decode(bytes body, master, tuple fields):
    _use(body, master, len(fields))
    while _step():
        pass
    cdef Py_ssize_t i
    cdef list out = []
    for i in range(_count):
        out.append((_make_id(_table[i].ms, _table[i].seq), _table[i].flags,
                    _flat(_p, &_table[i], fields), _table[i].index))
    return out


def live_range(bytes body, master, tuple fields, start, end, bint rev, Py_ssize_t limit):
    cdef uint64_t start_ms, start_seq, end_ms, end_seq
    cdef Py_ssize_t i, first, stop
    cdef list out = []
    _split_id(start, &start_ms, &start_seq)
    _split_id(end, &end_ms, &end_seq)
    _use(body, master, len(fields))
    if not rev:
        if start_seq:
            _walk_past(start_ms, start_seq - 1)
        elif start_ms:
            _walk_past(start_ms - 1, 0xFFFFFFFFFFFFFFFF)
        i = _first_at_least(_table, _count, start_ms, start_seq)
        while i < _count or _step():
            if _cmp(_table[i].ms, _table[i].seq, end_ms, end_seq) > 0:
                break
            if not _table[i].flags & FLAG_DELETED:
                out.append((_make_id(_table[i].ms, _table[i].seq), _flat(_p, &_table[i], fields)))
                if limit and len(out) == limit:
                    break
            i += 1
    else:
        _walk_past(end_ms, end_seq)
        first = _first_at_least(_table, _count, start_ms, start_seq)
        stop = _first_above(_table, _count, end_ms, end_seq)
        for i in range(stop - 1, first - 1, -1):
            if _table[i].flags & FLAG_DELETED:
                continue
            out.append((_make_id(_table[i].ms, _table[i].seq), _flat(_p, &_table[i], fields)))
            if limit and len(out) == limit:
                break
    return out


# -- listpack sizes (the node split rule measures them) ---------------------------------------

cdef inline Py_ssize_t _int_entry_size(int64_t value) noexcept:
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


cdef inline bint _as_int64(const uchar *p, Py_ssize_t n, int64_t *out) noexcept:
    """Whether p[0:n] is the strict decimal form of an int64, as a listpack stores it."""
    cdef Py_ssize_t i = 0
    cdef uint64_t value = 0, limit
    cdef bint negative = False
    if n == 0 or n > 20:
        return False
    if p[0] == 45:                      # '-'
        if n == 1 or p[1] == 48:
            return False
        negative = True
        i = 1
    elif p[0] == 48:
        if n != 1:
            return False
        out[0] = 0
        return True
    elif not 49 <= p[0] <= 57:
        return False
    limit = 9223372036854775808ULL if negative else 9223372036854775807ULL
    while i < n:
        if not 48 <= p[i] <= 57:
            return False
        if value > (limit - (p[i] - 48)) // 10:
            return False
        value = value * 10 + (p[i] - 48)
        i += 1
    out[0] = -<int64_t>(value - 1) - 1 if negative and value else <int64_t>value
    return True


def items_size(list items):
    """Bytes the byte strings in items take as listpack entries (entry_size summed)."""
    cdef Py_ssize_t total = 0, n, encoded, i
    cdef int64_t value
    cdef bytes item
    for i in range(len(items)):
        item = items[i]
        n = PyBytes_GET_SIZE(item)
        if _as_int64(<const uchar *>PyBytes_AS_STRING(item), n, &value):
            total += _int_entry_size(value)
            continue
        encoded = n + (1 if n < 64 else 2 if n < 4096 else 5)
        total += encoded + (1 if encoded < 128 else 2 if encoded < 16384 else
                            3 if encoded < 2097152 else 4 if encoded < 268435456 else 5)
    return total


# -- replies -------------------------------------------------------------------------------------

from libc.string cimport memcpy


cdef inline Py_ssize_t _put_uint(char *dst, uint64_t value) noexcept:
    """The decimal digits of value at dst; their count."""
    cdef char digits[24]
    cdef Py_ssize_t n = 0, i
    while True:
        digits[n] = <char>(48 + value % 10)
        value //= 10
        n += 1
        if value == 0:
            break
    for i in range(n):
        dst[i] = digits[n - 1 - i]
    return n


cdef inline Py_ssize_t _put_int(char *dst, int64_t value) noexcept:
    """The decimal digits of value, a '-' first when negative, at dst; their count."""
    if value < 0:
        dst[0] = 45
        return 1 + _put_uint(dst + 1, <uint64_t>0 - <uint64_t>value)
    return _put_uint(dst, <uint64_t>value)


cdef inline Py_ssize_t _put_header(char *dst, char kind, Py_ssize_t n) noexcept:
    """`<kind><n>\\r\\n` at dst; its length."""
    dst[0] = kind
    cdef Py_ssize_t w = 1 + _put_uint(dst + 1, <uint64_t>n)
    dst[w] = 13
    dst[w + 1] = 10
    return w + 2


def entries_reply(list entries):
    """The RESP of an array of (id, [field, value ...]) entries, each [id, [field, value ...]]:
    the same bytes in RESP2 and RESP3 (server.commands.streams.entries_reply's twin)."""
    cdef Py_ssize_t count = len(entries), i, j, nflat, total = 32, n
    cdef list flat
    cdef bytes item
    cdef object entry_id
    for i in range(count):
        flat = entries[i][1]
        nflat = len(flat)
        total += 4 + 48 + 48 + 24
        for j in range(nflat):
            n = PyBytes_GET_SIZE(<bytes>flat[j])
            total += n + 24
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char *dst = PyBytes_AS_STRING(out)
    cdef char idtext[48]
    cdef Py_ssize_t w = _put_header(dst, 42, count), idlen
    cdef uint64_t ms, seq
    for i in range(count):
        entry_id = entries[i][0]
        flat = entries[i][1]
        _split_id(entry_id, &ms, &seq)
        idlen = _put_uint(idtext, ms)
        idtext[idlen] = 45                  # '-'
        idlen += 1 + _put_uint(idtext + idlen + 1, seq)
        memcpy(dst + w, b"*2\r\n", 4)
        w += 4
        w += _put_header(dst + w, 36, idlen)
        memcpy(dst + w, idtext, idlen)
        w += idlen
        memcpy(dst + w, b"\r\n", 2)
        w += 2
        nflat = len(flat)
        w += _put_header(dst + w, 42, nflat)
        for j in range(nflat):
            item = <bytes>flat[j]
            n = PyBytes_GET_SIZE(item)
            w += _put_header(dst + w, 36, n)
            memcpy(dst + w, PyBytes_AS_STRING(item), n)
            w += n
            memcpy(dst + w, b"\r\n", 2)
            w += 2
    return out[:w]


# -- XADD: one entry appended to a node ----------------------------------------------------------

from native.packlist cimport _put_varint, _varint_size


cdef inline Py_ssize_t _string_entry_size(const uchar *p, Py_ssize_t n) noexcept:
    """Bytes of a listpack entry holding p[0:n] (an integer when it reads as one)."""
    cdef int64_t value
    cdef Py_ssize_t encoded
    if _as_int64(p, n, &value):
        return _int_entry_size(value)
    encoded = n + (1 if n < 64 else 2 if n < 4096 else 5)
    return encoded + (1 if encoded < 128 else 2 if encoded < 16384 else
                      3 if encoded < 2097152 else 4 if encoded < 268435456 else 5)


cdef inline Py_ssize_t _put_item(uchar *dst, const char *src, Py_ssize_t n) noexcept:
    cdef Py_ssize_t w = _put_varint(dst, <size_t>n)
    memcpy(dst + w, src, n)
    return w + n


def append_entry(bytes body, master, tuple fields, entry_id, list flat):
    """(body with the entry entry_id, flat = [field, value ...], appended, the listpack
    bytes the entry added): the entry's items as XADD writes them, SAMEFIELDS when its
    fields are the node's master fields (server.values.streams._append_entry's twin)."""
    cdef Py_ssize_t added = 0
    body = _append(body, master, fields, entry_id, flat, &added)
    return body, added


def append_to_node(node, entry_id, list flat, Py_ssize_t flat_bytes, long long node_max_bytes,
                   long long node_max_entries):
    """server.values.streams._append_to_node's twin: append_entry on a StreamNode, unless
    it is full."""
    cdef Py_ssize_t count = node.count, deleted, added = 0
    if node_max_bytes >= 0:
        if node_max_bytes == 0 or node_max_bytes > LISTPACK_MAX_SIZE:
            node_max_bytes = LISTPACK_MAX_SIZE
        deleted = node.deleted
        if (7 + _int_entry_size(count) + _int_entry_size(deleted) + <Py_ssize_t>node.body_bytes
                + flat_bytes >= node_max_bytes
                or (node_max_entries and count + deleted >= node_max_entries)):
            return False
    node.body = _append(node.body, node.master, node.fields, entry_id, flat, &added)
    node.body_bytes += added
    node.count = count + 1
    return True


cdef bytes _append(bytes body, master, tuple fields, entry_id, list flat, Py_ssize_t *added_out):
    cdef Py_ssize_t nflat = len(flat), nfields = nflat // 2, i, n, total, w, pos = 0
    cdef bint same = nfields == len(fields)
    cdef bytes item
    if same:
        for i in range(nfields):
            if <bytes>flat[2 * i] != <bytes>fields[i]:
                same = False
                break
    cdef uint64_t master_ms, master_seq, entry_ms, entry_seq
    _split_id(master, &master_ms, &master_seq)
    _split_id(entry_id, &entry_ms, &entry_seq)
    cdef int64_t dms = <int64_t>(entry_ms - master_ms)
    cdef int64_t dseq = <int64_t>(entry_seq - master_seq)
    cdef int64_t lp_count = nfields + 3 if same else 2 * nfields + 4
    cdef char ms_text[24]
    cdef char seq_text[24]
    cdef char count_text[24]
    cdef char nfields_text[24]
    cdef Py_ssize_t ms_len = _put_int(ms_text, dms)
    cdef Py_ssize_t seq_len = _put_int(seq_text, dseq)
    cdef Py_ssize_t count_len = _put_int(count_text, lp_count)
    cdef Py_ssize_t nfields_len = _put_int(nfields_text, nfields)
    cdef Py_ssize_t added_items = 4 + (nfields if same else 1 + nflat)
    cdef const uchar *src = <const uchar *>PyBytes_AS_STRING(body)
    cdef Py_ssize_t old_count = _get_varint(src, &pos)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(body)
    # New body: count, the old items, then flags, deltas, [num-fields, fields and] values, lp-count.
    total = _varint_size(old_count + added_items) + (size - pos) + 2 + (1 + ms_len) + (1 + seq_len)
    total += 1 + count_len
    cdef Py_ssize_t added_bytes = 2 + _int_entry_size(dms) + _int_entry_size(dseq)
    added_bytes += _int_entry_size(lp_count)
    if not same:
        total += 1 + nfields_len
        added_bytes += _int_entry_size(nfields)
    for i in range(nflat):
        if same and not i & 1:
            continue
        item = <bytes>flat[i]
        n = PyBytes_GET_SIZE(item)
        total += _varint_size(n) + n
        added_bytes += _string_entry_size(<const uchar *>PyBytes_AS_STRING(item), n)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef uchar *dst = <uchar *>PyBytes_AS_STRING(out)
    w = _put_varint(dst, <size_t>(old_count + added_items))
    memcpy(dst + w, src + pos, size - pos)
    w += size - pos
    w += _put_item(dst + w, "2" if same else "0", 1)
    w += _put_item(dst + w, ms_text, ms_len)
    w += _put_item(dst + w, seq_text, seq_len)
    if not same:
        w += _put_item(dst + w, nfields_text, nfields_len)
    for i in range(nflat):
        if same and not i & 1:
            continue
        item = <bytes>flat[i]
        w += _put_item(dst + w, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
    w += _put_item(dst + w, count_text, count_len)
    added_out[0] = added_bytes
    return out


# -- IDs as clients write them ---------------------------------------------------------------------

from cpython.bytes cimport PyBytes_CheckExact


cdef inline bint _digits_u64(const uchar *p, Py_ssize_t n, uint64_t *out) noexcept:
    """Whether p[0:n] is one or more decimal digits of a value below 2**64; the value."""
    cdef uint64_t value = 0, digit
    cdef Py_ssize_t i
    if n == 0:
        return False
    for i in range(n):
        if not 48 <= p[i] <= 57:
            return False
        digit = p[i] - 48
        if value > (<uint64_t>0xFFFFFFFFFFFFFFFF - digit) // 10:
            return False
        value = value * 10 + digit
    out[0] = value
    return True


def plain_id(data, seq_default):
    """The ID written `ms` (seq_default as its sequence) or `ms-seq`, both plain decimal
    digits below 2**64, as the int ms << 64 | seq; None for any other text, which the full
    parser (server.commands.streams.parse_id) then judges (server.commands.streams's
    _plain_id is the twin)."""
    if not PyBytes_CheckExact(data):
        return None
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data), dash = 0
    cdef uint64_t ms, seq
    if n > 127:
        return None
    while dash < n and p[dash] != 45:
        dash += 1
    if not _digits_u64(p, dash, &ms):
        return None
    if dash == n:
        return _make_id(ms, <uint64_t>seq_default)
    if not _digits_u64(p + dash + 1, n - dash - 1, &seq):
        return None
    return _make_id(ms, seq)


def format_id(entry_id):
    """The text `ms-seq` of an ID (server.values.streams.format_id's twin)."""
    cdef uint64_t ms, seq
    cdef char text[48]
    _split_id(entry_id, &ms, &seq)
    cdef Py_ssize_t n = _put_uint(text, ms)
    text[n] = 45                            # '-'
    n += 1 + _put_uint(text + n + 1, seq)
    return PyBytes_FromStringAndSize(text, n)

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of server.values.streams.decode_node: a stream node's packed body read in C.

The body is a packed list (native/packlist.pxd) whose items are the elements of Redis's
listpack for the node, numbers as decimal text: the master entry (num-fields, the fields,
0), then per entry flags, ms-delta, seq-delta, then the values (flag SAMEFIELDS) or
num-fields and the fields and values, then lp-count. See server/values/streams.py.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF

from native.packlist cimport uchar, _get_varint

DEF FLAG_SAMEFIELDS = 2


cdef inline long long _number(const uchar *p, Py_ssize_t n) noexcept:
    """The decimal text p[0:n] as a signed number (the body holds only well-formed ones)."""
    cdef long long value = 0
    cdef Py_ssize_t i = 0
    cdef bint negative = n > 0 and p[0] == 45        # '-'
    if negative:
        i = 1
    while i < n:
        value = value * 10 + (p[i] - 48)
        i += 1
    return -value if negative else value


cdef inline long long _next_number(const uchar *p, Py_ssize_t *pos) noexcept:
    cdef Py_ssize_t size = _get_varint(p, pos)
    cdef long long value = _number(p + pos[0], size)
    pos[0] += size
    return value


cdef inline bytes _next_bytes(const uchar *p, Py_ssize_t *pos):
    cdef Py_ssize_t size = _get_varint(p, pos)
    cdef bytes item = PyBytes_FromStringAndSize(<const char *>p + pos[0], size)
    pos[0] += size
    return item


cdef inline void _skip(const uchar *p, Py_ssize_t *pos) noexcept:
    cdef Py_ssize_t size = _get_varint(p, pos)
    pos[0] += size


def decode_node(bytes body, master, tuple fields):
    """[(id, flags, [field, value, ...], flags index)] of every entry of the node, deleted
    ones too, oldest first; the flags index is the entry's position among the body's items."""
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = 0, items, index, at, nfields = len(fields), j, n
    cdef unsigned long long master_ms = master >> 64
    cdef unsigned long long master_seq = master & 0xFFFFFFFFFFFFFFFF
    cdef unsigned long long ms, seq
    cdef long long flags
    cdef list out = []
    cdef list flat
    cdef object field, entry_id
    items = _get_varint(p, &pos)
    # The master entry: num-fields, the fields, the 0 terminator.
    for j in range(nfields + 2):
        _skip(p, &pos)
    index = nfields + 2
    while index < items:
        at = index
        flags = _next_number(p, &pos)
        ms = master_ms + <unsigned long long>_next_number(p, &pos)
        seq = master_seq + <unsigned long long>_next_number(p, &pos)
        index += 3
        if flags & FLAG_SAMEFIELDS:
            flat = PyList_New(2 * nfields)
            for j in range(nfields):
                field = fields[j]
                Py_INCREF(field)
                PyList_SET_ITEM(flat, 2 * j, field)
                value = _next_bytes(p, &pos)
                Py_INCREF(value)
                PyList_SET_ITEM(flat, 2 * j + 1, value)
            index += nfields
        else:
            n = <Py_ssize_t>_next_number(p, &pos)
            flat = PyList_New(2 * n)
            for j in range(2 * n):
                value = _next_bytes(p, &pos)
                Py_INCREF(value)
                PyList_SET_ITEM(flat, j, value)
            index += 1 + 2 * n
        _skip(p, &pos)                      # lp-count
        index += 1
        entry_id = (<object>ms << 64) | seq
        out.append((entry_id, flags, flat, at))
    return out


def node_range(bytes body, master, tuple fields, start, end, bint rev, Py_ssize_t limit):
    """[(id, [field, value, ...])] of the live entries of the node with start <= id <= end,
    in ID order (reversed when rev), at most limit of them (0: all). Entries outside the
    range cost no Python object."""
    cdef const uchar *p = <const uchar *>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = 0, items, index, nfields = len(fields), j, n, found = 0, k
    cdef unsigned long long master_ms = master >> 64
    cdef unsigned long long master_seq = master & 0xFFFFFFFFFFFFFFFF
    cdef unsigned long long start_ms = start >> 64, start_seq = start & 0xFFFFFFFFFFFFFFFF
    cdef unsigned long long end_ms = end >> 64, end_seq = end & 0xFFFFFFFFFFFFFFFF
    cdef unsigned long long ms, seq
    cdef long long flags
    cdef Py_ssize_t entry_pos, values_pos
    cdef list offsets = []          # (body offset after the ID, flags, ms, seq) when rev
    cdef list out = []
    items = _get_varint(p, &pos)
    for j in range(nfields + 2):
        _skip(p, &pos)
    index = nfields + 2
    while index < items:
        flags = _next_number(p, &pos)
        ms = master_ms + <unsigned long long>_next_number(p, &pos)
        seq = master_seq + <unsigned long long>_next_number(p, &pos)
        index += 3
        entry_pos = pos
        if flags & FLAG_SAMEFIELDS:
            for j in range(nfields):
                _skip(p, &pos)
            index += nfields
        else:
            n = <Py_ssize_t>_next_number(p, &pos)
            for j in range(2 * n):
                _skip(p, &pos)
            index += 1 + 2 * n
        _skip(p, &pos)                      # lp-count
        index += 1
        if ms > end_ms or (ms == end_ms and seq > end_seq):
            break
        if flags & 1 or ms < start_ms or (ms == start_ms and seq < start_seq):
            continue
        if rev:
            offsets.append((entry_pos, flags, ms, seq))
            continue
        out.append(_entry(p, entry_pos, flags, ms, seq, fields, nfields))
        found += 1
        if limit and found >= limit:
            break
    if rev:
        k = len(offsets) - 1
        while k >= 0:
            entry_pos, flags, ms, seq = offsets[k]
            out.append(_entry(p, entry_pos, flags, ms, seq, fields, nfields))
            found += 1
            if limit and found >= limit:
                break
            k -= 1
    return out


cdef tuple _entry(const uchar *p, Py_ssize_t pos, long long flags, unsigned long long ms,
                  unsigned long long seq, tuple fields, Py_ssize_t nfields):
    """(id, flat) of the entry whose fields start at body offset pos."""
    cdef list flat
    cdef Py_ssize_t j, n
    if flags & FLAG_SAMEFIELDS:
        flat = PyList_New(2 * nfields)
        for j in range(nfields):
            field = fields[j]
            Py_INCREF(field)
            PyList_SET_ITEM(flat, 2 * j, field)
            value = _next_bytes(p, &pos)
            Py_INCREF(value)
            PyList_SET_ITEM(flat, 2 * j + 1, value)
    else:
        n = <Py_ssize_t>_next_number(p, &pos)
        flat = PyList_New(2 * n)
        for j in range(2 * n):
            value = _next_bytes(p, &pos)
            Py_INCREF(value)
            PyList_SET_ITEM(flat, j, value)
    return ((<object>ms << 64) | seq, flat)


cdef inline Py_ssize_t _int_entry_size(long long value) noexcept:
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


cdef inline bint _as_int64(const uchar *p, Py_ssize_t n, long long *out) noexcept:
    """Whether p[0:n] is the strict decimal form of an int64 (as Redis's lpStringToInt64)."""
    cdef Py_ssize_t i = 0
    cdef unsigned long long value = 0, limit
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
    out[0] = -<long long>(value - 1) - 1 if negative and value else (<long long>value)
    return True


def items_size(list items):
    """Bytes the byte strings in items take as listpack entries (server.values.streams's
    entry_size summed)."""
    cdef Py_ssize_t total = 0, n, encoded, i
    cdef long long value
    cdef bytes item
    for i in range(len(items)):
        item = items[i]
        n = len(item)
        if _as_int64(<const uchar *>PyBytes_AS_STRING(item), n, &value):
            total += _int_entry_size(value)
            continue
        encoded = n + (1 if n < 64 else 2 if n < 4096 else 5)
        total += encoded + (1 if encoded < 128 else 2 if encoded < 16384 else
                            3 if encoded < 2097152 else 4 if encoded < 268435456 else 5)
    return total

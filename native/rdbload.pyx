# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The RDB loader's fast path for runs of keys, in C.

read_key_run parses consecutive records of the shape [EXPIRETIME_MS ms] TYPE key value:
strings entirely here, other types through the decoder the caller gives for their type
byte. It stops before anything else (another opcode, a type without a decoder,
IDLE/FREQ, a malformed or truncated record, a decoder that declines), which the
loader's general path (persistence/rdb.py, the pure twin of this) then reads and, if
it is bad, reports with its offset.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.list cimport PyList_Append
from libc.stdint cimport int64_t, uint64_t

from native.lzf cimport _decompress

cdef enum:
    OPCODE_EXPIRETIME_MS = 0xFC
    TYPE_STRING = 0
    ENC_INT8 = 0
    ENC_INT16 = 1
    ENC_INT32 = 2
    ENC_LZF = 3


cdef inline Py_ssize_t _length(const unsigned char* data, Py_ssize_t pos, Py_ssize_t end,
                               uint64_t* length, bint* encoded) noexcept:
    """Read a length (or a special encoding) at pos; the new position, -1 if it does not fit."""
    cdef unsigned char first
    cdef Py_ssize_t i
    if pos >= end:
        return -1
    first = data[pos]
    encoded[0] = False
    if first >> 6 == 0:
        length[0] = first & 0x3F
        return pos + 1
    if first >> 6 == 1:
        if pos + 2 > end:
            return -1
        length[0] = ((first & 0x3F) << 8) | data[pos + 1]
        return pos + 2
    if first >> 6 == 3:
        encoded[0] = True
        length[0] = first & 0x3F
        return pos + 1
    if first == 0x80:
        if pos + 5 > end:
            return -1
        length[0] = 0
        for i in range(4):
            length[0] = (length[0] << 8) | data[pos + 1 + i]
        return pos + 5
    if first == 0x81:
        if pos + 9 > end:
            return -1
        length[0] = 0
        for i in range(8):
            length[0] = (length[0] << 8) | data[pos + 1 + i]
        return pos + 9
    return -1


cdef object _string(const unsigned char* data, Py_ssize_t* at, Py_ssize_t end):
    """Read the RDB string at at[0], moving at[0] past it; None to leave it to Python."""
    cdef uint64_t length, compressed, original
    cdef bint encoded
    cdef int64_t number
    cdef bytes out
    cdef Py_ssize_t pos = _length(data, at[0], end, &length, &encoded)
    if pos < 0:
        return None
    if not encoded:
        if <uint64_t>(end - pos) < length:
            return None
        at[0] = pos + <Py_ssize_t>length
        return PyBytes_FromStringAndSize(<const char*>data + pos, <Py_ssize_t>length)
    if length == ENC_INT8:
        if pos + 1 > end:
            return None
        number = <signed char>data[pos]
        at[0] = pos + 1
        return b"%d" % number
    if length == ENC_INT16:
        if pos + 2 > end:
            return None
        number = <short>(data[pos] | (data[pos + 1] << 8))
        at[0] = pos + 2
        return b"%d" % number
    if length == ENC_INT32:
        if pos + 4 > end:
            return None
        number = <int>(data[pos] | (data[pos + 1] << 8) | (data[pos + 2] << 16)
                       | (<uint64_t>data[pos + 3] << 24))
        at[0] = pos + 4
        return b"%d" % number
    if length == ENC_LZF:
        pos = _length(data, pos, end, &compressed, &encoded)
        if pos < 0 or encoded:
            return None
        pos = _length(data, pos, end, &original, &encoded)
        if pos < 0 or encoded or <uint64_t>(end - pos) < compressed or compressed == 0:
            return None
        if original > compressed * 88 + 16:        # more than LZF can expand to: corrupt
            return None
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>original)
        if _decompress(data + pos, <Py_ssize_t>compressed, <unsigned char*>PyBytes_AS_STRING(out),
                       <Py_ssize_t>original) != <Py_ssize_t>original:
            return None
        at[0] = pos + <Py_ssize_t>compressed
        return out
    return None


def read_key_run(data, Py_ssize_t pos, Py_ssize_t limit, list keys, list values,
                 list expires, dict decoders):
    """Parse up to `limit` records from pos on, appending to keys and values (and (index
    in keys, unix ms) to expires); returns the position after the last one read.

    decoders: type byte -> fn(data, pos) giving (value, position after it), or None to
    leave the record to the general path."""
    cdef const unsigned char[::1] view = data
    cdef const unsigned char* base = &view[0]
    cdef Py_ssize_t end = view.shape[0]
    cdef Py_ssize_t p, count = 0
    cdef int64_t when
    cdef bint has_expire
    cdef object key = None, value = None, decoder, decoded
    cdef int i, kind
    while count < limit and pos < end:
        p = pos
        has_expire = False
        if base[p] == OPCODE_EXPIRETIME_MS:
            if p + 10 > end:
                break
            when = 0
            for i in range(7, -1, -1):
                when = (when << 8) | base[p + 1 + i]
            has_expire = True
            p += 9
        kind = base[p]
        decoder = None
        if kind != TYPE_STRING:
            decoder = decoders.get(kind)
            if decoder is None:
                break
        p += 1
        key = _string(base, &p, end)
        if key is None:
            break
        if decoder is None:
            value = _string(base, &p, end)
            if value is None:
                break
        else:
            decoded = decoder(data, p)
            if decoded is None:
                break
            value, p = decoded
        if has_expire:
            PyList_Append(expires, (len(keys), when if when != -1 else None))
        PyList_Append(keys, key)
        PyList_Append(values, value)
        pos = p
        count += 1
    return pos

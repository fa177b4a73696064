# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of the HyperLogLog register functions in server/values/hll.py.

Same functions, arguments and results: murmurhash64a, add, histogram, merge,
raw_histogram, to_dense, set_registers. An HLL is the whole string value (16
byte header, then dense or sparse registers); functions that edit it take a
bytearray and may resize it, readers also take bytes. The layout and the
sparse editing rules are described in server/values/hll.py.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint64_t
from libc.string cimport memcpy, memmove, memset

cdef enum:
    HLL_P = 14
    REGISTERS = 16384
    HLL_Q = 50
    HEADER_SIZE = 16
    DENSE_BODY_SIZE = 12288
    DENSE_SIZE = 12304
    DENSE = 0
    SPARSE = 1
    SPARSE_VAL_MAX = 32
    SPARSE_VAL_MAX_LEN = 4
    SPARSE_ZERO_MAX_LEN = 64
    CARD_STALE_BYTE = 15
    CARD_STALE_BIT = 0x80

cdef uint64_t HASH_SEED = 0xADC83B19ULL
cdef uint64_t MURMUR_M = 0xC6A4A7935BD1E995ULL


# -- reading Python buffers --------------------------------------------------------------

cdef inline const unsigned char *_read_ptr(object value, Py_ssize_t *size) except NULL:
    """A pointer to the bytes of a bytes or bytearray value and its length."""
    if type(value) is bytes:
        size[0] = PyBytes_GET_SIZE(value)
        return <const unsigned char *>PyBytes_AS_STRING(value)
    if type(value) is bytearray:
        size[0] = PyByteArray_GET_SIZE(value)
        return <const unsigned char *>PyByteArray_AS_STRING(value)
    raise TypeError("expected bytes or bytearray, got %s" % type(value).__name__)


# -- hashing -------------------------------------------------------------------------------

cdef inline uint64_t _murmur(const unsigned char *data, Py_ssize_t length, uint64_t seed) noexcept nogil:
    cdef uint64_t h = seed ^ (<uint64_t>length * MURMUR_M)
    cdef Py_ssize_t words = length >> 3, i
    cdef const unsigned char *p = data
    cdef uint64_t k
    for i in range(words):
        k = (<uint64_t>p[0] | <uint64_t>p[1] << 8 | <uint64_t>p[2] << 16 | <uint64_t>p[3] << 24 |
             <uint64_t>p[4] << 32 | <uint64_t>p[5] << 40 | <uint64_t>p[6] << 48 |
             <uint64_t>p[7] << 56)
        k *= MURMUR_M
        k ^= k >> 47
        k *= MURMUR_M
        h ^= k
        h *= MURMUR_M
        p += 8
    cdef int rest = length & 7
    if rest:
        k = 0
        for i in range(rest - 1, -1, -1):
            k = (k << 8) | p[i]
        h ^= k
        h *= MURMUR_M
    h ^= h >> 47
    h *= MURMUR_M
    h ^= h >> 47
    return h


def murmurhash64a(data, seed=0xADC83B19):
    cdef Py_ssize_t size
    cdef const unsigned char *p = _read_ptr(data, &size)
    return _murmur(p, size, <uint64_t>seed)


cdef inline int _pattern(const unsigned char *data, Py_ssize_t length, long *index) noexcept nogil:
    cdef uint64_t h = _murmur(data, length, HASH_SEED)
    index[0] = <long>(h & (REGISTERS - 1))
    h >>= HLL_P
    h |= (<uint64_t>1) << HLL_Q
    cdef int count = 1
    while not (h & 1):
        count += 1
        h >>= 1
    return count


# -- dense registers ------------------------------------------------------------------------

cdef inline int _dense_get(const unsigned char *body, long index) noexcept nogil:
    cdef long byte = index * 6 >> 3
    cdef int shift = index * 6 & 7
    cdef unsigned int word = body[byte]
    if byte + 1 < DENSE_BODY_SIZE:
        word |= <unsigned int>body[byte + 1] << 8
    return (word >> shift) & 63


cdef inline int _dense_set(unsigned char *body, long index, int count) noexcept nogil:
    cdef long byte = index * 6 >> 3
    cdef int shift = index * 6 & 7
    cdef unsigned int word = body[byte]
    if byte + 1 < DENSE_BODY_SIZE:
        word |= <unsigned int>body[byte + 1] << 8
    if count <= <int>((word >> shift) & 63):
        return 0
    word = (word & ~(<unsigned int>63 << shift)) | (<unsigned int>count << shift)
    body[byte] = word & 0xFF
    if shift > 2:
        body[byte + 1] = (word >> 8) & 0xFF
    return 1


cdef void _unpack(const unsigned char *body, unsigned char *raw) noexcept nogil:
    """16384 registers, one byte each, from the 12288-byte dense body."""
    cdef long group
    cdef const unsigned char *p = body
    cdef unsigned char *r = raw
    for group in range(REGISTERS // 4):
        r[0] = p[0] & 63
        r[1] = ((p[0] >> 6) | (p[1] << 2)) & 63
        r[2] = ((p[1] >> 4) | (p[2] << 4)) & 63
        r[3] = (p[2] >> 2) & 63
        p += 3
        r += 4


cdef void _pack(const unsigned char *raw, unsigned char *body) noexcept nogil:
    cdef long group
    cdef const unsigned char *r = raw
    cdef unsigned char *p = body
    for group in range(REGISTERS // 4):
        p[0] = (r[0] & 63) | ((r[1] & 3) << 6)
        p[1] = ((r[1] >> 2) & 15) | ((r[2] & 15) << 4)
        p[2] = ((r[2] >> 4) & 3) | ((r[3] & 63) << 2)
        r += 4
        p += 3


# -- sparse registers -----------------------------------------------------------------------

cdef inline long _span(const unsigned char *s, Py_ssize_t p, Py_ssize_t end, int *size) noexcept nogil:
    """Registers covered by the opcode at p; an XZERO cut off at the end reads a 0 byte."""
    cdef unsigned char op = s[p]
    cdef unsigned int low
    if op < 0x40:
        size[0] = 1
        return (op & 0x3F) + 1
    if op < 0x80:
        size[0] = 2
        low = s[p + 1] if p + 1 < end else 0
        return (<long>(op & 0x3F) << 8 | low) + 1
    size[0] = 1
    return (op & 3) + 1


cdef inline unsigned char _val(int value, int length) noexcept nogil:
    return 0x80 | ((value - 1) << 2) | (length - 1)


cdef inline int _zero_run(unsigned char *out, long length) noexcept nogil:
    if length > SPARSE_ZERO_MAX_LEN:
        out[0] = 0x40 | ((length - 1) >> 8)
        out[1] = (length - 1) & 0xFF
        return 2
    out[0] = length - 1
    return 1


cdef int _sparse_registers(const unsigned char *s, Py_ssize_t end, unsigned char *raw) noexcept nogil:
    """Decode sparse registers into raw[16384]; 0 if they do not cover exactly 16384."""
    cdef long index = 0, run
    cdef Py_ssize_t p = HEADER_SIZE
    cdef int size
    cdef unsigned char op
    memset(raw, 0, REGISTERS)
    while p < end:
        op = s[p]
        if op >= 0x80:
            run = (op & 3) + 1
            if index + run > REGISTERS:
                break
            memset(raw + index, ((op >> 2) & 0x1F) + 1, run)
            index += run
            p += 1
        else:
            index += _span(s, p, end, &size)
            p += size
    return index == REGISTERS


cdef int _to_dense(bytearray hll) except -1:
    """Sparse to dense in place, header kept; 0 if the sparse data is corrupt."""
    cdef unsigned char *s = <unsigned char *>PyByteArray_AS_STRING(hll)
    if s[4] == DENSE:
        return 1
    cdef unsigned char raw[REGISTERS]
    cdef unsigned char body[DENSE_BODY_SIZE]
    if not _sparse_registers(s, PyByteArray_GET_SIZE(hll), raw):
        return 0
    _pack(raw, body)
    PyByteArray_Resize(hll, DENSE_SIZE)
    s = <unsigned char *>PyByteArray_AS_STRING(hll)
    memcpy(s + HEADER_SIZE, body, DENSE_BODY_SIZE)
    s[4] = DENSE
    return 1


cdef int _promote(bytearray hll, long index, int count) except -2:
    if not _to_dense(hll):
        return -1
    _dense_set(<unsigned char *>PyByteArray_AS_STRING(hll) + HEADER_SIZE, index, count)
    return 1


cdef int _merge_adjacent(bytearray hll, Py_ssize_t prev) except -2:
    """Merge equal neighbouring VALs (up to 4 registers) in the 5 opcodes from prev."""
    cdef unsigned char *s = <unsigned char *>PyByteArray_AS_STRING(hll)
    cdef Py_ssize_t end = PyByteArray_GET_SIZE(hll)
    cdef Py_ssize_t p = prev if prev >= 0 else HEADER_SIZE
    cdef int budget = 5, length
    cdef unsigned char op, following
    while p < end and budget:
        budget -= 1
        op = s[p]
        if op < 0x80:
            p += 2 if op >= 0x40 else 1
            continue
        if p + 1 < end and s[p + 1] >= 0x80:
            following = s[p + 1]
            if ((op >> 2) & 0x1F) == ((following >> 2) & 0x1F):
                length = (op & 3) + (following & 3) + 2
                if length <= SPARSE_VAL_MAX_LEN:
                    s[p + 1] = _val(((op >> 2) & 0x1F) + 1, length)
                    memmove(s + p, s + p + 1, end - p - 1)
                    end -= 1
                    PyByteArray_Resize(hll, end)
                    s = <unsigned char *>PyByteArray_AS_STRING(hll)
                    continue
        p += 1
    s[CARD_STALE_BYTE] |= CARD_STALE_BIT
    return 1


cdef int _sparse_set(bytearray hll, long index, int count, Py_ssize_t sparse_max) except -2:
    """1 if register `index` grew to `count`, 0 if not, -1 for corrupt sparse data."""
    if count > SPARSE_VAL_MAX:
        return _promote(hll, index, count)
    cdef unsigned char *s = <unsigned char *>PyByteArray_AS_STRING(hll)
    cdef Py_ssize_t end = PyByteArray_GET_SIZE(hll)
    cdef Py_ssize_t p = HEADER_SIZE, prev = -1
    cdef long first = 0, span = 0, last
    cdef int size = 0, current = 0, seqlen = 0, grow, copy_len
    cdef unsigned char op
    cdef unsigned char seq[5]
    while p < end:
        span = _span(s, p, end, &size)
        if index <= first + span - 1:
            break
        prev = p
        p += size
        first += span
    if span == 0 or p >= end:
        return -1
    op = s[p]
    if op >= 0x80:
        current = ((op >> 2) & 0x1F) + 1
        if current >= count:
            return 0
        if span == 1:
            s[p] = _val(count, 1)
            return _merge_adjacent(hll, prev)
    elif op < 0x40 and span == 1:
        s[p] = _val(count, 1)
        return _merge_adjacent(hll, prev)
    last = first + span - 1
    if op < 0x80:
        if index != first:
            seqlen += _zero_run(seq + seqlen, index - first)
        seq[seqlen] = _val(count, 1)
        seqlen += 1
        if index != last:
            seqlen += _zero_run(seq + seqlen, last - index)
    else:
        if index != first:
            seq[seqlen] = _val(current, index - first)
            seqlen += 1
        seq[seqlen] = _val(count, 1)
        seqlen += 1
        if index != last:
            seq[seqlen] = _val(current, last - index)
            seqlen += 1
    grow = seqlen - size
    if grow > 0 and end + grow > sparse_max:
        return _promote(hll, index, count)
    cdef Py_ssize_t tail_from = p + size
    cdef Py_ssize_t tail_len = end - tail_from if end > tail_from else 0
    cdef Py_ssize_t new_end = end + grow
    if grow > 0:
        PyByteArray_Resize(hll, new_end)
        s = <unsigned char *>PyByteArray_AS_STRING(hll)
    if tail_len:
        memmove(s + p + seqlen, s + tail_from, tail_len)
    # A cut-off XZERO leaves room for fewer bytes than the new sequence holds.
    copy_len = seqlen if p + seqlen <= new_end else new_end - p
    memcpy(s + p, seq, copy_len)
    if grow < 0:
        PyByteArray_Resize(hll, new_end)
    return _merge_adjacent(hll, prev)


# -- the twin's interface ----------------------------------------------------------------------

def add(bytearray hll, elements, Py_ssize_t first, Py_ssize_t sparse_max_bytes):
    """Add elements[first:]; the number of registers raised, -1 for a corrupt HLL."""
    cdef Py_ssize_t j, n = len(elements), size
    cdef long updated = 0, index
    cdef int count, result
    cdef const unsigned char *data
    cdef unsigned char *s
    cdef object element
    for j in range(first, n):
        element = elements[j]
        if type(element) is not bytes and type(element) is not bytearray:
            element = bytes(element)
        data = _read_ptr(element, &size)
        count = _pattern(data, size, &index)
        s = <unsigned char *>PyByteArray_AS_STRING(hll)
        if s[4] == DENSE:
            updated += _dense_set(s + HEADER_SIZE, index, count)
        else:
            result = _sparse_set(hll, index, count, sparse_max_bytes)
            if result < 0:
                return -1
            updated += result
    return updated


def histogram(hll):
    """How many registers hold each value 0..63; None for a corrupt sparse HLL."""
    cdef Py_ssize_t end
    cdef const unsigned char *s = _read_ptr(hll, &end)
    cdef long counts[64]
    cdef unsigned char raw[REGISTERS]
    cdef long index = 0, run, j
    cdef Py_ssize_t p = HEADER_SIZE
    cdef int size
    cdef unsigned char op
    memset(counts, 0, sizeof(counts))
    if s[4] == DENSE:
        _unpack(s + HEADER_SIZE, raw)
        for j in range(REGISTERS):
            counts[raw[j]] += 1
        return [counts[j] for j in range(64)]
    while p < end:
        op = s[p]
        if op >= 0x80:
            run = (op & 3) + 1
            counts[((op >> 2) & 0x1F) + 1] += run
            p += 1
        else:
            run = _span(s, p, end, &size)
            counts[0] += run
            p += size
        index += run
    if index != REGISTERS:
        return None
    return [counts[j] for j in range(64)]


def merge(bytearray maximum, hll):
    """maximum[i] = max(maximum[i], register i); False for a corrupt sparse HLL."""
    cdef Py_ssize_t end
    cdef const unsigned char *s = _read_ptr(hll, &end)
    cdef unsigned char *out = <unsigned char *>PyByteArray_AS_STRING(maximum)
    cdef unsigned char raw[REGISTERS]
    cdef long j
    if s[4] == DENSE:
        _unpack(s + HEADER_SIZE, raw)
    elif not _sparse_registers(s, end, raw):
        return False
    for j in range(REGISTERS):
        if raw[j] > out[j]:
            out[j] = raw[j]
    return True


def raw_histogram(maximum):
    """How many of the 16384 register bytes hold each value 0..63."""
    cdef Py_ssize_t size
    cdef const unsigned char *raw = _read_ptr(maximum, &size)
    cdef long counts[64]
    cdef long j
    memset(counts, 0, sizeof(counts))
    for j in range(REGISTERS):
        if raw[j] < 64:
            counts[raw[j]] += 1
    return [counts[j] for j in range(64)]


def to_dense(bytearray hll):
    """Convert a sparse HLL to dense in place; False if it is corrupt."""
    return _to_dense(hll) == 1


def set_registers(bytearray hll, maximum, Py_ssize_t sparse_max_bytes):
    """Raise every register of the HLL to maximum[i] (PFMERGE's store step)."""
    cdef Py_ssize_t size
    cdef const unsigned char *raw = _read_ptr(maximum, &size)
    cdef unsigned char *s
    cdef long j
    for j in range(REGISTERS):
        if raw[j]:
            s = <unsigned char *>PyByteArray_AS_STRING(hll)
            if s[4] == DENSE:
                _dense_set(s + HEADER_SIZE, j, raw[j])
            else:
                _sparse_set(hll, j, raw[j], sparse_max_bytes)

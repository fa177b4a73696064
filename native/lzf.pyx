# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of persistence/lzf.py: LZF compress/decompress with the same format,
the same match choices and the same give-up points as the liblzf build in Redis.

The hash table lives across calls: each call numbers its positions from a base
past every number used before, so an entry from an earlier call reads as empty
without clearing 512 KB per call.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport uint64_t, uint32_t
from libc.string cimport memcpy

cdef enum:
    MAX_LIT = 1 << 5
    MAX_OFF = 1 << 13
    MAX_REF = (1 << 8) + (1 << 3)
    HASH_SIZE = 1 << 16

cdef uint64_t TABLE[HASH_SIZE]
cdef uint64_t table_base = 0


cdef inline uint32_t _slot(uint32_t hval) noexcept nogil:
    return ((hval >> 8) - hval * 5) & (HASH_SIZE - 1)


cdef Py_ssize_t _compress(const unsigned char *data, Py_ssize_t in_end,
                          unsigned char *out, Py_ssize_t out_limit, uint64_t base) noexcept nogil:
    """Length written to out, 0 when it does not fit in out_limit bytes."""
    cdef Py_ssize_t ip = 0, op = 1, lit = 0, ref, off, maxlen, length, k
    cdef uint32_t hval, slot
    cdef uint64_t entry
    cdef bint unrolled_all
    hval = (data[0] << 8) | data[1] if in_end > 1 else 0
    while ip < in_end - 2:
        hval = (hval << 8) | data[ip + 2]
        slot = _slot(hval)
        entry = TABLE[slot]
        TABLE[slot] = base + ip + 1
        ref = <Py_ssize_t>(entry - base - 1) if entry > base else -1
        if (ref > 0 and ip - ref - 1 < MAX_OFF and data[ref + 2] == data[ip + 2]
                and data[ref] == data[ip] and data[ref + 1] == data[ip + 1]):
            off = ip - ref - 1
            maxlen = in_end - ip - 2
            if maxlen > MAX_REF:
                maxlen = MAX_REF
            if op - (lit == 0) + 4 >= out_limit:
                return 0
            out[op - lit - 1] = <unsigned char>(lit - 1)
            op -= lit == 0
            length = 2
            unrolled_all = False
            if maxlen > 16:
                # 16 comparisons before maxlen is looked at, as liblzf does
                unrolled_all = True
                for k in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        unrolled_all = False
                        break
            if maxlen <= 16 or unrolled_all:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2
            ip += 1
            if length < 7:
                out[op] = <unsigned char>((off >> 8) + (length << 5))
                op += 1
            else:
                out[op] = <unsigned char>((off >> 8) + (7 << 5))
                out[op + 1] = <unsigned char>(length - 7)
                op += 2
            out[op] = <unsigned char>(off & 0xFF)
            op += 2
            lit = 0
            ip += length + 1
            if ip >= in_end - 2:
                break
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = (hval << 8) | data[ip + 2]
            TABLE[_slot(hval)] = base + ip + 1
            ip += 1
            hval = (hval << 8) | data[ip + 2]
            TABLE[_slot(hval)] = base + ip + 1
            ip += 1
        else:
            if op >= out_limit:
                return 0
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == MAX_LIT:
                out[op - lit - 1] = <unsigned char>(lit - 1)
                lit = 0
                op += 1
    if op + 3 > out_limit:
        return 0
    while ip < in_end:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == MAX_LIT:
            out[op - lit - 1] = <unsigned char>(lit - 1)
            lit = 0
            op += 1
    out[op - lit - 1] = <unsigned char>(lit - 1)
    op -= lit == 0
    return op


def compress(data, Py_ssize_t out_limit):
    """Compressed bytes, or None when they would not fit in out_limit bytes."""
    global table_base
    cdef const unsigned char[::1] view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    cdef Py_ssize_t n = view.shape[0]
    if n == 0 or out_limit <= 0:
        return None
    cdef bytearray out = bytearray(out_limit + 4)
    cdef unsigned char *outp = out
    cdef uint64_t base = table_base
    table_base += <uint64_t>n + 1
    cdef Py_ssize_t written = _compress(&view[0], n, outp, out_limit, base)
    if written == 0:
        return None
    return PyBytes_FromStringAndSize(<char *>outp, written)


cdef Py_ssize_t _decompress(const unsigned char *data, Py_ssize_t end,
                            unsigned char *out, Py_ssize_t out_len) noexcept nogil:
    """Bytes produced, -1 for a malformed stream or one that overflows out_len."""
    cdef Py_ssize_t ip = 0, op = 0, run, length, ref
    cdef unsigned int ctrl
    while ip < end:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if op + run > out_len or ip + run > end:
                return -1
            memcpy(out + op, data + ip, run)
            op += run
            ip += run
            continue
        length = ctrl >> 5
        ref = op - ((ctrl & 0x1F) << 8) - 1
        if ip >= end:
            return -1
        if length == 7:
            length += data[ip]
            ip += 1
            if ip >= end:
                return -1
        ref -= data[ip]
        ip += 1
        length += 2
        if op + length > out_len or ref < 0:
            return -1
        if op - ref >= length:
            memcpy(out + op, out + ref, length)
            op += length
        else:
            while length > 0:       # overlapping: byte by byte repeats the pattern
                out[op] = out[ref]
                op += 1
                ref += 1
                length -= 1
    return op


def decompress(data, Py_ssize_t out_len):
    """Exactly out_len bytes, or None for a malformed stream or another length."""
    cdef const unsigned char[::1] view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    cdef Py_ssize_t n = view.shape[0]
    if out_len < 0:
        return None
    cdef bytes out = PyBytes_FromStringAndSize(NULL, out_len)
    cdef unsigned char *outp = <unsigned char *>PyBytes_AS_STRING(out)
    cdef Py_ssize_t produced = _decompress(&view[0] if n else NULL, n, outp, out_len)
    if produced != out_len:
        return None
    return out

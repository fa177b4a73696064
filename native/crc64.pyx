# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twin of persistence/crc64.py: Redis's CRC-64 (Jones polynomial, reflected,
initial value 0, no final xor), eight bytes per step with eight lookup tables."""
from libc.stdint cimport uint64_t
from libc.string cimport memcpy

cdef uint64_t POLY_REFLECTED = 0x95AC9329AC4BC9B5ULL
cdef uint64_t TABLES[8][256]


cdef void _fill_tables() noexcept:
    cdef int byte, bit, k
    cdef uint64_t crc
    for byte in range(256):
        crc = byte
        for bit in range(8):
            crc = (crc >> 1) ^ POLY_REFLECTED if crc & 1 else crc >> 1
        TABLES[0][byte] = crc
    for k in range(1, 8):
        for byte in range(256):
            crc = TABLES[k - 1][byte]
            TABLES[k][byte] = (crc >> 8) ^ TABLES[0][crc & 0xFF]


_fill_tables()


cdef uint64_t _update(uint64_t crc, const unsigned char *p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t word
    while n >= 8:
        memcpy(&word, p, 8)        # the tables assume a little-endian load
        crc ^= word
        crc = (TABLES[7][crc & 0xFF] ^ TABLES[6][(crc >> 8) & 0xFF] ^
               TABLES[5][(crc >> 16) & 0xFF] ^ TABLES[4][(crc >> 24) & 0xFF] ^
               TABLES[3][(crc >> 32) & 0xFF] ^ TABLES[2][(crc >> 40) & 0xFF] ^
               TABLES[1][(crc >> 48) & 0xFF] ^ TABLES[0][crc >> 56])
        p += 8
        n -= 8
    while n > 0:
        crc = TABLES[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return crc


def crc64(data, crc=0):
    """The checksum of `data` (bytes-like), continuing from `crc`."""
    cdef const unsigned char[::1] view = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    cdef uint64_t start = crc
    cdef Py_ssize_t n = view.shape[0]
    if n == 0:
        return start
    return _update(start, &view[0], n)

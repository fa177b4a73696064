# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native twin of server/base/crc16.py: CRC-16/XMODEM (polynomial 0x1021, initial value 0,
no reflection) and the cluster's hash slot of a key, the part between the first '{' and
the '}' after it when that part is not empty."""

cdef unsigned short TABLE[256]


cdef void _fill_table() noexcept:
    cdef unsigned int byte, bit, crc
    for byte in range(256):
        crc = byte << 8
        for bit in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        TABLE[byte] = crc & 0xFFFF


_fill_table()


cdef unsigned int crc16(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef unsigned int crc = 0
    cdef Py_ssize_t i
    for i in range(n):
        crc = ((crc << 8) & 0xFFFF) ^ TABLE[((crc >> 8) ^ p[i]) & 0xFF]
    return crc


cdef unsigned int slot_of(const unsigned char* key, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t s = 0, e
    while s < n and key[s] != b'{':
        s += 1
    if s == n:
        return crc16(key, n) & 0x3FFF
    e = s + 1
    while e < n and key[e] != b'}':
        e += 1
    if e == n or e == s + 1:
        return crc16(key, n) & 0x3FFF
    return crc16(key + s + 1, e - s - 1) & 0x3FFF


def crc16_xmodem(const unsigned char[:] data):
    """The CRC-16/XMODEM of a bytes-like object."""
    if data.shape[0] == 0:
        return 0
    return crc16(&data[0], data.shape[0])


def key_hash_slot(const unsigned char[:] key):
    """The cluster hash slot (0..16383) of a key."""
    if key.shape[0] == 0:
        return 0
    return slot_of(&key[0], key.shape[0])

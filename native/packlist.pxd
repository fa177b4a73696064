# The packed list's varints (server/values/packlist.py's layout), shared with the
# modules that read or write packed lists in C (native/listpack.pyx).
ctypedef unsigned char uchar


cdef inline Py_ssize_t _get_varint(const uchar *p, Py_ssize_t *pos) noexcept:
    cdef size_t n = 0
    cdef int shift = 0
    cdef uchar byte
    while True:
        byte = p[pos[0]]
        pos[0] += 1
        n |= (<size_t>(byte & 0x7F)) << shift
        if byte < 0x80:
            return <Py_ssize_t>n
        shift += 7


cdef inline Py_ssize_t _varint_size(size_t n) noexcept:
    cdef Py_ssize_t size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


cdef inline Py_ssize_t _put_varint(uchar *p, size_t n) noexcept:
    cdef Py_ssize_t i = 0
    while n >= 0x80:
        p[i] = <uchar>((n & 0x7F) | 0x80)
        n >>= 7
        i += 1
    p[i] = <uchar>n
    return i + 1

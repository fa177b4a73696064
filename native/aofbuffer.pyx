# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native twin of persistence/aof.py's CommandBuffer: propagated commands encoded into
the AOF buffer as the file stores them, in C.

Every write command pays this with the AOF on, so the encoding (a RESP array of bulk
strings, a SELECT when the database changes, a #TS: line a second under
aof-timestamp-enabled) is done here without building intermediate objects.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from libc.string cimport memcpy


cdef inline Py_ssize_t _digits(char* out, long long n) noexcept:
    """n in decimal at out (snprintf costs several times more); returns the length."""
    cdef char reversed_digits[24]
    cdef Py_ssize_t length = 0, i = 0
    cdef unsigned long long magnitude = <unsigned long long>(-n) if n < 0 else <unsigned long long>n
    if n < 0:
        out[0] = b"-"
        i = 1
    while True:
        reversed_digits[length] = <char>(48 + magnitude % 10)
        length += 1
        magnitude //= 10
        if magnitude == 0:
            break
    while length:
        length -= 1
        out[i] = reversed_digits[length]
        i += 1
    return i


cdef class CommandBuffer:
    """The commands waiting to be written: `data` (a bytearray the writer drains)."""
    cdef public bytearray data
    cdef public long long selected_db       # -1: the next command starts with a SELECT
    cdef public bint timestamp_enabled
    cdef public long long current_timestamp
    cdef public object clock

    def __init__(self, timestamp_enabled=False, clock=None):
        import time
        self.data = bytearray()
        self.selected_db = -1
        self.timestamp_enabled = timestamp_enabled
        self.current_timestamp = 0
        self.clock = clock if clock is not None else time.time

    cdef int _grow(self, Py_ssize_t extra) except -1:
        PyByteArray_Resize(self.data, PyByteArray_GET_SIZE(self.data) + extra)
        return 0

    cdef int _put(self, const char* text, Py_ssize_t size) except -1:
        cdef Py_ssize_t at = PyByteArray_GET_SIZE(self.data)
        self._grow(size)
        memcpy(PyByteArray_AS_STRING(self.data) + at, text, size)
        return 0

    cdef int _put_header(self, char kind, Py_ssize_t n) except -1:
        cdef char text[32]
        text[0] = kind
        cdef Py_ssize_t length = 1 + _digits(text + 1, n)
        text[length] = b"\r"
        text[length + 1] = b"\n"
        return self._put(text, length + 2)

    cdef int _put_bulk(self, const char* text, Py_ssize_t size) except -1:
        self._put_header(b"$", size)
        self._put(text, size)
        return self._put(b"\r\n", 2)

    cdef int _prefix(self, long long db_index) except -1:
        cdef char digits[24]
        cdef Py_ssize_t n
        cdef long long now
        if self.timestamp_enabled:
            now = <long long>int(self.clock())
            if self.current_timestamp < now:
                self.current_timestamp = now
                self._put(b"#TS:", 4)
                n = _digits(digits, now)
                self._put(digits, n)
                self._put(b"\r\n", 2)
        if db_index != self.selected_db:
            self._put(b"*2\r\n$6\r\nSELECT\r\n", 16)
            n = _digits(digits, db_index)
            self._put_bulk(digits, n)
            self.selected_db = db_index
        return 0

    cpdef feed(self, long long db_index, list argv):
        """Append one propagated command for database db_index."""
        cdef Py_ssize_t i, size, argc = PyList_GET_SIZE(argv)
        cdef Py_ssize_t total = 24          # "*<argc>\r\n"
        cdef object arg
        cdef char* out
        self._prefix(db_index)
        for i in range(argc):               # the whole command's size first: one resize
            arg = <object>PyList_GET_ITEM(argv, i)
            if not PyBytes_CheckExact(arg):
                argv = [a if PyBytes_CheckExact(a) else _as_bytes(a) for a in argv]
                return self.feed(db_index, argv)
            total += PyBytes_GET_SIZE(arg) + 26
        cdef Py_ssize_t start = PyByteArray_GET_SIZE(self.data)
        PyByteArray_Resize(self.data, start + total)
        out = PyByteArray_AS_STRING(self.data) + start
        out[0] = b"*"
        out += 1
        out += _digits(out, argc)
        out[0] = b"\r"
        out[1] = b"\n"
        out += 2
        for i in range(argc):
            arg = <object>PyList_GET_ITEM(argv, i)
            size = PyBytes_GET_SIZE(arg)
            out[0] = b"$"
            out += 1
            out += _digits(out, size)
            out[0] = b"\r"
            out[1] = b"\n"
            out += 2
            memcpy(out, PyBytes_AS_STRING(arg), size)
            out += size
            out[0] = b"\r"
            out[1] = b"\n"
            out += 2
        PyByteArray_Resize(self.data, out - PyByteArray_AS_STRING(self.data))

    def feed_encoded(self, long long db_index, data):
        """feed() for a command already encoded as RESP."""
        self._prefix(db_index)
        self.data += data


cdef object _as_bytes(object arg):
    if isinstance(arg, str):
        return arg.encode("utf-8", "surrogateescape")
    if isinstance(arg, int):
        return b"%d" % arg
    return bytes(arg)

# Declarations of the native parser and writer, so other native modules
# (native/dispatch.pyx) reach their buffers and next_command at C speed.

# Integers as Redis reads (string2ll) and prints them; native/dispatch.pyx uses them too.
cdef bint _parse_ll(const unsigned char* s, Py_ssize_t n, long long* out) noexcept
cdef Py_ssize_t _format_header(char* out, char prefix, long long n) noexcept
# INCRBY's arithmetic on a stored integer's text (incr_string and native/dispatch.pyx).
cdef enum:
    INCR_OK = 0
    INCR_NOT_INTEGER
    INCR_OVERFLOW
cdef int _incr_ll(const unsigned char* text, Py_ssize_t n, long long increment, long long* out) noexcept
# A bulk reply of n bytes appended to a reply buffer (data must not point into it).
cdef int _append_bulk(bytearray buf, const char* data, Py_ssize_t n) except -1


cdef class RequestParser:
    cdef bytearray _buf
    cdef Py_ssize_t _pos
    cdef public long long max_bulk_len
    cdef list _argv           # argv under construction for a partial multibulk
    cdef Py_ssize_t _remaining  # bulks still to read for it
    cdef long long _bulklen   # length of the bulk being read, -1 if unknown

    cpdef object next_command(self, bint auth_required=*)
    cdef object _incomplete_line(self, Py_ssize_t newline, str too_big)
    cdef object _inline(self, const char* base, Py_ssize_t size)


cdef class ReplyWriter:
    cdef bytearray _buf
    cdef public int resp
    cdef public object on_error   # called with the error text, for error stats

    cdef int _line(self, char prefix, bytes text) except -1
    cdef int _count(self, char prefix, bytes fallback, object n) except -1
    cdef int _bulk(self, object data) except -1

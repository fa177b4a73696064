# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twins of protocol.parser.RequestParser and protocol.writer.ReplyWriter.

Same interface, same replies and same errors as the pure-Python classes (the
parity tests run both); the query buffer is scanned with memchr, integers are
parsed and printed in C, and argv items are built straight from the buffer.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport isinf, isnan
from libc.stdio cimport snprintf
from libc.string cimport memchr, memcpy

from protocol.parser import ProtocolError
from protocol.parser import incr_string as _pure_incr_string, parse_int as _pure_parse_int
from protocol.writer import SetReply, Status, format_long_double as _format_long_double


cdef enum:
    KEEP_CONSUMED_BUFFER = 65536    # a fully consumed input buffer bigger than this is released
    BIG_ARG = 32768                 # a bulk the query buffer makes room for at once

cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object obj, int* overflow) except? -1
    bint PyLong_Check(object obj)
    bint PyByteArray_CheckExact(object obj)
    bint PyUnicode_CheckExact(object obj)

cdef enum:
    INLINE_MAX_SIZE = 65536              # longest line without a newline
    MAX_MULTIBULK_LEN = 2147483647       # INT_MAX
    UNAUTH_MAX_MULTIBULK = 10
    UNAUTH_MAX_BULK = 16384
    DQUOTE = 34
    SQUOTE = 39
    BACKSLASH = 92

cdef unsigned long long LLONG_MAX_AS_UNSIGNED = 9223372036854775807ULL
cdef long long LLONG_MAX_VALUE = 9223372036854775807LL
cdef long long LLONG_MIN_VALUE = -9223372036854775807LL - 1


# -- request parsing -----------------------------------------------------------

cdef inline Py_ssize_t _find(const char* base, Py_ssize_t start, Py_ssize_t end, char ch) noexcept:
    """Index of ch in base[start:end], or -1."""
    if end <= start:
        return -1
    cdef const char* hit = <const char*>memchr(base + start, ch, end - start)
    return -1 if hit == NULL else hit - base


cdef bint _parse_ll(const unsigned char* s, Py_ssize_t n, long long* out) noexcept:
    """Strict decimal integer (Redis's string2ll rules: no '+', no leading zeros, no -0)."""
    cdef Py_ssize_t i = 0
    cdef bint negative = False
    cdef unsigned long long value = 0
    cdef unsigned int digit
    if n <= 0 or n > 20:
        return False
    if s[0] == b'-':
        negative = True
        i = 1
        if n == 1:
            return False
    if s[i] == b'0' and n - i > 1:
        return False
    while i < n:
        digit = s[i] - 48
        if digit > 9:
            return False
        if value > (18446744073709551615ULL - digit) // 10:
            return False
        value = value * 10 + digit
        i += 1
    if negative:
        if value == 0 or value > LLONG_MAX_AS_UNSIGNED + 1:
            return False
        out[0] = <long long>(0ULL - value)
    else:
        if value > LLONG_MAX_AS_UNSIGNED:
            return False
        out[0] = <long long>value
    return True


def parse_int(data):
    """Native twin of protocol.parser.parse_int: a strict decimal integer (string2ll), or None."""
    cdef long long value
    if PyBytes_CheckExact(data):
        if _parse_ll(<const unsigned char*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), &value):
            return value
        return None
    if PyByteArray_CheckExact(data):
        if _parse_ll(<const unsigned char*>PyByteArray_AS_STRING(data), PyByteArray_GET_SIZE(data), &value):
            return value
        return None
    return _pure_parse_int(data)


cdef int _incr_ll(const unsigned char* text, Py_ssize_t n, long long increment,
                  long long* out) noexcept:
    """INCRBY's arithmetic: the integer `text` holds plus increment into out (INCR_OK),
    or why not (INCR_NOT_INTEGER, INCR_OVERFLOW)."""
    cdef long long current
    if not _parse_ll(text, n, &current):
        return INCR_NOT_INTEGER
    if (increment < 0 and current < 0 and increment < LLONG_MIN_VALUE - current) or \
            (increment > 0 and current > 0 and increment > LLONG_MAX_VALUE - current):
        return INCR_OVERFLOW
    out[0] = current + increment
    return INCR_OK


def incr_string(value, long long increment):
    """Native twin of protocol.parser.incr_string: INCRBY on a stored string, in C."""
    cdef long long current
    cdef const unsigned char* text
    cdef Py_ssize_t n
    cdef char out[32]
    if PyBytes_CheckExact(value):
        text = <const unsigned char*>PyBytes_AS_STRING(value)
        n = PyBytes_GET_SIZE(value)
    elif PyByteArray_CheckExact(value):
        text = <const unsigned char*>PyByteArray_AS_STRING(value)
        n = PyByteArray_GET_SIZE(value)
    else:
        return _pure_incr_string(value, increment)
    status = _incr_ll(text, n, increment, &current)
    if status == INCR_NOT_INTEGER:
        return None
    if status == INCR_OVERFLOW:
        raise OverflowError("increment or decrement would overflow")
    # _format_header writes a prefix byte and CRLF around the digits; keep only the digits.
    n = _format_header(out, b':', current)
    return current, PyBytes_FromStringAndSize(out + 1, n - 3)


cdef inline bint _is_space(unsigned char c) noexcept:
    return c == b' ' or c == b'\n' or c == b'\r' or c == b'\t' or c == 11 or c == 12


cdef inline int _hex_value(unsigned char c) noexcept:
    if b'0' <= c <= b'9':
        return c - 48
    if b'a' <= c <= b'f':
        return c - 87
    if b'A' <= c <= b'F':
        return c - 55
    return -1


cdef object _split_args(const unsigned char* line, Py_ssize_t n, unsigned char* word):
    """An inline line split into a list of bytes, or None on unbalanced quotes.

    `word` is scratch space of at least n bytes. The rules are protocol.parser.split_args.
    """
    cdef const unsigned char* nul = <const unsigned char*>memchr(line, 0, n)
    if nul != NULL:  # Redis splits a C string: a NUL ends the line
        n = nul - line
    cdef list args = []
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t length
    cdef unsigned char c
    cdef int state   # 0 bare word, 1 double quotes, 2 single quotes
    while True:
        while i < n and _is_space(line[i]):
            i += 1
        if i >= n:
            return args
        length = 0
        state = 0
        while True:
            if state == 1:
                if i >= n:
                    return None
                c = line[i]
                if (c == BACKSLASH and i + 3 < n and line[i + 1] == b'x'
                        and _hex_value(line[i + 2]) >= 0 and _hex_value(line[i + 3]) >= 0):
                    word[length] = <unsigned char>(_hex_value(line[i + 2]) * 16 + _hex_value(line[i + 3]))
                    length += 1
                    i += 3
                elif c == BACKSLASH and i + 1 < n:
                    i += 1
                    c = line[i]
                    if c == b'n':
                        c = 10
                    elif c == b'r':
                        c = 13
                    elif c == b't':
                        c = 9
                    elif c == b'b':
                        c = 8
                    elif c == b'a':
                        c = 7
                    word[length] = c
                    length += 1
                elif c == DQUOTE:
                    if i + 1 < n and not _is_space(line[i + 1]):
                        return None
                    i += 1
                    break
                else:
                    word[length] = c
                    length += 1
            elif state == 2:
                if i >= n:
                    return None
                c = line[i]
                if c == BACKSLASH and i + 1 < n and line[i + 1] == SQUOTE:
                    i += 1
                    word[length] = SQUOTE
                    length += 1
                elif c == SQUOTE:
                    if i + 1 < n and not _is_space(line[i + 1]):
                        return None
                    i += 1
                    break
                else:
                    word[length] = c
                    length += 1
            else:
                if i >= n:
                    break
                c = line[i]
                if c == b' ' or c == b'\n' or c == b'\r' or c == b'\t':
                    break
                if c == DQUOTE:
                    state = 1
                elif c == SQUOTE:
                    state = 2
                else:
                    word[length] = c
                    length += 1
            i += 1
        PyList_Append(args, PyBytes_FromStringAndSize(<char*>word, length))
        if i >= n:
            return args


cdef class RequestParser:
    """Feed bytes in, take complete commands (lists of bytes) out.

    `next_command(auth_required)` returns the next argv, [] for an empty
    request (skipped), or None when more input is needed; it raises
    ProtocolError with Redis's message when the stream is malformed.
    """

    # Attributes are declared in resp.pxd.

    def __init__(self, max_bulk_len=512 * 1024 * 1024):
        self._buf = bytearray()
        self._pos = 0
        self.max_bulk_len = max_bulk_len
        self._argv = None
        self._remaining = 0
        self._bulklen = -1

    @property
    def buf(self):
        return self._buf

    @property
    def pos(self):
        return self._pos

    @pos.setter
    def pos(self, Py_ssize_t value):
        if value < 0 or value > PyByteArray_GET_SIZE(self._buf):
            raise ValueError("position outside the buffer")
        self._pos = value

    def feed(self, data):
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._buf)
        if self._pos and self._pos == size:
            self._buf.clear()
            self._pos = 0
        elif self._pos > 65536:
            del self._buf[:self._pos]
            self._pos = 0
        self._buf += data

    def pending(self):
        """Bytes received and not yet consumed (the query buffer length)."""
        return PyByteArray_GET_SIZE(self._buf) - self._pos

    def peek(self, n):
        """Up to n unconsumed bytes, left in place (for logging)."""
        return bytes(self._buf[self._pos:self._pos + n])

    def partial_args(self):
        """The arguments of a multibulk request read so far, not yet complete (Redis
        keeps them in the client's argv: CLIENT LIST's argv-mem counts them)."""
        return self._argv or ()

    def awaited(self):
        """Bytes still to come of a big bulk (32 KB or more) whose header has been read.
        Redis makes room in the query buffer for such a bulk as soon as it reads the
        header, so a declared argument counts in the client's memory (qbuf-free, tot-mem,
        maxmemory-clients) before it arrives."""
        if self._bulklen < BIG_ARG:
            return 0
        return max(0, self._bulklen + 2 - self.pending())

    cpdef object next_command(self, bint auth_required=False):
        cdef bint auth = auth_required
        cdef const char* base = PyByteArray_AS_STRING(self._buf)
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._buf)
        cdef Py_ssize_t pos = self._pos
        cdef Py_ssize_t newline
        cdef long long count, length
        cdef list argv
        if self._argv is None:
            if pos >= size:
                if size > KEEP_CONSUMED_BUFFER:
                    # All of a big input was consumed: give its memory back now rather
                    # than at the next read, which may be seconds away (a master link).
                    self._buf = bytearray()
                    self._pos = 0
                return None
            if base[pos] != b'*':
                return self._inline(base, size)
            newline = _find(base, pos, size, b'\r')
            if newline < 0 or newline + 1 >= size:
                return self._incomplete_line(newline, "Protocol error: too big mbulk count string")
            if (not _parse_ll(<const unsigned char*>base + pos + 1, newline - pos - 1, &count)
                    or count > MAX_MULTIBULK_LEN):
                if _find(base, pos, newline, 0) >= 0:
                    return self._incomplete_line(-1, "Protocol error: too big mbulk count string")
                raise ProtocolError("Protocol error: invalid multibulk length", "invalid mbulk count")
            if count > UNAUTH_MAX_MULTIBULK and auth:
                raise ProtocolError("Protocol error: unauthenticated multibulk length", "unauth mbulk count")
            pos = newline + 2
            self._pos = pos
            if count <= 0:
                return []
            self._argv = []
            self._remaining = <Py_ssize_t>count
        argv = self._argv
        while self._remaining:
            if self._bulklen < 0:
                newline = _find(base, pos, size, b'\r')
                if newline < 0 or newline + 1 >= size:
                    return self._incomplete_line(newline, "Protocol error: too big bulk count string")
                if base[pos] != b'$':
                    if _find(base, pos, newline, 0) >= 0:
                        return self._incomplete_line(-1, "Protocol error: too big bulk count string")
                    # The offending byte is echoed raw, as Redis's %c does.
                    got = PyBytes_FromStringAndSize(base + pos, 1).decode("utf-8", "surrogateescape")
                    raise ProtocolError("Protocol error: expected '$', got '%s'" % got,
                                        "expected $ but got something else")
                if (not _parse_ll(<const unsigned char*>base + pos + 1, newline - pos - 1, &length)
                        or length < 0 or length > self.max_bulk_len):
                    if _find(base, pos, newline, 0) >= 0:
                        return self._incomplete_line(-1, "Protocol error: too big bulk count string")
                    raise ProtocolError("Protocol error: invalid bulk length", "invalid bulk length")
                if length > UNAUTH_MAX_BULK and auth:
                    raise ProtocolError("Protocol error: unauthenticated bulk length", "unauth bulk length")
                pos = newline + 2
                self._pos = pos
                self._bulklen = length
            if size - pos < self._bulklen + 2:
                return None
            PyList_Append(argv, PyBytes_FromStringAndSize(base + pos, <Py_ssize_t>self._bulklen))
            pos += <Py_ssize_t>self._bulklen + 2
            self._pos = pos
            self._bulklen = -1
            self._remaining -= 1
        self._argv = None
        return argv

    cdef object _incomplete_line(self, Py_ssize_t newline, str too_big):
        """None while a header line lacks its CRLF; see protocol.parser (a NUL hides the line end)."""
        cdef const char* base = PyByteArray_AS_STRING(self._buf)
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(self._buf)
        if newline < 0 or _find(base, self._pos, newline, 0) >= 0:
            if size - self._pos > INLINE_MAX_SIZE:
                raise ProtocolError(too_big, too_big[16:])  # the reason drops "Protocol error: "
        return None

    cdef object _inline(self, const char* base, Py_ssize_t size):
        cdef Py_ssize_t pos = self._pos
        cdef Py_ssize_t newline = _find(base, pos, size, b'\n')
        cdef Py_ssize_t end
        cdef unsigned char* word
        if newline < 0 or _find(base, pos, newline, 0) >= 0:
            if size - pos > INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request", "too big inline request")
            return None
        end = newline
        if end > pos and base[end - 1] == b'\r':
            end -= 1
        word = <unsigned char*>PyMem_Malloc(end - pos + 1)
        if word == NULL:
            raise MemoryError()
        try:
            argv = _split_args(<const unsigned char*>base + pos, end - pos, word)
        finally:
            PyMem_Free(word)
        if argv is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request",
                                "unbalanced quotes in inline request")
        self._pos = newline + 1
        return argv


# -- reply encoding ------------------------------------------------------------

cdef inline char* _grow(bytearray buf, Py_ssize_t extra) except NULL:
    """Make room for `extra` more bytes at the end of buf; return where they go."""
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(buf)
    PyByteArray_Resize(buf, size + extra)
    return PyByteArray_AS_STRING(buf) + size


cdef inline void _put(char** dst, const char* src, Py_ssize_t n) noexcept:
    memcpy(dst[0], src, n)
    dst[0] += n


cdef Py_ssize_t _format_header(char* out, char prefix, long long n) noexcept:
    """Writes prefix, n in decimal and CRLF into out (32 bytes); returns the length."""
    cdef char digits[24]
    cdef char* p = digits + 24
    cdef unsigned long long u = (0ULL - <unsigned long long>n) if n < 0 else <unsigned long long>n
    cdef Py_ssize_t count
    while True:
        p -= 1
        p[0] = <char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    if n < 0:
        p -= 1
        p[0] = b'-'
    count = digits + 24 - p
    out[0] = prefix
    memcpy(out + 1, p, count)
    out[count + 1] = b'\r'
    out[count + 2] = b'\n'
    return count + 3


cdef inline int _append(bytearray buf, const char* data, Py_ssize_t n) except -1:
    memcpy(_grow(buf, n), data, n)
    return 0


cdef inline int _append_header(bytearray buf, char prefix, long long n) except -1:
    cdef char header[32]
    return _append(buf, header, _format_header(header, prefix, n))


cdef int _append_double(bytearray buf, bint resp3, double number) except -1:
    """A double reply: a bulk string of %.17g in RESP2, a RESP3 double."""
    cdef char text[64]
    cdef Py_ssize_t length = _format_double(text, number)
    cdef char* dst
    if resp3:
        dst = _grow(buf, length + 3)
        dst[0] = b','
        dst += 1
        _put(&dst, text, length)
        dst[0] = b'\r'
        dst[1] = b'\n'
    else:
        _append_bulk(buf, text, length)
    return 0


cdef int _append_bulk(bytearray buf, const char* data, Py_ssize_t n) except -1:
    """$<n>\\r\\n<data>\\r\\n with one resize; data must not point into buf."""
    cdef char header[32]
    cdef Py_ssize_t header_len = _format_header(header, b'$', n)
    cdef char* dst = _grow(buf, header_len + n + 2)
    _put(&dst, header, header_len)
    _put(&dst, data, n)
    dst[0] = b'\r'
    dst[1] = b'\n'
    return 0


cdef inline bint _small_int(object n, long long* out):
    """True with the value when n is an int that fits a long long."""
    cdef int overflow = 0
    if not PyLong_Check(n):
        return False
    out[0] = PyLong_AsLongLongAndOverflow(n, &overflow)
    return overflow == 0


cdef Py_ssize_t _format_double(char* out, double value) noexcept:
    """A double as Redis prints it (%.17g, inf/-inf), into out (64 bytes)."""
    if isinf(value):
        if value > 0:
            memcpy(out, b"inf", 3)
            return 3
        memcpy(out, b"-inf", 4)
        return 4
    if isnan(value):  # C would print the sign of a NaN; Python never does
        memcpy(out, b"nan", 3)
        return 3
    return snprintf(out, 64, b"%.17g", value)


cdef class ReplyWriter:
    """Accumulates encoded replies for one client until the loop flushes them."""

    # Attributes are declared in resp.pxd.

    def __init__(self, resp=2, on_error=None):
        self._buf = bytearray()
        self.resp = resp
        self.on_error = on_error

    @property
    def buf(self):
        return self._buf

    @buf.setter
    def buf(self, bytearray value not None):
        self._buf = value

    def take(self):
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def raw(self, data):
        if PyBytes_CheckExact(data):
            _append(self._buf, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        else:
            self._buf += data

    def ok(self):
        _append(self._buf, b"+OK\r\n", 5)

    def simple(self, text):
        if PyUnicode_CheckExact(text):
            text = text.encode()
        if PyBytes_CheckExact(text):
            self._line(b'+', text)
        else:
            self._buf += b"+" + text + b"\r\n"

    def error(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")   # raw bytes go out unchanged
        # Newlines would break the protocol; Redis replaces them with spaces.
        text = text.replace("\r", " ").replace("\n", " ")
        if not text.startswith("-"):
            text = "-" + text
        self._buf += text.encode("utf-8", "surrogateescape") + b"\r\n"
        if self.on_error is not None:
            self.on_error(text[1:])

    def integer(self, n):
        cdef long long value = 0
        if _small_int(n, &value):
            _append_header(self._buf, b':', value)
        else:
            self._buf += b":%d\r\n" % n

    def bulk(self, data):
        self._bulk(data)

    def bulk_or_null(self, data):
        if data is None:
            self.null()
        elif type(self) is ReplyWriter:
            self._bulk(data)
        else:
            self.bulk(data)   # honour a subclass's bulk(), as the pure twin does

    def null(self):
        if self.resp == 3:
            _append(self._buf, b"_\r\n", 3)
        else:
            _append(self._buf, b"$-1\r\n", 5)

    def null_array(self):
        if self.resp == 3:
            _append(self._buf, b"_\r\n", 3)
        else:
            _append(self._buf, b"*-1\r\n", 5)

    def array(self, n):
        self._count(b'*', b"*%d\r\n", n)

    def set(self, n):
        if self.resp == 3:
            self._count(b'~', b"~%d\r\n", n)
        else:
            self._count(b'*', b"*%d\r\n", n)

    def map(self, n):
        cdef long long value = 0
        if self.resp == 3:
            self._count(b'%', b"%%%d\r\n", n)
        elif _small_int(n, &value) and -4611686018427387904 <= value <= 4611686018427387903:
            _append_header(self._buf, b'*', 2 * value)
        else:
            self._buf += b"*%d\r\n" % (2 * n)

    def push(self, n):
        if self.resp == 3:
            self._count(b'>', b">%d\r\n", n)
        else:
            self._count(b'*', b"*%d\r\n", n)

    def double(self, value):
        cdef double number = value   # TypeError/OverflowError as math.isinf() gives them
        _append_double(self._buf, self.resp == 3, number)

    def scored(self, pairs, bint header=True):
        """(member, score) pairs as ZRANGE WITHSCORES replies them: flat member, score in
        RESP2, [member, score] arrays in RESP3; without `header` the elements alone, for a
        reply written in chunks."""
        cdef bint resp3 = self.resp == 3
        cdef Py_ssize_t n = len(pairs)
        if header:
            _append_header(self._buf, b'*', n if resp3 else 2 * n)
        for member, score in pairs:
            if resp3:
                _append(self._buf, b"*2\r\n", 4)
            self._bulk(member)
            _append_double(self._buf, resp3, score)

    def human_double(self, value):
        """A double printed %.17f without trailing zeros (Redis's addReplyHumanLongDouble):
        a bulk string in RESP2, a double in RESP3."""
        text = _format_long_double(value)
        if self.resp == 3:
            self._buf += b"," + text + b"\r\n"
        else:
            _append_bulk(self._buf, text, len(text))

    def boolean(self, value):
        if self.resp == 3:
            if value:
                _append(self._buf, b"#t\r\n", 4)
            else:
                _append(self._buf, b"#f\r\n", 4)
        elif value:
            _append(self._buf, b":1\r\n", 4)
        else:
            _append(self._buf, b":0\r\n", 4)

    def verbatim(self, text, fmt=b"txt"):
        cdef char header[32]
        cdef Py_ssize_t header_len, n, fmt_len
        cdef char* dst
        if PyUnicode_CheckExact(text):
            text = text.encode()
        if self.resp != 3:
            self.bulk(text)
        elif PyBytes_CheckExact(text) and PyBytes_CheckExact(fmt):
            n = PyBytes_GET_SIZE(text)
            fmt_len = PyBytes_GET_SIZE(fmt)
            header_len = _format_header(header, b'=', n + 4)
            dst = _grow(self._buf, header_len + fmt_len + 1 + n + 2)
            _put(&dst, header, header_len)
            _put(&dst, PyBytes_AS_STRING(fmt), fmt_len)
            dst[0] = b':'
            dst += 1
            _put(&dst, PyBytes_AS_STRING(text), n)
            dst[0] = b'\r'
            dst[1] = b'\n'
        else:
            self._buf += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)

    def bulk_array(self, items):
        """An array of bulk strings (None items become nulls)."""
        cdef bytearray buf = self._buf
        cdef bint resp3 = self.resp == 3
        self._count(b'*', b"*%d\r\n", len(items))
        for item in items:
            if item is None:
                if resp3:
                    _append(buf, b"_\r\n", 3)
                else:
                    _append(buf, b"$-1\r\n", 5)
            elif PyBytes_CheckExact(item):
                _append_bulk(buf, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item))
            elif PyByteArray_CheckExact(item) and item is not buf:
                _append_bulk(buf, PyByteArray_AS_STRING(item), PyByteArray_GET_SIZE(item))
            else:
                buf += b"$%d\r\n%s\r\n" % (len(item), item)

    def bulk_rows(self, rows):
        """An array of arrays of bulk strings, one inner array per row (a sequence of
        bytes), as GEOSEARCH WITHDIST replies."""
        self._count(b'*', b"*%d\r\n", len(rows))
        for row in rows:
            self._count(b'*', b"*%d\r\n", len(row))
            for item in row:
                self._bulk(item)

    def value(self, obj):
        """Encode a plain Python value tree (used for static tables like COMMAND)."""
        # Static tables are not a hot path: this dispatches like the pure twin, so
        # a subclass overriding a leaf method sees it used here too.
        if obj is None:
            self.null()
        elif obj is True or obj is False:
            self.boolean(obj)
        elif isinstance(obj, int):
            self.integer(obj)
        elif isinstance(obj, float):
            self.double(obj)
        elif isinstance(obj, (bytes, bytearray, str)):
            self.bulk(obj)
        elif isinstance(obj, Status):
            self.simple(obj.text)
        elif isinstance(obj, dict):
            self.map(len(obj))
            for key, val in obj.items():
                self.value(key)
                self.value(val)
        elif isinstance(obj, SetReply):
            self.set(len(obj.items))
            for item in obj.items:
                self.value(item)
        else:
            self.array(len(obj))
            for item in obj:
                self.value(item)

    # -- helpers -----------------------------------------------------------------

    cdef int _line(self, char prefix, bytes text) except -1:
        cdef Py_ssize_t n = PyBytes_GET_SIZE(text)
        cdef char* dst = _grow(self._buf, n + 3)
        dst[0] = prefix
        memcpy(dst + 1, PyBytes_AS_STRING(text), n)
        dst[n + 1] = b'\r'
        dst[n + 2] = b'\n'
        return 0

    cdef int _count(self, char prefix, bytes fallback, object n) except -1:
        cdef long long value = 0
        if _small_int(n, &value):
            _append_header(self._buf, prefix, value)
        else:
            self._buf += fallback % n
        return 0

    cdef int _bulk(self, object data) except -1:
        if isinstance(data, str):
            data = data.encode()
        if PyBytes_CheckExact(data):
            _append_bulk(self._buf, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
        elif PyByteArray_CheckExact(data) and data is not self._buf:
            _append_bulk(self._buf, PyByteArray_AS_STRING(data), PyByteArray_GET_SIZE(data))
        else:
            self._buf += b"$%d\r\n%s\r\n" % (len(data), data)
        return 0

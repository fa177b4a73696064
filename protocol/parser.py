"""Incremental request parser: RESP multibulk and inline (telnet) commands.

Mirrors how Redis consumes its query buffer: a request starting with `*` is a
multibulk array of `$` bulk strings, anything else is an inline line split the
way redis-cli and telnet users expect (quotes, escapes).
"""

INLINE_MAX_SIZE = 64 * 1024          # longest line without a newline
MAX_MULTIBULK_LEN = 2**31 - 1        # INT_MAX
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384


class ProtocolError(Exception):
    """The request stream is malformed; the client gets `-ERR <msg>` and is closed.

    `reason` is the short cause Redis logs (at verbose level) for the same error.
    """

    def __init__(self, message, reason):
        super().__init__(message)
        self.message = message
        self.reason = reason


def parse_int(data):
    """Strict decimal integer as Redis's string2ll accepts it, or None."""
    if not data or len(data) > 20:
        return None
    if data[0] == 45:  # '-'
        digits = data[1:]
        sign = -1
    else:
        digits = data
        sign = 1
    if not digits or not digits.isdigit() or (digits[0] == 48 and len(digits) > 1):
        return None
    if sign == -1 and digits == b"0":
        return None
    value = sign * int(digits)
    if value > 0x7FFFFFFFFFFFFFFF or value < -0x8000000000000000:
        return None
    return value


def incr_string(value, increment):
    """INCRBY on a stored string: (new integer, its decimal bytes), or None when the string
    is not an integer as string2ll reads it; OverflowError past a signed 64-bit result."""
    current = parse_int(value if value.__class__ is bytes else bytes(value))
    if current is None:
        return None
    result = current + increment
    if result > 0x7FFFFFFFFFFFFFFF or result < -0x8000000000000000:
        raise OverflowError("increment or decrement would overflow")
    return result, b"%d" % result


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_args(line):
    """Split an inline command line into arguments, or None on unbalanced quotes.

    Double quotes allow escapes (\\n, \\xHH ...), single quotes only \\'; a
    closing quote must be followed by a space or the end of the line.
    """
    nul = line.find(b"\0")
    if nul >= 0:  # Redis splits a C string: a NUL ends the line
        line = line[:nul]
    args = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f":
            i += 1
        if i >= n:
            return args
        current = bytearray()
        in_double = in_single = False
        while True:
            if in_double:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == 120 and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    current.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_double = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f":
                        return None
                    in_single = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t":  # \v and \f stay inside a bare word, as in Redis
                    break
                if c == 34:
                    in_double = True
                elif c == 39:
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))
        if i >= n:
            return args


def quote_arg(data):
    """`data` in double quotes with C escapes, the form split_args reads back verbatim
    (Redis's sdscatrepr): bytes, or a str taken as its UTF-8 bytes with surrogate escapes."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    out = ['"']
    for byte in data:
        ch = chr(byte)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % byte)
    out.append('"')
    return "".join(out)


# A bulk at least this long is an argument the query buffer makes room for at once.
BIG_ARG = 32 * 1024

# A fully consumed input buffer bigger than this is released at once.
KEEP_CONSUMED_BUFFER = 65536


class RequestParser:
    """Feed bytes in, take complete commands (lists of bytes) out.

    `next_command(auth_required)` returns the next argv, [] for an empty
    request (skipped), or None when more input is needed; it raises
    ProtocolError with Redis's message when the stream is malformed.
    """

    __slots__ = ("buf", "pos", "max_bulk_len", "_argv", "_remaining", "_bulklen")

    def __init__(self, max_bulk_len=512 * 1024 * 1024):
        self.buf = bytearray()
        self.pos = 0
        self.max_bulk_len = max_bulk_len
        self._argv = None        # argv under construction for a partial multibulk
        self._remaining = 0      # bulks still to read for it
        self._bulklen = -1       # length of the bulk being read, -1 if unknown

    def feed(self, data):
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        elif self.pos > 65536:
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data

    def pending(self):
        """Bytes received and not yet consumed (the query buffer length)."""
        return len(self.buf) - self.pos

    def peek(self, n):
        """Up to n unconsumed bytes, left in place (for logging)."""
        return bytes(self.buf[self.pos:self.pos + n])

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

    def next_command(self, auth_required=False):
        buf = self.buf
        if self._argv is None:
            if self.pos >= len(buf):
                if len(buf) > KEEP_CONSUMED_BUFFER:
                    # All of a big input was consumed: give its memory back now rather
                    # than at the next read, which may be seconds away (a master link).
                    self.buf = bytearray()
                    self.pos = 0
                return None
            if buf[self.pos] != 42:  # not '*': inline
                return self._inline()
            newline = buf.find(b"\r", self.pos)
            if newline < 0 or newline + 1 >= len(buf):
                return self._incomplete_line(newline, "Protocol error: too big mbulk count string")
            count = parse_int(bytes(buf[self.pos + 1:newline]))
            if count is None or count > MAX_MULTIBULK_LEN:
                if buf.find(b"\0", self.pos, newline) >= 0:
                    return self._incomplete_line(-1, "Protocol error: too big mbulk count string")
                raise ProtocolError("Protocol error: invalid multibulk length", "invalid mbulk count")
            if count > UNAUTH_MAX_MULTIBULK and auth_required:
                raise ProtocolError("Protocol error: unauthenticated multibulk length", "unauth mbulk count")
            self.pos = newline + 2
            if count <= 0:
                return []
            self._argv = []
            self._remaining = count
        argv = self._argv
        while self._remaining:
            if self._bulklen < 0:
                newline = buf.find(b"\r", self.pos)
                if newline < 0 or newline + 1 >= len(buf):
                    return self._incomplete_line(newline, "Protocol error: too big bulk count string")
                if buf[self.pos] != 36:  # '$'
                    if buf.find(b"\0", self.pos, newline) >= 0:
                        return self._incomplete_line(-1, "Protocol error: too big bulk count string")
                    # The offending byte is echoed raw, as Redis's %c does.
                    got = bytes(buf[self.pos:self.pos + 1]).decode("utf-8", "surrogateescape")
                    raise ProtocolError("Protocol error: expected '$', got '%s'" % got,
                                        "expected $ but got something else")
                length = parse_int(bytes(buf[self.pos + 1:newline]))
                if length is None or length < 0 or length > self.max_bulk_len:
                    if buf.find(b"\0", self.pos, newline) >= 0:
                        return self._incomplete_line(-1, "Protocol error: too big bulk count string")
                    raise ProtocolError("Protocol error: invalid bulk length", "invalid bulk length")
                if length > UNAUTH_MAX_BULK and auth_required:
                    raise ProtocolError("Protocol error: unauthenticated bulk length", "unauth bulk length")
                self.pos = newline + 2
                self._bulklen = length
            end = self.pos + self._bulklen
            if len(buf) < end + 2:
                return None
            argv.append(bytes(buf[self.pos:end]))
            self.pos = end + 2
            self._bulklen = -1
            self._remaining -= 1
        self._argv = None
        return argv

    def _incomplete_line(self, newline, too_big):
        """None while a header line lacks its CRLF. Redis finds the line end with
        strchr, which stops at a NUL: a line holding one never ends, and fails once
        the pending input outgrows the inline limit."""
        if newline < 0 or self.buf.find(b"\0", self.pos, newline) >= 0:
            if len(self.buf) - self.pos > INLINE_MAX_SIZE:
                raise ProtocolError(too_big, too_big[len("Protocol error: "):])
        return None

    def _inline(self):
        buf = self.buf
        newline = buf.find(b"\n", self.pos)
        if newline < 0 or buf.find(b"\0", self.pos, newline) >= 0:  # see _incomplete_line
            if len(buf) - self.pos > INLINE_MAX_SIZE:
                raise ProtocolError("Protocol error: too big inline request", "too big inline request")
            return None
        end = newline
        if end > self.pos and buf[end - 1] == 13:
            end -= 1
        argv = split_args(bytes(buf[self.pos:end]))
        if argv is None:
            raise ProtocolError("Protocol error: unbalanced quotes in request",
                                "unbalanced quotes in inline request")
        self.pos = newline + 1
        return argv

"""The one reply writer: handlers describe replies, this encodes RESP2 or RESP3.

A client negotiates the protocol with HELLO; handlers never look at it. RESP3
types degrade to their RESP2 shape (map → flat array, double → bulk string,
null → $-1 or *-1, boolean → integer, set → array, push → array).
"""
import math


def format_double(value):
    """A double as Redis prints it: %.17g, with inf/-inf spelled out."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


def format_long_double(value):
    """INCRBYFLOAT/HINCRBYFLOAT style: shortest form, no exponent, no trailing zeros."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    text = "%.17f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text.encode()


class ReplyWriter:
    """Accumulates encoded replies for one client until the loop flushes them."""

    __slots__ = ("buf", "resp", "on_error")

    def __init__(self, resp=2, on_error=None):
        self.buf = bytearray()
        self.resp = resp
        self.on_error = on_error   # called with the error text, for error stats

    def take(self):
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def raw(self, data):
        self.buf += data

    def ok(self):
        self.buf += b"+OK\r\n"

    def simple(self, text):
        if isinstance(text, str):
            text = text.encode()
        self.buf += b"+" + text + b"\r\n"

    def error(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")   # raw bytes go out unchanged
        # Newlines would break the protocol; Redis replaces them with spaces.
        text = text.replace("\r", " ").replace("\n", " ")
        if not text.startswith("-"):
            text = "-" + text
        self.buf += text.encode("utf-8", "surrogateescape") + b"\r\n"
        if self.on_error is not None:
            self.on_error(text[1:])

    def integer(self, n):
        self.buf += b":%d\r\n" % n

    def bulk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.buf += b"$%d\r\n%s\r\n" % (len(data), data)

    def bulk_or_null(self, data):
        if data is None:
            self.null()
        else:
            self.bulk(data)

    def null(self):
        self.buf += b"_\r\n" if self.resp == 3 else b"$-1\r\n"

    def null_array(self):
        self.buf += b"_\r\n" if self.resp == 3 else b"*-1\r\n"

    def array(self, n):
        self.buf += b"*%d\r\n" % n

    def set(self, n):
        self.buf += (b"~%d\r\n" if self.resp == 3 else b"*%d\r\n") % n

    def map(self, n):
        if self.resp == 3:
            self.buf += b"%%%d\r\n" % n
        else:
            self.buf += b"*%d\r\n" % (2 * n)

    def push(self, n):
        self.buf += (b">%d\r\n" if self.resp == 3 else b"*%d\r\n") % n

    def double(self, value):
        text = format_double(value)
        if self.resp == 3:
            self.buf += b"," + text + b"\r\n"
        else:
            self.buf += b"$%d\r\n%s\r\n" % (len(text), text)

    def human_double(self, value):
        """A double printed %.17f without trailing zeros (Redis's addReplyHumanLongDouble):
        a bulk string in RESP2, a double in RESP3."""
        text = format_long_double(value)
        if self.resp == 3:
            self.buf += b"," + text + b"\r\n"
        else:
            self.buf += b"$%d\r\n%s\r\n" % (len(text), text)

    def boolean(self, value):
        if self.resp == 3:
            self.buf += b"#t\r\n" if value else b"#f\r\n"
        else:
            self.buf += b":1\r\n" if value else b":0\r\n"

    def verbatim(self, text, fmt=b"txt"):
        if isinstance(text, str):
            text = text.encode()
        if self.resp == 3:
            self.buf += b"=%d\r\n%s:%s\r\n" % (len(text) + 4, fmt, text)
        else:
            self.bulk(text)

    def bulk_array(self, items):
        """An array of bulk strings (None items become nulls)."""
        buf = self.buf
        buf += b"*%d\r\n" % len(items)
        null = b"_\r\n" if self.resp == 3 else b"$-1\r\n"
        for item in items:
            if item is None:
                buf += null
            else:
                buf += b"$%d\r\n%s\r\n" % (len(item), item)

    def scored(self, pairs, header=True):
        """(member, score) pairs as ZRANGE WITHSCORES replies them: flat member, score in
        RESP2, [member, score] arrays in RESP3; without `header` the elements alone, for a
        reply written in chunks."""
        resp3 = self.resp == 3
        if header:
            self.array(len(pairs) if resp3 else 2 * len(pairs))
        for member, score in pairs:
            if resp3:
                self.buf += b"*2\r\n"
            self.bulk(member)
            self.double(score)

    def bulk_rows(self, rows):
        """An array of arrays of bulk strings, one inner array per row (a sequence of
        bytes), as GEOSEARCH WITHDIST replies."""
        self.array(len(rows))
        for row in rows:
            self.array(len(row))
            for item in row:
                self.bulk(item)

    def value(self, obj):
        """Encode a plain Python value tree (used for static tables like COMMAND)."""
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


class Status:
    """A simple-string (+...) leaf inside a value tree."""
    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text


class SetReply:
    """A RESP3 set (array in RESP2) inside a value tree."""
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

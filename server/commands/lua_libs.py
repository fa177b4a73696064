"""The libraries Redis 7.0 gives Lua scripts besides Lua's own: bit (LuaBitOp), cjson,
cmsgpack, struct, and math.random / math.randomseed on Redis's rand48 sequence.

They are plain Python called from the sandbox (server/commands/scripting.py): Lua strings
arrive as bytes, numbers as int or float, tables as lupa LuaTable objects, and
what a function returns goes back to Lua as is (a tuple is several results).
A failure raises ScriptError carrying the Lua error value; for the messages C
libraries raise with luaL_error, the engine prefixes the caller's position
("user_script:1: ") at raise time, as luaL_where does.
"""
import math
import re
import struct as pystruct
import traceback

import lupa.lua51 as lua51

from server.base.log import log

LLONG_MIN = -2 ** 63


class ScriptError(Exception):
    """A Lua error raised from Python: `value` is what Lua code sees (string or table)."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class LuaFunction:
    """A Python function offered to Lua; Lua calls it like one of its C functions.

    An error leaves as a ScriptError holding plain Python values and no traceback: lupa
    keeps the last error raised through Lua, and a traceback would keep the call's
    arguments alive, Lua objects among them; when they are freed after the coroutine
    they came from is gone, lupa touches that dead Lua thread and corrupts memory. For
    the same reason error tables travel as dicts (ScriptEngine.error_value)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args):
        try:
            return self.fn(*args)
        except ScriptError as exc:
            error = ScriptError(exc.value)
        except Exception as exc:                    # a bug in Python code reached from Lua
            log.warning("Error in a function called from a script:\n%s"
                        % "".join(traceback.format_exception(exc)))
            error = ScriptError(("%s: %s" % (type(exc).__name__, exc)).encode("utf-8",
                                                                              "replace"))
        del args
        raise error

    def __str__(self):
        return "function: 0x%x" % id(self)


class LuaNull:
    """cjson.null: a userdata every script compares by identity."""

    def __str__(self):
        return "userdata: (nil)"


NULL = LuaNull()


# -- Lua value helpers ---------------------------------------------------------------------

def lua_type_name(value):
    """The name Lua's type() gives a value that crossed into Python."""
    if value is None:
        return "nil"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, bytes):
        return "string"
    if isinstance(value, LuaFunction):
        return "function"
    kind = lua51.lua_type(value)
    return kind if kind is not None else "userdata"


_NUMBER = re.compile(
    rb"[+-]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
    rb"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
    rb"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)")
_C_SPACE = b" \t\n\v\f\r"


def strtod_prefix(data, pos=0):
    """(value, end) of the number glibc's strtod reads at data[pos:], or (None, pos)."""
    match = _NUMBER.match(data, pos)
    if match is None:
        return None, pos
    text = match.group().decode("ascii")
    body = text.lstrip("+-")
    if body[:2] in ("0x", "0X"):
        value = float.fromhex(text)
    elif body[:1] in "iI":
        value = float(text[:len(text) - len(body)] + "inf")
    elif body[:1] in "nN":
        value = math.nan
    else:
        value = float(text)
    return value, match.end()


def lua_str2number(data):
    """A string as Lua 5.1 converts it to a number (lua_tonumber), or None."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    start = 0
    while start < len(data) and data[start] in _C_SPACE:
        start += 1
    value, end = strtod_prefix(data, start)
    if value is None or end == start:
        return None
    if data[end:].strip(_C_SPACE):
        return None
    return value


def lua_tonumber(value):
    """lua_tonumber: numbers and numeric strings, None for the rest."""
    if value is True or value is False:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, bytes):
        return lua_str2number(value)
    return None


def c_number_format(fmt, value):
    """printf of a double: a NaN keeps its sign ("-nan", what 0/0 gives on x86)."""
    if isinstance(value, float) and math.isnan(value):
        return b"-nan" if math.copysign(1.0, value) < 0 else b"nan"
    return fmt % value


def number_to_lua_string(value):
    """lua_tolstring of a number: LUA_NUMBER_FMT, "%.14g"."""
    return c_number_format(b"%.14g", value)


def c_long(value):
    """(long) of a double as x86-64 converts it: truncation, LLONG_MIN when out of range."""
    if isinstance(value, int):
        return value if -2 ** 63 <= value < 2 ** 63 else LLONG_MIN
    if math.isnan(value) or math.isinf(value):
        return LLONG_MIN
    value = int(value)
    return value if -2 ** 63 <= value < 2 ** 63 else LLONG_MIN


def c_int(value):
    """(int)(lua_Integer) of a Lua number: the low 32 bits of the long conversion."""
    value = c_long(value) & 0xFFFFFFFF
    return value - 0x100000000 if value & 0x80000000 else value


def typename_of_arg(args, index):
    """Lua's name for argument `index` (1-based): "no value" when it is absent."""
    if index > len(args):
        return "no value"
    return lua_type_name(args[index - 1])


class Failure(Exception):
    """A library error as luaL_error raises it: the engine adds the caller's position."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def text(self, function_name):
        return self.message


class ArgFailure(Failure):
    """luaL_argerror: the message names the function as its caller called it ('?' if unknown)."""

    def __init__(self, index, extra):
        super().__init__(extra)
        self.index = index

    def text(self, function_name):
        return "bad argument #%d to '%s' (%s)" % (self.index, function_name or "?", self.message)


def arg_error(args, index, function, extra):
    return ArgFailure(index, extra)


def type_error(args, index, function, expected):
    return arg_error(args, index, function,
                     "%s expected, got %s" % (expected, typename_of_arg(args, index)))


def check_number(args, index, function):
    """luaL_checknumber."""
    value = lua_tonumber(args[index - 1]) if index <= len(args) else None
    if value is None:
        raise type_error(args, index, function, "number")
    return value


def check_integer(args, index, function):
    """luaL_checkinteger: a number truncated to a C long."""
    return c_long(check_number(args, index, function))


def opt_integer(args, index, function, default):
    if index > len(args) or args[index - 1] is None:
        return default
    return check_integer(args, index, function)


def check_string(args, index, function):
    """luaL_checklstring: strings, and numbers in their %.14g form."""
    value = args[index - 1] if index <= len(args) else None
    if isinstance(value, bytes):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_to_lua_string(value)
    raise type_error(args, index, function, "string")


# -- math.random ---------------------------------------------------------------------------

class Rand48:
    """Redis's redisLrand48: the drand48 generator, one process-wide sequence."""

    MASK = (1 << 48) - 1
    MAX = 2 ** 31 - 1                     # REDIS_LRAND48_MAX

    def __init__(self):
        self.state = 0x1234ABCD330E

    def seed(self, value):
        self.state = ((value & 0xFFFFFFFF) << 16) | 0x330E

    def next(self):
        self.state = (0x5DEECE66D * self.state + 0xB) & self.MASK
        return self.state >> 17

    def random(self, *args):
        fraction = (self.next() % self.MAX) / self.MAX
        if not args:
            return fraction
        if len(args) == 1:
            upper = c_int(check_integer(args, 1, "random"))
            if upper < 1:
                raise arg_error(args, 1, "random", "interval is empty")
            return float(math.floor(fraction * upper) + 1)
        if len(args) == 2:
            lower = c_int(check_integer(args, 1, "random"))
            upper = c_int(check_integer(args, 2, "random"))
            if lower > upper:
                raise arg_error(args, 2, "random", "interval is empty")
            return float(math.floor(fraction * (upper - lower + 1)) + lower)
        raise Failure("wrong number of arguments")

    def randomseed(self, *args):
        self.seed(c_int(check_integer(args, 1, "randomseed")))


# -- bit (LuaBitOp) -----------------------------------------------------------------------------

def _bit_arg(args, index, function):
    """LuaBitOp's barg: the low 32 bits of the number rounded by adding 2^52+2^51."""
    value = lua_tonumber(args[index - 1]) if index <= len(args) else None
    if value is None:
        raise type_error(args, index, function, "number")
    shifted = float(value) + 6755399441055744.0
    return pystruct.unpack("<Q", pystruct.pack("<d", shifted))[0] & 0xFFFFFFFF


def _signed(bits):
    bits &= 0xFFFFFFFF
    return float(bits - 0x100000000 if bits & 0x80000000 else bits)


def bit_tobit(*args):
    return _signed(_bit_arg(args, 1, "tobit"))


def bit_bnot(*args):
    return _signed(~_bit_arg(args, 1, "bnot"))


def _bit_fold(name, combine):
    def fold(*args):
        result = _bit_arg(args, 1, name)
        for index in range(len(args), 1, -1):
            result = combine(result, _bit_arg(args, index, name))
        return _signed(result)
    return fold


bit_band = _bit_fold("band", lambda a, b: a & b)
bit_bor = _bit_fold("bor", lambda a, b: a | b)
bit_bxor = _bit_fold("bxor", lambda a, b: a ^ b)


def _bit_shift(name, shift):
    def apply(*args):
        value = _bit_arg(args, 1, name)
        count = _bit_arg(args, 2, name) & 31
        return _signed(shift(value, count))
    return apply


def _arshift(value, count):
    signed = value - 0x100000000 if value & 0x80000000 else value
    return signed >> count


bit_lshift = _bit_shift("lshift", lambda b, n: b << n)
bit_rshift = _bit_shift("rshift", lambda b, n: b >> n)
bit_arshift = _bit_shift("arshift", _arshift)
bit_rol = _bit_shift("rol", lambda b, n: (b << n) | (b >> (32 - n)))
bit_ror = _bit_shift("ror", lambda b, n: (b << (32 - n)) | (b >> n))


def bit_bswap(*args):
    b = _bit_arg(args, 1, "bswap")
    return _signed((b >> 24) | ((b >> 8) & 0xFF00) | ((b & 0xFF00) << 8) | (b << 24))


def bit_tohex(*args):
    value = _bit_arg(args, 1, "tohex")
    count = 8 if len(args) < 2 else int(_signed(_bit_arg(args, 2, "tohex")))
    digits = "0123456789abcdef"
    if count < 0:
        count = -count
        digits = "0123456789ABCDEF"
    count = min(count, 8)
    out = []
    for _ in range(count):
        out.append(digits[value & 15])
        value >>= 4
    return "".join(reversed(out)).encode()


BIT_FUNCTIONS = {
    "tobit": bit_tobit, "bnot": bit_bnot, "band": bit_band, "bor": bit_bor, "bxor": bit_bxor,
    "lshift": bit_lshift, "rshift": bit_rshift, "arshift": bit_arshift, "rol": bit_rol,
    "ror": bit_ror, "bswap": bit_bswap, "tohex": bit_tohex,
}


# -- cjson ---------------------------------------------------------------------------------------

def _json_escapes():
    table = {}
    for byte in range(32):
        table[byte] = "\\u%04x" % byte
    table.update({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r",
                  ord('"'): '\\"', ord("\\"): "\\\\", ord("/"): "\\/", 127: "\\u007f"})
    return {byte: text.encode() for byte, text in table.items()}


JSON_ESCAPES = _json_escapes()
_JSON_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\/\x7f]')

# lua_cjson's token types, named as its error messages name them
T_OBJ_BEGIN, T_OBJ_END, T_ARR_BEGIN, T_ARR_END, T_STRING, T_NUMBER, T_BOOLEAN, T_NULL, \
    T_COLON, T_COMMA, T_END, T_WHITESPACE, T_ERROR, T_UNKNOWN = range(14)
TOKEN_NAMES = ("T_OBJ_BEGIN", "T_OBJ_END", "T_ARR_BEGIN", "T_ARR_END", "T_STRING", "T_NUMBER",
               "T_BOOLEAN", "T_NULL", "T_COLON", "T_COMMA", "T_END", "T_WHITESPACE", "T_ERROR",
               "T_UNKNOWN")
_SINGLE_TOKENS = {ord("{"): T_OBJ_BEGIN, ord("}"): T_OBJ_END, ord("["): T_ARR_BEGIN,
                  ord("]"): T_ARR_END, ord(","): T_COMMA, ord(":"): T_COLON}
_JSON_SPACE = b" \t\n\r"
_ESCAPE_CHARS = {ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/", ord("b"): b"\b",
                 ord("t"): b"\t", ord("n"): b"\n", ord("f"): b"\f", ord("r"): b"\r"}


class CJson:
    """cjson 2.1.0 as Redis builds it: encode, decode and the configuration functions."""

    def __init__(self, new_table):
        self.new_table = new_table       # Python list or dict -> Lua table
        self.sparse_convert = False
        self.sparse_ratio = 2
        self.sparse_safe = 10
        self.encode_max_depth = 1000
        self.decode_max_depth = 1000
        self.encode_invalid_numbers = 0  # 0 off, 1 on, 2 "null"
        self.decode_invalid_numbers = True
        self.keep_buffer = True
        self.precision = 14

    # -- encoding --

    def encode(self, *args):
        if len(args) != 1:
            raise arg_error(args, 1, "encode", "expected 1 argument")
        out = []
        self._encode_value(args[0], out, 0)
        return b"".join(out)

    def _encode_value(self, value, out, depth):
        if isinstance(value, bytes):
            out.append(self._string(value))
        elif value is True:
            out.append(b"true")
        elif value is False:
            out.append(b"false")
        elif isinstance(value, (int, float)):
            out.append(self._number(value, "number"))
        elif value is None or value is NULL:
            out.append(b"null")
        elif lua51.lua_type(value) == "table":
            depth += 1
            if depth > self.encode_max_depth:
                raise Failure("Cannot serialise, excessive nesting (%d)" % depth)
            items = list(value.items())
            length = self._array_length(items)
            if length > 0:
                by_index = dict(items)
                out.append(b"[")
                for index in range(1, length + 1):
                    if index > 1:
                        out.append(b",")
                    self._encode_value(by_index.get(index), out, depth)
                out.append(b"]")
            else:
                out.append(b"{")
                for position, (key, item) in enumerate(items):
                    if position:
                        out.append(b",")
                    if isinstance(key, bytes):
                        out.append(self._string(key))
                    elif isinstance(key, (int, float)) and not isinstance(key, bool):
                        out.append(b'"' + self._number(key, "number") + b'"')
                    else:
                        raise Failure("Cannot serialise %s: table key must be a number or string"
                                      % lua_type_name(key))
                    out.append(b":")
                    self._encode_value(item, out, depth)
                out.append(b"}")
        else:
            raise Failure("Cannot serialise %s: type not supported" % lua_type_name(value))

    def _array_length(self, items):
        """lua_cjson's lua_array_length: the highest index, or -1 for an object."""
        highest = 0
        for key, _ in items:
            if isinstance(key, bool) or not isinstance(key, (int, float)) or key == 0:
                return -1
            if math.floor(key) != key or key < 1:
                return -1
            highest = max(highest, int(key))
        if self.sparse_ratio > 0 and highest > len(items) * self.sparse_ratio \
                and highest > self.sparse_safe:
            if not self.sparse_convert:
                raise Failure("Cannot serialise table: excessively sparse array")
            return -1
        return highest

    def _number(self, value, what):
        if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
            if self.encode_invalid_numbers == 0:
                raise Failure("Cannot serialise %s: must not be NaN or Inf" % what)
            if self.encode_invalid_numbers == 2:
                return b"null"
            if math.isnan(value):
                return b"nan"
        return c_number_format(b"%%.%dg" % self.precision, value)

    @staticmethod
    def _string(data):
        if _JSON_NEEDS_ESCAPE.search(data):
            data = b"".join(JSON_ESCAPES.get(byte) or bytes((byte,)) for byte in data)
        return b'"' + data + b'"'

    # -- decoding --

    def decode(self, *args):
        if len(args) != 1:
            raise arg_error(args, 1, "decode", "expected 1 argument")
        data = check_string(args, 1, "decode")
        if len(data) >= 2 and (data[0] == 0 or data[1] == 0):
            raise Failure("JSON parser does not support UTF-16 or UTF-32")
        nul = data.find(b"\0")
        self.data = data if nul < 0 else data[:nul]      # the C parser stops at a NUL
        self.pos = 0
        self.depth = 0
        try:
            value = self._value(self._next_token())
            token = self._next_token()
            if token[0] != T_END:
                self._parse_error("the end", token)
        finally:
            self.data = None
        return value

    def _parse_error(self, expected, token):
        kind, index, value = token
        found = value if kind == T_ERROR else TOKEN_NAMES[kind]
        raise Failure("Expected %s but found %s at character %d" % (expected, found, index + 1))

    def _next_token(self):
        """(type, index, value) of the next token, as json_next_token reads it."""
        data = self.data
        pos = self.pos
        while pos < len(data) and data[pos] in _JSON_SPACE:
            pos += 1
        self.pos = pos
        if pos >= len(data):
            return T_END, pos, None
        ch = data[pos]
        single = _SINGLE_TOKENS.get(ch)
        if single is not None:
            self.pos = pos + 1
            return single, pos, None
        if ch == ord('"'):
            return self._string_token(pos)
        if ch == ord("-") or 48 <= ch <= 57:
            if not self.decode_invalid_numbers and self._invalid_number(pos):
                return T_ERROR, pos, "invalid number"
            return self._number_token(pos)
        if data.startswith(b"true", pos):
            self.pos = pos + 4
            return T_BOOLEAN, pos, True
        if data.startswith(b"false", pos):
            self.pos = pos + 5
            return T_BOOLEAN, pos, False
        if data.startswith(b"null", pos):
            self.pos = pos + 4
            return T_NULL, pos, None
        if ch in b"+iInN" and self.decode_invalid_numbers and self._invalid_number(pos):
            return self._number_token(pos)
        return T_ERROR, pos, "invalid token"

    def _invalid_number(self, pos):
        data = self.data
        if data[pos:pos + 1] == b"+":
            return True
        if data[pos:pos + 1] == b"-":
            pos += 1
        first = data[pos:pos + 1]
        if first == b"0":
            second = data[pos + 1:pos + 2]
            return second in (b"x", b"X") or (second != b"" and second in b"0123456789")
        if first and first <= b"9":
            return False
        word = data[pos:pos + 3].lower()
        return word in (b"inf", b"nan")

    def _number_token(self, pos):
        value, end = strtod_prefix(self.data, pos)
        if value is None or end == pos:
            return T_ERROR, pos, "invalid number"
        self.pos = end
        return T_NUMBER, pos, value

    def _string_token(self, start):
        data = self.data
        pos = start + 1
        out = bytearray()
        while True:
            if pos >= len(data):
                self.pos = pos
                return T_ERROR, pos, "unexpected end of string"
            ch = data[pos]
            if ch == ord('"'):
                break
            if ch == ord("\\"):
                escape = data[pos + 1] if pos + 1 < len(data) else 0
                if escape == ord("u"):
                    consumed = self._unicode_escape(pos, out)
                    if consumed is None:
                        self.pos = pos
                        return T_ERROR, pos, "invalid unicode escape code"
                    pos += consumed
                    continue
                translated = _ESCAPE_CHARS.get(escape)
                if translated is None:
                    self.pos = pos
                    return T_ERROR, pos, "invalid escape code"
                out += translated
                pos += 2
                continue
            out.append(ch)
            pos += 1
        self.pos = pos + 1
        return T_STRING, start, bytes(out)

    def _unicode_escape(self, pos, out):
        """Append the UTF-8 of \\uXXXX (or a surrogate pair) at pos; the bytes consumed."""
        code = self._hex4(pos + 2)
        if code is None:
            return None
        length = 6
        if code & 0xF800 == 0xD800:
            if code & 0x400:
                return None
            if self.data[pos + 6:pos + 8] != b"\\u":
                return None
            low = self._hex4(pos + 8)
            if low is None or low & 0xFC00 != 0xDC00:
                return None
            code = (((code & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000
            length = 12
        out += chr(code).encode("utf-8", "surrogatepass")
        return length

    def _hex4(self, pos):
        digits = self.data[pos:pos + 4]
        if len(digits) < 4 or not all(d in b"0123456789abcdefABCDEF" for d in digits):
            return None
        return int(digits, 16)

    def _descend(self):
        self.depth += 1
        if self.depth > self.decode_max_depth:
            raise Failure("Found too many nested data structures (%d) at character %d"
                          % (self.depth, self.pos))

    def _value(self, token):
        kind = token[0]
        if kind in (T_STRING, T_NUMBER, T_BOOLEAN):
            return token[2]
        if kind == T_NULL:
            return NULL
        if kind == T_OBJ_BEGIN:
            return self._object()
        if kind == T_ARR_BEGIN:
            return self._array()
        self._parse_error("value", token)

    def _object(self):
        self._descend()
        fields = {}
        token = self._next_token()
        if token[0] == T_OBJ_END:
            self.depth -= 1
            return self.new_table(fields)
        while True:
            if token[0] != T_STRING:
                self._parse_error("object key string", token)
            key = token[2]
            token = self._next_token()
            if token[0] != T_COLON:
                self._parse_error("colon", token)
            fields[key] = self._value(self._next_token())
            token = self._next_token()
            if token[0] == T_OBJ_END:
                self.depth -= 1
                return self.new_table(fields)
            if token[0] != T_COMMA:
                self._parse_error("comma or object end", token)
            token = self._next_token()

    def _array(self):
        self._descend()
        items = []
        token = self._next_token()
        if token[0] == T_ARR_END:
            self.depth -= 1
            return self.new_table(items)
        while True:
            items.append(self._value(token))
            token = self._next_token()
            if token[0] == T_ARR_END:
                self.depth -= 1
                return self.new_table(items)
            if token[0] != T_COMMA:
                self._parse_error("comma or array end", token)
            token = self._next_token()

    # -- configuration --

    def _integer_option(self, args, name, attribute, low, high):
        if len(args) > 1:
            raise arg_error(args, 2, name, "found too many arguments")
        if args and args[0] is not None:
            value = c_int(check_integer(args, 1, name))
            if not low <= value <= high:
                raise arg_error(args, 1, name, "expected integer between %d and %d" % (low, high))
            setattr(self, attribute, value)
        return getattr(self, attribute)

    def _bool_option(self, args, name, attribute, count=1):
        if len(args) > count:
            raise arg_error(args, count + 1, name, "found too many arguments")
        if args and args[0] is not None:
            value = args[0]
            if value is True or value is False:
                setattr(self, attribute, value)
            elif value in (b"on", b"off"):
                setattr(self, attribute, value == b"on")
            else:
                raise arg_error(args, 1, name, "invalid option '%s'"
                                % _text(check_string(args, 1, name)))
        return getattr(self, attribute)

    def cfg_encode_max_depth(self, *args):
        return self._integer_option(args, "encode_max_depth", "encode_max_depth", 1, 2 ** 31 - 1)

    def cfg_decode_max_depth(self, *args):
        return self._integer_option(args, "decode_max_depth", "decode_max_depth", 1, 2 ** 31 - 1)

    def cfg_encode_number_precision(self, *args):
        return self._integer_option(args, "encode_number_precision", "precision", 1, 14)

    def cfg_encode_keep_buffer(self, *args):
        return self._bool_option(args, "encode_keep_buffer", "keep_buffer")

    def cfg_decode_invalid_numbers(self, *args):
        return self._bool_option(args, "decode_invalid_numbers", "decode_invalid_numbers")

    def cfg_encode_invalid_numbers(self, *args):
        name = "encode_invalid_numbers"
        if len(args) > 1:
            raise arg_error(args, 2, name, "found too many arguments")
        options = (b"off", b"on", b"null")
        if args and args[0] is not None:
            value = args[0]
            if value is True or value is False:
                self.encode_invalid_numbers = int(value)
            else:
                text = check_string(args, 1, name)
                if text not in options:
                    raise arg_error(args, 1, name, "invalid option '%s'" % _text(text))
                self.encode_invalid_numbers = options.index(text)
        if self.encode_invalid_numbers in (0, 1):
            return bool(self.encode_invalid_numbers)
        return b"null"

    def cfg_encode_sparse_array(self, *args):
        name = "encode_sparse_array"
        if len(args) > 3:
            raise arg_error(args, 4, name, "found too many arguments")
        args = tuple(args) + (None,) * (3 - len(args))
        self._bool_option(args[:1], name, "sparse_convert")
        self._integer_option(args[1:2], name, "sparse_ratio", 0, 2 ** 31 - 1)
        self._integer_option(args[2:3], name, "sparse_safe", 0, 2 ** 31 - 1)
        return self.sparse_convert, self.sparse_ratio, self.sparse_safe

    def functions(self):
        return {
            "encode": self.encode, "decode": self.decode,
            "encode_sparse_array": self.cfg_encode_sparse_array,
            "encode_max_depth": self.cfg_encode_max_depth,
            "decode_max_depth": self.cfg_decode_max_depth,
            "encode_number_precision": self.cfg_encode_number_precision,
            "encode_keep_buffer": self.cfg_encode_keep_buffer,
            "encode_invalid_numbers": self.cfg_encode_invalid_numbers,
            "decode_invalid_numbers": self.cfg_decode_invalid_numbers,
            "new": self.new,
        }

    def new(self, *args):
        """cjson.new(): a module table with its own configuration (built by the engine)."""
        raise Failure("cjson.new is not supported")


def _text(data):
    return data.decode("utf-8", "replace")


# -- cmsgpack --------------------------------------------------------------------------------

MSGPACK_MAX_NESTING = 16


class MsgPack:
    """lua-cmsgpack 0.4.0: pack, unpack, unpack_one, unpack_limit."""

    def __init__(self, new_table):
        self.new_table = new_table

    def pack(self, *args):
        if not args:
            raise ArgFailure(0, "MessagePack pack needs input.")
        out = bytearray()
        for value in args:
            self._encode(value, out, 0)
        return bytes(out)

    def _encode(self, value, out, level):
        kind = lua_type_name(value)
        if kind == "table" and level == MSGPACK_MAX_NESTING:
            kind = "nil"
        if kind == "string":
            self._bytes(value, out)
        elif kind == "boolean":
            out.append(0xC3 if value else 0xC2)
        elif kind == "number":
            if not (isinstance(value, float) and (math.isinf(value) or math.isnan(value))) \
                    and -2 ** 63 <= value < 2 ** 63 and int(value) == value:
                self._integer(int(value), out)
            else:
                self._double(float(value), out)
        elif kind == "table":
            items = list(value.items())
            if self._is_array(items):
                length = len(value)
                self._header(out, length, 0x90, 0xDC, 0xDD)
                for index in range(1, length + 1):
                    self._encode(value[index], out, level + 1)
            else:
                self._header(out, len(items), 0x80, 0xDE, 0xDF)
                for key, item in items:
                    self._encode(key, out, level + 1)
                    self._encode(item, out, level + 1)
        else:
            out.append(0xC0)

    @staticmethod
    def _is_array(items):
        highest = 0
        for key, _ in items:
            if isinstance(key, bool) or not isinstance(key, (int, float)) or key <= 0:
                return False
            if not -2 ** 31 <= key < 2 ** 31 or int(key) != key:
                return False
            highest = max(highest, int(key))
        return highest == len(items)

    @staticmethod
    def _header(out, n, fix, mid, big):
        if n <= 15:
            out.append(fix | n)
        elif n <= 0xFFFF:
            out.append(mid)
            out += n.to_bytes(2, "big")
        else:
            out.append(big)
            out += (n & 0xFFFFFFFF).to_bytes(4, "big")

    @staticmethod
    def _bytes(data, out):
        n = len(data)
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFF:
            out += bytes((0xD9, n))
        elif n <= 0xFFFF:
            out.append(0xDA)
            out += n.to_bytes(2, "big")
        else:
            out.append(0xDB)
            out += (n & 0xFFFFFFFF).to_bytes(4, "big")
        out += data

    @staticmethod
    def _double(value, out):
        """float 32 when the value survives the round trip through a C float, else 64."""
        try:
            single = pystruct.unpack(">f", pystruct.pack(">f", value))[0]
        except OverflowError:
            single = None
        if single is not None and single == value:
            out.append(0xCA)
            out += pystruct.pack(">f", value)
        else:
            out.append(0xCB)
            out += pystruct.pack(">d", value)

    @staticmethod
    def _integer(n, out):
        if n >= 0:
            if n <= 127:
                out.append(n)
            elif n <= 0xFF:
                out += bytes((0xCC, n))
            elif n <= 0xFFFF:
                out.append(0xCD)
                out += n.to_bytes(2, "big")
            elif n <= 0xFFFFFFFF:
                out.append(0xCE)
                out += n.to_bytes(4, "big")
            else:
                out.append(0xCF)
                out += n.to_bytes(8, "big")
        elif n >= -32:
            out.append(n & 0xFF)
        elif n >= -128:
            out += bytes((0xD0, n & 0xFF))
        elif n >= -32768:
            out.append(0xD1)
            out += n.to_bytes(2, "big", signed=True)
        elif n >= -2 ** 31:
            out.append(0xD2)
            out += n.to_bytes(4, "big", signed=True)
        else:
            out.append(0xD3)
            out += n.to_bytes(8, "big", signed=True)

    # -- decoding --

    def unpack(self, *args):
        return self._unpack_full(args, 0, 0, "unpack")

    def unpack_one(self, *args):
        offset = opt_integer(args, 2, "unpack_one", 0)
        return self._unpack_full(args[:1], 1, offset, "unpack_one")

    def unpack_limit(self, *args):
        limit = check_integer(args, 2, "unpack_limit")
        offset = opt_integer(args, 3, "unpack_limit", 0)
        return self._unpack_full(args[:1], limit, offset, "unpack_limit")

    def _unpack_full(self, args, limit, offset, name):
        data = check_string(args, 1, name)
        decode_all = not limit and not offset
        if offset < 0 or limit < 0:
            raise Failure("Invalid request to unpack with offset of %d and limit of %d."
                          % (c_int(offset), len(data)))
        if offset > len(data):
            raise Failure("Start offset %d greater than input length %d." % (offset, len(data)))
        if decode_all:
            limit = 2 ** 31 - 1
        self.data = data
        self.pos = offset
        results = []
        try:
            while self.pos < len(data) and len(results) < limit:
                results.append(self._decode())
        except IndexError:
            raise Failure("Missing bytes in input.")
        except ValueError:
            raise Failure("Bad data format in input.")
        finally:
            self.data = None
        if not decode_all:
            results.insert(0, -1 if self.pos >= len(data) else self.pos)
        return tuple(results)

    def _take(self, n):
        start = self.pos
        if start + n > len(self.data):
            raise IndexError
        self.pos = start + n
        return self.data[start:start + n]

    def _decode(self):
        first = self._take(1)[0]
        if first <= 0x7F:
            return first
        if first >= 0xE0:
            return first - 256
        if 0xA0 <= first <= 0xBF:
            return self._take(first & 0x1F)
        if 0x90 <= first <= 0x9F:
            return self._array(first & 0x0F)
        if 0x80 <= first <= 0x8F:
            return self._map(first & 0x0F)
        if first == 0xC0:
            return None
        if first == 0xC2:
            return False
        if first == 0xC3:
            return True
        fixed = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
                 0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
                 0xCA: (">f", 4), 0xCB: (">d", 8)}.get(first)
        if fixed is not None:
            value = pystruct.unpack(fixed[0], self._take(fixed[1]))[0]
            if first == 0xCF and value >> 63:
                value -= 1 << 64            # pushed through a signed lua_Integer
            return value
        if first in (0xD9, 0xDA, 0xDB):
            size = {0xD9: 1, 0xDA: 2, 0xDB: 4}[first]
            return self._take(int.from_bytes(self._take(size), "big"))
        if first in (0xDC, 0xDD):
            return self._array(int.from_bytes(self._take(2 if first == 0xDC else 4), "big"))
        if first in (0xDE, 0xDF):
            return self._map(int.from_bytes(self._take(2 if first == 0xDE else 4), "big"))
        raise ValueError(first)

    def _array(self, n):
        return self.new_table([self._decode() for _ in range(n)])

    def _map(self, n):
        fields = {}
        for _ in range(n):
            key = self._decode()
            fields[key] = self._decode()
        return self.new_table({k: v for k, v in fields.items() if k is not None})

    def functions(self):
        return {"pack": self.pack, "unpack": self.unpack, "unpack_one": self.unpack_one,
                "unpack_limit": self.unpack_limit}


# -- struct ------------------------------------------------------------------------------------

STRUCT_SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "l": 8, "L": 8, "T": 8, "f": 4, "d": 8, "x": 1}
MAXINTSIZE = 32
MASK64 = (1 << 64) - 1
MAXALIGN = 8


class StructFormat:
    """A cursor over a struct format string with its endianness and alignment state."""

    def __init__(self, fmt):
        nul = fmt.find(b"\0")
        self.fmt = fmt if nul < 0 else fmt[:nul]
        self.pos = 0
        self.little = True
        self.align = 1

    def options(self):
        while self.pos < len(self.fmt):
            opt = chr(self.fmt[self.pos])
            self.pos += 1
            yield opt, self._size(opt)

    def _number(self, default):
        if self.pos >= len(self.fmt) or not chr(self.fmt[self.pos]).isdigit():
            return default
        value = 0
        while self.pos < len(self.fmt) and chr(self.fmt[self.pos]).isdigit():
            digit = self.fmt[self.pos] - 48
            if value > (2 ** 31 - 1) // 10 or value * 10 > 2 ** 31 - 1 - digit:
                raise Failure("integral size overflow")
            value = value * 10 + digit
            self.pos += 1
        return value

    def _size(self, opt):
        if opt in STRUCT_SIZES:
            return STRUCT_SIZES[opt]
        if opt == "c":
            return self._number(1)
        if opt in "iI":
            size = self._number(4)
            if size > MAXINTSIZE:
                raise Failure("integral size %d is larger than limit of %d" % (size, MAXINTSIZE))
            return size
        return 0

    def padding(self, length, opt, size):
        if size == 0 or opt == "c":
            return 0
        size = min(size, self.align)
        return (size - (length & (size - 1))) & (size - 1)

    def control(self, opt):
        if opt == " ":
            return
        if opt == ">":
            self.little = False
        elif opt == "<":
            self.little = True
        elif opt == "!":
            align = self._number(MAXALIGN)
            if align <= 0 or align & (align - 1):
                raise Failure("alignment %d is not a power of 2" % align)
            self.align = align
        else:
            raise ArgFailure(1, "invalid format option '%s'" % opt)


def struct_pack(*args):
    fmt = StructFormat(check_string(args, 1, "pack"))
    args += (None,)       # the C function pushes a nil mark after its arguments: "got nil"
    out = bytearray()
    arg = 2
    for opt, size in fmt.options():
        pad = fmt.padding(len(out), opt, size)
        out += b"\0" * pad
        if opt in "bBhHlLTiI":
            number = check_number(args, arg, "pack")
            arg += 1
            value = (c_long(number) if number < 0 else _c_ulong(number)) & MASK64
            raw = bytes((value >> (8 * i)) & 0xFF if i < 8 else 0 for i in range(size))
            out += raw if fmt.little else raw[::-1]
        elif opt == "x":
            out.append(0)
        elif opt in "fd":
            number = float(check_number(args, arg, "pack"))
            arg += 1
            code = "f" if opt == "f" else "d"
            out += pystruct.pack(("<" if fmt.little else ">") + code, _to_single(number)
                                 if code == "f" else number)
        elif opt in "cs":
            data = check_string(args, arg, "pack")
            arg += 1
            length = size if size else len(data)
            if len(data) < length:
                raise arg_error(args, arg, "pack", "string too short")
            out += data[:length]
            if opt == "s":
                out.append(0)
        else:
            fmt.control(opt)
    return bytes(out)


def _c_ulong(number):
    """(unsigned long) of a non-negative double as gcc compiles it on x86-64."""
    if isinstance(number, float) and math.isnan(number):
        return 0x8000000000000000
    if number >= 2 ** 64:
        return 0
    return int(number)


def _to_single(number):
    try:
        return pystruct.unpack("f", pystruct.pack("f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)


def struct_unpack(*args):
    fmt = StructFormat(check_string(args, 1, "unpack"))
    data = check_string(args, 2, "unpack")
    pos = opt_integer(args, 3, "unpack", 1)
    if pos <= 0:
        raise arg_error(args, 3, "unpack", "offset must be 1 or greater")
    pos -= 1
    results = []
    for opt, size in fmt.options():
        pos += fmt.padding(pos, opt, size)
        if not (size <= len(data) and pos <= len(data) - size):
            raise arg_error(args, 2, "unpack", "data string too short")
        if opt in "bBhHlLTiI":
            value = 0
            chunk = data[pos:pos + size]
            for byte in (chunk[::-1] if fmt.little else chunk):
                value = ((value << 8) | byte) & MASK64
            if opt.islower() and 0 < size <= 8:
                sign = (MASK64 << (size * 8 - 1)) & MASK64
                if value & sign:
                    value |= sign
            if opt.islower() and value >> 63:
                value -= 1 << 64
            results.append(float(value))
        elif opt == "x":
            pass
        elif opt in "fd":
            chunk = data[pos:pos + size]
            results.append(pystruct.unpack(("<" if fmt.little else ">") + opt, chunk)[0])
        elif opt == "c":
            if size == 0:
                if not results or lua_tonumber(results[-1]) is None:
                    raise Failure("format 'c0' needs a previous size")
                number = lua_tonumber(results.pop())
                # converted to size_t as C does: negative sizes become huge
                size = _c_ulong(number) if number >= 0 else c_long(number) & MASK64
                if not (size <= len(data) and pos <= len(data) - size):
                    raise arg_error(args, 2, "unpack", "data string too short")
            results.append(data[pos:pos + size])
        elif opt == "s":
            end = data.find(b"\0", pos)
            if end < 0:
                raise Failure("unfinished string in data")
            size = end - pos + 1
            results.append(data[pos:end])
        else:
            fmt.control(opt)
        pos += size
    results.append(pos + 1)
    return tuple(results)


def struct_size(*args):
    fmt = StructFormat(check_string(args, 1, "size"))
    pos = 0
    for opt, size in fmt.options():
        pos += fmt.padding(pos, opt, size)
        if opt == "s":
            raise arg_error(args, 1, "size", "option 's' has no fixed size")
        if opt == "c" and size == 0:
            raise arg_error(args, 1, "size", "option 'c0' has no fixed size")
        if not opt.isalnum():
            fmt.control(opt)
        pos += size
    return pos


STRUCT_FUNCTIONS = {"pack": struct_pack, "unpack": struct_unpack, "size": struct_size}

"""The RDB value codec: one value as Redis 7.0 (RDB version 10) serialises it, a
type byte followed by the type's payload. DUMP/RESTORE use it on its own; the
RDB file writer and loader use it for every key.

    value_type(value), write_value(out, value, config)
        the type byte and the payload separately (a file has the key between them)
    encode_value(value, config)
        both together, as DUMP needs them
    decode_value(Reader(data, pos), type_byte, config)
        the value back; the Reader also reads lengths and strings for the file loader

Writing produces what Redis produces for the same contents and encoding:

    string   integer encodings (8/16/32-bit) for canonical integers of up to
             11 characters, LZF when rdbcompression is on, the string is longer
             than 20 bytes and compression saves at least 4 bytes, raw otherwise
    list     RDB_TYPE_LIST_QUICKLIST_2: listpack nodes split as RPUSH fills a
             quicklist under list-max-listpack-size, interior nodes compressed
             under list-compress-depth as the quicklist does
    hash     RDB_TYPE_HASH_LISTPACK (small) or RDB_TYPE_HASH
    set      RDB_TYPE_SET_INTSET (the narrowest integer width holding every
             member) or RDB_TYPE_SET
    zset     RDB_TYPE_ZSET_LISTPACK (small) or RDB_TYPE_ZSET_2 (binary doubles,
             highest score first)
    stream   RDB_TYPE_STREAM_LISTPACKS_2: each node's listpack as Redis holds it
             (the value type splits nodes where Redis does), then the metadata,
             consumer groups, their PELs and consumers

Reading accepts everything Redis 7.0 loads for these types, older encodings
included (RDB_TYPE_LIST, ziplist lists and quicklists, zipmap and ziplist
hashes, ziplist sorted sets, RDB_TYPE_ZSET with text scores, the
RDB_TYPE_STREAM_LISTPACKS of 6.x). Every length is
checked against the bytes actually present before anything is allocated and
every loop is bounded by the input, so corrupt input raises RdbFormatError
(EmptyValueError for a well-formed but empty aggregate, which the file loader
skips and RESTORE refuses). Packed encodings are always checked entry by
entry, with the checks Redis makes under sanitize-dump-payload yes: a value
here is rebuilt from its entries, so a malformed or duplicated entry cannot be
kept as Redis would keep it without sanitisation.

The decoded value takes the encoding Redis gives it on load under the current
config (e.g. a listpack hash with more entries than hash-max-listpack-entries
becomes a hashtable).

Where the bytes can differ from Redis's: hashtable-encoded hashes and sets come
out in another order (Redis's follows its seeded hash table); a list is split
into nodes as if built by RPUSH, while Redis keeps the node boundaries its
pushes, inserts and loads made; an intset is written in the narrowest width,
while Redis keeps a wider one after the member that needed it is removed.
A stream is checked more strictly than Redis's sanitisation does: node counters
must match the entries' flags, the length the nodes' live entries, and a pending
entry may belong to one consumer only. Module values are not supported.
"""
import math
import re
import struct
import sys
from array import array

from persistence import lzf
from protocol.parser import parse_int
from server.base.native_bridge import PURE
from server.commands.hashes import Hash
from server.commands.lists import ListValue
from server.commands.sets import Set
from server.commands.zsets import SortedSet
from server.values.packlist import implementation as _packlist_implementation
from server.values.sets import INTSET_HARD_LIMIT
from server.values.streams import (Consumer, PendingEntry, Stream, StreamNode,
                                   FLAG_DELETED, FLAG_SAMEFIELDS, SEQ_MASK, make_id,
                                   _as_int64 as _stream_int)

_packlist = _packlist_implementation()

# native/listpack.pyx: listpacks to and from the values' packed lists in one C pass each.
# Its pure-Python twin is the entry-by-entry code below (build_listpack, parse_listpack,
# _pairs, _quicklist_nodes), which runs when it is not built or under PYREDIS_PURE=1.
_native = None
if not PURE:
    try:
        from native import listpack as _native
    except ImportError:
        pass

RDB_VERSION = 10

# Object types (the type byte).
TYPE_STRING = 0
TYPE_LIST = 1
TYPE_SET = 2
TYPE_ZSET = 3
TYPE_HASH = 4
TYPE_ZSET_2 = 5
TYPE_MODULE = 6
TYPE_MODULE_2 = 7
TYPE_HASH_ZIPMAP = 9
TYPE_LIST_ZIPLIST = 10
TYPE_SET_INTSET = 11
TYPE_ZSET_ZIPLIST = 12
TYPE_HASH_ZIPLIST = 13
TYPE_LIST_QUICKLIST = 14
TYPE_STREAM_LISTPACKS = 15
TYPE_HASH_LISTPACK = 16
TYPE_ZSET_LISTPACK = 17
TYPE_LIST_QUICKLIST_2 = 18
TYPE_STREAM_LISTPACKS_2 = 19


def is_object_type(type_byte):
    return 0 <= type_byte <= 7 or 9 <= type_byte <= 19


# Length prefixes: 00xxxxxx, 01xxxxxx xxxxxxxx, 0x80 + u32 BE, 0x81 + u64 BE,
# or 11xxxxxx for a specially encoded string.
LEN_32BIT = 0x80
LEN_64BIT = 0x81
ENC_INT8, ENC_INT16, ENC_INT32, ENC_LZF = 0, 1, 2, 3

QUICKLIST_PLAIN = 1                # a node holding one big element as is
QUICKLIST_PACKED = 2               # a node holding a listpack
PACKED_THRESHOLD = 1 << 30         # elements this big get a plain node
QUICKLIST_SIZE_LEVELS = (4096, 8192, 16384, 32768, 65536)   # fill -1 .. -5
QUICKLIST_SAFETY_LIMIT = 8192
QUICKLIST_ENTRY_OVERHEAD = 8       # the quicklist's estimate of an entry's extra bytes
QUICKLIST_FILL_MAX = (1 << 15) - 1
QUICKLIST_MIN_COMPRESS = 48
QUICKLIST_MIN_COMPRESS_GAIN = 8

LISTPACK_MAX_COUNT = 65535         # the header's count field saturates here
LZF_MAX_RATIO = 88                 # a 3-byte back reference expands to 264 bytes

_pack_double = struct.Struct("<d").pack
_unpack_double = struct.Struct("<d").unpack_from
_format_int = b"%d".__mod__


class RdbFormatError(Exception):
    """The serialised data is corrupt, truncated, or of a type not supported here."""


class EmptyValueError(RdbFormatError):
    """A well-formed aggregate with no elements (Redis never stores one)."""


# -- writing -------------------------------------------------------------------------------

def write_length(out, n):
    if n < 1 << 6:
        out.append(n)
    elif n < 1 << 14:
        out += bytes((0x40 | (n >> 8), n & 0xFF))
    elif n <= 0xFFFFFFFF:
        out.append(LEN_32BIT)
        out += n.to_bytes(4, "big")
    else:
        out.append(LEN_64BIT)
        out += n.to_bytes(8, "big")


def _encoded_int(s):
    """The 8/16/32-bit string encoding of s, None if s is no such integer."""
    if len(s) > 11:
        return None
    value = parse_int(s)
    if value is None:
        return None
    if -128 <= value <= 127:
        return bytes((0xC0 | ENC_INT8, value & 0xFF))
    if -32768 <= value <= 32767:
        return bytes((0xC0 | ENC_INT16,)) + (value & 0xFFFF).to_bytes(2, "little")
    if -2147483648 <= value <= 2147483647:
        return bytes((0xC0 | ENC_INT32,)) + (value & 0xFFFFFFFF).to_bytes(4, "little")
    return None


def write_lzf_blob(out, compressed, original_len):
    out.append(0xC0 | ENC_LZF)
    write_length(out, len(compressed))
    write_length(out, original_len)
    out += compressed


def write_string(out, s, compress=True):
    """A string as rdbSaveRawString writes it: integer, LZF or raw."""
    n = len(s)
    if n <= 11:
        encoded = _encoded_int(s)
        if encoded is not None:
            out += encoded
            return
    if compress and n > 20:
        compressed = lzf.compress(s, n - 4)
        if compressed is not None:
            write_lzf_blob(out, compressed, n)
            return
    write_length(out, n)
    out += s


if _native is not None:
    _pure_write_string = write_string

    def write_string(out, s, compress=True):        # noqa: F811 (the native twin)
        """A string as rdbSaveRawString writes it: integer, LZF or raw."""
        if out.__class__ is bytearray and s.__class__ is bytes:
            _native.write_string(out, s, compress)
        else:
            _pure_write_string(out, s, compress)


def _listpack_int(value):
    """The listpack encoding of an int64."""
    if 0 <= value <= 127:
        return bytes((value,))
    if -4096 <= value <= 4095:
        u = value & 0x1FFF
        return bytes((0xC0 | (u >> 8), u & 0xFF))
    if -32768 <= value <= 32767:
        return b"\xf1" + (value & 0xFFFF).to_bytes(2, "little")
    if -8388608 <= value <= 8388607:
        return b"\xf2" + (value & 0xFFFFFF).to_bytes(3, "little")
    if -2147483648 <= value <= 2147483647:
        return b"\xf3" + (value & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\xf4" + (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")


def _backlen(n):
    """The entry-length suffix that lets a listpack be walked backwards."""
    if n <= 127:
        return bytes((n,))
    if n < 16383:
        return bytes((n >> 7, (n & 127) | 128))
    if n < 2097151:
        return bytes((n >> 14, ((n >> 7) & 127) | 128, (n & 127) | 128))
    if n < 268435455:
        return bytes((n >> 21, ((n >> 14) & 127) | 128, ((n >> 7) & 127) | 128, (n & 127) | 128))
    return bytes((n >> 28, ((n >> 21) & 127) | 128, ((n >> 14) & 127) | 128,
                  ((n >> 7) & 127) | 128, (n & 127) | 128))


def listpack_entry(item):
    """One listpack entry (encoding, data, back length) for bytes or an int."""
    if item.__class__ is int:
        encoded = _listpack_int(item)
    else:
        value = parse_int(item)
        if value is not None:
            encoded = _listpack_int(value)
        else:
            n = len(item)
            if n < 64:
                encoded = bytes((0x80 | n,)) + item
            elif n < 4096:
                encoded = bytes((0xE0 | (n >> 8), n & 0xFF)) + item
            else:
                encoded = b"\xf0" + n.to_bytes(4, "little") + item
    return encoded + _backlen(len(encoded))


def listpack_from_entries(entries, count):
    """A whole listpack from already encoded entries."""
    body = b"".join(entries)
    total = 6 + len(body) + 1
    return (total.to_bytes(4, "little") + min(count, LISTPACK_MAX_COUNT).to_bytes(2, "little")
            + body + b"\xff")


def build_listpack(items):
    entries = [listpack_entry(item) for item in items]
    return listpack_from_entries(entries, len(entries))


def build_intset(numbers):
    """An intset blob of ascending int64s, in the narrowest width that holds them all."""
    width = 2
    if numbers:
        low, high = numbers[0], numbers[-1]
        if low < -2147483648 or high > 2147483647:
            width = 8
        elif low < -32768 or high > 32767:
            width = 4
    body = array({2: "h", 4: "i", 8: "q"}[width], numbers)
    if sys.byteorder != "little":
        body.byteswap()
    return width.to_bytes(4, "little") + len(numbers).to_bytes(4, "little") + body.tobytes()


def _score_entry(score):
    """A sorted-set score as zzlInsertAt stores it: an integer when exact, else text."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if -4611686018427387903.0 <= score <= 4611686018427387903.0 and score == int(score):
        return int(score)
    return b"%.17g" % score


def value_type(value):
    """The type byte Redis writes for a value in its current encoding (rdbSaveObjectType)."""
    if isinstance(value, (bytes, bytearray)):
        return TYPE_STRING
    kind = value.TYPE
    if kind == "list":
        return TYPE_LIST_QUICKLIST_2
    if kind == "hash":
        return TYPE_HASH_LISTPACK if value.encoding() == "listpack" else TYPE_HASH
    if kind == "set":
        return TYPE_SET_INTSET if value.encoding() == "intset" else TYPE_SET
    if kind == "zset":
        return TYPE_ZSET_LISTPACK if value.encoding() == "listpack" else TYPE_ZSET_2
    if kind == "stream":
        return TYPE_STREAM_LISTPACKS_2
    raise RdbFormatError("no RDB encoding for type %r" % kind)


def write_value(out, value, config):
    """A value's payload after its type byte, as rdbSaveObject writes it."""
    compress = bool(config.rdbcompression)
    rdb_type = value_type(value)
    if rdb_type == TYPE_STRING:
        write_string(out, bytes(value), compress)
    elif rdb_type == TYPE_HASH_LISTPACK:
        if _native is not None and out.__class__ is bytearray:
            _native.write_packed_listpack(out, value.packed(), compress)
            return
        items = []
        for field, item in value.items():
            items.append(field)
            items.append(item)
        write_string(out, build_listpack(items), compress)
    elif rdb_type == TYPE_HASH:
        write_length(out, len(value))
        for field, item in value.items():
            write_string(out, field, compress)
            write_string(out, item, compress)
    elif rdb_type == TYPE_SET_INTSET:
        write_string(out, build_intset(value.intset_numbers()), compress)
    elif rdb_type == TYPE_SET:
        write_length(out, len(value))
        if _native is not None and out.__class__ is bytearray:
            _native.write_strings(out, value, compress)
            return
        for member in value:
            write_string(out, member, compress)
    elif rdb_type == TYPE_ZSET_LISTPACK:
        if _native is not None and out.__class__ is bytearray:
            _native.write_zpacked_listpack(out, value.packed(), compress)
            return
        items = []
        for member, score in value.items():
            items.append(member)
            items.append(_score_entry(score))
        write_string(out, build_listpack(items), compress)
    elif rdb_type == TYPE_ZSET_2:
        write_length(out, len(value))
        for member, score in value.items(0, len(value), reverse=True):
            write_string(out, member, compress)
            out += _pack_double(score)
    elif rdb_type == TYPE_STREAM_LISTPACKS_2:
        _write_stream(out, value, compress)
    else:
        _write_quicklist(out, value, config, compress)


def encode_value(value, config):
    """The type byte and payload of a value: what DUMP serialises."""
    out = bytearray((value_type(value),))
    write_value(out, value, config)
    return bytes(out)


def _quicklist_nodes(elements, fill):
    """The nodes a quicklist holds after RPUSHing `elements` one by one:
    (container, [encoded entries] or the element itself) each."""
    fill = max(-5, min(fill, QUICKLIST_FILL_MAX))
    size_limit = QUICKLIST_SIZE_LEVELS[-fill - 1] if fill < 0 else None
    nodes = []
    entries = None                 # the open tail node's entries
    node_bytes = 0
    for element in elements:
        n = len(element)
        if n >= PACKED_THRESHOLD:
            nodes.append((QUICKLIST_PLAIN, element))
            entries = None
            continue
        if entries is not None:
            estimate = node_bytes + n + QUICKLIST_ENTRY_OVERHEAD
            if size_limit is not None and estimate <= size_limit:
                fits = True
            elif estimate > QUICKLIST_SAFETY_LIMIT:
                fits = False
            else:
                fits = len(entries) < fill
        if entries is None or not fits:
            entries = []
            nodes.append((QUICKLIST_PACKED, entries))
            node_bytes = 7
        entry = listpack_entry(element)
        entries.append(entry)
        node_bytes += len(entry)
    return nodes


def _write_quicklist(out, value, config, compress):
    if _native is not None:
        # (container, blob) with the listpacks built
        nodes = _native.quicklist_nodes(value.range(0, len(value)), config.list_max_listpack_size)
    else:
        nodes = [(container, listpack_from_entries(content, len(content))
                  if container == QUICKLIST_PACKED else content)
                 for container, content in _quicklist_nodes(value, config.list_max_listpack_size)]
    depth = config.list_compress_depth
    write_length(out, len(nodes))
    last_uncompressed = len(nodes) - depth
    for i, (container, blob) in enumerate(nodes):
        write_length(out, container)
        if depth and depth <= i < last_uncompressed and len(blob) >= QUICKLIST_MIN_COMPRESS:
            # an interior node the quicklist keeps compressed: saved as it is in memory
            compressed = lzf.compress(blob, len(blob))
            if compressed is not None and len(compressed) + QUICKLIST_MIN_COMPRESS_GAIN < len(blob):
                write_lzf_blob(out, compressed, len(blob))
                continue
        write_string(out, blob, compress)


# -- streams -----------------------------------------------------------------------------------
# RDB_TYPE_STREAM_LISTPACKS_2, as rdbSaveObject lays a stream out:
#   node count, then per node its master ID (16 bytes, big-endian ms then seq: the radix
#   tree key) and its listpack; length, last ID, first ID, greatest deleted ID (ms and seq
#   as lengths each), entries added; group count, then per group (in name order) its name,
#   last ID, entries read (-1 as a 64-bit length), its PEL (count, then per entry the raw
#   ID, delivery time as 8 little-endian bytes, delivery count) and its consumers (count,
#   then per consumer its name, seen time, and its PEL's raw IDs).
# RDB_TYPE_STREAM_LISTPACKS (6.x) lacks first ID, greatest deleted ID, entries added and
# the groups' entries read.

U64 = (1 << 64) - 1


def _raw_id(entry_id):
    return entry_id.to_bytes(16, "big")


def _node_listpack(node):
    if _native is not None:
        # the body's listpack built in C, the two counters spliced in front of its entries
        body = _native.packed_listpack(node.body)
        counters = listpack_entry(node.count) + listpack_entry(node.deleted)
        total = len(body) + len(counters)
        count = min(int.from_bytes(body[4:6], "little") + 2, LISTPACK_MAX_COUNT)
        return (total.to_bytes(4, "little") + count.to_bytes(2, "little") + counters
                + body[6:])
    return build_listpack(node.listpack_items())


def _write_id(out, entry_id):
    write_length(out, entry_id >> 64)
    write_length(out, entry_id & SEQ_MASK)


def _write_stream(out, stream, compress):
    write_length(out, len(stream.nodes))
    for node in stream.nodes:
        write_string(out, _raw_id(node.master), compress)
        write_string(out, _node_listpack(node), compress)
    write_length(out, stream.length)
    _write_id(out, stream.last_id)
    _write_id(out, stream.first_id)
    _write_id(out, stream.max_deleted_id)
    write_length(out, stream.entries_added)
    groups = stream.groups_in_order()
    write_length(out, len(groups))
    for group in groups:
        write_string(out, group.name, compress)
        _write_id(out, group.last_id)
        write_length(out, group.entries_read & U64)
        pending = group.pel.range()
        write_length(out, len(pending))
        for entry_id, entry in pending:
            out += _raw_id(entry_id)
            out += (entry.delivery_time & U64).to_bytes(8, "little")
            write_length(out, entry.delivery_count)
        consumers = group.consumers_in_order()
        write_length(out, len(consumers))
        for consumer in consumers:
            write_string(out, consumer.name, compress)
            out += (consumer.seen_time & U64).to_bytes(8, "little")
            ids = consumer.pel.ids()
            write_length(out, len(ids))
            for entry_id in ids:
                out += _raw_id(entry_id)


# -- reading -------------------------------------------------------------------------------

class Reader:
    """Reads RDB primitives from bytes, raising RdbFormatError past the end.
    `more_to_come`: the bytes are a stream's first part, so running out of them is no
    error yet and must reach the caller as "unexpected end of data", untranslated."""
    __slots__ = ("data", "pos", "more_to_come")

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos
        self.more_to_come = False

    def remaining(self):
        return len(self.data) - self.pos

    def take(self, n):
        start = self.pos
        end = start + n
        if n < 0 or end > len(self.data):
            raise RdbFormatError("unexpected end of data")
        self.pos = end
        return self.data[start:end]

    def byte(self):
        pos = self.pos
        if pos >= len(self.data):
            raise RdbFormatError("unexpected end of data")
        self.pos = pos + 1
        return self.data[pos]

    def length_or_encoding(self):
        """(n, False) for a length, (encoding, True) for a specially encoded string."""
        first = self.byte()
        kind = first >> 6
        if kind == 3:
            return first & 0x3F, True
        if kind == 0:
            return first & 0x3F, False
        if kind == 1:
            return ((first & 0x3F) << 8) | self.byte(), False
        if first == LEN_32BIT:
            return int.from_bytes(self.take(4), "big"), False
        if first == LEN_64BIT:
            return int.from_bytes(self.take(8), "big"), False
        raise RdbFormatError("unknown length encoding %d" % first)

    def length(self):
        # an encoding marker read as a length gives its low six bits, as in Redis
        return self.length_or_encoding()[0]

    def string(self):
        # the common case inline: a raw string of fewer than 64 bytes
        data = self.data
        pos = self.pos
        if pos < len(data):
            first = data[pos]
            if first < 0x40:
                end = pos + 1 + first
                if end > len(data):
                    self.pos = pos + 1
                    raise RdbFormatError("unexpected end of data")
                self.pos = end
                return data[pos + 1:end]
            if _native is not None:
                got = _native.read_string(data, pos)
                if got is not None:
                    self.pos = got[1]
                    return got[0]
        return self._string()

    def _string(self):
        n, encoded = self.length_or_encoding()
        if not encoded:
            return self.take(n)
        if n == ENC_INT8:
            return _format_int(int.from_bytes(self.take(1), "little", signed=True))
        if n == ENC_INT16:
            return _format_int(int.from_bytes(self.take(2), "little", signed=True))
        if n == ENC_INT32:
            return _format_int(int.from_bytes(self.take(4), "little", signed=True))
        if n == ENC_LZF:
            compressed_len = self.length()
            original_len = self.length()
            if compressed_len > self.remaining():
                raise RdbFormatError("unexpected end of data")
            if original_len > compressed_len * LZF_MAX_RATIO:
                raise RdbFormatError("Invalid LZF compressed string")
            compressed = self.take(compressed_len)
            if original_len == 0:
                return b""             # Redis checks only the produced length: 0 always matches
            text = lzf.decompress(compressed, original_len)
            if text is None:
                raise RdbFormatError("Invalid LZF compressed string")
            return text
        raise RdbFormatError("unknown string encoding %d" % n)

    def binary_double(self):
        return _unpack_double(self.take(8))[0]

    def text_double(self):
        """A score of the old RDB_TYPE_ZSET: a length byte, then text (253-255: nan, ±inf)."""
        n = self.byte()
        if n == 255:
            return -math.inf
        if n == 254:
            return math.inf
        if n == 253:
            return math.nan
        value = parse_c_double(self.take(n).split(b"\0", 1)[0], whole=False)
        if value is None:
            raise RdbFormatError("invalid double")
        return value


_C_DOUBLE = re.compile(
    rb"\s*([+-]?(?:inf(?:inity)?|nan(?:\([0-9a-z_]*\))?|"
    rb"0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?|"
    rb"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?))", re.IGNORECASE)


def parse_c_double(text, whole=True):
    """A double as strtod reads the start of text; None if no number starts it.
    whole=False accepts trailing garbage, as sscanf("%lg") does."""
    match = _C_DOUBLE.match(text)
    if match is None or (whole and match.end() != len(text)):
        return None
    number = match.group(1).lower()
    sign = -1.0 if number.startswith(b"-") else 1.0
    body = number.lstrip(b"+-")
    if body.startswith(b"inf"):
        return sign * math.inf
    if body.startswith(b"nan"):
        return math.nan
    if body.startswith(b"0x"):
        mantissa_exp = body[2:].split(b"p")
        text_hex = "0x" + mantissa_exp[0].decode() + ("p" + mantissa_exp[1].decode()
                                                      if len(mantissa_exp) > 1 else "p0")
        try:
            return sign * float.fromhex(text_hex)
        except (ValueError, OverflowError):
            return None
    return sign * float(body)


def _as_bytes(item):
    return _format_int(item) if item.__class__ is int else item


# -- packed encodings (each checked whole before use) -----------------------------------------

def parse_listpack(blob):
    """The entries of a listpack (bytes, or ints for integer entries)."""
    size = len(blob)
    if size < 7 or int.from_bytes(blob[0:4], "little") != size or blob[size - 1] != 0xFF:
        raise RdbFormatError("listpack integrity check failed")
    declared = blob[4] | (blob[5] << 8)
    last = size - 1                      # the EOF byte
    items = []
    p = 6
    while blob[p] != 0xFF:
        b = blob[p]
        if b < 0x80:                                    # 7-bit unsigned
            head, data_len = 1, 0
        elif b < 0xC0:                                  # string of up to 63 bytes
            head, data_len = 1, b & 0x3F
        elif b < 0xE0:                                  # 13-bit signed
            head, data_len = 1, 1
        elif b < 0xF0:                                  # string of up to 4095 bytes
            if p + 2 > last:
                raise RdbFormatError("listpack integrity check failed")
            head, data_len = 2, ((b & 0x0F) << 8) | blob[p + 1]
        elif b == 0xF0:                                 # string with a 32-bit length
            if p + 5 > last:
                raise RdbFormatError("listpack integrity check failed")
            head, data_len = 5, int.from_bytes(blob[p + 1:p + 5], "little")
        elif b <= 0xF4:                                 # 16/24/32/64-bit signed
            head, data_len = 1, (2, 3, 4, 8)[b - 0xF1]
        else:
            raise RdbFormatError("listpack integrity check failed")
        entry_len = head + data_len
        backlen_size = len(_backlen(entry_len))
        end = p + entry_len + backlen_size
        if end > last:
            raise RdbFormatError("listpack integrity check failed")
        if _decode_backlen(blob, end - 1) != entry_len:
            raise RdbFormatError("listpack integrity check failed")
        if 0x80 <= b < 0xC0 or 0xE0 <= b <= 0xF0:
            items.append(blob[p + head:p + entry_len])
        elif b < 0x80:
            items.append(b)
        elif b < 0xE0:
            value = ((b & 0x1F) << 8) | blob[p + 1]
            items.append(value - 8192 if value >= 4096 else value)
        else:
            items.append(int.from_bytes(blob[p + 1:p + entry_len], "little", signed=True))
        p = end
    if p != last:
        raise RdbFormatError("listpack integrity check failed")
    if declared != LISTPACK_MAX_COUNT and declared != len(items):
        raise RdbFormatError("listpack integrity check failed")
    return items


def _decode_backlen(blob, p):
    value = 0
    shift = 0
    while True:
        byte = blob[p]
        value |= (byte & 127) << shift
        if not byte & 128:
            return value
        shift += 7
        p -= 1
        if shift > 28:
            return -1 << 40            # an impossible length: fails the comparison


def parse_ziplist(blob):
    """The entries of a ziplist (bytes, or ints for integer entries)."""
    size = len(blob)
    if (size < 11 or int.from_bytes(blob[0:4], "little") != size or blob[size - 1] != 0xFF
            or int.from_bytes(blob[4:8], "little") > size - 1):
        raise RdbFormatError("ziplist integrity check failed")
    tail = int.from_bytes(blob[4:8], "little")
    declared = blob[8] | (blob[9] << 8)
    last = size - 1                      # the end marker
    items = []
    p = 10
    previous_size = 0
    previous_start = None
    while blob[p] != 0xFF:
        if blob[p] < 254:
            prevlen_size, prevlen = 1, blob[p]
        else:
            if p + 5 > last:
                raise RdbFormatError("ziplist integrity check failed")
            prevlen_size, prevlen = 5, int.from_bytes(blob[p + 1:p + 5], "little")
        q = p + prevlen_size             # the encoding byte
        if q > last:
            raise RdbFormatError("ziplist integrity check failed")
        enc = blob[q]
        if enc < 0xC0:
            kind = enc & 0xC0
            head = 1 if kind == 0x00 else 2 if kind == 0x40 else 5
            if q + head > last:
                raise RdbFormatError("ziplist integrity check failed")
            if kind == 0x00:
                data_len = enc & 0x3F
            elif kind == 0x40:
                data_len = ((enc & 0x3F) << 8) | blob[q + 1]
            else:
                data_len = int.from_bytes(blob[q + 1:q + 5], "big")
            is_string = True
        else:
            head = 1
            is_string = False
            if enc == 0xFE:
                data_len = 1
            elif enc == 0xC0:
                data_len = 2
            elif enc == 0xF0:
                data_len = 3
            elif enc == 0xD0:
                data_len = 4
            elif enc == 0xE0:
                data_len = 8
            elif 0xF1 <= enc <= 0xFD:
                data_len = 0
            else:
                raise RdbFormatError("ziplist integrity check failed")
        end = q + head + data_len
        if end > last or prevlen != previous_size:
            raise RdbFormatError("ziplist integrity check failed")
        data = blob[q + head:end]
        if is_string:
            items.append(data)
        elif data_len:
            items.append(int.from_bytes(data, "little", signed=True))
        else:
            items.append((enc & 0x0F) - 1)
        previous_size = end - p
        previous_start = p
        p = end
    if p != last or (previous_start is not None and previous_start != tail):
        raise RdbFormatError("ziplist integrity check failed")
    if declared != 0xFFFF and declared != len(items):
        raise RdbFormatError("ziplist integrity check failed")
    return items


def parse_intset(blob):
    """The members of an intset: ascending int64s, at least one."""
    size = len(blob)
    if size < 8:
        raise RdbFormatError("intset integrity check failed")
    width = int.from_bytes(blob[0:4], "little")
    count = int.from_bytes(blob[4:8], "little")
    if width not in (2, 4, 8) or 8 + count * width != size or count == 0:
        raise RdbFormatError("intset integrity check failed")
    numbers = struct.unpack_from("<%d%s" % (count, {2: "h", 4: "i", 8: "q"}[width]), blob, 8)
    if count > 1 and not all(map(int.__lt__, numbers, numbers[1:])):
        raise RdbFormatError("intset integrity check failed")
    return numbers


def parse_zipmap(blob):
    """The (field, value) pairs of a zipmap (the hash encoding of Redis 2.x)."""
    size = len(blob)
    if size < 2 or blob[size - 1] != 0xFF:
        raise RdbFormatError("zipmap integrity check failed")
    last = size - 1

    def length_at(p):
        if p + (1 if blob[p] < 254 else 5) > last:
            raise RdbFormatError("zipmap integrity check failed")
        if blob[p] < 254:
            return 1, blob[p]
        return 5, int.from_bytes(blob[p + 1:p + 5], "little")

    pairs = []
    p = 1
    while blob[p] != 0xFF:
        prefix, n = length_at(p)
        field = blob[p + prefix:p + prefix + n]
        p += prefix + n
        if p > last:
            raise RdbFormatError("zipmap integrity check failed")
        prefix, n = length_at(p)
        p += prefix
        free = blob[p]
        value = blob[p + 1:p + 1 + n]
        p += 1 + n + free
        if p > last:
            raise RdbFormatError("zipmap integrity check failed")
        pairs.append((field, value))
    if not pairs or (blob[0] != 254 and blob[0] != len(pairs)):
        raise RdbFormatError("zipmap integrity check failed")
    return pairs


def _checked(what, parse, *args):
    """parse(*args), with a malformed packed encoding reported under Redis's name for
    the value's kind ("Hash ziplist integrity check failed.")."""
    try:
        return parse(*args)
    except EmptyValueError:
        raise
    except RdbFormatError as exc:
        reason = str(exc)
        if reason.endswith("integrity check failed") or "entries" in reason:
            raise RdbFormatError("%s integrity check failed." % what) from None
        raise


def _pairs(items, what):
    """Alternating entries as (bytes, item) pairs, refusing an odd count or a repeated name."""
    if len(items) % 2:
        raise RdbFormatError("%s with an odd number of entries" % what)
    names = items[0::2]
    pairs = list(zip(map(_as_bytes, names), items[1::2]))
    if len({name for name, _ in pairs}) != len(pairs):
        raise RdbFormatError("%s with duplicate entries" % what)
    return pairs


# -- values --------------------------------------------------------------------------------------

def decode_value(reader, rdb_type, config):
    """The value of type rdb_type at the reader's position (rdbLoadObject)."""
    loader = _LOADERS.get(rdb_type)
    if loader is None:
        raise RdbFormatError("unsupported RDB value type %d" % rdb_type)
    return loader(reader, config)


def _load_string(reader, config):
    return reader.string()


def _load_list(reader, config):
    count = reader.length()
    if count == 0:
        raise EmptyValueError("empty list")
    elements = []
    for _ in range(count):
        elements.append(reader.string())
    return ListValue(elements)


def _load_list_ziplist(reader, config):
    elements = [_as_bytes(item) for item in _checked("List ziplist", parse_ziplist, reader.string())]
    if not elements:
        raise EmptyValueError("empty list")
    return ListValue(elements)


def _load_quicklist(reader, config, version):
    count = reader.length()
    if count == 0:
        raise EmptyValueError("empty list")
    elements = []
    for _ in range(count):
        container = QUICKLIST_PACKED
        if version == 2:
            container = reader.length()
            if container not in (QUICKLIST_PACKED, QUICKLIST_PLAIN):
                raise RdbFormatError("Quicklist integrity check failed.")
        data = reader.string()
        if not data:
            raise RdbFormatError("empty quicklist node")
        if container == QUICKLIST_PLAIN:
            elements.append(data)
        elif version == 2:
            if _native is not None:
                try:
                    elements += _native.listpack_items(data)
                except _native.Corrupt:
                    raise RdbFormatError("Listpack integrity check failed.") from None
            else:
                elements.extend(map(_as_bytes, _checked("Listpack", parse_listpack, data)))
        else:
            elements.extend(map(_as_bytes, _checked("Ziplist", parse_ziplist, data)))
    if not elements:
        raise EmptyValueError("empty list")
    return ListValue(elements)


def _load_set(reader, config):
    count = reader.length()
    if count == 0:
        raise EmptyValueError("empty set")
    got = None
    if _native is not None and count <= reader.remaining():   # a bigger count is a short read
        got = _native.read_strings(reader.data, reader.pos, count)
    if got is not None:
        members, reader.pos = got
    else:
        members = []
    try:
        for _ in range(count - len(members)):
            members.append(reader.string())
    except RdbFormatError:
        # adding members as they come would have met a duplicate before the bad read
        if len(set(members)) != len(members):
            raise RdbFormatError("Duplicate set members detected") from None
        raise
    if parse_int(members[0]) is None:
        # the first add leaves intset for good: the members stay in their order
        if len(set(members)) != len(members):
            raise RdbFormatError("Duplicate set members detected")
        return Set.from_members(members)
    value = Set()
    max_intset = config.set_max_intset_entries
    for member in members:
        if not value.add(member, max_intset):
            raise RdbFormatError("Duplicate set members detected")
    return value


def _load_set_intset(reader, config):
    numbers = _checked("Intset", parse_intset, reader.string())
    max_intset = config.set_max_intset_entries
    if len(numbers) <= max_intset and len(numbers) <= INTSET_HARD_LIMIT:
        return Set.from_intset(numbers)      # ascending and distinct: what the adds build
    value = Set()
    for number in numbers:
        value.add(_format_int(number), max_intset)
    return value


def _load_zset(reader, config, binary):
    count = reader.length()
    if count == 0:
        raise EmptyValueError("empty sorted set")
    scores = {}
    for _ in range(count):
        member = reader.string()
        score = reader.binary_double() if binary else reader.text_double()
        if score != score:
            raise RdbFormatError("Zset with NAN score detected")
        if member in scores:
            raise RdbFormatError("Duplicate zset fields detected")
        scores[member] = score
    return SortedSet.build(scores.items(), config.zset_max_listpack_entries,
                           config.zset_max_listpack_value)


def _zset_from_packed(items, config, what):
    pairs = []
    for member, score in _checked(what, _pairs, items, "sorted set"):
        if score.__class__ is not int:
            score = parse_c_double(score[:127], whole=False)
            if score is None:
                score = 0.0            # strtod's answer for text that is no number
        score = float(score)
        if score != score:
            raise RdbFormatError("Zset with NAN score detected")
        pairs.append((member, score))
    if not pairs:
        raise EmptyValueError("empty sorted set")
    # a packed sorted set stays small unless it has too many entries, as in Redis
    return SortedSet.build(pairs, config.zset_max_listpack_entries, math.inf)


def _text_score(text):
    """A listpack's text score as zzlGetScore reads it."""
    score = parse_c_double(text[:127], whole=False)
    return 0.0 if score is None else float(score)


def _load_zset_listpack(reader, config):
    if _native is not None:
        try:
            result = _native.listpack_zpacked(reader.string(), config.zset_max_listpack_entries,
                                              _text_score)
        except _native.Corrupt as exc:
            if exc.args[0] == "nan":
                raise RdbFormatError("Zset with NAN score detected") from None
            raise RdbFormatError("Zset listpack integrity check failed.") from None
        if result.__class__ is not bytes:
            return SortedSet.build(result, config.zset_max_listpack_entries, math.inf)
        if result == b"\x00":
            raise EmptyValueError("empty sorted set")
        return SortedSet.from_packed(result)
    return _zset_from_packed(_checked("Zset listpack", parse_listpack, reader.string()), config,
                             "Zset listpack")


def _load_zset_ziplist(reader, config):
    return _zset_from_packed(_checked("Zset ziplist", parse_ziplist, reader.string()), config,
                             "Zset ziplist")


def _load_hash(reader, config):
    count = reader.length()
    if count == 0:
        raise EmptyValueError("empty hash")
    value = Hash()
    value.expect(count, config.hash_max_listpack_entries)     # duplicate fields fail the load
    max_value = config.hash_max_listpack_value
    for _ in range(count):
        field = reader.string()
        item = reader.string()
        value.admit((field, item), max_value)
        if not value.set(field, item):
            raise RdbFormatError("Duplicate hash fields detected")
    value.fit(config.hash_max_listpack_entries)
    return value


def _hash_from_pairs(pairs, config):
    """A hash of (bytes, bytes or int) pairs with distinct fields, as HSETting them in order
    leaves it."""
    if not pairs:
        raise EmptyValueError("empty hash")
    flat = []
    for field, item in pairs:
        flat.append(field)
        flat.append(_as_bytes(item))
    return Hash.from_packed(_packlist.pack(flat), config.hash_max_listpack_entries)


def _load_hash_listpack(reader, config):
    if _native is not None:
        try:
            packed = _native.listpack_packed(reader.string(), True)
        except _native.Corrupt:
            raise RdbFormatError("Hash listpack integrity check failed.") from None
        if packed == b"\x00":
            raise EmptyValueError("empty hash")
        return Hash.from_packed(packed, config.hash_max_listpack_entries)
    items = _checked("Hash listpack", parse_listpack, reader.string())
    return _hash_from_pairs(_checked("Hash listpack", _pairs, items, "hash"), config)


def _load_hash_ziplist(reader, config):
    items = _checked("Hash ziplist", parse_ziplist, reader.string())
    return _hash_from_pairs(_checked("Hash ziplist", _pairs, items, "hash"), config)


def _load_hash_zipmap(reader, config):
    pairs = _checked("Zipmap", parse_zipmap, reader.string())
    if len({field for field, _ in pairs}) != len(pairs):
        raise RdbFormatError("Hash zipmap with dup elements, or big length (%u)" % len(pairs))
    value = _hash_from_pairs(pairs, config)
    # a zipmap hash also converts for a long field or value (Redis checks both here)
    value.admit((max((s for pair in pairs for s in pair), key=len),),
                config.hash_max_listpack_value)
    return value


# -- streams: loading (rdbLoadObject's checks, with its reasons) ------------------------------

def _signed64(n):
    return n - (1 << 64) if n >> 63 else n


def _stream_integer(item, known={b"%d" % n: n for n in range(-1, 256)}):
    """An element a stream listpack holds as a number (lpGetIntegerIfValid), else None.
    (Flags, counts and small deltas come from a table: most elements read are those.)"""
    number = known.get(item)
    return number if number is not None else _stream_int(item)


def _check_stream_node(items):
    """streamValidateListpackIntegrity's deep walk over a node's elements (bytes, counters
    first); raises RdbFormatError. Also refuses what the walk lets through
    but would leave this node inconsistent: live and deleted counters that disagree with
    the entries' flags."""
    bad = RdbFormatError("Stream listpack integrity check failed.")
    end = len(items)
    if end < 4:
        raise bad
    numbers = [_stream_integer(item) for item in items[:3]]
    if None in numbers:
        raise bad
    count, deleted, master_fields = numbers
    if count < 0 or deleted < 0 or master_fields < 0:
        raise bad
    p = 3 + master_fields
    if p >= end or _stream_integer(items[p]) != 0:
        raise bad
    p += 1
    live = dead = 0
    for _ in range(count + deleted):
        if p + 3 > end:
            raise bad
        flags = _stream_integer(items[p])
        if flags is None or _stream_integer(items[p + 1]) is None \
                or _stream_integer(items[p + 2]) is None:
            raise bad
        p += 3
        fields, extra = master_fields, 3
        if not flags & FLAG_SAMEFIELDS:
            if p >= end:
                raise bad
            fields = _stream_integer(items[p])
            if fields is None or fields < 0:
                raise bad
            p += 1 + fields
            extra += fields + 1
        p += fields
        if p >= end or _stream_integer(items[p]) != fields + extra:
            raise bad
        p += 1
        if flags & FLAG_DELETED:
            dead += 1
        else:
            live += 1
    if p != end or live != count or dead != deleted:
        raise bad


def _stream_node(master, blob):
    if _native is not None:
        try:
            items = _native.listpack_items(blob)
        except _native.Corrupt:
            raise RdbFormatError("Stream listpack integrity check failed.") from None
    else:
        items = [_as_bytes(item) for item in _checked("Stream listpack", parse_listpack, blob)]
    _check_stream_node(items)
    try:
        # sized as the listpack Redis holds (its size decides where XADD opens a node)
        return StreamNode.from_listpack_items(master, items, len(blob))
    except (ValueError, IndexError):
        raise RdbFormatError("Stream listpack integrity check failed.") from None


def _read_id(reader):
    ms = reader.length()
    return make_id(ms, reader.length())


def _read_raw_id(reader):
    return int.from_bytes(reader.take(16), "big")


def _read_ms_time(reader):
    return int.from_bytes(reader.take(8), "little", signed=True)


class _StreamReads:
    """The reader's reads, each naming on a short read what Redis names when loading a
    stream ("Stream PEL ID loading failed." ...) rather than reporting an unexpected EOF."""
    __slots__ = ("reader",)

    def __init__(self, reader):
        self.reader = reader

    def __call__(self, reason, read, *args):
        try:
            return read(*args)
        except RdbFormatError as exc:
            if str(exc) == "unexpected end of data" and not self.reader.more_to_come:
                raise RdbFormatError(reason) from None
            raise


def _load_stream(reader, config, version):
    read = _StreamReads(reader)
    length, string = reader.length, reader.string
    stream = Stream()
    nodes = stream.nodes
    masters = set()
    for _ in range(read("Stream listpacks len loading failed.", length)):
        key = read("Stream master ID loading failed: invalid encoding or I/O error.", string)
        if len(key) != 16:
            raise RdbFormatError("Stream node key entry is not the size of a stream ID")
        blob = read("Stream listpacks loading failed.", string)
        node = _stream_node(int.from_bytes(key, "big"), blob)
        if node.master in masters:
            raise RdbFormatError("Listpack re-added with existing key")
        masters.add(node.master)
        nodes.append(node)
    if any(map(int.__gt__, (n.master for n in nodes), (n.master for n in nodes[1:]))):
        nodes.sort(key=lambda n: n.master)       # the radix tree orders what a file may not
    stream.exact_tail = nodes[-1] if nodes else None     # allocated as long as it is
    metadata = "Stream object metadata loading failed."
    stream.length = read(metadata, length)
    stream.last_id = read(metadata, _read_id, reader)
    if version == 2:
        stream.first_id = read(metadata, _read_id, reader)
        stream.max_deleted_id = read(metadata, _read_id, reader)
        stream.entries_added = read(metadata, length)
    else:
        stream.entries_added = stream.length
        stream.first_id = stream.edge_id(first=True)
    if stream.length and not nodes:
        raise RdbFormatError("Stream length inconsistent with rax entries")
    if stream.length != sum(node.count for node in nodes):
        raise RdbFormatError("Stream length inconsistent with its listpacks")
    for _ in range(read("Stream cgroup count loading failed.", length)):
        name = read("Error reading the consumer group name from Stream", string)
        last_id = read("Stream cgroup ID loading failed.", _read_id, reader)
        if version == 2:
            entries_read = _signed64(read("Stream cgroup offset loading failed.", length))
        else:
            entries_read = stream.estimate_entries_read(last_id)     # as Redis estimates it
        group = stream.add_group(name, last_id, entries_read)
        if group is None:
            raise RdbFormatError("Duplicated consumer group name %s"
                                 % name.split(b"\0", 1)[0].decode("utf-8", "replace"))
        pel = group.pel
        for _ in range(read("Stream PEL size loading failed.", length)):
            entry_id = read("Stream PEL ID loading failed.", _read_raw_id, reader)
            delivery_time = read("Stream PEL NACK loading failed.", _read_ms_time, reader)
            entry = PendingEntry(delivery_time, read("Stream PEL NACK loading failed.", length),
                                 None)
            if not pel.add(entry_id, entry):
                raise RdbFormatError(
                    "Duplicated global PEL entry loading stream consumer group")
        for _ in range(read("Stream consumers num loading failed.", length)):
            name = read("Error reading the consumer name from Stream group.", string)
            if name in group.consumers:
                raise RdbFormatError("Duplicate stream consumer detected.")
            seen_time = read("Stream short read reading seen time.", _read_ms_time, reader)
            consumer = group.consumers[name] = Consumer(name, seen_time)
            for _ in range(read("Stream consumer PEL num loading failed.", length)):
                entry_id = read("Stream short read reading PEL streamID.", _read_raw_id, reader)
                entry = pel.get(entry_id)
                if entry is None:
                    raise RdbFormatError("Consumer entry not found in group global PEL")
                if entry.consumer is not None or not consumer.pel.add(entry_id, entry):
                    raise RdbFormatError("Duplicated consumer PEL entry  loading a stream "
                                         "consumer group")
                entry.consumer = consumer
        for _, entry in pel.range():
            if entry.consumer is None:
                raise RdbFormatError("Stream CG PEL entry without consumer")
    return stream


_LOADERS = {
    TYPE_STRING: _load_string,
    TYPE_LIST: _load_list,
    TYPE_LIST_ZIPLIST: _load_list_ziplist,
    TYPE_LIST_QUICKLIST: lambda reader, config: _load_quicklist(reader, config, 1),
    TYPE_LIST_QUICKLIST_2: lambda reader, config: _load_quicklist(reader, config, 2),
    TYPE_SET: _load_set,
    TYPE_SET_INTSET: _load_set_intset,
    TYPE_ZSET: lambda reader, config: _load_zset(reader, config, binary=False),
    TYPE_ZSET_2: lambda reader, config: _load_zset(reader, config, binary=True),
    TYPE_ZSET_LISTPACK: _load_zset_listpack,
    TYPE_ZSET_ZIPLIST: _load_zset_ziplist,
    TYPE_HASH: _load_hash,
    TYPE_HASH_LISTPACK: _load_hash_listpack,
    TYPE_HASH_ZIPLIST: _load_hash_ziplist,
    TYPE_HASH_ZIPMAP: _load_hash_zipmap,
    TYPE_STREAM_LISTPACKS: lambda reader, config: _load_stream(reader, config, 1),
    TYPE_STREAM_LISTPACKS_2: lambda reader, config: _load_stream(reader, config, 2),
}

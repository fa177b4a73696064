"""The RDB value codec and its primitives: CRC-64 and LZF on both twins (pure Python and
Cython) against known vectors and Redis 7.0.15's own output, the packed encodings
(listpack, ziplist, intset, zipmap) built and parsed, and corrupt input refused with
RdbFormatError only, never another exception.

The builders for old encodings (ziplist, zipmap) live here and are shared with
tests/test_dump_restore.py, which restores them on both servers.
"""
import os
import random
import struct

import pytest

from persistence import crc64 as crc64_module
from persistence import lzf as lzf_module
from persistence import rdb_values
from persistence.rdb_values import (EmptyValueError, RdbFormatError, Reader, build_intset,
                                    build_listpack, decode_value, encode_value, parse_intset,
                                    parse_listpack, parse_ziplist, parse_zipmap)

try:
    from native import crc64 as native_crc64
except ImportError:
    native_crc64 = None
try:
    from native import lzf as native_lzf
except ImportError:
    native_lzf = None


def _twin(name, module):
    marks = [] if module is not None else [pytest.mark.skip(reason="native twin not built")]
    return pytest.param(module, id=name, marks=marks)


CRC_TWINS = [_twin("pure", crc64_module.pure_crc64),
             _twin("native", native_crc64 and native_crc64.crc64)]
LZF_TWINS = [_twin("pure", (lzf_module.pure_compress, lzf_module.pure_decompress)),
             _twin("native", native_lzf and (native_lzf.compress, native_lzf.decompress))]


class Config:
    """The config attributes the codec reads, at Redis's defaults."""
    rdbcompression = True
    list_max_listpack_size = -2
    list_compress_depth = 0
    hash_max_listpack_entries = 128
    hash_max_listpack_value = 64
    set_max_intset_entries = 512
    zset_max_listpack_entries = 128
    zset_max_listpack_value = 64


# -- builders for the encodings Redis no longer writes ---------------------------------------

def _ziplist_int_encoding(value):
    if 0 <= value <= 12:
        return bytes((0xF1 + value,))
    if -128 <= value <= 127:
        return b"\xfe" + struct.pack("<b", value)
    if -32768 <= value <= 32767:
        return b"\xc0" + struct.pack("<h", value)
    if -8388608 <= value <= 8388607:
        return b"\xf0" + struct.pack("<i", value)[:3]
    if -2147483648 <= value <= 2147483647:
        return b"\xd0" + struct.pack("<i", value)
    return b"\xe0" + struct.pack("<q", value)


def ziplist(items, count=None):
    """A ziplist as Redis 6 builds it: integer entries for canonical integers."""
    entries = []
    previous = 0
    for item in items:
        prevlen = bytes((previous,)) if previous < 254 else b"\xfe" + struct.pack("<I", previous)
        number = None
        if isinstance(item, int):
            number = item
        elif 0 < len(item) <= 20:
            try:
                number = int(item)
                if str(number).encode() != item or not -2**63 <= number < 2**63:
                    number = None
            except ValueError:
                number = None
        if number is not None:
            head = _ziplist_int_encoding(number)
            body = b""
        else:
            n = len(item)
            if n <= 0x3F:
                head = bytes((n,))
            elif n <= 0x3FFF:
                head = bytes((0x40 | (n >> 8), n & 0xFF))
            else:
                head = b"\x80" + struct.pack(">I", n)
            body = item
        entry = prevlen + head + body
        entries.append(entry)
        previous = len(entry)
    body = b"".join(entries)
    total = 10 + len(body) + 1
    tail = total - 1 - len(entries[-1]) if entries else 10
    n = len(items) if count is None else count
    return struct.pack("<IIH", total, tail, min(n, 0xFFFF)) + body + b"\xff"


def zipmap(pairs, free=0):
    """A zipmap (Redis 2.x hash) with `free` unused bytes after every value."""
    def length(n):
        return bytes((n,)) if n < 254 else b"\xfe" + struct.pack("<I", n)
    out = bytearray((len(pairs) if len(pairs) < 254 else 254,))
    for field, value in pairs:
        out += length(len(field)) + field + length(len(value)) + bytes((free,)) + value
        out += b"\0" * free
    out.append(0xFF)
    return bytes(out)


def rdb_string(s):
    """A raw RDB string (no integer or LZF encoding)."""
    out = bytearray()
    rdb_values.write_length(out, len(s))
    return bytes(out) + s


def dump_payload(body, version=10):
    """A DUMP payload: the RDB value, the version, and a valid CRC-64."""
    body = bytes(body) + version.to_bytes(2, "little")
    return body + crc64_module.pure_crc64(body).to_bytes(8, "little")


# -- CRC-64 -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("crc64", CRC_TWINS)
def test_crc64_known_vectors(crc64):
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0
    assert crc64(b"", 1234) == 1234
    # the footer of a DUMP payload Redis 7.0.15 produced for SET k hello
    payload = b"\x00\x05hello\n\x00cr\xdfve4 \n"
    body, footer = payload[:-8], payload[-8:]
    assert crc64(body) == int.from_bytes(footer, "little")


@pytest.mark.parametrize("crc64", CRC_TWINS)
def test_crc64_accepts_any_buffer_and_continues(crc64):
    data = bytes(range(256)) * 40 + b"tail"
    whole = crc64(data)
    assert crc64(bytearray(data)) == whole
    assert crc64(memoryview(data)) == whole
    for cut in (0, 1, 7, 8, 9, 1000, len(data)):
        assert crc64(data[cut:], crc64(data[:cut])) == whole


def test_crc64_twins_agree():
    if native_crc64 is None:
        pytest.skip("native twin not built")
    rng = random.Random(7)
    for n in list(range(0, 70)) + [1000, 4097, 65536]:
        data = bytes(rng.randrange(256) for _ in range(n))
        start = rng.randrange(2**64)
        assert native_crc64.crc64(data, start) == crc64_module.pure_crc64(data, start)
    big = os.urandom(1 << 20)
    assert native_crc64.crc64(big) == crc64_module.pure_crc64(big)


# -- LZF ----------------------------------------------------------------------------------------------

# (string, the compressed bytes Redis 7.0.15 stores in its DUMP payload)
REDIS_LZF_VECTORS = [
    (b"a" * 25, b"\x01aa\xe0\x0c\x00\x01aa"),
    (b"abcabcabcabcabcabcabcabc", b"\x03abca\xe0\x0a\x02\x00c"),
    (b"hello world hello world hello world", b"\x0chello world h\xe0\x0b\x0b\x01ld"),
    (bytes(range(40)) * 2, b"\x1f" + bytes(range(32)) + b"\x08" + bytes(range(32, 40)) + b"\x00"
     + b"\xe0\x1c\x27\x01\x26\x27"),
]


@pytest.mark.parametrize("twin", LZF_TWINS)
def test_lzf_matches_redis_vectors(twin):
    compress, decompress = twin
    for text, compressed in REDIS_LZF_VECTORS:
        assert compress(text, len(text) - 4) == compressed
        assert decompress(compressed, len(text)) == text


@pytest.mark.parametrize("twin", LZF_TWINS)
def test_lzf_gives_up_when_output_does_not_fit(twin):
    compress, _ = twin
    assert compress(b"", 10) is None
    assert compress(b"abc", 0) is None
    rng = random.Random(1)
    incompressible = bytes(rng.randrange(256) for _ in range(100))
    assert compress(incompressible, 96) is None
    assert compress(incompressible, 200) is not None     # stored as literal runs
    assert compress(b"x" * 1000, 5) is None


@pytest.mark.parametrize("twin", LZF_TWINS)
def test_lzf_limit_only_decides_failure(twin):
    """A smaller output limit never changes the compressed bytes, it only makes
    compression give up."""
    compress, decompress = twin
    rng = random.Random(11)
    for _ in range(40):
        text = bytes(rng.choice(b"abcd") for _ in range(rng.randrange(1, 400)))
        full = compress(text, len(text) + 64)
        assert decompress(full, len(text)) == text
        for limit in range(max(1, len(full) - 6), len(full) + 6):
            result = compress(text, limit)
            assert result is None or result == full
        assert compress(text, len(full) - 1) is None


@pytest.mark.parametrize("twin", LZF_TWINS)
def test_lzf_decompress_handcrafted_streams(twin):
    _, decompress = twin
    assert decompress(b"\x02abc", 3) == b"abc"
    assert decompress(b"", 0) == b""
    # a back reference overlapping its own output repeats the pattern
    assert decompress(b"\x00a\xe0\x05\x00", 15) == b"a" * 15
    assert decompress(b"\x01ab\x20\x01", 5) == b"ababa"
    assert decompress(b"\x01ab\x40\x01", 6) == b"ababab"
    assert decompress(b"\x01ab\x20\x01\x00c", 6) == b"ababac"


@pytest.mark.parametrize("twin", LZF_TWINS)
def test_lzf_decompress_refuses_malformed_streams(twin):
    _, decompress = twin
    cases = [
        (b"\x05ab", 6),                 # literal run longer than the input
        (b"\x20\x00", 3),               # reference before the start of the output
        (b"\x00a\x20", 3),              # reference missing its offset byte
        (b"\x00a\xe0", 10),             # long reference missing its length byte
        (b"\x00a\xe0\x05", 15),         # long reference missing its offset byte
        (b"\x02abc", 2),                # more output than announced
        (b"\x02abc", 4),                # less output than announced
        (b"\x00a\xe0\xff\x00", 20),     # reference overflowing the announced size
    ]
    for data, size in cases:
        assert decompress(data, size) is None, (data, size)


def test_lzf_twins_agree():
    if native_lzf is None:
        pytest.skip("native twin not built")
    rng = random.Random(3)
    for _ in range(400):
        n = rng.choice([1, 2, 3, 4, 21, 30, 64, 100, 1000, 9000])
        kind = rng.randrange(4)
        if kind == 0:
            text = bytes(rng.randrange(256) for _ in range(n))
        elif kind == 1:
            text = bytes(rng.choice(b"ab") for _ in range(n))
        elif kind == 2:
            text = b"z" * n
        else:
            text = bytes(rng.choice(b"abcdefghij") for _ in range(n))
        limit = rng.choice([n - 4, n, n + 100, 3])
        ours = native_lzf.compress(text, limit)
        assert ours == lzf_module.pure_compress(text, limit)
        if ours is not None:
            assert lzf_module.pure_decompress(ours, n) == text
            assert native_lzf.decompress(ours, n) == text


def test_lzf_matches_redis_on_random_strings(reference):
    """Strings DUMPed by Redis: where Redis compressed, our compressor writes the same
    bytes; where it did not, ours gives up too."""
    r = reference.client()
    rng = random.Random(21)
    words = [b"hello", b"world", b"redis", b"\x00\x01", b"abc", b"zz"]
    try:
        for i in range(150):
            n = rng.choice([21, 22, 24, 25, 30, 40, 64, 100, 300, 1000, 5000])
            kind = i % 4
            if kind == 0:
                text = bytes(rng.randrange(256) for _ in range(n))
            elif kind == 1:
                text = bytes(rng.choice(b"ab") for _ in range(n))
            elif kind == 2:
                text = bytes(rng.choice(b"abcdefgh") for _ in range(n))
            else:
                text = b"".join(rng.choice(words) for _ in range(n // 3))
            r.set("k", text)
            payload = r.dump("k")
            reader = Reader(payload, 1)
            size, encoded = reader.length_or_encoding()
            if encoded and size == rdb_values.ENC_LZF:
                compressed_len = reader.length()
                reader.length()
                theirs = reader.take(compressed_len)
            else:
                theirs = None
            for compress, _ in (lzf_module.pure_compress, None), (lzf_module.compress, None):
                assert compress(text, len(text) - 4) == theirs, text
    finally:
        r.close()


# -- strings and lengths --------------------------------------------------------------------------

def test_write_length_forms():
    for n, expected in [(0, b"\x00"), (63, b"\x3f"), (64, b"\x40\x40"), (16383, b"\x7f\xff"),
                        (16384, b"\x80\x00\x00\x40\x00"), (2**32 - 1, b"\x80\xff\xff\xff\xff"),
                        (2**32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00")]:
        out = bytearray()
        rdb_values.write_length(out, n)
        assert bytes(out) == expected
        assert Reader(bytes(out)).length() == n


def test_write_string_encodings():
    def written(s, compress=True):
        out = bytearray()
        rdb_values.write_string(out, s, compress)
        return bytes(out)
    assert written(b"0") == b"\xc0\x00"
    assert written(b"-128") == b"\xc0\x80"
    assert written(b"128") == b"\xc1\x80\x00"
    assert written(b"-32769") == b"\xc2\xff\x7f\xff\xff"
    assert written(b"2147483648") == b"\x0a2147483648"      # past 32 bits: raw
    assert written(b"007") == b"\x03007"                     # not canonical: raw
    assert written(b"-0") == b"\x02-0"
    assert written(b"a" * 20) == b"\x14" + b"a" * 20         # 20 bytes: never compressed
    assert written(b"a" * 21)[0] == 0xC3
    assert written(b"a" * 21, compress=False) == b"\x15" + b"a" * 21
    for s in (b"0", b"-128", b"32767", b"-2147483648", b"hello", b"a" * 100, b""):
        assert Reader(written(s)).string() == s


def test_reader_refuses_lengths_beyond_the_data():
    for data in (b"\x05abc", b"\x80\x00\x00\x10\x00", b"\x81" + b"\xff" * 8,
                 b"\xc3\x01\x80\x00\x00\x10\x00a",     # LZF expanding past any possible ratio
                 b"\xc3\x10\x20abc",                 # LZF longer than the data
                 b"\xc1\x01", b"\xc4", b"\x82"):
        with pytest.raises(RdbFormatError):
            Reader(data).string()


def test_lzf_string_announcing_zero_bytes_is_empty():
    # Redis compares only the decompressed length, so any data announcing 0 bytes is ""
    reader = Reader(b"\xc3\x03\x00xyzrest")
    assert reader.string() == b""
    assert reader.take(4) == b"rest"


def test_text_doubles_as_sscanf_reads_them():
    def double(text):
        return Reader(bytes((len(text),)) + text).text_double()
    assert double(b"1.5") == 1.5
    assert double(b"-3e2") == -300.0
    assert double(b"12abc") == 12.0
    assert double(b" 7") == 7.0
    assert double(b"inf") == float("inf")
    assert Reader(b"\xfe").text_double() == float("inf")
    assert Reader(b"\xff").text_double() == float("-inf")
    with pytest.raises(RdbFormatError):
        double(b"abc")


# -- packed encodings ---------------------------------------------------------------------------------

LISTPACK_ITEMS = [b"", b"a", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"007", b"-0",
                  0, 127, 128, -1, 4095, 4096, -4096, -4097, 32767, 32768, -32768, -32769,
                  8388607, 8388608, -8388608, -8388609, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
                  2**63 - 1, -2**63, b"12", b"\xff\x00binary"]


def test_listpack_round_trip_and_entry_sizes():
    blob = build_listpack(LISTPACK_ITEMS)
    assert int.from_bytes(blob[:4], "little") == len(blob)
    assert int.from_bytes(blob[4:6], "little") == len(LISTPACK_ITEMS)
    parsed = parse_listpack(blob)
    # a canonical integer string is stored as an integer; "007" and "-0" stay strings
    assert parsed == [12 if item == b"12" else item for item in LISTPACK_ITEMS]
    # one small integer: encoding byte + back length
    assert build_listpack([5]) == b"\x09\x00\x00\x00\x01\x00\x05\x01\xff"
    assert build_listpack([b"ab"]) == b"\x0b\x00\x00\x00\x01\x00\x82ab\x03\xff"


def test_listpack_count_saturates():
    blob = build_listpack([1] * 70000)
    assert blob[4:6] == b"\xff\xff"
    assert len(parse_listpack(blob)) == 70000


def test_intset_widths_and_order():
    assert build_intset([1, 2]) == b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x02\x00"
    assert build_intset([-40000, 1])[:4] == b"\x04\x00\x00\x00"
    assert build_intset([1, 2**40])[:4] == b"\x08\x00\x00\x00"
    assert parse_intset(build_intset([-2**63, 0, 2**63 - 1])) == (-2**63, 0, 2**63 - 1)
    for bad in (b"\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00",      # descending
                b"\x02\x00\x00\x00\x02\x00\x00\x00\x01\x00\x01\x00",      # repeated
                b"\x03\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00",          # width 3
                b"\x02\x00\x00\x00\x00\x00\x00\x00",                      # empty
                b"\x02\x00\x00\x00\x05\x00\x00\x00\x01\x00"):             # short
        with pytest.raises(RdbFormatError):
            parse_intset(bad)


def test_ziplist_parsing():
    items = [b"a", b"", b"x" * 100, b"y" * 20000, 0, 12, 13, -1, 200, -200, 40000, -9000000,
             2**31, -2**63]
    blob = ziplist(items)
    assert parse_ziplist(blob) == items
    assert parse_ziplist(ziplist([])) == []
    with pytest.raises(RdbFormatError):
        parse_ziplist(ziplist(items, count=len(items) + 1))
    bad_tail = bytearray(blob)
    bad_tail[4] ^= 1
    with pytest.raises(RdbFormatError):
        parse_ziplist(bytes(bad_tail))


def test_zipmap_parsing():
    pairs = [(b"f1", b"v1"), (b"f" * 300, b"v" * 300), (b"", b"")]
    assert parse_zipmap(zipmap(pairs)) == pairs
    assert parse_zipmap(zipmap(pairs, free=3)) == pairs
    with pytest.raises(RdbFormatError):
        parse_zipmap(b"\x00\xff")                       # no entries
    with pytest.raises(RdbFormatError):
        parse_zipmap(b"\x02" + zipmap(pairs[:1])[1:])  # count disagrees


def _corruptions(blob, rng, count):
    """Single-byte changes, truncations and extensions of blob."""
    out = [blob[:cut] for cut in range(len(blob))] + [blob + b"\x00", blob + b"\xff"]
    for _ in range(count):
        data = bytearray(blob)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("parser,blob", [
    (parse_listpack, build_listpack([b"a", 300, b"b" * 70, -5, b"c" * 5000, 2**40])),
    (parse_ziplist, ziplist([b"a", 300, b"b" * 70, -5, b"c" * 300, 2**40])),
    (parse_intset, build_intset([-70000, 1, 2, 3, 90000])),
    (parse_zipmap, zipmap([(b"a", b"1"), (b"b" * 300, b"2")], free=2)),
], ids=["listpack", "ziplist", "intset", "zipmap"])
def test_packed_parsers_only_raise_format_errors(parser, blob):
    rng = random.Random(5)
    for data in _corruptions(blob, rng, 3000):
        try:
            parser(data)
        except RdbFormatError:
            pass


# -- whole values ---------------------------------------------------------------------------------

def _values():
    from server.commands.hashes import Hash
    from server.commands.lists import ListValue
    from server.commands.sets import Set
    from server.commands.zsets import SortedSet
    small_hash = Hash()
    for i in range(5):
        small_hash.set(b"f%d" % i, b"%d" % (i * 1000))
    big_hash = Hash()
    for i in range(200):
        big_hash.set(b"field:%d" % i, b"v" * (i % 90))
    big_hash.fit(128)
    intset = Set()
    for n in (1, -70000, 5, 2**40):
        intset.add(b"%d" % n, 512)
    strings = Set()
    for member in (b"a", b"b", b"1"):
        strings.add(member, 512)
    small_zset = SortedSet.build([(b"a", 1.0), (b"b", 2.5), (b"c", float("-inf"))], 128, 64)
    big_zset = SortedSet.build([(b"m%d" % i, i / 3) for i in range(300)], 128, 64)
    return [b"", b"12", b"hello" * 30, bytearray(b"raw value"), small_hash, big_hash, intset,
            strings, small_zset, big_zset, ListValue([b"a", b"1", b"x" * 100] * 500)]


def _comparable(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if value.TYPE == "hash":
        return sorted(value.items())
    if value.TYPE == "set":
        return sorted(value)
    if value.TYPE == "zset":
        return list(value.items())
    return list(value)


def test_values_round_trip_with_their_encoding():
    for value in _values():
        encoded = encode_value(value, Config)
        reader = Reader(encoded, 1)
        decoded = decode_value(reader, encoded[0], Config)
        assert reader.pos == len(encoded)
        assert _comparable(decoded) == _comparable(value)
        if not isinstance(value, (bytes, bytearray)):
            assert decoded.encoding() == value.encoding()


def test_empty_aggregates_are_refused_as_empty():
    for body in (b"\x02\x00", b"\x04\x00", b"\x05\x00", b"\x12\x00", b"\x01\x00",
                 b"\x10" + rdb_string(build_listpack([])),
                 b"\x0d" + rdb_string(ziplist([])), b"\x0a" + rdb_string(ziplist([]))):
        with pytest.raises(EmptyValueError):
            decode_value(Reader(body, 1), body[0], Config)


def test_decoding_mutated_values_only_raises_format_errors():
    rng = random.Random(9)
    for value in _values():
        encoded = encode_value(value, Config)
        for data in _corruptions(encoded, rng, 300)[-400:]:
            if not data or not rdb_values.is_object_type(data[0]):
                continue
            try:
                decode_value(Reader(data, 1), data[0], Config)
            except RdbFormatError:
                pass

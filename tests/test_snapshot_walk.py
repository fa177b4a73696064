"""native/snapshot.pyx's write_entries against the Python records it twins.

The twin is the Python loop over `table.items()` writing [0xFC + expiry], the
type byte, then key and value with persistence/rdb_values.write_string: the
native walk must give the same bytes, in the same (bucket) order, with the
entries holding a value object written by the fallback in their place.
Under PYREDIS_PURE=1 write_string compresses with the pure-Python LZF, so the
native compressor is checked against that one too.

Then the point of it: in a forked child the native walk un-shares a small
part of the parent's memory, the Python loop a large one (benchmarks/cow.py
measures the same at 1M keys).
"""
import gc
import importlib.util
import io
import os
import random
import subprocess

import pytest

from harness import PURE_RUN, REQUIRE_REFERENCE, ROOT, require_tool

try:
    from native.keytable import KeyTable
    from native.snapshot import write_entries
    from native import lzf as native_lzf
except ImportError:         # not built: nothing to compare
    if REQUIRE_REFERENCE:
        raise
    pytest.skip("native.snapshot not built", allow_module_level=True)

from persistence import lzf as python_lzf  # noqa: E402
from persistence.rdb_values import TYPE_STRING, write_length, write_string  # noqa: E402

INLINE_MAX = 64
OPCODE_EXPIRETIME_MS = 0xFC

INTEGER_EDGES = [
    b"0", b"-1", b"1", b"127", b"128", b"-128", b"-129", b"255", b"256", b"32767", b"32768",
    b"-32768", b"-32769", b"65535", b"65536", b"2147483647", b"2147483648", b"-2147483648",
    b"-2147483649", b"4294967295", b"4294967296", b"007", b"00", b"-0", b"-00", b"-01", b"+1",
    b" 1", b"1 ", b"1a", b"-", b"", b"0x10", b"1.5", b"1e3",
    b"12345678901", b"99999999999", b"-1234567890", b"-9999999999", b"123456789012",
    b"-12345678901", b"999999999999", b"9223372036854775807", b"-9223372036854775808",
    b"\xd9\xa1",                      # a non-ASCII digit
]

COMPRESSIBLE = [b"a" * 20, b"a" * 21, b"ab" * 11, b"a" * 24, b"a" * 25, b"x" * 64,
                b"%032d" % 7, b"0" * 21, b"abcabcabcabcabcabcabcab"]


def incompressible(n, seed):
    return random.Random(seed).randbytes(n)


STRING_VALUES = (INTEGER_EDGES + COMPRESSIBLE
                 + [incompressible(n, n) for n in (19, 20, 21, 22, 25, 32, 63, 64)]
                 + [bytes(range(64)), b"\0" * 21, b"\r\n" * 11, b"hello", b"x"])


def string_record(key, value, when, compress):
    """The record the Python writer writes for a string value."""
    out = bytearray()
    if when is not None:
        out.append(OPCODE_EXPIRETIME_MS)
        out += when.to_bytes(8, "little", signed=True)
    out.append(TYPE_STRING)
    write_string(out, key, compress)
    write_string(out, bytes(value), compress)
    return bytes(out)


def fallback_record(key, value, when, compress):
    """What the tests' fallback writes for an entry holding an object: a string's real
    record, a marker for anything else (its encoding is not this module's business)."""
    if isinstance(value, (bytes, bytearray)):
        return string_record(key, value, when, compress)
    out = bytearray(b"\xee<")
    write_length(out, len(key))
    out += key + b":" + type(value).__name__.encode() + b">"
    return bytes(out)


def reference(table, expires, compress):
    """The twin: the Python loop over table.items()."""
    out = bytearray()
    for key, value in table.items():
        when = expires.get(key) if expires else None
        if type(value) is bytes and len(value) <= INLINE_MAX:
            out += string_record(key, value, when, compress)
        else:
            out += fallback_record(key, value, when, compress)
    return bytes(out)


def native(table, expires, compress, chunk=65536, out=None):
    """write_entries' output, with the fallback calls it made."""
    out = io.BytesIO() if out is None else out
    calls = []

    def fallback(key, value):
        calls.append((key, value))
        when = expires.get(key) if expires else None
        record = memoryview(fallback_record(key, value, when, compress))
        while record:                   # a raw stream may take part of it
            record = record[out.write(record):]

    written = write_entries(table, expires, out, compress, fallback, chunk)
    assert written == len(table)
    return out.getvalue(), calls


class Opaque:
    pass


def dataset(seed, size):
    """A KeyTable of every kind of key and value, and an expires dict for part of it."""
    rng = random.Random(seed)
    table = KeyTable()
    expires = {}
    held = []
    keys = [b"", b"k" * 63, b"k" * 64, b"K" * 16383, b"K" * 16384, b"a" * 21,
            incompressible(100, seed), b"12", b"-7", b"300", b"70000", b"007"]
    keys += INTEGER_EDGES
    keys += [rng.randbytes(rng.randint(1, 30)) for _ in range(size)]
    keys += [b"key:%d" % i for i in range(size)]
    for i, key in enumerate(keys):
        kind = rng.random()
        if kind < 0.6:
            value = rng.choice(STRING_VALUES)
        elif kind < 0.8:
            value = rng.randbytes(rng.randint(0, INLINE_MAX))
        elif kind < 0.9:
            value = b"%d" % rng.randint(-2 ** 40, 2 ** 40)
        else:
            value = rng.choice([bytearray(b"in place %d" % i), b"long" * 20, b"y" * (INLINE_MAX + 1),
                                Opaque(), [i], {"f": i}])
            held.append(value)
        table[key] = value
        if rng.random() < 0.3:
            # Equal but distinct key objects half of the time, as after EXPIRE on a key
            expiry_key = bytes(bytearray(key)) if rng.random() < 0.5 else key
            expires[expiry_key] = rng.choice([0, -1, 1, 2 ** 63 - 1, -2 ** 63, 1_700_000_000_123,
                                              rng.randint(0, 2 ** 45)])
    expires[b"no such key"] = 5
    expires[b"\xffnot here either"] = 2 ** 70      # out of range, but never looked at
    return table, expires, held


@pytest.mark.parametrize("compress", [True, False], ids=["compress", "raw"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_are_the_python_writers_bytes(seed, compress):
    table, expires, held = dataset(seed, 400)
    data, calls = native(table, expires, compress)
    assert data == reference(table, expires, compress)
    # the fallback saw the very objects held, in bucket order
    expected = [(k, v) for k, v in table.items() if not (type(v) is bytes and len(v) <= INLINE_MAX)]
    assert [k for k, _ in calls] == [k for k, _ in expected]
    assert all(v is w for (_, v), (_, w) in zip(calls, expected))
    assert len(calls) == len(held)


@pytest.mark.parametrize("compress", [True, False], ids=["compress", "raw"])
def test_each_string_encodes_as_write_string(compress):
    """One key at a time, so a difference names its string."""
    for value in STRING_VALUES + [b"k" * 63, b"k" * 64]:
        for key in (b"k", value):
            table = KeyTable()
            table[key] = value
            data, calls = native(table, None, compress)
            assert calls == [] or len(value) > INLINE_MAX
            assert data == string_record(key, value, None, compress), (key, value)


@pytest.mark.parametrize("chunk", [1, 7, 100, 4096])
def test_chunking_changes_nothing_but_the_writes(chunk):
    table, expires, _ = dataset(4, 300)

    class Recorder(io.BytesIO):
        sizes = []

        def write(self, data):
            if type(data) is bytes:     # the walk's chunks (the fallback writes memoryviews)
                self.sizes.append(len(data))
            return super().write(data)

    out = Recorder()
    data, _ = native(table, expires, True, chunk, out)
    assert data == reference(table, expires, True)
    assert len(out.sizes) > 1
    # a chunk passes `chunk` by one record at most (a long key's record goes whole)
    assert max(out.sizes) < chunk + 16384 + 200


def test_partial_writes_are_completed():
    table, expires, _ = dataset(5, 200)

    class Trickle(io.RawIOBase):
        def __init__(self):
            self.data = bytearray()

        def writable(self):
            return True

        def write(self, data):
            taken = bytes(data[:5])
            self.data += taken
            return len(taken)

        def getvalue(self):
            return bytes(self.data)

    data, _ = native(table, expires, True, 1000, Trickle())
    assert data == reference(table, expires, True)


def test_no_expires_none_and_empty_are_alike():
    table, _, _ = dataset(6, 100)
    assert native(table, None, True)[0] == native(table, {}, True)[0] == reference(table, {}, True)


def test_an_empty_table_writes_nothing():
    out = io.BytesIO()
    assert write_entries(KeyTable(), {b"x": 1}, out, True, None) == 0
    assert out.getvalue() == b""


def test_bad_expiry_values_raise():
    table = KeyTable()
    table[b"k"] = b"v"
    with pytest.raises(OverflowError):
        write_entries(table, {b"k": 2 ** 64}, io.BytesIO(), True, None)
    with pytest.raises(TypeError):
        write_entries(table, {b"k": "soon"}, io.BytesIO(), True, None)
    with pytest.raises(ValueError):
        write_entries(table, None, io.BytesIO(), True, None, 0)


def test_errors_from_the_fallback_and_the_stream_propagate():
    table = KeyTable()
    table[b"list"] = [1]
    with pytest.raises(ZeroDivisionError):
        write_entries(table, None, io.BytesIO(), True, lambda k, v: 1 / 0)

    class Broken:
        def write(self, data):
            raise OSError("disk full")

    table[b"s"] = b"v"
    with pytest.raises(OSError, match="disk full"):
        write_entries(table, None, Broken(), True, lambda k, v: None)


def test_a_fallback_that_changes_the_table_is_stopped():
    table = KeyTable()
    for i in range(50):
        table[b"k%d" % i] = [i] if i % 10 == 0 else b"v"
    with pytest.raises(RuntimeError, match="changed"):
        write_entries(table, None, io.BytesIO(), True, lambda k, v: table.pop(b"k5", None))


def test_the_shared_lzf_table_stays_consistent():
    """The walk and lzf.compress number their hash-table positions from one counter: a
    compression after the walk still finds no stale matches, and the walk none of its."""
    table = KeyTable()
    for i in range(2000):
        table[b"key:%d" % i] = b"%032d" % i
    samples = [b"%032d" % i for i in range(50)] + [b"abcabcabcabcabcabcabcabcabc" * 3]
    before = [native_lzf.compress(s, len(s) - 4) for s in samples]
    first = native(table, None, True)[0]
    assert [native_lzf.compress(s, len(s) - 4) for s in samples] == before
    assert before == [python_lzf.pure_compress(s, len(s) - 4) for s in samples]
    assert native(table, None, True)[0] == first == reference(table, None, True)


def test_real_redis_check_rdb_accepts_the_records(tmp_path):
    check_rdb = require_tool("redis-check-rdb")
    table = KeyTable()
    expires = {}
    for i, value in enumerate(STRING_VALUES + [b"long" * 30, bytearray(b"edited")]):
        key = b"key:%d" % i
        table[key] = value
        if i % 3 == 0:
            expires[key] = 4_000_000_000_000 + i        # far ahead: loaded, not skipped
    body, _ = native(table, expires, True)
    header = bytearray(b"REDIS0010\xfe\x00\xfb")
    write_length(header, len(table))
    write_length(header, len(expires))
    path = tmp_path / "walk.rdb"
    path.write_bytes(bytes(header) + body + b"\xff" + b"\0" * 8)      # checksum 0: not checked
    result = subprocess.run([check_rdb, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "RDB looks OK" in result.stdout
    assert "[info] %d keys read" % len(table) in result.stdout
    assert "[info] %d expires" % len(expires) in result.stdout


def _cow_benchmark():
    spec = importlib.util.spec_from_file_location("cow", os.path.join(ROOT, "benchmarks", "cow.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(PURE_RUN, reason="measures the native walk against the Python loop once")
@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="needs smaps_rollup")
def test_a_forked_child_walk_unshares_little_memory():
    cow = _cow_benchmark()
    table, expires = cow.build(200_000, 10, distinct_expire_keys=True)
    gc.collect()
    gc.freeze()
    try:
        rss = cow.memory_kb("Rss")
        _, native_peak, _, native_bytes = cow.measure_in_child(cow.native_walk, table, expires)
        _, python_peak, _, python_bytes = cow.measure_in_child(cow.python_walk, table, expires)
    finally:
        gc.unfreeze()
    assert native_bytes == python_bytes > 0
    assert native_peak < 0.25 * rss, (native_peak, rss)
    assert native_peak * 4 < python_peak, (native_peak, python_peak)

"""Bit commands against Debian's redis-server 7.0.15, reply bytes compared.

SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO: fixed
scripts for the edge cases and every error text, random command sequences
from hypothesis, and large strings for the whole-range fast paths.
"""
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential import assert_same, run_script
from harness import RawConnection

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"


def both_same(reference, server, script, resp3=False):
    return assert_same(reference, server, script, resp3=resp3)


# -- SETBIT / GETBIT ------------------------------------------------------------------

SETBIT_SCRIPT = [
    ["SETBIT", "k", "7", "1"], ["GET", "k"], ["SETBIT", "k", "7", "1"], ["SETBIT", "k", "7", "0"],
    ["GET", "k"], ["SETBIT", "k", "0", "1"], ["SETBIT", "k", "100", "1"], ["GET", "k"],
    ["STRLEN", "k"], ["SETBIT", "k", "100", "0"], ["STRLEN", "k"],
    ["SETBIT", "new", "0", "0"], ["GET", "new"], ["EXISTS", "new"],
    ["SETBIT", "k", "-1", "1"], ["SETBIT", "k", "x", "1"], ["SETBIT", "k", "", "1"],
    ["SETBIT", "k", "1.5", "1"], ["SETBIT", "k", "01", "1"], ["SETBIT", "k", "+1", "1"],
    ["SETBIT", "k", "#1", "1"], ["SETBIT", "k", " 1", "1"], ["SETBIT", "k", LLONG_MAX, "1"],
    ["SETBIT", "k", "4294967296", "1"], ["SETBIT", "k", "99999999999999999999", "1"],
    ["SETBIT", "k", "1", "2"], ["SETBIT", "k", "1", "-1"], ["SETBIT", "k", "1", "x"],
    ["SETBIT", "k", "1", ""], ["SETBIT", "k", "1", "01"], ["SETBIT", "k", "1", "1.0"],
    ["SETBIT", "k", "-1", "x"],
    ["SETBIT", "k", "1"], ["SETBIT", "k", "1", "1", "1"], ["SETBIT"],
    ["GETBIT", "k", "0"], ["GETBIT", "k", "1"], ["GETBIT", "k", "100"], ["GETBIT", "k", "101"],
    ["GETBIT", "k", "1000000"], ["GETBIT", "missing", "0"], ["GETBIT", "missing", "-1"],
    ["GETBIT", "missing", "x"], ["GETBIT", "k", "4294967296"], ["GETBIT", "k", "4294967295"],
    ["GETBIT", "k"], ["GETBIT", "k", "1", "2"],
    ["SET", "s", "abc"], ["GETBIT", "s", "1"], ["GETBIT", "s", "2"], ["SETBIT", "s", "6", "1"],
    ["GET", "s"], ["SET", "n", "12"], ["GETBIT", "n", "2"], ["SETBIT", "n", "15", "1"],
    ["GET", "n"], ["INCR", "n"],
    ["SET", "bin", b"\x00\xff\x80"], ["SETBIT", "bin", "9", "0"], ["GET", "bin"],
    ["SET", "empty", ""], ["GETBIT", "empty", "0"], ["SETBIT", "empty", "3", "1"],
    ["GET", "empty"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_setbit_getbit(reference, server, resp3):
    both_same(reference, server, SETBIT_SCRIPT, resp3)



def test_wrong_type(reference, server):
    conn = RawConnection(server.port)
    try:
        has_lists = not conn.command("RPUSH", "probe", "a").startswith(b"-ERR unknown")
        conn.command("DEL", "probe")
    finally:
        conn.close()
    if not has_lists:
        pytest.skip("pyredis-server has no RPUSH yet")
    both_same(reference, server, [
        ["RPUSH", "l", "a"],
        ["SETBIT", "l", "1", "1"], ["SETBIT", "l", "x", "1"], ["SETBIT", "l", "1", "x"],
        ["GETBIT", "l", "1"], ["GETBIT", "l", "x"],
        ["BITCOUNT", "l"], ["BITCOUNT", "l", "x", "y"], ["BITCOUNT", "l", "0"],
        ["BITPOS", "l", "1"], ["BITPOS", "l", "2"], ["BITPOS", "l", "1", "x"],
        ["SET", "s", "ab"], ["BITOP", "AND", "d", "s", "l"], ["BITOP", "AND", "d", "missing", "l"],
        ["BITOP", "NOT", "d", "l"], ["BITOP", "OR", "l", "s"], ["TYPE", "l"], ["GET", "l"],
        ["RPUSH", "l2", "a"],
        ["BITFIELD", "l2", "GET", "u8", "0"], ["BITFIELD", "l2", "SET", "u8", "0", "1"],
        ["BITFIELD", "l2"], ["BITFIELD", "l2", "GET", "u8", "x"],
        ["BITFIELD_RO", "l2", "GET", "u8", "0"], ["BITFIELD_RO", "l2", "SET", "u8", "0", "1"],
    ])


def test_offset_limit_follows_proto_max_bulk_len(reference, server):
    script = [
        ["CONFIG", "SET", "proto-max-bulk-len", "1mb"],
        ["SETBIT", "k", "8388608", "1"], ["SETBIT", "k", "8388607", "1"], ["STRLEN", "k"],
        ["GETBIT", "k", "8388608"], ["GETBIT", "k", "8388607"],
        ["BITFIELD", "k", "GET", "u8", "8388608"], ["BITFIELD", "k", "GET", "u8", "8388600"],
        ["BITFIELD", "k", "SET", "u8", "#1048576", "1"], ["BITFIELD", "k", "SET", "u8", "#1048575", "1"],
        ["BITFIELD", "k", "SET", "u16", "8388607", "65535"], ["STRLEN", "k"],
        ["BITCOUNT", "k"], ["BITPOS", "k", "1"], ["BITPOS", "k", "0", "-1"],
        ["CONFIG", "SET", "proto-max-bulk-len", "512mb"],
    ]
    try:
        both_same(reference, server, script)
    finally:
        for proc in (reference, server):
            conn = RawConnection(proc.port)
            conn.command("CONFIG", "SET", "proto-max-bulk-len", "512mb")
            conn.close()


# -- BITCOUNT ----------------------------------------------------------------------------

BITCOUNT_RANGES = [
    [], ["0", "-1"], ["0", "0"], ["1", "1"], ["-1", "-1"], ["-2", "-1"], ["-1", "-2"],
    ["2", "1"], ["0", "100"], ["-100", "100"], ["-100", "-50"], ["5", "3"], ["3", "5"],
    [LLONG_MIN, LLONG_MAX], [LLONG_MAX, LLONG_MIN], ["0", "-1", "BYTE"], ["0", "-1", "BIT"],
    ["0", "-1", "bit"], ["5", "30", "BIT"], ["1", "1", "BIT"], ["7", "8", "BIT"],
    ["-1", "-1", "BIT"], ["-9", "-3", "BIT"], ["-3", "-9", "BIT"], ["9", "100", "BIT"],
    ["16", "23", "BIT"], ["15", "16", "BIT"], ["0", "0", "BIT"], ["-100", "3", "BIT"],
    ["0", "-1", "BITS"], ["0", "-1", ""], ["0", "-1", "bit\x00"], ["-1", "-2", "xx"],
    ["x", "1"], ["1", "x"], ["x", "y", "zz"], ["1", "x", "BIT"], ["0"], ["0", "1", "BIT", "x"],
    ["1.0", "2"], ["0", "-1", "BYTE", "BIT"],
]


@pytest.mark.parametrize("value", [b"foobar", b"\xff\x00\xaa\x55\x01\x80\xfe\x7f", b"",
                                   b"\x00", b"1234567"], ids=repr)
def test_bitcount_ranges(reference, server, value):
    script = [["SET", "k", value]]
    for args in BITCOUNT_RANGES:
        script.append(["BITCOUNT", "k"] + args)
        script.append(["BITCOUNT", "missing"] + args)
    both_same(reference, server, script)


def test_bitcount_random_ranges(reference, server):
    rng = random.Random(7)
    value = bytes(rng.randrange(256) for _ in range(300))
    script = [["SET", "k", value]]
    for _ in range(300):
        start, end = rng.randrange(-2600, 2600), rng.randrange(-2600, 2600)
        script.append(["BITCOUNT", "k", str(start), str(end)] +
                      ([rng.choice(["BIT", "BYTE"])] if rng.random() < 0.7 else []))
    both_same(reference, server, script)


# -- BITPOS ------------------------------------------------------------------------------

BITPOS_ARGS = [
    [], ["0"], ["2"], ["-1"], ["-2"], ["100"], ["0", "0"], ["0", "-1"], ["1", "1"], ["1", "2"],
    ["2", "1"], ["-1", "-1"], ["-2", "-1"], ["-100", "100"], ["100", "200"],
    [LLONG_MIN, LLONG_MAX], ["0", "-1", "BYTE"], ["0", "-1", "BIT"], ["0", "-1", "bit"],
    ["3", "11", "BIT"], ["7", "7", "BIT"], ["8", "9", "BIT"], ["-5", "-1", "BIT"],
    ["-3", "-9", "BIT"], ["9", "1000", "BIT"], ["1", "6", "BIT"], ["2", "2", "BIT"],
    ["5", "17", "BIT"], ["0", "23", "BIT"], ["1", "-1", "BIT"],
    ["0", "-1", "BITS"], ["0", "-1", ""], ["x"], ["0", "x"], ["x", "y", "zz"], ["0", "x", "BIT"],
    ["0", "1", "x"], ["0", "1", "BIT", "x"], ["1.5"],
]


@pytest.mark.parametrize("value", [b"\x00\x00\x00", b"\xff\xff\xff", b"\xff\xf0\x00",
                                   b"\x00\x0f\xff", b"\x01\x80\x7f\xfe\x00", b"", b"\x10",
                                   b"\xef"], ids=repr)
def test_bitpos(reference, server, value):
    script = [["SET", "k", value]]
    for bit in ("0", "1"):
        for args in BITPOS_ARGS:
            script.append(["BITPOS", "k", bit] + args)
    for args in BITPOS_ARGS[:8]:
        script.append(["BITPOS", "missing", "0"] + args)
        script.append(["BITPOS", "missing", "1"] + args)
    script += [["BITPOS", "k", "2"], ["BITPOS", "k", "-1"], ["BITPOS", "k", "x"],
               ["BITPOS", "missing", "2"], ["BITPOS", "missing", "x"], ["BITPOS", "k"],
               ["BITPOS", "missing", "1", "x", "y", "z"]]
    both_same(reference, server, script)


def test_bitpos_random_ranges(reference, server):
    rng = random.Random(11)
    values = [bytes(rng.choice([0, 0xFF, rng.randrange(256)]) for _ in range(40)) for _ in range(5)]
    script = []
    for n, value in enumerate(values):
        script.append(["SET", "k%d" % n, value])
        for _ in range(80):
            args = ["BITPOS", "k%d" % n, rng.choice(["0", "1"])]
            shape = rng.randrange(4)
            if shape >= 1:
                args.append(str(rng.randrange(-400, 400)))
            if shape >= 2:
                args.append(str(rng.randrange(-400, 400)))
            if shape == 3:
                args.append(rng.choice(["BIT", "BYTE"]))
            script.append(args)
    both_same(reference, server, script)


# -- BITOP ---------------------------------------------------------------------------------

BITOP_SCRIPT = [
    ["SET", "a", b"\xff\x0f\xaa"], ["SET", "b", b"\x0f"], ["SET", "c", b"\x00\xf0\x55\x01\xff"],
    ["BITOP", "AND", "d", "a", "b"], ["GET", "d"],
    ["BITOP", "OR", "d", "a", "b", "c"], ["GET", "d"],
    ["BITOP", "XOR", "d", "a", "b", "c"], ["GET", "d"],
    ["BITOP", "NOT", "d", "a"], ["GET", "d"],
    ["BITOP", "and", "d", "a", "c"], ["GET", "d"], ["BITOP", "Or", "d", "a"], ["GET", "d"],
    ["BITOP", "xOr", "d", "a", "a"], ["GET", "d"],
    ["BITOP", "AND", "d", "a", "missing"], ["GET", "d"],
    ["BITOP", "OR", "d", "missing", "a"], ["GET", "d"],
    ["BITOP", "NOT", "d", "missing"], ["EXISTS", "d"],
    ["SET", "d", "x"], ["BITOP", "AND", "d", "missing", "missing2"], ["EXISTS", "d"],
    ["BITOP", "AND", "d", "missing"], ["EXISTS", "d"],
    ["SET", "empty", ""], ["SET", "d", "x"], ["BITOP", "OR", "d", "empty"], ["EXISTS", "d"],
    ["BITOP", "NOT", "d", "empty"], ["EXISTS", "d"],
    ["BITOP", "NOT", "d", "a", "b"], ["BITOP", "NOT", "d"], ["BITOP", "NAND", "d", "a"],
    ["BITOP", "AND", "d"], ["BITOP", "", "d", "a"], ["BITOP", "and\x00x", "d", "a"],
    ["BITOP", "NOT", "d", "a", "missing"], ["BITOP", "XOR"], ["BITOP"],
    ["SET", "t", "x", "EX", "100"], ["BITOP", "OR", "t", "a"], ["TTL", "t"], ["GET", "t"],
    ["BITOP", "OR", "a", "a", "b"], ["GET", "a"],
    ["SET", "n", "123"], ["BITOP", "NOT", "d", "n"], ["GET", "d"],
    ["SET", "bin", b"\x00\r\n\x00"], ["BITOP", "XOR", "d", "bin", "a"], ["GET", "d"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_bitop(reference, server, resp3):
    both_same(reference, server, BITOP_SCRIPT, resp3)


def test_bitop_random(reference, server):
    rng = random.Random(3)
    script = []
    for n in range(6):
        size = rng.choice([0, 1, 3, 31, 32, 33, 100, 257])
        script.append(["SET", "s%d" % n, bytes(rng.randrange(256) for _ in range(size))])
    for _ in range(60):
        op = rng.choice(["AND", "OR", "XOR", "NOT"])
        count = 1 if op == "NOT" else rng.randrange(1, 6)
        sources = ["s%d" % rng.randrange(7) for _ in range(count)]
        script.append(["BITOP", op, "dest", *sources])
        script.append(["GET", "dest"])
    both_same(reference, server, script)


# -- BITFIELD --------------------------------------------------------------------------

BITFIELD_SCRIPT = [
    ["BITFIELD", "k", "SET", "u8", "0", "255"], ["GET", "k"],
    ["BITFIELD", "k", "GET", "u8", "0", "GET", "i8", "0", "GET", "u4", "4", "GET", "i4", "4"],
    ["BITFIELD", "k", "SET", "i5", "3", "-3", "GET", "u16", "0"], ["GET", "k"],
    ["BITFIELD", "k", "INCRBY", "u2", "100", "1", "INCRBY", "u2", "100", "5"], ["GET", "k"],
    ["BITFIELD", "k", "SET", "u8", "#0", "1", "SET", "u8", "#1", "2", "SET", "u8", "#2", "3"],
    ["GET", "k"], ["BITFIELD", "k", "GET", "u8", "#2", "GET", "u4", "#3"],
    ["BITFIELD", "k", "GET", "i64", "0", "GET", "u63", "0", "GET", "i64", "1", "GET", "u63", "1"],
    ["BITFIELD", "k", "GET", "u8", "1000", "GET", "i1", "0", "GET", "u1", "7"],
    ["BITFIELD", "k", "SET", "i64", "0", LLONG_MIN, "GET", "i64", "0", "INCRBY", "i64", "0", "-1"],
    ["BITFIELD", "k", "SET", "i64", "0", LLONG_MAX, "INCRBY", "i64", "0", "1"],
    ["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i64", "0", LLONG_MAX,
     "INCRBY", "i64", "0", LLONG_MIN, "INCRBY", "i64", "0", LLONG_MIN],
    ["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "i64", "0", "-1", "INCRBY", "i64", "0",
     LLONG_MIN, "GET", "i64", "0"],
    ["BITFIELD", "k", "SET", "u63", "3", LLONG_MAX, "GET", "u63", "3", "INCRBY", "u63", "3", "1"],
    ["BITFIELD", "k", "OVERFLOW", "SAT", "SET", "u63", "3", "-1", "GET", "u63", "3",
     "INCRBY", "u63", "3", LLONG_MIN],
    ["BITFIELD", "k", "OVERFLOW", "FAIL", "SET", "u63", "3", "-1", "SET", "u8", "0", "256",
     "SET", "u8", "0", "-1", "SET", "i8", "0", "128", "SET", "i8", "0", "-129",
     "SET", "i8", "0", "-128", "SET", "u8", "0", "0"],
    ["BITFIELD", "k", "OVERFLOW", "WRAP", "SET", "u8", "0", "-1", "SET", "u8", "0", "257",
     "SET", "i8", "0", "200", "SET", "i8", "0", "-200", "GET", "i8", "0", "SET", "u1", "0", "3"],
    ["BITFIELD", "k", "OVERFLOW", "wrap", "INCRBY", "u3", "0", "20", "INCRBY", "i3", "0", "-20",
     "overflow", "sat", "INCRBY", "u3", "0", "20", "INCRBY", "u3", "0", "-20",
     "INCRBY", "i3", "0", "20", "INCRBY", "i3", "0", "-20",
     "OVERFLOW", "Fail", "INCRBY", "u3", "0", "8", "INCRBY", "u3", "0", "-1", "INCRBY", "i3", "0", "4",
     "INCRBY", "i3", "0", "-5", "INCRBY", "i3", "0", "3"],
    ["BITFIELD", "k", "INCRBY", "i1", "0", "1", "INCRBY", "i1", "0", "1", "INCRBY", "u1", "0", "1"],
    ["BITFIELD", "k", "OVERFLOW", "SAT", "INCRBY", "i1", "0", "5", "INCRBY", "i1", "0", "-5"],
    ["GET", "k"], ["STRLEN", "k"],
    ["BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u8", "16", "300"], ["GET", "new"],
    ["BITFIELD", "k", "GET", "u64", "0"], ["BITFIELD", "k", "GET", "i65", "0"],
    ["BITFIELD", "k", "GET", "i0", "0"], ["BITFIELD", "k", "GET", "u0", "0"],
    ["BITFIELD", "k", "GET", "x8", "0"], ["BITFIELD", "k", "GET", "I8", "0"],
    ["BITFIELD", "k", "GET", "U8", "0"], ["BITFIELD", "k", "GET", "", "0"],
    ["BITFIELD", "k", "GET", "i", "0"], ["BITFIELD", "k", "GET", "i08", "0"],
    ["BITFIELD", "k", "GET", "i-8", "0"], ["BITFIELD", "k", "GET", "i8\x00zz", "0"],
    ["BITFIELD", "k", "GET", "u 8", "0"],
    ["BITFIELD", "k", "GET", "u8", "-1"], ["BITFIELD", "k", "GET", "u8", "x"],
    ["BITFIELD", "k", "GET", "u8", "#-1"], ["BITFIELD", "k", "GET", "u8", "#"],
    ["BITFIELD", "k", "GET", "u8", "##1"], ["BITFIELD", "k", "GET", "u8", "1#"],
    ["BITFIELD", "k", "GET", "u8", "#" + LLONG_MAX],
    ["BITFIELD", "k", "GET", "u4", "#4611686018427387904"],
    ["BITFIELD", "k", "GET", "u8", "#1152921504606846977"],
    ["BITFIELD", "k", "GET", "u8", "4294967296"],
    ["BITFIELD", "k", "SET", "u8", "0", "x"], ["BITFIELD", "k", "SET", "u8", "0", "1.5"],
    ["BITFIELD", "k", "SET", "u8", "0", "99999999999999999999"],
    ["BITFIELD", "k", "INCRBY", "u8", "0"], ["BITFIELD", "k", "SET", "u8", "0"],
    ["BITFIELD", "k", "GET", "u8"], ["BITFIELD", "k", "GET"], ["BITFIELD", "k", "FOO", "u8", "0"],
    ["BITFIELD", "k", "OVERFLOW"], ["BITFIELD", "k", "OVERFLOW", "foo", "GET", "u8", "0"],
    ["BITFIELD", "k", "GET", "u8", "0", "OVERFLOW", "foo"],
    ["BITFIELD", "k", "GET", "u8", "0", "SET", "x8", "0", "1"],
    ["BITFIELD", "k", "SET", "u8", "0", "1", "GET", "u8", "x"], ["GET", "k"],
    ["BITFIELD", "k", "get\x00x", "u8", "0"], ["BITFIELD", "k", "OVERFLOW", "sat\x00"],
    ["BITFIELD", "k"], ["BITFIELD", "missing"], ["EXISTS", "missing"],
    ["BITFIELD", "missing", "GET", "i8", "0", "GET", "u63", "100"], ["EXISTS", "missing"],
    ["BITFIELD", "k", "OVERFLOW", "SAT"], ["BITFIELD"],
    ["SET", "n", "123"], ["BITFIELD", "n", "GET", "u8", "0", "INCRBY", "u8", "0", "1"], ["GET", "n"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_bitfield(reference, server, resp3):
    both_same(reference, server, BITFIELD_SCRIPT, resp3)


BITFIELD_RO_SCRIPT = [
    ["SET", "k", b"\x12\x34\x56\x78"],
    ["BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i12", "4", "GET", "u8", "#3", "GET", "u8", "#4"],
    ["BITFIELD_RO", "k"], ["BITFIELD_RO", "missing", "GET", "i8", "0"],
    ["BITFIELD_RO", "k", "SET", "u8", "0", "1"], ["BITFIELD_RO", "k", "INCRBY", "u8", "0", "1"],
    ["BITFIELD_RO", "k", "GET", "u8", "0", "SET", "u8", "0", "1"],
    ["BITFIELD_RO", "k", "OVERFLOW", "SAT", "GET", "u8", "0"],
    ["BITFIELD_RO", "k", "OVERFLOW", "bad", "SET", "u8", "0", "1"],
    ["BITFIELD_RO", "k", "SET", "u64", "0", "1"], ["BITFIELD_RO", "k", "SET", "u8", "x", "1"],
    ["BITFIELD_RO", "k", "SET", "u8", "0", "x"], ["BITFIELD_RO", "k", "GET", "u8"],
    ["BITFIELD_RO", "k", "FOO"], ["BITFIELD_RO"], ["GET", "k"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_bitfield_ro(reference, server, resp3):
    both_same(reference, server, BITFIELD_RO_SCRIPT, resp3)


def bitfield_type_names():
    return ["i%d" % n for n in range(1, 65)] + ["u%d" % n for n in range(1, 64)]


def test_bitfield_every_type_overflows_like_redis(reference, server):
    rng = random.Random(5)
    edges = ["0", "1", "-1", LLONG_MAX, LLONG_MIN, "2", "-2"]
    script = []
    for name in bitfield_type_names():
        bits = int(name[1:])
        limits = [str(1 << (bits - 1)), str(-(1 << (bits - 1))), str((1 << bits) - 1)] \
            if bits < 64 else []
        for overflow in ("WRAP", "SAT", "FAIL"):
            offset = str(rng.randrange(0, 40))
            command = ["BITFIELD", "k", "OVERFLOW", overflow]
            for value in edges + limits + [str(rng.randrange(-2**63, 2**63))]:
                command += ["SET", name, offset, value, "INCRBY", name, offset, value]
            command += ["GET", name, offset]
            script.append(command)
    script.append(["GET", "k"])
    both_same(reference, server, script)


# -- random sequences ------------------------------------------------------------------

KEYS = st.sampled_from([b"a", b"a", b"b", b"c", b"missing"])
SMALL_INT = st.integers(min_value=-40, max_value=40).map(lambda n: b"%d" % n)
OFFSET = st.one_of(st.integers(min_value=0, max_value=80).map(lambda n: b"%d" % n),
                   st.sampled_from([b"-1", b"x", b"#3", b"#0"]))
FIELD_TYPE = st.sampled_from([b"u1", b"u3", b"u8", b"u16", b"u63", b"i1", b"i5", b"i8", b"i32",
                              b"i64", b"u64", b"x8"])
FIELD_VALUE = st.one_of(SMALL_INT, st.sampled_from([LLONG_MAX.encode(), LLONG_MIN.encode(),
                                                    b"255", b"256", b"-129", b"x"]))


def bitfield_ops():
    get = st.tuples(st.just(b"GET"), FIELD_TYPE, OFFSET)
    write = st.tuples(st.sampled_from([b"SET", b"INCRBY"]), FIELD_TYPE, OFFSET, FIELD_VALUE)
    overflow = st.tuples(st.just(b"OVERFLOW"), st.sampled_from([b"WRAP", b"SAT", b"FAIL"]))
    return st.lists(st.one_of(get, write, overflow), min_size=0, max_size=5).map(
        lambda ops: [arg for op in ops for arg in op])


def bit_commands():
    unit = st.sampled_from([[], [b"BIT"], [b"BYTE"]])
    return st.one_of(
        st.tuples(st.just(b"SETBIT"), KEYS, OFFSET, st.sampled_from([b"0", b"1", b"2"])).map(list),
        st.tuples(st.just(b"GETBIT"), KEYS, OFFSET).map(list),
        st.tuples(st.just(b"BITCOUNT"), KEYS, SMALL_INT, SMALL_INT, unit).map(
            lambda t: [t[0], t[1], t[2], t[3]] + t[4]),
        st.tuples(st.just(b"BITCOUNT"), KEYS).map(list),
        st.tuples(st.just(b"BITPOS"), KEYS, st.sampled_from([b"0", b"1"]),
                  st.lists(SMALL_INT, max_size=2), unit).map(
            lambda t: [t[0], t[1], t[2]] + t[3] + (t[4] if len(t[3]) == 2 else [])),
        st.tuples(st.just(b"BITOP"), st.sampled_from([b"AND", b"OR", b"XOR"]), KEYS,
                  st.lists(KEYS, min_size=1, max_size=3)).map(lambda t: [t[0], t[1], t[2]] + t[3]),
        st.tuples(st.just(b"BITOP"), st.just(b"NOT"), KEYS, KEYS).map(list),
        st.tuples(st.sampled_from([b"BITFIELD", b"BITFIELD_RO"]), KEYS, bitfield_ops()).map(
            lambda t: [t[0], t[1]] + t[2]),
        st.tuples(st.just(b"SET"), KEYS, st.binary(max_size=6)).map(list),
        st.tuples(st.just(b"APPEND"), KEYS, st.binary(min_size=1, max_size=3)).map(list),
        st.tuples(st.just(b"SETRANGE"), KEYS, st.integers(0, 12).map(lambda n: b"%d" % n),
                  st.binary(min_size=1, max_size=3)).map(list),
        st.tuples(st.sampled_from([b"GET", b"STRLEN", b"DEL"]), KEYS).map(list),
    )


def test_bitfield_signed_extremes_decide_overflow_as_redis(reference, server):
    """Redis checks signed overflow with 64-bit limits that wrap at the extremes: each
    SET or INCRBY of an extreme value is followed by a GET of what it stored."""
    script = []
    for bits in (1, 2, 8, 63, 64):
        name = "i%d" % bits
        for overflow in ("WRAP", "SAT", "FAIL"):
            for start in ("0", "-1", LLONG_MAX, LLONG_MIN):
                for op, value in (("SET", LLONG_MIN), ("SET", LLONG_MAX), ("INCRBY", LLONG_MIN),
                                  ("INCRBY", LLONG_MAX), ("INCRBY", "-1"), ("INCRBY", "1")):
                    script.append(["BITFIELD", "s", "OVERFLOW", "WRAP", "SET", name, "3", start,
                                   "OVERFLOW", overflow, op, name, "3", value, "GET", name, "3"])
    script.append(["GET", "s"])
    both_same(reference, server, script)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(bit_commands(), min_size=10, max_size=40))
def test_random_bit_sequences(reference, server, script):
    assert_same(reference, server, script + [["GET", b"a"], ["GET", b"b"], ["GET", b"c"]])


def test_object_encoding_after_bit_commands(reference, server):
    # Writes turn a string raw even when they change nothing; reads leave it alone.
    script = [["SET", "a", "abc"], ["SET", "n", "123"], ["SET", "g", "abc"], ["SET", "c", "abc"],
              ["SET", "z", "1"],
              ["BITOP", "OR", "d", "a"], ["SETBIT", "s", "1", "1"], ["SETBIT", "a", "1", "0"],
              ["GETBIT", "n", "1"], ["BITCOUNT", "n"], ["BITPOS", "n", "1"],
              ["BITFIELD", "f", "SET", "u8", "0", "1"], ["BITFIELD", "g", "GET", "u8", "0"],
              ["BITFIELD_RO", "n", "GET", "u8", "0"], ["BITFIELD", "c", "SET", "u8", "0", "97"],
              ["BITFIELD", "z", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000"]]
    script += [["OBJECT", "ENCODING", key] for key in "a n g c z d s f".split()]
    assert_same(reference, server, script)


# -- values shared between keys and large strings ----------------------------------------

def test_copied_value_is_not_edited_through_its_copy(reference, server):
    conn = RawConnection(server.port)
    try:
        has_copy = not conn.command("COPY", "x", "y").startswith(b"-ERR unknown")
    finally:
        conn.close()
    if not has_copy:
        pytest.skip("pyredis-server has no COPY yet")
    both_same(reference, server, [
        ["SETBIT", "a", "3", "1"], ["APPEND", "a", "xy"], ["COPY", "a", "b"],
        ["SETBIT", "b", "0", "1"], ["BITFIELD", "b", "SET", "u8", "#2", "65"],
        ["GET", "a"], ["GET", "b"], ["SETBIT", "a", "40", "1"], ["GET", "a"], ["GET", "b"],
    ])


def test_large_strings_use_whole_range_operations(reference, server):
    size = 4 * 1024 * 1024
    script = [
        ["SETBIT", "big", str(size * 8 - 1), "1"], ["SETBIT", "big", "12345", "1"],
        ["BITCOUNT", "big"], ["BITCOUNT", "big", "1", "-2"], ["BITCOUNT", "big", "5", "-5", "BIT"],
        ["BITPOS", "big", "1", "2000"], ["BITPOS", "big", "1", "-100", "-1"],
        ["BITPOS", "big", "0"], ["BITPOS", "big", "1", "16", str(size * 8 - 2), "BIT"],
        ["BITOP", "NOT", "inv", "big"], ["BITPOS", "inv", "0"], ["BITPOS", "inv", "0", "2000"],
        ["BITCOUNT", "inv"], ["BITOP", "AND", "both", "big", "inv"], ["BITCOUNT", "both"],
        ["BITPOS", "both", "1"], ["BITPOS", "both", "0", "-1"],
        ["BITOP", "OR", "both", "big", "inv"], ["BITPOS", "both", "0"],
        ["BITPOS", "both", "0", "0", "-1"], ["STRLEN", "both"],
    ]
    started = time.monotonic()
    ours = run_script(server.port, script)
    elapsed = time.monotonic() - started
    assert ours == run_script(reference.port, script)
    assert elapsed < 20, "bit commands on 4MB strings took %.1fs" % elapsed

"""String commands against Debian's redis-server 7.0.15, reply bytes compared.

Every script starts from FLUSHALL on both servers. Replies that depend on the
clock (PTTL) are checked as ranges; everything else must match byte for byte.
"""
import random
import time

import pytest

from differential import assert_same, needs
from harness import RawConnection

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"


def pttl(server, key):
    conn = RawConnection(server.port)
    try:
        reply = conn.command("PTTL", key)
    finally:
        conn.close()
    assert reply.startswith(b":"), reply
    return int(reply[1:])


def both(reference, server, fn):
    return fn(reference), fn(server)


# -- GET / SET --------------------------------------------------------------------

SET_BASICS = [
    ["SET", "k", "v"], ["GET", "k"], ["GET", "missing"],
    ["SET", "empty", ""], ["GET", "empty"],
    ["SET", "bin", b"\x00\xff\r\n\x01"], ["GET", "bin"],
    ["SET", "k", "v2"], ["GET", "k"],
    ["SET", "int", "12345"], ["GET", "int"],
    ["SET", "k"], ["SET"], ["GET"], ["GET", "a", "b"],
    ["set", "lower", "x"], ["get", "lower"],
]

SET_CONDITIONS = [
    ["SET", "k", "v"],
    ["SET", "k", "other", "NX"], ["GET", "k"],
    ["SET", "n", "v", "NX"], ["GET", "n"],
    ["SET", "k", "v2", "XX"], ["GET", "k"],
    ["SET", "absent", "v", "XX"], ["GET", "absent"],
    ["SET", "k", "v", "NX", "XX"], ["SET", "k", "v", "XX", "NX"],
    ["SET", "k", "v3", "xx", "xx"], ["SET", "k", "v4", "nx", "NX"],
    ["SET", "k", "v", "GET"], ["SET", "k", "v5", "get", "GET"], ["GET", "k"],
    ["SET", "fresh", "v", "GET"], ["GET", "fresh"],
    ["SET", "k", "no", "NX", "GET"], ["GET", "k"],
    ["SET", "fresh2", "yes", "NX", "GET"], ["GET", "fresh2"],
    ["SET", "absent2", "v", "XX", "GET"], ["GET", "absent2"],
    ["SET", "k", "v6", "XX", "GET"], ["GET", "k"],
    ["SET", "k", "v", "KEEPTTL"], ["SET", "k", "v", "keepttl", "GET"],
    ["SET", "k", "v", "FOO"], ["SET", "k", "v", "PERSIST"], ["SET", "k", "v", "NXX"],
    ["SET", "k", "v", "GET", "FOO"], ["SET", "k", "v", "N"], ["SET", "k", "v", ""],
    ["SET", "k", "v", b"nx\x00trailing"], ["SET", "k", "v", b"get\x00"], ["GET", "k"],
]

SET_EXPIRES = [
    ["SET", "k", "v", "EX", "100"], ["GET", "k"],
    ["SET", "k", "v", "PX", "100000"], ["SET", "k", "v", "ex", "100", "ex", "200"],
    ["SET", "k", "v", "px", "100", "PX", "100000"],
    ["SET", "k", "v", "EXAT", "9999999999"], ["SET", "k", "v", "PXAT", "9999999999999"],
    ["SET", "k", "v", "EX", "10", "PX", "100"], ["SET", "k", "v", "PX", "10", "EX", "100"],
    ["SET", "k", "v", "EX", "10", "EXAT", "100"], ["SET", "k", "v", "EXAT", "10", "PXAT", "100"],
    ["SET", "k", "v", "KEEPTTL", "EX", "10"], ["SET", "k", "v", "EX", "10", "KEEPTTL"],
    ["SET", "k", "v", "PXAT", "10", "KEEPTTL"],
    ["SET", "k", "v", "EX"], ["SET", "k", "v", "PX"], ["SET", "k", "v", "EX", "10", "PX"],
    ["SET", "k", "v", "EX", "0"], ["SET", "k", "v", "EX", "-1"], ["SET", "k", "v", "PX", "0"],
    ["SET", "k", "v", "PX", "-100"], ["SET", "k", "v", "EXAT", "0"], ["SET", "k", "v", "PXAT", "-1"],
    ["SET", "k", "v", "EX", "abc"], ["SET", "k", "v", "EX", "1.5"], ["SET", "k", "v", "EX", ""],
    ["SET", "k", "v", "EX", " 10"], ["SET", "k", "v", "PX", "10 "],
    ["SET", "k", "v", "EX", LLONG_MAX], ["SET", "k", "v", "EX", "9223372036854776"],
    ["SET", "k", "v", "EX", "9223372036854775"], ["SET", "k", "v", "PX", LLONG_MAX],
    ["SET", "k", "v", "PX", "9223372036854775808"], ["SET", "k", "v", "EXAT", "9223372036854775"],
    ["SET", "k", "v", "EXAT", "9223372036854776"], ["SET", "k", "v", "PXAT", LLONG_MAX],
    ["GET", "k"],
    ["SET", "k", "v", "EX", "0", "NX"], ["SET", "k", "v", "FOO", "EX", "0"],
    ["SET", "k", "v", "EX", "10", "GET", "NX"], ["SET", "k", "v", "GET", "EX", "10"],
    ["SET", "gone", "v", "EXAT", "1"], ["GET", "gone"],
    ["SET", "gone2", "v", "PXAT", "1", "GET"], ["GET", "gone2"],
    ["SET", "gone3", "old"], ["SET", "gone3", "new", "PXAT", "1000", "GET"], ["GET", "gone3"],
]


def test_get_and_set(reference, server):
    assert_same(reference, server, SET_BASICS)


def test_set_nx_xx_get_and_syntax_errors(reference, server):
    assert_same(reference, server, SET_CONDITIONS)


def test_set_expire_options_and_invalid_times(reference, server):
    assert_same(reference, server, SET_EXPIRES)


def test_set_inline_commands(reference, server):
    assert_same(reference, server, [
        b"SET inline \"two words\"\r\n", b"GET inline\r\n",
        b"SET inline v EX 100 NX\r\n", b"SET inline v XX GET\r\n",
    ])


def test_set_relative_expire_deletes_the_key_later(reference, server):
    script = [["SET", "short", "v", "PX", "150"], ["SET", "long", "v", "EX", "100"],
              ["SET", "sec", "v", "EX", "1"], ["GET", "short"]]
    assert_same(reference, server, script)
    time.sleep(0.4)
    for srv in (reference, server):
        conn = srv.raw()
        assert conn.command("GET", "short") == b"$-1\r\n"
        assert conn.command("GET", "long") == b"$1\r\nv\r\n"
        assert conn.command("GET", "sec") == b"$1\r\nv\r\n"
        conn.close()


def test_set_clears_ttl_unless_keepttl(reference, server):
    script = [["SET", "plain", "v", "PX", "200"], ["SET", "plain", "w"],
              ["SET", "kept", "v", "PX", "200"], ["SET", "kept", "w", "KEEPTTL"],
              ["SET", "xx", "v", "PX", "200"], ["SET", "xx", "w", "XX"],
              ["SET", "getset", "v", "PX", "200"], ["GETSET", "getset", "w"],
              ["SET", "mset", "v", "PX", "200"], ["MSET", "mset", "w"]]
    assert_same(reference, server, script)
    time.sleep(0.5)
    for srv in (reference, server):
        conn = srv.raw()
        assert conn.command("MGET", "plain", "kept", "xx", "getset", "mset") == \
            b"*5\r\n$1\r\nw\r\n$-1\r\n$1\r\nw\r\n$1\r\nw\r\n$1\r\nw\r\n"
        conn.close()


def test_set_expire_pttl_ranges(reference, server):
    needs(server, "pttl")
    now_ms = int(time.time() * 1000)
    script = [["SET", "ex", "v", "EX", "100"], ["SET", "px", "v", "PX", "5000"],
              ["SET", "exat", "v", "EXAT", str(now_ms // 1000 + 50)],
              ["SET", "pxat", "v", "PXAT", str(now_ms + 20000)],
              ["SETEX", "setex", "30", "v"], ["PSETEX", "psetex", "7000", "v"],
              ["SET", "keep", "v", "PX", "9000"], ["SET", "keep", "w", "KEEPTTL"],
              ["SET", "plain", "v", "PX", "9000"], ["SET", "plain", "w"],
              ["SET", "cnt", "1", "PX", "9000"], ["INCR", "cnt"], ["APPEND", "cnt", "0"],
              ["INCRBYFLOAT", "cnt", "1.5"], ["SETRANGE", "cnt", "0", "9"]]
    assert_same(reference, server, script)
    expected = {"ex": (99000, 100000), "px": (4000, 5000), "exat": (40000, 51000),
                "pxat": (15000, 20000), "setex": (29000, 30000), "psetex": (6000, 7000),
                "keep": (8000, 9000), "plain": (-1, -1), "cnt": (8000, 9000)}
    for srv in (reference, server):
        for key, (low, high) in expected.items():
            assert low <= pttl(srv, key) <= high, (srv.reference, key)


# -- SETNX / SETEX / PSETEX / GETSET / GETDEL ---------------------------------------------

def test_setnx_setex_psetex(reference, server):
    assert_same(reference, server, [
        ["SETNX", "k", "v"], ["SETNX", "k", "w"], ["GET", "k"], ["SETNX", "k"],
        ["SETNX", "k", "v", "x"],
        ["SETEX", "e", "100", "v"], ["GET", "e"], ["SETEX", "e", "0", "v"],
        ["SETEX", "e", "-10", "v"], ["SETEX", "e", "abc", "v"], ["SETEX", "e", "1.5", "v"],
        ["SETEX", "e", "9223372036854776", "v"], ["SETEX", "e", "9223372036854775", "v"],
        ["SETEX", "e", "10"], ["SETEX", "e", "10", "v", "x"],
        ["PSETEX", "p", "100000", "v"], ["GET", "p"], ["PSETEX", "p", "0", "v"],
        ["PSETEX", "p", "-1", "v"], ["PSETEX", "p", LLONG_MAX, "v"], ["PSETEX", "p", "x", "v"],
        ["PSETEX", "p", "10"], ["setex", "lower", "10", "v"], ["GET", "lower"],
    ])


def test_getset_getdel(reference, server):
    assert_same(reference, server, [
        ["GETSET", "k", "v"], ["GETSET", "k", "w"], ["GET", "k"], ["GETSET", "k"],
        ["GETSET", "k", "a", "b"], ["GETSET", "k", ""], ["GET", "k"],
        ["SET", "d", "v"], ["GETDEL", "d"], ["GETDEL", "d"], ["GET", "d"],
        ["GETDEL"], ["GETDEL", "a", "b"], ["SET", "d", "v", "EXAT", "1"], ["GETDEL", "d"],
    ])


# -- GETEX ---------------------------------------------------------------------------

GETEX_SCRIPT = [
    ["GETEX", "missing"], ["SET", "k", "v"], ["GETEX", "k"],
    ["GETEX", "k", "EX", "100"], ["GETEX", "k", "PX", "100000"], ["GETEX", "k", "persist"],
    ["GETEX", "k", "EXAT", "9999999999"], ["GETEX", "k", "PXAT", "99999999999999"],
    ["GETEX", "k", "EX", "10", "EX", "20"], ["GETEX", "k", "PERSIST", "PERSIST"],
    ["GETEX", "k", "EX", "0"], ["GETEX", "k", "EX", "-1"], ["GETEX", "k", "PX", "0"],
    ["GETEX", "k", "EXAT", "0"], ["GETEX", "k", "EX", "abc"], ["GETEX", "k", "EX"],
    ["GETEX", "k", "PERSIST", "EX", "10"], ["GETEX", "k", "EX", "10", "PERSIST"],
    ["GETEX", "k", "KEEPTTL"], ["GETEX", "k", "NX"], ["GETEX", "k", "XX"], ["GETEX", "k", "GET"],
    ["GETEX", "k", "EX", "10", "PX", "10"], ["GETEX", "k", "PXAT", "10", "EXAT", "10"],
    ["GETEX", "k", "PX", LLONG_MAX], ["GETEX", "k", "EX", "9223372036854776"],
    ["GETEX", "k", "EXAT", "9223372036854776"], ["GETEX", "k", "PXAT", LLONG_MAX],
    ["GETEX", "missing", "EX", "0"], ["GETEX", "missing", "EX", "x"], ["GETEX", "missing", "FOO"],
    ["GETEX", "k", "FOO"], ["GETEX"], ["GET", "k"],
    ["GETEX", "k", "EXAT", "1"], ["GET", "k"],
    ["SET", "p", "v"], ["GETEX", "p", "PXAT", "1000"], ["GETEX", "p"],
    ["SET", "bin", b"\x00\x01"], ["GETEX", "bin", "PERSIST"],
]


def test_getex(reference, server):
    assert_same(reference, server, GETEX_SCRIPT)


def test_getex_resp3(reference, server):
    assert_same(reference, server, GETEX_SCRIPT[:12], resp3=True)


def test_getex_ttl_effects(reference, server):
    needs(server, "pttl")
    assert_same(reference, server, [
        ["SET", "a", "v"], ["GETEX", "a", "EX", "100"],
        ["SET", "b", "v", "EX", "100"], ["GETEX", "b", "PERSIST"],
        ["SET", "c", "v", "EX", "100"], ["GETEX", "c"],
        ["SET", "d", "v"], ["GETEX", "d", "PX", "5000"],
    ])
    expected = {"a": (99000, 100000), "b": (-1, -1), "c": (99000, 100000), "d": (4000, 5000)}
    for srv in (reference, server):
        for key, (low, high) in expected.items():
            assert low <= pttl(srv, key) <= high, (srv.reference, key)


def test_getex_expire_really_expires(reference, server):
    assert_same(reference, server, [["SET", "k", "v"], ["GETEX", "k", "PX", "150"],
                                    ["SET", "keep", "v", "PX", "150"], ["GETEX", "keep", "PERSIST"]])
    time.sleep(0.4)
    for srv in (reference, server):
        conn = srv.raw()
        assert conn.command("GET", "k") == b"$-1\r\n"
        assert conn.command("GET", "keep") == b"$1\r\nv\r\n"
        conn.close()


# -- MGET / MSET / MSETNX -----------------------------------------------------------

def test_mget_mset_msetnx(reference, server):
    assert_same(reference, server, [
        ["MSET", "a", "1", "b", "2", "c", ""], ["MGET", "a", "b", "c", "d"], ["MGET", "d"],
        ["MSET", "a", "x", "a", "y"], ["GET", "a"],
        ["MSET"], ["MSET", "a"], ["MSET", "a", "1", "b"], ["MGET"],
        ["MSETNX", "x", "1", "y", "2"], ["MSETNX", "y", "3", "z", "4"], ["MGET", "x", "y", "z"],
        ["MSETNX", "p", "1", "p", "2"], ["GET", "p"], ["MSETNX", "q"], ["MSETNX", "q", "1", "r"],
        ["MSETNX"], ["MSET", "bin", b"\x00\r\n"], ["MGET", "bin", "bin"],
        ["SET", "gone", "v", "PXAT", "1"], ["MGET", "gone", "a"], ["MSETNX", "gone", "back"],
        ["GET", "gone"],
    ])


def test_mget_resp3_nulls(reference, server):
    assert_same(reference, server, [["SET", "a", "1"], ["MGET", "a", "nope", "a"]], resp3=True)


# -- APPEND / STRLEN / GETRANGE / SETRANGE ------------------------------------------------

def test_append_and_strlen(reference, server):
    assert_same(reference, server, [
        ["APPEND", "k", "abc"], ["APPEND", "k", "def"], ["GET", "k"], ["STRLEN", "k"],
        ["APPEND", "k", ""], ["APPEND", "e", ""], ["GET", "e"], ["STRLEN", "e"],
        ["APPEND", "n", "10"], ["INCR", "n"], ["APPEND", "n", "5"], ["INCR", "n"], ["GET", "n"],
        ["APPEND", "b", b"\x00\xff"], ["APPEND", "b", b"\r\n"], ["GET", "b"], ["STRLEN", "b"],
        ["APPEND", "k"], ["APPEND", "k", "a", "b"], ["STRLEN"], ["STRLEN", "a", "b"],
        ["STRLEN", "missing"], ["SET", "i", "-123"], ["STRLEN", "i"],
        ["SET", "f", "1.5"], ["INCRBYFLOAT", "f", "1"], ["APPEND", "f", "0"], ["GET", "f"],
        ["SETRANGE", "r", "2", "x"], ["APPEND", "r", "y"], ["GET", "r"],
    ])


def test_append_grows_a_large_value(reference, server):
    chunk = bytes(range(256)) * 4
    script = [["APPEND", "big", chunk] for _ in range(300)]
    script += [["STRLEN", "big"], ["GETRANGE", "big", "1000", "1100"],
               ["GETRANGE", "big", "-50", "-1"], ["SETRANGE", "big", "150000", "tail"],
               ["APPEND", "big", "end"], ["STRLEN", "big"], ["GETRANGE", "big", "149990", "-1"]]
    assert_same(reference, server, script)
    conn = server.raw()
    expected = bytearray(chunk * 300)
    expected[150000:150004] = b"tail"
    expected += b"end"
    assert conn.command("GET", "big") == b"$307203\r\n" + expected + b"\r\n"
    conn.close()


def test_append_is_amortised_constant_time(server):
    """Appending to a 32 MB value must not copy it each time."""
    conn = server.raw()
    try:
        conn.command("FLUSHALL")
        assert conn.command("SETRANGE", "huge", str(32 * 1024 * 1024 - 1), "x") == b":33554432\r\n"
        start = time.monotonic()
        conn.send(b"".join(b"*3\r\n$6\r\nAPPEND\r\n$4\r\nhuge\r\n$10\r\n0123456789\r\n"
                           for _ in range(2000)))
        for n in range(1, 2001):
            assert conn.read_reply() == b":%d\r\n" % (32 * 1024 * 1024 + 10 * n)
        elapsed = time.monotonic() - start
        assert conn.command("GETRANGE", "huge", "-20", "-1") == b"$20\r\n" + b"0123456789" * 2 + b"\r\n"
    finally:
        conn.close()
    assert elapsed < 4.0, elapsed


def test_appended_value_reports_raw_encoding(reference, server):
    needs(server, "object")
    assert_same(reference, server, [
        ["SET", "k", "short"], ["OBJECT", "ENCODING", "k"], ["APPEND", "k", "more"],
        ["OBJECT", "ENCODING", "k"], ["SETRANGE", "r", "0", "abc"], ["OBJECT", "ENCODING", "r"],
        ["APPEND", "fresh", "12"], ["OBJECT", "ENCODING", "fresh"],
    ])


GETRANGE_CASES = [
    ("0", "4"), ("-5", "-1"), ("5", "-1"), ("0", "-1"), ("-1", "-5"), ("100", "200"),
    ("-100", "-50"), ("-100", "2"), ("0", "0"), ("3", "2"), ("-1", "-1"), ("0", LLONG_MAX),
    (LLONG_MIN, LLONG_MAX), (LLONG_MIN, LLONG_MIN), ("10", "10"), ("11", "11"), ("a", "1"),
    ("1", "b"), ("1.0", "2"), ("", "1"), ("9223372036854775808", "1"),
]


@pytest.mark.parametrize("name", ["GETRANGE", "SUBSTR"])
def test_getrange_and_substr(reference, server, name):
    script = [["SET", "s", "Hello World"], ["SET", "e", ""], ["SET", "i", "12345"]]
    for start, end in GETRANGE_CASES:
        script.append([name, "s", start, end])
    script += [[name, "e", "0", "-1"], [name, "e", "0", "0"], [name, "e", "-1", "10"],
               [name, "i", "1", "2"], [name, "i", "-2", "-1"], [name, "missing", "0", "-1"],
               [name, "missing", "x", "1"], [name, "s", "0"], [name, "s", "0", "1", "2"]]
    assert_same(reference, server, script)


def test_setrange(reference, server):
    assert_same(reference, server, [
        ["SETRANGE", "r", "5", "hi"], ["GET", "r"], ["SETRANGE", "r", "0", "HE"], ["GET", "r"],
        ["SETRANGE", "r", "6", "long tail"], ["GET", "r"], ["SETRANGE", "r", "10", ""],
        ["SETRANGE", "none", "10", ""], ["GET", "none"], ["SETRANGE", "none", "0", ""],
        ["SETRANGE", "r", "-1", "x"], ["SETRANGE", "r", "-1", ""], ["SETRANGE", "r", "abc", "x"],
        ["SETRANGE", "r", "536870912", "x"], ["SETRANGE", "none", "536870912", "x"],
        ["SETRANGE", "none", "536870911", "xy"], ["SETRANGE", "r", LLONG_MAX, "x"],
        ["SETRANGE", "r", "9223372036854775808", "x"], ["SETRANGE", "none", "536870912", ""],
        ["SETRANGE", "r", "1"], ["SETRANGE", "r", "1", "2", "3"],
        ["SET", "i", "123"], ["SETRANGE", "i", "1", "9"], ["GET", "i"], ["INCR", "i"],
        ["SETRANGE", "z", "0", b"\x00\x00"], ["GET", "z"], ["STRLEN", "z"],
        ["SET", "gone", "v", "PXAT", "1"], ["SETRANGE", "gone", "2", "x"], ["GET", "gone"],
    ])


def test_size_limits_follow_proto_max_bulk_len(reference, server):
    script = [["CONFIG", "SET", "proto-max-bulk-len", "1mb"],
              ["SETRANGE", "r", "1048576", "x"], ["SETRANGE", "r", "1048575", "xy"],
              ["SETRANGE", "r", "1048575", "x"], ["STRLEN", "r"],
              ["APPEND", "r", "y"], ["STRLEN", "r"],
              ["SET", "a", "x" * 600], ["SET", "b", "y" * 600],
              ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"], ["LCS", "a", "missing"],
              ["CONFIG", "SET", "proto-max-bulk-len", "512mb"], ["LCS", "a", "b", "LEN"]]
    try:
        assert_same(reference, server, script)
    finally:
        for srv in (reference, server):
            conn = srv.raw()
            conn.command("CONFIG", "SET", "proto-max-bulk-len", "512mb")
            conn.close()


# -- INCR / DECR / INCRBY / DECRBY --------------------------------------------------------

def test_incr_decr_family(reference, server):
    assert_same(reference, server, [
        ["INCR", "c"], ["INCR", "c"], ["DECR", "c"], ["INCRBY", "c", "10"], ["DECRBY", "c", "5"],
        ["INCRBY", "c", "-20"], ["DECRBY", "c", "-3"], ["GET", "c"], ["DECR", "new"],
        ["INCRBY", "new2", "-5"], ["DECRBY", "new3", "7"], ["INCRBY", "c", "0"],
        ["SET", "c", "abc"], ["INCR", "c"], ["SET", "c", " 1"], ["INCR", "c"],
        ["SET", "c", "1 "], ["INCR", "c"], ["SET", "c", "+1"], ["INCR", "c"],
        ["SET", "c", "01"], ["INCR", "c"], ["SET", "c", "-0"], ["INCR", "c"],
        ["SET", "c", "0"], ["INCR", "c"], ["SET", "c", "1.0"], ["INCR", "c"],
        ["SET", "c", ""], ["INCR", "c"], ["SET", "c", "   "], ["DECR", "c"],
        ["SET", "c", b"1\x00"], ["INCR", "c"], ["SET", "c", "1 2"], ["INCRBY", "c", "1"],
        ["SET", "c", "12345678901234567890"], ["INCR", "c"],
        ["SET", "c", "123456789012345678901"], ["DECR", "c"],
        ["SET", "c", LLONG_MAX], ["INCR", "c"], ["INCRBY", "c", "0"], ["DECR", "c"],
        ["SET", "c", "9223372036854775808"], ["DECR", "c"],
        ["SET", "c", LLONG_MIN], ["DECR", "c"], ["DECRBY", "c", "1"], ["INCR", "c"], ["GET", "c"],
        ["DECRBY", "c", LLONG_MIN], ["INCRBY", "c", LLONG_MIN], ["DECRBY", "c", LLONG_MAX],
        ["DECRBY", "c", LLONG_MAX], ["GET", "c"],
        ["SET", "m", "1"], ["INCRBY", "m", LLONG_MAX], ["DECRBY", "zero", LLONG_MIN],
        ["INCRBY", "c", "9223372036854775808"], ["INCRBY", "c", "1.5"], ["INCRBY", "c", ""],
        ["INCRBY", "c", " 1"], ["DECRBY", "c", "abc"], ["INCRBY", "missing", "x"], ["GET", "missing"],
        ["INCR"], ["INCR", "a", "b"], ["INCRBY", "c"], ["DECRBY", "c", "1", "2"], ["DECR"],
        ["APPEND", "grown", "5"], ["APPEND", "grown", "0"], ["INCR", "grown"], ["GET", "grown"],
        ["SET", "gone", "41", "PXAT", "1"], ["INCR", "gone"],
    ])


def test_incr_keeps_the_ttl(reference, server):
    assert_same(reference, server, [["SET", "c", "1", "PX", "200"], ["INCR", "c"],
                                    ["INCRBYFLOAT", "c", "0.5"], ["APPEND", "c", "5"]])
    time.sleep(0.5)
    for srv in (reference, server):
        conn = srv.raw()
        assert conn.command("GET", "c") == b"$-1\r\n"
        conn.close()


# -- INCRBYFLOAT ------------------------------------------------------------------------

INCRBYFLOAT_SCRIPT = [
    ["SET", "f", "0.1"], ["INCRBYFLOAT", "f", "0.2"], ["GET", "f"],
    ["SET", "f", "10.5"], ["INCRBYFLOAT", "f", "0.1"],
    ["INCRBYFLOAT", "new", "3.0e3"], ["INCRBYFLOAT", "new", "-5"], ["INCRBYFLOAT", "new", "5.0e3"],
    ["INCRBYFLOAT", "new", "5.0E-3"], ["INCRBYFLOAT", "new", "-7995.005"],
    ["SET", "f", "1e308"], ["INCRBYFLOAT", "f", "1e308"], ["INCRBYFLOAT", "f", "1e5000"],
    ["SET", "f", "1e4932"], ["INCRBYFLOAT", "f", "1e4932"], ["GET", "f"],
    ["INCRBYFLOAT", "f", "inf"], ["INCRBYFLOAT", "f", "-inf"], ["INCRBYFLOAT", "f", "Infinity"],
    ["INCRBYFLOAT", "f", "nan"], ["INCRBYFLOAT", "f", "NaN"], ["INCRBYFLOAT", "f", "abc"],
    ["INCRBYFLOAT", "f", " 1"], ["INCRBYFLOAT", "f", "1 "], ["INCRBYFLOAT", "f", ""],
    ["INCRBYFLOAT", "f", "1e"], ["INCRBYFLOAT", "f", "1e+"], ["INCRBYFLOAT", "f", "."],
    ["INCRBYFLOAT", "f", "--1"], ["INCRBYFLOAT", "f", "1,5"], ["INCRBYFLOAT", "f", b"1\x00"],
    ["SET", "f", "abc"], ["INCRBYFLOAT", "f", "1"], ["SET", "f", "inf"], ["INCRBYFLOAT", "f", "1"],
    ["SET", "f", "-inf"], ["INCRBYFLOAT", "f", "abc"], ["SET", "f", " 2"], ["INCRBYFLOAT", "f", "1"],
    ["SET", "f", "0"], ["INCRBYFLOAT", "f", "0.000003814697265625"],
    ["SET", "f", "0"], ["INCRBYFLOAT", "f", "0.000011444091796875"],
    ["INCRBYFLOAT", "f", "0x1p3"], ["INCRBYFLOAT", "f", "0x.8p1"], ["INCRBYFLOAT", "f", "0X1P-2"],
    ["INCRBYFLOAT", "f", "0x"], ["INCRBYFLOAT", "f", "0x1p"], ["INCRBYFLOAT", "f", "0xg"],
    ["INCRBYFLOAT", "f", "1."], ["INCRBYFLOAT", "f", ".5"], ["INCRBYFLOAT", "f", "+.5e+1"],
    ["INCRBYFLOAT", "f", "-.5E-1"], ["INCRBYFLOAT", "f", "+0"], ["INCRBYFLOAT", "f", "-0.0"],
    ["SET", "f", "123456789012345678901234567890"], ["INCRBYFLOAT", "f", "0"],
    ["SET", "f", "1.2345678901234567"], ["INCRBYFLOAT", "f", "0"],
    ["SET", "f", "3.141592653589793238"], ["INCRBYFLOAT", "f", "1"],
    ["SET", "f", "0.3"], ["INCRBYFLOAT", "f", "1e17"], ["INCRBYFLOAT", "f", "-1e17"],
    ["INCRBYFLOAT", "f", "1e20"], ["INCRBYFLOAT", "f", "-1e20"],
    ["SET", "f", "1"], ["INCRBYFLOAT", "f", "-1.0000000000000000001"],
    ["SET", "f", "-0"], ["INCRBYFLOAT", "f", "-0"],
    ["SET", "f", "-1.5"], ["INCRBYFLOAT", "f", "0.25"], ["INCRBYFLOAT", "f", "-0.000000000000000001"],
    ["SET", "f", "0"], ["INCRBYFLOAT", "f", "1e-4940"], ["INCRBYFLOAT", "f", "1e-5000"],
    ["INCRBYFLOAT", "f", "0x1p-16445"], ["INCRBYFLOAT", "f", "0x1p-16446"],
    ["INCRBYFLOAT", "f", "0.00000000000000001"], ["INCRBYFLOAT", "f", "0.000000000000000005"],
    ["INCRBYFLOAT", "f", "1e-18"],
    ["SET", "f", "9223372036854775807"], ["INCRBYFLOAT", "f", "1"],
    ["SET", "f", "18446744073709551617"], ["INCRBYFLOAT", "f", "0"],
    ["SET", "f", "1"], ["INCRBYFLOAT", "f", "1e4000"], ["STRLEN", "f"], ["INCRBYFLOAT", "f", "1"],
    ["INCRBYFLOAT", "f", "-1e4000"],
    ["INCRBYFLOAT", "f", "1" + "0" * 5118], ["INCRBYFLOAT", "f", "1" + "0" * 5119],
    ["INCRBYFLOAT", "f", "0." + "0" * 5116 + "1"], ["INCRBYFLOAT", "f", "1e99999999999999999999"],
    ["INCRBYFLOAT", "f", "1e-99999999999999999999"], ["INCRBYFLOAT", "f", "0e99999999999999999999"],
    ["INCRBYFLOAT"], ["INCRBYFLOAT", "f"], ["INCRBYFLOAT", "f", "1", "2"], ["GET", "f"],
    ["SET", "gone", "5", "PXAT", "1"], ["INCRBYFLOAT", "gone", "1.5"],
]


def test_incrbyfloat(reference, server):
    assert_same(reference, server, INCRBYFLOAT_SCRIPT)


def test_incrbyfloat_repeated_small_steps(reference, server):
    script = [["SET", "f", "0"]] + [["INCRBYFLOAT", "f", "0.1"] for _ in range(30)]
    script += [["INCRBYFLOAT", "f", "-0.7"] for _ in range(5)]
    script += [["INCRBYFLOAT", "g", "1.0000001"] for _ in range(10)]
    assert_same(reference, server, script)


def _random_decimal(rng):
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 25)))
    point = rng.randint(0, len(digits))
    text = digits[:point] + "." + digits[point:] if rng.random() < 0.8 else digits
    if text == ".":
        text = "0"
    if rng.random() < 0.4:
        text += "e%d" % rng.randint(-30, 30)
    return ("-" if rng.random() < 0.4 else "") + text


def test_incrbyfloat_random_decimals(reference, server):
    rng = random.Random(7015)
    script = []
    for n in range(120):
        key = "k%d" % (n % 7)
        if n % 3 == 0:
            script.append(["SET", key, _random_decimal(rng)])
        script.append(["INCRBYFLOAT", key, _random_decimal(rng)])
    assert_same(reference, server, script)


def test_incrbyfloat_extreme_exponents(reference, server):
    rng = random.Random(4932)
    script = []
    for n in range(60):
        exponent = rng.choice([rng.randint(-4960, -4900), rng.randint(4900, 4940),
                               rng.randint(-400, 400)])
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 30)))
        script.append(["SET", "x", "%s.%se%d" % (digits[:1], digits[1:], exponent)])
        script.append(["INCRBYFLOAT", "x", rng.choice(["0", "1", "-1e4930", "1e-4940", "2.5"])])
    assert_same(reference, server, script)


# -- LCS --------------------------------------------------------------------------------

LCS_SCRIPT = [
    ["MSET", "a", "ohmytext", "b", "mynewtext"],
    ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"], ["LCS", "a", "b", "IDX"],
    ["LCS", "a", "b", "IDX", "WITHMATCHLEN"], ["LCS", "a", "b", "idx", "minmatchlen", "4"],
    ["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
    ["LCS", "a", "b", "IDX", "MINMATCHLEN", "-5"], ["LCS", "a", "b", "IDX", "MINMATCHLEN", "100"],
    ["LCS", "a", "b", "IDX", "MINMATCHLEN"], ["LCS", "a", "b", "IDX", "MINMATCHLEN", "x"],
    ["LCS", "a", "b", "LEN", "IDX"], ["LCS", "a", "b", "IDX", "LEN"], ["LCS", "a", "b", "FOO"],
    ["LCS", "a", "b", "LEN", "WITHMATCHLEN"], ["LCS", "a", "b", "LEN", "LEN"],
    ["LCS", "a", "b", "MINMATCHLEN", "2"], ["LCS", "a", "missing"], ["LCS", "missing", "a", "IDX"],
    ["LCS", "missing", "missing2", "LEN"], ["LCS", "a", "a"], ["LCS", "a", "a", "IDX"],
    ["LCS", "b", "a", "IDX", "WITHMATCHLEN"], ["LCS", "a"], ["LCS"],
    ["MSET", "x", "ABCBDAB", "y", "BDCABA"], ["LCS", "x", "y", "IDX", "WITHMATCHLEN"], ["LCS", "y", "x"],
    ["MSET", "p", b"\x00\x01\x02\xff", "q", b"\xff\x00\x02"], ["LCS", "p", "q"],
    ["LCS", "p", "q", "IDX"], ["SET", "n", "12345"], ["SET", "m", "2a4"], ["LCS", "n", "m"],
    ["LCS", "a", "b", b"len\x00junk"],
]


def test_lcs(reference, server):
    assert_same(reference, server, LCS_SCRIPT)


def test_lcs_resp3(reference, server):
    assert_same(reference, server, LCS_SCRIPT, resp3=True)


def test_lcs_random_pairs(reference, server):
    rng = random.Random(42)
    script = []
    for n in range(40):
        alphabet = rng.choice(["ab", "abc", "acgt", "abcdefghij"])
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        script += [["MSET", "a", a or "x", "b", b or "y"], ["LCS", "a", "b"],
                   ["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
                   ["LCS", "a", "b", "IDX", "MINMATCHLEN", str(rng.randint(0, 4))]]
    assert_same(reference, server, script)


def test_lcs_of_two_kilobyte_strings_is_quick(reference, server):
    rng = random.Random(99)
    a = bytes(rng.choice(b"abcdefgh") for _ in range(2000))
    b = bytes(rng.choice(b"abcdefgh") for _ in range(1800))
    start = time.monotonic()
    assert_same(reference, server, [
        ["MSET", "a", a, "b", b], ["LCS", "a", "b"], ["LCS", "a", "b", "LEN"],
        ["LCS", "a", "b", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"],
        ["SET", "same", a], ["LCS", "a", "same", "IDX"],
    ])
    assert time.monotonic() - start < 10


# -- WRONGTYPE (needs another data type on our side) ---------------------------------------

def test_wrong_type(reference, server):
    needs(server, "lpush")
    assert_same(reference, server, [
        ["LPUSH", "list", "x"], ["SET", "s", "v"],
        ["GET", "list"], ["SET", "list", "v", "GET"], ["SET", "list", "v", "NX", "GET"],
        ["GETSET", "list", "v"], ["GETDEL", "list"], ["GETEX", "list"], ["GETEX", "list", "EX", "0"],
        ["GETEX", "list", "FOO"], ["APPEND", "list", "x"], ["STRLEN", "list"],
        ["GETRANGE", "list", "0", "1"], ["GETRANGE", "list", "x", "1"], ["SUBSTR", "list", "0", "1"],
        ["SETRANGE", "list", "0", "x"], ["SETRANGE", "list", "0", ""], ["SETRANGE", "list", "-1", "x"],
        ["INCR", "list"], ["DECR", "list"], ["INCRBY", "list", "1"], ["INCRBY", "list", "x"],
        ["DECRBY", "list", "1"], ["DECRBY", "list", LLONG_MIN], ["INCRBYFLOAT", "list", "1"],
        ["INCRBYFLOAT", "list", "x"], ["MGET", "s", "list", "nope"],
        ["LCS", "s", "list"], ["LCS", "list", "s", "BADOPT"], ["LCS", "s", "s", "LEN", "IDX"],
        ["SETNX", "list", "v"], ["MSETNX", "list", "v", "other", "w"], ["GET", "other"],
        ["SET", "list", "v", "XX"], ["GET", "list"],
        ["LPUSH", "list2", "x"], ["MSET", "list2", "v"], ["GET", "list2"],
        ["LPUSH", "list3", "x"], ["SETEX", "list3", "100", "v"], ["GET", "list3"],
    ])


# -- keyspace statistics -------------------------------------------------------------------

def keyspace_stats(server):
    conn = server.raw()
    try:
        info = conn.command("INFO", "stats").decode()
    finally:
        conn.close()
    fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
    return int(fields["keyspace_hits"]), int(fields["keyspace_misses"])


def test_reads_count_keyspace_hits_and_misses_writes_do_not(reference, server):
    needs(server, "info")
    script = [
        ["SET", "s", "v"], ["GET", "s"], ["GET", "nope"], ["MGET", "s", "nope", "s"],
        ["STRLEN", "s"], ["STRLEN", "nope"], ["GETRANGE", "s", "0", "1"], ["SUBSTR", "nope", "0", "1"],
        ["SET", "s", "w", "GET"], ["SET", "n", "w", "NX", "GET"], ["GETEX", "s"], ["GETEX", "nope"],
        ["GETSET", "s", "x"], ["GETDEL", "n"], ["LCS", "s", "nope"], ["INCR", "c"], ["APPEND", "c", "1"],
        ["SETNX", "s", "y"], ["MSETNX", "s", "1"], ["SETRANGE", "s", "0", "z"], ["INCRBYFLOAT", "c", "1"],
        ["SET", "s", "v", "XX"],
    ]
    before = both(reference, server, keyspace_stats)
    assert_same(reference, server, script)
    after = both(reference, server, keyspace_stats)
    deltas = [(a[0] - b[0], a[1] - b[1]) for a, b in zip(after, before)]
    assert deltas[1] == deltas[0]


# -- the command table ----------------------------------------------------------------------

STRING_COMMANDS = ["get", "set", "setnx", "setex", "psetex", "mget", "mset", "msetnx", "append",
                   "strlen", "getrange", "setrange", "substr", "incr", "decr", "incrby", "decrby",
                   "incrbyfloat", "getset", "getdel", "getex", "lcs"]


def parse_resp2(data, pos=0):
    """A raw RESP2 reply as nested lists of bytes/ints; returns (value, next position)."""
    end = data.index(b"\r\n", pos)
    kind, line = data[pos:pos + 1], data[pos + 1:end]
    pos = end + 2
    if kind == b"*":
        items = []
        for _ in range(max(int(line), 0)):
            item, pos = parse_resp2(data, pos)
            items.append(item)
        return items, pos
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, pos
        return data[pos:pos + length], pos + length + 2
    if kind == b":":
        return int(line), pos
    return line, pos


def command_reply(server, *args):
    conn = server.raw()
    try:
        return parse_resp2(conn.command(*args))[0]
    finally:
        conn.close()


@pytest.mark.parametrize("name", STRING_COMMANDS)
def test_command_info_matches(reference, server, name):
    mine = command_reply(server, "COMMAND", "INFO", name)[0]
    want = command_reply(reference, "COMMAND", "INFO", name)[0]
    # name, arity, flags, first key, last key, step, ACL categories, tips
    assert mine[:8] == want[:8]


def test_command_docs_summary_since_group(reference, server):
    for name in STRING_COMMANDS:
        mine = command_reply(server, "COMMAND", "DOCS", name)[1]
        want = command_reply(reference, "COMMAND", "DOCS", name)[1]
        for field in (b"summary", b"since", b"group"):
            assert mine[mine.index(field) + 1] == want[want.index(field) + 1], (name, field)


# -- redis-py against our server ------------------------------------------------------------

def test_redis_py_set_options(r):
    assert r.set("k", "v", ex=100) is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == b"v"
    assert r.set("missing", "w", xx=True) is None
    assert r.set("k", "x", keepttl=True) is True
    assert r.set("p", "v", px=100000, nx=True) is True
    assert r.getex("p", persist=True) == b"v"
    assert r.getdel("p") == b"v"
    assert r.getdel("p") is None
    assert r.getset("g", "1") is None
    assert r.getset("g", "2") == b"1"


def test_redis_py_counters_and_ranges(r):
    assert r.incr("c") == 1
    assert r.incrby("c", 41) == 42
    assert r.decrby("c", 2) == 40
    assert r.decr("c") == 39
    r.set("f", "0.1")
    assert r.incrbyfloat("f", 0.2) == 0.3
    assert r.get("f") == b"0.3"
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.msetnx({"b": "3", "z": "4"}) is False
    assert r.mget("a", "b", "z") == [b"1", b"2", None]
    assert r.append("s", "Hello") == 5
    assert r.append("s", " World") == 11
    assert r.getrange("s", 0, 4) == b"Hello"
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.strlen("s") == 11
    with pytest.raises(Exception, match="not an integer"):
        r.incr("s")


def test_redis_py_lcs(r):
    r.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert r.lcs("key1", "key2") == b"mytext"
    assert r.lcs("key1", "key2", len=True) == 6
    assert r.lcs("key1", "key2", idx=True, minmatchlen=4, withmatchlen=True) == \
        [b"matches", [[[4, 7], [5, 8], 4]], b"len", 6]

"""Sorted set commands against Debian's redis-server 7.0.15, reply bytes compared.

Every script runs twice on both servers: once with the default listpack limits
and once with zset-max-listpack-entries 0, so each command is checked on both
encodings. After a script, the number of dataset changes it made (INFO
rdb_changes_since_last_save) must match too. Random replies (ZRANDMEMBER,
ZSCAN on a big set) are checked for their properties instead of bytes.
"""
import re
import time
from collections import Counter

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from differential import ours, pure_server  # noqa: F401 (fixtures)
from harness import RawConnection, encode_command, run_python

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"
SMALL = [["CONFIG", "SET", "zset-max-listpack-entries", "128"],
         ["CONFIG", "SET", "zset-max-listpack-value", "64"]]
BIG = [["CONFIG", "SET", "zset-max-listpack-entries", "0"],
       ["CONFIG", "SET", "zset-max-listpack-value", "64"]]


def _changes(conn):
    text = conn.command("INFO", "persistence")
    return int(re.search(rb"rdb_changes_since_last_save:(\d+)", text).group(1))


def run(port, script, resp3=False):
    """Raw replies to each step after FLUSHALL, and how many changes the steps made."""
    conn = RawConnection(port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        conn.command("FLUSHALL")
        before = _changes(conn)
        replies = []
        for step in script:
            conn.send(encode_command(step))
            replies.append(conn.read_reply())
        return replies, _changes(conn) - before
    finally:
        conn.close()


def same(reference, ours, script, resp3=False, encodings=(SMALL, BIG)):
    """Compare each reply (and the change count) under each encoding setup; returns the
    number of commands compared."""
    compared = 0
    for setup in encodings:
        steps = setup + script
        want, want_changes = run(reference.port, steps, resp3)
        got, got_changes = run(ours.port, steps, resp3)
        for step, expected, actual in zip(steps, want, got):
            assert actual == expected, "%r (%s): redis replied %r, we replied %r" % (
                step, "listpack" if setup is SMALL else "skiplist", expected, actual)
        assert got_changes == want_changes, "dirty count: redis %d, ours %d" % (
            want_changes, got_changes)
        compared += len(steps)
    return compared


def decode(raw):
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


# -- ZADD / ZINCRBY ---------------------------------------------------------------------

ZADD_OPTIONS = [
    ["ZADD", "z", "1", "a"], ["ZADD", "z", "2", "b", "3", "c"], ["ZADD", "z", "1", "a"],
    ["ZADD", "z", "5", "a"], ["ZADD", "z", "CH", "6", "a", "7", "new"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "z", "NX", "100", "a", "1", "nx1"], ["ZADD", "z", "XX", "100", "a", "1", "xx1"],
    ["ZADD", "z", "XX", "CH", "101", "a"], ["ZADD", "z", "xx", "ch", "101", "a"],
    ["ZADD", "z", "GT", "50", "a"], ["ZADD", "z", "GT", "CH", "150", "a", "1", "gt_new"],
    ["ZADD", "z", "LT", "CH", "150", "a", "1", "lt_new"], ["ZADD", "z", "LT", "XX", "CH", "-1", "a"],
    ["ZADD", "z", "GT", "XX", "CH", "-5", "a", "5", "b"], ["ZADD", "z", "ch", "gt", "xx", "9", "b"],
    ["ZADD", "z", "GT", "LT", "1", "a"], ["ZADD", "z", "NX", "XX", "1", "a"],
    ["ZADD", "z", "NX", "GT", "1", "a"], ["ZADD", "z", "LT", "NX", "1", "a"],
    ["ZADD", "z", "XX", "NX", "GT", "1", "a"],
    ["ZADD", "z", "INCR", "1", "a", "2", "b"], ["ZADD", "z", "INCR", "5", "a"],
    ["ZADD", "z", "INCR", "NX", "5", "a"], ["ZADD", "z", "INCR", "NX", "5", "incr_new"],
    ["ZADD", "z", "INCR", "XX", "5", "missing"], ["ZADD", "z", "INCR", "GT", "-1", "a"],
    ["ZADD", "z", "INCR", "LT", "-1", "a"], ["ZADD", "z", "INCR", "GT", "0", "a"],
    ["ZADD", "z", "INCR", "CH", "0", "a"],
    ["ZADD", "z", "NX", "NX", "1", "dup"], ["ZADD", "z", "incr", "incr", "1", "a"],
    ["ZADD", "z", b"nx\x00junk", "1", "nulopt"], ["ZADD", "z", b"n\x00x", "1", "nulopt2"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZCARD", "z"],
    ["ZADD", "missing", "XX", "1", "a"], ["EXISTS", "missing"],
    ["ZADD", "missing", "XX", "INCR", "1", "a"], ["EXISTS", "missing"],
    ["ZADD", "missing", "XX", "CH", "1", "a", "2", "b"], ["EXISTS", "missing"],
    ["ZADD", "fresh", "GT", "5", "a"], ["ZADD", "fresh2", "NX", "INCR", "5", "a"],
    ["ZADD", "z", "1", "a", "1", "a", "2", "a"], ["ZSCORE", "z", "a"],
    ["ZADD", "z", "CH", "3", "dupch", "3", "dupch"],
]

ZADD_ERRORS = [
    ["ZADD", "z", "1", "a"],
    ["ZADD", "z", "1"], ["ZADD", "z", "1", "a", "2"], ["ZADD", "z"], ["ZADD", "z", "nx", "1"],
    ["ZADD", "z", "nx"], ["ZADD", "z", "xx", "ch"], ["ZADD", "z", "abc", "a"],
    ["ZADD", "z", "1", "ok", "x", "bad"], ["ZSCORE", "z", "ok"], ["ZADD", "z", "nan", "a"],
    ["ZADD", "z", "NX", "XX", "abc", "a"], ["ZADD", "z", "INCR", "abc", "a", "1", "b"],
    ["ZADD", "z", "GT", "LT", "NX", "XX", "1", "a"],
    ["ZINCRBY", "z", "1"], ["ZINCRBY", "z", "1", "a", "b"], ["ZINCRBY", "z", "abc", "a"],
    ["ZINCRBY", "z", "nx", "a"], ["ZINCRBY", "z", "incr", "a"], ["ZINCRBY", "z", "", "a"],
    ["SET", "str", "x"], ["ZADD", "str", "1", "a"], ["ZADD", "str", "XX", "1", "a"],
    ["ZADD", "str", "abc", "a"], ["ZINCRBY", "str", "1", "a"], ["GET", "str"],
]

ZADD_INFINITY = [
    ["ZADD", "z", "+inf", "pinf", "-inf", "ninf", "0", "zero"],
    ["ZADD", "z", "INCR", "-inf", "pinf"], ["ZSCORE", "z", "pinf"],
    ["ZINCRBY", "z", "+inf", "pinf"], ["ZINCRBY", "z", "-inf", "pinf"],
    ["ZINCRBY", "z", "inf", "ninf"], ["ZINCRBY", "z", "1e308", "big"],
    ["ZINCRBY", "z", "1e308", "big"], ["ZINCRBY", "z", "-1e308", "big"],
    ["ZADD", "z", "INCR", "1e308", "big"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZADD", "z", "GT", "inf", "pinf"], ["ZADD", "z", "LT", "CH", "-inf", "ninf"],
]

SCORE_TEXTS = [
    "0x10", "0X1A", "1e400", "-1e400", "1e-400", "1e-310", "4.9e-324", "2.2250738585072014e-308",
    "1.7976931348623157e308", "1.7976931348623159e308", "inf", "-inf", "+inf", "Infinity",
    "-INFINITY", "infinit", "infx", " 1", "1 ", "\t1", "1_0", "0x1p3", "0x1P-3", "0x", "0x.8",
    "-0x1.8p1", "0x1p99999", "0x1p-99999", "nan", "-nan", "NaN", "nan(1)", "-0", "+0", "0",
    "-0.0", ".5", "5.", "1e", "1e+", ".", "", "+", "-", "1.5e3", "00012", "1e5x", "3.14159",
    "0.1", "123456789012345678901234567890", "-17", "1.0000000000000002", "9007199254740993",
    b"1\x00", b"1\x002", b"\x001",
]


def score_script():
    script = []
    for text in SCORE_TEXTS:
        script += [["ZADD", "s", text, "m"], ["ZSCORE", "s", "m"], ["ZINCRBY", "s", text, "m"],
                   ["ZADD", "s", "INCR", text, "n"]]
    script.append(["ZRANGE", "s", "0", "-1", "WITHSCORES"])
    return script


def test_zadd_options(reference, ours):
    same(reference, ours, ZADD_OPTIONS)


def test_zadd_option_errors_and_wrong_types(reference, server):
    same(reference, server, ZADD_ERRORS)


def test_zadd_infinities_and_nan_results(reference, server):
    same(reference, server, ZADD_INFINITY)


def test_score_parsing_like_strtod(reference, server):
    same(reference, server, score_script())


def test_negative_zero_kept_only_by_skiplist(reference, ours):
    same(reference, ours, [
        ["ZADD", "z", "-0", "a"], ["ZSCORE", "z", "a"], ["ZINCRBY", "z", "-0", "b"],
        ["ZSCORE", "z", "b"], ["ZADD", "z", "INCR", "-0", "c"], ["ZMSCORE", "z", "a", "b", "c"],
        ["ZADD", "z", "0", "a"], ["ZADD", "z", "CH", "-0.0", "a"], ["ZSCORE", "z", "a"],
        ["ZADD", "z", "0", "0", "-0", "1"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["ZRANGEBYSCORE", "z", "-0", "0", "WITHSCORES"], ["ZCOUNT", "z", "(-0", "0"],
        ["ZRANGEBYSCORE", "z", "(0", "+inf"], ["ZUNION", "2", "z", "z", "WEIGHTS", "-1", "1", "WITHSCORES"],
        ["ZUNIONSTORE", "u", "1", "z", "WEIGHTS", "-1"], ["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "5"],
    ])


def test_zadd_replies_in_resp3(reference, ours):
    same(reference, ours, ZADD_OPTIONS[:12] + ZADD_INFINITY, resp3=True)


# -- ZREM / ZCARD / ZSCORE / ZMSCORE / ZRANK -----------------------------------------------

MEMBERS = [
    ["ZADD", "z", "1", "a", "1", "b", "2", "c", "3", "d", "3", "e", "-1", "", "1.5", b"\x00\xff",
     "1", "aa", "-inf", "ninf", "inf", "pinf"],
    ["ZCARD", "z"], ["ZCARD", "missing"], ["ZSCORE", "z", "a"], ["ZSCORE", "z", ""],
    ["ZSCORE", "z", b"\x00\xff"], ["ZSCORE", "z", "nope"], ["ZSCORE", "missing", "a"],
    ["ZMSCORE", "z", "a", "nope", "pinf", "ninf", b"\x00\xff"], ["ZMSCORE", "missing", "a", "b"],
    ["ZMSCORE", "z", "nope"],
    ["ZRANK", "z", "ninf"], ["ZRANK", "z", "a"], ["ZRANK", "z", "aa"], ["ZRANK", "z", "b"],
    ["ZRANK", "z", "pinf"], ["ZRANK", "z", "nope"], ["ZRANK", "missing", "a"],
    ["ZREVRANK", "z", "ninf"], ["ZREVRANK", "z", "pinf"], ["ZREVRANK", "z", "c"],
    ["ZREVRANK", "z", "nope"], ["ZREVRANK", "missing", "a"],
    ["ZREM", "z", "a", "nope", "a", "b"], ["ZCARD", "z"], ["ZREM", "z", "nope"],
    ["ZREM", "missing", "a"], ["ZRANK", "z", "c"],
    ["ZREM", "z", "c", "d", "e", "", b"\x00\xff", "aa", "ninf", "pinf", "extra"],
    ["EXISTS", "z"], ["ZCARD", "z"],
    ["ZCARD"], ["ZCARD", "a", "b"], ["ZSCORE", "z"], ["ZMSCORE", "z"], ["ZRANK", "z"],
    ["ZRANK", "z", "a", "b"], ["ZREM", "z"],
    ["SET", "str", "x"], ["ZCARD", "str"], ["ZSCORE", "str", "a"], ["ZMSCORE", "str", "a"],
    ["ZRANK", "str", "a"], ["ZREVRANK", "str", "a"], ["ZREM", "str", "a"],
]


def test_single_member_commands(reference, ours):
    same(reference, ours, MEMBERS)


def test_single_member_commands_resp3(reference, server):
    same(reference, server, MEMBERS, resp3=True)


def test_zrem_last_member_deletes_key_and_stops(reference, server):
    same(reference, server, [
        ["ZADD", "z", "1", "a"], ["ZREM", "z", "a", "a", "b"], ["EXISTS", "z"], ["TYPE", "z"],
        ["ZADD", "z", "1", "a", "2", "b"], ["EXPIRE", "z", "100"], ["ZREM", "z", "b"],
        ["TTL", "z"], ["ZREM", "z", "a"], ["TTL", "z"],
    ])


# -- ZRANGE and its family --------------------------------------------------------------------

RANGE_DATA = [["ZADD", "r", "1", "a", "1", "b", "2", "c", "3", "d", "3", "e", "3", "f", "-inf",
               "ninf", "+inf", "pinf", "0", "zero", "2.5", "x", "-2", "neg"]]

ZRANGE_BY_RANK = RANGE_DATA + [
    ["ZRANGE", "r", "0", "-1"], ["ZRANGE", "r", "0", "-1", "WITHSCORES"], ["ZRANGE", "r", "2", "4"],
    ["ZRANGE", "r", "-3", "-1"], ["ZRANGE", "r", "-100", "100"], ["ZRANGE", "r", "5", "2"],
    ["ZRANGE", "r", "100", "200"], ["ZRANGE", "r", "-1", "-100"], ["ZRANGE", "r", "0", "0"],
    ["ZRANGE", "r", "-1", "-1", "withscores"], ["ZRANGE", "r", "0", "-1", "REV"],
    ["ZRANGE", "r", "1", "3", "REV", "WITHSCORES"], ["ZRANGE", "r", "-2", "-1", "rev"],
    ["ZRANGE", "r", LLONG_MIN, LLONG_MAX], ["ZRANGE", "r", "11", "11"], ["ZRANGE", "r", "10", "10"],
    ["ZRANGE", "r", "0", "-1", "LIMIT", "0", "-1"], ["ZRANGE", "r", "0", "-1", "LIMIT", "5", "-1"],
    ["ZRANGE", "r", "0", "-1", "LIMIT", "0", "1"], ["ZRANGE", "r", "0", "-1", "LIMIT", "1"],
    ["ZRANGE", "r", "0", "-1", "LIMIT"], ["ZRANGE", "r", "0", "-1", "REV", "REV"],
    ["ZRANGE", "r", "0", "-1", "WITHSCORES", "WITHSCORES"], ["ZRANGE", "r", "0", "-1", "FOO"],
    ["ZRANGE", "r", "a", "-1"], ["ZRANGE", "r", "0", "1.5"], ["ZRANGE", "r", "0", LLONG_MAX + "0"],
    ["ZRANGE", "r", "0", "-1", "LIMIT", "a", "1"], ["ZRANGE", "r", "0", "-1", "LIMIT", "1", "b"],
    ["ZRANGE", "missing", "0", "-1"], ["ZRANGE", "missing", "a", "b"],
    ["ZRANGE", "missing", "0", "-1", "FOO"], ["ZRANGE", "r", "0"],
    ["ZREVRANGE", "r", "0", "-1"], ["ZREVRANGE", "r", "0", "2", "WITHSCORES"],
    ["ZREVRANGE", "r", "-2", "-1"], ["ZREVRANGE", "r", "5", "100"], ["ZREVRANGE", "r", "0", "-1", "REV"],
    ["ZREVRANGE", "r", "0", "-1", "BYSCORE"], ["ZREVRANGE", "r", "0", "-1", "LIMIT", "0", "1"],
    ["ZREVRANGE", "missing", "0", "-1"],
    ["SET", "str", "x"], ["ZRANGE", "str", "0", "-1"], ["ZRANGE", "str", "a", "b"],
    ["ZREVRANGE", "str", "0", "-1"],
]

ZRANGE_BY_SCORE = RANGE_DATA + [
    ["ZRANGEBYSCORE", "r", "-inf", "+inf"], ["ZRANGEBYSCORE", "r", "-inf", "+inf", "WITHSCORES"],
    ["ZRANGEBYSCORE", "r", "(1", "3"], ["ZRANGEBYSCORE", "r", "1", "(3"], ["ZRANGEBYSCORE", "r", "(1", "(3"],
    ["ZRANGEBYSCORE", "r", "3", "3"], ["ZRANGEBYSCORE", "r", "(3", "3"], ["ZRANGEBYSCORE", "r", "3", "1"],
    ["ZRANGEBYSCORE", "r", "inf", "inf"], ["ZRANGEBYSCORE", "r", "(inf", "inf"],
    ["ZRANGEBYSCORE", "r", "-inf", "-inf"], ["ZRANGEBYSCORE", "r", "(-inf", "(+inf"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "2", "3"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "0", "0"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "0", "-1"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "0", "-5"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "-1", "2"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "10", "5"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "11", "5"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", LLONG_MAX, "1"],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "2", LLONG_MAX],
    ["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", LLONG_MIN, LLONG_MIN],
    ["ZRANGEBYSCORE", "r", "1", "3", "WITHSCORES", "LIMIT", "1", "2"],
    ["ZRANGEBYSCORE", "r", "1", "3", "LIMIT", "1", "2", "WITHSCORES"],
    ["ZRANGEBYSCORE", "r", "1", "3", "LIMIT", "1", "2", "LIMIT", "0", "1"],
    ["ZRANGEBYSCORE", "r", "1", "3", "BYSCORE"], ["ZRANGEBYSCORE", "r", "1", "3", "REV"],
    ["ZRANGEBYSCORE", "r", "1", "3", "BYLEX"], ["ZRANGEBYSCORE", "r", "1", "3", "LIMIT", "1"],
    ["ZRANGEBYSCORE", "r", "", ""], ["ZRANGEBYSCORE", "r", "(", "("], ["ZRANGEBYSCORE", "r", "(", "3"],
    ["ZRANGEBYSCORE", "r", " 1", "3"], ["ZRANGEBYSCORE", "r", "1 ", "3"], ["ZRANGEBYSCORE", "r", "0x1", "0x3"],
    ["ZRANGEBYSCORE", "r", "-1e400", "1e400"], ["ZRANGEBYSCORE", "r", "1e-400", "3"],
    ["ZRANGEBYSCORE", "r", "((1", "3"], ["ZRANGEBYSCORE", "r", "[1", "3"], ["ZRANGEBYSCORE", "r", "a", "3"],
    ["ZRANGEBYSCORE", "r", "nan", "3"], ["ZRANGEBYSCORE", "r", "1", "(nan"],
    ["ZRANGEBYSCORE", "r", b"1\x00garbage", b"(3\x00x"], ["ZRANGEBYSCORE", "r", b"\x00", "3"],
    ["ZRANGEBYSCORE", "r", "\t\n 1", "infinity"], ["ZRANGEBYSCORE", "r", "-INF", "+Inf"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf"], ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "WITHSCORES"],
    ["ZREVRANGEBYSCORE", "r", "3", "(1"], ["ZREVRANGEBYSCORE", "r", "(3", "1"], ["ZREVRANGEBYSCORE", "r", "1", "3"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "LIMIT", "1", "3"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "LIMIT", "9", "3"],
    ["ZREVRANGEBYSCORE", "r", "+inf", "-inf", "LIMIT", "-1", "3"],
    ["ZREVRANGEBYSCORE", "r", "3", "1", "LIMIT", "0", "-1", "WITHSCORES"],
    ["ZREVRANGEBYSCORE", "r", "3", "1", "REV"],
    ["ZRANGE", "r", "(1", "3", "BYSCORE"], ["ZRANGE", "r", "3", "(1", "BYSCORE", "REV"],
    ["ZRANGE", "r", "-inf", "inf", "BYSCORE", "REV", "LIMIT", "2", "2", "WITHSCORES"],
    ["ZRANGE", "r", "-inf", "inf", "REV", "BYSCORE"], ["ZRANGE", "r", "1", "3", "byscore", "BYSCORE"],
    ["ZRANGE", "r", "1", "3", "BYSCORE", "BYLEX"], ["ZRANGE", "r", "a", "b", "BYSCORE"],
    ["ZRANGE", "r", "0", "1", "BYSCORE", "LIMIT", "0"],
    ["ZRANGEBYSCORE", "missing", "0", "1"], ["ZRANGEBYSCORE", "missing", "a", "1"],
    ["ZCOUNT", "r", "-inf", "+inf"], ["ZCOUNT", "r", "(1", "3"], ["ZCOUNT", "r", "3", "1"],
    ["ZCOUNT", "r", "(3", "3"], ["ZCOUNT", "r", "inf", "inf"], ["ZCOUNT", "r", "", "("],
    ["ZCOUNT", "r", "a", "1"], ["ZCOUNT", "missing", "0", "1"], ["ZCOUNT", "missing", "x", "1"],
    ["ZCOUNT", "r", "0"],
    ["SET", "str", "x"], ["ZRANGEBYSCORE", "str", "0", "1"], ["ZCOUNT", "str", "0", "1"],
    ["ZCOUNT", "str", "x", "1"],
]

LEX_DATA = [["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "aa", "0", "",
             "0", b"\xff", "0", b"a\x00", "0", "B"]]

ZRANGE_BY_LEX = LEX_DATA + [
    ["ZRANGEBYLEX", "l", "-", "+"], ["ZRANGEBYLEX", "l", "[b", "[d"], ["ZRANGEBYLEX", "l", "(b", "(d"],
    ["ZRANGEBYLEX", "l", "[b", "(b"], ["ZRANGEBYLEX", "l", "[b", "[b"], ["ZRANGEBYLEX", "l", "(a", "[aa"],
    ["ZRANGEBYLEX", "l", "-", "[c"], ["ZRANGEBYLEX", "l", "[c", "+"], ["ZRANGEBYLEX", "l", "+", "-"],
    ["ZRANGEBYLEX", "l", "-", "-"], ["ZRANGEBYLEX", "l", "+", "+"], ["ZRANGEBYLEX", "l", "[", "[a"],
    ["ZRANGEBYLEX", "l", "(", "+"], ["ZRANGEBYLEX", "l", "[z", "[a"], ["ZRANGEBYLEX", "l", b"[a\x00", "+"],
    ["ZRANGEBYLEX", "l", "a", "+"], ["ZRANGEBYLEX", "l", "-x", "+"], ["ZRANGEBYLEX", "l", "-", "+x"],
    ["ZRANGEBYLEX", "l", b"-\x00abc", b"+\x00"], ["ZRANGEBYLEX", "l", "", "+"],
    ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "3"], ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "-1", "3"],
    ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2", "-1"], ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "20", "1"],
    ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "0", "0"], ["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"],
    ["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1"], ["ZRANGEBYLEX", "l", "-", "+", "BYLEX"],
    ["ZREVRANGEBYLEX", "l", "+", "-"], ["ZREVRANGEBYLEX", "l", "[d", "(b"], ["ZREVRANGEBYLEX", "l", "-", "+"],
    ["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "2", "3"], ["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "-2", "3"],
    ["ZRANGE", "l", "[b", "[d", "BYLEX"], ["ZRANGE", "l", "[d", "[b", "BYLEX", "REV"],
    ["ZRANGE", "l", "+", "-", "BYLEX", "REV", "LIMIT", "1", "2"], ["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"],
    ["ZRANGE", "l", "0", "1", "BYLEX"], ["ZRANGE", "l", "-", "+", "REV", "BYLEX"],
    ["ZRANGEBYLEX", "missing", "-", "+"], ["ZRANGEBYLEX", "missing", "x", "+"],
    ["ZLEXCOUNT", "l", "-", "+"], ["ZLEXCOUNT", "l", "[b", "(d"], ["ZLEXCOUNT", "l", "(b", "[b"],
    ["ZLEXCOUNT", "l", "+", "-"], ["ZLEXCOUNT", "l", "[", "+"], ["ZLEXCOUNT", "l", "x", "+"],
    ["ZLEXCOUNT", "missing", "-", "+"], ["ZLEXCOUNT", "missing", "x", "y"],
    ["SET", "str", "x"], ["ZRANGEBYLEX", "str", "-", "+"], ["ZLEXCOUNT", "str", "-", "+"],
    ["ZLEXCOUNT", "str", "x", "+"],
]

LEX_MIXED_SCORES_SMALL = [
    ["ZADD", "m", "1", "b", "2", "a", "3", "d", "4", "c", "5", "e"],
    ["ZRANGEBYLEX", "m", "-", "+"], ["ZRANGEBYLEX", "m", "[b", "[d"], ["ZRANGEBYLEX", "m", "(a", "+"],
    ["ZREVRANGEBYLEX", "m", "[d", "[b"], ["ZREVRANGEBYLEX", "m", "+", "(a"], ["ZLEXCOUNT", "m", "[b", "[d"],
    ["ZLEXCOUNT", "m", "-", "[c"], ["ZRANGEBYLEX", "m", "[b", "+", "LIMIT", "1", "2"],
    ["ZREMRANGEBYLEX", "m", "[b", "[c"], ["ZRANGE", "m", "0", "-1", "WITHSCORES"],
]


def test_zrange_by_rank(reference, ours):
    same(reference, ours, ZRANGE_BY_RANK)


def test_zrange_by_score(reference, ours):
    same(reference, ours, ZRANGE_BY_SCORE)


def test_zrange_by_lex(reference, ours):
    same(reference, ours, ZRANGE_BY_LEX)


def test_lex_ranges_over_mixed_scores_walk_the_listpack(reference, server):
    # Undefined by the docs, but a small set answers deterministically: it is walked.
    same(reference, server, LEX_MIXED_SCORES_SMALL, encodings=(SMALL,))


def test_range_replies_in_resp3(reference, server):
    same(reference, server, ZRANGE_BY_RANK[:20] + ZRANGE_BY_SCORE[1:30] + ZRANGE_BY_LEX[:10],
         resp3=True)


def test_big_sorted_set_ranges(reference, ours):
    """Ranges over a few thousand entries (deep skiplists, listpack conversion midway)."""
    script = []
    for chunk in range(6):
        args = ["ZADD", "big"]
        for i in range(chunk * 500, chunk * 500 + 500):
            args += [str(((i * 7919) % 1000) / 4) if i % 5 else "5", "m%d" % ((i * 31) % 2000)]
        script.append(args)
    script += [
        ["ZCARD", "big"], ["OBJECT", "ENCODING", "big"], ["ZRANGE", "big", "0", "9", "WITHSCORES"],
        ["ZRANGE", "big", "995", "1010"], ["ZRANGE", "big", "-12", "-1", "REV", "WITHSCORES"],
        ["ZRANGEBYSCORE", "big", "5", "5"], ["ZRANGEBYSCORE", "big", "(100", "110.5", "WITHSCORES"],
        ["ZREVRANGEBYSCORE", "big", "200", "(190", "LIMIT", "3", "7"], ["ZCOUNT", "big", "(5", "100"],
        ["ZRANK", "big", "m1000"], ["ZREVRANK", "big", "m1000"], ["ZRANK", "big", "m1999"],
        ["ZREMRANGEBYRANK", "big", "100", "199"], ["ZREMRANGEBYSCORE", "big", "(200", "210"],
        ["ZRANGE", "big", "90", "110", "WITHSCORES"], ["ZPOPMAX", "big", "5"], ["ZPOPMIN", "big", "5"],
        ["ZRANGESTORE", "dst", "big", "10", "20"], ["OBJECT", "ENCODING", "dst"],
        ["ZRANGESTORE", "dst2", "big", "0", "-1"], ["OBJECT", "ENCODING", "dst2"],
        ["ZINTERSTORE", "i", "2", "big", "dst", "WEIGHTS", "2", "3"], ["ZRANGE", "i", "0", "-1", "WITHSCORES"],
        ["ZCARD", "big"],
    ]
    same(reference, ours, script)


# -- ZRANGESTORE ------------------------------------------------------------------------------

ZRANGESTORE = RANGE_DATA + LEX_DATA + [
    ["ZRANGESTORE", "dst", "r", "0", "-1"], ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["OBJECT", "ENCODING", "dst"], ["ZRANGESTORE", "dst", "r", "1", "3", "REV"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "r", "(1", "3", "BYSCORE"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "r", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "l", "[b", "[d", "BYLEX"],
    ["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
    ["ZRANGESTORE", "dst", "r", "5", "1"], ["EXISTS", "dst"],
    ["SET", "dst", "string"], ["ZRANGESTORE", "dst", "r", "0", "1"], ["TYPE", "dst"],
    ["SET", "dst", "string"], ["ZRANGESTORE", "dst", "missing", "0", "1"], ["EXISTS", "dst"],
    ["ZRANGESTORE", "dst", "missing", "0", "1"],
    ["ZADD", "dst", "1", "x"], ["EXPIRE", "dst", "100"], ["ZRANGESTORE", "dst", "r", "0", "0"],
    ["TTL", "dst"], ["ZRANGESTORE", "r", "r", "0", "2"], ["ZRANGE", "r", "0", "-1"],
    ["ZRANGESTORE", "dst", "r", "0", "-1", "WITHSCORES"], ["ZRANGESTORE", "dst", "r", "0", "-1", "LIMIT", "0", "1"],
    ["ZRANGESTORE", "dst", "r", "0", "-1", "BYLEX"], ["ZRANGESTORE", "dst", "r", "a", "b"],
    ["ZRANGESTORE", "dst", "r", "0"], ["ZRANGESTORE", "dst", "l", "-", "+", "BYLEX", "WITHSCORES"],
    ["SET", "str", "x"], ["ZRANGESTORE", "dst", "str", "0", "-1"], ["ZRANGESTORE", "str", "r", "0", "-1"],
    ["TYPE", "str"],
]


def test_zrangestore(reference, ours):
    same(reference, ours, ZRANGESTORE)


# -- ZREMRANGEBY* ------------------------------------------------------------------------------

ZREMRANGE = RANGE_DATA + [
    ["ZREMRANGEBYRANK", "r", "0", "0"], ["ZREMRANGEBYRANK", "r", "-1", "-1"],
    ["ZREMRANGEBYRANK", "r", "5", "1"], ["ZREMRANGEBYRANK", "r", "100", "200"],
    ["ZREMRANGEBYRANK", "r", "1", "-2"], ["ZRANGE", "r", "0", "-1", "WITHSCORES"],
    ["ZREMRANGEBYRANK", "r", "-100", "100"], ["EXISTS", "r"],
    ["ZREMRANGEBYRANK", "r", "a", "1"], ["ZREMRANGEBYRANK", "missing", "0", "-1"],
    ["ZREMRANGEBYRANK", "missing", "a", "1"],
] + RANGE_DATA + [
    ["ZREMRANGEBYSCORE", "r", "(1", "2"], ["ZREMRANGEBYSCORE", "r", "3", "1"],
    ["ZREMRANGEBYSCORE", "r", "-inf", "(0"], ["ZRANGE", "r", "0", "-1", "WITHSCORES"],
    ["ZREMRANGEBYSCORE", "r", "inf", "inf"], ["ZREMRANGEBYSCORE", "r", "x", "1"],
    ["ZREMRANGEBYSCORE", "missing", "x", "1"], ["ZREMRANGEBYSCORE", "missing", "0", "1"],
    ["ZREMRANGEBYSCORE", "r", "-inf", "+inf"], ["EXISTS", "r"],
] + LEX_DATA + [
    ["ZREMRANGEBYLEX", "l", "[b", "(d"], ["ZREMRANGEBYLEX", "l", "(z", "[a"],
    ["ZRANGE", "l", "0", "-1"], ["ZREMRANGEBYLEX", "l", "-", "[a"], ["ZREMRANGEBYLEX", "l", "a", "+"],
    ["ZREMRANGEBYLEX", "missing", "a", "+"], ["ZREMRANGEBYLEX", "missing", "-", "+"],
    ["ZREMRANGEBYLEX", "l", "-", "+"], ["EXISTS", "l"],
    ["ZREMRANGEBYRANK", "r", "0"], ["ZREMRANGEBYSCORE", "r", "0", "1", "2"],
    ["SET", "str", "x"], ["ZREMRANGEBYRANK", "str", "0", "-1"], ["ZREMRANGEBYSCORE", "str", "0", "1"],
    ["ZREMRANGEBYLEX", "str", "-", "+"], ["ZREMRANGEBYRANK", "str", "a", "-1"],
]


def test_zremrange_family(reference, ours):
    same(reference, ours, ZREMRANGE)


# -- ZPOPMIN / ZPOPMAX / ZMPOP ------------------------------------------------------------------

POP_DATA = [["ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "d", "-inf", "n", "inf", "p"]]
ZPOP = POP_DATA + [
    ["ZPOPMIN", "z"], ["ZPOPMAX", "z"], ["ZPOPMIN", "z", "2"], ["ZPOPMAX", "z", "0"],
    ["ZPOPMIN", "z", "1"], ["ZPOPMIN", "z", "-1"], ["ZPOPMIN", "z", "abc"], ["ZPOPMIN", "z", "1", "2"],
    ["ZPOPMAX", "z", LLONG_MAX], ["EXISTS", "z"], ["ZPOPMIN", "z"], ["ZPOPMIN", "z", "3"],
    ["ZPOPMAX", "missing", "0"], ["ZPOPMIN", "missing", "-1"], ["ZPOPMIN"],
    ["SET", "str", "x"], ["ZPOPMIN", "str"], ["ZPOPMAX", "str", "2"], ["ZPOPMAX", "str", "-2"],
]

ZMPOP = POP_DATA + [
    ["ZADD", "y", "10", "ten"],
    ["ZMPOP", "1", "z", "MIN"], ["ZMPOP", "1", "z", "max", "COUNT", "2"], ["ZMPOP", "2", "missing", "z", "MIN"],
    ["ZMPOP", "2", "missing", "y", "MAX", "COUNT", "10"], ["EXISTS", "y"],
    ["ZMPOP", "1", "missing", "MIN"], ["ZMPOP", "0", "z", "MIN"], ["ZMPOP", "-1", "z", "MIN"],
    ["ZMPOP", "abc", "z", "MIN"], ["ZMPOP", "1", "z", "LEFT"], ["ZMPOP", "5", "z", "MIN"],
    ["ZMPOP", "1", "z", "MIN", "COUNT", "0"], ["ZMPOP", "1", "z", "MIN", "COUNT", "-1"],
    ["ZMPOP", "1", "z", "MIN", "COUNT", "abc"], ["ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"],
    ["ZMPOP", "1", "z", "MIN", "COUNT"], ["ZMPOP", "1", "z", "MIN", "FOO"], ["ZMPOP", "1", "z"],
    ["ZMPOP", "1", "z", b"min\x00x"], ["ZMPOP", LLONG_MAX, "z", "MIN"],
    ["SET", "str", "x"], ["ZMPOP", "1", "str", "MIN"], ["ZMPOP", "2", "missing", "str", "MIN"],
    ["ZMPOP", "2", "z", "str", "MAX", "COUNT", "100"], ["EXISTS", "z"], ["ZMPOP", "1", "z", "MIN"],
]


def test_zpop(reference, ours):
    same(reference, ours, ZPOP)


def test_zpop_resp3(reference, server):
    same(reference, server, ZPOP, resp3=True)


def test_zmpop(reference, ours):
    same(reference, ours, ZMPOP)


def test_zmpop_resp3(reference, server):
    same(reference, server, ZMPOP, resp3=True)


# -- ZUNION / ZINTER / ZDIFF / ZINTERCARD -------------------------------------------------------

SETOP_DATA = [
    ["ZADD", "z1", "1", "a", "2", "b", "3", "c"], ["ZADD", "z2", "10", "b", "20", "c", "30", "d"],
    ["SADD", "s1", "a", "c", "x"], ["SADD", "si", "1", "2", "3"], ["ZADD", "zi", "5", "1", "6", "2"],
    ["ZADD", "pinf", "inf", "a", "inf", "b", "1", "c"], ["ZADD", "ninf", "-inf", "a", "inf", "b", "-inf", "c"],
    ["SET", "str", "x"],
]

SETOPS = SETOP_DATA + [
    ["ZUNIONSTORE", "out", "2", "z1", "z2"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["OBJECT", "ENCODING", "out"],
    ["ZUNIONSTORE", "out", "2", "z1", "z2", "WEIGHTS", "2", "3"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "z1", "z2", "AGGREGATE", "MIN"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNIONSTORE", "out", "2", "z1", "z2", "aggregate", "max", "weights", "1", "-1"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZUNION", "2", "z1", "z2"], ["ZUNION", "2", "z1", "z2", "WITHSCORES"],
    ["ZUNION", "3", "z1", "z2", "s1", "WITHSCORES"], ["ZUNION", "2", "si", "zi", "WITHSCORES"],
    ["ZUNION", "2", "z1", "missing", "WITHSCORES"], ["ZUNION", "1", "missing"],
    ["ZUNION", "2", "pinf", "ninf", "WITHSCORES"], ["ZUNION", "2", "pinf", "ninf", "AGGREGATE", "MIN", "WITHSCORES"],
    ["ZUNION", "2", "pinf", "ninf", "WEIGHTS", "0", "1", "WITHSCORES"],
    ["ZUNION", "2", "pinf", "z1", "WEIGHTS", "-inf", "inf", "WITHSCORES"],
    ["ZUNION", "2", "z1", "z1", "WITHSCORES"], ["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "2", "WEIGHTS", "3", "4"],
    ["ZUNION", "2", "z1", "z2", "WITHSCORES", "WITHSCORES", "AGGREGATE", "SUM", "AGGREGATE", "max"],
    ["ZINTERSTORE", "out", "2", "z1", "z2"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTERSTORE", "out", "3", "z1", "z2", "s1", "WEIGHTS", "1", "1", "100"],
    ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZINTER", "2", "z1", "z2", "WITHSCORES"], ["ZINTER", "2", "z1", "s1", "WITHSCORES"],
    ["ZINTER", "2", "z1", "z1", "WEIGHTS", "2", "5", "WITHSCORES"],
    ["ZINTER", "2", "pinf", "ninf", "WITHSCORES"], ["ZINTER", "2", "pinf", "ninf", "AGGREGATE", "MAX", "WITHSCORES"],
    ["ZINTER", "2", "pinf", "ninf", "WEIGHTS", "0", "0", "WITHSCORES"],
    ["ZINTER", "2", "z1", "missing"], ["ZINTER", "2", "si", "zi", "AGGREGATE", "min", "WITHSCORES"],
    ["ZINTERSTORE", "out", "2", "z1", "missing"], ["EXISTS", "out"],
    ["ZINTERCARD", "2", "z1", "z2"], ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "1"],
    ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "0"], ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "-1"],
    ["ZINTERCARD", "2", "z1", "z2", "LIMIT", "abc"], ["ZINTERCARD", "3", "z1", "z2", "s1"],
    ["ZINTERCARD", "1", "missing"], ["ZINTERCARD", "2", "z1", "z2", "WITHSCORES"],
    ["ZINTERCARD", "2", "z1", "z2", "WEIGHTS", "1", "2"], ["ZINTERCARD", "2", "z1", "z2", "LIMIT"],
    ["ZINTERCARD", "0", "z1"], ["ZINTERCARD", "2", "z1"],
    ["ZDIFF", "2", "z1", "z2"], ["ZDIFF", "2", "z1", "z2", "WITHSCORES"], ["ZDIFF", "2", "z1", "z1"],
    ["ZDIFF", "3", "z2", "z1", "s1", "WITHSCORES"], ["ZDIFF", "2", "s1", "z1", "WITHSCORES"],
    ["ZDIFF", "1", "missing"], ["ZDIFF", "2", "missing", "z1"], ["ZDIFF", "2", "z1", "missing", "WITHSCORES"],
    ["ZDIFF", "2", "z1", "z2", "WEIGHTS", "1", "2"], ["ZDIFF", "2", "z1", "z2", "AGGREGATE", "MIN"],
    ["ZDIFFSTORE", "out", "2", "z1", "z2"], ["ZRANGE", "out", "0", "-1", "WITHSCORES"],
    ["ZDIFFSTORE", "out", "2", "z1", "z1"], ["EXISTS", "out"],
    ["ZUNIONSTORE", "out", "0", "z1"], ["ZUNION", "0", "z1"], ["ZINTER", "-1", "z1"], ["ZDIFF", "0", "z1"],
    ["ZDIFFSTORE", "out", "0", "z1"], ["ZINTERSTORE", "out", "abc", "z1"], ["ZUNION", "3", "z1", "z2"],
    ["ZUNION", LLONG_MAX, "z1"], ["ZUNION", "2", "z1", "z2", "WEIGHTS", "1"],
    ["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "x"], ["ZUNION", "2", "z1", "z2", "WEIGHTS", "1", "nan"],
    ["ZUNION", "2", "z1", "z2", "AGGREGATE", "AVG"], ["ZUNION", "2", "z1", "z2", "AGGREGATE"],
    ["ZUNIONSTORE", "out", "2", "z1", "z2", "WITHSCORES"], ["ZUNION", "2", "z1", "z2", "FOO"],
    ["ZUNION", "2", "z1", "str"], ["ZUNION", "2", "str", "z1", "WEIGHTS", "x"], ["ZINTER", "2", "missing", "str"],
    ["ZDIFF", "2", "z1", "str"], ["ZINTERCARD", "2", "str", "z1"], ["ZUNIONSTORE", "out", "2", "z1", "str"],
    ["ZUNIONSTORE", "str", "1", "z1"], ["TYPE", "str"],
    ["SET", "dst", "v"], ["ZINTERSTORE", "dst", "2", "z1", "missing"], ["EXISTS", "dst"],
    ["ZADD", "dst", "1", "q"], ["EXPIRE", "dst", "50"], ["ZUNIONSTORE", "dst", "1", "z1"], ["TTL", "dst"],
    ["ZUNIONSTORE", "z1", "2", "z1", "z2"], ["ZRANGE", "z1", "0", "-1", "WITHSCORES"],
]


def test_set_operations(reference, ours):
    same(reference, ours, SETOPS)


def test_set_operations_resp3(reference, server):
    same(reference, server, SETOPS, resp3=True)


def test_union_sum_order_of_floating_additions(reference, server):
    """Sums are accumulated smallest input first, as Redis does, so rounding matches."""
    same(reference, server, [
        ["ZADD", "a", "0.1", "m", "1", "x", "2", "y"], ["ZADD", "b", "0.2", "m"],
        ["ZADD", "c", "0.3", "m", "1", "x"], ["ZADD", "d", "1e17", "m", "5", "q", "6", "r", "7", "s"],
        ["ZUNION", "4", "d", "a", "c", "b", "WITHSCORES"], ["ZUNION", "4", "a", "b", "c", "d", "WITHSCORES"],
        ["ZINTER", "4", "d", "c", "b", "a", "WITHSCORES"],
        ["ZUNION", "3", "a", "b", "c", "WEIGHTS", "0.1", "0.7", "1.3", "WITHSCORES"],
    ])


# -- ZSCAN -------------------------------------------------------------------------------------

def test_zscan_listpack_is_one_deterministic_page(reference, server):
    same(reference, server, [
        ["ZADD", "z", "1", "a", "1.5", "b", "1e17", "c", "inf", "d", "-0", "e", "-3", "f",
         "123456789", "g", "0.1", "h", "-inf", "i", "4611686018427387904", "j"],
        ["ZSCAN", "z", "0"], ["ZSCAN", "z", "0", "COUNT", "1"], ["ZSCAN", "z", "0", "MATCH", "[a-c]"],
        ["ZSCAN", "z", "0", "MATCH", "*"], ["ZSCAN", "z", "0", "MATCH", "zz*"],
        ["ZSCAN", "z", "0", "COUNT", "0"], ["ZSCAN", "z", "0", "COUNT", "abc"], ["ZSCAN", "z", "0", "COUNT"],
        ["ZSCAN", "z", "0", "MATCH"], ["ZSCAN", "z", "0", "TYPE", "zset"], ["ZSCAN", "z", "abc"],
        ["ZSCAN", "z", "-1"], ["ZSCAN", "z", "0", "match", "a", "count", "5"],
        ["ZSCAN", "missing", "0", "COUNT", "0"], ["ZSCAN", "missing", "x"],
        ["SET", "str", "x"], ["ZSCAN", "str", "0"], ["ZSCAN", "str", "0", "COUNT", "0"], ["ZSCAN", "z"],
    ], encodings=(SMALL,))


def test_zscan_listpack_resp3(reference, server):
    same(reference, server, [["ZADD", "z", "1", "a", "2.5", "b", "inf", "c"], ["ZSCAN", "z", "0"],
                             ["ZSCAN", "missing", "0"]], resp3=True, encodings=(SMALL,))


def test_debug_digest_of_both_encodings(reference, server):
    same(reference, server, [
        ["ZADD", "z", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "1e17", "e", "0.1", "f"],
        ["DEBUG", "DIGEST-VALUE", "z"], ["DEBUG", "DIGEST"]])


def _full_zscan(server, key, count, resp3=False):
    conn = RawConnection(server.port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        cursor = b"0"
        seen = []
        calls = 0
        while True:
            cursor, page = decode(conn.command("ZSCAN", key, cursor, "COUNT", str(count)))
            seen += [(page[i], page[i + 1]) for i in range(0, len(page), 2)]
            calls += 1
            if cursor == b"0":
                return seen, calls
    finally:
        conn.close()


def test_zscan_skiplist_visits_everything_with_scores(reference, server):
    for target in (reference, server):
        conn = RawConnection(target.port)
        conn.command("FLUSHALL")
        conn.command("ZADD", "big", *[x for i in range(500) for x in (str(i * 1.5 - 100), "m%d" % i)])
        conn.command("ZADD", "big", "1e17", "huge", "-0", "negzero", "inf", "top")
        conn.close()
    want, _ = _full_zscan(reference, "big", 20)
    got, calls = _full_zscan(server, "big", 20)
    assert sorted(set(got)) == sorted(set(want))
    assert len(set(got)) == 503
    assert calls > 5                       # really paged
    assert (b"huge", b"1e+17") in got and (b"negzero", b"-0") in got and (b"top", b"inf") in got


def test_zscan_skiplist_guarantee_under_writes(server):
    """Members present for the whole scan are all returned despite concurrent deletes and adds."""
    conn = RawConnection(server.port)
    conn.command("FLUSHALL")
    conn.command("ZADD", "z", *[x for i in range(1000) for x in (str(i), "m%d" % i)])
    stable = {b"m%d" % i for i in range(0, 1000, 2)}
    seen = set()
    cursor = b"0"
    step = 0
    while True:
        cursor, page = decode(conn.command("ZSCAN", "z", cursor, "COUNT", "25"))
        seen.update(page[0::2])
        step += 1
        conn.command("ZREM", "z", "m%d" % (2 * step + 1), "m%d" % (999 - 2 * step))
        conn.command("ZADD", "z", "5", "new%d" % step)
        if cursor == b"0":
            break
    conn.close()
    assert stable <= seen


# -- ZRANDMEMBER -----------------------------------------------------------------------------------

def test_zrandmember_errors_and_deterministic_cases(reference, ours):
    same(reference, ours, [
        ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        ["ZRANDMEMBER", "z", "0"], ["ZRANDMEMBER", "z", "0", "WITHSCORES"], ["ZRANDMEMBER", "z", "3"],
        ["ZRANDMEMBER", "z", "100", "WITHSCORES"], ["ZRANDMEMBER", "z", LLONG_MAX],
        ["ZRANDMEMBER", "missing"], ["ZRANDMEMBER", "missing", "5"], ["ZRANDMEMBER", "missing", "-5", "WITHSCORES"],
        ["ZRANDMEMBER", "z", "abc"], ["ZRANDMEMBER", "z", "1.5"], ["ZRANDMEMBER", "z", LLONG_MIN],
        ["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"],
        ["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"],
        ["ZRANDMEMBER", "z", "3", "FOO"], ["ZRANDMEMBER", "z", "3", "WITHSCORES", "x"],
        ["ZRANDMEMBER", "z", "abc", "FOO"], ["ZRANDMEMBER", "missing", "1", "FOO"],
        ["SET", "str", "x"], ["ZRANDMEMBER", "str"], ["ZRANDMEMBER", "str", "1"],
        ["ZRANDMEMBER", "str", "0"], ["ZRANDMEMBER", "str", "x"],
    ])


def test_zrandmember_whole_set_resp3(reference, server):
    same(reference, server, [
        ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZRANDMEMBER", "z", "3", "WITHSCORES"],
        ["ZRANDMEMBER", "z", "0", "WITHSCORES"], ["ZRANDMEMBER", "missing", "2"],
    ], resp3=True)


@pytest.mark.parametrize("entries", ["128", "0"])
def test_zrandmember_properties(server, entries):
    r = server.client()
    r.flushall()
    r.config_set("zset-max-listpack-entries", entries)
    try:
        scores = {b"m%d" % i: float(i) / 2 for i in range(10)}
        r.zadd("z", scores)
        assert r.object("encoding", "z") == (b"listpack" if entries == "128" else b"skiplist")
        for _ in range(50):
            assert r.zrandmember("z") in scores
        for count in (1, 2, 5, 9, 10, 11, 100):
            got = r.zrandmember("z", count)
            assert len(got) == min(count, 10)
            assert len(set(got)) == len(got)
            assert set(got) <= set(scores)
        raw = RawConnection(server.port)
        got = decode(raw.command("ZRANDMEMBER", "z", "4", "WITHSCORES"))
        assert len(got) == 8
        for member, score in zip(got[0::2], got[1::2]):
            assert float(score) == scores[member]
        got = r.zrandmember("z", -25)
        assert len(got) == 25 and set(got) <= set(scores)
        # Repeats are drawn uniformly: 10000 draws over 10 members, ~1000 each.
        counts = Counter(r.zrandmember("z", -10000))
        assert set(counts) == set(scores)
        assert all(800 < n < 1200 for n in counts.values()), counts
        # Distinct draws are uniform too.
        counts = Counter()
        for _ in range(600):
            counts.update(r.zrandmember("z", 3))
        assert all(100 < n < 260 for n in counts.values()), counts
        withscores = decode(raw.command("ZRANDMEMBER", "z", "-7", "WITHSCORES"))
        raw.close()
        assert len(withscores) == 14
        for member, score in zip(withscores[0::2], withscores[1::2]):
            assert float(score) == scores[member]
    finally:
        r.config_set("zset-max-listpack-entries", "128")
        r.close()


def test_zrandmember_resp3_shapes(server):
    conn = RawConnection(server.port)
    try:
        conn.command("HELLO", "3")
        conn.command("FLUSHALL")
        conn.command("ZADD", "z", "1", "a", "2.5", "b", "3", "c")
        raw = conn.command("ZRANDMEMBER", "z", "2", "WITHSCORES")
        assert raw.startswith(b"*2\r\n*2\r\n$1\r\n")
        pairs = decode(raw)
        assert all(len(pair) == 2 and pair[1] == {b"a": 1.0, b"b": 2.5, b"c": 3.0}[pair[0]]
                   for pair in pairs)
        raw = conn.command("ZRANDMEMBER", "z", "-5", "WITHSCORES")
        assert raw.startswith(b"*5\r\n*2\r\n")
        assert conn.command("ZRANDMEMBER", "z", "-2").startswith(b"*2\r\n$1\r\n")
        assert conn.command("ZRANDMEMBER", "missing") == b"_\r\n"
    finally:
        conn.close()


# -- BZPOPMIN / BZPOPMAX / BZMPOP ------------------------------------------------------------------

BLOCKING_AT_ONCE = POP_DATA + [
    ["ZADD", "y", "10", "ten", "20", "twenty"],
    ["BZPOPMIN", "z", "0"], ["BZPOPMAX", "missing", "z", "0"], ["BZPOPMIN", "y", "z", "1.5"],
    ["BZMPOP", "0", "1", "z", "MIN"], ["BZMPOP", "0", "2", "missing", "y", "MAX", "COUNT", "5"],
    ["EXISTS", "y"], ["BZMPOP", "0.5", "1", "z", "MAX", "COUNT", "1"],
    ["BZPOPMIN", "z", "z", "0"],
    ["SET", "str", "x"], ["BZPOPMIN", "str", "0"], ["BZPOPMIN", "missing", "str", "0"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    ["BZPOPMIN", "z", "str", "0"], ["BZMPOP", "0", "2", "missing", "str", "MIN"],
    ["BZPOPMIN", "missing", "abc"], ["BZPOPMIN", "missing", "-1"], ["BZPOPMIN", "missing", "inf"],
    ["BZPOPMIN", "missing", "nan"], ["BZPOPMIN", "z", "0x10"], ["BZPOPMIN", "str", "abc"],
    ["BZPOPMAX", "missing", ""], ["BZPOPMAX", "z", "1e1"],
    ["BZMPOP", "abc", "1", "z", "MIN"], ["BZMPOP", "-1", "1", "z", "MIN"], ["BZMPOP", "0", "0", "z", "MIN"],
    ["BZMPOP", "abc", "0", "z", "MIN"], ["BZMPOP", "abc", "1", "z", "LEFT"],
    ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"], ["BZMPOP", "0", "3", "z", "MIN"],
    ["BZPOPMIN", "z"], ["BZMPOP", "0", "1", "z"], ["ZRANGE", "z", "0", "-1"],
]

BLOCKING_IN_MULTI = POP_DATA + [
    ["MULTI"], ["BZPOPMIN", "missing", "0"], ["BZPOPMAX", "z", "0"], ["BZMPOP", "0", "1", "missing", "MIN"],
    ["BZMPOP", "0", "1", "z", "MIN", "COUNT", "2"], ["EXEC"],
]


def test_blocking_pops_with_data_or_errors_reply_at_once(reference, ours):
    same(reference, ours, BLOCKING_AT_ONCE)


def test_blocking_pops_at_once_resp3(reference, server):
    same(reference, server, BLOCKING_AT_ONCE, resp3=True)


def test_blocking_pops_never_block_inside_multi(reference, server):
    same(reference, server, BLOCKING_IN_MULTI)
    same(reference, server, BLOCKING_IN_MULTI, resp3=True)


def test_blocking_pops_time_out(reference, server):
    script = [["BZPOPMIN", "missing", "0.01"], ["BZPOPMAX", "a", "b", "0.001"],
              ["BZMPOP", "0.01", "2", "a", "b", "MIN", "COUNT", "3"]]
    same(reference, server, script, encodings=(SMALL,))
    same(reference, server, script, resp3=True, encodings=(SMALL,))


def _blocked_clients(conn):
    text = conn.command("INFO", "clients")
    return int(re.search(rb"blocked_clients:(\d+)", text).group(1))


def _wait_blocked(conn, n):
    deadline = time.monotonic() + 10
    while _blocked_clients(conn) != n:
        assert time.monotonic() < deadline, "clients never blocked"
        time.sleep(0.005)


def blocking_session(target, waiters, writes, resp3=False):
    """Start each waiter command on its own connection, wait until all are blocked, run the
    writes on another, then read what each waiter got; returns every reply in order.
    "WAIT-BLOCKED" in writes records how many clients are still blocked."""
    admin = RawConnection(target.port)
    watcher = RawConnection(target.port)
    conns = []
    try:
        admin.command("FLUSHALL")
        before = _changes(watcher)
        for command in waiters:
            conn = RawConnection(target.port)
            conns.append(conn)
            if resp3:
                conn.command("HELLO", "3")
            conn.send(encode_command(command))
            _wait_blocked(watcher, len(conns))
        replies = []
        for step in writes:
            if step == "WAIT-BLOCKED":
                replies.append(b"blocked %d" % _blocked_clients(watcher))
            else:
                replies.append(admin.command(*step))
        replies += [conn.read_reply() for conn in conns]
        replies.append(b"changes %d" % (_changes(watcher) - before))
        return replies
    finally:
        for conn in conns + [admin, watcher]:
            conn.close()


BLOCKING_SCENARIOS = {
    "served-by-zadd": ([["BZPOPMIN", "k1", "k2", "5"]],
                       [["ZADD", "k2", "1", "a", "2", "b"], ["ZRANGE", "k2", "0", "-1", "WITHSCORES"]]),
    "served-in-blocking-order": ([["BZPOPMAX", "k", "0"], ["BZMPOP", "0", "1", "k", "MIN", "COUNT", "5"],
                                  ["BZPOPMIN", "k", "0"]],
                                 [["ZADD", "k", "1", "a", "2", "b", "3", "c"], ["EXISTS", "k"],
                                  "WAIT-BLOCKED", ["ZADD", "k", "7", "late"], ["EXISTS", "k"]]),
    "wrong-type-does-not-serve": ([["BZPOPMIN", "k", "0"]],
                                  [["SET", "k", "x"], "WAIT-BLOCKED", ["DEL", "k"],
                                   ["ZADD", "k", "4", "d", "5", "e"], ["ZCARD", "k"]]),
    "served-after-exec": ([["BZPOPMIN", "k", "0"]],
                          [["MULTI"], ["ZADD", "k", "1", "a"], ["ZADD", "k", "2", "b"], ["ZREM", "k", "a"],
                           "WAIT-BLOCKED", ["EXEC"], ["EXISTS", "k"]]),
    "served-by-store-commands": ([["BZPOPMAX", "dst", "0"], ["BZMPOP", "0", "1", "u", "MAX", "COUNT", "2"]],
                                 [["ZADD", "src", "1", "a", "2", "b", "3", "c"],
                                  ["ZRANGESTORE", "dst", "src", "0", "1"],
                                  ["ZUNIONSTORE", "u", "2", "src", "dst"], ["ZRANGE", "u", "0", "-1"]]),
    "several-keys-first-written-wins": ([["BZMPOP", "0", "3", "a", "b", "c", "MAX"]],
                                        [["ZADD", "c", "1", "x"], ["ZADD", "b", "1", "y"], ["EXISTS", "b"]]),
}


@pytest.mark.parametrize("resp3", [False, True])
@pytest.mark.parametrize("scenario", sorted(BLOCKING_SCENARIOS))
def test_blocked_clients_are_served_as_redis_serves_them(reference, ours, scenario, resp3):
    waiters, writes = BLOCKING_SCENARIOS[scenario]
    want = blocking_session(reference, waiters, writes, resp3)
    got = blocking_session(ours, waiters, writes, resp3)
    assert got == want


# -- encodings ---------------------------------------------------------------------------------------

ENCODINGS = [
    ["CONFIG", "SET", "zset-max-listpack-entries", "4"], ["CONFIG", "SET", "zset-max-listpack-value", "8"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["OBJECT", "ENCODING", "z"],
    ["ZADD", "z", "5", "e"], ["OBJECT", "ENCODING", "z"], ["ZREM", "z", "a", "b", "c", "d"],
    ["OBJECT", "ENCODING", "z"], ["ZADD", "z", "0", "e"], ["OBJECT", "ENCODING", "z"],
    ["ZADD", "v", "1", "12345678"], ["OBJECT", "ENCODING", "v"], ["ZADD", "v", "1", "123456789"],
    ["OBJECT", "ENCODING", "v"], ["ZADD", "w", "1", "123456789"], ["OBJECT", "ENCODING", "w"],
    ["ZADD", "x", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"], ["OBJECT", "ENCODING", "x"],
    ["ZADD", "y", "1", "a"], ["ZADD", "y", "XX", "1", "123456789"], ["OBJECT", "ENCODING", "y"],
    ["ZINCRBY", "y", "1", "123456789"], ["OBJECT", "ENCODING", "y"],
    ["ZRANGESTORE", "s", "x", "0", "3"], ["OBJECT", "ENCODING", "s"],
    ["ZRANGESTORE", "s", "x", "0", "4"], ["OBJECT", "ENCODING", "s"],
    ["ZRANGESTORE", "s", "y", "0", "-1"], ["OBJECT", "ENCODING", "s"],
    ["ZRANGESTORE", "s", "x", "-inf", "+inf", "BYSCORE", "LIMIT", "0", "4"], ["OBJECT", "ENCODING", "s"],
    ["ZUNIONSTORE", "u", "1", "x"], ["OBJECT", "ENCODING", "u"],
    ["ZINTERSTORE", "u", "2", "x", "z"], ["OBJECT", "ENCODING", "u"],
    ["ZDIFFSTORE", "u", "2", "x", "z"], ["OBJECT", "ENCODING", "u"],
    ["ZUNIONSTORE", "u", "2", "v", "w"], ["OBJECT", "ENCODING", "u"],
    ["ZPOPMIN", "x", "4"], ["OBJECT", "ENCODING", "x"],
    ["COPY", "x", "xc"], ["OBJECT", "ENCODING", "xc"], ["ZRANGE", "xc", "0", "-1", "WITHSCORES"],
    ["COPY", "v", "vc"], ["OBJECT", "ENCODING", "vc"], ["TYPE", "vc"],
    ["CONFIG", "SET", "zset-max-listpack-entries", "0"], ["ZADD", "n", "1", "a"], ["OBJECT", "ENCODING", "n"],
    ["ZRANGESTORE", "s2", "n", "0", "-1"], ["OBJECT", "ENCODING", "s2"],
    ["CONFIG", "SET", "zset-max-listpack-entries", "128"], ["ZRANGESTORE", "s2", "n", "0", "-1"],
    ["OBJECT", "ENCODING", "s2"], ["ZADD", "n", "2", "b"], ["OBJECT", "ENCODING", "n"],
    ["CONFIG", "SET", "zset-max-listpack-value", "0"], ["ZADD", "e", "1", ""], ["OBJECT", "ENCODING", "e"],
    ["ZADD", "e", "1", "a"], ["OBJECT", "ENCODING", "e"],
    ["CONFIG", "SET", "zset-max-listpack-value", "64"],
]


def test_object_encoding_around_thresholds(reference, ours):
    same(reference, ours, ENCODINGS, encodings=([],))


def test_encoding_at_128_and_64(reference, server):
    script = [["ZADD", "z"] + [x for i in range(128) for x in (str(i), "m%d" % i)],
              ["OBJECT", "ENCODING", "z"], ["ZADD", "z", "0", "one-more"], ["OBJECT", "ENCODING", "z"],
              ["ZADD", "v", "1", "x" * 64], ["OBJECT", "ENCODING", "v"], ["ZADD", "v", "1", "y" * 65],
              ["OBJECT", "ENCODING", "v"], ["ZPOPMIN", "z", "100"], ["OBJECT", "ENCODING", "z"]]
    same(reference, server, script, encodings=(SMALL,))


# -- generic error replies --------------------------------------------------------------------

ARITY = [
    ["ZADD", "z"], ["ZADD", "z", "1"], ["ZINCRBY", "z"], ["ZREM", "z"], ["ZCARD"], ["ZCOUNT", "z", "0"],
    ["ZLEXCOUNT", "z", "-"], ["ZSCORE", "z"], ["ZMSCORE", "z"], ["ZRANK", "z"], ["ZREVRANK", "z"],
    ["ZRANGE", "z", "0"], ["ZRANGESTORE", "d", "z", "0"], ["ZREVRANGE", "z", "0"],
    ["ZRANGEBYSCORE", "z", "0"], ["ZREVRANGEBYSCORE", "z", "0"], ["ZRANGEBYLEX", "z", "-"],
    ["ZREVRANGEBYLEX", "z", "+"], ["ZREMRANGEBYRANK", "z", "0"], ["ZREMRANGEBYSCORE", "z", "0"],
    ["ZREMRANGEBYLEX", "z", "-"], ["ZPOPMIN"], ["ZPOPMAX"], ["ZMPOP", "1", "z"], ["ZRANDMEMBER"],
    ["ZUNIONSTORE", "d", "1"], ["ZINTERSTORE", "d"], ["ZDIFFSTORE", "d", "1"], ["ZUNION", "1"],
    ["ZINTER", "1"], ["ZDIFF", "1"], ["ZINTERCARD", "1"], ["ZSCAN", "z"],
    ["zadd", "z"], ["ZcArD"],
]


def test_arity_errors(reference, server):
    same(reference, server, ARITY, encodings=(SMALL,))


def test_command_info_of_the_family(reference, server):
    names = ["zadd", "zincrby", "zrem", "zcard", "zcount", "zlexcount", "zscore", "zmscore",
             "zrank", "zrevrank", "zrange", "zrangestore", "zrevrange", "zrangebyscore",
             "zrevrangebyscore", "zrangebylex", "zrevrangebylex", "zremrangebyrank",
             "zremrangebyscore", "zremrangebylex", "zpopmin", "zpopmax", "zmpop", "zrandmember",
             "zunionstore", "zinterstore", "zdiffstore", "zunion", "zinter", "zdiff",
             "zintercard", "zscan", "bzpopmin", "bzpopmax", "bzmpop"]
    for name in names:
        want = decode(RawConnection(reference.port).command("COMMAND", "INFO", name))[0]
        got = decode(RawConnection(server.port).command("COMMAND", "INFO", name))[0]
        # name, arity, flags, first key, last key, step, ACL categories, tips
        assert got[:8] == want[:8], name


def test_getkeys_for_movable_keys(reference, server):
    same(reference, server, [
        ["COMMAND", "GETKEYS", "ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
        ["COMMAND", "GETKEYS", "ZINTER", "3", "a", "b", "c"],
        ["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"],
        ["COMMAND", "GETKEYS", "ZDIFFSTORE", "d", "1", "a"],
        ["COMMAND", "GETKEYS", "ZINTERCARD", "2", "a", "b", "LIMIT", "1"],
        ["COMMAND", "GETKEYS", "ZRANGESTORE", "d", "s", "0", "1"],
        ["COMMAND", "GETKEYS", "BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "3"],
        ["COMMAND", "GETKEYS", "BZPOPMIN", "a", "b", "c", "0"],
    ], encodings=(SMALL,))


# -- property tests: random command sequences on both servers ------------------------------------

MEMBER = st.sampled_from(["a", "b", "c", "d", "e", "aa", "", "b\x00", "zz"])
SCORE = st.sampled_from(["0", "1", "-1", "2.5", "3", "inf", "-inf", "-0", "1e-5", "7"])
BOUND = st.sampled_from(["-inf", "+inf", "0", "1", "(1", "2.5", "(2.5", "3", "(-1", "-0", "(7"])
LEX_BOUND = st.sampled_from(["-", "+", "[a", "(a", "[b", "(aa", "[d", "(e", "[", "[zz"])
INDEX = st.sampled_from(["0", "1", "2", "-1", "-2", "-3", "5", "100", "-100"])
KEY = st.sampled_from(["z1", "z2"])
FLAGS = st.lists(st.sampled_from(["NX", "XX", "GT", "LT", "CH"]), max_size=2, unique=True)


def _pairs(draw_list):
    return [x for score, member in draw_list for x in (score, member)]


COMMAND = st.one_of(
    st.builds(lambda k, f, p: ["ZADD", k] + f + _pairs(p), KEY, FLAGS,
              st.lists(st.tuples(SCORE, MEMBER), min_size=1, max_size=4)),
    st.builds(lambda k, f, s, m: ["ZADD", k, "INCR"] + f + [s, m], KEY, FLAGS, SCORE, MEMBER),
    st.builds(lambda k, s, m: ["ZINCRBY", k, s, m], KEY, SCORE, MEMBER),
    st.builds(lambda k, ms: ["ZREM", k] + ms, KEY, st.lists(MEMBER, min_size=1, max_size=3)),
    st.builds(lambda k, a, b, w: ["ZRANGE", k, a, b] + w, KEY, INDEX, INDEX,
              st.sampled_from([[], ["WITHSCORES"], ["REV"], ["REV", "WITHSCORES"]])),
    st.builds(lambda k, a, b, extra: ["ZRANGEBYSCORE", k, a, b] + extra, KEY, BOUND, BOUND,
              st.sampled_from([[], ["WITHSCORES"], ["LIMIT", "1", "2"], ["LIMIT", "0", "-1", "WITHSCORES"]])),
    st.builds(lambda k, a, b, extra: ["ZREVRANGEBYSCORE", k, a, b] + extra, KEY, BOUND, BOUND,
              st.sampled_from([[], ["WITHSCORES"], ["LIMIT", "1", "1"]])),
    st.builds(lambda k, m: ["ZRANK", k, m], KEY, MEMBER),
    st.builds(lambda k, m: ["ZREVRANK", k, m], KEY, MEMBER),
    st.builds(lambda k, ms: ["ZMSCORE", k] + ms, KEY, st.lists(MEMBER, min_size=1, max_size=3)),
    st.builds(lambda k, a, b: ["ZCOUNT", k, a, b], KEY, BOUND, BOUND),
    st.builds(lambda k: ["ZCARD", k], KEY),
    st.builds(lambda k, c, cmd: [cmd, k, c], KEY, st.sampled_from(["1", "2", "5"]),
              st.sampled_from(["ZPOPMIN", "ZPOPMAX"])),
    st.builds(lambda k, a, b: ["ZREMRANGEBYRANK", k, a, b], KEY, INDEX, INDEX),
    st.builds(lambda k, a, b: ["ZREMRANGEBYSCORE", k, a, b], KEY, BOUND, BOUND),
    st.builds(lambda d, k, a, b: ["ZRANGESTORE", d, k, a, b], KEY, KEY, INDEX, INDEX),
    st.builds(lambda op, d, w, agg: [op, d, "2", "z1", "z2", "WEIGHTS"] + w + agg,
              st.sampled_from(["ZUNIONSTORE", "ZINTERSTORE"]), KEY,
              st.sampled_from([["1", "1"], ["2", "-1"], ["0", "inf"], ["-inf", "1"]]),
              st.sampled_from([[], ["AGGREGATE", "MIN"], ["AGGREGATE", "MAX"]])),
    st.builds(lambda op: [op, "2", "z1", "z2", "WITHSCORES"], st.sampled_from(["ZUNION", "ZINTER", "ZDIFF"])),
    # lex commands on a key whose scores are all equal
    st.builds(lambda ms: ["ZADD", "lex"] + [x for m in ms for x in ("0", m)], st.lists(MEMBER, min_size=1, max_size=3)),
    st.builds(lambda a, b, lim: ["ZRANGEBYLEX", "lex", a, b] + lim, LEX_BOUND, LEX_BOUND,
              st.sampled_from([[], ["LIMIT", "1", "2"]])),
    st.builds(lambda a, b: ["ZREVRANGEBYLEX", "lex", a, b], LEX_BOUND, LEX_BOUND),
    st.builds(lambda a, b: ["ZLEXCOUNT", "lex", a, b], LEX_BOUND, LEX_BOUND),
    st.builds(lambda a, b: ["ZREMRANGEBYLEX", "lex", a, b], LEX_BOUND, LEX_BOUND),
    st.builds(lambda k: ["OBJECT", "ENCODING", k], st.sampled_from(["z1", "z2", "lex"])),
)

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])


# Each sequence starts from a few members in every key, so ranges have something to find.
SEEDED_SCRIPT = st.builds(
    lambda z1, z2, lex, rest: [["ZADD", "z1"] + _pairs(z1), ["ZADD", "z2"] + _pairs(z2),
                               ["ZADD", "lex"] + [x for m in lex for x in ("0", m)]] + rest,
    st.lists(st.tuples(SCORE, MEMBER), min_size=2, max_size=8),
    st.lists(st.tuples(SCORE, MEMBER), min_size=2, max_size=8),
    st.lists(MEMBER, min_size=2, max_size=8),
    st.lists(COMMAND, min_size=20, max_size=37))


@PROPERTY_SETTINGS
@given(entries=st.sampled_from(["0", "3", "128"]), resp3=st.booleans(), script=SEEDED_SCRIPT)
def test_random_command_sequences(reference, server, entries, resp3, script):
    setup = [["CONFIG", "SET", "zset-max-listpack-entries", entries]]
    same(reference, server, script, resp3=resp3, encodings=(setup,))


@PROPERTY_SETTINGS
@given(entries=st.sampled_from(["0", "3"]), script=SEEDED_SCRIPT)
def test_random_command_sequences_pure_twin(reference, pure_server, entries, script):
    setup = [["CONFIG", "SET", "zset-max-listpack-entries", entries]]
    same(reference, pure_server, script, encodings=(setup,))


def test_pure_switch_picks_the_python_skiplist():
    code = "import server.values.zsets as z; print(z.SkipList.__module__)"
    out = run_python(code, pure=True)
    assert out.stdout.strip() == "server.values.skiplist", out.stderr
    out = run_python(code, pure=False)
    try:
        import native.zskiplist  # noqa: F401
        expected = "native.zskiplist"
    except ImportError:
        expected = "server.values.skiplist"
    assert out.stdout.strip() == expected, out.stderr

"""Stream commands (XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD) against
Debian's redis-server 7.0.15, reply bytes compared.

Every script runs on both servers twice: with stream-node-max-entries 3 (nodes split
often) and with the defaults, in RESP2 and RESP3; after a script the number of dataset
changes (INFO rdb_changes_since_last_save) must match too. IDs made from the clock (`*`)
are checked for their properties and for what they propagate; the rest is compared byte
for byte, the AOF the commands leave included.
"""
import random
import re
import threading
import time

import pytest

from differential import ours, pure_server  # noqa: F401 (fixtures)
from harness import RawConnection, ServerProcess, encode_command, read_aof

ULLONG_MAX = "18446744073709551615"
LLONG_MAX = "9223372036854775807"
SMALL_NODES = [["CONFIG", "SET", "stream-node-max-entries", "3"],
               ["CONFIG", "SET", "stream-node-max-bytes", "4096"]]
DEFAULT_NODES = [["CONFIG", "SET", "stream-node-max-entries", "100"],
                 ["CONFIG", "SET", "stream-node-max-bytes", "4096"]]


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


def same(reference, ours, script, resp3=False, setups=(SMALL_NODES, DEFAULT_NODES)):
    """Compare each reply and the change count, under each node-size setup."""
    for setup in setups:
        steps = setup + script
        want, want_changes = run(reference.port, steps, resp3)
        got, got_changes = run(ours.port, steps, resp3)
        for step, expected, actual in zip(steps, want, got):
            assert actual == expected, "%r: redis replied %r, we replied %r" % (
                step, expected, actual)
        assert got_changes == want_changes, "dataset changes: redis %d, ours %d" % (
            want_changes, got_changes)


# -- XADD -------------------------------------------------------------------------------------

XADD_SCRIPT = [
    ["XADD", "s", "1-1", "a", "1"], ["XADD", "s", "1-2", "a", "2", "b", "3"],
    ["XADD", "s", "1-*", "a", "4"], ["XADD", "s", "2-*", "c", "5"], ["XADD", "s", "2", "d", "6"],
    ["XADD", "s", "3-0", "a", "1"], ["XADD", "s", "3-0", "a", "1"], ["XADD", "s", "2-9", "a", "1"],
    ["XADD", "s", "0-0", "a", "1"], ["XADD", "fresh", "0-0", "a", "1"], ["EXISTS", "fresh"],
    ["XADD", "fresh", "0-*", "a", "1"], ["XADD", "fresh", "0-*", "a", "2"],
    ["XADD", "s", "5-" + ULLONG_MAX, "a", "1"], ["XADD", "s", "5-*", "a", "1"],
    ["XADD", "s", "6-*", "a", "1"], ["XLEN", "s"],
    ["XADD", "top", ULLONG_MAX + "-" + ULLONG_MAX, "f", "v"], ["XADD", "top", "*", "f", "v"],
    ["XADD", "top", ULLONG_MAX + "-*", "f", "v"],
    ["XADD", "s", "a-1", "f", "v"], ["XADD", "s", "1-a", "f", "v"], ["XADD", "s", "-", "f", "v"],
    ["XADD", "s", "+", "f", "v"], ["XADD", "s", "-1", "f", "v"], ["XADD", "s", "", "f", "v"],
    ["XADD", "s", "10-", "f", "v"], ["XADD", "s", "-10", "f", "v"], ["XADD", "s", "10--1", "f", "v"],
    ["XADD", "s", "18446744073709551616-1", "f", "v"], ["XADD", "s", "*-1", "f", "v"],
    ["XADD", "s", "1-**", "f", "v"], ["XADD", "s", "7-1-1", "f", "v"], ["XADD", "s", " 8", "f", "v"],
    ["XADD", "s", "+9", "f", "v"], ["XADD", "s", "010-3", "f", "v"], ["XADD", "s", "11- 5", "f", "v"],
    ["XADD", "s", "12-+5", "f", "v"], ["XADD", "s", "13-05", "f", "v"], ["XADD", "s", "1" * 130, "f", "v"],
    ["XADD", "s", "20-1", "f"], ["XADD", "s", "20-1", "f", "v", "g"], ["XADD", "s", "20-1"],
    ["XADD", "s", "NOMKSTREAM", "NOMKSTREAM"], ["XADD", "s", "MAXLEN", "5", "MAXLEN"],
    ["XADD", "nope", "NOMKSTREAM", "1-1", "f", "v"], ["EXISTS", "nope"],
    ["XADD", "s", "NOMKSTREAM", "21-1", "f", "v"], ["XADD", "s", "nomkstream", "22-1", "f", "v"],
    ["SET", "str", "x"], ["XADD", "str", "1-1", "f", "v"], ["XADD", "str", "0-0", "f", "v"],
    ["XADD", "str", "bad", "f", "v"], ["XADD", "str", "NOMKSTREAM", "1-1", "f", "v"],
    ["XADD", "s", "30-1", "", ""], ["XADD", "s", "30-2", "f", "v", "f", "w"],
    ["XADD", "s", "30-3", "123", "-5", "x" * 100, "y" * 5000],
    ["XADD", "s", "30-4", "\x00", "\xff"],
    ["XRANGE", "s", "-", "+"], ["XLEN", "s"], ["TYPE", "s"], ["OBJECT", "ENCODING", "s"],
    ["XLEN", "missing"], ["XLEN", "str"], ["XLEN", "s", "extra"],
]


def test_xadd_ids_and_errors(reference, ours):
    same(reference, ours, XADD_SCRIPT)


def test_xadd_resp3(reference, ours):
    same(reference, ours, XADD_SCRIPT, resp3=True, setups=(SMALL_NODES,))


TRIM_SCRIPT = [
    *[["XADD", "s", "%d-1" % i, "f", str(i)] for i in range(1, 31)],
    ["XADD", "s", "MAXLEN", "25", "31-1", "f", "v"], ["XLEN", "s"], ["XRANGE", "s", "-", "+", "COUNT", "2"],
    ["XADD", "s", "MAXLEN", "~", "20", "32-1", "f", "v"], ["XLEN", "s"],
    ["XADD", "s", "MAXLEN", "=", "20", "33-1", "f", "v"], ["XLEN", "s"],
    ["XADD", "s", "MINID", "20", "34-1", "f", "v"], ["XRANGE", "s", "-", "+", "COUNT", "1"],
    ["XADD", "s", "MINID", "~", "25", "35-1", "f", "v"], ["XRANGE", "s", "-", "+", "COUNT", "1"],
    ["XADD", "s", "MINID", "=", "26-1", "36-1", "f", "v"], ["XRANGE", "s", "-", "+", "COUNT", "1"],
    ["XADD", "s", "MAXLEN", "~", "2", "LIMIT", "3", "37-1", "f", "v"], ["XLEN", "s"],
    ["XADD", "s", "MAXLEN", "~", "2", "LIMIT", "0", "38-1", "f", "v"], ["XLEN", "s"],
    ["XADD", "s", "MAXLEN", "2", "LIMIT", "3", "39-1", "f", "v"],
    ["XADD", "s", "LIMIT", "3", "39-1", "f", "v"], ["XADD", "s", "LIMIT", "0", "39-1", "f", "v"],
    ["XADD", "s", "MAXLEN", "-1", "40-1", "f", "v"], ["XADD", "s", "MAXLEN", "x", "40-1", "f", "v"],
    ["XADD", "s", "MAXLEN", "~", "x", "40-1", "f", "v"], ["XADD", "s", "MAXLEN", "~", "40-1", "f", "v"],
    ["XADD", "s", "MAXLEN", "5", "MINID", "5", "40-1", "f", "v"],
    ["XADD", "s", "MINID", "5", "MAXLEN", "5", "40-1", "f", "v"],
    ["XADD", "s", "MINID", "-", "40-1", "f", "v"], ["XADD", "s", "MINID", "+", "40-1", "f", "v"],
    ["XADD", "s", "MINID", "bad", "40-1", "f", "v"], ["XADD", "s", "LIMIT", "-1", "40-1", "f", "v"],
    ["XADD", "s", "LIMIT", "x", "40-1", "f", "v"], ["XADD", "s", "MAXLEN", "~", "1", "LIMIT", "1", "bad", "f", "v"],
    ["XADD", "s", "MAXLEN", LLONG_MAX, "40-1", "f", "v"], ["XADD", "s", "MAXLEN", "0", "41-1", "f", "v"],
    ["XLEN", "s"], ["XRANGE", "s", "-", "+"], ["EXISTS", "s"],
    ["XADD", "s", "MAXLEN", "~", "0", "42-1", "f", "v"], ["XLEN", "s"],
    ["XADD", "n", "NOMKSTREAM", "MAXLEN", "0", "1-1", "f", "v"], ["EXISTS", "n"],
    # XTRIM
    *[["XADD", "t", "%d-1" % i, "f", str(i), "g", "x"] for i in range(1, 41)],
    ["XDEL", "t", "3-1", "4-1", "10-1"],
    ["XTRIM", "t", "MAXLEN", "35"], ["XLEN", "t"], ["XTRIM", "t", "MAXLEN", "~", "30"], ["XLEN", "t"],
    ["XTRIM", "t", "MAXLEN", "~", "30", "LIMIT", "1"], ["XLEN", "t"],
    ["XTRIM", "t", "MINID", "15"], ["XRANGE", "t", "-", "+", "COUNT", "1"],
    ["XTRIM", "t", "MINID", "~", "22-1"], ["XRANGE", "t", "-", "+", "COUNT", "1"],
    ["XTRIM", "t", "MINID", "=", "23"], ["XTRIM", "t", "MAXLEN", "=", "10"], ["XLEN", "t"],
    ["XTRIM", "t", "MAXLEN", "~", "1", "LIMIT", "100"], ["XLEN", "t"],
    ["XTRIM", "t", "MAXLEN", "100"], ["XTRIM", "t", "MINID", "0"], ["XTRIM", "t", "MINID", "0-0"],
    ["XTRIM", "t"], ["XTRIM", "t", "MAXLEN"], ["XTRIM", "t", "LIMIT", "10"],
    ["XTRIM", "t", "LIMIT", "10", "MAXLEN", "1"], ["XTRIM", "t", "MAXLEN", "1", "LIMIT", "10"],
    ["XTRIM", "t", "MAXLEN", "1", "FOO"], ["XTRIM", "t", "NOMKSTREAM", "MAXLEN", "1"],
    ["XTRIM", "t", "MAXLEN", "1", "MINID", "1"], ["XTRIM", "t", "MAXLEN", "-5"],
    ["XTRIM", "t", "MINID", "~", "+"], ["XTRIM", "missing", "MAXLEN", "0"],
    ["XTRIM", "missing", "MAXLEN", "-1"], ["XTRIM", "str", "MAXLEN", "0"], ["SET", "str", "x"],
    ["XTRIM", "str", "MAXLEN", "0"], ["XTRIM", "str", "MAXLEN", "bad"],
    ["XTRIM", "t", "MAXLEN", "0"], ["XLEN", "t"], ["EXISTS", "t"], ["XRANGE", "t", "-", "+"],
    ["XADD", "t", "50-1", "f", "v"], ["XADD", "t", "45-1", "f", "v"],
]


def test_xadd_and_xtrim_trimming(reference, ours):
    same(reference, ours, TRIM_SCRIPT)


def test_trimming_resp3(reference, ours):
    same(reference, ours, TRIM_SCRIPT, resp3=True, setups=(SMALL_NODES,))


def test_trimming_with_other_node_sizes(reference, ours):
    for entries, size in (("0", "200"), ("1", "4096"), ("5", "0"), ("7", "100")):
        setup = [["CONFIG", "SET", "stream-node-max-entries", entries],
                 ["CONFIG", "SET", "stream-node-max-bytes", size]]
        same(reference, ours, TRIM_SCRIPT, setups=(setup,))


# -- XRANGE / XREVRANGE -------------------------------------------------------------------------

RANGE_SCRIPT = [
    *[["XADD", "s", "%d-%d" % (ms, seq), "f", "%d.%d" % (ms, seq)]
      for ms in (1, 2, 5) for seq in (0, 1, 2)],
    ["XADD", "s", "9-" + ULLONG_MAX, "last", "x"],
    ["XRANGE", "s", "-", "+"], ["XREVRANGE", "s", "+", "-"],
    ["XRANGE", "s", "2", "2"], ["XRANGE", "s", "2", "5"], ["XREVRANGE", "s", "5", "2"],
    ["XRANGE", "s", "(2-1", "(5-1"], ["XREVRANGE", "s", "(5-1", "(2-1"],
    ["XRANGE", "s", "(2", "+"], ["XRANGE", "s", "-", "(2"], ["XRANGE", "s", "(1-2", "(2-0"],
    ["XRANGE", "s", "(-", "+"], ["XRANGE", "s", "-", "(+"], ["XRANGE", "s", "(", "+"],
    ["XRANGE", "s", "((1", "+"], ["XRANGE", "s", "(" + ULLONG_MAX + "-" + ULLONG_MAX, "+"],
    ["XRANGE", "s", "-", "(0-0"], ["XRANGE", "s", "-", "(0"], ["XRANGE", "s", "(0", "+", "COUNT", "2"],
    ["XRANGE", "s", "(9-" + ULLONG_MAX, "+"], ["XREVRANGE", "s", "(10-0", "(9"],
    ["XRANGE", "s", "5", "2"], ["XRANGE", "s", "+", "-"], ["XRANGE", "s", "-", "+", "COUNT", "0"],
    ["XRANGE", "s", "-", "+", "COUNT", "-5"], ["XRANGE", "s", "-", "+", "COUNT", "3"],
    ["XREVRANGE", "s", "+", "-", "COUNT", "4"], ["XRANGE", "s", "-", "+", "count", "1", "COUNT", "2"],
    ["XRANGE", "s", "-", "+", "COUNT"], ["XRANGE", "s", "-", "+", "COUNT", "x"],
    ["XRANGE", "s", "-", "+", "LIMIT", "1"], ["XRANGE", "s", "x", "+"], ["XRANGE", "s", "-", "x"],
    ["XRANGE", "s", "1-x", "+"], ["XRANGE", "s"], ["XRANGE", "s", "-"],
    ["XRANGE", "missing", "-", "+"], ["XRANGE", "missing", "-", "+", "COUNT", "0"],
    ["XRANGE", "missing", "x", "+"], ["SET", "str", "v"], ["XRANGE", "str", "-", "+"],
    ["XREVRANGE", "str", "+", "-"], ["XRANGE", "str", "x", "+"],
    ["XDEL", "s", "2-1", "5-0"], ["XRANGE", "s", "2", "5"], ["XREVRANGE", "s", "5", "2", "COUNT", "2"],
    ["XRANGE", "s", "2-1", "2-1"], ["XRANGE", "s", "2-2", "2-2"],
]


def test_xrange_and_xrevrange(reference, ours):
    same(reference, ours, RANGE_SCRIPT)


def test_ranges_resp3(reference, ours):
    same(reference, ours, RANGE_SCRIPT, resp3=True, setups=(SMALL_NODES,))


# -- XDEL and XSETID ----------------------------------------------------------------------------

DEL_SETID_SCRIPT = [
    *[["XADD", "s", "%d-1" % i, "f", str(i)] for i in range(1, 11)],
    ["XDEL", "s", "1-1"], ["XDEL", "s", "1-1"], ["XDEL", "s", "2-1", "2-1", "3-1", "99-1"],
    ["XDEL", "s", "5", "6-1"], ["XDEL", "s", "7-1", "bad"], ["XRANGE", "s", "-", "+"],
    ["XDEL", "s", "-"], ["XDEL", "s", "+"], ["XDEL", "missing", "1-1"], ["XDEL", "missing", "bad"],
    ["SET", "str", "x"], ["XDEL", "str", "1-1"], ["XDEL", "s"], ["XLEN", "s"],
    ["XDEL", "s", "4-1", "7-1", "8-1", "9-1", "10-1"], ["XLEN", "s"], ["EXISTS", "s"],
    ["XRANGE", "s", "-", "+"], ["XADD", "s", "10-1", "f", "v"], ["XADD", "s", "11-1", "f", "v"],
    ["XSETID", "s", "20-5"], ["XADD", "s", "20-5", "f", "v"], ["XADD", "s", "20-*", "f", "v"],
    ["XSETID", "s", "20-5"], ["XSETID", "s", "20-6"], ["XSETID", "s", "25"],
    ["XSETID", "s", "26-0", "ENTRIESADDED", "100", "MAXDELETEDID", "25-0"],
    ["XSETID", "s", "26-0", "ENTRIESADDED", "1"], ["XSETID", "s", "26-0", "ENTRIESADDED", "-1"],
    ["XSETID", "s", "26-0", "ENTRIESADDED", "x"], ["XSETID", "s", "26-0", "MAXDELETEDID", "27-0"],
    ["XSETID", "s", "26-0", "MAXDELETEDID", "bad"], ["XSETID", "s", "26-0", "MAXDELETEDID", "+"],
    ["XSETID", "s", "26-0", "ENTRIESADDED"], ["XSETID", "s", "26-0", "FOO", "1"],
    ["XSETID", "s", "-"], ["XSETID", "s", "+"], ["XSETID", "s", "bad"],
    ["XSETID", "missing", "1-1"], ["XSETID", "missing", "bad"], ["XSETID", "str", "1-1"],
    ["XSETID", "s", "0-1"], ["XDEL", "s", "10-1", "11-1", "20-6", "20-7"], ["XLEN", "s"],
    ["XSETID", "s", "0-1"], ["XADD", "s", "0-2", "f", "v"], ["XSETID", "s", "0-1"],
    ["XSETID", "s", "0-2", "ENTRIESADDED", "0"], ["XSETID", "s", "0-2", "ENTRIESADDED", "1"],
    ["XSETID", "s", "0-2", "MAXDELETEDID", "0-3"], ["XSETID", "s", "0-2", "MAXDELETEDID", "0-0"],
    ["XSETID", "s", ULLONG_MAX + "-" + ULLONG_MAX], ["XADD", "s", "*", "f", "v"],
    ["XADD", "s", "MAXLEN", "0", "*", "f", "v"], ["XLEN", "s"],
    ["XSETID", "s"],
]


def test_xdel_and_xsetid(reference, ours):
    same(reference, ours, DEL_SETID_SCRIPT)


def test_xdel_and_xsetid_resp3(reference, ours):
    same(reference, ours, DEL_SETID_SCRIPT, resp3=True, setups=(SMALL_NODES,))


# -- XREAD without blocking ---------------------------------------------------------------------

XREAD_SCRIPT = [
    *[["XADD", "a", "%d-1" % i, "f", "a%d" % i] for i in range(1, 8)],
    *[["XADD", "b", "%d-2" % i, "g", "b%d" % i] for i in range(3, 6)],
    ["XREAD", "STREAMS", "a", "0"], ["XREAD", "STREAMS", "a", "b", "0", "0"],
    ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "3", "3-2"], ["XREAD", "STREAMS", "a", "b", "$", "$"],
    ["XREAD", "STREAMS", "a", "missing", "b", "2", "0", "5-2"], ["XREAD", "STREAMS", "a", "7"],
    ["XREAD", "STREAMS", "a", "a", "5", "6"], ["XREAD", "COUNT", "0", "STREAMS", "a", "5"],
    ["XREAD", "COUNT", "-3", "STREAMS", "a", "5"], ["XREAD", "count", "1", "count", "2", "STREAMS", "a", "-"[:0] + "0"],
    ["XREAD", "STREAMS", "a", "-"], ["XREAD", "STREAMS", "a", "+"], ["XREAD", "STREAMS", "a", ">"],
    ["XREAD", "STREAMS", "a", "bad"], ["XREAD", "STREAMS", "a", "b", "0"], ["XREAD", "STREAMS", "a"],
    ["XREAD", "STREAMS"], ["XREAD", "COUNT", "1", "a", "0"], ["XREAD", "COUNT", "x", "STREAMS", "a", "0"],
    ["XREAD", "BLOCK", "x", "STREAMS", "a", "0"], ["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"],
    ["XREAD", "BLOCK", "100", "STREAMS", "a", "0"], ["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"],
    ["XREAD", "NOACK", "STREAMS", "a", "0"], ["XREAD", "FOO", "STREAMS", "a", "0"],
    ["XREAD", "STREAMS", "missing", "0"], ["XREAD", "STREAMS", "missing", "$"],
    ["SET", "str", "x"], ["XREAD", "STREAMS", "str", "0"], ["XREAD", "STREAMS", "a", "str", "0", "0"],
    ["XREAD", "STREAMS", "a", "str", "0", "bad"], ["XREAD", "STREAMS", "str", "bad"],
    ["XREAD", "STREAMS", "a", "7-1"], ["XREAD", "STREAMS", "a", "(5"],
    ["XREAD", "STREAMS", "a", "6-" + ULLONG_MAX], ["XREAD", "STREAMS", "a", ULLONG_MAX + "-" + ULLONG_MAX],
    ["XDEL", "a", "7-1"], ["XREAD", "STREAMS", "a", "6-1"], ["XREAD", "STREAMS", "a", "6"],
    ["XREAD", "COUNT", "1", "STREAMS", "STREAMS", "a", "0", "0"],
    ["MULTI"], ["XREAD", "BLOCK", "0", "STREAMS", "a", "$"], ["XREAD", "BLOCK", "0", "STREAMS", "a", "0"],
    ["XREAD", "BLOCK", "0", "STREAMS", "missing", "0"], ["EXEC"],
    ["EVAL", "return redis.call('xread', 'BLOCK', '0', 'STREAMS', 'a', '0')", "0"],
    ["EVAL", "return redis.pcall('XREAD', 'COUNT', 'x', 'BLOCK', '0', 'STREAMS', 'a', '0')", "0"],
    ["EVAL", "return redis.call('XREAD', 'COUNT', '1', 'STREAMS', 'a', '0')", "0"],
    ["EVAL", "return redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 2)", "1", "a"],
]


def test_xread_without_blocking(reference, ours):
    same(reference, ours, XREAD_SCRIPT)


def test_xread_resp3(reference, ours):
    same(reference, ours, XREAD_SCRIPT, resp3=True, setups=(SMALL_NODES,))


# -- the keyspace around streams ----------------------------------------------------------------

KEYSPACE_SCRIPT = [
    ["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "2-1", "g", "w"],
    ["TYPE", "s"], ["OBJECT", "ENCODING", "s"], ["SCAN", "0", "TYPE", "stream"],
    ["SET", "str", "x"], ["SCAN", "0", "TYPE", "string"], ["EXISTS", "s"],
    ["RENAME", "s", "t"], ["XRANGE", "t", "-", "+"], ["EXPIRE", "t", "100"], ["TTL", "t"],
    ["PERSIST", "t"], ["MOVE", "t", "1"], ["SELECT", "1"], ["XLEN", "t"], ["TYPE", "t"],
    ["MOVE", "t", "0"], ["SELECT", "0"], ["XADD", "t", "3-1", "h", "x"], ["XLEN", "t"],
    ["DEL", "t"], ["XLEN", "t"], ["XADD", "u", "1-1", "f", "v"], ["UNLINK", "u"], ["EXISTS", "u"],
    ["XADD", "w", "1-1", "f", "v"], ["SET", "w", "x"], ["TYPE", "w"], ["RENAMENX", "str", "w"],
    ["XADD", "z", "1-1", "f", "v"], ["SORT", "z"], ["LPUSH", "z", "a"], ["GET", "z"],
    ["DEBUG", "SLEEP", "0"],
]


def test_streams_in_the_keyspace(reference, ours):
    same(reference, ours, KEYSPACE_SCRIPT)


def test_xadd_with_a_generated_id(server):
    r = server.client()
    r.flushall()
    try:
        before = int(time.time() * 1000)
        first = r.xadd("s", {"f": "v"})
        second = r.xadd("s", {"f": "w"}, id="*")
        after = int(time.time() * 1000)
        ms, seq = (int(part) for part in first.split(b"-"))
        assert before <= ms <= after
        ms2, seq2 = (int(part) for part in second.split(b"-"))
        assert (ms2, seq2) > (ms, seq)
        # An explicit ID in the future: the clock never moves the stream backwards.
        future = b"%d-5" % (after + 100000)
        assert r.xadd("s", {"f": "x"}, id=future) == future
        assert r.xadd("s", {"f": "y"}) == b"%d-6" % (after + 100000)
        assert r.xadd("s", {"f": "z"}, id=b"%d-*" % (after + 100000)) == b"%d-7" % (after + 100000)
        assert r.xadd("s", {"f": "z"}, id=b"%d-*" % (after + 200000)) == b"%d-0" % (after + 200000)
        assert r.xlen("s") == 6
    finally:
        r.close()


# -- notifications --------------------------------------------------------------------------------

NOTIFY_SCRIPT = [
    ["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "2-1", "f", "v"], ["XADD", "s", "MAXLEN", "1", "3-1", "f", "v"],
    ["XADD", "s", "MAXLEN", "5", "4-1", "f", "v"], ["XDEL", "s", "1-1"], ["XDEL", "s", "3-1"],
    ["XTRIM", "s", "MAXLEN", "10"], ["XTRIM", "s", "MAXLEN", "0"], ["XSETID", "s", "10-1"],
    ["XADD", "n", "NOMKSTREAM", "1-1", "f", "v"], ["XADD", "s", "5-1", "f", "v"], ["XADD", "s", "1-1", "f", "v"],
    ["XRANGE", "s", "-", "+"], ["XREAD", "STREAMS", "s", "0"], ["DEL", "s"], ["SET", "end", "1"],
]


def _notifications(port, script):
    admin = RawConnection(port)
    sub = RawConnection(port)
    try:
        admin.command("FLUSHALL")
        admin.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.command("PSUBSCRIBE", "__key*__:*")
        for step in script:
            admin.command(*step)
        messages = []
        while True:
            message = sub.read_reply()
            messages.append(message)
            if b"__keyevent@0__:set" in message:
                return messages
    finally:
        admin.command("CONFIG", "SET", "notify-keyspace-events", "")
        admin.close()
        sub.close()


def test_keyspace_notifications(reference, ours):
    assert _notifications(ours.port, NOTIFY_SCRIPT) == _notifications(reference.port, NOTIFY_SCRIPT)


# -- propagation: the AOF each server writes -----------------------------------------------------

PROPAGATION_SCRIPT = [
    ["XADD", "s", "1-1", "f", "v"], ["XADD", "s", "1-*", "f", "v"], ["XADD", "s", "5-*", "f", "v"],
    *[["XADD", "s", "%d-0" % i, "f", "v", "g", str(i)] for i in range(6, 40)],
    ["XADD", "s", "MAXLEN", "~", "20", "40-*", "f", "v"], ["XADD", "s", "MAXLEN", "~", "20", "41-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "=", "30", "42-0", "f", "v"], ["XADD", "s", "MINID", "~", "30", "43-0", "f", "v"],
    ["XADD", "s", "MAXLEN", "~", "5", "LIMIT", "4", "44-0", "f", "v"],
    ["XTRIM", "s", "MAXLEN", "~", "10"], ["XTRIM", "s", "MAXLEN", "~", "1000"],
    ["XTRIM", "s", "MINID", "~", "35"], ["XTRIM", "s", "MAXLEN", "~", "2", "LIMIT", "3"],
    ["XTRIM", "s", "MAXLEN", "12"], ["XTRIM", "s", "MINID", "38"], ["XDEL", "s", "38-0", "99-0"],
    ["XDEL", "s", "99-0"], ["XSETID", "s", "50-0"], ["XSETID", "s", "50-0", "ENTRIESADDED", "90", "MAXDELETEDID", "49-0"],
    ["XADD", "s", "MAXLEN", "~", "0", "51-*", "f", "v"], ["XTRIM", "s", "MINID", "~", "60"],
    ["XREAD", "STREAMS", "s", "0"], ["XRANGE", "s", "-", "+"],
    ["XADD", "t", "MINID", "~", "0", "1-*", "f", "v"],
    ["SET", "end", "marker"],
]


def _incr_aof(srv):
    text = read_aof(srv, b"marker")
    assert text is not None
    start = text.find(b"*2\r\n$6\r\nSELECT")
    return text[start:]


def test_propagation_matches_redis(reference, start_server):
    theirs = ServerProcess(["--appendonly", "yes", "--aof-use-rdb-preamble", "no"], reference=True)
    try:
        mine = start_server("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
        for srv in (theirs, mine):
            conn = RawConnection(srv.port)
            for step in [["CONFIG", "SET", "stream-node-max-entries", "4"]] + PROPAGATION_SCRIPT:
                conn.command(*step)
            conn.close()
        assert _incr_aof(mine) == _incr_aof(theirs)
    finally:
        theirs.stop()


def test_generated_ids_propagate_as_replied(start_server):
    srv = start_server("--appendonly", "yes")
    r = srv.client()
    ids = [r.xadd("s", {"f": "v"}), r.xadd("s", {"f": "v"}, maxlen=1, approximate=True),
           r.xadd("s", {"f": "v"}, id="99999999999999-*")]
    r.set("end", "marker")
    r.close()
    text = read_aof(srv, b"marker")
    assert b"$1\r\n*\r\n" not in text
    for entry_id in ids:
        assert b"$%d\r\n%s\r\n" % (len(entry_id), entry_id) in text


def test_aof_replay_rebuilds_the_streams(start_server, tmp_path):
    srv = start_server("--appendonly", "yes", "--aof-use-rdb-preamble", "no", dir=tmp_path)
    r = srv.client()
    r.config_set("stream-node-max-entries", 3)
    for i in range(50):
        r.xadd("s", {"f": str(i)}, maxlen=20 if i % 3 else None, approximate=True)
    r.xtrim("s", minid=r.xrange("s", count=5)[-1][0], approximate=True, limit=3)
    r.xdel("s", r.xrange("s", count=2)[1][0])
    r.execute_command("XSETID", "s", "99999999999999-0")
    before = r.xrange("s")
    r.close()
    srv.stop()
    again = start_server("--appendonly", "yes", "--aof-use-rdb-preamble", "no", dir=tmp_path)
    r = again.client()
    try:
        assert r.xrange("s") == before
    finally:
        r.close()


# -- a seeded random sequence, reply by reply ------------------------------------------------------

def _random_script(seed, steps=400):
    rnd = random.Random(seed)
    keys = ["s1", "s1", "s1", "s2", "str"]
    last = {}
    script = []
    ids = []

    def some_id():
        if ids and rnd.random() < 0.7:
            ms, seq = rnd.choice(ids)
            return "%d-%d" % (ms, seq) if rnd.random() < 0.8 else str(ms)
        return "%d-%d" % (rnd.randint(0, 60), rnd.randint(0, 3))

    def bound():
        choice = rnd.random()
        if choice < 0.15:
            return "-"
        if choice < 0.3:
            return "+"
        text = some_id()
        return "(" + text if rnd.random() < 0.2 else text

    for _ in range(steps):
        key = rnd.choice(keys)
        op = rnd.random()
        if op < 0.45:
            ms = last.get(key, 0) + rnd.choice([0, 0, 1, 1, 2, -1])
            if rnd.random() < 0.3:
                entry = "%d-*" % max(ms, 0)
            else:
                entry = "%d-%d" % (max(ms, 0), rnd.randint(0, 3))
            last[key] = max(last.get(key, 0), ms)
            fields = [rnd.choice(["f", "g", "h", "123", ""]) for _ in range(rnd.choice([1, 1, 2, 3]))]
            argv = ["XADD", key]
            if rnd.random() < 0.15:
                argv.append("NOMKSTREAM")
            trim = rnd.random()
            if trim < 0.1:
                argv += ["MAXLEN", rnd.choice(["~", "=", "~"]), str(rnd.randint(0, 30))]
            elif trim < 0.15:
                argv += ["MINID", rnd.choice(["~", "="]), some_id()]
            elif trim < 0.18:
                argv += ["MAXLEN", "~", str(rnd.randint(0, 30)), "LIMIT", str(rnd.randint(0, 12))]
            argv.append(entry)
            for field in fields:
                argv += [field, rnd.choice(["v", "1", "-7", "x" * rnd.randint(0, 40)])]
            script.append(argv)
            ids.append((max(ms, 0), rnd.randint(0, 3)))
        elif op < 0.6:
            script.append(["XDEL", key] + [some_id() for _ in range(rnd.randint(1, 3))])
        elif op < 0.68:
            if rnd.random() < 0.5:
                script.append(["XTRIM", key, "MAXLEN", rnd.choice(["~", "="]), str(rnd.randint(0, 25))])
            else:
                script.append(["XTRIM", key, "MINID", rnd.choice(["~", "="]), some_id()])
        elif op < 0.8:
            argv = ["XRANGE", key, bound(), bound()]
            if rnd.random() < 0.5:
                argv += ["COUNT", str(rnd.randint(0, 6))]
            script.append(argv)
        elif op < 0.92:
            argv = ["XREVRANGE", key, bound(), bound()]
            if rnd.random() < 0.5:
                argv += ["COUNT", str(rnd.randint(0, 6))]
            script.append(argv)
        elif op < 0.96:
            script.append(["XREAD", "COUNT", str(rnd.randint(0, 4)), "STREAMS", key, "s2", some_id(), some_id()])
        elif op < 0.98:
            script.append(["XLEN", key])
        else:
            script.append(["XSETID", key, some_id()])
    script += [["XRANGE", "s1", "-", "+"], ["XRANGE", "s2", "-", "+"], ["XLEN", "s1"], ["XLEN", "s2"]]
    return script


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_sequences_match_redis(reference, ours, seed):
    script = [["SET", "str", "x"]] + _random_script(seed)
    same(reference, ours, script, setups=(
        [["CONFIG", "SET", "stream-node-max-entries", "3"], ["CONFIG", "SET", "stream-node-max-bytes", "4096"]],
        [["CONFIG", "SET", "stream-node-max-entries", "5"], ["CONFIG", "SET", "stream-node-max-bytes", "100"]],
        DEFAULT_NODES))


# -- blocking XREAD ----------------------------------------------------------------------------------

def _blocked_clients(conn):
    text = conn.command("INFO", "clients")
    return int(re.search(rb"blocked_clients:(\d+)", text).group(1))


def _wait_blocked(conn, n):
    deadline = time.monotonic() + 10
    while _blocked_clients(conn) != n:
        assert time.monotonic() < deadline, "clients never blocked"
        time.sleep(0.005)


def blocking_session(target, setup, waiters, writes, resp3=False):
    """Run setup, start each waiter on its own connection and wait until it blocks, run the
    writes on another, then read what each waiter got; "WAIT-BLOCKED" in writes records how
    many clients are still blocked. Returns every reply in order."""
    admin = RawConnection(target.port)
    watcher = RawConnection(target.port)
    conns = []
    try:
        admin.command("FLUSHALL")
        for step in setup:
            admin.command(*step)
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
        return replies
    finally:
        for conn in conns + [admin, watcher]:
            conn.close()


BLOCKING_SCENARIOS = {
    "served-by-xadd": ([], [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]],
                       [["XADD", "s", "1-1", "f", "v"], ["XLEN", "s"]]),
    "dollar-is-the-last-id-then": ([["XADD", "s", "5-1", "old", "1"]],
                                   [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]],
                                   [["XADD", "s", "6-1", "new", "1"]]),
    "several-keys-first-written": ([], [["XREAD", "BLOCK", "5000", "STREAMS", "a", "b", "c", "$", "$", "$"]],
                                   [["XADD", "c", "1-1", "f", "v"], ["XADD", "b", "1-1", "f", "v"]]),
    "served-in-blocking-order": ([["XADD", "s", "1-1", "f", "v"]],
                                 [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
                                  ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "1-1"],
                                  ["XREAD", "BLOCK", "0", "STREAMS", "s", "2-5"]],
                                 [["MULTI"], ["XADD", "s", "2-1", "a", "1"], ["XADD", "s", "2-2", "b", "2"],
                                  ["EXEC"], "WAIT-BLOCKED", ["XADD", "s", "3-1", "c", "3"]]),
    "older-entries-do-not-wake": ([["XADD", "s", "1-1", "f", "v"]],
                                  [["XREAD", "BLOCK", "0", "STREAMS", "s", "10-0"]],
                                  [["XADD", "s", "5-1", "f", "v"], "WAIT-BLOCKED", ["XADD", "s", "10-1", "f", "w"]]),
    "del-and-other-types-do-not-wake": ([["XADD", "s", "5-1", "f", "v"]],
                                        [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]],
                                        [["DEL", "s"], "WAIT-BLOCKED", ["LPUSH", "s", "x"], "WAIT-BLOCKED",
                                         ["DEL", "s"], ["SET", "s", "x"], "WAIT-BLOCKED", ["DEL", "s"],
                                         ["XADD", "s", "2-1", "f", "v"], "WAIT-BLOCKED",
                                         ["XADD", "s", "6-1", "f", "v"]]),
    "xadd-and-del-in-multi": ([], [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]],
                              [["MULTI"], ["XADD", "s", "1-1", "f", "v"], ["DEL", "s"], ["EXEC"], "WAIT-BLOCKED",
                               ["MULTI"], ["XADD", "s", "2-1", "f", "v"], ["XDEL", "s", "2-1"], ["EXEC"]]),
    "count-bounds-what-a-waiter-gets": ([["XADD", "s", "1-1", "f", "v"]],
                                        [["XREAD", "COUNT", "2", "BLOCK", "0", "STREAMS", "s", "0"[:0] + "1-1"]],
                                        [["MULTI"], *[["XADD", "s", "2-%d" % i, "f", "v"] for i in range(5)],
                                         ["EXEC"]]),
    "same-key-twice": ([], [["XREAD", "BLOCK", "0", "STREAMS", "s", "s", "$", "0"]],
                       [["XADD", "s", "1-1", "f", "v"]]),
    "served-by-rename-and-copy": ([["XADD", "src", "5-1", "f", "v"], ["XADD", "other", "7-1", "g", "w"]],
                                  [["XREAD", "BLOCK", "0", "STREAMS", "dst", "$"],
                                   ["XREAD", "BLOCK", "0", "STREAMS", "copy", "4"]],
                                  [["RENAME", "src", "dst"], ["COPY", "other", "copy"]]),
    "served-by-swapdb": ([["SELECT", "1"], ["XADD", "s", "3-1", "f", "v"], ["SELECT", "0"]],
                         [["XREAD", "BLOCK", "0", "STREAMS", "s", "1"]],
                         [["SWAPDB", "0", "1"]]),
    "xsetid-does-not-serve": ([["XADD", "s", "1-1", "f", "v"]],
                                          [["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]],
                                          [["XSETID", "s", "5-0"], "WAIT-BLOCKED", ["XDEL", "s", "1-1"],
                                           "WAIT-BLOCKED", ["XADD", "s", "6-0", "g", "w"]]),
}


@pytest.mark.parametrize("resp3", [False, True])
@pytest.mark.parametrize("scenario", sorted(BLOCKING_SCENARIOS))
def test_blocked_xread_served_as_redis_serves_it(reference, ours, scenario, resp3):
    setup, waiters, writes = BLOCKING_SCENARIOS[scenario]
    want = blocking_session(reference, setup, waiters, writes, resp3)
    got = blocking_session(ours, setup, waiters, writes, resp3)
    assert got == want


@pytest.mark.parametrize("resp3", [False, True])
def test_xread_block_times_out(reference, ours, resp3):
    for srv in (reference, ours):
        conn = RawConnection(srv.port)
        try:
            if resp3:
                conn.command("HELLO", "3")
            started = time.monotonic()
            reply = conn.command("XREAD", "BLOCK", "150", "STREAMS", "missing", "$")
            elapsed = time.monotonic() - started
            assert reply == (b"_\r\n" if resp3 else b"*-1\r\n")
            assert 0.14 <= elapsed < 2.0
        finally:
            conn.close()


def test_client_unblock_and_stats(reference, ours):
    def session(srv):
        admin = RawConnection(srv.port)
        waiter = RawConnection(srv.port)
        try:
            admin.command("FLUSHALL")
            admin.command("CONFIG", "RESETSTAT")
            waiter_id = int(waiter.command("CLIENT", "ID")[1:-2])
            out = []
            waiter.send(encode_command(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
            _wait_blocked(admin, 1)
            out.append(admin.command("CLIENT", "UNBLOCK", str(waiter_id)))
            out.append(waiter.read_reply())
            waiter.send(encode_command(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]))
            _wait_blocked(admin, 1)
            out.append(admin.command("CLIENT", "UNBLOCK", str(waiter_id), "ERROR"))
            out.append(waiter.read_reply())
            out.append(admin.command("CLIENT", "UNBLOCK", str(waiter_id)))
            stats = admin.command("INFO", "commandstats")
            out.append(re.search(rb"cmdstat_xread:calls=(\d+).*failed_calls=(\d+)", stats).groups())
            return out
        finally:
            admin.close()
            waiter.close()
    assert session(ours) == session(reference)


def test_blocked_xread_with_concurrent_writers(server):
    """Many readers blocked at once, writers on other connections: every reader gets the
    first entry added after it blocked, none is lost or served twice."""
    admin = server.client()
    admin.flushall()
    readers = 8
    results = [None] * readers

    def read(i):
        r = server.client()
        try:
            results[i] = r.xread({"s": "$"}, block=10000)
        finally:
            r.close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while admin.info("clients")["blocked_clients"] < readers:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    first = admin.xadd("s", {"n": "1"})
    admin.xadd("s", {"n": "2"})
    for t in threads:
        t.join(15)
        assert not t.is_alive()
    for got in results:
        assert got == [[b"s", [(first, {b"n": b"1"})]]]
    assert admin.info("clients")["blocked_clients"] == 0
    admin.close()


def test_xread_blocked_in_a_script_is_an_error(reference, ours):
    script = [["XADD", "s", "1-1", "f", "v"],
              ["EVAL", "return redis.pcall('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')", "0"],
              ["EVAL", "return redis.pcall('xread', 'COUNT', '1', 'BLOCK', '10', 'STREAMS', 's', '0')", "0"],
              ["EVAL", "return redis.pcall('XREAD', 'COUNT', '1', 'STREAMS', 's', '$')", "0"]]
    same(reference, ours, script, setups=([],))


# -- the native listpack size sum against its pure twin -------------------------------------------

def test_native_items_size_matches_the_pure_one():
    """XADD measures what it appends as a listpack would (the node split rule reads it): the
    native sum and the pure one agree on every kind of element (node walking itself is
    pinned in test_stream_nodes.py)."""
    streamnode = pytest.importorskip("native.streamnode")
    from server.values import streams as values
    rnd = random.Random(7)
    samples = [b"", b"0", b"-0", b"00", b"1", b"-1", b"127", b"128", b"-4097", b"4096", b"32768",
               b"-8388609", b"2147483648", b"9223372036854775807", b"9223372036854775808",
               b"-9223372036854775808", b"-9223372036854775809", b"12a", b" 1", b"+1",
               b"x" * 63, b"x" * 64, b"x" * 127, b"x" * 4096, b"1" * 21]
    samples += [str(rnd.randint(-2**65, 2**65)).encode() for _ in range(2000)]
    for sample in samples:
        assert streamnode.items_size([sample]) == values._pure_items_size([sample]), sample
    assert streamnode.items_size(samples) == values._pure_items_size(samples)


def test_native_entries_reply_matches_the_pure_one():
    streamnode = pytest.importorskip("native.streamnode")
    from server.commands import streams as commands
    rnd = random.Random(3)
    for _ in range(300):
        entries = []
        for _ in range(rnd.randint(0, 12)):
            entry_id = rnd.choice([0, rnd.randint(0, 2**128 - 1), (2**64 - 1) << 64 | (2**64 - 1),
                                   rnd.randint(0, 10**6) << 64 | rnd.randint(0, 5)])
            flat = [bytes(rnd.randint(0, 255) for _ in range(rnd.choice([0, 1, 5, 70, 300])))
                    for _ in range(2 * rnd.randint(0, 4))]
            entries.append((entry_id, flat))
        assert streamnode.entries_reply(entries) == commands._entries_reply(entries)


def test_native_append_entry_matches_the_pure_one():
    """XADD's append: same bytes and same listpack size added, for entries with the node's
    fields or others, numeric and plain values, negative sequence deltas."""
    streamnode = pytest.importorskip("native.streamnode")
    from server.values import packlist, streams as values
    rnd = random.Random(11)
    values_pool = [b"", b"0", b"-1", b"123", b"x" * 70, b"9223372036854775808", b"v", b"\x00"]
    for _ in range(500):
        fields = tuple(rnd.choice([b"f", b"g", b"12", b""]) for _ in range(rnd.randint(1, 3)))
        master = values.make_id(rnd.randint(0, 2**40), rnd.randint(0, 2**64 - 1))
        body = packlist.pack([b"%d" % len(fields)] + list(fields) + [b"0"])
        for _ in range(rnd.randint(1, 6)):
            if rnd.random() < 0.6:
                names = list(fields)
            else:
                names = [rnd.choice([b"f", b"h", b"7"]) for _ in range(rnd.randint(1, 4))]
            flat = []
            for name in names:
                flat += [name, rnd.choice(values_pool)]
            entry_id = values.make_id((master >> 64) + rnd.randint(0, 2**33), rnd.randint(0, 2**64 - 1))
            native = streamnode.append_entry(body, master, fields, entry_id, flat)
            pure = values._pure_append_entry(body, master, fields, entry_id, flat)
            assert native == pure
            body = native[0]

"""The common shapes of the benchmarked commands take shortcuts (one element, one
field, one pair, no flags, plain-digit numbers): against Debian's redis-server
7.0.15 they must give the same replies, encodings, errors, dirty counts,
keyspace hit/miss counts and WATCH / blocking wake-ups as the general paths do.

Every differential test runs on both twins (native and PYREDIS_PURE=1).
"""
import time

import pytest

from differential import assert_same, needs, ours, pure_server  # noqa: F401 (fixtures)
from harness import RawConnection, encode_command, wait_blocked

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"
BINARY = b"\x00\xff\r\n\x01 bin"
LONG = "v" * 65                   # one byte past the listpack value limits


def both_resps(reference, ours, script):
    return assert_same(reference, ours, script) + assert_same(reference, ours, script, resp3=True)


# -- strings ---------------------------------------------------------------------------

SET_GET_MSET = [
    ["SET", "k", "v"], ["GET", "k"], ["SET", "k", BINARY], ["GET", "k"], ["SET", "k", ""],
    ["GET", "k"], ["STRLEN", "k"], ["GET", "missing"],
    ["SET", "t", "1", "EX", "1000"], ["SET", "t", "2"], ["TTL", "t"], ["GET", "t"],
    ["RPUSH", "list", "a"], ["GET", "list"], ["SET", "list", "now a string"], ["TYPE", "list"],
    ["MSET", "a", "1", "b", "2", "a", "3"], ["MGET", "a", "b"],
    ["EXPIRE", "a", "1000"], ["MSET", "a", "4", "c", "5"], ["TTL", "a"], ["MGET", "a", "c"],
    ["SADD", "set", "m"], ["MSET", "set", "x"], ["TYPE", "set"],
    ["MSET", "a"], ["MSET", "a", "1", "b"], ["MSET"], ["SET", "k"],
    ["MSET", "n", "123", "s", "abc"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "ENCODING", "s"],
    ["DBSIZE"],
]


def test_set_get_mset(reference, ours):
    both_resps(reference, ours, SET_GET_MSET)


# Stored strings INCR must read exactly as Redis's string2ll does.
COUNTER_VALUES = ["0", "7", "012", "00", "-0", "-1", "-012", " 1", "1 ", "+1", "1_0", "", "abc",
                  "1.5", "1e3", "0x10", "999999999999999999", "1000000000000000000",
                  "9223372036854775806", LLONG_MAX, "9223372036854775808", LLONG_MIN,
                  "-9223372036854775809", "99999999999999999999", "123456789012345678901",
                  "\u0663".encode("utf-8"), b"1\x00", "18446744073709551616"]


def test_incr_reads_stored_strings_as_redis(reference, ours):
    script = []
    for n, stored in enumerate(COUNTER_VALUES):
        key = "c%d" % n
        script += [["SET", key, stored], ["INCR", key], ["GET", key], ["DECR", key],
                   ["INCRBY", key, "5"], ["DECRBY", key, "-5"], ["OBJECT", "ENCODING", key]]
    both_resps(reference, ours, script)


COUNTERS = [
    ["INCR", "new"], ["GET", "new"], ["DECR", "new2"], ["INCRBY", "new3", "-7"],
    ["DECRBY", "new4", LLONG_MIN], ["DECRBY", "new4", "9"], ["GET", "new4"],
    ["INCRBY", "new5", LLONG_MAX], ["INCR", "new5"], ["GET", "new5"],
    ["SET", "low", LLONG_MIN], ["DECR", "low"], ["INCR", "low"], ["GET", "low"],
    ["SET", "ttl", "41", "EX", "1000"], ["INCR", "ttl"], ["TTL", "ttl"], ["GET", "ttl"],
    ["APPEND", "grown", "1"], ["APPEND", "grown", "2"], ["OBJECT", "ENCODING", "grown"],
    ["INCR", "grown"], ["GET", "grown"], ["OBJECT", "ENCODING", "grown"],
    ["SETRANGE", "patched", "0", "99"], ["INCR", "patched"], ["GET", "patched"],
    ["APPEND", "spaced", " 5"], ["INCR", "spaced"],
    ["LPUSH", "l", "1"], ["INCR", "l"], ["DECR", "l"], ["INCRBY", "l", "1"],
    ["INCRBY", "x", "1.5"], ["INCRBY", "x", "00"], ["INCRBY", "x", "-0"], ["INCRBY", "x", "+1"],
    ["INCRBY", "x", "9223372036854775808"], ["INCRBY", "x", ""], ["INCR"], ["INCR", "a", "b"],
    ["INCRBY", "x", "012"], ["INCRBY", "x", "12"], ["GET", "x"],
]


def test_incr_family(reference, ours):
    both_resps(reference, ours, COUNTERS)


# -- lists ---------------------------------------------------------------------------------

def one_at_a_time(command, key, count):
    return [[command, key, "e%d" % i] for i in range(count)]


LIST_ONE_ELEMENT = (
    one_at_a_time("LPUSH", "l", 40) + [["LRANGE", "l", "0", "-1"], ["LLEN", "l"]]
    + one_at_a_time("RPUSH", "l", 40) + [["LRANGE", "l", "0", "-1"]]
    + [["LPOP", "l"], ["RPOP", "l"]] * 30 + [["LRANGE", "l", "0", "-1"]]
    + one_at_a_time("LPUSH", "l", 20) + [["LRANGE", "l", "0", "-1"]]
    + [["LPOP", "l"]] * 35 + [["LRANGE", "l", "0", "-1"], ["EXISTS", "l"]]
    + [["RPOP", "l"]] * 5 + [["EXISTS", "l"], ["LPOP", "l"], ["RPOP", "l"]]
    + [["RPUSH", "q", "only"], ["LPOP", "q"], ["EXISTS", "q"], ["LPUSH", "q", "only"],
       ["RPOP", "q"], ["EXISTS", "q"], ["RPUSH", "b", BINARY], ["LPUSH", "b", ""],
       ["LRANGE", "b", "0", "-1"], ["LPOP", "b"], ["RPOP", "b"],
       ["SET", "s", "x"], ["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPOP", "s"], ["RPOP", "s"],
       ["LPUSHX", "none", "a"], ["RPUSHX", "none", "a"], ["RPUSH", "p", "1"], ["LPUSHX", "p", "0"],
       ["RPUSHX", "p", "2"], ["LRANGE", "p", "0", "-1"],
       ["LPOP", "p", "0"], ["LPOP", "p", "2"], ["RPOP", "p", "5"], ["LPOP", "p", "1"],
       ["LPOP", "p", "-1"], ["LPOP", "p", "x"], ["LPOP", "p", "1", "2"], ["LPOP"],
       ["RPUSH", "ttl", "a", "b"], ["EXPIRE", "ttl", "1000"], ["LPUSH", "ttl", "c"], ["RPOP", "ttl"],
       ["TTL", "ttl"], ["OBJECT", "ENCODING", "ttl"]]
)


def test_single_element_pushes_and_pops(reference, ours):
    both_resps(reference, ours, LIST_ONE_ELEMENT)


RANGE_BOUNDS = ["0", "1", "99", "-1", "-100", "-600", "-601", "599", "600", "1000", "00", "01",
                "-0", "+1", " 1", "1 ", "", "x", "999999999999999999", "1000000000000000000",
                LLONG_MAX, LLONG_MIN, "9223372036854775808", "-9223372036854775809"]


def test_lrange_bounds(reference, ours):
    script = [["RPUSH", "l"] + ["x%d" % i for i in range(600)], ["RPUSH", "short", "a", "b", "c"]]
    for start in RANGE_BOUNDS:
        for end in ("0", "99", "-1", "-5", LLONG_MAX, "00"):
            script.append(["LRANGE", "l", start, end])
    for start, end in (("0", "-1"), ("1", "1"), ("2", "1"), ("-2", "-1"), ("-10", "10"), ("3", "3")):
        script += [["LRANGE", "short", start, end], ["LRANGE", "missing", start, end]]
    script += [["SET", "str", "v"], ["LRANGE", "str", "0", "-1"], ["LRANGE", "str", "x", "1"],
               ["LRANGE", "missing", "x", "1"], ["LRANGE", "l", "0"]]
    # After pops and pushes at the head the range still counts from the head.
    script += [["LPOP", "l"], ["LPOP", "l"], ["LPUSH", "l", "h"], ["LRANGE", "l", "0", "4"],
               ["LRANGE", "l", "-3", "-1"]]
    both_resps(reference, ours, script)


# -- hashes ----------------------------------------------------------------------------------

HSET_ONE_FIELD = (
    [["HSET", "h", "f", "v"], ["HSET", "h", "f", "v"], ["HSET", "h", "f", "w"], ["HGET", "h", "f"],
     ["HSET", "h", "g", BINARY], ["HSET", "h", "", ""], ["HGETALL", "h"],
     ["OBJECT", "ENCODING", "h"],
     ["HSET", "h", "f", LONG], ["OBJECT", "ENCODING", "h"], ["HGET", "h", "f"], ["HLEN", "h"],
     ["HSET", "h2", LONG, "v"], ["OBJECT", "ENCODING", "h2"],
     ["HSET", "h3", "a", "v" * 64], ["OBJECT", "ENCODING", "h3"],
     ["HSET", "h", "f"], ["HSET", "h", "f", "v", "g"], ["HSET", "h"],
     ["SET", "str", "x"], ["HSET", "str", "f", "v"],
     ["HSETNX", "h4", "f", "1"], ["HSETNX", "h4", "f", "2"], ["HINCRBY", "h4", "f", "5"],
     ["HINCRBY", "h4", "n", "-5"], ["HINCRBYFLOAT", "h4", "fl", "1.5"], ["HGETALL", "h4"],
     ["HSETNX", "h5", "f", LONG], ["OBJECT", "ENCODING", "h5"],
     ["HINCRBY", "h6", "f" * 65, "1"], ["OBJECT", "ENCODING", "h6"],
     ["HSET", "ttl", "f", "v"], ["EXPIRE", "ttl", "1000"], ["HSET", "ttl", "g", "w"],
     ["TTL", "ttl"]]
    + [["HSET", "big", "f%d" % i, "v"] for i in range(129)]
    + [["OBJECT", "ENCODING", "big"], ["HLEN", "big"], ["HSET", "big", "f0", "w"],
       ["HGET", "big", "f0"], ["HSET", "edge", "x", "y"]]
    + [["HSET", "edge", "f%d" % i, "v"] for i in range(127)]
    + [["OBJECT", "ENCODING", "edge"], ["HSET", "edge", "f0", "again"], ["OBJECT", "ENCODING", "edge"],
       ["HSET", "edge", "one-more", "v"], ["OBJECT", "ENCODING", "edge"], ["HLEN", "edge"]]
)


def test_hset_one_field(reference, ours):
    both_resps(reference, ours, HSET_ONE_FIELD)


# -- sets --------------------------------------------------------------------------------------

SADD_ONE = (
    [["SADD", "s", "m"], ["SADD", "s", "m"], ["SADD", "s", BINARY], ["SADD", "s", ""],
     ["SCARD", "s"], ["SISMEMBER", "s", ""], ["OBJECT", "ENCODING", "s"],
     ["SADD", "i", "3"], ["SADD", "i", "1"], ["SADD", "i", "-2"], ["SADD", "i", "1"],
     ["OBJECT", "ENCODING", "i"], ["SMEMBERS", "i"], ["SADD", "i", "01"], ["OBJECT", "ENCODING", "i"],
     ["SADD", "j", LLONG_MAX], ["SADD", "j", LLONG_MIN], ["OBJECT", "ENCODING", "j"],
     ["SADD", "j", "9223372036854775808"], ["OBJECT", "ENCODING", "j"],
     ["SADD", "s"], ["SET", "str", "x"], ["SADD", "str", "m"],
     ["SADD", "ttl", "m"], ["EXPIRE", "ttl", "1000"], ["SADD", "ttl", "n"], ["TTL", "ttl"]]
    + [["SADD", "many", str(i)] for i in range(513)]
    + [["OBJECT", "ENCODING", "many"], ["SCARD", "many"]]
    + [["SADD", "packed", "m%d" % i] for i in range(130)]
    + [["OBJECT", "ENCODING", "packed"], ["SCARD", "packed"], ["SADD", "packed", "m0"],
       ["SADD", "packed", "x" * 70], ["SISMEMBER", "packed", "x" * 70], ["SCARD", "packed"]]
)


def test_sadd_one_member(reference, ours):
    both_resps(reference, ours, SADD_ONE)


SPOP_ONE = [
    ["SADD", "s", "only"], ["SPOP", "s"], ["EXISTS", "s"], ["SPOP", "s"],
    ["SADD", "i", "42"], ["SPOP", "i"], ["EXISTS", "i"],
    ["SADD", "b", BINARY], ["SPOP", "b"], ["SPOP", "b"],
    ["SET", "str", "x"], ["SPOP", "str"], ["SPOP"], ["SPOP", "s", "1", "2"],
    ["SADD", "two", "a", "b"], ["SPOP", "two", "0"], ["SCARD", "two"],
    ["SADD", "ttl", "1", "2"], ["EXPIRE", "ttl", "1000"], ["SPOP", "ttl", "2"], ["EXISTS", "ttl"],
]


def test_spop_without_count(reference, ours):
    both_resps(reference, ours, SPOP_ONE)


def test_spop_drains_every_encoding(ours):
    """Each member comes out exactly once, whatever the set's encoding, then the key is gone."""
    conn = RawConnection(ours.port)
    try:
        conn.command("FLUSHALL")
        for key, members in (("ints", [b"%d" % i for i in range(100)]),
                             ("packed", [b"m%d" % i for i in range(100)]),
                             ("table", [b"m%d" % i for i in range(1000)])):
            conn.command("SADD", key, *members)
            popped = [conn.command("SPOP", key) for _ in members]
            assert sorted(popped) == sorted(b"$%d\r\n%s\r\n" % (len(m), m) for m in members)
            assert conn.command("EXISTS", key) == b":0\r\n"
            assert conn.command("SPOP", key) == b"$-1\r\n"
    finally:
        conn.close()


def test_spop_picks_uniformly(ours):
    """Over many draws from a 4-member set, each member is the first popped about as often."""
    conn = RawConnection(ours.port)
    counts = {}
    try:
        conn.command("FLUSHALL")
        for _ in range(2000):
            conn.send(encode_command(["SADD", "s", "a", "b", "c", "d"]) + encode_command(["SPOP", "s"])
                      + encode_command(["DEL", "s"]))
            conn.read_reply()
            first = conn.read_reply()
            conn.read_reply()
            counts[first] = counts.get(first, 0) + 1
    finally:
        conn.close()
    assert len(counts) == 4
    assert all(400 <= n <= 600 for n in counts.values()), counts


# -- sorted sets -----------------------------------------------------------------------------

ZADD_ONE_PAIR = (
    [["ZADD", "z", "0", "m"], ["ZADD", "z", "0", "m"], ["ZADD", "z", "5", "m"], ["ZSCORE", "z", "m"],
     ["ZADD", "z", "1", "a"], ["ZADD", "z", "007", "b"], ["ZADD", "z", "00", "c"],
     ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "z"],
     ["ZADD", "z", "123456789012345", "big"], ["ZADD", "z", "1234567890123456", "bigger"],
     ["ZADD", "z", "99999999999999999999", "huge"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
     ["ZADD", "z", "1", "nx"], ["ZADD", "z", "nx", "1"], ["ZADD", "z", "xx", "1"],
     ["ZADD", "z", "1", BINARY], ["ZADD", "z", "2", ""], ["ZSCORE", "z", ""],
     ["ZADD", "z", "1", LONG], ["OBJECT", "ENCODING", "z"], ["ZSCORE", "z", LONG],
     ["ZADD", "z", "3", LONG], ["ZRANK", "z", LONG], ["ZADD", "z", "3", LONG],
     ["ZADD", "z", "1"], ["ZADD", "z"], ["ZADD", "z", "1", "a", "2"],
     ["ZADD", "z", "-1", "neg"], ["ZADD", "z", "1.5", "frac"], ["ZADD", "z", "1e2", "exp"],
     ["ZADD", "z", " 1", "sp"], ["ZADD", "z", "1 ", "sp"], ["ZADD", "z", "+1", "plus"],
     ["ZADD", "z", "inf", "inf"], ["ZADD", "z", "nan", "nan"], ["ZADD", "z", "", "empty"],
     ["ZADD", "z", "1_0", "under"], ["ZADD", "z", "\u0663".encode("utf-8"), "arabic"],
     ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
     ["SET", "str", "x"], ["ZADD", "str", "1", "m"],
     ["ZADD", "ttl", "1", "m"], ["EXPIRE", "ttl", "1000"], ["ZADD", "ttl", "2", "n"], ["TTL", "ttl"],
     ["ZINCRBY", "zi", "5", "m"], ["ZINCRBY", "zi", "05", "m"], ["ZINCRBY", "zi", "nx", "m"],
     ["ZADD", "zi", "INCR", "3", "m"], ["ZADD", "zi", "GT", "1", "m"], ["ZADD", "zi", "CH", "1", "m"],
     ["ZRANGE", "zi", "0", "-1", "WITHSCORES"]]
    + [["ZADD", "many", str(i % 7), "m%d" % i] for i in range(129)]
    + [["OBJECT", "ENCODING", "many"], ["ZCARD", "many"], ["ZADD", "many", "3", "m0"],
       ["ZRANGE", "many", "0", "9", "WITHSCORES"], ["ZRANK", "many", "m0"]]
)


def test_zadd_one_pair(reference, ours):
    both_resps(reference, ours, ZADD_ONE_PAIR)


# -- what the shortcuts must keep doing: dirty counts, hits and misses, WATCH, wake-ups -------

STAT_FIELDS = (b"rdb_changes_since_last_save", b"keyspace_hits", b"keyspace_misses",
               b"expired_keys")

COUNTED_SCRIPT = [
    ["SET", "k", "v"], ["SET", "k", "v"], ["GET", "k"], ["GET", "nope"], ["MSET", "a", "1", "b", "2"],
    ["INCR", "a"], ["INCR", "fresh"], ["INCR", "k"], ["DECR", "a"], ["INCRBY", "a", "0"],
    ["LPUSH", "l", "x"], ["RPUSH", "l", "y"], ["LPUSH", "l", "p", "q"], ["LPOP", "l"], ["RPOP", "l"],
    ["LPOP", "none"], ["LRANGE", "l", "0", "99"], ["LRANGE", "none", "0", "99"],
    ["RPOP", "l"], ["RPOP", "l"], ["RPOP", "l"],
    ["SADD", "s", "m"], ["SADD", "s", "m"], ["SPOP", "s"], ["SPOP", "s"],
    ["HSET", "h", "f", "v"], ["HSET", "h", "f", "v"], ["HSET", "h", "f", "w"], ["HSET", "h", "g", "1"],
    ["ZADD", "z", "0", "m"], ["ZADD", "z", "0", "m"], ["ZADD", "z", "1", "m"], ["ZADD", "z", "1", "n"],
    ["SET", "str", "x"], ["LPUSH", "str", "x"], ["SADD", "str", "x"], ["HSET", "str", "f", "v"],
    ["ZADD", "str", "1", "m"], ["INCR", "str"],
]


def counters(conn):
    info = conn.command("INFO", "all")
    values = {}
    for line in info.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name in STAT_FIELDS:
            values[name] = int(value)
    assert set(values) == set(STAT_FIELDS), info
    return values


def counted_deltas(srv, script):
    conn = RawConnection(srv.port)
    try:
        conn.command("FLUSHALL")
        before = counters(conn)
        for step in script:
            conn.command(*step)
        after = counters(conn)
        return {name: after[name] - before[name] for name in STAT_FIELDS}
    finally:
        conn.close()


def test_dirty_and_keyspace_counts(reference, ours):
    assert counted_deltas(ours, COUNTED_SCRIPT) == counted_deltas(reference, COUNTED_SCRIPT)


# (set-up, command on the watched key): does EXEC still run after the command?
WATCHED = [
    ([], ["SET", "w", "v"]), ([], ["MSET", "x", "1", "w", "2"]), ([["SET", "w", "1"]], ["MSET", "w", "2"]),
    ([["SET", "w", "1"]], ["INCR", "w"]),
    ([], ["INCR", "w"]), ([["SET", "w", "x"]], ["INCR", "w"]), ([], ["LPUSH", "w", "a"]),
    ([["RPUSH", "w", "a"]], ["RPUSH", "w", "b"]), ([["RPUSH", "w", "a", "b"]], ["LPOP", "w"]),
    ([["RPUSH", "w", "a"]], ["RPOP", "w"]), ([], ["LPOP", "w"]), ([["SADD", "w", "m"]], ["SADD", "w", "m"]),
    ([["SADD", "w", "m"]], ["SADD", "w", "n"]), ([["SADD", "w", "m"]], ["SPOP", "w"]),
    ([], ["SPOP", "w"]),
    ([["HSET", "w", "f", "v"]], ["HSET", "w", "f", "v"]), ([], ["HSET", "w", "f", "v"]),
    ([["ZADD", "w", "0", "m"]], ["ZADD", "w", "0", "m"]), ([["ZADD", "w", "0", "m"]], ["ZADD", "w", "1", "m"]),
    ([["ZADD", "w", "0", "m"]], ["ZADD", "w", "0", "n"]), ([], ["GET", "w"]), ([], ["LRANGE", "w", "0", "9"]),
]


def test_watch_sees_the_shortcut_writes(reference, ours):
    script = []
    for setup, step in WATCHED:
        script += [["DEL", "w"]] + setup + [["WATCH", "w"], step, ["MULTI"], ["PING"], ["EXEC"]]
    both_resps(reference, ours, script)


def test_watch_sees_spop_leaving_members(ours):
    conn = RawConnection(ours.port)
    try:
        conn.command("FLUSHALL")
        for members in (["1", "2", "3"], ["a", "b", "c"], ["m%d" % i for i in range(200)]):
            conn.command("DEL", "w")
            conn.command("SADD", "w", *members)
            assert conn.command("WATCH", "w") == b"+OK\r\n"
            assert conn.command("SPOP", "w").startswith(b"$")
            conn.command("MULTI")
            conn.command("PING")
            assert conn.command("EXEC") == b"*-1\r\n"
    finally:
        conn.close()


def wake_up(srv, blocking, write):
    """The reply a client blocked on `blocking` gets once another client sends `write`."""
    waiter = RawConnection(srv.port)
    writer = RawConnection(srv.port)
    try:
        writer.command("FLUSHALL")
        waiter.send(encode_command(blocking))
        wait_blocked(writer, 1)
        written = writer.command(*write)
        return written, waiter.read_reply()
    finally:
        waiter.close()
        writer.close()


@pytest.mark.parametrize("blocking, write", [
    (["BLPOP", "q", "5"], ["RPUSH", "q", "a"]), (["BRPOP", "q", "5"], ["LPUSH", "q", "a"]),
    (["BLMOVE", "q", "d", "LEFT", "RIGHT", "5"], ["LPUSH", "q", "a"]),
    (["BZPOPMIN", "z", "5"], ["ZADD", "z", "3", "m"]), (["BZPOPMAX", "z", "5"], ["ZADD", "z", "07", "m"]),
])
def test_single_element_writes_wake_blocked_clients(reference, ours, blocking, write):
    assert wake_up(ours, blocking, write) == wake_up(reference, blocking, write)


def expiry_replies(srv, script):
    """Replies to `script` after keys set with a 1 ms TTL have passed their time,
    active expiry off so that only the commands' own lookups find them expired."""
    conn = RawConnection(srv.port)
    try:
        conn.command("FLUSHALL")
        conn.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        for key, setup in (("str", ["SET", "str", "41"]), ("l", ["RPUSH", "l", "a", "b"]),
                           ("s", ["SADD", "s", "m"]), ("h", ["HSET", "h", "f", "v"]),
                           ("z", ["ZADD", "z", "1", "m"]), ("m", ["SET", "m", "x"])):
            conn.command(*setup)
            conn.command("PEXPIRE", key, "1")
        time.sleep(0.05)
        replies = [conn.command(*step) for step in script]
        conn.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        return replies
    finally:
        conn.close()


EXPIRED_SCRIPT = [
    ["INCR", "str"], ["TTL", "str"], ["LPUSH", "l", "c"], ["LRANGE", "l", "0", "-1"], ["TTL", "l"],
    ["SADD", "s", "n"], ["SMEMBERS", "s"], ["HSET", "h", "g", "w"], ["HGETALL", "h"],
    ["ZADD", "z", "2", "n"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["MSET", "m", "y", "k", "z"],
    ["TTL", "m"], ["GET", "m"], ["DBSIZE"],
]


def test_expired_keys_are_gone_for_the_shortcuts(reference, ours):
    needs(ours, "DEBUG")
    assert expiry_replies(ours, EXPIRED_SCRIPT) == expiry_replies(reference, EXPIRED_SCRIPT)


def test_expired_keys_are_gone_for_single_pops(reference, ours):
    script = [["LPOP", "l"], ["RPOP", "l"], ["SPOP", "s"], ["GET", "m"], ["LRANGE", "l", "0", "9"],
              ["EXISTS", "l", "s", "m"]]
    assert expiry_replies(ours, script) == expiry_replies(reference, script)


# -- the native paths of INCR/DECR, LPUSH/RPUSH and LPOP/RPOP -----------------------------

def weighted_steps(seed, steps, keys, choices):
    """`steps` random steps, each on a random one of `keys`: choices holds (weight, maker)
    pairs, and a maker turns (rng, key, step number) into the commands of one step."""
    import random
    rng = random.Random(seed)
    weights = [weight for weight, _ in choices]
    makers = [maker for _, maker in choices]
    script = []
    for i in range(steps):
        key = rng.choice(keys)
        script += rng.choices(makers, weights)[0](rng, key, i)
    return script


def random_list_and_counter_script(seed, steps=1500):
    """Single-element pushes and pops on a few lists (through empty, with free head room
    used up and compacted), counters near the 64-bit ends, and the changes that make those
    commands leave their common shape (a TTL, another type, an APPENDed counter)."""
    lists = ["l1", "l2", "l3"]
    counters = ["c1", "c2"]
    script = [["SET", "c1", "9223372036854775800"], ["SET", "c2", "-9223372036854775800"]]
    script += weighted_steps(seed, steps, lists, [
        (25, lambda rng, key, i: [["LPUSH", key, "h%d" % i]]),
        (20, lambda rng, key, i: [["RPUSH", key, "t%d" % i]]),
        (15, lambda rng, key, i: [["LPOP", key]]),
        (12, lambda rng, key, i: [["RPOP", key]]),
        (12, lambda rng, key, i: [[rng.choice(["INCR", "DECR"]), rng.choice(counters)]]),
        (3, lambda rng, key, i: [["LRANGE", key, "0", "-1"]]),
        (2, lambda rng, key, i: [["EXPIRE", rng.choice(lists + counters), "1000"]]),
        (2, lambda rng, key, i: [["PERSIST", rng.choice(lists + counters)]]),
        (1, lambda rng, key, i: [["APPEND", rng.choice(counters), "1"]]),
        (1, lambda rng, key, i: [["SET", rng.choice(counters),
                                  str(rng.choice([0, -1, 2**63 - 2, -2**63 + 1]))]]),
        (1, lambda rng, key, i: [["SET", key, "not a list"]]),
        (1, lambda rng, key, i: [["DEL", key]]),
        (5, lambda rng, key, i: [["LLEN", key]]),
    ])
    for key in lists + counters:
        script += [["TYPE", key], ["TTL", key], ["OBJECT", "ENCODING", key], ["DUMP", key]]
    return script


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_native_paths_random_sequences(reference, ours, seed):
    assert_same(reference, ours, random_list_and_counter_script(seed))


def test_native_paths_keep_the_access_clock(ours):
    """A write through the native path records the access as the handler does."""
    conn = RawConnection(ours.port)
    try:
        conn.command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        conn.command("RPUSH", "l", "a", "b", "c")
        conn.command("SET", "c", "1")
        conn.command("MSET", "m", "1", "n", "1")
        time.sleep(2.2)
        assert conn.command("OBJECT", "IDLETIME", "l") in (b":2\r\n", b":3\r\n")
        conn.command("RPUSH", "l", "d")
        conn.command("INCR", "c")
        conn.command("MSET", "m", "2", "new", "1")
        assert conn.command("OBJECT", "IDLETIME", "l") == b":0\r\n"
        assert conn.command("OBJECT", "IDLETIME", "c") == b":0\r\n"
        assert conn.command("OBJECT", "IDLETIME", "m") == b":0\r\n"
        assert conn.command("OBJECT", "IDLETIME", "new") == b":0\r\n"
        assert conn.command("OBJECT", "IDLETIME", "n") in (b":2\r\n", b":3\r\n")
    finally:
        conn.close()


def random_hset_script(seed, steps=800):
    """HSET of one field into hashes that cross both listpack limits (set small here), with
    TTLs and other types in the way; read back with HMGET (field order of a hashtable is
    the server's own)."""
    fields = ["f%d" % i for i in range(7)] + ["long-field-name"]
    script = [["CONFIG", "SET", "hash-max-listpack-entries", "5"],
              ["CONFIG", "SET", "hash-max-listpack-value", "8"]]
    script += weighted_steps(seed, steps, ["h1", "h2"], [
        (60, lambda rng, key, i: [["HSET", key, rng.choice(fields),
                                   rng.choice(["v", "v%d" % i, "12345678", "123456789", ""])]]),
        (15, lambda rng, key, i: [["HDEL", key, rng.choice(fields)]]),
        (10, lambda rng, key, i: [["HMGET", key] + fields]),
        (3, lambda rng, key, i: [["EXPIRE", key, "1000"]]),
        (2, lambda rng, key, i: [["SET", key, "string"]]),
        (2, lambda rng, key, i: [["DEL", key]]),
        (8, lambda rng, key, i: [["HLEN", key], ["OBJECT", "ENCODING", key]]),
    ])
    # The servers are shared with the other tests of this module: back to the defaults.
    return script + [["CONFIG", "SET", "hash-max-listpack-entries", "128"],
                     ["CONFIG", "SET", "hash-max-listpack-value", "64"]]


@pytest.mark.parametrize("seed", [1, 2])
def test_native_hset_random_sequences(reference, ours, seed):
    assert_same(reference, ours, random_hset_script(seed))


def random_zadd_script(seed, steps=800):
    """ZADD of one pair, mostly re-adding a member with the score it has (nothing changes),
    among new members, new scores and scores that are not plain digits."""
    members = ["m%d" % i for i in range(5)]
    scores = ["0", "1", "2", "007", "-1", "1.5", "1e1", "999999999999999", "1000000000000000"]
    return weighted_steps(seed, steps, ["z1", "z2"], [
        (70, lambda rng, key, i: [["ZADD", key, rng.choice(scores[:3]) if rng.random() < 0.8
                                   else rng.choice(scores), rng.choice(members)]]),
        (10, lambda rng, key, i: [["ZRANGE", key, "0", "-1", "WITHSCORES"]]),
        (5, lambda rng, key, i: [["ZREM", key, rng.choice(members)]]),
        (3, lambda rng, key, i: [["EXPIRE", key, "1000"]]),
        (2, lambda rng, key, i: [["SET", key, "string"]]),
        (2, lambda rng, key, i: [["DEL", key]]),
        (8, lambda rng, key, i: [["ZSCORE", key, rng.choice(members)]]),
    ])


@pytest.mark.parametrize("seed", [1, 2])
def test_native_zadd_random_sequences(reference, ours, seed):
    script = random_zadd_script(seed)
    assert_same(reference, ours, script)
    assert counted_deltas(ours, script) == counted_deltas(reference, script)


# String values on both sides of the key table's inline limit (64 bytes), numbers whose
# next value has one digit more or less, and values that are not numbers.
STRING_VALUES = ["12", "", "x" * 50, "y" * 64, "z" * 65, "9", "99", "-10", "-1",
                 "9223372036854775807", "1" * 64, "01"]


def random_get_set_sadd_script(seed, steps=900):
    """GET, SET without options, MSET, INCR/DECR and SADD of one member on keys that come and go,
    change type, grow in place and get TTLs; sets cross the intset limit (set small here)."""
    script = [["CONFIG", "SET", "set-max-intset-entries", "4"]]
    script += weighted_steps(seed, steps, ["k1", "k2", "s1", "s2"], [
        (26, lambda rng, key, i: [["GET", key]]),
        (16, lambda rng, key, i: [["SET", key, rng.choice(STRING_VALUES + ["v%d" % i])]]),
        (8, lambda rng, key, i: [[rng.choice(["INCR", "DECR"]), key]]),
        (8, lambda rng, key, i: [["MSET", key, rng.choice(STRING_VALUES)]
                                 + rng.choice([[], ["k2", "m%d" % i], [key, "again"], ["s1"]])]),
        (25, lambda rng, key, i: [["SADD", key, rng.choice(["1", "2", "3", "5", "8", "13", "m", "-1"])]]),
        (5, lambda rng, key, i: [["SCARD", key], ["OBJECT", "ENCODING", key]]),
        (4, lambda rng, key, i: [["SISMEMBER", key, rng.choice(["1", "m", "13"])]]),
        (3, lambda rng, key, i: [["EXPIRE", key, "1000"]]),
        (2, lambda rng, key, i: [["PERSIST", key]]),
        (3, lambda rng, key, i: [["DEL", key]]),
        (2, lambda rng, key, i: [["APPEND", key, "z"]]),
        (2, lambda rng, key, i: [["SETRANGE", key, str(rng.choice([0, 10, 63, 64])), "ab"]]),
        (4, lambda rng, key, i: [["TYPE", key], ["STRLEN", key], ["OBJECT", "ENCODING", key]]),
    ])
    return script + [["CONFIG", "SET", "set-max-intset-entries", "512"]]


@pytest.mark.parametrize("seed", [1, 2])
def test_native_get_set_sadd_random_sequences(reference, ours, seed):
    script = random_get_set_sadd_script(seed)
    assert_same(reference, ours, script)
    assert counted_deltas(ours, script) == counted_deltas(reference, script)

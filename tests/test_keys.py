"""Generic key commands against Debian's redis-server 7.0.15, replies compared.

Every script starts from FLUSHALL on both servers and compares raw reply
bytes. KEYS and SCAN list keys in hash-table order on Redis and in insertion
order here, so those steps (wrapped in `Unordered`) compare the same keys as
multisets, after checking the reply has the same RESP type.
"""
import random
import shutil
import subprocess
import time

import pytest

from differential import decode, needs, run_script

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"


class Unordered:
    """A script step whose array reply (or SCAN's key list) may come in any order."""

    def __init__(self, command):
        self.command = command


def _sorted_reply(raw):
    value = decode(raw)
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], list):
        return [value[0], sorted(value[1])]          # SCAN: cursor, keys
    if isinstance(value, list):
        return sorted(value)
    return value


def assert_same(reference, server, script, resp3=False):
    """Run `script` on both servers; raw replies must match (multisets for Unordered)."""
    commands = [step.command if isinstance(step, Unordered) else step for step in script]
    expected = run_script(reference.port, commands, resp3)
    actual = run_script(server.port, commands, resp3)
    for step, command, want, got in zip(script, commands, expected, actual):
        if isinstance(step, Unordered):
            assert got[:1] == want[:1], "command %r: redis %r, we %r" % (command, want, got)
            assert _sorted_reply(got) == _sorted_reply(want), (
                "command %r: redis replied %r, we replied %r" % (command, want, got))
        else:
            assert got == want, "command %r: redis replied %r, we replied %r" % (command, want, got)
    return len(script)


# -- DEL, UNLINK, EXISTS, TYPE, TOUCH, DBSIZE, FLUSH* --------------------------------

DEL_SCRIPT = [
    ["DEL"], ["UNLINK"], ["DEL", "nokey"], ["UNLINK", "nokey"],
    ["SET", "a", "1"], ["SET", "b", "2"], ["DEL", "a", "b", "c"], ["EXISTS", "a", "b"],
    ["SET", "a", "1"], ["DEL", "a", "a"], ["EXISTS", "a"],
    ["SET", "x", "1"], ["SET", "y", "2"], ["UNLINK", "x", "y", "x"], ["DBSIZE"],
    ["SET", "", "empty"], ["EXISTS", ""], ["DEL", ""], ["EXISTS", ""],
    ["SET", b"\x00\xff\r\n", "bin"], ["EXISTS", b"\x00\xff\r\n"], ["DEL", b"\x00\xff\r\n"],
    ["del", "a"], ["Del", "x"],
]

EXISTS_TYPE_SCRIPT = [
    ["EXISTS"], ["EXISTS", "nokey"], ["SET", "k", "v"],
    ["EXISTS", "k", "k", "k"], ["EXISTS", "k", "nokey", "k", "other"],
    ["TYPE", "k"], ["TYPE", "nokey"], ["TYPE"], ["TYPE", "k", "k"],
    ["SET", "n", "12345"], ["TYPE", "n"], ["APPEND", "n", "6"], ["TYPE", "n"],
    ["TOUCH"], ["TOUCH", "nokey"], ["TOUCH", "k", "n", "nokey", "k"],
    ["DBSIZE"], ["DBSIZE", "extra"],
]

FLUSH_SCRIPT = [
    ["SET", "a", "1"], ["SELECT", "1"], ["SET", "b", "2"], ["DBSIZE"],
    ["FLUSHDB"], ["DBSIZE"], ["SELECT", "0"], ["DBSIZE"],
    ["FLUSHDB", "ASYNC"], ["DBSIZE"], ["SET", "a", "1"], ["FLUSHDB", "sync"], ["DBSIZE"],
    ["FLUSHDB", "foo"], ["FLUSHDB", "async", "sync"], ["FLUSHDB", ""],
    ["SET", "a", "1"], ["SELECT", "5"], ["SET", "b", "1"], ["FLUSHALL"], ["DBSIZE"],
    ["SELECT", "0"], ["DBSIZE"], ["FLUSHALL", "ASYNC"], ["FLUSHALL", "SYNC"],
    ["FLUSHALL", "lazy"], ["FLUSHALL", "sync", "sync"], ["flushall", "Async"],
]


def test_del_unlink(reference, server):
    assert_same(reference, server, DEL_SCRIPT)


def test_exists_type_touch_dbsize(reference, server):
    needs(server, "append")
    assert_same(reference, server, EXISTS_TYPE_SCRIPT)


def test_flushdb_flushall(reference, server):
    assert_same(reference, server, FLUSH_SCRIPT)


def test_type_of_other_value_types(reference, server):
    needs(server, "lpush", "hset", "sadd", "zadd")
    assert_same(reference, server, [
        ["LPUSH", "l", "a"], ["HSET", "h", "f", "v"], ["SADD", "s", "m"], ["ZADD", "z", "1", "m"],
        ["TYPE", "l"], ["TYPE", "h"], ["TYPE", "s"], ["TYPE", "z"],
        ["OBJECT", "ENCODING", "l"], ["OBJECT", "ENCODING", "h"], ["OBJECT", "ENCODING", "s"],
        ["OBJECT", "ENCODING", "z"], ["SADD", "ints", "1", "2"], ["OBJECT", "ENCODING", "ints"],
    ])


def test_keyspace_hits_and_misses_follow_redis(reference, server):
    """EXISTS, TYPE, TTL and OBJECT count hits and misses; DEL, EXPIRE and KEYS do not."""
    script = [
        ["CONFIG", "RESETSTAT"], ["SET", "k", "v"],
        ["EXISTS", "k", "nokey"], ["TYPE", "k"], ["TYPE", "nokey"], ["TTL", "k"], ["PTTL", "x"],
        ["OBJECT", "ENCODING", "k"], ["OBJECT", "ENCODING", "nokey"], ["TOUCH", "k", "nokey"],
        ["DEL", "nokey"], ["EXPIRE", "nokey", "10"], ["KEYS", "*"], ["PERSIST", "k"],
        ["COPY", "k", "k2"], ["COPY", "nokey", "k3"], ["RENAME", "k2", "k4"],
    ]

    def stats(proc):
        run_script(proc.port, script)
        client = proc.client()
        try:
            info = client.info("stats")
        finally:
            client.close()
        return info["keyspace_hits"], info["keyspace_misses"]

    assert stats(server) == stats(reference)


# -- KEYS ----------------------------------------------------------------------------

KEY_NAMES = [
    "foo", "foobar", "fo", "f", "bar", "hello", "hallo", "hxllo", "hllo", "heeeello",
    "a*b", "a?b", "a[b", "a\\b", "a]b", "[", "]", "-", "^", "ab", "aB", "Ab", "a-b", "a^b",
    "user:1", "user:2", "user:10", "user:1:name", b"\xff", b"\x00", b"a\x00b", b"\xfe\xff",
    "*", "?", "\\", "abc", "abcabc", "aaa", "aaaa",
]

KEYS_PATTERNS = [
    "*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "h[b-a]llo", "f*", "*o", "*o*",
    "[", "[^", "[^]", "a\\*b", "a[*]b", "a\\", "\\", "\\\\", "[a-", "[a-]b", "a[\\]]b", "a[]b",
    "[]", "[]]", "*[", "**", "***", "?", "??", "", "*:*", "user:?", "user:[0-9]*", "user:*:*",
    b"[\xfe-\xff]", b"[\x00-\x10]*", b"*\xff", "[z-a]*", "h[a-e-z]llo", "a[\\", "a[^\\]b",
    "[[]", "[\\[]", "a[-]b", "a[^-]b", "a[b-]b", "[a-c]*", "[A-c]*", "*a*b*", "a*a*a*",
    "*b*c*", "?*?", "*?*?*?*?", "\\a\\b", "a\\?b", "[^a-z]*", "*[0-9]", "user:1*", "user*1",
    b"a\x00b", b"a?b", b"*\x00*", "abc*abc", "a*abc", "*c",
]


def keys_script(patterns):
    script = [["SET", name, "v"] for name in KEY_NAMES]
    return script + [Unordered(["KEYS", pattern]) for pattern in patterns]


def test_keys_patterns(reference, server):
    assert_same(reference, server, keys_script(KEYS_PATTERNS))


def test_keys_random_patterns(reference, server):
    rng = random.Random(7)
    alphabet = "ab*?[]^-\\A:1"
    patterns = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
                for _ in range(250)]
    assert_same(reference, server, keys_script(patterns))


NOCASE_PATTERNS = [
    "MAXMEMORY", "MaxMemory-*", "[M-M]axmemory", "[m]AXMEMORY", "\\Max*memory", "[\\M]ax*memory",
    "[\\m]ax*memory", "[A-Z]axmemory", "[Z-a]axmemory", "[z-A]axmemory", "[^A-L]axmemory",
    "?AXMEMORY-P*", "*-SAMPLES", "maxmemory-[A-Z]*", "[]axmemory", "*[", "Maxmemory[",
    "MAXMEMORY-[^",
]


def test_glob_without_case_through_config_get(reference, server):
    """CONFIG GET matches directive names ignoring case, with the same glob."""
    def names(proc, pattern):
        client = proc.client()
        try:
            return sorted(client.config_get(pattern))
        finally:
            client.close()

    for pattern in NOCASE_PATTERNS:
        assert names(server, pattern) == names(reference, pattern), pattern


def test_keys_arity_and_empty_database(reference, server):
    assert_same(reference, server, [
        ["KEYS"], ["KEYS", "*", "x"], ["KEYS", "*"], ["KEYS", "a*"],
        ["SET", "", "v"], Unordered(["KEYS", "*"]), ["KEYS", "**"], ["KEYS", "?"], ["KEYS", ""],
    ])


def test_keys_hides_expired_keys(reference, server):
    script = [
        ["DEBUG", "SET-ACTIVE-EXPIRE", "0"], ["SET", "gone", "v", "PX", "1"], ["SET", "kept", "v"],
        ["SET", "later", "v", "EX", "100"],
    ]
    run = [["DEBUG", "SLEEP", "0.05"], Unordered(["KEYS", "*"]), ["DBSIZE"],
           ["DEBUG", "SET-ACTIVE-EXPIRE", "1"]]
    needs(server, "debug")
    assert_same(reference, server, script + run)


def test_keys_pathological_pattern_is_fast(server):
    r = server.client()
    try:
        r.flushall()
        r.set("a" * 4000, "v")
        start = time.monotonic()
        assert r.keys("a*" * 30 + "b") == []
        assert r.keys("*a" * 500) == [b"a" * 4000]
        assert time.monotonic() - start < 2.0
    finally:
        r.close()


# -- RANDOMKEY -----------------------------------------------------------------------

def test_randomkey(reference, server):
    assert_same(reference, server, [
        ["RANDOMKEY"], ["RANDOMKEY", "x"], ["SET", "only", "v"], ["RANDOMKEY"],
        ["DEL", "only"], ["RANDOMKEY"],
    ])
    assert_same(reference, server, [["RANDOMKEY"]], resp3=True)


def test_randomkey_draws_every_key_and_skips_deleted_ones(r):
    r.mset({"k%d" % i: i for i in range(5000)})
    r.delete(*["k%d" % i for i in range(5000) if i % 1000])   # 5 keys survive
    seen = {r.randomkey() for _ in range(300)}
    assert seen == {b"k0", b"k1000", b"k2000", b"k3000", b"k4000"}


def test_randomkey_expires_what_it_draws(reference, server):
    needs(server, "debug")
    assert_same(reference, server, [
        ["DEBUG", "SET-ACTIVE-EXPIRE", "0"], ["SET", "a", "1", "PX", "1"],
        ["SET", "b", "1", "PX", "1"], ["DEBUG", "SLEEP", "0.02"], ["DBSIZE"], ["RANDOMKEY"],
        ["DBSIZE"], ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ])


# -- RENAME, RENAMENX, MOVE, COPY ----------------------------------------------------

RENAME_SCRIPT = [
    ["RENAME", "nokey", "x"], ["RENAMENX", "nokey", "x"], ["RENAME", "nokey", "nokey"],
    ["RENAMENX", "nokey", "nokey"], ["RENAME", "a"], ["RENAMENX", "a", "b", "c"],
    ["SET", "a", "1"], ["RENAME", "a", "a"], ["RENAMENX", "a", "a"], ["GET", "a"],
    ["RENAME", "a", "b"], ["EXISTS", "a"], ["GET", "b"],
    ["SET", "c", "3"], ["RENAMENX", "b", "c"], ["GET", "b"], ["GET", "c"],
    ["RENAMENX", "b", "d"], ["GET", "d"], ["EXISTS", "b"],
    ["RENAME", "d", "c"], ["GET", "c"], ["DBSIZE"],
    ["SET", "t", "v", "EX", "1000"], ["RENAME", "t", "t2"], ["TTL", "t2"], ["TTL", "t"],
    ["SET", "p", "v"], ["EXPIRE", "c", "500"], ["RENAME", "p", "c"], ["TTL", "c"],
    ["SET", "q", "v", "EX", "300"], ["RENAMENX", "q", "q2"], ["TTL", "q2"],
    ["SET", "", "empty"], ["RENAME", "", b"\x00bin"], ["GET", b"\x00bin"],
]

MOVE_SCRIPT = [
    ["MOVE", "a"], ["MOVE", "a", "1", "x"], ["MOVE", "nokey", "1"], ["MOVE", "a", "0"],
    ["MOVE", "a", "16"], ["MOVE", "a", "-1"], ["MOVE", "a", "abc"], ["MOVE", "a", "1.5"],
    ["MOVE", "a", "4294967296"], ["MOVE", "a", LLONG_MAX], ["MOVE", "a", ""],
    ["SET", "a", "1"], ["MOVE", "a", "0"], ["MOVE", "a", "1"], ["EXISTS", "a"],
    ["SELECT", "1"], ["GET", "a"], ["MOVE", "a", "0"], ["SELECT", "0"], ["GET", "a"],
    ["SELECT", "1"], ["SET", "a", "other"], ["SELECT", "0"], ["MOVE", "a", "1"], ["GET", "a"],
    ["SET", "t", "v", "EX", "1000"], ["MOVE", "t", "2"], ["SELECT", "2"], ["TTL", "t"],
    ["GET", "t"], ["MOVE", "t", "00"], ["SELECT", "0"], ["TTL", "t"],
    ["SET", "n", "5"], ["MOVE", "n", "15"], ["SELECT", "15"], ["INCR", "n"], ["OBJECT", "ENCODING", "n"],
]

COPY_SCRIPT = [
    ["COPY", "a"], ["COPY", "a", "a"], ["COPY", "nokey", "x"], ["SET", "a", "1"],
    ["COPY", "a", "a"], ["COPY", "a", "a", "DB", "0"], ["COPY", "a", "a", "DB", "1"],
    ["SELECT", "1"], ["GET", "a"], ["SELECT", "0"],
    ["COPY", "a", "b"], ["GET", "b"], ["COPY", "a", "b"], ["SET", "a", "2"],
    ["COPY", "a", "b", "REPLACE"], ["GET", "b"], ["COPY", "a", "b", "replace", "replace"],
    ["COPY", "a", "b", "DB"], ["COPY", "a", "b", "DB", "16"], ["COPY", "a", "b", "DB", "-1"],
    ["COPY", "a", "b", "DB", "x"], ["COPY", "a", "b", "FOO"], ["COPY", "a", "b", "DB", "1", "FOO"],
    ["COPY", "a", "b", "DB", "99", "FOO"], ["COPY", "a", "b", "FOO", "DB", "99"],
    ["COPY", "nokey", "b", "DB", "16"], ["COPY", "a", "c", "DB", "2", "DB", "3"],
    ["SELECT", "3"], ["GET", "c"], ["SELECT", "2"], ["EXISTS", "c"], ["SELECT", "0"],
    ["SET", "t", "v", "PX", "100000000"], ["COPY", "t", "t2"], ["TTL", "t2"],
    ["COPY", "t", "t3", "DB", "4"], ["SELECT", "4"], ["TTL", "t3"], ["SELECT", "0"],
    ["SET", "big", "x" * 100], ["APPEND", "big", "y"], ["COPY", "big", "big2"],
    ["APPEND", "big2", "z"], ["GET", "big"], ["GET", "big2"], ["OBJECT", "ENCODING", "big2"],
    ["SET", "s", "5"], ["COPY", "s", "s2"], ["OBJECT", "ENCODING", "s2"],
    ["SET", "e", "hello"], ["COPY", "e", "e2"], ["OBJECT", "ENCODING", "e2"],
]


def test_rename_renamenx(reference, server):
    assert_same(reference, server, RENAME_SCRIPT)


def test_move(reference, server):
    needs(server, "incr")
    assert_same(reference, server, MOVE_SCRIPT)


def test_copy(reference, server):
    needs(server, "append")
    assert_same(reference, server, COPY_SCRIPT)


def test_copy_is_deep_for_mutable_types(reference, server):
    needs(server, "rpush", "lrange", "hset", "hgetall", "sadd", "smembers")
    assert_same(reference, server, [
        ["RPUSH", "l", "a", "b"], ["COPY", "l", "l2"], ["RPUSH", "l2", "c"],
        ["LRANGE", "l", "0", "-1"], ["LRANGE", "l2", "0", "-1"],
        ["HSET", "h", "f", "1"], ["COPY", "h", "h2"], ["HSET", "h2", "g", "2"], ["HGETALL", "h"],
        ["SADD", "s", "m"], ["COPY", "s", "s2", "DB", "1"], ["SELECT", "1"], ["SADD", "s2", "n"],
        ["SELECT", "0"], ["SMEMBERS", "s"],
    ])


# -- EXPIRE family, TTL family, PERSIST ----------------------------------------------

EXPIRE_ERRORS = [
    ["EXPIRE", "k"], ["PEXPIRE"], ["EXPIREAT", "k"], ["PEXPIREAT", "k"],
    ["EXPIRE", "k", "abc"], ["EXPIRE", "k", "1.5"], ["EXPIRE", "k", ""], ["EXPIRE", "k", " 1"],
    ["EXPIRE", "k", "10", "foo"], ["EXPIRE", "k", "abc", "foo"], ["EXPIRE", "k", "10", "NX", "XX"],
    ["EXPIRE", "k", "10", "nx", "gt"], ["EXPIRE", "k", "10", "LT", "NX"],
    ["EXPIRE", "k", "10", "GT", "LT"], ["EXPIRE", "k", "10", "XX", "GT", "LT"],
    ["EXPIRE", "k", "10", "NX", "NX"], ["EXPIRE", "k", "10", "NX", "foo"],
    ["PEXPIRE", "k", "10", "nxx"], ["EXPIREAT", "k", "10", ""],
    ["EXPIRE", "k", LLONG_MAX], ["EXPIRE", "k", LLONG_MIN], ["EXPIRE", "k", "9223372036854776"],
    ["EXPIRE", "k", "-9223372036854776"], ["EXPIRE", "k", "9223372036854775"],
    ["PEXPIRE", "k", LLONG_MAX], ["PEXPIRE", "k", "9223372036854775000"],
    ["EXPIREAT", "k", LLONG_MAX], ["EXPIREAT", "k", "9223372036854775808"],
    ["PEXPIREAT", "k", LLONG_MAX], ["PEXPIREAT", "k", LLONG_MIN],
    ["SET", "k", "v"],
    ["EXPIRE", "k", LLONG_MAX], ["EXPIRE", "k", "9223372036854775"], ["PEXPIRE", "k", LLONG_MAX],
    ["EXPIREAT", "k", "9223372036854775"], ["TTL", "k"], ["PEXPIREAT", "k", LLONG_MAX],
    ["PEXPIRETIME", "k"], ["EXPIRETIME", "k"],
]

EXPIRE_BEHAVIOUR = [
    ["EXPIRE", "nokey", "10"], ["PEXPIRE", "nokey", "10"], ["EXPIREAT", "nokey", "10"],
    ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "nokey"], ["PEXPIRETIME", "nokey"],
    ["SET", "k", "v"], ["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
    ["EXPIRE", "k", "100"], ["TTL", "k"], ["EXPIRE", "k", "200"], ["TTL", "k"],
    ["EXPIREAT", "k", "4000000000"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"], ["TTL", "k"],
    ["PEXPIREAT", "k", "4000000000123"], ["PEXPIRETIME", "k"], ["EXPIRETIME", "k"],
    ["PEXPIREAT", "k", "4000000000499"], ["EXPIRETIME", "k"],
    ["PEXPIREAT", "k", "4000000000500"], ["EXPIRETIME", "k"],
    ["PERSIST", "k"], ["PERSIST", "k"], ["TTL", "k"], ["PERSIST", "nokey"], ["PERSIST"],
    ["PEXPIRE", "k", "100000"], ["TTL", "k"],
    ["SET", "k", "v2"], ["TTL", "k"],
    ["SET", "neg", "v"], ["EXPIRE", "neg", "-1"], ["EXISTS", "neg"], ["TTL", "neg"],
    ["SET", "neg", "v"], ["PEXPIRE", "neg", "0"], ["EXISTS", "neg"],
    ["SET", "neg", "v"], ["EXPIREAT", "neg", "1"], ["EXISTS", "neg"],
    ["SET", "neg", "v"], ["PEXPIREAT", "neg", LLONG_MIN], ["EXISTS", "neg"],
    ["SET", "neg", "v"], ["EXPIRE", "neg", "-9223372036854775"], ["EXISTS", "neg"],
    ["SET", "neg", "v"], ["EXPIREAT", "neg", "0", "NX"], ["EXISTS", "neg"],
    ["SET", "e", "v"], ["EXPIRE", "e", "0"], ["GET", "e"],
    ["SET", "big", "v"], ["EXPIREAT", "big", "9223372036854775"], ["PEXPIRETIME", "big"],
    ["EXPIRETIME", "big"], ["PEXPIREAT", "big", LLONG_MAX], ["PEXPIRETIME", "big"],
    ["TTL", "k", "x"], ["PTTL"], ["EXPIRETIME"], ["PEXPIRETIME", "a", "b"],
]

EXPIRE_OPTIONS = [
    # On a key without a TTL.
    ["SET", "k", "v"], ["EXPIRE", "k", "100", "XX"], ["TTL", "k"],
    ["EXPIRE", "k", "100", "GT"], ["TTL", "k"], ["EXPIRE", "k", "100", "LT"], ["TTL", "k"],
    ["PERSIST", "k"], ["EXPIRE", "k", "100", "NX"], ["TTL", "k"], ["EXPIRE", "k", "200", "NX"],
    ["TTL", "k"],
    # On a key with a TTL of 100s.
    ["EXPIRE", "k", "200", "XX"], ["TTL", "k"], ["EXPIRE", "k", "100", "GT"], ["TTL", "k"],
    ["EXPIRE", "k", "300", "gt"], ["TTL", "k"], ["EXPIRE", "k", "250", "GT"],
    ["EXPIRE", "k", "400", "LT"], ["TTL", "k"], ["EXPIRE", "k", "50", "lt"], ["TTL", "k"],
    ["EXPIRE", "k", "50", "XX", "LT"], ["EXPIRE", "k", "40", "XX", "LT"], ["TTL", "k"],
    ["EXPIRE", "k", "60", "xx", "gt"], ["TTL", "k"], ["EXPIRE", "k", "70", "GT", "GT"],
    ["TTL", "k"],
    # GT/LT comparisons against a past time still delete.
    ["EXPIRE", "k", "-1", "LT"], ["EXISTS", "k"],
    ["SET", "k", "v"], ["EXPIRE", "k", "-1", "LT"], ["EXISTS", "k"],
    ["SET", "k", "v"], ["EXPIRE", "k", "-1", "GT"], ["EXISTS", "k"],
    ["EXPIRE", "k", "-1", "XX"], ["EXISTS", "k"],
    ["PEXPIREAT", "k", "4000000000000", "NX"], ["PEXPIRETIME", "k"],
    ["PEXPIREAT", "k", "4000000000001", "GT"], ["PEXPIRETIME", "k"],
    ["EXPIREAT", "k", "4000000000", "LT"], ["PEXPIRETIME", "k"],
    ["PEXPIREAT", "k", "3999999999999", "LT"], ["PEXPIRETIME", "k"],
    ["EXPIRE", "nokey", "10", "NX"], ["EXPIRE", "nokey", "10", "XX"],
]


def test_expire_errors_and_overflow(reference, server):
    assert_same(reference, server, EXPIRE_ERRORS)


def test_expire_ttl_persist(reference, server):
    assert_same(reference, server, EXPIRE_BEHAVIOUR)


def test_expire_options(reference, server):
    assert_same(reference, server, EXPIRE_OPTIONS)


def test_expire_options_resp3(reference, server):
    assert_same(reference, server, EXPIRE_OPTIONS[:14] + [["OBJECT", "ENCODING", "nokey"]],
                resp3=True)


def test_ttl_and_pttl_count_down(server):
    r = server.client()
    try:
        r.flushall()
        r.set("k", "v")
        assert r.pexpire("k", 5000)
        assert 4800 <= r.pttl("k") <= 5000
        assert r.ttl("k") == 5
        assert r.expire("k", 10)
        now_ms = int(time.time() * 1000)
        assert abs(r.pexpiretime("k") - (now_ms + 10000)) < 1000
        assert abs(r.expiretime("k") - (now_ms + 10000) / 1000) <= 1
    finally:
        r.close()


# -- OBJECT --------------------------------------------------------------------------

OBJECT_SCRIPT = [
    ["OBJECT"], ["OBJECT", "HELP"], ["object", "help"], ["OBJECT", "HELP", "x"],
    ["OBJECT", "FOO"], ["OBJECT", "FOO", "k"], ["OBJECT", "ENCODING"],
    ["OBJECT", "ENCODING", "a", "b"], ["OBJECT", "REFCOUNT"], ["OBJECT", "IDLETIME"],
    ["OBJECT", "FREQ"],
    ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "REFCOUNT", "nokey"],
    ["OBJECT", "IDLETIME", "nokey"], ["OBJECT", "FREQ", "nokey"],
    ["SET", "k", "v"], ["OBJECT", "FREQ", "k"],
]

ENCODING_VALUES = [
    "1", "0", "01", "-0", "-1", "+1", "1 ", " 1", "9999", "10000", "-9999",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "12345678901234567890", "123456789012345678901",
    "1.5", "1e3", "0x10", "", "abc", "x" * 20, "x" * 44, "x" * 45, "x" * 100,
    "1" * 44, "1" * 45, b"\x00", b"1\x00",
]


def encoding_script():
    script = []
    for i, value in enumerate(ENCODING_VALUES):
        key = "k%d" % i
        script += [["SET", key, value], ["OBJECT", "ENCODING", key], ["OBJECT", "REFCOUNT", key]]
    return script


def test_object_help_and_errors(reference, server):
    assert_same(reference, server, OBJECT_SCRIPT)
    assert_same(reference, server, OBJECT_SCRIPT[:3] + OBJECT_SCRIPT[11:], resp3=True)


def test_object_encoding_and_refcount_of_strings(reference, server):
    assert_same(reference, server, encoding_script())


def test_object_encoding_after_writes(reference, server):
    needs(server, "append", "incr", "setrange", "getset")
    assert_same(reference, server, [
        ["SET", "a", "1"], ["APPEND", "a", "2"], ["OBJECT", "ENCODING", "a"],
        ["OBJECT", "REFCOUNT", "a"], ["GET", "a"],
        ["APPEND", "fresh", "5"], ["OBJECT", "ENCODING", "fresh"],
        ["APPEND", "fresh2", "hello"], ["OBJECT", "ENCODING", "fresh2"],
        ["SET", "b", "short"], ["APPEND", "b", "x" * 50], ["OBJECT", "ENCODING", "b"],
        ["SET", "c", "x" * 44], ["OBJECT", "ENCODING", "c"], ["APPEND", "c", "y"],
        ["OBJECT", "ENCODING", "c"],
        ["SET", "n", "9998"], ["INCR", "n"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "REFCOUNT", "n"],
        ["INCR", "n"], ["OBJECT", "ENCODING", "n"], ["OBJECT", "REFCOUNT", "n"],
        ["SET", "n", "-1"], ["INCR", "n"], ["OBJECT", "REFCOUNT", "n"],
        ["SETRANGE", "r", "0", "5"], ["OBJECT", "ENCODING", "r"],
        ["GETSET", "g", "7"], ["OBJECT", "ENCODING", "g"], ["OBJECT", "REFCOUNT", "g"],
    ])


def test_object_refcount_with_lru_maxmemory(reference, server):
    """Redis stops sharing small integers when an LRU/LFU policy can evict."""
    script = [
        ["CONFIG", "SET", "maxmemory", "1gb"], ["CONFIG", "SET", "maxmemory-policy", "allkeys-random"],
        ["SET", "a", "1"], ["OBJECT", "REFCOUNT", "a"],
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], ["SET", "b", "1"],
        ["OBJECT", "REFCOUNT", "b"], ["OBJECT", "ENCODING", "b"],
        ["CONFIG", "SET", "maxmemory", "0"], ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    ]
    assert_same(reference, server, script)


def test_object_freq_and_idletime_under_lfu(reference, server):
    script = [
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], ["SET", "k", "v"],
        ["OBJECT", "FREQ", "k"], ["GET", "k"], ["OBJECT", "FREQ", "k"],
        ["OBJECT", "IDLETIME", "k"], ["OBJECT", "FREQ", "nokey"],
        ["CONFIG", "SET", "maxmemory-policy", "volatile-lfu"], ["OBJECT", "IDLETIME", "k"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["OBJECT", "FREQ", "k"],
    ]
    assert_same(reference, server, script)


def test_object_freq_grows_with_accesses(server):
    r = server.client()
    try:
        r.flushall()
        r.config_set("maxmemory-policy", "allkeys-lfu")
        r.set("hot", "v")
        r.set("cold", "v")
        for _ in range(300):
            r.get("hot")
        hot, cold = r.object("freq", "hot"), r.object("freq", "cold")
        assert cold == 5
        assert 8 <= hot <= 255
    finally:
        r.config_set("maxmemory-policy", "noeviction")
        r.close()


def test_lfu_policy_from_the_command_line_counts_from_the_first_command():
    # Set at start-up, the policy counts accesses before the first cron tick, as in Redis.
    from harness import ServerProcess, require_reference
    require_reference()
    args = ["--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0", "--lfu-decay-time", "0"]
    freqs = []
    for reference in (True, False):
        proc = ServerProcess(args, reference=reference)
        try:
            conn = proc.raw()
            replies = [conn.command("SET", "k", "v")] + [conn.command("GET", "k") for _ in range(3)]
            freqs.append((replies, conn.command("OBJECT", "FREQ", "k")))
            conn.close()
        finally:
            proc.stop()
    assert freqs[1] == freqs[0]
    assert freqs[1][1] == b":8\r\n"


def test_object_idletime_tracks_access(server):
    r = server.client()
    try:
        r.flushall()
        r.set("foo", "bar")
        r.set("touched", "bar")
        r.set("read", "bar")
        assert r.object("idletime", "foo") <= 1
        time.sleep(2.2)
        # TTL, TYPE, EXISTS and OBJECT look without touching; TOUCH and GET touch.
        r.ttl("foo")
        r.type("foo")
        r.exists("foo")
        r.object("encoding", "foo")
        r.touch("touched")
        r.get("read")
        assert 2 <= r.object("idletime", "foo") <= 4
        assert r.object("idletime", "touched") <= 1
        assert r.object("idletime", "read") <= 1
    finally:
        r.close()


def test_object_idletime_after_debug_sleep(server):
    needs(server, "debug")
    r = server.client()
    try:
        r.flushall()
        r.set("k", "v")
        r.execute_command("DEBUG", "SLEEP", "2.1")
        assert 2 <= r.object("idletime", "k") <= 3
    finally:
        r.close()


# -- command table -------------------------------------------------------------------

MY_COMMANDS = [
    "del", "unlink", "exists", "type", "keys", "scan", "randomkey", "rename", "renamenx",
    "move", "copy", "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl",
    "expiretime", "pexpiretime", "persist", "touch", "dbsize", "flushdb", "flushall",
    "object|encoding", "object|refcount", "object|idletime", "object|freq", "object|help",
]


def test_command_info_matches(reference, server):
    """Arity, flags, key positions, ACL categories and tips as Redis declares them."""
    def info(proc):
        client = proc.client()
        try:
            raw = client.execute_command("COMMAND", "INFO", *MY_COMMANDS)
        finally:
            client.close()
        return [entry[:8] for entry in raw]

    for want, got in zip(info(reference), info(server)):
        assert [_as_sets(v) for v in got] == [_as_sets(v) for v in want]


def _as_sets(value):
    return sorted(value) if isinstance(value, list) else value


# -- redis-cli -----------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_keys_and_type(server):
    r = server.client()
    try:
        r.flushall()
        r.mset({"cli:a": "1", "cli:b": "2", "other": "3"})
    finally:
        r.close()
    out = subprocess.run(["redis-cli", "-p", str(server.port), "keys", "cli:*"],
                         capture_output=True, timeout=10, text=True)
    assert sorted(out.stdout.split()) == ["cli:a", "cli:b"]
    out = subprocess.run(["redis-cli", "-p", str(server.port), "type", "other"],
                         capture_output=True, timeout=10, text=True)
    assert out.stdout.strip() == "string"

"""SORT and SORT_RO against Debian's redis-server 7.0.15, reply bytes compared.

Every script starts from FLUSHALL on both servers. Lists, intset sets and
sorted sets read with BY nosort have the same order on both servers, and
sorted results are deterministic, so those replies must match byte for byte.
A hashtable set read with BY nosort comes back in hash order, which differs:
those replies are compared as sorted lists. Ties under ALPHA + BY keep the
source order, so they are compared byte for byte only for lists and intsets.
"""
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential import assert_same, decode, has_command, run_script
from harness import RawConnection, ServerProcess

LONG_MAX = "9223372036854775807"
LONG_MIN = "-9223372036854775808"


def flat(parts):
    out = []
    for part in parts:
        out.extend(part if isinstance(part, list) else [part])
    return out


def _key(item):
    return (item is None, item or b"")


def assert_same_unordered(reference, server, script, unordered):
    """Like assert_same, but the replies at the indexes in `unordered` are compared as
    sorted lists (same type byte, same length, same items)."""
    expected = run_script(reference.port, script)
    actual = run_script(server.port, script)
    for i, (step, want, got) in enumerate(zip(script, expected, actual)):
        if i in unordered:
            assert want[:1] == b"*", want
            assert got[:1] == b"*", got
            assert sorted(decode(got), key=_key) == sorted(decode(want), key=_key), \
                "command %r: redis replied %r, we replied %r" % (step, want, got)
        else:
            assert got == want, "command %r: redis replied %r, we replied %r" % (step, want, got)


# -- arguments and errors -----------------------------------------------------------------

def test_arity_and_syntax_errors(reference, server):
    assert_same(reference, server, [
        ["SORT"], ["SORT_RO"],
        ["RPUSH", "l", "3", "1", "2"],
        ["SORT", "l", "foo"], ["SORT", "l", "ASC", "bar"], ["SORT", "l", "LIMIT"],
        ["SORT", "l", "LIMIT", "0"], ["SORT", "l", "BY"], ["SORT", "l", "GET"],
        ["SORT", "l", "STORE"], ["SORT", "l", "DESC", "STORE"], ["SORT", "l", "GET", "#", "GET"],
        ["SORT_RO", "l", "STORE", "d"], ["SORT_RO", "l", "store"], ["EXISTS", "d"],
        ["SORT", "l", "LIMIT", "x", "1"], ["SORT", "l", "LIMIT", "0", "x"],
        ["SORT", "l", "LIMIT", "1.5", "1"], ["SORT", "l", "LIMIT", "0", ""],
        ["SORT", "l", "LIMIT", "9223372036854775808", "1"],
        ["SORT", "l", "LIMIT", "0", "-9223372036854775809"],
        ["SORT", "l", "LIMIT", " 1", "1"],
        ["SORT", "l", ""], ["SORT", "l", "ascx"], ["SORT", "l", "as"],
        # Option names are compared as C strings: a NUL ends them.
        ["SORT", "l", "desc\x00junk"], ["SORT", "l", "ALPHA\x00"], ["SORT", "l", "\x00desc"],
        ["SORT", "l", "limit\x00x", "0", "2"],
        ["SORT", "l", "dEsC", "aLpHa", "LiMiT", "0", "2"],
    ])


def test_wrong_types_and_error_order(reference, server):
    assert_same(reference, server, [
        ["SET", "s", "v"], ["HSET", "h", "f", "v"],
        ["SORT", "s"], ["SORT_RO", "s"], ["SORT", "h"], ["SORT", "h", "ALPHA", "STORE", "d"],
        ["SORT", "s", "BY", "nosort"], ["SORT", "s", "LIMIT", "0", "1"],
        ["EXISTS", "d"],
        # options are parsed before the key is looked up
        ["SORT", "s", "junk"], ["SORT", "s", "LIMIT", "x", "0"], ["SORT_RO", "s", "STORE", "d"],
        # a score error comes after the sort, and stores nothing
        ["RPUSH", "l", "1", "x"], ["SET", "d", "keep"],
        ["SORT", "l"], ["SORT", "l", "STORE", "d"], ["GET", "d"],
        ["SORT", "l", "DESC", "LIMIT", "0", "1"], ["SORT", "l", "GET", "#"],
        ["SORT", "l", "BY", "nosort"], ["SORT", "l", "ALPHA"],
    ])


def test_missing_key_gives_an_empty_result(reference, server):
    assert_same(reference, server, [
        ["SORT", "nokey"], ["SORT_RO", "nokey", "ALPHA", "DESC"],
        ["SORT", "nokey", "BY", "nosort", "LIMIT", "0", "10"],
        ["SORT", "nokey", "LIMIT", "5", "5", "GET", "#"],
        ["SORT", "nokey", "STORE", "d"], ["EXISTS", "d"],
        ["RPUSH", "d", "x"], ["SORT", "nokey", "STORE", "d"], ["EXISTS", "d"],
        ["SET", "d", "string"], ["SORT", "nokey", "BY", "nosort", "STORE", "d"], ["EXISTS", "d"],
    ])


# -- numeric sorting ------------------------------------------------------------------------

NUMBERS = ["10", "9", "-1", "0", "-0", "1.5", "1e3", "-2.5e-3", "0x10", "0X1p4", "inf", "-inf",
           "+Infinity", " 7", "\t\n\v\f\r8", "00", "01", "1.", ".5", "1e-5", LONG_MAX, LONG_MIN,
           "1.7976931348623157e308", "2.2250738585072014e-308", "0x1p-1074", "0x1.fffffffffffff8p-1023",
           "2.2250738585072013e-308", "", "\x00", "3\x00abc", "-0x.8", "1e+2", "0e-400",
           "0.0000e99999", "123456789012345678901234567890"]


def test_numeric_sort_of_everything_strtod_reads(reference, server):
    script = [["RPUSH", "l"] + NUMBERS, ["SORT", "l"], ["SORT", "l", "DESC"],
              ["SORT", "l", "LIMIT", "3", "7"], ["SORT", "l", "DESC", "LIMIT", "0", "4"],
              ["SORT", "l", "STORE", "d"], ["LRANGE", "d", "0", "-1"]]
    assert_same(reference, server, script)


@pytest.mark.parametrize("bad", [
    "x", "1x", "1 ", " ", "+", "-", ".", "1e", "1e+", "0x", "0x1p", "nan", "-nan", "NaN(12)",
    "infinit", "1_000", "1e400", "-1e400", "1.7976931348623159e308", "0x1p1024", "1e-310",
    "1e-400", "4.9e-324", "2.2250738585072011e-308", "0x1.fffffffffffffp-1023",
    "0x0.00000000000008p-1022", "\xa01", "1,5", "0b1", "\x001" + "x",
])
def test_numeric_sort_refuses_what_strtod_does_not_read(reference, server, bad):
    assert_same(reference, server, [
        ["RPUSH", "l", "1", bad, "2"], ["SORT", "l"], ["SORT", "l", "DESC", "LIMIT", "0", "1"],
        ["SADD", "s", "1", bad], ["SORT", "s"],
        ["ZADD", "z", "1", bad, "2", "b"], ["SORT", "z"], ["SORT", "z", "BY", "nosort"],
        ["RPUSH", "k", "a", "b"], ["SET", "w_a", bad], ["SORT", "k", "BY", "w_*"],
        ["SORT", "k", "BY", "w_*", "STORE", "d"], ["EXISTS", "d"],
    ])


def test_equal_scores_order_by_element_bytes(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "1.0", "1", "01", "1e0", "0x1", " 1", "2", "1", "\x00", ""],
        ["SORT", "l"], ["SORT", "l", "DESC"], ["SORT", "l", "LIMIT", "2", "3"],
        ["SADD", "s", "1.0", "1", "01", "1e0", "0x1", " 1", "+1"],
        ["SORT", "s"], ["SORT", "s", "DESC"], ["SORT_RO", "s", "LIMIT", "1", "3"],
    ])


# -- ALPHA ------------------------------------------------------------------------------------

def test_alpha_compares_bytes(reference, server):
    elements = ["b", "a", "B", "", "ab", "aa", "\xff", "\x7f", "\x80x", "é", "10", "9", "a b",
                "A", "zz", "\x01"]
    assert_same(reference, server, [
        ["RPUSH", "l"] + elements,
        ["SORT", "l", "ALPHA"], ["SORT", "l", "ALPHA", "DESC"], ["SORT_RO", "l", "ALPHA"],
        ["SORT", "l", "ALPHA", "LIMIT", "3", "4"], ["SORT", "l", "ALPHA", "DESC", "LIMIT", "3", "4"],
        ["SORT", "l", "ALPHA", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "l", "ALPHA", "DESC", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
    ])


def test_alpha_without_store_stops_at_a_nul_byte(reference, server):
    # strcoll sees C strings: elements equal up to a NUL tie and keep the list's order
    # (glibc's qsort is stable); STORE compares whole strings.
    elements = ["a\x00c", "a", "a\x00b", "b\x00", "a\x00a", "b", "\x00z", "", "\x00a"]
    assert_same(reference, server, [
        ["RPUSH", "l"] + elements,
        ["SORT", "l", "ALPHA"], ["SORT", "l", "ALPHA", "DESC"],
        ["SORT", "l", "ALPHA", "LIMIT", "1", "4"],
        ["SORT", "l", "ALPHA", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "l", "ALPHA", "DESC", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "l"],
    ])


def test_alpha_on_every_source_type(reference, server):
    members = ["delta", "alpha", "charlie", "bravo", "echo", "10", "2", "-3"]
    assert_same(reference, server, [
        ["SADD", "s"] + members, ["ZADD", "z"] + flat([[str(i), m] for i, m in enumerate(members)]),
        ["SADD", "i", "5", "-1", "30", "2"],
        ["SORT", "s", "ALPHA"], ["SORT", "z", "ALPHA", "DESC"], ["SORT", "i", "ALPHA"],
        ["SORT", "s", "ALPHA", "LIMIT", "2", "3"], ["SORT", "z", "ALPHA", "STORE", "d"],
        ["LRANGE", "d", "0", "-1"], ["SORT", "i"], ["SORT", "i", "DESC", "LIMIT", "1", "2"],
    ])


# -- BY ---------------------------------------------------------------------------------------

def test_by_string_weights(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "a", "b", "c", "d", "e"],
        ["MSET", "w_a", "3", "w_b", "1", "w_c", "2", "w_d", "1"],
        ["SORT", "l", "BY", "w_*"], ["SORT", "l", "BY", "w_*", "DESC"],
        ["SORT", "l", "BY", "w_*", "LIMIT", "1", "2"], ["SORT", "l", "BY", "w_*", "ALPHA"],
        ["SORT", "l", "BY", "w_*", "ALPHA", "DESC"], ["SORT", "l", "BY", "*_w"],
        ["SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*"],
        ["MSET", "x_a_y", "9", "x_b_y", "-9"], ["SORT", "l", "BY", "x_*_y"],
        # the first `*` only is replaced
        ["MSET", "a*", "1", "b*", "0"], ["SORT", "l", "BY", "**"],
        # a weight that is not a string counts as missing
        ["RPUSH", "w_e", "0"], ["SORT", "l", "BY", "w_*"], ["SORT", "l", "BY", "w_*", "ALPHA"],
        ["SORT", "l", "BY", "w_*", "BY", "nosort"], ["SORT", "l", "BY", "nosort", "BY", "w_*"],
        ["SORT_RO", "l", "BY", "w_*", "DESC", "GET", "w_*"],
    ])


def test_by_hash_fields(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "1", "2", "3", "4"],
        ["HSET", "h_1", "f", "30", "g", "b"], ["HSET", "h_2", "f", "10", "g", "a"],
        ["HSET", "h_3", "g", "c"], ["SET", "h_4", "5"], ["SET", "h_4->f", "1"],
        ["SORT", "l", "BY", "h_*->f"], ["SORT", "l", "BY", "h_*->f", "DESC"],
        ["SORT", "l", "BY", "h_*->g", "ALPHA"], ["SORT", "l", "BY", "h_*->g", "ALPHA", "DESC"],
        ["SORT", "l", "BY", "h_*->f", "GET", "h_*->g", "GET", "#", "GET", "h_*->f"],
        # nothing after the arrow: the arrow is part of the key name
        ["SORT", "l", "BY", "h_*->", "GET", "h_*->"], ["SET", "h_1->", "-5"],
        ["SORT", "l", "BY", "h_*->"], ["SORT", "l", "GET", "h_*->"],
        # the field is everything after the first arrow
        ["HSET", "h_2", "f->x", "v"], ["SORT", "l", "GET", "h_*->f->x"],
        # an arrow before the `*` is part of the key
        ["HSET", "a->b1", "f", "z"], ["SORT", "l", "GET", "a->b*->f"],
        ["SORT", "l", "GET", "h_*->nosuchfield", "GET", "nokey_*->f"],
    ])


def test_weights_and_values_edited_in_place(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "a", "b", "c"],
        ["SET", "w_a", "1"], ["APPEND", "w_a", "5"], ["SETRANGE", "w_b", "0", "7"],
        ["SET", "w_c", "2"], ["APPEND", "w_c", "\x00x"],
        ["SORT", "l", "BY", "w_*", "GET", "w_*"], ["SORT", "l", "BY", "w_*", "ALPHA", "GET", "#"],
        ["SORT", "l", "BY", "w_*", "ALPHA", "GET", "w_*", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["APPEND", "w_b", "x"], ["SORT", "l", "BY", "w_*"],
    ])


def test_hashtable_encoded_hash_weights(reference, server):
    big = "v" * 80
    assert_same(reference, server, [
        ["RPUSH", "l", "x", "y", "z"],
        ["HSET", "h_x", "f", "2", "big", big], ["HSET", "h_y", "f", "1", "big", big],
        ["OBJECT", "ENCODING", "h_x"],
        ["SORT", "l", "BY", "h_*->f", "GET", "h_*->big", "GET", "h_*->f"],
    ])


def test_patterns_with_nul_bytes(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "a", "b"],
        ["SET", "w_a\x00tail", "2"], ["SET", "w_b\x00tail", "1"], ["SET", "w_a", "0"],
        ["SORT", "l", "BY", "w_*\x00tail"], ["SORT", "l", "GET", "w_*\x00tail"],
        # a `*` after a NUL is not seen: BY is constant, GET finds nothing
        ["SORT", "l", "BY", "x\x00*"], ["SORT", "l", "GET", "x\x00*"],
        ["SORT", "l", "GET", "#\x00junk"], ["SORT", "l", "GET", "#", "GET", "##"],
        ["HSET", "h_a", "f\x00g", "1", "f", "2"], ["SORT", "l", "GET", "h_*->f\x00g"],
        ["SORT", "l", "GET", "h_*-\x00>f"],
        # an element with a NUL is substituted whole
        ["RPUSH", "m", "a\x00tail"], ["SORT", "m", "BY", "w_*", "GET", "w_*", "GET", "#"],
    ])


def test_expired_weights_are_missing(reference, server):
    assert_same(reference, server, [
        ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
        ["RPUSH", "l", "a", "b", "c"],
        ["SET", "w_a", "5", "PX", "1"], ["SET", "w_b", "3"], ["SET", "w_c", "4", "PX", "1"],
        ["DEBUG", "SLEEP", "0.02"],
        ["DBSIZE"], ["SORT", "l", "BY", "w_*", "GET", "w_*"], ["DBSIZE"],
        ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ])


def test_keyspace_hits_and_misses_of_pattern_lookups(reference, server):
    script = [["RPUSH", "l", "a", "b", "c"], ["SET", "w_a", "1"], ["HSET", "h_b", "f", "1"],
              ["CONFIG", "RESETSTAT"],
              ["SORT", "l", "BY", "w_*", "GET", "h_*->f", "GET", "#", "GET", "const"],
              ["SORT", "nokey"], ["SORT", "l", "BY", "nosort", "GET", "w_*"]]
    stats = []
    for srv in (reference, server):
        run_script(srv.port, script)
        conn = RawConnection(srv.port)
        try:
            info = conn.command("INFO", "stats").decode()
        finally:
            conn.close()
        stats.append([line for line in info.split("\r\n")
                      if line.startswith(("keyspace_hits:", "keyspace_misses:"))])
    assert stats[0] == stats[1]
    assert stats[0] == ["keyspace_hits:5", "keyspace_misses:7"]


# -- BY nosort ----------------------------------------------------------------------------------

def test_nosort_keeps_list_and_zset_order(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "3", "x", "1", "2", "b", "a"],
        ["ZADD", "z", "3", "c", "1", "a", "2", "b", "2", "bb", "-1", "m"],
        ["SORT", "l", "BY", "nosort"], ["SORT", "l", "BY", "nosort", "DESC"],
        ["SORT", "l", "BY", "nosort", "ALPHA"], ["SORT", "l", "BY", "constant", "DESC", "ALPHA"],
        ["SORT", "z", "BY", "nosort"], ["SORT", "z", "BY", "nosort", "DESC"],
        ["SORT", "l", "BY", "nosort", "GET", "#", "GET", "w_*"],
        ["SORT", "l", "BY", "nosort", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "z", "BY", "nosort", "DESC", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT_RO", "z", "BY", "nosort", "LIMIT", "1", "2"],
        ["SORT_RO", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
    ])


@pytest.mark.parametrize("limit", [
    ("0", "0"), ("0", "1"), ("0", "-1"), ("1", "2"), ("2", "100"), ("-5", "2"), ("-1", "-1"),
    ("5", "1"), ("6", "1"), ("7", "3"), ("100", "-1"), ("3", "0"), ("0", LONG_MAX),
    (LONG_MAX, LONG_MAX), (LONG_MIN, LONG_MIN), (LONG_MIN, "3"), ("2", LONG_MIN), ("5", "-7"),
])
def test_limit_windows(reference, server, limit):
    offset, count = limit
    window = ["LIMIT", offset, count]
    script = [["RPUSH", "l", "5", "3", "1", "4", "2", "0"],
              ["ZADD", "z", "5", "e", "3", "c", "1", "a", "4", "d", "2", "b", "0", "_"],
              ["SADD", "i", "5", "3", "1", "4", "2", "0"],
              ["RPUSH", "one", "x"], ["MSET", "w_1", "9", "w_2", "8", "w_a", "1", "w_b", "2"],
              # the sorted set's members all have distinct weights: ties would come out in
              # Redis's hash order
              ["MSET", "w_c", "7", "w_d", "-1", "w_e", "11", "w__", "6"]]
    for key in ("l", "z", "i", "one", "nokey"):
        for extra in ([], ["DESC"], ["ALPHA"], ["BY", "nosort"], ["BY", "nosort", "DESC"],
                      ["BY", "w_*"], ["BY", "w_*", "ALPHA", "DESC"], ["GET", "#", "GET", "w_*"]):
            script.append(["SORT", key] + window + extra)
        script.append(["SORT", key, "BY", "nosort", "STORE", "d"] + window)
        script.append(["LRANGE", "d", "0", "-1"])
        script.append(["SORT", key, "STORE", "d", "DESC"] + window + ["GET", "#", "GET", "w_*"])
        script.append(["LRANGE", "d", "0", "-1"])
    assert_same(reference, server, script)


def test_nosort_on_a_hashtable_set_has_its_members(reference, server):
    members = ["m%d" % i for i in range(20)]
    script = [["SADD", "s"] + members,
              ["SORT", "s", "BY", "nosort"], ["SORT", "s", "BY", "nosort", "DESC"],
              ["SORT", "s", "BY", "nosort", "GET", "#"], ["SORT_RO", "s", "BY", "nosort"]]
    assert_same_unordered(reference, server, script, unordered={1, 2, 3, 4})
    # A LIMIT takes a slice of the set's own order: the right number of members.
    for srv in (reference, server):
        window = decode(run_script(srv.port, script[:1] + [
            ["SORT", "s", "BY", "nosort", "LIMIT", "5", "4"]])[1])
        assert len(window) == 4 and set(window) <= {m.encode() for m in members}


def test_nosort_on_an_intset_keeps_its_order(reference, server):
    assert_same(reference, server, [
        ["SADD", "i", "30", "-2", "7", "100", "0"], ["OBJECT", "ENCODING", "i"],
        ["SORT", "i", "BY", "nosort"], ["SORT", "i", "BY", "nosort", "DESC"],
        ["SORT", "i", "BY", "nosort", "LIMIT", "1", "3"],
    ])


def test_stored_set_is_sorted_even_with_nosort(reference, server):
    # A set's own order differs between servers, so what gets stored is sorted (ALPHA,
    # whole bytes), whatever BY nosort and DESC say.
    members = ["m%d" % i for i in range(20)] + ["10", "9", "", "a\x00b", "a\x00a", "a"]
    assert_same(reference, server, [
        ["SADD", "s"] + members,
        ["SORT", "s", "BY", "nosort", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "s", "BY", "nosort", "DESC", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "s", "BY", "nosort", "LIMIT", "2", "5", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "s", "BY", "nosort", "GET", "#", "GET", "w_*", "STORE", "d"],
        ["LRANGE", "d", "0", "-1"],
        ["SORT", "s", "BY", "w_*", "BY", "nosort", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
    ])


def test_scripts_see_sets_sorted_even_with_nosort(reference, server):
    # An intset tells the two orders apart: ascending numbers, or sorted as bytes.
    if not has_command(server, "eval"):
        pytest.skip("no scripting yet")
    sort = "return redis.call('%s', KEYS[1], 'by', 'nosort'%s)"
    assert_same(reference, server, [
        ["SADD", "i", "10", "9", "-1"], ["SORT", "i", "BY", "nosort"],
        ["EVAL", sort % ("sort", ""), "1", "i"], ["EVAL", sort % ("sort_ro", ""), "1", "i"],
        ["EVAL", sort % ("sort", ", 'desc', 'limit', '0', '2'"), "1", "i"],
        ["RPUSH", "l", "10", "9", "-1"], ["EVAL", sort % ("sort", ""), "1", "l"],
    ])


def test_transactions_keep_the_set_order_with_nosort(reference, server):
    if not has_command(server, "multi"):
        pytest.skip("no MULTI yet")
    assert_same(reference, server, [
        ["SADD", "i", "10", "9", "-1"], ["MULTI"], ["SORT", "i", "BY", "nosort"],
        ["SORT", "i", "BY", "nosort", "STORE", "d"], ["LRANGE", "d", "0", "-1"], ["EXEC"],
    ])


# -- ties under ALPHA + BY: the source order, and Redis's partial quicksort with LIMIT -----------

def _tie_script(key, elements, weights):
    script = [["RPUSH", key] + elements if key == "l" else ["SADD", key] + elements]
    script += [["SET", "w_%s" % e, w] for e, w in zip(elements, weights) if w is not None]
    return script


@pytest.mark.parametrize("size", [5, 7, 8, 30, 41, 120])
def test_ties_under_alpha_by_follow_redis(reference, server, size):
    elements = ["e%03d" % ((i * 37) % size) for i in range(size)]
    weights = [None if i % 5 == 0 else "w%d" % (i % 3) for i in range(size)]
    script = _tie_script("l", elements, weights)
    windows = [("0", "-1"), ("0", "1"), ("1", "3"), (str(size // 2), "2"), (str(size - 2), "5"),
               ("0", str(size - 1)), ("1", str(size)), ("3", "0"), (str(size), "1")]
    for offset, count in windows:
        for order in ("ASC", "DESC"):
            script.append(["SORT", "l", "BY", "w_*", "ALPHA", order, "LIMIT", offset, count])
    script.append(["SORT", "l", "BY", "w_*", "ALPHA"])
    script.append(["SORT", "l", "BY", "w_*", "ALPHA", "DESC"])
    script.append(["SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", "2", "9", "STORE", "d"])
    script.append(["LRANGE", "d", "0", "-1"])
    # an intset is read in ascending order on both servers
    numbers = [str((i * 53) % (size + 3)) for i in range(size)]
    script += _tie_script("i", numbers, weights)
    for offset, count in windows:
        script.append(["SORT", "i", "BY", "w_*", "ALPHA", "LIMIT", offset, count])
    assert_same(reference, server, script)


def test_numeric_by_with_limit_on_a_long_list(reference, server):
    size = 300
    elements = ["%d" % ((i * 7919) % 1000) for i in range(size)]
    script = [["RPUSH", "l"] + elements]
    script += [["SET", "w_%s" % e, str((i * 13) % 17)] for i, e in enumerate(elements) if i % 4]
    for offset, count in (("0", "10"), ("100", "50"), ("290", "20"), ("0", "-1")):
        script.append(["SORT", "l", "BY", "w_*", "LIMIT", offset, count])
        script.append(["SORT", "l", "BY", "w_*", "DESC", "LIMIT", offset, count, "GET", "w_*"])
        script.append(["SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", offset, count])
    script.append(["SORT", "l"])
    script.append(["SORT", "l", "ALPHA", "DESC", "LIMIT", "10", "20"])
    assert_same(reference, server, script)


# -- GET ----------------------------------------------------------------------------------------

def test_get_patterns(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "2", "1", "3"],
        ["MSET", "o_1", "one", "o_2", "two"], ["HSET", "h_3", "name", "three"],
        ["SORT", "l", "GET", "o_*"], ["SORT", "l", "GET", "#"], ["SORT", "l", "GET", "h_*->name"],
        ["SORT", "l", "GET", "o_*", "GET", "#", "GET", "h_*->name", "GET", "missing_*"],
        ["SORT", "l", "GET", "constant"], ["SET", "constant", "x"], ["SORT", "l", "GET", "constant"],
        ["SORT", "l", "GET", "#", "GET", "#", "DESC", "LIMIT", "1", "1"],
        ["SORT", "l", "GET", "o_*", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "l", "GET", "missing_*", "STORE", "d"], ["LRANGE", "d", "0", "-1"],
        ["SORT", "l", "GET", "#", "GET", "o_*", "STORE", "d"], ["LLEN", "d"],
        ["LRANGE", "d", "0", "-1"],
        ["SORT", "l", "LIMIT", "0", "0", "GET", "#", "STORE", "d"], ["EXISTS", "d"],
        ["RPUSH", "o_2", "list"], ["SORT", "l", "GET", "o_*"],
    ])


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_reply_shapes(reference, server, resp3):
    assert_same(reference, server, [
        ["RPUSH", "l", "2", "1"], ["SET", "o_1", "x"],
        ["SORT", "l"], ["SORT", "l", "GET", "o_*", "GET", "#"], ["SORT", "nokey"],
        ["SORT", "l", "STORE", "d"], ["SORT_RO", "l", "GET", "nothing_*"],
        ["SORT", "l", "junk"], ["SET", "s", "v"], ["SORT", "s"],
    ], resp3=resp3)


# -- STORE --------------------------------------------------------------------------------------

def test_store_writes_a_list(reference, server):
    assert_same(reference, server, [
        ["RPUSH", "l", "3", "1", "2"],
        ["SET", "d", "old", "EX", "100"], ["SORT", "l", "STORE", "d"],
        ["TYPE", "d"], ["OBJECT", "ENCODING", "d"], ["TTL", "d"], ["LRANGE", "d", "0", "-1"],
        ["HSET", "d", "f", "v"], ["DEL", "d"], ["HSET", "d", "f", "v"],
        ["SORT", "l", "DESC", "STORE", "d"], ["TYPE", "d"], ["LRANGE", "d", "0", "-1"],
        # the last STORE wins; the source can be its own destination
        ["SORT", "l", "STORE", "x", "STORE", "y"], ["EXISTS", "x"], ["LRANGE", "y", "0", "-1"],
        ["SORT", "l", "DESC", "STORE", "l"], ["LRANGE", "l", "0", "-1"],
        ["SADD", "s", "b", "a"], ["SORT", "s", "ALPHA", "STORE", "s"], ["TYPE", "s"],
        ["LRANGE", "s", "0", "-1"],
        ["ZADD", "z", "1", "b", "2", "a"], ["SORT", "z", "ALPHA", "STORE", "z"],
        ["LRANGE", "z", "0", "-1"],
        # an empty result deletes the destination
        ["SORT", "l", "LIMIT", "10", "1", "STORE", "l"], ["EXISTS", "l"],
        ["SORT", "nokey", "STORE", "s"], ["EXISTS", "s"],
        ["SORT", "x", "STORE", "y"], ["EXISTS", "y"],
    ])


def _changes(conn):
    info = conn.command("INFO", "persistence").decode()
    return int(info.split("rdb_changes_since_last_save:")[1].split("\r\n")[0])


def test_store_counts_changes(reference, server):
    """rdb_changes_since_last_save: one per stored item, one for a deleted destination."""
    script = [["RPUSH", "l", "3", "1", "2"], ["SET", "o_1", "x"],
              ["SORT", "l", "STORE", "d"],
              ["SORT", "l", "GET", "#", "GET", "o_*", "STORE", "d"],
              ["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
              ["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
              ["SORT", "l"], ["SORT_RO", "l"], ["SORT", "nokey", "STORE", "nokey2"]]
    changes = []
    for srv in (reference, server):
        conn = RawConnection(srv.port)
        try:
            conn.command("FLUSHALL")
            baseline = _changes(conn)
            seen = []
            for step in script:
                conn.command(*step)
                seen.append(_changes(conn) - baseline)
        finally:
            conn.close()
        changes.append(seen)
    assert changes[0] == changes[1]
    assert changes[0] == [3, 4, 7, 13, 14, 14, 14, 14, 14]


def test_sorted_sets_read_by_sort_become_skiplists(reference, server):
    assert_same(reference, server, [
        ["ZADD", "z", "1", "a", "2", "b"], ["OBJECT", "ENCODING", "z"],
        ["SORT_RO", "z", "ALPHA"], ["OBJECT", "ENCODING", "z"], ["ZRANGE", "z", "0", "-1"],
        ["ZADD", "y", "1", "a"], ["SORT", "y", "BY", "nosort", "LIMIT", "0", "0"],
        ["OBJECT", "ENCODING", "y"], ["ZADD", "y", "0", "b"], ["ZRANGE", "y", "0", "-1", "WITHSCORES"],
        ["ZADD", "x", "1", "a"], ["SORT", "x", "junk"], ["OBJECT", "ENCODING", "x"],
    ])


def test_large_sources(reference, server):
    size = 2000
    assert_same(reference, server, [
        ["RPUSH", "l"] + ["%d" % ((i * 7919) % 5003) for i in range(size)],
        ["ZADD", "z"] + flat([[str(i % 17), "m%d" % i] for i in range(size)]),
        ["SADD", "s"] + ["%d" % (i * 3) for i in range(size)],
        ["SORT", "l", "LIMIT", "100", "50"], ["SORT", "l", "ALPHA", "DESC", "LIMIT", "0", "30"],
        ["SORT", "z", "ALPHA", "LIMIT", "1500", "20"], ["SORT", "z", "BY", "nosort", "LIMIT", "990", "20"],
        ["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "990", "20"],
        ["SORT", "s", "DESC", "LIMIT", "10", "10"], ["SORT", "l", "STORE", "d"],
        ["LRANGE", "d", "1990", "-1"],
    ])


# -- what reaches replicas -----------------------------------------------------------------------

def _wait_in_sync(replica):
    conn = replica.raw()
    try:
        deadline = time.monotonic() + 15
        while b"master_link_status:up" not in conn.command("INFO", "replication"):
            assert time.monotonic() < deadline, "replica never synced"
            time.sleep(0.05)
    finally:
        conn.close()


PROPAGATION_SCRIPT = [
    ["RPUSH", "l", "3", "1", "2"], ["SADD", "s", "b", "c", "a"],
    ["SORT", "l"], ["SORT_RO", "l"], ["SORT", "l", "DESC", "STORE", "d"],
    ["SORT", "s", "BY", "nosort", "STORE", "e"],
    ["SORT", "l", "LIMIT", "0", "0", "STORE", "d"], ["SORT", "l", "LIMIT", "0", "0", "STORE", "d"],
    ["SORT", "nokey", "STORE", "x"], ["SORT", "l", "junk", "STORE", "d"], ["SET", "done", "1"],
]
# SORT ... STORE goes as it was sent, and only when it changed something.
PROPAGATED = [
    '"RPUSH" "l" "3" "1" "2"', '"SADD" "s" "b" "c" "a"', '"SORT" "l" "DESC" "STORE" "d"',
    '"SORT" "s" "BY" "nosort" "STORE" "e"', '"SORT" "l" "LIMIT" "0" "0" "STORE" "d"',
    '"SET" "done" "1"',
]


@pytest.mark.parametrize("master_kind", ["redis", "ours"])
def test_stores_are_what_replicas_receive(reference, server, master_kind):
    """A real redis-server replica of the master, watched with MONITOR."""
    master = reference if master_kind == "redis" else server
    if not has_command(master, "psync"):
        pytest.skip("no replication yet")
    control = master.raw()
    control.command("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    control.command("FLUSHALL")
    control.close()
    replica = ServerProcess(["--replicaof", "127.0.0.1", str(master.port)], reference=True)
    monitor = replica.raw()
    try:
        _wait_in_sync(replica)
        assert monitor.command("MONITOR") == b"+OK\r\n"
        conn = master.raw()
        try:
            for step in PROPAGATION_SCRIPT:
                conn.command(*step)
        finally:
            conn.close()
        seen = []
        while not seen or seen[-1] != '"SET" "done" "1"':
            line = monitor._line().decode()
            command = line.split("] ", 1)[1]
            if not command.startswith(('"PING"', '"SELECT"', '"REPLCONF"')):
                seen.append(command)
        assert seen == PROPAGATED
        stored = replica.raw()
        try:
            assert stored.command("LRANGE", "e", "0", "-1") == b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
        finally:
            stored.close()
    finally:
        monitor.close()
        replica.stop()


# -- the command table ----------------------------------------------------------------------------

def test_command_info_and_keys(reference, server):
    assert_same(reference, server, [
        ["COMMAND", "INFO", "sort", "sort_ro"], ["COMMAND", "INFO", "SORT"],
        ["COMMAND", "GETKEYS", "SORT", "a"], ["COMMAND", "GETKEYS", "SORT", "a", "STORE", "d"],
        ["COMMAND", "GETKEYS", "SORT", "a", "LIMIT", "0", "1", "STORE", "d", "STORE", "e"],
        ["COMMAND", "GETKEYS", "SORT", "a", "BY", "store", "GET", "store", "STORE"],
        ["COMMAND", "GETKEYS", "SORT", "a", "STORE", "limit", "1", "2", "x"],
        ["COMMAND", "GETKEYS", "SORT", "a", "STORE", "store", "x"],
        ["COMMAND", "GETKEYS", "SORT", "a", "LIMIT", "STORE", "d"],
        ["COMMAND", "GETKEYS", "SORT", "a", "junk", "STORE", "d"],
        ["COMMAND", "GETKEYS", "SORT", "a", "STORE\x00x", "d"],
        ["COMMAND", "GETKEYS", "SORT_RO", "a", "STORE", "d"],
        ["COMMAND", "GETKEYS", "SORT"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT", "a", "BY", "w_*", "STORE", "d"],
        ["COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "a", "GET", "#"],
    ])
    assert_same(reference, server, [["COMMAND", "INFO", "sort", "sort_ro"]], resp3=True)


# -- cluster mode ---------------------------------------------------------------------------------

def _serve_all_slots(srv):
    """Give a one-node cluster every slot and wait until it serves commands."""
    conn = RawConnection(srv.port)
    try:
        conn.command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        deadline = time.monotonic() + 10
        while conn.command("SORT", "probe").startswith(b"-CLUSTERDOWN"):
            assert time.monotonic() < deadline, "cluster never came up"
            time.sleep(0.05)
    finally:
        conn.close()


def test_patterns_refused_in_cluster_mode(reference, start_server):
    redis = ServerProcess(["--cluster-enabled", "yes"], reference=True)
    try:
        ours = start_server("--cluster-enabled", "yes")
        for srv in (redis, ours):
            _serve_all_slots(srv)
        script = [["RPUSH", "k", "2", "1"],
                  ["SORT", "k", "BY", "w_*"], ["SORT", "k", "BY", "{k}w_*"], ["SORT", "k", "GET", "#"],
                  ["SORT_RO", "k", "GET", "x"], ["SORT", "k", "BY", "nosort"], ["SORT", "k", "BY", "w_"],
                  ["SORT", "k", "LIMIT", "0", "x", "BY", "w_*"], ["SORT", "k", "BY", "w_*", "junk"],
                  ["SORT", "k", "junk", "BY", "w_*"], ["SORT", "k", "BY", "w_\x00*"],
                  ["SORT", "k", "DESC", "STORE", "{k}d"], ["LRANGE", "{k}d", "0", "-1"]]
        expected = run_script(redis.port, script)
        actual = run_script(ours.port, script)
        assert actual == expected
        assert expected[1] == b"-ERR BY option of SORT denied in Cluster mode.\r\n"
        assert expected[3] == b"-ERR GET option of SORT denied in Cluster mode.\r\n"
    finally:
        redis.stop()


# -- random command sequences against the reference --------------------------------------------

LIST_ELEMENTS = st.sampled_from([b"1", b"2", b"10", b"-3", b"2.5", b"a", b"b", b"B", b"",
                                 b"\x00", b"a\x00b", b"1e2", b" 4", b"x" * 20, b"\xff"])
MEMBERS = st.sampled_from([b"1", b"2", b"10", b"-3", b"2.5", b"a", b"b", b"B", b"", b"1e2",
                           b"\xff", b"m" * 70])
NUMERIC_ONLY = st.sampled_from([b"1", b"2", b"10", b"-3", b"7", b"0"])
WEIGHTS = st.sampled_from([b"1", b"2", b"0", b"-1.5", b"a", b"b", b"", b"x"])
LIST_KEYS = st.sampled_from([b"l1", b"l1", b"l2", b"dst"])
SET_KEYS = st.sampled_from([b"s1", b"s2"])
ZSET_KEYS = st.sampled_from([b"z1", b"z2"])
LIMITS = st.sampled_from([[], [], [b"LIMIT", b"0", b"2"], [b"LIMIT", b"1", b"-1"],
                          [b"LIMIT", b"-1", b"3"], [b"LIMIT", b"2", b"0"], [b"LIMIT", b"5", b"10"]])
GETS = st.lists(st.sampled_from([b"#", b"w_*", b"h_*->f", b"nope_*"]), max_size=2).map(
    lambda ps: flat([[b"GET", p] for p in ps]))
ORDER = st.sampled_from([[], [b"ASC"], [b"DESC"]])
STORE = st.sampled_from([[], [], [b"STORE", b"dst"]])


def sort_command(source, by_and_alpha, store=STORE, names=(b"SORT", b"SORT_RO")):
    return st.tuples(st.sampled_from(names), source, by_and_alpha, LIMITS, GETS, ORDER,
                     store).map(_sort_argv)


def _sort_argv(parts):
    name, key, (by, alpha), limit, gets, order, store = parts
    argv = [name, key] + by + limit + gets + order + alpha
    if name == b"SORT":
        argv += store
    return argv


PATTERN_BY = [[b"BY", b"w_*"], [b"BY", b"h_*->f"]]
NO_BY = [[]]
NOSORT = [[b"BY", b"nosort"]]
NUMERIC, ALPHA = [], [b"ALPHA"]


def by_and_alpha(*combinations):
    return st.sampled_from([(by, alpha) for bys, alphas in combinations
                            for by in bys for alpha in alphas])


def sort_commands():
    writes = st.one_of(
        st.tuples(st.sampled_from([b"RPUSH", b"LPUSH"]), LIST_KEYS,
                  st.lists(LIST_ELEMENTS, min_size=1, max_size=6)).map(flat),
        st.tuples(st.just(b"SADD"), SET_KEYS, st.lists(MEMBERS, min_size=1, max_size=6)).map(flat),
        st.tuples(st.just(b"SADD"), SET_KEYS, st.lists(NUMERIC_ONLY, min_size=1, max_size=4)).map(flat),
        st.tuples(st.just(b"ZADD"), ZSET_KEYS, st.lists(
            st.tuples(st.sampled_from([b"1", b"2", b"0", b"-1"]), MEMBERS).map(list),
            min_size=1, max_size=5).map(flat)).map(flat),
        st.tuples(st.just(b"SET"), st.sampled_from([b"w_"]), LIST_ELEMENTS, WEIGHTS).map(
            lambda p: [p[0], p[1] + p[2], p[3]]),
        st.tuples(st.just(b"HSET"), st.just(b"h_"), LIST_ELEMENTS, WEIGHTS).map(
            lambda p: [p[0], p[1] + p[2], b"f", p[3]]),
        st.tuples(st.just(b"DEL"), st.sampled_from([b"l1", b"s1", b"z1", b"dst", b"w_a"])).map(list),
    )
    reads = st.one_of(
        st.tuples(st.sampled_from([b"LRANGE"]), LIST_KEYS, st.just(b"0"), st.just(b"-1")).map(list),
        st.tuples(st.sampled_from([b"TYPE", b"EXISTS"]), st.just(b"dst")).map(list),
    )
    anything = by_and_alpha((NO_BY + PATTERN_BY + NOSORT, [NUMERIC, ALPHA]))
    # Sets and sorted sets have another order in Redis: only sorts whose result does not
    # depend on the source's order are compared for them (no ALPHA + BY ties; a set with
    # BY nosort only when stored, which sorts it).
    no_ties = by_and_alpha((NO_BY, [NUMERIC, ALPHA]), (PATTERN_BY, [NUMERIC]))
    return st.one_of(
        writes, writes, reads,
        sort_command(LIST_KEYS, anything), sort_command(LIST_KEYS, anything),
        sort_command(SET_KEYS, no_ties),
        sort_command(SET_KEYS, by_and_alpha((NOSORT, [NUMERIC, ALPHA])),
                     store=st.just([b"STORE", b"dst"]), names=(b"SORT",)),
        sort_command(ZSET_KEYS, no_ties),
        sort_command(ZSET_KEYS, by_and_alpha((NOSORT, [NUMERIC, ALPHA]))),
    )


# Sources that already hold something, so that most sorts have work to do.
RANDOM_SETUP = [
    [b"RPUSH", b"l1", b"2", b"a", b"10", b"", b"a\x00b", b"1", b"B", b"2.5"],
    [b"RPUSH", b"l2", b"3", b"-3", b"1e2", b"7"],
    [b"SADD", b"s1", b"b", b"a", b"10", b"2", b"\xff"], [b"SADD", b"s2", b"7", b"-3", b"0", b"10"],
    [b"ZADD", b"z1", b"1", b"a", b"0", b"b", b"1", b"10", b"2", b"2"],
    [b"MSET", b"w_a", b"3", b"w_2", b"-1", b"w_10", b"x", b"w_b", b"0"],
    [b"HSET", b"h_1", b"f", b"9"], [b"HSET", b"h_a", b"f", b"b"],
]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sort_commands(), min_size=10, max_size=40))
def test_random_sequences(reference, server, script):
    assert_same(reference, server, RANDOM_SETUP + script)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(sort_commands(), min_size=10, max_size=30))
def test_random_sequences_resp3(reference, server, script):
    assert_same(reference, server, RANDOM_SETUP + script, resp3=True)

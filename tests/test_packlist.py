"""Packed lists (the small form of hashes, sets and sorted sets): the native
(Cython) and pure-Python twins, each checked against plain Python lists doing
the same edits, and both producing the same bytes."""
import random

import pytest

from differential import ours, pure_server  # noqa: F401 (fixtures)
from harness import REQUIRE_REFERENCE, run_python
from server.values import packlist as pure_module

try:
    from native import packlist as native_module
except ImportError:          # not built: only the pure twin is tested
    native_module = None

IMPLEMENTATIONS = [pytest.param(pure_module, id="pure"),
                   pytest.param(native_module, id="native",
                                marks=pytest.mark.skipif(native_module is None and not REQUIRE_REFERENCE,
                                                         reason="native/packlist not built"))]


@pytest.fixture(params=IMPLEMENTATIONS)
def pl(request):
    if request.param is None:
        pytest.fail("native.packlist is not importable: the Cython extension did not build")
    return request.param


def random_string(rng):
    kind = rng.random()
    if kind < 0.1:
        return b""
    if kind < 0.2:
        return bytes(rng.randrange(256) for _ in range(rng.choice([127, 128, 129, 300, 20000])))
    return bytes(rng.randrange(256) for _ in range(rng.randrange(6)))


def random_score(rng):
    return rng.choice([0.0, -0.0, 1.0, -1.5, 2.5, float("inf"), float("-inf"), 1e300, -7.0,
                       rng.uniform(-10, 10), float(rng.randrange(-3, 4))])


# -- string lists ------------------------------------------------------------------------------

def test_empty_list(pl):
    assert pl.EMPTY == pl.pack([]) == b"\x00"
    assert pl.count(pl.EMPTY) == 0
    assert pl.unpack(pl.EMPTY) == []
    assert pl.index(pl.EMPTY, b"x", 1) == -1
    assert pl.pair_get(pl.EMPTY, b"x") is None
    assert pl.pair_delete(pl.EMPTY, b"x") is None
    with pytest.raises(IndexError):
        pl.item(pl.EMPTY, 0)


def test_layout_is_count_then_length_prefixed_entries(pl):
    assert pl.pack([b"ab", b""]) == b"\x02\x02ab\x00"
    long_entry = b"x" * 200
    assert pl.pack([long_entry]) == b"\x01\xc8\x01" + long_entry
    assert pl.unpack(pl.pack([long_entry, b"y"])) == [long_entry, b"y"]
    many = [b"%d" % i for i in range(300)]
    packed = pl.pack(many)
    assert packed[:2] == b"\xac\x02" and pl.count(packed) == 300 and pl.unpack(packed) == many


def test_entries_by_index(pl):
    items = [b"a", b"", b"ccc", b"a", b"\x00\xff"]
    buf = pl.pack(items)
    assert [pl.item(buf, i) for i in range(5)] == items
    for bad in (-1, 5, 100):
        with pytest.raises(IndexError):
            pl.item(buf, bad)
        with pytest.raises(IndexError):
            pl.replace(buf, bad, b"z")
        with pytest.raises(IndexError):
            pl.swap_remove(buf, bad)
    assert pl.index(buf, b"a", 1) == 0
    assert pl.index(buf, b"", 1) == 1
    assert pl.index(buf, b"\x00\xff", 1) == 4
    assert pl.index(buf, b"\x00", 1) == -1
    assert pl.index(buf, b"ccc", 2) == 2 and pl.index(buf, b"", 2) == -1
    assert pl.unpack(pl.replace(buf, 2, b"zz" * 100)) == [b"a", b"", b"zz" * 100, b"a", b"\x00\xff"]
    assert pl.unpack(pl.delete(buf, 1, 2)) == [b"a", b"a", b"\x00\xff"]
    assert pl.unpack(pl.delete(buf, 3, 10)) == [b"a", b"", b"ccc"]
    assert pl.unpack(pl.swap_remove(buf, 1)) == [b"a", b"\x00\xff", b"ccc", b"a"]
    assert pl.unpack(pl.swap_remove(buf, 4)) == [b"a", b"", b"ccc", b"a"]
    assert pl.unpack(pl.append(buf, b"new")) == items + [b"new"]
    assert pl.unpack(pl.append_pair(buf, b"f", b"v")) == items + [b"f", b"v"]
    assert pl.unpack(buf) == items                      # nothing edits its argument


def test_pairs(pl):
    buf = pl.EMPTY
    buf, created = pl.pair_set(buf, b"f1", b"v1")
    assert created and pl.unpack(buf) == [b"f1", b"v1"]
    buf, created = pl.pair_set(buf, b"v1", b"f1")     # a value equal to a field is not a field
    assert created and pl.unpack(buf) == [b"f1", b"v1", b"v1", b"f1"]
    buf, created = pl.pair_set(buf, b"f1", b"")
    assert not created and pl.unpack(buf) == [b"f1", b"", b"v1", b"f1"]
    same, created = pl.pair_set(buf, b"v1", b"f1")    # the value it already has
    assert not created and same == buf
    assert pl.pair_get(buf, b"f1") == b"" and pl.pair_get(buf, b"v1") == b"f1"
    assert pl.pair_get(buf, b"") is None
    assert pl.pair_delete(buf, b"f") is None
    assert pl.unpack(pl.pair_delete(buf, b"f1")) == [b"v1", b"f1"]


def test_random_edits_match_a_list_model(pl):
    rng = random.Random(7)
    for _ in range(200):
        model = []
        buf = pl.EMPTY
        for _ in range(rng.randrange(40)):
            op = rng.randrange(7)
            if op == 0:
                value = random_string(rng)
                buf = pl.append(buf, value)
                model.append(value)
            elif op == 1:
                field, value = random_string(rng), random_string(rng)
                buf, created = pl.pair_set(buf, field, value) if len(model) % 2 == 0 else (buf, None)
                if created is not None:
                    fields = model[0::2]
                    assert created == (field not in fields)
                    if field in fields:
                        model[2 * fields.index(field) + 1] = value
                    else:
                        model += [field, value]
            elif op == 2 and model:
                i = rng.randrange(len(model))
                value = random_string(rng)
                buf = pl.replace(buf, i, value)
                model[i] = value
            elif op == 3 and model:
                i = rng.randrange(len(model))
                n = rng.randrange(4)
                buf = pl.delete(buf, i, n)
                del model[i:i + n]
            elif op == 4 and model:
                i = rng.randrange(len(model))
                buf = pl.swap_remove(buf, i)
                last = model.pop()
                if i < len(model):
                    model[i] = last
            elif op == 5 and model:
                probe = rng.choice(model + [random_string(rng)])
                stride = rng.choice([1, 2])
                expected = next((i for i in range(0, len(model), stride) if model[i] == probe), -1)
                assert pl.index(buf, probe, stride) == expected
            elif op == 6:
                buf = pl.pack(list(model))
            assert pl.count(buf) == len(model)
            assert pl.unpack(buf) == model
            assert buf == pure_module.pack(model)


# -- scored lists -----------------------------------------------------------------------------------

def sorted_pairs(pairs):
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def test_scored_layout(pl):
    import struct
    buf = pl.zpack([(b"m", 1.5)])
    assert buf == b"\x01\x01m" + struct.pack("=d", 1.5)
    assert pl.zunpack(buf) == ([b"m"], [1.5])
    assert pl.zunpack(pl.EMPTY) == ([], [])
    assert pl.zscore(pl.EMPTY, b"m") is None and pl.zrank(pl.EMPTY, b"m") == -1
    assert pl.zremove(pl.EMPTY, b"m") is None
    assert pl.zitems(pl.EMPTY, 0, 5) == [] and pl.zmembers(pl.EMPTY, 0, 5) == []
    assert pl.zbisect_score(pl.EMPTY, 1.0, True) == 0


def test_scored_order_ties_and_bounds(pl):
    buf = pl.EMPTY
    for member, score in [(b"b", 1.0), (b"a", 1.0), (b"", 1.0), (b"z", -1.0), (b"ab", 1.0),
                          (b"big", float("inf")), (b"small", float("-inf"))]:
        buf = pl.zinsert(buf, member, score)
    members, scores = pl.zunpack(buf)
    assert members == [b"small", b"z", b"", b"a", b"ab", b"b", b"big"]
    assert scores == [float("-inf"), -1.0, 1.0, 1.0, 1.0, 1.0, float("inf")]
    assert pl.zrank(buf, b"ab") == 4 and pl.zscore(buf, b"big") == float("inf")
    assert pl.zscore_at(buf, 0) == float("-inf")
    with pytest.raises(IndexError):
        pl.zscore_at(buf, 7)
    assert pl.zbisect_score(buf, 1.0, False) == 2 and pl.zbisect_score(buf, 1.0, True) == 6
    assert pl.zbisect_score(buf, float("inf"), True) == 7
    assert pl.zitems(buf, 5, 100) == [(b"b", 1.0), (b"big", float("inf"))]
    assert pl.zitems(buf, -3, 1) == [(b"small", float("-inf"))]
    assert pl.zmembers(buf, 2, 4) == [b"", b"a"]
    assert pl.zunpack(pl.zdelete(buf, 1, 3))[0] == [b"small", b"a", b"ab", b"b", b"big"]
    assert pl.zdelete(buf, 3, 3) == buf and pl.zdelete(buf, 5, 2) == buf
    tied = pl.zpack([(b"a", 0.0), (b"b", 0.0), (b"bb", 0.0), (b"c", 0.0)])
    assert pl.zbisect_member(tied, b"b", False) == 1 and pl.zbisect_member(tied, b"b", True) == 2
    assert pl.zbisect_member(tied, b"", False) == 0 and pl.zbisect_member(tied, b"d", True) == 4


def test_random_scored_edits_match_a_sorted_model(pl):
    rng = random.Random(11)
    for _ in range(200):
        model = {}
        buf = pl.EMPTY
        for _ in range(rng.randrange(40)):
            op = rng.randrange(4)
            member = rng.choice(list(model) + [random_string(rng)]) if model else random_string(rng)
            if op == 0 and member not in model:
                score = random_score(rng) + 0.0
                buf = pl.zinsert(buf, member, score)
                model[member] = score
            elif op == 1:
                removed = pl.zremove(buf, member)
                if member in model:
                    del model[member]
                    buf = removed
                else:
                    assert removed is None
            elif op == 2 and model:
                start = rng.randrange(-2, len(model) + 2)
                stop = rng.randrange(-2, len(model) + 2)
                buf = pl.zdelete(buf, start, stop)
                kept = sorted_pairs(model.items())
                del kept[max(start, 0):max(stop, 0)]
                model = dict(kept)
            elif op == 3:
                buf = pl.zpack(sorted_pairs(model.items()))
            pairs = sorted_pairs(model.items())
            assert pl.count(buf) == len(pairs)
            assert pl.zitems(buf, 0, len(pairs)) == pairs
            assert buf == pure_module.zpack(pairs)
            probe = rng.choice(list(model) + [random_string(rng)]) if model else b"?"
            ranked = [m for m, _ in pairs]
            assert pl.zrank(buf, probe) == (ranked.index(probe) if probe in model else -1)
            assert pl.zscore(buf, probe) == model.get(probe)
            bound = random_score(rng)
            scores = [s for _, s in pairs]
            assert pl.zbisect_score(buf, bound, False) == sum(s < bound for s in scores)
            assert pl.zbisect_score(buf, bound, True) == sum(s <= bound for s in scores)


def test_pure_switch_picks_the_python_twin():
    code = "from server.values import packlist; print(packlist.implementation().__name__)"
    out = run_python(code, pure=True)
    assert out.stdout.strip() == "server.values.packlist", out.stderr
    out = run_python(code, pure=False)
    expected = "native.packlist" if native_module is not None else "server.values.packlist"
    assert out.stdout.strip() == expected, out.stderr


# -- the packed forms inside the server, on both twins --------------------------------------------

BINARY = b"\x00\xff\r\n"
SMALL_HASHES = [
    ["HSET", "h", "f1", "v1", "f2", "v2", "f3", "v3"], ["HGETALL", "h"], ["HSET", "h", "f2", "new"],
    ["HGETALL", "h"], ["HDEL", "h", "f1"], ["HKEYS", "h"], ["HVALS", "h"], ["HSET", "h", "f1", ""],
    ["HSET", "h", BINARY, BINARY, "", "empty field"], ["HGETALL", "h"], ["HGET", "h", ""],
    ["HGET", "h", BINARY], ["HGET", "h", "v1"], ["HGET", "h", "nope"], ["HEXISTS", "h", "f2"],
    ["HEXISTS", "h", "new"], ["HSTRLEN", "h", "f2"], ["HLEN", "h"], ["HMGET", "h", "f1", "x", "f3"],
    ["HINCRBY", "h", "n", "5"], ["HINCRBY", "h", "n", "-7"], ["HINCRBYFLOAT", "h", "fl", "1.5"],
    ["HINCRBY", "h", "f2", "1"], ["HSETNX", "h", "f3", "x"], ["HSETNX", "h", "f4", "x"],
    ["HSCAN", "h", "0"], ["HSCAN", "h", "0", "MATCH", "f*", "COUNT", "1"], ["HGETALL", "h"],
    ["OBJECT", "ENCODING", "h"], ["HDEL", "h", "f1", "f2", "f3", "f4", "n", "fl", "", BINARY, "x"],
    ["EXISTS", "h"],
    ["HSET", "c", "a", "1", "b", "2"], ["COPY", "c", "c2"], ["HSET", "c2", "a", "changed", "z", "9"],
    ["HDEL", "c2", "b"], ["HGETALL", "c"], ["HGETALL", "c2"], ["DUMP", "c"], ["DUMP", "c2"],
    ["HSET", "long", "f", "x" * 64], ["OBJECT", "ENCODING", "long"], ["HSET", "long", "g", "y" * 65],
    ["OBJECT", "ENCODING", "long"], ["HGET", "long", "g"], ["HLEN", "long"],
]

SMALL_ZSETS = [
    ["ZADD", "z", "2", "b", "1", "a", "3", "c", "1", "aa", "-inf", "low", "+inf", "high"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZSCORE", "z", "aa"], ["ZSCORE", "z", "nope"],
    ["ZRANK", "z", "c"], ["ZREVRANK", "z", "c"], ["ZRANK", "z", "nope"], ["ZMSCORE", "z", "a", "x"],
    ["ZADD", "z", "-0", "zero"], ["ZSCORE", "z", "zero"], ["ZINCRBY", "z", "10", "a"],
    ["ZADD", "z", "XX", "CH", "0.5", "b"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
    ["ZRANGEBYSCORE", "z", "(0.5", "3", "WITHSCORES"], ["ZRANGEBYSCORE", "z", "-inf", "(1"],
    ["ZCOUNT", "z", "0", "1"], ["ZREVRANGE", "z", "0", "2"], ["ZREM", "z", "aa", "nope"],
    ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "2"], ["ZSCAN", "z", "0"], ["ZREMRANGEBYRANK", "z", "1", "1"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "z"],
    ["ZADD", "lex", "0", "b", "0", "a", "0", "", "0", BINARY, "0", "ab"],
    ["ZRANGEBYLEX", "lex", "[a", "(b"], ["ZLEXCOUNT", "lex", "-", "+"], ["ZRANGE", "lex", "0", "-1"],
    ["ZREMRANGEBYLEX", "lex", "(a", "+"], ["ZRANGE", "lex", "0", "-1"], ["DUMP", "lex"],
    ["ZADD", "mixed", "1", "b", "2", "a", "3", "c"], ["ZRANGEBYLEX", "mixed", "[a", "[c"],
    ["ZADD", "c", "1", "a", "2", "b"], ["COPY", "c", "c2"], ["ZADD", "c2", "5", "a", "0", "z"],
    ["ZRANGE", "c", "0", "-1", "WITHSCORES"], ["ZRANGE", "c2", "0", "-1", "WITHSCORES"],
    ["ZADD", "long", "1", "x" * 64], ["OBJECT", "ENCODING", "long"], ["ZADD", "long", "2", "y" * 65],
    ["OBJECT", "ENCODING", "long"], ["ZRANGE", "long", "0", "-1", "WITHSCORES"],
]

SMALL_SETS = [
    ["SADD", "s", "3", "1", "2"], ["SMEMBERS", "s"], ["OBJECT", "ENCODING", "s"], ["SADD", "s", "a"],
    ["OBJECT", "ENCODING", "s"], ["SCARD", "s"], ["SISMEMBER", "s", "1"], ["SISMEMBER", "s", "a"],
    ["SISMEMBER", "s", "b"], ["SMISMEMBER", "s", "1", "b", "a", ""], ["SADD", "s", "", BINARY, "a"],
    ["SISMEMBER", "s", ""], ["SISMEMBER", "s", BINARY], ["SREM", "s", "1", "nope", ""], ["SCARD", "s"],
    ["SMOVE", "s", "t", "a"], ["SISMEMBER", "t", "a"], ["SISMEMBER", "s", "a"],
    ["SINTERCARD", "2", "s", "t"], ["SADD", "t", "2"], ["SINTERCARD", "2", "s", "t"],
    ["SADD", "c", "x", "y"], ["COPY", "c", "c2"], ["SREM", "c2", "x"], ["SADD", "c2", "z"],
    ["SCARD", "c"], ["SISMEMBER", "c", "x"], ["SISMEMBER", "c2", "x"], ["SISMEMBER", "c", "z"],
    ["SADD", "long", "x" * 64, "y" * 65], ["SISMEMBER", "long", "y" * 65], ["SCARD", "long"],
    ["OBJECT", "ENCODING", "long"],
]


@pytest.mark.parametrize("script", [SMALL_HASHES, SMALL_ZSETS, SMALL_SETS], ids=["hash", "zset", "set"])
def test_small_aggregates_match_redis_on_both_twins(reference, ours, script):
    from differential import assert_same
    assert_same(reference, ours, script)
    assert_same(reference, ours, script, resp3=True)


def test_sets_around_the_packed_limits(reference, ours):
    """A hashtable set leaves its packed form past 128 members or a member over 64
    bytes; nothing a client sees changes (SSCAN still returns every member)."""
    from differential import assert_same
    for count, length in ((127, 10), (128, 10), (129, 10), (3, 64), (3, 65)):
        members = [(b"m%d-" % i).ljust(length, b"x") for i in range(count)]
        script = [["SADD", "s"] + members, ["SCARD", "s"], ["OBJECT", "ENCODING", "s"],
                  ["SADD", "s", "extra"], ["SCARD", "s"], ["SISMEMBER", "s", members[0]],
                  ["SISMEMBER", "s", members[-1]], ["SREM", "s", members[0], "extra"], ["SCARD", "s"],
                  ["SISMEMBER", "s", members[0]], ["SISMEMBER", "s", members[-1]]]
        assert_same(reference, ours, script)
        client = ours.client()
        try:
            client.delete("s")
            client.sadd("s", *members)
            seen, cursor = set(), 0
            while True:
                cursor, found = client.sscan("s", cursor, count=7)
                seen.update(found)
                if cursor == 0:
                    break
            assert seen == set(members)
            popped = client.spop("s", count + 5)
            assert sorted(popped) == sorted(members) and client.exists("s") == 0
        finally:
            client.close()

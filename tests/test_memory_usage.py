"""MEMORY USAGE against the reference: Redis's estimate for the same data, byte for byte
where Redis's own figure does not depend on chance (a skiplist's random node heights)."""
from differential import assert_same, ours, pure_server  # noqa: F401  (fixtures)


def test_usage_matches_redis(reference, ours):
    numbers = [str(i) for i in range(1, 2001)]
    assert_same(reference, ours, [
        ["SET", "foo", "bar"], ["SET", "n", "12345"], ["SET", "neg", "-7"], ["SET", "e", ""],
        ["SET", "s44", "x" * 44], ["SET", "s45", "x" * 45], ["SET", "big", "x" * 1000],
        ["SET", "huge", "y" * 70000], ["SET", "k" * 40, "v"],
        ["RPUSH", "l", "a", "b", "c"], ["RPUSH", "l2", "a", "bb", "ccc", "1000", "-5", "123456789012"],
        ["RPUSH", "ll"] + numbers,
        ["HSET", "h", "f", "v"], ["HSET", "h2", "a", "1", "bb", "22", "c" * 70, "x" * 100],
        ["SADD", "s", "1", "2", "3"], ["SADD", "s16", "1", "40000"], ["SADD", "s64", "1", "5000000000"],
        ["SADD", "s2", "a", "b", "c"], ["SADD", "ss"] + numbers[:600],
        ["ZADD", "z", "1", "a"], ["ZADD", "z2", "1.5", "a", "2", "bb", "-3", "c"],
    ] + [["MEMORY", "USAGE", key] for key in (
        "foo", "n", "neg", "e", "s44", "s45", "big", "huge", "k" * 40, "l", "l2", "ll", "h", "h2",
        "s", "s16", "s64", "s2", "ss", "z", "z2", "nosuch")] + [
        ["MEMORY", "USAGE", "ss", "SAMPLES", "0"], ["MEMORY", "USAGE", "ll", "samples", "1"],
        ["MEMORY", "USAGE", "foo", "SAMPLES", "-1"], ["MEMORY", "USAGE", "foo", "SAMPLES"],
        ["MEMORY", "USAGE", "foo", "SAMPLES", "x"], ["MEMORY", "USAGE", "foo", "bogus"],
        ["MEMORY", "USAGE"], ["MEMORY", "HELP"], ["MEMORY", "HELP", "x"],
        ["COMMAND", "GETKEYS", "MEMORY", "USAGE", "key"],
    ])


def test_skiplist_estimate_is_close_to_redis(reference, ours):
    """Redis counts each node at its random height; the estimate stays within 5%."""
    sizes = []
    for srv in (reference, ours):
        client = srv.client()
        try:
            client.delete("zz")
            client.zadd("zz", {"m%d" % i: i for i in range(400)})
            sizes.append(client.memory_usage("zz", samples=0))
        finally:
            client.close()
    assert abs(sizes[0] - sizes[1]) < sizes[0] * 0.05

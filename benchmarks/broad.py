"""The broad set: everyday commands of every family, with their common options, on prefilled
data and keys spread by redis-benchmark's `-r`.

Each test is one command line for redis-benchmark; every `__rand_int__` in it becomes a
12-digit number below the test's own key count (`-r`), so a test hits keys of one shape
spread over the prefilled ones: `str:000000012345` exists in every round because the fill
writes `str:%012d` for every number below its count. `fill_commands` writes the same data
into both servers (FLUSHALL first, then pipelined raw RESP), before every round of
`run.py --set broad`, so the runs of a round start from the same dataset.

The data, for --keys K (default 100,000):

    str:N     K strings of 32 bytes                    GET, SET ... GET, MGET, EXISTS, ...
    ttl:N     K strings with a TTL of a day            TTL, PTTL, EXPIRE, GETEX, PERSIST
    cnt:N     K integers; flt:N K floats; app:N K short strings; tmp:N K strings (DEL)
    h:N       K/10 hashes of 11 fields (f0..f9 and a counter n)
    hb:N      K/100 hashes of 100 fields
    l:N       K/100 lists of 100 elements; q:N K/100 queues of at least 500 jobs
    s:N       K/10 sets of 10 members, overlapping their neighbours'
    lb        one leaderboard: a sorted set of K players, player N with score N
    z:N       K/10 sorted sets of 10 members
    bm:N      K/10 bitmaps of 32 bytes; hll:N K/100 HyperLogLogs of 100 elements
    ev:N      K/100 streams of 100 entries
    a cached Lua script (EVALSHA of a GET)

tests/test_bench_broad.py runs every test's command once on both servers over the same
(smaller) fill and compares the replies, so the benchmark never times an error.
"""
import hashlib

import servers

DEFAULT_KEYS = 100000
GET_SCRIPT = "return redis.call('get', KEYS[1])"
GET_SCRIPT_SHA = hashlib.sha1(GET_SCRIPT.encode()).hexdigest()
VALUE = "v" * 32
R = "__rand_int__"

# Reply comparisons for the smoke test: "exact" bytes; "unordered": the same elements in any
# order (sets are hash tables in both, iterated in a seed-dependent order); "ttl": integers
# within a few seconds / milliseconds of each other; "id": a stream ID of the same shape.
EXACT, UNORDERED, TTL, STREAM_ID = "exact", "unordered", "ttl", "id"


class Test:
    """One command line, how many keys its __rand_int__ spreads over (--keys / divisor, the
    size of its family in the fill) and how its replies compare."""

    def __init__(self, name, command, divisor=1, compare=EXACT):
        self.name = name
        self.command = command
        self.divisor = divisor
        self.compare = compare

    def random_keys(self, keys):
        """The -r of the test for a fill of --keys `keys`."""
        return max(1, keys // self.divisor)


def _t(name, command, divisor=1, compare=EXACT):
    """A Test from a command line written as one string."""
    return Test(name, command.split(), divisor, compare)


# In run order: a test that changes data comes after the readers of that data, so the
# readers see the fill as written (the writes of one round change what the next round's
# fill replaces anyway).
TESTS = [
    # strings: a cache and counters
    _t("get", "GET str:%s" % R),
    _t("mget_10", "MGET" + " str:%s" % R * 10),
    _t("exists_3", "EXISTS" + " str:%s" % R * 3),
    _t("getrange", "GETRANGE str:%s 4 19" % R),
    _t("strlen", "STRLEN str:%s" % R),
    _t("type", "TYPE str:%s" % R),
    _t("set_get", "SET str:%s %s GET" % (R, VALUE)),
    _t("mset_5", "MSET" + (" str:%s %s" % (R, VALUE)) * 5),
    _t("set_ex", "SET cache:%s %s EX 3600" % (R, VALUE)),
    _t("set_px_nx", "SET lock:%s token PX 60000 NX" % R),
    _t("setex", "SETEX cache:%s 3600 %s" % (R, VALUE)),
    _t("incrby", "INCRBY cnt:%s 7" % R),
    _t("decr", "DECR cnt:%s" % R),
    _t("incrbyfloat", "INCRBYFLOAT flt:%s 0.25" % R),
    _t("append", "APPEND app:%s -x" % R),
    _t("del_3", "DEL" + " tmp:%s" % R * 3),
    # expiry
    _t("ttl", "TTL ttl:%s" % R, compare=TTL),
    _t("pttl", "PTTL ttl:%s" % R, compare=TTL),
    _t("expire", "EXPIRE ttl:%s 86400" % R),
    _t("pexpire", "PEXPIRE ttl:%s 86400000" % R),
    _t("expire_gt", "EXPIRE ttl:%s 90000 GT" % R),
    _t("getex", "GETEX ttl:%s EX 86400" % R),
    _t("persist", "PERSIST ttl:%s" % R),
    # hashes
    _t("hget", "HGET h:%s f5" % R, 10),
    _t("hmget", "HMGET h:%s f1 f4 f7" % R, 10),
    _t("hexists", "HEXISTS h:%s f9" % R, 10),
    _t("hlen", "HLEN h:%s" % R, 10),
    _t("hgetall", "HGETALL h:%s" % R, 10),
    _t("hgetall_100", "HGETALL hb:%s" % R, 100),
    _t("hset", "HSET h:%s f3 %s" % (R, VALUE), 10),
    _t("hincrby", "HINCRBY h:%s n 1" % R, 10),
    # lists: a queue and recent items
    _t("lrange_10", "LRANGE l:%s 0 9" % R, 100),
    _t("lindex", "LINDEX l:%s 50" % R, 100),
    _t("lpos", "LPOS l:%s e:50" % R, 100),
    _t("llen", "LLEN l:%s" % R, 100),
    _t("lmove", "LMOVE l:%s l:%s RIGHT LEFT" % (R, R), 100),
    _t("ltrim", "LTRIM l:%s 0 99" % R, 100),
    _t("queue_lpush", "LPUSH q:%s job" % R, 100),
    _t("queue_rpop", "RPOP q:%s" % R, 100),
    _t("queue_brpop", "BRPOP q:%s 1" % R, 100),
    # sets
    _t("sismember", "SISMEMBER s:%s m:5" % R, 10),
    _t("smismember", "SMISMEMBER s:%s m:1 m:12 m:30" % R, 10),
    _t("scard", "SCARD s:%s" % R, 10),
    _t("smembers", "SMEMBERS s:%s" % R, 10, UNORDERED),
    _t("sinter", "SINTER s:%s s:%s" % (R, R), 10, UNORDERED),
    _t("sunionstore", "SUNIONSTORE su:%s s:%s s:%s" % (R, R, R), 10),
    _t("srem_missing", "SREM s:%s m:999" % R, 10),
    # sorted sets: a leaderboard, and small sorted sets
    _t("zscore", "ZSCORE lb player:%s" % R),
    _t("zrank", "ZRANK lb player:%s" % R),
    _t("zrevrank", "ZREVRANK lb player:%s" % R),
    _t("zrevrange_top10", "ZREVRANGE lb 0 9 WITHSCORES"),
    _t("zrangebyscore", "ZRANGEBYSCORE lb %s +inf WITHSCORES LIMIT 0 10" % R),
    _t("zrange_byscore", "ZRANGE lb %s +inf BYSCORE LIMIT 0 10" % R),
    _t("zcount", "ZCOUNT lb %s +inf" % R),
    _t("zrange_small", "ZRANGE z:%s 0 -1 WITHSCORES" % R, 10),
    _t("zincrby", "ZINCRBY lb 1 player:%s" % R),
    _t("zadd_score", "ZADD lb %s player:%s" % (R, R)),
    _t("zadd_gt_ch", "ZADD z:%s GT CH 7 m:3" % R, 10),
    # bitmaps, HyperLogLog
    _t("getbit", "GETBIT bm:%s 77" % R, 10),
    _t("bitcount", "BITCOUNT bm:%s" % R, 10),
    _t("setbit", "SETBIT bm:%s 77 1" % R, 10),
    _t("pfcount", "PFCOUNT hll:%s" % R, 100),
    _t("pfadd", "PFADD hll:%s el:%s" % (R, R), 100),
    # streams
    _t("xrange_10", "XRANGE ev:%s - + COUNT 10" % R, 100),
    _t("xadd_maxlen", "XADD ev:%s MAXLEN ~ 100 * f v" % R, 100, STREAM_ID),
    # scripting, pub/sub
    _t("evalsha_get", "EVALSHA %s 1 str:%s" % (GET_SCRIPT_SHA, R)),
    _t("publish", "PUBLISH news:%s hello" % R),
]
BY_NAME = {test.name: test for test in TESTS}
assert len(BY_NAME) == len(TESTS)


def key(prefix, n):
    """The key a __rand_int__ of n makes: redis-benchmark writes 12 digits, zero-padded."""
    return b"%s:%012d" % (prefix, n)


class Payload:
    """Pre-encoded commands, in chunks small enough to write and read back at once."""

    CHUNK = 2000

    def __init__(self):
        self.chunks = []
        self.parts = []

    def add(self, *args):
        self.parts.append(servers.encode_command(args))
        if len(self.parts) >= self.CHUNK:
            self.flush()

    def flush(self):
        if self.parts:
            self.chunks.append((b"".join(self.parts), len(self.parts)))
            self.parts = []

    def send(self, conn):
        for payload, count in self.chunks:
            conn.pipeline(payload, count)


def _batched(payload, command, head, items, batch):
    """command head item item ... in batches of `batch` items (each item a tuple of args)."""
    for start in range(0, len(items), batch):
        args = list(head)
        for item in items[start:start + batch]:
            args.extend(item)
        payload.add(command, *args)


def fill_commands(keys=DEFAULT_KEYS, pops=0):
    """The fill for --keys `keys`, as a Payload (build it once, send it to both servers).

    pops: requests of each queue test in a round (all its runs); the queues get enough jobs
    that RPOP and BRPOP, which pop twice what LPUSH pushes, never find one empty."""
    p = Payload()
    p.add(b"FLUSHALL")
    p.add(b"SCRIPT", b"LOAD", GET_SCRIPT.encode())
    value = VALUE.encode()
    for prefix, make in ((b"str", lambda n: value), (b"cnt", lambda n: b"%d" % n),
                         (b"flt", lambda n: b"%d.5" % n), (b"app", lambda n: b"a%d" % n),
                         (b"tmp", lambda n: value)):
        _batched(p, b"MSET", (), [(key(prefix, n), make(n)) for n in range(keys)], 500)
    for n in range(keys):
        p.add(b"SET", key(b"ttl", n), value, b"EX", b"86400")
    small = [(b"f%d" % j, b"value-%d" % j) for j in range(10)] + [(b"n", b"10")]
    for n in range(keys // 10):
        _batched(p, b"HSET", (key(b"h", n),), small, len(small))
    big = [(b"field-%d" % j, b"value-%d" % j) for j in range(100)]
    for n in range(max(1, keys // 100)):
        _batched(p, b"HSET", (key(b"hb", n),), big, len(big))
    elements = [(b"e:%d" % j,) for j in range(100)]
    queues = max(1, keys // 100)
    jobs = [(b"job-%d" % j,) for j in range(max(500, 2 * pops // queues + 100))]
    for n in range(queues):
        _batched(p, b"RPUSH", (key(b"l", n),), elements, 100)
        _batched(p, b"RPUSH", (key(b"q", n),), jobs, 500)
    for n in range(keys // 10):
        p.add(b"SADD", key(b"s", n), *[b"m:%d" % ((n + 3 * j) % 40) for j in range(10)])
    _batched(p, b"ZADD", (b"lb",), [(b"%d" % n, key(b"player", n)) for n in range(keys)], 1000)
    for n in range(keys // 10):
        _batched(p, b"ZADD", (key(b"z", n),), [(b"%d" % j, b"m:%d" % j) for j in range(10)], 10)
    bitmap = bytes(range(32))
    for n in range(keys // 10):
        p.add(b"SET", key(b"bm", n), bitmap)
    for n in range(max(1, keys // 100)):
        p.add(b"PFADD", key(b"hll", n), *[b"el:%d" % (n * 7 + j) for j in range(100)])
        for j in range(1, 101):
            p.add(b"XADD", key(b"ev", n), b"%d-1" % j, b"f", b"v%d" % j)
    p.flush()
    return p


def fill(conn, payload):
    """Send a fill_commands payload on one connection; errors are raised."""
    payload.send(conn)

"""Keyspace notifications against Debian's redis-server 7.0.15.

The same command sequence runs on both servers under the same
notify-keyspace-events setting while a subscriber listens on every
`__keyspace@*__` and `__keyevent@*__` channel (PSUBSCRIBE). What the
subscriber receives, message by message as raw bytes (so RESP2 arrays and
RESP3 pushes are compared too), must be the same list on both. The end of a
sequence is a PUBLISH on a marker channel the pattern matches: every event
fired before it has arrived by then, and reading stops there (each read has a
timeout).
"""
import time

import pytest

from harness import RawConnection, ServerProcess, encode_command, wait_blocked

PATTERN = b"__key*__:*"
MARKER_CHANNEL = b"__keyevent@99__:end-of-sequence"
STATE_WAIT = 5.0          # seconds allowed for a server to reach an expected state
DUMPED = b"\x00\x01v\n\x00\x91\x08\xce\xb2\x198\x8a\xce"    # DUMP of the string "v" (RDB 10)


@pytest.fixture(scope="module")
def ours():
    proc = ServerProcess(["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


# -- running a sequence and collecting what the subscriber got ---------------------------------

def _wait_dbsize(conn, size):
    """Poll DBSIZE (which expires nothing itself) until it is `size`: active expiry ran."""
    deadline = time.monotonic() + STATE_WAIT
    while True:
        reply = conn.command("DBSIZE")
        if reply == b":%d\r\n" % size:
            return
        assert time.monotonic() < deadline, "DBSIZE is %r, expected %d" % (reply, size)
        time.sleep(0.01)


def run_with_subscriber(port, setting, script, resp3=False):
    """Run `script` under `setting`; (the raw messages received, the raw replies).

    Steps are argument lists (sent on the main connection, reply read), or tuples:
    ("block", args) sends args on a second connection and waits until it blocks,
    ("served",) reads that connection's reply, ("sleep", s) pauses,
    ("dbsize", n) waits until the selected database holds n keys."""
    main = RawConnection(port)
    listener = RawConnection(port)
    blocker = RawConnection(port)
    try:
        main.command("FLUSHALL")
        main.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        if resp3:
            assert listener.command("HELLO", "3").startswith(b"%")
        listener.command("PSUBSCRIBE", PATTERN)
        assert main.command("CONFIG", "SET", "notify-keyspace-events", setting) == b"+OK\r\n"
        replies = []
        for step in script:
            if isinstance(step, tuple):
                kind = step[0]
                if kind == "block":
                    blocker.send(encode_command(step[1]))
                    wait_blocked(main, 1)
                elif kind == "served":
                    replies.append(blocker.read_reply())
                elif kind == "sleep":
                    time.sleep(step[1])
                elif kind == "dbsize":
                    _wait_dbsize(main, step[1])
                else:
                    raise AssertionError("unknown step %r" % (step,))
                continue
            replies.append(main.command(*step))
        main.command("CONFIG", "SET", "notify-keyspace-events", "")
        main.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        main.command("PUBLISH", MARKER_CHANNEL, "done")
        messages = []
        while True:
            message = listener.read_reply()
            if MARKER_CHANNEL in message:
                break
            messages.append(message)
        return messages, replies
    finally:
        main.close()
        listener.close()
        blocker.close()


def assert_same_events(reference, ours, setting, script, resp3=False):
    expected, _ = run_with_subscriber(reference.port, setting, script, resp3)
    actual, _ = run_with_subscriber(ours.port, setting, script, resp3)
    assert actual == expected, "setting %r: redis published\n%s\nwe published\n%s" % (
        setting, b"\n".join(expected).decode(errors="replace"),
        b"\n".join(actual).decode(errors="replace"))
    return expected


# -- the command sequences, one per family ------------------------------------------------------

GENERIC = [
    ["SET", "a", "1"], ["SET", "b", "2"], ["DEL", "a", "b", "missing"],
    ["SET", "a", "1"], ["UNLINK", "a"],
    ["SET", "src", "v"], ["RENAME", "src", "dst"], ["SET", "other", "x"],
    ["RENAME", "dst", "other"], ["RENAME", "other", "other"], ["RENAMENX", "other", "n1"],
    ["SET", "n2", "y"], ["RENAMENX", "n1", "n2"],
    ["MOVE", "n1", "1"], ["SET", "n2", "z"], ["SELECT", "1"], ["SET", "n2", "q"],
    ["SELECT", "0"], ["MOVE", "n2", "1"], ["MOVE", "absent", "1"],
    ["COPY", "n2", "c1"], ["COPY", "n2", "c1"], ["COPY", "n2", "c1", "REPLACE"],
    ["COPY", "n2", "c2", "DB", "3"], ["COPY", "nothing", "c3"],
    ["EXPIRE", "c1", "100"], ["PEXPIRE", "c1", "100000"], ["EXPIREAT", "c1", "4000000000"],
    ["PEXPIREAT", "c1", "4000000000000"], ["EXPIRE", "c1", "50", "XX"], ["EXPIRE", "c1", "50", "NX"],
    ["EXPIRE", "absent", "10"], ["PERSIST", "c1"], ["PERSIST", "c1"], ["PERSIST", "absent"],
    ["EXPIRE", "c1", "-1"], ["SET", "p", "1"], ["PEXPIREAT", "p", "1"],
    ["SET", "t", "1"], ["EXPIRE", "t", "0"],
    ["EXISTS", "nope", "t"], ["TYPE", "nope"], ["TTL", "nope"], ["PTTL", "nope"],
    ["EXPIRETIME", "nope"], ["TOUCH", "nope"], ["OBJECT", "ENCODING", "nope"],
    ["SET", "r", "v"], ["DUMP", "nope"],
    ["RESTORE", "r2", "0", DUMPED],
    ["RESTORE", "r2", "0", DUMPED, "REPLACE"],
    ["RESTORE", "r3", "1", DUMPED, "ABSTTL"],
    ["RESTORE", "r2", "1", DUMPED, "ABSTTL", "REPLACE"],
    ["SELECT", "9"], ["SET", "nine", "1"], ["DEL", "nine"], ["SELECT", "0"],
    ["FLUSHDB"], ["SET", "f", "1"], ["FLUSHALL"], ["SWAPDB", "0", "1"],
]

STRINGS = [
    ["SET", "s", "1"], ["SET", "s", "2", "EX", "100"], ["SET", "s", "3", "PX", "100000", "GET"],
    ["SET", "s", "4", "KEEPTTL"], ["SET", "s", "5", "NX"], ["SET", "s2", "5", "XX"],
    ["SET", "s2", "5", "NX", "EXAT", "4000000000"], ["SET", "s3", "x", "PXAT", "4000000000000"],
    ["SETNX", "s", "x"], ["SETNX", "s4", "x"], ["SETEX", "s5", "100", "v"],
    ["PSETEX", "s6", "100000", "v"], ["GETSET", "s", "new"], ["GETSET", "gs", "new"],
    ["GETDEL", "s6"], ["GETDEL", "s6"], ["GET", "s6"], ["MGET", "s", "nope", "s2"],
    ["GETEX", "s5"], ["GETEX", "s5", "EX", "200"], ["GETEX", "s5", "PERSIST"],
    ["GETEX", "s5", "PERSIST"], ["GETEX", "s5", "PXAT", "1"], ["GETEX", "nope", "EX", "1"],
    ["MSET", "m1", "1", "m2", "2", "m1", "3"], ["MSETNX", "m3", "1", "m4", "2"],
    ["MSETNX", "m3", "1", "m5", "2"],
    ["APPEND", "ap", "abc"], ["APPEND", "ap", "def"], ["SETRANGE", "sr", "3", "xyz"],
    ["SETRANGE", "sr", "0", "ab"], ["SETRANGE", "sr", "0", ""], ["SETRANGE", "sr2", "5", ""],
    ["INCR", "i"], ["INCR", "i"], ["DECR", "i"], ["INCRBY", "i", "10"], ["DECRBY", "i", "3"],
    ["INCR", "s"], ["INCRBYFLOAT", "f", "1.5"], ["INCRBYFLOAT", "f", "2"],
    ["STRLEN", "nope"], ["GETRANGE", "nope", "0", "1"], ["LCS", "ap", "nope"],
    ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "1"], ["SETBIT", "b", "7", "0"],
    ["SETBIT", "b", "100", "0"], ["GETBIT", "nope", "1"], ["BITCOUNT", "nope"],
    ["BITOP", "OR", "dest", "b", "nope"], ["BITOP", "AND", "dest", "nope", "nope2"],
    ["BITOP", "AND", "dest", "nope", "nope2"],
    ["BITFIELD", "bf", "SET", "u8", "0", "255"], ["BITFIELD", "bf", "SET", "u8", "0", "255"],
    ["BITFIELD", "bf", "GET", "u8", "0"], ["BITFIELD", "bf", "INCRBY", "u8", "0", "1"],
    ["BITFIELD", "nope", "GET", "u8", "0"], ["BITFIELD_RO", "nope", "GET", "u8", "0"],
    ["PFADD", "h", "a", "b"], ["PFADD", "h", "a"], ["PFADD", "h2"], ["PFADD", "h2"],
    ["PFCOUNT", "h"], ["PFCOUNT", "h", "nope"], ["PFMERGE", "h3", "h", "h2", "nope"],
    ["PFMERGE", "h"],
]

LISTS = [
    ["LPUSH", "l", "a"], ["LPUSH", "l", "b", "c"], ["RPUSH", "l", "d"], ["RPUSH", "l2", "x", "y"],
    ["LPUSHX", "nope", "a"], ["RPUSHX", "nope", "a"], ["LPUSHX", "l", "e"], ["RPUSHX", "l", "f"],
    ["LINSERT", "l", "BEFORE", "a", "z"], ["LINSERT", "l", "AFTER", "nothere", "z"],
    ["LINSERT", "nope", "AFTER", "a", "z"], ["LSET", "l", "0", "first"], ["LSET", "nope", "0", "x"],
    ["LREM", "l", "0", "z"], ["LREM", "l", "0", "nothere"], ["LTRIM", "l", "0", "-1"],
    ["LTRIM", "l", "1", "-2"], ["LTRIM", "nope", "0", "1"], ["LPOP", "l"], ["RPOP", "l"],
    ["LPOP", "l", "2"], ["LPOP", "l", "0"], ["RPOP", "nope"], ["RPOP", "l", "10"],
    ["RPUSH", "l", "a", "b", "c", "d"], ["LMOVE", "l", "l3", "LEFT", "RIGHT"],
    ["LMOVE", "l", "l3", "RIGHT", "LEFT"], ["RPOPLPUSH", "l", "l"], ["RPOPLPUSH", "l", "l2"],
    ["RPOPLPUSH", "l", "l2"], ["LMOVE", "nope", "l2", "LEFT", "LEFT"],
    ["LMPOP", "2", "nope", "l2", "LEFT", "COUNT", "2"], ["LMPOP", "1", "l2", "RIGHT", "COUNT", "9"],
    ["LMPOP", "1", "nope", "LEFT"], ["LRANGE", "nope", "0", "-1"], ["LLEN", "nope"],
    ["LINDEX", "nope", "0"], ["LPOS", "nope", "a"],
    ["RPUSH", "one", "x"], ["LREM", "one", "1", "x"], ["RPUSH", "two", "x"], ["LTRIM", "two", "1", "0"],
    ["RPUSH", "bl", "a", "b"], ["BLPOP", "bl", "0"], ["BRPOP", "bl", "0"], ["BLPOP", "nope", "0.01"],
    ["RPUSH", "bl", "a", "b"], ["BLMOVE", "bl", "bl2", "LEFT", "LEFT", "0"],
    ["BRPOPLPUSH", "bl", "bl2", "0"], ["BLMPOP", "0", "1", "bl2", "LEFT", "COUNT", "5"],
    ("block", ["BLPOP", "w1", "0"]), ["RPUSH", "w1", "1", "2"], ("served",),
    ("block", ["BRPOP", "w2", "0"]), ["LPUSH", "w2", "3"], ("served",),
    ("block", ["BLMOVE", "w3", "wd", "RIGHT", "LEFT", "0"]), ["LPUSH", "w3", "4"], ("served",),
    ("block", ["BRPOPLPUSH", "w4", "wd", "0"]), ["LPUSH", "w4", "5", "6"], ("served",),
    ("block", ["BLMPOP", "0", "2", "x", "w5", "RIGHT", "COUNT", "3"]),
    ["RPUSH", "w5", "a", "b"], ("served",),
    ("block", ["BLPOP", "w6", "0"]), ["MULTI"], ["RPUSH", "w6", "a"], ["RPUSH", "w6", "b"],
    ["EXEC"], ("served",),
    ["SORT", "wd", "ALPHA", "STORE", "sorted"], ["SORT", "nope", "STORE", "sorted"],
    ["SORT", "nope", "STORE", "sorted"], ["RPUSH", "nums", "3", "1", "2"],
    ["SORT", "nums", "BY", "w_*", "GET", "#", "GET", "k_*", "STORE", "s2"],
]

HASHES = [
    ["HSET", "h", "f", "v"], ["HSET", "h", "f", "v2", "g", "w"], ["HMSET", "h", "x", "1"],
    ["HSETNX", "h", "f", "no"], ["HSETNX", "h", "n", "yes"], ["HSETNX", "h2", "n", "yes"],
    ["HINCRBY", "h", "c", "5"], ["HINCRBY", "h3", "c", "5"], ["HINCRBYFLOAT", "h", "fl", "1.5"],
    ["HINCRBYFLOAT", "h4", "fl", "1.5"], ["HINCRBY", "h", "f", "1"],
    ["HDEL", "h", "nothere"], ["HDEL", "h", "f", "g"], ["HDEL", "h2", "n"], ["HDEL", "nope", "x"],
    ["HGET", "nope", "f"], ["HGETALL", "nope"], ["HLEN", "nope"], ["HEXISTS", "nope", "f"],
    ["HMGET", "nope", "a"], ["HKEYS", "nope"], ["HVALS", "nope"], ["HSTRLEN", "nope", "f"],
    ["HRANDFIELD", "nope"], ["HSCAN", "nope", "0"],
]

SETS = [
    ["SADD", "s", "a", "b"], ["SADD", "s", "a"], ["SADD", "s", "c"], ["SADD", "n", "1", "2", "3"],
    ["SREM", "s", "nothere"], ["SREM", "s", "a"], ["SREM", "nope", "a"], ["SADD", "one", "x"],
    ["SREM", "one", "x", "y"], ["SMOVE", "s", "t", "b"], ["SMOVE", "s", "t", "nothere"],
    ["SMOVE", "s", "t", "c"], ["SMOVE", "nope", "t", "c"], ["SADD", "u", "b"], ["SMOVE", "t", "u", "b"],
    ["SMOVE", "u", "u", "b"],
    ["SPOP", "n"], ["SPOP", "n", "1"], ["SPOP", "n", "0"], ["SPOP", "n", "5"], ["SPOP", "nope"],
    ["SPOP", "nope", "2"], ["SADD", "p", "1"], ["SPOP", "p"],
    ["SADD", "a", "1", "2", "3"], ["SADD", "b", "2", "3", "4"],
    ["SINTERSTORE", "d", "a", "b"], ["SINTERSTORE", "d", "a", "nope"], ["SINTERSTORE", "d", "a", "nope"],
    ["SUNIONSTORE", "d", "a", "b"], ["SUNIONSTORE", "d", "nope"], ["SDIFFSTORE", "d", "a", "b"],
    ["SDIFFSTORE", "d", "a", "a"], ["SDIFFSTORE", "d", "a", "a"],
    ["SISMEMBER", "nope", "x"], ["SMEMBERS", "nope"], ["SCARD", "nope"], ["SINTER", "a", "nope"],
    ["SUNION", "nope", "a"], ["SDIFF", "nope", "a"], ["SINTERCARD", "2", "a", "nope"],
    ["SRANDMEMBER", "nope"], ["SMISMEMBER", "nope", "a"],
]

ZSETS = [
    ["ZADD", "z", "1", "a"], ["ZADD", "z", "1", "a"], ["ZADD", "z", "2", "a"],
    ["ZADD", "z", "3", "b", "4", "c"], ["ZADD", "z", "NX", "9", "a"], ["ZADD", "z", "XX", "9", "new"],
    ["ZADD", "z2", "XX", "1", "a"], ["ZADD", "z", "GT", "1", "c"], ["ZADD", "z", "CH", "5", "c"],
    ["ZADD", "z", "INCR", "1", "a"], ["ZINCRBY", "z", "1", "b"], ["ZINCRBY", "zi", "1", "b"],
    ["ZADD", "z", "NX", "INCR", "1", "a"],
    ["ZREM", "z", "nothere"], ["ZREM", "z", "a"], ["ZREM", "nope", "a"], ["ZADD", "one", "1", "x"],
    ["ZREM", "one", "x", "y"],
    ["ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"],
    ["ZREMRANGEBYRANK", "r", "0", "0"], ["ZREMRANGEBYRANK", "r", "10", "20"],
    ["ZREMRANGEBYSCORE", "r", "2", "2"], ["ZREMRANGEBYSCORE", "r", "100", "200"],
    ["ZREMRANGEBYLEX", "r", "[d", "[d"], ["ZREMRANGEBYLEX", "r", "-", "+"],
    ["ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZPOPMIN", "p"], ["ZPOPMAX", "p"],
    ["ZPOPMIN", "p", "0"], ["ZPOPMAX", "p", "5"], ["ZPOPMIN", "nope"],
    ["ZADD", "p", "1", "a", "2", "b"], ["ZMPOP", "2", "nope", "p", "MIN"],
    ["ZMPOP", "1", "p", "MAX", "COUNT", "3"], ["ZMPOP", "1", "nope", "MAX"],
    ["ZADD", "p", "1", "a", "2", "b"], ["BZPOPMIN", "p", "0"], ["BZPOPMAX", "p", "0"],
    ["BZPOPMIN", "nope", "0.01"],
    ("block", ["BZPOPMAX", "w", "0"]), ["ZADD", "w", "1", "a", "2", "b"], ("served",),
    ("block", ["BZMPOP", "0", "1", "w2", "MIN", "COUNT", "4"]), ["ZADD", "w2", "3", "c"],
    ("served",),
    ["ZADD", "a", "1", "x", "2", "y"], ["ZADD", "b", "2", "y", "3", "z"],
    ["ZRANGESTORE", "d", "a", "0", "-1"], ["ZRANGESTORE", "d", "a", "5", "9"],
    ["ZRANGESTORE", "d", "nope", "0", "-1"], ["ZUNIONSTORE", "d", "2", "a", "b"],
    ["ZINTERSTORE", "d", "2", "a", "b"], ["ZINTERSTORE", "d", "2", "a", "nope"],
    ["ZDIFFSTORE", "d", "2", "a", "b"], ["ZDIFFSTORE", "d", "1", "nope"], ["ZDIFFSTORE", "d", "1", "nope"],
    ["ZSCORE", "nope", "a"], ["ZCARD", "nope"], ["ZRANGE", "nope", "0", "-1"], ["ZRANK", "nope", "a"],
    ["ZCOUNT", "nope", "-inf", "+inf"], ["ZUNION", "2", "nope", "a"], ["ZINTERCARD", "1", "nope"],
    ["ZRANDMEMBER", "nope"], ["ZMSCORE", "nope", "a"],
]

TRANSACTIONS_AND_SCRIPTS = [
    ["MULTI"], ["SET", "x", "1"], ["LPUSH", "l", "a"], ["DEL", "x"], ["GET", "x"], ["EXEC"],
    ["EVAL", "redis.call('set', KEYS[1], 'v'); redis.call('incr', KEYS[2]); "
             "redis.call('get', 'nokey'); return redis.call('del', KEYS[1])", "2", "k1", "k2"],
    ["EVAL", "redis.call('rpush', KEYS[1], 'a'); return redis.call('lpop', KEYS[1])", "1", "q"],
    ["MULTI"], ["SADD", "s", "1"], ["EVAL", "return redis.call('srem', KEYS[1], '1')", "1", "s"],
    ["EXEC"],
    ["FUNCTION", "LOAD", "REPLACE",
     "#!lua name=notifylib\nredis.register_function('touchit', function(keys, args) "
     "redis.call('hset', keys[1], 'f', 'v'); redis.call('exists', 'nokey'); "
     "return redis.call('hdel', keys[1], 'f') end)"],
    ["FCALL", "touchit", "1", "fh"],
]

# Reads that miss (keymiss, or none where Redis looks without notifying), writes that change
# nothing, and commands that create keys outside the usual paths.
EDGE_CASES = [
    ["SET", "s", "hello"], ["RPUSH", "l", "a"], ["SADD", "st", "a"], ["ZADD", "z", "1", "a"],
    ["HSET", "h", "f", "v"],
    ["SORT_RO", "nope"], ["SORT", "nope"], ["LPOS", "nope", "a"], ["GETRANGE", "nope", "0", "1"],
    ["SUBSTR", "nope", "0", "1"], ["BITPOS", "nope", "1"], ["SRANDMEMBER", "nope", "3"],
    ["ZRANDMEMBER", "nope", "2"], ["HRANDFIELD", "nope", "2"], ["SSCAN", "nope", "0"],
    ["ZSCAN", "nope", "0"], ["HSCAN", "nope", "0"], ["SCAN", "0"], ["RANDOMKEY"], ["KEYS", "*"],
    ["DEBUG", "OBJECT", "nope"], ["OBJECT", "FREQ", "nope"], ["OBJECT", "IDLETIME", "nope"],
    ["OBJECT", "REFCOUNT", "nope"], ["DEBUG", "POPULATE", "3", "pop"], ["PFCOUNT", "nope"],
    ["PFDEBUG", "GETREG", "nope"], ["STRLEN", "s"], ["LLEN", "l"],
    ["ZRANGEBYSCORE", "nope", "-inf", "+inf"], ["ZREVRANGE", "nope", "0", "1"],
    ["ZLEXCOUNT", "nope", "-", "+"], ["ZREVRANK", "nope", "a"], ["ZINTER", "2", "z", "nope"],
    ["ZDIFF", "2", "nope", "z"], ["SMISMEMBER", "nope", "a"], ["EXISTS", "s"], ["TYPE", "s"],
    ["GETEX", "nope"], ["GETDEL", "nope"], ["SET", "nope2", "x", "GET"], ["SETNX", "s", "v"],
    ["MSETNX", "s", "1"], ["LMOVE", "nope", "x", "LEFT", "LEFT"], ["RPOPLPUSH", "nope", "x"],
    ["SINTERSTORE", "d", "nope"], ["SMOVE", "nope", "st", "a"], ["COPY", "s", "s2", "DB", "2"],
    ["SWAPDB", "0", "2"], ["SELECT", "2"], ["DEL", "s2"], ["SELECT", "0"],
    ["EVAL", "return redis.call('exists', KEYS[1])", "1", "nokey"],
    ["BITFIELD", "bf", "GET", "u8", "0"], ["BITFIELD", "bf", "SET", "u8", "0", "0"],
    ["BITFIELD", "bf2", "INCRBY", "u8", "0", "0"], ["SETRANGE", "sr", "0", "x"], ["APPEND", "ap", ""],
    ["INCRBYFLOAT", "fl", "0"], ["HINCRBYFLOAT", "hf", "f", "0"], ["ZADD", "zz", "INCR", "0", "m"],
    ["ZINCRBY", "zz", "0", "m"], ["LINSERT", "l", "BEFORE", "a", "a"], ["LSET", "l", "0", "a"],
    ["LREM", "l", "0", "nothere"], ["HSET", "h", "f", "v"], ["HSETNX", "h", "f", "v"],
    ["SETBIT", "bb", "0", "0"], ["SETBIT", "bb", "0", "0"], ["PFADD", "hll"], ["PFADD", "hll", "a"],
    ["PFADD", "hll", "a"], ["PFMERGE", "hll2"], ["PFMERGE", "hll2", "nope"],
    ["SET", "ttl", "1", "EX", "100"], ["SET", "ttl", "2", "KEEPTTL"], ["EXPIRE", "ttl", "1000", "GT"],
    ["EXPIRE", "ttl", "1", "GT"], ["EXPIRE", "ttl", "200", "LT"], ["PERSIST", "ttl"],
    ["RENAME", "ttl", "ttl"], ["RENAMENX", "ttl", "ttl"], ["MOVE", "ttl", "0"],
]

# The shapes the native loop serves itself while notifications are off (native/dispatch.pyx
# _run_fast): on existing keys without a TTL, so only stepping aside fires their events.
FAST_PATH_SHAPES = [
    ["SET", "s", "1"], ["SET", "s", "2"], ["INCR", "s"], ["DECR", "s"], ["GET", "s"],
    ["GET", "missing"], ["MSET", "s", "3", "t", "4"], ["MSET", "s", "5"],
    ["RPUSH", "l", "a", "b", "c"], ["LPUSH", "l", "x"], ["RPUSH", "l", "y"], ["LPOP", "l"],
    ["RPOP", "l"], ["SADD", "set", "a"], ["SADD", "set", "b"], ["SADD", "set", "b"],
    ["HSET", "h", "f", "1"], ["HSET", "h", "f", "2"], ["HSET", "h", "g", "3"],
    ["ZADD", "z", "1", "m"], ["ZADD", "z", "1", "m"], ["ZADD", "z", "2", "m"],
]

FAMILIES = {
    "generic": GENERIC, "strings": STRINGS, "lists": LISTS, "hashes": HASHES, "sets": SETS,
    "zsets": ZSETS, "transactions_and_scripts": TRANSACTIONS_AND_SCRIPTS, "edge_cases": EDGE_CASES,
}
ALL_COMMANDS = [step for script in FAMILIES.values() for step in script]

# Every class alone (with K, with E, with both), combinations, A, and settings
# without K or E (nothing is published then).
SETTINGS = (
    [letter + "KE" for letter in "g$lshzxetmdn"]
    + [letter + "K" for letter in "g$lshzn"] + [letter + "E" for letter in "g$lshzn"]
    + ["KA", "EA", "KEA", "AKEmn", "g$lK", "shzE", "Kgn", "g", "A", "Am", "K", "E", "KE"]
)


# -- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_event_of_a_family_in_order(reference, ours, family):
    """With every class on, each event is named, channelled and ordered as Redis does."""
    events = assert_same_events(reference, ours, "KEAnm", FAMILIES[family])
    assert events, "the sequence fired nothing"


@pytest.mark.parametrize("setting", ["KEAnm", "$K", "lE", "shKE", "zKE", "mE"])
def test_native_fast_path_shapes_fire_their_events(reference, ours, setting):
    """The native loop's own paths step aside while notifications are on: same events."""
    events = assert_same_events(reference, ours, setting, FAST_PATH_SHAPES)
    assert events


@pytest.mark.parametrize("setting", SETTINGS)
def test_each_setting_publishes_only_its_classes(reference, ours, setting):
    assert_same_events(reference, ours, setting, ALL_COMMANDS)


@pytest.mark.parametrize("family", ["generic", "lists", "zsets"])
def test_resp3_subscribers_get_pushes(reference, ours, family):
    events = assert_same_events(reference, ours, "KEAnm", FAMILIES[family], resp3=True)
    assert events and all(event.startswith(b">4\r\n") for event in events)


LAZY_EXPIRY = [
    ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
    ["SET", "a", "1", "PX", "20"], ["SET", "b", "1", "PX", "20"], ["SET", "c", "1", "PX", "20"],
    ["RPUSH", "l", "x"], ["PEXPIRE", "l", "20"], ["HSET", "h", "f", "v"], ["PEXPIRE", "h", "20"],
    ["SET", "d", "1", "PX", "20"], ["SET", "e", "1", "PX", "20"], ["SET", "f", "1", "PX", "20"],
    ("sleep", 0.1),
    ["GET", "a"], ["SET", "b", "2"], ["DEL", "c"], ["RPUSH", "l", "y"], ["HGET", "h", "f"],
    ["EXISTS", "d"], ["INCR", "e"], ["RENAME", "f", "g"],
]

ACTIVE_EXPIRY = [
    ["SET", "a", "1", "PX", "30"], ["RPUSH", "l", "x"], ["PEXPIRE", "l", "40"],
    ["SADD", "s", "m"], ["PEXPIREAT", "s", "(set as the run starts)"],
    ["SELECT", "5"], ["SET", "five", "1", "PX", "30"], ("dbsize", 0), ["SELECT", "0"],
    ("dbsize", 0),
]


@pytest.mark.parametrize("setting", ["KEA", "xKE", "xK", "xE", "gKE", "KEAnm"])
def test_lazy_expiry_fires_expired(reference, ours, setting):
    events = assert_same_events(reference, ours, setting, LAZY_EXPIRY)
    if "x" in setting or "A" in setting:
        assert any(b"expired" in event for event in events)


@pytest.mark.parametrize("setting", ["KEA", "xKE", "xK", "xE", "$KE"])
def test_active_expiry_fires_expired(reference, ours, setting):
    # The absolute time is taken as each run starts.
    expected, _ = run_with_subscriber(reference.port, setting, _with_fresh_deadline(ACTIVE_EXPIRY))
    actual, _ = run_with_subscriber(ours.port, setting, _with_fresh_deadline(ACTIVE_EXPIRY))
    # Active expiry takes due keys in an order of its own: the same events, in any order.
    assert sorted(actual) == sorted(expected)
    expired = sum(b"expired" in event for event in actual)
    expiry_on = "x" in setting or "A" in setting
    assert expired == (4 * (("K" in setting) + ("E" in setting)) if expiry_on else 0)


def _with_fresh_deadline(script):
    return [["PEXPIREAT", step[1], "%d" % (time.time() * 1000 + 60)]
            if isinstance(step, list) and step[0] == "PEXPIREAT" else step for step in script]


def test_config_normalises_the_flags_as_redis(reference, ours):
    for setting in ["", "KEA", "AKE", "Ag$lshzxeKEtmdn", "g$lshzxetd", "KEg$lshzxetd", "n", "nA",
                    "mK", "EK", "gg", "xe$", "Kx", "dtm"]:
        got = []
        for srv in (reference, ours):
            conn = RawConnection(srv.port)
            try:
                got.append((conn.command("CONFIG", "SET", "notify-keyspace-events", setting),
                            conn.command("CONFIG", "GET", "notify-keyspace-events")))
            finally:
                conn.close()
        assert got[0] == got[1], setting
    for bad in ["KEAX", "Kq", "1"]:
        replies = []
        for srv in (reference, ours):
            conn = RawConnection(srv.port)
            try:
                replies.append(conn.command("CONFIG", "SET", "notify-keyspace-events", bad))
            finally:
                conn.close()
        assert replies[0] == replies[1], bad


def test_off_by_default_and_nothing_without_k_or_e(ours):
    """The default publishes nothing; classes without K or E publish nothing either."""
    for setting in ["", "A", "g$lshzxetdnm"]:
        messages, _ = run_with_subscriber(ours.port, setting, [["SET", "a", "1"], ["DEL", "a"]])
        assert messages == []


def test_eviction_fires_evicted(ours):
    """Eviction is not there yet: Database.evict is the call it will make, checked in-process."""
    import subprocess
    import sys
    code = r"""
import asyncio
from server.base.config import Config, keyspace_event_flags
from server.server import Server
config = Config()
server = Server(config)
got = []
class Recorder:
    def publish(self, channel, message, shard=False):
        got.append((channel, message))
server.pubsub = Recorder()
server.notify_events_changed(keyspace_event_flags("eKE"))
db = server.dbs[2]
db.set(b"k", b"v")
assert db.evict(b"k") and b"k" not in db.data and not db.evict(b"k")
assert server.stats.evicted_keys == 1
print(got)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=__import__("os").path.dirname(__import__("os").path.dirname(
                             __import__("os").path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("[(b'__keyspace@2__:k', b'evicted'), "
                                  "(b'__keyevent@2__:evicted', b'k')]")


def _replica_events(reference):
    """What a subscriber on a replica receives while its master runs a few writes and
    one of its keys expires there (the replica hears of it as a DEL)."""
    master = ServerProcess(["--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"],
                           reference=reference)
    replica = ServerProcess(["--enable-debug-command", "yes", "--replicaof", "127.0.0.1",
                             str(master.port)], reference=reference)
    conns = []
    try:
        on_replica, on_master, listener = (RawConnection(replica.port), RawConnection(master.port),
                                           RawConnection(replica.port))
        conns = [on_replica, on_master, listener]
        deadline = time.monotonic() + 3 * STATE_WAIT
        while b"master_link_status:up" not in on_replica.command("INFO", "replication"):
            assert time.monotonic() < deadline, "the replica never linked"
            time.sleep(0.05)
        on_replica.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        listener.command("PSUBSCRIBE", PATTERN)
        for args in (["SET", "a", "1"], ["INCR", "a"], ["RPUSH", "l", "x", "y"], ["LPOP", "l"],
                     ["SET", "t", "1", "PX", "50"], ["SADD", "s", "m"], ["EXPIRE", "s", "100"]):
            on_master.command(*args)
        time.sleep(0.2)
        on_master.command("GET", "t")         # expires it on the master: a DEL for the replica
        assert on_master.command("WAIT", "1", "5000") == b":1\r\n"
        on_replica.command("PUBLISH", MARKER_CHANNEL, "done")
        messages = []
        while True:
            message = listener.read_reply()
            if MARKER_CHANNEL in message:
                return messages
            messages.append(message)
    finally:
        for conn in conns:
            conn.close()
        replica.stop()
        master.stop()


def test_replica_fires_the_events_of_its_masters_stream(reference):
    expected = _replica_events(True)
    assert expected
    assert _replica_events(False) == expected

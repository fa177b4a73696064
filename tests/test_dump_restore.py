"""DUMP and RESTORE against Debian's redis-server 7.0.15.

DUMP must produce the reference's bytes for every value whose layout is
deterministic (strings, listpack hashes and sorted sets, intsets, skiplist
sorted sets, lists built by RPUSH), payloads must cross between the two servers
in both directions with the same contents and encodings, older encodings must
load as they do in Redis, and RESTORE's errors must be Redis's. A fuzz test
throws mutated payloads at our server, which must answer each with OK or an
error and stay up.
"""
import os
import random
import re
import time

import pytest
import redis

from differential import assert_same, run_script
from harness import RawConnection, encode_command
from test_rdb_codec import dump_payload, rdb_string, ziplist, zipmap

from persistence.rdb_values import build_intset, build_listpack

LLONG_MAX = 2**63 - 1
INT_BOUNDARIES = [0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, -32769,
                  65535, 65536, 8388607, 8388608, -8388608, -8388609, 2**31 - 1, 2**31,
                  -2**31, -2**31 - 1, 2**32, 10**11, -10**10, 2**53, LLONG_MAX, -LLONG_MAX - 1]


def both(reference, server):
    return reference.client(), server.client()


def dump_script(setups):
    """FLUSHALL-separated setups, each followed by DUMP k."""
    script = []
    for setup in setups:
        script.append(["DEL", "k"])
        script.extend(setup)
        script.append(["DUMP", "k"])
    return script


def _digest(client, key):
    return client.execute_command("DEBUG", "DIGEST-VALUE", key)


def assert_same_value(ref, ours, key_ref, key_ours=None):
    """Same type, encoding and contents (DEBUG DIGEST-VALUE) on both servers."""
    key_ours = key_ours or key_ref
    assert ours.type(key_ours) == ref.type(key_ref)
    assert ours.object("encoding", key_ours) == ref.object("encoding", key_ref)
    assert _digest(ours, key_ours) == _digest(ref, key_ref)


@pytest.fixture
def configs(reference, server):
    """Puts back every config a test changes, on both module servers."""
    names = ("hash-max-listpack-entries", "hash-max-listpack-value", "set-max-intset-entries",
             "zset-max-listpack-entries", "zset-max-listpack-value", "list-max-listpack-size",
             "list-compress-depth", "rdbcompression", "sanitize-dump-payload",
             "maxmemory-policy")
    clients = both(reference, server)
    saved = [{name: c.config_get(name)[name] for name in names} for c in clients]
    yield clients
    for c, values in zip(clients, saved):
        for name, value in values.items():
            c.config_set(name, value)
        c.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 0)
        c.close()


def config_both(clients, **settings):
    for c in clients:
        for name, value in settings.items():
            c.config_set(name.replace("_", "-"), value)


# -- DUMP: byte for byte ----------------------------------------------------------------------------

STRING_VALUES = (
    [str(n).encode() for n in INT_BOUNDARIES]
    + [b"007", b"+1", b"-0", b" 1", b"1 ", b"1.5", b"0x10", b"123456789012", b"-12345678901",
       b"", b"a", b"\x00", b"\xff\xfe binary \x00\r\n", b"a" * 20, b"a" * 21, b"ab" * 11,
       b"abcdefghijklmnopqrstu", b"hello world hello world hello world",
       bytes(range(256)), bytes(range(40)) * 3, b"x" * 100000,
       b"".join(b"%08d" % i for i in range(20000))]
)


def test_dump_strings_byte_identical(reference, server):
    rng = random.Random(1)
    random_values = [bytes(rng.randrange(256) for _ in range(n)) for n in (21, 25, 200, 5000)]
    setups = [[["SET", "k", value]] for value in STRING_VALUES + random_values]
    setups.append([["SET", "k", "12"], ["APPEND", "k", "34"]])          # raw, integer-looking
    setups.append([["SET", "k", "abc"], ["SETRANGE", "k", 30, "x"]])
    setups.append([["INCRBY", "k", LLONG_MAX]])
    assert_same(reference, server, dump_script(setups))


def test_dump_big_random_string(reference, server):
    value = os.urandom(1 << 20)
    assert_same(reference, server, [["SET", "k", value], ["DUMP", "k"]])


def test_dump_missing_key_and_arity(reference, server):
    script = [["DUMP", "nokey"], ["DUMP"], ["DUMP", "a", "b"], ["SET", "k", "v"],
              ["EXPIRE", "k", 100], ["DUMP", "k"]]
    assert_same(reference, server, script)
    assert_same(reference, server, [["DUMP", "nokey"], ["SET", "k", "v"], ["DUMP", "k"]],
                resp3=True)


def test_dump_listpack_hashes_byte_identical(reference, server):
    setups = [
        [["HSET", "k", "f", "v"]],
        [["HSET", "k", *[x for n in INT_BOUNDARIES for x in (str(n), str(-n))]]],
        [["HSET", "k", "a" * 63, "b" * 64, "", "", "007", "-0", "\x00", "\xff"]],
        [["HSET", "k", "a", 1, "b", 2, "c", 3], ["HDEL", "k", "b"], ["HSET", "k", "a", "changed"]],
        [["HSET", "k", *[x for i in range(128) for x in ("field%d" % i, "v" * (i % 65))]]],
        [["HINCRBY", "k", "n", 5], ["HINCRBYFLOAT", "k", "f", "1.5"]],
    ]
    assert_same(reference, server, dump_script(setups))


def test_dump_intsets_byte_identical(reference, server):
    setups = [
        [["SADD", "k", 1, 2, 3]],
        [["SADD", "k", *INT_BOUNDARIES]],
        [["SADD", "k", 32767, -32768]],
        [["SADD", "k", 32768]],
        [["SADD", "k", -2147483648, 2147483647]],
        [["SADD", "k", 2147483648]],
        [["SADD", "k", *range(512)]],
        [["SADD", "k", 5, 1, 3], ["SREM", "k", 3]],
    ]
    assert_same(reference, server, dump_script(setups))


def test_dump_sorted_sets_byte_identical(reference, server):
    scores = ["0", "-0", "1", "-1", "1.5", "0.1", "1e300", "-1e-300", "inf", "-inf",
              "4611686018427387903", "4611686018427387904", "-4611686018427387904",
              "9007199254740993", "3.0000000000000004", "123456789.125"]
    pairs = [x for i, s in enumerate(scores) for x in (s, "m%d" % i)]
    setups = [
        [["ZADD", "k", 1, "a"]],
        [["ZADD", "k", *pairs]],
        [["ZADD", "k", 1, "b", 1, "a", 1, "c", 1, "12", 1, "-5"]],
        [["ZADD", "k", *[x for i in range(128) for x in (repr(i * 0.5), "member%d" % i)]]],
        # skiplist encodings: saved highest score first with binary doubles
        [["ZADD", "k", *pairs, 5, "x" * 65]],
        [["ZADD", "k", *[x for i in range(300) for x in (repr(i / 7), "member%d" % i)]]],
        [["ZADD", "k", 1, "a", 2, "b"], ["ZINCRBY", "k", "0.25", "a"], ["ZREM", "k", "b"]],
    ]
    assert_same(reference, server, dump_script(setups))


def _list_elements(rng, n):
    kinds = (lambda: b"x" * rng.randrange(0, 300),
             lambda: str(rng.randrange(-10**12, 10**12)).encode(),
             lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(0, 70))),
             lambda: str(rng.randrange(-200, 200)).encode())
    return [rng.choice(kinds)() for _ in range(n)]


def test_dump_lists_byte_identical(reference, server):
    rng = random.Random(2)
    setups = [
        [["RPUSH", "k", "a"]],
        [["RPUSH", "k", *[str(n) for n in INT_BOUNDARIES], "a" * 63, "b" * 64, "c" * 4096, ""]],
        [["LPUSH", "k", "a", "b", 1, 2, 300, -5, "x" * 100]],   # one node: same layout either way
        [["RPUSH", "k", *range(10000)]],
        [["RPUSH", "k", *[("e%d" % i) * 10 for i in range(3000)]]],
        [["RPUSH", "k", *_list_elements(rng, 2000)]],
        [["RPUSH", "k", "x" * 9000, "y", "z" * 20000]],           # elements past a node's size
    ]
    assert_same(reference, server, dump_script(setups))


@pytest.mark.parametrize("fill", [-1, -2, -3, -4, -5, -6, 0, 1, 2, 7, 128, 40000])
def test_dump_list_nodes_follow_list_max_listpack_size(configs, reference, server, fill):
    rng = random.Random(fill)
    config_both(configs, list_max_listpack_size=fill)
    elements = _list_elements(rng, 600)
    script = [["RPUSH", "k", *elements[i:i + 100]] for i in range(0, len(elements), 100)]
    script.append(["DUMP", "k"])
    assert_same(reference, server, script)


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_dump_list_interior_nodes_compressed_by_depth(configs, reference, server, depth):
    config_both(configs, list_max_listpack_size=-1, list_compress_depth=depth)
    rng = random.Random(depth)
    script = [["RPUSH", "k", *_list_elements(rng, 1000)], ["DUMP", "k"],
              ["DEL", "k"], ["RPUSH", "k", *[b"abc" * (i % 50) for i in range(3000)]],
              ["DUMP", "k"]]
    assert_same(reference, server, script)


def test_dump_without_rdbcompression(configs, reference, server):
    config_both(configs, rdbcompression="no")
    setups = [[["SET", "k", "a" * 100]], [["HSET", "k", "f", "v" * 50]],
              [["RPUSH", "k", *range(100)]]]
    assert_same(reference, server, dump_script(setups))


# -- payloads crossing between the servers ------------------------------------------------------------

def _populate(client, rng):
    """One key per type and encoding, with binary and boundary contents."""
    c = client
    c.set("str:int", 12345)
    c.set("str:embstr", b"short \x00 value")
    c.set("str:raw", b"long value " * 40)
    c.set("str:random", bytes(rng.randrange(256) for _ in range(3000)))
    c.hset("hash:listpack", mapping={b"f%d" % i: str(n) for i, n in enumerate(INT_BOUNDARIES)})
    c.hset("hash:binary", mapping={b"\x00\xff": b"\r\n", b"": b""})
    c.hset("hash:hashtable", mapping={b"field:%d" % i: b"v" * (i % 100) for i in range(300)})
    c.sadd("set:intset", *INT_BOUNDARIES)
    c.sadd("set:hashtable", *[b"m%d" % i for i in range(1000)], b"\x00", b"")
    c.sadd("set:bigints", *range(600))
    c.zadd("zset:listpack", {b"a": 1, b"b": -2.5, b"c": float("inf"), b"12": 0})
    c.zadd("zset:skiplist", {b"member:%d" % i: i / 3 for i in range(500)})
    c.zadd("zset:longmember", {b"x" * 100: 1, b"y": 2})
    c.rpush("list:small", *_list_elements(rng, 20))
    c.rpush("list:big", *_list_elements(rng, 5000))
    c.lpush("list:lpushed", *_list_elements(rng, 3000))
    return [k.decode() for k in sorted(c.keys("*"))]


@pytest.mark.parametrize("direction", ["reference-to-ours", "ours-to-reference"])
def test_payloads_cross_between_servers(reference, server, direction):
    ref, ours = both(reference, server)
    try:
        for c in (ref, ours):
            c.flushall()
        source, target = (ref, ours) if direction == "reference-to-ours" else (ours, ref)
        keys = _populate(source, random.Random(4))
        for key in keys:
            payload = source.dump(key)
            assert target.restore(key, 0, payload) == b"OK"
        for key in keys:
            assert_same_value(ref, ours, key)
            if ref.object("encoding", key) != b"hashtable" and "lpushed" not in key:
                # deterministic layouts: the restored key dumps to the same bytes
                assert target.dump(key) == source.dump(key), key
    finally:
        ref.close()
        ours.close()


def test_big_values_cross_between_servers(reference, server):
    ref, ours = both(reference, server)
    try:
        for c in (ref, ours):
            c.flushall()
        ref.rpush("list", *range(100000))
        ref.hset("hash", mapping={b"f%d" % i: b"value %d" % i for i in range(20000)})
        ref.sadd("set", *[b"s%d" % i for i in range(20000)])
        ref.zadd("zset", {b"z%d" % i: i * 1.5 for i in range(20000)})
        ref.set("string", b"0123456789abcdef" * 200000)
        for key in ("list", "hash", "set", "zset", "string"):
            ours.restore(key, 0, ref.dump(key))
            assert_same_value(ref, ours, key)
            ref.restore(key + ":back", 0, ours.dump(key))
            assert_same_value(ref, ours, key + ":back", key)
        assert ours.dump("list") == ref.dump("list")
        assert ours.dump("zset") == ref.dump("zset")
    finally:
        ref.close()
        ours.close()


def test_restored_encoding_follows_current_thresholds(configs, reference, server):
    ref, ours = configs
    source = {}
    ref.flushall()
    ref.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    ref.hset("hlong", mapping={"a": "x" * 50})
    ref.sadd("s", 1, 2, 3, 4)
    ref.zadd("z", {"a": 1, "b": 2, "c": 3})
    ref.zadd("zlong", {"m" * 50: 1})
    ref.rpush("l", *range(50))
    for key in ("h", "hlong", "s", "z", "zlong", "l"):
        source[key] = ref.dump(key)
    ref.zadd("zskip", {"m" * 70: 1, "n": 2})
    source["zskip"] = ref.dump("zskip")
    ref.hset("htable", mapping={"f" * 70: 1})
    source["htable"] = ref.dump("htable")
    config_both(configs, hash_max_listpack_entries=2, hash_max_listpack_value=10,
                set_max_intset_entries=3, zset_max_listpack_entries=2,
                zset_max_listpack_value=10, list_max_listpack_size=4)
    for c in (ref, ours):
        c.flushall()
        for key, payload in source.items():
            c.restore(key, 0, payload)
    for key in source:
        assert_same_value(ref, ours, key)


# -- older encodings Redis 7.0 still loads ----------------------------------------------------------

def _old_encoding_payloads():
    items = [b"a", b"", b"x" * 100, 0, 12, 13, -1, 300, -300, 70000, -9000000, 2**31, -2**63,
             b"\x00\xff", b"007"]
    fields = [b"f%d" % i for i in range(len(items))]
    hash_pairs = [x for pair in zip(fields, items) for x in pair]
    zset_pairs = [x for i, m in enumerate([b"a", b"b", b"c", b"12", b"-3"]) for x in (m, i * 3 - 4)]
    zset_text = b"\x03\x03" + rdb_string(b"a") + b"\x031.5" + rdb_string(b"b") + b"\xfe" \
        + rdb_string(b"c") + b"\x04-2e3"
    return {
        "list plain (1)": b"\x01\x03" + rdb_string(b"a") + b"\xc0\x05" + rdb_string(b"x" * 30),
        "list ziplist (10)": b"\x0a" + rdb_string(ziplist(items)),
        "list quicklist of ziplists (14)": b"\x0e\x02" + rdb_string(ziplist(items))
        + rdb_string(ziplist([b"tail", 5])),
        "list quicklist with an empty ziplist (14)": b"\x0e\x02" + rdb_string(ziplist([]))
        + rdb_string(ziplist([b"only"])),
        "hash zipmap (9)": b"\x09" + rdb_string(zipmap([(b"f1", b"v1"), (b"f2", b"12")], free=1)),
        "hash zipmap long value (9)": b"\x09" + rdb_string(zipmap([(b"f", b"v" * 300)])),
        "hash ziplist (13)": b"\x0d" + rdb_string(ziplist(hash_pairs)),
        "zset ziplist (12)": b"\x0c" + rdb_string(ziplist(zset_pairs)),
        "zset text scores (3)": zset_text,
        "set plain integers (2)": b"\x02\x03\xc0\x01\xc0\x02" + rdb_string(b"3"),
        "set plain strings (2)": b"\x02\x02" + rdb_string(b"a") + rdb_string(b"1"),
        "hash plain (4)": b"\x04\x02" + rdb_string(b"a") + rdb_string(b"1") + rdb_string(b"b")
        + rdb_string(b"x" * 100),
        "zset binary scores (5)": b"\x05\x02" + rdb_string(b"a") + b"\x00" * 8 + rdb_string(b"b")
        + b"\x00\x00\x00\x00\x00\x00\xf0\x3f",
        "quicklist 2 plain node (18)": b"\x12\x02\x01" + rdb_string(b"plain element")
        + b"\x02" + rdb_string(build_listpack([b"a", 1])),
        "rdb version 9": None,
    }


def test_old_encodings_load_as_in_redis(configs, reference, server):
    ref, ours = configs
    bodies = _old_encoding_payloads()
    bodies["rdb version 9"] = b"\x00" + rdb_string(b"old payload")
    for name, body in bodies.items():
        payload = dump_payload(body, version=9 if name == "rdb version 9" else 10)
        replies = []
        for c in (ref, ours):
            c.delete("k")
            replies.append(c.restore("k", 0, payload))
        assert replies == [b"OK", b"OK"], name
        assert_same_value(ref, ours, "k")
        if ref.object("encoding", "k") != b"hashtable" and name not in KEEPS_NODE_LAYOUT:
            assert ours.dump("k") == ref.dump("k"), name


# Redis keeps a restored list's nodes as they were; ours splits the list again
# as RPUSH would, so these dump to other (equivalent) node layouts.
KEEPS_NODE_LAYOUT = {"list quicklist of ziplists (14)", "quicklist 2 plain node (18)"}


# -- RESTORE: options and errors ---------------------------------------------------------------------

def test_restore_errors_and_options(reference, server):
    ref = reference.client()
    ref.set("src", "hello")
    payload = ref.dump("src")
    ref.close()
    future = str(int(time.time() * 1000) + 10**7)
    script = [
        ["SET", "k", "v"],
        ["RESTORE", "k", 0, payload],
        ["RESTORE", "k", 0, payload, "REPLACE"], ["GET", "k"], ["TTL", "k"],
        ["RESTORE", "k", -1, payload, "REPLACE"],
        ["RESTORE", "k", "abc", payload, "REPLACE"],
        ["RESTORE", "k", "1.5", payload, "REPLACE"],
        ["RESTORE", "k", "99999999999999999999", payload, "REPLACE"],
        ["RESTORE", "new", -1, payload],
        ["RESTORE", "k", 0, payload[:-1], "REPLACE"],
        ["RESTORE", "k", 0, b"", "REPLACE"],
        ["RESTORE", "k", 0, b"\x00" * 9, "REPLACE"],
        ["RESTORE", "k", 0, payload[:-10] + b"\x0b\x00" + payload[-8:], "REPLACE"],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", -1],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", "x"],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", 256],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", -1],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", "x"],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", 5, "IDLETIME", 5],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", 5, "FREQ", 5],
        ["RESTORE", "k", 0, payload, "REPLACE", "BOGUS"],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME"],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ"],
        ["RESTORE", "k", 0, payload, "replace\x00ignored"],
        ["RESTORE", "k", 0, payload, "rePlAcE", "absttl", "idletime", 10],
        ["RESTORE", "k", 0, payload, "BOGUS", "REPLACE"],      # option error before BUSYKEY
        ["RESTORE", "k", -5, payload],                         # BUSYKEY before the TTL check
        ["RESTORE", "k", 0, b"garbage"],                       # BUSYKEY before the payload
        ["RESTORE", "k"], ["RESTORE", "k", 0],
        ["RESTORE", "k", 5000, payload, "REPLACE"], ["TTL", "k"],
        ["RESTORE", "k", 0, payload, "REPLACE", "ABSTTL"], ["TTL", "k"],
        ["RESTORE", "k", 1, payload, "REPLACE", "ABSTTL"], ["EXISTS", "k"],
        ["RESTORE", "k", future, payload, "REPLACE", "ABSTTL"], ["TTL", "k"],
        ["RESTORE", "k", LLONG_MAX, payload, "REPLACE"], ["EXISTS", "k"],
        ["RESTORE", "k", LLONG_MAX, payload, "REPLACE", "ABSTTL"], ["EXISTS", "k"],
        ["RESTORE", "gone", 1, payload, "ABSTTL"], ["EXISTS", "gone"],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", 100], ["OBJECT", "IDLETIME", "k"],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", 10**12], ["OBJECT", "IDLETIME", "k"],
        ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", 2**62], ["OBJECT", "IDLETIME", "k"],
        ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", 100], ["OBJECT", "FREQ", "k"],
        ["TYPE", "k"], ["OBJECT", "ENCODING", "k"], ["STRLEN", "k"],
    ]
    assert_same(reference, server, script)


def test_restore_over_an_expired_key(reference, server):
    ref = reference.client()
    ref.set("src", "v")
    payload = ref.dump("src")
    ref.close()
    for srv in (reference, server):
        c = srv.client()
        c.flushall()
        c.set("k", "old", px=1)
        time.sleep(0.05)
        assert c.restore("k", 0, payload) == b"OK"     # no BUSYKEY: the old key has expired
        assert c.get("k") == b"v"
        c.close()


def test_restore_freq_under_lfu_policy(configs, reference, server):
    ref, ours = configs
    config_both(configs, maxmemory_policy="allkeys-lfu")
    ref.set("src", "v")
    payload = ref.dump("src")
    script = [["RESTORE", "k", 0, payload, "FREQ", 77], ["OBJECT", "FREQ", "k"],
              ["RESTORE", "k", 0, payload, "REPLACE", "FREQ", 0], ["OBJECT", "FREQ", "k"],
              ["RESTORE", "k", 0, payload, "REPLACE", "IDLETIME", 1000], ["OBJECT", "IDLETIME", "k"]]
    assert_same(reference, server, script)


def test_restore_serves_a_blocked_client(reference, server):
    """A list created by RESTORE wakes a client blocked on its key, as a push does."""
    for srv in (reference, server):
        c = srv.client()
        c.flushall()
        c.rpush("src", "a", "b")
        payload = c.dump("src")
        waiter = srv.raw()
        waiter.send(encode_command(["BLPOP", "dst", 5]))
        deadline = time.monotonic() + 5
        while c.execute_command("CLIENT", "LIST").count(b"cmd=blpop") == 0:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert c.restore("dst", 0, payload) == b"OK"
        assert waiter.read_reply() == b"*2\r\n$3\r\ndst\r\n$1\r\na\r\n"
        assert c.lrange("dst", 0, -1) == [b"b"]
        waiter.close()
        c.close()


def _aof_text(srv, marker, timeout=5.0):
    directory = os.path.join(srv.dir, "appendonlydir")
    deadline = time.monotonic() + timeout
    text = b""
    while time.monotonic() < deadline:
        if os.path.isdir(directory):
            text = b"".join(open(os.path.join(directory, name), "rb").read()
                            for name in sorted(os.listdir(directory)) if name.endswith(".aof"))
            if marker in text:
                return text
        time.sleep(0.05)
    return text if os.path.isdir(directory) else None


def test_restore_propagates_absolute_ttl(reference, start_server):
    """A relative TTL is propagated as an absolute one with ABSTTL; an already expired
    RESTORE ... REPLACE as DEL (both the reference's AOF and ours)."""
    ref = reference.client()
    ref.set("src", "v")
    payload = ref.dump("src")
    ref.close()
    ours = start_server("--appendonly", "yes")
    theirs = start_server("--appendonly", "yes", reference=True)
    for srv in (theirs, ours):
        c = srv.client()
        before = int(time.time() * 1000)
        c.restore("k", 100000, payload)
        c.set("old", "x")
        c.restore("old", 1, payload, replace=True, absttl=True)
        c.set("marker", "end")
        c.close()
        text = _aof_text(srv, b"marker")
        assert text is not None, "no AOF written"
        found = re.search(rb"\*5\r\n\$7\r\nRESTORE\r\n\$1\r\nk\r\n\$\d+\r\n(\d+)\r\n", text)
        assert found, text
        when = int(found.group(1))
        assert before + 100000 <= when <= int(time.time() * 1000) + 100000
        rest = b"$%d\r\n%s\r\n$6\r\nABSTTL\r\n" % (len(payload), payload)
        assert text[found.end():].startswith(rest)
        assert b"*2\r\n$3\r\nDEL\r\n$3\r\nold\r\n" in text


# -- corrupt payloads ------------------------------------------------------------------------------

def _corrupt_bodies():
    lp = build_listpack([b"a", b"1", b"b", b"2"])
    bad_count = lp[:4] + b"\x05\x00" + lp[6:]
    bad_total = b"\x20" + lp[1:]
    bad_backlen = lp[:8] + b"\x09" + lp[9:]
    bad_encoding = lp[:6] + b"\xf5" + lp[7:]
    odd = build_listpack([b"a", b"1", b"b"])
    duplicate = build_listpack([b"a", b"1", b"a", b"2"])
    intset_unsorted = b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00"
    intset_duplicate = b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x05\x00"
    intset_width = b"\x03\x00\x00\x00\x01\x00\x00\x00\x05\x00\x00"
    intset_short = b"\x02\x00\x00\x00\x03\x00\x00\x00\x05\x00\x06\x00"
    zl = ziplist([b"a", b"1", b"b", b"2"])
    zl_count = ziplist([b"a", b"1", b"b", b"2"], count=3)
    zl_prevlen = zl[:14] + b"\x07" + zl[15:]
    zl_tail = zl[:4] + b"\x0b" + zl[5:]
    return {
        "unknown type 8": b"\x08\x00",
        "unknown type 20": b"\x14\x00",
        "stream type": b"\x0f\x00",
        "string length past the end": b"\x00\x40\xff" + b"a" * 5,
        "string 32-bit length past the end": b"\x00\x80\x7f\xff\xff\xff",
        "unknown length prefix": b"\x00\x82abc",
        "unknown string encoding": b"\x00\xc5",
        "lzf lengths disagree": b"\x00\xc3\x04\x40\x30\x01aa\xe0",
        "lzf garbage": b"\x00\xc3\x05\x15\xff\xff\xff\xff\xff",
        "lzf huge length": b"\x00\xc3\x04\x80\x7f\x00\x00\x00\x01aa\xe0",
        "lzf announcing zero bytes (accepted)": b"\x00\xc3\x03\x00xyz",
        "set count past the data": b"\x02\x81" + b"\x7f" + b"\xff" * 7 + b"\x01a",
        "set count zero": b"\x02\x00",
        "set duplicate members": b"\x02\x02" + rdb_string(b"a") + rdb_string(b"a"),
        "set duplicate integers": b"\x02\x02\xc0\x01" + rdb_string(b"1"),
        "intset unsorted": b"\x0b" + rdb_string(intset_unsorted),
        "intset duplicate": b"\x0b" + rdb_string(intset_duplicate),
        "intset width 3": b"\x0b" + rdb_string(intset_width),
        "intset short": b"\x0b" + rdb_string(intset_short),
        "intset empty": b"\x0b" + rdb_string(build_intset([])),
        "hash listpack count": b"\x10" + rdb_string(bad_count),
        "hash listpack total bytes": b"\x10" + rdb_string(bad_total),
        "hash listpack back length": b"\x10" + rdb_string(bad_backlen),
        "hash listpack bad encoding": b"\x10" + rdb_string(bad_encoding),
        "hash listpack odd entries": b"\x10" + rdb_string(odd),
        "hash listpack duplicate fields": b"\x10" + rdb_string(duplicate),
        "hash listpack empty": b"\x10" + rdb_string(build_listpack([])),
        "zset listpack duplicate members": b"\x11" + rdb_string(duplicate),
        "zset listpack odd entries": b"\x11" + rdb_string(odd),
        "hash duplicate fields": b"\x04\x02" + rdb_string(b"a") + rdb_string(b"1")
        + rdb_string(b"a") + rdb_string(b"2"),
        "hash count zero": b"\x04\x00",
        "zset duplicate members": b"\x05\x02" + rdb_string(b"a") + b"\x00" * 8
        + rdb_string(b"a") + b"\x00" * 8,
        "zset nan score": b"\x05\x01" + rdb_string(b"a") + b"\x00\x00\x00\x00\x00\x00\xf8\x7f",
        "zset text nan score": b"\x03\x01" + rdb_string(b"a") + b"\xfd",
        "zset truncated score": b"\x05\x01" + rdb_string(b"a") + b"\x00",
        "ziplist wrong count": b"\x0d" + rdb_string(zl_count),
        "ziplist wrong prevlen": b"\x0d" + rdb_string(zl_prevlen),
        "ziplist wrong tail": b"\x0d" + rdb_string(zl_tail),
        "ziplist duplicate fields": b"\x0d" + rdb_string(ziplist([b"a", b"1", b"a", b"2"])),
        "ziplist odd entries": b"\x0c" + rdb_string(ziplist([b"a", b"1", b"b"])),
        "ziplist list empty": b"\x0a" + rdb_string(ziplist([])),
        "zipmap count disagrees": b"\x09" + rdb_string(b"\x05" + zipmap([(b"a", b"b")])[1:]),
        "zipmap duplicate fields": b"\x09" + rdb_string(zipmap([(b"a", b"1"), (b"a", b"2")])),
        "quicklist container 3": b"\x12\x01\x03" + rdb_string(build_listpack([b"a"])),
        "quicklist empty node": b"\x12\x01\x02\x00",
        "quicklist bad listpack": b"\x12\x01\x02" + rdb_string(bad_count),
        "quicklist only empty listpacks": b"\x12\x01\x02" + rdb_string(build_listpack([])),
        "quicklist node count zero": b"\x12\x00",
        "quicklist nodes past the data": b"\x12\x05\x02" + rdb_string(build_listpack([b"a"])),
        "quicklist 1 bad ziplist": b"\x0e\x01" + rdb_string(zl_count),
        "list count past the data": b"\x01\x40\x10" + rdb_string(b"a"),
    }


def test_corrupt_payloads_refused_as_by_redis(configs, reference, server):
    ref, ours = configs
    config_both(configs, sanitize_dump_payload="yes")
    script = []
    for name, body in _corrupt_bodies().items():
        script.append(["RESTORE", "k", 0, dump_payload(body), "REPLACE"])
        script.append(["EXISTS", "k"])
    script.append(["PING"])
    assert_same(reference, server, script)


def test_corrupt_packed_values_refused_even_without_sanitization(configs, server):
    """Redis without sanitize-dump-payload keeps some corrupt packed values as they are
    (and may crash on them later); values here are rebuilt from their entries, so such
    payloads are always refused."""
    ours = configs[1]
    ours.config_set("sanitize-dump-payload", "no")
    ours.delete("k")
    bodies = [b"\x10" + rdb_string(build_listpack([b"a", b"1", b"a", b"2"])),
              b"\x11" + rdb_string(build_listpack([b"a", b"1", b"b"])),
              b"\x0b" + rdb_string(b"\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00"),
              b"\x12\x01\x02" + rdb_string(build_listpack([b"a", b"b"])[:-3] + b"\x07\xff")]
    for body in bodies:
        with pytest.raises(redis.ResponseError, match="Bad data format"):
            ours.restore("k", 0, dump_payload(body))
        assert ours.exists("k") == 0
    assert ours.ping()


def test_skip_checksum_validation(configs, reference, server):
    ref, ours = configs
    body = b"\x00" + rdb_string(b"value")
    unchecked = body + b"\x0a\x00" + b"\x00" * 8
    script = [["RESTORE", "k", 0, unchecked],
              ["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1],
              ["RESTORE", "k", 0, unchecked], ["GET", "k"],
              ["RESTORE", "k2", 0, body + b"\x0b\x00" + b"\x00" * 8]]
    assert_same(reference, server, script)


def test_values_may_read_into_the_footer_as_in_redis(reference, server):
    """Redis reads the value from the whole payload, footer included."""
    for body in (b"\x00\x05abc", b"\x00\x0aab", b"\x00\x0d", b"\x00\x0cx"):
        assert_same(reference, server, [["RESTORE", "k", 0, dump_payload(body), "REPLACE"],
                                        ["GET", "k"]])


# -- fuzzing ---------------------------------------------------------------------------------------

FUZZ_MUTATIONS = 2000
ACCEPTED_ERRORS = (b"-ERR Bad data format\r\n", b"-ERR DUMP payload version or checksum are wrong\r\n")
READ_BACK = {b"+string\r\n": ["GET"], b"+list\r\n": ["LRANGE", 0, -1],
             b"+hash\r\n": ["HGETALL"], b"+set\r\n": ["SMEMBERS"],
             b"+zset\r\n": ["ZRANGE", 0, -1, "WITHSCORES"]}


def _mutate(payload, rng):
    body = bytearray(payload[:-10])
    choice = rng.randrange(6)
    if choice == 0:
        for _ in range(rng.randrange(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
    elif choice == 1:
        del body[rng.randrange(1, len(body)):]
    elif choice == 2:
        position = rng.randrange(1, len(body) + 1)
        body[position:position] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 6)))
    elif choice == 3:
        position = rng.randrange(len(body))
        body[position] ^= 1 << rng.randrange(8)
    elif choice == 4:
        start = rng.randrange(len(body))
        del body[start:start + rng.randrange(1, 8)]
    else:
        position = rng.randrange(len(body))
        body[position] = rng.choice([0x00, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xC0, 0xC3, 0xFE, 0xFF])
    if not body:
        body = bytearray(b"\x00")
    if rng.random() < 0.1:
        return bytes(body) + payload[-10:]          # stale checksum
    return dump_payload(body)


def _batch(conn, commands):
    conn.send(b"".join(encode_command(command) for command in commands))
    return [conn.read_reply() for _ in commands]


def test_fuzzed_payloads_never_break_the_server(server):
    rng = random.Random(12345)
    c = server.client()
    c.flushall()
    _populate(c, random.Random(8))
    c.hset("hash:small", mapping={"a": "1", "bb": "x" * 30, "c": "-7"})
    c.zadd("zset:small", {"a": 1.5, "b": 2, "c": -3})
    c.rpush("list:mixed", "a", 1, "x" * 40, -300, "")
    bases = [c.dump(key) for key in c.keys("*") if len(c.dump(key)) < 40000]
    c.flushall()
    c.close()
    conn = RawConnection(server.port, timeout=30)
    try:
        done = 0
        while done < FUZZ_MUTATIONS:
            count = min(100, FUZZ_MUTATIONS - done)
            commands = [["RESTORE", "fuzz:%d" % (done + i), 0, _mutate(rng.choice(bases), rng),
                         "REPLACE"] for i in range(count)]
            replies = _batch(conn, commands)
            restored = []
            for command, reply in zip(commands, replies):
                assert reply == b"+OK\r\n" or reply in ACCEPTED_ERRORS, (command, reply)
                if reply == b"+OK\r\n":
                    restored.append(command[1])
            types = _batch(conn, [["TYPE", key] for key in restored])
            reads = [[*READ_BACK[kind][:1], key, *READ_BACK[kind][1:]]
                     for key, kind in zip(restored, types)]
            reads += [["DUMP", key] for key in restored]
            for command, reply in zip(reads, _batch(conn, reads)):
                assert not reply.startswith(b"-"), (command, reply)
            # what we restored dumps to a payload we restore again to the same value
            for key, reply in zip(restored, _batch(conn, [["DUMP", key] for key in restored])):
                dumped = reply.split(b"\r\n", 1)[1][:-2]
                again = _batch(conn, [["RESTORE", key + ":again", 0, dumped],
                                      ["DEBUG", "DIGEST-VALUE", key, key + ":again"]])
                assert again[0] == b"+OK\r\n"
                digests = again[1].split(b"\r\n")
                assert digests[1] == digests[2] and digests[1].startswith(b"+"), key
            _batch(conn, [["FLUSHALL"]])
            done += count
        assert conn.command("PING") == b"+PONG\r\n"
    finally:
        conn.close()


def test_fuzzed_payloads_accepted_or_refused_as_by_redis(configs, reference, server):
    """Mutated payloads on both servers (Redis sanitising them): the same ones are
    refused, and the ones accepted hold the same value in the same encoding."""
    ref, ours = configs
    config_both(configs, sanitize_dump_payload="yes")
    ours.flushall()
    _populate(ours, random.Random(10))
    ours.zadd("zset:small", {"a": 1.5, "b": 2, "c": -3})
    bases = [ours.dump(key) for key in ours.keys("*") if len(ours.dump(key)) < 40000]
    ours.flushall()
    rng = random.Random(777)
    connections = [RawConnection(srv.port, timeout=30) for srv in (reference, server)]
    try:
        for _ in range(10):
            payloads = [_mutate(rng.choice(bases), rng) for _ in range(100)]
            results = []
            for conn in connections:
                replies = []
                for payload in payloads:
                    replies += _batch(conn, [["RESTORE", "f", 0, payload, "REPLACE"],
                                             ["OBJECT", "ENCODING", "f"],
                                             ["DEBUG", "DIGEST-VALUE", "f"], ["DEL", "f"]])
                results.append(replies)
            for i, payload in enumerate(payloads):
                theirs, mine = results[0][4 * i:4 * i + 3], results[1][4 * i:4 * i + 3]
                assert mine[0][:3] == theirs[0][:3], (payload, theirs, mine)
                assert mine == theirs or theirs[0][:1] == b"-", (payload, theirs, mine)
    finally:
        for conn in connections:
            conn.close()


def test_pure_python_twins_dump_the_same_bytes(reference, start_server):
    """LZF, CRC-64 and the codec on the pure-Python path give Redis's bytes too."""
    ours = start_server(pure=True)
    rng = random.Random(6)
    setups = [[["SET", "k", b"hello world " * 40]],
              [["SET", "k", bytes(rng.choice(b"abcd") for _ in range(3000))]],
              [["HSET", "k", "f", "v" * 50, "n", 12]],
              [["RPUSH", "k", *_list_elements(rng, 1500)]],
              [["SADD", "k", 1, 70000]],
              [["ZADD", "k", "1.5", "a", 2, "b"]]]
    script = dump_script(setups)
    assert_same(reference, ours, script)
    expected = run_script(reference.port, script)
    payloads = [reply.split(b"\r\n", 1)[1][:-2] for reply in expected if reply.startswith(b"$")]
    c = ours.client()
    for i, payload in enumerate(payloads):
        assert c.restore("r%d" % i, 0, payload) == b"OK"
        assert c.dump("r%d" % i) == payload
    c.close()


def test_restore_refuses_a_set_claiming_more_members_than_any_file_holds(server, reference):
    """A set whose length prefix claims ~2^63 members: a bad payload, not an internal error."""
    payload = b"\x02\x81\xC0\x00\x02\x5F\x31\xC0\x02\x09\x00\xB2\x1B\xE5\x17\x2E\x15\xF4\x6C"
    script = [["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"], ["RESTORE", "k", "0", payload, "REPLACE"],
              ["PING"]]
    assert_same(reference, server, script)

"""Whole RDB files (persistence/rdb.py) and the checker (persistence/check_rdb.py), against
Debian's redis-server 7.0.15 and redis-check-rdb in both directions:

- Redis -> ours: a real server filled with every type and encoding SAVEs; our loader reads
  the dump, and every key, value, TTL, encoding, idle time and LFU counter matches what the
  live server reports. Each key's bytes, re-encoded by our writer, equal Redis's where
  Redis's own order is deterministic, and a whole file is byte-identical.
- ours -> Redis: databases written by our writer load into a real server with the same
  contents, TTLs and encodings, and redis-check-rdb accepts them.
- Old formats (RDB 4, 6 and 9: ziplists, zipmap, quicklist v1, EXPIRETIME in seconds),
  built here by hand, load here and in Redis alike.
- Corrupt input: every truncation, byte flips, bad checksums, magic, versions, type bytes
  and absurd lengths raise RdbLoadError, with the offset redis-check-rdb reports.

The loading side runs in-process (the suite runs it on both twins); databases are plain
stand-ins with the interface the writer documents.
"""
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import pytest

from harness import ROOT, ServerProcess, require_reference, require_tool
from persistence import rdb
from persistence.check_rdb import check_file
from persistence.crc64 import crc64
from persistence.rdb_values import (TYPE_HASH, TYPE_SET, Reader, build_intset, build_listpack,
                                    decode_value, value_type, write_length, write_string,
                                    write_value)
from test_rdb_codec import ziplist, zipmap

pytestmark = pytest.mark.timeout(120)


class Config:
    """The config attributes the writer, loader and codec read, at Redis's defaults."""
    rdbcompression = True
    rdbchecksum = True
    maxmemory_policy = "noeviction"
    list_max_listpack_size = -2
    list_compress_depth = 0
    hash_max_listpack_entries = 512     # the built-in default (redis.conf says 128)
    hash_max_listpack_value = 64
    set_max_intset_entries = 512
    zset_max_listpack_entries = 128
    zset_max_listpack_value = 64

    def __init__(self, **overrides):
        for name, value in overrides.items():
            setattr(self, name, value)


class Database:
    """The database interface write_rdb documents, over plain dicts."""

    def __init__(self, index, data=None, expires=None, idle=None, freq=None):
        self.index = index
        self.data = dict(data or {})
        self.expires = dict(expires or {})
        self.idle = dict(idle or {})
        self.freq = dict(freq or {})

    def __len__(self):
        return len(self.data)

    def idle_seconds(self, key):
        return self.idle.get(key, 0)

    def lfu_counter(self, key):
        return self.freq.get(key, 5)


# -- helpers -----------------------------------------------------------------------------------

def now_ms():
    return time.time_ns() // 1_000_000


def plain(value):
    """(type, contents) of a value, comparable with what redis-py reads."""
    if isinstance(value, (bytes, bytearray)):
        return "string", bytes(value)
    kind = value.TYPE
    if kind == "list":
        return kind, list(value)
    if kind == "hash":
        return kind, dict(value.items())
    if kind == "set":
        return kind, set(value)
    return kind, [(member, float(score)) for member, score in value.items()]


def load_records(data, config=None, **options):
    records = list(rdb.RdbLoader(data, config or Config(), **options))
    assert isinstance(records[-1], rdb.EndOfFile)
    return records


def load_keys(data, config=None, **options):
    """{db: {key: Key record}} of a whole file."""
    dbs = {}
    for record in load_records(data, config, **options):
        if isinstance(record, rdb.Key):
            assert record.key not in dbs.setdefault(record.db, {})
            dbs[record.db][record.key] = record
    return dbs


def wait_loaded(client, proc, timeout=10):
    """Wait for a server to finish loading its file (it answers -LOADING until then)."""
    import redis
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.ping()
            return
        except (redis.BusyLoadingError, redis.ConnectionError):
            if proc.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("server did not load its file:\n" + proc.log())
            time.sleep(0.02)


def live_snapshot(client, databases):
    """{db: {key: (type, contents, expire ms or None, encoding)}} read from a live server."""
    snapshot = {}
    for index in databases:
        client.select(index)
        keys = {}
        for key in client.scan_iter(count=1000):
            kind = client.type(key).decode()
            if kind == "string":
                contents = client.get(key)
            elif kind == "list":
                contents = client.lrange(key, 0, -1)
            elif kind == "hash":
                contents = client.hgetall(key)
            elif kind == "set":
                contents = client.smembers(key)
            else:
                contents = [(m, float(s)) for m, s in client.zrange(key, 0, -1, withscores=True)]
            expire = client.execute_command("PEXPIRETIME", key)
            keys[key] = (kind, contents, None if expire < 0 else expire,
                         client.object("encoding", key).decode())
        if keys:
            snapshot[index] = keys
    client.select(0)
    return snapshot


def record_snapshot(dbs):
    """live_snapshot's form for loaded records (strings' encodings are Redis's business)."""
    return {index: {key: plain(r.value) + (r.expire_ms,
                                           None if isinstance(r.value, (bytes, bytearray))
                                           else r.value.encoding())
                    for key, r in keys.items()}
            for index, keys in dbs.items()}


def assert_same(ours, theirs):
    """Two snapshots equal, compared key by key so that a failure names the key."""
    assert sorted(ours) == sorted(theirs)
    for index in theirs:
        assert sorted(ours[index]) == sorted(theirs[index])
        for key in theirs[index]:
            assert (index, key, ours[index][key]) == (index, key, theirs[index][key])


def without_string_encodings(snapshot):
    return {index: {key: entry[:3] + ((None,) if entry[0] == "string" else entry[3:])
                    for key, entry in keys.items()}
            for index, keys in snapshot.items()}


def databases_from_server(client, indexes, config):
    """Our Database stand-ins holding a live server's data, each value decoded from DUMP."""
    databases = []
    for index in indexes:
        client.select(index)
        db = Database(index)
        for key in client.scan_iter(count=1000):
            payload = client.dump(key)
            body = payload[:-10]                  # less the RDB version and the CRC
            db.data[key] = decode_value(Reader(body, 1), body[0], config)
            expire = client.execute_command("PEXPIRETIME", key)
            if expire >= 0:
                db.expires[key] = expire
        databases.append(db)
    client.select(0)
    return databases


def start_redis_on(path, *args):
    """A real redis-server that loaded the RDB file at `path` on start-up."""
    proc = ServerProcess(["--dir", os.path.dirname(path), "--dbfilename", os.path.basename(path)]
                         + list(args), reference=True)
    client = proc.client()
    wait_loaded(client, proc)
    return proc, client


def redis_check(path):
    """(exit status, output lines) of the real redis-check-rdb."""
    tool = require_tool("redis-check-rdb")
    done = subprocess.run([tool, os.path.basename(path)], cwd=os.path.dirname(path),
                          capture_output=True, timeout=30)
    return done.returncode, _comparable(done.stdout)


def our_check(path, now=None):
    out = io.BytesIO()
    cwd = os.getcwd()
    os.chdir(os.path.dirname(path))
    try:
        ok = check_file(os.path.basename(path), out, now)
    finally:
        os.chdir(cwd)
    return (0 if ok else 1), _comparable(out.getvalue())


def _comparable(output):
    """The report's lines, less the log line with a pid and a time in it, and with the
    text of an internal error (which names a C source line in Redis) cut after its offset."""
    lines = []
    for line in output.decode("latin-1").splitlines():
        if "Terminating server after rdb file reading failure" in line:
            continue
        if "] Internal error in RDB reading offset" in line:
            line = line.split(" Internal error")[0] + " Internal error"
        lines.append(line)
    return lines


def finish(body, checksum=True):
    """EOF and checksum after hand-built file contents."""
    body = bytes(body) + b"\xff"
    return body + (crc64(body) if checksum else 0).to_bytes(8, "little")


def raw(s):
    """An RDB string with a plain length (no integer or LZF encoding)."""
    out = bytearray()
    write_length(out, len(s))
    return bytes(out) + s


def aux(name, value):
    return b"\xfa" + raw(name) + raw(value)


HEADER = b"REDIS0010" + aux(b"redis-ver", b"7.0.15")


def fill(client):
    """Every type in every encoding Redis 7.0 keeps, in databases 0, 3 and 15."""
    rng = random.Random(7)
    p = client.pipeline(transaction=False)
    p.select(0)
    p.set("str:int", "12345").set("str:neg", "-7").set("str:bigint", "1234567890123")
    p.set("str:short", "hello").set("str:long", "abc" * 50).set("str:binary", bytes(range(256)))
    p.set("str:empty", "").set("str:random", rng.randbytes(300))
    p.set("str:appended", "grown").append("str:appended", " in place")
    p.set("42", "an integer-looking key").set(b"\x00\xffbinary key", "v")
    p.rpush("list:small", "a", "1", "b", "2.5", "", "-3")
    for start in range(0, 3000, 500):
        p.rpush("list:big", *["item-%d" % i for i in range(start, start + 500)])
    p.rpush("list:huge-elements", *["%d" % i * 3000 for i in range(1, 6)])
    p.sadd("set:intset", 1, 2, 3, -70000, 2 ** 40)
    p.sadd("set:strings", "a", "b", "c")
    p.sadd("set:big-ints", *range(600))
    p.hset("hash:small", mapping={"f1": "v1", "f2": "2", "f3": ""})
    p.hset("hash:big", mapping={"field-%d" % i: "value-%d" % i for i in range(600)})
    p.hset("hash:long-value", mapping={"f": "x" * 100})
    p.zadd("zset:small", {"a": 1, "b": 2.5, "c": float("-inf"), "d": float("inf"), "e": 0,
                          "f": 3.141592653589793, "g": -1e-300, "h": 2 ** 53})
    p.zadd("zset:big", {"member-%d" % i: i * 0.5 for i in range(200)})
    p.zadd("zset:long-member", {"m" * 100: 1})
    p.set("ttl:string", "v", px=100000)
    p.hset("ttl:hash", "f", "v").pexpire("ttl:hash", 200000)
    p.set("ttl:far", "v").pexpireat("ttl:far", 2 ** 42)
    p.config_set("list-compress-depth", 1)
    for start in range(0, 3000, 500):
        p.rpush("list:compressed",
                *["value-%d-%s" % (i, "x" * 20) for i in range(start, start + 500)])
    p.config_set("list-compress-depth", 0)
    p.select(3)
    p.set("db3:str", "three").rpush("db3:list", "x", "y").set("db3:ttl", "v", ex=5000)
    p.select(15)
    p.zadd("db15:zset", {"only": 1})
    p.select(0)
    p.execute()


FILLED_DBS = (0, 3, 15)
FUNCTION_CODE = (b"#!lua name=mylib\n"
                 b"redis.register_function('myfunc', function(keys, args) return 1 end)")


@pytest.fixture(scope="module")
def tmp_dir():
    path = tempfile.mkdtemp(prefix="pyredis-rdb-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def redis_r(reference):
    client = reference.client()
    client.flushall()
    client.function_flush()
    client.config_set("maxmemory-policy", "noeviction")
    yield client
    client.flushall()
    client.function_flush()
    client.config_set("maxmemory-policy", "noeviction")
    client.close()


def save(client, reference):
    assert client.save()
    with open(os.path.join(reference.dir, "dump.rdb"), "rb") as f:
        return f.read()


# -- Redis -> ours -----------------------------------------------------------------------------

def test_redis_dump_loads_with_every_type_encoding_and_ttl(reference, redis_r):
    fill(redis_r)
    redis_r.function_load(FUNCTION_CODE.decode())
    live = live_snapshot(redis_r, FILLED_DBS)
    data = save(redis_r, reference)

    records = load_records(data)
    aux = {r.name: r.value for r in records if isinstance(r, rdb.AuxField)}
    assert aux[b"redis-ver"] == b"7.0.15" and aux[b"redis-bits"] == b"64"
    assert aux[b"aof-base"] == b"0" and b"ctime" in aux and b"used-mem" in aux
    assert [r.code for r in records if isinstance(r, rdb.FunctionLibrary)] == [FUNCTION_CODE]
    assert [r.index for r in records if isinstance(r, rdb.SelectDb)] == list(FILLED_DBS)
    resize = [r for r in records if isinstance(r, rdb.ResizeDb)]
    assert [(r.keys, r.expires) for r in resize] == [
        (len(live[i]), sum(1 for e in live[i].values() if e[2] is not None)) for i in FILLED_DBS]

    loaded = load_keys(data)
    assert_same(record_snapshot(loaded), without_string_encodings(live))
    # the encodings this covers, as Redis reports them
    encodings = {entry[3] for keys in live.values() for entry in keys.values()}
    assert encodings >= {"int", "embstr", "raw", "quicklist", "intset", "hashtable", "listpack",
                         "skiplist"}
    for keys in loaded.values():
        for record in keys.values():
            assert record.lru_idle is None and record.lfu_freq is None   # noeviction


def test_each_key_reencodes_to_redis_bytes(reference, redis_r):
    """Our writer, given the values loaded from Redis's dump, writes each key as Redis did
    (where Redis's order is not its hash table's)."""
    fill(redis_r)
    data = save(redis_r, reference)
    loader = rdb.RdbLoader(data, Config())
    compared = 0
    start = loader.offset
    for record in loader:
        end = loader.offset
        if isinstance(record, rdb.Key):
            value = record.value
            kind = value_type(value)
            if kind not in (TYPE_SET, TYPE_HASH):       # hash-table order: Redis's own
                config = Config(list_compress_depth=1 if record.key == b"list:compressed" else 0)
                out = bytearray()
                if record.expire_ms is not None:
                    out.append(rdb.OPCODE_EXPIRETIME_MS)
                    out += record.expire_ms.to_bytes(8, "little", signed=True)
                out.append(kind)
                write_string(out, record.key)
                write_value(out, value, config)
                assert bytes(out) == data[start:end], record.key
                compared += 1
        start = end
    assert compared >= 20


def test_whole_file_is_byte_identical(reference, redis_r, tmp_dir):
    """With one key per database, the file has no hash-table order: ours equals Redis's."""
    p = redis_r.pipeline(transaction=False)
    p.select(0).rpush("list", *range(100)).pexpireat("list", 2 ** 41)
    p.select(1).hset("hash", mapping={"a": "1", "b": "x" * 30})
    p.select(2).set("string", "compress me " * 10)
    p.select(5).zadd("zset", {"a": 1.5, "b": -2})
    p.select(0).execute()
    data = save(redis_r, reference)
    aux = {r.name: r.value for r in load_records(data) if isinstance(r, rdb.AuxField)}
    databases = databases_from_server(redis_r, range(16), Config())
    ours = rdb.rdb_bytes(databases, Config(), ctime=int(aux[b"ctime"]),
                         used_memory=int(aux[b"used-mem"]))
    assert ours == data


@pytest.mark.parametrize("policy", ["allkeys-lfu", "volatile-lfu", "allkeys-lru", "volatile-lru"])
def test_redis_dump_carries_freq_or_idle_by_policy(reference, redis_r, policy):
    redis_r.config_set("maxmemory-policy", policy)
    redis_r.set("source", "value")
    payload = redis_r.dump("source")
    redis_r.delete("source")
    for i, amount in enumerate((0, 7, 100, 255)):
        option = ["FREQ", amount] if "lfu" in policy else ["IDLETIME", amount * 100]
        redis_r.execute_command("RESTORE", "key:%d" % i, 0, payload, *option)
    expected = {}
    for i in range(4):
        key = b"key:%d" % i
        expected[key] = redis_r.object("freq" if "lfu" in policy else "idletime", key)
    loaded = load_keys(save(redis_r, reference))[0]
    assert set(loaded) == set(expected)
    for key, record in loaded.items():
        if "lfu" in policy:
            assert record.lru_idle is None and record.lfu_freq == expected[key]
        else:
            assert record.lfu_freq is None and abs(record.lru_idle - expected[key]) <= 2


def test_redis_dump_passes_both_checkers(reference, redis_r):
    fill(redis_r)
    save(redis_r, reference)
    path = os.path.join(reference.dir, "dump.rdb")
    status, lines = redis_check(path)
    assert status == 0
    assert our_check(path) == (status, lines)
    assert lines[-4].endswith("\\o/ RDB looks OK! \\o/")


# -- ours -> Redis -----------------------------------------------------------------------------

def test_our_file_loads_in_redis_with_same_contents(reference, redis_r, tmp_dir):
    fill(redis_r)
    live = live_snapshot(redis_r, FILLED_DBS)
    config = Config()
    databases = databases_from_server(redis_r, range(16), config)
    databases[0].data[b"str:bytearray"] = bytearray(b"grown in place")
    databases[3].data[b"expired"] = b"gone"
    databases[3].expires[b"expired"] = now_ms() - 1000
    path = os.path.join(tmp_dir, "ours.rdb")
    with open(path, "wb") as f:
        rdb.write_rdb(f, databases, config, functions=[FUNCTION_CODE])

    proc, client = start_redis_on(path)
    try:
        reloaded = live_snapshot(client, FILLED_DBS)
        assert reloaded[0].pop(b"str:bytearray")[:3] == ("string", b"grown in place", None)
        assert_same(without_string_encodings(reloaded), without_string_encodings(live))
        assert client.fcall("myfunc", 0) == 1          # the library came along
        assert "keys expired: 1" in proc.log()       # a master drops expired keys on load
    finally:
        client.close()
        proc.stop()

    status, lines = redis_check(path)
    assert status == 0
    assert "[info] 1 already expired" in lines
    assert our_check(path) == (status, lines)


@pytest.mark.parametrize("policy", ["allkeys-lfu", "allkeys-lru"])
def test_redis_loads_our_freq_and_idle(tmp_dir, policy):
    require_reference()
    config = Config(maxmemory_policy=policy)
    db = Database(0, {b"k%d" % i: b"v" for i in range(4)},
                  idle={b"k%d" % i: i * 1000 for i in range(4)},
                  freq={b"k%d" % i: i * 60 for i in range(4)})
    path = os.path.join(tmp_dir, "policy.rdb")
    rdb.save_file(path, [db], config)
    proc, client = start_redis_on(path, "--maxmemory-policy", policy)
    try:
        for i in range(4):
            if policy.endswith("lfu"):
                assert client.object("freq", b"k%d" % i) == i * 60
            else:
                assert abs(client.object("idletime", b"k%d" % i) - i * 1000) <= 2
    finally:
        client.close()
        proc.stop()


# -- the writer on its own ---------------------------------------------------------------------

def sample_databases():
    config = Config()
    hash_value = decode_value(Reader(b"\x02" + raw(b"f") + raw(b"v") + raw(b"g") + raw(b"w")),
                              4, config)
    list_value = decode_value(Reader(b"\x03" + raw(b"a") + raw(b"b") + raw(b"c")), 1, config)
    zset_value = decode_value(Reader(raw(build_listpack([b"m", 1, b"n", b"2.5"]))), 17, config)
    set_value = decode_value(Reader(raw(build_intset([1, 2, 3]))), 11, config)
    db0 = Database(0, {b"s": b"string", b"n": b"1234", b"h": hash_value, b"l": list_value,
                       b"z": zset_value, b"i": set_value},
                   expires={b"s": 4102444800000}, idle={b"s": 30}, freq={b"s": 17})
    db2 = Database(2, {b"x": b"y"})
    return [db0, Database(1), db2]


@pytest.mark.parametrize("policy,idle,freq", [("noeviction", False, False),
                                              ("volatile-ttl", False, False),
                                              ("allkeys-random", False, False),
                                              ("volatile-lru", True, False),
                                              ("allkeys-lru", True, False),
                                              ("volatile-lfu", False, True),
                                              ("allkeys-lfu", False, True)])
def test_idle_and_freq_follow_the_policy(policy, idle, freq):
    data = rdb.rdb_bytes(sample_databases(), Config(maxmemory_policy=policy))
    record = load_keys(data)[0][b"s"]
    assert record.lru_idle == (30 if idle else None)
    assert record.lfu_freq == (17 if freq else None)
    assert record.expire_ms == 4102444800000


def test_writer_layout_and_aux_fields():
    replication = rdb.ReplicationInfo(3, "a" * 40, 123456)
    data = rdb.rdb_bytes(sample_databases(), Config(), replication=replication, aof_base=True,
                         used_memory=1048576, ctime=1700000000)
    assert data.startswith(b"REDIS0010\xfa")
    records = load_records(data)
    fields = [(r.name, r.value) for r in records if isinstance(r, rdb.AuxField)]
    assert fields == [(b"redis-ver", b"7.0.15"), (b"redis-bits", b"64"),
                      (b"ctime", b"1700000000"), (b"used-mem", b"1048576"),
                      (b"repl-stream-db", b"3"), (b"repl-id", b"a" * 40),
                      (b"repl-offset", b"123456"), (b"aof-base", b"1")]
    assert rdb.replication_info(rdb.AuxField(*f) for f in fields) == replication
    lines = [rdb.aux_log_line(rdb.AuxField(*f), now=1700000010) for f in fields]
    assert lines == ["Loading RDB produced by version 7.0.15", None, "RDB age 10 seconds",
                     "RDB memory usage when created 1.00 Mb", None, None, None, "RDB is base AOF"]
    kinds = [type(r).__name__ for r in records if not isinstance(r, rdb.AuxField)]
    assert kinds == ["SelectDb", "ResizeDb"] + ["Key"] * 6 + ["SelectDb", "ResizeDb", "Key",
                                                            "EndOfFile"]
    assert [r for r in records if isinstance(r, rdb.ResizeDb)] == [(6, 1), (1, 0)]
    assert records[-1].checksum == crc64(data[:-8]) == int.from_bytes(data[-8:], "little")
    loaded = load_keys(data)
    assert {k: plain(r.value) for k, r in loaded[0].items()} == {
        b"s": ("string", b"string"), b"n": ("string", b"1234"),
        b"h": ("hash", {b"f": b"v", b"g": b"w"}), b"l": ("list", [b"a", b"b", b"c"]),
        b"z": ("zset", [(b"m", 1.0), (b"n", 2.5)]), b"i": ("set", {b"1", b"2", b"3"})}


def test_checksum_and_compression_switches():
    databases = [Database(0, {b"k": b"compressible " * 20})]
    data = rdb.rdb_bytes(databases, Config(rdbchecksum=False))
    assert data[-8:] == bytes(8)
    assert load_records(data)[-1].checksum == 0
    plain_data = rdb.rdb_bytes(databases, Config(rdbcompression=False))
    assert b"compressible " * 20 in plain_data
    assert b"compressible " * 20 not in data
    assert load_keys(plain_data)[0][b"k"].value == b"compressible " * 20


def test_writer_streams_in_chunks():
    class Recorder:
        def __init__(self):
            self.writes = []

        def write(self, chunk):
            self.writes.append(bytes(chunk))

    rng = random.Random(3)
    big = Database(0, {b"key-%d" % i: rng.randbytes(100) for i in range(5000)})
    stream = Recorder()
    written = rdb.write_rdb(stream, [big], Config())
    data = b"".join(stream.writes)
    assert written == len(data) > 4 * rdb.WRITE_CHUNK
    assert len(stream.writes) >= 4
    assert max(map(len, stream.writes)) < rdb.WRITE_CHUNK + 1024
    assert data == rdb.rdb_bytes([big], Config(), ctime=int(load_records(data)[2].value))
    assert len(load_keys(data)[0]) == 5000


def test_save_file_replaces_atomically(tmp_dir):
    path = os.path.join(tmp_dir, "saved.rdb")
    with open(path, "wb") as f:
        f.write(b"old contents")
    written = rdb.save_file(path, sample_databases(), Config())
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) == written and data.startswith(b"REDIS0010")
    assert not os.path.exists(os.path.join(tmp_dir, "temp-%d.rdb" % os.getpid()))
    with rdb.open_rdb_file(path, Config()) as loader:
        records = list(loader)
        assert loader.offset == loader.size == written
    assert sum(isinstance(r, rdb.Key) for r in records) == 7


# -- the loader on its own ---------------------------------------------------------------------

def test_loading_is_incremental_and_reports_progress():
    data = rdb.rdb_bytes([Database(0, {b"k%d" % i: b"v" * 100 for i in range(50)})], Config())
    loader = rdb.RdbLoader(data, Config())
    records = iter(loader)
    offsets = []
    for record in records:
        offsets.append(loader.offset)
        if isinstance(record, rdb.Key):
            break
    assert 0 < loader.offset < loader.size         # one key in, the rest still unread
    for record in records:
        offsets.append(loader.offset)
    assert offsets == sorted(offsets) and offsets[-1] == len(data)


def test_rdb_preamble_followed_by_more_data():
    data = rdb.rdb_bytes(sample_databases(), Config(), aof_base=True)
    loader = rdb.RdbLoader(data + b"*1\r\n$4\r\nPING\r\n", Config())
    list(loader)
    assert loader.offset == len(data)


def test_empty_keys_are_skipped_and_functions_parsed():
    body = (HEADER + b"\xf5" + raw(FUNCTION_CODE)
            + b"\xf6" + raw(b"oldlib") + raw(b"LUA") + b"\x01" + raw(b"a description")
            + raw(b"return 1")
            + b"\xfe\x00\x02" + raw(b"empty set") + b"\x00"
            + b"\x01" + raw(b"empty list") + b"\x00"
            + b"\x00" + raw(b"k") + raw(b"v"))
    records = load_records(finish(body))
    assert [r for r in records if isinstance(r, rdb.FunctionLibrary)] == [
        (FUNCTION_CODE,), (b"#!LUA name=oldlib\nreturn 1",)]
    assert [r for r in records if isinstance(r, rdb.EmptyKey)] == [(0, b"empty set"),
                                                                   (0, b"empty list")]
    assert [r.key for r in records if isinstance(r, rdb.Key)] == [b"k"]


def test_old_formats_load_here_and_in_redis(tmp_dir):
    """RDB 9 with the encodings Redis 7 only reads (ziplists, zipmap, quicklist v1,
    RDB_TYPE_ZSET text scores), RDB 6 with EXPIRETIME in seconds, RDB 4 with no checksum."""
    future_ms = (int(time.time()) + 100000) * 1000
    wide_intset = (struct.pack("<II", 8, 3)            # 64-bit members, small as they are
                   + struct.pack("<3q", -5, 1, 300))
    old_zset = (b"\x03" + raw(b"a") + b"\x031.5" + raw(b"b") + b"\xfe" + raw(b"c") + b"\xff")
    body = (b"REDIS0009" + aux(b"redis-ver", b"5.0.7") + b"\xfe\x00\xfb\x0a\x01"
            + b"\xfc" + future_ms.to_bytes(8, "little") + b"\x0d" + raw(b"hash:ziplist")
            + raw(ziplist([b"f1", b"v1", b"f2", b"2", b"f3", b"x" * 300]))
            + b"\x0c" + raw(b"zset:ziplist") + raw(ziplist([b"a", 1, b"b", b"2.5", b"c", b"inf"]))
            + b"\x0e" + raw(b"list:quicklist") + b"\x02" + raw(ziplist([b"a", b"b"]))
            + raw(ziplist([b"1", b"c" * 70]))
            + b"\x0a" + raw(b"list:ziplist") + raw(ziplist([b"x", 7, b"y", -100000]))
            + b"\x09" + raw(b"hash:zipmap") + raw(zipmap([(b"f", b"v"), (b"g", b"ww")], free=1))
            + b"\x0b" + raw(b"set:intset") + raw(wide_intset)
            + b"\x03" + raw(b"zset:old") + old_zset
            + b"\x01" + raw(b"list:linked") + b"\x02" + raw(b"p") + raw(b"q")
            + b"\x04" + raw(b"hash:old") + b"\x01" + raw(b"f") + raw(b"v")
            + b"\x02" + raw(b"set:old") + b"\x02" + raw(b"m") + raw(b"n"))
    data = finish(body)
    expected = {
        # a packed hash stays packed whatever its value lengths, as in Redis
        b"hash:ziplist": ("hash", {b"f1": b"v1", b"f2": b"2", b"f3": b"x" * 300}, future_ms,
                          "listpack"),
        b"zset:ziplist": ("zset", [(b"a", 1.0), (b"b", 2.5), (b"c", float("inf"))], None,
                          "listpack"),
        b"list:quicklist": ("list", [b"a", b"b", b"1", b"c" * 70], None, "quicklist"),
        b"list:ziplist": ("list", [b"x", b"7", b"y", b"-100000"], None, "quicklist"),
        b"hash:zipmap": ("hash", {b"f": b"v", b"g": b"ww"}, None, "listpack"),
        b"set:intset": ("set", {b"-5", b"1", b"300"}, None, "intset"),
        b"zset:old": ("zset", [(b"c", float("-inf")), (b"a", 1.5), (b"b", float("inf"))], None,
                      "listpack"),
        b"list:linked": ("list", [b"p", b"q"], None, "quicklist"),
        b"hash:old": ("hash", {b"f": b"v"}, None, "listpack"),
        b"set:old": ("set", {b"m", b"n"}, None, "hashtable"),
    }
    assert_same(record_snapshot(load_keys(data)), {0: expected})

    path = os.path.join(tmp_dir, "v9.rdb")
    with open(path, "wb") as f:
        f.write(data)
    proc, client = start_redis_on(path)
    try:
        assert_same(live_snapshot(client, [0]), {0: expected})
    finally:
        client.close()
        proc.stop()

    later = int(time.time()) + 1000
    v6 = finish(b"REDIS0006\xfe\x00"
                + b"\xfd" + later.to_bytes(4, "little") + b"\x00"
                + raw(b"later") + raw(b"v")
                + b"\xfd" + (1000).to_bytes(4, "little") + b"\x00" + raw(b"long ago") + raw(b"v")
                + b"\x00" + raw(b"forever") + raw(b"v"))
    keys = load_keys(v6)[0]
    assert keys[b"later"].expire_ms == later * 1000
    assert keys[b"long ago"].expire_ms == 1000000
    assert keys[b"forever"].expire_ms is None

    v4 = b"REDIS0004\xfe\x00\x00" + raw(b"k") + raw(b"v") + b"\xff"
    records = load_records(v4)
    assert records[-1] == rdb.EndOfFile(None)
    assert [r.key for r in records if isinstance(r, rdb.Key)] == [b"k"]


# -- corrupt input -----------------------------------------------------------------------------

def small_file(checksum=True):
    """A small file with a bit of everything, written by us."""
    config = Config(maxmemory_policy="allkeys-lfu", rdbchecksum=checksum)
    databases = sample_databases()
    databases[0].data[b"long"] = b"long and compressible " * 4
    return rdb.rdb_bytes(databases, config, ctime=1700000000, functions=[FUNCTION_CODE])


def load_error(data, config=None, **options):
    with pytest.raises(rdb.RdbLoadError) as info:
        for _ in rdb.RdbLoader(data, config or Config(), **options):
            pass
    return info.value


def test_every_truncation_fails_at_redis_check_offset(tmp_dir):
    data = small_file()
    path = os.path.join(tmp_dir, "cut.rdb")
    for cut in range(len(data)):
        error = load_error(data[:cut])
        assert error.message in ("Unexpected EOF reading RDB file",
                                 "Failed loading library, Failed loading library payload")
        assert rdb.SHORT_READ in error.log_lines and error.kind == rdb.FAILED_READING
        assert error.offset <= cut
        with open(path, "wb") as f:
            f.write(data[:cut])
        assert our_check(path) == redis_check(path), cut


def streamed(data, sizes, config=None, cut=None, **options):
    """The records of a streaming loader fed `data` in pieces of the sizes drawn from
    `sizes` (an iterator), NEED_MORE left out; `cut`: the input ends after that many bytes."""
    loader = rdb.RdbLoader.streaming(config or Config(), **options)
    end = len(data) if cut is None else cut
    fed = 0
    records = []
    for record in loader:
        if record is rdb.NEED_MORE:
            if fed >= end:
                loader.end_of_input()
                continue
            size = next(sizes)
            loader.feed(data[fed:min(end, fed + size)])
            fed = min(end, fed + size)
            continue
        records.append(record)
    return records, loader


def comparable(records):
    """Records with the keys of KeyRun records spelt out one by one, values made plain."""
    out = []
    for record in records:
        if isinstance(record, rdb.KeyRun):
            expires = dict(record.expires)
            for i, (key, value) in enumerate(zip(record.keys, record.values)):
                out.append(("key", record.db, key, plain(value), expires.get(i)))
        elif isinstance(record, rdb.Key):
            out.append(("key", record.db, record.key, plain(record.value), record.expire_ms))
        else:
            out.append(record)
    return out


HUGE = random.Random(1).randbytes(200000)


def big_file():
    databases = sample_databases()
    databases[0].data.update((b"key:%d" % i, b"v" * (i % 300)) for i in range(3000))
    databases[0].data[b"huge"] = HUGE
    databases[2].expires[b"x"] = 4102444800000
    return rdb.rdb_bytes(databases, Config(rdbcompression=False), ctime=1700000000,
                         functions=[FUNCTION_CODE])


@pytest.mark.parametrize("string_runs", [False, True])
def test_streaming_loader_reads_what_the_whole_file_gives(string_runs):
    """Fed in pieces of any size, one byte up to the whole file, a streaming loader gives
    the records of the whole file (a record cut short is read again once complete), its
    offset ends at the file's end and the checksum is verified."""
    rng = random.Random(7)
    for data in (small_file(), big_file()):
        whole = comparable(load_records(data, string_runs=string_runs))
        for sizes in (iter(lambda: 1, None), iter(lambda: rng.randint(1, 5000), None),
                      iter(lambda: 64 * 1024, None), iter(lambda: len(data), None)):
            if len(data) > 100000 and next(sizes) == 1:
                continue                     # byte by byte: the small file is enough
            records, loader = streamed(data, sizes, string_runs=string_runs)
            assert comparable(records) == whole
            assert loader.offset == len(data) and loader.buffered() == 0


def test_streaming_loader_cut_short_or_corrupt():
    """Input that ends inside a record is Redis's short read at the record's offset, once
    the caller says nothing more comes; a flipped byte fails the checksum as for a file."""
    data = big_file()
    rng = random.Random(3)
    for cut in sorted(rng.sample(range(1, len(data)), 40)) + [len(data) - 1]:
        with pytest.raises(rdb.RdbLoadError) as info:
            streamed(data, iter(lambda: rng.randint(1, 70000), None), cut=cut)
        error = info.value
        assert error.message in (rdb.UNEXPECTED_EOF,
                                 "Failed loading library, Failed loading library payload")
        assert rdb.SHORT_READ in error.log_lines and error.offset <= cut
        assert error.offset == load_error(data[:cut]).offset
    flipped = bytearray(data)
    flipped[data.index(HUGE) + 1000] ^= 0xFF
    with pytest.raises(rdb.RdbLoadError) as info:
        streamed(bytes(flipped), iter(lambda: 4096, None))
    assert info.value.message == "RDB CRC error"


def test_checksum_mismatch_and_switches():
    data = small_file()
    for position in range(len(data) - 8, len(data)):
        bad = bytearray(data)
        bad[position] ^= 0x40
        error = load_error(bytes(bad))
        assert error.message == "RDB CRC error" and error.doing == "check-sum"
        assert error.offset == len(data)
        stored = int.from_bytes(bad[-8:], "little")
        assert error.log_lines[0] == ("Wrong RDB checksum expected: (%x) but got (%x). "
                                      "Aborting now." % (crc64(data[:-8]), stored))
        # rdbchecksum no: the stored sum is read but not checked
        assert load_records(bytes(bad), Config(rdbchecksum=False))[-1].checksum == stored
    # a file saved without a checksum loads, flagged by a 0 sum
    assert load_records(small_file(checksum=False))[-1].checksum == 0


def test_byte_flips_never_escape_as_other_errors():
    """With the checksum unchecked, a flipped byte reaches the parser: it either loads or
    raises RdbLoadError, never anything else, and never hangs."""
    data = small_file(checksum=False)
    config = Config(rdbchecksum=False)
    outcomes = set()
    for position in range(len(data) - 8):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[position] ^= mask
            try:
                for _ in rdb.RdbLoader(bytes(bad), config):
                    pass
                outcomes.add("loaded")
            except rdb.RdbLoadError as exc:
                assert 0 <= exc.offset <= len(data)
                outcomes.add("error")
    assert outcomes == {"loaded", "error"}
    # and with the checksum on, no flip of the content loads
    for position in range(9, len(data) - 8, 7):
        bad = bytearray(small_file())
        bad[position] ^= 0x01
        load_error(bytes(bad))


@pytest.mark.parametrize("header,message", [
    (b"REDIX0010", "Wrong signature trying to load DB from file"),
    (b"REDIS0011", "Can't handle RDB format version 11"),
    (b"REDIS0000", "Can't handle RDB format version 0"),
    (b"REDISabcd", "Can't handle RDB format version 0"),
])
def test_bad_header(header, message, tmp_dir):
    data = header + small_file()[9:]
    error = load_error(data)
    assert (error.message, error.offset, error.doing) == (message, 9, "start")
    assert error.kind == rdb.FAILED_HEADER
    assert error.log_lines == [message]
    path = os.path.join(tmp_dir, "header.rdb")
    with open(path, "wb") as f:
        f.write(data)
    assert our_check(path) == redis_check(path)


@pytest.mark.parametrize("type_byte", [8, 20, 0xF0, 0xF4])
def test_invalid_type_byte(type_byte, tmp_dir):
    data = finish(HEADER + b"\xfe\x00" + bytes((type_byte,)) + raw(b"k") + raw(b"v"))
    error = load_error(data)
    assert error.message == "Invalid object type: %d" % type_byte
    assert error.log_lines[-1].endswith("Unknown RDB encoding type %d" % type_byte)
    assert error.offset == len(HEADER) + 3
    path = os.path.join(tmp_dir, "type.rdb")
    with open(path, "wb") as f:
        f.write(data)
    assert our_check(path) == redis_check(path)


@pytest.mark.parametrize("name,body", [
    ("string", b"\x00" + raw(b"k") + b"\x81" + (1 << 60).to_bytes(8, "big") + b"abc"),
    ("list", b"\x01" + raw(b"k") + b"\x81" + (1 << 60).to_bytes(8, "big") + raw(b"a")),
    ("hash", b"\x04" + raw(b"k") + b"\x81" + (1 << 60).to_bytes(8, "big") + raw(b"a")),
    ("key", b"\x00\x80\xff\xff\xff\xff" + b"abc"),
    ("lzf", b"\x00" + raw(b"k") + b"\xc3\x04\x81" + (1 << 60).to_bytes(8, "big") + b"abcd"),
])
def test_absurd_lengths_fail_fast(name, body, tmp_dir):
    data = HEADER + b"\xfe\x00" + body
    started = time.monotonic()
    error = load_error(data)
    assert time.monotonic() - started < 1
    assert error.offset <= len(data)
    path = os.path.join(tmp_dir, "absurd.rdb")
    with open(path, "wb") as f:
        f.write(data)
    status, lines = our_check(path)
    assert status == 1
    if name not in ("lzf", "hash"):     # there Redis fails allocating first
        assert (status, lines) == redis_check(path)


def test_corrupt_value_reports_redis_offset(tmp_dir):
    data = finish(HEADER + b"\xfe\x00" + b"\x10" + raw(b"h") + raw(b"abc"))
    error = load_error(data)
    assert error.message.startswith("Internal error in RDB reading offset")
    assert error.message.endswith("Hash listpack integrity check failed.")
    assert (error.key, error.key_type, error.doing) == (b"h", 16, "read-object-value")
    path = os.path.join(tmp_dir, "corrupt.rdb")
    with open(path, "wb") as f:
        f.write(data)
    assert our_check(path) == redis_check(path)


def test_module_aux_refused_but_checked(tmp_dir):
    module_id = 0
    for char in "mymodule1":
        module_id = (module_id << 6) | rdb.MODULE_NAME_CHARSET.index(char)
    module_id = (module_id << 10) | 3
    out = bytearray(HEADER + b"\xf7")
    write_length(out, module_id)
    out += b"\x02\x02"                             # when: an unsigned, 2 (after the keys)
    out += b"\x02\x05" + b"\x05" + raw(b"payload") + b"\x04" + bytes(8) + b"\x03" + bytes(4)
    out += b"\x00"                                 # end of the module value
    data = finish(out + b"\xfe\x00\x00" + raw(b"k") + raw(b"v"))
    error = load_error(data)
    assert error.message == ("The RDB file contains AUX module data I can't load: "
                             "no matching module 'mymodule1'")
    records = load_records(data, check_mode=True)
    assert rdb.ModuleAux("mymodule1") in records
    path = os.path.join(tmp_dir, "module.rdb")
    with open(path, "wb") as f:
        f.write(data)
    status, lines = our_check(path)
    assert status == 0 and any("MODULE AUX for: mymodule1" in line for line in lines)
    assert (status, lines) == redis_check(path)


def test_database_beyond_the_configured_count():
    data = finish(HEADER + b"\xfe\x14" + b"\x00" + raw(b"k") + raw(b"v"))
    assert load_keys(data)[20][b"k"].value == b"v"
    error = load_error(data, databases=16)
    assert error.message.startswith("FATAL: Data file was created with a Redis server "
                                    "configured to handle more than 16 databases.")
    assert error.kind == rdb.FAILED_REFUSED


def test_empty_key_is_an_error_for_the_checker(tmp_dir):
    data = finish(HEADER + b"\xfe\x00\x02" + raw(b"k") + b"\x00")
    assert load_records(data)[-2] == rdb.EmptyKey(0, b"k")
    path = os.path.join(tmp_dir, "empty.rdb")
    with open(path, "wb") as f:
        f.write(data)
    status, lines = our_check(path)
    assert status == 1 and "[additional info] Reading key 'k'" in lines
    assert (status, lines) == redis_check(path)


def test_empty_file_and_missing_file(tmp_dir):
    path = os.path.join(tmp_dir, "zero.rdb")
    open(path, "wb").close()
    with rdb.open_rdb_file(path, Config()) as loader:
        with pytest.raises(rdb.RdbLoadError) as info:
            list(loader)
    assert info.value.message == "Unexpected EOF reading RDB file"
    assert our_check(path) == redis_check(path)
    missing = os.path.join(tmp_dir, "missing.rdb")
    assert our_check(missing) == redis_check(missing)


# -- the command line --------------------------------------------------------------------------

def run_checker(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "persistence.check_rdb", *args], cwd=cwd,
                          env=env, capture_output=True, timeout=60)


def test_command_line_exit_codes(tmp_dir):
    good = os.path.join(tmp_dir, "good.rdb")
    with open(good, "wb") as f:
        f.write(small_file())
    bad = os.path.join(tmp_dir, "bad.rdb")
    with open(bad, "wb") as f:
        f.write(small_file()[:-3])
    done = run_checker("good.rdb", cwd=tmp_dir)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == b"[offset 0] Checking RDB file good.rdb"
    assert b"\\o/ RDB looks OK! \\o/" in done.stdout
    done = run_checker("bad.rdb", cwd=tmp_dir)
    assert done.returncode == 1 and b"--- RDB ERROR DETECTED ---" in done.stdout
    assert run_checker(cwd=tmp_dir).returncode == 1
    assert run_checker("a", "b", cwd=tmp_dir).returncode == 1
    version = run_checker("--version", cwd=tmp_dir)
    assert version.returncode == 0 and version.stdout == b"redis-check-rdb 7.0.15\n"


def test_native_walk_writes_the_same_file_as_the_python_loop():
    """Whole files through write_rdb, with the native key-table walk and without: the same
    bytes, over several databases mixing inline strings, held values and expires."""
    import persistence.rdb as rdb_module
    if rdb_module._write_entries is None:
        pytest.skip("native walk not in use on this twin")
    from server.base.config import Config
    from server.server import Server
    config = Config()
    config.load_text("save ''\n")
    server = Server(config)
    for index in (0, 3, 15):
        db = server.dbs[index]
        for i in range(300):
            db.set(b"k%d:%d" % (index, i), b"%d" % (i * 7919) if i % 3 else b"v" * (i % 90))
        db.set(b"grown", bytearray(b"in place"))
        db.set(b"long", b"x" * 500)
        for i in range(0, 300, 7):
            db.set_expire(b"k%d:%d" % (index, i), 1_900_000_000_000 + i)

    def whole_file(native):
        saved = rdb_module._write_entries
        if not native:
            rdb_module._write_entries = None
        try:
            return rdb_module.rdb_bytes(server.dbs, config, ctime=1, used_memory=0)
        finally:
            rdb_module._write_entries = saved

    assert whole_file(True) == whole_file(False)

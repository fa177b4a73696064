"""Streams wherever values go: RDB files, DUMP/RESTORE, AOF rewrite, DEBUG DIGEST,
MEMORY USAGE, COPY, lazy free and redis-check-rdb, against Debian's redis-server 7.0.

The streams are built by the same commands on both servers (seeded random XADD, XDEL,
XTRIM under several node sizes), so the serialisations must be the same bytes; streams
with consumer groups are built on the reference server and carried over by RESTORE, so
their delivery times are the same on both sides.
"""
import os
import random
import time

import pytest
import redis

from differential import assert_same, needs, ours, pure_server  # noqa: F401 (fixtures)
from harness import ServerProcess, require_tool
from test_rdb_file import our_check, redis_check, wait_loaded

NODE_SIZES = [(4096, 100), (100, 3), (0, 0), (500, 10)]


def run_both(clients, *args):
    """The same command on every client; the replies (an exception's text for an error)
    must agree."""
    replies = []
    for client in clients:
        try:
            replies.append(client.execute_command(*args))
        except redis.ResponseError as exc:
            replies.append(("error", str(exc)))
    for reply in replies[1:]:
        assert reply == replies[0], "%r: %r" % (args, replies)
    return replies[0]


def random_stream(clients, rng, key=b"s", ops=300):
    """XADDs with one to three fields (the master fields or others), numbers and strings,
    XDELs of earlier IDs and exact or approximate XTRIMs, on every client."""
    ms = rng.randrange(1, 1 << 40)
    seq = 0
    ids = []
    for _ in range(rng.randrange(ops // 3, ops)):
        roll = rng.random()
        if roll < 0.08 and ids:
            run_both(clients, "XDEL", key, rng.choice(ids))
            continue
        if roll < 0.11:
            run_both(clients, "XTRIM", key, "MAXLEN", rng.choice(["~", "="]),
                     rng.randrange(0, 60))
            continue
        if rng.random() < 0.5:
            seq += rng.randrange(1, 5)
        else:
            ms += rng.randrange(1, 5000)
            seq = rng.randrange(0, 3)
        nfields = rng.choice([1, 1, 2, 3])
        names = rng.choice([[b"a", b"b", b"c"][:nfields],
                            [b"%s%d" % (rng.choice([b"x", b"12", b"-5"]), j)
                             for j in range(nfields)]])
        flat = []
        for name in names:
            flat += [name, rng.choice([b"%d" % rng.randrange(-10**12, 10**12),
                                       b"%d" % rng.randrange(10), b"v" * rng.randrange(90),
                                       b"\x00\xffbin", b""])]
        entry_id = b"%d-%d" % (ms, seq)
        ids.append(entry_id)
        run_both(clients, "XADD", key, entry_id, *flat)


def grouped_payload(ref, rng, key=b"s"):
    """A stream built on the reference with groups, pending entries (some of them deleted
    from the stream), acknowledged ones and an idle consumer; its DUMP payload."""
    ref.delete(key)
    random_stream([ref], rng, key, ops=120)
    if not ref.exists(key):
        ref.xadd(key, {b"f": b"v"})
    ref.execute_command("XGROUP", "CREATE", key, "readers", "0")
    ref.execute_command("XGROUP", "CREATE", key, "late", "$")
    ref.execute_command("XGROUP", "CREATE", key, "a\x00bin", "0")
    for consumer in (b"alice", b"bob", b"carol\x00"):
        got = ref.execute_command("XREADGROUP", "GROUP", "readers", consumer, "COUNT",
                                  rng.randrange(1, 8), "STREAMS", key, ">")
        for _, entries in got or []:
            if entries and rng.random() < 0.5:
                ref.execute_command("XACK", key, "readers", entries[0][0])
            if len(entries) > 1:
                ref.execute_command("XDEL", key, entries[-1][0])
    ref.execute_command("XREADGROUP", "GROUP", "a\x00bin", "z", "COUNT", 3, "STREAMS", key, ">")
    ref.execute_command("XGROUP", "CREATECONSUMER", key, "late", "idle")
    return ref.dump(key)


@pytest.fixture(scope="module")
def ref_client(reference):
    client = reference.client()
    yield client
    client.close()


@pytest.fixture
def pair(reference, ours):
    """(reference client, our client), flushed, at the default node sizes, payloads not
    sanitized and checksums checked (the tests that want otherwise say so)."""
    clients = (reference.client(), ours.client())
    for client in clients:
        client.flushall()
        client.config_set("stream-node-max-bytes", 4096)
        client.config_set("stream-node-max-entries", 100)
        client.config_set("sanitize-dump-payload", "no")
        client.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 0)
    yield clients
    for client in clients:
        client.close()


# -- DUMP / RESTORE ----------------------------------------------------------------------------

@pytest.mark.parametrize("max_bytes,max_entries", NODE_SIZES)
@pytest.mark.parametrize("seed", [1, 2])
def test_dump_is_byte_equal_for_the_same_commands(pair, seed, max_bytes, max_entries):
    ref, our = pair
    for client in pair:
        client.config_set("stream-node-max-bytes", max_bytes)
        client.config_set("stream-node-max-entries", max_entries)
    rng = random.Random(seed * 1000 + max_bytes + max_entries)
    for round_ in range(4):
        key = b"s%d" % round_
        random_stream(pair, rng, key)
        theirs, mine = ref.dump(key), our.dump(key)
        assert mine == theirs
        if theirs is None:
            continue
        # and each takes the other's payload back to the same value
        ref.restore(b"back", 0, mine, replace=True)
        our.restore(b"back", 0, theirs, replace=True)
        assert our.dump(b"back") == ref.dump(b"back") == theirs
        assert run_both(pair, "XRANGE", b"back", "-", "+") == \
            run_both(pair, "XRANGE", key, "-", "+")


@pytest.mark.parametrize("resp3", [False, True])
def test_replies_are_redis_bytes_in_resp2_and_resp3(reference, ours, resp3):
    """DUMP, RESTORE (good, busy, corrupt), COPY, DEBUG DIGEST-VALUE, MEMORY USAGE (of
    streams built by XADD, copied, reloaded) and OBJECT of streams, compared as raw replies."""
    script = [["CONFIG", "SET", "stream-node-max-entries", "2"],
              ["XADD", "s", "1-1", "a", "1", "b", "two"],
              ["XADD", "s", "2-0", "a", "3", "b", "four"],
              ["XADD", "s", "2-5", "c", "-7"],
              ["XADD", "s", "3-0", "a", "", "b", "x" * 70],
              ["XDEL", "s", "2-0"],
              ["DUMP", "s"],
              ["DEBUG", "DIGEST-VALUE", "s"],
              ["MEMORY", "USAGE", "s"],
              ["MEMORY", "USAGE", "s", "SAMPLES", "0"],
              ["OBJECT", "ENCODING", "s"],
              ["COPY", "s", "c"],
              ["DUMP", "c"],
              ["MEMORY", "USAGE", "c"],
              ["XADD", "empty", "MAXLEN", "0", "5-5", "f", "v"],
              ["DUMP", "empty"],
              ["RESTORE", "s", "0", b"\x13\x00"],
              ["RESTORE", "bad", "0", b"\x13\x00\x00" + b"\x0a\x00" + b"\x00" * 8],
              ["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"],
              ["RESTORE", "bad", "0", b"\x13\x01\x10" + b"\x00" * 16 + b"\x02ab"
               + b"\x0a\x00" + b"\x00" * 8],
              ["RESTORE", "bad", "0", b"\x13\x00\x00\x00\x00\x00\x00\x00\x00\x00"
               + b"\x0a\x00" + b"\x00" * 8],
              ["DUMP", "bad"],
              ["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"],
              ["DEBUG", "RELOAD"],
              ["MEMORY", "USAGE", "s"],
              ["XADD", "s", "9-9", "a", "b"],
              ["MEMORY", "USAGE", "s"],
              ["XADD", "s", "9-10", "a", "b"],
              ["MEMORY", "USAGE", "s"],
              ["CONFIG", "SET", "stream-node-max-entries", "100"]]
    assert_same(reference, ours, script, resp3=resp3)


def test_a_node_past_the_listpack_count_limit_dumps_as_redis(ref_client, native_server):
    """Unbounded nodes: one listpack of more than 65535 elements (its count saturates).
    On the native twins only: the pure packed list rewrites a node on every append."""
    ref, our = ref_client, native_server.client()
    pair = (ref, our)
    for client in pair:
        client.flushall()
        client.config_set("stream-node-max-bytes", 0)
        client.config_set("stream-node-max-entries", 0)
    for client in pair:
        pipe = client.pipeline(transaction=False)
        for i in range(15000):
            flat = [b"f", i] if i % 3 else [b"g", b"x", b"h", b"y"]
            pipe.execute_command("XADD", "huge", "%d-1" % (i + 1), *flat)
        pipe.execute()
    assert our.dump("huge") == ref.dump("huge")
    our.restore("back", 0, ref.dump("huge"))
    assert our.dump("back") == ref.dump("huge")
    for client in pair:
        client.flushall()
        client.config_set("stream-node-max-bytes", 4096)
        client.config_set("stream-node-max-entries", 100)


def test_groups_pels_and_consumers_round_trip_through_restore(pair):
    ref, our = pair
    rng = random.Random(7)
    for round_ in range(5):
        payload = grouped_payload(ref, rng)
        our.restore(b"g", 0, payload, replace=True)
        assert our.dump(b"g") == payload
        assert our.execute_command("XLEN", b"g") == ref.execute_command("XLEN", b"s")
        # ours to Redis
        ref.restore(b"g", 0, our.dump(b"g"), replace=True)
        assert ref.dump(b"g") == payload


def test_an_empty_stream_with_history_round_trips(pair):
    ref, our = pair
    run_both(pair, "XADD", "e", "5-1", "a", "1")
    run_both(pair, "XADD", "e", "7-0", "a", "2")
    run_both(pair, "XDEL", "e", "5-1", "7-0")
    assert run_both(pair, "XLEN", "e") == 0
    assert our.dump("e") == ref.dump("e")
    run_both(pair, "XTRIM", "t", "MAXLEN", "0")
    run_both(pair, "XADD", "t", "MAXLEN", "0", "1-1", "x", "y")
    assert our.dump("t") == ref.dump("t")
    ref.restore("e2", 0, our.dump("e"))
    our.restore("e2", 0, ref.dump("e"))
    assert our.dump("e2") == ref.dump("e2")


def as_version_1(payload):
    """A 7.0 stream payload rewritten as RDB_TYPE_STREAM_LISTPACKS, as 6.x wrote it: without
    first ID, greatest deleted ID, entries added and the groups' entries read. Valid for
    payloads whose every length is a one-byte or 64-bit-free encoding (the test data)."""
    from persistence.rdb_values import Reader, write_length, write_string
    reader = Reader(payload[:-10])
    assert reader.byte() == 19
    out = bytearray([15])
    nodes = reader.length()
    write_length(out, nodes)
    for _ in range(2 * nodes):
        write_string(out, reader.string(), False)
    for _ in range(3):                   # length, last ID
        write_length(out, reader.length())
    for _ in range(5):                   # first ID, greatest deleted ID, entries added
        reader.length()
    groups = reader.length()
    write_length(out, groups)
    for _ in range(groups):
        write_string(out, reader.string(), False)
        write_length(out, reader.length())
        write_length(out, reader.length())
        reader.length()                  # entries read
        pending = reader.length()
        write_length(out, pending)
        for _ in range(pending):
            out += reader.take(16 + 8)
            write_length(out, reader.length())
        consumers = reader.length()
        write_length(out, consumers)
        for _ in range(consumers):
            write_string(out, reader.string(), False)
            out += reader.take(8)
            owned = reader.length()
            write_length(out, owned)
            out += reader.take(16 * owned)
    assert reader.pos == len(payload) - 10
    from persistence.crc64 import crc64
    body = bytes(out) + (9).to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def test_a_6x_payload_loads_as_redis_loads_it(pair):
    """Type 15: entries added and the groups' entries read are estimated, as Redis does."""
    ref, our = pair
    rng = random.Random(11)
    for round_ in range(4):
        old = as_version_1(grouped_payload(ref, rng))
        for client in pair:
            client.restore(b"old", 0, old, replace=True)
        assert our.dump(b"old") == ref.dump(b"old")
        run_both(pair, "XRANGE", "old", "-", "+")


def canonical(payload):
    """A payload as this server encodes its value (entries in their shortest encoding)."""
    from persistence.dump import dump_payload, load_payload

    class Config:
        rdbcompression = 1
    return dump_payload(load_payload(payload, Config), Config)


def stream_state(payload, nodes=True):
    """What a stream payload holds, but its consumers' seen times (and, without nodes, how
    its entries are split into nodes)."""
    from persistence.dump import load_payload
    stream = load_payload(payload, None)
    groups = []
    for group in stream.groups_in_order():
        pending = [(entry_id, entry.delivery_time, entry.delivery_count, entry.consumer.name)
                   for entry_id, entry in group.pel.range()]
        groups.append((group.name, group.last_id, group.entries_read, pending,
                       [consumer.name for consumer in group.consumers_in_order()]))
    layout = [node.listpack_items() for node in stream.nodes] if nodes else None
    return (list(stream.range()), layout, stream.length, stream.last_id, stream.first_id,
            stream.max_deleted_id, stream.entries_added, groups)


# -- corrupt payloads --------------------------------------------------------------------------

# Payloads of Redis's corrupt-dump suite that sanitisation refuses, with what Redis logs.
CORRUPT = [
    (b"\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00\x00\x02\x04\x6E\x61"
     b"\x6D\x65\x2A\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D"
     b"\x01\x00\x00\x00\x0A\x00\xCC\xED\x8C\xA7\x62\xEE\xC7\xC8",
     "Duplicate stream consumer detected"),
    (b"\x0F\x01\x10\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x00\x00\x00\x00\x00\x00\x00\x40\x42"
     b"\x42\x00\x00\x00\x18\x00\x03\x01\x00\x01\x02\x01\x84\x69\x74\x65\x6D\x05\x85\x76\x61"
     b"\x6C\x75\x65\x06\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x00\x01\x56\x01\x02\x01\x22"
     b"\x01\x00\x01\x01\x01\x82\x5F\x31\x03\x05\x01\x02\x01\x2C\x01\x00\x01\x01\x01\x02\x01"
     b"\x05\x01\xFF\x03\x81\x00\x00\x01\x73\xDE\xDF\x7D\xC7\x00\x01\x07\x6D\x79\x67\x72\x6F"
     b"\x75\x70\x81\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D\x9B"
     b"\x00\x00\x00\x00\x00\x00\x00\x00\xF9\x7D\xDF\xDE\x73\x01\x00\x00\x01\x01\x05\x41\x6C"
     b"\x69\x63\x65\xEB\x7D\xDF\xDE\x73\x01\x00\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00"
     b"\x00\x00\x00\x00\x00\x00\x00\x09\x00\xB2\xA8\xA7\x5F\x1B\x61\x72\xD5",
     "Stream listpack integrity check failed"),
]


def test_corrupt_payloads_are_refused_as_redis_refuses_them(reference, ours, pair):
    pair[1].config_set("loglevel", "verbose")
    for client in pair:
        client.config_set("sanitize-dump-payload", "yes")
        client.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1)
    for payload, logged in CORRUPT:
        reply = run_both(pair, "RESTORE", "bad", 0, payload)
        assert reply == ("error", "Bad data format")
        ours.wait_for_log(logged)
        assert pair[1].ping()
    pair[1].config_set("loglevel", "notice")


def test_every_truncation_and_byte_flip_of_a_payload_is_refused_or_agrees(pair):
    """Cut anywhere, a payload is refused by both with the same error; with one byte
    changed, whatever Redis (sanitizing) refuses we refuse too, and the server serves on."""
    ref, our = pair
    for client in pair:
        client.config_set("sanitize-dump-payload", "yes")
    rng = random.Random(5)
    payload = grouped_payload(ref, rng)
    for cut in range(1, len(payload) - 10):
        body = payload[:cut] + payload[-10:-8]
        from persistence.crc64 import crc64
        truncated = body + crc64(body).to_bytes(8, "little")
        run_both(pair, "RESTORE", "cut", 0, truncated, "REPLACE")
    for client in pair:
        client.execute_command("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", 1)
    for _ in range(300):
        at = rng.randrange(1, len(payload) - 10)
        flipped = bytearray(payload)
        flipped[at] ^= 1 << rng.randrange(8)
        try:
            theirs = ref.restore("flip", 0, bytes(flipped), replace=True)
        except redis.ResponseError as exc:
            theirs = str(exc)
        try:
            mine = our.restore("flip", 0, bytes(flipped), replace=True)
        except redis.ResponseError as exc:
            mine = str(exc)
        if theirs != b"OK":
            assert mine == theirs, (at, flipped)
        elif mine == b"OK":
            # the same content; Redis keeps an entry's non-canonical encoding, we do not
            assert canonical(our.dump("flip")) == canonical(ref.dump("flip"))
        else:
            # refused here only by the checks stricter than Redis's sanitisation
            assert mine == "Bad data format"
        assert our.ping()


# -- RDB files ---------------------------------------------------------------------------------

def fill_streams(ref, our):
    """Streams of every shape on both servers (the grouped ones carried by RESTORE)."""
    rng = random.Random(3)
    clients = (ref, our)
    for client in clients:
        client.config_set("stream-node-max-entries", 7)
    random_stream(clients, rng, b"plain")
    for n in range(3):
        payload = grouped_payload(ref, rng, b"tmp")
        ref.delete(b"tmp")
        for client in clients:
            client.restore(b"grouped%d" % n, 0, payload)
    run_both(clients, "XADD", "emptied", "1-1", "a", "b")
    run_both(clients, "XDEL", "emptied", "1-1")
    run_both(clients, "SELECT", 3)
    run_both(clients, "XADD", "db3", "MAXLEN", "2", "5-5", "a", "b")
    # One absolute time for both servers: a relative PEXPIRE lands a millisecond apart.
    run_both(clients, "PEXPIREAT", "db3", int(time.time() * 1000) + 100000000)
    run_both(clients, "SELECT", 0)
    for client in clients:
        client.config_set("stream-node-max-entries", 100)


def dumps_of(client):
    out = {}
    for db in (0, 3):
        client.execute_command("SELECT", db)
        for key in sorted(client.keys()):
            out[db, key] = client.dump(key)
    client.execute_command("SELECT", 0)
    return out


@pytest.mark.parametrize("pure", [False, True])
def test_save_and_restart_keep_streams_with_groups(reference, ref_client, tmp_path, pure):
    ref_client.flushall()
    directory = str(tmp_path)
    srv = ServerProcess(["--enable-debug-command", "yes"], dir=directory, pure=pure)
    try:
        our = srv.client()
        fill_streams(ref_client, our)
        before = dumps_of(our)
        assert before == dumps_of(ref_client)
        digest = our.execute_command("DEBUG", "DIGEST")
        assert digest == ref_client.execute_command("DEBUG", "DIGEST")
        assert our.execute_command("DEBUG", "RELOAD") == b"OK"
        assert dumps_of(our) == before
        assert our.save()
        srv.stop()
        srv = ServerProcess(["--enable-debug-command", "yes"], dir=directory, pure=pure)
        our = srv.client()
        wait_loaded(our, srv)
        assert dumps_of(our) == before
        assert our.execute_command("DEBUG", "DIGEST") == digest
    finally:
        srv.stop()


def test_files_written_by_each_server_load_in_the_other(reference, ours, ref_client, tmp_path):
    ref_client.flushall()
    our = ours.client()
    our.flushall()
    fill_streams(ref_client, our)
    expected = dumps_of(ref_client)

    # Redis's file, loaded here (native and pure)
    assert ref_client.save()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    with open(os.path.join(reference.dir, "dump.rdb"), "rb") as f:
        (theirs / "dump.rdb").write_bytes(f.read())
    for pure in (False, True):
        srv = ServerProcess(["--enable-debug-command", "yes"], dir=str(theirs), pure=pure)
        try:
            client = srv.client()
            wait_loaded(client, srv)
            assert dumps_of(client) == expected
        finally:
            srv.stop()

    # ours, loaded by Redis
    assert our.save()
    mine = tmp_path / "mine"
    mine.mkdir()
    with open(os.path.join(ours.dir, "dump.rdb"), "rb") as f:
        (mine / "dump.rdb").write_bytes(f.read())
    srv = ServerProcess(["--enable-debug-command", "yes"], dir=str(mine), reference=True)
    try:
        client = srv.client()
        wait_loaded(client, srv)
        assert dumps_of(client) == expected
    finally:
        srv.stop()

    # and both checkers report the same on both files
    for path in (str(theirs / "dump.rdb"), str(mine / "dump.rdb")):
        assert our_check(path) == redis_check(path)
        assert our_check(path)[0] == 0


def test_bgsave_child_writes_streams(reference, ours, ref_client):
    our = ours.client()
    our.flushall()
    ref_client.flushall()
    fill_streams(ref_client, our)
    expected = dumps_of(our)
    our.bgsave()
    deadline = time.monotonic() + 20
    while our.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert our.info("persistence")["rdb_last_bgsave_status"] == "ok"
    assert our.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert dumps_of(our) == expected


# -- AOF rewrite -------------------------------------------------------------------------------

def base_aof(srv):
    directory = os.path.join(srv.dir, "appendonlydir")
    name = [n for n in os.listdir(directory) if ".base." in n]
    assert len(name) == 1, os.listdir(directory)
    with open(os.path.join(directory, name[0]), "rb") as f:
        return f.read()


def commands_by_key(data):
    """{(db, key): [argv, ...]} of an AOF's commands, in their order per key."""
    out = {}
    db = 0
    pos = 0
    while pos < len(data):
        assert data[pos:pos + 1] == b"*"
        end = data.index(b"\r\n", pos)
        count = int(data[pos + 1:end])
        argv = []
        pos = end + 2
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            size = int(data[pos + 1:end])
            argv.append(data[end + 2:end + 2 + size])
            pos = end + 2 + size + 2
        if argv[0].upper() == b"SELECT":
            db = int(argv[1])
            continue
        key = argv[2] if argv[0].upper() == b"XGROUP" else argv[1]
        out.setdefault((db, key), []).append(argv)
    return out


def rewrite(client):
    client.bgrewriteaof()
    deadline = time.monotonic() + 20
    while True:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert info["aof_last_bgrewrite_status"] == "ok"


@pytest.mark.parametrize("pure", [False, True])
def test_aof_rewrite_writes_what_redis_writes_and_loads_back(reference, pure, tmp_path):
    aof_args = ["--appendonly", "yes", "--aof-use-rdb-preamble", "no",
                "--enable-debug-command", "yes"]
    ref_srv = ServerProcess(aof_args, reference=True)
    our_srv = ServerProcess(aof_args, pure=pure, dir=str(tmp_path))
    try:
        ref, our = ref_srv.client(), our_srv.client()
        fill_streams(ref, our)
        expected = dumps_of(ref)
        for client in (ref, our):
            rewrite(client)
        # key order follows each server's hash table: compared key by key
        assert commands_by_key(base_aof(our_srv)) == commands_by_key(base_aof(ref_srv))

        needs(our_srv, "XGROUP", "XCLAIM")
        # the rewritten file gives back the same streams here as in Redis (which loads its
        # own again); XCLAIM stamps the consumers' seen time, which is left out
        our_srv.stop()
        our_srv = ServerProcess(aof_args, dir=str(tmp_path), pure=pure)
        our = our_srv.client()
        wait_loaded(our, our_srv)
        assert ref.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert our.execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")
        mine, theirs = dumps_of(our), dumps_of(ref)
        assert mine.keys() == theirs.keys() == expected.keys()
        for key in mine:
            assert stream_state(mine[key]) == stream_state(theirs[key]), key
            # the entries and the stream's counters survive as they were (a group's PEL
            # does not quite: XCLAIM skips the entries deleted since, as in Redis)
            assert stream_state(mine[key], nodes=False)[:7] == \
                stream_state(expected[key], nodes=False)[:7], key
    finally:
        ref_srv.stop()
        our_srv.stop()


# -- DEBUG DIGEST, MEMORY USAGE, COPY, lazy free -------------------------------------------------

@pytest.mark.parametrize("max_bytes,max_entries", NODE_SIZES[:3])
def test_digest_and_memory_usage_match_redis(pair, max_bytes, max_entries):
    ref, our = pair
    for client in pair:
        client.config_set("stream-node-max-bytes", max_bytes)
        client.config_set("stream-node-max-entries", max_entries)
    rng = random.Random(max_bytes + max_entries)
    for round_ in range(3):
        key = b"m%d" % round_
        random_stream(pair, rng, key, ops=600)
        if not ref.exists(key):
            continue
        assert our.execute_command("DEBUG", "DIGEST-VALUE", key) == \
            ref.execute_command("DEBUG", "DIGEST-VALUE", key)
        for samples in (0, 1, 5):
            theirs = ref.memory_usage(key, samples=samples)
            mine = our.memory_usage(key, samples=samples)
            assert abs(mine - theirs) <= 0.3 * theirs, (samples, mine, theirs)
    assert our.execute_command("DEBUG", "DIGEST") == ref.execute_command("DEBUG", "DIGEST")
    payload = grouped_payload(ref, rng, b"g")
    our.restore(b"g", 0, payload)
    for samples in (0, 5):
        theirs = ref.memory_usage(b"g", samples=samples)
        mine = our.memory_usage(b"g", samples=samples)
        assert abs(mine - theirs) <= 0.3 * theirs, (samples, mine, theirs)


def test_copy_of_a_stream_is_independent(pair):
    ref, our = pair
    payload = grouped_payload(ref, random.Random(9), b"src")
    our.restore(b"src", 0, payload)
    assert run_both(pair, "COPY", "src", "dst") == 1
    assert our.dump("dst") == ref.dump("dst") == payload
    run_both(pair, "XADD", "dst", "99999999999999-1", "more", "data")
    run_both(pair, "XTRIM", "dst", "MAXLEN", "1")
    assert our.dump("src") == payload
    assert run_both(pair, "COPY", "src", "dst") == 0
    run_both(pair, "COPY", "src", "dst", "DB", 2, "REPLACE")
    run_both(pair, "SELECT", 2)
    assert our.dump("dst") == ref.dump("dst") == payload
    run_both(pair, "SELECT", 0)
    assert run_both(pair, "OBJECT", "ENCODING", "src") == b"stream"


def test_a_big_stream_is_freed_lazily_and_a_small_one_is_not(pair):
    ref, our = pair
    for client in pair:
        client.config_set("stream-node-max-entries", 5)
        client.config_resetstat()
    for j in range(1000):
        run_both(pair, "XADD", "big", "%d-1" % (j + 1), "foo" if j % 10 else "bar", j)
    run_both(pair, "UNLINK", "big")
    run_both(pair, "XADD", "small", "1-1", "a", "b")
    run_both(pair, "UNLINK", "small")
    for client in pair:
        deadline = time.monotonic() + 10
        while client.info("memory")["lazyfree_pending_objects"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert our.info("memory")["lazyfreed_objects"] == ref.info("memory")["lazyfreed_objects"] == 1


# -- redis-check-rdb ---------------------------------------------------------------------------

def test_checker_reports_a_truncated_stream_as_redis_check_rdb(ref_client, reference, tmp_path):
    require_tool("redis-check-rdb")
    ref_client.flushall()
    ref_client.restore(b"g", 0, grouped_payload(ref_client, random.Random(4), b"tmp"))
    ref_client.delete(b"tmp")
    assert ref_client.save()
    with open(os.path.join(reference.dir, "dump.rdb"), "rb") as f:
        data = f.read()
    path = str(tmp_path / "dump.rdb")
    # cut inside every part of the value: node keys, listpacks, metadata, groups, PELs
    for cut in list(range(90, len(data) - 9, max(1, (len(data) - 100) // 60))) + [len(data) - 9]:
        with open(path, "wb") as f:
            f.write(data[:cut])
        assert our_check(path) == redis_check(path)
    with open(path, "wb") as f:
        f.write(data)
    assert our_check(path) == redis_check(path)
    assert our_check(path)[0] == 0


# -- replication -------------------------------------------------------------------------------

@pytest.mark.parametrize("master_is_reference", [True, False])
def test_full_sync_carries_streams_with_groups_both_ways(ref_client, master_is_reference):
    master = ServerProcess(["--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0"],
                           reference=master_is_reference)
    replica = ServerProcess(["--enable-debug-command", "yes"], reference=not master_is_reference)
    try:
        m, r = master.client(), replica.client()
        payload = grouped_payload(ref_client, random.Random(8), b"tmp")
        ref_client.delete(b"tmp")
        m.restore(b"s", 0, payload)
        m.xadd(b"plain", {b"a": b"b"}, id=b"1-1")
        r.replicaof("127.0.0.1", master.port)
        deadline = time.monotonic() + 20
        while not (r.info("replication").get("master_link_status") == "up" and r.dbsize() == 2):
            assert time.monotonic() < deadline, replica.log()
            time.sleep(0.05)
        assert r.dump(b"s") == payload
        assert r.dump(b"plain") == m.dump(b"plain")
        # then the command stream: a new entry and a delivery to a new consumer
        m.execute_command("XADD", "s", "*", "x", "y")
        m.execute_command("XREADGROUP", "GROUP", "readers", "dave", "COUNT", 1, "STREAMS", "s",
                          ">")
        m.execute_command("SET", "marker", "1")
        while r.get(b"marker") is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert stream_state(r.dump(b"s")) == stream_state(m.dump(b"s"))
    finally:
        replica.stop()
        master.stop()

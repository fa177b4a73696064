"""Memory per key: what a key costs beyond its dict entry, name and value.

Each key's LRU clock lives in its key-table entry (24 bits, as in Redis's
objects), and OBJECT IDLETIME / DEBUG OBJECT read it there. Small hashes, sets
and sorted sets are packed lists. These tests check that idle times stay right
through writes, accesses, SWAPDB and policy switches, and that resident memory
per key stays well under what one Python object per field or a second dict
entry per key would cost.
"""
import time

import pytest

from harness import RawConnection, encode_command


def wait_for_second_boundary():
    """Start right after a wall-clock second ticks, so sleeps map onto clock seconds."""
    time.sleep(1.02 - time.time() % 1.0)


# -- idle times of keys never accessed since they were added ---------------------------------

def test_idle_time_is_counted_from_when_each_key_was_added(r):
    wait_for_second_boundary()
    r.set("first", "v")
    r.hset("hash", "f", "v")
    time.sleep(1.1)
    r.set("second", "v")
    time.sleep(1.1)
    r.set("third", "v")
    assert 2 <= r.object("idletime", "first") <= 3
    assert 2 <= r.object("idletime", "hash") <= 3
    assert 1 <= r.object("idletime", "second") <= 2
    assert r.object("idletime", "third") <= 1
    r.get("first")                            # an access restarts the count
    assert r.object("idletime", "first") == 0
    assert r.object("idletime", "nokey") is None


def test_idle_time_after_delete_and_add_again(r):
    wait_for_second_boundary()
    r.set("k", "v")
    r.set("other", "v")
    time.sleep(2.1)
    r.delete("k")
    r.set("k", "again")
    assert r.object("idletime", "k") == 0
    assert 2 <= r.object("idletime", "other") <= 3
    r.rename("other", "renamed")
    assert r.object("idletime", "renamed") == 0


def test_idle_time_survives_key_log_compaction(r):
    """Deleting most keys compacts the log: the survivors keep when they were added."""
    wait_for_second_boundary()
    r.set("old", "v")
    time.sleep(1.1)
    pipe = r.pipeline(transaction=False)
    for i in range(3000):
        pipe.set("tmp:%d" % i, "v")
    pipe.set("young", "v")
    pipe.execute()
    for start in range(0, 3000, 500):
        r.delete(*["tmp:%d" % i for i in range(start, start + 500)])
    time.sleep(1.1)
    r.set("newest", "v")
    assert 2 <= r.object("idletime", "old") <= 3
    assert 1 <= r.object("idletime", "young") <= 2
    assert r.object("idletime", "newest") <= 1
    keys = set()
    cursor = 0
    while True:
        cursor, found = r.scan(cursor, count=100)
        keys.update(found)
        if cursor == 0:
            break
    assert keys == {b"old", b"young", b"newest"}


def test_debug_object_reports_the_idle_time_of_a_key_never_accessed(server):
    r = server.client()
    try:
        r.flushall()
        wait_for_second_boundary()
        r.set("k", "v")
        time.sleep(2.1)
        text = r.execute_command("DEBUG", "OBJECT", "k")
        text = text.decode() if isinstance(text, bytes) else str(text)
        idle = int(text.rsplit("lru_seconds_idle:", 1)[1].split()[0])
        lru = int(text.split(" lru:", 1)[1].split()[0])
        assert 2 <= idle <= 3
        assert 2 <= (int(time.time()) & 0xFFFFFF) - lru <= 3
    finally:
        r.close()


def test_switching_to_an_lru_policy_keeps_idle_times(r):
    wait_for_second_boundary()
    r.set("before", "v")
    time.sleep(2.1)
    try:
        r.config_set("maxmemory-policy", "allkeys-lru")
        time.sleep(0.3)                      # the cron follows the policy within a tick
        r.set("during", "v")
        assert 2 <= r.object("idletime", "before") <= 3
        assert r.object("idletime", "during") == 0
    finally:
        r.config_set("maxmemory-policy", "noeviction")
    assert 2 <= r.object("idletime", "before") <= 3
    r.get("before")
    assert r.object("idletime", "before") == 0


def test_idle_times_in_other_databases_and_after_swapdb(r):
    wait_for_second_boundary()
    r.execute_command("SELECT", "1")
    r.set("in1", "v")
    r.execute_command("SELECT", "0")
    time.sleep(1.1)
    r.set("in0", "v")
    r.swapdb(0, 1)
    assert 1 <= r.object("idletime", "in1") <= 2
    r.execute_command("SELECT", "1")
    assert r.object("idletime", "in0") <= 1
    r.execute_command("SELECT", "0")
    r.flushall()


# -- resident memory per key ---------------------------------------------------------------------

def rss(server):
    with open("/proc/%d/status" % server.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def load(server, commands, chunk=2000):
    conn = RawConnection(server.port, timeout=60)
    try:
        for start in range(0, len(commands), chunk):
            part = commands[start:start + chunk]
            conn.send(b"".join(encode_command(c) for c in part))
            for _ in part:
                reply = conn.read_reply()
                assert not reply.startswith(b"-"), reply
    finally:
        conn.close()


# What each key costs at most here, with room for noise; the former layout (an
# access-time entry per key, one object per field) took 240 B per string key
# and 740-930 B per small aggregate at these sizes.
STRING_KEYS, STRING_LIMIT = 200000, 215
AGGREGATE_KEYS, AGGREGATE_LIMIT = 50000, 450


@pytest.mark.parametrize("kind", ["strings", "hashes", "sets", "zsets"])
def test_resident_memory_per_key(start_server, kind):
    server = start_server()
    if kind == "strings":
        count, limit = STRING_KEYS, STRING_LIMIT
        commands = [[b"SET", b"key:%d" % i, b"%032d" % i] for i in range(count)]
    else:
        count, limit = AGGREGATE_KEYS, AGGREGATE_LIMIT
        build = {
            "hashes": lambda i: [b"HSET", b"h:%d" % i] + [x for j in range(5)
                                                           for x in (b"field:%d" % j, b"value:%d:%d" % (j, i))],
            "sets": lambda i: [b"SADD", b"s:%d" % i] + [b"member:%d:%d" % (j, i) for j in range(5)],
            "zsets": lambda i: [b"ZADD", b"z:%d" % i] + [x for j in range(5)
                                                          for x in (b"%d" % (j + 1), b"member:%d:%d" % (j, i))],
        }[kind]
        commands = [build(i) for i in range(count)]
    time.sleep(0.3)
    before = rss(server)
    load(server, commands)
    per_key = (rss(server) - before) / count
    client = server.client()
    try:
        assert client.dbsize() == count
    finally:
        client.close()
    assert per_key < limit, "%s: %.0f bytes per key" % (kind, per_key)

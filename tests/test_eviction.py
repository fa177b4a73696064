"""maxmemory and eviction: -OOM under noeviction (compared byte for byte with
redis-server 7.0), keys evicted under the LRU and volatile policies, and what each
eviction tells the world: the `evicted` keyspace event, client-side caching
invalidations sent before the reply, the DEL a replica receives."""
import time

import pytest
import redis

from differential import assert_same
from harness import RawConnection, ServerProcess, encode_command

WAIT = 5.0
MB = 1024 * 1024


def used_memory(client):
    return client.info("memory")["used_memory"]


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0fs" % (what, timeout))
        time.sleep(0.02)


@pytest.fixture
def ours():
    proc = ServerProcess(["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


def test_oom_replies_match_redis_under_noeviction(reference, ours):
    # A limit of one byte: every server is over it whatever its allocator.
    script = [
        ["SET", "a", "1"],
        ["RPUSH", "list", "x", "y"],
        ["EXPIRE", "a", "100"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["SET", "b", "2"],                  # denyoom: refused
        ["GET", "a"],                       # reads still run
        ["INCR", "a"],
        ["LPUSH", "list", "z"],
        ["LRANGE", "list", "0", "-1"],
        ["DEL", "list"],                    # not denyoom: frees memory, allowed
        ["EXPIRE", "a", "200"],
        ["MULTI"],
        ["GET", "a"],                       # inside MULTI anything but EXEC/DISCARD is refused
        ["EXEC"],
        ["MULTI"],
        ["DISCARD"],
        ["DBSIZE"],
        ["CONFIG", "SET", "maxmemory", "0"],
        ["SET", "b", "2"],
        ["MULTI"],
        ["SET", "c", "3"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["EXEC"],                           # EXEC of a transaction holding a denyoom command
        ["CONFIG", "SET", "maxmemory", "0"],
        ["MGET", "b", "c"],
    ]
    assert_same(reference, ours, script)


def test_allkeys_lru_keeps_a_writer_going_with_a_bounded_key_count(ours):
    client = ours.client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", used_memory(client) + 4 * MB)
    value = b"v" * 10_000
    for i in range(2000):                   # 20 MB written into a 4 MB allowance
        assert client.set("key:%d" % i, value) is True
    assert client.dbsize() < 2000
    assert client.info("stats")["evicted_keys"] > 0
    assert client.get("key:1999") == value  # the newest write is kept
    client.close()


def test_volatile_policy_only_evicts_keys_with_a_ttl(ours):
    client = ours.client()
    for i in range(50):
        client.set("persistent:%d" % i, b"p" * 1000)
        client.set("volatile:%d" % i, b"v" * 1000, ex=1000)
    client.config_set("maxmemory-policy", "volatile-lru")
    client.config_set("maxmemory", 1)       # over: every key with a TTL goes
    # What one round cannot evict within its time limit goes on from the event loop.
    deadline = time.monotonic() + 10
    while client.info("stats")["evicted_keys"] < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.info("stats")["evicted_keys"] == 50
    assert sorted(client.keys("*")) == sorted(b"persistent:%d" % i for i in range(50))
    # Nothing left to evict: writes are refused, reads and deletions still run.
    with pytest.raises(redis.exceptions.OutOfMemoryError,
                       match="command not allowed when used memory > 'maxmemory'"):
        client.set("more", "x")
    assert client.get("persistent:0") == b"p" * 1000
    assert client.delete("persistent:0") == 1
    client.close()


@pytest.mark.parametrize("policy", ["volatile-ttl", "volatile-lfu", "volatile-random",
                                    "allkeys-lfu", "allkeys-random"])
def test_each_policy_evicts(ours, policy):
    client = ours.client()
    client.flushall()
    for i in range(20):
        client.set("k:%d" % i, b"x" * 100, ex=100 + i)
    client.config_set("maxmemory-policy", policy)
    client.config_set("maxmemory", 1)
    assert client.dbsize() == 0
    assert client.info("stats")["evicted_keys"] >= 20
    client.config_set("maxmemory", 0)
    client.close()


def read_until(conn, expected_count):
    replies = []
    while len(replies) < expected_count:
        replies.append(conn.read_reply())
    return replies


def test_eviction_notifies_invalidates_before_the_reply_and_reaches_replicas(ours):
    ours.client().config_set("repl-diskless-sync-delay", 0)
    replica = ServerProcess(["--replicaof", "127.0.0.1", str(ours.port)])
    try:
        client = ours.client()
        client.config_set("notify-keyspace-events", "Ee")
        client.set("doomed", "v", ex=1000)
        client.set("kept", "v")
        rc = replica.client()
        wait_until(lambda: rc.info("replication")["master_link_status"] == "up"
                   and rc.dbsize() == 2, "replica in sync", timeout=15)

        subscriber = RawConnection(ours.port, timeout=WAIT)
        subscriber.command("SUBSCRIBE", "__keyevent@0__:evicted")

        tracker = RawConnection(ours.port, timeout=WAIT)
        tracker.command("HELLO", "3")
        assert tracker.command("CLIENT", "TRACKING", "on") == b"+OK\r\n"
        assert tracker.command("GET", "doomed") == b"$1\r\nv\r\n"

        client.config_set("maxmemory-policy", "volatile-ttl")
        client.config_set("maxmemory", used_memory(client) + 2 * MB)
        client.setrange("big", 8 * MB, "b")     # under the limit when it ran: now over
        # The tracker's next command makes the server evict first: the invalidation
        # of the evicted key comes before that command's reply.
        tracker.send(encode_command(["PING"]))
        push, pong = read_until(tracker, 2)
        assert push == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ndoomed\r\n"
        assert pong == b"+PONG\r\n"
        assert subscriber.read_reply() == (b"*3\r\n$7\r\nmessage\r\n$22\r\n"
                                           b"__keyevent@0__:evicted\r\n$6\r\ndoomed\r\n")
        assert client.exists("doomed") == 0 and client.exists("kept") == 1
        wait_until(lambda: rc.exists("doomed") == 0, "the DEL reaching the replica")
        assert rc.exists("kept") == 1
        # Replicas ignore maxmemory by default: the replica keeps what the master keeps.
        assert rc.config_get("replica-ignore-maxmemory")["replica-ignore-maxmemory"] == "yes"
        for conn in (subscriber, tracker):
            conn.close()
        client.close()
        rc.close()
    finally:
        replica.stop()


def test_scripts_out_of_memory_match_redis(reference, ours):
    script = [
        ["SET", "a", "1"],
        ["CONFIG", "SET", "maxmemory", "1"],
        ["EVAL", "return redis.call('get', 'a')", "0"],
        ["EVAL", "return redis.call('set', 'b', '2')", "0"],
        ["EVAL", "return redis.pcall('incr', 'a')", "0"],
        ["EVAL", "redis.call('del', 'a'); return redis.call('set', 'b', '2')", "0"],
        ["EVAL", "#!lua\nreturn redis.call('get', 'b')", "0"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'b')", "0"],
        ["EVAL", "#!lua flags=allow-oom\nreturn redis.call('set', 'c', '3')", "0"],
        ["CONFIG", "SET", "maxmemory", "0"],
        ["MGET", "a", "b", "c"],
    ]
    assert_same(reference, ours, script)

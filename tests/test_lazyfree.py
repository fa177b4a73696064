"""Lazy free: UNLINK, FLUSHALL / FLUSHDB ASYNC and the lazyfree-* directives reply at once
and release the dropped data in the background; INFO's lazyfree_pending_objects and
lazyfreed_objects count it as Redis 7.0 does (a dropped database counts its keys, a big
value counts one, a value of at most 64 elements is freed on the spot)."""
import time

import pytest

from differential import assert_same


def wait_until(predicate, timeout=20.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def lazyfree_fields(client):
    memory = client.info("memory")
    return memory["lazyfree_pending_objects"], memory["lazyfreed_objects"]


def settled(client):
    return wait_until(lambda: lazyfree_fields(client)[0] == 0)


@pytest.fixture
def c(server):
    client = server.client()
    client.flushall("SYNC")
    assert settled(client)
    client.config_set("lazyfree-lazy-user-del", "no")
    client.config_set("lazyfree-lazy-user-flush", "no")
    client.config_set("lazyfree-lazy-expire", "no")
    client.config_resetstat()
    yield client
    client.config_set("lazyfree-lazy-user-del", "no")
    client.config_set("lazyfree-lazy-user-flush", "no")
    client.config_set("lazyfree-lazy-expire", "no")
    client.close()


def big_set(client, key, members=1000):
    client.sadd(key, *range(members))


def test_unlink_of_a_big_set_is_lazy_freed_once(c):
    big_set(c, "s", 5000)
    assert c.unlink("s", "missing") == 1
    assert c.exists("s") == 0
    assert settled(c)
    assert lazyfree_fields(c) == (0, 1)


def test_unlink_of_small_values_frees_them_at_once(c):
    c.sadd("small", *range(64))              # 64 elements: not above the threshold
    c.set("str", "x" * 100000)
    assert c.unlink("small", "str") == 2
    assert lazyfree_fields(c) == (0, 0)


def test_del_is_synchronous_unless_lazyfree_lazy_user_del(c):
    big_set(c, "a")
    assert c.delete("a") == 1
    assert lazyfree_fields(c) == (0, 0)
    c.config_set("lazyfree-lazy-user-del", "yes")
    big_set(c, "a")
    assert c.delete("a") == 1
    assert settled(c)
    assert lazyfree_fields(c) == (0, 1)


def test_flushall_async_releases_every_key_in_the_background(c):
    c.execute_command("DEBUG", "POPULATE", "200000")
    c.execute_command("SELECT", "1")
    c.set("other", "1")
    c.execute_command("SELECT", "0")
    assert c.execute_command("FLUSHALL", "ASYNC") is True
    assert c.execute_command("DBSIZE") == 0
    assert settled(c)
    assert lazyfree_fields(c) == (0, 200001)
    # The emptied databases work as before.
    c.set("k", "v")
    assert c.get("k") == b"v"


def test_flushdb_async_only_drops_the_selected_database(c):
    c.execute_command("DEBUG", "POPULATE", "1000")
    c.execute_command("SELECT", "1")
    c.execute_command("DEBUG", "POPULATE", "10")
    c.execute_command("FLUSHDB", "ASYNC")
    assert c.dbsize() == 0
    c.execute_command("SELECT", "0")
    assert c.dbsize() == 1000
    assert settled(c)
    assert lazyfree_fields(c) == (0, 10)


def test_flush_without_option_follows_lazyfree_lazy_user_flush(c):
    c.execute_command("DEBUG", "POPULATE", "100")
    c.flushall()
    assert lazyfree_fields(c) == (0, 0)
    c.config_set("lazyfree-lazy-user-flush", "yes")
    c.execute_command("DEBUG", "POPULATE", "100")
    c.flushall()
    assert settled(c)
    assert lazyfree_fields(c) == (0, 100)
    c.execute_command("DEBUG", "POPULATE", "100")
    c.execute_command("FLUSHDB", "SYNC")        # SYNC wins over the directive
    assert lazyfree_fields(c) == (0, 100)


def test_lazyfree_lazy_expire_frees_big_expired_values_lazily(c):
    c.config_set("lazyfree-lazy-expire", "yes")
    big_set(c, "e")
    c.pexpire("e", 1)
    time.sleep(0.01)
    assert c.exists("e") == 0
    assert settled(c)
    assert lazyfree_fields(c) == (0, 1)


def test_big_hash_zset_list_values_are_lazy_freed(c):
    c.hset("h", mapping={str(i): i for i in range(600)})   # hashtable: above 512
    c.zadd("z", {str(i): i for i in range(500)})
    c.rpush("l", *range(500))
    c.rpush("short", *range(10))
    assert c.unlink("h", "z", "l", "short") == 4
    assert settled(c)
    assert lazyfree_fields(c) == (0, 3)      # the ten-element list is freed at once


def test_resetstat_zeroes_lazyfreed_objects(c):
    big_set(c, "s")
    c.unlink("s")
    assert settled(c)
    c.config_resetstat()
    assert lazyfree_fields(c) == (0, 0)


def test_replies_match_redis(reference, server):
    script = [
        ["SADD", "s"] + [str(i) for i in range(200)],
        ["UNLINK", "s", "nokey"],
        ["SET", "a", "1"],
        ["FLUSHDB", "ASYNC"],
        ["DBSIZE"],
        ["SET", "a", "1"],
        ["FLUSHALL", "ASYNC"],
        ["FLUSHALL", "SYNC"],
        ["FLUSHALL", "LAZY"],
        ["FLUSHDB", "ASYNC", "SYNC"],
        ["UNLINK"],
    ] + [["CONFIG", "GET", name] for name in (
        "lazyfree-lazy-user-del", "lazyfree-lazy-user-flush", "lazyfree-lazy-server-del",
        "lazyfree-lazy-expire", "lazyfree-lazy-eviction", "replica-lazy-flush",
        "slave-lazy-flush")]
    assert_same(reference, server, script)


def test_lazyfree_lazy_server_del_frees_overwritten_values_lazily(c):
    c.config_set("lazyfree-lazy-server-del", "yes")
    try:
        big_set(c, "a")
        c.set("a", "string now")
        big_set(c, "src")
        big_set(c, "dst")
        c.rename("src", "dst")
        assert c.get("a") == b"string now"
        assert c.scard("dst") == 1000
        assert settled(c)
        assert lazyfree_fields(c) == (0, 2)
    finally:
        c.config_set("lazyfree-lazy-server-del", "no")


def test_mset_over_big_values_frees_them_lazily(c):
    c.config_set("lazyfree-lazy-server-del", "yes")
    try:
        big_set(c, "a")
        big_set(c, "b")
        c.set("plain", "x")
        assert c.mset({"a": "1", "plain": "2", "b": "3"}) is True
        assert c.mget("a", "plain", "b") == [b"1", b"2", b"3"]
        assert settled(c)
        assert lazyfree_fields(c) == (0, 2)
    finally:
        c.config_set("lazyfree-lazy-server-del", "no")


def test_mset_over_big_values_frees_them_at_once_by_default(c):
    big_set(c, "a")
    assert c.mset({"a": "1"}) is True
    assert c.get("a") == b"1"
    assert lazyfree_fields(c) == (0, 0)


def test_store_destinations_and_copy_replace_free_old_values_lazily(c):
    c.config_set("lazyfree-lazy-server-del", "yes")
    try:
        big_set(c, "emptied")
        assert c.sunionstore("emptied", ["missing"]) == 0          # empty result: deleted
        big_set(c, "replaced")
        c.sadd("small", "m")
        assert c.sunionstore("replaced", ["small"]) == 1
        big_set(c, "copied-over")
        assert c.copy("small", "copied-over", replace=True) is True
        big_set(c, "sorted-over")
        assert c.sort("missing", store="sorted-over") == 0
        assert c.exists("emptied", "sorted-over") == 0
        assert c.smembers("replaced") == c.smembers("copied-over") == {b"m"}
        assert settled(c)
        assert lazyfree_fields(c) == (0, 4)
    finally:
        c.config_set("lazyfree-lazy-server-del", "no")


def test_expire_in_the_past_follows_lazyfree_lazy_expire(c):
    c.config_set("lazyfree-lazy-expire", "yes")
    big_set(c, "a")
    assert c.pexpireat("a", 1) is True
    assert c.exists("a") == 0
    assert settled(c)
    assert lazyfree_fields(c) == (0, 1)


def test_flushall_async_of_big_values_counts_their_keys(c):
    big_set(c, "s", 5000)
    c.zadd("z", {str(i): i for i in range(1000)})
    c.hset("h", mapping={str(i): i for i in range(1000)})
    c.set("str", "v")
    c.execute_command("FLUSHALL", "ASYNC")
    assert c.dbsize() == 0
    assert settled(c)
    assert lazyfree_fields(c) == (0, 4)
    c.zadd("z", {"a": 1})
    assert c.zrange("z", 0, -1) == [b"a"]


def test_unlink_of_a_big_sorted_set_leaves_other_keys_alone(c):
    c.zadd("z", {str(i): i for i in range(20000)})
    c.zadd("keep", {"a": 1, "b": 2})
    assert c.unlink("z") == 1
    assert c.zrange("keep", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    assert settled(c)
    assert lazyfree_fields(c) == (0, 1)


def test_replica_lazy_flush_empties_the_old_dataset_in_the_background(start_server):
    master = start_server("--enable-debug-command", "yes", "--repl-diskless-sync-delay", "0")
    replica = start_server("--enable-debug-command", "yes", "--replica-lazy-flush", "yes")
    m, r = master.client(), replica.client()
    try:
        r.execute_command("DEBUG", "POPULATE", "5000", "old")
        m.set("from-master", "1")
        r.replicaof("127.0.0.1", master.port)
        assert wait_until(lambda: r.info("replication")["master_link_status"] == "up")
        assert wait_until(lambda: r.get("from-master") == b"1")
        assert r.dbsize() == 1
        assert settled(r)
        assert lazyfree_fields(r) == (0, 5000)
    finally:
        m.close()
        r.close()

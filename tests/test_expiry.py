"""Key expiry: active (the cron pops due keys, never scanning the keyspace), lazy
(on access), the bookkeeping around PERSIST, overwrite, RENAME, MOVE, FLUSHDB and
SWAPDB, DEBUG SET-ACTIVE-EXPIRE, and replicas leaving expiry to their master."""
import time

from differential import run_script
from test_keys import Unordered, assert_same, needs


def wait_until(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def keyspace_line(client, db=0):
    return client.info("keyspace").get("db%d" % db)


# -- active expiry ---------------------------------------------------------------------

def test_active_expiry_removes_untouched_keys_within_a_second(server):
    r = server.client()
    try:
        r.flushall()
        r.config_resetstat()
        pipe = r.pipeline(transaction=False)
        for i in range(1000):
            pipe.set("volatile:%d" % i, "v", px=100)
        pipe.set("stays", "v")
        start = time.monotonic()
        pipe.execute()
        assert keyspace_line(r)["expires"] == 1000
        assert wait_until(lambda: r.dbsize() == 1, timeout=1.5)
        assert time.monotonic() - start < 1.5
        assert keyspace_line(r) == {"keys": 1, "expires": 0, "avg_ttl": 0}
        assert r.info("stats")["expired_keys"] == 1000
        assert r.keys("*") == [b"stays"]
    finally:
        r.close()


def test_active_expiry_in_every_database(server):
    r = server.client()
    try:
        r.flushall()
        for db in (0, 3, 15):
            r.execute_command("SELECT", db)
            for i in range(50):
                r.set("k%d" % i, "v", px=50)
        assert wait_until(lambda: not r.info("keyspace"), timeout=1.5)
    finally:
        r.close()


def test_many_keys_expire_in_bounded_steps(server):
    """50k keys due at once: the server keeps answering while they go."""
    r = server.client()
    try:
        r.flushall()
        pipe = r.pipeline(transaction=False)
        for start in range(0, 50000, 5000):
            for i in range(start, start + 5000):
                pipe.set("bulk:%d" % i, "v", px=200)
            pipe.execute()
        time.sleep(0.25)
        slowest = 0.0
        deadline = time.monotonic() + 20
        while r.dbsize() and time.monotonic() < deadline:
            t = time.perf_counter()
            r.ping()
            slowest = max(slowest, time.perf_counter() - t)
        assert r.dbsize() == 0
        assert slowest < 0.5
    finally:
        r.close()


def test_avg_ttl_is_reported(server):
    r = server.client()
    try:
        r.flushall()
        for i in range(100):
            r.set("k%d" % i, "v", ex=1000)
        assert wait_until(lambda: keyspace_line(r)["avg_ttl"] > 0, timeout=2)
        assert 0 < keyspace_line(r)["avg_ttl"] <= 1000 * 1000
    finally:
        r.close()


def test_debug_set_active_expire_stops_the_cron(server):
    needs(server, "debug")
    r = server.client()
    try:
        r.flushall()
        r.config_resetstat()
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        for i in range(100):
            r.set("k%d" % i, "v", px=20)
        time.sleep(0.4)
        assert r.dbsize() == 100                         # nobody deleted them
        assert r.info("stats")["expired_keys"] == 0
        assert r.get("k0") is None                       # a lookup expires one
        assert r.dbsize() == 99
        assert r.info("stats")["expired_keys"] == 1
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        assert wait_until(lambda: r.dbsize() == 0, timeout=1.5)
        assert r.info("stats")["expired_keys"] == 100
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        r.close()


# -- lazy expiry, differential -------------------------------------------------------

LAZY_SCRIPT = [
    ["DEBUG", "SET-ACTIVE-EXPIRE", "0"],
    ["SET", "a", "1", "PX", "1"], ["SET", "b", "1", "PX", "1"], ["SET", "c", "1", "PX", "1"],
    ["SET", "d", "1", "PX", "1"], ["SET", "e", "1", "PX", "1"], ["SET", "f", "1", "PX", "1"],
    ["SET", "g", "1", "PX", "1"], ["SET", "h", "1", "PX", "1"], ["SET", "i", "old", "PX", "1"],
    ["SET", "live", "1"], ["DEBUG", "SLEEP", "0.02"],
    ["DBSIZE"], ["GET", "a"], ["DBSIZE"], ["EXISTS", "b"], ["TYPE", "c"], ["TTL", "d"],
    ["PTTL", "d"], ["OBJECT", "ENCODING", "e"], ["DEL", "f"], ["EXPIRE", "g", "100"],
    ["PERSIST", "h"], ["DBSIZE"], ["SET", "i", "new", "NX"], ["GET", "i"], ["TTL", "i"],
    ["RENAME", "live", "j"], ["COPY", "j", "a"], ["GET", "a"], Unordered(["KEYS", "*"]),
    ["DBSIZE"], ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
]


def test_lazy_expiry_on_every_kind_of_access(reference, server):
    needs(server, "debug")
    assert_same(reference, server, LAZY_SCRIPT)


def test_lazy_expiry_counts_stats(reference, server):
    needs(server, "debug")
    script = [step.command if isinstance(step, Unordered) else step for step in LAZY_SCRIPT[:-1]]

    def stats(proc):
        r = proc.client()
        try:
            r.config_resetstat()
            run_script(proc.port, script)
            info = r.info("stats")
        finally:
            r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
            r.close()
        return info["expired_keys"], info["keyspace_hits"], info["keyspace_misses"]

    assert stats(server) == stats(reference)


# -- what the expiry heap must follow -------------------------------------------------

def test_persist_overwrite_and_longer_ttl_cancel_the_old_deadline(server):
    r = server.client()
    try:
        r.flushall()
        for name in ("persisted", "overwritten", "extended", "reexpired"):
            r.set(name, "v", px=100)
        r.persist("persisted")
        r.set("overwritten", "new")
        r.pexpire("extended", 100000)
        r.pexpire("reexpired", 50)
        r.persist("reexpired")
        r.pexpire("reexpired", 100000)
        time.sleep(0.5)
        assert sorted(r.keys("*")) == [b"extended", b"overwritten", b"persisted", b"reexpired"]
        assert r.ttl("persisted") == -1 and r.ttl("overwritten") == -1
        assert r.ttl("extended") > 90
    finally:
        r.close()


def test_rename_and_move_carry_the_deadline(server):
    r = server.client()
    try:
        r.flushall()
        r.set("src", "v", px=150)
        r.rename("src", "dst")
        r.set("src", "fresh")                       # the old name, now without TTL
        r.set("mover", "v", px=150)
        r.move("mover", 2)
        r.set("mover", "fresh")
        r.set("copied", "v", px=150)
        r.copy("copied", "copy2")
        assert 0 < r.pttl("dst") <= 150
        time.sleep(0.6)
        assert sorted(r.keys("*")) == [b"mover", b"src"]
        r.execute_command("SELECT", 2)
        assert r.dbsize() == 0
    finally:
        r.close()


def test_flushdb_and_swapdb_keep_deadlines_with_their_keys(server):
    r = server.client()
    try:
        r.flushall()
        r.set("k", "v", px=150)
        r.flushdb()
        r.set("k", "v")                              # same name, no TTL
        r.execute_command("SELECT", 1)
        r.set("from1", "v", px=150)
        r.set("kept1", "v")
        r.swapdb(0, 1)                               # db0 now holds from1/kept1
        time.sleep(0.6)
        assert r.keys("*") == [b"k"]                 # db1 (this connection) got db0's keys
        r.execute_command("SELECT", 0)
        assert r.keys("*") == [b"kept1"]
        assert r.info("keyspace") == {"db0": {"keys": 1, "expires": 0, "avg_ttl": 0},
                                      "db1": {"keys": 1, "expires": 0, "avg_ttl": 0}}
    finally:
        r.close()


def test_expire_in_the_past_and_huge_ttls(reference, server):
    script = [
        ["SET", "k", "v"], ["PEXPIREAT", "k", "1"], ["EXISTS", "k"],
        ["SET", "k", "v"], ["EXPIRE", "k", "9223372036854775"], ["EXISTS", "k"],
        ["SET", "k2", "v", "EX", "1"], ["PEXPIRE", "k2", "-100"], ["EXISTS", "k2"],
        ["SET", "k3", "v"], ["PEXPIREAT", "k3", "9223372036854775807"], ["EXISTS", "k3"],
        ["PEXPIRETIME", "k3"], ["SET", "k4", "v"], ["EXPIREAT", "k4", "-1"], ["EXISTS", "k4"],
    ]
    assert_same(reference, server, script)


def test_keys_with_a_ttl_really_go(server):
    r = server.client()
    try:
        r.flushall()
        r.set("ex", "v", ex=1)
        r.set("px", "v")
        r.pexpire("px", 300)
        r.set("at", "v")
        r.pexpireat("at", int(time.time() * 1000) + 300)
        assert wait_until(lambda: r.dbsize() == 1, timeout=1)
        assert r.keys("*") == [b"ex"]
        assert wait_until(lambda: r.dbsize() == 0, timeout=2)
    finally:
        r.close()


# -- replicas --------------------------------------------------------------------------

def writable_replica(start_server):
    """A client of a writable replica whose master is unreachable (no DEL ever comes)."""
    from harness import free_port
    replica = start_server("--replicaof", "127.0.0.1", str(free_port()),
                           "--replica-read-only", "no")
    return replica.client()


def wait_empty(r, timeout=5):
    deadline = time.monotonic() + timeout
    while r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    return r.dbsize()


def test_a_writable_replica_expires_the_keys_its_own_clients_wrote(start_server):
    """No DEL will come from the master for a key a writable replica's client wrote: the
    replica's cron deletes it when due, as Redis's does (keys from the master wait for the
    master's DEL: tests/test_replication.py)."""
    r = writable_replica(start_server)
    try:
        for i in range(20):
            r.set("k%d" % i, "v", px=50)
        assert r.dbsize() == 20
        assert wait_empty(r) == 0
    finally:
        r.close()


def test_a_writable_replica_follows_a_refreshed_ttl_of_its_own_key(start_server):
    """The replica's own expiry goes by the key's current TTL: one made longer keeps it."""
    r = writable_replica(start_server)
    try:
        r.set("kept", "v", px=200)
        r.pexpire("kept", 1500)
        r.set("gone", "v", px=200)
        time.sleep(0.7)
        assert r.exists("kept") == 1
        assert r.dbsize() == 1
        assert wait_empty(r) == 0
    finally:
        r.close()

"""Replication between real server processes: full sync (to disk and diskless), the
command stream, chains, partial resync, promotion (PSYNC2), interop with Debian's
redis-server 7.0 in both directions, replica behaviour, SYNC attach, and error replies
compared byte for byte with the reference.

Datasets are compared with DEBUG DIGEST (the same digest in Redis and here) once every
replica has applied all its master sent (equal master_repl_offset).
"""
import os
import random
import signal
import threading
import time

import pytest

from differential import assert_same, decode
from harness import RawConnection, assert_silent, encode_command, require_reference
from harness import wait_until as harness_wait_until

DEBUG = ("--enable-debug-command", "yes")
SYNC_AT_ONCE = ("--repl-diskless-sync-delay", "0")
STATE_WAIT = 20.0          # seconds a replication state may take to reach (link retries are 1 s)
EMPTY_DIGEST = b"0" * 40


# -- servers ------------------------------------------------------------------------------------

def start_ours(start_server, *args, **kwargs):
    """pyredis-server with DEBUG on, --save '' (ServerProcess adds it) and no diskless delay."""
    return start_server(*DEBUG, *SYNC_AT_ONCE, *args, **kwargs)


def start_redis(start_server, *args, **kwargs):
    """The reference redis-server, configured as ours are (skips without it)."""
    require_reference()
    return start_server(*DEBUG, *SYNC_AT_ONCE, *args, reference=True, **kwargs)


def replica_of(master):
    return ("--replicaof", "127.0.0.1", str(master.port))


def command(srv, *args):
    """One command over a fresh raw connection: the reply's raw bytes."""
    conn = RawConnection(srv.port)
    try:
        return conn.command(*args)
    finally:
        conn.close()


def info(srv, section="replication"):
    """INFO `section` as {field: text} (text kept as is: replids are not numbers)."""
    raw = command(srv, "INFO", section)
    assert raw.startswith(b"$"), raw
    fields = {}
    for line in raw.split(b"\r\n", 1)[1].decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            name, value = line.split(":", 1)
            fields[name] = value
    return fields


def stat(srv, name):
    return int(info(srv, "stats")[name])


def replica_lines(fields):
    """The slaveN lines of INFO replication, each as {ip, port, state, offset, lag}."""
    out = []
    for i in range(int(fields["connected_slaves"])):
        line = fields.get("slave%d" % i)
        assert line is not None, "connected_slaves:%s but no slave%d line: %r" % (
            fields["connected_slaves"], i, fields)
        out.append(dict(part.split("=", 1) for part in line.split(",")))
    return out


def digest(srv):
    reply = command(srv, "DEBUG", "DIGEST")
    assert reply.startswith(b"+") and len(reply) == 43, reply
    return reply[1:41]


def wait_until(predicate, what, timeout=STATE_WAIT, interval=0.02):
    """harness.wait_until with the replication states' own deadline."""
    return harness_wait_until(predicate, what, timeout, interval)


def wait_link_up(replica, timeout=STATE_WAIT):
    wait_until(lambda: info(replica).get("master_link_status") == "up",
               "master_link_status:up on port %d" % replica.port, timeout)


def wait_replicas_online(master, count):
    def online():
        lines = replica_lines(info(master))
        return len(lines) == count and all(line["state"] == "online" for line in lines)
    wait_until(online, "%d replicas online on port %d" % (count, master.port))


def in_step(master, *replicas):
    """INFO replication of the master then of each replica, read while every replica is at
    the master's offset and the master did not move meanwhile (a PING, an expiry's DEL)."""
    def read():
        first = info(master)
        theirs = [info(r) for r in replicas]
        last = info(master)
        offset = first["master_repl_offset"]
        if last["master_repl_offset"] == offset and all(
                fields["master_repl_offset"] == offset for fields in theirs):
            return [last] + theirs
        return None
    return wait_until(read, "replicas %s at the master's offset" % [r.port for r in replicas])


def wait_in_step(master, *replicas):
    """Until every replica has applied all its master sent: the common offset."""
    return int(in_step(master, *replicas)[0]["master_repl_offset"])


def assert_same_dataset(master, *replicas):
    """Every replica at the master's offset with the master's DEBUG DIGEST. Polled: the
    master's active expiry may delete (and propagate) between the reads."""
    seen = {}

    def same():
        wait_in_step(master, *replicas)
        seen["master %d" % master.port] = want = digest(master)
        seen.update(("replica %d" % r.port, digest(r)) for r in replicas)
        return want if len(set(seen.values())) == 1 else None
    try:
        want = wait_until(same, "replicas with the master's DEBUG DIGEST")
    except AssertionError as exc:
        raise AssertionError("%s; last digests: %s" % (exc, seen)) from None
    assert want != EMPTY_DIGEST


# -- data ---------------------------------------------------------------------------------------

def fill(srv):
    """Every type in several encodings, keys with TTLs, three databases, a few thousand keys.
    Returns {db: [names]} of the keys besides the plain key:N strings."""
    client = srv.client()
    pipe = client.pipeline(transaction=False)
    pipe.set("int", 12345)
    pipe.set("negative", -98765432101)
    pipe.set("short", "hello")
    pipe.set("long", "x" * 300)
    pipe.set("binary", bytes(range(256)))
    pipe.append("appended", "grown in place")
    pipe.rpush("small-list", *range(10))
    pipe.rpush("big-list", *("element-%d" % i for i in range(3000)))
    pipe.sadd("intset", *range(20))
    pipe.sadd("small-set", "a", "b", "c")
    pipe.sadd("big-set", *("member-%d" % i for i in range(300)))
    pipe.hset("small-hash", mapping={"f%d" % i: i for i in range(10)})
    pipe.hset("big-hash", mapping={"field-%d" % i: "v" * (i % 90) for i in range(700)})
    pipe.zadd("small-zset", {"m%d" % i: i / 3 for i in range(10)})
    pipe.zadd("big-zset", {"member-%d" % i: i * 1.5 for i in range(500)})
    pipe.zadd("long-member-zset", {"y" * 100: 1, "z": 2})
    pipe.pfadd("hll", *range(100))
    pipe.set("volatile", "soon", ex=5000)
    pipe.hset("volatile-hash", "a", "b")
    pipe.pexpire("volatile-hash", 7_200_000)
    pipe.zadd("volatile-zset", {"a": 1})
    pipe.expireat("volatile-zset", int(time.time()) + 9000)
    for i in range(3000):
        pipe.set("key:%d" % i, "value-%d" % i)
    pipe.execute()
    names = {0: sorted(k.decode() for k in client.keys("*") if not k.startswith(b"key:"))}
    client.close()
    for db in (3, 15):
        other = srv.client(db=db)
        other.set("in-db-%d" % db, db)
        other.rpush("list-in-%d" % db, "a", "b")
        other.expire("list-in-%d" % db, 1000)
        other.hset("hash-in-%d" % db, "f", "v")
        other.close()
        names[db] = ["in-db-%d" % db, "list-in-%d" % db, "hash-in-%d" % db]
    return names


def encodings(srv, keys):
    client = srv.client()
    try:
        out = {}
        for db, names in keys.items():
            client.execute_command("SELECT", db)
            for name in names:
                out[(db, name)] = client.object("encoding", name)
        return out
    finally:
        client.close()


class WriteLoad:
    """Writes to a master from a thread for the length of a with-block: every type, three
    databases, commands whose effect is what propagates (SPOP, INCRBYFLOAT, EXPIRE, scripts,
    MULTI/EXEC), and short-lived keys whose expiry propagates a DEL; the block ends once the
    last of those is gone, so the master's offset stays put while datasets are compared."""

    def __init__(self, srv):
        self.srv = srv
        self.done = threading.Event()
        self.rounds = 0
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.more(20)
        return self

    def __exit__(self, kind, value, tb):
        self.done.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the write load did not stop"
        if kind is None and self.error is not None:
            raise AssertionError("the write load failed: %s" % (self.error,))
        if kind is None:
            self.settle()

    def settle(self):
        """Until the master deleted (and propagated) every short-lived key the load wrote, so
        that no DEL moves its offset later on. SCAN deletes the expired keys it visits."""
        def gone():
            for db in (0, 3, 15):
                client = self.srv.client(db=db)
                try:
                    cursor, found = 0, []
                    while True:
                        cursor, keys = client.scan(cursor, match="load:short:*", count=1000)
                        found += keys
                        if cursor == 0:
                            break
                    if found:
                        return False
                finally:
                    client.close()
            return True
        wait_until(gone, "the load's short-lived keys expired on the master")

    def more(self, rounds):
        """Wait until `rounds` more rounds of writes went through."""
        target = self.rounds + rounds
        wait_until(lambda: self.rounds >= target or self.error is not None,
                   "%d rounds of writes" % rounds)
        assert self.error is None, "the write load failed: %s" % (self.error,)

    def run(self):
        clients = [self.srv.client(db=db) for db in (0, 3, 15)]
        i = 0
        try:
            while not self.done.is_set():
                client = clients[i % 3]
                pipe = client.pipeline(transaction=False)
                pipe.incr("load:counter")
                pipe.rpush("load:list", i)
                if i % 3 == 0:
                    pipe.lpop("load:list")
                pipe.hset("load:hash", "f%d" % (i % 200), i)
                pipe.zincrby("load:zset", 1.5, "m%d" % (i % 150))
                pipe.sadd("load:set", i % 300)
                if i % 7 == 0:
                    pipe.spop("load:set")
                pipe.incrbyfloat("load:float", 0.1)
                pipe.set("load:key:%d" % (i % 500), i, ex=1000)
                pipe.set("load:short:%d" % i, i, px=50 + i % 200)    # expired: a DEL propagates
                pipe.setrange("load:range", i % 64, "x")
                if i % 11 == 0:
                    pipe.expire("load:counter", 5000)
                if i % 13 == 0:
                    pipe.delete("load:key:%d" % ((i * 7) % 500))
                if i % 17 == 0:
                    pipe.set("load:to-rename", i)
                    pipe.rename("load:to-rename", "load:renamed:%d" % (i % 50))
                pipe.execute()
                if i % 5 == 0:
                    tx = client.pipeline(transaction=True)             # MULTI/EXEC
                    tx.lmove("load:list", "load:moved", "LEFT", "RIGHT")
                    tx.hincrby("load:hash", "total", 1)
                    tx.execute()
                if i % 9 == 0:
                    client.eval("redis.call('incrby', KEYS[1], ARGV[1]);"
                                "return redis.call('srandmember', KEYS[2])",
                                2, "load:scripted", "load:set", i)
                i += 1
                self.rounds = i
                time.sleep(0.002)
        except Exception as exc:           # reported by more() and at the end of the block
            self.error = exc
        finally:
            for client in clients:
                client.close()


def role(srv):
    return decode(command(srv, "ROLE"))


# -- 1, 2: a master and two replicas, full sync to disk and to sockets --------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_two_replicas_full_sync_and_stream(start_server, diskless):
    master = start_ours(start_server, "--repl-diskless-sync", diskless)
    client = master.client()
    keys = fill(master)
    client.set("big-random", random.Random(7).randbytes(5 << 20))   # more than sockets buffer
    with WriteLoad(master) as load:
        replicas = [start_ours(start_server, *replica_of(master)) for _ in range(2)]
        for replica in replicas:
            wait_link_up(replica)
        load.more(100)                                  # writes after the sync as well
    assert client.execute_command("WAIT", 2, 5000) == 2
    assert_same_dataset(master, *replicas)
    assert encodings(replicas[0], keys) == encodings(master, keys)
    assert encodings(replicas[1], keys) == encodings(master, keys)
    for replica in replicas:
        assert replica.client().get("long") == b"x" * 300
        assert 4000 < replica.client().ttl("volatile") <= 5000

    target = "replicas sockets" if diskless == "yes" else "disk"
    assert "Starting BGSAVE for SYNC with target: %s" % target in master.log()
    received = ("receiving streamed RDB from master with EOF" if diskless == "yes"
                else "MASTER <-> REPLICA sync: receiving ")
    for replica in replicas:
        log = replica.log()
        assert received in log
        assert "MASTER <-> REPLICA sync: Finished with success" in log
    assert stat(master, "sync_full") == 2
    assert stat(master, "sync_partial_ok") == 0

    # INFO replication on both sides, once both replicas acknowledged the master's offset
    ports = sorted(str(r.port) for r in replicas)

    def acked():
        fields = info(master)
        lines = replica_lines(fields)
        return (len(lines) == 2
                and all(line["offset"] == fields["master_repl_offset"] for line in lines))
    wait_until(acked, "both replicas acknowledging the master's offset")
    fields, *theirs = in_step(master, *replicas)
    offset = fields["master_repl_offset"]
    assert fields["role"] == "master"
    assert fields["connected_slaves"] == "2"
    lines = replica_lines(fields)
    assert sorted(line["port"] for line in lines) == ports
    assert all(line["ip"] == "127.0.0.1" and line["state"] == "online" for line in lines)
    assert fields["repl_backlog_active"] == "1"
    for replica_fields in theirs:
        assert replica_fields["role"] == "slave"
        assert replica_fields["master_host"] == "127.0.0.1"
        assert replica_fields["master_port"] == str(master.port)
        assert replica_fields["master_link_status"] == "up"
        assert replica_fields["master_sync_in_progress"] == "0"
        assert replica_fields["slave_repl_offset"] == offset
        assert replica_fields["slave_read_repl_offset"] == offset
        assert replica_fields["master_repl_offset"] == offset
        assert replica_fields["master_replid"] == fields["master_replid"]
        assert replica_fields["slave_read_only"] == "1"
        assert replica_fields["connected_slaves"] == "0"

    # ROLE: master, offset, [[ip, port, acked offset] ...]; slave, host, port, state, offset
    def master_role():
        shape = role(master)
        return shape if all(row[2] == b"%d" % shape[1] for row in shape[2]) else None
    shape = wait_until(master_role, "ROLE listing both replicas at the master's offset")
    assert shape[0] == b"master" and shape[1] >= int(offset)
    assert sorted(row[1] for row in shape[2]) == [p.encode() for p in ports]
    assert all(row[0] == b"127.0.0.1" for row in shape[2])
    for replica in replicas:
        def replica_role():
            shape = role(replica)
            return shape if shape[4] == int(info(master)["master_repl_offset"]) else None
        shape = wait_until(replica_role, "ROLE of a replica at the master's offset")
        assert shape[:4] == [b"slave", b"127.0.0.1", master.port, b"connected"]

    # CLIENT LIST: the replicas on the master (flags S), the master on each replica (flags M)
    listed = master.client().execute_command("CLIENT", "LIST", "TYPE", "replica")
    listed = listed.decode() if isinstance(listed, bytes) else listed
    assert [" flags=S " in line for line in listed.splitlines()] == [True, True], listed
    for replica in replicas:
        listed = replica.client().execute_command("CLIENT", "LIST", "TYPE", "master")
        listed = listed.decode() if isinstance(listed, bytes) else listed
        assert len(listed.splitlines()) == 1 and " flags=M " in listed, listed


# -- 3: a chain A -> B -> C -----------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_chain_of_replicas(start_server):
    a = start_ours(start_server)
    fill(a)
    b = start_ours(start_server, *replica_of(a))
    c = start_ours(start_server, *replica_of(b))
    with WriteLoad(a) as load:
        wait_link_up(b)
        wait_link_up(c)
        load.more(100)
    assert_same_dataset(a, b, c)
    a_fields, b_fields, c_fields = in_step(a, b, c)
    assert c_fields["master_repl_offset"] == a_fields["master_repl_offset"]
    assert c_fields["slave_repl_offset"] == a_fields["master_repl_offset"]
    assert c_fields["master_replid"] == b_fields["master_replid"] == a_fields["master_replid"]
    assert b_fields["role"] == "slave" and b_fields["connected_slaves"] == "1"
    assert c_fields["master_port"] == str(b.port)
    assert a.client().set("late", "write")
    wait_until(lambda: c.client().get("late") == b"write", "a write on A read on C")

    # B loses A under load: B continues with A, and C, B's replica, keeps its link (PSYNC2)
    with WriteLoad(a) as load:
        load.more(30)
        assert b.client().execute_command("CLIENT", "KILL", "TYPE", "master") == 1
        wait_until(lambda: stat(a, "sync_partial_ok") == 1, "B continuing with A")
        wait_link_up(b)
        load.more(30)
    assert_same_dataset(a, b, c)
    assert stat(a, "sync_full") == 1
    assert stat(b, "sync_full") == 1 and stat(b, "sync_partial_ok") == 0
    assert info(c)["master_replid"] == info(a)["master_replid"]



@pytest.mark.parametrize("kind", ["ours", "redis"])
def test_promotion_makes_the_replicas_below_resync_partially(start_server, kind):
    """REPLICAOF NO ONE in the middle of a chain A→B→C: B drops C so that it learns B's new
    replication ID, and C continues with a partial resync (Redis's replicationUnsetMaster)."""
    start = start_ours if kind == "ours" else start_redis
    a = start(start_server)
    b = start(start_server, *replica_of(a))
    c = start(start_server, *replica_of(b))
    wait_link_up(b)
    wait_link_up(c)
    assert a.client().set("k", "v")
    wait_until(lambda: c.client().get("k") == b"v", "the write on C")
    full_syncs = stat(b, "sync_full")          # C's first sync from B
    assert b.client().execute_command("REPLICAOF", "NO", "ONE")
    wait_until(lambda: stat(b, "sync_partial_ok") == 1, "C continuing with B")
    wait_link_up(c)
    assert stat(b, "sync_full") == full_syncs
    assert info(c)["master_replid"] == info(b)["master_replid"] != info(a)["master_replid"]
    assert b.client().set("after", "promotion")
    wait_until(lambda: c.client().get("after") == b"promotion", "a write on B read on C")


# -- 4: partial resync, and a replica that comes back without its data ------------------------

@pytest.mark.timeout(60)
def test_partial_resync_after_the_link_is_killed_under_load(start_server):
    master = start_ours(start_server, "--repl-backlog-size", "32mb")
    fill(master)
    replica = start_ours(start_server, *replica_of(master))
    wait_link_up(replica)
    wait_replicas_online(master, 1)
    assert stat(master, "sync_full") == 1
    with WriteLoad(master) as load:
        load.more(50)
        # the replica drops its master ...
        assert replica.client().execute_command("CLIENT", "KILL", "TYPE", "master") == 1
        wait_until(lambda: stat(master, "sync_partial_ok") == 1, "a partial resync")
        wait_link_up(replica)
        load.more(50)
        # ... and the master drops its replica
        assert master.client().execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
        wait_until(lambda: stat(master, "sync_partial_ok") == 2, "a second partial resync")
        wait_link_up(replica)
        load.more(50)
    assert_same_dataset(master, replica)
    assert stat(master, "sync_full") == 1
    assert stat(master, "sync_partial_err") == 0
    assert "Successful partial resynchronization with master." in replica.log()
    assert "Partial resynchronization request from" in master.log()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("restart", ["empty-dir", "same-dir"])
def test_replica_killed_and_restarted(start_server, tmp_path, restart):
    """SIGKILL, writes meanwhile, a restart on the same port: without data the replica
    syncs in full; with the RDB its full sync left (which names the master's replid and
    offset) it continues from there, as a Redis replica does."""
    master = start_ours(start_server)
    fill(master)
    replica = start_ours(start_server, *replica_of(master), dir=tmp_path)
    wait_link_up(replica)
    assert_same_dataset(master, replica)
    assert os.path.exists(tmp_path / "dump.rdb")
    port = replica.port
    replica.proc.send_signal(signal.SIGKILL)
    assert replica.wait_exit() == -signal.SIGKILL
    wait_until(lambda: info(master)["connected_slaves"] == "0", "the master seeing its replica go")
    master.client().set("while-down", "1")
    if restart == "empty-dir":
        again = start_ours(start_server, *replica_of(master), port=port)
    else:
        again = start_ours(start_server, *replica_of(master), port=port, dir=tmp_path)
    wait_link_up(again)
    if restart == "empty-dir":
        wait_until(lambda: stat(master, "sync_full") == 2, "a second full sync")
        assert stat(master, "sync_partial_ok") == 0
        assert "Partial resynchronization not possible (no cached master)" in again.log()
    else:
        wait_until(lambda: stat(master, "sync_partial_ok") == 1, "a partial resync")
        assert stat(master, "sync_full") == 1
        assert "Successful partial resynchronization with master." in again.log()
    assert_same_dataset(master, again)
    assert again.client().get("while-down") == b"1"


@pytest.mark.timeout(60)
def test_backlog_overrun_means_a_full_resync(start_server):
    """More written while the replica is away than the backlog holds: +FULLRESYNC. The
    replica is stopped (SIGSTOP) while the master drops it and the writes go on, so it
    cannot come back before they are done."""
    master = start_ours(start_server, "--repl-backlog-size", "16kb")
    replica = start_ours(start_server, *replica_of(master))
    wait_link_up(replica)
    wait_replicas_online(master, 1)
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        assert master.client().execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
        wait_until(lambda: info(master)["connected_slaves"] == "0", "the replica dropped")
        pipe = master.client().pipeline(transaction=False)
        for i in range(200):                          # 200 kB through a 16 kB backlog
            pipe.set("overrun:%d" % i, "v" * 1000)
        pipe.execute()
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: stat(master, "sync_full") == 2, "a second full sync")
    wait_link_up(replica)
    assert stat(master, "sync_partial_ok") == 0
    assert stat(master, "sync_partial_err") == 1
    assert_same_dataset(master, replica)
    assert replica.client().dbsize() == 200


@pytest.mark.timeout(60)
def test_replica_authenticates_with_masterauth(start_server):
    master = start_ours(start_server, "--requirepass", "s3cret")
    master.client(password="s3cret").set("k", "v")
    replica = start_ours(start_server, *replica_of(master), "--masterauth", "s3cret")
    wait_link_up(replica)
    assert replica.client().get("k") == b"v"
    master.client(password="s3cret").set("k2", "v2")
    wait_until(lambda: replica.client().get("k2") == b"v2", "a write reaching the replica")

    refused = start_ours(start_server, *replica_of(master), "--masterauth", "wrong")
    refused.wait_for_log("Unable to AUTH to MASTER")
    fields = info(refused)
    assert fields["master_link_status"] == "down"
    assert refused.client().dbsize() == 0


@pytest.mark.timeout(60)
@pytest.mark.parametrize("master_kind", ["ours", "redis"])
def test_replica_link_leaves_from_bind_source_addr(start_server, master_kind):
    """bind-source-addr: the master sees the replica connect from that address (any
    127/8 address is the loopback on Linux); one that cannot be bound is skipped."""
    start = start_ours if master_kind == "ours" else start_redis
    master = start(start_server, "--protected-mode", "no")
    replica = start_ours(start_server)
    assert command(replica, "CONFIG", "SET", "bind-source-addr", "127.0.0.2") == b"+OK\r\n"
    assert command(replica, "REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    wait_link_up(replica)
    assert replica_lines(info(master))[0]["ip"] == "127.0.0.2"

    elsewhere = start_ours(start_server, "--bind-source-addr", "192.0.2.1", *replica_of(master))
    wait_link_up(elsewhere)
    assert {line["ip"] for line in replica_lines(info(master))} == {"127.0.0.2", "127.0.0.1"}


def replica_misbehaving(srv):
    """Replicas (after SYNC or PSYNC) sending commands that reply: each connection is
    dropped; what the log says about them, without the client's details."""
    for handshake, args in ((b"SYNC\r\n", ["PING"]),
                            (b"PSYNC replicationid -1\r\n", ["GET", "foo"]),
                            (b"PSYNC replicationid -1\r\n", ["SLOWLOG", "GET"])):
        conn = RawConnection(srv.port)
        conn.send(handshake)
        if handshake.startswith(b"PSYNC"):
            assert conn._line().startswith(b"+FULLRESYNC ")
        conn.send(encode_command(args))
        conn.read_until_closed(10)     # whatever part of the RDB came first, then the end
        conn.close()
    assert command(srv, "PING") == b"+PONG\r\n"
    lines = [line.split(" # ", 1)[1].split(", disconnecting it: ")[0]
             for line in srv.log().splitlines()
             if "Replica generated a reply" in line or "== CRITICAL ==" in line]
    return lines, stat(srv, "unexpected_error_replies")


@pytest.mark.timeout(60)
def test_a_replica_whose_command_replies_is_dropped(start_server):
    expected = replica_misbehaving(start_redis(start_server))
    assert expected == ([
        "Replica generated a reply to command 'ping'",
        "Replica generated a reply to command 'get'",
        "== CRITICAL == This master is sending an error to its replica: 'Replica can't "
        "interact with the keyspace' after processing the command 'get'",
        "Replica generated a reply to command 'slowlog|get'"], 1)
    assert replica_misbehaving(start_ours(start_server)) == expected


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["ours", "redis"])
def test_diskless_replica_that_stops_reading_is_dropped(start_server, kind):
    """A diskless full sync whose replica stops reading holds the RDB child back: after
    repl-timeout the master drops that replica, and with it gone the child is stopped."""
    start = start_ours if kind == "ours" else start_redis
    master = start(start_server, "--repl-diskless-sync", "yes", "--rdbcompression", "no",
                   "--repl-timeout", "1")
    assert command(master, "DEBUG", "POPULATE", "3000", "key", "10000") == b"+OK\r\n"
    stuck = RawConnection(master.port)
    try:
        assert stuck.command("REPLCONF", "capa", "eof", "capa", "psync2") == b"+OK\r\n"
        stuck.send(encode_command(["PSYNC", "?", "-1"]))      # and never reads again
        master.wait_for_log("Disconnecting timedout replica (full sync)", timeout=30)
        master.wait_for_log("Diskless rdb transfer, last replica dropped, killing fork child",
                            timeout=10)
        wait_until(lambda: info(master, "persistence")["rdb_bgsave_in_progress"] == "0",
                   "the RDB child gone")
        assert info(master)["connected_slaves"] == "0"
    finally:
        stuck.close()


# -- 5: promotion (PSYNC2) ------------------------------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("promoted_kind, sibling_kind",
                         [("ours", "ours"), ("ours", "redis"), ("redis", "ours")],
                         ids=["ours-ours", "ours-promoted-redis-sibling", "redis-promoted-ours-sibling"])
def test_promoted_replica_continues_with_its_sibling(start_server, promoted_kind, sibling_kind):
    """A fails; B, its replica, is promoted; C, B's sibling, follows B and continues its
    history there with a partial resync: B offers A's replid as its replid2."""
    kinds = {"ours": start_ours, "redis": start_redis}
    a = start_ours(start_server)
    fill(a)
    b = kinds[promoted_kind](start_server, *replica_of(a))
    c = kinds[sibling_kind](start_server, *replica_of(a))
    wait_link_up(b)
    wait_link_up(c)
    a.client().set("before-promotion", "1")
    offset = wait_in_step(a, b, c)
    old_replid = info(a)["master_replid"]
    a.stop()
    wait_until(lambda: info(b)["master_link_status"] == "down", "B seeing A go")
    wait_until(lambda: info(c)["master_link_status"] == "down", "C seeing A go")
    # (a master shutting down may send a last REPLCONF GETACK: both got all A sent)
    reached = int(info(b)["master_repl_offset"])
    assert reached >= offset
    assert int(info(c)["master_repl_offset"]) == reached

    assert b.client().execute_command("REPLICAOF", "NO", "ONE") in (b"OK", "OK", True)
    promoted = info(b)
    assert promoted["role"] == "master"
    assert promoted["master_replid2"] == old_replid
    assert promoted["master_replid"] != old_replid
    assert promoted["second_repl_offset"] == str(reached + 1)
    assert promoted["master_repl_offset"] == str(reached)
    assert b.client().set("after-promotion", "2")

    assert c.client().execute_command("REPLICAOF", "127.0.0.1", b.port) in (b"OK", "OK", True)
    wait_until(lambda: stat(b, "sync_partial_ok") == 1, "C continuing with B")
    wait_link_up(c)
    assert stat(b, "sync_full") == 0
    assert_same_dataset(b, c)
    assert c.client().get("after-promotion") == b"2"
    assert c.client().get("before-promotion") == b"1"
    moved = info(c)
    assert moved["master_port"] == str(b.port)
    assert moved["master_replid"] == promoted["master_replid"]
    assert moved["master_replid2"] == old_replid


# -- 6: interop with Debian's redis-server 7.0 ----------------------------------------------------

@pytest.mark.timeout(60)
@pytest.mark.parametrize("direction", ["redis-master-ours-replica", "ours-master-redis-replica"])
def test_interop_with_reference(start_server, direction):
    require_reference()
    if direction == "redis-master-ours-replica":
        master = start_redis(start_server, "--repl-backlog-size", "32mb")
        start_replica = lambda: start_ours(start_server, *replica_of(master))
    else:
        master = start_ours(start_server, "--repl-backlog-size", "32mb")
        start_replica = lambda: start_redis(start_server, *replica_of(master))
    client = master.client()
    fill(master)
    with WriteLoad(master) as load:
        replica = start_replica()
        wait_link_up(replica)
        load.more(100)
    assert client.execute_command("WAIT", 1, 5000) == 1
    assert_same_dataset(master, replica)
    assert stat(master, "sync_full") == 1

    with WriteLoad(master) as load:
        assert replica.client().execute_command("CLIENT", "KILL", "TYPE", "master") == 1
        wait_until(lambda: stat(master, "sync_partial_ok") == 1, "a partial resync")
        wait_link_up(replica)
        load.more(100)
    assert client.execute_command("WAIT", 1, 5000) == 1
    assert_same_dataset(master, replica)
    assert stat(master, "sync_full") == 1
    assert info(replica)["master_replid"] == info(master)["master_replid"]


# -- 7: how a replica behaves, WAIT, min-replicas -------------------------------------------------

READONLY = b"-READONLY You can't write against a read only replica.\r\n"
MASTERDOWN = (b"-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
              b"'no'.\r\n")
WAIT_ON_REPLICA = (b"-ERR WAIT cannot be used with replica instances. Please also note that "
                   b"since Redis 4.0 if a replica is configured to be writable (which is not the "
                   b"default) writes to replicas are just local and are not propagated.\r\n")
NOREPLICAS = b"-NOREPLICAS Not enough good replicas to write.\r\n"


@pytest.mark.timeout(60)
def test_replica_refuses_writes_and_wait(start_server):
    master = start_ours(start_server)
    replica = start_ours(start_server, *replica_of(master))
    wait_link_up(replica)
    conn = replica.raw()
    try:
        assert conn.command("SET", "k", "v") == READONLY
        assert conn.command("INCR", "n") == READONLY
        assert conn.command("EVAL", "return redis.call('set', 'k', 'v')", "0").startswith(b"-")
        assert conn.command("WAIT", "0", "0") == WAIT_ON_REPLICA
        assert (conn.command("REPLICAOF", "127.0.0.1", str(master.port))
                == b"+OK Already connected to specified master\r\n")
        assert conn.command("MULTI") == b"+OK\r\n"
        assert conn.command("SET", "k", "v") == READONLY
        assert conn.command("EXEC") == (b"-EXECABORT Transaction discarded because of previous "
                                        b"errors.\r\n")
        assert conn.command("GET", "k") == b"$-1\r\n"
        assert conn.command("DBSIZE") == b":0\r\n"
    finally:
        conn.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("replica_kind", ["ours", "redis"])
def test_replica_keeps_expired_keys_until_the_master_deletes_them(start_server, replica_kind):
    """Expiry belongs to the master: a replica hides a key past its TTL but keeps it, even
    when the key came expired in the RDB of a full sync, until the master's DEL arrives.
    (With a Redis replica, the same assertions check what our master sends.)"""
    start_replica = start_redis if replica_kind == "redis" else start_ours
    master = start_ours(start_server)
    replica = start_replica(start_server, *replica_of(master))
    wait_link_up(replica)
    m = master.client()
    r = replica.client()
    assert m.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") in (b"OK", "OK", True)
    m.set("short-lived", "v", px=300)
    m.set("stays", "v")
    m.set("in-the-rdb", "v", px=100)
    wait_until(lambda: r.dbsize() == 3, "the keys on the replica")
    wait_until(lambda: r.get("short-lived") is None, "the key reading as expired on the replica")
    assert r.exists("short-lived") == 0
    assert r.ttl("short-lived") == -2
    assert r.scan(0, count=100)[1] == [b"stays"]
    assert r.keys("*") == [b"stays"]
    assert r.dbsize() == 3                            # hidden, not deleted
    time.sleep(0.3)                                   # three cron runs of the replica (hz 10)
    assert r.dbsize() == 3
    assert m.dbsize() == 3                            # the master's active expiry is off

    # a replica attaching now gets the expired keys in its RDB, and keeps them too
    late = start_replica(start_server, *replica_of(master))
    wait_link_up(late)
    assert_same_dataset(master, replica, late)
    lr = late.client()
    assert lr.dbsize() == 3
    assert lr.get("in-the-rdb") is None and lr.exists("short-lived") == 0

    assert m.get("short-lived") is None               # the master's lookup deletes it: a DEL
    assert m.exists("in-the-rdb") == 0
    wait_until(lambda: r.dbsize() == 1 and lr.dbsize() == 1, "the master's DELs on the replicas")
    assert_same_dataset(master, replica, late)


@pytest.mark.timeout(60)
def test_stale_replica_answers_masterdown(start_server):
    master = start_ours(start_server)
    replica = start_ours(start_server, *replica_of(master), "--replica-serve-stale-data", "no")
    wait_link_up(replica)
    master.client().set("k", "v")
    wait_until(lambda: command(replica, "GET", "k") == b"$1\r\nv\r\n", "the key on the replica")
    master.stop()
    wait_until(lambda: info(replica)["master_link_status"] == "down", "the link going down")
    assert command(replica, "GET", "k") == MASTERDOWN
    assert command(replica, "DBSIZE") == MASTERDOWN
    fields = info(replica)                            # INFO serves stale data
    assert fields["role"] == "slave" and fields["master_link_status"] == "down"
    assert int(fields["master_link_down_since_seconds"]) >= 0
    shape = role(replica)
    assert shape[:3] == [b"slave", b"127.0.0.1", master.port]
    assert shape[3] in (b"connect", b"connecting") and shape[4] == -1, shape
    assert command(replica, "CONFIG", "SET", "replica-serve-stale-data", "yes") == b"+OK\r\n"
    assert command(replica, "GET", "k") == b"$1\r\nv\r\n"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["ours", "redis"])
def test_exec_is_refused_when_the_replica_went_stale_after_queueing(start_server, kind):
    """EXEC checks what it queued against the state at EXEC time: a GET or PING queued
    before the server became a stale replica aborts the transaction; MULTI itself and a
    transaction queued once the link is back are fine."""
    server = (start_redis if kind == "redis" else start_ours)(start_server)
    client, admin = server.raw(), server.raw()
    abort = b"-EXECABORT Transaction discarded because of: " + MASTERDOWN[1:]
    try:
        assert client.command("CONFIG", "SET", "replica-serve-stale-data", "no") == b"+OK\r\n"
        assert client.command("SET", "xx", "1") == b"+OK\r\n"
        for queued in (["GET", "xx"], ["PING"]):
            assert client.command("MULTI") == b"+OK\r\n"
            assert client.command(*queued) == b"+QUEUED\r\n"
            assert admin.command("REPLICAOF", "127.0.0.1", "1") == b"+OK\r\n"
            assert client.command("EXEC") == abort
            assert admin.command("REPLICAOF", "NO", "ONE") == b"+OK\r\n"
        assert admin.command("REPLICAOF", "127.0.0.1", "1") == b"+OK\r\n"
        assert client.command("MULTI") == b"+OK\r\n"          # allowed on a stale replica
        assert admin.command("REPLICAOF", "NO", "ONE") == b"+OK\r\n"
        assert client.command("GET", "xx") == b"+QUEUED\r\n"
        assert client.command("EXEC") == b"*1\r\n$1\r\n1\r\n"
    finally:
        client.close()
        admin.close()


@pytest.mark.timeout(30)
def test_wait_with_and_without_replicas(start_server):
    lone = start_ours(start_server)
    conn = lone.raw()
    try:
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
        started = time.monotonic()
        assert conn.command("WAIT", "1", "100") == b":0\r\n"
        elapsed = time.monotonic() - started
        assert 0.09 <= elapsed < 2.0, elapsed
        assert conn.command("WAIT", "0", "0") == b":0\r\n"
    finally:
        conn.close()

    master = start_ours(start_server)
    replica = start_ours(start_server, *replica_of(master))
    wait_link_up(replica)
    conn = master.raw()
    try:
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
        assert conn.command("WAIT", "1", "0") == b":1\r\n"
        assert conn.command("WAIT", "2", "200") == b":1\r\n"
    finally:
        conn.close()
    assert command(replica, "GET", "k") == b"$1\r\nv\r\n"


@pytest.mark.timeout(30)
def test_min_replicas_to_write(start_server):
    master = start_ours(start_server)
    conn = master.raw()
    try:
        assert conn.command("CONFIG", "SET", "min-replicas-to-write", "1") == b"+OK\r\n"
        assert conn.command("SET", "k", "v") == NOREPLICAS
        assert conn.command("GET", "k") == b"$-1\r\n"        # reads still served
        assert info(master)["min_slaves_good_slaves"] == "0"
        replica = start_ours(start_server, *replica_of(master))
        wait_link_up(replica)
        wait_until(lambda: conn.command("SET", "k", "v") == b"+OK\r\n", "writes accepted again")
        assert info(master)["min_slaves_good_slaves"] == "1"
        replica.stop()
        wait_until(lambda: conn.command("SET", "k", "v") == NOREPLICAS, "writes refused again")
        assert info(master)["min_slaves_good_slaves"] == "0"
    finally:
        conn.close()


# -- 8: error replies, byte for byte against the reference ----------------------------------------

@pytest.fixture(scope="module")
def lone_ours():
    from harness import ServerProcess
    proc = ServerProcess(list(DEBUG))
    yield proc
    proc.stop()


ERROR_CASES = [
    # REPLCONF: pairs of option and value
    ["REPLCONF"],
    ["REPLCONF", "listening-port"],
    ["REPLCONF", "listening-port", "1", "capa"],
    ["REPLCONF", "foo", "bar"],
    ["REPLCONF", "listening-port", "abc"],
    ["REPLCONF", "capa", "foo"],
    ["REPLCONF", "ip-address", "1" * 60],
    ["REPLCONF", "ip-address", "1" * 256],
    ["REPLCONF", "rdb-only", "2"],
    ["REPLCONF", "rdb-only", "x"],
    # WAIT numreplicas timeout
    ["WAIT"], ["WAIT", "1"], ["WAIT", "1", "2", "3"],
    ["WAIT", "a", "0"], ["WAIT", "0", "a"], ["WAIT", "0", "-1"], ["WAIT", "1.5", "0"],
    ["WAIT", "-1", "0"], ["WAIT", "0", "0"], ["WAIT", "1", "1"],
    # REPLICAOF host port (a valid one would make the reference a replica)
    ["REPLICAOF", "127.0.0.1", "notaport"], ["REPLICAOF", "127.0.0.1", "-1"],
    ["REPLICAOF", "127.0.0.1", "99999"], ["SLAVEOF", "127.0.0.1", "port"],
    ["REPLICAOF", "a"], ["REPLICAOF", "a", "b", "c"], ["SLAVEOF", "a"],
    ["REPLICAOF", "NO", "ONE"],
    # SYNC, PSYNC, ROLE arity
    ["SYNC", "x"], ["PSYNC"], ["PSYNC", "a"], ["ROLE", "x"],
]


@pytest.mark.timeout(30)
def step_id(step):
    return " ".join(arg if len(arg) <= 20 else "<%d bytes>" % len(arg) for arg in step)


@pytest.mark.parametrize("step", ERROR_CASES, ids=step_id)
def test_error_replies_match_redis(reference, lone_ours, step):
    try:
        assert_same(reference, lone_ours, [step])
    finally:
        for srv in (reference, lone_ours):      # whatever happened, both stay masters
            command(srv, "REPLICAOF", "NO", "ONE")


@pytest.mark.timeout(30)
def test_role_of_a_lone_master_has_redis_shape(reference, lone_ours):
    theirs, ours = role(reference), role(lone_ours)
    assert [type(x) for x in ours] == [type(x) for x in theirs] == [bytes, int, list]
    assert ours[0] == theirs[0] == b"master"
    assert ours[2] == theirs[2] == []
    assert ours[1] >= 0


# -- 9: attaching with SYNC, as Redis's own test suite does ---------------------------------------

def attach_to_replication_stream(srv):
    """SYNC on a raw socket: newlines (keep-alives) allowed before $<len>, then the RDB."""
    conn = RawConnection(srv.port)
    conn.send(b"SYNC\r\n")
    while True:
        line = conn._line()
        if line.strip():
            break
    assert line.startswith(b"$"), line
    size = int(line[1:])
    while len(conn.buf) < size:
        conn._fill()
    payload, conn.buf = conn.buf[:size], conn.buf[size:]
    return conn, payload


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["ours", "redis"])
def test_sync_attach_receives_rdb_then_commands(start_server, kind):
    extra = ("--repl-ping-replica-period", "3600")
    master = start_redis(start_server, *extra) if kind == "redis" else start_ours(start_server, *extra)
    client = master.client()
    client.set("before", "sync")
    conn, payload = attach_to_replication_stream(master)
    try:
        assert payload.startswith(b"REDIS0010")
        assert b"before" in payload and b"sync" in payload
        # nothing written, nothing sent: no PING before repl-ping-replica-period (an hour)
        # has passed, not even at the master's next replication cron (once a second)
        assert conn.buf == b"", "sent after the RDB: %r" % conn.buf
        assert_silent(conn, 1.5)
        client.set("foo", "bar")
        other = master.client(db=9)
        other.rpush("list", "x")
        other.close()
        client.delete("before")
        assert conn.read_reply() == encode_command(["SELECT", "0"])
        assert conn.read_reply() == encode_command(["SET", "foo", "bar"])
        assert conn.read_reply() == encode_command(["SELECT", "9"])
        assert conn.read_reply() == encode_command(["RPUSH", "list", "x"])
        assert conn.read_reply() == encode_command(["SELECT", "0"])
        assert conn.read_reply() == encode_command(["DEL", "before"])
        fields = info(master)
        assert fields["connected_slaves"] == "1"
        assert replica_lines(fields)[0]["state"] == "online"
    finally:
        conn.close()


# -- FAILOVER, CLIENT PAUSE, shutting down with replicas ------------------------------------------

@pytest.mark.timeout(90)
def test_failover_hands_the_master_role_to_a_replica(start_server):
    """FAILOVER TO: the target becomes master with the whole dataset, the old master its
    replica, the other replica stays attached below; the target continued our history."""
    master = start_ours(start_server)
    target = start_ours(start_server, *replica_of(master))
    other = start_ours(start_server, *replica_of(master))
    wait_replicas_online(master, 2)
    conn = RawConnection(master.port)
    try:
        for i in range(200):
            conn.command("SET", "key:%d" % i, "v%d" % i)
        assert conn.command("FAILOVER", "TO", "127.0.0.1", str(target.port)) == b"+OK\r\n"
        wait_until(lambda: info(target)["role"] == "master", "target promoted")
        wait_until(lambda: info(master).get("master_link_status") == "up",
                   "old master synchronized with the target")
        assert info(master)["role"] == "slave" and info(master)["master_port"] == str(target.port)
        assert info(master)["master_failover_state"] == "no-failover"
        # The target kept the old history as its second id: the old master only continued.
        assert stat(target, "sync_full") == 0
        assert conn.command("SET", "after", "failover") == READONLY
        assert command(target, "SET", "after", "failover") == b"+OK\r\n"
        assert_same_dataset(target, master)
        wait_until(lambda: command(other, "GET", "after") == b"$8\r\nfailover\r\n",
                   "the other replica follows through the old master")
    finally:
        conn.close()


def test_failover_errors_and_abort(start_server):
    master = start_ours(start_server)
    assert command(master, "FAILOVER") == b"-ERR FAILOVER requires connected replicas.\r\n"
    replica = start_ours(start_server, *replica_of(master))
    wait_replicas_online(master, 1)
    assert command(replica, "FAILOVER") == (
        b"-ERR FAILOVER is not valid when server is a replica.\r\n")
    assert command(master, "FAILOVER", "TO", "127.0.0.1", "1") == (
        b"-ERR FAILOVER target HOST and PORT is not a replica.\r\n")
    assert command(master, "FAILOVER", "FORCE") == (
        b"-ERR FAILOVER with force option requires both a timeout and target HOST and IP.\r\n")
    assert command(master, "FAILOVER", "ABORT") == b"-ERR No failover in progress.\r\n"
    # A replica that cannot catch up (stopped) holds the failover until it is aborted.
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        command(master, "SET", "k", "v")
        assert command(master, "FAILOVER", "TIMEOUT", "60000") == b"+OK\r\n"
        assert info(master)["master_failover_state"] == "waiting-for-sync"
        assert command(master, "FAILOVER") == b"-ERR FAILOVER already in progress.\r\n"
        assert command(master, "FAILOVER", "ABORT") == b"+OK\r\n"
        assert info(master)["master_failover_state"] == "no-failover"
        assert command(master, "SET", "k", "w") == b"+OK\r\n"     # writes flow again
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)


def test_client_pause_write_holds_writes_not_reads(start_server):
    srv = start_ours(start_server)
    writer, reader = RawConnection(srv.port), RawConnection(srv.port)
    try:
        assert writer.command("SET", "k", "before") == b"+OK\r\n"
        assert reader.command("CLIENT", "PAUSE", "400", "WRITE") == b"+OK\r\n"
        started = time.monotonic()
        writer.send(encode_command(["SET", "k", "after"]))
        assert reader.command("GET", "k") == b"$6\r\nbefore\r\n"     # reads go on
        assert writer.read_reply() == b"+OK\r\n"                    # the write waited
        assert time.monotonic() - started >= 0.3
        assert reader.command("CLIENT", "PAUSE", "10000", "ALL") == b"+OK\r\n"
        writer.send(encode_command(["GET", "k"]))
        assert_silent(writer, 0.3)
        assert reader.command("CLIENT", "UNPAUSE") == b"+OK\r\n"
        assert writer.read_reply() == b"$5\r\nafter\r\n"
    finally:
        writer.close()
        reader.close()


@pytest.mark.timeout(60)
def test_shutdown_waits_for_a_lagging_replica(start_server):
    """SHUTDOWN with a replica behind: writes pause, the master waits (INFO shows for how
    long), and exits once the replica acknowledged the last write, which it then holds."""
    master = start_ours(start_server, "--shutdown-timeout", "30")
    replica = start_ours(start_server, *replica_of(master))
    wait_replicas_online(master, 1)
    os.kill(replica.proc.pid, signal.SIGSTOP)
    try:
        assert command(master, "INCR", "k") == b":1\r\n"
        conn = RawConnection(master.port)
        conn.send(encode_command(["SHUTDOWN"]))
        wait_until(lambda: int(info(master, "server").get("shutdown_in_milliseconds", 0)) > 0,
                   "the master waiting for its replica")
        assert_silent(conn, 0.3)
        second = RawConnection(master.port)
        second.send(encode_command(["SHUTDOWN"]))       # waits with the first
        assert_silent(second, 0.3)
        assert info(master, "clients")["blocked_clients"] == "2"
    finally:
        os.kill(replica.proc.pid, signal.SIGCONT)
    master.wait_exit(20)
    assert master.proc.returncode == 0
    assert command(replica, "GET", "k") == b"$1\r\n1\r\n"
    log = master.log()
    assert "Waiting for replicas before shutting down." in log
    assert "1 of 1 replicas are in sync when shutting down." in log


@pytest.mark.timeout(60)
def test_swapdb_load_keeps_serving_the_old_data_when_the_history_is_the_same(start_server):
    """repl-diskless-load swapdb: a full sync that continues our own history (the backlog
    was overrun) loads beside the data, which is still served meanwhile (async_loading:1),
    then swapped in."""
    master = start_ours(start_server, "--repl-backlog-size", "16384")
    replica = start_ours(start_server, "--repl-diskless-load", "swapdb", *replica_of(master))
    command(master, "DEBUG", "POPULATE", "5000")
    command(master, "SET", "marker", "old")
    wait_link_up(replica)
    wait_in_step(master, replica)
    command(replica, "CONFIG", "SET", "key-load-delay", "100")    # a slow load to watch
    command(replica, "CLIENT", "KILL", "TYPE", "master")
    conn = RawConnection(master.port)
    try:
        conn.send(b"".join(encode_command(["SET", "more:%d" % i, "x" * 20]) for i in range(3000)))
        for _ in range(3000):
            assert conn.read_reply() == b"+OK\r\n"
        assert conn.command("SET", "marker", "new") == b"+OK\r\n"
    finally:
        conn.close()
    wait_until(lambda: info(replica, "persistence").get("async_loading") == "1",
               "the replica loading beside its data")
    assert info(replica, "persistence")["loading"] == "0"
    assert command(replica, "GET", "marker") == b"$3\r\nold\r\n"        # the old data, served
    command(replica, "CONFIG", "SET", "key-load-delay", "0")
    wait_link_up(replica)
    assert_same_dataset(master, replica)
    assert command(replica, "GET", "marker") == b"$3\r\nnew\r\n"
    assert "Swapping active DB with loaded DB" in replica.log()


def test_keys_loaded_with_a_ttl_wait_for_the_master(start_server):
    """Keys with a TTL that a replica got in its full sync are not its own: they stay until
    the master's DEL even once due (only keys its own clients wrote expire by themselves)."""
    master = start_ours(start_server)
    command(master, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
    for i in range(20):
        command(master, "SET", "k%d" % i, "v", "PX", "300")
    replica = start_ours(start_server, *replica_of(master))
    wait_link_up(replica)
    assert int(command(replica, "DBSIZE")[1:-2]) == 20
    time.sleep(0.8)                                   # due, and several replica crons later
    assert int(command(replica, "DBSIZE")[1:-2]) == 20
    assert command(replica, "GET", "k0") == b"$-1\r\n"
    command(master, "DEBUG", "SET-ACTIVE-EXPIRE", "1")
    wait_until(lambda: command(replica, "DBSIZE") == b":0\r\n", "the master's DELs")


# -- diskless load: the payload parsed as it arrives ----------------------------------------------

LOAD_WAIT = 90.0        # seconds for ~30 MB to load once the delay is lifted (pure twins, busy CI)


def start_slow_diskless_sync(start_server, replica_kind, *replica_args):
    """A diskless master with ~30 MB of keys and a swapdb replica that loads them slowly
    (key-load-delay): the full sync is under way when this returns."""
    master = start_ours(start_server, "--repl-diskless-sync", "yes", "--rdbcompression", "no")
    assert command(master, "DEBUG", "POPULATE", "3000", "key", "10000") == b"+OK\r\n"
    start = start_ours if replica_kind == "ours" else start_redis
    replica = start(start_server, "--repl-diskless-load", "swapdb", "--key-load-delay", "3000",
                    *replica_args)
    assert command(replica, "SET", "mine", "old") == b"+OK\r\n"
    command(replica, "REPLICAOF", "127.0.0.1", str(master.port))
    replica.wait_for_log("Loading DB in memory")
    return master, replica


@pytest.mark.timeout(240)
@pytest.mark.parametrize("replica_kind", ["ours", "redis"])
def test_diskless_load_reads_the_socket_as_fast_as_it_loads(start_server, replica_kind):
    """A replica parsing the payload as it arrives reads no faster than it loads: with a
    slow load the master's RDB child stays blocked on its pipe meanwhile, and the transfer
    ends with the load."""
    master, replica = start_slow_diskless_sync(start_server, replica_kind)
    time.sleep(2)            # the whole payload would have been read long ago
    assert info(master, "persistence")["rdb_bgsave_in_progress"] == "1"
    assert "Diskless rdb transfer, done reading from pipe" not in master.log()
    assert info(replica)["master_link_status"] == "down"
    command(replica, "CONFIG", "SET", "key-load-delay", "0")
    wait_link_up(replica, LOAD_WAIT)
    assert_same_dataset(master, replica)
    assert command(replica, "GET", "mine") == b"$-1\r\n"
    master.wait_for_log("Diskless rdb transfer, done reading from pipe, 1 replicas still up.")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("replica_kind", ["ours", "redis"])
def test_diskless_load_cut_short_keeps_the_old_data(start_server, replica_kind):
    """The master drops a replica in the middle of its diskless load: the load fails as a
    short read from the socket (Redis's lines), the data loaded so far is discarded and the
    old data is served again; the next sync succeeds."""
    master, replica = start_slow_diskless_sync(start_server, replica_kind)
    time.sleep(0.5)
    command(master, "CONFIG", "SET", "repl-diskless-sync-delay", "5")   # no new sync at once
    command(master, "CLIENT", "KILL", "TYPE", "replica")
    replica.wait_for_log("Discarding temporary DB in background")
    command(replica, "CONFIG", "SET", "key-load-delay", "0")
    wait_until(lambda: info(replica, "persistence")["loading"] == "0", "the load abandoned")
    assert command(replica, "GET", "mine") == b"$3\r\nold\r\n"
    log = replica.log()
    assert "Short read or OOM loading DB. Unrecoverable error, aborting now." in log
    assert ("Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming "
            "connection error, resuming operation." in log)
    assert "Failed trying to load the MASTER synchronization DB from socket" in log
    command(master, "CONFIG", "SET", "repl-diskless-sync-delay", "0")
    wait_link_up(replica, LOAD_WAIT)
    assert_same_dataset(master, replica)


@pytest.mark.timeout(180)
def test_a_slow_load_still_serves_events_every_interval_bytes(start_server):
    """loading-process-events-interval-bytes: with a key-load-delay of a second per key, a
    replica loading its master's payload still answers between keys (-LOADING), and a
    CONFIG SET sent meanwhile takes effect in the middle of the load."""
    master, replica = start_slow_diskless_sync(
        start_server, "ours", "--loading-process-events-interval-bytes", "1024")
    command(replica, "CONFIG", "SET", "key-load-delay", "1000000")
    started = time.monotonic()
    assert command(replica, "PING").startswith(b"-LOADING")
    assert time.monotonic() - started < 8
    command(replica, "CONFIG", "SET", "key-load-delay", "0")
    wait_link_up(replica, LOAD_WAIT)
    assert_same_dataset(master, replica)

"""Cluster mode with real processes: CLUSTER replies beside Redis 7.0's own, clusters made
by `redis-cli --cluster create` of our nodes alone and of ours beside Redis's, routing
(MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN), redis-py's RedisCluster, resharding under
load, failover after a master dies, and restarts from nodes.conf.

The servers listen on 25000-25999 (their buses 10000 higher). Every wait has a deadline.
"""
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis

from harness import RawConnection, ServerProcess, _is_free, require_reference, wait_until

NODE_TIMEOUT = 2000
PORT_RANGE = range(25000, 26000)
_next = [25000 + (os.getpid() * 7) % 900]


def cluster_ports(count):
    """`count` ports whose bus ports are free too."""
    found = []
    for _ in range(len(PORT_RANGE)):
        port = _next[0]
        _next[0] = port + 1 if port + 1 < PORT_RANGE.stop else PORT_RANGE.start
        if _is_free(port) and _is_free(port + 10000):
            found.append(port)
            if len(found) == count:
                return found
    raise RuntimeError("no free cluster ports")


def start_node(port, reference=False, dir=None, extra=()):
    return ServerProcess(["--cluster-enabled", "yes", "--cluster-node-timeout", str(NODE_TIMEOUT),
                          "--appendonly", "no"] + list(extra),
                         reference=reference, port=port, dir=dir)


def redis_cli(*args, timeout=60, stdin=None):
    return subprocess.run(["redis-cli"] + [str(a) for a in args], capture_output=True,
                          timeout=timeout, input=stdin)


def cluster_state(port):
    try:
        info = redis.Redis(port=port, socket_timeout=5).execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return None
    text = info.decode() if isinstance(info, bytes) else info
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def cluster_ok(port):
    return (cluster_state(port) or {}).get("cluster_state") == "ok"


def check_clean(port):
    """`redis-cli --cluster check` finds nothing wrong."""
    result = redis_cli("--cluster", "check", "127.0.0.1:%d" % port)
    out = result.stdout.decode()
    return (result.returncode == 0 and "[ERR]" not in out and "[WARNING]" not in out
            and "All 16384 slots covered" in out), out


def create_cluster(ports, replicas=1):
    result = redis_cli("--cluster", "create", *["127.0.0.1:%d" % p for p in ports],
                       "--cluster-replicas", replicas, "--cluster-yes", timeout=120)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    for port in ports:
        wait_until(lambda: cluster_ok(port), "cluster ok on %d" % port, 30)
    wait_until(lambda: check_clean(ports[0])[0], "a clean cluster check", 30)


def role(port):
    try:
        return redis.Redis(port=port, socket_timeout=5).execute_command("ROLE")[0]
    except redis.RedisError:
        return None


def cluster_client(port):
    from redis.cluster import RedisCluster
    from redis.backoff import ConstantBackoff
    from redis.retry import Retry
    return RedisCluster(host="127.0.0.1", port=port, socket_timeout=10,
                        retry=Retry(ConstantBackoff(0.2), 40))


def raw_reply(port, *args):
    """The reply's bytes, errors as sent (redis-py strips MOVED, ASK … off their text)."""
    conn = RawConnection(port)
    try:
        return conn.command(*[str(a).encode() if not isinstance(a, bytes) else a for a in args])
    finally:
        conn.close()


def error_of(port, *args):
    """The text of the error a command gets, as sent."""
    reply = raw_reply(port, *args)
    assert reply[:1] == b"-", reply
    return reply[1:].decode().rstrip("\r\n")


def kill(node):
    node.proc.kill()
    node.proc.wait(10)


def restart(node):
    return start_node(node.port, dir=node.dir)


# -- one node beside Redis's: the replies of the CLUSTER commands ---------------------------

@pytest.fixture(scope="module")
def pair():
    require_reference()
    ours_port, ref_port = cluster_ports(2)
    ours = start_node(ours_port)
    ref = start_node(ref_port, reference=True)
    yield ours, ref
    ours.stop()
    ref.stop()


def _both(pair, *args):
    """The same command on both, replies or errors as text."""
    out = []
    for srv in pair:
        try:
            out.append(srv.client().execute_command(*args))
        except redis.ResponseError as exc:
            out.append("ERR:%s:%s" % (type(exc).__name__, exc))
    return out


SAME_REPLIES = [
    ("CLUSTER", "KEYSLOT", "foo"), ("CLUSTER", "KEYSLOT", "{user1000}.following"),
    ("CLUSTER", "KEYSLOT", "foo{}{bar}"), ("CLUSTER", "KEYSLOT", "foo{{bar}}zap"),
    ("CLUSTER", "KEYSLOT", ""), ("CLUSTER", "KEYSLOT", "{}"),
    ("CLUSTER", "COUNTKEYSINSLOT", "16384"), ("CLUSTER", "COUNTKEYSINSLOT", "-1"),
    ("CLUSTER", "COUNTKEYSINSLOT", "abc"), ("CLUSTER", "COUNTKEYSINSLOT", "100"),
    ("CLUSTER", "GETKEYSINSLOT", "100", "-1"), ("CLUSTER", "GETKEYSINSLOT", "16384", "1"),
    ("CLUSTER", "GETKEYSINSLOT", "x", "1"), ("CLUSTER", "GETKEYSINSLOT", "1", "x"),
    ("CLUSTER", "ADDSLOTS", "16384"), ("CLUSTER", "ADDSLOTS", "1", "1"),
    ("CLUSTER", "ADDSLOTS", "x"), ("CLUSTER", "DELSLOTS", "5"),
    ("CLUSTER", "ADDSLOTSRANGE", "5", "1"), ("CLUSTER", "ADDSLOTSRANGE", "1", "2", "3"),
    ("CLUSTER", "ADDSLOTSRANGE", "1", "5", "3", "7"), ("CLUSTER", "DELSLOTSRANGE", "1", "2"),
    ("CLUSTER", "SETSLOT", "1", "MIGRATING", "x" * 40), ("CLUSTER", "SETSLOT", "1", "BOGUS"),
    ("CLUSTER", "SETSLOT", "1", "NODE", "x" * 40), ("CLUSTER", "SETSLOT", "99999", "STABLE"),
    ("CLUSTER", "SETSLOT", "1", "IMPORTING", "y" * 40),
    ("CLUSTER", "FORGET", "z" * 40), ("CLUSTER", "REPLICATE", "z" * 40),
    ("CLUSTER", "REPLICAS", "z" * 40), ("CLUSTER", "SLAVES", "z" * 40),
    ("CLUSTER", "COUNT-FAILURE-REPORTS", "z" * 40), ("CLUSTER", "SET-CONFIG-EPOCH", "-1"),
    ("CLUSTER", "SET-CONFIG-EPOCH", "x"), ("CLUSTER", "FAILOVER"),
    ("CLUSTER", "FAILOVER", "bogus"), ("CLUSTER", "RESET", "bogus"),
    ("CLUSTER", "MEET", "1.2.3", "7000"), ("CLUSTER", "MEET", "127.0.0.1", "x"),
    ("CLUSTER", "MEET", "127.0.0.1", "70000"), ("CLUSTER", "MEET", "127.0.0.1", "7000", "x"),
    ("CLUSTER", "HELP"), ("CLUSTER", "BOGUS"), ("CLUSTER", "INFO", "extra"),
    ("CLUSTER", "SLOTS"), ("CLUSTER", "LINKS"), ("SELECT", "1"), ("SELECT", "0"),
    ("READONLY",), ("READWRITE",), ("ASKING",), ("SWAPDB", "0", "1"),
]


def test_cluster_replies_are_redis_s(pair):
    for args in SAME_REPLIES:
        ours, theirs = _both(pair, *args)
        assert ours == theirs, args


def test_slots_keys_and_routing_on_one_node(pair):
    for srv in pair:
        c = srv.client()
        assert c.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "8191") == b"OK"
    for srv in pair:
        wait_until(lambda: (cluster_state(srv.port) or {}).get("cluster_state") == "fail"
                   and cluster_state(srv.port)["cluster_slots_assigned"] == "8192", "slots", 10)
    # Unserved slots: a key of slot 12182 (foo) has no node.
    assert [raw_reply(srv.port, "SET", "foo", "1") for srv in pair] == \
        [b"-CLUSTERDOWN Hash slot not served\r\n"] * 2
    for srv in pair:
        srv.client().execute_command("CLUSTER", "ADDSLOTSRANGE", "8192", "16383")
    for srv in pair:
        wait_until(lambda: cluster_ok(srv.port), "cluster ok", 10)
    for args in [("SET", "foo", "1"), ("SET", "{t}a", "1"), ("SET", "{t}b", "2"),
                 ("MSET", "a", "1", "b", "2"), ("MGET", "{t}a", "{t}b"),
                 ("CLUSTER", "COUNTKEYSINSLOT", "12182"),
                 ("CLUSTER", "GETKEYSINSLOT", "12182", "5"),
                 ("CLUSTER", "KEYSLOT", "{t}a"), ("EVAL", "return 1", "2", "a", "b"),
                 ("CLUSTER", "FLUSHSLOTS"), ("CLUSTER", "RESET"), ("INFO", "cluster"),
                 ("CLUSTER", "REPLICATE", "z" * 40), ("DEL", "foo", "{t}a", "{t}b")]:
        ours, theirs = _both(pair, *args)
        assert ours == theirs, args
    # A transaction whose keys span slots: EXEC gets -CROSSSLOT itself and the MULTI ends.
    replies = []
    for srv in pair:
        conn = srv.raw()
        conn.send(b"MULTI\r\nSET a 1\r\nSET b 2\r\nEXEC\r\nEXEC\r\nMULTI\r\nSET {t}a 1\r\n"
                  b"GET {t}b\r\nEXEC\r\n")
        replies.append([conn.read_reply() for _ in range(9)])
        conn.close()
    assert replies[0] == replies[1]
    assert replies[0][3] == b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    # The per-slot index follows every way a key comes and goes.
    c = pair[0].client()
    slot = c.execute_command("CLUSTER", "KEYSLOT", "{s}")
    c.mset({"{s}1": 1, "{s}2": 2, "{s}3": 3})
    c.rename("{s}1", "{s}4")
    c.delete("{s}2")
    c.set("{s}5", 1, px=50)
    time.sleep(0.2)
    c.get("{s}5")
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 2
    assert sorted(c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10)) == [b"{s}3", b"{s}4"]
    c.flushall()
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0


def test_nodes_conf_format_and_lock(pair):
    ours, ref = pair
    lines = {}
    for srv in pair:
        srv.client().execute_command("CLUSTER", "SAVECONFIG")
        with open(os.path.join(srv.dir, "nodes.conf")) as f:
            text = f.read()
        masked = re.sub(r"[0-9a-f]{40}", "ID", text)
        masked = re.sub(r":%d@%d" % (srv.port, srv.port + 10000), ":PORT@BUS", masked)
        lines[srv.reference] = re.sub(r" \d{13} ", " T ", masked)
    assert lines[False] == lines[True]
    # A second node on the same file is refused, as Redis refuses it.
    other = cluster_ports(1)[0]
    from harness import run_server
    result = run_server(["--port", str(other), "--cluster-enabled", "yes", "--dir", ours.dir],
                        timeout=30)
    assert result.returncode == 1
    assert b"is already used by a different Redis Cluster node" in result.stdout + result.stderr


# -- six of our nodes ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def six():
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    ports = cluster_ports(6)
    # Directories of our own: nodes restart from the nodes.conf they left there.
    dirs = [tempfile.mkdtemp(prefix="pyredis-cluster-") for _ in ports]
    nodes = [start_node(port, dir=d) for port, d in zip(ports, dirs)]
    t0 = time.monotonic()
    create_cluster(ports)
    print("cluster of 6 created in %.1fs" % (time.monotonic() - t0))
    yield nodes
    for node in nodes:
        node.stop()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def masters(nodes):
    return [n for n in nodes if role(n.port) == b"master"]


def test_create_and_check(six):
    ok, out = check_clean(six[0].port)
    assert ok, out
    assert len(masters(six)) == 3
    info = cluster_state(six[0].port)
    assert info["cluster_known_nodes"] == "6" and info["cluster_size"] == "3"


def test_redis_py_cluster_writes_and_reads_100k_keys(six):
    rc = cluster_client(six[0].port)
    n = 100000
    pipe = rc.pipeline()
    for i in range(n):
        pipe.set("k:%d" % i, i)
        if i % 2000 == 1999:
            pipe.execute()
    pipe.execute()
    bad = 0
    for start in range(0, n, 2000):
        for i in range(start, start + 2000):
            pipe.get("k:%d" % i)
        bad += sum(1 for j, v in enumerate(pipe.execute()) if v != str(start + j).encode())
    assert bad == 0
    assert sum(redis.Redis(port=m.port).dbsize() for m in masters(six)) >= n
    # Replicas receive their master's keys and answer reads after READONLY.
    replica = next(node for node in six if role(node.port) == b"slave")
    c = replica.client()
    wait_until(lambda: c.dbsize() > 0, "replica synced", 20)
    any_key = c.randomkey()
    assert error_of(replica.port, "GET", any_key).startswith("MOVED ")
    c.execute_command("READONLY")
    assert c.get(any_key) is not None
    assert error_of(replica.port, "SET", any_key, 1).startswith("MOVED ")


def test_moved_ask_tryagain(six):
    nodes = {n.port: n for n in six}
    ms = masters(six)
    first_range = ms[0].client().execute_command("CLUSTER", "SLOTS")[0]
    slot, owner_port = first_range[0], first_range[2][1]
    src_node = nodes[owner_port]
    src = src_node.client()
    dst_node = next(m for m in ms if m.port != owner_port)
    dst = dst_node.client()
    name = next("m%d" % i for i in range(100000)
                if src.execute_command("CLUSTER", "KEYSLOT", "m%d" % i) == slot)
    other = next("o%d" % i for i in range(1000)
                 if src.execute_command("CLUSTER", "KEYSLOT", "o%d" % i) != slot)
    tagged = ["{%s}x" % name, "{%s}y" % name]
    src.set(tagged[0], "here")
    moved = "MOVED %d 127.0.0.1:%d" % (slot, owner_port)
    assert error_of(dst_node.port, "GET", tagged[0]) == moved
    assert error_of(src_node.port, "MGET", name, other) == \
        "CROSSSLOT Keys in request don't hash to the same slot"
    src_id = src.execute_command("CLUSTER", "MYID").decode()
    dst_id = dst.execute_command("CLUSTER", "MYID").decode()
    assert dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id) == b"OK"
    assert src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id) == b"OK"
    assert src.get(tagged[0]) == b"here"                # still here: served
    assert error_of(src_node.port, "GET", tagged[1]) == "ASK %d 127.0.0.1:%d" % (slot,
                                                                                 dst_node.port)
    assert error_of(src_node.port, "MGET", *tagged) == \
        "TRYAGAIN Multiple keys request during rehashing of slot"
    assert error_of(dst_node.port, "GET", tagged[1]).startswith("MOVED ")   # no ASKING
    raw = dst_node.raw()
    raw.send(b"ASKING\r\nSET %s moved\r\nGET %s\r\n" % (tagged[1].encode(), tagged[1].encode()))
    assert raw.read_reply() == b"+OK\r\n" and raw.read_reply() == b"+OK\r\n"
    assert raw.read_reply().startswith(b"-MOVED ")      # ASKING is good for one command
    raw.close()
    # MIGRATE moves the rest, then the slot changes hands.
    keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
    assert tagged[0].encode() in keys
    assert src.execute_command("MIGRATE", "127.0.0.1", dst_node.port, "", 0, 5000,
                               "KEYS", *keys) == b"OK"
    assert src.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    shard = src.pubsub()
    shard.ssubscribe(name)                              # a shard channel of the slot
    wait_until(lambda: shard.get_sharded_message(timeout=0.1), "ssubscribed", 5)
    for node in ms:
        node.client().execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
    # The slot left the shard: its channels go, their subscribers hear of it.
    gone = wait_until(lambda: shard.get_sharded_message(timeout=0.1), "sunsubscribed", 5)
    assert (gone["type"], gone["channel"], gone["data"]) == ("sunsubscribe", name.encode(), 0)
    shard.close()
    assert dst.mget(*tagged) == [b"here", b"moved"]
    assert error_of(src_node.port, "GET", tagged[0]) == "MOVED %d 127.0.0.1:%d" % (slot,
                                                                                   dst_node.port)
    wait_until(lambda: check_clean(src_node.port)[0], "clean after the move", 30)


def shard_of(port, slot):
    """(master port, [replica ports]) serving a slot, from CLUSTER SLOTS."""
    for entry in redis.Redis(port=port).execute_command("CLUSTER", "SLOTS"):
        if entry[0] <= slot <= entry[1]:
            return entry[2][1], [r[1] for r in entry[3:]]
    raise AssertionError("slot %d not served" % slot)


def test_publish_reaches_every_node_and_spublish_its_shard(six):
    sub = six[-1].client().pubsub()
    sub.subscribe("news")
    wait_until(lambda: sub.get_message(timeout=0.1), "subscribed", 5)
    assert six[0].client().publish("news", "hello") == 0     # no subscriber on that node
    msg = wait_until(lambda: sub.get_message(timeout=0.1), "message over the bus", 5)
    assert msg["data"] == b"hello"
    sub.close()
    slot = six[0].client().execute_command("CLUSTER", "KEYSLOT", "chan")
    master_port, replica_ports = wait_until(lambda: (lambda s: s if s[1] else None)(
        shard_of(six[0].port, slot)), "the shard's replica listed", 10)
    ssub = redis.Redis(port=replica_ports[0]).pubsub()
    ssub.ssubscribe("chan")
    wait_until(lambda: ssub.get_sharded_message(timeout=0.1), "ssubscribed", 5)
    redis.Redis(port=master_port).execute_command("SPUBLISH", "chan", "shard-hello")
    msg = wait_until(lambda: ssub.get_sharded_message(timeout=0.1), "shard message", 5)
    assert msg["data"] == b"shard-hello"
    ssub.close()


def test_reshard_under_load_loses_nothing(six):
    ms = masters(six)
    src, dst = ms[0].client(), ms[1].client()
    rc = cluster_client(six[0].port)
    stop = threading.Event()
    acked = []
    errors = []

    def load():
        i = 0
        while not stop.is_set():
            try:
                rc.set("load:%d" % i, i)
                acked.append(i)
                i += 1
            except Exception as exc:          # a failed write is not acknowledged
                errors.append(exc)
                time.sleep(0.05)

    writer = threading.Thread(target=load)
    writer.start()
    try:
        t0 = time.monotonic()
        result = redis_cli("--cluster", "reshard", "127.0.0.1:%d" % ms[0].port,
                           "--cluster-from", src.execute_command("CLUSTER", "MYID").decode(),
                           "--cluster-to", dst.execute_command("CLUSTER", "MYID").decode(),
                           "--cluster-slots", 200, "--cluster-yes", timeout=300)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        writer.join(30)
    assert result.returncode == 0, result.stdout.decode()[-2000:]
    print("resharded 200 slots in %.1fs under load (%d writes)" % (elapsed, len(acked)))
    assert acked
    lost = [i for i in acked if rc.get("load:%d" % i) != str(i).encode()]
    assert lost == []
    wait_until(lambda: check_clean(six[0].port)[0], "clean after resharding", 30)


def test_failover_then_restart_from_nodes_conf(six):
    rc = cluster_client(six[0].port)
    for i in range(1000):
        rc.set("f:%d" % i, i)
    master = masters(six)[-1]
    mid = master.client().execute_command("CLUSTER", "MYID").decode()
    replica = next(n for n in six if n is not master and role(n.port) == b"slave"
                   and n.client().execute_command("ROLE")[2] == master.port)
    wait_until(lambda: replica.client().dbsize() == master.client().dbsize(), "in sync", 20)
    survivor = next(n for n in six if n is not master)
    t0 = time.monotonic()
    kill(master)
    wait_until(lambda: role(replica.port) == b"master" and cluster_ok(survivor.port),
               "replica promoted", NODE_TIMEOUT / 1000 + 10)
    print("failover in %.1fs (node timeout %dms)" % (time.monotonic() - t0, NODE_TIMEOUT))
    assert all(rc.get("f:%d" % i) == str(i).encode() for i in range(1000))
    # The old master comes back from its nodes.conf as a replica of the new one.
    back = restart(master)
    six[six.index(master)] = back
    assert back.client().execute_command("CLUSTER", "MYID").decode() == mid
    wait_until(lambda: role(back.port) == b"slave", "old master rejoins as a replica", 20)
    wait_until(lambda: check_clean(survivor.port)[0], "clean after the failover", 30)


def test_restart_all_nodes_restores_the_cluster(six):
    before = {n.port: n.client().execute_command("CLUSTER", "MYID") for n in six}
    for node in list(six):
        node.stop()
    restarted = [restart(node) for node in six]
    six[:] = restarted
    for node in six:
        assert node.client().execute_command("CLUSTER", "MYID") == before[node.port]
    for node in six:
        wait_until(lambda: cluster_ok(node.port), "ok after restart", 30)
    wait_until(lambda: check_clean(six[0].port)[0], "clean after restart", 30)


# -- three of ours beside three of Redis's --------------------------------------------------

def test_mixed_cluster_heals_after_each_kind_of_master_dies():
    require_reference()
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli not installed")
    ports = cluster_ports(6)
    nodes = [start_node(port, reference=(i % 2 == 1)) for i, port in enumerate(ports)]
    try:
        create_cluster(ports)
        rc = cluster_client(ports[0])
        acked = []
        for i in range(3000):
            rc.set("mix:%d" % i, i)
            acked.append(i)
        for kind in (False, True):          # one of ours, then one of Redis's
            master = next(n for n in nodes if n.proc.poll() is None and n.reference == kind
                          and role(n.port) == b"master")
            replica = next(n for n in nodes if n.proc.poll() is None and n is not master
                           and role(n.port) == b"slave"
                           and n.client().execute_command("ROLE")[2] == master.port)
            wait_until(lambda: replica.client().execute_command("ROLE")[3] == b"connected",
                       "replica linked", 20)
            wait_until(lambda: replica.client().dbsize() == master.client().dbsize(),
                       "replica in sync", 20)
            kill(master)
            survivor = next(n for n in nodes if n.proc.poll() is None)
            wait_until(lambda: role(replica.port) == b"master" and cluster_ok(survivor.port),
                       "promoted", NODE_TIMEOUT / 1000 + 15)
            rc = cluster_client(survivor.port)
            for i in range(len(acked), len(acked) + 500):
                rc.set("mix:%d" % i, i)
                acked.append(i)
            assert [i for i in acked if rc.get("mix:%d" % i) != str(i).encode()] == []
    finally:
        for node in nodes:
            node.stop()

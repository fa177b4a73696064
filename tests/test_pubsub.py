"""Pub/Sub and client-output-buffer-limit against redis-server 7.0.15.

Scenarios with several connections are played step by step on each server:
every reply a connection receives (a command's reply, or a message read
with READ) is compared byte for byte, and SILENT checks that nothing more
arrived. Then what only our server can be asked: propagation to a replica
and not to the AOF, a subscriber that never reads being dropped at its
output limit with the server's memory staying bounded, the soft limit, the
`timeout` directive sparing subscribers.
"""
import re
import socket
import time

import pytest

from differential import decode
from harness import RawConnection, encode_command, read_aof

WAIT = 5.0                  # seconds allowed for a server to reach an expected state
READ, SILENT, HELLO3 = "READ", "SILENT", "HELLO3"
SEND, UNORDERED, READ_SOME, DELIVERED = "SEND", "UNORDERED", "READ_SOME", "DELIVERED"


def play(port, steps):
    """Run (connection, step) pairs; the list of what each step received."""
    conns = {}
    received = []
    try:
        for who, step in steps:
            conn = conns.get(who)
            if conn is None:
                conn = conns[who] = RawConnection(port, timeout=WAIT)
                if who == 0:
                    conn.command("FLUSHALL")
            if step == HELLO3:              # its reply holds the connection id: not compared
                conn.command("HELLO", "3")
                continue
            if step == SILENT:
                data = conn.unread()
                received.append((who, "silent" if not data else data))
                continue
            if isinstance(step, tuple):
                kind, arg = step
                if kind == SEND:            # no reply expected
                    conn.send(encode_command(arg))
                    continue
                if kind == DELIVERED:       # publish, then read what the subscriber got
                    reader, command = arg
                    count = conn.command(*command)
                    messages = [conns[reader].read_reply() for _ in range(int(count[1:-2]))]
                    # Patterns are tried in the hash table's order: compare as a set.
                    received.append((who, count, sorted(messages)))
                    continue
                if kind == UNORDERED:       # an array whose order is the hash table's
                    received.append((who, sorted(decode(conn.command(*arg)))))
                else:                       # READ_SOME: messages whose order is unspecified
                    received.append((who, sorted(conn.read_reply() for _ in range(arg))))
                continue
            if step != READ:
                conn.send(encode_command(step))
            received.append((who, conn.read_reply()))
    finally:
        for conn in conns.values():
            conn.close()
    return received


def assert_same_play(reference, server, steps):
    expected = play(reference.port, steps)
    actual = play(server.port, steps)
    compared = [s for s in steps if s[1] != HELLO3 and not (isinstance(s[1], tuple)
                                                             and s[1][0] == SEND)]
    for (who, step), want, got in zip(compared, expected, actual):
        assert got == want, "client %s, step %r:\n  redis: %r\n  ours:  %r" % (who, step, want, got)


SCENARIOS = {
    "subscribe-publish-unsubscribe": [
        (1, ["SUBSCRIBE", "a", "b", "a"]), (1, READ), (1, READ),
        (0, ["PUBLISH", "a", "m1"]), (0, ["PUBLISH", "b", "m2"]), (0, ["PUBLISH", "c", "m3"]),
        (1, READ), (1, READ), (1, SILENT),
        (1, ["UNSUBSCRIBE", "a", "zz"]), (1, READ),
        (0, ["PUBLISH", "a", "m4"]), (0, ["PUBLISH", "b", "m5"]), (1, READ), (1, SILENT),
        (1, ["UNSUBSCRIBE"]), (1, ["UNSUBSCRIBE"]), (1, ["PUNSUBSCRIBE"]),
        (1, ["SUNSUBSCRIBE"]), (1, ["GET", "k"]), (1, ["PING"])],
    "several-subscribers-in-order": [
        (1, ["SUBSCRIBE", "ch"]), (2, ["SUBSCRIBE", "ch", "other"]), (2, READ),
        (3, ["PSUBSCRIBE", "c*", "*h"]), (3, READ),
        (0, ["PUBLISH", "ch", "one"]), (0, ["PUBLISH", "ch", "two"]),
        (1, READ), (1, READ), (2, READ), (2, READ), (3, (READ_SOME, 2)), (3, (READ_SOME, 2)),
        (0, ["PUBSUB", "NUMSUB", "ch", "other", "none"]), (0, ["PUBSUB", "NUMPAT"]),
        (0, ["PUBSUB", "CHANNELS", "o*"]), (0, ["PUBSUB", "CHANNELS", "x*"]),
        (2, ["QUIT"]), (0, ["PUBLISH", "ch", "three"]), (1, READ), (3, (READ_SOME, 2))],
    "pattern-edge-cases": [
        (1, ["PSUBSCRIBE", "h[ae]llo", "h[^e]llo", "h\\*llo", "a?c", "[a-", "foo[", "x[b-a]y",
             "", "\\"]),
    ] + [(1, READ)] * 8 + [
        (0, (DELIVERED, (1, ["PUBLISH", channel, "m"])))
        for channel in ("hello", "hallo", "h*llo", "hxllo", "abc", "ac", "foo[", "foo", "xay", "",
                        "\\", "[a-", "a", "[a", "h[llo")] + [(1, SILENT),
        (1, ["PSUBSCRIBE", "*"]), (0, (DELIVERED, (1, ["PUBLISH", "", "empty"]))),
        (0, (DELIVERED, (1, ["PUBLISH", "any", "x"]))), (1, SILENT),
        (1, ["PUNSUBSCRIBE", "*", "nope", "h[ae]llo"]), (1, READ), (1, READ), (1, SILENT)],
    "subscribed-mode-refuses-other-commands": [
        (1, ["SUBSCRIBE", "c"]), (1, ["GET", "k"]), (1, ["SET", "k", "v"]),
        (1, ["PUBSUB", "NUMSUB", "c"]), (1, ["PUBLISH", "c", "x"]), (1, ["MULTI"]),
        (1, ["CLIENT", "ID"]), (1, ["ECHO", "x"]), (1, ["NOSUCH"]), (1, ["SUBSCRIBE"]),
        (1, ["PING"]), (1, ["PING", "hi"]), (1, ["PSUBSCRIBE", "p*"]), (1, ["SSUBSCRIBE", "s"]),
        (1, ["UNSUBSCRIBE"]), (1, ["PUNSUBSCRIBE"]), (1, ["GET", "k"]), (1, ["SUNSUBSCRIBE"]),
        (1, ["GET", "k"]), (1, ["PING"]), (0, ["EXISTS", "k"])],
    "subscribed-mode-refusal-comes-before-a-pause": [
        (1, ["SUBSCRIBE", "c"]), (0, ["CLIENT", "PAUSE", "400", "WRITE"]),
        (1, ["SET", "k", "v"]), (1, ["GET", "k"]), (1, ["PUBLISH", "c", "x"]), (1, ["PING"]),
        (2, ["CLIENT", "UNPAUSE"])],
    "quit-and-reset-in-subscribed-mode": [
        (1, ["SUBSCRIBE", "c"]), (1, ["RESET"]), (1, ["GET", "k"]),
        (0, ["PUBLISH", "c", "x"]), (1, SILENT),
        (2, ["PSUBSCRIBE", "c"]), (2, ["QUIT"]), (0, ["PUBSUB", "NUMPAT"])],
    "resp3-pushes-and-any-command": [
        (1, HELLO3), (1, ["SUBSCRIBE", "a"]), (1, ["GET", "k"]), (1, ["PING"]),
        (1, ["PING", "x"]), (1, ["PSUBSCRIBE", "a*"]), (0, ["PUBLISH", "a", "m"]), (1, READ),
        (1, READ), (1, ["SET", "k", "v"]), (1, ["UNSUBSCRIBE"]), (1, ["PUNSUBSCRIBE"]),
        (1, ["UNSUBSCRIBE"]), (1, ["CLIENT", "ID", "x"]),
        (2, ["SUBSCRIBE", "a"]), (0, ["PUBLISH", "a", "both"]), (2, READ)],
    "mixed-protocols-on-one-channel": [
        (1, ["SUBSCRIBE", "c"]), (2, HELLO3), (2, ["SUBSCRIBE", "c"]), (3, ["SUBSCRIBE", "c"]),
        (0, ["PUBLISH", "c", "one"]), (0, ["PUBLISH", "c", ""]), (0, ["PUBLISH", "other", "x"]),
        (1, READ), (1, READ), (2, READ), (2, READ), (3, READ), (3, READ),
        (1, SILENT), (2, SILENT), (3, SILENT), (0, ["publish", "c", "lower"]), (2, READ),
        (2, ["UNSUBSCRIBE", "c"]), (0, ["PUBLISH", "c", "two"]), (1, READ), (2, SILENT),
        (3, READ)],
    "shard-channels": [
        (1, ["SSUBSCRIBE", "s1", "s2", "s1"]), (1, READ), (1, READ),
        (1, ["SUBSCRIBE", "s1"]), (2, ["PSUBSCRIBE", "s*"]),
        (0, ["SPUBLISH", "s1", "shard"]), (0, ["PUBLISH", "s1", "plain"]),
        (1, READ), (1, READ), (2, READ), (2, SILENT),
        (0, (UNORDERED, ["PUBSUB", "SHARDCHANNELS"])), (0, ["PUBSUB", "SHARDCHANNELS", "*2"]),
        (0, ["PUBSUB", "SHARDNUMSUB", "s1", "s2", "s3"]), (0, ["PUBSUB", "NUMSUB", "s1"]),
        (1, ["SUNSUBSCRIBE", "s2"]), (1, ["SUNSUBSCRIBE"]), (1, ["SUNSUBSCRIBE"]),
        (1, ["UNSUBSCRIBE"]), (1, ["GET", "k"]), (0, ["SPUBLISH", "s1", "gone"])],
    "pubsub-introspection-errors": [
        (0, ["PUBSUB"]), (0, ["PUBSUB", "HELP"]), (0, ["PUBSUB", "HELP", "x"]),
        (0, ["PUBSUB", "NOSUCH"]), (0, ["PUBSUB", "CHANNELS", "a", "b"]),
        (0, ["PUBSUB", "SHARDCHANNELS", "a", "b"]), (0, ["PUBSUB", "NUMPAT", "x"]),
        (0, ["PUBSUB", "NUMSUB"]), (0, ["PUBSUB", "SHARDNUMSUB"]), (0, ["PUBSUB", "CHANNELS"]),
        (0, ["PUBLISH", "c"]), (0, ["SPUBLISH", "c", "m", "x"]), (0, ["SUBSCRIBE"]),
        (0, ["PSUBSCRIBE"]), (0, ["SSUBSCRIBE"])],
    "multi-and-scripts": [
        (1, ["SUBSCRIBE", "c"]),
        (0, ["MULTI"]), (0, ["PUBLISH", "c", "in-multi"]), (0, ["SET", "k", "v"]),
        (0, ["PUBLISH", "c", "again"]), (0, ["EXEC"]), (1, READ), (1, READ),
        (0, ["EVAL", "return redis.call('publish', 'c', 'from-lua')", "0"]), (1, READ),
        (0, ["EVAL", "return redis.call('subscribe', 'c')", "0"]),
        (0, ["EVAL", "return redis.pcall('spublish', 'c', 'x')", "0"]),
        (0, ["EVAL_RO", "return redis.pcall('publish', 'c', 'x')", "0"]),
        (0, ["EVAL", "#!lua flags=no-writes\nreturn redis.pcall('publish', 'c', 'x')", "0"]),
        (2, ["MULTI"]), (2, ["SUBSCRIBE", "d"]), (2, ["PSUBSCRIBE", "d*"]), (2, ["EXEC"]),
        (2, ["GET", "k"]), (0, ["PUBLISH", "d", "x"]), (2, READ), (2, READ),
        (3, ["MULTI"]), (3, ["SSUBSCRIBE", "s"]), (3, ["EXEC"]), (3, ["GET", "k"])],
    "client-reply-off-keeps-pushes": [
        (1, HELLO3), (1, (SEND, ["CLIENT", "REPLY", "OFF"])), (1, ["SUBSCRIBE", "c"]),
        (1, ["PSUBSCRIBE", "c*"]), (1, (SEND, ["GET", "k"])), (0, ["PUBLISH", "c", "m"]),
        (1, READ), (1, READ), (1, ["UNSUBSCRIBE", "c"]), (1, SILENT),
        (1, ["CLIENT", "REPLY", "ON"]), (1, ["PING"]), (1, (SEND, ["CLIENT", "REPLY", "SKIP"])),
        (1, ["PUNSUBSCRIBE"]), (1, ["PING"])],
    "client-kill-type-pubsub": [
        (1, ["SUBSCRIBE", "c"]), (2, ["SSUBSCRIBE", "s"]), (3, ["PING"]),
        (0, ["CLIENT", "KILL", "TYPE", "pubsub"]), (0, ["PUBSUB", "NUMSUB", "c"]),
        (0, ["PUBSUB", "SHARDNUMSUB", "s"]), (3, ["PING"])],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_as_redis(reference, server, name):
    assert_same_play(reference, server, SCENARIOS[name])


def client_fields(port, who_am_i_args):
    """sub=, psub=, ssub=, flags= of a client after the given subscribe commands."""
    subscriber = RawConnection(port, timeout=WAIT)
    try:
        for args in who_am_i_args:
            subscriber.command(*args)
        while subscriber.unread():  # the confirmations of several channels
            pass
        observer = RawConnection(port, timeout=WAIT)
        try:
            listing = observer.command("CLIENT", "LIST", "TYPE", "pubsub").decode()
            normal = observer.command("CLIENT", "LIST", "TYPE", "normal").decode()
        finally:
            observer.close()
    finally:
        subscriber.close()
    fields = re.findall(r"(flags|sub|psub|ssub|events|obl|oll|omem)=(\S+)", listing)
    return fields, normal.count("\n")


@pytest.mark.parametrize("commands", [
    [["SUBSCRIBE", "a", "b"]],
    [["PSUBSCRIBE", "a*"], ["SUBSCRIBE", "x"]],
    [["SSUBSCRIBE", "s1", "s2", "s3"]],
    [["SUBSCRIBE", "a"], ["UNSUBSCRIBE"], ["PSUBSCRIBE", "p"]],
])
def test_client_list_fields(reference, server, commands):
    assert client_fields(server.port, commands) == client_fields(reference.port, commands)


def pubsub_info(port):
    """INFO stats' Pub/Sub counts while a client holds channels, patterns, shard channels."""
    subscriber = RawConnection(port, timeout=WAIT)
    observer = RawConnection(port, timeout=WAIT)
    try:
        subscriber.send(encode_command(["SUBSCRIBE", "a", "b", "a"]) +
                        encode_command(["PSUBSCRIBE", "x*", "y*", "x*"]) +
                        encode_command(["SSUBSCRIBE", "s"]))
        for _ in range(7):
            subscriber.read_reply()
        stats = observer.command("INFO", "stats").decode()
        fields = dict(re.findall(r"^(pubsub\w*):(\d+)", stats, re.M))
        subscriber.command("RESET")
        stats = observer.command("INFO", "stats").decode()
        return fields, dict(re.findall(r"^(pubsub\w*):(\d+)", stats, re.M))
    finally:
        subscriber.close()
        observer.close()


def test_info_stats_counts(reference, server):
    assert pubsub_info(server.port) == pubsub_info(reference.port)


CONFIG_CASES = [
    ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit",
     "normal 1mb 2mb 60 replica 3mb 4mb 70 pubsub 5mb 6mb 80"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit", "PUBSUB 1gb 1k 0"],
    ["CONFIG", "SET", "client-output-buffer-limit", "slave 1 2 3"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit", ""],
    ["CONFIG", "SET", "client-output-buffer-limit", "wrong number"],
    ["CONFIG", "SET", "client-output-buffer-limit", "master 10mb 10mb 60"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 10mbs 10mb 60"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 10mbs 60"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 10mb 60s"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal -1 10mb 60"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 -3"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1 2 3 pubsub x 2 3"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0 replica 256mb 64mb 60 "
     "pubsub 32mb 8mb 60"],
    ["CONFIG", "GET", "client-output-buffer-limit"],
]


def test_config_client_output_buffer_limit(reference, server):
    assert_same_play(reference, server, [(0, case) for case in CONFIG_CASES])


# -- propagation ------------------------------------------------------------------------------

def wait_until(predicate, what, timeout=WAIT * 2):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def test_publish_reaches_replica_subscribers_and_not_the_aof(start_server):
    master = start_server("--appendonly", "yes")
    replica = start_server("--replicaof", "127.0.0.1", str(master.port))
    wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up",
               "the replica's link")
    subscriber = replica.raw()
    subscriber.command("SUBSCRIBE", "news")
    subscriber.command("PSUBSCRIBE", "n*")
    subscriber.command("SSUBSCRIBE", "shard")
    m = master.client()
    assert m.publish("news", "plain") == 0          # nobody subscribed on the master itself
    m.execute_command("SPUBLISH", "shard", "sharded")
    pipe = m.pipeline(transaction=True)
    pipe.publish("news", "in-multi")
    pipe.set("k", "v")
    pipe.execute()
    m.eval("redis.call('set', 'k2', 'v'); return redis.call('publish', 'news', 'from-lua')", 0)
    # Every message, in publish order, the pattern's right after the channel's.
    want_order = [
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nplain\r\n",
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$5\r\nplain\r\n",
        b"*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$7\r\nsharded\r\n",
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$8\r\nin-multi\r\n",
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$8\r\nin-multi\r\n",
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$8\r\nfrom-lua\r\n",
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$8\r\nfrom-lua\r\n",
    ]
    assert [subscriber.read_reply() for _ in want_order] == want_order
    assert replica.client().get("k2") == b"v"
    # The AOF has the writes, never a PUBLISH (Redis propagates it to replicas only).
    aof = read_aof(master, b"k2")
    assert b"k2" in aof and b"PUBLISH" not in aof.upper()


def encode_bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


# -- output buffer limits -----------------------------------------------------------------------

def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def test_subscriber_that_never_reads_is_dropped_and_memory_stays_bounded(start_server):
    srv = start_server("--client-output-buffer-limit", "pubsub 4mb 2mb 60")
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # the kernel holds little
    slow.sendall(encode_command(["SUBSCRIBE", "firehose"]))
    publisher = srv.raw()
    wait_until(lambda: publisher.command("PUBSUB", "NUMSUB", "firehose").endswith(b":1\r\n"),
               "the subscription")
    rss_before = vm_rss_kb(srv.proc.pid)
    message = b"x" * 10000
    batch = encode_command(["PUBLISH", "firehose", message]) * 50
    sent = 0
    dropped_at = None
    while sent < 200 * 1024 * 1024:                 # 200 MB published at most
        publisher.send(batch)
        replies = b"".join(publisher.read_reply() for _ in range(50))
        sent += 50 * len(message)
        if b":0\r\n" in replies:                    # nobody received it: the subscriber is gone
            dropped_at = sent
            break
    assert dropped_at is not None, "the subscriber was never dropped"
    assert dropped_at < 64 * 1024 * 1024
    rss_after = vm_rss_kb(srv.proc.pid)
    assert rss_after - rss_before < 40 * 1024, (rss_before, rss_after)
    log = srv.wait_for_log("for overcoming of output buffer limits.")
    line = [l for l in log.splitlines() if "overcoming of output buffer limits" in l][0]
    assert re.search(r"# Client id=\d+ addr=\S+ .*flags=P .*sub=1 psub=0 .*omem=\d+ .* "
                     r"scheduled to be closed ASAP for overcoming of output buffer limits\.$", line)
    assert b"firehose" not in publisher.command("PUBSUB", "CHANNELS")
    assert b"flags=P" not in publisher.command("CLIENT", "LIST")
    # Publishing on costs nothing more.
    for _ in range(20):
        publisher.send(batch)
        for _ in range(50):
            assert publisher.read_reply() == b":0\r\n"
    assert vm_rss_kb(srv.proc.pid) - rss_before < 40 * 1024
    slow.close()


def test_soft_limit_drops_after_its_seconds_even_without_traffic(start_server):
    srv = start_server("--client-output-buffer-limit", "pubsub 0 100000 1")
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(encode_command(["CLIENT", "SETNAME", "slow"]) + encode_command(["SUBSCRIBE", "c"]))
    publisher = srv.raw()
    wait_until(lambda: publisher.command("PUBSUB", "NUMSUB", "c").endswith(b":1\r\n"),
               "the subscription")
    message = b"y" * 1000

    def omem():
        found = re.search(rb"name=slow .*omem=(\d+)", publisher.command("CLIENT", "LIST"))
        return int(found.group(1)) if found else None

    while (omem() or 0) < 100000:
        publisher.send(encode_command(["PUBLISH", "c", message]) * 100)
        for _ in range(100):
            publisher.read_reply()
    over_since = time.monotonic()
    # No traffic from here: the cron notices the soft limit held too long.
    wait_until(lambda: omem() is None, "the soft limit drop", timeout=5)
    assert time.monotonic() - over_since >= 0.9
    srv.wait_for_log("closed for overcoming of output buffer limits.")
    slow.close()


def test_normal_client_over_its_limit_gets_no_reply(start_server):
    srv = start_server("--client-output-buffer-limit", "normal 100000 0 0")
    r = srv.client()
    r.rpush("big", *[b"v" * 1000] * 150)
    conn = srv.raw()
    conn.send(encode_command(["LRANGE", "big", "0", "-1"]))
    assert conn.read_until_closed() == b""
    assert r.ping()
    # A huge HRANDFIELD stops mid-reply instead of building it whole.
    r.config_set("client-output-buffer-limit", "normal 1000000 0 0")
    r.hset("h", "a", "b")
    conn = srv.raw()
    conn.send(encode_command(["HRANDFIELD", "h", "-999999999"]))
    conn.read_until_closed(timeout=WAIT)
    assert r.ping()


def test_timeout_spares_subscribers(start_server):
    srv = start_server("--timeout", "1")
    subscriber = srv.raw()
    subscriber.command("SUBSCRIBE", "c")
    idle = srv.raw()
    idle.command("PING")
    time.sleep(2.5)
    assert idle.is_closed()
    assert srv.client().publish("c", "still here") == 1
    assert subscriber.read_reply() == b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$10\r\nstill here\r\n"


def test_replica_that_stops_reading_is_dropped_at_the_replica_limit(start_server):
    master = start_server("--repl-backlog-size", "16kb", "--repl-diskless-sync", "no",
                          "--client-output-buffer-limit", "replica 256kb 0 0")
    replica = socket.create_connection(("127.0.0.1", master.port), timeout=WAIT)
    replica.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    replica.sendall(encode_command(["PSYNC", "?", "-1"]))
    received = b""
    while b"\r\n" not in received:
        received += replica.recv(4096)
    assert received.startswith(b"+FULLRESYNC")
    r = master.client()
    wait_until(lambda: r.info("replication")["connected_slaves"] == 1, "the replica attached")
    value = b"v" * 10000
    for i in range(300):                            # 3 MB of writes the replica never reads
        r.set("key:%d" % i, value)
        if r.info("replication")["connected_slaves"] == 0:
            break
    wait_until(lambda: r.info("replication")["connected_slaves"] == 0, "the replica dropped")
    log = master.wait_for_log("for overcoming of output buffer limits.")
    line = [l for l in log.splitlines() if "overcoming of output buffer limits" in l][0]
    assert re.search(r"Client id=\d+ .*flags=S .*scheduled to be closed ASAP", line), line
    replica.close()


def pipeline_past_the_limit(port):
    """A pipeline whose replies outgrow a normal client's limit: what ran of it."""
    setup = RawConnection(port, timeout=WAIT)
    try:
        setup.command("FLUSHALL")
        setup.command("SET", "big", "x" * 10000)
        setup.command("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0")
        conn = RawConnection(port, timeout=WAIT)
        conn.send(b"".join(encode_command(["GET", "big"]) for _ in range(15)) +
                  encode_command(["SET", "after", "1"]))
        got = conn.read_until_closed()
        conn.close()
        return got, setup.command("EXISTS", "after")
    finally:
        setup.command("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
        setup.close()


def test_commands_after_the_limit_is_reached_do_not_run(reference, server):
    assert pipeline_past_the_limit(server.port) == pipeline_past_the_limit(reference.port) == (
        b"", b":0\r\n")


def output_fields_mid_pipeline(port):
    """obl, oll, omem of CLIENT INFO with replies of the same pipeline not yet written."""
    conn = RawConnection(port, timeout=WAIT)
    try:
        conn.send(encode_command(["SET", "k", "x" * 100]) + encode_command(["GET", "k"]) * 3 +
                  encode_command(["CLIENT", "INFO"]))
        for _ in range(4):
            conn.read_reply()
        return re.findall(rb"(obl|oll|omem)=(\d+)", conn.read_reply())
    finally:
        conn.close()


def test_output_fields_of_replies_not_yet_written(reference, server):
    assert output_fields_mid_pipeline(server.port) == output_fields_mid_pipeline(reference.port)

"""Client-side caching (CLIENT TRACKING) against redis-server 7.0.15.

Scenarios with several connections are played step by step on each server,
RESP2 (a redirect to a connection subscribed to `__redis__:invalidate`) and
RESP3 (push messages): every reply or message a connection receives is
compared byte for byte, and SILENT checks that nothing more arrived. Client
ids differ between the servers: a step names a connection's id as ID(who),
and ids in replies are written back as that name before comparing.
Then what needs waiting or only our server can show: active expiry,
tracking-table-max-keys, INFO's counters.
"""
import time

import pytest

from differential import ours, pure_server  # noqa: F401  (fixtures: native and pure twins)
from harness import RawConnection, encode_command

WAIT = 5.0
READ, SILENT, HELLO3, SUBSCRIBE, SEND = "READ", "SILENT", "HELLO3", "SUBSCRIBE", "SEND"
RESP2_PONG = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"


class ID:
    """The client id of connection `who`, as an argument."""

    def __init__(self, who):
        self.who = who


def play(port, steps):
    """Run (connection, step) pairs; what each step received, ids written as names."""
    conns, ids = {}, {}
    received = []

    def connect(who):
        conn = conns.get(who)
        if conn is None:
            conn = conns[who] = RawConnection(port, timeout=WAIT)
            if len(conns) == 1:
                conn.command("FLUSHALL")
            ids[who] = int(conn.command("CLIENT", "ID")[1:-2])
        return conn

    def named(reply):
        for who, number in ids.items():
            reply = reply.replace(b":%d\r\n" % number, b":<%s>\r\n" % str(who).encode())
            reply = reply.replace(b"redir=%d " % number, b"redir=<%s> " % str(who).encode())
        return reply

    try:
        for who, step in steps:
            conn = connect(who)
            if step == HELLO3:                  # its reply holds the id and version: not compared
                conn.command("HELLO", "3")
                continue
            if step == SUBSCRIBE:
                received.append((who, conn.command("SUBSCRIBE", "__redis__:invalidate")))
                continue
            if step == SILENT:
                data = conn.unread()
                received.append((who, "silent" if not data else data))
                continue
            if isinstance(step, tuple):         # (SEND, command): no reply expected
                conn.send(encode_command(step[1]))
                continue
            if step != READ:
                args = [_id_arg(connect, ids, a) if isinstance(a, ID) else a for a in step]
                conn.send(encode_command(args))
            received.append((who, named(conn.read_reply())))
    finally:
        for conn in conns.values():
            conn.close()
    return received


def _id_arg(connect, ids, arg):
    connect(arg.who)
    return str(ids[arg.who])


def assert_same_play(reference, server, steps):
    expected = play(reference.port, steps)
    actual = play(server.port, steps)
    for n, (want, got) in enumerate(zip(expected, actual)):
        assert got == want, "step %d: redis %r, ours %r" % (n, want, got)
    assert len(actual) == len(expected)


# -- errors ----------------------------------------------------------------------------------

def test_errors_match_redis(reference, ours):
    steps = [
        ("a", ["CLIENT", "TRACKING"]),
        ("a", ["CLIENT", "TRACKING", "maybe"]),
        ("a", ["CLIENT", "TRACKING", "on", "FOO"]),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT"]),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", "abc"]),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", "999999"]),
        ("b", ["PING"]),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("b"), "REDIRECT", ID("b")]),
        ("a", ["CLIENT", "TRACKING", "on", "PREFIX", "x"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "OPTIN"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "OPTOUT"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "abc"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "foo", "PREFIX", "bar"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "fo"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "barb"]),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["CLIENT", "TRACKING", "maybe", "BCAST"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTOUT"]),
        ("a", ["CLIENT", "CACHING", "no"]),
        ("a", ["CLIENT", "CACHING", "maybe"]),
        ("a", ["CLIENT", "CACHING"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTOUT"]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["CLIENT", "GETREDIR", "x"]),
        ("a", ["CLIENT", "TRACKINGINFO", "x"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "GETREDIR"]),
    ]
    assert_same_play(reference, ours, steps)


def test_tracking_commands_refused_in_scripts(reference, ours):
    steps = [("a", ["EVAL", "return redis.call('client', 'tracking', 'on')", "0"]),
             ("a", ["EVAL", "return redis.call('client', 'caching', 'yes')", "0"])]
    assert_same_play(reference, ours, steps)


# -- default mode ----------------------------------------------------------------------------

def test_resp3_default_mode(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("b", ["MSET", "k1", "1", "k2", "2", "k3", "3"]),
        ("a", ["GET", "k1"]),
        ("a", ["MGET", "k2", "k3", "missing"]),
        ("a", SILENT),
        ("b", ["SET", "k1", "x"]),
        ("a", READ),
        ("b", ["SET", "k1", "y"]),             # forgotten after the first invalidation
        ("a", SILENT),
        ("b", ["DEL", "k2", "k3"]),
        ("a", READ), ("a", READ),
        ("b", ["SET", "missing", "now"]),      # a miss is remembered too
        ("a", READ),
        ("a", ["HSET", "h", "f", "1"]),
        ("a", ["HGET", "h", "f"]),
        ("a", ["HDEL", "h", "f"]),             # its own write: after the reply
        ("a", READ),
        ("a", ["GET", "k1"]),
        ("a", ["SET", "k1", "z"]),
        ("a", READ),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["CLIENT", "GETREDIR"]),
        ("b", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["PING"]),
    ]
    assert_same_play(reference, ours, steps)


def test_resp2_redirect_to_a_subscriber(reference, ours):
    steps = [
        ("r", SUBSCRIBE),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r")]),
        ("a", ["CLIENT", "GETREDIR"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["GET", "a1"]),
        ("a", ["SMEMBERS", "s1"]),
        ("b", ["SADD", "s1", "m"]),
        ("r", READ),
        ("b", ["SET", "a1", "v"]),
        ("r", READ),
        ("a", ["GET", "a1"]),
        ("a", ["SET", "a1", "w"]),             # its own write, redirected
        ("r", READ),
        ("a", SILENT),
        ("c", ["CLIENT", "TRACKING", "on"]),   # RESP2 without a redirect: nothing can be sent
        ("c", ["GET", "a1"]),
        ("b", ["SET", "a1", "again"]),
        ("c", ["PING"]),
        ("d", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("b")]),   # not subscribed: nothing
        ("d", ["GET", "a1"]),
        ("a", ["SET", "a1", "x"]),
        ("b", ["PING"]),
    ]
    assert_same_play(reference, ours, steps)


def test_resp3_redirect_and_several_clients(reference, ours):
    steps = [
        ("r", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r")]),
        ("b", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r")]),
        ("c", HELLO3),
        ("c", ["CLIENT", "TRACKING", "on"]),
        ("a", ["GET", "shared"]),
        ("b", ["GET", "shared"]),
        ("c", ["GET", "shared"]),
        ("w", ["SET", "shared", "1"]),
        ("r", READ),            # once per tracking client
        ("r", READ),
        ("c", READ),
        ("r", SILENT),
        ("c", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_noloop(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "NOLOOP"]),
        ("a", ["GET", "n1"]),
        ("a", ["SET", "n1", "mine"]),          # nothing about its own write
        ("a", ["GET", "n1"]),
        ("b", ["SET", "n1", "theirs"]),
        ("a", READ),
        ("a", ["GET", "n1"]),
        ("a", ["EVAL", "return redis.call('set', KEYS[1], 'script')", "1", "n1"]),
        ("a", ["GET", "n1"]),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_optin_and_optout(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN"]),
        ("a", ["GET", "o1"]),                  # not remembered
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),     # a CLIENT command keeps the promise
        ("a", ["GET", "o2"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["GET", "o3"]),                  # only the next command
        ("b", ["MSET", "o1", "1", "o2", "2", "o3", "3"]),
        ("a", READ),
        ("a", SILENT),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["MULTI"]),
        ("a", ["GET", "o1"]),
        ("a", ["GET", "o3"]),
        ("a", ["EXEC"]),
        ("b", ["MSET", "o1", "1", "o2", "2", "o3", "3"]),
        ("a", READ), ("a", READ),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTOUT"]),
        ("a", ["GET", "o1"]),
        ("a", ["CLIENT", "CACHING", "no"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["GET", "o2"]),                  # not remembered
        ("b", ["MSET", "o1", "1", "o2", "2"]),
        ("a", READ),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_bcast_with_prefixes(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["CLIENT", "GETREDIR"]),
        ("b", ["MSET", "user:2", "x", "other", "y", "obj:1", "z", "user:1", "w"]),
        ("a", READ), ("a", READ),              # one array per prefix, keys sorted
        ("a", SILENT),
        ("b", ["SET", "nothing", "1"]),
        ("a", SILENT),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "more:"]),   # adds a prefix
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("b", ["SET", "more:1", "1"]),
        ("a", READ),
        ("r", SUBSCRIBE),
        ("c", ["CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", ID("r")]),   # every key
        ("b", ["MULTI"]),
        ("b", ["SET", "zz", "1"]),
        ("b", ["SET", "aa", "1"]),
        ("b", ["INCR", "user:9"]),
        ("b", ["EXEC"]),
        ("r", READ),
        ("a", READ),
        ("a", SILENT),
        ("r", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_bcast_noloop(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "NOLOOP"]),
        ("a", ["SET", "mine", "1"]),
        ("a", ["PING"]),
        ("a", SILENT),
        ("b", ["MULTI"]),
        ("b", ["SET", "theirs", "1"]),
        ("b", ["EXEC"]),
        ("a", READ),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKING", "on"]),   # from BCAST to the default mode
        ("a", ["CLIENT", "TRACKINGINFO"]),
    ]
    assert_same_play(reference, ours, steps)


def test_switching_modes_keeps_no_stale_keys(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["GET", "before"]),
        ("a", ["CLIENT", "TRACKING", "off"]),
        ("a", ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "zzz"]),
        ("b", ["SET", "before", "1"]),         # remembered before BCAST: no message
        ("a", ["PING"]),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)


# -- transactions, scripts, blocking ------------------------------------------------------

def test_invalidations_follow_transactions_and_scripts(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["MSET", "t1", "1", "t2", "2"]),
        ("a", ["GET", "t1"]),
        ("a", ["MULTI"]),
        ("a", ["INCR", "t1"]),
        ("a", ["GET", "t2"]),
        ("a", ["EXEC"]),
        ("a", READ),                           # after the whole EXEC reply
        ("a", ["MULTI"]),
        ("a", ["SET", "t3", "1"]),
        ("a", ["GET", "t3"]),                  # read after the write: stays remembered
        ("a", ["EXEC"]),
        ("a", SILENT),
        ("b", ["SET", "t3", "2"]),
        ("a", READ),
        # A script that reads remembers its declared keys; one that does not, nothing.
        ("a", ["EVAL", "redis.call('set', 'x', 'bar')", "2", "s1", "s2"]),
        ("b", ["MSET", "s1", "1", "s2", "2"]),
        ("a", ["EVAL", "redis.call('get', 'x')", "2", "s1", "s2"]),
        ("b", ["MSET", "s2", "1", "s1", "2"]),
        ("a", READ), ("a", READ),
        ("a", ["EVAL_RO", "redis.call('ping')", "2", "s1", "s2"]),
        ("b", ["MSET", "s2", "1", "s1", "2"]),
        ("a", ["PING"]),
        ("a", ["GET", "t1"]),
        ("a", ["EVAL", "redis.call('incr', KEYS[1]); return redis.call('get', KEYS[1])", "1",
               "t1"]),
        ("a", READ),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_unblocked_client_gets_its_reply_first(reference, ours):
    steps = [
        ("a", HELLO3),
        ("b", ["RPUSH", "dst", "x"]),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["LRANGE", "dst", "0", "-1"]),
        ("a", ("BLMOVE", "src", "dst", "LEFT", "LEFT", "0")),
    ]
    # The blocked command needs a wait before the push that unblocks it.
    expected = _play_blocking(reference.port, steps)
    actual = _play_blocking(ours.port, steps)
    assert actual == expected


def _play_blocking(port, steps):
    a = RawConnection(port, timeout=WAIT)
    b = RawConnection(port, timeout=WAIT)
    try:
        a.command("FLUSHALL")
        a.command("HELLO", "3")
        b.command("RPUSH", "dst", "x")
        a.command("CLIENT", "TRACKING", "on")
        a.command("LRANGE", "dst", "0", "-1")
        a.send(encode_command(["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]))
        _wait_blocked(b)
        b.command("RPUSH", "src", "foo")
        return [a.read_reply(), a.read_reply()]
    finally:
        a.close()
        b.close()


def _wait_blocked(conn):
    deadline = time.monotonic() + WAIT
    while b"blocked_clients:1" not in conn.command("INFO", "clients"):
        assert time.monotonic() < deadline, "the client never blocked"
        time.sleep(0.01)


# -- expiry and flushes ---------------------------------------------------------------------

def test_lazy_expiry_invalidates(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["MULTI"]),
        ("a", ["MSET", "x", "1", "y", "2"]),
        ("a", ["PEXPIRE", "y", "50"]),
        ("a", ["GET", "y"]),
        ("a", ["EXEC"]),
        ("a", ["DEBUG", "SLEEP", "0.1"]),
        ("a", ["MGET", "x", "y"]),             # y expires while read: after the reply
        ("a", READ),
        ("a", SILENT),
        ("r", SUBSCRIBE),
        ("b", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r")]),
        ("b", ["SET", "z", "1", "PX", "50"]),
        ("b", ["GET", "z"]),
        ("b", ["DEBUG", "SLEEP", "0.1"]),
        ("c", ["EXISTS", "z"]),
        ("r", READ),
        ("a", ["DEBUG", "SET-ACTIVE-EXPIRE", "1"]),
    ]
    assert_same_play(reference, ours, steps)


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2-redirect", "resp3"])
def test_active_expiry_invalidates(reference, ours, resp3):
    results = []
    for srv in (reference, ours):
        watcher = RawConnection(srv.port, timeout=WAIT)
        tracker = RawConnection(srv.port, timeout=WAIT)
        try:
            watcher.command("FLUSHALL")
            if resp3:
                tracker.command("HELLO", "3")
                tracker.command("CLIENT", "TRACKING", "on")
                reader = tracker
            else:
                watcher.command("SUBSCRIBE", "__redis__:invalidate")
                watcher_id = _client_id(tracker, watcher, srv)
                tracker.command("CLIENT", "TRACKING", "on", "REDIRECT", str(watcher_id))
                reader = watcher
            tracker.command("SET", "soon", "1", "PX", "100")
            tracker.command("GET", "soon")
            results.append(reader.read_reply())     # the cron expires it: no command needed
        finally:
            watcher.close()
            tracker.close()
    assert results[1] == results[0]


def _client_id(asker, target, srv):
    for line in asker.command("CLIENT", "LIST").split(b"\n"):
        if b" sub=1 " in line:
            return int(line.split(b"id=")[1].split(b" ")[0])
    raise AssertionError("no subscriber listed")


def test_flushes_send_a_null(reference, ours):
    steps = [
        ("r", SUBSCRIBE),
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r")]),
        ("c", HELLO3),
        ("c", ["CLIENT", "TRACKING", "on"]),
        ("d", HELLO3),
        ("d", ["CLIENT", "TRACKING", "on", "BCAST"]),
        ("a", ["GET", "f1"]),
        ("b", ["FLUSHALL"]),
        ("r", READ),
        ("c", READ),
        ("d", READ),
        ("b", ["FLUSHDB", "ASYNC"]),           # to every tracking client, keys or not
        ("r", READ),
        ("c", READ),
        ("d", READ),
        ("c", ["MULTI"]),
        ("c", ["FLUSHDB"]),
        ("c", ["EXEC"]),
        ("c", READ),                           # after the EXEC reply
        ("r", READ),
        ("d", READ),
        ("c", SILENT),
        ("d", SILENT),
    ]
    assert_same_play(reference, ours, steps)


# -- a redirect that goes away -------------------------------------------------------------

def test_broken_redirect(reference, ours):
    results = []
    for srv in (reference, ours):
        a = RawConnection(srv.port, timeout=WAIT)
        target = RawConnection(srv.port, timeout=WAIT)
        try:
            a.command("FLUSHALL")
            a.command("HELLO", "3")
            target_id = int(target.command("CLIENT", "ID")[1:-2])
            steps = [a.command("CLIENT", "TRACKING", "on", "REDIRECT", str(target_id)),
                     a.command("GET", "gone")]
            target.close()
            _wait_clients(a, 1)
            steps.append(a.command("SET", "gone", "1"))
            steps.append(a.read_reply())
            info = a.command("CLIENT", "TRACKINGINFO")
            steps.append(info.replace(b":%d\r\n" % target_id, b":<target>\r\n"))
            listed = a.command("CLIENT", "INFO")
            steps.append(listed.split(b" flags=")[1].split(b" ")[0])
            steps.append(b"redir=%d" % target_id in listed)
            a.send(encode_command(["CLIENT", "REPLY", "OFF"]))    # pushes are never silenced
            a.send(encode_command(["GET", "gone"]))
            a.send(encode_command(["SET", "gone", "2"]))
            steps.append(a.read_reply())
            a.send(encode_command(["CLIENT", "REPLY", "ON"]))
            steps.append(a.read_reply())
        finally:
            a.close()
        results.append([step.replace(b":%d\r\n" % target_id, b":<target>\r\n")
                        if isinstance(step, bytes) else step for step in steps])
    assert results[1] == results[0]


def _wait_clients(conn, count):
    deadline = time.monotonic() + WAIT
    while b"connected_clients:%d\r\n" % count not in conn.command("INFO", "clients"):
        assert time.monotonic() < deadline, "the redirect target never went away"
        time.sleep(0.01)


def test_client_reply_off_keeps_invalidations(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["SET", "q", "1"]),
        ("a", ["GET", "q"]),
        ("a", (SEND, ["CLIENT", "REPLY", "OFF"])),
        ("b", ["SET", "q", "2"]),
        ("a", READ),
        ("a", (SEND, ["GET", "q"])),
        ("a", (SEND, ["SET", "q", "3"])),       # its own write: still pushed
        ("a", READ),
        ("a", ["CLIENT", "REPLY", "ON"]),
    ]
    assert_same_play(reference, ours, steps)


# -- the table's size, INFO, CLIENT LIST ------------------------------------------------------

def test_info_and_client_list_fields(reference, ours):
    results = []
    for srv in (reference, ours):
        a = RawConnection(srv.port, timeout=WAIT)
        b = RawConnection(srv.port, timeout=WAIT)
        r = RawConnection(srv.port, timeout=WAIT)
        try:
            a.command("FLUSHALL")
            r.command("SUBSCRIBE", "__redis__:invalidate")
            before = _info_fields(a)
            r_id = _client_id(a, r, srv)
            a.command("CLIENT", "TRACKING", "on", "REDIRECT", str(r_id))
            a.command("MGET", "i1", "i2", "i3")
            b.command("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p1", "PREFIX", "p2")
            b.command("GET", "i1")             # BCAST remembers nothing
            during = _info_fields(a)
            flags_a = a.command("CLIENT", "INFO").split(b" flags=")[1].split(b" ")[0]
            flags_b = b.command("CLIENT", "INFO").split(b" flags=")[1].split(b" ")[0]
            a.command("CLIENT", "TRACKING", "off")
            b.command("CLIENT", "TRACKING", "off")
            after = _info_fields(a)            # ids stay until their keys change
            b.command("DEL", "i1", "i2")       # dropped, with no message to a client not tracking
            later = _info_fields(a)
            results.append((before, during, flags_a, flags_b, after, later))
        finally:
            for conn in (a, b, r):
                conn.close()
    assert results[1] == results[0]


def _info_fields(conn):
    info = conn.command("INFO", "everything")
    fields = {}
    for line in info.split(b"\r\n"):
        if line.startswith(b"tracking_"):
            name, _, value = line.partition(b":")
            fields[name] = value
    return fields


def test_tracking_table_max_keys_evicts_with_invalidations(ours):
    watcher = RawConnection(ours.port, timeout=WAIT)
    tracker = RawConnection(ours.port, timeout=WAIT)
    try:
        watcher.command("FLUSHALL")
        watcher.command("SUBSCRIBE", "__redis__:invalidate")
        watcher_id = _client_id(tracker, watcher, ours)
        tracker.command("CLIENT", "TRACKING", "on", "REDIRECT", str(watcher_id))
        keys = ["m%d" % i for i in range(250)]
        tracker.command("MGET", *keys)
        assert b"tracking_total_keys:250\r\n" in tracker.command("INFO", "stats")
        tracker.command("CONFIG", "SET", "tracking-table-max-keys", "1")
        invalidated = set()
        for _ in range(249):                   # more than one run's effort (100) is needed
            reply = watcher.read_reply()
            assert reply.startswith(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n")
            invalidated.add(reply.rsplit(b"\r\n", 2)[-2])
        assert len(invalidated) == 249
        watcher.send(encode_command(["PING"]))
        assert watcher.read_reply() == RESP2_PONG     # exactly the keys over the limit
        assert b"tracking_total_keys:1\r\n" in tracker.command("INFO", "stats")
    finally:
        tracker.command("CONFIG", "SET", "tracking-table-max-keys", "1000000")
        watcher.close()
        tracker.close()


def test_reset_and_disconnect_end_tracking(ours):
    a = RawConnection(ours.port, timeout=WAIT)
    b = RawConnection(ours.port, timeout=WAIT)
    try:
        a.command("CLIENT", "TRACKING", "on", "BCAST")
        b.command("CLIENT", "TRACKING", "on")
        stats = b.command("INFO", "everything")
        assert b"tracking_clients:2\r\n" in stats and b"tracking_total_prefixes:1\r\n" in stats
        assert a.command("RESET") == b"+RESET\r\n"
        assert a.command("CLIENT", "TRACKINGINFO") == (
            b"*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n"
            b"$8\r\nprefixes\r\n*0\r\n")
        b.close()
        deadline = time.monotonic() + WAIT
        while b"tracking_clients:0\r\n" not in a.command("INFO", "clients"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert b"tracking_total_prefixes:0\r\n" in a.command("INFO", "stats")
    finally:
        a.close()


def test_turning_on_again_keeps_a_caching_promise(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", ID("a")]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN"]),
        ("a", ["CLIENT", "TRACKINGINFO"]),
        ("a", ["GET", "promised"]),
        ("b", ["SET", "promised", "1"]),
        ("a", READ),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", "0"]),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN", "REDIRECT", "+5"]),
        ("a", ["CLIENT", "TRACKING", "on", "NOLOOP", "REDIRECT", ID("a")]),   # to itself
        ("a", ["GET", "promised"]),
        ("b", ["SET", "promised", "2"]),
        ("a", READ),
        ("a", ["CLIENT", "TRACKINGINFO"]),
    ]
    assert_same_play(reference, ours, steps)


def test_reads_with_bad_key_counts(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on"]),
        ("a", ["ZUNION", "abc", "z1"]),
        ("a", ["ZUNION", "5", "z1"]),
        ("a", ["SINTERCARD", "-1", "s1"]),
        ("a", ["ZDIFF", "0", "z1"]),
        ("a", ["ZINTERCARD", "2", "z1", "z2"]),
        ("a", ["SORT_RO", "l1", "BY", "nosort"]),
        ("a", ["GET", "k", "extra"]),
        ("b", ["MSET", "z1", "1", "z2", "2", "s1", "3", "l1", "4", "k", "5"]),
        ("a", READ), ("a", READ), ("a", READ),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)


def test_flush_null_follows_the_tracking_clients_protocol(reference, ours):
    steps = [
        ("r2", SUBSCRIBE),
        ("r3", HELLO3),
        ("a", HELLO3),                                         # RESP3 into a RESP2 subscriber
        ("a", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r2")]),
        ("b", ["CLIENT", "TRACKING", "on", "REDIRECT", ID("r3")]),   # RESP2 into a RESP3 one
        ("c", ["FLUSHALL"]),
        ("r2", READ),
        ("r3", READ),
        ("r2", SILENT),
        ("r3", SILENT),
    ]
    assert_same_play(reference, ours, steps)


@pytest.mark.parametrize("diskless", ["disabled", "swapdb"])
def test_full_sync_of_a_replica_invalidates_everything(reference, start_server, diskless):
    """A replica's data replaced by its master's: every tracking client there gets the
    null, as after FLUSHALL (checked against redis-server as the replica too)."""
    master = start_server("--repl-diskless-sync-delay", "0")
    results = []
    for replica in (reference, start_server("--repl-diskless-load", diskless)):
        tracker = RawConnection(replica.port, timeout=WAIT)
        admin = RawConnection(replica.port, timeout=WAIT)
        try:
            if replica is reference:
                admin.command("CONFIG", "SET", "repl-diskless-load", diskless)
            tracker.command("HELLO", "3")
            tracker.command("CLIENT", "TRACKING", "on")
            tracker.command("GET", "k")
            admin.command("REPLICAOF", "127.0.0.1", str(master.port))
            results.append(tracker.read_reply())
            admin.command("REPLICAOF", "NO", "ONE")
        finally:
            tracker.close()
            admin.close()
    assert results[0] == b">2\r\n$10\r\ninvalidate\r\n_\r\n"
    assert results[1] == results[0]


def test_caching_promise_ends_with_a_refused_command(reference, ours):
    steps = [
        ("a", HELLO3),
        ("a", ["CLIENT", "TRACKING", "on", "OPTIN"]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["GET"]),                        # refused: the promise is spent all the same
        ("a", ["GET", "p1"]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["MULTI"]),
        ("a", ["GET"]),                        # refused inside MULTI: kept for the EXEC
        ("a", ["GET", "p2"]),
        ("a", ["EXEC"]),
        ("a", ["CLIENT", "CACHING", "yes"]),
        ("a", ["NOSUCHCOMMAND"]),
        ("a", ["GET", "p3"]),
        ("b", ["MSET", "p1", "1", "p2", "2", "p3", "3"]),
        ("a", ["PING"]),
        ("a", SILENT),
    ]
    assert_same_play(reference, ours, steps)

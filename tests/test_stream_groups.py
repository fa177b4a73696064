"""Stream consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO,
compared byte for byte with Debian's redis-server 7.0 (RESP2 and RESP3, errors included),
a seeded random sequence of stream and group commands across several consumers, what
propagates to the AOF, keyspace events, and XREADGROUP BLOCK with real clients."""
import random
import re
import time

import pytest

from harness import RawConnection, ServerProcess, encode_command, read_aof, wait_blocked
from differential import run_script, pure_server  # noqa: F401  (fixture)


@pytest.fixture(params=["native", "pure"])
def ours(request):
    return request.getfixturevalue(request.param + "_server")


# -- comparing replies that carry clock readings ---------------------------------------------

# Idle times, delivery times and seen times depend on the moment each server ran the command:
# they are masked (the rest of the reply, its shape included, must be the same bytes).
_TIMED_ROW_4 = re.compile(rb"(\*4\r\n\$\d+\r\n\d+-\d+\r\n\$\d+\r\n[^\r\n]*\r\n:)\d+")
_TIMED_ROW_3 = re.compile(rb"(\*3\r\n\$\d+\r\n\d+-\d+\r\n:)\d+")
_TIMED_FIELD = re.compile(rb"(\$(?:4\r\nidle|9\r\nseen-time)\r\n:)\d+")


def masked(step, reply):
    name = " ".join(part if isinstance(part, str) else part.decode() for part in step[:2]).upper()
    if name.startswith(("XPENDING", "XINFO")):
        reply = _TIMED_ROW_4.sub(rb"\1T", reply)
        reply = _TIMED_ROW_3.sub(rb"\1T", reply)
        reply = _TIMED_FIELD.sub(rb"\1T", reply)
    return reply


def assert_same(reference, ours, script, resp3=False):
    expected = run_script(reference.port, script, resp3)
    actual = run_script(ours.port, script, resp3)
    for step, want, got in zip(script, expected, actual):
        assert masked(step, got) == masked(step, want), \
            "command %r: redis replied %r, we replied %r" % (step, want, got)


def steps(text):
    return [line.split() for line in text.strip().splitlines() if line.strip()]


GROUPS_SCRIPT = steps("""
XADD s 1-1 a 1
XADD s 1-2 b 2
XADD s 2-0 c 3
XGROUP CREATE s g 0
XGROUP CREATE s g 0
XGROUP CREATE nokey g 0
XGROUP CREATE nokey g $ MKSTREAM
TYPE nokey
XGROUP CREATE s g2 $ ENTRIESREAD 3
XGROUP CREATE s g3 -
XGROUP CREATE s g3 0 ENTRIESREAD -2
XGROUP CREATE s g3 0 ENTRIESREAD x
XGROUP CREATE s g3 0 FOO
XGROUP CREATE s g3 0 MKSTREAM ENTRIESREAD
XGROUP CREATE s g3 0 MKSTREAM MKSTREAM ENTRIESREAD 1
XGROUP create s g4 1-1 mkstream entriesread 1
XGROUP CREATE s g5
XGROUP SETID s nog 0
XGROUP SETID nokey2 g 0
XGROUP SETID s g2 +
XGROUP SETID s g2 1-1 ENTRIESREAD 1
XGROUP SETID s g2 1-1 ENTRIESREAD
XGROUP SETID s g2 1-1 MKSTREAM
XGROUP SETID s g2 $ ENTRIESREAD 1 ENTRIESREAD 2
XINFO GROUPS s
XREADGROUP GROUP g alice COUNT 2 STREAMS s >
XREADGROUP GROUP g bob STREAMS s >
XREADGROUP GROUP g bob STREAMS s >
XREADGROUP GROUP g alice STREAMS s 0
XREADGROUP GROUP g alice COUNT 1 STREAMS s 1-1
XREADGROUP GROUP g alice STREAMS s 18446744073709551615-18446744073709551615
XREADGROUP GROUP g alice STREAMS s $
XREADGROUP GROUP nog alice STREAMS s >
XREADGROUP GROUP g alice STREAMS s
XREADGROUP GROUP g alice STREAMS s nokey > >
XREADGROUP GROUP g alice STREAMS s s > >
XREADGROUP GROUP g alice STREAMS s +
XREADGROUP GROUP g alice COUNT x STREAMS s >
XREADGROUP GROUP g alice BLOCK -1 STREAMS s >
XREADGROUP GROUP g alice BLOCK x STREAMS s >
XREADGROUP GROUP g alice FOO STREAMS s >
XREADGROUP STREAMS s >
XREADGROUP GROUP g alice NOACK STREAMS s 0
XREAD GROUP g alice STREAMS s >
XPENDING s g
XPENDING s g - + 10
XPENDING s g - + 10 bob
XPENDING s g - + 10 nobody
XPENDING s g (1-1 + 10
XPENDING s g - (2-0 10
XPENDING s g (18446744073709551615-18446744073709551615 + 10
XPENDING s g - (0-0 10
XPENDING s g - + -1
XPENDING s g - + 0
XPENDING s g + - 10
XPENDING s g IDLE 0 - + 10
XPENDING s g IDLE 3600000 - + 10
XPENDING s g IDLE x - + 10
XPENDING s g IDLE 0 - + 10 alice extra
XPENDING s g - + 10 alice extra
XPENDING s g IDLE 0 - +
XPENDING s g - +
XPENDING s g x + 10
XPENDING s g - + x
XPENDING s nog
XPENDING nokey2 g
XINFO GROUPS s
XINFO CONSUMERS s g
XINFO CONSUMERS s nog
XDEL s 1-2
XREADGROUP GROUP g alice STREAMS s 0
XINFO GROUPS s
XACK s g 1-1 1-2 9-9
XACK s g x
XACK s g 1-1 x
XACK s nog x
XACK nokey2 g x
XPENDING s g
XINFO STREAM s
XINFO GROUPS s
XGROUP DELCONSUMER s g bob
XGROUP DELCONSUMER s g bob
XGROUP DELCONSUMER s nog bob
XGROUP CREATECONSUMER s g carol
XGROUP CREATECONSUMER s g carol
XGROUP CREATECONSUMER s nog carol
XGROUP CREATECONSUMER nokey2 g carol
XINFO CONSUMERS s g
XGROUP DESTROY s g
XGROUP DESTROY s g
XGROUP DESTROY nokey2 g
XINFO GROUPS s
XGROUP HELP
XGROUP HELP x
XINFO HELP
XINFO HELP x
XGROUP FOO
XGROUP
XINFO FOO s
XINFO STREAM s FULL COUNT
XINFO STREAM s FULL COUNT x
XINFO STREAM s FULL LIMIT 1
XINFO STREAM s FOO
XINFO STREAM nokey3
XINFO GROUPS nokey3
XINFO CONSUMERS nokey3 g
SET str x
XINFO STREAM str
XINFO GROUPS str
XGROUP CREATE str g 0
XGROUP SETID str g 0
XREADGROUP GROUP g a STREAMS str >
XPENDING str g
XACK str g 1-1
XCLAIM str g c 0 1-1
XAUTOCLAIM str g c 0 0
""")


CLAIM_SCRIPT = steps("""
XADD s 1-0 a 1
XADD s 2-0 b 2
XADD s 3-0 c 3
XADD s 4-0 d 4
XADD s 5-0 e 5
XGROUP CREATE s g 0
XREADGROUP GROUP g alice STREAMS s >
XCLAIM s g bob 0 1-0 2-0 JUSTID
XCLAIM s g bob 0 3-0 TIME 1000 RETRYCOUNT 7
XPENDING s g - + 10
XCLAIM s g bob 0 1 2 3
XCLAIM s g bob 0 9-0
XCLAIM s g bob 0 9-0 FORCE
XCLAIM s g bob 0 4-0 FORCE JUSTID LASTID 10-0
XINFO GROUPS s
XCLAIM s g bob 0 4-0 LASTID 11-0
XINFO GROUPS s
XCLAIM s g bob 0 4-0 BOGUS
XCLAIM s g bob x 4-0
XCLAIM s g bob -5 4-0 JUSTID
XCLAIM s g bob 0 4-0 IDLE x
XCLAIM s g bob 0 4-0 TIME x
XCLAIM s g bob 0 4-0 RETRYCOUNT x
XCLAIM s g bob 0 4-0 LASTID x
XCLAIM s g bob 0 4-0 LASTID +
XCLAIM s g bob 0 4-0 IDLE
XCLAIM s nog bob 0 4-0
XCLAIM nokey g bob 0 4-0
XCLAIM s g bob 0 -
XCLAIM s g bob 3600000 1-0 JUSTID
XCLAIM s g bob 0 1-0 IDLE 3600000 JUSTID
XPENDING s g IDLE 3000000 - + 10
XCLAIM s g bob 0 1-0 TIME 99999999999999 JUSTID
XDEL s 2-0
XCLAIM s g carol 0 2-0 1-0 JUSTID
XPENDING s g
XAUTOCLAIM s g dave 0 0 COUNT 2 JUSTID
XAUTOCLAIM s g dave 0 0 COUNT 2 JUSTID
XAUTOCLAIM s g dave 0 3-0 JUSTID
XAUTOCLAIM s g dave 0 (1-0 COUNT 1 JUSTID
XAUTOCLAIM s g dave 0 0 COUNT 1
XDEL s 4-0 5-0
XAUTOCLAIM s g erin 0 0 JUSTID
XAUTOCLAIM s g erin 0 0 COUNT 0
XAUTOCLAIM s g erin 0 0 COUNT 1000000000000000000
XAUTOCLAIM s g erin 0 0 COUNT 576460752303423487
XAUTOCLAIM s g erin 0 0 COUNT
XAUTOCLAIM s g erin 0 0 FOO
XAUTOCLAIM s g erin x 0
XAUTOCLAIM s g erin 0 x
XAUTOCLAIM s nog erin 0 0
XAUTOCLAIM nokey g erin 0 0
XAUTOCLAIM s g erin 0 (18446744073709551615-18446744073709551615
XPENDING s g
XADD s 6-0 f 6
XREADGROUP GROUP g frank COUNT 10 STREAMS s >
XAUTOCLAIM s g erin 0 0 COUNT 1
XAUTOCLAIM s g erin 3600000 0 COUNT 1
XAUTOCLAIM s g erin 0 - COUNT 1
XINFO STREAM s
XINFO STREAM s FULL
XINFO CONSUMERS s g
XGROUP SETID s g 0
XREADGROUP GROUP g gina NOACK STREAMS s >
XPENDING s g
XINFO GROUPS s
XINFO STREAM s FULL COUNT 1
XINFO STREAM s FULL COUNT 0
XINFO STREAM s FULL COUNT -3
""")


LAG_SCRIPT = steps("""
XINFO GROUPS s
XGROUP CREATE s g $ MKSTREAM
XINFO GROUPS s
XADD s 1-0 a 1
XADD s 2-0 a 2
XADD s 3-0 a 3
XADD s 4-0 a 4
XADD s 5-0 a 5
XGROUP CREATE s mid 3-0
XGROUP CREATE s first 1-0
XGROUP CREATE s before 0-1
XGROUP CREATE s after 9-0
XGROUP CREATE s known 2-0 ENTRIESREAD 2
XINFO GROUPS s
XREADGROUP GROUP g c COUNT 2 STREAMS s >
XREADGROUP GROUP mid c COUNT 1 STREAMS s >
XINFO GROUPS s
XDEL s 4-0
XINFO GROUPS s
XREADGROUP GROUP g c STREAMS s >
XINFO GROUPS s
XDEL s 1-0
XTRIM s MAXLEN 1
XINFO GROUPS s
XINFO STREAM s
XADD s 6-0 a 6
XGROUP SETID s mid 5-0
XINFO GROUPS s
XSETID s 6-0 ENTRIESADDED 9 MAXDELETEDID 5-0
XINFO GROUPS s
XDEL s 5-0 6-0
XINFO GROUPS s
XINFO STREAM s FULL
""")


EDGES_SCRIPT = [line.split() for line in """
XADD s 1-0 a 1
XADD s 2-0 a 2
XGROUP CREATE s g 0 ENTRIESREAD 100
XINFO GROUPS s
XGROUP CREATE s g2 5-0
XINFO GROUPS s
XGROUP SETID s g2 0-5 ENTRIESREAD 0
XREADGROUP GROUP g2 c STREAMS s >
XINFO GROUPS s
XGROUP CREATE s g3 1-0 ENTRIESREAD 9223372036854775807
XREADGROUP GROUP g3 c STREAMS s >
XINFO GROUPS s
XGROUP CREATE s g4 1-0 ENTRIESREAD 9223372036854775808
XCLAIM s g c 0 1-0 FORCE RETRYCOUNT -5 JUSTID
XCLAIM s g c 0 2-0 FORCE RETRYCOUNT 9223372036854775807 TIME -1
XPENDING s g - + 10 c
XCLAIM s g c 0 1-0 2-0 IDLE -100 JUSTID
XREADGROUP GROUP g c COUNT -5 STREAMS s 0
XREADGROUP GROUP g c COUNT 0 STREAMS s 0-0
XREADGROUP GROUP g c BLOCK 0 COUNT 1 STREAMS s 1
XINFO STREAM s FULL COUNT 1
XPENDING s g - + 9223372036854775807
XPENDING s g - + 9223372036854775808
""".strip().splitlines()] + [
    ["XREADGROUP", "GROUP", "g", "", "STREAMS", "s", ">"],
    ["XINFO", "CONSUMERS", "s", "g"],
    ["XGROUP", "CREATECONSUMER", "s", "g", ""],
    ["XGROUP", "DELCONSUMER", "s", "g", ""],
    ["XADD", "s", "3-0", "", ""],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"],
    ["XGROUP", "CREATE", "s", "g\0x", "0"],
    ["XREADGROUP", "GROUP", "g\0x", "c", "STREAMS", "s", ">"],
    ["XPENDING", "s", "g\0y"],
    ["XINFO", "GROUPS", "s"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
@pytest.mark.parametrize("script", [GROUPS_SCRIPT, CLAIM_SCRIPT, LAG_SCRIPT, EDGES_SCRIPT],
                         ids=["groups", "claims", "lag", "edges"])
def test_group_commands_reply_as_redis(reference, ours, script, resp3):
    assert_same(reference, ours, script, resp3)


def test_xinfo_stream_radix_tree_as_redis(reference, ours):
    """radix-tree-keys and -nodes follow Redis's rax over the node IDs, through trims too."""
    rng = random.Random(11)
    script = [["CONFIG", "SET", "stream-node-max-entries", "3"]]
    ms = 1
    for i in range(400):
        ms += rng.choice([1, 1, 7, 300, 70000, 2**33])
        script.append(["XADD", "s", "%d-%d" % (ms, rng.randint(0, 2)), "f", str(i)])
    script.append(["XINFO", "STREAM", "s"])
    script += [["XDEL", "s", step[2]] for step in script[1:200:3]]
    script += [["XINFO", "STREAM", "s"], ["XTRIM", "s", "MAXLEN", "150"],
               ["XINFO", "STREAM", "s"], ["XTRIM", "s", "MAXLEN", "2"],
               ["XINFO", "STREAM", "s", "FULL"],
               ["CONFIG", "SET", "stream-node-max-entries", "100"]]
    assert_same(reference, ours, script)


def test_readgroup_reads_several_streams_and_keeps_counts(reference, ours):
    script = steps("""
    XADD a 1-0 f 1
    XADD a 2-0 f 2
    XADD b 1-0 f 1
    XGROUP CREATE a g 0
    XGROUP CREATE b g 0
    XREADGROUP GROUP g c COUNT 1 STREAMS a b > >
    XREADGROUP GROUP g c STREAMS a b > >
    XREADGROUP GROUP g c STREAMS a b > >
    XREADGROUP GROUP g c STREAMS a b 0 0
    XREADGROUP GROUP g c STREAMS a b 0 >
    XREADGROUP GROUP g c COUNT 0 STREAMS a a 0 0
    XPENDING a g
    XPENDING b g
    """)
    assert_same(reference, ours, script)
    assert_same(reference, ours, script, resp3=True)


# -- a seeded random sequence across consumers ------------------------------------------------

def random_sequence(seed, length=600):
    """Stream and group commands whose replies hold no clock reading (IDLE 0, JUSTID)."""
    rng = random.Random(seed)
    consumers = ["alice", "bob", "carol", "dave"]
    groups = ["g1", "g2"]
    script = [["XGROUP", "CREATE", "s", "g1", "$", "MKSTREAM"],
              ["XGROUP", "CREATE", "s", "g2", "0"]]
    next_ms = 1
    added = []
    for _ in range(length):
        op = rng.random()
        group = rng.choice(groups)
        consumer = rng.choice(consumers)
        if op < 0.25:
            next_ms += rng.randint(1, 3)
            entry = "%d-%d" % (next_ms, rng.randint(0, 1))
            added.append(entry)
            script.append(["XADD", "s", entry, "f", str(next_ms), "g", "x" * rng.randint(0, 3)])
        elif op < 0.32 and added:
            script.append(["XDEL", "s"] + rng.sample(added, min(len(added), rng.randint(1, 3))))
        elif op < 0.35:
            script.append(["XTRIM", "s", "MAXLEN", rng.choice(["=", "~"]),
                           str(rng.randint(5, 40))])
        elif op < 0.50:
            args = ["XREADGROUP", "GROUP", group, consumer]
            if rng.random() < 0.7:
                args += ["COUNT", str(rng.randint(1, 6))]
            if rng.random() < 0.1:
                args.append("NOACK")
            start = ">" if rng.random() < 0.75 else rng.choice(["0", "0-0"] + added[-5:])
            script.append(args + ["STREAMS", "s", start])
        elif op < 0.62 and added:
            script.append(["XACK", "s", group] + rng.sample(added, min(len(added), 3)))
        elif op < 0.72 and added:
            ids = rng.sample(added, min(len(added), rng.randint(1, 4)))
            extra = rng.choice([[], ["FORCE"], ["RETRYCOUNT", "3"], ["LASTID", added[-1]]])
            script.append(["XCLAIM", "s", group, consumer, "0"] + ids + extra
                          + rng.choice([["JUSTID"], []]))
        elif op < 0.80:
            start = rng.choice(["0", "-"] + added[-8:])
            script.append(["XAUTOCLAIM", "s", group, consumer, "0", start, "COUNT",
                           str(rng.randint(1, 5))] + rng.choice([["JUSTID"], []]))
        elif op < 0.88:
            script.append(["XPENDING", "s", group])
        elif op < 0.92:
            script.append(["XPENDING", "s", group, "-", "+", "50", consumer])
        elif op < 0.94:
            script.append(["XINFO", "GROUPS", "s"])
        elif op < 0.96:
            script.append(["XINFO", "STREAM", "s"])
        elif op < 0.98 and added:
            script.append(["XGROUP", "SETID", "s", group, rng.choice(added + ["0", "$"])])
        else:
            script.append(["XGROUP", "DELCONSUMER", "s", group, consumer])
    script += [["XINFO", "STREAM", "s", "FULL", "COUNT", "0"], ["XINFO", "CONSUMERS", "s", "g1"],
               ["XINFO", "CONSUMERS", "s", "g2"]]
    return script


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_group_sequence_replies_as_redis(reference, ours, seed):
    assert_same(reference, ours, random_sequence(seed), resp3=seed == 2)


# -- propagation -----------------------------------------------------------------------------

_TIME_ARG = re.compile(rb"(\$4\r\nTIME\r\n\$\d+\r\n)\d+")


def aof_commands(srv, marker):
    """The commands of the AOF after the marker SET, TIME values masked."""
    text = read_aof(srv, marker.encode())
    assert text is not None
    text = text[text.index(marker.encode()):]
    return _TIME_ARG.sub(rb"\1T", text)


PROPAGATED_SCRIPT = steps("""
XADD s 1-0 a 1
XADD s 2-0 b 2
XADD s 3-0 c 3
XGROUP CREATE s g 0
XGROUP CREATE s g2 $ ENTRIESREAD 3
XREADGROUP GROUP g alice COUNT 2 STREAMS s >
XREADGROUP GROUP g bob NOACK STREAMS s >
XREADGROUP GROUP g alice STREAMS s 0
XREADGROUP GROUP g2 carol NOACK STREAMS s >
XADD s 4-0 d 4
XREADGROUP GROUP g2 carol NOACK STREAMS s >
XCLAIM s g dave 0 1-0 2 JUSTID
XCLAIM s g dave 0 1-0 LASTID 9-0
XCLAIM s g dave 0 7-0 LASTID 10-0
XDEL s 2-0
XAUTOCLAIM s g erin 0 0 COUNT 5
XACK s g 1-0
XGROUP CREATECONSUMER s g frank
XGROUP DELCONSUMER s g frank
XGROUP SETID s g 0 ENTRIESREAD 0
XREADGROUP GROUP g gina STREAMS s >
XGROUP DESTROY s g2
XACK s g 9-9
""")


def test_group_commands_propagate_as_redis(tmp_path):
    """XREADGROUP, XCLAIM and XAUTOCLAIM reach the AOF as Redis writes them: XCLAIM ... FORCE
    JUSTID LASTID per entry, XGROUP SETID / CREATECONSUMER where no claim carries the change,
    several effects wrapped in MULTI/EXEC."""
    args = ["--appendonly", "yes", "--appendfsync", "always"]
    reference = ServerProcess(args, reference=True)
    ours = ServerProcess(args)
    try:
        for srv in (reference, ours):
            conn = RawConnection(srv.port)
            conn.command("SET", "marker", "1")
            for step in PROPAGATED_SCRIPT:
                conn.send(encode_command(step))
                conn.read_reply()
            conn.command("SET", "end", "1")
            conn.close()
        want = aof_commands(reference, "marker")
        got = aof_commands(ours, "marker")
        for srv, text in ((reference, want), (ours, got)):
            assert b"end" in text, srv
        assert got == want
    finally:
        reference.stop()
        ours.stop()


def test_replaying_the_aof_rebuilds_the_groups_as_redis(tmp_path):
    """Restarted from its AOF, each server holds the same PELs, consumers and group counters
    as Redis restarted from its own (XCLAIM's LASTID leaves entries-read alone, in both)."""
    states = []
    for reference in (True, False):
        where = tmp_path / ("reference" if reference else "ours")
        where.mkdir()
        srv = ServerProcess(["--appendonly", "yes"], reference=reference, dir=where)
        try:
            conn = srv.raw()
            for step in PROPAGATED_SCRIPT:
                conn.send(encode_command(step))
                conn.read_reply()
            before = conn.command("XPENDING", "s", "g", "-", "+", "10")
            conn.close()
        finally:
            srv.stop()
        srv = ServerProcess(["--appendonly", "yes"], reference=reference, dir=where)
        try:
            conn = srv.raw()
            after = [conn.command("XPENDING", "s", "g", "-", "+", "10"),
                     conn.command("XINFO", "GROUPS", "s"),
                     conn.command("XINFO", "CONSUMERS", "s", "g"),
                     conn.command("XRANGE", "s", "-", "+")]
            conn.close()
        finally:
            srv.stop()
        assert masked(["XPENDING"], after[0]) == masked(["XPENDING"], before)
        states.append([masked(["XINFO"], reply) for reply in after])
    assert states[1] == states[0]


# -- keyspace events -------------------------------------------------------------------------

def events_of(srv, script):
    sub = RawConnection(srv.port)
    conn = RawConnection(srv.port)
    try:
        conn.command("FLUSHALL")
        conn.command("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.command("PSUBSCRIBE", "__keyevent@0__:*")
        for step in script:
            conn.send(encode_command(step))
            conn.read_reply()
        conn.command("PUBLISH", "__keyevent@0__:done", "x")
        messages = []
        while True:
            message = sub.read_reply()
            messages.append(message)
            if b"done" in message:
                return messages
    finally:
        conn.command("CONFIG", "SET", "notify-keyspace-events", "")
        sub.close()
        conn.close()


def test_group_keyspace_events_as_redis(reference, ours):
    script = steps("""
    XGROUP CREATE s g $ MKSTREAM
    XADD s 1-0 a 1
    XGROUP CREATECONSUMER s g c
    XREADGROUP GROUP g d STREAMS s >
    XGROUP SETID s g 0
    XCLAIM s g e 0 1-0
    XAUTOCLAIM s g f 0 0
    XGROUP DELCONSUMER s g c
    XGROUP DESTROY s g
    """)
    assert events_of(ours, script) == events_of(reference, script)


# -- XREADGROUP BLOCK -------------------------------------------------------------------------

def blocked_read(port, *args):
    conn = RawConnection(port)
    conn.send(encode_command(["XREADGROUP", "GROUP"] + list(args)))
    return conn


def prepare(srv):
    conn = RawConnection(srv.port)
    conn.command("FLUSHALL")
    conn.command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    return conn


def both(reference, ours, scenario):
    """Run scenario(srv) on each server: it returns the raw replies to compare."""
    return scenario(reference), scenario(ours)


def test_blocked_readers_are_served_in_arrival_order(reference, ours):
    def scenario(srv):
        conn = prepare(srv)
        first = blocked_read(srv.port, "g", "alice", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(conn, 1)
        second = blocked_read(srv.port, "g", "bob", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(conn, 2)
        conn.command("XADD", "s", "1-0", "f", "v")
        one = first.read_reply()
        wait_blocked(conn, 1)
        conn.command("XADD", "s", "2-0", "f", "w")
        two = second.read_reply()
        pending = conn.command("XPENDING", "s", "g")
        for c in (first, second, conn):
            c.close()
        return one, two, pending

    want, got = both(reference, ours, scenario)
    assert got == want
    assert b"alice" in want[2] and b"bob" in want[2]


def test_blocked_reader_hears_of_destroyed_group_and_deleted_key(reference, ours):
    def scenario(srv):
        conn = prepare(srv)
        reader = blocked_read(srv.port, "g", "alice", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(conn, 1)
        conn.command("XGROUP", "DESTROY", "s", "g")
        destroyed = reader.read_reply()
        conn.command("XGROUP", "CREATE", "s", "g", "$")
        reader.send(encode_command(["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0",
                                    "STREAMS", "s", ">"]))
        wait_blocked(conn, 1)
        conn.command("DEL", "s")
        deleted = reader.read_reply()
        conn.command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        reader.send(encode_command(["XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0",
                                    "STREAMS", "s", ">"]))
        wait_blocked(conn, 1)
        conn.command("SET", "s", "string")
        overwritten = reader.read_reply()
        reader.close()
        conn.close()
        return destroyed, deleted, overwritten

    want, got = both(reference, ours, scenario)
    assert got == want
    assert want[0].startswith(b"-NOGROUP") and want[1].startswith(b"-UNBLOCKED")


def test_only_new_entries_block(reference, ours):
    """A history read answers at once; `>` waits and times out with a nil; an XADD that an
    XDEL undoes in the same transaction still serves the waiting reader, with no entries, as
    Redis does; inside MULTI, BLOCK answers at once."""
    def scenario(srv):
        conn = prepare(srv)
        history = conn.command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0")
        started = time.monotonic()
        timed_out = conn.command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "150",
                                 "STREAMS", "s", ">")
        waited = time.monotonic() - started
        reader = blocked_read(srv.port, "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
        wait_blocked(conn, 1)
        conn.send(encode_command(["MULTI"]) + encode_command(["XADD", "s", "1-0", "f", "v"])
                  + encode_command(["XDEL", "s", "1-0"]) + encode_command(["EXEC"]))
        for _ in range(4):
            conn.read_reply()
        emptied = reader.read_reply()
        in_multi = [conn.command("MULTI"),
                    conn.command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s",
                                 ">"),
                    conn.command("EXEC")]
        reader.close()
        conn.close()
        return history, timed_out, waited >= 0.14, emptied, in_multi

    want, got = both(reference, ours, scenario)
    assert got == want


def test_blocked_noack_read_propagates_consumer_and_last_id(tmp_path):
    """A blocked reader served later propagates what a direct read would have."""
    args = ["--appendonly", "yes", "--appendfsync", "always"]
    results = []
    for reference in (True, False):
        srv = ServerProcess(args, reference=reference)
        try:
            conn = prepare(srv)
            conn.command("SET", "marker", "1")
            readers = [blocked_read(srv.port, "g", "alice", "BLOCK", "0", "STREAMS", "s", ">"),
                       blocked_read(srv.port, "g", "bob", "NOACK", "BLOCK", "0", "STREAMS",
                                    "s", ">")]
            wait_blocked(conn, 2)
            conn.command("XADD", "s", "1-0", "f", "v")
            conn.command("XADD", "s", "2-0", "f", "v")
            replies = [reader.read_reply() for reader in readers]
            conn.command("SET", "end", "1")
            results.append((replies, aof_commands(srv, "marker")))
            for c in readers + [conn]:
                c.close()
        finally:
            srv.stop()
    assert results[1] == results[0]


def test_xreadgroup_block_is_refused_in_scripts(reference, ours):
    script = [["EVAL", "return redis.call('xreadgroup','group','g','c','block','0','streams',"
                       "'s','>')", "0"],
              ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
              ["EVAL", "return redis.call('XREADGROUP','GROUP','g','c','STREAMS','s','>')", "0"]]
    assert_same(reference, ours, script)


# -- counters --------------------------------------------------------------------------------

def counters_after_each(port, script):
    """(changes since the first command, keyspace hits, misses) after each command."""
    conn = RawConnection(port)
    try:
        conn.command("FLUSHALL")
        conn.command("CONFIG", "RESETSTAT")
        out = []
        first = None
        for step in script:
            conn.send(encode_command(step))
            conn.read_reply()
            dirty = int(re.search(rb"rdb_changes_since_last_save:(\d+)",
                                  conn.command("INFO", "persistence")).group(1))
            stats = conn.command("INFO", "stats")
            first = dirty if first is None else first
            out.append((dirty - first,
                        int(re.search(rb"keyspace_hits:(\d+)", stats).group(1)),
                        int(re.search(rb"keyspace_misses:(\d+)", stats).group(1))))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("script", [GROUPS_SCRIPT, CLAIM_SCRIPT], ids=["groups", "claims"])
def test_changes_and_keyspace_hits_counted_as_redis(reference, ours, script):
    want = counters_after_each(reference.port, script)
    got = counters_after_each(ours.port, script)
    assert [(step, counted) for step, counted in zip(script, got)] == \
        [(step, counted) for step, counted in zip(script, want)]


# -- replicas --------------------------------------------------------------------------------

_PEL_ROW = re.compile(rb"\*4\r\n\$\d+\r\n\d+-\d+\r\n\$\d+\r\n[^\r\n]*\r\n:\d+\r\n:\d+\r\n")


def group_state(srv):
    """XINFO STREAM FULL, XINFO GROUPS, XINFO CONSUMERS and XPENDING of the test stream."""
    conn = RawConnection(srv.port)
    try:
        return [conn.command("XINFO", "STREAM", "s", "FULL"),
                conn.command("XINFO", "GROUPS", "s"),
                conn.command("XINFO", "CONSUMERS", "s", "g"),
                conn.command("XPENDING", "s", "g", "-", "+", "100")]
    finally:
        conn.close()


def replicated_groups(start_server, master_is_reference, replica_kinds):
    """Replicas attached to an empty master, then group commands on the master (a blocked
    NOACK reader among them): the master's state and each replica's once in step."""
    from test_replication import start_ours, start_redis, replica_of, wait_link_up, \
        wait_in_step
    master = (start_redis if master_is_reference else start_ours)(start_server)
    replicas = [(start_redis if reference else start_ours)(start_server, *replica_of(master))
                for reference in replica_kinds]
    for replica in replicas:
        wait_link_up(replica)
    conn = master.raw()
    for step in PROPAGATED_SCRIPT:
        conn.send(encode_command(step))
        conn.read_reply()
    conn.command("XGROUP", "CREATE", "s", "g3", "$")
    readers = [blocked_read(master.port, "g3", "late", "NOACK", "BLOCK", "0", "STREAMS", "s",
                            ">"),
               blocked_read(master.port, "g", "later", "BLOCK", "0", "STREAMS", "s", ">")]
    wait_blocked(conn, 2)
    conn.command("XADD", "s", "20-0", "f", "v")
    conn.command("XADD", "s", "21-0", "f", "v")
    conn.command("XREADGROUP", "GROUP", "g3", "early", "STREAMS", "s", ">")
    for reader in readers:
        reader.read_reply()
        reader.close()
    conn.close()
    wait_in_step(master, *replicas)
    return group_state(master), [group_state(replica) for replica in replicas]


def test_replicas_rebuild_the_groups_as_redis_replicas_do(start_server):
    """Behind our master, a redis-server replica and one of ours hold what a redis-server
    replica of a redis-server master holds after the same commands (consumers, PELs, last
    IDs, and the read counters XCLAIM's LASTID leaves behind), and the master's own PEL
    rows to the millisecond."""
    master, replicas = replicated_groups(start_server, False, [True, False])
    _, [redis_replica] = replicated_groups(start_server, True, [True])
    expected = [masked(["XINFO"], reply) for reply in redis_replica]
    for state in replicas:
        assert [masked(["XINFO"], reply) for reply in state] == expected
        assert _PEL_ROW.findall(state[0]) == _PEL_ROW.findall(master[0])
        assert _PEL_ROW.findall(state[0])


def test_blocked_readers_unblocked_moved_and_swapped_away_as_redis(reference, ours):
    """CLIENT UNBLOCK (timeout reply or error), a reader of two streams served by the second,
    BLOCK timing out, and the stream renamed or swapped away from under a reader."""
    def scenario(srv):
        conn = prepare(srv)
        out = []
        for how in ([], ["ERROR"]):
            reader = RawConnection(srv.port)
            client_id = reader.command("CLIENT", "ID")[1:-2].decode()
            reader.send(encode_command(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                                        "STREAMS", "s", ">"]))
            wait_blocked(conn, 1)
            out += [conn.command("CLIENT", "UNBLOCK", client_id, *how), reader.read_reply()]
            reader.close()
        conn.command("XGROUP", "CREATE", "t", "g", "$", "MKSTREAM")
        reader = blocked_read(srv.port, "g", "c", "COUNT", "5", "BLOCK", "0", "STREAMS", "s",
                              "t", ">", ">")
        wait_blocked(conn, 1)
        conn.command("XADD", "t", "1-0", "f", "v")
        out += [reader.read_reply(), conn.command("XINFO", "GROUPS", "t"),
                conn.command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "50", "STREAMS", "s",
                             ">")]
        reader.send(encode_command(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                                    "STREAMS", "t", ">"]))
        wait_blocked(conn, 1)
        out += [conn.command("RENAME", "t", "t2"), reader.read_reply()]
        reader.send(encode_command(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0",
                                    "STREAMS", "t2", ">"]))
        wait_blocked(conn, 1)
        conn.command("SELECT", "1")
        conn.command("FLUSHDB")
        conn.command("SELECT", "0")
        out += [conn.command("SWAPDB", "0", "1"), reader.read_reply()]
        reader.close()
        conn.close()
        return out

    want, got = both(reference, ours, scenario)
    assert got == want
    assert want[-1].startswith(b"-UNBLOCKED the stream key no longer exists")


# -- the PEL structure against a plain model ---------------------------------------------------

@pytest.mark.parametrize("chunk", [2, 4, 512])
def test_pending_list_matches_a_sorted_dict(monkeypatch, chunk):
    """Random deliveries (in order and not), acknowledgements (which leave tombstones),
    re-additions over tombstones and ordered walks of a PendingList, against a dict sorted
    on demand."""
    from server.values.streams import PendingList
    monkeypatch.setattr(PendingList, "CHUNK", chunk)
    rng = random.Random(chunk)
    for _ in range(20):
        pel, model, next_id = PendingList(), {}, 1
        for _ in range(rng.randint(1, 2000)):
            r = rng.random()
            if r < 0.3:
                pairs = [(next_id + i, object()) for i in range(rng.randint(1, 5))]
                next_id = pairs[-1][0] + 1 + rng.randint(0, 3)
                if pel.extend(pairs):
                    model.update(pairs)
                else:
                    for entry_id, pending in pairs:
                        assert pel.add(entry_id, pending) == (entry_id not in model)
                        model.setdefault(entry_id, pending)
            elif r < 0.45:
                entry_id, pending = rng.randint(1, next_id + 5), object()
                assert pel.add(entry_id, pending) == (entry_id not in model)
                model.setdefault(entry_id, pending)
                next_id = max(next_id, entry_id + 1)
            elif r < 0.85:
                entry_id = rng.randint(1, next_id)
                assert pel.remove(entry_id) is model.pop(entry_id, None)
            elif r < 0.9:
                ids = sorted(model)
                assert pel.first_id() == (ids[0] if ids else None)
                assert pel.last_id() == (ids[-1] if ids else None)
            else:
                start = rng.randint(0, next_id)
                end = rng.randint(start, next_id + 2)
                rev, count = rng.random() < 0.5, rng.choice([0, 1, 3, 10])
                ids = [i for i in sorted(model, reverse=rev) if start <= i <= end]
                ids = ids[:count] if count else ids
                assert pel.range(start, end, rev, count) == [(i, model[i]) for i in ids]
            assert len(pel) == len(model)
        assert pel.ids() == sorted(model)

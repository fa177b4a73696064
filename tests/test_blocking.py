"""Blocking list commands with several real connections, against redis-server 7.0.15.

A scenario is a list of steps played on fresh connections to one server:
a blocking command is sent and the step waits until the server reports one
more blocked client, so the order in which clients block is the same on
both servers. Every reply read is recorded with the connection's name, and
the two servers' recordings must match byte for byte. Timeouts are
measured on our server alone (Redis checks them only every 100 ms).
"""
import statistics
import time

import pytest

from harness import RawConnection, assert_silent, blocked_count, encode_command, wait_blocked

WAIT = 5.0      # seconds allowed for the server to reach an expected state


# -- playing scenarios ------------------------------------------------------------------







class Scenario:
    """Named connections to one server, and the replies they received."""

    def __init__(self, port, resp3=False):
        self.port = port
        self.resp3 = resp3
        self.conns = {}
        self.ids = {}
        self.control = RawConnection(port)
        self.control.command("FLUSHALL")
        self.replies = []

    def conn(self, name):
        if name not in self.conns:
            conn = RawConnection(self.port)
            if self.resp3:
                conn.command("HELLO", "3")
            self.ids[name] = int(conn.command("CLIENT", "ID")[1:-2])
            self.conns[name] = conn
        return self.conns[name]

    def play(self, steps):
        for step in steps:
            getattr(self, "do_" + step[0])(*step[1:])
        return self.replies

    def do_call(self, name, *args):
        self.replies.append((name, self.conn(name).command(*args)))

    def do_block(self, name, *args):
        """Send a command that must block; wait until it does."""
        conn = self.conn(name)
        before = blocked_count(self.control)
        conn.send(encode_command(args))
        wait_blocked(self.control, before + 1)

    def do_send(self, name, *args):
        self.conn(name).send(encode_command(args))

    def do_raw(self, name, data):
        self.conn(name).send(data)

    def do_read(self, name, count=1):
        for _ in range(count):
            self.replies.append((name, self.conn(name).read_reply()))

    def do_silent(self, name):
        assert_silent(self.conn(name))

    def do_close(self, name):
        before = blocked_count(self.control)
        self.conns.pop(name).close()
        wait_blocked(self.control, before - 1)

    def do_blocked(self, expected):
        wait_blocked(self.control, expected)
        self.replies.append(("blocked", expected))

    def do_unblock(self, name, target, *mode):
        self.replies.append((name, self.conn(name).command("CLIENT", "UNBLOCK",
                                                           str(self.ids[target]), *mode)))

    def close(self):
        for conn in list(self.conns.values()) + [self.control]:
            conn.close()


def play(port, steps, resp3=False):
    scenario = Scenario(port, resp3)
    try:
        return scenario.play(steps)
    finally:
        scenario.close()


def assert_same_scenario(reference, server, steps, resp3=False):
    expected = play(reference.port, steps, resp3)
    actual = play(server.port, steps, resp3)
    assert actual == expected
    return expected


def both_resps(reference, server, steps):
    assert_same_scenario(reference, server, steps)
    return assert_same_scenario(reference, server, steps, resp3=True)


def has_command(server, name):
    conn = RawConnection(server.port)
    try:
        reply = conn.command("COMMAND", "INFO", name)
        return reply.startswith(b"*1\r\n*") and not reply.startswith(b"*1\r\n*-1")
    finally:
        conn.close()


# -- order of service ---------------------------------------------------------------------

def test_clients_are_served_in_the_order_they_blocked(reference, server):
    recorded = both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"), ("block", "B", "BLPOP", "k", "0"),
        ("block", "C", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "a", "b", "c"),
        ("read", "A"), ("read", "B"), ("read", "C"),
        ("call", "D", "EXISTS", "k"), ("blocked", 0),
    ])
    served = {name: reply for name, reply in recorded if name in ("A", "B", "C")}
    assert served == {name: b"*2\r\n$1\r\nk\r\n$1\r\n%s\r\n" % element
                      for name, element in (("A", b"a"), ("B", b"b"), ("C", b"c"))}


def test_one_element_serves_one_client(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"), ("block", "B", "BRPOP", "k", "0"),
        ("block", "C", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "1"), ("read", "A"), ("blocked", 2),
        ("silent", "B"), ("silent", "C"),
        ("call", "D", "LPUSH", "k", "2", "3"), ("read", "B"), ("read", "C"), ("blocked", 0),
        ("call", "D", "EXISTS", "k"),
    ])


def test_leftover_elements_stay(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BRPOP", "k", "0"), ("block", "B", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "a", "b", "c", "d"), ("read", "A"), ("read", "B"),
        ("call", "D", "LRANGE", "k", "0", "-1"),
    ])


def test_second_key_gets_data(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k1", "k2", "k3", "0"),
        ("call", "D", "RPUSH", "k2", "v"), ("read", "A"),
        ("call", "D", "RPUSH", "k1", "w"), ("call", "D", "LRANGE", "k1", "0", "-1"),
        ("call", "D", "EXISTS", "k2"), ("blocked", 0),
    ])


def test_key_named_twice_is_served_once(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "k", "0"),
        ("call", "D", "RPUSH", "k", "a", "b"), ("read", "A"),
        ("call", "D", "LRANGE", "k", "0", "-1"),
    ])


def test_clients_blocked_on_several_keys_each(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "x", "y", "0"), ("block", "B", "BLPOP", "y", "x", "0"),
        ("block", "C", "BRPOP", "y", "0"),
        ("call", "D", "RPUSH", "y", "1", "2"), ("read", "A"), ("read", "B"), ("blocked", 1),
        ("call", "D", "RPUSH", "x", "3"), ("silent", "C"),
        ("call", "D", "LRANGE", "x", "0", "-1"), ("call", "D", "RPUSH", "y", "4"),
        ("read", "C"),
    ])


def test_blmpop_served_with_a_count(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLMPOP", "0", "2", "k1", "k2", "RIGHT", "COUNT", "2"),
        ("block", "B", "BLMPOP", "0", "1", "k2", "LEFT", "COUNT", "5"),
        ("block", "C", "BLMPOP", "0", "1", "k2", "LEFT"),
        ("call", "D", "RPUSH", "k2", "a", "b", "c"), ("read", "A"), ("read", "B"),
        ("blocked", 1), ("call", "D", "EXISTS", "k2"),
        ("call", "D", "RPUSH", "k2", "z"), ("read", "C"),
    ])


def test_other_database_does_not_serve(reference, server):
    both_resps(reference, server, [
        ("call", "A", "SELECT", "1"), ("block", "A", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "db0"), ("silent", "A"),
        ("call", "D", "SELECT", "1"), ("call", "D", "RPUSH", "k", "db1"), ("read", "A"),
        ("call", "D", "SELECT", "0"), ("call", "D", "LRANGE", "k", "0", "-1"),
    ])


def test_swapdb_brings_the_key(reference, server):
    both_resps(reference, server, [
        ("call", "A", "SELECT", "1"), ("block", "A", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "from0"), ("call", "D", "SWAPDB", "0", "1"), ("read", "A"),
        ("call", "D", "EXISTS", "k"), ("call", "D", "SELECT", "1"), ("call", "D", "EXISTS", "k"),
    ])


def test_key_of_another_type_meanwhile(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"),
        ("call", "D", "SET", "k", "string"), ("silent", "A"), ("blocked", 1),
        ("call", "D", "DEL", "k"), ("call", "D", "RPUSH", "k", "v"), ("read", "A"),
    ])


def test_keys_filled_by_rename_and_lmove(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "dst", "0"), ("block", "B", "BLPOP", "moved", "0"),
        ("call", "D", "RPUSH", "src", "x", "y"), ("call", "D", "RENAME", "src", "dst"),
        ("read", "A"), ("call", "D", "LMOVE", "dst", "moved", "LEFT", "RIGHT"), ("read", "B"),
        ("call", "D", "EXISTS", "dst", "moved"),
    ])


# -- moves ------------------------------------------------------------------------------------

def test_blmove_chain(reference, server):
    """Each BLMOVE's push wakes the next client in the chain, in the same round."""
    both_resps(reference, server, [
        ("block", "A", "BLMOVE", "k1", "k2", "LEFT", "RIGHT", "0"),
        ("block", "B", "BLMOVE", "k2", "k3", "RIGHT", "LEFT", "0"),
        ("block", "C", "BRPOPLPUSH", "k3", "k4", "0"),
        ("block", "E", "BLPOP", "k4", "0"),
        ("call", "D", "RPUSH", "k1", "x", "y"),
        ("read", "A"), ("read", "B"), ("read", "C"), ("read", "E"),
        ("call", "D", "LRANGE", "k1", "0", "-1"), ("call", "D", "EXISTS", "k2", "k3", "k4"),
        ("blocked", 0),
    ])


def test_brpoplpush_served(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BRPOPLPUSH", "src", "dst", "0"),
        ("call", "D", "RPUSH", "src", "a", "b"), ("read", "A"),
        ("call", "D", "LRANGE", "src", "0", "-1"), ("call", "D", "LRANGE", "dst", "0", "-1"),
    ])


def test_blmove_onto_its_own_source(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLMOVE", "k", "k", "LEFT", "RIGHT", "0"),
        ("block", "B", "BLPOP", "k", "0"),
        ("call", "D", "RPUSH", "k", "a"), ("read", "A"), ("read", "B"),
        ("call", "D", "EXISTS", "k"),
    ])


def test_blmove_destination_of_wrong_type_when_served(reference, server):
    """The mover gets WRONGTYPE and the element stays for the next client."""
    both_resps(reference, server, [
        ("block", "A", "BLMOVE", "src", "dst", "LEFT", "LEFT", "0"),
        ("block", "B", "BLPOP", "src", "0"),
        ("block", "C", "BLMOVE", "src", "dst", "LEFT", "LEFT", "0"),
        ("call", "D", "SET", "dst", "string"),
        ("call", "D", "RPUSH", "src", "a"), ("read", "A"), ("read", "B"), ("blocked", 1),
        ("call", "D", "RPUSH", "src", "b"), ("read", "C"), ("call", "D", "LRANGE", "src", "0", "-1"),
    ])


# -- input while blocked ----------------------------------------------------------------------

PIPELINE = (encode_command(["BLPOP", "k", "0"]) + encode_command(["PING"])
            + encode_command(["LLEN", "k"]) + encode_command(["ECHO", "after"]))


def test_pipelined_commands_wait_for_the_blocking_one(reference, server):
    both_resps(reference, server, [
        ("raw", "A", PIPELINE), ("blocked", 1), ("silent", "A"),
        ("call", "D", "RPUSH", "k", "v", "w"), ("read", "A", 4),
    ])


def test_input_sent_while_blocked_runs_after(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"),
        ("send", "A", "RPUSH", "k", "mine"), ("send", "A", "LRANGE", "k", "0", "-1"),
        ("silent", "A"), ("call", "D", "RPUSH", "k", "v"), ("read", "A", 3),
    ])


def test_clients_are_served_before_the_pushers_next_command(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"),
        ("raw", "D", encode_command(["RPUSH", "k", "a"]) + encode_command(["LLEN", "k"])),
        ("read", "D", 2), ("read", "A"),
    ])


def test_served_client_blocks_again_from_its_buffer(reference, server):
    both_resps(reference, server, [
        ("raw", "A", encode_command(["BLPOP", "k", "0"]) + encode_command(["BLPOP", "k", "0"])),
        ("blocked", 1), ("call", "D", "RPUSH", "k", "1"), ("read", "A"), ("blocked", 1),
        ("call", "D", "RPUSH", "k", "2"), ("read", "A"), ("blocked", 0),
    ])


# -- leaving early ------------------------------------------------------------------------------

def test_disconnected_client_is_forgotten(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"), ("block", "B", "BLPOP", "k", "0"),
        ("close", "A"), ("blocked", 1),
        ("call", "D", "RPUSH", "k", "v"), ("read", "B"), ("blocked", 0),
        ("call", "D", "EXISTS", "k"),
    ])


def test_client_unblock(reference, server):
    both_resps(reference, server, [
        ("raw", "A", encode_command(["BLPOP", "k", "0"]) + encode_command(["PING"])),
        ("blocked", 1),
        ("block", "B", "BRPOPLPUSH", "k", "d", "0"), ("block", "C", "BLMPOP", "0", "1", "k", "LEFT"),
        ("unblock", "D", "A"), ("read", "A", 2), ("unblock", "D", "A"),
        ("unblock", "D", "B", "ERROR"), ("read", "B"),
        ("unblock", "D", "C", "timeout"), ("read", "C"), ("blocked", 0),
        ("unblock", "D", "D"),
        ("call", "D", "CLIENT", "UNBLOCK", "99999"), ("call", "D", "CLIENT", "UNBLOCK", "x"),
        ("call", "D", "CLIENT", "UNBLOCK", "1", "FOO"), ("call", "D", "CLIENT", "UNBLOCK", "x", "FOO"),
        ("call", "D", "CLIENT", "UNBLOCK", "1", "TIMEOUT", "x"), ("call", "D", "CLIENT", "UNBLOCK"),
        ("call", "D", "RPUSH", "k", "v"), ("call", "D", "LRANGE", "k", "0", "-1"),
    ])


def test_unblocked_error_is_counted(reference, server):
    def errorstat(port):
        scenario = Scenario(port)
        try:
            scenario.play([("call", "X", "CONFIG", "RESETSTAT"),
                           ("block", "A", "BLPOP", "k", "0"), ("unblock", "D", "A", "ERROR"),
                           ("read", "A")])
            info = scenario.control.command("INFO", "errorstats").decode()
            return [line for line in info.split("\r\n") if "UNBLOCKED" in line]
        finally:
            scenario.close()
    assert errorstat(server.port) == errorstat(reference.port) == ["errorstat_UNBLOCKED:count=1"]


# -- timeouts ------------------------------------------------------------------------------------

def test_timeout_replies(reference, server):
    both_resps(reference, server, [
        ("call", "A", "BLPOP", "k", "0.05"), ("call", "A", "BRPOP", "k1", "k2", "0.05"),
        ("call", "A", "BLMPOP", "0.05", "1", "k", "RIGHT", "COUNT", "3"),
        ("call", "A", "BLMOVE", "k", "d", "LEFT", "LEFT", "0.05"),
        ("call", "A", "BRPOPLPUSH", "k", "d", "0.05"), ("call", "A", "EXISTS", "k", "d"),
    ])


def test_timeout_precision(server):
    conn = server.raw()
    try:
        elapsed = []
        for _ in range(3):
            start = time.monotonic()
            assert conn.command("BLPOP", "missing", "0.1") == b"*-1\r\n"
            elapsed.append(time.monotonic() - start)
        assert min(elapsed) >= 0.099
        assert statistics.median(elapsed) < 0.13, elapsed
        start = time.monotonic()
        assert conn.command("BLMOVE", "missing", "d", "LEFT", "LEFT", "0.25") == b"*-1\r\n"
        assert 0.249 <= time.monotonic() - start < 0.4
    finally:
        conn.close()


def test_served_client_does_not_time_out_later(server):
    a, d = server.raw(), server.raw()
    try:
        d.command("DEL", "k", "other")         # what earlier tests on this server left behind
        a_id = a.command("CLIENT", "ID")[1:-2].decode()
        a.send(encode_command(["BLPOP", "k", "0.3"]))
        wait_blocked(d, 1)
        d.command("RPUSH", "k", "v")
        assert a.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        a.send(encode_command(["BLPOP", "other", "0"]))
        wait_blocked(d, 1)
        assert_silent(a, 0.5)          # well past the first command's deadline
        assert d.command("CLIENT", "UNBLOCK", a_id) == b":1\r\n"
        assert a.read_reply() == b"*-1\r\n"
    finally:
        a.close()
        d.close()


def test_blocked_clients_in_info_and_client_list(reference, server):
    def observe(port):
        scenario = Scenario(port)
        try:
            scenario.play([("block", "A", "BLPOP", "k", "0"), ("block", "B", "BLPOP", "k", "5")])
            info = scenario.control.command("INFO", "clients").decode()
            fields = dict(line.split(":", 1) for line in info.split("\r\n") if ":" in line)
            listing = scenario.control.command("CLIENT", "LIST").decode()
            blocked = [line for line in listing.split("\n") if " flags=b " in line]
            return fields["blocked_clients"], fields["clients_in_timeout_table"], len(blocked)
        finally:
            scenario.close()
    assert observe(server.port) == observe(reference.port) == ("2", "1", 2)


# -- transactions (once MULTI exists) ----------------------------------------------------------

def test_push_inside_multi_wakes_after_exec(reference, server):
    both_resps(reference, server, [
        ("block", "A", "BLPOP", "k", "0"), ("block", "B", "BLPOP", "j", "0"),
        ("call", "D", "MULTI"), ("call", "D", "RPUSH", "k", "a", "b"),
        ("call", "D", "LPOP", "k"), ("call", "D", "RPUSH", "j", "x"), ("call", "D", "LPOP", "j"),
        ("call", "D", "EXEC"), ("read", "A"), ("blocked", 1), ("silent", "B"),
        ("call", "D", "EXISTS", "k"),
    ])


def test_blocking_commands_inside_multi_do_not_block(reference, server):
    both_resps(reference, server, [
        ("call", "D", "MULTI"), ("call", "D", "BLPOP", "k", "0"),
        ("call", "D", "BRPOPLPUSH", "k", "d", "0"), ("call", "D", "BLMOVE", "k", "d", "LEFT", "LEFT", "0"),
        ("call", "D", "BLMPOP", "0", "1", "k", "LEFT"), ("call", "D", "EXEC"),
    ])


# -- what reaches replicas -----------------------------------------------------------------

PROPAGATION_STEPS = [
    ("block", "A", "BLPOP", "k", "0"), ("call", "D", "RPUSH", "k", "a", "b"), ("read", "A"),
    ("block", "B", "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"),
    ("call", "D", "RPUSH", "src", "x"), ("read", "B"),
    ("block", "C", "BRPOPLPUSH", "s2", "d2", "0"), ("call", "D", "RPUSH", "s2", "y"), ("read", "C"),
    ("block", "E", "BLMPOP", "0", "1", "m", "LEFT", "COUNT", "5"),
    ("call", "D", "RPUSH", "m", "1", "2"), ("read", "E"),
    ("call", "D", "RPUSH", "n", "1", "2", "3", "4"), ("call", "D", "BLPOP", "n", "0"),
    ("call", "D", "BLMOVE", "n", "n2", "RIGHT", "Left", "0"),
    ("call", "D", "BRPOPLPUSH", "n2", "n3", "0"), ("call", "D", "BLMPOP", "0", "1", "n3", "RIGHT", "COUNT", "3"),
    ("call", "D", "BLMOVE", "n", "n", "LEFT", "RIGHT", "0"),
    ("call", "D", "SET", "done", "1"),
]

# The pops as they were done, not the blocking commands that asked for them.
PROPAGATED = [
    '"FLUSHALL"',
    '"RPUSH" "k" "a" "b"', '"LPOP" "k"',
    '"RPUSH" "src" "x"', '"LMOVE" "src" "dst" "left" "right"',
    '"RPUSH" "s2" "y"', '"RPOPLPUSH" "s2" "d2"',
    '"RPUSH" "m" "1" "2"', '"LPOP" "m" "2"',
    '"RPUSH" "n" "1" "2" "3" "4"', '"LPOP" "n"', '"LMOVE" "n" "n2" "RIGHT" "Left"',
    '"RPOPLPUSH" "n2" "n3"', '"RPOP" "n3" "1"', '"LMOVE" "n" "n" "LEFT" "RIGHT"',
    '"SET" "done" "1"',
]


def monitored_commands(monitor, until):
    """The commands a MONITOR connection reports, up to the one equal to `until`."""
    seen = []
    while True:
        line = monitor._line().decode()
        command = line.split("] ", 1)[1]
        # The master's keepalive PING (Redis sends it lower-case) is no data.
        if command.upper().startswith(('"PING"', '"SELECT"', '"REPLCONF"')):
            continue
        seen.append(command)
        if command == until:
            return seen


def wait_in_sync(replica):
    conn = replica.raw()
    try:
        deadline = time.monotonic() + 3 * WAIT
        while b"master_link_status:up" not in conn.command("INFO", "replication"):
            assert time.monotonic() < deadline, "replica never synced"
            time.sleep(0.05)
    finally:
        conn.close()


@pytest.mark.parametrize("master_kind", ["redis", "ours"])
def test_served_pops_are_what_replicas_receive(reference, server, master_kind):
    """A real redis-server replica of the master, watched with MONITOR."""
    from harness import ServerProcess
    master = reference if master_kind == "redis" else server
    if not has_command(master, "psync"):
        pytest.skip("no replication yet")
    control = master.raw()
    control.command("CONFIG", "SET", "repl-diskless-sync-delay", "0")   # sync at once
    control.close()
    replica = ServerProcess(["--replicaof", "127.0.0.1", str(master.port)], reference=True)
    monitor = replica.raw()
    try:
        wait_in_sync(replica)
        assert monitor.command("MONITOR") == b"+OK\r\n"
        play(master.port, PROPAGATION_STEPS)
        assert monitored_commands(monitor, '"SET" "done" "1"') == PROPAGATED
    finally:
        monitor.close()
        replica.stop()

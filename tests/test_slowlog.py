"""SLOWLOG against the reference: the same commands logged with threshold 0, compared field by
field (all but the time, the duration and the client's port); trimming, redaction, what is
left out, errors and the directives."""
import threading
import time

import pytest

from differential import assert_same, decode, ours, pure_server  # noqa: F401  (fixtures)
from harness import RawConnection, encode_command


def slowlog_after(port, script, setname=b"logger"):
    """SLOWLOG GET -1 after `script` ran with slowlog-log-slower-than 0: entries oldest first,
    as (id relative to the first entry, argv, name); durations and times checked for sense."""
    conn = RawConnection(port)
    try:
        conn.command("CONFIG", "SET", "slowlog-max-len", "128")
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.command("CLIENT", "SETNAME", setname)
        conn.command("SLOWLOG", "RESET")
        for step in script:
            conn.send(encode_command(step))
            conn.read_reply()
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        entries = decode(conn.command("SLOWLOG", "GET", "-1"))
        own_port = conn.sock.getsockname()[1]
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        conn.command("FLUSHALL")
    finally:
        conn.close()
    entries.reverse()
    first = entries[0][0]
    out = []
    for entry_id, when, duration, argv, addr, name in entries:
        assert abs(when - time.time()) < 60
        assert 0 <= duration < 5_000_000
        assert addr in (b"127.0.0.1:%d" % own_port, b"?:0")     # ?:0: what a script ran
        out.append((entry_id - first, argv, name, addr == b"?:0"))
    return out


def assert_same_entries(reference, ours, script):
    expected = slowlog_after(reference.port, script)
    assert slowlog_after(ours.port, script) == expected
    return expected


def test_entries_match_redis(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["SET", "key", "test"], ["SADD", "set", "a", "b", "c"], ["INCR", "num"], ["LPUSH", "list", "a"],
        ["GET", "nosuch"], ["SELECT", "1"], ["SET", "k", "v"], ["SELECT", "0"],
        ["SADD", "key", "x"],                                  # WRONGTYPE: ran, so logged
        ["GETSET", "a", "5"], ["INCRBYFLOAT", "f", "1.5"], ["SPOP", "set", "10"],
        ["EXPIRE", "key", "100"], ["SET", "e", "1", "EX", "100"],
    ])
    assert entries[0] == (0, [b"SLOWLOG", b"RESET"], b"logger", False)
    assert entries[1][1] == [b"SET", b"key", b"test"]
    # CONFIG SET slowlog-log-slower-than -1 is the last command: it turned logging off first.
    assert entries[-1][1] == [b"SET", b"e", b"1", b"EX", b"100"]


def test_rejected_commands_are_not_logged(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["GET"], ["NOSUCH", "x"], ["CLIENT", "NOSUCH"], ["SET", "a", "1"],
    ])
    assert [entry[1] for entry in entries][1] == [b"SET", b"a", b"1"]


def test_exec_is_not_logged_its_commands_are(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["EXEC"],
        ["EVAL", "redis.call('set', 'b', '2') return 1", "0"],
    ])
    names = [entry[1][0] for entry in entries]
    assert b"EXEC" not in names and b"exec" not in names
    assert (2, [b"SET", b"a", b"1"], b"logger", False) in entries
    assert (4, [b"set", b"b", b"2"], b"", True) in entries        # the script's own client


def test_long_commands_are_trimmed(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["SADD", "set"] + [str(i) for i in range(3, 34)],
        ["SADD", "set2", "foo", "A" * 129],
        ["SET", "k", "B" * 128],
        ["DEL"] + ["k%d" % i for i in range(40)],
    ])
    assert entries[1][1][-1] == b"... (2 more arguments)"
    assert len(entries[1][1]) == 32
    assert entries[2][1][-1] == b"A" * 128 + b"... (1 more bytes)"
    assert entries[3][1][-1] == b"B" * 128


def test_sensitive_arguments_are_redacted(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["AUTH", "not-real"], ["AUTH", "user", "not-real"], ["HELLO", "2", "AUTH", "user", "pw"],
        ["CONFIG", "SET", "masterauth", ""], ["CONFIG", "SET", "masteruser", "u", "maxmemory", "0"],
        ["CONFIG", "SET", "nosuch", "x", "requirepass", "secret"],
        ["CONFIG", "SET", "masterauth", "a", "masterauth", "b"],
    ])
    flat = b" ".join(b" ".join(entry[1]) for entry in entries)
    assert b"secret" not in flat and b"not-real" not in flat
    assert entries[4][1] == [b"CONFIG", b"SET", b"masterauth", b"(redacted)"]


def test_client_name_is_recorded(reference, ours):
    entries = assert_same_entries(reference, ours, [
        ["CLIENT", "SETNAME", "other"], ["PING"], ["CLIENT", "SETNAME", ""], ["PING"],
    ])
    # The name when the command was logged: after it ran.
    assert [entry[2] for entry in entries][1:5] == [b"other", b"other", b"", b""]


def test_replies_and_errors_match_redis(reference, ours):
    assert_same(reference, ours, [
        ["SLOWLOG", "HELP"], ["SLOWLOG", "help", "x"], ["SLOWLOG"], ["SLOWLOG", "NOSUCH"],
        ["SLOWLOG", "GET", "-2"], ["SLOWLOG", "GET", "abc"], ["SLOWLOG", "GET", "1", "2"],
        ["SLOWLOG", "GET", "99999999999999999999"], ["SLOWLOG", "LEN", "x"],
        ["SLOWLOG", "RESET", "x"], ["SLOWLOG", "RESET"], ["SLOWLOG", "LEN"], ["SLOWLOG", "GET", "0"],
        ["CONFIG", "GET", "slowlog-max-len"], ["CONFIG", "GET", "slowlog-log-slower-than"],
        ["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
        ["CONFIG", "SET", "slowlog-log-slower-than", "abc"],
        ["CONFIG", "SET", "slowlog-log-slower-than", "9223372036854775807"],
        ["CONFIG", "GET", "slowlog-log-slower-than"],
        ["CONFIG", "SET", "slowlog-log-slower-than", "10000"],
        ["CONFIG", "SET", "slowlog-max-len", "-1"], ["CONFIG", "SET", "slowlog-max-len", "0"],
        ["CONFIG", "GET", "slowlog-max-len"], ["CONFIG", "SET", "slowlog-max-len", "128"],
    ])


def test_threshold_count_and_max_len(ours):
    conn = RawConnection(ours.port)
    try:
        conn.command("SLOWLOG", "RESET")
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "100000")
        conn.command("PING")
        assert conn.command("SLOWLOG", "LEN") == b":0\r\n"
        conn.command("DEBUG", "SLEEP", "0.15")
        assert conn.command("SLOWLOG", "LEN") == b":1\r\n"
        entry = decode(conn.command("SLOWLOG", "GET"))[0]
        assert entry[3] == [b"DEBUG", b"SLEEP", b"0.15"] and entry[2] >= 150000
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.command("CONFIG", "SET", "slowlog-max-len", "10")
        for _ in range(30):
            conn.command("PING")
        assert conn.command("SLOWLOG", "LEN") == b":10\r\n"
        assert len(decode(conn.command("SLOWLOG", "GET", "5"))) == 5
        assert len(decode(conn.command("SLOWLOG", "GET"))) == 10
        ids = [entry[0] for entry in decode(conn.command("SLOWLOG", "GET", "-1"))]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        # Negative turns logging off; 0 logs everything.
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        conn.command("SLOWLOG", "RESET")
        conn.command("DEBUG", "SLEEP", "0.02")
        assert conn.command("SLOWLOG", "LEN") == b":0\r\n"
    finally:
        conn.command("CONFIG", "SET", "slowlog-max-len", "128")
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        conn.close()


def test_blocked_command_is_logged_once_served(ours):
    conn = RawConnection(ours.port)
    blocked = RawConnection(ours.port)
    try:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        blocked.send(encode_command(["BLPOP", "l", "0"]))
        deadline = time.time() + 5
        while b"blocked_clients:1" not in conn.command("INFO", "clients"):
            assert time.time() < deadline
            time.sleep(0.01)
        conn.command("SLOWLOG", "RESET")
        conn.command("MULTI")
        conn.command("LPUSH", "l", "foo")
        conn.command("EXEC")
        assert blocked.read_reply() == b"*2\r\n$1\r\nl\r\n$3\r\nfoo\r\n"
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")    # not logged itself
        entries = decode(conn.command("SLOWLOG", "GET"))
        # Newest first: the served BLPOP (logged as sent, once served), the LPUSH, MULTI.
        assert [entry[3] for entry in entries] == [
            [b"BLPOP", b"l", b"0"], [b"LPUSH", b"l", b"foo"], [b"MULTI"], [b"SLOWLOG", b"RESET"]]
        assert entries[0][2] < 1_000_000        # the time it ran and was served, not waited
    finally:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        conn.close()
        blocked.close()


def test_logging_runs_on_pipelined_fast_path_commands(ours):
    conn = RawConnection(ours.port)
    try:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        conn.command("SLOWLOG", "RESET")
        commands = [["SET", "a", "1"], ["GET", "a"], ["INCR", "n"]] * 20
        conn.send(b"".join(encode_command(c) for c in commands))
        for _ in commands:
            conn.read_reply()
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        entries = decode(conn.command("SLOWLOG", "GET", "-1"))
        logged = [entry[3] for entry in reversed(entries)][1:]
        assert logged == [[arg.encode() for arg in c] for c in commands]
    finally:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        conn.command("DEL", "a", "n")
        conn.close()


@pytest.mark.parametrize("value", ["0", "-1", "25000"])
def test_threshold_from_the_command_line(start_server, value):
    srv = start_server("--slowlog-log-slower-than", value, "--enable-debug-command", "yes")
    conn = RawConnection(srv.port)
    try:
        assert conn.command("CONFIG", "GET", "slowlog-log-slower-than") == (
            b"*2\r\n$23\r\nslowlog-log-slower-than\r\n$%d\r\n%s\r\n" % (len(value), value.encode()))
        conn.command("PING", "marker")
        conn.command("DEBUG", "SLEEP", "0.03")
        logged = [entry[3] for entry in decode(conn.command("SLOWLOG", "GET", "-1"))]
        expected = {"0": [[b"DEBUG", b"SLEEP", b"0.03"], [b"PING", b"marker"]], "-1": [],
                    "25000": [[b"DEBUG", b"SLEEP", b"0.03"]]}[value]
        assert logged[:2] == expected       # newest first; startup commands may follow
    finally:
        conn.close()


def test_concurrent_clients_each_logged(ours):
    conn = RawConnection(ours.port)
    conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
    conn.command("SLOWLOG", "RESET")

    def work(n):
        c = RawConnection(ours.port)
        try:
            for i in range(10):
                c.command("SET", "c%d" % n, str(i))
        finally:
            c.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    try:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        entries = decode(conn.command("SLOWLOG", "GET", "-1"))
        sets = [entry for entry in entries if entry[3][0] == b"SET"]
        assert len(sets) == 40
        assert len({entry[4] for entry in sets}) == 4
    finally:
        conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
        conn.command("FLUSHALL")
        conn.close()


def test_commands_loaded_from_the_aof_are_not_logged(start_server, tmp_path):
    first = start_server("--appendonly", "yes", "--appendfsync", "always", dir=tmp_path)
    conn = RawConnection(first.port)
    for i in range(50):
        conn.command("SET", "k%d" % i, "v")
    conn.close()
    first.stop()
    again = start_server("--appendonly", "yes", "--slowlog-log-slower-than", "0",
                         "--latency-monitor-threshold", "1", dir=tmp_path)
    conn = RawConnection(again.port)
    try:
        assert conn.command("DBSIZE") == b":50\r\n"
        logged = [entry[3] for entry in decode(conn.command("SLOWLOG", "GET", "-1"))]
        assert [b"SET", b"k0", b"v"] not in logged and logged[0] == [b"DBSIZE"]
    finally:
        conn.close()

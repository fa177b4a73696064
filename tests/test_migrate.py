"""MIGRATE against the reference: errors and replies byte for byte, keys moved into a real
Redis target (TTL, COPY, REPLACE, KEYS, AUTH2), the propagated DEL and the redacted
passwords."""
import re

from differential import assert_same, decode, ours, pure_server  # noqa: F401  (fixtures)
from harness import RawConnection, ServerProcess, encode_command, read_aof


def test_errors_and_nokey_match_redis(reference, ours):
    assert_same(reference, ours, [
        ["MIGRATE", "127.0.0.1", "1", "k", "0"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", "100"],
        ["MIGRATE", "127.0.0.1", "1", "k", "x", "100"],
        ["SET", "k", "v"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", "x"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", "100", "KEYS", "a"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "100", "AUTH"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "100", "AUTH2", "u"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "100", "BOGUS"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "100", "KEYS", "nosuch1", "nosuch2"],
        ["MIGRATE", "127.0.0.1", "1", "nosuch", "0", "100", "COPY", "REPLACE"],
        ["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "", "0", "10", "KEYS", "a", "b"],
        ["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "10"],
        ["COMMAND", "GETKEYS", "MIGRATE", "h", "1", "k", "0", "10", "AUTH", "keys"],
    ])


def test_refused_target_is_a_write_error_like_redis(reference, ours):
    for srv in (reference, ours):
        conn = RawConnection(srv.port)
        try:
            conn.command("SET", "k", "v")
            assert conn.command("MIGRATE", "127.0.0.1", "1", "k", "0", "200") == (
                b"-IOERR error or timeout writing to target instance\r\n")
            assert conn.command("EXISTS", "k") == b":1\r\n"
            conn.command("DEL", "k")
        finally:
            conn.close()


def target_state(target, db, *keys):
    conn = RawConnection(target.port)
    try:
        conn.command("SELECT", str(db))
        return [(conn.command("GET", key), int(conn.command("PTTL", key)[1:-2]) > 0)
                for key in keys]
    finally:
        conn.close()


def migrate_session(srv, target):
    """Moves into `target`: one key with a TTL, KEYS with a missing one, COPY, REPLACE."""
    conn = RawConnection(srv.port)
    out = []
    try:
        conn.command("FLUSHALL")
        conn.command("SET", "a", "1", "PX", "100000")
        conn.command("SET", "b", "2")
        conn.command("SET", "c", "3")
        port = str(target.port)
        out.append(conn.command("MIGRATE", "127.0.0.1", port, "a", "3", "5000"))
        out.append(conn.command("EXISTS", "a"))
        out.append(conn.command("MIGRATE", "127.0.0.1", port, "", "3", "5000", "KEYS", "b", "zz"))
        out.append(conn.command("MIGRATE", "127.0.0.1", port, "c", "3", "5000", "COPY"))
        out.append(conn.command("EXISTS", "b", "c"))
        conn.command("SET", "c", "33")
        out.append(conn.command("MIGRATE", "127.0.0.1", port, "c", "3", "5000", "COPY"))
        out.append(conn.command("MIGRATE", "127.0.0.1", port, "c", "3", "5000", "REPLACE",
                                "AUTH2", "default", "whatever"))
        out.append(conn.command("EXISTS", "c"))
        out.append(target_state(target, 3, "a", "b", "c"))
        cached = re.search(rb"migrate_cached_sockets:(\d+)", conn.command("INFO", "stats"))
        out.append(int(cached.group(1)) >= 1)         # the connection stays open for reuse
    finally:
        conn.close()
    RawConnection(target.port).command("FLUSHALL")
    return out


def test_keys_move_into_a_redis_target(reference, ours):
    target = ServerProcess([], reference=True)
    try:
        expected = migrate_session(reference, target)
        actual = migrate_session(ours, target)
    finally:
        target.stop()
    assert actual == expected
    assert actual[0] == b"+OK\r\n" and actual[5].startswith(b"-ERR Target instance replied with error: BUSYKEY")
    assert actual[8] == [(b"$1\r\n1\r\n", True), (b"$1\r\n2\r\n", False), (b"$2\r\n33\r\n", False)]


def test_moved_keys_propagate_as_del(start_server):
    target = ServerProcess([], reference=True)
    srv = start_server("--appendonly", "yes", "--appendfsync", "always")
    try:
        conn = RawConnection(srv.port)
        conn.command("SET", "k1", "v")
        conn.command("SET", "k2", "v")
        assert conn.command("MIGRATE", "127.0.0.1", str(target.port), "", "0", "5000",
                            "KEYS", "k1", "k2", "k3") == b"+OK\r\n"
        conn.command("SET", "marker", "done")
        aof = read_aof(srv, b"marker")
        assert b"*3\r\n$3\r\nDEL\r\n$2\r\nk1\r\n$2\r\nk2\r\n" in aof
        assert b"MIGRATE" not in aof.upper()
        conn.close()
    finally:
        target.stop()


def test_passwords_are_redacted_in_monitor_and_slowlog(reference, ours):
    seen = []
    for srv in (reference, ours):
        monitor = RawConnection(srv.port)
        conn = RawConnection(srv.port)
        try:
            monitor.command("MONITOR")
            conn.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
            conn.command("SLOWLOG", "RESET")
            host, port = "127.0.0.1", str(srv.port)
            for extra in ([], ["AUTH", "pw"], ["AUTH2", "user", "pw"], ["COPY", "AUTH", "pw"]):
                conn.send(encode_command(["MIGRATE", host, port, "key", "9", "5000"] + extra))
                conn.read_reply()
            lines = [re.sub(rb"^\+\d+\.\d+ \[0 [^\]]*\] ", b"", monitor.read_reply())
                     for _ in range(4)]
            conn.command("CONFIG", "SET", "slowlog-log-slower-than", "10000")
            logged = [entry[3] for entry in decode(conn.command("SLOWLOG", "GET", "4"))]
            port_text = port.encode()
            seen.append(([line.replace(port_text, b"P") for line in lines],
                         [[b"P" if arg == port_text else arg for arg in argv] for argv in logged]))
        finally:
            monitor.close()
            conn.close()
    assert seen[0] == seen[1]
    assert seen[1][0][2] == (b'"MIGRATE" "127.0.0.1" "P" "key" "9" "5000" "AUTH2" '
                             b'"(redacted)" "(redacted)"\r\n')
    assert seen[1][1][0] == [b"MIGRATE", b"127.0.0.1", b"P", b"key", b"9", b"5000", b"COPY",
                             b"AUTH", b"(redacted)"]

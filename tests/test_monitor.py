"""MONITOR against the reference: the lines a monitor sees for the same commands, compared
with the timestamp and the client's port taken out, on the native and the pure twins."""
import os
import re
import socket
import time

import pytest

from differential import ours, pure_server  # noqa: F401  (fixtures)
from harness import RawConnection, ServerProcess, encode_command

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) ([^\]]*)\] (.*)$")


def start_monitor(port):
    monitor = RawConnection(port)
    assert monitor.command("MONITOR") == b"+OK\r\n"
    return monitor


def read_lines(monitor, count):
    lines = [monitor.read_reply() for _ in range(count)]
    for line in lines:
        assert line.endswith(b"\r\n")
    return [line[:-2] for line in lines]


def stripped(line, origin_port=True):
    """A monitor line without its timestamp, and without the port of a TCP client."""
    match = LINE.match(line)
    assert match, line
    origin = match.group(4)
    if origin_port and origin not in (b"lua",) and not origin.startswith(b"unix:"):
        origin = origin.rsplit(b":", 1)[0] + b":PORT"
    return b"[%s %s] %s" % (match.group(3), origin, match.group(5))


def monitored(port, script, expected_lines):
    """Run `script` on a second connection; what a monitor saw, stripped."""
    monitor = start_monitor(port)
    try:
        conn = RawConnection(port)
        try:
            for step in script:
                conn.send(encode_command(step))
                conn.read_reply()
            lines = read_lines(monitor, expected_lines)
            # The last command of every script is a PING marker: nothing may follow it.
            assert lines[-1].endswith(b'"PING" "end"'), lines
            return [stripped(line) for line in lines]
        finally:
            conn.close()
    finally:
        monitor.close()


def assert_same_lines(reference, ours, script):
    expected = monitored(reference.port, script + [["PING", "end"]], count_lines(reference, script))
    actual = monitored(ours.port, script + [["PING", "end"]], len(expected))
    assert actual == expected
    return actual


def count_lines(reference, script):
    """How many lines the reference shows for `script` plus the marker: read up to the marker."""
    monitor = start_monitor(reference.port)
    try:
        conn = RawConnection(reference.port)
        try:
            for step in script + [["PING", "end"]]:
                conn.send(encode_command(step))
                conn.read_reply()
            count = 0
            while True:
                count += 1
                if monitor.read_reply().endswith(b'"PING" "end"\r\n'):
                    return count
        finally:
            conn.close()
    finally:
        monitor.close()


def test_plain_commands_and_selected_db(reference, ours):
    lines = assert_same_lines(reference, ours, [
        ["SET", "foo", "bar"], ["GET", "foo"], ["SELECT", "3"], ["SET", "k", "v"],
        ["INCR", "n"], ["LPUSH", "l", "a"], ["SELECT", "0"], ["ECHO", "a\x00b\n\"q\""],
        ["MSET", "a", "1", "b", "2"], ["DEL", "a", "b", "foo", "k"],
    ])
    assert lines[0] == b'[0 127.0.0.1:PORT] "SET" "foo" "bar"'
    assert lines[3] == b'[3 127.0.0.1:PORT] "SET" "k" "v"'
    assert lines[7] == b'[0 127.0.0.1:PORT] "ECHO" "a\\x00b\\n\\"q\\""'


def test_transactions(reference, ours):
    lines = assert_same_lines(reference, ours, [
        ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["EXEC"],
        ["MULTI"], ["NOSUCHCOMMAND", "x"], ["EXEC"],
        ["MULTI"], ["GET"], ["EXEC"],
        ["EXEC", "extra"],
        ["MULTI"], ["DISCARD"],
        ["DEL", "a"],
    ])
    assert lines[:4] == [b'[0 127.0.0.1:PORT] "MULTI"', b'[0 127.0.0.1:PORT] "SET" "a" "1"',
                         b'[0 127.0.0.1:PORT] "INCR" "a"', b'[0 127.0.0.1:PORT] "EXEC"']


def test_scripts_show_before_their_commands(reference, ours):
    lines = assert_same_lines(reference, ours, [
        ["EVAL", "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])",
         "1", "foo", "bar"],
        ["SELECT", "2"],
        ["EVAL", "return redis.call('incr', 'n')", "0"],
        ["EVALSHA", "0000000000000000000000000000000000000000", "0"],
        ["SELECT", "0"],
    ])
    assert lines[1] == b'[0 lua] "set" "foo" "bar"'
    assert lines[5] == b'[2 lua] "incr" "n"'


def test_passwords_are_redacted(reference, ours):
    lines = assert_same_lines(reference, ours, [
        ["AUTH", "not-real"], ["AUTH", "user", "not-a-password"], ["AUTH", "a", "b", "c"],
        ["HELLO", "2", "AUTH", "user", "secret"], ["HELLO", "2", "AUTH", "user"],
        ["HELLO", "2", "SETNAME", "x", "AUTH", "default", "pw"],
    ])
    assert lines[0] == b'[0 127.0.0.1:PORT] "AUTH" "(redacted)"'
    assert lines[1] == b'[0 127.0.0.1:PORT] "AUTH" "(redacted)" "(redacted)"'
    assert b"secret" not in b"".join(lines)


def test_admin_and_skipped_commands_are_not_shown(reference, ours):
    lines = assert_same_lines(reference, ours, [
        ["CONFIG", "GET", "maxmemory"], ["CLIENT", "LIST"], ["CLIENT", "ID"], ["DEBUG", "SLEEP", "0"],
        ["SLOWLOG", "LEN"], ["LATENCY", "LATEST"], ["INFO", "server"], ["MONITOR"],
    ])
    assert lines == [b'[0 127.0.0.1:PORT] "CLIENT" "ID"', b'[0 127.0.0.1:PORT] "INFO" "server"',
                     b'[0 127.0.0.1:PORT] "PING" "end"']


def test_rejected_commands_are_not_shown(reference, ours):
    assert_same_lines(reference, ours, [
        ["GET"], ["NOSUCH"], ["SET", "a"], ["CLIENT", "NOSUCH"], ["LPUSH", "s", "x"], ["SADD", "s", "x"],
    ])


def test_pipelined_fast_path_commands_all_show(ours):
    """The native loop runs these without process_command: monitors still see each one."""
    monitor = start_monitor(ours.port)
    conn = RawConnection(ours.port)
    try:
        commands = []
        for i in range(200):
            commands += [["SET", "k%d" % (i % 7), "v%d" % i], ["GET", "k%d" % (i % 7)],
                         ["INCR", "counter"], ["RPUSH", "list", str(i)]]
        conn.send(b"".join(encode_command(c) for c in commands))
        for _ in commands:
            conn.read_reply()
        lines = read_lines(monitor, len(commands))
        expected = [b" ".join(b'"%s"' % arg.encode() for arg in c) for c in commands]
        assert [LINE.match(line).group(5) for line in lines] == expected
        stamps = [(int(LINE.match(line).group(1)), int(LINE.match(line).group(2))) for line in lines]
        assert stamps == sorted(stamps)
        assert abs(stamps[0][0] - time.time()) < 60
        conn.command("DEL", "counter", "list", *["k%d" % i for i in range(7)])
    finally:
        conn.close()
        monitor.close()


def monitor_session(port):
    """A monitor's own commands, RESET and QUIT: every byte the monitor got, with its own
    port taken out of the lines it saw."""
    monitor = start_monitor(port)
    conn = RawConnection(port)
    got = []
    try:
        own_port = monitor.sock.getsockname()[1]
        listing = conn.command("CLIENT", "LIST")
        assert b"127.0.0.1:%d " % own_port in listing
        got.append([line.split(b" ")[7] for line in listing.split(b"\n")
                    if b"127.0.0.1:%d " % own_port in line])                 # its flags=
        monitor.send(encode_command(["PING"]))
        got.append(monitor.read_reply())
        got.append(stripped(monitor.read_reply()[:-2]))
        got.append(monitor.command("RESET"))
        conn.command("SET", "after", "reset")
        got.append(monitor.command("PING"))            # no monitor line may come before it
        got.append(b" flags=O " in conn.command("CLIENT", "LIST"))
        got.append(monitor.command("MONITOR"))
        monitor.send(encode_command(["QUIT"]))
        got.append(monitor.read_until_closed())
        deadline = time.time() + 5
        while b" flags=O " in conn.command("CLIENT", "LIST") and time.time() < deadline:
            time.sleep(0.02)
        got.append(b" flags=O " in conn.command("CLIENT", "LIST"))
        conn.command("DEL", "after")
    finally:
        conn.close()
        monitor.close()
    return got


def test_monitor_flag_own_commands_reset_and_quit(reference, ours):
    expected = monitor_session(reference.port)
    assert monitor_session(ours.port) == expected
    assert expected[0] == [b"flags=O"]
    assert expected[2] == b'[0 127.0.0.1:PORT] "PING"'


def test_monitor_inside_exec_is_refused_like_redis(reference, ours):
    replies = []
    for srv in (reference, ours):
        conn = RawConnection(srv.port)
        try:
            conn.command("MULTI")
            conn.command("MONITOR")
            replies.append(conn.command("EXEC"))
            replies.append(conn.command("MONITOR"))
            conn.send(encode_command(["MONITOR"]))       # a second MONITOR gets no reply
            conn.sock.settimeout(0.3)
            with pytest.raises(socket.timeout):
                conn.read_reply()
        finally:
            conn.close()
    assert replies[:2] == replies[2:]
    assert replies[1] == b"+OK\r\n"


class UnixConnection(RawConnection):
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""


def test_unix_socket_clients_show_the_socket_path(reference, start_server, tmp_path):
    lines = []
    for srv_path, server in (("ref", None), ("ours", "ours")):
        path = str(tmp_path / ("%s.sock" % srv_path))
        if server is None:
            srv = ServerProcess(["--unixsocket", path], reference=True)
        else:
            srv = start_server("--unixsocket", path)
        try:
            monitor = start_monitor(srv.port)
            conn = UnixConnection(path)
            conn.command("SET", "k", "v")
            conn.command("SELECT", "5")
            conn.command("GET", "k")
            got = read_lines(monitor, 3)
            lines.append([stripped(line).replace(path.encode(), b"PATH") for line in got])
            conn.close()
            monitor.close()
        finally:
            if server is None:
                srv.stop()
    assert lines[0] == lines[1]
    assert lines[1][0] == b'[0 unix:PATH] "SET" "k" "v"'
    assert os.path.basename(path)


def test_functions_show_before_their_commands(reference, ours):
    library = "#!lua name=monitored\nredis.register_function('setfoo', function(keys, args) " \
              "return redis.call('set', keys[1], args[1]) end)"
    for srv in (reference, ours):
        RawConnection(srv.port).command("FUNCTION", "LOAD", "REPLACE", library)
    lines = assert_same_lines(reference, ours, [
        ["FCALL", "setfoo", "1", "foo", "bar"], ["FCALL_RO", "nosuch", "0"],
    ])
    assert lines[:2] == [b'[0 127.0.0.1:PORT] "FCALL" "setfoo" "1" "foo" "bar"',
                         b'[0 lua] "set" "foo" "bar"']


def monitor_sends(port):
    """A monitor's own commands: the data is out of its reach, the rest answers (its own
    PING comes back as a monitor line after the reply)."""
    monitor = start_monitor(port)
    try:
        replies = [monitor.command(*args) for args in (
            ["GET", "k"], ["SET", "k", "v"], ["EVAL", "return 1", "0"],
            ["PUBLISH", "ch", "m"], ["DBSIZE"], ["ECHO", "x"])]
        replies.append(stripped(read_lines(monitor, 1)[0]))     # ECHO's own monitor line
        return replies
    finally:
        monitor.close()


def test_a_monitor_cannot_touch_the_keyspace(reference, ours):
    expected = monitor_sends(reference.port)
    assert expected[0] == b"-ERR Replica can't interact with the keyspace\r\n"
    assert monitor_sends(ours.port) == expected

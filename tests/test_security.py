"""Security as Redis 7.0.15 applies it (requirepass and AUTH, rename-command,
bind, protected-mode), and robustness: hostile or random input and a failing
command handler never take the server down."""
import os
import random
import socket
import subprocess
import textwrap
import time

import pytest

from differential import assert_same_exchange, exchange
from harness import RawConnection, ServerProcess, encode_command, require_reference, run_server


@pytest.fixture(autouse=True)
def _reference_needed():
    require_reference()


def start_pair(args, **kwargs):
    return ServerProcess(args, reference=True, **kwargs), ServerProcess(args, **kwargs)


def stop_all(servers):
    for server in servers:
        server.stop()


def raw_script(port, script, host="127.0.0.1"):
    conn = RawConnection(port, host=host)
    try:
        return [conn.command(*step) for step in script]
    finally:
        conn.close()


def assert_same_script(pair, script, host="127.0.0.1"):
    reference, ours = pair
    expected = raw_script(reference.port, script, host)
    assert raw_script(ours.port, script, host) == expected
    return expected


# -- requirepass and AUTH -----------------------------------------------------------------

def test_requirepass_noauth_and_wrongpass_texts():
    pair = start_pair(["--requirepass", "s3cret"])
    try:
        replies = assert_same_script(pair, [
            ["GET", "k"], ["AUTH", "nope"], ["AUTH", "default", "nope"], ["AUTH", "s3cret"],
            ["SET", "k", "v"], ["GET", "k"]])
        assert replies == [b"-NOAUTH Authentication required.\r\n",
                           b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                           b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                           b"+OK\r\n", b"+OK\r\n", b"$1\r\nv\r\n"]
        # Inline commands are held to the same rule.
        reply, _ = assert_same_exchange(*pair, b"GET k\r\nAUTH s3cret\r\nGET k\r\n", mode="quiet")
        assert reply == b"-NOAUTH Authentication required.\r\n+OK\r\n$1\r\nv\r\n"
    finally:
        stop_all(pair)


def test_auth_without_a_configured_password():
    pair = start_pair([])
    try:
        replies = assert_same_script(pair, [["AUTH", "x"], ["AUTH", "default", "x"]])
        assert replies[0] == (b"-ERR AUTH <password> called without any password configured for the "
                              b"default user. Are you sure your configuration is correct?\r\n")
        assert replies[1] == b"+OK\r\n"       # any password is right for a nopass user
    finally:
        stop_all(pair)


def test_requirepass_set_at_runtime():
    pair = start_pair([])
    try:
        for server in pair:
            admin = server.raw()
            assert admin.command("CONFIG", "SET", "requirepass", "later") == b"+OK\r\n"
            assert admin.command("PING") == b"+PONG\r\n"           # already connected: still in
            newcomer = server.raw()
            assert newcomer.command("PING") == b"-NOAUTH Authentication required.\r\n"
            assert newcomer.command("AUTH", "later") == b"+OK\r\n"
            assert admin.command("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
            third = server.raw()
            assert third.command("PING") == b"+PONG\r\n"
            for conn in (admin, newcomer, third):
                conn.close()
    finally:
        stop_all(pair)


def test_redis_cli_with_password():
    from harness import require_tool
    cli = require_tool("redis-cli")
    pair = start_pair(["--requirepass", "pw"])
    try:
        outputs = []
        for server in pair:
            denied = subprocess.run([cli, "-p", str(server.port), "get", "k"], capture_output=True,
                                    timeout=10, text=True)
            allowed = subprocess.run([cli, "-p", str(server.port), "-a", "pw", "--no-auth-warning",
                                      "ping"], capture_output=True, timeout=10, text=True)
            outputs.append((denied.stdout, allowed.stdout))
        assert outputs[1] == outputs[0]
        assert outputs[1][0].strip() == "NOAUTH Authentication required."
        assert outputs[1][1].strip() == "PONG"
    finally:
        stop_all(pair)


# -- rename-command -------------------------------------------------------------------------

RENAMED_SCRIPT = [
    ["GET", "k"], ["FETCH", "k"], ["SET", "k", "v"], ["fetch", "k"], ["FeTcH", "k"],
    ["COMMAND", "INFO", "fetch"], ["COMMAND", "INFO", "get"], ["COMMAND", "GETKEYS", "fetch", "x"],
    ["COMMAND", "GETKEYS", "get", "x"], ["CONFIG", "GET", "port"], ["FLUSHDB"], ["flushdb", "async"],
    ["DBSIZE"], ["COMMAND", "INFO", "flushdb"], ["COMMAND", "LIST", "FILTERBY", "PATTERN", "fetc*"],
]


def test_rename_command_from_the_command_line():
    pair = start_pair(["--rename-command", "get", "fetch", "--rename-command", "CONFIG", "",
                       "--rename-command", "flushdb", ""])
    try:
        replies = assert_same_script(pair, RENAMED_SCRIPT)
        assert replies[0] == b"-ERR unknown command 'GET', with args beginning with: 'k' \r\n"
        assert replies[3] == b"$1\r\nv\r\n"
        assert replies[5].startswith(b"*1\r\n*10\r\n$3\r\nget\r\n")     # still reported as "get"
        assert replies[6] == b"*1\r\n$-1\r\n"
        assert replies[9] == b"-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'port' \r\n"
    finally:
        stop_all(pair)


def test_rename_command_in_a_config_file(tmp_path):
    config = "rename-command set store\nrename-command store put\nrename-command DEL \"\"\n"
    pair = start_pair([], config_text=config)
    try:
        replies = assert_same_script(pair, [["SET", "a", "1"], ["STORE", "a", "1"], ["PUT", "a", "1"],
                                            ["DEL", "a"], ["EXISTS", "a"], ["UNLINK", "a"]])
        assert replies[2] == b"+OK\r\n"
    finally:
        stop_all(pair)


# -- bind ----------------------------------------------------------------------------------

def local_addresses():
    """This machine's non-loopback addresses (from `hostname -I`)."""
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [a for a in out.split() if not a.startswith(("127.", "fe80")) and a != "::1"]


def first_address(family):
    for address in local_addresses():
        if (":" in address) == (family == socket.AF_INET6):
            return address
    return None


def can_connect(host, port):
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def ipv6_loopback_available():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_bind_several_addresses():
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback here")
    pair = start_pair(["--bind", "127.0.0.1", "::1"])
    try:
        for server in pair:
            for host in ("127.0.0.1", "::1"):
                assert raw_script(server.port, [["PING"]], host=host) == [b"+PONG\r\n"]
            other = first_address(socket.AF_INET)
            if other:
                assert not can_connect(other, server.port)
        assert_same_script(pair, [["CONFIG", "GET", "bind"]], host="::1")
        # CLIENT INFO names an IPv6 peer in brackets.
        for server in pair:
            info = raw_script(server.port, [["CLIENT", "INFO"]], host="::1")[0]
            assert b" addr=[::1]:" in info and b" laddr=[::1]:%d " % server.port in info
    finally:
        stop_all(pair)


def _startup_outcome(args, reference):
    result = run_server(args, reference=reference, timeout=15)
    lines = [line.split(" ", 6)[6] for line in result.stdout.decode().splitlines()
             if line.split(" ", 1)[0].endswith(":M")]
    return result.returncode, lines


def test_unavailable_bind_address_aborts_start_up():
    from harness import free_port
    port = free_port()
    args = ["--port", str(port), "--save", "", "--bind", "127.0.0.1", "203.0.113.77"]
    outcomes = [_startup_outcome(args, reference) for reference in (True, False)]
    assert outcomes[1] == outcomes[0]
    code, lines = outcomes[1]
    assert code == 1
    assert lines[-2:] == [
        "Warning: Could not create server TCP listening socket 203.0.113.77:%d: bind: Cannot assign "
        "requested address" % port,
        "Failed listening on port %d (TCP), aborting." % port]


def test_optional_bind_address_is_skipped():
    pair = start_pair(["--bind", "127.0.0.1", "-203.0.113.77"])
    try:
        for server in pair:
            assert raw_script(server.port, [["PING"]]) == [b"+PONG\r\n"]
            assert ("Could not create server TCP listening socket 203.0.113.77:%d: bind: Cannot assign "
                    "requested address" % server.port) in server.log()
        assert_same_script(pair, [["CONFIG", "GET", "bind"]])
    finally:
        stop_all(pair)


# -- protected mode ---------------------------------------------------------------------------

DENIED_PREFIX = b"-DENIED Redis is running in protected mode because protected mode is enabled and no password"


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def test_protected_mode_refuses_non_loopback_clients(family):
    address = first_address(family)
    if address is None:
        pytest.skip("this machine has no non-loopback address of that family")
    pair = start_pair([])                     # default bind: * -::*
    try:
        denied = [exchange_from(address, server.port) for server in pair]
        assert denied[1] == denied[0]
        assert denied[1][0].startswith(DENIED_PREFIX) and denied[1][1]
        for server in pair:       # loopback is still welcome
            assert raw_script(server.port, [["PING"]]) == [b"+PONG\r\n"]
            stats = server.client().info("stats")
            assert stats["rejected_connections"] == 1
    finally:
        stop_all(pair)


def exchange_from(host, port):
    """PING from `host`'s side: (everything received, closed by the server)."""
    conn = RawConnection(port, host=host)
    try:
        try:
            conn.send(b"PING\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            return conn.read_until_closed(5), True
        except socket.timeout:
            return conn.buf, False
    finally:
        conn.close()


@pytest.mark.parametrize("args,expected", [
    (["--protected-mode", "no"], b"+PONG\r\n"),
    (["--requirepass", "pw"], b"-NOAUTH Authentication required.\r\n"),
])
def test_protected_mode_off_or_password_set_lets_them_in(args, expected):
    address = first_address(socket.AF_INET) or first_address(socket.AF_INET6)
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    pair = start_pair(args)
    try:
        for server in pair:
            assert raw_script(server.port, [["PING"]], host=address) == [expected]
    finally:
        stop_all(pair)


def test_protected_mode_ignores_explicit_bind_and_can_be_turned_off_at_runtime():
    address = first_address(socket.AF_INET)
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    pair = start_pair(["--bind", "127.0.0.1", address])
    try:
        for server in pair:
            reply, closed = exchange_from(address, server.port)
            assert reply.startswith(DENIED_PREFIX) and closed
            assert raw_script(server.port, [["CONFIG", "SET", "protected-mode", "no"]]) == [b"+OK\r\n"]
            assert raw_script(server.port, [["PING"]], host=address) == [b"+PONG\r\n"]
    finally:
        stop_all(pair)


# -- robustness ----------------------------------------------------------------------------

FAULTY_COMMANDS = textwrap.dedent('''
    """Loaded at interpreter start-up: adds commands whose handlers fail like a bug would."""
    from server.commands.table import command, KeySpec, at


    @command("test-fault", -1, "fast")
    def cmd_test_fault(client, argv):
        client.reply.array(3)
        client.reply.integer(1)       # half a reply, then a crash
        raise ZeroDivisionError("simulated bug")


    @command("test-fault-write", 3, "write", key_specs=[KeySpec("RW update", at(1))])
    def cmd_test_fault_write(client, argv):
        client.db.set(argv[1], argv[2])
        client.server.dirty += 1
        raise KeyError("simulated bug after a write")
''')


def test_exception_in_a_handler_answers_err_and_the_server_lives(tmp_path):
    from harness import ROOT
    (tmp_path / "sitecustomize.py").write_text(FAULTY_COMMANDS)
    server = ServerProcess([], env={"PYTHONPATH": str(tmp_path) + os.pathsep + ROOT})
    try:
        conn = server.raw()
        conn.send(encode_command(["TEST-FAULT"]) + encode_command(["PING"]) +
                  encode_command(["TEST-FAULT-WRITE", "k", "v"]) + encode_command(["GET", "k"]))
        assert conn.read_reply() == b"-ERR internal error while executing 'test-fault': ZeroDivisionError\r\n"
        assert conn.read_reply() == b"+PONG\r\n"          # the same connection goes on
        assert conn.read_reply() == b"-ERR internal error while executing 'test-fault-write': KeyError\r\n"
        assert conn.read_reply() == b"$1\r\nv\r\n"
        inline = server.raw()
        inline.send(b"test-fault\r\nECHO still-here\r\n")
        assert inline.read_reply().startswith(b"-ERR internal error")
        assert inline.read_reply() == b"$10\r\nstill-here\r\n"
        log = server.wait_for_log("ZeroDivisionError: simulated bug")
        assert "Traceback" in log
        stats = server.client().info("commandstats")
        assert stats["cmdstat_test-fault"]["failed_calls"] == 2
        assert server.proc.poll() is None
    finally:
        server.stop()


FRAGMENTS = [b"*", b"$", b"\r\n", b"\n", b"\r", b"0", b"1", b"2", b"3", b"-1", b"10", b"99999999999",
             b"PING", b"ECHO", b"SET", b"GET", b"k", b"\"", b"'", b"\\x41", b"\\", b" ", b"\t",
             b"\x00", b"\xff", b"abc", b"*2\r\n$4\r\nECHO\r\n", b"$3\r\nxyz\r\n", b"INCR n", b"+OK",
             b"HELLO 3", b"HELLO 2", b"MGET a b c", b"EXISTS k", b"*0\r\n", b"*-1\r\n"]


def random_stream(rng):
    return b"".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 40)))


def test_random_request_streams_answered_like_redis():
    """Streams stitched from protocol fragments: same bytes back, same close, as Redis."""
    pair = start_pair([])
    rng = random.Random(20240607)
    try:
        for _ in range(60):
            stream = random_stream(rng)
            # A half-closed connection gets every reply, then the server closes too.
            expected = half_closed_exchange(pair[0].port, stream)
            assert half_closed_exchange(pair[1].port, stream) == expected, stream
    finally:
        stop_all(pair)


def half_closed_exchange(port, payload):
    conn = RawConnection(port)
    try:
        conn.send(b"FLUSHALL\r\n")
        assert conn.read_reply() == b"+OK\r\n"
        conn.send(payload)
        conn.sock.shutdown(socket.SHUT_WR)
        return conn.read_until_closed(10)
    finally:
        conn.close()


def test_random_garbage_never_kills_the_server():
    server = ServerProcess([])
    rng = random.Random(7)
    try:
        for round_ in range(40):
            conns = []
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
                size = rng.choice([1, 10, 1000, 70000])
                garbage = bytes(rng.getrandbits(8) for _ in range(size)) if size < 2000 else \
                    rng.randbytes(size)
                try:
                    sock.sendall(garbage)
                except OSError:
                    pass
                conns.append(sock)
            for sock in conns:
                sock.close()
            if round_ % 10 == 9:
                assert raw_script(server.port, [["PING"]]) == [b"+PONG\r\n"]
        assert server.proc.poll() is None
        assert raw_script(server.port, [["SET", "alive", "yes"], ["GET", "alive"]]) == [
            b"+OK\r\n", b"$3\r\nyes\r\n"]
        # Nothing it received counts as a bug.
        assert "Traceback" not in server.log()
    finally:
        server.stop()


def test_slow_reader_does_not_block_others():
    """A client that pipelines a lot and never reads must not stall the event loop."""
    server = ServerProcess([])
    try:
        hog = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        hog.setblocking(False)
        payload = encode_command(["ECHO", "x" * 1000]) * 2000
        try:
            hog.send(payload)
        except BlockingIOError:
            pass
        start = time.monotonic()
        assert raw_script(server.port, [["PING"]]) == [b"+PONG\r\n"]
        assert time.monotonic() - start < 5
        hog.close()
    finally:
        server.stop()

"""Redis's own tools against this server: redis-cli (arguments, --raw/--no-raw,
-n, --scan, info, commands piped on stdin, --pipe, RESP3 with -3), a telnet
style inline session, and redis-benchmark. redis-cli output is compared with
what it prints against the reference server."""
import re
import socket
import subprocess

import pytest

from harness import require_tool


@pytest.fixture(scope="module")
def cli():
    return require_tool("redis-cli")


def run_cli(cli, port, *args, stdin=None):
    result = subprocess.run([cli, "-p", str(port), *args], input=stdin, capture_output=True,
                            timeout=30)
    return result.returncode, result.stdout, result.stderr


def both(cli, pair, *args, stdin=None, flush=True):
    """The same redis-cli invocation against the reference and ours: (reference, ours)."""
    results = []
    for server in pair:
        if flush:
            run_cli(cli, server.port, "flushall")
        results.append(run_cli(cli, server.port, *args, stdin=stdin))
    return results


def test_ping(cli, pair):
    ref, ours = both(cli, pair, "ping")
    assert ours == ref == (0, b"PONG\n", b"")


def test_set_get_and_missing_key(cli, pair):
    for server in pair:
        run_cli(cli, server.port, "flushall")
        assert run_cli(cli, server.port, "set", "greeting", "hello world")[1] == b"OK\n"
        assert run_cli(cli, server.port, "get", "greeting")[1] == b"hello world\n"
    ref, ours = both(cli, pair, "get", "nokey")
    assert ours == ref


CLI_COMMANDS = [
    ["ping", "hello"], ["echo", "multi\nline"], ["get", "nokey"], ["set", "n", "41"], ["incr", "n"],
    ["incr", "nokey-counter"], ["mget", "n", "nokey"], ["del", "n", "nokey"], ["exists", "n"],
    ["select", "99"], ["nosuchcommand", "x"], ["get"], ["config", "get", "maxmemory"],
    ["echo", "\x01\xc3\xa9\t"], ["hello", "2", "setname", "x y"], ["set", "k", "v", "EX", "100"],
    ["ttl", "k"], ["type", "k"],
]


@pytest.mark.parametrize("mode", ["--raw", "--no-raw"])
@pytest.mark.parametrize("args", CLI_COMMANDS, ids=lambda a: " ".join(a)[:30])
def test_cli_output_matches(cli, pair, mode, args):
    ref, ours = both(cli, pair, mode, *args)
    assert ours == ref


def test_cli_database_number(cli, pair):
    outputs = []
    for server in pair:
        run_cli(cli, server.port, "flushall")
        outputs.append([run_cli(cli, server.port, "-n", "3", "set", "k", "in3")[1],
                        run_cli(cli, server.port, "-n", "3", "get", "k")[1],
                        run_cli(cli, server.port, "-n", "0", "get", "k")[1],
                        run_cli(cli, server.port, "-n", "3", "dbsize")[1],
                        run_cli(cli, server.port, "-n", "16", "ping")])
    assert outputs[1] == outputs[0]
    assert outputs[1][:4] == [b"OK\n", b"in3\n", b"\n", b"1\n"]


def test_cli_scan(cli, pair):
    for server in pair:
        run_cli(cli, server.port, "flushall")
        keys = "".join("SET user:%d x\nSET other:%d y\n" % (i, i) for i in range(300))
        run_cli(cli, server.port, stdin=keys.encode())
    listings = []
    for server in pair:
        _, out, _ = run_cli(cli, server.port, "--scan", "--pattern", "user:*")
        listings.append(sorted(out.split()))
        _, out, _ = run_cli(cli, server.port, "--scan")
        listings.append(sorted(out.split()))
    assert listings[2:] == listings[:2]
    assert len(listings[2]) == 300 and len(listings[3]) == 600


def test_cli_info(cli, pair):
    _, out, _ = run_cli(cli, pair[1].port, "info")
    text = out.decode()
    assert text.startswith("# Server\r\n")
    assert "redis_version:7.0.15\r\n" in text
    sections = re.findall(r"^# (\w+)", text, re.M)
    assert "Clients" in sections and "Keyspace" in sections
    _, out, _ = run_cli(cli, pair[1].port, "info", "server")
    assert re.findall(rb"^# (\w+)", out, re.M) == [b"Server"]


PIPED_SESSION = b"""SET a 1
INCR a
GET a
SET "q w" "x y"
GET "q w"
GET 'single quoted'
NOSUCH command here
SELECT 2
GET a
SELECT 0
MSET k1 v1 k2 v2
MGET k1 k2 k3
ECHO "tab\\there"
DEL a k1 k2
"""


def test_commands_piped_into_cli(cli, pair):
    ref, ours = both(cli, pair, stdin=PIPED_SESSION)
    assert ours == ref
    assert ours[1].splitlines()[:3] == [b"OK", b"2", b"2"]


def test_interactive_like_session_on_stdin(cli, pair):
    """What a user types at the prompt, fed on stdin (no terminal: no prompt is printed)."""
    session = b"ping\nset counter 10\nincrby counter 5\nget counter\nhello 3\nget counter\n" \
              b"config get timeout\nquit\nping\n"
    results = []
    for server in pair:
        run_cli(cli, server.port, "flushall")
        code, out, err = run_cli(cli, server.port, stdin=session)
        # HELLO's reply holds the connection id, which differs between servers.
        results.append((code, re.sub(rb"\nid \d+\n", b"\nid <id>\n", out), err))
    assert results[1] == results[0]


def test_cli_pipe_mode(cli, pair):
    payload = b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$5\r\nvalue\r\n" % (len(b"key:%d" % i), i)
                       for i in range(5000))
    outputs = []
    for server in pair:
        run_cli(cli, server.port, "flushall")
        code, out, err = run_cli(cli, server.port, "--pipe", stdin=payload)
        outputs.append((code, out, err, run_cli(cli, server.port, "dbsize")[1]))
    assert outputs[1] == outputs[0]
    assert b"errors: 0, replies: 5000" in outputs[1][1] and outputs[1][3] == b"5000\n"


def test_cli_stdin_as_last_argument(cli, pair):
    for server in pair:
        run_cli(cli, server.port, "flushall")
    ref, ours = both(cli, pair, "-x", "set", "blob", stdin=b"line one\nline two\n", flush=False)
    assert ours == ref
    ref, ours = both(cli, pair, "get", "blob", flush=False)
    assert ours == ref == (0, b"line one\nline two\n\n", b"")


def test_cli_repeat_and_resp3(cli, pair):
    ref, ours = both(cli, pair, "-r", "3", "ping")
    assert ours == ref == (0, b"PONG\nPONG\nPONG\n", b"")
    for args in (["-3", "config", "get", "maxclients"], ["-3", "--no-raw", "config", "get", "maxclients"],
                 ["-3", "--no-raw", "get", "nokey"], ["-3", "--no-raw", "command", "info", "get"]):
        ref, ours = both(cli, pair, *args)
        assert ours == ref


def test_cli_with_wrong_port_fails_like_redis(cli):
    from harness import free_port
    code, out, err = run_cli(cli, free_port(), "ping")
    assert code == 1 and b"Could not connect to Redis" in out + err


def test_telnet_style_inline_session(pair):
    for server in pair:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            reader = sock.makefile("rb")

            def say(line):
                sock.sendall(line + b"\r\n")
                return reader.readline()

            assert say(b"PING") == b"+PONG\r\n"
            assert say(b"SET telnet works") == b"+OK\r\n"
            assert say(b"GET telnet") == b"$5\r\n" and reader.readline() == b"works\r\n"
            sock.sendall(b"\r\n")                      # an empty line gets no reply at all
            assert say(b"EXISTS telnet nope") == b":1\r\n"
            assert say(b'SET "spaced key" "a b"') == b"+OK\r\n"
            assert say(b"STRLEN \"spaced key\"") == b":3\r\n"
            assert say(b"QUIT") == b"+OK\r\n"
            assert reader.readline() == b""


# -- redis-benchmark ----------------------------------------------------------------------

BENCH_TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]


def run_benchmark(port, *extra):
    bench = require_tool("redis-benchmark")
    result = subprocess.run([bench, "-p", str(port), "-t", "ping,set,get,incr,mset", "-n", "20000",
                             "-q", *extra], capture_output=True, timeout=300, text=True)
    return result


@pytest.mark.parametrize("extra", [[], ["-P", "16"]], ids=["no-pipeline", "pipeline-16"])
def test_redis_benchmark_completes(pair, extra):
    result = run_benchmark(pair[1].port, *extra)
    assert result.returncode == 0, result.stderr
    # -q prints "TEST: <n> requests per second, p50=..." lines, carriage-return progress first.
    lines = [line.split("\r")[-1] for line in result.stdout.splitlines() if line.strip()]
    rates = {}
    for line in lines:
        match = re.match(r"^(.+): ([\d.]+) requests per second", line)
        if match:
            rates[match.group(1)] = float(match.group(2))
    assert sorted(rates) == sorted(BENCH_TESTS), result.stdout
    assert all(rate > 0 for rate in rates.values())
    assert "ERR" not in result.stdout + result.stderr and "rror" not in result.stderr
    client = pair[1].client()
    assert client.get("key:__rand_int__") is not None       # SET really stored it
    client.close()

"""The wire protocol byte for byte against Redis 7.0.15: inline and multibulk
requests, quoting, protocol errors, pipelining, requests split across reads,
and the limits (proto-max-bulk-len, client-query-buffer-limit, maxclients,
timeout, tcp-keepalive).

Every server-facing case runs on the native and on the pure-Python parser.
"""
import socket
import time

import pytest

from differential import assert_same, assert_same_exchange, exchange
from harness import RawConnection, ServerProcess, encode_command


@pytest.fixture(scope="module", params=["native", "pure"])
def ours(request):
    proc = ServerProcess(["--enable-debug-command", "yes"], pure=request.param == "pure")
    yield proc
    proc.stop()


def cmd(*args):
    return encode_command(args)


# -- inline commands (telnet) ----------------------------------------------------

INLINE_CASES = [
    b"SET foo bar\r\nGET foo\r\n",
    b"SET foo bar\nGET foo\n",
    b"ping\n",
    b"  PING  \r\n",
    b"\r\n\r\nPING\r\n",
    b"\n\nPING\n",
    b"   \r\n\t\r\nPING\r\n",
    b'SET a "\\x41\\n"\r\nGET a\r\n',
    b"SET a 'it\\'s'\r\nGET a\r\n",
    b'SET greeting "hello world"\r\nGET greeting\r\n',
    b'ECHO "a\\nb"\r\n',
    b"ECHO 'a\\nb'\r\n",
    b'ECHO "\\x4"\r\n',
    b'ECHO "\\xzz"\r\n',
    b'ECHO "\\xFf\\x00\\x7e"\r\n',
    b'ECHO "a\\qb"\r\n',
    b'ECHO "\\t\\r\\b\\a\\\\\\""\r\n',
    b'ECHO ""\r\n',
    b"ECHO ''\r\n",
    b'ECHO "a"\t"b"\r\n',
    b'ECHO "a"\x0b\r\n',
    b"ECHO a\x0bb\r\n",
    b"ECHO a\x0cb\r\n",
    b"ECHO \x0b\r\n",
    b'ECHO a"b c"d\r\n',
    b"ECHO a'b c'd\r\n",
    b"ECHO x\r\r\n",
    b"ECHO x\rx\n",
    b"ECHO \xff\xfe\r\n",
    b"\xff\xfe\r\n",
    b"NOSUCH " + b"a" * 200 + b" b\r\n",
    b"NOSUCH a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
    b"ECHO\r\n",
    b"GET\r\n",
]


@pytest.mark.parametrize("payload", INLINE_CASES)
def test_inline_requests(reference, ours, payload):
    assert_same_exchange(reference, ours, payload)


UNBALANCED = [
    b'ECHO "abc\r\n',
    b"ECHO 'abc\r\n",
    b'ECHO "abc"def\r\n',
    b"ECHO 'a'b\r\n",
    b'PING\r\nECHO "x\r\nPING\r\n',
    b'ECHO "\\"\r\n',
]


@pytest.mark.parametrize("payload", UNBALANCED)
def test_unbalanced_quotes_reply_and_close(reference, ours, payload):
    reply, closed = assert_same_exchange(reference, ours, payload, mode="close")
    assert closed
    assert reply.endswith(b"-ERR Protocol error: unbalanced quotes in request\r\n")


def test_inline_set_answers_ok_like_telnet(ours):
    conn = ours.raw()
    conn.send(b"SET foo bar\r\n")
    assert conn.read_reply() == b"+OK\r\n"
    conn.send(b"GET foo\r\n")
    assert conn.read_reply() == b"$3\r\nbar\r\n"
    conn.close()


def test_nul_in_inline_line_waits_like_redis(reference, ours):
    # Redis looks for the newline with strchr, which stops at a NUL: it waits for more.
    reply, closed = assert_same_exchange(reference, ours, b"PI\x00NG\r\nPING\r\n", mode="quiet")
    assert (reply, closed) == (b"", False)


def test_nul_in_quoted_inline_argument(reference, ours):
    assert_same_exchange(reference, ours, b'ECHO "a\x00"\r\n', mode="quiet")


# -- multibulk requests ----------------------------------------------------------

MULTIBULK_CASES = [
    cmd("PING"),
    b"*0\r\nPING\r\n",
    b"*-1\r\nPING\r\n",
    b"*-5\r\n" + cmd("PING"),
    cmd("ECHO", b""),
    cmd("ECHO", b"a\r\nb"),
    cmd("SET", "k", b"\x00\r\n\xff") + cmd("GET", "k"),
    cmd("ECHO", b"x" * 100000),
    b"*1\rX$4\r\nPING\r\n",                     # the byte after \r is not checked
    b"*2\r\n$4\r\nECHO\r\n$3\r\nabcXY" + cmd("PING"),   # nor the two after a bulk
    cmd("ECHO", "abc") + b"+1\r\n",
    cmd("PING") + b":5\r\n",
    cmd("NOSUCH", b"a\nb", b"c\rd"),
    cmd(b"PI\x00G"),
    cmd("NOSUCH", *(["x" * 50] * 5)),
    cmd("CONFIG", "NOSUCH"),
    cmd("CONFIG", b"\xffsub"),
    cmd("GET", "a", "b"),
    cmd("get"),
    cmd("SELECT", "1") + cmd("SET", "x", "1") + cmd("SELECT", "0") + cmd("GET", "x"),
]


@pytest.mark.parametrize("payload", MULTIBULK_CASES)
def test_multibulk_requests(reference, ours, payload):
    assert_same_exchange(reference, ours, payload, setup=[("FLUSHALL",)])


PROTOCOL_ERRORS = [
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*\r\n", b"invalid multibulk length"),
    (b"*3\r\n$x\r\n", b"invalid bulk length"),
    (b"*1\r\n$-5\r\n", b"invalid bulk length"),
    (b"*1\r\n$-1\r\n", b"invalid bulk length"),
    (b"*1\r\n$\r\n", b"invalid bulk length"),
    (b"*3000000000\r\n", b"invalid multibulk length"),
    (b"*2147483648\r\n", b"invalid multibulk length"),
    (b"*99999999999999999999999\r\n", b"invalid multibulk length"),
    (b"*01\r\n$4\r\nPING\r\n", b"invalid multibulk length"),
    (b"*+1\r\n$4\r\nPING\r\n", b"invalid multibulk length"),
    (b"* 1\r\n$4\r\nPING\r\n", b"invalid multibulk length"),
    (b"*1\r\n$04\r\nPING\r\n", b"invalid bulk length"),
    (b"*1\r\n$+4\r\nPING\r\n", b"invalid bulk length"),
    (b"*1\r\n$536870913\r\n", b"invalid bulk length"),        # above proto-max-bulk-len
    (b"*1\r\nfoo\r\n", b"expected '$', got 'f'"),
    (b"*1\r\n\xff\r\n", b"expected '$', got '\xff'"),
    (b"*1\r\n:1\r\n", b"expected '$', got ':'"),
    (b"*" + b"1" * 70000, b"too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 70000, b"too big bulk count string"),
    (b"x" * 70000, b"too big inline request"),
    (cmd("PING") + b"*abc\r\n" + cmd("PING"), b"invalid multibulk length"),
    (b"PING\r\n*1\r\n$-1\r\nPING\r\n", b"invalid bulk length"),
]


@pytest.mark.parametrize("payload,message", PROTOCOL_ERRORS)
def test_protocol_errors_reply_and_close(reference, ours, payload, message):
    reply, closed = assert_same_exchange(reference, ours, payload, mode="close")
    assert closed
    assert reply.endswith(b"-ERR Protocol error: " + message + b"\r\n")


NUL_WAITS = [
    b"*1\x00\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\x00\r\nPING\r\n",
    b"*1\r\n\x00\r\n",
    b"*2147483647\r\n",           # a valid count: the server waits for the bulks
    b"*1\r\n$4\r\nPI",
]


@pytest.mark.parametrize("payload", NUL_WAITS)
def test_incomplete_requests_wait(reference, ours, payload):
    assert assert_same_exchange(reference, ours, payload, mode="quiet") == (b"", False)


def test_nul_in_header_line_fails_once_too_big(reference, ours):
    payload = b"*1\x00" + b"x" * 70000
    reply, closed = assert_same_exchange(reference, ours, payload, mode="close")
    assert closed and reply == b"-ERR Protocol error: too big mbulk count string\r\n"


def test_http_request_is_dropped_silently(reference, ours):
    for payload in (b"PING\r\nPOST / HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"PING\r\nHost: example.com\r\n",
                    cmd("PING") + cmd("post"),
                    b"host:\r\n"):
        assert assert_same_exchange(reference, ours, payload, mode="close") == (b"", True)


def test_protocol_error_closes_only_that_client(ours):
    healthy = ours.raw()
    healthy.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n")      # half a command, finished later
    bad = ours.raw()
    bad.send(b"*1\r\n$x\r\n")
    assert bad.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    healthy.send(b"$1\r\nv\r\n")
    assert healthy.read_reply() == b"+OK\r\n"
    assert healthy.command("GET", "k") == b"$1\r\nv\r\n"
    healthy.close()
    other = ours.raw()
    assert other.command("PING") == b"+PONG\r\n"
    other.close()


# -- RESP3 -------------------------------------------------------------------------

RESP3_SCRIPT = [
    ["PING"], ["PING", "x"], ["ECHO", ""], ["GET", "missing"], ["SET", "s", "v"], ["GET", "s"],
    ["SET", "n", "10"], ["INCR", "n"], ["INCRBYFLOAT", "n", "1.5"], ["DEL", "s", "n"],
    ["EXISTS", "missing"], ["CONFIG", "GET", "maxclients"],
    ["CONFIG", "GET", "nosuch*"],
    ["TIME", "extra"], ["NOSUCH"], ["GET"], ["SET", "l", "x"], ["GETDEL", "nosuch"], ["MGET", "l", "missing"],
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_reply_shapes_resp2_and_resp3(reference, ours, resp3):
    assert_same(reference, ours, RESP3_SCRIPT, resp3=resp3)


PROTOCOL_TYPES = ["string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
                  "push", "verbatim", "true", "false", "nosuchtype"]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_every_reply_type(reference, ours, resp3):
    """DEBUG PROTOCOL emits one reply of each RESP type; the bytes must be Redis's."""
    script = [["DEBUG", "PROTOCOL", name] for name in PROTOCOL_TYPES]
    for server in (reference, ours):
        conn = server.raw()
        if resp3:
            conn.command("HELLO", "3")
        replies = []
        for step in script:
            replies.append(conn.command(*step))
            if step[2] in ("attrib", "push") and resp3:
                replies.append(conn.read_reply())    # the real reply after the out-of-band one
        conn.close()
        if server is reference:
            expected = replies
    assert replies == expected


def test_hello_3_switches_the_protocol_mid_connection(reference, ours):
    script = [["GET", "missing"], ["HELLO", "3"], ["GET", "missing"], ["CONFIG", "GET", "port"],
              ["HELLO", "2"], ["GET", "missing"], ["CONFIG", "GET", "timeout"]]
    for server in (reference, ours):
        conn = server.raw()
        replies = [conn.command(*step) for step in script]
        conn.close()
        assert replies[0] == b"$-1\r\n" and replies[2] == b"_\r\n" and replies[5] == b"$-1\r\n"
        assert replies[3].startswith(b"%1\r\n") and replies[6].startswith(b"*2\r\n")


# -- pipelining ----------------------------------------------------------------------

def test_pipeline_of_ten_thousand_commands_in_one_write(reference, ours):
    payload = b"".join(cmd("INCR", "counter") for _ in range(10000))
    reply, closed = assert_same_exchange(reference, ours, payload, setup=[("FLUSHALL",)])
    assert not closed
    assert reply == b"".join(b":%d\r\n" % i for i in range(1, 10001))


def test_mixed_inline_and_multibulk_pipeline(reference, ours):
    parts = []
    for i in range(2000):
        parts.append(cmd("SET", "k%d" % i, "v%d" % i) if i % 2 else b"SET k%d v%d\r\n" % (i, i))
        parts.append(b"GET k%d\n" % i if i % 3 else cmd("GET", "k%d" % i))
    assert_same_exchange(reference, ours, b"".join(parts), setup=[("FLUSHALL",)])


def test_client_disconnecting_mid_pipeline_is_cleaned_up(ours):
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", ours.port), timeout=5)
        sock.sendall(b"".join(cmd("SET", "k%d" % i, "x" * 100) for i in range(20000)))
        sock.close()                 # leave with most replies unread
    client = ours.client()
    deadline = time.monotonic() + 10
    while client.info("clients")["connected_clients"] != 1:
        assert time.monotonic() < deadline, "disconnected clients were not removed"
        time.sleep(0.05)
    assert client.ping()
    client.close()


# -- requests split across reads ------------------------------------------------------

SPLIT_STREAM = (
    cmd("SET", "key", b"a\r\nb\x00c") + b"GET key\r\n" + cmd("ECHO", "") +
    b'ECHO "q\\x41" \'z\'\r\n' + b"*0\r\n" + b"\r\n" + cmd("MGET", "key", "nokey") + b"PING\n"
)


def test_request_split_at_every_byte_boundary(reference, ours):
    expected = exchange(reference.port, SPLIT_STREAM, setup=[("FLUSHALL",)])
    assert not expected[1]
    for i in range(1, len(SPLIT_STREAM)):
        chunks = [SPLIT_STREAM[:i], SPLIT_STREAM[i:]]
        got = exchange(ours.port, chunks, pause=0.003, setup=[("FLUSHALL",)])
        assert got == expected, "split at byte %d" % i
    # Spot-check that the reference agrees when split too.
    for i in (1, 5, len(SPLIT_STREAM) // 2, len(SPLIT_STREAM) - 1):
        chunks = [SPLIT_STREAM[:i], SPLIT_STREAM[i:]]
        assert exchange(reference.port, chunks, pause=0.003, setup=[("FLUSHALL",)]) == expected


def test_request_sent_one_byte_per_read(reference, ours):
    chunks = [SPLIT_STREAM[i:i + 1] for i in range(len(SPLIT_STREAM))]
    expected = exchange(reference.port, SPLIT_STREAM, setup=[("FLUSHALL",)])
    assert exchange(ours.port, chunks, pause=0.001, setup=[("FLUSHALL",)]) == expected


def test_big_argument_arriving_in_many_reads(reference, ours):
    value = bytes(range(256)) * 4000       # ~1MB
    payload = cmd("SET", "big", value) + cmd("STRLEN", "big") + cmd("GET", "big")
    chunks = [payload[i:i + 65536] for i in range(0, len(payload), 65536)]
    reply, _ = assert_same_exchange(reference, ours, chunks, pause=0.001)
    assert reply.endswith(b"\r\n" + value + b"\r\n")


# -- limits ----------------------------------------------------------------------------

def _server_pair(*args):
    from harness import require_reference
    require_reference()
    return ServerProcess(list(args), reference=True), ServerProcess(list(args))


@pytest.fixture(scope="module")
def bulk_limited():
    """Reference and ours with proto-max-bulk-len at its minimum."""
    pair = _server_pair("--proto-max-bulk-len", "1mb")
    yield pair
    for proc in pair:
        proc.stop()


@pytest.fixture(scope="module")
def qbuf_limited():
    """Reference and ours with client-query-buffer-limit at its minimum."""
    pair = _server_pair("--client-query-buffer-limit", "1mb")
    yield pair
    for proc in pair:
        proc.stop()


def test_proto_max_bulk_len(bulk_limited):
    reference, ours = bulk_limited
    limit = 1024 * 1024
    reply, closed = assert_same_exchange(reference, ours, b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (limit + 1),
                                         mode="close")
    assert (reply, closed) == (b"-ERR Protocol error: invalid bulk length\r\n", True)
    reply, closed = assert_same_exchange(reference, ours, cmd("STRLEN", "x") + cmd("ECHO", b"y" * limit))
    assert not closed and reply.endswith(b"y" * limit + b"\r\n")


def test_proto_max_bulk_len_changed_at_runtime_applies_to_connected_clients(ours):
    conn = ours.raw()
    value = b"z" * (1024 * 1024 + 1)
    try:
        assert conn.command("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
        # the header alone: the length is refused before any of the bulk is read, and a body
        # sent after the server has closed would meet a reset
        conn.send(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % len(value))
        assert conn.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    finally:
        conn.close()
        restore = ours.raw()
        assert restore.command("CONFIG", "SET", "proto-max-bulk-len", "512mb") == b"+OK\r\n"
        restore.close()
    conn = ours.raw()
    assert conn.command("ECHO", value) == b"$%d\r\n%s\r\n" % (len(value), value)
    conn.close()


def test_client_query_buffer_limit_closes_the_client(qbuf_limited):
    reference, ours = qbuf_limited
    # A bulk below proto-max-bulk-len, but more unparsed input than the limit allows.
    payload = cmd("PING") + b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n" + b"v" * 1200000
    chunks = [payload[i:i + 100000] for i in range(0, len(payload), 100000)]
    for server in (reference, ours):
        watcher = server.raw()
        reply, closed = exchange(server.port, chunks, mode="close", pause=0.01)
        assert closed, "query buffer over the limit must close the client"
        assert reply in (b"", b"+PONG\r\n")      # the PING's reply may or may not have left
        assert watcher.command("EXISTS", "k") == b":0\r\n"     # the others keep working
        watcher.close()
        assert "Closing client that reached max query buffer length" in server.log()


def test_pipeline_bigger_than_the_query_buffer_limit(qbuf_limited):
    reference, ours = qbuf_limited
    # Parsed as it arrives, a long pipeline never holds the limit's worth of input.
    pipeline = b"".join(cmd("SET", "p%d" % i, "x" * 200) for i in range(15000))
    reply, closed = assert_same_exchange(reference, ours, pipeline)
    assert not closed and reply == b"+OK\r\n" * 15000


def test_unauthenticated_limits_with_requirepass(reference):
    from harness import require_reference
    require_reference()
    ref = ServerProcess(["--requirepass", "pw"], reference=True)
    mine = ServerProcess(["--requirepass", "pw"])
    try:
        many = b"*11\r\n" + b"$1\r\nx\r\n" * 11
        for payload, message in ((many, b"unauthenticated multibulk length"),
                                 (b"*1\r\n$16385\r\n", b"unauthenticated bulk length")):
            reply, closed = assert_same_exchange(ref, mine, payload, mode="close")
            assert (reply, closed) == (b"-ERR Protocol error: " + message + b"\r\n", True)
        # At the limits, and once authenticated, the same requests are fine.
        at_limit = b"*10\r\n$4\r\nECHO\r\n" + b"$1\r\nx\r\n" * 9
        assert assert_same_exchange(ref, mine, at_limit, mode="quiet") == (   # arity comes first
            b"-ERR wrong number of arguments for 'echo' command\r\n", False)
        assert assert_same_exchange(ref, mine, cmd("ECHO", b"x" * 16384), mode="quiet") == (
            b"-NOAUTH Authentication required.\r\n", False)
        assert_same_exchange(ref, mine, cmd("AUTH", "pw") + b"*11\r\n$4\r\nECHO\r\n" + b"$1\r\nx\r\n" * 10)
        assert_same_exchange(ref, mine, cmd("AUTH", "pw") + cmd("ECHO", b"x" * 20000))
    finally:
        ref.stop()
        mine.stop()


def _connected_clients(server):
    client = server.client()
    try:
        return client.info("clients")["connected_clients"]
    finally:
        client.close()


def _wait_clients(server, count):
    deadline = time.monotonic() + 10
    while _connected_clients(server) != count + 1:      # +1: the INFO connection itself
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_maxclients(reference):
    ref = ServerProcess(["--maxclients", "3"], reference=True)
    mine = ServerProcess(["--maxclients", "3"])
    try:
        results = []
        for server in (ref, mine):
            _wait_clients(server, 0)
            held = [server.raw() for _ in range(2)]
            for conn in held:
                assert conn.command("PING") == b"+PONG\r\n"
            third = server.raw()
            assert third.command("PING") == b"+PONG\r\n"
            refused = server.raw()
            results.append(refused.read_until_closed())
            refused.close()
            third.close()
            _wait_clients(server, 2)        # INFO's connection now fits beside the 2 held
            for conn in held:
                conn.close()
        assert results[0] == results[1] == b"-ERR max number of clients reached\r\n"
        info = mine.client().info("stats")
        assert info["rejected_connections"] >= 1
    finally:
        ref.stop()
        mine.stop()


def test_idle_clients_closed_by_timeout(reference):
    ref = ServerProcess(["--timeout", "1"], reference=True)
    mine = ServerProcess(["--timeout", "1"])
    try:
        for server in (ref, mine):
            idle = server.raw()
            busy = server.raw()
            assert idle.command("PING") == b"+PONG\r\n"
            start = time.monotonic()
            closed_at = None
            while time.monotonic() - start < 4:
                assert busy.command("PING") == b"+PONG\r\n"
                if closed_at is None:
                    idle.sock.settimeout(0.25)
                    try:
                        if idle.sock.recv(100) == b"":
                            closed_at = time.monotonic() - start
                    except socket.timeout:
                        pass
                else:
                    time.sleep(0.25)
            assert closed_at is not None and 1 <= closed_at <= 3.5, (server.reference, closed_at)
            busy.close()
    finally:
        ref.stop()
        mine.stop()


def _server_side_timer(port, client_port):
    """The kernel timer field of the server's end of a connection (/proc/net/tcp)."""
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if local_port == port and remote_port == client_port and fields[3] == "01":
            kind, ticks = fields[5].split(":")
            return int(kind, 16), int(ticks, 16)
    return None


@pytest.mark.parametrize("keepalive", ["0", "60"])
def test_tcp_keepalive(reference, keepalive):
    results = []
    for is_reference in (True, False):
        proc = ServerProcess(["--tcp-keepalive", keepalive], reference=is_reference)
        try:
            conn = RawConnection(proc.port)
            assert conn.command("PING") == b"+PONG\r\n"
            results.append(_server_side_timer(proc.port, conn.sock.getsockname()[1]))
            conn.close()
        finally:
            proc.stop()
    (ref_kind, ref_ticks), (our_kind, our_ticks) = results
    assert our_kind == ref_kind == (2 if keepalive != "0" else 0)   # 2: keepalive timer armed
    if keepalive != "0":
        assert abs(our_ticks - ref_ticks) < 300     # both probe after ~60 s of silence

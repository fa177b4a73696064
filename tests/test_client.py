"""CLIENT subcommands against Redis 7.0.15: replies, errors, LIST/INFO format, KILL, REPLY."""
import socket
import os
import time

import pytest

from differential import assert_same, run_script
from harness import RawConnection

CLIENT_ERRORS = [
    ["CLIENT"],
    ["CLIENT", "FOO"],
    ["client", "foo", "bar"],
    ["CLIENT", "HELP"],
    ["CLIENT", "HELP", "x"],
    ["CLIENT", "ID", "x"],
    ["CLIENT", "LIST", "ID", "1", "2"],
    ["CLIENT", "LIST", "ID", "99999", "0", "-1"],
    ["CLIENT", "LIST", "TYPE", "foo"],
    ["CLIENT", "LIST", "TYPE"],
    ["CLIENT", "LIST", "TYPE", "master"],
    ["CLIENT", "LIST", "TYPE", "replica"],
    ["CLIENT", "LIST", "TYPE", "slave"],
    ["CLIENT", "LIST", "TYPE", "pubsub"],
    ["CLIENT", "LIST", "ID", "x"],
    ["CLIENT", "LIST", "ID"],
    ["CLIENT", "LIST", "foo"],
    ["CLIENT", "LIST", "TYPE", "normal", "extra"],
    ["CLIENT", "INFO", "x"],
    ["CLIENT", "KILL"],
    ["CLIENT", "KILL", "1.2.3.4:5"],
    ["CLIENT", "KILL", "nonsense"],
    ["CLIENT", "KILL", "ID", "0"],
    ["CLIENT", "KILL", "ID", "-5"],
    ["CLIENT", "KILL", "ID", "abc"],
    ["CLIENT", "KILL", "ID", "99999"],
    ["CLIENT", "KILL", "foo", "bar"],
    ["CLIENT", "KILL", "USER", "nobody"],
    ["CLIENT", "KILL", "USER", "default", "ID", "99999"],
    ["CLIENT", "KILL", "ID", "9999", "SKIPME", "maybe"],
    ["CLIENT", "KILL", "ID", "9999", "TYPE"],
    ["CLIENT", "KILL", "TYPE", "bogus"],
    ["CLIENT", "KILL", "TYPE", "master"],
    ["CLIENT", "KILL", "TYPE", "replica", "SKIPME", "no"],
    ["CLIENT", "KILL", "ADDR", "1.2.3.4:5"],
    ["CLIENT", "KILL", "LADDR", "1.2.3.4:5"],
    ["CLIENT", "KILL", "MAXAGE", "10"],
    ["CLIENT", "PAUSE"],
    ["CLIENT", "PAUSE", "abc"],
    ["CLIENT", "PAUSE", "-1"],
    ["CLIENT", "PAUSE", "10", "foo"],
    ["CLIENT", "PAUSE", "10", "all", "x"],
    ["CLIENT", "PAUSE", "0"],
    ["CLIENT", "PAUSE", "0", "WRITE"],
    ["CLIENT", "UNPAUSE"],
    ["CLIENT", "UNPAUSE", "x"],
    ["CLIENT", "UNBLOCK"],
    ["CLIENT", "UNBLOCK", "x"],
    ["CLIENT", "UNBLOCK", "1", "foo"],
    ["CLIENT", "UNBLOCK", "99"],
    ["CLIENT", "UNBLOCK", "99", "ERROR"],
    ["CLIENT", "UNBLOCK", "99", "TIMEOUT", "x"],
    ["CLIENT", "REPLY"],
    ["CLIENT", "REPLY", "maybe"],
    ["CLIENT", "REPLY", "ON"],
    ["CLIENT", "NO-EVICT"],
    ["CLIENT", "NO-EVICT", "maybe"],
    ["CLIENT", "NO-EVICT", "on"],
    ["CLIENT", "NO-EVICT", "OFF"],
    ["CLIENT", "SETNAME"],
    ["CLIENT", "SETNAME", "a b"],
    ["CLIENT", "SETNAME", "new\nline"],
    ["CLIENT", "SETNAME", "\x7f"],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", "worker-1"],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", "~!@#$%^&*()"],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "SETNAME", ""],
    ["CLIENT", "GETNAME"],
    ["CLIENT", "GETNAME", "x"],
]


def test_client_replies_and_errors_match_redis(server, reference):
    assert_same(reference, server, CLIENT_ERRORS)


def test_client_errors_in_resp3(server, reference):
    assert_same(reference, server, [["CLIENT", "GETNAME"], ["CLIENT", "LIST", "ID", "99999"],
                                    ["CLIENT", "KILL", "ID", "99999"], ["CLIENT", "HELP"]],
                resp3=True)


LIST_FIELDS = ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags", "db", "sub", "psub",
               "ssub", "multi", "qbuf", "qbuf-free", "argv-mem", "multi-mem", "rbs", "rbp", "obl",
               "oll", "omem", "tot-mem", "events", "cmd", "user", "redir", "resp"]


def parse_line(line):
    pairs = [item.partition("=") for item in line.split(" ")]
    assert all(sep for _, sep, _ in pairs), line
    return [name for name, _, _ in pairs], {name: value for name, _, value in pairs}


def client_list(conn, *args):
    raw = conn.command("CLIENT", *args)
    header, _, rest = raw.partition(b"\r\n")
    body = rest[:-2]
    assert len(body) == int(header[1:])
    text = body.decode()
    assert text == "" or text.endswith("\n")
    return [parse_line(line) for line in text.split("\n") if line]


def test_client_list_fields_match_redis(server, reference):
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        conn.command("CLIENT", "SETNAME", "lister")
        conn.command("SELECT", "3")
        entries = client_list(conn, "LIST", "ID", client_id(conn))
        names, fields = entries[0]
        assert names == LIST_FIELDS, port
        assert fields["name"] == "lister"
        assert fields["db"] == "3"
        assert fields["flags"] == "N"
        assert fields["cmd"] == "client|list"
        assert fields["user"] == "default"
        assert fields["resp"] == "2"
        assert fields["multi"] == "-1" and fields["redir"] == "-1"
        assert fields["events"] == "r"
        host, port_text = fields["addr"].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port_text) == conn.sock.getsockname()[1]
        assert fields["laddr"] == "127.0.0.1:%d" % port
        assert int(fields["fd"]) > 0
        conn.close()


def client_id(conn):
    return int(conn.command("CLIENT", "ID")[1:-2])


def test_client_info_is_the_callers_line(server, reference):
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        conn.command("HELLO", "3")
        raw = conn.command("CLIENT", "INFO")
        assert raw.startswith(b"=")
        header, _, rest = raw.partition(b"\r\n")
        body = rest[:-2]
        assert len(body) == int(header[1:]) and body.startswith(b"txt:")
        names, fields = parse_line(body[4:].decode().rstrip("\n"))
        assert names == LIST_FIELDS
        assert fields["id"] == str(client_id(conn))
        assert fields["cmd"] == "client|info"
        assert fields["resp"] == "3"
        conn.close()


def test_client_list_shows_every_connection_and_last_command(server):
    a, b = server.raw(), server.raw()
    b_id = client_id(b)
    b.command("CLIENT", "SETNAME", "bee")
    b.command("GET", "x")
    entries = client_list(a, "LIST")
    by_id = {int(f["id"]): f for _, f in entries}
    assert by_id[b_id]["name"] == "bee"
    assert by_id[b_id]["cmd"] == "get"
    ids = [client_id(a), client_id(b)]
    only = client_list(a, "LIST", "ID", *ids)
    assert [int(f["id"]) for _, f in only] == ids
    assert client_list(a, "LIST", "TYPE", "normal")
    assert client_list(a, "LIST", "TYPE", "master") == []
    assert client_list(a, "LIST", "TYPE", "pubsub") == []
    a.close()
    b.close()


def test_client_no_evict_sets_the_e_flag(server, reference):
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        assert conn.command("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
        _, fields = client_list(conn, "LIST", "ID", client_id(conn))[0]
        assert fields["flags"] == "e"
        conn.command("CLIENT", "NO-EVICT", "off")
        _, fields = client_list(conn, "LIST", "ID", client_id(conn))[0]
        assert fields["flags"] == "N"
        conn.close()


def test_client_id_increases(server):
    a, b = server.raw(), server.raw()
    assert client_id(b) > client_id(a)
    a.close()
    b.close()


# -- CLIENT KILL ------------------------------------------------------------------

def _closed(conn, timeout=5.0):
    conn.sock.settimeout(timeout)
    try:
        return conn.sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("which", ["ours", "redis"])
def test_client_kill_old_form_closes_the_other_connection(server, reference, which):
    port = server.port if which == "ours" else reference.port
    killer, victim = RawConnection(port), RawConnection(port)
    assert victim.command("PING") == b"+PONG\r\n"     # accepted and registered
    addr = "127.0.0.1:%d" % victim.sock.getsockname()[1]
    assert killer.command("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert _closed(victim)
    assert killer.command("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
    killer.close()


@pytest.mark.parametrize("which", ["ours", "redis"])
def test_client_kill_filters_count(server, reference, which):
    port = server.port if which == "ours" else reference.port
    killer = RawConnection(port)
    victims = [RawConnection(port) for _ in range(3)]
    ids = [client_id(v) for v in victims]
    assert killer.command("CLIENT", "KILL", "ID", ids[0]) == b":1\r\n"
    assert _closed(victims[0])
    addr = "127.0.0.1:%d" % victims[1].sock.getsockname()[1]
    assert killer.command("CLIENT", "KILL", "ADDR", addr, "TYPE", "normal") == b":1\r\n"
    assert _closed(victims[1])
    # LADDR names the server side: everyone but the killer itself (SKIPME yes)
    laddr = "127.0.0.1:%d" % port
    reply = killer.command("CLIENT", "KILL", "LADDR", laddr, "ID", ids[2])
    assert reply == b":1\r\n"
    assert _closed(victims[2])
    # a filter set that matches only the caller, which SKIPME protects
    assert killer.command("CLIENT", "KILL", "ID", client_id(killer)) == b":0\r\n"
    assert killer.command("PING") == b"+PONG\r\n"
    killer.close()


@pytest.mark.parametrize("which", ["ours", "redis"])
def test_client_kill_self_replies_then_closes(server, reference, which):
    port = server.port if which == "ours" else reference.port
    conn = RawConnection(port)
    my_id = client_id(conn)
    conn.send(b"CLIENT KILL ID %d SKIPME no\r\nPING\r\n" % my_id)
    assert conn.read_until_closed() == b":1\r\n"
    conn.close()
    conn = RawConnection(port)
    addr = "127.0.0.1:%d" % conn.sock.getsockname()[1]
    conn.send(b"CLIENT KILL %s\r\nPING\r\n" % addr.encode())
    assert conn.read_until_closed() == b"+OK\r\n"
    conn.close()


def test_client_kill_user(server, reference):
    for port in (server.port, reference.port):
        killer, victim = RawConnection(port), RawConnection(port)
        assert victim.command("PING") == b"+PONG\r\n"
        count = int(killer.command("CLIENT", "KILL", "USER", "default")[1:-2])
        assert count >= 1
        assert _closed(victim)
        assert killer.command("PING") == b"+PONG\r\n"
        killer.close()


# -- CLIENT REPLY ------------------------------------------------------------------

def _stream(port, commands):
    """Pipeline commands then PING; everything the server sent before the PONG."""
    conn = RawConnection(port)
    payload = b"".join(command_bytes(c) for c in commands) + b"PING\r\n"
    conn.send(payload)
    data = b""
    conn.sock.settimeout(5)
    while not data.endswith(b"+PONG\r\n"):
        chunk = conn.sock.recv(65536)
        assert chunk, data
        data += chunk
    conn.close()
    return data


def command_bytes(args):
    from harness import encode_command
    return encode_command(args)


REPLY_SCRIPTS = [
    [["CLIENT", "REPLY", "OFF"], ["SET", "a", "1"], ["GET", "a"], ["NOSUCH"], ["GET"],
     ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["SET", "a", "2"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["NOSUCH"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "SKIP"], ["GET", "a"], ["GET", "a"]],
    [["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["GET", "a"],
     ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "SKIP"], ["CLIENT", "REPLY", "ON"], ["GET", "a"]],
    [["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "bogus"], ["CLIENT", "REPLY", "ON"]],
]


@pytest.mark.parametrize("script", REPLY_SCRIPTS, ids=[str(i) for i in range(len(REPLY_SCRIPTS))])
def test_client_reply_modes_match_redis(server, reference, script):
    ours = _stream(server.port, [["FLUSHALL"]] + script)
    theirs = _stream(reference.port, [["FLUSHALL"]] + script)
    assert ours == theirs


def test_client_reply_off_across_reads(server):
    conn = server.raw()
    conn.send(command_bytes(["CLIENT", "REPLY", "OFF"]))
    time.sleep(0.1)
    conn.send(command_bytes(["SET", "k", "v"]))
    time.sleep(0.1)
    conn.send(command_bytes(["CLIENT", "REPLY", "ON"]))
    assert conn.read_reply() == b"+OK\r\n"
    assert conn.command("GET", "k") == b"$1\r\nv\r\n"
    conn.close()


# -- CLIENT SETINFO (Redis 7.2, sent by clients on connect) -----------------------------

def test_client_setinfo(server):
    conn = server.raw()
    assert conn.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == b"+OK\r\n"
    assert conn.command("CLIENT", "SETINFO", "lib-ver", "5.0.0") == b"+OK\r\n"
    assert conn.command("CLIENT", "SETINFO", "other", "x") == (
        b"-ERR Unrecognized option 'other'\r\n")
    assert conn.command("CLIENT", "SETINFO", "lib-name", "a b") == (
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n")
    assert conn.command("CLIENT", "SETINFO", "lib-name") == (
        b"-ERR wrong number of arguments for 'client|setinfo' command\r\n")
    conn.close()


def test_redis_py_connects_and_names_itself(server):
    import redis
    client = redis.Redis(port=server.port, client_name="named-by-py", socket_timeout=10)
    assert client.client_getname() in ("named-by-py", b"named-by-py")
    info = client.client_info()
    assert info["name"] == "named-by-py"
    assert any(c["name"] == "named-by-py" for c in client.client_list())
    client.close()


def test_client_pause_returns_ok(server):
    conn = server.raw()
    assert conn.command("CLIENT", "PAUSE", "10", "WRITE") == b"+OK\r\n"
    assert conn.command("CLIENT", "UNPAUSE") == b"+OK\r\n"
    conn.close()


def test_client_unix_socket_flag(start_server, tmp_path):
    path = str(tmp_path / "pyredis.sock")
    ours = start_server("--unixsocket", path)
    # The unix socket is created right after the TCP port starts listening.
    deadline = time.monotonic() + 5
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(path)
    sock.sendall(b"CLIENT INFO\r\n")
    data = b""
    while not data.endswith(b"\n\r\n"):
        data += sock.recv(65536)
    line = data.split(b"\r\n", 1)[1].decode()
    _, fields = parse_line(line.rstrip("\r\n").rstrip("\n"))
    assert fields["flags"] == "U"
    assert fields["addr"].endswith(":0")
    sock.close()


def test_reply_buffer_shrinks_when_idle_and_grows_when_filled(server, reference):
    """CLIENT LIST's rbs as the clients cron resizes it: an idle client's buffer shrinks to
    1 KB once its peak restarts; big replies double it back to 16 KB, one tick at a time."""
    def rbs(admin, name):
        listing = admin.command("CLIENT", "LIST").decode()
        line = next(line for line in listing.split("\n") if "name=%s " % name in line)
        return int(line.split("rbs=")[1].split()[0])

    def wait_for(check, what):
        deadline = time.monotonic() + 5
        while not check():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    for srv in (reference, server):
        admin, tested = RawConnection(srv.port), RawConnection(srv.port)
        try:
            assert admin.command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100") == b"+OK\r\n"
            assert tested.command("CLIENT", "SETNAME", "tested") == b"+OK\r\n"
            assert rbs(admin, "tested") == 16384                     # a new client's
            wait_for(lambda: rbs(admin, "tested") == 1024, "the idle buffer shrinking")
            admin.command("SET", "bigval", "x" * 32768)
            assert admin.command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "NEVER") == b"+OK\r\n"
            seen = set()

            def grown():
                tested.command("GET", "bigval")
                seen.add(rbs(admin, "tested"))
                return 16384 in seen
            wait_for(grown, "the busy buffer growing")
            assert seen <= {1024, 2048, 4096, 8192, 16384}, seen
        finally:
            admin.command("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET")
            admin.command("DEL", "bigval")
            admin.close()
            tested.close()

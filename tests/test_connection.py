"""Connection commands (PING, ECHO, SELECT, SWAPDB, QUIT, RESET, AUTH, HELLO)
byte for byte against Redis 7.0.15, in RESP2 and RESP3, and redis-py 5+
clients that open with HELLO 3."""
import re
import socket
import time

import pytest
import redis

from differential import assert_same_exchange, run_script
from harness import ServerProcess, encode_command, require_reference


@pytest.fixture(scope="module")
def ours():
    proc = ServerProcess()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def protected_pair():
    """Reference and ours with `requirepass secret`."""
    require_reference()
    pair = (ServerProcess(["--requirepass", "secret"], reference=True),
            ServerProcess(["--requirepass", "secret"]))
    yield pair
    for proc in pair:
        proc.stop()


ID_FIELD = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")


def mask_ids(reply):
    """Client ids depend on how many connections a server has seen; HELLO's is masked."""
    return ID_FIELD.sub(rb"\1:<id>\r\n", reply)


def assert_same_masked(reference, ours, script, resp3=False):
    expected = run_script(reference.port, script, resp3)
    actual = run_script(ours.port, script, resp3)
    for step, want, got in zip(script, expected, actual):
        assert mask_ids(got) == mask_ids(want), "command %r: redis %r, ours %r" % (step, want, got)
    assert len(expected) == len(actual) == len(script)
    return len(script)


SCRIPTS = {
    "ping": [["PING"], ["PING", "x"], ["PING", ""], ["PING", b"\x00\xff"], ["PING", "a", "b"],
             ["ping"], ["PiNg", "hello world"]],
    "echo": [["ECHO"], ["ECHO", "a", "b"], ["ECHO", ""], ["ECHO", b"bin\x00\r\n\xff"],
             ["ECHO", "x" * 10000]],
    "select": [["SELECT", "1"], ["SET", "k", "db1"], ["SELECT", "0"], ["GET", "k"], ["SELECT", "1"],
               ["GET", "k"], ["SELECT", "15"], ["SELECT", "16"], ["SELECT", "-1"], ["SELECT", "x"],
               ["SELECT", "1.5"], ["SELECT", ""], ["SELECT"], ["SELECT", "1", "2"],
               ["SELECT", "99999999999999999999"], ["SELECT", " 1"], ["SELECT", "01"],
               ["SELECT", "+1"], ["SELECT", "-0"], ["SELECT", "0"]],
    "swapdb": [["SET", "a", "in0"], ["SELECT", "1"], ["SET", "b", "in1"], ["SWAPDB", "0", "1"],
               ["GET", "a"], ["GET", "b"], ["SELECT", "0"], ["GET", "a"], ["GET", "b"],
               ["SWAPDB", "0", "0"], ["GET", "b"], ["SWAPDB", "0", "16"], ["SWAPDB", "16", "0"],
               ["SWAPDB", "x", "1"], ["SWAPDB", "0", "x"], ["SWAPDB", "-1", "0"], ["SWAPDB", "0"],
               ["SWAPDB", "1", "0", "2"], ["SWAPDB", "1.0", "0"], ["DBSIZE"]],
    "auth_without_password": [["AUTH", "x"], ["AUTH", "default", "x"], ["AUTH", "default", ""],
                              ["AUTH", "nobody", "x"], ["AUTH", "a", "b", "c"], ["AUTH"],
                              ["PING"]],
    "hello": [["HELLO"], ["HELLO", "2"], ["HELLO", "3"], ["HELLO"], ["HELLO", "2"], ["HELLO", "1"],
              ["HELLO", "4"], ["HELLO", "0"], ["HELLO", "x"], ["HELLO", "-1"], ["HELLO", "3.0"],
              ["HELLO", " 3"], ["HELLO", "03"], ["HELLO", "+3"], ["HELLO", ""],
              ["HELLO", "99999999999999999999999"], ["HELLO", "2", "SETNAME"],
              ["HELLO", "2", "SETNAME", "a b"], ["HELLO", "2", "SETNAME", "abc"], ["CLIENT", "GETNAME"],
              ["HELLO", "2", "AUTH", "default"], ["HELLO", "2", "AUTH", "default", "x"],
              ["HELLO", "2", "AUTH", "bob", "x"], ["HELLO", "2", "FOO"], ["HELLO", "2", "foo", "bar"],
              ["HELLO", "AUTH", "default", "x"], ["HELLO", "3", "SETNAME", "n1", "FOO"],
              ["CLIENT", "GETNAME"], ["HELLO", "2", "setname", "x", "setname", "y"],
              ["CLIENT", "GETNAME"], ["HELLO", "2", "SETNAME", ""], ["CLIENT", "GETNAME"],
              ["HELLO", "3", "auth", "default", "", "setname", "z"], ["CLIENT", "GETNAME"],
              ["HELLO", "2", b"OPT\xff"]],
    "resp3_replies": [["HELLO", "3"], ["PING"], ["ECHO", "x"], ["GET", "nokey"], ["SET", "a", "b"],
                      ["GET", "a"], ["HELLO"], ["HELLO", "2"], ["GET", "nokey"],
                      ["HELLO", "3"], ["CONFIG", "GET", "maxclients"], ["SELECT", "x"]],
    "reset": [["HELLO", "3"], ["SELECT", "2"], ["SET", "r", "1"], ["CLIENT", "SETNAME", "before"],
              ["RESET"], ["GET", "r"], ["CLIENT", "GETNAME"], ["HELLO"], ["RESET", "x"], ["reset"]],
    # Outside cluster mode both are refused; ACL rules may still name them.
    "readonly_readwrite": [["READONLY"], ["READWRITE"], ["readonly", "x"], ["READWRITE", "x"],
                           ["ACL", "SETUSER", "reader", "on", "nopass", "+readonly"],
                           ["ACL", "DRYRUN", "reader", "READONLY"],
                           ["ACL", "DRYRUN", "reader", "READWRITE"],
                           ["ACL", "DRYRUN", "reader", "EVAL_RO", "", "0"],
                           ["ACL", "DELUSER", "reader"]],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_connection_commands_match_redis(reference, ours, name, resp3):
    assert_same_masked(reference, ours, SCRIPTS[name], resp3)


def test_hello_id_is_the_client_id(ours):
    conn = ours.raw()
    client_id = int(conn.command("CLIENT", "ID")[1:-2])
    assert b"$2\r\nid\r\n:%d\r\n" % client_id in conn.command("HELLO", "3")
    conn.close()


def test_first_client_id_matches_a_fresh_redis():
    require_reference()
    ids = []
    for is_reference in (True, False):
        proc = ServerProcess(reference=is_reference)     # the start-up probe is connection one
        try:
            conn = proc.raw()
            ids.append(conn.command("CLIENT", "ID"))
            conn.close()
        finally:
            proc.stop()
    assert ids[0] == ids[1]


def test_quit_replies_ok_and_closes_before_the_rest(reference, ours):
    for payload in (encode_command(["QUIT"]) + encode_command(["SET", "after", "quit"]),
                    b"QUIT extra args\r\nPING\r\n", b"quit\n"):
        reply, closed = assert_same_exchange(reference, ours, payload, mode="close")
        assert (reply, closed) == (b"+OK\r\n", True)
    check = ours.raw()
    assert check.command("EXISTS", "after") == b":0\r\n"
    check.close()


def test_reset_leaves_resp3_and_selected_db(ours):
    conn = ours.raw()
    conn.command("HELLO", "3")
    conn.command("SELECT", "3")
    assert conn.command("RESET") == b"+RESET\r\n"
    assert conn.command("GET", "nokey") == b"$-1\r\n"          # RESP2 again
    assert conn.command("CLIENT", "INFO").find(b" db=0 ") > 0
    conn.close()


# -- with requirepass ----------------------------------------------------------------

AUTH_SCRIPTS = {
    "auth": [["PING"], ["GET", "x"], ["AUTH", "wrong"], ["AUTH", "default", "wrong"],
             ["AUTH", "nobody", "secret"], ["AUTH", "DEFAULT", "secret"], ["GET", "x"],
             ["AUTH", "secret"], ["GET", "x"], ["AUTH", "wrong"], ["GET", "x"],
             ["AUTH", "default", "secret"], ["AUTH", "a", "b", "c"]],
    "hello": [["HELLO"], ["HELLO", "3"], ["HELLO", "3", "SETNAME", "foo"], ["CLIENT", "GETNAME"],
              ["HELLO", "3", "AUTH", "default", "bad"], ["HELLO", "2", "AUTH", "default"],
              ["HELLO", "3", "AUTH", "default", "secret", "SETNAME", "bar"], ["CLIENT", "GETNAME"],
              ["GET", "x"], ["HELLO"]],
    "hello_auth_then_bad_option": [["HELLO", "3", "AUTH", "default", "secret", "BAD"], ["GET", "x"],
                                   ["HELLO", "2", "AUTH", "default", "nope"], ["GET", "x"]],
    "reset_forgets_auth": [["AUTH", "secret"], ["SELECT", "1"], ["RESET"], ["GET", "x"],
                           ["SELECT", "1"]],
    "unauthenticated_commands": [["ECHO", "x"], ["SELECT", "1"], ["NOSUCHCMD"], ["GET"],
                                 ["CONFIG", "GET", "port"], ["SWAPDB", "0", "1"],
                                 ["CLIENT", "ID"], ["RESET"], ["QUIT"]],
}


@pytest.mark.parametrize("name", sorted(AUTH_SCRIPTS))
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_with_requirepass_match_redis(protected_pair, name, resp3):
    reference, ours = protected_pair
    script = AUTH_SCRIPTS[name]
    if resp3:
        script = [["HELLO", "3", "AUTH", "default", "secret"], ["RESET"]] + script
    expected = _run_unauthenticated(reference.port, script)
    actual = _run_unauthenticated(ours.port, script)
    assert [mask_ids(r) for r in actual] == [mask_ids(r) for r in expected]


def _run_unauthenticated(port, script):
    # run_script would FLUSHALL first, which an unauthenticated client may not.
    from harness import RawConnection
    conn = RawConnection(port)
    try:
        return [conn.command(*step) for step in script]
    finally:
        conn.close()


# -- redis-py ---------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_clients(ours, protocol):
    client = redis.Redis(port=ours.port, protocol=protocol, socket_timeout=10)
    try:
        assert client.ping() is True
        assert client.set("py", "value") is True
        assert client.get("py") == b"value"
        assert client.echo("hi") == b"hi"
        hello = client.execute_command("HELLO")
        if protocol == 3:
            assert isinstance(hello, dict) and hello[b"proto"] == 3
        else:
            assert isinstance(hello, list) and hello[hello.index(b"proto") + 1] == 2
        assert client.client_id() > 0
        client.select(1)
        assert client.get("py") is None
    finally:
        client.close()


def test_redis_py_protocol_3_with_password(protected_pair):
    _, ours = protected_pair
    client = redis.Redis(port=ours.port, protocol=3, password="secret", socket_timeout=10)
    assert client.ping() is True
    assert client.set("k", "v") and client.get("k") == b"v"
    client.close()
    client = redis.Redis(port=ours.port, protocol=3, username="default", password="secret",
                         socket_timeout=10)
    assert client.ping() is True
    client.close()
    wrong = redis.Redis(port=ours.port, protocol=3, password="nope", socket_timeout=10)
    with pytest.raises(redis.AuthenticationError):
        wrong.ping()
    wrong.close()
    anonymous = redis.Redis(port=ours.port, socket_timeout=10)
    with pytest.raises(redis.AuthenticationError):
        anonymous.get("k")
    anonymous.close()


# -- the accept queue ------------------------------------------------------------------

def _connections_queued_while_busy(proc, count):
    """Connections whose handshake completes while the server sleeps in DEBUG SLEEP: they
    wait in the listen backlog (tcp-backlog) until it accepts them."""
    busy = socket.create_connection(("127.0.0.1", proc.port), timeout=10)
    waiting = []
    try:
        busy.sendall(encode_command(["DEBUG", "SLEEP", "3"]))
        time.sleep(0.3)
        completed = 0
        for _ in range(count):
            sock = socket.socket()
            sock.settimeout(0.5)     # a full queue drops the SYN: the retry comes after 1 s
            try:
                sock.connect(("127.0.0.1", proc.port))
                completed += 1
            except OSError:
                pass
            waiting.append(sock)
        return completed
    finally:
        busy.settimeout(10)
        busy.recv(100)
        busy.close()
        for sock in waiting:
            sock.close()


def test_tcp_backlog_holds_connections_made_while_the_server_is_busy(reference):
    """The default tcp-backlog of 511 queues 300 connections made while the server is busy,
    on both servers (an event loop listening with its own default of 100 queued ~100)."""
    ours = ServerProcess(["--enable-debug-command", "yes"])
    theirs = ServerProcess(["--enable-debug-command", "yes"], reference=True)
    try:
        assert _connections_queued_while_busy(theirs, 300) == 300
        assert _connections_queued_while_busy(ours, 300) == 300
    finally:
        ours.stop()
        theirs.stop()

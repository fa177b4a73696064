"""DEBUG against Redis 7.0.15: HELP, PROTOCOL, DIGEST, OBJECT, SLEEP, SET-ACTIVE-EXPIRE, errors."""
import re
import threading
import time

import pytest

from differential import assert_same, run_script
from harness import RawConnection, ServerProcess, require_reference


def test_debug_help_and_errors(server, reference):
    assert_same(reference, server, [
        ["DEBUG", "HELP"],
        ["debug", "help"],
        ["DEBUG"],
        ["DEBUG", "foo"],
        ["DEBUG", "jmap"],
        ["DEBUG", "HELP", "extra"],
        ["DEBUG", "object"],
        ["DEBUG", "object", "a", "b"],
        ["DEBUG", "object", "nokey"],
        ["DEBUG", "sleep"],
        ["DEBUG", "digest", "extra"],
        ["DEBUG", "protocol"],
        ["DEBUG", "protocol", "nope"],
        ["DEBUG", "protocol", "STRING", "x"],
        ["DEBUG", "reload", "bad"],
        ["DEBUG", "reload", "merge", "bad"],
        ["DEBUG", "populate", "-1"],
        ["DEBUG", "populate", "x"],
        ["DEBUG", "populate", "1", "a", "b", "c"],
        ["DEBUG", "error", "a custom error"],
        ["DEBUG", "error", "ERR with\nnewline"],
        ["DEBUG", "quicklist-packed-threshold", "abc"],
        ["DEBUG", "quicklist-packed-threshold", "5gb"],
        ["DEBUG", "set-active-expire"],
        ["DEBUG", "change-repl-id", "x"],
        ["DEBUG", "log", "hello from the tests"],
        ["DEBUG", "stringmatch-test"],
    ], timeout=120)     # Redis's stringmatch-test runs its matcher for seconds (10 s on a busy machine)


PROTOCOL_TYPES = ["string", "integer", "double", "bignum", "null", "array", "set", "map",
                  "attrib", "verbatim", "true", "false", "nope", "PUSH"]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_debug_protocol_replies(server, reference, resp3):
    script = [["DEBUG", "PROTOCOL", name] for name in PROTOCOL_TYPES if name != "PUSH"]
    assert_same(reference, server, script, resp3=resp3)


def test_debug_protocol_push_is_two_replies_in_resp3(server, reference):
    def run(port):
        conn = RawConnection(port)
        conn.command("HELLO", "3")
        conn.send(b"*3\r\n$5\r\nDEBUG\r\n$8\r\nPROTOCOL\r\n$4\r\npush\r\n")
        out = conn.read_reply() + conn.read_reply()
        conn.close()
        return out
    assert run(server.port) == run(reference.port)
    assert_same(reference, server, [["DEBUG", "PROTOCOL", "push"]])


DATASETS = {
    "empty": [],
    "one string": [["SET", "k", "v"]],
    "strings": [["SET", "a", "100"], ["SET", "b", "hello"], ["SET", "c", "x" * 100],
                ["SET", "", "empty key"], ["SET", "empty value", ""],
                ["SET", b"\x00\xff binary", b"\r\n\x00"], ["SET", "neg", "-5"],
                ["SET", "big", "12345678901234567890"]],
    "with expiry": [["SET", "a", "1"], ["SET", "b", "2", "EX", "1000"],
                    ["SET", "c", "3", "PX", "99999999"]],
    "several dbs": [["SET", "a", "1"], ["SELECT", "1"], ["SET", "a", "1"], ["SELECT", "15"],
                    ["SET", "z", "zz"]],
    "same data in another db": [["SELECT", "2"], ["SET", "k", "v"]],
    "appended": [["SET", "a", "hello"], ["APPEND", "a", " world"], ["SETRANGE", "b", "3", "x"]],
}


@pytest.mark.parametrize("name", list(DATASETS))
def test_debug_digest_equals_redis(server, reference, name):
    script = DATASETS[name] + [["DEBUG", "DIGEST"], ["SELECT", "0"],
                               ["DEBUG", "DIGEST-VALUE", "a", "b", "c", "k", "nokey"],
                               ["DEBUG", "DIGEST-VALUE"]]
    assert_same(reference, server, script)
    if name == "empty":
        assert run_script(server.port, [["DEBUG", "DIGEST"]]) == [b"+" + b"0" * 40 + b"\r\n"]


def test_debug_digest_changes_with_data(r):
    empty = r.execute_command("DEBUG", "DIGEST")
    r.set("a", "1")
    one = r.execute_command("DEBUG", "DIGEST")
    r.set("a", "2")
    two = r.execute_command("DEBUG", "DIGEST")
    r.expire("a", 100)
    expiring = r.execute_command("DEBUG", "DIGEST")
    assert len({empty, one, two, expiring}) == 4
    r.persist("a")
    assert r.execute_command("DEBUG", "DIGEST") == two


def _object_fields(reply):
    text = reply.decode()
    match = re.fullmatch(r"\+Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\S+) "
                         r"serializedlength:(\d+) lru:(\d+) lru_seconds_idle:(\d+)( [^\r]*)?\r\n", text)
    assert match, text
    return match.groups()


@pytest.mark.parametrize("value", ["100", "-5", "123456789", "4294967296", "hello",
                                   "12345678901234567890", "x" * 20, "", "9999", "10000",
                                   "-1", "01", "1.5", "a" * 100, "ab" * 11, "x" * 21,
                                   "".join(chr(33 + (i * 37) % 90) for i in range(80))])
def test_debug_object_strings_match_redis(server, reference, value):
    script = [["SET", "k", value], ["DEBUG", "OBJECT", "k"]]
    ours = run_script(server.port, script)
    theirs = run_script(reference.port, script)
    our_fields, their_fields = _object_fields(ours[1]), _object_fields(theirs[1])
    # refcount, encoding and serialized length are exact; lru is a clock
    assert our_fields[:3] == their_fields[:3]
    assert abs(int(our_fields[3]) - int(their_fields[3])) < 600


@pytest.mark.parametrize("build", [
    ["RPUSH", "k", "a", "b", "c", "1", "2", "3"],
    ["RPUSH", "k"] + ["element-%d" % i for i in range(200)],
    ["HSET", "k", "f", "v", "g", "12"],
    ["HSET", "k"] + ["f%d" % i if j == 0 else "v" * 70 for i in range(3) for j in range(2)],
    ["SADD", "k", "1", "2", "3", "70000", "5000000000"],
    ["SADD", "k", "a", "b", "c"],
    ["ZADD", "k", "1", "a", "2.5", "b", "-3", "c"],
    ["ZADD", "k"] + [x for i in range(200) for x in (str(i), "m%d" % i)],
])
def test_debug_object_aggregates_match_redis(server, reference, build):
    """serializedlength of other types is the size of their RDB encoding, as in Redis."""
    script = [["DEL", "k"], build, ["DEBUG", "OBJECT", "k"]]
    ours = run_script(server.port, script)
    theirs = run_script(reference.port, script)
    assert _object_fields(ours[2])[:3] == _object_fields(theirs[2])[:3]


def test_debug_object_after_append_is_raw(server, reference):
    script = [["SET", "k", "hello"], ["APPEND", "k", "x"], ["DEBUG", "OBJECT", "k"]]
    ours = run_script(server.port, script)
    theirs = run_script(reference.port, script)
    assert _object_fields(ours[2])[:3] == _object_fields(theirs[2])[:3]


def test_debug_object_idle_time_of_fresh_key(r):
    r.set("fresh", "some text")
    fields = _object_fields(b"+" + r.execute_command("DEBUG", "OBJECT", "fresh") + b"\r\n")
    assert fields[4] == "0"


def test_debug_sleep_blocks_the_whole_server(server):
    sleeper = server.raw()
    other = server.raw()
    sleeper.send(b"DEBUG SLEEP 0.6\r\n")
    time.sleep(0.1)
    start = time.monotonic()
    assert other.command("PING") == b"+PONG\r\n"
    waited = time.monotonic() - start
    assert sleeper.read_reply() == b"+OK\r\n"
    assert waited >= 0.3
    sleeper.close()
    other.close()


@pytest.mark.parametrize("kind", ["ours", "redis"])
def test_watchdog_logs_a_loop_held_longer_than_its_period(start_server, kind):
    """watchdog-period: a loop held up longer than the period (DEBUG SLEEP) logs Redis's
    WATCHDOG TIMER EXPIRED lines; a loop that runs its cron, or period 0, logs nothing."""
    if kind == "redis":
        require_reference()
    srv = start_server("--enable-debug-command", "yes", reference=(kind == "redis"))
    conn = srv.raw()
    try:
        assert conn.command("CONFIG", "SET", "watchdog-period", "200") == b"+OK\r\n"
        time.sleep(0.5)                        # the cron keeps pushing the alarm back
        assert "WATCHDOG TIMER EXPIRED" not in srv.log()
        assert conn.command("DEBUG", "SLEEP", "0.5") == b"+OK\r\n"
        srv.wait_for_log("--- WATCHDOG TIMER EXPIRED ---", timeout=5)
        assert conn.command("CONFIG", "SET", "watchdog-period", "0") == b"+OK\r\n"
        logged = srv.log().count("WATCHDOG TIMER EXPIRED")
        assert conn.command("DEBUG", "SLEEP", "0.5") == b"+OK\r\n"
        assert conn.command("PING") == b"+PONG\r\n"
        assert srv.log().count("WATCHDOG TIMER EXPIRED") == logged
    finally:
        conn.close()


def test_debug_sleep_zero_and_garbage_reply_at_once(server, reference):
    assert_same(reference, server, [["DEBUG", "SLEEP", "0"], ["DEBUG", "SLEEP", "abc"],
                                    ["DEBUG", "SLEEP", "-1"], ["DEBUG", "SLEEP", "0.01"]])


def test_set_active_expire_stops_and_restarts_active_expiry(r):
    assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"OK"
    try:
        r.set("gone", "1", px=50)
        time.sleep(0.5)
        # nobody touched the key: still in the keyspace
        assert r.dbsize() == 1
    finally:
        assert r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"OK"
    deadline = time.monotonic() + 5
    while r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 0


def test_debug_populate_matches_redis(server, reference):
    script = [["DEBUG", "POPULATE", "5"], ["DBSIZE"], ["GET", "key:0"], ["GET", "key:4"],
              ["DEBUG", "POPULATE", "3", "pre", "20"], ["GET", "pre:1"],
              ["DEBUG", "POPULATE", "2", "pre", "3"], ["GET", "pre:1"],
              ["SET", "x:0", "mine"], ["DEBUG", "POPULATE", "2", "x"], ["GET", "x:0"],
              ["DEBUG", "DIGEST"]]
    assert_same(reference, server, script)


def test_debug_change_repl_id(server):
    def replication():
        conn = server.raw()
        raw = conn.command("INFO", "replication").decode()
        conn.close()
        return dict(line.split(":", 1) for line in raw.split("\r\n")[1:] if ":" in line)
    before = replication()["master_replid"]
    conn = server.raw()
    assert conn.command("DEBUG", "CHANGE-REPL-ID") == b"+OK\r\n"
    conn.close()
    after = replication()
    assert after["master_replid"] != before
    assert re.fullmatch(r"[0-9a-f]{40}", after["master_replid"])
    assert after["master_replid2"] == "0" * 40


def test_debug_refused_when_disabled(start_server):
    import shutil
    ours = start_server("--enable-debug-command", "no")
    script = [["DEBUG", "HELP"], ["DEBUG", "SLEEP", "0"], ["DEBUG"]]
    if shutil.which("redis-server") is None:
        pytest.skip("reference redis-server not installed")
    theirs = ServerProcess(["--enable-debug-command", "no"], reference=True)
    try:
        assert_same(theirs, ours, script)
    finally:
        theirs.stop()


def test_debug_allowed_locally_with_local_setting(start_server):
    ours = start_server("--enable-debug-command", "local")
    conn = ours.raw()
    assert conn.command("DEBUG", "SLEEP", "0") == b"+OK\r\n"
    conn.close()


def test_debug_sleep_does_not_hold_other_replies_back(server):
    results = []

    def ping_later():
        conn = server.raw()
        time.sleep(0.05)
        results.append(conn.command("PING"))
        conn.close()

    thread = threading.Thread(target=ping_later)
    conn = server.raw()
    thread.start()
    assert conn.command("DEBUG", "SLEEP", "0.2") == b"+OK\r\n"
    thread.join(10)
    assert results == [b"+PONG\r\n"]
    conn.close()

"""CONFIG GET/SET/RESETSTAT/REWRITE/HELP against Redis 7.0.15, byte for byte where deterministic."""
import os
import socket

import pytest

from differential import assert_same, run_script
from harness import RawConnection, ServerProcess, free_port

# Values that legitimately differ between two servers started side by side.
PER_PROCESS = {"port", "dir", "logfile", "pidfile"}


def config_map(port, *patterns):
    """CONFIG GET as a dict of str -> str."""
    import redis
    client = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
    try:
        return client.config_get(*patterns)
    finally:
        client.close()


def test_config_get_star_lists_the_same_directives_with_the_same_defaults(server, reference):
    ours = config_map(server.port, "*")
    theirs = config_map(reference.port, "*")
    assert sorted(ours) == sorted(theirs)
    for name in theirs:
        if name not in PER_PROCESS:
            assert ours[name] == theirs[name], name


def test_config_get_hidden_directives_need_an_exact_name(server, reference):
    script = [["CONFIG", "GET", name] for name in (
        "key-load-delay", "rdb-key-save-delay", "watchdog-period", "use-exit-on-panic",
        "loading-process-events-interval-bytes")]
    script += [["CONFIG", "GET", "key-load-*"], ["CONFIG", "GET", "*delay"]]
    assert_same(reference, server, [s for s in script if s[2] != "*delay"])
    assert set(config_map(server.port, "*delay")) == set(config_map(reference.port, "*delay"))


EXACT_GETS = [
    "maxmemory", "MAXMEMORY", "MaxMemory-Policy", "slaveof", "replicaof", "slave-read-only",
    "replica-read-only", "lua-time-limit", "busy-reply-threshold", "hash-max-ziplist-entries",
    "hash-max-listpack-entries", "client-output-buffer-limit", "save", "bind", "appendonly",
    "notify-keyspace-events", "unixsocketperm", "latency-tracking-info-percentiles",
    "oom-score-adj-values", "shutdown-on-sigint", "maxmemory-clients", "proto-max-bulk-len",
    "tls-port", "tls-auth-clients", "nonexistent", "", "requirepass", "masterauth",
    "enable-debug-command", "databases", "hz", "list-max-ziplist-size", "supervised",
    "repl-diskless-load", "sanitize-dump-payload", "propagation-error-behavior",
]


def test_config_get_exact_names_and_aliases(server, reference):
    assert_same(reference, server, [["CONFIG", "GET", name] for name in EXACT_GETS])


def test_config_get_several_patterns_deduplicate(server, reference):
    script = [
        ["CONFIG", "GET", "maxmemory", "maxmemory"],
        ["CONFIG", "GET", "maxmemory", "MAXMEMORY"],
        ["CONFIG", "GET", "maxmemory", "nonexistent", "timeout"],
    ]
    for step in script:
        ours = run_script(server.port, [step])[0]
        theirs = run_script(reference.port, [step])[0]
        # map order is the server's hash order: compare as sets of lines
        assert sorted(ours.split(b"\r\n")) == sorted(theirs.split(b"\r\n")), step
    for patterns in (["maxmemory*", "*policy"], ["slave*"], ["*ziplist*"], ["[mn]axmemory*"],
                     ["repl-*", "replica-*"], ["*"], ["*max*", "*max-*"], ["?z"]):
        theirs = config_map(reference.port, *patterns)
        ours = config_map(server.port, *patterns)
        assert sorted(ours) == sorted(theirs), patterns
        assert {k: v for k, v in ours.items() if k not in PER_PROCESS} == {
            k: v for k, v in theirs.items() if k not in PER_PROCESS}, patterns


def test_config_get_resp3_is_a_map(server, reference):
    assert_same(reference, server, [["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "timeout"],
                                    ["CONFIG", "GET", "nonexistent"]], resp3=True)


SET_ERRORS = [
    ["CONFIG", "SET", "maxmemory", "abc"],
    ["CONFIG", "SET", "maxmemory", "-1"],
    ["CONFIG", "SET", "maxmemory", "1.5gb"],
    ["CONFIG", "SET", "maxmemory", " 1"],
    ["CONFIG", "SET", "maxmemory", "+1"],
    ["CONFIG", "SET", "maxmemory", "10xb"],
    ["CONFIG", "SET", "MAXMEMORY", "xyz"],
    ["CONFIG", "SET", "port", "-1"],
    ["CONFIG", "SET", "port", "65536"],
    ["CONFIG", "SET", "port", "abc"],
    ["CONFIG", "SET", "maxclients", "0"],
    ["CONFIG", "SET", "maxclients", "-1"],
    ["CONFIG", "SET", "maxclients", "4294967296"],
    ["CONFIG", "SET", "timeout", "+1"],
    ["CONFIG", "SET", "timeout", "01"],
    ["CONFIG", "SET", "timeout", "0x10"],
    ["CONFIG", "SET", "timeout", ""],
    ["CONFIG", "SET", "timeout", "-1"],
    ["CONFIG", "SET", "timeout", "99999999999999999999"],
    ["CONFIG", "SET", "hz", "-5"],
    ["CONFIG", "SET", "slowlog-log-slower-than", "-2"],
    ["CONFIG", "SET", "list-max-listpack-size", "-99999999999"],
    ["CONFIG", "SET", "active-defrag-cycle-min", "100"],
    ["CONFIG", "SET", "maxmemory-clients", "101%"],
    ["CONFIG", "SET", "maxmemory-clients", "-5"],
    ["CONFIG", "SET", "maxmemory-clients", "abc%"],
    ["CONFIG", "SET", "proto-max-bulk-len", "1000"],
    ["CONFIG", "SET", "client-query-buffer-limit", "1kb"],
    ["CONFIG", "SET", "repl-backlog-size", "0"],
    ["CONFIG", "SET", "daemonize", "yes"],
    ["CONFIG", "SET", "DAEMONIZE", "yes"],
    ["CONFIG", "SET", "databases", "4"],
    ["CONFIG", "SET", "unixsocketperm", "777"],
    ["CONFIG", "SET", "appendfilename", "x"],
    ["CONFIG", "SET", "logfile", "x"],
    ["CONFIG", "SET", "replicaof", "no one"],
    ["CONFIG", "SET", "slaveof", "127.0.0.1 1"],
    ["CONFIG", "SET", "cluster-enabled", "yes"],
    ["CONFIG", "SET", "enable-debug-command", "no"],
    ["CONFIG", "SET", "dir", "/tmp"],
    ["CONFIG", "SET", "dbfilename", "a/b"],
    ["CONFIG", "SET", "slave-read-only", "maybe"],
    ["CONFIG", "SET", "appendonly", "1"],
    ["CONFIG", "SET", "protected-mode", ""],
    ["CONFIG", "SET", "maxmemory-policy", "foo"],
    ["CONFIG", "SET", "loglevel", "loud"],
    ["CONFIG", "SET", "appendfsync", "sometimes"],
    ["CONFIG", "SET", "repl-diskless-load", "x"],
    ["CONFIG", "SET", "shutdown-on-sigint", "save nosave"],
    ["CONFIG", "SET", "shutdown-on-sigint", "later"],
    ["CONFIG", "SET", "shutdown-on-sigterm", ""],
    ["CONFIG", "SET", "notify-keyspace-events", "Kq"],
    ["CONFIG", "SET", "save", "100  10"],
    ["CONFIG", "SET", "save", "100 10 20"],
    ["CONFIG", "SET", "save", "0 10"],
    ["CONFIG", "SET", "save", "10 -1"],
    ["CONFIG", "SET", "save", "x y"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0"],
    ["CONFIG", "SET", "client-output-buffer-limit", "master 0 0 0"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 1x 0 0"],
    ["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 -1"],
    ["CONFIG", "SET", "oom-score-adj-values", "0 200"],
    ["CONFIG", "SET", "oom-score-adj-values", "0 200 3000"],
    ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 101"],
    ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 abc"],
    ["CONFIG", "SET", "cluster-announce-hostname", "bad_host"],
    ["CONFIG", "SET", "proc-title-template", "{nope}"],
    ["CONFIG", "SET", "activedefrag", "yes"],
    ["CONFIG", "SET", "foo", "bar"],
    ["CONFIG", "SET", "foo", "bar", "daemonize", "yes"],
    ["CONFIG", "SET", "daemonize", "yes", "foo", "bar"],
    ["CONFIG", "SET", "maxmemory", "1", "maxmemory", "2"],
    ["CONFIG", "SET", "maxmemory", "1", "MAXmemory", "2"],
    ["CONFIG", "SET", "slave-read-only", "yes", "replica-read-only", "no"],
    ["CONFIG", "SET", "maxmemory", "10mb", "foo", "bar"],
    ["CONFIG", "SET", "maxmemory", "10mb", "timeout"],
    ["CONFIG", "SET", "maxmemory"],
    ["CONFIG", "SET"],
    ["CONFIG", "GET"],
    ["CONFIG"],
    ["CONFIG", "FOO"],
    ["CONFIG", "HELP"],
    ["CONFIG", "HELP", "extra"],
    ["CONFIG", "RESETSTAT", "extra"],
    ["CONFIG", "REWRITE"],
    ["config", "rewrite", "x"],
]


def test_config_set_errors_match_redis(server, reference):
    assert_same(reference, server, SET_ERRORS)
    # nothing above changed anything
    assert_same(reference, server, [["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "timeout"],
                                    ["CONFIG", "GET", "save"], ["CONFIG", "GET", "hz"]])


SET_AND_GET = [
    ("maxmemory", ["1kb", "1KB", "100", "1g", "2gb", "", "kb", "99999999999999999999999",
                   "20000000000gb", "0"]),
    ("timeout", ["0", "5", "2147483647", "0"]),
    ("hz", ["1000", "0", "100", "10"]),
    ("maxmemory-clients", ["10%", "100%", "0%", "1mb", "0"]),
    ("maxmemory-policy", ["ALLKEYS-LRU", "volatile-ttl", "noeviction"]),
    ("oom-score-adj", ["relative", "absolute", "yes", "no"]),
    ("shutdown-on-sigint", ["now save", "force now nosave", "default", "SAVE", "default"]),
    ("notify-keyspace-events", ["KEA", "Ex", "g$lshzxetd", "AKEm", "n", "xKE", ""]),
    ("save", ["100 10", "100 10 20 30", "3600 1 300 100 60 10000", ""]),
    ("client-output-buffer-limit", ["normal 1mb 2mb 10", "slave 0 0 0 pubsub 1 2 3",
                                    "replica 256mb 64mb 60 normal 0 0 0",
                                    "pubsub 32mb 8mb 60"]),
    ("oom-score-adj-values", ["-100 0 100", "0 200 800"]),
    ("latency-tracking-info-percentiles", ["50", "99.99 0 100", "", "50 99 99.9"]),
    ("slave-read-only", ["no", "YES"]),
    ("lua-time-limit", ["100", "5000"]),
    ("list-max-ziplist-size", ["-1", "-2"]),
    ("hash-max-ziplist-value", ["1k", "64"]),
    ("slowlog-log-slower-than", ["-1", "10000"]),
    ("proto-max-bulk-len", ["1mb", "512mb"]),
    ("client-query-buffer-limit", ["2mb", "1gb"]),
    ("tls-auth-clients", ["optional", "yes"]),
    ("ignore-warnings", ["ARM64-COW-BUG", ""]),
    ("masteruser", ["someone", ""]),
    ("replica-announce-ip", ["10.0.0.1", ""]),
    ("cluster-announce-hostname", ["host-1.example", ""]),
    ("acl-pubsub-default", ["allchannels", "resetchannels"]),
    ("loglevel", ["WARNING", "notice"]),
    ("appendfsync", ["always", "everysec"]),
    ("stream-node-max-bytes", ["4k", "4096"]),
    ("active-expire-effort", ["10", "1"]),
]


@pytest.mark.parametrize("name,values", SET_AND_GET, ids=[n for n, _ in SET_AND_GET])
def test_config_set_then_get(server, reference, name, values):
    script = []
    for value in values:
        script.append(["CONFIG", "SET", name, value])
        script.append(["CONFIG", "GET", name])
    assert_same(reference, server, script)


def test_config_set_several_parameters_at_once_and_rollback(server, reference):
    script = [
        ["CONFIG", "SET", "maxmemory", "10mb", "timeout", "7", "hz", "20"],
        ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "timeout"], ["CONFIG", "GET", "hz"],
        # the second value is bad: the first must be rolled back
        ["CONFIG", "SET", "maxmemory", "20mb", "timeout", "abc"],
        ["CONFIG", "GET", "maxmemory"], ["CONFIG", "GET", "timeout"],
        ["CONFIG", "SET", "timeout", "8", "maxmemory-policy", "nope"],
        ["CONFIG", "GET", "timeout"],
        ["CONFIG", "SET", "maxmemory", "0", "timeout", "0", "hz", "10"],
    ]
    assert_same(reference, server, script)


def test_config_set_rolls_back_when_applying_fails(start_server):
    ours = start_server()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    taken = busy.getsockname()[1]
    try:
        conn = ours.raw()
        reply = conn.command("CONFIG", "SET", "timeout", "33", "port", str(taken))
        assert reply == (b"-ERR CONFIG SET failed (possibly related to argument 'port') - "
                         b"Unable to listen on this port. Check server logs.\r\n")
        assert conn.command("CONFIG", "GET", "timeout") == b"*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
        assert conn.command("CONFIG", "GET", "port") == (
            b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n" % (len(str(ours.port)), ours.port))
        assert conn.command("PING") == b"+PONG\r\n"
        conn.close()
        # the old listener still works for new clients
        fresh = ours.raw()
        assert fresh.command("PING") == b"+PONG\r\n"
        fresh.close()
    finally:
        busy.close()


def test_config_set_port_rebinds_the_listener(start_server):
    ours = start_server()
    new_port = free_port()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "port", str(new_port)) == b"+OK\r\n"
    # the connection that asked stays open
    assert conn.command("PING") == b"+PONG\r\n"
    moved = _connect_eventually(new_port)
    assert moved.command("CONFIG", "GET", "port") == (
        b"*2\r\n$4\r\nport\r\n$%d\r\n%d\r\n" % (len(str(new_port)), new_port))
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ours.port), timeout=2).close()
    moved.close()
    conn.close()
    ours.port = new_port      # so the fixture can stop it cleanly


def test_config_set_bind_rebinds(start_server):
    ours = start_server()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "bind", "127.0.0.1") == b"+OK\r\n"
    assert conn.command("CONFIG", "GET", "bind") == b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n"
    again = _connect_eventually(ours.port)
    assert again.command("PING") == b"+PONG\r\n"
    again.close()
    reply = conn.command("CONFIG", "SET", "bind", "127.0.0.1  -::1")
    assert reply == (b"-ERR CONFIG SET failed (possibly related to argument 'bind') - "
                     b"Failed to bind to specified addresses.\r\n")
    assert conn.command("CONFIG", "GET", "bind") == b"*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n"
    again = _connect_eventually(ours.port)
    assert again.command("PING") == b"+PONG\r\n"
    again.close()
    conn.close()


def _connect_eventually(port, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RawConnection(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_requirepass_keeps_existing_clients_authenticated(start_server):
    ours = start_server()
    first = ours.raw()
    assert first.command("CONFIG", "SET", "requirepass", "secret") == b"+OK\r\n"
    assert first.command("PING") == b"+PONG\r\n"
    second = ours.raw()
    assert second.command("PING") == b"-NOAUTH Authentication required.\r\n"
    assert second.command("AUTH", "secret") == b"+OK\r\n"
    assert second.command("CONFIG", "GET", "requirepass") == (
        b"*2\r\n$11\r\nrequirepass\r\n$6\r\nsecret\r\n")
    third = ours.raw()
    assert third.command("PING") == b"-NOAUTH Authentication required.\r\n"
    assert first.command("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    assert third.command("PING") == b"+PONG\r\n"
    for conn in (first, second, third):
        conn.close()


def test_proto_max_bulk_len_applies_to_connected_clients(start_server):
    ours = start_server()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    conn.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (1024 * 1024 + 1))
    assert conn.read_reply() == b"-ERR Protocol error: invalid bulk length\r\n"
    conn.close()


def test_timeout_closes_idle_clients(start_server):
    ours = start_server()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "timeout", "1") == b"+OK\r\n"
    idle = ours.raw()
    assert idle.command("PING") == b"+PONG\r\n"
    assert idle.read_until_closed(timeout=8) == b""
    conn.close()


def test_loglevel_change_takes_effect(start_server):
    ours = start_server()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "loglevel", "debug") == b"+OK\r\n"
    assert conn.command("CONFIG", "GET", "loglevel") == b"*2\r\n$8\r\nloglevel\r\n$5\r\ndebug\r\n"
    conn.close()


def test_maxclients_refuses_extra_connections(start_server):
    ours = start_server()
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "maxclients", "1") == b"+OK\r\n"
    extra = ours.raw()
    assert extra.read_until_closed() == b"-ERR max number of clients reached\r\n"
    assert conn.command("CONFIG", "SET", "maxclients", "10") == b"+OK\r\n"
    conn.close()


def test_maxclients_beyond_the_file_limit_matches_redis(server, reference):
    assert_same(reference, server, [["CONFIG", "SET", "maxclients", "100000000"],
                                    ["CONFIG", "GET", "maxclients"]])


# -- CONFIG RESETSTAT ------------------------------------------------------------------

def test_config_resetstat_resets_info_stats_and_commandstats(r):
    r.set("a", "1")
    r.get("a")
    r.get("missing")
    try:
        r.execute_command("NOSUCHCOMMAND")
    except Exception:
        pass
    before = r.info("all")
    assert before["keyspace_hits"] >= 1 and before["total_error_replies"] >= 1
    assert "cmdstat_get" in before
    assert r.config_resetstat() is True
    after = r.info("all")
    assert after["keyspace_hits"] == 0
    assert after["keyspace_misses"] == 0
    assert after["total_error_replies"] == 0
    assert not any(k.startswith("cmdstat_get") for k in after)
    assert not any(k.startswith("errorstat_") for k in after)
    # RESETSTAT itself ran after the reset, INFO once more
    assert after["total_commands_processed"] <= 2
    assert after["total_connections_received"] == 0


# -- CONFIG REWRITE ---------------------------------------------------------------------

CONF_TEXT = """\
# A comment that must survive
port 6399
maxmemory 10mb

# another comment
save 900 1
save 300 10
timeout 20
rename-command FLUSHDB ""
unknown-directive-line oops
"""


@pytest.fixture
def conf_pair(start_server):
    """Both servers started from the same config file (without the unknown line)."""
    text = CONF_TEXT.replace("unknown-directive-line oops\n", "")
    import shutil
    if shutil.which("redis-server") is None:
        pytest.skip("reference redis-server not installed")
    ours = start_server(config_text=text)
    theirs = ServerProcess([], reference=True, config_text=text)
    yield ours, theirs
    theirs.stop()


def _read_conf(proc):
    with open(os.path.join(proc.dir, "test.conf")) as f:
        return f.read()


def _normalise(text, proc):
    lines = []
    for line in text.splitlines():
        for value in (str(proc.port), proc.dir, proc.log_path):
            line = line.replace(value, "<per-process>")
        lines.append(line)
    return lines


def test_config_rewrite_matches_redis(conf_pair):
    ours, theirs = conf_pair
    script = [
        ["CONFIG", "SET", "maxmemory", "20mb"],
        ["CONFIG", "SET", "save", "60 5"],
        ["CONFIG", "SET", "timeout", "0"],
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        ["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        ["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 512kb 10"],
        ["CONFIG", "SET", "requirepass", "p w\"x"],
        ["CONFIG", "REWRITE"],
    ]
    assert_same(theirs, ours, script)
    want = _normalise(_read_conf(theirs), theirs)
    got = _normalise(_read_conf(ours), ours)
    split = want.index("# Generated by CONFIG REWRITE")
    # the lines kept in place come first, in the same order
    assert got[:split + 1] == want[:split + 1]
    # appended lines: Redis appends in its hash order, compare as sets
    assert sorted(got[split + 1:]) == sorted(want[split + 1:])


def test_config_rewrite_keeps_comments_and_unknown_lines(start_server, tmp_path):
    ours = start_server(config_text=CONF_TEXT.replace("unknown-directive-line oops\n", ""))
    path = os.path.join(ours.dir, "test.conf")
    with open(path, "a") as f:
        f.write("# appended after start\nmaxmemory 30mb\n")
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "timeout", "40") == b"+OK\r\n"
    assert conn.command("CONFIG", "REWRITE") == b"+OK\r\n"
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "# A comment that must survive"
    assert "timeout 40" in lines
    assert lines.index("timeout 40") < lines.index("# another comment") + 4
    assert lines.count("maxmemory 10mb") == 1 and "maxmemory 30mb" not in lines
    assert 'rename-command FLUSHDB ""' in lines
    assert "# appended after start" in lines
    # the command line said --save "": the first save line takes it, the second is blanked
    assert 'save ""' in lines and "save 900 1" not in lines and "save 300 10" not in lines
    assert "# Generated by CONFIG REWRITE" in lines
    conn.close()


def test_config_rewrite_drops_defaults_and_comments_unknown(start_server):
    ours = start_server(config_text="timeout 5\nhz 10\n")
    path = os.path.join(ours.dir, "test.conf")
    with open(path, "a") as f:
        f.write("no-such-directive 1\n")
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "timeout", "0") == b"+OK\r\n"
    assert conn.command("CONFIG", "REWRITE") == b"+OK\r\n"
    with open(path) as f:
        lines = f.read().splitlines()
    # a directive back at its default keeps its line, rewritten
    assert "timeout 0" in lines and "hz 10" in lines
    assert "# ??? no-such-directive 1" in lines
    conn.close()


def test_config_rewrite_result_loads_back(start_server):
    ours = start_server(config_text="maxmemory 1mb\n")
    conn = ours.raw()
    assert conn.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu") == b"+OK\r\n"
    assert conn.command("CONFIG", "SET", "save", "") == b"+OK\r\n"
    assert conn.command("CONFIG", "REWRITE") == b"+OK\r\n"
    conn.close()
    path = os.path.join(ours.dir, "test.conf")
    with open(path) as f:
        text = f.read()
    again = start_server(config_text=text)
    assert config_map(again.port, "maxmemory-policy") == {"maxmemory-policy": "allkeys-lfu"}
    assert config_map(again.port, "maxmemory") == {"maxmemory": "1048576"}
    assert config_map(again.port, "save") == {"save": ""}


def test_config_rewrite_without_config_file(server, reference):
    assert_same(reference, server, [["CONFIG", "REWRITE"]])


# -- config files -------------------------------------------------------------------

def test_config_file_directives_and_aliases_load(start_server):
    text = ("slaveof 127.0.0.1 1\nslave-read-only no\nhash-max-ziplist-entries 64\n"
            "client-output-buffer-limit pubsub 1mb 1mb 0\nsave \"\"\n"
            "list-max-ziplist-entries 5\ntls-port 0\nnotify-keyspace-events Ex\n")
    ours = start_server(config_text=text)
    got = config_map(ours.port, "replicaof", "replica-read-only", "hash-max-listpack-entries",
                     "client-output-buffer-limit", "save", "notify-keyspace-events")
    assert got == {
        "replicaof": "127.0.0.1 1", "replica-read-only": "no", "hash-max-listpack-entries": "64",
        "client-output-buffer-limit":
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 1048576 0",
        "save": "", "notify-keyspace-events": "xE"}


@pytest.mark.parametrize("line,message", [
    ("maxmemory abc", "argument must be a memory value"),
    ("nosuchthing 1", "Bad directive or wrong number of arguments"),
    ("port 1 2", "wrong number of arguments"),
    ("daemonize maybe", "argument must be 'yes' or 'no'"),
    ('port "1', "Unbalanced quotes in configuration line"),
])
def test_config_file_errors_match_redis(tmp_path, line, message):
    import subprocess
    import sys
    import shutil
    conf = tmp_path / "bad.conf"
    conf.write_text("# first\n" + line + "\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    ours = subprocess.run([sys.executable, "-m", "server", str(conf)], capture_output=True,
                          text=True, timeout=20, env=env)
    assert ours.returncode == 1
    expected = ("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
                "Reading the configuration file, at line 2\n>>> '%s'\n%s\n" % (line, message))
    assert ours.stderr == expected
    if shutil.which("redis-server"):
        theirs = subprocess.run(["redis-server", str(conf)], capture_output=True, text=True,
                                timeout=20)
        assert theirs.returncode == 1
        assert theirs.stderr == expected


# -- the shipped redis.conf ------------------------------------------------------------

SHIPPED_CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "redis.conf")


def test_shipped_conf_documents_every_directive():
    from server.base.config import DIRECTIVES
    with open(SHIPPED_CONF) as f:
        mentioned = set()
        for line in f:
            words = line.lstrip("# ").split()
            if words:
                mentioned.add(words[0])
    missing = [d.name for d in DIRECTIVES if not d.hidden and d.name not in mentioned]
    assert missing == []


def test_shipped_conf_loads_like_redis(start_server):
    import shutil
    with open(SHIPPED_CONF) as f:
        text = f.read()
    ours = start_server(config_text=text)
    if shutil.which("redis-server") is None:
        pytest.skip("reference redis-server not installed")
    theirs = ServerProcess([], reference=True, config_text=text)
    try:
        mine, real = config_map(ours.port, "*"), config_map(theirs.port, "*")
        assert sorted(mine) == sorted(real)
        assert {k: v for k, v in mine.items() if k not in PER_PROCESS} == {
            k: v for k, v in real.items() if k not in PER_PROCESS}
        log = ours.log()
        assert "has no effect" not in log
    finally:
        theirs.stop()

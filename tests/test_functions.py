"""Redis 7 functions against Redis 7.0.15: FUNCTION LOAD/LIST/DELETE/FLUSH/DUMP/RESTORE/KILL/
STATS/HELP, FCALL and FCALL_RO.

Differential where a reply can be compared byte for byte (errors, FCALL results in RESP2 and
RESP3, FUNCTION LIST of one library, STATS); libraries then travel both ways between the
reference and our server: FUNCTION DUMP payloads, RDB files, AOF files and replication.
"""
import time

import hiredis
import pytest

from differential import assert_same, run_script
from harness import RawConnection, ServerProcess, encode_command, require_reference

LIB = ("#!lua name=mylib\n"
       "redis.register_function('get', function(keys, args) return redis.call('get', keys[1]) end)\n"
       "redis.register_function('incr', function(keys, args) return redis.call('incr', keys[1]) end)\n"
       "redis.register_function{function_name='ro', callback=function(keys, args)\n"
       "  return {keys[1], args[1], #keys, #args} end, flags={'no-writes'}, description='read'}\n")


def load(code, *options):
    return ["FUNCTION", "LOAD", *options, code]


def lib(body, name="t"):
    return "#!lua name=%s\n%s" % (name, body)


def one(name, body, flags=None):
    """A library with one function (the body is the callback's)."""
    if flags is None:
        return lib("redis.register_function('%s', function(keys, args)\n%s\nend)" % (name, body))
    return lib("redis.register_function{function_name='%s', callback=function(keys, args)\n%s\n"
               "end, flags={%s}}" % (name, body, ", ".join("'%s'" % f for f in flags)))


# A library with one function: FUNCTION LIST orders several the way Redis's dict does (its
# hash seed is random per process), so byte comparisons use this one.
SINGLE = "#!lua name=single\nredis.register_function('s', function(keys, args) return 's' end)"


def listing(srv):
    """FUNCTION LIST WITHCODE as data, each library's functions sorted by name."""
    reader = hiredis.Reader()
    reader.feed(command(srv, "FUNCTION", "LIST", "WITHCODE"))
    out = []
    for entry in reader.gets():
        fields = dict(zip(entry[::2], entry[1::2]))
        fields[b"functions"] = sorted(
            (dict(zip(f[::2], [tuple(v) if isinstance(v, list) else v for v in f[1::2]]))
             for f in fields[b"functions"]), key=lambda f: f[b"name"])
        out.append(fields)
    return sorted(out, key=lambda lib: lib[b"library_name"])


def both_resp(reference, server, script):
    script = [["FUNCTION", "FLUSH"]] + script
    assert_same(reference, server, script)
    assert_same(reference, server, script, resp3=True)


# -- loading libraries ------------------------------------------------------------------------

LOAD_ERRORS = [
    "redis.register_function('f', function() return 1 end)",              # no shebang
    "#!lua name=t",                                                       # no line feed
    "#!lua name=t\nreturn 1",                                              # nothing registered
    "#!lua\nredis.register_function('f', function() return 1 end)",
    "#!lua name=a name=b\nredis.register_function('f', function() return 1 end)",
    "#!lua name=t foo=bar\nredis.register_function('f', function() return 1 end)",
    "#! name=t\nredis.register_function('f', function() return 1 end)",
    "#!js name=t\nredis.register_function('f', function() return 1 end)",
    "#!lua name=bad-name\nredis.register_function('f', function() return 1 end)",
    "#!lua name=\nredis.register_function('f', function() return 1 end)",
    "#!lua name=\"t\nredis.register_function('f', function() return 1 end)",
    lib("redis.register_function('f', function() return 1 end"),              # syntax error
    lib("error('boom')"), lib("local x = math.floor(1)"), lib("redis.call('ping')"),
    lib("redis.setresp(3)"), lib("redis.set_repl(redis.REPL_ALL)"), lib("x = 1"),
    lib("redis.math.random()"), lib("getmetatable(_G)"),
    lib("redis.register_function()"), lib("redis.register_function('a', 'b', 'c')"),
    lib("redis.register_function(1)"), lib("redis.register_function('f', 5)"),
    lib("redis.register_function({}, function() end)"),
    lib("redis.register_function('bad name', function() end)"),
    lib("redis.register_function('f', function() end) redis.register_function('f', function() end)"),
    lib("redis.register_function{function_name=function() end, callback=function() end}"),
    lib("redis.register_function{function_name='f', callback='x'}"),
    lib("redis.register_function{function_name='f', callback=function() end, description=function() end}"),
    lib("redis.register_function{function_name='f', callback=function() end, flags='no-writes'}"),
    lib("redis.register_function{function_name='f', callback=function() end, flags={'bad'}}"),
    lib("redis.register_function{function_name='f', callback=function() end, flags={1}}"),
    lib("redis.register_function{function_name='f', callback=function() end, other=1}"),
    lib("redis.register_function{callback=function() end}"),
    lib("redis.register_function{function_name='f'}"),
    lib("redis.register_function{[1]='f'}"),
]


def test_load_errors(reference, server):
    both_resp(reference, server, [load(code) for code in LOAD_ERRORS])


def test_load_options_and_collisions(reference, server):
    both_resp(reference, server, [
        ["FUNCTION", "LOAD"], load(LIB), load(LIB), load(LIB, "REPLACE"), load(LIB, "replace"),
        load(LIB, "FOO"), ["FUNCTION", "LOAD", "REPLACE"], load(LIB, "REPLACE", "REPLACE"),
        load(one("GET", "return 1"), "REPLACE"),             # names collide whatever the case
        load(lib("redis.register_function('f', function() return 1 end)\n"
                 "redis.register_function('F', function() return 2 end)", "other")),
        # a failed REPLACE keeps the library it would have replaced
        load(lib("error('x')", "mylib"), "REPLACE"), ["FCALL", "get", "1", "k"],
        load(lib("redis.register_function('f', function() return 1 end)", "mylib"), "REPLACE"),
        ["FCALL", "get", "1", "k"],
        load("#!lua name=\"quoted\"\nredis.register_function('q', function() return 'q' end)"),
        ["FCALL", "Q", "0"],
        ["FUNCTION", "STATS"],
    ])


def test_load_timeout(reference, server):
    both_resp(reference, server, [load(lib("local a = 1 while true do a = a + 1 end")),
                                  load(LIB), ["FCALL", "incr", "1", "k"]])


# -- FCALL ------------------------------------------------------------------------------------

def test_fcall_results_and_errors(reference, server):
    both_resp(reference, server, [
        load(LIB), ["SET", "k", "v"],
        ["FCALL", "get", "1", "k"], ["FCALL", "GET", "1", "k"], ["FCALL", "incr", "1", "n"],
        ["FCALL", "ro", "2", "a", "b", "c"], ["FCALL_RO", "ro", "0"], ["FCALL_RO", "incr", "1", "n"],
        ["FCALL", "nosuch", "0"], ["FCALL", "get", "x"], ["FCALL", "get", "-1"],
        ["FCALL", "get", "2", "k"], ["FCALL", "get"], ["FCALL"],
        load(lib("redis.register_function('err', function() return redis.call('nosuch') end)\n"
                 "redis.register_function('raise', function() error('boom') end)\n"
                 "redis.register_function('tbl', function() return {err='MY own'} end)\n"
                 "redis.register_function('keys', function() return KEYS end)\n"
                 "redis.register_function('reg', function() redis.register_function('x', "
                 "function() end) end)\n"
                 "redis.register_function('glob', function() y = 1 end)\n"
                 "redis.register_function('resp3', function() redis.setresp(3) "
                 "return {map={a=1}, double={double=1.5}, t=true} end)\n"
                 "redis.register_function('nested', function() return {1, {2, {ok='s'}}, "
                 "'x', false} end)\n", "extra")),
        ["FCALL", "err", "0"], ["FCALL", "raise", "0"], ["FCALL", "tbl", "0"],
        ["FCALL", "keys", "0"], ["FCALL", "reg", "0"], ["FCALL", "glob", "0"],
        ["FCALL", "resp3", "0"], ["FCALL", "nested", "0"],
        ["INFO", "errorstats"],
    ])


def test_fcall_ro_and_no_writes(reference, server):
    both_resp(reference, server, [
        load(one("w", "return redis.call('set', 'x', '1')")),
        load(one("nw", "return redis.call('set', 'x', '1')", ["no-writes"]), "REPLACE"),
        ["FCALL", "nw", "0"], ["FCALL_RO", "nw", "0"],
        load(one("w", "return redis.call('set', 'x', '1')"), "REPLACE"),
        ["FCALL_RO", "w", "0"], ["FCALL", "w", "0"],
        load(one("pw", "return redis.pcall('set', 'x', '2')", ["no-writes"]), "REPLACE"),
        ["FCALL", "pw", "0"],
        load(one("flags", "return 1", ["allow-oom", "allow-stale", "no-cluster",
                                       "allow-cross-slot-keys", "no-writes"]), "REPLACE"),
        ["FUNCTION", "LIST"],
    ])


# -- FUNCTION subcommands ---------------------------------------------------------------------

def test_function_list(reference, server):
    both_resp(reference, server, [
        ["FUNCTION", "LIST"], load(SINGLE), ["FUNCTION", "LIST"],
        ["FUNCTION", "LIST", "WITHCODE"], ["FUNCTION", "LIST", "LIBRARYNAME", "sin*"],
        ["FUNCTION", "LIST", "libraryname", "SIN*"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "x*", "WITHCODE"],
        ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "single"],
        ["FUNCTION", "LIST", "LIBRARYNAME"], ["FUNCTION", "LIST", "bad"],
        ["FUNCTION", "LIST", "WITHCODE", "WITHCODE"],
        ["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b"],
    ])


def test_function_delete_flush_stats_help(reference, server):
    both_resp(reference, server, [
        ["FUNCTION", "STATS"], load(LIB), ["FUNCTION", "STATS"],
        ["FUNCTION", "DELETE", "nosuch"], ["FUNCTION", "DELETE", "MYLIB"],
        ["FUNCTION", "DELETE", "mylib"], ["FCALL", "get", "1", "k"], ["FUNCTION", "STATS"],
        ["FUNCTION", "DELETE"], ["FUNCTION", "DELETE", "a", "b"],
        load(LIB), ["FUNCTION", "FLUSH", "bad"], ["FUNCTION", "FLUSH", "sync", "extra"],
        ["FUNCTION", "FLUSH", "ASYNC"], ["FUNCTION", "LIST"], load(LIB),
        ["FUNCTION", "FLUSH", "sync"], ["FUNCTION", "FLUSH"], ["FUNCTION", "STATS"],
        ["FUNCTION", "KILL"], ["FUNCTION", "KILL", "x"], ["FUNCTION", "STATS", "x"],
        ["FUNCTION", "HELP"], ["FUNCTION", "NOSUCH"], ["FUNCTION"], ["FUNCTION", "DUMP", "x"],
        ["SCRIPT", "KILL"],
    ])


def test_function_restore_errors_and_policies(reference, server):
    """A payload dumped by Redis restores here; every policy and error as Redis."""
    payload = run_script(reference.port, [["FUNCTION", "FLUSH"], load(LIB),
                                          ["FUNCTION", "DUMP"]])[-1]
    body = payload.split(b"\r\n", 1)[1][:-2]
    steps = [
        ["FUNCTION", "RESTORE", body], ["FUNCTION", "RESTORE", body, "APPEND"],
        ["FUNCTION", "RESTORE", body, "REPLACE"], ["FCALL", "incr", "1", "n"],
        ["FUNCTION", "RESTORE", body, "BAD"], ["FUNCTION", "RESTORE", body, "FLUSH", "x"],
        ["FUNCTION", "RESTORE", b"bad payload"], ["FUNCTION", "RESTORE", body[:-1] + b"X"],
        ["FUNCTION", "RESTORE", b"\x00" + body[1:]],
        ["FUNCTION", "FLUSH"], ["FUNCTION", "RESTORE", body], ["FCALL", "incr", "1", "n"],
        ["FUNCTION", "STATS"],
        load(one("incr", "return 1").replace("name=t", "name=clash")),
        ["FUNCTION", "DELETE", "mylib"], load(one("incr", "return 1").replace("name=t",
                                                                            "name=clash")),
        ["FUNCTION", "RESTORE", body, "REPLACE"], ["FUNCTION", "RESTORE", body, "FLUSH"],
        ["FCALL", "incr", "1", "n"], ["FUNCTION", "STATS"],
    ]
    both_resp(reference, server, steps)


def test_dump_payload_round_trips_both_ways(reference, server):
    for source, target in ((reference, server), (server, reference)):
        dumped = run_script(source.port, [["FUNCTION", "FLUSH"], load(LIB), ["FUNCTION", "DUMP"]])
        body = dumped[-1].split(b"\r\n", 1)[1][:-2]
        assert run_script(target.port, [["FUNCTION", "FLUSH"], ["FUNCTION", "RESTORE", body],
                                        ["SET", "k", "5"], ["FCALL", "incr", "1", "k"],
                                        ])[1:] == [b"+OK\r\n", b"+OK\r\n", b":6\r\n"]
        assert listing(target) == listing(source)


def test_function_commands_in_command_info(reference, server):
    both_resp(reference, server, [
        ["COMMAND", "GETKEYS", "FCALL", "f", "2", "a", "b", "c"],
        ["COMMAND", "GETKEYS", "FCALL_RO", "f", "0", "a"],
    ])


def test_transactions_and_propagated_commands(reference, server):
    both_resp(reference, server, [
        ["MULTI"], load(LIB), ["FCALL", "incr", "1", "n"], ["FUNCTION", "STATS"], ["EXEC"],
        ["MULTI"], ["FCALL", "nosuch", "0"], ["EXEC"],
    ])


# -- busy functions, FUNCTION KILL and SCRIPT KILL -------------------------------------------

def wait_busy(conn, deadline):
    while True:
        reply = conn.command("PING")
        if reply.startswith(b"-BUSY") or time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


def kill_scenario(port):
    out = []
    other = RawConnection(port)
    runner = RawConnection(port, timeout=20)
    out.append(other.command("CONFIG", "SET", "busy-reply-threshold", "100"))
    out.append(other.command("FUNCTION", "LOAD", lib(
        "redis.register_function('spin', function() local i = 0 while true do i = i + 1 "
        "pcall(function() while true do i = i + 1 end end) end end)\n"
        "redis.register_function('write', function() redis.call('set', 'w', 1) "
        "while true do end end)")))
    deadline = time.monotonic() + 20
    # A function looping inside pcall: only FUNCTION KILL stops it.
    runner.send(encode_command(["FCALL", "spin", "0"]))
    out.append(wait_busy(other, deadline))
    out.append(other.command("GET", "x"))
    stats = other.command("FUNCTION", "STATS")
    out.append(stats.split(b"duration_ms")[0])
    out.append(other.command("SCRIPT", "KILL"))
    out.append(other.command("FUNCTION", "KILL"))
    out.append(runner.read_reply())
    out.append(other.command("FUNCTION", "KILL"))
    # An EVAL: FUNCTION KILL refuses, FUNCTION STATS too.
    runner.send(encode_command(["EVAL", "while true do pcall(function() while true do end "
                                        "end) end", "0"]))
    out.append(wait_busy(other, deadline))
    out.append(other.command("FUNCTION", "KILL"))
    out.append(other.command("FUNCTION", "STATS"))
    out.append(other.command("SCRIPT", "KILL"))
    out.append(runner.read_reply())
    # A function that wrote cannot be killed.
    runner.send(encode_command(["FCALL", "write", "0"]))
    out.append(wait_busy(other, deadline))
    out.append(other.command("FUNCTION", "KILL"))
    out.append(other.command("SCRIPT", "KILL"))
    other.send(encode_command(["SHUTDOWN", "NOSAVE"]))
    out.append(other.is_closed(10))
    out.append(runner.is_closed(10))
    other.close()
    runner.close()
    return out


def test_function_kill_and_script_kill(start_server):
    require_reference()
    reference = ServerProcess(reference=True)
    try:
        expected = kill_scenario(reference.port)
        assert reference.wait_exit(10) == 0
    finally:
        reference.stop()
    ours = start_server()
    assert kill_scenario(ours.port) == expected
    assert ours.wait_exit(10) == 0


# -- persistence and replication --------------------------------------------------------------

def fcall(srv, *args):
    conn = RawConnection(srv.port)
    try:
        return conn.command("FCALL", *args)
    finally:
        conn.close()


def command(srv, *args):
    conn = RawConnection(srv.port)
    try:
        return conn.command(*args)
    finally:
        conn.close()


def wait_for(predicate, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.05)


@pytest.mark.parametrize("writer_is_reference", [True, False])
def test_rdb_files_carry_libraries_both_ways(start_server, tmp_path, writer_is_reference):
    """An RDB saved by one server loads in the other with its libraries."""
    require_reference()
    writer = start_server(dir=tmp_path, reference=writer_is_reference)
    assert command(writer, "FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    assert command(writer, "SET", "k", "41") == b"+OK\r\n"
    assert command(writer, "SAVE") == b"+OK\r\n"
    written = listing(writer)
    writer.stop()
    reader = start_server(dir=tmp_path, reference=not writer_is_reference)
    assert fcall(reader, "incr", "1", "k") == b":42\r\n"
    assert listing(reader) == written


def test_debug_reload_keeps_libraries(reference, server):
    both_resp(reference, server, [
        load(LIB), ["DEBUG", "RELOAD"], ["FCALL", "incr", "1", "n"],
        ["DEBUG", "RELOAD", "NOFLUSH"], ["DEBUG", "RELOAD", "NOFLUSH", "MERGE"],
        ["FUNCTION", "STATS"], ["FUNCTION", "FLUSH"], ["DEBUG", "RELOAD"], ["FUNCTION", "LIST"],
    ])


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_keeps_libraries(start_server, tmp_path, preamble):
    """FUNCTION LOAD/DELETE reach the AOF as written; a rewrite keeps the libraries."""
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    first = start_server(*args, dir=tmp_path)
    assert command(first, "FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    assert command(first, "FUNCTION", "LOAD", one("gone", "return 1")) == b"$1\r\nt\r\n"
    assert command(first, "FUNCTION", "DELETE", "t") == b"+OK\r\n"
    assert fcall(first, "incr", "1", "n") == b":1\r\n"
    first.stop()
    second = start_server(*args, dir=tmp_path)
    wait_for(lambda: not command(second, "PING").startswith(b"-LOADING"), "the AOF loads")
    assert fcall(second, "incr", "1", "n") == b":2\r\n"
    assert fcall(second, "gone", "0") == b"-ERR Function not found\r\n"
    assert command(second, "BGREWRITEAOF").startswith(b"+")
    wait_for(lambda: b"aof_rewrite_in_progress:0" in command(second, "INFO", "persistence")
             and b"aof_rewrite_scheduled:0" in command(second, "INFO", "persistence"),
             "the rewrite ends")
    second.stop()
    third = start_server(*args, dir=tmp_path)
    wait_for(lambda: not command(third, "PING").startswith(b"-LOADING"), "the AOF loads")
    assert fcall(third, "incr", "1", "n") == b":3\r\n"
    listing = command(third, "FUNCTION", "LIST")
    assert b"mylib" in listing and b"gone" not in listing


def link_up(replica):
    return b"master_link_status:up" in command(replica, "INFO", "replication")


@pytest.mark.parametrize("master_is_reference", [True, False])
def test_replicas_get_libraries(start_server, master_is_reference):
    """Full sync carries the libraries, then FUNCTION LOAD/DELETE/RESTORE/FLUSH propagate;
    one side is the reference server."""
    require_reference()
    master = start_server(reference=master_is_reference)
    assert command(master, "FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    replica = start_server("--replicaof", "127.0.0.1", str(master.port),
                           reference=not master_is_reference)
    wait_for(lambda: link_up(replica), "the replica's link comes up")
    wait_for(lambda: fcall(replica, "ro", "1", "a", "b") == b"*4\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n:1\r\n",
             "the library reaches the replica")
    assert fcall(master, "incr", "1", "n") == b":1\r\n"
    command(master, "FUNCTION", "LOAD", one("later", "return 'later'", ["no-writes"]))
    wait_for(lambda: fcall(replica, "later", "0") == b"$5\r\nlater\r\n", "FUNCTION LOAD")
    assert command(replica, "GET", "n") == b"$1\r\n1\r\n"
    assert command(replica, "FCALL", "incr", "1", "n").startswith(b"-READONLY")
    dump = command(master, "FUNCTION", "DUMP").split(b"\r\n", 1)[1][:-2]
    command(master, "FUNCTION", "DELETE", "t")
    wait_for(lambda: fcall(replica, "later", "0") == b"-ERR Function not found\r\n",
             "FUNCTION DELETE")
    command(master, "FUNCTION", "FLUSH")
    wait_for(lambda: command(replica, "FUNCTION", "LIST") == b"*0\r\n", "FUNCTION FLUSH")
    command(master, "FUNCTION", "RESTORE", dump)
    wait_for(lambda: fcall(replica, "later", "0") == b"$5\r\nlater\r\n", "FUNCTION RESTORE")


def test_swapdb_full_sync_replaces_the_replicas_libraries(start_server):
    """repl-diskless-load swapdb: the master's libraries replace the replica's own, even
    one of the same name, once the loaded data is swapped in."""
    master = start_server("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")
    assert command(master, "FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    replica = start_server("--repl-diskless-load", "swapdb")
    assert command(replica, "FUNCTION", "LOAD", LIB) == b"$5\r\nmylib\r\n"
    assert command(replica, "FUNCTION", "LOAD", one("mine", "return 1")) == b"$1\r\nt\r\n"
    assert command(replica, "REPLICAOF", "127.0.0.1", str(master.port)) == b"+OK\r\n"
    wait_for(lambda: link_up(replica), "the replica's link comes up")
    wait_for(lambda: fcall(replica, "mine", "0") == b"-ERR Function not found\r\n",
             "the replica's own library is gone")
    assert fcall(replica, "ro", "1", "a", "b") == b"*4\r\n$1\r\na\r\n$1\r\nb\r\n:1\r\n:1\r\n"

"""The append-only file of a running server: what every write path puts in it (compared
with what Redis 7.0 writes for the same commands), restarts, rewrites, switching AOF on
and off at runtime, crashes, damaged files, and AOF directories moving between this
server and Redis."""
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from harness import (RawConnection, ServerProcess, free_port, require_reference, server_command,
                     server_env)

DEBUG = ("--enable-debug-command", "yes")
AOF = ("--appendonly", "yes", "--appendfsync", "always")


@pytest.fixture
def servers():
    started = []
    yield started
    for srv in started:
        srv.stop()


def start(servers, directory, *args, reference=False):
    srv = ServerProcess(list(DEBUG) + list(args), dir=directory, reference=reference)
    servers.append(srv)
    return srv


def incr_files(directory):
    aof_dir = os.path.join(directory, "appendonlydir")
    return [os.path.join(aof_dir, name) for name in sorted(os.listdir(aof_dir))
            if name.endswith(".incr.aof")]


def aof_commands(directory):
    """Every command of the incr files, parsed."""
    from persistence.aof import iter_aof_commands
    commands = []
    for path in incr_files(directory):
        with open(path, "rb") as f:
            commands += [argv for argv, _ in iter_aof_commands(f)]
    return commands


def normalised(commands):
    """Absolute times (ms or s since the epoch) replaced: two runs never agree on them."""
    out = []
    for argv in commands:
        out.append([b"<time>" if re.fullmatch(rb"1[6-9]\d{8}(\d{3})?", arg) else arg
                    for arg in argv])
    return out


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in %.0fs" % timeout
        time.sleep(0.02)


# -- what reaches the file ----------------------------------------------------------------------

PROPAGATION_SCRIPT = [
    ["SET", "plain", "1"],
    ["SET", "with-ex", "v", "EX", "100"],
    ["SETEX", "setex", "100", "v"],
    ["EXPIRE", "plain", "100"],
    ["PEXPIRE", "with-ex", "100000"],
    ["INCRBYFLOAT", "float", "1.5"],
    ["GETEX", "plain", "PERSIST"],
    ["SADD", "s", "only"],
    ["SPOP", "s"],
    ["SELECT", "4"],
    ["RPUSH", "list", "a", "b", "c"],
    ["LPOP", "list"],
    ["MULTI"], ["INCR", "counter"], ["INCR", "counter"], ["EXEC"],
    ["EVAL", "redis.call('SET', KEYS[1], 'from-script'); redis.call('DEL', 'nothing'); return 1",
     "1", "scripted"],
    ["SELECT", "0"],
    ["SET", "short", "v", "PX", "1"],
    ["DEBUG", "SLEEP", "0.01"],
    ["GET", "short"],
    ["HSET", "h", "f", "v"],
    ["HINCRBYFLOAT", "h", "g", "2.5"],
    ["DEL", "h", "missing"],
    ["FLUSHDB"],
]


def run_script(port, script):
    conn = RawConnection(port)
    try:
        return [conn.command(*step) for step in script]
    finally:
        conn.close()


def test_propagated_commands_match_redis(servers, tmp_path):
    """The same commands into Redis and into us: the same commands in the AOF, each in the
    form Redis writes (PXAT for relative TTLs, SREM for SPOP, SET KEEPTTL for INCRBYFLOAT,
    MULTI/EXEC around transactions and scripts, DEL for a key found expired)."""
    require_reference()
    results = {}
    for name, reference in (("redis", True), ("ours", False)):
        directory = tmp_path / name
        directory.mkdir()
        srv = start(servers, directory, *AOF, reference=reference)
        srv.client().execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        results[name] = (run_script(srv.port, PROPAGATION_SCRIPT), directory)
    assert results["ours"][0] == results["redis"][0]
    expected = normalised(aof_commands(results["redis"][1]))
    actual = normalised(aof_commands(results["ours"][1]))
    assert actual == expected


def test_every_path_a_write_can_take_reaches_the_aof(servers, tmp_path):
    """The native loop, MULTI/EXEC, a script, a blocked client served later, an expired key
    found by a read, and a command sent while a check is registered (a busy script)."""
    srv = start(servers, tmp_path, *AOF)
    client = srv.client()
    client.set("native", "1")
    with client.pipeline(transaction=True) as pipe:
        pipe.set("in-multi", "1")
        pipe.set("in-multi-too", "1")
        pipe.execute()
    client.eval("redis.call('SET', 'in-script', '1'); return redis.call('SET', 'again', '1')", 0)
    blocked = srv.raw()
    blocked.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nwait\r\n$1\r\n0\r\n")
    wait_for(lambda: client.info("clients")["blocked_clients"] == 1)
    client.rpush("wait", "served")
    assert blocked.read_reply() == b"*2\r\n$4\r\nwait\r\n$6\r\nserved\r\n"
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    client.set("expiring", "1", px=1)
    time.sleep(0.01)
    assert client.get("expiring") is None
    commands = aof_commands(tmp_path)
    flat = [tuple(argv) for argv in commands]
    assert (b"set", b"native", b"1") in flat or (b"SET", b"native", b"1") in flat
    assert any(argv[:2] == [b"SET", b"in-multi"] for argv in commands)
    assert any(argv[:2] == [b"SET", b"in-script"] for argv in commands)
    assert [b"RPUSH", b"wait", b"served"] in commands
    assert [b"LPOP", b"wait"] in commands                  # what the served BLPOP did
    assert [b"DEL", b"expiring"] in commands
    # several effects of one transaction or script are one MULTI/EXEC unit
    assert commands.count([b"MULTI"]) == commands.count([b"EXEC"]) == 2


# -- restarts and crashes -----------------------------------------------------------------------

def fill(client):
    client.set("string", "value")
    client.rpush("list", *range(200))
    client.sadd("set", *("m%d" % i for i in range(200)))
    client.zadd("zset", {"a": 1.5, "b": -2})
    client.hset("hash", mapping={"f%d" % i: i for i in range(50)})
    client.set("volatile", "v", ex=1000)
    client.execute_command("SELECT", 7)
    client.set("db7", "seven")
    client.execute_command("SELECT", 0)


def snapshot(client):
    out = {}
    for db in (0, 7):
        client.execute_command("SELECT", db)
        for key in client.keys("*"):
            out[(db, key)] = (client.type(key), client.execute_command("DEBUG", "DIGEST-VALUE", key),
                              client.ttl(key) > 0)
    client.execute_command("SELECT", 0)
    return out


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_restart_loads_the_aof_before_and_after_a_rewrite(servers, tmp_path, preamble):
    srv = start(servers, tmp_path, *AOF, "--aof-use-rdb-preamble", preamble)
    client = srv.client()
    fill(client)
    before = snapshot(client)
    srv.stop()
    again = start(servers, tmp_path, *AOF, "--aof-use-rdb-preamble", preamble)
    client = again.client()
    assert snapshot(client) == before
    client.bgrewriteaof()
    again.wait_for_log("Background AOF rewrite finished successfully")
    client.set("after-rewrite", "1")
    base = [name for name in os.listdir(tmp_path / "appendonlydir") if ".base." in name]
    assert base == ["appendonly.aof.2.base.%s" % ("rdb" if preamble == "yes" else "aof")]
    expected = snapshot(client)
    again.stop()
    third = start(servers, tmp_path, *AOF, "--aof-use-rdb-preamble", preamble)
    assert snapshot(third.client()) == expected
    assert "DB loaded from append only file" in third.log()


def test_writes_during_a_rewrite_are_not_lost(servers, tmp_path):
    srv = start(servers, tmp_path, *AOF)
    client = srv.client()
    client.execute_command("DEBUG", "POPULATE", 200000)
    client.bgrewriteaof()
    written = 0
    while client.info("persistence")["aof_rewrite_in_progress"] or written < 100:
        client.set("during:%d" % written, written)
        written += 1
    srv.wait_for_log("Background AOF rewrite finished successfully")
    srv.stop()
    again = start(servers, tmp_path, *AOF)
    client = again.client()
    assert client.dbsize() == 200000 + written
    assert client.get("during:%d" % (written - 1)) == b"%d" % (written - 1)


def crash_under_load(servers, tmp_path, policy):
    """INCR from a client thread, kill -9 mid-stream: (last acknowledged, recovered, the last
    value acknowledged at least POSTPONE_BOUND_S before the kill)."""
    srv = start(servers, tmp_path, "--appendonly", "yes", "--appendfsync", policy)
    acknowledged = [0]
    history = []                              # (monotonic time, value) of every acknowledgement
    stop = threading.Event()

    def writer():
        conn = RawConnection(srv.port)
        try:
            while not stop.is_set():
                reply = conn.command("INCR", "counter")
                acknowledged[0] = int(reply[1:-2])
                history.append((time.monotonic(), acknowledged[0]))
        except (ConnectionError, OSError):
            pass

    thread = threading.Thread(target=writer)
    thread.start()
    # long enough that some acknowledgements are older than the postponement window
    wait_for(lambda: acknowledged[0] > 2000
             and history[-1][0] - history[0][0] > 2 * POSTPONE_BOUND_S, timeout=30.0)
    killed_at = time.monotonic()
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    stop.set()
    thread.join(10)
    settled = max([value for at, value in history if at <= killed_at - POSTPONE_BOUND_S],
                  default=0)
    again = start(servers, tmp_path, "--appendonly", "yes")
    recovered = int(again.client().get("counter"))
    return acknowledged[0], recovered, settled


# everysec may postpone a write (not its reply) for up to 2 s while a slow fsync runs, as
# Redis does; what was acknowledged longer ago than that is in the file.
POSTPONE_BOUND_S = 2.5


def test_kill_9_with_appendfsync_always_loses_no_acknowledged_write(servers, tmp_path):
    """Under `always` a reply leaves only after its command was written and synced, so a
    killed process (the machine still up) loses nothing it acknowledged."""
    acknowledged, recovered, _ = crash_under_load(servers, tmp_path, "always")
    assert recovered >= acknowledged
    assert recovered <= acknowledged + 1        # at most the one in flight


def test_kill_9_with_appendfsync_everysec_loses_at_most_the_postponed_writes(servers, tmp_path):
    """Under `everysec` a write normally reaches the file before its reply leaves; only while
    an fsync lags may the write wait (at most 2 s), so nothing acknowledged before that
    window is lost."""
    acknowledged, recovered, settled = crash_under_load(servers, tmp_path, "everysec")
    assert settled > 0
    assert recovered >= settled
    assert recovered <= acknowledged + 1


def test_kill_9_during_rewrite_leaves_a_loadable_aof(servers, tmp_path):
    srv = start(servers, tmp_path, *AOF)
    client = srv.client()
    for start_at in range(0, 300000, 1000):          # real writes: DEBUG POPULATE is not logged
        client.mset({"key:%d" % i: i for i in range(start_at, start_at + 1000)})
    client.set("last", "write")
    client.bgrewriteaof()
    srv.wait_for_log("Background append only file rewriting started")
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    again = start(servers, tmp_path, *AOF)
    assert again.client().dbsize() == 300001
    assert again.client().get("last") == b"write"


def test_kill_9_during_bgsave_leaves_the_previous_snapshot(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    client.set("saved", "first")
    client.save()
    client.execute_command("DEBUG", "POPULATE", 300000)
    client.bgsave()
    srv.wait_for_log("Background saving started")
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    time.sleep(0.5)                      # the orphaned child may still finish its rename
    again = start(servers, tmp_path)
    size = again.client().dbsize()
    assert size in (1, 300001)           # the old file, or the complete new one
    assert again.client().get("saved") == b"first"


# -- switching at runtime -----------------------------------------------------------------------

def test_config_set_appendonly_on_and_off(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    fill(client)
    assert client.config_set("appendonly", "yes")
    srv.wait_for_log("Background AOF rewrite finished successfully")
    assert client.info("persistence")["aof_enabled"] == 1
    client.set("while-on", "1")
    expected = snapshot(client)
    assert client.config_set("appendonly", "no")
    client.set("while-off", "1")
    assert client.info("persistence")["aof_enabled"] == 0
    srv.stop()
    again = start(servers, tmp_path, "--appendonly", "yes")
    assert snapshot(again.client()) == expected


def test_appendfsync_applies_at_once(servers, tmp_path):
    srv = start(servers, tmp_path, "--appendonly", "yes", "--appendfsync", "no")
    client = srv.client()
    assert client.config_set("appendfsync", "always")
    client.set("k", "v")
    assert [b"set", b"k", b"v"] in [[a.lower() for a in argv] for argv in aof_commands(tmp_path)]


# -- damaged files --------------------------------------------------------------------------------

def refused_start(directory, *args):
    log_path = os.path.join(directory, "refused.log")
    proc = subprocess.run(server_command() + ["--port", str(free_port()), "--dir", str(directory),
                                              "--save", "", "--logfile", log_path] + list(args),
                          cwd=directory, env=server_env(), capture_output=True, timeout=30)
    with open(log_path) as f:
        return proc.returncode, f.read()


def test_truncated_tail_loads_with_a_warning(servers, tmp_path):
    srv = start(servers, tmp_path, *AOF)
    srv.client().set("kept", "1")
    srv.stop()
    path = incr_files(tmp_path)[-1]
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\nlost")
    again = start(servers, tmp_path, *AOF)
    assert again.client().get("kept") == b"1"
    log = again.log()
    assert "!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!" in log
    assert "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled" in log
    again.stop()
    with open(path, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\nlost")
    code, log = refused_start(tmp_path, "--appendonly", "yes", "--aof-load-truncated", "no")
    assert code == 1
    assert "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof" in log


def test_corrupt_middle_refuses_to_start(servers, tmp_path):
    srv = start(servers, tmp_path, *AOF)
    srv.client().set("a", "1")
    srv.client().set("b", "2")
    srv.stop()
    path = incr_files(tmp_path)[-1]
    data = open(path, "rb").read()
    at = data.index(b"$1\r\na")
    with open(path, "wb") as f:
        f.write(data[:at] + b"!" + data[at + 1:])
    code, log = refused_start(tmp_path, "--appendonly", "yes")
    assert code == 1
    assert "Bad file format reading the append only file appendonly.aof.1.incr.aof" in log


def test_check_aof_tool_reports_and_fixes(servers, tmp_path):
    srv = start(servers, tmp_path, *AOF)
    srv.client().set("a", "1")
    srv.stop()
    path = incr_files(tmp_path)[-1]
    good_size = os.path.getsize(path)
    with open(path, "ab") as f:
        f.write(b"*2\r\n$3\r\nDEL")
    tool = [server_command()[0], "-m", "persistence.check_aof"]
    out = subprocess.run(tool + [path], capture_output=True, env=server_env(), timeout=30)
    assert out.returncode == 1
    assert b"is not valid. Use the --fix option to try fixing it." in out.stdout
    fixed = subprocess.run(tool + ["--fix", path], input=b"y\n", capture_output=True,
                           env=server_env(), timeout=30)
    assert fixed.returncode == 0, fixed.stdout
    assert os.path.getsize(path) == good_size


# -- moving between Redis and this server -----------------------------------------------------------

@pytest.mark.parametrize("writer_is_redis", [True, False])
def test_aof_directories_move_between_redis_and_us(servers, tmp_path, writer_is_redis):
    require_reference()
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    srv = start(servers, first, *AOF, reference=writer_is_redis)
    client = srv.client()
    fill(client)
    client.bgrewriteaof()
    srv.wait_for_log("Background AOF rewrite finished successfully")
    client.rpush("list", "after", "rewrite")
    client.incrbyfloat("float", "0.25")
    expected = snapshot(client)
    srv.stop()
    os.rename(first, second)
    other = start(servers, second, *AOF, reference=not writer_is_redis)
    assert snapshot(other.client()) == expected


def test_aof_write_error_refuses_writes_until_it_clears(servers, tmp_path):
    """A full disk under everysec: the write fails, writes and PING get -MISCONF (reads
    and scripts that only read go on), and the unwritten commands wait in the buffer."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    srv = start(servers, tmp_path, "--appendonly", "yes", "--appendfsync", "everysec")
    srv.client().set("before", "1")
    srv.stop()
    incr = incr_files(tmp_path)[-1]
    os.rename(incr, incr + ".kept")
    os.symlink("/dev/full", incr)
    again = start(servers, tmp_path, "--appendonly", "yes", "--appendfsync", "everysec")
    conn = again.raw()
    assert conn.command("SET", "k", "v") == b"+OK\r\n"          # acknowledged, then the write fails
    refused = (b"-MISCONF Errors writing to the AOF file: No space left on device\r\n")
    wait_for(lambda: conn.command("SET", "k2", "v") == refused)
    assert conn.command("PING") == refused
    assert conn.command("GET", "k") == b"$1\r\nv\r\n"
    # A script that may write is a write to the dispatcher (Redis refuses it before it runs);
    # one flagged no-writes, or without a shebang and not writing, runs.
    assert conn.command("EVAL", "#!lua\nreturn 1", "0") == refused
    assert conn.command("EVAL", "#!lua flags=no-writes\nreturn 1", "0") == b":1\r\n"
    assert conn.command("EVAL", "return 1", "0") == b":1\r\n"
    assert again.client().info("persistence")["aof_last_write_status"] == "err"

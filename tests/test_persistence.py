"""RDB persistence of a running server: SAVE, BGSAVE, the save rules, restarts,
loading, and dump files moving between this server and Redis 7.0.

Every test runs real server processes; restarts share a directory the test owns.
"""
import os
import signal
import subprocess
import time

import pytest

from differential import assert_same
from harness import (RawConnection, ServerProcess, free_port, require_reference, server_command, server_env, wait_for_port)

DEBUG = ("--enable-debug-command", "yes")


def fill_every_type(client):
    """A dataset of every type and encoding, with TTLs, over three databases."""
    client.flushall()
    pipe = client.pipeline(transaction=False)
    pipe.set("int", 12345)
    pipe.set("negative", -98765432101)
    pipe.set("short", "hello")
    pipe.set("long", "x" * 300)                       # LZF compresses it
    pipe.set("binary", bytes(range(256)))
    pipe.append("appended", "grown in place")
    pipe.rpush("small-list", *range(10))
    pipe.rpush("big-list", *("element-%d" % i for i in range(3000)))
    pipe.sadd("intset", *range(20))
    pipe.sadd("set", *("member-%d" % i for i in range(300)))
    pipe.hset("small-hash", mapping={"f%d" % i: i for i in range(10)})
    pipe.hset("big-hash", mapping={"field-%d" % i: "v" * (i % 90) for i in range(700)})
    pipe.zadd("small-zset", {"m%d" % i: i / 3 for i in range(10)})
    pipe.zadd("big-zset", {"member-%d" % i: i * 1.5 for i in range(500)})
    pipe.pfadd("hll", *range(100))
    pipe.set("volatile", "soon", ex=5000)
    pipe.hset("volatile-hash", "a", "b")
    pipe.pexpire("volatile-hash", 7_200_000)
    pipe.execute()
    for db in (3, 15):
        client.execute_command("SELECT", db)
        client.set("in-db-%d" % db, db)
        client.rpush("list-in-%d" % db, "a", "b")
        client.expire("list-in-%d" % db, 1000)
    client.execute_command("SELECT", 0)


def dataset(client):
    """Every key of every database: type, encoding, value and TTL in seconds (rounded)."""
    out = {}
    for db in range(16):
        client.execute_command("SELECT", db)
        for key in client.keys("*"):
            kind = client.type(key).decode()
            if kind == "string":
                value = client.get(key)
            elif kind == "list":
                value = client.lrange(key, 0, -1)
            elif kind == "set":
                value = sorted(client.smembers(key))
            elif kind == "hash":
                value = sorted(client.hgetall(key).items())
            else:
                value = client.zrange(key, 0, -1, withscores=True)
            ttl = client.ttl(key)
            out[(db, key)] = (kind, client.object("encoding", key), value,
                              ttl if ttl < 0 else round(ttl, -2))
    client.execute_command("SELECT", 0)
    return out


def shut_down(client, *options):
    """SHUTDOWN: the server closes the connection instead of replying."""
    import redis
    with pytest.raises(redis.ConnectionError):
        client.execute_command("SHUTDOWN", *options)


def failed_start(directory):
    """Start a server on `directory` that must refuse to start: (exit code, its log)."""
    log_path = os.path.join(directory, "refused.log")
    proc = subprocess.run(server_command() + ["--port", str(free_port()), "--dir", str(directory),
                                              "--save", "", "--logfile", log_path],
                          cwd=directory, env=server_env(), capture_output=True, timeout=30)
    with open(log_path) as f:
        return proc.returncode, f.read()


@pytest.fixture
def servers():
    started = []
    yield started
    for srv in started:
        srv.stop()


def start(servers, tmp_path, *args, reference=False):
    srv = ServerProcess(list(DEBUG) + list(args), dir=tmp_path, reference=reference)
    servers.append(srv)
    return srv


# -- saving and restarting ----------------------------------------------------------------------

def test_save_then_restart_keeps_every_type(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    fill_every_type(client)
    before = dataset(client)
    assert client.save() is True
    assert os.path.exists(tmp_path / "dump.rdb")
    srv.stop()
    again = start(servers, tmp_path)
    assert dataset(again.client()) == before
    log = again.log()
    assert "Loading RDB produced by version 7.0.15" in log
    assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(before) in log
    assert "DB loaded from disk:" in log


def test_bgsave_forks_a_child_and_the_parent_keeps_serving(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    fill_every_type(client)
    before = dataset(client)
    assert client.bgsave() is True
    log = srv.wait_for_log("Background saving terminated with success")
    assert "Background saving started by pid" in log
    assert "DB saved on disk" in log
    pid = int(log.split("Background saving started by pid ")[1].split()[0])
    assert pid != srv.proc.pid
    # the child's own lines carry its pid and the C role
    assert "%d:C " % pid in log
    info = client.info("persistence")
    assert info["rdb_bgsave_in_progress"] == 0
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 0
    assert not [name for name in os.listdir(tmp_path) if name.startswith("temp-")]
    srv.stop()
    assert dataset(start(servers, tmp_path).client()) == before


def test_writes_during_bgsave_are_counted_as_changes(servers, tmp_path):
    srv = start(servers, tmp_path, "--rdb-key-save-delay", "0")
    client = srv.client()
    client.set("a", 1)
    client.bgsave()
    client.set("b", 2)
    srv.wait_for_log("Background saving terminated with success")
    # the write made while the child ran is still unsaved
    assert client.info("persistence")["rdb_changes_since_last_save"] >= 1


def test_lastsave_moves_on_save(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    first = client.lastsave()
    time.sleep(1.1)
    client.save()
    assert client.lastsave() > first


def test_save_rules_trigger_a_background_save(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "1 2")
    client = srv.client()
    client.set("one", 1)
    time.sleep(1.5)
    assert "Saving..." not in srv.log()          # one change is under the rule's two
    client.set("two", 2)
    log = srv.wait_for_log("Background saving terminated with success", timeout=10)
    assert "2 changes in 1 seconds. Saving..." in log
    assert client.info("persistence")["rdb_changes_since_last_save"] == 0


def test_shutdown_saves_when_rules_exist_and_nosave_skips(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "3600 1")
    client = srv.client()
    client.set("kept", "yes")
    shut_down(client)
    assert srv.wait_exit() == 0
    assert "Saving the final RDB snapshot before exiting." in srv.log()
    again = start(servers, tmp_path, "--save", "3600 1")
    client = again.client()
    assert client.get("kept") == b"yes"
    client.set("lost", "yes")
    shut_down(client, "NOSAVE")
    assert again.wait_exit() == 0
    assert start(servers, tmp_path).client().get("lost") is None


def test_sigterm_saves_when_rules_exist(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "3600 1")
    srv.client().set("by-signal", "saved")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.wait_exit() == 0
    assert start(servers, tmp_path).client().get("by-signal") == b"saved"


def test_shutdown_save_without_rules(servers, tmp_path):
    srv = start(servers, tmp_path)
    srv.client().set("asked", "for")
    shut_down(srv.client(), "SAVE")
    assert srv.wait_exit() == 0
    assert start(servers, tmp_path).client().get("asked") == b"for"


def test_flushall_rewrites_the_snapshot_when_rules_exist(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "3600 1")
    client = srv.client()
    client.set("gone", 1)
    client.save()
    client.flushall()
    assert client.info("persistence")["rdb_changes_since_last_save"] == 0
    srv.proc.kill()
    srv.wait_exit()
    assert start(servers, tmp_path).client().dbsize() == 0


def test_debug_reload_keeps_the_dataset(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    fill_every_type(client)
    before = dataset(client)
    assert client.execute_command("DEBUG", "RELOAD") == b"OK"
    assert dataset(client) == before
    assert "DB reloaded by DEBUG RELOAD" in srv.log()


def test_expired_keys_are_dropped_on_load(servers, tmp_path):
    srv = start(servers, tmp_path)
    client = srv.client()
    client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    client.set("short-lived", 1, px=200)
    client.set("stays", 1)
    client.save()
    time.sleep(0.3)
    srv.stop()
    again = start(servers, tmp_path)
    assert again.client().keys("*") == [b"stays"]
    assert "keys loaded: 1, keys expired: 1." in again.log()
    assert again.client().info("persistence")["rdb_last_load_keys_expired"] == 1


# -- errors ------------------------------------------------------------------------------------

def test_command_errors_match_redis(servers, tmp_path, reference):
    srv = start(servers, tmp_path)
    script = [["BGSAVE", "NOW"], ["BGSAVE", "SCHEDULE", "X"], ["SAVE", "X"], ["LASTSAVE", "X"],
              ["BGREWRITEAOF", "X"], ["DEBUG", "RELOAD", "BAD"], ["SHUTDOWN", "ABORT"],
              ["SHUTDOWN", "ABORT", "NOW"], ["SHUTDOWN", "SAVE", "NOSAVE"], ["SHUTDOWN", "SOON"]]
    for command in script:
        assert_same(reference, srv, [command])


def test_failed_bgsave_refuses_writes_until_a_save_succeeds(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "3600 1")
    client = srv.client()
    client.set("before", 1)
    os.mkdir(tmp_path / "dump.rdb")                # the rename over it fails
    (tmp_path / "dump.rdb" / "occupied").write_text("x")
    client.bgsave()
    srv.wait_for_log("Background saving error")
    conn = srv.raw()
    reply = conn.command("SET", "refused", 1)
    assert reply.startswith(b"-MISCONF Redis is configured to save RDB snapshots")
    assert conn.command("GET", "before") == b"$1\r\n1\r\n"      # reads still work
    assert conn.command("PING").startswith(b"-MISCONF")
    assert client.info("persistence")["rdb_last_bgsave_status"] == "err"
    # scripts are refused their first write too, and flagged scripts that may write at all:
    # to the dispatcher those are writes, refused as SET is (Redis 7.0.15 answers so)
    assert conn.command("EVAL", "return redis.call('SET', 'x', 1)", "0").startswith(b"-MISCONF")
    assert conn.command("EVAL", "#!lua\nreturn 1", "0") == reply
    assert conn.command("EVAL", "#!lua flags=no-writes\nreturn 1", "0") == b":1\r\n"
    os.unlink(tmp_path / "dump.rdb" / "occupied")
    os.rmdir(tmp_path / "dump.rdb")
    assert conn.command("SAVE") == b"+OK\r\n"
    assert conn.command("SET", "accepted", 1) == b"+OK\r\n"


def test_corrupt_rdb_stops_start_up_with_redis_log_lines(tmp_path):
    srv = ServerProcess(DEBUG, dir=tmp_path)
    client = srv.client()
    fill_every_type(client)
    client.save()
    srv.stop()
    data = (tmp_path / "dump.rdb").read_bytes()
    (tmp_path / "dump.rdb").write_bytes(data[:len(data) // 2])
    code, log = failed_start(tmp_path)
    assert code == 1
    assert "Short read or OOM loading DB. Unrecoverable error, aborting now." in log
    assert log.rstrip().endswith("Terminating server after rdb file reading failure.")


def test_bad_checksum_is_refused(tmp_path):
    srv = ServerProcess(DEBUG, dir=tmp_path)
    srv.client().set("k", "v")
    srv.client().save()
    srv.stop()
    data = bytearray((tmp_path / "dump.rdb").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "dump.rdb").write_bytes(bytes(data))
    code, log = failed_start(tmp_path)
    assert code == 1
    assert "Wrong RDB checksum expected: (" in log


def test_shutdown_abort_cancels_a_signalled_shutdown(servers, tmp_path):
    srv = start(servers, tmp_path, "--save", "3600 1")
    client = srv.client()
    client.execute_command("DEBUG", "PAUSE-CRON", "1")    # the cron would act on the signal
    srv.proc.send_signal(signal.SIGTERM)
    srv.wait_for_log("Received SIGTERM scheduling shutdown...")
    assert client.execute_command("SHUTDOWN", "ABORT") is True
    assert "Shutdown manually aborted." in srv.log()
    client.execute_command("DEBUG", "PAUSE-CRON", "0")
    time.sleep(0.3)
    assert client.ping() is True
    assert srv.proc.poll() is None


# -- loading -----------------------------------------------------------------------------------

@pytest.mark.parametrize("source", ["rdb", "aof-rdb-base", "aof-commands"])
def test_clients_get_loading_errors_while_a_big_file_loads(servers, tmp_path, source):
    srv = start(servers, tmp_path)
    client = srv.client()
    client.execute_command("DEBUG", "POPULATE", 400000, "key", 64)
    extra = []
    if source == "rdb":
        client.save()
    else:
        extra = ["--appendonly", "yes"]
        if source == "aof-commands":
            client.config_set("aof-use-rdb-preamble", "no")
            extra += ["--aof-use-rdb-preamble", "no"]
        client.config_set("appendonly", "yes")       # its rewrite writes the whole dataset
        srv.wait_for_log("Background AOF rewrite finished successfully", timeout=60)
    srv.stop()
    # A sleep once in five keys on average keeps the load going for seconds however
    # fast the machine: the client must connect while it runs.
    extra += ["--key-load-delay", "-5"]
    # Start without waiting for the port: the first replies may come during loading.
    port = free_port()
    log_path = tmp_path / "loading.log"
    proc = subprocess.Popen(server_command() + ["--port", str(port), "--dir", str(tmp_path),
                                                "--save", "", "--logfile", str(log_path)] + extra,
                            cwd=tmp_path, env=server_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=proc)
        conn = RawConnection(port)
        seen_loading = False
        info_loading = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = conn.command("PING")
            if reply.startswith(b"-LOADING"):
                assert reply == b"-LOADING Redis is loading the dataset in memory\r\n"
                seen_loading = True
                info = conn.command("INFO", "persistence")
                if b"loading:1" in info and b"loading_loaded_perc:" in info:
                    info_loading = True
                continue
            assert reply == b"+PONG\r\n"
            break
        assert seen_loading and info_loading
        assert conn.command("DBSIZE") == b":400000\r\n"
    finally:
        proc.terminate()
        proc.wait(10)


# -- files moving between Redis 7.0 and this server ------------------------------------------------

def test_redis_dump_loads_here(servers, tmp_path):
    require_reference()
    ref_dir = tmp_path / "redis"
    ours_dir = tmp_path / "ours"
    ref_dir.mkdir()
    ours_dir.mkdir()
    ref = start(servers, ref_dir, reference=True)
    client = ref.client()
    fill_every_type(client)
    expected = dataset(client)
    client.save()
    (ours_dir / "dump.rdb").write_bytes((ref_dir / "dump.rdb").read_bytes())
    ours = start(servers, ours_dir)
    assert dataset(ours.client()) == expected


def test_our_dump_loads_in_redis(servers, tmp_path):
    require_reference()
    ref_dir = tmp_path / "redis"
    ours_dir = tmp_path / "ours"
    ref_dir.mkdir()
    ours_dir.mkdir()
    ours = start(servers, ours_dir)
    client = ours.client()
    fill_every_type(client)
    expected = dataset(client)
    client.save()
    (ref_dir / "dump.rdb").write_bytes((ours_dir / "dump.rdb").read_bytes())
    ref = start(servers, ref_dir, reference=True)
    assert dataset(ref.client()) == expected
    assert "Done loading RDB, keys loaded: %d" % len(expected) in ref.log()


def test_digest_survives_the_round_trip_through_redis(servers, tmp_path):
    """DEBUG DIGEST of the dataset: ours, after Redis loaded our file, after we loaded Redis's."""
    require_reference()
    ours_dir, ref_dir = tmp_path / "ours", tmp_path / "redis"
    ours_dir.mkdir()
    ref_dir.mkdir()
    ours = start(servers, ours_dir)
    client = ours.client()
    fill_every_type(client)
    client.persist("volatile")
    client.persist("volatile-hash")
    for db in (3, 15):
        client.execute_command("SELECT", db)
        client.persist("list-in-%d" % db)
    digest = client.execute_command("DEBUG", "DIGEST")
    client.save()
    (ref_dir / "dump.rdb").write_bytes((ours_dir / "dump.rdb").read_bytes())
    ref = start(servers, ref_dir, reference=True)
    assert ref.client().execute_command("DEBUG", "DIGEST") == digest
    ref.client().save()
    ours.stop()
    (ours_dir / "dump.rdb").write_bytes((ref_dir / "dump.rdb").read_bytes())
    assert start(servers, ours_dir).client().execute_command("DEBUG", "DIGEST") == digest


def test_a_saving_child_reports_its_progress(servers, tmp_path):
    """INFO's current_* fields follow the BGSAVE child: keys written, share of the total,
    copy-on-write; they go back to zero once it is done."""
    srv = start(servers, tmp_path)
    client = srv.client()
    client.execute_command("DEBUG", "POPULATE", 5000, "key", 500)
    client.config_set("rdb-key-save-delay", 500)        # about 2.5 s of saving
    client.bgsave()
    deadline = time.monotonic() + 20
    seen = None
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["rdb_bgsave_in_progress"]:
            break
        assert info["current_save_keys_total"] == 5000
        if info["current_save_keys_processed"] > 0 and float(info["current_fork_perc"]) > 0:
            seen = info
            for i in range(64):                      # writes un-share pages of the child
                client.setrange("key:%d" % i, 0, "B" * 500)
        time.sleep(0.2)
    assert seen is not None, "no progress reported"
    assert 0 < seen["current_save_keys_processed"] <= 5000
    assert seen["current_cow_size"] > 0
    srv.wait_for_log("Background saving terminated with success", timeout=30)
    info = client.info("persistence")
    assert info["current_save_keys_total"] == 0
    assert info["current_save_keys_processed"] == 0
    assert info["rdb_last_cow_size"] > 0


def test_loaded_keys_are_scanned_sampled_and_expire(servers, tmp_path):
    """Keys loaded in bulk (runs of strings) are in SCAN's and RANDOMKEY's spaces, keep
    their TTLs and expire on time, like keys written one by one."""
    srv = start(servers, tmp_path)
    client = srv.client()
    pipe = client.pipeline(transaction=False)
    for i in range(5000):
        pipe.set("s:%d" % i, i)
        if i % 10 == 0:
            pipe.pexpire("s:%d" % i, 1500 if i % 20 == 0 else 100000)
    pipe.execute()
    client.save()
    srv.stop()
    again = start(servers, tmp_path)
    client = again.client()
    assert set(client.scan_iter(count=500)) == {b"s:%d" % i for i in range(5000)}
    assert client.randomkey().startswith(b"s:")
    assert 0 < client.pttl("s:10") <= 100000
    assert client.object("idletime", "s:1") < 100
    time.sleep(1.6)
    assert client.exists(*("s:%d" % i for i in range(0, 5000, 20))) == 0      # expired
    assert client.exists(*("s:%d" % i for i in range(10, 5000, 20))) == 250   # not yet


def test_a_key_twice_in_the_file_stops_start_up(tmp_path):
    """Redis refuses a file with a duplicated key; DEBUG RELOAD MERGE keeps the last."""
    srv = ServerProcess(DEBUG, dir=tmp_path)
    client = srv.client()
    client.set("dup", "first")
    client.set("other", "x")
    client.save()
    srv.stop()
    data = (tmp_path / "dump.rdb").read_bytes()
    # the same record again right after the first: rename "other" to "dup"
    patched = data.replace(b"\x05other\x01x", b"\x03dup\x01x")
    from persistence.crc64 import crc64
    patched = patched[:-8] + crc64(patched[:-8]).to_bytes(8, "little")
    (tmp_path / "dump.rdb").write_bytes(patched)
    code, log = failed_start(tmp_path)
    assert code == 1
    assert "RDB has duplicated key 'dup' in DB 0" in log


def test_the_key_table_waits_to_resize_while_a_child_runs(servers, tmp_path):
    """A resize would copy the pages a saving child shares: with a BGSAVE running the key
    table stays at its size (DEBUG HTSTATS), and grows on the first write once the child
    is gone, as Redis's dict_can_resize does."""
    from server.base.native_bridge import NATIVE
    if not NATIVE:
        pytest.skip("a dict resizes on its own: the pure path has no bucket table to hold")
    srv = start(servers, tmp_path)
    client = srv.client()
    client.select(9)
    client.execute_command("DEBUG", "POPULATE", 4096, "", 1)
    client.config_set("rdb-key-save-delay", 1000000)
    client.bgsave()
    deadline = time.monotonic() + 10
    while not client.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.monotonic() < deadline, "BGSAVE did not start"
        time.sleep(0.05)
    client.mset({"k1": "v1", "k2": "v2"})
    stats = str(client.execute_command("DEBUG", "HTSTATS", 9))
    assert "table size: 4096" in stats and "table size: 8192" not in stats, stats
    pid = srv.proc.pid
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        child = int(f.read().split()[0])
    os.kill(child, signal.SIGKILL)
    while client.info("persistence")["rdb_bgsave_in_progress"]:
        assert time.monotonic() < deadline + 10, "the killed child was not reaped"
        time.sleep(0.05)
    time.sleep(0.3)                              # the cron notices no child is left
    client.set("k3", "v3")
    stats = str(client.execute_command("DEBUG", "HTSTATS", 9))
    assert "table size: 8192" in stats, stats

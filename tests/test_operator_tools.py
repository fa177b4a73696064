"""Operator tools against this server and Debian's redis-server 7.0 in the same run:
redis-cli --rdb (an RDB over the replication protocol), --bigkeys, --memkeys, --hotkeys,
--latency, --latency-history and --stat; redis-check-rdb and redis-check-aof on the files the
server writes; rdbtools (PyPI) on both servers' dumps of the same data.

--pipe and --scan are in test_tools.py."""
import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
import redis

from harness import ServerProcess, require_reference, require_tool


@pytest.fixture(scope="module")
def cli():
    return require_tool("redis-cli")


def start_pair(*args):
    require_reference()
    return ServerProcess(list(args), reference=True), ServerProcess(list(args))


def run_cli(cli, port, *args, stdin=None, timeout=30):
    result = subprocess.run([cli, "-p", str(port), *args], input=stdin, capture_output=True,
                            timeout=timeout)
    return result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")


def run_in_terminal(argv, seconds):
    """What a program prints on a terminal during `seconds`, then it is stopped: the
    interactive modes (--stat, --latency-history) print line by line only to a tty."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([master], [], [], left)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
    finally:
        proc.kill()
        proc.wait(10)
        os.close(master)
    return out.decode(errors="replace")


def load_dataset(cli, server):
    """The same data on a server: strings of distinct sizes, one big value per type so that
    the biggest of each type is one key, and small aggregates of every type."""
    commands = ["FLUSHALL"]
    commands += ["SET str:%d %s" % (i, "v" * (i * 7 + 1)) for i in range(60)]
    commands += ["SET big:string %s" % ("s" * 5000)]
    sizes = [(i + 1) * 8 for i in range(5)]    # steps that cross allocation size classes
    commands += ["RPUSH list:%d %s" % (i, " ".join("e%d" % j for j in range(n))) for i, n in enumerate(sizes)]
    commands += ["HSET hash:%d %s" % (i, " ".join("f%d v%d" % (j, j) for j in range(n))) for i, n in enumerate(sizes)]
    commands += ["SADD set:%d %s" % (i, " ".join("m%d" % j for j in range(n))) for i, n in enumerate(sizes)]
    commands += ["ZADD zset:%d %s" % (i, " ".join("%d z%d" % (j, j) for j in range(n))) for i, n in enumerate(sizes)]
    commands += ["XADD stream * k%d v" % i for i in range(3)]
    commands += ["RPUSH big:list %s" % " ".join("item%d" % j for j in range(300))]
    commands += ["SADD big:set %s" % " ".join("member%d" % j for j in range(300))]
    code, out, err = run_cli(cli, server.port, stdin=("\n".join(commands) + "\n").encode())
    assert code == 0, err


def finish_set_rehash(cli, server):
    """Redis's MEMORY USAGE counts both tables of a set still rehashing incrementally after its
    growth, where ours counts the grown table only; how many steps remain depends on Redis's
    random hash seed, so lookups (a step each, more than the old table has buckets) finish
    Redis's rehash first."""
    lookups = ["SISMEMBER %s m0" % key for key in ["big:set"] + ["set:%d" % i for i in range(5)]] * 300
    assert run_cli(cli, server.port, stdin=("\n".join(lookups) + "\n").encode())[0] == 0


def contents(client):
    """Every key's type and value, in a form that does not depend on encodings or order."""
    read = {b"string": client.get, b"list": lambda key: client.lrange(key, 0, -1),
            b"hash": client.hgetall, b"set": client.smembers,
            b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
            b"stream": lambda key: client.xrange(key)}
    out = {}
    for key in client.scan_iter(count=100):
        kind = client.type(key)
        out[key] = (kind, read[kind](key))
    return out


def summary(output):
    """The part of a --bigkeys/--memkeys/--hotkeys report that does not depend on SCAN order."""
    return output[output.index("-------- summary -------"):]


@pytest.mark.parametrize("mode", ["--bigkeys", "--memkeys"])
def test_bigkeys_and_memkeys_summaries_match(cli, pair, mode):
    for server in pair:
        load_dataset(cli, server)
        finish_set_rehash(cli, server)
    reports = [run_cli(cli, server.port, mode) for server in pair]
    assert [code for code, _, _ in reports] == [0, 0]
    assert summary(reports[1][1]) == summary(reports[0][1])
    assert "Sampled 84 keys in the keyspace!" in reports[1][1]
    assert "Biggest string found '\"big:string\"'" in reports[1][1]


def test_hotkeys_refused_without_an_lfu_policy(cli, pair):
    for server in pair:
        load_dataset(cli, server)
    reports = [run_cli(cli, server.port, "--hotkeys") for server in pair]
    assert reports[1] == reports[0]
    assert "LFU maxmemory policy is not selected" in reports[1][1] + reports[1][2]


def test_hotkeys_under_lfu_match(cli):
    # A log factor of 0 makes every access count once, and no decay keeps the counters.
    servers = start_pair("--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0",
                         "--lfu-decay-time", "0")
    try:
        reports = []
        for server in servers:
            load_dataset(cli, server)
            reads = "".join("GET str:%d\n" % i * i for i in range(60))   # counters 5..64, no ties
            assert run_cli(cli, server.port, stdin=reads.encode())[0] == 0
            reports.append(run_cli(cli, server.port, "--hotkeys"))
        assert reports[1][0] == reports[0][0] == 0
        assert summary(reports[1][1]) == summary(reports[0][1])
        assert "hot key found with counter: 64\tkeyname: \"str:59\"" in reports[1][1]
    finally:
        for server in servers:
            server.stop()


def test_rdb_over_replication_loads_and_checks(cli, pair, tmp_path):
    check_rdb = require_tool("redis-check-rdb")
    transfers = []
    for server in pair:
        load_dataset(cli, server)
        path = tmp_path / ("%s.rdb" % ("redis" if server.reference else "ours"))
        code, out, err = run_cli(cli, server.port, "--rdb", str(path))
        assert code == 0, err
        transfers.append((out + err).replace(str(path), "<file>"))
        checked = subprocess.run([check_rdb, str(path)], capture_output=True, timeout=30)
        assert checked.returncode == 0, checked.stdout
        assert b"[info] 84 keys read" in checked.stdout
    assert "Transfer finished with success" in transfers[1]
    assert "REPLCONF rdb-only 1" in transfers[1]
    # The file ours sent loads into both servers with the data it was taken from.
    for reference in (False, True):
        loaded = ServerProcess(["--dbfilename", "ours.rdb"], reference=reference, dir=tmp_path)
        try:
            assert contents(loaded.client()) == contents(pair[1].client())
        finally:
            loaded.stop()


def test_functions_rdb_holds_the_libraries_only(cli, pair, tmp_path):
    """redis-cli --functions-rdb asks for `REPLCONF rdb-filter-only functions`: an RDB with
    the function libraries and no key, the same file from both servers."""
    library = "#!lua name=onlyfuncs\nredis.register_function('one', function() return 1 end)"
    files = []
    for server in pair:
        load_dataset(cli, server)
        client = server.client()
        client.function_load(library, replace=True)
        try:
            path = tmp_path / ("%s-functions.rdb" % ("redis" if server.reference else "ours"))
            code, out, err = run_cli(cli, server.port, "--functions-rdb", str(path))
            assert code == 0, err
            assert "Transfer finished with success" in out + err
            files.append(path.read_bytes())
            with pytest.raises(redis.ResponseError,
                               match="^Unsupported rdb-filter-only option: keys$"):
                client.execute_command("REPLCONF", "rdb-filter-only", "keys")
        finally:
            client.function_delete("onlyfuncs")     # the servers are shared with other tests
    # The RDBs differ only in their header's aux fields (ctime, used-mem ...): both load
    # into Redis as the libraries alone.
    for name in ("redis-functions.rdb", "ours-functions.rdb"):
        loaded = ServerProcess(["--dbfilename", name], reference=True, dir=tmp_path)
        try:
            client = loaded.client()
            assert client.dbsize() == 0
            assert [lib[1] for lib in client.function_list()] in ([b"onlyfuncs"], ["onlyfuncs"])
        finally:
            loaded.stop()


def test_latency_samples(cli, pair):
    for server in pair:
        code, out, err = run_cli(cli, server.port, "--latency", "--raw", "-i", "0.5")
        assert code == 0, err
        low, high, avg, samples = out.split()
        assert 0 <= int(low) <= int(high) and 0 <= float(avg) <= int(high) and int(samples) > 10


def test_latency_history_intervals(cli, pair):
    for server in pair:
        screen = run_in_terminal([cli, "-p", str(server.port), "--latency-history", "-i", "1"], 2.6)
        ranges = re.findall(r"min: (\d+), max: (\d+), avg: ([\d.]+) \((\d+) samples\) -- ([\d.]+) seconds range",
                            screen)
        assert len(ranges) >= 2, screen
        assert all(int(samples) > 10 for *_, samples, _ in ranges)


def test_stat_follows_keys_and_requests(cli, pair):
    screens = []
    for server in pair:
        load_dataset(cli, server)
        screens.append(run_in_terminal([cli, "-p", str(server.port), "--stat", "-i", "0.5"], 1.8))
    headers = [screen.splitlines()[:2] for screen in screens]
    assert headers[1] == headers[0]
    rows = re.findall(r"^(\d+)\s+\S+\s+(\d+)\s+(\d+)\s+(\d+) \(\+(\d+)\)\s+(\d+)", screens[1], re.M)
    assert len(rows) >= 3, screens[1]
    assert all(int(keys) == 84 and int(clients) >= 1 and int(blocked) == 0
               for keys, clients, blocked, *_ in rows)
    # Each interval's INFO call is one more request.
    assert all(int(delta) >= 1 for *_, delta, _ in rows[1:])


def test_check_rdb_accepts_saved_dump(cli, pair):
    check_rdb = require_tool("redis-check-rdb")
    outputs = []
    for server in pair:
        load_dataset(cli, server)
        assert run_cli(cli, server.port, "SAVE")[1] == "OK\n"
        checked = subprocess.run([check_rdb, os.path.join(server.dir, "dump.rdb")],
                                 capture_output=True, text=True, timeout=30)
        assert checked.returncode == 0, checked.stdout
        outputs.append([line for line in checked.stdout.splitlines()
                        if "keys read" in line or "expires" in line])
    assert outputs[1] == outputs[0]


def test_check_aof_accepts_our_directory(cli, tmp_path):
    check_aof = require_tool("redis-check-aof")
    servers = start_pair("--appendonly", "yes")
    try:
        reports = []
        for server in servers:
            load_dataset(cli, server)
            assert run_cli(cli, server.port, "BGREWRITEAOF")[0] == 0
            deadline = time.monotonic() + 20
            while "aof_rewrite_in_progress:0" not in run_cli(cli, server.port, "INFO", "persistence")[1] \
                    or "aof_rewrite_scheduled:0" not in run_cli(cli, server.port, "INFO", "persistence")[1]:
                assert time.monotonic() < deadline, "rewrite did not finish"
                time.sleep(0.05)
            run_cli(cli, server.port, stdin=b"SET after rewrite\nINCR counter\nDEL str:1\n")
            manifest = os.path.join(server.dir, "appendonlydir", "appendonly.aof.manifest")
            checked = subprocess.run([check_aof, manifest], capture_output=True, text=True, timeout=30)
            assert checked.returncode == 0, checked.stdout
            reports.append(re.sub(r"\d+", "N", checked.stdout))
        assert reports[1] == reports[0]
        assert "All AOF files and manifest are valid" in reports[1]
    finally:
        for server in servers:
            server.stop()


# -- rdbtools ---------------------------------------------------------------------------------

RDBTOOLS_RUN = r"""
import random
import sys
from rdbtools import RdbParser, JSONCallback, MemoryCallback, PrintAllKeys
from rdbtools import parser as rdb_parser


class Redis70Parser(RdbParser):
    # rdbtools 0.1.15 stops at version 9; the types it knows are laid out the same in 10.
    def verify_version(self, version_str):
        self._rdb_version = int(version_str)


class Out:
    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(data if isinstance(data, bytes) else data.encode())


mode, path = sys.argv[1], sys.argv[2]
random.seed(0)    # the memory report draws a skiplist level per sorted set member
out = Out()
if mode == "json":
    callback = JSONCallback(out)
else:
    callback = MemoryCallback(PrintAllKeys(out, None, None), 64)
parser = (Redis70Parser if sys.argv[3] == "relaxed" else RdbParser)(callback)
parser.parse(path)
sys.stdout.buffer.write(b"".join(out.parts))
"""


def rdbtools(path, mode, relaxed=True):
    pytest.importorskip("rdbtools", reason="rdbtools (PyPI) not installed")
    return subprocess.run([sys.executable, "-c", RDBTOOLS_RUN, mode, str(path),
                           "relaxed" if relaxed else "strict"], capture_output=True, timeout=60)


def test_rdbtools_reads_both_dumps_alike(cli, pair):
    # rdbtools predates RDB 10's listpack encodings: the data is of the types it reads the same
    # way in both versions (strings, intsets, hash tables, skiplist sorted sets, expiries).
    commands = ["FLUSHALL"]
    commands += ["SET s:%d %s" % (i, "x" * i) for i in range(1, 40)]
    commands += ["SET n:%d %d" % (i, i * 1000003) for i in range(20)]
    commands += ["SET long %s" % ("abc" * 400)]
    commands += ["SET ttl value", "PEXPIREAT ttl 4102444800000"]
    commands += ["SADD ints %s" % " ".join(str(i) for i in range(50))]
    commands += ["SADD words %s" % " ".join("w%d" % i for i in range(200))]
    commands += ["HSET bighash %s" % " ".join("f%d %s" % (i, "h" * (i + 60)) for i in range(200))]
    commands += ["ZADD bigzset %s" % " ".join("%d.5 %s" % (i, "z" * (i + 60)) for i in range(200))]
    dumps = []
    for server in pair:
        code, _, err = run_cli(cli, server.port, stdin=("\n".join(commands) + "\n").encode())
        assert code == 0, err
        assert run_cli(cli, server.port, "SAVE")[1] == "OK\n"
        dumps.append(os.path.join(server.dir, "dump.rdb"))
    # Unchanged, rdbtools refuses both files the same way.
    strict = [rdbtools(path, "json", relaxed=False) for path in dumps]
    assert strict[0].returncode == strict[1].returncode != 0
    assert b"Invalid RDB version number 10" in strict[1].stderr
    for mode in ("json", "memory"):
        results = [rdbtools(path, mode) for path in dumps]
        assert [r.returncode for r in results] == [0, 0], results[1].stderr
        if mode == "json":
            # A set comes out as a list in the order of its table: compared as a set.
            parsed = [[{key: sorted(value) if isinstance(value, list) else value
                        for key, value in db.items()} for db in json.loads(r.stdout)]
                      for r in results]
            assert parsed[1] == parsed[0]
            assert len(parsed[1][0]) == 65 and parsed[1][0]["ttl"] == "value"
        else:
            rows = [sorted(r.stdout.decode().splitlines()) for r in results]
            assert rows[1] == rows[0]
            assert len(rows[1]) == 66

"""SCAN: replies and errors against Redis 7.0.15, the guarantee that a key present
for a whole scan is returned despite concurrent writes, COUNT bounding the work
of one call, TYPE and MATCH filters, and redis-cli --scan."""
import random
import shutil
import statistics
import subprocess
import time

import pytest

from test_keys import Unordered, assert_same, needs

ULONG_MAX = str(2**64 - 1)


# -- against the reference -----------------------------------------------------------

CURSOR_SCRIPT = [
    ["SCAN"], ["SCAN", "abc"], ["SCAN", " 1"], ["SCAN", "1 "], ["SCAN", "0x10"], ["SCAN", "1.5"],
    ["SCAN", "+"], ["SCAN", "-"], ["SCAN", "+0"], ["SCAN", "-0"], ["SCAN", ""], ["SCAN", "00"],
    ["SCAN", "-1"], ["SCAN", "+7"], ["SCAN", ULONG_MAX], ["SCAN", "18446744073709551616"],
    ["SCAN", "-18446744073709551615"], ["SCAN", "-18446744073709551616"],
    ["SCAN", "99999999999999999999999"], ["SCAN", b"5\x00junk"], ["SCAN", b"\x00"],
    ["SCAN", "\t1"], ["SCAN", "1\n"],
    ["SCAN", "0", "COUNT"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"],
    ["SCAN", "0", "COUNT", "abc"], ["SCAN", "0", "COUNT", "1.5"], ["SCAN", "0", "COUNT", ""],
    ["SCAN", "0", "COUNT", "9223372036854775808"], ["SCAN", "0", "COUNT", "9223372036854775807"],
    ["SCAN", "0", "MATCH"], ["SCAN", "0", "TYPE"], ["SCAN", "0", "FOO", "bar"],
    ["SCAN", "0", "count", "10", "match", "*", "type", "string"],
    ["SCAN", "abc", "COUNT", "0"], ["SCAN", "0", "COUNT", "0", "FOO"],
    ["SCAN", "0", "MATCH", "a", "COUNT"], ["SCAN", "0", "match", "a", "match", "b"],
    ["SCAN", "0", "TYPE", "nosuchtype"],
]


def test_scan_cursor_and_option_errors(reference, server):
    assert_same(reference, server, CURSOR_SCRIPT)
    assert_same(reference, server, CURSOR_SCRIPT[:14], resp3=True)


def _keys_script():
    names = ["user:%d" % i for i in range(12)] + ["item:%d" % i for i in range(8)]
    names += ["", "*", "a[b", b"\xff\x00", "x" * 100]
    return [["SET", name, "v"] for name in names]


def test_scan_with_a_large_count_returns_everything(reference, server):
    script = _keys_script() + [
        Unordered(["SCAN", "0", "COUNT", "1000"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "user:*"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "*"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "**"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "item:[0-3]"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "a\\[b"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "MATCH", "nomatch"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "string"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "STRING"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", b"string\x00junk"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", ""]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "list"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "none"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "string", "MATCH", "item:*"]),
        Unordered(["scan", "0", "type", "string", "count", "1000", "match", "user:1*"]),
    ]
    assert_same(reference, server, script)
    assert_same(reference, server, script[:5] + [script[-1]], resp3=True)


def test_scan_type_with_other_types(reference, server):
    needs(server, "rpush", "hset", "sadd", "zadd")
    script = _keys_script() + [
        ["RPUSH", "l", "a"], ["HSET", "h", "f", "v"], ["SADD", "s", "m"], ["ZADD", "z", "1", "m"],
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "list"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "hash"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "set"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "zset"]),
        Unordered(["SCAN", "0", "COUNT", "1000", "TYPE", "string", "MATCH", "[lhsz]"]),
    ]
    assert_same(reference, server, script)


def test_scan_skips_expired_keys_and_type_none_quirk(reference, server):
    needs(server, "debug")
    setup = [["DEBUG", "SET-ACTIVE-EXPIRE", "0"], ["SET", "gone", "v", "PX", "1"],
             ["SET", "kept", "v"], ["DEBUG", "SLEEP", "0.02"]]
    # Redis's TYPE filter looks the key up first, which expires it, so TYPE none keeps it.
    assert_same(reference, server, setup + [
        Unordered(["SCAN", "0", "COUNT", "100"]), ["DBSIZE"],
        ["SET", "gone2", "v", "PX", "1"], ["DEBUG", "SLEEP", "0.02"],
        Unordered(["SCAN", "0", "COUNT", "100", "TYPE", "none"]), ["DBSIZE"],
        ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
    ])


def full_scan(client, count=10, between_calls=None, **options):
    """Every key a complete SCAN returns, and how many calls it took."""
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, keys = client.scan(cursor, count=count, **options)
        seen.extend(keys)
        calls += 1
        if between_calls is not None:
            between_calls(calls)
        if cursor == 0:
            return seen, calls
        assert calls < 100000


def test_full_scan_returns_every_key_in_bounded_steps(reference, server):
    for proc in (reference, server):
        r = proc.client()
        try:
            r.flushall()
            r.mset({"key:%d" % i: i for i in range(3000)})
            seen, calls = full_scan(r, count=10)
            assert set(seen) == {b"key:%d" % i for i in range(3000)}
            assert 150 <= calls <= 1000
        finally:
            r.close()


def test_count_bounds_what_a_call_returns(server):
    """A call stops at the first bucket that brings the count up, as Redis's does: at
    most one chain (a few keys at one key per bucket or fewer) past COUNT."""
    r = server.client()
    try:
        r.flushall()
        r.mset({"key:%d" % i: i for i in range(2000)})
        for count in (1, 7, 100):
            cursor, seen = 0, []
            while True:
                cursor, keys = r.scan(cursor, count=count)
                assert len(keys) < count + 10
                seen.extend(keys)
                if cursor == 0:
                    break
            assert sorted(seen) == sorted(b"key:%d" % i for i in range(2000))
    finally:
        r.close()


# -- the guarantee under concurrent writes ------------------------------------------

def _scan_while_writing(proc, seed):
    """Scan while adding, deleting, overwriting and re-creating keys between calls."""
    rng = random.Random(seed)
    r = proc.client()
    writer = proc.client()
    try:
        r.flushall()
        stable = {b"stable:%d" % i for i in range(2000)}
        churn = ["churn:%d" % i for i in range(6000)]
        pipe = writer.pipeline(transaction=False)
        for i, name in enumerate(churn):
            pipe.set(name, "c")
            if i < 2000:
                pipe.set(b"stable:%d" % i, "s")
        pipe.execute()
        next_new = [0]
        flapping = ["flap:%d" % i for i in range(50)]

        def write(calls):
            pipe = writer.pipeline(transaction=False)
            for _ in range(40):
                pipe.set("new:%d" % next_new[0], "n")
                next_new[0] += 1
            doomed = [churn.pop(rng.randrange(len(churn))) for _ in range(min(80, len(churn)))]
            if doomed:
                pipe.delete(*doomed)
            for name in rng.sample(flapping, 10):
                pipe.delete(name)
                pipe.set(name, "f")
            for _ in range(10):
                pipe.set(b"stable:%d" % rng.randrange(2000), "overwritten")
                pipe.set("new:%d" % rng.randrange(next_new[0]), "again")
            pipe.delete("new:%d" % rng.randrange(next_new[0]))
            pipe.execute()

        seen, calls = full_scan(r, count=25, between_calls=write)
        missing = stable - set(seen)
        assert not missing, "%d stable keys never returned, e.g. %r" % (
            len(missing), sorted(missing)[:5])
        assert calls > 50
        return len(seen), calls
    finally:
        r.close()
        writer.close()


def test_scan_guarantee_under_concurrent_writes(server):
    for seed in (1, 2):
        _scan_while_writing(server, seed)


def test_scan_guarantee_holds_on_redis_too(reference):
    """The same workload against Redis, so the test itself is known to be fair."""
    _scan_while_writing(reference, 3)


def test_scan_ends_while_keys_keep_arriving(reference, server):
    """Each call reads up to 50 keys while 10 new ones arrive: on both servers the scan
    ends, after covering the keys that were there when it began. (When keys arrive
    faster than the scan reads, a cursor over the buckets chases the growing table on
    Redis as here: 5 keys a call against 50 arrivals did not end in 100,000 calls.)"""
    for proc in (reference, server):
        r = proc.client()
        writer = proc.client()
        try:
            r.flushall()
            r.mset({"old:%d" % i: 1 for i in range(1000)})
            added = [0]

            def flood(calls):
                writer.mset({"new:%d" % (added[0] + i): 1 for i in range(10)})
                added[0] += 10

            seen, calls = full_scan(r, count=50, between_calls=flood)
            assert {b"old:%d" % i for i in range(1000)} <= set(seen)
            assert calls < 400
        finally:
            r.close()
            writer.close()


def test_scan_cursor_survives_mass_deletion(server):
    """Deleting most keys mid-scan shrinks the table under the cursor; it must stay valid."""
    r = server.client()
    try:
        r.flushall()
        r.mset({"doomed:%d" % i: 1 for i in range(20000)})
        r.mset({"keep:%d" % i: 1 for i in range(500)})
        r.mset({"doomed2:%d" % i: 1 for i in range(20000)})
        cursor, seen = 0, set()
        for _ in range(50):
            cursor, keys = r.scan(cursor, count=100)
            seen.update(keys)
        assert cursor != 0
        names = ["doomed:%d" % i for i in range(20000)] + ["doomed2:%d" % i for i in range(20000)]
        for start in range(0, len(names), 5000):
            r.delete(*names[start:start + 5000])
        assert r.dbsize() == 500
        while cursor != 0:
            cursor, keys = r.scan(cursor, count=100)
            seen.update(keys)
        assert {b"keep:%d" % i for i in range(500)} <= seen
    finally:
        r.close()


def test_scan_count_bounds_the_work_of_one_call(server):
    """A SCAN call with a small COUNT costs far less than a pass over the keyspace."""
    r = server.client()
    try:
        r.flushall()
        pipe = r.pipeline(transaction=False)
        for start in range(0, 200000, 10000):
            pipe.mset({"bulk:%d" % i: 1 for i in range(start, start + 10000)})
        pipe.execute()
        cursor = 0
        for _ in range(500):
            cursor, _keys = r.scan(cursor, count=100)
        assert cursor != 0
        scan_times, keys_times = [], []
        for _ in range(15):
            t = time.perf_counter()
            r.scan(cursor, count=10)
            scan_times.append(time.perf_counter() - t)
        for _ in range(3):
            t = time.perf_counter()
            r.keys("nomatch:*")
            keys_times.append(time.perf_counter() - t)
        assert statistics.median(scan_times) * 5 < statistics.median(keys_times)
    finally:
        r.flushall()
        r.close()


def test_scan_in_sparse_database_still_progresses(server):
    """With most keys deleted a call may return few keys, but never loops forever."""
    r = server.client()
    try:
        r.flushall()
        r.mset({"k%d" % i: 1 for i in range(5000)})
        r.delete(*["k%d" % i for i in range(5000) if i % 500])
        seen, calls = full_scan(r, count=5)
        assert set(seen) == {b"k%d" % i for i in range(0, 5000, 500)}
        assert calls < 5000
    finally:
        r.close()


def test_scan_after_swapdb_and_flushdb(server):
    r = server.client()
    try:
        r.flushall()
        r.mset({"zero:%d" % i: 1 for i in range(100)})
        r.execute_command("SELECT", "1")
        r.mset({"one:%d" % i: 1 for i in range(30)})
        r.swapdb(0, 1)
        seen, _ = full_scan(r)   # this connection is on db 1: db 0's old keys
        assert set(seen) == {b"zero:%d" % i for i in range(100)}
        r.flushdb()
        assert full_scan(r)[0] == []
        r.set("fresh", 1)
        assert full_scan(r)[0] == [b"fresh"]
    finally:
        r.close()


# -- redis-cli --scan ------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_scan(server):
    r = server.client()
    try:
        r.flushall()
        r.mset({"user:%d" % i: 1 for i in range(500)})
        r.mset({"other:%d" % i: 1 for i in range(100)})
    finally:
        r.close()
    base = ["redis-cli", "-p", str(server.port), "--scan"]
    out = subprocess.run(base, capture_output=True, timeout=20, text=True)
    assert sorted(out.stdout.split()) == sorted(
        ["user:%d" % i for i in range(500)] + ["other:%d" % i for i in range(100)])
    out = subprocess.run(base + ["--pattern", "other:*"],
                         capture_output=True, timeout=20, text=True)
    assert sorted(out.stdout.split()) == sorted("other:%d" % i for i in range(100))

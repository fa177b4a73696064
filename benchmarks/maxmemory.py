"""maxmemory side by side: resident memory under a writer, and the pause eviction causes.

    load     maxmemory --limit-mb (50) under allkeys-lru; a writer SETs --written-mb (500) MB
             of --value-kb (10) KB values under distinct keys, --batch commands per
             pipelined write. Every reply must be +OK. RSS and used_memory are sampled
             after every --sample-mb written: the curve, and its highest RSS. Then with
             maxmemory-policy noeviction: SETs are refused with -OOM while GETs of the
             keys still there keep answering.
    latency  Filled with --fill-mb (200) MB of the same values, no limit; a probe thread
             PINGs every millisecond (benchmarks/lazyfree.py's probe); CONFIG SET maxmemory
             --evict-to-mb (100) under allkeys-lru; the window runs until used_memory is
             under the limit (plus 200 ms). Reported: the longest gap between PONGs, the
             time the eviction took, the keys evicted.

Both servers run back to back, Redis first, each freshly started.

    .venv/bin/python benchmarks/maxmemory.py [--scenarios load,latency] [--ours PATH] [--out DIR]

--ours: the executable to start as our server (default .venv/bin/pyredis-server).
Writes maxmemory.csv (the load curves) and maxmemory.txt under benchmarks/results/.
"""
import argparse
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from servers import BenchServer  # noqa: E402
from lazyfree import Probe  # noqa: E402

MB = 1024 * 1024
TAIL_S = 0.2


def used_memory(conn):
    return int(conn.info("memory")["used_memory"])


def set_batch(start, count, value):
    return b"".join(servers.encode_command([b"SET", b"key:%d" % i, value])
                    for i in range(start, start + count))


def pipeline_not_ok(conn, payload, count):
    """Send pre-encoded commands; how many of the `count` replies were not +OK."""
    conn.sock.sendall(payload)
    return sum(1 for _ in range(count) if conn.read_reply() != b"OK")


def load(kind, args):
    """The curve of RSS and used_memory while the writer runs, then the noeviction check."""
    server = BenchServer(kind, settings={"maxmemory": "%dmb" % args.limit_mb,
                                         "maxmemory-policy": "allkeys-lru"})
    try:
        conn = server.connect(timeout=120.0)
        value = b"v" * (args.value_kb * 1024)
        total = args.written_mb * MB // len(value)
        per_sample = max(1, args.sample_mb * MB // len(value))
        curve = [(0, server.rss(), used_memory(conn))]
        written = 0
        not_ok = 0
        started = time.monotonic()
        while written < total:
            count = min(args.batch, total - written)
            not_ok += pipeline_not_ok(conn, set_batch(written, count, value), count)
            written += count
            if written % per_sample < count or written == total:
                curve.append((written * len(value) / MB, server.rss(), used_memory(conn)))
        seconds = time.monotonic() - started
        keys = conn.call("DBSIZE")
        stats = conn.info("stats")
        # noeviction: writes refused, reads served
        conn.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        refused = 0
        for i in range(100):
            try:
                conn.call("SET", "after:%d" % i, value)
            except RuntimeError as exc:
                refused += "OOM" in str(exc)
        survivors = [k for k in conn.call("SCAN", 0, "COUNT", 1000)[1]][:100]
        reads = sum(1 for key in survivors if conn.call("GET", key) == value)
        return {"curve": curve, "seconds": seconds, "not_ok": not_ok, "keys": keys,
                "evicted": int(stats["evicted_keys"]), "refused": refused,
                "reads": reads, "read_tries": len(survivors)}
    finally:
        server.stop()


def latency(kind, args):
    server = BenchServer(kind)
    try:
        conn = server.connect(timeout=120.0)
        value = b"v" * (args.value_kb * 1024)
        total = args.fill_mb * MB // len(value)
        for start in range(0, total, args.batch):
            count = min(args.batch, total - start)
            conn.pipeline(set_batch(start, count, value), count)
        conn.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        before = used_memory(conn)
        limit = args.evict_to_mb * MB
        probe = Probe(server.port)
        probe.start()
        time.sleep(0.1)
        start = time.monotonic()
        conn.call("CONFIG", "SET", "maxmemory", limit)
        deadline = start + 120
        while used_memory(conn) > limit:
            if time.monotonic() > deadline:
                raise TimeoutError("eviction did not reach the limit")
            time.sleep(0.001)
        evicted_s = time.monotonic() - start
        time.sleep(TAIL_S)
        end = time.monotonic()
        probe.stopping.set()
        probe.join(10)
        return {"gap_ms": probe.longest_gap(start, end) * 1000, "evict_ms": evicted_s * 1000,
                "evicted": int(conn.info("stats")["evicted_keys"]),
                "freed_mb": (before - used_memory(conn)) / MB}
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="load,latency")
    parser.add_argument("--limit-mb", type=int, default=50)
    parser.add_argument("--written-mb", type=int, default=500)
    parser.add_argument("--sample-mb", type=int, default=25)
    parser.add_argument("--value-kb", type=int, default=10)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--fill-mb", type=int, default=200)
    parser.add_argument("--evict-to-mb", type=int, default=100)
    parser.add_argument("--ours", default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results"))
    args = parser.parse_args()
    if args.ours:
        servers.KINDS["ours"] = args.ours
    scenarios = args.scenarios.split(",")
    lines = []
    os.makedirs(args.out, exist_ok=True)
    if "load" in scenarios:
        results = {kind: load(kind, args) for kind in servers.KINDS}
        lines.append("load: maxmemory %dmb allkeys-lru, %d MB written as %d KB values, %d per "
                     "pipelined write" % (args.limit_mb, args.written_mb, args.value_kb,
                                          args.batch))
        lines.append("%10s %14s %14s %14s %14s" % ("written MB", "redis RSS MB", "ours RSS MB",
                                                    "redis used MB", "ours used MB"))
        redis_curve, ours_curve = results["redis"]["curve"], results["ours"]["curve"]
        with open(os.path.join(args.out, "maxmemory.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["written_mb", "redis_rss", "ours_rss", "redis_used_memory",
                             "ours_used_memory"])
            for (written, r_rss, r_used), (_, o_rss, o_used) in zip(redis_curve, ours_curve):
                writer.writerow([round(written, 1), r_rss, o_rss, r_used, o_used])
                lines.append("%10.0f %14.1f %14.1f %14.1f %14.1f" % (
                    written, r_rss / MB, o_rss / MB, r_used / MB, o_used / MB))
        for kind, result in results.items():
            peak = max(rss for _, rss, _ in result["curve"])
            lines.append("%-5s highest RSS %.1f MB (%.2fx the limit), last %.1f MB; %.1fs; "
                         "replies not OK %d; keys kept %d, evicted %d; noeviction: %d/100 SETs "
                         "refused with OOM, %d/%d GETs answered" % (
                             kind, peak / MB, peak / (args.limit_mb * MB),
                             result["curve"][-1][1] / MB, result["seconds"], result["not_ok"],
                             result["keys"], result["evicted"], result["refused"],
                             result["reads"], result["read_tries"]))
        lines.append("")
    if "latency" in scenarios:
        lines.append("latency: %d MB of %d KB values, CONFIG SET maxmemory %dmb (allkeys-lru); "
                     "PING every ms" % (args.fill_mb, args.value_kb, args.evict_to_mb))
        lines.append("%-6s %14s %14s %10s %10s" % ("server", "max gap (ms)", "eviction (ms)",
                                                    "evicted", "freed MB"))
        for kind in servers.KINDS:
            result = latency(kind, args)
            lines.append("%-6s %14.1f %14.1f %10d %10.1f" % (
                kind, result["gap_ms"], result["evict_ms"], result["evicted"], result["freed_mb"]))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "maxmemory.txt"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()

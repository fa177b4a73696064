"""Memory side by side: resident memory per key in Debian's redis-server and in pyredis-server.

For each dataset both servers start fresh with the same settings, get the same
commands as pipelined raw RESP, and the growth of VmRSS (/proc/<pid>/status)
from before the load to after it is divided by the number of keys. INFO's
used_memory's growth is shown too, and its ratio to the RSS growth (u/r): both count
the bytes their allocations take (Redis: jemalloc's; ours: the interpreter's, see
server/base/memory.py), so the ratio says how closely used_memory follows the dataset.

    .venv/bin/python benchmarks/memory.py [--keys 1000000] [--aggregate-keys 200000]
        [--datasets strings,hashes,sets,zsets,zsets1000] [--out DIR] [--ours PATH]

Writes memory.csv and memory.txt under benchmarks/results/.
"""
import argparse
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULT_KEYS = 1000000
CHUNK = 5000            # commands per pipelined write
SETTLE_SECONDS = 0.5    # let start-up allocations and the first cron ticks finish before measuring
FIELDS = 5              # fields / members per aggregate
BIG_MEMBERS = 1000      # members per big sorted set (skiplist encoding on both)


def string_command(i):
    return servers.encode_command([b"SET", b"key:%d" % i, b"%032d" % i])


def hash_command(i):
    args = [b"HSET", b"hash:%d" % i]
    for j in range(FIELDS):
        args += [b"field:%d" % j, b"value:%d:%d" % (j, i)]
    return servers.encode_command(args)


def set_command(i):
    return servers.encode_command([b"SADD", b"set:%d" % i] + [b"member:%d:%d" % (j, i) for j in range(FIELDS)])


def zset_command(i):
    args = [b"ZADD", b"zset:%d" % i]
    for j in range(FIELDS):
        args += [b"%d" % (j + 1), b"member:%d:%d" % (j, i)]
    return servers.encode_command(args)


def big_zset_command(i):
    args = [b"ZADD", b"bigzset:%d" % i]
    for j in range(BIG_MEMBERS):
        args += [b"%d" % (j * 7919 % 100003), b"member:%d:%d" % (j, i)]
    return servers.encode_command(args)


# name: (description, command builder, sample key, key count: "keys" (--keys),
# "aggregate" (--aggregate-keys) or "big" (--aggregate-keys / BIG_MEMBERS))
DATASETS = {
    "strings": ("string keys, 32-byte values", string_command, b"key:0", "keys"),
    "hashes": ("hashes of %d fields" % FIELDS, hash_command, b"hash:0", "aggregate"),
    "sets": ("sets of %d members" % FIELDS, set_command, b"set:0", "aggregate"),
    "zsets": ("sorted sets of %d members" % FIELDS, zset_command, b"zset:0", "aggregate"),
    "zsets1000": ("sorted sets of %d members" % BIG_MEMBERS, big_zset_command, b"bigzset:0",
                  "big"),
}


def key_count(name, args):
    """How many keys the dataset loads."""
    kind = DATASETS[name][3]
    if kind == "keys":
        return args.keys
    if kind == "big":
        return max(1, args.aggregate_keys // BIG_MEMBERS)
    return args.aggregate_keys


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, default=DEFAULT_KEYS,
                   help="string keys to load (default %(default)s)")
    p.add_argument("--aggregate-keys", type=int, default=None,
                   help="hashes, sets and sorted sets to load (default: --keys / 5)")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma separated, from %s" % ", ".join(DATASETS))
    p.add_argument("--out", default=RESULTS_DIR, help="directory for the CSV/TXT (default %(default)s)")
    p.add_argument("--ours", default=None, help="the executable to start as our server "
                   "(default .venv/bin/pyredis-server)")
    args = p.parse_args(argv)
    if args.aggregate_keys is None:
        args.aggregate_keys = max(1, args.keys // 5)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown or not args.datasets:
        p.error("unknown dataset(s): %s" % ", ".join(unknown))
    if args.keys < 1 or args.aggregate_keys < 1:
        p.error("--keys and --aggregate-keys must be positive")
    return args


def snapshot(server, conn):
    return {"rss": server.rss(), "used_memory": int(conn.info("memory")["used_memory"])}


def load(conns, builder, count):
    """The same commands to every connection, chunk by chunk."""
    for start in range(0, count, CHUNK):
        end = min(count, start + CHUNK)
        payload = b"".join(builder(i) for i in range(start, end))
        for conn in conns:
            conn.pipeline(payload, end - start)


def measure(name, count):
    """Per-server growth of RSS and used_memory for one dataset, both servers fresh."""
    description, builder, sample_key, _ = DATASETS[name]
    running, conns = [], []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind))
        conns = [server.connect(timeout=120) for server in running]
        time.sleep(SETTLE_SECONDS)
        before = [snapshot(server, conn) for server, conn in zip(running, conns)]
        started = time.monotonic()
        load(conns, builder, count)
        load_seconds = time.monotonic() - started
        after = [snapshot(server, conn) for server, conn in zip(running, conns)]
        result = {"dataset": name, "description": description, "keys": count, "load_seconds": load_seconds}
        for server, conn, b, a in zip(running, conns, before, after):
            size = conn.call("DBSIZE")
            if size != count:
                raise RuntimeError("%s holds %s keys after loading %d" % (server.kind, size, count))
            result[server.kind] = {
                "rss_per_key": (a["rss"] - b["rss"]) / count,
                "used_per_key": (a["used_memory"] - b["used_memory"]) / count,
                "rss_before": b["rss"], "rss_after": a["rss"],
                "encoding": conn.call("OBJECT", "ENCODING", sample_key).decode(),
            }
        redis_growth = result["redis"]["rss_per_key"]
        result["ratio"] = result["ours"]["rss_per_key"] / redis_growth if redis_growth > 0 else None
        return result
    finally:
        for conn in conns:
            conn.close()
        for server in running:
            server.stop()


def fmt_ratio(value):
    return "-" if value is None else "%.2f" % value


def format_table(results):
    lines = ["%-9s %9s %12s %12s %6s %14s %14s %10s %10s  %s" % (
        "dataset", "keys", "redis B/key", "ours B/key", "ratio", "redis used/key", "ours used/key",
        "redis u/r", "ours u/r", "encoding (redis / ours)")]
    for r in results:
        lines.append("%-9s %9d %12.0f %12.0f %6s %14.0f %14.0f %10s %10s  %s / %s" % (
            r["dataset"], r["keys"], r["redis"]["rss_per_key"], r["ours"]["rss_per_key"], fmt_ratio(r["ratio"]),
            r["redis"]["used_per_key"], r["ours"]["used_per_key"],
            fmt_ratio(used_to_rss(r["redis"])), fmt_ratio(used_to_rss(r["ours"])),
            r["redis"]["encoding"], r["ours"]["encoding"]))
    lines.append("u/r: growth of used_memory over growth of RSS (1.00: used_memory follows the "
                 "resident memory the keys took)")
    return "\n".join(lines)


def used_to_rss(figures):
    return figures["used_per_key"] / figures["rss_per_key"] if figures["rss_per_key"] > 0 else None


def write_csv(path, results):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["dataset", "description", "keys", "redis_rss_bytes_per_key", "ours_rss_bytes_per_key",
                      "ratio", "redis_used_memory_bytes_per_key", "ours_used_memory_bytes_per_key",
                      "redis_used_over_rss", "ours_used_over_rss",
                      "redis_rss_before", "redis_rss_after", "ours_rss_before", "ours_rss_after",
                      "redis_encoding", "ours_encoding"])
        for r in results:
            out.writerow([r["dataset"], r["description"], r["keys"],
                          "%.1f" % r["redis"]["rss_per_key"], "%.1f" % r["ours"]["rss_per_key"],
                          "" if r["ratio"] is None else "%.4f" % r["ratio"],
                          "%.1f" % r["redis"]["used_per_key"], "%.1f" % r["ours"]["used_per_key"],
                          fmt_ratio(used_to_rss(r["redis"])), fmt_ratio(used_to_rss(r["ours"])),
                          r["redis"]["rss_before"], r["redis"]["rss_after"],
                          r["ours"]["rss_before"], r["ours"]["rss_after"],
                          r["redis"]["encoding"], r["ours"]["encoding"]])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.ours:
        servers.KINDS["ours"] = args.ours
    if not os.path.exists(servers.REDIS_SERVER):
        sys.exit("%s is needed (Debian: redis-server)" % servers.REDIS_SERVER)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions (make install)")
    os.makedirs(args.out, exist_ok=True)
    settings = "%s vs pyredis-server %s (native path); RSS growth per key, fresh servers per dataset" % (
        servers.redis_version().split(" sha=")[0], servers.source_revision())
    print(settings, flush=True)
    results = []
    for name in args.datasets:
        count = key_count(name, args)
        result = measure(name, count)
        print("%-9s %d keys loaded into both in %.1fs" % (name, count, result["load_seconds"]), flush=True)
        results.append(result)
    table = format_table(results)
    print()
    print(table)
    write_csv(os.path.join(args.out, "memory.csv"), results)
    with open(os.path.join(args.out, "memory.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n")
    print("results: %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

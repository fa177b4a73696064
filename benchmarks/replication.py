"""Full synchronization side by side: how long a new replica takes to hold a master's dataset,
Debian's redis-server against pyredis-server (a replica of each kind syncs from a master of its
own kind).

For each transfer mode (disk: the master's BGSAVE writes dump.rdb and sends the file;
diskless: the fork child's RDB goes straight to the replica's socket) and each kind, a
master is started and filled, then, --rounds times with Redis and ours alternating, a fresh
replica is started and sent REPLICAOF; the time is from REPLICAOF sent to the replica's
INFO replication showing master_link_status:up, polled every 10 ms. The replica's own
"MASTER <-> REPLICA sync: Finished with success" is then in its log; DBSIZE is checked.

Datasets:

    strings  DEBUG POPULATE <keys> key 32 (default 1,000,000 string keys of 32 bytes)
    mixed    <aggregates> each (default 200,000) of hashes, sets, sorted sets and lists of 5,
             plus as many 32-byte strings

    .venv/bin/python benchmarks/replication.py [--keys 1000000] [--aggregates 200000]
        [--datasets strings,mixed] [--modes disk,diskless] [--rounds 3] [--out DIR]

Writes replication.csv and replication.txt under benchmarks/results/.
"""
import argparse
import csv
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from persistence import fill_mixed, fill_strings  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
POLL = 0.01
TIMEOUT = 600.0
MODES = {"disk": {"repl-diskless-sync": "no"},
         "diskless": {"repl-diskless-sync": "yes", "repl-diskless-sync-delay": "0"}}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, default=1000000)
    p.add_argument("--aggregates", type=int, default=200000)
    p.add_argument("--datasets", default="strings,mixed")
    p.add_argument("--modes", default="disk,diskless")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=RESULTS_DIR)
    return p.parse_args(argv)


def timed_full_sync(master, kind, settings):
    replica = servers.BenchServer(kind, settings=dict(settings, **{"enable-debug-command": "yes"}))
    try:
        conn = replica.connect(timeout=TIMEOUT)
        started = time.monotonic()
        conn.call("REPLICAOF", "127.0.0.1", str(master.port))
        deadline = started + TIMEOUT
        while time.monotonic() < deadline:
            if conn.info("replication").get("master_link_status") == "up":
                break
            time.sleep(POLL)
        else:
            raise TimeoutError("%s replica did not sync within %.0fs" % (kind, TIMEOUT))
        seconds = time.monotonic() - started
        keys = conn.call("DBSIZE")
        conn.close()
        return seconds, keys
    finally:
        replica.stop()


def measure(dataset, mode, args):
    settings = dict(MODES[mode], **{"enable-debug-command": "yes"})
    masters = {kind: servers.BenchServer(kind, settings=settings) for kind in ("redis", "ours")}
    try:
        expected = None
        for kind, master in masters.items():
            conn = master.connect(timeout=TIMEOUT)
            (fill_strings if dataset == "strings" else fill_mixed)(conn, args)
            size = conn.call("DBSIZE")
            conn.close()
            assert expected in (None, size), (expected, size)
            expected = size
        times = {"redis": [], "ours": []}
        for round_index in range(args.rounds):
            order = ("redis", "ours") if round_index % 2 == 0 else ("ours", "redis")
            for kind in order:
                seconds, keys = timed_full_sync(masters[kind], kind, settings)
                if keys != expected:
                    raise RuntimeError("%s replica holds %s keys, master %s" % (kind, keys, expected))
                times[kind].append(seconds)
        return expected, times
    finally:
        for master in masters.values():
            master.stop()


def main(argv=None):
    args = parse_args(argv)
    rows = []
    for dataset in args.datasets.split(","):
        for mode in args.modes.split(","):
            keys, times = measure(dataset, mode, args)
            redis_s, ours_s = statistics.median(times["redis"]), statistics.median(times["ours"])
            rows.append({"dataset": dataset, "mode": mode, "keys": keys,
                         "redis_seconds": "%.3f" % redis_s, "ours_seconds": "%.3f" % ours_s,
                         "ours_over_redis": "%.2f" % (ours_s / redis_s)})
            print("%-8s %-9s %8d keys  redis %.3fs  ours %.3fs  ours/redis %.2f"
                  % (dataset, mode, keys, redis_s, ours_s, ours_s / redis_s), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "replication.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["Full sync of a new replica (REPLICAOF to master_link_status:up), median of %d "
             "rounds; %s" % (args.rounds, servers.redis_version()),
             "%-8s %-9s %9s %10s %10s %10s" % ("dataset", "mode", "keys", "redis s", "ours s",
                                               "ours/redis")]
    for row in rows:
        lines.append("%-8s %-9s %9d %10s %10s %10s" % (row["dataset"], row["mode"], row["keys"],
                                                       row["redis_seconds"], row["ours_seconds"],
                                                       row["ours_over_redis"]))
    with open(os.path.join(args.out, "replication.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
